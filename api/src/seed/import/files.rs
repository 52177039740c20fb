//! Reading the input: the seed files under the given paths, each parsed
//! (in parallel by the caller), and the problems a file has on its own or
//! with another file of the same run.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::plan::{Existing, classify, writes};
use super::spill::encode;
use super::{Action, MAX_FILE_BYTES};
use crate::fields::{ArticleFields, Field};
use crate::seed::parse::{ParsedSeed, parse_seed};
use crate::service::article::{DerivedText, wanted_subjects};

/// A problem with an input file, printed `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The file (or folder) as given.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub col: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl FileProblem {
    fn new(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.display().to_string(),
            line: None,
            col: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.path, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.path, self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// What the plan keeps of a valid file: the keys checked across files
/// (ids, slugs, urls, file names), never its text or parsed values, which
/// go to the spill (see `spill`) or, for an unchanged file, nowhere.
pub(super) struct FileKeys {
    /// The file as found.
    pub(super) file: PathBuf,
    /// The path relative to the folder it was found in (the file name when
    /// the file itself was given): what revision notes name, so no server
    /// path reaches the history.
    pub(super) name: String,
    pub(super) id: i64,
    pub(super) slug: String,
    pub(super) url: String,
    pub(super) file_name: String,
    /// File lines of the keys above; `None` for an unchanged file, which is
    /// not parsed unless a problem must point into it.
    lines: Option<Vec<(String, usize)>>,
    /// Its row's number in the spill of its action (creates or updates),
    /// for a file the plan writes.
    pub(super) row: Option<u32>,
    /// Its subjects as indexes into the import's subject table, its own
    /// first, then its links'; empty for a file the plan does not write.
    pub(super) subjects: Vec<u32>,
}

/// The fields whose keys the checks across files point at.
const KEY_FIELDS: [Field; 4] = [Field::Id, Field::Url, Field::Slug, Field::FileName];

impl FileKeys {
    /// The file as given, for reports.
    pub(super) fn path(&self) -> String {
        self.file.display().to_string()
    }

    /// The file line of `field`'s key.
    pub(super) fn line(&self, field: Field) -> Option<usize> {
        let key = field.seed_path();
        match &self.lines {
            Some(lines) => lines.iter().find(|(k, _)| *k == key).map(|(_, l)| *l),
            None => std::fs::read_to_string(&self.file)
                .ok()
                .and_then(|text| parse_seed(&text).ok())
                .and_then(|seed| seed.key_lines.get(&key).copied()),
        }
    }

    fn parsed(file: &Path, name: &str, seed: &ParsedSeed) -> Self {
        let f = &seed.fields;
        let lines = KEY_FIELDS
            .iter()
            .filter_map(|field| {
                let key = field.seed_path();
                seed.key_lines.get(&key).map(|&l| (key, l))
            })
            .collect();
        Self {
            file: file.to_owned(),
            name: name.to_owned(),
            id: f.id,
            slug: f.slug.clone(),
            url: f.url.clone(),
            file_name: f.file_name.clone(),
            lines: Some(lines),
            row: None,
            subjects: Vec::new(),
        }
    }
}

/// A row the plan writes, as spilled: the file's values, text and hash,
/// and the answer rendered (for a new article; an update renders only when
/// its answer changed, against the stored one).
#[derive(Serialize, Deserialize)]
pub(super) struct PlannedRow {
    pub(super) fields: ArticleFields,
    pub(super) derived: Option<DerivedText>,
    pub(super) text: String,
    pub(super) hash: String,
}

/// Counts the planned rows held in memory (parsed, or encoded and not yet
/// spilled), and the most held at once: what bounds the import's memory.
#[derive(Debug, Default)]
pub(super) struct Gauge {
    live: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn hold(&self) -> Held<'_> {
        let now = self.live.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        Held(self)
    }

    /// The most rows held at once so far.
    pub(super) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

/// One row counted by a [`Gauge`] while this lives.
pub(super) struct Held<'a>(&'a Gauge);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What reading a file needs to know: the articles as planned from.
pub(super) struct Reading<'a> {
    pub(super) existing: &'a HashMap<i64, Existing>,
    /// Articles by the hash of the file last imported into them.
    pub(super) by_hash: HashMap<&'a str, i64>,
    pub(super) force: bool,
    /// Whether rows are encoded for the spill (not for a dry run).
    pub(super) spill: bool,
    pub(super) held: Gauge,
}

impl<'a> Reading<'a> {
    pub(super) fn new(existing: &'a HashMap<i64, Existing>, force: bool, spill: bool) -> Self {
        let by_hash = existing
            .iter()
            .filter_map(|(id, e)| e.source_hash.as_deref().map(|h| (h, *id)))
            .collect();
        Self {
            existing,
            by_hash,
            force,
            spill,
            held: Gauge::default(),
        }
    }
}

/// A read file: its keys, its action, and for a file the plan writes its
/// encoded row (counted until spilled) and its subjects `(slug, name)`.
pub(super) struct ReadFile<'g> {
    pub(super) keys: FileKeys,
    pub(super) action: Action,
    pub(super) row: Option<(Vec<u8>, Held<'g>)>,
    pub(super) subjects: Vec<(String, String)>,
}

/// `path` relative to `root`, `/`-separated; the file name when `path` is `root`.
pub(super) fn relative_name(root: &Path, path: &Path) -> String {
    let parts: Vec<String> = path
        .strip_prefix(root)
        .unwrap_or(path)
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    } else {
        parts.join("/")
    }
}

/// Expands the given paths into seed files, sorted, each once, each with
/// its name relative to the path it was found under.
pub(super) fn collect_files(
    paths: &[PathBuf],
    problems: &mut Vec<FileProblem>,
) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    // Each file once, by where it really is: a folder and a file inside it
    // may both be given. The walk follows no symbolic link, so a file found
    // under a folder really is at the folder's canonical path joined with
    // its path inside the walk, and one `canonicalize` per folder does
    // (one per file cost 8 % of an unchanged 100,000-file re-import).
    let mut seen = HashSet::new();
    for path in paths {
        if path.is_dir() {
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            let found: Vec<(PathBuf, String)> = walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_map(|e| match e {
                    Ok(e) => Some(e),
                    Err(err) => {
                        problems.push(FileProblem::new(
                            err.path().unwrap_or(path),
                            format!("cannot read: {err}"),
                        ));
                        None
                    }
                })
                .filter(|e| e.file_type().is_file())
                .map(walkdir::DirEntry::into_path)
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .map(|p| {
                    let name = relative_name(path, &p);
                    (p, name)
                })
                .collect();
            if found.is_empty() {
                problems.push(FileProblem::new(
                    path,
                    "no `.md` files in this folder (searched recursively)",
                ));
            }
            files.extend(
                found.into_iter().filter(|(p, _)| {
                    seen.insert(canonical.join(p.strip_prefix(path).unwrap_or(p)))
                }),
            );
        } else if path.exists() {
            if seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())) {
                files.push((path.clone(), relative_name(path, path)));
            }
        } else {
            problems.push(FileProblem::new(path, "no such file or folder"));
        }
    }
    files
}

/// Line and column (1-based) of a byte offset.
pub(super) fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, col)
}

/// The file's text and its parse.
fn decode(path: &Path, bytes: Vec<u8>) -> Result<(String, ParsedSeed), Vec<FileProblem>> {
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let (line, col) = line_col(e.as_bytes(), offset);
        vec![FileProblem {
            path: path.display().to_string(),
            line: Some(line),
            col: Some(col),
            message: format!("invalid UTF-8 (byte {offset}); seeds must be UTF-8 text"),
        }]
    })?;
    let seed = parse_seed(&text).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| FileProblem {
                path: path.display().to_string(),
                line: p.line,
                col: p.col,
                message: p.message,
            })
            .collect::<Vec<_>>()
    })?;
    Ok((text, seed))
}

/// Reads one file and decides its action. A file whose bytes hash as the
/// file last imported into an article is that article's file, unchanged:
/// it is not parsed (its keys are the article's, as imported), unless
/// editors changed the article since, whose keys then are not the file's.
pub(super) fn read_file<'g>(
    ctx: &'g Reading<'_>,
    path: &Path,
    name: &str,
) -> Result<ReadFile<'g>, Vec<FileProblem>> {
    let fail = |m: String| vec![FileProblem::new(path, m)];
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(format!(
            "file is {} bytes; a seed may be at most {MAX_FILE_BYTES} bytes",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    if let Some((&id, e)) = ctx
        .by_hash
        .get(hash.as_str())
        .and_then(|id| ctx.existing.get(id).map(|e| (id, e)))
    {
        let keys = if e.imported_version == Some(e.version) {
            FileKeys {
                file: path.to_owned(),
                name: name.to_owned(),
                id,
                slug: e.slug.clone(),
                url: e.url.clone(),
                file_name: e.file_name.clone(),
                lines: None,
                row: None,
                subjects: Vec::new(),
            }
        } else {
            FileKeys::parsed(path, name, &decode(path, bytes)?.1)
        };
        return Ok(ReadFile {
            keys,
            action: Action::Unchanged,
            row: None,
            subjects: Vec::new(),
        });
    }
    let held = ctx.held.hold();
    let (text, seed) = decode(path, bytes)?;
    let keys = FileKeys::parsed(path, name, &seed);
    let action = classify(&hash, ctx.existing.get(&keys.id), ctx.force);
    if !(ctx.spill && writes(&action)) {
        return Ok(ReadFile {
            keys,
            action,
            row: None,
            subjects: Vec::new(),
        });
    }
    let subjects = wanted_subjects(&seed.fields).collect();
    // Rendered here, on every core, not in the write transaction.
    let derived = (action == Action::Create).then(|| DerivedText::of(&seed.fields.answer));
    let row = PlannedRow {
        fields: seed.fields,
        derived,
        text,
        hash,
    };
    let encoded = encode(&row).map_err(|e| fail(e.to_string()))?;
    Ok(ReadFile {
        keys,
        action,
        row: Some((encoded, held)),
        subjects,
    })
}

/// Two files may not share an id, url, slug or file name.
pub(super) fn check_duplicates(files: &[FileKeys]) -> HashMap<usize, Vec<FileProblem>> {
    let mut problems: HashMap<usize, Vec<FileProblem>> = HashMap::new();
    type Key = (&'static str, Field, fn(&FileKeys) -> String);
    let keys: [Key; 4] = [
        ("id", Field::Id, |f| f.id.to_string()),
        ("url", Field::Url, |f| f.url.clone()),
        ("slug", Field::Slug, |f| f.slug.clone()),
        ("file_name", Field::FileName, |f| f.file_name.clone()),
    ];
    for (what, field, value) in keys {
        let mut first: HashMap<String, usize> = HashMap::new();
        for (i, l) in files.iter().enumerate() {
            let v = value(l);
            let Some(&j) = first.get(&v) else {
                first.insert(v, i);
                continue;
            };
            let (a, b) = (&files[j], l);
            for (me, other) in [(j, b), (i, a)] {
                let this = &files[me];
                let line = this.line(field);
                problems.entry(me).or_default().push(FileProblem {
                    path: this.path(),
                    line,
                    col: line.map(|_| 1),
                    message: format!(
                        "duplicate {what} `{v}`: also in {}{}",
                        other.path(),
                        other
                            .line(field)
                            .map_or_else(String::new, |l| format!(":{l}"))
                    ),
                });
            }
        }
    }
    problems
}
