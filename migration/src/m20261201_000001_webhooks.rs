//! Change webhooks: the endpoints (`webhook`), the changes committed and
//! not yet handed to them (`webhook_outbox`, written in the transaction of
//! the change), and one delivery per endpoint and change with its state
//! (`webhook_delivery`).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `webhook`, `webhook_outbox` and `webhook_delivery`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhook::Table)
                    .col(pk_auto(Webhook::Id))
                    .col(string_uniq(Webhook::Url))
                    .col(text(Webhook::Events))
                    .col(string(Webhook::Secret))
                    .col(timestamp_with_time_zone(Webhook::CreatedAt))
                    .to_owned(),
            )
            .await?;

        // Big keys: an id is never reused (AUTOINCREMENT on SQLite), so a
        // receiver can tell changes and deliveries apart by it for good.
        manager
            .create_table(
                Table::create()
                    .table(WebhookOutbox::Table)
                    .col(big_pk_auto(WebhookOutbox::Id))
                    .col(string(WebhookOutbox::Event))
                    .col(big_integer(WebhookOutbox::ArticleId))
                    .col(integer(WebhookOutbox::Version))
                    .col(integer(WebhookOutbox::SubjectId))
                    .col(string(WebhookOutbox::SubjectName))
                    .col(string(WebhookOutbox::SubjectSlug))
                    .col(integer_null(WebhookOutbox::OldSubjectId))
                    .col(string_null(WebhookOutbox::OldUrl))
                    .col(string_null(WebhookOutbox::NewUrl))
                    .col(timestamp_with_time_zone(WebhookOutbox::CommittedAt))
                    // The largest webhook id when the row was written: the
                    // change goes to the webhooks that existed then, not to
                    // one added before the row is handed out.
                    .col(integer(WebhookOutbox::LastWebhookId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDelivery::Table)
                    .col(big_pk_auto(WebhookDelivery::Id))
                    .col(integer(WebhookDelivery::WebhookId))
                    .col(big_integer(WebhookDelivery::ChangeId))
                    .col(string(WebhookDelivery::Event))
                    .col(big_integer(WebhookDelivery::ArticleId))
                    .col(integer(WebhookDelivery::Version))
                    .col(text(WebhookDelivery::Body))
                    .col(string(WebhookDelivery::Status))
                    .col(integer(WebhookDelivery::Attempts))
                    .col(timestamp_with_time_zone(WebhookDelivery::NextAttemptAt))
                    .col(integer_null(WebhookDelivery::LastStatus))
                    .col(text_null(WebhookDelivery::LastError))
                    .col(timestamp_with_time_zone(WebhookDelivery::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDelivery::LastAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(WebhookDelivery::FinishedAt))
                    .col(timestamp_with_time_zone_null(WebhookDelivery::LeasedUntil))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDelivery::Table, WebhookDelivery::WebhookId)
                            .to(Webhook::Table, Webhook::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The worker's question: which pending deliveries are due first.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_due")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::Status)
                    .col(WebhookDelivery::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // The attempts in flight, which a claim counts per webhook.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_leased")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::LeasedUntil)
                    .to_owned(),
            )
            .await?;
        // Removing a webhook deletes its deliveries by this column, and a
        // failed attempt moves the webhook's other due ones by it.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_delivery_webhook")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::WebhookId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Deliveries first: they refer to their webhook.
        manager
            .drop_table(Table::drop().table(WebhookDelivery::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookOutbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Webhook::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Webhook {
    Table,
    Id,
    Url,
    Events,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookOutbox {
    Table,
    Id,
    Event,
    ArticleId,
    Version,
    SubjectId,
    SubjectName,
    SubjectSlug,
    OldSubjectId,
    OldUrl,
    NewUrl,
    CommittedAt,
    LastWebhookId,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    WebhookId,
    ChangeId,
    Event,
    ArticleId,
    Version,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LastStatus,
    LastError,
    CreatedAt,
    LastAttemptAt,
    FinishedAt,
    LeasedUntil,
}
