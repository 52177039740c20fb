//! Database logic on `&impl ConnectionTrait`, shared by the GraphQL
//! resolvers, the importer and the exporter.

pub mod article;
pub mod edit;
pub mod listing;
#[doc(hidden)]
pub mod pause;
pub mod revision;
pub mod search;
pub mod subject;
pub mod token;
