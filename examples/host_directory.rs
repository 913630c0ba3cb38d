//! A platform that already has its companies, projects, people and roles, in tables of its
//! own, serving live decisions through appgrant without copying any of it.
//!
//! The platform's tables are plain SQLite, read and written with plain `sqlx`; appgrant never
//! sees them except through [`PlatformDirectory`], the platform's implementation of
//! [`Directory`]. appgrant keeps only the OAuth state (apps, installations, codes, refresh
//! families, revocations, consents, keys) in its own tables, here in the same database file.
//!
//! What it shows:
//! 1. John's role changes in the platform's own `roles` table and the very next decision on the
//!    token he already has follows it: nothing was copied into appgrant.
//! 2. When Jane approves FieldSync's service account, the service account appears in the
//!    platform's own `users` table, with its roles in `roles`; an uninstall deactivates it there.
//! 3. An approval naming a project the platform does not list is refused.
//!
//! Run with `cargo run --example host_directory`. Copy [`PlatformDirectory`] and change the
//! SQL to your schema.

use appgrant::grant::{
    AppRegistration, AuthorizationRequest, AuthorizationResponse, ClientAuthentication,
    TokenRequest, TokenResponse, pkce,
};
use appgrant::model::{
    AppFlows, ClientId, ClientType, Company, CompanyId, Level, Manifest, Permissions, ProjectId,
    Requirement, Scope, Tool, User, UserId, UserKind, UserStatus,
};
use appgrant::store::{Directory, ServiceAccount, SqlStore, StoreError, StoreResult};
use appgrant::token::Secret;
use appgrant::{AuthorizationServer, Config};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::collections::BTreeSet;
use std::error::Error;
use std::path::Path;

const REDIRECT: &str = "https://fieldsync.example.com/callback";

/// The platform's schema: its own names, its own role vocabulary (`viewer`, `editor`,
/// `manager`), nothing shaped for appgrant. `project_id` is `''` for a company-wide role.
const PLATFORM_SCHEMA: &[&str] = &[
    "CREATE TABLE companies (id TEXT PRIMARY KEY, display_name TEXT NOT NULL)",
    "CREATE TABLE projects (company_id TEXT NOT NULL REFERENCES companies (id), \
         id TEXT NOT NULL, title TEXT NOT NULL, PRIMARY KEY (company_id, id))",
    "CREATE TABLE users (id TEXT PRIMARY KEY, display_name TEXT NOT NULL, \
         active INTEGER NOT NULL, integration_app TEXT)",
    "CREATE TABLE members (company_id TEXT NOT NULL REFERENCES companies (id), \
         user_id TEXT NOT NULL REFERENCES users (id), PRIMARY KEY (company_id, user_id))",
    "CREATE TABLE roles (company_id TEXT NOT NULL, user_id TEXT NOT NULL, tool TEXT NOT NULL, \
         project_id TEXT NOT NULL, role TEXT NOT NULL, \
         PRIMARY KEY (company_id, user_id, tool, project_id), \
         FOREIGN KEY (company_id, user_id) REFERENCES members (company_id, user_id))",
];

/// The platform's directory, read by appgrant at every decision.
#[derive(Clone, Debug)]
pub struct PlatformDirectory {
    pool: SqlitePool,
}

impl PlatformDirectory {
    /// The directory over the platform's database.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

/// The platform's role names as appgrant's levels, and back.
fn level_of(role: &str) -> Level {
    match role {
        "viewer" => Level::ReadOnly,
        "editor" => Level::Standard,
        "manager" => Level::Admin,
        // A role the platform added later grants nothing until it is mapped here.
        _ => Level::None,
    }
}

fn role_of(level: Level) -> Option<&'static str> {
    match level {
        Level::ReadOnly => Some("viewer"),
        Level::Standard => Some("editor"),
        Level::Admin => Some("manager"),
        _ => None,
    }
}

/// The host's database failing is a store failure: appgrant answers it with a quick 503.
fn failed(error: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

impl PlatformDirectory {
    /// What `user` holds in `company`, from rows of `roles`.
    async fn roles(&self, company: &CompanyId, user: &UserId) -> StoreResult<Permissions> {
        let rows = sqlx::query(
            "SELECT tool, project_id, role FROM roles WHERE company_id = ?1 AND user_id = ?2",
        )
        .bind(company.as_str())
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(failed)?;
        let mut permissions = Permissions::none();
        for row in rows {
            let (tool, project, role): (String, String, String) =
                (row.get("tool"), row.get("project_id"), row.get("role"));
            let scope = match project.as_str() {
                "" => Scope::Company,
                project => Scope::Project(ProjectId::new(project)),
            };
            permissions.set(scope, Tool::new(tool), level_of(&role));
        }
        Ok(permissions)
    }
}

impl Directory for PlatformDirectory {
    async fn company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        let Some(row) = sqlx::query("SELECT display_name FROM companies WHERE id = ?1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?
        else {
            return Ok(None);
        };
        let mut company = Company::new(id.clone(), row.get::<String, _>("display_name"));
        let projects =
            sqlx::query("SELECT id, title FROM projects WHERE company_id = ?1 ORDER BY id")
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(failed)?;
        for project in projects {
            company = company.with_project(
                project.get::<String, _>("id"),
                project.get::<String, _>("title"),
            );
        }
        Ok(Some(company))
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let row =
            sqlx::query("SELECT display_name, active, integration_app FROM users WHERE id = ?1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(failed)?;
        Ok(row.map(|row| User {
            id: id.clone(),
            name: row.get("display_name"),
            kind: match row.get::<Option<String>, _>("integration_app") {
                Some(app) => UserKind::ServiceAccount {
                    app: ClientId::new(app),
                },
                None => UserKind::Person,
            },
            status: if row.get::<bool, _>("active") {
                UserStatus::Active
            } else {
                UserStatus::Deactivated
            },
        }))
    }

    async fn membership(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<Option<Permissions>> {
        let member = sqlx::query("SELECT 1 FROM members WHERE company_id = ?1 AND user_id = ?2")
            .bind(company.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        match member {
            Some(_) => Ok(Some(self.roles(company, user).await?)),
            None => Ok(None),
        }
    }

    async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<(CompanyId, Permissions)>> {
        let companies =
            sqlx::query("SELECT company_id FROM members WHERE user_id = ?1 ORDER BY company_id")
                .bind(user.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(failed)?;
        let mut memberships = Vec::with_capacity(companies.len());
        for row in companies {
            let company = CompanyId::new(row.get::<String, _>("company_id"));
            let permissions = self.roles(&company, user).await?;
            memberships.push((company, permissions));
        }
        Ok(memberships)
    }

    /// The service account becomes a row of the platform's `users` (marked with its app), a
    /// member of the company, holding exactly the approved roles: one transaction, so nobody
    /// reads it half-written. Saving it again replaces its roles and keeps its status.
    async fn save_service_account(&self, account: &ServiceAccount) -> StoreResult<()> {
        let (company, user) = (account.company.as_str(), account.id.as_str());
        let mut transaction = self.pool.begin().await.map_err(failed)?;
        sqlx::query(
            // New: active. Existing: renamed, its status kept (a deactivated account stays so),
            // and a person's row is never touched.
            "INSERT INTO users (id, display_name, active, integration_app) VALUES (?1, ?2, 1, ?3) \
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name \
             WHERE users.integration_app IS NOT NULL",
        )
        .bind(user)
        .bind(&account.name)
        .bind(account.app.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(failed)?;
        let owner: Option<String> = sqlx::query("SELECT integration_app FROM users WHERE id = ?1")
            .bind(user)
            .fetch_one(&mut *transaction)
            .await
            .map_err(failed)?
            .get("integration_app");
        if owner.as_deref() != Some(account.app.as_str()) {
            // The id names a person (or another app's account): give it nothing.
            return transaction.rollback().await.map_err(failed);
        }
        sqlx::query("INSERT OR IGNORE INTO members (company_id, user_id) VALUES (?1, ?2)")
            .bind(company)
            .bind(user)
            .execute(&mut *transaction)
            .await
            .map_err(failed)?;
        sqlx::query("DELETE FROM roles WHERE company_id = ?1 AND user_id = ?2")
            .bind(company)
            .bind(user)
            .execute(&mut *transaction)
            .await
            .map_err(failed)?;
        // One row per tool and place; collected first, so no borrowing iterator is held across
        // the inserts' awaits.
        let mut rows: Vec<(&str, &str, &str)> = Vec::new();
        for (tool, level) in &account.permissions.company {
            rows.extend(role_of(*level).map(|role| ("", tool.as_str(), role)));
        }
        for (project, tools) in &account.permissions.projects {
            for (tool, level) in tools {
                rows.extend(role_of(*level).map(|role| (project.as_str(), tool.as_str(), role)));
            }
        }
        for (project, tool, role) in rows {
            sqlx::query(
                "INSERT INTO roles (company_id, user_id, tool, project_id, role) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .bind(company)
            .bind(user)
            .bind(tool)
            .bind(project)
            .bind(role)
            .execute(&mut *transaction)
            .await
            .map_err(failed)?;
        }
        transaction.commit().await.map_err(failed)
    }

    async fn deactivate_service_account(&self, _: &CompanyId, user: &UserId) -> StoreResult<()> {
        sqlx::query("UPDATE users SET active = 0 WHERE id = ?1 AND integration_app IS NOT NULL")
            .bind(user.as_str())
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// The platform's own code, which knows nothing of appgrant: seeding, and an admin changing
/// John's role on its own settings page.
pub mod platform {
    use super::*;

    pub async fn open(file: &Path) -> Result<SqlitePool, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        for statement in PLATFORM_SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(pool)
    }

    pub async fn seed(pool: &SqlitePool) -> Result<(), sqlx::Error> {
        let statements = [
            "INSERT INTO companies VALUES ('acme', 'Acme Construction')",
            "INSERT INTO projects VALUES ('acme', 'tower', 'Riverside Tower')",
            "INSERT INTO projects VALUES ('acme', 'depot', 'North Depot')",
            "INSERT INTO users VALUES ('jane', 'Jane Park', 1, NULL)",
            "INSERT INTO users VALUES ('john', 'John Reyes', 1, NULL)",
            "INSERT INTO members VALUES ('acme', 'jane')",
            "INSERT INTO members VALUES ('acme', 'john')",
            "INSERT INTO roles VALUES ('acme', 'jane', 'directory', '', 'manager')",
            "INSERT INTO roles VALUES ('acme', 'jane', 'rfis', 'tower', 'manager')",
            "INSERT INTO roles VALUES ('acme', 'jane', 'rfis', 'depot', 'manager')",
            "INSERT INTO roles VALUES ('acme', 'john', 'rfis', 'tower', 'viewer')",
        ];
        for statement in statements {
            sqlx::query(statement).execute(pool).await?;
        }
        Ok(())
    }

    pub async fn set_role(
        pool: &SqlitePool,
        user: &str,
        tool: &str,
        project: &str,
        role: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE roles SET role = ?4 WHERE company_id = 'acme' AND user_id = ?1 \
             AND tool = ?2 AND project_id = ?3",
        )
        .bind(user)
        .bind(tool)
        .bind(project)
        .bind(role)
        .execute(pool)
        .await?;
        Ok(())
    }

    /// The platform's user list, as its own admin screen reads it.
    pub async fn integration_users(pool: &SqlitePool) -> Result<Vec<(String, bool)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT display_name, active FROM users WHERE integration_app IS NOT NULL ORDER BY id",
        )
        .fetch_all(pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("display_name"), row.get("active")))
            .collect())
    }

    pub async fn roles_of(pool: &SqlitePool, name: &str) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT r.tool, r.project_id, r.role FROM roles r JOIN users u ON u.id = r.user_id \
             WHERE u.display_name = ?1 ORDER BY r.tool, r.project_id",
        )
        .bind(name)
        .fetch_all(pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let (tool, project, role): (String, String, String) =
                    (row.get(0), row.get(1), row.get(2));
                format!("{tool} on {project}: {role}")
            })
            .collect())
    }
}

/// What the story saw, for the test that runs it.
#[derive(Debug, Default)]
pub struct Shown {
    /// Whether John's token could write Tower RFIs before, and after, the platform made him
    /// an editor.
    pub john_writes: (bool, bool),
    /// The platform's integration users after the approval: (name, active).
    pub after_approval: Vec<(String, bool)>,
    /// The service account's roles in the platform's `roles` table.
    pub service_account_roles: Vec<String>,
    /// Whether the service account could write Tower RFIs, and read Depot RFIs.
    pub service_account: (bool, bool),
    /// Why an approval naming an unknown project was refused.
    pub unknown_project_refusal: String,
    /// The platform's integration users after the uninstall.
    pub after_uninstall: Vec<(String, bool)>,
    /// Whether the service account's token still worked after the uninstall.
    pub service_account_after_uninstall: bool,
    /// The line the story ends with.
    pub conclusion: String,
}

/// appgrant over its own tables, reading the platform's directory.
pub type Server = AuthorizationServer<SqlStore, PlatformDirectory>;

/// Tells the story in a fresh database file under `dir`.
pub async fn run(dir: &Path) -> Result<Shown, Box<dyn Error>> {
    let file = dir.join("platform.db");
    let pool = platform::open(&file).await?;
    platform::seed(&pool).await?;
    // appgrant's OAuth state: its own tables, in the same database file.
    let store = SqlStore::connect(&format!("sqlite://{}", file.display())).await?;
    let server: Server =
        AuthorizationServer::builder(store, Config::new("https://auth.acme-platform.example"))
            .directory(PlatformDirectory::new(pool.clone()))
            .build()?;
    let mut shown = Shown::default();
    let (acme, jane, john) = (
        CompanyId::new("acme"),
        UserId::new("jane"),
        UserId::new("john"),
    );

    chapter("FieldSync is registered (in appgrant's tables; nobody is copied into them)");
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
    let client = ClientAuthentication::Basic {
        client_id: registered.app.client_id.clone(),
        secret: registered
            .client_secret
            .ok_or("a confidential app has a secret")?,
    };
    let client_id = registered.app.client_id.clone();
    let write_tower = Requirement::new("acme", "rfis", Level::Standard).on_project("tower");
    let read_depot = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("depot");

    chapter("Jane approves FieldSync's service account on a project the platform does not list");
    server
        .request_installation(&acme, &client_id, &jane)
        .await?;
    let unknown = BTreeSet::from([ProjectId::new("harbour")]);
    let refusal = server
        .approve_installation(&acme, &client_id, &jane, unknown)
        .await
        .err()
        .ok_or("an approval naming an unknown project went through")?;
    say(&format!("refused: {refusal}"));
    shown.unknown_project_refusal = refusal.to_string();

    chapter("Jane approves it on Riverside Tower: it appears in the platform's users table");
    let tower = BTreeSet::from([ProjectId::new("tower")]);
    server
        .approve_installation(&acme, &client_id, &jane, tower)
        .await?;
    shown.after_approval = platform::integration_users(&pool).await?;
    for (name, active) in &shown.after_approval {
        say(&format!("users: {name} (active: {active})"));
    }
    let account_name = shown
        .after_approval
        .first()
        .map(|(name, _)| name.clone())
        .ok_or("no service account in the platform's users table")?;
    shown.service_account_roles = platform::roles_of(&pool, &account_name).await?;
    for role in &shown.service_account_roles {
        say(&format!("roles: {role}"));
    }
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
    shown.service_account = (
        allowed(&server, "sync job: write Tower RFIs", &sync, &write_tower).await?,
        allowed(&server, "sync job: read Depot RFIs", &sync, &read_depot).await?,
    );

    chapter("John authorizes FieldSync; the platform then makes him an editor on Tower");
    let john_tokens = sign_in_and_authorize(&server, &client, &john, &acme).await?;
    let before = allowed(
        &server,
        "as John: write Tower RFIs",
        &john_tokens,
        &write_tower,
    )
    .await?;
    platform::set_role(&pool, "john", "rfis", "tower", "editor").await?;
    say("the platform's own settings page: UPDATE roles SET role = 'editor' … (nothing else)");
    let after = allowed(
        &server,
        "as John: write Tower RFIs",
        &john_tokens,
        &write_tower,
    )
    .await?;
    shown.john_writes = (before, after);

    chapter("Jane uninstalls FieldSync: the platform's row is deactivated");
    server.uninstall(&acme, &client_id, &jane).await?;
    shown.after_uninstall = platform::integration_users(&pool).await?;
    for (name, active) in &shown.after_uninstall {
        say(&format!("users: {name} (active: {active})"));
    }
    shown.service_account_after_uninstall =
        allowed(&server, "sync job: write Tower RFIs", &sync, &write_tower).await?;

    shown.conclusion = format!(
        "host_directory: decisions read the platform's own tables live (John's new role took \
         effect at the next decision, {} → {}, nothing copied); the service account was \
         written to the platform's users table on approval and deactivated there on uninstall",
        verdict(shown.john_writes.0),
        verdict(shown.john_writes.1),
    );
    Ok(shown)
}

#[tokio::main]
#[allow(dead_code)] // the test that runs the story includes this file without calling main
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!("appgrant-host-directory-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let shown = run(&dir).await;
    std::fs::remove_dir_all(&dir)?;
    println!("\n{}", shown?.conclusion);
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
    server.consent_prompt(&request).await?;
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

async fn allowed(
    server: &Server,
    label: &str,
    tokens: &TokenResponse,
    requirement: &Requirement,
) -> Result<bool, Box<dyn Error>> {
    let decision = server
        .decide(tokens.access_token.expose(), requirement)
        .await?;
    match decision.deny_reason() {
        None => say(&format!("{label:<28} allowed")),
        Some(reason) => say(&format!("{label:<28} denied: {reason}")),
    }
    Ok(decision.is_allowed())
}

fn verdict(allowed: bool) -> &'static str {
    if allowed { "allowed" } else { "denied" }
}

fn chapter(title: &str) {
    println!("\n== {title}");
}

fn say(line: &str) {
    println!("   {line}");
}
