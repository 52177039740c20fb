//! `Article`, its SEO metadata and its related links.

use std::sync::Arc;

use async_graphql::connection::EmptyFields;
use async_graphql::{Context, ID, Result, ResultExt, SimpleObject};
use chrono::{DateTime, Utc};
use entity::article;

use super::{
    ArticleConnection, Date, Revision, RevisionConnection, Subject, Total, database, loaders,
    shows, subject_of,
};
use crate::graphql::error::{bad_input, forbidden};
use crate::graphql::loaders::{LinksKey, loader_error};
use crate::graphql::pagination::PageArgs;
use crate::preview::PreviewLinks;
use crate::render;
use crate::service::history;
use crate::service::listing::{ArticleFilter, ArticleOrder};
use crate::service::lookup::{Link, Texts};
use crate::service::token::Editor;
use crate::surrogate::Key;

/// An article: one question answered in markdown. Shared, not copied: a
/// link target's row is handed to every field that reads it.
pub struct Article(Arc<article::Model>);

impl Article {
    /// `model` as the response shows it, recorded in its surrogate keys:
    /// the way an `Article` is made for a response a cache may keep, so no
    /// such response shows an article its keys do not name.
    pub fn shown(ctx: &Context<'_>, model: impl Into<Arc<article::Model>>) -> Self {
        let model = model.into();
        shows(ctx, Key::Article(model.id));
        Self(model)
    }

    /// `model` as a subscription event shows it: no cache keeps an event,
    /// so it has no surrogate keys to record.
    pub fn in_event(model: article::Model) -> Self {
        Self(Arc::new(model))
    }
}

/// The long text columns the fields a document names can read: `answer`
/// reads `answer`, `answerHtml` `answer_html`, `excerpt` `answer_text`.
/// A field named anywhere in the document (any selection, fragment, even a
/// comment) loads its column for the whole request, so no path through the
/// document can meet an article read without it. Keep it beside the
/// resolvers that read those columns.
pub fn texts_named_in(document: &str) -> Texts {
    let mut texts = Texts {
        details: true,
        ..Texts::NONE
    };
    for word in document.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if let Some((_, read)) = TEXT_FIELDS.iter().find(|(field, _)| *field == word) {
            read(&mut texts);
        }
    }
    texts
}

/// Marks one text column as read.
type ReadsText = fn(&mut Texts);

/// The `Article` fields that read a long text column, each with the
/// column it reads. Keep it beside the resolvers that read them.
const TEXT_FIELDS: [(&str, ReadsText); 3] = [
    ("answer", |t| t.answer = true),
    ("answerHtml", |t| t.answer_html = true),
    ("excerpt", |t| t.answer_text = true),
];

/// The `Article` fields that read only an article's card columns (see
/// [`Texts::details`]) or its texts: a selection of only these reads no
/// other metadata. Keep it beside the resolvers it describes.
pub const CARD_FIELDS: [&str; 14] = [
    "__typename",
    "id",
    "slug",
    "url",
    "fileName",
    "title",
    "articleTitle",
    "question",
    "subject",
    "answer",
    "answerHtml",
    "excerpt",
    "related",
    "relatedFrom",
];

/// The costly columns the link targets under `related` (the Lookahead of
/// one or more `related` fields) read: the texts [`texts_named_in`] would,
/// but only where they are selected on the targets, and the details only
/// when a field beyond the card is, through fragments too. A page's targets
/// are most of its rows, and most pages ask only their titles.
pub fn target_texts(related: &async_graphql::Lookahead<'_>) -> Texts {
    let target = related.field("article");
    let details = target.selection_fields().iter().any(|article| {
        article
            .selection_set()
            .any(|field| !CARD_FIELDS.contains(&field.name()))
    });
    let mut texts = Texts {
        details,
        ..Texts::NONE
    };
    for (field, read) in TEXT_FIELDS {
        if target.field(field).exists() {
            read(&mut texts);
        }
    }
    texts
}

/// An article: one question answered in markdown, filed under a subject,
/// with SEO metadata and ordered links to related articles. `id` is unique
/// among articles and never changes; `version` counts its changes.
#[async_graphql::Object]
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
    async fn related(&self, ctx: &Context<'_>) -> Result<Vec<RelatedArticle>> {
        let targets = target_texts(&ctx.look_ahead());
        Ok(loaders(ctx)?
            .links
            .load_one(LinksKey {
                article: self.0.id,
                targets,
            })
            .await
            .map_err(loader_error)?
            .map(|links| {
                links
                    .iter()
                    .map(|link| {
                        // A link shows its target's title and url, and a
                        // dangling one becomes live when its target is made.
                        shows(ctx, Key::Article(link.link.target_id));
                        RelatedArticle(link.clone())
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Live articles that link to this one, by id.
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

    /// A link to this article's reader page (`/learn/…`) showing `version`,
    /// for an editor to see a version readers do not (an older one), or the
    /// current one, in a browser, which sends no token: the link carries
    /// its own signature and works for 30 minutes. Absolute when the server
    /// has a `--public-base-url`. Editors only: `FORBIDDEN` without a token.
    async fn preview_url(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The version to show, from 1 to the article's `version`; null means the current one."
        )]
        version: Option<i32>,
    ) -> Result<String> {
        if ctx.data_opt::<Editor>().is_none() {
            return Err(forbidden(
                "preview links are for editors: send an editor or admin token as `Authorization: Bearer <token>`",
            ));
        }
        let current = self.0.version;
        let version = version.unwrap_or(current);
        if !(1..=current).contains(&version) {
            return Err(bad_input(
                "version",
                format!(
                    "the article has versions 1 to {current}; `version` {version} is not one of them"
                ),
            ));
        }
        let links = ctx.data::<PreviewLinks>()?;
        Ok(links.signed(&self.0.url, self.0.id, version, Utc::now()))
    }

    /// The revision history, newest first. Editors only: it names editors
    /// and keeps removed text, so a request without a token gets `FORBIDDEN`.
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
        let total = history::count(db, self.0.id).await.extend()?;
        let window = args.window(|| async { Ok(total) }).await?;
        let rows = history::page(db, self.0.id, window.offset, window.limit)
            .await
            .extend()?;
        let more = window.offset + (rows.len() as u64) < total;
        let items = rows
            .into_iter()
            .map(|r| (Revision(r), EmptyFields))
            .collect();
        Ok(RevisionConnection::new(
            window,
            items,
            more,
            Total::Known(total),
        ))
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

/// A link from an article to a related one (see the GraphQL description),
/// read with its live target.
pub struct RelatedArticle(pub Link);

impl RelatedArticle {
    fn target(&self) -> Option<&Arc<article::Model>> {
        self.0.target.as_ref()
    }
}

/// A link from an article to a related one, which need not be loaded yet.
/// It has no `id` of its own, so client caches keep it inside its article.
#[async_graphql::Object]
impl RelatedArticle {
    /// 1-based position among the article's links.
    async fn position(&self) -> i32 {
        self.0.link.position
    }

    /// The id of the article the link points at. Named `targetId`, not
    /// `id`, because two articles can link to the same target at different
    /// positions: a link is identified by its article and position, and
    /// client caches that normalize by `id` would merge the two links.
    async fn target_id(&self) -> ID {
        ID(self.0.link.target_id.to_string())
    }

    /// The target's title when it is loaded, else the link's copy.
    async fn title(&self) -> &str {
        self.target().map_or(&self.0.link.title, |a| &a.title)
    }

    /// The target's url when it is loaded, else the link's copy.
    async fn url(&self) -> &str {
        self.target().map_or(&self.0.link.url, |a| &a.url)
    }

    /// The target's subject when it is loaded, else the one the link names.
    async fn subject(&self, ctx: &Context<'_>) -> Result<Subject> {
        let id = self
            .target()
            .map_or(self.0.link.subject_id, |a| a.subject_id);
        subject_of(ctx, id).await
    }

    /// The target article; null while it is not loaded (or deleted).
    async fn article(&self, ctx: &Context<'_>) -> Option<Article> {
        self.target()
            .cloned()
            .map(|target| Article::shown(ctx, target))
    }
}
