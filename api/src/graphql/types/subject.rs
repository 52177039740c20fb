//! `Subject` and the orders of its article lists.

use async_graphql::{Context, Enum, ID, Object, Result};

use super::{ArticleConnection, loaders, shows};
use crate::graphql::loaders::loader_error;
use crate::graphql::pagination::PageArgs;
use crate::service::listing::{ArticleFilter, ArticleOrder};
use crate::surrogate::Key;

/// A subject articles are filed under.
pub struct Subject(entity::subject::Model);

impl Subject {
    /// `model` as the response shows it, recorded in its surrogate keys.
    pub fn shown(ctx: &Context<'_>, model: entity::subject::Model) -> Self {
        shows(ctx, Key::Subject(model.id));
        Self(model)
    }
}

/// A subject articles are filed under, e.g. `Medicine`; `id` is unique
/// among subjects, `slug` is the url segment of its articles.
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
        shows(ctx, Key::SubjectArticles(self.0.id));
        // One grouped count for every subject of the response.
        let n = loaders(ctx)?
            .article_counts
            .load_one(self.0.id)
            .await
            .map_err(loader_error)?
            .unwrap_or(0);
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// The subject's live articles.
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
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
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
