//! Apps as their developer manages them: listing, changing settings, rotating the client
//! secret, seeing where the app is installed, and deleting it (uninstalled everywhere first).
//!
//! Who may manage which app is the host's to say (its developer accounts, its teams): these
//! calls act on the app they name, and a host exposing them checks first (as
//! `http::developer_router` does, through the host's `DeveloperAuth`). Each is audited with
//! [`AuditActor::Developer`] as its actor.

use super::installations::CHANGE_ATTEMPTS;
use super::{AuthorizationServer, ServerError, telemetry};
use crate::audit::{AuditAction, AuditActor};
use crate::grant::{AppUpdate, rotate_client_secret};
use crate::model::{App, ClientId, Installation, InstallationStatus};
use crate::store::{Directory, Store};
use crate::token::Secret;
use std::time::{Duration, Instant};

/// Which installations a pass of [`AuthorizationServer::delete_app`] deactivates the service
/// account of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// Those it uninstalls, and those an earlier, interrupted deletion uninstalled (whose
    /// deactivation may have failed).
    Finishing,
    /// Only those it uninstalls.
    Changed,
}

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
        let result = self.change_settings(client_id, update).await;
        telemetry::app_change("update_app", client_id, &result, started);
        result
    }

    async fn change_settings(
        &self,
        client_id: &ClientId,
        update: AppUpdate,
    ) -> Result<App, ServerError> {
        let (updated, ()) = self
            .change_app(client_id, |app| {
                *app = update.clone().apply(app)?;
                Ok(())
            })
            .await?;
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
        let now = self.now();
        // A rotation that lost a race is made again over the winner's app, with a secret of its
        // own: only the secret of the attempt that saved is returned.
        let (rotated, secret) = self
            .change_app(client_id, |app| {
                let (rotated, secret) =
                    rotate_client_secret(app, overlap, now, &mut rand::thread_rng())?;
                *app = rotated;
                Ok(secret)
            })
            .await?;
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

    /// Deletes the app. First it is uninstalled from every company that has an installation
    /// of it, whatever its state and with no admin's say (each saved over the revision it was
    /// read at, as every installation change is), and each service account is deactivated
    /// through the directory: every token of the app stops working at the next decision. Then
    /// the record goes, so the token endpoint refuses its client (`invalid_client`) and nobody
    /// can install it again. Returns its installations as left, all uninstalled.
    ///
    /// A failure part way (the store, the directory) leaves the app registered, what was
    /// uninstalled uninstalled, and the deletion to be made again. Deleting an app that was
    /// deleted already finishes what an interrupted deletion may have left (the installations
    /// are uninstalled again if need be); an app that never was is
    /// [`ServerError::UnknownApp`].
    #[tracing::instrument(
        name = "app",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "delete_app", client_id = %client_id)
    )]
    pub async fn delete_app(&self, client_id: &ClientId) -> Result<Vec<Installation>, ServerError> {
        let started = Instant::now();
        let result = self.remove_app(client_id).await;
        telemetry::app_change("delete_app", client_id, &result, started);
        result
    }

    async fn remove_app(&self, client_id: &ClientId) -> Result<Vec<Installation>, ServerError> {
        let app = self.inner.store.app(client_id).await?;
        let left = self
            .uninstall_everywhere(client_id, Sweep::Finishing)
            .await?;
        if app.is_none() {
            if left.is_empty() {
                return Err(ServerError::UnknownApp(client_id.clone()));
            }
            return Ok(left);
        }
        self.inner.store.delete_app(client_id).await?;
        // A member's consent can install the app (for user access) between the first pass and
        // the deletion; any token the app got came before the deletion, and so did the
        // installation it came through, so this second pass sees every one of them.
        let left = self.uninstall_everywhere(client_id, Sweep::Changed).await?;
        self.audit(
            AuditActor::Developer,
            AuditAction::AppDeleted,
            client_id,
            None,
        );
        Ok(left)
    }

    /// Applies `change` to the app and saves the result only over the revision it was made
    /// from; if someone else changed the app first, reads it again and reapplies, so concurrent
    /// changes never overwrite each other, and a change never brings back an app deleted
    /// meanwhile ([`ServerError::UnknownApp`]). A change that leaves the app as it was saves
    /// nothing. Gives up with [`ServerError::Busy`] after [`CHANGE_ATTEMPTS`] lost races.
    pub(super) async fn change_app<T>(
        &self,
        client_id: &ClientId,
        mut change: impl FnMut(&mut App) -> Result<T, ServerError>,
    ) -> Result<(App, T), ServerError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let read = self.find_app(client_id).await?;
            let read_at = read.revision;
            let mut app = read.clone();
            let outcome = change(&mut app)?;
            if app == read {
                return Ok((app, outcome));
            }
            app.revision = read_at + 1;
            if self.inner.store.update_app(read_at, app.clone()).await? {
                return Ok((app, outcome));
            }
        }
        Err(ServerError::Busy)
    }

    /// Uninstalls the app from every company it is not uninstalled from yet, marking each as
    /// uninstalled with the app, and deactivates the service accounts `sweep` says.
    async fn uninstall_everywhere(
        &self,
        client_id: &ClientId,
        sweep: Sweep,
    ) -> Result<Vec<Installation>, ServerError> {
        let mut left = Vec::new();
        for listed in self.inner.store.installations_of(client_id).await? {
            let company = listed.company.clone();
            let settled = listed.status == InstallationStatus::Uninstalled;
            let installation = match listed.app_deleted_at {
                Some(_) if settled => {
                    if sweep == Sweep::Finishing {
                        self.deactivate_account_of(&listed).await?;
                    }
                    listed
                }
                _ => {
                    let started = Instant::now();
                    let now = self.now();
                    let (installation, stopped) = self
                        .change_installation(&company, client_id, |installation| {
                            let stopped = installation.status != InstallationStatus::Uninstalled;
                            installation.remove_app(now);
                            Ok(stopped)
                        })
                        .await?;
                    telemetry::installation_change(
                        "delete_app",
                        Some(&company),
                        client_id,
                        None,
                        &Ok(Some(&installation)),
                        started,
                    );
                    if stopped {
                        self.deactivate_account_of(&installation).await?;
                        self.audit(
                            AuditActor::Developer,
                            AuditAction::UninstalledWithApp,
                            client_id,
                            Some(&company),
                        );
                    }
                    installation
                }
            };
            left.push(installation);
        }
        Ok(left)
    }
}
