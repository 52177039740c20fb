//! Where things are in a seed file: the front matter's bounds and the lines of
//! each key. The parser uses it to point at lines; the exporter uses it to
//! rewrite only the lines of the keys that changed.

/// A seed file split at its front-matter delimiters.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// The opening `---` line, terminator included.
    pub opening: &'a str,
    /// The front matter between the delimiter lines.
    pub front_matter: &'a str,
    /// The closing `---` line, terminator included (if any).
    pub closing: &'a str,
    /// Everything after the closing line, verbatim.
    pub body: &'a str,
}

/// Why a file has no usable front matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// The first line is not exactly `---`.
    NoFrontMatter,
    /// No later line is exactly `---`.
    Unclosed,
}

/// The content of a line without its terminator (`\n` or `\r\n`).
fn content(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Splits a seed at its delimiters. Only a line that is exactly `---` (a
/// `\r\n` terminator allowed) closes the front matter.
pub fn split_document(text: &str) -> Result<Document<'_>, SplitError> {
    let mut lines = text.split_inclusive('\n');
    let opening = lines.next().ok_or(SplitError::NoFrontMatter)?;
    if content(opening) != "---" {
        return Err(SplitError::NoFrontMatter);
    }
    let mut offset = opening.len();
    for line in lines {
        if content(line) == "---" {
            let end = offset + line.len();
            return Ok(Document {
                opening,
                front_matter: &text[opening.len()..offset],
                closing: &text[offset..end],
                body: &text[end..],
            });
        }
        offset += line.len();
    }
    Err(SplitError::Unclosed)
}

/// One `key:` of a block mapping and the lines its value spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written (quotes removed).
    pub key: String,
    /// Index of the key's line among the front-matter lines.
    pub line: usize,
    /// Index one past the entry's last line.
    pub end: usize,
    /// Column of the key.
    pub indent: usize,
    /// Text after `key:` on the key's line, trimmed (`>-`, a plain value, or empty).
    pub inline: String,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = content(line).trim();
    t.is_empty() || t.starts_with('#')
}

/// If `line` is `key:` or `key: value` at its indentation, the key and the rest.
fn key_of(line: &str) -> Option<(String, String)> {
    let t = content(line).trim_start_matches(' ');
    if t.starts_with('#') || t.starts_with("- ") || t == "-" {
        return None;
    }
    let bytes = t.as_bytes();
    let colon = (0..bytes.len()).find(|&i| {
        bytes[i] == b':' && bytes.get(i + 1).is_none_or(|b| *b == b' ' || *b == b'\t')
    })?;
    let key = t[..colon].trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(key);
    Some((key.to_owned(), t[colon + 1..].trim().to_owned()))
}

/// The front matter cut into lines (terminators kept), with key lookups.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    /// Every front-matter line, terminator included.
    pub lines: Vec<&'a str>,
    /// The top-level entries in file order.
    pub entries: Vec<Entry>,
}

impl<'a> Layout<'a> {
    /// Scans the front matter's top-level keys.
    pub fn new(front_matter: &'a str) -> Self {
        let lines: Vec<&str> = front_matter.split_inclusive('\n').collect();
        let entries = scan_entries(&lines, 0, lines.len(), 0);
        Self { lines, entries }
    }

    /// The top-level entry for `key`.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// The entries of the block mapping under `parent`.
    pub fn children(&self, parent: &Entry) -> Vec<Entry> {
        let first = (parent.line + 1..parent.end).find(|&i| !is_blank_or_comment(self.lines[i]));
        match first {
            Some(i) if indent_of(self.lines[i]) > parent.indent => {
                scan_entries(&self.lines, i, parent.end, indent_of(self.lines[i]))
            }
            _ => Vec::new(),
        }
    }

    /// Indentation of the first content line of a block scalar entry, if any.
    pub fn block_indent(&self, entry: &Entry) -> Option<usize> {
        (entry.line + 1..entry.end)
            .find(|&i| !content(self.lines[i]).trim().is_empty())
            .map(|i| indent_of(self.lines[i]))
    }

    /// The line terminator this file uses.
    pub fn newline(&self) -> &'static str {
        match self.lines.first() {
            Some(l) if l.ends_with("\r\n") => "\r\n",
            _ => "\n",
        }
    }
}

/// A value still open at the end of a line: inside a quoted scalar or a
/// flow collection, whose next lines continue it whatever their indentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Open {
    quote: Option<char>,
    flow: usize,
}

impl Open {
    fn is_open(self) -> bool {
        self.quote.is_some() || self.flow > 0
    }

    /// The state after `text`, the value part of a line (or a whole
    /// continuation line). Only a value that starts with a quote or a
    /// bracket can span lines; a plain or block scalar cannot reach column 0.
    fn after(mut self, text: &str) -> Self {
        let text = if self.is_open() {
            text
        } else {
            text.trim_start()
        };
        if !self.is_open() && !text.starts_with(['\'', '"', '[', '{']) {
            return self;
        }
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match self.quote {
                Some('\'') => {
                    if c == '\'' && chars.next_if_eq(&'\'').is_none() {
                        self.quote = None;
                    }
                }
                Some(_) => {
                    if c == '\\' {
                        chars.next();
                    } else if c == '"' {
                        self.quote = None;
                    }
                }
                None => match c {
                    '\'' | '"' => self.quote = Some(c),
                    '[' | '{' => self.flow += 1,
                    ']' | '}' => self.flow = self.flow.saturating_sub(1),
                    '#' => break,
                    _ => {}
                },
            }
        }
        self
    }
}

/// Entries at exactly `indent` within `lines[from..to]`; an entry runs until
/// the next key line at that indentation (or a line indented less). Lines
/// that continue a quoted or flow value are never taken for keys.
fn scan_entries(lines: &[&str], from: usize, to: usize, indent: usize) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut open = Open::default();
    // Lines inside a value that spans lines: a `#` there is text, not a comment.
    let mut continued = vec![false; lines.len()];
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        if open.is_open() {
            continued[i] = true;
            open = open.after(content(line));
            continue;
        }
        if is_blank_or_comment(line) {
            continue;
        }
        let ind = indent_of(line);
        if ind < indent {
            break;
        }
        let key = key_of(line);
        open = open.after(match &key {
            Some((_, inline)) => inline.as_str(),
            None => content(line).trim_start().trim_start_matches("- "),
        });
        if ind == indent
            && let Some((key, inline)) = key
        {
            if let Some(prev) = entries.last_mut() {
                prev.end = trailing_start(lines, &continued, prev.line + 1, i);
            }
            entries.push(Entry {
                key,
                line: i,
                end: to,
                indent,
                inline,
            });
        }
    }
    if let Some(last) = entries.last_mut() {
        last.end = to;
    }
    entries
}

/// Comment lines at column 0 right before the next key stay with that key,
/// not with the value above them.
fn trailing_start(lines: &[&str], continued: &[bool], from: usize, next: usize) -> usize {
    let mut end = next;
    while end > from && !continued[end - 1] && content(lines[end - 1]).starts_with('#') {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_at_exact_delimiters() {
        let doc = split_document("---\na: >-\n    x --- y\nb: |\n  ---x\n---\n\nbody\n---\n")
            .expect("valid");
        assert_eq!(doc.front_matter, "a: >-\n    x --- y\nb: |\n  ---x\n");
        assert_eq!(doc.body, "\nbody\n---\n");
        assert_eq!(
            split_document("--- \nx\n---\n").err(),
            Some(SplitError::NoFrontMatter)
        );
        assert_eq!(
            split_document("---\nx: 1\n").err(),
            Some(SplitError::Unclosed)
        );
    }

    /// The entry at a dotted path (`seo.page_description`), one level deep.
    fn find(layout: &Layout<'_>, path: &str) -> Option<Entry> {
        match path.split_once('.') {
            None => layout.entry(path).cloned(),
            Some((parent, child)) => {
                let parent = layout.entry(parent)?;
                layout.children(parent).into_iter().find(|e| e.key == child)
            }
        }
    }

    #[test]
    fn quoted_and_flow_values_spanning_lines_hide_their_lines() {
        let layout = Layout::new(
            "id: 1\ntitle: 'T\nrelated_article1: x'\nq: \"a \\\" \nurl: y\"\nf: [a,\nb: c]\nlast: z\n",
        );
        let keys: Vec<&str> = layout.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["id", "title", "q", "f", "last"]);
        let layout = Layout::new("a: 'it''s\nb: ok'\nc: plain 'quote\nd: 1\n");
        let keys: Vec<&str> = layout.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "c", "d"]);
    }

    #[test]
    fn finds_nested_entries() {
        let layout =
            Layout::new("id: 1\nseo:\n  title: T\n  page_description: >-\n    D\nr1:\n    id: 2\n");
        let seo = find(&layout, "seo.page_description").expect("entry");
        assert_eq!((seo.line, seo.end, seo.indent), (3, 5, 2));
        assert_eq!(find(&layout, "r1.id").map(|e| e.line), Some(6));
        assert_eq!(layout.block_indent(&seo), Some(4));
    }
}
