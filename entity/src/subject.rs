//! A subject groups articles (`Medicine`, `Health Studies`); its slug is the url segment.

use sea_orm::entity::prelude::*;

/// One subject. Created by the import from an article's own `subject` or from a
/// related link's url, so a subject can exist before any of its articles.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subject")]
pub struct Model {
    /// Surrogate key.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Url segment, e.g. `health-studies`; unique.
    #[sea_orm(unique)]
    pub slug: String,
    /// Display name, e.g. `Health Studies`.
    pub name: String,
    /// When the subject first appeared.
    pub created_at: DateTimeUtc,
}

/// Relations of a subject.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The articles filed under this subject.
    #[sea_orm(has_many = "super::article::Entity")]
    Article,
}

impl Related<super::article::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Article.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
