//! Where the tests' databases live: a fresh SQLite file, or a fresh PostgreSQL database (the
//! memory store is its own [`Handles`](super::Handles): its clones share its data). Each
//! fixture deletes what it created when dropped, even after a failed test.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::*;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql {
    use appgrant::store::SqlStore;
    use appgrant::store::conformance::Handles;

    /// A database made for one test; every [`open`](Handles::open) connects a new pool to it,
    /// as another process would.
    pub struct Database {
        url: String,
        cleanup: Cleanup,
    }

    enum Cleanup {
        #[cfg(feature = "sqlite")]
        File(std::path::PathBuf),
        #[cfg(feature = "postgres")]
        Postgres { admin_url: String, name: String },
    }

    impl Database {
        /// The URL `SqlStore::connect` takes.
        pub fn url(&self) -> &str {
            &self.url
        }

        /// Which database this is: `"sqlite"` or `"postgres"`.
        pub fn kind(&self) -> &'static str {
            match self.cleanup {
                #[cfg(feature = "sqlite")]
                Cleanup::File(_) => "sqlite",
                #[cfg(feature = "postgres")]
                Cleanup::Postgres { .. } => "postgres",
            }
        }

        /// A raw pool on the database, for looking at what the store wrote.
        pub async fn raw_pool(&self) -> sqlx::AnyPool {
            sqlx::any::install_default_drivers();
            sqlx::any::AnyPoolOptions::new()
                .max_connections(2)
                .connect(&self.url)
                .await
                .expect("connecting a raw pool")
        }
    }

    impl Handles for Database {
        type Store = SqlStore;

        async fn open(&self) -> SqlStore {
            SqlStore::connect(&self.url)
                .await
                .unwrap_or_else(|error| panic!("SqlStore::connect({}): {error}", self.url))
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            match &self.cleanup {
                #[cfg(feature = "sqlite")]
                Cleanup::File(path) => {
                    for suffix in ["", "-wal", "-shm", "-journal"] {
                        let mut name = path.as_os_str().to_owned();
                        name.push(suffix);
                        let _ = std::fs::remove_file(name);
                    }
                }
                #[cfg(feature = "postgres")]
                Cleanup::Postgres { admin_url, name } => {
                    super::postgres::drop_database(admin_url.clone(), name.clone());
                }
            }
        }
    }

    /// A fresh SQLite file in the temporary directory (created by the first connect).
    #[cfg(feature = "sqlite")]
    pub fn sqlite_file() -> Database {
        let path = std::env::temp_dir().join(format!(
            "appgrant-test-{}-{:016x}.db",
            std::process::id(),
            rand::random::<u64>()
        ));
        Database {
            url: format!("sqlite://{}", path.display()),
            cleanup: Cleanup::File(path),
        }
    }

    /// A fresh PostgreSQL database on the server `APPGRANT_TEST_POSTGRES_URL` names, or `None`
    /// (after saying so on stderr, once per test binary) when the variable is not set.
    #[cfg(feature = "postgres")]
    pub async fn postgres_database() -> Option<Database> {
        super::postgres::create_database("").await
    }

    /// Like [`postgres_database`], with a linguistic (ICU `en-US`) collation, as production
    /// databases are often created, instead of the test server's default.
    #[cfg(feature = "postgres")]
    pub async fn postgres_database_collated_en_us() -> Option<Database> {
        super::postgres::create_database(
            " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
        )
        .await
    }

    #[cfg(feature = "postgres")]
    pub(super) fn postgres(admin_url: String, name: String, url: String) -> Database {
        Database {
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::Connection;
    use std::io::Write;
    use std::sync::Once;

    pub const VARIABLE: &str = "APPGRANT_TEST_POSTGRES_URL";

    static SKIPPED: Once = Once::new();

    /// Says, where captured test output cannot hide it, that the PostgreSQL tests are skipped.
    fn say_skipped() {
        SKIPPED.call_once(|| {
            // Straight to the process's stderr: libtest captures only print!/eprint!.
            let _ = writeln!(
                std::io::stderr(),
                "\nNOTICE: PostgreSQL tests in {} SKIPPED: {VARIABLE} is not set. Set it to the \
                 URL of a PostgreSQL database whose user may CREATE DATABASE (for example \
                 `export {VARIABLE}=\"$(scripts/start-postgres.sh)\"`) to run them; each test \
                 creates and drops its own database.\n",
                std::env::args()
                    .next()
                    .as_deref()
                    .and_then(|path| path.rsplit('/').next())
                    .unwrap_or("this test binary"),
            );
        });
    }

    async fn admin(admin_url: &str) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(admin_url)
            .await
            .unwrap_or_else(|error| {
                panic!("{VARIABLE} is set but {admin_url} cannot be reached: {error}")
            })
    }

    pub async fn create_database(options: &str) -> Option<super::Database> {
        let Ok(admin_url) = std::env::var(VARIABLE) else {
            say_skipped();
            return None;
        };
        let name = format!("appgrant_{:016x}", rand::random::<u64>());
        let mut connection = admin(&admin_url).await;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}{options}"))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|error| panic!("CREATE DATABASE {name}{options}: {error}"));
        let _ = connection.close().await;
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|error| panic!("{VARIABLE} is not a URL: {error}"));
        url.set_path(&format!("/{name}"));
        Some(super::sql::postgres(admin_url, name, url.to_string()))
    }

    /// Drops the database from a thread of its own: this runs in `Drop`, perhaps on a runtime
    /// thread or while a failed test unwinds.
    pub fn drop_database(admin_url: String, name: String) {
        let database = name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                let mut connection = admin(&admin_url).await;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                    .execute(&mut connection)
                    .await
                    .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: could not drop test database {name}: {dropped:?}"
            );
        }
    }
}
