//! The consent page says what it means: the app and its publisher, the person by name, the
//! company, what the app will be able to do through them (their permissions now, capped by the
//! app's ceiling) in plain words, that this follows their permissions, where to revoke it, and
//! a host's "not you?" link; its templates and strings can be replaced.

mod in_process;
mod support;

use appgrant::grant::AppRegistration;
use appgrant::http::{HttpOptions, Pages, SignIn, SignedIn, Strings, router};
use appgrant::model::*;
use appgrant::store::Directory;
use axum::http::request::Parts;
use in_process::{SignedInAs, get};

fn john_in_acme() -> SignedInAs {
    SignedInAs {
        user: UserId::new("john"),
        company: CompanyId::new("acme"),
        session: "john-session".into(),
    }
}

/// An app with a profile, capped at read-only RFIs; the authorize path for it.
async fn profiled_app(world: &support::World) -> (App, String) {
    let registration = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        ceiling: Some(ToolLevels::from([(Tool::new("rfis"), Level::ReadOnly)])),
        profile: AppProfile {
            publisher: Some("FieldSync Ltd".into()),
            description: Some("Keeps field crews' RFIs in sync.".into()),
            homepage: Some("https://fieldsync.example.com".into()),
            logo_url: None,
        },
        ..support::both_flows_app()
    };
    let app = world.server.register_app(registration).await.unwrap().app;
    let path = format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={}&code_challenge_method=S256",
        app.client_id,
        url::form_urlencoded::byte_serialize(support::REDIRECT.as_bytes()).collect::<String>(),
        support::challenge()
    );
    (app, path)
}

#[tokio::test]
async fn the_consent_page_names_the_app_the_person_the_company_and_what_the_app_may_do() {
    let world = support::world().await;
    let (_, path) = profiled_app(&world).await;
    let options = HttpOptions {
        connected_apps_url: Some("/account/apps".into()),
        ..HttpOptions::default()
    };
    let app = router(world.server.clone(), john_in_acme(), options);
    let page = get(&app, &path, None).await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    for expected in [
        "Allow FieldSync to act as you?",
        "by FieldSync Ltd",
        "Keeps field crews&#x27; RFIs in sync.",
        "href=\"https:&#x2f;&#x2f;fieldsync.example.com\"",
        "You are signed in as John.",
        "In Acme Construction, FieldSync will be able to:",
        "<td>rfis</td><td>Read only</td><td>Tower</td>",
        "when they change, so does what FieldSync can do through you",
        "href=\"&#x2f;account&#x2f;apps\"",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in {body}");
    }
    // John holds nothing on Depot, so nothing is listed there.
    assert!(!body.contains("Depot"), "{body}");
    assert!(
        !body.contains("Switch account"),
        "no link unless the host gives one"
    );
}

#[tokio::test]
async fn what_the_page_lists_follows_the_persons_permissions_as_they_are_now() {
    let world = support::world().await;
    let (_, path) = profiled_app(&world).await;
    let app = router(world.server.clone(), john_in_acme(), HttpOptions::default());
    world
        .server
        .set_membership(&world.acme, &world.john, Permissions::none())
        .await
        .unwrap();
    let page = get(&app, &path, None).await;
    assert!(
        page.body
            .contains("FieldSync will not be able to do anything in Acme Construction through you"),
        "{}",
        page.body
    );
}

/// A host with a "not you?" link.
#[derive(Clone)]
struct SwitchableSignIn(SignedInAs);

impl SignIn for SwitchableSignIn {
    async fn signed_in(&self, request: &Parts) -> Option<SignedIn> {
        self.0.signed_in(request).await
    }
    fn sign_in_url(&self, return_to: &str) -> String {
        self.0.sign_in_url(return_to)
    }
    fn switch_account_url(&self, return_to: &str) -> Option<String> {
        Some(format!("/logout?then={}", return_to.len()))
    }
}

#[tokio::test]
async fn a_host_can_link_not_you_and_translate_every_string() {
    let world = support::world().await;
    let (_, path) = profiled_app(&world).await;
    let strings = Strings {
        lang: "fr".into(),
        consent_title: "Autoriser {app} à agir en votre nom ?".into(),
        consent_switch_account: "Ce n'est pas vous ?".into(),
        allow: "Autoriser".into(),
        ..Strings::default()
    };
    let options = HttpOptions {
        pages: Pages::default().with_strings(strings),
        ..HttpOptions::default()
    };
    let sign_in = SwitchableSignIn(john_in_acme());
    let app = router(world.server.clone(), sign_in, options);
    let body = get(&app, &path, None).await.body;
    for expected in [
        "<html lang=\"fr\">",
        "Autoriser FieldSync à agir en votre nom ?",
        "Ce n&#x27;est pas vous ?",
        "href=\"&#x2f;logout?then=",
        ">Autoriser</button>",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in {body}");
    }
}

#[tokio::test]
async fn a_host_can_replace_a_template_and_a_broken_one_is_refused() {
    let world = support::world().await;
    let (_, path) = profiled_app(&world).await;
    let branded = Pages::default()
        .with_template(
            "layout.html",
            "<!doctype html><html lang=\"{{ t.lang }}\"><body class=\"acme-brand\">{% block body %}{% endblock %}</body></html>",
        )
        .unwrap();
    let options = HttpOptions {
        pages: branded,
        ..HttpOptions::default()
    };
    let app = router(world.server.clone(), john_in_acme(), options);
    let body = get(&app, &path, None).await.body;
    assert!(body.contains("<body class=\"acme-brand\">"), "{body}");
    assert!(body.contains("Allow FieldSync to act as you?"), "{body}");

    let broken = Pages::default().with_template("consent.html", "{% if %}");
    assert!(broken.is_err());
}

#[tokio::test]
async fn the_page_says_the_ceiling_limits_the_app_only_where_it_takes_something_away() {
    let world = support::world().await;
    let (_, path) = profiled_app(&world).await;
    let app = router(world.server.clone(), john_in_acme(), HttpOptions::default());
    let limited = "The app itself is limited to less than some of your permissions";
    // John holds read-only RFIs, which the read-only ceiling leaves whole.
    let page = get(&app, &path, None).await;
    assert!(!page.body.contains(limited), "{}", page.body);
    let more = Permissions::none().with(Scope::Project(world.tower.clone()), "rfis", Level::Admin);
    world
        .server
        .set_membership(&world.acme, &world.john, more)
        .await
        .unwrap();
    let page = get(&app, &path, None).await;
    assert!(page.body.contains(limited), "{}", page.body);
    assert!(
        page.body
            .contains("<td>rfis</td><td>Read only</td><td>Tower</td>"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn an_app_not_installed_in_the_company_is_not_said_to_reach_it() {
    let world = support::world().await;
    let (profiled, path) = profiled_app(&world).await;
    // Jane looks at the page: John's consent below is remembered, which skips his.
    let jane = SignedInAs {
        user: world.jane.clone(),
        ..john_in_acme()
    };
    let app = router(world.server.clone(), jane, HttpOptions::default());
    let not_installed = "FieldSync is not installed in Acme Construction, so it cannot reach Acme Construction&#x27;s data through you";
    // Installed by John's consent, then uninstalled by Jane: allowing again installs nothing.
    let request = appgrant::grant::AuthorizationRequest {
        client_id: Some(profiled.client_id.to_string()),
        ..world.authorization_request()
    };
    world
        .server
        .approve_authorization(&request, &world.john, Some(&world.acme))
        .await
        .unwrap();
    let page = get(&app, &path, None).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(not_installed), "{}", page.body);
    world
        .server
        .uninstall(&world.acme, &profiled.client_id, &world.jane)
        .await
        .unwrap();
    let page = get(&app, &path, None).await;
    assert!(page.body.contains(not_installed), "{}", page.body);
    assert!(!page.body.contains("<td>rfis</td>"), "{}", page.body);

    // A company that lets only admins install apps: nothing until one does.
    let (other, path) = profiled_app(&world).await;
    let mut acme = world
        .server
        .directory()
        .company(&world.acme)
        .await
        .unwrap()
        .unwrap();
    acme.settings.consent_install = ConsentInstall::AdminOnly;
    world.server.save_company(acme).await.unwrap();
    let page = get(&app, &path, None).await;
    assert!(page.body.contains(not_installed), "{}", page.body);
    world
        .server
        .request_installation(&world.acme, &other.client_id, &world.jane)
        .await
        .unwrap();
    let page = get(&app, &path, None).await;
    assert!(page.body.contains(not_installed), "{}", page.body);
}
