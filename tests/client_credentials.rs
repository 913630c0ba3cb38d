//! The client-credentials grant: an app acting as its own service account, bound to one
//! company or naming the company at each access, never with more than an admin approved.

mod support;

use appgrant::DenyReason;
use appgrant::grant::{
    AppRegistration, ClientAuthentication, ErrorCode, TokenError, TokenRequest, TokenResponse,
};
use appgrant::model::*;
use appgrant::token::Secret;
use chrono::TimeDelta;
use std::collections::BTreeSet;
use support::World;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A second company, Globex, that also uses the app: Gina is its directory admin.
struct Globex {
    id: CompanyId,
    gina: UserId,
    plant: ProjectId,
}

async fn globex(world: &World) -> Globex {
    let globex = Globex {
        id: CompanyId::new("globex"),
        gina: UserId::new("gina"),
        plant: ProjectId::new("plant"),
    };
    let server = &world.server;
    server
        .save_company(Company::new("globex", "Globex").with_project("plant", "Plant"))
        .await
        .unwrap();
    server
        .save_user(User::person("gina", "Gina"))
        .await
        .unwrap();
    let admin = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    server
        .set_membership(&globex.id, &globex.gina, admin)
        .await
        .unwrap();
    globex
}

impl Globex {
    async fn install(&self, world: &World) -> Installation {
        let app = &world.app.client_id;
        world
            .server
            .request_installation(&self.id, app, &self.gina)
            .await
            .unwrap();
        world
            .server
            .approve_installation(
                &self.id,
                app,
                &self.gina,
                BTreeSet::from([self.plant.clone()]),
            )
            .await
            .unwrap()
    }

    fn write_plant(&self) -> Requirement {
        Requirement::new(self.id.clone(), "rfis", Level::Standard).on_project(self.plant.clone())
    }
}

fn write_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::Standard).on_project("tower")
}

fn write_depot() -> Requirement {
    Requirement::new("acme", "rfis", Level::Standard).on_project("depot")
}

fn admin_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::Admin).on_project("tower")
}

async fn client_credentials(
    world: &World,
    credentials: &ClientAuthentication,
    company: Option<&CompanyId>,
) -> Result<TokenResponse, TokenError> {
    let request = TokenRequest::ClientCredentials {
        company_id: company.cloned(),
        scope: None,
        resource: None,
    };
    world.server.token(request, credentials).await
}

async fn denied_because(
    world: &World,
    token: &TokenResponse,
    requirement: &Requirement,
) -> Option<DenyReason> {
    world
        .server
        .decide(token.access_token.expose(), requirement)
        .await
        .unwrap()
        .deny_reason()
        .cloned()
}

async fn register(world: &World, registration: AppRegistration) -> (App, Option<Secret>) {
    let registered = world.server.register_app(registration).await.unwrap();
    (registered.app, registered.client_secret)
}

fn service_account_of(installation: &Installation) -> UserId {
    installation.service_account.as_ref().unwrap().user.clone()
}

// ---------------------------------------------------------------------------------------------
// Who may use the grant
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_confidential_service_account_app_gets_a_bearer_token_and_no_refresh_token() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = client_credentials(&world, &world.client(), None)
        .await
        .unwrap();
    assert_eq!(token.token_type, "bearer");
    assert_eq!(token.expires_in, 5400);
    assert_eq!(token.created_at, world.server.now().timestamp());
    assert!(token.refresh_token.is_none());
    assert!(world.allowed(&token, &write_tower()).await);
}

#[tokio::test]
async fn the_secret_may_also_be_sent_in_the_request_body() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let post = ClientAuthentication::Post {
        client_id: world.app.client_id.clone(),
        secret: world.secret.clone(),
    };
    let token = client_credentials(&world, &post, None).await.unwrap();
    assert!(world.allowed(&token, &write_tower()).await);
}

#[tokio::test]
async fn a_public_client_is_refused_unauthorized_client() {
    let world = support::world().await;
    let (app, secret) = register(
        &world,
        AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            name: "Pocket".into(),
            client_type: ClientType::Public,
            redirect_uris: vec![support::REDIRECT.into()],
            flows: AppFlows::UserDelegated,
            manifest: None,
            ceiling: None,
            profile: Default::default(),
            owner: None,
            security: Default::default(),
        },
    )
    .await;
    assert!(secret.is_none());
    let public = ClientAuthentication::Public {
        client_id: app.client_id,
    };
    let error = client_credentials(&world, &public, None).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::UnauthorizedClient, "{error}");
}

#[tokio::test]
async fn a_user_delegated_only_app_is_refused_unauthorized_client() {
    let world = support::world().await;
    let (app, secret) = register(
        &world,
        AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            flows: AppFlows::UserDelegated,
            manifest: None,
            ..support::both_flows_app()
        },
    )
    .await;
    let credentials = ClientAuthentication::Basic {
        client_id: app.client_id,
        secret: secret.unwrap(),
    };
    for company in [None, Some(&world.acme)] {
        let error = client_credentials(&world, &credentials, company)
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::UnauthorizedClient, "{error}");
    }
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let wrong = ClientAuthentication::Basic {
        client_id: world.app.client_id.clone(),
        secret: Secret::new("not-the-secret"),
    };
    let error = client_credentials(&world, &wrong, None).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidClient, "{error}");
}

#[tokio::test]
async fn another_apps_secret_is_invalid_client() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let (_, other_secret) = register(&world, support::both_flows_app()).await;
    let borrowed = ClientAuthentication::Basic {
        client_id: world.app.client_id.clone(),
        secret: other_secret.unwrap(),
    };
    let error = client_credentials(&world, &borrowed, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidClient, "{error}");
}

#[tokio::test]
async fn a_confidential_client_without_its_secret_is_invalid_client() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let bare = ClientAuthentication::Public {
        client_id: world.app.client_id.clone(),
    };
    let error = client_credentials(&world, &bare, None).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidClient, "{error}");
}

#[tokio::test]
async fn an_unknown_client_is_invalid_client() {
    let world = support::world().await;
    let stranger = ClientAuthentication::Basic {
        client_id: ClientId::new("no-such-app"),
        secret: world.secret.clone(),
    };
    let error = client_credentials(&world, &stranger, None)
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidClient, "{error}");
}

// ---------------------------------------------------------------------------------------------
// Bound to a company
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_bound_to_a_company_works_there() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let bound = world.service_token(Some(&world.acme)).await;
    assert!(world.allowed(&bound, &write_tower()).await);
}

#[tokio::test]
async fn a_bound_token_names_its_company() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let bound = world.service_token(Some(&world.acme)).await;
    let info = world
        .server
        .token_info(bound.access_token.expose())
        .await
        .unwrap();
    assert_eq!(info.company_id, Some(world.acme.clone()));
    assert_eq!(info.resource_owner_id, None);
}

#[tokio::test]
async fn a_bound_token_is_denied_wrong_company_in_another_company_that_installed_the_app() {
    let world = support::world().await;
    let globex = globex(&world).await;
    world.install_service_account(&[&world.tower]).await;
    globex.install(&world).await;
    let bound = world.service_token(Some(&world.acme)).await;
    assert_eq!(
        denied_because(&world, &bound, &globex.write_plant()).await,
        Some(DenyReason::WrongCompany)
    );
    let globex_token = world.service_token(Some(&globex.id)).await;
    assert!(world.allowed(&globex_token, &globex.write_plant()).await);
    assert_eq!(
        denied_because(&world, &globex_token, &write_tower()).await,
        Some(DenyReason::WrongCompany)
    );
}

async fn refused_binding(world: &World, company: &CompanyId) -> ErrorCode {
    client_credentials(world, &world.client(), Some(company))
        .await
        .unwrap_err()
        .code()
}

#[tokio::test]
async fn a_bound_token_is_refused_for_a_company_that_never_installed_the_app() {
    let world = support::world().await;
    assert_eq!(
        refused_binding(&world, &world.acme).await,
        ErrorCode::UnauthorizedClient
    );
}

#[tokio::test]
async fn a_bound_token_is_refused_while_the_install_waits_for_an_admin() {
    let world = support::world().await;
    world
        .server
        .request_installation(&world.acme, &world.app.client_id, &world.john)
        .await
        .unwrap();
    assert_eq!(
        refused_binding(&world, &world.acme).await,
        ErrorCode::UnauthorizedClient
    );
}

#[tokio::test]
async fn a_bound_token_is_refused_where_a_users_consent_installed_the_app_for_user_access_only() {
    let world = support::world().await;
    world.tokens_for(&world.john).await;
    assert!(
        world
            .server
            .installation(&world.acme, &world.app.client_id)
            .await
            .unwrap()
            .is_active()
    );
    assert_eq!(
        refused_binding(&world, &world.acme).await,
        ErrorCode::UnauthorizedClient
    );
}

#[tokio::test]
async fn a_bound_token_is_refused_after_the_app_was_uninstalled() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    world
        .server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    assert_eq!(
        refused_binding(&world, &world.acme).await,
        ErrorCode::UnauthorizedClient
    );
}

#[tokio::test]
async fn a_bound_token_is_refused_for_a_company_where_only_another_company_approved() {
    let world = support::world().await;
    let globex = globex(&world).await;
    globex.install(&world).await;
    assert_eq!(
        refused_binding(&world, &world.acme).await,
        ErrorCode::UnauthorizedClient
    );
}

// ---------------------------------------------------------------------------------------------
// Unbound: the company is named at each access
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unbound_token_works_in_every_company_that_installed_the_app() {
    let world = support::world().await;
    let globex = globex(&world).await;
    world.install_service_account(&[&world.tower]).await;
    globex.install(&world).await;
    let unbound = world.service_token(None).await;
    assert!(world.allowed(&unbound, &write_tower()).await);
    assert!(world.allowed(&unbound, &globex.write_plant()).await);
}

#[tokio::test]
async fn an_unbound_token_acts_as_each_companys_own_service_account() {
    let world = support::world().await;
    let globex = globex(&world).await;
    world.install_service_account(&[&world.tower]).await;
    let in_globex = service_account_of(&globex.install(&world).await);
    let unbound = world.service_token(None).await;
    // Globex's admin cuts its own service account down; Acme's is untouched.
    let read_only = Permissions::none().with(
        Scope::Project(globex.plant.clone()),
        "rfis",
        Level::ReadOnly,
    );
    world
        .server
        .set_membership(&globex.id, &in_globex, read_only)
        .await
        .unwrap();
    assert_eq!(
        denied_because(&world, &unbound, &globex.write_plant()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::ReadOnly,
            need: Level::Standard
        })
    );
    assert!(world.allowed(&unbound, &write_tower()).await);
}

#[tokio::test]
async fn an_unbound_token_is_denied_app_not_installed_in_a_company_that_has_not_installed_it() {
    let world = support::world().await;
    let globex = globex(&world).await;
    world.install_service_account(&[&world.tower]).await;
    let unbound = world.service_token(None).await;
    assert_eq!(
        denied_because(&world, &unbound, &globex.write_plant()).await,
        Some(DenyReason::AppNotInstalled)
    );
}

#[tokio::test]
async fn uninstalling_in_one_company_leaves_the_unbound_token_working_in_the_others() {
    let world = support::world().await;
    let globex = globex(&world).await;
    world.install_service_account(&[&world.tower]).await;
    globex.install(&world).await;
    let unbound = world.service_token(None).await;
    world
        .server
        .uninstall(&globex.id, &world.app.client_id, &globex.gina)
        .await
        .unwrap();
    assert_eq!(
        denied_because(&world, &unbound, &globex.write_plant()).await,
        Some(DenyReason::AppUninstalled)
    );
    assert!(world.allowed(&unbound, &write_tower()).await);
}

#[tokio::test]
async fn an_unbound_token_works_in_a_company_that_installs_the_app_after_it_was_issued() {
    let world = support::world().await;
    let globex = globex(&world).await;
    world.install_service_account(&[&world.tower]).await;
    let unbound = world.service_token(None).await;
    world.clock.advance(TimeDelta::minutes(5));
    globex.install(&world).await;
    assert_eq!(
        denied_because(&world, &unbound, &globex.write_plant()).await,
        None
    );
}

// ---------------------------------------------------------------------------------------------
// What the service account may do
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_service_token_reaches_permitted_projects_only() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    for token in [
        world.service_token(None).await,
        world.service_token(Some(&world.acme)).await,
    ] {
        assert!(world.allowed(&token, &write_tower()).await);
        assert_eq!(
            denied_because(&world, &token, &write_depot()).await,
            Some(DenyReason::ProjectNotPermitted)
        );
    }
}

#[tokio::test]
async fn a_service_token_never_exceeds_the_approved_manifest() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(None).await;
    assert_eq!(
        denied_because(&world, &token, &admin_tower()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::Standard,
            need: Level::Admin
        })
    );
    let write_directory = Requirement::new("acme", "directory", Level::Standard);
    assert_eq!(
        denied_because(&world, &token, &write_directory).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::ReadOnly,
            need: Level::Standard
        })
    );
    let budget = Requirement::new("acme", "budget", Level::ReadOnly);
    assert_eq!(
        denied_because(&world, &token, &budget).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::None,
            need: Level::ReadOnly
        })
    );
}

#[tokio::test]
async fn raising_the_service_accounts_directory_permissions_by_hand_does_not_raise_its_tokens() {
    let world = support::world().await;
    let account = service_account_of(&world.install_service_account(&[&world.tower]).await);
    let everything = Permissions::none()
        .with(Scope::Company, "directory", Level::Admin)
        .with(Scope::Company, "budget", Level::Admin)
        .with(Scope::Project(world.tower.clone()), "rfis", Level::Admin)
        .with(Scope::Project(world.depot.clone()), "rfis", Level::Admin);
    world
        .server
        .set_membership(&world.acme, &account, everything)
        .await
        .unwrap();
    let token = world.service_token(Some(&world.acme)).await;
    assert_eq!(
        denied_because(&world, &token, &admin_tower()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::Standard,
            need: Level::Admin
        })
    );
    assert_eq!(
        denied_because(&world, &token, &write_depot()).await,
        Some(DenyReason::ProjectNotPermitted)
    );
    let admin_directory = Requirement::new("acme", "directory", Level::Admin);
    assert_eq!(
        denied_because(&world, &token, &admin_directory).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::ReadOnly,
            need: Level::Admin
        })
    );
    let budget = Requirement::new("acme", "budget", Level::ReadOnly);
    assert_eq!(
        denied_because(&world, &token, &budget).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::None,
            need: Level::ReadOnly
        })
    );
}

#[tokio::test]
async fn a_service_token_follows_the_service_accounts_current_directory_permissions() {
    let world = support::world().await;
    let account = service_account_of(&world.install_service_account(&[&world.tower]).await);
    let token = world.service_token(None).await;
    assert!(world.allowed(&token, &write_tower()).await);
    world
        .server
        .set_permission(
            &world.acme,
            &account,
            Scope::Project(world.tower.clone()),
            "rfis",
            Level::ReadOnly,
        )
        .await
        .unwrap();
    assert_eq!(
        denied_because(&world, &token, &write_tower()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::ReadOnly,
            need: Level::Standard
        })
    );
}

#[tokio::test]
async fn a_deactivated_service_account_cannot_act() {
    let world = support::world().await;
    let account = service_account_of(&world.install_service_account(&[&world.tower]).await);
    let token = world.service_token(None).await;
    world.server.deactivate_user(&account).await.unwrap();
    assert_eq!(
        denied_because(&world, &token, &write_tower()).await,
        Some(DenyReason::UserDeactivated)
    );
}

#[tokio::test]
async fn an_unbound_token_names_no_person_and_no_company() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(None).await;
    let info = world
        .server
        .token_info(token.access_token.expose())
        .await
        .unwrap();
    assert_eq!(info.resource_owner_id, None);
    assert_eq!(info.company_id, None);
}
