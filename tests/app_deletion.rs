//! Deleting an app: uninstalled from every company first (every token of it stops at the next
//! decision, every service account deactivated), then the record goes (the token endpoint
//! refuses its client); a deletion the directory interrupted is finished by deleting again.

#[macro_use]
mod store_forwarding;
mod support;

use appgrant::audit::{AuditAction, AuditActor};
use appgrant::grant::{AuthorizeError, ErrorPage, TokenError, TokenRequest};
use appgrant::model::*;
use appgrant::server::ServerError;
use appgrant::store::{
    AppStore, Directory, DirectoryStore, InstallationStore, ServiceAccount, StoreError, StoreResult,
};
use appgrant::{AuthorizationServer, Config, DenyReason, MemoryStore};
use chrono::{TimeDelta, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use support::World;

fn tower_rfis() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

async fn denial(world: &World, token: &str, requirement: &Requirement) -> Option<DenyReason> {
    let decision = world.server.decide(token, requirement).await.unwrap();
    decision.deny_reason().cloned()
}

/// Globex, with Gina its directory admin.
async fn globex(world: &World) -> (CompanyId, UserId) {
    let (globex, gina) = (CompanyId::new("globex"), UserId::new("gina"));
    let company = Company::new("globex", "Globex").with_project("plant", "Plant");
    world.server.save_company(company).await.unwrap();
    world
        .server
        .save_user(User::person("gina", "Gina"))
        .await
        .unwrap();
    let admin = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    world
        .server
        .set_membership(&globex, &gina, admin)
        .await
        .unwrap();
    (globex, gina)
}

async fn approve_in(world: &World, company: &CompanyId, admin: &UserId, project: &str) {
    let app = &world.app.client_id;
    world
        .server
        .request_installation(company, app, admin)
        .await
        .unwrap();
    let projects = BTreeSet::from([ProjectId::new(project)]);
    world
        .server
        .approve_installation(company, app, admin, projects)
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_an_app_stops_every_token_at_the_next_decision_and_refuses_its_client() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let user_tokens = world.tokens_for(&world.john).await;
    let bound = world.service_token(Some(&world.acme)).await;
    let unbound = world.service_token(None).await;
    let unspent_code = world.code_for(&world.john).await;
    let tokens = [&user_tokens, &bound, &unbound];
    for token in tokens {
        assert!(world.allowed(token, &tower_rfis()).await, "allowed before");
    }

    world.clock.advance(TimeDelta::seconds(1));
    world.server.delete_app(&world.app.client_id).await.unwrap();

    for token in tokens {
        let reason = denial(&world, token.access_token.expose(), &tower_rfis()).await;
        assert!(
            matches!(
                reason,
                Some(DenyReason::AppUninstalled | DenyReason::GrantedBeforeUninstall)
            ),
            "a token of the deleted app: {reason:?}"
        );
        assert!(
            world
                .server
                .token_info(token.access_token.expose())
                .await
                .is_err(),
            "token info still describes a token of the deleted app"
        );
    }
    // The token endpoint no longer knows the client, whatever it asks for.
    let refresh_token = user_tokens.refresh_token.clone().unwrap();
    let requests = [
        TokenRequest::ClientCredentials {
            company_id: None,
            scope: None,
            resource: None,
        },
        TokenRequest::RefreshToken {
            refresh_token,
            scope: None,
            resource: None,
        },
        world.exchange_request(unspent_code),
    ];
    for request in requests {
        let refused = world.server.token(request, &world.client()).await;
        assert!(
            matches!(refused, Err(TokenError::InvalidClient(_))),
            "{refused:?}"
        );
    }
    let introspected = world
        .server
        .introspect(&world.client(), bound.access_token.expose())
        .await;
    assert!(
        matches!(introspected, Err(TokenError::InvalidClient(_))),
        "{introspected:?}"
    );
    assert!(matches!(
        world.server.app(&world.app.client_id).await,
        Err(ServerError::UnknownApp(_))
    ));
}

#[tokio::test]
async fn deleting_an_app_deactivates_its_service_account_in_every_company() {
    let world = support::world().await;
    let (globex, gina) = globex(&world).await;
    world.install_service_account(&[&world.tower]).await;
    approve_in(&world, &globex, &gina, "plant").await;
    let accounts: Vec<UserId> = world
        .server
        .app_installations(&world.app.client_id)
        .await
        .unwrap()
        .into_iter()
        .map(|installation| installation.service_account.unwrap().user)
        .collect();
    assert_eq!(accounts.len(), 2);

    world.server.delete_app(&world.app.client_id).await.unwrap();
    for account in &accounts {
        let user = world
            .server
            .directory()
            .user(account)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.status, UserStatus::Deactivated, "{account}");
    }
}

#[tokio::test]
async fn deleting_an_app_uninstalls_it_whatever_its_state_and_keeps_the_admins_decisions() {
    let world = support::world().await;
    let (globex, gina) = globex(&world).await;
    let initech = CompanyId::new("initech");
    world
        .server
        .save_company(Company::new("initech", "Initech"))
        .await
        .unwrap();
    world
        .server
        .set_membership(&initech, &gina, Permissions::none())
        .await
        .unwrap();
    let app = world.app.client_id.clone();
    // Acme: installed, then uninstalled by Jane an hour before. Globex: requested.
    // Initech: a request nobody decided.
    world.install_service_account(&[&world.tower]).await;
    world
        .server
        .uninstall(&world.acme, &app, &world.jane)
        .await
        .unwrap();
    let jane_uninstalled_at = world.server.now();
    world
        .server
        .request_installation(&globex, &app, &gina)
        .await
        .unwrap();
    world
        .server
        .request_installation(&initech, &app, &gina)
        .await
        .unwrap();
    world
        .server
        .deny_installation(&globex, &app, &gina)
        .await
        .unwrap();
    world.clock.advance(TimeDelta::hours(1));
    let deleted_at = world.server.now();

    let left = world.server.delete_app(&app).await.unwrap();
    let companies: Vec<&str> = left.iter().map(|i| i.company.as_str()).collect();
    assert_eq!(companies, ["acme", "globex", "initech"]);
    for installation in &left {
        assert_eq!(installation.status, InstallationStatus::Uninstalled);
        assert_eq!(installation.app_deleted_at, Some(deleted_at));
        let stored = world
            .server
            .installation(&installation.company, &app)
            .await
            .unwrap();
        assert_eq!(&stored, installation, "the store holds what was returned");
    }
    // Acme's uninstall keeps its time and its admin; the others stopped now, decided by nobody
    // new (Gina's denial stays Gina's).
    assert_eq!(left[0].uninstalled_at, Some(jane_uninstalled_at));
    assert_eq!(left[0].decided_by, Some(world.jane.clone()));
    assert_eq!(left[1].uninstalled_at, Some(deleted_at));
    assert_eq!(left[1].decided_by, Some(gina.clone()));
    assert_eq!(left[2].uninstalled_at, Some(deleted_at));
    assert_eq!(left[2].decided_by, None);
}

#[tokio::test]
async fn a_deleted_app_can_be_neither_installed_nor_authorized_again() {
    let world = support::world().await;
    world.server.delete_app(&world.app.client_id).await.unwrap();
    let refused = world
        .server
        .request_installation(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap_err();
    assert!(matches!(refused, ServerError::UnknownApp(_)), "{refused:?}");
    let refused = world
        .server
        .consent_prompt(&world.authorization_request())
        .await
        .unwrap_err();
    assert_eq!(refused, AuthorizeError::Page(ErrorPage::UnknownClient));
    assert!(world.server.apps().await.unwrap().is_empty());
}

#[tokio::test]
async fn deleting_an_unknown_app_is_refused() {
    let world = support::world().await;
    let refused = world
        .server
        .delete_app(&ClientId::new("nobody"))
        .await
        .unwrap_err();
    assert!(matches!(refused, ServerError::UnknownApp(_)), "{refused:?}");
    // Deleting twice: the second time there is nothing left to do.
    world.server.delete_app(&world.app.client_id).await.unwrap();
    let refused = world
        .server
        .delete_app(&world.app.client_id)
        .await
        .unwrap_err();
    assert!(matches!(refused, ServerError::UnknownApp(_)), "{refused:?}");
}

#[tokio::test]
async fn a_deletion_is_audited_as_the_developers_company_by_company() {
    let world = support::world().await;
    let (globex, gina) = globex(&world).await;
    world.install_service_account(&[&world.tower]).await;
    approve_in(&world, &globex, &gina, "plant").await;
    let before = world.audit.events().len();
    world.server.delete_app(&world.app.client_id).await.unwrap();
    let events = world.audit.events().split_off(before);
    let said: Vec<(AuditAction, Option<&str>)> = events
        .iter()
        .map(|event| {
            (
                event.action.clone(),
                event.company.as_ref().map(CompanyId::as_str),
            )
        })
        .collect();
    assert_eq!(
        said,
        vec![
            (AuditAction::UninstalledWithApp, Some("acme")),
            (AuditAction::UninstalledWithApp, Some("globex")),
            (AuditAction::AppDeleted, None),
        ]
    );
    for event in &events {
        assert_eq!(event.actor, AuditActor::Developer);
        assert_eq!(event.app, world.app.client_id);
    }
}

// ---------------------------------------------------------------------------------------------
// A directory that fails, and a member's consent racing the deletion
// ---------------------------------------------------------------------------------------------

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

/// Acme with Jane its admin, in `tables`; the app installed with its service account.
async fn seed<S: appgrant::store::Store, D: Directory>(
    server: &AuthorizationServer<S, D>,
    tables: &MemoryStore,
) -> (App, UserId) {
    let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
    let company = Company::new("acme", "Acme").with_project("tower", "Tower");
    tables.save_company(company).await.unwrap();
    tables
        .save_user(User::person("jane", "Jane"))
        .await
        .unwrap();
    let admin = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    tables.save_membership(&acme, &jane, admin).await.unwrap();
    let app = server
        .register_app(support::both_flows_app())
        .await
        .unwrap()
        .app;
    server
        .request_installation(&acme, &app.client_id, &jane)
        .await
        .unwrap();
    let installation = server
        .approve_installation(&acme, &app.client_id, &jane, BTreeSet::new())
        .await
        .unwrap();
    (app, installation.service_account.unwrap().user)
}

#[tokio::test]
async fn a_deletion_the_directory_interrupted_leaves_the_app_registered_and_is_finished_by_deleting_again()
 {
    let directory = FlakyDirectory::default();
    let server = AuthorizationServer::builder(MemoryStore::new(), Config::new(support::ISSUER))
        .directory(directory.clone())
        .build()
        .unwrap();
    let (app, account) = seed(&server, &directory.inner).await;
    let acme = CompanyId::new("acme");

    directory.failing.store(true, Ordering::SeqCst);
    let failed = server.delete_app(&app.client_id).await.unwrap_err();
    assert!(matches!(failed, ServerError::Store(_)), "{failed:?}");
    // The tokens stopped already (uninstalled); the app is still there to delete again.
    assert_eq!(server.app(&app.client_id).await.unwrap(), app);
    let installation = server.installation(&acme, &app.client_id).await.unwrap();
    assert_eq!(installation.status, InstallationStatus::Uninstalled);
    let user = directory.inner.user(&account).await.unwrap().unwrap();
    assert_eq!(user.status, UserStatus::Active, "the write failed");

    directory.failing.store(false, Ordering::SeqCst);
    server.delete_app(&app.client_id).await.unwrap();
    let user = directory.inner.user(&account).await.unwrap().unwrap();
    assert_eq!(user.status, UserStatus::Deactivated);
    assert!(matches!(
        server.app(&app.client_id).await,
        Err(ServerError::UnknownApp(_))
    ));
}

/// A memory store where, just before the app's record is deleted, a member's consent installs
/// the app in Globex (as `Installation::by_user_consent` would): the race a deletion must win.
#[derive(Clone, Default)]
struct ConsentDuringDeletion {
    inner: MemoryStore,
}

impl AppStore for ConsentDuringDeletion {
    async fn app(&self, id: &ClientId) -> StoreResult<Option<App>> {
        self.inner.app(id).await
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
    async fn delete_app(&self, id: &ClientId) -> StoreResult<bool> {
        if let Some(app) = self.inner.app(id).await? {
            let mut globex = Company::new("globex", "Globex");
            globex.settings.consent_install = ConsentInstall::ForUserAccess;
            let now = Utc::now();
            let consented = Installation::by_user_consent(&app, &globex, &UserId::new("gus"), now)
                .expect("Globex lets consent install");
            self.inner.insert_installation(consented).await?;
        }
        self.inner.delete_app(id).await
    }
}

forward_installation_store!(ConsentDuringDeletion, inner);

forward_code_store!(ConsentDuringDeletion, inner);

forward_refresh_store!(ConsentDuringDeletion, inner);

forward_revocation_store!(ConsentDuringDeletion, inner);

forward_consent_store!(ConsentDuringDeletion, inner);

forward_key_store!(ConsentDuringDeletion, inner);
forward_replay_store!(ConsentDuringDeletion, inner);

#[tokio::test]
async fn an_installation_a_consent_made_while_the_app_was_being_deleted_is_uninstalled_too() {
    let store = ConsentDuringDeletion::default();
    let tables = MemoryStore::new();
    let server = AuthorizationServer::builder_with_directory(
        store.clone(),
        tables.clone(),
        Config::new(support::ISSUER),
    )
    .build()
    .unwrap();
    let (app, _) = seed(&server, &tables).await;

    let left = server.delete_app(&app.client_id).await.unwrap();
    let companies: Vec<&str> = left.iter().map(|i| i.company.as_str()).collect();
    assert_eq!(companies, ["acme", "globex"]);
    let raced = store
        .inner
        .installation(&app.client_id, &CompanyId::new("globex"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        raced.status,
        InstallationStatus::Uninstalled,
        "an installation made during the deletion stayed active"
    );
}
