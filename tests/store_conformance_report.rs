//! What `appgrant::store::conformance::run_all` tells a host whose store breaks the contract: a
//! report naming exactly the properties that failed, and what each said.

#[macro_use]
mod store_forwarding;
mod failing_store;

use appgrant::MemoryStore;
use appgrant::grant::{CodeRecord, Redemption};
use appgrant::model::*;
use appgrant::store::conformance::{self, Handles, PROPERTIES};
use appgrant::store::{AppStore, CodeStore, DirectoryStore, InstallationStore, StoreResult};
use chrono::{DateTime, Utc};
use failing_store::FailingStore;
use std::collections::BTreeSet;

/// Runs the whole suite on the stores `fresh` makes, and returns the report it panicked with.
fn report_of<H: Handles<Store: DirectoryStore>>(fresh: impl AsyncFnMut() -> H) -> String {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(conformance::run_all(fresh))
    }))
    .expect_err("run_all passed a store that breaks the contract");
    match panic.downcast::<String>() {
        Ok(report) => *report,
        Err(_) => panic!("run_all panicked without a report"),
    }
}

/// The properties a report names as failed.
fn failed_in(report: &str) -> BTreeSet<&str> {
    report
        .lines()
        .filter_map(|line| line.strip_suffix(':'))
        .filter(|name| PROPERTIES.contains(name))
        .collect()
}

/// What a report says about `property`: the indented lines under its name.
fn said_by<'a>(report: &'a str, property: &str) -> &'a str {
    let heading = format!("\n{property}:\n");
    let start = report
        .find(&heading)
        .map(|at| at + heading.len())
        .unwrap_or_else(|| panic!("the report does not name {property}:\n{report}"));
    let said = &report[start..];
    &said[..said.find("\n\n").unwrap_or(said.len())]
}

#[test]
fn a_store_that_never_spends_a_code_fails_exactly_the_properties_of_single_use_codes() {
    let report = report_of(async || Faulty::new(Fault::NeverSpent));
    let failed = failed_in(&report);
    assert_eq!(
        failed,
        BTreeSet::from([
            "a_code_is_redeemed_first_then_reused_and_an_unknown_code_is_unknown",
            "a_code_raced_by_many_redemptions_is_first_for_exactly_one",
            "a_code_is_peeked_without_being_spent_and_still_known_once_spent",
            "a_code_raced_by_peeks_and_redemptions_is_first_for_exactly_one_and_always_seen",
            "purge_removes_expired_codes_and_keeps_unexpired_ones_working",
            "two_handles_see_each_others_writes_and_race_fairly",
        ]),
        "{report}"
    );
    assert!(
        report.starts_with(&format!(
            "the store fails 6 of appgrant's {} store conformance properties:",
            PROPERTIES.len()
        )),
        "{report}"
    );
    // Each failure says what the store got wrong.
    let raced = said_by(
        &report,
        "a_code_raced_by_many_redemptions_is_first_for_exactly_one",
    );
    assert!(raced.contains("(first redemptions, reuses)"), "{raced}");
    assert!(raced.contains("(100, 0)"), "{raced}");
}

#[test]
fn a_store_whose_app_updates_overwrite_fails_exactly_the_properties_of_app_revisions() {
    let report = report_of(async || Faulty::new(Fault::AppUpdatesOverwrite));
    assert_eq!(
        failed_in(&report),
        BTreeSet::from([
            "an_app_is_updated_only_at_the_revision_it_was_read_at_and_never_re_created",
            "many_concurrent_updates_of_one_app_commit_exactly_once",
        ]),
        "{report}"
    );
    let stale = said_by(
        &report,
        "an_app_is_updated_only_at_the_revision_it_was_read_at_and_never_re_created",
    );
    assert!(
        stale.contains("an update over a stale revision committed"),
        "{stale}"
    );
}

#[test]
fn a_store_whose_every_call_fails_fails_every_property_and_says_the_store_failed() {
    let report = report_of(async || {
        let store = FailingStore::default();
        store.fail(true);
        Failing(store)
    });
    assert_eq!(
        failed_in(&report),
        PROPERTIES.iter().copied().collect(),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "a store call failed: storage backend failed: {}",
            failing_store::FAILURE
        )),
        "{report}"
    );
}

/// [`FailingStore`]'s clones share its data (and its switch).
struct Failing(FailingStore);

impl Handles for Failing {
    type Store = FailingStore;

    async fn open(&self) -> FailingStore {
        self.0.clone()
    }
}

/// What a [`Faulty`] store gets wrong.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Codes are never spent: every redemption of a known code is the first.
    NeverSpent,
    /// An app update saves whatever revision the app is at, and saves a deleted app again: last
    /// writer wins.
    AppUpdatesOverwrite,
}

/// A [`MemoryStore`] that gets one thing wrong, its fault. Everything else keeps the contract.
#[derive(Clone)]
struct Faulty {
    inner: MemoryStore,
    fault: Fault,
}

impl Faulty {
    fn new(fault: Fault) -> Self {
        Self {
            inner: MemoryStore::new(),
            fault,
        }
    }
}

impl Handles for Faulty {
    type Store = Faulty;

    async fn open(&self) -> Faulty {
        self.clone()
    }
}

impl CodeStore for Faulty {
    async fn save_code(&self, record: CodeRecord) -> StoreResult<()> {
        self.inner.save_code(record).await
    }
    async fn code(&self, digest: &SecretDigest) -> StoreResult<Option<CodeRecord>> {
        self.inner.code(digest).await
    }
    async fn redeem_code(&self, digest: &SecretDigest) -> StoreResult<Redemption> {
        if self.fault != Fault::NeverSpent {
            return self.inner.redeem_code(digest).await;
        }
        Ok(self
            .inner
            .code(digest)
            .await?
            .map_or(Redemption::Unknown, Redemption::First))
    }
    async fn purge_codes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.inner.purge_codes(before).await
    }
}

impl AppStore for Faulty {
    async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        self.inner.app(client_id).await
    }
    async fn save_app(&self, app: App) -> StoreResult<()> {
        self.inner.save_app(app).await
    }
    async fn update_app(&self, expected_revision: u64, app: App) -> StoreResult<bool> {
        if self.fault != Fault::AppUpdatesOverwrite {
            return self.inner.update_app(expected_revision, app).await;
        }
        self.inner.save_app(app).await?;
        Ok(true)
    }
    async fn apps(&self) -> StoreResult<Vec<App>> {
        self.inner.apps().await
    }
    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        self.inner.delete_app(client_id).await
    }
}

forward_directory!(Faulty, inner);

forward_directory_store!(Faulty, inner);

impl InstallationStore for Faulty {
    async fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Installation>> {
        self.inner.installation(app, company).await
    }
    async fn save_installation(&self, installation: Installation) -> StoreResult<()> {
        self.inner.save_installation(installation).await
    }
    async fn insert_installation(&self, installation: Installation) -> StoreResult<bool> {
        self.inner.insert_installation(installation).await
    }
    async fn update_installation(
        &self,
        expected_revision: u64,
        installation: Installation,
    ) -> StoreResult<bool> {
        self.inner
            .update_installation(expected_revision, installation)
            .await
    }
    async fn installations_of(&self, app: &ClientId) -> StoreResult<Vec<Installation>> {
        self.inner.installations_of(app).await
    }
    async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> {
        self.inner.installations_in(company).await
    }
}

forward_refresh_store!(Faulty, inner);

forward_revocation_store!(Faulty, inner);

forward_consent_store!(Faulty, inner);

forward_key_store!(Faulty, inner);
forward_replay_store!(Faulty, inner);
