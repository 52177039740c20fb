//! Reading live articles for the API: one by id, slug or url (a former slug
//! or url still finds it), and pages' worth by id with their links.

use std::collections::HashMap;
use std::sync::Arc;

use entity::row::{Columns, FromColumns};
use entity::{article, article_alias, article_link};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, Iterable, QueryFilter, QuerySelect, QueryTrait, Select,
};

use crate::db::Reads;
use crate::error::Result;

/// Ids per `IN (…)` lookup.
const LOOKUP_CHUNK: usize = 500;

/// Which of an article's costly columns a read needs. A read leaves the
/// others out (they come back empty), so a page of articles or of link
/// targets does not carry every answer three times over when the request
/// asks for titles. The source text and body, kept for the exporter, no
/// read needs at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Texts {
    /// `answer`, the markdown.
    pub answer: bool,
    /// `answer_html`.
    pub answer_html: bool,
    /// `answer_text`, the plain text excerpts are cut from.
    pub answer_text: bool,
    /// The metadata beyond an article's card (id, slug, url, file name,
    /// subject, titles, question): template, date and its format, author,
    /// SEO, score, language, version, timestamps. On SQLite these sit after
    /// the long texts in each row, so reading them walks the row's overflow
    /// pages: a link target shown as a title should not.
    pub details: bool,
    /// The seed's own parts: the body after its front matter, and the file
    /// last imported (`source_text`, its hash and path). Only the export
    /// reads them.
    pub source: bool,
}

impl Texts {
    /// Every text column a page can need (the source file is not one).
    pub const ALL: Texts = Texts {
        answer: true,
        answer_html: true,
        answer_text: true,
        details: true,
        source: false,
    };
    /// None of them.
    pub const NONE: Texts = Texts {
        answer: false,
        answer_html: false,
        answer_text: false,
        details: false,
        source: false,
    };
    /// What the export writes a file from: the values and the source file,
    /// not the answer's HTML or plain text, which are derived from it (on
    /// PostgreSQL a third of the bytes an export would read and decompress).
    pub const EXPORT: Texts = Texts {
        answer: true,
        answer_html: false,
        answer_text: false,
        details: true,
        source: true,
    };
}

/// `select` reading the columns a read needs; the others come back as `''`
/// or null without leaving the database. The columns are in the model's
/// order, as [`read`] decodes them.
pub fn for_read(
    select: Select<article::Entity>,
    texts: Texts,
    backend: DbBackend,
) -> Select<article::Entity> {
    let mut select = select.select_only();
    for column in article::Column::iter() {
        select = match omitted(column, texts, backend) {
            Some(empty) => {
                select.column_as(Expr::cust(empty), sea_orm::IdenStatic::as_str(&column))
            }
            None => select.column(column),
        };
    }
    select
}

/// The articles `select` finds, read with `texts` (see [`for_read`]).
pub async fn read(
    db: &impl Reads,
    select: Select<article::Entity>,
    texts: Texts,
) -> Result<Vec<article::Model>> {
    let backend = db.backend();
    let statement = for_read(select, texts, backend).build(backend);
    db.rows(statement, |row| {
        article::Model::from_columns(&mut Columns::new(row, 0))
    })
    .await
}

/// What a read selects in place of `column` when it leaves it out (`''`,
/// `NULL`, `0` or a time, as the column's type takes on `backend`), or
/// `None` to read it.
fn omitted(column: article::Column, texts: Texts, backend: DbBackend) -> Option<&'static str> {
    use article::Column as C;
    match column {
        C::Answer if !texts.answer => Some("''"),
        C::AnswerHtml if !texts.answer_html => Some("''"),
        C::AnswerText if !texts.answer_text => Some("''"),
        C::Body if !texts.source => Some("''"),
        C::SourceText | C::SourceHash | C::SourcePath if !texts.source => Some("NULL"),
        _ if texts.details => None,
        C::Template | C::DateFormat | C::PostOnText | C::SeoKeywords | C::Language => Some("''"),
        C::Date | C::Author | C::SeoTitle | C::SeoDescription | C::Score | C::ImportedVersion => {
            Some("NULL")
        }
        C::Version => Some("0"),
        // In the form sqlx writes, which decodes fastest.
        C::CreatedAt | C::UpdatedAt if backend == DbBackend::Sqlite => {
            Some("'1970-01-01T00:00:00+00:00'")
        }
        C::CreatedAt | C::UpdatedAt => Some("TIMESTAMPTZ 'epoch'"),
        // The card, and `deleted_at`, which every read filters on anyway.
        C::Id
        | C::Slug
        | C::Url
        | C::FileName
        | C::SubjectId
        | C::Title
        | C::ArticleTitle
        | C::Question
        | C::DeletedAt => None,
        C::Answer | C::AnswerHtml | C::AnswerText => None,
        C::Body | C::SourceText | C::SourceHash | C::SourcePath => None,
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
    db: &impl Reads,
    key: ArticleKey<'_>,
    texts: Texts,
) -> Result<Option<article::Model>> {
    let (column, kind, value) = match key {
        ArticleKey::Id(id) => return live_by_id(db, id, texts).await,
        ArticleKey::Slug(slug) => (article::Column::Slug, "slug", slug),
        ArticleKey::Url(url) => (article::Column::Url, "url", url),
    };
    let current = article::Entity::find()
        .filter(column.eq(value))
        .filter(article::Column::DeletedAt.is_null())
        .limit(1);
    if let Some(found) = read(db, current, texts).await?.pop() {
        return Ok(Some(found));
    }
    let alias = article_alias::Entity::find()
        .select_only()
        .column(article_alias::Column::ArticleId)
        .filter(article_alias::Column::Kind.eq(kind))
        .filter(article_alias::Column::Value.eq(value))
        .limit(1)
        .build(db.backend());
    let owner = db
        .rows(alias, |row| Columns::new(row, 0).read::<i64>())
        .await?;
    match owner.first() {
        Some(&id) => live_by_id(db, id, texts).await,
        None => Ok(None),
    }
}

async fn live_by_id(db: &impl Reads, id: i64, texts: Texts) -> Result<Option<article::Model>> {
    let select = article::Entity::find_by_id(id).filter(article::Column::DeletedAt.is_null());
    Ok(read(db, select, texts).await?.pop())
}

/// The live articles among `ids`, by id (deleted and unknown ids are absent).
pub async fn live_articles(
    db: &impl Reads,
    ids: &[i64],
    texts: Texts,
) -> Result<HashMap<i64, article::Model>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        let select = article::Entity::find()
            .filter(article::Column::Id.is_in(chunk.iter().copied()))
            .filter(article::Column::DeletedAt.is_null());
        for a in read(db, select, texts).await? {
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
    db: &impl Reads,
    ids: &[i64],
    texts: Texts,
) -> Result<HashMap<i64, Vec<Link>>> {
    use sea_orm::JoinType;
    use sea_orm::sea_query::{Alias, ExprTrait, Query};
    let mut out: HashMap<i64, Vec<Link>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    let target = Alias::new("target");
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        // The link's columns, then its target's, each in its model's order.
        let mut query = Query::select();
        query.from(article_link::Entity);
        for column in article_link::Column::iter() {
            query.column((article_link::Entity, column));
        }
        for column in article::Column::iter() {
            match omitted(column, texts, db.backend()) {
                Some(empty) => query.expr(Expr::cust(empty)),
                None => query.expr(Expr::col((target.clone(), column))),
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
        let statement = db.backend().build(&query);
        let links = db
            .rows(statement, |row| {
                let mut columns = Columns::new(row, 0);
                let link = article_link::Model::from_columns(&mut columns)?;
                // A link whose target is not live joins nothing: its id is null.
                let target = match row.i64(columns.position())? {
                    Some(_) => Some(Arc::new(article::Model::from_columns(&mut columns)?)),
                    None => None,
                };
                Ok(Link { link, target })
            })
            .await?;
        for link in links {
            out.entry(link.link.article_id).or_default().push(link);
        }
    }
    Ok(out)
}
