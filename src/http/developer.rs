//! The developer portal's JSON routes, behind the host's [`DeveloperAuth`]: an app's developer
//! lists, reads, changes and deletes their apps, rotates a client secret, publishes a manifest
//! and sees where the app is installed.
//!
//! Every answer is JSON with `Cache-Control: no-store`. Nobody signed in as a developer: 401.
//! An app the developer may not manage answers exactly as an app that does not exist (404), so
//! the routes never tell whether someone else's app exists. Invalid input: 400 with what is
//! wrong; a store that fails: 503 with `Retry-After`. No answer carries a client secret or a
//! digest of one, except the one-time answer of a rotation, which carries the new secret.

use super::observe::observed;
use super::render::{json_no_store, no_store, retry_later};
use super::{DeveloperAuth, HttpOptions};
use crate::grant::AppUpdate;
use crate::model::{
    App, AppFlows, AppProfile, ClientId, DeveloperApp, DeveloperInstallation, Manifest, ToolLevels,
};
use crate::server::{AuthorizationServer, ServerError};
use crate::store::{Directory, Store};
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

struct Shared<S, D, A> {
    server: AuthorizationServer<S, D>,
    auth: A,
    options: HttpOptions,
}

/// The developer router's state.
struct DeveloperState<S, D, A> {
    shared: Arc<Shared<S, D, A>>,
}

impl<S, D, A> Clone for DeveloperState<S, D, A> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The routes; see [`super::developer_router`].
pub(super) fn routes<S: Store, D: Directory, A: DeveloperAuth>(
    server: AuthorizationServer<S, D>,
    auth: A,
    options: HttpOptions,
) -> Router {
    let state = DeveloperState {
        shared: Arc::new(Shared {
            server,
            auth,
            options,
        }),
    };
    Router::new()
        .route(
            "/developer/apps",
            observed("developer_apps", get(list::<S, D, A>)),
        )
        .route(
            "/developer/apps/{client_id}",
            observed(
                "developer_app",
                get(show::<S, D, A>)
                    .patch(update::<S, D, A>)
                    .delete(delete::<S, D, A>),
            ),
        )
        .route(
            "/developer/apps/{client_id}/secret",
            observed("developer_app_secret", post(rotate_secret::<S, D, A>)),
        )
        .route(
            "/developer/apps/{client_id}/manifests",
            observed("developer_app_manifests", post(publish_manifest::<S, D, A>)),
        )
        .route(
            "/developer/apps/{client_id}/installations",
            observed("developer_app_installations", get(installations::<S, D, A>)),
        )
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

/// A JSON error: `{"error": code, "message": what went wrong}`, not cached.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = json_no_store(
        status,
        &ErrorBody {
            error: code,
            message,
        },
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        retry_later(&mut response);
    }
    response
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", message)
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "sign in as a developer first",
    )
}

/// The one answer for an app that does not exist and one the developer may not manage.
fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such app")
}

fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the service is temporarily unavailable; nothing was lost, try again shortly",
    )
}

/// What a failed server call answers. Store failures are logged by the server; their text
/// stays out of the answer.
fn server_error(failure: &ServerError) -> Response {
    match failure {
        ServerError::UnknownApp(_) => not_found(),
        ServerError::Registration(refused) => invalid(&refused.to_string()),
        ServerError::SecretRotation(refused) => invalid(&refused.to_string()),
        ServerError::Store(_)
        | ServerError::Busy
        | ServerError::Key(_)
        | ServerError::KeyConfiguration(_) => unavailable(),
        ServerError::UnknownCompany(_)
        | ServerError::UnknownUser(_)
        | ServerError::NotAMember { .. }
        | ServerError::NoInstallation { .. }
        | ServerError::Installation(_)
        | ServerError::InvalidToken(_)
        | ServerError::Revoked
        | ServerError::Inactive(_) => error(StatusCode::CONFLICT, "conflict", &failure.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading requests
// ---------------------------------------------------------------------------------------------

/// The signed-in developer, or the 401.
async fn developer<A: DeveloperAuth>(auth: &A, parts: &Parts) -> Result<A::Developer, Response> {
    auth.developer(parts).await.ok_or_else(unauthorized)
}

/// The app the path names, if the request's developer may manage it (else the 404 an unknown
/// app gets).
async fn managed<S: Store, D: Directory, A: DeveloperAuth>(
    state: &DeveloperState<S, D, A>,
    client_id: Result<Path<String>, PathRejection>,
    parts: &Parts,
) -> Result<App, Response> {
    let shared = &state.shared;
    let developer = developer(&shared.auth, parts).await?;
    let Ok(Path(client_id)) = client_id else {
        return Err(not_found());
    };
    let app = shared
        .server
        .app(&ClientId::new(client_id))
        .await
        .map_err(|failure| server_error(&failure))?;
    if shared.auth.may_manage(&developer, &app) {
        Ok(app)
    } else {
        Err(not_found())
    }
}

/// The refusal of a change a browser says another site's page sent.
fn cross_site() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "cross_site",
        "app changes are not made for another site's page",
    )
}

/// Reads a JSON body of type `T`: `application/json`, within the size limit, with no field
/// the route does not know.
async fn json_body<T: DeserializeOwned>(
    options: &HttpOptions,
    parts: &Parts,
    body: Body,
) -> Result<T, Response> {
    if super::cross_site::sent_from_another_site(&parts.headers) {
        return Err(cross_site());
    }
    let media_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/json") {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send a JSON body (Content-Type: application/json)",
        ));
    }
    let bytes = axum::body::to_bytes(body, options.max_body_bytes)
        .await
        .map_err(|_| {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body too large",
            )
        })?;
    serde_json::from_slice(&bytes).map_err(|refused| invalid(&format!("invalid body: {refused}")))
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/// `PATCH /developer/apps/{client_id}`: the settings to change; absent ones stay.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    profile: Option<ProfileBody>,
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    flows: Option<AppFlows>,
}

/// A whole profile, replacing the app's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    homepage: Option<String>,
    #[serde(default)]
    logo_url: Option<String>,
}

impl From<AppPatch> for AppUpdate {
    fn from(patch: AppPatch) -> Self {
        AppUpdate {
            name: patch.name,
            profile: patch.profile.map(|profile| AppProfile {
                publisher: profile.publisher,
                description: profile.description,
                homepage: profile.homepage,
                logo_url: profile.logo_url,
            }),
            redirect_uris: patch.redirect_uris,
            flows: patch.flows,
        }
    }
}

/// `POST /developer/apps/{client_id}/secret`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotationBody {
    /// How long the replaced secret stays accepted.
    overlap_seconds: u64,
}

/// The one answer that carries a secret.
#[derive(Serialize)]
struct NewSecret<'a> {
    client_id: &'a ClientId,
    client_secret: &'a str,
}

/// `POST /developer/apps/{client_id}/manifests`: the permissions the new version asks for (the
/// server numbers it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestBody {
    #[serde(default)]
    company: ToolLevels,
    #[serde(default)]
    project: ToolLevels,
}

#[derive(Serialize)]
struct Apps {
    apps: Vec<DeveloperApp>,
}

#[derive(Serialize)]
struct Installations {
    installations: Vec<DeveloperInstallation>,
}

#[derive(Serialize)]
struct Published {
    version: u32,
}

fn view(app: &App) -> Response {
    json_no_store(StatusCode::OK, &DeveloperApp::from(app))
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// `GET /developer/apps`: the apps this developer may manage, sorted by client id.
async fn list<S: Store, D: Directory, A: DeveloperAuth>(
    State(state): State<DeveloperState<S, D, A>>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let shared = &state.shared;
    let developer = match developer(&shared.auth, &parts).await {
        Ok(developer) => developer,
        Err(response) => return response,
    };
    match shared.server.apps().await {
        Ok(apps) => {
            let apps = apps
                .iter()
                .filter(|app| shared.auth.may_manage(&developer, app))
                .map(DeveloperApp::from)
                .collect();
            json_no_store(StatusCode::OK, &Apps { apps })
        }
        Err(failure) => server_error(&failure),
    }
}

/// `GET /developer/apps/{client_id}`.
async fn show<S: Store, D: Directory, A: DeveloperAuth>(
    State(state): State<DeveloperState<S, D, A>>,
    client_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    match managed(&state, client_id, &parts).await {
        Ok(app) => view(&app),
        Err(response) => response,
    }
}

/// `PATCH /developer/apps/{client_id}`: name, profile, redirect URIs, flows.
async fn update<S: Store, D: Directory, A: DeveloperAuth>(
    State(state): State<DeveloperState<S, D, A>>,
    client_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let app = match managed(&state, client_id, &parts).await {
        Ok(app) => app,
        Err(response) => return response,
    };
    let patch: AppPatch = match json_body(&state.shared.options, &parts, body).await {
        Ok(patch) => patch,
        Err(response) => return response,
    };
    let updated = state
        .shared
        .server
        .update_app(&app.client_id, patch.into())
        .await;
    match updated {
        Ok(app) => view(&app),
        Err(failure) => server_error(&failure),
    }
}

/// `DELETE /developer/apps/{client_id}`: uninstalled everywhere, then deleted; 204.
async fn delete<S: Store, D: Directory, A: DeveloperAuth>(
    State(state): State<DeveloperState<S, D, A>>,
    client_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    if super::cross_site::sent_from_another_site(&parts.headers) {
        return cross_site();
    }
    let app = match managed(&state, client_id, &parts).await {
        Ok(app) => app,
        Err(response) => return response,
    };
    match state.shared.server.delete_app(&app.client_id).await {
        Ok(_) => no_store(StatusCode::NO_CONTENT.into_response()),
        Err(failure) => server_error(&failure),
    }
}

/// `POST /developer/apps/{client_id}/secret` with `{"overlap_seconds": N}`: the new secret,
/// this once.
async fn rotate_secret<S: Store, D: Directory, A: DeveloperAuth>(
    State(state): State<DeveloperState<S, D, A>>,
    client_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let app = match managed(&state, client_id, &parts).await {
        Ok(app) => app,
        Err(response) => return response,
    };
    let asked: RotationBody = match json_body(&state.shared.options, &parts, body).await {
        Ok(asked) => asked,
        Err(response) => return response,
    };
    let overlap = std::time::Duration::from_secs(asked.overlap_seconds);
    match state
        .shared
        .server
        .rotate_client_secret(&app.client_id, overlap)
        .await
    {
        Ok(secret) => json_no_store(
            StatusCode::OK,
            &NewSecret {
                client_id: &app.client_id,
                client_secret: secret.expose(),
            },
        ),
        Err(failure) => server_error(&failure),
    }
}

/// `POST /developer/apps/{client_id}/manifests`: publishes a new manifest version; 201 with
/// its number.
async fn publish_manifest<S: Store, D: Directory, A: DeveloperAuth>(
    State(state): State<DeveloperState<S, D, A>>,
    client_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let app = match managed(&state, client_id, &parts).await {
        Ok(app) => app,
        Err(response) => return response,
    };
    let asked: ManifestBody = match json_body(&state.shared.options, &parts, body).await {
        Ok(asked) => asked,
        Err(response) => return response,
    };
    let manifest = Manifest {
        version: 0,
        company: asked.company,
        project: asked.project,
    };
    match state
        .shared
        .server
        .publish_manifest(&app.client_id, manifest)
        .await
    {
        Ok(version) => json_no_store(StatusCode::CREATED, &Published { version }),
        Err(failure) => server_error(&failure),
    }
}

/// `GET /developer/apps/{client_id}/installations`: every company that asked for the app, and
/// where each stands.
async fn installations<S: Store, D: Directory, A: DeveloperAuth>(
    State(state): State<DeveloperState<S, D, A>>,
    client_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let app = match managed(&state, client_id, &parts).await {
        Ok(app) => app,
        Err(response) => return response,
    };
    match state.shared.server.app_installations(&app.client_id).await {
        Ok(listed) => {
            let installations = listed.iter().map(DeveloperInstallation::from).collect();
            json_no_store(StatusCode::OK, &Installations { installations })
        }
        Err(failure) => server_error(&failure),
    }
}
