//! The sea-orm entities of quicktakes: one module per table, and
//! reading their models from rows by position.

pub mod article;
pub mod article_alias;
pub mod article_link;
pub mod editor_token;
pub mod revision;
pub mod row;
pub mod subject;
pub mod webhook;
pub mod webhook_delivery;
pub mod webhook_outbox;

pub mod prelude {
    //! The entities under their table names, for `use entity::prelude::*`.
    pub use super::article::Entity as Article;
    pub use super::article_alias::Entity as ArticleAlias;
    pub use super::article_link::Entity as ArticleLink;
    pub use super::editor_token::Entity as EditorToken;
    pub use super::revision::Entity as Revision;
    pub use super::subject::Entity as Subject;
    pub use super::webhook::Entity as Webhook;
    pub use super::webhook_delivery::Entity as WebhookDelivery;
    pub use super::webhook_outbox::Entity as WebhookOutbox;
}
