//! Reading live articles for the API: one by id, slug or url (a former slug
//! or url still finds it), and pages' worth by id with their links.

use std::collections::HashMap;

use entity::{article, article_alias, article_link};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect,
    Select,
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
    use article::Column as C;
    let mut select = select.select_only();
    for column in C::iter() {
        let empty = match column {
            C::Answer if !texts.answer => "''",
            C::AnswerHtml if !texts.answer_html => "''",
            C::AnswerText if !texts.answer_text => "''",
            C::Body => "''",
            C::SourceText | C::SourceHash | C::SourcePath => "NULL",
            _ => {
                select = select.column(column);
                continue;
            }
        };
        select = select.column_as(Expr::cust(empty), sea_orm::IdenStatic::as_str(&column));
    }
    select
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

/// The related links of each of `ids`, in position order; an article
/// without links gets an empty list.
pub async fn links_of(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<article_link::Model>>> {
    let mut out: HashMap<i64, Vec<article_link::Model>> =
        ids.iter().map(|id| (*id, Vec::new())).collect();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        for link in article_link::Entity::find()
            .filter(article_link::Column::ArticleId.is_in(chunk.iter().copied()))
            .order_by_asc(article_link::Column::ArticleId)
            .order_by_asc(article_link::Column::Position)
            .all(db)
            .await?
        {
            out.entry(link.article_id).or_default().push(link);
        }
    }
    Ok(out)
}
