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
mod decision_records;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod decoded_records;
mod directory;
mod forwarding;
mod memory;
#[cfg(feature = "postgres")]
mod postgres_reads;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod reachability;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod shared_reads;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite_reads;

pub use decision_records::{Acting, DecisionQuery, DecisionRecords, MemberReads};
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

/// An app and its installation in a company, each if stored
/// ([`InstallationStore::app_with_installation`]).
pub type AppWithInstallation = (Option<App>, Option<Installation>);

/// Registered apps.
pub trait AppStore: Send + Sync {
    /// The app with this client id.
    fn app(&self, client_id: &ClientId) -> impl Future<Output = StoreResult<Option<App>>> + Send;
    /// Inserts or replaces an app unconditionally (registering a new one; seeding and imports).
    /// The server changes a registered app with [`update_app`](AppStore::update_app) instead.
    fn save_app(&self, app: App) -> impl Future<Output = StoreResult<()>> + Send;
    /// Replaces the app if it is still stored at `expected_revision`; returns whether it did
    /// (false: someone else changed or deleted it first). Never inserts: an app that is not
    /// stored (deleted meanwhile) stays so.
    fn update_app(
        &self,
        expected_revision: u64,
        app: App,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Every app, sorted by client id as Rust sorts strings (bytewise, whatever a database's
    /// collation says).
    fn apps(&self) -> impl Future<Output = StoreResult<Vec<App>>> + Send;
    /// Deletes the app with this client id; returns whether there was one. Only the app's own
    /// record goes: its installations stay as they are (the server uninstalls them first, and
    /// keeps them as the record of when its tokens stopped). Whatever its revision: a deletion
    /// wins over any change, which [`update_app`](AppStore::update_app) cannot undo.
    fn delete_app(&self, client_id: &ClientId) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Installations of apps in companies.
pub trait InstallationStore: Send + Sync {
    /// The installation of `app` in `company`.
    fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> impl Future<Output = StoreResult<Option<Installation>>> + Send;
    /// Everything a decision reads of storage, as [`installation`](Self::installation),
    /// [`RevocationStore::is_revoked`], the app's ceiling ([`AppStore::app`], for a person's
    /// token) and, when asked [`MemberReads::InStore`], [`Directory::member`] for the acting
    /// user answer. The default asks each in turn and leaves the member to the directory; a
    /// store that can answer in one round trip (appgrant's SQL and memory stores do) should.
    fn decision_records(
        &self,
        query: &DecisionQuery<'_>,
    ) -> impl Future<Output = StoreResult<DecisionRecords>> + Send
    where
        Self: RevocationStore + AppStore,
    {
        async move {
            let installation = self.installation(query.app, query.company).await?;
            let revoked = self.is_revoked(query.grant).await?;
            let ceiling = match query.acting {
                Acting::Person(_) => self.app(query.app).await?.and_then(|app| app.ceiling),
                Acting::ServiceAccount => None,
            };
            Ok(DecisionRecords {
                installation,
                revoked,
                ceiling,
                member: None,
            })
        }
    }
    /// The app with this client id and its installation in `company`, in one read: what a
    /// client-credentials grant for a company needs, as [`AppStore::app`] and
    /// [`installation`](Self::installation) answer them. `None` (the default) says the store
    /// has no such read, and the server asks for the two side by side; a store that answers
    /// both for the cost of one (appgrant's SQL stores: one statement) returns the read.
    fn app_with_installation(
        &self,
        client_id: &ClientId,
        company: &CompanyId,
    ) -> Option<impl Future<Output = StoreResult<AppWithInstallation>> + Send> {
        let _ = (client_id, company);
        None::<std::future::Ready<StoreResult<AppWithInstallation>>>
    }
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
    /// Every installation of `app`, sorted by company id as Rust sorts strings.
    fn installations_of(
        &self,
        app: &ClientId,
    ) -> impl Future<Output = StoreResult<Vec<Installation>>> + Send;
    /// Every installation in `company` (its admin page), sorted by client id as Rust sorts
    /// strings.
    fn installations_in(
        &self,
        company: &CompanyId,
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
    /// Every family `user` holds for `app` (to revoke them all when the person disconnects
    /// the app), in any order.
    fn families_of(
        &self,
        user: &UserId,
        app: &ClientId,
    ) -> impl Future<Output = StoreResult<Vec<RefreshFamily>>> + Send;
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
///
/// A consent stays until [`forget_consent`](ConsentStore::forget_consent) (the person
/// disconnects the app): a code exchange reads it after saving its grant, and refuses (and
/// revokes) the grant of a code whose consent is gone, which is how a disconnect stops a code
/// issued before it. A store that expired consents on its own would refuse valid exchanges.
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
    /// Every app `user` authorized, with when, sorted by client id as Rust sorts strings.
    fn consents_of(
        &self,
        user: &UserId,
    ) -> impl Future<Output = StoreResult<Vec<(ClientId, DateTime<Utc>)>>> + Send;
    /// Forgets that `user` authorized `app` (they disconnected it); nothing if they had not.
    fn forget_consent(
        &self,
        user: &UserId,
        app: &ClientId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
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

/// Values a client may use only once: the `jti` of a client assertion (RFC 7523 §3) or of a
/// DPoP proof (RFC 9449 §11.1), or a pushed request's `request_uri` (RFC 9126 §4), kept as
/// digests while the value could still be accepted.
pub trait ReplayStore: Send + Sync {
    /// Records `digest` as used until `until`; returns whether this is its first use (false:
    /// it was used before, a replay). Atomic: of two instances recording the same digest at
    /// once, exactly one is told it was first.
    fn first_use(
        &self,
        digest: &SecretDigest,
        until: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Forgets values remembered until before `now` (they could no longer be accepted);
    /// returns how many.
    fn purge_used(&self, now: DateTime<Utc>) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// Everything the server keeps of OAuth state: apps, installations, codes, refresh families,
/// revocations, consents, signing keys and values used once. Who is who (companies, users, permissions) is the
/// [`Directory`], a part of its own.
///
/// A host's own store implements the eight traits over its database. Here, one that wraps the
/// memory store and counts code redemptions (the other seven traits forward the same way, hidden
/// here), used with the memory store's directory tables as the directory: the store itself
/// implements no directory trait at all.
///
/// ```
/// use appgrant::grant::{CodeRecord, Redemption};
/// use appgrant::model::SecretDigest;
/// use appgrant::store::{CodeStore, StoreResult};
/// use appgrant::{AuthorizationServer, Config, MemoryStore};
/// use chrono::{DateTime, Utc};
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// # use appgrant::grant::RefreshFamily;
/// # use appgrant::model::{App, ClientId, CompanyId, GrantId, Installation, UserId};
/// # use appgrant::store::{AppStore, ConsentStore, InstallationStore, KeyStore, RefreshStore, ReplayStore, RevocationStore};
/// # use appgrant::token::StoredKey;
///
/// #[derive(Clone, Default)]
/// struct CountingStore {
///     inner: MemoryStore,
///     redeemed: Arc<AtomicU64>,
/// }
///
/// impl CodeStore for CountingStore {
///     async fn save_code(&self, record: CodeRecord) -> StoreResult<()> {
///         self.inner.save_code(record).await
///     }
///     async fn code(&self, digest: &SecretDigest) -> StoreResult<Option<CodeRecord>> {
///         self.inner.code(digest).await
///     }
///     async fn redeem_code(&self, digest: &SecretDigest) -> StoreResult<Redemption> {
///         self.redeemed.fetch_add(1, Ordering::Relaxed);
///         // Must stay atomic: exactly one caller ever gets `Redemption::First`.
///         self.inner.redeem_code(digest).await
///     }
///     async fn purge_codes(&self, expired_before: DateTime<Utc>) -> StoreResult<u64> {
///         self.inner.purge_codes(expired_before).await
///     }
/// }
/// # impl AppStore for CountingStore {
/// #     async fn app(&self, id: &ClientId) -> StoreResult<Option<App>> { self.inner.app(id).await }
/// #     async fn save_app(&self, app: App) -> StoreResult<()> { self.inner.save_app(app).await }
/// #     async fn update_app(&self, revision: u64, app: App) -> StoreResult<bool> { self.inner.update_app(revision, app).await }
/// #     async fn apps(&self) -> StoreResult<Vec<App>> { self.inner.apps().await }
/// #     async fn delete_app(&self, id: &ClientId) -> StoreResult<bool> { self.inner.delete_app(id).await }
/// # }
/// # impl InstallationStore for CountingStore {
/// #     async fn installation(&self, app: &ClientId, company: &CompanyId) -> StoreResult<Option<Installation>> { self.inner.installation(app, company).await }
/// #     async fn save_installation(&self, i: Installation) -> StoreResult<()> { self.inner.save_installation(i).await }
/// #     async fn insert_installation(&self, i: Installation) -> StoreResult<bool> { self.inner.insert_installation(i).await }
/// #     async fn update_installation(&self, revision: u64, i: Installation) -> StoreResult<bool> { self.inner.update_installation(revision, i).await }
/// #     async fn installations_of(&self, app: &ClientId) -> StoreResult<Vec<Installation>> { self.inner.installations_of(app).await }
/// #     async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> { self.inner.installations_in(company).await }
/// # }
/// # impl RefreshStore for CountingStore {
/// #     async fn save_family(&self, f: RefreshFamily) -> StoreResult<()> { self.inner.save_family(f).await }
/// #     async fn family(&self, g: &GrantId) -> StoreResult<Option<RefreshFamily>> { self.inner.family(g).await }
/// #     async fn commit_rotation(&self, e: &SecretDigest, f: RefreshFamily) -> StoreResult<bool> { self.inner.commit_rotation(e, f).await }
/// #     async fn families_of(&self, u: &UserId, a: &ClientId) -> StoreResult<Vec<RefreshFamily>> { self.inner.families_of(u, a).await }
/// #     async fn purge_families(&self, now: DateTime<Utc>) -> StoreResult<u64> { self.inner.purge_families(now).await }
/// # }
/// # impl RevocationStore for CountingStore {
/// #     async fn revoke_grant(&self, g: &GrantId, at: DateTime<Utc>) -> StoreResult<()> { self.inner.revoke_grant(g, at).await }
/// #     async fn is_revoked(&self, g: &GrantId) -> StoreResult<bool> { self.inner.is_revoked(g).await }
/// #     async fn purge_revocations(&self, before: DateTime<Utc>) -> StoreResult<u64> { self.inner.purge_revocations(before).await }
/// # }
/// # impl ConsentStore for CountingStore {
/// #     async fn save_consent(&self, u: &UserId, a: &ClientId, at: DateTime<Utc>) -> StoreResult<()> { self.inner.save_consent(u, a, at).await }
/// #     async fn consent(&self, u: &UserId, a: &ClientId) -> StoreResult<Option<DateTime<Utc>>> { self.inner.consent(u, a).await }
/// #     async fn consents_of(&self, u: &UserId) -> StoreResult<Vec<(ClientId, DateTime<Utc>)>> { self.inner.consents_of(u).await }
/// #     async fn forget_consent(&self, u: &UserId, a: &ClientId) -> StoreResult<()> { self.inner.forget_consent(u, a).await }
/// # }
/// # impl KeyStore for CountingStore {
/// #     async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> { self.inner.signing_keys().await }
/// #     async fn add_signing_key(&self, k: StoredKey) -> StoreResult<bool> { self.inner.add_signing_key(k).await }
/// #     async fn delete_signing_key(&self, kid: &str) -> StoreResult<()> { self.inner.delete_signing_key(kid).await }
/// # }
/// # impl ReplayStore for CountingStore {
/// #     async fn first_use(&self, d: &SecretDigest, until: DateTime<Utc>) -> StoreResult<bool> { self.inner.first_use(d, until).await }
/// #     async fn purge_used(&self, now: DateTime<Utc>) -> StoreResult<u64> { self.inner.purge_used(now).await }
/// # }
///
/// let server = AuthorizationServer::builder(CountingStore::default(), Config::new("https://auth.example.com"))
///     .directory(MemoryStore::new())
///     .build()?;
/// # let _ = server;
/// # Ok::<(), appgrant::server::ServerError>(())
/// ```
///
/// `conformance::run_oauth_state` (feature `test-util`) checks such a store against
/// everything the server relies on.
pub trait Store:
    AppStore
    + InstallationStore
    + CodeStore
    + RefreshStore
    + RevocationStore
    + ConsentStore
    + KeyStore
    + ReplayStore
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
        + ReplayStore
        + 'static
{
}
