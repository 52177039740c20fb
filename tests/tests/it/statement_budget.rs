//! Statement budgets: a statement that outlives its pool's budget is stopped
//! in the database (a SQLite progress handler, PostgreSQL's
//! `statement_timeout`), the client sees the `timeout` limit, and the connection
//! serves again. Anonymous reads have a pool and a budget of their own.

use std::time::Duration;

use quicktakes::db::{DbOptions, connect};
use quicktakes::service::token::Role;
use quicktakes_tests::generate::write_corpus;
use quicktakes_tests::{TestApp, TestDb, error_code};
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement, TransactionTrait};
use serde_json::{Value, json};

/// Far longer than any budget here takes to fire, far shorter than the work
/// it stops: reaching it means the statement was not stopped.
const LIVENESS: Duration = Duration::from_secs(30);

#[derive(Debug, FromQueryResult)]
struct N {
    n: i64,
}

/// The `n` of the one row `sql` returns.
async fn one_number(db: &impl ConnectionTrait, sql: &str) -> Result<i64, sea_orm::DbErr> {
    let row = N::find_by_statement(Statement::from_string(db.get_database_backend(), sql))
        .one(db)
        .await?;
    Ok(row.map_or(-1, |r| r.n))
}

/// A pool of one connection (so the next statement reuses the stopped
/// one) with the statement budget `budget`.
async fn budgeted_pool(t: &TestDb, budget: Duration) -> DatabaseConnection {
    let mut options = DbOptions::new(&t.url);
    options.max_connections = 1;
    options.statement_timeout = Some(budget);
    connect(&options).await.expect("connect the budgeted pool")
}

#[tokio::test]
async fn a_statement_past_its_budget_is_stopped_and_the_connection_serves_again() {
    let t = TestDb::new().await;
    let pool = budgeted_pool(&t, Duration::from_millis(50)).await;
    // Endless on SQLite (it counts forever) and a minute on PostgreSQL.
    let (slow, stopped_by) = if t.is_postgres() {
        (
            "SELECT count(*)::int8 AS n FROM pg_sleep(60)",
            "statement timeout",
        )
    } else {
        (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c",
            "interrupted",
        )
    };
    let err = tokio::time::timeout(LIVENESS, one_number(&pool, slow))
        .await
        .expect("the statement is stopped at its budget")
        .expect_err("the statement fails");
    assert!(err.to_string().contains(stopped_by), "{err}");
    // Shown to a client as the timeout limit, with no database text.
    assert!(matches!(
        quicktakes::error::Error::from(err),
        quicktakes::error::Error::QueryLimit {
            limit: "timeout",
            ..
        }
    ));
    // The one connection is free again (the statement no longer runs), and
    // its next checkout has a budget of its own: a statement long enough to
    // be checked several times, but far quicker than the budget, runs.
    let counted = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) \
                   SELECT count(*) AS n FROM c";
    for _ in 0..2 {
        let n = tokio::time::timeout(LIVENESS, one_number(&pool, counted))
            .await
            .expect("the connection is free")
            .expect("a quick statement runs");
        assert_eq!(n, 1000);
    }
}

#[tokio::test]
async fn on_sqlite_a_write_that_keeps_writing_rows_is_not_cut() {
    let t = TestDb::new().await;
    if t.is_postgres() {
        // PostgreSQL's budget is per statement; this is SQLite's checkout budget.
        return;
    }
    let budget = Duration::from_millis(50);
    let pool = budgeted_pool(&t, budget).await;
    let txn = pool.begin().await.expect("begin");
    txn.execute_unprepared("CREATE TEMP TABLE filler(x INTEGER)")
        .await
        .expect("create");
    let started = std::time::Instant::now();
    // Two million rows in one statement take well over 50 ms anywhere.
    txn.execute_unprepared(
        "INSERT INTO filler WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT x FROM c",
    )
    .await
    .expect("a write making progress runs past the budget");
    assert!(started.elapsed() > budget, "the write outlasted the budget");
    // Reading only, the same connection is stopped again once over the budget.
    let endless = one_number(
        &txn,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c",
    );
    let err = tokio::time::timeout(LIVENESS, endless)
        .await
        .expect("the read is stopped at its budget")
        .expect_err("an endless read fails");
    assert!(err.to_string().contains("interrupted"), "{err}");
    txn.rollback().await.expect("rollback");
}

const LIST: &str = "{ articles(first: 100) { totalCount nodes { title } } }";

/// The `timeout` limit, with no database text.
fn assert_stopped_by_its_budget(r: &Value) {
    assert_eq!(error_code(r), "QUERY_LIMIT", "{r}");
    let error = &r["errors"][0];
    assert_eq!(error["extensions"]["limit"], "timeout", "{r}");
    let text = r.to_string().to_lowercase();
    for leak in ["interrupt", "sqlite", "statement timeout", "cancel", "sqlx"] {
        assert!(!text.contains(leak), "{leak} leaked: {r}");
    }
}

#[tokio::test]
async fn an_anonymous_read_past_the_read_budget_is_stopped_and_editors_use_the_main_pool() {
    let t = TestDb::new().await;
    if t.is_postgres() {
        postgres_read_budget(t).await;
    } else {
        sqlite_read_budget(t).await;
    }
}

/// SQLite: a read budget of a microsecond stops every statement that runs
/// past its first budget check (1,000 steps), such as a page of 100 of 300
/// articles; short statements still run, and editors' reads, on the main
/// pool without a budget, are whole.
async fn sqlite_read_budget(t: TestDb) {
    let corpus = t.path("corpus");
    write_corpus(&corpus, 300, 11).expect("generate");
    let app = TestApp::with_read_pool(t, Default::default(), |o| {
        o.max_connections = 1;
        o.statement_timeout = Some(Duration::from_micros(1));
    })
    .await;
    app.import(&corpus).await;
    let token = app.token("budget", Role::Editor).await;
    let r = app.gql(LIST, json!({})).await;
    assert_stopped_by_its_budget(&r);
    let r = app.gql_as(Some(&token), LIST, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["data"]["articles"]["totalCount"],
        300,
        "{}",
        r.text()
    );
    // The read pool's one connection serves again.
    let data = app.data("{ subjects { name } }", json!({})).await;
    assert!(data["subjects"].is_array());
}

/// PostgreSQL: a lock makes reads of `article` wait; the read pool's 50 ms
/// `statement_timeout` cancels an anonymous read in the server, while an
/// editor's read on the main pool waits it out and succeeds.
async fn postgres_read_budget(t: TestDb) {
    let app = TestApp::with_read_pool(t, Default::default(), |o| {
        o.max_connections = 1;
        o.statement_timeout = Some(Duration::from_millis(50));
    })
    .await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    let token = app.token("budget", Role::Editor).await;
    let lock = app.t.db.begin().await.expect("begin");
    lock.execute_unprepared("LOCK TABLE article IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");

    let r = tokio::time::timeout(LIVENESS, app.gql(LIST, json!({})))
        .await
        .expect("the read is cancelled at its budget");
    assert_stopped_by_its_budget(&r);
    // Cancelled in the server: nothing waits for the lock any more.
    assert_eq!(waiting_for_article(&app.t.db, 0).await, 0);

    let editor = app.gql_as(Some(&token), LIST, json!({}));
    let release = async {
        // Once the editor's read has waited four times the read budget, let it in.
        tokio::time::timeout(LIVENESS, async {
            while waiting_for_article(&app.t.db, 200).await == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the editor's read waits for the lock");
        lock.commit().await.expect("release the lock");
    };
    let (r, ()) = tokio::join!(editor, release);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["data"]["articles"]["totalCount"],
        1,
        "{}",
        r.text()
    );
    // The read pool's one connection serves again.
    let data = app.data(LIST, json!({})).await;
    assert_eq!(data["articles"]["totalCount"], 1);
}

/// Statements of this test's schema waiting for a lock on `article` for at
/// least `ms` milliseconds.
async fn waiting_for_article(db: &DatabaseConnection, ms: u32) -> i64 {
    one_number(
        db,
        &format!(
            "SELECT count(*)::int8 AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.relation = 'article'::regclass AND NOT l.granted \
             AND clock_timestamp() - a.query_start >= interval '{ms} milliseconds'"
        ),
    )
    .await
    .expect("read pg_locks")
}

#[tokio::test]
async fn the_read_pool_serves_normal_reads_within_its_budget() {
    let t = TestDb::new().await;
    let app = TestApp::with_read_pool(t, Default::default(), |o| {
        o.statement_timeout = Some(Duration::from_millis(5_000));
    })
    .await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    let data = app
        .data(
            "{ articles { totalCount nodes { title subject { name } related { title } } } search(query: \"imaging\") { totalCount edges { snippet } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["articles"]["totalCount"], 1);
    assert_eq!(data["search"]["totalCount"], 1);
    assert!(
        data["search"]["edges"][0]["snippet"]
            .as_str()
            .is_some_and(|s| s.contains("<mark>")),
        "{data}"
    );
}

/// Anonymous reads wait their turn for the read pool's connections: forty
/// article pages at once over a pool of two all get their answer.
#[tokio::test]
async fn more_readers_than_read_connections_all_get_their_pages() {
    let t = TestDb::new().await;
    let app = TestApp::with_read_pool(t, Default::default(), |o| {
        o.max_connections = 2;
        o.statement_timeout = Some(Duration::from_millis(5_000));
    })
    .await;
    app.import(&quicktakes_tests::seeds_dir()).await;
    let query = "{ articles { nodes { title answer subject { name } related { title article { title } } } } }";
    let pages = futures_util::future::join_all((0..40).map(|_| app.data(query, json!({})))).await;
    for page in &pages {
        assert_eq!(page, &pages[0]);
    }
    assert_eq!(
        pages[0]["articles"]["nodes"][0]["subject"]["name"],
        "Medicine"
    );
}
