//! Registering an app: redirect URIs are checked up front, a public client cannot hold a
//! service account, and a confidential client's secret is shown once and stored as a digest.

mod support;

use appgrant::grant::{AppRegistration, RegistrationError};
use appgrant::model::*;
use appgrant::server::ServerError;
use appgrant::token::Secret;

fn with_redirects(uris: &[&str]) -> AppRegistration {
    AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        redirect_uris: uris.iter().map(|uri| (*uri).to_owned()).collect(),
        ..support::both_flows_app()
    }
}

fn register(registration: AppRegistration) -> Result<(App, Option<Secret>), RegistrationError> {
    registration.register(&mut rand::thread_rng())
}

fn rejected_uri(uri: &str) -> Result<(App, Option<Secret>), RegistrationError> {
    Err(RegistrationError::InvalidRedirectUri(uri.to_owned()))
}

fn service_account_only(client_type: ClientType) -> AppRegistration {
    AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        client_type,
        redirect_uris: vec![],
        flows: AppFlows::ServiceAccount,
        ..support::both_flows_app()
    }
}

// ---------------------------------------------------------------------------------------------
// Redirect URIs
// ---------------------------------------------------------------------------------------------

#[test]
fn a_redirect_uri_with_a_fragment_is_rejected() {
    for uri in [
        "https://app.example.com/callback#section",
        "https://app.example.com/callback#",
    ] {
        assert_eq!(register(with_redirects(&[uri])), rejected_uri(uri));
    }
}

#[test]
fn plain_http_off_loopback_is_rejected() {
    for uri in [
        "http://app.example.com/callback",
        "http://localhost.example.com/callback",
        "http://10.0.0.1/callback",
    ] {
        assert_eq!(register(with_redirects(&[uri])), rejected_uri(uri));
    }
}

#[test]
fn plain_http_on_loopback_is_accepted_for_native_apps() {
    for uri in [
        "http://localhost:8080/callback",
        "http://127.0.0.1:53682/callback",
        "http://[::1]:8080/callback",
    ] {
        let (app, _) = register(with_redirects(&[uri])).unwrap();
        assert!(app.has_redirect_uri(uri), "{uri}");
    }
}

#[test]
fn a_relative_or_malformed_redirect_uri_is_rejected() {
    for uri in ["/callback", "app.example.com/callback", "not a uri", ""] {
        assert_eq!(register(with_redirects(&[uri])), rejected_uri(uri));
    }
}

#[test]
fn a_redirect_uri_with_a_script_or_content_scheme_is_rejected() {
    for uri in [
        "javascript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ] {
        assert_eq!(register(with_redirects(&[uri])), rejected_uri(uri));
    }
}

#[test]
fn a_native_app_may_use_its_own_scheme() {
    let uri = "com.example.fieldsync:/oauth/callback";
    let (app, _) = register(with_redirects(&[uri])).unwrap();
    assert!(app.has_redirect_uri(uri));
}

#[test]
fn one_bad_redirect_uri_rejects_the_whole_registration() {
    let bad = "http://app.example.com/callback";
    let registration = with_redirects(&[support::REDIRECT, bad]);
    assert_eq!(register(registration), rejected_uri(bad));
}

#[test]
fn the_out_of_band_uri_is_accepted() {
    let (app, _) = register(with_redirects(&[OUT_OF_BAND])).unwrap();
    assert!(app.has_redirect_uri(OUT_OF_BAND));
}

#[test]
fn redirect_uris_are_kept_exactly_as_registered() {
    let uri = "https://app.example.com/callback/";
    let (app, _) = register(with_redirects(&[uri])).unwrap();
    assert_eq!(app.redirect_uris, vec![uri.to_owned()]);
    assert!(app.has_redirect_uri(uri));
    assert!(!app.has_redirect_uri("https://app.example.com/callback"));
}

#[test]
fn an_app_using_the_authorization_code_flow_needs_a_redirect_uri() {
    for flows in [AppFlows::UserDelegated, AppFlows::Both] {
        let registration = AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            redirect_uris: vec![],
            flows,
            ..support::both_flows_app()
        };
        assert_eq!(
            register(registration),
            Err(RegistrationError::NoRedirectUri)
        );
    }
}

#[test]
fn a_service_account_only_app_needs_no_redirect_uri() {
    let (app, _) = register(service_account_only(ClientType::Confidential)).unwrap();
    assert!(app.redirect_uris.is_empty());
    assert_eq!(app.flows, AppFlows::ServiceAccount);
}

// ---------------------------------------------------------------------------------------------
// Service accounts
// ---------------------------------------------------------------------------------------------

#[test]
fn a_public_client_with_a_service_account_is_rejected() {
    assert_eq!(
        register(service_account_only(ClientType::Public)),
        Err(RegistrationError::PublicServiceAccount)
    );
    let both = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        client_type: ClientType::Public,
        ..support::both_flows_app()
    };
    assert_eq!(register(both), Err(RegistrationError::PublicServiceAccount));
}

#[test]
fn a_public_client_acting_only_as_its_users_is_accepted() {
    let registration = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        client_type: ClientType::Public,
        flows: AppFlows::UserDelegated,
        manifest: None,
        ..support::both_flows_app()
    };
    let (app, secret) = register(registration).unwrap();
    assert_eq!(app.client_type, ClientType::Public);
    assert!(secret.is_none());
    assert!(app.secret_digest.is_none());
}

#[test]
fn an_app_needs_a_name_pages_can_show() {
    for blank in ["", " ", "\t"] {
        let registration = AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            name: blank.into(),
            ..support::both_flows_app()
        };
        assert_eq!(register(registration), Err(RegistrationError::BlankName));
    }
}

#[test]
fn a_service_account_needs_a_manifest() {
    let registration = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        manifest: None,
        ..service_account_only(ClientType::Confidential)
    };
    assert_eq!(register(registration), Err(RegistrationError::NoManifest));
}

#[test]
fn the_first_manifest_is_version_one_whatever_the_developer_numbered_it() {
    let registration = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        manifest: Some(Manifest::new(7).project_tool("rfis", Level::ReadOnly)),
        ..service_account_only(ClientType::Confidential)
    };
    let (app, _) = register(registration).unwrap();
    assert_eq!(app.manifests.len(), 1);
    assert_eq!(app.manifest().unwrap().version, 1);
    assert_eq!(
        app.manifest().unwrap().project.get(&Tool::new("rfis")),
        Some(&Level::ReadOnly)
    );
}

// ---------------------------------------------------------------------------------------------
// Client secrets
// ---------------------------------------------------------------------------------------------

#[test]
fn a_confidential_client_gets_a_secret_stored_only_as_its_digest() {
    let (app, secret) = register(support::both_flows_app()).unwrap();
    let secret = secret.unwrap();
    assert_eq!(app.secret_digest, Some(SecretDigest::of(secret.expose())));
    assert_ne!(app.secret_digest, Some(SecretDigest::of("something else")));
    let stored = serde_json::to_string(&app).unwrap();
    assert!(!stored.contains(secret.expose()));
}

#[test]
fn a_client_secret_is_256_random_bits_in_base64url() {
    let (_, secret) = register(support::both_flows_app()).unwrap();
    let secret = secret.unwrap();
    assert_eq!(secret.expose().len(), 43);
    assert!(
        secret
            .expose()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
}

#[test]
fn each_registration_gets_its_own_client_id_and_secret() {
    let (first, first_secret) = register(support::both_flows_app()).unwrap();
    let (second, second_secret) = register(support::both_flows_app()).unwrap();
    assert_ne!(first.client_id, second.client_id);
    assert_ne!(first_secret, second_secret);
    assert_ne!(first.secret_digest, second.secret_digest);
}

#[tokio::test]
async fn the_server_returns_the_secret_once_and_stores_only_its_digest() {
    let world = support::world().await;
    let stored = world.server.app(&world.app.client_id).await.unwrap();
    assert_eq!(stored, world.app);
    assert_eq!(
        stored.secret_digest,
        Some(SecretDigest::of(world.secret.expose()))
    );
    assert!(!format!("{stored:?}").contains(world.secret.expose()));
    assert!(
        !serde_json::to_string(&stored)
            .unwrap()
            .contains(world.secret.expose())
    );
}

#[tokio::test]
async fn a_registered_apps_secret_does_not_show_in_debug_output() {
    let world = support::world().await;
    let registered = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap();
    let secret = registered.client_secret.clone().unwrap();
    assert!(!format!("{registered:?}").contains(secret.expose()));
}

#[tokio::test]
async fn the_server_refuses_an_invalid_registration() {
    let world = support::world().await;
    let bad = "https://app.example.com/callback#fragment";
    let error = world
        .server
        .register_app(with_redirects(&[bad]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ServerError::Registration(RegistrationError::InvalidRedirectUri(uri)) if uri == bad
        ),
        "{error:?}"
    );
}
