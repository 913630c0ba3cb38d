//! The log never shows a secret, and it does show every grant, decision and installation
//! change with the fields an operator needs.
//!
//! A whole scenario runs (over the library's router where there is an endpoint for it, through
//! the façade otherwise) under a subscriber that records everything at TRACE, as text with span
//! events and as JSON with the span list. Every secret the scenario handled, raw and as the
//! digest the store keeps (hex and base64), is then looked for in what was recorded; and the
//! events the scenario must have produced are looked for too, so the test cannot pass by
//! logging nothing.

mod failing_store;
mod in_process;
mod support;

use appgrant::grant::{ClientAuthentication, TokenRequest};
use appgrant::model::{ClientType, CompanyId, Level, ProjectId, Requirement, SecretDigest, UserId};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use failing_store::{FAILURE, FailingStore};
use in_process::{Answer, SignedInAs, basic, get, hidden_inputs, post_form, query_param};
use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use support::{REDIRECT, VERIFIER, world};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;

// ---------------------------------------------------------------------------------------------
// Capturing the log

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for CapturedWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = CapturedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CapturedWriter(Arc::clone(&self.0))
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs `scenario` on a current-thread runtime (so the subscriber sees all of its work) with
/// everything recorded at TRACE, as text (span events included) and as JSON (with the span
/// list). Returns what the scenario returned and the whole log.
fn run_logged<F: Future>(scenario: F) -> (F::Output, String) {
    let captured = Captured::default();
    let text = tracing_subscriber::fmt::layer()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE);
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(captured.clone())
        .with_current_span(true)
        .with_span_list(true);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(text)
        .with(json);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let output = tracing::subscriber::with_default(subscriber, || runtime.block_on(scenario));
    (output, captured.text())
}

// ---------------------------------------------------------------------------------------------
// What must not appear

/// The secrets a scenario handled, each in every form that would give it away.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn bytes(&mut self, what: &str, bytes: &[u8]) {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        for (form, needle) in [
            ("hex", hex.clone()),
            ("HEX", hex.to_uppercase()),
            ("base64", STANDARD.encode(bytes)),
            ("base64 unpadded", STANDARD_NO_PAD.encode(bytes)),
            ("base64url", URL_SAFE.encode(bytes)),
            ("base64url unpadded", URL_SAFE_NO_PAD.encode(bytes)),
        ] {
            self.0.push((format!("{what} ({form})"), needle));
        }
    }

    /// An opaque secret: neither it nor its SHA-256 digest may appear.
    fn secret(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 16, "{what} is too short to look for");
        self.0.push((what.to_owned(), value.to_owned()));
        self.bytes(&format!("digest of {what}"), &SecretDigest::of(value).0);
    }

    /// An access token: nor its signature.
    fn token(&mut self, what: &str, token: &str) {
        self.secret(what, token);
        let signature = token.rsplit('.').next().unwrap();
        self.0
            .push((format!("signature of {what}"), signature.to_owned()));
    }

    fn assert_absent_from(&self, log: &str) {
        assert!(self.0.len() > 50, "the scenario handled too few secrets");
        let leaks: Vec<String> = self
            .0
            .iter()
            .filter(|(_, needle)| log.contains(needle.as_str()))
            .map(|(what, _)| what.clone())
            .collect();
        assert!(
            leaks.is_empty(),
            "the log shows: {}\n\nlog:\n{log}",
            leaks.join(", ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// What must appear

/// The text lines of the log (the JSON lines are checked for secrets, not read).
fn text_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|line| !line.starts_with('{')).collect()
}

/// Asserts that some text line of `log` holds every one of `parts`.
fn assert_logged(log: &str, parts: &[&str]) {
    assert!(
        text_lines(log)
            .iter()
            .any(|line| parts.iter().all(|part| line.contains(part))),
        "no log line has all of {parts:?}; log:\n{}",
        text_lines(log).join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The scenario

fn form_of(page: &Answer) -> Vec<(String, String)> {
    assert_eq!(page.status, 200, "{}", page.body);
    hidden_inputs(&page.body)
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// Every flow and its failures; returns every secret it handled.
async fn scenario() -> Secrets {
    let world = world().await;
    let server = &world.server;
    let mut secrets = Secrets::default();
    let client_id = world.app.client_id.to_string();
    let client_secret = world.secret.expose().to_owned();
    let session = Secret::generate(&mut rand::rngs::OsRng).expose().to_owned();
    let state = Secret::generate(&mut rand::rngs::OsRng).expose().to_owned();
    let wrong_secret = Secret::generate(&mut rand::rngs::OsRng).expose().to_owned();
    let authorization = basic(&client_id, &client_secret);
    let wrong_authorization = basic(&client_id, &wrong_secret);
    secrets.secret("client secret", &client_secret);
    secrets.secret("wrong client secret", &wrong_secret);
    secrets.secret("session id", &session);
    secrets.secret("state", &state);
    secrets.secret("code verifier", VERIFIER);
    secrets.secret("Authorization header", &authorization);
    secrets.secret("wrong Authorization header", &wrong_authorization);
    let router = in_process::app(
        server.clone(),
        SignedInAs {
            user: world.john.clone(),
            company: world.acme.clone(),
            session: session.clone(),
        },
    );

    // Authorization code with PKCE, over HTTP: the consent page, John allows.
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", state.as_str()),
            ("code_challenge", support::challenge().as_str()),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let consent = get(&router, &format!("/oauth/authorize?{query}"), None).await;
    let mut form = form_of(&consent);
    let csrf = form.iter().find(|(name, _)| name == "csrf_token").unwrap();
    secrets.secret("consent form token", &csrf.1.clone());
    form.push(("decision".into(), "allow".into()));
    let allowed = post_form(&router, "/oauth/authorize", &pairs(&form), None).await;
    assert_eq!(allowed.status, 303);
    let code = query_param(allowed.location(), "code").unwrap();
    secrets.secret("code", &code);

    // The exchange, with the client secret in the wrong place first.
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let refused = post_form(
        &router,
        "/oauth/token",
        &exchange,
        Some(&wrong_authorization),
    )
    .await;
    assert_eq!(refused.status, 401);
    let exchanged = post_form(&router, "/oauth/token", &exchange, Some(&authorization)).await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    let first = exchanged.json();
    let first_access = first["access_token"].as_str().unwrap().to_owned();
    let first_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    secrets.token("first access token", &first_access);
    secrets.secret("first refresh token", &first_refresh);
    // The code again: reuse, which revokes what it gave.
    let reused = post_form(&router, "/oauth/token", &exchange, Some(&authorization)).await;
    assert_eq!(reused.json()["error"], "invalid_grant");

    // A second authorization (façade), exchanged and refreshed, then the old refresh token
    // again: reuse, the family revoked.
    let second_code = world.code_for(&world.john).await;
    secrets.secret("second code", second_code.expose());
    let second = server
        .token(world.exchange_request(second_code), &world.client())
        .await
        .unwrap();
    let second_refresh = second.refresh_token.clone().unwrap();
    secrets.token("second access token", second.access_token.expose());
    secrets.secret("second refresh token", second_refresh.expose());
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", second_refresh.expose()),
    ];
    let rotated = post_form(&router, "/oauth/token", &refresh, Some(&authorization)).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated = rotated.json();
    let rotated_access = rotated["access_token"].as_str().unwrap().to_owned();
    let rotated_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    secrets.token("rotated access token", &rotated_access);
    secrets.secret("rotated refresh token", &rotated_refresh);
    let replayed = post_form(&router, "/oauth/token", &refresh, Some(&authorization)).await;
    assert_eq!(replayed.json()["error"], "invalid_grant");
    // A made-up refresh token, sent with client_secret_post.
    let made_up = Secret::generate(&mut rand::rngs::OsRng);
    secrets.secret("made-up refresh token", made_up.expose());
    let unknown = post_form(
        &router,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", made_up.expose()),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
        ],
        None,
    )
    .await;
    assert_eq!(unknown.json()["error"], "invalid_grant");
    let unsupported = post_form(
        &router,
        "/oauth/token",
        &[
            ("grant_type", "password"),
            ("password", wrong_secret.as_str()),
        ],
        Some(&authorization),
    )
    .await;
    assert_eq!(unsupported.json()["error"], "unsupported_grant_type");

    // The installation: Jane asks and approves on the tower; John may not deny it.
    server
        .request_installation(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    server
        .approve_installation(
            &world.acme,
            &world.app.client_id,
            &world.jane,
            BTreeSet::from([world.tower.clone()]),
        )
        .await
        .unwrap();
    server
        .deny_installation(&world.acme, &world.app.client_id, &world.john)
        .await
        .unwrap_err();
    server
        .set_permitted_projects(
            &world.acme,
            &world.app.client_id,
            &world.jane,
            BTreeSet::from([world.tower.clone()]),
        )
        .await
        .unwrap();

    // Client credentials over HTTP, then introspection and token info.
    let service = post_form(
        &router,
        "/oauth/token",
        &[("grant_type", "client_credentials"), ("company_id", "acme")],
        Some(&authorization),
    )
    .await;
    assert_eq!(service.status, 200, "{}", service.body);
    let service_token = service.json()["access_token"].as_str().unwrap().to_owned();
    secrets.token("service-account token", &service_token);
    let introspected = post_form(
        &router,
        "/oauth/introspect",
        &[("token", service_token.as_str())],
        Some(&authorization),
    )
    .await;
    assert_eq!(introspected.json()["active"], true);
    let bearer = format!("Bearer {service_token}");
    let info = get(&router, "/oauth/token/info", Some(&bearer)).await;
    assert_eq!(info.status, 200);

    // Decisions: allowed on the tower, denied on the depot, denied for revoked and forged
    // tokens.
    let tower = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    let depot = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("depot");
    assert!(
        server
            .decide(&service_token, &tower)
            .await
            .unwrap()
            .is_allowed()
    );
    assert!(
        !server
            .decide(&service_token, &depot)
            .await
            .unwrap()
            .is_allowed()
    );
    assert!(
        !server
            .decide(&rotated_access, &tower)
            .await
            .unwrap()
            .is_allowed()
    );
    let forged = format!("{}{}", &service_token[..service_token.len() - 4], "AAAA");
    secrets.token("forged token", &forged);
    assert!(!server.decide(&forged, &tower).await.unwrap().is_allowed());

    // Discovery and probes.
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
    ] {
        assert_eq!(get(&router, path, None).await.status, 200, "{path}");
    }

    // Revocation over HTTP, then the uninstall, after which the token is denied.
    let revoked = post_form(
        &router,
        "/oauth/revoke",
        &[("token", first_refresh.as_str())],
        Some(&authorization),
    )
    .await;
    assert_eq!(revoked.status, 200);
    server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    let after = server
        .decide(&service_token, &tower)
        .await
        .unwrap()
        .decision;
    assert!(!after.is_allowed());
    secrets
}

#[test]
fn a_whole_scenario_logged_at_trace_shows_no_secret() {
    let (secrets, log) = run_logged(scenario());
    secrets.assert_absent_from(&log);
}

#[test]
fn the_log_names_every_endpoint_grant_decision_and_installation_change() {
    let (_, log) = run_logged(scenario());
    // Every endpoint, in its span.
    for endpoint in [
        "authorize",
        "authorize_decision",
        "token",
        "revoke",
        "introspect",
        "token_info",
        "metadata",
        "jwks",
        "healthz",
        "readyz",
    ] {
        assert_logged(
            &log,
            &[
                &format!("endpoint=\"{endpoint}\""),
                "request answered",
                "status=",
            ],
        );
    }
    // Grants: issued, and refused with their OAuth error code.
    assert_logged(
        &log,
        &[
            "authorization code issued",
            "outcome=\"code_issued\"",
            "user=john",
        ],
    );
    for grant_type in ["authorization_code", "refresh_token", "client_credentials"] {
        assert_logged(
            &log,
            &[
                "token issued",
                &format!("grant_type=\"{grant_type}\""),
                "outcome=\"issued\"",
                "latency_ms=",
            ],
        );
    }
    assert_logged(
        &log,
        &[
            "WARN",
            "token refused",
            "grant_type=\"refresh_token\"",
            "outcome=\"invalid_grant\"",
            "refresh token already used",
        ],
    );
    assert_logged(
        &log,
        &[
            "WARN",
            "token refused",
            "grant_type=\"authorization_code\"",
            "outcome=\"invalid_grant\"",
            "authorization code already used",
        ],
    );
    assert_logged(
        &log,
        &[
            "token refused",
            "grant_type=\"authorization_code\"",
            "outcome=\"invalid_client\"",
        ],
    );
    assert_logged(
        &log,
        &[
            "token request refused",
            "grant_type=\"unknown\"",
            "outcome=\"unsupported_grant_type\"",
        ],
    );
    assert_logged(
        &log,
        &[
            "token issued",
            "grant_type=\"client_credentials\"",
            "company=\"acme\"",
        ],
    );
    assert_logged(&log, &["revocation answered", "outcome=\"revoked\""]);
    assert_logged(&log, &["introspection answered", "outcome=\"active\""]);
    assert_logged(&log, &["token info answered", "outcome=\"active\""]);
    // Decisions: allowed, and denied with the reason.
    assert_logged(
        &log,
        &[
            "access allowed",
            "outcome=\"allow\"",
            "company=\"acme\"",
            "project=\"tower\"",
        ],
    );
    for reason in [
        "project_not_permitted",
        "revoked",
        "invalid_token",
        "app_uninstalled",
    ] {
        assert_logged(
            &log,
            &[
                "access denied",
                "outcome=\"deny\"",
                &format!("reason=\"{reason}\""),
                "detail=",
            ],
        );
    }
    // Installation changes, made and refused.
    for change in [
        "install_by_consent",
        "request_installation",
        "approve_installation",
        "set_permitted_projects",
        "uninstall",
    ] {
        assert_logged(
            &log,
            &[
                "installation changed",
                &format!("change=\"{change}\""),
                "outcome=\"ok\"",
            ],
        );
    }
    assert_logged(
        &log,
        &[
            "installation change refused",
            "change=\"deny_installation\"",
            "outcome=\"not_allowed\"",
            "actor=\"john\"",
        ],
    );
}

/// A server over a store that fails on demand, with the seed world's app registered.
async fn failing_world() -> (
    AuthorizationServer<FailingStore>,
    FailingStore,
    ClientAuthentication,
) {
    let store = FailingStore::default();
    let server = AuthorizationServer::builder(store.clone(), Config::new(support::ISSUER))
        .build()
        .unwrap();
    let registered = server
        .register_app(support::both_flows_app())
        .await
        .unwrap();
    assert_eq!(registered.app.client_type, ClientType::Confidential);
    let credentials = ClientAuthentication::Basic {
        client_id: registered.app.client_id,
        secret: registered.client_secret.unwrap(),
    };
    (server, store, credentials)
}

#[test]
fn a_store_failure_is_logged_as_an_error_with_its_operation_and_cause() {
    let ((), log) = run_logged(async {
        let (server, store, credentials) = failing_world().await;
        let request = TokenRequest::ClientCredentials {
            company_id: None,
            scope: None,
            resource: None,
        };
        let token = server.token(request.clone(), &credentials).await.unwrap();
        store.fail(true);
        server.token(request, &credentials).await.unwrap_err();
        let requirement = Requirement::new("acme", "rfis", Level::ReadOnly);
        server
            .decide(token.access_token.expose(), &requirement)
            .await
            .unwrap_err();
        server
            .approve_installation(
                &CompanyId::new("acme"),
                credentials.client_id(),
                &UserId::new("jane"),
                BTreeSet::from([ProjectId::new("tower")]),
            )
            .await
            .unwrap_err();
        server.readiness().await.unwrap_err();
    });
    for operation in ["token", "check_access", "approve_installation", "readiness"] {
        assert_logged(
            &log,
            &[
                "ERROR",
                "store call failed",
                &format!("operation=\"{operation}\""),
                FAILURE,
            ],
        );
    }
    assert_logged(
        &log,
        &[
            "token refused",
            "grant_type=\"client_credentials\"",
            "outcome=\"temporarily_unavailable\"",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// The developer portal

/// A host whose every caller is the developer of every app (the log test needs no more).
struct EveryonesApps;

impl appgrant::http::DeveloperAuth for EveryonesApps {
    type Developer = ();

    async fn developer(&self, _: &axum::http::request::Parts) -> Option<()> {
        Some(())
    }

    fn may_manage(&self, _: &(), _: &appgrant::model::App) -> bool {
        true
    }
}

/// `method path` on the developer router with a JSON body.
async fn developer_call(
    router: &axum::Router,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> Answer {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    in_process::send(router, request).await
}

#[test]
fn a_developers_changes_are_logged_and_a_rotated_secret_never_is() {
    let (secrets, log) = run_logged(async {
        let world = world().await;
        world.install_service_account(&[&world.tower]).await;
        let router = appgrant::http::developer_router(
            world.server.clone(),
            EveryonesApps,
            appgrant::http::HttpOptions::default(),
        );
        let app = format!("/developer/apps/{}", world.app.client_id);
        let rotated = developer_call(
            &router,
            "POST",
            &format!("{app}/secret"),
            serde_json::json!({"overlap_seconds": 60}),
        )
        .await;
        assert_eq!(rotated.status, 200);
        let renamed = developer_call(
            &router,
            "PATCH",
            &app,
            serde_json::json!({"name": "Renamed"}),
        )
        .await;
        assert_eq!(renamed.status, 200);
        let refused = developer_call(
            &router,
            "PATCH",
            &app,
            serde_json::json!({"redirect_uris": ["http://evil.example.com"]}),
        )
        .await;
        assert_eq!(refused.status, 400);
        let deleted = developer_call(&router, "DELETE", &app, serde_json::json!({})).await;
        assert_eq!(deleted.status, 204);
        let mut secrets = Secrets::default();
        secrets.secret("old client secret", world.secret.expose());
        let new = rotated.json()["client_secret"].as_str().unwrap().to_owned();
        secrets.secret("new client secret", &new);
        secrets
    });
    for (what, needle) in &secrets.0 {
        assert!(!log.contains(needle.as_str()), "the log shows the {what}");
    }
    for change in ["rotate_client_secret", "update_app", "delete_app"] {
        assert_logged(&log, &["app change", &format!("change=\"{change}\"")]);
    }
    assert_logged(
        &log,
        &[
            "app changed",
            "change=\"rotate_client_secret\"",
            "outcome=\"ok\"",
        ],
    );
    assert_logged(
        &log,
        &["app change refused", "outcome=\"invalid_registration\""],
    );
    assert_logged(
        &log,
        &[
            "installation changed",
            "change=\"delete_app\"",
            "company=\"acme\"",
        ],
    );
    for endpoint in ["developer_app_secret", "developer_app"] {
        assert_logged(
            &log,
            &[
                &format!("endpoint=\"{endpoint}\""),
                "request answered",
                "status=",
            ],
        );
    }
}
