//! Change webhooks: the endpoints told of every committed change.

use sea_orm::entity::prelude::*;

/// One endpoint. Its `Debug` never shows the secret, nor the url's query
/// (a build hook's url often carries a token).
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
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

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("id", &self.id)
            .field("url", &redacted_url(&self.url))
            .field("events", &self.events)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// `url` without its query (nor a fragment), marked as left out.
fn redacted_url(url: &str) -> std::borrow::Cow<'_, str> {
    match url.find(['?', '#']) {
        Some(at) => format!("{}?<redacted>", &url[..at]).into(),
        None => url.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_the_secret_nor_the_query() {
        let hook = Model {
            id: 7,
            url: "https://ci.example.org/build?token=hush".to_owned(),
            events: "*".to_owned(),
            secret: "whsec_hush".to_owned(),
            created_at: DateTimeUtc::UNIX_EPOCH,
        };
        let shown = format!("{hook:?}");
        assert!(!shown.contains("hush"), "{shown}");
        assert!(
            shown.contains("https://ci.example.org/build?<redacted>"),
            "{shown}"
        );
        assert!(shown.contains("secret: \"<redacted>\""), "{shown}");
    }
}
