//! Change webhooks from the outside: a receiver in the test records what
//! the delivery worker POSTs after mutations made through the API: the
//! payload, its HMAC-SHA256 signature, the retries and their record in the
//! deliveries table, the outbox surviving a restart, and one delivery per
//! change however many workers share the database.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use entity::{webhook_delivery, webhook_outbox};
use hmac::{KeyInit, Mac};
use quicktakes::service::changes::{ChangeKind, Changed};
use quicktakes::service::pause::Pause;
use quicktakes::service::token::Role;
use quicktakes::service::webhook::{self, worker};
use quicktakes_tests::{TestApp, TestDb, error_code};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder, TransactionTrait};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

const ID: &str = "118109";
const URL: &str =
    "/learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients";

/// Longest any awaited step may take: a liveness bound, not a timing claim.
const PATIENCE: Duration = Duration::from_secs(15);

/// One request the receiver got.
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

struct Shared {
    seen: mpsc::UnboundedSender<Received>,
    /// Statuses to answer, in order; 200 once they are used up.
    script: Mutex<VecDeque<u16>>,
    /// When set, a request is answered only once the test adds a permit.
    gate: Option<Arc<Semaphore>>,
    answered: AtomicUsize,
}

/// An HTTP endpoint on 127.0.0.1 that records every POST.
struct Receiver {
    url: String,
    seen: mpsc::UnboundedReceiver<Received>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(script: &[u16], gate: Option<Arc<Semaphore>>) -> Self {
        let (tx, seen) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            seen: tx,
            script: Mutex::new(script.iter().copied().collect()),
            gate,
            answered: AtomicUsize::new(0),
        });
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(record))
            .with_state(shared.clone());
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", socket.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            axum::serve(socket, router)
                .await
                .expect("the receiver serves");
        });
        Self {
            url,
            seen,
            shared,
            task,
        }
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(PATIENCE, self.seen.recv())
            .await
            .expect("a delivery in time")
            .expect("the receiver runs")
    }

    fn answered(&self) -> usize {
        self.shared.answered.load(Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let _ = shared.seen.send(Received { headers, body });
    if let Some(gate) = &shared.gate {
        gate.acquire().await.expect("the gate stays open").forget();
    }
    let status = shared
        .script
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or(200);
    shared.answered.fetch_add(1, Ordering::SeqCst);
    StatusCode::from_u16(status).expect("a status")
}

/// A worker quick enough for tests: retries after 50 ms, 100 ms, ….
fn quick(max_attempts: u32) -> worker::DeliveryConfig {
    worker::DeliveryConfig {
        max_attempts,
        first_retry: Duration::from_millis(50),
        max_retry: Duration::from_millis(400),
        timeout: Duration::from_secs(5),
        poll: Duration::from_millis(100),
        concurrency: 8,
    }
}

fn start_worker(app: &TestApp, config: worker::DeliveryConfig) -> worker::Worker {
    worker::spawn(app.t.db.clone(), &app.changes, config, Default::default())
        .expect("the worker starts")
}

async fn add_hook(app: &TestApp, url: &str, events: &[ChangeKind]) -> entity::webhook::Model {
    webhook::add(&app.t.db, url, events, chrono::Utc::now())
        .await
        .expect("webhook added")
}

/// The seeded app and an admin's token.
async fn seeded() -> (TestApp, String) {
    let app = TestApp::with_seeds().await;
    let admin = app.token("root", Role::Admin).await;
    (app, admin)
}

async fn mutate(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let r = app.gql_as(Some(token), query, vars).await.json();
    assert!(r.get("errors").is_none(), "{r:#}");
    r["data"].clone()
}

async fn bump(app: &TestApp, token: &str) -> Value {
    mutate(
        app,
        token,
        "mutation { adjustScore(id: \"118109\", delta: 1) { version } }",
        json!({}),
    )
    .await
}

async fn deliveries(app: &TestApp) -> Vec<webhook_delivery::Model> {
    webhook_delivery::Entity::find()
        .order_by_asc(webhook_delivery::Column::Id)
        .all(&app.t.db)
        .await
        .expect("deliveries")
}

async fn outbox_rows(db: &sea_orm::DatabaseConnection) -> u64 {
    webhook_outbox::Entity::find()
        .count(db)
        .await
        .expect("count")
}

/// Waits until `done` holds of the deliveries table.
async fn deliveries_until(
    app: &TestApp,
    what: &str,
    done: impl Fn(&[webhook_delivery::Model]) -> bool,
) -> Vec<webhook_delivery::Model> {
    let start = tokio::time::Instant::now();
    loop {
        let rows = deliveries(app).await;
        if done(&rows) {
            return rows;
        }
        assert!(start.elapsed() < PATIENCE, "{what}; deliveries: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks the signature header the way a receiver would: HMAC-SHA256 of
/// the exact body bytes, keyed by the secret, hex, after `sha256=`.
fn assert_signed(received: &Received, secret: &str) {
    let header = received.header("x-quicktakes-signature");
    let hex = header
        .strip_prefix("sha256=")
        .unwrap_or_else(|| panic!("`sha256=` signature, got {header:?}"));
    assert_eq!(
        hex,
        hmac_hex(secret, &received.body),
        "the signature verifies"
    );
    assert_ne!(hex, hmac_hex("another secret", &received.body));
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn a_committed_edit_is_posted_with_its_fields_and_a_signature_that_verifies() {
    let (app, admin) = seeded().await;
    let mut receiver = Receiver::start(&[], None).await;
    let hook = add_hook(&app, &receiver.url, &[]).await;
    let _worker = start_worker(&app, quick(3));

    let data = mutate(
        &app,
        &admin,
        "mutation { updateArticle(id: \"118109\", expectedVersion: 1, input: { slug: \"hcc-imaging\" }) { version url subject { id } } }",
        json!({}),
    )
    .await;
    let new_url = "/learn/medicine/questions/hcc-imaging";
    assert_eq!(data["updateArticle"]["url"], new_url);
    let subject = data["updateArticle"]["subject"]["id"]
        .as_str()
        .expect("subject id")
        .to_owned();

    let got = receiver.next().await;
    assert_signed(&got, &hook.secret);
    assert_eq!(got.header("content-type"), "application/json");
    assert_eq!(got.header("x-quicktakes-event"), "article.updated");
    assert_eq!(got.header("x-quicktakes-attempt"), "1");
    let delivery_id: i64 = got
        .header("x-quicktakes-delivery")
        .parse()
        .expect("a delivery id");
    let body = got.json();
    assert!(
        body["eventId"]
            .as_str()
            .is_some_and(|id| id.parse::<i64>().is_ok()),
        "{body:#}"
    );
    assert!(
        body["occurredAt"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "{body:#}"
    );
    assert_eq!(body["event"], "article.updated");
    assert_eq!(body["articleId"], ID);
    assert_eq!(body["version"], 2);
    assert_eq!(
        body["subject"],
        json!({ "id": subject, "name": "Medicine", "slug": "medicine" })
    );
    assert_eq!(body["oldUrl"], URL);
    assert_eq!(body["newUrl"], new_url);
    assert_eq!(
        body["surrogateKeys"],
        json!([
            format!("article:{ID}"),
            format!("articles:{subject}"),
            "articles"
        ])
    );

    let rows = deliveries_until(&app, "delivered", |rows| {
        rows.iter().all(|d| d.status == "delivered") && !rows.is_empty()
    })
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, delivery_id);
    assert_eq!(rows[0].attempts, 1);
    assert_eq!(rows[0].last_status, Some(200));
    assert!(rows[0].finished_at.is_some());
    assert_eq!(outbox_rows(&app.t.db).await, 0, "handed out");
}

#[tokio::test]
async fn events_are_named_by_what_happened_and_each_webhook_gets_only_those_it_wants() {
    let (app, admin) = seeded().await;
    let mut all = Receiver::start(&[], None).await;
    let mut deletions = Receiver::start(&[], None).await;
    add_hook(&app, &all.url, &[]).await;
    add_hook(&app, &deletions.url, &[ChangeKind::Deleted]).await;
    let _worker = start_worker(&app, quick(3));

    mutate(
        &app,
        &admin,
        "mutation { createArticle(input: { id: \"500\", title: \"Liver ultrasound basics\", question: \"Q?\", answer: \"A\", subject: \"Radiology\" }) { id } }",
        json!({}),
    )
    .await;
    let created = all.next().await.json();
    assert_eq!(created["event"], "article.created");
    assert_eq!(created["articleId"], "500");
    assert_eq!(created["version"], 1);
    assert_eq!(created["oldUrl"], Value::Null);
    assert_eq!(
        created["newUrl"],
        "/learn/radiology/questions/liver-ultrasound-basics"
    );
    assert_eq!(created["subject"]["name"], "Radiology");

    mutate(
        &app,
        &admin,
        "mutation { deleteArticle(id: \"500\") }",
        json!({}),
    )
    .await;
    for receiver in [&mut all, &mut deletions] {
        let deleted = receiver.next().await.json();
        assert_eq!(deleted["event"], "article.deleted");
        assert_eq!(deleted["version"], 2);
        assert_eq!(
            deleted["oldUrl"],
            "/learn/radiology/questions/liver-ultrasound-basics"
        );
        assert_eq!(
            deleted["newUrl"],
            Value::Null,
            "a deleted article is found nowhere"
        );
    }

    mutate(
        &app,
        &admin,
        "mutation { restoreArticle(id: \"500\") { id } }",
        json!({}),
    )
    .await;
    let restored = all.next().await.json();
    assert_eq!(restored["event"], "article.restored");
    assert_eq!(restored["oldUrl"], Value::Null);
    assert_eq!(
        restored["newUrl"],
        "/learn/radiology/questions/liver-ultrasound-basics"
    );

    bump(&app, &admin).await;
    let scored = all.next().await.json();
    assert_eq!(scored["event"], "article.updated");
    assert_eq!(
        (&scored["oldUrl"], &scored["newUrl"]),
        (&json!(URL), &json!(URL))
    );

    mutate(
        &app,
        &admin,
        "mutation { revertArticle(id: \"118109\", toVersion: 1, expectedVersion: 2) { version } }",
        json!({}),
    )
    .await;
    let reverted = all.next().await.json();
    assert_eq!(reverted["event"], "article.reverted");
    assert_eq!(reverted["version"], 3);

    deliveries_until(&app, "all delivered", |rows| {
        rows.len() == 6 && rows.iter().all(|d| d.status == "delivered")
    })
    .await;
    assert!(
        deletions.seen.try_recv().is_err(),
        "the deletions-only webhook got nothing else"
    );
}

#[tokio::test]
async fn the_seed_import_announces_created_articles_when_a_webhook_wants_them() {
    let app = TestApp::new().await;
    let mut receiver = Receiver::start(&[], None).await;
    add_hook(&app, &receiver.url, &[ChangeKind::Created]).await;
    let _worker = start_worker(&app, quick(3));
    app.import(&quicktakes_tests::seeds_dir()).await;
    let body = receiver.next().await.json();
    assert_eq!(body["event"], "article.created");
    assert_eq!(body["articleId"], ID);
    assert_eq!(body["newUrl"], URL);
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_backoff_and_each_attempt_is_recorded() {
    let (app, admin) = seeded().await;
    let mut flaky = Receiver::start(&[500, 500], None).await;
    let mut broken = Receiver::start(&[503, 503, 503, 503], None).await;
    let flaky_hook = add_hook(&app, &flaky.url, &[]).await;
    let broken_hook = add_hook(&app, &broken.url, &[]).await;
    let _worker = start_worker(&app, quick(3));
    bump(&app, &admin).await;

    let attempts = [flaky.next().await, flaky.next().await, flaky.next().await];
    for (n, got) in attempts.iter().enumerate() {
        assert_eq!(got.header("x-quicktakes-attempt"), (n + 1).to_string());
        assert_eq!(got.body, attempts[0].body, "the same body at every attempt");
        assert_eq!(
            got.header("x-quicktakes-delivery"),
            attempts[0].header("x-quicktakes-delivery")
        );
        assert_signed(got, &flaky_hook.secret);
    }
    for _ in 0..3 {
        assert_signed(&broken.next().await, &broken_hook.secret);
    }

    let rows = deliveries_until(&app, "both finished", |rows| {
        rows.len() == 2 && rows.iter().all(|d| d.status != "pending")
    })
    .await;
    let of = |hook: i32| {
        rows.iter()
            .find(|d| d.webhook_id == hook)
            .expect("its delivery")
    };
    let delivered = of(flaky_hook.id);
    assert_eq!(
        (
            delivered.status.as_str(),
            delivered.attempts,
            delivered.last_status
        ),
        ("delivered", 3, Some(200))
    );
    assert_eq!(delivered.last_error, None);
    let failed = of(broken_hook.id);
    assert_eq!(
        (failed.status.as_str(), failed.attempts, failed.last_status),
        ("failed", 3, Some(503))
    );
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 503")),
        "{failed:?}"
    );
    assert!(failed.finished_at.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(broken.seen.try_recv().is_err(), "no attempt after the last");
}

#[tokio::test]
async fn a_dead_or_hanging_endpoint_never_holds_up_a_mutation() {
    let (app, admin) = seeded().await;
    let gate = Arc::new(Semaphore::new(0));
    let mut hanging = Receiver::start(&[], Some(gate.clone())).await;
    add_hook(&app, &hanging.url, &[]).await;
    // Nothing listens there: every attempt is refused.
    let refused = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/hook", socket.local_addr().expect("addr"))
    };
    let refused_hook = add_hook(&app, &refused, &[]).await;
    // A timeout longer than the test, so the held request is never retried.
    let _worker = start_worker(
        &app,
        worker::DeliveryConfig {
            timeout: Duration::from_secs(120),
            ..quick(2)
        },
    );

    bump(&app, &admin).await;
    // The first delivery is now held by the receiver, unanswered.
    let first = hanging.next().await;
    assert_eq!(first.json()["version"], 2);
    // Further mutations return while it still hangs.
    for version in [3, 4] {
        let done = tokio::time::timeout(PATIENCE, bump(&app, &admin))
            .await
            .expect("the mutation returns");
        assert_eq!(done["adjustScore"]["version"], version);
    }
    assert_eq!(
        hanging.answered(),
        0,
        "the mutations did not wait for the endpoint"
    );

    let rows = deliveries_until(&app, "the refused endpoint failed", |rows| {
        rows.iter()
            .filter(|d| d.webhook_id == refused_hook.id)
            .any(|d| d.status == "failed")
    })
    .await;
    let failed = rows
        .iter()
        .find(|d| d.webhook_id == refused_hook.id && d.status == "failed")
        .expect("failed");
    assert_eq!(failed.last_status, None, "no answer came");
    assert!(
        failed.last_error.as_deref().is_some_and(|e| !e.is_empty()),
        "{failed:?}"
    );

    gate.add_permits(10);
    let mut versions = vec![2];
    versions.push(
        hanging.next().await.json()["version"]
            .as_i64()
            .expect("version"),
    );
    versions.push(
        hanging.next().await.json()["version"]
            .as_i64()
            .expect("version"),
    );
    versions.sort_unstable();
    assert_eq!(
        versions,
        [2, 3, 4],
        "every change arrives once the endpoint answers"
    );
}

#[tokio::test]
async fn the_outbox_and_pending_retries_survive_a_restart() {
    let (app, admin) = seeded().await;
    let mut receiver = Receiver::start(&[500], None).await;
    let hook = add_hook(&app, &receiver.url, &[]).await;

    // No worker runs: the change waits in the outbox, committed with it.
    bump(&app, &admin).await;
    assert_eq!(outbox_rows(&app.t.db).await, 1);
    assert!(deliveries(&app).await.is_empty());

    // A restart: a new application over the same database, with a worker.
    let app = restart(app).await;
    let worker = start_worker(
        &app,
        worker::DeliveryConfig {
            first_retry: Duration::from_millis(500),
            ..quick(5)
        },
    );
    let first = receiver.next().await;
    assert_eq!(first.header("x-quicktakes-attempt"), "1");
    deliveries_until(&app, "the failed attempt recorded", |rows| {
        rows.first()
            .is_some_and(|d| d.attempts == 1 && d.last_status == Some(500))
    })
    .await;
    // Stopped before the retry; the next instance makes it.
    drop(worker);
    let app = restart(app).await;
    let _worker = start_worker(&app, quick(5));
    let second = receiver.next().await;
    assert_eq!(second.header("x-quicktakes-attempt"), "2");
    assert_eq!(second.body, first.body);
    assert_signed(&second, &hook.secret);
    let rows = deliveries_until(&app, "delivered", |rows| {
        rows.first().is_some_and(|d| d.status == "delivered")
    })
    .await;
    assert_eq!((rows.len(), rows[0].attempts), (1, 2));
    assert_eq!(outbox_rows(&app.t.db).await, 0);
}

/// A new application over `app`'s database, as after a restart.
async fn restart(app: TestApp) -> TestApp {
    let TestApp { t, .. } = app;
    let TestDb { db, url, dir } = t;
    db.close().await.expect("close");
    let db = quicktakes::db::connect(&quicktakes::db::DbOptions::new(&url))
        .await
        .expect("reconnect");
    TestApp::over(TestDb { db, url, dir }, Default::default())
}

#[tokio::test]
async fn a_change_that_does_not_commit_queues_nothing_and_no_webhook_means_no_outbox() {
    let (app, admin) = seeded().await;
    bump(&app, &admin).await;
    assert_eq!(outbox_rows(&app.t.db).await, 0, "no webhook, no outbox row");

    let receiver = Receiver::start(&[], None).await;
    add_hook(&app, &receiver.url, &[]).await;
    // Refused: nothing committed, nothing queued.
    let r = app
        .gql_as(
            Some(&admin),
            "mutation { setScore(id: \"118109\", score: 2, expectedVersion: 1) { version } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(error_code(&r), "CONFLICT", "{r:#}");
    assert_eq!(outbox_rows(&app.t.db).await, 0);

    // Queued inside a transaction that rolls back: gone with it.
    let txn = app.t.db.begin().await.expect("begin");
    let queued = webhook::enqueue_in(&txn, &Changed::of(118_109))
        .await
        .expect("queue");
    assert!(queued);
    assert_eq!(
        outbox_rows(&app.t.db).await,
        0,
        "not visible before the commit"
    );
    txn.rollback().await.expect("rollback");
    assert_eq!(outbox_rows(&app.t.db).await, 0);
    assert!(deliveries(&app).await.is_empty());
}

#[tokio::test]
async fn two_workers_on_one_database_deliver_each_change_once() {
    let (app, admin) = seeded().await;
    let mut receiver = Receiver::start(&[], None).await;
    add_hook(&app, &receiver.url, &[]).await;
    // Both workers start every pass together, so they hand out and claim
    // the same rows at the same moment.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let passes = Arc::new(AtomicUsize::new(0));
    let hooks = || worker::WorkerHooks {
        before_pass: Some({
            let (barrier, passes) = (barrier.clone(), passes.clone());
            Pause::new(move || {
                let (barrier, passes) = (barrier.clone(), passes.clone());
                async move {
                    barrier.wait().await;
                    passes.fetch_add(1, Ordering::SeqCst);
                }
            })
        }),
    };
    // Instance B: its own pool and change sink over the same database.
    let other = quicktakes::db::connect(&quicktakes::db::DbOptions::new(&app.t.url))
        .await
        .expect("second pool");
    let b_sink = quicktakes::service::changes::ChangeSink::default();
    let _a = worker::spawn(app.t.db.clone(), &app.changes, quick(3), hooks()).expect("worker a");
    let _b = worker::spawn(other, &b_sink, quick(3), hooks()).expect("worker b");

    bump(&app, &admin).await;
    let got = receiver.next().await;
    assert_eq!(got.json()["version"], 2);
    // Several more passes of both: still one request, one delivery.
    let seen = passes.load(Ordering::SeqCst);
    let start = tokio::time::Instant::now();
    while passes.load(Ordering::SeqCst) < seen + 8 {
        assert!(start.elapsed() < PATIENCE, "the workers keep passing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(receiver.seen.try_recv().is_err(), "delivered once");
    let rows = deliveries(&app).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        (rows[0].status.as_str(), rows[0].attempts),
        ("delivered", 1)
    );
}
