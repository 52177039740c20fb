//! The seed import job: read and validate every file (in parallel), plan what
//! each one does to the database, then write the plan in one transaction.
//!
//! A file whose hash equals the one recorded at its last import is left alone,
//! so editors' changes (and deletions) survive re-runs. A changed file over an
//! article that editors changed since is a conflict unless `force` is set.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use entity::article;
use rayon::prelude::*;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QuerySelect,
};

use super::parse::{ParsedSeed, parse_seed};
use crate::error::{Error, Result};
use crate::fields::ArticleFields;
use crate::progress::Progress;
use crate::service::article::{
    Change, DerivedText, INSERT_CHUNK, ImportedSource, NewArticleRow, OnTaken, StoredArticle,
    insert_articles, load_many, wanted_subjects, write_change,
};
use crate::service::edit::lock_rows;
use crate::service::pause::{self, Pause};
use crate::service::revision::IMPORT_EDITOR;
use crate::service::subject::ensure_subjects;

/// Largest seed file read; a bigger one is refused before it is read.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Files and folders (searched recursively for `*.md`).
    pub paths: Vec<PathBuf>,
    /// Report what would happen; write nothing.
    pub dry_run: bool,
    /// Apply changed files even over articles edited or deleted since.
    pub force: bool,
    /// Write the valid files even when others are invalid.
    pub skip_invalid: bool,
}

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

/// What importing one file does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A new article.
    Create,
    /// The file changed and nobody edited the article since: apply it.
    Update,
    /// The file is as last imported: leave the article as it is.
    Unchanged,
    /// The file changed and so did the article: leave both, report.
    Conflict(String),
    /// A conflict overridden by `--force`: apply the file.
    Force(String),
}

/// One file's place in the plan.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    /// The file.
    pub path: String,
    /// Its article id.
    pub id: i64,
    /// What happens to it.
    pub action: Action,
}

/// The outcome of an import (or of a dry run).
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Every valid file and its action.
    pub plan: Vec<PlannedFile>,
    /// Every problem found.
    pub problems: Vec<FileProblem>,
    /// How many files were invalid.
    pub invalid_files: usize,
    /// Whether anything was written.
    pub written: bool,
}

impl ImportReport {
    fn count(&self, pred: impl Fn(&Action) -> bool) -> usize {
        self.plan.iter().filter(|p| pred(&p.action)).count()
    }

    /// Articles created.
    pub fn created(&self) -> usize {
        self.count(|a| *a == Action::Create)
    }

    /// Articles updated (forced conflicts included).
    pub fn updated(&self) -> usize {
        self.count(|a| matches!(a, Action::Update | Action::Force(_)))
    }

    /// Files unchanged since their last import.
    pub fn unchanged(&self) -> usize {
        self.count(|a| *a == Action::Unchanged)
    }

    /// Conflicts left unresolved.
    pub fn conflicts(&self) -> usize {
        self.count(|a| matches!(a, Action::Conflict(_)))
    }

    /// `N created, N updated, N unchanged, N conflicts, N invalid`.
    pub fn summary(&self) -> String {
        format!(
            "{} created, {} updated, {} unchanged, {} conflicts, {} invalid",
            self.created(),
            self.updated(),
            self.unchanged(),
            self.conflicts(),
            self.invalid_files
        )
    }

    /// 1 when any file was invalid, 3 when conflicts are left, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.invalid_files > 0 {
            1
        } else if self.conflicts() > 0 {
            3
        } else {
            0
        }
    }
}

/// A read and parsed file.
struct Loaded {
    path: String,
    /// The path relative to the folder it was found in (the file name when
    /// the file itself was given): what revision notes name, so no server
    /// path reaches the history.
    name: String,
    text: String,
    hash: String,
    seed: ParsedSeed,
    /// The answer's derived text, rendered only for files that create an
    /// article (updates render theirs when the answer changed).
    derived: Option<DerivedText>,
}

/// `path` relative to `root`, `/`-separated; the file name when `path` is `root`.
fn relative_name(root: &Path, path: &Path) -> String {
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
fn collect_files(paths: &[PathBuf], problems: &mut Vec<FileProblem>) -> Vec<(PathBuf, String)> {
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
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, col)
}

fn load_file(path: &Path, name: &str) -> std::result::Result<Loaded, Vec<FileProblem>> {
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
fn check_duplicates(loaded: &[Loaded]) -> HashMap<usize, Vec<FileProblem>> {
    let mut problems: HashMap<usize, Vec<FileProblem>> = HashMap::new();
    type Key = (&'static str, &'static str, fn(&ArticleFields) -> String);
    let keys: [Key; 4] = [
        ("id", "id", |f| f.id.to_string()),
        ("url", "url", |f| f.url.clone()),
        ("slug", "url", |f| f.slug.clone()),
        ("file_name", "file_name", |f| f.file_name.clone()),
    ];
    for (what, key, value) in keys {
        let mut first: HashMap<String, usize> = HashMap::new();
        for (i, l) in loaded.iter().enumerate() {
            let v = value(&l.seed.fields);
            let Some(&j) = first.get(&v) else {
                first.insert(v, i);
                continue;
            };
            let (a, b) = (&loaded[j], l);
            let at = |x: &Loaded| x.seed.key_lines.get(key).copied();
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

/// The columns of an article the planner needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Existing {
    slug: String,
    url: String,
    file_name: String,
    version: i32,
    imported_version: Option<i32>,
    source_hash: Option<String>,
    deleted: bool,
}

async fn existing_articles(db: &impl ConnectionTrait) -> Result<HashMap<i64, Existing>> {
    type Row = (
        i64,
        String,
        String,
        String,
        i32,
        Option<i32>,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = article::Entity::find()
        .select_only()
        .columns([
            article::Column::Id,
            article::Column::Slug,
            article::Column::Url,
            article::Column::FileName,
            article::Column::Version,
            article::Column::ImportedVersion,
            article::Column::SourceHash,
            article::Column::DeletedAt,
        ])
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, slug, url, file_name, version, imported_version, source_hash, deleted_at)| {
                (
                    id,
                    Existing {
                        slug,
                        url,
                        file_name,
                        version,
                        imported_version,
                        source_hash,
                        deleted: deleted_at.is_some(),
                    },
                )
            },
        )
        .collect())
}

fn classify(file: &Loaded, existing: Option<&Existing>, force: bool) -> Action {
    let Some(e) = existing else {
        return Action::Create;
    };
    if e.source_hash.as_deref() == Some(file.hash.as_str()) {
        return Action::Unchanged;
    }
    let reason = if e.deleted {
        Some("the article was deleted since its last import".to_owned())
    } else {
        match e.imported_version {
            None => Some("the article was created by an editor, not imported".to_owned()),
            Some(v) if v != e.version => Some(format!(
                "the article was edited since its last import (now version {}, imported as version {v})",
                e.version
            )),
            Some(_) => None,
        }
    };
    match reason {
        None => Action::Update,
        Some(r) if force => Action::Force(r),
        Some(r) => Action::Conflict(r),
    }
}

/// Whether an action writes the file to the database.
fn writes(action: &Action) -> bool {
    matches!(action, Action::Create | Action::Update | Action::Force(_))
}

/// A slug, url or file name a written file would take from another article.
struct Taken<'a> {
    /// Index of the file.
    index: usize,
    /// `slug`, `url` or `file_name`.
    what: &'static str,
    /// The seed key whose line the problem points at.
    key: &'static str,
    /// The value.
    value: &'a str,
    /// The article that keeps it.
    other: i64,
}

/// Finds every slug, url or file name a written file would take from an
/// article that keeps it (one the plan does not write).
fn find_taken<'a>(
    loaded: &'a [Loaded],
    plan: &[Action],
    existing: &'a HashMap<i64, Existing>,
) -> Vec<Taken<'a>> {
    let written: HashSet<i64> = loaded
        .iter()
        .zip(plan)
        .filter(|(_, a)| writes(a))
        .map(|(l, _)| l.seed.fields.id)
        .collect();
    let mut kept: HashMap<(&str, &str), i64> = HashMap::new();
    for (id, e) in existing.iter().filter(|(id, _)| !written.contains(id)) {
        kept.insert(("slug", &e.slug), *id);
        kept.insert(("url", &e.url), *id);
        kept.insert(("file_name", &e.file_name), *id);
    }
    let mut taken = Vec::new();
    for (index, (l, a)) in loaded.iter().zip(plan).enumerate() {
        if !writes(a) {
            continue;
        }
        let f = &l.seed.fields;
        for (what, key, value) in [
            ("slug", "url", &f.slug),
            ("url", "url", &f.url),
            ("file_name", "file_name", &f.file_name),
        ] {
            if let Some(&other) = kept.get(&(what, value.as_str())) {
                taken.push(Taken {
                    index,
                    what,
                    key,
                    value,
                    other,
                });
            }
        }
    }
    taken
}

/// A written file may not take a slug, url or file name another article keeps.
fn check_taken(
    loaded: &[Loaded],
    plan: &[Action],
    existing: &HashMap<i64, Existing>,
) -> HashMap<usize, Vec<FileProblem>> {
    let mut problems: HashMap<usize, Vec<FileProblem>> = HashMap::new();
    for t in find_taken(loaded, plan, existing) {
        let l = &loaded[t.index];
        let line = l.seed.key_lines.get(t.key).copied();
        problems.entry(t.index).or_default().push(FileProblem {
            path: l.path.clone(),
            line,
            col: line.map(|_| 1),
            message: format!(
                "{} `{}` is already used by article {} in the database; change it here or edit that article",
                t.what, t.value, t.other
            ),
        });
    }
    problems
}

/// Test-only pause points of an import (see [`import_corpus_paused`]).
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct ImportPauses {
    /// After the plan is made, before the write transaction begins.
    pub after_planning: Option<Pause>,
    /// Inside the write transaction, after the plan was verified and
    /// before anything is written.
    pub after_verifying: Option<Pause>,
}

/// Imports seed files: see the module documentation for the rules.
pub async fn import_corpus(
    db: &DatabaseConnection,
    options: &ImportOptions,
    progress: &Progress,
) -> Result<ImportReport> {
    import_corpus_paused(db, options, progress, &ImportPauses::default()).await
}

/// [`import_corpus`] with a test's pause points.
#[doc(hidden)]
pub async fn import_corpus_paused(
    db: &DatabaseConnection,
    options: &ImportOptions,
    progress: &Progress,
    pauses: &ImportPauses,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let files = collect_files(&options.paths, &mut report.problems);
    let path_problems = report.problems.len();

    progress.phase("reading", files.len() as u64);
    // CPU-bound and short: parsed on every core, right here.
    let results: Vec<std::result::Result<Loaded, Vec<FileProblem>>> = files
        .par_iter()
        .map(|(p, name)| {
            let r = load_file(p, name);
            progress.advance(1);
            r
        })
        .collect();
    progress.finish();

    let mut loaded = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(l) => loaded.push(l),
            Err(problems) => {
                report.invalid_files += 1;
                report.problems.extend(problems);
            }
        }
    }
    report.invalid_files += path_problems;

    let existing = existing_articles(db).await?;
    let mut bad: HashMap<usize, Vec<FileProblem>> = check_duplicates(&loaded);
    let plan: Vec<Action> = loaded
        .iter()
        .map(|l| classify(l, existing.get(&l.seed.fields.id), options.force))
        .collect();
    for (i, problems) in check_taken(&loaded, &plan, &existing) {
        bad.entry(i).or_default().extend(problems);
    }
    report.invalid_files += bad.len();
    let mut bad_indexes: Vec<usize> = bad.keys().copied().collect();
    bad_indexes.sort_unstable();
    for i in bad_indexes {
        report.problems.extend(bad.remove(&i).unwrap_or_default());
    }
    let invalid: HashSet<String> = report.problems.iter().map(|p| p.path.clone()).collect();
    let (valid, actions): (Vec<Loaded>, Vec<Action>) = loaded
        .into_iter()
        .zip(plan)
        .filter(|(l, _)| !invalid.contains(&l.path))
        .unzip();
    report.plan = planned_files(&valid, &actions);

    if options.dry_run || (report.invalid_files > 0 && !options.skip_invalid) {
        return Ok(report);
    }
    // Rendered on every core here, not in the single write transaction, and
    // only for new articles: an unchanged file costs no rendering.
    let mut valid = valid;
    valid
        .par_iter_mut()
        .zip(&actions)
        .filter(|(_, a)| **a == Action::Create)
        .for_each(|(l, _)| l.derived = Some(DerivedText::of(&l.seed.fields.answer)));
    pause::at(pauses.after_planning.as_ref()).await;
    let actions = write_plan(db, &valid, actions, &existing, progress, pauses).await?;
    report.plan = planned_files(&valid, &actions);
    report.written = true;
    crate::metrics::record_import("created", report.created());
    crate::metrics::record_import("updated", report.updated());
    crate::metrics::record_import("unchanged", report.unchanged());
    crate::metrics::record_import("conflict", report.conflicts());
    crate::metrics::record_import("invalid", report.invalid_files);
    Ok(report)
}

fn planned_files(files: &[Loaded], actions: &[Action]) -> Vec<PlannedFile> {
    files
        .iter()
        .zip(actions)
        .map(|(l, a)| PlannedFile {
            path: l.path.clone(),
            id: l.seed.fields.id,
            action: a.clone(),
        })
        .collect()
}

/// Why an article planned from `planned` may no longer be written now that
/// it is `now`: someone changed, created or removed it since it was read.
/// (The command line goes on: `, and the file changed; left as it is`; a
/// rerun plans against what is there now.)
fn moved_since_planning(planned: Option<&Existing>, now: Option<&Existing>) -> Option<String> {
    match (planned, now) {
        (None, None) => None,
        (None, Some(n)) => Some(format!(
            "an article with this id was created while this import ran (version {})",
            n.version
        )),
        (Some(_), None) => Some("the article was removed while this import ran".to_owned()),
        (Some(p), Some(n)) if p.version != n.version => Some(format!(
            "the article was edited while this import ran (version {}, planned at version {})",
            n.version, p.version
        )),
        // Same version, other source: another import recorded its file.
        (Some(p), Some(n)) if p != n => Some(
            "another import recorded its file for the article while this import ran".to_owned(),
        ),
        (Some(_), Some(_)) => None,
    }
}

/// Checks the plan against the database inside the write transaction `txn`
/// and turns every write whose article changed since planning into a
/// conflict. The rows written are locked first (see [`lock_rows`]), so what
/// is verified stays so until the commit; the plan was made from a read
/// outside the transaction, which an editor's save may have overtaken.
async fn verify_plan(
    txn: &DatabaseTransaction,
    files: &[Loaded],
    mut actions: Vec<Action>,
    planned: &HashMap<i64, Existing>,
) -> Result<Vec<Action>> {
    // The rows to overwrite; a row created meanwhile is left alone, so it
    // needs no lock.
    let mut ids: Vec<i64> = files
        .iter()
        .zip(&actions)
        .filter(|(l, a)| writes(a) && planned.contains_key(&l.seed.fields.id))
        .map(|(l, _)| l.seed.fields.id)
        .collect();
    ids.sort_unstable();
    lock_rows(txn, &ids).await?;
    let now = existing_articles(txn).await?;
    for (l, action) in files.iter().zip(actions.iter_mut()) {
        let id = l.seed.fields.id;
        if writes(action)
            && let Some(reason) = moved_since_planning(planned.get(&id), now.get(&id))
        {
            *action = Action::Conflict(reason);
        }
    }
    // A slug, url or file name another article took meanwhile. A file made a
    // conflict leaves its article's slug, url and file name where they are,
    // and another file of the plan may want them: so again until none is.
    loop {
        let taken: Vec<(usize, String)> = find_taken(files, &actions, &now)
            .into_iter()
            .map(|t| {
                (
                    t.index,
                    format!(
                        "its {} `{}` was taken by article {} while this import ran",
                        t.what, t.value, t.other
                    ),
                )
            })
            .collect();
        if taken.is_empty() {
            return Ok(actions);
        }
        for (index, reason) in taken {
            if writes(&actions[index]) {
                actions[index] = Action::Conflict(reason);
            }
        }
    }
}

/// Writes the creates and updates of a plan in one transaction, after
/// verifying the plan inside it; returns the actions taken.
async fn write_plan(
    db: &DatabaseConnection,
    files: &[Loaded],
    actions: Vec<Action>,
    planned: &HashMap<i64, Existing>,
    progress: &Progress,
    pauses: &ImportPauses,
) -> Result<Vec<Action>> {
    if !actions.iter().any(writes) {
        return Ok(actions);
    }
    let txn = crate::db::begin_write(db).await?;
    let mut actions = verify_plan(&txn, files, actions, planned).await?;
    pause::at(pauses.after_verifying.as_ref()).await;
    let now = Utc::now();
    let creates: Vec<usize> = (0..files.len())
        .filter(|&i| actions[i] == Action::Create)
        .collect();
    let updates: Vec<&Loaded> = files
        .iter()
        .zip(&actions)
        .filter(|(_, a)| matches!(a, Action::Update | Action::Force(_)))
        .map(|(l, _)| l)
        .collect();
    if creates.is_empty() && updates.is_empty() {
        txn.rollback().await?;
        return Ok(actions);
    }
    // Articles' own subject names first, so they win over links' copies.
    let written = || {
        creates
            .iter()
            .map(|&i| &files[i])
            .chain(updates.iter().copied())
    };
    let mut wanted: Vec<(String, String)> = written()
        .map(|l| {
            (
                l.seed.fields.subject_slug.clone(),
                l.seed.fields.subject.clone(),
            )
        })
        .collect();
    wanted.extend(written().flat_map(|l| wanted_subjects(&l.seed.fields).skip(1)));
    let subject_ids = ensure_subjects(&txn, &wanted, now).await?;

    progress.phase("writing", (creates.len() + updates.len()) as u64);
    // Updates first: a file that moves its article off a slug frees it for
    // a new file of the same import.
    let ids: Vec<i64> = updates.iter().map(|l| l.seed.fields.id).collect();
    let stored: HashMap<i64, StoredArticle> = load_many(&txn, &ids)
        .await?
        .into_iter()
        .map(|s| (s.model.id, s))
        .collect();
    for l in updates {
        let f = &l.seed.fields;
        let current = stored
            .get(&f.id)
            .ok_or_else(|| Error::Internal(format!("article {} vanished during import", f.id)))?;
        let source = ImportedSource {
            text: l.text.clone(),
            hash: l.hash.clone(),
            path: l.path.clone(),
        };
        let note = format!("imported from {}", l.name);
        let change = Change {
            fields: f,
            editor: IMPORT_EDITOR,
            note: Some(&note),
            source: Some(&source),
            undelete: true,
            now,
        };
        write_change(&txn, current, &change).await?;
        progress.advance(1);
    }

    for chunk in creates.chunks(INSERT_CHUNK) {
        let sources: Vec<ImportedSource> = chunk
            .iter()
            .map(|&i| ImportedSource {
                text: files[i].text.clone(),
                hash: files[i].hash.clone(),
                path: files[i].path.clone(),
            })
            .collect();
        let notes: Vec<String> = chunk
            .iter()
            .map(|&i| format!("created from {}", files[i].name))
            .collect();
        let rendered: Vec<Option<DerivedText>> = chunk
            .iter()
            .map(|&i| {
                let l = &files[i];
                l.derived
                    .is_none()
                    .then(|| DerivedText::of(&l.seed.fields.answer))
            })
            .collect();
        let mut rows = Vec::with_capacity(chunk.len());
        for (((&i, source), note), rendered) in
            chunk.iter().zip(&sources).zip(&notes).zip(&rendered)
        {
            let l = &files[i];
            let derived = l.derived.as_ref().or(rendered.as_ref()).ok_or_else(|| {
                Error::Internal(format!(
                    "article {} has no rendered answer",
                    l.seed.fields.id
                ))
            })?;
            rows.push(NewArticleRow {
                fields: &l.seed.fields,
                derived,
                source: Some(source),
                editor: IMPORT_EDITOR,
                note: Some(note),
                changes: &[],
            });
        }
        let inserted = insert_articles(&txn, &rows, &subject_ids, OnTaken::Skip, now).await?;
        for &i in chunk {
            if !inserted.contains(&files[i].seed.fields.id) {
                actions[i] = Action::Conflict(
                    "another article took its id, slug, url or file name while this import ran"
                        .to_owned(),
                );
            }
        }
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    txn.commit().await?;
    Ok(actions)
}

/// Only the ids in the database, for callers that need to know if it is empty.
pub async fn article_count(db: &DatabaseConnection) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(article::Entity::find()
        .filter(article::Column::DeletedAt.is_null())
        .count(db)
        .await?)
}
