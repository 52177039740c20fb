//! Ordered "related article" links, with the link's own copy of the target's
//! title, subject and url so a link to an article not yet loaded still shows.

use sea_orm::entity::prelude::*;

/// One related link of an article.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "article_link")]
pub struct Model {
    /// The linking article.
    #[sea_orm(primary_key, auto_increment = false)]
    pub article_id: i64,
    /// 1-based position (`related_articleN`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    /// The target's seed id; the target need not be loaded.
    pub target_id: i64,
    /// The link's copy of the target's title.
    #[sea_orm(column_type = "Text")]
    pub title: String,
    /// The link's copy of the target's subject name.
    pub subject_name: String,
    /// The subject named by the link's url.
    pub subject_id: i32,
    /// The link's copy of the target's url.
    pub url: String,
}

/// Relations of a link.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The linking article.
    #[sea_orm(
        belongs_to = "super::article::Entity",
        from = "Column::ArticleId",
        to = "super::article::Column::Id",
        on_delete = "Cascade"
    )]
    Article,
    /// The subject named by the link.
    #[sea_orm(
        belongs_to = "super::subject::Entity",
        from = "Column::SubjectId",
        to = "super::subject::Column::Id"
    )]
    Subject,
}

impl Related<super::article::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Article.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
