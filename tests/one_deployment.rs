//! Instances given the same store, issuer and deployment secret behave as one server: the
//! keys they must share (refresh tokens, consent forms) derive from the secret.

mod header_sign_in;
mod http_support;
mod support;

use appgrant::grant::{ErrorCode, TokenRequest, TokenResponse};
use appgrant::http::HttpOptions;
use appgrant::token::{DeploymentSecret, DeploymentSecretError};
use appgrant::{AuthorizationServer, MemoryStore};
use header_sign_in::HeaderSignIn;
use http_support::{client, hidden_inputs};
use reqwest::StatusCode;
use support::{REDIRECT, World};

/// Another instance of the world's server: same store, keys, clock and configuration, and
/// the deployment secret `secret`.
fn instance(world: &World, secret: &DeploymentSecret) -> AuthorizationServer<MemoryStore> {
    AuthorizationServer::builder(world.server.store().clone(), world.server.config().clone())
        .keys(world.server.keys())
        .clock(world.clock.clone())
        .deployment_secret(secret)
        .build()
        .unwrap()
}

fn refresh(tokens: &TokenResponse) -> TokenRequest {
    TokenRequest::RefreshToken {
        refresh_token: tokens.refresh_token.clone().unwrap(),
        scope: None,
        resource: None,
    }
}

#[tokio::test]
async fn a_refresh_token_issued_by_one_instance_rotates_on_another_with_the_same_secret() {
    let world = support::world().await;
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let (a, b) = (instance(&world, &secret), instance(&world, &secret));
    let code = world.code_for(&world.jane).await;
    let first = a
        .token(world.exchange_request(code), &world.client())
        .await
        .unwrap();
    let second = b.token(refresh(&first), &world.client()).await.unwrap();
    let third = a.token(refresh(&second), &world.client()).await.unwrap();
    // Reuse detected across instances too.
    let reused = b.token(refresh(&first), &world.client()).await;
    assert_eq!(reused.unwrap_err().code(), ErrorCode::InvalidGrant);
    assert!(a.token(refresh(&third), &world.client()).await.is_err());
}

#[tokio::test]
async fn an_instance_with_another_secret_does_not_honour_the_refresh_tokens() {
    let world = support::world().await;
    let a = instance(&world, &DeploymentSecret::generate(&mut rand::thread_rng()));
    let other = instance(&world, &DeploymentSecret::generate(&mut rand::thread_rng()));
    let code = world.code_for(&world.jane).await;
    let tokens = a
        .token(world.exchange_request(code), &world.client())
        .await
        .unwrap();
    let refused = other.token(refresh(&tokens), &world.client()).await;
    assert_eq!(refused.unwrap_err().code(), ErrorCode::InvalidGrant);
    assert!(a.token(refresh(&tokens), &world.client()).await.is_ok());
}

async fn serve(server: AuthorizationServer<MemoryStore>) -> String {
    let router = appgrant::http::router(server, HeaderSignIn, HttpOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

/// Shows `user` the consent page on `shown_on` and answers it on `answered_on`; returns the
/// status.
async fn consent_across(
    world: &World,
    user: &str,
    shown_on: &str,
    answered_on: &str,
) -> StatusCode {
    let mut url = url::Url::parse(&format!("{shown_on}/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", world.app.client_id.as_str())
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", &support::challenge())
        .append_pair("code_challenge_method", "S256");
    let headers = [("x-user", user), ("x-session", "s1")];
    let mut request = client().get(url.as_str());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let page = request.send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let mut fields = hidden_inputs(&page.text().await.unwrap());
    fields.push(("decision".into(), "allow".into()));
    let mut answer = client().post(format!("{answered_on}/oauth/authorize"));
    for (name, value) in headers {
        answer = answer.header(name, value);
    }
    answer.form(&fields).send().await.unwrap().status()
}

#[tokio::test]
async fn a_consent_page_shown_by_one_instance_is_answered_on_another_with_the_same_secret() {
    let world = support::world().await;
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let a = serve(instance(&world, &secret)).await;
    let b = serve(instance(&world, &secret)).await;
    assert_eq!(
        consent_across(&world, "jane", &a, &b).await,
        StatusCode::SEE_OTHER
    );
    // A restart is another instance with the same secret.
    let restarted = serve(instance(&world, &secret)).await;
    assert_eq!(
        consent_across(&world, "john", &b, &restarted).await,
        StatusCode::SEE_OTHER
    );
    // Nobody has consented for Sam yet, so he sees the page too.
    world
        .server
        .save_user(appgrant::model::User::person("sam", "Sam"))
        .await
        .unwrap();
    let stranger = serve(instance(
        &world,
        &DeploymentSecret::generate(&mut rand::thread_rng()),
    ))
    .await;
    assert_eq!(
        consent_across(&world, "sam", &a, &stranger).await,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn a_deployment_secret_round_trips_through_its_text_form() {
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let text = secret.encode();
    let parsed = DeploymentSecret::parse(&format!("  {text}\n")).unwrap();
    assert_eq!(parsed.encode(), text);
    // The same secret derives the same keys: a refresh token of one opens with the other.
    let grant = appgrant::model::GrantId::new("g");
    let token = secret
        .refresh_token_key()
        .mint(&grant, 3, &mut rand::thread_rng());
    let opened = parsed.refresh_token_key().open(token.expose()).unwrap();
    assert_eq!((opened.grant, opened.generation), (grant, 3));
}

#[test]
fn short_or_garbled_deployment_secrets_are_refused() {
    assert_eq!(
        DeploymentSecret::from_bytes(&[1; 31]).unwrap_err(),
        DeploymentSecretError::TooShort(31)
    );
    assert_eq!(
        DeploymentSecret::parse("not base64 !").unwrap_err(),
        DeploymentSecretError::NotBase64
    );
    assert!(DeploymentSecret::parse("").is_err());
    assert!(DeploymentSecret::from_bytes(&[1; 32]).is_ok());
}

#[test]
fn the_derived_keys_differ_from_each_other_and_from_the_secret() {
    let secret = DeploymentSecret::from_bytes(&[7; 32]).unwrap();
    let key = secret.refresh_token_key();
    let token = key.mint(
        &appgrant::model::GrantId::new("g"),
        1,
        &mut rand::thread_rng(),
    );
    // Made with the raw secret as the key, the token would not open.
    let raw = appgrant::token::RefreshTokenKey::from_bytes([7; 32]);
    assert!(raw.open(token.expose()).is_none());
    assert!(key.open(token.expose()).is_some());
}

#[test]
fn a_host_key_is_the_same_for_one_secret_and_purpose_and_differs_otherwise() {
    let secret = DeploymentSecret::from_bytes(&[7; 32]).unwrap();
    let other = DeploymentSecret::from_bytes(&[8; 32]).unwrap();
    let sessions = secret.host_key("demo sessions");
    assert_eq!(sessions, secret.host_key("demo sessions"));
    assert_ne!(sessions, secret.host_key("demo passwords"));
    assert_ne!(sessions, other.host_key("demo sessions"));
    assert_ne!(sessions, [7; 32], "not the secret itself");
    assert!(
        sessions.iter().any(|byte| *byte != sessions[0]),
        "not a constant"
    );
}
