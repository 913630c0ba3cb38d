//! The service account in the directory follows the installation: created on approval (before
//! the installation says it exists), its permissions replaced at every change but its status
//! kept, deactivated on uninstall; a directory write that fails can be retried; and a person
//! and a service account can never act as each other.

mod support;

use appgrant::grant::{
    AuthorizationRequest, AuthorizationResponse, AuthorizeError, ClientAuthentication, ErrorCode,
    TokenRequest,
};
use appgrant::model::*;
use appgrant::server::ServerError;
use appgrant::store::{Directory, DirectoryStore, ServiceAccount, StoreError, StoreResult};
use appgrant::{AuthorizationServer, Config, DenyReason, MemoryStore};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The memory store's directory tables, whose service-account writes fail while `failing`.
#[derive(Clone, Default)]
struct FlakyDirectory {
    inner: MemoryStore,
    failing: Arc<AtomicBool>,
}

impl FlakyDirectory {
    fn up(&self) -> StoreResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("the directory is down".into()));
        }
        Ok(())
    }
}

impl Directory for FlakyDirectory {
    async fn company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        self.inner.company(id).await
    }
    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        self.inner.user(id).await
    }
    async fn membership(&self, c: &CompanyId, u: &UserId) -> StoreResult<Option<Permissions>> {
        self.inner.membership(c, u).await
    }
    async fn memberships_of(&self, u: &UserId) -> StoreResult<Vec<(CompanyId, Permissions)>> {
        self.inner.memberships_of(u).await
    }
    async fn save_service_account(&self, account: &ServiceAccount) -> StoreResult<()> {
        self.up()?;
        self.inner.save_service_account(account).await
    }
    async fn deactivate_service_account(&self, c: &CompanyId, u: &UserId) -> StoreResult<()> {
        self.up()?;
        self.inner.deactivate_service_account(c, u).await
    }
}

struct World {
    server: AuthorizationServer<MemoryStore, FlakyDirectory>,
    directory: FlakyDirectory,
    client: ClientAuthentication,
    acme: CompanyId,
    jane: UserId,
}

impl World {
    async fn new() -> Self {
        let directory = FlakyDirectory::default();
        let server = AuthorizationServer::builder(MemoryStore::new(), Config::new(support::ISSUER))
            .directory(directory.clone())
            .build()
            .unwrap();
        let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
        let tables = &directory.inner;
        let company = Company::new("acme", "Acme Construction")
            .with_project("tower", "Riverside Tower")
            .with_project("depot", "North Depot");
        tables.save_company(company).await.unwrap();
        tables
            .save_user(User::person("jane", "Jane"))
            .await
            .unwrap();
        let admin = Permissions::none()
            .with(Scope::Company, "directory", Level::Admin)
            .with(Scope::Project("tower".into()), "rfis", Level::Admin);
        tables.save_membership(&acme, &jane, admin).await.unwrap();
        let registered = server
            .register_app(support::both_flows_app())
            .await
            .unwrap();
        let client = ClientAuthentication::Basic {
            client_id: registered.app.client_id.clone(),
            secret: registered.client_secret.unwrap(),
        };
        Self {
            server,
            directory,
            client,
            acme,
            jane,
        }
    }

    fn app(&self) -> &ClientId {
        self.client.client_id()
    }

    async fn approve(&self, projects: &[&str]) -> Result<Installation, ServerError> {
        let projects: BTreeSet<ProjectId> = projects.iter().map(|p| ProjectId::new(*p)).collect();
        let (acme, app, jane) = (&self.acme, self.app(), &self.jane);
        self.server
            .approve_installation(acme, app, jane, projects)
            .await
    }

    async fn account(&self) -> UserId {
        let installation = self
            .server
            .installation(&self.acme, self.app())
            .await
            .unwrap();
        installation.service_account.unwrap().user
    }

    /// What a fresh service-account token may do: read Tower RFIs.
    async fn service_account_reads_tower(&self) -> Result<(), DenyReason> {
        let grant = TokenRequest::ClientCredentials {
            company_id: None,
            scope: None,
            resource: None,
        };
        let tokens = self.server.token(grant, &self.client).await.unwrap();
        let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
        let decision = self
            .server
            .decide(tokens.access_token.expose(), &read)
            .await
            .unwrap();
        match decision.deny_reason() {
            None => Ok(()),
            Some(reason) => Err(reason.clone()),
        }
    }
}

#[tokio::test]
async fn a_deactivated_service_account_stays_deactivated_when_what_it_holds_changes() {
    let world = World::new().await;
    world
        .server
        .request_installation(&world.acme, world.app(), &world.jane)
        .await
        .unwrap();
    world.approve(&["tower"]).await.unwrap();
    let account = world.account().await;
    world.service_account_reads_tower().await.unwrap();
    // The host suspends the account in its directory.
    let tables = &world.directory.inner;
    let mut suspended = tables.user(&account).await.unwrap().unwrap();
    suspended.status = UserStatus::Deactivated;
    tables.save_user(suspended).await.unwrap();

    // A manifest asking for no more applies by itself; projects change; neither reactivates.
    let same = support::both_flows_app().manifest.unwrap();
    let mut next = same.clone();
    next.version = 2;
    world
        .server
        .publish_manifest(world.app(), next)
        .await
        .unwrap();
    let both = BTreeSet::from([ProjectId::new("tower"), ProjectId::new("depot")]);
    world
        .server
        .set_permitted_projects(&world.acme, world.app(), &world.jane, both)
        .await
        .unwrap();
    world
        .server
        .sync_service_account(&world.acme, world.app())
        .await
        .unwrap();
    assert_eq!(
        world.service_account_reads_tower().await,
        Err(DenyReason::UserDeactivated)
    );
    let user = world.directory.inner.user(&account).await.unwrap().unwrap();
    assert_eq!(user.status, UserStatus::Deactivated);
}

#[tokio::test]
async fn an_approval_whose_directory_write_fails_changes_nothing_and_succeeds_when_retried() {
    let world = World::new().await;
    world
        .server
        .request_installation(&world.acme, world.app(), &world.jane)
        .await
        .unwrap();
    world.directory.failing.store(true, Ordering::SeqCst);
    let failed = world.approve(&["tower"]).await;
    assert!(matches!(failed, Err(ServerError::Store(_))), "{failed:?}");
    let installation = world
        .server
        .installation(&world.acme, world.app())
        .await
        .unwrap();
    assert_eq!(installation.status, InstallationStatus::Requested);
    assert!(installation.service_account.is_none());

    world.directory.failing.store(false, Ordering::SeqCst);
    world.approve(&["tower"]).await.unwrap();
    world.service_account_reads_tower().await.unwrap();
}

#[tokio::test]
async fn an_uninstall_whose_deactivation_failed_is_finished_by_uninstalling_again() {
    let world = World::new().await;
    world
        .server
        .request_installation(&world.acme, world.app(), &world.jane)
        .await
        .unwrap();
    world.approve(&["tower"]).await.unwrap();
    let account = world.account().await;
    world.directory.failing.store(true, Ordering::SeqCst);
    let failed = world
        .server
        .uninstall(&world.acme, world.app(), &world.jane)
        .await;
    assert!(matches!(failed, Err(ServerError::Store(_))), "{failed:?}");
    // The tokens stopped anyway: the installation is what decisions read first.
    assert_eq!(
        world.service_account_reads_tower().await,
        Err(DenyReason::AppUninstalled)
    );
    let user = world.directory.inner.user(&account).await.unwrap().unwrap();
    assert!(user.is_active(), "the directory's part failed");

    world.directory.failing.store(false, Ordering::SeqCst);
    world
        .server
        .uninstall(&world.acme, world.app(), &world.jane)
        .await
        .unwrap();
    let user = world.directory.inner.user(&account).await.unwrap().unwrap();
    assert_eq!(user.status, UserStatus::Deactivated);
}

#[tokio::test]
async fn a_change_whose_directory_write_failed_is_repaired_by_syncing_the_account() {
    let world = World::new().await;
    world
        .server
        .request_installation(&world.acme, world.app(), &world.jane)
        .await
        .unwrap();
    world.approve(&["tower"]).await.unwrap();
    let account = world.account().await;
    world.directory.failing.store(true, Ordering::SeqCst);
    let both = BTreeSet::from([ProjectId::new("tower"), ProjectId::new("depot")]);
    let failed = world
        .server
        .set_permitted_projects(&world.acme, world.app(), &world.jane, both)
        .await;
    assert!(matches!(failed, Err(ServerError::Store(_))), "{failed:?}");
    let sync = world
        .server
        .sync_service_account(&world.acme, world.app())
        .await;
    assert!(matches!(sync, Err(ServerError::Store(_))), "{sync:?}");

    world.directory.failing.store(false, Ordering::SeqCst);
    world
        .server
        .sync_service_account(&world.acme, world.app())
        .await
        .unwrap();
    let held = world
        .directory
        .inner
        .membership(&world.acme, &account)
        .await
        .unwrap()
        .unwrap();
    let depot = ProjectId::new("depot");
    assert_eq!(
        held.level(Some(&depot), &Tool::new("rfis")),
        Level::Standard
    );
}

#[tokio::test]
async fn a_service_account_can_never_authorize_an_app_as_if_it_were_a_person() {
    let world = World::new().await;
    world
        .server
        .request_installation(&world.acme, world.app(), &world.jane)
        .await
        .unwrap();
    world.approve(&["tower"]).await.unwrap();
    let account = world.account().await;
    let request = AuthorizationRequest {
        client_id: Some(world.app().to_string()),
        redirect_uri: Some(support::REDIRECT.into()),
        response_type: Some("code".into()),
        code_challenge: Some(support::challenge()),
        code_challenge_method: Some("S256".into()),
        ..Default::default()
    };
    let refused = world
        .server
        .approve_authorization(&request, &account, Some(&world.acme))
        .await;
    match refused {
        Err(AuthorizeError::Redirect(error)) => assert_eq!(error.error, ErrorCode::AccessDenied),
        Ok(AuthorizationResponse::Redirect(_)) => panic!("a service account got a code"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_persons_record_under_the_accounts_id_cannot_act_as_the_service_account() {
    let world = World::new().await;
    world
        .server
        .request_installation(&world.acme, world.app(), &world.jane)
        .await
        .unwrap();
    world.approve(&["tower"]).await.unwrap();
    let account = world.account().await;
    world.service_account_reads_tower().await.unwrap();
    // A host bug turns the account's row into a person's: the app's tokens stop.
    let person = User::person(account.as_str(), "Someone");
    world.directory.inner.save_user(person).await.unwrap();
    assert_eq!(
        world.service_account_reads_tower().await,
        Err(DenyReason::NotAMember)
    );
}
