//! The values of an article as editors and seed files see them, and the one
//! validator that both the seed import and the GraphQL mutations run.

use chrono::NaiveDate;
use serde::Serialize;

/// Longest answer accepted, in characters once the seed escapes are decoded.
pub const MAX_ANSWER_CHARS: usize = 100_000;
/// Most related links an article may have.
pub const MAX_RELATED: usize = 10;
/// Template name when the seed has no `_schema`.
pub const DEFAULT_TEMPLATE: &str = "default";
/// Date display pattern when the seed has no `date_format`.
pub const DEFAULT_DATE_FORMAT: &str = "MMM DD, YYYY";
/// Label before the date when the seed has no `post_on_text`.
pub const DEFAULT_POST_ON_TEXT: &str = "Posted on";
/// Body of an article that was not imported from a file (the seed convention).
pub const DEFAULT_BODY: &str = "\n&nbsp;";

/// SEO metadata of an article.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Seo {
    /// `seo.title`.
    pub title: Option<String>,
    /// `seo.page_description`.
    pub description: Option<String>,
    /// `seo.page_keywords`, split on commas, trimmed, empties dropped.
    pub keywords: Vec<String>,
}

/// One related link, with the link's own copy of the target's details.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

/// Every value of an article, defaults resolved.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
}

/// What is wrong with one field; `field` is the seed key path
/// (`title`, `seo.page_keywords`, `related_article3.url`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// The offending seed key.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl FieldProblem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
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

fn check_text(problems: &mut Vec<FieldProblem>, field: &str, value: &str, required: bool) {
    if required && value.trim().is_empty() {
        problems.push(FieldProblem::new(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if value.contains('\0') {
        problems.push(FieldProblem::new(
            field,
            format!("`{field}` contains a NUL character; remove it"),
        ));
    }
}

/// Checks every rule an article must satisfy, wherever its values came from.
/// Returns all problems, not just the first.
pub fn validate(a: &ArticleFields) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    if a.id <= 0 {
        problems.push(FieldProblem::new(
            "id",
            format!("`id` must be a positive integer, not {}", a.id),
        ));
    }
    check_text(&mut problems, "title", &a.title, true);
    check_text(&mut problems, "article_title", &a.article_title, true);
    check_text(&mut problems, "question", &a.question, true);
    check_text(&mut problems, "answer", &a.answer, false);
    check_text(&mut problems, "subject", &a.subject, true);
    check_text(&mut problems, "_schema", &a.template, true);
    check_text(&mut problems, "date_format", &a.date_format, false);
    check_text(&mut problems, "post_on_text", &a.post_on_text, false);
    check_text(&mut problems, "body", &a.body, false);
    if let Some(author) = &a.author {
        check_text(&mut problems, "author", author, false);
    }
    if let Some(t) = &a.seo.title {
        check_text(&mut problems, "seo.title", t, false);
    }
    if let Some(d) = &a.seo.description {
        check_text(&mut problems, "seo.page_description", d, false);
    }
    let chars = a.answer.chars().count();
    if chars > MAX_ANSWER_CHARS {
        problems.push(FieldProblem::new(
            "answer",
            format!("`answer` is {chars} characters long; at most {MAX_ANSWER_CHARS} are allowed"),
        ));
    }
    if !is_slug(&a.slug) {
        problems.push(FieldProblem::new(
            "slug",
            format!(
                "slug `{}` is not valid: use letters, digits, `-`, `_`, `.` or `~`, not starting with `.`",
                a.slug
            ),
        ));
    }
    if !is_slug(&a.subject_slug) {
        problems.push(FieldProblem::new(
            "url",
            format!("subject slug `{}` is not valid", a.subject_slug),
        ));
    }
    if a.url != article_url(&a.subject_slug, &a.slug) {
        problems.push(FieldProblem::new(
            "url",
            format!(
                "url `{}` must be `/learn/<subject-slug>/questions/<article-slug>`",
                a.url
            ),
        ));
    }
    check_file_name(&mut problems, &a.file_name);
    for k in &a.seo.keywords {
        if k.contains(',') || k.trim() != k || k.is_empty() {
            problems.push(FieldProblem::new(
                "seo.page_keywords",
                format!("keyword `{k}` must be non-empty, trimmed and without commas"),
            ));
        }
    }
    if let Some(score) = a.score
        && !score.is_finite()
    {
        problems.push(FieldProblem::new(
            "score",
            "`score` must be a finite number (or -1 for unscored)",
        ));
    }
    if let Some(date) = a.date
        && !(0..=9999).contains(&chrono::Datelike::year(&date))
    {
        problems.push(FieldProblem::new(
            "date",
            format!("`date` {date} must have a four-digit year (YYYY-MM-DD)"),
        ));
    }
    validate_related(&mut problems, a.id, &a.related);
    problems
}

fn check_file_name(problems: &mut Vec<FieldProblem>, name: &str) {
    let bad = name.contains('/')
        || name.contains('\\')
        || name.contains("..")
        || name.contains('\0')
        || name.starts_with('.')
        || !name.ends_with(".md")
        || name.len() <= ".md".len();
    if bad {
        problems.push(FieldProblem::new(
            "file_name",
            format!(
                "file_name `{name}` must be a bare file name ending in `.md` (no `/`, `\\` or `..`)"
            ),
        ));
    }
}

/// What breaks the rules on a list of related ids, by index in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelatedIdProblem {
    /// The list holds this many ids, more than [`MAX_RELATED`].
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
/// files and editors alike: at most [`MAX_RELATED`], none twice, and never
/// the article itself.
pub fn related_id_problems(own_id: i64, ids: &[i64]) -> Vec<RelatedIdProblem> {
    let mut problems = Vec::new();
    if ids.len() > MAX_RELATED {
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

fn validate_related(problems: &mut Vec<FieldProblem>, own_id: i64, related: &[Link]) {
    let ids: Vec<i64> = related.iter().map(|l| l.id).collect();
    let rules = related_id_problems(own_id, &ids);
    if let Some(RelatedIdProblem::TooMany(n)) = rules.first() {
        problems.push(FieldProblem::new(
            "related",
            format!("{n} related articles given; at most {MAX_RELATED} are allowed"),
        ));
    }
    for (at, link) in related.iter().enumerate() {
        let key = format!("related_article{}", link.position);
        if link.id <= 0 {
            problems.push(FieldProblem::new(
                format!("{key}.id"),
                format!("`{key}.id` must be a positive integer"),
            ));
        }
        for rule in &rules {
            match *rule {
                RelatedIdProblem::Itself(i) if i == at => problems.push(FieldProblem::new(
                    format!("{key}.id"),
                    format!("`{key}` links the article to itself ({own_id}); remove it"),
                )),
                RelatedIdProblem::Twice { at: i, first } if i == at => {
                    problems.push(FieldProblem::new(
                        format!("{key}.id"),
                        format!(
                            "`{key}` links {} again (already related_article{}); remove one",
                            link.id, related[first].position
                        ),
                    ))
                }
                _ => {}
            }
        }
        check_text(problems, &format!("{key}.title"), &link.title, true);
        check_text(problems, &format!("{key}.subject"), &link.subject, true);
        if parse_article_url(&link.url).is_none() {
            problems.push(FieldProblem::new(
                format!("{key}.url"),
                format!(
                    "`{key}.url` `{}` must be `/learn/<subject-slug>/questions/<article-slug>`",
                    link.url
                ),
            ));
        }
    }
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
