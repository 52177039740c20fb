//! A covering index of each article's id, tombstone and subject, on SQLite.
//! SQLite stores a row's columns in order, and `deleted_at` and
//! `subject_id`'s neighbours sit after the long texts: checking that a
//! search match is live read each matching row's overflow pages (half of a
//! search's time for a word most articles hold). The search reads them from
//! this index instead. PostgreSQL keeps long values out of line (TOAST) and
//! needs none.

use sea_orm_migration::prelude::*;

/// Creates `idx_article_live` on SQLite.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index's name, as the search names it (`INDEXED BY`).
const INDEX: &str = "idx_article_live";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Article::Table)
                    .col(Article::Id)
                    .col(Article::DeletedAt)
                    .col(Article::SubjectId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .drop_index(Index::drop().name(INDEX).table(Article::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Article {
    Table,
    Id,
    DeletedAt,
    SubjectId,
}
