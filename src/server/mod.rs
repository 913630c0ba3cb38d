//! The façade most hosts call: [`AuthorizationServer`] loads records from the store, calls the
//! pure flows with the clock's `now` and a random source, saves what they return and emits
//! audit events. It is `Clone + Send + Sync`; clones share everything.

mod access;
mod authorization;
mod clock;
mod directory;
mod error;
mod health;
mod installations;
pub mod telemetry;
mod tokens;

pub use access::{AccessCheck, Introspection, TokenInfo};
pub use authorization::ConsentPrompt;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ServerError;
pub use health::NotReady;
pub use installations::RegisteredApp;

use crate::audit::{AuditAction, AuditActor, AuditEvent, AuditSink, MemoryAuditSink};
use crate::config::Config;
use crate::model::{ClientId, CompanyId};
use crate::store::Store;
use crate::token::{
    Algorithm, ConsentFormKey, DeploymentSecret, Jwks, KeySet, RefreshTokenKey, SigningKey,
};
use chrono::DateTime;
use chrono::Utc;
use std::sync::{Arc, PoisonError, RwLock};

struct Inner<S> {
    store: S,
    config: Config,
    keys: RwLock<KeySet>,
    refresh_key: RefreshTokenKey,
    consent_form_key: ConsentFormKey,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
}

/// An embeddable OAuth 2.0 authorization server over a store `S`.
pub struct AuthorizationServer<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for AuthorizationServer<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> std::fmt::Debug for AuthorizationServer<S> {
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
}

/// Builds an [`AuthorizationServer`].
pub struct ServerBuilder<S> {
    store: S,
    config: Config,
    keys: Option<KeySet>,
    refresh_key: Option<RefreshTokenKey>,
    consent_form_key: Option<ConsentFormKey>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
}

impl<S: Store> ServerBuilder<S> {
    /// Derives the keys instances must share (refresh tokens, consent forms) from the
    /// deployment's secret: instances with the same store, issuer and secret are one server.
    pub fn deployment_secret(mut self, secret: &DeploymentSecret) -> Self {
        self.refresh_key = Some(secret.refresh_token_key());
        self.consent_form_key = Some(secret.consent_form_key());
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

    /// The server.
    pub fn build(self) -> Result<AuthorizationServer<S>, ServerError> {
        let keys = match self.keys {
            Some(keys) => keys,
            None => KeySet::new(SigningKey::generate(
                Algorithm::EdDSA,
                &mut rand::rngs::OsRng,
            )?),
        };
        Ok(AuthorizationServer {
            inner: Arc::new(Inner {
                store: self.store,
                config: self.config,
                keys: RwLock::new(keys),
                refresh_key: self
                    .refresh_key
                    .unwrap_or_else(|| RefreshTokenKey::generate(&mut rand::rngs::OsRng)),
                consent_form_key: self
                    .consent_form_key
                    .unwrap_or_else(|| ConsentFormKey::generate(&mut rand::rngs::OsRng)),
                audit: self.audit,
                clock: self.clock,
            }),
        })
    }
}

impl<S: Store> AuthorizationServer<S> {
    /// Starts building a server over `store` with `config`.
    pub fn builder(store: S, config: Config) -> ServerBuilder<S> {
        ServerBuilder {
            store,
            config,
            keys: None,
            refresh_key: None,
            consent_form_key: None,
            audit: Arc::new(MemoryAuditSink::new()),
            clock: Arc::new(SystemClock),
        }
    }

    /// The store, for host code that manages records directly.
    pub fn store(&self) -> &S {
        &self.inner.store
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
        Ok(PurgeReport {
            codes: store.purge_codes(now).await?,
            families: store.purge_families(now).await?,
            revocations: store.purge_revocations(now - longest_token).await?,
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
