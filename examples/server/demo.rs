//! The demo platform: an authorization server mounted next to a small construction API
//! (RFIs on projects), a demo sign-in, and admin pages for installing apps.
//!
//! Shared by `examples/server/main.rs` and the HTTP integration tests.
#![allow(dead_code)]

use appgrant::grant::AppRegistration;
use appgrant::http::{
    self, HttpOptions, ResourceGuard, ResourceRejection, ResourceRequest, SignIn, SignedIn,
};
use appgrant::model::{
    AppFlows, AppProfile, ClientId, ClientType, Company, CompanyId, ConsentInstall, Installation,
    InstallationStatus, Level, Manifest, OUT_OF_BAND, Permissions, ProjectId, Scope, Tool, User,
    UserId,
};
use appgrant::server::ServerError;
use appgrant::store::{DirectoryStore, Store};
use appgrant::token::{DeploymentSecret, KeySet, Secret};
use appgrant::{AuthorizationServer, Config, MemoryStore};
use axum::extract::{FromRef, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// The demo over the in-memory store, as the tests run it.
pub type Server = AuthorizationServer<MemoryStore>;

pub const COMPANY: &str = "acme";
pub const PROJECTS: [&str; 2] = ["tower", "depot"];
pub const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";
const SESSION_COOKIE: &str = "demo_session";

/// What a script needs to drive the demo: printed as one JSON line at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedInfo {
    pub issuer: String,
    pub company_id: String,
    pub company_header: String,
    pub projects: Vec<String>,
    pub users: Vec<DemoUser>,
    pub apps: Vec<DemoApp>,
    /// The company's admin page (the library's): its apps, install and update reviews.
    pub admin_url: String,
    /// A person's connected apps (the library's page), where they disconnect one.
    pub connected_apps_url: String,
    /// The bearer token of the demo's one developer, who manages every app through the
    /// library's developer routes (`/developer/apps…`). Derived from the deployment secret.
    pub developer_token: String,
}

/// The demo's developer portal sign-in: one developer, who presents a bearer token derived
/// from the deployment secret and manages every app.
#[derive(Clone)]
pub struct DemoDeveloper {
    token: Arc<str>,
}

impl http::DeveloperAuth for DemoDeveloper {
    type Developer = ();

    async fn developer(&self, request: &Parts) -> Option<()> {
        let presented = request.headers.get(axum::http::header::AUTHORIZATION)?;
        let presented = presented.to_str().ok()?.strip_prefix("Bearer ")?;
        // Constant time: the token is a credential.
        use subtle::ConstantTimeEq;
        bool::from(presented.as_bytes().ct_eq(self.token.as_bytes())).then_some(())
    }

    fn may_manage(&self, _: &(), _: &appgrant::model::App) -> bool {
        true
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    pub role: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemoApp {
    pub name: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uri: String,
    pub client_type: String,
}

/// How long a demo sign-in lasts.
const SESSION_SECONDS: i64 = 12 * 3600;

/// The demo's sign-in: a session cookie naming a signed-in user of Acme, signed with a key
/// derived from the deployment secret, so that every instance of the deployment knows it.
#[derive(Clone)]
pub struct DemoSignIn {
    key: Arc<[u8; 32]>,
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

impl DemoSignIn {
    fn new(key: [u8; 32]) -> Self {
        Self { key: Arc::new(key) }
    }

    fn mac(&self, body: &str) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        // Infallible: HMAC takes keys of any length.
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(self.key.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(body.as_bytes());
        mac
    }

    /// A session cookie value for `user`, from `now`: `user.expiry.nonce.tag`.
    fn issue(&self, user: &str, now: i64) -> String {
        use base64::Engine;
        use hmac::Mac;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let nonce: [u8; 16] = rand::random();
        let body = format!(
            "{}.{}.{}",
            engine.encode(user),
            now + SESSION_SECONDS,
            engine.encode(nonce)
        );
        let tag = engine.encode(self.mac(&body).finalize().into_bytes());
        format!("{body}.{tag}")
    }

    fn user(&self, headers: &HeaderMap) -> Option<UserId> {
        self.session(headers).map(|(user, _)| user)
    }

    /// The signed-in user and their session cookie, if the cookie is ours and unexpired.
    fn session(&self, headers: &HeaderMap) -> Option<(UserId, String)> {
        use base64::Engine;
        use hmac::Mac;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let session = cookie(headers, SESSION_COOKIE)?;
        let (body, tag) = session.rsplit_once('.')?;
        self.mac(body)
            .verify_slice(&engine.decode(tag).ok()?)
            .ok()?;
        let mut parts = body.split('.');
        let user = String::from_utf8(engine.decode(parts.next()?).ok()?).ok()?;
        let expiry: i64 = parts.next()?.parse().ok()?;
        (chrono::Utc::now().timestamp() < expiry).then(|| (UserId::new(user), session.clone()))
    }
}

impl SignIn for DemoSignIn {
    async fn signed_in(&self, request: &Parts) -> Option<SignedIn> {
        self.session(&request.headers)
            .map(|(user, session)| SignedIn {
                user,
                company: Some(CompanyId::new(COMPANY)),
                session: Secret::new(session),
            })
    }

    fn sign_in_url(&self, return_to: &str) -> String {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        format!("/login?{query}")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rfi {
    pub id: usize,
    pub project: String,
    pub title: String,
    pub created_by: String,
}

/// The demo platform's state.
pub struct DemoState<S> {
    server: AuthorizationServer<S>,
    guard: ResourceGuard,
    sign_in: DemoSignIn,
    passwords: Arc<HashMap<String, String>>,
    rfis: Arc<Mutex<Vec<Rfi>>>,
    // This site's origin (the issuer), which admin actions must come from.
    origin: Arc<str>,
}

impl<S> Clone for DemoState<S> {
    fn clone(&self) -> Self {
        Self {
            server: self.server.clone(),
            guard: self.guard.clone(),
            sign_in: self.sign_in.clone(),
            passwords: Arc::clone(&self.passwords),
            rfis: Arc::clone(&self.rfis),
            origin: Arc::clone(&self.origin),
        }
    }
}

impl<S: Store + DirectoryStore + Clone> FromRef<DemoState<S>> for ResourceGuard {
    fn from_ref(state: &DemoState<S>) -> Self {
        state.guard.clone()
    }
}

/// What makes instances one server: the issuer, the signing keys and the deployment secret.
/// Without keys or a secret, fresh ones: tokens and consent pages then last only as long as
/// the process.
#[derive(Clone)]
pub struct Deployment {
    /// The issuer URL, the same for every instance.
    pub issuer: String,
    /// The signing keys.
    pub keys: Option<KeySet>,
    /// The deployment secret.
    pub secret: Option<DeploymentSecret>,
    /// How stored signing keys rotate (with a secret and no fixed keys).
    pub key_policy: appgrant::token::KeyPolicy,
}

impl Deployment {
    /// A deployment of one process at `issuer`, with fresh keys and secret.
    pub fn ephemeral(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            keys: None,
            secret: None,
            key_policy: appgrant::token::KeyPolicy::default(),
        }
    }
}

/// The histogram buckets of request durations, in seconds: from 0.5 ms to 10 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's Prometheus recorder, installed as the global `metrics` recorder on first use
/// (the demo's `build` does that). A process has one global recorder: if something else
/// installed one first, there is none, and `/metrics` says so.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let duration = appgrant::server::telemetry::HTTP_REQUEST_DURATION_SECONDS;
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(duration.into()), &DURATION_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    appgrant::server::telemetry::describe_metrics();
                    Some(handle)
                }
                Err(error) => {
                    tracing::warn!(%error, "no Prometheus metrics: a recorder could not be installed");
                    None
                }
            }
        })
        .as_ref()
}

/// `GET /metrics`: every metric in the Prometheus text format.
async fn metrics_text() -> Response {
    let Some(handle) = prometheus() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no metrics recorder\n").into_response();
    };
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response()
}

/// Builds the seeded demo: the router to serve and what to print.
/// Seeds `store` and builds the demo on it. Seeding is idempotent for the company and people;
/// the apps are registered afresh on every start (a persistent store keeps the earlier ones,
/// and their tokens, working).
pub async fn build<S: Store + DirectoryStore + Clone>(
    deployment: Deployment,
    store: S,
) -> Result<(Router, SeedInfo, AuthorizationServer<S>), ServerError> {
    // Installed before anything happens, so that everything is counted.
    prometheus();
    let issuer = deployment.issuer.as_str();
    // Without a deployment secret, a fresh one: this process is the whole deployment.
    let secret = deployment
        .secret
        .clone()
        .unwrap_or_else(|| DeploymentSecret::generate(&mut rand::rngs::OsRng));
    let builder =
        AuthorizationServer::builder(store, Config::new(issuer)).deployment_secret(&secret);
    let server = match (deployment.keys, &deployment.secret) {
        (Some(keys), _) => builder.keys(keys).build()?,
        // A deployment's signing keys live in its store, sealed under its secret.
        (None, Some(_)) => {
            builder
                .build_with_stored_keys(deployment.key_policy)
                .await?
        }
        (None, None) => builder.build()?,
    };
    let acme = CompanyId::new(COMPANY);
    let mut company = Company::new(COMPANY, "Acme Construction")
        .with_project("tower", "Riverside Tower")
        .with_project("depot", "North Depot");
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    server.save_company(company).await?;
    let mut users = Vec::new();
    let mut passwords = HashMap::new();
    let jane = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    let jane = PROJECTS.iter().fold(jane, |held, project| {
        held.with(
            Scope::Project(ProjectId::new(*project)),
            "rfis",
            Level::Admin,
        )
    });
    let john = Permissions::none().with(
        Scope::Project(ProjectId::new("tower")),
        "rfis",
        Level::ReadOnly,
    );
    for (username, name, role, holds) in [
        ("jane", "Jane", "admin", jane),
        ("john", "John", "read-only on tower", john),
    ] {
        server.save_user(User::person(username, name)).await?;
        server
            .set_membership(&acme, &UserId::new(username), holds)
            .await?;
        // Derived from the deployment secret: every instance agrees on it, and nobody who only
        // read this source can sign in as the admin of a real deployment.
        let password = {
            use base64::Engine;
            let bytes = secret.host_key(&format!("demo password {username}"));
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..12])
        };
        passwords.insert(username.to_owned(), password.clone());
        users.push(DemoUser {
            username: username.into(),
            password,
            role: role.into(),
        });
    }
    let mut apps = Vec::new();
    for (name, client_type, flows) in [
        ("FieldSync", ClientType::Confidential, AppFlows::Both),
        (
            "FieldSync Mobile",
            ClientType::Public,
            AppFlows::UserDelegated,
        ),
    ] {
        let manifest = flows.service_account().then(|| {
            Manifest::new(1)
                .company_tool("directory", Level::ReadOnly)
                .project_tool("rfis", Level::Standard)
        });
        // Every instance of the deployment registers the same app, with the same id and secret,
        // drawn from a generator seeded by the deployment secret.
        let mut seeded =
            rand::rngs::StdRng::from_seed(secret.host_key(&format!("demo app {name}")));
        let (app, client_secret) = AppRegistration {
            name: name.into(),
            client_type,
            redirect_uris: vec![REDIRECT_URI.into(), OUT_OF_BAND.into()],
            flows,
            manifest,
            ceiling: None,
            profile: AppProfile {
                publisher: Some("FieldSync Ltd".into()),
                description: Some(format!(
                    "{name} keeps RFIs in sync between the office and crews in the field."
                )),
                homepage: Some("https://fieldsync.example.com".into()),
                logo_url: None,
            },
            owner: None,
        }
        .register(&mut seeded)
        .map_err(ServerError::from)?;
        server.store().save_app(app.clone()).await?;
        let registered = appgrant::server::RegisteredApp { app, client_secret };
        apps.push(DemoApp {
            name: name.into(),
            client_id: registered.app.client_id.to_string(),
            client_secret: registered
                .client_secret
                .as_ref()
                .map(|secret| secret.expose().to_owned()),
            redirect_uri: REDIRECT_URI.into(),
            client_type: format!("{client_type:?}").to_lowercase(),
        });
    }
    let options = HttpOptions {
        connected_apps_url: Some(http::CONNECTED_APPS_PATH.into()),
        ..HttpOptions::default()
    };
    let sign_in = DemoSignIn::new(secret.host_key("demo sessions"));
    let developer_token = {
        use base64::Engine;
        let bytes = secret.host_key("demo developer token");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let state = DemoState {
        guard: ResourceGuard::new(server.clone(), &options),
        server: server.clone(),
        sign_in: sign_in.clone(),
        passwords: Arc::new(passwords),
        rfis: Arc::new(Mutex::new(Vec::new())),
        origin: Arc::from(issuer.trim_end_matches('/')),
    };
    let seed = SeedInfo {
        issuer: issuer.into(),
        company_id: COMPANY.into(),
        company_header: "Company-Id".into(),
        projects: PROJECTS.iter().map(|p| (*p).to_owned()).collect(),
        users,
        apps,
        admin_url: format!(
            "{}/admin/companies/{COMPANY}/apps",
            issuer.trim_end_matches('/')
        ),
        connected_apps_url: format!(
            "{}{}",
            issuer.trim_end_matches('/'),
            http::CONNECTED_APPS_PATH
        ),
        developer_token: developer_token.clone(),
    };
    // The library's pages: the company's app administration and a person's connected apps.
    let admin = http::admin_router(server.clone(), sign_in.clone(), options.clone());
    let account = http::account_router(server.clone(), sign_in.clone(), options.clone());
    let developer = DemoDeveloper {
        token: Arc::from(developer_token.as_str()),
    };
    let portal = http::developer_router(server.clone(), developer, options.clone());
    let router = http::router(server.clone(), sign_in, options)
        .merge(admin)
        .merge(account)
        .merge(portal)
        .merge(demo_routes(state));
    Ok((router, seed, server))
}

fn demo_routes<S: Store + DirectoryStore + Clone>(state: DemoState<S>) -> Router {
    let sign_in_and_api = Router::new()
        .route("/login", get(login_page).post(login::<S>))
        .route(
            "/api/projects/{project}/rfis",
            get(list_rfis::<S>).post(create_rfi::<S>),
        );
    let admin = Router::new()
        .route("/admin/apps/{client_id}", get(admin_page::<S>))
        .route("/admin/apps/{client_id}/{action}", post(admin_form::<S>))
        .route("/admin/api/apps/{client_id}", get(admin_status::<S>))
        .route(
            "/admin/api/apps/{client_id}/{action}",
            post(admin_json::<S>),
        );
    page_headers(sign_in_and_api, PAGE_CSP)
        .merge(page_headers(admin, ADMIN_PAGE_CSP))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// The content security policy of the demo's pages: they load nothing but inline style, and
/// no other site may frame them (clickjacking). No `form-action`: browsers apply it to the
/// redirects that follow a form too, and a sign-in goes on to `/oauth/authorize`, which may
/// send the browser straight on to the client.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/// The admin pages' forms, and the redirects after them, stay on this site.
const ADMIN_PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";

/// `routes` with the headers every demo page sends, as the library's consent page does: not
/// framed, not cached, and its URL sent as a referrer to this site only. (Not `no-referrer`:
/// under it browsers send `Origin: null` with a page's own form posts, which
/// `from_this_site` must refuse.) The API's JSON gets them too, harmlessly.
fn page_headers<S>(routes: Router<S>, csp: &'static str) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.layer(axum::middleware::map_response(
        move |mut response: Response| async move {
            let headers = response.headers_mut();
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(csp),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        },
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

async fn login_page(axum::extract::Query(query): axum::extract::Query<LoginQuery>) -> Html<String> {
    let return_to = escape(query.return_to.as_deref().unwrap_or("/"));
    Html(format!(
        "<!doctype html><html><body><h1>Sign in to Acme Platform</h1>\
         <form method=\"post\" action=\"/login\">\
         <label>Username <input name=\"username\"></label>\
         <label>Password <input name=\"password\" type=\"password\"></label>\
         <input type=\"hidden\" name=\"return_to\" value=\"{return_to}\">\
         <button type=\"submit\">Sign in</button></form></body></html>"
    ))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    return_to: Option<String>,
}

/// Only same-site paths, so the sign-in cannot be used as an open redirector.
fn local_path(return_to: Option<&str>) -> &str {
    // Browsers drop tabs and newlines and read `\` as `/`, so `/\t/evil.example` would leave
    // the site: anything but a plain same-site path goes home instead.
    let plain = |path: &str| {
        path.starts_with('/')
            && !path.starts_with("//")
            && !path
                .chars()
                .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    };
    match return_to {
        Some(path) if plain(path) => path,
        _ => "/",
    }
}

async fn login<S: Store + DirectoryStore + Clone>(
    State(state): State<DemoState<S>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    // Another site's form could otherwise sign the victim in as the attacker (login CSRF),
    // and whatever the victim then authorizes or enters goes to the attacker's account.
    if !from_this_site(&state, &headers) {
        return (
            StatusCode::FORBIDDEN,
            Html("<p>Sign in from this site's own sign-in page.</p>"),
        )
            .into_response();
    }
    let known = state.passwords.get(&form.username).is_some_and(|password| {
        use subtle::ConstantTimeEq;
        bool::from(password.as_bytes().ct_eq(form.password.as_bytes()))
    });
    if !known {
        return (
            StatusCode::UNAUTHORIZED,
            Html("<p>Wrong username or password.</p>"),
        )
            .into_response();
    }
    let session = state
        .sign_in
        .issue(&form.username, chrono::Utc::now().timestamp());
    let cookie = format!("{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax");
    let mut response = Redirect::to(local_path(form.return_to.as_deref())).into_response();
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn list_rfis<S: Store + DirectoryStore + Clone>(
    State(state): State<DemoState<S>>,
    Path(project): Path<String>,
    access: ResourceRequest,
) -> Result<Json<Vec<Rfi>>, ResourceRejection> {
    access
        .require(
            Some(&ProjectId::new(project.as_str())),
            "rfis",
            Level::ReadOnly,
        )
        .await?;
    let rfis = state
        .rfis
        .lock()
        .map(|rfis| rfis.clone())
        .unwrap_or_default();
    Ok(Json(
        rfis.into_iter()
            .filter(|rfi| rfi.project == project)
            .collect(),
    ))
}

#[derive(Deserialize)]
struct NewRfi {
    title: String,
}

async fn create_rfi<S: Store + DirectoryStore + Clone>(
    State(state): State<DemoState<S>>,
    Path(project): Path<String>,
    access: ResourceRequest,
    Json(new): Json<NewRfi>,
) -> Result<(StatusCode, Json<Rfi>), ResourceRejection> {
    let granted = access
        .require(
            Some(&ProjectId::new(project.as_str())),
            "rfis",
            Level::Standard,
        )
        .await?;
    let mut rfis = state
        .rfis
        .lock()
        .map_err(|_| ResourceRejection::Unavailable)?;
    let rfi = Rfi {
        id: rfis.len() + 1,
        project,
        title: new.title,
        created_by: granted.user.to_string(),
    };
    rfis.push(rfi.clone());
    Ok((StatusCode::CREATED, Json(rfi)))
}

/// An admin action, as the admin pages and JSON routes take it.
#[derive(Deserialize, Default)]
struct AdminAction {
    #[serde(default)]
    projects: Vec<String>,
}

/// Why an admin route refused.
enum AdminError {
    SignInFirst,
    NotAdmin,
    CrossOrigin,
    UnknownAction,
    Server(ServerError),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            AdminError::SignInFirst => StatusCode::UNAUTHORIZED,
            AdminError::NotAdmin | AdminError::CrossOrigin => StatusCode::FORBIDDEN,
            AdminError::UnknownAction => StatusCode::NOT_FOUND,
            AdminError::Server(ServerError::Installation(
                appgrant::model::InstallationError::NotDirectoryAdmin { .. },
            )) => StatusCode::FORBIDDEN,
            AdminError::Server(ServerError::UnknownApp(_) | ServerError::NoInstallation { .. }) => {
                StatusCode::NOT_FOUND
            }
            AdminError::Server(ServerError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Server(_) => StatusCode::CONFLICT,
        };
        let message = match self {
            AdminError::SignInFirst => "sign in first".to_owned(),
            AdminError::NotAdmin => "only a directory admin may see or change this".to_owned(),
            AdminError::CrossOrigin => {
                "admin actions must come from this site's own pages".to_owned()
            }
            AdminError::UnknownAction => "unknown action".to_owned(),
            AdminError::Server(error) => error.to_string(),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

async fn run_admin_action<S: Store + DirectoryStore + Clone>(
    state: &DemoState<S>,
    admin: &UserId,
    client_id: &ClientId,
    action: &str,
    projects: Vec<String>,
) -> Result<Installation, AdminError> {
    // Before anything changes: `install` and `deny` first (re)open the request, which any
    // member may do, and the core checks the admin right only at the decision that follows,
    // so a refused non-admin would leave a denied or uninstalled app `requested`.
    require_directory_admin(state, admin).await?;
    let server = &state.server;
    let acme = CompanyId::new(COMPANY);
    let permitted: BTreeSet<ProjectId> = projects.into_iter().map(ProjectId::new).collect();
    let result = match action {
        "install" => match server.request_installation(&acme, client_id, admin).await {
            Ok(_) => {
                server
                    .approve_installation(&acme, client_id, admin, permitted)
                    .await
            }
            Err(error) => Err(error),
        },
        "deny" => match server.request_installation(&acme, client_id, admin).await {
            Ok(_) => server.deny_installation(&acme, client_id, admin).await,
            Err(error) => Err(error),
        },
        "projects" => {
            server
                .set_permitted_projects(&acme, client_id, admin, permitted)
                .await
        }
        "approve-update" => {
            server
                .approve_manifest_update(&acme, client_id, admin)
                .await
        }
        "uninstall" => server.uninstall(&acme, client_id, admin).await,
        _ => return Err(AdminError::UnknownAction),
    };
    result.map_err(AdminError::Server)
}

fn signed_in_admin<S>(state: &DemoState<S>, headers: &HeaderMap) -> Result<UserId, AdminError> {
    state.sign_in.user(headers).ok_or(AdminError::SignInFirst)
}

/// Whether a state-changing request came from this site's own pages rather than another
/// site's (a cross-site form carries the session cookie, and a sign-in needs none): of
/// `Sec-Fetch-Site`, `Origin` and `Referer`, each one the browser sent must name this site.
/// Scripts send none of them.
fn from_this_site<S>(state: &DemoState<S>, headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").map(|value| value.as_bytes());
    let origin = headers.get(header::ORIGIN).map(|value| value.as_bytes());
    let referer_origin = headers.get(header::REFERER).map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|referer| url::Url::parse(referer).ok())
            .map(|referer| referer.origin().ascii_serialization())
    });
    fetch_site.is_none_or(|site| site == b"same-origin")
        && origin.is_none_or(|origin| origin == state.origin.as_bytes())
        && referer_origin.is_none_or(|origin| origin.as_deref() == Some(&*state.origin))
}

/// Refuses an admin action a browser sent from another site (see `from_this_site`).
fn same_origin<S>(state: &DemoState<S>, headers: &HeaderMap) -> Result<(), AdminError> {
    if from_this_site(state, headers) {
        Ok(())
    } else {
        Err(AdminError::CrossOrigin)
    }
}

/// The signed-in user, if they hold Admin on Acme's directory.
async fn directory_admin<S: Store + DirectoryStore + Clone>(
    state: &DemoState<S>,
    headers: &HeaderMap,
) -> Result<UserId, AdminError> {
    let user = signed_in_admin(state, headers)?;
    require_directory_admin(state, &user).await?;
    Ok(user)
}

/// Refuses `user` unless they hold Admin on Acme's directory (checked here for reads and
/// before every admin action; the core checks it again for each decision).
async fn require_directory_admin<S: Store + DirectoryStore + Clone>(
    state: &DemoState<S>,
    user: &UserId,
) -> Result<(), AdminError> {
    let held = state
        .server
        .store()
        .membership(&CompanyId::new(COMPANY), user)
        .await
        .map_err(|error| AdminError::Server(error.into()))?;
    let is_admin = held.is_some_and(|held| held.level(None, &Tool::directory()) == Level::Admin);
    if is_admin {
        Ok(())
    } else {
        Err(AdminError::NotAdmin)
    }
}

async fn admin_json<S: Store + DirectoryStore + Clone>(
    State(state): State<DemoState<S>>,
    Path((client_id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Option<Json<AdminAction>>,
) -> Response {
    let admin = match same_origin(&state, &headers).and_then(|()| signed_in_admin(&state, &headers))
    {
        Ok(admin) => admin,
        Err(error) => return error.into_response(),
    };
    let projects = body.map(|Json(action)| action.projects).unwrap_or_default();
    match run_admin_action(&state, &admin, &ClientId::new(client_id), &action, projects).await {
        Ok(installation) => {
            let company = company(&state).await;
            Json(installation_json(&installation, company.as_ref())).into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// The demo company's record, for its projects' names.
async fn company<S: Store + DirectoryStore + Clone>(state: &DemoState<S>) -> Option<Company> {
    state
        .server
        .store()
        .company(&CompanyId::new(COMPANY))
        .await
        .ok()
        .flatten()
}

/// A project as pages and JSON show it: its id and its name in the company's directory.
fn project_json(company: Option<&Company>, project: &ProjectId) -> serde_json::Value {
    let name = company
        .and_then(|company| company.project(project))
        .map_or(project.as_str(), |known| known.name.as_str());
    json!({ "id": project, "name": name })
}

fn installation_json(installation: &Installation, company: Option<&Company>) -> serde_json::Value {
    json!({
        "status": installation.status,
        "decided_by": installation.decided_by,
        "decided_at": installation.decided_at,
        "pending_manifest": installation.pending_manifest,
        "service_account": installation.service_account.as_ref().map(|account| json!({
            "user": account.user,
            "manifest_version": account.approved.version,
            "permitted_projects": account
                .permitted_projects
                .iter()
                .map(|project| project_json(company, project))
                .collect::<Vec<_>>(),
        })),
    })
}

async fn admin_status<S: Store + DirectoryStore + Clone>(
    State(state): State<DemoState<S>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = directory_admin(&state, &headers).await {
        return error.into_response();
    }
    let client_id = ClientId::new(client_id);
    let app = match state.server.app(&client_id).await {
        Ok(app) => app,
        Err(error) => return AdminError::Server(error).into_response(),
    };
    let installation = state
        .server
        .installation(&CompanyId::new(COMPANY), &client_id)
        .await
        .ok();
    let company = company(&state).await;
    let shown = installation
        .as_ref()
        .map(|installation| installation_json(installation, company.as_ref()));
    Json(json!({
        "app": { "name": app.name, "client_id": app.client_id, "manifest": app.manifest() },
        "installation": shown,
    }))
    .into_response()
}

async fn admin_page<S: Store + DirectoryStore + Clone>(
    State(state): State<DemoState<S>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match directory_admin(&state, &headers).await {
        Ok(_) => {}
        Err(AdminError::SignInFirst) => {
            let back = format!("/admin/apps/{client_id}");
            return Redirect::to(&state.sign_in.sign_in_url(&back)).into_response();
        }
        Err(error) => return error.into_response(),
    }
    let client_id = ClientId::new(client_id);
    let app = match state.server.app(&client_id).await {
        Ok(app) => app,
        Err(error) => return AdminError::Server(error).into_response(),
    };
    let installation = state
        .server
        .installation(&CompanyId::new(COMPANY), &client_id)
        .await
        .ok();
    let mut body = format!("<h1>{} in Acme Construction</h1>", escape(&app.name));
    match app.manifest() {
        Some(manifest) => {
            body.push_str(&format!(
                "<h2>Its service account asks for (manifest v{})</h2><ul>",
                manifest.version
            ));
            for (tool, level) in &manifest.company {
                body.push_str(&format!(
                    "<li>{} at {level}, company-wide</li>",
                    escape(tool.as_str())
                ));
            }
            for (tool, level) in &manifest.project {
                body.push_str(&format!(
                    "<li>{} at {level}, on each permitted project</li>",
                    escape(tool.as_str())
                ));
            }
            body.push_str("</ul>");
        }
        None => body.push_str("<p>It acts only as the people who authorize it.</p>"),
    }
    let status = installation.as_ref().map(|i| i.status);
    body.push_str(&format!(
        "<p>Status: {}</p>",
        status.map_or("not installed".to_owned(), |s| format!("{s:?}"))
    ));
    let permitted: BTreeSet<String> = installation
        .as_ref()
        .and_then(|i| i.service_account.as_ref())
        .map(|account| {
            account
                .permitted_projects
                .iter()
                .map(|p| p.to_string())
                .collect()
        })
        .unwrap_or_default();
    // The company's own projects, by name; the form sends their ids.
    let projects = company(&state)
        .await
        .map(|company| company.projects)
        .unwrap_or_default();
    let boxes: String = projects
        .iter()
        .map(|project| {
            let id = escape(project.id.as_str());
            let checked = if permitted.contains(project.id.as_str()) { " checked" } else { "" };
            format!(
                "<label><input type=\"checkbox\" name=\"projects\" value=\"{id}\"{checked}> {}</label> ",
                escape(&project.name)
            )
        })
        .collect();
    let base = format!("/admin/apps/{}", escape(client_id.as_str()));
    let active = status == Some(InstallationStatus::Active);
    let action = if active { "projects" } else { "install" };
    let label = if active {
        "Save permitted projects"
    } else {
        "Install"
    };
    body.push_str(&format!("<form method=\"post\" action=\"{base}/{action}\"><p>Permitted projects: {boxes}</p><button>{label}</button></form>"));
    if !active {
        body.push_str(&format!(
            "<form method=\"post\" action=\"{base}/deny\"><button>Deny</button></form>"
        ));
    } else {
        body.push_str(&format!(
            "<form method=\"post\" action=\"{base}/uninstall\"><button>Uninstall</button></form>"
        ));
    }
    if installation
        .as_ref()
        .is_some_and(|i| active && i.pending_manifest.is_some())
    {
        body.push_str(&format!("<form method=\"post\" action=\"{base}/approve-update\"><button>Approve the manifest update</button></form>"));
    }
    Html(format!("<!doctype html><html><body>{body}</body></html>")).into_response()
}

async fn admin_form<S: Store + DirectoryStore + Clone>(
    State(state): State<DemoState<S>>,
    Path((client_id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let admin = match same_origin(&state, &headers).and_then(|()| signed_in_admin(&state, &headers))
    {
        Ok(admin) => admin,
        Err(error) => return error.into_response(),
    };
    // Checkbox forms repeat `projects`, which serde's form decoding cannot collect.
    let projects: Vec<String> = url::form_urlencoded::parse(body.as_bytes())
        .filter(|(name, _)| name == "projects")
        .map(|(_, value)| value.into_owned())
        .collect();
    match run_admin_action(
        &state,
        &admin,
        &ClientId::new(client_id.as_str()),
        &action,
        projects,
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/admin/apps/{client_id}")).into_response(),
        Err(error) => error.into_response(),
    }
}
