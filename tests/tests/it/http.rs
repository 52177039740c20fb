//! The HTTP surface through the router: GraphQL over HTTP, the playground,
//! the SDL and the health checks.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use quicktakes_tests::{TestApp, TestResponse};
use serde_json::json;

const GRJ: &str = "application/graphql-response+json";

async fn post(
    app: &TestApp,
    content_type: &str,
    accept: Option<&str>,
    body: impl Into<Body>,
) -> TestResponse {
    let mut request = Request::post("/graphql").header("content-type", content_type);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    app.send(request.body(body.into()).expect("request")).await
}

async fn get_with(app: &TestApp, uri: &str, accept: &str) -> TestResponse {
    let request = Request::get(uri)
        .header("accept", accept)
        .body(Body::empty())
        .expect("request");
    app.send(request).await
}

#[tokio::test]
async fn media_type_follows_accept() {
    let app = TestApp::with_seeds().await;
    let body = json!({ "query": "{ article(id: \"118109\") { id } }" }).to_string();
    let r = post(&app, "application/json", Some(GRJ), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").starts_with(GRJ));
    assert_eq!(r.json()["data"]["article"]["id"], "118109");
    for accept in [Some("application/json"), Some("*/*"), None] {
        let r = post(
            &app,
            "application/json; charset=utf-8",
            accept,
            body.clone(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{accept:?}");
        assert!(
            r.header("content-type").starts_with("application/json"),
            "{accept:?}"
        );
    }
    let r = post(&app, "application/json", Some("text/html"), body).await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn request_errors_are_400_without_data_under_graphql_response_json() {
    let app = TestApp::new().await;
    for query in [
        "{",
        "{ noSuchField }",
        "query($id: ID!) { article(id: $id) { id } }",
    ] {
        let body = json!({ "query": query, "variables": { "id": null } }).to_string();
        let r = post(&app, "application/json", Some(GRJ), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
        assert!(r.json().get("data").is_none(), "{query}: {}", r.text());
        assert!(r.json()["errors"][0]["message"].is_string());
        let r = post(&app, "application/json", Some("application/json"), body).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{query}: application/json is always 200"
        );
        assert!(r.json().get("data").is_none());
    }
    // A field error is not a request error: 200 with data.
    let body = json!({ "query": "{ article { id } }" }).to_string();
    let r = post(&app, "application/json", Some(GRJ), body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["data"]["article"], serde_json::Value::Null);
}

#[tokio::test]
async fn malformed_bodies_and_parameters_are_400() {
    let app = TestApp::new().await;
    for body in [
        "{ \"not a JSON",
        "",
        "{\"qeury\": \"{ __typename }\"}",
        "{\"query\": 1}",
        "{\"query\": \"{ __typename }\", \"variables\": \"x\"}",
        "{\"query\": \"{ __typename }\", \"operationName\": []}",
        "{\"query\": \"{ __typename }\", \"extensions\": 5}",
        "[]",
        "42",
    ] {
        let r = post(&app, "application/json", Some(GRJ), body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn post_must_be_json_and_at_most_1_mib() {
    let app = TestApp::new().await;
    let r = post(&app, "text/plain", None, "{ __typename }").await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = post(
        &app,
        "application/x-www-form-urlencoded",
        None,
        "query=%7B__typename%7D",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!(
        "{{\"query\": \"{{ __typename }}\", \"x\": \"{}\"}}",
        "a".repeat(1024 * 1024)
    );
    let r = post(&app, "application/json", None, big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn get_runs_queries_but_not_mutations() {
    let app = TestApp::with_seeds().await;
    let r = get_with(
        &app,
        "/graphql?query=%7B%20article(id%3A%20%22118109%22)%20%7B%20title%20%7D%20%7D",
        GRJ,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.json()["data"]["article"]["title"].is_string());
    let r = get_with(
        &app,
        "/graphql?query=query%20T(%24n%3A%20String!)%20%7B%20__type(name%3A%20%24n)%20%7B%20name%20%7D%20%7D&variables=%7B%22n%22%3A%22Article%22%7D",
        "application/json",
    )
    .await;
    assert_eq!(r.json()["data"]["__type"]["name"], "Article");
    let r = get_with(
        &app,
        "/graphql?query=mutation%20%7B%20__typename%20%7D",
        GRJ,
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), "POST");
    let r = get_with(&app, "/graphql", GRJ).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no query");
}

#[tokio::test]
async fn batches_run_each_request() {
    let app = TestApp::with_seeds().await;
    let body = json!([{ "query": "{ a: article(id: \"118109\") { id } }" }, { "query": "{ subjects { slug } }" }]).to_string();
    let r = post(&app, "application/json", Some("application/json"), body).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v[0]["data"]["a"]["id"], "118109");
    assert_eq!(v[1]["data"]["subjects"][0]["slug"], "health-studies");
}

#[tokio::test]
async fn graphiql_schema_and_health_endpoints() {
    let app = TestApp::new().await;
    let r = app.get("/").await;
    assert!(r.status.is_redirection());
    assert_eq!(r.header("location"), "/graphiql");
    // The page itself: tests/tests/it/graphiql.rs.
    assert_eq!(app.get("/graphiql").await.status, StatusCode::OK);
    let r = app.get("/schema.graphql").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text(), quicktakes::graphql::sdl());
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let r = app.get("/readyz").await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "ready"));
    app.t.db.clone().close().await.expect("close the pool");
    let r = app.get("/readyz").await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "database unreachable"
    );
}
