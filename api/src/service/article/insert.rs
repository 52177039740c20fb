//! The one way an article row is created, for the import and `createArticle`
//! alike: the row at version 1, its links and its first revision.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{article, article_link, revision as revision_entity};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};

use super::{DerivedText, ImportedSource, link_rows, set_values};
use crate::error::{Error, Result};
use crate::fields::ArticleFields;
use crate::service::revision::{FieldChange, revision_row};

/// Rows per multi-row insert (articles have ~30 columns; both databases'
/// bind-parameter limits stay far away).
pub const INSERT_CHUNK: usize = 200;

/// One article to create.
pub struct NewArticleRow<'a> {
    /// Its values (validated).
    pub fields: &'a ArticleFields,
    /// Its answer's derived text.
    pub derived: &'a DerivedText,
    /// The file it comes from, for an import.
    pub source: Option<&'a ImportedSource>,
    /// Who creates it.
    pub editor: &'a str,
    /// The note of its first revision.
    pub note: Option<&'a str>,
    /// The changes its first revision records.
    pub changes: &'a [FieldChange],
}

/// What happens to a row whose id, slug, url or file name another
/// transaction took after the caller checked them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTaken {
    /// Skip it (the caller reports it): the import goes on with the rest.
    Skip,
    /// Fail with the database's refusal (a `BAD_USER_INPUT` naming the column).
    Fail,
}

/// Inserts `rows` (version 1) with their links and first revisions; returns
/// the ids inserted. `subject_ids` must hold every subject slug the rows and
/// their links name.
pub async fn insert_articles(
    db: &impl ConnectionTrait,
    rows: &[NewArticleRow<'_>],
    subject_ids: &HashMap<String, i32>,
    on_taken: OnTaken,
    now: DateTime<Utc>,
) -> Result<HashSet<i64>> {
    let mut inserted = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut articles = Vec::with_capacity(chunk.len());
        for row in chunk {
            let f = row.fields;
            let subject_id = *subject_ids
                .get(&f.subject_slug)
                .ok_or_else(|| Error::Internal(format!("subject `{}` missing", f.subject_slug)))?;
            let source =
                |get: fn(&ImportedSource) -> &String| Set(row.source.map(|s| get(s).clone()));
            let mut am = article::ActiveModel {
                id: Set(f.id),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
                source_text: source(|s| &s.text),
                source_hash: source(|s| &s.hash),
                source_path: source(|s| &s.path),
                imported_version: Set(row.source.map(|_| 1)),
                ..Default::default()
            };
            set_values(&mut am, f, subject_id, row.derived);
            articles.push(am);
        }
        let ids: Vec<i64> = match on_taken {
            // The rows are checked, but on PostgreSQL another transaction may
            // still insert an id, slug, url or file name between the check
            // and this insert (a new row cannot be locked ahead).
            OnTaken::Skip => {
                article::Entity::insert_many(articles)
                    .on_conflict(OnConflict::new().do_nothing().to_owned())
                    .exec_with_returning_keys(db)
                    .await?
            }
            OnTaken::Fail => {
                article::Entity::insert_many(articles)
                    .exec_without_returning(db)
                    .await?;
                chunk.iter().map(|r| r.fields.id).collect()
            }
        };
        inserted.extend(ids);
        let mut links = Vec::new();
        let mut revisions = Vec::with_capacity(chunk.len());
        for row in chunk.iter().filter(|r| inserted.contains(&r.fields.id)) {
            let f = row.fields;
            links.extend(link_rows(f.id, &f.related, subject_ids)?);
            revisions.push(revision_row(
                f.id,
                1,
                row.editor,
                row.note,
                row.changes,
                now,
            )?);
        }
        for links in links.chunks(INSERT_CHUNK * 4) {
            article_link::Entity::insert_many(links.to_vec())
                .exec_without_returning(db)
                .await?;
        }
        if !revisions.is_empty() {
            revision_entity::Entity::insert_many(revisions)
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(inserted)
}
