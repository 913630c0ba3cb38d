//! For the host's resource routes: an extractor that reads the bearer token and the company
//! header, and answers each access with the decision, as 401 or 403 per RFC 6750.

use super::HttpOptions;
use crate::Decision;
use crate::access::{DenyKind, DenyReason};
use crate::model::{ClientId, CompanyId, Level, ProjectId, Requirement, Tool, UserId};
use crate::server::AccessDecision;
use crate::server::AuthorizationServer;
use crate::store::{Directory, Store, StoreError};
use crate::token::SubjectKind;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What resource routes share: the server that decides, and the company header's name.
/// Put one in the host's router state (with [`FromRef`]) to use the [`ResourceRequest`] extractor.
///
/// It holds the server behind a trait object, so neither it nor [`ResourceRequest`] names the store or
/// directory type: handlers stay the same whichever store a deployment picks.
#[derive(Clone)]
pub struct ResourceGuard {
    decider: Arc<dyn Decider>,
    company_header: HeaderName,
    /// The resource server's identifier (RFC 8707), which tokens must name as their `aud`;
    /// `None`: the server's default audience.
    resource: Option<Arc<str>>,
}

impl std::fmt::Debug for ResourceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceGuard")
            .field("company_header", &self.company_header)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl ResourceGuard {
    /// A guard deciding with `server`, reading the company from `options.company_header`.
    pub fn new<S: Store, D: Directory>(
        server: AuthorizationServer<S, D>,
        options: &HttpOptions,
    ) -> Self {
        Self {
            decider: Arc::new(server),
            company_header: options.company_header.clone(),
            resource: None,
        }
    }

    /// The guard of the resource server `resource` (RFC 8707): it accepts only tokens issued
    /// for it (`aud` is `resource`, one of the server's `Config::resources`), not those for
    /// the default audience or another resource server.
    pub fn serving(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(Arc::from(resource.into()));
        self
    }

    /// The resource server's identifier, if it was given one with [`serving`](Self::serving).
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }
}

type Checked<'a> = Pin<Box<dyn Future<Output = Result<AccessDecision, StoreError>> + Send + 'a>>;

/// A server as the extractor sees it: something that decides. Boxing the future (one small
/// allocation per decision) is what lets the guard forget the store's type.
trait Decider: Send + Sync {
    fn decide<'a>(
        &'a self,
        resource: Option<&'a str>,
        token: &'a str,
        requirement: &'a Requirement,
    ) -> Checked<'a>;
}

impl<S: Store, D: Directory> Decider for AuthorizationServer<S, D> {
    fn decide<'a>(
        &'a self,
        resource: Option<&'a str>,
        token: &'a str,
        requirement: &'a Requirement,
    ) -> Checked<'a> {
        match resource {
            Some(resource) => Box::pin(self.decide_for(resource, token, requirement)),
            None => Box::pin(AuthorizationServer::decide(self, token, requirement)),
        }
    }
}

/// Why a resource request was turned away.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceRejection {
    /// No bearer token: 401 with a bare `WWW-Authenticate: Bearer` (RFC 6750 §3.1).
    MissingToken,
    /// The `Authorization` header is not one Bearer credential: 400 `invalid_request`.
    MalformedAuthorization,
    /// The token is invalid, expired or revoked: 401 `invalid_token`.
    InvalidToken(String),
    /// The token may not do this: 403 `insufficient_scope`, with the reason.
    Forbidden(DenyReason),
    /// No company header: 400 `invalid_request`.
    MissingCompany(String),
    /// The store failed: 503.
    Unavailable,
}

fn bearer_challenge(error: Option<&str>, description: Option<&str>) -> HeaderValue {
    let mut challenge = String::from("Bearer realm=\"api\"");
    if let Some(error) = error {
        challenge.push_str(&format!(", error=\"{error}\""));
    }
    if let Some(description) = description {
        // Quoted-string: keep it to printable ASCII without quotes or backslashes.
        let safe: String = description
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
            .collect();
        challenge.push_str(&format!(", error_description=\"{safe}\""));
    }
    HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer realm=\"api\""))
}

impl IntoResponse for ResourceRejection {
    fn into_response(self) -> Response {
        let (status, error, description, reason) = match &self {
            ResourceRejection::MissingToken => (
                StatusCode::UNAUTHORIZED,
                None,
                "a bearer token is required".to_owned(),
                None,
            ),
            ResourceRejection::MalformedAuthorization => (
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                "send exactly one Authorization: Bearer header".to_owned(),
                None,
            ),
            ResourceRejection::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                Some("invalid_token"),
                why.clone(),
                None,
            ),
            ResourceRejection::Forbidden(reason) => (
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                reason.to_string(),
                Some(reason),
            ),
            ResourceRejection::MissingCompany(header) => (
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                format!("the {header} header must name the company this request is for"),
                None,
            ),
            ResourceRejection::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("temporarily_unavailable"),
                "try again later".to_owned(),
                None,
            ),
        };
        let body = json!({ "error": error, "error_description": description, "reason": reason });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            super::render::retry_later(&mut response);
        }
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            let challenge = bearer_challenge(error, error.map(|_| description.as_str()));
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// The bearer token of a request (RFC 6750 §2.1).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, ResourceRejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ResourceRejection::MissingToken);
    };
    if values.next().is_some() {
        return Err(ResourceRejection::MalformedAuthorization);
    }
    let value = value
        .to_str()
        .map_err(|_| ResourceRejection::MalformedAuthorization)?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ResourceRejection::MalformedAuthorization),
    }
}

/// A resource request: its bearer token and the company it is for. Call
/// [`ResourceRequest::require`] with what the route needs.
///
/// An extractor for the host's own API routes; the router state only has to give a
/// [`ResourceGuard`] (with [`FromRef`]), and no handler names the store type:
///
/// ```
/// use appgrant::http::{HttpOptions, ResourceGuard, ResourceRejection, ResourceRequest};
/// use appgrant::model::{Level, ProjectId};
/// use appgrant::{AuthorizationServer, Config, MemoryStore};
/// use axum::extract::Path;
/// use axum::http::{Request, StatusCode, header};
/// use tower::ServiceExt;
///
/// async fn list_rfis(
///     Path(project): Path<String>,
///     access: ResourceRequest,
/// ) -> Result<String, ResourceRejection> {
///     let allowed = access
///         .require(Some(&ProjectId::new(project.as_str())), "rfis", Level::ReadOnly)
///         .await?;
///     Ok(format!("the RFIs of {project} in {}, for {}", access.company(), allowed.user))
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com"))
///     .build()?;
/// let api = axum::Router::new()
///     .route("/api/projects/{project}/rfis", axum::routing::get(list_rfis))
///     .with_state(ResourceGuard::new(server, &HttpOptions::default()));
///
/// // No token: 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3.1).
/// let request = Request::get("/api/projects/tower/rfis")
///     .header("company-id", "acme")
///     .body(axum::body::Body::empty())?;
/// let response = api.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct ResourceRequest {
    guard: ResourceGuard,
    token: String,
    company: CompanyId,
}

impl<St> FromRequestParts<St> for ResourceRequest
where
    St: Send + Sync,
    ResourceGuard: FromRef<St>,
{
    type Rejection = ResourceRejection;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let guard = ResourceGuard::from_ref(state);
        let token = bearer_token(&parts.headers)?.to_owned();
        let header_name = guard.company_header.clone();
        let company = parts
            .headers
            .get(&header_name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ResourceRejection::MissingCompany(header_name.to_string()))?;
        Ok(Self {
            company: CompanyId::new(company),
            guard,
            token,
        })
    }
}

/// An allowed access, and who is acting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The effective level the token has for the tool there.
    pub level: Level,
    /// The user acting: the person who authorized the app, or the app's service account.
    pub user: UserId,
    /// The app.
    pub client_id: ClientId,
    /// Whether the app acts as a person or as its service account.
    pub grant_kind: SubjectKind,
}

impl ResourceRequest {
    /// The company the request is for.
    pub fn company(&self) -> &CompanyId {
        &self.company
    }

    /// Allows the request if the token may use `tool` at `level` in this company (on `project`,
    /// if given); otherwise the rejection to answer with.
    pub async fn require(
        &self,
        project: Option<&ProjectId>,
        tool: impl Into<Tool>,
        level: Level,
    ) -> Result<Allowed, ResourceRejection> {
        let requirement = Requirement {
            company: self.company.clone(),
            project: project.cloned(),
            tool: tool.into(),
            level,
        };
        let check = self
            .guard
            .decider
            .decide(self.guard.resource.as_deref(), &self.token, &requirement)
            .await
            .map_err(|_| ResourceRejection::Unavailable)?;
        match (check.decision, check.claims, check.acting_user) {
            (Decision::Allow { level }, Some(claims), Some(user)) => Ok(Allowed {
                level,
                user,
                client_id: claims.client_id,
                grant_kind: claims.grant_kind,
            }),
            (Decision::Deny(reason), _, _) => Err(match reason.kind() {
                DenyKind::InvalidToken => ResourceRejection::InvalidToken(reason.to_string()),
                DenyKind::Forbidden => ResourceRejection::Forbidden(reason),
            }),
            // decide allows only a validated token with an acting member.
            (Decision::Allow { .. }, _, _) => Err(ResourceRejection::Unavailable),
        }
    }
}
