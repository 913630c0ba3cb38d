//! The client-credentials grant for an app's service account: no refresh token, bound to one
//! company on request or usable in every company that installed the app.

use super::error::TokenError;
use super::exchange::Issued;
use super::issue::{Requested, TokenGrant, TokenResponse, mint_access_token};
use super::resource::resource_for;
use crate::config::Config;
use crate::model::{App, ClientType, CompanyId, GrantId, Installation};
use crate::token::{KeySet, SubjectKind};
use chrono::{DateTime, Utc};
use rand::RngCore;

/// The company a service-account token is for.
#[derive(Clone, Copy, Debug)]
pub enum Binding<'a> {
    /// Works in every company that installed the app; the company is named at each access.
    Unbound,
    /// Works in this company only; `installation` is the app's installation there, if any.
    Company {
        /// The company.
        company: &'a CompanyId,
        /// The app's installation there.
        installation: Option<&'a Installation>,
    },
}

/// Issues a service-account access token for the authenticated `app`, limited to the scopes
/// `requested` (capped by the app's manifest) and for the resource it names, if any.
pub fn client_credentials(
    app: &App,
    binding: Binding<'_>,
    requested: Requested<'_>,
    config: &Config,
    keys: &KeySet,
    now: DateTime<Utc>,
    rng: &mut dyn RngCore,
) -> Result<Issued, TokenError> {
    if app.client_type != ClientType::Confidential {
        return Err(TokenError::UnauthorizedClient(
            "public clients cannot use client_credentials",
        ));
    }
    if !app.flows.service_account() {
        return Err(TokenError::UnauthorizedClient(
            "this app does not use a service account",
        ));
    }
    let (subject, company) = match binding {
        Binding::Unbound => (app.client_id.to_string(), None),
        Binding::Company {
            company,
            installation,
        } => {
            let account = installation
                .filter(|installation| installation.is_active())
                .and_then(|installation| installation.service_account.as_ref())
                .ok_or(TokenError::UnauthorizedClient(
                    "the app has no approved service account in that company",
                ))?;
            (account.user.to_string(), Some(company.clone()))
        }
    };
    let resource = resource_for(requested.resource, None, config)?;
    let scope = requested
        .scope
        .map(|asked| asked.granted(&config.tools, |tool| app.service_account_reach(tool)))
        .transpose()?;
    let grant = TokenGrant {
        subject,
        client_id: app.client_id.clone(),
        kind: SubjectKind::ServiceAccount,
        company,
        grant: GrantId::generate(rng),
        granted_at: now,
        scope,
        resource,
        dpop_jkt: requested.dpop_jkt.map(str::to_owned),
    };
    let (access_token, claims) = mint_access_token(grant, config, keys, now, rng);
    Ok(Issued {
        response: TokenResponse::new(access_token, &claims, None),
        claims,
        family: None,
    })
}
