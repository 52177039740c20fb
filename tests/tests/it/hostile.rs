//! Hostile requests: each is refused by the limit meant for it, with a
//! small reply, and the server answers a normal query right after.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use quicktakes::http::{HttpConfig, Limits};
use quicktakes_tests::{TestApp, TestResponse, error_code};
use serde_json::{Value, json};

const GRJ: &str = "application/graphql-response+json";

async fn post_raw(app: &TestApp, body: impl Into<Body>) -> TestResponse {
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept", GRJ)
        .body(body.into())
        .expect("request");
    app.send(request).await
}

async fn post_query(app: &TestApp, query: &str) -> TestResponse {
    post_raw(app, json!({ "query": query }).to_string()).await
}

/// The reply is small and the server still serves a normal query.
async fn still_serving(app: &TestApp, reply: &TestResponse) {
    assert!(
        reply.body.len() < 4096,
        "small reply: {} bytes",
        reply.body.len()
    );
    let d = app
        .data("{ article(id: \"118109\") { title } }", json!({}))
        .await;
    assert!(d["article"]["title"].is_string());
}

fn limit(r: &TestResponse) -> String {
    let v = r.json();
    assert_eq!(error_code(&v), "QUERY_LIMIT", "{v}");
    assert!(v.get("data").is_none(), "refused before it ran: {v}");
    v["errors"][0]["extensions"]["limit"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn cyclic(depth: usize) -> String {
    let mut q = String::from("title");
    for _ in 0..depth {
        q = format!("related {{ article {{ {q} }} }}");
    }
    format!("{{ article(id: \"118109\") {{ {q} }} }}")
}

#[tokio::test]
async fn a_30_deep_cyclic_query_is_refused_by_depth() {
    let app = TestApp::with_seeds().await;
    let r = post_query(&app, &cyclic(15)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(limit(&r), "depth");
    still_serving(&app, &r).await;
}

#[tokio::test]
async fn a_wide_related_graph_is_refused_by_complexity() {
    let app = TestApp::with_seeds().await;
    let q = "{ articles(first: 100) { nodes { related { article { related { article { related { article { title } } } } } } } } }";
    let r = post_query(&app, q).await;
    assert_eq!(limit(&r), "complexity");
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("5000")
    );
    still_serving(&app, &r).await;
}

#[tokio::test]
async fn eight_hundred_aliases_are_refused_by_the_alias_limit() {
    // 800 aliased fields fit the token budget; more are refused by it first.
    let app = TestApp::with_seeds().await;
    let fields: String = (0..800)
        .map(|i| format!("a{i}: article(id: \"118109\") {{ title }} "))
        .collect();
    let r = post_query(&app, &format!("{{ {fields} }}")).await;
    assert_eq!(limit(&r), "aliases");
    still_serving(&app, &r).await;
}

#[tokio::test]
async fn sixty_typename_aliases_hit_only_the_alias_limit() {
    let app = TestApp::with_seeds().await;
    let fields: String = (0..60).map(|i| format!("t{i}: __typename ")).collect();
    let r = post_query(&app, &format!("{{ {fields} }}")).await;
    assert_eq!(limit(&r), "aliases");
    let fields: String = (0..50).map(|i| format!("t{i}: __typename ")).collect();
    let ok = post_query(&app, &format!("{{ {fields} }}")).await;
    assert_eq!(ok.status, StatusCode::OK, "50 are allowed: {}", ok.text());
    still_serving(&app, &r).await;
}

#[tokio::test]
async fn a_thousand_directives_on_one_field_are_refused() {
    // A thousand fit the token budget; more are refused by it first.
    let app = TestApp::with_seeds().await;
    let q = format!(
        "{{ article(id: \"118109\") {{ title {} }} }}",
        "@skip(if: false) ".repeat(1_000)
    );
    let r = post_query(&app, &q).await;
    assert_eq!(limit(&r), "directives");
    still_serving(&app, &r).await;
}

#[tokio::test]
async fn a_5_mib_body_is_413() {
    let app = TestApp::with_seeds().await;
    let body = format!(
        "{{\"query\": \"{{ __typename }}\", \"variables\": {{\"x\": \"{}\"}}}}",
        "a".repeat(5 * 1024 * 1024)
    );
    let r = post_raw(&app, body).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.header("cache-control"), "private, no-store");
    still_serving(&app, &r).await;
}

#[tokio::test]
async fn a_200_operation_batch_is_refused_by_the_batch_limit() {
    let app = TestApp::with_seeds().await;
    let batch: Vec<Value> = (0..200)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let r = post_raw(&app, Value::from(batch).to_string()).await;
    assert_eq!(limit(&r), "batch");
    let batch: Vec<Value> = (0..10)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let ok = post_raw(&app, Value::from(batch).to_string()).await;
    assert_eq!(ok.status, StatusCode::OK, "10 are allowed");
    still_serving(&app, &r).await;
}

#[tokio::test]
async fn fragment_cycles_are_refused_without_running() {
    let app = TestApp::with_seeds().await;
    for q in [
        "{ article(id: \"118109\") { ...A } } fragment A on Article { related { article { ...A } } }",
        "{ ...Q } fragment Q on Query { ...R } fragment R on Query { ...Q }",
        "{ __typename } fragment A on Query { ...A }",
    ] {
        let r = post_query(&app, q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.text());
        assert!(r.json().get("data").is_none());
        assert!(
            r.text().contains("spreads itself") || r.text().contains("fragment"),
            "{}",
            r.text()
        );
        still_serving(&app, &r).await;
    }
}

#[tokio::test]
async fn malformed_json_invalid_utf8_and_unknown_fields_are_400() {
    let app = TestApp::with_seeds().await;
    for body in [
        b"{\"query\": \"{ __typ".to_vec(),
        b"{\"query\": \"{ \xff\xfe }\"}".to_vec(),
    ] {
        let r = post_raw(&app, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert_eq!(error_code(&r.json()), "BAD_USER_INPUT");
        still_serving(&app, &r).await;
    }
    let r = post_query(&app, "{ article(id: \"118109\") { title secretField } }").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("secretField"));
    still_serving(&app, &r).await;
}

#[tokio::test]
async fn search_syntax_is_taken_literally() {
    let app = TestApp::with_seeds().await;
    for text in [
        "imaging\" OR 1=1 --",
        "NEAR(imaging HCC, 2)",
        "answer_text:imaging",
        "*",
        "imag*",
        "\u{0}",
        "(((((",
    ] {
        let r = app
            .gql(
                "query($q: String!) { search(query: $q) { totalCount } }",
                json!({ "q": text }),
            )
            .await;
        assert!(r.get("errors").is_none(), "{text:?}: {r}");
    }
}

#[tokio::test]
async fn page_sizes_over_100_are_bad_input() {
    let app = TestApp::with_seeds().await;
    let r = app
        .gql("{ articles(first: 1000) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert_eq!(r["errors"][0]["extensions"]["field"], "first");
}

#[tokio::test]
async fn a_request_over_its_time_is_stopped() {
    let config = HttpConfig {
        limits: Limits {
            request_timeout_ms: 0,
            ..Limits::default()
        },
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    let r = post_query(&app, "{ articles { nodes { title } } }").await;
    assert_eq!(limit(&r), "timeout");
}

#[tokio::test]
async fn every_limit_is_configurable() {
    let config = HttpConfig {
        limits: Limits {
            depth: 3,
            complexity: 40,
            aliases: 2,
            directives: 1,
            batch: 2,
            ..Limits::default()
        },
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    assert_eq!(
        limit(
            &post_query(
                &app,
                "{ article(id: \"1\") { related { article { title } } } }"
            )
            .await
        ),
        "depth"
    );
    assert_eq!(
        limit(&post_query(&app, "{ articles(first: 50) { nodes { title } } }").await),
        "complexity"
    );
    assert_eq!(
        limit(&post_query(&app, "{ a: __typename b: __typename c: __typename }").await),
        "aliases"
    );
    assert_eq!(
        limit(&post_query(&app, "{ __typename @skip(if: false) @include(if: true) }").await),
        "directives"
    );
    let batch: Vec<Value> = (0..3)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    assert_eq!(
        limit(&post_raw(&app, Value::from(batch).to_string()).await),
        "batch"
    );
}
