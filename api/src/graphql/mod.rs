//! The GraphQL schema: root types, object types, loaders and paging.

pub mod error;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod order;
pub mod pagination;
pub mod policy;
pub mod query;
pub mod subscription;
pub mod types;

use async_graphql::Schema;
use sea_orm::DatabaseConnection;

use crate::service::changes::ChangeSink;

/// The schema type.
pub type QuickSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Builds the schema. The database connection and the change sink (where
/// mutations announce their committed changes, and subscriptions listen)
/// are schema-wide data; loaders and the editor are added per request.
/// async-graphql's own depth, complexity and directive limits are not used:
/// they expand every fragment spread anew, and [`policy::Policy`] has
/// measured the document once before they would run.
pub fn build_schema(
    db: DatabaseConnection,
    changes: ChangeSink,
    limits: &limits::Limits,
) -> QuickSchema {
    let builder = Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .data(db)
        .data(changes)
        .extension(policy::Policy::new(*limits));
    // The policy refuses `__schema`/`__type` first, with its code; this
    // keeps the schema itself from answering them either way.
    if limits.introspection_enabled() {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema in SDL, as committed in `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .finish()
        .sdl()
}
