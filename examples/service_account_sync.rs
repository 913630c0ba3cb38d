//! A developer's sync job that works as the app itself, in every company that installed it.
//!
//! Two companies install the app's service account, each on the projects its admin permits.
//! One unbound client-credentials token serves both, the company named at each access; a token
//! bound to one company works only there. Then the app publishes a manifest that asks for more:
//! it waits for each admin, and the old permissions hold until then.
//!
//! Run with `cargo run --example service_account_sync`.

use appgrant::grant::{AppRegistration, ClientAuthentication, TokenRequest};
use appgrant::model::{
    AppFlows, ClientId, ClientType, Company, CompanyId, Level, Manifest, Permissions, ProjectId,
    Requirement, Scope, User, UserId,
};
use appgrant::{AuthorizationServer, Config, Decision, MemoryStore};
use std::collections::BTreeSet;
use std::error::Error;

type Server = AuthorizationServer<MemoryStore>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let server = AuthorizationServer::builder(
        MemoryStore::new(),
        Config::new("https://auth.platform.example"),
    )
    .build()?;
    let registered = server
        .register_app(AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            name: "Nightly Sync".into(),
            client_type: ClientType::Confidential,
            redirect_uris: vec![],
            flows: AppFlows::ServiceAccount,
            manifest: Some(Manifest::new(1).project_tool("rfis", Level::ReadOnly)),
            ceiling: None,
            profile: Default::default(),
            owner: None,
            security: Default::default(),
        })
        .await?;
    let app = registered.app.client_id.clone();
    let client = ClientAuthentication::Basic {
        client_id: app.clone(),
        secret: registered
            .client_secret
            .ok_or("a confidential app has a secret")?,
    };

    println!("== Two companies install the sync app");
    let acme = company_with_admin(&server, "acme", "ada").await?;
    let bolt = company_with_admin(&server, "bolt", "bo").await?;
    install(&server, &acme, &app, "ada", &["tower"]).await?;
    install(&server, &bolt, &app, "bo", &["bridge", "depot"]).await?;

    println!("\n== One unbound token, the company named at each access");
    let token = server
        .token(
            TokenRequest::ClientCredentials {
                company_id: None,
                scope: None,
                resource: None,
            },
            &client,
        )
        .await?;
    let token = token.access_token.expose();
    for (company, project) in [
        ("acme", "tower"),
        ("acme", "depot"),
        ("bolt", "bridge"),
        ("bolt", "depot"),
    ] {
        let read = Requirement::new(company, "rfis", Level::ReadOnly).on_project(project);
        show(&server, &format!("read {company}/{project}"), token, &read).await?;
    }

    println!("\n== A token bound to Bolt works only in Bolt");
    let bound = server
        .token(
            TokenRequest::ClientCredentials {
                company_id: Some(bolt.clone()),
                scope: None,
                resource: None,
            },
            &client,
        )
        .await?;
    let bound = bound.access_token.expose();
    show(
        &server,
        "read bolt/bridge",
        bound,
        &Requirement::new("bolt", "rfis", Level::ReadOnly).on_project("bridge"),
    )
    .await?;
    show(
        &server,
        "read acme/tower",
        bound,
        &Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower"),
    )
    .await?;

    println!("\n== Version 2 of the manifest asks to write RFIs");
    server
        .publish_manifest(&app, Manifest::new(2).project_tool("rfis", Level::Standard))
        .await?;
    let write = |company: &str, project: &str| {
        Requirement::new(company, "rfis", Level::Standard).on_project(project)
    };
    show(
        &server,
        "write acme/tower (pending)",
        token,
        &write("acme", "tower"),
    )
    .await?;
    server
        .approve_manifest_update(&acme, &app, &UserId::new("ada"))
        .await?;
    show(
        &server,
        "write acme/tower (approved)",
        token,
        &write("acme", "tower"),
    )
    .await?;
    show(
        &server,
        "write bolt/bridge (pending)",
        token,
        &write("bolt", "bridge"),
    )
    .await?;
    Ok(())
}

async fn company_with_admin(
    server: &Server,
    id: &str,
    admin: &str,
) -> Result<CompanyId, Box<dyn Error>> {
    let company = CompanyId::new(id);
    server
        .save_company(
            // Each company's own projects, which admins choose from.
            Company::new(id, id.to_uppercase())
                .with_project("tower", "Tower")
                .with_project("depot", "Depot")
                .with_project("bridge", "Bridge"),
        )
        .await?;
    server.save_user(User::person(admin, admin)).await?;
    let holds = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    server
        .set_membership(&company, &UserId::new(admin), holds)
        .await?;
    Ok(company)
}

async fn install(
    server: &Server,
    company: &CompanyId,
    app: &ClientId,
    admin: &str,
    projects: &[&str],
) -> Result<(), Box<dyn Error>> {
    let admin = UserId::new(admin);
    server.request_installation(company, app, &admin).await?;
    let permitted: BTreeSet<ProjectId> = projects.iter().map(|p| ProjectId::new(*p)).collect();
    server
        .approve_installation(company, app, &admin, permitted)
        .await?;
    println!("   {admin} approved the service account in {company} on {projects:?}");
    Ok(())
}

async fn show(
    server: &Server,
    label: &str,
    token: &str,
    requirement: &Requirement,
) -> Result<(), Box<dyn Error>> {
    match server.decide(token, requirement).await?.decision {
        Decision::Allow { level } => println!("   {label:<30} allowed ({level})"),
        Decision::Deny(reason) => println!("   {label:<30} denied: {reason}"),
    }
    Ok(())
}
