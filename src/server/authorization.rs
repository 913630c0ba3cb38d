//! The authorization endpoint: validate, ask for consent, issue a code for the signed-in user.
//!
//! The host authenticates the person; these calls take the signed-in user as given.

use super::{AuthorizationServer, telemetry};
use crate::audit::{AuditAction, AuditActor};
use crate::grant::{
    AuthorizationRequest, AuthorizationResponse, AuthorizeError, ErrorCode, ErrorRedirect,
    ValidAuthorization, validate_request,
};
use crate::model::{App, ClientId, CompanyId, Installation, UserId};
use crate::store::{Directory, Store, StoreError};
use std::time::Instant;

/// What to show the user on the consent page.
#[derive(Clone, Debug)]
pub struct ConsentPrompt {
    /// The validated request.
    pub request: ValidAuthorization,
    /// The app asking.
    pub app: App,
}

impl<S: Store, D: Directory> AuthorizationServer<S, D> {
    /// Validates an authorization request and returns what the consent page shows.
    ///
    /// This is the user's side of a request that already arrived: it does not enforce an
    /// app's [`PushedAuthorization::Required`](crate::model::PushedAuthorization) (the consent
    /// form posts the request's fields, not its `request_uri`). A host serving its own
    /// authorization endpoint takes the client's request with
    /// [`receive_authorization`](Self::receive_authorization), which
    /// does.
    #[tracing::instrument(
        name = "consent_prompt",
        target = "appgrant::authorize",
        level = "debug",
        skip_all,
        fields(client_id = request.client_id.as_deref())
    )]
    pub async fn consent_prompt(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<ConsentPrompt, AuthorizeError> {
        let result = self.validate_authorization(request).await;
        if let Err(error) = &result {
            telemetry::authorization_refused(request, None, error);
        }
        result
    }

    async fn validate_authorization(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<ConsentPrompt, AuthorizeError> {
        let app = self.load_app_for(request).await?;
        let valid = validate_request(request, app.as_ref(), &self.inner.config)?;
        // validate_request refuses an unknown client, so the app is there.
        let app = app.ok_or(AuthorizeError::Page(crate::grant::ErrorPage::UnknownClient))?;
        Ok(ConsentPrompt {
            request: valid,
            app,
        })
    }

    /// Whether `user`'s earlier consent to `app` stands in for the consent page: they gave
    /// one, and the app is one for which a remembered consent counts
    /// ([`remembered_consent_applies`](crate::grant::remembered_consent_applies)).
    pub async fn consent_remembered(&self, user: &UserId, app: &App) -> Result<bool, StoreError> {
        if !crate::grant::remembered_consent_applies(app) {
            return Ok(false);
        }
        self.has_consent(user, &app.client_id).await
    }

    /// Whether `user` has authorized `app` before (whatever kind of client it is).
    pub async fn has_consent(&self, user: &UserId, app: &ClientId) -> Result<bool, StoreError> {
        let consent = self.inner.store.consent(user, app).await;
        Ok(telemetry::observe_store("has_consent", consent)?.is_some())
    }

    /// The signed-in `user` authorizes the request: their consent is recorded, a code issued.
    ///
    /// `company` is the company the user is working in; if the app is not installed there and
    /// the company lets a user's consent install apps, it is installed for user-level access.
    ///
    /// The authorization-code flow, as a host runs it around its own sign-in:
    ///
    /// ```
    /// use appgrant::grant::{AppRegistration, AuthorizationRequest, AuthorizationResponse};
    /// use appgrant::grant::{ClientAuthentication, TokenRequest, pkce};
    /// use appgrant::model::*;
    /// use appgrant::token::Secret;
    /// use appgrant::{AuthorizationServer, Config, MemoryStore};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com")).build()?;
    /// # let mut company = Company::new("acme", "Acme").with_project("tower", "Riverside Tower");
    /// # company.settings.consent_install = ConsentInstall::ForUserAccess;
    /// # server.save_company(company).await?;
    /// # server.save_user(User::person("john", "John")).await?;
    /// # let john_holds = Permissions::none().with(Scope::Project("tower".into()), "rfis", Level::ReadOnly);
    /// # server.set_membership(&CompanyId::new("acme"), &UserId::new("john"), john_holds).await?;
    /// # let registered = server.register_app(AppRegistration {
    /// #     application_type: appgrant::model::ApplicationType::Web,
    /// #     name: "FieldSync".into(), client_type: ClientType::Confidential,
    /// #     redirect_uris: vec!["https://fieldsync.example.com/callback".into()],
    /// #     flows: AppFlows::UserDelegated, manifest: None, ceiling: None,
    /// #     profile: AppProfile::default(), owner: None, security: Default::default(),
    /// # }).await?;
    /// # let client = ClientAuthentication::Basic {
    /// #     client_id: registered.app.client_id.clone(),
    /// #     secret: registered.client_secret.unwrap(),
    /// # };
    /// // The app sends the browser here (GET /oauth/authorize parses this for you).
    /// let verifier = Secret::generate(&mut rand::thread_rng());
    /// let request = AuthorizationRequest {
    ///     client_id: Some(client.client_id().to_string()),
    ///     redirect_uri: Some("https://fieldsync.example.com/callback".into()),
    ///     response_type: Some("code".into()),
    ///     state: Some("af0ifjsldkj".into()),
    ///     code_challenge: Some(pkce::challenge_of(verifier.expose())),
    ///     code_challenge_method: Some("S256".into()),
    ///     scope: None,
    ///     resource: None,
    /// };
    /// // 1. Validate it, and show the consent page.
    /// let prompt = server.consent_prompt(&request).await?;
    /// assert_eq!(prompt.app.name, "FieldSync");
    /// // 2. John, signed in to the host in Acme, clicks Allow: a code goes to the redirect URI.
    /// let (john, acme) = (UserId::new("john"), CompanyId::new("acme"));
    /// let AuthorizationResponse::Redirect(location) =
    ///     server.approve_authorization(&request, &john, Some(&acme)).await?
    /// else { unreachable!("a web redirect URI") };
    /// let code = url::Url::parse(location.expose())?
    ///     .query_pairs()
    ///     .find_map(|(name, value)| (name == "code").then(|| Secret::new(value.into_owned())))
    ///     .expect("a code");
    /// // 3. The app exchanges it, proving it holds the PKCE verifier.
    /// let exchange = TokenRequest::AuthorizationCode {
    ///     code,
    ///     redirect_uri: request.redirect_uri.clone(),
    ///     code_verifier: Some(verifier),
    ///     resource: None,
    /// };
    /// let tokens = server.token(exchange, &client).await?;
    /// // 4. The app now reads what John may read, no more.
    /// let read = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    /// let write = Requirement::new("acme", "rfis", Level::Standard).on_project("tower");
    /// assert!(server.decide(tokens.access_token.expose(), &read).await?.is_allowed());
    /// assert!(!server.decide(tokens.access_token.expose(), &write).await?.is_allowed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[tracing::instrument(
        name = "authorize",
        target = "appgrant::authorize",
        level = "info",
        skip_all,
        fields(
            client_id = request.client_id.as_deref(),
            user = %user,
            company = company.map(CompanyId::as_str),
        )
    )]
    pub async fn approve_authorization(
        &self,
        request: &AuthorizationRequest,
        user: &UserId,
        company: Option<&CompanyId>,
    ) -> Result<AuthorizationResponse, AuthorizeError> {
        let started = Instant::now();
        let prompt = self.consent_prompt(request).await?;
        let result = self.issue_code(&prompt, user, company).await;
        match &result {
            Ok(_) => tracing::info!(
                target: telemetry::AUTHORIZE,
                client_id = %prompt.app.client_id,
                user = %user,
                company = company.map(CompanyId::as_str),
                outcome = "code_issued",
                latency_ms = telemetry::millis_since(started),
                "authorization code issued"
            ),
            Err(error) => telemetry::authorization_refused(request, Some(user), error),
        }
        result
    }

    async fn issue_code(
        &self,
        prompt: &ConsentPrompt,
        user: &UserId,
        company: Option<&CompanyId>,
    ) -> Result<AuthorizationResponse, AuthorizeError> {
        let store = &self.inner.store;
        // A store failure is the server's trouble, not the client's: an honest 503 page the
        // user can retry, rather than an error sent to the client.
        let server_error = |error: StoreError| {
            telemetry::store_failed("authorize", &error);
            AuthorizeError::Unavailable
        };
        let signed_in = self
            .inner
            .directory
            .user(user)
            .await
            .map_err(server_error)?;
        if !signed_in.is_some_and(|record| record.is_active_person()) {
            return Err(AuthorizeError::Redirect(prompt.request.error(
                ErrorCode::AccessDenied,
                "the signed-in user is unknown, deactivated or not a person",
                &self.inner.config,
            )));
        }
        let now = self.now();
        store
            .save_consent(user, &prompt.app.client_id, now)
            .await
            .map_err(server_error)?;
        if let Some(company) = company {
            self.install_by_consent(&prompt.app, company, user)
                .await
                .map_err(server_error)?;
        }
        let (response, record) =
            prompt
                .request
                .issue_code(user, &self.inner.config, now, &mut rand::thread_rng());
        store.save_code(record).await.map_err(server_error)?;
        self.audit(
            AuditActor::User(user.clone()),
            AuditAction::AuthorizationGranted,
            &prompt.app.client_id,
            company,
        );
        Ok(response)
    }

    /// The user declined: the error to redirect to the client.
    #[tracing::instrument(
        name = "deny_authorization",
        target = "appgrant::authorize",
        level = "info",
        skip_all,
        fields(client_id = request.client_id.as_deref())
    )]
    pub async fn deny_authorization(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<ErrorRedirect, AuthorizeError> {
        let prompt = self.consent_prompt(request).await?;
        tracing::info!(
            target: telemetry::AUTHORIZE,
            client_id = %prompt.app.client_id,
            outcome = "access_denied",
            "the user declined the authorization"
        );
        Ok(prompt.request.denied(&self.inner.config))
    }

    async fn load_app_for(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<Option<App>, AuthorizeError> {
        let Some(client_id) = &request.client_id else {
            return Ok(None);
        };
        self.inner
            .store
            .app(&ClientId::new(client_id.as_str()))
            .await
            // The store failed, which says nothing about the client: an honest 503.
            .map_err(|error| {
                telemetry::store_failed("consent_prompt", &error);
                AuthorizeError::Unavailable
            })
    }

    async fn install_by_consent(
        &self,
        app: &App,
        company: &CompanyId,
        user: &UserId,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        // Only a company with no installation at all: a user's consent must never undo an
        // admin's denial or uninstall, nor skip a pending request.
        if store.installation(&app.client_id, company).await?.is_some() {
            return Ok(());
        }
        let Some(record) = self.inner.directory.company(company).await? else {
            return Ok(());
        };
        if self
            .inner
            .directory
            .membership(company, user)
            .await?
            .is_none()
        {
            return Ok(());
        }
        // A company that does not allow it simply gets no installation: the user's token works
        // there once an admin installs the app.
        // Inserted only if still absent: an admin's request made meanwhile stands.
        let Ok(installation) = Installation::by_user_consent(app, &record, user, self.now()) else {
            return Ok(());
        };
        if store.insert_installation(installation).await? {
            let started = Instant::now();
            let made = Ok(None);
            let change = "install_by_consent";
            telemetry::installation_change(
                change,
                Some(company),
                &app.client_id,
                Some(user),
                &made,
                started,
            );
            self.audit(
                AuditActor::User(user.clone()),
                AuditAction::InstalledByConsent,
                &app.client_id,
                Some(company),
            );
        }
        Ok(())
    }
}
