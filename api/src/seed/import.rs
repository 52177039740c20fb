//! The seed import job: read and validate every file (in parallel), plan what
//! each one does to the database, then write the plan in one transaction.
//!
//! A file whose hash equals the one recorded at its last import is left alone,
//! so editors' changes (and deletions) survive re-runs. A changed file over an
//! article that editors changed since is a conflict unless `force` is set.
//!
//! `files` reads and parses the input, `plan` decides and verifies what
//! each file does; this module runs the job and writes the plan.

mod files;
mod plan;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::Utc;
use entity::article;
use rayon::prelude::*;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::service::article::{
    Change, DerivedText, INSERT_CHUNK, ImportedSource, NewArticleRow, OnTaken, StoredArticle,
    insert_articles, load_many, wanted_subjects, write_change,
};
use crate::service::changes::{ChangeSink, Changed};
use crate::service::pause::{self, Pause};
use crate::service::revision::IMPORT_EDITOR;
use crate::service::subject::ensure_subjects;
pub use files::FileProblem;
use files::{Loaded, check_duplicates, collect_files, load_file};
use plan::{Existing, check_taken, classify, existing_articles, verify_plan, writes};

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
    let sink = &options.changes;
    let actions = write_plan(db, sink, &valid, actions, &existing, progress, pauses).await?;
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

/// Writes the creates and updates of a plan in one transaction, after
/// verifying the plan inside it; returns the actions taken.
// The plan, where it is written and announced, and the test's pause points.
#[allow(clippy::too_many_arguments)]
async fn write_plan(
    db: &DatabaseConnection,
    sink: &ChangeSink,
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
    let mut changed = Changed::default();
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
        changed.record(f.id);
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
            let id = files[i].seed.fields.id;
            if inserted.contains(&id) {
                changed.record(id);
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
    sink.commit(txn, changed).await?;
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
