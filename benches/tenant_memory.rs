//! What one tenant costs the memory store: an app with its manifest and profile, the company
//! with two projects, the app's active installation with its approved service account, the
//! account's user and its membership. It fills a store with `TENANTS` of them (default
//! 1,000,000; `APPGRANT_TENANTS` overrides) and prints the heap bytes and allocations per
//! tenant, counted by the global allocator, and the growth of resident memory.
//!
//! Run with `cargo bench --bench tenant_memory`. It is not a criterion benchmark: the figure is
//! a count, the same on every machine for one build (resident memory varies a little with the
//! allocator).

use appgrant::MemoryStore;
use appgrant::model::{
    Actor, App, AppFlows, AppProfile, ClientId, ClientType, Company, CompanyId, Installation,
    Level, Manifest, Permissions, ProjectId, Scope, SecretDigest, User, UserId,
};
use appgrant::store::{AppStore, Directory, DirectoryStore, InstallationStore, ServiceAccount};
use chrono::{DateTime, Utc};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::collections::BTreeSet;

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const TENANTS: usize = 1_000_000;

/// The company's admin who approves every install; stored once, outside the tenants counted.
fn admin() -> (User, Permissions) {
    let permissions = Permissions::none().with(Scope::Company, "directory", Level::Admin);
    (
        User::person("platform-admin", "Platform Admin"),
        permissions,
    )
}

fn app(index: usize) -> App {
    let manifest = Manifest::new(1)
        .company_tool("budget", Level::ReadOnly)
        .project_tool("rfis", Level::Standard)
        .project_tool("submittals", Level::ReadOnly);
    App {
        client_id: ClientId::new(format!("app_{index:024x}")),
        name: format!("FieldSync {index}"),
        client_type: ClientType::Confidential,
        secret_digest: Some(SecretDigest([7; 32])),
        previous_secret: None,
        redirect_uris: vec![format!("https://app{index}.example.com/callback")],
        flows: AppFlows::Both,
        manifests: vec![manifest],
        ceiling: None,
        profile: AppProfile {
            publisher: Some("FieldSync Inc.".into()),
            homepage: Some("https://fieldsync.example.com".into()),
            ..AppProfile::default()
        },
        owner: None,
        revision: 0,
    }
}

fn company(index: usize) -> Company {
    Company::new(format!("company-{index}"), format!("Company {index}"))
        .with_project("tower", "Riverside Tower")
        .with_project("bridge", "Harbour Bridge")
}

/// Saves one tenant the way the server does when an admin approves the install.
async fn save_tenant(store: &MemoryStore, index: usize, admin: &Actor<'_>, now: DateTime<Utc>) {
    let app = app(index);
    let company = company(index);
    let mut installation = Installation::request(&app, &company.id, &admin.user.id, now);
    let projects = BTreeSet::from([ProjectId::new("tower"), ProjectId::new("bridge")]);
    let account_id = UserId::new(format!("sa_{index:024x}"));
    let change = installation
        .approve(&app, admin, projects, account_id, now)
        .expect("the admin may approve")
        .expect("the app has a service account");
    let account = ServiceAccount {
        company: company.id.clone(),
        id: change.user,
        name: format!("{} (service account)", app.name),
        app: app.client_id.clone(),
        permissions: change.permissions,
    };
    store.save_service_account(&account).await.expect("saved");
    store.save_installation(installation).await.expect("saved");
    store.save_company(company).await.expect("saved");
    store.save_app(app).await.expect("saved");
}

/// Resident memory of this process in bytes (Linux), if it can be read.
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    let tenants = std::env::var("APPGRANT_TENANTS")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(TENANTS);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let (admin_user, admin_permissions) = admin();
    let admin = Actor {
        user: &admin_user,
        permissions: Some(&admin_permissions),
    };
    let now = Utc::now();
    let store = MemoryStore::new();
    // The first tenant sizes nothing but the empty maps' first allocations; leave it out.
    runtime.block_on(save_tenant(&store, usize::MAX, &admin, now));
    let resident_before = resident_bytes();
    let region = Region::new(ALLOCATOR);
    runtime.block_on(async {
        for index in 0..tenants {
            save_tenant(&store, index, &admin, now).await;
        }
    });
    let change = region.change();
    let resident_after = resident_bytes();
    let held = change.bytes_allocated as isize - change.bytes_deallocated as isize
        + change.bytes_reallocated;
    let live_allocations = change.allocations as isize - change.deallocations as isize;
    println!("tenants: {tenants}");
    println!("heap bytes per tenant: {:.0}", held as f64 / tenants as f64);
    println!(
        "live allocations per tenant: {:.1}",
        live_allocations as f64 / tenants as f64
    );
    if let (Some(before), Some(after)) = (resident_before, resident_after) {
        println!(
            "resident bytes per tenant: {:.0}",
            after.saturating_sub(before) as f64 / tenants as f64
        );
    }
    // Reading back proves the store holds what was counted.
    let last = CompanyId::new(format!("company-{}", tenants - 1));
    let found = runtime
        .block_on(store.company(&last))
        .expect("read")
        .is_some();
    assert!(found, "the last tenant is stored");
}
