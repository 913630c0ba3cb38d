//! Published test vectors, byte for byte: what the RFCs print, appgrant computes. Each vector
//! is copied from the RFC's text (section named on its test), never computed with appgrant.

use appgrant::grant::{parse_basic, pkce};
use appgrant::token::{Algorithm, PublicKey, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use serde_json::json;

/// RFC 7636 Appendix B: the example code verifier and its S256 challenge.
#[test]
fn rfc_7636_appendix_b_s256_challenge() {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_eq!(pkce::challenge_of(verifier), challenge);
    assert!(pkce::verify(challenge, verifier));
    assert!(!pkce::verify(
        challenge,
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"
    ));
}

/// RFC 8037 Appendix A.1, A.2: the Ed25519 private key `d` and public key `x`.
const RFC_8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC_8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 8037 Appendix A.4: the JWS of "Example of Ed25519 signing" with header `{"alg":"EdDSA"}`.
const RFC_8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn rfc_8037_signing_key() -> SigningKey {
    let d: [u8; 32] = URL_SAFE_NO_PAD
        .decode(RFC_8037_D)
        .unwrap()
        .try_into()
        .unwrap();
    let pem = ed25519_dalek::SigningKey::from_bytes(&d)
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    SigningKey::from_pkcs8_pem(Algorithm::EdDSA, "rfc8037", &pem).unwrap()
}

/// RFC 8037 Appendix A.4: appgrant's Ed25519 signing key, made from the RFC's `d`, signs the
/// RFC's signing input to exactly the RFC's signature (Ed25519 is deterministic), and its
/// public JWK is the RFC's `x`.
#[test]
fn rfc_8037_appendix_a4_ed25519_signature() {
    let key = rfc_8037_signing_key();
    let (input, signature) = RFC_8037_JWS.rsplit_once('.').unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes())),
        signature
    );
    assert_eq!(key.public_jwk().unwrap().x.as_deref(), Some(RFC_8037_X));
}

/// RFC 8037 Appendix A.5 (verification) and A.3 (the key's RFC 7638 thumbprint): a client's
/// public JWK as appgrant reads it verifies the RFC's JWS, and has the RFC's thumbprint.
#[test]
fn rfc_8037_appendix_a3_a5_verification_and_thumbprint() {
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": RFC_8037_X});
    let key = PublicKey::from_jwk(&jwk).unwrap();
    assert_eq!(
        key.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    let (input, signature) = RFC_8037_JWS.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    assert!(key.verifies("EdDSA", input.as_bytes(), &signature));
    assert!(!key.verifies("EdDSA", b"Example of Ed25519 signinG", &signature));
    assert!(rfc_8037_signing_key().verify(input.as_bytes(), &signature));
}

/// RFC 7515 Appendix A.1: the HS256 example key signs the example's signing input (whose
/// header holds a CRLF) to exactly the example's signature.
#[test]
fn rfc_7515_appendix_a1_hs256_signature() {
    let k = URL_SAFE_NO_PAD
        .decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
        .unwrap();
    let key = SigningKey::hmac("rfc7515", &k).unwrap();
    let input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let signature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    assert_eq!(
        URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes())),
        signature
    );
    assert!(key.verify(
        input.as_bytes(),
        &URL_SAFE_NO_PAD.decode(signature).unwrap()
    ));
    // The header really is the RFC's, CRLF and all.
    let header = URL_SAFE_NO_PAD
        .decode(input.split('.').next().unwrap())
        .unwrap();
    assert_eq!(header, b"{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}");
}

/// RFC 7638 §3.1: the example RSA key's thumbprint.
#[test]
fn rfc_7638_section_3_1_thumbprint() {
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    assert_eq!(
        PublicKey::from_jwk(&jwk).unwrap().thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

/// RFC 6749 §2.3.1: the example `Authorization: Basic` header names client `s6BhdRkqt3` with
/// secret `7Fjfp0ZBr1KtDRbnfVdmIw`.
#[test]
fn rfc_6749_section_2_3_1_basic_example() {
    let (client_id, secret) =
        parse_basic("Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3").unwrap();
    assert_eq!(client_id.as_str(), "s6BhdRkqt3");
    assert_eq!(secret.expose(), "7Fjfp0ZBr1KtDRbnfVdmIw");
}

/// RFC 6749 Appendix B: " %&+£€" is form-encoded as `+%25%26%2B%C2%A3%E2%82%AC`, and client
/// credentials in a Basic header are form-encoded before base64 (§2.3.1): a client id and a
/// secret made of those characters come back exactly.
#[test]
fn rfc_6749_appendix_b_form_encoded_credentials() {
    let encoded = "+%25%26%2B%C2%A3%E2%82%AC";
    let header = format!("Basic {}", STANDARD.encode(format!("{encoded}:{encoded}")));
    let (client_id, secret) = parse_basic(&header).unwrap();
    assert_eq!(client_id.as_str(), " %&+£€");
    assert_eq!(secret.expose(), " %&+£€");
}
