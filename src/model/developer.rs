//! What an app's developer may see of their app and its installations: the records without
//! anything secret (no client secret digest, current or previous) and without the companies'
//! own people and projects.

use super::app::{App, AppFlows, AppProfile, ApplicationType, ClientType, Manifest};
use super::ids::{ClientId, CompanyId};
use super::installation::{Installation, InstallationStatus};
use super::permission::ToolLevels;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An app as its developer sees it: every setting they manage, never a secret or a digest of
/// one (the client secret is shown once, when it is made).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeveloperApp {
    /// The client id.
    pub client_id: ClientId,
    /// The name shown to users and admins.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Web or native.
    pub application_type: ApplicationType,
    /// Registered redirect URIs, matched exactly (a native app's loopback IP ones at any port).
    pub redirect_uris: Vec<String>,
    /// Which flows it uses.
    pub flows: AppFlows,
    /// Every manifest version it has published, oldest first; the last is current.
    pub manifests: Vec<Manifest>,
    /// Optional most the app may do through any user, per tool.
    pub ceiling: Option<ToolLevels>,
    /// Publisher, description, homepage and logo.
    pub profile: AppProfile,
    /// The company that owns a custom app.
    pub owner: Option<CompanyId>,
    /// Until when the secret the last rotation replaced is still accepted (absent when no
    /// replaced secret is kept).
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

impl From<&App> for DeveloperApp {
    fn from(app: &App) -> Self {
        Self {
            client_id: app.client_id.clone(),
            name: app.name.clone(),
            client_type: app.client_type,
            application_type: app.application_type,
            redirect_uris: app.redirect_uris.clone(),
            flows: app.flows,
            manifests: app.manifests.clone(),
            ceiling: app.ceiling.clone(),
            profile: app.profile.clone(),
            owner: app.owner.clone(),
            previous_secret_valid_until: app.previous_secret.map(|previous| previous.valid_until),
        }
    }
}

/// An installation of an app as its developer sees it: which company, where it stands, and
/// which manifest versions apply or wait; not who in the company asked or decided, nor the
/// service account's user or the company's projects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeveloperInstallation {
    /// The company (what a client-credentials request names).
    pub company: CompanyId,
    /// Where it stands.
    pub status: InstallationStatus,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// When it last became active.
    pub active_since: Option<DateTime<Utc>>,
    /// When the app was last uninstalled from this company.
    pub uninstalled_at: Option<DateTime<Utc>>,
    /// The manifest version an admin approved for the service account, if one did.
    pub approved_manifest: Option<u32>,
    /// A manifest version waiting for an admin.
    pub pending_manifest: Option<u32>,
}

impl From<&Installation> for DeveloperInstallation {
    fn from(installation: &Installation) -> Self {
        Self {
            company: installation.company.clone(),
            status: installation.status,
            requested_at: installation.requested_at,
            active_since: installation.active_since,
            uninstalled_at: installation.uninstalled_at,
            approved_manifest: installation
                .service_account
                .as_ref()
                .map(|account| account.approved.version),
            pending_manifest: installation.pending_manifest,
        }
    }
}
