//! Every store trait, forwarded through `Arc<T>`: a host can hand the server an `Arc` of its
//! store and keep another for its own code, without writing a wrapper.

use super::{
    AppStore, AppWithInstallation, CodeStore, ConsentStore, DecisionQuery, DecisionRecords,
    Directory, DirectoryStore, InstallationStore, KeyStore, RefreshStore, ReplayStore,
    RevocationStore, ServiceAccount, StoreResult,
};
use crate::grant::{CodeRecord, Redemption, RefreshFamily};
use crate::model::{
    App, ClientId, Company, CompanyId, GrantId, Installation, Permissions, SecretDigest, User,
    UserId,
};
use crate::token::StoredKey;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;

impl<T: AppStore> AppStore for Arc<T> {
    async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        T::app(self, client_id).await
    }

    async fn save_app(&self, app: App) -> StoreResult<()> {
        T::save_app(self, app).await
    }

    async fn update_app(&self, expected_revision: u64, app: App) -> StoreResult<bool> {
        T::update_app(self, expected_revision, app).await
    }

    async fn apps(&self) -> StoreResult<Vec<App>> {
        T::apps(self).await
    }

    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        T::delete_app(self, client_id).await
    }
}

// Bounded by the revocation and app stores too, so that `decision_records` can forward to the
// store's own (one read, where the trait's default makes three): the default's bound is on
// `Self`, which for `Arc<T>` cannot be traced back to `T`. Every store a server takes
// implements all three.
impl<T: InstallationStore + RevocationStore + AppStore> InstallationStore for Arc<T> {
    async fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Installation>> {
        T::installation(self, app, company).await
    }

    async fn decision_records(&self, query: &DecisionQuery<'_>) -> StoreResult<DecisionRecords>
    where
        Self: RevocationStore + AppStore,
    {
        T::decision_records(self, query).await
    }

    fn app_with_installation(
        &self,
        client_id: &ClientId,
        company: &CompanyId,
    ) -> Option<impl Future<Output = StoreResult<AppWithInstallation>> + Send> {
        T::app_with_installation(self, client_id, company)
    }

    async fn save_installation(&self, installation: Installation) -> StoreResult<()> {
        T::save_installation(self, installation).await
    }

    async fn insert_installation(&self, installation: Installation) -> StoreResult<bool> {
        T::insert_installation(self, installation).await
    }

    async fn update_installation(
        &self,
        expected_revision: u64,
        installation: Installation,
    ) -> StoreResult<bool> {
        T::update_installation(self, expected_revision, installation).await
    }

    async fn installations_of(&self, app: &ClientId) -> StoreResult<Vec<Installation>> {
        T::installations_of(self, app).await
    }

    async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> {
        T::installations_in(self, company).await
    }
}

impl<T: CodeStore> CodeStore for Arc<T> {
    async fn save_code(&self, record: CodeRecord) -> StoreResult<()> {
        T::save_code(self, record).await
    }

    async fn code(&self, digest: &SecretDigest) -> StoreResult<Option<CodeRecord>> {
        T::code(self, digest).await
    }

    async fn redeem_code(&self, digest: &SecretDigest) -> StoreResult<Redemption> {
        T::redeem_code(self, digest).await
    }

    async fn purge_codes(&self, expired_before: DateTime<Utc>) -> StoreResult<u64> {
        T::purge_codes(self, expired_before).await
    }
}

impl<T: RefreshStore> RefreshStore for Arc<T> {
    async fn save_family(&self, family: RefreshFamily) -> StoreResult<()> {
        T::save_family(self, family).await
    }

    async fn family(&self, grant: &GrantId) -> StoreResult<Option<RefreshFamily>> {
        T::family(self, grant).await
    }

    async fn commit_rotation(
        &self,
        expected_current: &SecretDigest,
        family: RefreshFamily,
    ) -> StoreResult<bool> {
        T::commit_rotation(self, expected_current, family).await
    }

    async fn families_of(&self, user: &UserId, app: &ClientId) -> StoreResult<Vec<RefreshFamily>> {
        T::families_of(self, user, app).await
    }

    async fn purge_families(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        T::purge_families(self, now).await
    }
}

impl<T: RevocationStore> RevocationStore for Arc<T> {
    async fn revoke_grant(&self, grant: &GrantId, at: DateTime<Utc>) -> StoreResult<()> {
        T::revoke_grant(self, grant, at).await
    }

    async fn is_revoked(&self, grant: &GrantId) -> StoreResult<bool> {
        T::is_revoked(self, grant).await
    }

    async fn purge_revocations(&self, revoked_before: DateTime<Utc>) -> StoreResult<u64> {
        T::purge_revocations(self, revoked_before).await
    }
}

impl<T: ConsentStore> ConsentStore for Arc<T> {
    async fn save_consent(
        &self,
        user: &UserId,
        app: &ClientId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        T::save_consent(self, user, app, at).await
    }

    async fn consent(&self, user: &UserId, app: &ClientId) -> StoreResult<Option<DateTime<Utc>>> {
        T::consent(self, user, app).await
    }

    async fn consents_of(&self, user: &UserId) -> StoreResult<Vec<(ClientId, DateTime<Utc>)>> {
        T::consents_of(self, user).await
    }

    async fn forget_consent(&self, user: &UserId, app: &ClientId) -> StoreResult<()> {
        T::forget_consent(self, user, app).await
    }
}

impl<T: ReplayStore> ReplayStore for Arc<T> {
    async fn first_use(&self, digest: &SecretDigest, until: DateTime<Utc>) -> StoreResult<bool> {
        T::first_use(self, digest, until).await
    }
    async fn purge_used(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        T::purge_used(self, now).await
    }
}

impl<T: KeyStore> KeyStore for Arc<T> {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        T::signing_keys(self).await
    }

    async fn add_signing_key(&self, key: StoredKey) -> StoreResult<bool> {
        T::add_signing_key(self, key).await
    }

    async fn delete_signing_key(&self, kid: &str) -> StoreResult<()> {
        T::delete_signing_key(self, kid).await
    }
}

impl<T: Directory> Directory for Arc<T> {
    async fn company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        T::company(self, id).await
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        T::user(self, id).await
    }

    async fn membership(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<Option<Permissions>> {
        T::membership(self, company, user).await
    }

    async fn member(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<(Option<User>, Option<Permissions>)> {
        T::member(self, company, user).await
    }

    async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<(CompanyId, Permissions)>> {
        T::memberships_of(self, user).await
    }

    async fn save_service_account(&self, account: &ServiceAccount) -> StoreResult<()> {
        T::save_service_account(self, account).await
    }

    async fn deactivate_service_account(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<()> {
        T::deactivate_service_account(self, company, user).await
    }
}

impl<T: DirectoryStore> DirectoryStore for Arc<T> {
    async fn save_company(&self, company: Company) -> StoreResult<()> {
        T::save_company(self, company).await
    }

    async fn save_user(&self, user: User) -> StoreResult<()> {
        T::save_user(self, user).await
    }

    async fn save_membership(
        &self,
        company: &CompanyId,
        user: &UserId,
        permissions: Permissions,
    ) -> StoreResult<()> {
        T::save_membership(self, company, user, permissions).await
    }

    async fn members(&self, company: &CompanyId) -> StoreResult<Vec<(User, Permissions)>> {
        T::members(self, company).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, Scope};
    use crate::store::{Acting, DecisionQuery, MemberReads, MemoryStore};

    /// An `Arc` of a store decides with the store's own one-read `decision_records`, which
    /// reads the member too, not with the trait's default, which leaves it to the directory.
    #[tokio::test]
    async fn an_arc_of_a_store_reads_a_decisions_records_as_the_store_itself_does() {
        let store = MemoryStore::new();
        let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
        store.save_user(User::person("jane", "Jane")).await.unwrap();
        let held = Permissions::none().with(Scope::Company, "directory", Level::Admin);
        store
            .save_membership(&acme, &jane, held.clone())
            .await
            .unwrap();
        let (app, grant) = (ClientId::new("field-sync"), GrantId::new("g1"));
        let query = DecisionQuery {
            app: &app,
            company: &acme,
            grant: &grant,
            acting: Acting::Person(&jane),
            member: MemberReads::InStore,
        };
        let direct = store.decision_records(&query).await.unwrap();
        let shared = Arc::new(store).decision_records(&query).await.unwrap();
        assert_eq!(shared, direct);
        let (user, permissions) = shared.member.expect("the member read with the rest");
        assert_eq!(user.map(|user| user.id), Some(jane));
        assert_eq!(permissions, Some(held));
    }
}
