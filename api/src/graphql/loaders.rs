//! DataLoaders for every nested edge, so a page of articles with their
//! subjects, links and link targets costs a fixed number of statements.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{article, article_link, subject};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

/// Subjects by id. Subjects are few, so the first lookup of a request loads
/// them all: every later one is a cache hit, and a page costs one statement
/// for subjects however many articles and links it holds.
pub struct SubjectLoader(DatabaseConnection);

impl Loader<i32> for SubjectLoader {
    type Value = subject::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, _keys: &[i32]) -> Result<HashMap<i32, Self::Value>, Self::Error> {
        Ok(subject::Entity::find()
            .all(&self.0)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect())
    }
}

/// Live articles by id (link targets). Every key gets an entry, `None` for
/// an article not loaded (or deleted), so misses are cached too and a
/// dangling link is looked up once per request, not once per mention.
pub struct ArticleLoader(DatabaseConnection);

impl Loader<i64> for ArticleLoader {
    type Value = Option<article::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let mut out: HashMap<i64, Self::Value> = keys.iter().map(|k| (*k, None)).collect();
        for a in article::Entity::find()
            .filter(article::Column::Id.is_in(keys.iter().copied()))
            .filter(article::Column::DeletedAt.is_null())
            .all(&self.0)
            .await?
        {
            out.insert(a.id, Some(a));
        }
        Ok(out)
    }
}

/// The related links of articles, by article id, in position order.
pub struct LinksLoader(DatabaseConnection);

impl Loader<i64> for LinksLoader {
    type Value = Vec<article_link::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let mut out: HashMap<i64, Self::Value> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for link in article_link::Entity::find()
            .filter(article_link::Column::ArticleId.is_in(keys.iter().copied()))
            .order_by_asc(article_link::Column::ArticleId)
            .order_by_asc(article_link::Column::Position)
            .all(&self.0)
            .await?
        {
            out.entry(link.article_id).or_default().push(link);
        }
        Ok(out)
    }
}

/// The loaders of one request (their caches live as long as the request;
/// shared by the requests of one batch).
#[derive(Clone)]
pub struct Loaders {
    /// Subjects by id.
    pub subjects: Arc<DataLoader<SubjectLoader, HashMapCache>>,
    /// Live articles by id.
    pub articles: Arc<DataLoader<ArticleLoader, HashMapCache>>,
    /// Links by article id.
    pub links: Arc<DataLoader<LinksLoader, HashMapCache>>,
}

impl Loaders {
    /// Fresh loaders over `db`.
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            subjects: Arc::new(DataLoader::with_cache(
                SubjectLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            )),
            articles: Arc::new(DataLoader::with_cache(
                ArticleLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            )),
            links: Arc::new(DataLoader::with_cache(
                LinksLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            )),
        }
    }
}
