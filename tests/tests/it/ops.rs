//! Operations: request ids, masked internal errors, metrics, CORS and the
//! anonymous rate limit.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use quicktakes::http::HttpConfig;
use quicktakes_tests::{TestApp, error_code};
use serde_json::json;

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::with_seeds().await;
    let r = app.get("/healthz").await;
    let id = r.header("x-request-id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let request = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        app.send(request).await.header("x-request-id"),
        "abc-123",
        "a client's id is kept"
    );
}

#[tokio::test]
async fn internal_errors_are_masked_and_name_the_request() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::with_seeds().await;
    // A revision the server cannot read: an internal error, not the client's.
    let backend = app.t.db.get_database_backend();
    app.t
        .db
        .execute_raw(Statement::from_string(
            backend,
            "UPDATE revision SET changes = 'not json'",
        ))
        .await
        .expect("corrupt");
    let token = app
        .token("ops", quicktakes::service::token::Role::Editor)
        .await;
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", "req-42")
        .body(Body::from(json!({ "query": "{ article(id: \"118109\") { revisions { nodes { changes { field } } } } }" }).to_string()))
        .expect("request");
    let r = app.send(request).await.json();
    assert_eq!(error_code(&r), "INTERNAL", "{r}");
    let error = &r["errors"][0];
    assert_eq!(error["extensions"]["requestId"], "req-42");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("server log"), "{message}");
    assert!(
        !r.to_string().contains("not json") && !r.to_string().contains("expected"),
        "the cause stays in the log: {r}"
    );
}

#[tokio::test]
async fn metrics_count_operations_outcomes_latency_and_the_pool() {
    let app = TestApp::with_seeds().await;
    let q = json!({ "query": "query MetricsProbe { article(id: \"118109\") { title } }", "operationName": "MetricsProbe" });
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .body(Body::from(q.to_string()))
        .expect("request");
    assert_eq!(app.send(request).await.status, StatusCode::OK);
    let bad = app
        .gql("query MetricsBad { article { id } }", json!({}))
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let r = app.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(
        text.contains(
            "quicktakes_graphql_requests_total{operation=\"MetricsProbe\",outcome=\"ok\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "quicktakes_graphql_requests_total{operation=\"anonymous\",outcome=\"bad_user_input\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "quicktakes_graphql_request_duration_seconds_bucket{operation=\"MetricsProbe\""
        ),
        "{text}"
    );
    assert!(
        text.contains("quicktakes_http_requests_total{path=\"/graphql\",status=\"200\"}"),
        "{text}"
    );
    assert!(
        text.contains("quicktakes_db_pool_connections{state=\"open\"}"),
        "{text}"
    );
    assert!(
        text.contains("quicktakes_import_articles_total{action=\"created\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn cors_allows_only_listed_origins() {
    let app = TestApp::with_seeds().await;
    let preflight = |origin: &str| {
        Request::options("/graphql")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .body(Body::empty())
            .expect("request")
    };
    let r = app.send(preflight("https://app.example")).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        "",
        "no origin allowed by default"
    );

    let config = HttpConfig {
        cors_origins: vec!["https://app.example".into()],
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let r = app.send(preflight("https://app.example")).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert!(
        r.header("access-control-allow-headers")
            .contains("authorization")
    );
    let r = app.send(preflight("https://evil.example")).await;
    assert_eq!(r.header("access-control-allow-origin"), "");
}

#[tokio::test]
async fn anonymous_clients_are_rate_limited_per_ip() {
    let config = HttpConfig {
        rate_limit_per_minute: std::num::NonZeroU32::new(2),
        ..Default::default()
    };
    let app = TestApp::with_config(config).await;
    let from = |ip: [u8; 4], token: Option<&str>| {
        let mut request = Request::get("/healthz");
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let mut request = request.body(Body::empty()).expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((ip, 40000))));
        request
    };
    assert_eq!(
        app.send(from([10, 0, 0, 1], None)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(from([10, 0, 0, 1], None)).await.status,
        StatusCode::OK
    );
    let r = app.send(from([10, 0, 0, 1], None)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), "60");
    assert_eq!(
        app.send(from([10, 0, 0, 2], None)).await.status,
        StatusCode::OK,
        "per IP"
    );
    assert_eq!(
        app.send(from([10, 0, 0, 1], Some("any"))).await.status,
        StatusCode::OK,
        "editors are not limited"
    );
}

/// A TCP proxy to PostgreSQL that can be cut and restored, to play a
/// database outage.
struct Proxy {
    port: u16,
    upstream: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let proxy = Self {
            port,
            upstream: upstream.to_owned(),
            tasks: Default::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let upstream = self.upstream.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                if let Ok(mut t) = tasks.lock() {
                    t.push(pipe);
                }
            }
        });
        if let Ok(mut t) = self.tasks.lock() {
            t.push(accept);
        }
    }

    /// Closes the listener and every connection.
    fn cut(&self) {
        if let Ok(mut t) = self.tasks.lock() {
            for task in t.drain(..) {
                task.abort();
            }
        }
    }

    /// Listens again on the same port.
    async fn restore(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebind");
        self.serve(listener);
    }
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_unreachable_and_recovers() {
    let t = quicktakes_tests::TestDb::new().await;
    if !t.is_postgres() {
        // SQLite is a file in the process: it cannot become unreachable.
        return;
    }
    let host_port = t
        .url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host:port in TEST_DATABASE_URL")
        .to_owned();
    let proxy = Proxy::start(&host_port).await;
    let url = t
        .url
        .replacen(&host_port, &format!("127.0.0.1:{}", proxy.port), 1);
    let mut options = quicktakes::db::DbOptions::new(&url);
    options.acquire_timeout = std::time::Duration::from_secs(1);
    let db = quicktakes::db::connect(&options)
        .await
        .expect("connect through the proxy");
    let proxied = quicktakes_tests::TestDb {
        db,
        url,
        dir: t.dir,
    };
    let app = TestApp::over(proxied, HttpConfig::default());
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);

    proxy.cut();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = app.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(
        app.get("/healthz").await.status,
        StatusCode::OK,
        "alive all the same"
    );

    proxy.restore().await;
    let mut ready = false;
    for _ in 0..50 {
        if app.get("/readyz").await.status == StatusCode::OK {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "ready again once the database is back");
}
