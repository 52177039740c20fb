//! Revisions: what each change did to an article, field by field.

use chrono::{DateTime, Utc};
use entity::revision;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::fields::{ArticleFields, Field};

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

/// Every field revisions record, with its value in `a` as JSON.
pub fn field_values(a: &ArticleFields) -> Vec<(Field, Value)> {
    Field::ALL
        .into_iter()
        .filter(|f| f.is_revised())
        .map(|f| (f, f.get(a)))
        .collect()
}

/// Sets `field` of `a` from its JSON value (as [`field_values`] gives it).
pub fn set_field(a: &mut ArticleFields, field: Field, value: &Value) -> Result<()> {
    field.set(a, value).ok_or_else(|| {
        Error::Internal(format!(
            "revision value of `{}` cannot be read: {value}",
            field.graphql()
        ))
    })
}

/// The fields that differ between two states of an article.
pub fn diff(before: &ArticleFields, after: &ArticleFields) -> Vec<FieldChange> {
    field_values(before)
        .into_iter()
        .zip(field_values(after))
        .filter(|((_, b), (_, a))| b != a)
        .map(|((field, b), (_, a))| FieldChange {
            field: field.graphql().to_owned(),
            before: json(b),
            after: json(a),
        })
        .collect()
}

/// The changes that create `a`: every value that is not null.
pub fn creation_changes(a: &ArticleFields) -> Vec<FieldChange> {
    field_values(a)
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(field, v)| FieldChange {
            field: field.graphql().to_owned(),
            before: None,
            after: Some(v.to_string()),
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
