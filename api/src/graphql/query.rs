//! The root `Query` type: what frontends read.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use sea_orm::DatabaseConnection;

use super::error::bad_input;
use super::loaders::Loaders;
use super::pagination::{PageArgs, Window};
use super::types::{
    Article, ArticleConnection, ArticleOrderInput, Date, SearchConnection, SearchMatch, Subject,
    Total, shows,
};
use crate::db::Reader;
use crate::service::lookup::{self, ArticleKey};
use crate::service::{listing::ArticleFilter, search, subject as subjects};
use crate::surrogate::Key;

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

/// What frontends read.
pub struct Query;

/// What frontends read: articles by id, slug or url, article lists,
/// subjects and full-text search. No token is needed.
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
        let db = ctx.data::<Reader>()?;
        let texts = ctx.data::<Loaders>()?.texts;
        let key = match (&id, &slug, &url) {
            (Some(id), None, None) => ArticleKey::Id(article_id("id", id)?),
            (None, Some(slug), None) => ArticleKey::Slug(slug),
            (None, None, Some(url)) => ArticleKey::Url(url),
            _ => {
                return Err(bad_input("id", "give exactly one of `id`, `slug` or `url`"));
            }
        };
        // A miss stays a miss until an article with that id, or any new
        // article (for a slug or url), is made. A hit through a former
        // slug or url lasts until another article takes it: any change
        // may, so the answer is filed under every change's key too.
        let asked = match key {
            ArticleKey::Id(_) => None,
            ArticleKey::Slug(slug) => Some(slug.to_owned()),
            ArticleKey::Url(url) => Some(url.to_owned()),
        };
        let missing = match key {
            ArticleKey::Id(id) => Key::Article(id),
            ArticleKey::Slug(_) | ArticleKey::Url(_) => Key::Articles,
        };
        let found = lookup::live_article(db, key, texts).await.extend()?;
        match &found {
            None => shows(ctx, missing),
            Some(model)
                if asked
                    .as_deref()
                    .is_some_and(|asked| asked != model.slug && asked != model.url) =>
            {
                shows(ctx, Key::Articles);
            }
            Some(_) => {}
        }
        Ok(found.map(|model| Article::shown(ctx, model)))
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
        let found = subjects::by_slug(db, &slug).await.extend()?;
        if found.is_none() {
            // A subject is made with its first article.
            shows(ctx, Key::Articles);
        }
        Ok(found.map(|subject| Subject::shown(ctx, subject)))
    }

    /// Every subject, by name.
    async fn subjects(&self, ctx: &Context<'_>) -> Result<Vec<Subject>> {
        let db = ctx.data::<DatabaseConnection>()?;
        shows(ctx, Key::Articles);
        Ok(subjects::all_by_name(db)
            .await
            .extend()?
            .into_iter()
            .map(|subject| Subject::shown(ctx, subject))
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
        // Any change may change what a search finds.
        shows(ctx, Key::Articles);
        let args = PageArgs {
            first,
            after: after.as_deref(),
            ..Default::default()
        };
        let window = args.window(|| async { Ok(0) }).await?;
        let subject_id = match subject {
            None => None,
            Some(slug) => match subjects::by_slug(db, &slug).await.extend()? {
                Some(s) => Some(s.id),
                None => return Ok(empty_search(window)),
            },
        };
        let (hits, total) = search::search(db, &query, subject_id, window.offset, window.limit)
            .await
            .extend()?;
        let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
        let texts = ctx.data::<Loaders>()?.texts;
        let reader = ctx.data::<Reader>()?;
        let mut articles = lookup::live_articles(reader, &ids, texts).await.extend()?;
        let more = window.offset + (hits.len() as u64) < total;
        let items = hits
            .into_iter()
            .filter_map(|h| {
                let found = articles.remove(&h.id)?;
                let hit = SearchMatch {
                    rank: h.rank,
                    snippet: h.snippet,
                };
                Some((Article::shown(ctx, found), hit))
            })
            .collect();
        Ok(SearchConnection::new(
            window,
            items,
            more,
            Total::Known(total),
        ))
    }
}

/// No hits: the search named a subject that does not exist.
fn empty_search(window: Window) -> SearchConnection {
    let none = Window {
        offset: 0,
        ..window
    };
    SearchConnection::new(none, Vec::new(), false, Total::Known(0))
}
