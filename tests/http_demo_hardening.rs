//! The demo server is safe to copy: slow clients cannot exhaust it, its signing key file is
//! private, sign-ins and install requests come only from its own pages, a non-admin's admin
//! action changes nothing, and its pages (its own and the library's it mounts) cannot be
//! framed.
#![cfg(feature = "axum")]

mod http_support;

use http_support::serve::Limits;
use http_support::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the server to do something it must do (close a connection,
/// answer): generous, as the machine may be busy; the limits under test are far shorter.
const PATIENCE: Duration = Duration::from_secs(5);

/// Opens a raw connection to the demo server.
async fn connect(running: &Running) -> TcpStream {
    let address = running.base.trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// What the server sent on `stream` until it closed it or `within` passed, and whether it
/// closed it (a reset counts as closed).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let deadline = tokio::time::Instant::now() + within;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => break false,
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// The headers of a form post to `/login` announcing `length` bytes of body.
fn login_post_head(length: usize) -> String {
    format!(
        "POST /login HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
    )
}

// 8. Slow clients cannot exhaust the server.

#[tokio::test]
async fn a_request_whose_headers_never_finish_is_closed_after_the_header_timeout() {
    let running = start_with(Limits {
        header_read: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut stalled = connect(&running).await;
    stalled.write_all(b"GET /login HT").await.unwrap();
    let (_, closed) = read_until_closed(&mut stalled, PATIENCE).await;
    assert!(closed, "a half-sent request line kept its connection open");
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let running = start_with(Limits {
        header_read: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut idle = connect(&running).await;
    let (_, closed) = read_until_closed(&mut idle, PATIENCE).await;
    assert!(closed, "a connection that never sent a byte stayed open");
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_gets_408_and_is_closed() {
    let running = start_with(Limits {
        request: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    let mut stalled = connect(&running).await;
    stalled
        .write_all(login_post_head(100).as_bytes())
        .await
        .unwrap();
    let (response, closed) = read_until_closed(&mut stalled, PATIENCE).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(closed, "the connection stayed open after the timeout");
}

#[tokio::test]
async fn a_request_body_that_stalls_midway_is_refused_and_closed() {
    let running = start_with(Limits {
        body: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut stalled = connect(&running).await;
    stalled
        .write_all(format!("{}username=ja", login_post_head(100)).as_bytes())
        .await
        .unwrap();
    let (response, closed) = read_until_closed(&mut stalled, PATIENCE).await;
    assert!(response.starts_with("HTTP/1.1 4"), "{response:?}");
    assert!(closed, "the connection stayed open after the body stalled");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_others_close() {
    let running = start_with(Limits {
        max_connections: 2,
        // The idle connections hold their slots for the whole test, however busy the machine.
        header_read: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let first = connect(&running).await;
    let second = connect(&running).await;
    let mut third = connect(&running).await;
    third
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // Both slots are held by idle connections: the third is not served...
    let (early, closed) = read_until_closed(&mut third, Duration::from_secs(1)).await;
    assert!(
        early.is_empty() && !closed,
        "served beyond the cap: {early:?}"
    );
    // ...until one of them goes away.
    drop(first);
    let (response, closed) = read_until_closed(&mut third, PATIENCE).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(closed);
    drop(second);
    let page = client().get(running.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
}

// 9. The signing key file is private.

/// A fresh, empty directory of its own under the system's temporary directory.
fn scratch_dir() -> std::path::PathBuf {
    let name = format!("appgrant-demo-{}", rand::random::<u64>());
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir).unwrap();
    dir
}

fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_created_signing_key_file_is_readable_by_its_owner_only() {
    let dir = scratch_dir();
    let path = dir.join("key.pem");
    let keys = key_file::signing_keys(Some(&path)).unwrap();
    assert!(keys.is_some());
    assert_eq!(
        mode_of(&path),
        0o600,
        "created with mode {:o}",
        mode_of(&path)
    );
    // Nothing else is left behind, and the file serves the next start.
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(key_file::signing_keys(Some(&path)).unwrap().is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_signing_key_file_readable_by_group_or_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir();
    let path = dir.join("key.pem");
    key_file::signing_keys(Some(&path)).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let refused = match key_file::signing_keys(Some(&path)) {
            Ok(_) => panic!("started on a key file with mode {mode:o}"),
            Err(error) => error.to_string(),
        };
        assert!(refused.contains(&path.display().to_string()), "{refused}");
        assert!(refused.contains(&format!("{mode:o}")), "{refused}");
        assert!(refused.contains("chmod 600"), "{refused}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// 10. Sign-ins come from this site's own pages (no login CSRF).

/// Posts John's credentials to `/login` with these extra headers.
async fn sign_in_as_john(running: &Running, headers: &[(&str, &str)]) -> reqwest::Response {
    let john = running.user("john");
    let mut request = client().post(running.url("/login")).form(&[
        ("username", john.username.as_str()),
        ("password", john.password.as_str()),
        ("return_to", "/"),
    ]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn cross_origin_sign_in_is_refused() {
    let running = start().await;
    let foreign: [&[(&str, &str)]; 5] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[("referer", "https://evil.example/login-csrf.html")],
        &[
            ("origin", "https://evil.example"),
            ("referer", "https://evil.example/"),
            ("sec-fetch-site", "cross-site"),
        ],
    ];
    for headers in foreign {
        let response = sign_in_as_john(&running, headers).await;
        assert_eq!(
            response.status(),
            reqwest::StatusCode::FORBIDDEN,
            "{headers:?}"
        );
        assert!(
            response
                .headers()
                .get(reqwest::header::SET_COOKIE)
                .is_none(),
            "{headers:?} got a session"
        );
    }
}

#[tokio::test]
async fn same_origin_sign_in_still_works() {
    let running = start().await;
    let login_page = running.url("/login");
    let browser_headers: [&[(&str, &str)]; 2] = [
        &[
            ("origin", running.base.as_str()),
            ("referer", login_page.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        // A script, which sends none of them.
        &[],
    ];
    for headers in browser_headers {
        let response = sign_in_as_john(&running, headers).await;
        assert_eq!(
            response.status(),
            reqwest::StatusCode::SEE_OTHER,
            "{headers:?}"
        );
        let cookie = response.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .unwrap();
        assert!(cookie.starts_with("demo_session="), "{cookie}");
    }
}

// 11. The demo's pages cannot be framed (clickjacking), cached, or leak their URL.

/// The value of header `name` in `response`.
fn header_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

/// Asserts that `response` carries the demo's own page headers.
fn assert_page_headers(what: &str, response: &reqwest::Response) {
    let header = |name: &str| header_of(response, name);
    let csp = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{what}");
    assert_eq!(
        header("content-security-policy").as_deref(),
        Some(csp),
        "{what}"
    );
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-store"),
        "{what}"
    );
    // Not `no-referrer`: under it, browsers send `Origin: null` with the pages' own form
    // posts, which the same-origin check (rightly) refuses. `same-origin` sends the page's URL
    // to this site only.
    assert_eq!(
        header("referrer-policy").as_deref(),
        Some("same-origin"),
        "{what}"
    );
    let html = header("content-type").is_some_and(|kind| kind.starts_with("text/html"));
    assert!(html, "{what} is not a page");
}

/// Asserts that `response` carries the headers of the library's pages, which the demo mounts
/// as they are: not framed, not cached, and no referrer at all (their forms carry a token, so
/// no check of where a post came from needs one).
fn assert_library_page_headers(what: &str, response: &reqwest::Response) {
    let header = |name: &str| header_of(response, name);
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{what}");
    let csp = header("content-security-policy").unwrap_or_default();
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for needed in ["default-src 'none'", "frame-ancestors 'none'"] {
        assert!(directives.contains(&needed), "{what}: {csp}");
    }
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-store"),
        "{what}"
    );
    assert_eq!(
        header("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    let html = header("content-type").is_some_and(|kind| kind.starts_with("text/html"));
    assert!(html, "{what} is not a page");
}

#[tokio::test]
async fn every_demo_page_refuses_framing_and_caching() {
    let running = start().await;
    let http = client();
    let fieldsync = running.fieldsync().client_id.clone();
    let login = http
        .get(running.url("/login?return_to=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::OK);
    assert_page_headers("the login page", &login);
    let wrong = http
        .post(running.url("/login"))
        .form(&[("username", "john"), ("password", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_page_headers("a failed sign-in", &wrong);
    let foreign = sign_in_as_john(&running, &[("origin", "https://evil.example")]).await;
    assert_eq!(foreign.status(), reqwest::StatusCode::FORBIDDEN);
    assert_page_headers("a refused sign-in", &foreign);
    let jane = Browser::signed_in(&running, "jane").await;
    let unasked = jane
        .http
        .post(running.url(&format!("/apps/{fieldsync}/request-install")))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(unasked.status(), reqwest::StatusCode::FORBIDDEN);
    assert_page_headers("a refused install request", &unasked);
    assert_eq!(jane.request_install(&fieldsync).await.status(), 200);
    let apps = jane.open(&running.seed.admin_url).await;
    assert_eq!(apps.status(), reqwest::StatusCode::OK);
    assert_library_page_headers("the admin page", &apps);
    let review = jane.open(&running.url(&admin_app_path(&fieldsync))).await;
    assert_eq!(review.status(), reqwest::StatusCode::OK);
    assert_library_page_headers("the install review", &review);
}

// 12. An admin action refused to a non-admin changes nothing.

/// The actions the library's admin routes take on an installation.
const ADMIN_ACTIONS: [&str; 5] = ["approve", "deny", "projects", "approve-update", "uninstall"];

/// FieldSync's installation in Acme as Jane, the admin, reviews it: the status of the review
/// JSON (404 before anyone asked) and its body.
async fn review_of_fieldsync(running: &Running, jane: &Browser) -> (u16, serde_json::Value) {
    let response = jane.admin_review(&running.fieldsync().client_id).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Jane's own admin pages on FieldSync (its review and the uninstall confirmation), whose
/// forms John might get hold of.
async fn janes_pages(running: &Running, jane: &Browser) -> String {
    let review = admin_app_path(&running.fieldsync().client_id);
    let mut pages = String::new();
    for path in [review.clone(), format!("{review}/uninstall")] {
        pages.push_str(&jane.open(&running.url(&path)).await.text().await.unwrap());
    }
    pages
}

/// John, who is no admin, tries every action, as JSON (with the revision Jane reviewed) and as
/// a form (with the hidden fields of Jane's own page where it has that form): each is refused
/// and the installation stays exactly as it was.
async fn john_changes_nothing(running: &Running, john: &Browser, jane: &Browser, stage: &str) {
    let app = &running.fieldsync().client_id;
    let before = review_of_fieldsync(running, jane).await;
    let revision = before.1["installation"]["revision"].as_u64().unwrap_or(0);
    let pages = janes_pages(running, jane).await;
    for action in ADMIN_ACTIONS {
        let body = serde_json::json!({ "revision": revision, "projects": ["tower"] });
        let response = john.admin_json(app, action, &body).await;
        assert_eq!(response.status(), 403, "{stage}: {action} as JSON");
        let refusal: serde_json::Value = response.json().await.unwrap();
        assert_eq!(refusal["error"], "forbidden", "{stage}: {action}");
        let after = review_of_fieldsync(running, jane).await;
        assert_eq!(after, before, "{stage}: John's refused {action} changed it");

        let path = format!("{}/{action}", admin_app_path(app));
        let mut form = try_form_fields(&pages, &path).unwrap_or_else(|| {
            vec![
                ("csrf_token".into(), "made-up".into()),
                ("revision".into(), revision.to_string()),
            ]
        });
        form.push(("project".into(), "tower".into()));
        let response = john
            .http
            .post(running.url(&path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{stage}: {action} as a form");
        let after = review_of_fieldsync(running, jane).await;
        assert_eq!(
            after, before,
            "{stage}: John's refused {action} form changed it"
        );
    }
}

/// Jane decides `action` on FieldSync as JSON, on the installation as she just reviewed it.
async fn jane_decides(running: &Running, jane: &Browser, action: &str) {
    let app = &running.fieldsync().client_id;
    let revision = jane.reviewed_revision(app).await;
    let body = serde_json::json!({ "revision": revision, "projects": ["tower"] });
    let response = jane.admin_json(app, action, &body).await;
    assert_eq!(response.status(), 200, "Jane's {action}");
}

#[tokio::test]
async fn a_refused_admin_action_changes_nothing() {
    let running = start().await;
    let app = &running.fieldsync().client_id;
    let jane = Browser::signed_in(&running, "jane").await;
    let john = Browser::signed_in(&running, "john").await;
    assert_eq!(review_of_fieldsync(&running, &jane).await.0, 404);
    john_changes_nothing(&running, &john, &jane, "never asked for").await;
    // Any member may ask (the host's catalog); only an admin decides.
    assert_eq!(john.request_install(app).await.status(), 200);
    assert_eq!(
        review_of_fieldsync(&running, &jane).await.1["stage"],
        "requested"
    );
    john_changes_nothing(&running, &john, &jane, "requested").await;
    jane_decides(&running, &jane, "approve").await;
    john_changes_nothing(&running, &john, &jane, "installed").await;
    // A new version asking for more waits for an admin.
    let raised = appgrant::model::Manifest::new(0)
        .company_tool("directory", appgrant::model::Level::ReadOnly)
        .project_tool("rfis", appgrant::model::Level::Admin);
    let client_id = appgrant::model::ClientId::new(app.as_str());
    running
        .server
        .publish_manifest(&client_id, raised)
        .await
        .unwrap();
    let review = review_of_fieldsync(&running, &jane).await.1;
    assert_eq!(review["stage"], "update_pending");
    john_changes_nothing(&running, &john, &jane, "an update pending").await;
    jane_decides(&running, &jane, "approve-update").await;
    jane_decides(&running, &jane, "uninstall").await;
    let uninstalled = review_of_fieldsync(&running, &jane).await.1;
    assert_eq!(uninstalled["installation"]["status"], "uninstalled");
    john_changes_nothing(&running, &john, &jane, "after an uninstall").await;
    assert_eq!(jane.request_install(app).await.status(), 200);
    jane_decides(&running, &jane, "deny").await;
    let denied = review_of_fieldsync(&running, &jane).await.1;
    assert_eq!(denied["installation"]["status"], "denied");
    john_changes_nothing(&running, &john, &jane, "after a denial").await;
}

/// A client that pipelines requests and never reads the answers, and then whether a
/// well-behaved client is served five seconds later.
async fn served_beside_a_client_that(reads: bool) -> bool {
    let running = start_with(Limits {
        header_read: Duration::from_millis(300),
        body: Duration::from_millis(300),
        request: Duration::from_millis(500),
        connection_lifetime: Duration::from_secs(1),
        max_connections: 1,
    })
    .await;
    let address: std::net::SocketAddr = running.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(address).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    if reads {
        tokio::spawn(async move {
            let mut sink = vec![0u8; 65536];
            while read.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        });
    } else {
        // Never read, never closed.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(read);
        });
    }
    tokio::spawn(async move {
        let request = b"GET /login HTTP/1.1\r\nHost: localhost\r\n\r\n";
        for _ in 0..8_000 {
            if write.write_all(request).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(running.url("/login"))
        .send()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answers_loses_its_connection_after_its_lifetime() {
    assert!(served_beside_a_client_that(false).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reading_its_answers_does_not_lock_others_out_either() {
    assert!(served_beside_a_client_that(true).await);
}

#[test]
fn a_secret_file_owned_by_another_user_or_behind_a_link_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("appgrant-owner-{}", rand::random::<u64>()));
    std::fs::create_dir(&dir).unwrap();
    let secret = appgrant::token::DeploymentSecret::generate(&mut rand::thread_rng()).encode();
    // A link to a good file is refused: the path must name the file itself.
    let real = dir.join("real");
    std::fs::write(&real, &secret).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(
        key_file::deployment_secret(&link).is_err(),
        "a symlink was followed"
    );
    assert!(key_file::deployment_secret(&real).is_ok());
    // A file another user owns (its owner chose the secret) is refused; only root can make one.
    let planted = dir.join("planted");
    std::fs::write(&planted, &secret).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o600)).unwrap();
    if std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).is_ok() {
        let refused = key_file::deployment_secret(&planted);
        assert!(
            refused
                .as_ref()
                .is_err_and(|error| error.to_string().contains("belongs to user")),
            "a secret file owned by uid 65534 was accepted: {refused:?}"
        );
    } else {
        eprintln!("not root: the other-owner case is not checked here");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
