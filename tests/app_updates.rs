//! A developer changes their app: name, profile, redirect URIs and flows, each checked exactly
//! as registration checks it; an update that fails any check changes nothing; what changed
//! applies at the next request. And the listings a developer portal shows: every app, and an
//! app's installations.

mod support;

use appgrant::audit::AuditActor;
use appgrant::grant::{AppRegistration, AppUpdate, AuthorizeError, ErrorPage, RegistrationError};
use appgrant::model::*;
use appgrant::server::ServerError;
use support::{REDIRECT, World};

const OTHER_REDIRECT: &str = "https://app.example.com/other-callback";

fn profile() -> AppProfile {
    AppProfile {
        publisher: Some("FieldSync Ltd".into()),
        description: Some("Syncs RFIs.".into()),
        homepage: Some("https://fieldsync.example.com".into()),
        logo_url: Some("https://fieldsync.example.com/logo.png".into()),
    }
}

async fn stored(world: &World) -> App {
    world.server.app(&world.app.client_id).await.unwrap()
}

/// Asks for `update`, expecting it refused with `expected` and nothing changed.
async fn refused(world: &World, update: AppUpdate, expected: RegistrationError) {
    let before = stored(world).await;
    let error = world
        .server
        .update_app(&world.app.client_id, update.clone())
        .await
        .unwrap_err();
    match error {
        ServerError::Registration(error) => assert_eq!(error, expected, "{update:?}"),
        other => panic!("{update:?} was refused with {other:?}"),
    }
    assert_eq!(
        stored(world).await,
        before,
        "a refused update changed the app"
    );
}

#[tokio::test]
async fn an_update_changes_only_the_fields_it_names() {
    let world = support::world().await;
    let update = AppUpdate {
        name: Some("FieldSync Pro".into()),
        profile: Some(profile()),
        ..AppUpdate::default()
    };
    let updated = world
        .server
        .update_app(&world.app.client_id, update)
        .await
        .unwrap();
    let expected = App {
        name: "FieldSync Pro".into(),
        profile: profile(),
        revision: 1,
        ..world.app.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(stored(&world).await, expected);

    let update = AppUpdate {
        redirect_uris: Some(vec![OTHER_REDIRECT.into()]),
        flows: Some(AppFlows::UserDelegated),
        ..AppUpdate::default()
    };
    let updated = world
        .server
        .update_app(&world.app.client_id, update)
        .await
        .unwrap();
    let expected = App {
        redirect_uris: vec![OTHER_REDIRECT.into()],
        flows: AppFlows::UserDelegated,
        revision: 2,
        ..expected
    };
    assert_eq!(updated, expected);
    assert_eq!(stored(&world).await, expected);
    // Nothing at all: nothing changes.
    let same = world
        .server
        .update_app(&world.app.client_id, AppUpdate::default())
        .await
        .unwrap();
    assert_eq!(same, expected);
}

#[tokio::test]
async fn an_update_with_an_invalid_redirect_uri_changes_nothing() {
    let world = support::world().await;
    for bad in [
        "not a uri",
        "http://app.example.com/callback",
        "https://app.example.com/callback#fragment",
        "javascript:alert(1)",
        "data:text/html,hi",
        "/relative/callback",
    ] {
        let update = AppUpdate {
            // A valid name and URI alongside: the bad one refuses the whole update.
            name: Some("Renamed".into()),
            redirect_uris: Some(vec![OTHER_REDIRECT.into(), bad.into()]),
            ..AppUpdate::default()
        };
        refused(
            &world,
            update,
            RegistrationError::InvalidRedirectUri(bad.into()),
        )
        .await;
    }
}

#[tokio::test]
async fn an_update_with_a_profile_link_that_is_not_https_changes_nothing() {
    let world = support::world().await;
    for (field, bad) in [
        ("homepage", "http://fieldsync.example.com"),
        ("homepage", "javascript:alert(1)"),
        ("logo_url", "http://fieldsync.example.com/logo.png"),
        ("logo_url", "https://"),
    ] {
        let mut linked = profile();
        match field {
            "homepage" => linked.homepage = Some(bad.into()),
            _ => linked.logo_url = Some(bad.into()),
        }
        let update = AppUpdate {
            profile: Some(linked),
            ..AppUpdate::default()
        };
        refused(
            &world,
            update,
            RegistrationError::InvalidProfileUrl { field },
        )
        .await;
    }
}

#[tokio::test]
async fn an_update_must_leave_a_name() {
    let world = support::world().await;
    for blank in ["", "   ", "\t\n"] {
        let update = AppUpdate {
            name: Some(blank.into()),
            ..AppUpdate::default()
        };
        refused(&world, update, RegistrationError::BlankName).await;
    }
}

#[tokio::test]
async fn the_user_delegated_flow_needs_a_redirect_uri_after_an_update_too() {
    let world = support::world().await;
    let no_uris = AppUpdate {
        redirect_uris: Some(Vec::new()),
        ..AppUpdate::default()
    };
    refused(&world, no_uris, RegistrationError::NoRedirectUri).await;
    // Without the flow, no redirect URI is needed.
    let service_only = AppUpdate {
        redirect_uris: Some(Vec::new()),
        flows: Some(AppFlows::ServiceAccount),
        ..AppUpdate::default()
    };
    let updated = world
        .server
        .update_app(&world.app.client_id, service_only)
        .await
        .unwrap();
    assert!(updated.redirect_uris.is_empty());
    // And turning the flow back on without one is refused.
    let user_again = AppUpdate {
        flows: Some(AppFlows::Both),
        ..AppUpdate::default()
    };
    refused(&world, user_again, RegistrationError::NoRedirectUri).await;
}

#[tokio::test]
async fn a_service_account_needs_a_confidential_client_with_a_manifest_after_an_update_too() {
    let world = support::world().await;
    // A confidential app that acts only as its users, with no manifest.
    let user_only = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        flows: AppFlows::UserDelegated,
        manifest: None,
        ..support::both_flows_app()
    };
    let user_only = world.server.register_app(user_only).await.unwrap().app;
    let service = AppUpdate {
        flows: Some(AppFlows::Both),
        ..AppUpdate::default()
    };
    let error = world
        .server
        .update_app(&user_only.client_id, service.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ServerError::Registration(RegistrationError::NoManifest)
        ),
        "{error:?}"
    );
    assert_eq!(
        world.server.app(&user_only.client_id).await.unwrap(),
        user_only
    );
    // Once it publishes a manifest, it may.
    world
        .server
        .publish_manifest(
            &user_only.client_id,
            Manifest::new(0).project_tool("rfis", Level::ReadOnly),
        )
        .await
        .unwrap();
    let updated = world
        .server
        .update_app(&user_only.client_id, service.clone())
        .await
        .unwrap();
    assert_eq!(updated.flows, AppFlows::Both);

    // A public client never may.
    let public = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        client_type: ClientType::Public,
        flows: AppFlows::UserDelegated,
        manifest: None,
        ..support::both_flows_app()
    };
    let public = world.server.register_app(public).await.unwrap().app;
    world
        .server
        .publish_manifest(&public.client_id, Manifest::new(0))
        .await
        .unwrap();
    let before = world.server.app(&public.client_id).await.unwrap();
    let error = world
        .server
        .update_app(&public.client_id, service)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ServerError::Registration(RegistrationError::PublicServiceAccount)
        ),
        "{error:?}"
    );
    assert_eq!(world.server.app(&public.client_id).await.unwrap(), before);
}

#[tokio::test]
async fn a_removed_redirect_uri_is_refused_at_the_next_authorization_request() {
    let world = support::world().await;
    assert!(
        world
            .server
            .consent_prompt(&world.authorization_request())
            .await
            .is_ok()
    );
    let update = AppUpdate {
        redirect_uris: Some(vec![OTHER_REDIRECT.into()]),
        ..AppUpdate::default()
    };
    world
        .server
        .update_app(&world.app.client_id, update)
        .await
        .unwrap();
    let error = world
        .server
        .consent_prompt(&world.authorization_request())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        AuthorizeError::Page(ErrorPage::UnregisteredRedirectUri)
    );
    let mut request = world.authorization_request();
    request.redirect_uri = Some(OTHER_REDIRECT.into());
    assert!(world.server.consent_prompt(&request).await.is_ok());
    assert_ne!(REDIRECT, OTHER_REDIRECT);
}

#[tokio::test]
async fn updating_an_unknown_app_is_refused() {
    let world = support::world().await;
    let error = world
        .server
        .update_app(&ClientId::new("nobody"), AppUpdate::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ServerError::UnknownApp(_)), "{error:?}");
    assert!(
        world.server.app(&ClientId::new("nobody")).await.is_err(),
        "updating an unknown app created it"
    );
}

#[tokio::test]
async fn an_update_is_audited_as_the_developers() {
    let world = support::world().await;
    let update = AppUpdate {
        name: Some("FieldSync Pro".into()),
        ..AppUpdate::default()
    };
    world
        .server
        .update_app(&world.app.client_id, update)
        .await
        .unwrap();
    let event = world.audit.events().pop().unwrap();
    assert_eq!(event.actor, AuditActor::Developer);
    assert_eq!(event.app, world.app.client_id);
    assert_eq!(event.company, None);
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["action"]["action"], "app_updated");
}

#[tokio::test]
async fn every_app_is_listed_sorted_by_client_id() {
    let world = support::world().await;
    let mut registered = vec![world.app.clone()];
    for name in ["Second", "Third"] {
        let registration = AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            name: name.into(),
            ..support::both_flows_app()
        };
        registered.push(world.server.register_app(registration).await.unwrap().app);
    }
    registered.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    assert_eq!(world.server.apps().await.unwrap(), registered);
}

#[tokio::test]
async fn an_apps_installations_are_every_company_that_asked_for_it_and_no_other_apps() {
    let world = support::world().await;
    let installation = world.install_service_account(&[&world.tower]).await;
    // Another company asks for it; another app is installed in Acme.
    let globex = CompanyId::new("globex");
    world
        .server
        .save_company(Company::new("globex", "Globex"))
        .await
        .unwrap();
    world
        .server
        .set_membership(&globex, &world.john, Permissions::none())
        .await
        .unwrap();
    let in_globex = world
        .server
        .request_installation(&globex, &world.app.client_id, &world.john)
        .await
        .unwrap();
    let other = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap()
        .app;
    world
        .server
        .request_installation(&world.acme, &other.client_id, &world.jane)
        .await
        .unwrap();

    let listed = world
        .server
        .app_installations(&world.app.client_id)
        .await
        .unwrap();
    assert_eq!(listed, vec![installation, in_globex]);
    let error = world
        .server
        .app_installations(&ClientId::new("nobody"))
        .await
        .unwrap_err();
    assert!(matches!(error, ServerError::UnknownApp(_)), "{error:?}");
}
