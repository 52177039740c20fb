//! The one table of an article's fields. Each row says, for one field: its
//! GraphQL name (also its name in stored revisions), where it lives in a seed
//! file, how to read and write it as the JSON value revisions store, how it
//! is validated, and how editors may change it. Merge, revisions, revert,
//! import, export and the GraphQL input all go through it, so a field name
//! outside this file is a variant, never a string that could be misspelled.
//!
//! Adding a field: a variant in [`Field`] and [`Field::ALL`], its row in
//! [`Field::spec`], its member of [`ArticleFields`], its column (entity,
//! migration, `service::article::{to_fields, set_values}`) and, if editors
//! may change it, a member of `ArticleInput`.

use serde_json::Value;

pub use super::spec::{Edit, Kind, Seed, SeedKey, Spec, Style, Written};
use super::spec::{OPTIONAL, REQUIRED, key, no_check, opt_text, put, seo, text};
use super::{
    ArticleFields, DEFAULT_DATE_FORMAT, DEFAULT_LANGUAGE, DEFAULT_POST_ON_TEXT, DEFAULT_TEMPLATE,
    FieldProblem, checks, default_file_name, parse_article_url,
};

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
                get: |a| a.id.into(),
                set: |a, v| put(&mut a.id, v.as_i64()),
                check: checks::id,
            },
            Field::Title => Spec {
                graphql: "title",
                seed: Seed::Key(key("title", REQUIRED, Folded)),
                edit: Edit::Input,
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
                get: |a| a.article_title.clone().into(),
                set: |a, v| put(&mut a.article_title, text(v)),
                check: |a, p| checks::text(p, Field::ArticleTitle, &a.article_title, true),
            },
            Field::Question => Spec {
                graphql: "question",
                seed: Seed::Key(key("question", REQUIRED, Folded)),
                edit: Edit::Input,
                get: |a| a.question.clone().into(),
                set: |a, v| put(&mut a.question, text(v)),
                check: |a, p| checks::text(p, Field::Question, &a.question, true),
            },
            Field::Answer => Spec {
                graphql: "answer",
                seed: Seed::Key(key("answer", Kind::Answer, Folded)),
                edit: Edit::Input,
                get: |a| a.answer.clone().into(),
                set: |a, v| put(&mut a.answer, text(v)),
                check: checks::answer,
            },
            Field::Subject => Spec {
                graphql: "subject",
                seed: Seed::Key(key("subject", REQUIRED, Plain)),
                edit: Edit::Input,
                get: |a| a.subject.clone().into(),
                set: |a, v| put(&mut a.subject, text(v)),
                check: |a, p| checks::text(p, Field::Subject, &a.subject, true),
            },
            Field::Slug => Spec {
                graphql: "slug",
                seed: Seed::FromUrl,
                edit: Edit::Input,
                get: |a| a.slug.clone().into(),
                set: |a, v| put(&mut a.slug, text(v)),
                check: checks::slug,
            },
            Field::Url => Spec {
                graphql: "url",
                seed: Seed::Key(key("url", Kind::Url, Plain)),
                edit: Edit::Derived,
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
                get: |a| a.template.clone().into(),
                set: |a, v| put(&mut a.template, text(v)),
                check: |a, p| checks::text(p, Field::Template, &a.template, true),
            },
            Field::Date => Spec {
                graphql: "date",
                seed: Seed::Key(key("date", Kind::Date, Plain)),
                edit: Edit::Input,
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
                get: |a| a.post_on_text.clone().into(),
                set: |a, v| put(&mut a.post_on_text, text(v)),
                check: |a, p| checks::text(p, Field::PostOnText, &a.post_on_text, false),
            },
            Field::Author => Spec {
                graphql: "author",
                seed: Seed::Key(key("author", OPTIONAL, Plain)),
                edit: Edit::Input,
                get: |a| a.author.clone().into(),
                set: |a, v| put(&mut a.author, opt_text(v)),
                check: |a, p| checks::opt_text(p, Field::Author, a.author.as_deref()),
            },
            Field::SeoTitle => Spec {
                graphql: "seo.title",
                seed: Seed::Key(seo("title", Plain)),
                edit: Edit::Input,
                get: |a| a.seo.title.clone().into(),
                set: |a, v| put(&mut a.seo.title, opt_text(v)),
                check: |a, p| checks::opt_text(p, Field::SeoTitle, a.seo.title.as_deref()),
            },
            Field::SeoDescription => Spec {
                graphql: "seo.description",
                seed: Seed::Key(seo("page_description", Folded)),
                edit: Edit::Input,
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
                get: |a| super::related_json(&a.related),
                set: |a, v| put(&mut a.related, super::related_from_json(v)),
                check: checks::related,
            },
            Field::Body => Spec {
                graphql: "body",
                seed: Seed::Body,
                edit: Edit::Revert,
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
                get: |a| a.language.clone().into(),
                set: |a, v| put(&mut a.language, text(v)),
                check: checks::language,
            },
        }
    }

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
