//! The `quicktakes` binary from the outside: files and arguments in, exit
//! status, output and database contents out. Every bad input is refused
//! with a message naming the file, exit status 1, and nothing written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quicktakes_tests::{TestDb, real_seed_text, seeds_dir};

fn run(t: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quicktakes"))
        .args(args)
        .env("DATABASE_URL", &t.url)
        .current_dir(t.dir.path())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The real seed with `from` replaced by `to` (which must occur).
fn seed_with(from: &str, to: &str) -> String {
    let seed = real_seed_text();
    assert!(seed.contains(from), "{from:?} is in the seed");
    seed.replacen(from, to, 1)
}

/// Another valid article: its own id, slug, url and file name.
fn other_article(id: u32, slug: &str) -> String {
    real_seed_text()
        .replace("id: 118109", &format!("id: {id}"))
        .replace(
            "what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients",
            slug,
        )
}

/// Loads the real seed, then imports `files` (written into a fresh folder)
/// and checks: exit 1, every `expected` text on stderr, each naming the file
/// given, and every table unchanged.
async fn assert_refused(files: &[(&str, Vec<u8>)], expected: &[(&str, &str)]) {
    let t = TestDb::new().await;
    let seeds = seeds_dir();
    let out = run(&t, &["import", seeds.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let before = t.snapshot().await;
    let dir = t.path("bad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("write");
    }
    let out = run(&t, &["import", "bad"]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 expected; stderr:\n{stderr}"
    );
    for (file, message) in expected {
        let line = stderr
            .lines()
            .find(|l| l.contains(message))
            .unwrap_or_else(|| panic!("no {message:?} in:\n{stderr}"));
        assert!(
            line.starts_with(&format!("bad/{file}:")),
            "{line:?} should start with the file name bad/{file}"
        );
    }
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(text(&out.stdout).contains("0 created, 0 updated, 0 unchanged"));
    assert_eq!(t.snapshot().await, before, "the database is unchanged");
}

async fn refused(name: &str, content: impl Into<Vec<u8>>, message: &str) {
    assert_refused(&[(name, content.into())], &[(name, message)]).await;
}

#[tokio::test]
async fn refuses_a_file_without_front_matter() {
    refused(
        "a.md",
        "# Just markdown\n",
        "no front matter: the first line must be exactly `---`",
    )
    .await;
}

#[tokio::test]
async fn refuses_unclosed_front_matter() {
    let seed = real_seed_text().replace("---\n\n&nbsp;", "");
    refused("a.md", seed, "front matter is not closed").await;
}

#[tokio::test]
async fn refuses_a_yaml_syntax_error_with_its_line_and_column() {
    let seed = seed_with("subject: Medicine", "subject: [Medicine");
    refused("a.md", seed, "did not find expected ',' or ']'").await;
    let t = TestDb::new().await;
    let dir = t.path("bad");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("a.md"),
        seed_with("subject: Medicine", "subject: [Medicine"),
    )
    .expect("write");
    let stderr = text(&run(&t, &["import", "bad"]).stderr);
    assert!(
        stderr.contains("\nbad/a.md:23:10: did not find"),
        "file line and column: {stderr}"
    );
}

#[tokio::test]
async fn refuses_each_missing_required_key() {
    for key in ["id", "title", "question", "answer", "subject", "url"] {
        let seed = real_seed_text();
        let start = seed.find(&format!("\n{key}:")).expect("key") + 1;
        let end = start + seed[start..].find('\n').expect("eol") + 1;
        // Drop the key line and its indented block lines.
        let rest = &seed[end..];
        let block = rest
            .lines()
            .take_while(|l| l.starts_with("    "))
            .map(|l| l.len() + 1)
            .sum::<usize>();
        let without = format!("{}{}", &seed[..start], &rest[block..]);
        refused("a.md", without, &format!("missing required key `{key}`")).await;
    }
}

#[tokio::test]
async fn refuses_ids_that_are_not_positive_integers() {
    for bad in ["-5", "0", "abc", "1.5", "\"118109\""] {
        let seed = seed_with("id: 118109", &format!("id: {bad}"));
        refused("a.md", seed, "`id` must be a positive integer").await;
    }
}

#[tokio::test]
async fn refuses_scores_that_are_not_finite_numbers() {
    refused(
        "a.md",
        seed_with("score: -1.0", "score: high"),
        "`score` must be a number",
    )
    .await;
    refused(
        "a.md",
        seed_with("score: -1.0", "score: .nan"),
        "`score` must be a finite number",
    )
    .await;
    refused(
        "a.md",
        seed_with("score: -1.0", "score: .inf"),
        "`score` must be a finite number",
    )
    .await;
}

#[tokio::test]
async fn refuses_an_empty_title() {
    let seed = seed_with(
        "title: >-\n    What is the role of imaging in the follow-up care of HCC patients?\narticle_title",
        "title: \"\"\narticle_title",
    );
    refused("a.md", seed, "`title` must not be empty").await;
}

#[tokio::test]
async fn refuses_a_lang_that_is_not_a_bcp47_tag() {
    let seed = seed_with(
        "post_on_text: Posted on\n",
        "post_on_text: Posted on\nlang: pt_BR\n",
    );
    refused(
        "a.md",
        seed,
        "a.md:11:1: `lang` `pt_BR` is not a BCP 47 language tag",
    )
    .await;
}

#[tokio::test]
async fn refuses_an_answer_over_100000_characters() {
    let seed = seed_with(
        "    Imaging plays",
        &format!("    {} Imaging plays", "é".repeat(100_000)),
    );
    refused("a.md", seed, "at most 100000 are allowed").await;
}

#[tokio::test]
async fn refuses_invalid_utf8() {
    let mut bytes = real_seed_text().into_bytes();
    bytes.splice(100..100, [0xff, 0xfe]);
    refused("a.md", bytes, "invalid UTF-8").await;
}

#[tokio::test]
async fn refuses_an_empty_file() {
    refused("a.md", "", "file is empty").await;
}

#[tokio::test]
async fn refuses_two_files_with_the_same_id_url_slug_or_file_name() {
    let same_id = other_article(118_109, "another-slug");
    assert_refused(
        &[("a.md", real_seed_text().into()), ("b.md", same_id.into())],
        &[
            ("a.md", "duplicate id `118109`: also in bad/b.md"),
            ("b.md", "duplicate id `118109`: also in bad/a.md"),
        ],
    )
    .await;

    let same_url = other_article(5, "x").replace(
        "url: /learn/medicine/questions/x",
        "url: /learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients",
    );
    assert_refused(
        &[("a.md", real_seed_text().into()), ("b.md", same_url.into())],
        &[("b.md", "duplicate url `/learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients`: also in bad/a.md:24")],
    )
    .await;

    let same_slug = other_article(5, "x").replace(
        "url: /learn/medicine/questions/x",
        "url: /learn/biology/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients",
    );
    assert_refused(
        &[("a.md", real_seed_text().into()), ("b.md", same_slug.into())],
        &[("b.md", "duplicate slug `what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients`: also in bad/a.md")],
    )
    .await;

    let same_file_name = other_article(5, "x").replace(
        "file_name: x.md",
        "file_name: what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md",
    );
    assert_refused(
        &[("a.md", real_seed_text().into()), ("b.md", same_file_name.into())],
        &[("b.md", "duplicate file_name `what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md`: also in bad/a.md")],
    )
    .await;
}

#[tokio::test]
async fn refuses_file_names_that_leave_the_folder() {
    for bad in ["sub/x.md", "../x.md", "..x.md", "x\\y.md"] {
        let seed = seed_with(
            "file_name: what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md",
            &format!("file_name: {bad}"),
        );
        refused("a.md", seed, "must be a bare file name ending in `.md`").await;
    }
}

#[tokio::test]
async fn refuses_related_entries_missing_a_key() {
    for key in [
        "id: 118085",
        "title: >-\n        How is PET-CT used in the diagnosis and management of HCC?",
        "subject: Medicine\n    url: /learn/medicine/questions/how-is-petct",
        "url: /learn/medicine/questions/how-is-petct-used-in-the-diagnosis-and-management-of-hcc",
    ] {
        let name = key.split(':').next().expect("key");
        let seed = match name {
            "subject" => seed_with(key, "url: /learn/medicine/questions/how-is-petct"),
            _ => seed_with(&format!("    {key}\n"), ""),
        };
        refused(
            "a.md",
            seed,
            &format!("missing required key `related_article1.{name}`"),
        )
        .await;
    }
}

#[tokio::test]
async fn refuses_a_link_to_the_article_itself() {
    refused(
        "a.md",
        seed_with("    id: 118085", "    id: 118109"),
        "links the article to itself",
    )
    .await;
}

#[tokio::test]
async fn refuses_the_same_target_twice() {
    refused(
        "a.md",
        seed_with("    id: 118100", "    id: 118085"),
        "links 118085 again",
    )
    .await;
}

#[tokio::test]
async fn refuses_eleven_related_entries() {
    let mut seed = real_seed_text();
    let extra: String = (5..=11)
        .map(|n| {
            format!("related_article{n}:\n    id: {}\n    title: >-\n        T{n}\n    subject: Medicine\n    url: /learn/medicine/questions/t{n}\n", 1000 + n)
        })
        .collect();
    seed = seed.replace("---\n\n&nbsp;", &format!("{extra}---\n\n&nbsp;"));
    refused(
        "a.md",
        seed,
        "11 related articles given; at most 10 are allowed",
    )
    .await;
}

#[tokio::test]
async fn refuses_a_yaml_alias_bomb_by_the_parsers_own_limit() {
    let mut bomb = String::from(
        "---\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 0..8u8 {
        let (prev, this) = (char::from(b'a' + i), char::from(b'b' + i));
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{this}: &{this} [{refs}]\n"));
    }
    bomb.push_str("---\n");
    refused("bomb.md", bomb, "repetition limit exceeded").await;
}

#[tokio::test]
async fn refuses_a_20_mb_file_by_size() {
    let huge = format!("{}{}", real_seed_text(), "x".repeat(20 * 1024 * 1024));
    refused("huge.md", huge, "a seed may be at most 4194304 bytes").await;
}

#[tokio::test]
async fn refuses_a_path_that_does_not_exist_and_a_folder_without_seeds() {
    let t = TestDb::new().await;
    let before = t.snapshot().await;
    let out = run(&t, &["import", "nowhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nowhere: no such file or folder"),
        "{}",
        text(&out.stderr)
    );
    std::fs::create_dir_all(t.path("empty/deeper")).expect("mkdir");
    std::fs::write(t.path("empty/deeper/notes.txt"), "not a seed").expect("write");
    let out = run(&t, &["import", "empty"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("empty: no `.md` files in this folder"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn skip_invalid_writes_the_valid_files_and_still_exits_1() {
    let t = TestDb::new().await;
    let dir = t.path("mixed");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("good.md"), real_seed_text()).expect("write");
    std::fs::write(dir.join("bad.md"), "no front matter").expect("write");
    let out = run(&t, &["import", "mixed", "--skip-invalid"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("mixed/bad.md:1:1: no front matter"));
    assert_eq!(
        text(&out.stdout).trim(),
        "1 created, 0 updated, 0 unchanged, 0 conflicts, 1 invalid"
    );
    assert_eq!(t.snapshot().await[0], ("article", 1));
}

#[tokio::test]
async fn exit_codes_for_success_conflict_and_usage() {
    let t = TestDb::new().await;
    let dir = t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.md"), real_seed_text()).expect("write");
    let out = run(&t, &["import", "in"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        "1 created, 0 updated, 0 unchanged, 0 conflicts, 0 invalid"
    );
    assert!(
        text(&out.stderr).contains("reading: 1"),
        "plain progress lines off a terminal"
    );

    quicktakes::service::edit::apply(&t.db, &Default::default(), 118_109, "alice", None, |f| {
        f.score = Some(9.0)
    })
    .await
    .expect("edit");
    std::fs::write(dir.join("a.md"), seed_with("score: -1.0", "score: 1.0")).expect("write");
    let dry = run(&t, &["import", "in", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(3));
    assert!(
        text(&dry.stdout)
            .contains("dry run: 0 created, 0 updated, 0 unchanged, 1 conflicts, 0 invalid")
    );
    let out = run(&t, &["import", "in"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("in/a.md: conflict: the article was edited since its last import")
    );
    let out = run(&t, &["import", "in", "--force"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        "0 created, 1 updated, 0 unchanged, 0 conflicts, 0 invalid"
    );

    let out = run(&t, &["import", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    let out = run(&t, &["export"]);
    assert_eq!(out.status.code(), Some(2), "export needs DIR");
}

#[tokio::test]
async fn export_writes_files_that_import_back() {
    let t = TestDb::new().await;
    assert_eq!(
        run(&t, &["import", seeds_dir().to_str().expect("utf-8")])
            .status
            .code(),
        Some(0)
    );
    let out = run(&t, &["export", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "1 articles exported to out");
    let exported: PathBuf = t
        .path("out")
        .join("what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md");
    assert_eq!(
        std::fs::read_to_string(Path::new(&exported)).expect("file"),
        real_seed_text()
    );
}

#[tokio::test]
async fn migrate_status_down_and_fresh() {
    let t = TestDb::new().await;
    let out = run(&t, &["migrate", "status"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("applied  m20261128_000001_create_tables"));
    let out = run(&t, &["migrate", "down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status = text(&run(&t, &["migrate", "status"]).stdout);
    assert!(
        status.contains("applied  m20261130_000002_subject_listing_index"),
        "{status}"
    );
    assert!(
        status.contains("pending  m20261201_000001_webhooks"),
        "only the last one reverted: {status}"
    );
    let out = run(&t, &["migrate", "fresh"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("7 migrations applied, 0 pending"));
    // Fresh over a loaded database (foreign keys enforced) empties it.
    let seeds = seeds_dir();
    assert_eq!(
        run(&t, &["import", seeds.to_str().expect("utf-8")])
            .status
            .code(),
        Some(0)
    );
    let out = run(&t, &["migrate", "fresh"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(t.snapshot().await[0], ("article", 0));
    let out = run(&t, &["migrate", "sideways"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A `quicktakes serve` process over the test database, with the seeds.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Server {
    fn start(t: &TestDb) -> Self {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            probe.local_addr().expect("addr").port()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_quicktakes"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--seeds"])
            .arg(seeds_dir())
            .env("DATABASE_URL", &t.url)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("server starts");
        Self { child, port }
    }

    /// The raw HTTP/1.1 answer to `GET path`, if the server answers.
    fn ask(&self, path: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// `/readyz`'s answer once the server answers at all (within 30 s).
    fn ready(&self) -> Option<String> {
        for _ in 0..300 {
            if let Some(answer) = self.ask("/readyz") {
                return Some(answer);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    }

    /// SIGTERM; the exit status and the log.
    fn stop(mut self) -> (Option<i32>, String) {
        use std::io::Read;
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("server exits");
        let mut log = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr.read_to_string(&mut log).ok();
        }
        (exit.code(), log)
    }
}

#[tokio::test]
async fn serve_loads_the_seeds_answers_and_stops_cleanly_on_sigterm() {
    let t = TestDb::new().await;
    let server = Server::start(&t);
    assert!(
        server
            .ready()
            .expect("server answers")
            .starts_with("HTTP/1.1 200")
    );
    let page = server
        .ask("/graphql?query=%7Barticle(id:%22118109%22)%7Btitle%7D%7D")
        .expect("answer");
    assert!(page.contains("What is the role of imaging"), "{page}");
    let (exit, log) = server.stop();
    assert_eq!(exit, Some(0), "{log}");
    assert!(log.contains("seeds: 1 created"), "{log}");
    assert!(log.contains("shutting down"), "{log}");
}

#[tokio::test]
async fn two_instances_starting_at_once_take_turns_to_migrate_and_load_the_seeds() {
    use sea_orm::ConnectionTrait;
    let t = TestDb::new().await;
    if !t.is_postgres() {
        eprintln!("PostgreSQL only: instances share a database there");
        return;
    }
    // An empty schema, as on a first start (the test database comes migrated).
    t.db.execute_unprepared(
        "DO $$ BEGIN EXECUTE format('DROP SCHEMA %I CASCADE; CREATE SCHEMA %I', current_schema(), current_schema()); END $$",
    )
    .await
    .expect("empty the schema");

    let (a, b) = (Server::start(&t), Server::start(&t));
    let (ready_a, ready_b) = (a.ready(), b.ready());
    let (exit_a, log_a) = a.stop();
    let (exit_b, log_b) = b.stop();
    for (ready, exit, log) in [(ready_a, exit_a, &log_a), (ready_b, exit_b, &log_b)] {
        assert!(
            ready.is_some_and(|r| r.starts_with("HTTP/1.1 200")),
            "both instances serve:\n{log}"
        );
        assert_eq!(exit, Some(0), "{log}");
    }
    // One loaded the seed; the other found it loaded.
    let loaded = [&log_a, &log_b]
        .iter()
        .filter(|log| log.contains("seeds: 1 created"))
        .count();
    assert_eq!(loaded, 1, "A:\n{log_a}\nB:\n{log_b}");
    let count = |sql: &'static str| {
        let db = t.db.clone();
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await
                .expect("query")
                .expect("a row");
            row.try_get_by_index::<i64>(0).expect("a count")
        }
    };
    assert_eq!(count("SELECT count(*) FROM article").await, 1);
    assert_eq!(count("SELECT count(*) FROM revision").await, 1);
}

#[tokio::test]
async fn token_create_list_and_revoke() {
    use sea_orm::EntityTrait;

    let t = TestDb::new().await;
    let out = run(
        &t,
        &["token", "create", "--name", "alice", "--role", "editor"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let secret = stdout.lines().last().expect("secret line").to_owned();
    assert!(secret.starts_with("qt_") && secret.len() > 40, "{stdout}");
    assert!(!secret.contains(' '), "alone on its line");

    let stored = entity::editor_token::Entity::find()
        .all(&t.db)
        .await
        .expect("tokens");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "alice");
    assert_ne!(stored[0].secret_hash, secret);
    assert!(
        !stored[0].secret_hash.contains(&secret[3..]),
        "only a hash is stored"
    );
    let editor = quicktakes::service::token::authenticate(&t.db, &secret)
        .await
        .expect("lookup");
    assert_eq!(editor.map(|e| e.name), Some("alice".to_owned()));

    let out = run(
        &t,
        &["token", "create", "--name", "alice", "--role", "admin"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("a token named `alice` exists already"));
    assert_eq!(
        run(&t, &["token", "create", "--name", "x", "--role", "owner"])
            .status
            .code(),
        Some(2)
    );

    let out = run(&t, &["token", "list"]);
    let list = text(&out.stdout);
    assert!(
        list.contains("alice\teditor\tcreated ") && list.contains("\tactive"),
        "{list}"
    );
    assert!(!list.contains(&secret));

    let out = run(&t, &["token", "revoke", "alice"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&run(&t, &["token", "list"]).stdout).contains("\trevoked "));
    let editor = quicktakes::service::token::authenticate(&t.db, &secret)
        .await
        .expect("lookup");
    assert_eq!(editor, None, "a revoked token no longer authenticates");
    let out = run(&t, &["token", "revoke", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no active token named `alice`"));
}

#[tokio::test]
async fn logs_can_be_json_lines() {
    let t = TestDb::new().await;
    let out = Command::new(env!("CARGO_BIN_EXE_quicktakes"))
        .args(["--log-format", "json", "migrate", "fresh"])
        .env("DATABASE_URL", &t.url)
        .env("RUST_LOG", "info")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "some log lines at info");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
}

#[tokio::test]
async fn refuses_stray_line_breaks_in_front_matter() {
    let seed = seed_with("author: QuickTakes\n", "author: Quick\rTakes\n");
    refused(
        "a.md",
        seed,
        "front matter contains a stray line break (U+000D)",
    )
    .await;
    let seed = seed_with("author: QuickTakes\n", "author: Quick\u{2028}Takes\n");
    refused("a.md", seed, "stray line break (U+2028)").await;
}

#[tokio::test]
async fn import_notes_never_name_a_server_path() {
    use entity::revision;
    use sea_orm::EntityTrait;

    let t = TestDb::new().await;
    let root = t.path("corpus");
    std::fs::create_dir_all(root.join("medicine")).expect("mkdir");
    std::fs::write(root.join("medicine").join("a.md"), real_seed_text()).expect("write");
    let absolute = root.canonicalize().expect("absolute path");
    let out = run(&t, &["import", absolute.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let notes: Vec<Option<String>> = revision::Entity::find()
        .all(&t.db)
        .await
        .expect("revisions")
        .into_iter()
        .map(|r| r.note)
        .collect();
    assert_eq!(notes, [Some("created from medicine/a.md".to_owned())]);
}

#[tokio::test]
async fn a_file_reached_through_several_given_paths_is_imported_once() {
    use sea_orm::{EntityTrait, PaginatorTrait};

    let t = TestDb::new().await;
    let root = t.path("corpus");
    std::fs::create_dir_all(root.join("medicine")).expect("mkdir");
    std::fs::write(root.join("medicine").join("a.md"), real_seed_text()).expect("write");
    std::fs::write(
        root.join("medicine").join("b.md"),
        other_article(7, "other"),
    )
    .expect("write");
    let folder = root.to_str().expect("utf-8 path").to_owned();
    let inner = root.join("medicine").join("a.md");
    let same_folder = root.join("medicine").join("..");
    let out = run(
        &t,
        &[
            "import",
            &folder,
            inner.to_str().expect("utf-8 path"),
            same_folder.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 created, 0 updated, 0 unchanged, 0 conflicts, 0 invalid"),
        "{}",
        text(&out.stdout)
    );
    let count = entity::article::Entity::find()
        .count(&t.db)
        .await
        .expect("count");
    assert_eq!(count, 2);
}

#[tokio::test]
async fn webhook_add_list_and_remove() {
    use sea_orm::{EntityTrait, PaginatorTrait};

    let t = TestDb::new().await;
    let hooks = || async {
        entity::webhook::Entity::find()
            .count(&t.db)
            .await
            .expect("count")
    };
    let out = run(
        &t,
        &[
            "webhook",
            "add",
            "https://example.org/hooks/qt",
            "--event",
            "article.deleted",
            "--event",
            "article.updated",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "webhook 1 added: https://example.org/hooks/qt gets article.updated,article.deleted;"
        ),
        "{stdout}"
    );
    let secret = stdout.lines().last().expect("secret line").to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{stdout}"
    );
    assert!(!secret.contains(' '), "alone on its line");
    let stored = entity::webhook::Entity::find()
        .all(&t.db)
        .await
        .expect("webhooks");
    assert_eq!(stored[0].secret, secret, "the secret that signs");

    // From the environment, every event by default.
    let out = Command::new(env!("CARGO_BIN_EXE_quicktakes"))
        .args(["webhook", "add"])
        .env("DATABASE_URL", &t.url)
        .env("QUICKTAKES_WEBHOOK_URL", "http://127.0.0.1:9000/in")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("gets all events"));
    let other_secret = text(&out.stdout).lines().last().expect("secret").to_owned();

    let out = run(&t, &["webhook", "add", "https://example.org/hooks/qt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "a webhook for https://example.org/hooks/qt exists already (id 1); remove it first"
        ),
        "{}",
        text(&out.stderr)
    );

    for (url, message) in [
        (
            "ftp://example.org/x",
            "`ftp://example.org/x` is a ftp url; a webhook url starts with https://",
        ),
        (
            "example.org/hook",
            "`example.org/hook` is not an absolute url",
        ),
    ] {
        let out = run(&t, &["webhook", "add", url]);
        assert_eq!(out.status.code(), Some(2), "{url}");
        assert!(text(&out.stderr).contains(message), "{}", text(&out.stderr));
    }
    let out = run(
        &t,
        &[
            "webhook",
            "add",
            "https://example.org/new",
            "--event",
            "article.edited",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "`article.edited` is not an event; the events are article.created, article.updated, \
             article.deleted, article.restored, article.reverted"
        ),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(hooks().await, 2, "nothing written by a refused add");

    let out = run(&t, &["webhook", "list"]);
    assert_eq!(out.status.code(), Some(0));
    let list = text(&out.stdout);
    assert!(
        list.contains("1\thttps://example.org/hooks/qt\tarticle.updated,article.deleted\tcreated ")
            && list.contains("\t0 pending, 0 delivered, 0 failed"),
        "{list}"
    );
    assert!(
        list.contains("2\thttp://127.0.0.1:9000/in\tall events\t"),
        "{list}"
    );
    assert!(!list.contains(&secret) && !list.contains(&other_secret) && !list.contains("whsec_"));

    for unknown in ["99", "https://nowhere.example/"] {
        let out = run(&t, &["webhook", "remove", unknown]);
        assert_eq!(out.status.code(), Some(1), "{unknown}");
        assert!(
            text(&out.stderr).contains(&format!(
                "no webhook with id or url `{unknown}`; `quicktakes webhook list` shows them"
            )),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(hooks().await, 2);
    let out = run(&t, &["webhook", "remove", "https://example.org/hooks/qt"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("webhook 1 (https://example.org/hooks/qt) removed"));
    let out = run(&t, &["webhook", "remove", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(hooks().await, 0);
    assert_eq!(text(&run(&t, &["webhook", "list"]).stdout), "");
}

#[tokio::test]
async fn serve_refuses_webhook_retry_waits_of_zero_or_a_longest_below_the_first() {
    let t = TestDb::new().await;
    let before = t.snapshot().await;
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").port()
    };
    for (flags, messages) in [
        (
            &["--webhook-retry-ms", "0"][..],
            &["--webhook-retry-ms"][..],
        ),
        (
            &["--webhook-max-retry-ms", "0"],
            &["--webhook-max-retry-ms"],
        ),
        (
            &[
                "--webhook-retry-ms",
                "2000",
                "--webhook-max-retry-ms",
                "1000",
            ],
            &[
                "--webhook-max-retry-ms (1000) is below --webhook-retry-ms (2000)",
                "Usage: quicktakes serve",
            ],
        ),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quicktakes"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--seeds"])
            .arg(seeds_dir())
            .args(flags)
            .env("DATABASE_URL", &t.url)
            .current_dir(t.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        // Refused before anything is opened, it exits by itself; a server
        // that started would not.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().expect("wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("`serve {}` was not refused: it serves", flags.join(" "));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("output");
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "usage error for {flags:?}: {stderr}"
        );
        for message in messages {
            assert!(stderr.contains(message), "{message:?} in: {stderr}");
        }
        assert_eq!(text(&out.stdout), "");
    }
    assert_eq!(t.snapshot().await, before, "nothing written");
}
