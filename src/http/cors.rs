//! Cross-origin access (CORS) for browser apps, on the endpoints a browser app calls with
//! `fetch`: the token and revocation endpoints, the metadata and the key set. Never on the
//! authorization endpoint (a browser navigates there, and a cross-origin read of it would be an
//! attack), introspection (confidential clients only, from servers) or any page.

use axum::http::{HeaderName, HeaderValue, Method, header};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The browser origins allowed to call the token and revocation endpoints, each exactly as a
/// browser sends it in `Origin` (`https://app.example.com`, `http://localhost:3000`). None by
/// default: no cross-origin call is allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<HeaderValue>);

/// An origin that is not `scheme://host[:port]` with `http` or `https`, as browsers send it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a browser origin (http[s]://host[:port], nothing after it): {0}")]
pub struct InvalidOrigin(pub String);

impl CorsOrigins {
    /// No origin: the default.
    pub fn none() -> Self {
        Self::default()
    }

    /// These origins, each checked to be an origin exactly as a browser serializes it (no path,
    /// no trailing slash, lower-case scheme and host, no default port), so that it can match.
    pub fn parse<I>(origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        origins
            .into_iter()
            .map(|origin| {
                let origin = origin.as_ref();
                let invalid = || InvalidOrigin(origin.to_owned());
                let url = url::Url::parse(origin).map_err(|_| invalid())?;
                let serialized = url.origin().ascii_serialization();
                let web = matches!(url.scheme(), "http" | "https");
                if !web || serialized != origin {
                    return Err(invalid());
                }
                HeaderValue::from_str(origin).map_err(|_| invalid())
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether no origin is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The layer answering preflights and adding `Access-Control-Allow-Origin` for these
    /// origins; `None` when there are none. No credentials: a browser app authenticates with
    /// what it sends, never with cookies.
    pub(crate) fn layer(&self) -> Option<CorsLayer> {
        if self.is_empty() {
            return None;
        }
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.0.iter().cloned()))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("dpop"),
                ])
                .expose_headers([
                    header::WWW_AUTHENTICATE,
                    HeaderName::from_static("dpop-nonce"),
                ])
                .max_age(Duration::from_secs(600)),
        )
    }
}
