//! Compression negotiated by `Accept-Encoding`, and the cache policy of the
//! static files (GraphiQL's local assets, the favicon).

use std::io::Read;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use quicktakes_tests::{TestApp, TestResponse};
use serde_json::{Value, json};

/// A query whose answer (every type's name and description) is well over
/// the compression threshold.
const QUERY: &str = "{ __schema { types { name description } } }";

async fn graphql(app: &TestApp, encoding: Option<&str>) -> TestResponse {
    let mut request = Request::post("/graphql").header("content-type", "application/json");
    if let Some(encoding) = encoding {
        request = request.header("accept-encoding", encoding);
    }
    let body = Body::from(json!({ "query": QUERY }).to_string());
    app.send(request.body(body).expect("request")).await
}

fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("brotli");
        }
        "zstd" => out = zstd::decode_all(body).expect("zstd"),
        other => panic!("unexpected encoding {other}"),
    }
    out
}

#[tokio::test]
async fn graphql_answers_are_compressed_as_the_client_asks() {
    let app = TestApp::new().await;
    let plain = graphql(&app, None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.header("content-encoding"), "", "identity by default");
    let expected = plain.json();
    assert!(
        expected["data"]["__schema"]["types"]
            .as_array()
            .is_some_and(|t| t.len() > 10),
        "{expected}"
    );
    for encoding in ["gzip", "br", "zstd"] {
        let r = graphql(&app, Some(encoding)).await;
        assert_eq!(r.status, StatusCode::OK, "{encoding}");
        assert_eq!(r.header("content-encoding"), encoding);
        assert!(r.body.len() < plain.body.len(), "{encoding} is smaller");
        let body: Value = serde_json::from_slice(&decode(encoding, &r.body)).expect("JSON");
        assert_eq!(body, expected, "{encoding} decodes to the same answer");
    }
}

#[tokio::test]
async fn the_sdl_and_the_playground_are_compressed_and_tiny_answers_are_not() {
    let app = TestApp::new().await;
    for path in ["/schema.graphql", "/graphiql"] {
        let plain = app.get(path).await;
        let request = Request::get(path)
            .header("accept-encoding", "gzip")
            .body(Body::empty())
            .expect("request");
        let r = app.send(request).await;
        assert_eq!(r.header("content-encoding"), "gzip", "{path}");
        assert_eq!(decode("gzip", &r.body), plain.body, "{path}");
    }
    // "ok" is under the 32-byte threshold: compressing it would grow it.
    let request = Request::get("/healthz")
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .expect("request");
    let r = app.send(request).await;
    assert_eq!(r.header("content-encoding"), "");
    assert_eq!(r.text(), "ok");
}

#[tokio::test]
async fn local_assets_are_compressed_and_revalidated_hourly() {
    let assets = tempfile::tempdir().expect("tempdir");
    let script = "/* graphiql */ console.log('quicktakes');\n".repeat(50);
    std::fs::write(assets.path().join("graphiql.min.js"), &script).expect("write");
    let app = TestApp::with_assets(Some(assets.path().to_owned())).await;
    let request = Request::get("/graphiql/assets/graphiql.min.js")
        .header("accept-encoding", "br")
        .body(Body::empty())
        .expect("request");
    let r = app.send(request).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-encoding"), "br");
    assert_eq!(decode("br", &r.body), script.as_bytes());
    assert_eq!(
        r.header("cache-control"),
        "public, max-age=3600, must-revalidate"
    );
    // Unchanged since: a bodiless 304 that renews the same policy.
    let request = Request::get("/graphiql/assets/graphiql.min.js")
        .header("if-modified-since", r.header("last-modified"))
        .body(Body::empty())
        .expect("request");
    let again = app.send(request).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header("cache-control"), r.header("cache-control"));
    // What a token asked for is not made cacheable.
    let request = Request::get("/graphiql/assets/graphiql.min.js")
        .header("authorization", "Bearer whatever")
        .body(Body::empty())
        .expect("request");
    let r = app.send(request).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), "");
    let missing = app.get("/graphiql/assets/nope.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("cache-control"), "", "a 404 is not cached");
}

#[tokio::test]
async fn the_favicon_is_served_with_a_cache_policy() {
    let app = TestApp::new().await;
    let r = app.get("/favicon.ico").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "image/x-icon");
    assert_eq!(r.header("cache-control"), "public, max-age=86400");
    // An ICO: reserved 0, type 1 (icon), one image.
    assert_eq!(r.body.get(..6), Some(&[0, 0, 1, 0, 1, 0][..]));
    let request = Request::get("/favicon.ico")
        .header("authorization", "Bearer whatever")
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.send(request).await.header("cache-control"), "");
}

#[tokio::test]
async fn a_compressed_graphql_post_is_never_stored() {
    let app = TestApp::new().await;
    let r = graphql(&app, Some("gzip")).await;
    assert_eq!(r.header("content-encoding"), "gzip");
    assert_eq!(r.header("cache-control"), "private, no-store");
    let vary: Vec<String> = r
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .collect();
    assert!(
        vary.iter().any(|v| v.contains("accept-encoding"))
            && vary.iter().any(|v| v.contains("authorization")),
        "{vary:?}"
    );
}
