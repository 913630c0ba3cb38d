//! The in-memory store: everything in one process, behind one lock per call.

mod packed;
mod table;

use super::{
    Acting, AppStore, CodeStore, ConsentStore, DecisionQuery, DecisionRecords, Directory,
    DirectoryStore, InstallationStore, KeyStore, MemberReads, RefreshStore, ReplayStore,
    RevocationStore, ServiceAccount, StoreResult,
};
use crate::grant::{CodeRecord, FamilyStatus, Redemption, RefreshFamily};
use crate::model::{
    App, ClientId, Company, CompanyId, GrantId, Installation, Membership, Permissions,
    SecretDigest, User, UserId, UserKind, UserStatus,
};
use crate::token::StoredKey;
use chrono::{DateTime, Utc};
use packed::{Corrupt, Unpack, pack, unpack};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use table::{PairIndex, Table};

/// Everything the store holds. Apps, companies, users, memberships and installations, which
/// grow with the number of tenants, are kept packed (see [`packed`]); codes, refresh families,
/// revocations and consents come and go with sign-ins and are kept as they are.
#[derive(Default)]
struct State {
    /// [`App`]s by client id.
    apps: Table<1>,
    /// [`Company`]s by id.
    companies: Table<1>,
    /// [`User`]s by id.
    users: Table<1>,
    /// [`Membership`]s by company and user: one table for every company, so that a decision
    /// finds a member with one lookup, and a company of one member costs no map of its own.
    memberships: Table<2>,
    /// (company, user) of every membership, to list a company's members without a scan.
    members_of: PairIndex,
    /// (user, company) of every membership, to list a user's companies without a scan.
    companies_of: PairIndex,
    /// [`Installation`]s by app and company.
    installations: Table<2>,
    codes: HashMap<SecretDigest, (CodeRecord, bool)>,
    families: HashMap<GrantId, RefreshFamily>,
    revoked: HashMap<GrantId, DateTime<Utc>>,
    consents: HashMap<(UserId, ClientId), DateTime<Utc>>,
    signing_keys: Vec<StoredKey>,
    /// Digests of values used once, with until when they are remembered.
    used_once: HashMap<SecretDigest, DateTime<Utc>>,
}

/// The value a packed record holds, if there is one.
fn read<T: Unpack>(record: Option<&[u8]>) -> Result<Option<T>, Corrupt> {
    record.map(unpack).transpose()
}

impl State {
    fn app(&self, id: &ClientId) -> Result<Option<App>, Corrupt> {
        read(self.apps.get([id.as_str()]))
    }

    fn user(&self, id: &UserId) -> Result<Option<User>, Corrupt> {
        read(self.users.get([id.as_str()]))
    }

    fn membership(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> Result<Option<Permissions>, Corrupt> {
        self.memberships
            .get([company.as_str(), user.as_str()])
            .map(packed::membership_permissions)
            .transpose()
    }

    fn member(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> Result<(Option<User>, Option<Permissions>), Corrupt> {
        Ok((self.user(user)?, self.membership(company, user)?))
    }

    fn save_membership(&mut self, membership: &Membership) {
        let (company, user) = (membership.company.as_str(), membership.user.as_str());
        self.memberships.insert(pack(membership));
        self.members_of.insert(company, user);
        self.companies_of.insert(user, company);
    }

    fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> Result<Option<Installation>, Corrupt> {
        read(self.installations.get([app.as_str(), company.as_str()]))
    }

    /// Every installation whose app and company satisfy `wanted`, decoding only those: the
    /// lists that call this are an admin's, rare enough to scan for, as they were before
    /// records were packed.
    fn installations_where(
        &self,
        wanted: impl Fn(&[u8], &[u8]) -> bool,
    ) -> Result<Vec<Installation>, Corrupt> {
        let mut found = Vec::new();
        for record in self.installations.records() {
            let mut key = packed::Reader::new(record);
            if wanted(key.bytes()?, key.bytes()?) {
                found.push(unpack(record)?);
            }
        }
        Ok(found)
    }
}

/// A store in process memory: the embedded default. Cloning shares the same data.
///
/// Apps, companies, users, memberships and installations are kept packed, one allocation
/// each, and decoded on every read: a tenant (an app with its manifest, a company with two
/// projects, an installation with its service account, the account's user and membership)
/// takes about 1 KB of heap instead of about 6.6 KB as model values. The README's "What a
/// tenant costs the memory store" has the figures.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No write below can stop part-way: each packs its record before changing anything,
        // and from then on only inserts (a failed allocation aborts rather than panics). So a
        // panic elsewhere cannot leave the state half-changed; carrying on after a poisoned
        // lock is safe.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AppStore for MemoryStore {
    async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        Ok(self.state().app(client_id)?)
    }

    async fn save_app(&self, app: App) -> StoreResult<()> {
        self.state().apps.insert(pack(&app));
        Ok(())
    }

    async fn update_app(&self, expected_revision: u64, app: App) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(stored) = state.apps.get_mut([app.client_id.as_str()]) else {
            return Ok(false);
        };
        if unpack::<App>(stored)?.revision != expected_revision {
            return Ok(false);
        }
        *stored = pack(&app);
        Ok(true)
    }

    async fn apps(&self) -> StoreResult<Vec<App>> {
        let mut apps = self
            .state()
            .apps
            .records()
            .map(unpack)
            .collect::<Result<Vec<App>, Corrupt>>()?;
        apps.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(apps)
    }

    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        Ok(self.state().apps.remove([client_id.as_str()]))
    }
}

impl Directory for MemoryStore {
    async fn company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        Ok(read(self.state().companies.get([id.as_str()]))?)
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        Ok(self.state().user(id)?)
    }

    async fn membership(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<Option<Permissions>> {
        Ok(self.state().membership(company, user)?)
    }

    async fn member(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<(Option<User>, Option<Permissions>)> {
        // One lock for both, so the two are read as of the same moment.
        Ok(self.state().member(company, user)?)
    }

    async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<(CompanyId, Permissions)>> {
        let state = self.state();
        let mut held = Vec::new();
        for company in state.companies_of.seconds(user.as_str())? {
            let company = CompanyId::new(company);
            if let Some(permissions) = state.membership(&company, user)? {
                held.push((company, permissions));
            }
        }
        // The index orders ids by their packed bytes; callers get them as Rust sorts strings.
        held.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(held)
    }

    async fn save_service_account(&self, account: &ServiceAccount) -> StoreResult<()> {
        // One lock: nobody sees the account without what it holds.
        let mut state = self.state();
        let user = match state.user(&account.id)? {
            // An existing account keeps its status (a deactivated one stays so).
            Some(user) if matches!(user.kind, UserKind::ServiceAccount { .. }) => User {
                name: account.name.clone(),
                ..user
            },
            // A person's id: never given the account's permissions (the server mints fresh
            // ids, so this is a host's collision; the account then holds nothing).
            Some(_) => return Ok(()),
            None => account.new_user(),
        };
        state.users.insert(pack(&user));
        state.save_membership(&Membership {
            company: account.company.clone(),
            user: account.id.clone(),
            permissions: account.permissions.clone(),
        });
        Ok(())
    }

    async fn deactivate_service_account(&self, _: &CompanyId, user: &UserId) -> StoreResult<()> {
        let mut state = self.state();
        if let Some(account) = state.user(user)? {
            state.users.insert(pack(&User {
                status: UserStatus::Deactivated,
                ..account
            }));
        }
        Ok(())
    }
}

impl DirectoryStore for MemoryStore {
    async fn save_company(&self, company: Company) -> StoreResult<()> {
        self.state().companies.insert(pack(&company));
        Ok(())
    }

    async fn save_user(&self, user: User) -> StoreResult<()> {
        self.state().users.insert(pack(&user));
        Ok(())
    }

    async fn save_membership(
        &self,
        company: &CompanyId,
        user: &UserId,
        permissions: Permissions,
    ) -> StoreResult<()> {
        self.state().save_membership(&Membership {
            company: company.clone(),
            user: user.clone(),
            permissions,
        });
        Ok(())
    }

    async fn members(&self, company: &CompanyId) -> StoreResult<Vec<(User, Permissions)>> {
        let state = self.state();
        let mut listed = Vec::new();
        for user in state.members_of.seconds(company.as_str())? {
            let user = UserId::new(user);
            if let (Some(user), Some(permissions)) = state.member(company, &user)? {
                listed.push((user, permissions));
            }
        }
        listed.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(listed)
    }
}

impl InstallationStore for MemoryStore {
    async fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Installation>> {
        Ok(self.state().installation(app, company)?)
    }

    async fn decision_records(&self, query: &DecisionQuery<'_>) -> StoreResult<DecisionRecords> {
        // One lock for all of it, so everything is read as of the same moment.
        let state = self.state();
        let installation = state.installation(query.app, query.company)?;
        let ceiling = match query.acting {
            Acting::Person(_) => match state.apps.get([query.app.as_str()]) {
                Some(record) => packed::app_ceiling(record)?,
                None => None,
            },
            Acting::ServiceAccount => None,
        };
        let member = match query.member {
            MemberReads::InStore => Some(match query.acting_user(installation.as_ref()) {
                Some(user) => state.member(query.company, &user)?,
                None => (None, None),
            }),
            MemberReads::Elsewhere => None,
        };
        Ok(DecisionRecords {
            revoked: state.revoked.contains_key(query.grant),
            installation,
            ceiling,
            member,
        })
    }

    async fn save_installation(&self, installation: Installation) -> StoreResult<()> {
        self.state().installations.insert(pack(&installation));
        Ok(())
    }

    async fn insert_installation(&self, installation: Installation) -> StoreResult<bool> {
        let mut state = self.state();
        let key = [installation.app.as_str(), installation.company.as_str()];
        if state.installations.contains(key) {
            return Ok(false);
        }
        state.installations.insert(pack(&installation));
        Ok(true)
    }

    async fn update_installation(
        &self,
        expected_revision: u64,
        installation: Installation,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let key = [installation.app.as_str(), installation.company.as_str()];
        let Some(stored) = state.installations.get_mut(key) else {
            return Ok(false);
        };
        if unpack::<Installation>(stored)?.revision != expected_revision {
            return Ok(false);
        }
        *stored = pack(&installation);
        Ok(true)
    }

    async fn installations_of(&self, app: &ClientId) -> StoreResult<Vec<Installation>> {
        let mut found = self
            .state()
            .installations_where(|installed, _| installed == app.as_str().as_bytes())?;
        found.sort_by(|a, b| a.company.cmp(&b.company));
        Ok(found)
    }

    async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> {
        let mut found = self
            .state()
            .installations_where(|_, installed_in| installed_in == company.as_str().as_bytes())?;
        found.sort_by(|a, b| a.app.cmp(&b.app));
        Ok(found)
    }
}

impl CodeStore for MemoryStore {
    async fn save_code(&self, record: CodeRecord) -> StoreResult<()> {
        self.state().codes.insert(record.digest, (record, false));
        Ok(())
    }

    async fn code(&self, digest: &SecretDigest) -> StoreResult<Option<CodeRecord>> {
        Ok(self
            .state()
            .codes
            .get(digest)
            .map(|(record, _)| record.clone()))
    }

    async fn redeem_code(&self, digest: &SecretDigest) -> StoreResult<Redemption> {
        let mut state = self.state();
        Ok(match state.codes.get_mut(digest) {
            None => Redemption::Unknown,
            Some((record, true)) => Redemption::Reused(record.clone()),
            Some((record, spent)) => {
                *spent = true;
                Redemption::First(record.clone())
            }
        })
    }

    async fn purge_codes(&self, expired_before: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let before = state.codes.len();
        state
            .codes
            .retain(|_, (record, _)| record.expires_at >= expired_before);
        Ok((before - state.codes.len()) as u64)
    }
}

impl RefreshStore for MemoryStore {
    async fn save_family(&self, mut family: RefreshFamily) -> StoreResult<()> {
        let mut state = self.state();
        // A reused code may have revoked the grant before its first redemption saved this.
        if state.revoked.contains_key(&family.grant) {
            family.status = FamilyStatus::Revoked;
        }
        state.families.insert(family.grant.clone(), family);
        Ok(())
    }

    async fn family(&self, grant: &GrantId) -> StoreResult<Option<RefreshFamily>> {
        Ok(self.state().families.get(grant).cloned())
    }

    async fn commit_rotation(
        &self,
        expected_current: &SecretDigest,
        family: RefreshFamily,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(stored) = state.families.get_mut(&family.grant) else {
            return Ok(false);
        };
        if stored.current != *expected_current || stored.status != FamilyStatus::Active {
            return Ok(false);
        }
        *stored = family;
        Ok(true)
    }

    async fn families_of(&self, user: &UserId, app: &ClientId) -> StoreResult<Vec<RefreshFamily>> {
        let state = self.state();
        Ok(state
            .families
            .values()
            .filter(|family| family.user == *user && family.client_id == *app)
            .cloned()
            .collect())
    }

    async fn purge_families(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let before = state.families.len();
        state.families.retain(|_, family| {
            family.status == FamilyStatus::Active && family.expires_at.is_none_or(|at| at > now)
        });
        Ok((before - state.families.len()) as u64)
    }
}

impl RevocationStore for MemoryStore {
    async fn revoke_grant(&self, grant: &GrantId, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        state.revoked.entry(grant.clone()).or_insert(at);
        if let Some(family) = state.families.get_mut(grant) {
            family.status = FamilyStatus::Revoked;
        }
        Ok(())
    }

    async fn is_revoked(&self, grant: &GrantId) -> StoreResult<bool> {
        Ok(self.state().revoked.contains_key(grant))
    }

    async fn purge_revocations(&self, revoked_before: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let before = state.revoked.len();
        state.revoked.retain(|_, at| *at >= revoked_before);
        Ok((before - state.revoked.len()) as u64)
    }
}

impl ConsentStore for MemoryStore {
    async fn save_consent(
        &self,
        user: &UserId,
        app: &ClientId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.state()
            .consents
            .insert((user.clone(), app.clone()), at);
        Ok(())
    }

    async fn consent(&self, user: &UserId, app: &ClientId) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self
            .state()
            .consents
            .get(&(user.clone(), app.clone()))
            .copied())
    }

    async fn consents_of(&self, user: &UserId) -> StoreResult<Vec<(ClientId, DateTime<Utc>)>> {
        let state = self.state();
        let mut consents: Vec<(ClientId, DateTime<Utc>)> = state
            .consents
            .iter()
            .filter(|((holder, _), _)| holder == user)
            .map(|((_, app), at)| (app.clone(), *at))
            .collect();
        consents.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(consents)
    }

    async fn forget_consent(&self, user: &UserId, app: &ClientId) -> StoreResult<()> {
        self.state().consents.remove(&(user.clone(), app.clone()));
        Ok(())
    }
}

impl KeyStore for MemoryStore {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        Ok(self.state().signing_keys.clone())
    }

    async fn add_signing_key(&self, key: StoredKey) -> StoreResult<bool> {
        let mut state = self.state();
        let taken = state
            .signing_keys
            .iter()
            .any(|stored| stored.kid == key.kid || stored.generation == key.generation);
        if !taken {
            state.signing_keys.push(key);
        }
        Ok(!taken)
    }

    async fn delete_signing_key(&self, kid: &str) -> StoreResult<()> {
        self.state().signing_keys.retain(|stored| stored.kid != kid);
        Ok(())
    }
}

impl ReplayStore for MemoryStore {
    async fn first_use(&self, digest: &SecretDigest, until: DateTime<Utc>) -> StoreResult<bool> {
        let mut state = self.state();
        match state.used_once.entry(*digest) {
            std::collections::hash_map::Entry::Occupied(_) => Ok(false),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(until);
                Ok(true)
            }
        }
    }

    async fn purge_used(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let before = state.used_once.len();
        state.used_once.retain(|_, until| *until >= now);
        Ok((before - state.used_once.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, Scope};

    fn holding(tool: &str) -> Permissions {
        Permissions::none().with(Scope::Company, tool, Level::ReadOnly)
    }

    /// The pair index orders ids by their packed bytes, length first; what the store answers
    /// is in string order all the same, as the store traits promise.
    #[tokio::test]
    async fn companies_and_members_are_listed_in_string_order_whatever_their_ids_lengths() {
        let store = MemoryStore::new();
        let jane = UserId::new("jane");
        for company in ["ccc", "b", "aa"] {
            store
                .save_membership(&CompanyId::new(company), &jane, holding(company))
                .await
                .expect("saved");
        }
        let companies: Vec<String> = store
            .memberships_of(&jane)
            .await
            .expect("read")
            .into_iter()
            .map(|(company, permissions)| {
                assert_eq!(permissions, holding(company.as_str()));
                company.as_str().to_owned()
            })
            .collect();
        assert_eq!(companies, ["aa", "b", "ccc"]);

        let acme = CompanyId::new("acme");
        for user in ["zz", "a", "mmm"] {
            store
                .save_user(User::person(user, user))
                .await
                .expect("saved");
            store
                .save_membership(&acme, &UserId::new(user), holding(user))
                .await
                .expect("saved");
        }
        let members: Vec<String> = store
            .members(&acme)
            .await
            .expect("read")
            .into_iter()
            .map(|(user, _)| user.id.as_str().to_owned())
            .collect();
        assert_eq!(members, ["a", "mmm", "zz"]);
    }

    #[tokio::test]
    async fn a_membership_saved_again_is_listed_once_with_what_it_holds_now() {
        let store = MemoryStore::new();
        let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
        store
            .save_user(User::person("jane", "Jane"))
            .await
            .expect("saved");
        for tool in ["rfis", "budget"] {
            store
                .save_membership(&acme, &jane, holding(tool))
                .await
                .expect("saved");
        }
        assert_eq!(
            store.memberships_of(&jane).await.expect("read"),
            [(acme.clone(), holding("budget"))]
        );
        let members = store.members(&acme).await.expect("read");
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].1, holding("budget"));
    }
}
