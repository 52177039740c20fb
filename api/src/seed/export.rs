//! [`ArticleFields`] → seed file text. An article nobody changed is written
//! back exactly as imported; for a changed one only the lines of the changed
//! keys are rewritten, in the file's own style, and the result is parsed
//! again to prove it reads back to the same values.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_yaml::Value;

use super::escape::encode_answer;
use super::layout::{Entry, Layout, split_document};
use super::parse::{KNOWN_KEYS, parse_seed, related_index};
use crate::fields::{
    ArticleFields, DEFAULT_DATE_FORMAT, DEFAULT_POST_ON_TEXT, DEFAULT_TEMPLATE, Link,
    default_file_name,
};

/// Why an article could not be written as a seed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The rendered file does not read back to the article's values; a bug.
    #[error(
        "the exported file for article {id} does not read back to the stored values ({detail})"
    )]
    RoundTrip {
        /// The article.
        id: i64,
        /// Which part differed.
        detail: String,
    },
}

/// Block-scalar indentation of the real seed, used where a file has no example.
const DEFAULT_BLOCK_INDENT: usize = 4;
/// Indentation of `seo` children in the real seed.
const DEFAULT_SEO_INDENT: usize = 2;
/// Indentation of `related_articleN` children in the real seed.
const DEFAULT_LINK_INDENT: usize = 4;

/// How a text value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `key: >-` then the value on one indented line.
    Folded,
    /// `key: value`.
    Plain,
    /// `key: "value"`.
    Quoted,
}

/// A value as the seed writes it.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Text(String),
    Int(i64),
    Score(Option<f64>),
    Date(NaiveDate),
}

impl Scalar {
    fn text(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

fn style_of(entry: &Entry) -> Style {
    let inline = entry.inline.as_str();
    if inline.starts_with('>') || inline.starts_with('|') {
        Style::Folded
    } else if inline.starts_with('"') || inline.starts_with('\'') {
        Style::Quoted
    } else {
        Style::Plain
    }
}

/// YAML double-quoted form of `s`; escapes everything a YAML reader could fold or refuse.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
                ) =>
            {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `text` (one `key: …` entry at column 0) reads back as `expected`.
fn reads_back(text: &str, key: &str, expected: &Value) -> bool {
    serde_yaml::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get(key).cloned())
        .is_some_and(|v| &v == expected)
}

/// Renders `key: value` at column 0, with the given block indentation, in
/// `style` when that style can hold the value and double-quoted otherwise.
fn render_text(key: &str, value: &str, style: Style, block_indent: usize, nl: &str) -> String {
    let expected = Value::String(value.to_owned());
    let candidate = match style {
        Style::Folded => {
            let one_line = !value.is_empty()
                && value.trim() == value
                && !value.chars().any(|c| {
                    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}')
                });
            one_line.then(|| format!("{key}: >-{nl}{}{value}{nl}", " ".repeat(block_indent)))
        }
        Style::Plain => Some(format!("{key}: {value}{nl}")),
        Style::Quoted => None,
    };
    candidate
        .filter(|c| reads_back(c, key, &expected))
        .unwrap_or_else(|| format!("{key}: {}{nl}", double_quoted(value)))
}

fn format_score(score: Option<f64>) -> String {
    match score {
        None => "-1.0".to_owned(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.1}"),
        // Rust writes large floats as long integer literals, which YAML reads
        // as integers too big to hold: use an exponent instead.
        Some(v) if v.abs() >= 1e15 => format!("{v:e}"),
        Some(v) => format!("{v}"),
    }
}

fn render_scalar(key: &str, value: &Scalar, style: Style, block_indent: usize, nl: &str) -> String {
    match value {
        Scalar::Text(s) => render_text(key, s, style, block_indent, nl),
        Scalar::Int(n) => format!("{key}: {n}{nl}"),
        Scalar::Score(s) => format!("{key}: {}{nl}", format_score(*s)),
        Scalar::Date(d) => format!("{key}: {}{nl}", d.format("%Y-%m-%d")),
    }
}

/// Prefixes every line of `text` with `indent` spaces.
fn indented(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    text.split_inclusive('\n')
        .map(|l| format!("{pad}{l}"))
        .collect()
}

/// One top-level key the exporter knows: its value now, in the source, and
/// the value a reader assumes when the key is absent.
struct KeySpec {
    key: &'static str,
    style: Style,
    current: Option<Scalar>,
    original: Option<Scalar>,
    default: Option<Scalar>,
}

fn key_specs(orig: &ArticleFields, cur: &ArticleFields) -> Vec<KeySpec> {
    let spec = |key, style, o: Option<Scalar>, c: Option<Scalar>, d: Option<Scalar>| KeySpec {
        key,
        style,
        current: c,
        original: o,
        default: d,
    };
    let text = |s: &str| Some(Scalar::text(s));
    use Style::{Folded, Plain};
    vec![
        spec(
            "_schema",
            Plain,
            text(&orig.template),
            text(&cur.template),
            text(DEFAULT_TEMPLATE),
        ),
        spec(
            "id",
            Plain,
            Some(Scalar::Int(orig.id)),
            Some(Scalar::Int(cur.id)),
            None,
        ),
        spec(
            "date",
            Plain,
            orig.date.map(Scalar::Date),
            cur.date.map(Scalar::Date),
            None,
        ),
        spec("title", Folded, text(&orig.title), text(&cur.title), None),
        spec(
            "article_title",
            Folded,
            text(&orig.article_title),
            text(&cur.article_title),
            text(&cur.title),
        ),
        spec(
            "date_format",
            Plain,
            text(&orig.date_format),
            text(&cur.date_format),
            text(DEFAULT_DATE_FORMAT),
        ),
        spec(
            "post_on_text",
            Plain,
            text(&orig.post_on_text),
            text(&cur.post_on_text),
            text(DEFAULT_POST_ON_TEXT),
        ),
        spec(
            "author",
            Plain,
            orig.author.as_deref().and_then(text),
            cur.author.as_deref().and_then(text),
            None,
        ),
        spec(
            "question",
            Folded,
            text(&orig.question),
            text(&cur.question),
            None,
        ),
        spec(
            "answer",
            Folded,
            text(&encode_answer(&orig.answer)),
            text(&encode_answer(&cur.answer)),
            None,
        ),
        spec(
            "subject",
            Plain,
            text(&orig.subject),
            text(&cur.subject),
            None,
        ),
        spec(
            "file_name",
            Plain,
            text(&orig.file_name),
            text(&cur.file_name),
            text(&default_file_name(&cur.slug)),
        ),
        spec("url", Plain, text(&orig.url), text(&cur.url), None),
        spec(
            "score",
            Plain,
            Some(Scalar::Score(orig.score)),
            Some(Scalar::Score(cur.score)),
            Some(Scalar::Score(None)),
        ),
    ]
}

fn seo_specs(orig: &ArticleFields, cur: &ArticleFields) -> Vec<KeySpec> {
    let text = |s: Option<&str>| s.map(Scalar::text);
    let keywords = |k: &[String]| (!k.is_empty()).then(|| Scalar::Text(k.join(", ")));
    vec![
        KeySpec {
            key: "title",
            style: Style::Plain,
            current: text(cur.seo.title.as_deref()),
            original: text(orig.seo.title.as_deref()),
            default: None,
        },
        KeySpec {
            key: "page_description",
            style: Style::Folded,
            current: text(cur.seo.description.as_deref()),
            original: text(orig.seo.description.as_deref()),
            default: None,
        },
        KeySpec {
            key: "page_keywords",
            style: Style::Folded,
            current: keywords(&cur.seo.keywords),
            original: keywords(&orig.seo.keywords),
            default: None,
        },
    ]
}

/// Text replacing whole entries (by their first line) and text to write
/// after a line (by its index; `None`: right after the opening `---`).
#[derive(Default)]
struct Edits {
    replace: HashMap<usize, (usize, String)>,
    after: HashMap<Option<usize>, String>,
}

impl Edits {
    fn replace(&mut self, entry: &Entry, text: String) {
        self.replace.insert(entry.line, (entry.end, text));
    }

    fn after(&mut self, line: Option<usize>, text: &str) {
        self.after.entry(line).or_default().push_str(text);
    }
}

/// Plans the rewrite of the keys of `specs` among `entries` (one mapping
/// level of `layout`): changed keys are replaced in their style, keys the
/// source lacks are added after the nearest earlier key, or after `parent`.
fn plan_edits(
    edits: &mut Edits,
    layout: &Layout<'_>,
    entries: &[Entry],
    parent: Option<usize>,
    specs: &[KeySpec],
    block_indent: usize,
) {
    let nl = layout.newline();
    let indent = entries.first().map_or(0, |e| e.indent);
    let mut anchor = parent;
    for spec in specs {
        match entries.iter().find(|e| e.key == spec.key) {
            Some(entry) => {
                anchor = Some(entry.end - 1);
                if spec.original == spec.current {
                    continue;
                }
                let text = match &spec.current {
                    None => String::new(),
                    Some(v) => {
                        let style = style_of(entry);
                        let own_indent = layout
                            .block_indent(entry)
                            .filter(|i| style == Style::Folded && *i > entry.indent)
                            .map_or(block_indent, |i| i - entry.indent);
                        indented(
                            &render_scalar(spec.key, v, style, own_indent, nl),
                            entry.indent,
                        )
                    }
                };
                edits.replace(entry, text);
            }
            None if spec.current == spec.default => {}
            None => {
                if let Some(v) = &spec.current {
                    let text = render_scalar(spec.key, v, spec.style, block_indent, nl);
                    edits.after(anchor, &indented(&text, indent));
                }
            }
        }
    }
}

fn render_link(link: &Link, child_indent: usize, block_indent: usize, nl: &str) -> String {
    let mut out = format!("related_article{}:{nl}", link.position);
    let mut body = format!("id: {}{nl}", link.id);
    body.push_str(&render_text(
        "title",
        &link.title,
        Style::Folded,
        block_indent,
        nl,
    ));
    body.push_str(&render_text(
        "subject",
        &link.subject,
        Style::Plain,
        block_indent,
        nl,
    ));
    body.push_str(&render_text(
        "url",
        &link.url,
        Style::Plain,
        block_indent,
        nl,
    ));
    out.push_str(&indented(&body, child_indent));
    out
}

fn render_links(links: &[Link], child_indent: usize, block_indent: usize, nl: &str) -> String {
    links
        .iter()
        .map(|l| render_link(l, child_indent, block_indent, nl))
        .collect()
}

fn render_seo(cur: &ArticleFields, block_indent: usize, nl: &str) -> String {
    let mut body = String::new();
    for spec in seo_specs(cur, cur) {
        if let Some(v) = &spec.current {
            body.push_str(&render_scalar(spec.key, v, spec.style, block_indent, nl));
        }
    }
    if body.is_empty() {
        return String::new();
    }
    format!("seo:{nl}{}", indented(&body, DEFAULT_SEO_INDENT))
}

/// The text of a seed in the shape of the real seed: every key but absent
/// optional ones, `seo` after `post_on_text`, then `extra` (whole `key:`
/// entries), links last.
fn fresh(cur: &ArticleFields, extra: &str) -> String {
    let nl = "\n";
    let mut out = format!("---{nl}");
    for spec in key_specs(cur, cur) {
        if spec.key == "author" {
            out.push_str(&render_seo(cur, DEFAULT_BLOCK_INDENT, nl));
        }
        if let Some(v) = &spec.current {
            out.push_str(&render_scalar(
                spec.key,
                v,
                spec.style,
                DEFAULT_BLOCK_INDENT,
                nl,
            ));
        }
    }
    out.push_str(extra);
    out.push_str(&render_links(
        &cur.related,
        DEFAULT_LINK_INDENT,
        DEFAULT_BLOCK_INDENT,
        nl,
    ));
    out.push_str(&format!("---{nl}"));
    out.push_str(&cur.body);
    out
}

/// Writes an article that has no source file in the shape of the real seed.
pub fn render_new(cur: &ArticleFields) -> Result<String, ExportError> {
    verify(cur, fresh(cur, ""))
}

/// Writes an article as a seed: `source` (the file as last imported) verbatim
/// when its values are unchanged, else with only the changed keys rewritten.
pub fn render_seed(cur: &ArticleFields, source: Option<&str>) -> Result<String, ExportError> {
    let Some(source) = source else {
        return render_new(cur);
    };
    let Ok(orig) = parse_seed(source) else {
        // The stored source no longer parses (rules got stricter): start afresh.
        return render_new(cur);
    };
    if &orig.fields == cur {
        return Ok(source.to_owned());
    }
    verify(cur, patch(source, &orig.fields, cur))
}

fn verify(cur: &ArticleFields, text: String) -> Result<String, ExportError> {
    match parse_seed(&text) {
        Ok(parsed) if &parsed.fields == cur => Ok(text),
        Ok(parsed) => Err(ExportError::RoundTrip {
            id: cur.id,
            detail: format!("read back {:?}", first_difference(&parsed.fields, cur)),
        }),
        Err(problems) => Err(ExportError::RoundTrip {
            id: cur.id,
            detail: problems
                .first()
                .map_or_else(String::new, |p| p.message.clone()),
        }),
    }
}

fn first_difference(a: &ArticleFields, b: &ArticleFields) -> String {
    let a = serde_json::to_value(a).unwrap_or_default();
    let b = serde_json::to_value(b).unwrap_or_default();
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => a
            .iter()
            .find(|(k, v)| b.get(*k) != Some(v))
            .map_or_else(String::new, |(k, _)| k.clone()),
        _ => String::new(),
    }
}

/// The seed text for `cur`, starting from `source` whose values are `orig`.
fn patch(source: &str, orig: &ArticleFields, cur: &ArticleFields) -> String {
    let Ok(doc) = split_document(source) else {
        return source.to_owned();
    };
    let layout = Layout::new(doc.front_matter);
    let mapping = serde_yaml::from_str::<Value>(doc.front_matter).ok();
    if !layout_matches(&layout, mapping.as_ref()) {
        return rewrite_all(cur, mapping.as_ref());
    }
    let nl = layout.newline();
    let block_indent = layout
        .entries
        .iter()
        .filter(|e| style_of(e) == Style::Folded)
        .find_map(|e| {
            layout
                .block_indent(e)
                .filter(|i| *i > e.indent)
                .map(|i| i - e.indent)
        })
        .unwrap_or(DEFAULT_BLOCK_INDENT);

    // Children first: an insertion after the last seo line then precedes
    // a top-level key inserted after the seo block.
    let mut edits = Edits::default();
    // seo: edit its children in place, or add the whole block.
    match layout.entry("seo") {
        Some(seo) => {
            let children = layout.children(seo);
            if children.is_empty() {
                // `seo:` with nothing under it, or a flow mapping: written
                // afresh as a block, since there is no child line to edit.
                if cur.seo != orig.seo {
                    edits.replace(seo, render_seo(cur, block_indent, nl));
                }
            } else {
                let specs = seo_specs(orig, cur);
                plan_edits(
                    &mut edits,
                    &layout,
                    &children,
                    Some(seo.line),
                    &specs,
                    block_indent,
                );
            }
        }
        None if cur.seo != orig.seo => {
            let anchor = [
                "post_on_text",
                "date_format",
                "article_title",
                "title",
                "date",
                "id",
                "_schema",
            ]
            .into_iter()
            .find_map(|k| layout.entry(k))
            .map(|e| e.end - 1);
            edits.after(anchor, &render_seo(cur, block_indent, nl));
        }
        None => {}
    }

    let specs = key_specs(orig, cur);
    plan_edits(
        &mut edits,
        &layout,
        &layout.entries,
        None,
        &specs,
        block_indent,
    );

    // Related links: rewritten as a group where the first one stood.
    if cur.related != orig.related {
        let old_links: Vec<&Entry> = layout
            .entries
            .iter()
            .filter(|e| related_index(&e.key).is_some())
            .collect();
        let first_children = old_links
            .first()
            .map(|e| layout.children(e))
            .unwrap_or_default();
        let child_indent = first_children
            .first()
            .map_or(DEFAULT_LINK_INDENT, |c| c.indent);
        let link_block = first_children
            .iter()
            .find(|c| c.key == "title")
            .and_then(|t| {
                layout
                    .block_indent(t)
                    .filter(|i| *i > t.indent)
                    .map(|i| i - t.indent)
            })
            .unwrap_or(DEFAULT_BLOCK_INDENT);
        let text = render_links(&cur.related, child_indent, link_block, nl);
        match old_links.split_first() {
            Some((first, rest)) => {
                edits.replace(first, text);
                for e in rest {
                    edits.replace(e, String::new());
                }
            }
            None => {
                let anchor = layout.entries.last().map(|e| e.end - 1);
                edits.after(anchor, &text);
            }
        }
    }

    let mut out = String::with_capacity(source.len() + 256);
    out.push_str(doc.opening);
    if let Some(text) = edits.after.remove(&None) {
        out.push_str(&text);
    }
    let mut i = 0;
    while i < layout.lines.len() {
        let next = match edits.replace.remove(&i) {
            Some((end, text)) => {
                out.push_str(&text);
                end.max(i + 1)
            }
            None => {
                out.push_str(layout.lines[i]);
                i + 1
            }
        };
        for line in i..next {
            if let Some(text) = edits.after.remove(&Some(line)) {
                out.push_str(&text);
            }
        }
        i = next;
    }
    out.push_str(doc.closing);
    if orig.body == cur.body {
        out.push_str(doc.body);
    } else {
        if !doc.closing.ends_with('\n') {
            out.push_str(nl);
        }
        out.push_str(&cur.body);
    }
    out
}

/// Articles per page read from the database while exporting.
const EXPORT_PAGE: u64 = 500;

/// Writes every live article to `dir/<file_name>` (creating `dir`), reading
/// the database a page at a time so memory stays flat. Returns the count.
pub async fn export_corpus(
    db: &sea_orm::DatabaseConnection,
    dir: &std::path::Path,
    progress: &crate::progress::Progress,
) -> crate::error::Result<usize> {
    use entity::article;
    use rayon::prelude::*;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

    use crate::error::Error;
    use crate::service::article::with_links;
    use crate::service::subject::subjects_by_id;

    let io = |path: &std::path::Path, source: std::io::Error| Error::Io {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let live = || article::Entity::find().filter(article::Column::DeletedAt.is_null());
    progress.phase("exporting", live().count(db).await?);
    let subjects = subjects_by_id(db).await?;
    let mut written = 0;
    let mut after = i64::MIN;
    loop {
        let page = live()
            .filter(article::Column::Id.gt(after))
            .order_by_asc(article::Column::Id)
            .limit(EXPORT_PAGE)
            .all(db)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let stored = with_links(db, page, &subjects).await?;
        stored
            .par_iter()
            .map(|s| {
                let text = render_seed(&s.fields, s.model.source_text.as_deref())
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let path = dir.join(&s.fields.file_name);
                std::fs::write(&path, text).map_err(|e| io(&path, e))?;
                progress.advance(1);
                Ok(())
            })
            .collect::<crate::error::Result<Vec<()>>>()?;
        written += stored.len();
    }
    progress.finish();
    Ok(written)
}

/// Whether the line scanner found exactly the keys YAML reads, in order, at
/// the top level and under a block `seo`. When it did not (a value shaped
/// in a way the scanner cannot follow), editing lines in place is unsafe.
fn layout_matches(layout: &Layout<'_>, mapping: Option<&Value>) -> bool {
    let Some(Value::Mapping(map)) = mapping else {
        return false;
    };
    let keys = |m: &serde_yaml::Mapping| -> Vec<String> {
        m.keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect()
    };
    let scanned: Vec<String> = layout.entries.iter().map(|e| e.key.clone()).collect();
    if scanned != keys(map) {
        return false;
    }
    match (layout.entry("seo"), map.get("seo")) {
        (Some(entry), Some(Value::Mapping(seo))) => {
            let children: Vec<String> = layout.children(entry).into_iter().map(|c| c.key).collect();
            children.is_empty() || children == keys(seo)
        }
        _ => true,
    }
}

/// The whole seed written afresh, keeping unknown keys (re-serialized):
/// the fallback for a file whose layout the scanner cannot follow.
fn rewrite_all(cur: &ArticleFields, mapping: Option<&Value>) -> String {
    let mut extra = String::new();
    if let Some(Value::Mapping(map)) = mapping {
        for (key, value) in map {
            let Some(name) = key.as_str() else { continue };
            if KNOWN_KEYS.contains(&name) || name == "seo" || related_index(name).is_some() {
                continue;
            }
            let mut single = serde_yaml::Mapping::new();
            single.insert(key.clone(), value.clone());
            extra.push_str(&serde_yaml::to_string(&single).unwrap_or_default());
        }
    }
    fresh(cur, &extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::Link;

    fn round_trip(source: &str, change: impl Fn(&mut ArticleFields)) -> String {
        let orig = parse_seed(source).expect("source parses").fields;
        let mut cur = orig.clone();
        change(&mut cur);
        let text = render_seed(&cur, Some(source)).expect("exports");
        assert_eq!(parse_seed(&text).expect("export parses").fields, cur);
        text
    }

    const BASE: &str = "id: 1\nquestion: Q\nanswer: A\nsubject: S\nurl: /learn/s/questions/t\n";

    #[test]
    fn a_quoted_value_spanning_lines_is_not_taken_for_keys() {
        let source = format!("---\n{BASE}title: 'T\nrelated_article1: x'\n---\n");
        let text = round_trip(&source, |f| {
            f.related.push(Link {
                position: 1,
                id: 2,
                title: "Two".into(),
                subject: "S".into(),
                subject_slug: "s".into(),
                url: "/learn/s/questions/two".into(),
            });
        });
        assert!(
            text.contains("title: 'T\nrelated_article1: x'\n"),
            "kept as written:\n{text}"
        );
        let source = format!("---\n{BASE}title: \"T\nurl: x\"\n---\n");
        round_trip(&source, |f| f.question = "New".into());
        // A `#` line inside the quoted value is text, not a comment of the next key.
        let source = format!("---\n{BASE}title: \"T\n# not a comment\"\nauthor: me\n---\n");
        round_trip(&source, |f| f.post_on_text = "Published".into());
    }

    #[test]
    fn seo_without_block_children_is_written_as_a_block() {
        for seo in ["seo:\n", "seo: ~\n", "seo: {}\n", "seo: {title: A}\n"] {
            let source = format!("---\ntitle: T\n{BASE}{seo}author: me\n---\n");
            let text = round_trip(&source, |f| {
                f.seo.title = Some("X".into());
                f.seo.keywords = vec!["k".into()];
            });
            assert!(text.contains("seo:\n  title: X\n"), "{text}");
        }
    }

    #[test]
    fn large_scores_are_written_as_floats() {
        let source = format!("---\ntitle: T\n{BASE}---\n");
        for score in [1e21, -3e300, 1e15, 123_456.5] {
            round_trip(&source, |f| f.score = Some(score));
        }
    }
}
