//! Webhook deliveries: one per endpoint and change, with its state, so
//! every attempt and its outcome can be looked up.

use sea_orm::entity::prelude::*;

/// One change to be POSTed (or POSTed) to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    /// Surrogate key, sent as `X-Quicktakes-Delivery`.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The endpoint.
    pub webhook_id: i32,
    /// The change (its outbox id, the body's `eventId`).
    pub change_id: i64,
    /// The event name.
    pub event: String,
    /// The article.
    pub article_id: i64,
    /// Its version after the change.
    pub version: i32,
    /// The JSON body, the same bytes at every attempt.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// `pending`, `delivered` or `failed` (no attempt left).
    pub status: String,
    /// Attempts started so far.
    pub attempts: i32,
    /// When the next attempt is due (while pending; while an attempt runs,
    /// when another instance may take it over). By the database's clock,
    /// like every time the worker writes.
    pub next_attempt_at: DateTimeUtc,
    /// The HTTP status of the last answer, if one came.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, if it did.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// When the delivery was made from its change.
    pub created_at: DateTimeUtc,
    /// When the last attempt started.
    pub last_attempt_at: Option<DateTimeUtc>,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTimeUtc>,
    /// While an attempt is in flight, when its lease runs out (then another
    /// instance may take the delivery over); none between attempts.
    pub leased_until: Option<DateTimeUtc>,
}

/// Relations of a delivery.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The endpoint.
    #[sea_orm(
        belongs_to = "super::webhook::Entity",
        from = "Column::WebhookId",
        to = "super::webhook::Column::Id",
        on_delete = "Cascade"
    )]
    Webhook,
}

impl Related<super::webhook::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Webhook.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
