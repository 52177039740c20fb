//! One generic Relay connection for every list: articles, revisions and
//! search hits. What differs between them is a type parameter: what an edge
//! adds to its node (a search hit's rank and snippet) and whether the
//! connection lists its nodes besides its edges.

use std::sync::Arc;

use async_graphql::connection::EmptyFields;
use async_graphql::{
    ComplexObject, Context, ObjectType, OutputType, Result, ResultExt, SimpleObject,
};
use entity::article;

use super::article::target_texts;
use super::{Article, Revision, database, loaders, shows};
use crate::graphql::loaders::{LinksKey, loader_error, prime};
use crate::graphql::pagination::{PageArgs, PageInfo, Window, cursor, page_info};
use crate::service::listing::{self, ArticleFilter, ArticleOrder};
use crate::surrogate::Key;

/// A page of articles.
pub type ArticleConnection = Connection<Article, EmptyFields, ArticleNodes>;
/// A page of revisions, newest first.
pub type RevisionConnection = Connection<Revision, EmptyFields, RevisionNodes>;
/// A page of search hits, best first.
pub type SearchConnection = Connection<Article, SearchMatch, EmptyFields>;
/// The nodes of a page of articles.
pub type ArticleNodes = Nodes<Article>;
/// The nodes of a page of revisions.
pub type RevisionNodes = Nodes<Revision>;

/// What a search hit adds to its edge.
#[derive(Debug, Clone, SimpleObject)]
pub struct SearchMatch {
    /// Relevance; higher is a better match.
    pub rank: f64,
    /// HTML-escaped text around the match, with `<mark>…</mark>` around matched terms.
    pub snippet: String,
}

/// An item of a list, with its cursor.
// The concrete types share parameters, which clippy takes for repeated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(SimpleObject)]
#[graphql(
    concrete(name = "ArticleEdge", params(Article, EmptyFields)),
    concrete(name = "RevisionEdge", params(Revision, EmptyFields)),
    concrete(name = "SearchEdge", params(Article, SearchMatch))
)]
pub struct Edge<T: OutputType, X: ObjectType> {
    /// Opaque position to page from.
    pub cursor: String,
    /// The item: the article, the revision, or the article a search hit found.
    pub node: Arc<T>,
    /// What the list adds to each item (nothing, or a search hit's rank and snippet).
    #[graphql(flatten)]
    pub extra: X,
}

/// The `nodes` of a connection: its items without their cursors.
#[derive(SimpleObject)]
#[graphql(
    concrete(name = "ArticleNodes", params(Article)),
    concrete(name = "RevisionNodes", params(Revision))
)]
pub struct Nodes<T: OutputType> {
    /// The items of the page, in order.
    pub nodes: Vec<Arc<T>>,
}

/// How a connection lists its nodes: in a `nodes` field, or not at all.
pub trait NodesField<T>: ObjectType {
    /// The field for the nodes of a page.
    fn of(nodes: Vec<Arc<T>>) -> Self;
}

impl<T: OutputType> NodesField<T> for Nodes<T>
where
    Nodes<T>: ObjectType,
{
    fn of(nodes: Vec<Arc<T>>) -> Self {
        Self { nodes }
    }
}

impl<T> NodesField<T> for EmptyFields {
    fn of(_: Vec<Arc<T>>) -> Self {
        EmptyFields
    }
}

/// How many items a whole list holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Total {
    /// Already counted.
    Known(u64),
    /// The live articles matching the filter, counted only when asked for.
    Articles(ArticleFilter),
}

/// A page of a list, with its cursors and where it stands in the list.
#[allow(clippy::duplicated_attributes)]
#[derive(SimpleObject)]
#[graphql(
    complex,
    concrete(name = "ArticleConnection", params(Article, EmptyFields, ArticleNodes)),
    concrete(
        name = "RevisionConnection",
        params(Revision, EmptyFields, RevisionNodes)
    ),
    concrete(name = "SearchConnection", params(Article, SearchMatch, EmptyFields))
)]
pub struct Connection<T: OutputType, X: ObjectType, N: ObjectType>
where
    Edge<T, X>: OutputType,
{
    /// The items of the page, each with its cursor.
    pub edges: Vec<Edge<T, X>>,
    /// The items of the page without cursors (not on search hits).
    #[graphql(flatten)]
    pub nodes: N,
    /// Where the page stands in the list.
    pub page_info: PageInfo,
    #[graphql(skip)]
    total: Total,
}

impl<T: OutputType, X: ObjectType, N: NodesField<T>> Connection<T, X, N>
where
    Edge<T, X>: OutputType,
{
    /// The page `window` of a list: `items` from the window's offset, and
    /// whether the list goes on after them.
    pub fn new(window: Window, items: Vec<(T, X)>, more: bool, total: Total) -> Self {
        let shown = items.len() as u64;
        let edges: Vec<Edge<T, X>> = items
            .into_iter()
            .zip(window.offset..)
            .map(|((node, extra), at)| Edge {
                cursor: cursor(at),
                node: Arc::new(node),
                extra,
            })
            .collect();
        Self {
            nodes: N::of(edges.iter().map(|e| e.node.clone()).collect()),
            edges,
            page_info: page_info(window, shown, more),
            total,
        }
    }
}

#[ComplexObject]
impl<T: OutputType, X: ObjectType, N: ObjectType> Connection<T, X, N>
where
    Edge<T, X>: OutputType,
{
    /// How many items the whole list holds (a list of articles counts them
    /// only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let n = match &self.total {
            Total::Known(n) => *n,
            Total::Articles(filter) => listing::count(database(ctx)?, filter).await.extend()?,
        };
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

impl ArticleConnection {
    /// Loads the page `args` selects of the live articles matching `filter`.
    pub async fn load(
        ctx: &Context<'_>,
        filter: ArticleFilter,
        order: ArticleOrder,
        args: PageArgs<'_>,
    ) -> Result<Self> {
        shows(
            ctx,
            filter
                .subject_id
                .map_or(Key::Articles, Key::SubjectArticles),
        );
        let db = database(ctx)?;
        let window = args
            .window(|| async { listing::count(db, &filter).await.extend() })
            .await?;
        let texts = loaders(ctx)?.texts;
        let reader = ctx.data::<crate::db::Reader>()?;
        let mut rows = listing::page(
            reader,
            &filter,
            order,
            window.offset,
            window.limit + 1,
            texts,
        )
        .await
        .extend()?;
        let more = rows.len() as u64 > window.limit
            || window
                .end
                .is_some_and(|end| window.offset + window.limit < end);
        rows.truncate(window.limit as usize);
        prefetch(ctx, &rows).await?;
        let items = rows
            .into_iter()
            .map(|a| (Article::shown(ctx, a), EmptyFields))
            .collect();
        Ok(Self::new(window, items, more, Total::Articles(filter)))
    }
}

/// Loads, in one statement each, what the selection will ask of a page of
/// articles: subjects, and links with their targets. The loaders then answer
/// every nested lookup from their caches, so the statement count does not
/// depend on how the executor happens to interleave the resolvers.
async fn prefetch(ctx: &Context<'_>, rows: &[article::Model]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let look = ctx.look_ahead();
    let nodes = [look.field("nodes"), look.field("edges").field("node")];
    let related = || nodes.iter().map(|n| n.field("related"));
    let loaders = loaders(ctx)?;
    let wants_subjects = nodes.iter().any(|n| n.field("subject").exists())
        || related()
            .any(|r| r.field("subject").exists() || r.field("article").field("subject").exists());
    if wants_subjects {
        // Subjects are few: one lookup loads them all.
        loaders
            .subjects
            .get(rows[0].subject_id)
            .await
            .map_err(loader_error)?;
    }
    // The links come with their live targets, read with what each `related`
    // selection asks of them (the key its resolver will look up).
    let mut primed = Vec::new();
    for targets in related().filter(|r| r.exists()).map(|r| target_texts(&r)) {
        if primed.contains(&targets) {
            continue;
        }
        primed.push(targets);
        let keys: Vec<LinksKey> = rows
            .iter()
            .map(|a| LinksKey {
                article: a.id,
                targets,
            })
            .collect();
        prime(&loaders.links, &keys).await.map_err(loader_error)?;
    }
    Ok(())
}
