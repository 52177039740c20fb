//! Rendering an article for readers: the answer's markdown as sanitized HTML
//! or as plain text, excerpts of that text, and display dates.
//!
//! Math (`\( … \)`, `\[ … \]`, `$$ … $$`) is found with the seed format's own
//! [`math_span_end`], so a span is math here exactly when the seed escapes
//! treat it as math. Math is never read as markdown: before parsing, each
//! span is swapped for an alphanumeric placeholder, which markdown and the
//! sanitizer both leave alone, and the span is put back at the end.
//!
//! Placeholders start with a prefix made from the BLAKE3 hash of the whole
//! answer. Text the author typed cannot contain the hash of itself, so any
//! prefix found in the output is one of ours. Output stays deterministic.
//!
//! Code spans and code blocks win over math: an opener inside code that was
//! opened before the math is literal code. The code is found by parsing the
//! answer once as it is; a math span that starts outside code is math even
//! if it runs into something that looked like code.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::seed::escape::math_span_end;

/// Full English month names, January first.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The tokens of [`display_date`]; a longer token comes before any shorter
/// one with the same letter so it wins.
const DATE_TOKENS: [&str; 8] = ["YYYY", "YY", "MMMM", "MMM", "MM", "M", "DD", "D"];

/// The markdown extensions answers may use. Not `ENABLE_MATH`: its `$`
/// syntax differs from ours and math never reaches the parser anyway.
fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Renders an answer's markdown (CommonMark with tables and strikethrough)
/// as HTML that is safe to embed in a page.
///
/// The HTML is sanitized with ammonia's defaults, so scripts, event-handler
/// attributes and `javascript:` URLs are gone; the `text-align` style of
/// table cells is kept. Math is passed through verbatim and HTML-escaped,
/// delimiters included, for a client-side renderer such as KaTeX's
/// auto-render:
///
/// * inline math becomes `<span class="math inline">\( … \)</span>`;
/// * display math that forms a paragraph of its own becomes
///   `<div class="math display">\[ … \]</div>` (or `$$ … $$`), replacing
///   the paragraph;
/// * display math in the middle of running text becomes
///   `<span class="math display">…</span>`, because a `<div>` inside a `<p>`
///   is invalid HTML and browsers would split the paragraph around it.
///
/// Math inside an attribute (a link title, an image's alt text) is put back
/// as its source text, which the serializer escapes.
pub fn answer_html(markdown: &str) -> String {
    html_with_math(markdown, |out, math, _| push_escaped(out, math))
}

/// The answer as a reader's page shows it: [`answer_html`], with each math
/// span typeset on the server as MathML Core (which browsers lay out
/// without scripts or fonts of ours) inside the same `math` elements.
///
/// The MathML renderer copies text such as `\text{…}` into its markup
/// unescaped, so its output goes through a sanitizer that knows only
/// MathML's presentation elements and attributes.
pub fn reader_html(markdown: &str) -> String {
    html_with_math(markdown, push_mathml)
}

/// [`answer_html`]'s pipeline, with `math` writing each math span (its
/// source with delimiters, and whether it is display math).
fn html_with_math(markdown: &str, mut math: impl FnMut(&mut String, &str, bool)) -> String {
    let masked = Arc::new(Masked::new(markdown));
    let in_attributes = Arc::clone(&masked);
    let mut html = String::with_capacity(masked.text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(&masked.text, markdown_options()));

    let mut sanitizer = ammonia::Builder::default();
    // pulldown-cmark aligns table columns with a style attribute; only that
    // one property is let through.
    sanitizer
        .add_tag_attributes("th", &["style"])
        .add_tag_attributes("td", &["style"])
        .filter_style_properties(["text-align"].into())
        .attribute_filter(move |_element, _attribute, value| {
            // An attribute cannot hold markup, so math there goes back to
            // its source text. This filter runs after the URL scheme check,
            // which saw the placeholder; restoring cannot add a scheme since
            // math starts with `\` or `$`, which no scheme starts with.
            if value.contains(&in_attributes.prefix) {
                Some(Cow::Owned(in_attributes.restore(value, |out, math, _| {
                    out.push_str(math);
                    0
                })))
            } else {
                Some(Cow::Borrowed(value))
            }
        });
    let clean = sanitizer.clean(&html).to_string();

    // The math elements are added after sanitizing, so their classes survive
    // (ammonia strips `class`); `math` keeps their content safe.
    masked.restore(&clean, |out, source, after| {
        let display = !source.starts_with("\\(");
        if display
            && after.starts_with("</p>")
            && let Some(kept) = out.strip_suffix("<p>").map(str::len)
        {
            out.truncate(kept);
            out.push_str("<div class=\"math display\">");
            math(out, source, true);
            out.push_str("</div>");
            return "</p>".len();
        }
        out.push_str(if display {
            "<span class=\"math display\">"
        } else {
            "<span class=\"math inline\">"
        });
        math(out, source, display);
        out.push_str("</span>");
        0
    })
}

/// The MathML elements and attributes [`push_mathml`]'s output may keep:
/// MathML Core's presentation markup, nothing that links, scripts or styles.
fn mathml_sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: std::sync::LazyLock<ammonia::Builder<'static>> =
        std::sync::LazyLock::new(|| {
            let mut builder = ammonia::Builder::empty();
            builder
                .add_tags([
                    "math",
                    "mi",
                    "mo",
                    "mn",
                    "ms",
                    "mtext",
                    "mrow",
                    "mfrac",
                    "msqrt",
                    "mroot",
                    "msub",
                    "msup",
                    "msubsup",
                    "munder",
                    "mover",
                    "munderover",
                    "mmultiscripts",
                    "mprescripts",
                    "none",
                    "mtable",
                    "mtr",
                    "mtd",
                    "mspace",
                    "mpadded",
                    "mphantom",
                    "menclose",
                    "mstyle",
                    "merror",
                    "semantics",
                    "annotation",
                ])
                .add_generic_attributes([
                    "display",
                    "mathvariant",
                    "stretchy",
                    "symmetric",
                    "fence",
                    "separator",
                    "lspace",
                    "rspace",
                    "largeop",
                    "movablelimits",
                    "accent",
                    "accentunder",
                    "width",
                    "height",
                    "depth",
                    "voffset",
                    "linethickness",
                    "scriptlevel",
                    "displaystyle",
                    "columnalign",
                    "rowalign",
                    "columnspacing",
                    "rowspacing",
                    "notation",
                    "minsize",
                    "maxsize",
                    "form",
                    "mathcolor",
                    "mathbackground",
                    "encoding",
                ]);
            builder
        });
    &SANITIZER
}

/// Writes math `source` (delimiters included) as sanitized MathML. LaTeX the
/// renderer does not know shows as an `merror` in place, the rest typeset.
fn push_mathml(out: &mut String, source: &str, display: bool) {
    use pulldown_latex::config::DisplayMode;
    let inner = [("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$")]
        .iter()
        .find_map(|(open, close)| source.strip_prefix(open)?.strip_suffix(close))
        .unwrap_or(source);
    let storage = pulldown_latex::Storage::new();
    let parser = pulldown_latex::Parser::new(inner, &storage);
    let config = pulldown_latex::RenderConfig {
        display_mode: if display {
            DisplayMode::Block
        } else {
            DisplayMode::Inline
        },
        ..Default::default()
    };
    let mut mathml = String::new();
    match pulldown_latex::push_mathml(&mut mathml, parser, config) {
        Ok(()) => out.push_str(&mathml_sanitizer().clean(&mathml).to_string()),
        // Writing to a `String` does not fail; should it, the source stays
        // readable as it is in `answerHtml`.
        Err(_) => push_escaped(out, source),
    }
}

/// The answer as plain text: markdown syntax and HTML tags removed, math
/// kept verbatim.
///
/// Every run of whitespace outside math, including the breaks between
/// paragraphs, list items and table cells, becomes a single space, and the
/// text is trimmed; whitespace inside math is kept as written. The text of
/// code spans and code blocks and the alt text of images are kept. Raw HTML
/// loses its tags, and the content of `<script>` and `<style>` is dropped.
pub fn plain_text(markdown: &str) -> String {
    let masked = Masked::new(markdown);
    let mut text = String::with_capacity(masked.text.len());
    // The lines of the raw HTML block being read, if any.
    let mut html_block: Option<String> = None;
    // Set between an inline `<script>` or `<style>` and its end tag.
    let mut in_raw_script = false;

    for event in Parser::new_ext(&masked.text, markdown_options()) {
        match event {
            Event::Text(t) | Event::Code(t) if !in_raw_script => text.push_str(&t),
            Event::Html(h) => match html_block.as_mut() {
                Some(block) => block.push_str(&h),
                None => text.push_str(&html_text(&h)),
            },
            Event::InlineHtml(h) => {
                let tag = h.trim_start().to_ascii_lowercase();
                if tag.starts_with("<script") || tag.starts_with("<style") {
                    in_raw_script = true;
                } else if tag.starts_with("</script") || tag.starts_with("</style") {
                    in_raw_script = false;
                }
            }
            Event::Start(Tag::HtmlBlock) => html_block = Some(String::new()),
            Event::End(TagEnd::HtmlBlock) => {
                if let Some(block) = html_block.take() {
                    text.push(' ');
                    text.push_str(&html_text(&block));
                    text.push(' ');
                }
            }
            Event::Start(tag) if !is_inline(&tag.to_end()) => text.push(' '),
            Event::End(tag) if !is_inline(&tag) => text.push(' '),
            Event::SoftBreak | Event::HardBreak | Event::Rule => text.push(' '),
            _ => {}
        }
    }

    // Collapsing before the math goes back is what keeps math verbatim.
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    masked.restore(&collapsed, |out, math, _| {
        out.push_str(math);
        0
    })
}

/// At most `length` characters (not bytes) of `plain`, cut at a word
/// boundary, with `…` appended when anything was cut; the `…` counts towards
/// `length`.
///
/// Surrounding whitespace is trimmed first. Words are separated by
/// whitespace, and a math span counts as one word, so a cut never falls
/// inside math unless the first word alone is too long: then the text is
/// cut hard after `length - 1` characters. A `length` of 0 gives an empty
/// string.
pub fn excerpt(plain: &str, length: usize) -> String {
    let plain = plain.trim();
    let Some(budget) = length.checked_sub(1) else {
        return String::new();
    };
    if plain.chars().nth(length).is_none() {
        return plain.to_owned();
    }
    // Byte offset just past the first `budget` characters.
    let limit = plain
        .char_indices()
        .nth(budget)
        .map_or(plain.len(), |(at, _)| at);

    // The last whitespace outside math at or before `limit`: cutting there
    // keeps whole words and leaves at most `budget` characters.
    let mut boundary = None;
    let mut at = 0;
    while at <= limit {
        let rest = plain.get(at..).unwrap_or_default();
        let Some(c) = rest.chars().next() else { break };
        if c.is_whitespace() {
            boundary = Some(at);
            at += c.len_utf8();
        } else if let Some(len) = math_span_end(rest) {
            at += len;
        } else {
            at += c.len_utf8();
        }
    }

    let words = boundary
        .and_then(|end| plain.get(..end))
        .map(str::trim_end)
        .filter(|words| !words.is_empty());
    let mut out = words
        .or_else(|| plain.get(..limit))
        .unwrap_or_default()
        .to_owned();
    out.push('…');
    out
}

/// Formats `date` after `pattern`, whose tokens are replaced and whose other
/// characters are copied.
///
/// | token  | gives                        | example   |
/// |--------|------------------------------|-----------|
/// | `YYYY` | year, at least 4 digits      | `2024`    |
/// | `YY`   | year, last 2 digits          | `24`      |
/// | `MMMM` | full English month name      | `December`|
/// | `MMM`  | month name, first 3 letters  | `Dec`     |
/// | `MM`   | month, 2 digits              | `12`      |
/// | `M`    | month number                 | `12`      |
/// | `DD`   | day of the month, 2 digits   | `09`      |
/// | `D`    | day of the month             | `9`       |
///
/// The longest token wins (`MMMM` before `MMM`). There is no escape, so a
/// literal `D`, `M` or `Y` cannot appear in the output.
///
/// `display_date(2024-12-11, "MMM DD, YYYY")` gives `"Dec 11, 2024"`.
pub fn display_date(date: NaiveDate, pattern: &str) -> String {
    let month = MONTHS
        .get(date.month0() as usize)
        .copied()
        .unwrap_or_default();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        let Some(token) = DATE_TOKENS.iter().find(|token| rest.starts_with(*token)) else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        match *token {
            "YYYY" => out.push_str(&format!("{:04}", date.year())),
            "YY" => out.push_str(&format!("{:02}", date.year().rem_euclid(100))),
            "MMMM" => out.push_str(month),
            "MMM" => out.extend(month.chars().take(3)),
            "MM" => out.push_str(&format!("{:02}", date.month())),
            "M" => out.push_str(&date.month().to_string()),
            "DD" => out.push_str(&format!("{:02}", date.day())),
            _ => out.push_str(&date.day().to_string()),
        }
        rest = &rest[token.len()..];
    }
    out
}

/// An answer with every math span outside code swapped for a placeholder.
///
/// It owns its spans because ammonia's attribute filter must be `'static`.
struct Masked {
    /// The answer with placeholders in place of math.
    text: String,
    /// What every placeholder starts with; `{prefix}{index}q` stands for
    /// `spans[index]`.
    prefix: String,
    /// The math spans, delimiters included, as written.
    spans: Vec<String>,
}

impl Masked {
    fn new(markdown: &str) -> Self {
        // Lower-case hex between a leading word and `n`, then decimal digits
        // and `q`: letters and digits only, so neither markdown nor HTML
        // reads anything into it, and the `q` ends the index even when a
        // digit follows.
        let prefix = format!("qtmath{}n", blake3::hash(markdown.as_bytes()).to_hex());
        let code = code_ranges(markdown);
        let mut code = code.iter().peekable();
        let mut text = String::with_capacity(markdown.len());
        let mut spans = Vec::new();
        let mut at = 0;
        while let Some(rest) = markdown.get(at..)
            && let Some(c) = rest.chars().next()
        {
            while code.next_if(|range| range.end <= at).is_some() {}
            if let Some(range) = code.peek()
                && range.start <= at
                && let Some(literal) = markdown.get(at..range.end)
            {
                text.push_str(literal);
                at = range.end;
            } else if let Some(len) = math_span_end(rest)
                && let Some(math) = rest.get(..len)
            {
                text.push_str(&format!("{prefix}{}q", spans.len()));
                spans.push(math.to_owned());
                at += len;
            } else {
                text.push(c);
                at += c.len_utf8();
            }
        }
        Masked {
            text,
            prefix,
            spans,
        }
    }

    /// `text` with every placeholder replaced by what `emit` writes for its
    /// math span. `emit` gets the output so far, the span, and the text
    /// after the placeholder, and returns how many bytes of that text it
    /// consumed.
    fn restore(
        &self,
        text: &str,
        mut emit: impl FnMut(&mut String, &str, &str) -> usize,
    ) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(found) = rest.find(&self.prefix) {
            let (before, tail) = rest.split_at(found);
            out.push_str(before);
            let index_and_after = tail.get(self.prefix.len()..).unwrap_or_default();
            let digits = index_and_after
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let (index, after) = index_and_after.split_at(digits);
            let math = index.parse::<usize>().ok().and_then(|i| self.spans.get(i));
            match (math, after.strip_prefix('q')) {
                (Some(math), Some(after)) => {
                    let used = emit(&mut out, math, after);
                    rest = after.get(used..).unwrap_or(after);
                }
                // Only our own placeholders carry the prefix, so this is
                // unreachable in practice; copying keeps it harmless.
                _ => {
                    out.push_str(&self.prefix);
                    rest = index_and_after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The byte ranges of the code spans and code blocks of `markdown`, in
/// order.
fn code_ranges(markdown: &str) -> Vec<Range<usize>> {
    Parser::new_ext(markdown, markdown_options())
        .into_offset_iter()
        .filter(|(event, _)| matches!(event, Event::Code(_) | Event::Start(Tag::CodeBlock(_))))
        .map(|(_, range)| range)
        .collect()
}

/// Whether a markdown element sits inside a line of text, so that its ends
/// are not word breaks.
fn is_inline(tag: &TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
    )
}

/// The text of a piece of raw HTML: tags dropped, the content of `<script>`
/// and `<style>` dropped, entities decoded.
fn html_text(html: &str) -> String {
    let escaped = ammonia::Builder::empty().clean(html).to_string();
    // The serializer only ever writes these four entities in text; `&amp;`
    // goes last so `&amp;lt;` becomes `&lt;`, not `<`.
    escaped
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Appends `text` HTML-escaped (`& < > " '`), safe in element content and in
/// quoted attribute values: the server's one HTML escaper, the one
/// pulldown-cmark writes the answers' HTML with.
pub fn push_escaped(out: &mut String, text: &str) {
    // Writing to a `String` cannot fail.
    let _ = pulldown_cmark_escape::escape_html(out, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn reader_html_typesets_math_and_keeps_it_safe() {
        let html = reader_html(
            "Let \\( \\nu \\neq 0 \\).\n\n$$ x^2 $$\n\nBad \\( \\text{<img src=x onerror=alert(1)>} \\) \\( \\operatorname{\"><svg onload=alert(2)>} \\)",
        );
        assert!(
            html.contains("<span class=\"math inline\"><math display=\"inline\"><mi>ν</mi><mo>≠</mo><mn>0</mn></math></span>"),
            "{html}"
        );
        assert!(
            html.contains("<div class=\"math display\"><math display=\"block\"><msup><mi>x</mi><mn>2</mn></msup></math></div>"),
            "{html}"
        );
        for gone in ["<img", "onerror", "<svg", "onload"] {
            assert!(!html.contains(gone), "{gone}: {html}");
        }
        // The answer's HTML for clients keeps the source, as before.
        assert!(answer_html("\\( \\nu \\)").contains("\\( \\nu \\)"));
    }

    #[test]
    fn removes_scripts() {
        let html = answer_html("hi <script>alert(1)</script>\n\n<script>\nalert(2)\n</script>\n");
        assert!(!html.contains("script"), "{html}");
        assert!(!html.contains("alert"), "{html}");
        assert!(html.contains("hi"), "{html}");
    }

    #[test]
    fn removes_event_handlers() {
        let html = answer_html("<b onclick=\"alert(1)\">bold</b> <img src=x onerror=alert(1)>");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(html.contains("<b>bold</b>"), "{html}");
    }

    #[test]
    fn removes_javascript_urls() {
        for md in [
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">click</a>",
            "[click](JaVaScRiPt:alert(1))",
        ] {
            let html = answer_html(md);
            assert!(!html.to_lowercase().contains("javascript"), "{md}: {html}");
            assert!(html.contains("click"), "{md}: {html}");
        }
    }

    #[test]
    fn renders_tables() {
        let html = answer_html("| a | b |\n|:--|--:|\n| 1 | 2 |\n");
        for part in [
            "<table>", "<thead>", "<th", "<tbody>", "<td", ">1</td>", ">2</td>",
        ] {
            assert!(html.contains(part), "{part}: {html}");
        }
        assert!(html.contains("text-align"), "{html}");
    }

    #[test]
    fn renders_markdown() {
        let html = answer_html("# Title\n\nSome *em* and **strong** and ~~gone~~.\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>em</em>"), "{html}");
        assert!(html.contains("<strong>strong</strong>"), "{html}");
        assert!(html.contains("<del>gone</del>"), "{html}");
    }

    #[test]
    fn keeps_inline_math_verbatim() {
        let html = answer_html("Let \\( \\nu_1 * x \\) and \\( y_2 * z \\) be given.");
        assert!(
            html.contains(r#"<span class="math inline">\( \nu_1 * x \)</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="math inline">\( y_2 * z \)</span>"#),
            "{html}"
        );
        assert!(!html.contains("<em>"), "{html}");
    }

    #[test]
    fn escapes_display_math() {
        let html = answer_html("$$a<b$$");
        assert_eq!(html.trim(), r#"<div class="math display">$$a&lt;b$$</div>"#);
        let html = answer_html("Before.\n\n\\[\n\\sum_i x_i > 0 & 1\n\\]\n\nAfter.");
        assert!(
            html.contains("<div class=\"math display\">\\[\n\\sum_i x_i &gt; 0 &amp; 1\n\\]</div>"),
            "{html}"
        );
        assert!(!html.contains("<p><div"), "{html}");
    }

    #[test]
    fn display_math_in_running_text_is_a_span() {
        let html = answer_html("so \\[ x \\] follows");
        assert!(
            html.contains(r#"<p>so <span class="math display">\[ x \]</span> follows</p>"#),
            "{html}"
        );
    }

    #[test]
    fn math_cannot_inject_markup() {
        let html = answer_html("\\( <script>alert(1)</script> \\)");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn math_in_attributes_is_source_text() {
        let html = answer_html("[x](/a \"t \\( a<b \\)\")");
        assert!(html.contains(r#"title="t \( a&lt;b \)""#), "{html}");
        assert!(!html.contains("qtmath"), "{html}");
    }

    #[test]
    fn math_inside_code_stays_code() {
        let html = answer_html("`\\( x \\)` and\n\n```\n$$ y $$\n```\n");
        assert!(html.contains("<code>\\( x \\)</code>"), "{html}");
        assert!(html.contains("$$ y $$"), "{html}");
        assert!(!html.contains("math"), "{html}");
    }

    #[test]
    fn unclosed_math_is_markdown() {
        let html = answer_html("\\( *a*");
        assert!(html.contains("<em>a</em>"), "{html}");
    }

    #[test]
    fn lookalike_placeholders_stay_text() {
        // A token shaped like ours but made for another answer.
        let foreign = format!("{}0q", Masked::new("other").prefix);
        let html = answer_html(&foreign);
        assert_eq!(html.trim(), format!("<p>{foreign}</p>"));
        assert_eq!(plain_text(&foreign), foreign);

        // The exact token this answer would get, typed into it: typing it
        // changes the answer's hash, so the real placeholders differ.
        let token = format!("{}0q", Masked::new("\\( a \\)").prefix);
        let typed = format!("{token} \\( a \\)");
        let html = answer_html(&typed);
        assert_eq!(
            html.trim(),
            format!(r#"<p>{token} <span class="math inline">\( a \)</span></p>"#)
        );
        assert_eq!(plain_text(&typed), typed);
    }

    #[test]
    fn plain_text_strips_markdown() {
        let md = "# Title\n\nSome *em*phasis and [a link](http://x.y).\n\n\
                  - one\n- two\n  - nested\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\
                  `code \\( x \\)`\n\n<div class=\"x\">raw &amp; <b>html</b></div>\n\n\
                  hi <script>alert(1)</script> there";
        assert_eq!(
            plain_text(md),
            "Title Some emphasis and a link. one two nested a b 1 2 code \\( x \\) raw & html hi there"
        );
    }

    #[test]
    fn plain_text_keeps_math_verbatim() {
        let md = "Let \\( \\nu_1 * x \\)\nbe.\n\n$$\na  *  b\n$$";
        assert_eq!(plain_text(md), "Let \\( \\nu_1 * x \\) be. $$\na  *  b\n$$");
    }

    #[test]
    fn excerpt_fits_or_cuts_at_words() {
        assert_eq!(excerpt("short text", 20), "short text");
        assert_eq!(excerpt("exactly ten", 11), "exactly ten");
        assert_eq!(excerpt("one two three", 9), "one two…");
        assert_eq!(excerpt("one two three", 8), "one two…");
        assert_eq!(excerpt("one two three", 7), "one…");
        assert_eq!(excerpt("one two three", 5), "one…");
        assert_eq!(excerpt("  padded  ", 6), "padded");
    }

    #[test]
    fn excerpt_counts_chars_not_bytes() {
        assert_eq!(excerpt("ééé ééé ééé", 8), "ééé ééé…");
        assert_eq!(excerpt("ééé ééé ééé", 8).chars().count(), 8);
    }

    #[test]
    fn excerpt_hard_cuts_a_long_first_word() {
        assert_eq!(excerpt("abcdefghij klm", 5), "abcd…");
        assert_eq!(excerpt("abcde fgh", 5), "abcd…");
        assert_eq!(excerpt("abcdef", 1), "…");
        assert_eq!(excerpt("abc", 0), "");
        assert_eq!(excerpt("", 0), "");
        assert_eq!(excerpt("", 3), "");
    }

    #[test]
    fn excerpt_does_not_cut_math() {
        assert_eq!(excerpt("see \\( a + b \\) now", 12), "see…");
        assert_eq!(excerpt("see \\( a + b \\) now", 16), "see \\( a + b \\)…");
    }

    #[test]
    fn display_date_tokens() {
        let d = date(2024, 12, 11);
        assert_eq!(display_date(d, "MMM DD, YYYY"), "Dec 11, 2024");
        assert_eq!(display_date(d, "MMMM D, YY"), "December 11, 24");
        assert_eq!(display_date(d, "YYYY-MM-DD"), "2024-12-11");
        let d = date(2005, 3, 7);
        assert_eq!(display_date(d, "D/M/YY"), "7/3/05");
        assert_eq!(display_date(d, "DD.MM.YYYY"), "07.03.2005");
        assert_eq!(display_date(d, "MMMM"), "March");
        assert_eq!(display_date(d, "on MMM D!"), "on Mar 7!");
        assert_eq!(display_date(d, "é YYYY é"), "é 2005 é");
        assert_eq!(display_date(d, ""), "");
    }
}
