//! Operations: request ids, masked internal errors, metrics, CORS, the
//! anonymous and failed-token rate limits, and readiness.

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
    assert_eq!(
        app.get("/metrics").await.status,
        StatusCode::NOT_FOUND,
        "not on the public address"
    );
    let metrics = quicktakes::http::metrics_app(app.t.db.clone());
    let response = tower::ServiceExt::oneshot(
        metrics,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .expect("the metrics router answers");
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8_lossy(&body).into_owned();
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

/// A request from `ip`, as the server hands it to the router.
fn from(ip: [u8; 4], request: axum::http::request::Builder) -> Request<Body> {
    let mut request = request.body(Body::empty()).expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((ip, 40000))));
    request
}

/// `GET /graphql?query={__typename}`, with `Authorization: Bearer <token>` when given.
fn typename(token: Option<&str>) -> axum::http::request::Builder {
    let request = Request::get("/graphql?query=%7B__typename%7D");
    match token {
        Some(t) => request.header("authorization", format!("Bearer {t}")),
        None => request,
    }
}

/// The `Retry-After` seconds of a 429.
fn retry_after(r: &quicktakes_tests::TestResponse) -> u64 {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    r.header("retry-after").parse().unwrap_or_else(|_| {
        panic!(
            "Retry-After in whole seconds: {:?}",
            r.header("retry-after")
        )
    })
}

#[tokio::test]
async fn anonymous_graphql_is_rate_limited_per_ip_and_operations_endpoints_are_not() {
    let mut config = HttpConfig::default();
    config.limits.rate_limit_per_minute = 2;
    let app = TestApp::with_config(config).await;
    let token = app
        .token("limits", quicktakes::service::token::Role::Editor)
        .await;
    for _ in 0..2 {
        let r = app.send(from([10, 0, 0, 1], typename(None))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let r = app.send(from([10, 0, 0, 1], typename(None))).await;
    // Two a minute: the next one is let in 30 s after the first.
    let wait = retry_after(&r);
    assert!((28..=30).contains(&wait), "Retry-After {wait}");
    // Of an anonymous GET too: a CDN must not keep the refusal.
    assert_eq!(r.header("cache-control"), "private, no-store");
    let r = app
        .send(from([10, 0, 0, 1], Request::get("/graphql/ws")))
        .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "subscriptions count too"
    );

    for path in ["/healthz", "/readyz", "/graphiql", "/schema.graphql"] {
        let r = app.send(from([10, 0, 0, 1], Request::get(path))).await;
        assert_eq!(r.status, StatusCode::OK, "{path} is exempt: {}", r.text());
    }
    let r = app.send(from([10, 0, 0, 1], Request::get("/"))).await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "/ is exempt");

    let r = app.send(from([10, 0, 0, 2], typename(None))).await;
    assert_eq!(r.status, StatusCode::OK, "per IP");
    for _ in 0..5 {
        let r = app.send(from([10, 0, 0, 1], typename(Some(&token)))).await;
        assert_eq!(r.status, StatusCode::OK, "editors are not limited");
        assert_eq!(r.json()["data"]["__typename"], "Query");
    }
}

#[tokio::test]
async fn failed_token_checks_are_limited_per_address_before_the_lookup() {
    let mut config = HttpConfig::default();
    config.limits.auth_failures_per_minute = 3;
    let app = TestApp::with_config(config).await;
    let token = app
        .token("victim", quicktakes::service::token::Role::Editor)
        .await;
    for _ in 0..10 {
        let r = app.send(from([10, 0, 0, 3], typename(Some(&token)))).await;
        assert_eq!(r.status, StatusCode::OK, "valid tokens cost nothing");
    }
    for guess in 0..3 {
        let r = app
            .send(from(
                [10, 0, 0, 1],
                typename(Some(&format!("qt_guess{guess}"))),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
        assert_eq!(error_code(&r.json()), "UNAUTHENTICATED");
    }
    let before = app.statements();
    let r = app
        .send(from([10, 0, 0, 1], typename(Some("qt_guess3"))))
        .await;
    // Three a minute: the next guess is let in 20 s after the first.
    let wait = retry_after(&r);
    assert!((18..=20).contains(&wait), "Retry-After {wait}");
    assert!(r.text().contains("failed token checks"), "{}", r.text());
    assert_eq!(app.statements(), before, "refused before the lookup");
    let r = app.send(from([10, 0, 0, 1], typename(Some(&token)))).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "an address over its budget cannot tell good tokens from bad"
    );

    let r = app.send(from([10, 0, 0, 2], typename(Some(&token)))).await;
    assert_eq!(r.status, StatusCode::OK, "other addresses are not slowed");
    assert_eq!(r.json()["data"]["__typename"], "Query");
    let r = app
        .send(from([10, 0, 0, 2], typename(Some("qt_bad"))))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "their budget is their own"
    );
}

#[tokio::test]
async fn readiness_answers_within_a_second_when_the_pool_has_no_connection() {
    use sea_orm::TransactionTrait;
    let t = quicktakes_tests::TestDb::with_options(|o| o.max_connections = 1).await;
    let app = TestApp::over(t, HttpConfig::default());
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    // The pool's only connection is taken; the pool would wait 10 s for it.
    let held = app.t.db.begin().await.expect("take the connection");
    let started = std::time::Instant::now();
    let r = app.get("/readyz").await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(
        r.text().contains("did not answer within 1 s"),
        "{}",
        r.text()
    );
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    held.rollback().await.expect("give it back");
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
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

/// The router's configuration with a per-address quota of `quota` requests
/// (and failed token checks) a minute, behind a proxy at 10.9.0.0/16.
fn behind_proxy(quota: u32) -> HttpConfig {
    let mut config = HttpConfig::default();
    config.limits.rate_limit_per_minute = quota;
    config.limits.auth_failures_per_minute = quota;
    config.trusted_proxies =
        quicktakes::http::throttle::TrustedProxies::new(["10.9.0.0/16".parse().expect("CIDR")]);
    config
}

#[tokio::test]
async fn clients_behind_a_trusted_proxy_are_limited_each_on_their_own() {
    let app = TestApp::with_config(behind_proxy(1)).await;
    let via_proxy =
        |client: &str| typename(None).header("x-forwarded-for", format!("{client}, 10.9.0.7"));
    let r = app
        .send(from([10, 9, 0, 1], via_proxy("203.0.113.1")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .send(from([10, 9, 0, 1], via_proxy("203.0.113.1")))
        .await;
    retry_after(&r);
    // Same proxy, another reader: a budget of its own.
    let r = app
        .send(from([10, 9, 0, 1], via_proxy("203.0.113.2")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // RFC 7239 `Forwarded` names the client as well.
    let forwarded = typename(None).header("forwarded", "for=\"[2001:db8::5]:443\";proto=https");
    let r = app.send(from([10, 9, 0, 1], forwarded)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A forged leftmost entry does not buy a fresh budget.
    let forged = typename(None).header("x-forwarded-for", "198.51.100.99, 203.0.113.1");
    let r = app.send(from([10, 9, 0, 1], forged)).await;
    retry_after(&r);

    // Failed token checks are counted per client behind the proxy too.
    let guess =
        |client: &str| typename(Some("qt_guess")).header("x-forwarded-for", client.to_owned());
    let r = app.send(from([10, 9, 0, 1], guess("203.0.113.3"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    let r = app.send(from([10, 9, 0, 1], guess("203.0.113.3"))).await;
    assert!(retry_after(&r) > 0);
    let r = app.send(from([10, 9, 0, 1], guess("203.0.113.4"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = TestApp::with_config(behind_proxy(1)).await;
    let spoofed = |client: &str| {
        typename(None)
            .header("x-forwarded-for", client.to_owned())
            .header("forwarded", format!("for={client}"))
    };
    let r = app.send(from([192, 0, 2, 1], spoofed("203.0.113.1"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A new claimed address each time: still one peer, one budget.
    let r = app.send(from([192, 0, 2, 1], spoofed("203.0.113.2"))).await;
    retry_after(&r);
    // And a spoofer cannot spend a real client's budget.
    let r = app.send(from([10, 9, 0, 1], spoofed("203.0.113.1"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}
