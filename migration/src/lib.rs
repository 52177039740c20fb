//! Schema migrations of quicktakes (schema only: data comes from the seed import).

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_tables;
mod m20261128_000002_derived_and_search;
mod m20261128_000003_token_hash_index;
mod m20261129_000001_article_language;
mod m20261130_000001_article_live_index;
mod m20261130_000002_subject_listing_index;
mod m20261201_000001_webhooks;

/// Runs `statements` in order, on one connection: the migrations whose SQL
/// differs by backend. (One by one, they could each take another pooled
/// SQLite connection, whose cached schema need not yet know what the one
/// before dropped: a `CREATE INDEX` after a `DROP INDEX` of the same name
/// then failed with "already exists".)
async fn run_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(&statements.join(";\n"))
        .await?;
    Ok(())
}

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_tables::Migration),
            Box::new(m20261128_000002_derived_and_search::Migration),
            Box::new(m20261128_000003_token_hash_index::Migration),
            Box::new(m20261129_000001_article_language::Migration),
            Box::new(m20261130_000001_article_live_index::Migration),
            Box::new(m20261130_000002_subject_listing_index::Migration),
            Box::new(m20261201_000001_webhooks::Migration),
        ]
    }
}
