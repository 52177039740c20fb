//! Cheap requests that used to cost the server dearly, or crash a request:
//! fragment fan-out, oversized documents, crafted cursors, database
//! outages during authentication, and the spec's smaller points (error
//! codes, field order, the bearer scheme).

use async_graphql::Variables;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use quicktakes::service::token::Role;
use quicktakes_tests::{TestApp, TestResponse, error_code, fragment_fan_out};
use serde_json::json;

const GRJ: &str = "application/graphql-response+json";

async fn post(app: &TestApp, auth: Option<&str>, query: &str) -> TestResponse {
    let mut request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept", GRJ);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let body = json!({ "query": query }).to_string();
    app.send(request.body(Body::from(body)).expect("request"))
        .await
}

fn limit_of(v: &serde_json::Value) -> &str {
    v["errors"][0]["extensions"]["limit"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn fragment_fan_out_is_refused_by_complexity_before_validation() {
    let app = TestApp::with_seeds().await;
    for levels in [7, 8] {
        let q = fragment_fan_out(levels);
        assert!(q.len() < 1024, "a cheap request: {} bytes", q.len());
        let r = post(&app, None, &q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        let v = r.json();
        assert_eq!(error_code(&v), "QUERY_LIMIT", "{v}");
        assert_eq!(limit_of(&v), "complexity", "{v}");
        assert!(v.get("data").is_none());
    }
    // Small fan-outs stay legal: the walk does not over-count.
    let d = app.data(&fragment_fan_out(2), json!({})).await;
    assert!(d["article"]["title"].is_string(), "{d}");
}

#[tokio::test]
async fn the_schema_enforces_the_limits_itself_whatever_the_transport() {
    // Straight into the schema, as the WebSocket path goes: no HTTP layer.
    let app = TestApp::with_seeds().await;
    let aliases: String = (0..200).map(|i| format!("a{i}: __typename ")).collect();
    for (query, limit) in [
        (fragment_fan_out(7), "complexity"),
        (format!("{{ {aliases} }}"), "aliases"),
        (
            format!(
                "{{ article(id: \"1\") {{ {}title{} }} }}",
                "related { article { ".repeat(7),
                " } }".repeat(7)
            ),
            "depth",
        ),
        (format!("{{ {} }}", "__typename ".repeat(20_000)), "tokens"),
    ] {
        let response = app
            .api
            .execute(async_graphql::Request::new(query).variables(Variables::default()))
            .await;
        let v = serde_json::to_value(&response).expect("json");
        assert_eq!(error_code(&v), "QUERY_LIMIT", "{v}");
        assert_eq!(limit_of(&v), limit, "{v}");
    }
}

#[tokio::test]
async fn documents_over_the_token_budget_or_nesting_are_refused_unparsed() {
    let app = TestApp::with_seeds().await;
    let wide = format!("{{ {} }}", "__typename ".repeat(20_000));
    let r = post(&app, None, &wide).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(limit_of(&r.json()), "tokens", "{}", r.text());
    // Deep enough to overflow a recursive parser's stack.
    let deep = format!("{}{}", "{ a ".repeat(5_000), "}".repeat(5_000));
    let r = post(&app, None, &deep).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(limit_of(&r.json()), "depth", "{}", r.text());
    // The same over GET (short names, so the URI stays within bounds).
    let wide = format!("{{ {} }}", "a ".repeat(10_001));
    let uri = format!(
        "/graphql?{}",
        serde_urlencoded::to_string([("query", &wide)]).expect("encode")
    );
    let r = app
        .send(
            Request::get(uri)
                .header("accept", GRJ)
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(limit_of(&r.json()), "tokens", "{}", r.text());
}

#[tokio::test]
async fn parse_and_validation_errors_carry_their_codes() {
    let app = TestApp::with_seeds().await;
    let r = post(&app, None, "{ article(id: ").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&r.json()),
        "GRAPHQL_PARSE_FAILED",
        "{}",
        r.text()
    );
    let r = post(&app, None, "{ article(id: \"118109\") { noSuchField } }").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let v = r.json();
    assert_eq!(error_code(&v), "GRAPHQL_VALIDATION_FAILED", "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("noSuchField"))
    );
    let r = post(
        &app,
        None,
        "{ ...Q } fragment Q on Query { ...R } fragment R on Query { ...Q }",
    )
    .await;
    assert_eq!(
        error_code(&r.json()),
        "GRAPHQL_VALIDATION_FAILED",
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn response_fields_come_in_selection_order() {
    let app = TestApp::with_seeds().await;
    let r = post(
        &app,
        None,
        "{ zeta: article(id: \"118109\") { version title id subject { slug name } } alpha: __typename }",
    )
    .await;
    let text = r.text();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} in {text}"))
    };
    assert!(at("\"zeta\"") < at("\"alpha\""), "{text}");
    assert!(at("\"version\"") < at("\"title\""), "{text}");
    assert!(at("\"title\"") < at("\"id\""), "{text}");
    assert!(at("\"slug\"") < at("\"name\""), "{text}");
}

fn cursor(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn crafted_cursors_are_bad_input_and_every_request_gets_an_answer() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    let bearer = format!("Bearer {token}");
    let i64_max = "b2Zmc2V0OjkyMjMzNzIwMzY4NTQ3NzU4MDc";
    assert_eq!(cursor(&format!("offset:{}", i64::MAX)), i64_max);
    let u64_max = cursor(&format!("offset:{}", u64::MAX));
    let queries = [
        format!("{{ articles(after: \"{i64_max}\") {{ totalCount nodes {{ id }} }} }}"),
        format!("{{ articles(after: \"{u64_max}\") {{ nodes {{ id }} }} }}"),
        format!("{{ articles(last: 5, before: \"{u64_max}\") {{ nodes {{ id }} }} }}"),
        format!("{{ articles(last: 5, before: \"{i64_max}\") {{ nodes {{ id }} }} }}"),
        format!(
            "{{ article(id: \"118109\") {{ relatedFrom(after: \"{i64_max}\") {{ nodes {{ id }} }} }} }}"
        ),
        format!(
            "{{ article(id: \"118109\") {{ revisions(after: \"{u64_max}\") {{ nodes {{ version }} }} }} }}"
        ),
        format!(
            "{{ subject(slug: \"medicine\") {{ articles(after: \"{i64_max}\") {{ nodes {{ id }} }} }} }}"
        ),
        format!("{{ search(query: \"imaging\", after: \"{u64_max}\") {{ edges {{ cursor }} }} }}"),
    ];
    for q in &queries {
        let r = post(&app, Some(&bearer), q).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
        let v = r.json();
        assert_eq!(error_code(&v), "BAD_USER_INPUT", "{q}: {v}");
        let field = v["errors"][0]["extensions"]["field"]
            .as_str()
            .unwrap_or_default();
        assert!(field == "after" || field == "before", "{q}: {v}");
    }
    // A mutation whose selection holds such a cursor is answered: the
    // client sees the edit landed and the cursor refused.
    let q = format!(
        "mutation {{ updateAnswer(id: \"118109\", answer: \"Changed.\", expectedVersion: 1) {{ version relatedFrom(after: \"{i64_max}\") {{ totalCount }} }} }}"
    );
    let r = post(&app, Some(&bearer), &q).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(error_code(&v), "BAD_USER_INPUT", "{v}");
    let d = app
        .data("{ article(id: \"118109\") { version answer } }", json!({}))
        .await;
    assert_eq!(d["article"]["version"], 2, "the edit landed once: {d}");
    assert_eq!(d["article"]["answer"], "Changed.");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = post(
            &app,
            Some(&format!("{scheme} {token}")),
            "mutation { adjustScore(id: \"118109\", delta: 1) { id score } }",
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{scheme}: {}", r.text());
        assert!(r.json().get("errors").is_none(), "{scheme}: {}", r.text());
    }
    let r = post(&app, Some(&format!("Basic {token}")), "{ __typename }").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_database_outage_during_authentication_is_503_never_401() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    let before = app.t.snapshot().await;
    app.t.db.clone().close().await.expect("close the pool");
    let r = post(
        &app,
        Some(&format!("Bearer {token}")),
        "mutation { adjustScore(id: \"118109\", delta: 1) { id } }",
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    let v = r.json();
    assert_eq!(error_code(&v), "INTERNAL", "{v}");
    assert!(v["errors"][0]["extensions"]["requestId"].is_string(), "{v}");
    assert!(!r.text().to_lowercase().contains("pool"), "masked: {v}");
    assert!(!r.header("retry-after").is_empty());
    // Nothing ran: reopen and compare.
    let reopened = quicktakes::db::connect(&quicktakes::db::DbOptions::new(&app.t.url))
        .await
        .expect("reconnect");
    let d = quicktakes_tests::TestDb {
        db: reopened,
        url: app.t.url.clone(),
        dir: tempfile::tempdir().expect("dir"),
    };
    assert_eq!(d.snapshot().await, before);
}
