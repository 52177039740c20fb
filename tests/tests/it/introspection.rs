//! Introspection within bounds: the standard introspection queries of
//! graphql-js 16 and GraphiQL 3 (committed verbatim as fixtures, printed by
//! graphql-js's `getIntrospectionQuery()`) pass under the default limits,
//! hostile ones are refused by introspection's own limits, and a flag turns
//! introspection off.

use quicktakes::http::{HttpConfig, Limits};
use quicktakes_tests::{TestApp, error_code};
use serde_json::{Value, json};

const FIXTURES: [(&str, &str); 3] = [
    (
        "graphql-js 16, default options",
        include_str!("../../fixtures/introspection-graphql-js-16.graphql"),
    ),
    (
        "graphql-js 16, all options",
        include_str!("../../fixtures/introspection-graphql-js-16-all-options.graphql"),
    ),
    (
        "GraphiQL 3",
        include_str!("../../fixtures/introspection-graphiql-3.graphql"),
    ),
];

/// graphql-js's fragments (`FullType`, `InputValue`, `TypeRef`), as its
/// query spreads them for every type.
fn graphql_js_fragments() -> &'static str {
    let all = FIXTURES[1].1;
    all.find("fragment FullType").map_or(all, |at| &all[at..])
}

async fn post(app: &TestApp, query: &str) -> Value {
    app.gql(query, json!({})).await
}

/// The `limit` of a `QUERY_LIMIT` refusal that ran nothing.
fn refused_by(v: &Value) -> String {
    assert_eq!(error_code(v), "QUERY_LIMIT", "{v}");
    assert!(v.get("data").is_none(), "refused before it ran: {v}");
    v["errors"][0]["extensions"]["limit"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn standard_introspection_queries_pass_under_the_default_limits() {
    let app = TestApp::with_seeds().await;
    let before = app.t.snapshot().await;
    for (client, query) in FIXTURES {
        // Deeper than the data query's depth limit allows: the point of
        // measuring introspection apart.
        assert_eq!(query.matches("ofType {").count(), 9, "{client}");
        let body = json!({ "query": query, "operationName": "IntrospectionQuery" });
        let request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        let v = app.send(request).await.json();
        assert!(v.get("errors").is_none(), "{client}: {v:#}");
        let types = v["data"]["__schema"]["types"]
            .as_array()
            .expect("types is a list");
        assert!(
            types.iter().any(|t| t["name"] == "Article"),
            "{client}: the schema's own types are listed"
        );
        assert_eq!(v["data"]["__schema"]["queryType"]["name"], "Query");
    }
    assert_eq!(
        app.t.snapshot().await,
        before,
        "introspection writes nothing"
    );
}

#[tokio::test]
async fn hostile_introspection_is_refused_by_its_own_limits() {
    let app = TestApp::with_seeds().await;
    let before = app.t.snapshot().await;
    let nested = |n: usize| {
        format!(
            "{{ __type(name: \"Article\") {{ name {} name {} }} }}",
            "ofType { ".repeat(n),
            "}".repeat(n)
        )
    };
    // Ten nested `ofType` are allowed (graphql-js nests nine) …
    let v = post(&app, &nested(10)).await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(v["data"]["__type"]["name"], "Article");
    // … eleven and a hundred are not.
    for n in [11, 100] {
        assert_eq!(
            refused_by(&post(&app, &nested(n)).await),
            "introspection_of_type"
        );
    }
    // `__schema` aliased past the alias limit.
    let many: String = (0..60)
        .map(|i| format!("s{i}: __schema {{ queryType {{ name }} }} "))
        .collect();
    assert_eq!(
        refused_by(&post(&app, &format!("{{ {many} }}")).await),
        "aliases"
    );
    // Fan-outs through type references.
    let fan_out =
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    assert_eq!(
        refused_by(&post(&app, fan_out).await),
        "introspection_depth"
    );
    let fan_out = "{ __type(name: \"Article\") { fields { type { fields { type { fields { type { fields { name } } } } } } } } }";
    assert_eq!(
        refused_by(&post(&app, fan_out).await),
        "introspection_depth"
    );
    // The full schema, fetched several times in one request through a
    // fragment (few tokens, few aliases), is too much.
    let copies: String = (0..4)
        .map(|i| format!("s{i}: __schema {{ types {{ ...FullType }} }} "))
        .collect();
    let q = format!("{{ {copies} }} {}", graphql_js_fragments());
    assert_eq!(
        refused_by(&post(&app, &q).await),
        "introspection_complexity"
    );
    // One copy is fine.
    let q = format!(
        "{{ __schema {{ types {{ ...FullType }} }} }} {}",
        graphql_js_fragments()
    );
    let v = post(&app, &q).await;
    assert!(v.get("errors").is_none(), "{v}");
    // Introspection beside data leaves the data query bounded as before.
    let deep = format!(
        "{{ __schema {{ queryType {{ name }} }} article(id: \"118109\") {{ {}title{} }} }}",
        "related { article { ".repeat(6),
        " } }".repeat(6)
    );
    assert_eq!(refused_by(&post(&app, &deep).await), "depth");
    assert_eq!(app.t.snapshot().await, before, "nothing was written");
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let config = HttpConfig {
        limits: Limits {
            introspection: false,
            ..Limits::default()
        },
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let before = app.t.snapshot().await;
    for query in [
        FIXTURES[1].1,
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Article\") { name } }",
        "query { ...F } fragment F on Query { __type(name: \"Article\") { name } }",
    ] {
        let v = post(&app, query).await;
        assert_eq!(refused_by(&v), "introspection", "{query}");
        let message = v["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("turned off"), "{message}");
    }
    // Everything else still works: `__typename`, data, and the SDL.
    let d = app
        .data(
            "{ __typename articles(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["__typename"], "Query");
    let sdl = app.get("/schema.graphql").await;
    assert_eq!(sdl.text(), quicktakes::graphql::sdl());
    assert_eq!(app.t.snapshot().await, before, "nothing was written");
}

#[tokio::test]
async fn the_schema_has_no_description_however_it_is_asked() {
    let app = TestApp::new().await;
    let d = app
        .data(
            "{ __schema { description queryType { name } } s: __schema { d: description } \
             ...F } fragment F on Query { __schema { ... on __Schema { description } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["__schema"]["description"], Value::Null, "{d}");
    assert_eq!(d["__schema"]["queryType"]["name"], "Query", "{d}");
    assert_eq!(d["s"]["d"], Value::Null, "{d}");
    // Other descriptions are the schema's own.
    let d = app
        .data("{ __type(name: \"Article\") { description } }", json!({}))
        .await;
    let text = d["__type"]["description"].as_str().unwrap_or_default();
    assert!(text.starts_with("An article"), "{d}");
}

#[tokio::test]
async fn an_operation_name_the_document_lacks_is_a_validation_error() {
    let app = TestApp::new().await;
    let before = app.t.snapshot().await;
    let body = json!({
        "query": "query A { __typename } mutation B { deleteArticle(id: \"1\") }",
        "operationName": "C",
    });
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("request");
    let response = app.send(request).await;
    assert_eq!(response.status, axum::http::StatusCode::BAD_REQUEST);
    let v = response.json();
    assert_eq!(error_code(&v), "GRAPHQL_VALIDATION_FAILED", "{v}");
    assert!(v.get("data").is_none(), "{v}");
    let message = v["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\"C\""), "names the operation: {message}");
    assert_eq!(app.t.snapshot().await, before, "nothing was written");
}
