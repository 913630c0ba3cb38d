//! Pushed authorization requests (RFC 9126): an app posts its authorization request to
//! `/oauth/par` (authenticated as at the token endpoint) and sends the browser to the
//! authorization endpoint with the `request_uri` it gets back: sealed by the server, good for
//! one use within 60 seconds, by that app only. An app may be required to push.

mod in_process;
mod support;

use appgrant::grant::AppRegistration;
use appgrant::http::{SignIn, SignedIn};
use appgrant::model::*;
use appgrant::token::{DeploymentSecret, Secret};
use appgrant::{AuthorizationServer, Config};
use axum::Router;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use in_process::{Answer, SignedInAs, basic, get, hidden_inputs, post_form, query_param};
use support::{ISSUER, REDIRECT, VERIFIER, World, challenge};

fn signed_in(world: &World, user: &UserId) -> Router {
    in_process::app(
        world.server.clone(),
        SignedInAs {
            user: user.clone(),
            company: world.acme.clone(),
            session: format!("{user}-session"),
        },
    )
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The authorization request an app pushes: code flow, PKCE, state and a scope.
fn pushed_fields() -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("state", "pushed-state".into()),
        ("scope", "rfis:read".into()),
        ("code_challenge", challenge()),
        ("code_challenge_method", "S256".into()),
    ]
}

async fn push_as(
    router: &Router,
    client_id: &ClientId,
    secret: &Secret,
    fields: &[(&str, String)],
) -> Answer {
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let authorization = basic(client_id.as_str(), secret.expose());
    post_form(router, "/oauth/par", &form, Some(&authorization)).await
}

async fn push(router: &Router, world: &World, fields: &[(&str, String)]) -> Answer {
    push_as(router, &world.app.client_id, &world.secret, fields).await
}

/// Pushes the usual request and answers its `request_uri`.
async fn pushed_request_uri(router: &Router, world: &World) -> String {
    let answer = push(router, world, &pushed_fields()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.json()["request_uri"].as_str().unwrap().to_owned()
}

fn authorize_path(client_id: &ClientId, request_uri: &str) -> String {
    format!(
        "/oauth/authorize?client_id={}&request_uri={}",
        encode(client_id.as_str()),
        encode(request_uri)
    )
}

/// Answers the consent page's form with Allow; returns the redirect.
async fn allow(router: &Router, page: &Answer) -> Answer {
    assert_eq!(page.status, 200, "{}", page.body);
    let mut form = hidden_inputs(&page.body);
    form.push(("decision".into(), "allow".into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post_form(router, "/oauth/authorize", &form, None).await
}

async fn exchange(router: &Router, world: &World, code: &str, redirect_uri: &str) -> Answer {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", VERIFIER),
    ];
    let authorization = basic(world.app.client_id.as_str(), world.secret.expose());
    post_form(router, "/oauth/token", &form, Some(&authorization)).await
}

fn assert_error_page(answer: &Answer, says: &str) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        !answer.headers.contains_key("location"),
        "an error page, never a redirect"
    );
    assert!(
        answer.body.contains(says),
        "{says:?} not in {}",
        answer.body
    );
}

fn assert_json_error(answer: &Answer, status: u16, error: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(!answer.headers.contains_key("location"), "never a redirect");
    assert_eq!(answer.json()["error"], error, "{}", answer.body);
}

#[tokio::test]
async fn a_push_answers_201_with_a_request_uri_that_expires_in_60_seconds_uncached() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let answer = push(&router, &world, &pushed_fields()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.headers["cache-control"], "no-store");
    let body = answer.json();
    let request_uri = body["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(body["expires_in"], 60);
    // The browser carries it, but learns nothing of the request from it.
    for private in ["pushed-state", "rfis", &challenge(), "app.example.com"] {
        assert!(
            !request_uri.contains(private),
            "{private} shows in {request_uri}"
        );
    }
    // Every push makes a new one.
    let again = push(&router, &world, &pushed_fields()).await.json();
    assert_ne!(again["request_uri"], body["request_uri"]);
}

#[tokio::test]
async fn a_pushed_request_leads_to_consent_and_a_code_carrying_the_pushed_redirect_uri_state_and_scope()
 {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let request_uri = pushed_request_uri(&router, &world).await;
    let page = get(
        &router,
        &authorize_path(&world.app.client_id, &request_uri),
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("FieldSync"), "{}", page.body);
    // The form carries the pushed fields, not the request_uri.
    let hidden = hidden_inputs(&page.body);
    let field = |name: &str| {
        hidden
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(field("state").as_deref(), Some("pushed-state"));
    assert_eq!(field("redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(field("request_uri"), None);

    let redirect = allow(&router, &page).await;
    let location = redirect.location();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(location, "state").as_deref(),
        Some("pushed-state")
    );
    assert_eq!(query_param(location, "iss").as_deref(), Some(ISSUER));
    let code = query_param(location, "code").unwrap();
    let tokens = exchange(&router, &world, &code, REDIRECT).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.json()["scope"], "rfis:read");
    assert!(tokens.json()["access_token"].is_string());
}

#[tokio::test]
async fn the_code_from_a_pushed_request_is_bound_to_the_pushed_redirect_uri() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let request_uri = pushed_request_uri(&router, &world).await;
    let page = get(
        &router,
        &authorize_path(&world.app.client_id, &request_uri),
        None,
    )
    .await;
    let code = query_param(allow(&router, &page).await.location(), "code").unwrap();
    let elsewhere = exchange(&router, &world, &code, "urn:ietf:wg:oauth:2.0:oob").await;
    assert_json_error(&elsewhere, 400, "invalid_grant");
}

#[tokio::test]
async fn with_a_remembered_consent_a_pushed_request_redirects_with_a_code_at_once() {
    let world = support::world().await;
    world.code_for(&world.jane).await; // Jane consented once.
    let router = signed_in(&world, &world.jane);
    let request_uri = pushed_request_uri(&router, &world).await;
    let answer = get(
        &router,
        &authorize_path(&world.app.client_id, &request_uri),
        None,
    )
    .await;
    let location = answer.location();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(location, "state").as_deref(),
        Some("pushed-state")
    );
    let code = query_param(location, "code").unwrap();
    assert_eq!(exchange(&router, &world, &code, REDIRECT).await.status, 200);
}

#[tokio::test]
async fn query_parameters_beside_the_request_uri_are_ignored() {
    let world = support::world().await;
    world.code_for(&world.jane).await;
    let router = signed_in(&world, &world.jane);
    let request_uri = pushed_request_uri(&router, &world).await;
    let path = format!(
        "{}&state=forged&state=twice&redirect_uri={}&scope=rfis:admin",
        authorize_path(&world.app.client_id, &request_uri),
        encode("urn:ietf:wg:oauth:2.0:oob")
    );
    let location = get(&router, &path, None).await.location().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("pushed-state")
    );
}

#[tokio::test]
async fn a_request_uri_is_used_once() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let request_uri = pushed_request_uri(&router, &world).await;
    let path = authorize_path(&world.app.client_id, &request_uri);
    assert_eq!(get(&router, &path, None).await.status, 200);
    let again = get(&router, &path, None).await;
    assert_error_page(&again, "already used");
}

#[tokio::test]
async fn a_tampered_or_unknown_request_uri_is_refused_with_a_page() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let request_uri = pushed_request_uri(&router, &world).await;
    // One character changed in the sealed part.
    let mut tampered: Vec<char> = request_uri.chars().collect();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for bad in [
        tampered.as_str(),
        "urn:ietf:params:oauth:request_uri:nothing-we-issued",
        "https://app.example.com/request.jwt",
    ] {
        let answer = get(&router, &authorize_path(&world.app.client_id, bad), None).await;
        assert_error_page(&answer, "not valid for this client");
    }
    // The genuine one still works: a refused attempt does not spend it.
    let page = get(
        &router,
        &authorize_path(&world.app.client_id, &request_uri),
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
}

#[tokio::test]
async fn a_request_uri_too_short_to_hold_a_nonce_and_a_tag_is_refused_with_a_page() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    // The sealed part is a 24-byte nonce, then the ciphertext and its 16-byte tag.
    for length in [0u8, 1, 10, 23, 24, 24 + 15, 24 + 16] {
        let bytes: Vec<u8> = (0..length).collect();
        let request_uri = format!(
            "urn:ietf:params:oauth:request_uri:{}",
            URL_SAFE_NO_PAD.encode(bytes)
        );
        let answer = get(
            &router,
            &authorize_path(&world.app.client_id, &request_uri),
            None,
        )
        .await;
        assert_error_page(&answer, "not valid for this client");
    }
}

#[tokio::test]
async fn a_request_uri_expires_60_seconds_after_the_push() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let (first, second) = (
        pushed_request_uri(&router, &world).await,
        pushed_request_uri(&router, &world).await,
    );
    world.clock.advance(TimeDelta::seconds(59));
    let page = get(&router, &authorize_path(&world.app.client_id, &first), None).await;
    assert_eq!(
        page.status, 200,
        "still good after 59 seconds: {}",
        page.body
    );
    world.clock.advance(TimeDelta::seconds(1));
    let answer = get(
        &router,
        &authorize_path(&world.app.client_id, &second),
        None,
    )
    .await;
    assert_error_page(&answer, "expired");
}

#[tokio::test]
async fn another_clients_request_uri_is_refused() {
    let world = support::world().await;
    let other = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap()
        .app;
    let router = signed_in(&world, &world.jane);
    let request_uri = pushed_request_uri(&router, &world).await;
    let answer = get(
        &router,
        &authorize_path(&other.client_id, &request_uri),
        None,
    )
    .await;
    assert_error_page(&answer, "not valid for this client");
    // Without a client_id at all, it is refused too.
    let path = format!("/oauth/authorize?request_uri={}", encode(&request_uri));
    assert_eq!(get(&router, &path, None).await.status, 400);
}

#[tokio::test]
async fn a_request_uri_in_the_push_is_invalid_request() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let mut fields = pushed_fields();
    fields.push(("request_uri", "urn:ietf:params:oauth:request_uri:x".into()));
    let answer = push(&router, &world, &fields).await;
    assert_json_error(&answer, 400, "invalid_request");
}

#[tokio::test]
async fn a_push_with_a_wrong_client_secret_is_401_invalid_client() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let answer = push_as(
        &router,
        &world.app.client_id,
        &Secret::new("not the secret"),
        &pushed_fields(),
    )
    .await;
    assert_json_error(&answer, 401, "invalid_client");
    // No credentials at all, for a confidential app: 401 too.
    let mut fields = pushed_fields();
    fields.push(("client_id", world.app.client_id.to_string()));
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = post_form(&router, "/oauth/par", &form, None).await;
    assert_json_error(&answer, 401, "invalid_client");
}

#[tokio::test]
async fn a_client_id_in_the_push_must_be_the_authenticated_clients() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let mut fields = pushed_fields();
    fields.push(("client_id", "someone-else".into()));
    let answer = push(&router, &world, &fields).await;
    // Basic names one client and the body another.
    assert_json_error(&answer, 400, "invalid_request");
    // Through the server's API as well.
    let request = appgrant::grant::AuthorizationRequest {
        client_id: Some("someone-else".into()),
        ..world.authorization_request()
    };
    let refused = world
        .server
        .push_authorization(&world.client(), &request)
        .await
        .unwrap_err();
    assert_eq!(refused.code().as_str(), "invalid_request");
    // Naming itself is fine.
    let mut fields = pushed_fields();
    fields.push(("client_id", world.app.client_id.to_string()));
    assert_eq!(push(&router, &world, &fields).await.status, 201);
}

#[tokio::test]
async fn an_invalid_push_is_a_400_json_error_never_a_redirect() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let with = |name: &'static str, value: &str| {
        let mut fields: Vec<(&str, String)> = pushed_fields()
            .into_iter()
            .filter(|(key, _)| *key != name)
            .collect();
        fields.push((name, value.to_owned()));
        fields
    };
    let cases = [
        (
            with("redirect_uri", "https://attacker.example/cb"),
            "invalid_request",
        ),
        (with("response_type", "token"), "unsupported_response_type"),
        (with("code_challenge_method", "plain"), "invalid_request"),
        (with("scope", "rfis:everything"), "invalid_scope"),
        (
            with("resource", "https://unknown.example/api"),
            "invalid_target",
        ),
    ];
    for (fields, error) in cases {
        let answer = push(&router, &world, &fields).await;
        assert_json_error(&answer, 400, error);
    }
    let no_redirect: Vec<(&str, String)> = pushed_fields()
        .into_iter()
        .filter(|(key, _)| *key != "redirect_uri")
        .collect();
    assert_json_error(
        &push(&router, &world, &no_redirect).await,
        400,
        "invalid_request",
    );
}

#[tokio::test]
async fn a_refused_push_says_what_was_wrong_in_its_error_description() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let without = |name: &str| -> Vec<(&'static str, String)> {
        pushed_fields()
            .into_iter()
            .filter(|(key, _)| *key != name)
            .collect()
    };
    let mut unregistered = without("redirect_uri");
    unregistered.push(("redirect_uri", "https://attacker.example/cb".into()));
    let mut plain = without("code_challenge_method");
    plain.push(("code_challenge_method", "plain".into()));
    let cases = [
        (without("redirect_uri"), "redirect_uri is required"),
        (
            unregistered,
            "redirect_uri is not registered for this client",
        ),
        // What the authorization endpoint would redirect says the same in the JSON error.
        (
            plain,
            "code_challenge_method plain is not allowed; use S256",
        ),
    ];
    for (fields, says) in cases {
        let answer = push(&router, &world, &fields).await;
        assert_json_error(&answer, 400, "invalid_request");
        assert_eq!(answer.json()["error_description"], says, "{}", answer.body);
    }
    // A failed client authentication is described as at the token endpoint.
    let answer = push_as(
        &router,
        &world.app.client_id,
        &Secret::new("not the secret"),
        &pushed_fields(),
    )
    .await;
    assert_json_error(&answer, 401, "invalid_client");
    assert_eq!(
        answer.json()["error_description"],
        "client authentication failed: wrong client secret"
    );
}

#[tokio::test]
async fn a_public_client_pushes_with_its_client_id_alone() {
    let world = support::world().await;
    let registration = AppRegistration {
        client_type: ClientType::Public,
        application_type: ApplicationType::Native,
        redirect_uris: vec!["com.example.app:/callback".into()],
        flows: AppFlows::UserDelegated,
        manifest: None,
        ..support::both_flows_app()
    };
    let app = world.server.register_app(registration).await.unwrap().app;
    let router = signed_in(&world, &world.jane);
    let form = [
        ("client_id", app.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", "com.example.app:/callback"),
        ("code_challenge", &challenge()),
        ("code_challenge_method", "S256"),
    ];
    let answer = post_form(&router, "/oauth/par", &form, None).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let request_uri = answer.json()["request_uri"].as_str().unwrap().to_owned();
    let page = get(&router, &authorize_path(&app.client_id, &request_uri), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
}

async fn par_required_app(world: &World) -> (App, Secret) {
    let registration = AppRegistration {
        security: ClientSecurity {
            pushed_authorization: PushedAuthorization::Required,
            ..ClientSecurity::default()
        },
        ..support::both_flows_app()
    };
    let registered = world.server.register_app(registration).await.unwrap();
    (registered.app, registered.client_secret.unwrap())
}

#[tokio::test]
async fn an_app_that_must_push_is_refused_a_plain_request_and_served_a_pushed_one() {
    let world = support::world().await;
    let (app, secret) = par_required_app(&world).await;
    let router = signed_in(&world, &world.jane);
    let plain = format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state=s&code_challenge={}&code_challenge_method=S256",
        app.client_id,
        encode(REDIRECT),
        challenge()
    );
    let refused = get(&router, &plain, None).await;
    let location = refused.location();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(location, "error_description").as_deref(),
        Some("this client must push its authorization requests")
    );

    // Pushed, it works, and the consent form's answer is accepted (the requirement is the
    // GET's, where the client's request arrives, not the user's form POST's).
    let answer = push_as(&router, &app.client_id, &secret, &pushed_fields()).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let request_uri = answer.json()["request_uri"].as_str().unwrap().to_owned();
    let page = get(&router, &authorize_path(&app.client_id, &request_uri), None).await;
    let redirect = allow(&router, &page).await;
    let location = redirect.location();
    assert!(query_param(location, "code").is_some(), "{location}");
    assert_eq!(
        query_param(location, "state").as_deref(),
        Some("pushed-state")
    );
}

#[tokio::test]
async fn metadata_names_the_pushed_authorization_endpoint_and_requires_it_of_nobody() {
    let world = support::world().await;
    let router = signed_in(&world, &world.jane);
    let metadata = get(&router, "/.well-known/oauth-authorization-server", None)
        .await
        .json();
    assert_eq!(
        metadata["pushed_authorization_request_endpoint"],
        format!("{ISSUER}/oauth/par")
    );
    assert_eq!(metadata["require_pushed_authorization_requests"], false);
}

/// A host whose session is a header: signed in as its value, if present.
#[derive(Clone)]
struct HeaderSession;

impl SignIn for HeaderSession {
    async fn signed_in(&self, request: &Parts) -> Option<SignedIn> {
        let user = request.headers.get("x-user")?.to_str().ok()?;
        Some(SignedIn {
            user: UserId::new(user),
            company: Some(CompanyId::new("acme")),
            session: Secret::new(format!("{user}-session")),
        })
    }

    fn sign_in_url(&self, return_to: &str) -> String {
        format!("/login?return_to={}", encode(return_to))
    }
}

#[tokio::test]
async fn a_request_uri_survives_the_sign_in_and_is_spent_on_the_return() {
    let world = support::world().await;
    let router = in_process::app(world.server.clone(), HeaderSession);
    let request_uri = pushed_request_uri(&router, &world).await;
    let path = authorize_path(&world.app.client_id, &request_uri);
    // Nobody signed in: off to sign in, twice if need be, without spending the request_uri.
    for _ in 0..2 {
        let to_sign_in = get(&router, &path, None).await;
        let location = to_sign_in.location();
        assert!(location.starts_with("/login?"), "{location}");
        let return_to = query_param(&format!("https://host{location}"), "return_to").unwrap();
        assert_eq!(return_to, path);
    }
    // Back from the sign-in, signed in as Jane: the consent page.
    let back = axum::http::Request::get(&path)
        .header("x-user", "jane")
        .body(axum::body::Body::empty())
        .unwrap();
    let page = in_process::send(&router, back).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // Then it is spent.
    let again = axum::http::Request::get(&path)
        .header("x-user", "jane")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_error_page(&in_process::send(&router, again).await, "already used");
}

/// Two instances over one store with one deployment secret: what one seals, the other opens,
/// once; an instance with another secret cannot.
#[tokio::test]
async fn a_request_uri_pushed_at_one_instance_works_once_at_another_sharing_the_secret() {
    let world = support::world().await;
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let instance = |secret: &DeploymentSecret| {
        let server =
            AuthorizationServer::builder(world.server.store().clone(), Config::new(ISSUER))
                .deployment_secret(secret)
                .build()
                .unwrap();
        in_process::app(
            server,
            SignedInAs {
                user: world.jane.clone(),
                company: world.acme.clone(),
                session: "jane-session".into(),
            },
        )
    };
    let (first, second) = (instance(&secret), instance(&secret));
    let stranger = instance(&DeploymentSecret::generate(&mut rand::thread_rng()));
    let request_uri = pushed_request_uri(&first, &world).await;
    let path = authorize_path(&world.app.client_id, &request_uri);
    assert_error_page(
        &get(&stranger, &path, None).await,
        "not valid for this client",
    );
    assert_eq!(get(&second, &path, None).await.status, 200);
    assert_error_page(&get(&first, &path, None).await, "already used");
}

#[tokio::test]
async fn an_app_pushes_with_a_private_key_jwt_addressed_to_the_par_endpoint_once() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use p256::pkcs8::EncodePrivateKey;
    let world = support::world().await;
    let secret = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let point = secret.verifying_key().to_encoded_point(false);
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": "k1",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    });
    let pem = secret
        .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let signing = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let registration = AppRegistration {
        flows: AppFlows::UserDelegated,
        manifest: None,
        security: ClientSecurity {
            authentication: ClientAuthMethod::PrivateKeyJwt { keys: vec![jwk] },
            ..ClientSecurity::default()
        },
        ..support::both_flows_app()
    };
    let app = world.server.register_app(registration).await.unwrap().app;
    let now = appgrant::server::Clock::now(world.clock.as_ref()).timestamp();
    let claims = serde_json::json!({
        "iss": app.client_id.as_str(),
        "sub": app.client_id.as_str(),
        "aud": format!("{ISSUER}/oauth/par"),
        "jti": "push-1",
        "iat": now,
        "exp": now + 60,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let assertion = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
    let mut fields = pushed_fields();
    fields.extend([
        (
            "client_assertion_type",
            appgrant::grant::JWT_BEARER_ASSERTION.to_owned(),
        ),
        ("client_assertion", assertion),
    ]);
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let router = signed_in(&world, &world.jane);
    let answer = post_form(&router, "/oauth/par", &form, None).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let request_uri = answer.json()["request_uri"].as_str().unwrap().to_owned();
    let page = get(&router, &authorize_path(&app.client_id, &request_uri), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // The same assertion again is a replay.
    let replayed = post_form(&router, "/oauth/par", &form, None).await;
    assert_json_error(&replayed, 401, "invalid_client");
}
