//! The authorization-code exchange: a code, presented once, by the client it was issued to,
//! with the redirect URI and PKCE verifier it was bound to, becomes an access and refresh token.

use super::authorize::CodeRecord;
use super::error::TokenError;
use super::issue::{TokenGrant, TokenResponse, mint_access_token};
use super::pkce;
use super::refresh::RefreshFamily;
use super::resource::resource_for;
use crate::config::Config;
use crate::model::{App, ClientType, User};
use crate::token::{AccessClaims, KeySet, RefreshTokenKey, Secret, SubjectKind};
use chrono::{DateTime, Utc};
use rand::RngCore;

/// What the store said when asked to redeem a code (atomically, once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redemption {
    /// This is the first redemption; the code is now spent.
    First(CodeRecord),
    /// The code was redeemed before.
    Reused(CodeRecord),
    /// No such code.
    Unknown,
}

/// The token-request parameters of a code exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeExchange {
    /// The code.
    pub code: Secret,
    /// `redirect_uri`, which must equal the authorized one.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier.
    pub code_verifier: Option<Secret>,
    /// `resource` (RFC 8707): the code's own, or, for a code authorized for none, any known.
    pub resource: Option<String>,
    /// The thumbprint of the key of the request's DPoP proof (RFC 9449), if it sent one: the
    /// access token is bound to it, and so is a public client's refresh family.
    pub dpop_jkt: Option<String>,
}

/// Tokens a grant produced, and what must be stored for them.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The response to send.
    pub response: TokenResponse,
    /// The access token's claims.
    pub claims: AccessClaims,
    /// The refresh family to store, if a refresh token was issued.
    pub family: Option<RefreshFamily>,
}

/// What a code exchange is computed from.
#[derive(Clone, Copy, Debug)]
pub struct ExchangeInput<'a> {
    /// The authenticated client.
    pub app: &'a App,
    /// What the store said when asked to redeem the code.
    pub redemption: &'a Redemption,
    /// The token request's parameters.
    pub request: &'a CodeExchange,
    /// The user who authorized, as the directory has them now.
    pub user: Option<&'a User>,
}

/// Refuses a code presented by a client other than its own, before it is redeemed: such a
/// presentation must neither redeem nor spend it (else anyone holding a stolen code and any
/// client id could destroy it), nor revoke what it issued.
pub fn check_presenter(app: &App, record: &CodeRecord) -> Result<(), TokenError> {
    if record.client_id == app.client_id {
        Ok(())
    } else {
        Err(TokenError::CodeOfAnotherClient {
            grant: record.grant.clone(),
            owner: record.client_id.clone(),
        })
    }
}

/// Exchanges a redeemed code for tokens.
pub fn exchange_code(
    input: ExchangeInput<'_>,
    config: &Config,
    keys: &KeySet,
    refresh_key: &RefreshTokenKey,
    now: DateTime<Utc>,
    rng: &mut dyn RngCore,
) -> Result<Issued, TokenError> {
    let ExchangeInput {
        app,
        redemption,
        request,
        user,
    } = input;
    let record = match redemption {
        Redemption::First(record) => record,
        Redemption::Reused(record) => {
            return Err(TokenError::CodeReused {
                grant: record.grant.clone(),
                owner: record.client_id.clone(),
            });
        }
        Redemption::Unknown => return Err(TokenError::InvalidGrant("unknown authorization code")),
    };
    check_binding(app, record, request, now)?;
    if !user.is_some_and(|user| user.id == record.user && user.is_active_person()) {
        return Err(TokenError::UserInactive {
            grant: record.grant.clone(),
        });
    }
    let resource = resource_for(
        request.resource.as_deref(),
        record.resource.as_deref(),
        config,
    )?;
    let grant = TokenGrant {
        subject: record.user.to_string(),
        client_id: app.client_id.clone(),
        kind: SubjectKind::User,
        company: None,
        grant: record.grant.clone(),
        // The grant dates from the user's authorization, so a code issued before an uninstall
        // gives nothing that works after a reinstall.
        granted_at: record.issued_at,
        scope: record.scope.clone(),
        resource,
        dpop_jkt: request.dpop_jkt.clone(),
    };
    let (access_token, claims) = mint_access_token(grant, config, keys, now, rng);
    let (mut family, refresh_token) = RefreshFamily::start(record, config, refresh_key, now, rng);
    // A public client's refresh token is bound to its DPoP key (RFC 9449 §5): it has no
    // credentials of its own, so a stolen refresh token would otherwise be as good as its.
    if app.client_type == ClientType::Public {
        family.dpop_jkt = request.dpop_jkt.clone();
    }
    Ok(Issued {
        response: TokenResponse::new(access_token, &claims, Some(refresh_token)),
        claims,
        family: Some(family),
    })
}

fn check_binding(
    app: &App,
    record: &CodeRecord,
    request: &CodeExchange,
    now: DateTime<Utc>,
) -> Result<(), TokenError> {
    check_presenter(app, record)?;
    if now >= record.expires_at {
        return Err(TokenError::InvalidGrant("authorization code expired"));
    }
    if request.redirect_uri.as_deref() != Some(record.redirect_uri.as_str()) {
        return Err(TokenError::InvalidGrant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.code_challenge, &request.code_verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify(challenge, verifier.expose()) => Ok(()),
        (Some(_), Some(_)) => Err(TokenError::InvalidGrant("PKCE verification failed")),
        (Some(_), None) => Err(TokenError::InvalidGrant("code_verifier required")),
        // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade attempt.
        (None, Some(_)) => Err(TokenError::InvalidGrant(
            "code_verifier sent but the authorization had no code_challenge",
        )),
        (None, None) => Ok(()),
    }
}
