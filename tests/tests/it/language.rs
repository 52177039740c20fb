//! The `language` field end to end: seed key `lang`, validation, the
//! default, editors' changes with revisions and revert, and export.

use quicktakes::progress::Progress;
use quicktakes::seed::export::export_corpus;
use quicktakes::seed::import::{ImportOptions, import_corpus};
use quicktakes::service::token::Role;
use quicktakes_tests::{TestApp, TestDb, error_code, real_seed_text};
use serde_json::{Value, json};

const FILE: &str = "what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md";
const LANG_AFTER: &str = "post_on_text: Posted on\n";

/// The real seed with `line` added after `post_on_text`.
fn seed_with_line(line: &str) -> String {
    let seed = real_seed_text();
    assert!(seed.contains(LANG_AFTER));
    seed.replacen(LANG_AFTER, &format!("{LANG_AFTER}{line}"), 1)
}

/// An application with `seed` imported from its own folder.
async fn app_with(seed: &str) -> TestApp {
    let app = TestApp::new().await;
    let dir = app.t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(FILE), seed).expect("write");
    app.import(&dir).await;
    app
}

async fn exported(t: &TestDb, dir: &str) -> String {
    let out = t.path(dir);
    export_corpus(&t.db, &out, &Progress::silent())
        .await
        .expect("export runs");
    std::fs::read_to_string(out.join(FILE)).expect("exported file")
}

async fn language(app: &TestApp) -> Value {
    app.data("{ article(id: \"118109\") { language } }", json!({}))
        .await["article"]["language"]
        .clone()
}

async fn update_language(app: &TestApp, token: &str, tag: &str, version: i64) -> Value {
    app.gql_as(
        Some(token),
        "mutation($l: String!, $v: Int!) { updateArticle(id: \"118109\", input: { language: $l }, expectedVersion: $v) { version language } }",
        json!({ "l": tag, "v": version }),
    )
    .await
    .json()
}

fn ok(r: &Value) -> &Value {
    assert!(r.get("errors").is_none(), "{r:#}");
    &r["data"]
}

#[tokio::test]
async fn a_seed_without_lang_is_english_and_exports_without_lang() {
    let app = TestApp::with_seeds().await;
    assert_eq!(language(&app).await, "en");
    let text = exported(&app.t, "out").await;
    assert_eq!(text, real_seed_text(), "byte for byte");
    assert!(!text.contains("\nlang:"));
}

#[tokio::test]
async fn a_seed_with_lang_imports_reads_back_and_exports_byte_for_byte() {
    let seed = seed_with_line("lang: pt-BR\n");
    let app = app_with(&seed).await;
    assert_eq!(language(&app).await, "pt-BR");
    assert_eq!(exported(&app.t, "out").await, seed);
}

#[tokio::test]
async fn an_invalid_lang_is_refused_at_its_line_and_nothing_is_written() {
    let t = TestDb::new().await;
    let dir = t.path("bad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (i, tag) in ["pt_BR", "\"\"", "en-", "abcdefghi"].iter().enumerate() {
        std::fs::write(
            dir.join(format!("{i}.md")),
            seed_with_line(&format!("lang: {tag}\n")),
        )
        .expect("write");
    }
    let before = t.snapshot().await;
    let options = ImportOptions {
        paths: vec![dir],
        ..Default::default()
    };
    let report = import_corpus(&t.db, &options, &Progress::silent())
        .await
        .expect("import runs");
    assert_eq!(report.invalid_files, 4, "{:?}", report.problems);
    assert!(!report.written);
    let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    for line in &lines {
        // The line after `post_on_text` (line 10), column 1.
        assert!(line.contains(".md:11:1: `lang` `"), "{line}");
        assert!(line.contains("is not a BCP 47 language tag"), "{line}");
    }
    assert_eq!(t.snapshot().await, before, "nothing was written");
}

#[tokio::test]
async fn editors_change_the_language_with_a_revision_and_revert_it() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    let r = update_language(&app, &token, "pt-BR", 1).await;
    assert_eq!(
        ok(&r)["updateArticle"],
        json!({ "version": 2, "language": "pt-BR" })
    );
    let history = app
        .gql_as(
            Some(&token),
            "{ article(id: \"118109\") { revisions(first: 1) { nodes { version changes { field before after } } } } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(
        ok(&history)["article"]["revisions"]["nodes"][0],
        json!({ "version": 2, "changes": [{ "field": "language", "before": "\"en\"", "after": "\"pt-BR\"" }] })
    );
    // The export adds the `lang` line, in the file's style, and nothing else.
    assert_eq!(
        exported(&app.t, "edited").await,
        seed_with_line("lang: pt-BR\n")
    );

    let r = app
        .gql_as(
            Some(&token),
            "mutation { revertArticle(id: \"118109\", toVersion: 1, expectedVersion: 2) { version language } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(
        ok(&r)["revertArticle"],
        json!({ "version": 3, "language": "en" })
    );
    assert_eq!(exported(&app.t, "reverted").await, real_seed_text());
}

#[tokio::test]
async fn an_edit_of_a_set_lang_rewrites_its_line() {
    let app = app_with(&seed_with_line("lang: pt-BR\n")).await;
    let token = app.token("alice", Role::Editor).await;
    let r = update_language(&app, &token, "de-CH", 1).await;
    assert_eq!(ok(&r)["updateArticle"]["language"], "de-CH");
    assert_eq!(
        exported(&app.t, "out").await,
        seed_with_line("lang: de-CH\n")
    );
}

#[tokio::test]
async fn an_invalid_language_edit_is_refused_and_nothing_is_written() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    let before = app.t.snapshot().await;
    for bad in ["pt_BR", "", "en--US", "x"] {
        let r = update_language(&app, &token, bad, 1).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{bad}: {r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], "language", "{r}");
        assert_eq!(r["data"], Value::Null, "{r}");
    }
    assert_eq!(app.t.snapshot().await, before);
    assert_eq!(language(&app).await, "en");
}

#[tokio::test]
async fn created_articles_are_english_and_export_without_lang() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    let r = app
        .gql_as(
            Some(&token),
            "mutation { createArticle(input: { id: \"7\", title: \"New one\", question: \"Q?\", answer: \"A\", subject: \"Medicine\" }) { language fileName } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(
        ok(&r)["createArticle"],
        json!({ "language": "en", "fileName": "new-one.md" })
    );
    let out = app.t.path("out");
    export_corpus(&app.t.db, &out, &Progress::silent())
        .await
        .expect("export runs");
    let text = std::fs::read_to_string(out.join("new-one.md")).expect("exported");
    assert!(!text.contains("\nlang:"), "{text}");
}
