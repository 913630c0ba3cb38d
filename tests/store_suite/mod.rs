//! The store test suite: every store test is written once here, generic over the store, and
//! `tests/store_backends.rs` runs it against every backend (memory, SQLite, PostgreSQL).
//!
//! A test takes the store it runs on (`store: S`), or, when it needs more than one handle on
//! the same data (two pools, as two processes would have), a [`Handles`] that opens them.
//! The [`World`] builder seeds an [`AuthorizationServer`] on any store for the end-to-end
//! stories; `tests/shared_database.rs` reuses it, and the database [`fixtures`].
#![allow(dead_code)]

pub mod fixtures;

use appgrant::grant::{
    AppRegistration, AuthorizationRequest, AuthorizationResponse, ClientCredentials, CodeRecord,
    ErrorCode, FamilyStatus, Redemption, RefreshFamily, TokenError, TokenRequest, TokenResponse,
    pkce,
};
use appgrant::model::*;
use appgrant::server::{ManualClock, RegisteredApp};
use appgrant::store::{AppStore, CodeStore, RefreshStore, RevocationStore, Store};
use appgrant::token::{Algorithm, KeySet, RefreshTokenKey, Secret, SigningKey, ValidationError};
use appgrant::{AuthorizationServer, Config, Decision, DenyReason};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

pub const ISSUER: &str = "https://auth.example.com";
pub const REDIRECT: &str = "https://app.example.com/callback";
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

/// When every test's story starts: a whole second, so no backend has to round it.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

/// Runs `make(i)` for `count` tokio tasks released together, and collects the results.
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
        results.push(task.await.expect("a racing task panicked"));
    }
    results
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

fn registration(name: &str) -> AppRegistration {
    AppRegistration {
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
    }
}

fn new_app(name: &str) -> App {
    registration(name)
        .register(&mut rand::thread_rng())
        .unwrap()
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
    }
}

/// An active family of `grant` whose current refresh token is `current`, made at [`start`].
pub fn family(grant: &str, current: &str) -> RefreshFamily {
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
    }
}

/// `family` rotated from its current token to `next` at `at`, as `grant::rotate` does it.
pub fn rotated(family: &RefreshFamily, next: &str, at: DateTime<Utc>) -> RefreshFamily {
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

pub async fn apps_round_trip_and_are_replaced<S: Store + Clone>(store: S) {
    let mut app = new_app("FieldSync");
    let other = new_app("Other");
    assert_eq!(store.app(&app.client_id).await.unwrap(), None);
    store.save_app(app.clone()).await.unwrap();
    store.save_app(other.clone()).await.unwrap();
    assert_eq!(store.app(&app.client_id).await.unwrap(), Some(app.clone()));

    app.name = "FieldSync 2".into();
    app.redirect_uris
        .push("https://app.example.com/other/".into());
    app.publish_manifest(Manifest::new(0).project_tool("budget", Level::Admin));
    app.ceiling = Some([(Tool::new("rfis"), Level::ReadOnly)].into_iter().collect());
    store.save_app(app.clone()).await.unwrap();
    assert_eq!(store.app(&app.client_id).await.unwrap(), Some(app.clone()));
    assert_eq!(store.app(&other.client_id).await.unwrap(), Some(other));
    assert_eq!(store.app(&ClientId::new("nobody")).await.unwrap(), None);
}

pub async fn companies_and_users_round_trip_and_are_replaced<S: Store + Clone>(store: S) {
    let acme = CompanyId::new("acme");
    assert_eq!(store.company(&acme).await.unwrap(), None);
    let mut company = Company::new("acme", "Acme Construction");
    store.save_company(company.clone()).await.unwrap();
    assert_eq!(store.company(&acme).await.unwrap(), Some(company.clone()));
    company.name = "Acme Holdings".into();
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    store.save_company(company.clone()).await.unwrap();
    assert_eq!(store.company(&acme).await.unwrap(), Some(company));

    let jane = UserId::new("jane");
    assert_eq!(store.user(&jane).await.unwrap(), None);
    let mut user = User::person("jane", "Jane");
    store.save_user(user.clone()).await.unwrap();
    assert_eq!(store.user(&jane).await.unwrap(), Some(user.clone()));
    user.name = "Jane Doe".into();
    user.status = UserStatus::Deactivated;
    store.save_user(user.clone()).await.unwrap();
    assert_eq!(store.user(&jane).await.unwrap(), Some(user));

    let account = User {
        id: UserId::new("svc-1"),
        name: "FieldSync (service account)".into(),
        kind: UserKind::ServiceAccount {
            app: ClientId::new("fieldsync"),
        },
        status: UserStatus::Active,
    };
    store.save_user(account.clone()).await.unwrap();
    assert_eq!(store.user(&account.id).await.unwrap(), Some(account));
}

pub async fn memberships_round_trip_per_company_and_are_replaced<S: Store + Clone>(store: S) {
    let (acme, globex, john) = (
        CompanyId::new("acme"),
        CompanyId::new("globex"),
        UserId::new("john"),
    );
    store.save_user(User::person("john", "John")).await.unwrap();
    assert_eq!(store.membership(&acme, &john).await.unwrap(), None);

    let read = tower_rfis(Level::ReadOnly);
    store
        .save_membership(&acme, &john, read.clone())
        .await
        .unwrap();
    assert_eq!(store.membership(&acme, &john).await.unwrap(), Some(read));
    assert_eq!(store.membership(&globex, &john).await.unwrap(), None);

    let more = tower_rfis(Level::Admin)
        .with(Scope::Company, "budget", Level::Standard)
        .with(Scope::Project(ProjectId::new("depot")), "rfis", Level::None);
    store
        .save_membership(&acme, &john, more.clone())
        .await
        .unwrap();
    assert_eq!(store.membership(&acme, &john).await.unwrap(), Some(more));

    let empty = Permissions::none();
    store
        .save_membership(&globex, &john, empty.clone())
        .await
        .unwrap();
    assert_eq!(store.membership(&globex, &john).await.unwrap(), Some(empty));
}

pub async fn members_are_listed_sorted_by_user_id_with_their_permissions<S: Store + Clone>(
    store: S,
) {
    let (acme, globex) = (CompanyId::new("acme"), CompanyId::new("globex"));
    // Ids as hosts bring them: mixed case and punctuation. The memory store sorts them as Rust
    // does (bytewise), whatever a database's collation would say.
    let ids = ["zoe", "Adam", "bob", "_svc", "adam", "Bob-2"];
    for (n, id) in ids.iter().enumerate() {
        store.save_user(User::person(*id, *id)).await.unwrap();
        let level = [Level::ReadOnly, Level::Standard, Level::Admin][n % 3];
        let holds = tower_rfis(level).with(
            Scope::Company,
            format!("tool-{n}").as_str(),
            Level::ReadOnly,
        );
        store
            .save_membership(&acme, &UserId::new(*id), holds)
            .await
            .unwrap();
    }
    // Someone only in another company, and a membership whose user record is missing.
    store.save_user(User::person("gina", "Gina")).await.unwrap();
    store
        .save_membership(&globex, &UserId::new("gina"), Permissions::none())
        .await
        .unwrap();
    store
        .save_membership(&acme, &UserId::new("ghost"), Permissions::none())
        .await
        .unwrap();
    // A replaced membership is listed once, with what it holds now.
    let now_holds = tower_rfis(Level::None);
    store
        .save_membership(&acme, &UserId::new("bob"), now_holds.clone())
        .await
        .unwrap();

    let members = store.members(&acme).await.unwrap();
    let listed: Vec<&str> = members.iter().map(|(user, _)| user.id.as_str()).collect();
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    for (user, permissions) in &members {
        assert_eq!(store.user(&user.id).await.unwrap().as_ref(), Some(user));
        let held = store.membership(&acme, &user.id).await.unwrap();
        assert_eq!(held.as_ref(), Some(permissions), "{}", user.id);
    }
    let bob = members.iter().find(|(user, _)| user.id.as_str() == "bob");
    assert_eq!(bob.map(|(_, held)| held), Some(&now_holds));

    let globex_members = store.members(&globex).await.unwrap();
    assert_eq!(
        globex_members,
        vec![(User::person("gina", "Gina"), Permissions::none())]
    );
    assert!(
        store
            .members(&CompanyId::new("initech"))
            .await
            .unwrap()
            .is_empty()
    );
}

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
    assert_eq!(
        store.installation(&app.client_id, &acme).await.unwrap(),
        None
    );
    assert!(
        store
            .installations_of(&app.client_id)
            .await
            .unwrap()
            .is_empty()
    );

    let mut in_acme = Installation::request(&app, &acme, &jane, start());
    store.save_installation(in_acme.clone()).await.unwrap();
    assert_eq!(
        store.installation(&app.client_id, &acme).await.unwrap(),
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
        approved: app.manifest().unwrap().clone(),
        permitted_projects: BTreeSet::from([ProjectId::new("tower"), ProjectId::new("depot")]),
    });
    store.save_installation(in_acme.clone()).await.unwrap();
    assert_eq!(
        store.installation(&app.client_id, &acme).await.unwrap(),
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
        store.save_installation(installation.clone()).await.unwrap();
    }
    assert_eq!(
        store.installations_of(&app.client_id).await.unwrap(),
        vec![in_acme_two, in_acme.clone(), in_globex, in_initech]
    );
    assert_eq!(
        store.installations_of(&other.client_id).await.unwrap(),
        vec![other_in_acme.clone()]
    );
    assert_eq!(
        store.installation(&other.client_id, &acme).await.unwrap(),
        Some(other_in_acme)
    );
    assert_eq!(
        store.installation(&app.client_id, &acme).await.unwrap(),
        Some(in_acme)
    );
}

pub async fn consents_round_trip_and_are_replaced<S: Store + Clone>(store: S) {
    let (jane, john) = (UserId::new("jane"), UserId::new("john"));
    let (app, other) = (ClientId::new("fieldsync"), ClientId::new("other"));
    assert_eq!(store.consent(&jane, &app).await.unwrap(), None);
    store.save_consent(&jane, &app, start()).await.unwrap();
    assert_eq!(store.consent(&jane, &app).await.unwrap(), Some(start()));
    assert_eq!(store.consent(&jane, &other).await.unwrap(), None);
    assert_eq!(store.consent(&john, &app).await.unwrap(), None);

    let later = start() + TimeDelta::days(3);
    store.save_consent(&jane, &app, later).await.unwrap();
    store.save_consent(&john, &app, start()).await.unwrap();
    assert_eq!(store.consent(&jane, &app).await.unwrap(), Some(later));
    assert_eq!(store.consent(&john, &app).await.unwrap(), Some(start()));
}

// ---------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------

pub async fn a_code_is_redeemed_first_then_reused_and_an_unknown_code_is_unknown<
    S: Store + Clone,
>(
    store: S,
) {
    let code = Secret::new("the-code");
    let record = code_record(&code, "grant-1", start() + TimeDelta::minutes(10));
    let other = Secret::new("another-code");
    let other_record = code_record(&other, "grant-2", start() + TimeDelta::minutes(10));
    store.save_code(record.clone()).await.unwrap();
    store.save_code(other_record.clone()).await.unwrap();

    assert_eq!(
        store.redeem_code(&code.digest()).await.unwrap(),
        Redemption::First(record.clone())
    );
    assert_eq!(
        store.redeem_code(&code.digest()).await.unwrap(),
        Redemption::Reused(record.clone())
    );
    assert_eq!(
        store.redeem_code(&code.digest()).await.unwrap(),
        Redemption::Reused(record)
    );
    assert_eq!(
        store
            .redeem_code(&SecretDigest::of("never-issued"))
            .await
            .unwrap(),
        Redemption::Unknown
    );
    // Redeeming one code leaves the others alone.
    assert_eq!(
        store.redeem_code(&other.digest()).await.unwrap(),
        Redemption::First(other_record)
    );
}

pub async fn a_code_raced_by_many_redemptions_is_first_for_exactly_one<S: Store + Clone>(store: S) {
    let code = Secret::new("the-raced-code");
    let record = code_record(&code, "grant-1", start() + TimeDelta::minutes(10));
    store.save_code(record.clone()).await.unwrap();
    let results = race(RACERS, |_| {
        let (store, digest) = (store.clone(), code.digest());
        async move { store.redeem_code(&digest).await.unwrap() }
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
    assert_eq!((firsts, reuses), (1, RACERS - 1));
}

// ---------------------------------------------------------------------------------------------
// Refresh families
// ---------------------------------------------------------------------------------------------

pub async fn a_family_round_trips_and_each_rotation_replaces_its_one_record<S: Store + Clone>(
    store: S,
) {
    let grant = GrantId::new("grant-1");
    assert_eq!(store.family(&grant).await.unwrap(), None);
    let mut first = family("grant-1", "r0");
    first.expires_at = Some(start() + TimeDelta::days(30));
    store.save_family(first.clone()).await.unwrap();
    // An unrelated family, which no lookup below may return.
    store.save_family(family("grant-2", "other")).await.unwrap();
    assert_eq!(store.family(&grant).await.unwrap(), Some(first.clone()));

    let second = rotated(&first, "r1", start() + TimeDelta::hours(1));
    assert!(
        store
            .commit_rotation(&first.current, second.clone())
            .await
            .unwrap()
    );
    let mut third = rotated(&second, "r2", start() + TimeDelta::hours(2));
    // As an idle timeout of a day sets it at the rotation.
    third.expires_at = Some(start() + TimeDelta::hours(26));
    assert!(
        store
            .commit_rotation(&second.current, third.clone())
            .await
            .unwrap()
    );
    // Generation, digests, times and expiry all read back as the rotation wrote them.
    let stored = store.family(&grant).await.unwrap();
    assert_eq!(stored, Some(third.clone()));
    assert_eq!(stored.map(|family| family.generation), Some(3));
    assert_eq!(
        store
            .family(&GrantId::new("grant-2"))
            .await
            .unwrap()
            .map(|family| family.current),
        Some(SecretDigest::of("other"))
    );
}

pub async fn rotation_is_a_compare_and_swap_that_a_stale_expectation_loses<S: Store + Clone>(
    store: S,
) {
    let grant = GrantId::new("grant-1");
    let first = family("grant-1", "r0");
    store.save_family(first.clone()).await.unwrap();
    let second = rotated(&first, "r1", start() + TimeDelta::minutes(1));
    assert!(
        store
            .commit_rotation(&first.current, second.clone())
            .await
            .unwrap()
    );

    // A second rotation computed from the same (now stale) family loses and changes nothing.
    let stale = rotated(&first, "r1-stale", start() + TimeDelta::minutes(2));
    assert!(!store.commit_rotation(&first.current, stale).await.unwrap());
    assert_eq!(store.family(&grant).await.unwrap(), Some(second.clone()));

    // A rotation of a family that was never saved does nothing.
    let unknown = family("grant-unknown", "u0");
    let next = rotated(&unknown, "u1", start());
    assert!(!store.commit_rotation(&unknown.current, next).await.unwrap());
    assert_eq!(store.family(&unknown.grant).await.unwrap(), None);

    // The fresh expectation still wins.
    let third = rotated(&second, "r2", start() + TimeDelta::minutes(3));
    assert!(
        store
            .commit_rotation(&second.current, third.clone())
            .await
            .unwrap()
    );
    assert_eq!(store.family(&grant).await.unwrap(), Some(third));
}

pub async fn many_concurrent_rotations_of_one_family_commit_exactly_once<S: Store + Clone>(
    store: S,
) {
    let first = family("grant-1", "r0");
    store.save_family(first.clone()).await.unwrap();
    let results = race(RACERS, |i| {
        let store = store.clone();
        let next = rotated(&first, &format!("r0-{i}"), start() + TimeDelta::seconds(1));
        async move {
            (
                i,
                store
                    .commit_rotation(&SecretDigest::of("r0"), next)
                    .await
                    .unwrap(),
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
    let stored = store.family(&first.grant).await.unwrap().unwrap();
    assert_eq!(stored.current, SecretDigest::of(&format!("r0-{}", won[0])));
    assert_eq!(stored.previous, Some(first.current));
    assert_eq!(stored.generation, 2);
}

// ---------------------------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------------------------

pub async fn revoking_a_grant_revokes_its_family_and_stops_its_rotation<S: Store + Clone>(
    store: S,
) {
    let grant = GrantId::new("grant-1");
    let first = family("grant-1", "r0");
    store.save_family(first.clone()).await.unwrap();
    store.save_family(family("grant-2", "other")).await.unwrap();
    let second = rotated(&first, "r1", start() + TimeDelta::minutes(1));
    assert!(store.commit_rotation(&first.current, second).await.unwrap());
    assert!(!store.is_revoked(&grant).await.unwrap());

    store
        .revoke_grant(&grant, start() + TimeDelta::minutes(2))
        .await
        .unwrap();
    assert!(store.is_revoked(&grant).await.unwrap());
    let revoked = store.family(&grant).await.unwrap().unwrap();
    assert_eq!(revoked.status, FamilyStatus::Revoked);
    assert_eq!(revoked.current, SecretDigest::of("r1"));
    // No rotation commits after the revocation, even one computed from the current token.
    let after = rotated(&revoked, "r2", start() + TimeDelta::minutes(3));
    let after = RefreshFamily {
        status: FamilyStatus::Active,
        ..after
    };
    assert!(
        !store
            .commit_rotation(&revoked.current, after)
            .await
            .unwrap()
    );
    assert_eq!(store.family(&grant).await.unwrap(), Some(revoked.clone()));

    // Revoking again is harmless; other grants are untouched.
    store
        .revoke_grant(&grant, start() + TimeDelta::minutes(4))
        .await
        .unwrap();
    assert!(store.is_revoked(&grant).await.unwrap());
    assert_eq!(store.family(&grant).await.unwrap(), Some(revoked));
    let other = GrantId::new("grant-2");
    assert!(!store.is_revoked(&other).await.unwrap());
    assert_eq!(
        store
            .family(&other)
            .await
            .unwrap()
            .map(|family| family.status),
        Some(FamilyStatus::Active)
    );

    // A grant without a refresh family (a client-credentials token) is revoked all the same.
    let service = GrantId::new("grant-service");
    store.revoke_grant(&service, start()).await.unwrap();
    assert!(store.is_revoked(&service).await.unwrap());
    assert_eq!(store.family(&service).await.unwrap(), None);
}

pub async fn a_family_saved_after_its_grant_was_revoked_is_stored_revoked<S: Store + Clone>(
    store: S,
) {
    let grant = GrantId::new("grant-1");
    store.revoke_grant(&grant, start()).await.unwrap();
    let first = family("grant-1", "r0");
    store.save_family(first.clone()).await.unwrap();
    let stored = store.family(&grant).await.unwrap().unwrap();
    assert_eq!(
        stored,
        RefreshFamily {
            status: FamilyStatus::Revoked,
            ..first.clone()
        }
    );
    let next = rotated(&first, "r1", start() + TimeDelta::minutes(1));
    assert!(!store.commit_rotation(&first.current, next).await.unwrap());
    assert!(store.is_revoked(&grant).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Purge
// ---------------------------------------------------------------------------------------------

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
        .unwrap();
    store
        .save_code(code_record(&old_spent, "grant-old-spent", at(5)))
        .await
        .unwrap();
    for record in [&edge_record, &fresh_record, &fresh_spent_record] {
        store.save_code(record.clone()).await.unwrap();
    }
    store.redeem_code(&old_spent.digest()).await.unwrap();
    store.redeem_code(&fresh_spent.digest()).await.unwrap();

    // Nothing has expired before the start.
    assert_eq!(store.purge_codes(start()).await.unwrap(), 0);
    assert_eq!(store.purge_codes(at(15)).await.unwrap(), 2);
    assert_eq!(
        store.redeem_code(&old.digest()).await.unwrap(),
        Redemption::Unknown
    );
    assert_eq!(
        store.redeem_code(&old_spent.digest()).await.unwrap(),
        Redemption::Unknown
    );
    // What has not expired stays, spent or not: a spent code must still be known as reused.
    assert_eq!(
        store.redeem_code(&edge.digest()).await.unwrap(),
        Redemption::First(edge_record)
    );
    assert_eq!(
        store.redeem_code(&fresh_spent.digest()).await.unwrap(),
        Redemption::Reused(fresh_spent_record.clone())
    );
    assert_eq!(
        store.redeem_code(&fresh.digest()).await.unwrap(),
        Redemption::First(fresh_record.clone())
    );
    assert_eq!(store.purge_codes(at(15)).await.unwrap(), 0);
    assert_eq!(store.purge_codes(at(20)).await.unwrap(), 1);
    assert_eq!(
        store.redeem_code(&fresh.digest()).await.unwrap(),
        Redemption::Reused(fresh_record)
    );
    assert_eq!(store.purge_codes(at(21)).await.unwrap(), 2);
    assert_eq!(
        store.redeem_code(&fresh.digest()).await.unwrap(),
        Redemption::Unknown
    );
}

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
    store.save_family(revoked.clone()).await.unwrap();
    assert!(
        store
            .commit_rotation(
                &revoked.current,
                rotated(&revoked, "revoked-1", start() + TimeDelta::hours(1))
            )
            .await
            .unwrap()
    );
    store.revoke_grant(&revoked.grant, start()).await.unwrap();
    let expired = with_expiry("expired", "expired-0", Some(now - TimeDelta::hours(1)));
    let expiring = with_expiry("expiring", "expiring-0", Some(now));
    // Active without expiry, and active until later (also rotated): kept.
    let forever = with_expiry("forever", "forever-0", None);
    let later = with_expiry("later", "later-0", Some(now + TimeDelta::seconds(1)));
    for family in [&expired, &expiring, &forever, &later] {
        store.save_family(family.clone()).await.unwrap();
    }
    let later_rotated = rotated(&later, "later-1", start() + TimeDelta::hours(2));
    assert!(
        store
            .commit_rotation(&later.current, later_rotated.clone())
            .await
            .unwrap()
    );

    // Nothing expired at the start; only the revoked family is spent then.
    assert_eq!(store.purge_families(start()).await.unwrap(), 1);
    assert_eq!(store.purge_families(now).await.unwrap(), 2);
    for grant in ["revoked", "expired", "expiring"] {
        assert_eq!(store.family(&GrantId::new(grant)).await.unwrap(), None);
    }
    // The revocation itself is not a family: the grant stays revoked.
    assert!(store.is_revoked(&revoked.grant).await.unwrap());

    assert_eq!(
        store.family(&forever.grant).await.unwrap(),
        Some(forever.clone())
    );
    assert_eq!(
        store.family(&later.grant).await.unwrap(),
        Some(later_rotated.clone())
    );
    // The survivors still rotate.
    let next = rotated(&forever, "forever-1", now);
    assert!(store.commit_rotation(&forever.current, next).await.unwrap());
    let next = rotated(&later_rotated, "later-2", now);
    assert!(
        store
            .commit_rotation(&later_rotated.current, next)
            .await
            .unwrap()
    );
    assert_eq!(store.purge_families(now).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_families(now + TimeDelta::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert!(store.family(&forever.grant).await.unwrap().is_some());
}

pub async fn purge_forgets_only_revocations_older_than_the_cutoff<S: Store + Clone>(store: S) {
    let at = |minutes| start() + TimeDelta::minutes(minutes);
    let (old, edge, recent) = (
        GrantId::new("old"),
        GrantId::new("edge"),
        GrantId::new("recent"),
    );
    store.revoke_grant(&old, at(0)).await.unwrap();
    store.revoke_grant(&edge, at(30)).await.unwrap();
    store.revoke_grant(&recent, at(50)).await.unwrap();
    // Revoking again does not make a revocation younger: the first time stands.
    store.revoke_grant(&old, at(40)).await.unwrap();

    assert_eq!(store.purge_revocations(at(0)).await.unwrap(), 0);
    assert_eq!(store.purge_revocations(at(30)).await.unwrap(), 1);
    assert!(!store.is_revoked(&old).await.unwrap());
    assert!(store.is_revoked(&edge).await.unwrap());
    assert!(store.is_revoked(&recent).await.unwrap());
    assert_eq!(store.purge_revocations(at(31)).await.unwrap(), 1);
    assert!(!store.is_revoked(&edge).await.unwrap());
    assert!(store.is_revoked(&recent).await.unwrap());
    // A grant revoked again after its revocation was forgotten is revoked anew.
    store.revoke_grant(&old, at(60)).await.unwrap();
    assert!(store.is_revoked(&old).await.unwrap());
    assert_eq!(store.purge_revocations(at(51)).await.unwrap(), 1);
    assert!(store.is_revoked(&old).await.unwrap());
    assert!(!store.is_revoked(&recent).await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// A time with sub-millisecond digits, as the system clock gives them.
fn precise(base: DateTime<Utc>, micros: i64) -> DateTime<Utc> {
    base + TimeDelta::microseconds(micros) + TimeDelta::nanoseconds(123)
}

pub async fn times_read_back_exactly_as_saved<S: Store + Clone>(store: S) {
    let at = precise(start(), 1_234_567);
    let mut first = family("grant-1", "r0");
    first.created_at = at;
    first.rotated_at = at;
    first.expires_at = Some(at + TimeDelta::days(30));
    store.save_family(first.clone()).await.unwrap();
    assert_eq!(
        store.family(&first.grant).await.unwrap(),
        Some(first.clone())
    );
    let second = rotated(&first, "r1", precise(start(), 7_654_321));
    assert!(
        store
            .commit_rotation(&first.current, second.clone())
            .await
            .unwrap()
    );
    assert_eq!(store.family(&first.grant).await.unwrap(), Some(second));

    let (jane, app) = (UserId::new("jane"), ClientId::new("fieldsync"));
    store.save_consent(&jane, &app, at).await.unwrap();
    assert_eq!(store.consent(&jane, &app).await.unwrap(), Some(at));
}

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
    assert!(now < valid.expires_at.unwrap());
    store.save_family(valid.clone()).await.unwrap();
    assert_eq!(store.purge_families(now).await.unwrap(), 0);
    assert!(store.family(&valid.grant).await.unwrap().is_some());
}

// ---------------------------------------------------------------------------------------------
// Two handles on the same data
// ---------------------------------------------------------------------------------------------

pub async fn two_handles_see_each_others_writes_and_race_fairly<H: Handles>(handles: &H) {
    let (a, b) = (handles.open().await, handles.open().await);
    let app = new_app("FieldSync");
    a.save_app(app.clone()).await.unwrap();
    assert_eq!(b.app(&app.client_id).await.unwrap(), Some(app));

    // A code raced through both handles is first for exactly one caller.
    let code = Secret::new("the-code");
    let record = code_record(&code, "grant-1", start() + TimeDelta::minutes(10));
    b.save_code(record.clone()).await.unwrap();
    let results = race(RACERS, |i| {
        let (a, b, digest) = (a.clone(), b.clone(), code.digest());
        async move {
            if i % 2 == 0 {
                a.redeem_code(&digest).await.unwrap()
            } else {
                b.redeem_code(&digest).await.unwrap()
            }
        }
    })
    .await;
    let firsts = results
        .iter()
        .filter(|redemption| matches!(redemption, Redemption::First(_)))
        .count();
    assert_eq!(firsts, 1);
    assert!(results.iter().all(|redemption| matches!(
        redemption,
        Redemption::First(found) | Redemption::Reused(found) if found == &record
    )));

    // A family rotates once however many rotations race through both handles.
    let first = family("grant-1", "r0");
    a.save_family(first.clone()).await.unwrap();
    let results = race(RACERS, |i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let next = rotated(&first, &format!("r0-{i}"), start() + TimeDelta::seconds(1));
        async move {
            store
                .commit_rotation(&SecretDigest::of("r0"), next)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(results.iter().filter(|won| **won).count(), 1);

    // A revocation through one is seen through the other, and stops rotation there.
    a.revoke_grant(&first.grant, start()).await.unwrap();
    assert!(b.is_revoked(&first.grant).await.unwrap());
    let current = b.family(&first.grant).await.unwrap().unwrap();
    assert_eq!(current.status, FamilyStatus::Revoked);
    let next = RefreshFamily {
        status: FamilyStatus::Active,
        ..rotated(&current, "late", start() + TimeDelta::seconds(2))
    };
    assert!(!b.commit_rotation(&current.current, next).await.unwrap());

    // And what one handle wrote outlives it.
    drop(a);
    let c = handles.open().await;
    assert!(c.is_revoked(&first.grant).await.unwrap());
    assert_eq!(
        c.redeem_code(&code.digest()).await.unwrap(),
        Redemption::Reused(record)
    );
}

// ---------------------------------------------------------------------------------------------
// The world: an authorization server on any store
// ---------------------------------------------------------------------------------------------

/// A fresh Ed25519 key set.
pub fn new_keys() -> KeySet {
    KeySet::new(SigningKey::generate(Algorithm::EdDSA, &mut rand::rngs::OsRng).unwrap())
}

/// A clock stopped at [`start`].
pub fn new_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(start()))
}

/// The deployment's refresh-token key: configuration, so every server of a suite story (two
/// instances, or one restarted) has the same.
pub fn refresh_key() -> RefreshTokenKey {
    RefreshTokenKey::from_bytes(*b"the suite's refresh-token key...")
}

/// An authorization server on `store` signing with `keys`, authenticating refresh tokens with
/// [`refresh_key`] and reading `clock`.
pub fn server_on<S: Store>(
    store: S,
    config: Config,
    keys: KeySet,
    clock: Arc<ManualClock>,
) -> AuthorizationServer<S> {
    AuthorizationServer::builder(store, config)
        .keys(keys)
        .refresh_token_key(refresh_key())
        .clock(clock)
        .build()
        .unwrap()
}

/// Acme with Jane (directory admin, admin on both projects) and John (read-only on the tower),
/// and one confidential app that uses both flows, served by `server`.
pub struct World<S> {
    pub server: AuthorizationServer<S>,
    pub clock: Arc<ManualClock>,
    pub acme: CompanyId,
    pub jane: UserId,
    pub john: UserId,
    pub tower: ProjectId,
    pub depot: ProjectId,
    pub app: App,
    pub secret: Secret,
}

pub fn read_tower() -> Requirement {
    Requirement::project("acme", "tower", "rfis", Level::ReadOnly)
}

pub fn write_tower() -> Requirement {
    Requirement::project("acme", "tower", "rfis", Level::Standard)
}

pub fn write_depot() -> Requirement {
    Requirement::project("acme", "depot", "rfis", Level::Standard)
}

/// The world on `store` with default configuration, fresh keys and a clock at [`start`].
pub async fn world<S: Store>(store: S) -> World<S> {
    world_with(store, Config::new(ISSUER)).await
}

/// The world on `store` with `config`, fresh keys and a clock at [`start`].
pub async fn world_with<S: Store>(store: S, config: Config) -> World<S> {
    let clock = new_clock();
    seed(server_on(store, config, new_keys(), clock.clone()), clock).await
}

/// Seeds the world through `server`, which must read `clock`.
pub async fn seed<S: Store>(server: AuthorizationServer<S>, clock: Arc<ManualClock>) -> World<S> {
    let (acme, jane, john) = (
        CompanyId::new("acme"),
        UserId::new("jane"),
        UserId::new("john"),
    );
    let (tower, depot) = (ProjectId::new("tower"), ProjectId::new("depot"));
    let mut company = Company::new("acme", "Acme Construction");
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    server.save_company(company).await.unwrap();
    server
        .save_user(User::person("jane", "Jane"))
        .await
        .unwrap();
    server
        .save_user(User::person("john", "John"))
        .await
        .unwrap();
    let jane_holds = Permissions::none()
        .with(Scope::Company, "directory", Level::Admin)
        .with(Scope::Project(tower.clone()), "rfis", Level::Admin)
        .with(Scope::Project(depot.clone()), "rfis", Level::Admin);
    let john_holds =
        Permissions::none().with(Scope::Project(tower.clone()), "rfis", Level::ReadOnly);
    server
        .set_membership(&acme, &jane, jane_holds)
        .await
        .unwrap();
    server
        .set_membership(&acme, &john, john_holds)
        .await
        .unwrap();
    let RegisteredApp { app, client_secret } = server
        .register_app(registration("FieldSync"))
        .await
        .unwrap();
    World {
        server,
        clock,
        acme,
        jane,
        john,
        tower,
        depot,
        app,
        secret: client_secret.unwrap(),
    }
}

impl<S: Store> World<S> {
    /// The same world served by another server (another instance on the same data).
    pub fn served_by<T: Store>(&self, server: AuthorizationServer<T>) -> World<T> {
        World {
            server,
            clock: self.clock.clone(),
            acme: self.acme.clone(),
            jane: self.jane.clone(),
            john: self.john.clone(),
            tower: self.tower.clone(),
            depot: self.depot.clone(),
            app: self.app.clone(),
            secret: self.secret.clone(),
        }
    }

    pub fn client(&self) -> ClientCredentials {
        ClientCredentials::Basic {
            client_id: self.app.client_id.clone(),
            secret: self.secret.clone(),
        }
    }

    pub fn authorization_request(&self) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: Some(self.app.client_id.to_string()),
            redirect_uri: Some(REDIRECT.into()),
            response_type: Some("code".into()),
            state: Some("xyz".into()),
            scope: None,
            code_challenge: Some(pkce::challenge_of(VERIFIER)),
            code_challenge_method: Some("S256".into()),
        }
    }

    /// Runs the authorization endpoint for `user` in Acme and returns the code.
    pub async fn code_for(&self, user: &UserId) -> Secret {
        let response = self
            .server
            .authorize(&self.authorization_request(), user, Some(&self.acme))
            .await
            .unwrap();
        code_in(&response)
    }

    /// The grant of `tokens`' access token.
    pub fn grant_of(&self, tokens: &TokenResponse) -> GrantId {
        let config = self.server.config();
        appgrant::token::validate(
            tokens.access_token.expose(),
            &self.server.keys(),
            &config.expectations(),
            self.server.now(),
        )
        .expect("a valid access token")
        .grant_id
    }

    pub fn exchange_request(&self, code: &Secret) -> TokenRequest {
        TokenRequest::AuthorizationCode {
            code: code.clone(),
            redirect_uri: Some(REDIRECT.into()),
            code_verifier: Some(VERIFIER.into()),
        }
    }

    pub async fn exchange(&self, code: &Secret) -> Result<TokenResponse, TokenError> {
        self.server
            .token(self.exchange_request(code), &self.client())
            .await
    }

    /// The whole authorization-code flow with PKCE for `user`.
    pub async fn tokens_for(&self, user: &UserId) -> TokenResponse {
        let code = self.code_for(user).await;
        self.exchange(&code).await.unwrap()
    }

    pub async fn refresh(&self, tokens: &TokenResponse) -> Result<TokenResponse, TokenError> {
        let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
        self.server
            .token(TokenRequest::RefreshToken { refresh_token }, &self.client())
            .await
    }

    /// Jane requests and approves the install with the service account on `projects`.
    pub async fn install_service_account(&self, projects: &[&ProjectId]) -> Installation {
        let projects: BTreeSet<ProjectId> = projects.iter().map(|p| (*p).clone()).collect();
        self.server
            .request_installation(&self.acme, &self.app.client_id, &self.jane)
            .await
            .unwrap();
        self.server
            .approve_installation(&self.acme, &self.app.client_id, &self.jane, projects)
            .await
            .unwrap()
    }

    pub async fn service_token(&self) -> Result<TokenResponse, TokenError> {
        self.server
            .token(
                TokenRequest::ClientCredentials {
                    company_id: Some(self.acme.clone()),
                },
                &self.client(),
            )
            .await
    }

    pub async fn decide(&self, tokens: &TokenResponse, requirement: &Requirement) -> Decision {
        self.server
            .check_access(tokens.access_token.expose(), requirement)
            .await
            .unwrap()
    }

    pub async fn allowed(&self, tokens: &TokenResponse, requirement: &Requirement) -> bool {
        self.decide(tokens, requirement).await.is_allowed()
    }

    pub async fn denied_because(
        &self,
        tokens: &TokenResponse,
        requirement: &Requirement,
    ) -> Option<DenyReason> {
        self.decide(tokens, requirement)
            .await
            .deny_reason()
            .cloned()
    }
}

/// The code in an authorization response's redirect.
pub fn code_in(response: &AuthorizationResponse) -> Secret {
    let AuthorizationResponse::Redirect(location) = response else {
        panic!("expected a redirect");
    };
    let url = url::Url::parse(location.expose()).unwrap();
    let code = url
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .expect("the redirect carries a code");
    Secret::new(code)
}

/// Asserts `result` failed with `invalid_grant`.
pub fn assert_invalid_grant<T: std::fmt::Debug>(result: Result<T, TokenError>) {
    match result {
        Err(error) => assert_eq!(error.code(), ErrorCode::InvalidGrant, "{error}"),
        Ok(value) => panic!("expected invalid_grant, got {value:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Through an authorization server
// ---------------------------------------------------------------------------------------------

pub async fn the_whole_story_through_an_authorization_server<S: Store + Clone>(store: S) {
    let world = world(store).await;
    let server = &world.server;
    let directory = server.directory(&world.acme).await.unwrap();
    let members: Vec<&str> = directory.iter().map(|(user, _)| user.id.as_str()).collect();
    assert_eq!(members, ["jane", "john"]);

    // John signs in and authorizes the app: a code, exchanged with the PKCE verifier.
    let code = world.code_for(&world.john).await;
    assert!(
        server
            .has_consent(&world.john, &world.app.client_id)
            .await
            .unwrap()
    );
    let john = world.exchange(&code).await.unwrap();
    assert_eq!(john.token_type, "bearer");
    assert_eq!(john.expires_in, 5400);
    assert!(world.allowed(&john, &read_tower()).await);
    assert_eq!(
        world.denied_because(&john, &write_tower()).await,
        Some(DenyReason::InsufficientLevel {
            have: Level::ReadOnly,
            need: Level::Standard,
        })
    );
    // His permissions change; the app's access through him follows at the next decision.
    server
        .set_permission(
            &world.acme,
            &world.john,
            Scope::Project(world.tower.clone()),
            "rfis",
            Level::Standard,
        )
        .await
        .unwrap();
    assert!(world.allowed(&john, &write_tower()).await);

    // Refresh rotates; the new pair works and the old refresh token is spent.
    world.clock.advance(TimeDelta::minutes(30));
    let refreshed = world.refresh(&john).await.unwrap();
    assert_ne!(refreshed.refresh_token, john.refresh_token);
    assert!(world.allowed(&refreshed, &write_tower()).await);
    let john = world.refresh(&refreshed).await.unwrap();
    assert!(world.allowed(&john, &write_tower()).await);
    // The code presented again: refused, and everything it issued is revoked.
    assert_invalid_grant(world.exchange(&code).await);
    assert_eq!(
        world.denied_because(&john, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    assert_invalid_grant(world.refresh(&john).await);

    // A rotated refresh token presented again revokes its family.
    let jane = world.tokens_for(&world.jane).await;
    let jane_next = world.refresh(&jane).await.unwrap();
    assert_invalid_grant(world.refresh(&jane).await);
    assert_eq!(
        world.denied_because(&jane_next, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    assert_invalid_grant(world.refresh(&jane_next).await);
    let jane = world.tokens_for(&world.jane).await;
    assert!(world.allowed(&jane, &write_depot()).await);

    // The service account: nothing until an admin approves it, then exactly what was approved.
    let refused = world.service_token().await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::UnauthorizedClient, "{refused}");
    let installed = world.install_service_account(&[&world.tower]).await;
    assert_eq!(installed.status, InstallationStatus::Active);
    let account = installed.service_account.as_ref().unwrap().user.clone();
    assert_eq!(
        server
            .installation(&world.acme, &world.app.client_id)
            .await
            .unwrap(),
        installed
    );
    let directory = server.directory(&world.acme).await.unwrap();
    let (user, _) = directory
        .iter()
        .find(|(user, _)| user.id == account)
        .expect("the service account is in the directory");
    assert!(matches!(user.kind, UserKind::ServiceAccount { .. }));
    let service = world.service_token().await.unwrap();
    assert_eq!(service.refresh_token, None);
    assert!(world.allowed(&service, &write_tower()).await);
    assert_eq!(
        world.denied_because(&service, &write_depot()).await,
        Some(DenyReason::ProjectNotPermitted)
    );

    // Uninstall: every token of the app in Acme stops at the next decision.
    server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    for tokens in [&jane, &service] {
        assert_eq!(
            world.denied_because(tokens, &read_tower()).await,
            Some(DenyReason::AppUninstalled)
        );
    }
    assert!(world.service_token().await.is_err());
    let account = server.store().user(&account).await.unwrap().unwrap();
    assert_eq!(account.status, UserStatus::Deactivated);
    if let Ok(after) = world.refresh(&jane).await {
        assert!(!world.allowed(&after, &read_tower()).await);
    }
}

pub async fn the_servers_purge_never_removes_anything_still_valid<S: Store + Clone>(store: S) {
    let mut config = Config::new(ISSUER);
    config.refresh_ttl = Some(TimeDelta::days(1));
    let world = world_with(store, config).await;
    let server = &world.server;
    let pending = world.code_for(&world.john).await;
    let active = world.tokens_for(&world.john).await;
    let reused_code = world.code_for(&world.john).await;
    let reused = world.exchange(&reused_code).await.unwrap();
    let revoked = world.tokens_for(&world.jane).await;
    server
        .revoke(&world.client(), revoked.access_token.expose())
        .await
        .unwrap();

    // Only the revoked family is spent.
    let report = server.purge().await.unwrap();
    assert_eq!(
        (report.codes, report.families, report.revocations),
        (0, 1, 0)
    );
    assert_eq!(
        world.denied_because(&revoked, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    assert_invalid_grant(world.refresh(&revoked).await);
    // A spent code that has not expired is still known, so its reuse still revokes.
    assert_invalid_grant(world.exchange(&reused_code).await);
    assert_eq!(
        world.denied_because(&reused, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    let active = world.refresh(&active).await.unwrap();
    assert!(world.allowed(&active, &read_tower()).await);
    let from_pending = world.exchange(&pending).await.unwrap();

    // Past the codes' ten minutes: every code goes, with the family the reuse revoked.
    world
        .clock
        .advance(TimeDelta::minutes(10) + TimeDelta::seconds(1));
    let report = server.purge().await.unwrap();
    assert_eq!(
        (report.codes, report.families, report.revocations),
        (4, 1, 0)
    );
    assert_eq!(
        world.denied_because(&revoked, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    let active = world.refresh(&active).await.unwrap();
    assert!(world.allowed(&active, &read_tower()).await);
    assert!(world.allowed(&from_pending, &read_tower()).await);

    // Once every access token a revocation covered has expired, it is forgotten.
    world.clock.advance(TimeDelta::minutes(90));
    let active = world.refresh(&active).await.unwrap();
    let report = server.purge().await.unwrap();
    assert_eq!(
        (report.codes, report.families, report.revocations),
        (0, 0, 2)
    );
    for tokens in [&revoked, &reused] {
        assert_eq!(
            world.denied_because(tokens, &read_tower()).await,
            Some(DenyReason::InvalidToken {
                problem: ValidationError::Expired
            })
        );
    }
    assert!(world.allowed(&active, &read_tower()).await);
    let from_pending = world.refresh(&from_pending).await.unwrap();

    // A day after their grants, the refresh families expire and go.
    world.clock.advance(TimeDelta::days(1));
    let report = server.purge().await.unwrap();
    assert_eq!(
        (report.codes, report.families, report.revocations),
        (0, 2, 0)
    );
    assert_invalid_grant(world.refresh(&active).await);
    assert_invalid_grant(world.refresh(&from_pending).await);
}

/// Rotates `tokens`' family `rotations` times, a second apart; returns the newest tokens.
async fn rotate_times<S: Store>(
    world: &World<S>,
    tokens: &TokenResponse,
    rotations: usize,
) -> TokenResponse {
    let mut latest = tokens.clone();
    for _ in 0..rotations {
        world.clock.advance(TimeDelta::seconds(1));
        latest = world.refresh(&latest).await.unwrap();
    }
    latest
}

/// The refresh-token rule: presenting any earlier refresh token of a live family, however many
/// rotations ago, is reuse and revokes the family, every refresh and access token of it.
pub async fn any_earlier_refresh_token_replayed_after_any_number_of_rotations_revokes_the_family<
    S: Store + Clone,
>(
    store: S,
) {
    let world = world(store).await;
    for rotations in [1, 16, 17, 1_000] {
        let first = world.tokens_for(&world.jane).await;
        let middle = rotate_times(&world, &first, rotations / 2).await;
        let latest = rotate_times(&world, &middle, rotations - rotations / 2).await;
        let bystander = world.tokens_for(&world.jane).await;
        assert!(world.allowed(&latest, &read_tower()).await);

        // The victim replays the very first token (or, at one rotation, the one just rotated).
        let stolen = if rotations == 1 { &first } else { &middle };
        for replayed in [&first, stolen] {
            assert_invalid_grant(world.refresh(replayed).await);
        }
        assert_eq!(
            world.denied_because(&latest, &read_tower()).await,
            Some(DenyReason::Revoked),
            "after {rotations} rotations the thief's access token still works"
        );
        assert_invalid_grant(world.refresh(&latest).await);
        assert_eq!(
            world.denied_because(&first, &read_tower()).await,
            Some(DenyReason::Revoked)
        );
        // Another family of the same user and app is untouched.
        assert!(world.allowed(&bystander, &read_tower()).await);
        assert!(world.refresh(&bystander).await.is_ok());
    }
}
