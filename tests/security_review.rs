//! Security review: failing reproductions of the problems found, each `#[ignore]`d with the
//! bug it shows so the suite stays green. Run them with
//! `cargo test --all-features --test security_review -- --include-ignored`.

mod support;

#[cfg(feature = "axum")]
mod header_sign_in;
#[cfg(feature = "axum")]
mod http_support;

use appgrant::grant::{AuthorizationResponse, ClientAuthentication, TokenRequest, TokenResponse};
use appgrant::model::*;
use appgrant::server::ManualClock;
use appgrant::store::{DirectoryStore, Store};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config, DenyReason};
use chrono::{TimeDelta, TimeZone, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;
use support::{ISSUER, REDIRECT, VERIFIER, World};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn read_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

fn projects(list: &[&ProjectId]) -> BTreeSet<ProjectId> {
    list.iter().map(|project| (*project).clone()).collect()
}

async fn deny_reason(
    world: &World,
    token: &TokenResponse,
    req: &Requirement,
) -> Option<DenyReason> {
    world
        .server
        .decide(token.access_token.expose(), req)
        .await
        .unwrap()
        .deny_reason()
        .cloned()
}

fn code_of(response: AuthorizationResponse) -> Secret {
    let AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    url::Url::parse(location.expose())
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| Secret::new(code.into_owned()))
        .unwrap()
}

/// The seed world (Acme, Jane the directory admin, FieldSync) on any store.
struct Seeded<S, D = S> {
    server: AuthorizationServer<S, D>,
    clock: Arc<ManualClock>,
    acme: CompanyId,
    jane: UserId,
    tower: ProjectId,
    app: App,
    secret: Secret,
}

impl<S: Store + DirectoryStore + Clone> Seeded<S> {
    async fn on(store: S) -> Self {
        Seeded::over(store.clone(), store).await
    }
}

impl<S: Store + Clone, D: DirectoryStore> Seeded<S, D> {
    /// The seed world with the OAuth state in `store` and who is who in `directory`.
    async fn over(store: S, directory: D) -> Self {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        ));
        let server = AuthorizationServer::builder(store, Config::new(ISSUER))
            .directory(directory)
            .clock(clock.clone())
            .build()
            .unwrap();
        let acme = CompanyId::new("acme");
        let jane = UserId::new("jane");
        let tower = ProjectId::new("tower");
        let mut company = Company::new("acme", "Acme Construction")
            .with_project("tower", "Tower")
            .with_project("depot", "Depot");
        company.settings.consent_install = ConsentInstall::ForUserAccess;
        server.save_company(company).await.unwrap();
        server
            .save_user(User::person("jane", "Jane"))
            .await
            .unwrap();
        let holds = Permissions::none()
            .with(Scope::Company, "directory", Level::Admin)
            .with(Scope::Project(tower.clone()), "rfis", Level::Admin);
        server.set_membership(&acme, &jane, holds).await.unwrap();
        let registered = server
            .register_app(support::both_flows_app())
            .await
            .unwrap();
        Self {
            server,
            clock,
            acme,
            jane,
            tower,
            app: registered.app,
            secret: registered.client_secret.unwrap(),
        }
    }

    fn client(&self) -> ClientAuthentication {
        ClientAuthentication::Basic {
            client_id: self.app.client_id.clone(),
            secret: self.secret.clone(),
        }
    }

    /// Jane authorizes FieldSync in Acme (installing it for user access) and exchanges the code.
    async fn jane_tokens(&self) -> TokenResponse {
        let request = appgrant::grant::AuthorizationRequest {
            client_id: Some(self.app.client_id.to_string()),
            redirect_uri: Some(REDIRECT.into()),
            response_type: Some("code".into()),
            state: None,
            scope: None,
            code_challenge: Some(support::challenge()),
            code_challenge_method: Some("S256".into()),
            resource: None,
        };
        let code = code_of(
            self.server
                .approve_authorization(&request, &self.jane, Some(&self.acme))
                .await
                .unwrap(),
        );
        let exchange = TokenRequest::AuthorizationCode {
            code,
            redirect_uri: Some(REDIRECT.into()),
            code_verifier: Some(VERIFIER.into()),
            resource: None,
        };
        self.server.token(exchange, &self.client()).await.unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// 1. An uninstall can be silently undone by a concurrent read-modify-write of the installation
// ---------------------------------------------------------------------------------------------

mod gated {
    //! A store that pauses `installations_of` once, after it has read, until released: the
    //! window every read-modify-write of an installation has between its read and its save.
    //! It holds the OAuth state only; the directory is a part of its own.
    use appgrant::MemoryStore;
    use appgrant::grant::{CodeRecord, Redemption, RefreshFamily};
    use appgrant::model::*;
    use appgrant::store::*;
    use chrono::{DateTime, Utc};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::Notify;

    #[derive(Default)]
    pub struct Gate {
        pub armed: AtomicBool,
        pub reached: Notify,
        pub release: Notify,
    }

    #[derive(Clone, Default)]
    pub struct GatedStore {
        pub inner: MemoryStore,
        pub gate: Arc<Gate>,
    }

    impl AppStore for GatedStore {
        async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
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

    impl InstallationStore for GatedStore {
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
            let read = self.inner.installations_of(app).await;
            if self.gate.armed.swap(false, Ordering::SeqCst) {
                self.gate.reached.notify_one();
                self.gate.release.notified().await;
            }
            read
        }
        async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> {
            self.inner.installations_in(company).await
        }
    }

    impl CodeStore for GatedStore {
        async fn save_code(&self, record: CodeRecord) -> StoreResult<()> {
            self.inner.save_code(record).await
        }
        async fn code(&self, digest: &SecretDigest) -> StoreResult<Option<CodeRecord>> {
            self.inner.code(digest).await
        }
        async fn redeem_code(&self, digest: &SecretDigest) -> StoreResult<Redemption> {
            self.inner.redeem_code(digest).await
        }
        async fn purge_codes(&self, expired_before: DateTime<Utc>) -> StoreResult<u64> {
            self.inner.purge_codes(expired_before).await
        }
    }

    impl RefreshStore for GatedStore {
        async fn save_family(&self, family: RefreshFamily) -> StoreResult<()> {
            self.inner.save_family(family).await
        }
        async fn family(&self, grant: &GrantId) -> StoreResult<Option<RefreshFamily>> {
            self.inner.family(grant).await
        }
        async fn commit_rotation(
            &self,
            expected_current: &SecretDigest,
            family: RefreshFamily,
        ) -> StoreResult<bool> {
            self.inner.commit_rotation(expected_current, family).await
        }
        async fn purge_families(&self, now: DateTime<Utc>) -> StoreResult<u64> {
            self.inner.purge_families(now).await
        }
        async fn families_of(
            &self,
            user: &UserId,
            app: &ClientId,
        ) -> StoreResult<Vec<RefreshFamily>> {
            self.inner.families_of(user, app).await
        }
    }

    impl RevocationStore for GatedStore {
        async fn revoke_grant(&self, grant: &GrantId, at: DateTime<Utc>) -> StoreResult<()> {
            self.inner.revoke_grant(grant, at).await
        }
        async fn is_revoked(&self, grant: &GrantId) -> StoreResult<bool> {
            self.inner.is_revoked(grant).await
        }
        async fn purge_revocations(&self, revoked_before: DateTime<Utc>) -> StoreResult<u64> {
            self.inner.purge_revocations(revoked_before).await
        }
    }

    impl KeyStore for GatedStore {
        async fn signing_keys(&self) -> StoreResult<Vec<appgrant::token::StoredKey>> {
            self.inner.signing_keys().await
        }
        async fn add_signing_key(&self, key: appgrant::token::StoredKey) -> StoreResult<bool> {
            self.inner.add_signing_key(key).await
        }
        async fn delete_signing_key(&self, kid: &str) -> StoreResult<()> {
            self.inner.delete_signing_key(kid).await
        }
    }

    impl appgrant::store::ReplayStore for GatedStore {
        async fn first_use(
            &self,
            digest: &appgrant::model::SecretDigest,
            until: DateTime<Utc>,
        ) -> StoreResult<bool> {
            self.inner.first_use(digest, until).await
        }
        async fn purge_used(&self, now: DateTime<Utc>) -> StoreResult<u64> {
            self.inner.purge_used(now).await
        }
    }

    impl ConsentStore for GatedStore {
        async fn save_consent(
            &self,
            user: &UserId,
            app: &ClientId,
            at: DateTime<Utc>,
        ) -> StoreResult<()> {
            self.inner.save_consent(user, app, at).await
        }
        async fn consent(
            &self,
            user: &UserId,
            app: &ClientId,
        ) -> StoreResult<Option<DateTime<Utc>>> {
            self.inner.consent(user, app).await
        }
        async fn consents_of(&self, user: &UserId) -> StoreResult<Vec<(ClientId, DateTime<Utc>)>> {
            self.inner.consents_of(user).await
        }
        async fn forget_consent(&self, user: &UserId, app: &ClientId) -> StoreResult<()> {
            self.inner.forget_consent(user, app).await
        }
    }
}

#[tokio::test]
async fn a_manifest_published_during_an_uninstall_does_not_undo_it() {
    let store = gated::GatedStore::default();
    let gate = store.gate.clone();
    // Only the OAuth state goes through the gate; the directory is the memory store's own.
    let world = Seeded::over(store.clone(), store.inner.clone()).await;
    let tokens = world.jane_tokens().await;
    world
        .server
        .approve_installation(
            &world.acme,
            &world.app.client_id,
            &world.jane,
            projects(&[&world.tower]),
        )
        .await
        .unwrap();
    assert!(
        world
            .server
            .decide(tokens.access_token.expose(), &read_tower())
            .await
            .unwrap()
            .is_allowed()
    );

    // The developer publishes a manifest asking for more (any publish that reaches this
    // installation will do); it has read the installations when the admin uninstalls.
    gate.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let publishing = tokio::spawn({
        let (server, app) = (world.server.clone(), world.app.client_id.clone());
        async move {
            let more = Manifest::new(0)
                .company_tool("directory", Level::Admin)
                .project_tool("rfis", Level::Admin);
            server.publish_manifest(&app, more).await
        }
    });
    gate.reached.notified().await;
    world.clock.advance(TimeDelta::seconds(1));
    let uninstalled = world
        .server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    assert_eq!(uninstalled.status, InstallationStatus::Uninstalled);
    gate.release.notify_one();
    publishing.await.unwrap().unwrap();

    let now = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await
        .unwrap();
    assert_eq!(
        now.status,
        InstallationStatus::Uninstalled,
        "the admin's uninstall was overwritten by the publish's stale copy"
    );
    assert!(
        !world
            .server
            .decide(tokens.access_token.expose(), &read_tower())
            .await
            .unwrap()
            .is_allowed(),
        "a token granted before the uninstall works again"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The admin approves whatever manifest is newest, not the one the request is waiting on
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn approval_grants_only_the_manifest_the_request_is_waiting_on() {
    let world = support::world().await;
    let requested = world
        .server
        .request_installation(&world.acme, &world.app.client_id, &world.john)
        .await
        .unwrap();
    assert_eq!(requested.pending_manifest, Some(1));
    // The admin reviews v1 (directory ReadOnly, rfis Standard). Meanwhile the developer
    // publishes v2 asking for Admin on the company directory.
    let v2 = Manifest::new(0)
        .company_tool("directory", Level::Admin)
        .project_tool("rfis", Level::Standard);
    world
        .server
        .publish_manifest(&world.app.client_id, v2)
        .await
        .unwrap();
    let still = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await
        .unwrap();
    assert_eq!(
        still.pending_manifest,
        Some(1),
        "the request still names v1"
    );

    let approved = world
        .server
        .approve_installation(
            &world.acme,
            &world.app.client_id,
            &world.jane,
            projects(&[&world.tower]),
        )
        .await;
    if let Ok(installation) = approved {
        let account = installation.service_account.unwrap();
        assert_eq!(
            account.approved.version, 1,
            "the admin approved v1 but the service account got v{}",
            account.approved.version
        );
        let token = world.service_token(Some(&world.acme)).await;
        assert!(
            !world
                .allowed(&token, &Requirement::new("acme", "directory", Level::Admin))
                .await,
            "the service account is a directory admin nobody approved"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Introspection and token info ignore uninstall and deactivation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn introspection_of_a_company_bound_token_is_inactive_after_an_uninstall() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(Some(&world.acme)).await;
    world.clock.advance(TimeDelta::seconds(1));
    world
        .server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    assert_eq!(
        deny_reason(&world, &token, &read_tower()).await,
        Some(DenyReason::AppUninstalled)
    );
    let answer = world
        .server
        .introspect(&world.client(), token.access_token.expose())
        .await
        .unwrap();
    assert!(
        !answer.active,
        "introspection reports the token of an uninstalled app active: {answer:?}"
    );
}

#[tokio::test]
async fn token_info_fails_for_a_company_bound_token_after_an_uninstall() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(Some(&world.acme)).await;
    world.clock.advance(TimeDelta::seconds(1));
    world
        .server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    let info = world.server.token_info(token.access_token.expose()).await;
    assert!(
        info.is_err(),
        "token info for the token of an uninstalled app: {info:?}"
    );
}

#[tokio::test]
async fn introspection_of_a_deactivated_users_tokens_is_inactive() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.john).await;
    world.server.deactivate_user(&world.john).await.unwrap();
    assert_eq!(
        deny_reason(&world, &tokens, &read_tower()).await,
        Some(DenyReason::UserDeactivated)
    );
    let access = world
        .server
        .introspect(&world.client(), tokens.access_token.expose())
        .await
        .unwrap();
    assert!(!access.active, "access token: {access:?}");
    let refresh = world
        .server
        .introspect(
            &world.client(),
            tokens.refresh_token.as_ref().unwrap().expose(),
        )
        .await
        .unwrap();
    assert!(!refresh.active, "refresh token: {refresh:?}");
}

#[tokio::test]
async fn an_app_cannot_introspect_another_apps_tokens() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.john).await;
    let other = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap();
    let other = ClientAuthentication::Basic {
        client_id: other.app.client_id,
        secret: other.client_secret.unwrap(),
    };
    for token in [
        tokens.access_token.expose(),
        tokens.refresh_token.as_ref().unwrap().expose(),
    ] {
        let answer = world.server.introspect(&other, token).await.unwrap();
        assert!(
            !answer.active,
            "another app learns about FieldSync's token: {answer:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A code issued before an uninstall works after a reinstall
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_code_from_before_an_uninstall_gives_no_access_after_a_reinstall() {
    let world = support::world().await;
    // John's consent installs FieldSync in Acme for user access; he gets a code.
    let code = world.code_for(&world.john).await;
    world.clock.advance(TimeDelta::seconds(1));
    world
        .server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    world.clock.advance(TimeDelta::seconds(1));
    world.install_service_account(&[&world.tower]).await;
    world.clock.advance(TimeDelta::seconds(1));
    let tokens = world
        .server
        .token(world.exchange_request(code), &world.client())
        .await
        .unwrap();
    assert_eq!(
        deny_reason(&world, &tokens, &read_tower()).await,
        Some(DenyReason::GrantedBeforeUninstall),
        "an authorization given before the uninstall works after the reinstall"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Every refresh added a digest that was kept for the family's whole (unbounded) life
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn refreshing_does_not_grow_the_store_without_bound() {
    use sqlx::Row;
    let path = std::env::temp_dir().join(format!(
        "appgrant-security-review-{}-{}.db",
        std::process::id(),
        rand_suffix()
    ));
    let url = format!("sqlite://{}", path.display());
    let store = appgrant::store::SqlStore::connect(&url).await.unwrap();
    let world = Seeded::on(store).await;
    let mut tokens = world.jane_tokens().await;
    for _ in 0..50 {
        world.clock.advance(TimeDelta::seconds(1));
        let request = TokenRequest::RefreshToken {
            refresh_token: tokens.refresh_token.clone().unwrap(),
            scope: None,
            resource: None,
        };
        tokens = world.server.token(request, &world.client()).await.unwrap();
    }
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&format!("{url}?mode=rw"))
        .await
        .unwrap();
    let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM appgrant_families")
        .fetch_one(&raw)
        .await
        .unwrap()
        .get("n");
    raw.close().await;
    drop(world);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    assert_eq!(
        rows, 1,
        "one refresh family holds {rows} rows after 50 rotations"
    );
}

#[cfg(feature = "sqlite")]
fn rand_suffix() -> u64 {
    use rand::RngCore;
    rand::thread_rng().next_u64()
}

// ---------------------------------------------------------------------------------------------
// HTTP: remembered consent, and the demo's sign-in and admin pages
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "axum")]
mod http {
    use super::header_sign_in::HeaderSignIn;
    use super::*;
    use crate::http_support::demo::REDIRECT_URI;
    use crate::http_support::*;
    use appgrant::http::HttpOptions;
    use reqwest::StatusCode;
    use reqwest::header;

    fn authorize_url(base: &str, client_id: &str, verifier: &str, state: &str) -> String {
        let mut url = url::Url::parse(&format!("{base}/oauth/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("state", state)
            .append_pair(
                "code_challenge",
                &appgrant::grant::pkce::challenge_of(verifier),
            )
            .append_pair("code_challenge_method", "S256");
        url.into()
    }

    #[tokio::test]
    async fn remembered_consent_does_not_auto_approve_a_public_client() {
        let running = start().await;
        let mobile = running.app("FieldSync Mobile").clone();
        let john = Browser::new(&running);
        let user = running.user("john");
        john.sign_in(&user.username, &user.password).await;

        // John authorizes the real mobile app once.
        let first = authorize_url(&running.base, &mobile.client_id, &"a".repeat(43), "real");
        let page = john.open(&first).await;
        assert_eq!(page.status(), StatusCode::OK);
        let answer = john
            .answer_consent(&page.text().await.unwrap(), "allow")
            .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);

        // Later, any page John visits sends him to a request the attacker made, with the
        // attacker's own PKCE challenge: the code goes to the loopback port without a prompt.
        let attack = authorize_url(&running.base, &mobile.client_id, &"e".repeat(43), "evil");
        let response = john.open(&attack).await;
        let location = redirect_target(&response);
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "a code was issued for a public client with no user interaction: {location:?}"
        );
    }

    #[tokio::test]
    async fn consent_given_in_one_company_does_not_silently_install_in_another() {
        let world = support::world().await;
        let globex = CompanyId::new("globex");
        let mut company = Company::new("globex", "Globex")
            .with_project("tower", "Tower")
            .with_project("depot", "Depot");
        company.settings.consent_install = ConsentInstall::ForUserAccess;
        world.server.save_company(company).await.unwrap();
        world
            .server
            .set_membership(
                &globex,
                &world.jane,
                Permissions::none().with(Scope::Company, "budget", Level::Admin),
            )
            .await
            .unwrap();
        // Jane authorizes FieldSync while working in Acme.
        world.code_for(&world.jane).await;

        let router =
            appgrant::http::router(world.server.clone(), HeaderSignIn, HttpOptions::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

        // Signed in to Globex, she is sent (by any site) to an authorization request.
        let mut url = url::Url::parse(&format!("{base}/oauth/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", world.app.client_id.as_str())
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("code_challenge", &support::challenge())
            .append_pair("code_challenge_method", "S256");
        let response = client()
            .get(url.as_str())
            .header("x-user", "jane")
            .header("x-company", "globex")
            .send()
            .await
            .unwrap();
        let installed = world
            .server
            .installation(&globex, &world.app.client_id)
            .await
            .ok()
            .map(|installation| installation.status);
        assert_eq!(
            installed, None,
            "FieldSync was installed in Globex without Jane seeing a consent page there"
        );
        // Remembered consent may still skip the page, but the code it gives works nowhere the
        // app is not installed.
        assert!(response.status() == StatusCode::OK || response.status() == StatusCode::SEE_OTHER);
    }

    #[tokio::test]
    async fn the_consent_pages_csp_lets_the_decision_reach_the_client() {
        let running = start().await;
        let mobile = running.app("FieldSync Mobile").clone();
        let john = Browser::new(&running);
        let user = running.user("john");
        john.sign_in(&user.username, &user.password).await;
        let url = authorize_url(&running.base, &mobile.client_id, &"a".repeat(43), "s");
        let page = john.open(&url).await;
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let form_action = csp
            .split(';')
            .map(str::trim)
            .find(|directive| directive.starts_with("form-action"));
        if let Some(directive) = form_action {
            assert!(
                directive.contains("http://127.0.0.1:8765") || directive.contains('*'),
                "the consent form may post only to 'self', so the redirect to {REDIRECT_URI} \
                 it answers with is blocked: {csp}"
            );
        }
    }

    /// FieldSync's installation in Acme, straight from the store (`None`: nobody asked).
    async fn fieldsync_status(running: &Running) -> Option<InstallationStatus> {
        let app = ClientId::new(running.fieldsync().client_id.as_str());
        running
            .server
            .installation(&CompanyId::new("acme"), &app)
            .await
            .ok()
            .map(|installation| installation.status)
    }

    #[tokio::test]
    async fn demo_admin_forms_refuse_cross_origin_posts() {
        let running = start().await;
        let jane = Browser::signed_in(&running, "jane").await;
        let fieldsync = running.fieldsync().client_id.clone();
        // Another site's page, posting with Jane's cookie.
        let from_the_client = |path: &str| {
            jane.http
                .post(running.url(path))
                .header(header::ORIGIN, "http://127.0.0.1:8765")
                .header(header::REFERER, "http://127.0.0.1:8765/callback")
                .header("sec-fetch-site", "cross-site")
                .header(header::CONTENT_TYPE, "text/plain")
        };
        // The demo's own install request...
        let asked = from_the_client(&format!("/apps/{fieldsync}/request-install"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            fieldsync_status(&running).await,
            None,
            "a cross-origin form asked for the install in Jane's name (response {})",
            asked.status()
        );
        assert_eq!(asked.status(), StatusCode::FORBIDDEN);
        // ...and the library's admin forms it mounts, which cannot know the form's token.
        assert_eq!(jane.request_install(&fieldsync).await.status(), 200);
        let revision = jane.reviewed_revision(&fieldsync).await;
        let approve = format!("{}/approve", admin_app_path(&fieldsync));
        let response = from_the_client(&approve)
            .body(format!("revision={revision}&project=tower&project=depot"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            fieldsync_status(&running).await,
            Some(InstallationStatus::Requested),
            "a cross-origin form installed the app (response {})",
            response.status()
        );
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        // Nor the same decision as JSON, which the browser says another site sent.
        let json = serde_json::json!({ "revision": revision, "projects": ["tower", "depot"] });
        let response = jane
            .http
            .post(running.url(&format!("{}/approve", admin_api_path(&fieldsync))))
            .header("sec-fetch-site", "cross-site")
            .json(&json)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            fieldsync_status(&running).await,
            Some(InstallationStatus::Requested)
        );
    }

    #[tokio::test]
    async fn demo_sign_in_never_redirects_off_site() {
        let running = start().await;
        let user = running.user("jane");
        let response = client()
            .post(running.url("/login"))
            .form(&[
                ("username", user.username.as_str()),
                ("password", user.password.as_str()),
                ("return_to", "/\t/evil.example/phish"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = redirect_target(&response).unwrap();
        // How a browser resolves the Location header (the WHATWG URL parser drops tabs).
        let resolved = url::Url::parse(&running.base)
            .unwrap()
            .join(&location)
            .unwrap();
        assert_eq!(
            resolved.host_str(),
            Some("127.0.0.1"),
            "sign-in sends the browser to {resolved} (Location {location:?})"
        );
    }
}
