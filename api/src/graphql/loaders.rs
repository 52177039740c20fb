//! DataLoaders for every nested edge, so a page of articles with their
//! subjects, links and link targets, or a list of subjects with their
//! article counts, costs a fixed number of statements. Each loader asks a
//! service; none holds SQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::ErrorExtensions;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::subject;
use sea_orm::DatabaseConnection;
use tokio::sync::OnceCell;

use crate::db::Reader;
use crate::error::Error;
use crate::service::lookup::{Link, Texts};
use crate::service::{listing, lookup, subject as subjects};

/// A loader's failure, shared by every key of its batch.
pub type LoadError = Arc<Error>;

/// A loader failure as a GraphQL error (masked when internal).
pub fn loader_error(err: LoadError) -> async_graphql::Error {
    err.extend()
}

/// Subjects by id, for one request. Subjects are few, so the first lookup
/// loads them all in one statement, and lookups made while it runs wait for
/// it. (A DataLoader would start a second batch for ids asked for while the
/// first was in flight: an article page's link targets' subjects, say.)
#[derive(Clone)]
pub struct Subjects {
    db: Reader,
    all: Arc<Mutex<Arc<SubjectsOnce>>>,
}

type SubjectsOnce = OnceCell<Arc<HashMap<i32, subject::Model>>>;

impl Subjects {
    fn new(db: &Reader) -> Self {
        Self {
            db: db.clone(),
            all: Arc::default(),
        }
    }

    /// The subject `id`, if there is one.
    pub async fn get(&self, id: i32) -> Result<Option<subject::Model>, LoadError> {
        let once = match self.all.lock() {
            Ok(once) => once.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let all = once
            .get_or_try_init(|| async {
                subjects::subjects_by_id(&self.db)
                    .await
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .await?;
        Ok(all.get(&id).cloned())
    }

    fn forget(&self) {
        let fresh = Arc::new(SubjectsOnce::new());
        match self.all.lock() {
            Ok(mut once) => *once = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }
}

/// The related links of an article, with their targets read with the
/// texts the selection asks of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinksKey {
    /// The article whose links these are.
    pub article: i64,
    /// What the selection reads of the targets (see `types::target_texts`).
    pub targets: Texts,
}

/// The related links of articles, in position order, each with its live
/// target: one statement for a page's links and their targets (one per
/// set of target texts, which a page has one of).
pub struct LinksLoader(Reader);

impl Loader<LinksKey> for LinksLoader {
    type Value = Arc<[Link]>;
    type Error = LoadError;

    async fn load(&self, keys: &[LinksKey]) -> Result<HashMap<LinksKey, Self::Value>, Self::Error> {
        let mut by_texts: HashMap<Texts, Vec<i64>> = HashMap::new();
        for key in keys {
            by_texts.entry(key.targets).or_default().push(key.article);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (targets, ids) in by_texts {
            for (article, links) in lookup::links_with_targets(&self.0, &ids, targets).await? {
                out.insert(LinksKey { article, targets }, links.into());
            }
        }
        Ok(out)
    }
}

/// How many live articles each subject has, by subject id: one grouped
/// count for all the subjects a request lists.
pub struct ArticleCountLoader(DatabaseConnection);

impl Loader<i32> for ArticleCountLoader {
    type Value = u64;
    type Error = LoadError;

    async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        let mut counts = listing::count_by_subject(&self.0, keys).await?;
        Ok(keys
            .iter()
            .map(|k| (*k, counts.remove(k).unwrap_or(0)))
            .collect())
    }
}

/// The loaders of one request (their caches live as long as the request).
#[derive(Clone)]
pub struct Loaders {
    /// Subjects by id.
    pub subjects: Subjects,
    /// Links, with their live targets, by article id.
    pub links: Arc<DataLoader<LinksLoader, HashMapCache>>,
    /// Live article counts by subject id.
    pub article_counts: Arc<DataLoader<ArticleCountLoader, HashMapCache>>,
    /// The long text columns the request's articles are read with.
    pub texts: Texts,
}

/// Loads `keys` at once, without the loader's batching delay, and caches
/// what was found: for a list resolver that knows what its items' fields
/// will ask (see `prefetch`), so they are answered from the cache.
pub async fn prime<K, L>(
    loader: &DataLoader<L, HashMapCache>,
    keys: &[K],
) -> Result<HashMap<K, L::Value>, LoadError>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    L: Loader<K, Error = LoadError>,
{
    let found = loader.loader().load(keys).await?;
    loader.feed_many(found.clone()).await;
    Ok(found)
}

fn cached<L>(loader: L) -> Arc<DataLoader<L, HashMapCache>> {
    Arc::new(DataLoader::with_cache(
        loader,
        tokio::spawn,
        HashMapCache::default(),
    ))
}

impl Loaders {
    /// Fresh loaders: subjects and links read through `reader`, article
    /// counts through `db`; the request's own articles are read with `texts`.
    pub fn new(db: &DatabaseConnection, reader: &Reader, texts: Texts) -> Self {
        Self {
            texts,
            subjects: Subjects::new(reader),
            links: cached(LinksLoader(reader.clone())),
            article_counts: cached(ArticleCountLoader(db.clone())),
        }
    }

    /// Forgets what was loaded, so what resolves next reads the database
    /// anew: each event of a subscription shows the data as it is then.
    pub fn forget(&self) {
        self.subjects.forget();
        self.links.clear::<LinksKey>();
        self.article_counts.clear::<i32>();
    }
}
