//! Reading live articles for the API: one by id, slug or url (a former slug
//! or url still finds it), and pages' worth by id with their links.

use std::collections::HashMap;
use std::sync::Arc;

use entity::{article, article_alias, article_link};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter, QuerySelect, Select,
};

use crate::error::Result;

/// Ids per `IN (…)` lookup.
const LOOKUP_CHUNK: usize = 500;

/// Which of an article's long text columns a read needs. A read leaves the
/// others out (they come back empty), so a page of articles or of link
/// targets does not carry every answer three times over when the request
/// asks for titles. The source text and body, kept for the exporter, no
/// read needs at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Texts {
    /// `answer`, the markdown.
    pub answer: bool,
    /// `answer_html`.
    pub answer_html: bool,
    /// `answer_text`, the plain text excerpts are cut from.
    pub answer_text: bool,
}

impl Texts {
    /// Every text column a read can need.
    pub const ALL: Texts = Texts {
        answer: true,
        answer_html: true,
        answer_text: true,
    };
    /// None of them.
    pub const NONE: Texts = Texts {
        answer: false,
        answer_html: false,
        answer_text: false,
    };
}

/// `select` reading the columns a read needs; the others come back as `''`
/// or null without leaving the database.
pub fn for_read(select: Select<article::Entity>, texts: Texts) -> Select<article::Entity> {
    let mut select = select.select_only();
    for column in article::Column::iter() {
        select = match omitted(column, texts) {
            Some(empty) => {
                select.column_as(Expr::cust(empty), sea_orm::IdenStatic::as_str(&column))
            }
            None => select.column(column),
        };
    }
    select
}

/// What a read selects in place of `column` when it leaves it out (`''`
/// or `NULL`, as the column's type takes), or `None` to read it.
fn omitted(column: article::Column, texts: Texts) -> Option<&'static str> {
    use article::Column as C;
    match column {
        C::Answer if !texts.answer => Some("''"),
        C::AnswerHtml if !texts.answer_html => Some("''"),
        C::AnswerText if !texts.answer_text => Some("''"),
        C::Body => Some("''"),
        C::SourceText | C::SourceHash | C::SourcePath => Some("NULL"),
        _ => None,
    }
}

/// How an article is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArticleKey<'a> {
    /// By id.
    Id(i64),
    /// By slug, current or former.
    Slug(&'a str),
    /// By url, current or former.
    Url(&'a str),
}

/// The live article `key` names, if any. A slug or url no live article has
/// now finds the article that had it last.
pub async fn live_article(
    db: &impl ConnectionTrait,
    key: ArticleKey<'_>,
    texts: Texts,
) -> Result<Option<article::Model>> {
    let (column, kind, value) = match key {
        ArticleKey::Id(id) => return live_by_id(db, id, texts).await,
        ArticleKey::Slug(slug) => (article::Column::Slug, "slug", slug),
        ArticleKey::Url(url) => (article::Column::Url, "url", url),
    };
    let current = for_read(article::Entity::find(), texts)
        .filter(column.eq(value))
        .filter(article::Column::DeletedAt.is_null())
        .one(db)
        .await?;
    if current.is_some() {
        return Ok(current);
    }
    let alias = article_alias::Entity::find()
        .filter(article_alias::Column::Kind.eq(kind))
        .filter(article_alias::Column::Value.eq(value))
        .one(db)
        .await?;
    match alias {
        Some(a) => live_by_id(db, a.article_id, texts).await,
        None => Ok(None),
    }
}

async fn live_by_id(
    db: &impl ConnectionTrait,
    id: i64,
    texts: Texts,
) -> Result<Option<article::Model>> {
    Ok(for_read(article::Entity::find_by_id(id), texts)
        .filter(article::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

/// The live articles among `ids`, by id (deleted and unknown ids are absent).
pub async fn live_articles(
    db: &impl ConnectionTrait,
    ids: &[i64],
    texts: Texts,
) -> Result<HashMap<i64, article::Model>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        for a in for_read(article::Entity::find(), texts)
            .filter(article::Column::Id.is_in(chunk.iter().copied()))
            .filter(article::Column::DeletedAt.is_null())
            .all(db)
            .await?
        {
            out.insert(a.id, a);
        }
    }
    Ok(out)
}

/// A related link, with its target when the target is live.
#[derive(Debug, Clone)]
pub struct Link {
    /// The link, with its own copy of the target's title, subject and url.
    pub link: article_link::Model,
    /// The target, read with the request's texts; `None` while it is not
    /// loaded, or deleted.
    pub target: Option<Arc<article::Model>>,
}

/// The related links of each of `ids` in position order, each with its
/// live target, in one statement (a page's links and their targets are
/// what an article page shows most); an article without links gets an
/// empty list.
pub async fn links_with_targets(
    db: &impl ConnectionTrait,
    ids: &[i64],
    texts: Texts,
) -> Result<HashMap<i64, Vec<Link>>> {
    use sea_orm::sea_query::{Alias, ExprTrait, Query};
    use sea_orm::{FromQueryResult, JoinType};
    let mut out: HashMap<i64, Vec<Link>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    let target = Alias::new("target");
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let mut query = Query::select();
        query.from(article_link::Entity);
        for column in article_link::Column::iter() {
            query.column((article_link::Entity, column));
        }
        for column in article::Column::iter() {
            let alias = format!("{TARGET}{}", sea_orm::IdenStatic::as_str(&column));
            match omitted(column, texts) {
                Some(empty) => query.expr_as(Expr::cust(empty), Alias::new(alias)),
                None => query.expr_as(Expr::col((target.clone(), column)), Alias::new(alias)),
            };
        }
        query
            .join_as(
                JoinType::LeftJoin,
                article::Entity,
                target.clone(),
                Expr::col((target.clone(), article::Column::Id))
                    .equals((article_link::Entity, article_link::Column::TargetId))
                    .and(Expr::col((target.clone(), article::Column::DeletedAt)).is_null()),
            )
            .and_where(
                Expr::col((article_link::Entity, article_link::Column::ArticleId))
                    .is_in(chunk.iter().copied()),
            )
            .order_by(
                (article_link::Entity, article_link::Column::ArticleId),
                sea_orm::Order::Asc,
            )
            .order_by(
                (article_link::Entity, article_link::Column::Position),
                sea_orm::Order::Asc,
            );
        for row in db.query_all(&query).await? {
            let link = article_link::Model::from_query_result(&row, "")?;
            // A link whose target is not live joins nothing: its id is null.
            let live: Option<i64> = row.try_get(TARGET, "id")?;
            let target = match live {
                Some(_) => Some(Arc::new(article::Model::from_query_result(&row, TARGET)?)),
                None => None,
            };
            out.entry(link.article_id)
                .or_default()
                .push(Link { link, target });
        }
    }
    Ok(out)
}

/// The prefix of a link target's columns in [`links_with_targets`].
const TARGET: &str = "target__";
