//! Related links as editors set them: the ids checked against the rules,
//! then each linked with a copy of its target.

use std::collections::HashMap;

use entity::{article, subject};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::article::StoredArticle;
use super::changes::{Before, ChangeKind, ChangeSink};
use super::edit::{Submitted, merge};
use super::write::{in_write_txn, live};
use crate::error::{Error, Result};
use crate::fields::Field;
use crate::fields::{Link, RelatedIdProblem};

/// Replaces the related links of article `id` by `ids`, in order, merged
/// like any edit against `expected`. Loaded articles are linked with a copy
/// of their title, subject and url; ids already linked keep their copy.
pub async fn set_related(
    db: &DatabaseConnection,
    sink: &ChangeSink,
    id: i64,
    ids: &[i64],
    expected: i32,
    editor: &str,
    note: Option<&str>,
) -> Result<StoredArticle> {
    check_related_ids(id, ids)?;
    in_write_txn(db, sink, ChangeKind::Updated, |txn| async move {
        let stored = live(&txn, id).await?;
        let links = links_for(&txn, &stored.fields.related, ids).await?;
        let submitted: Submitted = vec![(Field::Related, crate::fields::related_json(&links))];
        let saved = merge(&txn, &stored, expected, &submitted, editor, note).await?;
        Ok((txn, saved, Before::of(&stored)))
    })
    .await
}

/// The rules on a list of related ids (at most the related-links limit,
/// none twice, not the article itself), as an editor's `related` input.
pub(super) fn check_related_ids(own_id: i64, ids: &[i64]) -> Result<()> {
    use RelatedIdProblem::{Itself, TooMany, Twice};
    // One message: the list's length first, then a repeat, then the article itself.
    let rank = |p: &&RelatedIdProblem| match p {
        TooMany(_) => 0,
        Twice { .. } => 1,
        Itself(_) => 2,
    };
    let problems = crate::fields::related_id_problems(own_id, ids);
    let Some(first) = problems.iter().min_by_key(rank) else {
        return Ok(());
    };
    let message = match *first {
        TooMany(n) => format!(
            "{n} related articles given; at most {} are allowed",
            crate::limits::get().related
        ),
        Twice { at, .. } => format!("article {} is listed twice", ids[at]),
        Itself(_) => format!("article {own_id} cannot be related to itself"),
    };
    Err(Error::bad_input("related", message))
}

/// Links for `ids`: loaded articles get a copy of their current title,
/// subject and url; ids already linked keep their stored copy.
pub(super) async fn links_for(
    db: &impl ConnectionTrait,
    current: &[Link],
    ids: &[i64],
) -> Result<Vec<Link>> {
    let loaded: HashMap<i64, (article::Model, subject::Model)> = article::Entity::find()
        .filter(article::Column::Id.is_in(ids.iter().copied()))
        .filter(article::Column::DeletedAt.is_null())
        .find_also_related(subject::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(a, s)| s.map(|s| (a.id, (a, s))))
        .collect();
    let mut links = Vec::with_capacity(ids.len());
    for (&id, position) in ids.iter().zip(1..) {
        let link = if let Some((a, s)) = loaded.get(&id) {
            Link {
                position,
                id,
                title: a.title.clone(),
                subject: s.name.clone(),
                subject_slug: s.slug.clone(),
                url: a.url.clone(),
            }
        } else if let Some(existing) = current.iter().find(|l| l.id == id) {
            Link {
                position,
                ..existing.clone()
            }
        } else {
            return Err(Error::bad_input(
                "related",
                format!(
                    "article {id} is not loaded and not already linked; link loaded articles only"
                ),
            ));
        };
        links.push(link);
    }
    Ok(links)
}
