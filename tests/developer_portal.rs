#![cfg(feature = "axum")]
//! The developer portal's JSON routes (`http::developer_router`), called in-process: who may
//! see which app (the host says; anyone else's app is a 404, exactly like no app), what each
//! route changes, the errors (401, 400, 415, 413, 503 with Retry-After, never 500), and that no
//! answer ever carries a secret or a digest of one, except the new secret of a rotation.

mod failing_store;
mod in_process;
mod support;

use appgrant::grant::{ClientAuthentication, TokenError, TokenRequest};
use appgrant::http::{DeveloperAuth, HttpOptions, developer_router};
use appgrant::model::*;
use appgrant::store::{Directory, Store};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config};
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode, header};
use failing_store::FailingStore;
use in_process::{Answer, send};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use support::World;

const TEAM: &str = "fieldsync-team";
const OTHER_TEAM: &str = "globex-team";

/// The host's developer accounts: the `x-developer` header names the developer (for the test
/// only), and each app belongs to the team that registered it.
#[derive(Clone, Default)]
struct Portal {
    owners: Arc<Mutex<BTreeMap<ClientId, String>>>,
}

impl Portal {
    fn owns(&self, team: &str, app: &ClientId) {
        self.owners
            .lock()
            .unwrap()
            .insert(app.clone(), team.to_owned());
    }
}

impl DeveloperAuth for Portal {
    type Developer = String;

    async fn developer(&self, request: &Parts) -> Option<String> {
        let name = request.headers.get("x-developer")?.to_str().ok()?;
        Some(name.to_owned())
    }

    fn may_manage(&self, developer: &String, app: &App) -> bool {
        self.owners.lock().unwrap().get(&app.client_id) == Some(developer)
    }
}

struct Fixture {
    world: World,
    router: Router,
    /// Another team's app.
    other: App,
}

async fn fixture() -> Fixture {
    let world = support::world().await;
    let portal = Portal::default();
    portal.owns(TEAM, &world.app.client_id);
    let other = world
        .server
        .register_app(support::both_flows_app())
        .await
        .unwrap()
        .app;
    portal.owns(OTHER_TEAM, &other.client_id);
    let router = developer_router(world.server.clone(), portal, HttpOptions::default());
    Fixture {
        world,
        router,
        other,
    }
}

/// A request as `developer` (nobody if `None`), with a JSON body if given.
async fn call(
    router: &Router,
    method: Method,
    path: &str,
    developer: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(developer) = developer {
        request = request.header("x-developer", developer);
    }
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let answer = send(router, request.body(body).unwrap()).await;
    assert_ne!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
    assert_eq!(
        answer
            .headers
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{path} may be cached"
    );
    answer
}

fn app_path(app: &ClientId, rest: &str) -> String {
    format!("/developer/apps/{app}{rest}")
}

/// Every route about one app, with a body each would accept.
fn app_routes(app: &ClientId) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, app_path(app, ""), None),
        (
            Method::PATCH,
            app_path(app, ""),
            Some(json!({"name": "Taken over"})),
        ),
        (Method::DELETE, app_path(app, ""), None),
        (
            Method::POST,
            app_path(app, "/secret"),
            Some(json!({"overlap_seconds": 60})),
        ),
        (
            Method::POST,
            app_path(app, "/manifests"),
            Some(json!({"company": {"budget": "admin"}})),
        ),
        (Method::GET, app_path(app, "/installations"), None),
    ]
}

/// Whether the token endpoint accepts `secret` for `app` (a client-credentials grant).
async fn accepted(world: &World, app: &ClientId, secret: &Secret) -> bool {
    let credentials = ClientAuthentication::Basic {
        client_id: app.clone(),
        secret: secret.clone(),
    };
    let grant = TokenRequest::ClientCredentials {
        company_id: None,
        scope: None,
        resource: None,
    };
    match world.server.token(grant, &credentials).await {
        Ok(_) => true,
        Err(TokenError::InvalidClient(_)) => false,
        Err(other) => panic!("refused for another reason: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Who sees what
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_developer_lists_only_the_apps_they_manage() {
    let fixture = fixture().await;
    let answer = call(
        &fixture.router,
        Method::GET,
        "/developer/apps",
        Some(TEAM),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let listed: Vec<Value> = answer.json()["apps"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{}", answer.body);
    assert_eq!(listed[0]["client_id"], fixture.world.app.client_id.as_str());
    assert_eq!(listed[0]["name"], "FieldSync");

    let answer = call(
        &fixture.router,
        Method::GET,
        "/developer/apps",
        Some("nobody-team"),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"apps": []}));
}

#[tokio::test]
async fn a_developer_cannot_see_an_app_they_do_not_manage() {
    let fixture = fixture().await;
    let unknown = ClientId::new("no-such-app");
    for ((method, theirs, body), (_, missing, _)) in app_routes(&fixture.other.client_id)
        .into_iter()
        .zip(app_routes(&unknown))
    {
        let answer = call(
            &fixture.router,
            method.clone(),
            &theirs,
            Some(TEAM),
            body.clone(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {theirs}");
        let nothing_there = call(&fixture.router, method.clone(), &missing, Some(TEAM), body).await;
        assert_eq!(nothing_there.status, StatusCode::NOT_FOUND);
        assert_eq!(
            answer.body, nothing_there.body,
            "{method} {theirs} answers unlike an app that does not exist"
        );
        assert!(!answer.body.contains(fixture.other.client_id.as_str()));
    }
    // And nothing changed: it is still there, with its secret, for its own team.
    let stored = fixture
        .world
        .server
        .app(&fixture.other.client_id)
        .await
        .unwrap();
    assert_eq!(stored, fixture.other);
}

#[tokio::test]
async fn nobody_signed_in_as_a_developer_is_answered_401_on_every_route() {
    let fixture = fixture().await;
    let mut routes = app_routes(&fixture.world.app.client_id);
    routes.push((Method::GET, "/developer/apps".into(), None));
    for (method, path, body) in routes {
        let answer = call(&fixture.router, method.clone(), &path, None, body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(answer.json()["error"], "unauthorized");
    }
    let stored = fixture
        .world
        .server
        .app(&fixture.world.app.client_id)
        .await
        .unwrap();
    assert_eq!(stored, fixture.world.app);
}

// ---------------------------------------------------------------------------------------------
// What each route does
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_developer_reads_their_app_with_every_setting_but_no_secret() {
    let fixture = fixture().await;
    let path = app_path(&fixture.world.app.client_id, "");
    let answer = call(&fixture.router, Method::GET, &path, Some(TEAM), None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let app = answer.json();
    assert_eq!(app["client_type"], "confidential");
    assert_eq!(app["flows"], "both");
    assert_eq!(
        app["redirect_uris"],
        json!([support::REDIRECT, OUT_OF_BAND])
    );
    assert_eq!(app["manifests"][0]["version"], 1);
    assert_eq!(app["previous_secret_valid_until"], Value::Null);
    assert!(app.get("secret_digest").is_none());
}

#[tokio::test]
async fn a_patch_changes_the_settings_it_names() {
    let fixture = fixture().await;
    let path = app_path(&fixture.world.app.client_id, "");
    let patch = json!({
        "name": "FieldSync Pro",
        "profile": {"publisher": "FieldSync Ltd", "homepage": "https://fieldsync.example.com"},
        "redirect_uris": ["https://app.example.com/new-callback"],
    });
    let answer = call(
        &fixture.router,
        Method::PATCH,
        &path,
        Some(TEAM),
        Some(patch),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["name"], "FieldSync Pro");
    let stored = fixture
        .world
        .server
        .app(&fixture.world.app.client_id)
        .await
        .unwrap();
    assert_eq!(stored.name, "FieldSync Pro");
    assert_eq!(stored.profile.publisher.as_deref(), Some("FieldSync Ltd"));
    assert_eq!(
        stored.redirect_uris,
        ["https://app.example.com/new-callback"]
    );
    assert_eq!(stored.flows, AppFlows::Both);
    assert_eq!(stored.secret_digest, fixture.world.app.secret_digest);
}

#[tokio::test]
async fn a_patch_with_an_invalid_redirect_uri_is_a_400_that_says_so_and_changes_nothing() {
    let fixture = fixture().await;
    let path = app_path(&fixture.world.app.client_id, "");
    let patch = json!({"name": "Renamed", "redirect_uris": ["http://evil.example.com/cb"]});
    let answer = call(
        &fixture.router,
        Method::PATCH,
        &path,
        Some(TEAM),
        Some(patch),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let body = answer.json();
    assert_eq!(body["error"], "invalid_request");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("redirect URI"), "{message}");
    let stored = fixture
        .world
        .server
        .app(&fixture.world.app.client_id)
        .await
        .unwrap();
    assert_eq!(stored, fixture.world.app);
}

#[tokio::test]
async fn a_body_that_is_not_what_the_route_takes_is_refused_and_changes_nothing() {
    let fixture = fixture().await;
    let app = &fixture.world.app.client_id;
    let cases = [
        // A field the route does not take, such as the secret's digest.
        (app_path(app, ""), json!({"secret_digest": [0, 1, 2]})),
        (
            app_path(app, ""),
            json!({"profile": {"homepage": "https://x.example", "colour": "red"}}),
        ),
        (app_path(app, ""), json!({"flows": "sideways"})),
        (app_path(app, ""), json!({"name": 42})),
        (app_path(app, "/secret"), json!({})),
        (app_path(app, "/secret"), json!({"overlap_seconds": -1})),
        (app_path(app, "/manifests"), json!({"version": 9})),
        (
            app_path(app, "/manifests"),
            json!({"company": {"budget": "owner"}}),
        ),
    ];
    for (path, body) in cases {
        let method = if path.ends_with(app.as_str()) {
            Method::PATCH
        } else {
            Method::POST
        };
        let answer = call(
            &fixture.router,
            method,
            &path,
            Some(TEAM),
            Some(body.clone()),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert_eq!(answer.json()["error"], "invalid_request");
    }
    // Not JSON at all, or too large.
    let not_json = Request::patch(app_path(app, ""))
        .header("x-developer", TEAM)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("name=Renamed"))
        .unwrap();
    let answer = send(&fixture.router, not_json).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let no_body = Request::post(app_path(app, "/secret"))
        .header("x-developer", TEAM)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&fixture.router, no_body).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a rotation without a JSON body, as another site's form would send it"
    );
    let malformed = Request::patch(app_path(app, ""))
        .header("x-developer", TEAM)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"name\": "))
        .unwrap();
    assert_eq!(
        send(&fixture.router, malformed).await.status,
        StatusCode::BAD_REQUEST
    );
    let huge = json!({"name": "x".repeat(20_000)});
    let answer = call(
        &fixture.router,
        Method::PATCH,
        &app_path(app, ""),
        Some(TEAM),
        Some(huge),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

    let stored = fixture.world.server.app(app).await.unwrap();
    assert_eq!(stored, fixture.world.app);
}

#[tokio::test]
async fn a_rotation_answers_the_new_secret_once_and_the_old_one_works_until_the_overlap_ends() {
    let fixture = fixture().await;
    let world = &fixture.world;
    world.install_service_account(&[&world.tower]).await;
    let path = app_path(&world.app.client_id, "/secret");
    let body = json!({"overlap_seconds": 600});
    let answer = call(&fixture.router, Method::POST, &path, Some(TEAM), Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let rotated = answer.json();
    assert_eq!(rotated["client_id"], world.app.client_id.as_str());
    let new = Secret::new(rotated["client_secret"].as_str().unwrap());
    assert_ne!(new, world.secret);

    assert!(accepted(world, &world.app.client_id, &new).await);
    assert!(accepted(world, &world.app.client_id, &world.secret).await);
    world.clock.advance(chrono::TimeDelta::seconds(600));
    assert!(!accepted(world, &world.app.client_id, &world.secret).await);
    assert!(accepted(world, &world.app.client_id, &new).await);

    // Reading the app afterwards shows when the old one stopped, never a secret.
    let shown = call(
        &fixture.router,
        Method::GET,
        &app_path(&world.app.client_id, ""),
        Some(TEAM),
        None,
    )
    .await;
    assert!(!shown.body.contains(new.expose()));
    assert!(shown.json()["previous_secret_valid_until"].is_string());

    let too_long = json!({"overlap_seconds": u64::MAX});
    let answer = call(
        &fixture.router,
        Method::POST,
        &path,
        Some(TEAM),
        Some(too_long),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        accepted(world, &world.app.client_id, &new).await,
        "a refused rotation changed the secret"
    );
}

#[tokio::test]
async fn publishing_a_manifest_answers_its_version_and_waits_for_the_admins_where_it_asks_more() {
    let fixture = fixture().await;
    let world = &fixture.world;
    world.install_service_account(&[&world.tower]).await;
    let path = app_path(&world.app.client_id, "/manifests");
    let manifest = json!({"company": {"directory": "read_only", "budget": "read_only"}, "project": {"rfis": "standard"}});
    let answer = call(
        &fixture.router,
        Method::POST,
        &path,
        Some(TEAM),
        Some(manifest),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(answer.json(), json!({"version": 2}));

    let answer = call(
        &fixture.router,
        Method::GET,
        &app_path(&world.app.client_id, "/installations"),
        Some(TEAM),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let installations = answer.json()["installations"].clone();
    assert_eq!(installations.as_array().unwrap().len(), 1);
    assert_eq!(installations[0]["company"], "acme");
    assert_eq!(installations[0]["status"], "active");
    assert_eq!(installations[0]["approved_manifest"], 1);
    assert_eq!(installations[0]["pending_manifest"], 2);
}

#[tokio::test]
async fn an_apps_installations_name_companies_not_their_people_or_projects() {
    let fixture = fixture().await;
    let world = &fixture.world;
    let installation = world.install_service_account(&[&world.tower]).await;
    let account = installation.service_account.unwrap().user;
    let path = app_path(&world.app.client_id, "/installations");
    let answer = call(&fixture.router, Method::GET, &path, Some(TEAM), None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.contains("acme"));
    for private in ["jane", account.as_str(), "tower"] {
        assert!(
            !answer.body.contains(private),
            "{private} in {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn deleting_an_app_over_http_stops_it_and_leaves_nothing_to_see() {
    let fixture = fixture().await;
    let world = &fixture.world;
    world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(Some(&world.acme)).await;
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(world.allowed(&token, &read).await);

    let path = app_path(&world.app.client_id, "");
    let answer = call(&fixture.router, Method::DELETE, &path, Some(TEAM), None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.body.is_empty());

    assert!(!world.allowed(&token, &read).await);
    assert!(!accepted(world, &world.app.client_id, &world.secret).await);
    let answer = call(&fixture.router, Method::GET, &path, Some(TEAM), None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = call(
        &fixture.router,
        Method::GET,
        "/developer/apps",
        Some(TEAM),
        None,
    )
    .await;
    assert_eq!(answer.json(), json!({"apps": []}));
}

// ---------------------------------------------------------------------------------------------
// Secrets never shown; a store that fails
// ---------------------------------------------------------------------------------------------

/// Keys no developer answer may have, anywhere in it.
const FORBIDDEN_KEYS: [&str; 3] = ["secret_digest", "previous_secret", "digest"];

fn forbidden_keys(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if FORBIDDEN_KEYS.contains(&key.as_str()) {
                    found.push(format!("{path}.{key}"));
                }
                forbidden_keys(inner, &format!("{path}.{key}"), found);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                forbidden_keys(inner, &format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

/// A digest as its hex, and as serde writes its bytes (a JSON array of numbers).
fn digest_forms(digest: &SecretDigest) -> [String; 2] {
    [digest.to_hex(), serde_json::to_string(&digest.0).unwrap()]
}

#[tokio::test]
async fn no_developer_answer_ever_contains_a_secret_digest() {
    let fixture = fixture().await;
    let world = &fixture.world;
    world.install_service_account(&[&world.tower]).await;
    let app = &world.app.client_id;
    let rotate = json!({"overlap_seconds": 3600});
    let rotated = call(
        &fixture.router,
        Method::POST,
        &app_path(app, "/secret"),
        Some(TEAM),
        Some(rotate),
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new = Secret::new(rotated.json()["client_secret"].as_str().unwrap());
    let stored = world.server.app(app).await.unwrap();
    let digests = [
        stored.secret_digest.unwrap(),
        stored.previous_secret.unwrap().digest,
    ];
    assert_eq!(digests, [new.digest(), world.secret.digest()]);

    let mut answers = vec![("the rotation".to_owned(), rotated)];
    let requests = [
        (Method::GET, "/developer/apps".to_owned(), None),
        (Method::GET, app_path(app, ""), None),
        (
            Method::PATCH,
            app_path(app, ""),
            Some(json!({"name": "FieldSync 2"})),
        ),
        (
            Method::PATCH,
            app_path(app, ""),
            Some(json!({"redirect_uris": ["nope"]})),
        ),
        (
            Method::POST,
            app_path(app, "/manifests"),
            Some(json!({"project": {"rfis": "read_only"}})),
        ),
        (Method::GET, app_path(app, "/installations"), None),
        (
            Method::POST,
            app_path(app, "/secret"),
            Some(json!({"overlap_seconds": u64::MAX})),
        ),
        (Method::GET, app_path(&fixture.other.client_id, ""), None),
        (Method::GET, app_path(app, ""), Some(json!({}))),
    ];
    for (method, path, body) in requests {
        let answer = call(&fixture.router, method.clone(), &path, Some(TEAM), body).await;
        answers.push((format!("{method} {path}"), answer));
    }
    for (what, answer) in &answers {
        for digest in &digests {
            for form in digest_forms(digest) {
                assert!(
                    !answer.body.contains(&form),
                    "{what} shows a digest: {}",
                    answer.body
                );
            }
        }
        let mut found = Vec::new();
        if let Ok(json) = serde_json::from_str::<Value>(&answer.body) {
            forbidden_keys(&json, "", &mut found);
        }
        assert!(found.is_empty(), "{what} has {found:?}: {}", answer.body);
        assert!(
            !answer.body.contains(world.secret.expose()),
            "{what} shows the old secret"
        );
        if what != "the rotation" {
            assert!(
                !answer.body.contains(new.expose()),
                "{what} shows the new secret"
            );
        }
    }
}

/// The developer router over a store that fails on demand.
async fn failing() -> (Router, FailingStore, ClientId) {
    let store = FailingStore::default();
    let server = AuthorizationServer::builder(store.clone(), Config::new(support::ISSUER))
        .build()
        .unwrap();
    let app = server
        .register_app(support::both_flows_app())
        .await
        .unwrap()
        .app;
    let portal = Portal::default();
    portal.owns(TEAM, &app.client_id);
    let router = developer_router(server, portal, HttpOptions::default());
    (router, store, app.client_id)
}

#[tokio::test]
async fn a_store_that_fails_is_a_503_with_retry_after_on_every_route_never_a_500() {
    let (router, store, app) = failing().await;
    store.fail(true);
    let mut routes = app_routes(&app);
    routes.push((Method::GET, "/developer/apps".into(), None));
    for (method, path, body) in routes {
        let answer = call(&router, method.clone(), &path, Some(TEAM), body).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}"
        );
        assert!(
            answer.headers.contains_key(header::RETRY_AFTER),
            "{method} {path}"
        );
        let body = answer.json();
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(
            !answer.body.contains(failing_store::FAILURE),
            "the store's error reached the developer"
        );
    }
    store.fail(false);
    let answer = call(&router, Method::GET, &app_path(&app, ""), Some(TEAM), None).await;
    assert_eq!(answer.status, StatusCode::OK);
}

/// The router's type parameters are the server's: any store and directory.
fn _any_server<S: Store, D: Directory>(server: AuthorizationServer<S, D>) -> Router {
    developer_router(server, Portal::default(), HttpOptions::default())
}

#[tokio::test]
async fn a_change_a_browser_says_another_site_sent_is_refused_and_changes_nothing() {
    let fixture = fixture().await;
    let app = &fixture.world.app.client_id;
    for (method, path, body) in app_routes(app) {
        if method == Method::GET {
            continue;
        }
        for site in ["cross-site", "same-site"] {
            let mut request = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header("x-developer", TEAM)
                .header("sec-fetch-site", site);
            let body = match &body {
                Some(body) => {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                    Body::from(body.to_string())
                }
                None => Body::empty(),
            };
            let answer = send(&fixture.router, request.body(body).unwrap()).await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{method} {path} {site}"
            );
            assert_eq!(answer.json()["error"], "cross_site");
        }
    }
    let kept = fixture.world.server.app(app).await.unwrap();
    assert_eq!(kept.name, "FieldSync");
    assert_eq!(kept.manifests.len(), 1);
    assert!(accepted(&fixture.world, app, &fixture.world.secret).await);
    // The developer's own page (same-origin) still works.
    let mut request = Request::builder()
        .method(Method::PATCH)
        .uri(app_path(app, ""))
        .header("x-developer", TEAM)
        .header("sec-fetch-site", "same-origin")
        .header(header::CONTENT_TYPE, "application/json");
    request = request.header("origin", "https://portal.example.com");
    let body = Body::from(json!({"name": "FieldSync 2"}).to_string());
    let answer = send(&fixture.router, request.body(body).unwrap()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
