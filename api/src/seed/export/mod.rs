//! [`ArticleFields`] → seed file text. An article nobody changed is written
//! back exactly as imported; for a changed one only the lines of the changed
//! keys are rewritten, in the file's own style, and the result is parsed
//! again to prove it reads back to the same values.
//!
//! `patch` holds the style-preserving patcher, `write` the writer of
//! values and fresh files; this module the export job.

mod patch;
mod write;

use super::parse::parse_seed;
use crate::fields::ArticleFields;
use patch::patch;
use write::fresh;

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

/// The file an article was last imported from, when nobody changed the
/// article since: every change bumps the version, and the import that
/// wrote the file's values recorded that version as imported. That file
/// is the export, byte for byte, with no need to parse it again (which
/// was most of an export's time).
fn unedited_source(m: &entity::article::Model) -> Option<&str> {
    m.source_text
        .as_deref()
        .filter(|_| m.imported_version == Some(m.version))
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
    use crate::service::lookup::{Texts, read};
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
        let select = live()
            .filter(article::Column::Id.gt(after))
            .order_by_asc(article::Column::Id)
            .limit(EXPORT_PAGE);
        let page = read(db, select, Texts::EXPORT).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let stored = with_links(db, page, &subjects).await?;
        // Rendered on every core, written from one thread: files created in
        // one folder from several threads queue on the folder's lock, and
        // the kernel spins while they wait (31 % of an export's samples
        // into a folder just emptied; one writer halved its system time).
        let texts = stored
            .par_iter()
            .map(|s| match unedited_source(&s.model) {
                Some(source) => Ok(std::borrow::Cow::Borrowed(source)),
                None => render_seed(&s.fields, s.model.source_text.as_deref())
                    .map(std::borrow::Cow::Owned)
                    .map_err(|e| Error::Internal(e.to_string())),
            })
            .collect::<crate::error::Result<Vec<_>>>()?;
        for (s, text) in stored.iter().zip(texts) {
            let path = dir.join(&s.fields.file_name);
            std::fs::write(&path, text.as_bytes()).map_err(|e| io(&path, e))?;
            progress.advance(1);
        }
        written += stored.len();
    }
    progress.finish();
    Ok(written)
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
