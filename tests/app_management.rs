//! Apps as a developer portal manages them: what pages say about an app (publisher,
//! description, homepage, logo), and custom apps, private to the company that owns them.

mod support;

use appgrant::grant::{AppRegistration, AuthorizationRequest, RegistrationError};
use appgrant::model::*;
use appgrant::server::ServerError;

fn profiled() -> AppRegistration {
    AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        profile: AppProfile {
            publisher: Some("FieldSync Ltd".into()),
            description: Some("Syncs RFIs with the field crews' tablets.".into()),
            homepage: Some("https://fieldsync.example.com".into()),
            logo_url: Some("https://fieldsync.example.com/logo.png".into()),
        },
        ..support::both_flows_app()
    }
}

#[tokio::test]
async fn an_apps_profile_is_kept_as_registered() {
    let world = support::world().await;
    let registered = world.server.register_app(profiled()).await.unwrap();
    let stored = world.server.app(&registered.app.client_id).await.unwrap();
    assert_eq!(stored.profile, profiled().profile);
    assert_eq!(stored.owner, None);
}

#[test]
fn a_profile_links_only_to_https_urls() {
    for (field, bad) in [
        ("homepage", "javascript:alert(1)"),
        ("homepage", "http://fieldsync.example.com"),
        ("homepage", "data:text/html,hi"),
        ("homepage", "not a url"),
        ("logo_url", "http://fieldsync.example.com/logo.png"),
        ("logo_url", "https://"),
    ] {
        let mut registration = profiled();
        match field {
            "homepage" => registration.profile.homepage = Some(bad.into()),
            _ => registration.profile.logo_url = Some(bad.into()),
        }
        assert_eq!(
            registration.register(&mut rand::thread_rng()).err(),
            Some(RegistrationError::InvalidProfileUrl { field }),
            "{field} = {bad}"
        );
    }
}

/// A custom app owned by `owner`.
async fn custom_app(world: &support::World, owner: &str) -> App {
    let registration = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        owner: Some(CompanyId::new(owner)),
        ..support::both_flows_app()
    };
    world.server.register_app(registration).await.unwrap().app
}

#[tokio::test]
async fn a_custom_app_can_be_requested_in_its_owner_company_and_nowhere_else() {
    let world = support::world().await;
    let elsewhere = custom_app(&world, "globex").await;
    let refused = world
        .server
        .request_installation(&world.acme, &elsewhere.client_id, &world.jane)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &refused,
            ServerError::Installation(InstallationError::PrivateApp { company, .. })
                if *company == world.acme
        ),
        "{refused:?}"
    );
    let own = custom_app(&world, "acme").await;
    world
        .server
        .request_installation(&world.acme, &own.client_id, &world.jane)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_users_consent_never_installs_another_companys_custom_app() {
    let mut world = support::world().await;
    let mut company = Company::new("acme", "Acme Construction")
        .with_project("tower", "Tower")
        .with_project("depot", "Depot");
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    world.server.save_company(company).await.unwrap();
    let elsewhere = custom_app(&world, "globex").await;
    world.app = elsewhere.clone();
    let request = AuthorizationRequest {
        client_id: Some(elsewhere.client_id.to_string()),
        ..world.authorization_request()
    };
    world
        .server
        .approve_authorization(&request, &world.john, Some(&world.acme))
        .await
        .unwrap();
    let installed = world
        .server
        .installation(&world.acme, &elsewhere.client_id)
        .await;
    assert!(installed.is_err(), "{installed:?}");
}
