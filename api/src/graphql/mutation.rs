//! The root `Mutation` type: what editors change, behind token roles.

use async_graphql::{Context, ErrorExtensions, ID, Object, Result, ResultExt};
use sea_orm::DatabaseConnection;
use serde_json::Value;

mod input;

pub use input::{ArticleInput, NewArticleInput, SeoInput};
use input::{score_value, text};

use super::error::bad_input;
use super::query::article_id;
use super::types::Article;
use crate::fields::{Field, related_json};
use crate::service::article as article_service;
use crate::service::edit::{self, EditError, NewArticle, Submitted};
use crate::service::token::{Editor, Role};

/// The editor making the request, if the role suffices.
fn editor<'a>(ctx: &Context<'a>, needed: Role) -> Result<&'a Editor> {
    let editor = ctx.data_opt::<Editor>().ok_or_else(|| {
        async_graphql::Error::new(
            "this needs an editor token: send the header `Authorization: Bearer <token>`",
        )
        .extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
    })?;
    if !editor.role.allows(needed) {
        return Err(async_graphql::Error::new(format!(
            "token `{}` is an {}; this needs an {}",
            editor.name,
            editor.role.as_str(),
            needed.as_str()
        ))
        .extend_with(|_, e| e.set("code", "FORBIDDEN")));
    }
    Ok(editor)
}

fn db<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

/// Tells subscribers that an article changed.
fn announce(ctx: &Context<'_>, id: i64) {
    if let Ok(changes) = ctx.data::<super::subscription::Changes>() {
        changes.announce(id);
    }
}

fn edit_error(e: EditError) -> async_graphql::Error {
    match e {
        EditError::Conflict(c) => async_graphql::Error::new(format!(
            "another editor changed {} since your version; the article is at version {}: reload, reapply your change, and save again",
            c.fields.join(", "),
            c.current_version
        ))
        .extend_with(|_, e| {
            e.set("code", "CONFLICT");
            e.set("currentVersion", c.current_version);
            e.set("fields", c.fields.clone());
        }),
        EditError::Other(e) => e.extend(),
    }
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
            id,
            expected_version,
            &submitted,
            &who.name,
            note.as_deref(),
        )
        .await
        .map_err(edit_error)?;
        announce(ctx, id);
        Ok(Article(saved.model))
    }
}

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
        let saved = edit::adjust_score(db(ctx)?, id, delta, &who.name, note.as_deref())
            .await
            .extend()?;
        announce(ctx, id);
        Ok(Article(saved.model))
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
        editor(ctx, Role::Editor)?;
        let own = article_id("id", &id)?;
        let ids = related
            .iter()
            .map(|r| article_id("related", r))
            .collect::<Result<Vec<_>>>()?;
        if ids.len() > crate::fields::MAX_RELATED {
            return Err(bad_input(
                "related",
                format!(
                    "{} related articles given; at most {} are allowed",
                    ids.len(),
                    crate::fields::MAX_RELATED
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = ids.iter().find(|i| !seen.insert(**i)) {
            return Err(bad_input(
                "related",
                format!("article {dup} is listed twice"),
            ));
        }
        if ids.contains(&own) {
            return Err(bad_input(
                "related",
                format!("article {own} cannot be related to itself"),
            ));
        }
        let current = article_service::load(db(ctx)?, own)
            .await
            .extend()?
            .filter(|s| !s.is_deleted())
            .ok_or_else(|| {
                crate::error::Error::NotFound(format!("no article with id {own}")).extend()
            })?;
        let links = edit::links_for(db(ctx)?, own, &current.fields.related, &ids)
            .await
            .extend()?;
        Self::merge(
            ctx,
            &id,
            expected_version,
            vec![(Field::Related, related_json(&links))],
            note,
        )
        .await
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
        let saved = edit::create(db(ctx)?, new, &who.name, note.as_deref())
            .await
            .extend()?;
        announce(ctx, saved.model.id);
        Ok(Article(saved.model))
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
        article_service::delete(db(ctx)?, article, &who.name, note.as_deref())
            .await
            .extend()?;
        announce(ctx, article);
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
        let saved = article_service::restore(db(ctx)?, article, &who.name, note.as_deref())
            .await
            .extend()?;
        announce(ctx, article);
        Ok(Article(saved.model))
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
        editor(ctx, Role::Editor)?;
        let article = article_id("id", &id)?;
        let submitted = edit::submitted_at_version(db(ctx)?, article, to_version)
            .await
            .map_err(edit_error)?;
        let note = note.or_else(|| Some(format!("revert to version {to_version}")));
        Self::merge(ctx, &id, expected_version, submitted, note).await
    }
}
