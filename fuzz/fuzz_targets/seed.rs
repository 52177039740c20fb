//! Fuzzes the seed parser and the exporter: any text either fails to parse
//! or parses to valid values that every way of writing them back preserves.
//!
//! For a seed that parses, the target checks that
//! - the values pass the shared validator;
//! - `render_seed` with the text as source writes the text back verbatim;
//! - `render_new` writes a fresh file that reads back to the same values;
//! - a few edited copies of the values (chosen by a hash of the input, with
//!   the input's own strings moved into other keys, so the fuzzer's text
//!   reaches every key's writer in every style) patched into the text read
//!   back to exactly the edited values.
//!
//! A failed check panics, so libFuzzer stops and saves the input. With
//! `SEED_FUZZ_SURVEY=DIR` set, a failed check of the exporter is recorded
//! instead, once per kind of failure (`DIR/N.input` and `DIR/N.txt`, and a
//! `SURVEY` line on stderr), and fuzzing goes on: for long runs that should
//! find every kind of failure rather than stop at the first. Each record
//! says whether the exporter's line scanner (`Layout`) saw the file's keys
//! as YAML does, which separates scanner confusion from other causes.

#![no_main]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use quicktakes::fields::{ArticleFields, Link, Seo, article_url, validate};
use quicktakes::seed::export::{render_new, render_seed};
use quicktakes::seed::layout::{Layout, split_document};
use quicktakes::seed::parse::parse_seed;
use serde_yaml::{Mapping, Value};

/// Where failures are recorded instead of aborting (`SEED_FUZZ_SURVEY`).
static SURVEY: LazyLock<Option<PathBuf>> =
    LazyLock::new(|| std::env::var_os("SEED_FUZZ_SURVEY").map(PathBuf::from));

/// Most kinds of failure recorded in one run.
const MAX_SURVEY_KINDS: usize = 200;

/// Most kinds of failure recorded, in one run, for inputs whose keys the
/// line scanner sees differently from YAML.
const MAX_MISMATCH_KINDS: usize = 20;

/// Prefix of the kinds of failure of those inputs.
const MISMATCH: &str = "layout mismatch: ";

/// The kinds of failure recorded so far.
static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Edited copies checked per parsed input.
const EDITS_PER_INPUT: usize = 3;

type Edit = fn(&mut ArticleFields);

/// One way of changing an article, by name.
const EDITS: &[(&str, Edit)] = &[
    ("title <- question", |f| f.title.clone_from(&f.question)),
    ("article_title <- answer", |f| {
        f.article_title.clone_from(&f.answer)
    }),
    ("question <- answer", |f| f.question.clone_from(&f.answer)),
    ("answer <- title + escapes", |f| {
        f.answer = format!("{}\n\n\\( \\nu \\) a\\b \\\\ $$x\ny$$ \\n", f.title);
    }),
    ("answer <- body", |f| f.answer.clone_from(&f.body)),
    ("subject <- title", |f| f.subject.clone_from(&f.title)),
    ("template <- subject", |f| f.template.clone_from(&f.subject)),
    ("date_format <- question", |f| {
        f.date_format.clone_from(&f.question)
    }),
    ("post_on_text <- answer", |f| {
        f.post_on_text.clone_from(&f.answer)
    }),
    ("author toggled", |f| {
        f.author = match f.author {
            Some(_) => None,
            None => Some(f.title.clone()),
        };
    }),
    ("author <- answer", |f| f.author = Some(f.answer.clone())),
    ("seo.title <- answer", |f| {
        f.seo.title = Some(f.answer.clone())
    }),
    ("seo.description <- title", |f| {
        f.seo.description = Some(f.title.clone());
    }),
    ("seo.keywords edited", |f| {
        f.seo.keywords.reverse();
        f.seo.keywords.push("added keyword".to_owned());
    }),
    ("seo cleared", |f| f.seo = Seo::default()),
    ("seo <- everything", |f| {
        f.seo = Seo {
            title: Some(f.question.clone()),
            description: Some(f.answer.clone()),
            keywords: f
                .title
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
        };
    }),
    ("score changed", |f| {
        f.score = match f.score {
            None => Some(0.25),
            Some(0.25) => None,
            Some(v) => Some(v * 3.0 + 0.5).filter(|s| s.is_finite() && *s != -1.0),
        };
    }),
    ("date toggled", |f| {
        f.date = match f.date {
            Some(_) => None,
            None => NaiveDate::from_ymd_opt(2024, 2, 29),
        };
    }),
    ("url changed", |f| {
        f.slug.push_str("-x");
        f.url = article_url(&f.subject_slug, &f.slug);
    }),
    ("file_name changed", |f| {
        f.file_name = "renamed-file.md".to_owned()
    }),
    ("id changed", |f| f.id = f.id.checked_add(1).unwrap_or(1)),
    ("related reversed", |f| {
        f.related.reverse();
        for (i, link) in f.related.iter_mut().enumerate() {
            link.position = i32::try_from(i + 1).unwrap_or(i32::MAX);
        }
    }),
    ("related first dropped", |f| {
        if !f.related.is_empty() {
            f.related.remove(0);
        }
    }),
    ("related first retitled", |f| {
        let title = f.answer.clone();
        if let Some(link) = f.related.first_mut() {
            link.title = title;
        }
    }),
    ("related added", |f| {
        let id = f
            .related
            .iter()
            .map(|l| l.id)
            .chain([f.id])
            .max()
            .and_then(|m| m.checked_add(1))
            .unwrap_or(1);
        let position = f.related.last().map_or(1, |l| l.position.saturating_add(1));
        f.related.push(Link {
            position,
            id,
            title: f.question.clone(),
            subject: f.subject.clone(),
            subject_slug: f.subject_slug.clone(),
            url: f.url.clone(),
        });
    }),
    ("related cleared", |f| f.related.clear()),
    ("body <- title", |f| f.body.clone_from(&f.title)),
    ("body appended", |f| {
        f.body.push_str("\n---\nmore | a | b |\n")
    }),
];

/// FNV-1a, to pick the edits deterministically from the input.
fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The text keys of a YAML mapping, sorted.
fn yaml_keys(map: &Mapping) -> Vec<String> {
    let mut keys: Vec<String> = map
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

/// Whether the exporter's line scanner finds the same keys as YAML, at the
/// top level and one level down.
fn layout_matches_yaml(text: &str) -> bool {
    let Ok(doc) = split_document(text) else {
        return false;
    };
    let Ok(Value::Mapping(map)) = serde_yaml::from_str::<Value>(doc.front_matter) else {
        return false;
    };
    let layout = Layout::new(doc.front_matter);
    let mut keys: Vec<String> = layout.entries.iter().map(|e| e.key.clone()).collect();
    keys.sort();
    if keys != yaml_keys(&map) {
        return false;
    }
    layout
        .entries
        .iter()
        .all(|entry| match map.get(entry.key.as_str()) {
            Some(Value::Mapping(child)) => {
                let mut keys: Vec<String> =
                    layout.children(entry).into_iter().map(|e| e.key).collect();
                keys.sort();
                keys == yaml_keys(child)
            }
            _ => true,
        })
}

/// The names of the fields where `a` and `b` differ.
fn differing_fields(a: &ArticleFields, b: &ArticleFields) -> Vec<&'static str> {
    let checks = [
        ("id", a.id == b.id),
        ("title", a.title == b.title),
        ("article_title", a.article_title == b.article_title),
        ("question", a.question == b.question),
        ("answer", a.answer == b.answer),
        ("subject", a.subject == b.subject),
        ("subject_slug", a.subject_slug == b.subject_slug),
        ("slug", a.slug == b.slug),
        ("url", a.url == b.url),
        ("file_name", a.file_name == b.file_name),
        ("template", a.template == b.template),
        ("date", a.date == b.date),
        ("date_format", a.date_format == b.date_format),
        ("post_on_text", a.post_on_text == b.post_on_text),
        ("author", a.author == b.author),
        ("seo", a.seo == b.seo),
        ("score", a.score == b.score),
        ("related", a.related == b.related),
        ("body", a.body == b.body),
    ];
    checks
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name)
        .collect()
}

/// A failed check: `kind` names the failure without details (line numbers,
/// ids), `detail` says everything. Panics unless surveying.
fn failed(data: &[u8], text: &str, kind: &str, detail: &str) {
    let Some(dir) = SURVEY.as_ref() else {
        panic!("{kind}\n{detail}");
    };
    let kind: String = kind
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    let layout = layout_matches_yaml(text);
    let n = {
        let mut seen = SEEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Scanner confusion fails in endless ways: keep a few examples.
        let mismatches = seen.iter().filter(|k| k.starts_with(MISMATCH)).count();
        let key = if layout {
            kind.clone()
        } else {
            format!("{MISMATCH}{kind}")
        };
        if seen.len() >= MAX_SURVEY_KINDS
            || (!layout && mismatches >= MAX_MISMATCH_KINDS)
            || !seen.insert(key)
        {
            return;
        }
        seen.len()
    };
    let input = dir.join(format!("{n}.input"));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&input, data))
        .and_then(|()| {
            std::fs::write(
                dir.join(format!("{n}.txt")),
                format!("{kind}\nlayout matches YAML: {layout}\n\n{detail}\n"),
            )
        });
    if let Err(e) = written {
        panic!("cannot record survey failure in {}: {e}", dir.display());
    }
    eprintln!(
        "SURVEY new failure #{n}: {kind} (layout matches YAML: {layout}); input {}",
        input.display()
    );
}

/// Checks that `out`, written by `what`, reads back as `expected`.
fn check_reads_back(data: &[u8], text: &str, what: &str, out: &str, expected: &ArticleFields) {
    match parse_seed(out) {
        Ok(parsed) if &parsed.fields == expected => {}
        Ok(parsed) => failed(
            data,
            text,
            &format!(
                "{what}: the written seed reads back with other {:?}",
                differing_fields(&parsed.fields, expected)
            ),
            &format!(
                "read back {:?}\nexpected {expected:?}\nwritten:\n{out}",
                parsed.fields
            ),
        ),
        Err(problems) => failed(
            data,
            text,
            &format!("{what}: the written seed does not parse"),
            &format!("{problems:?}\nwritten:\n{out}"),
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(parsed) = parse_seed(&text) else {
        return;
    };
    let fields = parsed.fields;
    let problems = validate(&fields);
    assert!(
        problems.is_empty(),
        "parse_seed accepted invalid values: {problems:?}"
    );

    match render_seed(&fields, Some(&text)) {
        Ok(same) if same == text => {}
        Ok(other) => failed(
            data,
            &text,
            "render_seed of unchanged values is not the source",
            &other,
        ),
        Err(e) => failed(
            data,
            &text,
            "render_seed of unchanged values failed",
            &e.to_string(),
        ),
    }

    match render_new(&fields) {
        Ok(fresh) => check_reads_back(data, &text, "render_new", &fresh, &fields),
        Err(e) => failed(
            data,
            &text,
            &format!("render_new failed: {e}"),
            &format!("{e}\n{fields:?}"),
        ),
    }

    let h = hash(data);
    for k in 0..EDITS_PER_INPUT {
        let at = usize::try_from(h.rotate_left(21 * k as u32) % EDITS.len() as u64).unwrap_or(0);
        let (name, edit) = EDITS[at];
        let mut edited = fields.clone();
        edit(&mut edited);
        if edited == fields || !validate(&edited).is_empty() {
            continue;
        }
        match render_seed(&edited, Some(&text)) {
            Ok(out) => check_reads_back(data, &text, name, &out, &edited),
            Err(e) => failed(
                data,
                &text,
                &format!("render_seed after `{name}` failed: {e}"),
                &format!("{e}\nedited: {edited:?}"),
            ),
        }
    }
});
