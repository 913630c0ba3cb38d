//! A directory the host owns (`store::Directory`), as `examples/host_directory.rs` builds one
//! over the platform's own SQLite tables: the example's story runs here, the directory passes
//! the conformance suite for any directory, and the server writes service accounts into it at
//! every change of what they hold.

#[path = "../examples/host_directory.rs"]
#[allow(dead_code)]
mod host_directory;

use appgrant::grant::{AppRegistration, ClientAuthentication, TokenRequest};
use appgrant::model::{
    AppFlows, ClientType, CompanyId, Level, Manifest, ProjectId, Requirement, UserId,
};
use appgrant::store::conformance;
use appgrant::store::{Directory, SqlStore};
use appgrant::{AuthorizationServer, Config};
use host_directory::{PlatformDirectory, Server, platform};
use sqlx::sqlite::SqlitePool;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let name = format!("appgrant-host-directory-test-{}", rand::random::<u64>());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn seeded_platform(scratch: &Scratch) -> SqlitePool {
    let pool = platform::open(&scratch.0.join("platform.db"))
        .await
        .unwrap();
    platform::seed(&pool).await.unwrap();
    pool
}

#[tokio::test]
async fn the_example_serves_live_decisions_from_the_platforms_tables() {
    let scratch = Scratch::new();
    let shown = host_directory::run(&scratch.0).await.unwrap();
    assert_eq!(
        shown.john_writes,
        (false, true),
        "John's new role in the platform's table decides the next access, same token"
    );
    assert_eq!(
        shown.after_approval,
        vec![("FieldSync (service account)".to_owned(), true)],
        "the approved service account is a row of the platform's users table"
    );
    assert_eq!(shown.service_account_roles, vec!["rfis on tower: editor"]);
    assert_eq!(
        shown.service_account,
        (true, false),
        "Tower permitted, Depot not"
    );
    assert!(
        shown.unknown_project_refusal.contains("harbour"),
        "{}",
        shown.unknown_project_refusal
    );
    assert_eq!(
        shown.after_uninstall,
        vec![("FieldSync (service account)".to_owned(), false)]
    );
    assert!(!shown.service_account_after_uninstall);
    assert!(
        shown
            .conclusion
            .starts_with("host_directory: decisions read")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_platforms_directory_passes_the_conformance_suite_for_any_directory() {
    let scratch = Scratch::new();
    let mut opened = 0;
    conformance::run_directory(async || {
        // A platform database per property, as a host's test database would be.
        opened += 1;
        let file = scratch.0.join(format!("platform-{opened}.db"));
        let pool = platform::open(&file).await.unwrap();
        platform::seed(&pool).await.unwrap();
        (PlatformDirectory::new(pool), CompanyId::new("acme"))
    })
    .await;
    assert_eq!(opened, conformance::DIRECTORY_PROPERTIES.len());
}

/// FieldSync registered, requested by Jane and approved on `projects`.
async fn installed(
    scratch: &Scratch,
    projects: &[&str],
) -> (Server, SqlitePool, ClientAuthentication) {
    let pool = seeded_platform(scratch).await;
    let url = format!("sqlite://{}", scratch.0.join("appgrant.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    let directory = PlatformDirectory::new(pool.clone());
    let config = Config::new("https://auth.example.com");
    // A store and a directory of its own: no clone of the store needed.
    let server = AuthorizationServer::builder_with_directory(store, directory, config)
        .build()
        .unwrap();
    let registered = server
        .register_app(AppRegistration {
            application_type: appgrant::model::ApplicationType::Web,
            name: "FieldSync".into(),
            client_type: ClientType::Confidential,
            redirect_uris: vec![],
            flows: AppFlows::ServiceAccount,
            manifest: Some(Manifest::new(1).project_tool("rfis", Level::ReadOnly)),
            ceiling: None,
            profile: Default::default(),
            owner: None,
            security: Default::default(),
        })
        .await
        .unwrap();
    let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
    let app = registered.app.client_id.clone();
    server
        .request_installation(&acme, &app, &jane)
        .await
        .unwrap();
    let permitted = projects
        .iter()
        .map(|project| ProjectId::new(*project))
        .collect();
    server
        .approve_installation(&acme, &app, &jane, permitted)
        .await
        .unwrap();
    let client = ClientAuthentication::Basic {
        client_id: app,
        secret: registered.client_secret.unwrap(),
    };
    (server, pool, client)
}

#[tokio::test]
async fn every_change_of_what_a_service_account_holds_is_written_to_the_hosts_directory() {
    let scratch = Scratch::new();
    let (server, pool, client) = installed(&scratch, &["tower"]).await;
    let (acme, jane) = (CompanyId::new("acme"), UserId::new("jane"));
    let app = client.client_id().clone();
    let roles = || platform::roles_of(&pool, "FieldSync (service account)");
    assert_eq!(roles().await.unwrap(), vec!["rfis on tower: viewer"]);

    // Permitted projects widened: the account's rows follow.
    let both = BTreeSet::from([ProjectId::new("depot"), ProjectId::new("tower")]);
    server
        .set_permitted_projects(&acme, &app, &jane, both)
        .await
        .unwrap();
    assert_eq!(
        roles().await.unwrap(),
        vec!["rfis on depot: viewer", "rfis on tower: viewer"]
    );

    // A manifest asking for more, approved: the account's rows are raised.
    server
        .publish_manifest(&app, Manifest::new(2).project_tool("rfis", Level::Standard))
        .await
        .unwrap();
    assert_eq!(
        roles().await.unwrap(),
        vec!["rfis on depot: viewer", "rfis on tower: viewer"],
        "an update waiting for approval changes nothing yet"
    );
    server
        .approve_manifest_update(&acme, &app, &jane)
        .await
        .unwrap();
    assert_eq!(
        roles().await.unwrap(),
        vec!["rfis on depot: editor", "rfis on tower: editor"]
    );
    let token = server
        .token(
            TokenRequest::ClientCredentials {
                company_id: None,
                scope: None,
                resource: None,
            },
            &client,
        )
        .await
        .unwrap();
    let write_depot = Requirement::new("acme", "rfis", Level::Standard).on_project("depot");
    let decision = server
        .decide(token.access_token.expose(), &write_depot)
        .await
        .unwrap();
    assert!(decision.is_allowed(), "{:?}", decision.deny_reason());
}

#[tokio::test]
async fn a_role_the_host_revokes_in_its_own_table_denies_the_next_decision() {
    let scratch = Scratch::new();
    let (server, pool, client) = installed(&scratch, &["tower"]).await;
    let token = server
        .token(
            TokenRequest::ClientCredentials {
                company_id: None,
                scope: None,
                resource: None,
            },
            &client,
        )
        .await
        .unwrap();
    let read_tower = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    let decide = || server.decide(token.access_token.expose(), &read_tower);
    assert!(decide().await.unwrap().is_allowed());
    // The platform's own admin screen removes the account's role: no call into appgrant.
    sqlx::query("DELETE FROM roles WHERE user_id IN (SELECT id FROM users WHERE integration_app IS NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let after = decide().await.unwrap();
    assert!(
        !after.is_allowed(),
        "the decision must read the host's table, not a copy"
    );
}

#[tokio::test]
async fn a_failing_host_directory_is_a_store_error_not_a_decision() {
    let scratch = Scratch::new();
    let (server, pool, client) = installed(&scratch, &["tower"]).await;
    let token = server
        .token(
            TokenRequest::ClientCredentials {
                company_id: None,
                scope: None,
                resource: None,
            },
            &client,
        )
        .await
        .unwrap();
    pool.close().await;
    let read_tower = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    let failed = server
        .decide(token.access_token.expose(), &read_tower)
        .await;
    assert!(
        failed.is_err(),
        "a directory that cannot answer must not decide: {failed:?}"
    );
    assert!(server.directory().user(&UserId::new("jane")).await.is_err());
}

#[tokio::test]
async fn an_instance_whose_directory_does_not_answer_is_not_ready_and_says_so() {
    let scratch = Scratch::new();
    let (server, pool, _) = installed(&scratch, &["tower"]).await;
    server.readiness().await.unwrap();
    pool.close().await;
    let not_ready = server.readiness().await.unwrap_err();
    assert_eq!(not_ready.component(), "directory", "{not_ready}");
}
