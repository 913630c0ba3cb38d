//! Changing a registered app: its settings (checked as registration checks them) and its client
//! secret (rotated with an overlap, so the app's deployments move to the new one without an
//! outage).

use super::registration::{RegistrationError, check_settings};
use crate::model::{App, AppFlows, AppProfile, ClientType, PreviousSecret};
use crate::token::Secret;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore;

/// What a developer changes about an app; every field left `None` stays as it is.
///
/// The app that results is checked as a registration is ([`AppRegistration::register`]):
/// a name, valid redirect URIs and `https` profile links, a redirect URI for the
/// authorization-code flow, a confidential client with a manifest for a service account. An
/// update that fails any check changes nothing.
///
/// [`AppRegistration::register`]: super::AppRegistration::register
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new profile, replacing the whole profile (publisher, description, homepage, logo).
    pub profile: Option<AppProfile>,
    /// New redirect URIs, replacing every registered one.
    pub redirect_uris: Option<Vec<String>>,
    /// New flows.
    pub flows: Option<AppFlows>,
}

impl AppUpdate {
    /// `app` with this update applied, or why the result would not be a valid app (and `app`
    /// is left as it was).
    pub fn apply(self, app: &App) -> Result<App, RegistrationError> {
        let mut updated = app.clone();
        if let Some(name) = self.name {
            updated.name = name;
        }
        if let Some(profile) = self.profile {
            updated.profile = profile;
        }
        if let Some(redirect_uris) = self.redirect_uris {
            updated.redirect_uris = redirect_uris;
        }
        if let Some(flows) = self.flows {
            updated.flows = flows;
        }
        check_settings(
            &updated.name,
            (updated.client_type, updated.application_type),
            &updated.redirect_uris,
            updated.flows,
            updated.manifest().is_some(),
            &updated.profile,
        )?;
        Ok(updated)
    }
}

/// The longest a replaced client secret may stay accepted after a rotation: long enough to
/// roll the new one out everywhere, short enough that a secret rotated because it leaked
/// soon stops working.
pub const MAX_SECRET_OVERLAP: TimeDelta = TimeDelta::days(7);

/// Why a client secret could not be rotated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretRotationError {
    /// A public client has no secret.
    #[error("a public client has no client secret to rotate")]
    PublicClient,
    /// The overlap asked for is longer than [`MAX_SECRET_OVERLAP`].
    #[error("the old secret may stay accepted for at most {} seconds", MAX_SECRET_OVERLAP.num_seconds())]
    OverlapTooLong,
}

/// Gives `app` a new client secret, returned this once and kept only as a digest. The secret
/// it replaces stays accepted until `now + overlap` (not at all for a zero overlap); a
/// rotation made while an earlier replaced secret is still accepted ends that one's overlap,
/// since only the secret being replaced is kept.
pub fn rotate_client_secret(
    app: &App,
    overlap: std::time::Duration,
    now: DateTime<Utc>,
    rng: &mut dyn RngCore,
) -> Result<(App, Secret), SecretRotationError> {
    if app.client_type != ClientType::Confidential {
        return Err(SecretRotationError::PublicClient);
    }
    let overlap = TimeDelta::from_std(overlap)
        .ok()
        .filter(|overlap| *overlap <= MAX_SECRET_OVERLAP)
        .ok_or(SecretRotationError::OverlapTooLong)?;
    let valid_until = now
        .checked_add_signed(overlap)
        .ok_or(SecretRotationError::OverlapTooLong)?;
    let secret = Secret::generate(rng);
    let mut rotated = app.clone();
    rotated.previous_secret = match app.secret_digest {
        Some(digest) if overlap > TimeDelta::zero() => Some(PreviousSecret {
            digest,
            valid_until,
        }),
        _ => None,
    };
    rotated.secret_digest = Some(secret.digest());
    Ok((rotated, secret))
}
