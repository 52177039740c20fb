//! The write transaction every editor's change runs in: the article row
//! locked before it is read, and the commit made through the change sink.

use entity::article;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::article::{StoredArticle, with_links};
use super::changes::{Before, ChangeKind, ChangeSink, Changed};
use super::subject::subjects_by_id;
use crate::db::begin_write;
use crate::error::{Error, Result};

/// Ids per locking `IN (…)` read.
const LOCK_CHUNK: usize = 500;

pub(super) fn not_found(id: i64) -> Error {
    Error::NotFound(format!("no article with id {id}"))
}

/// Locks the rows of `ids` for the rest of the write transaction `txn`.
///
/// Every writer of an article row holds the row's lock (its `UPDATE` takes
/// it) while it writes the row's revisions. So once a transaction holds the
/// lock, the row and its revisions stay as read until it commits, and what
/// it decides from them is still true when it writes. PostgreSQL needs this
/// (`FOR UPDATE`: each READ COMMITTED statement sees every commit made
/// before it); on SQLite the write transaction already holds the database's
/// write lock (`BEGIN IMMEDIATE`) and sea-query emits no locking clause.
pub async fn lock_rows(txn: &DatabaseTransaction, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(LOCK_CHUNK) {
        article::Entity::find()
            .select_only()
            .column(article::Column::Id)
            .filter(article::Column::Id.is_in(chunk.iter().copied()))
            // Rows are locked in id order, so two lockers never wait on each other in a cycle.
            .order_by_asc(article::Column::Id)
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(txn)
            .await?;
    }
    Ok(())
}

/// The live article `id`, its row locked for the rest of the transaction
/// (see [`lock_rows`]): what a write decides on is what it overwrites.
pub(super) async fn live(txn: &DatabaseTransaction, id: i64) -> Result<StoredArticle> {
    let rows = article::Entity::find_by_id(id)
        .lock_exclusive()
        .all(txn)
        .await?;
    let subjects = subjects_by_id(txn).await?;
    with_links(txn, rows, &subjects)
        .await?
        .pop()
        .filter(|s| !s.is_deleted())
        .ok_or_else(|| not_found(id))
}

/// How many times a write is attempted when it keeps losing version races.
const WRITE_ATTEMPTS: u32 = 3;

/// Runs `attempt` in a write transaction and commits it through `sink`,
/// which announces the article the attempt returns once it is committed,
/// as a change of `kind`. The attempt also returns where readers found the
/// article before it ([`Before::of`] what it read), which the webhooks
/// report as the old url.
///
/// An attempt that lost a version race ([`Error::LostRace`]: the row
/// changed between its read and its guarded write) is rolled back and run
/// again on a fresh read, never reported as `BUSY`. Nothing else is
/// retried: a SQLite `BUSY` means the busy timeout was already waited out,
/// so waiting it out again would only outlast the request. Writers that
/// read through [`live`] hold the row's lock and cannot lose such a race.
pub(crate) async fn in_write_txn<F, Fut>(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    kind: ChangeKind,
    mut attempt: F,
) -> Result<StoredArticle>
where
    F: FnMut(DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<(DatabaseTransaction, StoredArticle, Before)>>,
{
    let mut attempts = 1;
    loop {
        let txn = begin_write(db).await?;
        match attempt(txn).await {
            Ok((txn, saved, before)) => {
                let mut changed = Changed::default();
                changed.record_change(saved.model.id, kind, before);
                sink.commit(txn, changed).await?;
                return Ok(saved);
            }
            Err(Error::LostRace { id }) if attempts < WRITE_ATTEMPTS => {
                tracing::debug!(article = id, attempts, "lost a version race; writing again");
                attempts += 1;
            }
            Err(error) => return Err(error),
        }
    }
}
