//! The answer escapes of the seed format.
//!
//! Seeds store an answer on one line: outside math, `\n` stands for a line
//! break and `\\` for one backslash, while every other backslash is literal.
//! Inside math (`\( … \)`, `\[ … \]`, `$$ … $$`) every character is literal,
//! so TeX such as `\nu` survives. [`encode_answer`] is the exact inverse of
//! [`decode_answer`]: both find math spans with [`math_span_end`], and
//! encoding only ever touches backslashes and line breaks, which cannot
//! create or hide a span delimiter.

/// The three math delimiters: opener and closer.
const MATH_DELIMITERS: [(&str, &str); 3] = [("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$")];

/// If a math span opens at the start of `text` and is closed later, the byte
/// length of the whole span (delimiters included). An opener that is never
/// closed does not start math.
pub(crate) fn math_span_end(text: &str) -> Option<usize> {
    // Called at every character of every answer: one byte compare rules
    // out almost all of them (three prefix compares were a tenth of an
    // import's time).
    if !matches!(text.as_bytes().first(), Some(b'\\' | b'$')) {
        return None;
    }
    MATH_DELIMITERS.iter().find_map(|(open, close)| {
        let rest = text.strip_prefix(open)?;
        rest.find(close).map(|at| open.len() + at + close.len())
    })
}

/// Decodes a seed answer: `\n` becomes a line break and `\\` one backslash
/// outside math; everything else is kept.
pub fn decode_answer(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    loop {
        // Only `\` and `$` start an escape or a span: the text up to the
        // next one is copied as it is.
        let plain = rest.find(['\\', '$']).unwrap_or(rest.len());
        out.push_str(&rest[..plain]);
        rest = &rest[plain..];
        let Some(c) = rest.chars().next() else { break };
        if let Some(len) = math_span_end(rest) {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
        } else if let Some(after) = rest.strip_prefix("\\n") {
            out.push('\n');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("\\\\") {
            out.push('\\');
            rest = after;
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Encodes an answer for a seed file; `decode_answer(&encode_answer(s)) == s`
/// for every string.
pub fn encode_answer(answer: &str) -> String {
    let mut out = String::with_capacity(answer.len() + answer.len() / 16);
    let mut rest = answer;
    loop {
        // Only a line break, `\` and `$` are escaped or start a span.
        let plain = rest.find(['\n', '\\', '$']).unwrap_or(rest.len());
        out.push_str(&rest[..plain]);
        rest = &rest[plain..];
        let Some(c) = rest.chars().next() else { break };
        if let Some(len) = math_span_end(rest) {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_breaks_and_backslashes_outside_math() {
        assert_eq!(decode_answer("a\\n\\nb \\\\ c \\q"), "a\n\nb \\ c \\q");
    }

    #[test]
    fn keeps_math_verbatim() {
        let raw = "x \\( \\nu \\neq 0 \\) y \\[ \\nabla \\] $$\\n$$\\n";
        assert_eq!(
            decode_answer(raw),
            "x \\( \\nu \\neq 0 \\) y \\[ \\nabla \\] $$\\n$$\n"
        );
    }

    #[test]
    fn unclosed_math_is_not_math() {
        assert_eq!(decode_answer("\\( \\n"), "\\( \n");
        assert_eq!(decode_answer("$$ \\n"), "$$ \n");
    }

    #[test]
    fn encode_inverts_decode() {
        for s in [
            "plain",
            "two\n\nparagraphs",
            "back\\slash \\( \\nu \\) and \\[ a\nb \\]",
            "\\( unclosed \\n",
            "$$ a $$ \\ $$",
            "\\\\n",
            "ends with \\",
        ] {
            assert_eq!(decode_answer(&encode_answer(s)), s, "{s:?}");
        }
    }
}
