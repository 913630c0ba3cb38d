//! The seed scenario end to end over HTTP, against the demo platform: Jane and John using the
//! same app, the app's service account on the projects an admin permits, the admin routes and
//! pages, uninstall cutting every token off, and the line `cargo run --example server` prints.
#![cfg(feature = "axum")]

mod http_support;

use http_support::*;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const PKCE_VERIFIER: &str = "seed-scenario-verifier-0123456789-abcdefghijklmnop";

/// `username` signs in, consents to FieldSync, and FieldSync exchanges the code (with PKCE):
/// the access token it gets to act as them.
async fn authorize_as(running: &Running, username: &str) -> String {
    let app = running.fieldsync();
    let user = running.user(username);
    let browser = Browser::new(running);
    browser.sign_in(&user.username, &user.password).await;
    let challenge = appgrant::grant::pkce::challenge_of(PKCE_VERIFIER);
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state=st&code_challenge={challenge}&code_challenge_method=S256",
        running.base, app.client_id, app.redirect_uri
    );
    let consent = browser.open(&authorize).await.text().await.unwrap();
    assert!(
        consent.contains("Allow FieldSync to act as you?"),
        "{consent}"
    );
    let answer = browser.answer_consent(&consent, "allow").await;
    let location = redirect_target(&answer).expect("consent redirects to the app");
    assert!(location.starts_with(&app.redirect_uri), "{location}");
    let code = query_param(&location, "code").expect("a code");
    let response = client()
        .post(running.url("/oauth/token"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// FieldSync's service-account token (client credentials, Basic auth, no company binding).
async fn service_account_token(running: &Running) -> String {
    let app = running.fieldsync();
    let response = client()
        .post(running.url("/oauth/token"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "bearer");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// A browser signed in as `username`.
async fn signed_in(running: &Running, username: &str) -> Browser {
    let user = running.user(username);
    let browser = Browser::new(running);
    browser.sign_in(&user.username, &user.password).await;
    browser
}

/// `POST /admin/api/apps/{FieldSync}/{action}` with `{"projects": projects}`.
async fn admin_json(
    running: &Running,
    http: &reqwest::Client,
    action: &str,
    projects: &[&str],
) -> Response {
    let path = format!("/admin/api/apps/{}/{action}", running.fieldsync().client_id);
    http.post(running.url(&path))
        .json(&json!({ "projects": projects }))
        .send()
        .await
        .unwrap()
}

/// `GET /api/projects/{project}/rfis` in Acme.
async fn list_rfis(running: &Running, token: &str, project: &str) -> Response {
    client()
        .get(running.url(&format!("/api/projects/{project}/rfis")))
        .bearer_auth(token)
        .header("Company-Id", "acme")
        .send()
        .await
        .unwrap()
}

/// `POST /api/projects/{project}/rfis` in Acme.
async fn create_rfi(running: &Running, token: &str, project: &str, title: &str) -> Response {
    client()
        .post(running.url(&format!("/api/projects/{project}/rfis")))
        .bearer_auth(token)
        .header("Company-Id", "acme")
        .json(&json!({ "title": title }))
        .send()
        .await
        .unwrap()
}

/// Asserts a 403 and returns its JSON body.
async fn forbidden(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope", "{body}");
    body
}

#[tokio::test]
async fn jane_and_john_using_the_same_app_get_what_each_of_them_can_do() {
    let running = start().await;
    let jane = authorize_as(&running, "jane").await;
    let john = authorize_as(&running, "john").await;

    assert_eq!(
        create_rfi(&running, &jane, "tower", "Rebar spacing")
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        list_rfis(&running, &jane, "depot").await.status(),
        StatusCode::OK
    );

    assert_eq!(
        list_rfis(&running, &john, "tower").await.status(),
        StatusCode::OK
    );
    let write = forbidden(create_rfi(&running, &john, "tower", "Rebar spacing").await).await;
    assert_eq!(
        write["reason"],
        json!({ "reason": "insufficient_level", "have": "read_only", "need": "standard" })
    );
    let depot = forbidden(list_rfis(&running, &john, "depot").await).await;
    assert_eq!(
        depot["reason"],
        json!({ "reason": "insufficient_level", "have": "none", "need": "read_only" })
    );
}

#[tokio::test]
async fn the_service_account_works_only_on_the_projects_the_admin_permits() {
    let running = start().await;
    let jane = signed_in(&running, "jane").await;
    let installed = admin_json(&running, &jane.http, "install", &["tower"]).await;
    assert_eq!(installed.status(), StatusCode::OK);
    let installed: Value = installed.json().await.unwrap();
    assert_eq!(installed["status"], "active");
    assert_eq!(
        installed["service_account"]["permitted_projects"],
        json!([{ "id": "tower", "name": "Riverside Tower" }])
    );
    let token = service_account_token(&running).await;

    assert_eq!(
        create_rfi(&running, &token, "tower", "Sync check")
            .await
            .status(),
        StatusCode::CREATED
    );
    let depot = forbidden(list_rfis(&running, &token, "depot").await).await;
    assert_eq!(depot["reason"]["reason"], "project_not_permitted");

    let changed = admin_json(&running, &jane.http, "projects", &["depot"]).await;
    assert_eq!(changed.status(), StatusCode::OK);
    // The same token, at its very next calls.
    let tower = forbidden(list_rfis(&running, &token, "tower").await).await;
    assert_eq!(tower["reason"]["reason"], "project_not_permitted");
    assert_eq!(
        create_rfi(&running, &token, "depot", "Sync check")
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn only_directory_admins_may_use_the_admin_routes() {
    let running = start().await;
    let jane = signed_in(&running, "jane").await;
    assert_eq!(
        admin_json(&running, &jane.http, "install", &["tower"])
            .await
            .status(),
        StatusCode::OK
    );
    let john = signed_in(&running, "john").await;
    for action in ["install", "deny", "projects", "approve-update", "uninstall"] {
        let response = admin_json(&running, &john.http, action, &["depot"]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "john: {action}");
        let anonymous = admin_json(&running, &client(), action, &["depot"]).await;
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "anonymous: {action}"
        );
    }
    let status_path = format!("/admin/api/apps/{}", running.fieldsync().client_id);
    let anonymous = client()
        .get(running.url(&status_path))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // None of it changed anything.
    let status: Value = jane
        .http
        .get(running.url(&status_path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["installation"]["status"], "active");
    assert_eq!(
        status["installation"]["service_account"]["permitted_projects"],
        json!([{ "id": "tower", "name": "Riverside Tower" }])
    );
}

#[tokio::test]

async fn only_directory_admins_may_read_an_installation_through_the_admin_api() {
    let running = start().await;
    let jane = signed_in(&running, "jane").await;
    admin_json(&running, &jane.http, "install", &["tower"]).await;
    let john = signed_in(&running, "john").await;
    let path = format!("/admin/api/apps/{}", running.fieldsync().client_id);
    let response = john.http.get(running.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn uninstalling_stops_every_token_of_the_app_at_its_next_call() {
    let running = start().await;
    let jane_token = authorize_as(&running, "jane").await;
    let john_token = authorize_as(&running, "john").await;
    let jane = signed_in(&running, "jane").await;
    assert_eq!(
        admin_json(&running, &jane.http, "install", &["tower"])
            .await
            .status(),
        StatusCode::OK
    );
    let service_token = service_account_token(&running).await;
    let tokens = [jane_token, john_token, service_token];
    for token in &tokens {
        assert_eq!(
            list_rfis(&running, token, "tower").await.status(),
            StatusCode::OK
        );
    }

    let uninstalled = admin_json(&running, &jane.http, "uninstall", &[]).await;
    assert_eq!(uninstalled.status(), StatusCode::OK);

    for token in &tokens {
        let body = forbidden(list_rfis(&running, token, "tower").await).await;
        assert_eq!(body["reason"]["reason"], "app_uninstalled", "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains("not installed"), "{description}");
    }
}

#[tokio::test]
async fn the_admin_page_shows_what_the_app_asks_for_and_its_install_form_works() {
    let running = start().await;
    let app = running.fieldsync();
    let jane = signed_in(&running, "jane").await;
    let page_url = running.url(&format!("/admin/apps/{}", app.client_id));
    let page = jane.open(&page_url).await.text().await.unwrap();
    assert!(
        page.contains("directory at read_only, company-wide"),
        "{page}"
    );
    assert!(
        page.contains("rfis at standard, on each permitted project"),
        "{page}"
    );
    assert!(page.contains("Status: not installed"), "{page}");

    let action = page
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert_eq!(action, format!("/admin/apps/{}/install", app.client_id));
    let posted = jane
        .http
        .post(running.url(action))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("projects=tower")
        .send()
        .await
        .unwrap();
    assert_eq!(
        redirect_target(&posted),
        Some(format!("/admin/apps/{}", app.client_id))
    );

    let page = jane.open(&page_url).await.text().await.unwrap();
    assert!(page.contains("Status: Active"), "{page}");
    assert!(page.contains("value=\"tower\" checked"), "{page}");
    assert!(!page.contains("value=\"depot\" checked"), "{page}");
    let token = service_account_token(&running).await;
    assert_eq!(
        create_rfi(&running, &token, "tower", "From the form")
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_rfi_jane_creates_is_listed_on_its_project_only() {
    let running = start().await;
    let jane = authorize_as(&running, "jane").await;
    let created = create_rfi(&running, &jane, "tower", "Door schedule").await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["project"], "tower");
    assert_eq!(created["title"], "Door schedule");

    let tower: Value = list_rfis(&running, &jane, "tower")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tower, json!([created]));
    let depot: Value = list_rfis(&running, &jane, "depot")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(depot, json!([]));
}

#[tokio::test]

async fn an_rfi_records_who_created_it() {
    let running = start().await;
    let jane = authorize_as(&running, "jane").await;
    let created: Value = create_rfi(&running, &jane, "tower", "Door schedule")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["created_by"], "jane");
}

#[tokio::test]
async fn the_server_prints_one_json_line_that_is_enough_to_drive_it() {
    let running = start().await;
    let line = serde_json::to_string(&running.seed).unwrap();
    assert!(!line.contains('\n'), "{line}");
    let seed: Value = serde_json::from_str(&line).unwrap();

    let metadata: Value = client()
        .get(running.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seed["issuer"], metadata["issuer"]);
    assert_eq!(seed["issuer"], running.base.as_str());

    let users = seed["users"].as_array().unwrap();
    let usernames: Vec<&str> = users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(usernames, ["jane", "john"]);
    for user in users {
        let browser = Browser::new(&running);
        browser
            .sign_in(
                user["username"].as_str().unwrap(),
                user["password"].as_str().unwrap(),
            )
            .await;
    }

    let apps = seed["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 2);
    for app in apps {
        assert!(app["client_id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(app.get("client_secret").is_some(), "{app}");
        assert_eq!(app["redirect_uri"], "http://127.0.0.1:8765/callback");
    }
    let fieldsync = apps.iter().find(|app| app["name"] == "FieldSync").unwrap();
    let token = client()
        .post(running.url("/oauth/token"))
        .basic_auth(
            fieldsync["client_id"].as_str().unwrap(),
            fieldsync["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_admin_sees_the_companys_projects_by_name_and_cannot_permit_one_it_lacks() {
    let running = start().await;
    let jane = signed_in(&running, "jane").await;
    let page = jane
        .open(&running.url(&format!("/admin/apps/{}", running.fieldsync().client_id)))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Riverside Tower") && page.contains("North Depot"),
        "{page}"
    );

    let refused = admin_json(&running, &jane.http, "install", &["tower", "moonbase"]).await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let body = refused.text().await.unwrap();
    assert!(body.contains("moonbase"), "{body}");
    // Nothing was installed by the refused request.
    let installed = admin_json(&running, &jane.http, "install", &["tower"]).await;
    assert_eq!(installed.status(), StatusCode::OK);
}
