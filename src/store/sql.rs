//! SQL storage with `sqlx`: SQLite (feature `sqlite`), a file, for one instance; PostgreSQL
//! (feature `postgres`) for many instances sharing one database.
//!
//! One schema and one set of statements serve both databases. Atomic operations are single
//! statements (`UPDATE … RETURNING` to redeem a code) or transactions that begin with their
//! write (rotating a refresh token, revoking a grant), so the database, not process memory,
//! decides races between instances. Secrets appear only as SHA-256 digests in hex.

use super::decoded_records::DecodedRecords;
use super::{
    Acting, AppStore, AppWithInstallation, CodeStore, ConsentStore, DecisionQuery, DecisionRecords,
    Directory, DirectoryStore, InstallationStore, KeyStore, MemberReads, RefreshStore, ReplayStore,
    RevocationStore, ServiceAccount, StoreError, StoreResult,
};
use crate::grant::{CodeRecord, FamilyStatus, Redemption, RefreshFamily};
use crate::model::{
    App, ClientId, Company, CompanyId, GrantId, Installation, Permissions, Scopes, SecretDigest,
    User, UserId, UserKind, UserStatus,
};
use crate::token::{Algorithm, StoredKey};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{AnyPool, Row};

/// The schema, one migration per entry, applied in order on connect.
const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE IF NOT EXISTS appgrant_apps (client_id TEXT PRIMARY KEY, record TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS appgrant_companies (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS appgrant_users (id TEXT PRIMARY KEY, record TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS appgrant_memberships (company_id TEXT NOT NULL, user_id TEXT NOT NULL, \
         permissions TEXT NOT NULL, PRIMARY KEY (company_id, user_id))",
            "CREATE TABLE IF NOT EXISTS appgrant_installations (app_id TEXT NOT NULL, company_id TEXT NOT NULL, \
         record TEXT NOT NULL, revision BIGINT NOT NULL, PRIMARY KEY (app_id, company_id))",
            "CREATE TABLE IF NOT EXISTS appgrant_codes (digest TEXT PRIMARY KEY, record TEXT NOT NULL, \
         spent BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS appgrant_families (grant_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, \
         user_id TEXT NOT NULL, current_digest TEXT NOT NULL, previous_digest TEXT, \
         created_at BIGINT NOT NULL, rotated_at BIGINT NOT NULL, expires_at BIGINT, status TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS appgrant_refresh_tokens (digest TEXT PRIMARY KEY, grant_id TEXT NOT NULL, \
         generation BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS appgrant_refresh_tokens_grant ON appgrant_refresh_tokens (grant_id)",
            "CREATE TABLE IF NOT EXISTS appgrant_revoked_grants (grant_id TEXT PRIMARY KEY, \
         revoked_at BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS appgrant_consents (user_id TEXT NOT NULL, app_id TEXT NOT NULL, \
         granted_at BIGINT NOT NULL, PRIMARY KEY (user_id, app_id))",
        ],
    ),
    // Refresh tokens name their family and generation, so a family is one row however often
    // it rotates, and the per-token index goes. Families from before keep working for nothing:
    // their tokens are not in the new form, so they are unknown (clients sign in again).
    (
        2,
        &[
            "ALTER TABLE appgrant_families ADD COLUMN generation BIGINT NOT NULL DEFAULT 0",
            "DROP TABLE IF EXISTS appgrant_refresh_tokens",
        ],
    ),
    // Signing keys shared by the instances, sealed under the deployment's key.
    (
        3,
        &[
            "CREATE TABLE IF NOT EXISTS appgrant_signing_keys (kid TEXT PRIMARY KEY, \
             generation BIGINT NOT NULL UNIQUE, algorithm TEXT NOT NULL, sealed TEXT NOT NULL, \
             created_at BIGINT NOT NULL, signs_from BIGINT NOT NULL)",
        ],
    ),
    // A user's memberships, read to tell whether their token could be allowed anywhere.
    (
        4,
        &["CREATE INDEX IF NOT EXISTS appgrant_memberships_user ON appgrant_memberships (user_id)"],
    ),
    // A company's installations, listed on its admin page.
    (
        5,
        &["CREATE INDEX IF NOT EXISTS appgrant_installations_company \
             ON appgrant_installations (company_id)"],
    ),
    // A person's refresh families for one app, all revoked when they disconnect it.
    (
        6,
        &["CREATE INDEX IF NOT EXISTS appgrant_families_user_app \
           ON appgrant_families (user_id, client_id)"],
    ),
    // An app's revision, which a change is saved over (as an installation's is). Apps from
    // before read as revision 0, their records saying nothing of one.
    (
        7,
        &["ALTER TABLE appgrant_apps ADD COLUMN revision BIGINT NOT NULL DEFAULT 0"],
    ),
    // The scopes a person granted, which every access token of the family is limited to.
    // Families from before have none: they were granted without scopes.
    (8, &["ALTER TABLE appgrant_families ADD COLUMN scope TEXT"]),
    // The resource server a person authorized the family for (RFC 8707), if they named one.
    (
        9,
        &["ALTER TABLE appgrant_families ADD COLUMN resource TEXT"],
    ),
    // Client assertion and DPoP proof ids, by digest, remembered while they could be replayed.
    (
        11,
        &[
            "CREATE TABLE IF NOT EXISTS appgrant_used_once (digest TEXT PRIMARY KEY, \
           until_at BIGINT NOT NULL)",
        ],
    ),
    // The DPoP key a public client's refresh family is bound to (RFC 9449 §5). Families from
    // before are bound to none.
    (
        12,
        &["ALTER TABLE appgrant_families ADD COLUMN dpop_jkt TEXT"],
    ),
];

/// Migrations whose SQL differs by database, applied in version order among the common ones:
/// (version, SQLite's statements, PostgreSQL's statements).
const DIALECT_MIGRATIONS: &[(i64, &[&str], &[&str])] = &[
    // The service account an installation names, as a column the database computes from the
    // record on every write (whichever instance, of whichever version, writes it), so a
    // decision joins on it instead of parsing the record's JSON for every row. PostgreSQL
    // stores it; SQLite can only add a column computed when read, kept for one schema.
    (
        10,
        &[
            "ALTER TABLE appgrant_installations ADD COLUMN service_account TEXT \
           GENERATED ALWAYS AS (json_extract(record, '$.service_account.user')) VIRTUAL",
        ],
        &[
            "ALTER TABLE appgrant_installations ADD COLUMN service_account TEXT \
           GENERATED ALWAYS AS ((record::json -> 'service_account') ->> 'user') STORED",
        ],
    ),
    // SQLite computed that column from the record's JSON at every read, twice per decision
    // (about 2% of a decision's time over HTTP): the table is rebuilt to store it, as
    // PostgreSQL does. SQLite cannot add a stored column to a table, hence the copy; it is
    // one transaction with the rest of the migration.
    (
        13,
        &[
            "CREATE TABLE appgrant_installations_rebuilt (app_id TEXT NOT NULL, \
             company_id TEXT NOT NULL, record TEXT NOT NULL, revision BIGINT NOT NULL, \
             service_account TEXT \
             GENERATED ALWAYS AS (json_extract(record, '$.service_account.user')) STORED, \
             PRIMARY KEY (app_id, company_id))",
            "INSERT INTO appgrant_installations_rebuilt (app_id, company_id, record, revision) \
             SELECT app_id, company_id, record, revision FROM appgrant_installations",
            "DROP TABLE appgrant_installations",
            "ALTER TABLE appgrant_installations_rebuilt RENAME TO appgrant_installations",
            "CREATE INDEX IF NOT EXISTS appgrant_installations_company \
             ON appgrant_installations (company_id)",
        ],
        &[],
    ),
];

pub(super) fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(error))
}

pub(super) fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(backend)
}

pub(super) fn from_json<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(backend)
}

/// Times are stored as nanoseconds since the epoch, the clock's own precision, so an expiry
/// read back is exactly the one written.
fn stamp(at: DateTime<Utc>) -> StoreResult<i64> {
    at.timestamp_nanos_opt()
        .ok_or_else(|| backend(Corrupt("time outside 1677-2262")))
}

#[derive(Debug, thiserror::Error)]
#[error("stored value is corrupt: {0}")]
struct Corrupt(&'static str);

fn time(nanos: i64) -> StoreResult<DateTime<Utc>> {
    Ok(DateTime::from_timestamp_nanos(nanos))
}

fn revision(installation: &Installation) -> StoreResult<i64> {
    i64::try_from(installation.revision).map_err(backend)
}

fn app_revision(app: &App) -> StoreResult<i64> {
    i64::try_from(app.revision).map_err(backend)
}

/// An app row, at the revision its column says: the column is what `update_app` compares, and
/// an instance from before migration 7 sharing the database rewrites the record without one.
fn app_from(row: &AnyRow, decoded: &DecodedRecords) -> StoreResult<App> {
    app_at(
        &text(row, "record")?,
        row.try_get("revision").map_err(backend)?,
        decoded,
    )
}

/// An app's record, at the revision its column says (see [`app_from`]).
pub(super) fn app_at(record: &str, revision: i64, decoded: &DecodedRecords) -> StoreResult<App> {
    let mut app = decoded.apps.decode(record)?;
    app.revision = u64::try_from(revision).map_err(backend)?;
    Ok(app)
}

fn digest(hex: &str) -> StoreResult<SecretDigest> {
    SecretDigest::from_hex(hex).ok_or_else(|| backend(Corrupt("digest")))
}

/// The columns of the decision statement, as the database returned them (by default: nothing
/// found, nothing revoked).
#[derive(Clone, Default)]
pub(super) struct DecisionRow {
    pub(super) record: Option<String>,
    pub(super) revoked: i64,
    pub(super) ceiling: Option<String>,
    pub(super) user: Option<String>,
    pub(super) permissions: Option<String>,
}

impl DecisionRow {
    /// The columns of a decision statement's row; the member's only when the statement read
    /// them (`MemberReads::InStore`).
    pub(super) fn read(row: &AnyRow, member: MemberReads) -> StoreResult<Self> {
        let get = |column| row.try_get::<Option<String>, _>(column).map_err(backend);
        let in_store = member == MemberReads::InStore;
        Ok(Self {
            record: get("record")?,
            revoked: row.try_get("revoked").map_err(backend)?,
            ceiling: get("ceiling")?,
            user: if in_store { get("user_record")? } else { None },
            permissions: if in_store { get("permissions")? } else { None },
        })
    }

    pub(super) fn decode(
        &self,
        member: MemberReads,
        decoded: &DecodedRecords,
    ) -> StoreResult<DecisionRecords> {
        let member = match member {
            MemberReads::InStore => Some((
                decoded.users.decode_some(self.user.as_deref())?,
                decoded
                    .permissions
                    .decode_some(self.permissions.as_deref())?,
            )),
            MemberReads::Elsewhere => None,
        };
        Ok(DecisionRecords {
            installation: decoded.installations.decode_some(self.record.as_deref())?,
            revoked: self.revoked > 0,
            // A stored `null` ceiling (none) reads as none, as an absent one does.
            ceiling: decoded
                .ceilings
                .decode_some(self.ceiling.as_deref())?
                .flatten(),
            member,
        })
    }
}

/// One decision's question, owned, as a SQLite file's shared read takes it.
#[cfg(feature = "sqlite")]
#[derive(PartialEq, Eq, Hash)]
struct SqliteDecision {
    /// Which of the store's decision statements answers it.
    statement: usize,
    app: String,
    company: String,
    grant: String,
    person: Option<String>,
    member: MemberReads,
}

/// A SQLite file's shared decision reads, each answered with a row shared by its callers.
#[cfg(feature = "sqlite")]
type SqliteDecisionReads =
    std::sync::Arc<super::shared_reads::SharedReads<SqliteDecision, std::sync::Arc<DecisionRow>>>;

/// The decisions in flight together on a SQLite file, each read with its own statement but
/// all in one read transaction on one connection: the file's locks, taken and released for
/// every statement read alone, are taken once per batch, and the threads serving requests no
/// longer contend for SQLite's process-wide lock at every read.
#[cfg(feature = "sqlite")]
fn sqlite_decisions(
    reads: std::sync::Arc<super::sqlite_reads::SqliteReads>,
    statements: std::sync::Arc<[String; 4]>,
    patience: std::time::Duration,
) -> SqliteDecisionReads {
    let read: super::shared_reads::ReadBatch<SqliteDecision, std::sync::Arc<DecisionRow>> =
        std::sync::Arc::new(move |keys: Vec<SqliteDecision>| {
            let answers = reads.read_each(&keys, |connection, key| {
                let statement = statements.get(key.statement).map_or("", String::as_str);
                let mut prepared = connection.prepare_cached(statement)?;
                let parameters: [(&str, &dyn rusqlite::ToSql); 4] = [
                    ("$1", &key.app),
                    ("$2", &key.company),
                    ("$3", &key.grant),
                    ("$4", &key.person),
                ];
                prepared.query_row(&parameters[..], |row| {
                    sqlite_decision_row(row, key.member).map(std::sync::Arc::new)
                })
            });
            Box::pin(std::future::ready(answers))
        });
    // One reader: the point is one connection reading for everyone at a time.
    super::shared_reads::SharedReads::new(1, patience, read)
}

#[cfg(feature = "sqlite")]
fn sqlite_decision_row(
    row: &rusqlite::Row<'_>,
    member: MemberReads,
) -> rusqlite::Result<DecisionRow> {
    let in_store = member == MemberReads::InStore;
    Ok(DecisionRow {
        record: row.get("record")?,
        revoked: row.get("revoked")?,
        ceiling: row.get("ceiling")?,
        user: if in_store {
            row.get("user_record")?
        } else {
            None
        },
        permissions: if in_store {
            row.get("permissions")?
        } else {
            None
        },
    })
}

/// A store in SQLite or PostgreSQL, chosen by the URL. Cloning shares the pool.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    /// Whether the database can be reached: while it cannot, calls are refused at once.
    reachability: std::sync::Arc<super::reachability::Reachability>,
    database: Database,
    /// The decision statements, built once (see [`decision_statements`]).
    decision_statements: std::sync::Arc<[String; 4]>,
    /// The hot reads' records, decoded once per distinct stored text.
    decoded: std::sync::Arc<DecodedRecords>,
    /// On PostgreSQL, the hot reads in flight together, read in shared statements.
    #[cfg(feature = "postgres")]
    shared: Option<super::postgres_reads::PostgresReads>,
    /// On a SQLite file, the decisions in flight together, read in one read transaction.
    #[cfg(feature = "sqlite")]
    sqlite_decisions: Option<SqliteDecisionReads>,
    /// The decision path's reads, on the calling thread, for a SQLite file.
    #[cfg(feature = "sqlite")]
    sqlite_reads: Option<std::sync::Arc<super::sqlite_reads::SqliteReads>>,
}

/// Which database the URL named: the few statements that differ depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Database {
    Sqlite,
    Postgres,
}

/// Whose membership a decision statement reads: the token's person, or the installation's
/// service account.
#[derive(Clone, Copy)]
enum ActingKind {
    Person,
    ServiceAccount,
}

/// The decision statement of each kind of query, built once per store (in the order
/// [`SqlStore::decision_statement`] picks them): the SQL differs only by database, acting
/// user and where members are read.
fn decision_statements(database: Database) -> [String; 4] {
    [
        (ActingKind::Person, MemberReads::InStore),
        (ActingKind::Person, MemberReads::Elsewhere),
        (ActingKind::ServiceAccount, MemberReads::InStore),
        (ActingKind::ServiceAccount, MemberReads::Elsewhere),
    ]
    .map(|(acting, member)| decision_statement(database, acting, member))
}

fn decision_statement(database: Database, acting: ActingKind, member: MemberReads) -> String {
    let ceiling = match (acting, database) {
        (ActingKind::ServiceAccount, _) => "NULL",
        (ActingKind::Person, Database::Sqlite) => {
            "(SELECT json_extract(a.record, '$.ceiling') FROM appgrant_apps a \
             WHERE a.client_id = $1)"
        }
        (ActingKind::Person, Database::Postgres) => {
            "(SELECT a.record::json ->> 'ceiling' FROM appgrant_apps a WHERE a.client_id = $1)"
        }
    };
    // The acting user: the person, or the service account the installation names (the column
    // the database computes from its record).
    let (member, joins) = match member {
        MemberReads::InStore => (
            "u.record AS user_record, m.permissions AS permissions, ",
            "LEFT JOIN appgrant_users u ON u.id = COALESCE(q.person, i.service_account) \
             LEFT JOIN appgrant_memberships m ON m.company_id = $2 \
             AND m.user_id = COALESCE(q.person, i.service_account)",
        ),
        MemberReads::Elsewhere => ("", ""),
    };
    // One row whether or not the installation exists: the joins hang off a one-row select
    // (of the person, so every statement takes all four parameters).
    format!(
        "SELECT i.record AS record, {member}\
         (SELECT COUNT(*) FROM appgrant_revoked_grants r WHERE r.grant_id = $3) AS revoked, \
         {ceiling} AS ceiling \
         FROM (SELECT CAST($4 AS TEXT) AS person) q \
         LEFT JOIN appgrant_installations i ON i.app_id = $1 AND i.company_id = $2 {joins}"
    )
}

/// How long a shared read waits for its answer: twice what a call waits for a connection, so
/// a database that stopped answering is reported as failing as quickly as one that is down.
pub(super) fn read_patience(pool: &AnyPool) -> std::time::Duration {
    pool.options().get_acquire_timeout().saturating_mul(2)
}

/// The advisory lock that lets one instance at a time bring the schema up to date.
const MIGRATION_LOCK: i64 = 0x6170_7067_7261_6e74; // "appgrant"

/// How a [`SqlStore`] opens its pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlOptions {
    /// The most connections the pool opens (default: twice the cores this process may use,
    /// from 4 to 16). On PostgreSQL the shared reads keep a few of their own besides, taken
    /// from the pool and detached from it: one per reader of each of their two kinds, so two
    /// per four pooled connections (a pool of 16 may be joined by 8 more).
    pub max_connections: u32,
    /// How long a call waits for a connection before failing (default 3 s): with the database
    /// down, requests fail fast instead of hanging.
    pub acquire_timeout: std::time::Duration,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            // More connections than the cores can keep busy only queue in the database and
            // switch between its processes: on 2 cores, 4 connections answered 20% more
            // decisions and grants than 16 (scripts/load_by_store.py, PostgreSQL).
            max_connections: std::thread::available_parallelism()
                .map_or(4, |cores| u32::try_from(cores.get() * 2).unwrap_or(16))
                .clamp(4, 16),
            acquire_timeout: std::time::Duration::from_secs(3),
        }
    }
}

/// The URL schemes this build can open, and the feature each needs.
fn check_scheme(url: &str) -> StoreResult<Database> {
    let scheme = url.split(':').next().unwrap_or_default();
    let (database, enabled, feature) = match scheme {
        "sqlite" => (Database::Sqlite, cfg!(feature = "sqlite"), "sqlite"),
        "postgres" | "postgresql" => (Database::Postgres, cfg!(feature = "postgres"), "postgres"),
        _ => return Err(StoreError::UnsupportedUrl { feature: None }),
    };
    if enabled {
        Ok(database)
    } else {
        Err(StoreError::UnsupportedUrl {
            feature: Some(feature),
        })
    }
}

impl SqlStore {
    /// Whether this store reads an app with its installation in one statement: where it reads
    /// on the calling thread (a SQLite file) or shares its reads (PostgreSQL).
    fn reads_app_with_installation(&self) -> bool {
        #[cfg(feature = "sqlite")]
        if self.sqlite_reads.is_some() {
            return true;
        }
        #[cfg(feature = "postgres")]
        if self.shared.is_some() {
            return true;
        }
        false
    }

    /// The app and its installation in the company, read together in one statement (only
    /// where [`reads_app_with_installation`](Self::reads_app_with_installation)).
    async fn read_app_with_installation(
        &self,
        client_id: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<AppWithInstallation> {
        #[cfg(feature = "sqlite")]
        if let Some(reads) = self.reads_here()? {
            const STATEMENT: &str = "SELECT a.record AS app_record, a.revision AS revision, \
                 i.record AS installation_record FROM (SELECT 1) q \
                 LEFT JOIN appgrant_apps a ON a.client_id = $1 \
                 LEFT JOIN appgrant_installations i ON i.app_id = $1 AND i.company_id = $2";
            let parameters: [(&str, &dyn rusqlite::ToSql); 2] =
                [("$1", &client_id.as_str()), ("$2", &company.as_str())];
            let row = reads.optional_row(STATEMENT, &parameters, |row| {
                let record: Option<String> = row.get("app_record")?;
                let revision: Option<i64> = row.get("revision")?;
                Ok((record.zip(revision), row.get("installation_record")?))
            })?;
            // The joins hang off a one-row select: a row always comes back.
            let (app, installation): (_, Option<String>) = row.unwrap_or_default();
            return self.app_with_installation_of(app, installation);
        }
        #[cfg(feature = "postgres")]
        if let Some(shared) = &self.shared {
            let (app, installation) = shared.app_with_installation(client_id, company).await?;
            return self.app_with_installation_of(app, installation);
        }
        Ok((None, None))
    }

    /// An app and its installation from their records as stored.
    fn app_with_installation_of(
        &self,
        app: Option<(impl AsRef<str>, i64)>,
        installation: Option<impl AsRef<str>>,
    ) -> StoreResult<AppWithInstallation> {
        let app = self.app_of(app)?;
        let installation = self
            .decoded
            .installations
            .decode_some(installation.as_ref().map(AsRef::as_ref))?;
        Ok((app, installation))
    }

    /// An app from its record and revision as stored.
    fn app_of(&self, stored: Option<(impl AsRef<str>, i64)>) -> StoreResult<Option<App>> {
        stored
            .map(|(record, revision)| app_at(record.as_ref(), revision, &self.decoded))
            .transpose()
    }

    /// An app's installation in the company, read where this store reads it fastest.
    async fn read_installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Installation>> {
        const STATEMENT: &str =
            "SELECT record FROM appgrant_installations WHERE app_id = $1 AND company_id = $2";
        let decoded = &self.decoded.installations;
        #[cfg(feature = "sqlite")]
        if let Some(reads) = self.reads_here()? {
            let parameters: [(&str, &dyn rusqlite::ToSql); 2] =
                [("$1", &app.as_str()), ("$2", &company.as_str())];
            let record: Option<String> =
                reads.optional_row(STATEMENT, &parameters, |row| row.get("record"))?;
            return decoded.decode_some(record.as_deref());
        }
        #[cfg(feature = "postgres")]
        if let Some(shared) = &self.shared {
            let record = shared.installation(app, company).await?;
            return decoded.decode_some(record.as_deref());
        }
        let row = sqlx::query(STATEMENT)
            .bind(app.to_string())
            .bind(company.to_string())
            .fetch_optional(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        let record = row.map(|row| text(&row, "record")).transpose()?;
        decoded.decode_some(record.as_deref())
    }

    /// Every installation whose `column` (`app_id` or `company_id`, never caller text) is
    /// `value`, unsorted.
    async fn installations_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> StoreResult<Vec<Installation>> {
        let sql = format!("SELECT record FROM appgrant_installations WHERE {column} = $1");
        let rows = sqlx::query(&sql)
            .bind(value.to_owned())
            .fetch_all(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| from_json(&text(row, "record")?))
            .collect()
    }

    /// The one statement a decision reads everything with (see
    /// [`InstallationStore::decision_records`]). Its parameters: $1 the app, $2 the company,
    /// $3 the grant, $4 the person (null for a service account). The acting user is the person
    /// or the service account named in the installation's record, read in the same statement,
    /// so the account and what it holds are those of the installation read. COUNT decodes as an
    /// integer on both databases (EXISTS would be a boolean on one and an integer on the other).
    fn decision_statement(&self, query: &DecisionQuery<'_>) -> &str {
        &self.decision_statements[self.decision_statement_index(query)]
    }

    /// Where [`decision_statement`](Self::decision_statement) is in the store's statements.
    fn decision_statement_index(&self, query: &DecisionQuery<'_>) -> usize {
        let acting = match query.acting {
            Acting::Person(_) => 0,
            Acting::ServiceAccount => 2,
        };
        let member = match query.member {
            MemberReads::InStore => 0,
            MemberReads::Elsewhere => 1,
        };
        acting + member
    }

    /// Connects to `url` (`sqlite://path.db`, created if missing, or `postgres://…`) with the
    /// default [`SqlOptions`] and brings the schema up to date.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, &SqlOptions::default()).await
    }

    /// Connects to `url` with `options` and brings the schema up to date.
    pub async fn connect_with(url: &str, options: &SqlOptions) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        check_scheme(url)?;
        let url = match url.strip_prefix("sqlite://") {
            Some(path) if !path.contains('?') && path != ":memory:" => {
                format!("sqlite://{path}?mode=rwc")
            }
            _ => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // A round trip per checkout is what made every decision slow; a connection that
            // failed is dropped by the call that saw it fail instead.
            .test_before_acquire(false)
            .connect(&url)
            .await
            .map_err(backend)?;
        Self::from_pool(pool).await
    }

    /// A store over an existing pool (the host's own `sqlx` settings), bringing the schema up
    /// to date. The pool must be SQLite or PostgreSQL.
    pub async fn from_pool(pool: AnyPool) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let database = {
            let connection = pool.acquire().await.map_err(backend)?;
            match connection.backend_name() {
                "SQLite" => Database::Sqlite,
                "PostgreSQL" => Database::Postgres,
                _ => return Err(StoreError::UnsupportedUrl { feature: None }),
            }
        };
        let statements = std::sync::Arc::new(decision_statements(database));
        let reachability = std::sync::Arc::default();
        #[cfg(feature = "postgres")]
        let shared = (database == Database::Postgres)
            .then(|| super::postgres_reads::PostgresReads::new(&pool, &reachability));
        #[cfg_attr(not(feature = "sqlite"), allow(unused_mut))]
        let mut store = Self {
            pool,
            reachability,
            database,
            decision_statements: statements,
            decoded: std::sync::Arc::default(),
            #[cfg(feature = "postgres")]
            shared,
            #[cfg(feature = "sqlite")]
            sqlite_reads: None,
            #[cfg(feature = "sqlite")]
            sqlite_decisions: None,
        };
        if database == Database::Sqlite {
            store.use_wal().await?;
        }
        store.migrate().await?;
        #[cfg(feature = "sqlite")]
        if database == Database::Sqlite {
            store.sqlite_reads = store
                .database_file()
                .await?
                .map(|path| std::sync::Arc::new(super::sqlite_reads::SqliteReads::new(path)));
            store.sqlite_decisions = store.sqlite_reads.as_ref().map(|reads| {
                sqlite_decisions(
                    std::sync::Arc::clone(reads),
                    std::sync::Arc::clone(&store.decision_statements),
                    read_patience(&store.pool),
                )
            });
        }
        Ok(store)
    }

    /// The reads run on the calling thread, for a SQLite file.
    #[cfg(feature = "sqlite")]
    fn reads_here(&self) -> StoreResult<Option<&super::sqlite_reads::SqliteReads>> {
        // The pool closed is the store closed, whichever connections could still read.
        if self.pool.is_closed() {
            return Err(backend(sqlx::Error::PoolClosed));
        }
        Ok(self.sqlite_reads.as_deref())
    }

    /// The file of a SQLite database, or `None` for one in memory (which other connections
    /// cannot open).
    #[cfg(feature = "sqlite")]
    async fn database_file(&self) -> StoreResult<Option<std::path::PathBuf>> {
        let rows = sqlx::query("PRAGMA database_list")
            .fetch_all(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        for row in rows {
            let name: String = row.try_get("name").map_err(backend)?;
            let file: String = row.try_get("file").map_err(backend)?;
            if name == "main" && !file.is_empty() {
                return Ok(Some(file.into()));
            }
        }
        Ok(None)
    }

    /// Puts the SQLite file in WAL mode, which lets readers work while one writer commits and
    /// several pools share the file. Switching needs an exclusive lock that SQLite does not
    /// wait for, so instances opening a file together retry until one of them has switched it.
    async fn use_wal(&self) -> StoreResult<()> {
        const ATTEMPTS: u32 = 100;
        for attempt in 1..=ATTEMPTS {
            let mode: String = sqlx::query("PRAGMA journal_mode")
                .fetch_one(&mut *self.connection().await?)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(backend)?;
            if mode.eq_ignore_ascii_case("wal") {
                return Ok(());
            }
            match sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&mut *self.connection().await?)
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if attempt == ATTEMPTS => return Err(backend(error)),
                // Only at start-up, and only while another instance holds the file: a short
                // blocking pause is simpler than depending on a runtime's timer here.
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        // One transaction, behind a lock on PostgreSQL (SQLite locks on the first write), so
        // instances starting together on a fresh database take turns.
        let mut transaction = self.begin().await?;
        if self.database == Database::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *transaction)
                .await
                .map_err(backend)?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS appgrant_schema (version BIGINT PRIMARY KEY)")
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        let current: Option<i64> =
            sqlx::query("SELECT MAX(version) AS version FROM appgrant_schema")
                .fetch_one(&mut *transaction)
                .await
                .and_then(|row| row.try_get("version"))
                .map_err(backend)?;
        let dialect = DIALECT_MIGRATIONS
            .iter()
            .map(|(version, sqlite, postgres)| match self.database {
                Database::Sqlite => (*version, *sqlite),
                Database::Postgres => (*version, *postgres),
            });
        // In version order, whichever list a migration is in.
        let mut migrations: Vec<(i64, &[&str])> =
            MIGRATIONS.iter().copied().chain(dialect).collect();
        migrations.sort_by_key(|(version, _)| *version);
        for (version, statements) in migrations {
            if current.is_some_and(|current| current >= version) {
                continue;
            }
            for statement in statements {
                sqlx::query(statement)
                    .execute(&mut *transaction)
                    .await
                    .map_err(backend)?;
            }
            sqlx::query("INSERT INTO appgrant_schema (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *transaction)
                .await
                .map_err(backend)?;
        }
        transaction.commit().await
    }

    /// Serializes the writes about one grant on PostgreSQL, whose READ COMMITTED would let a
    /// revocation and the saving of the grant's family each miss the other (SQLite already
    /// runs one writer at a time).
    async fn lock_grant(&self, transaction: &mut Transaction, grant: &GrantId) -> StoreResult<()> {
        if self.database == Database::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(grant.to_string())
                .execute(&mut **transaction)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn record<T: DeserializeOwned>(&self, sql: &str, key: &str) -> StoreResult<Option<T>> {
        let row = sqlx::query(sql)
            .bind(key.to_owned())
            .fetch_optional(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        row.map(|row| from_json(&text(&row, "record")?)).transpose()
    }

    async fn upsert(&self, sql: &str, keys: &[&str], record: String) -> StoreResult<()> {
        let mut query = sqlx::query(sql);
        for key in keys {
            query = query.bind((*key).to_owned());
        }
        query
            .bind(record)
            .execute(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// A transaction on a pooled connection that goes back to the pool only if the transaction
/// committed. A connection that saw any error inside it is closed instead: after a full disk,
/// SQLite rolls the transaction back by itself, the ROLLBACK that follows fails, and a
/// connection returned then would still be one transaction deep, so that later "commits"
/// report success and save nothing. Closing it aborts whatever it still holds.
struct Transaction {
    connection: PoolConnection<sqlx::Any>,
    committed: bool,
}

impl SqlStore {
    /// A connection from the pool; while the database is known to be unreachable, only an
    /// open one that is idle, else a retryable error at once (see `reachability`).
    async fn connection(&self) -> StoreResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        super::reachability::connection(&self.pool, &self.reachability).await
    }

    async fn begin(&self) -> StoreResult<Transaction> {
        let connection = self.connection().await?;
        let mut transaction = Transaction {
            connection,
            committed: false,
        };
        // On SQLite, take the write lock at once: a transaction that reads first and writes
        // later cannot upgrade its lock while another waits, and fails with "locked".
        let begin = match self.database {
            Database::Sqlite => "BEGIN IMMEDIATE",
            Database::Postgres => "BEGIN",
        };
        sqlx::query(begin)
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        Ok(transaction)
    }
}

impl Transaction {
    async fn commit(mut self) -> StoreResult<()> {
        sqlx::query("COMMIT")
            .execute(&mut *self)
            .await
            .map_err(backend)?;
        self.committed = true;
        Ok(())
    }
}

impl std::ops::Deref for Transaction {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.connection
    }
}

impl std::ops::DerefMut for Transaction {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.connection
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.committed {
            self.connection.close_on_drop();
        }
    }
}

fn text(row: &AnyRow, column: &str) -> StoreResult<String> {
    row.try_get(column).map_err(backend)
}

fn family_from(row: &AnyRow) -> StoreResult<RefreshFamily> {
    let optional_nanos: Option<i64> = row.try_get("expires_at").map_err(backend)?;
    let previous: Option<String> = row.try_get("previous_digest").map_err(backend)?;
    let scope: Option<String> = row.try_get("scope").map_err(backend)?;
    let resource: Option<String> = row.try_get("resource").map_err(backend)?;
    let dpop_jkt: Option<String> = row.try_get("dpop_jkt").map_err(backend)?;
    Ok(RefreshFamily {
        grant: GrantId::new(text(row, "grant_id")?),
        client_id: ClientId::new(text(row, "client_id")?),
        user: UserId::new(text(row, "user_id")?),
        current: digest(&text(row, "current_digest")?)?,
        generation: u64::try_from(row.try_get::<i64, _>("generation").map_err(backend)?)
            .map_err(backend)?,
        previous: previous.as_deref().map(digest).transpose()?,
        created_at: time(row.try_get("created_at").map_err(backend)?)?,
        rotated_at: time(row.try_get("rotated_at").map_err(backend)?)?,
        expires_at: optional_nanos.map(time).transpose()?,
        status: match text(row, "status")?.as_str() {
            "active" => FamilyStatus::Active,
            _ => FamilyStatus::Revoked,
        },
        scope: scope
            .as_deref()
            .map(Scopes::parse)
            .transpose()
            .map_err(backend)?,
        resource,
        dpop_jkt,
    })
}

const FAMILY_COLUMNS: &str = "grant_id, client_id, user_id, current_digest, previous_digest, \
                              created_at, rotated_at, expires_at, status, generation, scope, resource, \
                              dpop_jkt";

fn generation(family: &RefreshFamily) -> StoreResult<i64> {
    i64::try_from(family.generation).map_err(backend)
}

impl AppStore for SqlStore {
    async fn app(&self, client_id: &ClientId) -> StoreResult<Option<App>> {
        const STATEMENT: &str = "SELECT record, revision FROM appgrant_apps WHERE client_id = $1";
        #[cfg(feature = "sqlite")]
        if let Some(reads) = self.reads_here()? {
            let row = reads.optional_row(STATEMENT, &[("$1", &client_id.as_str())], |row| {
                Ok((row.get::<_, String>("record")?, row.get("revision")?))
            })?;
            return self.app_of(row);
        }
        #[cfg(feature = "postgres")]
        if let Some(shared) = &self.shared {
            return self.app_of(shared.app(client_id).await?);
        }
        let row = sqlx::query(STATEMENT)
            .bind(client_id.to_string())
            .fetch_optional(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        row.as_ref()
            .map(|row| app_from(row, &self.decoded))
            .transpose()
    }

    async fn save_app(&self, app: App) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO appgrant_apps (client_id, record, revision) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id) DO UPDATE SET record = excluded.record, \
             revision = excluded.revision",
        )
        .bind(app.client_id.to_string())
        .bind(to_json(&app)?)
        .bind(app_revision(&app)?)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn update_app(&self, expected_revision: u64, app: App) -> StoreResult<bool> {
        let expected = i64::try_from(expected_revision).map_err(backend)?;
        // One statement: the database decides which of two racing changes saves.
        let done = sqlx::query(
            "UPDATE appgrant_apps SET record = $2, revision = $3 \
             WHERE client_id = $1 AND revision = $4",
        )
        .bind(app.client_id.to_string())
        .bind(to_json(&app)?)
        .bind(app_revision(&app)?)
        .bind(expected)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn apps(&self) -> StoreResult<Vec<App>> {
        let rows = sqlx::query("SELECT record, revision FROM appgrant_apps")
            .fetch_all(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        let mut apps = rows
            .iter()
            .map(|row| app_from(row, &self.decoded))
            .collect::<StoreResult<Vec<App>>>()?;
        // Sorted here, not by ORDER BY: a database's collation need not order text bytewise.
        apps.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(apps)
    }

    async fn delete_app(&self, client_id: &ClientId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM appgrant_apps WHERE client_id = $1")
            .bind(client_id.to_string())
            .execute(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

impl Directory for SqlStore {
    async fn company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        self.record(
            "SELECT record FROM appgrant_companies WHERE id = $1",
            id.as_str(),
        )
        .await
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        self.record(
            "SELECT record FROM appgrant_users WHERE id = $1",
            id.as_str(),
        )
        .await
    }

    async fn membership(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<Option<Permissions>> {
        let row = sqlx::query(
            "SELECT permissions FROM appgrant_memberships WHERE company_id = $1 AND user_id = $2",
        )
        .bind(company.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        row.map(|row| from_json(&text(&row, "permissions")?))
            .transpose()
    }

    async fn member(
        &self,
        company: &CompanyId,
        user: &UserId,
    ) -> StoreResult<(Option<User>, Option<Permissions>)> {
        // One round trip for what every decision reads of the acting user: two scalar
        // subqueries, so the row is there whether either is.
        let row = sqlx::query(
            "SELECT (SELECT record FROM appgrant_users WHERE id = $1) AS record, \
             (SELECT permissions FROM appgrant_memberships WHERE company_id = $2 AND user_id = $1) \
             AS permissions",
        )
        .bind(user.to_string())
        .bind(company.to_string())
        .fetch_one(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        let record: Option<String> = row.try_get("record").map_err(backend)?;
        let permissions: Option<String> = row.try_get("permissions").map_err(backend)?;
        Ok((
            self.decoded.users.decode_some(record.as_deref())?,
            self.decoded
                .permissions
                .decode_some(permissions.as_deref())?,
        ))
    }

    async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<(CompanyId, Permissions)>> {
        let rows = sqlx::query(
            "SELECT company_id, permissions FROM appgrant_memberships WHERE user_id = $1",
        )
        .bind(user.to_string())
        .fetch_all(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        let mut memberships = rows
            .iter()
            .map(|row| {
                Ok((
                    CompanyId::new(text(row, "company_id")?),
                    from_json(&text(row, "permissions")?)?,
                ))
            })
            .collect::<StoreResult<Vec<(CompanyId, Permissions)>>>()?;
        // Sorted here, not by ORDER BY: a database's collation need not order text bytewise.
        memberships.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(memberships)
    }

    async fn save_service_account(&self, account: &ServiceAccount) -> StoreResult<()> {
        // The user first: a membership without its user allows nothing. An existing account
        // keeps its status (a deactivated one stays so).
        let user = match self.user(&account.id).await? {
            // A person's id: never given the account's permissions (the server mints fresh
            // ids, so this is a host's collision; the account then holds nothing).
            Some(existing) if !matches!(existing.kind, UserKind::ServiceAccount { .. }) => {
                return Ok(());
            }
            Some(existing) => User {
                name: account.name.clone(),
                ..existing
            },
            None => account.new_user(),
        };
        self.save_user(user).await?;
        self.save_membership(&account.company, &account.id, account.permissions.clone())
            .await
    }

    async fn deactivate_service_account(&self, _: &CompanyId, user: &UserId) -> StoreResult<()> {
        if let Some(mut account) = self.user(user).await? {
            account.status = UserStatus::Deactivated;
            self.save_user(account).await?;
        }
        Ok(())
    }
}

impl DirectoryStore for SqlStore {
    async fn save_company(&self, company: Company) -> StoreResult<()> {
        self.upsert(
            "INSERT INTO appgrant_companies (id, record) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            &[company.id.as_str()],
            to_json(&company)?,
        )
        .await
    }

    async fn save_user(&self, user: User) -> StoreResult<()> {
        self.upsert(
            "INSERT INTO appgrant_users (id, record) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET record = excluded.record",
            &[user.id.as_str()],
            to_json(&user)?,
        )
        .await
    }

    async fn save_membership(
        &self,
        company: &CompanyId,
        user: &UserId,
        permissions: Permissions,
    ) -> StoreResult<()> {
        self.upsert(
            "INSERT INTO appgrant_memberships (company_id, user_id, permissions) VALUES ($1, $2, $3) \
             ON CONFLICT (company_id, user_id) DO UPDATE SET permissions = excluded.permissions",
            &[company.as_str(), user.as_str()],
            to_json(&permissions)?,
        )
        .await
    }

    async fn members(&self, company: &CompanyId) -> StoreResult<Vec<(User, Permissions)>> {
        let rows = sqlx::query(
            "SELECT u.record AS record, m.permissions AS permissions FROM appgrant_memberships m \
             JOIN appgrant_users u ON u.id = m.user_id WHERE m.company_id = $1",
        )
        .bind(company.to_string())
        .fetch_all(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        let mut members = rows
            .iter()
            .map(|row| {
                Ok((
                    from_json(&text(row, "record")?)?,
                    from_json(&text(row, "permissions")?)?,
                ))
            })
            .collect::<StoreResult<Vec<(User, Permissions)>>>()?;
        // Sorted here, not by ORDER BY: a database's collation need not order text bytewise.
        members.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(members)
    }
}

impl InstallationStore for SqlStore {
    async fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Installation>> {
        self.read_installation(app, company).await
    }

    fn app_with_installation(
        &self,
        client_id: &ClientId,
        company: &CompanyId,
    ) -> Option<impl Future<Output = StoreResult<AppWithInstallation>> + Send> {
        self.reads_app_with_installation()
            .then(|| self.read_app_with_installation(client_id, company))
    }

    async fn decision_records(&self, query: &DecisionQuery<'_>) -> StoreResult<DecisionRecords> {
        let statement = self.decision_statement(query);
        let person = match query.acting {
            Acting::Person(user) => Some(user.to_string()),
            Acting::ServiceAccount => None,
        };
        #[cfg(feature = "sqlite")]
        if let Some(shared) = &self.sqlite_decisions {
            // The pool closed is the store closed, whichever connections could still read.
            self.reads_here()?;
            let key = SqliteDecision {
                statement: self.decision_statement_index(query),
                app: query.app.to_string(),
                company: query.company.to_string(),
                grant: query.grant.to_string(),
                person,
                member: query.member,
            };
            return shared.read(key).await?.decode(query.member, &self.decoded);
        }
        #[cfg(feature = "postgres")]
        if let Some(shared) = &self.shared {
            return shared
                .decision(query, person)
                .await?
                .decode(query.member, &self.decoded);
        }
        let row = sqlx::query(statement)
            .bind(query.app.to_string())
            .bind(query.company.to_string())
            .bind(query.grant.to_string())
            .bind(person)
            .fetch_one(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        DecisionRow::read(&row, query.member)?.decode(query.member, &self.decoded)
    }

    async fn save_installation(&self, installation: Installation) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO appgrant_installations (app_id, company_id, record, revision) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, company_id) \
             DO UPDATE SET record = excluded.record, revision = excluded.revision",
        )
        .bind(installation.app.to_string())
        .bind(installation.company.to_string())
        .bind(to_json(&installation)?)
        .bind(revision(&installation)?)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn insert_installation(&self, installation: Installation) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO appgrant_installations (app_id, company_id, record, revision) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, company_id) DO NOTHING",
        )
        .bind(installation.app.to_string())
        .bind(installation.company.to_string())
        .bind(to_json(&installation)?)
        .bind(revision(&installation)?)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_installation(
        &self,
        expected_revision: u64,
        installation: Installation,
    ) -> StoreResult<bool> {
        let expected = i64::try_from(expected_revision).map_err(backend)?;
        let done = sqlx::query(
            "UPDATE appgrant_installations SET record = $3, revision = $4 \
             WHERE app_id = $1 AND company_id = $2 AND revision = $5",
        )
        .bind(installation.app.to_string())
        .bind(installation.company.to_string())
        .bind(to_json(&installation)?)
        .bind(revision(&installation)?)
        .bind(expected)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn installations_of(&self, app: &ClientId) -> StoreResult<Vec<Installation>> {
        let mut installations = self.installations_where("app_id", app.as_str()).await?;
        // Sorted here, not by ORDER BY: a database's collation need not order text bytewise.
        installations.sort_by(|a, b| a.company.cmp(&b.company));
        Ok(installations)
    }

    async fn installations_in(&self, company: &CompanyId) -> StoreResult<Vec<Installation>> {
        let mut installations = self
            .installations_where("company_id", company.as_str())
            .await?;
        // Sorted here, not by ORDER BY: a database's collation need not order text bytewise.
        installations.sort_by(|a, b| a.app.cmp(&b.app));
        Ok(installations)
    }
}

impl CodeStore for SqlStore {
    async fn save_code(&self, record: CodeRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO appgrant_codes (digest, record, spent, expires_at) VALUES ($1, $2, 0, $3)",
        )
        .bind(record.digest.to_hex())
        .bind(to_json(&record)?)
        .bind(stamp(record.expires_at)?)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn code(&self, digest: &SecretDigest) -> StoreResult<Option<CodeRecord>> {
        self.record(
            "SELECT record FROM appgrant_codes WHERE digest = $1",
            &digest.to_hex(),
        )
        .await
    }

    async fn redeem_code(&self, digest: &SecretDigest) -> StoreResult<Redemption> {
        // One statement: whichever instance's UPDATE commits first takes the code.
        let first = sqlx::query(
            "UPDATE appgrant_codes SET spent = 1 WHERE digest = $1 AND spent = 0 RETURNING record",
        )
        .bind(digest.to_hex())
        .fetch_optional(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        if let Some(row) = first {
            return Ok(Redemption::First(from_json(&text(&row, "record")?)?));
        }
        let spent = self.code(digest).await?;
        Ok(spent.map_or(Redemption::Unknown, Redemption::Reused))
    }

    async fn purge_codes(&self, expired_before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM appgrant_codes WHERE expires_at < $1")
            .bind(stamp(expired_before)?)
            .execute(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

impl RefreshStore for SqlStore {
    async fn save_family(&self, family: RefreshFamily) -> StoreResult<()> {
        let mut transaction = self.begin().await?;
        self.lock_grant(&mut transaction, &family.grant).await?;
        // A reused code may have revoked the grant before its first redemption saved this.
        sqlx::query(&format!(
            "INSERT INTO appgrant_families ({FAMILY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             CASE WHEN EXISTS (SELECT 1 FROM appgrant_revoked_grants WHERE grant_id = $1) \
             THEN 'revoked' ELSE $9 END, $10, $11, $12, $13)"
        ))
        .bind(family.grant.to_string())
        .bind(family.client_id.to_string())
        .bind(family.user.to_string())
        .bind(family.current.to_hex())
        .bind(family.previous.map(|previous| previous.to_hex()))
        .bind(stamp(family.created_at)?)
        .bind(stamp(family.rotated_at)?)
        .bind(family.expires_at.map(stamp).transpose()?)
        .bind(status_text(family.status).to_owned())
        .bind(generation(&family)?)
        .bind(family.scope.as_ref().map(ToString::to_string))
        .bind(family.resource.clone())
        .bind(family.dpop_jkt.clone())
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
        transaction.commit().await
    }

    async fn family(&self, grant: &GrantId) -> StoreResult<Option<RefreshFamily>> {
        let row = sqlx::query(&format!(
            "SELECT {FAMILY_COLUMNS} FROM appgrant_families WHERE grant_id = $1"
        ))
        .bind(grant.to_string())
        .fetch_optional(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        row.as_ref().map(family_from).transpose()
    }

    async fn families_of(&self, user: &UserId, app: &ClientId) -> StoreResult<Vec<RefreshFamily>> {
        let rows = sqlx::query(&format!(
            "SELECT {FAMILY_COLUMNS} FROM appgrant_families WHERE user_id = $1 AND client_id = $2"
        ))
        .bind(user.to_string())
        .bind(app.to_string())
        .fetch_all(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        rows.iter().map(family_from).collect()
    }

    async fn commit_rotation(
        &self,
        expected_current: &SecretDigest,
        family: RefreshFamily,
    ) -> StoreResult<bool> {
        // Compare-and-swap: only the rotation that still sees the current token wins.
        let done = sqlx::query(
            "UPDATE appgrant_families SET current_digest = $2, previous_digest = $3, rotated_at = $4, \
             expires_at = $5, generation = $6, dpop_jkt = $8 \
             WHERE grant_id = $1 AND current_digest = $7 AND status = 'active'",
        )
        .bind(family.grant.to_string())
        .bind(family.current.to_hex())
        .bind(family.previous.map(|previous| previous.to_hex()))
        .bind(stamp(family.rotated_at)?)
        .bind(family.expires_at.map(stamp).transpose()?)
        .bind(generation(&family)?)
        .bind(expected_current.to_hex())
        .bind(family.dpop_jkt.clone())
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_families(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM appgrant_families \
             WHERE status = 'revoked' OR (expires_at IS NOT NULL AND expires_at <= $1)",
        )
        .bind(stamp(now)?)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

fn status_text(status: FamilyStatus) -> &'static str {
    match status {
        FamilyStatus::Active => "active",
        FamilyStatus::Revoked => "revoked",
    }
}

impl RevocationStore for SqlStore {
    async fn revoke_grant(&self, grant: &GrantId, at: DateTime<Utc>) -> StoreResult<()> {
        let mut transaction = self.begin().await?;
        self.lock_grant(&mut transaction, grant).await?;
        sqlx::query(
            "INSERT INTO appgrant_revoked_grants (grant_id, revoked_at) VALUES ($1, $2) \
             ON CONFLICT (grant_id) DO NOTHING",
        )
        .bind(grant.to_string())
        .bind(stamp(at)?)
        .execute(&mut *transaction)
        .await
        .map_err(backend)?;
        sqlx::query("UPDATE appgrant_families SET status = 'revoked' WHERE grant_id = $1")
            .bind(grant.to_string())
            .execute(&mut *transaction)
            .await
            .map_err(backend)?;
        transaction.commit().await
    }

    async fn is_revoked(&self, grant: &GrantId) -> StoreResult<bool> {
        let row = sqlx::query("SELECT grant_id FROM appgrant_revoked_grants WHERE grant_id = $1")
            .bind(grant.to_string())
            .fetch_optional(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        Ok(row.is_some())
    }

    async fn purge_revocations(&self, revoked_before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM appgrant_revoked_grants WHERE revoked_at < $1")
            .bind(stamp(revoked_before)?)
            .execute(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

impl ConsentStore for SqlStore {
    async fn save_consent(
        &self,
        user: &UserId,
        app: &ClientId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO appgrant_consents (user_id, app_id, granted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, app_id) DO UPDATE SET granted_at = excluded.granted_at",
        )
        .bind(user.to_string())
        .bind(app.to_string())
        .bind(stamp(at)?)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn consent(&self, user: &UserId, app: &ClientId) -> StoreResult<Option<DateTime<Utc>>> {
        let row = sqlx::query(
            "SELECT granted_at FROM appgrant_consents WHERE user_id = $1 AND app_id = $2",
        )
        .bind(user.to_string())
        .bind(app.to_string())
        .fetch_optional(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        row.map(|row| time(row.try_get("granted_at").map_err(backend)?))
            .transpose()
    }

    async fn consents_of(&self, user: &UserId) -> StoreResult<Vec<(ClientId, DateTime<Utc>)>> {
        let rows =
            sqlx::query("SELECT app_id, granted_at FROM appgrant_consents WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_all(&mut *self.connection().await?)
                .await
                .map_err(backend)?;
        let mut consents = rows
            .iter()
            .map(|row| {
                let at = time(row.try_get("granted_at").map_err(backend)?)?;
                Ok((ClientId::new(text(row, "app_id")?), at))
            })
            .collect::<StoreResult<Vec<(ClientId, DateTime<Utc>)>>>()?;
        // Sorted here, not by ORDER BY: a database's collation need not order text bytewise.
        consents.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(consents)
    }

    async fn forget_consent(&self, user: &UserId, app: &ClientId) -> StoreResult<()> {
        sqlx::query("DELETE FROM appgrant_consents WHERE user_id = $1 AND app_id = $2")
            .bind(user.to_string())
            .bind(app.to_string())
            .execute(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

fn algorithm_from(name: &str) -> StoreResult<Algorithm> {
    [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ]
    .into_iter()
    .find(|algorithm| algorithm.name() == name)
    .ok_or_else(|| backend(Corrupt("signing key algorithm")))
}

impl ReplayStore for SqlStore {
    async fn first_use(&self, digest: &SecretDigest, until: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO appgrant_used_once (digest, until_at) VALUES ($1, $2) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest.to_hex())
        .bind(stamp(until)?)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_used(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM appgrant_used_once WHERE until_at < $1")
            .bind(stamp(now)?)
            .execute(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }
}

impl KeyStore for SqlStore {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        use base64::Engine;
        let rows = sqlx::query(
            "SELECT kid, generation, algorithm, sealed, created_at, signs_from \
             FROM appgrant_signing_keys",
        )
        .fetch_all(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let generation: i64 = row.try_get("generation").map_err(backend)?;
                Ok(StoredKey {
                    kid: text(row, "kid")?,
                    generation: u64::try_from(generation).map_err(backend)?,
                    algorithm: algorithm_from(&text(row, "algorithm")?)?,
                    sealed: base64::engine::general_purpose::STANDARD
                        .decode(text(row, "sealed")?)
                        .map_err(backend)?,
                    created_at: time(row.try_get("created_at").map_err(backend)?)?,
                    signs_from: time(row.try_get("signs_from").map_err(backend)?)?,
                })
            })
            .collect()
    }

    async fn add_signing_key(&self, key: StoredKey) -> StoreResult<bool> {
        use base64::Engine;
        let done = sqlx::query(
            "INSERT INTO appgrant_signing_keys (kid, generation, algorithm, sealed, created_at, \
             signs_from) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(key.kid.clone())
        .bind(i64::try_from(key.generation).map_err(backend)?)
        .bind(key.algorithm.name().to_owned())
        .bind(base64::engine::general_purpose::STANDARD.encode(&key.sealed))
        .bind(stamp(key.created_at)?)
        .bind(stamp(key.signs_from)?)
        .execute(&mut *self.connection().await?)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_signing_key(&self, kid: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM appgrant_signing_keys WHERE kid = $1")
            .bind(kid.to_owned())
            .execute(&mut *self.connection().await?)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
