//! Concurrent changes of one app never overwrite each other: a settings change, a secret
//! rotation and a manifest publish each save over the revision they read, and are made again
//! over what another instance saved meanwhile; none of them brings a deleted app back.
//!
//! Each race is staged deterministically: the racing server's store lets another instance
//! (a second server on the same data) make its change right after the racing call read the app,
//! and before that call writes.

#[macro_use]
mod store_forwarding;

use appgrant::grant::{AppRegistration, AuthenticationContext, ClientAuthentication, authenticate};
use appgrant::model::*;
use appgrant::server::{Clock, ManualClock, ServerError};
use appgrant::store::{AppStore, StoreResult};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config, MemoryStore};
use chrono::{TimeZone, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ISSUER: &str = "https://auth.example.com";
const REDIRECT: &str = "https://app.example.com/callback";
const HOUR: Duration = Duration::from_secs(3600);

/// What the other instance does between the racing call's read and its write.
type Move = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

fn the_other_instance<F, Fut>(work: F) -> Move
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move || Box::pin(work()))
}

/// A [`MemoryStore`] whose next `app` reads each let the other instance's move land after the
/// record was read, then return the copy read: stale by then.
#[derive(Clone, Default)]
struct Racing {
    inner: MemoryStore,
    armed: Arc<Mutex<Option<(Move, usize)>>>,
    moves: Arc<AtomicUsize>,
}

impl Racing {
    /// The next `reads` reads of an app each let `work` land (`usize::MAX`: every read).
    fn arm(&self, reads: usize, work: Move) {
        *self.armed.lock().unwrap() = Some((work, reads));
    }

    /// How many moves the other instance made.
    fn moves(&self) -> usize {
        self.moves.load(Ordering::SeqCst)
    }

    fn next_move(&self) -> Option<Move> {
        let mut armed = self.armed.lock().unwrap();
        let (work, left) = armed.as_mut()?;
        let work = work.clone();
        *left -= 1;
        if *left == 0 {
            *armed = None;
        }
        Some(work)
    }
}

impl AppStore for Racing {
    async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        let read = self.inner.app(client_id).await?;
        if let Some(work) = self.next_move() {
            self.moves.fetch_add(1, Ordering::SeqCst);
            work().await;
        }
        Ok(read)
    }
    async fn save_app(&self, app: App) -> StoreResult<()> {
        self.inner.save_app(app).await
    }
    async fn update_app(&self, expected_revision: u64, app: App) -> StoreResult<bool> {
        self.inner.update_app(expected_revision, app).await
    }
    async fn apps(&self) -> StoreResult<Vec<App>> {
        self.inner.apps().await
    }
    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        self.inner.delete_app(client_id).await
    }
}

forward_installation_store!(Racing, inner);
forward_code_store!(Racing, inner);
forward_refresh_store!(Racing, inner);
forward_revocation_store!(Racing, inner);
forward_consent_store!(Racing, inner);
forward_key_store!(Racing, inner);
forward_replay_store!(Racing, inner);

/// Two instances on one data set: `racing`, whose reads `store` can make stale, and `other`,
/// which changes the app in between; and the app, registered with `secret`.
struct Race {
    racing: AuthorizationServer<Racing, MemoryStore>,
    other: AuthorizationServer<MemoryStore>,
    store: Racing,
    clock: Arc<ManualClock>,
    app: ClientId,
    secret: Secret,
}

async fn race() -> Race {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
    ));
    let store = Racing::default();
    let racing = AuthorizationServer::builder_with_directory(
        store.clone(),
        store.inner.clone(),
        Config::new(ISSUER),
    )
    .clock(clock.clone())
    .build()
    .unwrap();
    let other = AuthorizationServer::builder(store.inner.clone(), Config::new(ISSUER))
        .clock(clock.clone())
        .build()
        .unwrap();
    let registration = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        name: "FieldSync".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![REDIRECT.into()],
        flows: AppFlows::Both,
        manifest: Some(Manifest::new(1).project_tool("rfis", Level::Standard)),
        ceiling: None,
        profile: AppProfile::default(),
        owner: None,
        security: Default::default(),
    };
    let registered = other.register_app(registration).await.unwrap();
    Race {
        racing,
        other,
        store,
        clock,
        app: registered.app.client_id,
        secret: registered.client_secret.unwrap(),
    }
}

impl Race {
    /// The app as stored now.
    async fn stored(&self) -> App {
        self.other.app(&self.app).await.unwrap()
    }

    /// Whether the stored app accepts `secret` now.
    async fn accepts(&self, secret: &Secret) -> bool {
        let app = self.stored().await;
        let credentials = ClientAuthentication::Basic {
            client_id: self.app.clone(),
            secret: secret.clone(),
        };
        authenticate(
            Some(&app),
            &credentials,
            &AuthenticationContext::at(self.clock.now()),
        )
        .is_ok()
    }

    /// The app is gone, and nothing lists it.
    async fn assert_deleted(&self) {
        assert!(
            matches!(
                self.other.app(&self.app).await,
                Err(ServerError::UnknownApp(_))
            ),
            "the deleted app is back"
        );
        assert!(self.other.apps().await.unwrap().is_empty());
    }

    /// The racing change was refused as for an unknown app, and the app stays deleted.
    async fn assert_refused_and_deleted<T: std::fmt::Debug>(&self, answer: Result<T, ServerError>) {
        assert!(
            matches!(answer, Err(ServerError::UnknownApp(_))),
            "{answer:?}"
        );
        self.assert_deleted().await;
    }
}

fn renamed(name: &str) -> appgrant::grant::AppUpdate {
    appgrant::grant::AppUpdate {
        name: Some(name.into()),
        ..Default::default()
    }
}

/// A slot the other instance leaves what it got in (a secret, a version).
fn slot<T>() -> Arc<Mutex<Option<T>>> {
    Arc::new(Mutex::new(None))
}

#[tokio::test]
async fn a_settings_change_racing_a_secret_rotation_keeps_the_rotated_secret() {
    let race = race().await;
    let rotated = slot::<Secret>();
    race.store.arm(1, rotates(&race, Duration::ZERO, &rotated));

    let updated = race
        .racing
        .update_app(&race.app, renamed("FieldSync Pro"))
        .await
        .unwrap();

    assert_eq!(race.store.moves(), 1);
    let rotated = rotated.lock().unwrap().clone().unwrap();
    let stored = race.stored().await;
    assert_eq!(stored, updated, "the update returned what it did not save");
    assert_eq!(stored.name, "FieldSync Pro");
    assert!(
        race.accepts(&rotated).await,
        "the rotated secret was lost to the settings change"
    );
    assert!(
        !race.accepts(&race.secret).await,
        "the settings change brought the replaced secret back"
    );
}

#[tokio::test]
async fn a_secret_rotation_racing_a_settings_change_keeps_the_change() {
    let race = race().await;
    race.store.arm(1, {
        let (other, app) = (race.other.clone(), race.app.clone());
        the_other_instance(move || {
            let (other, app) = (other.clone(), app.clone());
            async move {
                other
                    .update_app(&app, renamed("FieldSync Pro"))
                    .await
                    .unwrap();
            }
        })
    });

    let secret = race
        .racing
        .rotate_client_secret(&race.app, Duration::ZERO)
        .await
        .unwrap();

    assert_eq!(race.store.moves(), 1);
    assert_eq!(
        race.stored().await.name,
        "FieldSync Pro",
        "the settings change was lost to the rotation"
    );
    assert!(race.accepts(&secret).await);
    assert!(!race.accepts(&race.secret).await);
}

#[tokio::test]
async fn two_secret_rotations_racing_each_other_both_hold_through_the_overlap() {
    let race = race().await;
    let first = slot::<Secret>();
    race.store.arm(1, rotates(&race, HOUR, &first));

    let second = race
        .racing
        .rotate_client_secret(&race.app, HOUR)
        .await
        .unwrap();

    let first = first.lock().unwrap().clone().unwrap();
    assert!(race.accepts(&second).await, "the later rotation's secret");
    assert!(
        race.accepts(&first).await,
        "the earlier rotation's secret was lost, not kept for the overlap"
    );
    // Only the secret being replaced is kept: the earlier rotation's.
    assert!(!race.accepts(&race.secret).await);
}

#[tokio::test]
async fn two_manifest_publishes_racing_each_other_keep_both_versions() {
    let race = race().await;
    let theirs = Manifest::new(0).company_tool("budget", Level::ReadOnly);
    let ours = Manifest::new(0).project_tool("drawings", Level::Standard);
    let their_version = slot::<u32>();
    race.store.arm(1, {
        let (other, app) = (race.other.clone(), race.app.clone());
        let (theirs, their_version) = (theirs.clone(), their_version.clone());
        the_other_instance(move || {
            let (other, app) = (other.clone(), app.clone());
            let (theirs, their_version) = (theirs.clone(), their_version.clone());
            async move {
                let version = other.publish_manifest(&app, theirs).await.unwrap();
                *their_version.lock().unwrap() = Some(version);
            }
        })
    });

    let our_version = race
        .racing
        .publish_manifest(&race.app, ours.clone())
        .await
        .unwrap();

    assert_eq!(*their_version.lock().unwrap(), Some(2));
    assert_eq!(
        our_version, 3,
        "the later publish is numbered after the earlier"
    );
    let manifests = race.stored().await.manifests;
    let versions: Vec<u32> = manifests.iter().map(|manifest| manifest.version).collect();
    assert_eq!(versions, [1, 2, 3], "a published version was lost");
    assert_eq!(
        manifests[1],
        Manifest {
            version: 2,
            ..theirs
        }
    );
    assert_eq!(manifests[2], Manifest { version: 3, ..ours });
}

/// The other instance rotates the app's secret with `overlap`, leaving the new one in `slot`.
fn rotates(race: &Race, overlap: Duration, slot: &Arc<Mutex<Option<Secret>>>) -> Move {
    let (other, app, slot) = (race.other.clone(), race.app.clone(), slot.clone());
    the_other_instance(move || {
        let (other, app, slot) = (other.clone(), app.clone(), slot.clone());
        async move {
            let secret = other.rotate_client_secret(&app, overlap).await.unwrap();
            *slot.lock().unwrap() = Some(secret);
        }
    })
}

/// The other instance deletes the app.
fn deletes(race: &Race) -> Move {
    let (other, app) = (race.other.clone(), race.app.clone());
    the_other_instance(move || {
        let (other, app) = (other.clone(), app.clone());
        async move {
            other.delete_app(&app).await.unwrap();
        }
    })
}

#[tokio::test]
async fn a_settings_change_racing_a_deletion_does_not_bring_the_app_back() {
    let race = race().await;
    race.store.arm(1, deletes(&race));
    let updated = race.racing.update_app(&race.app, renamed("Zombie")).await;
    race.assert_refused_and_deleted(updated).await;
}

#[tokio::test]
async fn a_secret_rotation_racing_a_deletion_does_not_bring_the_app_back() {
    let race = race().await;
    race.store.arm(1, deletes(&race));
    let rotated = race.racing.rotate_client_secret(&race.app, HOUR).await;
    race.assert_refused_and_deleted(rotated).await;
}

#[tokio::test]
async fn a_manifest_publish_racing_a_deletion_does_not_bring_the_app_back() {
    let race = race().await;
    race.store.arm(1, deletes(&race));
    let manifest = Manifest::new(0).company_tool("budget", Level::Admin);
    let published = race.racing.publish_manifest(&race.app, manifest).await;
    race.assert_refused_and_deleted(published).await;
}

#[tokio::test]
async fn a_deletion_racing_a_settings_change_still_deletes_the_app() {
    let race = race().await;
    race.store.arm(1, {
        let (other, app) = (race.other.clone(), race.app.clone());
        the_other_instance(move || {
            let (other, app) = (other.clone(), app.clone());
            async move {
                other.update_app(&app, renamed("Renamed")).await.unwrap();
            }
        })
    });
    race.racing.delete_app(&race.app).await.unwrap();
    race.assert_deleted().await;
}

#[tokio::test]
async fn an_app_change_that_loses_every_race_gives_up_as_busy_and_saves_nothing_of_its_own() {
    let race = race().await;
    let renames = Arc::new(AtomicUsize::new(0));
    race.store.arm(usize::MAX, {
        let (other, app) = (race.other.clone(), race.app.clone());
        the_other_instance(move || {
            let (other, app, renames) = (other.clone(), app.clone(), renames.clone());
            async move {
                let n = renames.fetch_add(1, Ordering::SeqCst) + 1;
                other
                    .update_app(&app, renamed(&format!("Renamed {n}")))
                    .await
                    .unwrap();
            }
        })
    });

    let updated = race.racing.update_app(&race.app, renamed("Mine")).await;

    assert!(matches!(updated, Err(ServerError::Busy)), "{updated:?}");
    let moves = race.store.moves();
    assert!(
        (2..=10).contains(&moves),
        "the change was tried {moves} times: it must retry, a bounded number of times"
    );
    assert_eq!(race.stored().await.name, format!("Renamed {moves}"));
}

#[tokio::test]
async fn every_app_change_advances_its_revision_and_a_change_of_nothing_saves_nothing() {
    let race = race().await;
    assert_eq!(race.stored().await.revision, 0, "a registered app");
    let updated = race
        .other
        .update_app(&race.app, renamed("FieldSync Pro"))
        .await
        .unwrap();
    assert_eq!(updated.revision, 1);
    race.other
        .rotate_client_secret(&race.app, HOUR)
        .await
        .unwrap();
    assert_eq!(race.stored().await.revision, 2);
    let manifest = Manifest::new(0).company_tool("budget", Level::ReadOnly);
    race.other
        .publish_manifest(&race.app, manifest)
        .await
        .unwrap();
    let published = race.stored().await;
    assert_eq!(published.revision, 3);

    let unchanged = race
        .other
        .update_app(&race.app, appgrant::grant::AppUpdate::default())
        .await
        .unwrap();
    assert_eq!(unchanged, published);
    assert_eq!(race.stored().await, published);
}

#[test]
fn an_app_recorded_before_revisions_existed_reads_as_revision_0() {
    let (app, _) = AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        name: "FieldSync".into(),
        client_type: ClientType::Public,
        redirect_uris: vec![REDIRECT.into()],
        flows: AppFlows::UserDelegated,
        manifest: None,
        ceiling: None,
        profile: AppProfile::default(),
        owner: None,
        security: Default::default(),
    }
    .register(&mut rand::thread_rng())
    .unwrap();
    let mut record = serde_json::to_value(App {
        revision: 4,
        ..app.clone()
    })
    .unwrap();
    assert_eq!(record["revision"], 4);
    record.as_object_mut().unwrap().remove("revision");
    let read: App = serde_json::from_value(record).unwrap();
    assert_eq!(read, App { revision: 0, ..app });
}
