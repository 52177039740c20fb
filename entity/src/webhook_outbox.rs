//! Committed changes not yet handed to the webhooks: each row is written
//! in the transaction of its change, so it exists exactly when the change
//! committed, and is replaced by the change's deliveries.

use sea_orm::entity::prelude::*;

/// One committed change of one article.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_outbox")]
pub struct Model {
    /// The change's id, never reused: the `eventId` its deliveries carry.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The event name, e.g. `article.updated`.
    pub event: String,
    /// The article.
    pub article_id: i64,
    /// Its version after the change.
    pub version: i32,
    /// Its subject after the change.
    pub subject_id: i32,
    /// That subject's name at the change.
    pub subject_name: String,
    /// That subject's slug at the change.
    pub subject_slug: String,
    /// Its subject before the change (none when it was created).
    pub old_subject_id: Option<i32>,
    /// Where readers found it before the change (none when it was
    /// created, or deleted until this change).
    pub old_url: Option<String>,
    /// Where readers find it after the change (none once deleted).
    pub new_url: Option<String>,
    /// When the change was made, by the database's clock: as its
    /// transaction wrote this row, just before it committed.
    pub committed_at: DateTimeUtc,
    /// The largest webhook id when this row was written: only webhooks up
    /// to it (that still want the event) get the change.
    pub last_webhook_id: i32,
}

/// An outbox row has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
