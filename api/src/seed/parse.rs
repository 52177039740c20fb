//! Seed file → [`ArticleFields`]: front matter, YAML, types, defaults, then
//! the shared validator, every problem pointing at its line.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_yaml::{Mapping, Value};

use super::escape::decode_answer;
use super::layout::{Layout, SplitError, split_document};
use crate::fields::{
    ArticleFields, DEFAULT_DATE_FORMAT, DEFAULT_POST_ON_TEXT, DEFAULT_TEMPLATE, Link, MAX_RELATED,
    Seo, default_file_name, parse_article_url, split_keywords, validate,
};

/// A problem at a place in a seed file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// File line, when known.
    pub line: Option<usize>,
    /// Column, when known.
    pub col: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl LineProblem {
    fn at(line: usize, col: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            col: Some(col),
            message: message.into(),
        }
    }

    fn nowhere(message: impl Into<String>) -> Self {
        Self {
            line: None,
            col: None,
            message: message.into(),
        }
    }
}

/// A parsed and valid seed.
#[derive(Debug, Clone)]
pub struct ParsedSeed {
    /// The article's values.
    pub fields: ArticleFields,
    /// File line of each key path present (`id`, `seo.title`, `related_article2.url`).
    pub key_lines: HashMap<String, usize>,
}

/// The keys this program understands; any other key is kept as it is.
pub const KNOWN_KEYS: &[&str] = &[
    "_schema",
    "id",
    "date",
    "title",
    "article_title",
    "date_format",
    "post_on_text",
    "seo",
    "author",
    "question",
    "answer",
    "subject",
    "file_name",
    "url",
    "score",
];

/// The `N` of a `related_articleN` key.
pub fn related_index(key: &str) -> Option<&str> {
    key.strip_prefix("related_article")
}

/// Where the front-matter lines start in the file (the line after `---`).
const FIRST_FRONT_MATTER_LINE: usize = 2;

struct Reader {
    key_lines: HashMap<String, usize>,
    key_cols: HashMap<String, usize>,
    problems: Vec<LineProblem>,
}

impl Reader {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        // A missing child key points at its parent's line.
        let found = [path, path.split('.').next().unwrap_or(path)]
            .into_iter()
            .find_map(|p| Some((*self.key_lines.get(p)?, *self.key_cols.get(p)?)));
        let p = match found {
            Some((line, col)) => LineProblem::at(line, col, message),
            None => LineProblem::at(1, 1, message),
        };
        self.problems.push(p);
    }

    fn text(&mut self, map: &Mapping, path: &str, key: &str, required: bool) -> Option<String> {
        match map.get(key) {
            None | Some(Value::Null) if required => {
                self.problem(path, format!("missing required key `{path}`"));
                None
            }
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.problem(
                    path,
                    format!(
                        "`{path}` must be text, not {}; quote the value",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    fn positive_id(&mut self, map: &Mapping, path: &str) -> Option<i64> {
        match map.get(path.rsplit('.').next().unwrap_or(path)) {
            None | Some(Value::Null) => {
                self.problem(path, format!("missing required key `{path}`"));
                None
            }
            Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v > 0) => n.as_i64(),
            Some(other) => {
                self.problem(
                    path,
                    format!(
                        "`{path}` must be a positive integer, not {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// Adds `offset` to every "line N" in a YAML error message, which counts
/// lines from the start of the front matter, so it counts file lines.
fn shift_line_numbers(message: &str, offset: usize) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (before, after) = rest.split_at(at + "line ".len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Parses one seed file's text into valid article values, or every problem found.
pub fn parse_seed(text: &str) -> Result<ParsedSeed, Vec<LineProblem>> {
    if text.trim().is_empty() {
        return Err(vec![LineProblem::at(
            1,
            1,
            "file is empty; a seed starts with a `---` line, then YAML front matter, then `---`",
        )]);
    }
    if let Some(at) = text.find('\0') {
        let line = text[..at].matches('\n').count() + 1;
        return Err(vec![LineProblem::at(
            line,
            1,
            "file contains a NUL byte; seeds are UTF-8 text",
        )]);
    }
    let doc = match split_document(text) {
        Ok(doc) => doc,
        Err(SplitError::NoFrontMatter) => {
            return Err(vec![LineProblem::at(
                1,
                1,
                "no front matter: the first line must be exactly `---`",
            )]);
        }
        Err(SplitError::Unclosed) => {
            return Err(vec![LineProblem::at(
                1,
                1,
                "front matter is not closed: add a line that is exactly `---` after it",
            )]);
        }
    };
    // YAML also breaks lines at a lone carriage return and at U+0085,
    // U+2028 and U+2029; a line-based reader (and the exporter) would not.
    let stray = doc.front_matter.char_indices().find(|&(at, c)| {
        matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')
            || (c == '\r' && !doc.front_matter[at + 1..].starts_with('\n'))
    });
    if let Some((at, c)) = stray {
        let line = doc.opening.len() + at;
        let line = text[..line].matches('\n').count() + 1;
        return Err(vec![LineProblem::at(
            line,
            1,
            format!(
                "front matter contains a stray line break (U+{:04X}); end lines with \\n or \\r\\n only",
                u32::from(c)
            ),
        )]);
    }
    let value: Value = serde_yaml::from_str(doc.front_matter).map_err(|e| {
        let offset = FIRST_FRONT_MATTER_LINE - 1;
        let message = shift_line_numbers(&e.to_string(), offset);
        vec![match e.location() {
            Some(loc) => LineProblem::at(loc.line() + offset, loc.column(), message),
            None => LineProblem::nowhere(message),
        }]
    })?;
    let map = match value {
        Value::Mapping(map) => map,
        Value::Null => {
            return Err(vec![LineProblem::at(
                FIRST_FRONT_MATTER_LINE,
                1,
                "front matter is empty; it must hold the article's keys",
            )]);
        }
        other => {
            return Err(vec![LineProblem::at(
                FIRST_FRONT_MATTER_LINE,
                1,
                format!(
                    "front matter must be a mapping of keys, not {}",
                    describe(&other)
                ),
            )]);
        }
    };

    let layout = Layout::new(doc.front_matter);
    let mut key_lines = HashMap::new();
    let mut key_cols = HashMap::new();
    for entry in &layout.entries {
        key_lines.insert(entry.key.clone(), entry.line + FIRST_FRONT_MATTER_LINE);
        key_cols.insert(entry.key.clone(), entry.indent + 1);
        for child in layout.children(entry) {
            let path = format!("{}.{}", entry.key, child.key);
            key_lines.insert(path.clone(), child.line + FIRST_FRONT_MATTER_LINE);
            key_cols.insert(path, child.indent + 1);
        }
    }
    let mut r = Reader {
        key_lines,
        key_cols,
        problems: Vec::new(),
    };
    let fields = read_fields(&mut r, &map, doc.body);
    let Reader {
        key_lines,
        mut problems,
        ..
    } = r;
    if let Some(fields) = fields
        && problems.is_empty()
    {
        for p in validate(&fields) {
            let path = match p.field.as_str() {
                "slug" => "url".to_owned(),
                // A count problem points at the first link past the limit.
                "related" => fields.related.get(MAX_RELATED).map_or_else(
                    || "related".to_owned(),
                    |l| format!("related_article{}", l.position),
                ),
                other => other.to_owned(),
            };
            let top = path.split('.').next().unwrap_or(&path);
            let line = key_lines.get(&path).or_else(|| key_lines.get(top));
            problems.push(LineProblem::at(line.copied().unwrap_or(1), 1, p.message));
        }
        if problems.is_empty() {
            return Ok(ParsedSeed { fields, key_lines });
        }
    }
    problems.sort_by_key(|p| (p.line, p.col));
    Err(problems)
}

fn read_fields(r: &mut Reader, map: &Mapping, body: &str) -> Option<ArticleFields> {
    for key in map.keys() {
        if !matches!(key, Value::String(_)) {
            r.problems.push(LineProblem::at(
                FIRST_FRONT_MATTER_LINE,
                1,
                format!("key {} must be text", describe(key)),
            ));
        }
    }
    let id = r.positive_id(map, "id");
    let title = r.text(map, "title", "title", true);
    let question = r.text(map, "question", "question", true);
    let answer = r.text(map, "answer", "answer", true);
    let subject = r.text(map, "subject", "subject", true);
    let url = r.text(map, "url", "url", true);
    let template = r.text(map, "_schema", "_schema", false);
    let article_title = r.text(map, "article_title", "article_title", false);
    let date_format = r.text(map, "date_format", "date_format", false);
    let post_on_text = r.text(map, "post_on_text", "post_on_text", false);
    let author = r.text(map, "author", "author", false);
    let file_name = r.text(map, "file_name", "file_name", false);
    let date = read_date(r, map);
    let score = read_score(r, map);
    let seo = read_seo(r, map);
    let related = read_related(r, map);

    let url = url?;
    let Some((subject_slug, slug)) = parse_article_url(&url) else {
        r.problem(
            "url",
            format!(
                "url `{url}` must be `/learn/<subject-slug>/questions/<article-slug>` (letters, digits, `-`, `_`)"
            ),
        );
        return None;
    };
    let (subject_slug, slug) = (subject_slug.to_owned(), slug.to_owned());
    let title = title?;
    Some(ArticleFields {
        id: id?,
        article_title: article_title.unwrap_or_else(|| title.clone()),
        title,
        question: question?,
        answer: decode_answer(&answer?),
        subject: subject?,
        file_name: file_name.unwrap_or_else(|| default_file_name(&slug)),
        subject_slug,
        slug,
        url,
        template: template.unwrap_or_else(|| DEFAULT_TEMPLATE.to_owned()),
        date: date?,
        date_format: date_format.unwrap_or_else(|| DEFAULT_DATE_FORMAT.to_owned()),
        post_on_text: post_on_text.unwrap_or_else(|| DEFAULT_POST_ON_TEXT.to_owned()),
        author,
        seo: seo?,
        score: score?,
        related: related?,
        body: body.to_owned(),
    })
}

/// `Some(None)` when absent, `None` when invalid.
fn read_date(r: &mut Reader, map: &Mapping) -> Option<Option<NaiveDate>> {
    match map.get("date") {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.len() == 10 => match crate::fields::parse_date(s) {
            Some(d) => Some(Some(d)),
            None => {
                r.problem(
                    "date",
                    format!("`date` {s:?} is not a real date (YYYY-MM-DD)"),
                );
                None
            }
        },
        Some(other) => {
            r.problem(
                "date",
                format!(
                    "`date` must be a date written YYYY-MM-DD, not {}",
                    describe(other)
                ),
            );
            None
        }
    }
}

fn read_score(r: &mut Reader, map: &Mapping) -> Option<Option<f64>> {
    match map.get("score") {
        None | Some(Value::Null) => Some(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() => Some((v != -1.0).then_some(v)),
            _ => {
                r.problem(
                    "score",
                    format!("`score` must be a finite number, not {n}; write -1 for unscored"),
                );
                None
            }
        },
        Some(other) => {
            r.problem(
                "score",
                format!(
                    "`score` must be a number (integer or float), not {}; write -1 for unscored",
                    describe(other)
                ),
            );
            None
        }
    }
}

fn read_seo(r: &mut Reader, map: &Mapping) -> Option<Seo> {
    let seo = match map.get("seo") {
        None | Some(Value::Null) => return Some(Seo::default()),
        Some(Value::Mapping(seo)) => seo,
        Some(other) => {
            r.problem(
                "seo",
                format!(
                    "`seo` must be a mapping of title, page_description and page_keywords, not {}",
                    describe(other)
                ),
            );
            return None;
        }
    };
    let title = r.text(seo, "seo.title", "title", false);
    let description = r.text(seo, "seo.page_description", "page_description", false);
    let keywords = r.text(seo, "seo.page_keywords", "page_keywords", false);
    Some(Seo {
        title,
        description,
        keywords: keywords.as_deref().map(split_keywords).unwrap_or_default(),
    })
}

fn read_related(r: &mut Reader, map: &Mapping) -> Option<Vec<Link>> {
    let mut links = Vec::new();
    let mut ok = true;
    for (key, value) in map {
        let Some(key) = key.as_str() else { continue };
        let Some(n) = related_index(key) else {
            continue;
        };
        let position = match n.parse::<i32>() {
            Ok(p) if p >= 1 && !n.starts_with('0') => p,
            _ => {
                r.problem(
                    key,
                    format!("`{key}`: related keys are `related_article1`, `related_article2`, …"),
                );
                ok = false;
                continue;
            }
        };
        let Value::Mapping(entry) = value else {
            r.problem(
                key,
                format!("`{key}` must be a mapping with id, title, subject and url"),
            );
            ok = false;
            continue;
        };
        let id = r.positive_id(entry, &format!("{key}.id"));
        let title = r.text(entry, &format!("{key}.title"), "title", true);
        let subject = r.text(entry, &format!("{key}.subject"), "subject", true);
        let url = r.text(entry, &format!("{key}.url"), "url", true);
        let (Some(id), Some(title), Some(subject), Some(url)) = (id, title, subject, url) else {
            ok = false;
            continue;
        };
        let Some((subject_slug, _)) = parse_article_url(&url) else {
            r.problem(
                &format!("{key}.url"),
                format!(
                    "`{key}.url` `{url}` must be `/learn/<subject-slug>/questions/<article-slug>`"
                ),
            );
            ok = false;
            continue;
        };
        links.push(Link {
            position,
            id,
            title,
            subject,
            subject_slug: subject_slug.to_owned(),
            url,
        });
    }
    links.sort_by_key(|l| l.position);
    ok.then_some(links)
}
