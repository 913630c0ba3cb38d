//! JWT access tokens (RFC 9068) and the key set: what a token says, how long it lives, what
//! validation refuses, how keys rotate, what the JWKS publishes, and that other JWT libraries
//! accept our tokens.

mod support;

use appgrant::Config;
use appgrant::grant::{TokenGrant, mint_access_token};
use appgrant::model::{ClientId, GrantId};
use appgrant::server::ServerError;
use appgrant::token::{
    AccessClaims, Algorithm, Jwk, KeyError, KeySet, SigningKey, SubjectKind, ValidationError,
    issue, validate,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use rand::rngs::OsRng;
use serde_json::{Value, json};
use std::sync::LazyLock;
use support::{ISSUER, world, world_with};

// ---------------------------------------------------------------------------------------------
// Helpers

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn config() -> Config {
    Config::new(ISSUER)
}

fn key(algorithm: Algorithm) -> SigningKey {
    SigningKey::generate(algorithm, &mut OsRng).unwrap()
}

fn keyset(algorithm: Algorithm) -> KeySet {
    KeySet::new(key(algorithm))
}

fn user_grant() -> TokenGrant {
    TokenGrant {
        subject: "john".into(),
        client_id: ClientId::new("field-sync"),
        kind: SubjectKind::User,
        company: None,
        grant: GrantId::new("grant-1"),
        granted_at: t0(),
        scope: None,
        resource: None,
        dpop_jkt: Default::default(),
    }
}

/// A token for John, signed by the current key of `keys` at `at`.
fn mint_with(keys: &KeySet, config: &Config, at: DateTime<Utc>) -> (String, AccessClaims) {
    let (token, claims) = mint_access_token(user_grant(), config, keys, at, &mut OsRng);
    (token.expose().to_owned(), claims)
}

fn mint(keys: &KeySet, at: DateTime<Utc>) -> (String, AccessClaims) {
    mint_with(keys, &config(), at)
}

fn check(token: &str, keys: &KeySet, at: DateTime<Utc>) -> Result<AccessClaims, ValidationError> {
    validate(token, keys, &config().expectations(), at)
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(part: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(part).unwrap()
}

fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

fn header_of(token: &str) -> Value {
    serde_json::from_slice(&unb64(segments(token)[0])).unwrap()
}

fn claims_of(token: &str) -> Value {
    serde_json::from_slice(&unb64(segments(token)[1])).unwrap()
}

/// A compact JWS of raw `header` and `payload` segments, signed by `key`.
fn sign_segments(header: &str, payload: &str, key: &SigningKey) -> String {
    let input = format!("{header}.{payload}");
    let signature = b64(key.sign(input.as_bytes()));
    format!("{input}.{signature}")
}

/// A compact JWS of `header` and `claims`, really signed by `key`.
fn forge(header: &Value, claims: &Value, key: &SigningKey) -> String {
    sign_segments(&b64(header.to_string()), &b64(claims.to_string()), key)
}

/// `token` with its header replaced, payload and signature untouched.
fn with_header(token: &str, header: &Value) -> String {
    let parts = segments(token);
    format!("{}.{}.{}", b64(header.to_string()), parts[1], parts[2])
}

fn at_jwt_header(key: &SigningKey) -> Value {
    json!({ "alg": key.algorithm().name(), "typ": "at+jwt", "kid": key.kid() })
}

fn jwk_json(jwk: &Jwk) -> Value {
    serde_json::to_value(jwk).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Header and claims

#[tokio::test]
async fn header_says_typ_at_jwt_with_the_alg_and_kid_of_the_signing_key() {
    let world = world().await;
    let tokens = world.tokens_for(&world.john).await;
    let header = header_of(tokens.access_token.expose());
    let keys = world.server.keys();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], keys.signing_key().kid());
}

#[tokio::test]
async fn user_token_carries_every_rfc_9068_claim() {
    let world = world().await;
    let tokens = world.tokens_for(&world.john).await;
    let claims = claims_of(tokens.access_token.expose());
    let now = world.server.now().timestamp();
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], ISSUER);
    assert_eq!(claims["sub"], "john");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 5400);
    assert_eq!(claims["client_id"], world.app.client_id.as_str());
    assert_eq!(claims["grant_kind"], "user");
    assert!(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    assert!(claims["grant_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(claims.get("company_id").is_none());
}

#[tokio::test]
async fn service_account_token_bound_to_a_company_names_it_and_its_service_account() {
    let world = world().await;
    let installation = world.install_service_account(&[&world.tower]).await;
    let tokens = world.service_token(Some(&world.acme)).await;
    let claims = claims_of(tokens.access_token.expose());
    let account = installation.service_account.unwrap().user;
    assert_eq!(claims["company_id"], "acme");
    assert_eq!(claims["grant_kind"], "service_account");
    assert_eq!(claims["sub"], account.as_str());
    assert_eq!(claims["client_id"], world.app.client_id.as_str());
    for claim in ["iss", "aud", "exp", "iat", "jti", "grant_id"] {
        assert!(claims.get(claim).is_some(), "missing {claim}");
    }
}

#[tokio::test]
async fn unbound_service_account_token_has_no_company_and_names_the_client() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let tokens = world.service_token(None).await;
    let claims = claims_of(tokens.access_token.expose());
    assert!(claims.get("company_id").is_none());
    assert_eq!(claims["sub"], world.app.client_id.as_str());
}

#[tokio::test]
async fn every_token_has_its_own_jti() {
    let world = world().await;
    let first = world.tokens_for(&world.john).await;
    let second = world.tokens_for(&world.john).await;
    assert_ne!(
        claims_of(first.access_token.expose())["jti"],
        claims_of(second.access_token.expose())["jti"]
    );
}

// ---------------------------------------------------------------------------------------------
// Lifetime

#[tokio::test]
async fn access_tokens_live_5400_seconds_by_default() {
    let world = world().await;
    let tokens = world.tokens_for(&world.john).await;
    let claims = claims_of(tokens.access_token.expose());
    let (exp, iat) = (
        claims["exp"].as_i64().unwrap(),
        claims["iat"].as_i64().unwrap(),
    );
    assert_eq!(tokens.expires_in, 5400);
    assert_eq!(exp - iat, 5400);
    assert_eq!(tokens.created_at, iat);
}

#[tokio::test]
async fn access_token_lifetime_follows_config_access_token_ttl() {
    let mut config = Config::new(ISSUER);
    config.access_token_ttl = TimeDelta::minutes(10);
    let world = world_with(config).await;
    world.install_service_account(&[&world.tower]).await;
    for tokens in [
        world.tokens_for(&world.john).await,
        world.service_token(Some(&world.acme)).await,
    ] {
        let claims = claims_of(tokens.access_token.expose());
        assert_eq!(tokens.expires_in, 600);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Algorithms

#[test]
fn every_algorithm_issues_tokens_that_validate() {
    for algorithm in [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ] {
        let keys = keyset(algorithm);
        let (token, claims) = mint(&keys, t0());
        assert_eq!(header_of(&token)["alg"], algorithm.name());
        assert_eq!(check(&token, &keys, t0()), Ok(claims), "{algorithm:?}");
    }
}

#[test]
fn default_server_key_is_eddsa() {
    let server = appgrant::AuthorizationServer::builder(appgrant::MemoryStore::new(), config())
        .build()
        .unwrap();
    assert_eq!(server.keys().signing_key().algorithm(), Algorithm::EdDSA);
}

// ---------------------------------------------------------------------------------------------
// Time is injected

#[test]
fn token_is_valid_until_the_second_before_exp_and_expired_at_exp() {
    let keys = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&keys, t0());
    let exp = t0() + secs(5400);
    assert!(check(&token, &keys, t0()).is_ok());
    assert!(check(&token, &keys, exp - secs(1)).is_ok());
    assert_eq!(check(&token, &keys, exp), Err(ValidationError::Expired));
}

#[test]
fn token_issued_after_now_is_not_yet_valid() {
    let keys = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&keys, t0());
    assert_eq!(
        check(&token, &keys, t0() - secs(1)),
        Err(ValidationError::NotYetValid)
    );
}

#[test]
fn leeway_extends_expiry_and_tolerates_an_early_clock() {
    let keys = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&keys, t0());
    let mut expect = config().expectations();
    expect.leeway_seconds = 60;
    let exp = t0() + secs(5400);
    assert!(validate(&token, &keys, &expect, exp + secs(59)).is_ok());
    assert_eq!(
        validate(&token, &keys, &expect, exp + secs(60)),
        Err(ValidationError::Expired)
    );
    assert!(validate(&token, &keys, &expect, t0() - secs(60)).is_ok());
    assert_eq!(
        validate(&token, &keys, &expect, t0() - secs(61)),
        Err(ValidationError::NotYetValid)
    );
}

#[test]
fn nbf_in_the_future_is_not_yet_valid() {
    let keys = keyset(Algorithm::EdDSA);
    let (_, mut claims) = mint(&keys, t0());
    claims.nbf = Some(claims.iat + 100);
    let token = issue(&claims, keys.signing_key());
    assert_eq!(
        check(&token, &keys, t0()),
        Err(ValidationError::NotYetValid)
    );
    assert_eq!(check(&token, &keys, t0() + secs(100)), Ok(claims));
}

#[tokio::test]
async fn server_validates_against_its_own_clock() {
    let world = world().await;
    let tokens = world.tokens_for(&world.john).await;
    let token = tokens.access_token.expose();
    assert!(world.server.token_info(token).await.is_ok());
    world.clock.advance(secs(5399));
    assert!(world.server.token_info(token).await.is_ok());
    world.clock.advance(secs(1));
    assert!(matches!(
        world.server.token_info(token).await,
        Err(ServerError::InvalidToken(ValidationError::Expired))
    ));
}

// ---------------------------------------------------------------------------------------------
// Issuer and audience

#[test]
fn token_of_another_issuer_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let mut other = config();
    other.issuer = "https://evil.example.com".into();
    let (token, _) = mint_with(&keys, &other, t0());
    assert_eq!(
        check(&token, &keys, t0()),
        Err(ValidationError::WrongIssuer)
    );
}

#[test]
fn token_for_another_audience_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let mut other = config();
    other.audience = "https://other-api.example.com".into();
    let (token, _) = mint_with(&keys, &other, t0());
    assert_eq!(
        check(&token, &keys, t0()),
        Err(ValidationError::WrongAudience)
    );
}

// ---------------------------------------------------------------------------------------------
// Keys and signatures

#[test]
fn token_signed_by_an_unknown_key_is_refused() {
    let ours = keyset(Algorithm::EdDSA);
    let theirs = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&theirs, t0());
    assert_eq!(check(&token, &ours, t0()), Err(ValidationError::UnknownKey));
}

#[test]
fn token_without_a_kid_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let (_, claims) = mint(&keys, t0());
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt" });
    let token = forge(
        &header,
        &serde_json::to_value(&claims).unwrap(),
        keys.signing_key(),
    );
    assert_eq!(check(&token, &keys, t0()), Err(ValidationError::UnknownKey));
}

#[test]
fn token_signed_by_another_key_under_our_kid_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&keys, t0());
    let impostor = key(Algorithm::EdDSA);
    let parts = segments(&token);
    let forged = sign_segments(parts[0], parts[1], &impostor);
    assert_eq!(
        check(&forged, &keys, t0()),
        Err(ValidationError::BadSignature)
    );
}

#[test]
fn changed_payload_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let (token, claims) = mint(&keys, t0());
    let mut changed = serde_json::to_value(&claims).unwrap();
    changed["sub"] = json!("jane");
    let parts = segments(&token);
    let tampered = format!("{}.{}.{}", parts[0], b64(changed.to_string()), parts[2]);
    assert_eq!(
        check(&tampered, &keys, t0()),
        Err(ValidationError::BadSignature)
    );
}

#[test]
fn changed_signature_is_refused() {
    let keys = keyset(Algorithm::ES256);
    let (token, _) = mint(&keys, t0());
    let parts = segments(&token);
    let mut signature = unb64(parts[2]);
    signature[10] ^= 1;
    let tampered = format!("{}.{}.{}", parts[0], parts[1], b64(signature));
    assert_eq!(
        check(&tampered, &keys, t0()),
        Err(ValidationError::BadSignature)
    );
}

#[test]
fn alg_changed_in_the_header_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&keys, t0());
    for alg in ["ES256", "RS256", "HS256", "eddsa", "Ed25519"] {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": keys.signing_key().kid() });
        assert_eq!(
            check(&with_header(&token, &header), &keys, t0()),
            Err(ValidationError::AlgorithmMismatch),
            "{alg}"
        );
    }
}

#[test]
fn alg_none_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&keys, t0());
    let parts = segments(&token);
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": keys.signing_key().kid() });
        let unsigned = format!("{}.{}.", b64(header.to_string()), parts[1]);
        assert_eq!(
            check(&unsigned, &keys, t0()),
            Err(ValidationError::AlgorithmMismatch),
            "{alg}"
        );
    }
}

/// Forges an HS256 token under the `kid` of `victim`, using `public` as the HMAC secret.
fn hmac_forgery(victim: &KeySet, public: &[u8]) -> String {
    let (_, claims) = mint(victim, t0());
    let forger = SigningKey::hmac(victim.signing_key().kid(), public).unwrap();
    forge(
        &at_jwt_header(&forger),
        &serde_json::to_value(&claims).unwrap(),
        &forger,
    )
}

#[test]
fn hs256_forged_with_an_eddsa_public_key_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let jwk = keys.signing_key().public_jwk().unwrap();
    let x = jwk.x.clone().unwrap();
    for public in [
        unb64(&x),
        x.into_bytes(),
        jwk_json(&jwk).to_string().into_bytes(),
    ] {
        let forged = hmac_forgery(&keys, &public);
        assert_eq!(
            check(&forged, &keys, t0()),
            Err(ValidationError::AlgorithmMismatch)
        );
    }
}

#[test]
fn hs256_forged_with_an_rs256_public_key_is_refused() {
    let keys = keyset(Algorithm::RS256);
    let jwk = keys.signing_key().public_jwk().unwrap();
    let n = jwk.n.clone().unwrap();
    for public in [
        unb64(&n),
        n.into_bytes(),
        jwk_json(&jwk).to_string().into_bytes(),
    ] {
        let forged = hmac_forgery(&keys, &public);
        assert_eq!(
            check(&forged, &keys, t0()),
            Err(ValidationError::AlgorithmMismatch)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Token type

#[test]
fn token_with_typ_jwt_or_no_typ_is_refused() {
    let keys = keyset(Algorithm::EdDSA);
    let (_, claims) = mint(&keys, t0());
    let claims = serde_json::to_value(&claims).unwrap();
    let kid = keys.signing_key().kid();
    for header in [
        json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid }),
        json!({ "alg": "EdDSA", "typ": "id_token+jwt", "kid": kid }),
        json!({ "alg": "EdDSA", "kid": kid }),
    ] {
        let token = forge(&header, &claims, keys.signing_key());
        assert_eq!(
            check(&token, &keys, t0()),
            Err(ValidationError::WrongType),
            "{header}"
        );
    }
}

#[test]
fn typ_application_at_jwt_is_accepted() {
    let keys = keyset(Algorithm::EdDSA);
    let (_, claims) = mint(&keys, t0());
    let header =
        json!({ "alg": "EdDSA", "typ": "application/at+jwt", "kid": keys.signing_key().kid() });
    let token = forge(
        &header,
        &serde_json::to_value(&claims).unwrap(),
        keys.signing_key(),
    );
    assert_eq!(check(&token, &keys, t0()), Ok(claims));
}

// ---------------------------------------------------------------------------------------------
// Malformed input

#[test]
fn malformed_tokens_are_refused_as_malformed() {
    let keys = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&keys, t0());
    let parts = segments(&token);
    let not_json = b64("not json");
    let garbage = [
        String::new(),
        "abc".into(),
        ".".into(),
        "..".into(),
        format!("{}.{}", parts[0], parts[1]),
        format!("!!!.{}.{}", parts[1], parts[2]),
        format!("{not_json}.{}.{}", parts[1], parts[2]),
        format!("{}.{}.***", parts[0], parts[1]),
        sign_segments(parts[0], "%%%", keys.signing_key()),
    ];
    for input in garbage {
        assert_eq!(
            check(&input, &keys, t0()),
            Err(ValidationError::Malformed),
            "{input:?}"
        );
    }
}

#[test]
fn signed_payload_that_is_not_json_claims_is_invalid_claims() {
    let keys = keyset(Algorithm::EdDSA);
    let header = b64(at_jwt_header(keys.signing_key()).to_string());
    let token = sign_segments(&header, &b64("not json"), keys.signing_key());
    assert_eq!(
        check(&token, &keys, t0()),
        Err(ValidationError::InvalidClaims)
    );
}

#[test]
fn signed_claims_missing_a_required_claim_are_invalid_claims() {
    let keys = keyset(Algorithm::EdDSA);
    let (_, claims) = mint(&keys, t0());
    let mut claims = serde_json::to_value(&claims).unwrap();
    claims.as_object_mut().unwrap().remove("exp");
    let token = forge(
        &at_jwt_header(keys.signing_key()),
        &claims,
        keys.signing_key(),
    );
    assert_eq!(
        check(&token, &keys, t0()),
        Err(ValidationError::InvalidClaims)
    );
}

static GARBAGE_KEYS: LazyLock<KeySet> = LazyLock::new(|| keyset(Algorithm::EdDSA));

proptest! {
    #[test]
    fn any_string_is_refused_without_panicking(input in "\\PC{0,200}") {
        prop_assert!(check(&input, &GARBAGE_KEYS, t0()).is_err());
    }

    #[test]
    fn any_three_base64url_parts_are_refused_without_panicking(
        header in "[A-Za-z0-9_=+/-]{0,80}",
        payload in "[A-Za-z0-9_=+/-]{0,80}",
        signature in "[A-Za-z0-9_=+/-]{0,100}",
    ) {
        let input = format!("{header}.{payload}.{signature}");
        prop_assert!(check(&input, &GARBAGE_KEYS, t0()).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Rotation

#[test]
fn after_rotation_new_tokens_carry_the_new_kid() {
    let mut keys = keyset(Algorithm::EdDSA);
    let new = key(Algorithm::ES256);
    let new_kid = new.kid().to_owned();
    keys.rotate(new, t0() + secs(5400));
    let (token, _) = mint(&keys, t0());
    assert_eq!(header_of(&token)["kid"], new_kid.as_str());
    assert_eq!(header_of(&token)["alg"], "ES256");
    assert!(check(&token, &keys, t0()).is_ok());
}

#[test]
fn retired_key_verifies_until_verify_until_and_not_after() {
    let mut long_lived = config();
    long_lived.access_token_ttl = TimeDelta::days(1);
    let mut keys = keyset(Algorithm::EdDSA);
    let (old_token, _) = mint_with(&keys, &long_lived, t0());
    let verify_until = t0() + TimeDelta::hours(1);
    keys.rotate(key(Algorithm::EdDSA), verify_until);
    assert!(check(&old_token, &keys, verify_until - secs(1)).is_ok());
    assert_eq!(
        check(&old_token, &keys, verify_until),
        Err(ValidationError::UnknownKey)
    );
}

#[test]
fn prune_forgets_retired_keys_only_once_verify_until_has_passed() {
    let mut keys = keyset(Algorithm::EdDSA);
    let old_kid = keys.signing_key().kid().to_owned();
    let verify_until = t0() + secs(5400);
    keys.rotate(key(Algorithm::EdDSA), verify_until);
    let published = |keys: &KeySet| keys.jwks().keys.iter().any(|jwk| jwk.kid == old_kid);

    keys.prune(verify_until - secs(1));
    assert!(keys.find(&old_kid).is_some());
    assert!(published(&keys));

    keys.prune(verify_until);
    assert!(keys.find(&old_kid).is_none());
    assert!(!published(&keys));
}

#[tokio::test]
async fn server_rotate_signing_key_switches_signer_and_keeps_old_tokens_working() {
    let world = world().await;
    let old_kid = world.server.keys().signing_key().kid().to_owned();
    let before = world.tokens_for(&world.john).await;

    let new = key(Algorithm::ES256);
    let new_kid = new.kid().to_owned();
    world.server.rotate_signing_key(new);
    let after = world.tokens_for(&world.john).await;

    assert_eq!(
        header_of(after.access_token.expose())["kid"],
        new_kid.as_str()
    );
    assert!(
        world
            .server
            .token_info(before.access_token.expose())
            .await
            .is_ok()
    );
    assert!(
        world
            .server
            .token_info(after.access_token.expose())
            .await
            .is_ok()
    );
    let kids: Vec<String> = world
        .server
        .jwks()
        .keys
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, [new_kid.clone(), old_kid.clone()]);

    // Once every token of the old key has expired, the next rotation drops it.
    world.clock.advance(secs(5400));
    world.server.rotate_signing_key(key(Algorithm::EdDSA));
    assert!(world.server.keys().find(&old_kid).is_none());
    assert!(world.server.keys().find(&new_kid).is_some());
}

#[tokio::test]
async fn retired_key_keeps_verifying_its_tokens_through_the_leeway() {
    let mut config = Config::new(ISSUER);
    config.leeway_seconds = 60;
    let world = world_with(config).await;
    let tokens = world.tokens_for(&world.john).await;
    world.clock.advance(secs(10));
    world.server.rotate_signing_key(key(Algorithm::EdDSA));
    // exp = t + 5400, so with 60 s of leeway the token is good until t + 5460.
    world.clock.advance(secs(5430 - 10));
    let info = world.server.token_info(tokens.access_token.expose()).await;
    assert!(info.is_ok(), "{info:?}");
}

// ---------------------------------------------------------------------------------------------
// JWKS

#[test]
fn jwks_publishes_the_public_key_of_every_asymmetric_algorithm() {
    let mut keys = keyset(Algorithm::RS256);
    keys.rotate(key(Algorithm::ES256), t0() + secs(5400));
    keys.rotate(key(Algorithm::EdDSA), t0() + secs(5400));
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    let by_kty = |kty: &str| {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|jwk| jwk["kty"] == kty)
            .cloned()
            .unwrap()
    };
    let decoded_len = |jwk: &Value, field: &str| unb64(jwk[field].as_str().unwrap()).len();

    let okp = by_kty("OKP");
    assert_eq!(
        (okp["crv"].clone(), okp["alg"].clone()),
        (json!("Ed25519"), json!("EdDSA"))
    );
    assert_eq!(decoded_len(&okp, "x"), 32);

    let ec = by_kty("EC");
    assert_eq!(
        (ec["crv"].clone(), ec["alg"].clone()),
        (json!("P-256"), json!("ES256"))
    );
    assert_eq!((decoded_len(&ec, "x"), decoded_len(&ec, "y")), (32, 32));

    let rsa = by_kty("RSA");
    assert_eq!(rsa["alg"], "RS256");
    assert_eq!(decoded_len(&rsa, "n"), 256);
    assert_eq!(rsa["e"], "AQAB");

    for jwk in jwks["keys"].as_array().unwrap() {
        assert_eq!(jwk["use"], "sig");
        assert!(jwk["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    }
}

#[test]
fn jwks_never_contains_hmac_secrets_or_private_material() {
    let secret = [0x5au8; 48];
    let mut keys = KeySet::new(SigningKey::hmac("shared", &secret).unwrap());
    keys.rotate(key(Algorithm::EdDSA), t0() + secs(5400));
    keys.rotate(key(Algorithm::ES256), t0() + secs(5400));
    let jwks = keys.jwks();
    let text = serde_json::to_string(&jwks).unwrap();

    assert_eq!(jwks.keys.len(), 2);
    assert!(
        jwks.keys
            .iter()
            .all(|jwk| jwk.kid != "shared" && jwk.alg != "HS256")
    );
    assert!(!text.contains(&b64(secret)));
    for private in [
        "\"d\"", "\"k\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\"",
    ] {
        assert!(!text.contains(private), "{private} in {text}");
    }
}

#[test]
fn hmac_key_has_no_public_jwk() {
    let key = SigningKey::hmac("shared", &[1u8; 32]).unwrap();
    assert!(key.public_jwk().is_none());
}

// ---------------------------------------------------------------------------------------------
// Interoperability with jsonwebtoken

fn decoding_key(jwk: &Jwk) -> jsonwebtoken::DecodingKey {
    use jsonwebtoken::DecodingKey;
    let field = |value: &Option<String>| value.clone().unwrap();
    match jwk.kty.as_str() {
        "OKP" => DecodingKey::from_ed_components(&field(&jwk.x)),
        "EC" => DecodingKey::from_ec_components(&field(&jwk.x), &field(&jwk.y)),
        "RSA" => DecodingKey::from_rsa_components(&field(&jwk.n), &field(&jwk.e)),
        other => panic!("unexpected kty {other}"),
    }
    .unwrap()
}

fn jsonwebtoken_algorithm(algorithm: Algorithm) -> jsonwebtoken::Algorithm {
    match algorithm {
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
    }
}

fn jsonwebtoken_validation(algorithm: Algorithm) -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken_algorithm(algorithm));
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}

#[test]
fn our_tokens_validate_with_jsonwebtoken_using_the_published_jwk() {
    for algorithm in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let keys = keyset(algorithm);
        // jsonwebtoken reads the system clock, so issue at the real now.
        let (token, claims) = mint(&keys, Utc::now());
        let jwk = &keys.jwks().keys[0];
        let decoded = jsonwebtoken::decode::<AccessClaims>(
            &token,
            &decoding_key(jwk),
            &jsonwebtoken_validation(algorithm),
        )
        .unwrap_or_else(|error| panic!("{algorithm:?}: {error}"));
        assert_eq!(decoded.claims, claims);
        assert_eq!(decoded.header.kid.as_deref(), Some(jwk.kid.as_str()));
        assert_eq!(decoded.header.typ.as_deref(), Some("at+jwt"));
    }
}

#[test]
fn jsonwebtoken_rejects_our_token_under_another_published_key() {
    let keys = keyset(Algorithm::EdDSA);
    let other = keyset(Algorithm::EdDSA);
    let (token, _) = mint(&keys, Utc::now());
    let result = jsonwebtoken::decode::<AccessClaims>(
        &token,
        &decoding_key(&other.jwks().keys[0]),
        &jsonwebtoken_validation(Algorithm::EdDSA),
    );
    assert!(result.is_err());
}

#[test]
fn our_jwks_document_parses_as_a_jsonwebtoken_jwk_set() {
    let mut keys = keyset(Algorithm::ES256);
    keys.rotate(key(Algorithm::EdDSA), Utc::now() + secs(5400));
    let (token, claims) = mint(&keys, Utc::now());
    let document = serde_json::to_string(&keys.jwks()).unwrap();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&document).unwrap();
    let kid = header_of(&token)["kid"].as_str().unwrap().to_owned();
    let jwk = set.find(&kid).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let decoded = jsonwebtoken::decode::<AccessClaims>(
        &token,
        &key,
        &jsonwebtoken_validation(Algorithm::EdDSA),
    )
    .unwrap();
    assert_eq!(decoded.claims, claims);
}

// ---------------------------------------------------------------------------------------------
// Loading keys

fn assert_signs_verifiable_tokens(key: SigningKey) {
    let keys = KeySet::new(key);
    let (token, claims) = mint(&keys, t0());
    assert_eq!(check(&token, &keys, t0()), Ok(claims));
}

#[test]
fn eddsa_key_loads_from_pkcs8_pem() {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    let original = ed25519_dalek::SigningKey::generate(&mut OsRng);
    let pem = original.to_pkcs8_pem(LineEnding::LF).unwrap();
    let loaded = SigningKey::from_pkcs8_pem(Algorithm::EdDSA, "ed-1", &pem).unwrap();
    let jwk = loaded.public_jwk().unwrap();
    assert_eq!(
        (loaded.kid(), loaded.algorithm()),
        ("ed-1", Algorithm::EdDSA)
    );
    assert_eq!(jwk.x, Some(b64(original.verifying_key().as_bytes())));
    assert_signs_verifiable_tokens(loaded);
}

#[test]
fn es256_key_loads_from_pkcs8_pem() {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::{EncodePrivateKey, LineEnding};
    let original = p256::SecretKey::random(&mut OsRng);
    let pem = original.to_pkcs8_pem(LineEnding::LF).unwrap();
    let loaded = SigningKey::from_pkcs8_pem(Algorithm::ES256, "ec-1", &pem).unwrap();
    let point = original.public_key().to_encoded_point(false);
    let jwk = loaded.public_jwk().unwrap();
    assert_eq!(jwk.x, point.x().map(b64));
    assert_eq!(jwk.y, point.y().map(b64));
    assert_signs_verifiable_tokens(loaded);
}

#[test]
fn rs256_key_loads_from_pkcs8_pem() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    let original = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    let pem = original.to_pkcs8_pem(LineEnding::LF).unwrap();
    let loaded = SigningKey::from_pkcs8_pem(Algorithm::RS256, "rsa-1", &pem).unwrap();
    let jwk = loaded.public_jwk().unwrap();
    assert_eq!(jwk.n, Some(b64(original.n().to_bytes_be())));
    assert_signs_verifiable_tokens(loaded);
}

#[test]
fn pem_of_another_algorithm_or_not_a_key_is_refused() {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    let ed_pem = ed25519_dalek::SigningKey::generate(&mut OsRng)
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap();
    let refused = |algorithm, pem: &str| SigningKey::from_pkcs8_pem(algorithm, "k", pem).err();
    assert!(matches!(
        refused(Algorithm::ES256, &ed_pem),
        Some(KeyError::InvalidPem(Algorithm::ES256))
    ));
    assert!(matches!(
        refused(Algorithm::RS256, &ed_pem),
        Some(KeyError::InvalidPem(Algorithm::RS256))
    ));
    assert!(matches!(
        refused(Algorithm::EdDSA, "not a pem"),
        Some(KeyError::InvalidPem(Algorithm::EdDSA))
    ));
    assert!(matches!(
        refused(Algorithm::HS256, &ed_pem),
        Some(KeyError::HmacFromPem)
    ));
}

#[test]
fn hmac_secret_shorter_than_32_bytes_is_refused() {
    assert!(matches!(
        SigningKey::hmac("short", &[7u8; 31]),
        Err(KeyError::HmacTooShort)
    ));
    assert!(matches!(
        SigningKey::hmac("empty", &[]),
        Err(KeyError::HmacTooShort)
    ));
    assert!(SigningKey::hmac("enough", &[7u8; 32]).is_ok());
}

#[test]
fn server_signs_with_the_key_set_it_was_given() {
    let keys = keyset(Algorithm::ES256);
    let kid = keys.signing_key().kid().to_owned();
    let server = appgrant::AuthorizationServer::builder(appgrant::MemoryStore::new(), config())
        .keys(keys)
        .build()
        .unwrap();
    assert_eq!(server.keys().signing_key().kid(), kid);
    assert_eq!(server.jwks().keys[0].kid, kid);
}

#[test]
fn token_with_a_crit_header_is_refused() {
    // RFC 7515 §4.1.11: a recipient that does not understand every extension listed in `crit`
    // must reject the JWS; appgrant understands none.
    let keys = keyset(Algorithm::EdDSA);
    let (_, claims) = mint(&keys, t0());
    let claims = serde_json::to_value(&claims).unwrap();
    for crit in [
        json!(["exp"]),
        json!(["b64"]),
        json!([]),
        json!("x"),
        json!(null),
    ] {
        let mut header = at_jwt_header(keys.signing_key());
        header["crit"] = crit.clone();
        let token = forge(&header, &claims, keys.signing_key());
        assert_eq!(
            check(&token, &keys, t0()),
            Err(ValidationError::UnsupportedCritical),
            "{crit}"
        );
    }
}

#[test]
fn a_key_set_finds_each_key_by_its_own_id_and_no_key_for_another() {
    let key = |kid: &str| {
        SigningKey::generate(Algorithm::EdDSA, &mut rand::thread_rng())
            .unwrap()
            .with_kid(kid)
    };
    let now = chrono::Utc::now();
    let keys = KeySet::scheduled(
        key("current"),
        vec![key("upcoming")],
        vec![(key("retired"), now + chrono::TimeDelta::hours(1))],
    );
    for kid in ["current", "upcoming", "retired"] {
        assert_eq!(keys.find(kid).map(SigningKey::kid), Some(kid));
        assert_eq!(keys.verifier(kid, now).map(SigningKey::kid), Some(kid));
    }
    assert!(keys.find("another").is_none());
    assert!(keys.verifier("another", now).is_none());
    // A retired key stops verifying once its tokens have all expired.
    assert!(
        keys.verifier("retired", now + chrono::TimeDelta::hours(2))
            .is_none()
    );
}
