//! Seed file → [`ArticleFields`]: front matter, YAML, types, defaults, then
//! the shared validator, every problem pointing at its line.

mod read;

use std::collections::HashMap;

use serde_yaml::Value;

use super::layout::{Layout, SplitError, split_document};
use crate::fields::{ArticleFields, Field, validate};
use read::{Reader, describe, read_fields};

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
                (Field::Related, "related") => fields
                    .related
                    .get(crate::limits::get().related)
                    .map_or_else(
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
