//! Who sends a request: the editor its `Authorization: Bearer <token>`
//! names (a header over HTTP, the `connection_init` payload over
//! WebSocket), checked under the per-address budget of failed attempts.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::Error;
use crate::http::AppState;
use crate::service::token::{self, Editor};

/// Why a credential was refused; each transport says it its own way (HTTP
/// with a status, WebSocket with a close code).
#[derive(Debug)]
pub(crate) enum Refused {
    /// Not `Bearer <token>`.
    Malformed,
    /// Unknown or revoked.
    Unknown,
    /// The address has spent its budget of failed checks; the wait until
    /// its next one.
    TooManyFailures(Duration),
    /// The database could not be asked: the token may well be valid.
    Unavailable(Error),
}

impl Refused {
    /// What the client is told.
    pub(crate) fn message(&self) -> &'static str {
        match self {
            Refused::Malformed => "the Authorization value must be `Bearer <token>`",
            Refused::Unknown => "the token is unknown or revoked: ask an admin for a new one",
            Refused::TooManyFailures(_) => {
                "too many failed token checks from this address; wait before trying again"
            }
            Refused::Unavailable(_) => "the token could not be checked; retry later",
        }
    }
}

/// The editor an `Authorization` value (`Bearer <token>`) names; `None`
/// without one. Every transport checks credentials here, under the
/// per-address budget of failed attempts: an address that has spent it is
/// refused before its token is looked up.
pub(crate) async fn editor_for(
    state: &AppState,
    authorization: Option<&str>,
    client: Option<IpAddr>,
) -> Result<Option<Editor>, Refused> {
    let Some(value) = authorization else {
        return Ok(None);
    };
    let secret = bearer_token(value).ok_or(Refused::Malformed)?;
    let reservation = state
        .begin_token_check(client)
        .map_err(|too_many| Refused::TooManyFailures(too_many.0))?;
    let found = token::authenticate(&state.db, secret).await;
    // Only an unknown or revoked token is a failed attempt.
    if let Some(reservation) = reservation
        && !matches!(found, Ok(None))
    {
        reservation.give_back();
    }
    match found {
        Ok(Some(editor)) => Ok(Some(editor)),
        Ok(None) => Err(Refused::Unknown),
        Err(err) => Err(Refused::Unavailable(Error::Unavailable {
            what: "the token could not be checked",
            cause: Box::new(err),
        })),
    }
}

/// The token of an `Authorization` value `Bearer <token>`; the scheme is
/// case-insensitive (RFC 9110 §11.1).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer qt_1"), Some("qt_1"));
        assert_eq!(bearer_token("bearer qt_1"), Some("qt_1"));
        assert_eq!(bearer_token("BEARER  qt_1 "), Some("qt_1"));
        assert_eq!(bearer_token("Basic qt_1"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("qt_1"), None);
    }
}
