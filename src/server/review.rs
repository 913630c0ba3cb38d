//! What people review before they decide: a company's apps and one install or update for its
//! admins, and the consent page's facts for a person; and an admin's decision on what they
//! reviewed, which is taken only if nothing changed since (the decisions themselves are in
//! `installations`).

use super::{AuthorizationServer, ConsentPrompt, ServerError, telemetry};
use crate::access::{delegated_permissions, within_scope};
use crate::model::{
    App, ClientId, Company, CompanyId, Installation, InstallationStatus, Manifest, ManifestChange,
    Permissions, ProjectId, User, UserId,
};
use crate::store::{Directory, Store};
use serde::Serialize;
use std::collections::BTreeSet;

/// Where an installation stands, as its admin page puts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReviewStage {
    /// Someone asked for it; an admin approves or denies.
    Requested,
    /// Installed for its users by a person's consent; the service account its manifest asks
    /// for waits for an admin, who approves it or uninstalls the app.
    ServiceAccountRequested,
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

/// What an admin decides on an installation they reviewed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminDecision {
    /// Approve the install (or a consent-installed app's service account) on these projects.
    Approve {
        /// The projects the service account may work on.
        projects: BTreeSet<ProjectId>,
    },
    /// Deny the install request.
    Deny,
    /// Approve the pending manifest update.
    ApproveUpdate,
    /// Change the projects the service account may work on.
    SetProjects {
        /// The projects it may work on from now.
        projects: BTreeSet<ProjectId>,
    },
    /// Uninstall the app. It only takes access away, so it applies whatever changed since
    /// the review.
    Uninstall,
}

/// Whether the app reaches a company's data through a person once they allow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CompanyAccess {
    /// Installed and active there.
    Installed,
    /// Not installed there yet, and the company lets a person's consent install it for its
    /// users: allowing installs it.
    InstalledOnAllow,
    /// Not installed there (waiting for an admin, denied, uninstalled, another company's
    /// custom app, or the company lets only admins install apps): it reaches nothing there
    /// through the person until an admin installs it.
    NotInstalled,
}

/// What the consent page says about the person and what the app may do through them.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ConsentDetails {
    /// The signed-in person, as the directory knows them.
    pub user: Option<User>,
    /// The company they are working in, if the host named one.
    pub company: Option<Company>,
    /// Whether the app reaches that company's data once they allow it (`None` without a
    /// company, or if they are not a member: only members learn what is installed there).
    pub access: Option<CompanyAccess>,
    /// What the app may do through them there: their permissions capped by the app's ceiling
    /// and by the scopes it asked for (`None` without a company, if they are not a member, or if the app is not installed
    /// there and allowing does not install it).
    pub may_do: Option<Permissions>,
    /// Whether the app's ceiling keeps it below some of what they hold there.
    pub capped: bool,
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

    /// `admin` decides on the installation of `app` in `company` as they reviewed it at
    /// `reviewed` (its [`Installation::revision`] in the [`InstallationReview`] they saw). If
    /// anything changed since (another admin decided, the app published a manifest, someone
    /// asked again), nothing is decided and the answer is
    /// [`InstallationError::ChangedSinceReview`](crate::model::InstallationError::ChangedSinceReview):
    /// an admin never approves a version they did not see.
    pub async fn decide_on_review(
        &self,
        company: &CompanyId,
        app: &ClientId,
        admin: &UserId,
        reviewed: u64,
        decision: AdminDecision,
    ) -> Result<Installation, ServerError> {
        self.decide_installation(company, app, admin, Some(reviewed), decision)
            .await
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
            let mut details = ConsentDetails {
                user: person,
                company: None,
                access: None,
                may_do: None,
                capped: false,
            };
            let Some(company) = company else {
                return Ok(details);
            };
            let record = directory.company(company).await?;
            // Only a member learns whether the app is installed there.
            let Some(held) = directory.membership(company, user).await? else {
                details.company = record;
                return Ok(details);
            };
            let access = self
                .company_access(&prompt.app, record.as_ref(), user)
                .await?;
            if matches!(
                access,
                CompanyAccess::Installed | CompanyAccess::InstalledOnAllow
            ) {
                let ceiling = prompt.app.ceiling.as_ref();
                let mut may_do = delegated_permissions(&held, ceiling);
                details.capped = may_do != delegated_permissions(&held, None);
                if let Some(scope) = &prompt.request.scope {
                    may_do = within_scope(&may_do, scope);
                }
                details.may_do = Some(may_do);
            }
            details.company = record;
            details.access = Some(access);
            Ok(details)
        };
        telemetry::observe_store("consent_details", details.await)
    }

    /// Whether `app` reaches `company`'s data through `user` once they allow it: as the
    /// installation says, or, without one, as allowing would install it.
    async fn company_access(
        &self,
        app: &App,
        company: Option<&Company>,
        user: &UserId,
    ) -> Result<CompanyAccess, ServerError> {
        let Some(company) = company else {
            return Ok(CompanyAccess::NotInstalled);
        };
        let installation = self
            .inner
            .store
            .installation(&app.client_id, &company.id)
            .await?;
        Ok(match installation {
            Some(installation) if installation.is_active() => CompanyAccess::Installed,
            Some(_) => CompanyAccess::NotInstalled,
            None if Installation::by_user_consent(app, company, user, self.now()).is_ok() => {
                CompanyAccess::InstalledOnAllow
            }
            None => CompanyAccess::NotInstalled,
        })
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
            InstallationStatus::Active
                if installation.service_account.is_none() && pending.is_some() =>
            {
                ReviewStage::ServiceAccountRequested
            }
            InstallationStatus::Active if pending.is_some() => ReviewStage::UpdatePending,
            InstallationStatus::Active => ReviewStage::Installed,
            InstallationStatus::Denied => ReviewStage::Denied,
            InstallationStatus::Uninstalled => ReviewStage::Uninstalled,
        };
        // What approving applies: the version the request (or the update) named, if any.
        let reviewed = pending;
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
