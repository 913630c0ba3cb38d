//! Disconnecting an app cuts off everything the person gave it: tokens already issued, a code
//! issued before and exchanged after, and grants whose refresh expired while an access token
//! they issued still lives.

mod failing_store;
mod store_suite;
mod support;

use appgrant::audit::{AuditAction, RevocationReason};
use appgrant::grant::TokenError;
use appgrant::model::*;
use appgrant::{Config, DenyReason};
use chrono::TimeDelta;
use failing_store::FailingStore;

fn tower_read() -> Requirement {
    Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower")
}

#[tokio::test]
async fn a_code_issued_before_a_disconnect_gives_no_tokens_when_exchanged_after() {
    let world = support::world().await;
    let code = world.code_for(&world.john).await;
    world
        .server
        .disconnect_app(&world.john, &world.app.client_id)
        .await
        .unwrap();
    let exchanged = world
        .server
        .token(world.exchange_request(code), &world.client())
        .await;
    assert!(
        matches!(exchanged, Err(TokenError::InvalidGrant(_))),
        "{exchanged:?}"
    );
    let revoked = world.audit.events().into_iter().any(|event| {
        matches!(
            event.action,
            AuditAction::GrantRevoked {
                reason: RevocationReason::UserDisconnected,
                ..
            }
        )
    });
    assert!(revoked, "the code's grant was not revoked");
}

#[tokio::test]
async fn a_code_exchanged_after_the_person_authorized_again_works() {
    let world = support::world().await;
    world
        .server
        .disconnect_app(&world.john, &world.app.client_id)
        .await
        .unwrap();
    let tokens = world.tokens_for(&world.john).await;
    assert!(world.allowed(&tokens, &tower_read()).await);
}

#[tokio::test]
async fn a_disconnect_finds_a_grant_whose_refresh_expired_while_its_access_token_lives() {
    let mut config = Config::new(support::ISSUER);
    config.access_token_ttl = TimeDelta::minutes(30);
    config.refresh_ttl = Some(TimeDelta::minutes(60));
    let world = support::world_with(config).await;
    let first = world.tokens_for(&world.john).await;
    // Refreshed just before the family expires: a fresh access token lives 30 minutes past it.
    world.clock.advance(TimeDelta::minutes(59));
    let refreshed = world
        .server
        .token(
            appgrant::grant::TokenRequest::RefreshToken {
                refresh_token: first.refresh_token.clone().unwrap(),
                scope: None,
                resource: None,
            },
            &world.client(),
        )
        .await
        .unwrap();
    world.clock.advance(TimeDelta::minutes(5));
    world.server.purge().await.unwrap();
    assert!(world.allowed(&refreshed, &tower_read()).await);
    world
        .server
        .disconnect_app(&world.john, &world.app.client_id)
        .await
        .unwrap();
    let decision = world
        .server
        .decide(refreshed.access_token.expose(), &tower_read())
        .await
        .unwrap();
    assert_eq!(decision.deny_reason(), Some(&DenyReason::Revoked));
}

#[tokio::test]
async fn a_disconnect_while_a_code_is_being_exchanged_leaves_no_token_that_works() {
    let store = FailingStore::default();
    let world = store_suite::world(store.clone()).await;
    let code = world.code_for(&world.john).await;
    let paused = store.pause_after_saving_a_family();
    // The exchange saves its grant, then stops before it reads anything else.
    let exchange = {
        let server = world.server.clone();
        let request = world.exchange_request(&code);
        let client = world.client();
        tokio::spawn(async move { server.token(request, &client).await })
    };
    paused.saved.await.unwrap();
    world
        .server
        .disconnect_app(&world.john, &world.app.client_id)
        .await
        .unwrap();
    paused.go_on.send(()).unwrap();
    let exchanged = exchange.await.unwrap();
    assert!(
        matches!(exchanged, Err(TokenError::InvalidGrant(_))),
        "the exchange gave tokens after the disconnect: {exchanged:?}"
    );
    let families =
        appgrant::store::RefreshStore::families_of(&store, &world.john, &world.app.client_id)
            .await
            .unwrap();
    assert_eq!(families.len(), 1);
    assert!(
        appgrant::store::RevocationStore::is_revoked(&store, &families[0].grant)
            .await
            .unwrap(),
        "the grant the exchange saved is not revoked"
    );
}

#[tokio::test]
async fn a_disconnect_whose_revocation_failed_leaves_the_app_listed_to_disconnect_again() {
    let store = FailingStore::default();
    let world = store_suite::world(store.clone()).await;
    let tokens = world.tokens_for(&world.john).await;
    store.fail_revocations(1);
    let failed = world
        .server
        .disconnect_app(&world.john, &world.app.client_id)
        .await;
    assert!(failed.is_err(), "{failed:?}");
    let listed = world.server.connected_apps(&world.john).await.unwrap();
    assert_eq!(
        listed.len(),
        1,
        "the app is no longer listed to disconnect again"
    );
    assert!(world.allowed(&tokens, &store_suite::read_tower()).await);
    world
        .server
        .disconnect_app(&world.john, &world.app.client_id)
        .await
        .unwrap();
    assert!(!world.allowed(&tokens, &store_suite::read_tower()).await);
    assert!(
        world
            .server
            .connected_apps(&world.john)
            .await
            .unwrap()
            .is_empty()
    );
}
