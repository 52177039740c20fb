//! Change events come from one place, the change sink: mutations and
//! in-process imports announce what they committed, and only that.

use futures_util::{FutureExt, Stream, StreamExt};
use quicktakes::service::token::Role;
use quicktakes_tests::{TestApp, error_code, real_seed_text, seeds_dir};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::TryRecvError;

const ID: i64 = 118_109;

/// A GraphQL subscription to every change, listening once this returns.
async fn subscribe(app: &TestApp) -> impl Stream<Item = async_graphql::Response> + Unpin {
    let mut stream = app
        .api
        .execute_stream(app.anonymous(async_graphql::Request::new(
            "subscription { articleChanged { id title version } }",
        )));
    let before = app.changes.subscribers();
    // Polling the stream runs the subscription's resolver, which subscribes.
    for _ in 0..10_000 {
        if app.changes.subscribers() > before {
            return stream;
        }
        assert!(stream.next().now_or_never().is_none(), "no event yet");
        tokio::task::yield_now().await;
    }
    panic!("the subscription never listened");
}

/// The next event's article.
async fn next_event(stream: &mut (impl Stream<Item = async_graphql::Response> + Unpin)) -> Value {
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open");
    assert!(event.errors.is_empty(), "{:?}", event.errors);
    event.data.into_json().expect("json")["articleChanged"].clone()
}

/// Every id announced so far, in order.
fn drain(rx: &mut tokio::sync::broadcast::Receiver<i64>) -> Vec<i64> {
    let mut ids = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(id) => ids.push(id),
            Err(TryRecvError::Empty) => return ids,
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn an_in_process_import_announces_the_articles_it_creates_and_updates() {
    let app = TestApp::new().await;
    let mut stream = subscribe(&app).await;
    let mut rx = app.changes.subscribe();

    app.import(&seeds_dir()).await;
    let created = next_event(&mut stream).await;
    assert_eq!(created["id"], ID.to_string());
    assert_eq!(created["version"], 1);
    assert_eq!(drain(&mut rx), vec![ID], "one event for the one article");

    app.import(&seeds_dir()).await;
    assert_eq!(
        drain(&mut rx),
        Vec::<i64>::new(),
        "an unchanged file is no change"
    );

    let edited = app.t.path("edited");
    std::fs::create_dir_all(&edited).expect("folder");
    let text = real_seed_text().replacen(
        "title: >-\n    What is the role",
        "title: >-\n    Which is the role",
        1,
    );
    std::fs::write(
        edited.join("what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md"),
        text,
    )
    .expect("write");
    app.import(&edited).await;
    let updated = next_event(&mut stream).await;
    assert_eq!(updated["version"], 2);
    assert!(
        updated["title"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Which is the role"),
        "{updated}"
    );
    assert_eq!(drain(&mut rx), vec![ID]);
}

#[tokio::test]
async fn a_refused_mutation_announces_nothing() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    let mut rx = app.changes.subscribe();
    let edit = "mutation($title: String!) { updateArticle(id: \"118109\", input: { title: $title }, expectedVersion: 1) { version } }";

    let r = app
        .gql_as(Some(&token), edit, json!({ "title": "First" }))
        .await
        .json();
    assert_eq!(r["data"]["updateArticle"]["version"], 2, "{r}");
    assert_eq!(drain(&mut rx), vec![ID], "a committed edit is announced");

    let before = app.t.snapshot().await;
    let r = app
        .gql_as(Some(&token), edit, json!({ "title": "Second" }))
        .await
        .json();
    assert_eq!(error_code(&r), "CONFLICT", "{r}");
    let r = app
        .gql_as(
            Some(&token),
            "mutation { setRelated(id: \"118109\", related: [\"118109\"], expectedVersion: 2) { version } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(app.t.snapshot().await, before, "nothing was written");
    assert_eq!(drain(&mut rx), Vec::<i64>::new(), "and nothing announced");
}

#[tokio::test]
async fn subject_article_counts_cost_the_same_statements_for_any_number_of_subjects() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    let q = "{ subjects { slug articleCount } }";
    let counts = |d: &Value| -> Vec<(String, i64)> {
        d["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .map(|s| {
                (
                    s["slug"].as_str().unwrap_or_default().to_owned(),
                    s["articleCount"].as_i64().unwrap_or(-1),
                )
            })
            .collect()
    };
    let before = app.statements();
    let one = app.data(q, json!({})).await;
    let cost_one = app.statements() - before;
    // The seed's links name a second subject, without articles of its own.
    assert_eq!(
        counts(&one),
        vec![("health-studies".to_owned(), 0), ("medicine".to_owned(), 1)]
    );

    for (i, subject) in ["Biology", "Chemistry", "Physics", "Biology"]
        .into_iter()
        .enumerate()
    {
        let r = app
            .gql_as(
                Some(&token),
                "mutation($input: NewArticleInput!) { createArticle(input: $input) { id } }",
                json!({ "input": {
                    "title": format!("Question {i}"), "question": "Why?", "answer": "Because.",
                    "subject": subject,
                }}),
            )
            .await
            .json();
        assert!(r.get("errors").is_none(), "{r}");
    }
    let before = app.statements();
    let four = app.data(q, json!({})).await;
    let cost_four = app.statements() - before;
    assert_eq!(
        counts(&four),
        vec![
            ("biology".to_owned(), 2),
            ("chemistry".to_owned(), 1),
            ("health-studies".to_owned(), 0),
            ("medicine".to_owned(), 1),
            ("physics".to_owned(), 1),
        ]
    );
    assert_eq!(
        cost_one, cost_four,
        "one grouped count, not one per subject"
    );
    assert!(cost_four <= 2, "the subjects and one count: {cost_four}");
}
