//! Several instances over one PostgreSQL database: the changes one commits
//! reach the subscribers of the others through `NOTIFY`, only once
//! committed, and a listener that lost its connection replays what it
//! missed. (SQLite delivers in-process; these tests say so and return.)

use std::sync::Arc;
use std::time::Duration;

use quicktakes::service::changes::{ChangeSink, Changed};
use quicktakes::service::listener;
use quicktakes::service::pause::Pause;
use quicktakes::service::token::Role;
use quicktakes_tests::TestApp;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::json;
use tokio::sync::{Notify, broadcast};

const ID: i64 = 118_109;

async fn seeded_postgres() -> Option<TestApp> {
    let app = TestApp::with_seeds().await;
    if app.t.is_postgres() {
        Some(app)
    } else {
        eprintln!("PostgreSQL only: on SQLite changes are delivered in-process");
        None
    }
}

/// Waits until the listener listens.
async fn connected(listening: &mut listener::Listening) {
    tokio::time::timeout(
        Duration::from_secs(10),
        listening.connected.wait_for(|up| *up),
    )
    .await
    .expect("the listener connects within 10 s")
    .expect("the listener runs");
}

async fn heard(events: &mut broadcast::Receiver<i64>) -> i64 {
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event within 10 s")
        .expect("the sink is open")
}

async fn edit(app: &TestApp, token: &str) {
    let r = app
        .gql_as(
            Some(token),
            "mutation { adjustScore(id: \"118109\", delta: 1) { version } }",
            json!({}),
        )
        .await
        .json();
    assert!(r.get("errors").is_none(), "{r:#}");
}

#[tokio::test]
async fn a_subscriber_on_one_instance_hears_what_another_committed_and_nothing_rolled_back() {
    let Some(a) = seeded_postgres().await else {
        return;
    };
    let editor = a.token("alice", Role::Editor).await;
    // Instance B: its own sink, listening on the same database.
    let b = ChangeSink::default();
    let mut listening = listener::spawn(b.clone(), a.t.url.clone(), a.t.db.clone(), None);
    connected(&mut listening).await;
    let mut events = b.subscribe();

    // A transaction that announced a change and rolled back: never heard.
    let txn = a.t.db.begin().await.expect("begin");
    a.changes
        .notify_in(&txn, &Changed::of(42))
        .await
        .expect("notify");
    txn.rollback().await.expect("rollback");

    edit(&a, &editor).await;
    assert_eq!(heard(&mut events).await, ID);
    edit(&a, &editor).await;
    assert_eq!(heard(&mut events).await, ID);
    assert!(events.try_recv().is_err(), "each change heard once");
    listening.task.abort();
}

#[tokio::test]
async fn a_listener_that_lost_its_connection_replays_what_was_committed_meanwhile() {
    let Some(a) = seeded_postgres().await else {
        return;
    };
    let editor = a.token("alice", Role::Editor).await;
    let b = ChangeSink::default();
    // The listener stops between losing its connection and reconnecting
    // until the test has committed an edit in that window.
    let lost = Arc::new(Notify::new());
    let go = Arc::new(Notify::new());
    let pause = {
        let (lost, go) = (lost.clone(), go.clone());
        Pause::new(move || {
            let (lost, go) = (lost.clone(), go.clone());
            async move {
                lost.notify_one();
                go.notified().await;
            }
        })
    };
    let mut listening = listener::spawn(b.clone(), a.t.url.clone(), a.t.db.clone(), Some(pause));
    connected(&mut listening).await;
    let mut events = b.subscribe();

    // Cut the listener's connection (only this test's: its LISTEN names
    // this test's schema).
    let killed =
        a.t.db
            .query_all_raw(Statement::from_string(
                a.t.db.get_database_backend(),
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE query LIKE 'LISTEN %' AND query LIKE '%' || current_schema() || '%'",
            ))
            .await
            .expect("terminate the listener's backend");
    assert_eq!(killed.len(), 1, "one listener of this schema");
    tokio::time::timeout(Duration::from_secs(10), lost.notified())
        .await
        .expect("the listener notices within 10 s");

    // Committed while nobody of B listens: the NOTIFY goes nowhere.
    edit(&a, &editor).await;
    go.notify_one();
    assert_eq!(heard(&mut events).await, ID, "replayed after the reconnect");
    connected(&mut listening).await;

    // And it listens again.
    edit(&a, &editor).await;
    assert_eq!(heard(&mut events).await, ID);
    listening.task.abort();
}

/// Polls `/readyz` until its body says `state` of every replica.
async fn replicas_are(app: &TestApp, state: &str) -> String {
    for _ in 0..100 {
        let r = app.get("/readyz").await;
        assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.text());
        let body = r.text();
        if body.lines().skip(1).all(|l| l.ends_with(state)) && body.lines().count() > 1 {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replicas never became {state}");
}

#[tokio::test]
async fn anonymous_reads_go_to_a_replica_and_editors_read_the_primary() {
    let Some(primary) = seeded_postgres().await else {
        return;
    };
    // Stand-in replica: another database whose seed answer differs, so an
    // answer shows where it was read. (The scale-out test uses a real one.)
    let replica = quicktakes_tests::TestDb::new().await;
    let stale = quicktakes_tests::real_seed_text().replace(
        "Imaging plays a crucial role",
        "The replica's copy: imaging plays a crucial role",
    );
    std::fs::write(replica.path("seed.md"), stale).expect("write the seed");
    let options = quicktakes::seed::import::ImportOptions {
        paths: vec![replica.path("seed.md")],
        ..Default::default()
    };
    quicktakes::seed::import::import_corpus(
        &replica.db,
        &options,
        &quicktakes::progress::Progress::silent(),
    )
    .await
    .expect("import into the replica");

    let editor_token = primary.token("alice", Role::Editor).await;
    let app = TestApp::with_replicas(primary.t, std::slice::from_ref(&replica.url)).await;
    let body = replicas_are(&app, ": reachable").await;
    assert!(
        body.starts_with("ready\nread replica postgres://"),
        "{body}"
    );

    let query = "{ article(id: \"118109\") { answer } }";
    let anonymous = app.gql(query, json!({})).await;
    assert!(
        anonymous["data"]["article"]["answer"]
            .as_str()
            .is_some_and(|a| a.starts_with("The replica's copy")),
        "{anonymous:#}"
    );
    let editor = app
        .gql_as(Some(&editor_token), query, json!({}))
        .await
        .json();
    assert!(
        editor["data"]["article"]["answer"]
            .as_str()
            .is_some_and(|a| a.starts_with("Imaging plays a crucial role")),
        "{editor:#}"
    );
    // The reader preview is an anonymous read too.
    let page = app
        .get("/learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients")
        .await
        .text();
    assert!(page.contains("The replica's copy"), "{page}");
}

#[tokio::test]
async fn with_its_replica_unreachable_an_instance_stays_ready_and_reads_the_primary() {
    let Some(primary) = seeded_postgres().await else {
        return;
    };
    // Nothing listens on port 1.
    let app = TestApp::with_replicas(
        primary.t,
        &["postgres://postgres@127.0.0.1:1/none".to_owned()],
    )
    .await;
    let body = replicas_are(&app, "unreachable (anonymous reads go to the primary)").await;
    assert!(body.starts_with("ready\n"), "{body}");
    let anonymous = app
        .gql("{ article(id: \"118109\") { title } }", json!({}))
        .await;
    assert_eq!(
        anonymous["data"]["article"]["title"],
        "What is the role of imaging in the follow-up care of HCC patients?",
        "{anonymous:#}"
    );
}
