//! The one table of an article's fields. Each row says, for one field: its
//! GraphQL name (also its name in stored revisions), where it lives in a seed
//! file, how to read and write it as the JSON value revisions store, how it
//! is validated, how it is stored in its `article` column, and how editors
//! may change it. Merge, revisions, revert, import, export, loading and
//! saving rows and the GraphQL input all go through it, so a field name
//! outside this file is a variant, never a string that could be misspelled.
//!
//! Adding a field: a variant in [`Field`], [`Field::ALL`] (and
//! [`Field::FILE_ORDER`] when it has a seed key), its row in
//! [`Field::spec`], its member of `ArticleFields`; its column in the entity
//! and a migration; and, if editors may change it, a member of
//! `ArticleInput` and a resolver on `Article`.

use serde_json::Value;

pub use super::spec::{
    Column, Edit, Kind, Seed, SeedKey, Spec, Style, Written, check_all, fill_defaults, is_known_key,
};
use super::spec::{OPTIONAL, REQUIRED, key, no_check, opt_text, put, seo, text};
use super::{
    DEFAULT_DATE_FORMAT, DEFAULT_LANGUAGE, DEFAULT_POST_ON_TEXT, DEFAULT_TEMPLATE, checks,
    default_file_name, parse_article_url,
};
use sea_orm::ActiveValue::Set;

/// One field of an article.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// The seed id: the article's identity, never changed.
    Id,
    /// Display title.
    Title,
    /// Title on the article page.
    ArticleTitle,
    /// The question answered.
    Question,
    /// Markdown answer.
    Answer,
    /// Subject name.
    Subject,
    /// Article slug.
    Slug,
    /// The url, derived from subject slug and slug.
    Url,
    /// Export file name.
    FileName,
    /// Template name.
    Template,
    /// Publication date.
    Date,
    /// Display pattern of the date.
    DateFormat,
    /// Label before the date.
    PostOnText,
    /// Author name.
    Author,
    /// SEO title.
    SeoTitle,
    /// SEO description.
    SeoDescription,
    /// SEO keywords.
    SeoKeywords,
    /// Score.
    Score,
    /// Related links.
    Related,
    /// Text after the front matter.
    Body,
    /// BCP 47 language tag.
    Language,
}

/// The [`Column`] of a field stored in an `article` column of the same
/// name (or the one after `=>`); `copy` for `Copy` values.
macro_rules! column {
    (copy $field:ident) => {
        Some(Column {
            load: |m, a| a.$field = m.$field,
            store: |a, am| am.$field = Set(a.$field),
        })
    };
    ($($field:ident).+ => $column:ident) => {
        Some(Column {
            load: |m, a| a.$($field).+ = m.$column.clone(),
            store: |a, am| am.$column = Set(a.$($field).+.clone()),
        })
    };
    ($field:ident) => {
        column!($field => $field)
    };
}

impl Field {
    /// Every field: the order of revisions' changes.
    pub const ALL: [Field; 21] = [
        Field::Id,
        Field::Title,
        Field::ArticleTitle,
        Field::Question,
        Field::Answer,
        Field::Subject,
        Field::Slug,
        Field::Url,
        Field::FileName,
        Field::Template,
        Field::Date,
        Field::DateFormat,
        Field::PostOnText,
        Field::Author,
        Field::SeoTitle,
        Field::SeoDescription,
        Field::SeoKeywords,
        Field::Score,
        Field::Related,
        Field::Body,
        Field::Language,
    ];

    /// The order of the keys in a fresh seed file (the real seed's shape).
    pub const FILE_ORDER: [Field; 18] = [
        Field::Template,
        Field::Id,
        Field::Date,
        Field::Title,
        Field::ArticleTitle,
        Field::DateFormat,
        Field::PostOnText,
        Field::Language,
        Field::SeoTitle,
        Field::SeoDescription,
        Field::SeoKeywords,
        Field::Author,
        Field::Question,
        Field::Answer,
        Field::Subject,
        Field::FileName,
        Field::Url,
        Field::Score,
    ];

    /// The row of this field.
    pub fn spec(self) -> Spec {
        use Style::{Folded, Plain};
        match self {
            Field::Id => Spec {
                graphql: "id",
                seed: Seed::Key(key("id", Kind::Id, Plain)),
                edit: Edit::Key,
                // The key: inserts set it, updates never change it.
                column: None,
                get: |a| a.id.into(),
                set: |a, v| put(&mut a.id, v.as_i64()),
                check: checks::id,
            },
            Field::Title => Spec {
                graphql: "title",
                seed: Seed::Key(key("title", REQUIRED, Folded)),
                edit: Edit::Input,
                column: column!(title),
                get: |a| a.title.clone().into(),
                set: |a, v| put(&mut a.title, text(v)),
                check: |a, p| checks::text(p, Field::Title, &a.title, true),
            },
            Field::ArticleTitle => Spec {
                graphql: "articleTitle",
                seed: Seed::Key(SeedKey {
                    default: Some(|a| a.title.clone().into()),
                    ..key("article_title", OPTIONAL, Folded)
                }),
                edit: Edit::Input,
                column: column!(article_title),
                get: |a| a.article_title.clone().into(),
                set: |a, v| put(&mut a.article_title, text(v)),
                check: |a, p| checks::text(p, Field::ArticleTitle, &a.article_title, true),
            },
            Field::Question => Spec {
                graphql: "question",
                seed: Seed::Key(key("question", REQUIRED, Folded)),
                edit: Edit::Input,
                column: column!(question),
                get: |a| a.question.clone().into(),
                set: |a, v| put(&mut a.question, text(v)),
                check: |a, p| checks::text(p, Field::Question, &a.question, true),
            },
            Field::Answer => Spec {
                graphql: "answer",
                seed: Seed::Key(key("answer", Kind::Answer, Folded)),
                edit: Edit::Input,
                column: column!(answer),
                get: |a| a.answer.clone().into(),
                set: |a, v| put(&mut a.answer, text(v)),
                check: checks::answer,
            },
            Field::Subject => Spec {
                graphql: "subject",
                seed: Seed::Key(key("subject", REQUIRED, Plain)),
                edit: Edit::Input,
                // Stored as the subject row the article points at.
                column: None,
                get: |a| a.subject.clone().into(),
                set: |a, v| put(&mut a.subject, text(v)),
                check: |a, p| checks::text(p, Field::Subject, &a.subject, true),
            },
            Field::Slug => Spec {
                graphql: "slug",
                seed: Seed::FromUrl,
                edit: Edit::Input,
                column: column!(slug),
                get: |a| a.slug.clone().into(),
                set: |a, v| put(&mut a.slug, text(v)),
                check: checks::slug,
            },
            Field::Url => Spec {
                graphql: "url",
                seed: Seed::Key(key("url", Kind::Url, Plain)),
                edit: Edit::Derived,
                column: column!(url),
                get: |a| a.url.clone().into(),
                // The url carries the subject slug and the slug.
                set: |a, v| {
                    a.url = text(v)?;
                    if let Some((subject, slug)) = parse_article_url(&a.url) {
                        (a.subject_slug, a.slug) = (subject.to_owned(), slug.to_owned());
                    }
                    Some(())
                },
                // Checked with the slug, the field editors submit.
                check: no_check,
            },
            Field::FileName => Spec {
                graphql: "fileName",
                seed: Seed::Key(SeedKey {
                    default: Some(|a| default_file_name(&a.slug).into()),
                    ..key("file_name", OPTIONAL, Plain)
                }),
                edit: Edit::Revert,
                column: column!(file_name),
                get: |a| a.file_name.clone().into(),
                set: |a, v| put(&mut a.file_name, text(v)),
                check: checks::file_name,
            },
            Field::Template => Spec {
                graphql: "template",
                seed: Seed::Key(SeedKey {
                    default: Some(|_| DEFAULT_TEMPLATE.into()),
                    ..key("_schema", OPTIONAL, Plain)
                }),
                edit: Edit::Revert,
                column: column!(template),
                get: |a| a.template.clone().into(),
                set: |a, v| put(&mut a.template, text(v)),
                check: |a, p| checks::text(p, Field::Template, &a.template, true),
            },
            Field::Date => Spec {
                graphql: "date",
                seed: Seed::Key(key("date", Kind::Date, Plain)),
                edit: Edit::Input,
                column: column!(copy date),
                get: |a| a.date.map(|d| d.to_string()).into(),
                set: |a, v| {
                    a.date = match opt_text(v)? {
                        None => None,
                        Some(d) => Some(super::parse_date(&d)?),
                    };
                    Some(())
                },
                check: checks::date,
            },
            Field::DateFormat => Spec {
                graphql: "dateFormat",
                seed: Seed::Key(SeedKey {
                    default: Some(|_| DEFAULT_DATE_FORMAT.into()),
                    ..key("date_format", OPTIONAL, Plain)
                }),
                edit: Edit::Input,
                column: column!(date_format),
                get: |a| a.date_format.clone().into(),
                set: |a, v| put(&mut a.date_format, text(v)),
                check: |a, p| checks::text(p, Field::DateFormat, &a.date_format, false),
            },
            Field::PostOnText => Spec {
                graphql: "postOnText",
                seed: Seed::Key(SeedKey {
                    default: Some(|_| DEFAULT_POST_ON_TEXT.into()),
                    ..key("post_on_text", OPTIONAL, Plain)
                }),
                edit: Edit::Input,
                column: column!(post_on_text),
                get: |a| a.post_on_text.clone().into(),
                set: |a, v| put(&mut a.post_on_text, text(v)),
                check: |a, p| checks::text(p, Field::PostOnText, &a.post_on_text, false),
            },
            Field::Author => Spec {
                graphql: "author",
                seed: Seed::Key(key("author", OPTIONAL, Plain)),
                edit: Edit::Input,
                column: column!(author),
                get: |a| a.author.clone().into(),
                set: |a, v| put(&mut a.author, opt_text(v)),
                check: |a, p| checks::opt_text(p, Field::Author, a.author.as_deref()),
            },
            Field::SeoTitle => Spec {
                graphql: "seo.title",
                seed: Seed::Key(seo("title", Plain)),
                edit: Edit::Input,
                column: column!(seo.title => seo_title),
                get: |a| a.seo.title.clone().into(),
                set: |a, v| put(&mut a.seo.title, opt_text(v)),
                check: |a, p| checks::opt_text(p, Field::SeoTitle, a.seo.title.as_deref()),
            },
            Field::SeoDescription => Spec {
                graphql: "seo.description",
                seed: Seed::Key(seo("page_description", Folded)),
                edit: Edit::Input,
                column: column!(seo.description => seo_description),
                get: |a| a.seo.description.clone().into(),
                set: |a, v| put(&mut a.seo.description, opt_text(v)),
                check: |a, p| {
                    checks::opt_text(p, Field::SeoDescription, a.seo.description.as_deref())
                },
            },
            Field::SeoKeywords => Spec {
                graphql: "seo.keywords",
                seed: Seed::Key(SeedKey {
                    kind: Kind::Keywords,
                    ..seo("page_keywords", Folded)
                }),
                edit: Edit::Input,
                column: Some(Column {
                    load: |m, a| {
                        a.seo.keywords = serde_json::from_str(&m.seo_keywords).unwrap_or_default()
                    },
                    store: |a, am| {
                        am.seo_keywords = Set(Value::from(a.seo.keywords.clone()).to_string())
                    },
                }),
                get: |a| a.seo.keywords.clone().into(),
                set: |a, v| put(&mut a.seo.keywords, serde_json::from_value(v.clone()).ok()),
                check: checks::keywords,
            },
            Field::Score => Spec {
                graphql: "score",
                seed: Seed::Key(SeedKey {
                    default: Some(|_| Value::Null),
                    ..key("score", Kind::Score, Plain)
                }),
                edit: Edit::Own,
                column: column!(copy score),
                get: |a| a.score.into(),
                set: |a, v| {
                    a.score = if v.is_null() { None } else { Some(v.as_f64()?) };
                    Some(())
                },
                check: checks::score,
            },
            Field::Related => Spec {
                graphql: "related",
                seed: Seed::Links,
                edit: Edit::Own,
                // Stored as `article_link` rows.
                column: None,
                get: |a| super::related_json(&a.related),
                set: |a, v| put(&mut a.related, super::related_from_json(v)),
                check: checks::related,
            },
            Field::Body => Spec {
                graphql: "body",
                seed: Seed::Body,
                edit: Edit::Revert,
                column: column!(body),
                get: |a| a.body.clone().into(),
                set: |a, v| put(&mut a.body, text(v)),
                check: |a, p| checks::text(p, Field::Body, &a.body, false),
            },
            Field::Language => Spec {
                graphql: "language",
                seed: Seed::Key(SeedKey {
                    default: Some(|_| DEFAULT_LANGUAGE.into()),
                    written: Written::WhenSet,
                    ..key("lang", OPTIONAL, Plain)
                }),
                edit: Edit::Input,
                column: column!(language),
                get: |a| a.language.clone().into(),
                set: |a, v| put(&mut a.language, text(v)),
                check: checks::language,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_orders_complete() {
        let mut names: Vec<_> = Field::ALL.iter().map(|f| f.graphql()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Field::ALL.len());
        let keyed: Vec<Field> = Field::ALL
            .into_iter()
            .filter(|f| f.seed_key().is_some())
            .collect();
        let mut ordered = Field::FILE_ORDER.to_vec();
        ordered.sort();
        assert_eq!(
            ordered, keyed,
            "FILE_ORDER lists every front-matter key once"
        );
    }
}
