//! A generated corpus in the seed format: import, idempotent re-import, and
//! the export round trip, at a size the suite can afford.

use quicktakes::progress::Progress;
use quicktakes::seed::export::export_corpus;
use quicktakes::seed::import::{ImportOptions, import_corpus};
use quicktakes_tests::TestDb;
use quicktakes_tests::generate::write_corpus;

const COUNT: u64 = 300;

#[tokio::test]
async fn generated_corpus_imports_reimports_unchanged_and_round_trips() {
    let t = TestDb::new().await;
    let input = t.path("corpus");
    let paths = write_corpus(&input, COUNT, 7).expect("generate");
    assert_eq!(paths.len() as u64, COUNT);
    let options = ImportOptions {
        paths: vec![input.clone()],
        ..Default::default()
    };
    let report = import_corpus(&t.db, &options, &Progress::silent())
        .await
        .expect("import");
    assert_eq!(
        report.summary(),
        format!("{COUNT} created, 0 updated, 0 unchanged, 0 conflicts, 0 invalid")
    );
    let after_first = t.snapshot().await;

    let report = import_corpus(&t.db, &options, &Progress::silent())
        .await
        .expect("reimport");
    assert_eq!(
        report.summary(),
        format!("0 created, 0 updated, {COUNT} unchanged, 0 conflicts, 0 invalid")
    );
    assert_eq!(t.snapshot().await, after_first);

    let out = t.path("out");
    let n = export_corpus(&t.db, &out, &Progress::silent())
        .await
        .expect("export");
    assert_eq!(n as u64, COUNT);
    for path in paths {
        let name = path.file_name().expect("name");
        let exported = std::fs::read(out.join(name)).expect("exported file");
        assert_eq!(
            exported,
            std::fs::read(&path).expect("input"),
            "{}",
            path.display()
        );
    }
}

/// After a bulk import PostgreSQL plans with fresh statistics: with the old
/// ones (an empty table) it joins a page's links to every article.
#[tokio::test]
async fn a_bulk_import_refreshes_the_planners_statistics_on_postgresql() {
    use sea_orm::{ConnectionTrait, Statement};
    let t = TestDb::new().await;
    if !t.is_postgres() {
        // SQLite's planner keeps no statistics the import must refresh.
        return;
    }
    let analyzed = || async {
        let row =
            t.db.query_one_raw(Statement::from_string(
                t.db.get_database_backend(),
                "SELECT last_analyze IS NOT NULL AS done FROM pg_stat_user_tables WHERE relid = 'article'::regclass",
            ))
            .await
            .expect("query")
            .expect("a row");
        row.try_get::<bool>("", "done").expect("done")
    };
    assert!(!analyzed().await, "nothing analyzed the empty table yet");
    let input = t.path("bulk");
    write_corpus(&input, 1_000, 11).expect("generate");
    let options = ImportOptions {
        paths: vec![input],
        ..Default::default()
    };
    let report = import_corpus(&t.db, &options, &Progress::silent())
        .await
        .expect("import");
    assert_eq!(report.created(), 1_000);
    assert!(analyzed().await, "the import analyzed the tables");
}

/// Memory does not grow with the corpus: the import holds at most a batch
/// of parsed rows at once, and a re-import of unchanged files parses none.
#[tokio::test]
async fn an_import_holds_at_most_a_batch_of_rows_and_reparses_no_unchanged_file() {
    use quicktakes::seed::import::READ_BATCH;
    let t = TestDb::new().await;
    let input = t.path("batches");
    let count = 3 * READ_BATCH as u64 + 1;
    write_corpus(&input, count, 13).expect("generate");
    let options = ImportOptions {
        paths: vec![input],
        ..Default::default()
    };
    let report = import_corpus(&t.db, &options, &Progress::silent())
        .await
        .expect("import");
    assert_eq!(report.created() as u64, count);
    assert!(
        (1..=READ_BATCH).contains(&report.most_rows_in_memory),
        "{} rows held at once",
        report.most_rows_in_memory
    );
    let report = import_corpus(&t.db, &options, &Progress::silent())
        .await
        .expect("reimport");
    assert_eq!(report.unchanged() as u64, count);
    assert_eq!(
        report.most_rows_in_memory, 0,
        "an unchanged file was parsed"
    );
}
