//! Errors of the server's management and access calls (the token and authorization endpoints
//! have their own, in [`crate::grant`]).

use crate::grant::{RegistrationError, SecretRotationError};
use crate::model::{ClientId, CompanyId, InstallationError, UserId};
use crate::store::StoreError;
use crate::token::{KeyError, ValidationError};

/// Why a server call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No app with that client id.
    #[error("unknown app {0}")]
    UnknownApp(ClientId),
    /// No such company.
    #[error("unknown company {0}")]
    UnknownCompany(CompanyId),
    /// No such user.
    #[error("unknown user {0}")]
    UnknownUser(UserId),
    /// The user is not a member of the company.
    #[error("user {user} is not a member of company {company}")]
    NotAMember {
        /// The user.
        user: UserId,
        /// The company.
        company: CompanyId,
    },
    /// The app has no installation (or request) in the company.
    #[error("app {app} has no installation in company {company}")]
    NoInstallation {
        /// The app.
        app: ClientId,
        /// The company.
        company: CompanyId,
    },
    /// An installation transition was refused.
    #[error(transparent)]
    Installation(#[from] InstallationError),
    /// A registration, or an update of an app's settings, was refused.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// A client secret could not be rotated.
    #[error(transparent)]
    SecretRotation(#[from] SecretRotationError),
    /// A key could not be made.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The access token did not validate.
    #[error("invalid token: {0}")]
    InvalidToken(#[from] ValidationError),
    /// The access token was revoked.
    #[error("invalid token: revoked")]
    Revoked,
    /// The access token is no longer in good standing (expired, its user deactivated, or the
    /// app uninstalled from the company it is bound to).
    #[error("invalid token: {0}")]
    Inactive(crate::access::DenyReason),
    /// The record (an installation, an app) kept changing under concurrent requests; try
    /// again.
    #[error("the record is being changed by others; try again")]
    Busy,
    /// The signing keys are set up in a way that cannot work.
    #[error("signing keys: {0}")]
    KeyConfiguration(&'static str),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
