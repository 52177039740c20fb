//! Reading the input: the seed files under the given paths, each parsed
//! (in parallel by the caller), and the problems a file has on its own or
//! with another file of the same run.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::MAX_FILE_BYTES;
use crate::fields::{ArticleFields, Field};
use crate::seed::parse::{ParsedSeed, parse_seed};
use crate::service::article::DerivedText;

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

/// A read and parsed file.
pub(super) struct Loaded {
    pub(super) path: String,
    /// The path relative to the folder it was found in (the file name when
    /// the file itself was given): what revision notes name, so no server
    /// path reaches the history.
    pub(super) name: String,
    pub(super) text: String,
    pub(super) hash: String,
    pub(super) seed: ParsedSeed,
    /// The answer's derived text, rendered only for files that create an
    /// article (updates render theirs when the answer changed).
    pub(super) derived: Option<DerivedText>,
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
    let mut seen = HashSet::new();
    for path in paths {
        if path.is_dir() {
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
            files.extend(found);
        } else if path.exists() {
            files.push((path.clone(), relative_name(path, path)));
        } else {
            problems.push(FileProblem::new(path, "no such file or folder"));
        }
    }
    files.retain(|(p, _)| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    files
}

/// Line and column (1-based) of a byte offset.
pub(super) fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, col)
}

pub(super) fn load_file(path: &Path, name: &str) -> Result<Loaded, Vec<FileProblem>> {
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
    Ok(Loaded {
        path: path.display().to_string(),
        name: name.to_owned(),
        text,
        hash,
        seed,
        derived: None,
    })
}

/// Two files may not share an id, url, slug or file name.
pub(super) fn check_duplicates(loaded: &[Loaded]) -> HashMap<usize, Vec<FileProblem>> {
    let mut problems: HashMap<usize, Vec<FileProblem>> = HashMap::new();
    type Key = (&'static str, Field, fn(&ArticleFields) -> String);
    let keys: [Key; 4] = [
        ("id", Field::Id, |f| f.id.to_string()),
        ("url", Field::Url, |f| f.url.clone()),
        ("slug", Field::Slug, |f| f.slug.clone()),
        ("file_name", Field::FileName, |f| f.file_name.clone()),
    ];
    for (what, field, value) in keys {
        let key = field.seed_path();
        let mut first: HashMap<String, usize> = HashMap::new();
        for (i, l) in loaded.iter().enumerate() {
            let v = value(&l.seed.fields);
            let Some(&j) = first.get(&v) else {
                first.insert(v, i);
                continue;
            };
            let (a, b) = (&loaded[j], l);
            let at = |x: &Loaded| x.seed.key_lines.get(&key).copied();
            for (me, other) in [(j, b), (i, a)] {
                let this = &loaded[me];
                problems.entry(me).or_default().push(FileProblem {
                    path: this.path.clone(),
                    line: at(this),
                    col: at(this).map(|_| 1),
                    message: format!(
                        "duplicate {what} `{v}`: also in {}{}",
                        other.path,
                        at(other).map_or_else(String::new, |l| format!(":{l}"))
                    ),
                });
            }
        }
    }
    problems
}
