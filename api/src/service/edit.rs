//! Editors' changes: the three-way merge against `expectedVersion`,
//! creation and revert ([`super::score`] adjusts scores, [`super::related`]
//! sets related links). Every change is one write transaction
//! ([`super::write`]) with its revision and version bump.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use entity::{article, revision as revision_entity, subject};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::Value;

use super::article::{Change, StoredArticle, write_change};
use super::changes::{Before, ChangeKind, ChangeSink};
use super::pause::{self, Pause};
use super::revision::{FieldChange, field_values, set_field};
use super::write::{in_write_txn, live};
use crate::error::{Error, Result};
use crate::fields::{ArticleFields, Field, article_url, validate};

/// Submitted values: the field and its JSON value (as revisions store it).
pub type Submitted = Vec<(Field, Value)>;

/// Revisions of `id` after `version`, newest first.
async fn revisions_after(
    txn: &impl ConnectionTrait,
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
/// every later revision undone, newest first (also what the reader preview
/// shows of an older version).
pub(crate) async fn values_at(
    txn: &impl ConnectionTrait,
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
pub(super) async fn subject_slug_for(db: &impl ConnectionTrait, name: &str) -> Result<String> {
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
pub(super) async fn check(db: &impl ConnectionTrait, fields: &ArticleFields) -> Result<()> {
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

/// Applies `submitted` to article `id` as a three-way merge against
/// `expected`: fields whose submitted value equals their value at `expected`
/// are left as they are now; the others are changed, unless a revision
/// after `expected` changed them too ([`Error::Conflict`]).
pub async fn merge_edit(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    id: i64,
    expected: i32,
    submitted: &Submitted,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    merge_edit_paused(db, sink, id, expected, submitted, editor, note, None).await
}

/// [`merge_edit`] with a test's pause point between reading the article
/// row and reading its later revisions.
#[doc(hidden)]
// `merge_edit`'s arguments and the pause point.
#[allow(clippy::too_many_arguments)]
pub async fn merge_edit_paused(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    id: i64,
    expected: i32,
    submitted: &Submitted,
    editor: &str,
    note: Option<&str>,
    after_row_read: Option<&Pause>,
) -> Result<StoredArticle> {
    in_write_txn(db, sink, ChangeKind::Updated, |txn| async move {
        let stored = live(&txn, id).await?;
        pause::at(after_row_read).await;
        let saved = merge(&txn, &stored, expected, submitted, editor, note).await?;
        Ok((txn, saved, Before::of(&stored)))
    })
    .await
}

/// The three-way merge of [`merge_edit`] over `stored`, read (and locked)
/// in `txn`.
pub(super) async fn merge(
    txn: &DatabaseTransaction,
    stored: &StoredArticle,
    expected: i32,
    submitted: &Submitted,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    existing_version("expectedVersion", expected, stored)?;
    let (at_expected, changed_since) = values_at(txn, stored, expected).await?;
    let before: HashMap<Field, Value> = field_values(&at_expected).into_iter().collect();
    let mine: Vec<&(Field, Value)> = submitted
        .iter()
        .filter(|(field, value)| before.get(field) != Some(value))
        .collect();
    if let Some((field, _)) = mine.iter().find(|(f, _)| !f.is_reverted()) {
        return Err(Error::Internal(format!(
            "`{}` cannot be submitted",
            field.graphql()
        )));
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
        return Err(Error::Conflict {
            current_version: stored.model.version,
            fields: conflicts,
        });
    }
    let mut fields = stored.fields.clone();
    for (field, value) in &mine {
        set_field(&mut fields, *field, value)?;
    }
    if mine.iter().any(|(f, _)| *f == Field::Subject) {
        fields.subject_slug = subject_slug_for(txn, &fields.subject).await?;
    }
    fields.url = article_url(&fields.subject_slug, &fields.slug);
    save(txn, stored, &fields, editor, note).await
}

/// Brings back the values article `id` had at `to_version` as a new
/// revision, merged like any edit against `expected`; `note` defaults to
/// naming the version.
pub async fn revert(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    id: i64,
    to_version: i32,
    expected: i32,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    let note = note.map_or_else(|| format!("revert to version {to_version}"), str::to_owned);
    let note = &note;
    in_write_txn(db, sink, ChangeKind::Reverted, |txn| async move {
        let stored = live(&txn, id).await?;
        let submitted = submitted_at_version(&txn, &stored, to_version).await?;
        let saved = merge(&txn, &stored, expected, &submitted, editor, Some(note)).await?;
        Ok((txn, saved, Before::of(&stored)))
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
    sink: &ChangeSink,
    id: i64,
    editor: &str,
    note: Option<&str>,
    apply: impl Fn(&mut ArticleFields),
) -> Result<StoredArticle> {
    let apply = &apply;
    in_write_txn(db, sink, ChangeKind::Updated, |txn| async move {
        let stored = live(&txn, id).await?;
        let mut fields = stored.fields.clone();
        apply(&mut fields);
        let saved = save(&txn, &stored, &fields, editor, note).await?;
        Ok((txn, saved, Before::of(&stored)))
    })
    .await
}

/// The values `stored` had at `version`, for a revert.
async fn submitted_at_version(
    txn: &DatabaseTransaction,
    stored: &StoredArticle,
    version: i32,
) -> Result<Submitted> {
    existing_version("toVersion", version, stored)?;
    let (fields, _) = values_at(txn, stored, version).await?;
    Ok(field_values(&fields)
        .into_iter()
        .filter(|(f, _)| f.is_reverted())
        .collect())
}
