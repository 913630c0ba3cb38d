//! `POST /oauth/token`, `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662).

use super::params::{ParamsError, parse_body};
use super::render::{json_no_store, oauth_error, token_error};
use super::{HttpState, SignIn};
use crate::grant::{ClientAuthentication, ErrorCode, Params, TokenError, TokenRequest};
use crate::server::telemetry;
use crate::store::{Directory, Store};
use crate::token::DpopError;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

/// Reads a client-authenticated POST: its parameters and the client's credentials.
pub(super) async fn read_client_request<S, D, A>(
    state: &HttpState<S, D, A>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Params, ClientAuthentication), Response> {
    let limit = state.shared.options.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        let mut response = oauth_error(ErrorCode::InvalidRequest, "request body too large");
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        response
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let params = parse_body(content_type, &bytes).map_err(|error| params_error(&error))?;
    let credentials = credentials(headers, &params).map_err(|error| token_error(&error))?;
    Ok((params, credentials))
}

fn params_error(error: &ParamsError) -> Response {
    // RFC 8707 §2 allows several resources; this server issues a token for one at a time, so
    // more than one is a target it cannot serve, not a malformed request.
    if matches!(error, ParamsError::Duplicate(name) if name == "resource") {
        return oauth_error(
            ErrorCode::InvalidTarget,
            "one resource per request: this server issues a token for a single resource",
        );
    }
    oauth_error(ErrorCode::InvalidRequest, &error.to_string())
}

fn credentials(headers: &HeaderMap, params: &Params) -> Result<ClientAuthentication, TokenError> {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let first = authorization.next();
    if authorization.next().is_some() {
        return Err(TokenError::InvalidRequest("repeated Authorization header"));
    }
    let assertion_type = params.get("client_assertion_type");
    let assertion = params.get("client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        if first.is_some() || params.contains("client_secret") {
            return Err(TokenError::InvalidRequest(
                "use one client authentication method, not two",
            ));
        }
        let (Some(assertion_type), Some(assertion)) = (assertion_type, assertion) else {
            return Err(TokenError::InvalidRequest(
                "client_assertion_type and client_assertion go together",
            ));
        };
        return ClientAuthentication::from_assertion(
            assertion_type,
            assertion,
            params.get("client_id").map(String::as_str),
        );
    }
    let basic = first
        .map(|value| {
            value
                .to_str()
                .map_err(|_| TokenError::InvalidClient("malformed Basic authorization header"))
        })
        .transpose()?;
    ClientAuthentication::from_request(
        basic,
        params.get("client_id").map(String::as_str),
        params.get("client_secret").map(String::as_str),
    )
}

/// The request's DPoP proof, if it sent one (RFC 9449 §4.1: at most one `DPoP` header).
pub(crate) fn dpop_proof(headers: &HeaderMap) -> Result<Option<&str>, DpopError> {
    let mut values = headers.get_all("dpop").iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => value.to_str().map(Some).map_err(|_| DpopError::Malformed),
        (Some(_), Some(_)) => Err(DpopError::Malformed),
    }
}

/// `POST /oauth/token`.
pub(crate) async fn token<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (params, credentials) = match read_client_request(&state, &headers, body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let request = match TokenRequest::from_params(&params) {
        Ok(request) => request,
        Err(error) => {
            let grant_type = params.get("grant_type").map(String::as_str);
            telemetry::grant_not_parsed(grant_type, &error);
            return token_error(&error);
        }
    };
    let proof = match dpop_proof(&headers) {
        Ok(proof) => proof,
        Err(error) => return token_error(&TokenError::from(error)),
    };
    let server = &state.shared.server;
    let mut response = match server.token_with_dpop(request, &credentials, proof).await {
        Ok(response) => json_no_store(StatusCode::OK, &response),
        Err(error) => token_error(&error),
    };
    // With nonces required, every answer hands out the current one (RFC 9449 §8), so a
    // client learns it before its next proof, and from a `use_dpop_nonce` error.
    if let Some(nonce) = server.dpop_nonce() {
        if let Ok(value) = axum::http::HeaderValue::from_str(&nonce) {
            response
                .headers_mut()
                .insert(super::resource::DPOP_NONCE, value);
        }
    }
    response
}

/// Reads a client-authenticated request about one token (revocation, introspection).
async fn read_token_question<S, D, A>(
    state: &HttpState<S, D, A>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, ClientAuthentication), Response> {
    let (mut params, credentials) = read_client_request(state, headers, body).await?;
    let token = params
        .remove("token")
        .ok_or_else(|| oauth_error(ErrorCode::InvalidRequest, "token is required"))?;
    Ok((token, credentials))
}

/// `POST /oauth/revoke`: 200 with an empty JSON object, for unknown tokens too.
pub(crate) async fn revoke<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (token, credentials) = match read_token_question(&state, &headers, body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    match state.shared.server.revoke(&credentials, &token).await {
        Ok(()) => json_no_store(StatusCode::OK, &serde_json::json!({})),
        Err(error) => token_error(&error),
    }
}

/// `POST /oauth/introspect`.
pub(crate) async fn introspect<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (token, credentials) = match read_token_question(&state, &headers, body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    match state.shared.server.introspect(&credentials, &token).await {
        Ok(introspection) => json_no_store(StatusCode::OK, &introspection),
        Err(error) => token_error(&error),
    }
}
