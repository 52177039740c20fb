//! The GraphQL schema: root types, object types, loaders and paging.

pub mod error;
pub mod loaders;
pub mod pagination;
pub mod query;
pub mod types;

use async_graphql::{EmptyMutation, EmptySubscription, Schema};
use sea_orm::DatabaseConnection;

/// The schema type.
pub type QuickSchema = Schema<query::Query, EmptyMutation, EmptySubscription>;

/// Builds the schema; the database connection is schema-wide data, the
/// loaders are added per request.
pub fn build_schema(db: DatabaseConnection) -> QuickSchema {
    Schema::build(query::Query, EmptyMutation, EmptySubscription)
        .data(db)
        .finish()
}

/// The schema in SDL, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(query::Query, EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}
