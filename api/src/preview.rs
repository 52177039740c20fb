//! Links to the reader preview (`/learn/<subject>/questions/<slug>`): the
//! public base url that makes them absolute, and the signed links through
//! which editors see a version readers do not.
//!
//! A browser following a link sends no `Authorization` header, and the
//! revision history is for editors only; so `Article.previewUrl` (editors
//! only) hands out a link carrying its own proof: the article, the version
//! and an expiry, signed with HMAC-SHA256 under the server's preview key.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};

/// How long a signed preview link works.
pub const LINK_LIFETIME: chrono::Duration = chrono::Duration::minutes(30);

/// Shortest `--preview-key` accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How the server links to its reader pages.
#[derive(Clone)]
pub struct PreviewLinks {
    /// The HMAC key of signed links.
    key: Arc<[u8]>,
    /// `https://example.org` (no trailing `/`): what makes page urls
    /// absolute; `None` keeps them relative.
    base_url: Option<Arc<str>>,
}

impl std::fmt::Debug for PreviewLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("PreviewLinks")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Default for PreviewLinks {
    /// Relative urls, and a key of this process's own: its links stop
    /// working when it restarts, and other servers do not accept them.
    fn default() -> Self {
        let key: [u8; 32] = rand::random();
        Self {
            key: Arc::from(&key[..]),
            base_url: None,
        }
    }
}

/// What is wrong with a `--public-base-url` or `--preview-key`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PreviewConfigError {
    /// The base url is not an `http(s)://host[:port][/path]` url.
    #[error(
        "`{0}` is not an absolute http(s) url such as https://example.org (no query or fragment)"
    )]
    BaseUrl(String),
    /// The key is too short to be a secret.
    #[error(
        "the key is {0} bytes long; use at least {MIN_KEY_BYTES} random characters (e.g. `openssl rand -hex 32`)"
    )]
    ShortKey(usize),
}

/// `--public-base-url`: `https://host[:port][/path]`, kept without a
/// trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBaseUrl(Arc<str>);

impl std::str::FromStr for PublicBaseUrl {
    type Err = PreviewConfigError;

    fn from_str(base: &str) -> Result<Self, Self::Err> {
        let trimmed = base.trim().trim_end_matches('/');
        let valid = ["https://", "http://"].iter().any(|scheme| {
            trimmed
                .strip_prefix(scheme)
                .and_then(|rest| rest.split('/').next())
                .is_some_and(|host| !host.is_empty())
        }) && !trimmed.contains(['?', '#', ' ']);
        if valid {
            Ok(Self(Arc::from(trimmed)))
        } else {
            Err(PreviewConfigError::BaseUrl(base.to_owned()))
        }
    }
}

/// `--preview-key`: the secret signed preview links are made with, the
/// same on every server behind one address.
#[derive(Clone, PartialEq, Eq)]
pub struct PreviewKey(Arc<[u8]>);

impl std::fmt::Debug for PreviewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreviewKey(..)")
    }
}

impl std::str::FromStr for PreviewKey {
    type Err = PreviewConfigError;

    fn from_str(key: &str) -> Result<Self, Self::Err> {
        if key.len() < MIN_KEY_BYTES {
            return Err(PreviewConfigError::ShortKey(key.len()));
        }
        Ok(Self(Arc::from(key.as_bytes())))
    }
}

impl PreviewLinks {
    /// Links under `base_url` (absolute when given), signed with `key`
    /// (a random key of this process when `None`).
    pub fn new(base_url: Option<PublicBaseUrl>, key: Option<PreviewKey>) -> Self {
        let mut links = Self::default();
        if let Some(PreviewKey(key)) = key {
            links.key = key;
        }
        links.base_url = base_url.map(|PublicBaseUrl(base)| base);
        links
    }

    /// `path` (e.g. an article's url) as a link: absolute under the public
    /// base url, else as it is.
    pub fn absolute(&self, path: &str) -> String {
        match &self.base_url {
            Some(base) => format!("{base}{path}"),
            None => path.to_owned(),
        }
    }

    /// A link to version `version` of the article `id` at `url`, working
    /// until `now` + [`LINK_LIFETIME`].
    pub fn signed(
        &self,
        url: &str,
        id: i64,
        version: i32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let expires = (now + LINK_LIFETIME).timestamp();
        let signature =
            URL_SAFE_NO_PAD.encode(self.mac(id, version, expires).finalize().into_bytes());
        self.absolute(&format!(
            "{url}?version={version}&expires={expires}&signature={signature}"
        ))
    }

    /// Whether `signature` signs version `version` of article `id` until
    /// `expires` (Unix seconds), and that time has not come at `now`.
    pub fn verify(
        &self,
        id: i64,
        version: i32,
        expires: i64,
        signature: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), LinkRefused> {
        let tag = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkRefused::BadSignature)?;
        self.mac(id, version, expires)
            .verify_slice(&tag)
            .map_err(|_| LinkRefused::BadSignature)?;
        if now.timestamp() >= expires {
            return Err(LinkRefused::Expired);
        }
        Ok(())
    }

    fn mac(&self, id: i64, version: i32, expires: i64) -> HmacSha256 {
        #[allow(clippy::expect_used)]
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(format!("quicktakes-preview:{id}:{version}:{expires}").as_bytes());
        mac
    }
}

/// Why a signed preview link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefused {
    /// It lacks a part, or its signature does not match.
    BadSignature,
    /// It was signed, but its time is over.
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    fn parts(link: &str) -> (i32, i64, String) {
        let query = link.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let pairs: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(query).unwrap_or_default();
        (
            pairs["version"].parse().unwrap_or_default(),
            pairs["expires"].parse().unwrap_or_default(),
            pairs["signature"].clone(),
        )
    }

    #[test]
    fn a_link_verifies_until_it_expires_and_only_for_what_it_signs() {
        let links = PreviewLinks::new(None, "k".repeat(32).parse().ok());
        let link = links.signed("/learn/a/questions/b", 7, 3, at(1_000));
        assert!(link.starts_with("/learn/a/questions/b?version=3&expires="));
        let (version, expires, signature) = parts(&link);
        assert_eq!(
            links.verify(7, version, expires, &signature, at(1_001)),
            Ok(())
        );
        let end = 1_000 + LINK_LIFETIME.num_seconds();
        assert_eq!(
            links.verify(7, version, expires, &signature, at(end)),
            Err(LinkRefused::Expired)
        );
        assert_eq!(
            links.verify(8, version, expires, &signature, at(1_001)),
            Err(LinkRefused::BadSignature)
        );
        assert_eq!(
            links.verify(7, 2, expires, &signature, at(1_001)),
            Err(LinkRefused::BadSignature)
        );
        assert_eq!(
            links.verify(7, version, expires + 3600, &signature, at(1_001)),
            Err(LinkRefused::BadSignature)
        );
        let other = PreviewLinks::new(None, "x".repeat(32).parse().ok());
        assert_eq!(
            other.verify(7, version, expires, &signature, at(1_001)),
            Err(LinkRefused::BadSignature)
        );
    }

    #[test]
    fn the_base_url_must_be_an_absolute_http_url() {
        let base = "https://example.org/".parse::<PublicBaseUrl>();
        let links = PreviewLinks::new(base.ok(), None);
        assert_eq!(links.absolute("/learn/x"), "https://example.org/learn/x");
        for bad in [
            "example.org",
            "ftp://example.org",
            "https://",
            "https://a.org/?x=1",
        ] {
            assert_eq!(
                bad.parse::<PublicBaseUrl>(),
                Err(PreviewConfigError::BaseUrl(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            "short".parse::<PreviewKey>(),
            Err(PreviewConfigError::ShortKey(5))
        );
    }
}
