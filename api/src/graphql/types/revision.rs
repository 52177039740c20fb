//! `Revision`: one change of an article, for its history.

use async_graphql::{ErrorExtensions, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::revision;

use crate::error::Error;
use crate::service::revision::FieldChange as StoredChange;

/// One field's change in a revision.
#[derive(SimpleObject)]
pub struct FieldChange {
    /// The field, e.g. `answer` or `seo.keywords`.
    pub field: String,
    /// The value before, as JSON text; null when it was null.
    pub before: Option<String>,
    /// The value after, as JSON text; null when it is null.
    pub after: Option<String>,
}

/// One change of an article: who, when, why and what.
pub struct Revision(pub revision::Model);

/// One change of an article: who, when, why and which fields. It has no
/// `id`: it is identified by its article and `version`, so client caches
/// keep it inside the article's history.
#[Object]
impl Revision {
    /// The article version this change produced.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The editor's token name, or `import` for the seed job.
    async fn editor(&self) -> &str {
        &self.0.editor
    }

    /// When the change was made.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The editor's note.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// Each changed field with its value before and after.
    async fn changes(&self) -> Result<Vec<FieldChange>> {
        let stored: Vec<StoredChange> = serde_json::from_str(&self.0.changes)
            .map_err(|e| Error::Internal(format!("revision {}: {e}", self.0.id)).extend())?;
        Ok(stored
            .into_iter()
            .map(|c| FieldChange {
                field: c.field,
                before: c.before,
                after: c.after,
            })
            .collect())
    }
}
