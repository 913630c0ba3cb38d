//! `GET /oauth/authorize` (validate, hand over to sign-in, show consent) and
//! `POST /oauth/authorize` (the user's decision, CSRF-checked).
//!
//! A request may come as a `request_uri` from `POST /oauth/par` (RFC 9126): the GET opens it
//! and goes on with the pushed parameters alone, spending the `request_uri` once the user is
//! signed in (not before: the sign-in hands back to the same URL).

use super::form_token::{self, FormBinding};
use super::pages::view::{AppView, PermissionRow, ScopeRow, permission_rows, scope_rows};
use super::params::{parse_form, parse_form_keeping_first};
use super::render::{error_page, escape, page, redirect, rendered_page, unavailable_page};
use super::{HttpState, SignIn, SignedIn};
use crate::grant::{
    AuthorizationRequest, AuthorizationResponse, AuthorizeError, ErrorCode, Params,
};
use crate::server::{CompanyAccess, ConsentPrompt};
use crate::store::{Directory, Store};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Serialize;

const REQUEST_FIELDS: [&str; 8] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "resource",
];

/// The request's own fields as parameters: what the consent form carries and binds.
fn request_params(request: &AuthorizationRequest) -> Params {
    let fields = [
        ("client_id", &request.client_id),
        ("redirect_uri", &request.redirect_uri),
        ("response_type", &request.response_type),
        ("state", &request.state),
        ("scope", &request.scope),
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
        ("resource", &request.resource),
    ];
    fields
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|value| (name, value)))
        .collect()
}

/// Renders a failed authorization: a page if the client is unverified (or out-of-band), else a
/// redirect back to the client with the error.
fn authorize_error(error: AuthorizeError) -> Response {
    match error {
        AuthorizeError::Page(problem) => error_page(StatusCode::BAD_REQUEST, &problem.to_string()),
        AuthorizeError::Unavailable => unavailable_page(),
        AuthorizeError::Redirect(redirect_error) => match redirect_error.location() {
            Some(location) => redirect(&location),
            None => error_page(
                StatusCode::BAD_REQUEST,
                &format!("{}: {}", redirect_error.error, redirect_error.description),
            ),
        },
    }
}

fn authorized(response: AuthorizationResponse) -> Response {
    match response {
        AuthorizationResponse::Redirect(location) => redirect(location.expose()),
        AuthorizationResponse::ShowCode(code) => page(
            StatusCode::OK,
            "Authorization code",
            &format!(
                "<h1>Authorization code</h1>\n<p>Copy this code into the application:</p>\n<p><code>{}</code></p>",
                escape(code.expose())
            ),
        ),
    }
}

/// `GET /oauth/authorize`.
pub(crate) async fn show<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let query = parts.uri.query().unwrap_or_default();
    let (params, repeated) = match parse_form_keeping_first(query.as_bytes()) {
        Ok(parsed) => parsed,
        Err(error) => return error_page(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    if repeated
        .iter()
        .any(|name| name == "client_id" || name == "redirect_uri" || name == "request_uri")
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "client_id, redirect_uri and request_uri may appear only once",
        );
    }
    let server = &state.shared.server;
    let request_uri = params.get("request_uri").map(String::as_str);
    let received = match server
        .receive_authorization(&AuthorizationRequest::from_params(&params), request_uri)
        .await
    {
        Ok(received) => received,
        Err(error) => return authorize_error(error),
    };
    let (request, prompt) = (&received.request, &received.prompt);
    // A pushed request's query holds nothing else that counts (client_id and request_uri
    // were checked above), so a repeat there is ignored with the rest.
    if !repeated.is_empty() && received.pushed.is_none() {
        // Several resources are allowed by RFC 8707 §2, but this server serves one at a time.
        let error = if repeated.iter().all(|name| name == "resource") {
            prompt.request.error(
                ErrorCode::InvalidTarget,
                "one resource per request: this server issues tokens for a single resource",
                server.config(),
            )
        } else {
            prompt.request.error(
                ErrorCode::InvalidRequest,
                "a parameter is repeated",
                server.config(),
            )
        };
        return authorize_error(AuthorizeError::Redirect(error));
    }
    let Some(signed_in) = state.shared.sign_in.signed_in(&parts).await else {
        // A pushed request's request_uri is not spent yet: the browser comes back here with it.
        let return_to = format!("{}?{}", parts.uri.path(), query);
        return redirect(&state.shared.sign_in.sign_in_url(&return_to));
    };
    // Signed in: from here the request leads to a consent page or a code, so a pushed
    // request's request_uri is spent now, once (RFC 9126 §4).
    if let Some(pushed) = &received.pushed {
        if let Err(error) = server.spend_pushed_request(pushed).await {
            return authorize_error(error);
        }
    }
    // The skip never installs the app anywhere (no company is passed): only a consent the user
    // gives on the page does.
    let remembered = server
        .consent_remembered(&signed_in.user, &prompt.app)
        .await;
    match remembered {
        Ok(true) => match server
            .approve_authorization(request, &signed_in.user, None)
            .await
        {
            Ok(response) => authorized(response),
            Err(error) => authorize_error(error),
        },
        Ok(false) => {
            // The form carries (and its token binds) the request's own fields: for a pushed
            // request the pushed ones, never the request_uri.
            let params = request_params(request);
            let pushed = received.pushed.is_some();
            consent_page(&state, &parts, prompt, &params, &signed_in, pushed).await
        }
        Err(_) => unavailable_page(),
    }
}

/// What a consent form is bound to: this user, this sign-in session, the company the consent
/// may install the app in (as the page was shown), and this exact request.
fn consent_binding<'a>(
    user: &'a SignedIn,
    params: &'a Params,
    fields: &'a mut Vec<Option<&'a [u8]>>,
) -> FormBinding<'a> {
    fields.push(Some(user.user.as_str().as_bytes()));
    fields.push(Some(user.session.expose().as_bytes()));
    fields.push(
        user.company
            .as_ref()
            .map(|company| company.as_str().as_bytes()),
    );
    for name in REQUEST_FIELDS {
        fields.push(params.get(name).map(String::as_bytes));
    }
    FormBinding {
        purpose: b"appgrant consent form v4",
        fields,
    }
}

/// A token binding the consent form to the user, session, company, request and time shown.
fn csrf_token<S: Store, D: Directory, A>(
    state: &HttpState<S, D, A>,
    user: &SignedIn,
    params: &Params,
) -> String {
    let server = &state.shared.server;
    let mut fields = Vec::new();
    let binding = consent_binding(user, params, &mut fields);
    form_token::issue(
        server.consent_form_key(),
        &binding,
        server.now().timestamp(),
    )
}

fn csrf_valid<S: Store, D: Directory, A>(
    state: &HttpState<S, D, A>,
    user: &SignedIn,
    params: &Params,
) -> bool {
    let Some(presented) = params.get("csrf_token") else {
        return false;
    };
    let server = &state.shared.server;
    let mut fields = Vec::new();
    let binding = consent_binding(user, params, &mut fields);
    let lifetime = state.shared.options.consent_form_lifetime.as_secs();
    let now = server.now().timestamp();
    form_token::verify(
        server.consent_form_key(),
        &binding,
        now,
        lifetime,
        presented,
    )
}

#[derive(Serialize)]
struct HiddenField<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct ConsentView<'a> {
    app: AppView<'a>,
    user_name: String,
    switch_account_url: Option<String>,
    company_name: Option<String>,
    access: Option<CompanyAccess>,
    rows: Vec<PermissionRow>,
    asked: Vec<ScopeRow>,
    resource: Option<&'a str>,
    capped: bool,
    connected_apps_url: Option<&'a str>,
    action: &'a str,
    hidden: Vec<HiddenField<'a>>,
}

async fn consent_page<S: Store, D: Directory, A: SignIn>(
    state: &HttpState<S, D, A>,
    parts: &Parts,
    prompt: &ConsentPrompt,
    params: &Params,
    user: &SignedIn,
    pushed: bool,
) -> Response {
    let server = &state.shared.server;
    let company = user.company.as_ref();
    let Ok(details) = server.consent_details(prompt, &user.user, company).await else {
        return unavailable_page();
    };
    let pages = &state.shared.options.pages;
    let strings = pages.strings();
    let project_name = |id: &str| {
        let project = details.company.as_ref().and_then(|company| {
            company
                .projects
                .iter()
                .find(|project| project.id.as_str() == id)
        });
        project.map_or_else(|| id.to_owned(), |project| project.name.clone())
    };
    let rows = details.may_do.as_ref().map_or_else(Vec::new, |may_do| {
        permission_rows(strings, may_do, project_name)
    });
    let csrf = csrf_token(state, user, params);
    let mut hidden: Vec<HiddenField<'_>> = REQUEST_FIELDS
        .iter()
        .filter_map(|name| params.get(name).map(|value| HiddenField { name, value }))
        .collect();
    hidden.push(HiddenField {
        name: "csrf_token",
        value: &csrf,
    });
    let return_to = format!(
        "{}?{}",
        parts.uri.path(),
        parts.uri.query().unwrap_or_default()
    );
    let view = ConsentView {
        app: AppView::of(&prompt.app),
        user_name: details
            .user
            .as_ref()
            .map_or_else(|| user.user.to_string(), |person| person.name.clone()),
        // A pushed request's request_uri is spent by now: coming back to it after switching
        // accounts would be refused, so no link (the app starts again with a new push).
        switch_account_url: if pushed {
            None
        } else {
            state.shared.sign_in.switch_account_url(&return_to)
        },
        company_name: details.company.as_ref().map(|company| company.name.clone()),
        access: details.access,
        rows,
        asked: prompt
            .request
            .scope
            .as_ref()
            .map_or_else(Vec::new, |scope| scope_rows(strings, scope)),
        resource: prompt.request.resource.as_deref(),
        capped: details.capped,
        connected_apps_url: state.shared.options.connected_apps_url.as_deref(),
        action: "authorize",
        hidden,
    };
    let title = strings.consent_title.replace("{app}", &prompt.app.name);
    match pages.render("consent.html", &view) {
        Ok(html) => rendered_page(StatusCode::OK, html),
        Err(error) => {
            tracing::error!(target: "appgrant::http", %error, title, "the consent page did not render");
            unavailable_page()
        }
    }
}

/// `POST /oauth/authorize`: the consent form's answer.
pub(crate) async fn decide<S: Store, D: Directory, A: SignIn>(
    State(state): State<HttpState<S, D, A>>,
    request: Request,
) -> Response {
    let (parts, body): (_, Body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, state.shared.options.max_body_bytes).await else {
        return error_page(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
    };
    let params = match parse_form(&bytes) {
        Ok(params) => params,
        Err(error) => return error_page(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let Some(signed_in) = state.shared.sign_in.signed_in(&parts).await else {
        return error_page(StatusCode::UNAUTHORIZED, "sign in first");
    };
    if !csrf_valid(&state, &signed_in, &params) {
        return error_page(
            StatusCode::FORBIDDEN,
            "the form expired or was not sent by this page; start again",
        );
    }
    let server = &state.shared.server;
    // No pushed-request requirement here (RFC 9126 §4): it is enforced where the client's
    // request arrives, GET /oauth/authorize. This POST is the user's answer to a consent page
    // only that GET renders, after it enforced the requirement and spent the request_uri: the
    // form token (checked above) binds these exact fields to that page, this user and this
    // session, so nobody can post fields the GET did not accept. Asking for a request_uri
    // again would refuse every pushed request, whose request_uri the page no longer carries.
    let request = AuthorizationRequest::from_params(&params);
    let result = match params.get("decision").map(String::as_str) {
        Some("allow") => server
            .approve_authorization(&request, &signed_in.user, signed_in.company.as_ref())
            .await
            .map(authorized),
        Some("deny") => server
            .deny_authorization(&request)
            .await
            .map(|denied| authorize_error(AuthorizeError::Redirect(denied))),
        _ => return error_page(StatusCode::BAD_REQUEST, "decision must be allow or deny"),
    };
    result.unwrap_or_else(authorize_error)
}
