//! The router's probes: `/healthz` answers 200 while the process runs; `/readyz` answers 200
//! while the store answers and the signing key signs, and 503 naming what failed otherwise
//! (the store's error itself goes to the log, not to whoever asks).

mod failing_store;
mod in_process;
mod support;

use appgrant::server::NotReady;
use appgrant::{AuthorizationServer, Config, MemoryStore};
use failing_store::{FAILURE, FailingStore};
use in_process::{Answer, SignedInAs, get};
use serde_json::json;

fn sign_in() -> SignedInAs {
    SignedInAs {
        user: appgrant::model::UserId::new("jane"),
        company: appgrant::model::CompanyId::new("acme"),
        session: "a session".into(),
    }
}

fn assert_not_cached(answer: &Answer) {
    assert_eq!(answer.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn healthz_answers_200_ok() {
    let server = AuthorizationServer::builder(MemoryStore::new(), Config::new(support::ISSUER))
        .build()
        .unwrap();
    let router = in_process::app(server, sign_in());
    let answer = get(&router, "/healthz", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({ "status": "ok" }));
    assert_not_cached(&answer);
}

#[tokio::test]
async fn readyz_answers_200_while_the_store_answers_and_the_key_signs() {
    let server = AuthorizationServer::builder(MemoryStore::new(), Config::new(support::ISSUER))
        .build()
        .unwrap();
    server.readiness().await.unwrap();
    let router = in_process::app(server, sign_in());
    let answer = get(&router, "/readyz", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({ "status": "ok" }));
    assert_not_cached(&answer);
}

#[tokio::test]
async fn readyz_answers_503_naming_the_store_while_it_fails_and_200_once_it_is_back() {
    let store = FailingStore::default();
    let server = AuthorizationServer::builder(store.clone(), Config::new(support::ISSUER))
        .build()
        .unwrap();
    let router = in_process::app(server.clone(), sign_in());
    assert_eq!(get(&router, "/readyz", None).await.status, 200);

    store.fail(true);
    let answer = get(&router, "/readyz", None).await;
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.json(),
        json!({ "status": "unavailable", "failed": "store" })
    );
    assert!(!answer.body.contains(FAILURE), "the cause is for the log");
    assert_not_cached(&answer);
    // Alive all the same: the process answers.
    assert_eq!(get(&router, "/healthz", None).await.status, 200);
    let not_ready = server.readiness().await.unwrap_err();
    assert!(matches!(not_ready, NotReady::Store(_)));
    assert_eq!(not_ready.component(), "store");
    assert!(not_ready.to_string().contains(FAILURE));

    store.fail(false);
    assert_eq!(get(&router, "/readyz", None).await.status, 200);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn readyz_answers_503_when_the_database_pool_is_closed() {
    sqlx::any::install_default_drivers();
    // One connection: each SQLite connection to :memory: is a database of its own.
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let store = appgrant::store::SqlStore::from_pool(pool.clone())
        .await
        .unwrap();
    let server = AuthorizationServer::builder(store, Config::new(support::ISSUER))
        .build()
        .unwrap();
    let router = in_process::app(server, sign_in());
    assert_eq!(get(&router, "/readyz", None).await.status, 200);
    pool.close().await;
    let answer = get(&router, "/readyz", None).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()["failed"], "store");
}
