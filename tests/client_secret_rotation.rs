//! Rotating a client secret: a new secret shown once, the replaced one still accepted until the
//! overlap ends (and not a moment longer), both compared as digests, the rule decided by the
//! pure client authentication at the `now` it is given.

mod support;

use appgrant::audit::{AuditActor, AuditEvent};
use appgrant::grant::{
    AuthenticationContext, ClientAuthentication, MAX_SECRET_OVERLAP, SecretRotationError,
    TokenError, TokenRequest, authenticate,
};
use appgrant::model::*;
use appgrant::server::ServerError;
use appgrant::token::Secret;
use chrono::TimeDelta;
use std::time::Duration;
use support::World;

const HOUR: Duration = Duration::from_secs(3600);

fn basic(world: &World, secret: &Secret) -> ClientAuthentication {
    ClientAuthentication::Basic {
        client_id: world.app.client_id.clone(),
        secret: secret.clone(),
    }
}

/// Whether the token endpoint accepts `secret` for the app now (a client-credentials grant).
async fn accepted(world: &World, secret: &Secret) -> bool {
    let grant = TokenRequest::ClientCredentials {
        company_id: None,
        scope: None,
        resource: None,
    };
    match world.server.token(grant, &basic(world, secret)).await {
        Ok(_) => true,
        Err(TokenError::InvalidClient(_)) => false,
        Err(other) => panic!("the grant failed for another reason: {other:?}"),
    }
}

async fn installed() -> World {
    let world = support::world().await;
    world.install_service_account(&[&world.tower]).await;
    world
}

#[tokio::test]
async fn a_rotated_secret_and_the_previous_one_both_work_until_the_overlap_ends() {
    let world = installed().await;
    let old = world.secret.clone();
    let new = world
        .server
        .rotate_client_secret(&world.app.client_id, HOUR)
        .await
        .unwrap();
    assert_ne!(new, old);
    assert!(accepted(&world, &new).await, "the new secret is refused");
    assert!(
        accepted(&world, &old).await,
        "the old secret is refused at once"
    );
    world.clock.advance(TimeDelta::minutes(59));
    assert!(accepted(&world, &new).await);
    assert!(
        accepted(&world, &old).await,
        "the old secret is refused before the overlap ends"
    );
    assert!(!accepted(&world, &Secret::new("a guess")).await);
}

#[tokio::test]
async fn the_previous_secret_stops_working_when_the_overlap_ends() {
    let world = installed().await;
    let old = world.secret.clone();
    let new = world
        .server
        .rotate_client_secret(&world.app.client_id, HOUR)
        .await
        .unwrap();
    world
        .clock
        .advance(TimeDelta::hours(1) - TimeDelta::nanoseconds(1));
    assert!(accepted(&world, &old).await, "refused before the end");
    world.clock.advance(TimeDelta::nanoseconds(1));
    assert!(
        !accepted(&world, &old).await,
        "the old secret is still accepted when the overlap ends"
    );
    assert!(accepted(&world, &new).await, "the new secret stopped too");
    world.clock.advance(TimeDelta::days(30));
    assert!(!accepted(&world, &old).await);
    assert!(accepted(&world, &new).await);
}

#[tokio::test]
async fn a_rotation_without_overlap_stops_the_previous_secret_at_once() {
    let world = installed().await;
    let new = world
        .server
        .rotate_client_secret(&world.app.client_id, Duration::ZERO)
        .await
        .unwrap();
    assert!(!accepted(&world, &world.secret).await);
    assert!(accepted(&world, &new).await);
    let app = world.server.app(&world.app.client_id).await.unwrap();
    assert_eq!(app.previous_secret, None);
}

#[tokio::test]
async fn rotating_again_during_an_overlap_stops_the_oldest_secret() {
    let world = installed().await;
    let first = world.secret.clone();
    let second = world
        .server
        .rotate_client_secret(&world.app.client_id, HOUR)
        .await
        .unwrap();
    world.clock.advance(TimeDelta::minutes(10));
    let third = world
        .server
        .rotate_client_secret(&world.app.client_id, HOUR)
        .await
        .unwrap();
    assert!(
        !accepted(&world, &first).await,
        "a secret replaced two rotations ago still works"
    );
    assert!(accepted(&world, &second).await);
    assert!(accepted(&world, &third).await);
    world.clock.advance(TimeDelta::hours(1));
    assert!(!accepted(&world, &second).await);
    assert!(accepted(&world, &third).await);
}

#[tokio::test]
async fn the_new_secret_is_kept_only_as_a_digest_and_the_old_one_with_its_end() {
    let world = support::world().await;
    let new = world
        .server
        .rotate_client_secret(&world.app.client_id, HOUR)
        .await
        .unwrap();
    let app = world.server.app(&world.app.client_id).await.unwrap();
    assert_eq!(app.secret_digest, Some(new.digest()));
    let previous = app.previous_secret.unwrap();
    assert_eq!(previous.digest, world.secret.digest());
    assert_eq!(
        previous.valid_until,
        world.server.now() + TimeDelta::hours(1)
    );
    let stored = serde_json::to_string(&app).unwrap();
    assert!(!stored.contains(new.expose()));
    assert!(!stored.contains(world.secret.expose()));
}

#[tokio::test]
async fn a_public_client_has_no_secret_to_rotate() {
    let world = support::world().await;
    let public = appgrant::grant::AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        client_type: ClientType::Public,
        flows: AppFlows::UserDelegated,
        manifest: None,
        ..support::both_flows_app()
    };
    let public = world.server.register_app(public).await.unwrap().app;
    let refused = world
        .server
        .rotate_client_secret(&public.client_id, HOUR)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ServerError::SecretRotation(SecretRotationError::PublicClient)
        ),
        "{refused:?}"
    );
    let stored = world.server.app(&public.client_id).await.unwrap();
    assert_eq!(stored, public);
}

#[tokio::test]
async fn an_overlap_longer_than_the_maximum_is_refused_and_changes_nothing() {
    let world = installed().await;
    let longest = MAX_SECRET_OVERLAP.to_std().unwrap();
    for too_long in [longest + Duration::from_secs(1), Duration::MAX] {
        let refused = world
            .server
            .rotate_client_secret(&world.app.client_id, too_long)
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                ServerError::SecretRotation(SecretRotationError::OverlapTooLong)
            ),
            "{refused:?}"
        );
    }
    assert_eq!(
        world.server.app(&world.app.client_id).await.unwrap(),
        world.app
    );
    assert!(accepted(&world, &world.secret).await);
    // The maximum itself is allowed.
    let new = world
        .server
        .rotate_client_secret(&world.app.client_id, longest)
        .await
        .unwrap();
    world
        .clock
        .advance(MAX_SECRET_OVERLAP - TimeDelta::seconds(1));
    assert!(accepted(&world, &world.secret).await);
    assert!(accepted(&world, &new).await);
}

#[tokio::test]
async fn rotating_an_unknown_app_is_refused() {
    let world = support::world().await;
    let refused = world
        .server
        .rotate_client_secret(&ClientId::new("nobody"), HOUR)
        .await
        .unwrap_err();
    assert!(matches!(refused, ServerError::UnknownApp(_)), "{refused:?}");
}

#[tokio::test]
async fn a_rotation_is_audited_with_when_the_old_secret_stops() {
    let world = support::world().await;
    world
        .server
        .rotate_client_secret(&world.app.client_id, HOUR)
        .await
        .unwrap();
    let events: Vec<AuditEvent> = world.audit.events();
    let rotated = events.last().unwrap();
    assert_eq!(rotated.actor, AuditActor::Developer);
    assert_eq!(rotated.app, world.app.client_id);
    let json = serde_json::to_value(rotated).unwrap();
    assert_eq!(json["action"]["action"], "client_secret_rotated");
    let until = world.server.now() + TimeDelta::hours(1);
    assert_eq!(
        json["action"]["previous_valid_until"],
        serde_json::to_value(until).unwrap()
    );
}

/// The rule itself, in the pure function: the old secret only strictly before its end, and
/// only for the app it belonged to.
#[test]
fn client_authentication_takes_the_previous_secret_only_before_its_end() {
    let (old, new) = (Secret::new("old secret"), Secret::new("new secret"));
    let start = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let (app, _) = support::both_flows_app()
        .register(&mut rand::thread_rng())
        .unwrap();
    let app = App {
        secret_digest: Some(new.digest()),
        previous_secret: Some(PreviousSecret {
            digest: old.digest(),
            valid_until: start,
        }),
        ..app
    };
    let with = |secret: &Secret| ClientAuthentication::Post {
        client_id: app.client_id.clone(),
        secret: secret.clone(),
    };
    let before = start - TimeDelta::nanoseconds(1);
    assert!(authenticate(Some(&app), &with(&old), &AuthenticationContext::at(before)).is_ok());
    assert!(authenticate(Some(&app), &with(&old), &AuthenticationContext::at(start)).is_err());
    assert!(authenticate(Some(&app), &with(&new), &AuthenticationContext::at(start)).is_ok());
    assert!(authenticate(Some(&app), &with(&new), &AuthenticationContext::at(before)).is_ok());
    let long_after = start + TimeDelta::days(365);
    assert!(
        authenticate(
            Some(&app),
            &with(&new),
            &AuthenticationContext::at(long_after)
        )
        .is_ok()
    );
    assert!(
        authenticate(
            Some(&app),
            &with(&Secret::new("x")),
            &AuthenticationContext::at(before)
        )
        .is_err()
    );
}
