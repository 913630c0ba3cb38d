//! A store whose every call fails while a switch is on: a [`MemoryStore`] behind a breaker, for
//! the tests of what the server says and counts when its store is down.
#![allow(dead_code)]

use appgrant::MemoryStore;
use appgrant::grant::{CodeRecord, Redemption, RefreshFamily};
use appgrant::model::*;
use appgrant::store::{
    AppStore, CodeStore, ConsentStore, Directory, DirectoryStore, InstallationStore, KeyStore,
    RefreshStore, RevocationStore, ServiceAccount, StoreError, StoreResult,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What every call answers while the store is down.
pub const FAILURE: &str = "injected failure: the database is unreachable";

/// A [`MemoryStore`] that fails every call while [`FailingStore::fail`] is on, and counts
/// the calls made of it.
#[derive(Clone, Default)]
pub struct FailingStore {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
    /// How many revocations fail before they work again.
    failing_revocations: Arc<std::sync::atomic::AtomicUsize>,
    /// A pause after the next family is saved: told when it is saved, waits to go on.
    family_pause: Arc<std::sync::Mutex<Option<FamilyPause>>>,
}

struct FamilyPause {
    saved: tokio::sync::oneshot::Sender<()>,
    go_on: tokio::sync::oneshot::Receiver<()>,
}

/// The two ends of a pause after a family is saved (see [`FailingStore::pause_after_saving_a_family`]).
pub struct PausedFamily {
    /// Resolves once the family is saved, the saving call paused.
    pub saved: tokio::sync::oneshot::Receiver<()>,
    /// Send to let the saving call go on.
    pub go_on: tokio::sync::oneshot::Sender<()>,
}

impl FailingStore {
    /// From now on every call fails (`true`) or works again (`false`).
    pub fn fail(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The next `count` grant revocations fail (everything else works).
    pub fn fail_revocations(&self, count: usize) {
        self.failing_revocations.store(count, Ordering::SeqCst);
    }

    /// The next `save_family` saves, then waits until told to go on: for running something
    /// between a code exchange's steps.
    pub fn pause_after_saving_a_family(&self) -> PausedFamily {
        let (saved_tx, saved) = tokio::sync::oneshot::channel();
        let (go_on, go_on_rx) = tokio::sync::oneshot::channel();
        *self.family_pause.lock().unwrap() = Some(FamilyPause {
            saved: saved_tx,
            go_on: go_on_rx,
        });
        PausedFamily { saved, go_on }
    }

    /// How many store calls were made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn up(&self) -> StoreResult<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Backend(Box::new(std::io::Error::other(
                FAILURE,
            ))))
        } else {
            Ok(())
        }
    }
}

impl AppStore for FailingStore {
    async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        self.up()?;
        self.inner.app(client_id).await
    }
    async fn save_app(&self, app: App) -> StoreResult<()> {
        self.up()?;
        self.inner.save_app(app).await
    }
    async fn update_app(&self, expected_revision: u64, app: App) -> StoreResult<bool> {
        self.up()?;
        self.inner.update_app(expected_revision, app).await
    }
    async fn apps(&self) -> StoreResult<Vec<App>> {
        self.up()?;
        self.inner.apps().await
    }
    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        self.up()?;
        self.inner.delete_app(client_id).await
    }
}

impl Directory for FailingStore {
    async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<(CompanyId, Permissions)>> {
        self.up()?;
        self.inner.memberships_of(user).await
    }
    async fn company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        self.up()?;
        self.inner.company(id).await
    }
    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        self.up()?;
        self.inner.user(id).await
    }
    async fn membership(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<Option<Permissions>> {
        self.up()?;
        self.inner.membership(company, user).await
    }
    async fn save_service_account(&self, account: &ServiceAccount) -> StoreResult<()> {
        self.up()?;
        self.inner.save_service_account(account).await
    }
    async fn deactivate_service_account(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<()> {
        self.up()?;
        self.inner.deactivate_service_account(company, user).await
    }
}

impl DirectoryStore for FailingStore {
    async fn save_company(&self, company: Company) -> StoreResult<()> {
        self.up()?;
        self.inner.save_company(company).await
    }
    async fn save_user(&self, user: User) -> StoreResult<()> {
        self.up()?;
        self.inner.save_user(user).await
    }
    async fn save_membership(
        &self,
        company: &CompanyId,
        user: &UserId,
        permissions: Permissions,
    ) -> StoreResult<()> {
        self.up()?;
        self.inner.save_membership(company, user, permissions).await
    }
    async fn members(&self, company: &CompanyId) -> StoreResult<Vec<(User, Permissions)>> {
        self.up()?;
        self.inner.members(company).await
    }
}

impl InstallationStore for FailingStore {
    async fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Installation>> {
        self.up()?;
        self.inner.installation(app, company).await
    }
    async fn save_installation(&self, installation: Installation) -> StoreResult<()> {
        self.up()?;
        self.inner.save_installation(installation).await
    }
    async fn insert_installation(&self, installation: Installation) -> StoreResult<bool> {
        self.up()?;
        self.inner.insert_installation(installation).await
    }
    async fn update_installation(
        &self,
        expected_revision: u64,
        installation: Installation,
    ) -> StoreResult<bool> {
        self.up()?;
        self.inner
            .update_installation(expected_revision, installation)
            .await
    }
    async fn installations_of(&self, app: &ClientId) -> StoreResult<Vec<Installation>> {
        self.up()?;
        self.inner.installations_of(app).await
    }
    async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> {
        self.up()?;
        self.inner.installations_in(company).await
    }
}

impl CodeStore for FailingStore {
    async fn save_code(&self, record: CodeRecord) -> StoreResult<()> {
        self.up()?;
        self.inner.save_code(record).await
    }
    async fn code(&self, digest: &SecretDigest) -> StoreResult<Option<CodeRecord>> {
        self.up()?;
        self.inner.code(digest).await
    }
    async fn redeem_code(&self, digest: &SecretDigest) -> StoreResult<Redemption> {
        self.up()?;
        self.inner.redeem_code(digest).await
    }
    async fn purge_codes(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.up()?;
        self.inner.purge_codes(before).await
    }
}

impl RefreshStore for FailingStore {
    async fn save_family(&self, family: RefreshFamily) -> StoreResult<()> {
        self.up()?;
        self.inner.save_family(family).await?;
        let pause = self.family_pause.lock().unwrap().take();
        if let Some(pause) = pause {
            let _ = pause.saved.send(());
            let _ = pause.go_on.await;
        }
        Ok(())
    }
    async fn family(&self, grant: &GrantId) -> StoreResult<Option<RefreshFamily>> {
        self.up()?;
        self.inner.family(grant).await
    }
    async fn commit_rotation(
        &self,
        expected: &SecretDigest,
        family: RefreshFamily,
    ) -> StoreResult<bool> {
        self.up()?;
        self.inner.commit_rotation(expected, family).await
    }
    async fn purge_families(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.up()?;
        self.inner.purge_families(now).await
    }
    async fn families_of(&self, user: &UserId, app: &ClientId) -> StoreResult<Vec<RefreshFamily>> {
        self.up()?;
        self.inner.families_of(user, app).await
    }
}

impl RevocationStore for FailingStore {
    async fn revoke_grant(&self, grant: &GrantId, at: DateTime<Utc>) -> StoreResult<()> {
        self.up()?;
        let failing =
            self.failing_revocations
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                });
        if failing.is_ok() {
            return Err(StoreError::Backend(Box::new(std::io::Error::other(
                FAILURE,
            ))));
        }
        self.inner.revoke_grant(grant, at).await
    }
    async fn is_revoked(&self, grant: &GrantId) -> StoreResult<bool> {
        self.up()?;
        self.inner.is_revoked(grant).await
    }
    async fn purge_revocations(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.up()?;
        self.inner.purge_revocations(before).await
    }
}

impl ConsentStore for FailingStore {
    async fn save_consent(
        &self,
        user: &UserId,
        app: &ClientId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.up()?;
        self.inner.save_consent(user, app, at).await
    }
    async fn consent(&self, user: &UserId, app: &ClientId) -> StoreResult<Option<DateTime<Utc>>> {
        self.up()?;
        self.inner.consent(user, app).await
    }
    async fn consents_of(&self, user: &UserId) -> StoreResult<Vec<(ClientId, DateTime<Utc>)>> {
        self.up()?;
        self.inner.consents_of(user).await
    }
    async fn forget_consent(&self, user: &UserId, app: &ClientId) -> StoreResult<()> {
        self.up()?;
        self.inner.forget_consent(user, app).await
    }
}

impl appgrant::store::ReplayStore for FailingStore {
    async fn first_use(
        &self,
        digest: &appgrant::model::SecretDigest,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.up()?;
        self.inner.first_use(digest, until).await
    }
    async fn purge_used(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.up()?;
        self.inner.purge_used(now).await
    }
}

impl KeyStore for FailingStore {
    async fn signing_keys(&self) -> StoreResult<Vec<appgrant::token::StoredKey>> {
        self.up()?;
        self.inner.signing_keys().await
    }
    async fn add_signing_key(&self, key: appgrant::token::StoredKey) -> StoreResult<bool> {
        self.up()?;
        self.inner.add_signing_key(key).await
    }
    async fn delete_signing_key(&self, kid: &str) -> StoreResult<()> {
        self.up()?;
        self.inner.delete_signing_key(kid).await
    }
}
