//! Answering resource servers: access decisions, token info and introspection (RFC 7662).

use super::{AuthorizationServer, ServerError, telemetry};
use crate::access::{Decision, DenyReason, DirectoryView, decide, standing};
use crate::grant::{ClientAuthentication, FamilyStatus, Presented, TokenError, access_claims};
use crate::model::{
    App, ClientType, CompanyId, Installation, InstallationStatus, Requirement, Scopes,
    SecretDigest, UserId,
};
use crate::store::{Acting, DecisionQuery, Directory, Store, StoreError};
use crate::token::{
    AccessClaims, Confirmation, Expectations, ProofTarget, SubjectKind, check_proof,
    presentation_fits,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Instant;

/// Token info for the bearer of an access token (the reference `/oauth/token/info`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// The user the token acts as, for user-delegated tokens.
    pub resource_owner_id: Option<String>,
    /// The app.
    pub application: TokenApplication,
    /// The scopes the token is limited to (empty when it was granted without scopes: then
    /// only permissions limit it).
    pub scopes: Vec<String>,
    /// Seconds until expiry.
    pub expires_in_seconds: i64,
    /// Issued at, seconds since the epoch.
    pub created_at: i64,
    /// User-delegated or service account.
    pub grant_kind: SubjectKind,
    /// The company the token is bound to, if any.
    pub company_id: Option<CompanyId>,
}

/// The app a token was issued to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenApplication {
    /// Its client id.
    pub uid: String,
}

/// An RFC 7662 introspection response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is active now.
    pub active: bool,
    /// The token type of RFC 6749 §5.1 (RFC 7662 §2.2): `Bearer` for an access token; none
    /// for a refresh token, which is never presented to a resource server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Which token it is: `access_token` or `refresh_token`, the names of RFC 7009's
    /// `token_type_hint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_kind: Option<TokenKind>,
    /// The app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// User-delegated or service account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_kind: Option<SubjectKind>,
    /// The company the token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<CompanyId>,
    /// The scopes the token is limited to, space-separated (RFC 7662 §2.2), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The key a DPoP-bound access token is bound to (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// Which token an introspection looked into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// An access token.
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

/// An access decision with what the resource server may want to know about the token.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AccessDecision {
    /// The decision.
    pub decision: Decision,
    /// The token's claims, if it validated.
    pub claims: Option<AccessClaims>,
    /// The user acting: the person for user tokens, the service account in this company for
    /// service-account tokens (if there is one).
    pub acting_user: Option<UserId>,
}

impl AccessDecision {
    /// Whether it allows.
    pub fn is_allowed(&self) -> bool {
        self.decision.is_allowed()
    }

    /// Why it denies, if it does.
    pub fn deny_reason(&self) -> Option<&DenyReason> {
        self.decision.deny_reason()
    }
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Decides whether the bearer of `token` may meet `requirement` now, reading the app's
    /// installation, the acting user and their permissions fresh; says whose token it is.
    ///
    /// This is the resource server's question. [`introspect`](Self::introspect) (RFC 7662)
    /// and [`token_info`](Self::token_info) answer a different one: is this token good at all,
    /// and whose is it, with no requirement.
    #[tracing::instrument(
        name = "check_access",
        target = "appgrant::access",
        level = "debug",
        skip_all,
        fields(company = %requirement.company, tool = %requirement.tool)
    )]
    pub async fn decide(
        &self,
        token: &str,
        requirement: &Requirement,
    ) -> Result<AccessDecision, StoreError> {
        self.decide_with(&self.inner.expectations, token, requirement)
            .await
    }

    /// [`decide`](Self::decide) for the resource server `resource` (RFC 8707): the token must
    /// have been issued for it (its `aud`), so a token for another resource server, or for the
    /// default audience, is an invalid token here.
    #[tracing::instrument(
        name = "check_access",
        target = "appgrant::access",
        level = "debug",
        skip_all,
        fields(company = %requirement.company, tool = %requirement.tool)
    )]
    pub async fn decide_for(
        &self,
        resource: &str,
        token: &str,
        requirement: &Requirement,
    ) -> Result<AccessDecision, StoreError> {
        let configured = self
            .inner
            .expectations_at
            .iter()
            .find(|expect| expect.audiences.iter().any(|audience| audience == resource));
        match configured {
            Some(expect) => self.decide_with(expect, token, requirement).await,
            // The default audience, or a resource this server never issues for (which no
            // token of ours names, so every token is refused for its audience).
            None => {
                let expect = self.inner.config.expectations_at(resource);
                self.decide_with(&expect, token, requirement).await
            }
        }
    }

    /// [`decide`](Self::decide) (`resource` `None`) or [`decide_for`](Self::decide_for) a
    /// token presented with the DPoP scheme whose proof proved `proven_key` (RFC 9449 §7), or
    /// as a bearer token (`None`). A DPoP-bound token is allowed only with a proof by its key
    /// (so never through `decide` or `decide_for`, which take bearer tokens), and a plain
    /// token only as a bearer token.
    pub async fn decide_presented(
        &self,
        resource: Option<&str>,
        token: &str,
        proven_key: Option<&str>,
        requirement: &Requirement,
    ) -> Result<AccessDecision, StoreError> {
        let configured = resource.map(|resource| {
            self.inner
                .expectations_at
                .iter()
                .find(|expect| expect.audiences.iter().any(|audience| audience == resource))
                .cloned()
                .unwrap_or_else(|| self.inner.config.expectations_at(resource))
        });
        let expect = configured.as_ref().unwrap_or(&self.inner.expectations);
        self.decide_with_key(expect, token, proven_key, requirement)
            .await
    }

    async fn decide_with(
        &self,
        expect: &Expectations,
        token: &str,
        requirement: &Requirement,
    ) -> Result<AccessDecision, StoreError> {
        self.decide_with_key(expect, token, None, requirement).await
    }

    async fn decide_with_key(
        &self,
        expect: &Expectations,
        token: &str,
        proven_key: Option<&str>,
        requirement: &Requirement,
    ) -> Result<AccessDecision, StoreError> {
        let started = Instant::now();
        let result = telemetry::observe_store(
            "check_access",
            self.decide_now(expect, token, proven_key, requirement)
                .await,
        );
        if let Ok(check) = &result {
            telemetry::decision(&check.decision, check.claims.as_ref(), requirement, started);
        }
        result
    }

    async fn decide_now(
        &self,
        expect: &Expectations,
        token: &str,
        proven_key: Option<&str>,
        requirement: &Requirement,
    ) -> Result<AccessDecision, StoreError> {
        let now = self.now();
        let claims = match self.validate_access_token(token, expect, now).await {
            Ok(claims) => claims,
            Err(problem) => {
                return Ok(AccessDecision {
                    decision: Decision::Deny(DenyReason::InvalidToken { problem }),
                    claims: None,
                    acting_user: None,
                });
            }
        };
        if !presentation_fits(claims.cnf.as_ref(), proven_key) {
            return Ok(AccessDecision {
                decision: Decision::Deny(DenyReason::KeyBindingMismatch),
                claims: Some(claims),
                acting_user: None,
            });
        }
        let view = self.view_of(&claims, &requirement.company).await?;
        Ok(AccessDecision {
            decision: decide(&claims, &view, requirement, now),
            acting_user: view.user.map(|user| user.id),
            claims: Some(claims),
        })
    }

    /// What the directory says now about the subject of `claims` in `company`.
    pub async fn directory_view(
        &self,
        claims: &AccessClaims,
        company: &CompanyId,
    ) -> Result<DirectoryView, StoreError> {
        let view = self.view_of(claims, company).await;
        telemetry::observe_store("directory_view", view)
    }

    async fn view_of(
        &self,
        claims: &AccessClaims,
        company: &CompanyId,
    ) -> Result<DirectoryView, StoreError> {
        // Everything in one round trip where the store can, and what it read is the state of
        // one moment: the service account is the one the installation read names.
        let person = UserId::new(claims.sub.as_str());
        let query = DecisionQuery {
            app: &claims.client_id,
            company,
            grant: &claims.grant_id,
            acting: match claims.grant_kind {
                SubjectKind::User => Acting::Person(&person),
                SubjectKind::ServiceAccount => Acting::ServiceAccount,
            },
            member: self.inner.member_reads,
        };
        let records = self.inner.store.decision_records(&query).await?;
        let (user, permissions) = match records.member {
            Some(member) => member,
            None => match query.acting_user(records.installation.as_ref()) {
                Some(user) => self.inner.directory.member(company, &user).await?,
                None => (None, None),
            },
        };
        Ok(DirectoryView {
            installation: records.installation,
            user,
            permissions,
            revoked: records.revoked,
            ceiling: records.ceiling,
        })
    }

    /// The view of `installation`'s company with the acting user read fresh: the token's user,
    /// or the installation's service account.
    async fn subject_view(
        &self,
        claims: &AccessClaims,
        installation: Option<Installation>,
        company: &CompanyId,
    ) -> Result<DirectoryView, StoreError> {
        let directory = &self.inner.directory;
        let acting = match claims.grant_kind {
            SubjectKind::User => Some(UserId::new(claims.sub.as_str())),
            SubjectKind::ServiceAccount => installation
                .as_ref()
                .and_then(|installation| installation.service_account.as_ref())
                .map(|account| account.user.clone()),
        };
        let (user, permissions) = match &acting {
            Some(id) => directory.member(company, id).await?,
            None => (None, None),
        };
        Ok(DirectoryView {
            installation,
            user,
            permissions,
            ..DirectoryView::default()
        })
    }

    /// Whether a validated token is in good standing now (see [`standing`]): in its bound
    /// company, or, unbound, in at least one company that installed its app.
    async fn standing(&self, claims: &AccessClaims) -> Result<Result<(), DenyReason>, StoreError> {
        if let Some(company) = &claims.company_id {
            let view = self.view_of(claims, company).await?;
            return Ok(standing(claims, &view, company));
        }
        let store = &self.inner.store;
        if store.is_revoked(&claims.grant_id).await? {
            return Ok(Err(DenyReason::Revoked));
        }
        match claims.grant_kind {
            SubjectKind::User => self.user_standing_anywhere(claims).await,
            SubjectKind::ServiceAccount => self.service_account_standing_anywhere(claims).await,
        }
    }

    /// Whether an unbound user token could be allowed in one of its user's companies: the
    /// user is read once, then only the companies they belong to (not every company that
    /// installed the app).
    async fn user_standing_anywhere(
        &self,
        claims: &AccessClaims,
    ) -> Result<Result<(), DenyReason>, StoreError> {
        let store = &self.inner.store;
        let user_id = UserId::new(claims.sub.as_str());
        let Some(user) = self.inner.directory.user(&user_id).await? else {
            return Ok(Err(DenyReason::NotAMember));
        };
        if !user.is_active() {
            return Ok(Err(DenyReason::UserDeactivated));
        }
        let mut refusal = DenyReason::AppNotInstalled;
        for (company, permissions) in self.inner.directory.memberships_of(&user_id).await? {
            let view = DirectoryView {
                installation: store.installation(&claims.client_id, &company).await?,
                user: Some(user.clone()),
                permissions: Some(permissions),
                ..DirectoryView::default()
            };
            match standing(claims, &view, &company) {
                Ok(()) => return Ok(Ok(())),
                Err(reason) => refusal = reason,
            }
        }
        Ok(Err(refusal))
    }

    /// Whether an unbound service-account token could be allowed in one of the companies
    /// that installed its app, as that company's service account.
    async fn service_account_standing_anywhere(
        &self,
        claims: &AccessClaims,
    ) -> Result<Result<(), DenyReason>, StoreError> {
        let mut refusal = DenyReason::AppNotInstalled;
        let installations = self.inner.store.installations_of(&claims.client_id).await?;
        // Only an active installation with an approved account can allow anything; the rest
        // cost no reads.
        for installation in installations.into_iter().filter(|installation| {
            installation.status == InstallationStatus::Active
                && installation.service_account.is_some()
        }) {
            let company = installation.company.clone();
            let view = self
                .subject_view(claims, Some(installation), &company)
                .await?;
            match standing(claims, &view, &company) {
                Ok(()) => return Ok(Ok(())),
                Err(reason) => refusal = reason,
            }
        }
        Ok(Err(refusal))
    }

    /// Validates an access token and says whose it is and for how long.
    #[tracing::instrument(
        name = "token_info",
        target = "appgrant::access",
        level = "debug",
        skip_all
    )]
    pub async fn token_info(&self, token: &str) -> Result<TokenInfo, ServerError> {
        self.token_info_presented(token, None).await
    }

    /// [`token_info`](Self::token_info) for a token presented with the DPoP scheme whose
    /// proof proved `proven_key` (see [`accept_dpop_proof`](Self::accept_dpop_proof)), or as a
    /// bearer token (`None`): a DPoP-bound token is described only with a proof by its key.
    pub async fn token_info_presented(
        &self,
        token: &str,
        proven_key: Option<&str>,
    ) -> Result<TokenInfo, ServerError> {
        let result = telemetry::observe_store("token_info", self.describe(token, proven_key).await);
        match &result {
            Ok(info) => tracing::debug!(
                target: telemetry::ACCESS,
                client_id = %info.application.uid,
                grant_kind = telemetry::grant_kind(info.grant_kind),
                outcome = "active",
                "token info answered"
            ),
            Err(error) => tracing::debug!(
                target: telemetry::ACCESS,
                outcome = "inactive",
                error = %error,
                "token info refused"
            ),
        }
        result
    }

    /// Checks a DPoP proof sent with the access token `token` in a `method` request to `url`
    /// (RFC 9449 §4.3, §7.1, with the server's clock, leeway and nonces) and returns the key it
    /// proves. Its `jti` is recorded, and a replay refused, only
    /// when `token` is a valid token of this server bound to that very key: requests with
    /// made-up tokens or proofs by other keys cost a signature check, never a stored row (they
    /// are refused anyway by the decision that follows).
    pub async fn accept_dpop_proof(
        &self,
        proof: &str,
        token: &str,
        method: &str,
        url: &str,
    ) -> Result<String, TokenError> {
        let now = self.now();
        let target = ProofTarget {
            method,
            url,
            access_token: Some(token),
            now,
            leeway_seconds: self.inner.config.leeway_seconds,
            nonces: self.dpop_nonce_key(),
        };
        let checked = check_proof(proof, &target)?;
        let anywhere = &self.inner.expectations_anywhere;
        let bound_here = self
            .validate_access_token(token, anywhere, now)
            .await
            .is_ok_and(|claims| presentation_fits(claims.cnf.as_ref(), Some(&checked.jkt)));
        if bound_here {
            self.remember_dpop_proof(&checked).await?;
        }
        Ok(checked.jkt)
    }

    /// Validates an access token, verifying its signature only the first time this instance
    /// sees it (see `verified_tokens`).
    async fn validate_access_token(
        &self,
        token: &str,
        expect: &Expectations,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<AccessClaims, crate::token::ValidationError> {
        let keys = self.fresh_keys().await;
        self.inner.verified.validate(token, &keys, expect, now)
    }

    async fn describe(
        &self,
        token: &str,
        proven_key: Option<&str>,
    ) -> Result<TokenInfo, ServerError> {
        let now = self.now();
        let anywhere = &self.inner.expectations_anywhere;
        let claims = self.validate_access_token(token, anywhere, now).await?;
        if !presentation_fits(claims.cnf.as_ref(), proven_key) {
            return Err(ServerError::Inactive(DenyReason::KeyBindingMismatch));
        }
        match self.standing(&claims).await? {
            Ok(()) => {}
            Err(DenyReason::Revoked) => return Err(ServerError::Revoked),
            Err(reason) => return Err(ServerError::Inactive(reason)),
        }
        Ok(TokenInfo {
            resource_owner_id: (claims.grant_kind == SubjectKind::User).then(|| claims.sub.clone()),
            application: TokenApplication {
                uid: claims.client_id.to_string(),
            },
            scopes: claims.scope.as_ref().map_or_else(Vec::new, |scope| {
                scope
                    .iter()
                    .map(|(tool, level)| Scopes::token(tool, level))
                    .collect()
            }),
            expires_in_seconds: claims.exp - now.timestamp(),
            created_at: claims.iat,
            grant_kind: claims.grant_kind,
            company_id: claims.company_id,
        })
    }

    /// RFC 7662 introspection by an authenticated confidential client (typically a resource
    /// server; a public client proves nothing about itself, so it may not look into tokens).
    /// Anything not currently active answers `{"active": false}` and nothing more.
    #[tracing::instrument(
        name = "introspect",
        target = "appgrant::token",
        level = "debug",
        skip_all,
        fields(client_id = %credentials.client_id())
    )]
    pub async fn introspect(
        &self,
        credentials: &ClientAuthentication,
        token: &str,
    ) -> Result<Introspection, TokenError> {
        let result = self.look_into(credentials, token).await;
        match &result {
            Ok(introspection) => tracing::debug!(
                target: telemetry::TOKEN,
                active = introspection.active,
                token_kind = ?introspection.token_kind,
                outcome = if introspection.active { "active" } else { "inactive" },
                "introspection answered"
            ),
            Err(error) => {
                if let TokenError::Store(store) = error {
                    telemetry::store_failed("introspect", store);
                }
                tracing::info!(
                    target: telemetry::TOKEN,
                    outcome = error.code().as_str(),
                    error = %error,
                    "introspection refused"
                );
            }
        }
        result
    }

    async fn look_into(
        &self,
        credentials: &ClientAuthentication,
        token: &str,
    ) -> Result<Introspection, TokenError> {
        let caller = self.authenticate(credentials).await?;
        if caller.client_type != ClientType::Confidential {
            return Err(TokenError::InvalidClient(
                "introspection needs a confidential client",
            ));
        }
        let now = self.now();
        let anywhere = &self.inner.expectations_anywhere;
        if let Ok(claims) = self.validate_access_token(token, anywhere, now).await {
            // Only the app a token was issued to may look into it; to anyone else it is just
            // not active, so introspection cannot be used to test stolen tokens (RFC 7662 §4).
            if claims.client_id != caller.client_id || self.standing(&claims).await?.is_err() {
                return Ok(Introspection::default());
            }
            return Ok(Introspection {
                active: true,
                token_type: Some(if claims.cnf.is_some() {
                    "DPoP"
                } else {
                    "Bearer"
                }),
                token_kind: Some(TokenKind::AccessToken),
                client_id: Some(claims.client_id.to_string()),
                sub: Some(claims.sub),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                iss: Some(claims.iss),
                aud: Some(claims.aud),
                jti: Some(claims.jti.to_string()),
                grant_kind: Some(claims.grant_kind),
                company_id: claims.company_id,
                scope: claims.scope.as_ref().map(ToString::to_string),
                cnf: claims.cnf,
            });
        }
        self.introspect_refresh_token(&caller, token, now).await
    }

    /// Introspects a refresh token: active if it is its family's current token, the family is
    /// live, and the access token it would give now would be in good standing.
    async fn introspect_refresh_token(
        &self,
        caller: &App,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Introspection, TokenError> {
        let Some(claims) = self.inner.refresh_key.open(token) else {
            return Ok(Introspection::default());
        };
        let Some(family) = self.inner.store.family(&claims.grant).await? else {
            return Ok(Introspection::default());
        };
        let live = family.client_id == caller.client_id
            && family.status == FamilyStatus::Active
            && family.identify(&claims, &SecretDigest::of(token)) == Presented::Current
            && !family.is_expired(&self.inner.config, now);
        let next_access = access_claims(
            family.access_grant(family.scope.clone(), family.resource.clone(), None),
            &self.inner.config,
            now,
            &mut rand::thread_rng(),
        );
        if !live || self.standing(&next_access).await?.is_err() {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            token_kind: Some(TokenKind::RefreshToken),
            client_id: Some(family.client_id.to_string()),
            sub: Some(family.user.to_string()),
            exp: family.expires_at.map(|expiry| expiry.timestamp()),
            iat: Some(family.rotated_at.timestamp()),
            iss: Some(self.inner.config.issuer.clone()),
            grant_kind: Some(SubjectKind::User),
            scope: family.scope.as_ref().map(ToString::to_string),
            ..Introspection::default()
        })
    }
}
