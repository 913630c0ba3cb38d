//! What admins see before they decide: a company's apps with who asked and when, an install
//! review, an update review with exactly what the new version changes; and what the consent
//! page tells a person the app may do through them.

mod support;

use appgrant::model::*;
use appgrant::server::{AdminDecision, ReviewStage, ServerError};

#[tokio::test]
async fn a_companys_apps_list_requests_with_who_asked_and_only_for_a_directory_admin() {
    let world = support::world().await;
    world
        .server
        .request_installation(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    let listed = world
        .server
        .company_apps(&world.acme, &world.jane)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let request = &listed[0];
    assert_eq!(request.stage, ReviewStage::Requested);
    assert_eq!(request.app.client_id, world.app.client_id);
    assert_eq!(
        request.requested_by.as_ref().map(|u| u.name.as_str()),
        Some("Jane")
    );
    assert_eq!(request.reviewed.as_ref(), world.app.manifest());
    assert!(request.approved.is_none() && request.changes.is_empty());

    let refused = world.server.company_apps(&world.acme, &world.john).await;
    assert!(not_directory_admin(&refused), "{refused:?}");
    let refused = world
        .server
        .installation_review(&world.acme, &world.app.client_id, &world.john)
        .await;
    assert!(refused.is_err(), "a non-admin saw an install review");
}

#[tokio::test]
async fn an_update_review_shows_what_the_new_version_changes_and_what_stays_in_force() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let installed = world
        .server
        .installation_review(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    assert_eq!(installed.stage, ReviewStage::Installed);
    assert!(installed.reviewed.is_none());

    let raised = Manifest::new(0)
        .company_tool("directory", Level::ReadOnly)
        .project_tool("rfis", Level::Admin)
        .project_tool("photos", Level::ReadOnly);
    world
        .server
        .publish_manifest(&world.app.client_id, raised)
        .await
        .unwrap();
    let review = world
        .server
        .installation_review(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    assert_eq!(review.stage, ReviewStage::UpdatePending);
    assert_eq!(
        review.approved.as_ref(),
        world.app.manifest(),
        "version 1 stays in force"
    );
    assert_eq!(review.reviewed.as_ref().map(|m| m.version), Some(2));
    let changes: Vec<(&str, Level, Level)> = review
        .changes
        .iter()
        .map(|change| (change.tool.as_str(), change.from, change.to))
        .collect();
    assert_eq!(
        changes,
        [
            ("photos", Level::None, Level::ReadOnly),
            ("rfis", Level::Standard, Level::Admin)
        ]
    );
    let listed = world
        .server
        .company_apps(&world.acme, &world.jane)
        .await
        .unwrap();
    assert_eq!(listed[0].stage, ReviewStage::UpdatePending);
}

#[tokio::test]
async fn the_consent_page_says_what_the_app_may_do_through_this_person_in_this_company() {
    let world = support::world().await;
    let capped = appgrant::grant::AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        ceiling: Some(ToolLevels::from([(Tool::new("rfis"), Level::ReadOnly)])),
        ..support::both_flows_app()
    };
    let app = world.server.register_app(capped).await.unwrap().app;
    let request = appgrant::grant::AuthorizationRequest {
        client_id: Some(app.client_id.to_string()),
        ..world.authorization_request()
    };
    let prompt = world.server.consent_prompt(&request).await.unwrap();
    let jane = world
        .server
        .consent_details(&prompt, &world.jane, Some(&world.acme))
        .await
        .unwrap();
    assert_eq!(jane.user.as_ref().map(|u| u.name.as_str()), Some("Jane"));
    assert_eq!(
        jane.company.as_ref().map(|c| c.name.as_str()),
        Some("Acme Construction")
    );
    // Jane is an admin of RFIs on both projects and of the directory; the app's ceiling caps
    // RFIs at read-only and leaves nothing of the directory.
    let expected = Permissions::none()
        .with(Scope::Project(world.tower.clone()), "rfis", Level::ReadOnly)
        .with(
            Scope::Project(ProjectId::new("depot")),
            "rfis",
            Level::ReadOnly,
        );
    assert_eq!(jane.may_do, Some(expected));

    let nowhere = world
        .server
        .consent_details(&prompt, &world.jane, None)
        .await
        .unwrap();
    assert!(nowhere.company.is_none() && nowhere.may_do.is_none());
}

#[tokio::test]
async fn an_app_installed_by_a_persons_consent_waits_for_its_service_account_not_for_an_install() {
    let world = support::world().await;
    world.code_for(&world.john).await;
    let review = world
        .server
        .installation_review(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    assert_eq!(review.stage, ReviewStage::ServiceAccountRequested);
    assert_eq!(review.reviewed.as_ref(), world.app.manifest());
    let denied = jane_decides(
        &world,
        &world.app.client_id,
        review.installation.revision,
        AdminDecision::Deny,
    )
    .await;
    assert!(denied.is_err(), "an active installation cannot be denied");
    let approved = jane_decides(
        &world,
        &world.app.client_id,
        review.installation.revision,
        AdminDecision::Approve {
            projects: [world.tower.clone()].into(),
        },
    )
    .await
    .unwrap();
    assert!(approved.service_account.is_some());
    let token = world.service_token(None).await;
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(world.allowed(&token, &read).await);
}

/// Jane decides on the installation of `app` in Acme as she reviewed it at `revision`.
async fn jane_decides(
    world: &support::World,
    app: &ClientId,
    revision: u64,
    decision: AdminDecision,
) -> Result<Installation, ServerError> {
    world
        .server
        .decide_on_review(&world.acme, app, &world.jane, revision, decision)
        .await
}

fn not_directory_admin<T>(result: &Result<T, ServerError>) -> bool {
    matches!(
        result,
        Err(ServerError::Installation(
            InstallationError::NotDirectoryAdmin { .. }
        ))
    )
}

fn changed_since_review(result: &Result<Installation, ServerError>) -> bool {
    matches!(
        result,
        Err(ServerError::Installation(
            InstallationError::ChangedSinceReview { .. }
        ))
    )
}

fn raised(level: Level) -> Manifest {
    Manifest::new(0)
        .company_tool("directory", Level::ReadOnly)
        .project_tool("rfis", level)
}

#[tokio::test]
async fn a_decision_on_an_installation_that_changed_since_its_review_changes_nothing() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let app = &world.app.client_id;
    let server = &world.server;
    server
        .publish_manifest(
            app,
            raised(Level::Standard).project_tool("photos", Level::ReadOnly),
        )
        .await
        .unwrap();
    let seen = server
        .installation_review(&world.acme, app, &world.jane)
        .await
        .unwrap();
    // The developer publishes a version asking for even more while the admin looks.
    let asks_admin = raised(Level::Admin).project_tool("photos", Level::Admin);
    let newest = server.publish_manifest(app, asks_admin).await.unwrap();
    let late = jane_decides(
        &world,
        app,
        seen.installation.revision,
        AdminDecision::ApproveUpdate,
    )
    .await;
    assert!(changed_since_review(&late), "{late:?}");
    let now = server.installation(&world.acme, app).await.unwrap();
    assert_eq!(now.pending_manifest, Some(newest));
    assert_eq!(now.service_account.unwrap().approved.version, 1);
    let admin_photos = Requirement::new("acme", "photos", Level::Admin).on_project("tower");
    assert!(
        !world
            .allowed(&world.service_token(None).await, &admin_photos)
            .await
    );

    let fresh = server
        .installation_review(&world.acme, app, &world.jane)
        .await
        .unwrap();
    jane_decides(
        &world,
        app,
        fresh.installation.revision,
        AdminDecision::ApproveUpdate,
    )
    .await
    .unwrap();
    assert!(
        world
            .allowed(&world.service_token(None).await, &admin_photos)
            .await
    );
}

#[tokio::test]
async fn an_uninstall_applies_whatever_changed_since_the_review() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let app = &world.app.client_id;
    let seen = world
        .server
        .installation_review(&world.acme, app, &world.jane)
        .await
        .unwrap();
    world
        .server
        .publish_manifest(app, raised(Level::Admin))
        .await
        .unwrap();
    let removed = jane_decides(
        &world,
        app,
        seen.installation.revision,
        AdminDecision::Uninstall,
    )
    .await
    .unwrap();
    assert_eq!(removed.status, InstallationStatus::Uninstalled);
}

#[tokio::test]
async fn only_a_directory_admin_learns_whether_an_app_is_installed_in_the_company() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let listed_elsewhere = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap()
        .app
        .client_id;
    let installed = world.app.client_id.clone();
    let unknown = ClientId::new("no-such-app");
    let server = &world.server;
    let (acme, john) = (&world.acme, &world.john);
    for app in [&installed, &listed_elsewhere, &unknown] {
        let tower: std::collections::BTreeSet<ProjectId> = [world.tower.clone()].into();
        let answers = [
            server
                .approve_installation(acme, app, john, tower.clone())
                .await,
            server.deny_installation(acme, app, john).await,
            server.approve_manifest_update(acme, app, john).await,
            server.set_permitted_projects(acme, app, john, tower).await,
            server.uninstall(acme, app, john).await,
            server
                .decide_on_review(acme, app, john, 0, AdminDecision::Deny)
                .await,
        ];
        for answer in answers {
            assert!(not_directory_admin(&answer), "{app}: {answer:?}");
        }
        let review = server.installation_review(acme, app, john).await;
        assert!(not_directory_admin(&review), "{app}: {review:?}");
    }
}

#[tokio::test]
async fn a_publish_or_a_repeated_request_while_an_admin_reviews_a_request_leaves_it_decidable() {
    let world = support::world().await;
    let app = &world.app.client_id;
    let server = &world.server;
    server
        .request_installation(&world.acme, app, &world.john)
        .await
        .unwrap();
    let seen = server
        .installation_review(&world.acme, app, &world.jane)
        .await
        .unwrap();
    // Neither changes what approving applies: the version the request named.
    server
        .request_installation(&world.acme, app, &world.john)
        .await
        .unwrap();
    server
        .publish_manifest(app, raised(Level::Admin))
        .await
        .unwrap();
    let approved = jane_decides(
        &world,
        app,
        seen.installation.revision,
        AdminDecision::Approve {
            projects: [world.tower.clone()].into(),
        },
    )
    .await
    .unwrap();
    let account = approved.service_account.unwrap();
    assert_eq!(Some(&account.approved), seen.reviewed.as_ref());
    // The version published since waits for its own review.
    assert_eq!(approved.pending_manifest, Some(2));
}

#[tokio::test]
async fn a_denial_or_a_project_change_on_an_installation_changed_since_its_review_is_refused() {
    let world = support::world().await;
    let app = &world.app.client_id;
    let server = &world.server;
    let (acme, jane, john) = (&world.acme, &world.jane, &world.john);
    server.request_installation(acme, app, john).await.unwrap();
    let seen = server.installation_review(acme, app, jane).await.unwrap();
    // Another admin denied it and John asked again: a request Jane has not seen.
    server.deny_installation(acme, app, jane).await.unwrap();
    server.request_installation(acme, app, john).await.unwrap();
    let late = jane_decides(&world, app, seen.installation.revision, AdminDecision::Deny).await;
    assert!(changed_since_review(&late), "{late:?}");
    let tower: std::collections::BTreeSet<ProjectId> = [world.tower.clone()].into();
    server
        .approve_installation(acme, app, jane, tower.clone())
        .await
        .unwrap();
    let seen = server.installation_review(acme, app, jane).await.unwrap();
    let both: std::collections::BTreeSet<ProjectId> =
        [world.tower.clone(), world.depot.clone()].into();
    server
        .set_permitted_projects(acme, app, jane, both)
        .await
        .unwrap();
    let late = jane_decides(
        &world,
        app,
        seen.installation.revision,
        AdminDecision::SetProjects { projects: tower },
    )
    .await;
    assert!(changed_since_review(&late), "{late:?}");
    let now = server.installation(acme, app).await.unwrap();
    assert_eq!(now.service_account.unwrap().permitted_projects.len(), 2);
}

#[tokio::test]
async fn a_request_that_named_no_manifest_is_reviewed_on_the_first_one_its_app_publishes() {
    let world = support::world().await;
    let server = &world.server;
    let registration = appgrant::grant::AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        flows: AppFlows::UserDelegated,
        manifest: None,
        ..support::both_flows_app()
    };
    let app = server
        .register_app(registration)
        .await
        .unwrap()
        .app
        .client_id;
    server
        .request_installation(&world.acme, &app, &world.john)
        .await
        .unwrap();
    let first = server
        .installation_review(&world.acme, &app, &world.jane)
        .await
        .unwrap();
    assert!(
        first.reviewed.is_none(),
        "nothing to approve but user access"
    );
    // The developer adds a service account: a manifest, then the flow, then a new version.
    server
        .publish_manifest(&app, raised(Level::ReadOnly))
        .await
        .unwrap();
    let update = appgrant::grant::AppUpdate {
        flows: Some(AppFlows::Both),
        ..Default::default()
    };
    server.update_app(&app, update).await.unwrap();
    let version = server
        .publish_manifest(&app, raised(Level::Standard))
        .await
        .unwrap();
    let stale = jane_decides(
        &world,
        &app,
        first.installation.revision,
        AdminDecision::Approve {
            projects: Default::default(),
        },
    )
    .await;
    assert!(
        stale.is_err(),
        "approved what the admin did not see: {stale:?}"
    );
    let review = server
        .installation_review(&world.acme, &app, &world.jane)
        .await
        .unwrap();
    assert_eq!(review.reviewed.as_ref().map(|m| m.version), Some(version));
    let approved = jane_decides(
        &world,
        &app,
        review.installation.revision,
        AdminDecision::Approve {
            projects: [world.tower.clone()].into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(approved.service_account.unwrap().approved.version, version);
}
