//! Access decisions: may this token do this, in this company, now, and if not, why not.
//!
//! [`decide`] is pure. The server loads a [`DirectoryView`] (what the directory says right now
//! about the token's subject in the requirement's company) so that permission changes,
//! uninstalls and revocations take effect at the very next decision.

use crate::model::{
    CompanyId, Installation, InstallationStatus, Level, Permissions, ProjectId, Requirement,
    Scopes, Tool, ToolLevels, User, UserKind,
};
use crate::token::{AccessClaims, SubjectKind, ValidationError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;

/// What the directory says now about one token's subject in the requirement's company.
#[derive(Clone, Debug, Default)]
pub struct DirectoryView {
    /// The app's installation in the requirement's company, if any.
    pub installation: Option<Installation>,
    /// The acting user: the token's user, or the installation's service account.
    pub user: Option<User>,
    /// The acting user's permissions in that company; `None` if not a member.
    pub permissions: Option<Permissions>,
    /// The app's ceiling on user-delegated access, if it declares one.
    pub ceiling: Option<ToolLevels>,
    /// Whether the token's grant (or the token itself) was revoked.
    pub revoked: bool,
}

/// Whether a deny means "bring a new token" or "this token may not do this".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyKind {
    /// The token itself is no good: HTTP 401 with `invalid_token` (RFC 6750).
    InvalidToken,
    /// The token is good but not enough: HTTP 403 with `insufficient_scope` (RFC 6750).
    Forbidden,
}

/// Why a decision denied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// The token failed validation (signature, key, type, issuer, audience or times).
    InvalidToken {
        /// What was wrong.
        problem: ValidationError,
    },
    /// The token has expired.
    Expired,
    /// The token or its grant was revoked.
    Revoked,
    /// The token is DPoP-bound and came without a proof by its key, or it is a plain bearer
    /// token presented with the DPoP scheme (RFC 9449 §7).
    KeyBindingMismatch,
    /// The token's grant was made before the app was last uninstalled from this company; a
    /// reinstall does not bring it back.
    GrantedBeforeUninstall,
    /// The token is bound to another company.
    WrongCompany,
    /// The app is not installed in this company.
    AppNotInstalled,
    /// The app was uninstalled from this company.
    AppUninstalled,
    /// The app's install is waiting for an admin, or was denied.
    InstallationNotApproved,
    /// No admin has approved the app's service account in this company.
    ServiceAccountNotApproved,
    /// The acting user is deactivated.
    UserDeactivated,
    /// The acting user is not a member of this company.
    NotAMember,
    /// The service account is not permitted on this project.
    ProjectNotPermitted,
    /// The level held is below the level needed.
    InsufficientLevel {
        /// What the token's subject has (after the app's ceiling or approved manifest).
        have: Level,
        /// What the requirement needs.
        need: Level,
    },
}

impl DenyReason {
    /// 401 or 403.
    pub fn kind(&self) -> DenyKind {
        match self {
            DenyReason::InvalidToken { .. }
            | DenyReason::Expired
            | DenyReason::Revoked
            | DenyReason::KeyBindingMismatch
            | DenyReason::GrantedBeforeUninstall => DenyKind::InvalidToken,
            _ => DenyKind::Forbidden,
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::InvalidToken { problem } => write!(f, "invalid token: {problem}"),
            DenyReason::Expired => f.write_str("the token has expired"),
            DenyReason::Revoked => f.write_str("the token has been revoked"),
            DenyReason::KeyBindingMismatch => f.write_str(
                "the token must be presented with a DPoP proof by the key it is bound to, and only then",
            ),
            DenyReason::GrantedBeforeUninstall => {
                f.write_str("the token predates the app's installation in this company")
            }
            DenyReason::WrongCompany => f.write_str("the token is bound to another company"),
            DenyReason::AppNotInstalled => f.write_str("the app is not installed in this company"),
            DenyReason::AppUninstalled => {
                f.write_str("the app is not installed in this company (it was uninstalled)")
            }
            DenyReason::InstallationNotApproved => {
                f.write_str("the app's installation in this company is not approved")
            }
            DenyReason::ServiceAccountNotApproved => {
                f.write_str("no service account is approved for the app in this company")
            }
            DenyReason::UserDeactivated => f.write_str("the user is deactivated"),
            DenyReason::NotAMember => f.write_str("the user is not a member of this company"),
            DenyReason::ProjectNotPermitted => {
                f.write_str("the app's service account is not permitted on this project")
            }
            DenyReason::InsufficientLevel { have, need } => {
                write!(f, "the permission level is {have} but {need} is needed")
            }
        }
    }
}

/// The answer to one access question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Allowed; `level` is the effective level the token has for the tool there.
    Allow {
        /// The effective level.
        level: Level,
    },
    /// Denied, with the reason.
    Deny(DenyReason),
}

impl Decision {
    /// Whether the access is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// The deny reason, if denied.
    pub fn deny_reason(&self) -> Option<&DenyReason> {
        match self {
            Decision::Deny(reason) => Some(reason),
            Decision::Allow { .. } => None,
        }
    }
}

/// Decides whether a validated token may meet `requirement` at `now`, given what the
/// directory says now.
pub fn decide(
    claims: &AccessClaims,
    view: &DirectoryView,
    requirement: &Requirement,
    now: DateTime<Utc>,
) -> Decision {
    match effective_level(claims, view, requirement, now) {
        Ok(have) if have >= requirement.level => Decision::Allow { level: have },
        Ok(have) => Decision::Deny(DenyReason::InsufficientLevel {
            have,
            need: requirement.level,
        }),
        Err(reason) => Decision::Deny(reason),
    }
}

fn effective_level(
    claims: &AccessClaims,
    view: &DirectoryView,
    requirement: &Requirement,
    now: DateTime<Utc>,
) -> Result<Level, DenyReason> {
    if claims.is_expired(now) {
        return Err(DenyReason::Expired);
    }
    if view.revoked {
        return Err(DenyReason::Revoked);
    }
    if claims
        .company_id
        .as_ref()
        .is_some_and(|bound| *bound != requirement.company)
    {
        return Err(DenyReason::WrongCompany);
    }
    let installation = active_installation(claims, view, &requirement.company)?;
    let held = match claims.grant_kind {
        SubjectKind::User => user_level(claims, view, requirement),
        SubjectKind::ServiceAccount => service_account_level(installation, view, requirement),
    }?;
    // The token's scopes cap, tool by tool, whatever the subject holds; they never add.
    Ok(claims
        .scope
        .as_ref()
        .map_or(held, |scope| held.min(scope.level(&requirement.tool))))
}

fn active_installation<'a>(
    claims: &AccessClaims,
    view: &'a DirectoryView,
    company: &CompanyId,
) -> Result<&'a Installation, DenyReason> {
    let installation = view
        .installation
        .as_ref()
        .filter(|installation| {
            installation.app == claims.client_id && installation.company == *company
        })
        .ok_or(DenyReason::AppNotInstalled)?;
    match installation.status {
        InstallationStatus::Active => {}
        InstallationStatus::Uninstalled => return Err(DenyReason::AppUninstalled),
        InstallationStatus::Requested | InstallationStatus::Denied => {
            return Err(DenyReason::InstallationNotApproved);
        }
    }
    // A grant in the very millisecond of the uninstall is cut off too: on a tie, deny.
    if installation
        .uninstalled_at
        .is_some_and(|uninstalled| claims.granted_at_ms <= uninstalled.timestamp_millis())
    {
        return Err(DenyReason::GrantedBeforeUninstall);
    }
    Ok(installation)
}

/// What an app may do through a person who holds `held`: each of their levels, capped by the
/// app's `ceiling` if it declares one (a tool absent from the ceiling: nothing). The same rule
/// every user-delegated decision applies, for the consent page to show before the person
/// agrees; tools left at [`Level::None`] are dropped.
pub fn delegated_permissions(held: &Permissions, ceiling: Option<&ToolLevels>) -> Permissions {
    capped_each(held, |tool, level| {
        ceiling.map_or(level, |ceiling| {
            level.min(ceiling.get(tool).copied().unwrap_or_default())
        })
    })
}

/// `permissions` with each tool capped at what `scope` allows, as every decision for a token
/// with those scopes caps it; tools left at [`Level::None`] are dropped.
pub fn within_scope(permissions: &Permissions, scope: &Scopes) -> Permissions {
    capped_each(permissions, |tool, level| level.min(scope.level(tool)))
}

fn capped_each(permissions: &Permissions, cap: impl Fn(&Tool, Level) -> Level) -> Permissions {
    let capped = |levels: &ToolLevels| -> ToolLevels {
        levels
            .iter()
            .map(|(tool, level)| (tool.clone(), cap(tool, *level)))
            .filter(|(_, level)| *level > Level::None)
            .collect()
    };
    Permissions {
        company: capped(&permissions.company),
        projects: permissions
            .projects
            .iter()
            .map(|(project, levels)| (project.clone(), capped(levels)))
            .filter(|(_, levels)| !levels.is_empty())
            .collect(),
    }
}

/// Whether a token could be allowed something in `company` now: unrevoked, the app installed
/// and active there since the grant, and the token's subject (its user, or the installation's
/// service account) an active member. A token is active (introspection, token info) when this
/// holds in its bound company, or, unbound, in at least one company. `claims` come from
/// validation, which checked the times (with the configured leeway); `view` is for `company`.
pub fn standing(
    claims: &AccessClaims,
    view: &DirectoryView,
    company: &CompanyId,
) -> Result<(), DenyReason> {
    if view.revoked {
        return Err(DenyReason::Revoked);
    }
    if claims
        .company_id
        .as_ref()
        .is_some_and(|bound| bound != company)
    {
        return Err(DenyReason::WrongCompany);
    }
    let installation = active_installation(claims, view, company)?;
    let (acting, kind) = match claims.grant_kind {
        SubjectKind::User => (claims.sub.as_str(), UserKind::Person),
        SubjectKind::ServiceAccount => {
            let account = installation
                .service_account
                .as_ref()
                .ok_or(DenyReason::ServiceAccountNotApproved)?;
            (account.user.as_str(), account_kind(installation))
        }
    };
    acting_member(view, acting, &kind).map(|_| ())
}

/// The kind of user an installation's service account must be: one of its own app.
fn account_kind(installation: &Installation) -> UserKind {
    UserKind::ServiceAccount {
        app: installation.app.clone(),
    }
}

/// The acting user's permissions, if the view's user is the one expected, of the kind expected
/// (a person for a user token; for a service-account token the app's own service account, so
/// a person's record can never act as an account, nor an account as a person), and active.
fn acting_member<'a>(
    view: &'a DirectoryView,
    expected: &str,
    kind: &UserKind,
) -> Result<&'a Permissions, DenyReason> {
    let user = view
        .user
        .as_ref()
        .filter(|user| user.id.as_str() == expected && user.kind == *kind)
        .ok_or(DenyReason::NotAMember)?;
    if !user.is_active() {
        return Err(DenyReason::UserDeactivated);
    }
    view.permissions.as_ref().ok_or(DenyReason::NotAMember)
}

fn user_level(
    claims: &AccessClaims,
    view: &DirectoryView,
    requirement: &Requirement,
) -> Result<Level, DenyReason> {
    let permissions = acting_member(view, &claims.sub, &UserKind::Person)?;
    let held = permissions.level(requirement.project.as_ref(), &requirement.tool);
    let ceiling = view.ceiling.as_ref().map_or(Level::Admin, |ceiling| {
        ceiling.get(&requirement.tool).copied().unwrap_or_default()
    });
    Ok(held.min(ceiling))
}

fn service_account_level(
    installation: &Installation,
    view: &DirectoryView,
    requirement: &Requirement,
) -> Result<Level, DenyReason> {
    let account = installation
        .service_account
        .as_ref()
        .ok_or(DenyReason::ServiceAccountNotApproved)?;
    let permissions = acting_member(view, account.user.as_str(), &account_kind(installation))?;
    if let Some(project) = &requirement.project {
        if !account.permitted_projects.contains(project) {
            return Err(DenyReason::ProjectNotPermitted);
        }
    }
    let project: Option<&ProjectId> = requirement.project.as_ref();
    let held = permissions.level(project, &requirement.tool);
    Ok(held.min(account.approved_level(project, &requirement.tool)))
}

#[cfg(test)]
mod tests {
    use super::DenyReason;

    /// A new reason must be added to tests/decisions.rs's `every_reason` (the kind and display
    /// tests run over it): this match stops compiling, and the count there is this one.
    #[test]
    fn every_deny_reason_is_listed() {
        let count = |reason: &DenyReason| match reason {
            DenyReason::InvalidToken { .. }
            | DenyReason::Expired
            | DenyReason::Revoked
            | DenyReason::KeyBindingMismatch
            | DenyReason::GrantedBeforeUninstall
            | DenyReason::WrongCompany
            | DenyReason::AppNotInstalled
            | DenyReason::AppUninstalled
            | DenyReason::InstallationNotApproved
            | DenyReason::ServiceAccountNotApproved
            | DenyReason::UserDeactivated
            | DenyReason::NotAMember
            | DenyReason::ProjectNotPermitted
            | DenyReason::InsufficientLevel { .. } => 14,
        };
        assert_eq!(count(&DenyReason::Expired), 14);
    }
}
