//! Editors' mutations through the router: tokens and roles, revisions,
//! the three-way merge, atomic scores, validation and the seed job.

use quicktakes::service::token::Role;
use quicktakes_tests::{TestApp, error_code};
use serde_json::{Value, json};

const ID: &str = "118109";

struct Editors {
    app: TestApp,
    editor: String,
    admin: String,
    revoked: String,
}

async fn editors() -> Editors {
    let app = TestApp::with_seeds().await;
    let editor = app.token("alice", Role::Editor).await;
    let admin = app.token("root", Role::Admin).await;
    let revoked = app.token("bob", Role::Editor).await;
    quicktakes::service::token::revoke(&app.t.db, "bob", chrono::Utc::now())
        .await
        .expect("revoke");
    Editors {
        app,
        editor,
        admin,
        revoked,
    }
}

async fn as_editor(app: &TestApp, token: &str, query: &str, vars: Value) -> Value {
    let r = app.gql_as(Some(token), query, vars).await;
    r.json()
}

fn ok(r: &Value) -> &Value {
    assert!(r.get("errors").is_none(), "{r:#}");
    &r["data"]
}

/// Each mutation with variables for article `ID` at version `v`.
fn mutation(name: &str, v: i64, n: usize) -> (String, Value) {
    let m = |q: &str, vars: Value| (q.to_owned(), vars);
    match name {
        "updateAnswer" => m(
            "mutation($v: Int!) { updateAnswer(id: \"118109\", answer: \"New\", expectedVersion: $v) { version } }",
            json!({ "v": v }),
        ),
        "updateArticle" => m(
            "mutation($v: Int!, $t: String!) { updateArticle(id: \"118109\", input: { title: $t }, expectedVersion: $v) { version } }",
            json!({ "v": v, "t": format!("T{n}") }),
        ),
        "setScore" => m(
            "mutation($v: Int!, $s: Float) { setScore(id: \"118109\", score: $s, expectedVersion: $v) { version } }",
            json!({ "v": v, "s": n as f64 }),
        ),
        "adjustScore" => m(
            "mutation { adjustScore(id: \"118109\", delta: 1) { version } }",
            json!({}),
        ),
        "setRelated" => m(
            "mutation($v: Int!, $r: [ID!]!) { setRelated(id: \"118109\", related: $r, expectedVersion: $v) { version } }",
            json!({ "v": v, "r": if n == 1 { json!(["118100", "118085"]) } else { json!(["118085"]) } }),
        ),
        "createArticle" => m(
            "mutation($t: String!) { createArticle(input: { title: $t, question: \"Q?\", answer: \"A\", subject: \"Medicine\" }) { id } }",
            json!({ "t": format!("Created {n}") }),
        ),
        "deleteArticle" => m("mutation { deleteArticle(id: \"118109\") }", json!({})),
        "restoreArticle" => m(
            "mutation { restoreArticle(id: \"118109\") { version } }",
            json!({}),
        ),
        "revertArticle" => m(
            "mutation($v: Int!) { revertArticle(id: \"118109\", toVersion: 1, expectedVersion: $v) { version } }",
            json!({ "v": v }),
        ),
        other => panic!("unknown mutation {other}"),
    }
}

#[tokio::test]
async fn every_mutation_checks_the_token_and_its_role() {
    for name in [
        "updateAnswer",
        "updateArticle",
        "setScore",
        "adjustScore",
        "setRelated",
        "createArticle",
        "deleteArticle",
        "restoreArticle",
        "revertArticle",
    ] {
        let e = editors().await;
        let app = &e.app;
        if name == "restoreArticle" {
            quicktakes::service::article::delete(&app.t.db, &app.changes, 118_109, "setup", None)
                .await
                .expect("delete");
        }
        let current = app.t.db.clone();
        let v = quicktakes::service::article::load(&current, 118_109)
            .await
            .expect("load")
            .expect("exists")
            .model
            .version as i64;

        let (q, vars) = mutation(name, v, 1);
        let r = app.gql_as(None, &q, vars.clone()).await;
        assert_eq!(
            error_code(&r.json()),
            "UNAUTHENTICATED",
            "{name} without a token: {}",
            r.text()
        );
        for bad in ["qt_not-a-real-token", e.revoked.as_str()] {
            let r = app.gql_as(Some(bad), &q, vars.clone()).await;
            assert_eq!(r.status, axum::http::StatusCode::UNAUTHORIZED, "{name}");
            assert_eq!(
                error_code(&r.json()),
                "UNAUTHENTICATED",
                "{name} with {bad}"
            );
            assert!(r.json().get("data").is_none());
        }
        let before = app.t.snapshot().await;
        let r = as_editor(app, &e.editor, &q, vars).await;
        let admin_only = matches!(name, "deleteArticle" | "restoreArticle");
        if admin_only {
            assert_eq!(error_code(&r), "FORBIDDEN", "{name} as editor: {r}");
            assert_eq!(app.t.snapshot().await, before, "{name}: nothing written");
        } else {
            ok(&r);
        }
        let v = quicktakes::service::article::load(&current, 118_109)
            .await
            .expect("load")
            .expect("exists")
            .model
            .version as i64;
        let (q, vars) = mutation(name, v, 2);
        ok(&as_editor(app, &e.admin, &q, vars).await);
    }
}

#[tokio::test]
async fn a_bad_token_is_refused_even_for_reads() {
    let e = editors().await;
    let q = "{ article(id: \"118109\") { title } }";
    assert!(e.app.gql_as(None, q, json!({})).await.json()["data"]["article"]["title"].is_string());
    assert!(
        e.app.gql_as(Some(&e.editor), q, json!({})).await.json()["data"]["article"]["title"]
            .is_string()
    );
    for bad in ["wrong", e.revoked.as_str()] {
        let r = e.app.gql_as(Some(bad), q, json!({})).await;
        assert_eq!(r.status, axum::http::StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&r.json()), "UNAUTHENTICATED");
        assert_eq!(r.header("www-authenticate"), "Bearer");
    }
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", "Basic abc")
        .body(axum::body::Body::from(json!({ "query": q }).to_string()))
        .expect("request");
    assert_eq!(
        e.app.send(request).await.status,
        axum::http::StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn mutations_write_revisions_and_old_urls_keep_working() {
    let e = editors().await;
    let app = &e.app;
    let r = as_editor(
        app,
        &e.editor,
        "mutation { updateArticle(id: \"118109\", input: { slug: \"hcc-imaging\", subject: \"Oncology\", author: null }, expectedVersion: 1, note: \"shorter url\") {
            version url slug author subject { name slug } } }",
        json!({}),
    )
    .await;
    let a = &ok(&r)["updateArticle"];
    assert_eq!(a["version"], 2);
    assert_eq!(a["url"], "/learn/oncology/questions/hcc-imaging");
    assert_eq!(a["subject"]["slug"], "oncology");
    assert_eq!(a["author"], Value::Null);
    let r = as_editor(
        app,
        &e.editor,
        "{ a: article(url: \"/learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients\") { id }
           b: article(slug: \"what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients\") { id
              revisions { totalCount nodes { version editor note changes { field before after } } } } }",
        json!({}),
    )
    .await;
    let d = ok(&r);
    assert_eq!(d["a"]["id"], ID);
    let revisions = &d["b"]["revisions"];
    assert_eq!(revisions["totalCount"], 2);
    let latest = &revisions["nodes"][0];
    assert_eq!(
        (
            latest["version"].as_i64(),
            latest["editor"].as_str(),
            latest["note"].as_str()
        ),
        (Some(2), Some("alice"), Some("shorter url"))
    );
    let fields: Vec<&str> = latest["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["subject", "slug", "url", "author"]);
    assert_eq!(latest["changes"][3]["before"], "\"QuickTakes\"");
    assert_eq!(latest["changes"][3]["after"], Value::Null);

    // Revert brings version 1's values back as version 3.
    let r = as_editor(app, &e.editor, "mutation { revertArticle(id: \"118109\", toVersion: 1, expectedVersion: 2) { version url author } }", json!({})).await;
    let a = &ok(&r)["revertArticle"];
    assert_eq!(a["version"], 3);
    assert_eq!(
        a["url"],
        "/learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients"
    );
    assert_eq!(a["author"], "QuickTakes");
}

#[tokio::test]
async fn two_editors_saving_the_same_version_of_the_answer_exactly_one_wins() {
    let e = editors().await;
    let bob = e.app.token("bob2", Role::Editor).await;
    let q = "mutation($a: String!) { updateAnswer(id: \"118109\", answer: $a, expectedVersion: 1) { version answer } }";
    let (r1, r2) = tokio::join!(
        e.app
            .gql_as(Some(&e.editor), q, json!({ "a": "Alice's answer" })),
        e.app.gql_as(Some(&bob), q, json!({ "a": "Bob's answer" }))
    );
    let (r1, r2) = (r1.json(), r2.json());
    let winners: Vec<&Value> = [&r1, &r2]
        .into_iter()
        .filter(|r| r.get("errors").is_none())
        .collect();
    let losers: Vec<&Value> = [&r1, &r2]
        .into_iter()
        .filter(|r| r.get("errors").is_some())
        .collect();
    assert_eq!((winners.len(), losers.len()), (1, 1), "{r1} {r2}");
    let loser = losers[0];
    assert_eq!(error_code(loser), "CONFLICT");
    assert_eq!(loser["errors"][0]["extensions"]["currentVersion"], 2);
    assert_eq!(
        loser["errors"][0]["extensions"]["fields"],
        json!(["answer"])
    );
    let answer = e
        .app
        .data("{ article(id: \"118109\") { answer version } }", json!({}))
        .await;
    assert_eq!(
        answer["article"]["answer"],
        winners[0]["data"]["updateAnswer"]["answer"]
    );
    assert_eq!(answer["article"]["version"], 2);
}

#[tokio::test]
async fn a_score_change_does_not_block_an_answer_edit() {
    let e = editors().await;
    ok(&as_editor(
        &e.app,
        &e.admin,
        "mutation { setScore(id: \"118109\", score: 4.5, expectedVersion: 1) { version } }",
        json!({}),
    )
    .await);
    let r = as_editor(&e.app, &e.editor, "mutation { updateAnswer(id: \"118109\", answer: \"Fixed\", expectedVersion: 1) { version answer score } }", json!({})).await;
    assert_eq!(
        ok(&r)["updateAnswer"],
        json!({ "version": 3, "answer": "Fixed", "score": 4.5 })
    );
    // But a second answer edit from version 1 now conflicts.
    let r = as_editor(&e.app, &e.admin, "mutation { updateAnswer(id: \"118109\", answer: \"Other\", expectedVersion: 1) { version } }", json!({})).await;
    assert_eq!(error_code(&r), "CONFLICT");
    assert_eq!(r["errors"][0]["extensions"]["fields"], json!(["answer"]));
}

#[tokio::test]
async fn a_stale_full_form_never_undoes_another_editors_change() {
    let e = editors().await;
    let form = e
        .app
        .data("{ article(id: \"118109\") { title articleTitle question answer dateFormat postOnText author seo { title description keywords } } }", json!({}))
        .await["article"]
        .clone();
    ok(&as_editor(&e.app, &e.admin, "mutation { updateArticle(id: \"118109\", input: { title: \"Admin's title\" }, expectedVersion: 1) { version } }", json!({})).await);
    let mut input = form.clone();
    input["answer"] = json!("Alice's answer");
    let r = as_editor(
        &e.app,
        &e.editor,
        "mutation($i: ArticleInput!) { updateArticle(id: \"118109\", input: $i, expectedVersion: 1) { version title answer question } }",
        json!({ "i": input }),
    )
    .await;
    let a = &ok(&r)["updateArticle"];
    assert_eq!(a["title"], "Admin's title", "kept");
    assert_eq!(a["answer"], "Alice's answer");
    assert_eq!(a["question"], form["question"]);
    assert_eq!(a["version"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_increments_add_exactly_two_hundred() {
    let e = editors().await;
    let app = std::sync::Arc::new(e.app);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let app = app.clone();
        let token = e.editor.clone();
        tasks.push(tokio::spawn(async move {
            app.gql_as(
                Some(&token),
                "mutation { adjustScore(id: \"118109\", delta: 1) { score } }",
                json!({}),
            )
            .await
            .json()
        }));
    }
    for task in tasks {
        let r = task.await.expect("task");
        assert!(r.get("errors").is_none(), "{r}");
    }
    let r = as_editor(
        &app,
        &e.editor,
        "{ article(id: \"118109\") { score version revisions { totalCount } } }",
        json!({}),
    )
    .await;
    let d = ok(&r);
    assert_eq!(
        d["article"]["score"], 200.0,
        "an unscored article starts from 0"
    );
    assert_eq!(d["article"]["version"], 201);
    assert_eq!(d["article"]["revisions"]["totalCount"], 201);
}

#[tokio::test]
async fn invalid_edits_are_refused_with_the_field_and_nothing_written() {
    let e = editors().await;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "mutation($i: ArticleInput!) { updateArticle(id: \"118109\", input: $i, expectedVersion: 1) { version } }",
            json!({ "i": { "title": "  " } }),
            "BAD_USER_INPUT",
            "title",
        ),
        (
            "mutation($i: ArticleInput!) { updateArticle(id: \"118109\", input: $i, expectedVersion: 1) { version } }",
            json!({ "i": { "question": "" } }),
            "BAD_USER_INPUT",
            "question",
        ),
        (
            "mutation($i: ArticleInput!) { updateArticle(id: \"118109\", input: $i, expectedVersion: 1) { version } }",
            json!({ "i": { "slug": "../etc/passwd" } }),
            "BAD_USER_INPUT",
            "slug",
        ),
        (
            "mutation($i: ArticleInput!) { updateArticle(id: \"118109\", input: $i, expectedVersion: 1) { version } }",
            json!({ "i": { "seo": { "keywords": ["a, b"] } } }),
            "BAD_USER_INPUT",
            "seo.keywords",
        ),
        (
            "mutation($a: String!) { updateAnswer(id: \"118109\", answer: $a, expectedVersion: 1) { version } }",
            json!({ "a": "x".repeat(100_001) }),
            "BAD_USER_INPUT",
            "answer",
        ),
        (
            "mutation { updateAnswer(id: \"118109\", answer: \"x\", expectedVersion: 7) { version } }",
            json!({}),
            "BAD_USER_INPUT",
            "expectedVersion",
        ),
        (
            "mutation { setRelated(id: \"118109\", related: [\"424242\"], expectedVersion: 1) { version } }",
            json!({}),
            "BAD_USER_INPUT",
            "related",
        ),
        (
            "mutation { setRelated(id: \"118109\", related: [\"118109\"], expectedVersion: 1) { version } }",
            json!({}),
            "BAD_USER_INPUT",
            "related",
        ),
        (
            "mutation { setRelated(id: \"118109\", related: [\"118085\", \"118085\"], expectedVersion: 1) { version } }",
            json!({}),
            "BAD_USER_INPUT",
            "related",
        ),
        (
            "mutation($r: [ID!]!) { setRelated(id: \"118109\", related: $r, expectedVersion: 1) { version } }",
            json!({ "r": (1..=11).map(|i| i.to_string()).collect::<Vec<_>>() }),
            "BAD_USER_INPUT",
            "related",
        ),
        (
            "mutation { adjustScore(id: \"118109\", delta: 1.7e308) { version } }",
            json!({}),
            "",
            "",
        ),
        (
            "mutation { adjustScore(id: \"118109\", delta: 1.7e308) { version } }",
            json!({}),
            "BAD_USER_INPUT",
            "delta",
        ),
        (
            "mutation { updateAnswer(id: \"999\", answer: \"x\", expectedVersion: 1) { version } }",
            json!({}),
            "NOT_FOUND",
            "",
        ),
        (
            "mutation { createArticle(input: { id: \"118109\", title: \"T\", question: \"Q\", answer: \"A\", subject: \"S\" }) { id } }",
            json!({}),
            "BAD_USER_INPUT",
            "id",
        ),
        (
            "mutation { createArticle(input: { title: \"T\", question: \"Q\", answer: \"A\", subject: \"S\", slug: \"what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients\" }) { id } }",
            json!({}),
            "BAD_USER_INPUT",
            "slug",
        ),
    ];
    for (query, vars, code, field) in cases {
        let before = e.app.t.snapshot().await;
        let r = as_editor(&e.app, &e.admin, query, vars).await;
        if code.is_empty() {
            ok(&r);
            continue;
        }
        assert_eq!(error_code(&r), code, "{query}: {r}");
        if !field.is_empty() {
            assert_eq!(r["errors"][0]["extensions"]["field"], field, "{query}: {r}");
        }
        assert!(
            !r["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
        assert_eq!(e.app.t.snapshot().await, before, "{query}: nothing written");
    }
}

#[tokio::test]
async fn set_related_links_loaded_or_already_linked_articles() {
    let e = editors().await;
    let r = as_editor(
        &e.app,
        &e.editor,
        "mutation { createArticle(input: { id: \"500\", title: \"Liver ultrasound basics\", question: \"How?\", answer: \"Like this.\", subject: \"Radiology\", related: [\"118109\"] }) {
            id slug url version subject { name slug } related { targetId title article { id } } } }",
        json!({}),
    )
    .await;
    let a = &ok(&r)["createArticle"];
    assert_eq!(a["slug"], "liver-ultrasound-basics");
    assert_eq!(
        a["url"],
        "/learn/radiology/questions/liver-ultrasound-basics"
    );
    assert_eq!(a["version"], 1);
    assert_eq!(a["related"][0]["article"]["id"], ID);
    // 118085 is linked but not loaded: kept; 500 is loaded: linked.
    let r = as_editor(&e.app, &e.editor, "mutation { setRelated(id: \"118109\", related: [\"500\", \"118085\"], expectedVersion: 1) { related { position targetId title article { id } } } }", json!({})).await;
    assert_eq!(
        ok(&r)["setRelated"]["related"],
        json!([
            { "position": 1, "targetId": "500", "title": "Liver ultrasound basics", "article": { "id": "500" } },
            { "position": 2, "targetId": "118085", "title": "How is PET-CT used in the diagnosis and management of HCC?", "article": null }
        ])
    );
    let d = e
        .app
        .data(
            "{ article(id: \"500\") { relatedFrom { nodes { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["article"]["relatedFrom"]["nodes"], json!([{ "id": ID }]));
}

#[tokio::test]
async fn graphql_edits_survive_the_seed_job_and_export_only_their_lines() {
    let e = editors().await;
    let r = as_editor(&e.app, &e.editor, "mutation { updateAnswer(id: \"118109\", answer: \"Edited **answer**.\\n\\nSecond paragraph.\", expectedVersion: 1) { version } }", json!({})).await;
    ok(&r);
    e.app.import(&quicktakes_tests::seeds_dir()).await;
    let d = e
        .app
        .data("{ article(id: \"118109\") { answer version } }", json!({}))
        .await;
    assert_eq!(
        d["article"]["answer"], "Edited **answer**.\n\nSecond paragraph.",
        "kept over the unchanged seed"
    );
    assert_eq!(d["article"]["version"], 2);

    let out = e.app.t.path("out");
    quicktakes::seed::export::export_corpus(
        &e.app.t.db,
        &out,
        &quicktakes::progress::Progress::silent(),
    )
    .await
    .expect("export");
    let exported = std::fs::read_to_string(
        out.join("what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md"),
    )
    .expect("file");
    let original = quicktakes_tests::real_seed_text();
    let differing: Vec<(&str, &str)> = original
        .lines()
        .zip(exported.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
    assert_eq!(
        differing[0].1,
        "    Edited **answer**.\\n\\nSecond paragraph."
    );
    assert_eq!(original.lines().count(), exported.lines().count());
}

#[tokio::test]
async fn subscribers_see_each_change() {
    use futures_util::StreamExt;
    let e = editors().await;
    let mut stream = e
        .app
        .api
        .execute_stream(e.app.anonymous(async_graphql::Request::new(
            "subscription { articleChanged(id: \"118109\") { title version } }",
        )));
    // The first poll subscribes; nothing has changed yet, so it times out.
    let early = tokio::time::timeout(std::time::Duration::from_millis(20), stream.next()).await;
    assert!(early.is_err(), "no event before a change");
    ok(&as_editor(&e.app, &e.editor, "mutation { updateArticle(id: \"118109\", input: { title: \"Live\" }, expectedVersion: 1) { version } }", json!({})).await);
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open");
    let data = event.data.into_json().expect("json");
    assert_eq!(
        data["articleChanged"],
        json!({ "title": "Live", "version": 2 })
    );
}

#[tokio::test]
async fn a_writer_that_cannot_get_the_sqlite_lock_gets_busy_and_nothing_is_lost() {
    let t = quicktakes_tests::TestDb::with_options(|o| {
        o.busy_timeout = std::time::Duration::from_millis(200);
    })
    .await;
    if t.is_postgres() {
        // PostgreSQL writers wait on row locks; there is no file lock to miss.
        return;
    }
    let app = TestApp::over(t, Default::default());
    app.import(&quicktakes_tests::seeds_dir()).await;
    let token = app.token("alice", Role::Editor).await;
    // Another process's long write (the import job, say) holds the lock.
    let other = quicktakes::db::connect(&quicktakes::db::DbOptions::new(&app.t.url))
        .await
        .expect("second pool");
    let blocker = quicktakes::db::begin_write(&other).await.expect("lock");
    let q = "mutation { setScore(id: \"118109\", score: 5, expectedVersion: 1) { score } }";
    let r = app.gql_as(Some(&token), q, json!({})).await.json();
    assert_eq!(error_code(&r), "BUSY", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("retry later")
    );
    assert!(
        !r.to_string().contains("locked"),
        "no database text reaches the client: {r}"
    );
    drop(blocker);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let r = app.gql_as(Some(&token), q, json!({})).await.json();
    assert_eq!(ok(&r)["setScore"]["score"], 5.0, "the retry goes through");
}

#[tokio::test]
async fn revision_history_is_for_editors_only() {
    let e = editors().await;
    ok(&as_editor(
        &e.app,
        &e.editor,
        "mutation { updateAnswer(id: \"118109\", answer: \"Alice's secret draft\", expectedVersion: 1, note: \"private note\") { version } }",
        json!({}),
    )
    .await);
    let history = "{ article(id: \"118109\") { title revisions { totalCount nodes { version editor note at changes { field before after } } } } }";
    // Every way to reach an article's history, anonymously.
    for q in [
        history,
        "{ articles(first: 5) { nodes { id revisions { nodes { editor note } } } } }",
        "{ search(query: \"imaging\", first: 5) { edges { node { revisions { nodes { editor changes { before } } } } } } }",
        "{ article(id: \"118109\") { revisions(first: 1) { totalCount } } }",
    ] {
        let r = e.app.gql_as(None, q, json!({})).await.json();
        assert_eq!(error_code(&r), "FORBIDDEN", "{q}: {r}");
        let message = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("token") && message.contains("Authorization: Bearer"),
            "says what is needed: {message}"
        );
        assert!(r["errors"][0]["path"][0].is_string(), "{r}");
        let text = r.to_string();
        for secret in [
            "alice",
            "private note",
            "secret draft",
            "created from",
            "totalCount",
            "\"import\"",
        ] {
            assert!(!text.contains(secret), "{q} leaks `{secret}`: {text}");
        }
    }
    // Reading the article without its history needs no token.
    let r = e
        .app
        .gql_as(
            None,
            "{ article(id: \"118109\") { title version } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(ok(&r)["article"]["version"], 2);

    // Either role reads it.
    for token in [&e.editor, &e.admin] {
        let r = as_editor(&e.app, token, history, json!({})).await;
        let revisions = &ok(&r)["article"]["revisions"];
        assert_eq!(revisions["totalCount"], 2);
        assert_eq!(revisions["nodes"][0]["editor"], "alice");
        assert_eq!(revisions["nodes"][0]["note"], "private note");
        assert_eq!(revisions["nodes"][1]["editor"], "import");
        assert_eq!(
            revisions["nodes"][1]["note"],
            "created from what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md",
            "the file relative to the import root, no server path"
        );
    }
}

#[tokio::test]
async fn set_related_and_create_article_keep_the_same_related_rules() {
    let e = editors().await;
    let before = e.app.t.snapshot().await;
    let message = |r: &Value| {
        r["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let set = "mutation($r: [ID!]!) { setRelated(id: \"118109\", related: $r, expectedVersion: 1) { version } }";
    let create = "mutation($r: [ID!]!) { createArticle(input: { id: \"9000\", title: \"T\", question: \"Q?\", answer: \"A\", subject: \"Medicine\", related: $r }) { id } }";
    for (query, own) in [(set, "118109"), (create, "9000")] {
        let cases = [
            (
                json!([own]),
                format!("article {own} cannot be related to itself"),
            ),
            (
                json!(["118085", "118085"]),
                "article 118085 is listed twice".to_owned(),
            ),
            (
                json!((1..=11).map(|i| i.to_string()).collect::<Vec<_>>()),
                "11 related articles given; at most 10 are allowed".to_owned(),
            ),
        ];
        for (related, expected) in cases {
            let r = as_editor(&e.app, &e.editor, query, json!({ "r": related })).await;
            assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
            assert_eq!(r["errors"][0]["extensions"]["field"], "related", "{r}");
            assert_eq!(message(&r), expected, "{r}");
        }
    }
    assert_eq!(e.app.t.snapshot().await, before, "nothing was written");
}
