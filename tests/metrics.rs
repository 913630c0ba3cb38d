//! The server counts what it does through the `metrics` facade: grants by type and outcome,
//! decisions by outcome and reason, installation changes, store failures by operation, and
//! the router's requests timed by endpoint and status.
//!
//! Each test runs on a current-thread runtime under a recorder installed for that thread only
//! (`metrics::with_local_recorder`), so tests running in parallel do not count each other.

mod failing_store;
mod in_process;
mod support;

use appgrant::grant::{ClientAuthentication, TokenRequest};
use appgrant::model::{CompanyId, Level, ProjectId, Requirement, UserId};
use appgrant::server::telemetry::{
    DECISIONS_TOTAL, GRANTS_TOTAL, HTTP_REQUEST_DURATION_SECONDS, INSTALLATION_CHANGES_TOTAL,
    STORE_ERRORS_TOTAL,
};
use appgrant::{AuthorizationServer, Config};
use failing_store::FailingStore;
use in_process::{SignedInAs, basic, get, post_form};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use std::collections::BTreeSet;
use std::future::Future;
use support::world;

/// Runs `scenario` under a fresh recorder for this thread; returns what it recorded.
fn counted<F: Future<Output = ()>>(scenario: F) -> Recorded {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(scenario));
    Recorded::from(&snapshotter)
}

/// What a recorder holds: each metric's kind, name, labels and value.
struct Recorded(Vec<(CompositeKey, DebugValue)>);

impl Recorded {
    fn from(snapshotter: &Snapshotter) -> Self {
        let entries = snapshotter.snapshot().into_vec();
        Self(
            entries
                .into_iter()
                .map(|(key, _, _, value)| (key, value))
                .collect(),
        )
    }

    fn find(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        self.0
            .iter()
            .find(|(key, _)| {
                let key_labels: BTreeSet<(&str, &str)> = key
                    .key()
                    .labels()
                    .map(|label| (label.key(), label.value()))
                    .collect();
                key.kind() == kind
                    && key.key().name() == name
                    && key_labels == labels.iter().copied().collect()
            })
            .map(|(_, value)| value)
    }

    /// The counter's value; 0 if it was never touched.
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(MetricKind::Counter, name, labels) {
            Some(DebugValue::Counter(count)) => *count,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
            None => 0,
        }
    }

    /// How many samples the histogram holds.
    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        match self.find(MetricKind::Histogram, name, labels) {
            Some(DebugValue::Histogram(samples)) => samples.len(),
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
            None => 0,
        }
    }

    fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(key, value)| format!("{:?} {:?}", key.key(), value))
            .collect()
    }
}

fn grants(grant_type: &str, outcome: &str) -> [(&'static str, String); 2] {
    [
        ("grant_type", grant_type.to_owned()),
        ("outcome", outcome.to_owned()),
    ]
}

fn labels<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

#[test]
fn a_refresh_token_reuse_counts_as_an_invalid_grant_of_the_refresh_token_grant() {
    let recorded = counted(async {
        let world = world().await;
        let first = world.tokens_for(&world.john).await;
        let refresh = TokenRequest::RefreshToken {
            refresh_token: first.refresh_token.clone().unwrap(),
            scope: None,
            resource: None,
        };
        world
            .server
            .token(refresh.clone(), &world.client())
            .await
            .unwrap();
        world
            .server
            .token(refresh, &world.client())
            .await
            .unwrap_err();
    });
    let count =
        |grant_type, outcome| recorded.counter(GRANTS_TOTAL, &labels(&grants(grant_type, outcome)));
    assert_eq!(
        count("authorization_code", "issued"),
        1,
        "{:#?}",
        recorded.names()
    );
    assert_eq!(count("refresh_token", "issued"), 1);
    assert_eq!(count("refresh_token", "invalid_grant"), 1);
    assert_eq!(count("client_credentials", "issued"), 0);
}

#[test]
fn refused_client_authentication_counts_as_invalid_client() {
    let recorded = counted(async {
        let world = world().await;
        let wrong = ClientAuthentication::Basic {
            client_id: world.app.client_id.clone(),
            secret: appgrant::token::Secret::new("not the secret"),
        };
        let request = TokenRequest::ClientCredentials {
            company_id: None,
            scope: None,
            resource: None,
        };
        world.server.token(request, &wrong).await.unwrap_err();
    });
    let pairs = grants("client_credentials", "invalid_client");
    assert_eq!(recorded.counter(GRANTS_TOTAL, &labels(&pairs)), 1);
}

#[test]
fn decisions_are_counted_by_outcome_and_deny_reason() {
    let recorded = counted(async {
        let world = world().await;
        world.install_service_account(&[&world.tower]).await;
        let token = world.service_token(Some(&world.acme)).await;
        let tower = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
        let depot = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("depot");
        assert!(world.allowed(&token, &tower).await);
        assert!(world.allowed(&token, &tower).await);
        assert!(!world.allowed(&token, &depot).await);
        let decision = world.server.decide("not.a.token", &tower).await.unwrap();
        assert!(!decision.is_allowed());
    });
    let decisions = |outcome, reason| {
        recorded.counter(DECISIONS_TOTAL, &[("outcome", outcome), ("reason", reason)])
    };
    assert_eq!(decisions("allow", "none"), 2, "{:#?}", recorded.names());
    assert_eq!(decisions("deny", "project_not_permitted"), 1);
    assert_eq!(decisions("deny", "invalid_token"), 1);
    assert_eq!(decisions("deny", "revoked"), 0);
}

#[test]
fn installation_changes_are_counted_by_change_and_outcome() {
    let recorded = counted(async {
        let world = world().await;
        world.install_service_account(&[&world.tower]).await;
        world
            .server
            .uninstall(&world.acme, &world.app.client_id, &world.john)
            .await
            .unwrap_err();
        world
            .server
            .uninstall(&world.acme, &world.app.client_id, &world.jane)
            .await
            .unwrap();
    });
    let changes = |change, outcome| {
        recorded.counter(
            INSTALLATION_CHANGES_TOTAL,
            &[("change", change), ("outcome", outcome)],
        )
    };
    assert_eq!(
        changes("request_installation", "ok"),
        1,
        "{:#?}",
        recorded.names()
    );
    assert_eq!(changes("approve_installation", "ok"), 1);
    assert_eq!(changes("uninstall", "not_allowed"), 1);
    assert_eq!(changes("uninstall", "ok"), 1);
}

#[test]
fn store_failures_are_counted_by_the_operation_that_met_them() {
    let recorded = counted(async {
        let store = FailingStore::default();
        let server = AuthorizationServer::builder(store.clone(), Config::new(support::ISSUER))
            .build()
            .unwrap();
        let registered = server
            .register_app(support::both_flows_app())
            .await
            .unwrap();
        let credentials = ClientAuthentication::Basic {
            client_id: registered.app.client_id.clone(),
            secret: registered.client_secret.unwrap(),
        };
        store.fail(true);
        let request = TokenRequest::ClientCredentials {
            company_id: None,
            scope: None,
            resource: None,
        };
        server.token(request, &credentials).await.unwrap_err();
        server
            .approve_installation(
                &CompanyId::new("acme"),
                &registered.app.client_id,
                &UserId::new("jane"),
                BTreeSet::from([ProjectId::new("tower")]),
            )
            .await
            .unwrap_err();
        server.readiness().await.unwrap_err();
    });
    let failures = |operation| recorded.counter(STORE_ERRORS_TOTAL, &[("operation", operation)]);
    assert_eq!(failures("token"), 1, "{:#?}", recorded.names());
    assert_eq!(failures("approve_installation"), 1);
    assert_eq!(failures("readiness"), 1);
    let pairs = grants("client_credentials", "temporarily_unavailable");
    assert_eq!(recorded.counter(GRANTS_TOTAL, &labels(&pairs)), 1);
    let refused = [
        ("change", "approve_installation"),
        ("outcome", "store_error"),
    ];
    assert_eq!(recorded.counter(INSTALLATION_CHANGES_TOTAL, &refused), 1);
}

#[test]
fn the_routers_requests_are_timed_by_endpoint_and_status() {
    let recorded = counted(async {
        let world = world().await;
        let router = in_process::app(
            world.server.clone(),
            SignedInAs {
                user: world.john.clone(),
                company: world.acme.clone(),
                session: "a session".into(),
            },
        );
        let authorization = basic(world.app.client_id.as_str(), world.secret.expose());
        for _ in 0..2 {
            let issued = post_form(
                &router,
                "/oauth/token",
                &[("grant_type", "client_credentials")],
                Some(&authorization),
            )
            .await;
            assert_eq!(issued.status, 200);
        }
        let unsupported = post_form(
            &router,
            "/oauth/token",
            &[("grant_type", "password")],
            Some(&authorization),
        )
        .await;
        assert_eq!(unsupported.status, 400);
        assert_eq!(get(&router, "/healthz", None).await.status, 200);
        assert_eq!(get(&router, "/oauth/token/info", None).await.status, 401);
    });
    let timed = |endpoint, status| {
        recorded.samples(
            HTTP_REQUEST_DURATION_SECONDS,
            &[("endpoint", endpoint), ("status", status)],
        )
    };
    assert_eq!(timed("token", "200"), 2, "{:#?}", recorded.names());
    assert_eq!(timed("token", "400"), 1);
    assert_eq!(timed("healthz", "200"), 1);
    assert_eq!(timed("token_info", "401"), 1);
    let pairs = grants("client_credentials", "issued");
    assert_eq!(recorded.counter(GRANTS_TOTAL, &labels(&pairs)), 2);
    let pairs = grants("unknown", "unsupported_grant_type");
    assert_eq!(recorded.counter(GRANTS_TOTAL, &labels(&pairs)), 1);
}
