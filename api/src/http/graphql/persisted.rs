//! Automatic persisted queries, Apollo's APQ protocol: a client sends
//! `extensions.persistedQuery.sha256Hash` alone (in a GET url a CDN can
//! cache); a server that does not know the hash answers
//! `PERSISTED_QUERY_NOT_FOUND`, and the client sends it again with `query`,
//! which the server checks against the hash and remembers.
//!
//! Each server keeps the texts in memory, least recently used out first:
//! a hash one instance learnt is a miss on another, which costs the client
//! one retry there, never a wrong answer. Texts are remembered before they
//! are validated (so a client can fill the cache with documents that do
//! not parse), which costs only evictions: the cache is bounded by bytes,
//! and every text is under the body limit.

use std::sync::Arc;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// The only version of the protocol.
const VERSION: u64 = 1;

/// Bytes of each shard of the cache, at least: four times the default
/// body limit, so the largest document a request can carry is kept.
const SHARD_BYTES: u64 = 4 * 1024 * 1024;

/// Most shards: concurrent lookups rarely contend beyond this.
const MAX_SHARDS: usize = 16;

/// Where a malformed `persistedQuery` is reported.
const FIELD: &str = "extensions.persistedQuery";

/// Query texts by the lower-case hex of their SHA-256.
#[derive(Clone)]
pub struct PersistedQueries(Arc<Cache<String, Arc<str>, ByBytes, DefaultHashBuilder>>);

/// Weighs an entry by its bytes.
#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Arc<str>> for ByBytes {
    fn weight(&self, key: &String, text: &Arc<str>) -> u64 {
        (key.len() + text.len()) as u64
    }
}

impl PersistedQueries {
    /// A cache of at most `bytes` of query text.
    pub fn new(bytes: u64) -> Self {
        // quick_cache sizes its tables by an estimate of the entries (an
        // article page's document is about 1 KiB), and splits the bytes
        // among shards, refusing an entry heavier than its shard's share:
        // by default 4 shards per core, so on a large machine a document
        // of a few tens of KiB would never be kept. Shards of at least
        // SHARD_BYTES take any document under the body limit.
        let estimate = usize::try_from(bytes / 1024).unwrap_or(usize::MAX).max(16);
        let shards = usize::try_from(bytes / SHARD_BYTES)
            .unwrap_or(MAX_SHARDS)
            .clamp(1, MAX_SHARDS);
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimate)
            .weight_capacity(bytes)
            .shards(shards)
            .build();
        let cache = match options {
            Ok(options) => Cache::with_options(
                options,
                ByBytes,
                DefaultHashBuilder::default(),
                DefaultLifecycle::default(),
            ),
            // Only a missing capacity fails, and both are set.
            Err(_) => Cache::with_weighter(estimate, bytes, ByBytes),
        };
        Self(Arc::new(cache))
    }

    /// The text a request runs: its `query`, checked against the hash it
    /// sends with it (and then remembered), or the text remembered under
    /// the hash it sends alone. `Ok(None)`: neither a `query` nor a
    /// persisted query.
    pub fn query_of(
        &self,
        query: Option<&Value>,
        extensions: Option<&Value>,
    ) -> Result<Option<String>, Error> {
        let hash = hash_in(extensions)?;
        let query = match query {
            None | Some(Value::Null) => None,
            Some(Value::String(q)) => Some(q),
            Some(_) => return Err(Error::bad_input("query", "`query` must be a string")),
        };
        match (query, hash) {
            (Some(query), None) => Ok(Some(query.clone())),
            (None, None) => Ok(None),
            (None, Some(hash)) => match self.0.get(&hash) {
                Some(text) => Ok(Some(text.to_string())),
                None => Err(Error::PersistedQueryNotFound),
            },
            (Some(query), Some(hash)) => {
                if sha256_hex(query) != hash {
                    return Err(Error::bad_input(
                        "extensions.persistedQuery.sha256Hash",
                        "the hash is not the SHA-256 of `query`; send the lower-case hex \
                         SHA-256 of the query text exactly as sent",
                    ));
                }
                self.0.insert(hash, Arc::from(query.as_str()));
                Ok(Some(query.clone()))
            }
        }
    }
}

/// The hash of `extensions.persistedQuery`, lower-cased; `None` without one.
fn hash_in(extensions: Option<&Value>) -> Result<Option<String>, Error> {
    let Some(persisted) = extensions.and_then(|e| e.get("persistedQuery")) else {
        return Ok(None);
    };
    if persisted.is_null() {
        return Ok(None);
    }
    let Value::Object(persisted) = persisted else {
        return Err(Error::bad_input(
            FIELD,
            "`persistedQuery` must be an object",
        ));
    };
    match persisted.get("version") {
        Some(version) if version.as_u64() == Some(VERSION) => {}
        None | Some(Value::Null) => {
            return Err(Error::bad_input(
                "extensions.persistedQuery.version",
                "`version` is missing; send 1, the protocol's only version",
            ));
        }
        Some(other) => {
            return Err(Error::bad_input(
                "extensions.persistedQuery.version",
                format!("version {other} is not supported; send 1, the protocol's only version"),
            ));
        }
    }
    match persisted.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(hash.to_ascii_lowercase()))
        }
        _ => Err(Error::bad_input(
            "extensions.persistedQuery.sha256Hash",
            "`sha256Hash` must be the 64 hex digits of the query's SHA-256",
        )),
    }
}

/// The lower-case hex SHA-256 of `text`, as APQ clients spell it.
fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::Code;

    fn ext(hash: &str) -> Value {
        json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
    }

    #[test]
    fn a_hash_is_learnt_from_its_query_and_then_answers_alone() {
        let cache = PersistedQueries::new(1 << 20);
        let query = "{ __typename }";
        let hash = sha256_hex(query);
        assert_eq!(
            hash,
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
        let miss = cache.query_of(None, Some(&ext(&hash)));
        assert_eq!(
            miss.map_err(|e| e.code()),
            Err(Code::PersistedQueryNotFound)
        );
        let sent = cache.query_of(Some(&json!(query)), Some(&ext(&hash.to_uppercase())));
        assert_eq!(sent.ok().flatten().as_deref(), Some(query));
        let hit = cache.query_of(None, Some(&ext(&hash)));
        assert_eq!(hit.ok().flatten().as_deref(), Some(query));
    }

    #[test]
    fn a_wrong_or_malformed_hash_is_refused_and_not_remembered() {
        let cache = PersistedQueries::new(1 << 20);
        let other = sha256_hex("{ other }");
        let wrong = cache.query_of(Some(&json!("{ __typename }")), Some(&ext(&other)));
        assert!(
            matches!(&wrong, Err(e) if e.code() == Code::BadUserInput
                && e.to_string().contains("not the SHA-256")),
            "{:?}",
            wrong.map_err(|e| e.to_string())
        );
        let again = cache.query_of(None, Some(&ext(&other)));
        assert_eq!(
            again.map_err(|e| e.code()),
            Err(Code::PersistedQueryNotFound)
        );
        for bad in [
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
            json!({ "persistedQuery": { "version": 2, "sha256Hash": other } }),
            json!({ "persistedQuery": { "sha256Hash": other } }),
            json!({ "persistedQuery": "x" }),
        ] {
            let refused = cache.query_of(None, Some(&bad));
            assert_eq!(
                refused.map_err(|e| e.code()),
                Err(Code::BadUserInput),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_document_as_large_as_a_request_can_carry_is_kept() {
        // Under quick_cache's default of 4 shards per core, 2 MiB on 2
        // cores would be shards of 256 KiB, each refusing this document.
        let cache = PersistedQueries::new(2 * 1024 * 1024);
        let query = format!("{{ __typename }} # {}", "x".repeat(900 * 1024));
        let hash = sha256_hex(&query);
        assert!(
            cache
                .query_of(Some(&json!(query)), Some(&ext(&hash)))
                .is_ok()
        );
        let hit = cache.query_of(None, Some(&ext(&hash)));
        assert_eq!(hit.ok().flatten().map(|q| q.len()), Some(query.len()));
    }

    #[test]
    fn the_cache_keeps_no_more_than_its_bytes() {
        let cache = PersistedQueries::new(4 * 1024);
        for i in 0..100 {
            let query = format!("{{ a{i}: __typename }} # {}", "x".repeat(200));
            let hash = sha256_hex(&query);
            assert!(
                cache
                    .query_of(Some(&json!(query)), Some(&ext(&hash)))
                    .is_ok()
            );
        }
        assert!(cache.0.weight() <= 4 * 1024, "{}", cache.0.weight());
    }
}
