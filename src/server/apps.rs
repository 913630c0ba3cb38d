//! Apps as their developer manages them: listing, changing settings, rotating the client
//! secret, seeing where the app is installed.
//!
//! Who may manage which app is the host's to say (its developer accounts, its teams): these
//! calls act on the app they name, and a host exposing them checks first. Each is audited with
//! [`AuditActor::Developer`] as its actor.

use super::{AuthorizationServer, ServerError, telemetry};
use crate::audit::{AuditAction, AuditActor};
use crate::grant::{AppUpdate, rotate_client_secret};
use crate::model::{App, ClientId, Installation};
use crate::store::{Directory, Store};
use crate::token::Secret;
use std::time::{Duration, Instant};

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Every registered app, sorted by client id (bytewise). A developer portal shows each
    /// developer only the ones the host says they manage.
    pub async fn apps(&self) -> Result<Vec<App>, ServerError> {
        let listed = self.inner.store.apps().await.map_err(ServerError::from);
        telemetry::observe_store("apps", listed)
    }

    /// Every installation of the app (in every company that asked for it, whatever its state),
    /// sorted by company id.
    pub async fn app_installations(
        &self,
        client_id: &ClientId,
    ) -> Result<Vec<Installation>, ServerError> {
        let listed = async {
            let app = self.find_app(client_id).await?;
            Ok(self.inner.store.installations_of(&app.client_id).await?)
        };
        telemetry::observe_store("app_installations", listed.await)
    }

    /// Changes the app's name, profile, redirect URIs or flows, as `update` says; returns the
    /// app as saved. The result is checked as a registration is (see [`AppUpdate`]): an update
    /// that fails a check is refused with [`ServerError::Registration`] and changes nothing.
    #[tracing::instrument(
        name = "app",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "update_app", client_id = %client_id)
    )]
    pub async fn update_app(
        &self,
        client_id: &ClientId,
        update: AppUpdate,
    ) -> Result<App, ServerError> {
        let started = Instant::now();
        let result = self.change_app(client_id, update).await;
        telemetry::app_change("update_app", client_id, &result, started);
        result
    }

    async fn change_app(
        &self,
        client_id: &ClientId,
        update: AppUpdate,
    ) -> Result<App, ServerError> {
        let app = self.find_app(client_id).await?;
        let updated = update.apply(&app)?;
        self.inner.store.save_app(updated.clone()).await?;
        self.audit(
            AuditActor::Developer,
            AuditAction::AppUpdated,
            client_id,
            None,
        );
        Ok(updated)
    }

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
