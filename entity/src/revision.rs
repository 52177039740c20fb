//! The revision history: who changed which fields of an article, when and why.

use sea_orm::entity::prelude::*;

/// One revision: the change that produced `version` of an article.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revision")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The article changed.
    pub article_id: i64,
    /// The article's version after this change; unique per article.
    pub version: i32,
    /// Token name of the editor, or `import`.
    pub editor: String,
    /// When the change was made.
    pub at: DateTimeUtc,
    /// The editor's note.
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    /// JSON array of `{"field", "before", "after"}`, values as JSON text.
    #[sea_orm(column_type = "Text")]
    pub changes: String,
}

/// Relations of a revision.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The article changed.
    #[sea_orm(
        belongs_to = "super::article::Entity",
        from = "Column::ArticleId",
        to = "super::article::Column::Id",
        on_delete = "Cascade"
    )]
    Article,
}

impl Related<super::article::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Article.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
