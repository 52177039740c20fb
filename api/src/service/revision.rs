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

/// Each field of `a` with its GraphQL name, as JSON.
fn field_values(a: &ArticleFields) -> Vec<(&'static str, Value)> {
    let related: Vec<Value> = a
        .related
        .iter()
        .map(|l| {
            serde_json::json!({"id": l.id, "title": l.title, "subject": l.subject, "url": l.url})
        })
        .collect();
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
        ("related", related.into()),
        ("body", a.body.clone().into()),
    ]
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
