//! The plan: what each valid file does to the database, decided from the
//! rows as read before the write, then verified under row locks inside it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::article;
use sea_orm::{ConnectionTrait, DatabaseTransaction, EntityTrait, QuerySelect};

use super::Action;
use super::files::{FileKeys, FileProblem};
use crate::error::Result;
use crate::fields::Field;
use crate::service::write::lock_rows;

/// The columns of an article the planner needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Existing {
    pub(super) slug: String,
    pub(super) url: String,
    pub(super) file_name: String,
    pub(super) version: i32,
    pub(super) imported_version: Option<i32>,
    pub(super) source_hash: Option<String>,
    pub(super) deleted: bool,
}

pub(super) async fn existing_articles(db: &impl ConnectionTrait) -> Result<HashMap<i64, Existing>> {
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

/// What a file whose bytes hash as `hash` does to the article `existing`
/// with its id.
pub(super) fn classify(hash: &str, existing: Option<&Existing>, force: bool) -> Action {
    let Some(e) = existing else {
        return Action::Create;
    };
    if e.source_hash.as_deref() == Some(hash) {
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
pub(super) fn writes(action: &Action) -> bool {
    matches!(action, Action::Create | Action::Update | Action::Force(_))
}

/// A slug, url or file name a written file would take from another article.
pub(super) struct Taken<'a> {
    /// Index of the file.
    pub(super) index: usize,
    /// `slug`, `url` or `file_name`.
    pub(super) what: &'static str,
    /// The field; the problem points at its seed key's line.
    pub(super) field: Field,
    /// The value.
    pub(super) value: &'a str,
    /// The article that keeps it.
    pub(super) other: i64,
}

/// Finds every slug, url or file name a written file would take from an
/// article that keeps it (one the plan does not write).
pub(super) fn find_taken<'a>(
    files: &'a [FileKeys],
    plan: &[Action],
    existing: &'a HashMap<i64, Existing>,
) -> Vec<Taken<'a>> {
    let written: HashSet<i64> = files
        .iter()
        .zip(plan)
        .filter(|(_, a)| writes(a))
        .map(|(l, _)| l.id)
        .collect();
    let mut kept: HashMap<(Field, &str), i64> = HashMap::new();
    for (id, e) in existing.iter().filter(|(id, _)| !written.contains(id)) {
        kept.insert((Field::Slug, &e.slug), *id);
        kept.insert((Field::Url, &e.url), *id);
        kept.insert((Field::FileName, &e.file_name), *id);
    }
    let mut taken = Vec::new();
    for (index, (f, a)) in files.iter().zip(plan).enumerate() {
        if !writes(a) {
            continue;
        }
        for (what, field, value) in [
            ("slug", Field::Slug, &f.slug),
            ("url", Field::Url, &f.url),
            ("file_name", Field::FileName, &f.file_name),
        ] {
            if let Some(&other) = kept.get(&(field, value.as_str())) {
                taken.push(Taken {
                    index,
                    what,
                    field,
                    value,
                    other,
                });
            }
        }
    }
    taken
}

/// A written file may not take a slug, url or file name another article keeps.
pub(super) fn check_taken(
    files: &[FileKeys],
    plan: &[Action],
    existing: &HashMap<i64, Existing>,
) -> HashMap<usize, Vec<FileProblem>> {
    let mut problems: HashMap<usize, Vec<FileProblem>> = HashMap::new();
    for t in find_taken(files, plan, existing) {
        let l = &files[t.index];
        let line = l.line(t.field);
        problems.entry(t.index).or_default().push(FileProblem {
            path: l.path(),
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

/// Why an article planned from `planned` may no longer be written now that
/// it is `now`: someone changed, created or removed it since it was read.
/// (The command line goes on: `, and the file changed; left as it is`; a
/// rerun plans against what is there now.)
pub(super) fn moved_since_planning(
    planned: Option<&Existing>,
    now: Option<&Existing>,
) -> Option<String> {
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
pub(super) async fn verify_plan(
    txn: &DatabaseTransaction,
    files: &[FileKeys],
    mut actions: Vec<Action>,
    planned: &HashMap<i64, Existing>,
) -> Result<Vec<Action>> {
    // The rows to overwrite; a row created meanwhile is left alone, so it
    // needs no lock.
    let mut ids: Vec<i64> = files
        .iter()
        .zip(&actions)
        .filter(|(l, a)| writes(a) && planned.contains_key(&l.id))
        .map(|(l, _)| l.id)
        .collect();
    ids.sort_unstable();
    lock_rows(txn, &ids).await?;
    let now = existing_articles(txn).await?;
    for (l, action) in files.iter().zip(actions.iter_mut()) {
        let id = l.id;
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
