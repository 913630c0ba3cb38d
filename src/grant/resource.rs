//! Resource indicators (RFC 8707): which resource server a token is for. A client names it
//! with `resource` at authorize and at the token endpoint; the token's `aud` is that resource,
//! so a resource server that checks its own identifier never accepts a token meant for
//! another. Without one, the token is for the configured default audience.

use crate::config::Config;
use url::Url;

/// Why a `resource` was refused (`invalid_target`, RFC 8707 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// Not an absolute URI, or one with a fragment.
    #[error("resource must be an absolute URI without a fragment")]
    NotAnAbsoluteUri,
    /// Not a resource this server issues tokens for.
    #[error("resource is not one this server issues tokens for")]
    Unknown,
    /// Not the resource the grant was authorized for.
    #[error("resource is not the one the grant was authorized for")]
    NotGranted,
}

/// The resource a token is issued for, when `asked` is what the request names and `granted`
/// the resource its grant was authorized for (a code's or refresh family's; `None` for one
/// authorized for no resource in particular, or for client credentials): what was asked,
/// which must be known to `config` and, if the grant names one, that one; else what the grant
/// names. `None` means the default audience.
pub fn resource_for(
    asked: Option<&str>,
    granted: Option<&str>,
    config: &Config,
) -> Result<Option<String>, ResourceError> {
    let Some(asked) = asked else {
        return Ok(granted.map(str::to_owned));
    };
    check_resource(asked, config)?;
    match granted {
        Some(granted) if granted != asked => Err(ResourceError::NotGranted),
        _ => Ok(Some(asked.to_owned())),
    }
}

/// Refuses a resource that is not an absolute URI without a fragment, or not known to `config`.
pub fn check_resource(resource: &str, config: &Config) -> Result<(), ResourceError> {
    let absolute = Url::parse(resource).is_ok_and(|url| url.fragment().is_none());
    if !absolute || resource.contains('#') {
        return Err(ResourceError::NotAnAbsoluteUri);
    }
    if !config.knows_resource(resource) {
        return Err(ResourceError::Unknown);
    }
    Ok(())
}
