//! The seed world every integration test starts from: Acme with Jane (admin) and John
//! (read-only on one project), and one confidential app that uses both flows.
#![allow(dead_code)]

use appgrant::audit::MemoryAuditSink;
use appgrant::grant::{
    AppRegistration, AuthorizationRequest, AuthorizationResponse, ClientAuthentication,
    TokenRequest, TokenResponse, pkce,
};
use appgrant::model::*;
use appgrant::server::{ManualClock, RegisteredApp};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config, MemoryStore};
use chrono::{TimeZone, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;

pub const ISSUER: &str = "https://auth.example.com";
pub const REDIRECT: &str = "https://app.example.com/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9NSaT3r8cqOJn2mFzRCLFbwGk0123456789";

pub struct World {
    pub server: AuthorizationServer<MemoryStore>,
    pub clock: Arc<ManualClock>,
    pub audit: Arc<MemoryAuditSink>,
    pub acme: CompanyId,
    pub jane: UserId,
    pub john: UserId,
    pub tower: ProjectId,
    pub depot: ProjectId,
    pub app: App,
    pub secret: Secret,
}

pub fn both_flows_app() -> AppRegistration {
    AppRegistration {
        application_type: appgrant::model::ApplicationType::Web,
        name: "FieldSync".into(),
        client_type: ClientType::Confidential,
        redirect_uris: vec![REDIRECT.into(), OUT_OF_BAND.into()],
        flows: AppFlows::Both,
        manifest: Some(
            Manifest::new(1)
                .company_tool("directory", Level::ReadOnly)
                .project_tool("rfis", Level::Standard),
        ),
        ceiling: None,
        profile: Default::default(),
        owner: None,
        security: Default::default(),
    }
}

pub async fn world() -> World {
    world_with(Config::new(ISSUER)).await
}

pub async fn world_with(config: Config) -> World {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
    ));
    let audit = Arc::new(MemoryAuditSink::new());
    let server = AuthorizationServer::builder(MemoryStore::new(), config)
        .clock(clock.clone())
        .audit(audit.clone())
        .build()
        .unwrap();
    let (acme, jane, john) = (
        CompanyId::new("acme"),
        UserId::new("jane"),
        UserId::new("john"),
    );
    let (tower, depot) = (ProjectId::new("tower"), ProjectId::new("depot"));
    let mut company = Company::new("acme", "Acme Construction")
        .with_project("tower", "Tower")
        .with_project("depot", "Depot");
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    server.save_company(company).await.unwrap();
    server
        .save_user(User::person("jane", "Jane"))
        .await
        .unwrap();
    server
        .save_user(User::person("john", "John"))
        .await
        .unwrap();
    let jane_holds = Permissions::none()
        .with(Scope::Company, "directory", Level::Admin)
        .with(Scope::Project(tower.clone()), "rfis", Level::Admin)
        .with(Scope::Project(depot.clone()), "rfis", Level::Admin);
    let john_holds =
        Permissions::none().with(Scope::Project(tower.clone()), "rfis", Level::ReadOnly);
    server
        .set_membership(&acme, &jane, jane_holds)
        .await
        .unwrap();
    server
        .set_membership(&acme, &john, john_holds)
        .await
        .unwrap();
    let RegisteredApp { app, client_secret } = server.register_app(both_flows_app()).await.unwrap();
    World {
        server,
        clock,
        audit,
        acme,
        jane,
        john,
        tower,
        depot,
        app,
        secret: client_secret.unwrap(),
    }
}

pub fn challenge() -> String {
    pkce::challenge_of(VERIFIER)
}

impl World {
    pub fn client(&self) -> ClientAuthentication {
        ClientAuthentication::Basic {
            client_id: self.app.client_id.clone(),
            secret: self.secret.clone(),
        }
    }

    pub fn authorization_request(&self) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: Some(self.app.client_id.to_string()),
            redirect_uri: Some(REDIRECT.into()),
            response_type: Some("code".into()),
            state: Some("xyz".into()),
            scope: None,
            code_challenge: Some(challenge()),
            code_challenge_method: Some("S256".into()),
            resource: None,
        }
    }

    /// Runs the authorization-code flow for `user` in Acme and returns the code.
    pub async fn code_for(&self, user: &UserId) -> Secret {
        let response = self
            .server
            .approve_authorization(&self.authorization_request(), user, Some(&self.acme))
            .await
            .unwrap();
        let AuthorizationResponse::Redirect(location) = response else {
            panic!("expected a redirect");
        };
        let url = url::Url::parse(location.expose()).unwrap();
        let code = url
            .query_pairs()
            .find(|(name, _)| name == "code")
            .map(|(_, value)| value.into_owned())
            .unwrap();
        Secret::new(code)
    }

    pub fn exchange_request(&self, code: Secret) -> TokenRequest {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri: Some(REDIRECT.into()),
            code_verifier: Some(VERIFIER.into()),
            resource: None,
        }
    }

    /// The whole authorization-code flow for `user`: tokens acting as that user.
    pub async fn tokens_for(&self, user: &UserId) -> TokenResponse {
        let code = self.code_for(user).await;
        self.server
            .token(self.exchange_request(code), &self.client())
            .await
            .unwrap()
    }

    /// Jane requests and approves the install with the service account on `projects`.
    pub async fn install_service_account(&self, projects: &[&ProjectId]) -> Installation {
        let projects: BTreeSet<ProjectId> = projects.iter().map(|p| (*p).clone()).collect();
        self.server
            .request_installation(&self.acme, &self.app.client_id, &self.jane)
            .await
            .unwrap();
        self.server
            .approve_installation(&self.acme, &self.app.client_id, &self.jane, projects)
            .await
            .unwrap()
    }

    /// A client-credentials token, bound to `company` if given.
    pub async fn service_token(&self, company: Option<&CompanyId>) -> TokenResponse {
        self.server
            .token(
                TokenRequest::ClientCredentials {
                    company_id: company.cloned(),
                    scope: None,
                    resource: None,
                },
                &self.client(),
            )
            .await
            .unwrap()
    }

    pub async fn allowed(&self, token: &TokenResponse, requirement: &Requirement) -> bool {
        self.server
            .decide(token.access_token.expose(), requirement)
            .await
            .unwrap()
            .is_allowed()
    }
}
