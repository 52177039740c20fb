//! Shorthands for resolvers: service errors become GraphQL errors through
//! the one [`ErrorExtensions`] implementation of [`crate::error::Error`].

use async_graphql::ErrorExtensions;

use crate::error::Error;

/// `BAD_USER_INPUT` for `field`.
pub fn bad_input(field: &str, message: impl Into<String>) -> async_graphql::Error {
    Error::bad_input(field, message).extend()
}

/// `FORBIDDEN`: the request may not see or do this; `message` says what it needs.
pub fn forbidden(message: impl Into<String>) -> async_graphql::Error {
    Error::Forbidden(message.into()).extend()
}
