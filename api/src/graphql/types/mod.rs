//! The GraphQL object types: thin wrappers over the entities, each nested
//! edge resolved through the request's DataLoaders, each list a
//! [`Connection`].

mod article;
mod connection;
mod revision;
mod subject;

use async_graphql::{
    Context, InputValueError, InputValueResult, Result, Scalar, ScalarType, Value,
};
use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

pub use article::{Article, CARD_FIELDS, RelatedArticle, Seo, texts_named_in};
pub use connection::{
    ArticleConnection, Connection, Edge, Nodes, RevisionConnection, SearchConnection, SearchMatch,
    Total,
};
pub use revision::{FieldChange, Revision};
pub use subject::{ArticleOrderInput, Subject};

use super::loaders::{Loaders, loader_error};
use crate::error::Error;
use crate::surrogate::{Key, Keys};
use async_graphql::ErrorExtensions;

/// An ISO 8601 calendar date, e.g. `2024-12-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar date without time zone, an RFC 3339 `full-date` (ISO 8601
/// `YYYY-MM-DD`), e.g. `2024-12-11`.
#[Scalar(
    name = "Date",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => crate::fields::parse_date(s).map(Date).ok_or_else(|| {
                InputValueError::custom(format!("`{s}` is not a date (YYYY-MM-DD)"))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

fn database<'a>(ctx: &Context<'a>) -> Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

async fn subject_of(ctx: &Context<'_>, id: i32) -> Result<Subject> {
    loaders(ctx)?
        .subjects
        .get(id)
        .await
        .map_err(loader_error)?
        .map(|subject| Subject::shown(ctx, subject))
        .ok_or_else(|| Error::Internal(format!("subject {id} is missing")).extend())
}

/// Records that the response shows what `key` names, for its surrogate
/// keys (see [`crate::surrogate`]); nothing where no keys are collected
/// (a subscription's events, which no cache keeps).
pub fn shows(ctx: &Context<'_>, key: Key) {
    if let Some(keys) = ctx.data_opt::<Keys>() {
        keys.add(key);
    }
}
