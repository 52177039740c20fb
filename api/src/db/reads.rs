//! Where the hot reads run: a page of articles, its links and their
//! targets, its subjects. The services build each statement once with
//! sea-query and decode its rows by position ([`entity::row`]); [`Reads`]
//! runs it on sea-orm's pool, or, for anonymous reads of a SQLite file, on
//! rusqlite connections of [`SqliteReads`].
//!
//! Why a second SQLite driver: sqlx-sqlite runs each connection on a worker
//! thread and hands every row to the async side over a channel, copying
//! each value. For an article page (about 90 small rows) that hand-off was
//! half the server's CPU (BENCHMARKS.md, "Where q1's time goes"). Here a
//! statement runs start to finish on one blocking thread, from a cache of
//! prepared statements, decoding straight into the models. sea-orm 2.0's own
//! rusqlite driver exists only in its synchronous crate.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use entity::row::Row;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::OpenFlags;
use sea_orm::sea_query::Value;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement};
use tokio::sync::Semaphore;

use super::{BUDGET_CHECK_STEPS, DbOptions};
use crate::error::{Error, Result};

/// Runs read-only statements and decodes their rows.
pub trait Reads: Sync {
    /// The SQL dialect statements must be built for.
    fn backend(&self) -> DbBackend;

    /// The rows of `statement`, each decoded by `decode`.
    fn rows<T, F>(
        &self,
        statement: Statement,
        decode: F,
    ) -> impl Future<Output = Result<Vec<T>>> + Send
    where
        T: Send + 'static,
        F: Fn(&dyn Row) -> std::result::Result<T, DbErr> + Send + 'static;
}

/// Any sea-orm connection or transaction reads through sea-orm.
impl<C: ConnectionTrait> Reads for C {
    fn backend(&self) -> DbBackend {
        self.get_database_backend()
    }

    async fn rows<T, F>(&self, statement: Statement, decode: F) -> Result<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(&dyn Row) -> std::result::Result<T, DbErr> + Send + 'static,
    {
        let rows = self.query_all_raw(statement).await?;
        Ok(rows
            .iter()
            .map(|row| decode(row))
            .collect::<std::result::Result<_, _>>()?)
    }
}

/// The reads of a request: through a sea-orm pool, or through the rusqlite
/// pool of the same SQLite file.
#[derive(Clone)]
pub enum Reader {
    /// sea-orm's pool.
    Pool(DatabaseConnection),
    /// rusqlite connections to a SQLite file.
    Sqlite(SqliteReads),
}

impl Reads for Reader {
    fn backend(&self) -> DbBackend {
        match self {
            Reader::Pool(db) => db.get_database_backend(),
            Reader::Sqlite(_) => DbBackend::Sqlite,
        }
    }

    async fn rows<T, F>(&self, statement: Statement, decode: F) -> Result<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(&dyn Row) -> std::result::Result<T, DbErr> + Send + 'static,
    {
        match self {
            Reader::Pool(db) => db.rows(statement, decode).await,
            Reader::Sqlite(sqlite) => sqlite.rows(statement, decode).await,
        }
    }
}

/// Called with each statement's SQL before it runs (the statement counter).
type StatementCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// A pool of read-only rusqlite connections to a SQLite file.
#[derive(Clone)]
pub struct SqliteReads {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// One per connection: a read waits for a connection here, on the
    /// async side, so a flood of requests queues as tasks instead of
    /// taking a blocking thread each to wait in `r2d2`.
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
    budget: Option<Duration>,
    on_statement: Option<StatementCallback>,
}

impl SqliteReads {
    /// A pool over the SQLite file `options.url` names, with its size,
    /// busy timeout and statement budget; `None` when the URL is not a
    /// SQLite file (PostgreSQL, or an in-memory database no other driver
    /// can see).
    pub fn open(options: &DbOptions) -> Result<Option<Self>> {
        use std::str::FromStr;
        if !options.url.starts_with("sqlite:") {
            return Ok(None);
        }
        let parsed = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(&options.url)
            .map_err(|e| Error::Database(DbErr::Conn(RuntimeErr::SqlxError(e.into()))))?;
        let file = parsed.get_filename().to_owned();
        if file.as_os_str().is_empty()
            || file.as_os_str() == ":memory:"
            || options.url.contains(":memory:")
        {
            return Ok(None);
        }
        let busy = options.busy_timeout;
        // Read-write, so the connection can take part in WAL's shared
        // memory even when it is the first to open the file; `query_only`
        // keeps it from writing.
        let manager = SqliteConnectionManager::file(file)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(move |conn| {
                conn.busy_timeout(busy)?;
                conn.pragma_update(None, "query_only", true)?;
                conn.set_prepared_statement_cache_capacity(64);
                Ok(())
            });
        let pool = r2d2::Pool::builder()
            .max_size(options.max_connections)
            .min_idle(Some(1))
            // A local file does not go stale between checkouts.
            .test_on_check_out(false)
            .connection_timeout(options.acquire_timeout)
            .build(manager)
            .map_err(|e| internal(format!("cannot open the SQLite read pool: {e}")))?;
        Ok(Some(Self {
            pool,
            permits: Arc::new(Semaphore::new(options.max_connections as usize)),
            acquire_timeout: options.acquire_timeout,
            budget: options.statement_timeout,
            on_statement: None,
        }))
    }

    /// Calls `callback` with the SQL of each statement before it runs.
    pub fn on_statement(&mut self, callback: impl Fn(&str) + Send + Sync + 'static) {
        self.on_statement = Some(Arc::new(callback));
    }

    async fn rows<T, F>(&self, statement: Statement, decode: F) -> Result<Vec<T>>
    where
        T: Send + 'static,
        F: Fn(&dyn Row) -> std::result::Result<T, DbErr> + Send + 'static,
    {
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| {
                    internal(format!(
                        "no SQLite read connection came free within {:?}",
                        self.acquire_timeout
                    ))
                })?
                .map_err(|e| internal(format!("the SQLite read pool is closed: {e}")))?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let rows = this.run(&statement, &decode);
            drop(permit);
            rows
        })
        .await
        .map_err(|e| internal(format!("a SQLite read stopped: {e}")))?
    }

    fn run<T>(
        &self,
        statement: &Statement,
        decode: &dyn Fn(&dyn Row) -> std::result::Result<T, DbErr>,
    ) -> Result<Vec<T>> {
        let conn = self
            .pool
            .get()
            .map_err(|e| internal(format!("no SQLite read connection: {e}")))?;
        if let Some(budget) = self.budget {
            arm_budget(&conn, budget).map_err(sqlite)?;
        }
        if let Some(callback) = &self.on_statement {
            callback(&statement.sql);
        }
        let params = statement
            .values
            .iter()
            .flat_map(|values| values.0.iter())
            .map(param)
            .collect::<Result<Vec<_>>>()?;
        let mut prepared = conn.prepare_cached(&statement.sql).map_err(sqlite)?;
        let mut rows = prepared
            .query(rusqlite::params_from_iter(params))
            .map_err(sqlite)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite)? {
            out.push(decode(&SqliteRow(row))?);
        }
        Ok(out)
    }
}

/// Gives this checkout of `conn` `budget` to run in, as
/// [`super::connect`]'s progress handler does for sqlx's connections: the
/// clock starts at the first check, and a statement still running once the
/// budget has passed is interrupted (`SQLITE_INTERRUPT`, which
/// [`crate::error`] reads as the statement budget).
fn arm_budget(conn: &rusqlite::Connection, budget: Duration) -> rusqlite::Result<()> {
    let armed = Instant::now();
    let budget = u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX);
    let started = AtomicU64::new(0);
    conn.progress_handler(
        BUDGET_CHECK_STEPS,
        Some(move || {
            let now = u64::try_from(armed.elapsed().as_nanos()).map_or(u64::MAX, |n| n.max(1));
            match started.load(Ordering::Relaxed) {
                0 => {
                    started.store(now, Ordering::Relaxed);
                    false
                }
                since => now.saturating_sub(since) >= budget,
            }
        }),
    )
}

/// A statement's parameter as rusqlite binds it, in the form sqlx stores
/// the same value in (so the comparisons match what sea-orm wrote).
fn param(value: &Value) -> Result<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    Ok(match value {
        Value::Bool(v) => v.map_or(V::Null, |b| V::Integer(i64::from(b))),
        Value::Int(v) => v.map_or(V::Null, |n| V::Integer(i64::from(n))),
        Value::BigInt(v) => v.map_or(V::Null, V::Integer),
        Value::Unsigned(v) => v.map_or(V::Null, |n| V::Integer(i64::from(n))),
        // LIMIT and OFFSET: a page is never near 2^63 rows.
        Value::BigUnsigned(v) => v.map_or(V::Null, |n| {
            V::Integer(i64::try_from(n).unwrap_or(i64::MAX))
        }),
        Value::Double(v) => v.map_or(V::Null, V::Real),
        Value::String(v) => v.clone().map_or(V::Null, V::Text),
        Value::ChronoDate(v) => v.map_or(V::Null, |d| V::Text(d.format("%Y-%m-%d").to_string())),
        other => {
            return Err(internal(format!(
                "a SQLite read was given a parameter it does not bind: {other:?}"
            )));
        }
    })
}

/// A rusqlite row as an [`entity::row::Row`].
struct SqliteRow<'a, 'r>(&'a rusqlite::Row<'r>);

impl Row for SqliteRow<'_, '_> {
    fn i32(&self, at: usize) -> std::result::Result<Option<i32>, DbErr> {
        self.0.get(at).map_err(decode_error)
    }
    fn i64(&self, at: usize) -> std::result::Result<Option<i64>, DbErr> {
        self.0.get(at).map_err(decode_error)
    }
    fn f64(&self, at: usize) -> std::result::Result<Option<f64>, DbErr> {
        self.0.get(at).map_err(decode_error)
    }
    fn text(&self, at: usize) -> std::result::Result<Option<String>, DbErr> {
        self.0.get(at).map_err(decode_error)
    }
    fn date(&self, at: usize) -> std::result::Result<Option<chrono::NaiveDate>, DbErr> {
        // As for timestamps: chrono's ISO 8601 parser before rusqlite's
        // format string.
        if let Ok(rusqlite::types::ValueRef::Text(text)) = self.0.get_ref(at)
            && let Ok(text) = std::str::from_utf8(text)
            && let Ok(parsed) = text.parse()
        {
            return Ok(Some(parsed));
        }
        self.0.get(at).map_err(decode_error)
    }
    fn timestamp(
        &self,
        at: usize,
    ) -> std::result::Result<Option<chrono::DateTime<chrono::Utc>>, DbErr> {
        // sqlx writes RFC 3339, which chrono's own parser reads several times
        // faster than rusqlite's format string (two per article row).
        if let Ok(rusqlite::types::ValueRef::Text(text)) = self.0.get_ref(at)
            && let Ok(text) = std::str::from_utf8(text)
            && let Ok(parsed) = chrono::DateTime::parse_from_rfc3339(text)
        {
            return Ok(Some(parsed.to_utc()));
        }
        self.0.get(at).map_err(decode_error)
    }
}

fn decode_error(e: rusqlite::Error) -> DbErr {
    DbErr::Type(e.to_string())
}

/// A rusqlite error as the database error it is; its text ("interrupted",
/// "database is locked") is what [`crate::error`] classifies.
fn sqlite(e: rusqlite::Error) -> Error {
    Error::from(DbErr::Query(RuntimeErr::Internal(e.to_string())))
}

fn internal(message: String) -> Error {
    Error::Database(DbErr::Custom(message))
}
