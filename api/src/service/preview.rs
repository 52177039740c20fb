//! What the reader preview shows of an article: its values at the current
//! or an older version, its answer typeset for readers, and its related
//! links resolved against the live articles they point at.

use sea_orm::ConnectionTrait;

use std::collections::{BTreeSet, HashMap};

use entity::subject;

use super::article::{StoredArticle, load_many_with};
use super::edit::values_at;
use super::lookup::{ArticleKey, Texts, live_article, live_articles};
use super::subject::subjects_by_id;
use crate::error::Result;
use crate::fields::ArticleFields;
use crate::render;
use crate::surrogate::Key;

/// The live article a page shows, with every subject by id (its links'
/// targets are named by theirs).
pub struct Stored {
    /// The article.
    pub article: StoredArticle,
    /// Every subject, by id.
    subjects: HashMap<i32, subject::Model>,
}

/// Where a reader's url leads.
pub enum Found {
    /// The live article at this url.
    Here(Box<Stored>),
    /// A live article that had this url (or its slug) once: its url now.
    Moved(String),
    /// No live article has or had it.
    Missing,
}

/// The live article a page url names: by the url (current or former), else
/// by its last segment as a slug (current or former), so a page whose
/// subject was renamed, or whose slug changed, still finds its article.
pub async fn find(db: &impl ConnectionTrait, url: &str, slug: &str) -> Result<Found> {
    let mut found = live_article(db, ArticleKey::Url(url), Texts::NONE).await?;
    if found.is_none() {
        found = live_article(db, ArticleKey::Slug(slug), Texts::NONE).await?;
    }
    let Some(card) = found else {
        return Ok(Found::Missing);
    };
    if card.url != url {
        return Ok(Found::Moved(card.url));
    }
    let subjects = subjects_by_id(db).await?;
    Ok(
        match load_many_with(db, &[card.id], &subjects).await?.pop() {
            // Deleted between the two reads.
            Some(article) if !article.is_deleted() => {
                Found::Here(Box::new(Stored { article, subjects }))
            }
            _ => Found::Missing,
        },
    )
}

/// One related link as a reader sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShownLink {
    /// The target's title when it is live, else the link's copy.
    pub title: String,
    /// The target's subject name when it is live, else the link's copy.
    pub subject: String,
    /// The target's page when it is live; `None` for a link to an article
    /// not loaded (or deleted), shown as plain text.
    pub url: Option<String>,
}

/// An article as its page shows it, at one version.
pub struct Page {
    /// The values at that version.
    pub fields: ArticleFields,
    /// The version shown.
    pub version: i32,
    /// The article's current version.
    pub current_version: i32,
    /// The answer as reader HTML (math typeset).
    pub answer_html: String,
    /// The related links, in position order.
    pub links: Vec<ShownLink>,
    /// When the article was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The surrogate keys of what the page shows: the article, its
    /// subject, and each link's target with its subject.
    pub keys: BTreeSet<Key>,
}

/// `found` as its page shows it at `version` (`None`: the current one).
/// `None` when the article has no such version.
pub async fn page(
    db: &impl ConnectionTrait,
    found: &Stored,
    version: Option<i32>,
) -> Result<Option<Page>> {
    let Stored {
        article: stored,
        subjects,
    } = found;
    let current_version = stored.model.version;
    let version = version.unwrap_or(current_version);
    if !(1..=current_version).contains(&version) {
        return Ok(None);
    }
    let fields = if version == current_version {
        stored.fields.clone()
    } else {
        values_at(db, stored, version).await?.0
    };
    let ids: Vec<i64> = fields.related.iter().map(|l| l.id).collect();
    let targets = live_articles(db, &ids, Texts::NONE).await?;
    let mut keys = BTreeSet::from([
        Key::Article(stored.model.id),
        Key::Subject(stored.model.subject_id),
    ]);
    for link in &fields.related {
        keys.insert(Key::Article(link.id));
        if let Some(target) = targets.get(&link.id) {
            keys.insert(Key::Subject(target.subject_id));
        }
    }
    let links = fields
        .related
        .iter()
        .map(|link| match targets.get(&link.id) {
            Some(target) => ShownLink {
                title: target.title.clone(),
                subject: subjects
                    .get(&target.subject_id)
                    .map_or_else(|| link.subject.clone(), |s| s.name.clone()),
                url: Some(target.url.clone()),
            },
            None => ShownLink {
                title: link.title.clone(),
                subject: link.subject.clone(),
                url: None,
            },
        })
        .collect();
    Ok(Some(Page {
        answer_html: render::reader_html(&fields.answer),
        fields,
        version,
        current_version,
        links,
        created_at: stored.model.created_at,
        keys,
    }))
}
