//! The token endpoint and revocation (RFC 6749 §3.2, RFC 7009).

use super::{AuthorizationServer, telemetry};
use crate::audit::{AuditAction, AuditActor, RefusalReason, RevocationReason};
use crate::config::DpopNonces;
use crate::grant::{
    AuthenticationContext, Binding, ClientAuthentication, CodeExchange, ExchangeInput, Issued,
    RefreshInput, Requested, TokenError, TokenRequest, TokenResponse, authenticate,
    check_presenter, client_credentials, exchange_code, rotate,
};
use crate::model::{App, ClientId, CompanyId, DpopBinding, GrantId, Installation, UserId};
use crate::store::{Directory, Store};
use crate::token::{
    CheckedProof, DpopError, DpopNonceKey, ProofTarget, Secret, check_proof, validate,
};
use std::task::Poll;
use std::time::Instant;
use tracing::Level;

/// How many times a refresh that lost a race is re-examined before giving up.
const ROTATION_ATTEMPTS: usize = 3;

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Handles a token request from a client presenting `credentials`: an authorization code
    /// exchange (see [`approve_authorization`](Self::approve_authorization)), a refresh, or
    /// the client-credentials grant.
    ///
    /// The service-account flow: an admin approves the app's manifest on some projects, and
    /// the app gets tokens for its service account.
    ///
    /// ```
    /// use appgrant::grant::{AppRegistration, ClientAuthentication, TokenRequest};
    /// use appgrant::model::*;
    /// use appgrant::{AuthorizationServer, Config, MemoryStore};
    /// use std::collections::BTreeSet;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com")).build()?;
    /// # server.save_company(Company::new("acme", "Acme").with_project("tower", "Riverside Tower")).await?;
    /// # server.save_user(User::person("jane", "Jane")).await?;
    /// # let admin = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    /// # server.set_membership(&CompanyId::new("acme"), &UserId::new("jane"), admin).await?;
    /// let registered = server
    ///     .register_app(AppRegistration {
    ///         application_type: appgrant::model::ApplicationType::Web,
    ///         name: "Nightly sync".into(),
    ///         client_type: ClientType::Confidential,
    ///         redirect_uris: vec![],
    ///         flows: AppFlows::ServiceAccount,
    ///         manifest: Some(Manifest::new(1).project_tool("rfis", Level::Standard)),
    ///         ceiling: None,
    ///         profile: AppProfile::default(),
    ///         owner: None,
    ///         security: Default::default(),
    ///     })
    ///     .await?;
    /// let app = registered.app.client_id.clone();
    /// let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
    /// server.request_installation(&acme, &app, &jane).await?;
    /// let tower = BTreeSet::from([ProjectId::new("tower")]);
    /// server.approve_installation(&acme, &app, &jane, tower).await?;
    ///
    /// let client = ClientAuthentication::Basic {
    ///     client_id: app,
    ///     secret: registered.client_secret.expect("a confidential app's secret, shown once"),
    /// };
    /// let grant = TokenRequest::ClientCredentials {
    ///     company_id: Some(acme),
    ///     scope: None,
    ///     resource: None,
    /// };
    /// let tokens = server.token(grant, &client).await?;
    /// let write = Requirement::new("acme", "rfis", Level::Standard).on_project("tower");
    /// assert!(server.decide(tokens.access_token.expose(), &write).await?.is_allowed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn token(
        &self,
        request: TokenRequest,
        credentials: &ClientAuthentication,
    ) -> Result<TokenResponse, TokenError> {
        self.token_with_dpop(request, credentials, None).await
    }

    /// [`token`](Self::token) for a request that may carry a DPoP proof (its `DPoP` header,
    /// RFC 9449 §5): with one that holds, the access token is bound to the proof's key
    /// (`token_type` `DPoP`, `cnf.jkt` in the token), and so is a public client's refresh
    /// family, whose every refresh must then prove the same key. An app whose tokens must be
    /// bound ([`crate::model::DpopBinding::Required`]) gets nothing without one.
    #[tracing::instrument(
        name = "token",
        target = "appgrant::token",
        level = "info",
        skip_all,
        fields(
            client_id = %credentials.client_id(),
            grant_type = telemetry::grant_type(&request),
        )
    )]
    pub async fn token_with_dpop(
        &self,
        request: TokenRequest,
        credentials: &ClientAuthentication,
        dpop_proof: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        let started = Instant::now();
        let grant_type = telemetry::grant_type(&request);
        // The company a client-credentials token is bound to, for the log only (so only
        // copied when some grant event could be recorded: WARN is the least verbose they use).
        let company = match &request {
            TokenRequest::ClientCredentials { company_id, .. } if tracing::enabled!(target: telemetry::TOKEN, Level::WARN) => {
                company_id.clone()
            }
            _ => None,
        };
        let result = self.grant(request, credentials, dpop_proof).await;
        let client_id = credentials.client_id();
        telemetry::grant(grant_type, client_id, company.as_ref(), &result, started);
        result
    }

    async fn grant(
        &self,
        request: TokenRequest,
        credentials: &ClientAuthentication,
        dpop_proof: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        // A client-credentials grant for a company needs the app's installation there: read
        // with the app where the store can (one statement), else while the client is
        // authenticated (on a database, one round trip instead of two).
        let (app, installation) = match &request {
            TokenRequest::ClientCredentials {
                company_id: Some(company),
                ..
            } => {
                let store = &self.inner.store;
                match store.app_with_installation(credentials.client_id(), company) {
                    Some(read) => {
                        let (app, installation) = read.await?;
                        (
                            self.authenticate_as(app, credentials).await?,
                            Some(installation),
                        )
                    }
                    None => {
                        let installation = store.installation(credentials.client_id(), company);
                        let (app, installation) =
                            self.authenticate_beside(credentials, installation).await?;
                        (app, Some(installation?))
                    }
                }
            }
            _ => (self.authenticate(credentials).await?, None),
        };
        let dpop_jkt = self.proven_dpop_key(&app, dpop_proof).await?;
        let issued = match request {
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
                resource,
            } => {
                let exchange = CodeExchange {
                    code,
                    redirect_uri,
                    code_verifier,
                    resource,
                    dpop_jkt,
                };
                self.exchange(&app, &exchange).await?
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
                resource,
            } => {
                let requested = Requested {
                    scope: scope.as_ref(),
                    resource: resource.as_deref(),
                    dpop_jkt: dpop_jkt.as_deref(),
                };
                self.refresh(&app, &refresh_token, requested).await?
            }
            TokenRequest::ClientCredentials {
                company_id,
                scope,
                resource,
            } => {
                let requested = Requested {
                    scope: scope.as_ref(),
                    resource: resource.as_deref(),
                    dpop_jkt: dpop_jkt.as_deref(),
                };
                self.service_account_token(
                    &app,
                    company_id.as_ref(),
                    installation.flatten(),
                    requested,
                )
                .await?
            }
        };
        Ok(issued.response)
    }

    /// The key a token request's DPoP proof proves (checked for this endpoint, and never
    /// accepted twice), or `None` without a proof where the app may go without.
    async fn proven_dpop_key(
        &self,
        app: &App,
        proof: Option<&str>,
    ) -> Result<Option<String>, TokenError> {
        let Some(proof) = proof else {
            return match app.security.dpop {
                DpopBinding::Required => Err(DpopError::Missing.into()),
                DpopBinding::Optional => Ok(None),
            };
        };
        let endpoint = self.inner.config.token_endpoint();
        let target = ProofTarget {
            method: "POST",
            url: &endpoint,
            access_token: None,
            now: self.now(),
            leeway_seconds: self.inner.config.leeway_seconds,
            nonces: self.dpop_nonce_key(),
        };
        let checked = check_proof(proof, &target)?;
        self.remember_dpop_proof(&checked).await?;
        Ok(Some(checked.jkt))
    }

    /// The nonce DPoP proofs must carry now (RFC 9449 §8), when the configuration requires
    /// nonces ([`crate::config::DpopNonces::Required`]): what a `DPoP-Nonce` header hands out.
    pub fn dpop_nonce(&self) -> Option<String> {
        self.dpop_nonce_key().map(|key| key.nonce(self.now()))
    }

    /// The nonce key, when nonces are required.
    pub(crate) fn dpop_nonce_key(&self) -> Option<&DpopNonceKey> {
        match self.inner.config.dpop_nonces {
            DpopNonces::Required => Some(&self.inner.dpop_nonce_key),
            DpopNonces::Off => None,
        }
    }

    /// Records a checked proof's `jti`; a proof seen before is a replay.
    pub(crate) async fn remember_dpop_proof(
        &self,
        checked: &CheckedProof,
    ) -> Result<(), TokenError> {
        let first = self
            .inner
            .store
            .first_use(&checked.replay_digest, checked.remember_until)
            .await?;
        if first {
            Ok(())
        } else {
            Err(DpopError::Replayed.into())
        }
    }

    /// [`authenticate`](Self::authenticate), with `beside` (a read the grant needs next)
    /// running alongside it. Authentication is polled first, so on a store that answers at once
    /// a client that fails it never starts the other read; where both wait on the database, a
    /// failing client's answer is given as soon as authentication fails and the other read is
    /// dropped unawaited, so it neither delays nor shapes the refusal.
    async fn authenticate_beside<T>(
        &self,
        credentials: &ClientAuthentication,
        beside: impl Future<Output = T>,
    ) -> Result<(App, T), TokenError> {
        let mut authenticating = std::pin::pin!(self.authenticate(credentials));
        let mut beside = std::pin::pin!(beside);
        let mut early = None;
        let app = std::future::poll_fn(|cx| {
            if let Poll::Ready(authenticated) = authenticating.as_mut().poll(cx) {
                return Poll::Ready(authenticated);
            }
            // Polled again only until it is ready: a finished future must not be polled.
            if early.is_none() {
                if let Poll::Ready(read) = beside.as_mut().poll(cx) {
                    early = Some(read);
                }
            }
            Poll::Pending
        })
        .await?;
        let read = match early {
            Some(read) => read,
            None => beside.await,
        };
        Ok((app, read))
    }

    pub(super) async fn authenticate(
        &self,
        credentials: &ClientAuthentication,
    ) -> Result<App, TokenError> {
        let app = self.inner.store.app(credentials.client_id()).await?;
        self.authenticate_as(app, credentials).await
    }

    /// Authenticates the client as `app`, the stored app of its client id (`None`: unknown).
    async fn authenticate_as(
        &self,
        app: Option<App>,
        credentials: &ClientAuthentication,
    ) -> Result<App, TokenError> {
        let config = &self.inner.config;
        // An assertion may name the issuer or any endpoint it is sent to (RFC 7523 §3).
        let endpoints = [
            config.token_endpoint(),
            config.pushed_authorization_endpoint(),
            config.endpoint("/oauth/revoke"),
            config.endpoint("/oauth/introspect"),
        ];
        let audiences = [
            config.issuer.as_str(),
            &endpoints[0],
            &endpoints[1],
            &endpoints[2],
            &endpoints[3],
        ];
        let context = AuthenticationContext {
            audiences: &audiences,
            leeway_seconds: config.leeway_seconds,
            now: self.now(),
        };
        let authenticated = authenticate(app.as_ref(), credentials, &context)?;
        if let Some(assertion) = authenticated.assertion {
            let first = self
                .inner
                .store
                .first_use(&assertion.replay_digest, assertion.remember_until)
                .await?;
            if !first {
                return Err(TokenError::InvalidClient("client assertion already used"));
            }
        }
        // authenticate refuses an unknown client, so the app is there.
        app.ok_or(TokenError::InvalidClient("unknown client"))
    }

    async fn exchange(&self, app: &App, exchange: &CodeExchange) -> Result<Issued, TokenError> {
        let store = &self.inner.store;
        let digest = exchange.code.digest();
        // The client binding never changes, so checking it before redeeming is race-free, and
        // a code presented by another client stays unspent.
        let Some(peeked) = store.code(&digest).await? else {
            return Err(TokenError::InvalidGrant("unknown authorization code"));
        };
        if let Err(refused) = check_presenter(app, &peeked) {
            return Err(self.refused(app, refused));
        }
        let user = self.inner.directory.user(&peeked.user).await?;
        let redemption = store.redeem_code(&digest).await?;
        let now = self.now();
        let input = ExchangeInput {
            app,
            redemption: &redemption,
            request: exchange,
            user: user.as_ref(),
        };
        let result = {
            let keys = self.fresh_keys().await;
            exchange_code(
                input,
                &self.inner.config,
                &keys,
                &self.inner.refresh_key,
                now,
                &mut rand::thread_rng(),
            )
        };
        let issued = match result {
            Err(TokenError::CodeReused { grant, owner }) => {
                self.revoke_grant(&app.client_id, &owner, &grant, RevocationReason::CodeReused)
                    .await?;
                return Err(TokenError::CodeReused { grant, owner });
            }
            Err(refused) => return Err(self.refused(app, refused)),
            Ok(issued) => issued,
        };
        if let Some(family) = &issued.family {
            store.save_family(family.clone()).await?;
        }
        // Read after the grant is saved; see `disconnect_app`, which forgets the consent before
        // it lists the grants to revoke.
        if store.consent(&peeked.user, &app.client_id).await?.is_none() {
            self.revoke_disconnected(app, &peeked.user, &issued.claims.grant_id)
                .await?;
            return Err(TokenError::InvalidGrant(
                "the user disconnected the app after authorizing it",
            ));
        }
        self.audit_issue(app, &issued, None, false);
        Ok(issued)
    }

    /// Revokes the grant of a code its user disconnected the app from before it was exchanged.
    async fn revoke_disconnected(
        &self,
        app: &App,
        user: &UserId,
        grant: &GrantId,
    ) -> Result<(), TokenError> {
        self.inner.store.revoke_grant(grant, self.now()).await?;
        self.audit(
            AuditActor::User(user.clone()),
            AuditAction::GrantRevoked {
                grant: grant.clone(),
                reason: RevocationReason::UserDisconnected,
            },
            &app.client_id,
            None,
        );
        Ok(())
    }

    /// Audits a refusal an operator should see (a deactivated user, a code presented by
    /// another client), and passes the error on.
    fn refused(&self, app: &App, error: TokenError) -> TokenError {
        let (grant, reason, owner) = match &error {
            TokenError::UserInactive { grant } => {
                (grant, RefusalReason::UserDeactivated, &app.client_id)
            }
            TokenError::CodeOfAnotherClient { grant, owner } => {
                (grant, RefusalReason::CodeOfAnotherClient, owner)
            }
            _ => return error,
        };
        self.audit(
            AuditActor::App(app.client_id.clone()),
            AuditAction::TokensRefused {
                grant: grant.clone(),
                reason,
            },
            owner,
            None,
        );
        error
    }

    async fn refresh(
        &self,
        app: &App,
        token: &Secret,
        requested: Requested<'_>,
    ) -> Result<Issued, TokenError> {
        let store = &self.inner.store;
        let digest = token.digest();
        let claims = self
            .inner
            .refresh_key
            .open(token.expose())
            .ok_or(TokenError::InvalidGrant("unknown refresh token"))?;
        for _ in 0..ROTATION_ATTEMPTS {
            let family = store
                .family(&claims.grant)
                .await?
                .ok_or(TokenError::InvalidGrant("unknown refresh token"))?;
            let user = self.inner.directory.user(&family.user).await?;
            let input = RefreshInput {
                app,
                family: &family,
                presented: family.identify(&claims, &digest),
                user: user.as_ref(),
                scope: requested.scope,
                resource: requested.resource,
                dpop_jkt: requested.dpop_jkt,
            };
            let result = {
                let keys = self.fresh_keys().await;
                rotate(
                    input,
                    &self.inner.config,
                    &keys,
                    &self.inner.refresh_key,
                    self.now(),
                    &mut rand::thread_rng(),
                )
            };
            let rotation = match result {
                Err(TokenError::RefreshReused { grant }) => {
                    self.revoke_grant(
                        &app.client_id,
                        &app.client_id,
                        &grant,
                        RevocationReason::RefreshTokenReused,
                    )
                    .await?;
                    return Err(TokenError::RefreshReused { grant });
                }
                Err(refused) => return Err(self.refused(app, refused)),
                Ok(rotation) => rotation,
            };
            if store
                .commit_rotation(&rotation.expected_current, rotation.family)
                .await?
            {
                self.audit_issue(app, &rotation.issued, None, true);
                return Ok(rotation.issued);
            }
            // Another request rotated (or revoked) the family first: look again, and the
            // token will now be recognised as reused or revoked.
        }
        Err(TokenError::InvalidGrant(
            "refresh token is being used concurrently",
        ))
    }

    /// A service account's token; `installation` is the app's in `company`, read beside the
    /// client's authentication.
    async fn service_account_token(
        &self,
        app: &App,
        company: Option<&CompanyId>,
        installation: Option<Installation>,
        requested: Requested<'_>,
    ) -> Result<Issued, TokenError> {
        let binding = match company {
            Some(company) => Binding::Company {
                company,
                installation: installation.as_ref(),
            },
            None => Binding::Unbound,
        };
        let issued = {
            let keys = self.fresh_keys().await;
            client_credentials(
                app,
                binding,
                requested,
                &self.inner.config,
                &keys,
                self.now(),
                &mut rand::thread_rng(),
            )?
        };
        self.audit_issue(app, &issued, company, false);
        Ok(issued)
    }

    fn audit_issue(
        &self,
        app: &App,
        issued: &Issued,
        company: Option<&CompanyId>,
        refreshed: bool,
    ) {
        let grant = issued.claims.grant_id.clone();
        let action = if refreshed {
            AuditAction::TokensRefreshed { grant }
        } else {
            AuditAction::TokensIssued { grant }
        };
        self.audit(
            AuditActor::App(app.client_id.clone()),
            action,
            &app.client_id,
            company,
        );
    }

    /// Revokes `grant` of app `owner`, at the request (or because of the reuse) of `actor`.
    async fn revoke_grant(
        &self,
        actor: &ClientId,
        owner: &ClientId,
        grant: &GrantId,
        reason: RevocationReason,
    ) -> Result<(), TokenError> {
        self.inner.store.revoke_grant(grant, self.now()).await?;
        self.audit(
            AuditActor::App(actor.clone()),
            AuditAction::GrantRevoked {
                grant: grant.clone(),
                reason,
            },
            owner,
            None,
        );
        Ok(())
    }

    /// Revokes `token` (an access or refresh token) and every token of its grant (RFC 7009).
    ///
    /// Unknown tokens, and tokens of other clients, are left alone without an error, so the
    /// answer tells a caller nothing about tokens that are not theirs.
    #[tracing::instrument(
        name = "revoke",
        target = "appgrant::token",
        level = "info",
        skip_all,
        fields(client_id = %credentials.client_id())
    )]
    pub async fn revoke(
        &self,
        credentials: &ClientAuthentication,
        token: &str,
    ) -> Result<(), TokenError> {
        let started = Instant::now();
        let result = self.revoke_token(credentials, token).await;
        let latency_ms = telemetry::millis_since(started);
        match &result {
            Ok(outcome) => {
                tracing::info!(target: telemetry::TOKEN, outcome, latency_ms, "revocation answered");
            }
            Err(error) => {
                if let TokenError::Store(store) = error {
                    telemetry::store_failed("revoke", store);
                }
                let outcome = error.code().as_str();
                tracing::info!(
                    target: telemetry::TOKEN,
                    outcome,
                    error = %error,
                    latency_ms,
                    "revocation refused"
                );
            }
        }
        result.map(|_| ())
    }

    /// Revokes `token` for an authenticated client; says what happened, for the log:
    /// `revoked`, or `ignored` for a token that is unknown or not the client's.
    async fn revoke_token(
        &self,
        credentials: &ClientAuthentication,
        token: &str,
    ) -> Result<&'static str, TokenError> {
        let app = self.authenticate(credentials).await?;
        let Some((owner, grant)) = self.grant_of(token).await? else {
            return Ok("ignored");
        };
        if owner != app.client_id {
            return Ok("ignored");
        }
        self.revoke_grant(
            &app.client_id,
            &app.client_id,
            &grant,
            RevocationReason::Requested,
        )
        .await?;
        Ok("revoked")
    }

    /// The client and grant of an access token (signature checked, expiry not) or refresh token.
    async fn grant_of(&self, token: &str) -> Result<Option<(ClientId, GrantId)>, TokenError> {
        let mut expectations = self.inner.config.expectations_anywhere();
        // Revoking an expired token is harmless, and refusing it would tell the caller more.
        expectations.leeway_seconds = i64::MAX / 2;
        if let Ok(claims) = validate(token, &self.fresh_keys().await, &expectations, self.now()) {
            return Ok(Some((claims.client_id, claims.grant_id)));
        }
        let Some(claims) = self.inner.refresh_key.open(token) else {
            return Ok(None);
        };
        let family = self.inner.store.family(&claims.grant).await?;
        Ok(family.map(|family| (family.client_id, family.grant)))
    }
}
