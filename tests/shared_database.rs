//! Two authorization servers sharing one database, as two processes behind a load balancer
//! would: separate connection pools (two `SqlStore::connect` calls), the same signing keys.
//! The database, not process memory, must decide every race between them, and what one does
//! the other sees at its next decision. Runs on SQLite (feature `sqlite`, a fresh file) and
//! PostgreSQL (feature `postgres`, a fresh database on the server `APPGRANT_TEST_POSTGRES_URL`
//! names; skipped, with a notice on stderr, without it).
#![cfg(any(feature = "sqlite", feature = "postgres"))]

mod store_suite;

use appgrant::grant::{ErrorCode, TokenRequest, TokenResponse};
use appgrant::model::*;
use appgrant::store::SqlStore;
use appgrant::store::conformance::Handles as _;
use appgrant::token::Secret;
use appgrant::{Config, DenyReason};
use sqlx::Row;
use store_suite::fixtures::Database;
use store_suite::{
    ISSUER, RACERS, World, assert_invalid_grant, new_clock, new_keys, race, read_tower, seed,
    server_on, write_tower,
};

/// Two servers on `database`, each with its own pool, signing with the same keys and reading
/// the same clock; the world is seeded through the first.
async fn two_servers(database: &Database) -> (World<SqlStore>, World<SqlStore>) {
    let (keys, clock) = (new_keys(), new_clock());
    let a = server_on(
        database.open().await,
        Config::new(ISSUER),
        keys.clone(),
        clock.clone(),
    );
    let b = server_on(
        database.open().await,
        Config::new(ISSUER),
        keys,
        clock.clone(),
    );
    let a = seed(a, clock).await;
    let b = a.served_by(b);
    (a, b)
}

async fn a_code_raced_across_both_servers_is_exchanged_once_and_the_reuse_revokes_it(
    database: &Database,
) {
    let (a, b) = two_servers(database).await;
    let code = a.code_for(&a.john).await;
    let results = race(RACERS, |i| {
        let world = if i % 2 == 0 { &a } else { &b };
        let (server, client) = (world.server.clone(), world.client());
        let request = world.exchange_request(&code);
        async move { server.token(request, &client).await }
    })
    .await;
    let mut winners: Vec<TokenResponse> = Vec::new();
    for result in results {
        match result {
            Ok(tokens) => winners.push(tokens),
            Err(error) => assert_eq!(error.code(), ErrorCode::InvalidGrant, "{error}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one exchange wins");
    let winner = &winners[0];
    for world in [&a, &b] {
        assert_eq!(
            world.denied_because(winner, &read_tower()).await,
            Some(DenyReason::Revoked)
        );
    }
    assert_invalid_grant(a.refresh(winner).await);
    assert_invalid_grant(b.refresh(winner).await);
}

async fn a_refresh_token_rotated_on_one_server_is_dead_on_the_other(database: &Database) {
    let (a, b) = two_servers(database).await;
    let first = a.tokens_for(&a.john).await;
    assert!(b.allowed(&first, &read_tower()).await);
    let second = a.refresh(&first).await.unwrap();
    assert!(b.allowed(&second, &read_tower()).await);

    // The rotated token presented to the other server is a reuse: refused, family revoked.
    assert_invalid_grant(b.refresh(&first).await);
    for world in [&a, &b] {
        assert_eq!(
            world.denied_because(&second, &read_tower()).await,
            Some(DenyReason::Revoked)
        );
    }
    assert_invalid_grant(a.refresh(&second).await);
    assert_invalid_grant(b.refresh(&second).await);
}

async fn a_refresh_raced_across_both_servers_rotates_once(database: &Database) {
    let (a, b) = two_servers(database).await;
    let tokens = a.tokens_for(&a.john).await;
    let refresh_token = tokens.refresh_token.clone().unwrap();
    let results = race(RACERS, |i| {
        let world = if i % 2 == 0 { &a } else { &b };
        let (server, client) = (world.server.clone(), world.client());
        let refresh_token = refresh_token.clone();
        async move {
            server
                .token(
                    TokenRequest::RefreshToken {
                        refresh_token,
                        scope: None,
                        resource: None,
                    },
                    &client,
                )
                .await
        }
    })
    .await;
    let mut winners = 0;
    for result in results {
        match result {
            Ok(_) => winners += 1,
            Err(error) => assert_eq!(error.code(), ErrorCode::InvalidGrant, "{error}"),
        }
    }
    assert_eq!(winners, 1, "exactly one refresh rotates");
}

async fn a_revocation_through_one_server_is_seen_by_the_next_decision_through_the_other(
    database: &Database,
) {
    let (a, b) = two_servers(database).await;
    let john = a.tokens_for(&a.john).await;
    assert!(b.allowed(&john, &read_tower()).await);
    a.server
        .revoke(&a.client(), john.access_token.expose())
        .await
        .unwrap();
    assert_eq!(
        b.denied_because(&john, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    assert_invalid_grant(b.refresh(&john).await);

    // And the other way round, revoking by refresh token.
    let jane = b.tokens_for(&b.jane).await;
    assert!(a.allowed(&jane, &write_tower()).await);
    b.server
        .revoke(&b.client(), jane.refresh_token.as_ref().unwrap().expose())
        .await
        .unwrap();
    assert_eq!(
        a.denied_because(&jane, &write_tower()).await,
        Some(DenyReason::Revoked)
    );
    assert_invalid_grant(a.refresh(&jane).await);

    // A service-account token too.
    a.install_service_account(&[&a.tower]).await;
    let service = b.service_token().await.unwrap();
    assert!(a.allowed(&service, &write_tower()).await);
    b.server
        .revoke(&b.client(), service.access_token.expose())
        .await
        .unwrap();
    assert_eq!(
        a.denied_because(&service, &write_tower()).await,
        Some(DenyReason::Revoked)
    );
}

async fn an_uninstall_through_one_server_is_seen_by_the_next_decision_through_the_other(
    database: &Database,
) {
    let (a, b) = two_servers(database).await;
    let installed = a.install_service_account(&[&a.tower]).await;
    let account = installed.service_account.unwrap().user;
    let john = a.tokens_for(&a.john).await;
    let service = b.service_token().await.unwrap();
    for world in [&a, &b] {
        assert!(world.allowed(&john, &read_tower()).await);
        assert!(world.allowed(&service, &write_tower()).await);
    }
    b.server
        .uninstall(&b.acme, &b.app.client_id, &b.jane)
        .await
        .unwrap();
    for tokens in [&john, &service] {
        assert_eq!(
            a.denied_because(tokens, &read_tower()).await,
            Some(DenyReason::AppUninstalled)
        );
    }
    let refused = a.service_token().await.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::UnauthorizedClient, "{refused}");
    let directory = a.server.members(&a.acme).await.unwrap();
    let (user, _) = directory
        .iter()
        .find(|(user, _)| user.id == account)
        .unwrap();
    assert_eq!(user.status, UserStatus::Deactivated);
}

async fn a_permission_change_through_one_server_is_seen_by_the_next_decision_through_the_other(
    database: &Database,
) {
    let (a, b) = two_servers(database).await;
    let john = a.tokens_for(&a.john).await;
    // Decided once through b, so b has verified (and remembered) the token.
    assert!(b.allowed(&john, &read_tower()).await);
    a.server
        .set_membership(&a.acme, &a.john, Permissions::none())
        .await
        .unwrap();
    assert!(!b.allowed(&john, &read_tower()).await);

    let raised = Permissions::none().with(Scope::Project(a.tower.clone()), "rfis", Level::Standard);
    a.server
        .set_membership(&a.acme, &a.john, raised)
        .await
        .unwrap();
    assert!(b.allowed(&john, &write_tower()).await);

    a.server.deactivate_user(&a.john).await.unwrap();
    assert_eq!(
        b.denied_because(&john, &read_tower()).await,
        Some(DenyReason::UserDeactivated)
    );
}

async fn data_survives_a_restart(database: &Database) {
    let (keys, clock) = (new_keys(), new_clock());
    let before = seed(
        server_on(
            database.open().await,
            Config::new(ISSUER),
            keys.clone(),
            clock.clone(),
        ),
        clock.clone(),
    )
    .await;
    let john = before.tokens_for(&before.john).await;
    let pending = before.code_for(&before.john).await;
    before.install_service_account(&[&before.tower]).await;
    let service = before.service_token().await.unwrap();
    let revoked = before.tokens_for(&before.jane).await;
    before
        .server
        .revoke(&before.client(), revoked.access_token.expose())
        .await
        .unwrap();
    clock.advance(chrono::TimeDelta::minutes(5));

    // The process goes away; a new one opens the same database with the same keys.
    let restarted = server_on(database.open().await, Config::new(ISSUER), keys, clock);
    let after = before.served_by(restarted);
    drop(before);

    assert!(after.allowed(&john, &read_tower()).await);
    assert!(after.allowed(&service, &write_tower()).await);
    assert_eq!(
        after.denied_because(&revoked, &read_tower()).await,
        Some(DenyReason::Revoked)
    );
    let refreshed = after.refresh(&john).await.unwrap();
    assert!(after.allowed(&refreshed, &read_tower()).await);
    assert_invalid_grant(after.refresh(&john).await);
    let from_pending = after.exchange(&pending).await.unwrap();
    assert!(after.allowed(&from_pending, &read_tower()).await);
    assert!(after.service_token().await.is_ok());
    let directory = after.server.members(&after.acme).await.unwrap();
    assert_eq!(directory.len(), 3, "jane, john and the service account");
}

/// Every table the store made, and every value in it as text.
async fn every_stored_value(database: &Database) -> Vec<(String, String, String)> {
    let pool = database.raw_pool().await;
    let columns_query = match database.kind() {
        "sqlite" => {
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
             AND m.name LIKE 'appgrant%' ORDER BY m.name, p.cid"
        }
        _ => {
            "SELECT CAST(table_name AS TEXT) AS table_name, \
             CAST(column_name AS TEXT) AS column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name LIKE 'appgrant%' \
             ORDER BY table_name, ordinal_position"
        }
    };
    let columns: Vec<(String, String)> = sqlx::query(columns_query)
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get("table_name"), row.get("column_name")))
        .collect();
    let tables: std::collections::BTreeSet<&str> =
        columns.iter().map(|(table, _)| table.as_str()).collect();
    for table in [
        "appgrant_apps",
        "appgrant_codes",
        "appgrant_families",
        "appgrant_revoked_grants",
        "appgrant_installations",
        "appgrant_users",
    ] {
        assert!(tables.contains(table), "no table {table} in {tables:?}");
    }
    let mut values = Vec::new();
    for (table, column) in &columns {
        let rows = sqlx::query(&format!(
            "SELECT CAST({column} AS TEXT) AS value FROM {table}"
        ))
        .fetch_all(&pool)
        .await
        .unwrap();
        for row in rows {
            if let Some(value) = row.get::<Option<String>, _>("value") {
                values.push((table.clone(), column.clone(), value));
            }
        }
    }
    values
}

async fn secrets_codes_and_tokens_are_stored_only_as_digests(database: &Database) {
    let (a, b) = two_servers(database).await;
    let mut secrets: Vec<(&str, Secret)> = vec![("client secret", a.secret.clone())];
    let mut digests = Vec::new();

    // Codes: exchanged, reused, and one left waiting.
    let code = a.code_for(&a.john).await;
    let john = b.exchange(&code).await.unwrap();
    let reused = b.code_for(&b.jane).await;
    let jane = a.exchange(&reused).await.unwrap();
    assert_invalid_grant(b.exchange(&reused).await);
    let waiting = a.code_for(&a.jane).await;
    for code in [&code, &reused, &waiting] {
        secrets.push(("code", code.clone()));
        digests.push(code.digest());
    }
    // Refresh tokens, rotated across both servers; access tokens of both kinds.
    let second = a.refresh(&john).await.unwrap();
    let third = b.refresh(&second).await.unwrap();
    a.install_service_account(&[&a.tower]).await;
    let service = b.service_token().await.unwrap();
    for tokens in [&john, &second, &third, &jane, &service] {
        secrets.push(("access token", tokens.access_token.clone()));
        let signature = tokens.access_token.expose().rsplit('.').next().unwrap();
        secrets.push(("access token signature", Secret::new(signature)));
        if let Some(refresh_token) = &tokens.refresh_token {
            secrets.push(("refresh token", refresh_token.clone()));
            digests.push(refresh_token.digest());
        }
    }
    // John's first refresh token was rotated away twice: a family keeps only its current and
    // previous digests, so that one is stored nowhere.
    let forgotten = john.refresh_token.as_ref().unwrap().digest();
    digests.retain(|digest| *digest != forgotten);
    a.server
        .introspect(&a.client(), third.refresh_token.as_ref().unwrap().expose())
        .await
        .unwrap();
    a.server
        .revoke(&a.client(), third.access_token.expose())
        .await
        .unwrap();

    let values = every_stored_value(database).await;
    assert!(values.len() > 20, "read only {} values", values.len());
    for (what, secret) in &secrets {
        let raw = secret.expose();
        assert!(raw.len() >= 20, "{what} is too short to search for");
        for (table, column, value) in &values {
            assert!(
                !value.contains(raw),
                "a raw {what} is stored in {table}.{column}"
            );
        }
    }
    // The search looked where the digests are: every code and refresh token is there as one.
    for digest in digests {
        let hex = digest.to_hex();
        assert!(
            values.iter().any(|(_, _, value)| value.contains(&hex)),
            "digest {hex} is not stored anywhere"
        );
    }
}

/// How many rows each appgrant table holds.
async fn row_counts(database: &Database) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for (table, _, _) in every_stored_value(database).await {
        counts.entry(table).or_insert(0);
    }
    let pool = database.raw_pool().await;
    for (table, count) in counts.iter_mut() {
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        *count = usize::try_from(row.get::<i64, _>("n")).unwrap();
    }
    counts
}

async fn a_family_takes_the_same_storage_however_often_it_rotates(database: &Database) {
    let (a, b) = two_servers(database).await;
    let first = a.tokens_for(&a.jane).await;
    let mut latest = a.refresh(&first).await.unwrap();
    let before = row_counts(database).await;
    for round in 0..200 {
        let server = if round % 2 == 0 { &a } else { &b };
        latest = server.refresh(&latest).await.unwrap();
    }
    assert_eq!(row_counts(database).await, before);
    // And the very first token is still recognised as reuse.
    assert_invalid_grant(b.refresh(&first).await);
    assert_invalid_grant(a.refresh(&latest).await);
}

async fn instances_starting_together_on_a_fresh_database_all_come_up(database: &Database) {
    let url = database.url().to_owned();
    let starts = race(4, |_| {
        let url = url.clone();
        async move { SqlStore::connect(&url).await.map(|_| ()) }
    })
    .await;
    for (n, started) in starts.into_iter().enumerate() {
        if let Err(error) = started {
            panic!("instance {n} failed to start: {error}");
        }
    }
    let (a, b) = two_servers(database).await;
    let john = a.tokens_for(&a.john).await;
    assert!(b.allowed(&john, &read_tower()).await);
}

/// Manifests published at once through both servers are each kept under the version its
/// publish returned; a publish that kept losing the race says so (busy) and saved nothing.
async fn manifests_published_at_once_through_both_servers_are_all_kept(database: &Database) {
    const PUBLISHES: usize = 8;
    let (a, b) = two_servers(database).await;
    let results = race(PUBLISHES, |i| {
        let server = if i % 2 == 0 { &a.server } else { &b.server };
        let (server, app) = (server.clone(), a.app.client_id.clone());
        let manifest =
            Manifest::new(0).company_tool(Tool::new(format!("tool-{i}")), Level::ReadOnly);
        async move { server.publish_manifest(&app, manifest).await }
    })
    .await;
    let stored = a.server.app(&a.app.client_id).await.unwrap().manifests;
    let mut kept = 1;
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(version) => {
                kept += 1;
                let manifest = stored
                    .iter()
                    .find(|manifest| manifest.version == *version)
                    .unwrap_or_else(|| panic!("version {version} (publish {i}) was lost"));
                assert!(
                    manifest
                        .company
                        .contains_key(&Tool::new(format!("tool-{i}"))),
                    "version {version} is not what publish {i} published: {manifest:?}"
                );
            }
            Err(appgrant::server::ServerError::Busy) => {}
            Err(error) => panic!("publish {i} failed: {error}"),
        }
    }
    let versions: Vec<u32> = stored.iter().map(|manifest| manifest.version).collect();
    let expected: Vec<u32> = (1..=kept).collect();
    assert_eq!(versions, expected, "one version per publish that succeeded");
}

/// An app of acme's, registered (not saved), with a service account saved for it in acme holding
/// rfis at each of `levels`, one account each.
async fn app_with_accounts(store: &SqlStore, levels: &[Level]) -> (App, Vec<UserId>) {
    use appgrant::store::{Directory, ServiceAccount};
    let (app, _) = store_suite::registration("FieldSync")
        .register(&mut rand::thread_rng())
        .unwrap();
    let mut accounts = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        let id = UserId::new(format!("sa-{i}"));
        let account = ServiceAccount {
            company: CompanyId::new("acme"),
            id: id.clone(),
            name: format!("FieldSync account {i}"),
            app: app.client_id.clone(),
            permissions: Permissions::none().with(Scope::Company, "rfis", *level),
        };
        store.save_service_account(&account).await.unwrap();
        accounts.push(id);
    }
    (app, accounts)
}

/// The installation of `app` in acme, naming `account` as its service account.
fn installation_naming(app: &App, account: &UserId) -> Installation {
    let acme = CompanyId::new("acme");
    let mut installation =
        Installation::request(app, &acme, &UserId::new("jane"), store_suite::start());
    installation.service_account = Some(ServiceAccountGrant {
        user: account.clone(),
        approved: Manifest::new(1),
        permitted_projects: Default::default(),
    });
    installation
}

/// What a decision for `app`'s service account in acme reads: the installation, and the id
/// and permissions of the account it acts as.
async fn account_decided_with(
    store: &SqlStore,
    app: &App,
) -> (Option<Installation>, Option<UserId>, Option<Permissions>) {
    use appgrant::store::{Acting, DecisionQuery, InstallationStore, MemberReads};
    let (acme, grant) = (CompanyId::new("acme"), GrantId::new("grant-1"));
    let query = DecisionQuery {
        app: &app.client_id,
        company: &acme,
        grant: &grant,
        acting: Acting::ServiceAccount,
        member: MemberReads::InStore,
    };
    let read = store.decision_records(&query).await.unwrap();
    let (user, held) = read.member.expect("the member was read in store");
    (read.installation, user.map(|user| user.id), held)
}

/// The service account a decision acts as is the one the installation's record names, even
/// when the record was written by an instance that knows nothing of the column a decision
/// joins on (an older release sharing the database writes only the record): the database
/// computes that column from the record at every write.
async fn a_service_account_named_by_a_record_written_by_an_older_instance_is_the_one_decided_with(
    database: &Database,
) {
    use appgrant::store::InstallationStore;
    let store = database.open().await;
    let (app, accounts) = app_with_accounts(&store, &[Level::ReadOnly, Level::Admin]).await;
    store
        .save_installation(installation_naming(&app, &accounts[0]))
        .await
        .unwrap();
    let (_, acting, _) = account_decided_with(&store, &app).await;
    assert_eq!(acting.as_ref(), Some(&accounts[0]));

    // An older instance rewrites the record alone, naming the second account.
    let renamed = installation_naming(&app, &accounts[1]);
    let raw = database.raw_pool().await;
    sqlx::query(
        "UPDATE appgrant_installations SET record = $1 WHERE app_id = $2 AND company_id = $3",
    )
    .bind(serde_json::to_string(&renamed).unwrap())
    .bind(app.client_id.to_string())
    .bind("acme")
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    let (installation, acting, _) = account_decided_with(&store, &app).await;
    assert_eq!(installation, Some(renamed));
    assert_eq!(
        acting.as_ref(),
        Some(&accounts[1]),
        "the decision acted as the account the record no longer names"
    );
}

/// An installation stored before the service-account column existed (migration 10) is decided,
/// once the schema is brought up to date, with the service account its record names.
async fn an_installation_stored_before_the_service_account_column_is_decided_with_its_account(
    database: &Database,
) {
    let store = database.open().await;
    let (app, accounts) = app_with_accounts(&store, &[Level::Standard]).await;
    let installation = installation_naming(&app, &accounts[0]);
    // Back to the schema of version 9, with the installation stored as it stored it (the
    // later migrations undone too, newest first).
    let raw = database.raw_pool().await;
    for statement in [
        "ALTER TABLE appgrant_families DROP COLUMN dpop_jkt",
        "DROP TABLE appgrant_used_once",
        "ALTER TABLE appgrant_installations DROP COLUMN service_account",
        "DELETE FROM appgrant_schema WHERE version >= 10",
    ] {
        sqlx::query(statement).execute(&raw).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO appgrant_installations (app_id, company_id, record, revision) \
         VALUES ($1, 'acme', $2, 0)",
    )
    .bind(app.client_id.to_string())
    .bind(serde_json::to_string(&installation).unwrap())
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;

    let upgraded = database.open().await;
    let (read, acting, held) = account_decided_with(&upgraded, &app).await;
    assert_eq!(read, Some(installation));
    assert_eq!(acting.as_ref(), Some(&accounts[0]));
    assert!(held.is_some(), "the account's permissions were not read");
}

macro_rules! shared_database_tests {
    ($( $(#[$attribute:meta])* $name:ident; )*) => {
        $(
            $(#[$attribute])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(database) = fixture().await else { return };
                super::$name(&database).await;
            }
        )*
    };
}

macro_rules! every_shared_database_test {
    ($(#[$starting_together:meta])*) => {
        shared_database_tests! {
            a_code_raced_across_both_servers_is_exchanged_once_and_the_reuse_revokes_it;
            a_refresh_token_rotated_on_one_server_is_dead_on_the_other;
            a_refresh_raced_across_both_servers_rotates_once;
            a_revocation_through_one_server_is_seen_by_the_next_decision_through_the_other;
            an_uninstall_through_one_server_is_seen_by_the_next_decision_through_the_other;
            a_permission_change_through_one_server_is_seen_by_the_next_decision_through_the_other;
            a_service_account_named_by_a_record_written_by_an_older_instance_is_the_one_decided_with;
            an_installation_stored_before_the_service_account_column_is_decided_with_its_account;
            data_survives_a_restart;
            secrets_codes_and_tokens_are_stored_only_as_digests;
            a_family_takes_the_same_storage_however_often_it_rotates;
            manifests_published_at_once_through_both_servers_are_all_kept;
            $(#[$starting_together])*
            instances_starting_together_on_a_fresh_database_all_come_up;
        }
    };
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::store_suite::fixtures::{Database, sqlite_file};

    async fn fixture() -> Option<Database> {
        Some(sqlite_file())
    }

    every_shared_database_test!();
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::store_suite::fixtures::{Database, postgres_database};

    async fn fixture() -> Option<Database> {
        postgres_database().await
    }

    every_shared_database_test!();

    shared_database_tests! {
        a_revocation_committed_while_its_family_is_being_saved_leaves_the_family_revoked;
    }
}

/// The race a reused code runs against the first redemption, made deterministic: the family's
/// transaction is held open (by a raw transaction holding the row the family would take)
/// until a revocation of its grant has committed. In memory and SQLite the two writes
/// are serialized; every order must end with the family revoked.
#[cfg(feature = "postgres")]
async fn a_revocation_committed_while_its_family_is_being_saved_leaves_the_family_revoked(
    database: &Database,
) {
    use appgrant::grant::FamilyStatus;
    use appgrant::store::{RefreshStore, RevocationStore};

    let store = database.open().await;
    let family = store_suite::family("grant-1", "r0");
    let raw = database.raw_pool().await;
    let mut holder = raw.begin().await.unwrap();
    // A row with the family's key, never committed: the save's insert waits on it.
    sqlx::query(
        "INSERT INTO appgrant_families (grant_id, client_id, user_id, current_digest, \
         created_at, rotated_at, status) VALUES ($1, 'holder', 'holder', $2, 0, 0, 'active')",
    )
    .bind(family.grant.to_string())
    .bind(family.current.to_hex())
    .execute(&mut *holder)
    .await
    .unwrap();
    let saving = tokio::spawn({
        let (store, family) = (store.clone(), family.clone());
        async move { store.save_family(family).await }
    });
    // Wait until the save is inside its transaction, blocked behind the holder.
    let mut waited = 0;
    loop {
        let blocked: i64 = sqlx::query(
            "SELECT COUNT(*) AS blocked FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&raw)
        .await
        .unwrap()
        .get("blocked");
        if blocked > 0 {
            break;
        }
        waited += 1;
        assert!(waited < 500, "save_family never blocked");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The revocation may have to wait for the save (that is the fix), so it runs as a task,
    // given a moment to either finish or queue up behind the save before the holder lets go.
    let revoking = tokio::spawn({
        let (store, grant) = (store.clone(), family.grant.clone());
        async move { store.revoke_grant(&grant, store_suite::start()).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    holder.rollback().await.unwrap();
    saving.await.unwrap().unwrap();
    revoking.await.unwrap().unwrap();

    assert!(store.is_revoked(&family.grant).await.unwrap());
    let stored = store.family(&family.grant).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        FamilyStatus::Revoked,
        "the family of a revoked grant is active and can still refresh"
    );
}

/// The schema of the first release (migration 1), as a database made by it holds it.
#[cfg(feature = "sqlite")]
const FIRST_RELEASE_SCHEMA: &[&str] = &[
    "CREATE TABLE appgrant_schema (version BIGINT PRIMARY KEY)",
    "CREATE TABLE appgrant_apps (client_id TEXT PRIMARY KEY, record TEXT NOT NULL)",
    "CREATE TABLE appgrant_companies (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
    "CREATE TABLE appgrant_users (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
    "CREATE TABLE appgrant_memberships (company_id TEXT NOT NULL, user_id TEXT NOT NULL, \
     permissions TEXT NOT NULL, PRIMARY KEY (company_id, user_id))",
    "CREATE TABLE appgrant_installations (app_id TEXT NOT NULL, company_id TEXT NOT NULL, \
     record TEXT NOT NULL, revision BIGINT NOT NULL, PRIMARY KEY (app_id, company_id))",
    "CREATE TABLE appgrant_codes (digest TEXT PRIMARY KEY, record TEXT NOT NULL, \
     spent BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
    "CREATE TABLE appgrant_families (grant_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, \
     user_id TEXT NOT NULL, current_digest TEXT NOT NULL, previous_digest TEXT, \
     created_at BIGINT NOT NULL, rotated_at BIGINT NOT NULL, expires_at BIGINT, status TEXT NOT NULL)",
    "CREATE TABLE appgrant_refresh_tokens (digest TEXT PRIMARY KEY, grant_id TEXT NOT NULL, \
     generation BIGINT NOT NULL)",
    "CREATE TABLE appgrant_revoked_grants (grant_id TEXT PRIMARY KEY, revoked_at BIGINT NOT NULL)",
    "CREATE TABLE appgrant_consents (user_id TEXT NOT NULL, app_id TEXT NOT NULL, \
     granted_at BIGINT NOT NULL, PRIMARY KEY (user_id, app_id))",
    "INSERT INTO appgrant_schema (version) VALUES (1)",
];

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_instances_upgrading_an_old_file_at_once_all_come_up() {
    let mut failures = Vec::new();
    for _ in 0..10 {
        let database = store_suite::fixtures::sqlite_file();
        std::fs::File::create(database.url().trim_start_matches("sqlite://")).unwrap();
        let raw = database.raw_pool().await;
        for statement in FIRST_RELEASE_SCHEMA {
            sqlx::query(statement).execute(&raw).await.unwrap();
        }
        raw.close().await;
        let url = database.url().to_owned();
        let starts = race(3, |_| {
            let url = url.clone();
            async move { SqlStore::connect(&url).await.map(|_| ()) }
        })
        .await;
        failures.extend(
            starts
                .into_iter()
                .filter_map(Result::err)
                .map(|e| e.to_string()),
        );
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        failures.first()
    );
}

/// An app saved before apps had revisions (its record says nothing of one) reads as revision 0
/// once the schema is up to date, and is changed over it like any other; the revision read is
/// the column's, so an instance not yet upgraded that rewrites the record cannot wedge it.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_stored_before_revisions_existed_reads_as_revision_0_and_is_changed_over_its_column()
{
    use appgrant::store::AppStore;
    let database = store_suite::fixtures::sqlite_file();
    std::fs::File::create(database.url().trim_start_matches("sqlite://")).unwrap();
    let raw = database.raw_pool().await;
    for statement in FIRST_RELEASE_SCHEMA {
        sqlx::query(statement).execute(&raw).await.unwrap();
    }
    let (app, _) = store_suite::registration("FieldSync")
        .register(&mut rand::thread_rng())
        .unwrap();
    let mut record = serde_json::to_value(&app).unwrap();
    record.as_object_mut().unwrap().remove("revision");
    sqlx::query("INSERT INTO appgrant_apps (client_id, record) VALUES ($1, $2)")
        .bind(app.client_id.to_string())
        .bind(record.to_string())
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;

    let store = SqlStore::connect(database.url()).await.unwrap();
    assert_eq!(store.app(&app.client_id).await.unwrap(), Some(app.clone()));
    let renamed = App {
        name: "FieldSync Pro".into(),
        revision: 1,
        ..app.clone()
    };
    assert!(!store.update_app(1, renamed.clone()).await.unwrap());
    assert!(store.update_app(0, renamed.clone()).await.unwrap());
    assert_eq!(
        store.app(&app.client_id).await.unwrap(),
        Some(renamed.clone())
    );

    // An instance not upgraded yet saves the app as it always did: its record says nothing of
    // a revision, and the column keeps the one the change is compared with.
    let mut old_record = serde_json::to_value(App {
        name: "Renamed by an old instance".into(),
        ..renamed.clone()
    })
    .unwrap();
    old_record.as_object_mut().unwrap().remove("revision");
    let raw = database.raw_pool().await;
    sqlx::query(
        "INSERT INTO appgrant_apps (client_id, record) VALUES ($1, $2) \
         ON CONFLICT (client_id) DO UPDATE SET record = excluded.record",
    )
    .bind(app.client_id.to_string())
    .bind(old_record.to_string())
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;
    let read = store.app(&app.client_id).await.unwrap().unwrap();
    assert_eq!(
        read.revision, 1,
        "the app reads at the record's revision, which no update can match, not the column's"
    );
    let next = App {
        name: "FieldSync 2".into(),
        revision: 2,
        ..read
    };
    assert!(store.update_app(1, next.clone()).await.unwrap());
    assert_eq!(store.app(&app.client_id).await.unwrap(), Some(next));
}
