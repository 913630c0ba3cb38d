//! The demo platform: an authorization server mounted next to a small construction API
//! (RFIs on projects), a demo sign-in, and the library's pages: the company's app
//! administration, a person's connected apps and the developer routes. Its own part of
//! installing an app is only the request a member makes from the host's app catalog.
//!
//! Shared by `examples/server/main.rs` and the HTTP integration tests.
#![allow(dead_code)]

use appgrant::config::RefreshReuse;
use appgrant::grant::AppRegistration;
use appgrant::http::{
    self, HttpOptions, ResourceGuard, ResourceRejection, ResourceRequest, SignIn, SignedIn,
};
use appgrant::model::{
    AppFlows, AppProfile, ApplicationType, ClientAuthMethod, ClientId, ClientSecurity, ClientType,
    Company, CompanyId, ConsentInstall, DpopBinding, InstallationError, Level, Manifest,
    OUT_OF_BAND, Permissions, ProjectId, Scope, Tool, User, UserId,
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
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The demo over the in-memory store, as the tests run it.
pub type Server = AuthorizationServer<MemoryStore>;

pub const COMPANY: &str = "acme";
pub const PROJECTS: [&str; 2] = ["tower", "depot"];
pub const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";
/// The native demo app's redirect URI: a loopback IP one, matched at any port (RFC 8252 §7.3).
pub const NATIVE_REDIRECT_URI: &str = "http://127.0.0.1/callback";
const SESSION_COOKIE: &str = "demo_session";
/// The demo platform's tools: scopes name them (`rfis:write`, `directory:read`).
pub const DEMO_TOOLS: [&str; 2] = ["rfis", "directory"];
/// The browser origins the demo lets call its token and revocation endpoints (CORS): a
/// single-page app on a developer's machine.
pub const CORS_ORIGINS: [&str; 2] = ["http://localhost:3000", "http://127.0.0.1:3000"];

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
    /// The browser origins allowed to call the token and revocation endpoints (CORS).
    pub cors_origins: Vec<String>,
    /// The audience of a token asked for without `resource`: the demo API (not the issuer).
    pub default_audience: String,
    /// The resource servers a client may name with `resource` (RFC 8707): the API at
    /// `/api/…` and the file store at `/files/…`, each accepting only tokens for itself.
    pub resources: Vec<String>,
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
    /// A native app (RFC 8252): its loopback redirect URI matches at any port.
    pub native: bool,
    /// How it authenticates at the token endpoint: `client_secret_basic` (or `_post`),
    /// `private_key_jwt` (RFC 7523), or `none` for a public client.
    pub token_endpoint_auth_method: String,
    /// For `private_key_jwt`: the demo private key it signs its assertions with (PKCS#8 PEM,
    /// P-256, ES256; derived from the deployment secret), and its `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_kid: Option<String>,
    /// Whether its tokens must be DPoP-bound (RFC 9449): every token request carries a proof.
    #[serde(default)]
    pub dpop_required: bool,
}

/// The kid of the keyed demo app's key.
const DEMO_CLIENT_KID: &str = "nightly-1";

/// The keyed demo app's P-256 key, derived from the deployment secret (so every instance
/// agrees on it): its public JWK to register, and its private PEM to print.
fn demo_client_key(secret: &DeploymentSecret) -> (serde_json::Value, String) {
    use base64::Engine;
    use p256::pkcs8::EncodePrivateKey;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let mut seed = secret.host_key("demo client key");
    // A 32-byte string is a valid P-256 scalar but for a vanishing fraction; try the next.
    let key = loop {
        match p256::ecdsa::SigningKey::from_slice(&seed) {
            Ok(key) => break key,
            Err(_) => seed[0] = seed[0].wrapping_add(1),
        }
    };
    let point = key.verifying_key().to_encoded_point(false);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": DEMO_CLIENT_KID, "alg": "ES256",
        "x": point.x().map(|x| b64(x)), "y": point.y().map(|y| b64(y)),
    });
    let pem = key
        .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
        .map(|pem| pem.to_string())
        .unwrap_or_default();
    (jwk, pem)
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
    // This site's origin (the issuer), which sign-ins and install requests must come from.
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

/// A deliberately broken demo, chosen with `APPGRANT_DEMO_SABOTAGE`, to show that the suites
/// that drive the demo (the `oauth2` crate's in tests/http_oauth2_client.rs, oauth4webapi's in
/// tests/js) go red when the server misbehaves (`scripts/gates-go-red.sh`). Never for real use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sabotage {
    /// `refresh-reuse`: a rotated refresh token is accepted again for an hour instead of
    /// revoking its family (reuse detection off).
    RefreshReuse,
    /// `wrong-audience`: tokens are issued for an audience none of the demo's resource
    /// servers accepts.
    WrongAudience,
    /// `tampered-tokens`: every access token the token endpoint returns has one signature
    /// character changed.
    TamperedTokens,
}

impl Sabotage {
    /// The sabotage `APPGRANT_DEMO_SABOTAGE` names, if any; an unknown name is an error, so a
    /// typo cannot pass for a working server.
    pub fn from_env() -> Result<Option<Self>, String> {
        match std::env::var("APPGRANT_DEMO_SABOTAGE").ok().as_deref() {
            None | Some("") => Ok(None),
            Some("refresh-reuse") => Ok(Some(Self::RefreshReuse)),
            Some("wrong-audience") => Ok(Some(Self::WrongAudience)),
            Some("tampered-tokens") => Ok(Some(Self::TamperedTokens)),
            Some(other) => Err(format!(
                "APPGRANT_DEMO_SABOTAGE={other}: use refresh-reuse, wrong-audience or tampered-tokens"
            )),
        }
    }
}

/// Changes one signature character of the access token in a token response.
async fn tamper_tokens(response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let mut json: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(json) => json,
        Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
    };
    if let Some(token) = json["access_token"].as_str() {
        let mut tampered = token.to_owned();
        let last = if tampered.ends_with('A') { "B" } else { "A" };
        tampered.pop();
        tampered.push_str(last);
        json["access_token"] = serde_json::Value::String(tampered);
    }
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(json.to_string()))
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
    let mut config = Config::new(issuer);
    // The demo platform's tools, for scopes (`rfis:read`…) and their `scopes_supported`.
    config.tools = DEMO_TOOLS.into_iter().map(Tool::new).collect();
    // Two resource servers (RFC 8707): the API, the default audience, and the file store.
    let (api, files) = resource_servers(issuer);
    config.audience = api.clone();
    config.resources = vec![api, files];
    // A demo that misbehaves on purpose must never start by accident of a typo.
    let sabotage = Sabotage::from_env().unwrap_or_else(|reason| panic!("{reason}"));
    match sabotage {
        Some(Sabotage::RefreshReuse) => {
            config.refresh_reuse = RefreshReuse::GraceWindow(chrono::TimeDelta::hours(1));
        }
        Some(Sabotage::WrongAudience) => config.audience = format!("{issuer}/nowhere"),
        _ => {}
    }
    if let Some(sabotage) = sabotage {
        eprintln!(
            "WARNING: this demo is deliberately broken ({sabotage:?}), for scripts/gates-go-red.sh"
        );
    }
    let builder = AuthorizationServer::builder(store, config).deployment_secret(&secret);
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
    let web = [REDIRECT_URI, OUT_OF_BAND];
    let (client_jwk, client_pem) = demo_client_key(&secret);
    // A service-account app with no shared secret: it signs JWTs with its key
    // (`private_key_jwt`), and its tokens must be DPoP-bound.
    let keyed = ClientSecurity {
        authentication: ClientAuthMethod::PrivateKeyJwt {
            keys: vec![client_jwk],
        },
        dpop: DpopBinding::Required,
        ..ClientSecurity::default()
    };
    for (name, client_type, application_type, flows, redirect_uris, security) in [
        (
            "FieldSync",
            ClientType::Confidential,
            ApplicationType::Web,
            AppFlows::Both,
            &web[..],
            ClientSecurity::default(),
        ),
        (
            "FieldSync Mobile",
            ClientType::Public,
            ApplicationType::Web,
            AppFlows::UserDelegated,
            &web[..],
            ClientSecurity::default(),
        ),
        // A desktop app: it listens on a loopback port the system gives it, at any port.
        (
            "FieldSync Desktop",
            ClientType::Public,
            ApplicationType::Native,
            AppFlows::UserDelegated,
            &[NATIVE_REDIRECT_URI][..],
            ClientSecurity::default(),
        ),
        (
            "FieldSync Nightly",
            ClientType::Confidential,
            ApplicationType::Web,
            AppFlows::ServiceAccount,
            &[][..],
            keyed,
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
            application_type,
            name: name.into(),
            client_type,
            redirect_uris: redirect_uris.iter().map(|uri| (*uri).to_owned()).collect(),
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
            security: security.clone(),
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
            redirect_uri: redirect_uris.first().copied().unwrap_or_default().into(),
            client_type: format!("{client_type:?}").to_lowercase(),
            native: application_type == ApplicationType::Native,
            token_endpoint_auth_method: match (&security.authentication, client_type) {
                (ClientAuthMethod::PrivateKeyJwt { .. }, _) => "private_key_jwt",
                (_, ClientType::Public) => "none",
                (_, ClientType::Confidential) => "client_secret_basic",
            }
            .into(),
            private_key_pem: security.client_keys().map(|_| client_pem.clone()),
            private_key_kid: security.client_keys().map(|_| DEMO_CLIENT_KID.to_owned()),
            dpop_required: security.dpop == DpopBinding::Required,
        });
    }
    let options = HttpOptions {
        connected_apps_url: Some(http::CONNECTED_APPS_PATH.into()),
        // The demo's own constants: they are origins, so this cannot fail.
        cors_origins: http::CorsOrigins::parse(CORS_ORIGINS).expect("valid origins"),
        ..HttpOptions::default()
    };
    let sign_in = DemoSignIn::new(secret.host_key("demo sessions"));
    let developer_token = {
        use base64::Engine;
        let bytes = secret.host_key("demo developer token");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let (api, files) = resource_servers(issuer);
    let rfis = Arc::new(Mutex::new(Vec::new()));
    let file_store = FileStore {
        guard: ResourceGuard::new(server.clone(), &options)
            .serving(files.clone())
            .advertising_metadata(),
        rfis: Arc::clone(&rfis),
    };
    let state = DemoState {
        guard: ResourceGuard::new(server.clone(), &options)
            .serving(api.clone())
            .advertising_metadata(),
        server: server.clone(),
        sign_in: sign_in.clone(),
        passwords: Arc::new(passwords),
        rfis,
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
        cors_origins: CORS_ORIGINS
            .iter()
            .map(|origin| (*origin).to_owned())
            .collect(),
        default_audience: api.clone(),
        resources: vec![api, files],
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
        // Each resource server's metadata (RFC 9728), where its 401 challenges point.
        .merge(state.guard.metadata_router())
        .merge(file_store.guard.metadata_router())
        .merge(demo_routes(state))
        .merge(file_routes(file_store));
    let router = if sabotage == Some(Sabotage::TamperedTokens) {
        router.layer(axum::middleware::map_response(tamper_tokens))
    } else {
        router
    };
    Ok((router, seed, server))
}

/// The demo's resource servers' identifiers: its API (the default audience) and its file
/// store, each at its own path of the issuer's origin.
pub fn resource_servers(issuer: &str) -> (String, String) {
    let origin = issuer.trim_end_matches('/');
    (format!("{origin}/api"), format!("{origin}/files"))
}

/// The demo's second resource server, the file store: it accepts only tokens issued for it
/// (`resource` = its identifier, RFC 8707), and lists the files of a project's RFIs.
#[derive(Clone)]
struct FileStore {
    guard: ResourceGuard,
    rfis: Arc<Mutex<Vec<Rfi>>>,
}

impl FromRef<FileStore> for ResourceGuard {
    fn from_ref(state: &FileStore) -> Self {
        state.guard.clone()
    }
}

fn file_routes(state: FileStore) -> Router {
    Router::new()
        .route("/files/projects/{project}", get(list_files))
        .with_state(state)
}

/// One file of the file store: the PDF export of an RFI.
#[derive(Serialize)]
struct StoredFile {
    name: String,
    rfi: usize,
}

async fn list_files(
    State(state): State<FileStore>,
    Path(project): Path<String>,
    access: ResourceRequest,
) -> Result<Json<Vec<StoredFile>>, ResourceRejection> {
    let project_id = ProjectId::new(project.as_str());
    access
        .require(Some(&project_id), "rfis", Level::ReadOnly)
        .await?;
    let rfis = state
        .rfis
        .lock()
        .map(|rfis| rfis.clone())
        .unwrap_or_default();
    Ok(Json(
        rfis.into_iter()
            .filter(|rfi| rfi.project == project)
            .map(|rfi| StoredFile {
                name: format!("rfi-{}.pdf", rfi.id),
                rfi: rfi.id,
            })
            .collect(),
    ))
}

fn demo_routes<S: Store + DirectoryStore + Clone>(state: DemoState<S>) -> Router {
    let pages_and_api = Router::new()
        .route("/login", get(login_page).post(login::<S>))
        .route(
            "/apps/{client_id}/request-install",
            post(request_install::<S>),
        )
        .route(
            "/api/projects/{project}/rfis",
            get(list_rfis::<S>).post(create_rfi::<S>),
        );
    page_headers(pages_and_api)
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// The content security policy of the demo's pages: they load nothing but inline style, and
/// no other site may frame them (clickjacking). No `form-action`: browsers apply it to the
/// redirects that follow a form too, and a sign-in goes on to `/oauth/authorize`, which may
/// send the browser straight on to the client.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/// `routes` with the headers every demo page sends: like the library's pages, not framed and
/// not cached; unlike them, its URL sent as a referrer to this site only. (Not `no-referrer`:
/// under it browsers send `Origin: null` with a page's own form posts, which
/// `from_this_site` must refuse; the library's forms carry a token instead.) The API's JSON
/// gets them too, harmlessly.
fn page_headers<S>(routes: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.layer(axum::middleware::map_response(
        |mut response: Response| async move {
            let headers = response.headers_mut();
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_CSP),
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

/// Why the app catalog did not pass a member's install request on.
enum RequestRefused {
    /// A browser said another site's page sent it.
    CrossSite,
    /// Nobody is signed in.
    SignInFirst,
    /// The façade refused (not a member, no such app) or failed.
    Server(ServerError),
}

impl RequestRefused {
    /// The refusal as JSON (`{"error", "error_description"}`, as the library's admin JSON
    /// answers) or as a line of HTML for a form.
    fn respond(self, json: bool) -> Response {
        let (status, code, words) = match &self {
            RequestRefused::CrossSite => (
                StatusCode::FORBIDDEN,
                "cross_site",
                "ask for an install from this site's own pages".to_owned(),
            ),
            RequestRefused::SignInFirst => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in first".to_owned(),
            ),
            RequestRefused::Server(
                ServerError::NotAMember { .. } | ServerError::UnknownUser(_),
            ) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "only a member of Acme may ask for an install".to_owned(),
            ),
            // An app private to another company is, to Acme's members, no app at all.
            RequestRefused::Server(
                ServerError::UnknownApp(_)
                | ServerError::Installation(InstallationError::PrivateApp { .. }),
            ) => (StatusCode::NOT_FOUND, "not_found", "no such app".to_owned()),
            RequestRefused::Server(ServerError::Store(_) | ServerError::Busy) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again later".to_owned(),
            ),
            RequestRefused::Server(error) => (StatusCode::CONFLICT, "conflict", error.to_string()),
        };
        let mut response = if json {
            (
                status,
                Json(json!({ "error": code, "error_description": words })),
            )
                .into_response()
        } else {
            (status, Html(format!("<p>{}</p>", escape(&words)))).into_response()
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Whether the client asked for JSON (`Accept: application/json`) rather than a page.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|media| media.split(';').next())
        .any(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// What a path segment keeps as is: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `POST /apps/{client_id}/request-install`: the host's part of installing an app. In a real
/// platform a member asks from the host's own app catalog; appgrant records the request, and a
/// directory admin decides on the library's review page. A form is sent on to that page;
/// `Accept: application/json` gets the installation.
async fn request_install<S: Store + DirectoryStore + Clone>(
    State(state): State<DemoState<S>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let json = wants_json(&headers);
    // Another site's form must not ask in a member's name (the admin who then reviews it would
    // see the member as the one who asked).
    if !from_this_site(&state, &headers) {
        return RequestRefused::CrossSite.respond(json);
    }
    let Some(member) = state.sign_in.user(&headers) else {
        return RequestRefused::SignInFirst.respond(json);
    };
    let app = ClientId::new(client_id);
    let asked = state
        .server
        .request_installation(&CompanyId::new(COMPANY), &app, &member)
        .await;
    match asked {
        Ok(installation) if json => Json(installation).into_response(),
        Ok(_) => {
            let app = percent_encoding::utf8_percent_encode(app.as_str(), SEGMENT);
            Redirect::to(&format!("/admin/companies/{COMPANY}/apps/{app}")).into_response()
        }
        Err(error) => RequestRefused::Server(error).respond(json),
    }
}
