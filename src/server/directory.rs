//! Keeping appgrant's own directory tables (companies, users, memberships), for a host whose
//! directory lives in appgrant; and the lookups every directory answers.

use super::{AuthorizationServer, ServerError, telemetry};
use crate::model::{Company, CompanyId, Level, Permissions, Scope, Tool, User, UserId, UserStatus};
use crate::store::{Directory, DirectoryStore, Store};

impl<S: Store, D: DirectoryStore> AuthorizationServer<S, D> {
    /// Adds or replaces a company.
    pub async fn save_company(&self, company: Company) -> Result<(), ServerError> {
        let saved = self.inner.directory.save_company(company).await;
        Ok(telemetry::observe_store("save_company", saved)?)
    }

    /// Adds or replaces a user.
    pub async fn save_user(&self, user: User) -> Result<(), ServerError> {
        let saved = self.inner.directory.save_user(user).await;
        Ok(telemetry::observe_store("save_user", saved)?)
    }

    /// Makes `user` a member of `company` holding `permissions` (replacing what they held).
    pub async fn set_membership(
        &self,
        company: &CompanyId,
        user: &UserId,
        permissions: Permissions,
    ) -> Result<(), ServerError> {
        let saved = self.save_membership(company, user, permissions).await;
        telemetry::observe_store("set_membership", saved)
    }

    async fn save_membership(
        &self,
        company: &CompanyId,
        user: &UserId,
        permissions: Permissions,
    ) -> Result<(), ServerError> {
        self.require_company(company).await?;
        self.require_user(user).await?;
        Ok(self
            .inner
            .directory
            .save_membership(company, user, permissions)
            .await?)
    }

    /// Changes one permission of a member; it takes effect at the next access decision.
    pub async fn set_permission(
        &self,
        company: &CompanyId,
        user: &UserId,
        scope: Scope,
        tool: impl Into<Tool>,
        level: Level,
    ) -> Result<(), ServerError> {
        let changed = self.change_permission(company, user, scope, tool.into(), level);
        telemetry::observe_store("set_permission", changed.await)
    }

    async fn change_permission(
        &self,
        company: &CompanyId,
        user: &UserId,
        scope: Scope,
        tool: Tool,
        level: Level,
    ) -> Result<(), ServerError> {
        let mut permissions = self
            .inner
            .directory
            .membership(company, user)
            .await?
            .unwrap_or_default();
        permissions.set(scope, tool, level);
        self.save_membership(company, user, permissions).await
    }

    /// Deactivates a user: every decision for them denies from now on.
    pub async fn deactivate_user(&self, user: &UserId) -> Result<(), ServerError> {
        let deactivated = async {
            let mut record = self.require_user(user).await?;
            record.status = UserStatus::Deactivated;
            Ok(self.inner.directory.save_user(record).await?)
        };
        telemetry::observe_store("deactivate_user", deactivated.await)
    }

    /// The company's directory: every member with their permissions.
    pub async fn members(
        &self,
        company: &CompanyId,
    ) -> Result<Vec<(User, Permissions)>, ServerError> {
        let members = self.inner.directory.members(company).await;
        Ok(telemetry::observe_store("members", members)?)
    }
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    pub(super) async fn require_company(
        &self,
        company: &CompanyId,
    ) -> Result<Company, ServerError> {
        self.inner
            .directory
            .company(company)
            .await?
            .ok_or_else(|| ServerError::UnknownCompany(company.clone()))
    }

    pub(super) async fn require_user(&self, user: &UserId) -> Result<User, ServerError> {
        self.inner
            .directory
            .user(user)
            .await?
            .ok_or_else(|| ServerError::UnknownUser(user.clone()))
    }
}
