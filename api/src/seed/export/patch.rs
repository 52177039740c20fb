//! The style-preserving patcher: rewrites only the lines of the keys whose
//! values changed, each in the style the file already uses.

use std::collections::HashMap;

use serde_yaml::Value;

use super::write::{
    DEFAULT_BLOCK_INDENT, DEFAULT_LINK_INDENT, KeySpec, SEO, Style, fresh, indented, key_specs,
    keys_before_seo, render_links, render_scalar, render_seo,
};
use crate::fields::ArticleFields;
use crate::fields::table::is_known_key;
use crate::seed::layout::{Entry, Layout, split_document};
use crate::seed::parse::related_index;

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

/// The seed text for `cur`, starting from `source` whose values are `orig`.
pub(super) fn patch(source: &str, orig: &ArticleFields, cur: &ArticleFields) -> String {
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
    match layout.entry(SEO) {
        Some(seo) => {
            let children = layout.children(seo);
            if children.is_empty() {
                // `seo:` with nothing under it, or a flow mapping: written
                // afresh as a block, since there is no child line to edit.
                if cur.seo != orig.seo {
                    edits.replace(seo, render_seo(cur, block_indent, nl));
                }
            } else {
                let specs = key_specs(Some(SEO), orig, cur);
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
            let anchor = keys_before_seo()
                .into_iter()
                .find_map(|k| layout.entry(k))
                .map(|e| e.end - 1);
            edits.after(anchor, &render_seo(cur, block_indent, nl));
        }
        None => {}
    }

    let specs = key_specs(None, orig, cur);
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
    match (layout.entry(SEO), map.get(SEO)) {
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
            if is_known_key(name) || related_index(name).is_some() {
                continue;
            }
            let mut single = serde_yaml::Mapping::new();
            single.insert(key.clone(), value.clone());
            extra.push_str(&serde_yaml::to_string(&single).unwrap_or_default());
        }
    }
    fresh(cur, &extra)
}
