//! Database logic on `&impl ConnectionTrait`, shared by the GraphQL
//! resolvers, the importer and the exporter.

pub mod article;
pub mod changes;
pub mod create;
pub mod edit;
pub mod history;
pub mod listener;
pub mod listing;
pub mod lookup;
#[doc(hidden)]
pub mod pause;
pub mod preview;
pub mod related;
pub mod revision;
pub mod score;
pub mod search;
pub mod subject;
pub mod token;
pub mod webhook;
pub mod write;
