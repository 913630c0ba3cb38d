//! Readiness: whether this instance can serve now (its store and directory answer, its key
//! signs).

use super::{AuthorizationServer, telemetry};
use crate::model::{ClientId, CompanyId};
use crate::store::{Directory, Store, StoreError};

/// A client id no registration makes (registered ids are UUIDs): looking it up reads the
/// store without finding anything.
const PROBE_CLIENT: &str = "appgrant-readiness-probe";

/// A company id the probe looks up in the directory, expecting to find nothing.
const PROBE_COMPANY: &str = "appgrant-readiness-probe";

/// What the probe signs and verifies with the current signing key.
const PROBE_MESSAGE: &[u8] = b"appgrant readiness probe";

/// Why an instance is not ready to serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotReady {
    /// The store did not answer a read.
    #[error("the store does not answer: {0}")]
    Store(#[source] StoreError),
    /// The directory (the host's, or the store's own tables) did not answer a read.
    #[error("the directory does not answer: {0}")]
    Directory(#[source] StoreError),
    /// The current signing key did not make a signature that verifies.
    #[error("the signing key cannot sign")]
    SigningKey,
}

impl NotReady {
    /// What failed, in a word: `store`, `directory` or `signing_key` (the `failed` field of
    /// `/readyz`).
    pub fn component(&self) -> &'static str {
        match self {
            NotReady::Store(_) => "store",
            NotReady::Directory(_) => "directory",
            NotReady::SigningKey => "signing_key",
        }
    }
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Whether this instance can serve now: its current signing key signs (and the signature
    /// verifies), and its store and its directory each answer a cheap read (an app, a company
    /// that does not exist). For a load
    /// balancer's readiness probe; the router serves it as `GET /readyz`.
    #[tracing::instrument(
        name = "readiness",
        target = "appgrant::store",
        level = "debug",
        skip_all
    )]
    pub async fn readiness(&self) -> Result<(), NotReady> {
        let keys = self.keys();
        let key = keys.signing_key();
        if !key.verify(PROBE_MESSAGE, &key.sign(PROBE_MESSAGE)) {
            tracing::warn!(
                target: telemetry::STORE,
                failed = "signing_key",
                kid = key.kid(),
                "not ready: the signing key cannot sign"
            );
            return Err(NotReady::SigningKey);
        }
        let probe = self.inner.store.app(&ClientId::new(PROBE_CLIENT)).await;
        if let Err(error) = telemetry::observe_store("readiness", probe) {
            tracing::warn!(
                target: telemetry::STORE,
                failed = "store",
                "not ready: the store does not answer"
            );
            return Err(NotReady::Store(error));
        }
        let company = CompanyId::new(PROBE_COMPANY);
        let probe = self.inner.directory.company(&company).await;
        if let Err(error) = telemetry::observe_store("readiness", probe) {
            tracing::warn!(
                target: telemetry::STORE,
                failed = "directory",
                "not ready: the directory does not answer"
            );
            return Err(NotReady::Directory(error));
        }
        Ok(())
    }
}
