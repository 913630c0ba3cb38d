//! How the client-credentials grant reads storage: the app's installation in the company is
//! read while the client is authenticated, not after (one round trip instead of two on a
//! database), and a client that fails authentication is refused as soon as it fails, never
//! waiting for that read nor learning from it.
//!
//! A store that reads the app with its installation in one read
//! (`InstallationStore::app_with_installation`, as the SQL stores do) is asked that instead,
//! once per grant.
//!
//! The store here holds each read at a gate the test opens, so the order is staged, not timed.

#[macro_use]
mod store_forwarding;
mod support;

use appgrant::grant::{ClientAuthentication, ErrorCode, TokenRequest};
use appgrant::model::*;
use appgrant::store::{AppStore, AppWithInstallation, InstallationStore, StoreResult};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config, MemoryStore};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{ISSUER, World};
use tokio::sync::Semaphore;

/// A [`MemoryStore`] whose app and installation reads each wait for a permit of their own
/// gate (open unless a test closes it), and count how many began. [`Gated::reading_together`]
/// gives it a read of both at once, counted too.
#[derive(Clone)]
struct Gated {
    inner: MemoryStore,
    app_gate: Arc<Semaphore>,
    installation_gate: Arc<Semaphore>,
    app_reads: Arc<AtomicUsize>,
    installation_reads: Arc<AtomicUsize>,
    together: Option<Arc<AtomicUsize>>,
}

const OPEN: usize = Semaphore::MAX_PERMITS;

impl Gated {
    fn over(inner: MemoryStore) -> Self {
        Self {
            inner,
            app_gate: Arc::new(Semaphore::new(OPEN)),
            installation_gate: Arc::new(Semaphore::new(OPEN)),
            app_reads: Arc::default(),
            installation_reads: Arc::default(),
            together: None,
        }
    }

    /// This store, reading an app with its installation in one read.
    fn reading_together(mut self) -> Self {
        self.together = Some(Arc::default());
        self
    }

    fn reads_together(&self) -> usize {
        self.together
            .as_ref()
            .map_or(0, |reads| reads.load(Ordering::SeqCst))
    }

    fn closed(gate: &Semaphore) {
        gate.forget_permits(OPEN);
    }
}

impl AppStore for Gated {
    async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        self.app_reads.fetch_add(1, Ordering::SeqCst);
        let _pass = self.app_gate.acquire().await.unwrap();
        self.inner.app(client_id).await
    }
    async fn save_app(&self, app: App) -> StoreResult<()> {
        self.inner.save_app(app).await
    }
    async fn update_app(&self, expected_revision: u64, app: App) -> StoreResult<bool> {
        self.inner.update_app(expected_revision, app).await
    }
    async fn apps(&self) -> StoreResult<Vec<App>> {
        self.inner.apps().await
    }
    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        self.inner.delete_app(client_id).await
    }
}

impl InstallationStore for Gated {
    async fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Installation>> {
        self.installation_reads.fetch_add(1, Ordering::SeqCst);
        let _pass = self.installation_gate.acquire().await.unwrap();
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
    fn app_with_installation(
        &self,
        client_id: &ClientId,
        company: &CompanyId,
    ) -> Option<impl Future<Output = StoreResult<AppWithInstallation>> + Send> {
        let reads = self.together.as_ref()?;
        reads.fetch_add(1, Ordering::SeqCst);
        Some(async move {
            let app = self.inner.app(client_id).await?;
            Ok((app, self.inner.installation(client_id, company).await?))
        })
    }
}

forward_code_store!(Gated, inner);
forward_refresh_store!(Gated, inner);
forward_revocation_store!(Gated, inner);
forward_consent_store!(Gated, inner);
forward_key_store!(Gated, inner);
forward_replay_store!(Gated, inner);

/// The seed world with the app's service account approved on the tower project, and a server
/// over the same data whose reads pass through `Gated`.
async fn gated_world() -> (World, AuthorizationServer<Gated, MemoryStore>, Gated) {
    gated_world_with(|store| store).await
}

/// As [`gated_world`], the store made by `make` from the gated one.
async fn gated_world_with(
    make: impl FnOnce(Gated) -> Gated,
) -> (World, AuthorizationServer<Gated, MemoryStore>, Gated) {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let store = make(Gated::over(world.server.store().clone()));
    let server = AuthorizationServer::builder_with_directory(
        store.clone(),
        store.inner.clone(),
        Config::new(ISSUER),
    )
    .keys(world.server.keys())
    .clock(world.clock.clone())
    .build()
    .unwrap();
    (world, server, store)
}

fn grant(company: &CompanyId) -> TokenRequest {
    TokenRequest::ClientCredentials {
        company_id: Some(company.clone()),
        scope: None,
        resource: None,
    }
}

fn with_secret(world: &World, secret: &str) -> ClientAuthentication {
    ClientAuthentication::Basic {
        client_id: world.app.client_id.clone(),
        secret: Secret::new(secret),
    }
}

/// A grant for a company that did not install the app (one the test adds) is refused as
/// `unauthorized_client`.
async fn assert_refused_where_not_installed(
    world: &World,
    server: &AuthorizationServer<Gated, MemoryStore>,
) {
    server
        .save_company(Company::new("globex", "Globex"))
        .await
        .unwrap();
    let refused = server
        .token(grant(&CompanyId::new("globex")), &world.client())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::UnauthorizedClient);
}

/// A wrong secret and an unknown client are each refused as `invalid_client`.
async fn assert_failing_clients_refused(
    world: &World,
    server: &AuthorizationServer<Gated, MemoryStore>,
) {
    for client in [
        with_secret(world, "not-the-secret"),
        ClientAuthentication::Basic {
            client_id: ClientId::new("no-such-app"),
            secret: Secret::new("anything"),
        },
    ] {
        let refused = server.token(grant(&world.acme), &client).await.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidClient);
    }
}

/// Waits (yielding to the runtime) until `reads` counts `at_least`.
async fn until_counted(reads: &AtomicUsize, at_least: usize) {
    for _ in 0..10_000 {
        if reads.load(Ordering::SeqCst) >= at_least {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the read never began");
}

#[tokio::test]
async fn the_installation_is_read_while_the_client_is_still_being_authenticated() {
    let (world, server, store) = gated_world().await;
    Gated::closed(&store.app_gate);
    let request = grant(&world.acme);
    let client = world.client();
    let token = tokio::spawn({
        let server = server.clone();
        async move { server.token(request, &client).await }
    });
    // The app read is held, so the client is not authenticated yet; the installation read
    // has begun anyway.
    until_counted(&store.installation_reads, 1).await;
    assert_eq!(store.app_reads.load(Ordering::SeqCst), 1);
    assert!(!token.is_finished());
    store.app_gate.add_permits(OPEN);
    let issued = token
        .await
        .unwrap()
        .expect("a token for the approved service account");
    assert!(
        world
            .server
            .decide(
                issued.access_token.expose(),
                &Requirement::new("acme", "rfis", Level::Standard).on_project("tower"),
            )
            .await
            .unwrap()
            .is_allowed()
    );
    assert_eq!(store.installation_reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_client_with_a_wrong_secret_is_refused_without_waiting_for_the_installation_read() {
    let (world, server, store) = gated_world().await;
    Gated::closed(&store.app_gate);
    // The installation read never finishes.
    Gated::closed(&store.installation_gate);
    let request = grant(&world.acme);
    let client = with_secret(&world, "not-the-secret");
    let token = tokio::spawn({
        let server = server.clone();
        async move { server.token(request, &client).await }
    });
    until_counted(&store.installation_reads, 1).await;
    store.app_gate.add_permits(OPEN);
    let refused = tokio::time::timeout(Duration::from_secs(10), token)
        .await
        .expect("refused without waiting for the installation")
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidClient);
}

#[tokio::test]
async fn on_a_store_that_answers_at_once_a_client_that_fails_authentication_reads_no_installation()
{
    let (world, server, store) = gated_world().await;
    assert_failing_clients_refused(&world, &server).await;
    assert_eq!(store.app_reads.load(Ordering::SeqCst), 2);
    assert_eq!(store.installation_reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_grant_without_a_company_reads_no_installation() {
    let (world, server, store) = gated_world().await;
    let unbound = TokenRequest::ClientCredentials {
        company_id: None,
        scope: None,
        resource: None,
    };
    server.token(unbound, &world.client()).await.unwrap();
    assert_eq!(store.installation_reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_grant_for_a_company_that_did_not_install_the_app_is_refused_after_one_read_of_each() {
    let (world, server, store) = gated_world().await;
    assert_refused_where_not_installed(&world, &server).await;
    assert_eq!(store.app_reads.load(Ordering::SeqCst), 1);
    assert_eq!(store.installation_reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_store_that_reads_the_app_with_its_installation_is_asked_that_once_per_grant() {
    let (world, server, store) = gated_world_with(Gated::reading_together).await;
    let issued = server.token(grant(&world.acme), &world.client()).await;
    issued.expect("a token for the approved service account");
    assert_eq!(store.reads_together(), 1);
    assert_eq!(store.app_reads.load(Ordering::SeqCst), 0);
    assert_eq!(store.installation_reads.load(Ordering::SeqCst), 0);

    // A company without the app installed is refused from the same one read.
    assert_refused_where_not_installed(&world, &server).await;
    assert_eq!(store.reads_together(), 2);
}

#[tokio::test]
async fn read_together_a_client_that_fails_authentication_is_still_refused_as_invalid_client() {
    let (world, server, store) = gated_world_with(Gated::reading_together).await;
    assert_failing_clients_refused(&world, &server).await;
    assert_eq!(store.reads_together(), 2);
    // A grant without a company needs no installation: the app alone is read.
    let unbound = TokenRequest::ClientCredentials {
        company_id: None,
        scope: None,
        resource: None,
    };
    server.token(unbound, &world.client()).await.unwrap();
    assert_eq!(store.reads_together(), 2);
    assert_eq!(store.app_reads.load(Ordering::SeqCst), 1);
}
