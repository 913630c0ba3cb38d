#![cfg(feature = "axum")]
//! The HTTP face's error paths and headers, request by request: every rule of RFC 6749, 6750,
//! 7009, 7662 and 8414 the router promises, checked on the wire against the demo platform.

mod http_support;

use http_support::demo::{DemoApp, REDIRECT_URI};
use http_support::*;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";
const STATE: &str = "st-1";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn secret(app: &DemoApp) -> &str {
    app.client_secret.as_deref().unwrap()
}

fn token_post(running: &Running) -> RequestBuilder {
    client().post(running.url("/oauth/token"))
}

/// A token request authenticated as FieldSync with Basic.
fn fieldsync_token_post(running: &Running) -> RequestBuilder {
    let app = running.fieldsync();
    token_post(running).basic_auth(&app.client_id, Some(secret(app)))
}

fn form(request: RequestBuilder, body: &str) -> RequestBuilder {
    request
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_owned())
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

/// Checks an RFC 6749 §5.2 error: status, `error`, a description, and no caching.
async fn assert_oauth_error(response: Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_no_store(response.headers());
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    if status == 401 {
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}

fn assert_no_store(headers: &HeaderMap) {
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::PRAGMA], "no-cache");
}

/// An authorization request, built parameter by parameter.
struct Authorize(Vec<(String, String)>);

impl Authorize {
    /// A valid request for `app` (no PKCE; add it for the public app).
    fn new(app: &DemoApp) -> Self {
        Self(vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), app.client_id.clone()),
            ("redirect_uri".into(), REDIRECT_URI.into()),
            ("state".into(), STATE.into()),
        ])
    }

    fn set(mut self, name: &str, value: &str) -> Self {
        self.0.retain(|(key, _)| key != name);
        self.add(name, value)
    }

    fn add(mut self, name: &str, value: &str) -> Self {
        self.0.push((name.into(), value.into()));
        self
    }

    fn remove(mut self, name: &str) -> Self {
        self.0.retain(|(key, _)| key != name);
        self
    }

    fn pkce(self, verifier: &str) -> Self {
        let challenge = appgrant::grant::pkce::challenge_of(verifier);
        self.set("code_challenge", &challenge)
            .set("code_challenge_method", "S256")
    }

    fn url(&self, running: &Running) -> String {
        let mut url = url::Url::parse(&running.url("/oauth/authorize")).unwrap();
        url.query_pairs_mut().extend_pairs(&self.0);
        url.into()
    }
}

async fn get(url: &str) -> Response {
    client().get(url).send().await.unwrap()
}

/// An error shown on a page: never a redirect to an unverified place.
async fn assert_error_page(response: Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    assert!(response.headers().get(header::LOCATION).is_none());
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    response.text().await.unwrap()
}

/// An error sent back to the registered redirect URI with `state` and `iss` (RFC 9207).
fn assert_error_redirect(running: &Running, response: &Response, error: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = redirect_target(response).unwrap();
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?")),
        "{location}"
    );
    assert_eq!(query_param(&location, "error").as_deref(), Some(error));
    assert!(query_param(&location, "error_description").is_some());
    assert_eq!(query_param(&location, "state").as_deref(), Some(STATE));
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(running.base.as_str())
    );
    assert_eq!(query_param(&location, "code"), None);
}

async fn signed_in(running: &Running, username: &str) -> Browser {
    let browser = Browser::new(running);
    let user = running.user(username);
    browser.sign_in(&user.username, &user.password).await;
    browser
}

/// The consent page for a request, as a signed-in user sees it.
async fn consent_page(browser: &Browser, url: &str) -> String {
    let page = browser.open(url).await;
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

/// Tokens for `username` through FieldSync: sign in, consent, exchange the code.
async fn user_tokens(running: &Running, username: &str) -> Value {
    let app = running.fieldsync();
    let browser = signed_in(running, username).await;
    let verifier = "v".repeat(43);
    let url = Authorize::new(app).pkce(&verifier).url(running);
    let consent = consent_page(&browser, &url).await;
    let answer = browser.answer_consent(&consent, "allow").await;
    let code = query_param(&redirect_target(&answer).unwrap(), "code").unwrap();
    let response = fieldsync_token_post(running)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn rfis(running: &Running) -> RequestBuilder {
    client().get(running.url("/api/projects/tower/rfis"))
}

fn www_authenticate(response: &Response) -> String {
    response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/token
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn token_responses_are_never_cached_success_or_error() {
    let running = start().await;
    let success = fieldsync_token_post(&running)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(success.status(), 200);
    assert_no_store(success.headers());
    let body: Value = success.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert_eq!(body["token_type"], "bearer");
    let failure = fieldsync_token_post(&running)
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_no_store(failure.headers());
    assert_eq!(failure.status(), 400);
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let running = start().await;
    let response = fieldsync_token_post(&running)
        .form(&[("grant_type", "password"), ("username", "jane")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "unsupported_grant_type").await;
}

#[tokio::test]
async fn missing_grant_type_is_invalid_request() {
    let running = start().await;
    let response = fieldsync_token_post(&running)
        .form(&[("code", "abc")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn repeated_token_parameters_are_invalid_request() {
    let running = start().await;
    for body in [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&grant_type=refresh_token",
        "grant_type=authorization_code&code=a&code=b&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback",
    ] {
        let response = form(fieldsync_token_post(&running), body)
            .send()
            .await
            .unwrap();
        let error = assert_oauth_error(response, 400, "invalid_request").await;
        assert!(
            error["error_description"]
                .as_str()
                .unwrap()
                .contains("repeated"),
            "{body}: {error}"
        );
    }
}

#[tokio::test]

async fn repeated_parameters_in_a_json_body_are_invalid_request() {
    let running = start().await;
    let response = fieldsync_token_post(&running)
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"grant_type":"password","grant_type":"client_credentials"}"#)
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn wrong_secret_or_unknown_client_is_invalid_client_with_a_challenge() {
    let running = start().await;
    let app = running.fieldsync();
    for (id, secret) in [
        (app.client_id.as_str(), "not-the-secret"),
        ("no-such-client", secret(app)),
    ] {
        let response = token_post(&running)
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(www_authenticate(&response), "Basic realm=\"oauth\"");
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

#[tokio::test]
async fn malformed_basic_headers_are_invalid_client_not_server_errors() {
    use base64::Engine;
    let running = start().await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let headers = [
        HeaderValue::from_static("Basic !!!not-base64!!!"),
        HeaderValue::from_str(&format!("Basic {}", b64(b"no-colon-here"))).unwrap(),
        HeaderValue::from_str(&format!("Basic {}", b64(b":secret-without-id"))).unwrap(),
        HeaderValue::from_str(&format!("Basic {}", b64(b"\xff\xfe:\xfd"))).unwrap(),
        HeaderValue::from_static("Basic"),
        HeaderValue::from_static("Digest username=\"x\""),
        HeaderValue::from_static("Bearer abc"),
        HeaderValue::from_bytes(b"Basic \xff\xfe\xfd").unwrap(),
    ];
    for value in headers {
        let response = token_post(&running)
            .header(header::AUTHORIZATION, value.clone())
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{value:?}");
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

#[tokio::test]
async fn basic_credentials_are_form_url_decoded() {
    let running = start().await;
    let app = running.fieldsync();
    // Every byte percent-encoded, as a cautious client might: still the same credentials.
    let encode_all = |text: &str| -> String { text.bytes().map(|b| format!("%{b:02X}")).collect() };
    let response = token_post(&running)
        .header(
            header::AUTHORIZATION,
            basic(&encode_all(&app.client_id), &encode_all(secret(app))),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn basic_credentials_decode_percent_escapes_and_plus_per_rfc_6749_2_3_1() {
    use appgrant::grant::ClientAuthentication;
    let header = basic("my%20app%3A1", "s%3Ac+r%25t%26");
    let credentials = ClientAuthentication::from_request(Some(&header), None, None).unwrap();
    let ClientAuthentication::Basic { client_id, secret } = credentials else {
        panic!("not Basic: {credentials:?}");
    };
    assert_eq!(client_id.as_str(), "my app:1");
    assert_eq!(secret.expose(), "s:c r%t&");
}

#[tokio::test]

async fn a_basic_secret_with_junk_after_an_ampersand_does_not_authenticate() {
    let running = start().await;
    let app = running.fieldsync();
    let junk = format!("{}&anything", secret(app));
    let response = token_post(&running)
        .header(header::AUTHORIZATION, basic(&app.client_id, &junk))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 401, "invalid_client").await;
}

#[tokio::test]
async fn basic_and_client_secret_in_the_body_together_are_invalid_request() {
    let running = start().await;
    let app = running.fieldsync();
    let response = fieldsync_token_post(&running)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", secret(app)),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn repeated_authorization_headers_at_the_token_endpoint_are_invalid_request() {
    let running = start().await;
    let app = running.fieldsync();
    let credentials = basic(&app.client_id, secret(app));
    let response = token_post(&running)
        .header(header::AUTHORIZATION, &credentials)
        .header(header::AUTHORIZATION, &credentials)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_body_over_16_kib_is_413_with_an_oauth_error() {
    let running = start().await;
    let body = format!(
        "grant_type=client_credentials&pad={}",
        "x".repeat(17 * 1024)
    );
    let response = form(fieldsync_token_post(&running), &body)
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 413, "invalid_request").await;
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_read() {
    let running = start().await;
    let prefix = "grant_type=client_credentials&pad=";
    let body = format!("{prefix}{}", "x".repeat(16 * 1024 - prefix.len()));
    let response = form(fieldsync_token_post(&running), &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn non_utf8_form_values_are_invalid_request() {
    let running = start().await;
    for body in [
        "grant_type=client_credentials&company_id=%FF",
        "grant_%C3=x",
    ] {
        let response = form(fieldsync_token_post(&running), body)
            .send()
            .await
            .unwrap();
        assert_oauth_error(response, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn a_wrong_or_missing_content_type_is_invalid_request() {
    let running = start().await;
    for content_type in [Some("text/plain"), Some("multipart/form-data"), None] {
        let mut request = fieldsync_token_post(&running).body("grant_type=client_credentials");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = request.send().await.unwrap();
        assert_oauth_error(response, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn form_content_type_with_a_charset_is_accepted() {
    let running = start().await;
    let response = fieldsync_token_post(&running)
        .header(
            header::CONTENT_TYPE,
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        )
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn json_bodies_are_accepted_for_client_credentials_and_refresh() {
    let running = start().await;
    install_fieldsync(&running, &["tower"]).await;
    let app = running.fieldsync();
    let service = token_post(&running)
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": secret(app),
            "company_id": "acme",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(service.status(), 200);
    assert_no_store(service.headers());
    let service: Value = service.json().await.unwrap();
    let read = rfis(&running)
        .bearer_auth(service["access_token"].as_str().unwrap())
        .header("Company-Id", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    let tokens = user_tokens(&running, "john").await;
    let refreshed = fieldsync_token_post(&running)
        .json(&json!({ "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
}

#[tokio::test]
async fn a_json_body_that_is_not_an_object_of_strings_is_invalid_request() {
    let running = start().await;
    for body in [
        r#"{"grant_type": 1}"#,
        r#"{"grant_type": "client_credentials", "company_id": ["acme"]}"#,
        r#"{"grant_type": {"name": "client_credentials"}}"#,
        r#"["grant_type", "client_credentials"]"#,
        r#""client_credentials""#,
        "grant_type=client_credentials",
        "",
    ] {
        let response = fieldsync_token_post(&running)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert_oauth_error(response, 400, "invalid_request").await;
    }
}

// ---------------------------------------------------------------------------------------------
// GET and POST /oauth/authorize
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_not_a_redirect() {
    let running = start().await;
    let url = Authorize::new(running.fieldsync())
        .set("client_id", "no-such-client")
        .url(&running);
    let page = assert_error_page(get(&url).await, 400).await;
    assert!(page.contains("not registered"), "{page}");
    let url = Authorize::new(running.fieldsync())
        .remove("client_id")
        .url(&running);
    assert_error_page(get(&url).await, 400).await;
}

#[tokio::test]
async fn a_missing_or_unregistered_redirect_uri_gets_an_error_page_not_a_redirect() {
    let running = start().await;
    let app = running.fieldsync();
    let unregistered = [
        format!("{REDIRECT_URI}/"),
        format!("{REDIRECT_URI}?x=1"),
        "http://127.0.0.1:8765/callbacks".to_owned(),
        "HTTP://127.0.0.1:8765/callback".to_owned(),
        "https://attacker.example/callback".to_owned(),
    ];
    for redirect_uri in &unregistered {
        let url = Authorize::new(app)
            .set("redirect_uri", redirect_uri)
            .url(&running);
        let page = assert_error_page(get(&url).await, 400).await;
        assert!(page.contains("redirect_uri"), "{redirect_uri}: {page}");
    }
    let url = Authorize::new(app).remove("redirect_uri").url(&running);
    assert_error_page(get(&url).await, 400).await;
}

#[tokio::test]
async fn an_unsupported_response_type_is_redirected_with_state_and_iss() {
    let running = start().await;
    for response_type in [Some("token"), None] {
        let mut request = Authorize::new(running.fieldsync());
        request = match response_type {
            Some(value) => request.set("response_type", value),
            None => request.remove("response_type"),
        };
        let response = get(&request.url(&running)).await;
        assert_error_redirect(&running, &response, "unsupported_response_type");
    }
}

#[tokio::test]
async fn a_public_client_without_pkce_is_redirected_with_invalid_request() {
    let running = start().await;
    let url = Authorize::new(running.app("FieldSync Mobile")).url(&running);
    assert_error_redirect(&running, &get(&url).await, "invalid_request");
}

#[tokio::test]
async fn the_plain_pkce_method_is_redirected_with_invalid_request() {
    let running = start().await;
    for app in [running.fieldsync(), running.app("FieldSync Mobile")] {
        let url = Authorize::new(app)
            .set("code_challenge", &"c".repeat(43))
            .set("code_challenge_method", "plain")
            .url(&running);
        assert_error_redirect(&running, &get(&url).await, "invalid_request");
    }
}

#[tokio::test]
async fn a_repeated_client_id_or_redirect_uri_gets_an_error_page() {
    let running = start().await;
    let app = running.fieldsync();
    let twice_client = Authorize::new(app).add("client_id", &app.client_id);
    let twice_redirect = Authorize::new(app).add("redirect_uri", REDIRECT_URI);
    for request in [twice_client, twice_redirect] {
        assert_error_page(get(&request.url(&running)).await, 400).await;
    }
}

#[tokio::test]
async fn a_repeated_state_with_a_valid_client_is_redirected_with_invalid_request() {
    let running = start().await;
    let url = Authorize::new(running.fieldsync())
        .add("state", "other")
        .url(&running);
    assert_error_redirect(&running, &get(&url).await, "invalid_request");
}

#[tokio::test]
async fn non_utf8_authorize_parameters_get_an_error_page() {
    let running = start().await;
    let url = format!(
        "{}&scope=%FF",
        Authorize::new(running.fieldsync()).url(&running)
    );
    assert_error_page(get(&url).await, 400).await;
}

#[tokio::test]
async fn a_valid_request_without_a_session_is_handed_over_to_sign_in() {
    let running = start().await;
    let response = get(&Authorize::new(running.fieldsync()).url(&running)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        redirect_target(&response)
            .unwrap()
            .starts_with("/login?return_to=%2Foauth%2Fauthorize%3F")
    );
}

#[tokio::test]
async fn the_out_of_band_redirect_uri_shows_the_code_on_a_page() {
    let running = start().await;
    let app = running.fieldsync();
    let browser = signed_in(&running, "jane").await;
    let url = Authorize::new(app).set("redirect_uri", OOB).url(&running);
    let consent = consent_page(&browser, &url).await;
    let shown = browser.answer_consent(&consent, "allow").await;
    let page = assert_shown_page(shown).await;
    let code = page
        .split("<code>")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap()
        .to_owned();
    let response = fieldsync_token_post(&running)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", OOB),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// A 200 HTML page that is not a redirect.
async fn assert_shown_page(response: Response) -> String {
    assert_eq!(response.status(), 200);
    assert!(response.headers().get(header::LOCATION).is_none());
    assert_no_store(response.headers());
    response.text().await.unwrap()
}

#[tokio::test]
async fn errors_for_the_out_of_band_redirect_uri_are_shown_not_redirected() {
    let running = start().await;
    let url = Authorize::new(running.fieldsync())
        .set("redirect_uri", OOB)
        .set("response_type", "token")
        .url(&running);
    let page = assert_error_page(get(&url).await, 400).await;
    assert!(page.contains("unsupported_response_type"), "{page}");
}

#[tokio::test]
async fn the_authorize_endpoint_sends_no_cors_headers() {
    let running = start().await;
    let url = Authorize::new(running.fieldsync()).url(&running);
    let browser = signed_in(&running, "jane").await;
    let responses = [
        client()
            .get(&url)
            .header(header::ORIGIN, "https://attacker.example")
            .send()
            .await
            .unwrap(),
        browser
            .http
            .get(&url)
            .header(header::ORIGIN, "https://attacker.example")
            .send()
            .await
            .unwrap(),
        client()
            .request(reqwest::Method::OPTIONS, &url)
            .header(header::ORIGIN, "https://attacker.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
            .await
            .unwrap(),
    ];
    for response in responses {
        assert!(!response.status().is_server_error());
        assert!(
            response
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-")),
            "{:?}",
            response.headers()
        );
    }
}

#[tokio::test]
async fn the_consent_page_escapes_html_and_cannot_be_framed() {
    let running = start().await;
    let browser = signed_in(&running, "jane").await;
    let attack = "\"><script>alert(1)</script>";
    let url = Authorize::new(running.fieldsync())
        .set("state", attack)
        .url(&running);
    let response = browser.open(&url).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    assert_no_store(response.headers());
    let page = response.text().await.unwrap();
    assert!(page.contains("Allow FieldSync to act as you?"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
    // Escaped as minijinja escapes attribute values (quotes, angle brackets and the slash).
    assert!(
        page.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;&#x2f;script&gt;\""),
        "{page}"
    );
    // The escaped value still round-trips to the client intact.
    let answer = browser.answer_consent(&page, "allow").await;
    let location = redirect_target(&answer).unwrap();
    assert_eq!(query_param(&location, "state").as_deref(), Some(attack));
}

/// Posts the consent form of `page` with `change` applied to its fields.
async fn post_consent(
    browser: &Browser,
    running: &Running,
    page: &str,
    change: impl FnOnce(&mut Vec<(String, String)>),
) -> Response {
    let mut fields = hidden_inputs(page);
    fields.push(("decision".into(), "allow".into()));
    change(&mut fields);
    browser
        .http
        .post(running.url("/oauth/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

fn set_field(fields: &mut [(String, String)], name: &str, value: &str) {
    let field = fields.iter_mut().find(|(key, _)| key == name).unwrap();
    field.1 = value.to_owned();
}

#[tokio::test]
async fn consent_without_a_valid_csrf_token_or_for_a_changed_request_is_403() {
    let running = start().await;
    let browser = signed_in(&running, "jane").await;
    let url = Authorize::new(running.fieldsync()).url(&running);
    let page = consent_page(&browser, &url).await;
    let token = hidden_inputs(&page)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .unwrap()
        .1;
    let tampered = format!(
        "{}{}",
        if token.starts_with('A') { 'B' } else { 'A' },
        &token[1..]
    );
    let missing = post_consent(&browser, &running, &page, |fields| {
        fields.retain(|(name, _)| name != "csrf_token")
    })
    .await;
    let forged = post_consent(&browser, &running, &page, |fields| {
        set_field(fields, "csrf_token", &tampered)
    })
    .await;
    let redirected = post_consent(&browser, &running, &page, |fields| {
        set_field(fields, "redirect_uri", OOB)
    })
    .await;
    let restated = post_consent(&browser, &running, &page, |fields| {
        set_field(fields, "state", "other")
    })
    .await;
    for response in [missing, forged, redirected, restated] {
        let body = assert_error_page(response, 403).await;
        assert!(!body.contains("<code>"), "{body}");
    }
    // No consent was recorded: the same request still asks.
    consent_page(&browser, &url).await;
}

#[tokio::test]
async fn a_csrf_token_is_bound_to_the_signed_in_user() {
    let running = start().await;
    let jane = signed_in(&running, "jane").await;
    let john = signed_in(&running, "john").await;
    let page = consent_page(&jane, &Authorize::new(running.fieldsync()).url(&running)).await;
    let response = post_consent(&john, &running, &page, |_| ()).await;
    assert_error_page(response, 403).await;
}

#[tokio::test]
async fn consent_without_a_session_is_401() {
    let running = start().await;
    let browser = signed_in(&running, "jane").await;
    let page = consent_page(&browser, &Authorize::new(running.fieldsync()).url(&running)).await;
    let mut fields = hidden_inputs(&page);
    fields.push(("decision".into(), "allow".into()));
    let response = client()
        .post(running.url("/oauth/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_error_page(response, 401).await;
}

#[tokio::test]
async fn denying_consent_redirects_with_access_denied() {
    let running = start().await;
    let browser = signed_in(&running, "jane").await;
    let page = consent_page(&browser, &Authorize::new(running.fieldsync()).url(&running)).await;
    let response = browser.answer_consent(&page, "deny").await;
    assert_error_redirect(&running, &response, "access_denied");
}

#[tokio::test]
async fn a_consent_decision_other_than_allow_or_deny_is_400() {
    let running = start().await;
    let browser = signed_in(&running, "jane").await;
    let page = consent_page(&browser, &Authorize::new(running.fieldsync()).url(&running)).await;
    let response = post_consent(&browser, &running, &page, |fields| {
        set_field(fields, "decision", "maybe")
    })
    .await;
    assert_error_page(response, 400).await;
}

// ---------------------------------------------------------------------------------------------
// POST /oauth/revoke and /oauth/introspect
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoking_an_unknown_token_is_200_with_a_json_body() {
    let running = start().await;
    let response = client()
        .post(running.url("/oauth/revoke"))
        .basic_auth(
            &running.fieldsync().client_id,
            Some(secret(running.fieldsync())),
        )
        .form(&[("token", "no-such-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_no_store(response.headers());
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
}

#[tokio::test]
async fn revoke_without_a_token_is_invalid_request() {
    let running = start().await;
    let response = client()
        .post(running.url("/oauth/revoke"))
        .basic_auth(
            &running.fieldsync().client_id,
            Some(secret(running.fieldsync())),
        )
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn revoke_with_a_bad_client_is_invalid_client() {
    let running = start().await;
    for credentials in [Some(("no-such-client", "x")), None] {
        let mut request = client().post(running.url("/oauth/revoke"));
        if let Some((id, secret)) = credentials {
            request = request.basic_auth(id, Some(secret));
        }
        let response = request.form(&[("token", "abc")]).send().await.unwrap();
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

#[tokio::test]
async fn introspecting_garbage_is_200_inactive_and_nothing_more() {
    let running = start().await;
    let response = client()
        .post(running.url("/oauth/introspect"))
        .basic_auth(
            &running.fieldsync().client_id,
            Some(secret(running.fieldsync())),
        )
        .form(&[("token", "garbage.garbage.garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_no_store(response.headers());
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "active": false })
    );
}

#[tokio::test]
async fn introspection_needs_an_authenticated_confidential_client() {
    let running = start().await;
    let mobile = running.app("FieldSync Mobile");
    let unauthenticated = client()
        .post(running.url("/oauth/introspect"))
        .form(&[("token", "abc")])
        .send()
        .await
        .unwrap();
    let public = client()
        .post(running.url("/oauth/introspect"))
        .form(&[("token", "abc"), ("client_id", mobile.client_id.as_str())])
        .send()
        .await
        .unwrap();
    for response in [unauthenticated, public] {
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

// ---------------------------------------------------------------------------------------------
// GET /oauth/token/info
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn token_info_without_a_token_is_401_with_a_bare_bearer_challenge() {
    let running = start().await;
    let response = get(&running.url("/oauth/token/info")).await;
    assert_eq!(response.status(), 401);
    let challenge = www_authenticate(&response);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
}

#[tokio::test]
async fn token_info_with_a_garbage_token_is_401_invalid_token() {
    let running = start().await;
    let response = client()
        .get(running.url("/oauth/token/info"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(www_authenticate(&response).contains("error=\"invalid_token\""));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn token_info_describes_a_valid_token() {
    let running = start().await;
    let tokens = user_tokens(&running, "john").await;
    let response = client()
        .get(running.url("/oauth/token/info"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_no_store(response.headers());
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["resource_owner_id"], "john");
    assert_eq!(info["application"]["uid"], running.fieldsync().client_id);
    assert_eq!(info["scopes"], json!([]));
    let expires_in = info["expires_in_seconds"].as_i64().unwrap();
    assert!((5390..=5400).contains(&expires_in), "{info}");
    assert_eq!(info["created_at"], tokens["created_at"]);
}

// ---------------------------------------------------------------------------------------------
// Resource routes (the Access extractor)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_resource_request_without_a_company_header_is_400_saying_so() {
    let running = start().await;
    let tokens = user_tokens(&running, "john").await;
    let response = rfis(&running)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.to_ascii_lowercase().contains("company-id"),
        "{description}"
    );
}

#[tokio::test]
async fn a_resource_request_without_a_bearer_is_401_with_a_bare_challenge() {
    let running = start().await;
    let response = rfis(&running)
        .header("Company-Id", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = www_authenticate(&response);
    assert!(challenge.starts_with("Bearer realm=\""), "{challenge}");
    assert!(!challenge.contains("error"), "{challenge}");
}

#[tokio::test]
async fn a_resource_request_with_a_garbage_token_is_401_invalid_token() {
    let running = start().await;
    let response = rfis(&running)
        .bearer_auth("garbage")
        .header("Company-Id", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = www_authenticate(&response);
    assert!(challenge.starts_with("Bearer realm=\""), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[tokio::test]
async fn an_insufficient_level_is_403_insufficient_scope_with_the_reason() {
    let running = start().await;
    let tokens = user_tokens(&running, "john").await;
    let response = client()
        .post(running.url("/api/projects/tower/rfis"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .header("Company-Id", "acme")
        .json(&json!({ "title": "Door schedule" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let challenge = www_authenticate(&response);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(
        body["reason"],
        json!({ "reason": "insufficient_level", "have": "read_only", "need": "standard" })
    );
}

#[tokio::test]
async fn two_authorization_headers_are_400() {
    let running = start().await;
    let tokens = user_tokens(&running, "john").await;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    for url in ["/api/projects/tower/rfis", "/oauth/token/info"] {
        let response = client()
            .get(running.url(url))
            .header(header::AUTHORIZATION, &bearer)
            .header(header::AUTHORIZATION, &bearer)
            .header("Company-Id", "acme")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn a_malformed_authorization_header_at_a_resource_is_400() {
    let running = start().await;
    for value in [
        HeaderValue::from_static("Basic abc"),
        HeaderValue::from_static("Bearer"),
        HeaderValue::from_static("Bearer    "),
        HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
    ] {
        let response = rfis(&running)
            .header(header::AUTHORIZATION, value.clone())
            .header("Company-Id", "acme")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{value:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata and keys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_rfc_8414_document_describes_this_server() {
    let running = start().await;
    let response = get(&running.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(response.status(), 200);
    let metadata: Value = response.json().await.unwrap();
    let base = &running.base;
    assert_eq!(metadata["issuer"], *base);
    for (field, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("token_endpoint", "/oauth/token"),
        ("revocation_endpoint", "/oauth/revoke"),
        ("introspection_endpoint", "/oauth/introspect"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(metadata[field], format!("{base}{path}"), "{field}");
    }
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
}

#[tokio::test]
async fn the_jwks_has_public_keys_only() {
    let running = start().await;
    let response = get(&running.url("/.well-known/jwks.json")).await;
    assert_eq!(response.status(), 200);
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        for field in ["kty", "kid", "alg", "use"] {
            assert!(key[field].is_string(), "{field} in {key}");
        }
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
    }
}

#[tokio::test]
async fn an_issued_token_validates_with_plain_jsonwebtoken_and_the_jwks() {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    let running = start().await;
    let tokens = user_tokens(&running, "jane").await;
    let token = tokens["access_token"].as_str().unwrap();
    let jwks: Value = get(&running.url("/.well-known/jwks.json"))
        .await
        .json()
        .await
        .unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| Some(key["kid"].as_str().unwrap()) == header.kid.as_deref())
        .unwrap();
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["alg"], "EdDSA");
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[running.base.as_str()]);
    validation.set_audience(&[format!("{}/api", running.base.trim_end_matches('/'))]);
    let claims = decode::<Value>(token, &key, &validation).unwrap().claims;
    assert_eq!(claims["sub"], "jane");
    validation.set_audience(&["https://elsewhere.example"]);
    assert!(decode::<Value>(token, &key, &validation).is_err());
}

// ---------------------------------------------------------------------------------------------
// No server errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_malformed_request_gets_a_server_error() {
    let running = start().await;
    let odd_bodies: [&[u8]; 7] = [
        b"",
        b"&&&===&",
        b"=x",
        b"%",
        b"%zz=%",
        b"grant_type=\xff\xfe",
        b"token=%00&grant_type=client_credentials",
    ];
    let content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
    ];
    for path in [
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/oauth/authorize",
    ] {
        for body in odd_bodies {
            for content_type in content_types {
                let response = client()
                    .post(running.url(path))
                    .header(header::CONTENT_TYPE, content_type)
                    .header(header::AUTHORIZATION, "Basic Og==")
                    .body(body.to_vec())
                    .send()
                    .await
                    .unwrap();
                assert!(
                    response.status().is_client_error(),
                    "{path} {content_type} {body:?}: {}",
                    response.status()
                );
            }
        }
    }
    for query in [
        "",
        "%",
        "client_id=%FF",
        "a&&b==c",
        "client_id=&redirect_uri=",
    ] {
        let response = get(&format!("{}?{query}", running.url("/oauth/authorize"))).await;
        assert!(response.status().is_client_error(), "{query}");
    }
    let response = get(&running.url("/api/projects/%FF/rfis")).await;
    assert!(!response.status().is_server_error());
}
