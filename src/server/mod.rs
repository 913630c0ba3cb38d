//! The façade most hosts call: [`AuthorizationServer`] loads records from the store, calls the
//! pure flows with the clock's `now` and a random source, saves what they return and emits
//! audit events. It is `Clone + Send + Sync`; clones share everything.

mod access;
mod apps;
mod authorization;
mod clock;
mod connections;
mod directory;
mod error;
mod health;
mod installations;
mod pushed;
mod review;
pub mod telemetry;
mod tokens;
mod verified_tokens;

pub use access::{AccessDecision, Introspection, TokenInfo, TokenKind};
pub use authorization::ConsentPrompt;
pub use clock::{Clock, ManualClock, SystemClock};
pub use connections::ConnectedApp;
pub use error::ServerError;
pub use health::NotReady;
pub use installations::RegisteredApp;
pub use pushed::ReceivedAuthorization;
pub use review::{AdminDecision, CompanyAccess, ConsentDetails, InstallationReview, ReviewStage};

use crate::audit::{AuditAction, AuditActor, AuditEvent, AuditSink, MemoryAuditSink};
use crate::config::Config;
use crate::model::{ClientId, CompanyId};
use crate::store::{Directory, MemberReads, Store};
use crate::token::{
    Algorithm, ConsentFormKey, DeploymentSecret, DpopNonceKey, Jwks, KeyEncryptionKey, KeyPolicy,
    KeySet, PushedRequestKey, RefreshTokenKey, SigningKey, StoredKey, key_schedule,
};
use chrono::DateTime;
use chrono::Utc;
use std::sync::{Arc, PoisonError, RwLock};

struct Inner<S, D> {
    store: S,
    directory: D,
    config: Config,
    keys: RwLock<KeySet>,
    refresh_key: RefreshTokenKey,
    consent_form_key: ConsentFormKey,
    pushed_request_key: PushedRequestKey,
    dpop_nonce_key: DpopNonceKey,
    stored_keys: Option<StoredKeys>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    verified: verified_tokens::VerifiedTokens,
    /// Whether the directory is the store's own tables, which a decision then reads with the
    /// rest of what it reads of the store.
    member_reads: MemberReads,
    /// What validation expects of this server's tokens, from `config`, made once rather than
    /// at every decision.
    expectations: crate::token::Expectations,
    /// What this server accepts when it looks into a token itself: any audience it issues for.
    expectations_anywhere: crate::token::Expectations,
    /// What each configured resource server expects (RFC 8707), in `Config::resources` order.
    expectations_at: Vec<crate::token::Expectations>,
}

/// Signing keys kept in the store: how to open them, how they rotate, when to reread them.
struct StoredKeys {
    kek: KeyEncryptionKey,
    policy: KeyPolicy,
    next_reload: RwLock<DateTime<Utc>>,
}

/// An embeddable OAuth 2.0 authorization server keeping its OAuth state in a store `S` and
/// reading who is who from a directory `D`: the store's own directory tables by default, or
/// the host's (see [`Directory`]).
pub struct AuthorizationServer<S, D = S> {
    inner: Arc<Inner<S, D>>,
}

impl<S, D> Clone for AuthorizationServer<S, D> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S, D> std::fmt::Debug for AuthorizationServer<S, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.inner.config.issuer)
            .finish_non_exhaustive()
    }
}

/// What a [`AuthorizationServer::purge`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Expired authorization codes.
    pub codes: u64,
    /// Revoked or expired refresh families.
    pub families: u64,
    /// Revocations older than every access token they covered.
    pub revocations: u64,
    /// Client assertion and DPoP proof ids, and spent pushed-request `request_uri`s,
    /// remembered past the time they could be accepted.
    pub used_once: u64,
    /// Stored signing keys replaced longer ago than any token they signed can live.
    pub keys: u64,
}

/// Builds an [`AuthorizationServer`].
pub struct ServerBuilder<S, D = S> {
    store: S,
    directory: D,
    config: Config,
    keys: Option<KeySet>,
    refresh_key: Option<RefreshTokenKey>,
    consent_form_key: Option<ConsentFormKey>,
    pushed_request_key: Option<PushedRequestKey>,
    dpop_nonce_key: Option<DpopNonceKey>,
    key_encryption_key: Option<KeyEncryptionKey>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    member_reads: MemberReads,
}

impl<S: Store, D> ServerBuilder<S, D> {
    /// Reads companies, users and permissions from `directory` (the host's own, say) instead of
    /// the store's directory tables: decisions read it at every decision, and service accounts
    /// are written to it.
    pub fn directory<D2: Directory>(self, directory: D2) -> ServerBuilder<S, D2> {
        ServerBuilder {
            store: self.store,
            directory,
            config: self.config,
            keys: self.keys,
            refresh_key: self.refresh_key,
            consent_form_key: self.consent_form_key,
            pushed_request_key: self.pushed_request_key,
            dpop_nonce_key: self.dpop_nonce_key,
            key_encryption_key: self.key_encryption_key,
            audit: self.audit,
            clock: self.clock,
            member_reads: MemberReads::Elsewhere,
        }
    }

    /// Derives the keys instances must share (refresh tokens, consent forms, pushed requests) from the
    /// deployment's secret: instances with the same store, issuer and secret are one server.
    pub fn deployment_secret(mut self, secret: &DeploymentSecret) -> Self {
        self.refresh_key = Some(secret.refresh_token_key());
        self.consent_form_key = Some(secret.consent_form_key());
        self.pushed_request_key = Some(secret.pushed_request_key());
        self.dpop_nonce_key = Some(secret.dpop_nonce_key());
        self.key_encryption_key = Some(secret.key_encryption_key());
        self
    }

    /// Authenticates refresh tokens with `key` instead of a fresh random one. Every instance
    /// sharing a store needs the same key, and a server whose refresh tokens must survive a
    /// restart needs a key that does; keep it out of the store.
    pub fn refresh_token_key(mut self, key: RefreshTokenKey) -> Self {
        self.refresh_key = Some(key);
        self
    }

    /// Signs with `keys` instead of a freshly generated Ed25519 key.
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Sends audit events to `sink` instead of an in-memory sink.
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = sink;
        self
    }

    /// Reads time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl<S: Store, D: Directory> ServerBuilder<S, D> {
    /// The server.
    pub fn build(mut self) -> Result<AuthorizationServer<S, D>, ServerError> {
        let keys = match self.keys.take() {
            Some(keys) => keys,
            None => KeySet::new(SigningKey::generate(
                Algorithm::EdDSA,
                &mut rand::rngs::OsRng,
            )?),
        };
        Ok(self.assemble(keys, None))
    }

    /// The server, with its signing keys kept in the store, sealed under the deployment
    /// secret's key (so [`deployment_secret`](Self::deployment_secret) is required), rotating
    /// per `policy`: every instance built so over the same store and secret signs with the
    /// same keys, publishes the next before it signs, and sees a rotation made through any of
    /// them within `policy.reload_every`. Loads the keys now, storing the first if there is
    /// none.
    pub async fn build_with_stored_keys(
        mut self,
        policy: KeyPolicy,
    ) -> Result<AuthorizationServer<S, D>, ServerError> {
        let kek = self
            .key_encryption_key
            .take()
            .ok_or(ServerError::KeyConfiguration(
                "stored keys need a deployment secret (ServerBuilder::deployment_secret)",
            ))?;
        if self.keys.is_some() {
            return Err(ServerError::KeyConfiguration(
                "stored keys and fixed keys (ServerBuilder::keys) exclude each other",
            ));
        }
        if policy.publish_ahead < policy.reload_every {
            return Err(ServerError::KeyConfiguration(
                "publish_ahead must be at least reload_every, or an instance could meet a \
                 token signed by a key it has not loaded yet",
            ));
        }
        let now = self.clock.now();
        let retire_after = retire_after(&self.config, &policy);
        let keys = load_key_set(&self.store, &kek, &policy, now, retire_after).await?;
        let stored = StoredKeys {
            kek,
            policy,
            next_reload: RwLock::new(now + policy.reload_every),
        };
        Ok(self.assemble(keys, Some(stored)))
    }

    fn assemble(self, keys: KeySet, stored_keys: Option<StoredKeys>) -> AuthorizationServer<S, D> {
        AuthorizationServer {
            inner: Arc::new(Inner {
                store: self.store,
                directory: self.directory,
                keys: RwLock::new(keys),
                refresh_key: self
                    .refresh_key
                    .unwrap_or_else(|| RefreshTokenKey::generate(&mut rand::rngs::OsRng)),
                consent_form_key: self
                    .consent_form_key
                    .unwrap_or_else(|| ConsentFormKey::generate(&mut rand::rngs::OsRng)),
                pushed_request_key: self
                    .pushed_request_key
                    .unwrap_or_else(|| PushedRequestKey::generate(&mut rand::rngs::OsRng)),
                dpop_nonce_key: self
                    .dpop_nonce_key
                    .unwrap_or_else(|| DpopNonceKey::generate(&mut rand::rngs::OsRng)),
                stored_keys,
                audit: self.audit,
                clock: self.clock,
                verified: verified_tokens::VerifiedTokens::new(self.config.verified_token_cache),
                expectations: self.config.expectations(),
                expectations_anywhere: self.config.expectations_anywhere(),
                expectations_at: (self.config.resources.iter())
                    .map(|resource| self.config.expectations_at(resource))
                    .collect(),
                member_reads: self.member_reads,
                config: self.config,
            }),
        }
    }
}

/// How far instances' clocks may differ, for the key schedule.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// How long a replaced key keeps verifying after its successor's time: an instance may sign
/// with it until it next rereads the keys (`reload_every`, give or take clock skew), and a
/// token it signed then lives for the token lifetime, leeway included.
fn retire_after(config: &Config, policy: &KeyPolicy) -> chrono::TimeDelta {
    config.access_token_ttl
        + chrono::TimeDelta::seconds(config.leeway_seconds)
        + policy.reload_every
        + CLOCK_SKEW
}

/// How much longer than [`retire_after`] purge waits before deleting a key: purge trusts
/// one instance's clock, and keeping a small record a day longer costs nothing.
const PURGE_MARGIN: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Reads the stored keys, first storing the next one if the schedule says it is due (a
/// collision with another instance storing the same generation is fine: its key is used),
/// and opens them into the key set the schedule gives at `now`.
async fn load_key_set<S: Store>(
    store: &S,
    kek: &KeyEncryptionKey,
    policy: &KeyPolicy,
    now: DateTime<Utc>,
    retire_after: chrono::TimeDelta,
) -> Result<KeySet, ServerError> {
    let mut stored = store.signing_keys().await?;
    // Open what is there before writing anything: an instance given the wrong secret must
    // not add a key that only it can open.
    let mut opened = open_keys(kek, &stored)?;
    let opened_meta: Vec<StoredKey> = opened.iter().map(|(key, _)| key.clone()).collect();
    if let Some(signs_from) = key_schedule::next_key_due(&opened_meta, now, policy) {
        let generation = stored.iter().map(|key| key.generation).max().unwrap_or(0) + 1;
        let (key, _) = kek.new_key(
            policy.algorithm,
            generation,
            now,
            signs_from,
            &mut rand::rngs::OsRng,
        )?;
        store.add_signing_key(key).await?;
        stored = store.signing_keys().await?;
        opened = open_keys(kek, &stored)?;
    }
    key_schedule::key_set(opened, now, retire_after).ok_or(ServerError::KeyConfiguration(
        "the store has no signing key",
    ))
}

/// The stored keys this deployment's key opens. One that does not open (sealed under another
/// secret, or altered) is left out and reported, so it cannot stop the others; if there are
/// keys and none opens, this instance has the wrong secret.
fn open_keys(
    kek: &KeyEncryptionKey,
    stored: &[StoredKey],
) -> Result<Vec<(StoredKey, SigningKey)>, ServerError> {
    let mut opened = Vec::new();
    for key in stored {
        match kek.open(key) {
            Ok(signing) => opened.push((key.clone(), signing)),
            Err(error) => tracing::warn!(
                target: "appgrant::token",
                kid = %key.kid,
                generation = key.generation,
                %error,
                "a stored signing key does not open with this deployment secret; skipped"
            ),
        }
    }
    if opened.is_empty() && !stored.is_empty() {
        return Err(ServerError::Key(crate::token::KeyError::Unsealable));
    }
    Ok(opened)
}

impl<S: Store, D> AuthorizationServer<S, D> {
    /// Starts building a server keeping its OAuth state in `store` and reading who is who
    /// from `directory` (the host's own, say: see [`Directory`]). Unlike
    /// [`builder`](AuthorizationServer::builder) it needs no clone of the store.
    pub fn builder_with_directory(store: S, directory: D, config: Config) -> ServerBuilder<S, D> {
        ServerBuilder {
            store,
            directory,
            config,
            keys: None,
            refresh_key: None,
            consent_form_key: None,
            pushed_request_key: None,
            dpop_nonce_key: None,
            key_encryption_key: None,
            audit: Arc::new(MemoryAuditSink::new()),
            clock: Arc::new(SystemClock),
            member_reads: MemberReads::Elsewhere,
        }
    }
}

impl<S: Store + Clone> AuthorizationServer<S, S> {
    /// Starts building a server over `store` with `config`, reading the directory from the
    /// store too (its directory tables), unless [`ServerBuilder::directory`] names the host's.
    /// A store is cloned to be its own directory: appgrant's stores are handles, whose clones
    /// share their data (wrap another store in an `Arc`).
    ///
    /// One process with keys of its own:
    ///
    /// ```
    /// # use appgrant::{AuthorizationServer, Config, MemoryStore};
    /// let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com"))
    ///     .build()?;
    /// # Ok::<(), appgrant::server::ServerError>(())
    /// ```
    ///
    /// One of several instances of a deployment: the same store, issuer and deployment secret,
    /// the signing keys kept in the store.
    ///
    /// ```
    /// # use appgrant::{AuthorizationServer, Config, MemoryStore};
    /// use appgrant::token::{DeploymentSecret, KeyPolicy};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let store = MemoryStore::new();
    /// # let text = DeploymentSecret::generate(&mut rand::thread_rng()).encode();
    /// // `text` comes from a secret file or an environment variable.
    /// let secret = DeploymentSecret::parse(&text)?;
    /// let server = AuthorizationServer::builder(store, Config::new("https://auth.example.com"))
    ///     .deployment_secret(&secret)
    ///     .build_with_stored_keys(KeyPolicy::default())
    ///     .await?;
    /// assert_eq!(server.jwks().keys.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn builder(store: S, config: Config) -> ServerBuilder<S> {
        ServerBuilder {
            member_reads: MemberReads::InStore,
            ..AuthorizationServer::builder_with_directory(store.clone(), store, config)
        }
    }
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// The store, for host code that manages records directly.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The directory decisions read.
    pub fn directory(&self) -> &D {
        &self.inner.directory
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The key of the consent form's CSRF tokens.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn consent_form_key(&self) -> &ConsentFormKey {
        &self.inner.consent_form_key
    }

    /// The current time by the server's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The JWKS document publishing the verification keys.
    pub fn jwks(&self) -> Jwks {
        self.keys().jwks()
    }

    /// The JWKS document, with stored keys reread first if they are due.
    pub async fn current_jwks(&self) -> Jwks {
        self.fresh_keys().await.jwks()
    }

    /// The key set, with stored keys reread first if they are due. A failed reread keeps the
    /// keys already loaded (still valid; the request will meet the store's failure on its own
    /// reads if the store is down).
    pub(crate) async fn fresh_keys(&self) -> KeySet {
        if let Err(error) = self.refresh_keys().await {
            tracing::warn!(
                target: "appgrant::token",
                %error,
                "rereading the signing keys failed; the keys loaded before stay in use"
            );
        }
        self.keys()
    }

    /// Rereads the stored keys if `reload_every` has passed since the last time (storing the
    /// next key when the schedule says it is due). Nothing to do with fixed keys.
    pub async fn refresh_keys(&self) -> Result<(), ServerError> {
        let Some(stored) = &self.inner.stored_keys else {
            return Ok(());
        };
        let now = self.now();
        {
            // Whoever finds the reload due claims it, so concurrent requests do not all reload.
            let mut next = stored
                .next_reload
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if now < *next {
                return Ok(());
            }
            *next = now + stored.policy.reload_every;
        }
        self.reload_keys(stored, now).await
    }

    async fn reload_keys(
        &self,
        stored: &StoredKeys,
        now: DateTime<Utc>,
    ) -> Result<(), ServerError> {
        let retire_after = retire_after(&self.inner.config, &stored.policy);
        let keys = load_key_set(
            &self.inner.store,
            &stored.kek,
            &stored.policy,
            now,
            retire_after,
        )
        .await?;
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = keys;
        Ok(())
    }

    /// Rotates the stored keys now: stores the next key, signing from `publish_ahead` from now
    /// (so every instance publishes it first), unless one is already waiting to sign. Returns
    /// the next key's id. Every instance uses it within `reload_every`.
    pub async fn rotate_stored_key(&self) -> Result<String, ServerError> {
        let stored = self
            .inner
            .stored_keys
            .as_ref()
            .ok_or(ServerError::KeyConfiguration(
                "this server's keys are not kept in the store",
            ))?;
        let now = self.now();
        let keys = self.inner.store.signing_keys().await?;
        let newest = keys.iter().max_by_key(|key| key.generation);
        let kid = match newest {
            Some(newest) if newest.signs_from > now => newest.kid.clone(),
            _ => {
                let generation = newest.map_or(0, |key| key.generation) + 1;
                let signs_from = now + stored.policy.publish_ahead;
                let (key, _) = stored.kek.new_key(
                    stored.policy.algorithm,
                    generation,
                    now,
                    signs_from,
                    &mut rand::rngs::OsRng,
                )?;
                let kid = key.kid.clone();
                self.inner.store.add_signing_key(key).await?;
                kid
            }
        };
        self.reload_keys(stored, now).await?;
        Ok(kid)
    }

    /// A snapshot of the key set (cheap: keys are shared).
    pub fn keys(&self) -> KeySet {
        self.inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes `key` the signing key; the old one keeps verifying until the tokens it signed have
    /// expired, and keys past that are dropped.
    pub fn rotate_signing_key(&self, key: SigningKey) {
        let now = self.now();
        let mut keys = self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        keys.prune(now);
        // Tokens stay valid for the leeway past their expiry, so the old key must too.
        let leeway = chrono::TimeDelta::seconds(self.inner.config.leeway_seconds);
        keys.rotate(key, now + self.inner.config.access_token_ttl + leeway);
    }

    /// Deletes what can never be used again: expired codes, refresh families that were revoked
    /// or expired, and revocations older than any access token they could cover. Nothing
    /// still valid is removed. Hosts call this periodically.
    #[tracing::instrument(name = "purge", target = "appgrant::store", level = "info", skip_all)]
    pub async fn purge(&self) -> Result<PurgeReport, crate::store::StoreError> {
        let purged = telemetry::observe_store("purge", self.purge_now().await);
        if let Ok(report) = &purged {
            tracing::info!(
                target: telemetry::STORE,
                codes = report.codes,
                families = report.families,
                revocations = report.revocations,
                "purged"
            );
        }
        purged
    }

    async fn purge_now(&self) -> Result<PurgeReport, crate::store::StoreError> {
        let now = self.now();
        let config = &self.inner.config;
        let longest_token =
            config.access_token_ttl + chrono::TimeDelta::seconds(config.leeway_seconds);
        let store = &self.inner.store;
        let mut keys = 0;
        if let Some(schedule) = &self.inner.stored_keys {
            let stored = store.signing_keys().await?;
            let keep_for = retire_after(config, &schedule.policy) + PURGE_MARGIN;
            for kid in key_schedule::expired_keys(&stored, now, keep_for) {
                store.delete_signing_key(&kid).await?;
                keys += 1;
            }
        }
        Ok(PurgeReport {
            codes: store.purge_codes(now).await?,
            // A family that expired is kept until the last access token it issued has too, so
            // a person disconnecting the app still finds (and revokes) it.
            families: store.purge_families(now - longest_token).await?,
            revocations: store.purge_revocations(now - longest_token).await?,
            // A margin, so an instance whose clock runs behind still finds an id it accepts.
            used_once: store.purge_used(now - PURGE_MARGIN).await?,
            keys,
        })
    }

    fn audit(
        &self,
        actor: AuditActor,
        action: AuditAction,
        app: &ClientId,
        company: Option<&CompanyId>,
    ) {
        self.inner.audit.record(AuditEvent {
            at: self.now(),
            actor,
            action,
            app: app.clone(),
            company: company.cloned(),
        });
    }
}
