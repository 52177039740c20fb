//! Listing articles: the filters and orders of the `articles` query, shared
//! by `Query.articles`, `Subject.articles` and `relatedFrom`.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{article, article_link, subject};
use sea_orm::sea_query::{Expr, ExprTrait, Func, NullOrdering, Order, Query as SqlQuery};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use crate::db::Reads;
use crate::error::Result;
use crate::service::lookup;

/// Orders of an article listing; every order ends with the id so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArticleOrder {
    /// Newest first; undated last.
    #[default]
    DateDesc,
    /// Oldest first; undated last.
    DateAsc,
    /// Best first; unscored last.
    ScoreDesc,
    /// Worst first; unscored last.
    ScoreAsc,
    /// By title, case-insensitively.
    TitleAsc,
    /// By id.
    IdAsc,
}

/// Which live articles a listing holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleFilter {
    /// Only articles of the subject with this slug.
    pub subject_slug: Option<String>,
    /// Only articles of this subject id.
    pub subject_id: Option<i32>,
    /// Only scores at least this (unscored articles excluded).
    pub score_min: Option<f64>,
    /// Only scores at most this (unscored articles excluded).
    pub score_max: Option<f64>,
    /// Only dates on or after this.
    pub date_from: Option<NaiveDate>,
    /// Only dates on or before this.
    pub date_to: Option<NaiveDate>,
    /// Only these ids.
    pub ids: Option<Vec<i64>>,
    /// Only articles that link to this id (`relatedFrom`).
    pub links_to: Option<i64>,
}

/// The select for the live articles matching `filter`, unordered.
fn filtered(filter: &ArticleFilter) -> Select<article::Entity> {
    let mut q = article::Entity::find().filter(article::Column::DeletedAt.is_null());
    if let Some(slug) = &filter.subject_slug {
        // `=` a scalar subquery (slugs are unique), not `IN`: SQLite then
        // walks a subject index in the page's order instead of sorting.
        q = q.filter(
            Expr::col(article::Column::SubjectId).eq(Expr::SubQuery(
                None,
                Box::new(
                    SqlQuery::select()
                        .column(subject::Column::Id)
                        .from(subject::Entity)
                        .and_where(subject::Column::Slug.eq(slug.as_str()))
                        .to_owned()
                        .into(),
                ),
            )),
        );
    }
    if let Some(id) = filter.subject_id {
        q = q.filter(article::Column::SubjectId.eq(id));
    }
    if let Some(min) = filter.score_min {
        q = q.filter(article::Column::Score.gte(min));
    }
    if let Some(max) = filter.score_max {
        q = q.filter(article::Column::Score.lte(max));
    }
    if let Some(from) = filter.date_from {
        q = q.filter(article::Column::Date.gte(from));
    }
    if let Some(to) = filter.date_to {
        q = q.filter(article::Column::Date.lte(to));
    }
    if let Some(ids) = &filter.ids {
        q = q.filter(article::Column::Id.is_in(ids.iter().copied()));
    }
    if let Some(target) = filter.links_to {
        q = q.filter(
            article::Column::Id.in_subquery(
                SqlQuery::select()
                    .column(article_link::Column::ArticleId)
                    .from(article_link::Entity)
                    .and_where(article_link::Column::TargetId.eq(target))
                    .to_owned(),
            ),
        );
    }
    q
}

fn ordered(q: Select<article::Entity>, order: ArticleOrder) -> Select<article::Entity> {
    use article::Column as C;
    let q = match order {
        ArticleOrder::DateDesc => q.order_by_with_nulls(C::Date, Order::Desc, NullOrdering::Last),
        ArticleOrder::DateAsc => q.order_by_with_nulls(C::Date, Order::Asc, NullOrdering::Last),
        ArticleOrder::ScoreDesc => q.order_by_with_nulls(C::Score, Order::Desc, NullOrdering::Last),
        ArticleOrder::ScoreAsc => q.order_by_with_nulls(C::Score, Order::Asc, NullOrdering::Last),
        ArticleOrder::TitleAsc => {
            q.order_by(Expr::expr(Func::lower(Expr::col(C::Title))), Order::Asc)
        }
        ArticleOrder::IdAsc => q,
    };
    q.order_by_asc(C::Id)
}

/// How many live articles match.
pub async fn count(db: &impl ConnectionTrait, filter: &ArticleFilter) -> Result<u64> {
    Ok(filtered(filter).count(db).await?)
}

/// How many live articles each of `subject_ids` has, in one grouped count;
/// a subject without live articles is absent.
pub async fn count_by_subject(
    db: &impl ConnectionTrait,
    subject_ids: &[i32],
) -> Result<HashMap<i32, u64>> {
    let rows: Vec<(i32, i64)> = filtered(&ArticleFilter::default())
        .select_only()
        .column(article::Column::SubjectId)
        .column_as(article::Column::Id.count(), "n")
        .filter(article::Column::SubjectId.is_in(subject_ids.iter().copied()))
        .group_by(article::Column::SubjectId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(subject, n)| (subject, u64::try_from(n).unwrap_or_default()))
        .collect())
}

/// One page of matching live articles, `limit` rows from `offset`.
pub async fn page(
    db: &impl Reads,
    filter: &ArticleFilter,
    order: ArticleOrder,
    offset: u64,
    limit: u64,
    texts: lookup::Texts,
) -> Result<Vec<article::Model>> {
    let select = ordered(filtered(filter), order).offset(offset).limit(limit);
    lookup::read(db, select, texts).await
}
