//! The admin pages a host mounts (`appgrant::http::admin_router`): a company's apps, the
//! install review, the update review, permitted projects, uninstall behind a confirmation, and
//! the same actions as JSON; only for a directory admin, every form bound to its page.

mod in_process;
mod support;

use appgrant::http::{HttpOptions, admin_router};
use appgrant::model::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use in_process::{Answer, SignedInAs, get, hidden_inputs, post_form, send};

fn as_user(world: &support::World, user: &str) -> Router {
    let sign_in = SignedInAs {
        user: UserId::new(user),
        company: world.acme.clone(),
        session: format!("{user}-session"),
    };
    admin_router(world.server.clone(), sign_in, HttpOptions::default())
}

/// The JSON route of `action` on FieldSync's installation in Acme.
fn api_action_path(world: &support::World, action: &str) -> String {
    format!(
        "/admin/api/companies/acme/apps/{}/{action}",
        world.app.client_id
    )
}

fn review_path(world: &support::World) -> String {
    format!("/admin/companies/acme/apps/{}", world.app.client_id)
}

async fn requested(world: &support::World) {
    world
        .server
        .request_installation(&world.acme, &world.app.client_id, &world.john_or_jane())
        .await
        .unwrap();
}

trait Requester {
    fn john_or_jane(&self) -> UserId;
}

impl Requester for support::World {
    /// Jane asks (only members may ask; she is one).
    fn john_or_jane(&self) -> UserId {
        self.jane.clone()
    }
}

/// The hidden fields of the form posting to `action` on `page`.
fn form_for(page: &str, action: &str) -> Vec<(String, String)> {
    let start = page
        .find(&format!("action=\"{}\"", action.replace('/', "&#x2f;")))
        .unwrap_or_else(|| panic!("no form for {action} in {page}"));
    let form = &page[start..];
    let form = &form[..form.find("</form>").unwrap()];
    hidden_inputs(form)
}

async fn submit(
    router: &Router,
    action: &str,
    fields: &[(String, String)],
    extra: &[(&str, &str)],
) -> Answer {
    let mut all: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(extra);
    post_form(router, action, &all, None).await
}

#[tokio::test]
async fn an_admin_sees_the_companys_apps_with_who_asked_and_when() {
    let world = support::world().await;
    requested(&world).await;
    let page = get(&as_user(&world, "jane"), "/admin/companies/acme/apps", None).await;
    assert_eq!(page.status, 200);
    for expected in [
        "Apps in Acme Construction",
        "FieldSync",
        "Waiting for approval",
        "Requested by Jane on 2026-11-22",
    ] {
        assert!(
            page.body.contains(expected),
            "missing {expected:?} in {}",
            page.body
        );
    }
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(
        page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn a_non_admin_gets_a_refusal_page_and_nobody_signed_in_is_sent_to_sign_in() {
    let world = support::world().await;
    requested(&world).await;
    let john = as_user(&world, "john");
    for path in ["/admin/companies/acme/apps".to_owned(), review_path(&world)] {
        let page = get(&john, &path, None).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.body.contains("Only an administrator"), "{}", page.body);
        assert!(
            page.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let json = get(&john, "/admin/api/companies/acme/apps", None).await;
    assert_eq!(json.status, 403);
    assert_eq!(json.json()["error"], "forbidden");

    let nobody = admin_router(world.server.clone(), Nobody, HttpOptions::default());
    let page = get(&nobody, "/admin/companies/acme/apps", None).await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location(),
        "/login?return_to=/admin/companies/acme/apps"
    );
    let json = get(&nobody, "/admin/api/companies/acme/apps", None).await;
    assert_eq!(json.status, 401);
}

/// A host session with nobody signed in.
struct Nobody;

impl appgrant::http::SignIn for Nobody {
    async fn signed_in(&self, _: &axum::http::request::Parts) -> Option<appgrant::http::SignedIn> {
        None
    }
    fn sign_in_url(&self, return_to: &str) -> String {
        format!("/login?return_to={return_to}")
    }
}

#[tokio::test]
async fn the_install_review_shows_the_manifest_in_plain_words_and_approving_on_a_chosen_project_decides_access()
 {
    let world = support::world().await;
    requested(&world).await;
    let jane = as_user(&world, "jane");
    let page = get(&jane, &review_path(&world), None).await;
    assert_eq!(page.status, 200);
    for expected in [
        "Install FieldSync in Acme Construction?",
        "<td>directory</td><td>Read only</td><td>Company-wide</td>",
        "<td>rfis</td><td>Standard</td><td>On each permitted project</td>",
        "value=\"tower\"> Tower</label>",
        "value=\"depot\"> Depot</label>",
        ">Approve</button>",
        ">Deny</button>",
        "Requested by Jane",
    ] {
        assert!(
            page.body.contains(expected),
            "missing {expected:?} in {}",
            page.body
        );
    }
    let approve = format!("{}/approve", review_path(&world));
    let fields = form_for(&page.body, &approve);
    let answer = submit(&jane, &approve, &fields, &[("project", "tower")]).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(answer.location(), review_path(&world));

    let token = world.service_token(None).await;
    let write =
        |project: &str| Requirement::new("acme", "rfis", Level::Standard).on_project(project);
    assert!(world.allowed(&token, &write("tower")).await);
    assert!(
        !world.allowed(&token, &write("depot")).await,
        "only the chosen project"
    );
    let installed = get(&jane, &review_path(&world), None).await;
    assert!(
        installed.body.contains("value=\"tower\" checked> Tower"),
        "{}",
        installed.body
    );
    assert!(
        !installed.body.contains(">Deny</button>"),
        "nobody is asking any more"
    );
}

#[tokio::test]
async fn a_form_without_its_token_or_from_another_session_changes_nothing() {
    let world = support::world().await;
    requested(&world).await;
    let jane = as_user(&world, "jane");
    let page = get(&jane, &review_path(&world), None).await;
    let approve = format!("{}/approve", review_path(&world));
    let fields = form_for(&page.body, &approve);
    let missing = post_form(&jane, &approve, &[("project", "tower")], None).await;
    assert_eq!(missing.status, 403);
    // The same form, posted in another session of Jane's.
    let other_session = admin_router(
        world.server.clone(),
        SignedInAs {
            user: world.jane.clone(),
            company: world.acme.clone(),
            session: "stolen".into(),
        },
        HttpOptions::default(),
    );
    let replayed = submit(&other_session, &approve, &fields, &[("project", "tower")]).await;
    assert_eq!(replayed.status, 403);
    // Jane's approve token does not deny.
    let deny = format!("{}/deny", review_path(&world));
    let swapped = submit(&jane, &deny, &fields, &[]).await;
    assert_eq!(swapped.status, 403);
    let installation = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await
        .unwrap();
    assert_eq!(installation.status, InstallationStatus::Requested);
}

#[tokio::test]
async fn the_update_review_shows_what_changes_and_approving_it_raises_the_service_account() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let raised = Manifest::new(0)
        .company_tool("directory", Level::ReadOnly)
        .project_tool("rfis", Level::Admin);
    world
        .server
        .publish_manifest(&world.app.client_id, raised)
        .await
        .unwrap();
    let jane = as_user(&world, "jane");
    let page = get(&jane, &review_path(&world), None).await;
    for expected in [
        "Approve FieldSync&#x27;s update?",
        "<td>rfis</td><td><strong>Standard → Admin</strong></td><td>On each permitted project</td>",
        "Until you approve, the approved permissions stay in force, unchanged.",
        ">Approve update</button>",
    ] {
        assert!(
            page.body.contains(expected),
            "missing {expected:?} in {}",
            page.body
        );
    }
    let token = world.service_token(None).await;
    let admin_tower = Requirement::new("acme", "rfis", Level::Admin).on_project("tower");
    assert!(!world.allowed(&token, &admin_tower).await);
    let action = format!("{}/approve-update", review_path(&world));
    let answer = submit(&jane, &action, &form_for(&page.body, &action), &[]).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert!(world.allowed(&token, &admin_tower).await);
}

#[tokio::test]
async fn uninstalling_asks_for_confirmation_saying_every_token_stops_then_stops_them() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let token = world.service_token(None).await;
    let jane = as_user(&world, "jane");
    let installed = get(&jane, &review_path(&world), None).await;
    let confirm_path = format!("{}/uninstall", review_path(&world));
    assert!(
        installed
            .body
            .contains(&format!("href=\"{}\"", confirm_path.replace('/', "&#x2f;"))),
        "{}",
        installed.body
    );
    let confirm = get(&jane, &confirm_path, None).await;
    assert!(
        confirm
            .body
            .contains("Every token of FieldSync in Acme Construction stops working at once"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("deactivated"), "{}", confirm.body);
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(
        world.allowed(&token, &read).await,
        "nothing happens before the confirmation"
    );
    let answer = submit(
        &jane,
        &confirm_path,
        &form_for(&confirm.body, &confirm_path),
        &[],
    )
    .await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location(), "/admin/companies/acme/apps");
    assert!(!world.allowed(&token, &read).await);
}

async fn post_json(router: &Router, path: &str, body: &str, content_type: &str) -> Answer {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(router, request).await
}

#[tokio::test]
async fn the_same_actions_work_as_json_and_only_with_a_json_content_type() {
    let world = support::world().await;
    requested(&world).await;
    let jane = as_user(&world, "jane");
    let path = api_action_path(&world, "approve");
    let as_form = post_json(
        &jane,
        &path,
        "{\"revision\":0,\"projects\":[\"tower\"]}",
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(as_form.status, 415);
    let unknown = post_json(
        &jane,
        &path,
        "{\"revision\":0,\"projects\":[\"harbour\"]}",
        "application/json",
    )
    .await;
    assert_eq!(unknown.status, 409);
    assert!(
        unknown.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("harbour")
    );
    let approved = post_json(
        &jane,
        &path,
        "{\"revision\":0,\"projects\":[\"tower\"]}",
        "application/json",
    )
    .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.json()["status"], "active");
    let listed = get(&jane, "/admin/api/companies/acme/apps", None).await;
    let apps = listed.json()["apps"].as_array().unwrap().clone();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["stage"], "installed");
    assert_eq!(apps[0]["app"]["name"], "FieldSync");
    assert!(!listed.body.contains("secret"), "{}", listed.body);
}

#[tokio::test]
async fn approving_an_update_after_a_newer_version_was_published_changes_nothing_and_says_so() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let raised = |level| {
        Manifest::new(0)
            .company_tool("directory", Level::ReadOnly)
            .project_tool("rfis", level)
    };
    let app = &world.app.client_id;
    let server = &world.server;
    server
        .publish_manifest(app, raised(Level::Admin))
        .await
        .unwrap();
    let jane = as_user(&world, "jane");
    let page = get(&jane, &review_path(&world), None).await;
    let action = format!("{}/approve-update", review_path(&world));
    let form = form_for(&page.body, &action);
    // While Jane reads the diff, the developer publishes a version asking for a new tool.
    server
        .publish_manifest(
            app,
            raised(Level::Admin).project_tool("photos", Level::Admin),
        )
        .await
        .unwrap();
    let answer = submit(&jane, &action, &form, &[]).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert!(
        answer.body.contains("changed while you were looking"),
        "{}",
        answer.body
    );
    let installation = server.installation(&world.acme, app).await.unwrap();
    assert_eq!(installation.service_account.unwrap().approved.version, 1);
    let photos = Requirement::new("acme", "photos", Level::ReadOnly).on_project("tower");
    assert!(
        !world
            .allowed(&world.service_token(None).await, &photos)
            .await
    );

    // A revision edited into the form does not match its token.
    let mut edited = form.clone();
    for (name, value) in &mut edited {
        if name == "revision" {
            *value = installation.revision.to_string();
        }
    }
    let answer = submit(&jane, &action, &edited, &[]).await;
    assert_eq!(answer.status, 403, "{}", answer.body);

    let page = get(&jane, &review_path(&world), None).await;
    assert!(page.body.contains("<td>photos</td>"), "{}", page.body);
    let answer = submit(&jane, &action, &form_for(&page.body, &action), &[]).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert!(
        world
            .allowed(&world.service_token(None).await, &photos)
            .await
    );
}

#[tokio::test]
async fn json_decisions_name_the_revision_they_were_made_on() {
    let world = support::world().await;
    requested(&world).await;
    let jane = as_user(&world, "jane");
    let path = api_action_path(&world, "approve");
    let unnamed = post_json(
        &jane,
        &path,
        "{\"projects\":[\"tower\"]}",
        "application/json",
    )
    .await;
    assert_eq!(unnamed.status, 428, "{}", unnamed.body);
    assert_eq!(unnamed.json()["error"], "revision_required");
    let review = get(
        &jane,
        &format!("/admin/api/companies/acme/apps/{}", world.app.client_id),
        None,
    )
    .await;
    let revision = review.json()["installation"]["revision"].as_u64().unwrap();
    let stale = format!("{{\"revision\":{},\"projects\":[\"tower\"]}}", revision + 1);
    let stale = post_json(&jane, &path, &stale, "application/json").await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.json()["error"], "changed_since_review");
    let installation = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await
        .unwrap();
    assert_eq!(installation.status, InstallationStatus::Requested);
    let uninstall = api_action_path(&world, "uninstall");
    let removed = post_json(&jane, &uninstall, "", "application/json").await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.json()["status"], "uninstalled");
}

#[tokio::test]
async fn a_non_admin_gets_the_same_refusal_whether_or_not_the_app_is_installed_there() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let john = as_user(&world, "john");
    for client_id in [world.app.client_id.as_str(), "no-such-app"] {
        for action in ["approve", "deny", "approve-update", "projects", "uninstall"] {
            let path = format!("/admin/api/companies/acme/apps/{client_id}/{action}");
            let answer = post_json(&john, &path, "{\"revision\":1}", "application/json").await;
            assert_eq!(answer.status, 403, "{path}: {}", answer.body);
            assert_eq!(answer.json()["error"], "forbidden", "{path}");
        }
        let path = format!("/admin/api/companies/acme/apps/{client_id}");
        let answer = get(&john, &path, None).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
    }
}

#[tokio::test]
async fn an_app_a_person_installed_by_consent_offers_its_service_account_and_uninstall_not_deny() {
    let world = support::world().await;
    world.code_for(&world.john).await;
    let jane = as_user(&world, "jane");
    let list = get(&jane, "/admin/companies/acme/apps", None).await;
    assert!(
        list.body.contains("Service account waiting for approval"),
        "{}",
        list.body
    );
    let page = get(&jane, &review_path(&world), None).await;
    assert!(
        page.body
            .contains("is installed in Acme Construction for its users"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(">Deny</button>"), "{}", page.body);
    let confirm_path = format!("{}/uninstall", review_path(&world));
    assert!(
        page.body
            .contains(&format!("href=\"{}\"", confirm_path.replace('/', "&#x2f;"))),
        "{}",
        page.body
    );
    let action = format!("{}/approve", review_path(&world));
    let answer = submit(
        &jane,
        &action,
        &form_for(&page.body, &action),
        &[("project", "tower")],
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(world.allowed(&world.service_token(None).await, &read).await);
}

#[tokio::test]
async fn a_json_action_a_browser_says_another_site_sent_is_refused_and_changes_nothing() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let jane = as_user(&world, "jane");
    let path = api_action_path(&world, "uninstall");
    for site in ["cross-site", "same-site"] {
        let request = Request::post(&path)
            .header(header::CONTENT_TYPE, "application/json")
            .header("sec-fetch-site", site)
            .body(Body::from("{}"))
            .unwrap();
        let answer = send(&jane, request).await;
        assert_eq!(answer.status, 403, "{site}: {}", answer.body);
        assert_eq!(answer.json()["error"], "cross_site");
    }
    let installation = world
        .server
        .installation(&world.acme, &world.app.client_id)
        .await
        .unwrap();
    assert_eq!(installation.status, InstallationStatus::Active);
    let request = Request::post(&path)
        .header(header::CONTENT_TYPE, "application/json")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(send(&jane, request).await.status, 200);
}

#[tokio::test]
async fn a_misspelled_field_in_a_json_action_is_refused_not_read_as_no_projects() {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    let jane = as_user(&world, "jane");
    let path = api_action_path(&world, "projects");
    let review = get(&jane, "/admin/api/companies/acme/apps", None).await;
    assert_eq!(review.status, 200);
    let misspelled = post_json(
        &jane,
        &path,
        "{\"revision\":1,\"proj%ects\":[\"tower\"]}",
        "application/json",
    )
    .await;
    assert_eq!(misspelled.status, 400, "{}", misspelled.body);
    assert_eq!(misspelled.json()["error"], "invalid_request");
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    let token = world.service_token(Some(&world.acme)).await;
    assert!(
        world.allowed(&token, &read).await,
        "the permitted projects were kept"
    );
}
