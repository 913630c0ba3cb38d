//! The domain as plain data: ids, permissions, companies and directories, apps, installations,
//! and what an app's developer may see of them.
//!
//! Nothing here does IO or cryptography; every state change is a pure method.

pub mod app;
pub mod client_security;
pub mod developer;
pub mod digest;
pub mod directory;
pub mod ids;
pub mod installation;
pub mod permission;
pub mod scopes;

pub use app::{
    App, AppFlows, AppProfile, ApplicationType, ClientType, Manifest, ManifestChange, OUT_OF_BAND,
    PreviousSecret, Reach,
};
pub use client_security::{ClientAuthMethod, ClientSecurity, DpopBinding, PushedAuthorization};
pub use developer::{DeveloperApp, DeveloperInstallation};
pub use digest::SecretDigest;
pub use directory::{
    Actor, Company, CompanySettings, ConsentInstall, Membership, Project, User, UserKind,
    UserStatus,
};
pub use ids::{ClientId, CompanyId, GrantId, ProjectId, TokenId, UserId};
pub use installation::{
    Installation, InstallationError, InstallationStatus, ManifestUpdate, ServiceAccountChange,
    ServiceAccountGrant, require_directory_admin, require_installable,
};
pub use permission::{Level, Permissions, Requirement, Scope, Tool, ToolLevels};
pub use scopes::{ScopeError, Scopes};
