//! Validators of the pages the server renders or embeds: one strong ETag
//! per body, and `If-None-Match` answered with a bodiless 304.

use axum::http::HeaderMap;
use headers::HeaderMapExt;

/// The strong ETag of `body`: the start of its BLAKE3, quoted.
pub(super) fn of(body: &[u8]) -> String {
    format!("\"{}\"", &blake3::hash(body).to_hex()[..32])
}

/// The weak ETag of `body` sent as `content_type`, for a response that
/// may be sent compressed: the same body in another coding is not byte for
/// byte the same, but the same body in another media type is another
/// representation.
pub(super) fn weak_of(content_type: &[u8], body: &[u8]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(content_type);
    hasher.update(b"\n");
    hasher.update(body);
    format!("W/\"{}\"", &hasher.finalize().to_hex()[..32])
}

/// Whether the request's `If-None-Match` names `etag` (compared weakly, as
/// RFC 9110 asks for GET, or `*`): the client's copy is current.
pub(super) fn unchanged(request: &HeaderMap, etag: &str) -> bool {
    match (
        request.typed_get::<headers::IfNoneMatch>(),
        etag.parse::<headers::ETag>(),
    ) {
        (Some(condition), Ok(etag)) => !condition.precondition_passes(&etag),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, header};

    #[test]
    fn an_etag_matches_exactly_weakly_or_by_star() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(value));
            headers
        };
        assert!(unchanged(&with("\"abc\""), "\"abc\""));
        assert!(unchanged(&with("\"x\", W/\"abc\""), "\"abc\""));
        assert!(unchanged(&with("*"), "\"abc\""));
        assert!(!unchanged(&with("\"abcd\""), "\"abc\""));
        assert!(!unchanged(&HeaderMap::new(), "\"abc\""));
        assert_eq!(of(b"x").len(), 34);
    }
}
