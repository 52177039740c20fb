//! Reading the front matter's values, one field of the table at a time,
//! each problem recorded at its key's line.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::Value as JsonValue;
use serde_yaml::{Mapping, Value};

use super::{FIRST_FRONT_MATTER_LINE, LineProblem, related_index};
use crate::fields::table::{Kind, Seed, SeedKey};
use crate::fields::{ArticleFields, Field, Link, parse_article_url, split_keywords};
use crate::seed::escape::decode_answer;

pub(super) struct Reader {
    pub(super) key_lines: HashMap<String, usize>,
    pub(super) key_cols: HashMap<String, usize>,
    pub(super) problems: Vec<LineProblem>,
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

pub(super) fn describe(v: &Value) -> String {
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

pub(super) fn read_fields(r: &mut Reader, map: &Mapping, body: &str) -> Option<ArticleFields> {
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
