//! Atomic score adjustments: concurrent ones all count.

use chrono::Utc;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, FromQueryResult, Statement,
    Value as SqlValue,
};
use serde_json::Value;

use super::article::StoredArticle;
use super::changes::{Before, ChangeKind, ChangeSink};
use super::revision::{self, FieldChange};
use super::write::{in_write_txn, live, not_found};
use crate::error::{Error, Foreign, Result, classify};

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
    sink: &ChangeSink,
    id: i64,
    delta: f64,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    if !delta.is_finite() {
        return Err(Error::bad_input("delta", "`delta` must be a finite number"));
    }
    in_write_txn(db, sink, ChangeKind::Updated, |txn| async move {
        let saved = adjust_in(&txn, id, delta, editor, note).await?;
        // A score moves no article: no read of it before is needed.
        Ok((txn, saved, Before::Unmoved))
    })
    .await
}

async fn adjust_in(
    txn: &DatabaseTransaction,
    id: i64,
    delta: f64,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
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
    .one(txn)
    .await
    .map_err(|e| {
        // PostgreSQL refuses a float overflow; SQLite yields infinity (below).
        if classify(&e) == Foreign::OutOfRange {
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
        field: "score".into(),
        before: Some(Value::from(before).to_string()),
        after: Some(Value::from(adjusted.score).to_string()),
    }];
    let row = revision::revision_row(id, adjusted.version, editor, note, &changes, now)?;
    revision::record(txn, row).await?;
    live(txn, id).await
}
