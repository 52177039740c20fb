//! What the databases' own errors mean: each is classified in one place
//! (`quicktakes::error::classify`); these provoke the real errors on the
//! database under test and check the error quicktakes makes of them.

use entity::{article, editor_token};
use quicktakes::error::{Code, Error, Foreign, classify};
use quicktakes::service::token::Role;
use quicktakes_tests::{TestApp, TestDb, error_code};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::json;

const ID: i64 = 118_109;

#[tokio::test]
async fn a_unique_value_the_database_refuses_names_its_field() {
    let app = TestApp::with_seeds().await;
    let stored = article::Entity::find_by_id(ID)
        .one(&app.t.db)
        .await
        .expect("read")
        .expect("seeded");
    let before = app.t.snapshot().await;

    // Another article with the same slug, past the service's own check.
    let mut copy = stored.clone().into_active_model();
    copy.id = Set(ID + 1);
    copy.url = Set("elsewhere".into());
    copy.file_name = Set("elsewhere.md".into());
    let err = copy.insert(&app.t.db).await.expect_err("the slug is taken");
    assert_eq!(classify(&err), Foreign::Taken(Some("slug")), "{err}");
    let err = Error::from(err);
    assert_eq!(err.code(), Code::BadUserInput);
    assert!(
        matches!(&err, Error::BadInput { field, .. } if field == "slug"),
        "{err:?}"
    );

    // The same id: the primary key.
    let mut twin = stored.into_active_model();
    twin.slug = Set("another-slug".into());
    twin.url = Set("another-url".into());
    twin.file_name = Set("another.md".into());
    let err = article::Entity::insert(twin)
        .exec_without_returning(&app.t.db)
        .await
        .expect_err("the id is taken");
    assert_eq!(classify(&err), Foreign::Taken(Some("id")), "{err}");
    assert_eq!(app.t.snapshot().await, before, "no article was written");

    // A token name, past the service's own check.
    app.token("alice", Role::Editor).await;
    let before_tokens = app.t.snapshot().await;
    let err = editor_token::ActiveModel {
        name: Set("alice".into()),
        role: Set("editor".into()),
        secret_hash: Set("x".into()),
        created_at: Set(chrono::Utc::now()),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&app.t.db)
    .await
    .expect_err("the name is taken");
    assert!(
        matches!(Error::from(err), Error::BadInput { field, .. } if field == "name"),
        "the token's name"
    );
    assert_eq!(
        app.t.snapshot().await,
        before_tokens,
        "no token was written"
    );
}

#[tokio::test]
async fn a_score_overflow_is_the_callers_on_both_databases() {
    let app = TestApp::with_seeds().await;
    let token = app.token("alice", Role::Editor).await;
    let q = "mutation($d: Float!) { adjustScore(id: \"118109\", delta: $d) { score version } }";
    let r = app
        .gql_as(Some(&token), q, json!({ "d": 1e308 }))
        .await
        .json();
    assert_eq!(r["data"]["adjustScore"]["version"], 2, "{r}");
    let before = app.t.snapshot().await;
    // PostgreSQL refuses the sum (SQLSTATE 22003); SQLite stores infinity.
    let r = app
        .gql_as(Some(&token), q, json!({ "d": 1e308 }))
        .await
        .json();
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "delta", "{r}");
    assert!(!r.to_string().contains("out of range"), "{r}");
    assert_eq!(app.t.snapshot().await, before, "nothing was written");
    let stored = quicktakes::service::article::load(&app.t.db, ID)
        .await
        .expect("load")
        .expect("exists");
    assert_eq!(stored.model.version, 2);
}

#[tokio::test]
async fn a_writer_that_cannot_get_the_sqlite_lock_is_busy() {
    let t = TestDb::with_options(|o| o.busy_timeout = std::time::Duration::from_millis(100)).await;
    if t.is_postgres() {
        // PostgreSQL writers wait on row locks; there is no file lock to miss.
        return;
    }
    let other = quicktakes::db::connect(&quicktakes::db::DbOptions::new(&t.url))
        .await
        .expect("second pool");
    let held = quicktakes::db::begin_write(&other).await.expect("lock");
    let err = quicktakes::db::begin_write(&t.db)
        .await
        .expect_err("the lock is held");
    assert!(matches!(err, Error::Busy), "{err:?}");
    assert_eq!(err.code(), Code::Busy);
    held.rollback().await.expect("release");
}

#[tokio::test]
async fn a_statement_stopped_by_the_postgresql_timeout_is_a_timeout_limit() {
    use sea_orm::{ConnectionTrait, Statement};
    let t = TestDb::with_options(|o| {
        o.statement_timeout = Some(std::time::Duration::from_millis(100));
    })
    .await;
    if !t.is_postgres() {
        // SQLite has no statement timeout; the request timeout stops it.
        return;
    }
    let err =
        t.db.execute_raw(Statement::from_string(
            t.db.get_database_backend(),
            "SELECT pg_sleep(30)",
        ))
        .await
        .expect_err("stopped by the statement timeout");
    assert_eq!(classify(&err), Foreign::StatementTimeout, "{err}");
    let err = Error::from(err);
    assert!(
        matches!(
            err,
            Error::QueryLimit {
                limit: "timeout",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("canceling"), "{err}");
}
