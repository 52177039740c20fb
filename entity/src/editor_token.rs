//! Editor credentials: only a hash of each secret is stored.

use sea_orm::entity::prelude::*;

/// One named editor token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "editor_token")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Name shown in revisions; unique.
    #[sea_orm(unique)]
    pub name: String,
    /// `editor` or `admin`.
    pub role: String,
    /// Hash of the secret, never the secret itself.
    pub secret_hash: String,
    /// When the token was created.
    pub created_at: DateTimeUtc,
    /// Set once the token is revoked.
    pub revoked_at: Option<DateTimeUtc>,
}

/// An editor token has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
