//! Atomicity under concurrency: a code is redeemed once however many requests race for it, a
//! refresh family rotates once per token, and the façade can be shared across tokio tasks.

#[macro_use]
mod store_forwarding;
mod support;

use appgrant::grant::{
    AuthorizationResponse, ClientAuthentication, CodeRecord, ErrorCode, FamilyStatus, Redemption,
    RefreshFamily, TokenError, TokenRequest, TokenResponse,
};
use appgrant::model::*;
use appgrant::server::ManualClock;
use appgrant::store::{CodeStore, InstallationStore, RefreshStore, StoreResult};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config, DenyReason, MemoryStore};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Notify;

const TASKS: usize = 64;

fn read_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

/// Runs `make(i)` for `TASKS` tasks on the runtime, released together, and collects the results.
async fn race<F, Fut>(make: F) -> Vec<Fut::Output>
where
    F: Fn(usize) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    appgrant::store::conformance::race(TASKS, make).await
}

/// Splits token-endpoint results into the successes, asserting every failure is invalid_grant.
fn winners(results: Vec<Result<TokenResponse, TokenError>>) -> Vec<TokenResponse> {
    results
        .into_iter()
        .filter_map(|result| match result {
            Ok(tokens) => Some(tokens),
            Err(error) => {
                assert_eq!(error.code(), ErrorCode::InvalidGrant, "{error}");
                None
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_raced_by_many_requests_gives_tokens_to_exactly_one_and_the_reuse_revokes_them() {
    let world = support::world().await;
    let code = world.code_for(&world.john).await;
    let results = race(|_| {
        let (server, client) = (world.server.clone(), world.client());
        let request = world.exchange_request(code.clone());
        async move { server.token(request, &client).await }
    })
    .await;
    let winners = winners(results);
    assert_eq!(winners.len(), 1);
    let decision = world
        .server
        .decide(winners[0].access_token.expose(), &read_tower())
        .await
        .unwrap();
    assert_eq!(decision.deny_reason(), Some(&DenyReason::Revoked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_raced_by_many_requests_rotates_exactly_once() {
    let world = support::world().await;
    let refresh_token = world.tokens_for(&world.john).await.refresh_token.unwrap();
    let results = race(|_| {
        let (server, client) = (world.server.clone(), world.client());
        let request = TokenRequest::RefreshToken {
            refresh_token: refresh_token.clone(),
            scope: None,
            resource: None,
        };
        async move { server.token(request, &client).await }
    })
    .await;
    assert_eq!(winners(results).len(), 1);
}

fn code_record(code: &Secret) -> CodeRecord {
    CodeRecord {
        digest: code.digest(),
        client_id: ClientId::new("fieldsync"),
        redirect_uri: support::REDIRECT.into(),
        user: UserId::new("john"),
        code_challenge: None,
        grant: GrantId::new("grant-1"),
        issued_at: start(),
        expires_at: start() + TimeDelta::minutes(10),
        scope: None,
        resource: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_redeems_a_code_as_first_for_exactly_one_of_many_concurrent_callers() {
    let store = MemoryStore::new();
    let code = Secret::new("the-code");
    let record = code_record(&code);
    store.save_code(record.clone()).await.unwrap();
    let results = race(|_| {
        let (store, digest) = (store.clone(), code.digest());
        async move { store.redeem_code(&digest).await.unwrap() }
    })
    .await;
    let firsts = results
        .iter()
        .filter(|redemption| **redemption == Redemption::First(record.clone()))
        .count();
    let reuses = results
        .iter()
        .filter(|redemption| **redemption == Redemption::Reused(record.clone()))
        .count();
    assert_eq!((firsts, reuses), (1, TASKS - 1));
}

fn family(current: &str) -> RefreshFamily {
    RefreshFamily {
        grant: GrantId::new("grant-1"),
        client_id: ClientId::new("fieldsync"),
        user: UserId::new("john"),
        current: SecretDigest::of(current),
        previous: None,
        created_at: start(),
        rotated_at: start(),
        expires_at: None,
        generation: 1,
        status: FamilyStatus::Active,
        scope: None,
        resource: None,
        dpop_jkt: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_commits_exactly_one_of_many_concurrent_rotations_of_a_family() {
    let store = MemoryStore::new();
    store.save_family(family("r0")).await.unwrap();
    let expected = SecretDigest::of("r0");
    let results = race(|i| {
        let store = store.clone();
        let mut next = family(&format!("r{}", i + 1));
        next.previous = Some(expected);
        async move { (i, store.commit_rotation(&expected, next).await.unwrap()) }
    })
    .await;
    let won: Vec<usize> = results
        .iter()
        .filter(|(_, won)| *won)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(won.len(), 1);
    let winner = SecretDigest::of(&format!("r{}", won[0] + 1));
    let stored = store
        .family(&GrantId::new("grant-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.current, winner);
}

fn assert_shareable<T: Clone + Send + Sync + 'static>() {}

#[test]
fn the_facade_is_clone_send_sync_and_static() {
    assert_shareable::<AuthorizationServer<MemoryStore>>();
}

/// Runs `work` as a tokio task, which compiles only if its future is `Send + 'static`.
async fn spawned<F>(work: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(work).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facades_futures_are_send_and_run_as_tokio_tasks() {
    let world = support::world().await;
    let (server, client) = (world.server.clone(), world.client());
    let (acme, jane, john, app) = (
        world.acme.clone(),
        world.jane.clone(),
        world.john.clone(),
        world.app.client_id.clone(),
    );
    let request = world.authorization_request();
    let response = spawned({
        let (server, john, acme) = (server.clone(), john.clone(), acme.clone());
        async move {
            server
                .approve_authorization(&request, &john, Some(&acme))
                .await
        }
    })
    .await
    .unwrap();
    assert!(matches!(response, AuthorizationResponse::Redirect(_)));

    let tokens = world.tokens_for(&world.john).await;
    let access = tokens.access_token.expose().to_owned();
    let decision = spawned({
        let (server, access) = (server.clone(), access.clone());
        async move { server.decide(&access, &read_tower()).await }
    })
    .await
    .unwrap();
    assert!(decision.is_allowed());

    let refreshed = spawned({
        let (server, client) = (server.clone(), client.clone());
        let refresh_token = tokens.refresh_token.clone().unwrap();
        async move {
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
        }
    })
    .await;
    assert!(refreshed.is_ok());

    let installed = spawned({
        let (server, acme, app, jane) = (server.clone(), acme.clone(), app.clone(), jane.clone());
        async move {
            server.request_installation(&acme, &app, &jane).await?;
            let projects = BTreeSet::from([ProjectId::new("tower")]);
            server
                .approve_installation(&acme, &app, &jane, projects)
                .await
        }
    })
    .await
    .unwrap();
    assert!(installed.service_account.is_some());

    let introspection = spawned({
        let (server, client) = (server.clone(), client.clone());
        async move { server.introspect(&client, &access).await }
    })
    .await
    .unwrap();
    assert!(introspection.active);

    spawned({
        let (server, acme, john) = (server.clone(), acme.clone(), john.clone());
        async move {
            server
                .set_permission(&acme, &john, Scope::Company, "budget", Level::ReadOnly)
                .await
        }
    })
    .await
    .unwrap();
    spawned(async move { server.uninstall(&acme, &app, &jane).await })
        .await
        .unwrap();
    assert!(!world.allowed(&tokens, &read_tower()).await);
}

// ---------------------------------------------------------------------------------------------
// The reuse racing the winner's save: a store that holds `save_family` until released.
// ---------------------------------------------------------------------------------------------

/// A [`MemoryStore`] whose `save_family` says it has been entered, then waits to be released:
/// it lets a test put a second redemption of a code between the first redemption and the
/// saving of the refresh family that redemption produced.
#[derive(Clone, Default)]
struct HeldFamilies {
    inner: MemoryStore,
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

forward_app_store!(HeldFamilies, inner);

impl InstallationStore for HeldFamilies {
    async fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Installation>> {
        self.inner.installation(app, company).await
    }
    async fn save_installation(&self, installation: Installation) -> StoreResult<()> {
        self.inner.save_installation(installation).await
    }
    async fn insert_installation(&self, installation: Installation) -> StoreResult<bool> {
        self.inner.insert_installation(installation).await
    }
    async fn update_installation(
        &self,
        expected_revision: u64,
        installation: Installation,
    ) -> StoreResult<bool> {
        self.inner
            .update_installation(expected_revision, installation)
            .await
    }
    async fn installations_of(&self, app: &ClientId) -> StoreResult<Vec<Installation>> {
        self.inner.installations_of(app).await
    }
    async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> {
        self.inner.installations_in(company).await
    }
}

forward_code_store!(HeldFamilies, inner);

impl RefreshStore for HeldFamilies {
    async fn save_family(&self, family: RefreshFamily) -> StoreResult<()> {
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.save_family(family).await
    }
    async fn family(&self, grant: &GrantId) -> StoreResult<Option<RefreshFamily>> {
        self.inner.family(grant).await
    }
    async fn commit_rotation(
        &self,
        expected: &SecretDigest,
        family: RefreshFamily,
    ) -> StoreResult<bool> {
        self.inner.commit_rotation(expected, family).await
    }
    async fn purge_families(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.inner.purge_families(now).await
    }
    async fn families_of(&self, user: &UserId, app: &ClientId) -> StoreResult<Vec<RefreshFamily>> {
        self.inner.families_of(user, app).await
    }
}

forward_revocation_store!(HeldFamilies, inner);

forward_key_store!(HeldFamilies, inner);
forward_replay_store!(HeldFamilies, inner);

forward_consent_store!(HeldFamilies, inner);

/// Acme with John (read-only on the tower), the both-flows app, and a code John authorized.
async fn held_world(
    store: HeldFamilies,
) -> (
    AuthorizationServer<HeldFamilies, MemoryStore>,
    ClientAuthentication,
    Secret,
) {
    // Only the OAuth state is held; the directory is the memory store's own.
    let directory = store.inner.clone();
    let server = AuthorizationServer::builder(store, Config::new(support::ISSUER))
        .directory(directory)
        .clock(Arc::new(ManualClock::new(start())))
        .build()
        .unwrap();
    let (acme, john) = (CompanyId::new("acme"), UserId::new("john"));
    let mut company = Company::new("acme", "Acme Construction")
        .with_project("tower", "Tower")
        .with_project("depot", "Depot");
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    server.save_company(company).await.unwrap();
    server
        .save_user(User::person("john", "John"))
        .await
        .unwrap();
    let holds = Permissions::none().with(Scope::Project("tower".into()), "rfis", Level::ReadOnly);
    server.set_membership(&acme, &john, holds).await.unwrap();
    let registered = server
        .register_app(support::both_flows_app())
        .await
        .unwrap();
    let request = appgrant::grant::AuthorizationRequest {
        client_id: Some(registered.app.client_id.to_string()),
        redirect_uri: Some(support::REDIRECT.into()),
        response_type: Some("code".into()),
        code_challenge: Some(support::challenge()),
        code_challenge_method: Some("S256".into()),
        ..Default::default()
    };
    let AuthorizationResponse::Redirect(location) = server
        .approve_authorization(&request, &john, Some(&acme))
        .await
        .unwrap()
    else {
        panic!("expected a redirect");
    };
    let code = url::Url::parse(location.expose())
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| Secret::new(value.into_owned()))
        .unwrap();
    let client = ClientAuthentication::Basic {
        client_id: registered.app.client_id,
        secret: registered.client_secret.unwrap(),
    };
    (server, client, code)
}

fn exchange(code: &Secret) -> TokenRequest {
    TokenRequest::AuthorizationCode {
        code: code.clone(),
        redirect_uri: Some(support::REDIRECT.into()),
        code_verifier: Some(support::VERIFIER.into()),
        resource: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reuse_that_lands_before_the_winners_family_is_saved_still_revokes_the_refresh_token() {
    let store = HeldFamilies::default();
    let (server, client, code) = held_world(store.clone()).await;
    let first = tokio::spawn({
        let (server, client, request) = (server.clone(), client.clone(), exchange(&code));
        async move { server.token(request, &client).await }
    });
    // The first exchange has redeemed the code and is about to save its refresh family.
    store.entered.notified().await;
    let reuse = server.token(exchange(&code), &client).await;
    assert_eq!(reuse.unwrap_err().code(), ErrorCode::InvalidGrant);
    store.release.notify_one();
    let tokens = first.await.unwrap().unwrap();

    let access = server
        .decide(tokens.access_token.expose(), &read_tower())
        .await
        .unwrap();
    assert_eq!(access.deny_reason(), Some(&DenyReason::Revoked));
    let refresh_token = tokens.refresh_token.unwrap();
    let introspection = server
        .introspect(&client, refresh_token.expose())
        .await
        .unwrap();
    assert!(
        !introspection.active,
        "the refresh token introspects as active"
    );
    let refreshed = server
        .token(
            TokenRequest::RefreshToken {
                refresh_token,
                scope: None,
                resource: None,
            },
            &client,
        )
        .await;
    assert!(
        refreshed.is_err_and(|error| error.code() == ErrorCode::InvalidGrant),
        "the revoked grant's refresh token still rotates"
    );
}
