//! Connecting to SQLite or PostgreSQL with the settings quicktakes relies on,
//! and running the schema migrations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};

use crate::error::Result;

mod reads;
mod replicas;
pub use reads::{Reader, Reads, SqliteReads};
pub use replicas::Replicas;

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
    /// How long a statement may run; `None` is no limit. PostgreSQL: the
    /// `statement_timeout` every pooled connection opens with. SQLite: the
    /// running statement is aborted once the work of one checkout of the
    /// connection has run this long without writing a row (see
    /// `arm_statement_budget`).
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
/// corrupt), temporary storage in memory and a busy timeout; foreign keys
/// are enforced. The statement budget is set once per connection (a
/// PostgreSQL startup parameter, a SQLite progress handler armed for each
/// checkout), never by a statement per request.
pub async fn connect(options: &DbOptions) -> Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(options.url.clone());
    opts.max_connections(options.max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false);
    if let Some(budget) = options.statement_timeout {
        // sea-orm passes it as the `statement_timeout` startup option on
        // PostgreSQL and ignores it on SQLite.
        opts.statement_timeout(budget);
        // Armed when a connection opens and again each time it goes back
        // to the pool, so the round trip to its worker thread is off the
        // path of the request that checks it out.
        opts.map_sqlx_sqlite_pool_opts(move |pool| {
            pool.after_connect(move |conn, _| Box::pin(arm_statement_budget(conn, budget)))
                .after_release(move |conn, _| {
                    Box::pin(async move {
                        arm_statement_budget(conn, budget).await?;
                        Ok(true)
                    })
                })
        });
    }
    let busy = options.busy_timeout;
    opts.map_sqlx_sqlite_opts(move |o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(busy)
            .foreign_keys(true)
            // Statement journals (every multi-row insert in a transaction
            // keeps one) and sorts stay in memory, not temporary files: 10 %
            // of a 100,000-article import went to writing its journal.
            .pragma("temp_store", "memory")
    });
    Ok(Database::connect(opts).await?)
}

/// The PostgreSQL advisory lock key instances hold while they migrate and
/// load the first seeds (`quicktakes` in ASCII).
const STARTUP_LOCK: i64 = 0x7175_6963_6b74_616b;

/// The startup lock while held (PostgreSQL): a connection of its own,
/// outside every pool, so holding it costs no pooled connection (a command's
/// pool has one).
pub struct StartupLock(Option<sea_orm::sqlx::PgConnection>);

impl StartupLock {
    /// Releases the lock by closing its connection (as the process's end
    /// would).
    pub async fn release(self) -> Result<()> {
        use sea_orm::sqlx::Connection;
        if let Some(connection) = self.0 {
            connection.close().await.map_err(sqlx_error)?;
        }
        Ok(())
    }
}

/// On PostgreSQL, waits for, then takes, the lock an instance holds while
/// it migrates and imports the first seeds (and `quicktakes migrate` while
/// it migrates), so instances started together take turns instead of
/// racing to create the same tables and articles. Waiting has no statement
/// budget: a first import can take minutes. On SQLite there is none.
pub async fn startup_lock(url: &str) -> Result<StartupLock> {
    use sea_orm::sqlx::{Connection, PgConnection};
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(StartupLock(None));
    }
    let mut connection = PgConnection::connect(url).await.map_err(sqlx_error)?;
    sea_orm::sqlx::query("SET statement_timeout = 0")
        .execute(&mut connection)
        .await
        .map_err(sqlx_error)?;
    sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(STARTUP_LOCK)
        .execute(&mut connection)
        .await
        .map_err(sqlx_error)?;
    Ok(StartupLock(Some(connection)))
}

/// A failure of a connection made with sqlx directly, as the database
/// errors of the pools are.
pub(crate) fn sqlx_error(e: sea_orm::sqlx::Error) -> crate::error::Error {
    crate::error::Error::from(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
        e.into(),
    )))
}

/// SQLite's page cache per connection, in KiB: its default, which the
/// import raises for its one transaction and sets back.
pub const SQLITE_CACHE_KIB: u32 = 2_000;

/// Sets the page cache of the SQLite connection `conn` runs on to `kib`.
pub async fn set_sqlite_cache(conn: &impl sea_orm::ConnectionTrait, kib: u32) -> Result<()> {
    conn.execute_unprepared(&format!("PRAGMA cache_size = -{kib}"))
        .await?;
    Ok(())
}

/// SQLite virtual-machine steps between two checks of the statement budget:
/// often enough to stop within microseconds of the deadline, rare enough
/// that the clock read costs nothing measurable.
const BUDGET_CHECK_STEPS: i32 = 1_000;

/// Gives the next checkout of a SQLite connection `budget` to run in: a
/// progress handler aborts the running statement (`SQLITE_INTERRUPT`, which
/// a client sees as a masked `INTERNAL`) once `budget` has passed since the
/// checkout's first statement long enough to be checked (a statement that
/// never reaches [`BUDGET_CHECK_STEPS`] is never stopped, and starts no
/// clock). SQLite cannot cancel a statement from outside, so without this a
/// request that timed out would leave its statement running to the end.
/// Each row the connection writes restarts the clock, so a long write that
/// keeps making progress (an import's one transaction) is never cut, while
/// a statement that only computes is.
async fn arm_statement_budget(
    conn: &mut SqliteConnection,
    budget: Duration,
) -> std::result::Result<(), sea_orm::sqlx::Error> {
    let armed = Instant::now();
    // Nanoseconds after `armed`, at least 1, so that 0 can mean "not started".
    let now = move || u64::try_from(armed.elapsed().as_nanos()).map_or(u64::MAX, |n| n.max(1));
    let budget = u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX);
    let started = Arc::new(AtomicU64::new(0));
    let mut handle = conn.lock_handle().await?;
    let clock = started.clone();
    handle.set_progress_handler(BUDGET_CHECK_STEPS, move || {
        let now = now();
        match clock.load(Ordering::Relaxed) {
            0 => {
                clock.store(now, Ordering::Relaxed);
                true
            }
            since => now.saturating_sub(since) < budget,
        }
    });
    handle.set_update_hook(move |_| started.store(now(), Ordering::Relaxed));
    Ok(())
}

/// Applies every pending migration.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<()> {
    Ok(Migrator::up(db, None).await?)
}

/// Refreshes the planner's statistics of the article tables after a bulk
/// write. Right after an import PostgreSQL still believes the tables hold
/// what they held before (autovacuum catches up only later), and plans a
/// page's link targets as a hash join over every article: 15 ms instead of
/// 0.7 ms for 10,000 articles. SQLite's planner needs no statistics here.
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<()> {
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE subject, article, article_alias, article_link, revision")
            .await?;
    }
    Ok(())
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
