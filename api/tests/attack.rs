//! The worst cheap attacks against the real binary at once, from
//! 127.0.0.1, while /healthz is probed from 127.0.0.2: the probe must keep
//! answering. The bound is generous (1 s, against ~1 ms when idle), so a
//! shared machine cannot make it flaky; `.ci/attack` measures the real
//! figures.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use quicktakes_tests::{TestDb, seeds_dir};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 exchange on a fresh connection, optionally from `source`;
/// returns the status line.
fn exchange(
    addr: SocketAddr,
    source: Option<&str>,
    request: &[u8],
    timeout: Duration,
) -> std::io::Result<String> {
    let stream = match source {
        Some(ip) => {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            let local: SocketAddr = format!("{ip}:0").parse().map_err(std::io::Error::other)?;
            socket.bind(&local.into())?;
            socket.connect_timeout(&addr.into(), timeout)?;
            TcpStream::from(socket)
        }
        None => TcpStream::connect_timeout(&addr, timeout)?,
    };
    stream.set_read_timeout(Some(timeout))?;
    let mut stream = stream;
    stream.write_all(request)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

fn graphql_post(query: &str) -> Vec<u8> {
    let body = serde_json::json!({ "query": query }).to_string();
    format!(
        "POST /graphql HTTP/1.1\r\nHost: attack\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn fragment_fan_out(levels: usize) -> String {
    let mut q = format!(
        "query {{ article(id: \"118109\") {{ ...F{levels} }} }} fragment F1 on Article {{ title }}"
    );
    for n in 2..=levels {
        q.push_str(&format!(
            " fragment F{n} on Article {{ {}}}",
            format!("...F{} ", n - 1).repeat(10)
        ));
    }
    q
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_within_a_second_during_the_worst_attacks() {
    let t = TestDb::new().await;
    quicktakes::seed::generate::write_corpus(&t.path("corpus"), 500, 3).expect("corpus");
    for dir in [t.path("corpus"), seeds_dir()] {
        let status = Command::new(env!("CARGO_BIN_EXE_quicktakes"))
            .env("DATABASE_URL", &t.url)
            .arg("import")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("import runs");
        assert!(status.success());
    }
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_quicktakes"))
            .env("DATABASE_URL", &t.url)
            .current_dir(t.dir.path())
            .args(["serve", "--bind", &addr.to_string(), "--seeds", "none"])
            .args([
                "--rate-limit-per-minute",
                "0",
                "--header-read-timeout-ms",
                "2000",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("server starts"),
    );
    let health = b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n";
    let started = Instant::now();
    while exchange(addr, None, health, Duration::from_secs(1)).map_or(true, |s| !s.contains("200"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server starts"
        );
        thread::sleep(Duration::from_millis(100));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut attackers = Vec::new();
    let search = graphql_post(&format!(
        "{{ search(query: \"{}\") {{ totalCount edges {{ snippet }} }} }}",
        "x ".repeat(20_000)
    ));
    let fragments = graphql_post(&fragment_fan_out(8));
    for request in std::iter::repeat_n(search, 8).chain(std::iter::repeat_n(fragments, 4)) {
        let stop = stop.clone();
        attackers.push(thread::spawn(move || {
            let mut answered = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if let Ok(status) = exchange(addr, None, &request, Duration::from_secs(30))
                    && status.starts_with("HTTP/1.1")
                {
                    answered += 1;
                }
            }
            answered
        }));
    }
    // A crowd of sockets that send half a request head and wait.
    let crowd: Vec<TcpStream> = (0..300)
        .filter_map(|_| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
            s.write_all(b"GET /graphql HTTP/1.1\r\nHost: x\r\n").ok()?;
            Some(s)
        })
        .collect();

    let mut worst = Duration::ZERO;
    let probing = Instant::now();
    while probing.elapsed() < Duration::from_secs(5) {
        let asked = Instant::now();
        let status = exchange(addr, Some("127.0.0.2"), health, Duration::from_secs(5))
            .expect("the probe connects and is answered");
        assert!(status.contains("200"), "healthz: {status}");
        worst = worst.max(asked.elapsed());
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let answered: usize = attackers
        .into_iter()
        .map(|a| a.join().expect("attacker"))
        .sum();
    drop(crowd);
    eprintln!(
        "worst /healthz latency under attack: {worst:?}; {answered} attack requests answered"
    );
    assert!(answered > 0, "the attacks ran");
    assert!(worst < Duration::from_secs(1), "healthz took {worst:?}");
}
