//! Test support for quicktakes: a fresh, migrated database per test, on
//! SQLite by default or on PostgreSQL when `TEST_DATABASE_URL` is set.

pub mod generate;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Statement};

/// Folder of the real seed corpus.
pub fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds")
}

/// The real seed file.
pub fn real_seed() -> PathBuf {
    seeds_dir().join("what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md")
}

/// The text of the real seed file.
pub fn real_seed_text() -> String {
    std::fs::read_to_string(real_seed()).expect("the real seed is readable")
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database of its own for one test: a SQLite file in a temporary folder,
/// or a fresh schema of the PostgreSQL database named by `TEST_DATABASE_URL`.
pub struct TestDb {
    /// Connection to the test database, migrated.
    pub db: DatabaseConnection,
    /// The URL the binary can be pointed at (`DATABASE_URL`).
    pub url: String,
    /// Scratch folder owned by the test (also holds the SQLite file).
    pub dir: tempfile::TempDir,
}

impl TestDb {
    /// Creates and migrates a database for one test.
    pub async fn new() -> Self {
        Self::with_options(|_| {}).await
    }

    /// Like [`TestDb::new`], with connection options adjusted by `adjust`.
    pub async fn with_options(adjust: impl FnOnce(&mut quicktakes::db::DbOptions)) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => postgres_schema(&base).await,
            _ => format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
        };
        let mut options = quicktakes::db::DbOptions::new(&url);
        adjust(&mut options);
        let db = quicktakes::db::connect(&options)
            .await
            .expect("connect to the test database");
        quicktakes::db::migrate_up(&db).await.expect("migrate");
        Self { db, url, dir }
    }

    /// Whether this test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// A path inside the test's scratch folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Row counts of every table, to prove that nothing was written.
    pub async fn snapshot(&self) -> Vec<(&'static str, u64)> {
        use entity::prelude::*;
        let db = &self.db;
        vec![
            ("article", Article::find().count(db).await.expect("count")),
            ("subject", Subject::find().count(db).await.expect("count")),
            (
                "article_link",
                ArticleLink::find().count(db).await.expect("count"),
            ),
            (
                "article_alias",
                ArticleAlias::find().count(db).await.expect("count"),
            ),
            ("revision", Revision::find().count(db).await.expect("count")),
        ]
    }
}

/// Creates a schema of its own in the database at `base` and returns a URL
/// whose connections use it.
async fn postgres_schema(base: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let schema = format!(
        "t_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let admin = sea_orm::Database::connect(base)
        .await
        .expect("connect to TEST_DATABASE_URL");
    admin
        .execute_raw(Statement::from_string(
            admin.get_database_backend(),
            format!("CREATE SCHEMA {schema}"),
        ))
        .await
        .expect("create test schema");
    admin.close().await.ok();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// The whole application over a [`TestDb`]: requests go through the same
/// router the server runs, and every SQL statement is counted.
pub struct TestApp {
    /// The database.
    pub t: TestDb,
    /// The router, as `quicktakes serve` builds it.
    pub router: axum::Router,
    /// The schema behind the router, behind its policy (for subscriptions).
    pub api: quicktakes::graphql::Api,
    /// Where the application announces committed changes (its mutations'
    /// and [`TestApp::import`]'s).
    pub changes: quicktakes::service::changes::ChangeSink,
    /// Anonymous reads through rusqlite, as the server makes them on SQLite.
    sqlite_reads: Option<quicktakes::db::SqliteReads>,
    statements: std::sync::Arc<AtomicU64>,
}

/// A response as the tests look at it.
pub struct TestResponse {
    /// Status code.
    pub status: axum::http::StatusCode,
    /// Headers.
    pub headers: axum::http::HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, or "".
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

impl TestApp {
    /// An application over an empty, migrated database.
    pub async fn new() -> Self {
        Self::with_assets(None).await
    }

    /// An application serving GraphiQL's files from `assets`.
    pub async fn with_assets(assets: Option<PathBuf>) -> Self {
        let config = quicktakes::http::HttpConfig {
            graphiql_assets: assets,
            ..Default::default()
        };
        Self::over(TestDb::new().await, config)
    }

    /// An application with the given HTTP configuration (limits, CORS, rate limit).
    pub async fn with_config(config: quicktakes::http::HttpConfig) -> Self {
        Self::over(TestDb::new().await, config)
    }

    /// An application over a prepared database.
    pub fn over(t: TestDb, config: quicktakes::http::HttpConfig) -> Self {
        let reads = quicktakes::db::DbOptions::new(&t.url);
        Self::over_pools(t, None, &reads, config, Default::default())
    }

    /// An application whose anonymous reads go through a pool of their own,
    /// opened on the test database with its options adjusted by `adjust`
    /// (a statement budget, a pool size), as `quicktakes serve` does.
    pub async fn with_read_pool(
        t: TestDb,
        config: quicktakes::http::HttpConfig,
        adjust: impl FnOnce(&mut quicktakes::db::DbOptions),
    ) -> Self {
        let mut options = quicktakes::db::DbOptions::new(&t.url);
        adjust(&mut options);
        let reads = quicktakes::db::connect(&options)
            .await
            .expect("connect the read pool");
        Self::over_pools(t, Some(reads), &options, config, Default::default())
    }

    /// An application whose anonymous reads go to the PostgreSQL read
    /// replicas at `urls` while one is reachable, as `serve
    /// --read-database-url` makes it; their checks run from now on.
    pub async fn with_replicas(t: TestDb, urls: &[String]) -> Self {
        let options = quicktakes::db::DbOptions::new(&t.url);
        let replicas = quicktakes::db::Replicas::connect(urls, &options)
            .await
            .expect("replica pools");
        replicas.spawn_checks();
        Self::over_pools(t, None, &options, Default::default(), replicas)
    }

    /// The whole application, with anonymous reads through `reads` (the
    /// main pool when `None`) and, on SQLite, through rusqlite connections
    /// opened with `read_options`.
    fn over_pools(
        mut t: TestDb,
        mut reads: Option<DatabaseConnection>,
        read_options: &quicktakes::db::DbOptions,
        config: quicktakes::http::HttpConfig,
        replicas: quicktakes::db::Replicas,
    ) -> Self {
        let statements = std::sync::Arc::new(AtomicU64::new(0));
        let log = std::env::var_os("QUICKTAKES_TEST_LOG_SQL").is_some();
        let count = {
            let statements = statements.clone();
            move |sql: &str| {
                statements.fetch_add(1, Ordering::Relaxed);
                if log {
                    eprintln!("sql: {sql}");
                }
            }
        };
        for db in std::iter::once(&mut t.db).chain(reads.as_mut()) {
            let count = count.clone();
            db.set_metric_callback(move |info| count(&info.statement.sql));
        }
        let mut sqlite_reads =
            quicktakes::db::SqliteReads::open(read_options).expect("open the SQLite read pool");
        if let Some(sqlite) = &mut sqlite_reads {
            sqlite.on_statement(count);
        }
        let changes = quicktakes::service::changes::ChangeSink::default();
        let api = quicktakes::graphql::build_api(
            t.db.clone(),
            changes.clone(),
            &config.limits,
            config.preview.clone(),
        );
        let mut state = quicktakes::http::AppState::new(api.clone(), t.db.clone(), &config);
        if let Some(reads) = reads {
            state = state.with_read_pool(reads);
        }
        state = state
            .with_sqlite_reads(sqlite_reads.clone())
            .with_replicas(replicas);
        let router = quicktakes::http::app(state, &config);
        Self {
            t,
            router,
            api,
            changes,
            sqlite_reads,
            statements,
        }
    }

    /// An application with the real seed loaded.
    pub async fn with_seeds() -> Self {
        let app = Self::new().await;
        app.import(&seeds_dir()).await;
        app
    }

    /// Imports seed files in-process, as the server does at startup (its
    /// changes are announced to the app's subscribers); panics unless every
    /// file is valid.
    pub async fn import(&self, path: &Path) {
        let options = quicktakes::seed::import::ImportOptions {
            paths: vec![path.to_owned()],
            changes: self.changes.clone(),
            ..Default::default()
        };
        let report = quicktakes::seed::import::import_corpus(
            &self.t.db,
            &options,
            &quicktakes::progress::Progress::silent(),
        )
        .await
        .expect("import runs");
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    /// `request` with the data every transport gives an anonymous request
    /// (the server's one factory), to run straight on [`TestApp::api`].
    pub fn anonymous(&self, request: async_graphql::Request) -> async_graphql::Request {
        let pools = quicktakes::graphql::request::Pools {
            main: self.t.db.clone(),
            read: self.t.db.clone(),
            sqlite: self.sqlite_reads.clone(),
        };
        let caller = quicktakes::graphql::request::Caller {
            editor: None,
            request_id: "test".to_owned(),
        };
        pools.prepare(&caller, request)
    }

    /// SQL statements run so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Sends a request through the router.
    pub async fn send(&self, request: axum::http::Request<axum::body::Body>) -> TestResponse {
        use tower::ServiceExt;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        TestResponse {
            status,
            headers,
            body: body.to_vec(),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .expect("request");
        self.send(request).await
    }

    /// POSTs a GraphQL request as JSON and returns the response body.
    pub async fn gql(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        self.send(request).await.json()
    }

    /// POSTs a GraphQL request with `Authorization: Bearer <token>` when given.
    pub async fn gql_as(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> TestResponse {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let mut request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(
            request
                .body(axum::body::Body::from(body.to_string()))
                .expect("request"),
        )
        .await
    }

    /// Creates a token and returns its secret.
    pub async fn token(&self, name: &str, role: quicktakes::service::token::Role) -> String {
        quicktakes::service::token::create(&self.t.db, name, role, chrono::Utc::now())
            .await
            .expect("token")
    }

    /// Like [`TestApp::gql`], but panics on any GraphQL error and returns `data`.
    pub async fn data(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        let response = self.gql(query, variables).await;
        assert!(response.get("errors").is_none(), "errors: {response:#}");
        response["data"].clone()
    }
}

/// The `extensions.code` of a response's first error.
pub fn error_code(response: &serde_json::Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

/// Longest any socket step of [`Server`] may take: a liveness bound, not a
/// timing claim.
const SERVER_PATIENCE: Duration = Duration::from_secs(10);

/// A router served on 127.0.0.1 by the server's own accept loop
/// ([`quicktakes::http::listener::serve`]), as `quicktakes serve` runs it:
/// real sockets, so the limits see each peer's address.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Serves `router` on a free port of 127.0.0.1.
    pub async fn start(
        router: axum::Router,
        limits: quicktakes::http::listener::ConnectionLimits,
    ) -> Self {
        let socket = tokio::net::TcpListener::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
            .await
            .expect("bind");
        let addr = socket.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(quicktakes::http::listener::serve(
            socket,
            router,
            limits,
            async {
                let _ = stopped.await;
            },
        ));
        Self { addr, stop, task }
    }

    /// Opens a connection from `from` (any 127.0.0.0/8 address on Linux).
    pub async fn connect(&self, from: IpAddr) -> tokio::net::TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(from, 0)).expect("bind client");
        tokio::time::timeout(SERVER_PATIENCE, socket.connect(self.addr))
            .await
            .expect("connects in time")
            .expect("connects")
    }

    /// Stops the server; it must return.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(SERVER_PATIENCE, self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task ends cleanly");
    }
}

/// `F1` holds the article's title; each `F(n)` spreads `F(n-1)` ten times,
/// so `F(levels)` stands for 10^(levels-1) fields in a few hundred bytes.
pub fn fragment_fan_out(levels: usize) -> String {
    let mut q = format!(
        "query {{ article(id: \"118109\") {{ ...F{levels} }} }} fragment F1 on Article {{ title }}"
    );
    for n in 2..=levels {
        let spreads = format!("...F{} ", n - 1).repeat(10);
        q.push_str(&format!(" fragment F{n} on Article {{ {spreads}}}"));
    }
    q
}
