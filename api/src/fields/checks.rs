//! The validation of each field, named by its row in the field table.

use super::RelatedIdProblem;
use super::{ArticleFields, Field, FieldProblem, Link, article_url, is_slug, parse_article_url};

/// Text: not empty when `required`, never a NUL.
pub(super) fn text(problems: &mut Vec<FieldProblem>, field: Field, value: &str, required: bool) {
    text_at(problems, field, &field.seed_path(), value, required);
}

fn text_at(
    problems: &mut Vec<FieldProblem>,
    field: Field,
    path: &str,
    value: &str,
    required: bool,
) {
    if required && value.trim().is_empty() {
        problems.push(FieldProblem::at(
            field,
            path,
            format!("`{path}` must not be empty"),
        ));
    }
    if value.contains('\0') {
        problems.push(FieldProblem::at(
            field,
            path,
            format!("`{path}` contains a NUL character; remove it"),
        ));
    }
}

/// Optional text: when present, no NUL.
pub(super) fn opt_text(problems: &mut Vec<FieldProblem>, field: Field, value: Option<&str>) {
    if let Some(value) = value {
        text(problems, field, value, false);
    }
}

pub(super) fn id(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    if a.id <= 0 {
        problems.push(FieldProblem::new(
            Field::Id,
            format!("`id` must be a positive integer, not {}", a.id),
        ));
    }
}

pub(super) fn answer(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    text(problems, Field::Answer, &a.answer, false);
    let chars = a.answer.chars().count();
    let most = crate::limits::get().answer_chars;
    if chars > most {
        problems.push(FieldProblem::new(
            Field::Answer,
            format!("`answer` is {chars} characters long; at most {most} are allowed"),
        ));
    }
}

/// The slug, and the url made of it (a seed writes both as `url`).
pub(super) fn slug(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    if !is_slug(&a.slug) {
        problems.push(FieldProblem::new(
            Field::Slug,
            format!(
                "slug `{}` is not valid: use letters, digits, `-`, `_`, `.` or `~`, not starting with `.`",
                a.slug
            ),
        ));
    }
    if !is_slug(&a.subject_slug) {
        problems.push(FieldProblem::new(
            Field::Slug,
            format!("subject slug `{}` is not valid", a.subject_slug),
        ));
    }
    if a.url != article_url(&a.subject_slug, &a.slug) {
        problems.push(FieldProblem::new(
            Field::Slug,
            format!(
                "url `{}` must be `/learn/<subject-slug>/questions/<article-slug>`",
                a.url
            ),
        ));
    }
}

pub(super) fn file_name(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    let name = &a.file_name;
    let bad = name.contains('/')
        || name.contains('\\')
        || name.contains("..")
        || name.contains('\0')
        || name.starts_with('.')
        || !name.ends_with(".md")
        || name.len() <= ".md".len();
    if bad {
        problems.push(FieldProblem::new(
            Field::FileName,
            format!(
                "file_name `{name}` must be a bare file name ending in `.md` (no `/`, `\\` or `..`)"
            ),
        ));
    }
}

pub(super) fn keywords(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    for k in &a.seo.keywords {
        if k.contains(',') || k.trim() != k || k.is_empty() {
            problems.push(FieldProblem::new(
                Field::SeoKeywords,
                format!("keyword `{k}` must be non-empty, trimmed and without commas"),
            ));
        }
    }
}

pub(super) fn score(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    if let Some(score) = a.score
        && !score.is_finite()
    {
        problems.push(FieldProblem::new(
            Field::Score,
            "`score` must be a finite number (or -1 for unscored)",
        ));
    }
}

pub(super) fn date(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    if let Some(date) = a.date
        && !(0..=9999).contains(&chrono::Datelike::year(&date))
    {
        problems.push(FieldProblem::new(
            Field::Date,
            format!("`date` {date} must have a four-digit year (YYYY-MM-DD)"),
        ));
    }
}

/// A well-formed BCP 47 (RFC 5646) tag: the `language-tags` crate parses
/// the full grammar (extlang, script, region, variants, extensions,
/// private use, grandfathered tags) and checks for repeated variants.
pub(super) fn language(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    let path = Field::Language.seed_path();
    let refusal = match language_tags::LanguageTag::parse(&a.language) {
        Ok(tag) => tag.validate().err().map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = refusal {
        problems.push(FieldProblem::new(
            Field::Language,
            format!(
                "`{path}` `{}` is not a BCP 47 language tag ({why}); write one such as `en` or `pt-BR`",
                a.language
            ),
        ));
    }
}

pub(super) fn related(a: &ArticleFields, problems: &mut Vec<FieldProblem>) {
    let related = &a.related;
    let ids: Vec<i64> = related.iter().map(|l| l.id).collect();
    let rules = super::related_id_problems(a.id, &ids);
    for rule in &rules {
        match *rule {
            RelatedIdProblem::TooMany(n) => problems.push(FieldProblem::new(
                Field::Related,
                format!(
                    "{n} related articles given; at most {} are allowed",
                    crate::limits::get().related
                ),
            )),
            RelatedIdProblem::Itself(i) => {
                let key = format!("related_article{}", related[i].position);
                problems.push(FieldProblem::at(
                    Field::Related,
                    format!("{key}.id"),
                    format!("`{key}` links the article to itself ({}); remove it", a.id),
                ));
            }
            RelatedIdProblem::Twice { at, first } => {
                let key = format!("related_article{}", related[at].position);
                problems.push(FieldProblem::at(
                    Field::Related,
                    format!("{key}.id"),
                    format!(
                        "`{key}` links {} again (already related_article{}); remove one",
                        related[at].id, related[first].position
                    ),
                ));
            }
        }
    }
    for link in related {
        link_problems(problems, link);
    }
}

/// What is wrong with one link on its own (the rules across links are
/// [`super::related_id_problems`]).
fn link_problems(problems: &mut Vec<FieldProblem>, link: &Link) {
    let key = format!("related_article{}", link.position);
    let at = |part: &str| format!("{key}.{part}");
    if link.id <= 0 {
        problems.push(FieldProblem::at(
            Field::Related,
            at("id"),
            format!("`{key}.id` must be a positive integer"),
        ));
    }
    text_at(problems, Field::Related, &at("title"), &link.title, true);
    text_at(
        problems,
        Field::Related,
        &at("subject"),
        &link.subject,
        true,
    );
    if parse_article_url(&link.url).is_none() {
        problems.push(FieldProblem::at(
            Field::Related,
            at("url"),
            format!(
                "`{key}.url` `{}` must be `/learn/<subject-slug>/questions/<article-slug>`",
                link.url
            ),
        ));
    }
}
