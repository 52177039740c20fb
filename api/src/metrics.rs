//! Prometheus metrics: requests by operation and outcome, latency, the
//! database pool, and the seed import. The recorder is process-wide and
//! installed once; without it (the CLI) every recording is a no-op.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;

/// Distinct operation names kept as labels; later ones are counted as `other`
/// so a client cannot grow the label set without bound.
const MAX_OPERATION_LABELS: usize = 200;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static OPERATIONS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// Installs the recorder (once per process) and returns its handle.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The label for an operation name: a bounded set of sanitized names.
pub fn operation_label(name: Option<&str>) -> String {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous".to_owned();
    };
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let seen = OPERATIONS.get_or_init(|| Mutex::new(HashSet::new()));
    let Ok(mut seen) = seen.lock() else {
        return "other".to_owned();
    };
    if seen.contains(&clean) || (seen.len() < MAX_OPERATION_LABELS && seen.insert(clean.clone())) {
        clean
    } else {
        "other".to_owned()
    }
}

/// Records one GraphQL operation: its outcome (`ok`, or the first error's
/// code in lower case) and its duration.
pub fn record_operation(operation: &str, outcome: &str, seconds: f64) {
    metrics::counter!("quicktakes_graphql_requests_total", "operation" => operation.to_owned(), "outcome" => outcome.to_owned())
        .increment(1);
    metrics::histogram!("quicktakes_graphql_request_duration_seconds", "operation" => operation.to_owned())
        .record(seconds);
}

/// Records one HTTP request.
pub fn record_http(path: &str, status: u16, seconds: f64) {
    metrics::counter!("quicktakes_http_requests_total", "path" => path.to_owned(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("quicktakes_http_request_duration_seconds", "path" => path.to_owned())
        .record(seconds);
}

/// Records articles handled by an import, by action.
pub fn record_import(action: &str, count: usize) {
    metrics::counter!("quicktakes_import_articles_total", "action" => action.to_owned())
        .increment(count as u64);
}

/// The exposition text, with the pool gauges read now.
pub fn render(db: &DatabaseConnection) -> String {
    let (size, idle) = pool_state(db);
    metrics::gauge!("quicktakes_db_pool_connections", "state" => "open").set(f64::from(size));
    metrics::gauge!("quicktakes_db_pool_connections", "state" => "idle").set(idle as f64);
    install().map(PrometheusHandle::render).unwrap_or_default()
}

fn pool_state(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    }
}

/// Counts the SQL statements run through `db` as
/// `quicktakes_db_statements_total{pool}`, so a benchmark can read how many
/// statements a request costs. Set only with `--metrics-bind`.
pub fn count_statements(db: &mut DatabaseConnection, pool: &'static str) {
    let counter = metrics::counter!("quicktakes_db_statements_total", "pool" => pool);
    db.set_metric_callback(move |_| counter.increment(1));
}

/// Counts the statements `reads` runs, as [`count_statements`] does.
pub fn count_sqlite_statements(reads: &mut crate::db::SqliteReads, pool: &'static str) {
    let counter = metrics::counter!("quicktakes_db_statements_total", "pool" => pool);
    reads.on_statement(move |_| counter.increment(1));
}

/// Counts a connection refused for its address's connection cap.
pub fn record_connection_refused() {
    metrics::counter!("quicktakes_http_connections_refused_total").increment(1);
}

/// Counts an anonymous read sent to the primary because no read replica
/// was reachable.
pub fn record_replica_fallback() {
    metrics::counter!("quicktakes_replica_fallbacks_total").increment(1);
}
