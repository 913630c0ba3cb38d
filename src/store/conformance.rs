//! A conformance suite for any [`Store`]: every property appgrant's server relies on its store
//! to have, written once, for a host to run against its own store implementation.
//!
//! appgrant's own stores ([`MemoryStore`], and `SqlStore` on SQLite and PostgreSQL) pass it. A
//! host that keeps appgrant's records in its own database, behind its own implementation of the
//! store traits, runs it from a test of its own in one call, with `features = ["test-util"]` on
//! its appgrant dev-dependency:
//!
//! ```
//! use appgrant::MemoryStore;
//! use appgrant::store::conformance;
//!
//! # tokio::runtime::Runtime::new().expect("a runtime").block_on(async {
//! // In a `#[tokio::test(flavor = "multi_thread")]`: a fresh, empty data set per property (for
//! // a database: a new database or schema, and `Handles::open` connecting a new pool to it).
//! conformance::run_all(async || MemoryStore::new()).await;
//! # });
//! ```
//!
//! [`run_all`] runs every property, each on data of its own, and then panics with a report
//! naming every property that failed and why (or returns, if all passed). A store of the OAuth
//! state only, used with a directory of the host's, runs [`run_oauth_state`]; the host's
//! [`Directory`] itself runs [`run_directory`], given one of its companies. Each property is
//! also a function of its own (listed in [`PROPERTIES`], in the order `run_all` runs them),
//! so a test can run one at a time; its name states the rule it checks.
//!
//! The properties cover:
//! - round trips of apps, companies, users, memberships (and the member list), installations
//!   (listed per app and per company) and consents, each record replaced by a later save;
//! - apps listed sorted by client id, and deleted (their installations kept);
//! - apps as a compare-and-swap: updated only at the revision an update was made from, however
//!   many race, and never re-created by an update once deleted;
//! - any directory: unknown ids read as nothing, a service account holds exactly what was
//!   saved (a later save replaces it), a deactivated one reads as deactivated or absent;
//! - authorization codes: peeked at without being spent, redeemed first exactly once however
//!   many tasks race for one (peeking or redeeming), then known as reused;
//! - refresh families: one record replaced at each rotation, rotation a compare-and-swap that a
//!   stale expectation loses and that many concurrent rotations commit exactly once, generation
//!   and expiry read back as written;
//! - revocation: a revoked grant revokes its family and stops its rotation, and a family saved
//!   after its grant was revoked is stored revoked;
//! - installations as a compare-and-swap: inserted once, updated only at the revision an update
//!   was made from, however many race;
//! - purge never removing anything still valid (codes, families, revocations);
//! - signing keys: added once per key id and generation (however many instances race to add
//!   one), listed exactly as added, deleted;
//! - times read back exactly as saved (to the nanosecond);
//! - two handles on the same data seeing each other's writes and racing fairly for codes,
//!   refresh families, installations and keys (as instances of a server sharing one database
//!   do).
//!
//! A property takes the store it runs on, or, when it needs more than one handle on the same
//! data, a [`Handles`] that opens them. Each expects an empty store: it counts what purge
//! removes and lists every member of a company, so data left by anything else would make it
//! fail.
//!
//! This is test support: unlike the rest of the crate, which returns errors and never unwraps,
//! its functions panic (`assert!`, `expect` and failed store calls, with messages saying what the
//! store got wrong), because a failed assertion is what a test reports. Racing tasks are tokio tasks, so the suite runs in a tokio runtime; use the
//! multi-threaded one for races that run in parallel.
//!
//! Available with the `test-util` feature.

use crate::grant::{AppRegistration, CodeRecord, FamilyStatus, Redemption, RefreshFamily, pkce};
use crate::model::{
    App, AppFlows, ClientId, ClientType, Company, CompanyId, ConsentInstall, GrantId, Installation,
    InstallationStatus, Level, Manifest, OUT_OF_BAND, Permissions, ProjectId, Scope, Scopes,
    SecretDigest, ServiceAccountGrant, Tool, User, UserId, UserKind, UserStatus,
};
use crate::store::{
    Acting, AppStore, AppWithInstallation, CodeStore, DecisionQuery, DecisionRecords, Directory,
    DirectoryStore, InstallationStore, KeyStore, MemberReads, MemoryStore, RefreshStore,
    RevocationStore, ServiceAccount, Store, StoreResult,
};
use crate::token::{Algorithm, Secret, StoredKey};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

/// The redirect URI of the apps the properties register.
pub const REDIRECT: &str = "https://app.example.com/callback";
/// The PKCE verifier of the codes the properties store.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9NSaT3r8cqOJn2mFzRCLFbwGk0123456789";

/// How many tasks race for one code or one refresh family.
pub const RACERS: usize = 100;

/// Opens handles on one store's data: a clone for the memory store, a new connection pool for
/// a database (as another process would open it).
pub trait Handles: Sync {
    /// The store a handle is.
    type Store: Store + Clone;
    /// A new handle on the same data.
    fn open(&self) -> impl Future<Output = Self::Store> + Send;
}

/// The memory store's handles are clones of it, which share its data.
impl Handles for MemoryStore {
    type Store = MemoryStore;

    async fn open(&self) -> MemoryStore {
        self.clone()
    }
}

/// A store call the property needs to succeed.
trait Must<T> {
    /// The call's answer; a store error fails the property at the caller's line.
    fn must(self) -> T;
}

impl<T> Must<T> for StoreResult<T> {
    #[track_caller]
    fn must(self) -> T {
        match self {
            Ok(value) => value,
            Err(error) => panic!("a store call failed: {error}"),
        }
    }
}

/// When every property's story starts: a whole second, so no backend has to round it.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0)
        .single()
        .expect("a valid time")
}

/// Runs `make(i)` for `count` tokio tasks released together, and collects the results; a
/// task's panic is the caller's.
pub async fn race<F, Fut>(count: usize, make: F) -> Vec<Fut::Output>
where
    F: Fn(usize) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let gate = Arc::new(Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (gate, work) = (gate.clone(), make(i));
            tokio::spawn(async move {
                gate.wait().await;
                work.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        match task.await {
            Ok(result) => results.push(result),
            // A racing task's own failure, as it said it.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("a racing task did not finish: {error}"),
        }
    }
    results
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// The registration of the confidential app, using both flows, that the properties store.
pub fn registration(name: &str) -> AppRegistration {
    AppRegistration {
        application_type: crate::model::ApplicationType::Web,
        name: name.into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![REDIRECT.into(), OUT_OF_BAND.into()],
        flows: AppFlows::Both,
        manifest: Some(
            Manifest::new(1)
                .company_tool("directory", Level::ReadOnly)
                .project_tool("rfis", Level::Standard),
        ),
        ceiling: None,
        profile: Default::default(),
        owner: None,
        security: Default::default(),
    }
}

fn new_app(name: &str) -> App {
    registration(name)
        .register(&mut rand::thread_rng())
        .expect("a valid registration")
        .0
}

fn code_record(code: &Secret, grant: &str, expires_at: DateTime<Utc>) -> CodeRecord {
    CodeRecord {
        digest: code.digest(),
        client_id: ClientId::new("fieldsync"),
        redirect_uri: REDIRECT.into(),
        user: UserId::new("john"),
        code_challenge: Some(pkce::challenge_of(VERIFIER)),
        grant: GrantId::new(grant),
        issued_at: expires_at - TimeDelta::minutes(10),
        expires_at,
        scope: None,
        resource: None,
    }
}

/// An active family of `grant` whose current refresh token is `current`, made at [`start`].
fn family(grant: &str, current: &str) -> RefreshFamily {
    RefreshFamily {
        grant: GrantId::new(grant),
        client_id: ClientId::new("fieldsync"),
        user: UserId::new("john"),
        current: SecretDigest::of(current),
        generation: 1,
        previous: None,
        created_at: start(),
        rotated_at: start(),
        expires_at: None,
        status: FamilyStatus::Active,
        scope: None,
        resource: None,
        dpop_jkt: Default::default(),
    }
}

/// `family` rotated from its current token to `next` at `at`, as `grant::rotate` does it.
fn rotated(family: &RefreshFamily, next: &str, at: DateTime<Utc>) -> RefreshFamily {
    RefreshFamily {
        current: SecretDigest::of(next),
        generation: family.generation + 1,
        previous: Some(family.current),
        rotated_at: at,
        ..family.clone()
    }
}

fn tower_rfis(level: Level) -> Permissions {
    Permissions::none().with(Scope::Project(ProjectId::new("tower")), "rfis", level)
}

// ---------------------------------------------------------------------------------------------
// Apps, the directory, installations and consents
// ---------------------------------------------------------------------------------------------

/// An app reads back exactly as saved, a later save replaces it (name, redirect URIs, manifest,
/// ceiling), and an unknown client id is `None`.
pub async fn apps_round_trip_and_are_replaced<S: Store + Clone>(store: S) {
    let mut app = new_app("FieldSync");
    let other = new_app("Other");
    assert_eq!(store.app(&app.client_id).await.must(), None);
    store.save_app(app.clone()).await.must();
    store.save_app(other.clone()).await.must();
    assert_eq!(store.app(&app.client_id).await.must(), Some(app.clone()));

    app.name = "FieldSync 2".into();
    app.redirect_uris
        .push("https://app.example.com/other/".into());
    app.publish_manifest(Manifest::new(0).project_tool("budget", Level::Admin));
    app.ceiling = Some([(Tool::new("rfis"), Level::ReadOnly)].into_iter().collect());
    store.save_app(app.clone()).await.must();
    assert_eq!(store.app(&app.client_id).await.must(), Some(app.clone()));
    assert_eq!(store.app(&other.client_id).await.must(), Some(other));
    assert_eq!(store.app(&ClientId::new("nobody")).await.must(), None);
}

/// Every app is listed once, as last saved, sorted by client id as Rust sorts strings
/// (bytewise, whatever a database's collation says); an empty store lists none.
pub async fn apps_are_listed_once_each_as_last_saved_sorted_by_client_id<S: Store + Clone>(
    store: S,
) {
    assert!(store.apps().await.must().is_empty());
    // Client ids as hosts bring them (registrations make random ones): mixed case and
    // punctuation, saved out of order.
    let ids = ["zeta", "Alpha", "beta", "_internal", "alpha", "Beta-2"];
    let mut saved = Vec::new();
    for id in ids {
        let app = App {
            client_id: ClientId::new(id),
            ..new_app(id)
        };
        store.save_app(app.clone()).await.must();
        saved.push(app);
    }
    // A replaced app is listed once, as it is now.
    saved[2].name = "Beta, renamed".into();
    saved[2]
        .redirect_uris
        .push("https://beta.example.com/cb".into());
    store.save_app(saved[2].clone()).await.must();

    let listed = store.apps().await.must();
    let listed_ids: Vec<&str> = listed.iter().map(|app| app.client_id.as_str()).collect();
    let mut expected_ids = ids.to_vec();
    expected_ids.sort();
    assert_eq!(
        listed_ids, expected_ids,
        "apps listed out of order, or not once each"
    );
    for app in &listed {
        let stored = store.app(&app.client_id).await.must();
        assert_eq!(
            stored.as_ref(),
            Some(app),
            "{} is listed unlike it reads",
            app.client_id
        );
    }
    let mut expected = saved;
    expected.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    assert_eq!(listed, expected);
}

/// Deleting an app removes its record (it reads as `None` and is not listed) and says it did;
/// deleting it again, or an app never saved, says there was none; other apps and the deleted
/// app's installations stay as they were; the same client id can be saved again.
pub async fn deleting_an_app_removes_only_its_record_and_says_whether_there_was_one<
    S: Store + Clone,
>(
    store: S,
) {
    let (app, other) = (new_app("FieldSync"), new_app("Other"));
    store.save_app(app.clone()).await.must();
    store.save_app(other.clone()).await.must();
    let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
    let mut installation = Installation::request(&app, &acme, &jane, start());
    installation.status = InstallationStatus::Uninstalled;
    installation.uninstalled_at = Some(start() + TimeDelta::hours(1));
    store.save_installation(installation.clone()).await.must();

    assert!(
        store.delete_app(&app.client_id).await.must(),
        "deleting a saved app said there was none"
    );
    assert_eq!(store.app(&app.client_id).await.must(), None);
    assert_eq!(store.apps().await.must(), vec![other.clone()]);
    assert!(
        !store.delete_app(&app.client_id).await.must(),
        "deleting an app twice said it deleted one the second time"
    );
    assert!(
        !store.delete_app(&ClientId::new("nobody")).await.must(),
        "deleting an app never saved said it deleted one"
    );
    assert_eq!(
        store.app(&other.client_id).await.must(),
        Some(other.clone())
    );
    assert_eq!(
        store.installation(&app.client_id, &acme).await.must(),
        Some(installation.clone()),
        "deleting an app changed its installation"
    );
    assert_eq!(
        store.installations_of(&app.client_id).await.must(),
        vec![installation]
    );

    store.save_app(app.clone()).await.must();
    assert_eq!(store.app(&app.client_id).await.must(), Some(app));
}

/// An app is updated only if it is still stored at the revision the update was made from; an
/// update that loses changes nothing, an update never creates an app (one never saved, or one
/// deleted meanwhile), and an unconditional save sets the revision later updates are compared
/// with.
pub async fn an_app_is_updated_only_at_the_revision_it_was_read_at_and_never_re_created<
    S: Store + Clone,
>(
    store: S,
) {
    let (app, other) = (new_app("FieldSync"), new_app("Other"));
    store.save_app(app.clone()).await.must();
    store.save_app(other.clone()).await.must();
    let stored = async || store.app(&app.client_id).await.must();

    // Renamed over revision 0.
    let renamed = App {
        name: "FieldSync Pro".into(),
        revision: 1,
        ..app.clone()
    };
    assert!(
        store.update_app(0, renamed.clone()).await.must(),
        "an update over the current revision was refused"
    );
    assert_eq!(stored().await, Some(renamed.clone()));
    // A rotation also made over revision 0 is stale now: it loses.
    let rotated = App {
        secret_digest: Some(SecretDigest::of("a-rotated-secret")),
        revision: 1,
        ..app.clone()
    };
    assert!(
        !store.update_app(0, rotated).await.must(),
        "an update over a stale revision committed"
    );
    // So does a change made over a revision the app has not reached.
    let ahead = App {
        revision: 3,
        ..renamed.clone()
    };
    assert!(
        !store.update_app(2, ahead).await.must(),
        "an update over a revision not reached yet committed"
    );
    assert_eq!(stored().await, Some(renamed.clone()));
    // The change made over the current revision wins.
    let mut published = App {
        revision: 2,
        ..renamed.clone()
    };
    published.publish_manifest(Manifest::new(0).company_tool("budget", Level::ReadOnly));
    assert!(
        store.update_app(1, published.clone()).await.must(),
        "an update over the current revision was refused"
    );
    assert_eq!(stored().await, Some(published.clone()));
    assert_eq!(
        store.app(&other.client_id).await.must(),
        Some(other.clone()),
        "updating an app changed another"
    );

    // An unconditional save (an import) sets the revision later updates are compared with.
    let imported = App {
        revision: 7,
        ..published.clone()
    };
    store.save_app(imported.clone()).await.must();
    assert_eq!(stored().await, Some(imported.clone()));
    let stale = App {
        name: "Stale".into(),
        revision: 3,
        ..imported.clone()
    };
    assert!(
        !store.update_app(2, stale).await.must(),
        "an update over the revision before a save committed"
    );
    let next = App {
        name: "FieldSync 8".into(),
        revision: 8,
        ..imported
    };
    assert!(
        store.update_app(7, next.clone()).await.must(),
        "an update over the revision a save set was refused"
    );
    assert_eq!(stored().await, Some(next.clone()));

    // An update of an app never saved creates nothing.
    let never = new_app("Never");
    assert!(
        !store.update_app(0, never.clone()).await.must(),
        "an update of an app never saved said it committed"
    );
    assert_eq!(store.app(&never.client_id).await.must(), None);
    // Nor does one of an app deleted since it was read, whatever revision it names.
    assert!(store.delete_app(&app.client_id).await.must());
    for read_at in [8, 0] {
        let resurrected = App {
            name: "Zombie".into(),
            revision: read_at + 1,
            ..next.clone()
        };
        assert!(
            !store.update_app(read_at, resurrected).await.must(),
            "an update of a deleted app said it committed"
        );
    }
    assert_eq!(stored().await, None, "an update brought a deleted app back");
    assert_eq!(store.apps().await.must(), vec![other]);
}

/// Of many updates of one app made over the same revision at once (settings changes, secret
/// rotations, manifest publishes racing) exactly one commits; the app is what it wrote.
pub async fn many_concurrent_updates_of_one_app_commit_exactly_once<S: Store + Clone>(store: S) {
    let app = new_app("FieldSync");
    store.save_app(app.clone()).await.must();
    let updates: Vec<App> = (0..RACERS)
        .map(|i| App {
            name: format!("FieldSync {i}"),
            secret_digest: Some(SecretDigest::of(&format!("secret-{i}"))),
            revision: app.revision + 1,
            ..app.clone()
        })
        .collect();
    let read_at = app.revision;
    let results = race(RACERS, |i| {
        let (store, update) = (store.clone(), updates[i].clone());
        async move { store.update_app(read_at, update).await.must() }
    })
    .await;
    let won = winners(&results);
    assert_eq!(
        won.len(),
        1,
        "{}",
        tally(&won, "updates of one app over one revision committed")
    );
    assert_eq!(
        store.app(&app.client_id).await.must().as_ref(),
        Some(&updates[won[0]])
    );
}

/// Companies and users (people and service accounts) read back exactly as saved, and a later
/// save replaces them.
pub async fn companies_and_users_round_trip_and_are_replaced<S: DirectoryStore + Clone>(store: S) {
    let acme = CompanyId::new("acme");
    assert_eq!(store.company(&acme).await.must(), None);
    let mut company = Company::new("acme", "Acme Construction");
    store.save_company(company.clone()).await.must();
    assert_eq!(store.company(&acme).await.must(), Some(company.clone()));
    company.name = "Acme Holdings".into();
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    store.save_company(company.clone()).await.must();
    assert_eq!(store.company(&acme).await.must(), Some(company));

    let jane = UserId::new("jane");
    assert_eq!(store.user(&jane).await.must(), None);
    let mut user = User::person("jane", "Jane");
    store.save_user(user.clone()).await.must();
    assert_eq!(store.user(&jane).await.must(), Some(user.clone()));
    user.name = "Jane Doe".into();
    user.status = UserStatus::Deactivated;
    store.save_user(user.clone()).await.must();
    assert_eq!(store.user(&jane).await.must(), Some(user));

    let account = User {
        id: UserId::new("svc-1"),
        name: "FieldSync (service account)".into(),
        kind: UserKind::ServiceAccount {
            app: ClientId::new("fieldsync"),
        },
        status: UserStatus::Active,
    };
    store.save_user(account.clone()).await.must();
    assert_eq!(store.user(&account.id).await.must(), Some(account));
}

/// A user's permissions are kept per company, read back exactly as saved (an empty set
/// included, which is not the same as no membership), and a later save replaces them.
pub async fn memberships_round_trip_per_company_and_are_replaced<S: DirectoryStore + Clone>(
    store: S,
) {
    let (acme, globex, john) = (
        CompanyId::new("acme"),
        CompanyId::new("globex"),
        UserId::new("john"),
    );
    store.save_user(User::person("john", "John")).await.must();
    assert_eq!(store.membership(&acme, &john).await.must(), None);

    let read = tower_rfis(Level::ReadOnly);
    store
        .save_membership(&acme, &john, read.clone())
        .await
        .must();
    assert_eq!(store.membership(&acme, &john).await.must(), Some(read));
    assert_eq!(store.membership(&globex, &john).await.must(), None);

    let more = tower_rfis(Level::Admin)
        .with(Scope::Company, "budget", Level::Standard)
        .with(Scope::Project(ProjectId::new("depot")), "rfis", Level::None);
    store
        .save_membership(&acme, &john, more.clone())
        .await
        .must();
    assert_eq!(
        store.membership(&acme, &john).await.must(),
        Some(more.clone())
    );

    let empty = Permissions::none();
    store
        .save_membership(&globex, &john, empty.clone())
        .await
        .must();
    assert_eq!(
        store.membership(&globex, &john).await.must(),
        Some(empty.clone())
    );

    // A user's memberships: every company, once, sorted by company id, with what they hold now.
    assert_eq!(
        store.memberships_of(&john).await.must(),
        vec![(acme.clone(), more), (globex.clone(), empty)]
    );
    assert_eq!(
        store.memberships_of(&UserId::new("nobody")).await.must(),
        Vec::new()
    );
}

/// A company's members are listed once each, with what they hold now, sorted by user id as Rust
/// sorts strings (bytewise, whatever a database's collation says); members of other companies
/// and memberships without a user record are not listed.
pub async fn members_are_listed_sorted_by_user_id_with_their_permissions<
    S: DirectoryStore + Clone,
>(
    store: S,
) {
    let (acme, globex) = (CompanyId::new("acme"), CompanyId::new("globex"));
    // Ids as hosts bring them: mixed case and punctuation. The memory store sorts them as Rust
    // does (bytewise), whatever a database's collation would say.
    let ids = ["zoe", "Adam", "bob", "_svc", "adam", "Bob-2"];
    for (n, id) in ids.iter().enumerate() {
        store.save_user(User::person(*id, *id)).await.must();
        let level = [Level::ReadOnly, Level::Standard, Level::Admin][n % 3];
        let holds = tower_rfis(level).with(
            Scope::Company,
            format!("tool-{n}").as_str(),
            Level::ReadOnly,
        );
        store
            .save_membership(&acme, &UserId::new(*id), holds)
            .await
            .must();
    }
    // Someone only in another company, and a membership whose user record is missing.
    store.save_user(User::person("gina", "Gina")).await.must();
    store
        .save_membership(&globex, &UserId::new("gina"), Permissions::none())
        .await
        .must();
    store
        .save_membership(&acme, &UserId::new("ghost"), Permissions::none())
        .await
        .must();
    // A replaced membership is listed once, with what it holds now.
    let now_holds = tower_rfis(Level::None);
    store
        .save_membership(&acme, &UserId::new("bob"), now_holds.clone())
        .await
        .must();

    let members = store.members(&acme).await.must();
    let listed: Vec<&str> = members.iter().map(|(user, _)| user.id.as_str()).collect();
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    for (user, permissions) in &members {
        assert_eq!(store.user(&user.id).await.must().as_ref(), Some(user));
        let held = store.membership(&acme, &user.id).await.must();
        assert_eq!(held.as_ref(), Some(permissions), "{}", user.id);
    }
    let bob = members.iter().find(|(user, _)| user.id.as_str() == "bob");
    assert_eq!(bob.map(|(_, held)| held), Some(&now_holds));

    let globex_members = store.members(&globex).await.must();
    assert_eq!(
        globex_members,
        vec![(User::person("gina", "Gina"), Permissions::none())]
    );
    assert!(
        store
            .members(&CompanyId::new("initech"))
            .await
            .must()
            .is_empty()
    );
}

/// What [`InstallationStore::decision_records`] must answer for `query`: what the single reads
/// answer, with the member as [`Directory::member`] reads it when the store read it.
async fn records_read_alone<S: Store>(store: &S, query: &DecisionQuery<'_>) -> DecisionRecords {
    let installation = store.installation(query.app, query.company).await.must();
    let ceiling = match query.acting {
        Acting::Person(_) => store
            .app(query.app)
            .await
            .must()
            .and_then(|app| app.ceiling),
        Acting::ServiceAccount => None,
    };
    DecisionRecords {
        revoked: store.is_revoked(query.grant).await.must(),
        installation,
        ceiling,
        member: None,
    }
}

/// Reads `query` together and alone and says they agree; returns what was read together.
async fn records_agree<S: Store>(store: &S, query: &DecisionQuery<'_>) -> DecisionRecords {
    let together = store.decision_records(query).await.must();
    let alone = records_read_alone(store, query).await;
    assert_eq!(
        DecisionRecords {
            member: None,
            ..together.clone()
        },
        alone,
        "the records of {query:?} read together differ from each read alone"
    );
    together
}

/// A decision's records read together answer what each read alone answers: nothing and not
/// revoked, then the installation, then revoked, and for a person's token the app's ceiling
/// (never for a service account's); a store asked to leave the member to another directory
/// reads none.
pub async fn a_decisions_records_read_together_read_as_each_alone<S: Store + Clone>(store: S) {
    let mut app = new_app("FieldSync");
    app.ceiling = Some([(Tool::new("rfis"), Level::ReadOnly)].into());
    store.save_app(app.clone()).await.must();
    let (acme, globex) = (CompanyId::new("acme"), CompanyId::new("globex"));
    let (grant, other) = (GrantId::new("grant-1"), GrantId::new("grant-2"));
    let john = UserId::new("john");
    let query = |company, grant, acting| DecisionQuery {
        app: &app.client_id,
        company,
        grant,
        acting,
        member: MemberReads::Elsewhere,
    };
    let (person, account) = (Acting::Person(&john), Acting::ServiceAccount);
    let read = records_agree(&store, &query(&acme, &grant, person)).await;
    assert_eq!((read.installation, read.revoked), (None, false));
    assert_eq!(
        read.ceiling, app.ceiling,
        "a person's token reads the ceiling"
    );
    assert_eq!(read.member, None, "a member read for another directory");
    let account_read = records_agree(&store, &query(&acme, &grant, account)).await;
    assert_eq!(
        account_read.ceiling, None,
        "a service account read a ceiling"
    );

    let installed = Installation::request(&app, &acme, &john, start());
    store.save_installation(installed.clone()).await.must();
    let read = records_agree(&store, &query(&acme, &grant, person)).await;
    assert_eq!(read.installation, Some(installed.clone()));
    records_agree(&store, &query(&globex, &grant, account)).await;
    store.revoke_grant(&grant, start()).await.must();
    // Revoking again changes nothing (the first revocation's time stands).
    store.revoke_grant(&grant, start()).await.must();
    for company in [&acme, &globex] {
        for acting in [person, account] {
            let read = records_agree(&store, &query(company, &grant, acting)).await;
            assert!(read.revoked, "a revoked grant reads as not revoked");
            assert_eq!(read.member, None, "a member read for another directory");
        }
    }
    let read = records_agree(&store, &query(&acme, &other, person)).await;
    assert!(!read.revoked, "another grant reads as revoked");
}

/// Many decisions, apps and installations read at once each answer their own question, exactly as that read made alone does: a store that reads the
/// requests in flight together (in one statement) never hands one request another's answer.
pub async fn many_concurrent_reads_each_answer_their_own_question<S: Store + Clone>(store: S) {
    let john = UserId::new("john");
    let levels = [Level::ReadOnly, Level::Standard, Level::Admin];
    let mut apps = Vec::new();
    for (i, level) in levels.into_iter().enumerate() {
        let mut app = new_app(&format!("App {i}"));
        // Every other app has a ceiling, each a different one, so a mixed-up answer shows.
        if i % 2 == 0 {
            app.ceiling = Some([(Tool::new("rfis"), level)].into());
        }
        store.save_app(app.clone()).await.must();
        apps.push(app);
    }
    let companies = [CompanyId::new("acme"), CompanyId::new("globex")];
    for (i, app) in apps.iter().enumerate() {
        for (j, company) in companies.iter().enumerate() {
            if (i + j) % 3 != 2 {
                let mut installation = Installation::request(app, company, &john, start());
                installation.pending_manifest = Some(u32::try_from(i * 10 + j).unwrap_or(0));
                store.save_installation(installation).await.must();
            }
        }
    }
    let grants = [GrantId::new("grant-a"), GrantId::new("grant-b")];
    store.revoke_grant(&grants[1], start()).await.must();
    // A company id no database can hold (PostgreSQL text has no NUL): read as nothing, and
    // never the failure of the reads sharing its statement.
    let unstorable = CompanyId::new("acme\u{0}");
    let mut questions = Vec::new();
    for app in &apps {
        for company in companies.iter().chain([&unstorable]) {
            for grant in &grants {
                for person in [true, false] {
                    questions.push((
                        app.client_id.clone(),
                        company.clone(),
                        grant.clone(),
                        person,
                    ));
                }
            }
        }
    }
    let questions = Arc::new(questions);
    let read = |store: S, questions: Arc<Vec<(ClientId, CompanyId, GrantId, bool)>>, i: usize| async move {
        let (app, company, grant, person) = &questions[i % questions.len()];
        let john = UserId::new("john");
        let query = DecisionQuery {
            app,
            company,
            grant,
            acting: if *person {
                Acting::Person(&john)
            } else {
                Acting::ServiceAccount
            },
            member: MemberReads::Elsewhere,
        };
        let records = store.decision_records(&query).await.must();
        let app_read = store.app(app).await.must();
        let installation = store.installation(app, company).await.must();
        (records, app_read, installation)
    };
    let mut alone = Vec::new();
    for i in 0..questions.len() {
        alone.push(read(store.clone(), Arc::clone(&questions), i).await);
    }
    let together = race(RACERS, |i| read(store.clone(), Arc::clone(&questions), i)).await;
    for (i, answer) in together.iter().enumerate() {
        let expected = &alone[i % questions.len()];
        assert_eq!(
            answer,
            expected,
            "question {:?}, read with others in flight, answered differently than alone",
            questions[i % questions.len()]
        );
    }
}

/// Many decisions read at once with their members in store, for people and for service
/// accounts of different apps in different companies, each read the acting user and the
/// permissions of its own question, as that decision read alone does.
pub async fn many_concurrent_decisions_each_read_their_own_member<S>(store: S)
where
    S: Store + DirectoryStore + Clone,
{
    let companies = [CompanyId::new("acme"), CompanyId::new("globex")];
    let levels = [Level::ReadOnly, Level::Standard, Level::Admin];
    let mut people = Vec::new();
    for (i, level) in levels.into_iter().enumerate() {
        let person = User::person(format!("person-{i}"), format!("Person {i}"));
        store.save_user(person.clone()).await.must();
        // Each person is a member of one company only, each with another level.
        store
            .save_membership(&companies[i % 2], &person.id, tower_rfis(level))
            .await
            .must();
        people.push(person.id);
    }
    let mut apps = Vec::new();
    for i in 0..2 {
        let app = new_app(&format!("App {i}"));
        store.save_app(app.clone()).await.must();
        for (j, company) in companies.iter().enumerate() {
            let level = levels[(i + j) % levels.len()];
            let account = service_account(company, app.client_id.as_str(), tower_rfis(level));
            store.save_service_account(&account).await.must();
            let mut installation = Installation::request(&app, company, &people[0], start());
            installation.service_account = Some(ServiceAccountGrant {
                user: account.id.clone(),
                approved: Manifest::new(1),
                permitted_projects: BTreeSet::from([ProjectId::new("tower")]),
            });
            store.save_installation(installation).await.must();
        }
        apps.push(app.client_id);
    }
    let mut questions = Vec::new();
    for app in &apps {
        for company in &companies {
            questions.push((app.clone(), company.clone(), None));
            for person in &people {
                questions.push((app.clone(), company.clone(), Some(person.clone())));
            }
        }
    }
    let questions = Arc::new(questions);
    let read = |store: S, questions: Arc<Vec<(ClientId, CompanyId, Option<UserId>)>>, i: usize| async move {
        let (app, company, person) = &questions[i % questions.len()];
        let grant = GrantId::new(format!("grant-{i}"));
        let query = DecisionQuery {
            app,
            company,
            grant: &grant,
            acting: person
                .as_ref()
                .map_or(Acting::ServiceAccount, Acting::Person),
            member: MemberReads::InStore,
        };
        store.decision_records(&query).await.must().member
    };
    let mut alone = Vec::new();
    for i in 0..questions.len() {
        let member = read(store.clone(), Arc::clone(&questions), i).await;
        // A store that leaves members to the directory reads none; otherwise each question's
        // member is the one it names (a person) or its installation names (an account).
        if let Some((user, _)) = &member {
            if let (_, _, Some(person)) = &questions[i] {
                assert_eq!(user.as_ref().map(|user| &user.id), Some(person));
            }
        }
        alone.push(member);
    }
    let together = race(RACERS, |i| read(store.clone(), Arc::clone(&questions), i)).await;
    for (i, member) in together.iter().enumerate() {
        assert_eq!(
            member,
            &alone[i % questions.len()],
            "question {:?}, read with others in flight, read another member",
            questions[i % questions.len()]
        );
    }
}

/// Installations read back exactly as saved, a later save replaces them, and an app's are listed
/// sorted by company id as Rust sorts strings, without other apps'.
pub async fn installations_round_trip_are_replaced_and_listed_per_app<S: Store + Clone>(store: S) {
    let (app, other) = (new_app("FieldSync"), new_app("Other"));
    // Company ids as hosts bring them, mixed case included; listed in Rust's (bytewise) order.
    let (acme, globex, initech, acme_two) = (
        CompanyId::new("acme"),
        CompanyId::new("globex"),
        CompanyId::new("initech"),
        CompanyId::new("ACME-2"),
    );
    let jane = UserId::new("jane");
    assert_eq!(store.installation(&app.client_id, &acme).await.must(), None);
    assert!(
        store
            .installations_of(&app.client_id)
            .await
            .must()
            .is_empty()
    );

    let mut in_acme = Installation::request(&app, &acme, &jane, start());
    store.save_installation(in_acme.clone()).await.must();
    assert_eq!(
        store.installation(&app.client_id, &acme).await.must(),
        Some(in_acme.clone())
    );

    // Approved with a service account on two projects, then replaced.
    in_acme.status = InstallationStatus::Active;
    in_acme.decided_by = Some(jane.clone());
    in_acme.decided_at = Some(start() + TimeDelta::minutes(5));
    in_acme.active_since = in_acme.decided_at;
    in_acme.pending_manifest = None;
    in_acme.service_account = Some(ServiceAccountGrant {
        user: UserId::new("svc-1"),
        approved: app.manifest().expect("the app has a manifest").clone(),
        permitted_projects: BTreeSet::from([ProjectId::new("tower"), ProjectId::new("depot")]),
    });
    store.save_installation(in_acme.clone()).await.must();
    assert_eq!(
        store.installation(&app.client_id, &acme).await.must(),
        Some(in_acme.clone())
    );

    // Other companies, saved out of order, and another app in the same company.
    let in_initech = Installation::request(&app, &initech, &jane, start());
    let mut in_globex = Installation::request(&app, &globex, &jane, start());
    in_globex.status = InstallationStatus::Uninstalled;
    in_globex.uninstalled_at = Some(start() + TimeDelta::hours(1));
    let in_acme_two = Installation::request(&app, &acme_two, &jane, start());
    let other_in_acme = Installation::request(&other, &acme, &jane, start());
    for installation in [&in_initech, &in_globex, &in_acme_two, &other_in_acme] {
        store.save_installation(installation.clone()).await.must();
    }
    assert_eq!(
        store.installations_of(&app.client_id).await.must(),
        vec![in_acme_two, in_acme.clone(), in_globex, in_initech]
    );
    assert_eq!(
        store.installations_of(&other.client_id).await.must(),
        vec![other_in_acme.clone()]
    );
    assert_eq!(
        store.installation(&other.client_id, &acme).await.must(),
        Some(other_in_acme)
    );
    assert_eq!(
        store.installation(&app.client_id, &acme).await.must(),
        Some(in_acme)
    );
}

/// A store that reads an app with its installation in one read
/// ([`InstallationStore::app_with_installation`]) answers as its two reads apart do: each as
/// stored now, or nothing, for an unknown app, a company without the app, and an app installed
/// elsewhere. (A store without that read passes by having none.)
pub async fn an_app_read_with_its_installation_reads_as_each_alone<S: Store + Clone>(store: S) {
    async fn both<S: Store>(store: &S, app: &ClientId, company: &CompanyId) -> AppWithInstallation {
        match store.app_with_installation(app, company) {
            Some(read) => read.await.must(),
            None => (
                store.app(app).await.must(),
                store.installation(app, company).await.must(),
            ),
        }
    }
    let (app, other) = (new_app("FieldSync"), new_app("Other"));
    let (acme, globex) = (CompanyId::new("acme"), CompanyId::new("globex"));
    let jane = UserId::new("jane");
    assert_eq!(both(&store, &app.client_id, &acme).await, (None, None));
    store.save_app(app.clone()).await.must();
    store.save_app(other.clone()).await.must();
    let stored = store.app(&app.client_id).await.must();
    assert!(stored.is_some());
    assert_eq!(
        both(&store, &app.client_id, &acme).await,
        (stored.clone(), None)
    );

    let in_acme = Installation::request(&app, &acme, &jane, start());
    store.save_installation(in_acme.clone()).await.must();
    let other_in_globex = Installation::request(&other, &globex, &jane, start());
    store
        .save_installation(other_in_globex.clone())
        .await
        .must();
    assert_eq!(
        both(&store, &app.client_id, &acme).await,
        (stored.clone(), Some(in_acme))
    );
    assert_eq!(both(&store, &app.client_id, &globex).await, (stored, None));
    let other_stored = store.app(&other.client_id).await.must();
    assert_eq!(
        both(&store, &other.client_id, &globex).await,
        (other_stored, Some(other_in_globex))
    );
    // An installation whose app is gone is still read (the grant refuses the client).
    store.delete_app(&app.client_id).await.must();
    let in_acme = store.installation(&app.client_id, &acme).await.must();
    assert!(in_acme.is_some());
    assert_eq!(both(&store, &app.client_id, &acme).await, (None, in_acme));
}

/// A company's installations are listed once each, as saved now, sorted by client id as Rust
/// sorts strings, without other companies' (its admin page lists them).
pub async fn a_companys_installations_are_listed_sorted_by_client_id<S: Store + Clone>(store: S) {
    let (acme, globex) = (CompanyId::new("acme"), CompanyId::new("globex"));
    let jane = UserId::new("jane");
    assert!(store.installations_in(&acme).await.must().is_empty());
    // Client ids as hosts may bring them (mixed case), each installed in both companies.
    let apps: Vec<App> = ["zeta", "Alpha", "beta"]
        .iter()
        .map(|name| App {
            client_id: ClientId::new(*name),
            ..new_app(name)
        })
        .collect();
    for app in &apps {
        for company in [&globex, &acme] {
            let installation = Installation::request(app, company, &jane, start());
            store.save_installation(installation).await.must();
        }
    }
    // One of them changed since: listed as it is now, once.
    let mut changed = Installation::request(&apps[2], &acme, &jane, start());
    changed.status = InstallationStatus::Denied;
    store.save_installation(changed.clone()).await.must();

    let listed = store.installations_in(&acme).await.must();
    let ids: Vec<&str> = listed.iter().map(|i| i.app.as_str()).collect();
    assert_eq!(ids, ["Alpha", "beta", "zeta"]);
    assert!(
        listed
            .iter()
            .all(|installation| installation.company == acme)
    );
    assert_eq!(listed[1], changed);
    assert_eq!(store.installations_in(&globex).await.must().len(), 3);
    let initech = CompanyId::new("initech");
    assert!(store.installations_in(&initech).await.must().is_empty());
}

/// An installation is inserted only if none exists for its app and company, and updated only if
/// the stored one is still at the revision the update was made from; an insert or update that
/// loses changes nothing, an update never creates an installation, and an unconditional save
/// sets the revision later updates are compared with.
pub async fn an_installation_is_inserted_once_and_updated_only_at_the_revision_it_was_read_at<
    S: Store + Clone,
>(
    store: S,
) {
    let app = new_app("FieldSync");
    let (acme, globex) = (CompanyId::new("acme"), CompanyId::new("globex"));
    let (jane, john) = (UserId::new("jane"), UserId::new("john"));
    let stored =
        async |company: &CompanyId| store.installation(&app.client_id, company).await.must();

    let requested = Installation::request(&app, &acme, &jane, start());
    assert!(
        store.insert_installation(requested.clone()).await.must(),
        "the first insert of an installation was refused"
    );
    assert_eq!(stored(&acme).await, Some(requested.clone()));
    // A second insert for the same app and company loses, whoever asks.
    let again = Installation::request(&app, &acme, &john, start() + TimeDelta::minutes(1));
    assert!(
        !store.insert_installation(again).await.must(),
        "an installation was inserted over an existing one"
    );
    assert_eq!(stored(&acme).await, Some(requested.clone()));

    // Approved over revision 0.
    let approved = Installation {
        status: InstallationStatus::Active,
        decided_by: Some(jane.clone()),
        decided_at: Some(start() + TimeDelta::minutes(5)),
        active_since: Some(start() + TimeDelta::minutes(5)),
        pending_manifest: None,
        revision: 1,
        ..requested.clone()
    };
    assert!(
        store.update_installation(0, approved.clone()).await.must(),
        "an update over the current revision was refused"
    );
    assert_eq!(stored(&acme).await, Some(approved.clone()));
    // A denial also made over revision 0 is stale now: it loses.
    let denied = Installation {
        status: InstallationStatus::Denied,
        decided_by: Some(john.clone()),
        decided_at: Some(start() + TimeDelta::minutes(6)),
        revision: 1,
        ..requested.clone()
    };
    assert!(
        !store.update_installation(0, denied).await.must(),
        "an update over a stale revision committed"
    );
    // So does a change made over a revision the installation has not reached.
    let ahead = Installation {
        revision: 3,
        ..approved.clone()
    };
    assert!(
        !store.update_installation(2, ahead).await.must(),
        "an update over a revision not reached yet committed"
    );
    assert_eq!(stored(&acme).await, Some(approved.clone()));
    // The change made over the current revision wins.
    let uninstalled = Installation {
        status: InstallationStatus::Uninstalled,
        decided_at: Some(start() + TimeDelta::hours(1)),
        uninstalled_at: Some(start() + TimeDelta::hours(1)),
        revision: 2,
        ..approved.clone()
    };
    assert!(
        store
            .update_installation(1, uninstalled.clone())
            .await
            .must(),
        "an update over the current revision was refused"
    );
    assert_eq!(stored(&acme).await, Some(uninstalled.clone()));

    // An update of an installation never inserted creates nothing.
    let elsewhere = Installation {
        revision: 1,
        ..Installation::request(&app, &globex, &jane, start())
    };
    assert!(
        !store.update_installation(0, elsewhere).await.must(),
        "an update of an installation never inserted said it committed"
    );
    assert_eq!(stored(&globex).await, None);
    // Inserting it there works, and leaves Acme's alone.
    let in_globex = Installation::request(&app, &globex, &jane, start());
    assert!(
        store.insert_installation(in_globex.clone()).await.must(),
        "inserting the app's installation in another company was refused"
    );
    assert_eq!(
        store.installations_of(&app.client_id).await.must(),
        vec![uninstalled.clone(), in_globex]
    );

    // An unconditional save (an import) sets the revision later updates are compared with.
    let imported = Installation {
        revision: 7,
        ..uninstalled.clone()
    };
    store.save_installation(imported.clone()).await.must();
    let stale = Installation {
        revision: 3,
        ..imported.clone()
    };
    assert!(
        !store.update_installation(2, stale).await.must(),
        "an update over the revision before a save committed"
    );
    let next = Installation {
        requested_by: john,
        revision: 8,
        ..imported
    };
    assert!(
        store.update_installation(7, next.clone()).await.must(),
        "an update over the revision a save set was refused"
    );
    assert_eq!(stored(&acme).await, Some(next));
}

/// The indexes of the tasks whose call won.
fn winners(results: &[bool]) -> Vec<usize> {
    (0..results.len()).filter(|i| results[*i]).collect()
}

/// How many of the racing tasks won, for a failure message.
fn tally(won: &[usize], what: &str) -> String {
    format!("{} of {RACERS} {what}; exactly one may", won.len())
}

/// Of many inserts of one installation at once exactly one wins, and of many updates made over
/// the same revision at once exactly one commits; the installation is what each winner wrote.
pub async fn many_concurrent_inserts_and_updates_of_one_installation_commit_exactly_once<
    S: Store + Clone,
>(
    store: S,
) {
    let app = new_app("FieldSync");
    let acme = CompanyId::new("acme");
    let requests: Vec<Installation> = (0..RACERS)
        .map(|i| Installation::request(&app, &acme, &UserId::new(format!("user-{i}")), start()))
        .collect();
    let results = race(RACERS, |i| {
        let (store, request) = (store.clone(), requests[i].clone());
        async move { store.insert_installation(request).await.must() }
    })
    .await;
    let won = winners(&results);
    assert_eq!(
        won.len(),
        1,
        "{}",
        tally(&won, "inserts of one installation won")
    );
    let inserted = &requests[won[0]];
    assert_eq!(
        store
            .installation(&app.client_id, &acme)
            .await
            .must()
            .as_ref(),
        Some(inserted)
    );

    let updates: Vec<Installation> = (0..RACERS)
        .map(|i| Installation {
            status: InstallationStatus::Active,
            decided_by: Some(UserId::new(format!("admin-{i}"))),
            decided_at: Some(start() + TimeDelta::minutes(1)),
            revision: inserted.revision + 1,
            ..inserted.clone()
        })
        .collect();
    let read_at = inserted.revision;
    let results = race(RACERS, |i| {
        let (store, update) = (store.clone(), updates[i].clone());
        async move { store.update_installation(read_at, update).await.must() }
    })
    .await;
    let won = winners(&results);
    assert_eq!(
        won.len(),
        1,
        "{}",
        tally(&won, "updates over one revision committed")
    );
    assert_eq!(
        store
            .installation(&app.client_id, &acme)
            .await
            .must()
            .as_ref(),
        Some(&updates[won[0]])
    );
}

/// A consent is kept per user and app with its time, and a later one replaces it.
pub async fn consents_round_trip_and_are_replaced<S: Store + Clone>(store: S) {
    let (jane, john) = (UserId::new("jane"), UserId::new("john"));
    let (app, other) = (ClientId::new("fieldsync"), ClientId::new("other"));
    assert_eq!(store.consent(&jane, &app).await.must(), None);
    store.save_consent(&jane, &app, start()).await.must();
    assert_eq!(store.consent(&jane, &app).await.must(), Some(start()));
    assert_eq!(store.consent(&jane, &other).await.must(), None);
    assert_eq!(store.consent(&john, &app).await.must(), None);

    let later = start() + TimeDelta::days(3);
    store.save_consent(&jane, &app, later).await.must();
    store.save_consent(&john, &app, start()).await.must();
    assert_eq!(store.consent(&jane, &app).await.must(), Some(later));
    assert_eq!(store.consent(&john, &app).await.must(), Some(start()));
}

/// A person's consents are listed per app, sorted by client id as Rust sorts strings, without
/// other people's, and one forgotten is gone (and forgetting one never given is no error).
pub async fn consents_are_listed_per_user_and_forgotten<S: Store + Clone>(store: S) {
    let (jane, john) = (UserId::new("jane"), UserId::new("john"));
    for (app, minutes) in [("zeta", 1), ("Alpha", 2), ("beta", 3)] {
        let at = start() + TimeDelta::minutes(minutes);
        store
            .save_consent(&jane, &ClientId::new(app), at)
            .await
            .must();
    }
    store
        .save_consent(&john, &ClientId::new("beta"), start())
        .await
        .must();
    let listed = store.consents_of(&jane).await.must();
    let apps: Vec<&str> = listed.iter().map(|(app, _)| app.as_str()).collect();
    assert_eq!(apps, ["Alpha", "beta", "zeta"]);
    assert_eq!(listed[0].1, start() + TimeDelta::minutes(2));

    store
        .forget_consent(&jane, &ClientId::new("beta"))
        .await
        .must();
    assert_eq!(
        store.consent(&jane, &ClientId::new("beta")).await.must(),
        None
    );
    assert_eq!(store.consents_of(&jane).await.must().len(), 2);
    assert_eq!(
        store.consent(&john, &ClientId::new("beta")).await.must(),
        Some(start()),
        "forgetting Jane's consent left John's"
    );
    store
        .forget_consent(&jane, &ClientId::new("nothing"))
        .await
        .must();
    assert!(
        store
            .consents_of(&UserId::new("nobody"))
            .await
            .must()
            .is_empty()
    );
}

/// A person's refresh families for one app are listed, all of them and only them (not another
/// person's, not another app's), so disconnecting the app can revoke every one.
pub async fn a_persons_families_for_one_app_are_listed_without_anyone_elses<S: Store + Clone>(
    store: S,
) {
    let mine = [family("grant-1", "one"), family("grant-2", "two")];
    let other_user = RefreshFamily {
        user: UserId::new("jane"),
        ..family("grant-3", "three")
    };
    let other_app = RefreshFamily {
        client_id: ClientId::new("other-app"),
        ..family("grant-4", "four")
    };
    for saved in mine.iter().chain([&other_user, &other_app]) {
        store.save_family(saved.clone()).await.must();
    }
    let mut listed = store
        .families_of(&UserId::new("john"), &ClientId::new("fieldsync"))
        .await
        .must();
    listed.sort_by(|a, b| a.grant.cmp(&b.grant));
    assert_eq!(listed, mine.to_vec());
    let none = store
        .families_of(&UserId::new("nobody"), &ClientId::new("fieldsync"))
        .await
        .must();
    assert!(none.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------

/// A code's first redemption is [`Redemption::First`], every later one [`Redemption::Reused`]
/// with the same record, a code never issued is [`Redemption::Unknown`], and redeeming one code
/// leaves the others alone.
pub async fn a_code_is_redeemed_first_then_reused_and_an_unknown_code_is_unknown<
    S: Store + Clone,
>(
    store: S,
) {
    let code = Secret::new("the-code");
    let mut record = code_record(&code, "grant-1", start() + TimeDelta::minutes(10));
    record.scope = Scopes::parse("rfis:read").ok();
    assert!(record.scope.is_some());
    record.resource = Some("https://files.example.com".into());
    let other = Secret::new("another-code");
    let other_record = code_record(&other, "grant-2", start() + TimeDelta::minutes(10));
    store.save_code(record.clone()).await.must();
    store.save_code(other_record.clone()).await.must();

    assert_eq!(
        store.redeem_code(&code.digest()).await.must(),
        Redemption::First(record.clone())
    );
    assert_eq!(
        store.redeem_code(&code.digest()).await.must(),
        Redemption::Reused(record.clone())
    );
    assert_eq!(
        store.redeem_code(&code.digest()).await.must(),
        Redemption::Reused(record)
    );
    assert_eq!(
        store
            .redeem_code(&SecretDigest::of("never-issued"))
            .await
            .must(),
        Redemption::Unknown
    );
    // Redeeming one code leaves the others alone.
    assert_eq!(
        store.redeem_code(&other.digest()).await.must(),
        Redemption::First(other_record)
    );
}

/// A code redeemed by many tasks at once is [`Redemption::First`] for exactly one of them and
/// [`Redemption::Reused`] for all the others.
pub async fn a_code_raced_by_many_redemptions_is_first_for_exactly_one<S: Store + Clone>(store: S) {
    let code = Secret::new("the-raced-code");
    let record = code_record(&code, "grant-1", start() + TimeDelta::minutes(10));
    store.save_code(record.clone()).await.must();
    let results = race(RACERS, |_| {
        let (store, digest) = (store.clone(), code.digest());
        async move { store.redeem_code(&digest).await.must() }
    })
    .await;
    let firsts = results
        .iter()
        .filter(|redemption| **redemption == Redemption::First(record.clone()))
        .count();
    let reuses = results
        .iter()
        .filter(|redemption| **redemption == Redemption::Reused(record.clone()))
        .count();
    assert_eq!(
        (firsts, reuses),
        (1, RACERS - 1),
        "(first redemptions, reuses)"
    );
}

/// `first_use` says a value is new exactly once: a second use is a replay, whatever `until` it
/// names, and other values are unaffected. `purge_used(now)` forgets only values remembered
/// until before `now`; the rest are still replays.
pub async fn a_value_is_used_first_once_and_forgotten_only_once_it_lapsed<S: Store>(store: S) {
    let (early, late) = (SecretDigest::of("jti-early"), SecretDigest::of("jti-late"));
    assert!(
        store
            .first_use(&early, start() + TimeDelta::minutes(1))
            .await
            .must()
    );
    assert!(
        !store
            .first_use(&early, start() + TimeDelta::minutes(1))
            .await
            .must()
    );
    assert!(
        !store
            .first_use(&early, start() + TimeDelta::hours(9))
            .await
            .must()
    );
    assert!(
        store
            .first_use(&late, precise(start(), 120_000_000))
            .await
            .must()
    );
    assert_eq!(store.purge_used(start()).await.must(), 0);
    assert_eq!(
        store
            .purge_used(start() + TimeDelta::minutes(2))
            .await
            .must(),
        1
    );
    // The late value is remembered 123 ns past the cutoff: still a replay.
    assert!(!store.first_use(&late, start()).await.must());
    assert!(
        store
            .first_use(&early, start() + TimeDelta::minutes(5))
            .await
            .must()
    );
}

/// A value raced by many first uses at once is first for exactly one of them.
pub async fn a_value_raced_by_many_first_uses_is_first_for_exactly_one<S: Store + Clone>(store: S) {
    let results = race(RACERS, |_| {
        let store = store.clone();
        async move {
            store
                .first_use(
                    &SecretDigest::of("raced-jti"),
                    start() + TimeDelta::minutes(1),
                )
                .await
                .must()
        }
    })
    .await;
    assert_eq!(results.iter().filter(|first| **first).count(), 1);
}

/// `code(digest)` returns a code's record exactly as saved, without redeeming it, before its
/// redemption and after; `None` for a code never issued or purged.
pub async fn a_code_is_peeked_without_being_spent_and_still_known_once_spent<S: Store + Clone>(
    store: S,
) {
    let code = Secret::new("the-peeked-code");
    let record = CodeRecord {
        issued_at: precise(start(), 1),
        ..code_record(&code, "grant-1", precise(start(), 600_000_001))
    };
    let other = Secret::new("another-code");
    let other_record = code_record(&other, "grant-2", start() + TimeDelta::minutes(10));
    assert_eq!(store.code(&code.digest()).await.must(), None);
    store.save_code(record.clone()).await.must();
    store.save_code(other_record.clone()).await.must();

    // Peeking, however often, spends nothing.
    for _ in 0..3 {
        assert_eq!(
            store.code(&code.digest()).await.must(),
            Some(record.clone())
        );
    }
    assert_eq!(
        store.redeem_code(&code.digest()).await.must(),
        Redemption::First(record.clone()),
        "peeking at the code spent it"
    );
    // A spent code is still there to see, and still known as reused.
    assert_eq!(
        store.code(&code.digest()).await.must(),
        Some(record.clone())
    );
    assert_eq!(
        store.redeem_code(&code.digest()).await.must(),
        Redemption::Reused(record)
    );
    assert_eq!(
        store.code(&SecretDigest::of("never-issued")).await.must(),
        None
    );
    assert_eq!(
        store.code(&other.digest()).await.must(),
        Some(other_record.clone())
    );
    assert_eq!(
        store.redeem_code(&other.digest()).await.must(),
        Redemption::First(other_record)
    );
    // Once purged, a code is gone for peeks too.
    assert_eq!(
        store
            .purge_codes(start() + TimeDelta::hours(1))
            .await
            .must(),
        2
    );
    assert_eq!(store.code(&code.digest()).await.must(), None);
}

/// What one racing task did to a code: peeked at it or redeemed it.
#[derive(Debug)]
enum Touch {
    Peeked(Option<CodeRecord>),
    Redeemed(Redemption),
}

/// A code raced by many tasks at once, half of them peeking and half redeeming, is
/// [`Redemption::First`] for exactly one redemption and [`Redemption::Reused`] for every other,
/// and every peek sees it.
pub async fn a_code_raced_by_peeks_and_redemptions_is_first_for_exactly_one_and_always_seen<
    S: Store + Clone,
>(
    store: S,
) {
    let code = Secret::new("the-peeked-and-raced-code");
    let record = code_record(&code, "grant-1", start() + TimeDelta::minutes(10));
    store.save_code(record.clone()).await.must();
    let results = race(RACERS, |i| {
        let (store, digest) = (store.clone(), code.digest());
        async move {
            if i % 2 == 0 {
                Touch::Peeked(store.code(&digest).await.must())
            } else {
                Touch::Redeemed(store.redeem_code(&digest).await.must())
            }
        }
    })
    .await;
    let (mut firsts, mut reuses, mut seen) = (0, 0, 0);
    for touch in results {
        match touch {
            Touch::Peeked(Some(found)) if found == record => seen += 1,
            Touch::Redeemed(Redemption::First(found)) if found == record => firsts += 1,
            Touch::Redeemed(Redemption::Reused(found)) if found == record => reuses += 1,
            other => panic!("a racing task got {other:?}"),
        }
    }
    let redeemers = RACERS / 2;
    assert_eq!(
        (firsts, reuses, seen),
        (1, redeemers - 1, RACERS - redeemers),
        "(first redemptions, reuses, peeks that saw the code)"
    );
}

// ---------------------------------------------------------------------------------------------
// Refresh families
// ---------------------------------------------------------------------------------------------

/// A refresh family reads back exactly as saved, and each committed rotation replaces its one
/// record: current and previous digests, generation, times and expiry as the rotation wrote
/// them.
pub async fn a_family_round_trips_and_each_rotation_replaces_its_one_record<S: Store + Clone>(
    store: S,
) {
    let grant = GrantId::new("grant-1");
    assert_eq!(store.family(&grant).await.must(), None);
    let mut first = family("grant-1", "r0");
    first.expires_at = Some(start() + TimeDelta::days(30));
    // The scopes the user granted are kept with the family, through every rotation.
    first.scope = Scopes::parse("directory:read rfis:write").ok();
    assert!(first.scope.is_some());
    first.resource = Some("https://files.example.com".into());
    store.save_family(first.clone()).await.must();
    // An unrelated family, which no lookup below may return.
    store.save_family(family("grant-2", "other")).await.must();
    assert_eq!(store.family(&grant).await.must(), Some(first.clone()));

    let second = rotated(&first, "r1", start() + TimeDelta::hours(1));
    assert!(
        store
            .commit_rotation(&first.current, second.clone())
            .await
            .must()
    );
    let mut third = rotated(&second, "r2", start() + TimeDelta::hours(2));
    // As an idle timeout of a day sets it at the rotation.
    third.expires_at = Some(start() + TimeDelta::hours(26));
    assert!(
        store
            .commit_rotation(&second.current, third.clone())
            .await
            .must()
    );
    // Generation, digests, times and expiry all read back as the rotation wrote them.
    let stored = store.family(&grant).await.must();
    assert_eq!(stored, Some(third.clone()));
    assert_eq!(stored.map(|family| family.generation), Some(3));
    assert_eq!(
        store
            .family(&GrantId::new("grant-2"))
            .await
            .must()
            .map(|family| family.current),
        Some(SecretDigest::of("other"))
    );
}

/// A rotation commits only if the family's current token is still the one expected: a rotation
/// computed from a stale family loses and changes nothing, and a family never saved is not
/// created by one.
pub async fn rotation_is_a_compare_and_swap_that_a_stale_expectation_loses<S: Store + Clone>(
    store: S,
) {
    let grant = GrantId::new("grant-1");
    let first = family("grant-1", "r0");
    store.save_family(first.clone()).await.must();
    let second = rotated(&first, "r1", start() + TimeDelta::minutes(1));
    assert!(
        store
            .commit_rotation(&first.current, second.clone())
            .await
            .must()
    );

    // A second rotation computed from the same (now stale) family loses and changes nothing.
    let stale = rotated(&first, "r1-stale", start() + TimeDelta::minutes(2));
    assert!(!store.commit_rotation(&first.current, stale).await.must());
    assert_eq!(store.family(&grant).await.must(), Some(second.clone()));

    // A rotation of a family that was never saved does nothing.
    let unknown = family("grant-unknown", "u0");
    let next = rotated(&unknown, "u1", start());
    assert!(!store.commit_rotation(&unknown.current, next).await.must());
    assert_eq!(store.family(&unknown.grant).await.must(), None);

    // The fresh expectation still wins.
    let third = rotated(&second, "r2", start() + TimeDelta::minutes(3));
    assert!(
        store
            .commit_rotation(&second.current, third.clone())
            .await
            .must()
    );
    assert_eq!(store.family(&grant).await.must(), Some(third));
}

/// Of many rotations of one family committed at once from the same current token, exactly one
/// wins, and the family is what that one wrote.
pub async fn many_concurrent_rotations_of_one_family_commit_exactly_once<S: Store + Clone>(
    store: S,
) {
    let first = family("grant-1", "r0");
    store.save_family(first.clone()).await.must();
    let results = race(RACERS, |i| {
        let store = store.clone();
        let next = rotated(&first, &format!("r0-{i}"), start() + TimeDelta::seconds(1));
        async move {
            (
                i,
                store
                    .commit_rotation(&SecretDigest::of("r0"), next)
                    .await
                    .must(),
            )
        }
    })
    .await;
    let won: Vec<usize> = results
        .iter()
        .filter(|(_, won)| *won)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(won.len(), 1, "winners: {won:?}");
    let stored = store
        .family(&first.grant)
        .await
        .must()
        .expect("the family is stored");
    assert_eq!(stored.current, SecretDigest::of(&format!("r0-{}", won[0])));
    assert_eq!(stored.previous, Some(first.current));
    assert_eq!(stored.generation, 2);
}

// ---------------------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------------------

/// Revoking a grant marks it revoked (so its access tokens stop) and its family revoked, after
/// which no rotation commits; revoking again is harmless, other grants are untouched, and a
/// grant without a family is revoked all the same.
pub async fn revoking_a_grant_revokes_its_family_and_stops_its_rotation<S: Store + Clone>(
    store: S,
) {
    let grant = GrantId::new("grant-1");
    let first = family("grant-1", "r0");
    store.save_family(first.clone()).await.must();
    store.save_family(family("grant-2", "other")).await.must();
    let second = rotated(&first, "r1", start() + TimeDelta::minutes(1));
    assert!(store.commit_rotation(&first.current, second).await.must());
    assert!(!store.is_revoked(&grant).await.must());

    store
        .revoke_grant(&grant, start() + TimeDelta::minutes(2))
        .await
        .must();
    assert!(store.is_revoked(&grant).await.must());
    let revoked = store
        .family(&grant)
        .await
        .must()
        .expect("the revoked family is stored");
    assert_eq!(revoked.status, FamilyStatus::Revoked);
    assert_eq!(revoked.current, SecretDigest::of("r1"));
    // No rotation commits after the revocation, even one computed from the current token.
    let after = rotated(&revoked, "r2", start() + TimeDelta::minutes(3));
    let after = RefreshFamily {
        status: FamilyStatus::Active,
        ..after
    };
    assert!(!store.commit_rotation(&revoked.current, after).await.must());
    assert_eq!(store.family(&grant).await.must(), Some(revoked.clone()));

    // Revoking again is harmless; other grants are untouched.
    store
        .revoke_grant(&grant, start() + TimeDelta::minutes(4))
        .await
        .must();
    assert!(store.is_revoked(&grant).await.must());
    assert_eq!(store.family(&grant).await.must(), Some(revoked));
    let other = GrantId::new("grant-2");
    assert!(!store.is_revoked(&other).await.must());
    assert_eq!(
        store
            .family(&other)
            .await
            .must()
            .map(|family| family.status),
        Some(FamilyStatus::Active)
    );

    // A grant without a refresh family (a client-credentials token) is revoked all the same.
    let service = GrantId::new("grant-service");
    store.revoke_grant(&service, start()).await.must();
    assert!(store.is_revoked(&service).await.must());
    assert_eq!(store.family(&service).await.must(), None);
}

/// A family saved after its grant was revoked (a reused code can race the first redemption) is
/// stored revoked, and never rotates.
pub async fn a_family_saved_after_its_grant_was_revoked_is_stored_revoked<S: Store + Clone>(
    store: S,
) {
    let grant = GrantId::new("grant-1");
    store.revoke_grant(&grant, start()).await.must();
    let first = family("grant-1", "r0");
    store.save_family(first.clone()).await.must();
    let stored = store
        .family(&grant)
        .await
        .must()
        .expect("the family is stored");
    assert_eq!(
        stored,
        RefreshFamily {
            status: FamilyStatus::Revoked,
            ..first.clone()
        }
    );
    let next = rotated(&first, "r1", start() + TimeDelta::minutes(1));
    assert!(!store.commit_rotation(&first.current, next).await.must());
    assert!(store.is_revoked(&grant).await.must());
}

// ---------------------------------------------------------------------------------------------
// Purge
// ---------------------------------------------------------------------------------------------

/// Purging codes removes exactly those that expired before the cutoff, spent or not, and keeps
/// the others working: an unspent one is still redeemed first, a spent one still known as
/// reused.
pub async fn purge_removes_expired_codes_and_keeps_unexpired_ones_working<S: Store + Clone>(
    store: S,
) {
    let at = |minutes| start() + TimeDelta::minutes(minutes);
    let (old, old_spent, edge, fresh, fresh_spent) = (
        Secret::new("expired-code"),
        Secret::new("expired-spent-code"),
        Secret::new("expires-at-the-cutoff"),
        Secret::new("fresh-code"),
        Secret::new("fresh-spent-code"),
    );
    let fresh_record = code_record(&fresh, "grant-fresh", at(20));
    let fresh_spent_record = code_record(&fresh_spent, "grant-fresh-spent", at(20));
    let edge_record = code_record(&edge, "grant-edge", at(15));
    store
        .save_code(code_record(&old, "grant-old", at(10)))
        .await
        .must();
    store
        .save_code(code_record(&old_spent, "grant-old-spent", at(5)))
        .await
        .must();
    for record in [&edge_record, &fresh_record, &fresh_spent_record] {
        store.save_code(record.clone()).await.must();
    }
    store.redeem_code(&old_spent.digest()).await.must();
    store.redeem_code(&fresh_spent.digest()).await.must();

    // Nothing has expired before the start.
    assert_eq!(store.purge_codes(start()).await.must(), 0);
    assert_eq!(store.purge_codes(at(15)).await.must(), 2);
    assert_eq!(
        store.redeem_code(&old.digest()).await.must(),
        Redemption::Unknown
    );
    assert_eq!(
        store.redeem_code(&old_spent.digest()).await.must(),
        Redemption::Unknown
    );
    // What has not expired stays, spent or not: a spent code must still be known as reused.
    assert_eq!(
        store.redeem_code(&edge.digest()).await.must(),
        Redemption::First(edge_record)
    );
    assert_eq!(
        store.redeem_code(&fresh_spent.digest()).await.must(),
        Redemption::Reused(fresh_spent_record.clone())
    );
    assert_eq!(
        store.redeem_code(&fresh.digest()).await.must(),
        Redemption::First(fresh_record.clone())
    );
    assert_eq!(store.purge_codes(at(15)).await.must(), 0);
    assert_eq!(store.purge_codes(at(20)).await.must(), 1);
    assert_eq!(
        store.redeem_code(&fresh.digest()).await.must(),
        Redemption::Reused(fresh_record)
    );
    assert_eq!(store.purge_codes(at(21)).await.must(), 2);
    assert_eq!(
        store.redeem_code(&fresh.digest()).await.must(),
        Redemption::Unknown
    );
}

/// Purging families removes exactly the revoked ones and those expired at `now`, keeps every
/// other (which still rotate), and leaves the revocations themselves alone.
pub async fn purge_removes_revoked_and_expired_families_and_keeps_active_ones<S: Store + Clone>(
    store: S,
) {
    let now = start() + TimeDelta::days(1);
    let with_expiry = |grant: &str, token: &str, expires_at: Option<DateTime<Utc>>| RefreshFamily {
        expires_at,
        ..family(grant, token)
    };
    // Revoked (and rotated, so it has two tokens), expired, expiring exactly now: purged.
    let revoked = with_expiry("revoked", "revoked-0", None);
    store.save_family(revoked.clone()).await.must();
    assert!(
        store
            .commit_rotation(
                &revoked.current,
                rotated(&revoked, "revoked-1", start() + TimeDelta::hours(1))
            )
            .await
            .must()
    );
    store.revoke_grant(&revoked.grant, start()).await.must();
    let expired = with_expiry("expired", "expired-0", Some(now - TimeDelta::hours(1)));
    let expiring = with_expiry("expiring", "expiring-0", Some(now));
    // Active without expiry, and active until later (also rotated): kept.
    let forever = with_expiry("forever", "forever-0", None);
    let later = with_expiry("later", "later-0", Some(now + TimeDelta::seconds(1)));
    for family in [&expired, &expiring, &forever, &later] {
        store.save_family(family.clone()).await.must();
    }
    let later_rotated = rotated(&later, "later-1", start() + TimeDelta::hours(2));
    assert!(
        store
            .commit_rotation(&later.current, later_rotated.clone())
            .await
            .must()
    );

    // Nothing expired at the start; only the revoked family is spent then.
    assert_eq!(store.purge_families(start()).await.must(), 1);
    assert_eq!(store.purge_families(now).await.must(), 2);
    for grant in ["revoked", "expired", "expiring"] {
        assert_eq!(store.family(&GrantId::new(grant)).await.must(), None);
    }
    // The revocation itself is not a family: the grant stays revoked.
    assert!(store.is_revoked(&revoked.grant).await.must());

    assert_eq!(
        store.family(&forever.grant).await.must(),
        Some(forever.clone())
    );
    assert_eq!(
        store.family(&later.grant).await.must(),
        Some(later_rotated.clone())
    );
    // The survivors still rotate.
    let next = rotated(&forever, "forever-1", now);
    assert!(store.commit_rotation(&forever.current, next).await.must());
    let next = rotated(&later_rotated, "later-2", now);
    assert!(
        store
            .commit_rotation(&later_rotated.current, next)
            .await
            .must()
    );
    assert_eq!(store.purge_families(now).await.must(), 0);
    assert_eq!(
        store
            .purge_families(now + TimeDelta::seconds(1))
            .await
            .must(),
        1
    );
    assert!(store.family(&forever.grant).await.must().is_some());
}

/// Purging revocations forgets exactly those made before the cutoff; revoking again does not make
/// a revocation younger, and a grant revoked again after it was forgotten is revoked anew.
pub async fn purge_forgets_only_revocations_older_than_the_cutoff<S: Store + Clone>(store: S) {
    let at = |minutes| start() + TimeDelta::minutes(minutes);
    let (old, edge, recent) = (
        GrantId::new("old"),
        GrantId::new("edge"),
        GrantId::new("recent"),
    );
    store.revoke_grant(&old, at(0)).await.must();
    store.revoke_grant(&edge, at(30)).await.must();
    store.revoke_grant(&recent, at(50)).await.must();
    // Revoking again does not make a revocation younger: the first time stands.
    store.revoke_grant(&old, at(40)).await.must();

    assert_eq!(store.purge_revocations(at(0)).await.must(), 0);
    assert_eq!(store.purge_revocations(at(30)).await.must(), 1);
    assert!(!store.is_revoked(&old).await.must());
    assert!(store.is_revoked(&edge).await.must());
    assert!(store.is_revoked(&recent).await.must());
    assert_eq!(store.purge_revocations(at(31)).await.must(), 1);
    assert!(!store.is_revoked(&edge).await.must());
    assert!(store.is_revoked(&recent).await.must());
    // A grant revoked again after its revocation was forgotten is revoked anew.
    store.revoke_grant(&old, at(60)).await.must();
    assert!(store.is_revoked(&old).await.must());
    assert_eq!(store.purge_revocations(at(51)).await.must(), 1);
    assert!(store.is_revoked(&old).await.must());
    assert!(!store.is_revoked(&recent).await.must());
}

// ---------------------------------------------------------------------------------------------
// Signing keys
// ---------------------------------------------------------------------------------------------

/// A sealed signing key as the key schedule stores it (the sealed bytes stand for ciphertext:
/// every byte value, then the key id).
fn stored_key(kid: &str, generation: u64, algorithm: Algorithm, at: DateTime<Utc>) -> StoredKey {
    StoredKey {
        kid: kid.to_owned(),
        generation,
        algorithm,
        sealed: (0..=u8::MAX).chain(kid.bytes()).collect(),
        created_at: at,
        signs_from: at + TimeDelta::minutes(10),
    }
}

/// Every stored key, by generation (a store may list them in any order).
async fn keys_in<S: Store>(store: &S) -> Vec<StoredKey> {
    let mut keys = store.signing_keys().await.must();
    keys.sort_by_key(|key| key.generation);
    keys
}

/// A signing key is stored only if no stored key has its key id or its generation; every stored
/// key is listed exactly as added (algorithm, sealed bytes, times to the nanosecond), and a
/// deleted key is gone while the others stay.
pub async fn signing_keys_are_added_once_per_kid_and_generation_listed_and_deleted<
    S: Store + Clone,
>(
    store: S,
) {
    assert_eq!(keys_in(&store).await, vec![]);
    let first = stored_key("key-1", 1, Algorithm::EdDSA, precise(start(), 1));
    assert!(
        store.add_signing_key(first.clone()).await.must(),
        "the first key was refused"
    );
    assert_eq!(keys_in(&store).await, vec![first.clone()]);

    // Another key with its id, or with its generation, is not stored.
    let same_kid = stored_key("key-1", 2, Algorithm::EdDSA, precise(start(), 2));
    assert!(
        !store.add_signing_key(same_kid).await.must(),
        "a second key with a stored key id was stored"
    );
    let same_generation = stored_key("key-1b", 1, Algorithm::EdDSA, precise(start(), 3));
    assert!(
        !store.add_signing_key(same_generation).await.must(),
        "a second key of a stored generation was stored"
    );
    assert_eq!(keys_in(&store).await, vec![first.clone()]);

    let second = stored_key("key-2", 2, Algorithm::ES256, precise(start(), 4));
    let third = stored_key("key-3", 3, Algorithm::RS256, precise(start(), 5));
    assert!(
        store.add_signing_key(third.clone()).await.must(),
        "a key of a new id and generation was refused"
    );
    assert!(
        store.add_signing_key(second.clone()).await.must(),
        "a key of a new id and generation was refused"
    );
    assert_eq!(
        keys_in(&store).await,
        vec![first, second.clone(), third.clone()]
    );

    // Deleting a key leaves the others; deleting one not (or no longer) stored is harmless.
    store.delete_signing_key("key-1").await.must();
    assert_eq!(keys_in(&store).await, vec![second.clone(), third.clone()]);
    store.delete_signing_key("key-1").await.must();
    store.delete_signing_key("never-stored").await.must();
    assert_eq!(keys_in(&store).await, vec![second, third]);
}

/// Of many instances storing a key of the same generation at once, each with a key id of its
/// own, exactly one stores it, and only that key is listed.
pub async fn many_concurrent_additions_of_one_key_generation_store_exactly_one<S: Store + Clone>(
    store: S,
) {
    let keys: Vec<StoredKey> = (0..RACERS)
        .map(|i| stored_key(&format!("key-{i}"), 1, Algorithm::EdDSA, start()))
        .collect();
    let results = race(RACERS, |i| {
        let (store, key) = (store.clone(), keys[i].clone());
        async move { store.add_signing_key(key).await.must() }
    })
    .await;
    let won = winners(&results);
    assert_eq!(
        won.len(),
        1,
        "{}",
        tally(&won, "keys of one generation were stored")
    );
    assert_eq!(keys_in(&store).await, vec![keys[won[0]].clone()]);
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// A time with sub-millisecond digits, as the system clock gives them.
fn precise(base: DateTime<Utc>, micros: i64) -> DateTime<Utc> {
    base + TimeDelta::microseconds(micros) + TimeDelta::nanoseconds(123)
}

/// Times read back exactly as saved, to the nanosecond, as the system clock gives them.
pub async fn times_read_back_exactly_as_saved<S: Store + Clone>(store: S) {
    let at = precise(start(), 1_234_567);
    let mut first = family("grant-1", "r0");
    first.created_at = at;
    first.rotated_at = at;
    first.expires_at = Some(at + TimeDelta::days(30));
    store.save_family(first.clone()).await.must();
    assert_eq!(store.family(&first.grant).await.must(), Some(first.clone()));
    let second = rotated(&first, "r1", precise(start(), 7_654_321));
    assert!(
        store
            .commit_rotation(&first.current, second.clone())
            .await
            .must()
    );
    assert_eq!(store.family(&first.grant).await.must(), Some(second));

    let (jane, app) = (UserId::new("jane"), ClientId::new("fieldsync"));
    store.save_consent(&jane, &app, at).await.must();
    assert_eq!(store.consent(&jane, &app).await.must(), Some(at));
}

/// A family that expires after `now`, in the same millisecond, is still valid: purge keeps it.
pub async fn purge_keeps_a_family_that_expires_a_fraction_of_a_millisecond_later<
    S: Store + Clone,
>(
    store: S,
) {
    // `now` and the expiry fall in the same millisecond, expiry after now: still valid, since
    // `grant::rotate` refuses only once `now >= expires_at`.
    let now = precise(start(), 100);
    let mut valid = family("grant-1", "r0");
    valid.expires_at = Some(precise(start(), 600));
    assert!(valid.expires_at.is_some_and(|expires_at| now < expires_at));
    store.save_family(valid.clone()).await.must();
    assert_eq!(store.purge_families(now).await.must(), 0);
    assert!(store.family(&valid.grant).await.must().is_some());
}

// ---------------------------------------------------------------------------------------------
// Two handles on the same data
// ---------------------------------------------------------------------------------------------

/// Two handles on the same data (two instances of a server sharing a database) see each other's
/// writes at once; a code raced through both is first for exactly one caller, a family raced
/// through both rotates once, a revocation through one stops rotation through the other, and
/// what one wrote outlives it.
pub async fn two_handles_see_each_others_writes_and_race_fairly<H: Handles>(handles: &H) {
    let (a, b) = (handles.open().await, handles.open().await);
    let app = new_app("FieldSync");
    a.save_app(app.clone()).await.must();
    assert_eq!(b.app(&app.client_id).await.must(), Some(app));

    // A code raced through both handles is first for exactly one caller.
    let code = Secret::new("the-code");
    let record = code_record(&code, "grant-1", start() + TimeDelta::minutes(10));
    b.save_code(record.clone()).await.must();
    let results = race(RACERS, |i| {
        let (a, b, digest) = (a.clone(), b.clone(), code.digest());
        async move {
            if i % 2 == 0 {
                a.redeem_code(&digest).await.must()
            } else {
                b.redeem_code(&digest).await.must()
            }
        }
    })
    .await;
    let firsts = results
        .iter()
        .filter(|redemption| matches!(redemption, Redemption::First(_)))
        .count();
    assert_eq!(firsts, 1, "redemptions through two handles that were first");
    assert!(results.iter().all(|redemption| matches!(
        redemption,
        Redemption::First(found) | Redemption::Reused(found) if found == &record
    )));

    // A family rotates once however many rotations race through both handles.
    let first = family("grant-1", "r0");
    a.save_family(first.clone()).await.must();
    let results = race(RACERS, |i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let next = rotated(&first, &format!("r0-{i}"), start() + TimeDelta::seconds(1));
        async move {
            store
                .commit_rotation(&SecretDigest::of("r0"), next)
                .await
                .must()
        }
    })
    .await;
    assert_eq!(
        results.iter().filter(|won| **won).count(),
        1,
        "rotations through two handles that committed"
    );

    // A revocation through one is seen through the other, and stops rotation there.
    a.revoke_grant(&first.grant, start()).await.must();
    assert!(b.is_revoked(&first.grant).await.must());
    let current = b
        .family(&first.grant)
        .await
        .must()
        .expect("the family is stored");
    assert_eq!(current.status, FamilyStatus::Revoked);
    let next = RefreshFamily {
        status: FamilyStatus::Active,
        ..rotated(&current, "late", start() + TimeDelta::seconds(2))
    };
    assert!(!b.commit_rotation(&current.current, next).await.must());

    // And what one handle wrote outlives it.
    drop(a);
    let c = handles.open().await;
    assert!(c.is_revoked(&first.grant).await.must());
    assert_eq!(
        c.redeem_code(&code.digest()).await.must(),
        Redemption::Reused(record)
    );
}

/// Through two handles on the same data, an installation raced in is inserted once and updates
/// raced over one revision commit once, a key generation raced in is stored once, and each
/// handle sees what the other wrote.
pub async fn two_handles_insert_update_and_add_keys_exactly_once_between_them<H: Handles>(
    handles: &H,
) {
    let (a, b) = (handles.open().await, handles.open().await);
    let app = new_app("FieldSync");
    let acme = CompanyId::new("acme");
    let requests: Vec<Installation> = (0..RACERS)
        .map(|i| Installation::request(&app, &acme, &UserId::new(format!("user-{i}")), start()))
        .collect();
    let results = race(RACERS, |i| {
        let (store, request) = (
            if i % 2 == 0 { a.clone() } else { b.clone() },
            requests[i].clone(),
        );
        async move { store.insert_installation(request).await.must() }
    })
    .await;
    let won = winners(&results);
    assert_eq!(
        won.len(),
        1,
        "{}",
        tally(&won, "inserts of one installation won")
    );
    let inserted = &requests[won[0]];
    for store in [&a, &b] {
        assert_eq!(
            store
                .installation(&app.client_id, &acme)
                .await
                .must()
                .as_ref(),
            Some(inserted)
        );
    }

    let updates: Vec<Installation> = (0..RACERS)
        .map(|i| Installation {
            status: InstallationStatus::Denied,
            decided_by: Some(UserId::new(format!("admin-{i}"))),
            decided_at: Some(start() + TimeDelta::minutes(1)),
            revision: 1,
            ..inserted.clone()
        })
        .collect();
    let results = race(RACERS, |i| {
        let (store, update) = (
            if i % 2 == 0 { a.clone() } else { b.clone() },
            updates[i].clone(),
        );
        async move { store.update_installation(0, update).await.must() }
    })
    .await;
    let won = winners(&results);
    assert_eq!(
        won.len(),
        1,
        "{}",
        tally(&won, "updates over one revision committed")
    );
    for store in [&a, &b] {
        assert_eq!(
            store
                .installation(&app.client_id, &acme)
                .await
                .must()
                .as_ref(),
            Some(&updates[won[0]])
        );
    }

    let keys: Vec<StoredKey> = (0..RACERS)
        .map(|i| stored_key(&format!("key-{i}"), 1, Algorithm::EdDSA, start()))
        .collect();
    let results = race(RACERS, |i| {
        let (store, key) = (
            if i % 2 == 0 { a.clone() } else { b.clone() },
            keys[i].clone(),
        );
        async move { store.add_signing_key(key).await.must() }
    })
    .await;
    let won = winners(&results);
    assert_eq!(
        won.len(),
        1,
        "{}",
        tally(&won, "keys of one generation were stored")
    );
    assert_eq!(keys_in(&a).await, vec![keys[won[0]].clone()]);
    assert_eq!(keys_in(&b).await, vec![keys[won[0]].clone()]);
}

// ---------------------------------------------------------------------------------------------
// Any directory: what the server asks of the host's
// ---------------------------------------------------------------------------------------------

/// A service account of `app` named by a fresh id, as the server makes them.
fn service_account(company: &CompanyId, app: &str, permissions: Permissions) -> ServiceAccount {
    let id = UserId::generate(&mut rand::thread_rng());
    ServiceAccount {
        company: company.clone(),
        name: format!("{id} (service account)"),
        id,
        app: ClientId::new(app),
        permissions,
    }
}

/// Up to two projects the directory lists for `company` (a host's project ids are its own),
/// and permissions on them.
async fn listed_projects<D: Directory>(directory: &D, company: &CompanyId) -> Vec<ProjectId> {
    let listed = directory.company(company).await.must();
    let listed = listed.unwrap_or_else(|| {
        panic!("the company the suite was given, {company}, is not in the directory")
    });
    listed
        .projects
        .iter()
        .take(2)
        .map(|project| project.id.clone())
        .collect()
}

fn on_projects(projects: &[ProjectId], level: Level) -> Permissions {
    projects.iter().fold(Permissions::none(), |held, project| {
        held.with(Scope::Project(project.clone()), "rfis", level)
    })
}

/// A company, user or membership the directory never heard of reads as nothing (the server
/// denies on that), not as an error.
pub async fn unknown_ids_read_as_nothing<D: Directory>(directory: D, company: CompanyId) {
    let nobody = UserId::new("appgrant-conformance-nobody");
    let nowhere = CompanyId::new("appgrant-conformance-nowhere");
    assert_eq!(directory.company(&nowhere).await.must(), None);
    assert_eq!(directory.user(&nobody).await.must(), None);
    assert_eq!(directory.membership(&company, &nobody).await.must(), None);
    assert_eq!(directory.memberships_of(&nobody).await.must(), Vec::new());
    assert!(
        directory.company(&company).await.must().is_some(),
        "the company the suite was given, {company}, is not in the directory"
    );
}

/// `member` answers what `user` and `membership` answer, for a member, for the same user in a
/// company they are not in, and for nobody: decisions read the acting user through it.
pub async fn a_member_reads_as_its_user_and_membership_read<D: Directory>(
    directory: D,
    company: CompanyId,
) {
    let projects = listed_projects(&directory, &company).await;
    let approved = on_projects(&projects[..projects.len().min(1)], Level::ReadOnly);
    let account = service_account(&company, "member-check", approved.clone());
    directory.save_service_account(&account).await.must();
    let nowhere = CompanyId::new("appgrant-conformance-nowhere");
    let nobody = UserId::new("appgrant-conformance-nobody");
    for (company, user) in [
        (&company, &account.id),
        (&nowhere, &account.id),
        (&company, &nobody),
    ] {
        let separately = (
            directory.user(user).await.must(),
            directory.membership(company, user).await.must(),
        );
        assert_eq!(
            directory.member(company, user).await.must(),
            separately,
            "member({company}, {user}) differs from user and membership"
        );
    }
    let (user, held) = directory.member(&company, &account.id).await.must();
    assert!(user.is_some_and(|user| user.id == account.id));
    assert_eq!(held, Some(approved));
}

/// A saved service account is an active user of its app, a member of its company holding
/// exactly what was saved (and of no other company: asked about another, it is not a member),
/// and a later save replaces what it holds: what decisions read is what the admin approved
/// last.
pub async fn a_service_account_holds_exactly_what_was_saved_and_a_later_save_replaces_it<
    D: Directory,
>(
    directory: D,
    company: CompanyId,
) {
    let projects = listed_projects(&directory, &company).await;
    let approved = on_projects(&projects[..projects.len().min(1)], Level::Standard);
    let account = service_account(&company, "fieldsync", approved.clone());
    let id = account.id.clone();
    directory.save_service_account(&account).await.must();

    let user = directory.user(&id).await.must();
    let user = user.expect("a saved service account reads back as a user");
    assert_eq!(user.id, id);
    assert_eq!(
        user.kind,
        UserKind::ServiceAccount {
            app: account.app.clone()
        },
        "the kind names the app"
    );
    assert!(user.is_active(), "a saved service account is active");
    let held = directory.membership(&company, &id).await.must();
    assert_eq!(held, Some(approved.clone()));
    let elsewhere = CompanyId::new("appgrant-conformance-nowhere");
    assert_eq!(
        directory.membership(&elsewhere, &id).await.must(),
        None,
        "a service account is a member of its own company only"
    );
    assert_eq!(
        directory.memberships_of(&id).await.must(),
        vec![(company.clone(), approved)],
        "a service account belongs to its own company only"
    );

    // An update approved, then projects changed: each save replaces what it held.
    let raised = on_projects(&projects, Level::Admin);
    let narrowed = on_projects(&projects[..projects.len().min(1)], Level::ReadOnly);
    for holds in [raised, narrowed] {
        let again = ServiceAccount {
            permissions: holds.clone(),
            ..account.clone()
        };
        directory.save_service_account(&again).await.must();
        let held = directory.membership(&company, &id).await.must();
        assert_eq!(held, Some(holds.clone()));
        assert_eq!(
            directory.memberships_of(&id).await.must(),
            vec![(company.clone(), holds)]
        );
    }
    // Saving it again unchanged (a retried approval) changes nothing.
    let last = ServiceAccount {
        permissions: on_projects(&projects[..projects.len().min(1)], Level::ReadOnly),
        ..account.clone()
    };
    directory.save_service_account(&last).await.must();
    let held = directory.membership(&company, &id).await.must();
    assert_eq!(held, Some(last.permissions));
    let user = directory.user(&id).await.must();
    assert!(user.is_some_and(|user| user.is_active()));
    // Left deactivated, as every property leaves its accounts.
    directory
        .deactivate_service_account(&company, &id)
        .await
        .must();
}

/// After an uninstall deactivates a service account, the directory answers it deactivated or
/// not at all (either makes every decision for it deny), a later save of what it holds (a
/// change that raced the uninstall) leaves it so, and other accounts are untouched.
pub async fn a_deactivated_service_account_reads_as_deactivated_or_absent<D: Directory>(
    directory: D,
    company: CompanyId,
) {
    let projects = listed_projects(&directory, &company).await;
    let gone = service_account(
        &company,
        "fieldsync",
        on_projects(&projects, Level::Standard),
    );
    let stays = service_account(
        &company,
        "other-app",
        on_projects(&projects, Level::ReadOnly),
    );
    for account in [&gone, &stays] {
        directory.save_service_account(account).await.must();
    }
    directory
        .deactivate_service_account(&company, &gone.id)
        .await
        .must();
    let deactivated = async |directory: &D| {
        let after = directory.user(&gone.id).await.must();
        assert!(
            after.as_ref().is_none_or(|user| !user.is_active()),
            "a deactivated service account reads as active: {after:?}"
        );
    };
    deactivated(&directory).await;
    directory.save_service_account(&gone).await.must();
    deactivated(&directory).await;

    let other = directory.user(&stays.id).await.must();
    assert!(
        other.is_some_and(|user| user.is_active()),
        "deactivating one service account deactivated another"
    );
    assert_eq!(
        directory.membership(&company, &stays.id).await.must(),
        Some(stays.permissions.clone())
    );
    // Deactivating again, or an account it never heard of, is not an error.
    directory
        .deactivate_service_account(&company, &gone.id)
        .await
        .must();
    let nobody = UserId::new("appgrant-conformance-nobody");
    directory
        .deactivate_service_account(&company, &nobody)
        .await
        .must();
    directory
        .deactivate_service_account(&company, &stays.id)
        .await
        .must();
}

/// A service account saved under a person's id (a host's collision: the server mints fresh
/// ids) gives the person nothing: neither the account's permissions nor another kind.
pub async fn a_service_account_saved_over_a_persons_id_gives_the_person_nothing<
    S: DirectoryStore + Clone,
>(
    store: S,
) {
    let acme = CompanyId::new("acme");
    let john = User::person("john", "John");
    store.save_user(john.clone()).await.must();
    let holds = tower_rfis(Level::ReadOnly);
    store
        .save_membership(&acme, &john.id, holds.clone())
        .await
        .must();
    let collision = ServiceAccount {
        id: john.id.clone(),
        ..service_account(&acme, "fieldsync", tower_rfis(Level::Admin))
    };
    store.save_service_account(&collision).await.must();
    assert_eq!(store.user(&john.id).await.must(), Some(john.clone()));
    assert_eq!(store.membership(&acme, &john.id).await.must(), Some(holds));
}

/// A store that is its own directory may read a decision's member with the rest; if it does,
/// the member is what [`Directory::member`] reads for the acting user: the person, or the
/// service account the installation read names (a new one once the installation names it, none
/// while it names none), and nothing for a user of another company.
pub async fn a_decisions_member_read_in_store_is_the_one_its_installation_names<S>(store: S)
where
    S: Store + DirectoryStore + Clone,
{
    let app = new_app("FieldSync");
    store.save_app(app.clone()).await.must();
    let (acme, globex) = (CompanyId::new("acme"), CompanyId::new("globex"));
    let grant = GrantId::new("grant-1");
    let john = UserId::new("john");
    store.save_user(User::person("john", "John")).await.must();
    store
        .save_membership(&acme, &john, tower_rfis(Level::ReadOnly))
        .await
        .must();
    let query = |company, acting| DecisionQuery {
        app: &app.client_id,
        company,
        grant: &grant,
        acting,
        member: MemberReads::InStore,
    };
    let member_of = async |query: DecisionQuery<'_>| {
        let read = records_agree(&store, &query).await;
        // A store that leaves the member to the directory reads none.
        let member = read.member?;
        let expected = match query.acting_user(read.installation.as_ref()) {
            Some(user) => store.member(query.company, &user).await.must(),
            None => (None, None),
        };
        assert_eq!(
            member, expected,
            "the member of {query:?} differs from its own read"
        );
        Some(member)
    };
    let person = Acting::Person(&john);
    for company in [&acme, &globex] {
        member_of(query(company, person)).await;
    }
    let mut installation = Installation::request(&app, &acme, &john, start());
    store.save_installation(installation.clone()).await.must();
    if let Some(member) = member_of(query(&acme, Acting::ServiceAccount)).await {
        assert_eq!(member, (None, None), "an account read with none approved");
    }
    for (name, level) in [("first", Level::ReadOnly), ("second", Level::Admin)] {
        let account = service_account(&acme, app.client_id.as_str(), tower_rfis(level));
        store.save_service_account(&account).await.must();
        installation.service_account = Some(ServiceAccountGrant {
            user: account.id.clone(),
            approved: Manifest::new(1),
            permitted_projects: BTreeSet::from([ProjectId::new("tower")]),
        });
        store.save_installation(installation.clone()).await.must();
        if let Some((user, held)) = member_of(query(&acme, Acting::ServiceAccount)).await {
            assert_eq!(
                user.map(|user| user.id),
                Some(account.id),
                "the {name} account"
            );
            assert_eq!(
                held,
                Some(tower_rfis(level)),
                "what the {name} account holds"
            );
        }
        member_of(query(&globex, Acting::ServiceAccount)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Every property, in one call
// ---------------------------------------------------------------------------------------------

/// Declares every property once, in three groups: the OAuth state (`store` properties take a
/// store, `handles` properties the handles), appgrant's directory tables, and any directory.
/// The lists of names and the runners come from these lists, in this order.
macro_rules! properties {
    (
        oauth_state { $( $state:ident : $takes:ident ; )* }
        directory_tables { $( $table:ident ; )* }
        directory { $( $directory:ident ; )* }
    ) => {
        /// The name of every property, in the order [`run_all`] runs them; each is also a
        /// function of this module.
        pub const PROPERTIES: &[&str] = &[
            $( stringify!($state), )* $( stringify!($table), )* $( stringify!($directory), )*
        ];

        /// The properties of the OAuth state, in the order [`run_oauth_state`] runs them.
        pub const OAUTH_STATE_PROPERTIES: &[&str] = &[$( stringify!($state) ),*];

        /// The properties of any [`Directory`], in the order [`run_directory`] runs them.
        pub const DIRECTORY_PROPERTIES: &[&str] = &[$( stringify!($directory) ),*];

        /// Runs every property on a store that keeps the directory too (as appgrant's do), each
        /// on a fresh data set that `fresh` makes (an empty store, for a database a new
        /// database or schema, whose [`Handles::open`] connects to it), then panics with a
        /// report naming every property that failed and what it said, or returns if all
        /// passed. Run it in a tokio runtime, the multi-threaded one for races that run in
        /// parallel.
        pub async fn run_all<H>(mut fresh: impl AsyncFnMut() -> H)
        where
            H: Handles,
            H::Store: DirectoryStore,
        {
            let mut report = Report::default();
            $(
                let handles = fresh().await;
                let outcome = Unwinding(Box::pin(properties!(@run $state $takes handles))).await;
                report.record(stringify!($state), outcome);
                drop(handles);
            )*
            $(
                let handles = fresh().await;
                let outcome = Unwinding(Box::pin(async {
                    $table(handles.open().await).await
                }))
                .await;
                report.record(stringify!($table), outcome);
                drop(handles);
            )*
            $(
                let handles = fresh().await;
                let outcome = Unwinding(Box::pin(async {
                    let store = handles.open().await;
                    let acme = Company::new("acme", "Acme Construction")
                        .with_project("tower", "Riverside Tower")
                        .with_project("depot", "North Depot");
                    store.save_company(acme).await.must();
                    $directory(store, CompanyId::new("acme")).await
                }))
                .await;
                report.record(stringify!($directory), outcome);
                drop(handles);
            )*
            report.conclude();
        }

        /// Runs the OAuth-state properties only, for a store used with a directory of the
        /// host's own (see [`run_all`] for `fresh` and the report).
        pub async fn run_oauth_state<H: Handles>(mut fresh: impl AsyncFnMut() -> H) {
            let mut report = Report::default();
            $(
                let handles = fresh().await;
                let outcome = Unwinding(Box::pin(properties!(@run $state $takes handles))).await;
                report.record(stringify!($state), outcome);
                drop(handles);
            )*
            report.conclude();
        }

        /// Runs the properties every [`Directory`] must have, for a host's own directory:
        /// `fresh` opens it, and names a company of the host's, listing at least one project, in
        /// which the suite may create, change and deactivate service accounts (it leaves them
        /// behind, deactivated: point it at a test database). Panics with a report, as
        /// [`run_all`] does.
        pub async fn run_directory<D: Directory>(
            mut fresh: impl AsyncFnMut() -> (D, CompanyId),
        ) {
            let mut report = Report::default();
            $(
                let (directory, company) = fresh().await;
                let outcome =
                    Unwinding(Box::pin(async { $directory(directory, company).await })).await;
                report.record(stringify!($directory), outcome);
            )*
            report.conclude();
        }
    };
    (@run $name:ident store $handles:ident) => {
        async { $name($handles.open().await).await }
    };
    (@run $name:ident handles $handles:ident) => {
        async { $name(&$handles).await }
    };
}

properties! {
    oauth_state {
        apps_round_trip_and_are_replaced: store;
        apps_are_listed_once_each_as_last_saved_sorted_by_client_id: store;
        deleting_an_app_removes_only_its_record_and_says_whether_there_was_one: store;
        an_app_is_updated_only_at_the_revision_it_was_read_at_and_never_re_created: store;
        many_concurrent_updates_of_one_app_commit_exactly_once: store;
        installations_round_trip_are_replaced_and_listed_per_app: store;
        an_app_read_with_its_installation_reads_as_each_alone: store;
        a_decisions_records_read_together_read_as_each_alone: store;
        many_concurrent_reads_each_answer_their_own_question: store;
        a_companys_installations_are_listed_sorted_by_client_id: store;
        an_installation_is_inserted_once_and_updated_only_at_the_revision_it_was_read_at: store;
        many_concurrent_inserts_and_updates_of_one_installation_commit_exactly_once: store;
        consents_round_trip_and_are_replaced: store;
        consents_are_listed_per_user_and_forgotten: store;
        a_persons_families_for_one_app_are_listed_without_anyone_elses: store;
        a_code_is_redeemed_first_then_reused_and_an_unknown_code_is_unknown: store;
        a_code_raced_by_many_redemptions_is_first_for_exactly_one: store;
        a_code_is_peeked_without_being_spent_and_still_known_once_spent: store;
        a_code_raced_by_peeks_and_redemptions_is_first_for_exactly_one_and_always_seen: store;
        a_family_round_trips_and_each_rotation_replaces_its_one_record: store;
        rotation_is_a_compare_and_swap_that_a_stale_expectation_loses: store;
        many_concurrent_rotations_of_one_family_commit_exactly_once: store;
        revoking_a_grant_revokes_its_family_and_stops_its_rotation: store;
        a_family_saved_after_its_grant_was_revoked_is_stored_revoked: store;
        purge_removes_expired_codes_and_keeps_unexpired_ones_working: store;
        purge_removes_revoked_and_expired_families_and_keeps_active_ones: store;
        purge_forgets_only_revocations_older_than_the_cutoff: store;
        a_value_is_used_first_once_and_forgotten_only_once_it_lapsed: store;
        a_value_raced_by_many_first_uses_is_first_for_exactly_one: store;
        signing_keys_are_added_once_per_kid_and_generation_listed_and_deleted: store;
        many_concurrent_additions_of_one_key_generation_store_exactly_one: store;
        times_read_back_exactly_as_saved: store;
        purge_keeps_a_family_that_expires_a_fraction_of_a_millisecond_later: store;
        two_handles_see_each_others_writes_and_race_fairly: handles;
        two_handles_insert_update_and_add_keys_exactly_once_between_them: handles;
    }
    directory_tables {
        companies_and_users_round_trip_and_are_replaced;
        memberships_round_trip_per_company_and_are_replaced;
        members_are_listed_sorted_by_user_id_with_their_permissions;
        a_service_account_saved_over_a_persons_id_gives_the_person_nothing;
        a_decisions_member_read_in_store_is_the_one_its_installation_names;
        many_concurrent_decisions_each_read_their_own_member;
    }
    directory {
        unknown_ids_read_as_nothing;
        a_member_reads_as_its_user_and_membership_read;
        a_service_account_holds_exactly_what_was_saved_and_a_later_save_replaces_it;
        a_deactivated_service_account_reads_as_deactivated_or_absent;
    }
}

/// What each property did, for the report [`run_all`] ends with.
#[derive(Default)]
struct Report {
    passed: usize,
    failed: Vec<(&'static str, String)>,
}

impl Report {
    fn record(&mut self, property: &'static str, outcome: std::thread::Result<()>) {
        match outcome {
            Ok(()) => {
                println!("store conformance: {property} ... ok");
                self.passed += 1;
            }
            Err(panic) => {
                let said = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|said| (*said).to_owned()))
                    .unwrap_or_else(|| "(a panic without a message)".to_owned());
                println!("store conformance: {property} ... FAILED");
                self.failed.push((property, said));
            }
        }
    }

    fn conclude(self) {
        if self.failed.is_empty() {
            return;
        }
        let mut report = format!(
            "the store fails {} of appgrant's {} store conformance properties:",
            self.failed.len(),
            self.failed.len() + self.passed
        );
        for (property, said) in &self.failed {
            report.push_str(&format!(
                "\n\n{property}:\n    {}",
                said.replace('\n', "\n    ")
            ));
        }
        panic!("{report}");
    }
}

/// A future that catches a panic of the future it polls, as `Err` with the panic's payload.
struct Unwinding<F>(std::pin::Pin<Box<F>>);

impl<F: Future> Future for Unwinding<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        // The future is dropped after a panic, never polled again, so nothing observes a
        // broken invariant of it.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(context))) {
            Ok(poll) => poll.map(Ok),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}
