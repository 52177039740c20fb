//! Articles: loading them as [`ArticleFields`], and writing a change with its
//! revision and version bump in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{article, article_alias, article_link, subject};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, sea_query::OnConflict,
};

use super::changes::{Before, ChangeKind, ChangeSink};
use super::pause::{self, Pause};
use super::revision::{self, FieldChange};
use super::subject::{ensure_subjects, subjects_by_id};
use super::write::in_write_txn;
use crate::error::{Error, Result};
use crate::fields::{ArticleFields, Field, Link};

mod insert;
pub use insert::{INSERT_CHUNK, NewArticleRow, OnTaken, insert_articles};

/// Ids per `IN (…)` lookup.
const LOOKUP_CHUNK: usize = 500;

/// An article row with its values as editors and seeds see them.
#[derive(Debug, Clone)]
pub struct StoredArticle {
    /// The row.
    pub model: article::Model,
    /// Its values.
    pub fields: ArticleFields,
}

impl StoredArticle {
    /// Whether the article carries a deletion tombstone.
    pub fn is_deleted(&self) -> bool {
        self.model.deleted_at.is_some()
    }
}

/// The values of an article row, given its subject and links.
pub fn to_fields(
    m: &article::Model,
    subject: &subject::Model,
    links: &[article_link::Model],
    link_subjects: &HashMap<i32, subject::Model>,
) -> ArticleFields {
    let mut fields = ArticleFields {
        id: m.id,
        subject: subject.name.clone(),
        subject_slug: subject.slug.clone(),
        related: links
            .iter()
            .map(|l| Link {
                position: l.position,
                id: l.target_id,
                title: l.title.clone(),
                subject: l.subject_name.clone(),
                subject_slug: link_subjects
                    .get(&l.subject_id)
                    .map(|s| s.slug.clone())
                    .unwrap_or_default(),
                url: l.url.clone(),
            })
            .collect(),
        ..ArticleFields::default()
    };
    for column in Field::ALL.into_iter().filter_map(|f| f.spec().column) {
        (column.load)(m, &mut fields);
    }
    fields
}

/// What is derived from an answer when it is written, never per request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DerivedText {
    /// Sanitized HTML.
    pub html: String,
    /// Plain text, for excerpts and search.
    pub text: String,
}

impl DerivedText {
    /// Renders the derived forms of `answer`.
    pub fn of(answer: &str) -> Self {
        Self {
            html: crate::render::answer_html(answer),
            text: crate::render::plain_text(answer),
        }
    }
}

/// Sets every value column of `am` from `f`, with the answer's derived text.
pub fn set_values(
    am: &mut article::ActiveModel,
    f: &ArticleFields,
    subject_id: i32,
    derived: &DerivedText,
) {
    am.answer_html = Set(derived.html.clone());
    am.answer_text = Set(derived.text.clone());
    am.subject_id = Set(subject_id);
    for column in Field::ALL.into_iter().filter_map(|f| f.spec().column) {
        (column.store)(f, am);
    }
}

/// Link rows for `article_id`; `subject_ids` must hold every link's subject slug.
pub fn link_rows(
    article_id: i64,
    links: &[Link],
    subject_ids: &HashMap<String, i32>,
) -> Result<Vec<article_link::ActiveModel>> {
    links
        .iter()
        .map(|l| {
            let subject_id = *subject_ids.get(&l.subject_slug).ok_or_else(|| {
                Error::Internal(format!("subject `{}` was not created", l.subject_slug))
            })?;
            Ok(article_link::ActiveModel {
                article_id: Set(article_id),
                position: Set(l.position),
                target_id: Set(l.id),
                title: Set(l.title.clone()),
                subject_name: Set(l.subject.clone()),
                subject_id: Set(subject_id),
                url: Set(l.url.clone()),
            })
        })
        .collect()
}

/// Every `(slug, name)` subject an article needs: its own, then its links'.
pub fn wanted_subjects(f: &ArticleFields) -> impl Iterator<Item = (String, String)> + '_ {
    std::iter::once((f.subject_slug.clone(), f.subject.clone())).chain(
        f.related
            .iter()
            .map(|l| (l.subject_slug.clone(), l.subject.clone())),
    )
}

/// Loads the given articles (deleted ones included) with their links.
pub async fn load_many(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<StoredArticle>> {
    let subjects = subjects_by_id(db).await?;
    load_many_with(db, ids, &subjects).await
}

/// [`load_many`], naming subjects from `subjects` (every subject, by id),
/// for a caller that needs them too.
pub async fn load_many_with(
    db: &impl ConnectionTrait,
    ids: &[i64],
    subjects: &HashMap<i32, subject::Model>,
) -> Result<Vec<StoredArticle>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let models = article::Entity::find()
            .filter(article::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(article::Column::Id)
            .all(db)
            .await?;
        out.extend(with_links(db, models, subjects).await?);
    }
    Ok(out)
}

/// Attaches links and subjects to article rows.
pub async fn with_links(
    db: &impl ConnectionTrait,
    models: Vec<article::Model>,
    subjects: &HashMap<i32, subject::Model>,
) -> Result<Vec<StoredArticle>> {
    let ids: Vec<i64> = models.iter().map(|m| m.id).collect();
    let mut links: HashMap<i64, Vec<article_link::Model>> = HashMap::new();
    for l in article_link::Entity::find()
        .filter(article_link::Column::ArticleId.is_in(ids))
        .order_by_asc(article_link::Column::ArticleId)
        .order_by_asc(article_link::Column::Position)
        .all(db)
        .await?
    {
        links.entry(l.article_id).or_default().push(l);
    }
    models
        .into_iter()
        .map(|m| {
            let subject = subjects.get(&m.subject_id).ok_or_else(|| {
                Error::Internal(format!("article {} has no subject {}", m.id, m.subject_id))
            })?;
            let fields = to_fields(
                &m,
                subject,
                links.get(&m.id).map_or(&[][..], Vec::as_slice),
                subjects,
            );
            Ok(StoredArticle { model: m, fields })
        })
        .collect()
}

/// Loads one article (deleted or not).
pub async fn load(db: &impl ConnectionTrait, id: i64) -> Result<Option<StoredArticle>> {
    Ok(load_many(db, &[id]).await?.pop())
}

/// What the import records about the file a change came from.
#[derive(Debug, Clone)]
pub struct ImportedSource {
    /// The file text.
    pub text: String,
    /// Its BLAKE3 hash.
    pub hash: String,
    /// Where it was read.
    pub path: String,
}

/// One change to write: the new values, who made it, and how.
pub struct Change<'a> {
    /// The values after the change.
    pub fields: &'a ArticleFields,
    /// Token name, or `import`.
    pub editor: &'a str,
    /// The editor's note.
    pub note: Option<&'a str>,
    /// Set when the change comes from a seed file.
    pub source: Option<&'a ImportedSource>,
    /// Whether the change lifts a deletion tombstone.
    pub undelete: bool,
    /// The time of the change.
    pub now: DateTime<Utc>,
}

/// Writes `change` over `stored`: values, links, aliases for a changed slug
/// or url, a revision and a version bump when any value changed. Returns the
/// changes made. The update is guarded by the version read, so a concurrent
/// writer cannot be overwritten unnoticed: a lost race is
/// [`Error::LostRace`], which [`crate::db::in_write_txn`] retries.
pub async fn write_change(
    db: &impl ConnectionTrait,
    stored: &StoredArticle,
    change: &Change<'_>,
) -> Result<Vec<FieldChange>> {
    let old = &stored.fields;
    let new = change.fields;
    let mut changes = revision::diff(old, new);
    if change.undelete && stored.is_deleted() {
        changes.push(revision::deletion_change(true, false));
    }
    if changes.is_empty() && change.source.is_none() {
        return Ok(changes);
    }
    let subject_ids = if old.subject_slug != new.subject_slug || old.related != new.related {
        let wanted: Vec<_> = wanted_subjects(new).collect();
        ensure_subjects(db, &wanted, change.now).await?
    } else {
        HashMap::from([(new.subject_slug.clone(), stored.model.subject_id)])
    };
    let subject_id = *subject_ids
        .get(&new.subject_slug)
        .ok_or_else(|| Error::Internal("subject was not created".into()))?;

    let version = stored.model.version + i32::from(!changes.is_empty());
    let derived = if old.answer == new.answer {
        DerivedText {
            html: stored.model.answer_html.clone(),
            text: stored.model.answer_text.clone(),
        }
    } else {
        DerivedText::of(&new.answer)
    };
    let mut am = stored.model.clone().into_active_model();
    set_values(&mut am, new, subject_id, &derived);
    am.version = Set(version);
    if !changes.is_empty() {
        am.updated_at = Set(change.now);
    }
    if change.undelete {
        am.deleted_at = Set(None);
    }
    if let Some(source) = change.source {
        am.source_text = Set(Some(source.text.clone()));
        am.source_hash = Set(Some(source.hash.clone()));
        am.source_path = Set(Some(source.path.clone()));
        am.imported_version = Set(Some(version));
    }
    let updated = article::Entity::update_many()
        .set(am)
        .filter(article::Column::Id.eq(stored.model.id))
        .filter(article::Column::Version.eq(stored.model.version))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::LostRace {
            id: stored.model.id,
        });
    }

    if old.related != new.related {
        article_link::Entity::delete_many()
            .filter(article_link::Column::ArticleId.eq(stored.model.id))
            .exec(db)
            .await?;
        let rows = link_rows(stored.model.id, &new.related, &subject_ids)?;
        if !rows.is_empty() {
            article_link::Entity::insert_many(rows)
                .exec_without_returning(db)
                .await?;
        }
    }
    for (kind, before, after) in [("slug", &old.slug, &new.slug), ("url", &old.url, &new.url)] {
        if before != after {
            remember_alias(db, stored.model.id, kind, before).await?;
        }
    }
    if !changes.is_empty() {
        let row = revision::revision_row(
            stored.model.id,
            version,
            change.editor,
            change.note,
            &changes,
            change.now,
        )?;
        revision::record(db, row).await?;
    }
    Ok(changes)
}

/// Keeps an old slug or url pointing at the article that had it last.
async fn remember_alias(
    db: &impl ConnectionTrait,
    article_id: i64,
    kind: &str,
    value: &str,
) -> Result<()> {
    article_alias::Entity::insert(article_alias::ActiveModel {
        article_id: Set(article_id),
        kind: Set(kind.to_owned()),
        value: Set(value.to_owned()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([article_alias::Column::Kind, article_alias::Column::Value])
            .update_column(article_alias::Column::ArticleId)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!("no article with id {id}"))
}
/// Sets or clears the tombstone of `id`, with its revision; `after_read`
/// pauses a test between the read and the guarded write.
async fn set_deleted(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    id: i64,
    deleted: bool,
    editor: &str,
    note: Option<&str>,
    after_read: Option<&Pause>,
) -> Result<StoredArticle> {
    let kind = if deleted {
        ChangeKind::Deleted
    } else {
        ChangeKind::Restored
    };
    in_write_txn(db, sink, kind, |txn| async move {
        let (before, saved) = set_deleted_in(&txn, id, deleted, editor, note, after_read).await?;
        Ok((txn, saved, before))
    })
    .await
}

async fn set_deleted_in(
    txn: &DatabaseTransaction,
    id: i64,
    deleted: bool,
    editor: &str,
    note: Option<&str>,
    after_read: Option<&Pause>,
) -> Result<(Before, StoredArticle)> {
    let stored = load(txn, id).await?.ok_or_else(|| not_found(id))?;
    pause::at(after_read).await;
    if stored.is_deleted() == deleted {
        let state = if deleted {
            "already deleted"
        } else {
            "not deleted"
        };
        return Err(Error::NotFound(format!("article {id} is {state}")));
    }
    let now = Utc::now();
    let version = stored.model.version + 1;
    let updated = article::Entity::update_many()
        .set(article::ActiveModel {
            deleted_at: Set(deleted.then_some(now)),
            version: Set(version),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(article::Column::Id.eq(id))
        .filter(article::Column::Version.eq(stored.model.version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::LostRace { id });
    }
    let changes = [revision::deletion_change(!deleted, deleted)];
    let row = revision::revision_row(id, version, editor, note, &changes, now)?;
    revision::record(txn, row).await?;
    let saved = load(txn, id).await?.ok_or_else(|| not_found(id))?;
    Ok((Before::of(&stored), saved))
}

/// Deletes article `id` (a tombstone), with its revision.
pub async fn delete(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    id: i64,
    editor: &str,
    note: Option<&str>,
) -> Result<()> {
    set_deleted(db, sink, id, true, editor, note, None)
        .await
        .map(drop)
}

/// [`delete`] with a test's pause point between reading the article and
/// writing its tombstone.
#[doc(hidden)]
pub async fn delete_paused(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    id: i64,
    editor: &str,
    note: Option<&str>,
    after_read: Option<&Pause>,
) -> Result<StoredArticle> {
    set_deleted(db, sink, id, true, editor, note, after_read).await
}

/// Brings back a deleted article `id`, with its revision.
pub async fn restore(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    id: i64,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    set_deleted(db, sink, id, false, editor, note, None).await
}
