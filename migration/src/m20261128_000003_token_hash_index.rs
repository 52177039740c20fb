//! Tokens are looked up by the hash of the secret a request presents.

use sea_orm_migration::prelude::*;

/// A unique index on `editor_token.secret_hash`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_editor_token_secret_hash")
                    .table(EditorToken::Table)
                    .col(EditorToken::SecretHash)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_editor_token_secret_hash")
                    .table(EditorToken::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum EditorToken {
    Table,
    SecretHash,
}
