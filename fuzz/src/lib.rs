//! The world the fuzz targets drive: the tests' seed scenario (Acme, Jane the admin, one
//! confidential app using both flows) over a memory store, with every secret fixed so the
//! seed corpus can carry real credentials, and a tokio runtime built once.
//!
//! Fixed here (and only here, in the fuzz harness): the clock, the deployment secret (so the
//! consent-form and refresh-token keys are the same in every run), the signing key (from a
//! seeded RNG), the app's client id and its client secret.

use appgrant::grant::{AppRegistration, AuthorizationRequest, AuthorizationResponse, pkce};
use appgrant::http::{HttpOptions, SignIn, SignedIn, router};
use appgrant::model::*;
use appgrant::server::ManualClock;
use appgrant::store::AppStore;
use appgrant::token::{Algorithm, DeploymentSecret, KeySet, Secret, SigningKey};
use appgrant::{AuthorizationServer, Config, MemoryStore};
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use rand::SeedableRng;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

pub mod parsers;

pub const ISSUER: &str = "https://auth.example.com";
pub const REDIRECT: &str = "https://app.example.com/callback";
pub const CLIENT_ID: &str = "fuzz-app";
/// The seeded app's client secret. The seed corpus carries it so that successful token
/// requests are exercised; the targets assert that nothing succeeds without it.
pub const SECRET: &str = "fuzz-secret-4q9Zr7Lm2Xc8Vb1Nk5Tj";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9NSaT3r8cqOJn2mFzRCLFbwGk0123456789";
pub const SESSION: &str = "fuzz-session";

/// The RFC 6749 §5.2 error codes, plus RFC 8707's `invalid_target` and RFC 9449's
/// `invalid_dpop_proof`: what the token endpoint may answer (never `server_error`, and never
/// `temporarily_unavailable` over a memory store).
pub const TOKEN_ERRORS: [&str; 8] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "invalid_dpop_proof",
];

/// The fixed time every world lives at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

/// The tokio runtime every target runs its requests on (current thread, built once).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime")
    })
}

/// The signing keys, from a fixed seed.
pub fn key_set() -> KeySet {
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    KeySet::new(SigningKey::generate(Algorithm::EdDSA, &mut rng).unwrap())
}

/// A host whose session always names Jane, working in Acme.
#[derive(Clone)]
pub struct Jane;

impl SignIn for Jane {
    async fn signed_in(&self, _request: &Parts) -> Option<SignedIn> {
        Some(SignedIn {
            user: UserId::new("jane"),
            company: Some(CompanyId::new("acme")),
            session: Secret::new(SESSION),
        })
    }

    fn sign_in_url(&self, return_to: &str) -> String {
        format!("/login?return_to={return_to}")
    }
}

pub struct World {
    pub server: AuthorizationServer<MemoryStore>,
    pub router: Router,
    pub app: App,
}

fn registration() -> AppRegistration {
    AppRegistration {
        application_type: ApplicationType::Web,
        name: "FieldSync".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![REDIRECT.into(), OUT_OF_BAND.into()],
        flows: AppFlows::Both,
        manifest: Some(
            Manifest::new(1)
                .company_tool("directory", Level::ReadOnly)
                .project_tool("rfis", Level::Standard),
        ),
        ceiling: None,
        profile: Default::default(),
        owner: None,
        security: Default::default(),
    }
}

/// A fresh world: the seed scenario with the app installed in Acme on both projects (so
/// client-credentials requests can succeed too).
pub fn world() -> World {
    runtime().block_on(async {
        let secret = DeploymentSecret::from_bytes(&[0x5a; 32]).unwrap();
        let server = AuthorizationServer::builder(MemoryStore::new(), Config::new(ISSUER))
            .clock(Arc::new(ManualClock::new(now())))
            .deployment_secret(&secret)
            .keys(key_set())
            .build()
            .unwrap();
        let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
        let mut company = Company::new("acme", "Acme Construction")
            .with_project("tower", "Tower")
            .with_project("depot", "Depot");
        company.settings.consent_install = ConsentInstall::ForUserAccess;
        server.save_company(company).await.unwrap();
        server
            .save_user(User::person("jane", "Jane"))
            .await
            .unwrap();
        server
            .save_user(User::person("john", "John"))
            .await
            .unwrap();
        let (tower, depot) = (ProjectId::new("tower"), ProjectId::new("depot"));
        let jane_holds = Permissions::none()
            .with(Scope::Company, "directory", Level::Admin)
            .with(Scope::Project(tower.clone()), "rfis", Level::Admin)
            .with(Scope::Project(depot.clone()), "rfis", Level::Admin);
        server
            .set_membership(&acme, &jane, jane_holds)
            .await
            .unwrap();
        let john_holds =
            Permissions::none().with(Scope::Project(tower.clone()), "rfis", Level::ReadOnly);
        server
            .set_membership(&acme, &UserId::new("john"), john_holds)
            .await
            .unwrap();
        // The registered app, moved to a fixed client id with a fixed secret.
        let registered = server.register_app(registration()).await.unwrap();
        let mut app = registered.app;
        server.store().delete_app(&app.client_id).await.unwrap();
        app.client_id = ClientId::new(CLIENT_ID);
        app.secret_digest = Some(Secret::new(SECRET).digest());
        server.store().save_app(app.clone()).await.unwrap();
        server
            .request_installation(&acme, &app.client_id, &jane)
            .await
            .unwrap();
        server
            .approve_installation(&acme, &app.client_id, &jane, [tower, depot].into())
            .await
            .unwrap();
        let router = router(server.clone(), Jane, HttpOptions::default());
        World {
            server,
            router,
            app,
        }
    })
}

/// The world built once per process, for targets whose requests change nothing.
pub fn shared_world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(world)
}

/// The seed scenario's authorization request.
pub fn authorization_request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: Some(CLIENT_ID.into()),
        redirect_uri: Some(REDIRECT.into()),
        response_type: Some("code".into()),
        state: Some("xyz".into()),
        scope: None,
        code_challenge: Some(pkce::challenge_of(VERIFIER)),
        code_challenge_method: Some("S256".into()),
        resource: None,
    }
}

impl World {
    /// A code for Jane, as the consent page's "allow" gives it.
    pub fn code(&self) -> String {
        runtime().block_on(async {
            let response = self
                .server
                .approve_authorization(
                    &authorization_request(),
                    &UserId::new("jane"),
                    Some(&CompanyId::new("acme")),
                )
                .await
                .unwrap();
            let AuthorizationResponse::Redirect(location) = response else {
                panic!("expected a redirect");
            };
            query_param(location.expose(), "code").unwrap()
        })
    }

    /// Sends `request` and reads the whole answer.
    pub fn send(&self, request: Request<Body>) -> Answer {
        send_to(&self.router, request)
    }
}

/// Sends `request` to `router` on the shared runtime and reads the whole answer.
pub fn send_to(router: &Router, request: Request<Body>) -> Answer {
    runtime().block_on(async {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: bytes.to_vec(),
        }
    })
}

/// A response, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "{} answered a body that is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(axum::http::header::LOCATION)
            .map(|value| value.to_str().expect("a Location header in ASCII"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Splits fuzz input at the first occurrence of `separator` (or not at all).
pub fn split(data: &[u8], separator: u8) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|byte| *byte == separator) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    }
}

/// Form-decodes `raw` independently of the library (the `url` crate), empty values dropped
/// (RFC 6749 §3.1, as the library does), first value of a name kept.
pub fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(raw) {
        if value.is_empty() || pairs.iter().any(|(seen, _)| *seen == name) {
            continue;
        }
        pairs.push((name.into_owned(), value.into_owned()));
    }
    pairs
}
