//! The GraphQL schema: root types, object types, loaders and paging.

pub mod error;
pub mod loaders;
pub mod mutation;
pub mod pagination;
pub mod query;
pub mod subscription;
pub mod types;

use async_graphql::Schema;
use sea_orm::DatabaseConnection;

/// The schema type.
pub type QuickSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Builds the schema. The database connection and the change channel are
/// schema-wide data; loaders and the editor are added per request.
pub fn build_schema(db: DatabaseConnection, limits: &crate::http::Limits) -> QuickSchema {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .data(db)
        .data(subscription::Changes::default())
        .limit_complexity(limits.complexity)
        // The HTTP layer checks depth and directives first, with precise
        // messages; these are the schema's own guard for other entry points.
        .limit_depth(limits.depth)
        .limit_directives(limits.directives)
        .finish()
}

/// The schema in SDL, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .finish()
        .sdl()
}
