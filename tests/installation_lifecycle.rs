//! An app's installation in a company: requested, approved or denied by a directory admin,
//! updated, re-scoped and uninstalled; what each step does to the directory, to access
//! decisions and to the audit log.

mod support;

use appgrant::audit::{AuditAction, AuditActor, AuditEvent, RevocationReason};
use appgrant::grant::{ErrorCode, TokenRequest, TokenResponse};
use appgrant::model::*;
use appgrant::server::ServerError;
use appgrant::token::validate;
use appgrant::{Decision, DenyReason};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeSet;
use support::World;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn projects(list: &[&ProjectId]) -> BTreeSet<ProjectId> {
    list.iter().map(|project| (*project).clone()).collect()
}

fn read_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

fn write_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::Standard).on_project("tower")
}

fn admin_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::Admin).on_project("tower")
}

fn write_depot() -> Requirement {
    Requirement::new("acme", "rfis", Level::Standard).on_project("depot")
}

fn read_directory() -> Requirement {
    Requirement::new("acme", "directory", Level::ReadOnly)
}

/// The permissions manifest v1 (directory ReadOnly, rfis Standard) gives on `projects`.
fn manifest_v1_on(list: &[&ProjectId]) -> Permissions {
    list.iter().fold(
        Permissions::none().with(Scope::Company, "directory", Level::ReadOnly),
        |permissions, project| {
            permissions.with(Scope::Project((*project).clone()), "rfis", Level::Standard)
        },
    )
}

async fn decide(world: &World, token: &TokenResponse, requirement: &Requirement) -> Decision {
    world
        .server
        .decide(token.access_token.expose(), requirement)
        .await
        .unwrap()
        .decision
}

async fn denied_because(
    world: &World,
    token: &TokenResponse,
    requirement: &Requirement,
) -> Option<DenyReason> {
    decide(world, token, requirement)
        .await
        .deny_reason()
        .cloned()
}

fn is_not_directory_admin(error: &ServerError, who: &UserId) -> bool {
    matches!(
        error,
        ServerError::Installation(InstallationError::NotDirectoryAdmin { user }) if user == who
    )
}

async fn installation(world: &World) -> Installation {
    world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await
        .unwrap()
}

async fn request(world: &World, by: &UserId) -> Installation {
    world
        .server
        .request_installation(&world.acme, &world.app.client_id, by)
        .await
        .unwrap()
}

async fn approve(
    world: &World,
    by: &UserId,
    on: &[&ProjectId],
) -> Result<Installation, ServerError> {
    world
        .server
        .approve_installation(&world.acme, &world.app.client_id, by, projects(on))
        .await
}

async fn deny(world: &World, by: &UserId) -> Result<Installation, ServerError> {
    world
        .server
        .deny_installation(&world.acme, &world.app.client_id, by)
        .await
}

async fn uninstall(world: &World, by: &UserId) -> Result<Installation, ServerError> {
    world
        .server
        .uninstall(&world.acme, &world.app.client_id, by)
        .await
}

async fn set_projects(
    world: &World,
    by: &UserId,
    on: &[&ProjectId],
) -> Result<Installation, ServerError> {
    world
        .server
        .set_permitted_projects(&world.acme, &world.app.client_id, by, projects(on))
        .await
}

async fn approve_update(world: &World, by: &UserId) -> Result<Installation, ServerError> {
    world
        .server
        .approve_manifest_update(&world.acme, &world.app.client_id, by)
        .await
}

async fn publish(world: &World, manifest: Manifest) -> u32 {
    world
        .server
        .publish_manifest(&world.app.client_id, manifest)
        .await
        .unwrap()
}

/// Manifest v1 with rfis raised to Admin on projects.
fn asks_more() -> Manifest {
    Manifest::new(2)
        .company_tool("directory", Level::ReadOnly)
        .project_tool("rfis", Level::Admin)
}

/// Manifest v1 without the directory and with rfis lowered to ReadOnly.
fn asks_less() -> Manifest {
    Manifest::new(2).project_tool("rfis", Level::ReadOnly)
}

fn service_account_of(installation: &Installation) -> UserId {
    installation.service_account.as_ref().unwrap().user.clone()
}

async fn directory_entry(world: &World, user: &UserId) -> Option<(User, Permissions)> {
    world
        .server
        .members(&world.acme)
        .await
        .unwrap()
        .into_iter()
        .find(|(member, _)| member.id == *user)
}

async fn set_consent_install(world: &World, setting: ConsentInstall) {
    let mut company = Company::new("acme", "Acme Construction")
        .with_project("tower", "Tower")
        .with_project("depot", "Depot");
    company.settings.consent_install = setting;
    world.server.save_company(company).await.unwrap();
}

async fn add_user(world: &World, id: &str, holds: Option<Permissions>) -> UserId {
    let user = UserId::new(id);
    world.server.save_user(User::person(id, id)).await.unwrap();
    if let Some(holds) = holds {
        world
            .server
            .set_membership(&world.acme, &user, holds)
            .await
            .unwrap();
    }
    user
}

async fn refresh(world: &World, token: &TokenResponse) -> TokenResponse {
    let refresh_token = token.refresh_token.clone().unwrap();
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
        .unwrap()
}

fn later(world: &World) -> DateTime<Utc> {
    world.clock.advance(TimeDelta::minutes(7));
    world.server.now()
}

// ---------------------------------------------------------------------------------------------
// Request, approve, deny
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_request_waits_for_an_admin_with_the_current_manifest_pending() {
    let world = support::world().await;
    let requested = request(&world, &world.john).await;
    assert_eq!(requested.status, InstallationStatus::Requested);
    assert_eq!(requested.requested_by, world.john);
    assert_eq!(requested.requested_at, world.server.now());
    assert_eq!(requested.pending_manifest, Some(1));
    assert_eq!(requested.service_account, None);
    assert_eq!(requested.decided_by, None);
}

#[tokio::test]
async fn any_member_may_request_but_a_read_only_member_may_not_approve() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let error = approve(&world, &world.john, &[&world.tower])
        .await
        .unwrap_err();
    assert!(is_not_directory_admin(&error, &world.john), "{error:?}");
    assert_eq!(
        installation(&world).await.status,
        InstallationStatus::Requested
    );
}

#[tokio::test]
async fn approval_records_the_approver_and_the_time() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let now = later(&world);
    let approved = approve(&world, &world.jane, &[&world.tower]).await.unwrap();
    assert_eq!(approved.status, InstallationStatus::Active);
    assert_eq!(approved.decided_by.as_ref(), Some(&world.jane));
    assert_eq!(approved.decided_at, Some(now));
    assert_eq!(approved.pending_manifest, None);
    assert_eq!(installation(&world).await, approved);
}

#[tokio::test]
async fn approval_creates_an_active_service_account_in_the_company_directory() {
    let world = support::world().await;
    let installed = world.install_service_account(&[&world.tower]).await;
    let account = service_account_of(&installed);
    let (user, _) = directory_entry(&world, &account).await.unwrap();
    assert_eq!(
        user.kind,
        UserKind::ServiceAccount {
            app: world.app.client_id.clone()
        }
    );
    assert_eq!(user.status, UserStatus::Active);
}

#[tokio::test]
async fn the_service_account_holds_exactly_the_approved_manifest_on_exactly_the_permitted_projects()
{
    let world = support::world().await;
    let installed = world.install_service_account(&[&world.tower]).await;
    let (_, holds) = directory_entry(&world, &service_account_of(&installed))
        .await
        .unwrap();
    assert_eq!(holds, manifest_v1_on(&[&world.tower]));
    let grant = installed.service_account.unwrap();
    assert_eq!(grant.approved, *world.app.manifest().unwrap());
    assert_eq!(grant.permitted_projects, projects(&[&world.tower]));
}

#[tokio::test]
async fn approving_an_app_that_only_acts_as_its_users_creates_no_service_account() {
    let world = support::world().await;
    let registration = appgrant::grant::AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        flows: AppFlows::UserDelegated,
        manifest: None,
        ..support::both_flows_app()
    };
    let app = world.server.register_app(registration).await.unwrap().app;
    let server = &world.server;
    server
        .request_installation(&world.acme, &app.client_id, &world.john)
        .await
        .unwrap();
    let approved = server
        .approve_installation(
            &world.acme,
            &app.client_id,
            &world.jane,
            projects(&[&world.tower]),
        )
        .await
        .unwrap();
    assert_eq!(approved.status, InstallationStatus::Active);
    assert_eq!(approved.service_account, None);
    assert_eq!(server.members(&world.acme).await.unwrap().len(), 2);
}

#[tokio::test]
async fn denial_records_the_admin_and_the_time_and_creates_no_service_account() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let now = later(&world);
    let denied = deny(&world, &world.jane).await.unwrap();
    assert_eq!(denied.status, InstallationStatus::Denied);
    assert_eq!(denied.decided_by.as_ref(), Some(&world.jane));
    assert_eq!(denied.decided_at, Some(now));
    assert_eq!(denied.service_account, None);
    assert_eq!(world.server.members(&world.acme).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_service_token_is_denied_installation_not_approved_while_the_install_is_requested() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let token = world.service_token(None).await;
    assert_eq!(
        denied_because(&world, &token, &read_directory()).await,
        Some(DenyReason::InstallationNotApproved)
    );
}

#[tokio::test]
async fn a_denied_install_gives_installation_not_approved() {
    let world = support::world().await;
    request(&world, &world.john).await;
    deny(&world, &world.jane).await.unwrap();
    let token = world.service_token(None).await;
    assert_eq!(
        denied_because(&world, &token, &read_directory()).await,
        Some(DenyReason::InstallationNotApproved)
    );
}

// ---------------------------------------------------------------------------------------------
// Only a directory admin decides
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_read_only_member_may_not_deny() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let error = deny(&world, &world.john).await.unwrap_err();
    assert!(is_not_directory_admin(&error, &world.john), "{error:?}");
    assert_eq!(
        installation(&world).await.status,
        InstallationStatus::Requested
    );
}

#[tokio::test]
async fn a_read_only_member_may_not_uninstall() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let error = uninstall(&world, &world.john).await.unwrap_err();
    assert!(is_not_directory_admin(&error, &world.john), "{error:?}");
    assert_eq!(
        installation(&world).await.status,
        InstallationStatus::Active
    );
}

#[tokio::test]
async fn a_read_only_member_may_not_approve_a_manifest_update() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    publish(&world, asks_more()).await;
    let error = approve_update(&world, &world.john).await.unwrap_err();
    assert!(is_not_directory_admin(&error, &world.john), "{error:?}");
    assert_eq!(installation(&world).await.pending_manifest, Some(2));
}

#[tokio::test]
async fn a_read_only_member_may_not_change_permitted_projects() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let error = set_projects(&world, &world.john, &[&world.tower, &world.depot])
        .await
        .unwrap_err();
    assert!(is_not_directory_admin(&error, &world.john), "{error:?}");
    let grant = installation(&world).await.service_account.unwrap();
    assert_eq!(grant.permitted_projects, projects(&[&world.tower]));
}

#[tokio::test]
async fn a_deactivated_directory_admin_may_not_approve() {
    let world = support::world().await;
    request(&world, &world.john).await;
    world.server.deactivate_user(&world.jane).await.unwrap();
    let error = approve(&world, &world.jane, &[&world.tower])
        .await
        .unwrap_err();
    assert!(is_not_directory_admin(&error, &world.jane), "{error:?}");
}

#[tokio::test]
async fn a_deactivated_directory_admin_may_not_uninstall() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    world.server.deactivate_user(&world.jane).await.unwrap();
    let error = uninstall(&world, &world.jane).await.unwrap_err();
    assert!(is_not_directory_admin(&error, &world.jane), "{error:?}");
    assert_eq!(
        installation(&world).await.status,
        InstallationStatus::Active
    );
}

#[tokio::test]
async fn a_non_member_may_not_approve_even_if_a_directory_admin_elsewhere() {
    let world = support::world().await;
    let outsider = add_user(&world, "olga", None).await;
    world
        .server
        .save_company(
            Company::new("globex", "Globex")
                .with_project("tower", "Tower")
                .with_project("depot", "Depot"),
        )
        .await
        .unwrap();
    let admin = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    world
        .server
        .set_membership(&CompanyId::new("globex"), &outsider, admin)
        .await
        .unwrap();
    request(&world, &world.john).await;
    let error = approve(&world, &outsider, &[&world.tower])
        .await
        .unwrap_err();
    assert!(is_not_directory_admin(&error, &outsider), "{error:?}");
    let error = deny(&world, &outsider).await.unwrap_err();
    assert!(is_not_directory_admin(&error, &outsider), "{error:?}");
}

#[tokio::test]
async fn directory_admin_on_a_project_is_not_admin_of_the_company_directory() {
    let world = support::world().await;
    let holds = Permissions::none().with(
        Scope::Project(world.tower.clone()),
        "directory",
        Level::Admin,
    );
    let pat = add_user(&world, "pat", Some(holds)).await;
    request(&world, &world.john).await;
    let error = approve(&world, &pat, &[&world.tower]).await.unwrap_err();
    assert!(is_not_directory_admin(&error, &pat), "{error:?}");
}

#[tokio::test]
async fn standard_on_the_company_directory_is_not_enough_to_approve() {
    let world = support::world().await;
    let holds = Permissions::none().with(Scope::Company, "directory", Level::Standard);
    let sam = add_user(&world, "sam", Some(holds)).await;
    request(&world, &world.john).await;
    let error = approve(&world, &sam, &[&world.tower]).await.unwrap_err();
    assert!(is_not_directory_admin(&error, &sam), "{error:?}");
}

#[tokio::test]
async fn any_directory_admin_of_the_company_may_approve() {
    let world = support::world().await;
    let holds = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    let ada = add_user(&world, "ada", Some(holds)).await;
    request(&world, &world.john).await;
    let approved = approve(&world, &ada, &[&world.tower]).await.unwrap();
    assert_eq!(approved.decided_by, Some(ada));
}

// ---------------------------------------------------------------------------------------------
// Manifest updates
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_manifest_asking_for_more_stays_pending() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    assert_eq!(publish(&world, asks_more()).await, 2);
    let installed = installation(&world).await;
    assert_eq!(installed.status, InstallationStatus::Active);
    assert_eq!(installed.pending_manifest, Some(2));
    assert_eq!(installed.service_account.unwrap().approved.version, 1);
}

#[tokio::test]
async fn while_an_update_is_pending_the_directory_keeps_the_old_permissions() {
    let world = support::world().await;
    let installed = world.install_service_account(&[&world.tower]).await;
    publish(&world, asks_more()).await;
    let (_, holds) = directory_entry(&world, &service_account_of(&installed))
        .await
        .unwrap();
    assert_eq!(holds, manifest_v1_on(&[&world.tower]));
}

#[tokio::test]
async fn while_an_update_is_pending_service_tokens_keep_the_old_permissions() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(None).await;
    publish(&world, asks_more()).await;
    assert!(world.allowed(&token, &write_tower()).await);
    assert_eq!(
        denied_because(&world, &token, &admin_tower()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::Standard,
            need: Level::Admin
        })
    );
}

#[tokio::test]
async fn an_approved_update_applies_the_new_permissions() {
    let world = support::world().await;
    let installed = world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(None).await;
    publish(&world, asks_more()).await;
    let now = later(&world);
    let updated = approve_update(&world, &world.jane).await.unwrap();
    assert_eq!(updated.pending_manifest, None);
    assert_eq!(
        updated.service_account.as_ref().unwrap().approved.version,
        2
    );
    assert_eq!(updated.decided_at, Some(now));
    let (_, holds) = directory_entry(&world, &service_account_of(&installed))
        .await
        .unwrap();
    let expected = Permissions::none()
        .with(Scope::Company, "directory", Level::ReadOnly)
        .with(Scope::Project(world.tower.clone()), "rfis", Level::Admin);
    assert_eq!(holds, expected);
    assert_eq!(
        decide(&world, &token, &admin_tower()).await,
        Decision::Allow {
            level: Level::Admin
        }
    );
}

#[tokio::test]
async fn approving_an_update_when_none_is_pending_is_refused() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let error = approve_update(&world, &world.jane).await.unwrap_err();
    assert!(
        matches!(
            error,
            ServerError::Installation(InstallationError::NoPendingUpdate)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_manifest_asking_for_less_applies_at_once() {
    let world = support::world().await;
    let installed = world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(None).await;
    publish(&world, asks_less()).await;
    let updated = installation(&world).await;
    assert_eq!(updated.pending_manifest, None);
    assert_eq!(updated.service_account.unwrap().approved.version, 2);
    let (_, holds) = directory_entry(&world, &service_account_of(&installed))
        .await
        .unwrap();
    let expected =
        Permissions::none().with(Scope::Project(world.tower.clone()), "rfis", Level::ReadOnly);
    assert_eq!(holds, expected);
    assert!(world.allowed(&token, &read_tower()).await);
    assert_eq!(
        denied_because(&world, &token, &write_tower()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::ReadOnly,
            need: Level::Standard
        })
    );
    assert_eq!(
        denied_because(&world, &token, &read_directory()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::None,
            need: Level::ReadOnly
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Permitted projects
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn changing_permitted_projects_changes_what_the_service_account_reaches_at_the_next_decision()
{
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(None).await;
    assert_eq!(
        denied_because(&world, &token, &write_depot()).await,
        Some(DenyReason::ProjectNotPermitted)
    );
    set_projects(&world, &world.jane, &[&world.depot])
        .await
        .unwrap();
    assert!(world.allowed(&token, &write_depot()).await);
    assert_eq!(
        denied_because(&world, &token, &write_tower()).await,
        Some(DenyReason::ProjectNotPermitted)
    );
}

#[tokio::test]
async fn changing_permitted_projects_rewrites_the_service_accounts_directory_permissions() {
    let world = support::world().await;
    let installed = world.install_service_account(&[&world.tower]).await;
    let now = later(&world);
    let changed = set_projects(&world, &world.jane, &[&world.tower, &world.depot])
        .await
        .unwrap();
    assert_eq!(changed.decided_at, Some(now));
    let (_, holds) = directory_entry(&world, &service_account_of(&installed))
        .await
        .unwrap();
    assert_eq!(holds, manifest_v1_on(&[&world.tower, &world.depot]));
}

// ---------------------------------------------------------------------------------------------
// Uninstall and reinstall
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn uninstall_deactivates_the_service_account() {
    let world = support::world().await;
    let installed = world.install_service_account(&[&world.tower]).await;
    let now = later(&world);
    let removed = uninstall(&world, &world.jane).await.unwrap();
    assert_eq!(removed.status, InstallationStatus::Uninstalled);
    assert_eq!(removed.decided_by.as_ref(), Some(&world.jane));
    assert_eq!(removed.decided_at, Some(now));
    let (account, _) = directory_entry(&world, &service_account_of(&installed))
        .await
        .unwrap();
    assert_eq!(account.status, UserStatus::Deactivated);
}

#[tokio::test]
async fn uninstall_makes_every_user_token_of_the_app_in_the_company_fail_at_the_next_decision() {
    let world = support::world().await;
    let jane = world.tokens_for(&world.jane).await;
    let john = world.tokens_for(&world.john).await;
    assert!(world.allowed(&jane, &read_tower()).await);
    assert!(world.allowed(&john, &read_tower()).await);
    uninstall(&world, &world.jane).await.unwrap();
    for token in [&jane, &john] {
        assert_eq!(
            denied_because(&world, token, &read_tower()).await,
            Some(DenyReason::AppUninstalled)
        );
    }
}

#[tokio::test]
async fn uninstall_makes_every_service_token_of_the_app_in_the_company_fail_at_the_next_decision() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let unbound = world.service_token(None).await;
    let bound = world.service_token(Some(&world.acme)).await;
    assert!(world.allowed(&unbound, &write_tower()).await);
    assert!(world.allowed(&bound, &write_tower()).await);
    uninstall(&world, &world.jane).await.unwrap();
    for token in [&unbound, &bound] {
        assert_eq!(
            denied_because(&world, token, &write_tower()).await,
            Some(DenyReason::AppUninstalled)
        );
    }
}

#[tokio::test]
async fn uninstalling_again_changes_nothing_and_still_needs_a_directory_admin() {
    // A second uninstall only repeats the directory's part (an uninstall whose deactivation
    // failed is finished so): the installation, its decision and the audit log stay as the
    // first left them.
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let first = uninstall(&world, &world.jane).await.unwrap();
    let events = world.audit.events().len();
    later(&world);
    let again = uninstall(&world, &world.jane).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(
        world.audit.events().len(),
        events,
        "no second uninstall is audited"
    );
    let error = uninstall(&world, &world.john).await.unwrap_err();
    assert!(
        matches!(
            error,
            ServerError::Installation(InstallationError::NotDirectoryAdmin { .. })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_reinstall_does_not_resurrect_tokens_issued_before_it() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let user = world.tokens_for(&world.jane).await;
    let unbound = world.service_token(None).await;
    let bound = world.service_token(Some(&world.acme)).await;
    uninstall(&world, &world.jane).await.unwrap();
    later(&world);
    request(&world, &world.jane).await;
    approve(&world, &world.jane, &[&world.tower]).await.unwrap();
    for token in [&user, &unbound, &bound] {
        assert_eq!(
            denied_because(&world, token, &write_tower()).await,
            Some(DenyReason::GrantedBeforeUninstall)
        );
    }
}

#[tokio::test]
async fn after_a_reinstall_new_tokens_work() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    uninstall(&world, &world.jane).await.unwrap();
    later(&world);
    request(&world, &world.jane).await;
    approve(&world, &world.jane, &[&world.tower]).await.unwrap();
    later(&world);
    assert!(
        world
            .allowed(&world.service_token(None).await, &write_tower())
            .await
    );
    assert!(
        world
            .allowed(&world.tokens_for(&world.jane).await, &write_tower())
            .await
    );
}

#[tokio::test]
async fn a_reinstall_creates_a_new_active_service_account_and_leaves_the_old_one_deactivated() {
    let world = support::world().await;
    let first = service_account_of(&world.install_service_account(&[&world.tower]).await);
    uninstall(&world, &world.jane).await.unwrap();
    request(&world, &world.jane).await;
    let second = service_account_of(&approve(&world, &world.jane, &[&world.tower]).await.unwrap());
    assert_ne!(first, second);
    let (old, _) = directory_entry(&world, &first).await.unwrap();
    let (new, _) = directory_entry(&world, &second).await.unwrap();
    assert_eq!(old.status, UserStatus::Deactivated);
    assert_eq!(new.status, UserStatus::Active);
}

#[tokio::test]
async fn a_refresh_token_from_before_an_uninstall_does_not_bring_access_back_after_a_reinstall() {
    let world = support::world().await;
    let before = world.tokens_for(&world.jane).await;
    uninstall(&world, &world.jane).await.unwrap();
    later(&world);
    request(&world, &world.jane).await;
    approve(&world, &world.jane, &[&world.tower]).await.unwrap();
    later(&world);
    let refresh_token = before.refresh_token.clone().unwrap();
    let refreshed = world
        .server
        .token(
            TokenRequest::RefreshToken {
                refresh_token,
                scope: None,
                resource: None,
            },
            &world.client(),
        )
        .await;
    match refreshed {
        Err(error) => assert_eq!(error.code(), ErrorCode::InvalidGrant),
        Ok(token) => assert!(!world.allowed(&token, &read_tower()).await),
    }
}

// ---------------------------------------------------------------------------------------------
// A user's consent
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_users_consent_installs_for_user_access_when_the_company_allows_it() {
    let world = support::world().await;
    let john = world.tokens_for(&world.john).await;
    let installed = installation(&world).await;
    assert_eq!(installed.status, InstallationStatus::Active);
    assert_eq!(installed.requested_by, world.john);
    assert_eq!(installed.service_account, None);
    assert!(world.allowed(&john, &read_tower()).await);
}

#[tokio::test]
async fn a_non_members_consent_does_not_install() {
    let world = support::world().await;
    let olga = add_user(&world, "olga", None).await;
    world.code_for(&olga).await;
    let missing = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await;
    assert!(
        matches!(missing, Err(ServerError::NoInstallation { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_consent_install_gives_no_service_account_access() {
    let world = support::world().await;
    world.tokens_for(&world.john).await;
    let service = world.service_token(None).await;
    assert_eq!(
        denied_because(&world, &service, &read_tower()).await,
        Some(DenyReason::ServiceAccountNotApproved)
    );
}

#[tokio::test]
async fn with_admin_only_a_users_consent_does_not_install_and_the_token_is_denied_app_not_installed()
 {
    let world = support::world().await;
    set_consent_install(&world, ConsentInstall::AdminOnly).await;
    let john = world.tokens_for(&world.john).await;
    let missing = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await;
    assert!(
        matches!(missing, Err(ServerError::NoInstallation { .. })),
        "{missing:?}"
    );
    assert_eq!(
        denied_because(&world, &john, &read_tower()).await,
        Some(DenyReason::AppNotInstalled)
    );
}

#[tokio::test]
async fn with_admin_only_the_users_token_works_once_an_admin_approves() {
    let world = support::world().await;
    set_consent_install(&world, ConsentInstall::AdminOnly).await;
    let john = world.tokens_for(&world.john).await;
    later(&world);
    request(&world, &world.john).await;
    approve(&world, &world.jane, &[&world.tower]).await.unwrap();
    assert_eq!(
        decide(&world, &john, &read_tower()).await,
        Decision::Allow {
            level: Level::ReadOnly
        }
    );
}

#[tokio::test]
async fn a_users_consent_never_reinstalls_after_an_admins_uninstall() {
    let world = support::world().await;
    world.tokens_for(&world.john).await;
    uninstall(&world, &world.jane).await.unwrap();
    later(&world);
    let john = world.tokens_for(&world.john).await;
    assert_eq!(
        installation(&world).await.status,
        InstallationStatus::Uninstalled
    );
    assert_eq!(
        denied_because(&world, &john, &read_tower()).await,
        Some(DenyReason::AppUninstalled)
    );
}

#[tokio::test]
async fn a_users_consent_never_reinstalls_after_an_admins_denial() {
    let world = support::world().await;
    request(&world, &world.john).await;
    deny(&world, &world.jane).await.unwrap();
    let john = world.tokens_for(&world.john).await;
    assert_eq!(
        installation(&world).await.status,
        InstallationStatus::Denied
    );
    assert_eq!(
        denied_because(&world, &john, &read_tower()).await,
        Some(DenyReason::InstallationNotApproved)
    );
}

#[tokio::test]
async fn a_users_consent_does_not_skip_a_pending_request() {
    let world = support::world().await;
    request(&world, &world.john).await;
    world.tokens_for(&world.john).await;
    assert_eq!(
        installation(&world).await.status,
        InstallationStatus::Requested
    );
}

// ---------------------------------------------------------------------------------------------
// The Installation model on its own
// ---------------------------------------------------------------------------------------------

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn admin() -> (User, Permissions) {
    (
        User::person("jane", "Jane"),
        Permissions::none().with(Scope::Company, "directory", Level::Admin),
    )
}

fn reader() -> (User, Permissions) {
    (
        User::person("john", "John"),
        Permissions::none().with(Scope::Company, "directory", Level::ReadOnly),
    )
}

fn actor(who: &(User, Permissions)) -> Actor<'_> {
    Actor {
        user: &who.0,
        permissions: Some(&who.1),
    }
}

fn app() -> App {
    let (app, _) = support::both_flows_app()
        .register(&mut rand::thread_rng())
        .unwrap();
    app
}

fn requested(app: &App) -> Installation {
    Installation::request(app, &CompanyId::new("acme"), &UserId::new("john"), t0())
}

fn approved(app: &App) -> Installation {
    let mut installation = requested(app);
    installation
        .approve(
            app,
            &actor(&admin()),
            BTreeSet::from([ProjectId::new("tower")]),
            UserId::new("svc"),
            t0(),
        )
        .unwrap();
    installation
}

fn denied(app: &App) -> Installation {
    let mut installation = requested(app);
    installation.deny(&actor(&admin()), t0()).unwrap();
    installation
}

fn uninstalled(app: &App) -> Installation {
    let mut installation = approved(app);
    installation.uninstall(&actor(&admin()), t0()).unwrap();
    installation
}

fn invalid(status: InstallationStatus, action: &'static str) -> InstallationError {
    InstallationError::InvalidState { status, action }
}

fn approve_again(installation: &mut Installation, app: &App) -> Result<(), InstallationError> {
    installation
        .approve(
            app,
            &actor(&admin()),
            BTreeSet::new(),
            UserId::new("svc2"),
            t0(),
        )
        .map(drop)
}

#[test]
fn model_approval_returns_the_service_account_change_and_activates() {
    let app = app();
    let mut installation = requested(&app);
    let later = t0() + TimeDelta::hours(1);
    let change = installation
        .approve(
            &app,
            &actor(&admin()),
            BTreeSet::from([ProjectId::new("tower")]),
            UserId::new("svc"),
            later,
        )
        .unwrap()
        .unwrap();
    assert_eq!(change.user, UserId::new("svc"));
    assert_eq!(
        change.permissions,
        Permissions::none()
            .with(Scope::Company, "directory", Level::ReadOnly)
            .with(
                Scope::Project(ProjectId::new("tower")),
                "rfis",
                Level::Standard
            )
    );
    assert_eq!(installation.status, InstallationStatus::Active);
    assert_eq!(installation.active_since, Some(later));
    assert_eq!(installation.decided_by, Some(UserId::new("jane")));
    assert_eq!(installation.decided_at, Some(later));
}

#[test]
fn model_a_non_admin_cannot_approve_and_nothing_changes() {
    let app = app();
    let mut installation = requested(&app);
    let before = installation.clone();
    let result = installation.approve(
        &app,
        &actor(&reader()),
        BTreeSet::new(),
        UserId::new("svc"),
        t0(),
    );
    assert_eq!(
        result,
        Err(InstallationError::NotDirectoryAdmin {
            user: UserId::new("john")
        })
    );
    assert_eq!(installation, before);
}

#[test]
fn model_an_actor_without_membership_is_not_a_directory_admin() {
    let app = app();
    let mut installation = requested(&app);
    let stranger = User::person("olga", "Olga");
    let result = installation.deny(
        &Actor {
            user: &stranger,
            permissions: None,
        },
        t0(),
    );
    assert_eq!(
        result,
        Err(InstallationError::NotDirectoryAdmin {
            user: UserId::new("olga")
        })
    );
}

#[test]
fn model_an_active_installation_cannot_be_denied() {
    let app = app();
    let mut installation = approved(&app);
    assert_eq!(
        installation.deny(&actor(&admin()), t0()),
        Err(invalid(InstallationStatus::Active, "deny"))
    );
}

#[test]
fn model_an_approved_service_account_cannot_be_approved_again() {
    let app = app();
    let mut installation = approved(&app);
    assert_eq!(
        approve_again(&mut installation, &app),
        Err(invalid(InstallationStatus::Active, "approve"))
    );
}

#[test]
fn model_a_denied_installation_cannot_be_approved_or_uninstalled() {
    let app = app();
    let mut installation = denied(&app);
    assert_eq!(
        approve_again(&mut installation, &app),
        Err(invalid(InstallationStatus::Denied, "approve"))
    );
    assert_eq!(
        installation.uninstall(&actor(&admin()), t0()),
        Err(invalid(InstallationStatus::Denied, "uninstall"))
    );
}

#[test]
fn model_an_uninstalled_installation_cannot_be_approved_denied_rescoped_or_uninstalled() {
    let app = app();
    let mut installation = uninstalled(&app);
    let admin = admin();
    let status = InstallationStatus::Uninstalled;
    assert_eq!(
        approve_again(&mut installation, &app),
        Err(invalid(status, "approve"))
    );
    assert_eq!(
        installation.deny(&actor(&admin), t0()),
        Err(invalid(status, "deny"))
    );
    assert_eq!(
        installation.set_permitted_projects(&actor(&admin), BTreeSet::new(), t0()),
        Err(invalid(status, "change permitted projects"))
    );
    assert_eq!(
        installation.uninstall(&actor(&admin), t0()),
        Err(invalid(status, "uninstall"))
    );
}

#[test]
fn model_a_requested_installation_cannot_take_a_manifest_update_or_new_projects() {
    let app = app();
    let mut installation = requested(&app);
    let admin = admin();
    let status = InstallationStatus::Requested;
    assert_eq!(
        installation.approve_update(&app, &actor(&admin), t0()),
        Err(invalid(status, "approve an update"))
    );
    assert_eq!(
        installation.set_permitted_projects(&actor(&admin), BTreeSet::new(), t0()),
        Err(invalid(status, "change permitted projects"))
    );
}

#[test]
fn model_a_requested_installation_can_be_uninstalled_and_has_no_account_to_deactivate() {
    let app = app();
    let mut installation = requested(&app);
    assert_eq!(installation.uninstall(&actor(&admin()), t0()), Ok(None));
    assert_eq!(installation.status, InstallationStatus::Uninstalled);
}

#[test]
fn model_uninstall_returns_the_service_account_to_deactivate() {
    let app = app();
    let mut installation = approved(&app);
    assert_eq!(
        installation.uninstall(&actor(&admin()), t0()),
        Ok(Some(UserId::new("svc")))
    );
    assert!(!installation.is_active());
}

#[test]
fn model_a_manifest_asking_for_more_is_pending_and_keeps_the_approval() {
    let mut app = app();
    let mut installation = approved(&app);
    app.publish_manifest(asks_more());
    assert_eq!(installation.propose_manifest(&app), ManifestUpdate::Pending);
    assert_eq!(installation.pending_manifest, Some(2));
    assert_eq!(installation.service_account.unwrap().approved.version, 1);
}

#[test]
fn model_a_manifest_asking_for_less_is_applied() {
    let mut app = app();
    let mut installation = approved(&app);
    app.publish_manifest(asks_less());
    let ManifestUpdate::Applied(change) = installation.propose_manifest(&app) else {
        panic!("expected the smaller manifest to apply");
    };
    assert_eq!(
        change.permissions,
        Permissions::none().with(
            Scope::Project(ProjectId::new("tower")),
            "rfis",
            Level::ReadOnly
        )
    );
    assert_eq!(installation.pending_manifest, None);
}

#[test]
fn model_approving_an_update_with_none_pending_gives_no_pending_update() {
    let app = app();
    let mut installation = approved(&app);
    assert_eq!(
        installation.approve_update(&app, &actor(&admin()), t0()),
        Err(InstallationError::NoPendingUpdate)
    );
}

#[test]
fn model_consent_install_is_refused_where_only_admins_install() {
    let app = app();
    let company = Company::new("acme", "Acme")
        .with_project("tower", "Tower")
        .with_project("depot", "Depot");
    assert_eq!(
        Installation::by_user_consent(&app, &company, &UserId::new("john"), t0()),
        Err(InstallationError::ConsentInstallNotAllowed {
            company: CompanyId::new("acme")
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------------

fn by_user(user: &UserId) -> AuditActor {
    AuditActor::User(user.clone())
}

fn by_app(world: &World) -> AuditActor {
    AuditActor::App(world.app.client_id.clone())
}

fn event(
    world: &World,
    at: DateTime<Utc>,
    actor: AuditActor,
    action: AuditAction,
    company: Option<&CompanyId>,
) -> AuditEvent {
    AuditEvent {
        at,
        actor,
        action,
        app: world.app.client_id.clone(),
        company: company.cloned(),
    }
}

/// The events recorded since `from` events were there.
fn events_since(world: &World, from: usize) -> Vec<AuditEvent> {
    world.audit.events().split_off(from)
}

/// An event about Acme.
fn in_acme(world: &World, at: DateTime<Utc>, actor: AuditActor, action: AuditAction) -> AuditEvent {
    event(world, at, actor, action, Some(&world.acme))
}

#[tokio::test]
async fn every_step_of_an_installation_is_audited_with_who_what_app_company_and_when() {
    let world = support::world().await;
    let (jane, john, app) = (by_user(&world.jane), by_user(&world.john), by_app(&world));
    let mut expected = Vec::new();

    let at = later(&world);
    request(&world, &world.john).await;
    expected.push(in_acme(&world, at, john, AuditAction::InstallRequested));

    let at = later(&world);
    approve(&world, &world.jane, &[&world.tower]).await.unwrap();
    expected.push(in_acme(
        &world,
        at,
        jane.clone(),
        AuditAction::InstallApproved,
    ));

    let at = later(&world);
    publish(&world, asks_more()).await;
    let pending = AuditAction::ManifestUpdatePending { version: 2 };
    expected.push(in_acme(&world, at, app.clone(), pending));

    let at = later(&world);
    approve_update(&world, &world.jane).await.unwrap();
    let approved = AuditAction::ManifestUpdated { version: 2 };
    expected.push(in_acme(&world, at, jane.clone(), approved));

    let at = later(&world);
    publish(&world, asks_less()).await;
    let applied = AuditAction::ManifestUpdated { version: 3 };
    expected.push(in_acme(&world, at, app, applied));

    let at = later(&world);
    set_projects(&world, &world.jane, &[&world.depot])
        .await
        .unwrap();
    let changed = AuditAction::PermittedProjectsChanged;
    expected.push(in_acme(&world, at, jane.clone(), changed));

    let at = later(&world);
    uninstall(&world, &world.jane).await.unwrap();
    expected.push(in_acme(&world, at, jane, AuditAction::Uninstalled));

    assert_eq!(world.audit.events(), expected);
}

#[tokio::test]
async fn a_denial_is_audited() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let from = world.audit.events().len();
    let at = later(&world);
    deny(&world, &world.jane).await.unwrap();
    let denied = in_acme(&world, at, by_user(&world.jane), AuditAction::InstallDenied);
    assert_eq!(events_since(&world, from), vec![denied]);
}

#[tokio::test]
async fn a_refused_transition_is_not_audited() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let from = world.audit.events().len();
    approve(&world, &world.john, &[&world.tower])
        .await
        .unwrap_err();
    assert_eq!(events_since(&world, from), vec![]);
}

#[tokio::test]
async fn a_consent_install_and_the_authorization_are_audited() {
    let world = support::world().await;
    let at = later(&world);
    world.code_for(&world.john).await;
    let john = by_user(&world.john);
    assert_eq!(
        world.audit.events(),
        vec![
            in_acme(&world, at, john.clone(), AuditAction::InstalledByConsent),
            in_acme(&world, at, john, AuditAction::AuthorizationGranted),
        ]
    );
}

/// The grant an access token belongs to, read from its validated claims.
fn grant_of(world: &World, token: &TokenResponse) -> GrantId {
    let expectations = world.server.config().expectations();
    let keys = world.server.keys();
    validate(
        token.access_token.expose(),
        &keys,
        &expectations,
        world.server.now(),
    )
    .unwrap()
    .grant_id
}

#[tokio::test]
async fn issuing_refreshing_and_revoking_tokens_are_audited_for_one_grant() {
    let world = support::world().await;
    let code = world.code_for(&world.jane).await;
    let from = world.audit.events().len();

    let issued_at = later(&world);
    let tokens = world
        .server
        .token(world.exchange_request(code), &world.client())
        .await
        .unwrap();
    let refreshed_at = later(&world);
    let refreshed = refresh(&world, &tokens).await;
    let revoked_at = later(&world);
    world
        .server
        .revoke(&world.client(), refreshed.access_token.expose())
        .await
        .unwrap();

    let events = events_since(&world, from);
    let grant = grant_of(&world, &tokens);
    assert_eq!(grant_of(&world, &refreshed), grant);
    let issued = AuditAction::TokensIssued {
        grant: grant.clone(),
    };
    let rotated = AuditAction::TokensRefreshed {
        grant: grant.clone(),
    };
    let reason = RevocationReason::Requested;
    let revoked = AuditAction::GrantRevoked { grant, reason };
    let app = by_app(&world);
    let expected = vec![
        event(&world, issued_at, app.clone(), issued, None),
        event(&world, refreshed_at, app.clone(), rotated, None),
        event(&world, revoked_at, app, revoked, None),
    ];
    assert_eq!(events, expected);
}

#[tokio::test]
async fn a_service_account_token_is_audited_with_its_company() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let from = world.audit.events().len();
    let at = later(&world);
    let token = world.service_token(Some(&world.acme)).await;
    let issued = AuditAction::TokensIssued {
        grant: grant_of(&world, &token),
    };
    assert_eq!(
        events_since(&world, from),
        vec![event(&world, at, by_app(&world), issued, Some(&world.acme))]
    );
}

#[tokio::test]
async fn only_a_member_of_the_company_may_request_an_install() {
    let world = support::world().await;
    world
        .server
        .save_user(User::person("mallory", "Mallory"))
        .await
        .unwrap();
    let outsider = UserId::new("mallory");
    let refused = world
        .server
        .request_installation(&world.acme, &world.app.client_id, &outsider)
        .await;
    assert!(matches!(refused, Err(ServerError::NotAMember { ref user, .. }) if *user == outsider));
    let nothing = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await;
    assert!(matches!(nothing, Err(ServerError::NoInstallation { .. })));
}

#[test]
fn the_default_audit_sink_keeps_only_the_most_recent_events() {
    use appgrant::audit::{AuditSink, MemoryAuditSink};
    let sink = MemoryAuditSink::with_capacity(2);
    let event = |company: &str| AuditEvent {
        at: DateTime::<Utc>::UNIX_EPOCH,
        actor: AuditActor::User(UserId::new("jane")),
        action: AuditAction::Uninstalled,
        app: ClientId::new("app"),
        company: Some(CompanyId::new(company)),
    };
    for company in ["a", "b", "c"] {
        sink.record(event(company));
    }
    assert_eq!(sink.events(), [event("b"), event("c")]);
    assert_eq!(MemoryAuditSink::DEFAULT_CAPACITY, 10_000);
}

// ---------------------------------------------------------------------------------------------
// Projects are known
// ---------------------------------------------------------------------------------------------

fn unknown_projects(result: &Result<Installation, ServerError>) -> Option<Vec<ProjectId>> {
    match result {
        Err(ServerError::Installation(InstallationError::UnknownProjects { projects, .. })) => {
            Some(projects.clone())
        }
        _ => None,
    }
}

#[tokio::test]
async fn approving_a_project_the_company_does_not_have_is_refused_and_changes_nothing() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let before = installation(&world).await;
    let typo = ProjectId::new("towr");
    let refused = approve(&world, &world.jane, &[&world.tower, &typo]).await;
    assert_eq!(unknown_projects(&refused), Some(vec![typo.clone()]));
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("towr") && message.contains("acme"),
        "{message}"
    );
    assert_eq!(installation(&world).await, before);
    assert!(approve(&world, &world.jane, &[&world.tower]).await.is_ok());
}

#[tokio::test]
async fn permitting_a_project_the_company_does_not_have_is_refused_and_changes_nothing() {
    let world = support::world().await;
    request(&world, &world.john).await;
    approve(&world, &world.jane, &[&world.tower]).await.unwrap();
    let before = installation(&world).await;
    let unknown = ProjectId::new("moonbase");
    let refused = set_projects(&world, &world.jane, &[&world.depot, &unknown]).await;
    assert_eq!(unknown_projects(&refused), Some(vec![unknown]));
    assert_eq!(installation(&world).await, before);
}

#[tokio::test]
async fn a_non_admin_is_refused_as_such_before_learning_which_projects_exist() {
    let world = support::world().await;
    request(&world, &world.john).await;
    let refused = approve(&world, &world.john, &[&ProjectId::new("secret-project")]).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|error| is_not_directory_admin(error, &world.john)),
        "{refused:?}"
    );
}

#[test]
fn a_company_lists_its_projects_by_id_with_their_names() {
    let company = Company::new("acme", "Acme").with_project("tower", "Riverside Tower");
    let tower = ProjectId::new("tower");
    assert_eq!(
        company.project(&tower).map(|project| project.name.as_str()),
        Some("Riverside Tower")
    );
    assert!(company.project(&ProjectId::new("depot")).is_none());
    assert!(company.check_projects(&BTreeSet::from([tower])).is_ok());
}

#[test]
fn removing_the_app_uninstalls_it_from_any_state_without_an_admin_and_names_the_account() {
    let app = app();
    let later = t0() + TimeDelta::hours(1);
    for mut installation in [requested(&app), approved(&app), denied(&app)] {
        let before = installation.clone();
        let account = installation.remove_app(later);
        assert_eq!(installation.status, InstallationStatus::Uninstalled);
        assert_eq!(installation.uninstalled_at, Some(later));
        assert_eq!(installation.app_deleted_at, Some(later));
        assert_eq!(installation.pending_manifest, None);
        // No admin decided it: the last admin decision stays as it was.
        assert_eq!(installation.decided_by, before.decided_by);
        assert_eq!(installation.decided_at, before.decided_at);
        assert_eq!(
            account,
            before.service_account.map(|account| account.user),
            "{:?}",
            before.status
        );
    }
    // Uninstalled already: it keeps its uninstall, and still names the account (a deletion
    // that failed to deactivate it can be finished).
    let mut installation = uninstalled(&app);
    let account = installation.remove_app(later);
    assert_eq!(installation.uninstalled_at, Some(t0()));
    assert_eq!(installation.app_deleted_at, Some(later));
    assert_eq!(account, Some(UserId::new("svc")));
}

#[test]
fn model_an_approval_grants_nothing_on_a_project_it_does_not_permit() {
    let grant = ServiceAccountGrant {
        user: UserId::new("sa"),
        approved: Manifest::new(1)
            .company_tool("directory", Level::ReadOnly)
            .project_tool("rfis", Level::Standard),
        permitted_projects: BTreeSet::from([ProjectId::new("tower")]),
    };
    let rfis = Tool::new("rfis");
    let tower = ProjectId::new("tower");
    let depot = ProjectId::new("depot");
    assert_eq!(grant.approved_level(Some(&tower), &rfis), Level::Standard);
    assert_eq!(grant.approved_level(Some(&depot), &rfis), Level::None);
    assert_eq!(
        grant.approved_level(None, &Tool::new("directory")),
        Level::ReadOnly
    );
}

#[test]
fn model_a_custom_app_is_installable_only_in_the_company_that_owns_it() {
    let mut custom = app();
    custom.owner = Some(CompanyId::new("acme"));
    assert_eq!(
        require_installable(&custom, &CompanyId::new("acme")),
        Ok(())
    );
    assert_eq!(
        require_installable(&custom, &CompanyId::new("globex")),
        Err(InstallationError::PrivateApp {
            app: custom.client_id.clone(),
            company: CompanyId::new("globex"),
        })
    );
}

#[test]
fn model_approving_a_request_for_an_app_that_no_longer_uses_a_service_account_creates_none() {
    let mut app = app();
    let mut installation = requested(&app);
    // The app stopped using its service account after the request named its manifest.
    app.flows = AppFlows::UserDelegated;
    let change = installation
        .approve(
            &app,
            &actor(&admin()),
            BTreeSet::from([ProjectId::new("tower")]),
            UserId::new("sa"),
            t0(),
        )
        .unwrap();
    assert_eq!(change, None);
    assert_eq!(installation.service_account, None);
    assert_eq!(installation.status, InstallationStatus::Active);
}

#[test]
fn model_approving_an_active_user_access_install_needs_a_manifest_to_approve() {
    let mut app = app();
    app.manifests.clear();
    let acme = Company::new("acme", "Acme");
    let mut company = acme.clone();
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    let mut installation =
        Installation::by_user_consent(&app, &company, &UserId::new("john"), t0()).unwrap();
    let before = installation.clone();
    let result = installation.approve(
        &app,
        &actor(&admin()),
        BTreeSet::new(),
        UserId::new("sa"),
        t0(),
    );
    assert_eq!(
        result,
        Err(InstallationError::NoManifest {
            app: app.client_id.clone()
        })
    );
    assert_eq!(installation, before);
}
