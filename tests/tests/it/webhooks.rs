//! Change webhooks from the outside: a receiver in the test records what
//! the delivery worker POSTs after mutations made through the API: the
//! payload, its timestamped HMAC-SHA256 signature, the retries with their
//! backoff and their record in the deliveries table, the delay before a
//! first attempt, the outbox surviving a restart, the webhooks a change
//! goes to, a hanging endpoint holding up no other, and one delivery per
//! change however many workers share the database.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait, QueryOrder, TransactionTrait};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};

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
        delay: Duration::ZERO,
    }
}

/// Waits until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let start = tokio::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A switch that parks a worker at the start of its next pass: while it
/// is parked, no outbox row is handed out and no delivery claimed (an
/// attempt already under way still runs and records its outcome).
#[derive(Clone)]
struct Hold {
    held: Arc<watch::Sender<bool>>,
    parked: Arc<AtomicBool>,
    passes: Arc<AtomicUsize>,
}

impl Hold {
    fn new() -> Self {
        Self {
            held: Arc::new(watch::channel(false).0),
            parked: Arc::default(),
            passes: Arc::default(),
        }
    }

    fn hooks(&self) -> worker::WorkerHooks {
        let hold = self.clone();
        worker::WorkerHooks {
            before_pass: Some(Pause::new(move || {
                let hold = hold.clone();
                async move {
                    hold.passes.fetch_add(1, Ordering::SeqCst);
                    let mut held = hold.held.subscribe();
                    if *held.borrow_and_update() {
                        hold.parked.store(true, Ordering::SeqCst);
                        let _ = held.wait_for(|held| !*held).await;
                        hold.parked.store(false, Ordering::SeqCst);
                    }
                }
            })),
        }
    }

    /// Holds the worker, and returns once it is parked.
    async fn park(&self) {
        self.held.send_replace(true);
        until("the worker parks", || self.parked.load(Ordering::SeqCst)).await;
    }

    fn release(&self) {
        self.held.send_replace(false);
    }

    /// Returns once the worker started `n` more passes.
    async fn passes(&self, n: usize) {
        let seen = self.passes.load(Ordering::SeqCst);
        until("the worker keeps passing", || {
            self.passes.load(Ordering::SeqCst) >= seen + n
        })
        .await;
    }
}

fn start_held_worker(app: &TestApp, config: worker::DeliveryConfig, hold: &Hold) -> worker::Worker {
    worker::spawn(app.t.db.clone(), &app.changes, config, hold.hooks()).expect("the worker starts")
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

/// Checks the signature header the way a receiver would: a timestamp
/// within 5 minutes of now, and the HMAC-SHA256 of the timestamp, a dot and
/// the exact body bytes, keyed by the secret, hex, after `sha256=`.
fn assert_signed(received: &Received, secret: &str) {
    let timestamp = received.header("x-quicktakes-timestamp");
    let sent: i64 = timestamp
        .parse()
        .unwrap_or_else(|_| panic!("a Unix time in seconds, got {timestamp:?}"));
    assert!(
        (chrono::Utc::now().timestamp() - sent).abs() <= 300,
        "a current time: {timestamp}"
    );
    let header = received.header("x-quicktakes-signature");
    let hex = header
        .strip_prefix("sha256=")
        .unwrap_or_else(|| panic!("`sha256=` signature, got {header:?}"));
    let signed = [timestamp.as_bytes(), b".", &received.body].concat();
    assert_eq!(hex, hmac_hex(secret, &signed), "the signature verifies");
    assert_ne!(
        hex,
        hmac_hex(secret, &received.body),
        "the time is signed with the body"
    );
    let later = [(sent + 1).to_string().as_bytes(), b".", &received.body].concat();
    assert_ne!(
        hex,
        hmac_hex(secret, &later),
        "another time does not verify"
    );
    assert_ne!(hex, hmac_hex("another secret", &signed));
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
    assert_eq!(rows[0].leased_until, None, "no lease once recorded");
    assert_eq!(
        got.header("x-quicktakes-timestamp"),
        rows[0]
            .last_attempt_at
            .expect("attempted")
            .timestamp()
            .to_string(),
        "the attempt's time"
    );
    assert_eq!(outbox_rows(&app.t.db).await, 0, "handed out");
}

#[tokio::test]
async fn an_article_moved_to_another_subject_names_both_subjects_and_both_urls() {
    let (app, admin) = seeded().await;
    let mut receiver = Receiver::start(&[], None).await;
    add_hook(&app, &receiver.url, &[]).await;
    let _worker = start_worker(&app, quick(3));
    let before = app
        .data(
            "{ article(id: \"118109\") { url subject { id } } }",
            json!({}),
        )
        .await;
    let old_subject = before["article"]["subject"]["id"]
        .as_str()
        .expect("subject id")
        .to_owned();
    assert_eq!(before["article"]["url"], URL);

    let data = mutate(
        &app,
        &admin,
        "mutation { updateArticle(id: \"118109\", expectedVersion: 1, input: { subject: \"Oncology\" }) { version url subject { id } } }",
        json!({}),
    )
    .await;
    let moved = &data["updateArticle"];
    let new_subject = moved["subject"]["id"]
        .as_str()
        .expect("subject id")
        .to_owned();
    let new_url = moved["url"].as_str().expect("url").to_owned();
    assert_ne!(new_subject, old_subject, "a subject of its own");
    assert!(new_url.starts_with("/learn/oncology/"), "{new_url}");

    let body = receiver.next().await.json();
    assert_eq!(body["event"], "article.updated");
    assert_eq!(body["version"], 2);
    assert_eq!(body["oldUrl"], URL);
    assert_eq!(body["newUrl"], new_url.as_str());
    assert_ne!(body["oldUrl"], body["newUrl"]);
    assert_eq!(body["subject"]["id"], new_subject.as_str());
    assert_eq!(body["subject"]["name"], "Oncology");
    let keys: Vec<&str> = body["surrogateKeys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_str().expect("a key"))
        .collect();
    for key in [
        format!("article:{ID}"),
        format!("articles:{old_subject}"),
        format!("articles:{new_subject}"),
        "articles".to_owned(),
    ] {
        assert!(keys.contains(&key.as_str()), "{key} in {keys:?}");
    }
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
    // Each answer of the flaky endpoint waits for the test, so the test can
    // park the worker first and read the record of the attempt before a
    // retry could be claimed.
    let gate = Arc::new(Semaphore::new(0));
    let mut flaky = Receiver::start(&[500, 500], Some(gate.clone())).await;
    let mut broken = Receiver::start(&[503, 503, 503, 503], None).await;
    let flaky_hook = add_hook(&app, &flaky.url, &[]).await;
    let broken_hook = add_hook(&app, &broken.url, &[]).await;
    // Long enough that an attempt's own time (a request, parking the
    // worker) stays well under the first wait.
    let first = Duration::from_secs(1);
    let hold = Hold::new();
    let _worker = start_held_worker(
        &app,
        worker::DeliveryConfig {
            first_retry: first,
            max_retry: first * 10,
            ..quick(3)
        },
        &hold,
    );
    bump(&app, &admin).await;

    let mut attempts = Vec::new();
    let mut recorded = Vec::new();
    for n in 1..=3 {
        let got = flaky.next().await;
        hold.park().await;
        gate.add_permits(1);
        let rows = deliveries_until(&app, "the attempt recorded", |rows| {
            rows.iter().any(|d| {
                d.webhook_id == flaky_hook.id && d.attempts == n && d.leased_until.is_none()
            })
        })
        .await;
        recorded.push(
            rows.into_iter()
                .find(|d| d.webhook_id == flaky_hook.id)
                .expect("its delivery"),
        );
        attempts.push(got);
        hold.release();
    }
    for (n, got) in attempts.iter().enumerate() {
        assert_eq!(got.header("x-quicktakes-attempt"), (n + 1).to_string());
        assert_eq!(got.body, attempts[0].body, "the same body at every attempt");
        assert_eq!(
            got.header("x-quicktakes-delivery"),
            attempts[0].header("x-quicktakes-delivery")
        );
        assert_signed(got, &flaky_hook.secret);
    }
    // The backoff, by the database's clock: after failed attempt n, the
    // next is due its wait (the first, then doubled) after the failure was
    // recorded, itself after the attempt started, and no retry starts
    // before it is due.
    let started = |d: &webhook_delivery::Model| d.last_attempt_at.expect("attempted");
    let wait =
        |d: &webhook_delivery::Model| (d.next_attempt_at - started(d)).to_std().expect("ahead");
    for (n, d) in recorded[..2].iter().enumerate() {
        assert_eq!(
            (d.status.as_str(), d.last_status),
            ("pending", Some(500)),
            "{d:?}"
        );
        let backoff = first * 2u32.pow(n as u32);
        assert!(
            wait(d) >= backoff && wait(d) < backoff * 2,
            "attempt {} waits {:?}, not {backoff:?} then doubled: {d:?}",
            n + 1,
            wait(d)
        );
        assert!(
            started(&recorded[n + 1]) >= d.next_attempt_at,
            "attempt {} started before it was due: {recorded:#?}",
            n + 2
        );
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
    for _ in 0..3 {
        assert_signed(&broken.next().await, &broken_hook.secret);
    }
    hold.passes(3).await;
    assert!(broken.seen.try_recv().is_err(), "no attempt after the last");
}

#[tokio::test]
async fn a_dead_or_hanging_endpoint_never_holds_up_a_mutation() {
    let (app, admin) = seeded().await;
    let gate = Arc::new(Semaphore::new(0));
    let mut hanging = Receiver::start(&[], Some(gate.clone())).await;
    add_hook(&app, &hanging.url, &[]).await;
    // Nothing listens there: every attempt is refused. Its query is a
    // secret (as a build hook's token is), never to be recorded or logged.
    let refused = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!(
            "http://{}/hook?token=hush-hush",
            socket.local_addr().expect("addr")
        )
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
    let error = failed.last_error.as_deref().unwrap_or_default();
    assert!(!error.is_empty(), "{failed:?}");
    for hidden in [
        refused.as_str(),
        "hush-hush",
        "/hook",
        refused_hook.secret.as_str(),
    ] {
        assert!(!error.contains(hidden), "{hidden:?} in {error:?}");
    }

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

#[tokio::test]
async fn a_hanging_endpoint_holds_a_few_request_slots_and_another_endpoint_still_gets_its_deliveries()
 {
    let (app, admin) = seeded().await;
    let gate = Arc::new(Semaphore::new(0));
    let mut hanging = Receiver::start(&[], Some(gate.clone())).await;
    let hanging_hook = add_hook(&app, &hanging.url, &[]).await;
    // A timeout longer than the test: the held requests hang until the
    // test answers them.
    let config = worker::DeliveryConfig {
        timeout: Duration::from_secs(120),
        ..quick(2)
    };
    let hold = Hold::new();
    let _worker = start_held_worker(&app, config.clone(), &hold);

    // While the worker is parked, more changes than it has request slots
    // pile up for the hanging endpoint: all due at once when it resumes.
    hold.park().await;
    let piled = config.concurrency + 4;
    for _ in 0..piled {
        bump(&app, &admin).await;
    }
    let mut healthy = Receiver::start(&[], None).await;
    let healthy_hook = add_hook(&app, &healthy.url, &[]).await;
    bump(&app, &admin).await;
    let last = i64::try_from(piled).expect("few") + 2;
    hold.release();

    // The other endpoint gets its delivery while the hanging one holds
    // every request it got, unanswered.
    let got = healthy.next().await;
    assert_eq!(got.json()["version"], last);
    assert_signed(&got, &healthy_hook.secret);
    for _ in 0..worker::PER_WEBHOOK {
        hanging.next().await;
    }
    assert_eq!(hanging.answered(), 0, "the endpoint still hangs");
    // However many passes the worker makes, it sends the hanging endpoint
    // no more than its share.
    hold.passes(5).await;
    assert!(
        hanging.seen.try_recv().is_err(),
        "at most {} requests in flight to one endpoint",
        worker::PER_WEBHOOK
    );
    let rows = deliveries(&app).await;
    let leased = rows
        .iter()
        .filter(|d| d.webhook_id == hanging_hook.id && d.leased_until.is_some())
        .count();
    assert_eq!(leased, worker::PER_WEBHOOK, "{rows:#?}");
    assert!(
        rows.iter()
            .any(|d| d.webhook_id == healthy_hook.id && d.status == "delivered"),
        "{rows:#?}"
    );

    // Once it answers, every change reaches it, once.
    gate.add_permits(1_000);
    let mut versions = Vec::new();
    for _ in worker::PER_WEBHOOK..=piled {
        versions.push(
            hanging.next().await.json()["version"]
                .as_i64()
                .expect("version"),
        );
    }
    let rows = deliveries_until(&app, "all delivered", |rows| {
        rows.iter().all(|d| d.status == "delivered")
    })
    .await;
    assert_eq!(rows.len(), piled + 2, "{rows:#?}");
    assert_eq!(hanging.answered(), piled + 1);
    let mut delivered: Vec<i64> = rows
        .iter()
        .filter(|d| d.webhook_id == hanging_hook.id)
        .map(|d| i64::from(d.version))
        .collect();
    delivered.sort_unstable();
    assert_eq!(delivered, (2..=last).collect::<Vec<_>>());
    assert!(
        versions.iter().all(|v| (2..=last).contains(v)),
        "{versions:?}"
    );
}

#[tokio::test]
async fn a_dead_endpoint_is_probed_after_a_failure_not_sent_every_due_delivery() {
    let (app, admin) = seeded().await;
    // Nothing listens there: every attempt fails at once.
    let refused = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/hook", socket.local_addr().expect("addr"))
    };
    let dead = add_hook(&app, &refused, &[]).await;
    let hold = Hold::new();
    let first = Duration::from_secs(60);
    let _worker = start_held_worker(
        &app,
        worker::DeliveryConfig {
            first_retry: first,
            max_retry: first * 10,
            ..quick(5)
        },
        &hold,
    );
    hold.park().await;
    let piled = 3 * worker::PER_WEBHOOK;
    for _ in 0..piled {
        bump(&app, &admin).await;
    }
    hold.release();
    // The first attempts fail; after the first failure the other due
    // deliveries wait for the failed one's retry instead of being sent.
    let rows = deliveries_until(&app, "the first attempts recorded", |rows| {
        rows.len() == piled
            && rows.iter().all(|d| d.leased_until.is_none())
            && rows.iter().any(|d| d.attempts == 1)
    })
    .await;
    hold.passes(3).await;
    let rows_after = deliveries(&app).await;
    assert_eq!(rows_after, rows, "nothing more was attempted");
    let attempted = rows.iter().filter(|d| d.attempts == 1).count();
    assert_eq!(
        attempted,
        worker::PER_WEBHOOK,
        "a few probes, not every due delivery: {rows:#?}"
    );
    let retry = rows
        .iter()
        .filter(|d| d.attempts == 1)
        .map(|d| d.next_attempt_at)
        .min()
        .expect("a probe");
    for d in rows
        .iter()
        .filter(|d| d.webhook_id == dead.id && d.attempts == 0)
    {
        assert!(
            d.next_attempt_at >= retry,
            "a delivery left due before the failed one's retry: {d:?}"
        );
        assert_eq!(d.status, "pending");
    }
}

#[tokio::test]
async fn a_change_goes_to_the_webhooks_that_existed_when_it_committed() {
    let (app, admin) = seeded().await;
    let mut old = Receiver::start(&[], None).await;
    let old_hook = add_hook(&app, &old.url, &[]).await;
    let hold = Hold::new();
    let _worker = start_held_worker(&app, quick(3), &hold);

    // Committed while the worker is parked: it waits in the outbox.
    hold.park().await;
    bump(&app, &admin).await;
    assert_eq!(outbox_rows(&app.t.db).await, 1);
    // A webhook added after the commit, before the change is handed out.
    let mut new = Receiver::start(&[], None).await;
    let new_hook = add_hook(&app, &new.url, &[]).await;
    hold.release();
    assert_eq!(old.next().await.json()["version"], 2);
    deliveries_until(&app, "handed out and delivered", |rows| {
        rows.len() == 1 && rows[0].status == "delivered"
    })
    .await;
    hold.passes(3).await;
    assert!(
        new.seen.try_recv().is_err(),
        "the later webhook got nothing"
    );

    // A change committed after it was added reaches it.
    bump(&app, &admin).await;
    assert_eq!(new.next().await.json()["version"], 3);
    assert_eq!(old.next().await.json()["version"], 3);
    let rows = deliveries_until(&app, "all delivered", |rows| {
        rows.len() == 3 && rows.iter().all(|d| d.status == "delivered")
    })
    .await;
    let of = |hook: i32| -> Vec<i32> {
        rows.iter()
            .filter(|d| d.webhook_id == hook)
            .map(|d| d.version)
            .collect()
    };
    assert_eq!(of(old_hook.id), [2, 3]);
    assert_eq!(of(new_hook.id), [3]);
}

#[tokio::test]
async fn a_first_attempt_waits_for_the_delay_after_the_commit() {
    let (app, admin) = seeded().await;
    let mut receiver = Receiver::start(&[], None).await;
    add_hook(&app, &receiver.url, &[]).await;
    let occurred = |d: &webhook_delivery::Model| {
        let body: Value = serde_json::from_str(&d.body).expect("JSON");
        chrono::DateTime::parse_from_rfc3339(body["occurredAt"].as_str().expect("occurredAt"))
            .expect("a time")
            .to_utc()
    };

    // A delay longer than the test: handed out at once, due only then.
    let long = Duration::from_secs(3_600);
    let worker = start_worker(
        &app,
        worker::DeliveryConfig {
            delay: long,
            ..quick(3)
        },
    );
    bump(&app, &admin).await;
    let rows = deliveries_until(&app, "handed out", |rows| rows.len() == 1).await;
    let waiting = &rows[0];
    // `occurredAt` is in milliseconds; the stored time may be finer.
    let due_after = (waiting.next_attempt_at - occurred(waiting))
        .to_std()
        .expect("after the commit");
    assert!(
        due_after >= long && due_after < long + Duration::from_millis(1),
        "due {due_after:?} after the commit: {waiting:?}"
    );
    assert!(waiting.next_attempt_at > waiting.created_at, "{waiting:?}");
    assert_eq!(
        (waiting.attempts, waiting.last_attempt_at),
        (0, None),
        "{waiting:?}"
    );
    drop(worker);

    // A short delay: the attempt comes, no sooner than the delay after
    // the commit, both by the database's clock.
    let short = Duration::from_millis(500);
    let _worker = start_worker(
        &app,
        worker::DeliveryConfig {
            delay: short,
            ..quick(3)
        },
    );
    bump(&app, &admin).await;
    assert_eq!(receiver.next().await.json()["version"], 3);
    let rows = deliveries(&app).await;
    let sent = rows.iter().find(|d| d.version == 3).expect("delivered");
    let attempted = sent.last_attempt_at.expect("attempted");
    assert!(
        (attempted - occurred(sent)).to_std().expect("after") >= short,
        "attempted {attempted} for a change of {}",
        occurred(sent)
    );
    let first = rows.iter().find(|d| d.version == 2).expect("waiting");
    assert_eq!((first.status.as_str(), first.attempts), ("pending", 0));
}

#[tokio::test]
async fn an_outbox_row_of_an_unknown_event_is_left_for_a_newer_instance() {
    let (app, admin) = seeded().await;
    let mut receiver = Receiver::start(&[], None).await;
    let hook = add_hook(&app, &receiver.url, &[]).await;
    // As a newer version would write it, before a change this one knows.
    let unknown = webhook_outbox::Entity::insert(webhook_outbox::ActiveModel {
        event: Set("article.archived".to_owned()),
        article_id: Set(118_109),
        version: Set(1),
        subject_id: Set(1),
        subject_name: Set("Medicine".to_owned()),
        subject_slug: Set("medicine".to_owned()),
        old_subject_id: Set(Some(1)),
        old_url: Set(Some(URL.to_owned())),
        new_url: Set(None),
        committed_at: Set(chrono::Utc::now()),
        last_webhook_id: Set(hook.id),
        ..Default::default()
    })
    .exec(&app.t.db)
    .await
    .expect("insert")
    .last_insert_id;
    let hold = Hold::new();
    let _worker = start_held_worker(&app, quick(3), &hold);
    bump(&app, &admin).await;
    let got = receiver.next().await.json();
    assert_eq!(
        got["event"], "article.updated",
        "the row behind it went out"
    );
    hold.passes(3).await;
    assert!(
        receiver.seen.try_recv().is_err(),
        "nothing of the unknown event"
    );
    let left = webhook_outbox::Entity::find()
        .all(&app.t.db)
        .await
        .expect("outbox");
    assert_eq!(left.len(), 1, "{left:#?}");
    assert_eq!(
        (left[0].id, left[0].event.as_str()),
        (unknown, "article.archived")
    );
    assert_eq!(deliveries(&app).await.len(), 1);
}
