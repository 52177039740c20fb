//! `quicktakes-floor`: the benchmark floor for quicktakes' q1.
//!
//! `POST /graphql` ignores its body and answers what quicktakes answers for
//!
//! ```graphql
//! { articles(first: 20, orderBy: ID_ASC) { nodes { title question answer score
//!   subject { name slug } related { title url article { title subject { name } } } } } }
//! ```
//!
//! byte for byte, from the same SQLite file, with three hand-written
//! statements and no GraphQL:
//!
//! 1. the page: the first 20 live articles by id, joined to their subject;
//! 2. the links of the page, in position order;
//! 3. the live link targets, joined to their subject.
//!
//! Connections: one read-only rusqlite connection per blocking thread
//! (`thread_local!`), opened on the thread's first request; each request runs
//! on tokio's blocking pool (`spawn_blocking`), so there are as many
//! connections as requests in flight, with no pool lock. Statements are
//! prepared once per connection (`prepare_cached`).
//!
//! Usage: `quicktakes-floor --database PATH --bind 127.0.0.1:PORT`
//! (PATH may also be a `sqlite://PATH?…` url).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

/// Page size of q1 (`first: 20`).
const PAGE: i64 = 20;

/// 1. The page: live articles by id, with their subject.
const SQL_PAGE: &str = "SELECT a.id, a.title, a.question, a.answer, a.score, s.name, s.slug \
     FROM article a JOIN subject s ON s.id = a.subject_id \
     WHERE a.deleted_at IS NULL ORDER BY a.id LIMIT ?1";

/// 2. The links of the page's articles, in position order.
const SQL_LINKS: &str = "SELECT article_id, target_id, title, url FROM article_link \
     WHERE article_id IN rarray(?1) ORDER BY article_id, position";

/// 3. The live link targets, with their subject's name.
const SQL_TARGETS: &str = "SELECT t.id, t.title, t.url, s.name \
     FROM article t JOIN subject s ON s.id = t.subject_id \
     WHERE t.id IN rarray(?1) AND t.deleted_at IS NULL";

thread_local! {
    static CONN: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

fn open(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    rusqlite::vtab::array::load_module(&conn)?;
    Ok(conn)
}

// The answer, in the field order of q1's selection.
#[derive(Serialize)]
struct Answer<'a> {
    data: Data<'a>,
}
#[derive(Serialize)]
struct Data<'a> {
    articles: Articles<'a>,
}
#[derive(Serialize)]
struct Articles<'a> {
    nodes: Vec<Node<'a>>,
}
#[derive(Serialize)]
struct Node<'a> {
    title: &'a str,
    question: &'a str,
    answer: &'a str,
    score: Option<f64>,
    subject: NameSlug<'a>,
    related: Vec<Related<'a>>,
}
#[derive(Serialize)]
struct NameSlug<'a> {
    name: &'a str,
    slug: &'a str,
}
#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}
#[derive(Serialize)]
struct Related<'a> {
    title: &'a str,
    url: &'a str,
    article: Option<Target<'a>>,
}
#[derive(Serialize)]
struct Target<'a> {
    title: &'a str,
    subject: Name<'a>,
}

struct PageRow {
    id: i64,
    title: String,
    question: String,
    answer: String,
    score: Option<f64>,
    subject_name: String,
    subject_slug: String,
}

struct LinkRow {
    article_id: i64,
    target_id: i64,
    title: String,
    url: String,
}

struct TargetRow {
    title: String,
    url: String,
    subject_name: String,
}

/// q1's answer as JSON bytes.
fn q1(conn: &Connection) -> rusqlite::Result<Vec<u8>> {
    let page: Vec<PageRow> = conn
        .prepare_cached(SQL_PAGE)?
        .query_map([PAGE], |r| {
            Ok(PageRow {
                id: r.get(0)?,
                title: r.get(1)?,
                question: r.get(2)?,
                answer: r.get(3)?,
                score: r.get(4)?,
                subject_name: r.get(5)?,
                subject_slug: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;

    let ids = Rc::new(page.iter().map(|a| Value::Integer(a.id)).collect::<Vec<_>>());
    let links: Vec<LinkRow> = conn
        .prepare_cached(SQL_LINKS)?
        .query_map([ids], |r| {
            Ok(LinkRow {
                article_id: r.get(0)?,
                target_id: r.get(1)?,
                title: r.get(2)?,
                url: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;

    let mut target_ids: Vec<i64> = links.iter().map(|l| l.target_id).collect();
    target_ids.sort_unstable();
    target_ids.dedup();
    let target_ids = Rc::new(target_ids.into_iter().map(Value::Integer).collect::<Vec<_>>());
    let targets: HashMap<i64, TargetRow> = conn
        .prepare_cached(SQL_TARGETS)?
        .query_map([target_ids], |r| {
            Ok((
                r.get(0)?,
                TargetRow {
                    title: r.get(1)?,
                    url: r.get(2)?,
                    subject_name: r.get(3)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;

    // Links come sorted by article id, as the page is: walk both in step.
    let mut links = links.iter().peekable();
    let nodes = page
        .iter()
        .map(|a| {
            let mut related = Vec::new();
            while let Some(l) = links.next_if(|l| l.article_id == a.id) {
                // quicktakes: the live target's title and url when it is
                // loaded, else the link's own copy; `article` null then.
                let target = targets.get(&l.target_id);
                related.push(Related {
                    title: target.map_or(&l.title, |t| &t.title),
                    url: target.map_or(&l.url, |t| &t.url),
                    article: target.map(|t| Target {
                        title: &t.title,
                        subject: Name {
                            name: &t.subject_name,
                        },
                    }),
                });
            }
            Node {
                title: &a.title,
                question: &a.question,
                answer: &a.answer,
                score: a.score,
                subject: NameSlug {
                    name: &a.subject_name,
                    slug: &a.subject_slug,
                },
                related,
            }
        })
        .collect();
    let answer = Answer {
        data: Data {
            articles: Articles { nodes },
        },
    };
    serde_json::to_vec(&answer).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

fn answer_q1(path: &str) -> rusqlite::Result<Vec<u8>> {
    CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(open(path)?);
        }
        let conn = slot.as_ref().expect("opened above");
        q1(conn)
    })
}

async fn graphql(State(path): State<Arc<str>>, _body: Bytes) -> Response {
    match tokio::task::spawn_blocking(move || answer_q1(&path)).await {
        Ok(Ok(json)) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn usage() -> ! {
    eprintln!("usage: quicktakes-floor --database PATH --bind 127.0.0.1:PORT");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut database = None;
    let mut bind = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database" => database = args.next(),
            "--bind" => bind = args.next(),
            _ => usage(),
        }
    }
    let (Some(database), Some(bind)) = (database, bind) else {
        usage()
    };
    // Accept quicktakes' `sqlite://PATH?mode=rwc` form too.
    let path = database.strip_prefix("sqlite://").unwrap_or(&database);
    let path = path.split('?').next().unwrap_or(path);
    // Fail fast on a bad path or schema: prepare every statement once.
    if let Err(e) = open(path).and_then(|c| {
        for sql in [SQL_PAGE, SQL_LINKS, SQL_TARGETS] {
            c.prepare(sql)?;
        }
        Ok(())
    }) {
        eprintln!("error: {path}: {e}");
        std::process::exit(1);
    }
    let app = Router::new()
        .route("/graphql", post(graphql))
        .with_state(Arc::<str>::from(path));
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: bind {bind}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("quicktakes-floor: q1 at http://{bind}/graphql over {path}");
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
