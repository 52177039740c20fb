//! Who sends a request: the editor its `Authorization: Bearer <token>`
//! names, checked under the per-address budget of failed attempts.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::wire::{MediaType, Stage, refusal};
use crate::error::Error;
use crate::http::AppState;
use crate::service::token::{self, Editor};

/// The editor a request's `Authorization: Bearer <token>` names; a refusal
/// (`UNAUTHENTICATED`, 401) when the header is malformed, or the token
/// unknown or revoked, reads included, so a misconfigured client notices.
/// An address that has spent its budget of failed checks gets 429 before
/// its token is looked up.
pub(super) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    media: MediaType,
) -> Result<Option<Editor>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let refuse = |message: &str| {
        let error = Error::Unauthenticated(message.to_owned());
        refusal(media, Stage::Http, &error, headers)
    };
    let Some(secret) = value.to_str().ok().and_then(bearer_token) else {
        return Err(refuse("the Authorization header must be `Bearer <token>`"));
    };
    let reservation = state
        .begin_token_check(client)
        .map_err(IntoResponse::into_response)?;
    let found = token::authenticate(&state.db, secret).await;
    // Only an unknown or revoked token is a failed attempt.
    if let Some(reservation) = reservation
        && !matches!(found, Ok(None))
    {
        reservation.give_back();
    }
    match found {
        Ok(Some(editor)) => Ok(Some(editor)),
        Ok(None) => Err(refuse(
            "the token is unknown or revoked: ask an admin for a new one",
        )),
        // The token may well be valid: a database outage is the server's
        // failure, never the client's (401 would make it drop its token).
        Err(err) => {
            let error = Error::Unavailable {
                what: "the token could not be checked",
                cause: Box::new(err),
            };
            Err(refusal(media, Stage::Http, &error, headers))
        }
    }
}

/// The token of an `Authorization` value `Bearer <token>`; the scheme is
/// case-insensitive (RFC 9110 §11.1).
pub(super) fn bearer_token(value: &str) -> Option<&str> {
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
