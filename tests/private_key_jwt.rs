//! RFC 7523 `private_key_jwt`: a service account's app authenticates with a JWT it signs with a
//! key it registered, so the server holds no shared secret. Assertions are signed here with the
//! independent `jsonwebtoken` crate.

mod support;

#[path = "in_process/mod.rs"]
mod in_process;

use appgrant::grant::{
    AppRegistration, ClientAuthentication, ErrorCode, JWT_BEARER_ASSERTION, RegistrationError,
    TokenError, TokenRequest,
};
use appgrant::model::*;
use appgrant::server::{Clock, ServerError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use jsonwebtoken::{EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};
use support::{ISSUER, World};

const TOKEN_ENDPOINT: &str = "https://auth.example.com/oauth/token";

/// A P-256 key pair: the public JWK to register, the private key to sign with.
struct ClientKey {
    jwk: Value,
    signing: EncodingKey,
}

fn client_key(kid: &str) -> ClientKey {
    let secret = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let point = secret.verifying_key().to_encoded_point(false);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    });
    let pem = secret
        .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    ClientKey {
        jwk,
        signing: EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    }
}

fn keyed_registration(keys: Vec<Value>) -> AppRegistration {
    AppRegistration {
        name: "Nightly sync".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![],
        flows: AppFlows::ServiceAccount,
        security: ClientSecurity {
            authentication: ClientAuthMethod::PrivateKeyJwt { keys },
            ..ClientSecurity::default()
        },
        ..support::both_flows_app()
    }
}

/// The world's Acme, with an app that authenticates with `key`, installed on the tower.
async fn keyed_app(world: &World, key: &ClientKey) -> App {
    installed_app_with_keys(world, vec![key.jwk.clone()]).await
}

/// An app registered with these public keys, installed in Acme on the tower.
async fn installed_app_with_keys(world: &World, keys: Vec<Value>) -> App {
    let registered = world
        .server
        .register_app(keyed_registration(keys))
        .await
        .unwrap();
    assert!(
        registered.client_secret.is_none(),
        "a private_key_jwt app gets no shared secret"
    );
    let app = registered.app;
    world
        .server
        .request_installation(&world.acme, &app.client_id, &world.jane)
        .await
        .unwrap();
    world
        .server
        .approve_installation(
            &world.acme,
            &app.client_id,
            &world.jane,
            [world.tower.clone()].into(),
        )
        .await
        .unwrap();
    app
}

/// The library's router over the world's server, Jane signed in.
fn router(world: &World) -> axum::Router {
    in_process::app(
        world.server.clone(),
        in_process::SignedInAs {
            user: world.jane.clone(),
            company: world.acme.clone(),
            session: "session".into(),
        },
    )
}

/// Claims of an assertion by `app` at the world's time, valid for a minute.
fn claims(world: &World, app: &App) -> Value {
    let now = world.clock.now().timestamp();
    json!({
        "iss": app.client_id.as_str(),
        "sub": app.client_id.as_str(),
        "aud": TOKEN_ENDPOINT,
        "jti": format!("{:x}", rand::random::<u128>()),
        "iat": now,
        "exp": now + 60,
    })
}

fn sign(key: &ClientKey, claims: &Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = key.jwk["kid"].as_str().map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.signing).unwrap()
}

fn asserting(app: &App, assertion: &str) -> ClientAuthentication {
    ClientAuthentication::from_assertion(
        JWT_BEARER_ASSERTION,
        assertion,
        Some(app.client_id.as_str()),
    )
    .unwrap()
}

fn bound_to_acme(world: &World) -> TokenRequest {
    TokenRequest::ClientCredentials {
        company_id: Some(world.acme.clone()),
        scope: None,
        resource: None,
    }
}

async fn token_with(world: &World, app: &App, assertion: &str) -> Result<(), TokenError> {
    world
        .server
        .token(bound_to_acme(world), &asserting(app, assertion))
        .await
        .map(|_| ())
}

fn refused_client(result: Result<(), TokenError>) -> String {
    match result {
        Err(error) => {
            assert_eq!(error.code(), ErrorCode::InvalidClient, "{error}");
            error.to_string()
        }
        Ok(()) => panic!("the assertion was accepted"),
    }
}

#[tokio::test]
async fn a_service_account_gets_tokens_with_an_assertion_signed_by_its_registered_key() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let tokens = world
        .server
        .token(
            bound_to_acme(&world),
            &asserting(&app, &sign(&key, &claims(&world, &app))),
        )
        .await
        .unwrap();
    let read_tower = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(world.allowed(&tokens, &read_tower).await);
}

#[tokio::test]
async fn an_assertion_is_accepted_once() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let assertion = sign(&key, &claims(&world, &app));
    token_with(&world, &app, &assertion).await.unwrap();
    let reason = refused_client(token_with(&world, &app, &assertion).await);
    assert!(reason.contains("already used"), "{reason}");
}

#[tokio::test]
async fn an_assertion_signed_by_an_unregistered_key_is_refused() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let impostor = client_key("k1");
    refused_client(token_with(&world, &app, &sign(&impostor, &claims(&world, &app))).await);
}

#[tokio::test]
async fn an_assertion_must_be_addressed_to_this_server() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    for aud in [
        json!("https://elsewhere.example.com/oauth/token"),
        json!([]),
        json!(null),
    ] {
        let mut claims = claims(&world, &app);
        claims["aud"] = aud;
        refused_client(token_with(&world, &app, &sign(&key, &claims)).await);
    }
    // The issuer, or the endpoint in a list, are this server.
    for aud in [
        json!(ISSUER),
        json!(["https://other.example", TOKEN_ENDPOINT]),
    ] {
        let mut claims = claims(&world, &app);
        claims["aud"] = aud;
        token_with(&world, &app, &sign(&key, &claims))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_assertion_must_be_issued_by_and_about_the_client_itself() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    for claim in ["iss", "sub"] {
        let mut claims = claims(&world, &app);
        claims[claim] = json!(world.app.client_id.as_str());
        refused_client(token_with(&world, &app, &sign(&key, &claims)).await);
    }
}

#[tokio::test]
async fn an_expired_future_or_long_lived_assertion_is_refused() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let now = world.clock.now().timestamp();
    let cases = [
        ("exp", json!(now)),
        ("exp", json!(now + 11 * 60)),
        ("exp", Value::Null),
        ("iat", json!(now + 30)),
        ("nbf", json!(now + 30)),
        ("jti", Value::Null),
        ("jti", json!("")),
    ];
    for (claim, value) in cases {
        let mut claims = claims(&world, &app);
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(claim);
        } else {
            claims[claim] = value;
        }
        refused_client(token_with(&world, &app, &sign(&key, &claims)).await);
    }
}

/// Whether an assertion by `app` with `changes` made to the usual claims is accepted.
async fn accepted_with(world: &World, key: &ClientKey, app: &App, changes: &[(&str, i64)]) -> bool {
    let mut claims = claims(world, app);
    for (claim, value) in changes {
        claims[*claim] = json!(value);
    }
    token_with(world, app, &sign(key, &claims)).await.is_ok()
}

#[tokio::test]
async fn an_assertion_may_live_ten_minutes_and_its_times_are_widened_by_the_leeway_alone() {
    for leeway in [0, 30] {
        let mut config = appgrant::Config::new(ISSUER);
        config.leeway_seconds = leeway;
        let world = support::world_with(config).await;
        let key = client_key("k1");
        let app = keyed_app(&world, &key).await;
        let now = world.clock.now().timestamp();
        let longest = now + 10 * 60 + leeway;
        let edges = [
            // Valid for at most ten minutes from its arrival, plus the leeway.
            ("exp", longest, true),
            ("exp", longest + 1, false),
            // Expired once the leeway has passed after `exp` too.
            ("exp", now - leeway + 1, true),
            ("exp", now - leeway, false),
            // Issued, or valid from, at most the leeway ahead of the server's clock.
            ("iat", now + leeway, true),
            ("iat", now + leeway + 1, false),
            ("nbf", now + leeway, true),
            ("nbf", now + leeway + 1, false),
        ];
        for (claim, at, accepted) in edges {
            assert_eq!(
                accepted_with(&world, &key, &app, &[(claim, at)]).await,
                accepted,
                "leeway {leeway}: {claim} {:+}",
                at - now
            );
        }
    }
}

#[tokio::test]
async fn an_unsigned_or_symmetrically_signed_assertion_is_refused() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let payload = URL_SAFE_NO_PAD.encode(claims(&world, &app).to_string());
    let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
    refused_client(token_with(&world, &app, &none).await);
    // HS256 keyed with the registered public key's JSON: the classic key-confusion attack.
    let hmac = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(&world, &app),
        &EncodingKey::from_secret(key.jwk.to_string().as_bytes()),
    )
    .unwrap();
    refused_client(token_with(&world, &app, &hmac).await);
}

#[tokio::test]
async fn an_assertion_with_an_unsupported_algorithm_is_refused_as_such_and_not_as_malformed() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let payload = URL_SAFE_NO_PAD.encode(claims(&world, &app).to_string());
    for alg in ["none", "HS256"] {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg }).to_string());
        let signature = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let refused = refused_client(
            token_with(&world, &app, &format!("{header}.{payload}.{signature}")).await,
        );
        assert!(
            refused.contains("unsupported algorithm"),
            "{alg}: {refused}"
        );
    }
    // A JWT that does not even parse says so, and names no algorithm.
    let refused = refused_client(token_with(&world, &app, "not.a.jwt").await);
    assert!(refused.contains("malformed"), "{refused}");
    assert!(!refused.contains("algorithm"), "{refused}");
}

#[tokio::test]
async fn a_private_key_jwt_app_cannot_use_a_secret_and_a_secret_app_cannot_use_an_assertion() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let with_secret = ClientAuthentication::Basic {
        client_id: app.client_id.clone(),
        secret: world.secret.clone(),
    };
    let refused = world
        .server
        .token(bound_to_acme(&world), &with_secret)
        .await;
    assert_eq!(refused.unwrap_err().code(), ErrorCode::InvalidClient);
    let public = ClientAuthentication::Public {
        client_id: app.client_id.clone(),
    };
    let refused = world.server.token(bound_to_acme(&world), &public).await;
    assert_eq!(refused.unwrap_err().code(), ErrorCode::InvalidClient);

    // The world's own app registered no key: an assertion, however well made, is refused.
    let secret_app = world.app.clone();
    let assertion = sign(&key, &claims(&world, &secret_app));
    refused_client(token_with(&world, &secret_app, &assertion).await);
}

#[tokio::test]
async fn a_client_presenting_the_other_kind_of_credential_is_told_the_kind_it_registered() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    // A private_key_jwt app has no secret: whichever one it sends, it is told to sign instead.
    for secret in [world.secret.clone(), appgrant::token::Secret::new("")] {
        let with_secret = ClientAuthentication::Post {
            client_id: app.client_id.clone(),
            secret,
        };
        let refused = refused_client(
            world
                .server
                .token(bound_to_acme(&world), &with_secret)
                .await
                .map(|_| ()),
        );
        assert!(
            refused.ends_with("this client authenticates with private_key_jwt"),
            "{refused}"
        );
    }
    // A secret app's assertion is refused as the wrong method, not as a bad assertion.
    let secret_app = world.app.clone();
    let assertion = sign(&key, &claims(&world, &secret_app));
    let refused = refused_client(token_with(&world, &secret_app, &assertion).await);
    assert!(
        refused.ends_with("this client authenticates with its secret, not private_key_jwt"),
        "{refused}"
    );
}

#[tokio::test]
async fn the_key_an_assertion_names_by_kid_must_be_the_one_that_signed_it() {
    let world = support::world().await;
    let (first, second) = (client_key("k1"), client_key("k2"));
    let app = installed_app_with_keys(&world, vec![first.jwk.clone(), second.jwk.clone()]).await;
    // Signed by the second key, but naming the first.
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let lying = jsonwebtoken::encode(&header, &claims(&world, &app), &second.signing).unwrap();
    refused_client(token_with(&world, &app, &lying).await);
    token_with(&world, &app, &sign(&second, &claims(&world, &app)))
        .await
        .unwrap();
}

#[tokio::test]
async fn registration_refuses_private_keys_weak_keys_public_clients_and_no_keys() {
    let world = support::world().await;
    let key = client_key("k1");
    let mut private = key.jwk.clone();
    private["d"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
    let weak_rsa = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 128]), "e": "AQAB"});
    for keys in [
        vec![private],
        vec![weak_rsa],
        vec![],
        vec![json!({"kty": "oct", "k": "c2VjcmV0"})],
    ] {
        let refused = world.server.register_app(keyed_registration(keys)).await;
        assert!(
            matches!(
                refused,
                Err(ServerError::Registration(
                    RegistrationError::InvalidClientKeys(_)
                ))
            ),
            "{refused:?}"
        );
    }
    let public = AppRegistration {
        client_type: ClientType::Public,
        flows: AppFlows::UserDelegated,
        redirect_uris: vec![support::REDIRECT.into()],
        ..keyed_registration(vec![key.jwk.clone()])
    };
    assert!(world.server.register_app(public).await.is_err());
}

#[tokio::test]
async fn a_refused_client_key_is_refused_with_the_reason_the_developer_must_fix() {
    let world = support::world().await;
    let key = client_key("k1");
    let mut private = key.jwk.clone();
    private["d"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
    let weak_rsa = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 128]), "e": "AQAB"});
    let cases = [
        (private, "a key holds private material"),
        (weak_rsa, "an RSA key is shorter than 2048 bits"),
        // A shared secret is private material too.
        (
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            "a key holds private material",
        ),
        (
            json!({"kty": "EC", "crv": "P-384", "x": "AAAA", "y": "AAAA"}),
            "a key is not an Ed25519, P-256 or RSA public JWK",
        ),
    ];
    for (jwk, reason) in cases {
        let refused = world
            .server
            .register_app(keyed_registration(vec![jwk]))
            .await;
        match refused {
            Err(ServerError::Registration(RegistrationError::InvalidClientKeys(said))) => {
                assert_eq!(said, reason);
            }
            other => panic!("{reason}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_token_endpoint_reads_an_assertion_from_the_form_and_finds_the_client_by_its_sub() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let router = router(&world);
    let assertion = sign(&key, &claims(&world, &app));
    let form = [
        ("grant_type", "client_credentials"),
        ("company_id", "acme"),
        ("client_assertion_type", JWT_BEARER_ASSERTION),
        ("client_assertion", assertion.as_str()),
    ];
    let answer = in_process::post_form(&router, "/oauth/token", &form, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.json()["access_token"].is_string());

    // An assertion beside a Basic header is two methods at once.
    let another = sign(&key, &claims(&world, &app));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION),
        ("client_assertion", another.as_str()),
    ];
    let basic = in_process::basic(app.client_id.as_str(), "anything");
    let answer = in_process::post_form(&router, "/oauth/token", &form, Some(&basic)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "invalid_request");

    // Another assertion type is not one this server understands.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:example:saml"),
        ("client_assertion", another.as_str()),
    ];
    let answer = in_process::post_form(&router, "/oauth/token", &form, None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["error"], "invalid_client");
}

#[tokio::test]
async fn metadata_lists_private_key_jwt_and_its_signing_algorithms() {
    let world = support::world().await;
    let router = router(&world);
    let metadata = in_process::get(&router, "/.well-known/oauth-authorization-server", None)
        .await
        .json();
    for field in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
    ] {
        let methods = metadata[field].as_array().unwrap();
        assert!(methods.contains(&json!("private_key_jwt")), "{field}");
    }
    let algorithms = metadata["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algorithms.contains(&json!("ES256")));
    assert!(!algorithms.contains(&json!("none")));
    assert!(!algorithms.contains(&json!("HS256")));
}

#[tokio::test]
async fn an_assertion_remembered_as_used_is_forgotten_only_after_it_expired() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    token_with(&world, &app, &sign(&key, &claims(&world, &app)))
        .await
        .unwrap();
    let report = world.server.purge().await.unwrap();
    assert_eq!(report.used_once, 0, "the assertion could still be replayed");
    // Purge keeps a day's margin for instances whose clocks run behind.
    world
        .clock
        .advance(TimeDelta::minutes(2) + TimeDelta::days(1));
    let report = world.server.purge().await.unwrap();
    assert_eq!(report.used_once, 1);
}

#[test]
fn an_rsa_key_just_short_of_2048_bits_is_refused() {
    // A 2041-bit modulus: 256 bytes long, but not 2048 bits.
    let mut modulus = [0xFFu8; 256];
    modulus[0] = 0x01;
    let jwk = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(modulus), "e": "AQAB"});
    assert_eq!(
        appgrant::token::PublicKey::from_jwk(&jwk).unwrap_err(),
        appgrant::token::JwkError::WeakRsa
    );
}

/// An RSA client key: its public JWK and a jsonwebtoken signing key, from one 2048-bit key.
fn rsa_client_key() -> (Value, EncodingKey) {
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let jwk = json!({
        "kty": "RSA",
        "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
    });
    let pem = private
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    (jwk, EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap())
}

/// The signing input and signature of a compact JWS.
fn signed_parts(jws: &str) -> (&str, Vec<u8>) {
    let (input, signature) = jws.rsplit_once('.').unwrap();
    (input, URL_SAFE_NO_PAD.decode(signature).unwrap())
}

#[test]
fn an_rsa_key_verifies_rs256_and_ps256_and_nothing_else() {
    let (jwk, signing) = rsa_client_key();
    let key = appgrant::token::PublicKey::from_jwk(&jwk).unwrap();
    let claims = json!({"sub": "nightly"});
    for algorithm in [
        jsonwebtoken::Algorithm::RS256,
        jsonwebtoken::Algorithm::PS256,
    ] {
        let jws = jsonwebtoken::encode(&Header::new(algorithm), &claims, &signing).unwrap();
        let (input, signature) = signed_parts(&jws);
        let name = format!("{algorithm:?}");
        assert!(key.verifies(&name, input.as_bytes(), &signature), "{name}");
        assert!(!key.verifies(&name, b"another input", &signature), "{name}");
        assert!(
            !key.verifies("ES256", input.as_bytes(), &signature),
            "{name}"
        );
    }
}

#[test]
fn a_jwk_that_names_its_algorithm_verifies_with_that_one_only() {
    use ed25519_dalek::Signer;
    let signer = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let x = URL_SAFE_NO_PAD.encode(signer.verifying_key().as_bytes());
    let signature = signer.sign(b"input").to_bytes();
    let named = |alg: &str| {
        appgrant::token::PublicKey::from_jwk(
            &json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": alg}),
        )
        .unwrap()
    };
    assert!(named("EdDSA").verifies("EdDSA", b"input", &signature));
    assert!(!named("ES256").verifies("EdDSA", b"input", &signature));
}

#[test]
fn a_client_key_and_a_client_jwt_show_in_debug_what_identifies_them_and_never_the_signature() {
    let key = client_key("k1");
    let public = appgrant::token::PublicKey::from_jwk(&key.jwk).unwrap();
    let shown = format!("{public:?}");
    assert!(
        shown.contains(public.thumbprint()) && shown.contains("k1"),
        "{shown}"
    );
    let jws = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::ES256),
        &json!({"jti": "the-jti"}),
        &key.signing,
    )
    .unwrap();
    let parsed = appgrant::token::ClientJwt::parse(&jws).unwrap();
    let shown = format!("{parsed:?}");
    let signature = jws.rsplit_once('.').unwrap().1;
    assert!(
        shown.contains("the-jti") && shown.contains("ES256"),
        "{shown}"
    );
    assert!(!shown.contains(signature), "{shown}");
}

#[tokio::test]
async fn an_assertion_whose_exp_is_a_whole_number_written_as_a_float_is_accepted() {
    let world = support::world().await;
    let key = client_key("k1");
    let app = keyed_app(&world, &key).await;
    let mut claims = claims(&world, &app);
    claims["exp"] = json!(world.clock.now().timestamp() as f64 + 60.0);
    token_with(&world, &app, &sign(&key, &claims))
        .await
        .unwrap();
    let mut fractional = self::claims(&world, &app);
    fractional["exp"] = json!(world.clock.now().timestamp() as f64 + 60.5);
    refused_client(token_with(&world, &app, &sign(&key, &fractional)).await);
}
