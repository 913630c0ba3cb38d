//! The HTTP face of the server (feature `axum`): a router with the OAuth endpoints that a host
//! mounts next to its own routes, and an extractor for the host's resource routes.
//!
//! Policy stays in the core: handlers here parse, call [`AuthorizationServer`], and render.

mod admin;
mod authorize;
mod connections;
mod form_token;
mod health;
mod metadata;
mod observe;
mod pages;
pub mod params;
mod render;
mod resource;
mod token;

pub use admin::admin_router;
pub use connections::{CONNECTED_APPS_PATH, account_router};
pub use pages::{PageError, Pages, Strings};
pub use resource::{Allowed, ResourceGuard, ResourceRejection, ResourceRequest};

use crate::model::{CompanyId, UserId};
use crate::server::AuthorizationServer;
use crate::store::{Directory, Store};
use crate::token::Secret;
use axum::Router;
use axum::http::HeaderName;
use axum::http::request::Parts;
use axum::routing::{get, post};
use observe::observed;
use std::future::Future;
use std::sync::Arc;

/// Who is signed in to the host, as the host's session says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    /// The person.
    pub user: UserId,
    /// The company they are working in, if the host knows it.
    pub company: Option<CompanyId>,
    /// The host's identifier of this sign-in session: its session id, or anything else that
    /// changes whenever the person signs in again. The consent form is bound to it, so a form
    /// shown in one session cannot be submitted in another. Kept out of `Debug`.
    pub session: Secret,
}

/// The host's sign-in, which the authorization endpoint hands over to when nobody is signed in.
///
/// The contract:
/// - [`signed_in`](SignIn::signed_in) reads the host's own session (a cookie, say) and answers
///   who is signed in, with a `session` value that changes at every sign-in (the consent form
///   is bound to it). Answer `None` for anyone not signed in, or deactivated.
/// - [`sign_in_url`](SignIn::sign_in_url) gets `return_to`, the path and query of the
///   authorization request being made (always a path on this server, such as
///   `/oauth/authorize?response_type=code&client_id=…`), and answers where to send the browser
///   to sign in. After sign-in the host sends the browser back to `return_to`. The host's
///   sign-in must send it only to a path on its own site: a `return_to` that names another
///   host, starts with `//` or `/\`, or holds tabs, newlines or backslashes is an open
///   redirect an attacker can use, and must be replaced by the home page.
/// - The host's sign-in form must refuse cross-site posts (check `Origin`, or use a CSRF token),
///   or an attacker can sign a victim in as the attacker.
///
/// ```
/// use appgrant::http::{SignIn, SignedIn};
/// use appgrant::model::UserId;
/// use appgrant::token::Secret;
/// use axum::http::request::Parts;
///
/// /// Signed in if the request carries the host's session cookie (a real host looks the
/// /// session up; this one trusts a header, for the example only).
/// struct HostSession;
///
/// impl SignIn for HostSession {
///     async fn signed_in(&self, request: &Parts) -> Option<SignedIn> {
///         let session = request.headers.get("x-session")?.to_str().ok()?;
///         let (user, _) = session.split_once(':')?;
///         Some(SignedIn {
///             user: UserId::new(user),
///             company: None,
///             session: Secret::new(session),
///         })
///     }
///
///     fn sign_in_url(&self, return_to: &str) -> String {
///         let query: String = url::form_urlencoded::Serializer::new(String::new())
///             .append_pair("return_to", return_to)
///             .finish();
///         format!("/login?{query}")
///     }
/// }
/// # let _ = HostSession.sign_in_url("/oauth/authorize?x=1");
/// ```
pub trait SignIn: Send + Sync + 'static {
    /// Who is signed in on this request, if anyone (read the host's session cookie, say).
    fn signed_in(&self, request: &Parts) -> impl Future<Output = Option<SignedIn>> + Send;
    /// Where to send the browser to sign in, coming back to `return_to` (a path on this
    /// server) afterwards.
    fn sign_in_url(&self, return_to: &str) -> String;

    /// Where the consent page's "Not you? Switch account" link goes (sign out, then sign in
    /// again coming back to `return_to`), or `None` for no link (the default).
    fn switch_account_url(&self, return_to: &str) -> Option<String> {
        let _ = return_to;
        None
    }
}

/// Settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The request header that names the company at each access (default `Company-Id`).
    pub company_header: HeaderName,
    /// The largest request body accepted, in bytes (default 16 KiB).
    pub max_body_bytes: usize,
    /// How long a consent page may be answered after it was shown (default 10 minutes).
    pub consent_form_lifetime: std::time::Duration,
    /// The templates and strings of the pages (consent, admin), which a host may replace.
    pub pages: Pages,
    /// Where a person manages their connected apps, linked from the consent page (default
    /// none).
    pub connected_apps_url: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            company_header: HeaderName::from_static("company-id"),
            max_body_bytes: 16 * 1024,
            consent_form_lifetime: std::time::Duration::from_secs(600),
            pages: Pages::default(),
            connected_apps_url: None,
        }
    }
}

struct Shared<S, D, A> {
    server: AuthorizationServer<S, D>,
    sign_in: A,
    options: HttpOptions,
}

/// The router's state.
pub(crate) struct HttpState<S, D, A> {
    shared: Arc<Shared<S, D, A>>,
}

impl<S, D, A> Clone for HttpState<S, D, A> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The OAuth endpoints: `/oauth/authorize` (GET and POST), `/oauth/token`, `/oauth/revoke`,
/// `/oauth/introspect`, `/oauth/token/info`, `/.well-known/oauth-authorization-server` and
/// `/.well-known/jwks.json`; and the probes `/healthz` (the process answers) and `/readyz`
/// (it can serve: [`AuthorizationServer::readiness`]).
///
/// Each request runs in an `http` span with its `endpoint`, ends with a `DEBUG` event with its
/// `status` and `latency_ms`, and is timed in the
/// [`HTTP_REQUEST_DURATION_SECONDS`](crate::server::telemetry::HTTP_REQUEST_DURATION_SECONDS)
/// histogram.
///
/// Serve it with a header-read timeout, request and body timeouts, a lifetime per connection
/// and a cap on connections (the README's "Mounting the router safely" shows how).
///
/// ```
/// use appgrant::http::{HttpOptions, SignIn, SignedIn, router};
/// use appgrant::{AuthorizationServer, Config, MemoryStore};
/// use axum::http::request::Parts;
///
/// struct NobodySignedIn;
/// impl SignIn for NobodySignedIn {
///     async fn signed_in(&self, _: &Parts) -> Option<SignedIn> {
///         None
///     }
///     fn sign_in_url(&self, return_to: &str) -> String {
///         format!("/login?return_to={}", url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com"))
///     .build()?;
/// // The OAuth endpoints, merged with the host's own routes.
/// let app: axum::Router = router(server, NobodySignedIn, HttpOptions::default())
///     .route("/", axum::routing::get(|| async { "the platform" }));
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn router<S: Store, D: Directory, A: SignIn>(
    server: AuthorizationServer<S, D>,
    sign_in: A,
    options: HttpOptions,
) -> Router {
    let state = HttpState {
        shared: Arc::new(Shared {
            server,
            sign_in,
            options,
        }),
    };
    Router::new()
        .route(
            "/oauth/authorize",
            observed("authorize", get(authorize::show::<S, D, A>)).merge(observed(
                "authorize_decision",
                post(authorize::decide::<S, D, A>),
            )),
        )
        .route(
            "/oauth/token",
            observed("token", post(token::token::<S, D, A>)),
        )
        .route(
            "/oauth/revoke",
            observed("revoke", post(token::revoke::<S, D, A>)),
        )
        .route(
            "/oauth/introspect",
            observed("introspect", post(token::introspect::<S, D, A>)),
        )
        .route(
            "/oauth/token/info",
            observed("token_info", get(metadata::token_info::<S, D, A>)),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            observed("metadata", get(metadata::authorization_server::<S, D, A>)),
        )
        .route(
            "/.well-known/jwks.json",
            observed("jwks", get(metadata::jwks::<S, D, A>)),
        )
        .route("/healthz", observed("healthz", get(health::alive)))
        .route("/readyz", observed("readyz", get(health::ready::<S, D, A>)))
        .with_state(state)
}
