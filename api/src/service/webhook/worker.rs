//! The delivery worker `serve` runs: it turns outbox rows into one
//! delivery per endpoint, POSTs each with its signature, and records every
//! attempt, retrying failures with exponential backoff.
//!
//! Exactly one instance handles each row, however many run over one
//! database. Handing out takes the outbox rows it turns into deliveries
//! with `FOR UPDATE SKIP LOCKED` (PostgreSQL) or under SQLite's one write
//! lock, and removes them in the same transaction. An attempt starts by
//! claiming its delivery in one statement, which also moves the delivery's
//! `next_attempt_at` past the request timeout: that is its lease, and no
//! other instance takes it before it runs out. An instance that dies in
//! the middle of an attempt leaves the delivery to be attempted again once
//! the lease ran out (so a receiver may see a delivery twice, never a
//! change dropped).
//!
//! Nothing here runs on a mutation's path: a commit only wakes the worker,
//! and each request runs in a task of its own with a timeout, so a dead or
//! slow endpoint delays only its own deliveries.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{webhook, webhook_delivery, webhook_outbox};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use serde_json::json;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinSet;

use super::{
    ATTEMPT_HEADER, DELIVERY_HEADER, EVENT_HEADER, Events, SIGNATURE_HEADER, numbered, sign,
};
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::service::changes::ChangeSink;
use crate::service::pause::{self, Pause};
use crate::surrogate;

/// Outbox rows handed out per transaction.
const FAN_OUT_BATCH: u64 = 200;

/// How long past its request timeout a claimed attempt stays its
/// instance's before another may take the delivery over.
const LEASE_SLACK: Duration = Duration::from_secs(30);

/// The shortest wait between two passes, so a delivery another instance
/// is claiming right now is not asked for in a tight loop.
const MIN_WAIT: Duration = Duration::from_millis(20);

/// Longest error text kept of a failed attempt.
const ERROR_CHARS: usize = 1_000;

/// A delivery's states, as the `status` column holds them.
pub mod status {
    /// Not delivered yet; attempted again when `next_attempt_at` comes.
    pub const PENDING: &str = "pending";
    /// An attempt got a 2xx answer.
    pub const DELIVERED: &str = "delivered";
    /// Every attempt failed; no more are made.
    pub const FAILED: &str = "failed";
}

/// How deliveries are made and retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// Attempts per delivery before it is marked failed.
    pub max_attempts: u32,
    /// The wait before the second attempt, doubled after each failure.
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry: Duration,
    /// How long one request may take, connecting included.
    pub timeout: Duration,
    /// How often the tables are looked at when nothing woke the worker
    /// (a change committed by another process, a retry coming due).
    pub poll: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            first_retry: Duration::from_secs(10),
            max_retry: Duration::from_secs(3_600),
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(5),
            concurrency: 16,
        }
    }
}

impl DeliveryConfig {
    /// The wait after failed attempt number `attempt` (from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.first_retry
            .saturating_mul(1 << doublings)
            .min(self.max_retry)
    }
}

/// Test-only pause points of the worker.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct WorkerHooks {
    /// Awaited at the start of every pass (hand out, claim, send).
    pub before_pass: Option<Pause>,
}

/// A running worker; dropping it stops it and the requests it has in
/// flight (their deliveries are attempted again once their lease ran out).
#[derive(Debug)]
pub struct Worker {
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Stops the worker now.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts delivering over `db`, woken by `sink`'s commits (and, on
/// PostgreSQL, by the changes its listener hears from other instances).
pub fn spawn(
    db: DatabaseConnection,
    sink: &ChangeSink,
    config: DeliveryConfig,
    hooks: WorkerHooks,
) -> Result<Worker> {
    let client = http_client(config.timeout)?;
    let sink = sink.clone();
    let task = tokio::spawn(async move { run(db, sink, client, config, hooks).await });
    Ok(Worker { task })
}

/// The client every delivery goes through: no redirects followed (a
/// webhook answers where it is registered), the timeout over the whole
/// request.
fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    // reqwest is built without a crypto provider of its own; the process
    // uses ring's (already installed is fine).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("quicktakes-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Internal(format!("the webhook HTTP client cannot start: {e}")))
}

async fn run(
    db: DatabaseConnection,
    sink: ChangeSink,
    client: reqwest::Client,
    config: DeliveryConfig,
    hooks: WorkerHooks,
) {
    let mut changes = sink.subscribe();
    let written = sink.outbox_written();
    let finished = Arc::new(Notify::new());
    // Owned by this task: stopping it aborts the requests in flight.
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        pause::at(hooks.before_pass.as_ref()).await;
        let wait = match pass(&db, &client, &config, &mut in_flight, &finished).await {
            Ok(_) if in_flight.len() >= config.concurrency => config.poll,
            Ok(Some(due)) => (due - Utc::now())
                .to_std()
                .unwrap_or_default()
                .clamp(MIN_WAIT, config.poll),
            Ok(None) => config.poll,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = config.poll.as_millis() as u64, "webhook worker pass failed");
                config.poll
            }
        };
        tokio::select! {
            () = written.notified() => {}
            () = finished.notified() => {}
            _ = changes.recv() => {}
            () = tokio::time::sleep(wait) => {}
        }
        // A burst of changes is one pass.
        while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = changes.try_recv() {}
    }
}

/// One pass: hands out the outbox, then starts the due deliveries there is
/// room for. Returns when the next pending delivery comes due.
async fn pass(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    config: &DeliveryConfig,
    in_flight: &mut JoinSet<()>,
    finished: &Arc<Notify>,
) -> Result<Option<DateTime<Utc>>> {
    while fan_out(db).await? == FAN_OUT_BATCH as usize {}
    let room = config.concurrency.saturating_sub(in_flight.len());
    if room > 0 {
        for (delivery, hook) in claim(db, config, room).await? {
            let (db, client, config, finished) =
                (db.clone(), client.clone(), config.clone(), finished.clone());
            in_flight.spawn(async move {
                attempt(&db, &client, &config, delivery, hook).await;
                finished.notify_one();
            });
        }
    }
    next_due(db).await
}

/// Turns up to [`FAN_OUT_BATCH`] outbox rows into deliveries, one per
/// webhook that wants each, and removes them, in one transaction; returns
/// how many rows it took.
async fn fan_out(db: &DatabaseConnection) -> Result<usize> {
    // A read first, so an idle pass takes no write lock (SQLite).
    let any = webhook_outbox::Entity::find()
        .select_only()
        .column(webhook_outbox::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let txn = begin_write(db).await?;
    // SQLite has no row locks (sea-query writes no clause there): its
    // write transaction alone keeps other writers out.
    let rows = webhook_outbox::Entity::find()
        .order_by_asc(webhook_outbox::Column::Id)
        .limit(FAN_OUT_BATCH)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if rows.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    let hooks: Vec<(i32, Events)> = webhook::Entity::find()
        .all(&txn)
        .await?
        .into_iter()
        .map(|h| (h.id, Events::from_stored(&h.events)))
        .collect();
    let now = Utc::now();
    let mut deliveries = Vec::new();
    for row in &rows {
        let Some(kind) = crate::service::changes::ChangeKind::parse(&row.event) else {
            tracing::warn!(event = %row.event, "outbox row of an unknown event; dropped");
            continue;
        };
        let body = payload(row);
        for (id, events) in &hooks {
            if events.wants(kind) {
                deliveries.push(webhook_delivery::ActiveModel {
                    webhook_id: Set(*id),
                    change_id: Set(row.id),
                    event: Set(row.event.clone()),
                    article_id: Set(row.article_id),
                    version: Set(row.version),
                    body: Set(body.clone()),
                    status: Set(status::PENDING.to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    last_status: Set(None),
                    last_error: Set(None),
                    created_at: Set(now),
                    last_attempt_at: Set(None),
                    finished_at: Set(None),
                    ..Default::default()
                });
            }
        }
    }
    // Rows of 15 values; well under every backend's limit of bound values.
    let mut pending = deliveries.into_iter().peekable();
    while pending.peek().is_some() {
        let chunk: Vec<_> = pending.by_ref().take(500).collect();
        webhook_delivery::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    webhook_outbox::Entity::delete_many()
        .filter(webhook_outbox::Column::Id.is_in(rows.iter().map(|r| r.id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(rows.len())
}

/// The JSON body every endpoint gets for an outbox row; the same bytes at
/// every attempt, so its signature is too.
fn payload(row: &webhook_outbox::Model) -> String {
    let keys = surrogate::of_change(
        row.article_id,
        row.old_subject_id.into_iter().chain([row.subject_id]),
    );
    json!({
        "eventId": row.id.to_string(),
        "event": row.event,
        "occurredAt": row.committed_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "articleId": row.article_id.to_string(),
        "version": row.version,
        "subject": {
            "id": row.subject_id.to_string(),
            "name": row.subject_name,
            "slug": row.subject_slug,
        },
        "oldUrl": row.old_url,
        "newUrl": row.new_url,
        "surrogateKeys": keys.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
    .to_string()
}

/// A delivery claimed for one attempt.
#[derive(Debug, FromQueryResult)]
struct Claimed {
    id: i64,
    webhook_id: i32,
    event: String,
    body: String,
    attempts: i32,
}

/// Claims up to `room` due deliveries for an attempt each (see the module
/// docs: the attempt is counted and leased in the same statement); returns
/// them with their webhooks.
async fn claim(
    db: &DatabaseConnection,
    config: &DeliveryConfig,
    room: usize,
) -> Result<Vec<(Claimed, webhook::Model)>> {
    let now = Utc::now();
    let due = next_due(db).await?;
    if due.is_none_or(|due| due > now) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let lease = now + chrono::Duration::from_std(config.timeout + LEASE_SLACK).unwrap_or_default();
    // Rows another instance is claiming are skipped, not waited for.
    let skip = if backend == sea_orm::DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE webhook_delivery SET attempts = attempts + 1, next_attempt_at = $1, last_attempt_at = $2 \
         WHERE id IN (SELECT id FROM webhook_delivery \
                      WHERE status = '{pending}' AND next_attempt_at <= $2 \
                      ORDER BY next_attempt_at, id LIMIT $3{skip}) \
         RETURNING id, webhook_id, event, body, attempts",
        pending = status::PENDING,
    );
    let claimed = Claimed::find_by_statement(Statement::from_sql_and_values(
        backend,
        numbered(backend, &sql),
        [lease.into(), now.into(), (room as i64).into()],
    ))
    .all(db)
    .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::Id.is_in(claimed.iter().map(|c| c.webhook_id)))
        .all(db)
        .await?;
    Ok(claimed
        .into_iter()
        .filter_map(|c| {
            // A webhook removed meanwhile took its deliveries with it.
            let hook = hooks.iter().find(|h| h.id == c.webhook_id)?.clone();
            Some((c, hook))
        })
        .collect())
}

/// When the first pending delivery comes due, if one is pending.
async fn next_due(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>> {
    Ok(webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::NextAttemptAt)
        .filter(webhook_delivery::Column::Status.eq(status::PENDING))
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .limit(1)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?)
}

/// How one attempt ended.
enum Outcome {
    /// A 2xx answer.
    Delivered(u16),
    /// Another answer, or none (`status` is then `None`).
    Failed { status: Option<u16>, error: String },
}

/// Makes one attempt of `delivery` to `hook` and records how it went.
async fn attempt(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    config: &DeliveryConfig,
    delivery: Claimed,
    hook: webhook::Model,
) {
    let outcome = match post(client, config, &delivery, &hook).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed {
            status: None,
            error: e.to_string(),
        },
    };
    if let Err(e) = record(db, config, &delivery, &outcome).await {
        // The lease runs out and the delivery is attempted again.
        tracing::warn!(error = %e, delivery = delivery.id, "cannot record a webhook attempt");
    }
}

async fn post(
    client: &reqwest::Client,
    config: &DeliveryConfig,
    delivery: &Claimed,
    hook: &webhook::Model,
) -> Result<Outcome> {
    let signature = sign(&hook.secret, delivery.body.as_bytes())?;
    let sent = client
        .post(&hook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(EVENT_HEADER, &delivery.event)
        .header(DELIVERY_HEADER, delivery.id.to_string())
        .header(ATTEMPT_HEADER, delivery.attempts.to_string())
        .body(delivery.body.clone())
        .send()
        .await;
    Ok(match sent {
        Ok(answer) if answer.status().is_success() => Outcome::Delivered(answer.status().as_u16()),
        Ok(answer) => Outcome::Failed {
            status: Some(answer.status().as_u16()),
            error: format!("the endpoint answered HTTP {}", answer.status()),
        },
        Err(e) => Outcome::Failed {
            status: None,
            error: describe(&e, config.timeout),
        },
    })
}

/// What went wrong with a request, with its causes (reqwest's own text
/// says only "error sending request").
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(ERROR_CHARS).collect()
}

/// Records `outcome` of the attempt `delivery` was claimed for: delivered,
/// pending again after its backoff, or failed after the last attempt. An
/// attempt whose lease ran out and was taken over records nothing.
async fn record(
    db: &DatabaseConnection,
    config: &DeliveryConfig,
    delivery: &Claimed,
    outcome: &Outcome,
) -> Result<()> {
    let now = Utc::now();
    let attempt = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
    let mut update = webhook_delivery::Entity::update_many();
    match outcome {
        Outcome::Delivered(code) => {
            update = update
                .col_expr(
                    webhook_delivery::Column::Status,
                    Expr::value(status::DELIVERED),
                )
                .col_expr(
                    webhook_delivery::Column::LastStatus,
                    Expr::value(i32::from(*code)),
                )
                .col_expr(
                    webhook_delivery::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(webhook_delivery::Column::FinishedAt, Expr::value(now));
        }
        Outcome::Failed { status, error } => {
            update = update
                .col_expr(
                    webhook_delivery::Column::LastStatus,
                    Expr::value(status.map(i32::from)),
                )
                .col_expr(
                    webhook_delivery::Column::LastError,
                    Expr::value(error.clone()),
                );
            if attempt >= config.max_attempts {
                tracing::warn!(delivery = delivery.id, attempts = attempt, %error, "webhook delivery failed for good");
                update = update
                    .col_expr(
                        webhook_delivery::Column::Status,
                        Expr::value(status::FAILED),
                    )
                    .col_expr(webhook_delivery::Column::FinishedAt, Expr::value(now));
            } else {
                let next =
                    now + chrono::Duration::from_std(config.backoff(attempt)).unwrap_or_default();
                update =
                    update.col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next));
            }
        }
    }
    update
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
        .filter(webhook_delivery::Column::Status.eq(status::PENDING))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = DeliveryConfig {
            first_retry: Duration::from_secs(10),
            max_retry: Duration::from_secs(60),
            ..Default::default()
        };
        let waits: Vec<u64> = (1..=5).map(|n| config.backoff(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
        assert_eq!(config.backoff(u32::MAX).as_secs(), 60);
    }
}
