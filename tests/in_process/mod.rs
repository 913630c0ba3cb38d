//! The library's router called in-process (no socket, no HTTP client): a sign-in that says who
//! is signed in, and requests sent with `tower::ServiceExt::oneshot`.

#![allow(dead_code)]

#[path = "../html_text/mod.rs"]
mod html_text;

use appgrant::AuthorizationServer;
use appgrant::http::{HttpOptions, SignIn, SignedIn, router};
use appgrant::model::{CompanyId, UserId};
use appgrant::store::{Directory, Store};
use appgrant::token::Secret;
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;

/// A host whose session always names one signed-in user, working in one company.
#[derive(Clone)]
pub struct SignedInAs {
    pub user: UserId,
    pub company: CompanyId,
    pub session: String,
}

impl SignIn for SignedInAs {
    async fn signed_in(&self, _request: &Parts) -> Option<SignedIn> {
        Some(SignedIn {
            user: self.user.clone(),
            company: Some(self.company.clone()),
            session: Secret::new(self.session.clone()),
        })
    }

    fn sign_in_url(&self, return_to: &str) -> String {
        format!("/login?return_to={return_to}")
    }
}

/// The library's router over `server`, with `sign_in`.
pub fn app<S: Store, D: Directory, A: SignIn>(
    server: AuthorizationServer<S, D>,
    sign_in: A,
) -> Router {
    router(server, sign_in, HttpOptions::default())
}

/// A response, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }
}

/// Sends `request` to `router`.
pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let html = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.to_str().unwrap().starts_with("text/html"));
    if html {
        for placeholder in PLACEHOLDERS {
            assert!(
                !body.contains(placeholder),
                "a page left {placeholder} unfilled: {body}"
            );
        }
    }
    Answer {
        status,
        headers,
        body,
    }
}

/// What the pages' strings name for the page to fill in; no page may show one.
const PLACEHOLDERS: [&str; 9] = [
    "{resource}",
    "{app}",
    "{company}",
    "{user}",
    "{count}",
    "{publisher}",
    "{date}",
    "{from}",
    "{to}",
];

/// `GET path`, with an `Authorization` header if given.
pub async fn get(router: &Router, path: &str, authorization: Option<&str>) -> Answer {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    send(router, request.body(Body::empty()).unwrap()).await
}

/// `POST path` with a form body, with an `Authorization` header if given.
pub async fn post_form(
    router: &Router,
    path: &str,
    form: &[(&str, &str)],
    authorization: Option<&str>,
) -> Answer {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    send(router, request.body(Body::from(body)).unwrap()).await
}

/// `Basic base64(client_id:secret)`.
pub fn basic(client_id: &str, secret: &str) -> String {
    use base64::Engine;
    let pair = format!("{client_id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The `name`/`value` pairs of the hidden inputs of a page's form (values HTML-escaped).
pub fn hidden_inputs(page: &str) -> Vec<(String, String)> {
    page.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            let value = html_text::unescape(value);
            Some((name.to_owned(), value))
        })
        .collect()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
