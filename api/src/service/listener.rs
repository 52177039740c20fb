//! Hearing the changes other instances commit (PostgreSQL): one connection
//! outside the pool `LISTEN`s on the schema's channel and hands what it
//! hears to this server's [`ChangeSink`], whose subscribers then see edits
//! made through any instance, or by `quicktakes import`.
//!
//! When the connection is lost the listener reconnects with backoff, then
//! re-reads which articles changed since shortly before it last knew the
//! connection was alive, and announces those, so no committed change is
//! missed. What it cannot cover: a change whose transaction stamped its
//! `updated_at` more than [`REPLAY_SLACK`] before committing (a long import)
//! and committed while the connection was down; and clocks of instances
//! that disagree by more than the slack (each stamps `updated_at` with its
//! own). Those changes are still committed; only the live event is lost.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::article;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::changes::{CHANNEL_SQL, ChangeSink};
use super::pause::{self, Pause};
use crate::db::sqlx_error;
use crate::error::Result;

/// How far before the last sign of life a replay starts.
pub const REPLAY_SLACK: chrono::Duration = chrono::Duration::seconds(5);

/// How long the connection may be silent before it is checked with a
/// round trip (a connection that died without a word is noticed then).
const PING_EVERY: Duration = Duration::from_secs(10);

/// The first wait before reconnecting, doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A running listener.
pub struct Listening {
    /// The task; it runs until aborted.
    pub task: tokio::task::JoinHandle<()>,
    /// Whether it listens now (false before the first connection and while
    /// reconnecting).
    pub connected: tokio::sync::watch::Receiver<bool>,
}

/// Starts listening for `sink` on the PostgreSQL database at `url`;
/// `primary` is where a replay reads. `reconnecting` is a test-only pause
/// point, awaited after the connection is lost and before reconnecting.
pub fn spawn(
    sink: ChangeSink,
    url: String,
    primary: DatabaseConnection,
    reconnecting: Option<Pause>,
) -> Listening {
    let (connected_tx, connected) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        // The last moment the connection was known to be alive, while it is
        // lost; `None` while connected (or before the first connection).
        let mut lost: Option<DateTime<Utc>> = None;
        loop {
            let mut listener = match connect(&url).await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "change listener cannot connect");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            if let Some(since) = lost {
                match replay(&primary, &sink, since - REPLAY_SLACK).await {
                    Ok(n) => tracing::info!(replayed = n, "change listener reconnected"),
                    Err(e) => {
                        tracing::warn!(error = %e, "change listener cannot replay; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
            backoff = MIN_BACKOFF;
            connected_tx.send_replace(true);
            let alive = hear(&mut listener, &sink).await;
            connected_tx.send_replace(false);
            lost = Some(lost.map_or(alive, |l| l.max(alive)));
            tracing::warn!("change listener lost its connection; reconnecting");
            pause::at(reconnecting.as_ref()).await;
        }
    });
    Listening { task, connected }
}

/// A connection listening on the schema's channel.
async fn connect(url: &str) -> Result<PgListener> {
    let mut listener = PgListener::connect(url).await.map_err(sqlx_error)?;
    // A constant of ours, no input in it.
    let sql = sea_orm::sqlx::AssertSqlSafe(format!("SELECT {CHANNEL_SQL}"));
    let channel: String = sea_orm::sqlx::query_scalar(sql)
        .fetch_one(&mut listener)
        .await
        .map_err(sqlx_error)?;
    listener.listen(&channel).await.map_err(sqlx_error)?;
    Ok(listener)
}

/// Hands what `listener` hears to `sink` until its connection fails;
/// returns the last moment it was known alive.
async fn hear(listener: &mut PgListener, sink: &ChangeSink) -> DateTime<Utc> {
    let mut alive = Utc::now();
    loop {
        match tokio::time::timeout(PING_EVERY, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                alive = Utc::now();
                sink.deliver_payload(notification.payload());
            }
            // `None`: the connection was lost (the next call would reconnect
            // on its own, without the replay).
            Ok(Ok(None) | Err(_)) => return alive,
            Err(_silent) => {
                let ping = sea_orm::sqlx::query("SELECT 1").execute(&mut *listener);
                match tokio::time::timeout(PING_EVERY, ping).await {
                    Ok(Ok(_)) => alive = Utc::now(),
                    _ => return alive,
                }
            }
        }
    }
}

/// Announces every article changed since `since`; returns how many.
async fn replay(db: &DatabaseConnection, sink: &ChangeSink, since: DateTime<Utc>) -> Result<usize> {
    let ids: Vec<i64> = article::Entity::find()
        .select_only()
        .column(article::Column::Id)
        .filter(article::Column::UpdatedAt.gte(since))
        .order_by_asc(article::Column::UpdatedAt)
        .order_by_asc(article::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let n = ids.len();
    sink.deliver(ids);
    Ok(n)
}
