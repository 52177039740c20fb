//! Search input bounds (SPEC §5): duplicate terms dropped, only the first 32
//! terms and 256 characters used, and any text a valid query that answers
//! promptly, however long.

use futures_util::future::join_all;
const MAX_TERMS: usize = quicktakes::limits::Limits::DEFAULT.search_terms;
const MAX_QUERY_CHARS: usize = quicktakes::limits::Limits::DEFAULT.search_chars;
use quicktakes::service::token::Role;
use quicktakes_tests::{TestApp, TestDb, error_code};
use serde_json::{Value, json};

const SEARCH: &str =
    "query($q: String!) { search(query: $q) { totalCount edges { node { id } rank snippet } } }";

/// A word no article holds: every word of a query must match, so any query
/// that still searches it finds nothing.
const ABSENT: &str = "zzabsent";

/// `search(query: q)`; panics on any error.
async fn search(app: &TestApp, q: &str) -> Value {
    app.data(SEARCH, json!({ "q": q })).await["search"].clone()
}

async fn total(app: &TestApp, q: &str) -> u64 {
    search(app, q).await["totalCount"]
        .as_u64()
        .expect("totalCount")
}

/// 39 distinct short words, `qa01`…`qa39`.
fn fillers() -> Vec<String> {
    (1..=39).map(|i| format!("qa{i:02}")).collect()
}

/// An application holding one article whose answer has every filler word.
async fn app_with_fillers() -> TestApp {
    let app = TestApp::new().await;
    let token = app.token("bounds", Role::Editor).await;
    let r = app
        .gql_as(
            Some(&token),
            "mutation($a: String!) { createArticle(input: { title: \"Fillers\", question: \"Which words?\", answer: $a, subject: \"Testing\" }) { id } }",
            json!({ "a": fillers().join(" ") }),
        )
        .await;
    assert!(r.json().get("errors").is_none(), "{}", r.text());
    assert_eq!(total(&app, &fillers().join(" ")).await, 1);
    assert_eq!(total(&app, ABSENT).await, 0);
    app
}

/// 40 distinct terms: the fillers with [`ABSENT`] as term number `position`.
fn forty_terms_with_absent_at(position: usize) -> String {
    let mut terms = fillers();
    terms.insert(position - 1, ABSENT.to_owned());
    assert_eq!(terms.len(), 40);
    let query = terms.join(" ");
    assert!(
        query.chars().count() <= MAX_QUERY_CHARS,
        "the char cap stays out of the way"
    );
    query
}

#[tokio::test]
async fn only_the_first_32_terms_are_searched() {
    assert_eq!(MAX_TERMS, 32);
    let app = app_with_fillers().await;
    for position in [3, 32] {
        let q = forty_terms_with_absent_at(position);
        assert_eq!(total(&app, &q).await, 0, "term {position} is searched");
    }
    for position in [33, 35] {
        let q = forty_terms_with_absent_at(position);
        assert_eq!(total(&app, &q).await, 1, "term {position} is ignored");
    }
}

#[tokio::test]
async fn duplicate_terms_change_nothing_and_use_none_of_the_term_cap() {
    let app = app_with_fillers().await;
    assert_eq!(
        search(&app, "QA01 qa01 Qa01 qa02 QA02 qa01").await,
        search(&app, "qa01 qa02").await
    );
    // 40 copies of one term, in mixed case, then the absent word: were the
    // copies counted, it would be term 41 and ignored.
    let copies: Vec<&str> = ["qa01", "QA01", "Qa01", "qA01"]
        .into_iter()
        .cycle()
        .take(40)
        .collect();
    let q = format!("{} {ABSENT}", copies.join(" "));
    assert!(q.chars().count() <= MAX_QUERY_CHARS);
    assert_eq!(total(&app, &q).await, 0);
}

#[tokio::test]
async fn only_the_first_256_characters_are_read_and_no_word_is_cut() {
    assert_eq!(MAX_QUERY_CHARS, 256);
    let app = app_with_fillers().await;
    // Within the first 256 characters, the absent word is searched.
    let before = format!(
        "qa01{}{ABSENT}",
        "-".repeat(MAX_QUERY_CHARS - 4 - ABSENT.len())
    );
    assert_eq!(before.chars().count(), MAX_QUERY_CHARS);
    assert_eq!(total(&app, &before).await, 0);
    // Past them it is not.
    let after = format!("qa01{} {ABSENT}", "-".repeat(300));
    assert_eq!(total(&app, &after).await, 1);
    // Across the cut it is dropped whole: searching the fragment `zzab`
    // (or the whole word) would find nothing.
    let across = format!("qa01{}{ABSENT}", " ".repeat(MAX_QUERY_CHARS - 4 - 4));
    assert_eq!(total(&app, &across).await, 1);
    // Characters, not bytes: 100 three-byte separators (300 bytes) still
    // leave room for the absent word.
    let wide = format!("qa01 {} {ABSENT}", "—".repeat(100));
    assert!(wide.len() > MAX_QUERY_CHARS);
    assert_eq!(total(&app, &wide).await, 0);
}

#[tokio::test]
async fn forty_kilobyte_queries_answer_promptly_with_a_valid_result() {
    let app = TestApp::with_seeds().await;
    let imaging = search(&app, "imaging").await;
    assert_eq!(imaging["totalCount"], 1);
    let repeated = "x ".repeat(20_000);
    assert_eq!(repeated.len(), 40_000);
    let r = search(&app, &repeated).await;
    assert!(r["totalCount"].is_u64(), "{r}");
    // 40 KB of one real word finds what the word finds.
    assert_eq!(search(&app, &"imaging ".repeat(5_000)).await, imaging);
    // 40 KB of distinct words, syntax and unicode: a valid, prompt answer.
    let mixed: String = (0..4_000)
        .map(|i| format!("w{i}\"*( é{i} "))
        .collect::<String>()
        .chars()
        .take(40_000)
        .collect();
    let r = search(&app, &mixed).await;
    assert_eq!(r["totalCount"], 0, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_huge_searches_leaves_readers_and_editors_served() {
    let t = TestDb::new().await;
    let app = TestApp::with_read_pool(t, Default::default(), |_| {}).await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    let token = app.token("flood", Role::Editor).await;
    let huge = "x ".repeat(20_000);
    let searches = (0..8).map(|_| app.gql(SEARCH, json!({ "q": huge })));
    let reads = (0..4).map(|_| {
        app.gql(
            "{ article(id: \"118109\") { title subject { name } } }",
            json!({}),
        )
    });
    let editors = (0..2).map(|_| {
        app.gql_as(
            Some(&token),
            "{ article(id: \"118109\") { title } }",
            json!({}),
        )
    });
    let (searches, reads, editors) =
        futures_util::join!(join_all(searches), join_all(reads), join_all(editors));
    for r in reads {
        assert_eq!(error_code(&r), "", "anonymous read: {r}");
        assert!(r["data"]["article"]["subject"]["name"].is_string(), "{r}");
    }
    for r in editors {
        assert_eq!(r.status, 200, "editor: {}", r.text());
        assert!(r.json().get("errors").is_none(), "editor: {}", r.text());
    }
    for r in searches {
        assert!(r.get("errors").is_none(), "search: {r}");
        assert!(r["data"]["search"]["totalCount"].is_u64(), "{r}");
    }
}
