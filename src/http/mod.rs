//! The HTTP face of the server (feature `axum`): a router with the OAuth endpoints that a host
//! mounts next to its own routes, an extractor for the host's resource routes, and the JSON
//! routes of a developer portal ([`developer_router`]) behind the host's [`DeveloperAuth`].
//!
//! Policy stays in the core: handlers here parse, call [`AuthorizationServer`], and render.

mod admin;
mod authorize;
mod connections;
mod cors;
mod cross_site;
mod developer;
mod form_token;
mod health;
mod metadata;
mod observe;
mod pages;
mod par;
pub mod params;
mod render;
mod resource;
mod token;

pub use admin::admin_router;
pub use connections::{CONNECTED_APPS_PATH, account_router};
pub use cors::{CorsOrigins, InvalidOrigin};
pub use pages::{PageError, Pages, Strings};
pub use resource::{Allowed, ResourceGuard, ResourceRejection, ResourceRequest};

use crate::model::{App, CompanyId, UserId};
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

/// The host's developer accounts, which the developer routes ([`developer_router`]) ask who
/// is calling and which apps they may manage.
///
/// The contract:
/// - [`developer`](DeveloperAuth::developer) reads the host's own session or token from the
///   request and answers the developer, or `None` (the routes then answer 401). Do any IO here,
///   once per request: load what [`may_manage`](DeveloperAuth::may_manage) needs (the
///   developer's teams, the client ids they own) into [`Developer`](DeveloperAuth::Developer).
/// - [`may_manage`](DeveloperAuth::may_manage) says whether that developer may see and manage
///   `app`. It is asked for every app a listing considers, and before every action on one; an
///   app it refuses answers exactly as an app that does not exist (404). Record which
///   developer registered which app when the host calls
///   [`AuthorizationServer::register_app`].
/// - A developer session kept in a cookie needs the browser's protection against other sites:
///   every route that changes something takes a JSON body (`Content-Type: application/json`)
///   or is a `DELETE`, which a page of another site cannot send without CORS, and the router
///   grants no CORS. A host adding CORS to these routes must check `Origin` itself.
///
/// ```
/// use appgrant::http::DeveloperAuth;
/// use appgrant::model::{App, ClientId};
/// use axum::http::request::Parts;
/// use std::collections::BTreeSet;
///
/// /// A developer and the apps their team registered.
/// struct Team {
///     apps: BTreeSet<ClientId>,
/// }
///
/// /// Trusts a header naming the team's apps, for the example only: a real host looks the
/// /// developer's session up and reads their team's apps from its own tables.
/// struct HostDevelopers;
///
/// impl DeveloperAuth for HostDevelopers {
///     type Developer = Team;
///
///     async fn developer(&self, request: &Parts) -> Option<Team> {
///         let apps = request.headers.get("x-team-apps")?.to_str().ok()?;
///         Some(Team { apps: apps.split(',').map(ClientId::from).collect() })
///     }
///
///     fn may_manage(&self, team: &Team, app: &App) -> bool {
///         team.apps.contains(&app.client_id)
///     }
/// }
/// ```
pub trait DeveloperAuth: Send + Sync + 'static {
    /// A developer as the host knows them, with what deciding which apps they manage needs.
    type Developer: Send + Sync + 'static;
    /// The developer signed in on this request, if any.
    fn developer(&self, request: &Parts) -> impl Future<Output = Option<Self::Developer>> + Send;
    /// Whether `developer` may see and manage `app`.
    fn may_manage(&self, developer: &Self::Developer, app: &App) -> bool;
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
    /// The browser origins allowed to call the token, pushed-authorization and revocation
    /// endpoints, the metadata and the key set across origins (CORS; default none). Never the
    /// authorization endpoint.
    pub cors_origins: CorsOrigins,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            company_header: HeaderName::from_static("company-id"),
            max_body_bytes: 16 * 1024,
            consent_form_lifetime: std::time::Duration::from_secs(600),
            pages: Pages::default(),
            connected_apps_url: None,
            cors_origins: CorsOrigins::none(),
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

/// The OAuth endpoints: `/oauth/authorize` (GET and POST), `/oauth/token`, `/oauth/par`
/// (pushed authorization requests, RFC 9126), `/oauth/revoke`,
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
    let cors = options.cors_origins.layer();
    // The endpoints a browser app calls with fetch, open to the configured origins.
    let cross_origin = |route: axum::routing::MethodRouter<HttpState<S, D, A>>| match &cors {
        Some(cors) => route.layer(cors.clone()),
        None => route,
    };
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
            cross_origin(observed("token", post(token::token::<S, D, A>))),
        )
        .route(
            "/oauth/par",
            cross_origin(observed("par", post(par::push::<S, D, A>))),
        )
        .route(
            "/oauth/revoke",
            cross_origin(observed("revoke", post(token::revoke::<S, D, A>))),
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
            cross_origin(observed(
                "metadata",
                get(metadata::authorization_server::<S, D, A>),
            )),
        )
        .route(
            "/.well-known/jwks.json",
            cross_origin(observed("jwks", get(metadata::jwks::<S, D, A>))),
        )
        .route("/healthz", observed("healthz", get(health::alive)))
        .route("/readyz", observed("readyz", get(health::ready::<S, D, A>)))
        .with_state(state)
}

/// The JSON routes of a developer portal, behind the host's [`DeveloperAuth`], for a host to
/// mount next to [`router`] and its own routes:
///
/// | route | what it does |
/// |---|---|
/// | `GET /developer/apps` | `{"apps": [...]}`: the apps the developer may manage, sorted by client id |
/// | `GET /developer/apps/{client_id}` | the app: everything but secrets ([`DeveloperApp`](crate::model::DeveloperApp)) |
/// | `PATCH /developer/apps/{client_id}` | changes `name`, `profile` (whole), `redirect_uris` (all), `flows`; answers the app ([`AuthorizationServer::update_app`]) |
/// | `DELETE /developer/apps/{client_id}` | uninstalls it everywhere, then deletes it; 204 ([`AuthorizationServer::delete_app`]) |
/// | `POST /developer/apps/{client_id}/secret` | `{"overlap_seconds": N}`: a new client secret, answered this once as `{"client_id", "client_secret"}`; the old one stays accepted for N seconds ([`AuthorizationServer::rotate_client_secret`]) |
/// | `POST /developer/apps/{client_id}/manifests` | `{"company": {tool: level}, "project": {tool: level}}`: a new manifest version; 201 `{"version": N}` ([`AuthorizationServer::publish_manifest`]) |
/// | `GET /developer/apps/{client_id}/installations` | `{"installations": [...]}`: every company that asked for it, where each stands ([`DeveloperInstallation`](crate::model::DeveloperInstallation)) |
///
/// Every answer is JSON with `Cache-Control: no-store`; errors are
/// `{"error": code, "message": text}`: 401 `unauthorized` when nobody is signed in as a
/// developer, 404 `not_found` for an app that does not exist *or* that the developer may not
/// manage (the same answer, so nobody learns whether another developer's app exists), 400
/// `invalid_request` with what is wrong (a bad redirect URI, an unknown field…; nothing
/// changes), 415 for a body that is not JSON, 413 past `options.max_body_bytes`, 503
/// `temporarily_unavailable` with `Retry-After` when the store fails. No answer carries a client
/// secret or its digest, except the new secret of a rotation.
///
/// ```
/// use appgrant::http::{DeveloperAuth, HttpOptions, developer_router};
/// use appgrant::model::App;
/// use appgrant::{AuthorizationServer, Config, MemoryStore};
/// use axum::http::request::Parts;
///
/// struct NoDevelopers;
/// impl DeveloperAuth for NoDevelopers {
///     type Developer = ();
///     async fn developer(&self, _: &Parts) -> Option<()> {
///         None
///     }
///     fn may_manage(&self, _: &(), _: &App) -> bool {
///         false
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com"))
///     .build()?;
/// let portal: axum::Router = developer_router(server, NoDevelopers, HttpOptions::default());
/// # let _ = portal;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn developer_router<S: Store, D: Directory, A: DeveloperAuth>(
    server: AuthorizationServer<S, D>,
    auth: A,
    options: HttpOptions,
) -> Router {
    developer::routes(server, auth, options)
}
