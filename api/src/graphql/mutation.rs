//! The root `Mutation` type: what editors change, behind token roles.

use async_graphql::{Context, ErrorExtensions, ID, Object, Result, ResultExt};
use sea_orm::DatabaseConnection;
use serde_json::Value;

mod input;

pub use input::{ArticleInput, NewArticleInput, SeoInput};
use input::{score_value, text};

use super::query::article_id;
use super::types::Article;
use crate::error::Error;
use crate::fields::Field;
use crate::service::article as article_service;
use crate::service::changes::ChangeSink;
use crate::service::create::{self, NewArticle};
use crate::service::edit::{self, Submitted};
use crate::service::token::{Editor, Role};
use crate::service::{related, score};

/// The editor making the request, if the role suffices.
fn editor<'a>(ctx: &Context<'a>, needed: Role) -> Result<&'a Editor> {
    let editor = ctx.data_opt::<Editor>().ok_or_else(|| {
        Error::Unauthenticated(
            "this needs an editor token: send the header `Authorization: Bearer <token>`".into(),
        )
        .extend()
    })?;
    if !editor.role.allows(needed) {
        return Err(Error::Forbidden(format!(
            "token `{}` is an {}; this needs an {}",
            editor.name,
            editor.role.as_str(),
            needed.as_str()
        ))
        .extend());
    }
    Ok(editor)
}

fn db<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

/// Where the changes are announced once committed.
fn sink<'a>(ctx: &Context<'a>) -> Result<&'a ChangeSink> {
    ctx.data::<ChangeSink>()
}

/// What editors change. Every mutation writes a revision and bumps `version`.
pub struct Mutation;

impl Mutation {
    async fn merge(
        ctx: &Context<'_>,
        id: &ID,
        expected_version: i32,
        submitted: Submitted,
        note: Option<String>,
    ) -> Result<Article> {
        let who = editor(ctx, Role::Editor)?;
        let id = article_id("id", id)?;
        let saved = edit::merge_edit(
            db(ctx)?,
            sink(ctx)?,
            id,
            expected_version,
            &submitted,
            &who.name,
            note.as_deref(),
        )
        .await
        .extend()?;
        Ok(Article::shown(ctx, saved.model))
    }
}

/// What editors change, with a token sent as `Authorization: Bearer <token>`.
/// Every mutation writes a revision and bumps `version`; edits pass the
/// `expectedVersion` they were made from.
#[Object]
impl Mutation {
    /// Replaces the answer (markdown). Refused with `CONFLICT` only when
    /// someone changed the answer after `expectedVersion`.
    async fn update_answer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id.")] id: ID,
        #[graphql(desc = "The new answer, markdown, at most 100,000 characters.")] answer: String,
        #[graphql(desc = "The version the answer was edited from.")] expected_version: i32,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<Article> {
        Self::merge(
            ctx,
            &id,
            expected_version,
            vec![(Field::Answer, text(&answer))],
            note,
        )
        .await
    }

    /// Changes the given fields, merged with changes made since `expectedVersion`.
    async fn update_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id.")] id: ID,
        #[graphql(
            desc = "The fields to change; fields equal to their value at `expectedVersion` are left as they are now."
        )]
        input: ArticleInput,
        #[graphql(desc = "The version the form was filled from.")] expected_version: i32,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<Article> {
        Self::merge(ctx, &id, expected_version, input.submitted(), note).await
    }

    /// Sets the score; null (or -1) makes the article unscored.
    async fn set_score(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id.")] id: ID,
        #[graphql(desc = "The new score, a finite number; null for unscored.")] score: Option<f64>,
        #[graphql(desc = "The version the score was read at.")] expected_version: i32,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<Article> {
        let value = score_value("score", score)?;
        Self::merge(
            ctx,
            &id,
            expected_version,
            vec![(Field::Score, value)],
            note,
        )
        .await
    }

    /// Adds `delta` to the score atomically (an unscored article starts from 0):
    /// concurrent adjustments all count.
    async fn adjust_score(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id.")] id: ID,
        #[graphql(desc = "How much to add (negative to subtract).")] delta: f64,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<Article> {
        let who = editor(ctx, Role::Editor)?;
        let id = article_id("id", &id)?;
        let saved =
            score::adjust_score(db(ctx)?, sink(ctx)?, id, delta, &who.name, note.as_deref())
                .await
                .extend()?;
        Ok(Article::shown(ctx, saved.model))
    }

    /// Replaces the related links, in order: ids of loaded articles, or ids
    /// already linked (their stored copy is kept). At most 10, no duplicates,
    /// not the article itself.
    async fn set_related(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id.")] id: ID,
        #[graphql(desc = "The related article ids, in order.")] related: Vec<ID>,
        #[graphql(desc = "The version the links were read at.")] expected_version: i32,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<Article> {
        let who = editor(ctx, Role::Editor)?;
        let own = article_id("id", &id)?;
        let ids = related
            .iter()
            .map(|r| article_id("related", r))
            .collect::<Result<Vec<_>>>()?;
        let saved = related::set_related(
            db(ctx)?,
            sink(ctx)?,
            own,
            &ids,
            expected_version,
            &who.name,
            note.as_deref(),
        )
        .await
        .extend()?;
        Ok(Article::shown(ctx, saved.model))
    }

    /// Creates an article (version 1).
    async fn create_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new article.")] input: NewArticleInput,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<Article> {
        let who = editor(ctx, Role::Editor)?;
        let mut seo = crate::fields::Seo::default();
        if let Some(s) = &input.seo {
            seo.title = s.title.value().cloned();
            seo.description = s.description.value().cloned();
            seo.keywords = s
                .keywords
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .collect();
        }
        let new = NewArticle {
            id: input
                .id
                .as_ref()
                .map(|i| article_id("input.id", i))
                .transpose()?,
            title: input.title,
            question: input.question,
            answer: input.answer,
            subject: input.subject,
            slug: input.slug,
            date: input.date.map(|d| d.0),
            author: input.author,
            score: match score_value("input.score", input.score)? {
                Value::Null => None,
                v => v.as_f64(),
            },
            seo,
            related: input
                .related
                .unwrap_or_default()
                .iter()
                .map(|r| article_id("input.related", r))
                .collect::<Result<Vec<_>>>()?,
        };
        let saved = create::create(db(ctx)?, sink(ctx)?, new, &who.name, note.as_deref())
            .await
            .extend()?;
        Ok(Article::shown(ctx, saved.model))
    }

    /// Deletes an article (admin): a tombstone, reversible with `restoreArticle`.
    async fn delete_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id.")] id: ID,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<ID> {
        let who = editor(ctx, Role::Admin)?;
        let article = article_id("id", &id)?;
        article_service::delete(db(ctx)?, sink(ctx)?, article, &who.name, note.as_deref())
            .await
            .extend()?;
        Ok(id)
    }

    /// Restores a deleted article (admin).
    async fn restore_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id.")] id: ID,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<Article> {
        let who = editor(ctx, Role::Admin)?;
        let article = article_id("id", &id)?;
        let saved =
            article_service::restore(db(ctx)?, sink(ctx)?, article, &who.name, note.as_deref())
                .await
                .extend()?;
        Ok(Article::shown(ctx, saved.model))
    }

    /// Brings back the values of `toVersion` as a new revision, merged like
    /// any edit against `expectedVersion`.
    async fn revert_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's id.")] id: ID,
        #[graphql(desc = "The version whose values to bring back.")] to_version: i32,
        #[graphql(desc = "The version the revert was decided at.")] expected_version: i32,
        #[graphql(desc = "Why, for the revision history.")] note: Option<String>,
    ) -> Result<Article> {
        let who = editor(ctx, Role::Editor)?;
        let article = article_id("id", &id)?;
        let saved = edit::revert(
            db(ctx)?,
            sink(ctx)?,
            article,
            to_version,
            expected_version,
            &who.name,
            note.as_deref(),
        )
        .await
        .extend()?;
        Ok(Article::shown(ctx, saved.model))
    }
}
