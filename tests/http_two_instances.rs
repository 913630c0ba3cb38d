//! Two demo servers on one database, started with the same issuer and deployment secret, are
//! one server: a person signs in on one and answers the consent page on the other, a token
//! from one works on the other, and a signing-key rotation made through one is published and
//! then used by the other. Run on SQLite and, when configured, PostgreSQL.
#![cfg(feature = "sqlite")]

mod http_support;
mod store_suite;

use appgrant::store::SqlStore;
use appgrant::token::{DeploymentSecret, KeyPolicy};
use chrono::TimeDelta;
use http_support::demo::{self, Deployment, SeedInfo};
use http_support::{hidden_inputs, redirect_target};
use reqwest::StatusCode;
use std::time::Duration;

struct Instance {
    base: String,
    seed: SeedInfo,
    server: appgrant::AuthorizationServer<SqlStore>,
}

/// An instance on `url`, listening on `listener`, of the deployment at `issuer` with `secret`.
async fn instance(
    url: &str,
    listener: tokio::net::TcpListener,
    issuer: &str,
    secret: &DeploymentSecret,
) -> Instance {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let deployment = Deployment {
        issuer: issuer.to_owned(),
        keys: None,
        secret: Some(secret.clone()),
        // Short, so the test sees a rotation travel in seconds.
        key_policy: KeyPolicy {
            publish_ahead: TimeDelta::seconds(2),
            reload_every: TimeDelta::seconds(1),
            rotate_every: None,
            ..KeyPolicy::default()
        },
    };
    let store = SqlStore::connect(url).await.unwrap();
    let (router, seed, server) = demo::build(deployment, store).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Instance { base, seed, server }
}

async fn two_instances(url: &str) -> (Instance, Instance) {
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let (listener_a, listener_b) = (
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    );
    // The deployment's one issuer, whichever instance a request reaches.
    let issuer = format!("http://{}", listener_a.local_addr().unwrap());
    let a = instance(url, listener_a, &issuer, &secret).await;
    let b = instance(url, listener_b, &issuer, &secret).await;
    (a, b)
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published(http: &reqwest::Client, base: &str) -> Vec<String> {
    let jwks: serde_json::Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_instances_are_one_server(url: &str) {
    let (a, b) = two_instances(url).await;
    // Both seeded the same apps: the same client id and secret.
    let (fieldsync_a, fieldsync_b) = (
        a.seed
            .apps
            .iter()
            .find(|app| app.name == "FieldSync")
            .unwrap(),
        b.seed
            .apps
            .iter()
            .find(|app| app.name == "FieldSync")
            .unwrap(),
    );
    assert_eq!(fieldsync_a.client_id, fieldsync_b.client_id);
    assert_eq!(fieldsync_a.client_secret, fieldsync_b.client_secret);
    let app = fieldsync_a.clone();
    let secret = app.client_secret.clone().unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();

    let jane_password = a
        .seed
        .users
        .iter()
        .find(|user| user.username == "jane")
        .unwrap()
        .password
        .clone();
    // Jane signs in on A...
    let signed_in = browser
        .post(format!("{}/login", a.base))
        .form(&[
            ("username", "jane"),
            ("password", jane_password.as_str()),
            ("return_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    // ...is shown the consent page by B...
    let verifier = "v".repeat(43);
    let mut authorize = url::Url::parse(&format!("{}/oauth/authorize", b.base)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &app.redirect_uri)
        .append_pair("state", "s")
        .append_pair(
            "code_challenge",
            &appgrant::grant::pkce::challenge_of(&verifier),
        )
        .append_pair("code_challenge_method", "S256");
    let page = browser.get(authorize.as_str()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "B does not know A's sign-in");
    let mut form = hidden_inputs(&page.text().await.unwrap());
    form.push(("decision".into(), "allow".into()));
    // ...and answers it on A.
    let answered = browser
        .post(format!("{}/oauth/authorize", a.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answered.status(),
        StatusCode::SEE_OTHER,
        "A refused B's form"
    );
    let location = redirect_target(&answered).unwrap();
    let code = http_support::query_param(&location, "code").expect("a code");

    // The code is exchanged on B; the token works on A's API and refreshes on A.
    let http = http_support::client();
    let tokens: serde_json::Value = http
        .post(format!("{}/oauth/token", b.base))
        .basic_auth(&app.client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().expect("tokens").to_owned();
    let api = |base: &str, token: &str| {
        http.get(format!("{base}/api/projects/tower/rfis"))
            .bearer_auth(token)
            .header("Company-Id", "acme")
    };
    assert_eq!(
        api(&a.base, &access).send().await.unwrap().status(),
        StatusCode::OK
    );
    let refreshed = http
        .post(format!("{}/oauth/token", a.base))
        .basic_auth(&app.client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);

    // A rotation made through A: B publishes the next key before anyone signs with it, then
    // signs with it, and A accepts what B signs.
    let first = kid_of(&access);
    let next = a.server.rotate_stored_key().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(published(&http, &b.base).await.contains(&next));
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let refreshed: serde_json::Value = refreshed.json().await.unwrap();
    let on_b: serde_json::Value = http
        .post(format!("{}/oauth/token", b.base))
        .basic_auth(&app.client_id, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed["refresh_token"].as_str().unwrap(),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed_by_b = on_b["access_token"].as_str().expect("tokens").to_owned();
    assert_eq!(kid_of(&signed_by_b), next);
    assert_ne!(next, first);
    assert_eq!(
        api(&a.base, &signed_by_b).send().await.unwrap().status(),
        StatusCode::OK,
        "A refuses what B signs with the new key"
    );
    // The old key still verifies what it signed.
    assert_eq!(
        api(&b.base, &access).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_sqlite_database_are_one_server() {
    let database = store_suite::fixtures::sqlite_file();
    the_instances_are_one_server(database.url()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_database_are_one_server() {
    let Some(database) = store_suite::fixtures::postgres_database().await else {
        return;
    };
    the_instances_are_one_server(database.url()).await;
}
