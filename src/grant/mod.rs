//! The grant flows as pure functions: `(inputs, &Config, &KeySet, now, rng) -> Result<…>`.
//!
//! Nothing here reads a clock, a store or the environment; the server loads records, calls
//! these, and saves what they return.

pub mod app_update;
pub mod authorize;
pub mod client_assertion;
pub mod client_auth;
pub mod client_credentials;
pub mod error;
pub mod exchange;
pub mod issue;
pub mod pkce;
pub mod pushed;
pub mod refresh;
pub mod registration;
pub mod request;
pub mod resource;

pub use app_update::{AppUpdate, MAX_SECRET_OVERLAP, SecretRotationError, rotate_client_secret};
pub use authorize::{
    AuthorizationRequest, AuthorizationResponse, AuthorizeError, CodeRecord, ErrorPage,
    ErrorRedirect, ValidAuthorization, remembered_consent_applies, validate_request,
};
pub use client_assertion::{
    AcceptedAssertion, AuthenticationContext, JWT_BEARER_ASSERTION, MAX_ASSERTION_LIFETIME,
    check_assertion,
};
pub use client_auth::{Authenticated, ClientAuthentication, authenticate, parse_basic};
pub use client_credentials::{Binding, client_credentials};
pub use error::{ErrorCode, TokenError};
pub use exchange::{
    CodeExchange, ExchangeInput, Issued, Redemption, check_presenter, exchange_code,
};
pub use issue::{Requested, TokenGrant, TokenResponse, access_claims, mint_access_token};
pub use pushed::{
    PUSHED_REQUEST_LIFETIME, PushError, PushedRequest, PushedResponse, REQUEST_URI_PREFIX,
    check_pushed_requirement, open_pushed_request, push, pushed_request_from_params,
};
pub use refresh::{FamilyStatus, Presented, RefreshFamily, RefreshInput, Rotation, rotate};
pub use registration::{AppRegistration, RegistrationError};
pub use request::{Params, TokenRequest};
pub use resource::{ResourceError, check_resource, resource_for};
