//! What the store tests share beyond the library's store conformance suite
//! (`appgrant::store::conformance`, which holds every store-level property and which
//! `tests/store_backends.rs` runs against memory, SQLite and PostgreSQL): the stories that need
//! an [`AuthorizationServer`] on any store, and the database [`fixtures`].
//!
//! A story takes the store it runs on (`store: S`); tests that need more than one handle on the
//! same data (two pools, as two processes would have) take a [`Handles`] that opens them. The
//! [`World`] builder seeds an authorization server on any store; `tests/shared_database.rs`,
//! `tests/stored_signing_keys.rs` and `tests/store_failures.rs` reuse it.
#![allow(dead_code)]

pub mod fixtures;

#[allow(unused_imports)] // Not every test binary that shares this module opens handles.
/// Handles on a store that keeps the directory too (the suite's stories seed people and
/// companies in it).
pub trait Handles: appgrant::store::conformance::Handles<Store: DirectoryStore> {}

impl<H: appgrant::store::conformance::Handles<Store: DirectoryStore>> Handles for H {}

use appgrant::grant::{
    AuthorizationRequest, AuthorizationResponse, ClientAuthentication, ErrorCode, FamilyStatus,
    RefreshFamily, TokenError, TokenRequest, TokenResponse, pkce,
};
use appgrant::model::*;
use appgrant::server::{ManualClock, RegisteredApp};
use appgrant::store::{DirectoryStore, Store};
use appgrant::token::{Algorithm, KeySet, RefreshTokenKey, Secret, SigningKey, ValidationError};
use appgrant::{AuthorizationServer, Config, Decision, DenyReason};
use chrono::TimeDelta;
use std::collections::BTreeSet;
use std::sync::Arc;

pub const ISSUER: &str = "https://auth.example.com";
// Not every test binary that includes this module uses each of them.
#[allow(unused_imports)]
pub use appgrant::store::conformance::{RACERS, REDIRECT, VERIFIER, race, registration, start};

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// An active family of `grant` whose current refresh token is `current`, made at [`start`].
pub fn family(grant: &str, current: &str) -> RefreshFamily {
    RefreshFamily {
        grant: GrantId::new(grant),
        client_id: ClientId::new("fieldsync"),
        user: UserId::new("john"),
        current: SecretDigest::of(current),
        generation: 1,
        previous: None,
        created_at: start(),
        rotated_at: start(),
        expires_at: None,
        status: FamilyStatus::Active,
        scope: None,
        resource: None,
        dpop_jkt: Default::default(),
    }
}

// ---------------------------------------------------------------------------------------------
// The world: an authorization server on any store
// ---------------------------------------------------------------------------------------------

/// A fresh Ed25519 key set.
pub fn new_keys() -> KeySet {
    KeySet::new(SigningKey::generate(Algorithm::EdDSA, &mut rand::rngs::OsRng).unwrap())
}

/// A clock stopped at [`start`].
pub fn new_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(start()))
}

/// The deployment's refresh-token key: configuration, so every server of a suite story (two
/// instances, or one restarted) has the same.
pub fn refresh_key() -> RefreshTokenKey {
    RefreshTokenKey::from_bytes(*b"the suite's refresh-token key...")
}

/// An authorization server on `store` signing with `keys`, authenticating refresh tokens with
/// [`refresh_key`] and reading `clock`.
pub fn server_on<S: Store + DirectoryStore + Clone>(
    store: S,
    config: Config,
    keys: KeySet,
    clock: Arc<ManualClock>,
) -> AuthorizationServer<S> {
    AuthorizationServer::builder(store, config)
        .keys(keys)
        .refresh_token_key(refresh_key())
        .clock(clock)
        .build()
        .unwrap()
}

/// Acme with Jane (directory admin, admin on both projects) and John (read-only on the tower),
/// and one confidential app that uses both flows, served by `server`.
pub struct World<S> {
    pub server: AuthorizationServer<S>,
    pub clock: Arc<ManualClock>,
    pub acme: CompanyId,
    pub jane: UserId,
    pub john: UserId,
    pub tower: ProjectId,
    pub depot: ProjectId,
    pub app: App,
    pub secret: Secret,
}

pub fn read_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

pub fn write_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::Standard).on_project("tower")
}

pub fn write_depot() -> Requirement {
    Requirement::new("acme", "rfis", Level::Standard).on_project("depot")
}

/// The world on `store` with default configuration, fresh keys and a clock at [`start`].
pub async fn world<S: Store + DirectoryStore + Clone>(store: S) -> World<S> {
    world_with(store, Config::new(ISSUER)).await
}

/// The world on `store` with `config`, fresh keys and a clock at [`start`].
pub async fn world_with<S: Store + DirectoryStore + Clone>(store: S, config: Config) -> World<S> {
    let clock = new_clock();
    seed(server_on(store, config, new_keys(), clock.clone()), clock).await
}

/// Seeds the world through `server`, which must read `clock`.
pub async fn seed<S: Store + DirectoryStore + Clone>(
    server: AuthorizationServer<S>,
    clock: Arc<ManualClock>,
) -> World<S> {
    let (acme, jane, john) = (
        CompanyId::new("acme"),
        UserId::new("jane"),
        UserId::new("john"),
    );
    let (tower, depot) = (ProjectId::new("tower"), ProjectId::new("depot"));
    let mut company = Company::new("acme", "Acme Construction")
        .with_project("tower", "Tower")
        .with_project("depot", "Depot");
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    server.save_company(company).await.unwrap();
    server
        .save_user(User::person("jane", "Jane"))
        .await
        .unwrap();
    server
        .save_user(User::person("john", "John"))
        .await
        .unwrap();
    let jane_holds = Permissions::none()
        .with(Scope::Company, "directory", Level::Admin)
        .with(Scope::Project(tower.clone()), "rfis", Level::Admin)
        .with(Scope::Project(depot.clone()), "rfis", Level::Admin);
    let john_holds =
        Permissions::none().with(Scope::Project(tower.clone()), "rfis", Level::ReadOnly);
    server
        .set_membership(&acme, &jane, jane_holds)
        .await
        .unwrap();
    server
        .set_membership(&acme, &john, john_holds)
        .await
        .unwrap();
    let RegisteredApp { app, client_secret } = server
        .register_app(registration("FieldSync"))
        .await
        .unwrap();
    World {
        server,
        clock,
        acme,
        jane,
        john,
        tower,
        depot,
        app,
        secret: client_secret.unwrap(),
    }
}

impl<S: Store + DirectoryStore + Clone> World<S> {
    /// The same world served by another server (another instance on the same data).
    pub fn served_by<T: Store>(&self, server: AuthorizationServer<T>) -> World<T> {
        World {
            server,
            clock: self.clock.clone(),
            acme: self.acme.clone(),
            jane: self.jane.clone(),
            john: self.john.clone(),
            tower: self.tower.clone(),
            depot: self.depot.clone(),
            app: self.app.clone(),
            secret: self.secret.clone(),
        }
    }

    pub fn client(&self) -> ClientAuthentication {
        ClientAuthentication::Basic {
            client_id: self.app.client_id.clone(),
            secret: self.secret.clone(),
        }
    }

    pub fn authorization_request(&self) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: Some(self.app.client_id.to_string()),
            redirect_uri: Some(REDIRECT.into()),
            response_type: Some("code".into()),
            state: Some("xyz".into()),
            scope: None,
            code_challenge: Some(pkce::challenge_of(VERIFIER)),
            code_challenge_method: Some("S256".into()),
            resource: None,
        }
    }

    /// Runs the authorization endpoint for `user` in Acme and returns the code.
    pub async fn code_for(&self, user: &UserId) -> Secret {
        let response = self
            .server
            .approve_authorization(&self.authorization_request(), user, Some(&self.acme))
            .await
            .unwrap();
        code_in(&response)
    }

    /// The grant of `tokens`' access token.
    pub fn grant_of(&self, tokens: &TokenResponse) -> GrantId {
        let config = self.server.config();
        appgrant::token::validate(
            tokens.access_token.expose(),
            &self.server.keys(),
            &config.expectations(),
            self.server.now(),
        )
        .expect("a valid access token")
        .grant_id
    }

    pub fn exchange_request(&self, code: &Secret) -> TokenRequest {
        TokenRequest::AuthorizationCode {
            code: code.clone(),
            redirect_uri: Some(REDIRECT.into()),
            code_verifier: Some(VERIFIER.into()),
            resource: None,
        }
    }

    pub async fn exchange(&self, code: &Secret) -> Result<TokenResponse, TokenError> {
        self.server
            .token(self.exchange_request(code), &self.client())
            .await
    }

    /// The whole authorization-code flow with PKCE for `user`.
    pub async fn tokens_for(&self, user: &UserId) -> TokenResponse {
        let code = self.code_for(user).await;
        self.exchange(&code).await.unwrap()
    }

    pub async fn refresh(&self, tokens: &TokenResponse) -> Result<TokenResponse, TokenError> {
        let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
        self.server
            .token(
                TokenRequest::RefreshToken {
                    refresh_token,
                    scope: None,
                    resource: None,
                },
                &self.client(),
            )
            .await
    }

    /// Jane requests and approves the install with the service account on `projects`.
    pub async fn install_service_account(&self, projects: &[&ProjectId]) -> Installation {
        let projects: BTreeSet<ProjectId> = projects.iter().map(|p| (*p).clone()).collect();
        self.server
            .request_installation(&self.acme, &self.app.client_id, &self.jane)
            .await
            .unwrap();
        self.server
            .approve_installation(&self.acme, &self.app.client_id, &self.jane, projects)
            .await
            .unwrap()
    }

    pub async fn service_token(&self) -> Result<TokenResponse, TokenError> {
        self.server
            .token(
                TokenRequest::ClientCredentials {
                    company_id: Some(self.acme.clone()),
                    scope: None,
                    resource: None,
                },
                &self.client(),
            )
            .await
    }

    pub async fn decide(&self, tokens: &TokenResponse, requirement: &Requirement) -> Decision {
        self.server
            .decide(tokens.access_token.expose(), requirement)
            .await
            .unwrap()
            .decision
    }

    pub async fn allowed(&self, tokens: &TokenResponse, requirement: &Requirement) -> bool {
        self.decide(tokens, requirement).await.is_allowed()
    }

    pub async fn denied_because(
        &self,
        tokens: &TokenResponse,
        requirement: &Requirement,
    ) -> Option<DenyReason> {
        self.decide(tokens, requirement)
            .await
            .deny_reason()
            .cloned()
    }
}

/// The code in an authorization response's redirect.
pub fn code_in(response: &AuthorizationResponse) -> Secret {
    let AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    let url = url::Url::parse(location.expose()).unwrap();
    let code = url
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .expect("the redirect carries a code");
    Secret::new(code)
}

/// Asserts `result` failed with `invalid_grant`.
pub fn assert_invalid_grant<T: std::fmt::Debug>(result: Result<T, TokenError>) {
    match result {
        Err(error) => assert_eq!(error.code(), ErrorCode::InvalidGrant, "{error}"),
        Ok(value) => panic!("expected invalid_grant, got {value:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Through an authorization server
// ---------------------------------------------------------------------------------------------

pub async fn the_whole_story_through_an_authorization_server<S: Store + DirectoryStore + Clone>(
    store: S,
) {
    let world = world(store).await;
    let server = &world.server;
    let directory = server.members(&world.acme).await.unwrap();
    let members: Vec<&str> = directory.iter().map(|(user, _)| user.id.as_str()).collect();
    assert_eq!(members, ["jane", "john"]);

    // John signs in and authorizes the app: a code, exchanged with the PKCE verifier.
    let code = world.code_for(&world.john).await;
    assert!(
        server
            .has_consent(&world.john, &world.app.client_id)
            .await
            .unwrap()
    );
    let john = world.exchange(&code).await.unwrap();
    assert_eq!(john.token_type, "bearer");
    assert_eq!(john.expires_in, 5400);
    assert!(world.allowed(&john, &read_tower()).await);
    assert_eq!(
        world.denied_because(&john, &write_tower()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::ReadOnly,
            need: Level::Standard,
        })
    );
    // His permissions change; the app's access through him follows at the next decision.
    server
        .set_permission(
            &world.acme,
            &world.john,
            Scope::Project(world.tower.clone()),
            "rfis",
            Level::Standard,
        )
        .await
        .unwrap();
    assert!(world.allowed(&john, &write_tower()).await);

    // Refresh rotates; the new pair works and the old refresh token is spent.
    world.clock.advance(TimeDelta::minutes(30));
    let refreshed = world.refresh(&john).await.unwrap();
    assert_ne!(refreshed.refresh_token, john.refresh_token);
    assert!(world.allowed(&refreshed, &write_tower()).await);
    let john = world.refresh(&refreshed).await.unwrap();
    assert!(world.allowed(&john, &write_tower()).await);
    // The code presented again: refused, and everything it issued is revoked.
    assert_invalid_grant(world.exchange(&code).await);
    assert_eq!(
        world.denied_because(&john, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    assert_invalid_grant(world.refresh(&john).await);

    // A rotated refresh token presented again revokes its family.
    let jane = world.tokens_for(&world.jane).await;
    let jane_next = world.refresh(&jane).await.unwrap();
    assert_invalid_grant(world.refresh(&jane).await);
    assert_eq!(
        world.denied_because(&jane_next, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    assert_invalid_grant(world.refresh(&jane_next).await);
    let jane = world.tokens_for(&world.jane).await;
    assert!(world.allowed(&jane, &write_depot()).await);

    // The service account: nothing until an admin approves it, then exactly what was approved.
    let refused = world.service_token().await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::UnauthorizedClient, "{refused}");
    let installed = world.install_service_account(&[&world.tower]).await;
    assert_eq!(installed.status, InstallationStatus::Active);
    let account = installed.service_account.as_ref().unwrap().user.clone();
    assert_eq!(
        server
            .installation(&world.acme, &world.app.client_id)
            .await
            .unwrap(),
        installed
    );
    let directory = server.members(&world.acme).await.unwrap();
    let (user, _) = directory
        .iter()
        .find(|(user, _)| user.id == account)
        .expect("the service account is in the directory");
    assert!(matches!(user.kind, UserKind::ServiceAccount { .. }));
    let service = world.service_token().await.unwrap();
    assert_eq!(service.refresh_token, None);
    assert!(world.allowed(&service, &write_tower()).await);
    assert_eq!(
        world.denied_because(&service, &write_depot()).await,
        Some(DenyReason::ProjectNotPermitted)
    );

    // Uninstall: every token of the app in Acme stops at the next decision.
    server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    for tokens in [&jane, &service] {
        assert_eq!(
            world.denied_because(tokens, &read_tower()).await,
            Some(DenyReason::AppUninstalled)
        );
    }
    assert!(world.service_token().await.is_err());
    let account = server.store().user(&account).await.unwrap().unwrap();
    assert_eq!(account.status, UserStatus::Deactivated);
    if let Ok(after) = world.refresh(&jane).await {
        assert!(!world.allowed(&after, &read_tower()).await);
    }
}

pub async fn the_servers_purge_never_removes_anything_still_valid<
    S: Store + DirectoryStore + Clone,
>(
    store: S,
) {
    let mut config = Config::new(ISSUER);
    config.refresh_ttl = Some(TimeDelta::days(1));
    let world = world_with(store, config).await;
    let server = &world.server;
    let pending = world.code_for(&world.john).await;
    let active = world.tokens_for(&world.john).await;
    let reused_code = world.code_for(&world.john).await;
    let reused = world.exchange(&reused_code).await.unwrap();
    let revoked = world.tokens_for(&world.jane).await;
    server
        .revoke(&world.client(), revoked.access_token.expose())
        .await
        .unwrap();

    // Only the revoked family is spent.
    let report = server.purge().await.unwrap();
    assert_eq!(
        (report.codes, report.families, report.revocations),
        (0, 1, 0)
    );
    assert_eq!(
        world.denied_because(&revoked, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    assert_invalid_grant(world.refresh(&revoked).await);
    // A spent code that has not expired is still known, so its reuse still revokes.
    assert_invalid_grant(world.exchange(&reused_code).await);
    assert_eq!(
        world.denied_because(&reused, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    let active = world.refresh(&active).await.unwrap();
    assert!(world.allowed(&active, &read_tower()).await);
    let from_pending = world.exchange(&pending).await.unwrap();

    // Past the codes' ten minutes: every code goes, with the family the reuse revoked.
    world
        .clock
        .advance(TimeDelta::minutes(10) + TimeDelta::seconds(1));
    let report = server.purge().await.unwrap();
    assert_eq!(
        (report.codes, report.families, report.revocations),
        (4, 1, 0)
    );
    assert_eq!(
        world.denied_because(&revoked, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    let active = world.refresh(&active).await.unwrap();
    assert!(world.allowed(&active, &read_tower()).await);
    assert!(world.allowed(&from_pending, &read_tower()).await);

    // Once every access token a revocation covered has expired, it is forgotten.
    world.clock.advance(TimeDelta::minutes(90));
    let active = world.refresh(&active).await.unwrap();
    let report = server.purge().await.unwrap();
    assert_eq!(
        (report.codes, report.families, report.revocations),
        (0, 0, 2)
    );
    for tokens in [&revoked, &reused] {
        assert_eq!(
            world.denied_because(tokens, &read_tower()).await,
            Some(DenyReason::InvalidToken {
                problem: ValidationError::Expired
            })
        );
    }
    assert!(world.allowed(&active, &read_tower()).await);
    let from_pending = world.refresh(&from_pending).await.unwrap();

    // A day after their grants, the refresh families expire and go.
    world.clock.advance(TimeDelta::days(1));
    let report = server.purge().await.unwrap();
    assert_eq!(
        (report.codes, report.families, report.revocations),
        (0, 2, 0)
    );
    assert_invalid_grant(world.refresh(&active).await);
    assert_invalid_grant(world.refresh(&from_pending).await);
}

/// Rotates `tokens`' family `rotations` times, a second apart; returns the newest tokens.
async fn rotate_times<S: Store + DirectoryStore + Clone>(
    world: &World<S>,
    tokens: &TokenResponse,
    rotations: usize,
) -> TokenResponse {
    let mut latest = tokens.clone();
    for _ in 0..rotations {
        world.clock.advance(TimeDelta::seconds(1));
        latest = world.refresh(&latest).await.unwrap();
    }
    latest
}

/// The refresh-token rule: presenting any earlier refresh token of a live family, however many
/// rotations ago, is reuse and revokes the family, every refresh and access token of it.
pub async fn any_earlier_refresh_token_replayed_after_any_number_of_rotations_revokes_the_family<
    S: Store + DirectoryStore + Clone,
>(
    store: S,
) {
    let world = world(store).await;
    for rotations in [1, 16, 17, 1_000] {
        let first = world.tokens_for(&world.jane).await;
        let middle = rotate_times(&world, &first, rotations / 2).await;
        let latest = rotate_times(&world, &middle, rotations - rotations / 2).await;
        let bystander = world.tokens_for(&world.jane).await;
        assert!(world.allowed(&latest, &read_tower()).await);

        // The victim replays the very first token (or, at one rotation, the one just rotated).
        let stolen = if rotations == 1 { &first } else { &middle };
        for replayed in [&first, stolen] {
            assert_invalid_grant(world.refresh(replayed).await);
        }
        assert_eq!(
            world.denied_because(&latest, &read_tower()).await,
            Some(DenyReason::Revoked),
            "after {rotations} rotations the thief's access token still works"
        );
        assert_invalid_grant(world.refresh(&latest).await);
        assert_eq!(
            world.denied_because(&first, &read_tower()).await,
            Some(DenyReason::Revoked)
        );
        // Another family of the same user and app is untouched.
        assert!(world.allowed(&bystander, &read_tower()).await);
        assert!(world.refresh(&bystander).await.is_ok());
    }
}
