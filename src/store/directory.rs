//! Who is who: the [`Directory`] the server reads at every decision (companies, users, their
//! permissions, the service accounts it creates) and [`DirectoryStore`], appgrant's own tables
//! for a host that keeps no directory of its own.
//!
//! A platform that already has users, companies and permissions implements [`Directory`] over
//! its own data and hands it to
//! [`ServerBuilder::directory`](crate::server::ServerBuilder::directory): nothing is copied, so
//! a permission the host changes is what the very next decision reads.

use super::StoreResult;
use crate::model::{ClientId, Company, CompanyId, Permissions, User, UserId, UserKind, UserStatus};
use std::future::Future;

/// The service-account user of an installation, as the server asks the directory to hold it:
/// a member of `company` with exactly `permissions` (what the admin approved, on the projects
/// they permitted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    /// The company whose directory it belongs to.
    pub company: CompanyId,
    /// Its user id (fresh at each approval, so never a person's).
    pub id: UserId,
    /// Its display name.
    pub name: String,
    /// The app it acts for.
    pub app: ClientId,
    /// What it holds in the company.
    pub permissions: Permissions,
}

impl ServiceAccount {
    /// The user record of a new service account: active, of its app.
    pub fn new_user(&self) -> User {
        User {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: UserKind::ServiceAccount {
                app: self.app.clone(),
            },
            status: UserStatus::Active,
        }
    }
}

/// The directory decisions read: companies (with their projects), users, a user's permissions
/// in a company. Every call is made fresh at every decision, so a host's change takes effect at
/// the next one.
///
/// The server writes to it only for service accounts: on approval and on every change of what
/// an installation holds it calls [`save_service_account`](Directory::save_service_account),
/// on uninstall [`deactivate_service_account`](Directory::deactivate_service_account), so the
/// service account appears in the platform's own user table.
///
/// Answer [`StoreError::Backend`](super::StoreError::Backend) when the host's database fails:
/// the server turns it into a quick, retryable `503`.
///
/// A host's directory over its own tables (here an in-memory map standing in for them):
///
/// ```
/// use appgrant::model::{Company, CompanyId, Permissions, User, UserId, UserStatus};
/// use appgrant::store::{Directory, ServiceAccount, StoreResult};
/// use std::collections::BTreeMap;
/// use std::sync::Mutex;
///
/// #[derive(Default)]
/// struct PlatformDirectory {
///     users: Mutex<BTreeMap<UserId, User>>,
///     roles: Mutex<BTreeMap<(CompanyId, UserId), Permissions>>,
/// }
///
/// impl Directory for PlatformDirectory {
///     async fn company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
///         Ok((id.as_str() == "acme").then(|| Company::new("acme", "Acme").with_project("tower", "Riverside Tower")))
///     }
///     async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
///         Ok(self.users.lock().unwrap().get(id).cloned())
///     }
///     async fn membership(&self, company: &CompanyId, user: &UserId) -> StoreResult<Option<Permissions>> {
///         Ok(self.roles.lock().unwrap().get(&(company.clone(), user.clone())).cloned())
///     }
///     async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<(CompanyId, Permissions)>> {
///         let roles = self.roles.lock().unwrap();
///         Ok(roles.iter().filter(|((_, member), _)| member == user)
///             .map(|((company, _), held)| (company.clone(), held.clone())).collect())
///     }
///     async fn save_service_account(&self, account: &ServiceAccount) -> StoreResult<()> {
///         // New accounts start active; an existing one keeps its status.
///         self.users.lock().unwrap().entry(account.id.clone()).or_insert_with(|| account.new_user());
///         let key = (account.company.clone(), account.id.clone());
///         self.roles.lock().unwrap().insert(key, account.permissions.clone());
///         Ok(())
///     }
///     async fn deactivate_service_account(&self, _: &CompanyId, user: &UserId) -> StoreResult<()> {
///         if let Some(account) = self.users.lock().unwrap().get_mut(user) {
///             account.status = UserStatus::Deactivated;
///         }
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use appgrant::{AuthorizationServer, Config, MemoryStore};
/// // OAuth state in appgrant's store, who is who in the platform's directory.
/// let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com"))
///     .directory(PlatformDirectory::default())
///     .build()?;
/// assert!(server.directory().company(&CompanyId::new("acme")).await?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait Directory: Send + Sync + 'static {
    /// A company, with the projects it lists.
    fn company(&self, id: &CompanyId) -> impl Future<Output = StoreResult<Option<Company>>> + Send;
    /// A user (a person or a service account).
    fn user(&self, id: &UserId) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// A user's permissions in a company, or `None` if not a member.
    fn membership(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Option<Permissions>>> + Send;
    /// `user` and what they hold in `company`, as [`user`](Self::user) and
    /// [`membership`](Self::membership) answer: what every decision reads of the acting user.
    /// The default asks one then the other; a directory that can answer both in one round trip
    /// (appgrant's SQL store does) should.
    fn member(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<(Option<User>, Option<Permissions>)>> + Send {
        async move {
            Ok((
                self.user(user).await?,
                self.membership(company, user).await?,
            ))
        }
    }
    /// Every company `user` is a member of, with their permissions there (introspection of a
    /// token bound to no company asks it).
    fn memberships_of(
        &self,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<(CompanyId, Permissions)>>> + Send;
    /// Creates the service account (active), or, if it exists, updates its name and what it
    /// holds to exactly `account.permissions`, keeping its status: an account deactivated (by
    /// an uninstall, or by the host) stays deactivated. Called again with the same account
    /// whenever what it holds changes, and when an approval is retried; must be idempotent.
    /// Never turn a person's record into a service account: refuse an id that names one.
    fn save_service_account(
        &self,
        account: &ServiceAccount,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deactivates the service account `user` of `company` (the app was uninstalled): from
    /// then on [`user`](Directory::user) answers it deactivated, or not at all.
    fn deactivate_service_account(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// appgrant's own directory tables, for a host that keeps its directory in appgrant (the
/// embedded default): the [`Directory`] reads plus the writes that keep it.
pub trait DirectoryStore: Directory {
    /// Inserts or replaces a company.
    fn save_company(&self, company: Company) -> impl Future<Output = StoreResult<()>> + Send;
    /// Inserts or replaces a user.
    fn save_user(&self, user: User) -> impl Future<Output = StoreResult<()>> + Send;
    /// Makes `user` a member of `company` with `permissions`, replacing what it held.
    fn save_membership(
        &self,
        company: &CompanyId,
        user: &UserId,
        permissions: Permissions,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every member of a company with their permissions.
    fn members(
        &self,
        company: &CompanyId,
    ) -> impl Future<Output = StoreResult<Vec<(User, Permissions)>>> + Send;
}
