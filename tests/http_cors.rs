//! CORS for browser apps: the configured origins, and only they, may call the token and
//! revocation endpoints, the metadata and the key set across origins; the authorization
//! endpoint, introspection and the pages never answer another origin; nothing is allowed by
//! default, and never with credentials.

mod in_process;
mod support;

use appgrant::http::{CorsOrigins, HttpOptions, InvalidOrigin, router};
use appgrant::{AuthorizationServer, Config, MemoryStore};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use in_process::{Answer, SignedInAs, basic, send};

const SPA: &str = "https://spa.example.com";

fn app(origins: CorsOrigins) -> Router {
    let server = AuthorizationServer::builder(MemoryStore::new(), Config::new(support::ISSUER))
        .build()
        .unwrap();
    let sign_in = SignedInAs {
        user: appgrant::model::UserId::new("jane"),
        company: appgrant::model::CompanyId::new("acme"),
        session: "a session".into(),
    };
    let options = HttpOptions {
        cors_origins: origins,
        ..HttpOptions::default()
    };
    router(server, sign_in, options)
}

fn spa_only() -> Router {
    app(CorsOrigins::parse([SPA, "http://localhost:3000"]).unwrap())
}

async fn preflight(router: &Router, path: &str, origin: &str) -> Answer {
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, dpop",
        )
        .body(Body::empty())
        .unwrap();
    send(router, request).await
}

async fn post_from(router: &Router, path: &str, origin: &str) -> Answer {
    let request = Request::post(path)
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic("nobody", "wrong"))
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    send(router, request).await
}

fn allowed_origin(answer: &Answer) -> Option<&str> {
    answer
        .headers
        .get("access-control-allow-origin")
        .map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn a_configured_origin_may_call_the_token_and_revocation_endpoints() {
    let router = spa_only();
    for path in ["/oauth/token", "/oauth/revoke"] {
        let answer = preflight(&router, path, SPA).await;
        assert!(answer.status.is_success(), "{path}: {}", answer.status);
        assert_eq!(allowed_origin(&answer), Some(SPA), "{path}");
        let methods = answer.headers["access-control-allow-methods"]
            .to_str()
            .unwrap();
        assert!(methods.contains("POST"), "{methods}");
        let headers = answer.headers["access-control-allow-headers"]
            .to_str()
            .unwrap();
        for needed in ["authorization", "content-type", "dpop"] {
            assert!(headers.contains(needed), "{headers}");
        }
        assert!(
            answer
                .headers
                .get("access-control-allow-credentials")
                .is_none(),
            "credentials allowed on {path}"
        );
        let answer = post_from(&router, path, SPA).await;
        assert_eq!(allowed_origin(&answer), Some(SPA), "{path}");
        let vary = answer.headers.get_all("vary").iter();
        assert!(
            vary.map(|value| value.to_str().unwrap().to_ascii_lowercase())
                .any(|value| value.contains("origin")),
            "{path}: no Vary: Origin"
        );
    }
}

#[tokio::test]
async fn a_configured_origin_may_read_the_metadata_and_the_key_set() {
    let router = spa_only();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ] {
        let request = Request::get(path)
            .header("origin", SPA)
            .body(Body::empty())
            .unwrap();
        let answer = send(&router, request).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(allowed_origin(&answer), Some(SPA), "{path}");
    }
}

#[tokio::test]
async fn another_origin_is_never_allowed() {
    let router = spa_only();
    for origin in [
        "https://evil.example.com",
        "https://spa.example.com.evil.example",
        "null",
    ] {
        for path in ["/oauth/token", "/oauth/revoke"] {
            assert_eq!(
                allowed_origin(&preflight(&router, path, origin).await),
                None
            );
            assert_eq!(
                allowed_origin(&post_from(&router, path, origin).await),
                None
            );
        }
    }
}

#[tokio::test]
async fn the_authorization_endpoint_introspection_and_token_info_never_answer_another_origin() {
    let router = spa_only();
    for path in ["/oauth/authorize", "/oauth/introspect", "/oauth/token/info"] {
        let answer = preflight(&router, path, SPA).await;
        assert_eq!(allowed_origin(&answer), None, "{path}");
        let request = Request::get(format!("{path}?client_id=x"))
            .header("origin", SPA)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            allowed_origin(&send(&router, request).await),
            None,
            "{path}"
        );
    }
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let router = app(HttpOptions::default().cors_origins);
    for path in ["/oauth/token", "/oauth/revoke"] {
        assert_eq!(allowed_origin(&preflight(&router, path, SPA).await), None);
        assert_eq!(allowed_origin(&post_from(&router, path, SPA).await), None);
    }
}

#[test]
fn an_origin_is_accepted_only_as_a_browser_sends_it() {
    assert!(CorsOrigins::parse([SPA, "http://localhost:3000", "http://[::1]:8080"]).is_ok());
    for invalid in [
        "https://spa.example.com/",
        "https://spa.example.com/app",
        "https://SPA.example.com",
        "https://spa.example.com:443",
        "spa.example.com",
        "ftp://spa.example.com",
        "null",
        "*",
    ] {
        assert_eq!(
            CorsOrigins::parse([invalid]),
            Err(InvalidOrigin(invalid.to_owned())),
            "{invalid}"
        );
    }
}
