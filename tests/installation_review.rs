//! What admins see before they decide: a company's apps with who asked and when, an install
//! review, an update review with exactly what the new version changes; and what the consent
//! page tells a person the app may do through them.

mod support;

use appgrant::model::*;
use appgrant::server::{ReviewStage, ServerError};

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
    assert!(
        matches!(
            refused,
            Err(ServerError::Installation(
                InstallationError::NotDirectoryAdmin { .. }
            ))
        ),
        "{refused:?}"
    );
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
