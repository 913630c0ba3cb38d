//! Resource indicators (RFC 8707): a client names the resource server a token is for with
//! `resource`, at authorize and at the token endpoint; the token's `aud` is that resource, so a
//! resource server that checks its own identifier never accepts a token meant for another.
//! An unknown, malformed or ungranted resource is `invalid_target`; without one, a token is
//! for the configured default audience, which need not be the issuer.

mod in_process;
mod support;

use appgrant::grant::{
    AuthorizationRequest, AuthorizationResponse, AuthorizeError, ErrorCode, ResourceError,
    TokenError, TokenRequest, TokenResponse,
};
use appgrant::http::{HttpOptions, ResourceGuard};
use appgrant::model::*;
use appgrant::token::Secret;
use appgrant::{Config, DenyReason};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use in_process::{SignedInAs, basic, post_form};
use support::{ISSUER, World, world_with};

const API: &str = "https://api.example.com";
const FILES: &str = "https://files.example.com/v1";

fn config() -> Config {
    let mut config = Config::new(ISSUER);
    config.audience = API.into();
    config.resources = vec![FILES.into()];
    config
}

async fn world() -> World {
    world_with(config()).await
}

fn request_for(world: &World, resource: Option<&str>) -> AuthorizationRequest {
    AuthorizationRequest {
        resource: resource.map(str::to_owned),
        ..world.authorization_request()
    }
}

async fn code_for(world: &World, resource: Option<&str>) -> Secret {
    let response = world
        .server
        .approve_authorization(
            &request_for(world, resource),
            &world.jane,
            Some(&world.acme),
        )
        .await
        .unwrap();
    let AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    Secret::new(in_process::query_param(location.expose(), "code").unwrap())
}

async fn exchange(
    world: &World,
    code: Secret,
    resource: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let request = TokenRequest::AuthorizationCode {
        code,
        redirect_uri: Some(support::REDIRECT.into()),
        code_verifier: Some(support::VERIFIER.into()),
        resource: resource.map(str::to_owned),
    };
    world.server.token(request, &world.client()).await
}

async fn refresh(
    world: &World,
    tokens: &TokenResponse,
    resource: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let request = TokenRequest::RefreshToken {
        refresh_token: tokens.refresh_token.clone().unwrap(),
        scope: None,
        resource: resource.map(str::to_owned),
    };
    world.server.token(request, &world.client()).await
}

async fn service_token(world: &World, resource: Option<&str>) -> Result<TokenResponse, TokenError> {
    let request = TokenRequest::ClientCredentials {
        company_id: Some(world.acme.clone()),
        scope: None,
        resource: resource.map(str::to_owned),
    };
    world.server.token(request, &world.client()).await
}

fn audience(token: &TokenResponse) -> String {
    let payload = token.access_token.expose().split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["aud"].as_str().unwrap().to_owned()
}

fn read_rfis(world: &World) -> Requirement {
    Requirement::new(world.acme.clone(), "rfis", Level::ReadOnly).on_project(world.tower.clone())
}

/// Whether the resource server `resource` (`None`: the default audience) allows `token`.
async fn allowed_at(world: &World, resource: Option<&str>, token: &TokenResponse) -> bool {
    let token = token.access_token.expose();
    let requirement = read_rfis(world);
    let check = match resource {
        Some(resource) => world.server.decide_for(resource, token, &requirement).await,
        None => world.server.decide(token, &requirement).await,
    };
    check.unwrap().is_allowed()
}

/// The `error_description` of the redirect that refuses an authorization for `resource`.
async fn invalid_target_description(world: &World, resource: &str) -> &'static str {
    let result = world
        .server
        .consent_prompt(&request_for(world, Some(resource)))
        .await;
    match result {
        Err(AuthorizeError::Redirect(redirect)) if redirect.error == ErrorCode::InvalidTarget => {
            redirect.description
        }
        other => panic!("{resource:?}: expected an invalid_target redirect, got {other:?}"),
    }
}

fn is_invalid_target<T: std::fmt::Debug>(result: &Result<T, TokenError>) -> bool {
    matches!(result, Err(error) if error.code() == ErrorCode::InvalidTarget)
}

// ---------------------------------------------------------------------------------------------
// The default audience.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn without_a_resource_a_token_is_for_the_default_audience_not_the_issuer() {
    let world = world().await;
    let tokens = exchange(&world, code_for(&world, None).await, None)
        .await
        .unwrap();
    assert_eq!(audience(&tokens), API);
    assert!(allowed_at(&world, None, &tokens).await);
    assert!(allowed_at(&world, Some(API), &tokens).await);
    assert!(!allowed_at(&world, Some(FILES), &tokens).await);
}

#[tokio::test]
async fn config_new_keeps_the_issuer_as_the_default_audience() {
    let world = world_with(Config::new(ISSUER)).await;
    let tokens = world.tokens_for(&world.jane).await;
    assert_eq!(audience(&tokens), ISSUER);
}

// ---------------------------------------------------------------------------------------------
// Authorization code.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_resource_named_at_authorize_is_the_audience_of_the_tokens() {
    let world = world().await;
    let code = code_for(&world, Some(FILES)).await;
    let tokens = exchange(&world, code, Some(FILES)).await.unwrap();
    assert_eq!(audience(&tokens), FILES);
    assert!(allowed_at(&world, Some(FILES), &tokens).await);
    // The default audience's resource server refuses it: it is not for it.
    let refused = world
        .server
        .decide(tokens.access_token.expose(), &read_rfis(&world))
        .await
        .unwrap();
    assert!(matches!(
        refused.decision.deny_reason(),
        Some(DenyReason::InvalidToken { .. })
    ));
}

#[tokio::test]
async fn a_code_for_a_resource_gives_it_even_when_the_exchange_names_none() {
    let world = world().await;
    let code = code_for(&world, Some(FILES)).await;
    let tokens = exchange(&world, code, None).await.unwrap();
    assert_eq!(audience(&tokens), FILES);
}

#[tokio::test]
async fn a_code_for_one_resource_is_not_exchanged_for_another() {
    let world = world().await;
    let code = code_for(&world, Some(FILES)).await;
    assert!(is_invalid_target(&exchange(&world, code, Some(API)).await));
}

#[tokio::test]
async fn a_code_for_no_resource_may_be_exchanged_for_any_known_one() {
    let world = world().await;
    let code = code_for(&world, None).await;
    let tokens = exchange(&world, code, Some(FILES)).await.unwrap();
    assert_eq!(audience(&tokens), FILES);
}

#[tokio::test]
async fn an_unknown_or_malformed_resource_at_authorize_is_redirected_as_invalid_target() {
    let world = world().await;
    for resource in [
        "https://elsewhere.example.com",
        "not a uri",
        "/relative/path",
        "https://files.example.com/v1#part",
        ISSUER,
    ] {
        let result = world
            .server
            .consent_prompt(&request_for(&world, Some(resource)))
            .await;
        let Err(AuthorizeError::Redirect(redirect)) = result else {
            panic!("{resource:?}: expected a redirected error, got {result:?}");
        };
        assert_eq!(redirect.error, ErrorCode::InvalidTarget, "{resource:?}");
    }
}

#[tokio::test]
async fn an_invalid_target_redirect_says_whether_the_resource_is_unknown_or_malformed() {
    let world = world().await;
    // A well-formed URI the server issues no tokens for: the developer must fix which
    // resource server it names, not its syntax.
    assert_eq!(
        invalid_target_description(&world, "https://elsewhere.example.com").await,
        ResourceError::Unknown.to_string()
    );
    for malformed in ["not a uri", "https://files.example.com/v1#part"] {
        assert_eq!(
            invalid_target_description(&world, malformed).await,
            ResourceError::NotAnAbsoluteUri.to_string(),
            "{malformed:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_resource_at_the_token_endpoint_is_invalid_target() {
    let world = world().await;
    let code = code_for(&world, None).await;
    let result = exchange(&world, code, Some("https://elsewhere.example.com")).await;
    assert!(is_invalid_target(&result), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// Refresh.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_refreshed_token_of_a_family_for_a_resource_is_for_it() {
    let world = world().await;
    let code = code_for(&world, Some(FILES)).await;
    let tokens = exchange(&world, code, Some(FILES)).await.unwrap();
    let refreshed = refresh(&world, &tokens, None).await.unwrap();
    assert_eq!(audience(&refreshed), FILES);
    assert!(is_invalid_target(
        &refresh(&world, &refreshed, Some(API)).await
    ));
    // The refused refresh spent nothing.
    let again = refresh(&world, &refreshed, Some(FILES)).await.unwrap();
    assert_eq!(audience(&again), FILES);
}

#[tokio::test]
async fn a_family_for_no_resource_refreshes_for_whichever_known_resource_is_named() {
    let world = world().await;
    let tokens = exchange(&world, code_for(&world, None).await, None)
        .await
        .unwrap();
    let for_files = refresh(&world, &tokens, Some(FILES)).await.unwrap();
    assert_eq!(audience(&for_files), FILES);
    let by_default = refresh(&world, &for_files, None).await.unwrap();
    assert_eq!(audience(&by_default), API);
}

// ---------------------------------------------------------------------------------------------
// Client credentials, introspection.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_service_account_token_is_for_the_resource_it_names() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = service_token(&world, Some(FILES)).await.unwrap();
    assert_eq!(audience(&token), FILES);
    assert!(allowed_at(&world, Some(FILES), &token).await);
    assert!(!allowed_at(&world, None, &token).await);
    let unnamed = service_token(&world, None).await.unwrap();
    assert_eq!(audience(&unnamed), API);
    assert!(is_invalid_target(
        &service_token(&world, Some("urn:unknown")).await
    ));
}

#[tokio::test]
async fn introspection_reports_the_audience_of_a_token_for_any_known_resource() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = service_token(&world, Some(FILES)).await.unwrap();
    let introspection = world
        .server
        .introspect(&world.client(), token.access_token.expose())
        .await
        .unwrap();
    assert!(introspection.active);
    assert_eq!(introspection.aud.as_deref(), Some(FILES));
}

#[tokio::test]
async fn a_resource_server_no_token_is_issued_for_accepts_none() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = service_token(&world, None).await.unwrap();
    assert!(!allowed_at(&world, Some("https://elsewhere.example.com"), &token).await);
}

// ---------------------------------------------------------------------------------------------
// Over HTTP: the token endpoint and the resource extractor.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_token_endpoint_answers_an_unknown_resource_with_invalid_target_400() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let sign_in = SignedInAs {
        user: world.jane.clone(),
        company: world.acme.clone(),
        session: "a session".into(),
    };
    let router = in_process::app(world.server.clone(), sign_in);
    let authorization = basic(world.app.client_id.as_str(), world.secret.expose());
    let form = |resource| {
        [
            ("grant_type", "client_credentials"),
            ("company_id", "acme"),
            ("resource", resource),
        ]
    };
    let refused = post_form(
        &router,
        "/oauth/token",
        &form("https://elsewhere.example.com"),
        Some(&authorization),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"], "invalid_target");
    let issued = post_form(&router, "/oauth/token", &form(FILES), Some(&authorization)).await;
    assert_eq!(issued.status, 200);
}

#[tokio::test]
async fn a_guard_serving_a_resource_accepts_only_tokens_for_it() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let options = HttpOptions::default();
    let files_guard = ResourceGuard::new(world.server.clone(), &options).serving(FILES);
    assert_eq!(files_guard.resource(), Some(FILES));
    let api_guard = ResourceGuard::new(world.server.clone(), &options);
    let for_files = service_token(&world, Some(FILES)).await.unwrap();
    let status = |guard: ResourceGuard, token: TokenResponse| async move {
        let router = axum::Router::new()
            .route(
                "/rfis",
                axum::routing::get(|request: appgrant::http::ResourceRequest| async move {
                    let tower = ProjectId::new("tower");
                    match request.require(Some(&tower), "rfis", Level::ReadOnly).await {
                        Ok(_) => axum::http::StatusCode::OK.into_response(),
                        Err(rejection) => rejection.into_response(),
                    }
                }),
            )
            .with_state(guard);
        let bearer = format!("Bearer {}", token.access_token.expose());
        let request = axum::http::Request::get("/rfis")
            .header("authorization", bearer)
            .header(options_header(), "acme")
            .body(axum::body::Body::empty())
            .unwrap();
        in_process::send(&router, request).await.status
    };
    assert_eq!(status(files_guard, for_files.clone()).await, 200);
    assert_eq!(status(api_guard, for_files).await, 401);
}

fn options_header() -> axum::http::HeaderName {
    HttpOptions::default().company_header
}

use axum::response::IntoResponse;

#[tokio::test]
async fn the_consent_page_names_the_resource_the_access_is_for() {
    let world = world().await;
    let sign_in = SignedInAs {
        user: world.jane.clone(),
        company: world.acme.clone(),
        session: "a session".into(),
    };
    let router = in_process::app(world.server.clone(), sign_in);
    let path = |resource: &str| {
        format!(
            "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state=xyz\
             &code_challenge={}&code_challenge_method=S256{resource}",
            world.app.client_id,
            support::REDIRECT,
            support::challenge()
        )
    };
    let page = in_process::get(
        &router,
        &path("&resource=https%3A%2F%2Ffiles.example.com%2Fv1"),
        None,
    )
    .await;
    assert_eq!(page.status, 200);
    // The page escapes the slashes of the URI as HTML.
    let text = page.body.replace("&#x2f;", "/");
    assert!(
        text.contains("The access is for https://files.example.com/v1 only."),
        "{text}"
    );
    let plain = in_process::get(&router, &path(""), None).await;
    assert!(!plain.body.contains("The access is for"), "{}", plain.body);
}

#[tokio::test]
async fn several_resources_in_one_request_are_invalid_target_not_a_malformed_request() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let router = in_process::app(
        world.server.clone(),
        in_process::SignedInAs {
            user: world.jane.clone(),
            company: world.acme.clone(),
            session: "session".into(),
        },
    );
    let basic = in_process::basic(world.app.client_id.as_str(), world.secret.expose());
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", "https://api.example.com"),
        ("resource", "https://files.example.com"),
    ];
    let answer = in_process::post_form(&router, "/oauth/token", &form, Some(&basic)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "invalid_target");
    let path = format!(
        "/oauth/authorize?client_id={}&redirect_uri={}&response_type=code&code_challenge={}&code_challenge_method=S256&state=s&resource=https%3A%2F%2Fapi.example.com&resource=https%3A%2F%2Ffiles.example.com",
        world.app.client_id,
        url::form_urlencoded::byte_serialize(support::REDIRECT.as_bytes()).collect::<String>(),
        support::challenge(),
    );
    let answer = in_process::get(&router, &path, None).await;
    assert!(answer.status.is_redirection(), "{}", answer.status);
    assert!(
        answer.location().contains("error=invalid_target"),
        "{}",
        answer.location()
    );
}
