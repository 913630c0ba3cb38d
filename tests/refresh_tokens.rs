//! Refresh tokens: rotation on every use, reuse detection that revokes the whole family, the
//! optional grace window, family expiry, and races between concurrent refreshes.

mod support;

use appgrant::audit::{AuditAction, RefusalReason, RevocationReason};
use appgrant::config::RefreshReuse;
use appgrant::grant::{ClientAuthentication, ErrorCode, TokenError, TokenRequest, TokenResponse};
use appgrant::model::{GrantId, Level, Requirement};
use appgrant::store::RefreshStore;
use appgrant::token::{RefreshTokenKey, Secret, validate};
use appgrant::{Config, DenyReason};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use std::sync::Arc;
use support::{ISSUER, World};
use tokio::sync::Barrier;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Presents `tokens`' refresh token as `client`.
async fn refresh_as(
    world: &World,
    client: &ClientAuthentication,
    tokens: &TokenResponse,
) -> Result<TokenResponse, TokenError> {
    let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
    world
        .server
        .token(
            TokenRequest::RefreshToken {
                refresh_token,
                scope: None,
                resource: None,
            },
            client,
        )
        .await
}

/// Presents `tokens`' refresh token as the app it was issued to.
async fn refresh(world: &World, tokens: &TokenResponse) -> Result<TokenResponse, TokenError> {
    refresh_as(world, &world.client(), tokens).await
}

fn error_code<T: std::fmt::Debug>(result: Result<T, TokenError>) -> ErrorCode {
    result.expect_err("the request should fail").code()
}

fn read_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

async fn deny_reason(world: &World, tokens: &TokenResponse) -> Option<DenyReason> {
    world
        .server
        .decide(tokens.access_token.expose(), &read_tower())
        .await
        .unwrap()
        .deny_reason()
        .cloned()
}

fn grant_of(world: &World, tokens: &TokenResponse) -> GrantId {
    let config = world.server.config();
    validate(
        tokens.access_token.expose(),
        &world.server.keys(),
        &config.expectations(),
        world.server.now(),
    )
    .unwrap()
    .grant_id
}

fn revocations(world: &World) -> Vec<(GrantId, RevocationReason)> {
    world
        .audit
        .events()
        .into_iter()
        .filter_map(|event| match event.action {
            AuditAction::GrantRevoked { grant, reason } => Some((grant, reason)),
            _ => None,
        })
        .collect()
}

async fn world_with_grace(window: TimeDelta) -> World {
    let mut config = Config::new(ISSUER);
    config.refresh_reuse = RefreshReuse::GraceWindow(window);
    support::world_with(config).await
}

/// Another confidential app and its credentials.
async fn other_client(world: &World) -> ClientAuthentication {
    let registered = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap();
    ClientAuthentication::Basic {
        client_id: registered.app.client_id,
        secret: registered.client_secret.unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// Rotation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_the_new_one_works() {
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    let second = refresh(&world, &first).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert!(world.allowed(&second, &read_tower()).await);
    let third = refresh(&world, &second).await.unwrap();
    assert!(world.allowed(&third, &read_tower()).await);
}

#[tokio::test]
async fn rotated_refresh_token_no_longer_works() {
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    refresh(&world, &first).await.unwrap();
    assert_eq!(
        error_code(refresh(&world, &first).await),
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn refreshed_tokens_keep_acting_as_the_user_who_authorized() {
    let world = support::world().await;
    let john = world.tokens_for(&world.john).await;
    let refreshed = refresh(&world, &john).await.unwrap();
    let info = world
        .server
        .token_info(refreshed.access_token.expose())
        .await
        .unwrap();
    assert_eq!(info.resource_owner_id.as_deref(), Some("john"));
    assert_eq!(grant_of(&world, &refreshed), grant_of(&world, &john));
    let write_tower = Requirement::new("acme", "rfis", Level::Standard).on_project("tower");
    assert!(world.allowed(&refreshed, &read_tower()).await);
    assert!(!world.allowed(&refreshed, &write_tower).await);
}

#[tokio::test]
async fn refresh_is_audited_with_its_grant() {
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    refresh(&world, &first).await.unwrap();
    let grant = grant_of(&world, &first);
    let refreshed = world
        .audit
        .events()
        .into_iter()
        .filter(|event| {
            event.action
                == AuditAction::TokensRefreshed {
                    grant: grant.clone(),
                }
        })
        .count();
    assert_eq!(refreshed, 1);
}

#[tokio::test]
async fn unknown_refresh_token_is_invalid_grant() {
    let world = support::world().await;
    let request = TokenRequest::RefreshToken {
        refresh_token: Secret::new("never-issued"),
        scope: None,
        resource: None,
    };
    let result = world.server.token(request, &world.client()).await;
    assert_eq!(error_code(result), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn refresh_by_another_client_fails() {
    let world = support::world().await;
    let other = other_client(&world).await;
    let tokens = world.tokens_for(&world.jane).await;
    let result = refresh_as(&world, &other, &tokens).await;
    assert_eq!(error_code(result), ErrorCode::InvalidGrant);
}

// ---------------------------------------------------------------------------------------------
// Reuse detection
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reusing_a_rotated_token_revokes_the_whole_family() {
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    let second = refresh(&world, &first).await.unwrap();

    assert_eq!(
        error_code(refresh(&world, &first).await),
        ErrorCode::InvalidGrant
    );

    // The newest refresh token and every access token of the family stop working.
    assert_eq!(
        error_code(refresh(&world, &second).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(deny_reason(&world, &first).await, Some(DenyReason::Revoked));
    assert_eq!(
        deny_reason(&world, &second).await,
        Some(DenyReason::Revoked)
    );
    assert_eq!(
        revocations(&world),
        [(
            grant_of(&world, &first),
            RevocationReason::RefreshTokenReused
        )]
    );
}

#[tokio::test]
async fn reusing_any_older_token_of_the_family_revokes_it() {
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    let second = refresh(&world, &first).await.unwrap();
    let third = refresh(&world, &second).await.unwrap();

    assert!(refresh(&world, &first).await.is_err());
    assert_eq!(
        error_code(refresh(&world, &third).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(deny_reason(&world, &third).await, Some(DenyReason::Revoked));
}

#[tokio::test]
async fn a_token_replayed_a_thousand_rotations_later_still_revokes_the_family() {
    // The attack: a thief rotates a stolen token many times so the victim's replay of an old
    // one is no longer recognised. Any earlier token of a live family is reuse.
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    let mut latest = refresh(&world, &first).await.unwrap();
    for _ in 0..1_000 {
        latest = refresh(&world, &latest).await.unwrap();
    }
    assert!(matches!(
        refresh(&world, &first).await,
        Err(TokenError::RefreshReused { .. })
    ));
    assert_eq!(
        revocations(&world),
        vec![(
            grant_of(&world, &latest),
            RevocationReason::RefreshTokenReused
        )]
    );
    assert_eq!(
        deny_reason(&world, &latest).await,
        Some(DenyReason::Revoked)
    );
    assert_eq!(
        error_code(refresh(&world, &latest).await),
        ErrorCode::InvalidGrant
    );
}

/// A token in the refresh-token format naming `grant` at `generation`, made with `key`.
fn made_up(key: [u8; 32], grant: &GrantId, generation: u64) -> Secret {
    RefreshTokenKey::from_bytes(key).mint(grant, generation, &mut rand::thread_rng())
}

/// Presents `refresh_token` as the world's app.
async fn present(world: &World, refresh_token: Secret) -> Result<TokenResponse, TokenError> {
    world
        .server
        .token(
            TokenRequest::RefreshToken {
                refresh_token,
                scope: None,
                resource: None,
            },
            &world.client(),
        )
        .await
}

#[tokio::test]
async fn a_made_up_token_naming_a_real_family_revokes_nothing() {
    // Anyone who learns a grant id (it is in every access token) could otherwise sign the
    // user out by presenting an "old" token of that family.
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    let second = refresh(&world, &first).await.unwrap();
    let latest = refresh(&world, &second).await.unwrap();
    let grant = grant_of(&world, &latest);
    for generation in [0, 1, 2, 3, 4, u64::MAX] {
        let forged = made_up([7; 32], &grant, generation);
        assert_eq!(
            error_code(present(&world, forged).await),
            ErrorCode::InvalidGrant
        );
    }
    // A real token with its generation altered fails its tag too.
    let real = latest.refresh_token.clone().unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(real.expose()).unwrap();
    bytes[8] ^= 1;
    let altered = Secret::new(URL_SAFE_NO_PAD.encode(bytes));
    assert_eq!(
        error_code(present(&world, altered).await),
        ErrorCode::InvalidGrant
    );
    assert!(revocations(&world).is_empty());
    assert!(world.allowed(&latest, &read_tower()).await);
    assert!(refresh(&world, &latest).await.is_ok());
}

#[tokio::test]
async fn what_the_store_holds_cannot_be_presented_as_a_refresh_token() {
    // A database dump has the family's grant id, generation and current digest; none of it,
    // nor anything built from it without the server's key, refreshes or revokes.
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    let latest = refresh(&world, &first).await.unwrap();
    let family = world
        .server
        .store()
        .family(&grant_of(&world, &latest))
        .await
        .unwrap()
        .unwrap();
    let dumped = [
        family.current.to_hex(),
        family.grant.to_string(),
        URL_SAFE_NO_PAD.encode(family.current.0),
    ];
    for value in dumped {
        assert_eq!(
            error_code(present(&world, Secret::new(value)).await),
            ErrorCode::InvalidGrant
        );
    }
    assert!(revocations(&world).is_empty());
    assert!(refresh(&world, &latest).await.is_ok());
}

#[tokio::test]
async fn refresh_tokens_need_the_servers_refresh_key() {
    // Two servers on one store: with the same refresh key they are one server; with another
    // key, the other's refresh tokens are unknown (neither honoured nor taken as reuse).
    let world = support::world().await;
    let key = RefreshTokenKey::from_bytes([42; 32]);
    let same = appgrant::AuthorizationServer::builder(
        world.server.store().clone(),
        world.server.config().clone(),
    )
    .keys(world.server.keys())
    .refresh_token_key(key.clone())
    .clock(world.clock.clone())
    .build()
    .unwrap();
    let other = appgrant::AuthorizationServer::builder(
        world.server.store().clone(),
        world.server.config().clone(),
    )
    .keys(world.server.keys())
    .refresh_token_key(RefreshTokenKey::from_bytes([43; 32]))
    .clock(world.clock.clone())
    .build()
    .unwrap();
    let code = world.code_for(&world.jane).await;
    let tokens = same
        .token(world.exchange_request(code), &world.client())
        .await
        .unwrap();
    let request = |tokens: &TokenResponse| TokenRequest::RefreshToken {
        refresh_token: tokens.refresh_token.clone().unwrap(),
        scope: None,
        resource: None,
    };
    let rotated = same.token(request(&tokens), &world.client()).await.unwrap();
    for stranger in [&other, &world.server] {
        for presented in [&tokens, &rotated] {
            let refused = stranger.token(request(presented), &world.client()).await;
            assert_eq!(error_code(refused), ErrorCode::InvalidGrant);
        }
    }
    assert!(revocations(&world).is_empty());
    assert!(same.token(request(&rotated), &world.client()).await.is_ok());
}
#[tokio::test]
async fn a_token_of_the_familys_generation_that_was_never_handed_out_is_unknown_not_reuse() {
    // A rotation that loses a race mints the family's next generation too, but its token is
    // never sent: whatever comes back at that generation other than the current token is
    // unknown, and revokes nothing (only a generation the family has passed is reuse).
    let world = support::world().await;
    let key = RefreshTokenKey::from_bytes([42; 32]);
    let server = appgrant::AuthorizationServer::builder(
        world.server.store().clone(),
        world.server.config().clone(),
    )
    .keys(world.server.keys())
    .refresh_token_key(key.clone())
    .clock(world.clock.clone())
    .audit(world.audit.clone())
    .build()
    .unwrap();
    let code = world.code_for(&world.jane).await;
    let first = server
        .token(world.exchange_request(code), &world.client())
        .await
        .unwrap();
    let request = |refresh_token: Secret| TokenRequest::RefreshToken {
        refresh_token,
        scope: None,
        resource: None,
    };
    let latest = server
        .token(
            request(first.refresh_token.clone().unwrap()),
            &world.client(),
        )
        .await
        .unwrap();
    let grant = grant_of(&world, &latest);
    let family = server.store().family(&grant).await.unwrap().unwrap();
    assert_eq!(family.generation, 2);
    // Nor is a token of a generation the family has not reached (only the server's key makes
    // one, and it never sends one).
    for generation in [family.generation, family.generation + 1] {
        let never_sent = key.mint(&grant, generation, &mut rand::thread_rng());
        let refused = server.token(request(never_sent), &world.client()).await;
        assert!(
            matches!(
                refused,
                Err(TokenError::InvalidGrant("unknown refresh token"))
            ),
            "generation {generation}: {refused:?}"
        );
    }
    assert!(revocations(&world).is_empty());
    assert!(world.allowed(&latest, &read_tower()).await);
    // One generation behind is another matter: that token was handed out and rotated away.
    let older = key.mint(&grant, family.generation - 1, &mut rand::thread_rng());
    let refused = server.token(request(older), &world.client()).await;
    assert!(
        matches!(refused, Err(TokenError::RefreshReused { .. })),
        "{refused:?}"
    );
    assert_eq!(revocations(&world).len(), 1);
    assert!(!world.allowed(&latest, &read_tower()).await);
}

#[tokio::test]
async fn reuse_revokes_only_its_own_family() {
    let world = support::world().await;
    let other_family = world.tokens_for(&world.jane).await;
    let first = world.tokens_for(&world.jane).await;
    refresh(&world, &first).await.unwrap();
    assert!(refresh(&world, &first).await.is_err());
    assert!(world.allowed(&other_family, &read_tower()).await);
    assert!(refresh(&world, &other_family).await.is_ok());
}

#[tokio::test]
async fn default_config_has_no_grace_window() {
    assert_eq!(
        Config::new(ISSUER).refresh_reuse,
        RefreshReuse::RevokeFamily
    );
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    let second = refresh(&world, &first).await.unwrap();
    // An immediate retry of the just-rotated token, with no time passed, is still reuse.
    assert!(refresh(&world, &first).await.is_err());
    assert!(refresh(&world, &second).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// Grace window
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn grace_window_lets_the_same_client_retry_the_just_rotated_token() {
    let world = world_with_grace(TimeDelta::seconds(30)).await;
    let first = world.tokens_for(&world.jane).await;
    refresh(&world, &first).await.unwrap(); // the response was lost
    world.clock.advance(TimeDelta::seconds(10));

    let retried = refresh(&world, &first).await.unwrap();

    assert!(world.allowed(&retried, &read_tower()).await);
    assert!(world.allowed(&first, &read_tower()).await);
    assert!(refresh(&world, &retried).await.is_ok());
    assert!(revocations(&world).is_empty());
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_family() {
    let world = world_with_grace(TimeDelta::seconds(30)).await;
    let first = world.tokens_for(&world.jane).await;
    let second = refresh(&world, &first).await.unwrap();
    world.clock.advance(TimeDelta::seconds(31));

    assert_eq!(
        error_code(refresh(&world, &first).await),
        ErrorCode::InvalidGrant
    );

    assert!(refresh(&world, &second).await.is_err());
    assert_eq!(
        deny_reason(&world, &second).await,
        Some(DenyReason::Revoked)
    );
    assert_eq!(
        revocations(&world),
        [(
            grant_of(&world, &first),
            RevocationReason::RefreshTokenReused
        )]
    );
}

#[tokio::test]
async fn retries_within_the_grace_window_do_not_stretch_it() {
    let world = world_with_grace(TimeDelta::seconds(30)).await;
    let first = world.tokens_for(&world.jane).await;
    refresh(&world, &first).await.unwrap(); // rotated out at t = 0
    world.clock.advance(TimeDelta::seconds(20));
    refresh(&world, &first).await.unwrap(); // a retry at t = 20 is inside the window
    world.clock.advance(TimeDelta::seconds(15));

    // t = 35: the window ran from the rotation, not from the last retry.
    assert_eq!(
        error_code(refresh(&world, &first).await),
        ErrorCode::InvalidGrant
    );
    assert_eq!(
        revocations(&world),
        [(
            grant_of(&world, &first),
            RevocationReason::RefreshTokenReused
        )]
    );
}

#[tokio::test]
async fn grace_window_does_not_cover_older_tokens() {
    let world = world_with_grace(TimeDelta::seconds(30)).await;
    let first = world.tokens_for(&world.jane).await;
    let second = refresh(&world, &first).await.unwrap();
    let third = refresh(&world, &second).await.unwrap();
    // `first` was rotated twice ago: not the token that was just rotated.
    assert!(refresh(&world, &first).await.is_err());
    assert_eq!(deny_reason(&world, &third).await, Some(DenyReason::Revoked));
}

#[tokio::test]
async fn grace_window_is_only_for_the_client_the_token_was_issued_to() {
    let world = world_with_grace(TimeDelta::seconds(30)).await;
    let other = other_client(&world).await;
    let first = world.tokens_for(&world.jane).await;
    refresh(&world, &first).await.unwrap();
    let result = refresh_as(&world, &other, &first).await;
    assert_eq!(error_code(result), ErrorCode::InvalidGrant);
}

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_tokens_do_not_expire_by_default() {
    let world = support::world().await;
    assert_eq!(world.server.config().refresh_ttl, None);
    let first = world.tokens_for(&world.jane).await;
    world.clock.advance(TimeDelta::days(400));
    assert!(refresh(&world, &first).await.is_ok());
}

#[tokio::test]
async fn refresh_family_expires_after_the_configured_ttl_from_its_grant() {
    let mut config = Config::new(ISSUER);
    config.refresh_ttl = Some(TimeDelta::days(1));
    let world = support::world_with(config).await;
    let first = world.tokens_for(&world.jane).await;
    world.clock.advance(TimeDelta::hours(23));
    // Rotating does not extend the family's life.
    let second = refresh(&world, &first).await.unwrap();
    world.clock.advance(TimeDelta::hours(1));
    assert_eq!(
        error_code(refresh(&world, &second).await),
        ErrorCode::InvalidGrant
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Presents `tokens`' refresh token from `racers` tasks at once; returns how many succeeded.
async fn race_refreshes(world: &World, tokens: &TokenResponse, racers: usize) -> usize {
    let refresh_token = tokens.refresh_token.clone().unwrap();
    let start = Arc::new(Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|_| {
            let (server, client) = (world.server.clone(), world.client());
            let (start, refresh_token) = (start.clone(), refresh_token.clone());
            tokio::spawn(async move {
                start.wait().await;
                server
                    .token(
                        TokenRequest::RefreshToken {
                            refresh_token,
                            scope: None,
                            resource: None,
                        },
                        &client,
                    )
                    .await
            })
        })
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(error) => assert_eq!(error.code(), ErrorCode::InvalidGrant),
        }
    }
    succeeded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_refreshes_of_one_token_let_exactly_one_succeed() {
    let world = support::world().await;
    // A race is not lost every time, so run several, each on a fresh family.
    for round in 0..10 {
        let tokens = world.tokens_for(&world.jane).await;
        let succeeded = race_refreshes(&world, &tokens, 32).await;
        assert_eq!(succeeded, 1, "round {round}");
    }
}

// ---------------------------------------------------------------------------------------------
// The user behind the family
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_refresh_for_a_user_deactivated_since_issues_no_tokens() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.john).await;
    world.server.deactivate_user(&world.john).await.unwrap();
    assert_eq!(
        error_code(refresh(&world, &tokens).await),
        ErrorCode::InvalidGrant
    );
    let audited = world.audit.events().into_iter().any(|event| {
        event.action
            == AuditAction::TokensRefused {
                grant: grant_of(&world, &tokens),
                reason: RefusalReason::UserDeactivated,
            }
    });
    assert!(audited, "the refusal is audited");
    // Refused, not reuse: the family is not revoked.
    assert!(revocations(&world).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Absolute lifetime and idle timeout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn families_have_no_idle_timeout_by_default() {
    let world = support::world().await;
    assert_eq!(world.server.config().refresh_idle_timeout, None);
    let first = world.tokens_for(&world.jane).await;
    world.clock.advance(TimeDelta::days(400));
    let second = refresh(&world, &first).await.unwrap();
    world.clock.advance(TimeDelta::days(400));
    assert!(refresh(&world, &second).await.is_ok());
}

fn idle_config(idle: TimeDelta, absolute: Option<TimeDelta>) -> Config {
    let mut config = Config::new(ISSUER);
    config.refresh_idle_timeout = Some(idle);
    config.refresh_ttl = absolute;
    config
}

#[tokio::test]
async fn a_family_unused_for_the_idle_timeout_stops_refreshing() {
    let world = support::world_with(idle_config(TimeDelta::days(7), None)).await;
    let first = world.tokens_for(&world.jane).await;
    world.clock.advance(TimeDelta::days(7));
    assert_eq!(
        error_code(refresh(&world, &first).await),
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn each_rotation_restarts_the_idle_timeout() {
    let world = support::world_with(idle_config(TimeDelta::days(7), None)).await;
    let mut latest = world.tokens_for(&world.jane).await;
    for _ in 0..10 {
        world.clock.advance(TimeDelta::days(6));
        latest = refresh(&world, &latest).await.unwrap();
    }
    world
        .clock
        .advance(TimeDelta::days(7) - TimeDelta::seconds(1));
    assert!(refresh(&world, &latest).await.is_ok());
}

#[tokio::test]
async fn the_absolute_lifetime_ends_a_family_however_busy() {
    let config = idle_config(TimeDelta::days(7), Some(TimeDelta::days(30)));
    let world = support::world_with(config).await;
    let mut latest = world.tokens_for(&world.jane).await;
    for _ in 0..4 {
        world
            .clock
            .advance(TimeDelta::days(7) - TimeDelta::seconds(1));
        latest = refresh(&world, &latest).await.unwrap();
    }
    // 28 days in, busy all along: the 30-day limit still ends it, idle or not.
    world
        .clock
        .advance(TimeDelta::days(2) - TimeDelta::seconds(1));
    latest = refresh(&world, &latest).await.unwrap();
    world.clock.advance(TimeDelta::seconds(5));
    assert_eq!(
        error_code(refresh(&world, &latest).await),
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn an_idle_timeout_configured_later_applies_to_existing_families() {
    let world = support::world().await;
    let key = RefreshTokenKey::from_bytes([9; 32]);
    let server_with = |config: Config| {
        appgrant::AuthorizationServer::builder(world.server.store().clone(), config)
            .keys(world.server.keys())
            .refresh_token_key(key.clone())
            .clock(world.clock.clone())
            .build()
            .unwrap()
    };
    let (lenient, stricter) = (
        server_with(Config::new(ISSUER)),
        server_with(idle_config(TimeDelta::days(7), None)),
    );
    let code = world.code_for(&world.jane).await;
    let first = lenient
        .token(world.exchange_request(code), &world.client())
        .await
        .unwrap();
    world.clock.advance(TimeDelta::days(10));
    let request = TokenRequest::RefreshToken {
        refresh_token: first.refresh_token.clone().unwrap(),
        scope: None,
        resource: None,
    };
    let refused = stricter.token(request.clone(), &world.client()).await;
    assert_eq!(error_code(refused), ErrorCode::InvalidGrant);
    // The same token is fine where no idle timeout applies: the refusal was the timeout's.
    assert!(lenient.token(request, &world.client()).await.is_ok());
}

#[tokio::test]
async fn a_rotated_token_replayed_after_the_family_expired_still_revokes_it() {
    // Expiry must not hide reuse: a thief's access token of the family would live on.
    let mut config = Config::new(ISSUER);
    config.refresh_idle_timeout = Some(TimeDelta::minutes(30));
    let world = support::world_with(config).await;
    let first = world.tokens_for(&world.jane).await;
    let stolen = refresh(&world, &first).await.unwrap();
    world.clock.advance(TimeDelta::minutes(40));
    assert!(matches!(
        refresh(&world, &first).await,
        Err(TokenError::RefreshReused { .. })
    ));
    assert_eq!(
        revocations(&world),
        vec![(
            grant_of(&world, &first),
            RevocationReason::RefreshTokenReused
        )]
    );
    assert_eq!(
        deny_reason(&world, &stolen).await,
        Some(DenyReason::Revoked)
    );
}

#[test]
fn a_refresh_token_of_up_to_512_characters_opens_and_a_longer_one_never_does() {
    let key = appgrant::token::RefreshTokenKey::from_bytes([5; 32]);
    let mint = |grant_len: usize| {
        key.mint(
            &GrantId::new("g".repeat(grant_len)),
            1,
            &mut rand::thread_rng(),
        )
    };
    // 41 header bytes, the grant id and a 32-byte tag: 384 bytes are 512 base64url characters.
    let longest = mint(311);
    assert_eq!(longest.expose().len(), 512);
    assert!(key.open(longest.expose()).is_some());
    let too_long = mint(314);
    assert_eq!(too_long.expose().len(), 516);
    assert!(key.open(too_long.expose()).is_none());
}
