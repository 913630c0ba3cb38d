//! SQLite reads on the calling thread, for the reads every API call makes.
//!
//! sqlx runs each SQLite connection on a thread of its own, handing it every query and taking
//! the rows back: two thread switches, which cost several times what a point read from SQLite's
//! page cache does. The hot reads go through a few connections of this module instead, run
//! where the request runs. A read takes microseconds, short enough to run inside an async task;
//! every write, and every other read, stays on sqlx. In WAL mode a reader never waits for a
//! writer, and each statement sees the last commit of any connection, this process's or
//! another's.

use super::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// How many idle connections are kept: one per thread that reads at once is enough.
const IDLE: usize = 16;

/// How long a read waits for a lock SQLite rarely takes from readers in WAL mode (recovering
/// the log after a crash): bounded, so a stuck file fails the call instead of hanging it.
const BUSY: Duration = Duration::from_millis(500);

/// Connections to one SQLite file for reading.
pub(super) struct SqliteReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReads")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn failed(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

impl SqliteReads {
    /// Reads of the database file at `path`, which sqlx has opened and migrated.
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection (or a new one). A connection whose read failed is
    /// dropped rather than reused.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        // A panic while holding the lock cannot leave the list half-changed (one push or pop).
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.open()?,
        };
        let result = read(&connection).map_err(failed)?;
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE {
            idle.push(connection);
        }
        Ok(result)
    }

    /// Runs `one` for each of `keys` in turn, all in one read transaction, so the batch pays
    /// the file's locks once and every answer is of one snapshot, taken at the first read.
    pub(super) fn read_each<K, T>(
        &self,
        keys: &[K],
        mut one: impl FnMut(&Connection, &K) -> rusqlite::Result<T>,
    ) -> StoreResult<Vec<T>> {
        self.read(|connection| {
            if let [key] = keys {
                // One statement is its own snapshot: BEGIN and COMMIT (each parsed anew by
                // rusqlite) would only add two statements to a batch of one.
                return Ok(vec![one(connection, key)?]);
            }
            // Dropped without a commit (a read failed), it rolls back: nothing was written.
            let transaction = connection.unchecked_transaction()?;
            let answers = keys
                .iter()
                .map(|key| one(&transaction, key))
                .collect::<rusqlite::Result<Vec<T>>>()?;
            transaction.commit()?;
            Ok(answers)
        })
    }

    /// The one row `statement` finds with `parameters`, mapped by `row`, or `None`.
    pub(super) fn optional_row<T>(
        &self,
        statement: &str,
        parameters: &[(&str, &dyn rusqlite::ToSql)],
        row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Option<T>> {
        use rusqlite::OptionalExtension;
        self.read(|connection| {
            connection
                .prepare_cached(statement)?
                .query_row(parameters, row)
                .optional()
        })
    }

    fn open(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(failed)?;
        connection.busy_timeout(BUSY).map_err(failed)?;
        Ok(connection)
    }
}
