//! The atomic score adjustment: one statement, so concurrent adjustments all count.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement, Value as SqlValue};
use serde_json::Value;

use super::{live, not_found};
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::fields::Field;
use crate::service::article::StoredArticle;
use crate::service::revision::{self, FieldChange};

fn overflow() -> Error {
    Error::bad_input("delta", "the score would no longer be a finite number")
}

#[derive(Debug, FromQueryResult)]
struct Adjusted {
    score: f64,
    version: i32,
}

/// Adds `delta` to the score in one atomic statement (an unscored article
/// starts from 0), with its revision.
pub async fn adjust_score(
    db: &DatabaseConnection,
    id: i64,
    delta: f64,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    if !delta.is_finite() {
        return Err(Error::bad_input("delta", "`delta` must be a finite number"));
    }
    let txn = begin_write(db).await?;
    let backend = txn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "UPDATE article SET score = COALESCE(score, 0) + $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND deleted_at IS NULL RETURNING score, version"
        }
        _ => {
            "UPDATE article SET score = COALESCE(score, 0) + ?1, version = version + 1, updated_at = ?2 \
             WHERE id = ?3 AND deleted_at IS NULL RETURNING score, version"
        }
    };
    let now = Utc::now();
    let adjusted = Adjusted::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [
            SqlValue::from(delta),
            SqlValue::from(now),
            SqlValue::from(id),
        ],
    ))
    .one(&txn)
    .await
    .map_err(|e| {
        // PostgreSQL refuses a float overflow; SQLite yields infinity (below).
        if e.to_string().contains("out of range") {
            overflow()
        } else {
            e.into()
        }
    })?
    .ok_or_else(|| not_found(id))?;
    if !adjusted.score.is_finite() {
        return Err(overflow());
    }
    let before = adjusted.score - delta;
    let changes = [FieldChange {
        field: Field::Score.graphql().into(),
        before: Some(Value::from(before).to_string()),
        after: Some(Value::from(adjusted.score).to_string()),
    }];
    let row = revision::revision_row(id, adjusted.version, editor, note, &changes, now)?;
    revision::record(&txn, row).await?;
    let saved = live(&txn, id).await?;
    txn.commit().await?;
    Ok(saved)
}
