//! Editors' changes: the three-way merge against `expectedVersion`, atomic
//! score adjustments, related links, creation, deletion and revert. Every
//! change is one write transaction with its revision and version bump.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use entity::{article, revision as revision_entity, subject};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

mod create;
mod score;

pub use create::{NewArticle, create};
pub use score::adjust_score;

use super::article::{Change, StoredArticle, with_links, write_change};
use super::pause::{self, Pause};
use super::revision::{FieldChange, field_values, set_field};
use super::subject::subjects_by_id;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::fields::{ArticleFields, Field, Link, article_url, validate};

/// Ids per locking `IN (…)` read.
const LOCK_CHUNK: usize = 500;

/// Why a change was refused: fields another editor changed since the
/// version this one started from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The article's version now.
    pub current_version: i32,
    /// The fields both changed, by GraphQL name.
    pub fields: Vec<String>,
}

/// What an edit may fail with beyond [`Error`].
#[derive(Debug)]
pub enum EditError {
    /// A later revision changed a field this edit changes.
    Conflict(Conflict),
    /// Anything else.
    Other(Error),
}

impl From<Error> for EditError {
    fn from(e: Error) -> Self {
        EditError::Other(e)
    }
}

impl From<sea_orm::DbErr> for EditError {
    fn from(e: sea_orm::DbErr) -> Self {
        EditError::Other(e.into())
    }
}

/// Result of an edit.
pub type EditResult<T> = std::result::Result<T, EditError>;

/// Submitted values: the field and its JSON value (as revisions store it).
pub type Submitted = Vec<(Field, Value)>;

fn not_found(id: i64) -> Error {
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
async fn live(txn: &DatabaseTransaction, id: i64) -> Result<StoredArticle> {
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

/// Revisions of `id` after `version`, newest first.
async fn revisions_after(
    txn: &DatabaseTransaction,
    id: i64,
    version: i32,
) -> Result<Vec<Vec<FieldChange>>> {
    revision_entity::Entity::find()
        .filter(revision_entity::Column::ArticleId.eq(id))
        .filter(revision_entity::Column::Version.gt(version))
        .order_by_desc(revision_entity::Column::Version)
        .all(txn)
        .await?
        .into_iter()
        .map(|r| {
            serde_json::from_str(&r.changes)
                .map_err(|e| Error::Internal(format!("revision {}: {e}", r.id)))
        })
        .collect()
}

/// The article's values as they were at `version`: the current ones with
/// every later revision undone, newest first.
async fn values_at(
    txn: &DatabaseTransaction,
    stored: &StoredArticle,
    version: i32,
) -> Result<(ArticleFields, BTreeSet<String>)> {
    let mut fields = stored.fields.clone();
    let mut changed_since = BTreeSet::new();
    for changes in revisions_after(txn, stored.model.id, version).await? {
        for c in changes {
            let before = match &c.before {
                Some(text) => serde_json::from_str(text)
                    .map_err(|e| Error::Internal(format!("revision value: {e}")))?,
                None => Value::Null,
            };
            // `deleted` is no value; names of fields since removed are skipped.
            if let Some(field) = Field::from_graphql(&c.field) {
                set_field(&mut fields, field, &before)?;
            }
            changed_since.insert(c.field);
        }
    }
    Ok((fields, changed_since))
}

/// The subject slug for a subject name: an existing subject's, else one made
/// from the name.
async fn subject_slug_for(db: &impl ConnectionTrait, name: &str) -> Result<String> {
    let existing = subject::Entity::find()
        .filter(subject::Column::Name.eq(name))
        .one(db)
        .await?;
    Ok(existing.map_or_else(|| slugify(name), |s| s.slug))
}

/// A url slug made from text the way the corpus makes them: letters and
/// digits kept (lowercased), words joined by `-`, other characters dropped.
pub fn slugify(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || c.is_whitespace() || *c == '-')
        .map(|c| if c == '-' { ' ' } else { c })
        .collect();
    kept.split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .to_ascii_lowercase()
}

/// Runs the shared validator, then makes sure no other article holds the
/// slug, url or file name (a precise message beats the database's).
async fn check(db: &impl ConnectionTrait, fields: &ArticleFields) -> Result<()> {
    if let Some(p) = validate(fields).into_iter().next() {
        return Err(Error::bad_input(p.field.graphql(), p.message));
    }
    let taken = article::Entity::find()
        .filter(article::Column::Id.ne(fields.id))
        .filter(
            sea_orm::Condition::any()
                .add(article::Column::Slug.eq(fields.slug.as_str()))
                .add(article::Column::Url.eq(fields.url.as_str()))
                .add(article::Column::FileName.eq(fields.file_name.as_str())),
        )
        .one(db)
        .await?;
    let Some(other) = taken else { return Ok(()) };
    let (field, value) = if other.slug == fields.slug {
        (Field::Slug, &fields.slug)
    } else if other.url == fields.url {
        (Field::Slug, &fields.url)
    } else {
        (Field::FileName, &fields.file_name)
    };
    Err(Error::bad_input(
        field.graphql(),
        format!(
            "`{value}` is already used by article {}; pick another",
            other.id
        ),
    ))
}

/// Refuses a version argument the article never had.
fn existing_version(field: &str, version: i32, stored: &StoredArticle) -> Result<()> {
    if (1..=stored.model.version).contains(&version) {
        return Ok(());
    }
    Err(Error::bad_input(
        field,
        format!(
            "`{field}` {version} does not exist: the article is at version {}",
            stored.model.version
        ),
    ))
}

/// Runs `attempt` in a write transaction and commits what it returns.
///
/// No retry: `attempt` locks the article row before it reads (see
/// [`live`]), so no other writer can overtake it between its read and its
/// guarded write; and a SQLite `BUSY` means the busy timeout was already
/// waited out, so waiting it out again would only outlast the request.
async fn in_write_txn<T, F, Fut>(db: &DatabaseConnection, attempt: F) -> EditResult<T>
where
    F: FnOnce(DatabaseTransaction) -> Fut,
    Fut: Future<Output = EditResult<(DatabaseTransaction, T)>>,
{
    let txn = begin_write(db).await?;
    let (txn, value) = attempt(txn).await?;
    txn.commit().await?;
    Ok(value)
}

/// Applies `submitted` to article `id` as a three-way merge against
/// `expected`: fields whose submitted value equals their value at `expected`
/// are left as they are now; the others are changed, unless a revision
/// after `expected` changed them too (a [`Conflict`]).
pub async fn merge_edit(
    db: &DatabaseConnection,
    id: i64,
    expected: i32,
    submitted: &Submitted,
    editor: &str,
    note: Option<&str>,
) -> EditResult<StoredArticle> {
    merge_edit_paused(db, id, expected, submitted, editor, note, None).await
}

/// [`merge_edit`] with a test's pause point between reading the article
/// row and reading its later revisions.
#[doc(hidden)]
pub async fn merge_edit_paused(
    db: &DatabaseConnection,
    id: i64,
    expected: i32,
    submitted: &Submitted,
    editor: &str,
    note: Option<&str>,
    after_row_read: Option<&Pause>,
) -> EditResult<StoredArticle> {
    in_write_txn(db, |txn| async move {
        let stored = live(&txn, id).await?;
        pause::at(after_row_read).await;
        existing_version("expectedVersion", expected, &stored)?;
        let (at_expected, changed_since) = values_at(&txn, &stored, expected).await?;
        let before: HashMap<Field, Value> = field_values(&at_expected).into_iter().collect();
        let mine: Vec<&(Field, Value)> = submitted
            .iter()
            .filter(|(field, value)| before.get(field) != Some(value))
            .collect();
        if let Some((field, _)) = mine.iter().find(|(f, _)| !f.is_reverted()) {
            return Err(
                Error::Internal(format!("`{}` cannot be submitted", field.graphql())).into(),
            );
        }
        // The url is derived from subject and slug, never submitted: an edit
        // of one and a later edit of the other merge into a new url.
        let mut conflicts: Vec<String> = mine
            .iter()
            .map(|(f, _)| f.graphql().to_owned())
            .filter(|f| changed_since.contains(f))
            .collect();
        if !conflicts.is_empty() {
            conflicts.sort();
            conflicts.dedup();
            return Err(EditError::Conflict(Conflict {
                current_version: stored.model.version,
                fields: conflicts,
            }));
        }
        let mut fields = stored.fields.clone();
        for (field, value) in &mine {
            set_field(&mut fields, *field, value)?;
        }
        if mine.iter().any(|(f, _)| *f == Field::Subject) {
            fields.subject_slug = subject_slug_for(&txn, &fields.subject).await?;
        }
        fields.url = article_url(&fields.subject_slug, &fields.slug);
        let saved = save(&txn, &stored, &fields, editor, note).await?;
        Ok((txn, saved))
    })
    .await
}

/// Validates an editor's new values and writes them with their revision.
async fn save(
    txn: &DatabaseTransaction,
    stored: &StoredArticle,
    fields: &ArticleFields,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    check(txn, fields).await?;
    let change = Change {
        fields,
        editor,
        note,
        source: None,
        undelete: false,
        now: Utc::now(),
    };
    write_change(txn, stored, &change).await?;
    live(txn, stored.model.id).await
}

/// Applies a change made in code (`apply` edits the values) to a live
/// article, as an editor's edit without a merge: for tools and tests.
pub async fn apply(
    db: &DatabaseConnection,
    id: i64,
    editor: &str,
    note: Option<&str>,
    apply: impl Fn(&mut ArticleFields),
) -> EditResult<StoredArticle> {
    in_write_txn(db, |txn| async move {
        let stored = live(&txn, id).await?;
        let mut fields = stored.fields.clone();
        apply(&mut fields);
        let saved = save(&txn, &stored, &fields, editor, note).await?;
        Ok((txn, saved))
    })
    .await
}

/// The values article `id` had at `version`, for a revert.
pub async fn submitted_at_version(
    db: &DatabaseConnection,
    id: i64,
    version: i32,
) -> EditResult<Submitted> {
    let txn = begin_write(db).await?;
    let stored = live(&txn, id).await?;
    existing_version("toVersion", version, &stored)?;
    let (fields, _) = values_at(&txn, &stored, version).await?;
    txn.rollback().await?;
    Ok(field_values(&fields)
        .into_iter()
        .filter(|(f, _)| f.is_reverted())
        .collect())
}

/// Links for `ids`: loaded articles get a copy of their current title,
/// subject and url; ids already linked keep their stored copy.
pub async fn links_for(
    db: &impl ConnectionTrait,
    own_id: i64,
    current: &[Link],
    ids: &[i64],
) -> Result<Vec<Link>> {
    let loaded: HashMap<i64, (article::Model, subject::Model)> = article::Entity::find()
        .filter(article::Column::Id.is_in(ids.iter().copied()))
        .filter(article::Column::DeletedAt.is_null())
        .find_also_related(subject::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(a, s)| s.map(|s| (a.id, (a, s))))
        .collect();
    let mut links = Vec::with_capacity(ids.len());
    for (&id, position) in ids.iter().zip(1..) {
        let link = if let Some((a, s)) = loaded.get(&id) {
            Link {
                position,
                id,
                title: a.title.clone(),
                subject: s.name.clone(),
                subject_slug: s.slug.clone(),
                url: a.url.clone(),
            }
        } else if let Some(existing) = current.iter().find(|l| l.id == id) {
            Link {
                position,
                ..existing.clone()
            }
        } else if id == own_id {
            return Err(Error::bad_input(
                Field::Related.graphql(),
                format!("article {id} cannot be related to itself"),
            ));
        } else {
            return Err(Error::bad_input(
                Field::Related.graphql(),
                format!(
                    "article {id} is not loaded and not already linked; link loaded articles only"
                ),
            ));
        };
        links.push(link);
    }
    Ok(links)
}
