//! Apps and their installations: registration, manifests, and the admin's install lifecycle.

use super::{AdminDecision, AuthorizationServer, ServerError, telemetry};
use crate::audit::{AuditAction, AuditActor};
use crate::grant::AppRegistration;
use crate::model::{
    Actor, App, ClientId, CompanyId, Installation, InstallationStatus, Manifest, ManifestUpdate,
    Permissions, ProjectId, ServiceAccountChange, User, UserId, require_directory_admin,
    require_installable,
};
use crate::store::{Directory, ServiceAccount, Store};
use crate::token::Secret;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Instant;

/// How many times a change that lost a race is reapplied before giving up.
pub(super) const CHANGE_ATTEMPTS: usize = 5;

/// Runs an installation `change` of `app` in `company` by `actor`, and logs and counts what
/// came of it.
async fn observe_change(
    change: &'static str,
    company: &CompanyId,
    app: &ClientId,
    actor: &UserId,
    work: impl Future<Output = Result<Installation, ServerError>>,
) -> Result<Installation, ServerError> {
    let started = Instant::now();
    let result = work.await;
    let outcome = result.as_ref().map(Some);
    telemetry::installation_change(change, Some(company), app, Some(actor), &outcome, started);
    result
}

/// A user about to act on a company's installation, with what they hold there.
pub(super) struct Acting {
    user: User,
    permissions: Option<Permissions>,
}

impl Acting {
    pub(super) fn actor(&self) -> Actor<'_> {
        Actor {
            user: &self.user,
            permissions: self.permissions.as_ref(),
        }
    }
}

/// A newly registered app and its client secret, which is shown this once.
#[derive(Debug)]
pub struct RegisteredApp {
    /// The app.
    pub app: App,
    /// The client secret (confidential clients); only its digest is stored.
    pub client_secret: Option<Secret>,
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Registers an app.
    pub async fn register_app(
        &self,
        registration: AppRegistration,
    ) -> Result<RegisteredApp, ServerError> {
        let (app, client_secret) = registration.register(&mut rand::thread_rng())?;
        let saved = self.inner.store.save_app(app.clone()).await;
        telemetry::observe_store("register_app", saved)?;
        tracing::info!(
            target: telemetry::INSTALLATION,
            client_id = %app.client_id,
            client_type = ?app.client_type,
            "app registered"
        );
        Ok(RegisteredApp { app, client_secret })
    }

    /// The app with this client id.
    pub async fn app(&self, client_id: &ClientId) -> Result<App, ServerError> {
        telemetry::observe_store("app", self.find_app(client_id).await)
    }

    pub(super) async fn find_app(&self, client_id: &ClientId) -> Result<App, ServerError> {
        self.inner
            .store
            .app(client_id)
            .await?
            .ok_or_else(|| ServerError::UnknownApp(client_id.clone()))
    }

    /// The installation of `app` in `company`.
    pub async fn installation(
        &self,
        company: &CompanyId,
        app: &ClientId,
    ) -> Result<Installation, ServerError> {
        let result = self.find_installation(company, app).await;
        telemetry::observe_store("installation", result)
    }

    pub(super) async fn find_installation(
        &self,
        company: &CompanyId,
        app: &ClientId,
    ) -> Result<Installation, ServerError> {
        self.inner
            .store
            .installation(app, company)
            .await?
            .ok_or_else(|| ServerError::NoInstallation {
                app: app.clone(),
                company: company.clone(),
            })
    }

    /// Publishes a new manifest version. Installations where it asks for nothing more take it
    /// at once; elsewhere it waits for an admin and the old permissions hold. Returns the version.
    #[tracing::instrument(
        name = "installation",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "publish_manifest", client_id = %client_id)
    )]
    pub async fn publish_manifest(
        &self,
        client_id: &ClientId,
        manifest: Manifest,
    ) -> Result<u32, ServerError> {
        let started = Instant::now();
        let result = self.publish(client_id, manifest).await;
        let outcome = result.as_ref().map(|_| None);
        telemetry::installation_change(
            "publish_manifest",
            None,
            client_id,
            None,
            &outcome,
            started,
        );
        result
    }

    async fn publish(&self, client_id: &ClientId, manifest: Manifest) -> Result<u32, ServerError> {
        let (app, version) = self
            .change_app(client_id, |app| Ok(app.publish_manifest(manifest.clone())))
            .await?;
        for listed in self.inner.store.installations_of(client_id).await? {
            let company = listed.company;
            // Each installation is proposed the manifest afresh and saved over what it was
            // read as, so a proposal never overwrites an admin's uninstall or decision.
            let (_, update) = self
                .change_installation(&company, client_id, |installation| {
                    Ok(installation.propose_manifest(&app))
                })
                .await?;
            let action = match update {
                ManifestUpdate::NotApplicable => continue,
                ManifestUpdate::Pending => AuditAction::ManifestUpdatePending { version },
                ManifestUpdate::Applied(change) => {
                    self.apply(&app, &company, change).await?;
                    AuditAction::ManifestUpdated { version }
                }
            };
            let actor = AuditActor::App(client_id.clone());
            self.audit(actor, action, client_id, Some(&company));
        }
        Ok(version)
    }

    /// Asks to install `app` in `company`; an admin approves or denies it. Asking again while a
    /// request waits, or once installed, changes nothing.
    #[tracing::instrument(
        name = "installation",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "request_installation", company = %company, client_id = %app, actor = %requested_by)
    )]
    pub async fn request_installation(
        &self,
        company: &CompanyId,
        app: &ClientId,
        requested_by: &UserId,
    ) -> Result<Installation, ServerError> {
        let change = self.request(company, app, requested_by);
        observe_change("request_installation", company, app, requested_by, change).await
    }

    async fn request(
        &self,
        company: &CompanyId,
        app: &ClientId,
        requested_by: &UserId,
    ) -> Result<Installation, ServerError> {
        self.require_company(company).await?;
        self.require_user(requested_by).await?;
        let store = &self.inner.store;
        let directory = &self.inner.directory;
        if directory.membership(company, requested_by).await?.is_none() {
            return Err(ServerError::NotAMember {
                user: requested_by.clone(),
                company: company.clone(),
            });
        }
        let app = self.find_app(app).await?;
        require_installable(&app, company)?;
        let now = self.now();
        let fresh = Installation::request(&app, company, requested_by, now);
        let requested = if store.insert_installation(fresh.clone()).await? {
            fresh
        } else {
            let (installation, asked) = self
                .change_installation(company, &app.client_id, |installation| {
                    if matches!(
                        installation.status,
                        InstallationStatus::Requested | InstallationStatus::Active
                    ) {
                        return Ok(false);
                    }
                    let revision = installation.revision;
                    *installation = installation.request_again(&app, requested_by, now)?;
                    installation.revision = revision;
                    Ok(true)
                })
                .await?;
            if !asked {
                return Ok(installation);
            }
            installation
        };
        self.audit(
            AuditActor::User(requested_by.clone()),
            AuditAction::InstallRequested,
            &app.client_id,
            Some(company),
        );
        Ok(requested)
    }

    /// A directory admin approves the install: the app's service account appears in the
    /// company directory with exactly the manifest's permissions on `permitted_projects`.
    #[tracing::instrument(
        name = "installation",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "approve_installation", company = %company, client_id = %app, actor = %approver)
    )]
    pub async fn approve_installation(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
        permitted_projects: BTreeSet<ProjectId>,
    ) -> Result<Installation, ServerError> {
        let decision = AdminDecision::Approve {
            projects: permitted_projects,
        };
        self.decide_installation(company, app, approver, None, decision)
            .await
    }

    async fn approve(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
        permitted_projects: BTreeSet<ProjectId>,
        reviewed: Option<u64>,
    ) -> Result<Installation, ServerError> {
        // Only an admin learns which projects the company has, or what is installed there.
        let acting = self.require_admin(company, approver).await?;
        let app = self.find_app(app).await?;
        self.require_company(company)
            .await?
            .check_projects(&permitted_projects)?;
        let new_account = UserId::generate(&mut rand::thread_rng());
        let now = self.now();
        let approve = |installation: &mut Installation| {
            installation.require_reviewed(reviewed)?;
            let projects = permitted_projects.clone();
            let account = new_account.clone();
            Ok(installation.approve(&app, &acting.actor(), projects, account, now)?)
        };
        // The service account goes into the directory before the installation says it exists:
        // if the directory fails, nothing changed and the admin can simply approve again.
        let mut preview = self.find_installation(company, &app.client_id).await?;
        let previewed = approve(&mut preview)?;
        if let Some(change) = previewed.clone() {
            self.apply(&app, company, change).await?;
        }
        let approved = self
            .change_installation(company, &app.client_id, approve)
            .await;
        let (installation, change) = match approved {
            Ok(approved) => approved,
            Err(error) => {
                // Someone else changed the installation first: the account saved above is
                // referenced by nothing, so it allows nothing; deactivate it anyway.
                if let Some(change) = previewed {
                    let directory = &self.inner.directory;
                    let _ = directory
                        .deactivate_service_account(company, &change.user)
                        .await;
                }
                return Err(error);
            }
        };
        // A concurrent change between the preview and the save (a manifest published, say)
        // can change what the account holds: write what was saved.
        if let Some(change) = change.filter(|change| Some(change) != previewed.as_ref()) {
            self.apply(&app, company, change).await?;
        }
        Ok(self.decided(installation, approver, AuditAction::InstallApproved))
    }

    /// A directory admin denies the install request.
    #[tracing::instrument(
        name = "installation",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "deny_installation", company = %company, client_id = %app, actor = %approver)
    )]
    pub async fn deny_installation(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
    ) -> Result<Installation, ServerError> {
        self.decide_installation(company, app, approver, None, AdminDecision::Deny)
            .await
    }

    async fn deny(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
        reviewed: Option<u64>,
    ) -> Result<Installation, ServerError> {
        let acting = self.require_admin(company, approver).await?;
        let now = self.now();
        let (installation, ()) = self
            .change_installation(company, app, |installation| {
                installation.require_reviewed(reviewed)?;
                Ok(installation.deny(&acting.actor(), now)?)
            })
            .await?;
        Ok(self.decided(installation, approver, AuditAction::InstallDenied))
    }

    /// A directory admin approves the pending manifest update.
    #[tracing::instrument(
        name = "installation",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "approve_manifest_update", company = %company, client_id = %app, actor = %approver)
    )]
    pub async fn approve_manifest_update(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
    ) -> Result<Installation, ServerError> {
        let decision = AdminDecision::ApproveUpdate;
        self.decide_installation(company, app, approver, None, decision)
            .await
    }

    async fn approve_update(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
        reviewed: Option<u64>,
    ) -> Result<Installation, ServerError> {
        let acting = self.require_admin(company, approver).await?;
        let app = self.find_app(app).await?;
        let now = self.now();
        let (installation, change) = self
            .change_installation(company, &app.client_id, |installation| {
                installation.require_reviewed(reviewed)?;
                Ok(installation.approve_update(&app, &acting.actor(), now)?)
            })
            .await?;
        self.apply(&app, company, change).await?;
        let version = installation
            .service_account
            .as_ref()
            .map_or(0, |account| account.approved.version);
        let action = AuditAction::ManifestUpdated { version };
        Ok(self.decided(installation, approver, action))
    }

    /// A directory admin changes the projects the service account may reach.
    #[tracing::instrument(
        name = "installation",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "set_permitted_projects", company = %company, client_id = %app, actor = %approver)
    )]
    pub async fn set_permitted_projects(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
        projects: BTreeSet<ProjectId>,
    ) -> Result<Installation, ServerError> {
        let decision = AdminDecision::SetProjects { projects };
        self.decide_installation(company, app, approver, None, decision)
            .await
    }

    async fn permit_projects(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
        projects: BTreeSet<ProjectId>,
        reviewed: Option<u64>,
    ) -> Result<Installation, ServerError> {
        // Only an admin learns which projects the company has.
        let acting = self.require_admin(company, approver).await?;
        self.require_company(company)
            .await?
            .check_projects(&projects)?;
        let app = self.find_app(app).await?;
        let now = self.now();
        let (installation, change) = self
            .change_installation(company, &app.client_id, |installation| {
                installation.require_reviewed(reviewed)?;
                Ok(installation.set_permitted_projects(&acting.actor(), projects.clone(), now)?)
            })
            .await?;
        self.apply(&app, company, change).await?;
        let action = AuditAction::PermittedProjectsChanged;
        Ok(self.decided(installation, approver, action))
    }

    /// A directory admin uninstalls the app: every token of the app in this company stops
    /// working at the next decision, and the service account is deactivated.
    #[tracing::instrument(
        name = "installation",
        target = "appgrant::installation",
        level = "info",
        skip_all,
        fields(change = "uninstall", company = %company, client_id = %app, actor = %approver)
    )]
    pub async fn uninstall(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
    ) -> Result<Installation, ServerError> {
        self.decide_installation(company, app, approver, None, AdminDecision::Uninstall)
            .await
    }

    async fn remove(
        &self,
        company: &CompanyId,
        app: &ClientId,
        approver: &UserId,
    ) -> Result<Installation, ServerError> {
        let acting = self.require_admin(company, approver).await?;
        let current = self.find_installation(company, app).await?;
        if current.status == InstallationStatus::Uninstalled {
            // Uninstalling again repeats only the directory's part, so an uninstall whose
            // deactivation failed (the tokens stopped already) can be finished by retrying.
            self.deactivate_account_of(&current).await?;
            return Ok(current);
        }
        let now = self.now();
        let (installation, _) = self
            .change_installation(company, app, |installation| {
                Ok(installation.uninstall(&acting.actor(), now)?)
            })
            .await?;
        self.deactivate_account_of(&installation).await?;
        Ok(self.decided(installation, approver, AuditAction::Uninstalled))
    }

    /// Takes `decision` by `admin` on the installation of `app` in `company`, only over the
    /// revision `reviewed` if one is given (see `decide_on_review`), and logs and counts it.
    pub(super) async fn decide_installation(
        &self,
        company: &CompanyId,
        app: &ClientId,
        admin: &UserId,
        reviewed: Option<u64>,
        decision: AdminDecision,
    ) -> Result<Installation, ServerError> {
        match decision {
            AdminDecision::Approve { projects } => {
                let change = self.approve(company, app, admin, projects, reviewed);
                observe_change("approve_installation", company, app, admin, change).await
            }
            AdminDecision::Deny => {
                let change = self.deny(company, app, admin, reviewed);
                observe_change("deny_installation", company, app, admin, change).await
            }
            AdminDecision::ApproveUpdate => {
                let change = self.approve_update(company, app, admin, reviewed);
                observe_change("approve_manifest_update", company, app, admin, change).await
            }
            AdminDecision::SetProjects { projects } => {
                let change = self.permit_projects(company, app, admin, projects, reviewed);
                observe_change("set_permitted_projects", company, app, admin, change).await
            }
            // Uninstalling only takes access away: it applies whatever changed since.
            AdminDecision::Uninstall => {
                let change = self.remove(company, app, admin);
                observe_change("uninstall", company, app, admin, change).await
            }
        }
    }

    pub(super) async fn deactivate_account_of(
        &self,
        installation: &Installation,
    ) -> Result<(), ServerError> {
        if let Some(account) = &installation.service_account {
            let directory = &self.inner.directory;
            let company = &installation.company;
            directory
                .deactivate_service_account(company, &account.user)
                .await?;
        }
        Ok(())
    }

    /// Writes the installation's service account into the directory as the installation says
    /// it is: holding what was approved on the permitted projects if the installation is
    /// active, deactivated if it was uninstalled. Idempotent: the repair for a directory write
    /// that failed after the installation changed (an approved update, changed projects), and
    /// for a host that moves its service accounts to a directory of its own.
    pub async fn sync_service_account(
        &self,
        company: &CompanyId,
        app: &ClientId,
    ) -> Result<(), ServerError> {
        let synced = async {
            let app = self.find_app(app).await?;
            let installation = self.find_installation(company, &app.client_id).await?;
            match (&installation.status, &installation.service_account) {
                (InstallationStatus::Active, Some(account)) => {
                    let change = ServiceAccountChange {
                        user: account.user.clone(),
                        permissions: account.permissions(),
                    };
                    self.apply(&app, company, change).await
                }
                (InstallationStatus::Uninstalled, Some(_)) => {
                    self.deactivate_account_of(&installation).await
                }
                _ => Ok(()),
            }
        };
        telemetry::observe_store("sync_service_account", synced.await)
    }

    /// Applies `change` to the installation of `app` in `company` and saves the result only
    /// over the revision it was made from; if someone else changed it first, reads it again
    /// and reapplies, so concurrent changes never overwrite each other.
    pub(super) async fn change_installation<T>(
        &self,
        company: &CompanyId,
        app: &ClientId,
        mut change: impl FnMut(&mut Installation) -> Result<T, ServerError>,
    ) -> Result<(Installation, T), ServerError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let mut installation = self.find_installation(company, app).await?;
            let read_at = installation.revision;
            let before = installation.clone();
            let outcome = change(&mut installation)?;
            // A change that changed nothing keeps the revision, so what an admin is reviewing
            // stays decidable; it is still saved over the revision read, so that a change
            // racing it makes this one run again on what that change left.
            if installation != before {
                installation.revision = read_at + 1;
            }
            let store = &self.inner.store;
            if store
                .update_installation(read_at, installation.clone())
                .await?
            {
                return Ok((installation, outcome));
            }
        }
        Err(ServerError::Busy)
    }

    /// The acting user, if they are an admin of the company's directory. Checked before
    /// anything is read about the company's installations, so nobody else can tell an app
    /// installed there from one that is not.
    pub(super) async fn require_admin(
        &self,
        company: &CompanyId,
        admin: &UserId,
    ) -> Result<Acting, ServerError> {
        let acting = self.acting(company, admin).await?;
        require_directory_admin(&acting.actor())?;
        Ok(acting)
    }

    pub(super) async fn acting(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> Result<Acting, ServerError> {
        Ok(Acting {
            user: self.require_user(user).await?,
            permissions: self.inner.directory.membership(company, user).await?,
        })
    }

    /// Asks the directory to hold the installation's service account with what `change` says:
    /// created on approval, updated whenever what it holds changes.
    async fn apply(
        &self,
        app: &App,
        company: &CompanyId,
        change: ServiceAccountChange,
    ) -> Result<(), ServerError> {
        let account = ServiceAccount {
            company: company.clone(),
            id: change.user,
            name: format!("{} (service account)", app.name),
            app: app.client_id.clone(),
            permissions: change.permissions,
        };
        Ok(self.inner.directory.save_service_account(&account).await?)
    }

    /// Records an admin's decision in the audit log.
    fn decided(
        &self,
        installation: Installation,
        approver: &UserId,
        action: AuditAction,
    ) -> Installation {
        self.audit(
            AuditActor::User(approver.clone()),
            action,
            &installation.app,
            Some(&installation.company),
        );
        installation
    }
}
