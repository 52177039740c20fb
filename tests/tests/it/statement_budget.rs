//! Statement budgets: a statement that outlives its pool's budget is stopped
//! in the database (a SQLite progress handler, PostgreSQL's
//! `statement_timeout`), the client sees a masked error, and the connection
//! serves again. Anonymous reads have a pool and a budget of their own.

use std::time::Duration;

use quicktakes::db::{DbOptions, connect};
use quicktakes_tests::TestDb;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement, TransactionTrait};

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
    // Shown to a client as a masked database error.
    assert!(matches!(
        quicktakes::error::Error::from(err),
        quicktakes::error::Error::Database(_)
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
