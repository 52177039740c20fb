//! The columns of the field table: what one row says about a field.

use serde_json::Value;

use super::{ArticleFields, FieldProblem};

/// How a seed file writes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `key: >-` then the value on one indented line.
    Folded,
    /// `key: value`.
    Plain,
    /// `key: "value"`.
    Quoted,
}

/// The type of a seed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A positive integer, required.
    Id,
    /// Text; `required` ones must be present.
    Text {
        /// Whether the key must be present.
        required: bool,
    },
    /// The answer: required text with the seed's escapes.
    Answer,
    /// The url: required, `/learn/<subject>/questions/<slug>`.
    Url,
    /// A date written `YYYY-MM-DD`.
    Date,
    /// A number; `-1` for unscored.
    Score,
    /// Keywords joined by commas.
    Keywords,
}

/// When a fresh file (an article with no source) writes a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Whenever it has a value.
    Always,
    /// Only when its value is not the default.
    WhenSet,
}

/// A key of the seed front matter.
#[derive(Debug, Clone, Copy)]
pub struct SeedKey {
    /// The mapping the key sits in (`seo`), `None` at the top level.
    pub parent: Option<&'static str>,
    /// The key.
    pub key: &'static str,
    /// Its value's type.
    pub kind: Kind,
    /// How a new key is written.
    pub style: Style,
    /// The value a reader assumes when the key is absent.
    pub default: Option<fn(&ArticleFields) -> Value>,
    /// When a fresh file writes it.
    pub written: Written,
}

/// Where a field lives in a seed file.
#[derive(Debug, Clone, Copy)]
pub enum Seed {
    /// A key of the front matter.
    Key(SeedKey),
    /// Derived from the url (problems point at `url`).
    FromUrl,
    /// The `related_articleN` mappings.
    Links,
    /// The text after the front matter.
    Body,
}

/// How editors may change a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Through `updateArticle` (`ArticleInput`).
    Input,
    /// Through its own mutation (`setScore`, `setRelated`).
    Own,
    /// Only brought back by a revert.
    Revert,
    /// Derived from other fields: recorded in revisions, never submitted.
    Derived,
    /// The identity: neither changed nor recorded.
    Key,
}

/// One row of the table.
pub struct Spec {
    /// The GraphQL name, also the name in stored revisions.
    pub graphql: &'static str,
    /// Where the field lives in a seed file.
    pub seed: Seed,
    /// How editors may change it.
    pub edit: Edit,
    /// Its value as revisions store it.
    pub get: fn(&ArticleFields) -> Value,
    /// Sets it from a value as [`Spec::get`] gives it; `None` when the value has the wrong shape.
    pub set: fn(&mut ArticleFields, &Value) -> Option<()>,
    /// Adds what is wrong with it to the list.
    pub check: fn(&ArticleFields, &mut Vec<FieldProblem>),
}

// Helpers that build the rows.

pub(super) fn put<T>(slot: &mut T, value: Option<T>) -> Option<()> {
    *slot = value?;
    Some(())
}

pub(super) fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

pub(super) fn opt_text(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    }
}

pub(super) const fn key(key: &'static str, kind: Kind, style: Style) -> SeedKey {
    SeedKey {
        parent: None,
        key,
        kind,
        style,
        default: None,
        written: Written::Always,
    }
}

pub(super) const fn seo(key: &'static str, style: Style) -> SeedKey {
    SeedKey {
        parent: Some("seo"),
        ..self::key(key, Kind::Text { required: false }, style)
    }
}

pub(super) const REQUIRED: Kind = Kind::Text { required: true };
pub(super) const OPTIONAL: Kind = Kind::Text { required: false };

pub(super) fn no_check(_: &ArticleFields, _: &mut Vec<FieldProblem>) {}
