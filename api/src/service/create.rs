//! Creating an article: version 1 with its first revision.

use chrono::Utc;
use entity::article;
use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, FromQueryResult};

use super::article::{
    DerivedText, NewArticleRow, OnTaken, StoredArticle, insert_articles, wanted_subjects,
};
use super::changes::{Before, ChangeKind, ChangeSink};
use super::edit::{check, slugify, subject_slug_for};
use super::related::{check_related_ids, links_for};
use super::revision;
use super::write::{in_write_txn, live};
use crate::error::{Error, Result};
use crate::fields::{ArticleFields, Field, article_url};

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
    sink: &ChangeSink,
    new: NewArticle,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    let new = &new;
    in_write_txn(db, sink, ChangeKind::Created, |txn| async move {
        let saved = create_in(&txn, new.clone(), editor, note).await?;
        Ok((txn, saved, Before::Absent))
    })
    .await
}

async fn create_in(
    txn: &DatabaseTransaction,
    new: NewArticle,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    use crate::fields::DEFAULT_BODY;
    use crate::fields::table::fill_defaults;
    use sea_orm::QuerySelect;

    let id = match new.id {
        Some(id) => {
            if article::Entity::find_by_id(id).one(txn).await?.is_some() {
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
                .one(txn)
                .await?
                .and_then(|m| m.max_id)
                .unwrap_or(0);
            max + 1
        }
    };
    let subject_slug = subject_slug_for(txn, &new.subject).await?;
    let slug = new.slug.unwrap_or_else(|| slugify(&new.title));
    check_related_ids(id, &new.related)?;
    let related = links_for(txn, &[], &new.related).await?;
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
    check(txn, &fields).await?;
    let now = Utc::now();
    let wanted: Vec<_> = wanted_subjects(&fields).collect();
    let subject_ids = super::subject::ensure_subjects(txn, &wanted, now).await?;
    let row = NewArticleRow {
        fields: &fields,
        derived: &DerivedText::of(&fields.answer),
        source: None,
        editor,
        note,
        changes: &revision::creation_changes(&fields),
    };
    insert_articles(txn, &[row], &subject_ids, OnTaken::Fail, now).await?;
    live(txn, id).await
}
