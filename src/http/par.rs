//! `POST /oauth/par`: pushed authorization requests (RFC 9126 §2).

use super::render::{json_no_store, oauth_error};
use super::token::read_client_request;
use super::{HttpState, SignIn};
use crate::grant::{PushError, pushed_request_from_params};
use crate::store::{Directory, Store};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// `POST /oauth/par`: `201 Created` with `{"request_uri", "expires_in"}`, or a JSON error
/// (400, 401 `invalid_client`, 503), never a redirect.
pub(crate) async fn push<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (params, credentials) = match read_client_request(&state, &headers, body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let pushed = match pushed_request_from_params(&params) {
        Ok(request) => {
            state
                .shared
                .server
                .push_authorization(&credentials, &request)
                .await
        }
        Err(error) => Err(error),
    };
    match pushed {
        Ok(response) => json_no_store(StatusCode::CREATED, &response),
        Err(error) => push_error(&error),
    }
}

fn push_error(error: &PushError) -> Response {
    oauth_error(error.code(), &error.description())
}
