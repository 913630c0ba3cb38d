//! Apps as their developer manages them: rotating the client secret.
//!
//! Who may manage which app is the host's to say (its developer accounts, its teams): these
//! calls act on the app they name, and a host exposing them checks first. Each is audited with
//! [`AuditActor::Developer`] as its actor.

use super::{AuthorizationServer, ServerError, telemetry};
use crate::audit::{AuditAction, AuditActor};
use crate::grant::rotate_client_secret;
use crate::model::ClientId;
use crate::store::{Directory, Store};
use crate::token::Secret;
use std::time::{Duration, Instant};

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Gives a confidential app a new client secret, returned this once (only its digest is
    /// kept). The secret it replaces stays accepted until `overlap` from now, so the app's
    /// deployments can move to the new one (at most
    /// [`MAX_SECRET_OVERLAP`](crate::grant::MAX_SECRET_OVERLAP); zero: it stops at once). A
    /// rotation during an earlier overlap ends that one: only the secret being replaced is
    /// kept.
    #[tracing::instrument(
        name = "app",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "rotate_client_secret", client_id = %client_id)
    )]
    pub async fn rotate_client_secret(
        &self,
        client_id: &ClientId,
        overlap: Duration,
    ) -> Result<Secret, ServerError> {
        let started = Instant::now();
        let result = self.rotate_secret(client_id, overlap).await;
        telemetry::app_change("rotate_client_secret", client_id, &result, started);
        result
    }

    async fn rotate_secret(
        &self,
        client_id: &ClientId,
        overlap: Duration,
    ) -> Result<Secret, ServerError> {
        let app = self.find_app(client_id).await?;
        let now = self.now();
        let (rotated, secret) = rotate_client_secret(&app, overlap, now, &mut rand::thread_rng())?;
        self.inner.store.save_app(rotated.clone()).await?;
        let previous_valid_until = rotated.previous_secret.map(|previous| previous.valid_until);
        self.audit(
            AuditActor::Developer,
            AuditAction::ClientSecretRotated {
                previous_valid_until,
            },
            client_id,
            None,
        );
        Ok(secret)
    }
}
