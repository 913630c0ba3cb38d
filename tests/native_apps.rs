//! Native apps (RFC 8252): a public client registered as native may redirect to a loopback IP
//! redirect URI it registered at any port (§7.3), and to nothing else it did not register;
//! every other app's redirect URIs match exactly (RFC 9700 §4.1.3).

mod support;

use appgrant::grant::{
    AppRegistration, AuthorizationRequest, AuthorizationResponse, AuthorizeError,
    ClientAuthentication, ErrorPage, RegistrationError, TokenRequest,
};
use appgrant::model::{App, AppFlows, ApplicationType, ClientType};
use appgrant::token::Secret;
use support::{VERIFIER, World};

const LOOPBACK_V4: &str = "http://127.0.0.1/callback";
const LOOPBACK_V6: &str = "http://[::1]/oauth/done?app=pocket";

fn registration(application_type: ApplicationType, client_type: ClientType) -> AppRegistration {
    AppRegistration {
        name: "Pocket".into(),
        client_type,
        application_type,
        redirect_uris: vec![
            LOOPBACK_V4.into(),
            LOOPBACK_V6.into(),
            "http://localhost/callback".into(),
            "com.example.pocket:/callback".into(),
        ],
        flows: AppFlows::UserDelegated,
        manifest: None,
        ceiling: None,
        profile: Default::default(),
        owner: None,
        security: Default::default(),
    }
}

async fn registered(world: &World, application_type: ApplicationType) -> App {
    let registration = registration(application_type, ClientType::Public);
    world.server.register_app(registration).await.unwrap().app
}

fn native_app() -> App {
    registration(ApplicationType::Native, ClientType::Public)
        .register(&mut rand::thread_rng())
        .unwrap()
        .0
}

/// Jane authorizes `app` to redirect to `redirect_uri`, with PKCE.
async fn authorize(
    world: &World,
    app: &App,
    redirect_uri: &str,
) -> Result<AuthorizationResponse, AuthorizeError> {
    let request = AuthorizationRequest {
        client_id: Some(app.client_id.to_string()),
        redirect_uri: Some(redirect_uri.into()),
        ..world.authorization_request()
    };
    world
        .server
        .approve_authorization(&request, &world.jane, Some(&world.acme))
        .await
}

fn code_sent_to(response: AuthorizationResponse, redirect_uri: &str) -> Secret {
    let AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    let location = location.expose();
    assert!(
        location.starts_with(&format!("{redirect_uri}?"))
            || location.starts_with(&format!("{redirect_uri}&")),
        "redirected to {location}, not {redirect_uri}"
    );
    let code = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.into_owned())
        .expect("a code");
    Secret::new(code)
}

async fn exchange(world: &World, app: &App, code: Secret, redirect_uri: &str) -> bool {
    let public =
        ClientAuthentication::from_request(None, Some(app.client_id.as_str()), None).unwrap();
    let request = TokenRequest::AuthorizationCode {
        code,
        redirect_uri: Some(redirect_uri.into()),
        code_verifier: Some(VERIFIER.into()),
        resource: None,
    };
    world.server.token(request, &public).await.is_ok()
}

#[test]
fn a_native_apps_loopback_ip_redirect_matches_at_any_port() {
    let app = native_app();
    for requested in [
        LOOPBACK_V4,
        "http://127.0.0.1:8080/callback",
        "http://127.0.0.1:65535/callback",
        "http://[::1]:51004/oauth/done?app=pocket",
        "http://[::1]/oauth/done?app=pocket",
    ] {
        assert!(app.has_redirect_uri(requested), "{requested} refused");
    }
}

#[test]
fn a_native_apps_loopback_redirect_matches_only_its_own_host_path_and_query() {
    let app = native_app();
    for requested in [
        // Another path, another query, a path that normalises to the registered one.
        "http://127.0.0.1:8080/callback/",
        "http://127.0.0.1:8080/other",
        "http://127.0.0.1:8080/callback?extra=1",
        "http://127.0.0.1:8080/x/../callback",
        "http://[::1]:8080/oauth/done",
        // The other loopback literal, or the same address written otherwise.
        "http://[::1]:8080/callback",
        "http://127.0.0.2:8080/callback",
        "http://0x7f.0.0.1:8080/callback",
        "http://127.1:8080/callback",
        // Ports that are not ports, user info, a fragment, https.
        "http://127.0.0.1:/callback",
        "http://127.0.0.1:0/callback",
        "http://127.0.0.1:65536/callback",
        "http://127.0.0.1:80@evil.example.com/callback",
        "http://127.0.0.1:8080/callback#fragment",
        "https://127.0.0.1:8080/callback",
        "http://127.0.0.1.evil.example.com/callback",
    ] {
        assert!(!app.has_redirect_uri(requested), "{requested} accepted");
    }
}

#[test]
fn a_native_apps_localhost_and_private_scheme_redirects_match_exactly() {
    let app = native_app();
    assert!(app.has_redirect_uri("http://localhost/callback"));
    assert!(!app.has_redirect_uri("http://localhost:8080/callback"));
    assert!(app.has_redirect_uri("com.example.pocket:/callback"));
    assert!(!app.has_redirect_uri("com.example.pocket:/other"));
}

#[test]
fn a_web_apps_loopback_redirect_matches_exactly() {
    let app = registration(ApplicationType::Web, ClientType::Public)
        .register(&mut rand::thread_rng())
        .unwrap()
        .0;
    assert!(app.has_redirect_uri(LOOPBACK_V4));
    assert!(!app.has_redirect_uri("http://127.0.0.1:8080/callback"));
}

#[test]
fn a_native_app_is_a_public_client() {
    let refused = registration(ApplicationType::Native, ClientType::Confidential)
        .register(&mut rand::thread_rng())
        .unwrap_err();
    assert_eq!(refused, RegistrationError::ConfidentialNativeApp);
}

#[tokio::test]
async fn a_native_app_gets_its_code_at_the_port_it_listens_on_and_exchanges_it_there() {
    let world = support::world().await;
    let app = registered(&world, ApplicationType::Native).await;
    let listening = "http://127.0.0.1:53682/callback";
    let response = authorize(&world, &app, listening).await.unwrap();
    let code = code_sent_to(response, listening);
    assert!(exchange(&world, &app, code, listening).await);
}

#[tokio::test]
async fn a_native_apps_code_is_exchanged_only_with_the_port_it_was_sent_to() {
    let world = support::world().await;
    let app = registered(&world, ApplicationType::Native).await;
    let listening = "http://127.0.0.1:53682/callback";
    let code = code_sent_to(authorize(&world, &app, listening).await.unwrap(), listening);
    assert!(!exchange(&world, &app, code, "http://127.0.0.1:53683/callback").await);
}

#[tokio::test]
async fn a_web_app_is_never_redirected_to_another_loopback_port() {
    let world = support::world().await;
    let app = registered(&world, ApplicationType::Web).await;
    let refused = authorize(&world, &app, "http://127.0.0.1:53682/callback")
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        AuthorizeError::Page(ErrorPage::UnregisteredRedirectUri)
    );
}

#[tokio::test]
async fn a_native_app_stays_native_in_the_store() {
    let world = support::world().await;
    let app = registered(&world, ApplicationType::Native).await;
    let stored = world.server.app(&app.client_id).await.unwrap();
    assert_eq!(stored.application_type, ApplicationType::Native);
}
