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
