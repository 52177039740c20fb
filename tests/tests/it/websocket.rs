//! GraphQL over WebSocket (`graphql-transport-ws` on `/graphql/ws`), on real
//! sockets through the server's own accept loop: the upgrade's origin check
//! and connection cap, `connection_init` authentication, the protocol's
//! close codes, the same refusals as over HTTP, the per-connection and
//! per-address limits, and subscription events with fresh nested data.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use quicktakes::http::listener::ConnectionLimits;
use quicktakes::http::{HttpConfig, Limits};
use quicktakes::service::token::Role;
use quicktakes_tests::{Server, TestApp, error_code, fragment_fan_out};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

/// Longest any step may take: a liveness bound, not a timing claim.
const PATIENCE: Duration = Duration::from_secs(10);

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

const ID: &str = "118109";

/// What the server sent next.
#[derive(Debug)]
enum Incoming {
    /// A `graphql-transport-ws` message.
    Json(Value),
    /// A close frame: code and reason.
    Closed(u16, String),
}

/// A `graphql-transport-ws` client.
struct Ws(WebSocketStream<TcpStream>);

/// Upgrades a fresh connection to `/graphql/ws`, with `Origin: origin` when
/// given; the HTTP status when the server refuses to upgrade.
async fn upgrade(server: &Server, origin: Option<&str>) -> Result<Ws, u16> {
    let mut request = format!("ws://{}/graphql/ws", server.addr)
        .into_client_request()
        .expect("request");
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    if let Some(origin) = origin {
        headers.insert("origin", origin.parse().expect("header"));
    }
    let socket = server.connect(LOCAL).await;
    let handshake =
        tokio::time::timeout(PATIENCE, tokio_tungstenite::client_async(request, socket))
            .await
            .expect("the handshake ends in time");
    match handshake {
        Ok((stream, response)) => {
            assert_eq!(response.status(), 101);
            assert_eq!(
                response
                    .headers()
                    .get("sec-websocket-protocol")
                    .and_then(|v| v.to_str().ok()),
                Some("graphql-transport-ws")
            );
            Ok(Ws(stream))
        }
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("the handshake failed: {other}"),
    }
}

/// An upgraded connection, not yet initialised.
async fn open(server: &Server) -> Ws {
    upgrade(server, None).await.expect("upgraded")
}

/// An acknowledged connection: anonymous, or with `Authorization: Bearer token`.
async fn connect(server: &Server, token: Option<&str>) -> Ws {
    let mut ws = open(server).await;
    ws.init(token.map(|t| json!({ "Authorization": format!("Bearer {t}") })))
        .await;
    ws
}

impl Ws {
    async fn send(&mut self, message: &Value) {
        self.send_text(&message.to_string()).await;
    }

    async fn send_text(&mut self, text: &str) {
        tokio::time::timeout(PATIENCE, self.0.send(Message::text(text)))
            .await
            .expect("sent in time")
            .expect("send");
    }

    /// The next message or close frame (answering pings on the way).
    async fn next(&mut self) -> Incoming {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("a message in time")
                .expect("the connection ends with a close frame")
                .expect("a well-formed frame");
            match message {
                Message::Text(text) => {
                    let v: Value = serde_json::from_str(text.as_str()).expect("JSON message");
                    if v["type"] == "ping" {
                        self.send(&json!({ "type": "pong" })).await;
                        continue;
                    }
                    if v["type"] == "pong" {
                        continue;
                    }
                    return Incoming::Json(v);
                }
                Message::Close(Some(frame)) => {
                    return Incoming::Closed(frame.code.into(), frame.reason.as_str().to_owned());
                }
                Message::Close(None) => panic!("closed without a code"),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next message, which must not be a close.
    async fn message(&mut self) -> Value {
        match self.next().await {
            Incoming::Json(v) => v,
            Incoming::Closed(code, reason) => panic!("closed {code} {reason:?}"),
        }
    }

    /// The close the server sends next: its code and reason.
    async fn closed(&mut self) -> (u16, String) {
        match self.next().await {
            Incoming::Closed(code, reason) => (code, reason),
            Incoming::Json(v) => panic!("a close, not {v}"),
        }
    }

    /// Sends `connection_init` (with `payload`) and expects `connection_ack`.
    async fn init(&mut self, payload: Option<Value>) {
        self.send_init(payload).await;
        let ack = self.message().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    async fn send_init(&mut self, payload: Option<Value>) {
        let mut init = json!({ "type": "connection_init" });
        if let Some(payload) = payload {
            init["payload"] = payload;
        }
        self.send(&init).await;
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(&json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    async fn complete(&mut self, id: &str) {
        self.send(&json!({ "id": id, "type": "complete" })).await;
    }

    /// The answer to operation `id`: `("next", payload)` followed by its
    /// `complete`, or `("error", payload)` alone.
    async fn outcome(&mut self, id: &str) -> (String, Value) {
        let m = self.message().await;
        assert_eq!(m["id"], id, "{m}");
        match m["type"].as_str() {
            Some("next") => {
                let done = self.message().await;
                assert_eq!(done, json!({ "id": id, "type": "complete" }));
                ("next".to_owned(), m["payload"].clone())
            }
            Some("error") => ("error".to_owned(), m["payload"].clone()),
            _ => panic!("next or error: {m}"),
        }
    }

    /// Runs `query` as operation `id` and returns its `next` payload (then
    /// its `complete`).
    async fn run(&mut self, id: &str, query: &str, variables: Value) -> Value {
        self.subscribe(id, query, variables).await;
        let (kind, payload) = self.outcome(id).await;
        assert_eq!(kind, "next", "{payload}");
        payload
    }

    /// Runs `query` as operation `id` and expects it refused with one
    /// `error` message; returns its first error.
    async fn refused(&mut self, id: &str, query: &str) -> Value {
        self.subscribe(id, query, json!({})).await;
        let (kind, payload) = self.outcome(id).await;
        assert_eq!(kind, "error", "{payload}");
        let errors = payload.as_array().expect("an error's payload is a list");
        assert_eq!(errors.len(), 1, "{payload}");
        errors[0].clone()
    }
}

/// `code` and `limit` of one GraphQL error.
fn code_and_limit(error: &Value) -> (String, Option<String>) {
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        error["extensions"]["limit"].as_str().map(str::to_owned),
    )
}

fn limit(code: &str, limit: &str) -> (String, Option<String>) {
    (code.to_owned(), Some(limit.to_owned()))
}

/// Serves `app` on real sockets (the limits need the peer's address).
async fn serve(app: &TestApp) -> Server {
    Server::start(app.router.clone(), ConnectionLimits::default()).await
}

/// Waits until `done` holds (polling; the bound is liveness only).
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let poll = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(PATIENCE, poll)
        .await
        .unwrap_or_else(|_| panic!("{what} within {PATIENCE:?}"));
}

/// The current version of the seeded article.
async fn version(app: &TestApp) -> i64 {
    app.data(
        &format!("{{ article(id: \"{ID}\") {{ version }} }}"),
        json!({}),
    )
    .await["article"]["version"]
        .as_i64()
        .expect("a version")
}

/// Over HTTP, as a token holder: panics on errors, returns `data`.
async fn http_as(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let r = app.gql_as(Some(token), query, variables).await.json();
    assert!(r.get("errors").is_none(), "{r:#}");
    r["data"].clone()
}

#[tokio::test]
async fn an_origin_outside_the_cors_list_is_refused_before_the_upgrade() {
    let app = TestApp::with_config(HttpConfig {
        cors_origins: vec!["https://good.example".to_owned()],
        ..Default::default()
    })
    .await;
    let server = serve(&app).await;
    for bad in ["https://evil.example", "null", "https://good.example.evil"] {
        assert_eq!(upgrade(&server, Some(bad)).await.err(), Some(403), "{bad}");
    }
    for allowed in [Some("https://good.example"), None] {
        let mut ws = upgrade(&server, allowed).await.expect("upgraded");
        ws.init(None).await;
    }
    // The server's own pages (GraphiQL) are same-origin: always allowed,
    // whatever the list; the same host on another port is another origin.
    let own = format!("http://{}", server.addr);
    let mut ws = upgrade(&server, Some(&own)).await.expect("upgraded");
    ws.init(None).await;
    let other_port = format!("http://{}:1", server.addr.ip());
    assert_eq!(
        upgrade(&server, Some(&other_port)).await.err(),
        Some(403),
        "{other_port}"
    );

    // Without a list, browsers of any origin may connect.
    let app = TestApp::new().await;
    let server = serve(&app).await;
    let mut ws = upgrade(&server, Some("https://anywhere.example"))
        .await
        .expect("upgraded");
    ws.init(None).await;
}

#[tokio::test]
async fn one_connection_over_the_server_wide_cap_is_closed_with_1013() {
    let app = TestApp::with_config(HttpConfig {
        limits: Limits {
            ws_connections: 2,
            ..HttpConfig::default().limits
        },
        ..Default::default()
    })
    .await;
    let server = serve(&app).await;
    let mut first = connect(&server, None).await;
    let _second = connect(&server, None).await;

    let mut third = upgrade(&server, None)
        .await
        .expect("the upgrade is accepted");
    let (code, reason) = third.closed().await;
    assert_eq!(code, 1013, "{reason}");
    assert!(
        reason.starts_with("QUERY_LIMIT wsConnections"),
        "{reason:?}"
    );

    // A closed connection frees its place (once the server sees it close).
    first.0.close(None).await.expect("close");
    let admitted = async {
        loop {
            let mut ws = open(&server).await;
            ws.send_init(None).await;
            match ws.next().await {
                Incoming::Json(ack) if ack["type"] == "connection_ack" => break,
                Incoming::Closed(1013, _) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => panic!("an ack or 1013: {other:?}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, admitted)
        .await
        .expect("a place is free again");
}

#[tokio::test]
async fn connection_init_authenticates_or_closes_with_4403() {
    let app = TestApp::with_seeds().await;
    let editor = app.token("alice", Role::Editor).await;
    let revoked = app.token("bob", Role::Editor).await;
    quicktakes::service::token::revoke(&app.t.db, "bob", chrono::Utc::now())
        .await
        .expect("revoke");
    let server = serve(&app).await;

    // No payload, an empty one, and a token under either spelling: acknowledged.
    for payload in [
        None,
        Some(json!({})),
        Some(json!({ "Authorization": format!("Bearer {editor}") })),
        Some(json!({ "authorization": format!("Bearer {editor}") })),
    ] {
        let mut ws = open(&server).await;
        ws.init(payload).await;
    }

    for bad in [
        "Bearer qt_not-a-real-token".to_owned(),
        format!("Bearer {revoked}"),
        format!("Basic {editor}"),
        "Bearer".to_owned(),
        "nonsense".to_owned(),
    ] {
        for key in ["Authorization", "authorization"] {
            let mut ws = open(&server).await;
            ws.send_init(Some(json!({ key: bad }))).await;
            let (code, reason) = ws.closed().await;
            assert_eq!(code, 4403, "{key}: {bad}: {reason}");
        }
    }
}

#[tokio::test]
async fn a_database_outage_during_the_token_check_closes_with_4500() {
    let app = TestApp::with_seeds().await;
    let editor = app.token("alice", Role::Editor).await;
    let server = serve(&app).await;
    // The application's pool is the test's: closing it takes the database away.
    app.t.db.clone().close().await.expect("close the pool");
    let mut ws = open(&server).await;
    ws.send_init(Some(json!({ "Authorization": format!("Bearer {editor}") })))
        .await;
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4500, "{reason}");
    assert!(!reason.to_lowercase().contains("pool"), "masked: {reason}");
}

#[tokio::test]
async fn a_message_over_the_body_limit_closes_the_connection_unread() {
    let app = TestApp::with_config(HttpConfig {
        limits: Limits {
            body_bytes: 1_024,
            ..HttpConfig::default().limits
        },
        ..Default::default()
    })
    .await;
    let server = serve(&app).await;
    let mut ws = connect(&server, None).await;
    // Within the limit: answered.
    let small = format!("{{ __typename {} }}", "a: __typename ".repeat(20));
    ws.subscribe("small", &small, json!({})).await;
    assert_eq!(ws.outcome("small").await.0, "next");
    // Over it: the server stops reading and closes.
    let big = format!("{{ __typename }} # {}", "x".repeat(2_048));
    ws.subscribe("big", &big, json!({})).await;
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4400, "{reason}");
    assert!(reason.contains("1024 bytes"), "{reason}");
}

#[tokio::test]
async fn protocol_violations_close_with_their_codes() {
    let app = TestApp::with_seeds().await;
    let server = serve(&app).await;

    let mut ws = connect(&server, None).await;
    ws.send_init(None).await;
    assert_eq!(ws.closed().await.0, 4429, "a second connection_init");

    let mut ws = open(&server).await;
    ws.subscribe("1", "{ __typename }", json!({})).await;
    assert_eq!(ws.closed().await.0, 4401, "subscribe before the ack");

    for garbage in [
        "{\"type\": \"connection_init\"",
        "not json",
        "{\"type\": \"no_such_type\"}",
        "[]",
    ] {
        let mut ws = connect(&server, None).await;
        ws.send_text(garbage).await;
        assert_eq!(ws.closed().await.0, 4400, "{garbage}");
    }
    // Unknown type before the init, too.
    let mut ws = open(&server).await;
    ws.send_text("{\"type\": \"no_such_type\"}").await;
    assert_eq!(ws.closed().await.0, 4400);

    let mut ws = connect(&server, None).await;
    let listening = app.changes.subscribers();
    ws.subscribe(
        "same",
        &format!("subscription {{ articleChanged(id: \"{ID}\") {{ id }} }}"),
        json!({}),
    )
    .await;
    wait_until("the subscription listens", || {
        app.changes.subscribers() > listening
    })
    .await;
    ws.subscribe("same", "{ __typename }", json!({})).await;
    assert_eq!(ws.closed().await.0, 4409, "a duplicate id");
}

#[tokio::test]
async fn a_connection_silent_past_the_init_timeout_is_closed_with_4408() {
    let app = TestApp::with_config(HttpConfig {
        limits: Limits {
            ws_init_timeout_ms: 200,
            ..HttpConfig::default().limits
        },
        ..Default::default()
    })
    .await;
    let server = serve(&app).await;
    let mut silent = open(&server).await;
    assert_eq!(silent.closed().await.0, 4408);
    // One that says hello in time stays open past the deadline.
    let mut ws = connect(&server, None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let payload = ws.run("q", "{ __typename }", json!({})).await;
    assert_eq!(payload, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn queries_and_mutations_answer_next_then_complete() {
    let app = TestApp::with_seeds().await;
    let server = serve(&app).await;
    let mut ws = connect(&server, None).await;
    let query = "query($id: ID!) { article(id: $id) { id title subject { name } } }";
    let payload = ws.run("q", query, json!({ "id": ID })).await;
    assert!(payload.get("errors").is_none(), "{payload}");
    assert_eq!(
        payload["data"],
        app.data(query, json!({ "id": ID })).await,
        "the same data as over HTTP"
    );
    assert_eq!(payload["data"]["article"]["subject"]["name"], "Medicine");
    // The id is free again once complete.
    let payload = ws.run("q", "{ __typename }", json!({})).await;
    assert_eq!(payload, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn a_persisted_query_runs_over_ws_by_hash_once_any_transport_learnt_it() {
    use sha2::Digest;
    let app = TestApp::with_seeds().await;
    let server = serve(&app).await;
    let mut ws = connect(&server, None).await;
    let query = "query ById($id: ID!) { article(id: $id) { id } }";
    let hash = hex::encode(sha2::Sha256::digest(query.as_bytes()));
    let by_hash = |id: &str| {
        json!({
            "id": id,
            "type": "subscribe",
            "payload": {
                "variables": { "id": ID },
                "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } },
            },
        })
    };
    ws.send(&by_hash("miss")).await;
    let (kind, payload) = ws.outcome("miss").await;
    assert_eq!(kind, "error", "{payload}");
    assert_eq!(
        payload[0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{payload}"
    );
    // Learnt over HTTP, as Apollo's retry sends it.
    let body = json!({
        "query": query,
        "variables": { "id": ID },
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } },
    });
    let learnt = app
        .send(
            axum::http::Request::post("/graphql")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(learnt.json()["data"]["article"]["id"], ID);
    ws.send(&by_hash("hit")).await;
    let (kind, payload) = ws.outcome("hit").await;
    assert_eq!(kind, "next", "{payload}");
    assert_eq!(payload["data"]["article"]["id"], ID);
}

#[tokio::test]
async fn mutations_over_ws_run_with_the_token_of_connection_init() {
    let app = TestApp::with_seeds().await;
    let editor = app.token("alice", Role::Editor).await;
    let server = serve(&app).await;
    let v = version(&app).await;
    let update = "mutation($id: ID!, $v: Int!) { updateAnswer(id: $id, answer: \"Over ws.\", expectedVersion: $v) { version answer } }";

    // Anonymous: the same refusal as over HTTP, and nothing written.
    let before = app.t.snapshot().await;
    let http = app
        .gql_as(None, update, json!({ "id": ID, "v": v }))
        .await
        .json();
    assert_eq!(error_code(&http), "UNAUTHENTICATED", "{http}");
    let mut anonymous = connect(&server, None).await;
    anonymous
        .subscribe("m", update, json!({ "id": ID, "v": v }))
        .await;
    let (kind, payload) = anonymous.outcome("m").await;
    let first_error = if kind == "next" {
        payload["errors"][0].clone()
    } else {
        payload[0].clone()
    };
    assert_eq!(
        code_and_limit(&first_error),
        ("UNAUTHENTICATED".to_owned(), None),
        "{kind}: {payload}"
    );
    let http_ran = http.get("data").is_some();
    assert_eq!(
        kind == "next",
        http_ran,
        "the same stage as over HTTP: {http}"
    );
    assert_eq!(app.t.snapshot().await, before, "nothing written");

    // An editor: the edit lands and its revision names the editor.
    let mut ws = connect(&server, Some(&editor)).await;
    let payload = ws.run("m", update, json!({ "id": ID, "v": v })).await;
    assert!(payload.get("errors").is_none(), "{payload}");
    assert_eq!(payload["data"]["updateAnswer"]["version"], v + 1);
    assert_eq!(payload["data"]["updateAnswer"]["answer"], "Over ws.");
    let history = http_as(
        &app,
        &editor,
        "query($id: ID!) { article(id: $id) { revisions(first: 1) { nodes { version editor } } } }",
        json!({ "id": ID }),
    )
    .await;
    assert_eq!(
        history["article"]["revisions"]["nodes"][0],
        json!({ "version": v + 1, "editor": "alice" })
    );

    // The role holds too: deletes need an admin.
    let before = app.t.snapshot().await;
    ws.subscribe(
        "d",
        "mutation($id: ID!) { deleteArticle(id: $id) }",
        json!({ "id": ID }),
    )
    .await;
    let (kind, payload) = ws.outcome("d").await;
    assert_eq!(kind, "next", "refused by the resolver: {payload}");
    assert_eq!(
        code_and_limit(&payload["errors"][0]),
        ("FORBIDDEN".to_owned(), None),
        "{payload}"
    );
    assert_eq!(app.t.snapshot().await, before, "nothing written");
}

fn cyclic(depth: usize) -> String {
    let mut q = String::from("title");
    for _ in 0..depth {
        q = format!("related {{ article {{ {q} }} }}");
    }
    format!("{{ article(id: \"118109\") {{ {q} }} }}")
}

/// graphql-js's fragments (`FullType`, `InputValue`, `TypeRef`).
fn graphql_js_fragments() -> &'static str {
    let all = include_str!("../../fixtures/introspection-graphql-js-16-all-options.graphql");
    all.find("fragment FullType").map_or(all, |at| &all[at..])
}

#[tokio::test]
async fn every_refusal_over_http_is_the_same_error_over_ws() {
    let app = TestApp::with_seeds().await;
    let server = serve(&app).await;
    let aliases: String = (0..200).map(|i| format!("a{i}: __typename ")).collect();
    let copies: String = (0..4)
        .map(|i| format!("s{i}: __schema {{ types {{ ...FullType }} }} "))
        .collect();
    let none = |code: &str| (code.to_owned(), None);
    let cases: Vec<(String, (String, Option<String>))> = vec![
        (cyclic(15), limit("QUERY_LIMIT", "depth")),
        (
            format!("{}{}", "{ a ".repeat(5_000), "}".repeat(5_000)),
            limit("QUERY_LIMIT", "depth"),
        ),
        (fragment_fan_out(7), limit("QUERY_LIMIT", "complexity")),
        (
            "{ articles(first: 100) { nodes { related { article { related { article { related { article { title } } } } } } } } }".to_owned(),
            limit("QUERY_LIMIT", "complexity"),
        ),
        (format!("{{ {aliases} }}"), limit("QUERY_LIMIT", "aliases")),
        (
            format!(
                "{{ article(id: \"118109\") {{ title {} }} }}",
                "@skip(if: false) ".repeat(1_000)
            ),
            limit("QUERY_LIMIT", "directives"),
        ),
        (
            format!("{{ {} }}", "__typename ".repeat(20_000)),
            limit("QUERY_LIMIT", "tokens"),
        ),
        (
            format!(
                "{{ __type(name: \"Article\") {{ name {} name {} }} }}",
                "ofType { ".repeat(11),
                "}".repeat(11)
            ),
            limit("QUERY_LIMIT", "introspection_of_type"),
        ),
        (
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
                .to_owned(),
            limit("QUERY_LIMIT", "introspection_depth"),
        ),
        (
            format!("{{ {copies} }} {}", graphql_js_fragments()),
            limit("QUERY_LIMIT", "introspection_complexity"),
        ),
        ("{ article(id: ".to_owned(), none("GRAPHQL_PARSE_FAILED")),
        (
            "{ article(id: \"118109\") { noSuchField } }".to_owned(),
            none("GRAPHQL_VALIDATION_FAILED"),
        ),
        (
            "{ ...Q } fragment Q on Query { ...R } fragment R on Query { ...Q }".to_owned(),
            none("GRAPHQL_VALIDATION_FAILED"),
        ),
    ];
    let mut ws = connect(&server, None).await;
    for (n, (query, expected)) in cases.iter().enumerate() {
        let short: String = query.chars().take(60).collect();
        let http = app.gql(query, json!({})).await;
        assert!(
            http.get("data").is_none(),
            "{short}: refused before running over HTTP: {http}"
        );
        assert_eq!(
            &code_and_limit(&http["errors"][0]),
            expected,
            "{short}: HTTP {http}"
        );
        // One `error` message and no `complete`: the next message is the
        // next operation's.
        let error = ws.refused(&n.to_string(), query).await;
        assert_eq!(&code_and_limit(&error), expected, "{short}: ws {error}");
    }
    let payload = ws.run("last", "{ __typename }", json!({})).await;
    assert_eq!(payload, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn the_request_timeout_applies_over_ws() {
    let app = TestApp::with_config(HttpConfig {
        limits: Limits {
            request_timeout_ms: 0,
            ..HttpConfig::default().limits
        },
        ..Default::default()
    })
    .await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    let server = serve(&app).await;
    let mut ws = connect(&server, None).await;
    ws.subscribe("slow", "{ articles { nodes { title } } }", json!({}))
        .await;
    let (kind, payload) = ws.outcome("slow").await;
    let error = if kind == "next" {
        payload["errors"][0].clone()
    } else {
        payload[0].clone()
    };
    assert_eq!(
        code_and_limit(&error),
        limit("QUERY_LIMIT", "timeout"),
        "{kind}: {payload}"
    );
}

#[tokio::test]
async fn a_subscription_with_200_aliases_is_refused() {
    let app = TestApp::with_seeds().await;
    let server = serve(&app).await;
    let mut ws = connect(&server, None).await;
    let fields: String = (0..200).map(|i| format!("a{i}: id ")).collect();
    let listening = app.changes.subscribers();
    let error = ws
        .refused(
            "s",
            &format!("subscription {{ articleChanged(id: \"{ID}\") {{ {fields} }} }}"),
        )
        .await;
    assert_eq!(code_and_limit(&error), limit("QUERY_LIMIT", "aliases"));
    assert_eq!(app.changes.subscribers(), listening, "nothing listens");
    let payload = ws.run("after", "{ __typename }", json!({})).await;
    assert_eq!(payload, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test]
async fn one_connection_holds_at_most_twenty_operations() {
    let app = TestApp::with_seeds().await;
    assert_eq!(app_limits().ws_subscriptions, 20, "the default");
    let editor = app.token("alice", Role::Editor).await;
    let server = serve(&app).await;
    let mut ws = connect(&server, None).await;
    let before = app.changes.subscribers();
    for i in 0..20 {
        // Article 1 does not exist: these never send anything.
        ws.subscribe(
            &format!("s{i}"),
            "subscription { articleChanged(id: \"1\") { id } }",
            json!({}),
        )
        .await;
    }
    wait_until("twenty subscriptions listen", || {
        app.changes.subscribers() == before + 20
    })
    .await;

    let error = ws.refused("extra", "{ __typename }").await;
    assert_eq!(
        code_and_limit(&error),
        limit("QUERY_LIMIT", "subscriptions")
    );
    let error = ws
        .refused(
            "extra",
            &format!("subscription {{ articleChanged(id: \"{ID}\") {{ id }} }}"),
        )
        .await;
    assert_eq!(
        code_and_limit(&error),
        limit("QUERY_LIMIT", "subscriptions")
    );

    // Completing one from the client frees its place.
    ws.complete("s0").await;
    wait_until("the completed subscription stops listening", || {
        app.changes.subscribers() == before + 19
    })
    .await;
    let payload = ws.run("query", "{ __typename }", json!({})).await;
    assert_eq!(payload, json!({ "data": { "__typename": "Query" } }));
    ws.subscribe(
        "again",
        &format!("subscription {{ articleChanged(id: \"{ID}\") {{ id }} }}"),
        json!({}),
    )
    .await;
    wait_until("the new subscription listens", || {
        app.changes.subscribers() == before + 20
    })
    .await;
    http_as(
        &app,
        &editor,
        "mutation { adjustScore(id: \"118109\", delta: 1) { version } }",
        json!({}),
    )
    .await;
    let event = ws.message().await;
    assert_eq!(event["id"], "again", "{event}");
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(
        event["payload"],
        json!({ "data": { "articleChanged": { "id": ID } } })
    );
}

/// The limits of an application built from `HttpConfig::default()`.
fn app_limits() -> Limits {
    HttpConfig::default().limits
}

#[tokio::test]
async fn anonymous_ws_operations_count_against_the_rate_limit() {
    let app = TestApp::with_config(HttpConfig {
        limits: Limits {
            rate_limit_per_minute: 3,
            ..HttpConfig::default().limits
        },
        ..Default::default()
    })
    .await;
    let server = serve(&app).await;
    // The upgrade is an anonymous HTTP request too: it spends the first.
    let mut ws = connect(&server, None).await;
    for i in 2..=3 {
        let id = format!("ok{i}");
        ws.subscribe(&id, "{ __typename }", json!({})).await;
        let (kind, payload) = ws.outcome(&id).await;
        assert_eq!(
            (kind.as_str(), &payload),
            ("next", &json!({ "data": { "__typename": "Query" } })),
            "request {i} of 3 is within the limit"
        );
    }
    let error = ws.refused("fourth", "{ __typename }").await;
    assert_eq!(code_and_limit(&error), limit("QUERY_LIMIT", "rate"));
}

#[tokio::test]
async fn subscription_events_carry_fresh_nested_fields() {
    let app = TestApp::with_seeds().await;
    let editor = app.token("alice", Role::Editor).await;
    // Load the first related article, so the link shows its own title.
    http_as(
        &app,
        &editor,
        "mutation { createArticle(input: { id: \"118085\", title: \"Target\", question: \"Q?\", answer: \"A\", subject: \"Medicine\" }) { id } }",
        json!({}),
    )
    .await;
    let server = serve(&app).await;
    let mut ws = connect(&server, None).await;
    let listening = app.changes.subscribers();
    ws.subscribe(
        "live",
        "subscription($id: ID!) { articleChanged(id: $id) { id version subject { name } related { title } } }",
        json!({ "id": ID }),
    )
    .await;
    wait_until("the subscription listens", || {
        app.changes.subscribers() > listening
    })
    .await;
    let edit = "mutation($v: Int!, $a: String!) { updateAnswer(id: \"118109\", answer: $a, expectedVersion: $v) { version } }";

    let v = version(&app).await;
    http_as(&app, &editor, edit, json!({ "v": v, "a": "One." })).await;
    let first = ws.message().await;
    assert_eq!(first["id"], "live", "{first}");
    assert_eq!(first["type"], "next", "{first}");
    assert!(first["payload"].get("errors").is_none(), "{first}");
    let article = &first["payload"]["data"]["articleChanged"];
    assert_eq!(article["id"], ID);
    assert_eq!(article["version"], v + 1);
    assert_eq!(article["subject"]["name"], "Medicine");
    assert_eq!(article["related"][0]["title"], "Target", "{article}");

    // Rename the subject in the database (no mutation renames one) and the
    // related article through the API (an event of another article).
    let medicine = entity::subject::Entity::find()
        .filter(entity::subject::Column::Name.eq("Medicine"))
        .one(&app.t.db)
        .await
        .expect("query")
        .expect("the subject");
    let mut renamed: entity::subject::ActiveModel = medicine.into();
    renamed.name = Set("Renamed Medicine".to_owned());
    renamed.update(&app.t.db).await.expect("rename");
    http_as(
        &app,
        &editor,
        "mutation { updateArticle(id: \"118085\", input: { title: \"Target renamed\" }, expectedVersion: 1) { version } }",
        json!({}),
    )
    .await;
    http_as(&app, &editor, edit, json!({ "v": v + 1, "a": "Two." })).await;
    let second = ws.message().await;
    assert_eq!(second["id"], "live", "{second}");
    assert_eq!(second["type"], "next", "{second}");
    assert!(second["payload"].get("errors").is_none(), "{second}");
    let article = &second["payload"]["data"]["articleChanged"];
    assert_eq!(article["id"], ID, "only the subscribed article: {article}");
    assert_eq!(article["version"], v + 2);
    assert_eq!(
        article["subject"]["name"], "Renamed Medicine",
        "fresh: {article}"
    );
    assert_eq!(
        article["related"][0]["title"], "Target renamed",
        "fresh: {article}"
    );
}
