//! `quicktakes serve` from the outside: its operations flags reach the
//! sockets it listens on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use quicktakes_tests::TestDb;

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr").port()
}

/// `GET path` on `port`, or `None` while nothing listens there.
fn ask(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Stops the server with SIGTERM even when an assertion fails first.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_puts_metrics_on_their_own_address_and_times_out_stalled_headers() {
    let t = TestDb::new().await;
    let (port, metrics_port) = (free_port(), free_port());
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_quicktakes"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args([
                "--seeds",
                "no-seeds-here",
                "--header-read-timeout-ms",
                "300",
            ])
            .env(
                "QUICKTAKES_METRICS_BIND",
                format!("127.0.0.1:{metrics_port}"),
            )
            .env("DATABASE_URL", &t.url)
            .current_dir(t.dir.path())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts"),
    );
    let mut ready = None;
    for _ in 0..100 {
        ready = ask(port, "/readyz");
        if ready.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ready.expect("server answers").starts_with("HTTP/1.1 200"));

    // An anonymous read runs on the read pool; its statements are counted.
    let read = ask(port, "/graphql?query=%7Bsubjects%7Bname%7D%7D").expect("graphql answer");
    assert!(read.starts_with("HTTP/1.1 200"), "{read}");

    let public = ask(port, "/metrics").expect("public answer");
    assert!(public.starts_with("HTTP/1.1 404"), "{public}");
    let metrics = ask(metrics_port, "/metrics").expect("metrics answer");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("quicktakes_http_requests_total{path=\"/readyz\",status=\"200\"}"),
        "{metrics}"
    );
    let statements = metrics
        .lines()
        .find_map(|l| l.strip_prefix("quicktakes_db_statements_total{pool=\"read\"} "))
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(
        statements.is_some_and(|n| n >= 1),
        "the read's statements are counted: {metrics}"
    );

    let mut stalled = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("half the headers");
    let mut rest = Vec::new();
    let closed = stalled.read_to_end(&mut rest);
    assert!(
        matches!(closed, Ok(0)),
        "closed by the header timeout, unanswered: {closed:?} {rest:?}"
    );
    drop(server);
}
