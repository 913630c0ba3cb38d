//! A person's connected apps (`GET /account/apps`) and disconnecting one (`POST
//! /account/apps/{client_id}/disconnect`), for the signed-in person only, each form bound to
//! their session. The consent page links here through [`HttpOptions::connected_apps_url`].

use super::form_token::{self, FormBinding};
use super::render::{redirect, rendered_page, retry_later};
use super::{HttpOptions, SignIn, SignedIn};
use crate::model::ClientId;
use crate::server::AuthorizationServer;
use crate::store::{Directory, Store};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where the connected-apps page lives, for [`HttpOptions::connected_apps_url`].
pub const CONNECTED_APPS_PATH: &str = "/account/apps";

struct Account<S, D, A> {
    server: AuthorizationServer<S, D>,
    sign_in: A,
    options: HttpOptions,
}

type AccountState<S, D, A> = State<Arc<Account<S, D, A>>>;

/// The connected-apps page and its disconnect action, mounted by the host behind its sign-in.
pub fn account_router<S: Store, D: Directory, A: SignIn>(
    server: AuthorizationServer<S, D>,
    sign_in: A,
    options: HttpOptions,
) -> Router {
    let state = Arc::new(Account {
        server,
        sign_in,
        options,
    });
    Router::new()
        .route(CONNECTED_APPS_PATH, get(connected_page::<S, D, A>))
        .route(
            "/account/apps/{client_id}/disconnect",
            post(disconnect::<S, D, A>),
        )
        .with_state(state)
}

/// What a token on this page is for: the disconnect form, or the notice after a disconnect.
#[derive(Clone, Copy)]
enum Purpose {
    DisconnectForm,
    DisconnectedNotice,
}

fn binding<'a>(
    user: &'a SignedIn,
    app: &'a ClientId,
    purpose: Purpose,
    fields: &'a mut Vec<Option<&'a [u8]>>,
) -> FormBinding<'a> {
    fields.extend([
        Some(user.user.as_str().as_bytes()),
        Some(user.session.expose().as_bytes()),
        Some(app.as_str().as_bytes()),
    ]);
    let purpose: &'static [u8] = match purpose {
        Purpose::DisconnectForm => b"appgrant disconnect form v1",
        Purpose::DisconnectedNotice => b"appgrant disconnected notice v1",
    };
    FormBinding { purpose, fields }
}

#[derive(Deserialize)]
struct Notice {
    disconnected: Option<String>,
    /// Proof that this person just disconnected that app here, so a link cannot make the page
    /// announce an app (whose name its developer chose) to anyone else.
    notice: Option<String>,
}

impl<S: Store, D: Directory, A: SignIn> Account<S, D, A> {
    fn message(&self, status: StatusCode, message: &str) -> Response {
        #[derive(Serialize)]
        struct View<'a> {
            title: &'a str,
            message: &'a str,
        }
        let title = &self.options.pages.strings().connected_title;
        let view = View { title, message };
        let html = self
            .options
            .pages
            .render("message.html", view)
            .unwrap_or_else(|_| {
                format!("<!doctype html><p>{}</p>", super::render::escape(message))
            });
        let mut response = rendered_page(status, html);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            retry_later(&mut response);
        }
        response
    }
}

async fn connected_page<S: Store, D: Directory, A: SignIn>(
    State(account): AccountState<S, D, A>,
    Query(notice): Query<Notice>,
    parts: Parts,
) -> Response {
    let strings = account.options.pages.strings();
    let Some(user) = account.sign_in.signed_in(&parts).await else {
        return redirect(&account.sign_in.sign_in_url(CONNECTED_APPS_PATH));
    };
    let Ok(connected) = account.server.connected_apps(&user.user).await else {
        return account.message(StatusCode::SERVICE_UNAVAILABLE, &strings.unavailable);
    };
    #[derive(Serialize)]
    struct Entry {
        name: String,
        publisher: Option<String>,
        since: String,
        action: String,
        token: String,
    }
    let now = account.server.now().timestamp();
    let key = account.server.consent_form_key();
    let apps: Vec<Entry> = connected
        .iter()
        .map(|connected| {
            let app = &connected.app;
            let mut fields = Vec::new();
            let binding = binding(&user, &app.client_id, Purpose::DisconnectForm, &mut fields);
            let token = form_token::issue(key, &binding, now);
            Entry {
                name: app.name.clone(),
                publisher: app.profile.publisher.clone(),
                since: connected.since.format("%Y-%m-%d").to_string(),
                action: format!("/account/apps/{}/disconnect", app.client_id),
                token,
            }
        })
        .collect();
    // The notice names an app only as the store has it, never text taken from the URL, and
    // only after this person's own disconnect.
    let lifetime = account.options.consent_form_lifetime.as_secs();
    let disconnected = match (notice.disconnected, notice.notice) {
        (Some(client_id), Some(proof)) => {
            let client_id = ClientId::new(client_id);
            let mut fields = Vec::new();
            let binding = binding(&user, &client_id, Purpose::DisconnectedNotice, &mut fields);
            form_token::verify(key, &binding, now, lifetime, &proof).then_some(client_id)
        }
        _ => None,
    };
    let notice = match disconnected {
        Some(client_id) => account
            .server
            .app(&client_id)
            .await
            .ok()
            .map(|app| strings.disconnected.replace("{app}", &app.name)),
        None => None,
    };
    #[derive(Serialize)]
    struct View {
        apps: Vec<Entry>,
        notice: Option<String>,
    }
    match account
        .options
        .pages
        .render("connected_apps.html", View { apps, notice })
    {
        Ok(html) => rendered_page(StatusCode::OK, html),
        Err(_) => account.message(StatusCode::SERVICE_UNAVAILABLE, &strings.unavailable),
    }
}

async fn disconnect<S: Store, D: Directory, A: SignIn>(
    State(account): AccountState<S, D, A>,
    Path(client_id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let strings = account.options.pages.strings();
    let Some(user) = account.sign_in.signed_in(&parts).await else {
        return account.message(StatusCode::UNAUTHORIZED, &strings.form_expired);
    };
    let app = ClientId::new(client_id);
    let presented = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "csrf_token")
        .map(|(_, value)| value.into_owned());
    let mut fields = Vec::new();
    let server = &account.server;
    let lifetime = account.options.consent_form_lifetime.as_secs();
    let now = server.now().timestamp();
    let valid = presented.is_some_and(|token| {
        let binding = binding(&user, &app, Purpose::DisconnectForm, &mut fields);
        form_token::verify(server.consent_form_key(), &binding, now, lifetime, &token)
    });
    if !valid {
        return account.message(StatusCode::FORBIDDEN, &strings.form_expired);
    }
    match server.disconnect_app(&user.user, &app).await {
        Ok(()) => {
            let mut fields = Vec::new();
            let binding = binding(&user, &app, Purpose::DisconnectedNotice, &mut fields);
            let proof = form_token::issue(server.consent_form_key(), &binding, now);
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("disconnected", app.as_str())
                .append_pair("notice", &proof)
                .finish();
            redirect(&format!("{CONNECTED_APPS_PATH}?{query}"))
        }
        Err(_) => account.message(StatusCode::SERVICE_UNAVAILABLE, &strings.unavailable),
    }
}
