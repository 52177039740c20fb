//! Service errors as GraphQL errors: every error carries `extensions.code`;
//! internal ones are logged with their cause and shown as a masked message.

use async_graphql::ErrorExtensions;

use crate::error::Error;

/// `BAD_USER_INPUT` for `field`.
pub fn bad_input(field: &str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, e| {
        e.set("code", "BAD_USER_INPUT");
        e.set("field", field);
    })
}

/// `FORBIDDEN`: the request may not see or do this; `message` says what it needs.
pub fn forbidden(message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, e| e.set("code", "FORBIDDEN"))
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        match self {
            Error::NotFound(m) => {
                async_graphql::Error::new(m.clone()).extend_with(|_, e| e.set("code", "NOT_FOUND"))
            }
            Error::BadInput { field, message } => bad_input(field, message.clone()),
            Error::Busy => async_graphql::Error::new(self.to_string())
                .extend_with(|_, e| e.set("code", "BUSY")),
            Error::Io { .. } | Error::Database(_) | Error::Internal(_) => {
                tracing::error!(error = %self, "internal error");
                async_graphql::Error::new("internal error; the cause is in the server log")
                    .extend_with(|_, e| e.set("code", "INTERNAL"))
            }
        }
    }
}
