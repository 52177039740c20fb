//! Writing seed values: one `key: value` entry in a given style, the `seo`
//! block, the related links, and a whole fresh file in the real seed's shape.

use chrono::NaiveDate;
use serde_json::Value as JsonValue;
use serde_yaml::Value;

pub use crate::fields::table::Style;
use crate::fields::table::{Kind, Written};
use crate::fields::{ArticleFields, Field, Link, parse_date};
use crate::seed::escape::encode_answer;

/// Block-scalar indentation of the real seed, used where a file has no example.
pub const DEFAULT_BLOCK_INDENT: usize = 4;
/// Indentation of `seo` children in the real seed.
pub const DEFAULT_SEO_INDENT: usize = 2;
/// Indentation of `related_articleN` children in the real seed.
pub const DEFAULT_LINK_INDENT: usize = 4;
/// The mapping the SEO keys sit in.
pub const SEO: &str = "seo";

/// A value as the seed writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Int(i64),
    Score(Option<f64>),
    Date(NaiveDate),
}

impl Scalar {
    /// The seed form of a field's value (as revisions store it); `None`
    /// when the key is not written.
    fn of(kind: Kind, v: &JsonValue) -> Option<Self> {
        match kind {
            Kind::Id => v.as_i64().map(Scalar::Int),
            Kind::Text { .. } | Kind::Url => v.as_str().map(|s| Scalar::Text(s.to_owned())),
            Kind::Answer => v.as_str().map(|s| Scalar::Text(encode_answer(s))),
            Kind::Date => v.as_str().and_then(parse_date).map(Scalar::Date),
            Kind::Score => Some(Scalar::Score(v.as_f64())),
            Kind::Keywords => serde_json::from_value::<Vec<String>>(v.clone())
                .ok()
                .filter(|k| !k.is_empty())
                .map(|k| Scalar::Text(k.join(", "))),
        }
    }
}

/// One front-matter key: its value now, in the source, and the value a
/// reader assumes when the key is absent.
pub struct KeySpec {
    pub key: &'static str,
    pub style: Style,
    pub written: Written,
    pub current: Option<Scalar>,
    pub original: Option<Scalar>,
    pub default: Option<Scalar>,
}

/// The keys of the mapping `parent` (`None`: the top level) in file order,
/// from the field table.
pub fn key_specs(parent: Option<&str>, orig: &ArticleFields, cur: &ArticleFields) -> Vec<KeySpec> {
    Field::FILE_ORDER
        .into_iter()
        .filter_map(|f| f.seed_key().map(|k| (f, k)))
        .filter(|(_, k)| k.parent == parent)
        .map(|(f, k)| KeySpec {
            key: k.key,
            style: k.style,
            written: k.written,
            current: Scalar::of(k.kind, &f.get(cur)),
            original: Scalar::of(k.kind, &f.get(orig)),
            default: k.default.and_then(|d| Scalar::of(k.kind, &d(cur))),
        })
        .collect()
}

/// The top-level keys written before the `seo` block, nearest first.
pub fn keys_before_seo() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Field::FILE_ORDER
        .into_iter()
        .filter_map(Field::seed_key)
        .take_while(|k| k.parent != Some(SEO))
        .map(|k| k.key)
        .collect();
    keys.reverse();
    keys
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
pub fn render_text(key: &str, value: &str, style: Style, block_indent: usize, nl: &str) -> String {
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

/// Renders `key: value` at column 0 (see [`render_text`]).
pub fn render_scalar(
    key: &str,
    value: &Scalar,
    style: Style,
    block_indent: usize,
    nl: &str,
) -> String {
    match value {
        Scalar::Text(s) => render_text(key, s, style, block_indent, nl),
        Scalar::Int(n) => format!("{key}: {n}{nl}"),
        Scalar::Score(s) => format!("{key}: {}{nl}", format_score(*s)),
        Scalar::Date(d) => format!("{key}: {}{nl}", d.format("%Y-%m-%d")),
    }
}

/// Prefixes every line of `text` with `indent` spaces.
pub fn indented(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    text.split_inclusive('\n')
        .map(|l| format!("{pad}{l}"))
        .collect()
}

fn render_link(link: &Link, child_indent: usize, block_indent: usize, nl: &str) -> String {
    let mut out = format!("related_article{}:{nl}", link.position);
    let mut body = format!("id: {}{nl}", link.id);
    for (key, value, style) in [
        ("title", &link.title, Style::Folded),
        ("subject", &link.subject, Style::Plain),
        ("url", &link.url, Style::Plain),
    ] {
        body.push_str(&render_text(key, value, style, block_indent, nl));
    }
    out.push_str(&indented(&body, child_indent));
    out
}

/// The `related_articleN` entries of `links`.
pub fn render_links(links: &[Link], child_indent: usize, block_indent: usize, nl: &str) -> String {
    links
        .iter()
        .map(|l| render_link(l, child_indent, block_indent, nl))
        .collect()
}

/// The `seo` block of `cur`; empty when it has no SEO value.
pub fn render_seo(cur: &ArticleFields, block_indent: usize, nl: &str) -> String {
    let mut body = String::new();
    for spec in key_specs(Some(SEO), cur, cur) {
        if let Some(v) = &spec.current {
            body.push_str(&render_scalar(spec.key, v, spec.style, block_indent, nl));
        }
    }
    if body.is_empty() {
        return String::new();
    }
    format!("{SEO}:{nl}{}", indented(&body, DEFAULT_SEO_INDENT))
}

/// The text of a seed in the shape of the real seed: every key but absent
/// optional ones (and defaults of keys written only when set), `seo`
/// where the table puts it, then `extra` (whole `key:` entries), links last.
pub fn fresh(cur: &ArticleFields, extra: &str) -> String {
    let nl = "\n";
    let mut out = format!("---{nl}");
    // Top-level specs come in file order, as the keys below.
    let mut top = key_specs(None, cur, cur).into_iter();
    let mut seo_written = false;
    for key in Field::FILE_ORDER.into_iter().filter_map(Field::seed_key) {
        if key.parent == Some(SEO) {
            if !seo_written {
                out.push_str(&render_seo(cur, DEFAULT_BLOCK_INDENT, nl));
                seo_written = true;
            }
            continue;
        }
        let Some(spec) = top.next() else { break };
        if spec.written == Written::WhenSet && spec.current == spec.default {
            continue;
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
