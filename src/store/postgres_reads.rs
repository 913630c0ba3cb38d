//! PostgreSQL's hot reads, each kind read for every request waiting in one statement (see
//! [`shared_reads`](super::shared_reads)): a decision's records on every API call, and an app
//! and an installation on every grant.
//!
//! Each statement takes its keys as the rows of one JSON parameter, numbered so that each
//! answer goes back to its question, and left-joins the tables, so every key has exactly one
//! row whether or not its records exist. A JSON parameter rather than arrays because the
//! store's `Any` pool binds only scalars.

use super::reachability::{Reachability, connection};
use super::shared_reads::{ReadBatch, SharedReads};
use super::sql::{DecisionRow, backend, read_patience, to_json};
use super::{Acting, DecisionQuery, MemberReads, StoreResult};
use crate::model::{ClientId, CompanyId};
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Every decision waiting (a lone one too), each as a SQLite decision statement reads one: the
/// installation, the acting user (the person, or the service account the installation names,
/// in the column the database computes from its record) and their membership, the grant's
/// revocation, and a person's app ceiling, all of one snapshot.
///
/// Each record is looked up by its key in a subquery of its own (`LATERAL … LIMIT 1`, which
/// the planner cannot fold into a join), so the plan is an index lookup per key whatever the
/// planner guesses of the parameter's rows. As plain joins it guessed 100 keys and hashed
/// whole tables: with a few hundred apps, a statement of one or two keys took 0.27 ms of the
/// database's time instead of 0.06 ms (EXPLAIN ANALYZE, generic plan).
const DECISIONS: &str = "SELECT q.n, i.record AS record, u.record AS user_record, \
     m.permissions AS permissions, \
     (SELECT COUNT(*) FROM appgrant_revoked_grants r WHERE r.grant_id = q.grant_id) AS revoked, \
     CASE WHEN q.person IS NULL THEN NULL ELSE \
       (SELECT a.record::json ->> 'ceiling' FROM appgrant_apps a WHERE a.client_id = q.app) \
     END AS ceiling \
     FROM json_to_recordset($1::json) \
       AS q(n BIGINT, app TEXT, company TEXT, grant_id TEXT, person TEXT) \
     LEFT JOIN LATERAL (SELECT i.record, i.service_account FROM appgrant_installations i \
       WHERE i.app_id = q.app AND i.company_id = q.company LIMIT 1) i ON true \
     LEFT JOIN LATERAL (SELECT u.record FROM appgrant_users u \
       WHERE u.id = COALESCE(q.person, i.service_account) LIMIT 1) u ON true \
     LEFT JOIN LATERAL (SELECT m.permissions FROM appgrant_memberships m \
       WHERE m.company_id = q.company \
       AND m.user_id = COALESCE(q.person, i.service_account) LIMIT 1) m ON true";

/// Every app and installation waiting, in one statement (a key asks for the app, or the
/// installation in its company, or both, as a client-credentials grant does). Each looked up
/// by its key, as in [`DECISIONS`].
const RECORDS: &str = "SELECT q.n, a.record AS app_record, a.revision, \
     i.record AS installation_record \
     FROM json_to_recordset($1::json) AS q(n BIGINT, client_id TEXT, company TEXT, app BOOLEAN) \
     LEFT JOIN LATERAL (SELECT a.record, a.revision FROM appgrant_apps a \
       WHERE q.app AND a.client_id = q.client_id LIMIT 1) a ON true \
     LEFT JOIN LATERAL (SELECT i.record FROM appgrant_installations i \
       WHERE i.app_id = q.client_id AND i.company_id = q.company LIMIT 1) i ON true";

/// One decision's question.
#[derive(Serialize, PartialEq, Eq, Hash)]
struct DecisionKey {
    app: String,
    company: String,
    grant_id: String,
    person: Option<String>,
}

/// A question for the app (`app`), its installation in `company`, or both.
#[derive(Serialize, PartialEq, Eq, Hash)]
struct RecordKey {
    client_id: String,
    company: Option<String>,
    app: bool,
}

/// Which of a client id's records a read asks for.
enum Wanted<'a> {
    App,
    Installation(&'a CompanyId),
    Both(&'a CompanyId),
}

/// An app's or an installation's record, as stored: what a [`RecordKey`] asked for.
#[derive(Clone, Default)]
struct RecordRow {
    app: Option<AppText>,
    installation: Option<Arc<str>>,
}

/// A key with its place in the statement's parameter.
#[derive(Serialize)]
struct Numbered<K> {
    n: usize,
    #[serde(flatten)]
    key: K,
}

/// The shared reads of one PostgreSQL store; clones share the queues.
#[derive(Clone, Debug)]
pub(super) struct PostgresReads {
    decisions: Arc<SharedReads<DecisionKey, Arc<DecisionRow>>>,
    records: Arc<SharedReads<RecordKey, RecordRow>>,
}

/// An app's record and revision as stored. The shared reads answer with the text and each
/// caller decodes its own in its own task: decoding in the reader would put every caller's
/// decoding on one thread, in the path of every other answer of the statement.
///
/// Texts, and decisions' rows, are answered shared (`Arc`), not copied: every caller of a
/// key gets the same row. A copy of a kilobyte of JSON made on the reader's thread and freed
/// on a caller's takes, on glibc's allocator, that thread's arena lock; sharing gave 4 to 6%
/// more API calls and grants on PostgreSQL in a glibc build (interleaved, 3 rounds of 5 s).
pub(super) type AppText = (Arc<str>, i64);

impl PostgresReads {
    /// Shared reads over `pool`, refused at once while `reachability` says the database cannot
    /// be reached.
    pub(super) fn new(pool: &AnyPool, reachability: &Arc<Reachability>) -> Self {
        let pool = &Arc::new(KeptConnections::new(pool, reachability));
        let readers = readers(&pool.pool);
        let patience = read_patience(&pool.pool);
        Self {
            decisions: SharedReads::new(readers, patience, reader(pool, DECISIONS, decision_row)),
            records: SharedReads::new(readers, patience, reader(pool, RECORDS, record_row)),
        }
    }

    /// A decision's records; `person` is the acting person's id, `None` for a service account.
    pub(super) async fn decision(
        &self,
        query: &DecisionQuery<'_>,
        person: Option<String>,
    ) -> StoreResult<Arc<DecisionRow>> {
        debug_assert_eq!(person.is_none(), query.acting == Acting::ServiceAccount);
        let key = DecisionKey {
            app: query.app.to_string(),
            company: query.company.to_string(),
            grant_id: query.grant.to_string(),
            person,
        };
        self.decisions.read(key).await
    }

    /// The record and revision of the app with this client id, as stored.
    pub(super) async fn app(&self, client_id: &ClientId) -> StoreResult<Option<AppText>> {
        Ok(self.record(client_id, Wanted::App).await?.app)
    }

    /// The record of the app's installation in the company, as stored.
    pub(super) async fn installation(
        &self,
        app: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<Option<Arc<str>>> {
        Ok(self
            .record(app, Wanted::Installation(company))
            .await?
            .installation)
    }

    /// The app with this client id and its installation in the company, as stored, in one key.
    pub(super) async fn app_with_installation(
        &self,
        client_id: &ClientId,
        company: &CompanyId,
    ) -> StoreResult<(Option<AppText>, Option<Arc<str>>)> {
        let row = self.record(client_id, Wanted::Both(company)).await?;
        Ok((row.app, row.installation))
    }

    /// What is `wanted` of this client id's records.
    async fn record(&self, client_id: &ClientId, wanted: Wanted<'_>) -> StoreResult<RecordRow> {
        let (company, app) = match wanted {
            Wanted::App => (None, true),
            Wanted::Installation(company) => (Some(company.to_string()), false),
            Wanted::Both(company) => (Some(company.to_string()), true),
        };
        let key = RecordKey {
            client_id: client_id.to_string(),
            company,
            app,
        };
        self.records.read(key).await
    }
}

/// Reads a batch with `statement`, decoding each row with `decode`.
fn reader<K, R>(
    pool: &Arc<KeptConnections>,
    statement: &'static str,
    decode: fn(&AnyRow) -> StoreResult<R>,
) -> ReadBatch<K, R>
where
    K: Serialize + Send + 'static,
    R: Default + Send + 'static,
{
    let pool = Arc::clone(pool);
    Arc::new(move |keys| Box::pin(read_batch(Arc::clone(&pool), statement, decode, keys)))
}

async fn read_batch<K: Serialize, R: Default>(
    pool: Arc<KeptConnections>,
    statement: &'static str,
    decode: fn(&AnyRow) -> StoreResult<R>,
    keys: Vec<K>,
) -> StoreResult<Vec<R>> {
    let mut answers: Vec<Option<R>> = (0..keys.len()).map(|_| None).collect();
    let mut parameter = String::from("[");
    for (n, key) in keys.into_iter().enumerate() {
        let row = to_json(&Numbered { n, key })?;
        // PostgreSQL text holds no NUL character, so no record has a key with one; asked
        // for, it would fail the whole statement and every other request sharing it.
        if row.contains("\\u0000") {
            answers[n] = Some(R::default());
            continue;
        }
        if parameter.len() > 1 {
            parameter.push(',');
        }
        parameter.push_str(&row);
    }
    parameter.push(']');
    if parameter.len() > 2 {
        let rows = fetch_rows(&pool, || sqlx::query(statement).bind(parameter.clone())).await?;
        for row in &rows {
            let n: i64 = row.try_get("n").map_err(backend)?;
            if let Some(slot) = usize::try_from(n).ok().and_then(|n| answers.get_mut(n)) {
                *slot = Some(decode(row)?);
            }
        }
    }
    // A key left without a row is dropped here, and the shared read reports the shortfall
    // instead of answering another key's question.
    Ok(answers.into_iter().flatten().collect())
}

/// Connections the hot reads keep between statements, out of the pool.
///
/// sqlx tests every connection given back to its pool with a round trip (a `Sync` and its
/// answer) in a task of its own, so a statement made on a pooled connection cost the database
/// two wake-ups, not one. The shared reads make thousands of statements a second on no more
/// connections than they have readers, so they keep theirs: taken from the pool once
/// (connected as the host's are, with its session setup) and detached, so the pool may open
/// others in their place. At most `most` are kept (each reader holds one while it reads), and
/// none past the pool's `max_lifetime`.
#[derive(Debug)]
struct KeptConnections {
    pool: AnyPool,
    reachability: Arc<Reachability>,
    kept: Mutex<Vec<(AnyConnection, Instant)>>,
    most: usize,
}

impl KeptConnections {
    /// Keeps up to one connection per reader of each of the two kinds of read.
    fn new(pool: &AnyPool, reachability: &Arc<Reachability>) -> Self {
        Self {
            pool: pool.clone(),
            reachability: Arc::clone(reachability),
            kept: Mutex::new(Vec::new()),
            most: readers(pool) * 2,
        }
    }

    /// A kept connection, or one taken from the pool.
    async fn take(&self) -> StoreResult<(AnyConnection, Instant)> {
        let kept = {
            // A panic cannot leave the list half-changed: each change is one push, pop or clear.
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            // The host closed the pool: the store is done with the database, kept ones too.
            if self.pool.is_closed() {
                kept.clear();
            }
            kept.pop()
        };
        match kept {
            Some(kept) => Ok(kept),
            None => {
                let pooled = connection(&self.pool, &self.reachability).await?;
                Ok((pooled.detach(), Instant::now()))
            }
        }
    }

    /// Keeps a connection that answered its statement; one past its lifetime, or beyond the
    /// number kept, is closed (dropped: its socket closes).
    fn keep(&self, connection: (AnyConnection, Instant)) {
        let lifetime = self.pool.options().get_max_lifetime();
        if lifetime.is_some_and(|lifetime| connection.1.elapsed() >= lifetime) {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < self.most {
            kept.push(connection);
        }
    }
}

/// Shared statements of each kind at once: one per four connections of the pool. On 2 cores
/// (a pool of 4) one reader answered about 20% more decisions than two or four, its
/// statements taking more keys each (scripts/load_by_store.py, PostgreSQL).
fn readers(pool: &AnyPool) -> usize {
    usize::try_from(pool.options().get_max_connections() / 4)
        .unwrap_or(1)
        .max(1)
}

/// The rows of the read `query` makes, made again on another connection when the one it ran on
/// turns out to have been closed by the database (restarted, or its administrator or a proxy
/// ended the session). A kept connection is not tested before use, so a dead one is found only
/// when used; a read changes nothing, so making it again is safe, where failing it would fail
/// every request sharing its statement. At most once per connection that may be dead (each
/// kept one and each pooled one), and never when no connection can be had at all: a database
/// that is down is answered at once. A connection whose statement failed is not kept.
async fn fetch_rows<'q>(
    connections: &KeptConnections,
    query: impl Fn() -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
) -> StoreResult<Vec<AnyRow>> {
    let pooled = connections.pool.options().get_max_connections();
    let mut dead_ones_left = connections.most + usize::try_from(pooled).unwrap_or(usize::MAX);
    loop {
        let (mut connection, opened) = connections.take().await?;
        match query().fetch_all(&mut connection).await {
            Ok(rows) => {
                connections.keep((connection, opened));
                return Ok(rows);
            }
            Err(error) if dead_ones_left > 0 && closed_by_the_database(&error) => {
                dead_ones_left -= 1;
            }
            Err(error) => return Err(backend(error)),
        }
    }
}

/// Whether a statement failed because its connection was gone: the socket failed, or the
/// server said it ended the session (SQLSTATE class 57P: operator intervention).
fn closed_by_the_database(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| code.starts_with("57P")),
        _ => false,
    }
}

/// A decision statement's row, the member's columns included.
fn decision_row(row: &AnyRow) -> StoreResult<Arc<DecisionRow>> {
    DecisionRow::read(row, MemberReads::InStore).map(Arc::new)
}

fn app_text(row: &AnyRow, column: &str) -> StoreResult<Option<AppText>> {
    let record: Option<String> = row.try_get(column).map_err(backend)?;
    let revision: Option<i64> = row.try_get("revision").map_err(backend)?;
    Ok(record.map(Arc::from).zip(revision))
}

fn record_row(row: &AnyRow) -> StoreResult<RecordRow> {
    let installation: Option<String> = row.try_get("installation_record").map_err(backend)?;
    Ok(RecordRow {
        app: app_text(row, "app_record")?,
        installation: installation.map(Arc::from),
    })
}
