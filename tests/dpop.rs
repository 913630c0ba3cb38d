//! RFC 9449 DPoP: a token request with a proof of a key gets a token bound to that key
//! (`token_type` `DPoP`, `cnf.jkt`), usable at a resource server only with a fresh proof by
//! the same key for that very request; a public client's refresh family is bound too. Proofs
//! are signed here with the `p256` crate directly, not through appgrant.

mod support;

#[path = "in_process/mod.rs"]
mod in_process;

use appgrant::grant::{ClientAuthentication, ErrorCode, TokenRequest, TokenResponse};
use appgrant::http::{HttpOptions, ResourceGuard, ResourceRejection, ResourceRequest};
use appgrant::model::*;
use appgrant::server::Clock;
use appgrant::token::{DpopError, ProofTarget, check_proof};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::World;

const TOKEN_ENDPOINT: &str = "https://auth.example.com/oauth/token";
const RFIS: &str = "/api/projects/tower/rfis";
/// The resource guard's identifier is the default audience, the issuer: its requests arrive
/// at the issuer's origin.
const RFIS_URL: &str = "https://auth.example.com/api/projects/tower/rfis";

/// RFC 9449 §4.1, Figure 2: a proof for `POST https://server.example.com/token` at
/// 1562262616, and (Figure 9) its key's thumbprint.
const RFC_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

struct DpopKey(p256::ecdsa::SigningKey);

impl DpopKey {
    fn new() -> Self {
        Self(p256::ecdsa::SigningKey::random(&mut rand::thread_rng()))
    }

    fn jwk(&self) -> Value {
        let point = self.0.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    /// The RFC 7638 thumbprint, computed here independently.
    fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: p256::ecdsa::Signature = self.0.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn proof_claims(&self, method: &str, url: &str, at: DateTime<Utc>) -> Value {
        json!({
            "jti": format!("{:x}", rand::random::<u128>()),
            "htm": method,
            "htu": url,
            "iat": at.timestamp(),
        })
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()})
    }

    /// A proof for a token request at `at`.
    fn for_token(&self, at: DateTime<Utc>) -> String {
        self.sign(
            &self.header(),
            &self.proof_claims("POST", TOKEN_ENDPOINT, at),
        )
    }

    /// A proof for `GET url` with `token`.
    fn for_api(&self, url: &str, token: &str, at: DateTime<Utc>) -> String {
        let mut claims = self.proof_claims("GET", url, at);
        claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        self.sign(&self.header(), &claims)
    }
}

fn service_request(world: &World) -> TokenRequest {
    TokenRequest::ClientCredentials {
        company_id: Some(world.acme.clone()),
        scope: None,
        resource: None,
    }
}

async fn bound_service_token(world: &World, key: &DpopKey) -> TokenResponse {
    world.install_service_account(&[&world.tower]).await;
    world
        .server
        .token_with_dpop(
            service_request(world),
            &world.client(),
            Some(&key.for_token(world.clock.now())),
        )
        .await
        .unwrap()
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn rfis(access: ResourceRequest) -> Result<&'static str, ResourceRejection> {
    access
        .require(Some(&ProjectId::new("tower")), "rfis", Level::ReadOnly)
        .await?;
    Ok("the RFIs")
}

fn api(world: &World) -> Router {
    Router::new()
        .route(RFIS, axum::routing::get(rfis))
        .with_state(ResourceGuard::new(
            world.server.clone(),
            &HttpOptions::default(),
        ))
}

/// The library's router over the world's server, Jane signed in.
fn library_router(world: &World) -> Router {
    in_process::app(
        world.server.clone(),
        in_process::SignedInAs {
            user: world.jane.clone(),
            company: world.acme.clone(),
            session: "session".into(),
        },
    )
}

/// A refresh by `client`, with `proof` if given.
async fn refresh_with(
    world: &World,
    client: &ClientAuthentication,
    token: appgrant::token::Secret,
    proof: Option<String>,
) -> Result<TokenResponse, appgrant::grant::TokenError> {
    let request = TokenRequest::RefreshToken {
        refresh_token: token,
        scope: None,
        resource: None,
    };
    world
        .server
        .token_with_dpop(request, client, proof.as_deref())
        .await
}

async fn call(router: &Router, authorization: &str, proofs: &[&str]) -> in_process::Answer {
    let mut request = Request::get(RFIS)
        .header("company-id", "acme")
        .header(header::AUTHORIZATION, authorization);
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    in_process::send(router, request.body(Body::empty()).unwrap()).await
}

#[test]
fn the_rfc_9449_example_proof_holds_and_its_key_has_the_published_thumbprint() {
    let target = ProofTarget {
        method: "POST",
        url: "https://server.example.com/token",
        access_token: None,
        now: DateTime::from_timestamp(1_562_262_616, 0).unwrap(),
        leeway_seconds: 0,
        nonces: None,
    };
    let checked = check_proof(RFC_PROOF, &target).unwrap();
    assert_eq!(checked.jkt, RFC_JKT);
    let elsewhere = ProofTarget {
        url: "https://server.example.com/other",
        ..target
    };
    assert_eq!(
        check_proof(RFC_PROOF, &elsewhere).unwrap_err(),
        DpopError::WrongUrl
    );
    let later = ProofTarget {
        now: target.now + TimeDelta::minutes(6),
        ..target
    };
    assert_eq!(
        check_proof(RFC_PROOF, &later).unwrap_err(),
        DpopError::Stale
    );
}

#[tokio::test]
async fn a_token_request_with_a_proof_gets_a_dpop_token_bound_to_its_key() {
    let world = support::world().await;
    let key = DpopKey::new();
    let tokens = bound_service_token(&world, &key).await;
    assert_eq!(tokens.token_type, "DPoP");
    let claims = payload(tokens.access_token.expose());
    assert_eq!(claims["cnf"]["jkt"], json!(key.thumbprint()));
    let wire = serde_json::to_value(&tokens).unwrap();
    assert_eq!(wire["token_type"], "DPoP");
}

#[tokio::test]
async fn a_bound_token_is_accepted_only_with_a_fresh_proof_by_its_key_for_that_request() {
    let world = support::world().await;
    let key = DpopKey::new();
    let tokens = bound_service_token(&world, &key).await;
    let token = tokens.access_token.expose();
    let router = api(&world);
    let now = world.clock.now();
    let dpop = format!("DPoP {token}");

    let proof = key.for_api(RFIS_URL, token, now);
    let answer = call(&router, &dpop, &[&proof]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // The same proof again is a replay.
    let answer = call(&router, &dpop, &[&proof]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["error"], "invalid_dpop_proof");
    let challenges: Vec<_> = answer
        .headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .collect();
    assert!(
        challenges
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("DPoP "))
    );

    // As a bearer token it is refused: stealing it is not enough.
    let answer = call(&router, &format!("Bearer {token}"), &[]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["error"], "invalid_token");

    // Without a proof, with two, by another key, for another URL, method, or token.
    let other = DpopKey::new();
    let refused = [
        vec![],
        vec![
            key.for_api(RFIS_URL, token, now),
            key.for_api(RFIS_URL, token, now),
        ],
        vec![other.for_api(RFIS_URL, token, now)],
        vec![key.for_api(
            "https://auth.example.com/api/projects/depot/rfis",
            token,
            now,
        )],
        vec![key.sign(&key.header(), &{
            let mut claims = key.proof_claims("POST", RFIS_URL, now);
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
            claims
        })],
        vec![key.for_api(RFIS_URL, "another-token", now)],
        vec![key.for_api(RFIS_URL, token, now - TimeDelta::minutes(10))],
    ];
    for proofs in refused {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let answer = call(&router, &dpop, &proofs).await;
        assert_eq!(answer.status, 401, "{proofs:?}: {}", answer.body);
    }
    // And a fresh one still works.
    let answer = call(&router, &dpop, &[&key.for_api(RFIS_URL, token, now)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_bound_token_is_never_allowed_through_the_bearer_decision() {
    let world = support::world().await;
    let key = DpopKey::new();
    let tokens = bound_service_token(&world, &key).await;
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(!world.allowed(&tokens, &read).await);
    let presented = world
        .server
        .decide_presented(
            None,
            tokens.access_token.expose(),
            Some(&key.thumbprint()),
            &read,
        )
        .await
        .unwrap();
    assert!(presented.is_allowed());
}

#[tokio::test]
async fn a_plain_token_is_not_accepted_with_the_dpop_scheme() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let tokens = world.service_token(Some(&world.acme)).await;
    assert_eq!(tokens.token_type, "bearer");
    let token = tokens.access_token.expose();
    let key = DpopKey::new();
    let router = api(&world);
    let proof = key.for_api(RFIS_URL, token, world.clock.now());
    let answer = call(&router, &format!("DPoP {token}"), &[&proof]).await;
    assert_eq!(answer.status, 401);
    let answer = call(&router, &format!("Bearer {token}"), &[]).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn a_token_request_proof_must_be_for_the_token_endpoint_fresh_and_unused() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let key = DpopKey::new();
    let now = world.clock.now();
    let token = |proof: String| {
        let world = &world;
        async move {
            world
                .server
                .token_with_dpop(service_request(world), &world.client(), Some(&proof))
                .await
        }
    };
    let used = key.for_token(now);
    token(used.clone()).await.unwrap();
    let bad = [
        used,
        key.sign(
            &key.header(),
            &key.proof_claims("POST", "https://auth.example.com/oauth/par", now),
        ),
        key.sign(&key.header(), &key.proof_claims("GET", TOKEN_ENDPOINT, now)),
        key.for_token(now + TimeDelta::minutes(6)),
        key.sign(
            &json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk()}),
            &key.proof_claims("POST", TOKEN_ENDPOINT, now),
        ),
        key.sign(
            &json!({"typ": "dpop+jwt", "alg": "ES256"}),
            &key.proof_claims("POST", TOKEN_ENDPOINT, now),
        ),
        // Signed by another key than the one in its header.
        DpopKey::new().sign(
            &key.header(),
            &key.proof_claims("POST", TOKEN_ENDPOINT, now),
        ),
        "not.a.proof".to_owned(),
    ];
    for proof in bad {
        let error = token(proof.clone()).await.unwrap_err();
        assert_eq!(
            error.code(),
            ErrorCode::InvalidDpopProof,
            "{proof}: {error}"
        );
    }
}

#[tokio::test]
async fn an_app_that_requires_dpop_gets_no_token_without_a_proof() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let mut app = world.app.clone();
    app.security.dpop = DpopBinding::Required;
    appgrant::store::AppStore::save_app(world.server.store(), app)
        .await
        .unwrap();
    let refused = world
        .server
        .token(service_request(&world), &world.client())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidDpopProof);
    let key = DpopKey::new();
    let tokens = world
        .server
        .token_with_dpop(
            service_request(&world),
            &world.client(),
            Some(&key.for_token(world.clock.now())),
        )
        .await
        .unwrap();
    assert_eq!(tokens.token_type, "DPoP");
}

/// A public client: FieldSync Mobile, PKCE only.
async fn public_app(world: &World) -> App {
    let registration = appgrant::grant::AppRegistration {
        name: "FieldSync Mobile".into(),
        client_type: ClientType::Public,
        flows: AppFlows::UserDelegated,
        manifest: None,
        ..support::both_flows_app()
    };
    world.server.register_app(registration).await.unwrap().app
}

async fn public_code(world: &World, app: &App) -> appgrant::token::Secret {
    let request = appgrant::grant::AuthorizationRequest {
        client_id: Some(app.client_id.to_string()),
        ..world.authorization_request()
    };
    match world
        .server
        .approve_authorization(&request, &world.jane, None)
        .await
        .unwrap()
    {
        appgrant::grant::AuthorizationResponse::Redirect(location) => {
            let url = url::Url::parse(location.expose()).unwrap();
            let code = url
                .query_pairs()
                .find(|(name, _)| name == "code")
                .unwrap()
                .1;
            appgrant::token::Secret::new(code.into_owned())
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_dpop_key() {
    let world = support::world().await;
    let app = public_app(&world).await;
    let client = ClientAuthentication::Public {
        client_id: app.client_id.clone(),
    };
    let key = DpopKey::new();
    let code = public_code(&world, &app).await;
    let tokens = world
        .server
        .token_with_dpop(
            world.exchange_request(code),
            &client,
            Some(&key.for_token(world.clock.now())),
        )
        .await
        .unwrap();
    assert_eq!(tokens.token_type, "DPoP");
    let refresh = |proof: Option<String>, token| refresh_with(&world, &client, token, proof);
    let refresh_token = tokens.refresh_token.clone().unwrap();
    // Without a proof, or with another key's: a thief with the refresh token gets nothing.
    let refused = refresh(None, refresh_token.clone()).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidGrant);
    let thief = DpopKey::new();
    let refused = refresh(
        Some(thief.for_token(world.clock.now())),
        refresh_token.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidGrant);
    // With the key's proof it rotates, and the new access token is bound to the key.
    let rotated = refresh(Some(key.for_token(world.clock.now())), refresh_token)
        .await
        .unwrap();
    assert_eq!(rotated.token_type, "DPoP");
    assert_eq!(
        payload(rotated.access_token.expose())["cnf"]["jkt"],
        json!(key.thumbprint())
    );
}

#[tokio::test]
async fn introspection_reports_a_bound_tokens_type_and_key() {
    let world = support::world().await;
    let key = DpopKey::new();
    let tokens = bound_service_token(&world, &key).await;
    let answer = world
        .server
        .introspect(&world.client(), tokens.access_token.expose())
        .await
        .unwrap();
    let answer = serde_json::to_value(answer).unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"]["jkt"], json!(key.thumbprint()));
}

#[tokio::test]
async fn the_token_endpoint_reads_the_dpop_header_and_metadata_lists_the_algorithms() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let router = library_router(&world);
    let key = DpopKey::new();
    let body = "grant_type=client_credentials&company_id=acme";
    let basic = in_process::basic(world.app.client_id.as_str(), world.secret.expose());
    let request = |proofs: Vec<String>| {
        let mut request = Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, basic.as_str());
        for proof in proofs {
            request = request.header("dpop", proof);
        }
        request.body(Body::from(body)).unwrap()
    };
    let now = world.clock.now();
    let answer = in_process::send(&router, request(vec![key.for_token(now)])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["token_type"], "DPoP");
    let answer = in_process::send(
        &router,
        request(vec![key.for_token(now), key.for_token(now)]),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "invalid_dpop_proof");

    let metadata = in_process::get(&router, "/.well-known/oauth-authorization-server", None)
        .await
        .json();
    let algorithms = metadata["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algorithms.contains(&json!("ES256")) && algorithms.contains(&json!("EdDSA")));
}

#[tokio::test]
async fn a_public_clients_family_issued_without_dpop_is_bound_by_its_first_refresh_with_a_proof() {
    let world = support::world().await;
    let app = public_app(&world).await;
    let client = ClientAuthentication::Public {
        client_id: app.client_id.clone(),
    };
    let code = public_code(&world, &app).await;
    let tokens = world
        .server
        .token(world.exchange_request(code), &client)
        .await
        .unwrap();
    assert_eq!(tokens.token_type, "bearer");
    let key = DpopKey::new();
    let refresh = |token, proof: Option<String>| refresh_with(&world, &client, token, proof);
    let bound = refresh(
        tokens.refresh_token.clone().unwrap(),
        Some(key.for_token(world.clock.now())),
    )
    .await
    .unwrap();
    assert_eq!(bound.token_type, "DPoP");
    // The refresh token it returned is bound to the key from now on (RFC 9449 §5).
    let next = bound.refresh_token.clone().unwrap();
    let refused = refresh(next.clone(), None).await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidGrant);
    refresh(next, Some(key.for_token(world.clock.now())))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_confidential_clients_refresh_token_is_never_bound_to_the_keys_its_refreshes_prove() {
    // A confidential client authenticates every refresh with its own credentials, so its
    // family stays unbound (RFC 9449 §5 binds only a public client's): each access token is
    // bound to the key of its own request's proof, or to none.
    let world = support::world().await;
    let client = world.client();
    let code = world.code_for(&world.jane).await;
    let first = world
        .server
        .token(world.exchange_request(code), &client)
        .await
        .unwrap();
    let (one, another) = (DpopKey::new(), DpopKey::new());
    let refresh = |token, proof: Option<String>| refresh_with(&world, &client, token, proof);
    let bound = refresh(
        first.refresh_token.clone().unwrap(),
        Some(one.for_token(world.clock.now())),
    )
    .await
    .unwrap();
    assert_eq!(bound.token_type, "DPoP");
    let plain = refresh(bound.refresh_token.clone().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(plain.token_type, "bearer");
    let other = refresh(
        plain.refresh_token.clone().unwrap(),
        Some(another.for_token(world.clock.now())),
    )
    .await
    .unwrap();
    assert_eq!(
        payload(other.access_token.expose())["cnf"]["jkt"],
        json!(another.thumbprint())
    );
}

#[tokio::test]
async fn token_info_takes_a_bound_token_only_with_a_proof_by_its_key() {
    let world = support::world().await;
    let key = DpopKey::new();
    let tokens = bound_service_token(&world, &key).await;
    let token = tokens.access_token.expose();
    let router = library_router(&world);
    let info = |authorization: String, proof: Option<String>| {
        let router = router.clone();
        async move {
            let mut request =
                Request::get("/oauth/token/info").header(header::AUTHORIZATION, authorization);
            if let Some(proof) = proof {
                request = request.header("dpop", proof);
            }
            in_process::send(&router, request.body(Body::empty()).unwrap()).await
        }
    };
    let as_bearer = info(format!("Bearer {token}"), None).await;
    assert_eq!(as_bearer.status, 401, "{}", as_bearer.body);
    let url = "https://auth.example.com/oauth/token/info";
    let proven = info(
        format!("DPoP {token}"),
        Some(key.for_api(url, token, world.clock.now())),
    )
    .await;
    assert_eq!(proven.status, 200, "{}", proven.body);
    let other = DpopKey::new();
    let wrong_key = info(
        format!("DPoP {token}"),
        Some(other.for_api(url, token, world.clock.now())),
    )
    .await;
    assert_eq!(wrong_key.status, 401, "{}", wrong_key.body);
}

/// Requests with made-up tokens must not fill the replay store: a proof's `jti` is recorded
/// only for a valid token bound to the proof's key.
#[tokio::test]
async fn proofs_sent_with_tokens_that_are_not_bound_to_their_key_are_not_remembered() {
    let world = support::world().await;
    let router = api(&world);
    let key = DpopKey::new();
    for i in 0..5 {
        let token = format!("made-up-{i}");
        let proof = key.for_api(RFIS_URL, &token, world.clock.now());
        let answer = call(&router, &format!("DPoP {token}"), &[&proof]).await;
        assert_eq!(answer.status, 401);
    }
    world.clock.advance(TimeDelta::days(2));
    assert_eq!(world.server.purge().await.unwrap().used_once, 0);
}

#[tokio::test]
async fn a_nested_resource_router_checks_htu_against_the_full_request_url() {
    let world = support::world().await;
    let key = DpopKey::new();
    let tokens = bound_service_token(&world, &key).await;
    let token = tokens.access_token.expose();
    let inner = Router::new()
        .route("/projects/tower/rfis", axum::routing::get(rfis))
        .with_state(ResourceGuard::new(
            world.server.clone(),
            &HttpOptions::default(),
        ));
    let router = Router::new().nest("/api", inner);
    let stripped = key.for_api(
        "https://auth.example.com/projects/tower/rfis",
        token,
        world.clock.now(),
    );
    let answer = call(&router, &format!("DPoP {token}"), &[&stripped]).await;
    assert_eq!(answer.status, 401, "a proof for the stripped path");
    let full = key.for_api(RFIS_URL, token, world.clock.now());
    let answer = call(&router, &format!("DPoP {token}"), &[&full]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_dpop_request_refused_for_its_token_gets_the_error_in_a_dpop_challenge() {
    let world = support::world().await;
    let key = DpopKey::new();
    let tokens = bound_service_token(&world, &key).await;
    let token = tokens.access_token.expose();
    let router = api(&world);
    // A proof by another key: the token is refused (RFC 9449 §7.1's example).
    let other = DpopKey::new();
    let answer = call(
        &router,
        &format!("DPoP {token}"),
        &[&other.for_api(RFIS_URL, token, world.clock.now())],
    )
    .await;
    assert_eq!(answer.status, 401);
    let challenges: Vec<String> = answer
        .headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let dpop = challenges.iter().find(|c| c.starts_with("DPoP ")).unwrap();
    assert!(dpop.contains("error=\"invalid_token\""), "{challenges:?}");
    assert!(dpop.contains("algs=\""), "{challenges:?}");
}

#[test]
fn a_proof_dated_more_than_a_minute_ahead_is_refused() {
    let key = DpopKey::new();
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let target = ProofTarget {
        method: "POST",
        url: TOKEN_ENDPOINT,
        access_token: None,
        now,
        leeway_seconds: 0,
        nonces: None,
    };
    assert!(check_proof(&key.for_token(now + TimeDelta::seconds(30)), &target).is_ok());
    assert_eq!(
        check_proof(&key.for_token(now + TimeDelta::seconds(120)), &target).unwrap_err(),
        DpopError::Stale
    );
}

/// A world whose server requires DPoP nonces (RFC 9449 §8).
async fn world_with_nonces() -> World {
    let mut config = appgrant::Config::new(support::ISSUER);
    config.dpop_nonces = appgrant::config::DpopNonces::Required;
    support::world_with(config).await
}

impl DpopKey {
    /// A proof for a token request at `at`, carrying `nonce`.
    fn for_token_with_nonce(&self, at: DateTime<Utc>, nonce: &str) -> String {
        let mut claims = self.proof_claims("POST", TOKEN_ENDPOINT, at);
        claims["nonce"] = json!(nonce);
        self.sign(&self.header(), &claims)
    }

    /// A proof for `GET url` with `token`, carrying `nonce`.
    fn for_api_with_nonce(&self, url: &str, token: &str, at: DateTime<Utc>, nonce: &str) -> String {
        let mut claims = self.proof_claims("GET", url, at);
        claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        claims["nonce"] = json!(nonce);
        self.sign(&self.header(), &claims)
    }
}

#[tokio::test]
async fn with_nonces_required_a_proof_without_the_current_nonce_gets_use_dpop_nonce_and_one() {
    let world = world_with_nonces().await;
    world.install_service_account(&[&world.tower]).await;
    let router = library_router(&world);
    let key = DpopKey::new();
    let basic = in_process::basic(world.app.client_id.as_str(), world.secret.expose());
    let token_request = |proof: String| {
        Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, basic.as_str())
            .header("dpop", proof)
            .body(Body::from("grant_type=client_credentials&company_id=acme"))
            .unwrap()
    };
    let now = world.clock.now();
    let answer = in_process::send(&router, token_request(key.for_token(now))).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "use_dpop_nonce");
    let nonce = answer.headers["dpop-nonce"].to_str().unwrap().to_owned();
    // A made-up nonce is no better than none.
    let answer = in_process::send(
        &router,
        token_request(key.for_token_with_nonce(now, "made-up")),
    )
    .await;
    assert_eq!(answer.json()["error"], "use_dpop_nonce");
    let answer = in_process::send(
        &router,
        token_request(key.for_token_with_nonce(now, &nonce)),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.json()["access_token"].as_str().unwrap().to_owned();

    // At the API too: 401 use_dpop_nonce with a nonce, then the call with it works.
    let api = api(&world);
    let dpop = format!("DPoP {token}");
    let answer = call(&api, &dpop, &[&key.for_api(RFIS_URL, &token, now)]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["error"], "use_dpop_nonce");
    let challenge = answer.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    let fresh = answer.headers["dpop-nonce"].to_str().unwrap().to_owned();
    let answer = call(
        &api,
        &dpop,
        &[&key.for_api_with_nonce(RFIS_URL, &token, now, &fresh)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_nonce_is_current_for_one_to_two_windows_and_then_stale() {
    let world = world_with_nonces().await;
    world.install_service_account(&[&world.tower]).await;
    let key = DpopKey::new();
    let nonce = world.server.dpop_nonce().unwrap();
    let request = |proof: String| {
        let world = &world;
        async move {
            world
                .server
                .token_with_dpop(service_request(world), &world.client(), Some(&proof))
                .await
        }
    };
    world.clock.advance(appgrant::token::NONCE_WINDOW);
    request(key.for_token_with_nonce(world.clock.now(), &nonce))
        .await
        .unwrap();
    world.clock.advance(appgrant::token::NONCE_WINDOW);
    let stale = request(key.for_token_with_nonce(world.clock.now(), &nonce))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), ErrorCode::UseDpopNonce);
    // Without nonces required (the default), a proof needs none.
    assert_eq!(support::world().await.server.dpop_nonce(), None);
}

#[test]
fn a_proof_signed_with_none_or_a_shared_secret_is_an_unsupported_algorithm() {
    let key = DpopKey::new();
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let claims = URL_SAFE_NO_PAD.encode(key.proof_claims("POST", TOKEN_ENDPOINT, now).to_string());
    let target = ProofTarget {
        method: "POST",
        url: TOKEN_ENDPOINT,
        access_token: None,
        now,
        leeway_seconds: 0,
        nonces: None,
    };
    for alg in ["none", "HS256"] {
        let header = json!({"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk()});
        let proof = format!("{}.{claims}.", URL_SAFE_NO_PAD.encode(header.to_string()));
        assert_eq!(
            check_proof(&proof, &target).unwrap_err(),
            DpopError::UnsupportedAlgorithm,
            "{alg}"
        );
    }
}

#[test]
fn a_proofs_iat_window_runs_five_minutes_back_and_one_ahead_widened_by_the_leeway() {
    let key = DpopKey::new();
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let check = |iat: DateTime<Utc>, leeway_seconds: i64| {
        let target = ProofTarget {
            method: "POST",
            url: TOKEN_ENDPOINT,
            access_token: None,
            now,
            leeway_seconds,
            nonces: None,
        };
        check_proof(&key.for_token(iat), &target).map(|checked| checked.remember_until)
    };
    let back = appgrant::token::PROOF_WINDOW;
    let ahead = appgrant::token::PROOF_CLOCK_SKEW;
    let second = TimeDelta::seconds(1);
    // The edges themselves are inside.
    assert!(check(now - back, 0).is_ok());
    assert!(check(now + ahead, 0).is_ok());
    assert_eq!(check(now - back - second, 0).unwrap_err(), DpopError::Stale);
    assert_eq!(
        check(now + ahead + second, 0).unwrap_err(),
        DpopError::Stale
    );
    // The leeway widens both sides.
    let leeway = TimeDelta::seconds(30);
    assert!(check(now - back - leeway, 30).is_ok());
    assert!(check(now + ahead + leeway, 30).is_ok());
    assert!(check(now - back - leeway - second, 30).is_err());
    assert!(check(now + ahead + leeway + second, 30).is_err());
    // Remembered until the end of its window, leeway included.
    assert_eq!(check(now, 30).unwrap(), now + back + leeway);
}
