//! Subjects: created on demand by slug, looked up by id or slug.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::row::{Columns, FromColumns};
use entity::subject;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QueryTrait, sea_query::OnConflict,
};

use crate::db::Reads;
use crate::error::Result;

/// Rows per multi-row insert, well under both databases' bind limits.
const INSERT_CHUNK: usize = 500;

/// Every subject by id.
pub async fn subjects_by_id(db: &impl Reads) -> Result<HashMap<i32, subject::Model>> {
    let statement = subject::Entity::find().build(db.backend());
    let all = db
        .rows(statement, |row| {
            subject::Model::from_columns(&mut Columns::new(row, 0))
        })
        .await?;
    Ok(all.into_iter().map(|s| (s.id, s)).collect())
}

/// Every subject, by name.
pub async fn all_by_name(db: &impl ConnectionTrait) -> Result<Vec<subject::Model>> {
    Ok(subject::Entity::find()
        .order_by_asc(subject::Column::Name)
        .all(db)
        .await?)
}

/// The subject with this slug.
pub async fn by_slug(db: &impl ConnectionTrait, slug: &str) -> Result<Option<subject::Model>> {
    Ok(subject::Entity::find()
        .filter(subject::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// Makes sure a subject exists for each `(slug, name)` (the first name given
/// for a slug wins; an existing subject keeps its name) and returns the id of
/// every subject by slug.
pub async fn ensure_subjects(
    db: &impl ConnectionTrait,
    wanted: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<HashMap<String, i32>> {
    let mut ids: HashMap<String, i32> = subject::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.slug, s.id))
        .collect();
    let mut missing: Vec<subject::ActiveModel> = Vec::new();
    let mut queued = std::collections::HashSet::new();
    for (slug, name) in wanted {
        if !ids.contains_key(slug) && queued.insert(slug.clone()) {
            missing.push(subject::ActiveModel {
                slug: Set(slug.clone()),
                name: Set(name.clone()),
                created_at: Set(now),
                ..Default::default()
            });
        }
    }
    if missing.is_empty() {
        return Ok(ids);
    }
    let mut rows = missing.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        subject::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(subject::Column::Slug)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    ids = subject::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.slug, s.id))
        .collect();
    Ok(ids)
}
