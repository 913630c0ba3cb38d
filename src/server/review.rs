//! What people review before they decide: a company's apps and one install or update for its
//! admins, and the consent page's facts for a person. Reads only; the decisions themselves are
//! in `installations` and `authorization`.

use super::installations::Acting;
use super::{AuthorizationServer, ConsentPrompt, ServerError, telemetry};
use crate::access::delegated_permissions;
use crate::model::{
    App, ClientId, Company, CompanyId, Installation, InstallationStatus, Manifest, ManifestChange,
    Permissions, User, UserId, require_directory_admin,
};
use crate::store::{Directory, Store};
use serde::Serialize;

/// Where an installation stands, as its admin page puts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReviewStage {
    /// Someone asked for it; an admin approves or denies.
    Requested,
    /// Installed, and a new manifest version asks for more: an admin approves the update.
    UpdatePending,
    /// Installed, nothing waiting.
    Installed,
    /// An admin denied it.
    Denied,
    /// An admin uninstalled it.
    Uninstalled,
}

/// One app in one company, as an admin reviews it.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct InstallationReview {
    /// The app (its secret digest is never shown: pages and JSON use [`App`]'s public parts).
    #[serde(skip)]
    pub app: App,
    /// The installation.
    pub installation: Installation,
    /// Where it stands.
    pub stage: ReviewStage,
    /// Who asked for it, as the directory knows them now.
    pub requested_by: Option<User>,
    /// The manifest the admin decides on now: the version requested, or the pending update.
    pub reviewed: Option<Manifest>,
    /// The manifest approved and in force, if any.
    pub approved: Option<Manifest>,
    /// For an update: what `reviewed` changes from `approved` (empty otherwise).
    pub changes: Vec<ManifestChange>,
}

/// What the consent page says about the person and what the app may do through them.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ConsentDetails {
    /// The signed-in person, as the directory knows them.
    pub user: Option<User>,
    /// The company they are working in, if the host named one.
    pub company: Option<Company>,
    /// What the app may do through them there now: their permissions capped by the app's
    /// ceiling (`None` without a company, or if they are not a member).
    pub may_do: Option<Permissions>,
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Every app installed, requested, denied or uninstalled in `company`, for its admin page;
    /// only a directory admin of the company may see it.
    pub async fn company_apps(
        &self,
        company: &CompanyId,
        admin: &UserId,
    ) -> Result<Vec<InstallationReview>, ServerError> {
        let listed = async {
            self.require_admin(company, admin).await?;
            let installations = self.inner.store.installations_in(company).await?;
            let mut reviews = Vec::with_capacity(installations.len());
            for installation in installations {
                let app = self.find_app(&installation.app).await;
                // An app deleted since is not listed (its installations are uninstalled).
                let Ok(app) = app else { continue };
                reviews.push(self.review_of(app, installation).await?);
            }
            Ok(reviews)
        };
        telemetry::observe_store("company_apps", listed.await)
    }

    /// One app's installation in `company`, for an admin's install or update review.
    pub async fn installation_review(
        &self,
        company: &CompanyId,
        app: &ClientId,
        admin: &UserId,
    ) -> Result<InstallationReview, ServerError> {
        let reviewed = async {
            self.require_admin(company, admin).await?;
            let app = self.find_app(app).await?;
            let installation = self.find_installation(company, &app.client_id).await?;
            self.review_of(app, installation).await
        };
        telemetry::observe_store("installation_review", reviewed.await)
    }

    /// What the consent page tells `user` about `prompt`'s app, in `company` if the host named
    /// the company they are working in.
    pub async fn consent_details(
        &self,
        prompt: &ConsentPrompt,
        user: &UserId,
        company: Option<&CompanyId>,
    ) -> Result<ConsentDetails, ServerError> {
        let details = async {
            let directory = &self.inner.directory;
            let person = directory.user(user).await?;
            let (company, may_do) = match company {
                Some(company) => {
                    let record = directory.company(company).await?;
                    let held = directory.membership(company, user).await?;
                    let ceiling = prompt.app.ceiling.as_ref();
                    let may_do = held.map(|held| delegated_permissions(&held, ceiling));
                    (record, may_do)
                }
                None => (None, None),
            };
            Ok(ConsentDetails {
                user: person,
                company,
                may_do,
            })
        };
        telemetry::observe_store("consent_details", details.await)
    }

    async fn require_admin(
        &self,
        company: &CompanyId,
        admin: &UserId,
    ) -> Result<Acting, ServerError> {
        let acting = self.acting(company, admin).await?;
        require_directory_admin(&acting.actor())?;
        Ok(acting)
    }

    async fn review_of(
        &self,
        app: App,
        installation: Installation,
    ) -> Result<InstallationReview, ServerError> {
        let requested_by = self
            .inner
            .directory
            .user(&installation.requested_by)
            .await?;
        let approved = installation
            .service_account
            .as_ref()
            .map(|account| account.approved.clone());
        let pending = installation
            .pending_manifest
            .and_then(|version| app.manifests.iter().find(|m| m.version == version))
            .cloned();
        let stage = match installation.status {
            InstallationStatus::Requested => ReviewStage::Requested,
            // Installed by a person's consent: its service account still awaits an admin.
            InstallationStatus::Active
                if installation.service_account.is_none() && pending.is_some() =>
            {
                ReviewStage::Requested
            }
            InstallationStatus::Active if pending.is_some() => ReviewStage::UpdatePending,
            InstallationStatus::Active => ReviewStage::Installed,
            InstallationStatus::Denied => ReviewStage::Denied,
            InstallationStatus::Uninstalled => ReviewStage::Uninstalled,
        };
        // A first request reviews the version it named (or the current one).
        let reviewed = match stage {
            ReviewStage::Requested => pending.or_else(|| app.manifest().cloned()),
            _ => pending,
        };
        let changes = match (&reviewed, &approved) {
            (Some(reviewed), Some(approved)) => reviewed.changes_from(approved),
            _ => Vec::new(),
        };
        Ok(InstallationReview {
            app,
            installation,
            stage,
            requested_by,
            reviewed,
            approved,
            changes,
        })
    }
}
