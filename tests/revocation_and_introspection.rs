//! Token revocation (RFC 7009), introspection (RFC 7662) and token info.

mod failing_store;
mod in_process;
mod store_suite;
mod support;

use appgrant::DenyReason;
use appgrant::audit::{AuditAction, RevocationReason};
use appgrant::grant::{ClientAuthentication, ErrorCode, TokenError, TokenRequest, TokenResponse};
use appgrant::model::{
    Company, CompanyId, GrantId, Level, Permissions, Requirement, Scope, User, UserId,
};
use appgrant::server::ServerError;
use appgrant::token::{Secret, SubjectKind, ValidationError, validate};
use chrono::TimeDelta;
use serde_json::json;
use support::{ISSUER, World};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn access(tokens: &TokenResponse) -> &str {
    tokens.access_token.expose()
}

fn refresh_token(tokens: &TokenResponse) -> &str {
    tokens
        .refresh_token
        .as_ref()
        .expect("a refresh token")
        .expose()
}

async fn refresh(world: &World, tokens: &TokenResponse) -> Result<TokenResponse, TokenError> {
    let request = TokenRequest::RefreshToken {
        refresh_token: tokens.refresh_token.clone().expect("a refresh token"),
        scope: None,
        resource: None,
    };
    world.server.token(request, &world.client()).await
}

fn read_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

async fn deny_reason(world: &World, tokens: &TokenResponse) -> Option<DenyReason> {
    world
        .server
        .decide(access(tokens), &read_tower())
        .await
        .unwrap()
        .deny_reason()
        .cloned()
}

fn grant_of(world: &World, tokens: &TokenResponse) -> GrantId {
    let config = world.server.config();
    validate(
        access(tokens),
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

/// Another confidential app, with tokens Jane gave it, and its credentials.
async fn other_app_with_tokens(world: &World) -> (ClientAuthentication, TokenResponse) {
    let registered = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap();
    let mut request = world.authorization_request();
    request.client_id = Some(registered.app.client_id.to_string());
    let response = world
        .server
        .approve_authorization(&request, &world.jane, Some(&world.acme))
        .await
        .unwrap();
    let appgrant::grant::AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    let code = url::Url::parse(location.expose())
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| Secret::new(code.into_owned()))
        .unwrap();
    let credentials = ClientAuthentication::Basic {
        client_id: registered.app.client_id,
        secret: registered.client_secret.unwrap(),
    };
    let tokens = world
        .server
        .token(world.exchange_request(code), &credentials)
        .await
        .unwrap();
    (credentials, tokens)
}

fn wrong_secret(world: &World) -> ClientAuthentication {
    ClientAuthentication::Basic {
        client_id: world.app.client_id.clone(),
        secret: Secret::new("not-the-secret"),
    }
}

/// The introspection answer for `token`, as the JSON a resource server receives.
async fn introspect(world: &World, token: &str) -> serde_json::Value {
    let answer = world
        .server
        .introspect(&world.client(), token)
        .await
        .unwrap();
    serde_json::to_value(answer).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Revocation (RFC 7009)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoking_the_access_token_revokes_its_refresh_token() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    world
        .server
        .revoke(&world.client(), access(&tokens))
        .await
        .unwrap();
    assert_eq!(
        deny_reason(&world, &tokens).await,
        Some(DenyReason::Revoked)
    );
    let refreshed = refresh(&world, &tokens).await;
    assert_eq!(refreshed.unwrap_err().code(), ErrorCode::InvalidGrant);
    assert_eq!(
        revocations(&world),
        [(grant_of(&world, &tokens), RevocationReason::Requested)]
    );
}

#[tokio::test]
async fn the_http_endpoints_revoke_and_introspect_the_token_the_form_names() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    let router = in_process::app(
        world.server.clone(),
        in_process::SignedInAs {
            user: world.jane.clone(),
            company: world.acme.clone(),
            session: "session".into(),
        },
    );
    let basic = in_process::basic(world.app.client_id.as_str(), world.secret.expose());
    let ask = |path: &'static str, form: Vec<(&'static str, String)>| {
        let (router, basic) = (&router, &basic);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            in_process::post_form(router, path, &form, Some(basic)).await
        }
    };
    let token = || vec![("token", access(&tokens).to_owned())];
    for path in ["/oauth/introspect", "/oauth/revoke"] {
        let answer = ask(path, vec![]).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert_eq!(answer.json()["error"], "invalid_request", "{path}");
        assert_eq!(answer.json()["error_description"], "token is required");
    }
    let answer = ask("/oauth/introspect", token()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["active"], true, "{}", answer.body);
    assert_eq!(answer.json()["sub"], "jane", "{}", answer.body);
    let answer = ask("/oauth/revoke", token()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        deny_reason(&world, &tokens).await,
        Some(DenyReason::Revoked)
    );
    let answer = ask("/oauth/introspect", token()).await;
    assert_eq!(answer.json(), json!({"active": false}));
}

#[tokio::test]
async fn revoking_the_refresh_token_revokes_its_access_token() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    world
        .server
        .revoke(&world.client(), refresh_token(&tokens))
        .await
        .unwrap();
    assert_eq!(
        deny_reason(&world, &tokens).await,
        Some(DenyReason::Revoked)
    );
    assert!(refresh(&world, &tokens).await.is_err());
    assert_eq!(
        revocations(&world),
        [(grant_of(&world, &tokens), RevocationReason::Requested)]
    );
}

#[tokio::test]
async fn revoking_one_grant_leaves_the_users_other_grants_working() {
    let world = support::world().await;
    let revoked = world.tokens_for(&world.jane).await;
    let kept = world.tokens_for(&world.jane).await;
    world
        .server
        .revoke(&world.client(), access(&revoked))
        .await
        .unwrap();
    assert!(world.allowed(&kept, &read_tower()).await);
    assert!(refresh(&world, &kept).await.is_ok());
}

#[tokio::test]
async fn revoking_an_expired_access_token_still_revokes_its_refresh_token() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    world
        .clock
        .advance(TimeDelta::seconds(tokens.expires_in + 60));
    world
        .server
        .revoke(&world.client(), access(&tokens))
        .await
        .unwrap();
    assert!(refresh(&world, &tokens).await.is_err());
}

#[tokio::test]
async fn revoking_an_unknown_token_is_not_an_error() {
    let world = support::world().await;
    let never_issued = Secret::generate(&mut rand::thread_rng());
    for token in ["garbage", "", "a.b.c", never_issued.expose()] {
        let result = world.server.revoke(&world.client(), token).await;
        assert!(result.is_ok(), "{token:?}: {result:?}");
    }
    assert!(revocations(&world).is_empty());
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_tokens() {
    let world = support::world().await;
    let (other, others_tokens) = other_app_with_tokens(&world).await;
    let mine = world.tokens_for(&world.jane).await;

    for token in [access(&mine), refresh_token(&mine)] {
        let result = world.server.revoke(&other, token).await;
        assert!(
            result.is_ok(),
            "the answer must not reveal whose token it is"
        );
    }

    assert!(world.allowed(&mine, &read_tower()).await);
    assert!(refresh(&world, &mine).await.is_ok());
    assert!(revocations(&world).is_empty());
    // The other client can still revoke its own.
    world
        .server
        .revoke(&other, access(&others_tokens))
        .await
        .unwrap();
    assert_eq!(
        deny_reason(&world, &others_tokens).await,
        Some(DenyReason::Revoked)
    );
}

#[tokio::test]
async fn revocation_requires_client_authentication() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    let result = world
        .server
        .revoke(&wrong_secret(&world), access(&tokens))
        .await;
    assert_eq!(result.unwrap_err().code(), ErrorCode::InvalidClient);
    assert!(world.allowed(&tokens, &read_tower()).await);
}

// ---------------------------------------------------------------------------------------------
// Introspection (RFC 7662)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn introspecting_an_active_access_token_shows_who_and_until_when() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    let answer = introspect(&world, access(&tokens)).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_kind"], "access_token");
    assert_eq!(answer["client_id"], world.app.client_id.as_str());
    assert_eq!(answer["sub"], "jane");
    assert_eq!(answer["iss"], ISSUER);
    assert_eq!(answer["exp"], tokens.created_at + tokens.expires_in);
    assert_eq!(answer["iat"], tokens.created_at);
}

/// RFC 7662 §2.2: `token_type` is the token type of RFC 6749 §5.1, the scheme the token is
/// presented with, not which token it is; that has a field of its own.
#[tokio::test]
async fn introspection_gives_an_access_tokens_type_as_bearer_and_its_kind_apart() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    let answer = introspect(&world, access(&tokens)).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["token_kind"], "access_token");
}

#[tokio::test]
async fn introspecting_a_refresh_token_shows_its_kind_and_no_token_type() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.john).await;
    let answer = introspect(&world, refresh_token(&tokens)).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_kind"], "refresh_token");
    // A refresh token is not presented to resource servers, so it has no RFC 6749 §5.1 type.
    assert!(answer.get("token_type").is_none(), "{answer}");
    assert_eq!(answer["client_id"], world.app.client_id.as_str());
    assert_eq!(answer["sub"], "john");
}

#[tokio::test]
async fn introspecting_a_revoked_token_says_only_inactive() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    world
        .server
        .revoke(&world.client(), access(&tokens))
        .await
        .unwrap();
    assert_eq!(
        introspect(&world, access(&tokens)).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&world, refresh_token(&tokens)).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn introspecting_an_expired_access_token_says_only_inactive() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    world.clock.advance(TimeDelta::seconds(tokens.expires_in));
    assert_eq!(
        introspect(&world, access(&tokens)).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn introspecting_a_rotated_refresh_token_says_only_inactive() {
    let world = support::world().await;
    let first = world.tokens_for(&world.jane).await;
    let second = refresh(&world, &first).await.unwrap();
    assert_eq!(
        introspect(&world, refresh_token(&first)).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&world, refresh_token(&second)).await["active"],
        true
    );
}

#[tokio::test]
async fn introspecting_an_expired_refresh_token_says_only_inactive() {
    let mut config = appgrant::Config::new(ISSUER);
    config.refresh_ttl = Some(TimeDelta::days(1));
    let world = support::world_with(config).await;
    let tokens = world.tokens_for(&world.jane).await;
    let live = introspect(&world, refresh_token(&tokens)).await;
    assert_eq!(
        live["exp"],
        tokens.created_at + TimeDelta::days(1).num_seconds()
    );
    world.clock.advance(TimeDelta::days(1));
    assert_eq!(
        introspect(&world, refresh_token(&tokens)).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn introspecting_garbage_says_only_inactive() {
    let world = support::world().await;
    for token in ["garbage", "", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        assert_eq!(
            introspect(&world, token).await,
            json!({"active": false}),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn introspection_requires_client_authentication() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    let wrong = world
        .server
        .introspect(&wrong_secret(&world), access(&tokens))
        .await;
    assert_eq!(wrong.unwrap_err().code(), ErrorCode::InvalidClient);
    let unknown = ClientAuthentication::Basic {
        client_id: "no-such-app".into(),
        secret: world.secret.clone(),
    };
    let unknown = world.server.introspect(&unknown, access(&tokens)).await;
    assert_eq!(unknown.unwrap_err().code(), ErrorCode::InvalidClient);
}

#[tokio::test]
async fn a_public_client_may_not_introspect() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    let public = world
        .server
        .register_app(appgrant::grant::AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            client_type: appgrant::model::ClientType::Public,
            flows: appgrant::model::AppFlows::UserDelegated,
            manifest: None,
            ..support::both_flows_app()
        })
        .await
        .unwrap();
    let credentials = ClientAuthentication::Public {
        client_id: public.app.client_id,
    };
    let refused = world.server.introspect(&credentials, access(&tokens)).await;
    assert_eq!(refused.unwrap_err().code(), ErrorCode::InvalidClient);
}

// ---------------------------------------------------------------------------------------------
// Token info
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn token_info_names_the_resource_owner_app_and_lifetime() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    world.clock.advance(TimeDelta::seconds(100));
    let info = world.server.token_info(access(&tokens)).await.unwrap();
    assert_eq!(info.resource_owner_id.as_deref(), Some("jane"));
    assert_eq!(info.application.uid, world.app.client_id.as_str());
    assert_eq!(info.expires_in_seconds, tokens.expires_in - 100);
    assert_eq!(info.created_at, tokens.created_at);
    assert_eq!(info.grant_kind, SubjectKind::User);
}

#[tokio::test]
async fn token_info_fails_for_a_revoked_token() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    world
        .server
        .revoke(&world.client(), refresh_token(&tokens))
        .await
        .unwrap();
    let result = world.server.token_info(access(&tokens)).await;
    assert!(matches!(result, Err(ServerError::Revoked)), "{result:?}");
}

#[tokio::test]
async fn token_info_fails_for_an_expired_token() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    world.clock.advance(TimeDelta::seconds(tokens.expires_in));
    let result = world.server.token_info(access(&tokens)).await;
    assert!(
        matches!(
            result,
            Err(ServerError::InvalidToken(ValidationError::Expired))
        ),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Active only where it could be allowed: introspection and token info agree with decisions
// ---------------------------------------------------------------------------------------------

/// Whether introspection says `token` is active.
async fn active(world: &World, token: &str) -> bool {
    introspect(world, token).await["active"] == serde_json::json!(true)
}

async fn uninstall_from_acme(world: &World) {
    world
        .server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
}

/// A second company, Beta, with `user` a member holding rfis on its project, and the world's
/// app installed there by its admin (Bea) with an approved service account.
async fn install_in_beta(world: &World, user: &UserId) -> CompanyId {
    let beta = CompanyId::new("beta");
    let server = &world.server;
    server
        .save_company(
            Company::new("beta", "Beta Builders")
                .with_project("tower", "Tower")
                .with_project("depot", "Depot"),
        )
        .await
        .unwrap();
    server.save_user(User::person("bea", "Bea")).await.unwrap();
    let bea = UserId::new("bea");
    let admin = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    server.set_membership(&beta, &bea, admin).await.unwrap();
    let member = Permissions::none().with(Scope::Company, "rfis", Level::ReadOnly);
    server.set_membership(&beta, user, member).await.unwrap();
    server
        .request_installation(&beta, &world.app.client_id, &bea)
        .await
        .unwrap();
    server
        .approve_installation(&beta, &world.app.client_id, &bea, Default::default())
        .await
        .unwrap();
    beta
}

#[tokio::test]
async fn a_user_token_is_inactive_once_its_app_is_uninstalled_from_the_only_company() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    assert!(active(&world, access(&tokens)).await);
    assert!(active(&world, refresh_token(&tokens)).await);
    uninstall_from_acme(&world).await;
    assert!(!active(&world, access(&tokens)).await);
    assert!(!active(&world, refresh_token(&tokens)).await);
    let info = world.server.token_info(access(&tokens)).await;
    assert!(matches!(info, Err(ServerError::Inactive(_))), "{info:?}");
}

#[tokio::test]
async fn an_unbound_service_account_token_is_inactive_once_uninstalled_everywhere() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let tokens = world.service_token(None).await;
    assert!(active(&world, access(&tokens)).await);
    assert!(world.server.token_info(access(&tokens)).await.is_ok());
    uninstall_from_acme(&world).await;
    assert!(!active(&world, access(&tokens)).await);
    let info = world.server.token_info(access(&tokens)).await;
    assert!(matches!(info, Err(ServerError::Inactive(_))), "{info:?}");
}

#[tokio::test]
async fn a_token_stays_active_while_another_company_where_its_subject_may_act_has_the_app() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    install_in_beta(&world, &world.jane).await;
    uninstall_from_acme(&world).await;
    assert!(active(&world, access(&tokens)).await);
    assert!(active(&world, refresh_token(&tokens)).await);
    assert!(world.server.token_info(access(&tokens)).await.is_ok());
}

#[tokio::test]
async fn a_token_is_inactive_where_its_user_is_not_a_member_of_any_installing_company() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    // Beta installs the app, but Jane is no member there.
    let stranger = UserId::new("sam");
    world
        .server
        .save_user(User::person("sam", "Sam"))
        .await
        .unwrap();
    install_in_beta(&world, &stranger).await;
    uninstall_from_acme(&world).await;
    assert!(!active(&world, access(&tokens)).await);
    assert!(world.server.token_info(access(&tokens)).await.is_err());
}

#[tokio::test]
async fn tokens_of_a_deactivated_user_are_inactive() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.john).await;
    world.server.deactivate_user(&world.john).await.unwrap();
    assert!(!active(&world, access(&tokens)).await);
    assert!(!active(&world, refresh_token(&tokens)).await);
    assert!(world.server.token_info(access(&tokens)).await.is_err());
}

#[tokio::test]
async fn standing_of_an_unbound_user_token_reads_the_users_companies_not_every_installation() {
    // The app is installed in many companies Jane is no member of; token info must not walk
    // them all (each step was two store reads, for every call).
    let store = failing_store::FailingStore::default();
    let world = store_suite::world(store.clone()).await;
    let tokens = world.tokens_for(&world.jane).await;
    let template = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await
        .unwrap();
    for at in 0..300 {
        let mut other = template.clone();
        // These sort before "acme", so a walk of the installations meets them first.
        other.company = CompanyId::new(format!("a{at:05}"));
        appgrant::store::InstallationStore::save_installation(&store, other)
            .await
            .unwrap();
    }
    let reads = |before: usize| store.calls() - before;
    let before = store.calls();
    assert!(
        world
            .server
            .token_info(tokens.access_token.expose())
            .await
            .is_ok()
    );
    assert!(
        reads(before) <= 10,
        "one token info made {} store calls",
        reads(before)
    );
    // Uninstalled from Acme, Jane's token is inactive, still without walking them all.
    world
        .server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    let before = store.calls();
    assert!(
        world
            .server
            .token_info(tokens.access_token.expose())
            .await
            .is_err()
    );
    assert!(
        reads(before) <= 10,
        "one token info made {} store calls",
        reads(before)
    );
}
