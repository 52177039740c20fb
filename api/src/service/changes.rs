//! Change events: the articles a write transaction changed, announced to
//! `articleChanged` subscribers once it has committed.
//!
//! Every write path (the editors' mutations and the import) commits through
//! [`ChangeSink::commit`]: the sink is handed the transaction before the
//! commit, so what must be written with a change (a later `NOTIFY` or outbox
//! row) joins the same transaction, and it delivers only after the commit
//! succeeded, so a change that rolled back is never announced.
//!
//! On SQLite delivery is in-process: an import run from the command line is
//! another process, whose changes this server's subscribers never see. On
//! PostgreSQL the transaction also carries a `NOTIFY` of its changes, which
//! PostgreSQL delivers only if it commits, to every instance listening
//! (see [`super::listener`]): a subscriber on one instance hears of an edit
//! made through another, or by `quicktakes import`.

use std::collections::BTreeSet;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use tokio::sync::broadcast;

use crate::error::Result;

/// How many changes a slow subscriber may fall behind before it skips some.
const BACKLOG: usize = 1024;

/// The `NOTIFY` channel, as SQL: one per schema, so deployments (and test
/// runs) sharing a database do not hear each other.
pub(crate) const CHANNEL_SQL: &str = "'quicktakes_changes:' || current_schema()";

/// Bytes of ids per `NOTIFY` payload (PostgreSQL takes up to 8000): an
/// import of many articles sends several.
const PAYLOAD_BYTES: usize = 7_000;

/// The articles one write transaction changed, collected while it writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed(BTreeSet<i64>);

impl Changed {
    /// A collector holding `id`.
    pub fn of(id: i64) -> Self {
        let mut changed = Self::default();
        changed.record(id);
        changed
    }

    /// Records that article `id` changed (once, however often it is recorded).
    pub fn record(&mut self, id: i64) {
        self.0.insert(id);
    }
}

/// Where committed article changes go: one per server, shared by the schema
/// (mutations and subscriptions) and the imports it runs.
#[derive(Debug, Clone)]
pub struct ChangeSink {
    sender: broadcast::Sender<i64>,
    /// This sink's name in its `NOTIFY` payloads, so its own listener
    /// skips what it already delivered.
    origin: Arc<str>,
}

impl Default for ChangeSink {
    fn default() -> Self {
        let origin: u64 = rand::random();
        Self {
            sender: broadcast::channel(BACKLOG).0,
            origin: Arc::from(format!("{origin:016x}")),
        }
    }
}

impl ChangeSink {
    /// The ids of changed articles from now on, each after its commit.
    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.sender.subscribe()
    }

    /// How many subscribers listen now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Commits `txn`, then announces every article in `changed`. When the
    /// commit fails, nothing is announced, here or (on PostgreSQL) to the
    /// other instances.
    pub async fn commit(&self, txn: DatabaseTransaction, changed: Changed) -> Result<()> {
        self.notify_in(&txn, &changed).await?;
        txn.commit().await?;
        self.deliver(changed.0);
        Ok(())
    }

    /// On PostgreSQL, writes the `NOTIFY` of `changed` into `txn` (it goes
    /// out when `txn` commits, and never if it rolls back); nothing on SQLite.
    #[doc(hidden)]
    pub async fn notify_in(&self, txn: &DatabaseTransaction, changed: &Changed) -> Result<()> {
        if txn.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for payload in payloads(&self.origin, &changed.0) {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!("SELECT pg_notify({CHANNEL_SQL}, $1)"),
                [payload.into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Announces `ids` to this server's subscribers.
    pub(crate) fn deliver(&self, ids: impl IntoIterator<Item = i64>) {
        for id in ids {
            // No subscriber is not an error.
            let _ = self.sender.send(id);
        }
    }

    /// Announces what a `NOTIFY` payload names, unless this sink sent it
    /// (and so delivered it already). A payload of another format is
    /// ignored.
    pub(crate) fn deliver_payload(&self, payload: &str) {
        let Some((origin, ids)) = payload.split_once(' ') else {
            return;
        };
        if origin == &*self.origin {
            return;
        }
        self.deliver(ids.split(',').filter_map(|id| id.parse().ok()));
    }
}

/// `NOTIFY` payloads naming `ids`: `<origin> <id>,<id>,…`, each under
/// [`PAYLOAD_BYTES`].
fn payloads(origin: &str, ids: &BTreeSet<i64>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for id in ids {
        if current.len() > PAYLOAD_BYTES {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(origin);
            current.push(' ');
        } else {
            current.push(',');
        }
        current.push_str(&id.to_string());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_under_the_limit_and_skip_their_own_origin() {
        let ids: BTreeSet<i64> = (1_000_000..1_001_000).collect();
        let sent = payloads("abc", &ids);
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|p| p.len() < 8_000));
        let sink = ChangeSink::default();
        let mut seen = sink.subscribe();
        for p in &sent {
            sink.deliver_payload(p);
        }
        let mut n = 0;
        while seen.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, 1_000, "every id of the other origin");
        let own = payloads(&sink.origin, &ids);
        let mut seen = sink.subscribe();
        sink.deliver_payload(&own[0]);
        assert!(seen.try_recv().is_err(), "its own payload is skipped");
    }
}
