//! The server on real sockets, as `quicktakes serve` runs it: header-read
//! and idle timeouts, the per-address connection cap, the peer address the
//! limits see, the metrics address, WebSocket upgrades and shutdown.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroUsize;
use std::time::Duration;

use quicktakes::http::HttpConfig;
use quicktakes::http::listener::ConnectionLimits;
use quicktakes_tests::{Server, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any socket step may take: a liveness bound, not a timing claim.
const PATIENCE: Duration = Duration::from_secs(10);

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// Another client: loopback covers 127.0.0.0/8 on Linux.
const NEIGHBOUR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn limits(header_read_ms: u64, idle_ms: u64, cap: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Some(Duration::from_millis(header_read_ms)),
        idle_timeout: Some(Duration::from_millis(idle_ms)),
        max_per_address: NonZeroUsize::new(cap),
        ..ConnectionLimits::default()
    }
}

/// `GET path` on a kept-alive connection.
async fn send_get(stream: &mut TcpStream, path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: quicktakes.test\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
}

/// Reads one response: its status and body (no body for a 101).
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let read = async {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf).await.expect("read response");
            assert!(
                n > 0,
                "closed before a response: {:?}",
                String::from_utf8_lossy(&bytes)
            );
            bytes.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a status line: {head}"));
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = bytes[head_end..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut buf).await.expect("read body");
            assert!(n > 0, "closed inside a body");
            body.extend_from_slice(&buf[..n]);
        }
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("a response in time")
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let read = async {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the server closes the connection in time")
}

#[tokio::test]
async fn a_connection_stalling_in_its_headers_is_closed() {
    let app = TestApp::new().await;
    let server = Server::start(app.router.clone(), limits(300, 60_000, 0)).await;

    let mut prompt = server.connect(LOCAL).await;
    send_get(&mut prompt, "/healthz").await;
    assert_eq!(read_response(&mut prompt).await, (200, "ok".to_owned()));

    let mut stalled = server.connect(LOCAL).await;
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: quicktakes.test\r\nX-Slow: ")
        .await
        .expect("half the headers");
    assert_eq!(
        read_until_closed(&mut stalled).await,
        "",
        "closed, unanswered"
    );

    let mut silent = server.connect(LOCAL).await;
    assert_eq!(
        read_until_closed(&mut silent).await,
        "",
        "a silent socket too"
    );
    server.stop().await;
}

#[tokio::test]
async fn keep_alive_connections_wait_the_idle_timeout_not_the_header_timeout() {
    let app = TestApp::new().await;

    // Idle far longer than headers: a pause between requests is fine.
    let server = Server::start(app.router.clone(), limits(300, 60_000, 0)).await;
    let mut stream = server.connect(LOCAL).await;
    send_get(&mut stream, "/healthz").await;
    assert_eq!(read_response(&mut stream).await.0, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    send_get(&mut stream, "/healthz").await;
    assert_eq!(
        read_response(&mut stream).await.0,
        200,
        "still open after pausing longer than the header timeout"
    );
    server.stop().await;

    // A short idle timeout closes a kept-alive connection after its answer.
    let server = Server::start(app.router.clone(), limits(60_000, 300, 0)).await;
    let mut stream = server.connect(LOCAL).await;
    send_get(&mut stream, "/healthz").await;
    assert_eq!(read_response(&mut stream).await.0, 200);
    assert_eq!(read_until_closed(&mut stream).await, "");
    server.stop().await;
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let app = TestApp::new().await;
    let server = Server::start(app.router.clone(), limits(60_000, 60_000, 4)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = server.connect(LOCAL).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: quicktakes.test\r\n")
            .await
            .expect("half the headers");
        held.push(stream);
    }
    let mut extra = server.connect(LOCAL).await;
    let refused = read_until_closed(&mut extra).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused:?}");
    assert!(refused.contains("too many connections"), "{refused:?}");

    let mut neighbour = server.connect(NEIGHBOUR).await;
    send_get(&mut neighbour, "/healthz").await;
    assert_eq!(read_response(&mut neighbour).await, (200, "ok".to_owned()));

    // A closed connection frees its slot (once the server sees it close).
    drop(held.pop());
    let admitted = async {
        loop {
            let mut stream = server.connect(LOCAL).await;
            send_get(&mut stream, "/healthz").await;
            let mut first = [0u8; 12];
            if stream.read_exact(&mut first).await.is_ok() && &first == b"HTTP/1.1 200" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, admitted)
        .await
        .expect("a slot is free again");
    server.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_is_exempt_from_the_connection_cap() {
    let app = TestApp::new().await;
    let proxy =
        quicktakes::http::throttle::TrustedProxies::new(["127.0.0.2/32".parse().expect("CIDR")]);
    let server = Server::start(
        app.router.clone(),
        limits(60_000, 60_000, 2).uncapping(proxy),
    )
    .await;
    // The proxy's sockets carry every reader's traffic: more than the cap.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = server.connect(NEIGHBOUR).await;
        send_get(&mut stream, "/healthz").await;
        assert_eq!(read_response(&mut stream).await, (200, "ok".to_owned()));
        held.push(stream);
    }
    // Everyone else is still capped.
    let _first = server.connect(LOCAL).await;
    let _second = server.connect(LOCAL).await;
    let mut extra = server.connect(LOCAL).await;
    let refused = read_until_closed(&mut extra).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused:?}");
    server.stop().await;
}

#[tokio::test]
async fn the_limits_see_each_socket_peer_address() {
    let mut config = HttpConfig::default();
    config.limits.rate_limit_per_minute = 1;
    let app = TestApp::with_config(config).await;
    let server = Server::start(app.router.clone(), limits(60_000, 60_000, 0)).await;
    let query = "/graphql?query=%7B__typename%7D";
    let mut local = server.connect(LOCAL).await;
    send_get(&mut local, query).await;
    assert_eq!(read_response(&mut local).await.0, 200);
    send_get(&mut local, query).await;
    assert_eq!(read_response(&mut local).await.0, 429);
    let mut neighbour = server.connect(NEIGHBOUR).await;
    send_get(&mut neighbour, query).await;
    assert_eq!(read_response(&mut neighbour).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_served_only_on_the_metrics_address() {
    let app = TestApp::new().await;
    let public = Server::start(app.router.clone(), limits(60_000, 60_000, 0)).await;
    let metrics = Server::start(
        quicktakes::http::metrics_app(app.t.db.clone()),
        limits(60_000, 60_000, 0),
    )
    .await;

    let mut stream = public.connect(LOCAL).await;
    send_get(&mut stream, "/healthz").await;
    assert_eq!(read_response(&mut stream).await.0, 200);
    send_get(&mut stream, "/metrics").await;
    assert_eq!(read_response(&mut stream).await.0, 404, "not public");

    let mut stream = metrics.connect(LOCAL).await;
    send_get(&mut stream, "/metrics").await;
    let (status, text) = read_response(&mut stream).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("quicktakes_http_requests_total{path=\"/healthz\",status=\"200\"}"),
        "{text}"
    );
    send_get(&mut stream, "/graphql?query=%7B__typename%7D").await;
    assert_eq!(
        read_response(&mut stream).await.0,
        404,
        "metrics only on the metrics address"
    );
    public.stop().await;
    metrics.stop().await;
}

#[tokio::test]
async fn websocket_upgrades_work_and_keep_their_address_slot() {
    let app = TestApp::new().await;
    let server = Server::start(app.router.clone(), limits(60_000, 60_000, 1)).await;
    let mut ws = server.connect(LOCAL).await;
    ws.write_all(
        b"GET /graphql/ws HTTP/1.1\r\nHost: quicktakes.test\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n",
    )
    .await
    .expect("handshake");
    assert_eq!(read_response(&mut ws).await.0, 101);
    // A masked text frame (mask 0: the payload goes as is).
    let init = br#"{"type":"connection_init"}"#;
    let mut frame = vec![0x81, 0x80 | u8::try_from(init.len()).expect("short")];
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(init);
    ws.write_all(&frame).await.expect("connection_init");
    let mut ack = [0u8; 64];
    let n = tokio::time::timeout(PATIENCE, ws.read(&mut ack))
        .await
        .expect("an answer in time")
        .expect("read");
    assert!(
        String::from_utf8_lossy(&ack[..n]).contains("connection_ack"),
        "{:?}",
        &ack[..n]
    );

    let mut second = server.connect(LOCAL).await;
    let refused = read_until_closed(&mut second).await;
    assert!(
        refused.starts_with("HTTP/1.1 503"),
        "the upgraded socket still holds the slot: {refused:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_returns() {
    let app = TestApp::new().await;
    let server = Server::start(app.router.clone(), limits(60_000, 60_000, 0)).await;
    let mut stream = server.connect(LOCAL).await;
    send_get(&mut stream, "/healthz").await;
    assert_eq!(read_response(&mut stream).await.0, 200);
    server.stop().await;
    assert_eq!(read_until_closed(&mut stream).await, "");
}
