//! The seed import job: read and validate every file (in parallel), plan what
//! each one does to the database, then write the plan in one transaction.
//!
//! A file whose hash equals the one recorded at its last import is left alone,
//! so editors' changes (and deletions) survive re-runs. A changed file over an
//! article that editors changed since is a conflict unless `force` is set.
//!
//! Memory stays flat whatever the corpus size, and the write lock is taken
//! only once everything is read, parsed, validated and rendered:
//! - The files are read [`READ_BATCH`] at a time, on every core. A file
//!   whose bytes hash as the one last imported into an article is that
//!   article's file, unchanged, and is not parsed at all. Every other file
//!   is parsed, validated and (when it creates an article) rendered.
//! - What the checks across files need stays in memory ([`files::FileKeys`]:
//!   id, slug, url, file name, a few hundred bytes a file); the row a file
//!   writes (values, rendered answer, text) goes to a temporary spill file
//!   (`spill`) as soon as its batch is read, so at most a batch of rows
//!   is ever held.
//! - The write transaction verifies the plan, then streams the spill back
//!   [`INSERT_CHUNK`] rows at a time into multi-row inserts: it does no
//!   parsing and (for new articles) no rendering, so editors wait only for
//!   the inserts.
//!
//! Reading every file twice instead (keys first, rows in the write) would
//! save the spill but parse inside the write lock, and a file could change
//! between the two reads; keeping the rows in memory cost 2 GB at 100,000.
//!
//! `files` reads and parses the input, `plan` decides and verifies what
//! each file does, `spill` holds the planned rows; this module runs the job
//! and writes the plan.

mod files;
mod plan;
mod spill;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::Utc;
use entity::article;
use rayon::prelude::*;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter,
};

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::service::article::{
    Change, DerivedText, INSERT_CHUNK, ImportedSource, NewArticleRow, OnTaken, StoredArticle,
    insert_articles, load_many, write_change,
};
use crate::service::changes::{Before, ChangeKind, ChangeSink, Changed};
use crate::service::pause::{self, Pause};
use crate::service::revision::IMPORT_EDITOR;
use crate::service::subject::ensure_subjects;
pub use files::FileProblem;
use files::{FileKeys, PlannedRow, ReadFile, Reading, check_duplicates, collect_files, read_file};
use plan::{Existing, check_taken, existing_articles, verify_plan, writes};
use spill::{SpillReader, SpillWriter};

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
    /// Where the created and updated articles are announced after the
    /// commit (a server passes its own; the command line's has no listener).
    pub changes: ChangeSink,
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
    /// The most files' rows held in memory at once (parsed, or encoded and
    /// not yet spilled): at most [`READ_BATCH`] whatever the corpus size.
    #[doc(hidden)]
    pub most_rows_in_memory: usize,
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

/// Articles an import must write before it refreshes the planner's
/// statistics; fewer change them too little to matter.
const BULK_WRITE: usize = 1_000;

/// Files read and parsed at a time (in parallel) before their rows go to
/// the spill: what bounds the rows an import holds in memory.
#[doc(hidden)]
pub const READ_BATCH: usize = 256;

/// Imports seed files: see the module documentation for the rules.
pub async fn import_corpus(
    db: &DatabaseConnection,
    options: &ImportOptions,
    progress: &Progress,
) -> Result<ImportReport> {
    import_corpus_paused(db, options, progress, &ImportPauses::default()).await
}

/// Subjects `(slug, name)` the written files name, each once, numbered.
#[derive(Default)]
struct Subjects {
    pairs: Vec<(String, String)>,
    index: HashMap<(String, String), u32>,
}

impl Subjects {
    fn intern(&mut self, pair: (String, String)) -> Result<u32> {
        if let Some(&i) = self.index.get(&pair) {
            return Ok(i);
        }
        let i = u32::try_from(self.pairs.len())
            .map_err(|_| Error::Internal("over 4 billion subjects".to_owned()))?;
        self.pairs.push(pair.clone());
        self.index.insert(pair, i);
        Ok(i)
    }
}

/// The valid files' keys and actions, and where their rows were spilled.
struct Planned {
    files: Vec<FileKeys>,
    actions: Vec<Action>,
    subjects: Subjects,
    creates: SpillWriter,
    updates: SpillWriter,
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
    let paths = collect_files(&options.paths, &mut report.problems);
    report.invalid_files += report.problems.len();

    let existing = existing_articles(db).await?;
    let reading = Reading::new(&existing, options.force, !options.dry_run);
    let mut planned = Planned {
        files: Vec::with_capacity(paths.len()),
        actions: Vec::with_capacity(paths.len()),
        subjects: Subjects::default(),
        creates: SpillWriter::new()?,
        updates: SpillWriter::new()?,
    };
    progress.phase("reading", paths.len() as u64);
    for batch in paths.chunks(READ_BATCH) {
        // CPU-bound: read, parsed and rendered on every core, a batch at a
        // time so that only a batch of rows waits in memory for the spill.
        let results: Vec<_> = batch
            .par_iter()
            .map(|(p, name)| {
                let r = read_file(&reading, p, name);
                progress.advance(1);
                r
            })
            .collect();
        for r in results {
            match r {
                Ok(read) => plan_file(&mut planned, read)?,
                Err(problems) => {
                    report.invalid_files += 1;
                    report.problems.extend(problems);
                }
            }
        }
    }
    progress.finish();
    report.most_rows_in_memory = reading.held.peak();
    drop(reading);

    let Planned {
        files,
        actions,
        subjects,
        creates,
        updates,
    } = planned;
    let mut bad: HashMap<usize, Vec<FileProblem>> = check_duplicates(&files);
    for (i, problems) in check_taken(&files, &actions, &existing) {
        bad.entry(i).or_default().extend(problems);
    }
    report.invalid_files += bad.len();
    let mut bad_indexes: Vec<usize> = bad.keys().copied().collect();
    bad_indexes.sort_unstable();
    for i in &bad_indexes {
        report.problems.extend(bad.remove(i).unwrap_or_default());
    }
    let bad_indexes: HashSet<usize> = bad_indexes.into_iter().collect();
    let (valid, actions): (Vec<FileKeys>, Vec<Action>) = files
        .into_iter()
        .zip(actions)
        .enumerate()
        .filter(|(i, _)| !bad_indexes.contains(i))
        .map(|(_, pair)| pair)
        .unzip();
    report.plan = planned_files(&valid, &actions);

    if options.dry_run || (report.invalid_files > 0 && !options.skip_invalid) {
        return Ok(report);
    }
    pause::at(pauses.after_planning.as_ref()).await;
    let spilled = Spilled {
        subjects,
        creates: creates.into_reader()?,
        updates: updates.into_reader()?,
    };
    let sink = &options.changes;
    let actions = write_plan(
        db, sink, &valid, actions, spilled, &existing, progress, pauses,
    )
    .await?;
    report.plan = planned_files(&valid, &actions);
    report.written = true;
    if report.created() + report.updated() >= BULK_WRITE {
        crate::db::refresh_statistics(db).await?;
    }
    crate::metrics::record_import("created", report.created());
    crate::metrics::record_import("updated", report.updated());
    crate::metrics::record_import("unchanged", report.unchanged());
    crate::metrics::record_import("conflict", report.conflicts());
    crate::metrics::record_import("invalid", report.invalid_files);
    Ok(report)
}

/// Adds a read file to the plan, its row to the spill of its action.
fn plan_file(planned: &mut Planned, read: ReadFile<'_>) -> Result<()> {
    let ReadFile {
        mut keys,
        action,
        row,
        subjects,
    } = read;
    if let Some((encoded, _held)) = row {
        let spill = if action == Action::Create {
            &mut planned.creates
        } else {
            &mut planned.updates
        };
        keys.row = Some(spill.push(&encoded)?);
    }
    keys.subjects = subjects
        .into_iter()
        .map(|pair| planned.subjects.intern(pair))
        .collect::<Result<_>>()?;
    planned.files.push(keys);
    planned.actions.push(action);
    Ok(())
}

fn planned_files(files: &[FileKeys], actions: &[Action]) -> Vec<PlannedFile> {
    files
        .iter()
        .zip(actions)
        .map(|(l, a)| PlannedFile {
            path: l.path(),
            id: l.id,
            action: a.clone(),
        })
        .collect()
}

/// The spilled rows of a plan, to stream into the write.
struct Spilled {
    subjects: Subjects,
    creates: SpillReader,
    updates: SpillReader,
}

/// The spilled row of `file`, from `spill`.
fn row_of(spill: &mut SpillReader, file: &FileKeys) -> Result<PlannedRow> {
    let n = file
        .row
        .ok_or_else(|| Error::Internal(format!("{} has no planned row", file.path())))?;
    spill.read(n)
}

/// Writes the creates and updates of a plan in one transaction, after
/// verifying the plan inside it; returns the actions taken. The rows come
/// from the spill, a chunk at a time.
// The plan, where it is written and announced, and the test's pause points.
#[allow(clippy::too_many_arguments)]
async fn write_plan(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    files: &[FileKeys],
    actions: Vec<Action>,
    spilled: Spilled,
    planned: &HashMap<i64, Existing>,
    progress: &Progress,
    pauses: &ImportPauses,
) -> Result<Vec<Action>> {
    if !actions.iter().any(writes) {
        return Ok(actions);
    }
    let txn = crate::db::begin_write(db).await?;
    let locked = std::time::Instant::now();
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    if sqlite {
        crate::db::set_sqlite_cache(&txn, IMPORT_CACHE_KIB).await?;
    } else {
        txn.execute_unprepared(FAST_TOAST).await?;
    }
    let written = write_rows(&txn, files, actions, spilled, planned, progress, pauses).await;
    if sqlite {
        // The pool's connection goes back with its usual cache, whatever
        // happened (the write's own error, if any, is the one reported);
        // its dirty pages stay until the commit writes them.
        let reset = crate::db::set_sqlite_cache(&txn, crate::db::SQLITE_CACHE_KIB).await;
        if written.is_ok() {
            reset?;
        }
    }
    let (actions, changed) = written?;
    match changed {
        Some(changed) => sink.commit(txn, changed).await?,
        None => txn.rollback().await?,
    }
    // How long editors' saves waited on SQLite (or got `BUSY`).
    tracing::info!(
        elapsed_ms = locked.elapsed().as_millis() as u64,
        "the import's write transaction is over"
    );
    Ok(actions)
}

/// The SQLite page cache of the import's write transaction, in KiB.
/// With the default 2 MB, the transaction spilled its dirty pages to the
/// WAL as it went and read them back for every random insert into the
/// slug, url and file-name indexes (`pagerStress`, `walFindFrame`): the
/// write of 100,000 articles took 38 s with it and 32 s with 128 MB, which
/// holds those indexes whole (256 MB gained nothing more).
const IMPORT_CACHE_KIB: u32 = 131_072;

/// On PostgreSQL, the import's long values (file text, answer, its HTML
/// and text, the search vector) are compressed with LZ4 when the server
/// has it: `pglz`, the default, was the largest part of the server's time
/// in a 100,000-article import. Only this transaction's new values change;
/// readers decompress either. (A `DO` block, so a server without LZ4 keeps
/// its default instead of failing the transaction.)
const FAST_TOAST: &str = "DO $$ BEGIN \
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' \
               AND 'lz4' = ANY(enumvals)) THEN \
        SET LOCAL default_toast_compression = 'lz4'; \
    END IF; \
END $$";

/// The verified plan written inside `txn`: the actions taken, and what
/// changed (`None` when nothing is left to write).
async fn write_rows(
    txn: &DatabaseTransaction,
    files: &[FileKeys],
    actions: Vec<Action>,
    mut spilled: Spilled,
    planned: &HashMap<i64, Existing>,
    progress: &Progress,
    pauses: &ImportPauses,
) -> Result<(Vec<Action>, Option<Changed>)> {
    let mut actions = verify_plan(txn, files, actions, planned).await?;
    pause::at(pauses.after_verifying.as_ref()).await;
    let now = Utc::now();
    let creates: Vec<usize> = (0..files.len())
        .filter(|&i| actions[i] == Action::Create)
        .collect();
    let updates: Vec<usize> = (0..files.len())
        .filter(|&i| matches!(actions[i], Action::Update | Action::Force(_)))
        .collect();
    if creates.is_empty() && updates.is_empty() {
        return Ok((actions, None));
    }
    // Articles' own subject names first, so they win over links' copies.
    let written = || creates.iter().chain(&updates).map(|&i| &files[i]);
    let mut seen = HashSet::new();
    let wanted: Vec<(String, String)> = written()
        .filter_map(|f| f.subjects.first())
        .chain(written().flat_map(|f| f.subjects.iter().skip(1)))
        .filter(|&&i| seen.insert(i))
        .filter_map(|&i| spilled.subjects.pairs.get(i as usize).cloned())
        .collect();
    let subject_ids = ensure_subjects(txn, &wanted, now).await?;

    progress.phase("writing", (creates.len() + updates.len()) as u64);
    let mut changed = Changed::default();
    // Updates first: a file that moves its article off a slug frees it for
    // a new file of the same import.
    for chunk in updates.chunks(INSERT_CHUNK) {
        let ids: Vec<i64> = chunk.iter().map(|&i| files[i].id).collect();
        let stored: HashMap<i64, StoredArticle> = load_many(txn, &ids)
            .await?
            .into_iter()
            .map(|s| (s.model.id, s))
            .collect();
        for &i in chunk {
            let file = &files[i];
            let row = row_of(&mut spilled.updates, file)?;
            let current = stored.get(&file.id).ok_or_else(|| {
                Error::Internal(format!("article {} vanished during import", file.id))
            })?;
            let source = ImportedSource {
                text: row.text,
                hash: row.hash,
                path: file.path(),
            };
            let note = format!("imported from {}", file.name);
            let change = Change {
                fields: &row.fields,
                editor: IMPORT_EDITOR,
                note: Some(&note),
                source: Some(&source),
                undelete: true,
                now,
            };
            write_change(txn, current, &change).await?;
            let kind = if current.is_deleted() {
                ChangeKind::Restored
            } else {
                ChangeKind::Updated
            };
            changed.record_change(file.id, kind, Before::of(current));
            progress.advance(1);
        }
    }

    for chunk in creates.chunks(INSERT_CHUNK) {
        let mut planned = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let file = &files[i];
            let row = row_of(&mut spilled.creates, file)?;
            let derived = match row.derived {
                Some(d) => d,
                None => DerivedText::of(&row.fields.answer),
            };
            let source = ImportedSource {
                text: row.text,
                hash: row.hash,
                path: file.path(),
            };
            let note = format!("created from {}", file.name);
            planned.push((row.fields, derived, source, note));
        }
        let rows: Vec<NewArticleRow<'_>> = planned
            .iter()
            .map(|(fields, derived, source, note)| NewArticleRow {
                fields,
                derived,
                source: Some(source),
                editor: IMPORT_EDITOR,
                note: Some(note.as_str()),
                changes: &[],
            })
            .collect();
        let inserted = insert_articles(txn, &rows, &subject_ids, OnTaken::Skip, now).await?;
        for &i in chunk {
            let id = files[i].id;
            if inserted.contains(&id) {
                changed.record_change(id, ChangeKind::Created, Before::Absent);
            } else {
                actions[i] = Action::Conflict(
                    "another article took its id, slug, url or file name while this import ran"
                        .to_owned(),
                );
            }
        }
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    Ok((actions, Some(changed)))
}

/// Only the ids in the database, for callers that need to know if it is empty.
pub async fn article_count(db: &DatabaseConnection) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(article::Entity::find()
        .filter(article::Column::DeletedAt.is_null())
        .count(db)
        .await?)
}
