//! Disconnecting an app cuts off everything the person gave it: tokens already issued, a code
//! issued before and exchanged after, and grants whose refresh expired while an access token
//! they issued still lives.

mod support;

use appgrant::audit::{AuditAction, RevocationReason};
use appgrant::grant::TokenError;
use appgrant::model::*;
use appgrant::{Config, DenyReason};
use chrono::TimeDelta;

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
