//! The root `Subscription` type: live article changes over
//! `graphql-transport-ws`, as the [`ChangeSink`] delivers them.

use async_graphql::{Context, ErrorExtensions, ID, Result, Subscription};
use futures_util::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::loaders::Loaders;
use super::query::article_id;
use super::request::Primary;
use super::types::Article;
use crate::service::changes::ChangeSink;
use crate::service::lookup::{self, ArticleKey};

/// Live updates.
pub struct Subscription;

/// Live updates over `/graphql/ws` (`graphql-transport-ws`): each event
/// is sent after its change committed.
#[Subscription]
impl Subscription {
    /// The article each time it changes (every article when `id` is absent).
    async fn article_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this article.")] id: Option<ID>,
    ) -> Result<impl Stream<Item = Result<Article>>> {
        let only = id.as_ref().map(|i| article_id("id", i)).transpose()?;
        // The primary: the change is committed there, and a replica may
        // not have replayed it yet when the event arrives.
        let db = ctx.data::<Primary>()?.0.clone();
        let loaders = ctx.data::<Loaders>()?.clone();
        let changes = ctx.data::<ChangeSink>()?.subscribe();
        // A subscriber that fell behind skips what it missed; a deleted
        // article is not sent; an article that could not be read is an
        // event with the (masked, logged) error. Events resolve one after another, so
        // forgetting the loaders' caches before each gives every event
        // fresh nested data (a subject renamed between two events shows
        // its new name in the second).
        Ok(BroadcastStream::new(changes)
            .filter_map(move |r| r.ok().filter(|changed| only.is_none_or(|o| o == *changed)))
            .then(move |changed| {
                let db = db.clone();
                loaders.forget();
                let texts = loaders.texts;
                async move { lookup::live_article(&db, ArticleKey::Id(changed), texts).await }
            })
            .filter_map(|live| match live {
                Ok(live) => live.map(|a| Ok(Article::in_event(a))),
                Err(error) => Some(Err(error.extend())),
            }))
    }
}
