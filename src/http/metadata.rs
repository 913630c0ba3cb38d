//! Discovery and token information: RFC 8414 metadata, the JWKS, and `GET /oauth/token/info`.

use super::render::json_no_store;
use super::resource::{ResourceRejection, Scheme, dpop_header, presented_token};
use super::{HttpState, SignIn};
use crate::grant::TokenError;
use crate::model::Scopes;
use crate::server::ServerError;
use crate::store::{Directory, Store};
use crate::token::CLIENT_SIGNING_ALGORITHMS;
use crate::token::DpopError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub(crate) async fn authorization_server<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
) -> Response {
    let issuer = state
        .shared
        .server
        .config()
        .issuer
        .trim_end_matches('/')
        .to_owned();
    let config = state.shared.server.config();
    let mut metadata = json!({
        "issuer": config.issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS,
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": CLIENT_SIGNING_ALGORITHMS,
        "authorization_response_iss_parameter_supported": true,
        "pushed_authorization_request_endpoint": config.pushed_authorization_endpoint(),
        "require_pushed_authorization_requests": false,
    });
    // Without configured tools any well-formed tool:level scope is known, and none is listed.
    if !config.tools.is_empty() {
        metadata["scopes_supported"] = json!(Scopes::supported(&config.tools));
    }
    Json(metadata).into_response()
}

/// `GET /.well-known/jwks.json`.
pub(crate) async fn jwks<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
) -> Response {
    Json(state.shared.server.current_jwks().await).into_response()
}

/// `GET /oauth/token/info`: whose the token is and for how long. A DPoP-bound token is
/// described only when presented with the DPoP scheme and a proof by its key.
pub(crate) async fn token_info<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
    headers: HeaderMap,
) -> Response {
    let server = &state.shared.server;
    let (scheme, token) = match presented_token(&headers) {
        Ok(presented) => presented,
        Err(rejection) => return rejection.into_response(),
    };
    let proven_key = match scheme {
        Scheme::Bearer => None,
        Scheme::Dpop => match proven_key(server, &headers, token).await {
            Ok(key) => Some(key),
            Err(rejection) => return rejection.into_response(),
        },
    };
    let answer = match server
        .token_info_presented(token, proven_key.as_deref())
        .await
    {
        Ok(info) => return json_no_store(StatusCode::OK, &info),
        Err(ServerError::Store(_)) => ResourceRejection::Unavailable,
        Err(error) => ResourceRejection::InvalidToken {
            reason: error.to_string(),
            resource_metadata: None,
        },
    };
    match scheme {
        Scheme::Bearer => answer.into_response(),
        Scheme::Dpop => ResourceRejection::Dpop(Box::new(answer)).into_response(),
    }
}

/// The key the request's DPoP proof proves, for `GET /oauth/token/info` with `token`.
async fn proven_key<S: Store, D: Directory>(
    server: &crate::AuthorizationServer<S, D>,
    headers: &HeaderMap,
    token: &str,
) -> Result<String, ResourceRejection> {
    let proof = dpop_header(headers)?;
    let url = server.config().endpoint("/oauth/token/info");
    match server.accept_dpop_proof(proof, token, "GET", &url).await {
        Ok(key) => Ok(key),
        Err(TokenError::InvalidDpopProof(DpopError::UseNonce)) => Err(
            ResourceRejection::UseDpopNonce(server.dpop_nonce().unwrap_or_default()),
        ),
        Err(TokenError::InvalidDpopProof(problem)) => {
            Err(ResourceRejection::InvalidDpopProof(problem))
        }
        Err(_) => Err(ResourceRejection::Unavailable),
    }
}
