//! What a database's own error means to quicktakes: read from the
//! database's code where the driver kept it (SQLite result codes,
//! PostgreSQL SQLSTATEs), else from its text. The only place that looks.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

use super::Error;

/// What a database's error means to quicktakes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Foreign {
    /// SQLite's `BUSY`/`LOCKED`, which the busy timeout could not wait out.
    Busy,
    /// A unique constraint refused a value; the field it guards, by name,
    /// when it is one an editor or the import gives.
    Taken(Option<&'static str>),
    /// A number out of the column's range (PostgreSQL refuses a float
    /// overflow; SQLite stores infinity instead).
    OutOfRange,
    /// A statement budget stopped a statement: PostgreSQL's statement
    /// timeout, or the SQLite progress handler of [`crate::db`] (the only
    /// things quicktakes sets up to cancel a statement).
    StatementTimeout,
    /// Anything else: the server's failure.
    Other,
}

/// Unique constraints whose violation is the user's: the text naming the
/// constraint (SQLite `table.column`, PostgreSQL `table_column_key`) and the
/// field it guards.
const UNIQUE_FIELDS: [(&str, &str, &str); 5] = [
    ("article.slug", "article_slug", "slug"),
    ("article.url", "article_url", "url"),
    ("article.file_name", "article_file_name", "file_name"),
    ("article.id", "article_pkey", "id"),
    ("editor_token.name", "editor_token_name", "name"),
];

/// Classifies a database error: by the database's own code where the driver
/// gives one (SQLite result codes, PostgreSQL SQLSTATEs), else by its text.
pub fn classify(err: &DbErr) -> Foreign {
    if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
        let field = UNIQUE_FIELDS
            .iter()
            .find(|(sqlite, postgres, _)| detail.contains(sqlite) || detail.contains(postgres))
            .map(|(_, _, field)| *field);
        return Foreign::Taken(field);
    }
    if let Some(code) = database_code(err) {
        match code.as_str() {
            // SQLSTATE numeric_value_out_of_range.
            "22003" => return Foreign::OutOfRange,
            // SQLSTATE query_canceled: the statement timeout is the only
            // canceller quicktakes sets up.
            "57014" => return Foreign::StatementTimeout,
            // SQLite's primary result code is the low byte of the extended one.
            sqlite => {
                if let Ok(n) = sqlite.parse::<i32>() {
                    match n & 0xff {
                        SQLITE_BUSY | SQLITE_LOCKED => return Foreign::Busy,
                        SQLITE_INTERRUPT => return Foreign::StatementTimeout,
                        _ => {}
                    }
                }
            }
        }
    }
    classify_text(&err.to_string())
}

/// SQLite's `SQLITE_BUSY`.
const SQLITE_BUSY: i32 = 5;
/// SQLite's `SQLITE_LOCKED`.
const SQLITE_LOCKED: i32 = 6;
/// SQLite's `SQLITE_INTERRUPT`: the statement budget's progress handler
/// stopped the statement.
const SQLITE_INTERRUPT: i32 = 9;

/// The database's own code of `err`, when the driver kept it.
fn database_code(err: &DbErr) -> Option<String> {
    let (DbErr::Conn(RuntimeErr::SqlxError(e))
    | DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    match e.as_ref() {
        sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Classifies an error that reached us as text only (sea-orm wraps some
/// driver errors in strings).
fn classify_text(text: &str) -> Foreign {
    if text.contains("database is locked")
        || text.contains("database table is locked")
        || text.contains("SQLITE_BUSY")
        || text.contains("(code: 5)")
    {
        Foreign::Busy
    } else if text.contains("canceling statement due to statement timeout")
        || text.contains("interrupted")
    {
        Foreign::StatementTimeout
    } else if text.contains("value out of range") {
        Foreign::OutOfRange
    } else {
        Foreign::Other
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        match classify(&err) {
            Foreign::Busy => Error::Busy,
            Foreign::Taken(Some(field)) => Error::BadInput {
                field: field.to_owned(),
                message: format!("this {field} is already used by another {}", owner(field)),
            },
            Foreign::StatementTimeout => Error::QueryLimit {
                limit: "timeout",
                message: "a database statement ran past its time budget and was stopped; nothing was changed: retry, or ask for less".to_owned(),
            },
            Foreign::Taken(None) | Foreign::OutOfRange | Foreign::Other => Error::Database(err),
        }
    }
}

/// What a unique field belongs to, for its message.
fn owner(field: &str) -> &'static str {
    if field == "name" { "token" } else { "article" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_texts_without_a_code_are_classified() {
        for busy in [
            "error returned from database: (code: 5) database is locked",
            "database table is locked",
            "SQLITE_BUSY",
        ] {
            assert_eq!(classify_text(busy), Foreign::Busy, "{busy}");
        }
        assert_eq!(
            classify_text(
                "error returned from database: canceling statement due to statement timeout"
            ),
            Foreign::StatementTimeout
        );
        assert_eq!(
            classify_text("error returned from database: value out of range: overflow"),
            Foreign::OutOfRange
        );
        assert_eq!(classify_text("connection refused"), Foreign::Other);
        assert!(matches!(
            Error::from(DbErr::Custom("database is locked".into())),
            Error::Busy
        ));
        assert!(matches!(
            Error::from(DbErr::Custom("relation does not exist".into())),
            Error::Database(_)
        ));
    }
}
