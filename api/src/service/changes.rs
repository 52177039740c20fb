//! Change events: the articles a write transaction changed, announced to
//! `articleChanged` subscribers once it has committed.
//!
//! Every write path (the editors' mutations and the import) commits through
//! [`ChangeSink::commit`]: the sink is handed the transaction before the
//! commit, so what must be written with a change (a later `NOTIFY` or outbox
//! row) joins the same transaction, and it delivers only after the commit
//! succeeded, so a change that rolled back is never announced.
//!
//! Delivery is in-process: an import run from the command line is another
//! process, whose changes this server's subscribers never see.

use std::collections::BTreeSet;

use sea_orm::DatabaseTransaction;
use tokio::sync::broadcast;

use crate::error::Result;

/// How many changes a slow subscriber may fall behind before it skips some.
const BACKLOG: usize = 1024;

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
pub struct ChangeSink(broadcast::Sender<i64>);

impl Default for ChangeSink {
    fn default() -> Self {
        Self(broadcast::channel(BACKLOG).0)
    }
}

impl ChangeSink {
    /// The ids of changed articles from now on, each after its commit.
    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.0.subscribe()
    }

    /// How many subscribers listen now.
    pub fn subscribers(&self) -> usize {
        self.0.receiver_count()
    }

    /// Commits `txn`, then announces every article in `changed`. When the
    /// commit fails, nothing is announced.
    pub async fn commit(&self, txn: DatabaseTransaction, changed: Changed) -> Result<()> {
        // Whatever is to be delivered durably with the change (a NOTIFY, an
        // outbox row) is written here, inside `txn`.
        txn.commit().await?;
        for id in changed.0 {
            // No subscriber is not an error.
            let _ = self.0.send(id);
        }
        Ok(())
    }
}
