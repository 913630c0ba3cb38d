//! An app's installation in one company: requested, approved or denied, updated, uninstalled.
//!
//! Every transition is a pure method that checks who is acting and returns what the directory
//! must change; the server saves the results.

use super::app::{App, Manifest};
use super::directory::{Actor, Company, ConsentInstall};
use super::ids::{ClientId, CompanyId, ProjectId, UserId};
use super::permission::{Level, Permissions, Scope, Tool};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where an installation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallationStatus {
    /// Waiting for an admin's decision.
    Requested,
    /// Installed: the app may reach the company's data.
    Active,
    /// An admin refused it.
    Denied,
    /// Removed: every token of the app in this company stopped working.
    Uninstalled,
}

/// The service account an admin approved: exactly these permissions, on these projects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountGrant {
    /// The service-account user in the company directory.
    pub user: UserId,
    /// The manifest the admin approved.
    pub approved: Manifest,
    /// The projects the admin permits it on.
    pub permitted_projects: BTreeSet<ProjectId>,
}

impl ServiceAccountGrant {
    /// The directory permissions that follow from the approval: the manifest's company tools,
    /// and its project tools on every permitted project.
    pub fn permissions(&self) -> Permissions {
        let mut permissions = Permissions {
            company: self.approved.company.clone(),
            ..Permissions::default()
        };
        for project in &self.permitted_projects {
            for (tool, level) in &self.approved.project {
                permissions.set(Scope::Project(project.clone()), tool.clone(), *level);
            }
        }
        permissions
    }

    /// The most the approval allows for `tool` in `project` (or at company level), whatever the
    /// directory says.
    pub fn approved_level(&self, project: Option<&ProjectId>, tool: &Tool) -> Level {
        let levels = match project {
            None => &self.approved.company,
            Some(project) if self.permitted_projects.contains(project) => &self.approved.project,
            Some(_) => return Level::None,
        };
        levels.get(tool).copied().unwrap_or_default()
    }
}

/// What the directory must now hold for an installation's service account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountChange {
    /// The service-account user.
    pub user: UserId,
    /// Its permissions in the company, replacing what it had.
    pub permissions: Permissions,
}

/// What publishing a new manifest did to one installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestUpdate {
    /// It asks for more: it waits for an admin, and the old permissions hold until then.
    Pending,
    /// It asks for nothing more: it applies at once.
    Applied(ServiceAccountChange),
    /// The installation has no approved service account, so nothing changes.
    NotApplicable,
}

/// Why an installation transition was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstallationError {
    /// The actor lacks Admin on the company's `directory` tool (or is deactivated).
    #[error("user {user} is not an admin of the company directory")]
    NotDirectoryAdmin {
        /// Who tried.
        user: UserId,
    },
    /// The transition does not apply in the current state.
    #[error("installation is {status:?}; cannot {action}")]
    InvalidState {
        /// The current state.
        status: InstallationStatus,
        /// What was attempted.
        action: &'static str,
    },
    /// The app declares no service account (no manifest, or not that flow).
    #[error("app {app} has no service-account manifest")]
    NoManifest {
        /// The app.
        app: ClientId,
    },
    /// The company does not let a user's consent install apps.
    #[error("company {company} lets only directory admins install apps")]
    ConsentInstallNotAllowed {
        /// The company.
        company: CompanyId,
    },
    /// No manifest update is waiting for approval.
    #[error("no manifest update is pending")]
    NoPendingUpdate,
    /// A custom app, private to another company.
    #[error("app {app} is a custom app of another company; it cannot be installed in {company}")]
    PrivateApp {
        /// The app.
        app: ClientId,
        /// Where installing it was attempted.
        company: CompanyId,
    },
    /// The installation changed after the admin reviewed it (another admin decided, the app
    /// published a manifest, someone asked again): what they saw is no longer what they would
    /// decide on.
    #[error(
        "the installation changed since it was reviewed (revision {reviewed}, now {current}); review it again"
    )]
    ChangedSinceReview {
        /// The revision the admin reviewed.
        reviewed: u64,
        /// The revision now.
        current: u64,
    },
    /// Projects the company's directory does not list.
    #[error("company {company} has no project {}", join(projects))]
    UnknownProjects {
        /// The company.
        company: CompanyId,
        /// The projects it does not have.
        projects: Vec<ProjectId>,
    },
}

fn join(projects: &[ProjectId]) -> String {
    projects
        .iter()
        .map(ProjectId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses a custom app anywhere but in the company that owns it.
pub fn require_installable(app: &App, company: &CompanyId) -> Result<(), InstallationError> {
    if app.installable_in(company) {
        return Ok(());
    }
    Err(InstallationError::PrivateApp {
        app: app.client_id.clone(),
        company: company.clone(),
    })
}

/// An app's installation in one company.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installation {
    /// The app.
    pub app: ClientId,
    /// The company.
    pub company: CompanyId,
    /// Where it stands.
    pub status: InstallationStatus,
    /// Who asked for it.
    pub requested_by: UserId,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// The admin who last approved, denied or uninstalled it.
    pub decided_by: Option<UserId>,
    /// When that was.
    pub decided_at: Option<DateTime<Utc>>,
    /// When it last became active.
    pub active_since: Option<DateTime<Utc>>,
    /// When the app was last uninstalled from this company, kept across reinstalls: nothing
    /// granted until then works here again.
    pub uninstalled_at: Option<DateTime<Utc>>,
    /// When the app's developer deleted the app, which uninstalled it here (no admin decided
    /// that, so `decided_by` and `decided_at` still name the last admin decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_deleted_at: Option<DateTime<Utc>>,
    /// The approved service account, if an admin approved one.
    pub service_account: Option<ServiceAccountGrant>,
    /// A manifest version waiting for an admin (the first request, or an update asking more).
    pub pending_manifest: Option<u32>,
    /// How many times the record was changed; stores save a change only over the revision it
    /// was made from, so concurrent changes cannot overwrite each other.
    #[serde(default)]
    pub revision: u64,
}

/// Refuses anyone but an active admin of the company's directory.
pub fn require_directory_admin(actor: &Actor<'_>) -> Result<(), InstallationError> {
    let is_admin = actor.user.is_active()
        && actor
            .permissions
            .is_some_and(|held| held.level(None, &Tool::directory()) == Level::Admin);
    if is_admin {
        Ok(())
    } else {
        Err(InstallationError::NotDirectoryAdmin {
            user: actor.user.id.clone(),
        })
    }
}

impl Installation {
    /// A request to install `app` in `company`, waiting for an admin.
    pub fn request(
        app: &App,
        company: &CompanyId,
        requested_by: &UserId,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            app: app.client_id.clone(),
            company: company.clone(),
            status: InstallationStatus::Requested,
            requested_by: requested_by.clone(),
            requested_at: now,
            decided_by: None,
            decided_at: None,
            active_since: None,
            uninstalled_at: None,
            app_deleted_at: None,
            service_account: None,
            pending_manifest: app.manifest().map(|manifest| manifest.version),
            revision: 0,
        }
    }

    /// Asks again after a denial or an uninstall. The new request starts afresh (a new service
    /// account on approval) but remembers the last uninstall.
    pub fn request_again(
        &self,
        app: &App,
        requested_by: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Self, InstallationError> {
        if !matches!(
            self.status,
            InstallationStatus::Denied | InstallationStatus::Uninstalled
        ) {
            return Err(self.invalid("request again"));
        }
        let mut request = Self::request(app, &self.company, requested_by, now);
        request.uninstalled_at = self.uninstalled_at;
        Ok(request)
    }

    /// Installs `app` for user-level access because a member consented, if `company` allows it.
    pub fn by_user_consent(
        app: &App,
        company: &Company,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<Self, InstallationError> {
        require_installable(app, &company.id)?;
        if company.settings.consent_install != ConsentInstall::ForUserAccess {
            return Err(InstallationError::ConsentInstallNotAllowed {
                company: company.id.clone(),
            });
        }
        let mut installation = Self::request(app, &company.id, user, now);
        installation.status = InstallationStatus::Active;
        installation.active_since = Some(now);
        Ok(installation)
    }

    /// Refuses a decision on anything but the revision the admin `reviewed`; `None` decides
    /// on whatever the installation is now (a caller that showed the admin nothing).
    pub fn require_reviewed(&self, reviewed: Option<u64>) -> Result<(), InstallationError> {
        match reviewed {
            Some(reviewed) if reviewed != self.revision => {
                Err(InstallationError::ChangedSinceReview {
                    reviewed,
                    current: self.revision,
                })
            }
            _ => Ok(()),
        }
    }

    /// Whether the app may reach this company's data now.
    pub fn is_active(&self) -> bool {
        self.status == InstallationStatus::Active
    }

    /// An admin approves the install with the app's current manifest on `permitted_projects`.
    ///
    /// Returns the service account the directory must hold (none for an app that only acts
    /// as its users); `new_account` is its id unless the installation already had one.
    pub fn approve(
        &mut self,
        app: &App,
        actor: &Actor<'_>,
        permitted_projects: BTreeSet<ProjectId>,
        new_account: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<ServiceAccountChange>, InstallationError> {
        require_directory_admin(actor)?;
        let approvable = match self.status {
            InstallationStatus::Requested => true,
            InstallationStatus::Active => self.service_account.is_none(),
            InstallationStatus::Denied | InstallationStatus::Uninstalled => false,
        };
        if !approvable {
            return Err(self.invalid("approve"));
        }
        // The admin approves the manifest the request named, never one published since (nor one
        // published after a request that named none: that one is proposed to it on its own).
        let reviewed = self
            .pending_manifest
            .and_then(|version| app.manifests.iter().find(|m| m.version == version));
        let manifest = match reviewed {
            Some(manifest) if app.flows.service_account() => manifest.clone(),
            _ if self.status == InstallationStatus::Requested => {
                self.activate(actor, now);
                return Ok(None);
            }
            _ => {
                return Err(InstallationError::NoManifest {
                    app: self.app.clone(),
                });
            }
        };
        let user = self
            .service_account
            .as_ref()
            .map_or(new_account, |account| account.user.clone());
        let grant = ServiceAccountGrant {
            user,
            approved: manifest,
            permitted_projects,
        };
        let change = ServiceAccountChange {
            user: grant.user.clone(),
            permissions: grant.permissions(),
        };
        self.service_account = Some(grant);
        self.activate(actor, now);
        // A manifest published since the request waits for its own approval if it asks more,
        // and applies at once if it does not.
        match self.propose_manifest(app) {
            ManifestUpdate::Applied(applied) => Ok(Some(applied)),
            ManifestUpdate::Pending | ManifestUpdate::NotApplicable => Ok(Some(change)),
        }
    }

    fn activate(&mut self, actor: &Actor<'_>, now: DateTime<Utc>) {
        if self.status != InstallationStatus::Active {
            self.active_since = Some(now);
        }
        self.status = InstallationStatus::Active;
        self.pending_manifest = None;
        self.record_decision(actor, now);
    }

    fn record_decision(&mut self, actor: &Actor<'_>, now: DateTime<Utc>) {
        self.decided_by = Some(actor.user.id.clone());
        self.decided_at = Some(now);
    }

    fn invalid(&self, action: &'static str) -> InstallationError {
        InstallationError::InvalidState {
            status: self.status,
            action,
        }
    }

    /// An admin refuses the install request.
    pub fn deny(&mut self, actor: &Actor<'_>, now: DateTime<Utc>) -> Result<(), InstallationError> {
        require_directory_admin(actor)?;
        if self.status != InstallationStatus::Requested {
            return Err(self.invalid("deny"));
        }
        self.status = InstallationStatus::Denied;
        self.pending_manifest = None;
        self.record_decision(actor, now);
        Ok(())
    }

    /// The app published `app.manifest()`: apply it now if it asks for nothing more, else wait.
    pub fn propose_manifest(&mut self, app: &App) -> ManifestUpdate {
        let Some(manifest) = app.manifest() else {
            return ManifestUpdate::NotApplicable;
        };
        let Some(account) = self.service_account.as_mut() else {
            return self.propose_first_manifest(app, manifest.version);
        };
        if self.status != InstallationStatus::Active {
            return ManifestUpdate::NotApplicable;
        }
        if manifest.asks_more_than(&account.approved) {
            self.pending_manifest = Some(manifest.version);
            return ManifestUpdate::Pending;
        }
        account.approved = manifest.clone();
        self.pending_manifest = None;
        ManifestUpdate::Applied(ServiceAccountChange {
            user: account.user.clone(),
            permissions: account.permissions(),
        })
    }

    /// A request, or an installation by consent, that named no manifest (the app had none, or
    /// no service account then) waits for an admin to approve the first one published.
    fn propose_first_manifest(&mut self, app: &App, version: u32) -> ManifestUpdate {
        let waiting = matches!(
            self.status,
            InstallationStatus::Requested | InstallationStatus::Active
        );
        if !waiting || self.pending_manifest.is_some() || !app.flows.service_account() {
            return ManifestUpdate::NotApplicable;
        }
        self.pending_manifest = Some(version);
        ManifestUpdate::Pending
    }

    /// An admin approves the pending manifest update.
    pub fn approve_update(
        &mut self,
        app: &App,
        actor: &Actor<'_>,
        now: DateTime<Utc>,
    ) -> Result<ServiceAccountChange, InstallationError> {
        require_directory_admin(actor)?;
        if self.status != InstallationStatus::Active {
            return Err(self.invalid("approve an update"));
        }
        let pending = self
            .pending_manifest
            .ok_or(InstallationError::NoPendingUpdate)?;
        let manifest = app
            .manifests
            .iter()
            .find(|manifest| manifest.version == pending)
            .ok_or(InstallationError::NoPendingUpdate)?;
        let account = self
            .service_account
            .as_mut()
            .ok_or(InstallationError::NoPendingUpdate)?;
        account.approved = manifest.clone();
        let change = ServiceAccountChange {
            user: account.user.clone(),
            permissions: account.permissions(),
        };
        self.pending_manifest = None;
        self.record_decision(actor, now);
        Ok(change)
    }

    /// An admin changes the projects the service account is permitted on.
    pub fn set_permitted_projects(
        &mut self,
        actor: &Actor<'_>,
        projects: BTreeSet<ProjectId>,
        now: DateTime<Utc>,
    ) -> Result<ServiceAccountChange, InstallationError> {
        require_directory_admin(actor)?;
        if self.status != InstallationStatus::Active {
            return Err(self.invalid("change permitted projects"));
        }
        let account =
            self.service_account
                .as_mut()
                .ok_or_else(|| InstallationError::NoManifest {
                    app: self.app.clone(),
                })?;
        account.permitted_projects = projects;
        let change = ServiceAccountChange {
            user: account.user.clone(),
            permissions: account.permissions(),
        };
        self.record_decision(actor, now);
        Ok(change)
    }

    /// The app's developer deleted the app: it is uninstalled here whatever its state, with no
    /// admin's say (the app is going away; nothing it was granted may work afterwards). Every
    /// token of the app in this company stops at the next decision. Returns the service account
    /// to deactivate, if any, also when the app was uninstalled already (so a deletion that
    /// failed to deactivate it can be finished).
    pub fn remove_app(&mut self, now: DateTime<Utc>) -> Option<UserId> {
        if self.status != InstallationStatus::Uninstalled {
            self.status = InstallationStatus::Uninstalled;
            self.uninstalled_at = Some(now);
        }
        if self.app_deleted_at.is_none() {
            self.app_deleted_at = Some(now);
        }
        self.pending_manifest = None;
        self.service_account
            .as_ref()
            .map(|account| account.user.clone())
    }

    /// An admin uninstalls the app. Returns the service account to deactivate, if any.
    pub fn uninstall(
        &mut self,
        actor: &Actor<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, InstallationError> {
        require_directory_admin(actor)?;
        if !matches!(
            self.status,
            InstallationStatus::Active | InstallationStatus::Requested
        ) {
            return Err(self.invalid("uninstall"));
        }
        self.status = InstallationStatus::Uninstalled;
        self.uninstalled_at = Some(now);
        self.pending_manifest = None;
        self.record_decision(actor, now);
        Ok(self
            .service_account
            .as_ref()
            .map(|account| account.user.clone()))
    }
}
