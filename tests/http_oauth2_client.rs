//! The server, proved with a real OAuth 2.0 client: the `oauth2` crate (v5) drives every flow
//! against the demo platform, and a cookie-keeping browser plays the person who signs in and
//! consents.
#![cfg(feature = "axum")]

mod http_support;

use http_support::demo::{COMPANY, DemoApp, REDIRECT_URI};
use http_support::*;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AccessToken, AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, EndpointNotSet, EndpointSet, HttpRequest, IntrospectionUrl, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, RevocationUrl, StandardRevocableToken,
    TokenIntrospectionResponse, TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use std::fmt::Debug;
use std::time::Duration;

/// An `oauth2` client with the authorization, token, introspection and revocation endpoints set.
type OAuthClient = BasicClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// The HTTP client oauth2 sends its requests with (it must not follow redirects).
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// How a developer configures oauth2 for a demo app: its id, its secret if it has one, the
/// server's endpoints and its registered redirect URI.
fn oauth_client(running: &Running, app: &DemoApp) -> OAuthClient {
    // oauth2 insists on an HTTPS revocation endpoint (RFC 7009 §2); see `revoke`.
    let revocation = running
        .url("/oauth/revoke")
        .replacen("http://", "https://", 1);
    let client = BasicClient::new(ClientId::new(app.client_id.clone()))
        .set_auth_uri(AuthUrl::new(running.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(running.url("/oauth/token")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(running.url("/oauth/introspect")).unwrap())
        .set_revocation_url(RevocationUrl::new(revocation).unwrap())
        .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap());
    match &app.client_secret {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.clone())),
        None => client,
    }
}

/// An authorization request as oauth2 builds it: PKCE (S256) and a random CSRF state.
struct Authorization {
    url: String,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
}

fn new_authorization(client: &OAuthClient) -> Authorization {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    Authorization {
        url: url.to_string(),
        state,
        verifier,
    }
}

/// The code in the app's callback, after checking the callback is the app's redirect URI and
/// carries back the state the app sent.
fn code_from(callback: &str, state: &CsrfToken) -> AuthorizationCode {
    assert!(callback.starts_with(REDIRECT_URI), "{callback}");
    assert_eq!(
        query_param(callback, "state").as_deref(),
        Some(state.secret().as_str())
    );
    AuthorizationCode::new(query_param(callback, "code").expect("a code in the callback"))
}

/// A person opens the authorization URL in a fresh browser, lands on the sign-in page, signs in
/// as `username`, is sent back to the authorization, sees the consent page and allows. Returns
/// the code and verifier for the app, and the browser (still signed in).
async fn authorize_in_browser(
    running: &Running,
    client: &OAuthClient,
    username: &str,
) -> (AuthorizationCode, PkceCodeVerifier, Browser) {
    let browser = Browser::new(running);
    let authorization = new_authorization(client);
    let login = browser.open(&authorization.url).await.text().await.unwrap();
    assert!(login.contains("Sign in to Acme Platform"), "{login}");
    let return_to = hidden_inputs(&login)
        .into_iter()
        .find(|(name, _)| name == "return_to")
        .map(|(_, value)| value)
        .unwrap();
    let password = running.user(username).password.clone();
    let signed_in = browser
        .http
        .post(running.url("/login"))
        .form(&[
            ("username", username),
            ("password", password.as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let back = redirect_target(&signed_in).expect("sign-in redirects back");
    let consent = browser
        .open(&running.url(&back))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        consent.contains("Allow FieldSync") && consent.contains("to act as you?"),
        "{consent}"
    );
    let answer = browser.answer_consent(&consent, "allow").await;
    let callback = redirect_target(&answer).expect("consent redirects to the app");
    let code = code_from(&callback, &authorization.state);
    (code, authorization.verifier, browser)
}

/// Signs in as `username`, consents, and exchanges the code with oauth2.
async fn tokens_for(
    running: &Running,
    client: &OAuthClient,
    username: &str,
) -> oauth2::basic::BasicTokenResponse {
    let (code, verifier, _) = authorize_in_browser(running, client, username).await;
    client
        .exchange_code(code)
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .unwrap()
}

/// Revokes `token` with oauth2. oauth2 refuses a revocation URL that is not HTTPS, but the demo
/// serves plain HTTP on loopback; so the client is configured with the `https` form of the
/// endpoint and sends through this stand-in for a TLS-terminating proxy, which forwards the
/// request oauth2 built, unchanged but for the scheme.
async fn revoke(client: &OAuthClient, token: StandardRevocableToken) {
    let http = http_client();
    let through_tls_proxy = |mut request: HttpRequest| {
        let http = http.clone();
        async move {
            let plain = request.uri().to_string().replacen("https://", "http://", 1);
            *request.uri_mut() = plain.parse().unwrap();
            http.call(request).await
        }
    };
    client
        .revoke_token(token)
        .unwrap()
        .request_async(&through_tls_proxy)
        .await
        .unwrap();
}

/// Asserts the result is the authorization server's OAuth error `expected`.
fn assert_oauth_error<T: Debug, E: std::error::Error>(
    result: Result<T, RequestTokenError<E, BasicErrorResponse>>,
    expected: BasicErrorResponseType,
) {
    match result {
        Err(RequestTokenError::ServerResponse(response)) => {
            assert_eq!(*response.error(), expected, "{response:?}")
        }
        other => panic!("expected the server to answer {expected}, got {other:?}"),
    }
}

/// The reference token response: a bearer token that lasts 5400 s.
fn assert_bearer_for_5400s(tokens: &oauth2::basic::BasicTokenResponse) {
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(5400)));
}

async fn read_rfis(running: &Running, token: &AccessToken, project: &str) -> StatusCode {
    http_client()
        .get(running.url(&format!("/api/projects/{project}/rfis")))
        .bearer_auth(token.secret())
        .header("Company-Id", COMPANY)
        .send()
        .await
        .unwrap()
        .status()
}

async fn write_rfi(running: &Running, token: &AccessToken, project: &str) -> StatusCode {
    http_client()
        .post(running.url(&format!("/api/projects/{project}/rfis")))
        .bearer_auth(token.secret())
        .header("Company-Id", COMPANY)
        .json(&serde_json::json!({ "title": "Door schedule" }))
        .send()
        .await
        .unwrap()
        .status()
}

/// `GET /oauth/token/info` for `token` (200 expected).
async fn token_info(running: &Running, token: &AccessToken) -> serde_json::Value {
    let response = http_client()
        .get(running.url("/oauth/token/info"))
        .bearer_auth(token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn authorization_code_with_pkce_through_sign_in_and_consent_with_client_secret_basic() {
    let running = start().await;
    let client = oauth_client(&running, running.fieldsync());
    assert!(matches!(client.auth_type(), AuthType::BasicAuth));
    let tokens = tokens_for(&running, &client, "john").await;
    assert_bearer_for_5400s(&tokens);
    assert!(tokens.refresh_token().is_some());
    let info = token_info(&running, tokens.access_token()).await;
    assert_eq!(info["resource_owner_id"], "john");
    assert_eq!(info["application"]["uid"], running.fieldsync().client_id);
    assert_eq!(info["grant_kind"], "user");
}

#[tokio::test]
async fn authorization_code_with_pkce_through_sign_in_and_consent_with_client_secret_post() {
    let running = start().await;
    let client = oauth_client(&running, running.fieldsync()).set_auth_type(AuthType::RequestBody);
    let tokens = tokens_for(&running, &client, "john").await;
    assert_bearer_for_5400s(&tokens);
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&http_client())
        .await
        .unwrap();
    let info = token_info(&running, refreshed.access_token()).await;
    assert_eq!(info["resource_owner_id"], "john");
}

#[tokio::test]
async fn a_public_app_uses_pkce_and_no_secret() {
    let running = start().await;
    let mobile = running.app("FieldSync Mobile");
    assert!(mobile.client_secret.is_none());
    let client = oauth_client(&running, mobile);
    let tokens = tokens_for(&running, &client, "john").await;
    assert_bearer_for_5400s(&tokens);
    assert_eq!(
        token_info(&running, tokens.access_token()).await["application"]["uid"],
        mobile.client_id
    );
    assert_eq!(
        read_rfis(&running, tokens.access_token(), "tower").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_public_app_cannot_exchange_its_code_without_the_pkce_verifier() {
    let running = start().await;
    let client = oauth_client(&running, running.app("FieldSync Mobile"));
    let (code, _verifier, _) = authorize_in_browser(&running, &client, "john").await;
    let exchanged = client
        .exchange_code(code)
        .request_async(&http_client())
        .await;
    assert_oauth_error(exchanged, BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn the_access_token_acts_as_john_on_the_resource_api() {
    let running = start().await;
    let client = oauth_client(&running, running.fieldsync());
    let tokens = tokens_for(&running, &client, "john").await;
    let access = tokens.access_token();
    assert_eq!(read_rfis(&running, access, "tower").await, StatusCode::OK);
    assert_eq!(
        write_rfi(&running, access, "tower").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        read_rfis(&running, access, "depot").await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn remembered_consent_skips_the_consent_page() {
    let running = start().await;
    let client = oauth_client(&running, running.fieldsync());
    let (_, _, johns_browser) = authorize_in_browser(&running, &client, "john").await;

    let again = new_authorization(&client);
    let response = johns_browser.open(&again.url).await;
    let callback = redirect_target(&response).expect("straight back to the app");
    let code = code_from(&callback, &again.state);
    let tokens = client
        .exchange_code(code)
        .set_pkce_verifier(again.verifier)
        .request_async(&http_client())
        .await
        .unwrap();
    assert_eq!(
        token_info(&running, tokens.access_token()).await["resource_owner_id"],
        "john"
    );

    // The consent is John's: Jane is still asked.
    let jane = running.user("jane");
    let janes_browser = Browser::new(&running);
    janes_browser.sign_in(&jane.username, &jane.password).await;
    let page = janes_browser
        .open(&new_authorization(&client).url)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Allow FieldSync to act as you?"), "{page}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reusing_an_old_one_revokes_the_family() {
    let running = start().await;
    let client = oauth_client(&running, running.fieldsync());
    let http = http_client();
    let first = tokens_for(&running, &client, "john").await;
    let old_refresh = first.refresh_token().unwrap();

    let second = client
        .exchange_refresh_token(old_refresh)
        .request_async(&http)
        .await
        .unwrap();
    assert_bearer_for_5400s(&second);
    let new_refresh = second.refresh_token().expect("a rotated refresh token");
    assert_ne!(new_refresh.secret(), old_refresh.secret());
    assert_eq!(
        read_rfis(&running, second.access_token(), "tower").await,
        StatusCode::OK
    );

    let reused = client
        .exchange_refresh_token(old_refresh)
        .request_async(&http)
        .await;
    assert_oauth_error(reused, BasicErrorResponseType::InvalidGrant);

    // The reuse revoked the whole family: the newest tokens are dead too.
    assert_eq!(
        read_rfis(&running, second.access_token(), "tower").await,
        StatusCode::UNAUTHORIZED
    );
    let introspected = client
        .introspect(second.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!introspected.active());
    let newest = client
        .exchange_refresh_token(new_refresh)
        .request_async(&http)
        .await;
    assert_oauth_error(newest, BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn client_credentials_unbound_token_works_in_a_company_that_installed_the_app() {
    let running = start().await;
    let fieldsync = running.fieldsync();
    let client = oauth_client(&running, fieldsync);
    install_fieldsync(&running, &["tower"]).await;

    let tokens = client
        .exchange_client_credentials()
        .request_async(&http_client())
        .await
        .unwrap();
    assert_bearer_for_5400s(&tokens);
    assert!(tokens.refresh_token().is_none());
    let info = token_info(&running, tokens.access_token()).await;
    assert_eq!(info["grant_kind"], "service_account");
    assert_eq!(info["company_id"], serde_json::Value::Null);
    // The manifest's rfis Standard, on the permitted project only.
    let access = tokens.access_token();
    assert_eq!(read_rfis(&running, access, "tower").await, StatusCode::OK);
    assert_eq!(
        write_rfi(&running, access, "tower").await,
        StatusCode::CREATED
    );
    assert_eq!(
        read_rfis(&running, access, "depot").await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn client_credentials_bound_with_company_id_need_an_approved_service_account() {
    let running = start().await;
    let fieldsync = running.fieldsync();
    let client = oauth_client(&running, fieldsync);
    let http = http_client();
    let bound_token = || {
        client
            .exchange_client_credentials()
            .add_extra_param("company_id", COMPANY)
            .request_async(&http)
    };
    assert_oauth_error(
        bound_token().await,
        BasicErrorResponseType::UnauthorizedClient,
    );

    install_fieldsync(&running, &["tower"]).await;
    let tokens = bound_token().await.unwrap();
    assert_bearer_for_5400s(&tokens);
    assert!(tokens.refresh_token().is_none());
    assert_eq!(
        token_info(&running, tokens.access_token()).await["company_id"],
        COMPANY
    );
    assert_eq!(
        write_rfi(&running, tokens.access_token(), "tower").await,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn revoking_the_access_token_revokes_its_refresh_token_too() {
    let running = start().await;
    let client = oauth_client(&running, running.fieldsync());
    let tokens = tokens_for(&running, &client, "john").await;
    assert_eq!(
        read_rfis(&running, tokens.access_token(), "tower").await,
        StatusCode::OK
    );

    revoke(&client, tokens.access_token().into()).await;

    assert_eq!(
        read_rfis(&running, tokens.access_token(), "tower").await,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&http_client())
        .await;
    assert_oauth_error(refreshed, BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn introspection_reports_a_live_token_as_active_and_a_revoked_one_as_inactive() {
    let running = start().await;
    let fieldsync = running.fieldsync();
    let client = oauth_client(&running, fieldsync);
    let http = http_client();
    let tokens = tokens_for(&running, &client, "john").await;

    let live = client
        .introspect(tokens.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(live.active());
    assert_eq!(
        live.client_id().map(|id| id.as_str()),
        Some(fieldsync.client_id.as_str())
    );
    assert_eq!(live.sub(), Some("john"));
    assert_eq!(live.iss(), Some(running.seed.issuer.as_str()));
    // oauth2 introspects any token string, the refresh token too.
    let refresh = AccessToken::new(tokens.refresh_token().unwrap().secret().clone());
    let live_refresh = client
        .introspect(&refresh)
        .set_token_type_hint("refresh_token")
        .request_async(&http)
        .await
        .unwrap();
    assert!(live_refresh.active());
    assert_eq!(live_refresh.sub(), Some("john"));

    revoke(&client, tokens.access_token().into()).await;

    let revoked = client
        .introspect(tokens.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!revoked.active());
    assert!(revoked.client_id().is_none() && revoked.sub().is_none());
    // The refresh token died with its grant.
    let revoked_refresh = client
        .introspect(&refresh)
        .set_token_type_hint("refresh_token")
        .request_async(&http)
        .await
        .unwrap();
    assert!(!revoked_refresh.active());
}

#[tokio::test]
async fn a_users_consent_installs_for_user_access_only_the_service_account_needs_an_admin() {
    let running = start().await;
    let fieldsync = running.fieldsync();
    let client = oauth_client(&running, fieldsync);
    let http = http_client();
    tokens_for(&running, &client, "john").await;
    let bound_token = || {
        client
            .exchange_client_credentials()
            .add_extra_param("company_id", COMPANY)
            .request_async(&http)
    };
    assert_oauth_error(
        bound_token().await,
        BasicErrorResponseType::UnauthorizedClient,
    );
    let unbound = client
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        read_rfis(&running, unbound.access_token(), "tower").await,
        StatusCode::FORBIDDEN
    );

    install_fieldsync(&running, &["tower"]).await;
    let tokens = bound_token().await.unwrap();
    assert_eq!(
        read_rfis(&running, tokens.access_token(), "tower").await,
        StatusCode::OK
    );
    assert_eq!(
        read_rfis(&running, unbound.access_token(), "tower").await,
        StatusCode::OK
    );
}

/// The claims of a JWT access token, decoded without checking (the server checked them).
fn claims_of(token: &AccessToken) -> serde_json::Value {
    use base64::Engine;
    let payload = token.secret().split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn client_credentials_with_a_scope_get_a_token_limited_to_it() {
    let running = start().await;
    let fieldsync = running.fieldsync();
    let client = oauth_client(&running, fieldsync);
    install_fieldsync(&running, &["tower"]).await;
    let tokens = client
        .exchange_client_credentials()
        .add_scope(oauth2::Scope::new("rfis:read".into()))
        .request_async(&http_client())
        .await
        .unwrap();
    let scopes: Vec<&str> = tokens
        .scopes()
        .map(|scopes| scopes.iter().map(|scope| scope.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(scopes, ["rfis:read"]);
    let access = tokens.access_token();
    assert_eq!(read_rfis(&running, access, "tower").await, StatusCode::OK);
    assert_eq!(
        write_rfi(&running, access, "tower").await,
        StatusCode::FORBIDDEN
    );
    let unknown = client
        .exchange_client_credentials()
        .add_scope(oauth2::Scope::new("photos:read".into()))
        .request_async(&http_client())
        .await;
    assert_oauth_error(unknown, BasicErrorResponseType::InvalidScope);
}

#[tokio::test]
async fn a_resource_indicator_makes_the_token_for_that_resource_server_alone() {
    let running = start().await;
    let fieldsync = running.fieldsync();
    let client = oauth_client(&running, fieldsync);
    install_fieldsync(&running, &["tower"]).await;
    let files = running.url("/files");
    let tokens = client
        .exchange_client_credentials()
        .add_extra_param("resource", files.clone())
        .request_async(&http_client())
        .await
        .unwrap();
    assert_eq!(claims_of(tokens.access_token())["aud"], files);
    // The API is another resource server: it refuses a token for the file store.
    assert_eq!(
        read_rfis(&running, tokens.access_token(), "tower").await,
        StatusCode::UNAUTHORIZED
    );
    let unknown = client
        .exchange_client_credentials()
        .add_extra_param("resource", "https://elsewhere.example.com")
        .request_async(&http_client())
        .await;
    assert_oauth_error(
        unknown,
        BasicErrorResponseType::Extension("invalid_target".into()),
    );
}

#[tokio::test]
async fn introspection_says_bearer_for_the_token_type() {
    let running = start().await;
    let client = oauth_client(&running, running.fieldsync());
    let tokens = tokens_for(&running, &client, "john").await;
    let live = client
        .introspect(tokens.access_token())
        .request_async(&http_client())
        .await
        .unwrap();
    assert_eq!(live.token_type(), Some(&BasicTokenType::Bearer));
}
