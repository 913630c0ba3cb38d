//! The consent form over HTTP: its CSRF token binds it to the signed-in user, their sign-in
//! session, the exact authorization request and the time it was shown, and it expires.

mod header_sign_in;
mod http_support;
mod support;

use appgrant::http::HttpOptions;
use chrono::TimeDelta;
use header_sign_in::HeaderSignIn;
use http_support::{client, hidden_inputs};
use reqwest::StatusCode;
use support::{REDIRECT, World};

/// The world's server behind the library's router on loopback; returns its base URL.
async fn serve(world: &World) -> String {
    let router = appgrant::http::router(world.server.clone(), HeaderSignIn, HttpOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

/// Who is at the browser: a user and their session.
#[derive(Clone, Copy)]
struct Person {
    user: &'static str,
    session: &'static str,
}

const JANE: Person = Person {
    user: "jane",
    session: "jane-session-1",
};

/// The consent page's form fields for an authorization request with `extra` parameters.
async fn consent_form(
    base: &str,
    world: &World,
    person: Person,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut url = url::Url::parse(&format!("{base}/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", world.app.client_id.as_str())
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", &support::challenge())
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    let page = client()
        .get(url.as_str())
        .header("x-user", person.user)
        .header("x-company", "acme")
        .header("x-session", person.session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let fields = hidden_inputs(&page.text().await.unwrap());
    assert!(fields.iter().any(|(name, _)| name == "csrf_token"));
    fields
}

/// Submits the form with `allow`, as `person`; returns the status.
async fn answer(base: &str, person: Person, fields: &[(String, String)]) -> StatusCode {
    let mut fields = fields.to_vec();
    fields.push(("decision".into(), "allow".into()));
    client()
        .post(format!("{base}/oauth/authorize"))
        .header("x-user", person.user)
        .header("x-company", "acme")
        .header("x-session", person.session)
        .form(&fields)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_consent_form_answered_in_time_by_its_own_session_is_accepted() {
    let world = support::world().await;
    let base = serve(&world).await;
    let form = consent_form(&base, &world, JANE, &[]).await;
    world
        .clock
        .advance(TimeDelta::minutes(10) - TimeDelta::seconds(1));
    assert_eq!(answer(&base, JANE, &form).await, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_consent_form_older_than_ten_minutes_is_refused() {
    let world = support::world().await;
    let base = serve(&world).await;
    let form = consent_form(&base, &world, JANE, &[]).await;
    world.clock.advance(TimeDelta::minutes(10));
    assert_eq!(answer(&base, JANE, &form).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_consent_form_shown_in_one_sign_in_session_is_refused_in_another() {
    let world = support::world().await;
    let base = serve(&world).await;
    let form = consent_form(&base, &world, JANE, &[]).await;
    let later_session = Person {
        session: "jane-session-2",
        ..JANE
    };
    assert_eq!(
        answer(&base, later_session, &form).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_consent_form_shown_to_one_user_is_refused_for_another() {
    let world = support::world().await;
    let base = serve(&world).await;
    let form = consent_form(&base, &world, JANE, &[]).await;
    let john = Person {
        user: "john",
        session: JANE.session,
    };
    assert_eq!(answer(&base, john, &form).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_consent_form_whose_time_was_changed_is_refused() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let world = support::world().await;
    let base = serve(&world).await;
    let form = consent_form(&base, &world, JANE, &[]).await;
    world.clock.advance(TimeDelta::minutes(20));
    // Moving the form's own time forward does not make it fresh: the time is under the MAC.
    let form: Vec<(String, String)> = form
        .into_iter()
        .map(|(name, value)| {
            if name != "csrf_token" {
                return (name, value);
            }
            let mut token = URL_SAFE_NO_PAD.decode(value).unwrap();
            let shown = i64::from_be_bytes(token[..8].try_into().unwrap());
            token[..8].copy_from_slice(&(shown + 20 * 60).to_be_bytes());
            (name, URL_SAFE_NO_PAD.encode(token))
        })
        .collect();
    assert_eq!(answer(&base, JANE, &form).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_consent_form_is_bound_to_its_request_however_its_fields_are_split() {
    // With each field put after a NUL byte, `state=x\0y` and no scope fed the MAC exactly what
    // `state=x&scope=y\0` does, so the form approved a request the user never saw.
    let world = support::world().await;
    let base = serve(&world).await;
    let form = consent_form(&base, &world, JANE, &[("state", "x\0y")]).await;
    let mut shifted: Vec<(String, String)> = form
        .into_iter()
        .filter(|(name, _)| name != "state")
        .collect();
    shifted.push(("state".into(), "x".into()));
    shifted.push(("scope".into(), "y\0".into()));
    assert_eq!(answer(&base, JANE, &shifted).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_consent_form_shown_for_one_company_is_refused_for_another() {
    let world = support::world().await;
    let base = serve(&world).await;
    let form = consent_form(&base, &world, JANE, &[]).await;
    let mut fields = form.clone();
    fields.push(("decision".into(), "allow".into()));
    let status = client()
        .post(format!("{base}/oauth/authorize"))
        .header("x-user", JANE.user)
        .header("x-company", "globex")
        .header("x-session", JANE.session)
        .form(&fields)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::FORBIDDEN);
}
