//! Change webhooks: the endpoints told of every committed change.

use sea_orm::entity::prelude::*;

/// One endpoint.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook")]
pub struct Model {
    /// Surrogate key, as `webhook list` shows it.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The `http` or `https` url POSTed to; unique.
    #[sea_orm(unique)]
    pub url: String,
    /// The event names it wants, comma-separated, or `*` for every event.
    #[sea_orm(column_type = "Text")]
    pub events: String,
    /// The HMAC-SHA256 key of its signatures. Stored as it is: signing
    /// needs it, unlike a token, which only needs to be recognized.
    pub secret: String,
    /// When it was added.
    pub created_at: DateTimeUtc,
}

/// Relations of a webhook.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Its deliveries.
    #[sea_orm(has_many = "super::webhook_delivery::Entity")]
    Delivery,
}

impl Related<super::webhook_delivery::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Delivery.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
