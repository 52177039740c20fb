//! The columns of the field table: what one row says about a field.

use entity::article;
use serde_json::Value;

use super::{ArticleFields, Field, FieldProblem};

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

/// How a field is read from and written to its `article` column.
#[derive(Clone, Copy)]
pub struct Column {
    /// Reads it from the row.
    pub load: fn(&article::Model, &mut ArticleFields),
    /// Writes it to the row.
    pub store: fn(&ArticleFields, &mut article::ActiveModel),
}

/// One row of the table.
pub struct Spec {
    /// The GraphQL name, also the name in stored revisions.
    pub graphql: &'static str,
    /// Where the field lives in a seed file.
    pub seed: Seed,
    /// How editors may change it.
    pub edit: Edit,
    /// How it is stored in its `article` column; `None` when it lives elsewhere.
    pub column: Option<Column>,
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

impl Field {
    /// The GraphQL name, also the name in stored revisions.
    pub fn graphql(self) -> &'static str {
        self.spec().graphql
    }

    /// The field of a GraphQL (revision) name; `None` for names that are
    /// not a field (`deleted`).
    pub fn from_graphql(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.graphql() == name)
    }

    /// The key path a seed file writes it under (`seo.page_keywords`), which
    /// problems with it name.
    pub fn seed_path(self) -> String {
        match self.spec().seed {
            Seed::Key(SeedKey {
                parent: Some(parent),
                key,
                ..
            }) => format!("{parent}.{key}"),
            Seed::Key(k) => k.key.to_owned(),
            Seed::FromUrl => "url".to_owned(),
            Seed::Links => "related".to_owned(),
            Seed::Body => "body".to_owned(),
        }
    }

    /// Its front-matter key, if it has one.
    pub fn seed_key(self) -> Option<SeedKey> {
        match self.spec().seed {
            Seed::Key(k) => Some(k),
            _ => None,
        }
    }

    /// Its value in `a`, as revisions store it.
    pub fn get(self, a: &ArticleFields) -> Value {
        (self.spec().get)(a)
    }

    /// Sets it in `a` from a value as [`Field::get`] gives it; `None` when
    /// the value has the wrong shape.
    pub fn set(self, a: &mut ArticleFields, value: &Value) -> Option<()> {
        (self.spec().set)(a, value)
    }

    /// How editors may change it.
    pub fn edit(self) -> Edit {
        self.spec().edit
    }

    /// Whether revisions record it.
    pub fn is_revised(self) -> bool {
        self.edit() != Edit::Key
    }

    /// Whether a revert submits it (every value not derived from others).
    pub fn is_reverted(self) -> bool {
        matches!(self.edit(), Edit::Input | Edit::Own | Edit::Revert)
    }
}

/// The front-matter keys the table knows (and their parents, `seo`); any
/// other key of a seed is kept as it is.
pub fn is_known_key(name: &str) -> bool {
    Field::ALL
        .into_iter()
        .filter_map(Field::seed_key)
        .any(|k| k.parent.map_or(k.key == name, |p| p == name))
}

/// Gives every field still at its empty value (`ArticleFields::default()`)
/// that has a seed default the value a seed without its key reads as.
/// `None` when a default has the wrong shape (a bug in the table).
pub fn fill_defaults(a: &mut ArticleFields) -> Option<()> {
    let empty = ArticleFields::default();
    for field in Field::ALL {
        if let Some(default) = field.seed_key().and_then(|k| k.default)
            && field.get(a) == field.get(&empty)
        {
            let value = default(a);
            field.set(a, &value)?;
        }
    }
    Some(())
}

/// Every field checked, problems in table order.
pub fn check_all(a: &ArticleFields) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    for field in Field::ALL {
        (field.spec().check)(a, &mut problems);
    }
    problems
}
