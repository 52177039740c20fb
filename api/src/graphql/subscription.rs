//! The root `Subscription` type: live article changes over
//! `graphql-transport-ws`.

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::query::article_id;
use super::types::Article;

/// How many changes a slow subscriber may fall behind before it skips some.
const BACKLOG: usize = 1024;

/// The channel mutations announce changed article ids on.
#[derive(Clone)]
pub struct Changes(broadcast::Sender<i64>);

impl Default for Changes {
    fn default() -> Self {
        Self(broadcast::channel(BACKLOG).0)
    }
}

impl Changes {
    /// Announces that article `id` changed (committed).
    pub fn announce(&self, id: i64) {
        // No subscriber is not an error.
        let _ = self.0.send(id);
    }
}

/// Live updates.
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// The article each time it changes (every article when `id` is absent).
    async fn article_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this article.")] id: Option<ID>,
    ) -> Result<impl Stream<Item = Article>> {
        let only = id.as_ref().map(|i| article_id("id", i)).transpose()?;
        let db = ctx.data::<sea_orm::DatabaseConnection>()?.clone();
        let changes = ctx.data::<Changes>()?.0.subscribe();
        Ok(BroadcastStream::new(changes)
            .filter_map(move |r| r.ok().filter(|changed| only.is_none_or(|o| o == *changed)))
            .then(move |changed| {
                let db = db.clone();
                async move {
                    crate::service::article::load(&db, changed)
                        .await
                        .ok()
                        .flatten()
                }
            })
            .filter_map(|stored| stored.filter(|s| !s.is_deleted()).map(|s| Article(s.model))))
    }
}
