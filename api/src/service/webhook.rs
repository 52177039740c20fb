//! Change webhooks: the endpoints (`quicktakes webhook add|list|remove`),
//! and the outbox rows a committed change leaves for them.
//!
//! [`enqueue_in`] runs inside the transaction of every change (from
//! [`ChangeSink::commit`](super::changes::ChangeSink::commit)), so an
//! outbox row exists exactly when its change committed, and survives a
//! crash right after. It captures what the change left (version, url,
//! subject) at that moment, the database's time, and the largest webhook
//! id then. The [`worker`] then turns each outbox row into one delivery per
//! endpoint that existed then, and POSTs them, signed, off the mutation
//! path.
//!
//! Every time the webhook tables hold is the database's (see [`sql_now`]),
//! never an instance's, so instances whose clocks disagree still agree on
//! what is due and whose lease ran out.

pub mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::{webhook, webhook_delivery};
use hmac::{KeyInit, Mac};
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use super::changes::{Before, ChangeKind, Changed};
use crate::error::{Error, Result};

/// The header carrying `sha256=<hex>`: the HMAC-SHA256 of
/// `<timestamp>.<body>` (the [`TIMESTAMP_HEADER`]'s value, a dot, the exact
/// body bytes), keyed by the webhook's secret.
pub const SIGNATURE_HEADER: &str = "x-quicktakes-signature";
/// The header carrying the attempt's time in Unix seconds, signed with the
/// body so a receiver can refuse a captured request replayed later.
pub const TIMESTAMP_HEADER: &str = "x-quicktakes-timestamp";
/// The header naming the event (the body's `event`).
pub const EVENT_HEADER: &str = "x-quicktakes-event";
/// The header carrying the delivery's id (one per endpoint and change).
pub const DELIVERY_HEADER: &str = "x-quicktakes-delivery";
/// The header numbering the attempt, from 1.
pub const ATTEMPT_HEADER: &str = "x-quicktakes-attempt";

/// What a stored secret starts with, so a leaked one is recognizable.
const SECRET_PREFIX: &str = "whsec_";

/// Changes per outbox `INSERT` (five values each, under every backend's
/// limit of bound values).
const OUTBOX_CHUNK: usize = 500;

/// The events a webhook wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Events {
    /// Every event, including those a later version adds.
    All,
    /// Only these.
    Only(BTreeSet<ChangeKind>),
}

impl Events {
    /// The events `kinds` name; none named is every event.
    pub fn of(kinds: &[ChangeKind]) -> Self {
        if kinds.is_empty() {
            Events::All
        } else {
            Events::Only(kinds.iter().copied().collect())
        }
    }

    /// The events as stored: `*`, or names joined by commas. A stored name
    /// this version does not know (written by a newer one) is skipped.
    pub fn from_stored(stored: &str) -> Self {
        if stored.trim() == "*" {
            return Events::All;
        }
        Events::Only(
            stored
                .split(',')
                .filter_map(|n| ChangeKind::parse(n.trim()))
                .collect(),
        )
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        match self {
            Events::All => "*".to_owned(),
            Events::Only(kinds) => kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Whether `kind` is wanted.
    pub fn wants(&self, kind: ChangeKind) -> bool {
        match self {
            Events::All => true,
            Events::Only(kinds) => kinds.contains(&kind),
        }
    }
}

impl fmt::Display for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Events::All => f.write_str("all events"),
            Events::Only(_) => f.write_str(&self.to_stored()),
        }
    }
}

/// Checks a webhook url: absolute `http` or `https` with a host. Returns
/// it as it will be stored and requested.
pub fn parse_url(url: &str) -> std::result::Result<String, String> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!("`{url}` is not an absolute url ({e}); give one such as https://example.org/hooks/quicktakes")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{url}` is a {} url; a webhook url starts with https:// (or http://)",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "`{url}` names no host; give one such as https://example.org/hooks/quicktakes"
        ));
    }
    if parsed.fragment().is_some() {
        return Err(format!(
            "`{url}` has a #fragment, which is never sent; leave it out"
        ));
    }
    Ok(parsed.to_string())
}

/// The event named `name`; the error lists the known names.
pub fn parse_event(name: &str) -> std::result::Result<ChangeKind, String> {
    let name = name.trim();
    ChangeKind::parse(name).ok_or_else(|| {
        let known: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "`{name}` is not an event; the events are {} (no --event: all of them)",
            known.join(", ")
        )
    })
}

/// A webhook as `webhook list` shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its id.
    pub id: i32,
    /// Where it is POSTed to.
    pub url: String,
    /// What it wants.
    pub events: Events,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// Its deliveries by status (`pending`, `delivered`, `failed`).
    pub deliveries: BTreeMap<String, i64>,
}

/// Adds a webhook for `url` wanting `events` (every event when empty);
/// returns it with its secret, which is shown only then.
pub async fn add(
    db: &impl ConnectionTrait,
    url: &str,
    events: &[ChangeKind],
    now: DateTime<Utc>,
) -> Result<webhook::Model> {
    let url = parse_url(url).map_err(|message| Error::bad_input("URL", message))?;
    if let Some(existing) = webhook::Entity::find()
        .filter(webhook::Column::Url.eq(&url))
        .one(db)
        .await?
    {
        return Err(Error::bad_input(
            "URL",
            format!(
                "a webhook for {url} exists already (id {}); remove it first to change its events",
                existing.id
            ),
        ));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let inserted = webhook::Entity::insert(webhook::ActiveModel {
        url: Set(url),
        events: Set(Events::of(events).to_stored()),
        secret: Set(secret),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(db)
    .await?;
    Ok(inserted)
}

/// Every webhook, oldest first, with its delivery counts.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Listed>> {
    let hooks = webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .all(db)
        .await?;
    let counts: Vec<(i32, String, i64)> = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::WebhookId)
        .column(webhook_delivery::Column::Status)
        .column_as(webhook_delivery::Column::Id.count(), "n")
        .group_by(webhook_delivery::Column::WebhookId)
        .group_by(webhook_delivery::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(hooks
        .into_iter()
        .map(|h| Listed {
            id: h.id,
            events: Events::from_stored(&h.events),
            deliveries: counts
                .iter()
                .filter(|(id, _, _)| *id == h.id)
                .map(|(_, status, n)| (status.clone(), *n))
                .collect(),
            url: h.url,
            created_at: h.created_at,
        })
        .collect())
}

/// Removes the webhook with id or url `which`, and its deliveries (those
/// pending are never sent); returns it.
pub async fn remove(db: &impl ConnectionTrait, which: &str) -> Result<webhook::Model> {
    let which = which.trim();
    let found = match which.parse::<i32>() {
        Ok(id) => webhook::Entity::find_by_id(id).one(db).await?,
        Err(_) => {
            webhook::Entity::find()
                .filter(
                    webhook::Column::Url.eq(parse_url(which).unwrap_or_else(|_| which.to_owned())),
                )
                .one(db)
                .await?
        }
    };
    let Some(found) = found else {
        return Err(Error::NotFound(format!(
            "no webhook with id or url `{which}`; `quicktakes webhook list` shows them"
        )));
    };
    // The foreign key's cascade removes the deliveries too; deleting them
    // here as well keeps that true where foreign keys are off.
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::WebhookId.eq(found.id))
        .exec(db)
        .await?;
    webhook::Entity::delete_by_id(found.id).exec(db).await?;
    Ok(found)
}

/// `sha256=<hex>`, as the signature header carries it: the HMAC-SHA256 of
/// `{timestamp}.{body}` keyed by `secret`, `timestamp` being the Unix
/// seconds the timestamp header carries. Signing the time with the body
/// lets a receiver refuse a captured request replayed later.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> Result<String> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| Error::Internal(format!("HMAC key: {e}")))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Writes, in `txn`, an outbox row for each change in `changed` that a
/// webhook wants, with the article's version, url and subject as `txn`
/// leaves them; returns whether it wrote any. Without webhooks it costs
/// one read of the (empty) `webhook` table, so a large import does not
/// slow down.
#[doc(hidden)]
pub async fn enqueue_in(txn: &DatabaseTransaction, changed: &Changed) -> Result<bool> {
    if changed.is_empty() {
        return Ok(false);
    }
    let wanted: Vec<Events> = webhook::Entity::find()
        .select_only()
        .column(webhook::Column::Events)
        .into_tuple::<String>()
        .all(txn)
        .await?
        .iter()
        .map(|stored| Events::from_stored(stored))
        .collect();
    let rows: Vec<_> = changed
        .iter()
        .filter(|(_, change)| wanted.iter().any(|events| events.wants(change.kind)))
        .collect();
    if rows.is_empty() {
        return Ok(false);
    }
    let backend = txn.get_database_backend();
    for chunk in rows.chunks(OUTBOX_CHUNK) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 5);
        let mut tuples = String::new();
        for (id, change) in chunk {
            let (old_url, old_subject, unmoved) = match &change.before {
                Before::Absent => (None, None, false),
                Before::Unmoved => (None, None, true),
                Before::At { url, subject_id } => (Some(url.clone()), Some(*subject_id), false),
            };
            let n = values.len();
            if !tuples.is_empty() {
                tuples.push_str(", ");
            }
            tuples.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            ));
            values.extend([
                Value::from(*id),
                Value::from(change.kind.as_str()),
                Value::from(old_url),
                Value::from(old_subject),
                Value::from(unmoved),
            ]);
        }
        // A deleted article is found nowhere: no new url. An unmoved one
        // was where it is. (VALUES columns are `column1`… on both backends.)
        // The time is the database's, as the statement runs (just before
        // the commit), and the largest webhook id is read by the same
        // statement: a webhook added later (by a greater id) does not get
        // this change.
        let sql = format!(
            "INSERT INTO webhook_outbox (event, article_id, version, subject_id, subject_name, \
             subject_slug, old_subject_id, old_url, new_url, committed_at, last_webhook_id) \
             SELECT v.column2, a.id, a.version, a.subject_id, s.name, s.slug, \
             CASE WHEN v.column5 THEN a.subject_id ELSE v.column4 END, \
             CASE WHEN v.column5 THEN (CASE WHEN a.deleted_at IS NULL THEN a.url END) ELSE v.column3 END, \
             CASE WHEN a.deleted_at IS NULL THEN a.url END, {now}, \
             (SELECT COALESCE(MAX(w.id), 0) FROM webhook w) \
             FROM (VALUES {tuples}) AS v \
             JOIN article a ON a.id = v.column1 \
             JOIN subject s ON s.id = a.subject_id \
             ORDER BY a.id",
            now = sql_now(backend),
        );
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            numbered(backend, &sql),
            values,
        ))
        .await?;
    }
    Ok(true)
}

/// `sql` written with PostgreSQL's `$n` placeholders, for `backend`
/// (SQLite numbers them `?n`).
pub(crate) fn numbered(backend: DbBackend, sql: &str) -> String {
    match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    }
}

/// How SQLite's `strftime` writes a time as the driver writes one into a
/// `timestamp_with_timezone_text` column (RFC 3339, UTC as `+00:00`), so
/// the two compare as text in time order and read back alike.
const SQLITE_TIME: &str = "'%Y-%m-%dT%H:%M:%f+00:00'";

/// SQL for the database's clock now (PostgreSQL: the statement's start),
/// as `backend` stores a timestamp. Every time the webhook tables hold is
/// taken from it, never from an instance's clock.
pub(crate) fn sql_now(backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => "statement_timestamp()".to_owned(),
        _ => format!("strftime({SQLITE_TIME}, 'now')"),
    }
}

/// SQL for [`sql_now`] plus `ms` milliseconds, `ms` being SQL for an
/// integer (a placeholder).
pub(crate) fn sql_now_plus(backend: DbBackend, ms: &str) -> String {
    match backend {
        DbBackend::Postgres => {
            format!(
                "(statement_timestamp() + CAST({ms} AS double precision) * interval '1 millisecond')"
            )
        }
        _ => format!("strftime({SQLITE_TIME}, 'now', printf('%+.3f seconds', {ms} / 1000.0))"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_with_a_host() {
        assert_eq!(
            parse_url(" https://example.org/hook?x=1 ").as_deref(),
            Ok("https://example.org/hook?x=1")
        );
        assert_eq!(
            parse_url("http://127.0.0.1:9/").as_deref(),
            Ok("http://127.0.0.1:9/")
        );
        for (bad, says) in [
            ("ftp://example.org/", "is a ftp url"),
            ("example.org/hook", "is not an absolute url"),
            ("https://example.org/#x", "#fragment"),
            ("mailto:a@example.org", "is a mailto url"),
        ] {
            let err = parse_url(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn events_round_trip_and_unknown_names_are_refused_with_the_list() {
        let only = Events::of(&[ChangeKind::Deleted, ChangeKind::Created]);
        assert_eq!(only.to_stored(), "article.created,article.deleted");
        assert_eq!(Events::from_stored(&only.to_stored()), only);
        assert!(!only.wants(ChangeKind::Updated));
        assert_eq!(Events::from_stored("*"), Events::All);
        assert_eq!(Events::of(&[]), Events::All);
        let err = parse_event("article.edited").expect_err("unknown");
        assert!(err.contains("article.created, article.updated"), "{err}");
    }

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_timestamp_a_dot_and_the_body() {
        // RFC 4231's test case 2 key and message, the message signed at
        // 1700000000 (as Python's `hmac` computes it).
        let body = b"what do ya want for nothing?";
        assert_eq!(
            sign("Jefe", 1_700_000_000, body).expect("sign"),
            "sha256=1cdd0650c8be1cb0974b1788d458b1e781206cfef59b85faafc582d2e182c57e"
        );
        assert_ne!(
            sign("Jefe", 1_700_000_001, body).expect("sign"),
            sign("Jefe", 1_700_000_000, body).expect("sign"),
            "another time, another signature"
        );
    }
}
