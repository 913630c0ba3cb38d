//! Protected-resource metadata (RFC 9728): a resource server using the extractor publishes
//! which authorization server issues its tokens, at the well-known path derived from its
//! identifier, and names that document in its 401 challenges (`resource_metadata`), so a
//! client meeting the resource first learns where to get a token.

mod in_process;
mod support;

use appgrant::http::{HttpOptions, ResourceGuard, ResourceRejection, ResourceRequest};
use appgrant::model::{Level, ProjectId, Tool};
use appgrant::{AuthorizationServer, Config, MemoryStore};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use serde_json::json;

const ISSUER: &str = "https://auth.example.com";

fn guard(config: Config) -> ResourceGuard {
    let server = AuthorizationServer::builder(MemoryStore::new(), config)
        .build()
        .unwrap();
    ResourceGuard::new(server, &HttpOptions::default())
}

fn config() -> Config {
    let mut config = Config::new(ISSUER);
    config.audience = "https://api.example.com".into();
    config.resources = vec!["https://files.example.com:8443/v1/".into()];
    config.tools = vec![Tool::new("rfis")];
    config
}

async fn rfis(access: ResourceRequest) -> Result<&'static str, ResourceRejection> {
    access
        .require(Some(&ProjectId::new("tower")), "rfis", Level::ReadOnly)
        .await?;
    Ok("the RFIs")
}

fn api(guard: ResourceGuard) -> Router {
    Router::new()
        .route("/rfis", axum::routing::get(rfis))
        .with_state(guard)
}

async fn challenge(router: &Router, authorization: Option<&str>) -> String {
    let mut request = Request::get("/rfis").header("company-id", "acme");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let answer = in_process::send(router, request.body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, 401);
    answer.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_metadata_url_puts_the_well_known_path_before_the_identifiers_path() {
    let default = guard(config());
    assert_eq!(default.identifier(), "https://api.example.com");
    assert_eq!(
        default.metadata_url(),
        "https://api.example.com/.well-known/oauth-protected-resource"
    );
    let files = guard(config()).serving("https://files.example.com:8443/v1/");
    assert_eq!(
        files.metadata_url(),
        "https://files.example.com:8443/.well-known/oauth-protected-resource/v1"
    );
}

#[test]
fn the_document_names_the_resource_its_authorization_server_and_scopes() {
    let files = guard(config()).serving("https://files.example.com:8443/v1/");
    assert_eq!(
        files.metadata_document(),
        json!({
            "resource": "https://files.example.com:8443/v1/",
            "authorization_servers": [ISSUER],
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": ["EdDSA", "ES256", "RS256", "PS256"],
            "dpop_bound_access_tokens_required": false,
            "scopes_supported": ["rfis:read", "rfis:write", "rfis:admin"],
        })
    );
    let without_tools = guard(Config::new(ISSUER)).metadata_document();
    assert!(without_tools.get("scopes_supported").is_none());
    assert_eq!(without_tools["resource"], ISSUER);
}

#[tokio::test]
async fn the_metadata_router_serves_the_document_at_its_well_known_path() {
    let files = guard(config()).serving("https://files.example.com:8443/v1/");
    let router = files.metadata_router();
    let answer = in_process::get(&router, "/.well-known/oauth-protected-resource/v1", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), files.metadata_document());
    let elsewhere = in_process::get(&router, "/.well-known/oauth-protected-resource", None).await;
    assert_eq!(elsewhere.status, 404);
}

#[tokio::test]
async fn an_advertising_guard_names_its_metadata_in_every_401_challenge() {
    let router = api(guard(config()).advertising_metadata());
    let expected =
        "resource_metadata=\"https://api.example.com/.well-known/oauth-protected-resource\"";
    let missing = challenge(&router, None).await;
    assert!(missing.contains(expected), "{missing}");
    let invalid = challenge(&router, Some("Bearer not-a-token")).await;
    assert!(invalid.contains(expected), "{invalid}");
    assert!(invalid.contains("error=\"invalid_token\""), "{invalid}");
}

#[tokio::test]
async fn a_guard_that_does_not_advertise_names_no_metadata() {
    let router = api(guard(config()));
    let missing = challenge(&router, None).await;
    assert!(!missing.contains("resource_metadata"), "{missing}");
    assert_eq!(missing, "Bearer realm=\"api\"");
}
