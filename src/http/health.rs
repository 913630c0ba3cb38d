//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve: see
//! [`AuthorizationServer::readiness`](crate::AuthorizationServer::readiness)).

use super::render::json_no_store;
use super::{HttpState, SignIn};
use crate::store::{Directory, Store};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

/// `GET /healthz`: 200 `{"status":"ok"}` while the process answers at all.
pub(crate) async fn alive() -> Response {
    json_no_store(StatusCode::OK, &json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 `{"status":"ok"}`, or 503 `{"status":"unavailable","failed":…}` naming
/// what failed (`store`, `directory` or `signing_key`; the error itself goes to the log, not to the caller).
pub(crate) async fn ready<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
) -> Response {
    match state.shared.server.readiness().await {
        Ok(()) => json_no_store(StatusCode::OK, &json!({ "status": "ok" })),
        Err(not_ready) => json_no_store(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "unavailable", "failed": not_ready.component() }),
        ),
    }
}
