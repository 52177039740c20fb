//! The delivery worker `serve` runs: it turns outbox rows into one
//! delivery per endpoint, POSTs each with its signature, and records every
//! attempt, retrying failures with exponential backoff.
//!
//! Exactly one instance handles each row, however many run over one
//! database. Handing out takes the outbox rows it turns into deliveries
//! with `FOR UPDATE SKIP LOCKED` (PostgreSQL) or under SQLite's one write
//! lock, and removes them in the same transaction. An attempt starts by
//! claiming its delivery in one statement, which also moves the delivery's
//! `next_attempt_at` (and `leased_until`) past the request timeout: that is
//! its lease, and no other instance takes it before it runs out. An
//! instance that dies in the middle of an attempt leaves the delivery to be
//! attempted again once the lease ran out (so a receiver may see a delivery
//! twice, never a change dropped). Claims, and the records of attempts,
//! take turns across instances (SQLite's write lock; a transaction-scoped
//! advisory lock on PostgreSQL), and every time they compare or write is
//! the database's clock, so instances whose clocks disagree never attempt
//! one delivery at once.
//!
//! Nothing here runs on a mutation's path: a commit only wakes the worker,
//! and each request runs in a task of its own with a timeout. A dead or
//! slow endpoint delays only its own deliveries: a claim leaves a webhook
//! with [`PER_WEBHOOK`] attempts in flight alone, so it holds at most that
//! many of the request slots, and a failed attempt moves the webhook's
//! other due deliveries back to its own next attempt, so a dead endpoint is
//! probed a few requests at a time, not flooded.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{webhook, webhook_delivery, webhook_outbox};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
    Value,
};
use serde_json::json;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinSet;

use super::{
    ATTEMPT_HEADER, DELIVERY_HEADER, EVENT_HEADER, Events, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    numbered, sign, sql_now, sql_now_plus,
};
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::service::changes::{ChangeKind, ChangeSink};
use crate::service::pause::{self, Pause};
use crate::surrogate;

/// Outbox rows handed out per transaction.
const FAN_OUT_BATCH: u64 = 200;

/// Attempts of one webhook in flight at once, across every instance. A
/// claim skips a webhook with this many unexpired leases, so a dead or
/// hanging endpoint holds at most this many of an instance's request slots
/// ([`DeliveryConfig::concurrency`], 16), each for a request timeout, and
/// the rest stay free for the other endpoints; a burst of changes (an
/// import) reaches one endpoint this many requests at a time. Small, so
/// that several dead endpoints together still leave slots free; more than
/// one, so a live endpoint's backlog does not go one request at a time.
pub const PER_WEBHOOK: usize = 4;

/// The first key of the PostgreSQL advisory lock (`qtwh` in ASCII) that
/// claims and records of attempts take in turn; the second is the schema's
/// hash, so deployments sharing a database do not wait for each other.
const CLAIM_LOCK: i32 = 0x7174_7768;

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
    /// Requests in flight at once (at most [`PER_WEBHOOK`] of them to one
    /// webhook).
    pub concurrency: usize,
    /// How long after its change committed a delivery's first attempt is
    /// made at the earliest: longer than read replicas' replay lag, so a
    /// receiver that purges a CDN at once does not have it refetch the old
    /// page from a replica.
    pub delay: Duration,
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
            delay: Duration::ZERO,
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
    let mut warned = false;
    loop {
        while in_flight.try_join_next().is_some() {}
        pause::at(hooks.before_pass.as_ref()).await;
        let wait = match pass(
            &db,
            &client,
            &config,
            &mut in_flight,
            &finished,
            &mut warned,
        )
        .await
        {
            Ok(_) if in_flight.len() >= config.concurrency => config.poll,
            Ok(Some(due)) => due.wait().clamp(MIN_WAIT, config.poll),
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
/// room for. Returns when the next delivery that may be claimed comes due.
async fn pass(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    config: &DeliveryConfig,
    in_flight: &mut JoinSet<()>,
    finished: &Arc<Notify>,
    warned: &mut bool,
) -> Result<Option<Due>> {
    while fan_out(db, config, warned).await? == FAN_OUT_BATCH as usize {}
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
/// webhook that existed when the row was written and wants its event, and
/// removes them, in one transaction; returns how many rows it took.
///
/// A row of an event this version does not know (written by a newer one,
/// during a rolling upgrade) is left for an instance that knows it; the
/// first seen is logged once (`warned`).
async fn fan_out(
    db: &DatabaseConnection,
    config: &DeliveryConfig,
    warned: &mut bool,
) -> Result<usize> {
    let known = ChangeKind::ALL.map(ChangeKind::as_str);
    if !*warned
        && let Some(event) = webhook_outbox::Entity::find()
            .select_only()
            .column(webhook_outbox::Column::Event)
            .filter(webhook_outbox::Column::Event.is_not_in(known))
            .limit(1)
            .into_tuple::<String>()
            .one(db)
            .await?
    {
        *warned = true;
        tracing::warn!(
            %event,
            "the webhook outbox holds changes of an event this version does not know (written by a newer one); they are left for an instance that knows it"
        );
    }
    // A read first, so an idle pass takes no write lock (SQLite).
    let any = webhook_outbox::Entity::find()
        .select_only()
        .column(webhook_outbox::Column::Id)
        .filter(webhook_outbox::Column::Event.is_in(known))
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
        .filter(webhook_outbox::Column::Event.is_in(known))
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
    let now = db_now(&txn).await?;
    let delay = chrono::Duration::from_std(config.delay).unwrap_or(chrono::Duration::MAX);
    let mut deliveries = Vec::new();
    for row in &rows {
        let Some(kind) = ChangeKind::parse(&row.event) else {
            continue;
        };
        let body = payload(row);
        // The first attempt waits for the delay from the change's commit
        // (both times the database's).
        let first = row
            .committed_at
            .checked_add_signed(delay)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        for (id, events) in &hooks {
            if *id <= row.last_webhook_id && events.wants(kind) {
                deliveries.push(webhook_delivery::ActiveModel {
                    webhook_id: Set(*id),
                    change_id: Set(row.id),
                    event: Set(row.event.clone()),
                    article_id: Set(row.article_id),
                    version: Set(row.version),
                    body: Set(body.clone()),
                    status: Set(status::PENDING.to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(first),
                    last_status: Set(None),
                    last_error: Set(None),
                    created_at: Set(now),
                    last_attempt_at: Set(None),
                    finished_at: Set(None),
                    leased_until: Set(None),
                    ..Default::default()
                });
            }
        }
    }
    // Rows of 16 values; well under every backend's limit of bound values.
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

/// The database's clock now.
async fn db_now(db: &impl ConnectionTrait) -> Result<DateTime<Utc>> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT {} AS now", sql_now(backend)),
        ))
        .await?
        .ok_or_else(|| Error::Internal("the database told no time".to_owned()))?;
    Ok(row.try_get::<DateTime<Utc>>("", "now")?)
}

/// The JSON body every endpoint gets for an outbox row; the same bytes at
/// every attempt (its signature also covers the attempt's time).
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
    /// When the claim was made, by the database's clock: the attempt's
    /// time, which its signature covers.
    last_attempt_at: DateTime<Utc>,
}

/// Starts a transaction that claims deliveries or records an attempt: on
/// SQLite under the write lock (`BEGIN IMMEDIATE`), on PostgreSQL under a
/// transaction-scoped advisory lock, so no two instances count a webhook's
/// attempts in flight, or move its due deliveries, at once.
async fn begin_claims(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    let txn = begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT pg_advisory_xact_lock({CLAIM_LOCK}, hashtext(current_schema()))"),
        ))
        .await?;
    }
    Ok(txn)
}

/// SQL counting, per webhook, the attempts in flight: pending deliveries
/// whose lease has not run out (one that ran out is due again, and counts
/// no more).
fn in_flight_sql(backend: DbBackend) -> String {
    format!(
        "SELECT webhook_id, COUNT(*) AS n FROM webhook_delivery \
         WHERE status = '{pending}' AND leased_until > {now} GROUP BY webhook_id",
        pending = status::PENDING,
        now = sql_now(backend),
    )
}

/// Claims up to `room` due deliveries for an attempt each (see the module
/// docs: the attempt is counted and leased in the same statement), at most
/// as many of one webhook as [`PER_WEBHOOK`] leaves room for, its oldest
/// first, and each webhook's first before any webhook's second; returns
/// them with their webhooks.
async fn claim(
    db: &DatabaseConnection,
    config: &DeliveryConfig,
    room: usize,
) -> Result<Vec<(Claimed, webhook::Model)>> {
    // A read first, so a pass with nothing due takes no lock.
    if next_due(db).await?.is_none_or(|due| due.at > due.now) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let lease = millis(config.timeout + LEASE_SLACK);
    let now = sql_now(backend);
    let leased = sql_now_plus(backend, "$1");
    let sql = format!(
        "UPDATE webhook_delivery \
         SET attempts = attempts + 1, next_attempt_at = {leased}, leased_until = {leased}, \
             last_attempt_at = {now} \
         WHERE status = '{pending}' AND next_attempt_at <= {now} AND id IN ( \
           SELECT due.id FROM ( \
             SELECT d.id, d.next_attempt_at, \
                    COALESCE(busy.n, 0) + ROW_NUMBER() OVER ( \
                      PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS slot \
             FROM webhook_delivery d \
             LEFT JOIN ({in_flight}) busy ON busy.webhook_id = d.webhook_id \
             WHERE d.status = '{pending}' AND d.next_attempt_at <= {now} \
           ) due \
           WHERE due.slot <= $2 \
           ORDER BY due.slot, due.next_attempt_at, due.id \
           LIMIT $3) \
         RETURNING id, webhook_id, event, body, attempts, last_attempt_at",
        pending = status::PENDING,
        in_flight = in_flight_sql(backend),
    );
    let txn = begin_claims(db).await?;
    let claimed = Claimed::find_by_statement(Statement::from_sql_and_values(
        backend,
        numbered(backend, &sql),
        [
            lease.into(),
            (PER_WEBHOOK as i64).into(),
            (room as i64).into(),
        ],
    ))
    .all(&txn)
    .await?;
    txn.commit().await?;
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

/// When the first delivery a claim may take comes due, by the database's
/// clock, and that clock's time now.
#[derive(Debug, Clone, Copy)]
struct Due {
    at: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Due {
    /// How long until it comes due (nothing when it is).
    fn wait(&self) -> Duration {
        (self.at - self.now).to_std().unwrap_or_default()
    }
}

/// When the first pending delivery a claim may take comes due, if one is
/// pending: not one of a webhook with [`PER_WEBHOOK`] attempts in flight,
/// unless it is itself in flight (its lease may run out). A slot of such a
/// webhook frees when an attempt ends, which wakes this instance's worker
/// (`finished`) when it made the attempt, and the next poll otherwise.
async fn next_due(db: &DatabaseConnection) -> Result<Option<Due>> {
    let backend = db.get_database_backend();
    let now = sql_now(backend);
    let sql = format!(
        "SELECT MIN(d.next_attempt_at) AS due_at, {now} AS now \
         FROM webhook_delivery d \
         LEFT JOIN ({in_flight}) busy ON busy.webhook_id = d.webhook_id \
         WHERE d.status = '{pending}' \
           AND (d.leased_until > {now} OR COALESCE(busy.n, 0) < $1)",
        pending = status::PENDING,
        in_flight = in_flight_sql(backend),
    );
    #[derive(FromQueryResult)]
    struct Row {
        due_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    }
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        backend,
        numbered(backend, &sql),
        [(PER_WEBHOOK as i64).into()],
    ))
    .one(db)
    .await?;
    Ok(row.and_then(|r| r.due_at.map(|at| Due { at, now: r.now })))
}

/// `d` in whole milliseconds, as SQL takes it.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
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
        tracing::warn!(error = %e, delivery = delivery.id, webhook = delivery.webhook_id, "cannot record a webhook attempt");
    }
}

async fn post(
    client: &reqwest::Client,
    config: &DeliveryConfig,
    delivery: &Claimed,
    hook: &webhook::Model,
) -> Result<Outcome> {
    let timestamp = delivery.last_attempt_at.timestamp();
    let signature = sign(&hook.secret, timestamp, delivery.body.as_bytes())?;
    let sent = client
        .post(&hook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
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
            error: describe(e, config.timeout, hook),
        },
    })
}

/// What went wrong with a request, with its causes (reqwest's own text
/// says only "error sending request"), and never the url: a webhook's url
/// is often a secret (a build hook's token in its query). This text is the
/// delivery's `last_error`, and what the logs say.
fn describe(e: reqwest::Error, timeout: Duration, hook: &webhook::Model) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    // reqwest's text of an error ends with ` for url (…)`, the whole url.
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    redact(&text, hook).chars().take(ERROR_CHARS).collect()
}

/// `text` without `hook`'s url, the url's query and password, or its
/// secret, should a cause have repeated one.
fn redact(text: &str, hook: &webhook::Model) -> String {
    let mut text = text.replace(hook.url.as_str(), "<the webhook's url>");
    if let Ok(url) = reqwest::Url::parse(&hook.url) {
        for hidden in [url.query(), url.password()].into_iter().flatten() {
            if !hidden.is_empty() {
                text = text.replace(hidden, "<redacted>");
            }
        }
    }
    if !hook.secret.is_empty() {
        text = text.replace(hook.secret.as_str(), "<redacted>");
    }
    text
}

/// Records `outcome` of the attempt `delivery` was claimed for: delivered,
/// pending again after its backoff, or failed after the last attempt; every
/// time by the database's clock. An attempt whose lease ran out and was
/// taken over records nothing.
///
/// A failed attempt that will be retried also moves its webhook's other
/// due deliveries back to its own next attempt: a dead endpoint is then
/// probed by the few attempts a claim lets through, each retried with
/// backoff, not sent every due delivery at once; once a probe succeeds,
/// the rest follow.
async fn record(
    db: &DatabaseConnection,
    config: &DeliveryConfig,
    delivery: &Claimed,
    outcome: &Outcome,
) -> Result<()> {
    let backend = db.get_database_backend();
    let now = sql_now(backend);
    let attempt = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
    // Only the attempt this instance claimed, if still its.
    let this = format!(
        "id = $1 AND attempts = $2 AND status = '{pending}'",
        pending = status::PENDING
    );
    let mut values: Vec<Value> = vec![delivery.id.into(), delivery.attempts.into()];
    let retry = matches!(outcome, Outcome::Failed { .. }) && attempt < config.max_attempts;
    let sql = match outcome {
        Outcome::Delivered(code) => {
            values.push(i32::from(*code).into());
            format!(
                "UPDATE webhook_delivery SET status = '{delivered}', last_status = $3, \
                 last_error = NULL, finished_at = {now}, leased_until = NULL WHERE {this}",
                delivered = status::DELIVERED,
            )
        }
        Outcome::Failed { status, error } => {
            values.push(status.map(i32::from).into());
            values.push(error.clone().into());
            if retry {
                values.push(millis(config.backoff(attempt)).into());
                format!(
                    "UPDATE webhook_delivery SET last_status = $3, last_error = $4, \
                     next_attempt_at = {next}, leased_until = NULL WHERE {this}",
                    next = sql_now_plus(backend, "$5"),
                )
            } else {
                tracing::warn!(
                    delivery = delivery.id,
                    webhook = delivery.webhook_id,
                    attempts = attempt,
                    %error,
                    "webhook delivery failed for good"
                );
                format!(
                    "UPDATE webhook_delivery SET status = '{failed}', last_status = $3, \
                     last_error = $4, finished_at = {now}, leased_until = NULL WHERE {this}",
                    failed = status::FAILED,
                )
            }
        }
    };
    let txn = begin_claims(db).await?;
    let recorded = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(backend, &sql),
            values,
        ))
        .await?;
    if retry && recorded.rows_affected() == 1 {
        let sql = format!(
            "UPDATE webhook_delivery \
             SET next_attempt_at = (SELECT f.next_attempt_at FROM webhook_delivery f WHERE f.id = $1) \
             WHERE webhook_id = $2 AND status = '{pending}' AND id <> $1 AND next_attempt_at <= {now}",
            pending = status::PENDING,
        );
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(backend, &sql),
            [delivery.id.into(), delivery.webhook_id.into()],
        ))
        .await?;
    }
    txn.commit().await?;
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

    #[test]
    fn error_texts_name_neither_the_url_nor_its_query_password_or_secret() {
        let hook = webhook::Model {
            id: 1,
            url: "https://builder:pa55@ci.example.org/build?token=hush".to_owned(),
            events: "*".to_owned(),
            secret: "whsec_s3cret".to_owned(),
            created_at: Utc::now(),
        };
        let text = redact(
            "error sending request for url (https://builder:pa55@ci.example.org/build?token=hush): \
             token=hush, pa55, whsec_s3cret",
            &hook,
        );
        for hidden in ["hush", "pa55", "s3cret", "ci.example.org"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        assert!(
            text.starts_with("error sending request for url (<the webhook's url>)"),
            "{text}"
        );
    }
}
