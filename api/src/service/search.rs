//! English full-text search over title, question and answer: FTS5 on
//! SQLite, `tsvector` on PostgreSQL. Any user text is a valid query: it is
//! cut into words and only the words reach the search engine, at most
//! [`MAX_TERMS`] of them from the first [`MAX_QUERY_CHARS`] characters.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};

use crate::error::Result;
use crate::render::push_escaped;

/// Marks the start of a matched term in a raw snippet (a private-use character
/// no text carries), so the snippet can be HTML-escaped before `<mark>` goes in.
const MARK_START: char = '\u{E000}';
/// Marks the end of a matched term in a raw snippet.
const MARK_END: char = '\u{E001}';

/// One search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The article.
    pub id: i64,
    /// Relevance; higher is better.
    pub rank: f64,
    /// HTML-escaped text with `<mark>…</mark>` around the matched terms.
    pub snippet: String,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    id: i64,
    rank: f64,
    snippet: Option<String>,
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    n: i64,
}

/// The terms of a user query: letters and digits, lower-cased; everything
/// else separates. Only the first `search_chars` characters are read (when
/// that cut falls inside a word, the cut-off word is dropped rather than
/// searched as a fragment), a term repeated in any case counts once, and
/// only the first `search_terms` distinct terms are kept (the limits of
/// [`crate::limits`], SPEC §5). Each term is a separate index lookup whose
/// results are intersected, so the caps bound the work one query can ask
/// for. Never an error: any text gives a (possibly empty) list.
pub fn words(query: &str) -> Vec<String> {
    let limits = crate::limits::get();
    let head = match query.char_indices().nth(limits.search_chars) {
        None => query,
        Some((end, next)) => {
            let head = &query[..end];
            if next.is_alphanumeric() {
                head.trim_end_matches(char::is_alphanumeric)
            } else {
                head
            }
        }
    };
    let mut terms: Vec<String> = Vec::new();
    for word in head
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        if !terms.contains(&word) {
            terms.push(word);
            if terms.len() >= limits.search_terms {
                break;
            }
        }
    }
    terms
}

/// HTML-escapes a raw snippet and turns its term markers into `<mark>` tags.
fn snippet_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 32);
    for piece in raw.split_inclusive([MARK_START, MARK_END]) {
        let (text, tag) = if let Some(text) = piece.strip_suffix(MARK_START) {
            (text, "<mark>")
        } else if let Some(text) = piece.strip_suffix(MARK_END) {
            (text, "</mark>")
        } else {
            (piece, "")
        };
        push_escaped(&mut out, text);
        out.push_str(tag);
    }
    out
}

/// The match expression and its SQL for the connection's backend.
fn match_sql(backend: DbBackend, words: &[String]) -> (String, Value) {
    match backend {
        DbBackend::Postgres => (
            "plainto_tsquery('english', $1)".to_owned(),
            Value::from(words.join(" ")),
        ),
        // Each word quoted: FTS5 then reads it as a plain term, never as syntax.
        _ => (
            String::new(),
            Value::from(
                words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
    }
}

/// Live articles matching `query` (every word must match), best first, with
/// the total count.
pub async fn search(
    db: &impl ConnectionTrait,
    query: &str,
    subject_id: Option<i32>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Hit>, u64)> {
    let words = words(query);
    if words.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let backend = db.get_database_backend();
    let (tsquery, term) = match_sql(backend, &words);
    let subject = subject_id.map_or(Value::Int(None), |s| Value::Int(Some(s)));
    let (sql, count_sql) = match backend {
        DbBackend::Postgres => (
            format!(
                "SELECT a.id, ts_rank_cd(a.search_vector, q)::float8 AS rank, \
                 ts_headline('english', a.title || ' — ' || a.question || ' — ' || a.answer_text, q, \
                 'StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=30, MinWords=12, MaxFragments=1') AS snippet \
                 FROM article a, {tsquery} q \
                 WHERE a.search_vector @@ q AND a.deleted_at IS NULL AND ($2::int IS NULL OR a.subject_id = $2) \
                 ORDER BY rank DESC, a.id ASC LIMIT $3 OFFSET $4"
            ),
            format!(
                "SELECT COUNT(*)::int8 AS n FROM article a, {tsquery} q \
                 WHERE a.search_vector @@ q AND a.deleted_at IS NULL AND ($2::int IS NULL OR a.subject_id = $2)"
            ),
        ),
        // `INDEXED BY`: the planner would look each match up by rowid and
        // read its row's overflow pages to reach `deleted_at`; the index
        // (migration m20261130_000001) holds what the filter needs.
        _ => (
            format!(
                "SELECT a.id AS id, -bm25(article_fts, 10.0, 5.0, 1.0) AS rank, \
                 snippet(article_fts, -1, '{MARK_START}', '{MARK_END}', '…', 24) AS snippet \
                 FROM article_fts JOIN article a INDEXED BY idx_article_live ON a.id = article_fts.rowid \
                 WHERE article_fts MATCH ?1 AND a.deleted_at IS NULL AND (?2 IS NULL OR a.subject_id = ?2) \
                 ORDER BY rank DESC, a.id ASC LIMIT ?3 OFFSET ?4"
            ),
            "SELECT COUNT(*) AS n FROM article_fts JOIN article a INDEXED BY idx_article_live ON a.id = article_fts.rowid \
             WHERE article_fts MATCH ?1 AND a.deleted_at IS NULL AND (?2 IS NULL OR a.subject_id = ?2)"
                .to_owned(),
        ),
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [term.clone(), subject.clone(), limit.into(), offset.into()],
    ))
    .all(db)
    .await?;
    let total = CountRow::find_by_statement(Statement::from_sql_and_values(
        backend,
        count_sql,
        [term, subject],
    ))
    .one(db)
    .await?
    .map_or(0, |r| u64::try_from(r.n).unwrap_or(0));
    let hits = rows
        .into_iter()
        .map(|r| Hit {
            id: r.id,
            rank: r.rank,
            snippet: snippet_html(r.snippet.as_deref().unwrap_or_default()),
        })
        .collect();
    Ok((hits, total))
}

#[cfg(test)]
mod tests {
    use super::words;
    const MAX_TERMS: usize = crate::limits::Limits::DEFAULT.search_terms;
    const MAX_QUERY_CHARS: usize = crate::limits::Limits::DEFAULT.search_chars;

    #[test]
    fn words_are_lower_cased_and_split_on_anything_but_letters_and_digits() {
        assert_eq!(
            words("Imaging\" OR 1=1 -- NEAR(HCC, 2) café_Ünïcode"),
            ["imaging", "or", "1", "near", "hcc", "2", "café", "ünïcode"]
        );
        assert!(words("").is_empty());
        assert!(words("\u{0} (((( *** --").is_empty());
    }

    #[test]
    fn duplicates_count_once_whatever_their_case() {
        assert_eq!(words("HCC hcc Imaging hCc imaging"), ["hcc", "imaging"]);
        // Duplicates are dropped before the term cap, so they use up none of it.
        let query = format!("{}last", "x ".repeat(100));
        assert_eq!(words(&query), ["x", "last"]);
    }

    #[test]
    fn only_the_first_32_distinct_terms_are_kept() {
        let all: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        let kept = words(&all.join(" "));
        assert_eq!(kept.len(), MAX_TERMS);
        assert_eq!(kept, all[..MAX_TERMS]);
    }

    #[test]
    fn only_the_first_256_characters_are_read_and_no_word_is_cut() {
        // 255 characters of separators, then a word across the cut: dropped, not searched as "a".
        let query = format!("{}abc", " ".repeat(MAX_QUERY_CHARS - 1));
        assert!(words(&query).is_empty());
        // A word that ends exactly at the cut is whole and kept.
        let query = format!("{}abc def", " ".repeat(MAX_QUERY_CHARS - 3));
        assert_eq!(words(&query), ["abc"]);
        // Characters, not bytes: multi-byte text is cut on a char boundary.
        let query = format!("{} ééé", "ü ".repeat(MAX_QUERY_CHARS / 2 - 1));
        assert_eq!(words(&query), ["ü"]);
        let query = "x ".repeat(20_000);
        assert_eq!(words(&query), ["x"]);
    }
}
