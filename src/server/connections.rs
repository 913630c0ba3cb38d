//! A person's connected apps: the apps they authorized, and disconnecting one, which revokes
//! every grant they made it and forgets the consent (so the next authorization asks again).

use super::{AuthorizationServer, ServerError, telemetry};
use crate::audit::{AuditAction, AuditActor, RevocationReason};
use crate::grant::FamilyStatus;
use crate::model::{App, ClientId, UserId};
use crate::store::{Directory, Store};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An app a person authorized.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ConnectedApp {
    /// The app (pages show only its public parts).
    #[serde(skip)]
    pub app: App,
    /// When they last authorized it.
    pub since: DateTime<Utc>,
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// The apps `user` authorized, by client id.
    pub async fn connected_apps(&self, user: &UserId) -> Result<Vec<ConnectedApp>, ServerError> {
        let listed = async {
            let consents = self.inner.store.consents_of(user).await?;
            let mut connected = Vec::with_capacity(consents.len());
            for (client_id, since) in consents {
                // An app deleted since is not listed.
                if let Ok(app) = self.find_app(&client_id).await {
                    connected.push(ConnectedApp { app, since });
                }
            }
            Ok(connected)
        };
        telemetry::observe_store("connected_apps", listed.await)
    }

    /// `user` disconnects `app`: the consent is forgotten and every grant they made it is
    /// revoked (its refresh tokens and the access tokens issued from them stop at the next
    /// decision), including the grant of a code issued before and exchanged after. Disconnecting
    /// an app that is not connected does nothing.
    pub async fn disconnect_app(&self, user: &UserId, app: &ClientId) -> Result<(), ServerError> {
        let disconnected = async {
            // First with the consent still there: if a revocation fails, the app is still
            // listed, for the person to disconnect it again.
            self.revoke_families_of(user, app).await?;
            // A code exchange saves its grant and then reads the consent: one racing this
            // either finds the consent gone (and revokes itself) or saved its grant before the
            // consent went, and so before the second pass lists it.
            self.inner.store.forget_consent(user, app).await?;
            self.revoke_families_of(user, app).await
        };
        telemetry::observe_store("disconnect_app", disconnected.await)
    }

    async fn revoke_families_of(&self, user: &UserId, app: &ClientId) -> Result<(), ServerError> {
        let store = &self.inner.store;
        let now = self.now();
        let families = store.families_of(user, app).await?;
        let active = families
            .iter()
            .filter(|family| family.status == FamilyStatus::Active);
        for family in active {
            store.revoke_grant(&family.grant, now).await?;
            self.audit(
                AuditActor::User(user.clone()),
                AuditAction::GrantRevoked {
                    grant: family.grant.clone(),
                    reason: RevocationReason::UserDisconnected,
                },
                app,
                None,
            );
        }
        Ok(())
    }
}
