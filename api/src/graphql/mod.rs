//! The GraphQL schema: root types, object types, loaders and paging.

pub mod error;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod order;
pub mod pagination;
pub mod policy;
pub mod query;
pub mod request;
pub mod subscription;
pub mod types;

use async_graphql::{ID, SDLExportOptions, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

pub use policy::Api;

use crate::service::changes::ChangeSink;

/// The schema type.
pub type QuickSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// The schema's types with the descriptions async-graphql's own types lack
/// or word for Rust rather than for clients. Every way to get the schema
/// starts here, so the server, its `/schema.graphql` and the committed
/// SDL describe the same types.
fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .override_output_type_description::<chrono::DateTime<chrono::Utc>>(
            "An instant, an RFC 3339 `date-time` in UTC, e.g. `2024-12-11T09:30:00+00:00`.",
        )
        .override_output_type_description::<ID>(
            "A unique identifier, serialized as a string: an article's id such as `\"118109\"`, or a subject's. Accepted as a string or an integer.",
        )
}

/// Builds the schema behind its policy. The database connection, the
/// change sink (where mutations announce their committed changes, and
/// subscriptions listen) and how reader pages are linked are schema-wide data; loaders and the editor are
/// added per request. async-graphql's own depth, complexity and directive
/// limits are not used: they expand every fragment spread anew, and the
/// policy has measured the document once before they would run.
pub fn build_api(
    db: DatabaseConnection,
    changes: ChangeSink,
    limits: &limits::Limits,
    preview: crate::preview::PreviewLinks,
) -> Api {
    let builder = builder().data(db).data(changes).data(preview);
    // The policy refuses `__schema`/`__type` first, with its code; this
    // keeps the schema itself from answering them either way.
    let schema = if limits.introspection_enabled() {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    };
    Api::new(schema, *limits)
}

/// The SDL of `schema`, with the `@specifiedBy` URLs introspection shows
/// (async-graphql leaves them out unless asked), so the SDL and
/// introspection agree.
pub fn sdl_of(schema: &QuickSchema) -> String {
    schema.sdl_with_options(SDLExportOptions::new().include_specified_by())
}

/// The schema in SDL, as committed in `api/schema.graphql` and served at
/// `/schema.graphql`.
pub fn sdl() -> String {
    sdl_of(&builder().finish())
}
