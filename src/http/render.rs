//! Rendering: JSON bodies and errors with the headers OAuth requires, HTML pages, redirects.

use crate::grant::{ErrorCode, TokenError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1) on a response.
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A JSON body that must not be cached.
pub(crate) fn json_no_store<T: Serialize>(status: StatusCode, body: &T) -> Response {
    no_store((status, axum::Json(body)).into_response())
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// An OAuth error as JSON (RFC 6749 §5.2) with the status its code calls for.
pub(crate) fn oauth_error(code: ErrorCode, description: &str) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = ErrorBody {
        error: code.as_str(),
        error_description: description,
    };
    let mut response = json_no_store(status, &body);
    if code == ErrorCode::TemporarilyUnavailable {
        retry_later(&mut response);
    }
    if code == ErrorCode::InvalidClient {
        // RFC 6749 §5.2: a 401 names the authentication scheme to use.
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth\""),
        );
    }
    response
}

/// How long a client should wait before retrying when the store is unavailable.
const RETRY_AFTER_SECONDS: &str = "5";

/// Marks `response` as a retryable unavailability (RFC 9110 §10.2.3).
pub(crate) fn retry_later(response: &mut Response) {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
}

/// The page for a request the server cannot answer now: 503, retry later.
pub(crate) fn unavailable_page() -> Response {
    let mut response = page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "<h1>Temporarily unavailable</h1>\n<p>The sign-in service is temporarily unavailable. \
         Nothing was lost: please try again in a few seconds.</p>",
    );
    retry_later(&mut response);
    response
}

/// A token-endpoint error.
pub(crate) fn token_error(error: &TokenError) -> Response {
    oauth_error(error.code(), &error.description())
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A server-rendered page. `body` must already be escaped. Pages may not be framed
/// (clickjacking, RFC 6749 §10.13), cached, or leak their URL as a referrer.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    rendered_page(status, simple_html(title, body))
}

fn simple_html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}}code{{font-size:1.2rem}}</style>\
         </head><body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// A whole HTML page, with the headers every page carries: not framed (clickjacking, RFC 6749
/// §10.13), not cached, no referrer, nothing loaded but its own inline style and https images.
pub(crate) fn rendered_page(status: StatusCode, html: String) -> Response {
    let mut response = no_store((status, axum::response::Html(html)).into_response());
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // No form-action: browsers apply it to the redirect that follows the consent form, which
        // goes to the client.
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src https:; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// An error page shown instead of redirecting to an unverified client.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Authorization error",
        &format!("<h1>Authorization error</h1>\n<p>{}</p>", escape(message)),
    )
}

/// A 303 redirect that must not be cached (it may carry a code).
pub(crate) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => no_store((StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response()),
        Err(_) => error_page(StatusCode::BAD_REQUEST, "the redirect URI cannot be used"),
    }
}
