//! Storage: one small trait per concern, and [`MemoryStore`], the embedded default.
//!
//! Two parts, composed: the OAuth state ([`Store`]) and who is who ([`Directory`]), appgrant's
//! own tables ([`DirectoryStore`]) or the host's. Every trait is implemented for `Arc<T>` too,
//! so a host can share one store between a server and its own code.
//!
//! Operations that must be atomic (redeem a code once, rotate a refresh token, revoke a grant)
//! are single calls, so a backend can make each one statement or transaction.

#[cfg(feature = "test-util")]
pub mod conformance;
mod directory;
mod forwarding;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

pub use directory::{Directory, DirectoryStore, ServiceAccount};
pub use memory::MemoryStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{SqlOptions, SqlStore};

use crate::grant::{CodeRecord, Redemption, RefreshFamily};
use crate::model::{App, ClientId, CompanyId, GrantId, Installation, SecretDigest, UserId};
use crate::token::StoredKey;
use chrono::{DateTime, Utc};
use std::future::Future;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (unreachable, timed out, full, or refused a statement).
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database URL names a database this build cannot open.
    #[error("{}", unsupported_url(*.feature))]
    UnsupportedUrl {
        /// The cargo feature that would open it, if there is one.
        feature: Option<&'static str>,
    },
}

fn unsupported_url(feature: Option<&'static str>) -> String {
    match feature {
        Some(feature) => format!(
            "this build cannot open that database URL: enable appgrant's `{feature}` feature"
        ),
        None => "unsupported database URL: use sqlite://FILE or postgres://…".to_owned(),
    }
}

/// Shorthand for a store call's result.
pub type StoreResult<T> = Result<T, StoreError>;

/// Registered apps.
pub trait AppStore: Send + Sync {
    /// The app with this client id.
    fn app(&self, client_id: &ClientId) -> impl Future<Output = StoreResult<Option<App>>> + Send;
    /// Inserts or replaces an app.
    fn save_app(&self, app: App) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Installations of apps in companies.
pub trait InstallationStore: Send + Sync {
    /// The installation of `app` in `company`.
    fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> impl Future<Output = StoreResult<Option<Installation>>> + Send;
    /// Inserts or replaces an installation unconditionally (for seeding and imports; the server
    /// uses the two calls below).
    fn save_installation(
        &self,
        installation: Installation,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Inserts a new installation unless one exists for its app and company; returns whether
    /// it did.
    fn insert_installation(
        &self,
        installation: Installation,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Replaces the installation if the stored one is still at `expected_revision`; returns
    /// whether it did (false: someone else changed it first).
    fn update_installation(
        &self,
        expected_revision: u64,
        installation: Installation,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Every installation of `app`.
    fn installations_of(
        &self,
        app: &ClientId,
    ) -> impl Future<Output = StoreResult<Vec<Installation>>> + Send;
}

/// Authorization codes.
pub trait CodeStore: Send + Sync {
    /// Stores a new code.
    fn save_code(&self, record: CodeRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// The code with this digest, spent or not, without redeeming it.
    fn code(
        &self,
        digest: &SecretDigest,
    ) -> impl Future<Output = StoreResult<Option<CodeRecord>>> + Send;
    /// Redeems the code with this digest, atomically: exactly one caller ever gets
    /// [`Redemption::First`].
    fn redeem_code(
        &self,
        digest: &SecretDigest,
    ) -> impl Future<Output = StoreResult<Redemption>> + Send;
    /// Deletes codes that expired before `expired_before`; returns how many.
    fn purge_codes(
        &self,
        expired_before: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Refresh-token families: one record per family, whatever its number of rotations (refresh
/// tokens name their family, so no token index is needed).
pub trait RefreshStore: Send + Sync {
    /// Stores a new family; if its grant was already revoked (a reused code can race the
    /// first redemption), it is stored revoked.
    fn save_family(&self, family: RefreshFamily) -> impl Future<Output = StoreResult<()>> + Send;
    /// The family of a grant.
    fn family(
        &self,
        grant: &GrantId,
    ) -> impl Future<Output = StoreResult<Option<RefreshFamily>>> + Send;
    /// Replaces the family if its current token is still `expected_current` and it is not
    /// revoked; returns whether it did (false: another rotation or a revocation won).
    fn commit_rotation(
        &self,
        expected_current: &SecretDigest,
        family: RefreshFamily,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Deletes families that can never refresh again (revoked, or expired at `now`); returns
    /// how many.
    fn purge_families(&self, now: DateTime<Utc>) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Revoked grants.
pub trait RevocationStore: Send + Sync {
    /// Revokes every token of `grant` (its refresh family too, if it has one) as of `at`.
    /// Idempotent: the first revocation's time stands.
    fn revoke_grant(
        &self,
        grant: &GrantId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Whether `grant` was revoked.
    fn is_revoked(&self, grant: &GrantId) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Forgets revocations made before `revoked_before` (when every access token they could
    /// cover has expired); returns how many.
    fn purge_revocations(
        &self,
        revoked_before: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Users' consents to apps.
pub trait ConsentStore: Send + Sync {
    /// Records that `user` authorized `app`.
    fn save_consent(
        &self,
        user: &UserId,
        app: &ClientId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// When `user` authorized `app`, if they did.
    fn consent(
        &self,
        user: &UserId,
        app: &ClientId,
    ) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;
}

/// Signing keys shared by the instances, sealed (see [`crate::token::key_schedule`]).
pub trait KeyStore: Send + Sync {
    /// Every stored signing key.
    fn signing_keys(&self) -> impl Future<Output = StoreResult<Vec<StoredKey>>> + Send;
    /// Stores a new key unless one with its key id or generation exists; returns whether it
    /// did (false: another instance stored that generation first).
    fn add_signing_key(&self, key: StoredKey) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Deletes the key with this id (one no valid token can carry any more).
    fn delete_signing_key(&self, kid: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Everything the server keeps of OAuth state: apps, installations, codes, refresh families,
/// revocations, consents and signing keys. Who is who (companies, users, permissions) is the
/// [`Directory`], a part of its own.
pub trait Store:
    AppStore
    + InstallationStore
    + CodeStore
    + RefreshStore
    + RevocationStore
    + ConsentStore
    + KeyStore
    + 'static
{
}

impl<T> Store for T where
    T: AppStore
        + InstallationStore
        + CodeStore
        + RefreshStore
        + RevocationStore
        + ConsentStore
        + KeyStore
        + 'static
{
}
