//! Seed file → [`ArticleFields`]: front matter, YAML, types, defaults, then
//! the shared validator, every problem pointing at its line.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_yaml::{Mapping, Value};

use super::escape::decode_answer;
use super::layout::{Layout, SplitError, split_document};
use crate::fields::table::{Kind, Seed, SeedKey};
use crate::fields::{
    ArticleFields, Field, Link, MAX_RELATED, parse_article_url, split_keywords, validate,
};
use serde_json::Value as JsonValue;

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
            let path = match (p.field, p.path.as_str()) {
                // A count problem points at the first link past the limit.
                (Field::Related, "related") => fields.related.get(MAX_RELATED).map_or_else(
                    || "related".to_owned(),
                    |l| format!("related_article{}", l.position),
                ),
                (_, path) => path.to_owned(),
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
    let mut fields = ArticleFields::default();
    let mut ok = true;
    let mut absent = Vec::new();
    let mut parents: HashMap<&str, Option<Option<&Mapping>>> = HashMap::new();
    for field in Field::ALL {
        let key = match field.spec().seed {
            Seed::Key(key) => key,
            Seed::FromUrl => continue,
            Seed::Links => {
                match read_related(r, map) {
                    Some(links) => fields.related = links,
                    None => ok = false,
                }
                continue;
            }
            Seed::Body => {
                fields.body = body.to_owned();
                continue;
            }
        };
        let within = match key.parent {
            None => Some(Some(map)),
            Some(parent) => *parents
                .entry(parent)
                .or_insert_with(|| read_parent(r, map, parent)),
        };
        let read = match within {
            // The parent was refused; it said why.
            None => None,
            Some(None) => Some(None),
            Some(Some(within)) => read_value(r, within, &field.seed_path(), key),
        };
        match read {
            None => ok = false,
            Some(None) => absent.push((field, key)),
            Some(Some(value)) => {
                if field.set(&mut fields, &value).is_none() {
                    r.problem(&field.seed_path(), "value cannot be read");
                    ok = false;
                }
            }
        }
    }
    if !ok {
        return None;
    }
    // Defaults last: some derive from other keys (`article_title` from `title`).
    for (field, key) in absent {
        if let Some(default) = key.default {
            let value = default(&fields);
            field.set(&mut fields, &value)?;
        }
    }
    Some(fields)
}

/// The mapping `parent` (`seo`): `Some(None)` when absent, `None` when refused.
fn read_parent<'m>(r: &mut Reader, map: &'m Mapping, parent: &str) -> Option<Option<&'m Mapping>> {
    match map.get(parent) {
        None | Some(Value::Null) => Some(None),
        Some(Value::Mapping(m)) => Some(Some(m)),
        Some(other) => {
            let children: Vec<&str> = Field::ALL
                .into_iter()
                .filter_map(Field::seed_key)
                .filter(|k| k.parent == Some(parent))
                .map(|k| k.key)
                .collect();
            let (last, rest) = children.split_last().unwrap_or((&"", &[]));
            r.problem(
                parent,
                format!(
                    "`{parent}` must be a mapping of {} and {last}, not {}",
                    rest.join(", "),
                    describe(other)
                ),
            );
            None
        }
    }
}

/// The value of `key` in `map` as revisions store it: `Some(None)` when
/// absent (and optional), `None` when refused (the reader says why).
fn read_value(
    r: &mut Reader,
    map: &Mapping,
    path: &str,
    key: SeedKey,
) -> Option<Option<JsonValue>> {
    let text = |r: &mut Reader, required| r.text(map, path, key.key, required);
    Some(match key.kind {
        Kind::Id => Some(r.positive_id(map, path)?.into()),
        Kind::Text { required } => match text(r, required) {
            Some(t) => Some(t.into()),
            None if required || !matches!(map.get(key.key), None | Some(Value::Null)) => {
                return None;
            }
            None => None,
        },
        Kind::Answer => Some(decode_answer(&text(r, true)?).into()),
        Kind::Url => {
            let url = text(r, true)?;
            if parse_article_url(&url).is_none() {
                r.problem(
                    path,
                    format!(
                        "url `{url}` must be `/learn/<subject-slug>/questions/<article-slug>` (letters, digits, `-`, `_`)"
                    ),
                );
                return None;
            }
            Some(url.into())
        }
        Kind::Date => read_date(r, map.get(key.key), path)?.map(|d| d.to_string().into()),
        Kind::Score => Some(read_score(r, map.get(key.key), path)?.into()),
        Kind::Keywords => match text(r, false) {
            Some(k) => Some(split_keywords(&k).into()),
            None if !matches!(map.get(key.key), None | Some(Value::Null)) => return None,
            None => None,
        },
    })
}

/// `Some(None)` when absent, `None` when invalid.
fn read_date(r: &mut Reader, value: Option<&Value>, path: &str) -> Option<Option<NaiveDate>> {
    match value {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.len() == 10 => match crate::fields::parse_date(s) {
            Some(d) => Some(Some(d)),
            None => {
                r.problem(
                    path,
                    format!("`{path}` {s:?} is not a real date (YYYY-MM-DD)"),
                );
                None
            }
        },
        Some(other) => {
            r.problem(
                path,
                format!(
                    "`{path}` must be a date written YYYY-MM-DD, not {}",
                    describe(other)
                ),
            );
            None
        }
    }
}

fn read_score(r: &mut Reader, value: Option<&Value>, path: &str) -> Option<Option<f64>> {
    match value {
        None | Some(Value::Null) => Some(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() => Some((v != -1.0).then_some(v)),
            _ => {
                r.problem(
                    path,
                    format!("`{path}` must be a finite number, not {n}; write -1 for unscored"),
                );
                None
            }
        },
        Some(other) => {
            r.problem(
                path,
                format!(
                    "`{path}` must be a number (integer or float), not {}; write -1 for unscored",
                    describe(other)
                ),
            );
            None
        }
    }
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
