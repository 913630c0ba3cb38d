//! The authorization-code flow: the authorization endpoint (RFC 6749 §4.1.1-4.1.2, RFC 7636,
//! RFC 9207) and the code exchange at the token endpoint (RFC 6749 §4.1.3, §2.3.1).

mod support;

use appgrant::audit::{AuditAction, AuditActor, RefusalReason, RevocationReason};
use appgrant::config::PkcePolicy;
use appgrant::grant::{
    AppRegistration, AuthorizationRequest, AuthorizationResponse, AuthorizeError,
    ClientAuthentication, ErrorCode, ErrorPage, Params, TokenError, TokenRequest, TokenResponse,
};
use appgrant::model::{
    App, AppFlows, ClientId, ClientType, GrantId, Level, OUT_OF_BAND, Requirement, SecretDigest,
};
use appgrant::store::{AppStore, StoreError};
use appgrant::token::{Secret, validate};
use appgrant::{Config, DenyReason};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeDelta;
use std::collections::HashMap;
use support::{ISSUER, REDIRECT, VERIFIER, World};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Jane, signed in, authorizes `request` while working in Acme.
async fn authorize(
    world: &World,
    request: &AuthorizationRequest,
) -> Result<AuthorizationResponse, AuthorizeError> {
    world
        .server
        .approve_authorization(request, &world.jane, Some(&world.acme))
        .await
}

/// The query parameters of a redirect to `REDIRECT`.
fn redirect_params(location: &str) -> HashMap<String, String> {
    assert!(
        location.starts_with(&format!("{REDIRECT}?")),
        "redirected elsewhere: {location}"
    );
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The parameters of the error redirect `result` must be.
fn redirected_error(
    result: Result<AuthorizationResponse, AuthorizeError>,
) -> HashMap<String, String> {
    match result {
        Err(AuthorizeError::Redirect(redirect)) => {
            redirect_params(&redirect.location().expect("a redirect, not out of band"))
        }
        other => panic!("expected an error redirect, got {other:?}"),
    }
}

/// The code in a successful authorization response.
fn code_of(response: AuthorizationResponse) -> Secret {
    match response {
        AuthorizationResponse::Redirect(location) => {
            Secret::new(redirect_params(location.expose())["code"].clone())
        }
        AuthorizationResponse::ShowCode(code) => code,
    }
}

fn without_pkce(mut request: AuthorizationRequest) -> AuthorizationRequest {
    request.code_challenge = None;
    request.code_challenge_method = None;
    request
}

fn exchange(code: Secret, redirect_uri: Option<&str>, verifier: Option<&str>) -> TokenRequest {
    TokenRequest::AuthorizationCode {
        code,
        redirect_uri: redirect_uri.map(Into::into),
        code_verifier: verifier.map(Into::into),
        resource: None,
    }
}

fn error_code<T: std::fmt::Debug>(result: Result<T, TokenError>) -> ErrorCode {
    result.expect_err("the request should fail").code()
}

fn grant_of(world: &World, tokens: &TokenResponse) -> GrantId {
    let config = world.server.config();
    validate(
        tokens.access_token.expose(),
        &world.server.keys(),
        &config.expectations(),
        world.server.now(),
    )
    .unwrap()
    .grant_id
}

fn revocations(world: &World) -> Vec<(GrantId, RevocationReason)> {
    world
        .audit
        .events()
        .into_iter()
        .filter_map(|event| match event.action {
            AuditAction::GrantRevoked { grant, reason } => Some((grant, reason)),
            _ => None,
        })
        .collect()
}

/// Another confidential app using the same redirect URIs, and its credentials.
async fn other_app(world: &World) -> ClientAuthentication {
    let registered = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap();
    ClientAuthentication::Basic {
        client_id: registered.app.client_id,
        secret: registered.client_secret.unwrap(),
    }
}

/// A public (native) app that only acts as its users.
async fn public_app(world: &World) -> App {
    let registration = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        name: "Pocket".into(),
        client_type: ClientType::Public,
        redirect_uris: vec![REDIRECT.into()],
        flows: AppFlows::UserDelegated,
        manifest: None,
        ceiling: None,
        profile: Default::default(),
        owner: None,
        security: Default::default(),
    };
    world.server.register_app(registration).await.unwrap().app
}

fn read_tower() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint: errors shown on a page, never redirected
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_client_id_shows_an_error_page() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.client_id = None;
    let error = authorize(&world, &request).await.unwrap_err();
    assert_eq!(error, AuthorizeError::Page(ErrorPage::MissingClient));
}

#[tokio::test]
async fn unknown_client_shows_an_error_page() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.client_id = Some("no-such-app".into());
    let error = authorize(&world, &request).await.unwrap_err();
    assert_eq!(error, AuthorizeError::Page(ErrorPage::UnknownClient));
}

#[tokio::test]
async fn missing_redirect_uri_shows_an_error_page() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.redirect_uri = None;
    let error = authorize(&world, &request).await.unwrap_err();
    assert_eq!(error, AuthorizeError::Page(ErrorPage::MissingRedirectUri));
}

#[tokio::test]
async fn unregistered_redirect_uri_shows_an_error_page() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.redirect_uri = Some("https://evil.example.com/callback".into());
    let error = authorize(&world, &request).await.unwrap_err();
    assert_eq!(
        error,
        AuthorizeError::Page(ErrorPage::UnregisteredRedirectUri)
    );
}

#[tokio::test]
async fn unregistered_redirect_uri_is_never_redirected_to_even_to_report_other_errors() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.redirect_uri = Some("https://evil.example.com/callback".into());
    request.response_type = Some("token".into());
    request.code_challenge_method = Some("plain".into());
    let error = authorize(&world, &request).await.unwrap_err();
    assert_eq!(
        error,
        AuthorizeError::Page(ErrorPage::UnregisteredRedirectUri)
    );
}

#[tokio::test]
async fn redirect_uri_must_match_exactly_so_a_trailing_slash_is_refused() {
    let world = support::world().await;
    for near_miss in [
        format!("{REDIRECT}/"),
        "https://APP.example.com/callback".to_owned(),
        format!("{REDIRECT}?next=home"),
    ] {
        let mut request = world.authorization_request();
        request.redirect_uri = Some(near_miss.clone());
        let error = authorize(&world, &request).await.unwrap_err();
        assert_eq!(
            error,
            AuthorizeError::Page(ErrorPage::UnregisteredRedirectUri),
            "{near_miss} was accepted"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint: errors redirected to the client
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn response_type_other_than_code_redirects_unsupported_response_type() {
    let world = support::world().await;
    for response_type in ["token", "id_token", "code token"] {
        let mut request = world.authorization_request();
        request.response_type = Some(response_type.into());
        let params = redirected_error(authorize(&world, &request).await);
        assert_eq!(
            params["error"], "unsupported_response_type",
            "{response_type}"
        );
        assert!(!params.contains_key("code"));
    }
}

#[tokio::test]
async fn error_redirect_echoes_state_and_names_the_issuer() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.response_type = Some("token".into());
    request.state = Some("a b&c=d/é".into());
    let params = redirected_error(authorize(&world, &request).await);
    assert_eq!(params["error"], "unsupported_response_type");
    assert_eq!(params["state"], "a b&c=d/é");
    assert_eq!(params["iss"], ISSUER);
}

#[tokio::test]
async fn deactivated_user_is_refused_with_access_denied() {
    let world = support::world().await;
    world.server.deactivate_user(&world.john).await.unwrap();
    let result = world
        .server
        .approve_authorization(
            &world.authorization_request(),
            &world.john,
            Some(&world.acme),
        )
        .await;
    let params = redirected_error(result);
    assert_eq!(params["error"], "access_denied");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn errors_for_the_out_of_band_uri_are_shown_not_redirected() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.redirect_uri = Some(OUT_OF_BAND.into());
    request.response_type = Some("token".into());
    let Err(AuthorizeError::Redirect(error)) = authorize(&world, &request).await else {
        panic!("expected an error for the client");
    };
    assert_eq!(error.error, ErrorCode::UnsupportedResponseType);
    assert_eq!(error.location(), None);
}

// ---------------------------------------------------------------------------------------------
// PKCE at the authorization endpoint
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn plain_pkce_is_refused() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.code_challenge = Some(VERIFIER.into());
    request.code_challenge_method = Some("plain".into());
    let params = redirected_error(authorize(&world, &request).await);
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["state"], "xyz");
}

#[tokio::test]
async fn code_challenge_method_without_a_challenge_is_refused() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.code_challenge = None;
    let params = redirected_error(authorize(&world, &request).await);
    assert_eq!(params["error"], "invalid_request");
}

#[tokio::test]
async fn code_challenge_without_a_method_is_refused_because_it_would_mean_plain() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.code_challenge_method = None;
    let params = redirected_error(authorize(&world, &request).await);
    assert_eq!(params["error"], "invalid_request");
}

#[tokio::test]
async fn a_code_challenge_that_is_not_43_to_128_base64url_characters_is_refused() {
    let world = support::world().await;
    let challenge = support::challenge();
    for malformed in [
        challenge[..42].to_owned(),
        "a".repeat(129),
        // Standard base64 rather than base64url, and a padded one: `+`, `/`, `=` are not allowed.
        STANDARD.encode([0xfb; 33]),
        format!("{}=", &challenge[..42]),
    ] {
        let mut request = world.authorization_request();
        request.code_challenge = Some(malformed.clone());
        let params = redirected_error(authorize(&world, &request).await);
        assert_eq!(params["error"], "invalid_request", "{malformed:?}");
        assert_eq!(params["state"], "xyz", "{malformed:?}");
    }
    // The edges themselves are well formed.
    for edge in ["a".repeat(43), "a".repeat(128), challenge] {
        let mut request = world.authorization_request();
        request.code_challenge = Some(edge.clone());
        assert!(authorize(&world, &request).await.is_ok(), "{edge:?}");
    }
}

#[tokio::test]
async fn public_client_without_pkce_is_refused() {
    let world = support::world().await;
    let app = public_app(&world).await;
    let mut request = without_pkce(world.authorization_request());
    request.client_id = Some(app.client_id.to_string());
    let params = redirected_error(authorize(&world, &request).await);
    assert_eq!(params["error"], "invalid_request");
}

#[tokio::test]
async fn confidential_client_may_skip_pkce_by_default() {
    let world = support::world().await;
    assert_eq!(world.server.config().pkce, PkcePolicy::PublicClients);
    let request = without_pkce(world.authorization_request());
    let code = code_of(authorize(&world, &request).await.unwrap());
    let tokens = world
        .server
        .token(exchange(code, Some(REDIRECT), None), &world.client())
        .await;
    assert!(tokens.is_ok());
}

#[tokio::test]
async fn confidential_client_without_pkce_is_refused_when_pkce_is_required_of_all_clients() {
    let mut config = Config::new(ISSUER);
    config.pkce = PkcePolicy::AllClients;
    let world = support::world_with(config).await;
    let request = without_pkce(world.authorization_request());
    let params = redirected_error(authorize(&world, &request).await);
    assert_eq!(params["error"], "invalid_request");
    // With PKCE the same client is fine.
    assert!(
        authorize(&world, &world.authorization_request())
            .await
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint: success, consent and denial
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn successful_authorization_redirects_with_code_state_and_issuer() {
    let world = support::world().await;
    let response = authorize(&world, &world.authorization_request())
        .await
        .unwrap();
    let AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    let params = redirect_params(location.expose());
    assert!(!params["code"].is_empty());
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], ISSUER);
}

#[tokio::test]
async fn out_of_band_redirect_uri_shows_the_code_to_the_user() {
    let world = support::world().await;
    let mut request = world.authorization_request();
    request.redirect_uri = Some(OUT_OF_BAND.into());
    let response = authorize(&world, &request).await.unwrap();
    let AuthorizationResponse::ShowCode(code) = response else {
        panic!("expected the code to be shown, not redirected");
    };
    let tokens = world
        .server
        .token(
            exchange(code, Some(OUT_OF_BAND), Some(VERIFIER)),
            &world.client(),
        )
        .await;
    assert!(tokens.is_ok());
}

#[tokio::test]
async fn consent_is_recorded_per_user_and_app() {
    let world = support::world().await;
    let other = other_app(&world).await;
    assert!(
        !world
            .server
            .has_consent(&world.jane, &world.app.client_id)
            .await
            .unwrap()
    );
    authorize(&world, &world.authorization_request())
        .await
        .unwrap();
    assert!(
        world
            .server
            .has_consent(&world.jane, &world.app.client_id)
            .await
            .unwrap()
    );
    assert!(
        !world
            .server
            .has_consent(&world.john, &world.app.client_id)
            .await
            .unwrap()
    );
    assert!(
        !world
            .server
            .has_consent(&world.jane, other.client_id())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_remembered_consent_stands_in_for_the_page_only_for_a_confidential_client() {
    let world = support::world().await;
    let confidential = world.server.app(&world.app.client_id).await.unwrap();
    let public = public_app(&world).await;
    for app in [&confidential, &public] {
        assert!(
            !world
                .server
                .consent_remembered(&world.jane, app)
                .await
                .unwrap()
        );
    }
    authorize(&world, &world.authorization_request())
        .await
        .unwrap();
    let public_request = AuthorizationRequest {
        client_id: Some(public.client_id.to_string()),
        ..world.authorization_request()
    };
    authorize(&world, &public_request).await.unwrap();
    // Both consents are recorded; only the confidential client's skips the page.
    for app in [&confidential, &public] {
        assert!(
            world
                .server
                .has_consent(&world.jane, &app.client_id)
                .await
                .unwrap()
        );
    }
    assert!(
        world
            .server
            .consent_remembered(&world.jane, &confidential)
            .await
            .unwrap()
    );
    assert!(
        !world
            .server
            .consent_remembered(&world.jane, &public)
            .await
            .unwrap()
    );
    assert!(
        !world
            .server
            .consent_remembered(&world.john, &confidential)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn user_denial_redirects_access_denied_with_state_and_issuer() {
    let world = support::world().await;
    let denial = world
        .server
        .deny_authorization(&world.authorization_request())
        .await
        .unwrap();
    assert_eq!(denial.error, ErrorCode::AccessDenied);
    let params = redirect_params(&denial.location().unwrap());
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], ISSUER);
    assert!(!params.contains_key("code"));
    assert!(
        !world
            .server
            .has_consent(&world.jane, &world.app.client_id)
            .await
            .unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Code exchange: client authentication
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn exchange_returns_bearer_tokens_with_the_default_lifetime() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.jane).await;
    assert_eq!(tokens.token_type, "bearer");
    assert_eq!(tokens.expires_in, 5400);
    assert_eq!(tokens.created_at, world.server.now().timestamp());
    assert!(tokens.refresh_token.is_some());
    assert!(world.allowed(&tokens, &read_tower()).await);
}

#[tokio::test]
async fn client_secret_basic_credentials_are_form_urlencoded() {
    // RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded before Basic.
    const ID: &str = "sync:acme+1";
    const SECRET: &str = "s3cr3t: with/+&=%é";
    let world = support::world().await;
    let app = App {
        client_id: ClientId::new(ID),
        secret_digest: Some(SecretDigest::of(SECRET)),
        ..world.app.clone()
    };
    world.server.store().save_app(app).await.unwrap();
    let encode = |value: &str| -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    };
    let (id, secret) = (encode(ID), encode(SECRET));
    let header = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));

    let credentials = ClientAuthentication::from_request(Some(&header), None, None).unwrap();
    assert_eq!(
        credentials,
        ClientAuthentication::Basic {
            client_id: ClientId::new(ID),
            secret: Secret::new(SECRET),
        }
    );
    let mut request = world.authorization_request();
    request.client_id = Some(ID.into());
    let code = code_of(authorize(&world, &request).await.unwrap());
    let tokens = world
        .server
        .token(world.exchange_request(code), &credentials)
        .await;
    assert!(tokens.is_ok());
}

#[tokio::test]
async fn client_secret_post_authenticates_the_client() {
    let world = support::world().await;
    let code = world.code_for(&world.jane).await;
    let credentials = ClientAuthentication::from_request(
        None,
        Some(world.app.client_id.as_str()),
        Some(world.secret.expose()),
    )
    .unwrap();
    assert!(matches!(credentials, ClientAuthentication::Post { .. }));
    let tokens = world
        .server
        .token(world.exchange_request(code), &credentials)
        .await;
    assert!(tokens.is_ok());
}

#[tokio::test]
async fn using_basic_and_post_at_once_is_an_invalid_request() {
    let world = support::world().await;
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", world.app.client_id, world.secret.expose()))
    );
    let both = ClientAuthentication::from_request(
        Some(&basic),
        Some(world.app.client_id.as_str()),
        Some(world.secret.expose()),
    );
    assert_eq!(error_code(both), ErrorCode::InvalidRequest);
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client() {
    let world = support::world().await;
    let code = world.code_for(&world.jane).await;
    let wrong = ClientAuthentication::Basic {
        client_id: world.app.client_id.clone(),
        secret: Secret::new("not-the-secret"),
    };
    let result = world
        .server
        .token(world.exchange_request(code.clone()), &wrong)
        .await;
    assert_eq!(error_code(result), ErrorCode::InvalidClient);
    // An unauthenticated attempt does not spend the code.
    let tokens = world
        .server
        .token(world.exchange_request(code), &world.client())
        .await;
    assert!(tokens.is_ok());
}

#[tokio::test]
async fn confidential_client_without_its_secret_is_invalid_client() {
    let world = support::world().await;
    let code = world.code_for(&world.jane).await;
    let no_secret = ClientAuthentication::Public {
        client_id: world.app.client_id.clone(),
    };
    let result = world
        .server
        .token(world.exchange_request(code), &no_secret)
        .await;
    assert_eq!(error_code(result), ErrorCode::InvalidClient);
}

#[tokio::test]
async fn public_client_exchanges_its_code_with_pkce_alone() {
    let world = support::world().await;
    let app = public_app(&world).await;
    let mut request = world.authorization_request();
    request.client_id = Some(app.client_id.to_string());
    let code = code_of(authorize(&world, &request).await.unwrap());
    let public =
        ClientAuthentication::from_request(None, Some(app.client_id.as_str()), None).unwrap();
    let tokens = world
        .server
        .token(world.exchange_request(code), &public)
        .await;
    assert!(tokens.is_ok());
}

// ---------------------------------------------------------------------------------------------
// Code exchange: the code's bindings
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn redirect_uri_at_exchange_must_equal_the_authorized_one() {
    let world = support::world().await;
    // OOB is registered for the app, but the code was authorized for REDIRECT.
    for redirect_uri in [
        Some(OUT_OF_BAND),
        Some("https://app.example.com/callback/"),
        None,
    ] {
        let code = world.code_for(&world.jane).await;
        let result = world
            .server
            .token(
                exchange(code, redirect_uri, Some(VERIFIER)),
                &world.client(),
            )
            .await;
        assert_eq!(
            error_code(result),
            ErrorCode::InvalidGrant,
            "{redirect_uri:?}"
        );
    }
}

#[tokio::test]
async fn missing_code_verifier_fails() {
    let world = support::world().await;
    let code = world.code_for(&world.jane).await;
    let result = world
        .server
        .token(exchange(code, Some(REDIRECT), None), &world.client())
        .await;
    assert_eq!(error_code(result), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn wrong_code_verifier_fails() {
    let world = support::world().await;
    let code = world.code_for(&world.jane).await;
    let other_verifier = "a-perfectly-well-formed-verifier-that-is-not-the-right-one";
    let result = world
        .server
        .token(
            exchange(code, Some(REDIRECT), Some(other_verifier)),
            &world.client(),
        )
        .await;
    assert_eq!(error_code(result), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn verifier_for_a_code_issued_without_a_challenge_is_refused_as_a_downgrade() {
    let world = support::world().await;
    let request = without_pkce(world.authorization_request());
    let code = code_of(authorize(&world, &request).await.unwrap());
    let result = world
        .server
        .token(
            exchange(code, Some(REDIRECT), Some(VERIFIER)),
            &world.client(),
        )
        .await;
    assert_eq!(error_code(result), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn code_expires_after_ten_minutes() {
    let world = support::world().await;
    let early = world.code_for(&world.jane).await;
    let late = world.code_for(&world.jane).await;
    world
        .clock
        .advance(TimeDelta::minutes(10) - TimeDelta::seconds(1));
    let in_time = world
        .server
        .token(world.exchange_request(early), &world.client())
        .await;
    assert!(in_time.is_ok());
    world.clock.advance(TimeDelta::seconds(1));
    let expired = world
        .server
        .token(world.exchange_request(late), &world.client())
        .await;
    assert_eq!(error_code(expired), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn code_is_bound_to_the_client_it_was_issued_to() {
    let world = support::world().await;
    let other = other_app(&world).await;
    let code = world.code_for(&world.jane).await;
    let result = world
        .server
        .token(world.exchange_request(code), &other)
        .await;
    assert_eq!(error_code(result), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn unknown_code_is_invalid_grant() {
    let world = support::world().await;
    let result = world
        .server
        .token(
            world.exchange_request(Secret::new("never-issued")),
            &world.client(),
        )
        .await;
    assert_eq!(error_code(result), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn reused_code_is_refused_and_revokes_the_tokens_it_issued() {
    let world = support::world().await;
    let code = world.code_for(&world.jane).await;
    let tokens = world
        .server
        .token(world.exchange_request(code.clone()), &world.client())
        .await
        .unwrap();
    assert!(world.allowed(&tokens, &read_tower()).await);

    let again = world
        .server
        .token(world.exchange_request(code), &world.client())
        .await;
    assert_eq!(error_code(again), ErrorCode::InvalidGrant);

    let decision = world
        .server
        .decide(tokens.access_token.expose(), &read_tower())
        .await
        .unwrap();
    assert_eq!(decision.deny_reason(), Some(&DenyReason::Revoked));
    let refresh = TokenRequest::RefreshToken {
        refresh_token: tokens.refresh_token.clone().unwrap(),
        scope: None,
        resource: None,
    };
    let refreshed = world.server.token(refresh, &world.client()).await;
    assert_eq!(error_code(refreshed), ErrorCode::InvalidGrant);
    assert_eq!(
        revocations(&world),
        [(grant_of(&world, &tokens), RevocationReason::CodeReused)]
    );
}

#[tokio::test]
async fn reused_code_leaves_other_grants_of_the_same_user_alone() {
    let world = support::world().await;
    let untouched = world.tokens_for(&world.jane).await;
    let code = world.code_for(&world.jane).await;
    let exchange = world.exchange_request(code);
    world
        .server
        .token(exchange.clone(), &world.client())
        .await
        .unwrap();
    assert!(world.server.token(exchange, &world.client()).await.is_err());
    assert!(world.allowed(&untouched, &read_tower()).await);
}

#[tokio::test]
async fn a_code_presented_by_another_client_is_neither_redeemed_nor_spent() {
    // Otherwise anyone holding a stolen code and any client id could destroy it.
    let world = support::world().await;
    let other = other_app(&world).await;
    let code = world.code_for(&world.jane).await;
    let stolen = world
        .server
        .token(world.exchange_request(code.clone()), &other)
        .await;
    assert_eq!(error_code(stolen), ErrorCode::InvalidGrant);
    let tokens = world
        .server
        .token(world.exchange_request(code), &world.client())
        .await
        .expect("the code's own client still redeems it");
    assert!(world.allowed(&tokens, &read_tower()).await);
}

#[tokio::test]
async fn a_spent_code_presented_by_another_client_revokes_nothing() {
    // Not a use of the code: a thief with a spent code cannot sign the user out with it.
    let world = support::world().await;
    let other = other_app(&world).await;
    let code = world.code_for(&world.jane).await;
    let tokens = world
        .server
        .token(world.exchange_request(code.clone()), &world.client())
        .await
        .unwrap();
    let again = world
        .server
        .token(world.exchange_request(code), &other)
        .await;
    assert_eq!(error_code(again), ErrorCode::InvalidGrant);
    assert!(world.allowed(&tokens, &read_tower()).await);
}

#[tokio::test]
async fn a_code_presented_by_another_client_is_audited_against_the_codes_app() {
    let world = support::world().await;
    let other = other_app(&world).await;
    let code = world.code_for(&world.jane).await;
    let refused = world
        .server
        .token(world.exchange_request(code), &other)
        .await;
    assert!(refused.is_err());
    let events: Vec<_> = world
        .audit
        .events()
        .into_iter()
        .filter(|event| {
            matches!(
                &event.action,
                AuditAction::TokensRefused {
                    reason: RefusalReason::CodeOfAnotherClient,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].app, world.app.client_id);
    assert_eq!(events[0].actor, AuditActor::App(other.client_id().clone()));
}

#[tokio::test]
async fn a_wrong_verifier_from_the_codes_own_client_still_spends_it() {
    let world = support::world().await;
    let code = world.code_for(&world.jane).await;
    let mut wrong = world.exchange_request(code.clone());
    if let TokenRequest::AuthorizationCode { code_verifier, .. } = &mut wrong {
        *code_verifier = Some(Secret::new("x".repeat(43)));
    }
    assert!(world.server.token(wrong, &world.client()).await.is_err());
    let right = world
        .server
        .token(world.exchange_request(code), &world.client())
        .await;
    assert_eq!(error_code(right), ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn a_code_for_a_user_deactivated_since_issues_no_tokens() {
    let world = support::world().await;
    let code = world.code_for(&world.john).await;
    world.server.deactivate_user(&world.john).await.unwrap();
    let refused = world
        .server
        .token(world.exchange_request(code), &world.client())
        .await;
    assert_eq!(error_code(refused), ErrorCode::InvalidGrant);
    let audited = world.audit.events().into_iter().any(|event| {
        matches!(
            event.action,
            AuditAction::TokensRefused {
                reason: RefusalReason::UserDeactivated,
                ..
            }
        ) && event.app == world.app.client_id
    });
    assert!(audited, "the refusal is audited");
}

// ---------------------------------------------------------------------------------------------
// Request parameters
// ---------------------------------------------------------------------------------------------

#[test]
fn request_parameters_keep_a_names_first_value_and_list_each_name_once_in_order() {
    let mut params: Params = [
        ("scope", "rfis:read"),
        ("client_id", "fieldsync"),
        ("scope", "rfis:admin"),
        ("state", ""),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        params.iter().collect::<Vec<_>>(),
        [
            ("client_id", "fieldsync"),
            ("scope", "rfis:read"),
            ("state", "")
        ]
    );
    // What an endpoint takes out (the token at revocation and introspection) is gone after.
    assert_eq!(params.remove("scope").as_deref(), Some("rfis:read"));
    assert_eq!(params.remove("scope"), None);
    assert!(!params.contains("scope"));
    assert_eq!(
        params.iter().collect::<Vec<_>>(),
        [("client_id", "fieldsync"), ("state", "")]
    );
    assert_eq!(Params::new().iter().count(), 0);
}

#[test]
fn logged_request_parameters_show_every_name_but_only_the_values_that_are_not_secret() {
    let params: Params = [
        ("grant_type", "authorization_code"),
        ("client_id", "fieldsync"),
        ("redirect_uri", REDIRECT),
        ("code", "the-code-itself"),
        ("code_verifier", VERIFIER),
        ("client_secret", "hunter2"),
    ]
    .into_iter()
    .collect();
    let shown = format!("{params:?}");
    for (name, value) in [
        ("grant_type", "authorization_code"),
        ("client_id", "fieldsync"),
        ("redirect_uri", REDIRECT),
    ] {
        assert!(shown.contains(&format!("{name:?}: {value:?}")), "{shown}");
    }
    for (name, secret) in [
        ("code", "the-code-itself"),
        ("code_verifier", VERIFIER),
        ("client_secret", "hunter2"),
    ] {
        assert!(shown.contains(&format!("{name:?}: <redacted>")), "{shown}");
        assert!(!shown.contains(secret), "{shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// Error codes on the wire
// ---------------------------------------------------------------------------------------------

#[test]
fn every_error_code_has_its_rfc_name_and_the_http_status_that_goes_with_it() {
    // RFC 6749 §5.2: 400, or 401 for a failed client authentication; RFC 6750 §3.1: 401 for a
    // bad token, 403 for too little scope; 500 and 503 for the server's own failures.
    let table = [
        (ErrorCode::InvalidRequest, "invalid_request", 400),
        (ErrorCode::InvalidClient, "invalid_client", 401),
        (ErrorCode::InvalidGrant, "invalid_grant", 400),
        (ErrorCode::UnauthorizedClient, "unauthorized_client", 400),
        (
            ErrorCode::UnsupportedGrantType,
            "unsupported_grant_type",
            400,
        ),
        (
            ErrorCode::UnsupportedResponseType,
            "unsupported_response_type",
            400,
        ),
        (ErrorCode::InvalidScope, "invalid_scope", 400),
        (ErrorCode::InvalidTarget, "invalid_target", 400),
        (ErrorCode::AccessDenied, "access_denied", 403),
        (ErrorCode::ServerError, "server_error", 500),
        (
            ErrorCode::TemporarilyUnavailable,
            "temporarily_unavailable",
            503,
        ),
        (ErrorCode::InvalidToken, "invalid_token", 401),
        (ErrorCode::InsufficientScope, "insufficient_scope", 403),
        (
            ErrorCode::UnsupportedTokenType,
            "unsupported_token_type",
            400,
        ),
        (ErrorCode::InvalidDpopProof, "invalid_dpop_proof", 400),
        (ErrorCode::UseDpopNonce, "use_dpop_nonce", 400),
    ];
    for (code, name, status) in table {
        assert_eq!(code.as_str(), name);
        assert_eq!(code.to_string(), name, "Display writes the wire name");
        assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(name));
        assert_eq!(code.http_status(), status, "{name}");
    }
}

#[test]
fn a_store_failure_is_described_as_temporary_and_tells_nothing_of_the_store() {
    let failure = TokenError::Store(StoreError::Backend(
        "connection to 10.0.0.7:5432 refused".into(),
    ));
    assert_eq!(failure.code(), ErrorCode::TemporarilyUnavailable);
    assert_eq!(
        failure.description(),
        "the server is temporarily unavailable; try again shortly"
    );
    // Every other error is described as it displays: what was wrong, never what was sent.
    let refused = TokenError::InvalidGrant("authorization code expired");
    assert_eq!(
        refused.description(),
        "invalid grant: authorization code expired"
    );
    assert_eq!(refused.description(), refused.to_string());
}
