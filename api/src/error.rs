//! The one error type of quicktakes: every error the API speaks is a variant
//! with its code ([`Code`]); user errors carry a precise message, internal
//! ones are logged with their cause and shown masked. What a database's own
//! error means is decided in one place, [`classify`].

mod foreign;

use async_graphql::{ErrorExtensions, Pos, ServerError};
use sea_orm::DbErr;

pub use foreign::{Foreign, classify};

/// The `extensions.code` values of SPEC §5, each spelled once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The request's token is missing (where one is needed), malformed,
    /// unknown or revoked.
    Unauthenticated,
    /// The token's role, or the lack of a token, does not allow this.
    Forbidden,
    /// The article (or other thing) does not exist.
    NotFound,
    /// Another editor changed the same fields since `expectedVersion`.
    Conflict,
    /// A value the client gave breaks a rule (with its `field`).
    BadUserInput,
    /// The database is held by another writer; retry later.
    Busy,
    /// The request is over a limit (with its `limit`).
    QueryLimit,
    /// The server failed; the cause is in its log under the request id.
    Internal,
    /// The document does not parse.
    GraphqlParseFailed,
    /// The document is not valid against the schema.
    GraphqlValidationFailed,
    /// An automatic persisted query's hash is not known.
    PersistedQueryNotFound,
}

impl Code {
    /// Every code.
    pub const ALL: [Code; 11] = [
        Code::Unauthenticated,
        Code::Forbidden,
        Code::NotFound,
        Code::Conflict,
        Code::BadUserInput,
        Code::Busy,
        Code::QueryLimit,
        Code::Internal,
        Code::GraphqlParseFailed,
        Code::GraphqlValidationFailed,
        Code::PersistedQueryNotFound,
    ];

    /// The code as clients see it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::Busy => "BUSY",
            Code::QueryLimit => "QUERY_LIMIT",
            Code::Internal => "INTERNAL",
            Code::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Code::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Code::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an internal error shows a client: its cause is only in the log.
pub const MASKED: &str = "internal error; the cause is in the server log";

/// Everything that can go wrong, in a service call or before a request runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `UNAUTHENTICATED`: the message says which token to send.
    #[error("{0}")]
    Unauthenticated(String),
    /// `FORBIDDEN`: the message says what the request needs.
    #[error("{0}")]
    Forbidden(String),
    /// `NOT_FOUND`: the article (or other thing) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `CONFLICT`: a revision after the editor's version changed a field
    /// this change changes.
    #[error(
        "another editor changed {} since your version; the article is at version {current_version}: reload, reapply your change, and save again",
        fields.join(", ")
    )]
    Conflict {
        /// The article's version now.
        current_version: i32,
        /// The fields both changed, by GraphQL name.
        fields: Vec<String>,
    },
    /// `BAD_USER_INPUT`: a value the user gave breaks a rule; `field` names it.
    #[error("{message}")]
    BadInput {
        /// The offending field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// `BUSY`: the database was locked by another writer for longer than the
    /// busy timeout.
    #[error("the database is busy with another write; nothing was changed, retry later")]
    Busy,
    /// `QUERY_LIMIT`: the request is over `limit`.
    #[error("{message}")]
    QueryLimit {
        /// The limit's name: `depth`, `complexity`, `aliases`,
        /// `directives`, `batch`, `tokens`, `timeout`, `introspection`,
        /// `introspection_depth`, `introspection_of_type`,
        /// `introspection_complexity`.
        limit: &'static str,
        /// What was exceeded and by how much.
        message: String,
    },
    /// `GRAPHQL_PARSE_FAILED`: the document does not parse.
    #[error("{message}")]
    ParseFailed {
        /// The parser's message.
        message: String,
        /// Where in the document.
        locations: Vec<Pos>,
    },
    /// `GRAPHQL_VALIDATION_FAILED`: the document is not valid against the schema.
    #[error("{message}")]
    ValidationFailed {
        /// The validator's message.
        message: String,
        /// Where in the document.
        locations: Vec<Pos>,
    },
    /// `PERSISTED_QUERY_NOT_FOUND`: the hash of an automatic persisted
    /// query is not known; the client sends the document with it.
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// A write lost a race: the row changed between its read and its
    /// version-guarded write. Internal: [`crate::db::in_write_txn`] runs the
    /// write again on a fresh read; only an attempt that loses every time
    /// shows it, masked.
    #[error("article {id} changed between its read and its write")]
    LostRace {
        /// The article.
        id: i64,
    },
    /// The database failed before anything ran (`INTERNAL`, HTTP 503): the
    /// message says what was not done; the cause is logged.
    #[error("{what} because the database is unavailable; nothing was run, retry later")]
    Unavailable {
        /// What could not be done, e.g. `the token could not be checked`.
        what: &'static str,
        /// Why, for the log only.
        cause: Box<Error>,
    },
    /// A request panicked (`INTERNAL`, HTTP 500); the panic hook has logged where.
    #[error("{MASKED}")]
    Panicked,
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

impl Error {
    /// A [`Error::BadInput`] for `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The code clients see.
    pub fn code(&self) -> Code {
        match self {
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::Forbidden(_) => Code::Forbidden,
            Error::NotFound(_) => Code::NotFound,
            Error::Conflict { .. } => Code::Conflict,
            Error::BadInput { .. } => Code::BadUserInput,
            Error::Busy => Code::Busy,
            Error::QueryLimit { .. } => Code::QueryLimit,
            Error::ParseFailed { .. } => Code::GraphqlParseFailed,
            Error::ValidationFailed { .. } => Code::GraphqlValidationFailed,
            Error::PersistedQueryNotFound => Code::PersistedQueryNotFound,
            Error::LostRace { .. }
            | Error::Unavailable { .. }
            | Error::Panicked
            | Error::Io { .. }
            | Error::Database(_)
            | Error::Internal(_) => Code::Internal,
        }
    }

    /// The message a client sees: internal causes are masked.
    fn public_message(&self) -> String {
        match self {
            Error::LostRace { .. } | Error::Io { .. } | Error::Database(_) | Error::Internal(_) => {
                MASKED.to_owned()
            }
            _ => self.to_string(),
        }
    }

    /// Logs the cause of an internal error; the one place that does.
    pub(crate) fn log_cause(&self) {
        match self {
            Error::LostRace { .. } | Error::Io { .. } | Error::Database(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "internal error");
            }
            Error::Unavailable { what, cause } => {
                tracing::error!(error = %cause, "{what}: the database is unavailable");
            }
            // The panic hook has logged it, under the request's span.
            _ => {}
        }
    }

    /// The error as a request error (no path) at its document locations:
    /// how a refusal before execution reaches the client.
    pub fn to_server_error(&self) -> ServerError {
        let extended = self.extend();
        let mut error = ServerError::new(extended.message, None);
        error.extensions = extended.extensions;
        if let Error::ParseFailed { locations, .. } | Error::ValidationFailed { locations, .. } =
            self
        {
            error.locations = locations.clone();
        }
        error
    }
}

/// The one mapping of errors to GraphQL errors: `extensions.code`, and the
/// code's own fields (`field`, `currentVersion` and `fields`, `limit`).
/// Internal errors are logged here and shown masked; the HTTP layer adds
/// the `requestId` under which the log holds the cause.
impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        self.log_cause();
        async_graphql::Error::new(self.public_message()).extend_with(|_, e| {
            e.set("code", self.code().as_str());
            match self {
                Error::BadInput { field, .. } => e.set("field", field.as_str()),
                Error::Conflict {
                    current_version,
                    fields,
                } => {
                    e.set("currentVersion", *current_version);
                    e.set("fields", fields.clone());
                }
                Error::QueryLimit { limit, .. } => e.set("limit", *limit),
                _ => {}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of every variant.
    fn every_variant() -> Vec<Error> {
        vec![
            Error::Unauthenticated("send a token".into()),
            Error::Forbidden("editors only".into()),
            Error::NotFound("no article with id 1".into()),
            Error::Conflict {
                current_version: 3,
                fields: vec!["answer".into()],
            },
            Error::bad_input("slug", "taken"),
            Error::Busy,
            Error::QueryLimit {
                limit: "depth",
                message: "too deep".into(),
            },
            Error::ParseFailed {
                message: "unexpected `}`".into(),
                locations: vec![Pos { line: 1, column: 3 }],
            },
            Error::ValidationFailed {
                message: "unknown field".into(),
                locations: vec![],
            },
            Error::PersistedQueryNotFound,
            Error::LostRace { id: 7 },
            Error::Unavailable {
                what: "the token could not be checked",
                cause: Box::new(Error::Database(DbErr::Custom("pool closed".into()))),
            },
            Error::Panicked,
            Error::Io {
                path: "/x".into(),
                source: std::io::Error::other("disk on fire"),
            },
            Error::Database(DbErr::Custom("secret detail".into())),
            Error::Internal("broken invariant".into()),
        ]
    }

    #[test]
    fn every_variant_has_its_code() {
        let codes: Vec<&str> = every_variant().iter().map(|e| e.code().as_str()).collect();
        assert_eq!(
            codes,
            [
                "UNAUTHENTICATED",
                "FORBIDDEN",
                "NOT_FOUND",
                "CONFLICT",
                "BAD_USER_INPUT",
                "BUSY",
                "QUERY_LIMIT",
                "GRAPHQL_PARSE_FAILED",
                "GRAPHQL_VALIDATION_FAILED",
                "PERSISTED_QUERY_NOT_FOUND",
                "INTERNAL",
                "INTERNAL",
                "INTERNAL",
                "INTERNAL",
                "INTERNAL",
                "INTERNAL",
            ]
        );
        // Every code of the contract has a variant that speaks it.
        for code in Code::ALL {
            assert!(
                every_variant().iter().any(|e| e.code() == code),
                "{code} has no variant"
            );
        }
    }

    #[test]
    fn extensions_carry_the_code_and_its_fields() {
        let json = |e: &Error| serde_json::to_value(e.to_server_error()).expect("json");
        let conflict = json(&Error::Conflict {
            current_version: 3,
            fields: vec!["answer".into(), "title".into()],
        });
        assert_eq!(
            conflict["extensions"],
            serde_json::json!({ "code": "CONFLICT", "currentVersion": 3, "fields": ["answer", "title"] })
        );
        assert!(
            conflict["message"]
                .as_str()
                .is_some_and(|m| m.contains("answer, title") && m.contains("version 3")),
            "{conflict}"
        );
        let bad = json(&Error::bad_input("slug", "taken"));
        assert_eq!(
            bad["extensions"],
            serde_json::json!({ "code": "BAD_USER_INPUT", "field": "slug" })
        );
        let limit = json(&Error::QueryLimit {
            limit: "depth",
            message: "too deep".into(),
        });
        assert_eq!(
            limit["extensions"],
            serde_json::json!({ "code": "QUERY_LIMIT", "limit": "depth" })
        );
        let parse = json(&Error::ParseFailed {
            message: "bad".into(),
            locations: vec![Pos { line: 1, column: 3 }],
        });
        assert_eq!(
            parse["locations"],
            serde_json::json!([{ "line": 1, "column": 3 }])
        );
    }

    #[test]
    fn internal_errors_are_masked() {
        for e in every_variant() {
            let shown = e.to_server_error().message;
            assert!(
                !shown.contains("secret detail")
                    && !shown.contains("broken invariant")
                    && !shown.contains("disk on fire")
                    && !shown.contains("pool closed")
                    && !shown.contains("article 7"),
                "{e:?} shows {shown}"
            );
        }
        let unavailable = every_variant().swap_remove(11).to_server_error().message;
        assert!(unavailable.contains("retry later"), "{unavailable}");
    }
}
