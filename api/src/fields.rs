//! The values of an article as editors and seed files see them, and the one
//! validator that both the seed import and the GraphQL mutations run.

mod checks;
mod spec;
pub mod table;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use table::Field;

/// Template name when the seed has no `_schema`.
pub const DEFAULT_TEMPLATE: &str = "default";
/// Date display pattern when the seed has no `date_format`.
pub const DEFAULT_DATE_FORMAT: &str = "MMM DD, YYYY";
/// Label before the date when the seed has no `post_on_text`.
pub const DEFAULT_POST_ON_TEXT: &str = "Posted on";
/// Language of an article whose seed has no `lang`.
pub const DEFAULT_LANGUAGE: &str = "en";
/// Body of an article that was not imported from a file (the seed convention).
pub const DEFAULT_BODY: &str = "\n&nbsp;";

/// SEO metadata of an article.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Seo {
    /// `seo.title`.
    pub title: Option<String>,
    /// `seo.page_description`.
    pub description: Option<String>,
    /// `seo.page_keywords`, split on commas, trimmed, empties dropped.
    pub keywords: Vec<String>,
}

/// One related link, with the link's own copy of the target's details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// 1-based position (`related_articleN`).
    pub position: i32,
    /// The target's seed id.
    pub id: i64,
    /// The target's title as the link knows it.
    pub title: String,
    /// The target's subject name as the link knows it.
    pub subject: String,
    /// The subject slug taken from the link's url.
    pub subject_slug: String,
    /// The target's url as the link knows it.
    pub url: String,
}

/// Every value of an article, defaults resolved. [`Field`] names each one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArticleFields {
    /// Stable seed id, positive.
    pub id: i64,
    /// Display title.
    pub title: String,
    /// Title on the article page.
    pub article_title: String,
    /// The question answered.
    pub question: String,
    /// Markdown answer, escapes decoded.
    pub answer: String,
    /// Subject name.
    pub subject: String,
    /// Subject slug (the url's second segment).
    pub subject_slug: String,
    /// Article slug (the url's last segment).
    pub slug: String,
    /// `/learn/<subject_slug>/questions/<slug>`.
    pub url: String,
    /// Export file name.
    pub file_name: String,
    /// Template name (`_schema`).
    pub template: String,
    /// Publication date.
    pub date: Option<NaiveDate>,
    /// Display pattern for the date.
    pub date_format: String,
    /// Label before the date.
    pub post_on_text: String,
    /// Author name.
    pub author: Option<String>,
    /// SEO metadata.
    pub seo: Seo,
    /// Score; `None` while unscored.
    pub score: Option<f64>,
    /// Related links in position order.
    pub related: Vec<Link>,
    /// Text after the front matter, verbatim.
    pub body: String,
    /// BCP 47 language tag (`lang`).
    pub language: String,
}

/// What is wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// The offending field.
    pub field: Field,
    /// Its seed key path (`title`, `seo.page_keywords`, `related_article3.url`).
    pub path: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl FieldProblem {
    /// A problem with `field` at its own seed key.
    pub fn new(field: Field, message: impl Into<String>) -> Self {
        Self::at(field, field.seed_path(), message)
    }

    /// A problem with `field` at the seed key path `path` (a part of it).
    pub fn at(field: Field, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field,
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Parses a date written exactly `YYYY-MM-DD` (four-digit year), the only
/// form the seed format, the exporter and the GraphQL `Date` scalar use.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// The url of an article from its subject slug and slug.
pub fn article_url(subject_slug: &str, slug: &str) -> String {
    format!("/learn/{subject_slug}/questions/{slug}")
}

/// Splits an article url into its subject slug and article slug.
pub fn parse_article_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("/learn/")?;
    let (subject, rest) = rest.split_once('/')?;
    let slug = rest.strip_prefix("questions/")?;
    (is_slug(subject) && is_slug(slug)).then_some((subject, slug))
}

/// A slug: non-empty, url-safe characters only (`A-Z a-z 0-9 - _ . ~`), not
/// starting with a dot, so it is also safe inside a file name.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// The file name an article gets when its seed names none.
pub fn default_file_name(slug: &str) -> String {
    format!("{slug}.md")
}

/// Splits a seed keyword string on commas, trimming and dropping empties.
pub fn split_keywords(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks every rule an article must satisfy, wherever its values came from.
/// Returns all problems, not just the first.
pub fn validate(a: &ArticleFields) -> Vec<FieldProblem> {
    table::check_all(a)
}

/// Related links as a revision stores them.
pub fn related_json(links: &[Link]) -> serde_json::Value {
    links
        .iter()
        .map(|l| {
            serde_json::json!({
                "position": l.position, "id": l.id, "title": l.title, "subject": l.subject, "url": l.url,
            })
        })
        .collect::<Vec<_>>()
        .into()
}

/// Related links from their stored form ([`related_json`]; revisions
/// before positions were stored count them from 1).
pub fn related_from_json(value: &serde_json::Value) -> Option<Vec<Link>> {
    #[derive(serde::Deserialize)]
    struct StoredLink {
        position: Option<i32>,
        id: i64,
        title: String,
        subject: String,
        url: String,
    }
    let links: Vec<StoredLink> = serde_json::from_value(value.clone()).ok()?;
    Some(
        links
            .into_iter()
            .zip(1..)
            .map(|(l, index)| Link {
                position: l.position.unwrap_or(index),
                id: l.id,
                subject_slug: parse_article_url(&l.url)
                    .map(|(s, _)| s.to_owned())
                    .unwrap_or_default(),
                title: l.title,
                subject: l.subject,
                url: l.url,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_exactly_yyyy_mm_dd() {
        assert_eq!(
            parse_date("2024-12-11").map(|d| d.to_string()).as_deref(),
            Some("2024-12-11")
        );
        for bad in [
            "-024-02-20",
            "+024-02-20",
            "2024-2-011",
            "2024-13-01",
            "2024-02-30",
            "20240-1-01",
            "2024/12/11",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}

/// What breaks the rules on a list of related ids, by index in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelatedIdProblem {
    /// The list holds this many ids, more than the related-links limit.
    TooMany(usize),
    /// The id at this index is the article's own.
    Itself(usize),
    /// The id at `at` repeats the one at `first`.
    Twice {
        /// Index of the repeat.
        at: usize,
        /// Index of the first mention.
        first: usize,
    },
}

/// The rules on the related ids of article `own_id`, in one place for seed
/// files and editors alike: at most the related-links limit, none twice, and never
/// the article itself.
pub fn related_id_problems(own_id: i64, ids: &[i64]) -> Vec<RelatedIdProblem> {
    let mut problems = Vec::new();
    if ids.len() > crate::limits::get().related {
        problems.push(RelatedIdProblem::TooMany(ids.len()));
    }
    let mut seen = std::collections::HashMap::new();
    for (at, &id) in ids.iter().enumerate() {
        if id == own_id {
            problems.push(RelatedIdProblem::Itself(at));
        }
        if let Some(&first) = seen.get(&id) {
            problems.push(RelatedIdProblem::Twice { at, first });
        } else {
            seen.insert(id, at);
        }
    }
    problems
}
