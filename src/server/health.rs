//! Readiness: whether this instance can serve now (its store answers, its key signs).

use super::{AuthorizationServer, telemetry};
use crate::model::ClientId;
use crate::store::{Directory, Store, StoreError};

/// A client id no registration makes (registered ids are UUIDs): looking it up reads the
/// store without finding anything.
const PROBE_CLIENT: &str = "appgrant-readiness-probe";

/// What the probe signs and verifies with the current signing key.
const PROBE_MESSAGE: &[u8] = b"appgrant readiness probe";

/// Why an instance is not ready to serve.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// The store did not answer a read.
    #[error("the store does not answer: {0}")]
    Store(#[source] StoreError),
    /// The current signing key did not make a signature that verifies.
    #[error("the signing key cannot sign")]
    SigningKey,
}

impl NotReady {
    /// What failed, in a word: `store` or `signing_key` (the `failed` field of `/readyz`).
    pub fn component(&self) -> &'static str {
        match self {
            NotReady::Store(_) => "store",
            NotReady::SigningKey => "signing_key",
        }
    }
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Whether this instance can serve now: its current signing key signs (and the signature
    /// verifies), and its store answers a cheap read (an app that does not exist). For a load
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
        match telemetry::observe_store("readiness", probe) {
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(
                    target: telemetry::STORE,
                    failed = "store",
                    "not ready: the store does not answer"
                );
                Err(NotReady::Store(error))
            }
        }
    }
}
