//! The initial schema: subjects, articles, aliases, links, revisions, tokens.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates every table and the indexes the API and the importer look things up by.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Subject::Table)
                    .col(pk_auto(Subject::Id))
                    .col(string_uniq(Subject::Slug))
                    .col(string(Subject::Name))
                    .col(timestamp_with_time_zone(Subject::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Article::Table)
                    .col(big_integer(Article::Id).primary_key())
                    .col(string_uniq(Article::Slug))
                    .col(string_uniq(Article::Url))
                    .col(string_uniq(Article::FileName))
                    .col(integer(Article::SubjectId))
                    .col(text(Article::Title))
                    .col(text(Article::ArticleTitle))
                    .col(text(Article::Question))
                    .col(text(Article::Answer))
                    .col(string(Article::Template))
                    .col(date_null(Article::Date))
                    .col(string(Article::DateFormat))
                    .col(string(Article::PostOnText))
                    .col(string_null(Article::Author))
                    .col(text_null(Article::SeoTitle))
                    .col(text_null(Article::SeoDescription))
                    .col(text(Article::SeoKeywords))
                    .col(double_null(Article::Score))
                    .col(text(Article::Body))
                    .col(integer(Article::Version))
                    .col(timestamp_with_time_zone(Article::CreatedAt))
                    .col(timestamp_with_time_zone(Article::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Article::DeletedAt))
                    .col(text_null(Article::SourceText))
                    .col(string_null(Article::SourceHash))
                    .col(text_null(Article::SourcePath))
                    .col(integer_null(Article::ImportedVersion))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Article::Table, Article::SubjectId)
                            .to(Subject::Table, Subject::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_article_subject", Article::SubjectId),
            ("idx_article_date", Article::Date),
            ("idx_article_score", Article::Score),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Article::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ArticleAlias::Table)
                    .col(pk_auto(ArticleAlias::Id))
                    .col(big_integer(ArticleAlias::ArticleId))
                    .col(string(ArticleAlias::Kind))
                    .col(string(ArticleAlias::Value))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ArticleAlias::Table, ArticleAlias::ArticleId)
                            .to(Article::Table, Article::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_article_alias_kind_value")
                    .table(ArticleAlias::Table)
                    .col(ArticleAlias::Kind)
                    .col(ArticleAlias::Value)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_article_alias_article")
                    .table(ArticleAlias::Table)
                    .col(ArticleAlias::ArticleId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ArticleLink::Table)
                    .col(big_integer(ArticleLink::ArticleId))
                    .col(integer(ArticleLink::Position))
                    .col(big_integer(ArticleLink::TargetId))
                    .col(text(ArticleLink::Title))
                    .col(string(ArticleLink::SubjectName))
                    .col(integer(ArticleLink::SubjectId))
                    .col(string(ArticleLink::Url))
                    .primary_key(
                        Index::create()
                            .col(ArticleLink::ArticleId)
                            .col(ArticleLink::Position),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ArticleLink::Table, ArticleLink::ArticleId)
                            .to(Article::Table, Article::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ArticleLink::Table, ArticleLink::SubjectId)
                            .to(Subject::Table, Subject::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_article_link_target")
                    .table(ArticleLink::Table)
                    .col(ArticleLink::TargetId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Revision::Table)
                    .col(big_pk_auto(Revision::Id))
                    .col(big_integer(Revision::ArticleId))
                    .col(integer(Revision::Version))
                    .col(string(Revision::Editor))
                    .col(timestamp_with_time_zone(Revision::At))
                    .col(text_null(Revision::Note))
                    .col(text(Revision::Changes))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Revision::Table, Revision::ArticleId)
                            .to(Article::Table, Article::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_revision_article_version")
                    .table(Revision::Table)
                    .col(Revision::ArticleId)
                    .col(Revision::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EditorToken::Table)
                    .col(pk_auto(EditorToken::Id))
                    .col(string_uniq(EditorToken::Name))
                    .col(string(EditorToken::Role))
                    .col(string(EditorToken::SecretHash))
                    .col(timestamp_with_time_zone(EditorToken::CreatedAt))
                    .col(timestamp_with_time_zone_null(EditorToken::RevokedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EditorToken::Table.into_iden(),
            Revision::Table.into_iden(),
            ArticleLink::Table.into_iden(),
            ArticleAlias::Table.into_iden(),
            Article::Table.into_iden(),
            Subject::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Subject {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
}

// Variants name columns; `article_title` is the seed's own key.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Article {
    Table,
    Id,
    Slug,
    Url,
    FileName,
    SubjectId,
    Title,
    ArticleTitle,
    Question,
    Answer,
    Template,
    Date,
    DateFormat,
    PostOnText,
    Author,
    SeoTitle,
    SeoDescription,
    SeoKeywords,
    Score,
    Body,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    SourceText,
    SourceHash,
    SourcePath,
    ImportedVersion,
}

#[derive(DeriveIden)]
enum ArticleAlias {
    Table,
    Id,
    ArticleId,
    Kind,
    Value,
}

#[derive(DeriveIden)]
enum ArticleLink {
    Table,
    ArticleId,
    Position,
    TargetId,
    Title,
    SubjectName,
    SubjectId,
    Url,
}

#[derive(DeriveIden)]
enum Revision {
    Table,
    Id,
    ArticleId,
    Version,
    Editor,
    At,
    Note,
    Changes,
}

#[derive(DeriveIden)]
enum EditorToken {
    Table,
    Id,
    Name,
    Role,
    SecretHash,
    CreatedAt,
    RevokedAt,
}
