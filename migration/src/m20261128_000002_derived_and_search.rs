//! Text derived from the answer at write time (sanitized HTML, plain text)
//! and the English full-text index over title, question and answer:
//! FTS5 (`porter unicode61`) on SQLite, a weighted `tsvector` with a GIN
//! index on PostgreSQL. Both are kept in sync by the database itself. Also
//! partial indexes over live articles in the default list orders.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

use crate::run_all;

/// Adds `answer_html`, `answer_text` and the search index.
#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE article_fts USING fts5(title, question, answer_text, \
     content='article', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER article_fts_insert AFTER INSERT ON article BEGIN \
     INSERT INTO article_fts(rowid, title, question, answer_text) \
     VALUES (new.id, new.title, new.question, new.answer_text); END",
    "CREATE TRIGGER article_fts_delete AFTER DELETE ON article BEGIN \
     INSERT INTO article_fts(article_fts, rowid, title, question, answer_text) \
     VALUES ('delete', old.id, old.title, old.question, old.answer_text); END",
    "CREATE TRIGGER article_fts_update AFTER UPDATE OF title, question, answer_text ON article BEGIN \
     INSERT INTO article_fts(article_fts, rowid, title, question, answer_text) \
     VALUES ('delete', old.id, old.title, old.question, old.answer_text); \
     INSERT INTO article_fts(rowid, title, question, answer_text) \
     VALUES (new.id, new.title, new.question, new.answer_text); END",
    "INSERT INTO article_fts(article_fts) VALUES ('rebuild')",
    // Live articles in the default orders: pages and counts read the index,
    // not the wide article rows. SQLite sorts NULL lowest, so DESC puts it last.
    "CREATE INDEX idx_article_live_date ON article (date DESC, id) WHERE deleted_at IS NULL",
    "CREATE INDEX idx_article_live_score ON article (score DESC, id) WHERE deleted_at IS NULL",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_article_live_score",
    "DROP INDEX IF EXISTS idx_article_live_date",
    "DROP TRIGGER IF EXISTS article_fts_update",
    "DROP TRIGGER IF EXISTS article_fts_delete",
    "DROP TRIGGER IF EXISTS article_fts_insert",
    "DROP TABLE IF EXISTS article_fts",
];

const POSTGRES_UP: &[&str] = &[
    "ALTER TABLE article ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ( \
     setweight(to_tsvector('english', title), 'A') || \
     setweight(to_tsvector('english', question), 'B') || \
     setweight(to_tsvector('english', answer_text), 'C')) STORED",
    "CREATE INDEX idx_article_search ON article USING GIN (search_vector)",
    "CREATE INDEX idx_article_live_date ON article (date DESC NULLS LAST, id) WHERE deleted_at IS NULL",
    "CREATE INDEX idx_article_live_score ON article (score DESC NULLS LAST, id) WHERE deleted_at IS NULL",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_article_live_score",
    "DROP INDEX IF EXISTS idx_article_live_date",
    "DROP INDEX IF EXISTS idx_article_search",
    "ALTER TABLE article DROP COLUMN IF EXISTS search_vector",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds a single column at a time.
        for column in [Article::AnswerHtml, Article::AnswerText] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Article::Table)
                        .add_column(text(column).default(""))
                        .to_owned(),
                )
                .await?;
        }
        match manager.get_database_backend() {
            DbBackend::Sqlite => run_all(manager, SQLITE_UP).await,
            DbBackend::Postgres => run_all(manager, POSTGRES_UP).await,
            other => Err(DbErr::Migration(format!("{other:?} is not supported"))),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run_all(manager, SQLITE_DOWN).await?,
            DbBackend::Postgres => run_all(manager, POSTGRES_DOWN).await?,
            other => return Err(DbErr::Migration(format!("{other:?} is not supported"))),
        }
        for column in [Article::AnswerHtml, Article::AnswerText] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Article::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Article {
    Table,
    AnswerHtml,
    AnswerText,
}
