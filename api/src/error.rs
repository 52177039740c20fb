//! The one error type of quicktakes: user errors carry a code and a precise
//! message; internal ones are logged with their cause and shown masked.

use sea_orm::{DbErr, SqlErr};

/// Everything that can go wrong in a service call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The article (or other thing) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A value the user gave breaks a rule; `field` names it.
    #[error("{message}")]
    BadInput {
        /// The offending field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The database was locked by another writer for longer than the busy timeout.
    #[error("the database is busy with another write; nothing was changed, retry later")]
    Busy,
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A database failure; its text never reaches a client.
    #[error("database error: {0}")]
    Database(DbErr),
    /// A broken invariant; its text never reaches a client.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result of quicktakes operations.
pub type Result<T> = std::result::Result<T, Error>;

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_busy(&err) {
            return Error::Busy;
        }
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
            let field = ["slug", "url", "file_name"]
                .into_iter()
                .find(|f| {
                    detail.contains(&format!("article.{f}"))
                        || detail.contains(&format!("article_{f}"))
                })
                .unwrap_or("id");
            return Error::BadInput {
                field: field.to_owned(),
                message: format!("this {field} is already used by another article"),
            };
        }
        Error::Database(err)
    }
}

/// SQLite's "database is locked" / "busy", which the busy timeout could not wait out.
fn is_busy(err: &DbErr) -> bool {
    let text = err.to_string();
    text.contains("database is locked")
        || text.contains("SQLITE_BUSY")
        || text.contains("(code: 5)")
}

impl Error {
    /// A [`Error::BadInput`] for `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }
}
