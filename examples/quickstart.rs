//! The seed story, told end to end.
//!
//! Acme Construction has Jane (an admin) and John (read-only on the Tower project). One app,
//! FieldSync, uses both ways in: it acts as whichever person signed in, and it has a service
//! account of its own for a nightly sync job.
//!
//! Run with `cargo run --example quickstart`.

use appgrant::grant::{
    AppRegistration, AuthorizationRequest, AuthorizationResponse, ClientAuthentication,
    TokenRequest, TokenResponse, pkce,
};
use appgrant::model::{
    AppFlows, ClientType, Company, CompanyId, ConsentInstall, Level, Manifest, Permissions,
    ProjectId, Requirement, Scope, User, UserId,
};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config, Decision, MemoryStore};
use std::collections::BTreeSet;
use std::error::Error;

const REDIRECT: &str = "https://fieldsync.example.com/callback";

type Server = AuthorizationServer<MemoryStore>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let server = AuthorizationServer::builder(
        MemoryStore::new(),
        Config::new("https://auth.acme-platform.example"),
    )
    .build()?;
    let acme = CompanyId::new("acme");
    let (jane, john) = (UserId::new("jane"), UserId::new("john"));
    let tower = ProjectId::new("tower");

    chapter("Acme Construction and its people");
    let mut company = Company::new("acme", "Acme Construction")
        .with_project("tower", "Tower")
        .with_project("depot", "Depot");
    // People may let an app act as themselves; the app's own service account needs an admin.
    company.settings.consent_install = ConsentInstall::ForUserAccess;
    server.save_company(company).await?;
    server
        .save_user(User::person("jane", "Jane (admin)"))
        .await?;
    server
        .save_user(User::person("john", "John (read-only)"))
        .await?;
    let jane_holds = Permissions::none()
        .with(Scope::Company, "directory", Level::Admin)
        .with(Scope::Project(tower.clone()), "rfis", Level::Admin)
        .with(Scope::Project("depot".into()), "rfis", Level::Admin);
    let john_holds =
        Permissions::none().with(Scope::Project(tower.clone()), "rfis", Level::ReadOnly);
    server.set_membership(&acme, &jane, jane_holds).await?;
    server.set_membership(&acme, &john, john_holds).await?;
    say("Jane: directory admin, RFIs admin on Tower and Depot");
    say("John: RFIs read-only on Tower");

    chapter("A developer registers FieldSync");
    let registered = server
        .register_app(AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            name: "FieldSync".into(),
            client_type: ClientType::Confidential,
            redirect_uris: vec![REDIRECT.into()],
            flows: AppFlows::Both,
            manifest: Some(Manifest::new(1).project_tool("rfis", Level::Standard)),
            ceiling: None,
            profile: Default::default(),
            owner: None,
            security: Default::default(),
        })
        .await?;
    let client_id = registered.app.client_id.clone();
    let client = ClientAuthentication::Basic {
        client_id: client_id.clone(),
        secret: registered
            .client_secret
            .ok_or("a confidential app has a secret")?,
    };
    say(&format!(
        "client id {client_id}; the secret was shown once and only its digest is kept"
    ));

    chapter("Jane and John each sign in and authorize FieldSync");
    let jane_tokens = sign_in_and_authorize(&server, &client, &jane, &acme).await?;
    let john_tokens = sign_in_and_authorize(&server, &client, &john, &acme).await?;
    let read_tower = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    let write_tower = Requirement::new("acme", "rfis", Level::Standard).on_project("tower");
    let read_depot = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("depot");
    for (who, tokens) in [("Jane", &jane_tokens), ("John", &john_tokens)] {
        report(
            &server,
            &format!("as {who}: read Tower RFIs"),
            tokens,
            &read_tower,
        )
        .await?;
        report(
            &server,
            &format!("as {who}: write Tower RFIs"),
            tokens,
            &write_tower,
        )
        .await?;
        report(
            &server,
            &format!("as {who}: read Depot RFIs"),
            tokens,
            &read_depot,
        )
        .await?;
    }

    chapter("John is promoted to Standard on Tower");
    server
        .set_permission(
            &acme,
            &john,
            Scope::Project(tower.clone()),
            "rfis",
            Level::Standard,
        )
        .await?;
    report(
        &server,
        "as John: write Tower RFIs",
        &john_tokens,
        &write_tower,
    )
    .await?;
    say("(same token: decisions read John's current permissions)");

    chapter("Jane reviews FieldSync's service account and approves it on Tower only");
    let app = server.app(&client_id).await?;
    if let Some(manifest) = app.manifest() {
        for (tool, level) in &manifest.project {
            say(&format!(
                "FieldSync asks for: {tool} at {level} on each permitted project"
            ));
        }
    }
    server
        .request_installation(&acme, &client_id, &jane)
        .await?;
    server
        .approve_installation(&acme, &client_id, &jane, BTreeSet::from([tower.clone()]))
        .await?;
    for (member, _) in server.members(&acme).await? {
        say(&format!("directory: {}", member.name));
    }

    chapter("The nightly sync job reads through the service account");
    let sync = server
        .token(
            TokenRequest::ClientCredentials {
                company_id: None,
                scope: None,
                resource: None,
            },
            &client,
        )
        .await?;
    report(&server, "sync job: write Tower RFIs", &sync, &write_tower).await?;
    report(&server, "sync job: read Depot RFIs", &sync, &read_depot).await?;

    chapter("Jane uninstalls FieldSync");
    server.uninstall(&acme, &client_id, &jane).await?;
    report(
        &server,
        "as Jane: read Tower RFIs",
        &jane_tokens,
        &read_tower,
    )
    .await?;
    report(
        &server,
        "as John: read Tower RFIs",
        &john_tokens,
        &read_tower,
    )
    .await?;
    report(&server, "sync job: read Tower RFIs", &sync, &read_tower).await?;
    Ok(())
}

/// What a host does around the library: its own sign-in, then the consent page's "Allow".
async fn sign_in_and_authorize(
    server: &Server,
    client: &ClientAuthentication,
    user: &UserId,
    company: &CompanyId,
) -> Result<TokenResponse, Box<dyn Error>> {
    let verifier = Secret::generate(&mut rand::thread_rng());
    let request = AuthorizationRequest {
        client_id: Some(client.client_id().to_string()),
        redirect_uri: Some(REDIRECT.into()),
        response_type: Some("code".into()),
        state: Some("af0ifjsldkj".into()),
        code_challenge: Some(pkce::challenge_of(verifier.expose())),
        code_challenge_method: Some("S256".into()),
        scope: None,
        resource: None,
    };
    let prompt = server.consent_prompt(&request).await?;
    say(&format!(
        "{user} sees the consent page for {}",
        prompt.app.name
    ));
    let AuthorizationResponse::Redirect(location) = server
        .approve_authorization(&request, user, Some(company))
        .await?
    else {
        return Err("expected a redirect".into());
    };
    let code = url::Url::parse(location.expose())?
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| Secret::new(code.into_owned()))
        .ok_or("no code in the redirect")?;
    let exchange = TokenRequest::AuthorizationCode {
        code,
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some(verifier),
        resource: None,
    };
    Ok(server.token(exchange, client).await?)
}

async fn report(
    server: &Server,
    label: &str,
    tokens: &TokenResponse,
    requirement: &Requirement,
) -> Result<(), Box<dyn Error>> {
    let decision = server
        .decide(tokens.access_token.expose(), requirement)
        .await?
        .decision;
    match decision {
        Decision::Allow { level } => say(&format!("{label:<28} allowed (level {level})")),
        Decision::Deny(reason) => say(&format!("{label:<28} denied: {reason}")),
    }
    Ok(())
}

fn chapter(title: &str) {
    println!("\n== {title}");
}

fn say(line: &str) {
    println!("   {line}");
}
