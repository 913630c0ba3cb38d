//! Scopes as least privilege: an app asks for part of what it may do as `tool:level` scopes,
//! per authorization and per client-credentials request. A decision never allows more than
//! the user's current permission ∩ the app's ceiling ∩ the granted scope (for a service
//! account: the approved manifest ∩ the scope); a refresh may narrow, never widen; an unknown
//! scope is `invalid_scope`; the token response, the JWT and introspection carry the scope.

mod in_process;
mod support;

use appgrant::grant::{
    AppRegistration, AuthorizationRequest, AuthorizeError, ErrorCode, TokenError, TokenRequest,
    TokenResponse,
};
use appgrant::model::*;
use appgrant::{Config, Decision, DenyReason};
use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use in_process::{SignedInAs, basic, get, post_form, send};
use support::{ISSUER, World, world, world_with};

fn scoped_request(world: &World, scope: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        scope: Some(scope.into()),
        ..world.authorization_request()
    }
}

/// The whole authorization-code flow for `user`, asking for `scope`.
async fn scoped_tokens(world: &World, user: &UserId, scope: &str) -> TokenResponse {
    let request = scoped_request(world, scope);
    let response = world
        .server
        .approve_authorization(&request, user, Some(&world.acme))
        .await
        .unwrap();
    let appgrant::grant::AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    let code = in_process::query_param(location.expose(), "code").unwrap();
    world
        .server
        .token(
            world.exchange_request(appgrant::token::Secret::new(code)),
            &world.client(),
        )
        .await
        .unwrap()
}

/// The seed world whose app is limited to RFIs at `rfis` through any person.
async fn world_with_ceiling(rfis: Level) -> World {
    let mut world = world().await;
    let registration = AppRegistration {
        ceiling: Some(ToolLevels::from([(Tool::new("rfis"), rfis)])),
        ..support::both_flows_app()
    };
    let registered = world.server.register_app(registration).await.unwrap();
    world.app = registered.app;
    world.secret = registered.client_secret.unwrap();
    world
}

fn tower(world: &World, tool: &str, level: Level) -> Requirement {
    Requirement::new(world.acme.clone(), tool, level).on_project(world.tower.clone())
}

async fn decision(world: &World, token: &TokenResponse, requirement: &Requirement) -> Decision {
    world
        .server
        .decide(token.access_token.expose(), requirement)
        .await
        .unwrap()
        .decision
}

/// The claims of a JWT, decoded without checking anything (the checks are elsewhere).
fn jwt_claims(token: &TokenResponse) -> serde_json::Value {
    let payload = token.access_token.expose().split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn refresh_with(
    world: &World,
    token: &TokenResponse,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let request = TokenRequest::RefreshToken {
        refresh_token: token.refresh_token.clone().unwrap(),
        scope: scope.map(|scope| Scopes::parse(scope).unwrap()),
        resource: None,
    };
    world.server.token(request, &world.client()).await
}

async fn service_token_with(world: &World, scope: &str) -> Result<TokenResponse, TokenError> {
    let request = TokenRequest::ClientCredentials {
        company_id: Some(world.acme.clone()),
        scope: Some(Scopes::parse(scope)?),
        resource: None,
    };
    world.server.token(request, &world.client()).await
}

fn invalid_scope<T: std::fmt::Debug>(result: Result<T, TokenError>) -> bool {
    matches!(result, Err(error) if error.code() == ErrorCode::InvalidScope)
}

// ---------------------------------------------------------------------------------------------
// The scope string.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_scope_is_a_tool_and_read_write_or_admin() {
    let scopes = Scopes::parse("rfis:read budget:write directory:admin").unwrap();
    assert_eq!(scopes.level(&Tool::new("rfis")), Level::ReadOnly);
    assert_eq!(scopes.level(&Tool::new("budget")), Level::Standard);
    assert_eq!(scopes.level(&Tool::new("directory")), Level::Admin);
    assert_eq!(scopes.level(&Tool::new("submittals")), Level::None);
}

#[test]
fn malformed_scopes_are_refused() {
    for bad in [
        "rfis",
        "rfis:",
        ":read",
        "rfis:delete",
        "rfis:read:again",
        "rfis:none",
        "openid",
        "rfis/x:read",
        "rfis:READ",
    ] {
        assert!(
            matches!(Scopes::parse(bad), Err(ScopeError::Malformed(_))),
            "{bad:?} should be malformed"
        );
    }
    assert_eq!(Scopes::parse("  "), Err(ScopeError::Empty));
}

#[test]
fn asking_twice_for_a_tool_keeps_the_higher_level() {
    let scopes = Scopes::parse("rfis:write rfis:read").unwrap();
    assert_eq!(scopes.to_string(), "rfis:write");
}

// ---------------------------------------------------------------------------------------------
// Authorization code.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_who_grants_a_read_scope_gives_the_app_read_only() {
    let world = world().await;
    let tokens = scoped_tokens(&world, &world.jane, "rfis:read").await;
    assert!(
        world
            .allowed(&tokens, &tower(&world, "rfis", Level::ReadOnly))
            .await
    );
    assert_eq!(
        decision(&world, &tokens, &tower(&world, "rfis", Level::Standard)).await,
        Decision::Deny(DenyReason::InsufficientLevel {
            have: Level::ReadOnly,
            need: Level::Standard,
        })
    );
}

#[tokio::test]
async fn a_scope_never_gives_more_than_the_user_holds() {
    let world = world().await;
    // John only reads RFIs; asking for write gives the app no write through him.
    let tokens = scoped_tokens(&world, &world.john, "rfis:write").await;
    assert!(
        world
            .allowed(&tokens, &tower(&world, "rfis", Level::ReadOnly))
            .await
    );
    assert!(
        !world
            .allowed(&tokens, &tower(&world, "rfis", Level::Standard))
            .await
    );
}

#[tokio::test]
async fn a_tool_the_scope_leaves_out_is_denied() {
    let world = world().await;
    let tokens = scoped_tokens(&world, &world.jane, "rfis:write").await;
    let directory = Requirement::new(world.acme.clone(), "directory", Level::ReadOnly);
    assert!(!world.allowed(&tokens, &directory).await);
    // Without scopes Jane's token reaches the directory she administers.
    let unscoped = world.tokens_for(&world.jane).await;
    assert!(world.allowed(&unscoped, &directory).await);
}

#[tokio::test]
async fn a_scope_follows_the_users_permissions_when_they_drop() {
    let world = world().await;
    let tokens = scoped_tokens(&world, &world.jane, "rfis:write").await;
    assert!(
        world
            .allowed(&tokens, &tower(&world, "rfis", Level::Standard))
            .await
    );
    let lowered =
        Permissions::none().with(Scope::Project(world.tower.clone()), "rfis", Level::ReadOnly);
    world
        .server
        .set_membership(&world.acme, &world.jane, lowered)
        .await
        .unwrap();
    assert!(
        !world
            .allowed(&tokens, &tower(&world, "rfis", Level::Standard))
            .await
    );
}

#[tokio::test]
async fn the_token_response_and_the_jwt_carry_the_granted_scope() {
    let world = world().await;
    let tokens = scoped_tokens(&world, &world.jane, "rfis:write directory:read").await;
    assert_eq!(tokens.scope.as_deref(), Some("directory:read rfis:write"));
    assert_eq!(jwt_claims(&tokens)["scope"], "directory:read rfis:write");
    let unscoped = world.tokens_for(&world.jane).await;
    assert_eq!(unscoped.scope, None);
    assert!(jwt_claims(&unscoped).get("scope").is_none());
}

#[tokio::test]
async fn a_malformed_scope_at_authorize_is_redirected_as_invalid_scope() {
    let world = world().await;
    for scope in ["openid", "rfis:delete", "rfis"] {
        let result = world
            .server
            .consent_prompt(&scoped_request(&world, scope))
            .await;
        let Err(AuthorizeError::Redirect(redirect)) = result else {
            panic!("{scope:?}: expected a redirected error, got {result:?}");
        };
        assert_eq!(redirect.error, ErrorCode::InvalidScope, "{scope:?}");
        let location = redirect.location().unwrap();
        assert_eq!(
            in_process::query_param(&location, "state").as_deref(),
            Some("xyz")
        );
    }
}

#[tokio::test]
async fn a_tool_the_server_does_not_know_is_invalid_scope() {
    let mut config = Config::new(ISSUER);
    config.tools = vec![Tool::new("rfis"), Tool::new("directory")];
    let world = world_with(config).await;
    let result = world
        .server
        .consent_prompt(&scoped_request(&world, "rfis:read budget:read"))
        .await;
    assert!(
        matches!(&result, Err(AuthorizeError::Redirect(redirect)) if redirect.error == ErrorCode::InvalidScope),
        "{result:?}"
    );
    let known = world
        .server
        .consent_prompt(&scoped_request(&world, "rfis:read"))
        .await
        .unwrap();
    assert_eq!(
        known.request.scope,
        Some(Scopes::parse("rfis:read").unwrap())
    );
}

#[tokio::test]
async fn an_invalid_scope_redirect_says_how_the_scope_is_wrong_without_repeating_it() {
    let mut config = Config::new(ISSUER);
    config.tools = vec![Tool::new("rfis"), Tool::new("directory")];
    let mut world = world_with(config).await;
    let limited = AppRegistration {
        ceiling: Some(ToolLevels::from([(Tool::new("rfis"), Level::Admin)])),
        ..support::both_flows_app()
    };
    let registered = world.server.register_app(limited).await.unwrap();
    world.app = registered.app;
    let cases = [
        (
            "rfis:read budget:read",
            "budget",
            "a tool this server does not know",
        ),
        (
            "rfis:read directory:read",
            "directory",
            "a tool the app may not use",
        ),
        (
            "rfis:read rfis:delete",
            "delete",
            "tool:read, tool:write or tool:admin",
        ),
    ];
    for (scope, written, says) in cases {
        let result = world
            .server
            .consent_prompt(&scoped_request(&world, scope))
            .await;
        let Err(AuthorizeError::Redirect(redirect)) = result else {
            panic!("{scope:?}: expected a redirected error, got {result:?}");
        };
        assert_eq!(redirect.error, ErrorCode::InvalidScope, "{scope:?}");
        assert!(
            redirect.description.contains(says),
            "{scope:?}: {}",
            redirect.description
        );
        // The redirect carries no text the request wrote (it lands on the app's page).
        assert!(
            !redirect.description.contains(written),
            "{scope:?}: {}",
            redirect.description
        );
        let location = redirect.location().unwrap();
        assert_eq!(
            in_process::query_param(&location, "error_description").as_deref(),
            Some(redirect.description)
        );
    }
}

#[tokio::test]
async fn a_scope_above_the_apps_ceiling_is_capped_and_the_response_says_so() {
    let world = world_with_ceiling(Level::ReadOnly).await;
    let tokens = scoped_tokens(&world, &world.jane, "rfis:admin").await;
    assert_eq!(tokens.scope.as_deref(), Some("rfis:read"));
    assert!(
        !world
            .allowed(&tokens, &tower(&world, "rfis", Level::Standard))
            .await
    );
}

#[tokio::test]
async fn a_tool_outside_the_apps_ceiling_is_invalid_scope() {
    let world = world_with_ceiling(Level::ReadOnly).await;
    let result = world
        .server
        .consent_prompt(&scoped_request(&world, "directory:read"))
        .await;
    assert!(
        matches!(&result, Err(AuthorizeError::Redirect(redirect)) if redirect.error == ErrorCode::InvalidScope),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Refresh.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_for_one_access_token() {
    let world = world().await;
    let tokens = scoped_tokens(&world, &world.jane, "rfis:write directory:read").await;
    let narrowed = refresh_with(&world, &tokens, Some("rfis:read"))
        .await
        .unwrap();
    assert_eq!(narrowed.scope.as_deref(), Some("rfis:read"));
    assert!(
        !world
            .allowed(&narrowed, &tower(&world, "rfis", Level::Standard))
            .await
    );
    // The grant keeps what the user granted: the next refresh without a scope has it all.
    let again = refresh_with(&world, &narrowed, None).await.unwrap();
    assert_eq!(again.scope.as_deref(), Some("directory:read rfis:write"));
    assert!(
        world
            .allowed(&again, &tower(&world, "rfis", Level::Standard))
            .await
    );
}

#[tokio::test]
async fn a_refresh_may_not_widen_the_scope_and_the_refresh_token_still_works() {
    let world = world().await;
    let tokens = scoped_tokens(&world, &world.jane, "rfis:read").await;
    assert!(invalid_scope(
        refresh_with(&world, &tokens, Some("rfis:write")).await
    ));
    assert!(invalid_scope(
        refresh_with(&world, &tokens, Some("rfis:read directory:read")).await
    ));
    // A refused scope spends nothing: the same refresh token still rotates.
    let rotated = refresh_with(&world, &tokens, None).await.unwrap();
    assert_eq!(rotated.scope.as_deref(), Some("rfis:read"));
}

#[tokio::test]
async fn a_refresh_of_an_unscoped_grant_may_narrow_but_not_pass_the_ceiling() {
    let world = world_with_ceiling(Level::Standard).await;
    let tokens = world.tokens_for(&world.jane).await;
    let narrowed = refresh_with(&world, &tokens, Some("rfis:read"))
        .await
        .unwrap();
    assert_eq!(narrowed.scope.as_deref(), Some("rfis:read"));
    assert!(invalid_scope(
        refresh_with(&world, &narrowed, Some("rfis:admin")).await
    ));
}

// ---------------------------------------------------------------------------------------------
// Client credentials.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_service_account_scope_caps_the_approved_manifest() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = service_token_with(&world, "rfis:read").await.unwrap();
    assert_eq!(token.scope.as_deref(), Some("rfis:read"));
    assert!(
        world
            .allowed(&token, &tower(&world, "rfis", Level::ReadOnly))
            .await
    );
    assert!(
        !world
            .allowed(&token, &tower(&world, "rfis", Level::Standard))
            .await
    );
    let directory = Requirement::new(world.acme.clone(), "directory", Level::ReadOnly);
    assert!(!world.allowed(&token, &directory).await);
    let unscoped = world.service_token(Some(&world.acme)).await;
    assert!(
        world
            .allowed(&unscoped, &tower(&world, "rfis", Level::Standard))
            .await
    );
    assert!(world.allowed(&unscoped, &directory).await);
}

#[tokio::test]
async fn a_service_account_scope_above_the_manifest_is_capped_and_the_response_says_so() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = service_token_with(&world, "rfis:admin").await.unwrap();
    assert_eq!(token.scope.as_deref(), Some("rfis:write"));
    assert_eq!(
        decision(&world, &token, &tower(&world, "rfis", Level::Admin)).await,
        Decision::Deny(DenyReason::InsufficientLevel {
            have: Level::Standard,
            need: Level::Admin,
        })
    );
}

#[tokio::test]
async fn a_service_account_scope_for_a_tool_outside_the_manifest_is_invalid_scope() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    assert!(invalid_scope(
        service_token_with(&world, "budget:read").await
    ));
    assert!(invalid_scope(service_token_with(&world, "openid").await));
}

#[tokio::test]
async fn introspection_and_token_info_report_the_scope() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = service_token_with(&world, "rfis:read").await.unwrap();
    let introspection = world
        .server
        .introspect(&world.client(), token.access_token.expose())
        .await
        .unwrap();
    assert!(introspection.active);
    assert_eq!(introspection.scope.as_deref(), Some("rfis:read"));
    let info = world
        .server
        .token_info(token.access_token.expose())
        .await
        .unwrap();
    assert_eq!(info.scopes, vec!["rfis:read".to_owned()]);
}

// ---------------------------------------------------------------------------------------------
// Over HTTP: the token endpoint, the metadata and the consent page.
// ---------------------------------------------------------------------------------------------

fn router(world: &World) -> axum::Router {
    let sign_in = SignedInAs {
        user: world.jane.clone(),
        company: world.acme.clone(),
        session: "a session".into(),
    };
    in_process::app(world.server.clone(), sign_in)
}

#[tokio::test]
async fn the_token_endpoint_answers_an_unknown_scope_with_invalid_scope_400() {
    let world = world().await;
    world.install_service_account(&[&world.tower]).await;
    let router = router(&world);
    let authorization = basic(world.app.client_id.as_str(), world.secret.expose());
    let answer = post_form(
        &router,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("company_id", "acme"),
            ("scope", "openid"),
        ],
        Some(&authorization),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"], "invalid_scope");
    let answer = post_form(
        &router,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("company_id", "acme"),
            ("scope", "rfis:read"),
        ],
        Some(&authorization),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["scope"], "rfis:read");
}

#[tokio::test]
async fn the_metadata_lists_scopes_supported_for_the_configured_tools() {
    let mut config = Config::new(ISSUER);
    config.tools = vec![Tool::new("rfis")];
    let world = world_with(config).await;
    let answer = get(
        &router(&world),
        "/.well-known/oauth-authorization-server",
        None,
    )
    .await;
    assert_eq!(
        answer.json()["scopes_supported"],
        serde_json::json!(["rfis:read", "rfis:write", "rfis:admin"])
    );
    let unconfigured = world_with(Config::new(ISSUER)).await;
    let answer = get(
        &router(&unconfigured),
        "/.well-known/oauth-authorization-server",
        None,
    )
    .await;
    assert!(answer.json().get("scopes_supported").is_none());
}

#[tokio::test]
async fn the_consent_page_lists_the_scopes_and_shows_only_what_they_allow() {
    let world = world().await;
    let router = router(&world);
    let path = format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state=xyz\
         &code_challenge={}&code_challenge_method=S256&scope=rfis%3Aread",
        world.app.client_id,
        support::REDIRECT,
        support::challenge()
    );
    let request = Request::get(path).body(Body::empty()).unwrap();
    let answer = send(&router, request).await;
    assert_eq!(answer.status, 200);
    let page = &answer.body;
    assert!(page.contains("<code>rfis:read</code>"), "{page}");
    // Jane administers the directory and RFIs; the page shows read-only RFIs, no directory.
    assert!(page.contains("Read only"), "{page}");
    assert!(!page.contains("<td>directory</td>"), "{page}");
    assert!(!page.contains("<td>Admin</td>"), "{page}");
}
