//! A company's app administration, for its directory admins: the apps installed, requested or
//! waiting for an update; an install review (approve on chosen projects, or deny); an update
//! review showing exactly what changes; permitted projects; uninstall behind a confirmation.
//! HTML pages, and the same actions as JSON under `/admin/api`.
//!
//! The host mounts [`admin_router`] behind its own sign-in ([`SignIn`]): every request is
//! answered for the signed-in person, and every action is taken by the façade only for a
//! directory admin of the company. Forms carry a token bound to the person, their session, the
//! company, the app, the action and the revision reviewed; JSON actions need
//! `Content-Type: application/json`, which a cross-site form cannot send, and are refused when
//! a browser says another site sent them (`Sec-Fetch-Site`). A host must not put a CORS layer
//! that lets other origins send JSON over these routes. Pages cannot be framed.

use super::form_token::{self, FormBinding};
use super::pages::view::{AppView, PermissionRow, level_words, manifest_rows, reach_words};
use super::render::{json_no_store, redirect, rendered_page, retry_later};
use super::{HttpOptions, SignIn, SignedIn};
use crate::model::{ClientId, Company, CompanyId, InstallationError, ProjectId};
use crate::server::{
    AdminDecision, AuthorizationServer, InstallationReview, ReviewStage, ServerError,
};
use crate::store::{Directory, Store};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The actions an admin takes on one app, as they appear in paths.
const ACTIONS: [&str; 5] = ["approve", "deny", "approve-update", "projects", "uninstall"];

struct Admin<S, D, A> {
    server: AuthorizationServer<S, D>,
    sign_in: A,
    options: HttpOptions,
}

type AdminState<S, D, A> = State<Arc<Admin<S, D, A>>>;

/// The admin pages and their JSON twins:
///
/// | route | what |
/// |---|---|
/// | `GET /admin/companies/{company}/apps` | the company's apps, with who asked and when |
/// | `GET /admin/companies/{company}/apps/{client_id}` | the install review, update review, or installed app |
/// | `POST /admin/companies/{company}/apps/{client_id}/{action}` | `approve` (with `project` fields), `deny`, `approve-update`, `projects`, `uninstall` |
/// | `GET /admin/companies/{company}/apps/{client_id}/uninstall` | the confirmation |
/// | `GET /admin/api/companies/{company}/apps[/{client_id}]` | the same as JSON |
/// | `POST /admin/api/companies/{company}/apps/{client_id}/{action}` | JSON body `{"revision": 3, "projects": [...]}`: the `revision` of the installation reviewed (required but for `uninstall`; `428` without it, `409 changed_since_review` if it changed since), `projects` for `approve` and `projects` |
///
/// Every action is decided only on the installation as the admin saw it: forms carry its
/// revision (bound into their token), and a change since (another admin, a new manifest
/// version) makes the action a `409` that changes nothing.
pub fn admin_router<S, D, A>(
    server: AuthorizationServer<S, D>,
    sign_in: A,
    options: HttpOptions,
) -> Router
where
    S: Store,
    D: Directory,
    A: SignIn,
{
    let state = Arc::new(Admin {
        server,
        sign_in,
        options,
    });
    Router::new()
        .route("/admin/companies/{company}/apps", get(apps_page::<S, D, A>))
        .route(
            "/admin/companies/{company}/apps/{client_id}",
            get(review_page::<S, D, A>),
        )
        .route(
            "/admin/companies/{company}/apps/{client_id}/uninstall",
            get(uninstall_page::<S, D, A>).post(form_action::<S, D, A>),
        )
        .route(
            "/admin/companies/{company}/apps/{client_id}/{action}",
            post(form_action::<S, D, A>),
        )
        .route(
            "/admin/api/companies/{company}/apps",
            get(apps_json::<S, D, A>),
        )
        .route(
            "/admin/api/companies/{company}/apps/{client_id}",
            get(review_json::<S, D, A>),
        )
        .route(
            "/admin/api/companies/{company}/apps/{client_id}/{action}",
            post(json_action::<S, D, A>),
        )
        .with_state(state)
}

fn apps_url(company: &CompanyId) -> String {
    format!("/admin/companies/{}/apps", encode(company.as_str()))
}

fn app_url(company: &CompanyId, app: &ClientId) -> String {
    format!("{}/{}", apps_url(company), encode(app.as_str()))
}

/// What a path segment keeps as is: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// What an admin form is about: an action on one app's installation in one company, as the
/// admin saw it (its revision).
struct FormSubject<'a> {
    company: &'a CompanyId,
    app: &'a ClientId,
    action: &'a str,
    revision: u64,
}

/// What an admin form is bound to.
fn form_binding<'a>(
    user: &'a SignedIn,
    subject: &'a FormSubject<'a>,
    revision: &'a str,
    fields: &'a mut Vec<Option<&'a [u8]>>,
) -> FormBinding<'a> {
    fields.extend([
        Some(user.user.as_str().as_bytes()),
        Some(user.session.expose().as_bytes()),
        Some(subject.company.as_str().as_bytes()),
        Some(subject.app.as_str().as_bytes()),
        Some(subject.action.as_bytes()),
        Some(revision.as_bytes()),
    ]);
    FormBinding {
        purpose: b"appgrant admin form v2",
        fields,
    }
}

impl<S: Store, D: Directory, A: SignIn> Admin<S, D, A> {
    fn form_token(&self, user: &SignedIn, subject: &FormSubject<'_>) -> String {
        let revision = subject.revision.to_string();
        let mut fields = Vec::new();
        let binding = form_binding(user, subject, &revision, &mut fields);
        let key = self.server.consent_form_key();
        form_token::issue(key, &binding, self.server.now().timestamp())
    }

    fn form_token_valid(
        &self,
        user: &SignedIn,
        subject: &FormSubject<'_>,
        presented: &str,
    ) -> bool {
        let revision = subject.revision.to_string();
        let mut fields = Vec::new();
        let binding = form_binding(user, subject, &revision, &mut fields);
        let key = self.server.consent_form_key();
        let lifetime = self.options.consent_form_lifetime.as_secs();
        form_token::verify(
            key,
            &binding,
            self.server.now().timestamp(),
            lifetime,
            presented,
        )
    }

    fn page(&self, status: StatusCode, template: &str, view: impl Serialize) -> Response {
        match self.options.pages.render(template, view) {
            Ok(html) => rendered_page(status, html),
            Err(error) => {
                tracing::error!(target: "appgrant::http", template, %error, "an admin page did not render");
                self.message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "",
                    &self.strings().unavailable,
                )
            }
        }
    }

    fn strings(&self) -> &super::Strings {
        self.options.pages.strings()
    }

    /// A page with a title and one sentence (errors, refusals).
    fn message(&self, status: StatusCode, title: &str, message: &str) -> Response {
        #[derive(Serialize)]
        struct View<'a> {
            title: &'a str,
            message: &'a str,
        }
        let view = View { title, message };
        let html = self
            .options
            .pages
            .render("message.html", view)
            .unwrap_or_else(|_| {
                format!(
                    "<!doctype html><title>{status}</title><p>{}</p>",
                    super::render::escape(message)
                )
            });
        let mut response = rendered_page(status, html);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            retry_later(&mut response);
        }
        response
    }

    /// The page for a refusal or failure.
    fn error_page(&self, error: &ServerError) -> Response {
        let strings = self.strings();
        let (status, message) = match error {
            ServerError::Installation(InstallationError::NotDirectoryAdmin { .. })
            | ServerError::NotAMember { .. } => {
                (StatusCode::FORBIDDEN, strings.not_allowed.to_string())
            }
            ServerError::UnknownApp(_)
            | ServerError::NoInstallation { .. }
            | ServerError::UnknownCompany(_) => {
                (StatusCode::NOT_FOUND, strings.not_found.to_string())
            }
            ServerError::Store(_) | ServerError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                strings.unavailable.to_string(),
            ),
            ServerError::Installation(InstallationError::ChangedSinceReview { .. }) => (
                StatusCode::CONFLICT,
                strings.changed_since_review.to_string(),
            ),
            other => (StatusCode::CONFLICT, other.to_string()),
        };
        self.message(status, "", &message)
    }

    async fn signed_in_or_sign_in(&self, parts: &Parts) -> Result<SignedIn, Response> {
        match self.sign_in.signed_in(parts).await {
            Some(user) => Ok(user),
            None => {
                let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
                Err(redirect(&self.sign_in.sign_in_url(path)))
            }
        }
    }

    async fn company(&self, company: &CompanyId) -> Option<Company> {
        self.server
            .directory()
            .company(company)
            .await
            .ok()
            .flatten()
    }
}

#[derive(Serialize)]
struct AppEntry {
    name: String,
    publisher: Option<String>,
    stage: String,
    requested: bool,
    requested_by: String,
    requested_at: String,
    url: String,
}

fn stage_words(strings: &super::Strings, stage: ReviewStage) -> String {
    match stage {
        ReviewStage::Requested => &strings.stage_requested,
        ReviewStage::ServiceAccountRequested => &strings.stage_service_account_requested,
        ReviewStage::UpdatePending => &strings.stage_update_pending,
        ReviewStage::Installed => &strings.stage_installed,
        ReviewStage::Denied => &strings.stage_denied,
        ReviewStage::Uninstalled => &strings.stage_uninstalled,
    }
    .to_string()
}

fn requester(review: &InstallationReview) -> (String, String) {
    let name = review.requested_by.as_ref().map_or_else(
        || review.installation.requested_by.to_string(),
        |user| user.name.clone(),
    );
    let date = review
        .installation
        .requested_at
        .format("%Y-%m-%d")
        .to_string();
    (name, date)
}

async fn apps_page<S: Store, D: Directory, A: SignIn>(
    State(admin): AdminState<S, D, A>,
    Path(company): Path<String>,
    parts: Parts,
) -> Response {
    let user = match admin.signed_in_or_sign_in(&parts).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let company = CompanyId::new(company);
    let reviews = match admin.server.company_apps(&company, &user.user).await {
        Ok(reviews) => reviews,
        Err(error) => return admin.error_page(&error),
    };
    let strings = admin.strings();
    let apps: Vec<AppEntry> = reviews
        .iter()
        .map(|review| {
            let (requested_by, requested_at) = requester(review);
            AppEntry {
                name: review.app.name.clone(),
                publisher: review.app.profile.publisher.clone(),
                stage: stage_words(strings, review.stage),
                requested: asks_for_decision(review.stage),
                requested_by,
                requested_at,
                url: app_url(&company, &review.app.client_id),
            }
        })
        .collect();
    #[derive(Serialize)]
    struct View {
        company_name: String,
        apps: Vec<AppEntry>,
    }
    let company_name = admin
        .company(&company)
        .await
        .map_or_else(|| company.to_string(), |c| c.name);
    admin.page(
        StatusCode::OK,
        "admin_apps.html",
        View { company_name, apps },
    )
}

/// Whether someone asked for something an admin has not decided yet (an install, or a
/// consent-installed app's service account).
fn asks_for_decision(stage: ReviewStage) -> bool {
    matches!(
        stage,
        ReviewStage::Requested | ReviewStage::ServiceAccountRequested
    )
}

/// The actions an admin can take on a review, as [`ACTIONS`] name them.
fn available_actions(review: &InstallationReview) -> &'static [&'static str] {
    match review.stage {
        ReviewStage::Requested => &["approve", "deny"],
        ReviewStage::ServiceAccountRequested => &["approve", "uninstall"],
        ReviewStage::UpdatePending => &["approve-update", "uninstall"],
        ReviewStage::Installed if review.installation.service_account.is_some() => {
            &["projects", "uninstall"]
        }
        ReviewStage::Installed => &["uninstall"],
        _ => &[],
    }
}

#[derive(Serialize)]
struct ProjectChoice {
    id: String,
    name: String,
    checked: bool,
}

#[derive(Serialize)]
struct ChangeRow {
    tool: String,
    text: String,
    scope: String,
    more: bool,
}

#[derive(Serialize)]
struct FormAction {
    url: String,
    token: String,
    revision: u64,
}

#[derive(Serialize)]
struct ReviewView<'a> {
    app: AppView<'a>,
    company_name: &'a str,
    title: String,
    stage: ReviewStage,
    stage_label: String,
    requested: bool,
    requested_by: String,
    requested_at: String,
    asked: Vec<PermissionRow>,
    held: Vec<PermissionRow>,
    changes: Vec<ChangeRow>,
    has_project_tools: bool,
    projects: Vec<ProjectChoice>,
    /// By action, with `_` for `-` (`approve_update`), as templates name them.
    actions: BTreeMap<String, FormAction>,
    back_url: String,
}

fn review_view<'a, S: Store, D: Directory, A: SignIn>(
    admin: &Admin<S, D, A>,
    user: &SignedIn,
    review: &'a InstallationReview,
    company: &'a Company,
) -> ReviewView<'a> {
    let strings = admin.strings();
    let app = &review.app;
    let fill = |text: &str| {
        text.replace("{app}", &app.name)
            .replace("{company}", &company.name)
    };
    let title = match review.stage {
        ReviewStage::Requested => fill(&strings.review_install_title),
        ReviewStage::ServiceAccountRequested => fill(&strings.review_service_account_title),
        ReviewStage::UpdatePending => fill(&strings.review_update_title),
        _ => fill(&strings.review_installed_title),
    };
    let asked = review.reviewed.as_ref().map_or_else(Vec::new, |manifest| {
        manifest_rows(strings, &manifest.company, &manifest.project)
    });
    let held = review.approved.as_ref().map_or_else(Vec::new, |manifest| {
        manifest_rows(strings, &manifest.company, &manifest.project)
    });
    let changes = review
        .changes
        .iter()
        .map(|change| ChangeRow {
            tool: change.tool.to_string(),
            text: strings
                .review_change_from_to
                .replace("{from}", &level_words(strings, change.from))
                .replace("{to}", &level_words(strings, change.to)),
            scope: reach_words(strings, change.reach),
            more: change.asks_more(),
        })
        .collect();
    let manifest = review.reviewed.as_ref().or(review.approved.as_ref());
    let permitted: BTreeSet<&ProjectId> = review
        .installation
        .service_account
        .as_ref()
        .map(|account| account.permitted_projects.iter().collect())
        .unwrap_or_default();
    let projects = company
        .projects
        .iter()
        .map(|project| ProjectChoice {
            id: project.id.to_string(),
            name: project.name.clone(),
            checked: permitted.contains(&project.id),
        })
        .collect();
    let base = app_url(&company.id, &app.client_id);
    let revision = review.installation.revision;
    let actions = available_actions(review)
        .iter()
        .map(|action| {
            let subject = FormSubject {
                company: &company.id,
                app: &app.client_id,
                action,
                revision,
            };
            let token = admin.form_token(user, &subject);
            let url = format!("{base}/{action}");
            let form = FormAction {
                url,
                token,
                revision,
            };
            (action.replace('-', "_"), form)
        })
        .collect();
    let (requested_by, requested_at) = requester(review);
    ReviewView {
        app: AppView::of(app),
        company_name: &company.name,
        title,
        stage: review.stage,
        stage_label: stage_words(strings, review.stage),
        requested: asks_for_decision(review.stage),
        requested_by,
        requested_at,
        asked,
        held,
        changes,
        has_project_tools: manifest.is_some_and(|manifest| !manifest.project.is_empty()),
        projects,
        actions,
        back_url: apps_url(&company.id),
    }
}

async fn review_page<S: Store, D: Directory, A: SignIn>(
    State(admin): AdminState<S, D, A>,
    Path((company, client_id)): Path<(String, String)>,
    parts: Parts,
) -> Response {
    let user = match admin.signed_in_or_sign_in(&parts).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let (company, client_id) = (CompanyId::new(company), ClientId::new(client_id));
    let review = match admin
        .server
        .installation_review(&company, &client_id, &user.user)
        .await
    {
        Ok(review) => review,
        Err(error) => return admin.error_page(&error),
    };
    let Some(record) = admin.company(&company).await else {
        return admin.error_page(&ServerError::UnknownCompany(company));
    };
    let view = review_view(&admin, &user, &review, &record);
    admin.page(StatusCode::OK, "admin_review.html", view)
}

async fn uninstall_page<S: Store, D: Directory, A: SignIn>(
    State(admin): AdminState<S, D, A>,
    Path((company, client_id)): Path<(String, String)>,
    parts: Parts,
) -> Response {
    let user = match admin.signed_in_or_sign_in(&parts).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let (company, client_id) = (CompanyId::new(company), ClientId::new(client_id));
    let review = match admin
        .server
        .installation_review(&company, &client_id, &user.user)
        .await
    {
        Ok(review) => review,
        Err(error) => return admin.error_page(&error),
    };
    let Some(record) = admin.company(&company).await else {
        return admin.error_page(&ServerError::UnknownCompany(company));
    };
    #[derive(Serialize)]
    struct View<'a> {
        app: AppView<'a>,
        company_name: &'a str,
        action: String,
        token: String,
        revision: u64,
        back_url: String,
    }
    let revision = review.installation.revision;
    let subject = FormSubject {
        company: &company,
        app: &client_id,
        action: "uninstall",
        revision,
    };
    let view = View {
        app: AppView::of(&review.app),
        company_name: &record.name,
        action: format!("{}/uninstall", app_url(&company, &client_id)),
        token: admin.form_token(&user, &subject),
        revision,
        back_url: app_url(&company, &client_id),
    };
    admin.page(StatusCode::OK, "admin_uninstall.html", view)
}

/// What an action needs besides who and where: the installation's revision the admin
/// reviewed, and the projects, for `approve` and `projects`. Unknown fields are refused: a
/// misspelled `projects` must not read as "no projects".
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    #[serde(default)]
    projects: Vec<ProjectId>,
    revision: Option<u64>,
}

/// The decision an action path names; only the five [`ACTIONS`] are routed here.
fn decision(action: &str, projects: Vec<ProjectId>) -> AdminDecision {
    let projects: BTreeSet<ProjectId> = projects.into_iter().collect();
    match action {
        "approve" => AdminDecision::Approve { projects },
        "deny" => AdminDecision::Deny,
        "approve-update" => AdminDecision::ApproveUpdate,
        "projects" => AdminDecision::SetProjects { projects },
        _ => AdminDecision::Uninstall,
    }
}

async fn form_action<S: Store, D: Directory, A: SignIn>(
    State(admin): AdminState<S, D, A>,
    Path(path): Path<Vec<(String, String)>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let path: BTreeMap<String, String> = path.into_iter().collect();
    let company = CompanyId::new(path.get("company").cloned().unwrap_or_default());
    let app = ClientId::new(path.get("client_id").cloned().unwrap_or_default());
    // The uninstall confirmation posts to its own path.
    let action = path
        .get("action")
        .map_or("uninstall", String::as_str)
        .to_owned();
    if !ACTIONS.contains(&action.as_str()) {
        return admin.message(StatusCode::NOT_FOUND, "", &admin.strings().not_found);
    }
    let Some(user) = admin.sign_in.signed_in(&parts).await else {
        return admin.message(StatusCode::UNAUTHORIZED, "", &admin.strings().not_allowed);
    };
    let mut token = None;
    let mut revision = None;
    let mut projects = Vec::new();
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "csrf_token" if token.is_none() => token = Some(value.into_owned()),
            "revision" if revision.is_none() => revision = value.parse::<u64>().ok(),
            "project" => projects.push(ProjectId::new(value.into_owned())),
            _ => {}
        }
    }
    // The token binds the revision, so a form cannot be replayed over a changed installation
    // with its revision edited.
    let (Some(token), Some(revision)) = (token, revision) else {
        return admin.message(StatusCode::FORBIDDEN, "", &admin.strings().form_expired);
    };
    let subject = FormSubject {
        company: &company,
        app: &app,
        action: &action,
        revision,
    };
    if !admin.form_token_valid(&user, &subject, &token) {
        return admin.message(StatusCode::FORBIDDEN, "", &admin.strings().form_expired);
    }
    let decided = admin.server.decide_on_review(
        &company,
        &app,
        &user.user,
        revision,
        decision(&action, projects),
    );
    match decided.await {
        Ok(_) if matches!(action.as_str(), "deny" | "uninstall") => redirect(&apps_url(&company)),
        Ok(_) => redirect(&app_url(&company, &app)),
        Err(error) => admin.error_page(&error),
    }
}

/// A JSON answer for a failure: the status a page would have, and the error's words.
fn json_error(error: &ServerError) -> Response {
    let (status, code) = match error {
        ServerError::Installation(InstallationError::NotDirectoryAdmin { .. })
        | ServerError::NotAMember { .. } => (StatusCode::FORBIDDEN, "forbidden"),
        ServerError::UnknownApp(_)
        | ServerError::NoInstallation { .. }
        | ServerError::UnknownCompany(_) => (StatusCode::NOT_FOUND, "not_found"),
        ServerError::Store(_) | ServerError::Busy => {
            (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        ServerError::Installation(InstallationError::ChangedSinceReview { .. }) => {
            (StatusCode::CONFLICT, "changed_since_review")
        }
        ServerError::Installation(_) => (StatusCode::CONFLICT, "conflict"),
        _ => (StatusCode::BAD_REQUEST, "invalid_request"),
    };
    let description = match status {
        StatusCode::SERVICE_UNAVAILABLE => "try again later".to_owned(),
        _ => error.to_string(),
    };
    let mut response = json_no_store(
        status,
        &serde_json::json!({ "error": code, "error_description": description }),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        retry_later(&mut response);
    }
    response
}

fn unauthorized_json() -> Response {
    json_no_store(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({ "error": "unauthorized", "error_description": "sign in first" }),
    )
}

/// One installation in JSON: the review, with the app's public parts.
fn review_json_value(review: &InstallationReview) -> serde_json::Value {
    let mut value = serde_json::to_value(review).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        let app = &review.app;
        object.insert(
            "app".into(),
            serde_json::json!({
                "client_id": app.client_id,
                "name": app.name,
                "profile": app.profile,
                "flows": app.flows,
            }),
        );
    }
    value
}

async fn apps_json<S: Store, D: Directory, A: SignIn>(
    State(admin): AdminState<S, D, A>,
    Path(company): Path<String>,
    parts: Parts,
) -> Response {
    let Some(user) = admin.sign_in.signed_in(&parts).await else {
        return unauthorized_json();
    };
    match admin
        .server
        .company_apps(&CompanyId::new(company), &user.user)
        .await
    {
        Ok(reviews) => {
            let apps: Vec<serde_json::Value> = reviews.iter().map(review_json_value).collect();
            json_no_store(StatusCode::OK, &serde_json::json!({ "apps": apps }))
        }
        Err(error) => json_error(&error),
    }
}

async fn review_json<S: Store, D: Directory, A: SignIn>(
    State(admin): AdminState<S, D, A>,
    Path((company, client_id)): Path<(String, String)>,
    parts: Parts,
) -> Response {
    let Some(user) = admin.sign_in.signed_in(&parts).await else {
        return unauthorized_json();
    };
    let (company, app) = (CompanyId::new(company), ClientId::new(client_id));
    match admin
        .server
        .installation_review(&company, &app, &user.user)
        .await
    {
        Ok(review) => json_no_store(StatusCode::OK, &review_json_value(&review)),
        Err(error) => json_error(&error),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

async fn json_action<S: Store, D: Directory, A: SignIn>(
    State(admin): AdminState<S, D, A>,
    Path((company, client_id, action)): Path<(String, String, String)>,
    parts: Parts,
    body: Bytes,
) -> Response {
    if !ACTIONS.contains(&action.as_str()) {
        return json_no_store(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": "not_found" }),
        );
    }
    let Some(user) = admin.sign_in.signed_in(&parts).await else {
        return unauthorized_json();
    };
    if super::cross_site::sent_from_another_site(&parts.headers) {
        return json_no_store(
            StatusCode::FORBIDDEN,
            &serde_json::json!({ "error": "cross_site", "error_description": "admin actions are not taken for another site's page" }),
        );
    }
    // A cross-site form cannot send this content type without a CORS preflight, which this
    // router never answers (see `cross_site`).
    if !is_json(&parts.headers) {
        return json_no_store(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &serde_json::json!({ "error": "invalid_request", "error_description": "send Content-Type: application/json" }),
        );
    }
    let parsed: Result<ActionBody, _> = if body.is_empty() {
        Ok(ActionBody::default())
    } else {
        serde_json::from_slice(&body)
    };
    let Ok(parsed) = parsed else {
        return json_no_store(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "error": "invalid_request", "error_description": "the body must be {\"revision\": 3, \"projects\": [\"…\"]}" }),
        );
    };
    let decision = decision(&action, parsed.projects);
    // A decision names what it was made on (RFC 6585's 428 asks for that); an uninstall only
    // takes access away, so it may go without.
    let revision = match (parsed.revision, &decision) {
        (Some(revision), _) => revision,
        // Never compared: see `AdminDecision::Uninstall`.
        (None, AdminDecision::Uninstall) => 0,
        (None, _) => {
            return json_no_store(
                StatusCode::PRECONDITION_REQUIRED,
                &serde_json::json!({ "error": "revision_required", "error_description": "send the installation's revision you reviewed: {\"revision\": 3}" }),
            );
        }
    };
    let (company, app) = (CompanyId::new(company), ClientId::new(client_id));
    let decided = admin
        .server
        .decide_on_review(&company, &app, &user.user, revision, decision);
    match decided.await {
        Ok(installation) => json_no_store(StatusCode::OK, &installation),
        Err(error) => json_error(&error),
    }
}
