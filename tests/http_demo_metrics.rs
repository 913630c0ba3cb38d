//! The demo server serves its metrics in the Prometheus text format at `GET /metrics`, and its
//! probes at `/healthz` and `/readyz`.
#![cfg(feature = "axum")]

mod http_support;

use http_support::*;

/// The value of the Prometheus sample `name{labels}` in `text`, if it is there.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(series, _)| {
            series.starts_with(&format!("{name}{{"))
                && labels
                    .iter()
                    .all(|(label, value)| series.contains(&format!("{label}=\"{value}\"")))
        })
        .and_then(|(_, value)| value.parse().ok())
}

async fn scrape(running: &Running) -> String {
    let response = client().get(running.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_each_grant_and_time_each_token_request_in_prometheus_text() {
    let running = start().await;
    let app = running.fieldsync();
    let issued = [("grant_type", "client_credentials"), ("outcome", "issued")];
    // The recorder is the process's: other demo servers in this binary count too, so this
    // compares before and after.
    let before = sample(&scrape(&running).await, "appgrant_grants_total", &issued).unwrap_or(0.0);
    let response = client()
        .post(running.url("/oauth/token"))
        .basic_auth(&app.client_id, app.client_secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = scrape(&running).await;
    assert!(
        text.contains("# TYPE appgrant_grants_total counter"),
        "{text}"
    );
    let after = sample(&text, "appgrant_grants_total", &issued).unwrap();
    assert!(after >= before + 1.0, "{before} then {after}:\n{text}");
    assert!(text.contains("# TYPE appgrant_http_request_duration_seconds histogram"));
    let timed = [("endpoint", "token"), ("status", "200")];
    let count = sample(
        &text,
        "appgrant_http_request_duration_seconds_count",
        &timed,
    );
    assert!(count.is_some_and(|count| count >= 1.0), "{text}");
    // No secret is a label.
    let secret = app.client_secret.as_deref().unwrap();
    assert!(!text.contains(secret));
}

#[tokio::test]
async fn the_demo_answers_its_probes() {
    let running = start().await;
    for path in ["/healthz", "/readyz"] {
        let response = client().get(running.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    }
}
