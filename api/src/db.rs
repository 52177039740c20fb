//! Connecting to SQLite or PostgreSQL with the settings quicktakes relies on,
//! and running the schema migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};

use crate::error::{Error, Result};

/// Default database: a SQLite file next to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://quicktakes.db?mode=rwc";

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long a SQLite writer waits for the lock before giving up with `BUSY`.
    pub busy_timeout: Duration,
    /// How long to wait for a connection from the pool.
    pub acquire_timeout: Duration,
    /// How long a PostgreSQL statement may run (SQLite relies on the request timeout).
    pub statement_timeout: Option<Duration>,
}

impl DbOptions {
    /// Options for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: None,
        }
    }
}

/// Opens a pool. SQLite runs in WAL mode (readers never wait for the
/// writer) with `synchronous=NORMAL` (durable at each checkpoint, never
/// corrupt) and a busy timeout; foreign keys are enforced.
pub async fn connect(options: &DbOptions) -> Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(options.url.clone());
    opts.max_connections(options.max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false);
    if let Some(timeout) = options.statement_timeout
        && options.url.starts_with("postgres")
    {
        opts.statement_timeout(timeout);
    }
    let busy = options.busy_timeout;
    opts.map_sqlx_sqlite_opts(move |o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(busy)
            .foreign_keys(true)
    });
    Ok(Database::connect(opts).await?)
}

/// Applies every pending migration.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<()> {
    Ok(Migrator::up(db, None).await?)
}

/// Whether the connection is SQLite.
pub fn is_sqlite(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Sqlite
}

/// Starts a write transaction. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`, waiting up to the busy timeout), so what it reads
/// cannot be overtaken by another writer before it writes.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok(db.begin_with_options(options).await?)
}

/// Attempts [`in_write_txn`] makes of a write that keeps losing races; one
/// retry is enough for any writer that locks what it reads, so a third
/// loss means a broken invariant.
const WRITE_ATTEMPTS: u32 = 3;

/// Runs `attempt` in a write transaction ([`begin_write`]) and commits what
/// it returns. An attempt that lost a version race ([`Error::LostRace`]: the
/// row changed between its read and its guarded write) is rolled back and
/// run again on a fresh read, never reported as `BUSY`. Nothing else is
/// retried: a SQLite `BUSY` means the busy timeout was already waited out.
pub async fn in_write_txn<T, F, Fut>(db: &DatabaseConnection, mut attempt: F) -> Result<T>
where
    F: FnMut(sea_orm::DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<(sea_orm::DatabaseTransaction, T)>>,
{
    let mut attempts = 1;
    loop {
        let txn = begin_write(db).await?;
        match attempt(txn).await {
            Ok((txn, value)) => {
                txn.commit().await?;
                return Ok(value);
            }
            Err(Error::LostRace { id }) if attempts < WRITE_ATTEMPTS => {
                tracing::debug!(article = id, attempts, "lost a version race; writing again");
                attempts += 1;
            }
            Err(error) => return Err(error),
        }
    }
}
