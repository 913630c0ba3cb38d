//! The host's sign-in in the HTTP tests that mount the library's router directly: the user,
//! company and session come from the `x-user`, `x-company` and `x-session` request headers.
#![allow(dead_code)]

use appgrant::http::{SignIn, SignedIn};
use appgrant::model::{CompanyId, UserId};
use appgrant::token::Secret;

/// Reads who is signed in from request headers; nobody without `x-user`.
pub struct HeaderSignIn;

impl SignIn for HeaderSignIn {
    async fn signed_in(&self, request: &axum::http::request::Parts) -> Option<SignedIn> {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        Some(SignedIn {
            user: UserId::new(header("x-user")?),
            company: header("x-company").map(CompanyId::new),
            session: Secret::new(header("x-session").unwrap_or_default()),
        })
    }

    fn sign_in_url(&self, _return_to: &str) -> String {
        "/login".into()
    }
}
