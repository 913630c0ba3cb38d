//! The authorization endpoint as pure functions: validate the request, issue a code for the
//! signed-in user, or answer with an error per RFC 6749 §4.1.2.1 and RFC 9207.

use super::error::ErrorCode;
use super::pkce;
use super::request::Params;
use super::resource::{ResourceError, check_resource};
use crate::config::{Config, PkcePolicy};
use crate::model::{
    App, ClientId, ClientType, GrantId, OUT_OF_BAND, ScopeError, Scopes, SecretDigest, UserId,
};
use crate::token::Secret;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use url::Url;

/// The parameters of an authorization request, as received.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri` (required: there is no default).
    pub redirect_uri: Option<String>,
    /// `response_type`; only `code` is supported.
    pub response_type: Option<String>,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// `scope`: `tool:level` scopes capping what the token may do (see [`Scopes`]); without
    /// it, the token may do what the user may, within the app's ceiling.
    pub scope: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`; only `S256`.
    pub code_challenge_method: Option<String>,
    /// `resource` (RFC 8707): the resource server the tokens are for; without it, the default
    /// audience (or whichever known resource the token request names).
    #[serde(default)]
    pub resource: Option<String>,
}

impl AuthorizationRequest {
    /// The request's parameters out of a query string or a form body (others are ignored).
    pub fn from_params(params: &Params) -> Self {
        let field = |name: &str| params.get(name).cloned();
        Self {
            client_id: field("client_id"),
            redirect_uri: field("redirect_uri"),
            response_type: field("response_type"),
            state: field("state"),
            scope: field("scope"),
            code_challenge: field("code_challenge"),
            code_challenge_method: field("code_challenge_method"),
            resource: field("resource"),
        }
    }
}

/// A request that passed validation: safe to show consent for and to issue a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidAuthorization {
    /// The app.
    pub client_id: ClientId,
    /// The exact registered redirect URI.
    pub redirect_uri: String,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// The S256 challenge, if any.
    pub code_challenge: Option<String>,
    /// The scopes the code will grant (those asked for, capped by the app's ceiling), if any
    /// were asked for.
    #[serde(default)]
    pub scope: Option<Scopes>,
    /// The resource server the code's tokens are for, if the request named one.
    #[serde(default)]
    pub resource: Option<String>,
}

/// Why an authorization request failed where the user must be shown an error page, because
/// redirecting would send them to an unverified place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorPage {
    /// No `client_id`.
    #[error("the request names no client")]
    MissingClient,
    /// `client_id` is not registered.
    #[error("the client is not registered")]
    UnknownClient,
    /// No `redirect_uri`.
    #[error("the request has no redirect_uri")]
    MissingRedirectUri,
    /// `redirect_uri` is not registered for this client, exactly.
    #[error("the redirect_uri is not registered for this client")]
    UnregisteredRedirectUri,
    /// `request_uri` is not one this server issued to this client, or was altered (RFC 9126).
    #[error("the request_uri is not valid for this client; the app must push the request again")]
    InvalidRequestUri,
    /// `request_uri` has expired (RFC 9126 §4).
    #[error("the request_uri has expired; the app must push the request again")]
    ExpiredRequestUri,
    /// `request_uri` was used before: each is good for one authorization (RFC 9126 §4).
    #[error("the request_uri was already used; the app must push the request again")]
    UsedRequestUri,
}

/// An error to send back to the client's redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The verified redirect URI.
    pub redirect_uri: String,
    /// The error code.
    pub error: ErrorCode,
    /// A description for the developer.
    pub description: &'static str,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// The issuer (RFC 9207).
    pub issuer: String,
}

impl ErrorRedirect {
    /// Where to send the browser, or `None` for the out-of-band URI (show it on a page).
    pub fn location(&self) -> Option<String> {
        let mut params = vec![
            ("error", self.error.as_str()),
            ("error_description", self.description),
        ];
        if let Some(state) = &self.state {
            params.push(("state", state));
        }
        params.push(("iss", &self.issuer));
        redirect_with(&self.redirect_uri, &params)
    }
}

/// Why an authorization request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// Show an error page; never redirect.
    #[error("{0}")]
    Page(ErrorPage),
    /// The server cannot answer now (its store failed): an honest page, 503, retry later.
    #[error("the server is temporarily unavailable; try again shortly")]
    Unavailable,
    /// Redirect the error to the client.
    #[error("{}: {}", .0.error, .0.description)]
    Redirect(ErrorRedirect),
}

/// Appends `params` to `redirect_uri`'s query, or `None` for the out-of-band URI.
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Option<String> {
    if redirect_uri == OUT_OF_BAND {
        return None;
    }
    // Registered URIs were parsed at registration, so this only fails for records edited by hand.
    let mut url = Url::parse(redirect_uri).ok()?;
    url.query_pairs_mut().extend_pairs(params);
    Some(url.into())
}

/// Whether a consent the user gave `app` before may stand in for the consent page. Only a
/// confidential client's: anyone who can receive a public client's redirect (another app on
/// the device claiming its scheme, say) could otherwise collect codes without the user seeing
/// a thing (RFC 8252 §8.6, RFC 9700 §4.2). Skipping the page never installs the app anywhere.
pub fn remembered_consent_applies(app: &App) -> bool {
    app.client_type == ClientType::Confidential
}

/// Validates an authorization request against the registered `app` (`None` if unknown).
pub fn validate_request(
    request: &AuthorizationRequest,
    app: Option<&App>,
    config: &Config,
) -> Result<ValidAuthorization, AuthorizeError> {
    let page = |error| Err(AuthorizeError::Page(error));
    if request.client_id.is_none() {
        return page(ErrorPage::MissingClient);
    }
    let Some(app) = app else {
        return page(ErrorPage::UnknownClient);
    };
    let Some(redirect_uri) = request.redirect_uri.clone() else {
        return page(ErrorPage::MissingRedirectUri);
    };
    if !app.has_redirect_uri(&redirect_uri) {
        return page(ErrorPage::UnregisteredRedirectUri);
    }
    let mut valid = ValidAuthorization {
        client_id: app.client_id.clone(),
        redirect_uri,
        state: request.state.clone(),
        code_challenge: request.code_challenge.clone(),
        scope: None,
        resource: None,
    };
    let fail = |error, description| {
        Err(AuthorizeError::Redirect(valid.error(
            error,
            description,
            config,
        )))
    };
    if request.response_type.as_deref() != Some("code") {
        return fail(
            ErrorCode::UnsupportedResponseType,
            "response_type must be code",
        );
    }
    if !app.flows.user_delegated() {
        return fail(
            ErrorCode::UnauthorizedClient,
            "this app does not use the authorization-code flow",
        );
    }
    if let Err(description) = check_pkce(request, app, config) {
        return fail(ErrorCode::InvalidRequest, description);
    }
    let scope = match granted_scope(request, app, config) {
        Ok(scope) => scope,
        Err(refused) => return fail(ErrorCode::InvalidScope, scope_description(&refused)),
    };
    let resource = request.resource.as_deref().filter(|text| !text.is_empty());
    if let Some(Err(refused)) = resource.map(|resource| check_resource(resource, config)) {
        return fail(ErrorCode::InvalidTarget, resource_description(refused));
    }
    valid.scope = scope;
    valid.resource = resource.map(str::to_owned);
    Ok(valid)
}

/// What the redirect says of a refused resource.
fn resource_description(refused: ResourceError) -> &'static str {
    match refused {
        ResourceError::Unknown => "resource is not one this server issues tokens for",
        _ => "resource must be an absolute URI without a fragment",
    }
}

/// The scopes a code for `request` grants: those asked for, capped by the app's ceiling.
fn granted_scope(
    request: &AuthorizationRequest,
    app: &App,
    config: &Config,
) -> Result<Option<Scopes>, ScopeError> {
    let Some(text) = request.scope.as_deref().filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let asked = Scopes::parse(text)?;
    asked
        .granted(&config.tools, |tool| app.delegated_reach(tool))
        .map(Some)
}

/// What the redirect says of a refused scope (the redirect carries no text the request wrote).
fn scope_description(refused: &ScopeError) -> &'static str {
    match refused {
        ScopeError::UnknownTool(_) => "scope names a tool this server does not know",
        ScopeError::OutOfReach(_) => "scope names a tool the app may not use",
        _ => "scope must be tool:read, tool:write or tool:admin, separated by spaces",
    }
}

fn check_pkce(
    request: &AuthorizationRequest,
    app: &App,
    config: &Config,
) -> Result<(), &'static str> {
    match (
        &request.code_challenge,
        request.code_challenge_method.as_deref(),
    ) {
        (None, Some(_)) => Err("code_challenge_method without code_challenge"),
        (None, None) => {
            let required =
                config.pkce == PkcePolicy::AllClients || app.client_type == ClientType::Public;
            if required {
                Err("PKCE is required: send code_challenge with code_challenge_method=S256")
            } else {
                Ok(())
            }
        }
        (Some(_), Some("plain")) => Err("code_challenge_method plain is not allowed; use S256"),
        (Some(_), method) if method != Some("S256") => Err("code_challenge_method must be S256"),
        (Some(challenge), _) if !pkce::is_well_formed(challenge) => {
            Err("code_challenge must be 43 to 128 base64url characters")
        }
        (Some(_), _) => Ok(()),
    }
}

/// A code waiting to be exchanged: bound to client, redirect URI, user and PKCE challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// Digest of the code.
    pub digest: SecretDigest,
    /// The app it was issued to.
    pub client_id: ClientId,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// The user who authorized.
    pub user: UserId,
    /// The PKCE challenge, if any.
    pub code_challenge: Option<String>,
    /// The grant the exchange will create; reuse of the code revokes it.
    pub grant: GrantId,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The scopes it grants, if any were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scopes>,
    /// The resource server its tokens are for, if the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// A successful authorization: where to send the browser, or a code to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationResponse {
    /// Redirect here (the code, `state` and `iss` are in the query).
    Redirect(Secret),
    /// Out-of-band: show this code to the user.
    ShowCode(Secret),
}

impl ValidAuthorization {
    pub(crate) fn error(
        &self,
        error: ErrorCode,
        description: &'static str,
        config: &Config,
    ) -> ErrorRedirect {
        ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description,
            state: self.state.clone(),
            issuer: config.issuer.clone(),
        }
    }

    /// The error to send when the user declines.
    pub fn denied(&self, config: &Config) -> ErrorRedirect {
        self.error(
            ErrorCode::AccessDenied,
            "the user denied the request",
            config,
        )
    }

    /// Issues a code for `user`, returning the response and the record to store.
    pub fn issue_code(
        &self,
        user: &UserId,
        config: &Config,
        now: DateTime<Utc>,
        rng: &mut dyn RngCore,
    ) -> (AuthorizationResponse, CodeRecord) {
        let code = Secret::generate(rng);
        let record = CodeRecord {
            digest: code.digest(),
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            user: user.clone(),
            code_challenge: self.code_challenge.clone(),
            grant: GrantId::generate(rng),
            issued_at: now,
            expires_at: now + config.code_ttl,
            scope: self.scope.clone(),
            resource: self.resource.clone(),
        };
        let mut params = vec![("code", code.expose())];
        if let Some(state) = &self.state {
            params.push(("state", state));
        }
        params.push(("iss", &config.issuer));
        let response = match redirect_with(&self.redirect_uri, &params) {
            Some(location) => AuthorizationResponse::Redirect(Secret::new(location)),
            None => AuthorizationResponse::ShowCode(code),
        };
        (response, record)
    }
}
