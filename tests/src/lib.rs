//! Test support for quicktakes: a fresh, migrated database per test, on
//! SQLite by default or on PostgreSQL when `TEST_DATABASE_URL` is set.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => postgres_schema(&base).await,
            _ => format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
        };
        let db = quicktakes::db::connect(&quicktakes::db::DbOptions::new(&url))
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
