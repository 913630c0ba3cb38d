//! No secret, code or token ever appears in the `Debug` or `Display` of an error or record.
//!
//! Each test runs real flows, collects every secret they handle (client secrets, codes, access
//! and refresh tokens, key material) and every value that held one, formats the values every
//! way they can be formatted, and looks for each secret, in every encoding that would give it
//! away (raw, and its digest as hex, base64 or a byte list), in the output. The one deliberate
//! way out, serializing a `TokenResponse`, is checked to carry the real tokens.

mod support;

use appgrant::grant::{
    AuthorizationRequest, AuthorizationResponse, ClientAuthentication, CodeExchange, Redemption,
    TokenError, TokenRequest, parse_basic,
};
use appgrant::model::{ClientId, CompanyId, OUT_OF_BAND, SecretDigest};
use appgrant::server::ServerError;
use appgrant::store::{CodeStore, Directory, RefreshStore};
use appgrant::token::{Algorithm, KeySet, Secret, SigningKey, validate};
use appgrant::{AuthorizationServer, Config, MemoryStore};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chrono::TimeDelta;
use rand::rngs::OsRng;
use std::fmt::{Debug, Display};
use support::{ISSUER, REDIRECT, VERIFIER, World, world};

// ---------------------------------------------------------------------------------------------
// The leak check

/// Secrets that must not appear, and every rendering of the values under test.
#[derive(Default)]
struct LeakCheck {
    secrets: Vec<(String, String)>,
    rendered: Vec<(String, String)>,
}

impl LeakCheck {
    /// `bytes` must not appear as hex, base64 (any alphabet, padded or not) or a byte list.
    fn bytes(&mut self, what: &str, bytes: &[u8]) {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let forms = [
            ("hex", hex.clone()),
            ("HEX", hex.to_uppercase()),
            ("base64", STANDARD.encode(bytes)),
            ("base64 unpadded", STANDARD_NO_PAD.encode(bytes)),
            ("base64url", URL_SAFE.encode(bytes)),
            ("base64url unpadded", URL_SAFE_NO_PAD.encode(bytes)),
            ("byte list", format!("{bytes:?}")),
        ];
        for (form, needle) in forms {
            self.secrets.push((format!("{what} ({form})"), needle));
        }
    }

    /// An opaque secret: neither it nor its stored digest may appear.
    fn secret(&mut self, what: &str, value: &str) {
        self.secrets.push((what.to_owned(), value.to_owned()));
        self.bytes(&format!("digest of {what}"), &SecretDigest::of(value).0);
    }

    /// An access token: neither the token nor its signature may appear.
    fn token(&mut self, what: &str, token: &str) {
        self.secret(what, token);
        let signature = token.rsplit('.').next().unwrap();
        self.secrets
            .push((format!("signature of {what}"), signature.to_owned()));
    }

    fn debug(&mut self, what: &str, value: &dyn Debug) {
        self.rendered
            .push((format!("{what} {{:?}}"), format!("{value:?}")));
        self.rendered
            .push((format!("{what} {{:#?}}"), format!("{value:#?}")));
    }

    fn display(&mut self, what: &str, value: &dyn Display) {
        self.rendered
            .push((format!("{what} {{}}"), format!("{value}")));
    }

    /// An error: its `Debug`, `Display` and every `source` in its chain.
    fn error(&mut self, what: &str, error: &(dyn std::error::Error + 'static)) {
        self.debug(what, &error);
        self.display(what, &error);
        let mut source = error.source();
        while let Some(cause) = source {
            self.display(&format!("{what} source"), &cause);
            source = cause.source();
        }
    }

    fn leaks(&self) -> Vec<String> {
        let mut leaks = Vec::new();
        for (what, text) in &self.rendered {
            for (secret, needle) in &self.secrets {
                if text.contains(needle.as_str()) {
                    leaks.push(format!("{secret} appears in {what}: {text}"));
                }
            }
        }
        leaks
    }

    fn assert_clean(&self) {
        assert!(!self.secrets.is_empty() && !self.rendered.is_empty());
        let leaks = self.leaks();
        assert!(leaks.is_empty(), "leaked:\n{}", leaks.join("\n"));
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn code_in(response: &AuthorizationResponse) -> Secret {
    let AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    let url = url::Url::parse(location.expose()).unwrap();
    let (_, code) = url.query_pairs().find(|(name, _)| name == "code").unwrap();
    Secret::new(code.into_owned())
}

fn with_flipped_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    signature[0] ^= 1;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn grant_of(world: &World, access_token: &Secret) -> appgrant::model::GrantId {
    let config = world.server.config();
    validate(
        access_token.expose(),
        &world.server.keys(),
        &config.expectations(),
        world.server.now(),
    )
    .unwrap()
    .grant_id
}

fn basic_header(client_id: &ClientId, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}")))
}

fn refresh(token: &Secret) -> TokenRequest {
    TokenRequest::RefreshToken {
        refresh_token: token.clone(),
        scope: None,
        resource: None,
    }
}

fn service_request(company: Option<&str>) -> TokenRequest {
    TokenRequest::ClientCredentials {
        company_id: company.map(CompanyId::new),
        scope: None,
        resource: None,
    }
}

/// The world's client secret, and the records the world's setup produced.
fn check_for(world: &World) -> LeakCheck {
    let mut check = LeakCheck::default();
    check.secret("client secret", world.secret.expose());
    check.debug("World app", &world.app);
    check
}

// ---------------------------------------------------------------------------------------------
// Flows

#[tokio::test]
async fn authorization_code_flow_never_shows_a_secret() {
    let world = world().await;
    let mut check = check_for(&world);
    let server = &world.server;
    let client_id = world.app.client_id.clone();

    let prompt = server
        .consent_prompt(&world.authorization_request())
        .await
        .unwrap();
    let authorization = server
        .approve_authorization(
            &world.authorization_request(),
            &world.john,
            Some(&world.acme),
        )
        .await
        .unwrap();
    let code = code_in(&authorization);
    check.secret("code", code.expose());

    let basic = ClientAuthentication::from_request(
        Some(&basic_header(&client_id, world.secret.expose())),
        None,
        None,
    )
    .unwrap();
    let request = world.exchange_request(code.clone());
    let tokens = server.token(request.clone(), &basic).await.unwrap();
    check.token("access token", tokens.access_token.expose());
    let refresh_token = tokens.refresh_token.clone().unwrap();
    check.secret("refresh token", refresh_token.expose());

    let redemption = server.store().redeem_code(&code.digest()).await.unwrap();
    let Redemption::Reused(record) = &redemption else {
        panic!("the exchange redeemed the code");
    };
    let family = server
        .store()
        .family(&grant_of(&world, &tokens.access_token))
        .await
        .unwrap()
        .unwrap();
    let app = server.app(&client_id).await.unwrap();

    check.debug("code", &code);
    check.debug("ConsentPrompt", &prompt);
    check.debug("AuthorizationResponse", &authorization);
    check.debug("ClientAuthentication::Basic", &basic);
    check.debug("TokenRequest", &request);
    check.debug("TokenResponse", &tokens);
    check.debug("Redemption", &redemption);
    check.debug("CodeRecord", record);
    check.debug("RefreshFamily", &family);
    check.debug("App", &app);
    check.debug("audit events", &world.audit.events());
    check.debug("server", server);
    check.debug("store", server.store());
    check.assert_clean();

    // The records rendered are the real ones.
    assert!(format!("{record:?}").contains(client_id.as_str()));
    assert!(format!("{family:?}").contains("john"));
    assert_eq!(app.secret_digest, Some(world.secret.digest()));
}

#[tokio::test]
async fn out_of_band_code_is_not_shown_by_debug() {
    let world = world().await;
    let request = AuthorizationRequest {
        redirect_uri: Some(OUT_OF_BAND.into()),
        ..world.authorization_request()
    };
    let response = world
        .server
        .approve_authorization(&request, &world.john, None)
        .await
        .unwrap();
    let AuthorizationResponse::ShowCode(code) = &response else {
        panic!("expected a code to show");
    };
    let mut check = check_for(&world);
    check.secret("code", code.expose());
    check.debug("AuthorizationResponse", &response);
    check.assert_clean();
}

#[tokio::test]
async fn pkce_code_verifier_never_shows_in_debug() {
    let world = world().await;
    let code = world.code_for(&world.john).await;
    let request = world.exchange_request(code.clone());
    let exchange = CodeExchange {
        code,
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some(VERIFIER.into()),
        resource: None,
        dpop_jkt: Default::default(),
    };
    let mut check = check_for(&world);
    check
        .secrets
        .push(("code_verifier".into(), VERIFIER.into()));
    check.debug("TokenRequest", &request);
    check.debug("CodeExchange", &exchange);
    check.assert_clean();
}

#[tokio::test]
async fn registration_never_shows_the_new_client_secret() {
    let world = world().await;
    let registered = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap();
    let mut check = check_for(&world);
    let secret = registered.client_secret.as_ref().unwrap();
    check.secret("new client secret", secret.expose());
    check.debug("RegisteredApp", &registered);
    check.debug("App", &registered.app);
    check.assert_clean();
}

#[tokio::test]
async fn refresh_flow_and_its_failures_never_show_a_secret() {
    let world = world().await;
    let mut check = check_for(&world);
    let first = world.tokens_for(&world.john).await;
    let first_refresh = first.refresh_token.clone().unwrap();
    check.token("first access token", first.access_token.expose());
    check.secret("first refresh token", first_refresh.expose());

    let post = ClientAuthentication::from_request(
        None,
        Some(world.app.client_id.as_str()),
        Some(world.secret.expose()),
    )
    .unwrap();
    let rotated = world
        .server
        .token(refresh(&first_refresh), &post)
        .await
        .unwrap();
    let second_refresh = rotated.refresh_token.clone().unwrap();
    check.token("second access token", rotated.access_token.expose());
    check.secret("second refresh token", second_refresh.expose());
    let family = world
        .server
        .store()
        .family(&grant_of(&world, &rotated.access_token))
        .await
        .unwrap()
        .unwrap();

    let reused = world
        .server
        .token(refresh(&first_refresh), &post)
        .await
        .unwrap_err();
    assert!(matches!(reused, TokenError::RefreshReused { .. }));
    let unknown_token = Secret::generate(&mut OsRng);
    check.secret("unknown refresh token", unknown_token.expose());
    let unknown = world
        .server
        .token(refresh(&unknown_token), &post)
        .await
        .unwrap_err();
    let revoked = world
        .server
        .token(refresh(&second_refresh), &post)
        .await
        .unwrap_err();
    let revoked_family = world
        .server
        .store()
        .family(&grant_of(&world, &rotated.access_token))
        .await
        .unwrap()
        .unwrap();

    check.debug("ClientAuthentication::Post", &post);
    check.debug("refresh TokenRequest", &refresh(&first_refresh));
    check.debug("rotated TokenResponse", &rotated);
    check.debug("RefreshFamily after rotation", &family);
    check.debug("RefreshFamily after reuse", &revoked_family);
    for (what, error) in [
        ("reuse", &reused),
        ("unknown", &unknown),
        ("revoked", &revoked),
    ] {
        check.error(what, error);
        check.display(&format!("{what} description"), &error.description());
    }
    check.debug("audit events", &world.audit.events());
    check.assert_clean();
    assert!(family.previous.is_some());
}

#[tokio::test]
async fn client_credentials_flow_and_its_failures_never_show_a_secret() {
    let world = world().await;
    let installation = world.install_service_account(&[&world.tower]).await;
    let mut check = check_for(&world);
    let bound = world.service_token(Some(&world.acme)).await;
    let unbound = world.service_token(None).await;
    check.token("bound access token", bound.access_token.expose());
    check.token("unbound access token", unbound.access_token.expose());

    let wrong_secret = Secret::generate(&mut OsRng);
    check.secret("wrong client secret", wrong_secret.expose());
    let client_id = world.app.client_id.clone();
    let wrong_basic = ClientAuthentication::Basic {
        client_id: client_id.clone(),
        secret: wrong_secret.clone(),
    };
    let wrong_post = ClientAuthentication::Post {
        client_id: client_id.clone(),
        secret: wrong_secret.clone(),
    };
    let server = &world.server;
    let failures = [
        (
            "wrong Basic secret",
            server.token(service_request(None), &wrong_basic).await,
        ),
        (
            "wrong Post secret",
            server.token(service_request(None), &wrong_post).await,
        ),
        (
            "no secret",
            server
                .token(
                    service_request(None),
                    &ClientAuthentication::Public {
                        client_id: client_id.clone(),
                    },
                )
                .await,
        ),
        (
            "not installed",
            server
                .token(service_request(Some("globex")), &world.client())
                .await,
        ),
    ];

    check.debug("bound TokenResponse", &bound);
    check.debug("unbound TokenResponse", &unbound);
    check.debug("ClientAuthentication::Basic", &wrong_basic);
    check.debug("ClientAuthentication::Post", &wrong_post);
    check.debug(
        "client credentials TokenRequest",
        &service_request(Some("acme")),
    );
    check.debug("Installation", &installation);
    for (what, result) in &failures {
        let error = result.as_ref().unwrap_err();
        check.error(what, error);
        check.display(&format!("{what} description"), &error.description());
    }
    check.debug("audit events", &world.audit.events());
    check.assert_clean();
}

#[tokio::test]
async fn failed_code_exchanges_never_echo_the_code() {
    let world = world().await;
    let mut check = check_for(&world);
    let server = &world.server;
    let mut failures: Vec<(&str, TokenError)> = Vec::new();

    let used = world.code_for(&world.john).await;
    check.secret("used code", used.expose());
    let tokens = server
        .token(world.exchange_request(used.clone()), &world.client())
        .await
        .unwrap();
    check.token("access token", tokens.access_token.expose());
    check.secret(
        "refresh token",
        tokens.refresh_token.as_ref().unwrap().expose(),
    );
    let reused = server
        .token(world.exchange_request(used), &world.client())
        .await;
    failures.push(("reused code", reused.unwrap_err()));

    let misdirected = world.code_for(&world.john).await;
    check.secret("misdirected code", misdirected.expose());
    let request = TokenRequest::AuthorizationCode {
        code: misdirected,
        redirect_uri: Some(format!("{REDIRECT}/")),
        code_verifier: Some(VERIFIER.into()),
        resource: None,
    };
    check.debug("misdirected TokenRequest", &request);
    let result = server.token(request, &world.client()).await;
    failures.push(("wrong redirect_uri", result.unwrap_err()));

    let unverified = world.code_for(&world.john).await;
    check.secret("unverified code", unverified.expose());
    let request = TokenRequest::AuthorizationCode {
        code: unverified,
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some("x".repeat(43).into()),
        resource: None,
    };
    let result = server.token(request, &world.client()).await;
    failures.push(("wrong verifier", result.unwrap_err()));

    let stale = world.code_for(&world.john).await;
    check.secret("expired code", stale.expose());
    world.clock.advance(TimeDelta::minutes(11));
    let result = server
        .token(world.exchange_request(stale), &world.client())
        .await;
    failures.push(("expired code", result.unwrap_err()));

    let invented = Secret::generate(&mut OsRng);
    check.secret("unknown code", invented.expose());
    let result = server
        .token(world.exchange_request(invented), &world.client())
        .await;
    failures.push(("unknown code", result.unwrap_err()));

    for (what, error) in &failures {
        check.error(what, error);
        check.display(&format!("{what} description"), &error.description());
    }
    check.debug("audit events", &world.audit.events());
    check.assert_clean();
    assert!(matches!(failures[0].1, TokenError::CodeReused { .. }));
}

#[tokio::test]
async fn authorization_and_server_errors_never_show_a_secret() {
    let world = world().await;
    let mut check = check_for(&world);
    let server = &world.server;
    let tokens = world.tokens_for(&world.john).await;
    let access = tokens.access_token.expose().to_owned();
    check.token("access token", &access);
    check.secret(
        "refresh token",
        tokens.refresh_token.as_ref().unwrap().expose(),
    );

    let unregistered = AuthorizationRequest {
        redirect_uri: Some("https://evil.example.com/cb".into()),
        ..world.authorization_request()
    };
    let page = server
        .approve_authorization(&unregistered, &world.john, None)
        .await
        .unwrap_err();
    let implicit = AuthorizationRequest {
        response_type: Some("token".into()),
        ..world.authorization_request()
    };
    let redirect = server
        .approve_authorization(&implicit, &world.john, None)
        .await
        .unwrap_err();
    let denied = server
        .deny_authorization(&world.authorization_request())
        .await
        .unwrap();
    check.error("AuthorizeError::Page", &page);
    check.error("AuthorizeError::Redirect", &redirect);
    check.debug("ErrorRedirect", &denied);

    // A tampered token, an expired one and a revoked one.
    let tampered = with_flipped_signature(&access);
    let bad_signature = server.token_info(&tampered).await.unwrap_err();
    let validation = validate(
        &tampered,
        &server.keys(),
        &server.config().expectations(),
        server.now(),
    )
    .unwrap_err();
    let introspect_wrong_client = server
        .introspect(
            &ClientAuthentication::Basic {
                client_id: world.app.client_id.clone(),
                secret: Secret::new(access.clone()),
            },
            &access,
        )
        .await
        .unwrap_err();
    let bearer_as_basic = parse_basic(&format!("Bearer {access}")).unwrap_err();
    server.revoke(&world.client(), &access).await.unwrap();
    let revoked = server.token_info(&access).await.unwrap_err();
    world.clock.advance(TimeDelta::seconds(5400));
    let expired = server.token_info(&access).await.unwrap_err();
    assert!(matches!(revoked, ServerError::Revoked));

    for (what, error) in [
        ("bad signature", &bad_signature),
        ("revoked", &revoked),
        ("expired", &expired),
    ] {
        check.error(what, error);
    }
    check.error("ValidationError", &validation);
    check.error("introspection TokenError", &introspect_wrong_client);
    check.error("parse_basic TokenError", &bearer_as_basic);
    check.assert_clean();
    assert!(matches!(
        bad_signature,
        ServerError::InvalidToken(appgrant::token::ValidationError::BadSignature)
    ));
}

// ---------------------------------------------------------------------------------------------
// Keys

const HMAC_SECRET: &[u8] = b"the-shared-hmac-secret-of-exactly-48-bytes-long!";

#[tokio::test]
async fn signing_keys_never_show_private_or_shared_material() {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    let mut check = LeakCheck::default();
    check.bytes("HMAC secret", HMAC_SECRET);
    check.secrets.push((
        "HMAC secret (raw)".into(),
        String::from_utf8_lossy(HMAC_SECRET).into(),
    ));

    let seed = [0x2au8; 32];
    let ed = ed25519_dalek::SigningKey::from_bytes(&seed);
    check.bytes("Ed25519 seed", &seed);
    let ed_pem = ed.to_pkcs8_pem(LineEnding::LF).unwrap();
    let scalar = p256::SecretKey::from_slice(&[0x17u8; 32]).unwrap();
    check.bytes("P-256 scalar", &scalar.to_bytes());
    let ec_pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&scalar, LineEnding::LF).unwrap();
    for (what, pem) in [
        ("Ed25519 PEM", ed_pem.as_str()),
        ("P-256 PEM", ec_pem.as_str()),
    ] {
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        check.secrets.push((format!("{what} body"), body));
    }

    let hmac = SigningKey::hmac("shared", HMAC_SECRET).unwrap();
    let eddsa = SigningKey::from_pkcs8_pem(Algorithm::EdDSA, "ed", &ed_pem).unwrap();
    let es256 = SigningKey::from_pkcs8_pem(Algorithm::ES256, "ec", &ec_pem).unwrap();
    check.debug("HS256 SigningKey", &hmac);
    check.debug("EdDSA SigningKey", &eddsa);
    check.debug("ES256 SigningKey", &es256);

    let mut keys = KeySet::new(hmac);
    keys.rotate(eddsa, chrono::Utc::now() + TimeDelta::hours(1));
    keys.rotate(es256, chrono::Utc::now() + TimeDelta::hours(1));
    check.debug("KeySet", &keys);
    check.debug("Jwks", &keys.jwks());
    check.display("Jwks JSON", &serde_json::to_string(&keys.jwks()).unwrap());

    let short = SigningKey::hmac("short", &HMAC_SECRET[..31]).unwrap_err();
    check.error("KeyError", &short);
    let wrong_pem = SigningKey::from_pkcs8_pem(Algorithm::ES256, "x", &ed_pem).unwrap_err();
    check.error("KeyError for a PEM", &wrong_pem);

    let server = AuthorizationServer::builder(MemoryStore::new(), Config::new(ISSUER))
        .keys(keys)
        .build()
        .unwrap();
    check.debug("server", &server);
    check.debug("server keys", &server.keys());
    check.assert_clean();
    assert!(format!("{:?}", server.keys()).contains("shared"));
}

// ---------------------------------------------------------------------------------------------
// Values themselves

#[test]
fn secret_debug_is_redacted_and_expose_is_the_way_out() {
    let secret = Secret::generate(&mut OsRng);
    let mut check = LeakCheck::default();
    check.secret("secret", secret.expose());
    check.debug("Secret", &secret);
    check.debug("SecretDigest", &secret.digest());
    check.assert_clean();
    assert_eq!(URL_SAFE_NO_PAD.decode(secret.expose()).unwrap().len(), 32);
}

#[test]
fn the_leak_check_catches_a_secret_in_any_encoding() {
    let secret = Secret::generate(&mut OsRng);
    let digest = secret.digest().0;
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    for leaked in [
        secret.expose().to_owned(),
        hex,
        STANDARD.encode(digest),
        format!("{digest:?}"),
    ] {
        let mut check = LeakCheck::default();
        check.secret("secret", secret.expose());
        check.display("leaky value", &leaked);
        assert!(!check.leaks().is_empty(), "missed {leaked}");
    }
}

#[tokio::test]
async fn token_response_serializes_with_the_real_tokens() {
    let world = world().await;
    let tokens = world.tokens_for(&world.john).await;
    let json = serde_json::to_value(&tokens).unwrap();
    assert_eq!(json["access_token"], tokens.access_token.expose());
    assert_eq!(
        json["refresh_token"],
        tokens.refresh_token.as_ref().unwrap().expose()
    );
    assert_eq!(json["token_type"], "bearer");
    assert_eq!(json["expires_in"], 5400);

    world.install_service_account(&[&world.tower]).await;
    let service = world.service_token(Some(&world.acme)).await;
    let json = serde_json::to_value(&service).unwrap();
    assert_eq!(json["access_token"], service.access_token.expose());
    assert!(json.get("refresh_token").is_none());
}

#[test]
fn parsed_request_parameters_never_show_a_secret_in_debug() {
    use appgrant::http::params::{parse_body, parse_form, parse_form_keeping_first};
    let mut check = LeakCheck::default();
    let secrets = [
        ("client secret", "s3cr3t-client-secret-value"),
        ("code", "c0de-value-abcdefghijklmnop"),
        ("refresh token", "r3fresh-token-value-abcdefgh"),
        ("code verifier", VERIFIER),
        ("password", "hunter2-password-value"),
    ];
    for (what, value) in secrets {
        check.secret(what, value);
    }
    let form = format!(
        "grant_type=authorization_code&client_id=app&client_secret={}&code={}&refresh_token={}\
         &code_verifier={}&password={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
        secrets[0].1, secrets[1].1, secrets[2].1, secrets[3].1, secrets[4].1
    );
    let json = serde_json::json!({
        "grant_type": "refresh_token",
        "client_secret": secrets[0].1,
        "refresh_token": secrets[2].1,
    })
    .to_string();
    let parsed = parse_form(form.as_bytes()).unwrap();
    assert_eq!(
        parsed.get("client_secret").map(String::as_str),
        Some(secrets[0].1)
    );
    check.debug("form params", &parsed);
    check.debug(
        "form params keeping first",
        &parse_form_keeping_first(form.as_bytes()).unwrap(),
    );
    check.debug(
        "JSON params",
        &parse_body(Some("application/json"), json.as_bytes()).unwrap(),
    );
    check.debug(
        "token request",
        &TokenRequest::from_params(&parsed).unwrap(),
    );
    check.assert_clean();
    // What is not secret stays readable, so the Debug output is still worth logging.
    let shown = format!("{parsed:?}");
    assert!(shown.contains("authorization_code") && shown.contains("client_secret"));
}

#[test]
fn keys_sessions_and_refresh_tokens_never_show_in_debug() {
    use appgrant::http::SignedIn;
    use appgrant::token::RefreshTokenKey;
    let mut check = LeakCheck::default();
    let key_bytes = [0x5au8; 32];
    check.bytes("refresh-token key", &key_bytes);
    let key = RefreshTokenKey::from_bytes(key_bytes);
    let token = key.mint(
        &appgrant::model::GrantId::new("grant-1"),
        7,
        &mut rand::thread_rng(),
    );
    check.secret("refresh token", token.expose());
    let session = "session-id-that-is-a-bearer-secret";
    check.secret("session id", session);
    let signed_in = SignedIn {
        user: appgrant::model::UserId::new("jane"),
        company: None,
        session: Secret::new(session),
    };
    check.debug("RefreshTokenKey", &key);
    check.debug("refresh token", &token);
    check.debug("opened refresh token", &key.open(token.expose()));
    check.debug("SignedIn", &signed_in);
    check.debug("HttpOptions", &appgrant::http::HttpOptions::default());
    check.assert_clean();
    assert!(format!("{signed_in:?}").contains("jane"));
}

#[tokio::test]
async fn the_pure_flows_inputs_and_outputs_never_show_a_secret_in_debug() {
    use appgrant::grant::{ExchangeInput, Presented, RefreshInput, exchange_code, rotate};
    use appgrant::token::RefreshTokenKey;
    let world = world().await;
    let mut check = check_for(&world);
    let (config, keys) = (world.server.config().clone(), world.server.keys());
    let refresh_key = RefreshTokenKey::generate(&mut OsRng);
    let code = code_in(
        &world
            .server
            .approve_authorization(&world.authorization_request(), &world.jane, None)
            .await
            .unwrap(),
    );
    check.secret("code", code.expose());
    let record = world
        .server
        .store()
        .code(&code.digest())
        .await
        .unwrap()
        .unwrap();
    let redemption = Redemption::First(record);
    let exchange = CodeExchange {
        code: code.clone(),
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some(VERIFIER.into()),
        resource: None,
        dpop_jkt: Default::default(),
    };
    let jane = world.server.store().user(&world.jane).await.unwrap();
    let input = ExchangeInput {
        app: &world.app,
        redemption: &redemption,
        request: &exchange,
        user: jane.as_ref(),
    };
    check.debug("ExchangeInput", &input);
    let now = world.server.now();
    let issued = exchange_code(input, &config, &keys, &refresh_key, now, &mut OsRng).unwrap();
    check.token("access token", issued.response.access_token.expose());
    let first_refresh = issued.response.refresh_token.clone().unwrap();
    check.secret("refresh token", first_refresh.expose());
    check.debug("Issued", &issued);
    let family = issued.family.clone().unwrap();
    let input = RefreshInput {
        app: &world.app,
        family: &family,
        presented: Presented::Current,
        user: jane.as_ref(),
        scope: None,
        resource: None,
        dpop_jkt: Default::default(),
    };
    check.debug("RefreshInput", &input);
    let rotation = rotate(input, &config, &keys, &refresh_key, now, &mut OsRng).unwrap();
    check.token(
        "rotated access token",
        rotation.issued.response.access_token.expose(),
    );
    let next = rotation.issued.response.refresh_token.clone().unwrap();
    check.secret("rotated refresh token", next.expose());
    check.debug("Rotation", &rotation);
    check.assert_clean();
}

#[test]
fn the_deployment_secret_and_the_keys_derived_from_it_debug_as_redacted() {
    let secret = appgrant::token::DeploymentSecret::generate(&mut OsRng);
    let mut check = LeakCheck::default();
    check.secret("deployment secret", &secret.encode());
    check.debug("DeploymentSecret", &secret);
    check.debug("ConsentFormKey", &secret.consent_form_key());
    check.debug("PushedRequestKey", &secret.pushed_request_key());
    check.debug("DpopNonceKey", &secret.dpop_nonce_key());
    check.assert_clean();
    // Each says what it is, so a log shows a key was there without showing it.
    for shown in [
        format!("{secret:?}"),
        format!("{:?}", secret.consent_form_key()),
        format!("{:?}", secret.pushed_request_key()),
        format!("{:?}", secret.dpop_nonce_key()),
    ] {
        assert!(shown.contains("redacted"), "{shown}");
    }
}

#[test]
fn a_digest_matches_its_own_secret_only_and_secrets_and_keys_say_they_are_redacted() {
    let digest = SecretDigest::of("the-secret");
    assert!(digest.matches("the-secret"));
    assert!(!digest.matches("the-secreT"));
    assert!(!digest.matches(""));
    let secret = Secret::new("the-secret");
    assert!(format!("{secret:?}").contains("redacted"), "{secret:?}");
    let key = appgrant::token::RefreshTokenKey::from_bytes([9; 32]);
    assert!(format!("{key:?}").contains("redacted"), "{key:?}");
}
