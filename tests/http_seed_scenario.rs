//! The seed scenario end to end over HTTP, against the demo platform: Jane and John using the
//! same app, the app's service account on the projects an admin permits, the install request
//! from the host's catalog and the library's admin routes and pages the demo mounts, uninstall
//! cutting every token off, and the line `cargo run --example server` prints.
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

/// The library's admin JSON `action` on FieldSync in Acme, as `who` takes it on the
/// installation as they reviewed it just before (its revision), with `projects`.
async fn admin_decides(
    running: &Running,
    who: &Browser,
    action: &str,
    projects: &[&str],
) -> Response {
    let app = &running.fieldsync().client_id;
    let revision = who.reviewed_revision(app).await;
    let body = json!({ "revision": revision, "projects": projects });
    who.admin_json(app, action, &body).await
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
    let installed = install_fieldsync(&running, &["tower"]).await;
    assert_eq!(
        installed["service_account"]["permitted_projects"],
        json!(["tower"])
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

    let jane = signed_in(&running, "jane").await;
    let changed = admin_decides(&running, &jane, "projects", &["depot"]).await;
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
    install_fieldsync(&running, &["tower"]).await;
    let app = &running.fieldsync().client_id;
    let jane = signed_in(&running, "jane").await;
    let revision = jane.reviewed_revision(app).await;
    let john = signed_in(&running, "john").await;
    let anonymous = Browser::new(&running);
    // The revision Jane reviewed: John is refused even knowing it.
    let body = json!({ "revision": revision, "projects": ["depot"] });
    for action in ["approve", "deny", "projects", "approve-update", "uninstall"] {
        let response = john.admin_json(app, action, &body).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "john: {action}");
        let refusal: Value = response.json().await.unwrap();
        assert_eq!(refusal["error"], "forbidden", "john: {action}");
        let response = anonymous.admin_json(app, action, &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "anonymous: {action}"
        );
    }
    assert_eq!(
        anonymous.admin_review(app).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // None of it changed anything.
    let review: Value = jane.admin_review(app).await.json().await.unwrap();
    assert_eq!(review["stage"], "installed");
    assert_eq!(review["installation"]["revision"], revision);
    assert_eq!(
        review["installation"]["service_account"]["permitted_projects"],
        json!(["tower"])
    );
}

#[tokio::test]
async fn only_directory_admins_may_read_an_installation_through_the_admin_api() {
    let running = start().await;
    install_fieldsync(&running, &["tower"]).await;
    let john = signed_in(&running, "john").await;
    let response = john.admin_review(&running.fieldsync().client_id).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn uninstalling_stops_every_token_of_the_app_at_its_next_call() {
    let running = start().await;
    let jane_token = authorize_as(&running, "jane").await;
    let john_token = authorize_as(&running, "john").await;
    install_fieldsync(&running, &["tower"]).await;
    let service_token = service_account_token(&running).await;
    let tokens = [jane_token, john_token, service_token];
    for token in &tokens {
        assert_eq!(
            list_rfis(&running, token, "tower").await.status(),
            StatusCode::OK
        );
    }

    let jane = signed_in(&running, "jane").await;
    // An uninstall only takes access away: it needs no revision.
    let uninstalled = jane
        .admin_json(&running.fieldsync().client_id, "uninstall", &json!({}))
        .await;
    assert_eq!(uninstalled.status(), StatusCode::OK);

    for token in &tokens {
        let body = forbidden(list_rfis(&running, token, "tower").await).await;
        assert_eq!(body["reason"]["reason"], "app_uninstalled", "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains("not installed"), "{description}");
    }
}

#[tokio::test]
async fn any_member_may_ask_for_an_install_from_the_hosts_catalog_and_the_admin_sees_who_asked() {
    let running = start().await;
    let app = &running.fieldsync().client_id;
    let john = signed_in(&running, "john").await;
    let asked = john.request_install(app).await;
    assert_eq!(asked.status(), StatusCode::OK);
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["status"], "requested", "{asked}");
    assert_eq!(asked["requested_by"], "john", "{asked}");
    // Asking again is still the same request.
    let again: Value = john.request_install(app).await.json().await.unwrap();
    for field in ["status", "requested_by", "requested_at"] {
        assert_eq!(again[field], asked[field], "{field}: {again}");
    }

    let unknown = john.request_install("no-such-app").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let anonymous = Browser::new(&running).request_install(app).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let refusal: Value = anonymous.json().await.unwrap();
    assert_eq!(refusal["error"], "unauthorized");

    let jane = signed_in(&running, "jane").await;
    let apps = jane
        .open(&running.seed.admin_url)
        .await
        .text()
        .await
        .unwrap();
    assert!(apps.contains("Requested by John"), "{apps}");
}

#[tokio::test]
async fn a_members_request_opens_the_admin_review_whose_approve_form_installs_on_the_chosen_project()
 {
    let running = start().await;
    let app = running.fieldsync();
    let jane = signed_in(&running, "jane").await;
    // The host's app catalog: a form post asking for the install, sent on to the review.
    let requested = jane
        .http
        .post(running.url(&format!("/apps/{}/request-install", app.client_id)))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    let review_path = admin_app_path(&app.client_id);
    assert_eq!(redirect_target(&requested), Some(review_path.clone()));

    let page = jane.open(&running.url(&review_path)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    for expected in [
        "Install FieldSync in Acme Construction?",
        "<td>directory</td><td>Read only</td><td>Company-wide</td>",
        "<td>rfis</td><td>Standard</td><td>On each permitted project</td>",
        "Requested by Jane",
    ] {
        assert!(page.contains(expected), "missing {expected:?} in {page}");
    }

    let approve = format!("{review_path}/approve");
    let mut form = form_fields(&page, &approve);
    form.push(("project".into(), "tower".into()));
    let posted = jane
        .http
        .post(running.url(&approve))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect_target(&posted), Some(review_path.clone()));

    let page = jane
        .open(&running.url(&review_path))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("value=\"tower\" checked> Riverside Tower"),
        "{page}"
    );
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

/// RFC 8252 §7.3 over HTTP: the demo's native app gets its code at whatever loopback port it
/// listens on, and exchanges it there with PKCE alone.
#[tokio::test]
async fn the_demos_native_app_is_redirected_to_the_loopback_port_it_asks_for() {
    let running = start().await;
    let app = running.app("FieldSync Desktop");
    assert!(app.native);
    let browser = signed_in(&running, "john").await;
    let listening = "http://127.0.0.1:49152/callback";
    let challenge = appgrant::grant::pkce::challenge_of(PKCE_VERIFIER);
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={listening}&state=st&code_challenge={challenge}&code_challenge_method=S256",
        running.base, app.client_id
    );
    let consent = browser.open(&authorize).await.text().await.unwrap();
    let answer = browser.answer_consent(&consent, "allow").await;
    let location = redirect_target(&answer).expect("consent redirects to the app");
    assert!(location.starts_with(&format!("{listening}?")), "{location}");
    let code = query_param(&location, "code").expect("a code");
    let response = client()
        .post(running.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", app.client_id.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", listening),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
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
    assert_eq!(apps.len(), 4);
    for app in apps {
        assert!(app["client_id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(app.get("client_secret").is_some(), "{app}");
        let expected = match (app["native"].as_bool(), app["name"].as_str()) {
            (Some(true), _) => "http://127.0.0.1/callback",
            // A service account alone has no redirect URI.
            (_, Some("FieldSync Nightly")) => "",
            _ => "http://127.0.0.1:8765/callback",
        };
        assert_eq!(app["redirect_uri"], expected, "{app}");
    }
    // The keyed app: no secret, its private key to sign assertions with, DPoP required.
    let nightly = apps
        .iter()
        .find(|app| app["token_endpoint_auth_method"] == "private_key_jwt")
        .unwrap();
    assert!(nightly["client_secret"].is_null(), "{nightly}");
    assert!(
        nightly["private_key_pem"]
            .as_str()
            .is_some_and(|pem| pem.starts_with("-----BEGIN PRIVATE KEY-----")),
        "{nightly}"
    );
    assert_eq!(nightly["dpop_required"], true);
    assert_eq!(
        apps.iter().filter(|app| app["native"] == true).count(),
        1,
        "one native app"
    );
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

    // A browser app on an origin the line names may call the token endpoint across origins.
    let origin = seed["cors_origins"][0].as_str().unwrap();
    let preflight = client()
        .request(reqwest::Method::OPTIONS, running.url("/oauth/token"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.headers()["access-control-allow-origin"], origin);

    // The company's admin page, as its directory admin opens it.
    let jane = signed_in(&running, "jane").await;
    let admin = jane.open(seed["admin_url"].as_str().unwrap()).await;
    assert_eq!(admin.status(), StatusCode::OK);
    let admin = admin.text().await.unwrap();
    assert!(admin.contains("Apps in Acme Construction"), "{admin}");
}

#[tokio::test]
async fn the_admin_sees_the_companys_projects_by_name_and_cannot_permit_one_it_lacks() {
    let running = start().await;
    let app = &running.fieldsync().client_id;
    let jane = signed_in(&running, "jane").await;
    assert_eq!(jane.request_install(app).await.status(), StatusCode::OK);
    let page = jane.open(&running.url(&admin_app_path(app))).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Riverside Tower") && page.contains("North Depot"),
        "{page}"
    );

    let refused = admin_decides(&running, &jane, "approve", &["tower", "moonbase"]).await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let body = refused.text().await.unwrap();
    assert!(body.contains("moonbase"), "{body}");
    // Nothing was installed by the refused request.
    let review: Value = jane.admin_review(app).await.json().await.unwrap();
    assert_eq!(review["stage"], "requested", "{review}");
    let installed = admin_decides(&running, &jane, "approve", &["tower"]).await;
    assert_eq!(installed.status(), StatusCode::OK);
}

/// FieldSync's service-account token for `resource` (RFC 8707), bound to Acme.
async fn service_account_token_for(running: &Running, resource: &str) -> Response {
    let app = running.fieldsync();
    client()
        .post(running.url("/oauth/token"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&[
            ("grant_type", "client_credentials"),
            ("company_id", "acme"),
            ("resource", resource),
        ])
        .send()
        .await
        .unwrap()
}

async fn list_files(running: &Running, token: &str, project: &str) -> Response {
    client()
        .get(running.url(&format!("/files/projects/{project}")))
        .bearer_auth(token)
        .header("Company-Id", "acme")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_demos_two_resource_servers_each_accept_only_tokens_for_themselves() {
    let running = start().await;
    install_fieldsync(&running, &["tower"]).await;
    let seed = serde_json::to_value(&running.seed).unwrap();
    let api = seed["default_audience"].as_str().unwrap().to_owned();
    assert_eq!(api, format!("{}/api", running.base.trim_end_matches('/')));
    assert_ne!(api, running.base);
    let resources: Vec<String> = serde_json::from_value(seed["resources"].clone()).unwrap();
    let files = resources.iter().find(|resource| **resource != api).unwrap();
    assert!(resources.contains(&api), "{resources:?}");

    let for_files = service_account_token_for(&running, files).await;
    assert_eq!(for_files.status(), StatusCode::OK);
    let for_files: Value = for_files.json().await.unwrap();
    let for_files = for_files["access_token"].as_str().unwrap();
    assert_eq!(
        list_files(&running, for_files, "tower").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        list_rfis(&running, for_files, "tower").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A token asked for without a resource is for the API, and only the API.
    let for_api = service_account_token(&running).await;
    assert_eq!(
        list_rfis(&running, &for_api, "tower").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        list_files(&running, &for_api, "tower").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let unknown = service_account_token_for(&running, "https://elsewhere.example.com").await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error"], "invalid_target");
}

#[tokio::test]
async fn the_demo_api_names_its_metadata_in_a_401_and_serves_it() {
    let running = start().await;
    let seed = serde_json::to_value(&running.seed).unwrap();
    for (path, resource) in [
        ("/api/projects/tower/rfis", seed["default_audience"].clone()),
        ("/files/projects/tower", seed["resources"][1].clone()),
    ] {
        let refused = client()
            .get(running.url(path))
            .header("Company-Id", "acme")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
        let url = challenge
            .split("resource_metadata=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no resource_metadata in {challenge}"));
        let document: Value = client()
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(document["resource"], resource, "{document}");
        assert_eq!(document["authorization_servers"], json!([running.base]));
        assert!(
            document["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("rfis:read"))
        );
    }
}
