//! One whole resource-server decision on each store: validate the service account's token,
//! read the installation, the account, its permissions and the revocation, decide. The ids are
//! `decide/memory`, `decide/sqlite` and `decide/postgres` (PostgreSQL only when
//! `APPGRANT_TEST_POSTGRES_URL` is set), and `decide_unremembered/…` with the verified-token
//! cache off, so each run shows what the cache saves next to what the store reads cost; and
//! `decide_32_in_flight/…`: 32 callers deciding at once, as a busy resource server does (the
//! time per decision is the inverse of their throughput), where SQL stores share statements.
//!
//! Run with `cargo bench --bench decisions` (criterion flags after `--`). Compare ratios within
//! one run, never absolute times across machines.

use appgrant::audit::{AuditEvent, AuditSink};
use appgrant::grant::{AppRegistration, ClientAuthentication, TokenRequest};
use appgrant::model::{
    AppFlows, ClientType, Company, CompanyId, Level, Manifest, Permissions, ProjectId, Requirement,
    Scope, User, UserId,
};
use appgrant::store::{DirectoryStore, SqlStore, Store};
use appgrant::{AuthorizationServer, Config, MemoryStore};
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const ISSUER: &str = "https://auth.example.com";

/// Audit events go nowhere (the default in-memory sink would grow for the whole run).
struct DiscardAudit;

impl AuditSink for DiscardAudit {
    fn record(&self, _event: AuditEvent) {}
}

/// A server on `store` with one company, its admin, and an app whose service account is
/// installed on the tower project; the account's token and what the API asks of it.
struct Scene<S> {
    server: AuthorizationServer<S>,
    token: String,
    requirement: Requirement,
}

async fn scene<S: Store + DirectoryStore + Clone>(store: S, remembered: usize) -> Scene<S> {
    let mut config = Config::new(ISSUER);
    config.verified_token_cache = remembered;
    let server = AuthorizationServer::builder(store, config)
        .audit(Arc::new(DiscardAudit))
        .build()
        .expect("a server");
    let acme = CompanyId::new("acme");
    let company = Company::new("acme", "Acme").with_project("tower", "Tower");
    server.save_company(company).await.expect("a company");
    let jane = UserId::new("jane");
    server
        .save_user(User::person("jane", "Jane"))
        .await
        .expect("a user");
    let admin = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    server
        .set_membership(&acme, &jane, admin)
        .await
        .expect("a membership");
    let registration = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        name: "FieldSync".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec!["https://app.example.com/callback".into()],
        flows: AppFlows::ServiceAccount,
        manifest: Some(Manifest::new(1).project_tool("rfis", Level::Standard)),
        ceiling: None,
        profile: Default::default(),
        owner: None,
        security: Default::default(),
    };
    let registered = server.register_app(registration).await.expect("an app");
    let app = registered.app.client_id.clone();
    server
        .request_installation(&acme, &app, &jane)
        .await
        .expect("a request");
    let tower = BTreeSet::from([ProjectId::new("tower")]);
    server
        .approve_installation(&acme, &app, &jane, tower)
        .await
        .expect("an installation");
    let client = ClientAuthentication::Basic {
        client_id: app,
        secret: registered.client_secret.expect("a secret"),
    };
    let request = TokenRequest::ClientCredentials {
        company_id: Some(acme),
        scope: None,
        resource: None,
    };
    let issued = server.token(request, &client).await.expect("a token");
    Scene {
        server,
        token: issued.access_token.expose().to_owned(),
        requirement: Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower"),
    }
}

fn bench_scene<S: Store + DirectoryStore + Clone + 'static>(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    store: impl Fn() -> S,
) {
    for (group, remembered) in [("decide", 16_384), ("decide_unremembered", 0)] {
        let scene = rt.block_on(scene(store(), remembered));
        let mut benches = c.benchmark_group(group);
        benches.bench_function(name, |b| b.to_async(rt).iter(|| decide_allowed(&scene)));
        benches.finish();
    }
    let scene = Arc::new(rt.block_on(scene(store(), 16_384)));
    let mut benches = c.benchmark_group("decide_32_in_flight");
    benches.bench_function(name, |b| {
        b.to_async(rt)
            .iter_custom(|decisions| in_flight(Arc::clone(&scene), decisions))
    });
    benches.finish();
}

/// One decision of the scene's token, which must be allowed.
async fn decide_allowed<S: Store + DirectoryStore + Clone>(scene: &Scene<S>) {
    let decision = scene
        .server
        .decide(&scene.token, &scene.requirement)
        .await
        .expect("a decision");
    assert!(decision.is_allowed());
}

/// How many decisions are made at once in `decide_32_in_flight`: wrk's connections in
/// scripts/load_by_store.py.
const IN_FLIGHT: usize = 32;

/// The time `IN_FLIGHT` callers, each deciding one after another, take to make `decisions`
/// between them.
async fn in_flight<S: Store + DirectoryStore + Clone + 'static>(
    scene: Arc<Scene<S>>,
    decisions: u64,
) -> Duration {
    let left = Arc::new(AtomicI64::new(i64::try_from(decisions).expect("a count")));
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (scene, left) = (Arc::clone(&scene), Arc::clone(&left));
        callers.spawn(async move {
            while left.fetch_sub(1, Ordering::Relaxed) > 0 {
                decide_allowed(&scene).await;
            }
        });
    }
    while let Some(caller) = callers.join_next().await {
        caller.expect("a caller");
    }
    started.elapsed()
}

fn decisions(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    bench_scene(c, &rt, "memory", MemoryStore::new);
    let file = std::env::temp_dir().join(format!("appgrant-decide-{}.db", std::process::id()));
    let url = format!("sqlite://{}", file.display());
    let sqlite = rt.block_on(SqlStore::connect(&url)).expect("SQLite");
    bench_scene(c, &rt, "sqlite", || sqlite.clone());
    if let Ok(url) = std::env::var("APPGRANT_TEST_POSTGRES_URL") {
        let postgres = rt.block_on(SqlStore::connect(&url)).expect("PostgreSQL");
        bench_scene(c, &rt, "postgres", || postgres.clone());
    }
    let _ = std::fs::remove_file(file);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = decisions
}
criterion_main!(benches);
