//! Creating an article: version 1 with its first revision.

use chrono::Utc;
use entity::article;
use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, FromQueryResult};

use super::article::StoredArticle;
use super::changes::ChangeSink;
use super::edit::{check, slugify, subject_slug_for};
use super::related::{check_related_ids, links_for};
use super::revision::{self, FieldChange, field_values};
use super::write::{in_write_txn, live};
use crate::error::{Error, Result};
use crate::fields::{ArticleFields, article_url};

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
    in_write_txn(db, sink, |txn| async move {
        let saved = create_in(&txn, new.clone(), editor, note).await?;
        Ok((txn, saved))
    })
    .await
}

async fn create_in(
    txn: &DatabaseTransaction,
    new: NewArticle,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    use crate::fields::{
        DEFAULT_BODY, DEFAULT_DATE_FORMAT, DEFAULT_POST_ON_TEXT, DEFAULT_TEMPLATE,
        default_file_name,
    };
    use sea_orm::ActiveValue::Set;
    use sea_orm::QuerySelect;

    let id = match new.id {
        Some(id) => {
            if article::Entity::find_by_id(id).one(txn).await?.is_some() {
                return Err(Error::bad_input(
                    "id",
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
    let fields = ArticleFields {
        id,
        article_title: new.title.clone(),
        title: new.title,
        question: new.question,
        answer: new.answer,
        subject: new.subject,
        url: article_url(&subject_slug, &slug),
        file_name: default_file_name(&slug),
        subject_slug,
        slug,
        template: DEFAULT_TEMPLATE.to_owned(),
        date: new.date,
        date_format: DEFAULT_DATE_FORMAT.to_owned(),
        post_on_text: DEFAULT_POST_ON_TEXT.to_owned(),
        author: new.author,
        seo: new.seo,
        score: new.score,
        related,
        body: DEFAULT_BODY.to_owned(),
    };
    check(txn, &fields).await?;
    let now = Utc::now();
    let wanted: Vec<_> = super::article::wanted_subjects(&fields).collect();
    let subject_ids = super::subject::ensure_subjects(txn, &wanted, now).await?;
    let subject_id = *subject_ids
        .get(&fields.subject_slug)
        .ok_or_else(|| Error::Internal("subject was not created".into()))?;
    let mut am = article::ActiveModel {
        id: Set(id),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        source_text: Set(None),
        source_hash: Set(None),
        source_path: Set(None),
        imported_version: Set(None),
        ..Default::default()
    };
    let derived = super::article::DerivedText::of(&fields.answer);
    super::article::set_values(&mut am, &fields, subject_id, &derived);
    article::Entity::insert(am)
        .exec_without_returning(txn)
        .await?;
    let links = super::article::link_rows(id, &fields.related, &subject_ids)?;
    if !links.is_empty() {
        entity::article_link::Entity::insert_many(links)
            .exec_without_returning(txn)
            .await?;
    }
    let changes: Vec<FieldChange> = field_values(&fields)
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(field, v)| FieldChange {
            field: field.to_owned(),
            before: None,
            after: Some(v.to_string()),
        })
        .collect();
    let row = revision::revision_row(id, 1, editor, note, &changes, now)?;
    revision::record(txn, row).await?;
    live(txn, id).await
}
