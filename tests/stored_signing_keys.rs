//! Signing keys live in the store, sealed under the deployment secret: every instance with the
//! same store and secret signs with the same key, publishes the next one before it signs, and
//! uses a rotation made through any instance within the reload interval. Run on memory,
//! SQLite and PostgreSQL.

mod store_suite;

use appgrant::server::{ManualClock, ServerError};
use appgrant::store::{DirectoryStore, KeyStore, Store};
use appgrant::token::{DeploymentSecret, KeyError, KeyPolicy, validate};
use appgrant::{AuthorizationServer, Config};
use chrono::TimeDelta;
use std::sync::Arc;
use store_suite::{Handles, World, seed};

fn policy() -> KeyPolicy {
    KeyPolicy {
        publish_ahead: TimeDelta::minutes(10),
        reload_every: TimeDelta::minutes(1),
        rotate_every: None,
        ..KeyPolicy::default()
    }
}

async fn instance<S: Store + DirectoryStore + Clone>(
    store: S,
    secret: &DeploymentSecret,
    clock: &Arc<ManualClock>,
    policy: KeyPolicy,
) -> Result<AuthorizationServer<S>, ServerError> {
    AuthorizationServer::builder(store, Config::new(store_suite::ISSUER))
        .deployment_secret(secret)
        .clock(clock.clone())
        .build_with_stored_keys(policy)
        .await
}

/// Two instances of one deployment on `handles`' data, the world seeded through the first.
async fn two_instances<H: Handles>(
    handles: &H,
    policy: KeyPolicy,
) -> (World<H::Store>, AuthorizationServer<H::Store>) {
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let clock = store_suite::new_clock();
    let a = instance(handles.open().await, &secret, &clock, policy)
        .await
        .unwrap();
    let b = instance(handles.open().await, &secret, &clock, policy)
        .await
        .unwrap();
    (seed(a, clock).await, b)
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published<S: Store + DirectoryStore + Clone>(
    server: &AuthorizationServer<S>,
) -> Vec<String> {
    server
        .current_jwks()
        .await
        .keys
        .into_iter()
        .map(|jwk| jwk.kid)
        .collect()
}

async fn accepts<S: Store + DirectoryStore + Clone>(
    server: &AuthorizationServer<S>,
    token: &str,
) -> bool {
    server.refresh_keys().await.unwrap();
    validate(
        token,
        &server.keys(),
        &server.config().expectations(),
        server.now(),
    )
    .is_ok()
}

pub async fn instances_of_one_deployment_sign_with_the_same_stored_key<H: Handles>(handles: &H) {
    let (world, b) = two_instances(handles, policy()).await;
    assert_eq!(
        world.server.keys().signing_key().kid(),
        b.keys().signing_key().kid()
    );
    let tokens = world.tokens_for(&world.jane).await;
    assert!(accepts(&b, tokens.access_token.expose()).await);
    assert_eq!(published(&world.server).await, published(&b).await);
    // Keys in the store need the secret that seals them.
    let secret_less =
        AuthorizationServer::builder(handles.open().await, Config::new(store_suite::ISSUER))
            .clock(world.clock.clone())
            .build_with_stored_keys(policy())
            .await;
    assert!(matches!(secret_less, Err(ServerError::KeyConfiguration(_))));
}

pub async fn a_rotation_through_one_instance_is_published_by_all_before_it_signs<H: Handles>(
    handles: &H,
) {
    let (world, b) = two_instances(handles, policy()).await;
    let a = &world.server;
    let first = a.keys().signing_key().kid().to_owned();
    let before = world.tokens_for(&world.jane).await;

    let next = a.rotate_stored_key().await.unwrap();
    assert_ne!(next, first);
    // A publishes it at once and keeps signing with the old key.
    assert!(published(a).await.contains(&next));
    assert_eq!(a.keys().signing_key().kid(), first);
    // Within reload_every, B publishes it too, and nobody has signed with it yet.
    world.clock.advance(TimeDelta::minutes(1));
    assert!(published(&b).await.contains(&next));
    let still_old = world.tokens_for(&world.jane).await;
    assert_eq!(kid_of(still_old.access_token.expose()), first);
    // From its time on, both sign with it (each within reload_every), and both accept both.
    world.clock.advance(TimeDelta::minutes(9));
    let signed_by_a = world.tokens_for(&world.jane).await;
    assert_eq!(kid_of(signed_by_a.access_token.expose()), next);
    assert!(accepts(&b, signed_by_a.access_token.expose()).await);
    assert_eq!(b.keys().signing_key().kid(), next);
    for token in [&before, &still_old] {
        assert!(accepts(&b, token.access_token.expose()).await);
        assert!(accepts(a, token.access_token.expose()).await);
    }
    // The old key verifies until the last token it can have signed has expired (an instance
    // may sign with it until its next reload, and clocks differ by up to five minutes), then
    // leaves the JWKS.
    let retired_after = TimeDelta::seconds(5400) + TimeDelta::minutes(1 + 5);
    world.clock.advance(retired_after - TimeDelta::seconds(1));
    assert!(published(&b).await.contains(&first));
    world.clock.advance(TimeDelta::minutes(1));
    assert!(!published(&b).await.contains(&first));
    // Purge keeps the newest three keys whatever its clock says, and the others a day past
    // their retirement.
    assert_eq!(world.server.purge().await.unwrap().keys, 0);
    let mut kids = vec![first.clone(), next.clone()];
    for _ in 0..2 {
        kids.push(world.server.rotate_stored_key().await.unwrap());
        world.clock.advance(TimeDelta::minutes(11));
    }
    world.clock.advance(retired_after + TimeDelta::days(1));
    assert_eq!(world.server.purge().await.unwrap().keys, 1);
    let mut stored: Vec<String> = handles
        .open()
        .await
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| key.kid)
        .collect();
    stored.sort();
    kids.remove(0);
    kids.sort();
    assert_eq!(stored, kids);
}

pub async fn keys_rotate_on_schedule_and_the_next_is_published_ahead<H: Handles>(handles: &H) {
    let schedule = KeyPolicy {
        rotate_every: Some(TimeDelta::days(30)),
        ..policy()
    };
    let (world, b) = two_instances(handles, schedule).await;
    let first = b.keys().signing_key().kid().to_owned();
    // Ten minutes before the thirtieth day the next key is stored and published...
    world
        .clock
        .advance(TimeDelta::days(30) - TimeDelta::minutes(10));
    let kids = published(&b).await;
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert_eq!(b.keys().signing_key().kid(), first);
    assert_eq!(published(&world.server).await.len(), 2);
    // ...and signs from the thirtieth day.
    world.clock.advance(TimeDelta::minutes(10));
    b.refresh_keys().await.unwrap();
    assert_ne!(b.keys().signing_key().kid(), first);
    let tokens = world.tokens_for(&world.jane).await;
    assert_eq!(
        kid_of(tokens.access_token.expose()),
        b.keys().signing_key().kid()
    );
}

pub async fn instances_starting_together_on_an_empty_store_agree_on_one_key<H: Handles>(
    handles: &H,
) {
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let clock = store_suite::new_clock();
    let (a, b) = (handles.open().await, handles.open().await);
    let (a, b) = tokio::join!(
        instance(a, &secret, &clock, policy()),
        instance(b, &secret, &clock, policy())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.keys().signing_key().kid(), b.keys().signing_key().kid());
    assert_eq!(handles.open().await.signing_keys().await.unwrap().len(), 1);
}

pub async fn another_deployment_secret_cannot_open_the_stored_keys<H: Handles>(handles: &H) {
    let clock = store_suite::new_clock();
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    instance(handles.open().await, &secret, &clock, policy())
        .await
        .unwrap();
    let other = DeploymentSecret::generate(&mut rand::thread_rng());
    let refused = instance(handles.open().await, &other, &clock, policy()).await;
    assert!(
        matches!(refused, Err(ServerError::Key(KeyError::Unsealable))),
        "{refused:?}"
    );
}

pub async fn signing_keys_are_never_raw_at_rest<H: Handles>(handles: &H) {
    use base64::Engine;
    let (world, _) = two_instances(handles, policy()).await;
    world.server.rotate_stored_key().await.unwrap();
    let current = world.server.keys();
    let pem = current.signing_key().to_pkcs8_pem().unwrap();
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&body)
        .unwrap();
    // The Ed25519 seed: in PKCS#8 it is an OCTET STRING (04 20) inside the privateKey OCTET
    // STRING (04 22).
    let at = der
        .windows(4)
        .position(|window| window == [0x04, 0x22, 0x04, 0x20])
        .expect("an Ed25519 PKCS#8 key")
        + 4;
    let seed = &der[at..at + 32];
    for stored in handles.open().await.signing_keys().await.unwrap() {
        let sealed = &stored.sealed;
        assert!(
            !sealed.windows(seed.len()).any(|window| window == seed),
            "the private key is stored raw"
        );
        let as_text = base64::engine::general_purpose::STANDARD.encode(sealed);
        assert!(!as_text.contains(&body[body.len() - 20..]));
        assert!(!format!("{stored:?}").contains(&as_text[..16]));
    }
}

pub async fn a_policy_that_could_meet_an_unloaded_key_is_refused<H: Handles>(handles: &H) {
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let clock = store_suite::new_clock();
    let hasty = KeyPolicy {
        publish_ahead: TimeDelta::seconds(30),
        reload_every: TimeDelta::minutes(1),
        ..policy()
    };
    let refused = instance(handles.open().await, &secret, &clock, hasty).await;
    assert!(matches!(refused, Err(ServerError::KeyConfiguration(_))));
}

pub async fn a_token_signed_by_the_replaced_key_until_the_next_reload_verifies_until_it_expires<
    H: Handles,
>(
    handles: &H,
) {
    // An instance switches keys when it rereads them, up to reload_every after the next key's
    // time: what it signed meanwhile must verify, and be kept by purge, for its whole life.
    let (world, b) = two_instances(handles, policy()).await;
    let old = world.server.keys().signing_key().kid().to_owned();
    world.server.rotate_stored_key().await.unwrap();
    world.clock.advance(TimeDelta::seconds(9 * 60 + 30));
    world.tokens_for(&world.jane).await;
    world.clock.advance(TimeDelta::seconds(50));
    let late = world.tokens_for(&world.jane).await;
    assert_eq!(kid_of(late.access_token.expose()), old);
    world.clock.advance(TimeDelta::seconds(5400 - 10));
    assert_eq!(world.server.purge().await.unwrap().keys, 0);
    assert!(accepts(&b, late.access_token.expose()).await);
    assert!(accepts(&world.server, late.access_token.expose()).await);
}

pub async fn an_instance_with_the_wrong_secret_writes_nothing_and_cannot_stop_the_others<
    H: Handles,
>(
    handles: &H,
) {
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let clock = store_suite::new_clock();
    let scheduled = KeyPolicy {
        rotate_every: Some(TimeDelta::days(30)),
        ..policy()
    };
    let healthy = instance(handles.open().await, &secret, &clock, scheduled)
        .await
        .unwrap();
    // A rotation is due when a misconfigured instance starts.
    clock.advance(TimeDelta::days(30) - TimeDelta::minutes(5));
    let wrong = DeploymentSecret::generate(&mut rand::thread_rng());
    let refused = instance(handles.open().await, &wrong, &clock, scheduled).await;
    assert!(matches!(
        refused,
        Err(ServerError::Key(KeyError::Unsealable))
    ));
    assert_eq!(handles.open().await.signing_keys().await.unwrap().len(), 1);
    // The healthy instance rotates on, and a new healthy instance starts.
    clock.advance(TimeDelta::minutes(2));
    healthy.refresh_keys().await.unwrap();
    assert_eq!(published(&healthy).await.len(), 2);
    assert!(
        instance(handles.open().await, &secret, &clock, scheduled)
            .await
            .is_ok()
    );
}

pub async fn a_key_that_cannot_be_opened_is_skipped_not_fatal<H: Handles>(handles: &H) {
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let clock = store_suite::new_clock();
    let healthy = instance(handles.open().await, &secret, &clock, policy())
        .await
        .unwrap();
    // Someone stores a key sealed under another secret, as the newest generation.
    let stranger = DeploymentSecret::generate(&mut rand::thread_rng()).key_encryption_key();
    let now = store_suite::start();
    let (foreign, _) = stranger
        .new_key(
            appgrant::token::Algorithm::EdDSA,
            2,
            now,
            now,
            &mut rand::rngs::OsRng,
        )
        .unwrap();
    handles.open().await.add_signing_key(foreign).await.unwrap();
    clock.advance(TimeDelta::minutes(1));
    healthy.refresh_keys().await.unwrap();
    let kid = healthy.keys().signing_key().kid().to_owned();
    assert!(
        instance(handles.open().await, &secret, &clock, policy())
            .await
            .is_ok_and(|server| server.keys().signing_key().kid() == kid)
    );
}

pub async fn a_purge_on_an_instance_whose_clock_runs_ahead_keeps_keys_still_in_use<H: Handles>(
    handles: &H,
) {
    let secret = DeploymentSecret::generate(&mut rand::thread_rng());
    let clock = store_suite::new_clock();
    let a = instance(handles.open().await, &secret, &clock, policy())
        .await
        .unwrap();
    let world = seed(a, clock.clone()).await;
    let tokens = world.tokens_for(&world.jane).await;
    world.server.rotate_stored_key().await.unwrap();
    // An instance whose clock runs two days ahead purges: what the others sign with, and
    // what they signed, stays.
    let ahead = Arc::new(ManualClock::new(store_suite::start() + TimeDelta::days(2)));
    let skewed = instance(handles.open().await, &secret, &ahead, policy())
        .await
        .unwrap();
    assert_eq!(skewed.purge().await.unwrap().keys, 0);
    world.clock.advance(TimeDelta::minutes(2));
    assert!(world.allowed(&tokens, &store_suite::read_tower()).await);
}

macro_rules! stored_key_tests {
    ($( $name:ident; )*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(handles) = fixture().await else { return };
                super::$name(&handles).await;
            }
        )*
    };
}

macro_rules! every_stored_key_test {
    () => {
        stored_key_tests! {
            instances_of_one_deployment_sign_with_the_same_stored_key;
            a_rotation_through_one_instance_is_published_by_all_before_it_signs;
            keys_rotate_on_schedule_and_the_next_is_published_ahead;
            instances_starting_together_on_an_empty_store_agree_on_one_key;
            another_deployment_secret_cannot_open_the_stored_keys;
            signing_keys_are_never_raw_at_rest;
            a_policy_that_could_meet_an_unloaded_key_is_refused;
            a_token_signed_by_the_replaced_key_until_the_next_reload_verifies_until_it_expires;
            an_instance_with_the_wrong_secret_writes_nothing_and_cannot_stop_the_others;
            a_key_that_cannot_be_opened_is_skipped_not_fatal;
            a_purge_on_an_instance_whose_clock_runs_ahead_keeps_keys_still_in_use;
        }
    };
}

mod memory {
    use appgrant::MemoryStore;

    async fn fixture() -> Option<MemoryStore> {
        Some(MemoryStore::new())
    }

    every_stored_key_test!();
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::store_suite::fixtures::{Database, sqlite_file};

    async fn fixture() -> Option<Database> {
        Some(sqlite_file())
    }

    every_stored_key_test!();
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::store_suite::fixtures::{Database, postgres_database};

    async fn fixture() -> Option<Database> {
        postgres_database().await
    }

    every_stored_key_test!();
}

mod sealing {
    use appgrant::token::{Algorithm, KeyEncryptionKey, StoredKey};
    use chrono::{TimeZone, Utc};

    fn sealed(kek: &KeyEncryptionKey, generation: u64) -> StoredKey {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        kek.new_key(
            Algorithm::EdDSA,
            generation,
            now,
            now,
            &mut rand::thread_rng(),
        )
        .unwrap()
        .0
    }

    #[test]
    fn a_sealed_key_opens_only_with_the_id_generation_and_algorithm_it_was_sealed_with() {
        let kek = KeyEncryptionKey::from_bytes([3; 32]);
        let stored = sealed(&kek, 7);
        assert!(kek.open(&stored).is_ok());
        let moved = StoredKey {
            generation: 8,
            ..stored.clone()
        };
        assert!(
            kek.open(&moved).is_err(),
            "a key moved to another generation"
        );
        let renamed = StoredKey {
            kid: format!("{}x", stored.kid),
            ..stored.clone()
        };
        assert!(kek.open(&renamed).is_err(), "a key given another id");
        let relabelled = StoredKey {
            algorithm: Algorithm::ES256,
            ..stored.clone()
        };
        assert!(kek.open(&relabelled).is_err(), "a key relabelled");
        // Too short to hold a nonce, or exactly a nonce with nothing sealed after it.
        for length in [0, 23, 24] {
            let truncated = StoredKey {
                sealed: stored.sealed[..length].to_vec(),
                ..stored.clone()
            };
            assert!(kek.open(&truncated).is_err(), "{length} bytes");
        }
    }

    #[test]
    fn two_deployments_never_give_a_key_generation_the_same_id() {
        let (one, other) = (
            KeyEncryptionKey::from_bytes([3; 32]),
            KeyEncryptionKey::from_bytes([4; 32]),
        );
        let (mine, theirs) = (sealed(&one, 1), sealed(&other, 1));
        assert_ne!(mine.kid, theirs.kid);
        assert!(
            mine.kid.ends_with("-1") && mine.kid.len() > "-1".len() + 4,
            "{}",
            mine.kid
        );
        assert_eq!(
            sealed(&one, 1).kid,
            mine.kid,
            "a deployment's ids are stable"
        );
    }

    #[test]
    fn a_stored_key_and_the_key_encryption_key_debug_without_key_material() {
        let kek = KeyEncryptionKey::from_bytes([3; 32]);
        let stored = sealed(&kek, 2);
        let shown = format!("{stored:?}");
        assert!(
            shown.contains(&stored.kid) && !shown.contains("sealed"),
            "{shown}"
        );
        assert_eq!(format!("{kek:?}"), "KeyEncryptionKey(<redacted>)");
    }
}

mod schedule_edges {
    use appgrant::token::key_schedule::{expired_keys, key_set, next_key_due};
    use appgrant::token::{Algorithm, KeyEncryptionKey, KeyPolicy, SigningKey, StoredKey};
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
    }

    /// Generation `generation`, signing from `signs_from`.
    fn key(generation: u64, signs_from: DateTime<Utc>) -> (StoredKey, SigningKey) {
        KeyEncryptionKey::from_bytes([3; 32])
            .new_key(
                Algorithm::EdDSA,
                generation,
                t0(),
                signs_from,
                &mut rand::thread_rng(),
            )
            .unwrap()
    }

    #[test]
    fn a_replaced_key_verifies_until_the_instant_its_retirement_ends_and_not_at_it() {
        let retire_after = TimeDelta::hours(2);
        let old = key(1, t0());
        let new = key(2, t0() + TimeDelta::hours(1));
        let (old_kid, ends) = (old.0.kid.clone(), t0() + TimeDelta::hours(3));
        let kek = KeyEncryptionKey::from_bytes([3; 32]);
        let both = || {
            [&old.0, &new.0]
                .into_iter()
                .map(|stored| (stored.clone(), kek.open(stored).unwrap()))
                .collect::<Vec<_>>()
        };
        let at = |now| key_set(both(), now, retire_after).unwrap();
        let just_before = at(ends - TimeDelta::nanoseconds(1));
        assert!(
            just_before
                .verifier(&old_kid, ends - TimeDelta::nanoseconds(1))
                .is_some()
        );
        assert!(
            at(ends).find(&old_kid).is_none(),
            "dropped at the instant itself"
        );
    }

    #[test]
    fn the_next_key_is_due_only_once_the_newest_signs_and_is_stored_publish_ahead_of_its_turn() {
        let policy = KeyPolicy::default();
        let rotate = policy.rotate_every.unwrap();
        let newest = key(1, t0());
        // Upcoming (not signing yet) until its instant: nothing is due before.
        assert_eq!(
            next_key_due(
                std::slice::from_ref(&newest.0),
                t0() - TimeDelta::seconds(1),
                &policy
            ),
            None
        );
        // At its instant it signs, and its successor is not due for a while.
        assert_eq!(
            next_key_due(std::slice::from_ref(&newest.0), t0(), &policy),
            None
        );
        let due = t0() + rotate;
        let store_at = due - policy.publish_ahead;
        assert_eq!(
            next_key_due(
                std::slice::from_ref(&newest.0),
                store_at - TimeDelta::seconds(1),
                &policy
            ),
            None
        );
        assert_eq!(
            next_key_due(std::slice::from_ref(&newest.0), store_at, &policy),
            Some(due)
        );
    }

    #[test]
    fn with_rotation_faster_than_publishing_the_successor_is_due_the_instant_the_newest_signs() {
        let policy = KeyPolicy {
            rotate_every: Some(TimeDelta::minutes(5)),
            publish_ahead: TimeDelta::minutes(10),
            ..KeyPolicy::default()
        };
        let newest = key(1, t0());
        let stored = std::slice::from_ref(&newest.0);
        assert_eq!(
            next_key_due(stored, t0() - TimeDelta::seconds(1), &policy),
            None
        );
        // Its turn would come before it could be published ahead: it signs publish_ahead
        // from now.
        assert_eq!(
            next_key_due(stored, t0(), &policy),
            Some(t0() + TimeDelta::minutes(10))
        );
    }

    #[test]
    fn a_key_expires_only_once_its_successor_has_signed_for_longer_than_retire_after() {
        let retire_after = TimeDelta::hours(2);
        let keys: Vec<StoredKey> = (1..=5)
            .map(|generation| key(generation, t0() + TimeDelta::hours(generation as i64)).0)
            .collect();
        // Generation 2 began signing at t0 + 2h: generation 1 expires at t0 + 4h.
        let at = |now| expired_keys(&keys, now, retire_after);
        assert!(at(t0() + TimeDelta::hours(4) - TimeDelta::seconds(1)).is_empty());
        assert_eq!(at(t0() + TimeDelta::hours(4)), vec![keys[0].kid.clone()]);
    }
}
