//! The HTTP face answers: sign-in hand-over, consent, code, token, resource API.
#![cfg(feature = "axum")]

mod http_support;

use http_support::*;

#[tokio::test]
async fn a_person_signs_in_consents_and_the_app_reads_rfis_as_them() {
    let running = start().await;
    let app = running.fieldsync();
    let browser = Browser::new(&running);
    let verifier = "a".repeat(43);
    let challenge = appgrant::grant::pkce::challenge_of(&verifier);
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&state=s1&code_challenge={challenge}&code_challenge_method=S256",
        running.base, app.client_id, app.redirect_uri
    );
    // Not signed in: handed over to the login page.
    let first = browser.http.get(&authorize).send().await.unwrap();
    assert!(
        redirect_target(&first)
            .unwrap()
            .starts_with("/login?return_to=")
    );
    let john = running.user("john");
    browser.sign_in(&john.username, &john.password).await;
    let consent = browser.open(&authorize).await.text().await.unwrap();
    assert!(
        consent.contains("Allow FieldSync to act as you?"),
        "{consent}"
    );
    let answer = browser.answer_consent(&consent, "allow").await;
    let location = redirect_target(&answer).unwrap();
    assert!(location.starts_with(&app.redirect_uri));
    assert_eq!(query_param(&location, "state").as_deref(), Some("s1"));
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(running.base.as_str())
    );
    let code = query_param(&location, "code").unwrap();
    let tokens: serde_json::Value = client()
        .post(running.url("/oauth/token"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let read = client()
        .get(running.url("/api/projects/tower/rfis"))
        .bearer_auth(access)
        .header("Company-Id", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let write = client()
        .post(running.url("/api/projects/tower/rfis"))
        .bearer_auth(access)
        .header("Company-Id", "acme")
        .json(&serde_json::json!({ "title": "Door schedule" }))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
    let body: serde_json::Value = write.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
}
