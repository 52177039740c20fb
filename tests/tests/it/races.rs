//! Writers interleaved at exact points through test-only pause hooks: the
//! seed import against editors' saves, and two editors' saves against each
//! other. Every outcome must keep each acknowledged edit and report the
//! version actually stored.

use std::sync::Arc;
use std::time::Duration;

use quicktakes::error::Error;
use quicktakes::fields::Field;
use quicktakes::progress::Progress;
use quicktakes::seed::import::{Action, ImportOptions, ImportPauses, ImportReport};
use quicktakes::service::edit;
use quicktakes::service::pause::Pause;
use quicktakes::service::token::Role;
use quicktakes_tests::{TestApp, TestDb, error_code, real_seed_text};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

const ID: i64 = 118_109;

/// Generous bound for anything that must happen, so a broken hook fails
/// the test instead of hanging it.
const LIVENESS: Duration = Duration::from_secs(60);

/// How long a writer that should be waiting for a lock is given to (wrongly)
/// get through. Passing never depends on it: a correct server keeps the
/// writer waiting however long this is.
const WINDOW: Duration = Duration::from_secs(1);

/// An application whose SQLite writers wait for the lock far longer than
/// any pause of these tests.
async fn app() -> TestApp {
    let t = TestDb::with_options(|o| o.busy_timeout = LIVENESS).await;
    TestApp::over(t, quicktakes::http::HttpConfig::default())
}

/// A pause point that meets the test at `barrier` twice: once on arrival,
/// once to be released.
fn pause_at(barrier: &Arc<Barrier>) -> Pause {
    let barrier = barrier.clone();
    Pause::new(move || {
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            barrier.wait().await;
        }
    })
}

async fn meet(barrier: &Barrier) {
    tokio::time::timeout(LIVENESS, barrier.wait())
        .await
        .expect("the paused writer reached its pause point");
}

/// Starts an import of `dir` that stops at the pause points given.
fn start_import(
    app: &TestApp,
    dir: &std::path::Path,
    pauses: ImportPauses,
) -> JoinHandle<ImportReport> {
    let db = app.t.db.clone();
    let options = ImportOptions {
        paths: vec![dir.to_owned()],
        ..Default::default()
    };
    tokio::spawn(async move {
        quicktakes::seed::import::import_corpus_paused(&db, &options, &Progress::silent(), &pauses)
            .await
            .expect("the import runs")
    })
}

async fn finish<T>(task: JoinHandle<T>) -> T {
    tokio::time::timeout(LIVENESS, task)
        .await
        .expect("finishes in time")
        .expect("does not panic")
}

/// Waits until `task` is done or [`WINDOW`] has passed; whether it finished.
async fn runs_through<T>(task: &mut JoinHandle<T>) -> bool {
    tokio::time::timeout(WINDOW, async {
        while !task.is_finished() {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_ok()
}

/// The article as an editor sees it, history included.
async fn article_with_history(app: &TestApp, token: &str, id: i64) -> Value {
    let r = app
        .gql_as(
            Some(token),
            "query($id: ID!) { article(id: $id) { title answer score version revisions { nodes { version editor } } } }",
            json!({ "id": id.to_string() }),
        )
        .await
        .json();
    assert!(r.get("errors").is_none(), "{r:#}");
    r["data"]["article"].clone()
}

fn history(article: &Value) -> Vec<(i64, String)> {
    article["revisions"]["nodes"]
        .as_array()
        .expect("revisions")
        .iter()
        .map(|n| {
            (
                n["version"].as_i64().expect("version"),
                n["editor"].as_str().expect("editor").to_owned(),
            )
        })
        .collect()
}

/// A folder holding the real seed as `a.md`, imported; its score is then
/// changed in the file, so the next import plans an update.
async fn imported_then_changed(app: &TestApp) -> std::path::PathBuf {
    let dir = app.t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.md"), real_seed_text()).expect("write");
    app.import(&dir).await;
    std::fs::write(
        dir.join("a.md"),
        real_seed_text().replace("score: -1.0", "score: 3"),
    )
    .expect("write");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_editors_save_between_planning_and_writing_is_a_conflict_not_a_lost_edit() {
    let app = app().await;
    let alice = app.token("alice", Role::Editor).await;
    let dir = imported_then_changed(&app).await;

    let barrier = Arc::new(Barrier::new(2));
    let pauses = ImportPauses {
        after_planning: Some(pause_at(&barrier)),
        ..Default::default()
    };
    let import = start_import(&app, &dir, pauses);
    meet(&barrier).await; // planned: update article 118109 at version 1
    let r = app
        .gql_as(
            Some(&alice),
            "mutation { updateAnswer(id: \"118109\", answer: \"Alice's answer\", expectedVersion: 1) { version } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(r["data"]["updateAnswer"]["version"], 2, "{r}");
    meet(&barrier).await; // writing
    let report = finish(import).await;

    assert_eq!(
        report.summary(),
        "0 created, 0 updated, 0 unchanged, 1 conflicts, 0 invalid"
    );
    assert_eq!(report.exit_code(), 3);
    assert!(
        matches!(&report.plan[0].action, Action::Conflict(reason)
            if reason == "the article was edited while this import ran (version 2, planned at version 1)"),
        "{:?}",
        report.plan
    );
    let a = article_with_history(&app, &alice, ID).await;
    assert_eq!(a["answer"], "Alice's answer", "the editor's save survives");
    assert_eq!(a["score"], Value::Null, "the file was not applied");
    assert_eq!(a["version"], 2);
    assert_eq!(
        history(&a),
        [(2, "alice".to_owned()), (1, "import".to_owned())],
        "no import revision over the editor's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_article_created_between_planning_and_writing_is_a_conflict() {
    let app = app().await;
    let alice = app.token("alice", Role::Editor).await;
    let dir = app.t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.md"), real_seed_text()).expect("write");

    let barrier = Arc::new(Barrier::new(2));
    let pauses = ImportPauses {
        after_planning: Some(pause_at(&barrier)),
        ..Default::default()
    };
    let import = start_import(&app, &dir, pauses);
    meet(&barrier).await; // planned: create article 118109
    let r = app
        .gql_as(
            Some(&alice),
            "mutation { createArticle(input: { id: \"118109\", title: \"Alice's own take\", question: \"Q?\", answer: \"Alice's answer\", subject: \"Medicine\" }) { id version } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(r["data"]["createArticle"]["id"], "118109", "{r}");
    let before = app.t.snapshot().await;
    meet(&barrier).await;
    let report = finish(import).await;

    assert_eq!(
        report.summary(),
        "0 created, 0 updated, 0 unchanged, 1 conflicts, 0 invalid"
    );
    assert_eq!(report.exit_code(), 3);
    assert!(
        matches!(&report.plan[0].action, Action::Conflict(reason)
            if reason.contains("created while this import ran")),
        "{:?}",
        report.plan
    );
    assert_eq!(app.t.snapshot().await, before, "the import wrote nothing");
    let a = article_with_history(&app, &alice, ID).await;
    assert_eq!(a["title"], "Alice's own take");
    assert_eq!(history(&a), [(1, "alice".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_wait_for_the_rows_the_import_verified() {
    let app = app().await;
    let alice = app.token("alice", Role::Editor).await;
    let bob = app.token("bob", Role::Editor).await;
    let dir = imported_then_changed(&app).await;
    // A second file, new: the import plans to create article 7.
    let new_file = real_seed_text()
        .replace("id: 118109", "id: 7")
        .replace(
            "what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients",
            "a-new-article",
        )
        .replace(
            "title: >-\n    What is the role",
            "title: >-\n    From the file: what is the role",
        );
    assert!(new_file.contains("id: 7\n") && new_file.contains("From the file"));
    std::fs::write(dir.join("b.md"), new_file).expect("write");

    let barrier = Arc::new(Barrier::new(2));
    let pauses = ImportPauses {
        after_verifying: Some(pause_at(&barrier)),
        ..Default::default()
    };
    let import = start_import(&app, &dir, pauses);
    meet(&barrier).await; // inside the write transaction, plan verified

    let spawn_gql = |token: &String, q: &'static str| {
        let (router, token) = (app.router.clone(), token.clone());
        tokio::spawn(async move {
            use tower::ServiceExt;
            let body = json!({ "query": q }).to_string();
            let request = axum::http::Request::post("/graphql")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from(body))
                .expect("request");
            let response = router.oneshot(request).await.expect("response");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            serde_json::from_slice::<Value>(&body).expect("json")
        })
    };
    let mut answer = spawn_gql(
        &alice,
        "mutation { updateAnswer(id: \"118109\", answer: \"Alice's answer\", expectedVersion: 1) { version answer score } }",
    );
    let mut create = spawn_gql(
        &bob,
        "mutation { createArticle(input: { id: \"7\", title: \"Bob's article\", question: \"Q?\", answer: \"Bob's answer\", subject: \"Medicine\" }) { id } }",
    );
    // PostgreSQL lets Bob's new row in (a row that does not exist yet
    // cannot be locked); SQLite holds every writer.
    runs_through(&mut create).await;
    assert!(
        !runs_through(&mut answer).await,
        "an edit of a row the import verified waits for the import's commit"
    );
    meet(&barrier).await;
    let report = finish(import).await;
    let answer = finish(answer).await;
    let create = finish(create).await;

    // Alice's save came after the import's update and merges with it:
    // the file changed the score, she changed the answer.
    assert_eq!(
        answer["data"]["updateAnswer"],
        json!({ "version": 3, "answer": "Alice's answer", "score": 3.0 }),
        "{answer}"
    );
    let a = article_with_history(&app, &alice, ID).await;
    assert_eq!(
        history(&a),
        [
            (3, "alice".to_owned()),
            (2, "import".to_owned()),
            (1, "import".to_owned())
        ]
    );
    assert_eq!(report.updated(), 1, "{:?}", report.plan);
    // Exactly one of Bob and the file has article 7, and the report says which.
    let seven = article_with_history(&app, &alice, 7).await;
    let b = report
        .plan
        .iter()
        .find(|p| p.id == 7)
        .expect("b.md planned");
    if create.get("errors").is_none() {
        assert_eq!(seven["title"], "Bob's article");
        assert_eq!(history(&seven), [(1, "bob".to_owned())]);
        assert!(
            matches!(&b.action, Action::Conflict(r) if r.contains("while this import ran")),
            "{b:?}"
        );
        assert_eq!(
            report.summary(),
            "0 created, 1 updated, 0 unchanged, 1 conflicts, 0 invalid"
        );
        assert_eq!(report.exit_code(), 3);
    } else {
        assert_eq!(error_code(&create), "BAD_USER_INPUT", "{create}");
        assert_eq!(create["errors"][0]["extensions"]["field"], "id");
        assert!(
            seven["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("From the file"))
        );
        assert_eq!(history(&seven), [(1, "import".to_owned())]);
        assert_eq!(
            report.summary(),
            "1 created, 1 updated, 0 unchanged, 0 conflicts, 0 invalid"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conflict_reports_the_version_actually_stored() {
    let app = app().await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    let alice = app.token("alice", Role::Editor).await;

    // Bob's save reads the row, then stops before reading later revisions.
    let barrier = Arc::new(Barrier::new(2));
    let pause = pause_at(&barrier);
    let db = app.t.db.clone();
    let bob = tokio::spawn(async move {
        let submitted: edit::Submitted = vec![(Field::Answer, json!("Bob's answer"))];
        edit::merge_edit_paused(
            &db,
            &Default::default(),
            ID,
            1,
            &submitted,
            "bob",
            None,
            Some(&pause),
        )
        .await
    });
    meet(&barrier).await;
    // Alice saves the same version meanwhile.
    let router = app.router.clone();
    let mut alices = tokio::spawn(async move {
        use tower::ServiceExt;
        let body = json!({ "query": "mutation { updateAnswer(id: \"118109\", answer: \"Alice's answer\", expectedVersion: 1) { version } }" });
        let request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {alice}"))
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        let response = router.oneshot(request).await.expect("response");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        serde_json::from_slice::<Value>(&body).expect("json")
    });
    assert!(
        !runs_through(&mut alices).await,
        "a save waits while another holds the article's row"
    );
    meet(&barrier).await;
    let bobs = finish(bob).await;
    let alices = finish(alices).await;

    let stored = quicktakes::service::article::load(&app.t.db, ID)
        .await
        .expect("load")
        .expect("exists");
    assert_eq!(stored.model.version, 2, "exactly one save");
    match bobs {
        Ok(saved) => {
            assert_eq!(saved.fields.answer, stored.fields.answer);
            assert_eq!(error_code(&alices), "CONFLICT", "{alices}");
            assert_eq!(
                alices["errors"][0]["extensions"]["currentVersion"], stored.model.version,
                "{alices}"
            );
        }
        Err(Error::Conflict {
            current_version, ..
        }) => {
            assert_eq!(alices["data"]["updateAnswer"]["version"], 2, "{alices}");
            assert_eq!(current_version, stored.model.version);
        }
        Err(e) => panic!("Bob's save failed: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slug_taken_between_planning_and_writing_is_a_conflict() {
    let app = app().await;
    let alice = app.token("alice", Role::Editor).await;
    let dir = app.t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.md"), real_seed_text()).expect("write");

    let barrier = Arc::new(Barrier::new(2));
    let pauses = ImportPauses {
        after_planning: Some(pause_at(&barrier)),
        ..Default::default()
    };
    let import = start_import(&app, &dir, pauses);
    meet(&barrier).await; // planned: create article 118109 with its slug
    let r = app
        .gql_as(
            Some(&alice),
            "mutation { createArticle(input: { id: \"5\", title: \"Alice's take\", question: \"Q?\", answer: \"A\", subject: \"Medicine\",
                slug: \"what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients\" }) { id } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(r["data"]["createArticle"]["id"], "5", "{r}");
    let before = app.t.snapshot().await;
    meet(&barrier).await;
    let report = finish(import).await;

    assert_eq!(
        report.summary(),
        "0 created, 0 updated, 0 unchanged, 1 conflicts, 0 invalid"
    );
    assert!(
        matches!(&report.plan[0].action, Action::Conflict(reason)
            if reason == "its slug `what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients` was taken by article 5 while this import ran"),
        "{:?}",
        report.plan
    );
    assert_eq!(app.t.snapshot().await, before, "the import wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deletion_overtaken_by_an_edit_writes_again_and_is_never_busy() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let app = app().await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    let alice = app.token("alice", Role::Editor).await;

    // The deletion reads the article, then stops there on its first attempt.
    let barrier = Arc::new(Barrier::new(2));
    let first = Arc::new(AtomicBool::new(true));
    let pause = {
        let barrier = barrier.clone();
        Pause::new(move || {
            let barrier = barrier.clone();
            let first_attempt = first.swap(false, Ordering::SeqCst);
            async move {
                if first_attempt {
                    barrier.wait().await;
                    barrier.wait().await;
                }
            }
        })
    };
    let db = app.t.db.clone();
    let sink = app.changes.clone();
    let deletion = tokio::spawn(async move {
        quicktakes::service::article::delete_paused(&db, &sink, ID, "root", None, Some(&pause))
            .await
    });
    meet(&barrier).await;
    let mut alices = {
        let app_router = app.router.clone();
        tokio::spawn(async move {
            use tower::ServiceExt;
            let body = json!({ "query": "mutation { updateAnswer(id: \"118109\", answer: \"Alice's answer\", expectedVersion: 1) { version } }" });
            let request = axum::http::Request::post("/graphql")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {alice}"))
                .body(axum::body::Body::from(body.to_string()))
                .expect("request");
            let response = app_router.oneshot(request).await.expect("response");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            serde_json::from_slice::<Value>(&body).expect("json")
        })
    };
    let postgres = app.t.is_postgres();
    let saved_first = if postgres {
        // The deletion's read locked nothing: Alice's save commits first,
        // and the deletion's version-guarded write will find the row moved.
        let saved = tokio::time::timeout(LIVENESS, &mut alices)
            .await
            .expect("Alice's save finishes in time")
            .expect("does not panic");
        Some(saved)
    } else {
        assert!(
            !runs_through(&mut alices).await,
            "SQLite's write transaction holds every other writer"
        );
        None
    };
    meet(&barrier).await;
    let deleted = finish(deletion)
        .await
        .expect("the deletion is written, never refused as BUSY");
    let alices = match saved_first {
        Some(alices) => alices,
        None => finish(alices).await,
    };

    let stored = quicktakes::service::article::load(&app.t.db, ID)
        .await
        .expect("load")
        .expect("exists");
    assert!(stored.is_deleted());
    assert_eq!(deleted.model.version, stored.model.version);
    if postgres {
        assert_eq!(alices["data"]["updateAnswer"]["version"], 2, "{alices}");
        assert_eq!(stored.model.version, 3, "the deletion wrote again on top");
        assert_eq!(stored.fields.answer, "Alice's answer", "her save is kept");
    } else {
        assert_eq!(stored.model.version, 2);
        assert_eq!(error_code(&alices), "NOT_FOUND", "{alices}");
    }
    let history = {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        entity::revision::Entity::find()
            .filter(entity::revision::Column::ArticleId.eq(ID))
            .count(&app.t.db)
            .await
            .expect("count")
    };
    assert_eq!(
        history,
        u64::try_from(stored.model.version).expect("positive"),
        "one revision per version"
    );
}
