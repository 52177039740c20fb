//! `createArticle`: a new article from an editor's description, written by
//! the insert the import uses too.

use chrono::Utc;
use entity::article;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QuerySelect};

use super::{check, links_for, live, slugify, subject_slug_for};
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::fields::{ArticleFields, Field, article_url};
use crate::service::article::{
    DerivedText, NewArticleRow, OnTaken, StoredArticle, insert_articles, wanted_subjects,
};
use crate::service::revision;

/// A new article as an editor describes it.
#[derive(Debug, Clone, Default)]
pub struct NewArticle {
    /// Id; the largest id + 1 when absent.
    pub id: Option<i64>,
    /// Display title.
    pub title: String,
    /// The question answered.
    pub question: String,
    /// Markdown answer.
    pub answer: String,
    /// Subject name.
    pub subject: String,
    /// Slug; made from the title when absent.
    pub slug: Option<String>,
    /// Publication date.
    pub date: Option<chrono::NaiveDate>,
    /// Author name.
    pub author: Option<String>,
    /// Score; `None` for unscored.
    pub score: Option<f64>,
    /// SEO metadata.
    pub seo: crate::fields::Seo,
    /// Ids of related articles (loaded ones).
    pub related: Vec<i64>,
}

#[derive(Debug, FromQueryResult)]
struct MaxId {
    max_id: Option<i64>,
}

/// Creates an article with version 1 and its first revision.
pub async fn create(
    db: &DatabaseConnection,
    new: NewArticle,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    use crate::fields::DEFAULT_BODY;
    use crate::fields::table::fill_defaults;

    let txn = begin_write(db).await?;
    let id = match new.id {
        Some(id) => {
            if article::Entity::find_by_id(id).one(&txn).await?.is_some() {
                return Err(Error::bad_input(
                    Field::Id.graphql(),
                    format!("id {id} is already used by another article"),
                ));
            }
            id
        }
        None => {
            let max = article::Entity::find()
                .select_only()
                .column_as(article::Column::Id.max(), "max_id")
                .into_model::<MaxId>()
                .one(&txn)
                .await?
                .and_then(|m| m.max_id)
                .unwrap_or(0);
            max + 1
        }
    };
    let subject_slug = subject_slug_for(&txn, &new.subject).await?;
    let slug = new.slug.unwrap_or_else(|| slugify(&new.title));
    let related = links_for(&txn, id, &[], &new.related).await?;
    let mut fields = ArticleFields {
        id,
        title: new.title,
        question: new.question,
        answer: new.answer,
        subject: new.subject,
        url: article_url(&subject_slug, &slug),
        subject_slug,
        slug,
        date: new.date,
        author: new.author,
        seo: new.seo,
        score: new.score,
        related,
        body: DEFAULT_BODY.to_owned(),
        ..ArticleFields::default()
    };
    // The rest as a seed that omits their keys has them.
    fill_defaults(&mut fields)
        .ok_or_else(|| Error::Internal("a field default has the wrong shape".into()))?;
    check(&txn, &fields).await?;
    let now = Utc::now();
    let wanted: Vec<_> = wanted_subjects(&fields).collect();
    let subject_ids = crate::service::subject::ensure_subjects(&txn, &wanted, now).await?;
    let row = NewArticleRow {
        fields: &fields,
        derived: &DerivedText::of(&fields.answer),
        source: None,
        editor,
        note,
        changes: &revision::creation_changes(&fields),
    };
    insert_articles(&txn, &[row], &subject_ids, OnTaken::Fail, now).await?;
    let saved = live(&txn, id).await?;
    txn.commit().await?;
    Ok(saved)
}
