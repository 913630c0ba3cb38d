//! A failing store loses nothing it acknowledged: writes that failed answer an error, and the
//! writes answered as done are in the database, during and after the failure, without a
//! restart.
#![cfg(feature = "sqlite")]

mod header_sign_in;
mod store_suite;

use appgrant::grant::TokenResponse;
use appgrant::store::{RefreshStore, SqlStore};
use appgrant::token::Secret;
use store_suite::{World, seed, server_on};

/// The disk fills up: from now on this process may not make any file larger than it is
/// (RLIMIT_FSIZE), so SQLite's writes past the end fail as on a full disk and it rolls back
/// the transaction they were in. `SIGXFSZ` must be handled, or the first such write kills the
/// process instead of failing.
fn fill_the_disk(files: &[std::path::PathBuf]) {
    let largest = files
        .iter()
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|metadata| metadata.len())
        .max()
        .unwrap_or(0);
    set_file_size_limit(Some(largest));
}

fn free_the_disk() {
    set_file_size_limit(None);
}

fn set_file_size_limit(bytes: Option<u64>) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Fsize);
    limit.current = bytes.or(limit.maximum);
    setrlimit(Resource::Fsize, limit).unwrap();
}

fn temp_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "appgrant-{name}-{}-{}.db",
        std::process::id(),
        rand::random::<u64>()
    ))
}

/// One family rotated, and new families started, over and over while the file is full; what
/// each call answered.
struct Outcomes {
    /// The newest refresh tokens the long-lived family answered with, in order.
    rotations: Vec<TokenResponse>,
    /// The tokens of every family whose exchange was answered as done.
    exchanges: Vec<TokenResponse>,
    failures: usize,
}

async fn work_through_a_full_disk(
    world: &World<SqlStore>,
    codes: Vec<Secret>,
    mut latest: TokenResponse,
) -> Outcomes {
    let mut outcomes = Outcomes {
        rotations: Vec::new(),
        exchanges: Vec::new(),
        failures: 0,
    };
    for code in codes {
        world.clock.advance(chrono::TimeDelta::seconds(1));
        // The exchange saves its family in a transaction, which the full disk aborts.
        match world.exchange(&code).await {
            Ok(tokens) => outcomes.exchanges.push(tokens),
            Err(_) => outcomes.failures += 1,
        }
        match world.refresh(&latest).await {
            Ok(tokens) => {
                latest = tokens.clone();
                outcomes.rotations.push(tokens);
            }
            Err(_) => outcomes.failures += 1,
        }
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keeps_every_acknowledged_write_through_a_full_disk_and_recovers_without_restart() {
    let _sigxfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(25))
        .expect("a SIGXFSZ handler");
    let path = temp_file("disk-full");
    let url = format!("sqlite://{}", path.display());
    let store = SqlStore::connect(&url).await.unwrap();
    let clock = store_suite::new_clock();
    let world = seed(
        server_on(
            store.clone(),
            appgrant::Config::new(store_suite::ISSUER),
            store_suite::new_keys(),
            clock.clone(),
        ),
        clock,
    )
    .await;
    let first = world.tokens_for(&world.jane).await;
    let mut codes = Vec::new();
    for _ in 0..60 {
        codes.push(world.code_for(&world.jane).await);
    }

    // The disk fills.
    let files: Vec<std::path::PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{}{suffix}", path.display()).into())
        .collect();
    fill_the_disk(&files);
    let outcomes = work_through_a_full_disk(&world, codes, first.clone()).await;
    assert!(outcomes.failures > 0, "the disk never filled up");

    // Space comes back: the same store, no restart.
    free_the_disk();
    let reopened = SqlStore::connect(&url).await.unwrap();
    // Every exchange answered as done has its family in the database.
    for tokens in &outcomes.exchanges {
        let grant = world.grant_of(tokens);
        assert!(
            reopened.family(&grant).await.unwrap().is_some(),
            "an acknowledged exchange is not in the database"
        );
    }
    // The last rotation answered as done is the family's current token: none was lost.
    let last = outcomes.rotations.last().unwrap_or(&first).clone();
    let family = reopened
        .family(&world.grant_of(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        family.current,
        last.refresh_token.as_ref().unwrap().digest(),
        "{} rotations were answered 200; the database has generation {}",
        outcomes.rotations.len(),
        family.generation
    );
    assert_eq!(family.generation, outcomes.rotations.len() as u64 + 1);
    // And the store works again: the newest token rotates, and new grants are saved.
    let next = world.refresh(&last).await.unwrap();
    let fresh = world.tokens_for(&world.jane).await;
    let reread = SqlStore::connect(&url).await.unwrap();
    let family = reread
        .family(&world.grant_of(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(family.current, next.refresh_token.unwrap().digest());
    assert!(
        reread
            .family(&world.grant_of(&fresh))
            .await
            .unwrap()
            .is_some()
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

// ---------------------------------------------------------------------------------------------
// Over HTTP: a store that fails answers 503 with Retry-After, never another error
// ---------------------------------------------------------------------------------------------

mod over_http {
    use super::header_sign_in::HeaderSignIn;
    use super::{store_suite, temp_file};
    use appgrant::http::{HttpOptions, ResourceGuard, ResourceRejection, ResourceRequest};
    use appgrant::model::{Level, ProjectId};
    use appgrant::store::SqlStore;
    use appgrant::token::Secret;
    use reqwest::StatusCode;
    use store_suite::{World, seed, server_on};

    /// The seeded world on SQLite behind the library's router, and the pool to close (the
    /// database "goes down": every store call then fails at once).
    async fn world_whose_database_goes_down() -> (World<SqlStore>, String, sqlx::AnyPool, Tokens) {
        sqlx::any::install_default_drivers();
        let path = temp_file("unavailable");
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        let store = SqlStore::from_pool(pool.clone()).await.unwrap();
        let clock = store_suite::new_clock();
        let server = server_on(
            store,
            appgrant::Config::new(store_suite::ISSUER),
            store_suite::new_keys(),
            clock.clone(),
        );
        let world = seed(server, clock).await;
        world.install_service_account(&[&world.tower]).await;
        let tokens = Tokens {
            user: world.tokens_for(&world.jane).await,
            service: world.service_token().await.unwrap(),
            code: world.code_for(&world.jane).await,
        };
        let api = axum::Router::new()
            .route("/api/rfis", axum::routing::get(list_rfis))
            .with_state(ResourceGuard::new(
                world.server.clone(),
                &HttpOptions::default(),
            ));
        let router =
            appgrant::http::router(world.server.clone(), HeaderSignIn, HttpOptions::default())
                .merge(api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (world, base, pool, tokens)
    }

    /// A resource route of the host's, guarded by the `ResourceRequest` extractor.
    async fn list_rfis(access: ResourceRequest) -> Result<&'static str, ResourceRejection> {
        let tower = ProjectId::new("tower");
        access
            .require(Some(&tower), "rfis", Level::ReadOnly)
            .await?;
        Ok("[]")
    }

    struct Tokens {
        user: appgrant::grant::TokenResponse,
        service: appgrant::grant::TokenResponse,
        code: Secret,
    }

    fn assert_unavailable(response: &reqwest::Response, what: &str) {
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{what} with the database down"
        );
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        assert!(
            retry_after.is_some_and(|seconds| seconds > 0),
            "{what}: no Retry-After"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_database_down_every_endpoint_answers_503_with_retry_after() {
        let (world, base, pool, tokens) = world_whose_database_goes_down().await;
        pool.close().await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let client_id = world.app.client_id.to_string();
        let secret = world.secret.expose().to_owned();
        let token_requests: Vec<(&str, Vec<(&str, String)>)> = vec![
            (
                "client credentials",
                vec![("grant_type", "client_credentials".into())],
            ),
            (
                "refresh",
                vec![
                    ("grant_type", "refresh_token".into()),
                    (
                        "refresh_token",
                        tokens.user.refresh_token.clone().unwrap().expose().into(),
                    ),
                ],
            ),
            (
                "code exchange",
                vec![
                    ("grant_type", "authorization_code".into()),
                    ("code", tokens.code.expose().into()),
                    ("redirect_uri", store_suite::REDIRECT.into()),
                    ("code_verifier", store_suite::VERIFIER.into()),
                ],
            ),
        ];
        for (what, form) in token_requests {
            let response = http
                .post(format!("{base}/oauth/token"))
                .basic_auth(&client_id, Some(&secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_unavailable(&response, what);
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], "temporarily_unavailable", "{what}");
        }
        for path in ["/oauth/revoke", "/oauth/introspect"] {
            let response = http
                .post(format!("{base}{path}"))
                .basic_auth(&client_id, Some(&secret))
                .form(&[("token", tokens.user.access_token.expose())])
                .send()
                .await
                .unwrap();
            assert_unavailable(&response, path);
        }
        let info = http
            .get(format!("{base}/oauth/token/info"))
            .bearer_auth(tokens.service.access_token.expose())
            .send()
            .await
            .unwrap();
        assert_unavailable(&info, "token info");

        // The authorization endpoint says the truth, not "the client is not registered".
        let mut url = url::Url::parse(&format!("{base}/oauth/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", store_suite::REDIRECT)
            .append_pair(
                "code_challenge",
                &appgrant::grant::pkce::challenge_of(store_suite::VERIFIER),
            )
            .append_pair("code_challenge_method", "S256");
        let page = http
            .get(url.as_str())
            .header("x-user", "jane")
            .send()
            .await
            .unwrap();
        assert_unavailable(&page, "the authorization page");
        let text = page.text().await.unwrap();
        assert!(!text.contains("not registered"), "{text}");
        assert!(text.contains("unavailable"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_database_down_a_resource_decision_answers_503() {
        let (world, base, pool, tokens) = world_whose_database_goes_down().await;
        let api = || {
            reqwest::Client::new()
                .get(format!("{base}/api/rfis"))
                .bearer_auth(tokens.service.access_token.expose())
                .header("company-id", "acme")
        };
        assert_eq!(api().send().await.unwrap().status(), StatusCode::OK);
        pool.close().await;
        assert_unavailable(&api().send().await.unwrap(), "a resource decision");
        let failed = world
            .server
            .decide(
                tokens.service.access_token.expose(),
                &store_suite::read_tower(),
            )
            .await;
        assert!(
            failed.is_err(),
            "a decision cannot be made without the store"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: connections killed in the middle of the work
// ---------------------------------------------------------------------------------------------

/// The seed world, served from a store on `database`.
#[cfg(feature = "postgres")]
async fn seeded_on(database: &store_suite::fixtures::Database) -> World<SqlStore> {
    let store = SqlStore::connect(database.url()).await.unwrap();
    let clock = store_suite::new_clock();
    seed(
        server_on(
            store,
            appgrant::Config::new(store_suite::ISSUER),
            store_suite::new_keys(),
            clock.clone(),
        ),
        clock,
    )
    .await
}

/// Ends every session of the database but the one `raw` asks through, as an administrator or
/// a restart would; how many it ended.
#[cfg(feature = "postgres")]
async fn kill_every_other_connection(raw: &sqlx::AnyPool) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(raw)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keeps_every_acknowledged_write_while_its_connections_are_killed() {
    let Some(database) = store_suite::fixtures::postgres_database().await else {
        return;
    };
    let world = seeded_on(&database).await;
    let first = world.tokens_for(&world.jane).await;
    let mut codes = Vec::new();
    for _ in 0..60 {
        codes.push(world.code_for(&world.jane).await);
    }
    // The fault: another session keeps terminating every other connection to the database.
    let raw = database.raw_pool().await;
    let killer = tokio::spawn(async move {
        let mut killed = 0u64;
        for _ in 0..200 {
            killed += kill_every_other_connection(&raw).await.unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        killed
    });
    let outcomes = work_through_a_full_disk(&world, codes, first.clone()).await;
    let killed = killer.await.unwrap();
    assert!(killed > 0, "no connection was killed");

    let reopened = SqlStore::connect(database.url()).await.unwrap();
    for tokens in &outcomes.exchanges {
        let grant = world.grant_of(tokens);
        assert!(
            reopened.family(&grant).await.unwrap().is_some(),
            "an acknowledged exchange is not in the database"
        );
    }
    // Every rotation answered 200 is there. (A rotation whose answer was lost with its
    // connection may have committed too: that is the one write a client cannot know about.)
    let family = reopened
        .family(&world.grant_of(&first))
        .await
        .unwrap()
        .unwrap();
    let acknowledged = outcomes.rotations.len() as u64;
    assert!(
        family.generation > acknowledged,
        "{acknowledged} rotations were answered 200; the database has generation {}",
        family.generation
    );
    if family.generation == acknowledged + 1 {
        let last = outcomes.rotations.last().unwrap_or(&first);
        assert_eq!(
            family.current,
            last.refresh_token.as_ref().unwrap().digest()
        );
    }
    // And the same store works on, without a restart. Connections killed while idle in the
    // pool are found dead when next used (a retryable 503 each, no ping per checkout) and are
    // replaced, so at most one failure per pooled connection precedes success.
    let mut attempts = 0;
    let code = loop {
        attempts += 1;
        let authorized = world
            .server
            .approve_authorization(
                &world.authorization_request(),
                &world.jane,
                Some(&world.acme),
            )
            .await;
        match authorized {
            Ok(response) => break store_suite::code_in(&response),
            Err(_) if attempts <= 16 => continue,
            Err(error) => panic!("the store did not recover: {error:?}"),
        }
    };
    let tokens = world.exchange(&code).await;
    assert!(tokens.is_ok(), "{tokens:?}");
    assert!(world.refresh(&tokens.unwrap()).await.is_ok());
}

/// Reads change nothing, so a read that meets a pooled connection the database has closed (a
/// restart, a proxy's idle timeout) is made again on another connection instead of failing
/// every request that shared its statement: once every connection was killed, the next
/// decisions and grants are all answered.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_reads_on_connections_the_database_closed_are_made_again_on_live_ones() {
    let Some(database) = store_suite::fixtures::postgres_database().await else {
        return;
    };
    let world = seeded_on(&database).await;
    world.install_service_account(&[&world.tower]).await;
    let person = world.tokens_for(&world.jane).await;
    let service = world.service_token().await.unwrap();
    let requirement = store_suite::read_tower();
    let decide = |tokens: &TokenResponse| {
        let token = tokens.access_token.expose().to_owned();
        let (server, requirement) = (&world.server, &requirement);
        async move { server.decide(&token, requirement).await }
    };
    // Several at once, so the pool holds several connections to kill.
    let (a, b, c, d) = tokio::join!(
        decide(&person),
        decide(&service),
        decide(&person),
        decide(&service)
    );
    for decided in [a, b, c, d] {
        assert!(decided.unwrap().is_allowed());
    }

    let raw = database.raw_pool().await;
    let killed = kill_every_other_connection(&raw).await.unwrap();
    raw.close().await;
    assert!(killed > 1, "only {killed} connections were killed");
    // The terminations reach the sockets.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    for round in 0..3 {
        let (a, b, c, d, e, f) = tokio::join!(
            decide(&person),
            decide(&service),
            decide(&person),
            decide(&service),
            world.service_token(),
            world.service_token(),
        );
        for decided in [a, b, c, d] {
            let decided = decided.unwrap_or_else(|error| panic!("round {round}: {error}"));
            assert!(decided.is_allowed());
        }
        for issued in [e, f] {
            issued.unwrap_or_else(|error| panic!("round {round}: {error:?}"));
        }
    }
}

/// A store over the host's pool stops when the host closes that pool, as a database gone
/// would stop it: the connections the hot reads keep between statements go with the pool, so
/// no decision or grant is answered from them afterwards.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_reads_stop_when_the_host_closes_the_pool() {
    let Some(database) = store_suite::fixtures::postgres_database().await else {
        return;
    };
    let pool = database.raw_pool().await;
    let store = SqlStore::from_pool(pool.clone()).await.unwrap();
    let clock = store_suite::new_clock();
    let keys = store_suite::new_keys();
    let config = appgrant::Config::new(store_suite::ISSUER);
    let world = seed(server_on(store, config, keys, clock.clone()), clock).await;
    world.install_service_account(&[&world.tower]).await;
    let service = world.service_token().await.unwrap();
    let requirement = store_suite::read_tower();
    let decide = || {
        world
            .server
            .decide(service.access_token.expose(), &requirement)
    };
    // Enough at once that the reads share statements, on connections they then keep.
    for _ in 0..3 {
        let (a, b, c, d) = tokio::join!(decide(), decide(), decide(), decide());
        for decided in [a, b, c, d] {
            assert!(decided.unwrap().is_allowed());
        }
    }

    pool.close().await;
    let (a, b) = tokio::join!(decide(), decide());
    assert!(a.is_err() && b.is_err(), "decided over a closed pool");
    assert!(
        world.service_token().await.is_err(),
        "granted over a closed pool"
    );
}

#[tokio::test]
async fn a_database_that_accepts_but_never_answers_fails_fast() {
    // A listener that takes connections and says nothing, like a database host that hangs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let options = appgrant::store::SqlOptions {
        acquire_timeout: std::time::Duration::from_secs(1),
        ..appgrant::store::SqlOptions::default()
    };
    let url = format!("postgres://appgrant@{address}/appgrant");
    let bounded = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        SqlStore::connect_with(&url, &options),
    )
    .await;
    assert!(
        matches!(bounded, Ok(Err(_))),
        "connecting to a hung database did not fail within its acquire timeout"
    );
}

#[tokio::test]
async fn a_database_url_this_build_cannot_open_says_what_to_use() {
    let refused = SqlStore::connect("mysql://db/appgrant").await.unwrap_err();
    assert!(matches!(
        refused,
        appgrant::store::StoreError::UnsupportedUrl { feature: None }
    ));
    assert!(refused.to_string().contains("sqlite://"), "{refused}");
}

/// A TCP relay to the database that can be cut and restored on the same port: cut, its
/// listener closes and every connection it relayed drops, so connecting is refused and every
/// open session ends, as when the database host goes down. It can also stop taking new
/// connections alone, keeping the sessions it relays, as a database at its connection limit.
#[cfg(feature = "postgres")]
struct Relay {
    address: std::net::SocketAddr,
    database: std::net::SocketAddr,
    accepting: Option<tokio::task::JoinHandle<()>>,
    sessions: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

#[cfg(feature = "postgres")]
impl Relay {
    /// A relay to the database at `url`.
    async fn to(url: &str) -> Relay {
        let url = url::Url::parse(url).unwrap();
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let database = tokio::net::lookup_host(host).await.unwrap().next().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut relay = Relay {
            address,
            database,
            accepting: None,
            sessions: Default::default(),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (database, sessions) = (self.database, std::sync::Arc::clone(&self.sessions));
        self.accepting = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let session = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(database).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                sessions.lock().unwrap().push(session.abort_handle());
            }
        }));
    }

    /// New connections are refused; the sessions relayed go on.
    async fn refuse_new_connections(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
            let _ = accepting.await;
        }
    }

    async fn cut(&mut self) {
        self.refuse_new_connections().await;
        for session in self.sessions.lock().unwrap().drain(..) {
            session.abort();
        }
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.address).await.unwrap();
        self.serve(listener);
    }

    /// `url` with its host and port replaced by the relay's.
    fn relayed(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_ip_host(self.address.ip()).unwrap();
        url.set_port(Some(self.address.port())).unwrap();
        url.to_string()
    }
}

/// With the database down, a request is refused (a retryable error) within the pool's acquire
/// timeout the first time, and at once after that, instead of every request waiting out the
/// acquire timeout while the driver keeps reconnecting; once the database is back, requests
/// are answered again without a restart.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_database_down_requests_are_refused_at_once_and_served_when_it_is_back() {
    use std::time::{Duration, Instant};
    let Some(database) = store_suite::fixtures::postgres_database().await else {
        return;
    };
    let mut relay = Relay::to(database.url()).await;
    let options = appgrant::store::SqlOptions {
        acquire_timeout: Duration::from_secs(1),
        ..appgrant::store::SqlOptions::default()
    };
    let store = SqlStore::connect_with(&relay.relayed(database.url()), &options)
        .await
        .unwrap();
    let clock = store_suite::new_clock();
    let config = appgrant::Config::new(store_suite::ISSUER);
    let server = server_on(store, config, store_suite::new_keys(), clock.clone());
    let world = seed(server, clock).await;
    world.install_service_account(&[&world.tower]).await;
    let service = world.service_token().await.unwrap();
    let requirement = store_suite::read_tower();
    let decide = || {
        world
            .server
            .decide(service.access_token.expose(), &requirement)
    };
    assert!(decide().await.unwrap().is_allowed());

    relay.cut().await;
    let first = Instant::now();
    assert!(decide().await.is_err(), "decided with the database down");
    assert!(
        first.elapsed() < Duration::from_secs(5),
        "the first refusal took {:?}",
        first.elapsed()
    );
    // Every later request, decision or grant, is refused without waiting for a connection.
    let later = Instant::now();
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        for _ in 0..10 {
            assert!(decide().await.is_err(), "decided with the database down");
            let issued = world.service_token().await;
            assert!(issued.is_err(), "issued with the database down");
        }
    })
    .await;
    assert!(
        refused.is_ok() && later.elapsed() < Duration::from_secs(2),
        "20 refusals took {:?}: each waited for a connection",
        later.elapsed()
    );

    relay.restore().await;
    let back = Instant::now();
    loop {
        if let Ok(decision) = decide().await {
            assert!(decision.is_allowed());
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "still refused 10 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.service_token().await.unwrap();
}

/// A database that refuses only new connections (at its connection limit, say) is not down:
/// after a call that needed a new connection failed, the calls the store's open connections
/// can serve are still served, not refused as if the database could not be reached.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_refusing_only_new_connections_still_serves_calls_on_open_ones() {
    use appgrant::store::AppStore;
    use std::time::Duration;
    let Some(database) = store_suite::fixtures::postgres_database().await else {
        return;
    };
    let mut relay = Relay::to(database.url()).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(1))
        .test_before_acquire(false)
        .connect(&relay.relayed(database.url()))
        .await
        .unwrap();
    let store = SqlStore::from_pool(pool.clone()).await.unwrap();
    store.apps().await.unwrap();
    // Every open connection busy, and no new one to be had: a call fails. (sqlx tests a
    // connection given back before it is idle again: wait for all of them.)
    for _ in 0..100 {
        if pool.num_idle() == pool.size() as usize {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut held = Vec::new();
    while let Some(connection) = pool.try_acquire() {
        held.push(connection);
    }
    assert!(!held.is_empty(), "no connection was open");
    relay.refuse_new_connections().await;
    assert!(store.apps().await.is_err(), "listed without a connection");
    // The busy connections come free: the next calls run on them.
    drop(held);
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..3 {
        store
            .apps()
            .await
            .unwrap_or_else(|error| panic!("refused with open connections idle: {error}"));
    }
}
