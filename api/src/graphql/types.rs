//! The GraphQL object types: thin wrappers over the entities, each nested
//! edge resolved through the request's DataLoaders.

use async_graphql::{
    Context, ErrorExtensions, ID, InputValueError, InputValueResult, Object, Result, ResultExt,
    Scalar, ScalarType, SimpleObject, Value,
};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{article, article_link, revision, subject};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::error::{bad_input, forbidden, loader_error};
use super::loaders::Loaders;
use super::pagination::{PageArgs, PageInfo, cursor, page_info};
use crate::error::Error;
use crate::render;
use crate::service::listing::{self, ArticleFilter, ArticleOrder};
use crate::service::revision::FieldChange as StoredChange;
use crate::service::token::Editor;

/// An ISO 8601 calendar date, e.g. `2024-12-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// An ISO 8601 calendar date, e.g. `2024-12-11`.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => crate::fields::parse_date(s).map(Date).ok_or_else(|| {
                InputValueError::custom(format!("`{s}` is not a date (YYYY-MM-DD)"))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

fn database<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

async fn subject_of(ctx: &Context<'_>, id: i32) -> Result<Subject> {
    loaders(ctx)?
        .subjects
        .load_one(id)
        .await
        .map_err(loader_error)?
        .map(Subject)
        .ok_or_else(|| Error::Internal(format!("subject {id} is missing")).extend())
}

/// An article: one question answered in markdown.
pub struct Article(pub article::Model);

#[Object]
impl Article {
    /// The article's stable id (the seed's `id`), e.g. `"118109"`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The last url segment, e.g. `what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The page path: `/learn/<subject-slug>/questions/<slug>`.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The seed file name the exporter writes this article to.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }

    /// Display title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Title shown on the article page (defaults to `title`).
    async fn article_title(&self) -> &str {
        &self.0.article_title
    }

    /// The question the article answers.
    async fn question(&self) -> &str {
        &self.0.question
    }

    /// The answer in markdown, seed escapes decoded.
    async fn answer(&self) -> &str {
        &self.0.answer
    }

    /// The answer as sanitized HTML (CommonMark and tables); math is kept
    /// verbatim in `<span class="math inline">` and `<div class="math display">`.
    async fn answer_html(&self) -> &str {
        &self.0.answer_html
    }

    /// The answer as plain text, cut at a word boundary to at most `length` characters.
    async fn excerpt(
        &self,
        #[graphql(
            default_with = "Some(200)",
            desc = "Most characters returned, `…` included (0 to 10000); null means 200."
        )]
        length: Option<i32>,
    ) -> Result<String> {
        let length = usize::try_from(length.unwrap_or(200))
            .ok()
            .filter(|l| *l <= 10_000)
            .ok_or_else(|| bad_input("length", "`length` must be between 0 and 10000"))?;
        Ok(render::excerpt(&self.0.answer_text, length))
    }

    /// Author name.
    async fn author(&self) -> Option<&str> {
        self.0.author.as_deref()
    }

    /// Publication date.
    async fn date(&self) -> Option<Date> {
        self.0.date.map(Date)
    }

    /// The date formatted with `dateFormat`, e.g. `Dec 11, 2024`.
    async fn display_date(&self) -> Option<String> {
        self.0
            .date
            .map(|d| render::display_date(d, &self.0.date_format))
    }

    /// Display pattern of the date (tokens `YYYY YY MMMM MMM MM M DD D`).
    async fn date_format(&self) -> &str {
        &self.0.date_format
    }

    /// Label shown before the date, e.g. `Posted on`.
    async fn post_on_text(&self) -> &str {
        &self.0.post_on_text
    }

    /// Page template name (the seed's `_schema`).
    async fn template(&self) -> &str {
        &self.0.template
    }

    /// The article's language as a BCP 47 tag (`en`, `pt-BR`): the seed's
    /// `lang`, `en` when it has none.
    async fn language(&self) -> &str {
        &self.0.language
    }

    /// The article's score; null while it is not yet scored.
    async fn score(&self) -> Option<f64> {
        self.0.score
    }

    /// The subject the article is filed under.
    async fn subject(&self, ctx: &Context<'_>) -> Result<Subject> {
        subject_of(ctx, self.0.subject_id).await
    }

    /// SEO metadata.
    async fn seo(&self) -> Seo {
        Seo {
            title: self.0.seo_title.clone(),
            description: self.0.seo_description.clone(),
            keywords: serde_json::from_str(&self.0.seo_keywords).unwrap_or_default(),
        }
    }

    /// Related articles, in position order.
    #[graphql(complexity = "crate::fields::MAX_RELATED * child_complexity")]
    async fn related(&self, ctx: &Context<'_>) -> Result<Vec<RelatedArticle>> {
        Ok(loaders(ctx)?
            .links
            .load_one(self.0.id)
            .await
            .map_err(loader_error)?
            .unwrap_or_default()
            .into_iter()
            .map(RelatedArticle)
            .collect())
    }

    /// Live articles that link to this one, by id.
    #[graphql(complexity = "super::pagination::weight(first, None) * child_complexity")]
    async fn related_from(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> Result<ArticleConnection> {
        let filter = ArticleFilter {
            links_to: Some(self.0.id),
            ..Default::default()
        };
        let args = PageArgs {
            first,
            after: after.as_deref(),
            ..Default::default()
        };
        ArticleConnection::load(ctx, filter, ArticleOrder::IdAsc, args).await
    }

    /// Bumped by every change; pass it as `expectedVersion` when editing.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the article was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the article last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The revision history, newest first. Editors only: it names editors
    /// and keeps removed text, so a request without a token gets `FORBIDDEN`.
    #[graphql(complexity = "super::pagination::weight(first, None) * child_complexity")]
    async fn revisions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> Result<RevisionConnection> {
        if ctx.data_opt::<Editor>().is_none() {
            return Err(forbidden(
                "the revision history is for editors: send an editor or admin token as `Authorization: Bearer <token>`",
            ));
        }
        let db = database(ctx)?;
        let args = PageArgs {
            first,
            after: after.as_deref(),
            ..Default::default()
        };
        let all = || revision::Entity::find().filter(revision::Column::ArticleId.eq(self.0.id));
        let total = all().count(db).await.map_err(|e| Error::from(e).extend())?;
        let window = args.window(|| async { Ok(total) }).await?;
        let mut rows = all()
            .order_by_desc(revision::Column::Version)
            .offset(window.offset)
            .limit(window.limit)
            .all(db)
            .await
            .map_err(|e| Error::from(e).extend())?;
        rows.truncate(window.limit as usize);
        let more = window.offset + (rows.len() as u64) < total;
        Ok(RevisionConnection {
            page_info: page_info(window, rows.len() as u64, more),
            edges: rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| RevisionEdge {
                    cursor: cursor(window.offset + i as u64),
                    node: Revision(r),
                })
                .collect(),
            total_count: total,
        })
    }
}

/// SEO metadata of an article.
#[derive(Debug, Clone, SimpleObject)]
pub struct Seo {
    /// Page title for search engines.
    pub title: Option<String>,
    /// Page description for search engines.
    pub description: Option<String>,
    /// Keywords, in order.
    pub keywords: Vec<String>,
}

/// A link from an article to a related one, which need not be loaded yet.
pub struct RelatedArticle(pub article_link::Model);

impl RelatedArticle {
    async fn target(&self, ctx: &Context<'_>) -> Result<Option<article::Model>> {
        Ok(loaders(ctx)?
            .articles
            .load_one(self.0.target_id)
            .await
            .map_err(loader_error)?
            .flatten())
    }
}

#[Object]
impl RelatedArticle {
    /// 1-based position among the article's links.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// The target's id.
    async fn id(&self) -> ID {
        ID(self.0.target_id.to_string())
    }

    /// The target's title when it is loaded, else the link's copy.
    async fn title(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(self
            .target(ctx)
            .await?
            .map_or_else(|| self.0.title.clone(), |a| a.title))
    }

    /// The target's url when it is loaded, else the link's copy.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(self
            .target(ctx)
            .await?
            .map_or_else(|| self.0.url.clone(), |a| a.url))
    }

    /// The target's subject when it is loaded, else the one the link names.
    async fn subject(&self, ctx: &Context<'_>) -> Result<Subject> {
        let id = self
            .target(ctx)
            .await?
            .map_or(self.0.subject_id, |a| a.subject_id);
        subject_of(ctx, id).await
    }

    /// The target article; null while it is not loaded (or deleted).
    async fn article(&self, ctx: &Context<'_>) -> Result<Option<Article>> {
        Ok(self.target(ctx).await?.map(Article))
    }
}

/// A subject articles are filed under.
pub struct Subject(pub subject::Model);

#[Object]
impl Subject {
    /// The subject's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Display name, e.g. `Health Studies`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Url segment, e.g. `health-studies`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// How many live articles the subject has.
    async fn article_count(&self, ctx: &Context<'_>) -> Result<i32> {
        let filter = ArticleFilter {
            subject_id: Some(self.0.id),
            ..Default::default()
        };
        let n = listing::count(database(ctx)?, &filter).await.extend()?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// The subject's live articles.
    #[graphql(complexity = "super::pagination::weight(first, None) * child_complexity")]
    async fn articles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Order of the list (default DATE_DESC).")] order_by: Option<
            ArticleOrderInput,
        >,
        #[graphql(desc = "Page size (default 20, at most 100).")] first: Option<i32>,
        #[graphql(desc = "Cursor to continue after.")] after: Option<String>,
    ) -> Result<ArticleConnection> {
        let filter = ArticleFilter {
            subject_id: Some(self.0.id),
            ..Default::default()
        };
        let args = PageArgs {
            first,
            after: after.as_deref(),
            ..Default::default()
        };
        let order = order_by.unwrap_or_default().into();
        ArticleConnection::load(ctx, filter, order, args).await
    }
}

/// Orders of an article list; every order is nulls last and ties go by id.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(name = "ArticleOrder")]
pub enum ArticleOrderInput {
    /// Newest first; undated articles last.
    #[default]
    DateDesc,
    /// Oldest first; undated articles last.
    DateAsc,
    /// Highest score first; unscored articles last.
    ScoreDesc,
    /// Lowest score first; unscored articles last.
    ScoreAsc,
    /// By title, case-insensitively.
    TitleAsc,
    /// By id.
    IdAsc,
}

impl From<ArticleOrderInput> for ArticleOrder {
    fn from(o: ArticleOrderInput) -> Self {
        match o {
            ArticleOrderInput::DateDesc => ArticleOrder::DateDesc,
            ArticleOrderInput::DateAsc => ArticleOrder::DateAsc,
            ArticleOrderInput::ScoreDesc => ArticleOrder::ScoreDesc,
            ArticleOrderInput::ScoreAsc => ArticleOrder::ScoreAsc,
            ArticleOrderInput::TitleAsc => ArticleOrder::TitleAsc,
            ArticleOrderInput::IdAsc => ArticleOrder::IdAsc,
        }
    }
}

/// An article in a list, with its cursor.
#[derive(SimpleObject)]
pub struct ArticleEdge {
    /// Opaque position to page from.
    pub cursor: String,
    /// The article.
    pub node: Article,
}

/// A page of articles.
pub struct ArticleConnection {
    edges: Vec<ArticleEdge>,
    page_info: PageInfo,
    db: DatabaseConnection,
    filter: ArticleFilter,
}

impl ArticleConnection {
    /// Loads the page `args` selects of the live articles matching `filter`.
    pub async fn load(
        ctx: &Context<'_>,
        filter: ArticleFilter,
        order: ArticleOrder,
        args: PageArgs<'_>,
    ) -> Result<Self> {
        let db = database(ctx)?;
        let window = args
            .window(|| async { listing::count(db, &filter).await.extend() })
            .await?;
        let mut rows = listing::page(db, &filter, order, window.offset, window.limit + 1)
            .await
            .extend()?;
        let more = rows.len() as u64 > window.limit
            || window
                .end
                .is_some_and(|end| window.offset + window.limit < end);
        rows.truncate(window.limit as usize);
        prefetch(ctx, &rows).await?;
        Ok(Self {
            page_info: page_info(window, rows.len() as u64, more),
            edges: rows
                .into_iter()
                .enumerate()
                .map(|(i, a)| ArticleEdge {
                    cursor: cursor(window.offset + i as u64),
                    node: Article(a),
                })
                .collect(),
            db: db.clone(),
            filter,
        })
    }
}

/// Loads, in one batch each, what the selection will ask of a page of
/// articles: subjects, links and link targets. The loaders then answer
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
        loaders
            .subjects
            .load_one(rows[0].subject_id)
            .await
            .map_err(loader_error)?;
    }
    if !related().any(|r| r.exists()) {
        return Ok(());
    }
    let links = loaders
        .links
        .load_many(rows.iter().map(|a| a.id))
        .await
        .map_err(loader_error)?;
    let wants_targets = related().any(|r| {
        ["title", "url", "subject", "article"]
            .iter()
            .any(|f| r.field(f).exists())
    });
    if wants_targets {
        let targets: Vec<i64> = links.values().flatten().map(|l| l.target_id).collect();
        loaders
            .articles
            .load_many(targets)
            .await
            .map_err(loader_error)?;
    }
    Ok(())
}

#[Object]
impl ArticleConnection {
    /// The articles of the page with their cursors.
    async fn edges(&self) -> &[ArticleEdge] {
        &self.edges
    }

    /// The articles of the page.
    async fn nodes(&self) -> Vec<&Article> {
        self.edges.iter().map(|e| &e.node).collect()
    }

    /// Where the page stands in the list.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many articles the whole list holds (counted only when asked for).
    async fn total_count(&self) -> Result<i32> {
        let n = listing::count(&self.db, &self.filter).await.extend()?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// One field's change in a revision.
#[derive(SimpleObject)]
pub struct FieldChange {
    /// The field, e.g. `answer` or `seo.keywords`.
    pub field: String,
    /// The value before, as JSON text; null when it was null.
    pub before: Option<String>,
    /// The value after, as JSON text; null when it is null.
    pub after: Option<String>,
}

/// One change of an article: who, when, why and what.
pub struct Revision(pub revision::Model);

#[Object]
impl Revision {
    /// The article version this change produced.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The editor's token name, or `import` for the seed job.
    async fn editor(&self) -> &str {
        &self.0.editor
    }

    /// When the change was made.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The editor's note.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// Each changed field with its value before and after.
    async fn changes(&self) -> Result<Vec<FieldChange>> {
        let stored: Vec<StoredChange> = serde_json::from_str(&self.0.changes)
            .map_err(|e| Error::Internal(format!("revision {}: {e}", self.0.id)).extend())?;
        Ok(stored
            .into_iter()
            .map(|c| FieldChange {
                field: c.field,
                before: c.before,
                after: c.after,
            })
            .collect())
    }
}

/// A revision in a list, with its cursor.
#[derive(SimpleObject)]
pub struct RevisionEdge {
    /// Opaque position to page from.
    pub cursor: String,
    /// The revision.
    pub node: Revision,
}

/// A page of revisions, newest first.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct RevisionConnection {
    /// The revisions of the page with their cursors.
    pub edges: Vec<RevisionEdge>,
    /// Where the page stands in the list.
    pub page_info: PageInfo,
    /// How many revisions the article has.
    #[graphql(skip)]
    pub total_count: u64,
}

#[async_graphql::ComplexObject]
impl RevisionConnection {
    /// The revisions of the page.
    async fn nodes(&self) -> Vec<&Revision> {
        self.edges.iter().map(|e| &e.node).collect()
    }

    /// How many revisions the article has.
    async fn total_count(&self) -> i32 {
        i32::try_from(self.total_count).unwrap_or(i32::MAX)
    }
}
