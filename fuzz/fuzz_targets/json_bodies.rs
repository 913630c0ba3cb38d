//! The JSON bodies the library accepts: the admin JSON API
//! (`POST /admin/api/companies/acme/apps/fuzz-app/{action}`, `{"revision": N, "projects": [...]}`)
//! and the developer routes (`PATCH /developer/apps/fuzz-app`, `POST .../secret`,
//! `POST .../manifests`), through the library's routers, Jane signed in as Acme's directory
//! admin and as a developer who may manage the app.
//!
//! Input: byte 0 picks the route; the rest is the JSON body.
//!
//! Invariants:
//! - no panic; never a 5xx; every answer is JSON, and every error carries an `error` code;
//! - any 4xx changes nothing: the app and its installation in Acme are exactly as before;
//! - an admin decision other than `uninstall` that names a revision other than the
//!   installation's current one is never taken (409), and one with no revision is a 428.
#![no_main]

use appgrant::http::{DeveloperAuth, HttpOptions, admin_router, developer_router};
use appgrant::model::{App, ClientId, CompanyId, Installation};
use appgrant::store::{AppStore, InstallationStore};
use appgrant_fuzz::{CLIENT_ID, Jane, World, runtime, send_to, world};
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

/// A developer who may manage every app.
struct EveryApp;

impl DeveloperAuth for EveryApp {
    type Developer = ();
    async fn developer(&self, _request: &Parts) -> Option<()> {
        Some(())
    }
    fn may_manage(&self, _developer: &(), _app: &App) -> bool {
        true
    }
}

const ROUTES: [(&str, &str); 8] = [
    ("POST", "/admin/api/companies/acme/apps/fuzz-app/approve"),
    ("POST", "/admin/api/companies/acme/apps/fuzz-app/deny"),
    (
        "POST",
        "/admin/api/companies/acme/apps/fuzz-app/approve-update",
    ),
    ("POST", "/admin/api/companies/acme/apps/fuzz-app/projects"),
    ("POST", "/admin/api/companies/acme/apps/fuzz-app/uninstall"),
    ("PATCH", "/developer/apps/fuzz-app"),
    ("POST", "/developer/apps/fuzz-app/secret"),
    ("POST", "/developer/apps/fuzz-app/manifests"),
];

struct Admin {
    world: World,
    router: Router,
}

fn admin() -> Admin {
    let world = world();
    let router = admin_router(world.server.clone(), Jane, HttpOptions::default()).merge(
        developer_router(world.server.clone(), EveryApp, HttpOptions::default()),
    );
    Admin { world, router }
}

thread_local! {
    /// Replaced by a fresh one after any answer that may have changed it (a 2xx), so every
    /// input starts from the same state.
    static ADMIN: RefCell<Admin> = RefCell::new(admin());
}

fn state(world: &World) -> (Option<App>, Option<Installation>) {
    runtime().block_on(async {
        let store = world.server.store();
        let client = ClientId::new(CLIENT_ID);
        (
            store.app(&client).await.unwrap(),
            store
                .installation(&client, &CompanyId::new("acme"))
                .await
                .unwrap(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    if std::env::var_os("PRINT_SEED_STATE").is_some() {
        ADMIN.with_borrow(|admin| eprintln!("{:?}", state(&admin.world).1.map(|i| i.revision)));
    }
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (method, path) = ROUTES[usize::from(selector) % ROUTES.len()];
    let admin_action = path.strip_prefix("/admin/api/companies/acme/apps/fuzz-app/");
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap();
    let (before, answer, after) = ADMIN.with_borrow(|admin| {
        let before = state(&admin.world);
        let answer = send_to(&admin.router, request);
        let after = state(&admin.world);
        (before, answer, after)
    });
    let status = answer.status;
    assert!(
        !status.is_server_error(),
        "{status} for {method} {path}: {}",
        answer.text()
    );
    let json = answer.json();
    if status.is_client_error() {
        assert!(
            json["error"].is_string(),
            "{status} without an error code: {json}"
        );
        assert!(
            before == after,
            "{status} for {method} {path} {:?} changed the state: {before:?} → {after:?}",
            String::from_utf8_lossy(body)
        );
    }
    if let Some(action) = admin_action.filter(|action| *action != "uninstall") {
        let current = before.1.as_ref().map(|installation| installation.revision);
        // Read leniently (invalid UTF-8 as U+FFFD): serde_json does not check the UTF-8 of
        // the strings it skips, so the library accepts a body with invalid UTF-8 inside a
        // field it ignores, which a strict read here would not.
        let named = serde_json::from_str::<serde_json::Value>(&String::from_utf8_lossy(body))
            .ok()
            .and_then(|value| value.get("revision").cloned());
        if status.is_success() {
            let named = named.and_then(|value| value.as_u64());
            assert_eq!(
                named, current,
                "{action} taken on revision {named:?} while the installation is at {current:?}"
            );
        }
        if body.is_empty() {
            assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
        }
    }
    if status.is_success() {
        ADMIN.set(admin());
    }
});
