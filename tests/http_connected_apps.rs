//! A person's connected apps (`appgrant::http::account_router`): the apps they authorized,
//! and disconnecting one, which stops every token they gave it and forgets the consent.

mod in_process;
mod support;

use appgrant::DenyReason;
use appgrant::grant::TokenRequest;
use appgrant::http::{HttpOptions, account_router};
use appgrant::model::*;
use in_process::{SignedInAs, get, hidden_inputs, post_form};

fn as_john(world: &support::World, session: &str) -> axum::Router {
    let sign_in = SignedInAs {
        user: world.john.clone(),
        company: world.acme.clone(),
        session: session.into(),
    };
    account_router(world.server.clone(), sign_in, HttpOptions::default())
}

#[tokio::test]
async fn disconnecting_an_app_stops_every_token_given_to_it_and_forgets_the_consent() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.john).await;
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(world.allowed(&tokens, &read).await);
    let john = as_john(&world, "john-1");
    let page = get(&john, "/account/apps", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<strong>FieldSync</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Connected on 2026-11-22"),
        "{}",
        page.body
    );

    let action = format!("/account/apps/{}/disconnect", world.app.client_id);
    let fields = hidden_inputs(&page.body);
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let answer = post_form(&john, &action, &form, None).await;
    assert_eq!(answer.status, 303, "{}", answer.body);

    let decision = world
        .server
        .decide(tokens.access_token.expose(), &read)
        .await
        .unwrap();
    assert_eq!(decision.deny_reason(), Some(&DenyReason::Revoked));
    let refresh = TokenRequest::RefreshToken {
        refresh_token: tokens.refresh_token.clone().unwrap(),
        scope: None,
        resource: None,
    };
    assert!(world.server.token(refresh, &world.client()).await.is_err());
    assert!(
        !world
            .server
            .has_consent(&world.john, &world.app.client_id)
            .await
            .unwrap()
    );
    let after = get(&john, answer.location(), None).await;
    assert!(
        after.body.contains("FieldSync was disconnected"),
        "{}",
        after.body
    );
    assert!(
        after.body.contains("You have not connected any app."),
        "{}",
        after.body
    );
}

#[tokio::test]
async fn a_disconnect_form_from_another_session_or_without_a_token_changes_nothing() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.john).await;
    let page = get(&as_john(&world, "john-1"), "/account/apps", None).await;
    let fields = hidden_inputs(&page.body);
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let action = format!("/account/apps/{}/disconnect", world.app.client_id);
    let replayed = post_form(&as_john(&world, "john-2"), &action, &form, None).await;
    assert_eq!(replayed.status, 403);
    let bare = post_form(&as_john(&world, "john-1"), &action, &[], None).await;
    assert_eq!(bare.status, 403);
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(world.allowed(&tokens, &read).await);
    assert!(
        world
            .server
            .has_consent(&world.john, &world.app.client_id)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn another_persons_connections_are_untouched() {
    let world = support::world().await;
    let jane_tokens = world.tokens_for(&world.jane).await;
    world.tokens_for(&world.john).await;
    world
        .server
        .disconnect_app(&world.john, &world.app.client_id)
        .await
        .unwrap();
    let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    assert!(world.allowed(&jane_tokens, &read).await);
    let jane = world.server.connected_apps(&world.jane).await.unwrap();
    assert_eq!(jane.len(), 1);
}

#[tokio::test]
async fn a_link_cannot_make_the_page_announce_an_app_was_disconnected() {
    let world = support::world().await;
    world.tokens_for(&world.john).await;
    let john = as_john(&world, "john-1");
    let forged = format!("/account/apps?disconnected={}", world.app.client_id);
    let page = get(&john, &forged, None).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("was disconnected"), "{}", page.body);

    // The notice from John's own disconnect is for John's session only.
    let fields = hidden_inputs(&page.body);
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let action = format!("/account/apps/{}/disconnect", world.app.client_id);
    let answer = post_form(&john, &action, &form, None).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let other_session = as_john(&world, "john-2");
    let page = get(&other_session, answer.location(), None).await;
    assert!(!page.body.contains("was disconnected"), "{}", page.body);
    let page = get(&john, answer.location(), None).await;
    assert!(
        page.body.contains("FieldSync was disconnected"),
        "{}",
        page.body
    );
}
