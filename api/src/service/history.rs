//! An article's revision history, newest first, a page at a time.

use entity::revision;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::error::Result;

fn of(article_id: i64) -> Select<revision::Entity> {
    revision::Entity::find().filter(revision::Column::ArticleId.eq(article_id))
}

/// How many revisions article `article_id` has.
pub async fn count(db: &impl ConnectionTrait, article_id: i64) -> Result<u64> {
    Ok(of(article_id).count(db).await?)
}

/// At most `limit` revisions of article `article_id` from `offset`, newest first.
pub async fn page(
    db: &impl ConnectionTrait,
    article_id: i64,
    offset: u64,
    limit: u64,
) -> Result<Vec<revision::Model>> {
    Ok(of(article_id)
        .order_by_desc(revision::Column::Version)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?)
}
