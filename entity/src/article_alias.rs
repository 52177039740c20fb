//! Slugs and urls an article had before an edit, so old links keep finding it.

use sea_orm::entity::prelude::*;

/// One previous slug or url of an article.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "article_alias")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The article that had this slug or url.
    pub article_id: i64,
    /// `slug` or `url`.
    pub kind: String,
    /// The old slug or url; unique per kind.
    pub value: String,
}

/// Relations of an alias.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The article the alias points at.
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
