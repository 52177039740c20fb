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
//!
//! The same transaction gets the change's rows in the webhook outbox when a
//! webhook wants it (see [`super::webhook`]): what each writer records here
//! (the [`ChangeKind`], and where readers found the article [`Before`]) is
//! what the webhooks are told.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use tokio::sync::{Notify, broadcast};

use super::article::StoredArticle;
use crate::error::Result;

/// How many changes a slow subscriber may fall behind before it skips some.
const BACKLOG: usize = 1024;

/// The `NOTIFY` channel, as SQL: one per schema, so deployments (and test
/// runs) sharing a database do not hear each other.
pub(crate) const CHANNEL_SQL: &str = "'quicktakes_changes:' || current_schema()";

/// Bytes of ids per `NOTIFY` payload (PostgreSQL takes up to 8000): an
/// import of many articles sends several.
const PAYLOAD_BYTES: usize = 7_000;

/// What a change did to an article: the events change webhooks subscribe
/// to (`webhook add --event`) and name in their payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// `article.created`: `createArticle`, or a seed file of a new article.
    Created,
    /// `article.updated`: an edit of any field (answer, score, related
    /// links, …), or a changed seed file applied to a live article.
    Updated,
    /// `article.deleted`: `deleteArticle` left its tombstone.
    Deleted,
    /// `article.restored`: `restoreArticle`, or a changed seed file
    /// applied over a deleted article (`import --force`).
    Restored,
    /// `article.reverted`: `revertArticle` brought back an older version.
    Reverted,
}

impl ChangeKind {
    /// Every event.
    pub const ALL: [ChangeKind; 5] = [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Deleted,
        ChangeKind::Restored,
        ChangeKind::Reverted,
    ];

    /// The event's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "article.created",
            ChangeKind::Updated => "article.updated",
            ChangeKind::Deleted => "article.deleted",
            ChangeKind::Restored => "article.restored",
            ChangeKind::Reverted => "article.reverted",
        }
    }

    /// The event named `name`, if one is.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where readers found an article before a change: the webhooks' old url,
/// and the subject whose lists it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Nowhere: the change created the article, or brought it back.
    Absent,
    /// Where it is after the change: the change moved nothing (a score).
    Unmoved,
    /// At `url`, filed under subject `subject_id`.
    At {
        /// Its url then.
        url: String,
        /// Its subject then.
        subject_id: i32,
    },
}

impl Before {
    /// Where readers found `stored`, read before the change: nowhere while
    /// it carries a tombstone.
    pub fn of(stored: &StoredArticle) -> Self {
        if stored.is_deleted() {
            Before::Absent
        } else {
            Before::At {
                url: stored.model.url.clone(),
                subject_id: stored.model.subject_id,
            }
        }
    }
}

/// What one write transaction did to one article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleChange {
    /// The event.
    pub kind: ChangeKind,
    /// Where readers found the article before the transaction.
    pub before: Before,
}

/// The articles one write transaction changed, collected while it writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed(BTreeMap<i64, ArticleChange>);

impl Changed {
    /// A collector holding `id`, updated where it was.
    pub fn of(id: i64) -> Self {
        let mut changed = Self::default();
        changed.record(id);
        changed
    }

    /// Records that article `id` was updated where it was.
    pub fn record(&mut self, id: i64) {
        self.record_change(id, ChangeKind::Updated, Before::Unmoved);
    }

    /// Records what happened to article `id`, and where readers found it
    /// `before`. An article recorded again keeps its first `before` (the
    /// transaction's start), and stays created when it was.
    pub fn record_change(&mut self, id: i64, kind: ChangeKind, before: Before) {
        self.0
            .entry(id)
            .and_modify(|change| {
                if change.kind != ChangeKind::Created {
                    change.kind = kind;
                }
            })
            .or_insert(ArticleChange { kind, before });
    }

    /// The changed articles, by id.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &ArticleChange)> + '_ {
        self.0.iter().map(|(id, change)| (*id, change))
    }

    /// The ids of the changed articles, in order.
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.0.keys().copied()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
    /// Woken when a commit wrote webhook outbox rows, so the delivery
    /// worker hands them out at once instead of at its next poll.
    outbox: Arc<Notify>,
}

impl Default for ChangeSink {
    fn default() -> Self {
        let origin: u64 = rand::random();
        Self {
            sender: broadcast::channel(BACKLOG).0,
            origin: Arc::from(format!("{origin:016x}")),
            outbox: Arc::new(Notify::new()),
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
    /// other instances, and no webhook hears of it: its outbox rows are
    /// written in `txn`, before the commit.
    pub async fn commit(&self, txn: DatabaseTransaction, changed: Changed) -> Result<()> {
        self.notify_in(&txn, &changed).await?;
        let queued = super::webhook::enqueue_in(&txn, &changed).await?;
        txn.commit().await?;
        if queued {
            self.outbox.notify_one();
        }
        self.deliver(changed.ids());
        Ok(())
    }

    /// Woken after each commit that queued webhook deliveries.
    pub(crate) fn outbox_written(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    /// On PostgreSQL, writes the `NOTIFY` of `changed` into `txn` (it goes
    /// out when `txn` commits, and never if it rolls back); nothing on SQLite.
    #[doc(hidden)]
    pub async fn notify_in(&self, txn: &DatabaseTransaction, changed: &Changed) -> Result<()> {
        if txn.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for payload in payloads(&self.origin, changed.ids()) {
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
fn payloads(origin: &str, ids: impl IntoIterator<Item = i64>) -> Vec<String> {
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
        let ids: Vec<i64> = (1_000_000..1_001_000).collect();
        let sent = payloads("abc", ids.iter().copied());
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
        let own = payloads(&sink.origin, ids.iter().copied());
        let mut seen = sink.subscribe();
        sink.deliver_payload(&own[0]);
        assert!(seen.try_recv().is_err(), "its own payload is skipped");
    }
}
