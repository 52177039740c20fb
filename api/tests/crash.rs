//! Crash safety: an import killed with SIGKILL leaves all or nothing and a
//! rerun completes; a server killed with SIGKILL restarts with every
//! committed change.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use quicktakes_tests::{TestDb, seeds_dir};

fn quicktakes(t: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quicktakes"));
    command
        .env("DATABASE_URL", &t.url)
        .current_dir(t.dir.path());
    command
}

fn kill9(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    child.wait().expect("reaped");
}

#[tokio::test]
async fn an_import_killed_midway_leaves_all_or_nothing_and_a_rerun_completes() {
    const COUNT: usize = 4000;
    let t = TestDb::new().await;
    let corpus = t.path("corpus");
    quicktakes_tests::generate::write_corpus(&corpus, COUNT as u64, 11).expect("corpus");
    let mut import = quicktakes(&t)
        .args(["import", "corpus"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("import starts");
    let stderr = import.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    // Kill it once it has started writing, inside its transaction.
    for line in lines.by_ref() {
        if line.expect("line").starts_with("writing") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(150));
    kill9(&mut import);

    let counts = t.snapshot().await;
    let articles = counts[0].1 as usize;
    assert!(
        articles == 0 || articles == COUNT,
        "all or nothing, found {articles}: {counts:?}"
    );
    if articles == 0 {
        assert!(
            counts.iter().all(|(_, n)| *n == 0),
            "no partial rows: {counts:?}"
        );
    }

    let out = quicktakes(&t)
        .args(["import", "corpus"])
        .output()
        .expect("rerun");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let expected = if articles == 0 {
        format!("{COUNT} created, 0 updated, 0 unchanged, 0 conflicts, 0 invalid")
    } else {
        format!("0 created, 0 updated, {COUNT} unchanged, 0 conflicts, 0 invalid")
    };
    assert_eq!(summary, expected);
    assert_eq!(t.snapshot().await[0], ("article", COUNT as u64));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

fn http(port: u16, request: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn graphql(port: u16, token: Option<&str>, query: &str) -> String {
    let body = serde_json::json!({ "query": query }).to_string();
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(port, &request).expect("server answers")
}

fn start_server(t: &TestDb, port: u16) -> Child {
    let mut child = quicktakes(t)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--seeds"])
        .arg(seeds_dir())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    for _ in 0..100 {
        if http(
            port,
            "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    kill9(&mut child);
    panic!("the server did not become ready");
}

#[tokio::test]
async fn a_server_killed_with_sigkill_restarts_with_every_committed_change() {
    let t = TestDb::new().await;
    let out = quicktakes(&t)
        .args(["token", "create", "--name", "alice", "--role", "editor"])
        .output()
        .expect("token");
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("secret")
        .to_owned();
    let port = free_port();
    let mut server = start_server(&t, port);
    let r = graphql(
        port,
        Some(&token),
        "mutation { setScore(id: \"118109\", score: 7.5, expectedVersion: 1) { score } }",
    );
    assert!(r.contains("\"score\":7.5"), "{r}");
    kill9(&mut server);

    let port = free_port();
    let mut server = start_server(&t, port);
    let r = graphql(port, None, "{ article(id: \"118109\") { score version } }");
    assert!(
        r.contains("\"score\":7.5") && r.contains("\"version\":2"),
        "{r}"
    );
    kill9(&mut server);
}
