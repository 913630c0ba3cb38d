//! For the host's resource routes: an extractor that reads the bearer token and the company
//! header, and answers each access with the decision, as 401 or 403 per RFC 6750.

use super::HttpOptions;
use crate::Decision;
use crate::access::{DenyKind, DenyReason};
use crate::grant::TokenError;
use crate::model::{ClientId, CompanyId, Level, ProjectId, Requirement, Scopes, Tool, UserId};
use crate::server::AccessDecision;
use crate::server::AuthorizationServer;
use crate::store::{Directory, Store, StoreError};
use crate::token::{CLIENT_SIGNING_ALGORITHMS, DpopError, SubjectKind};
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
    /// What its protected-resource metadata says (RFC 9728), shared by its clones.
    metadata: Arc<ResourceMetadata>,
    /// The metadata URL its 401 challenges name (`resource_metadata`), once the host says it
    /// publishes the metadata ([`ResourceGuard::advertising_metadata`]).
    advertised_metadata: Option<Arc<str>>,
}

/// What a resource server's metadata document (RFC 9728) is made of.
#[derive(Debug)]
struct ResourceMetadata {
    /// The server's default audience, the identifier of a guard not given one.
    default_audience: String,
    /// The authorization server's issuer.
    issuer: String,
    /// `scopes_supported`: the scopes of the configured tools.
    scopes_supported: Vec<String>,
}

impl std::fmt::Debug for ResourceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceGuard")
            .field("company_header", &self.company_header)
            .field("resource", &self.resource)
            .field("advertised_metadata", &self.advertised_metadata)
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
            metadata: Arc::new(ResourceMetadata {
                default_audience: server.config().audience.clone(),
                issuer: server.config().issuer.clone(),
                scopes_supported: Scopes::supported(&server.config().tools),
            }),
            decider: Arc::new(server),
            company_header: options.company_header.clone(),
            resource: None,
            advertised_metadata: None,
        }
    }

    /// The guard of the resource server `resource` (RFC 8707): it accepts only tokens issued
    /// for it (`aud` is `resource`, one of the server's `Config::resources`), not those for
    /// the default audience or another resource server.
    pub fn serving(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(Arc::from(resource.into()));
        if self.advertised_metadata.is_some() {
            self = self.advertising_metadata();
        }
        self
    }

    /// Names the metadata URL in every 401 challenge (`resource_metadata`, RFC 9728 §5.1), so
    /// a client that meets the resource learns which authorization server to ask. Serve the
    /// document there too: merge [`metadata_router`](Self::metadata_router) into the host's
    /// router.
    pub fn advertising_metadata(mut self) -> Self {
        self.advertised_metadata = Some(Arc::from(self.metadata_url()));
        self
    }

    /// The resource server's identifier, if it was given one with [`serving`](Self::serving).
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// The identifier its tokens name as `aud`: the one it serves, or the default audience.
    pub fn identifier(&self) -> &str {
        self.resource
            .as_deref()
            .unwrap_or(&self.metadata.default_audience)
    }

    /// Where its protected-resource metadata is published (RFC 9728 §3.1): the
    /// `/.well-known/oauth-protected-resource` path inserted before the path of its
    /// identifier (`https://host/api` has `https://host/.well-known/oauth-protected-resource/api`).
    pub fn metadata_url(&self) -> String {
        let identifier = self.identifier();
        let (origin, path) = match identifier.find("://") {
            Some(scheme_end) => {
                let host_end = identifier[scheme_end + 3..]
                    .find('/')
                    .map_or(identifier.len(), |slash| scheme_end + 3 + slash);
                identifier.split_at(host_end)
            }
            None => (identifier, ""),
        };
        let path = path.trim_end_matches('/');
        format!("{origin}{METADATA_PATH}{path}")
    }

    /// Its protected-resource metadata document (RFC 9728 §2).
    pub fn metadata_document(&self) -> serde_json::Value {
        let mut document = json!({
            "resource": self.identifier(),
            "authorization_servers": [self.metadata.issuer],
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS,
            "dpop_bound_access_tokens_required": false,
        });
        if !self.metadata.scopes_supported.is_empty() {
            document["scopes_supported"] = json!(self.metadata.scopes_supported);
        }
        document
    }

    /// A router that serves [`metadata_document`](Self::metadata_document) at the path of
    /// [`metadata_url`](Self::metadata_url), for the host to merge into its own.
    pub fn metadata_router(&self) -> axum::Router {
        let url = self.metadata_url();
        // The URL always holds the well-known path, so the route is never empty.
        let path = url
            .find(METADATA_PATH)
            .map_or(METADATA_PATH, |start| &url[start..])
            .to_owned();
        let document = self.metadata_document();
        axum::Router::new().route(
            &path,
            axum::routing::get(move || {
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        )
    }

    fn challenge_metadata(&self) -> Option<Arc<str>> {
        self.advertised_metadata.clone()
    }

    /// The origin (`scheme://host[:port]`) its requests arrive at: its identifier's, so a
    /// DPoP proof's `htu` is checked against the URL the client called (behind a proxy too).
    fn public_origin(&self) -> &str {
        let identifier = self.identifier();
        match identifier.find("://") {
            Some(scheme_end) => {
                let host = &identifier[scheme_end + 3..];
                let end = host
                    .find('/')
                    .map_or(identifier.len(), |slash| scheme_end + 3 + slash);
                &identifier[..end]
            }
            None => identifier,
        }
    }

    /// Checks the request's DPoP proof for `token`: for this method and URL, with the
    /// token's hash, never seen before. Returns the key it proves.
    async fn accept_proof(&self, parts: &Parts, token: &str) -> Result<String, ResourceRejection> {
        let proof = dpop_header(&parts.headers)?;
        // The path the client called: under `Router::nest` the request's own URI has lost
        // the prefix, which `OriginalUri` keeps.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.path(), |original| original.0.path());
        let url = format!("{}{path}", self.public_origin());
        let method = parts.method.as_str();
        match self.decider.accept_proof(proof, token, method, &url).await {
            Ok(key) => Ok(key),
            Err(ProofRefusal::Invalid(DpopError::UseNonce)) => Err(
                ResourceRejection::UseDpopNonce(self.decider.dpop_nonce().unwrap_or_default()),
            ),
            Err(ProofRefusal::Invalid(problem)) => {
                Err(ResourceRejection::InvalidDpopProof(problem))
            }
            Err(ProofRefusal::Unavailable) => Err(ResourceRejection::Unavailable),
        }
    }
}

/// The header a server nonce is handed out in (RFC 9449 §8).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The well-known path of protected-resource metadata (RFC 9728 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

type Checked<'a> = Pin<Box<dyn Future<Output = Result<AccessDecision, StoreError>> + Send + 'a>>;

/// A server as the extractor sees it: something that decides. Boxing the future (one small
/// allocation per decision) is what lets the guard forget the store's type.
trait Decider: Send + Sync {
    fn decide<'a>(
        &'a self,
        resource: Option<&'a str>,
        token: &'a str,
        proven_key: Option<&'a str>,
        requirement: &'a Requirement,
    ) -> Checked<'a>;

    /// Checks a DPoP proof sent with `token` (recording its `jti` when the token is bound to
    /// its key); returns the key it proves.
    fn accept_proof<'a>(
        &'a self,
        proof: &'a str,
        token: &'a str,
        method: &'a str,
        url: &'a str,
    ) -> Proven<'a>;

    /// The nonce proofs must carry now, if the server requires nonces.
    fn dpop_nonce(&self) -> Option<String>;
}

type Proven<'a> = Pin<Box<dyn Future<Output = Result<String, ProofRefusal>> + Send + 'a>>;

/// Why a DPoP proof was not accepted: it does not hold, or the store could not say whether
/// it was used before.
enum ProofRefusal {
    Invalid(DpopError),
    Unavailable,
}

impl<S: Store, D: Directory> Decider for AuthorizationServer<S, D> {
    fn decide<'a>(
        &'a self,
        resource: Option<&'a str>,
        token: &'a str,
        proven_key: Option<&'a str>,
        requirement: &'a Requirement,
    ) -> Checked<'a> {
        Box::pin(self.decide_presented(resource, token, proven_key, requirement))
    }

    fn accept_proof<'a>(
        &'a self,
        proof: &'a str,
        token: &'a str,
        method: &'a str,
        url: &'a str,
    ) -> Proven<'a> {
        Box::pin(async move {
            match self.accept_dpop_proof(proof, token, method, url).await {
                Ok(key) => Ok(key),
                Err(TokenError::InvalidDpopProof(error)) => Err(ProofRefusal::Invalid(error)),
                Err(_) => Err(ProofRefusal::Unavailable),
            }
        })
    }

    fn dpop_nonce(&self) -> Option<String> {
        AuthorizationServer::dpop_nonce(self)
    }
}

/// Why a resource request was turned away.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceRejection {
    /// No bearer token: 401 with a bare `WWW-Authenticate: Bearer` (RFC 6750 §3.1).
    MissingToken {
        /// Where the resource server's metadata is (RFC 9728 §5.1), for the challenge.
        resource_metadata: Option<Arc<str>>,
    },
    /// The `Authorization` header is not one Bearer credential: 400 `invalid_request`.
    MalformedAuthorization,
    /// The token is invalid, expired or revoked: 401 `invalid_token`.
    InvalidToken {
        /// Why, for `error_description`.
        reason: String,
        /// Where the resource server's metadata is (RFC 9728 §5.1), for the challenge.
        resource_metadata: Option<Arc<str>>,
    },
    /// The DPoP proof sent with a DPoP-bound token is missing or does not hold: 401
    /// `invalid_dpop_proof` (RFC 9449 §7.1).
    InvalidDpopProof(DpopError),
    /// The DPoP proof lacks the server's current nonce: 401 `use_dpop_nonce`, with this fresh
    /// nonce in the `DPoP-Nonce` header (RFC 9449 §9).
    UseDpopNonce(String),
    /// The token may not do this: 403 `insufficient_scope`, with the reason.
    Forbidden(DenyReason),
    /// No company header: 400 `invalid_request`.
    MissingCompany(String),
    /// The store failed: 503.
    Unavailable,
    /// The same rejection, of a request that presented its token with the DPoP scheme: its
    /// error goes in a `DPoP` challenge (RFC 9449 §7.1) rather than a `Bearer` one.
    Dpop(Box<ResourceRejection>),
}

/// Printable ASCII without quotes or backslashes, for a quoted-string.
fn quotable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
}

fn bearer_challenge(
    error: Option<&str>,
    description: Option<&str>,
    resource_metadata: Option<&str>,
) -> HeaderValue {
    let mut challenge = String::from("Bearer realm=\"api\"");
    if let Some(url) = resource_metadata {
        challenge.push_str(&format!(", resource_metadata=\"{}\"", quotable(url)));
    }
    if let Some(error) = error {
        challenge.push_str(&format!(", error=\"{error}\""));
    }
    if let Some(description) = description {
        challenge.push_str(&format!(
            ", error_description=\"{}\"",
            quotable(description)
        ));
    }
    HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer realm=\"api\""))
}

impl IntoResponse for ResourceRejection {
    fn into_response(self) -> Response {
        match self {
            ResourceRejection::Dpop(rejection) => rejection.respond(Scheme::Dpop),
            ResourceRejection::InvalidDpopProof(_) | ResourceRejection::UseDpopNonce(_) => {
                self.respond(Scheme::Dpop)
            }
            rejection => rejection.respond(Scheme::Bearer),
        }
    }
}

impl ResourceRejection {
    /// The answer to a request that presented its token with `scheme`.
    fn respond(self, scheme: Scheme) -> Response {
        let resource_metadata = match &self {
            ResourceRejection::MissingToken { resource_metadata }
            | ResourceRejection::InvalidToken {
                resource_metadata, ..
            } => resource_metadata.clone(),
            _ => None,
        };
        let (status, error, description, reason) = match &self {
            ResourceRejection::MissingToken { .. } => (
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
            ResourceRejection::InvalidToken { reason, .. } => (
                StatusCode::UNAUTHORIZED,
                Some("invalid_token"),
                reason.clone(),
                None,
            ),
            ResourceRejection::InvalidDpopProof(problem) => (
                StatusCode::UNAUTHORIZED,
                Some("invalid_dpop_proof"),
                problem.to_string(),
                None,
            ),
            ResourceRejection::UseDpopNonce(_) => (
                StatusCode::UNAUTHORIZED,
                Some("use_dpop_nonce"),
                DpopError::UseNonce.to_string(),
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
            // Unwrapped by `into_response`; a doubly wrapped one answers as its inner one.
            ResourceRejection::Dpop(inner) => return (**inner).clone().respond(scheme),
        };
        let body = json!({ "error": error, "error_description": description, "reason": reason });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            super::render::retry_later(&mut response);
        }
        if let ResourceRejection::UseDpopNonce(nonce) = &self {
            if let Ok(value) = HeaderValue::from_str(nonce) {
                response.headers_mut().insert(DPOP_NONCE, value);
            }
        }
        if !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return response;
        }
        let error = error.map(|error| (error, description.as_str()));
        let headers = response.headers_mut();
        match scheme {
            Scheme::Bearer => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    bearer_challenge(
                        error.map(|(code, _)| code),
                        error.map(|(_, text)| text),
                        resource_metadata.as_deref(),
                    ),
                );
                // Tokens may be DPoP-bound too (RFC 9449 §7.1): say so, with the algorithms.
                if status == StatusCode::UNAUTHORIZED {
                    headers.append(header::WWW_AUTHENTICATE, dpop_challenge(None, None));
                }
            }
            Scheme::Dpop => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    dpop_challenge(error, resource_metadata.as_deref()),
                );
            }
        }
        response
    }
}

/// `DPoP algs="…"`, with the error and its description when given (RFC 9449 §7.1).
fn dpop_challenge(error: Option<(&str, &str)>, resource_metadata: Option<&str>) -> HeaderValue {
    let mut challenge = format!("DPoP algs=\"{}\"", CLIENT_SIGNING_ALGORITHMS.join(" "));
    if let Some(url) = resource_metadata {
        challenge.push_str(&format!(", resource_metadata=\"{}\"", quotable(url)));
    }
    if let Some((code, description)) = error {
        challenge.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            quotable(description)
        ));
    }
    HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("DPoP"))
}

/// How a request presents its access token (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
}

/// The access token of a request and the scheme it came with: `Bearer` or `DPoP`.
pub(crate) fn presented_token(headers: &HeaderMap) -> Result<(Scheme, &str), ResourceRejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ResourceRejection::MissingToken {
            resource_metadata: None,
        });
    };
    if values.next().is_some() {
        return Err(ResourceRejection::MalformedAuthorization);
    }
    let value = value
        .to_str()
        .map_err(|_| ResourceRejection::MalformedAuthorization)?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or(ResourceRejection::MalformedAuthorization)?;
    let token = token.trim();
    if token.is_empty() {
        return Err(ResourceRejection::MalformedAuthorization);
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok((Scheme::Bearer, token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Ok((Scheme::Dpop, token))
    } else {
        Err(ResourceRejection::MalformedAuthorization)
    }
}

/// The one `DPoP` header of a request.
pub(crate) fn dpop_header(headers: &HeaderMap) -> Result<&str, ResourceRejection> {
    super::token::dpop_proof(headers)
        .and_then(|proof| proof.ok_or(DpopError::Missing))
        .map_err(ResourceRejection::InvalidDpopProof)
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
    /// The thumbprint of the key the request's DPoP proof proved, if it came with the DPoP
    /// scheme.
    proven_key: Option<String>,
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
        let (scheme, token) = match presented_token(&parts.headers) {
            Ok(presented) => presented,
            Err(ResourceRejection::MissingToken { .. }) => {
                return Err(ResourceRejection::MissingToken {
                    resource_metadata: guard.challenge_metadata(),
                });
            }
            Err(rejection) => return Err(rejection),
        };
        let proven_key = match scheme {
            Scheme::Bearer => None,
            Scheme::Dpop => Some(guard.accept_proof(parts, token).await?),
        };
        let token = token.to_owned();
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
            proven_key,
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
        self.decide(project, tool.into(), level)
            .await
            .map_err(|rejection| match self.proven_key {
                Some(_) => ResourceRejection::Dpop(Box::new(rejection)),
                None => rejection,
            })
    }

    async fn decide(
        &self,
        project: Option<&ProjectId>,
        tool: Tool,
        level: Level,
    ) -> Result<Allowed, ResourceRejection> {
        let requirement = Requirement {
            company: self.company.clone(),
            project: project.cloned(),
            tool,
            level,
        };
        let check = self
            .guard
            .decider
            .decide(
                self.guard.resource.as_deref(),
                &self.token,
                self.proven_key.as_deref(),
                &requirement,
            )
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
                DenyKind::InvalidToken => ResourceRejection::InvalidToken {
                    reason: reason.to_string(),
                    resource_metadata: self.guard.challenge_metadata(),
                },
                DenyKind::Forbidden => ResourceRejection::Forbidden(reason),
            }),
            // decide allows only a validated token with an acting member.
            (Decision::Allow { .. }, _, _) => Err(ResourceRejection::Unavailable),
        }
    }
}
