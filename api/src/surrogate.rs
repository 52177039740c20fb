//! Surrogate keys: the names a CDN files a cached response under
//! (`Surrogate-Key` for Fastly, `Cache-Tag` for Cloudflare), so that an
//! edit purges exactly the responses it makes stale. The one home of their
//! spelling: the GraphQL responses are tagged with [`Keys`] collected while
//! they resolve, and the change webhooks name the keys [`of_change`] gives.
//!
//! - `article:<id>`: the response shows article `<id>`, or a related link
//!   pointing at it (even a dangling one, which its creation fills in);
//! - `subject:<id>`: it shows subject `<id>` (its name or slug);
//! - `articles:<subject id>`: it lists a subject's articles or counts them,
//!   so an article created, deleted or moved there, or reordered by a
//!   change, changes it;
//! - `articles`: it lists or searches articles across subjects, or lists
//!   the subjects.
//!
//! A change to an article purges its own key, and the lists of its old and
//! new subject and the lists across subjects: lists are few beside pages,
//! and any field a list can be ordered or searched by may have changed.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

/// One surrogate key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// An article, or a link to it.
    Article(i64),
    /// A subject's own fields.
    Subject(i32),
    /// A subject's article list or count.
    SubjectArticles(i32),
    /// Article lists and searches across subjects, and the subject list.
    Articles,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Article(id) => write!(f, "article:{id}"),
            Key::Subject(id) => write!(f, "subject:{id}"),
            Key::SubjectArticles(id) => write!(f, "articles:{id}"),
            Key::Articles => f.write_str("articles"),
        }
    }
}

/// The keys a change to article `id`, filed under `subjects` before and
/// after it (the same subject twice, or one when it was created or
/// deleted), makes stale.
pub fn of_change(id: i64, subjects: impl IntoIterator<Item = i32>) -> BTreeSet<Key> {
    let mut keys = BTreeSet::from([Key::Article(id), Key::Articles]);
    keys.extend(subjects.into_iter().map(Key::SubjectArticles));
    keys
}

/// `keys` as one header value: space-separated (`Surrogate-Key`) or
/// comma-separated (`Cache-Tag`).
pub fn header_value(keys: &BTreeSet<Key>, separator: char) -> String {
    let mut out = String::new();
    for key in keys {
        if !out.is_empty() {
            out.push(separator);
        }
        out.push_str(&key.to_string());
    }
    out
}

/// Longest key list a response names one by one. Fastly and Cloudflare
/// take 16 KB per header, and haproxy's default buffer about as much for
/// all of a response's headers; a page of 100 articles with 10 links each
/// would name over a thousand keys.
const HEADER_BUDGET: usize = 8 * 1024;

/// Names `keys` in `headers`, for Fastly (`Surrogate-Key`, space-separated)
/// and Cloudflare (`Cache-Tag`, comma-separated); nothing when there are
/// none. Over [`HEADER_BUDGET`], `articles` alone stands for them: every
/// change purges it (see [`of_change`]), so the response is still purged
/// whenever it may be stale, only more often.
pub fn tag(headers: &mut axum::http::HeaderMap, keys: &BTreeSet<Key>) {
    if keys.is_empty() {
        return;
    }
    let mut spaced = header_value(keys, ' ');
    let mut keys = keys;
    let every_change = BTreeSet::from([Key::Articles]);
    if spaced.len() > HEADER_BUDGET {
        keys = &every_change;
        spaced = header_value(keys, ' ');
    }
    for (name, value) in [
        ("surrogate-key", spaced),
        ("cache-tag", header_value(keys, ',')),
    ] {
        // Keys are ASCII letters, digits and colons: always a valid value.
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// The keys of one response, collected as its objects resolve: request
/// data, shared by every resolver of the request.
#[derive(Debug, Clone, Default)]
pub struct Keys(Arc<Mutex<BTreeSet<Key>>>);

impl Keys {
    /// Records that the response shows `key`.
    pub fn add(&self, key: Key) {
        match self.0.lock() {
            Ok(mut keys) => keys.insert(key),
            Err(poisoned) => poisoned.into_inner().insert(key),
        };
    }

    /// The keys recorded so far.
    pub fn snapshot(&self) -> BTreeSet<Key> {
        match self.0.lock() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_purges_its_article_and_the_lists_it_was_and_is_in() {
        let keys = of_change(118_109, [3, 5]);
        assert_eq!(
            header_value(&keys, ' '),
            "article:118109 articles:3 articles:5 articles"
        );
        assert_eq!(
            header_value(&of_change(7, [2, 2]), ','),
            "article:7,articles:2,articles"
        );
    }

    #[test]
    fn a_page_of_too_many_keys_is_filed_under_the_key_every_change_purges() {
        let mut headers = axum::http::HeaderMap::new();
        let many: BTreeSet<Key> = (0..1_100).map(|i| Key::Article(1_000_000 + i)).collect();
        tag(&mut headers, &many);
        assert_eq!(headers["surrogate-key"], "articles");
        assert_eq!(headers["cache-tag"], "articles");
        let few = BTreeSet::from([Key::Article(7), Key::Subject(1)]);
        tag(&mut headers, &few);
        assert_eq!(headers["surrogate-key"], "article:7 subject:1");
        assert_eq!(headers["cache-tag"], "article:7,subject:1");
    }

    #[test]
    fn keys_are_recorded_once_whoever_records_them() {
        let keys = Keys::default();
        let other = keys.clone();
        keys.add(Key::Article(2));
        other.add(Key::Article(2));
        other.add(Key::Subject(1));
        assert_eq!(header_value(&keys.snapshot(), ' '), "article:2 subject:1");
    }
}
