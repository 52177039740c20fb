//! Revisions: what each change did to an article, field by field.

use chrono::{DateTime, Utc};
use entity::revision;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::fields::ArticleFields;

/// Editor name recorded for changes made by the seed import.
pub const IMPORT_EDITOR: &str = "import";

/// One field's value before and after a change, as JSON text (`None`: null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The GraphQL name of the field (`answer`, `seo.keywords`, `deleted`).
    pub field: String,
    /// JSON text of the value before; `None` when it was null.
    pub before: Option<String>,
    /// JSON text of the value after; `None` when it is null.
    pub after: Option<String>,
}

fn json(v: Value) -> Option<String> {
    (!v.is_null()).then(|| v.to_string())
}

/// Related links as a revision stores them.
pub fn related_json(links: &[crate::fields::Link]) -> Value {
    links
        .iter()
        .map(|l| {
            serde_json::json!({
                "position": l.position, "id": l.id, "title": l.title, "subject": l.subject, "url": l.url,
            })
        })
        .collect::<Vec<_>>()
        .into()
}

/// Each field of `a` with its GraphQL name, as JSON.
pub fn field_values(a: &ArticleFields) -> Vec<(&'static str, Value)> {
    vec![
        ("title", a.title.clone().into()),
        ("articleTitle", a.article_title.clone().into()),
        ("question", a.question.clone().into()),
        ("answer", a.answer.clone().into()),
        ("subject", a.subject.clone().into()),
        ("slug", a.slug.clone().into()),
        ("url", a.url.clone().into()),
        ("fileName", a.file_name.clone().into()),
        ("template", a.template.clone().into()),
        ("date", a.date.map(|d| d.to_string()).into()),
        ("dateFormat", a.date_format.clone().into()),
        ("postOnText", a.post_on_text.clone().into()),
        ("author", a.author.clone().into()),
        ("seo.title", a.seo.title.clone().into()),
        ("seo.description", a.seo.description.clone().into()),
        ("seo.keywords", a.seo.keywords.clone().into()),
        ("score", a.score.into()),
        ("related", related_json(&a.related)),
        ("body", a.body.clone().into()),
    ]
}

/// Sets field `field` of `a` from its JSON value (as [`field_values`] gives
/// it). `url` also sets the slugs it carries; `deleted` is not a value and
/// is ignored.
pub fn set_field(a: &mut ArticleFields, field: &str, value: &Value) -> Result<()> {
    let bad = || {
        Error::Internal(format!(
            "revision value of `{field}` cannot be read: {value}"
        ))
    };
    let text = || value.as_str().map(str::to_owned).ok_or_else(bad);
    let opt_text = || match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(bad()),
    };
    match field {
        "title" => a.title = text()?,
        "articleTitle" => a.article_title = text()?,
        "question" => a.question = text()?,
        "answer" => a.answer = text()?,
        "subject" => a.subject = text()?,
        "slug" => a.slug = text()?,
        "url" => {
            a.url = text()?;
            if let Some((subject, slug)) = crate::fields::parse_article_url(&a.url) {
                (a.subject_slug, a.slug) = (subject.to_owned(), slug.to_owned());
            }
        }
        "fileName" => a.file_name = text()?,
        "template" => a.template = text()?,
        "date" => {
            a.date = opt_text()?
                .map(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| bad()))
                .transpose()?;
        }
        "dateFormat" => a.date_format = text()?,
        "postOnText" => a.post_on_text = text()?,
        "author" => a.author = opt_text()?,
        "seo.title" => a.seo.title = opt_text()?,
        "seo.description" => a.seo.description = opt_text()?,
        "seo.keywords" => {
            a.seo.keywords = serde_json::from_value(value.clone()).map_err(|_| bad())?
        }
        "score" => a.score = value.as_f64(),
        "body" => a.body = text()?,
        "related" => {
            #[derive(Deserialize)]
            struct StoredLink {
                position: Option<i32>,
                id: i64,
                title: String,
                subject: String,
                url: String,
            }
            let links: Vec<StoredLink> =
                serde_json::from_value(value.clone()).map_err(|_| bad())?;
            a.related = links
                .into_iter()
                .zip(1..)
                .map(|(l, index)| crate::fields::Link {
                    position: l.position.unwrap_or(index),
                    id: l.id,
                    subject_slug: crate::fields::parse_article_url(&l.url)
                        .map(|(s, _)| s.to_owned())
                        .unwrap_or_default(),
                    title: l.title,
                    subject: l.subject,
                    url: l.url,
                })
                .collect();
        }
        _ => {}
    }
    Ok(())
}

/// The fields that differ between two states of an article.
pub fn diff(before: &ArticleFields, after: &ArticleFields) -> Vec<FieldChange> {
    field_values(before)
        .into_iter()
        .zip(field_values(after))
        .filter(|((_, b), (_, a))| b != a)
        .map(|((field, b), (_, a))| FieldChange {
            field: field.to_owned(),
            before: json(b),
            after: json(a),
        })
        .collect()
}

/// The change of the tombstone, as a [`FieldChange`] named `deleted`.
pub fn deletion_change(before: bool, after: bool) -> FieldChange {
    FieldChange {
        field: "deleted".to_owned(),
        before: Some(before.to_string()),
        after: Some(after.to_string()),
    }
}

/// A revision row for `version` of article `article_id`.
pub fn revision_row(
    article_id: i64,
    version: i32,
    editor: &str,
    note: Option<&str>,
    changes: &[FieldChange],
    at: DateTime<Utc>,
) -> Result<revision::ActiveModel> {
    let changes = serde_json::to_string(changes).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(revision::ActiveModel {
        article_id: Set(article_id),
        version: Set(version),
        editor: Set(editor.to_owned()),
        at: Set(at),
        note: Set(note.map(str::to_owned)),
        changes: Set(changes),
        ..Default::default()
    })
}

/// Records one revision.
pub async fn record(db: &impl ConnectionTrait, row: revision::ActiveModel) -> Result<()> {
    revision::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}
