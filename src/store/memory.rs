//! The in-memory store: everything in one process, behind one lock per call.

use super::{
    Acting, AppStore, CodeStore, ConsentStore, DecisionQuery, DecisionRecords, Directory,
    DirectoryStore, InstallationStore, KeyStore, MemberReads, RefreshStore, RevocationStore,
    ServiceAccount, StoreResult,
};
use crate::grant::{CodeRecord, FamilyStatus, Redemption, RefreshFamily};
use crate::model::{
    App, ClientId, Company, CompanyId, GrantId, Installation, Permissions, SecretDigest, User,
    UserId, UserKind, UserStatus,
};
use crate::token::StoredKey;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

#[derive(Default)]
struct State {
    apps: HashMap<ClientId, App>,
    companies: HashMap<CompanyId, Company>,
    users: HashMap<UserId, User>,
    memberships: HashMap<CompanyId, HashMap<UserId, Permissions>>,
    // Which companies each user belongs to, so a user's memberships are found without a scan.
    companies_of: HashMap<UserId, std::collections::BTreeSet<CompanyId>>,
    installations: HashMap<(ClientId, CompanyId), Installation>,
    codes: HashMap<SecretDigest, (CodeRecord, bool)>,
    families: HashMap<GrantId, RefreshFamily>,
    revoked: HashMap<GrantId, DateTime<Utc>>,
    consents: HashMap<(UserId, ClientId), DateTime<Utc>>,
    signing_keys: Vec<StoredKey>,
}

impl State {
    fn member(&self, company: &CompanyId, user: &UserId) -> (Option<User>, Option<Permissions>) {
        let held = self
            .memberships
            .get(company)
            .and_then(|members| members.get(user))
            .cloned();
        (self.users.get(user).cloned(), held)
    }
}

/// A store in process memory: the embedded default. Cloning shares the same data.
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
        // Every write below is a single map operation, so a panic elsewhere cannot leave the
        // state half-changed; carrying on after a poisoned lock is safe.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AppStore for MemoryStore {
    async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        Ok(self.state().apps.get(client_id).cloned())
    }

    async fn save_app(&self, app: App) -> StoreResult<()> {
        self.state().apps.insert(app.client_id.clone(), app);
        Ok(())
    }

    async fn update_app(&self, expected_revision: u64, app: App) -> StoreResult<bool> {
        let mut state = self.state();
        match state.apps.get_mut(&app.client_id) {
            Some(stored) if stored.revision == expected_revision => {
                *stored = app;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn apps(&self) -> StoreResult<Vec<App>> {
        let mut apps: Vec<App> = self.state().apps.values().cloned().collect();
        apps.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(apps)
    }

    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        Ok(self.state().apps.remove(client_id).is_some())
    }
}

impl Directory for MemoryStore {
    async fn company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        Ok(self.state().companies.get(id).cloned())
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        Ok(self.state().users.get(id).cloned())
    }

    async fn membership(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<Option<Permissions>> {
        Ok(self
            .state()
            .memberships
            .get(company)
            .and_then(|members| members.get(user))
            .cloned())
    }

    async fn member(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<(Option<User>, Option<Permissions>)> {
        // One lock for both, so the two are read as of the same moment.
        Ok(self.state().member(company, user))
    }

    async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<(CompanyId, Permissions)>> {
        let state = self.state();
        let Some(companies) = state.companies_of.get(user) else {
            return Ok(Vec::new());
        };
        Ok(companies
            .iter()
            .filter_map(|company| {
                let permissions = state.memberships.get(company)?.get(user)?;
                Some((company.clone(), permissions.clone()))
            })
            .collect())
    }

    async fn save_service_account(&self, account: &ServiceAccount) -> StoreResult<()> {
        // One lock: nobody sees the account without what it holds.
        let mut state = self.state();
        match state.users.get_mut(&account.id) {
            // An existing account keeps its status (a deactivated one stays so).
            Some(user) if matches!(user.kind, UserKind::ServiceAccount { .. }) => {
                user.name = account.name.clone();
            }
            // A person's id: never given the account's permissions (the server mints fresh
            // ids, so this is a host's collision; the account then holds nothing).
            Some(_) => return Ok(()),
            None => {
                state.users.insert(account.id.clone(), account.new_user());
            }
        }
        state
            .memberships
            .entry(account.company.clone())
            .or_default()
            .insert(account.id.clone(), account.permissions.clone());
        state
            .companies_of
            .entry(account.id.clone())
            .or_default()
            .insert(account.company.clone());
        Ok(())
    }

    async fn deactivate_service_account(&self, _: &CompanyId, user: &UserId) -> StoreResult<()> {
        if let Some(account) = self.state().users.get_mut(user) {
            account.status = UserStatus::Deactivated;
        }
        Ok(())
    }
}

impl DirectoryStore for MemoryStore {
    async fn save_company(&self, company: Company) -> StoreResult<()> {
        self.state().companies.insert(company.id.clone(), company);
        Ok(())
    }

    async fn save_user(&self, user: User) -> StoreResult<()> {
        self.state().users.insert(user.id.clone(), user);
        Ok(())
    }

    async fn save_membership(
        &self,
        company: &CompanyId,
        user: &UserId,
        permissions: Permissions,
    ) -> StoreResult<()> {
        let mut state = self.state();
        state
            .memberships
            .entry(company.clone())
            .or_default()
            .insert(user.clone(), permissions);
        state
            .companies_of
            .entry(user.clone())
            .or_default()
            .insert(company.clone());
        Ok(())
    }

    async fn members(&self, company: &CompanyId) -> StoreResult<Vec<(User, Permissions)>> {
        let state = self.state();
        let Some(members) = state.memberships.get(company) else {
            return Ok(Vec::new());
        };
        let mut listed: Vec<(User, Permissions)> = members
            .iter()
            .filter_map(|(id, permissions)| {
                state
                    .users
                    .get(id)
                    .map(|user| (user.clone(), permissions.clone()))
            })
            .collect();
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
        Ok(self
            .state()
            .installations
            .get(&(app.clone(), company.clone()))
            .cloned())
    }

    async fn decision_records(&self, query: &DecisionQuery<'_>) -> StoreResult<DecisionRecords> {
        // One lock for all of it, so everything is read as of the same moment.
        let state = self.state();
        let installation = state
            .installations
            .get(&(query.app.clone(), query.company.clone()))
            .cloned();
        let ceiling = match query.acting {
            Acting::Person(_) => state
                .apps
                .get(query.app)
                .and_then(|app| app.ceiling.clone()),
            Acting::ServiceAccount => None,
        };
        let member = match query.member {
            MemberReads::InStore => Some(
                query
                    .acting_user(installation.as_ref())
                    .map_or((None, None), |user| state.member(query.company, &user)),
            ),
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
        let key = (installation.app.clone(), installation.company.clone());
        self.state().installations.insert(key, installation);
        Ok(())
    }

    async fn insert_installation(&self, installation: Installation) -> StoreResult<bool> {
        let key = (installation.app.clone(), installation.company.clone());
        let mut state = self.state();
        if state.installations.contains_key(&key) {
            return Ok(false);
        }
        state.installations.insert(key, installation);
        Ok(true)
    }

    async fn update_installation(
        &self,
        expected_revision: u64,
        installation: Installation,
    ) -> StoreResult<bool> {
        let key = (installation.app.clone(), installation.company.clone());
        let mut state = self.state();
        match state.installations.get_mut(&key) {
            Some(stored) if stored.revision == expected_revision => {
                *stored = installation;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn installations_of(&self, app: &ClientId) -> StoreResult<Vec<Installation>> {
        let state = self.state();
        let mut found: Vec<Installation> = state
            .installations
            .values()
            .filter(|installation| installation.app == *app)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.company.cmp(&b.company));
        Ok(found)
    }

    async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> {
        let state = self.state();
        let mut found: Vec<Installation> = state
            .installations
            .values()
            .filter(|installation| installation.company == *company)
            .cloned()
            .collect();
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
