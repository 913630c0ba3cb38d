//! What one tenant costs the memory store: an app with its manifest and profile, the company
//! with two projects, the app's active installation with its approved service account, the
//! account's user and its membership. It fills a store with `TENANTS` of them (default
//! 1,000,000; `APPGRANT_TENANTS` overrides), one part of every tenant after another, and prints
//! the heap bytes and allocations the store keeps per tenant for each part and in all, counted
//! by the global allocator, and the growth of resident memory.
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
        application_type: appgrant::model::ApplicationType::Web,
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
        security: Default::default(),
    }
}

fn company(index: usize) -> Company {
    Company::new(format!("company-{index}"), format!("Company {index}"))
        .with_project("tower", "Riverside Tower")
        .with_project("bridge", "Harbour Bridge")
}

/// One tenant's records, made the way the server makes them when an admin approves the
/// install.
struct Tenant {
    app: App,
    company: Company,
    installation: Installation,
    account: ServiceAccount,
}

fn tenant(index: usize, admin: &Actor<'_>, now: DateTime<Utc>) -> Tenant {
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
    Tenant {
        app,
        company,
        installation,
        account,
    }
}

/// The parts of a tenant, saved in turn so that each is counted on its own.
const PARTS: [&str; 4] = [
    "app",
    "company",
    "installation",
    "service account (user and membership)",
];

async fn save_part(store: &MemoryStore, part: usize, tenant: Tenant) {
    match part {
        0 => store.save_app(tenant.app).await,
        1 => store.save_company(tenant.company).await,
        2 => store.save_installation(tenant.installation).await,
        _ => store.save_service_account(&tenant.account).await,
    }
    .expect("saved");
}

/// Heap bytes and allocations still held after `region` began.
fn held(region: &Region<'_, System>) -> (isize, isize) {
    let change = region.change();
    // stats_alloc's `realloc` already adds what a block grew by to `bytes_allocated` and what
    // it shrank by to `bytes_deallocated`; `bytes_reallocated` is that same change again, so
    // adding it would count every grown `String`, `Vec` and table twice.
    let bytes = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    (
        bytes,
        change.allocations as isize - change.deallocations as isize,
    )
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
    runtime.block_on(async {
        for part in 0..PARTS.len() {
            save_part(&store, part, tenant(usize::MAX, &admin, now)).await;
        }
    });
    let resident_before = resident_bytes();
    let (mut total_bytes, mut total_allocations) = (0, 0);
    let per_tenant = |count: isize| count as f64 / tenants as f64;
    for (part, name) in PARTS.iter().enumerate() {
        // Whole tenants are made inside the region and the other parts dropped there, so what
        // is still held at its end is what the store keeps of this part.
        let region = Region::new(ALLOCATOR);
        runtime.block_on(async {
            for index in 0..tenants {
                save_part(&store, part, tenant(index, &admin, now)).await;
            }
        });
        let (bytes, allocations) = held(&region);
        println!(
            "{name}: {:.0} heap bytes, {:.1} allocations per tenant",
            per_tenant(bytes),
            per_tenant(allocations)
        );
        total_bytes += bytes;
        total_allocations += allocations;
    }
    let resident_after = resident_bytes();
    println!("tenants: {tenants}");
    println!(
        "whole tenant: {:.0} heap bytes, {:.1} allocations per tenant",
        per_tenant(total_bytes),
        per_tenant(total_allocations)
    );
    if let (Some(before), Some(after)) = (resident_before, resident_after) {
        println!(
            "resident memory grew by {:.0} bytes per tenant",
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
