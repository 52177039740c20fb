//! The root `Query` type: what frontends read.

use async_graphql::{
    Context, ErrorExtensions, ID, InputObject, Object, Result, ResultExt, SimpleObject,
};
use entity::{article, article_alias, subject};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::error::bad_input;
use super::pagination::{PageArgs, PageInfo, cursor, page_info};
use super::types::{Article, ArticleConnection, ArticleOrderInput, Date, Subject};
use crate::error::Error;
use crate::service::{listing::ArticleFilter, search};

/// Narrows an article list; all given conditions must hold.
#[derive(InputObject, Debug, Default)]
#[graphql(name = "ArticleFilter")]
pub struct ArticleFilterInput {
    /// Subject slug, e.g. `medicine`.
    pub subject: Option<String>,
    /// Lowest score (unscored articles are left out).
    pub score_min: Option<f64>,
    /// Highest score (unscored articles are left out).
    pub score_max: Option<f64>,
    /// Earliest date (undated articles are left out).
    pub date_from: Option<Date>,
    /// Latest date (undated articles are left out).
    pub date_to: Option<Date>,
    /// Only these article ids.
    pub ids: Option<Vec<ID>>,
}

/// Parses an article id argument.
pub fn article_id(field: &str, id: &ID) -> Result<i64> {
    id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        bad_input(
            field,
            format!(
                "`{field}` must be a positive integer id, not `{}`",
                id.as_str()
            ),
        )
    })
}

impl ArticleFilterInput {
    fn into_filter(self) -> Result<ArticleFilter> {
        Ok(ArticleFilter {
            subject_slug: self.subject,
            score_min: self.score_min,
            score_max: self.score_max,
            date_from: self.date_from.map(|d| d.0),
            date_to: self.date_to.map(|d| d.0),
            ids: self
                .ids
                .map(|ids| {
                    ids.iter()
                        .map(|id| article_id("filter.ids", id))
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?,
            ..Default::default()
        })
    }
}

/// A search hit with its cursor.
#[derive(SimpleObject)]
pub struct SearchEdge {
    /// Opaque position to page from.
    pub cursor: String,
    /// The matching article.
    pub node: Article,
    /// Relevance; higher is a better match.
    pub rank: f64,
    /// HTML-escaped text around the match, with `<mark>…</mark>` around matched terms.
    pub snippet: String,
}

/// A page of search hits, best first.
#[derive(SimpleObject)]
pub struct SearchConnection {
    /// The hits of the page.
    pub edges: Vec<SearchEdge>,
    /// Where the page stands in the results.
    pub page_info: PageInfo,
    /// How many articles match.
    pub total_count: i32,
}

/// What frontends read.
pub struct Query;

async fn live_by(
    db: &DatabaseConnection,
    column: article::Column,
    value: &str,
) -> Result<Option<article::Model>> {
    article::Entity::find()
        .filter(column.eq(value))
        .filter(article::Column::DeletedAt.is_null())
        .one(db)
        .await
        .map_err(|e| Error::from(e).extend())
}

/// The article that had `value` as its slug or url before an edit.
async fn by_alias(
    db: &DatabaseConnection,
    kind: &str,
    value: &str,
) -> Result<Option<article::Model>> {
    let alias = article_alias::Entity::find()
        .filter(article_alias::Column::Kind.eq(kind))
        .filter(article_alias::Column::Value.eq(value))
        .one(db)
        .await
        .map_err(|e| Error::from(e).extend())?;
    match alias {
        None => Ok(None),
        Some(a) => article::Entity::find_by_id(a.article_id)
            .filter(article::Column::DeletedAt.is_null())
            .one(db)
            .await
            .map_err(|e| Error::from(e).extend()),
    }
}

#[Object]
impl Query {
    /// One live article, by exactly one of `id`, `slug` or `url`. A slug or
    /// url the article had before an edit still finds it.
    async fn article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id, e.g. `\"118109\"`.")] id: Option<ID>,
        #[graphql(desc = "The article's slug, current or former.")] slug: Option<String>,
        #[graphql(desc = "The article's url, current or former.")] url: Option<String>,
    ) -> Result<Option<Article>> {
        let db = ctx.data::<DatabaseConnection>()?;
        let found = match (id, slug, url) {
            (Some(id), None, None) => {
                let id = article_id("id", &id)?;
                article::Entity::find_by_id(id)
                    .filter(article::Column::DeletedAt.is_null())
                    .one(db)
                    .await
                    .map_err(|e| Error::from(e).extend())?
            }
            (None, Some(slug), None) => match live_by(db, article::Column::Slug, &slug).await? {
                Some(a) => Some(a),
                None => by_alias(db, "slug", &slug).await?,
            },
            (None, None, Some(url)) => match live_by(db, article::Column::Url, &url).await? {
                Some(a) => Some(a),
                None => by_alias(db, "url", &url).await?,
            },
            _ => {
                return Err(bad_input("id", "give exactly one of `id`, `slug` or `url`"));
            }
        };
        Ok(found.map(Article))
    }

    /// Live articles, filtered and ordered, a page at a time.
    // The arguments are the contract's (SPEC §5), one per GraphQL argument.
    #[allow(clippy::too_many_arguments)]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Conditions every article listed must meet.")] filter: Option<
            ArticleFilterInput,
        >,
        #[graphql(
            default_with = "Some(ArticleOrderInput::DateDesc)",
            desc = "Order of the list (null means DATE_DESC)."
        )]
        order_by: Option<ArticleOrderInput>,
        #[graphql(desc = "Page size counting forward (default 20, at most 100).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
        #[graphql(desc = "Page size counting back from `before` or the end (at most 100).")]
        last: Option<i32>,
        #[graphql(desc = "Cursor to stop before.")] before: Option<String>,
    ) -> Result<ArticleConnection> {
        let filter = filter.unwrap_or_default().into_filter()?;
        let args = PageArgs {
            first,
            after: after.as_deref(),
            last,
            before: before.as_deref(),
        };
        ArticleConnection::load(ctx, filter, order_by.unwrap_or_default().into(), args).await
    }

    /// One subject by slug, e.g. `medicine`.
    async fn subject(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subject's slug.")] slug: String,
    ) -> Result<Option<Subject>> {
        let db = ctx.data::<DatabaseConnection>()?;
        Ok(subject::Entity::find()
            .filter(subject::Column::Slug.eq(slug))
            .one(db)
            .await
            .map_err(|e| Error::from(e).extend())?
            .map(Subject))
    }

    /// Every subject, by name.
    async fn subjects(&self, ctx: &Context<'_>) -> Result<Vec<Subject>> {
        let db = ctx.data::<DatabaseConnection>()?;
        Ok(subject::Entity::find()
            .order_by_asc(subject::Column::Name)
            .all(db)
            .await
            .map_err(|e| Error::from(e).extend())?
            .into_iter()
            .map(Subject)
            .collect())
    }

    /// English full-text search over title, question and answer, best first.
    /// Any text is a valid query: only its words are searched, and every
    /// searched word must match.
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Words to find; punctuation and search syntax are ignored, a repeated word counts once, and only the first 32 words of the first 256 characters are searched."
        )]
        query: String,
        #[graphql(desc = "Only articles of the subject with this slug.")] subject: Option<String>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> Result<SearchConnection> {
        let db = ctx.data::<DatabaseConnection>()?;
        let args = PageArgs {
            first,
            after: after.as_deref(),
            ..Default::default()
        };
        let window = args.window(|| async { Ok(0) }).await?;
        let subject_id = match subject {
            None => None,
            Some(slug) => match subject::Entity::find()
                .filter(subject::Column::Slug.eq(slug))
                .one(db)
                .await
                .map_err(|e| Error::from(e).extend())?
            {
                Some(s) => Some(s.id),
                None => return Ok(empty_search()),
            },
        };
        let (hits, total) = search::search(db, &query, subject_id, window.offset, window.limit)
            .await
            .extend()?;
        let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        let mut articles: std::collections::HashMap<i64, article::Model> = article::Entity::find()
            .filter(article::Column::Id.is_in(ids))
            .all(db)
            .await
            .map_err(|e| Error::from(e).extend())?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let shown = hits.len() as u64;
        let edges = hits
            .into_iter()
            .enumerate()
            .filter_map(|(i, h)| {
                articles.remove(&h.id).map(|a| SearchEdge {
                    cursor: cursor(window.offset + i as u64),
                    node: Article(a),
                    rank: h.rank,
                    snippet: h.snippet,
                })
            })
            .collect();
        Ok(SearchConnection {
            edges,
            page_info: page_info(window, shown, window.offset + shown < total),
            total_count: i32::try_from(total).unwrap_or(i32::MAX),
        })
    }
}

fn empty_search() -> SearchConnection {
    SearchConnection {
        edges: Vec::new(),
        page_info: PageInfo {
            has_next_page: false,
            has_previous_page: false,
            start_cursor: None,
            end_cursor: None,
        },
        total_count: 0,
    }
}
