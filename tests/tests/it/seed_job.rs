//! The seed import and export against the real seed: round trips,
//! idempotence, and editors' work surviving re-imports.

use quicktakes::fields::ArticleFields;
use quicktakes::progress::Progress;
use quicktakes::seed::export::export_corpus;
use quicktakes::seed::import::{Action, ImportOptions, ImportReport, import_corpus};
use quicktakes::service::article;
use quicktakes_tests::{TestDb, real_seed_text, seeds_dir};

const ID: i64 = 118_109;

async fn import(t: &TestDb, path: &std::path::Path, force: bool) -> ImportReport {
    let options = ImportOptions {
        paths: vec![path.to_owned()],
        force,
        ..Default::default()
    };
    import_corpus(&t.db, &options, &Progress::silent())
        .await
        .expect("import runs")
}

async fn export(t: &TestDb, dir: &str) -> std::path::PathBuf {
    let out = t.path(dir);
    export_corpus(&t.db, &out, &Progress::silent())
        .await
        .expect("export runs");
    out
}

fn exported_seed(dir: &std::path::Path) -> String {
    std::fs::read_to_string(
        dir.join("what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md"),
    )
    .expect("exported file")
}

async fn fields(t: &TestDb, id: i64) -> ArticleFields {
    article::load(&t.db, id)
        .await
        .expect("load")
        .expect("article exists")
        .fields
}

/// Lines of `b` that differ from `a` (same line count assumed).
fn changed_lines(a: &str, b: &str) -> Vec<usize> {
    assert_eq!(
        a.lines().count(),
        b.lines().count(),
        "line counts differ:\n{b}"
    );
    a.lines()
        .zip(b.lines())
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, _)| i + 1)
        .collect()
}

#[tokio::test]
async fn real_seed_imports_with_every_field_and_exports_byte_for_byte() {
    let t = TestDb::new().await;
    let report = import(&t, &seeds_dir(), false).await;
    assert_eq!(
        report.summary(),
        "1 created, 0 updated, 0 unchanged, 0 conflicts, 0 invalid"
    );
    assert_eq!(report.exit_code(), 0);

    let f = fields(&t, ID).await;
    assert_eq!(
        f.slug,
        "what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients"
    );
    assert_eq!(f.subject, "Medicine");
    assert_eq!(f.subject_slug, "medicine");
    assert_eq!(
        f.title,
        "What is the role of imaging in the follow-up care of HCC patients?"
    );
    assert_eq!(f.article_title, f.title);
    assert_eq!(f.date.map(|d| d.to_string()).as_deref(), Some("2024-12-11"));
    assert_eq!(f.score, None, "-1.0 means unscored");
    assert_eq!(f.author.as_deref(), Some("QuickTakes"));
    assert_eq!(f.seo.title.as_deref(), Some("QuickTakes | Medicine"));
    assert_eq!(f.seo.keywords.len(), 17);
    assert_eq!(f.seo.keywords[0], "HCC");
    assert_eq!(f.seo.keywords[16], "diffusion-weighted imaging");
    assert!(
        f.answer.contains("recurrence.\n\n1. **Surveillance"),
        "escapes decoded"
    );
    assert!(!f.answer.contains("\\n"));
    assert_eq!(f.body, "\n&nbsp;");
    let links: Vec<_> = f
        .related
        .iter()
        .map(|l| (l.position, l.id, l.subject_slug.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            (1, 118_085, "medicine"),
            (2, 118_100, "medicine"),
            (3, 118_086, "medicine"),
            (4, 118_091, "health-studies")
        ]
    );
    let subjects = quicktakes::service::subject::subjects_by_id(&t.db)
        .await
        .expect("subjects");
    let mut names: Vec<_> = subjects
        .values()
        .map(|s| (s.slug.as_str(), s.name.as_str()))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            ("health-studies", "Health Studies"),
            ("medicine", "Medicine")
        ]
    );

    let out = export(&t, "out").await;
    assert_eq!(exported_seed(&out), real_seed_text(), "byte for byte");
}

#[tokio::test]
async fn reimport_of_unchanged_files_changes_nothing() {
    let t = TestDb::new().await;
    import(&t, &seeds_dir(), false).await;
    let before = t.snapshot().await;
    let stored = article::load(&t.db, ID)
        .await
        .expect("load")
        .expect("exists");
    let report = import(&t, &seeds_dir(), false).await;
    assert_eq!(
        report.summary(),
        "0 created, 0 updated, 1 unchanged, 0 conflicts, 0 invalid"
    );
    assert_eq!(t.snapshot().await, before);
    let again = article::load(&t.db, ID)
        .await
        .expect("load")
        .expect("exists");
    assert_eq!(
        again.model, stored.model,
        "no version bump, no timestamp change"
    );
}

#[tokio::test]
async fn answer_edit_changes_only_the_answer_lines_of_the_export() {
    let t = TestDb::new().await;
    import(&t, &seeds_dir(), false).await;
    let edited = quicktakes::service::edit::apply(
        &t.db,
        &Default::default(),
        ID,
        "alice",
        Some("typo"),
        |f| {
            f.answer =
                f.answer.replace("crucial role", "central role") + "\n\nSee \\( \\nu \\) too.";
        },
    )
    .await
    .expect("edit");
    assert_eq!(edited.model.version, 2);

    let out = export(&t, "out").await;
    let text = exported_seed(&out);
    let original = real_seed_text();
    let answer_line = original
        .lines()
        .position(|l| l.starts_with("answer:"))
        .expect("answer key")
        + 2;
    assert_eq!(
        changed_lines(&original, &text),
        [answer_line],
        "only the answer's line"
    );
    assert!(text.contains("central role"));
    assert!(
        text.contains("outcomes.\\n\\nSee \\( \\nu \\) too.\n"),
        "encoded in seed style"
    );

    // And it reads back to the same values.
    let t2 = TestDb::new().await;
    import(&t2, &out, false).await;
    assert_eq!(fields(&t2, ID).await, edited.fields);
}

#[tokio::test]
async fn edits_of_many_keys_rewrite_only_their_lines_and_read_back() {
    let t = TestDb::new().await;
    let dir = t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // An unknown key, kept and exported in its place.
    let seed = real_seed_text().replace(
        "author: QuickTakes\n",
        "author: QuickTakes\nreviewed_by: Dr. Who\n",
    );
    std::fs::write(dir.join("a.md"), &seed).expect("write");
    import(&t, &dir, false).await;
    let edited =
        quicktakes::service::edit::apply(&t.db, &Default::default(), ID, "bob", None, |f| {
            f.title = "A title: with a colon # and hash".into();
            f.score = Some(4.5);
            f.author = None;
            f.seo.keywords = vec!["liver".into(), "MRI".into()];
            f.related.truncate(2);
            f.related[1].title = "Multi\nline".into();
            f.date = None;
            f.post_on_text = "Published".into();
        })
        .await
        .expect("edit");
    let out = export(&t, "out").await;
    let text = exported_seed(&out);
    assert!(
        text.contains("reviewed_by: Dr. Who\n"),
        "unknown key kept:\n{text}"
    );
    assert!(
        text.contains("title: >-\n    A title: with a colon # and hash\n"),
        "{text}"
    );
    assert!(text.contains("score: 4.5\n"));
    assert!(!text.contains("author:"));
    assert!(!text.contains("date: "));
    assert!(text.contains("post_on_text: Published\n"));
    assert!(text.contains("  page_keywords: >-\n    liver, MRI\n"));
    assert!(
        text.contains("        \"Multi\\nline\"") || text.contains("title: \"Multi\\nline\""),
        "{text}"
    );
    assert!(!text.contains("related_article3"));
    // Lines of untouched keys are byte-identical.
    for key in [
        "answer: >-",
        "question: >-",
        "seo:",
        "  title: QuickTakes | Medicine",
        "url: /learn/",
    ] {
        assert!(text.lines().any(|l| l.starts_with(key)), "{key} kept");
    }
    assert!(
        text.contains(
            seed.lines()
                .find(|l| l.starts_with("    Imaging plays"))
                .expect("answer line")
        )
    );

    let t2 = TestDb::new().await;
    import(&t2, &out, false).await;
    assert_eq!(fields(&t2, ID).await, edited.fields);
}

#[tokio::test]
async fn editors_changes_and_deletions_survive_reimport_of_unchanged_files() {
    let t = TestDb::new().await;
    import(&t, &seeds_dir(), false).await;
    quicktakes::service::edit::apply(&t.db, &Default::default(), ID, "alice", None, |f| {
        f.title = "Edited title".into()
    })
    .await
    .expect("edit");
    let report = import(&t, &seeds_dir(), false).await;
    assert_eq!(report.unchanged(), 1);
    assert_eq!(fields(&t, ID).await.title, "Edited title");

    article::delete(&t.db, &Default::default(), ID, "admin", Some("duplicate"))
        .await
        .expect("delete");
    let report = import(&t, &seeds_dir(), false).await;
    assert_eq!(
        report.summary(),
        "0 created, 0 updated, 1 unchanged, 0 conflicts, 0 invalid"
    );
    let stored = article::load(&t.db, ID)
        .await
        .expect("load")
        .expect("tombstone");
    assert!(stored.is_deleted(), "deletion kept");
    let out = export(&t, "out").await;
    assert_eq!(
        std::fs::read_dir(&out).expect("dir").count(),
        0,
        "deleted articles are not exported"
    );
}

#[tokio::test]
async fn changed_file_over_unedited_article_updates_it_with_a_revision() {
    let t = TestDb::new().await;
    let dir = t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.md"), real_seed_text()).expect("write");
    import(&t, &dir, false).await;
    std::fs::write(
        dir.join("a.md"),
        real_seed_text().replace("score: -1.0", "score: 3"),
    )
    .expect("write");
    let report = import(&t, &dir, false).await;
    assert_eq!(
        report.summary(),
        "0 created, 1 updated, 0 unchanged, 0 conflicts, 0 invalid"
    );
    let stored = article::load(&t.db, ID)
        .await
        .expect("load")
        .expect("exists");
    assert_eq!(stored.fields.score, Some(3.0));
    assert_eq!(stored.model.version, 2);
    assert_eq!(
        stored.model.imported_version,
        Some(2),
        "still not edited by anyone"
    );
    let out = export(&t, "out").await;
    assert_eq!(
        exported_seed(&out),
        real_seed_text().replace("score: -1.0", "score: 3")
    );
}

#[tokio::test]
async fn changed_file_over_edited_or_deleted_article_is_a_conflict_unless_forced() {
    use entity::revision;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let t = TestDb::new().await;
    let dir = t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.md"), real_seed_text()).expect("write");
    import(&t, &dir, false).await;
    quicktakes::service::edit::apply(&t.db, &Default::default(), ID, "alice", None, |f| {
        f.answer = "Edited answer.".into()
    })
    .await
    .expect("edit");
    let changed = real_seed_text().replace("score: -1.0", "score: 2.5");
    std::fs::write(dir.join("a.md"), &changed).expect("write");

    let before = t.snapshot().await;
    let report = import(&t, &dir, false).await;
    assert_eq!(
        report.summary(),
        "0 created, 0 updated, 0 unchanged, 1 conflicts, 0 invalid"
    );
    assert_eq!(report.exit_code(), 3);
    assert!(
        matches!(&report.plan[0].action, Action::Conflict(r) if r.contains("edited since its last import"))
    );
    assert_eq!(t.snapshot().await, before, "conflict left alone");
    assert_eq!(fields(&t, ID).await.answer, "Edited answer.");

    let report = import(&t, &dir, true).await;
    assert_eq!(
        report.summary(),
        "0 created, 1 updated, 0 unchanged, 0 conflicts, 0 invalid"
    );
    assert_eq!(report.exit_code(), 0);
    let f = fields(&t, ID).await;
    assert_eq!(f.score, Some(2.5));
    assert!(f.answer.starts_with("Imaging plays"), "file applied");
    let last = revision::Entity::find()
        .filter(revision::Column::ArticleId.eq(ID))
        .order_by_desc(revision::Column::Version)
        .one(&t.db)
        .await
        .expect("query")
        .expect("revision");
    assert_eq!((last.editor.as_str(), last.version), ("import", 3));
    assert!(
        last.changes.contains("\"field\":\"answer\"")
            && last.changes.contains("\"field\":\"score\"")
    );

    // A deleted article with a changed file: conflict too; --force restores it.
    article::delete(&t.db, &Default::default(), ID, "admin", None)
        .await
        .expect("delete");
    std::fs::write(dir.join("a.md"), changed.replace("score: 2.5", "score: 1")).expect("write");
    let report = import(&t, &dir, false).await;
    assert!(matches!(&report.plan[0].action, Action::Conflict(r) if r.contains("deleted")));
    assert!(
        article::load(&t.db, ID)
            .await
            .expect("load")
            .expect("exists")
            .is_deleted()
    );
    let report = import(&t, &dir, true).await;
    assert_eq!(report.updated(), 1);
    let stored = article::load(&t.db, ID)
        .await
        .expect("load")
        .expect("exists");
    assert!(!stored.is_deleted());
    assert_eq!(stored.fields.score, Some(1.0));
}

#[tokio::test]
async fn dry_run_reports_the_plan_and_writes_nothing() {
    let t = TestDb::new().await;
    let before = t.snapshot().await;
    let options = ImportOptions {
        paths: vec![seeds_dir()],
        dry_run: true,
        ..Default::default()
    };
    let report = import_corpus(&t.db, &options, &Progress::silent())
        .await
        .expect("runs");
    assert_eq!(
        report.summary(),
        "1 created, 0 updated, 0 unchanged, 0 conflicts, 0 invalid"
    );
    assert!(!report.written);
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn answer_escapes_keep_math_verbatim() {
    let t = TestDb::new().await;
    let dir = t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let raw = r"Given \( \nu \neq 0 \) and \[ \nabla f \]\n\nthen $$\nabla \n$$ a \\ b \q";
    let seed = real_seed_text().replace(
        &real_seed_text()
            .lines()
            .find(|l| l.starts_with("    Imaging plays"))
            .expect("line")[4..],
        raw,
    );
    std::fs::write(dir.join("a.md"), &seed).expect("write");
    import(&t, &dir, false).await;
    assert_eq!(
        fields(&t, ID).await.answer,
        "Given \\( \\nu \\neq 0 \\) and \\[ \\nabla f \\]\n\nthen $$\\nabla \\n$$ a \\ b \\q"
    );
    let out = export(&t, "out").await;
    assert_eq!(exported_seed(&out), seed);
}

#[tokio::test]
async fn import_notes_name_files_relative_to_the_import_root() {
    use entity::revision;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    async fn notes(t: &TestDb) -> Vec<String> {
        revision::Entity::find()
            .filter(revision::Column::ArticleId.eq(ID))
            .order_by_asc(revision::Column::Version)
            .all(&t.db)
            .await
            .expect("revisions")
            .into_iter()
            .map(|r| r.note.unwrap_or_default())
            .collect()
    }

    let t = TestDb::new().await;
    let root = t.path("corpus");
    std::fs::create_dir_all(root.join("medicine")).expect("mkdir");
    let file = root.join("medicine").join("a.md");
    std::fs::write(&file, real_seed_text()).expect("write");
    import(&t, &root, false).await;
    std::fs::write(&file, real_seed_text().replace("score: -1.0", "score: 3")).expect("write");
    assert_eq!(import(&t, &root, false).await.updated(), 1);
    assert_eq!(
        notes(&t).await,
        ["created from medicine/a.md", "imported from medicine/a.md"]
    );

    // A file given by itself is named by its file name, whatever the path.
    let t2 = TestDb::new().await;
    assert_eq!(import(&t2, &file, false).await.created(), 1);
    assert_eq!(notes(&t2).await, ["created from a.md"]);
    let scratch = t.dir.path().display().to_string();
    for note in notes(&t).await.into_iter().chain(notes(&t2).await) {
        assert!(!note.contains(&scratch), "a server path leaked: {note}");
    }
}

/// The 1-based line of the first line of `text` starting with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .expect("key line")
        + 1
}

#[tokio::test]
async fn a_changed_file_clashing_with_an_unchanged_one_is_reported_in_both() {
    let t = TestDb::new().await;
    let dir = t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let a = dir.join("a.md");
    std::fs::write(&a, real_seed_text()).expect("write");
    assert_eq!(import(&t, &dir, false).await.created(), 1);
    // A new file with another id but the unchanged file's url and file name.
    let b = dir.join("b.md");
    let clash = real_seed_text().replace("id: 118109\n", "id: 7\n");
    std::fs::write(&b, &clash).expect("write");
    let before = t.snapshot().await;
    let report = import(&t, &dir, false).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.summary(),
        "0 created, 0 updated, 0 unchanged, 0 conflicts, 2 invalid",
        "{:?}",
        report.problems
    );
    let url = line_of(&real_seed_text(), "url:");
    let file_name = line_of(&real_seed_text(), "file_name:");
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    let (a, b) = (a.display().to_string(), b.display().to_string());
    let url_value = "/learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients";
    for expected in [
        format!("{a}:{url}:1: duplicate url `{url_value}`: also in {b}:{url}"),
        format!("{b}:{url}:1: duplicate url `{url_value}`: also in {a}:{url}"),
        format!(
            "{a}:{file_name}:1: duplicate file_name `what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients.md`: also in {b}:{file_name}"
        ),
        format!(
            "{b}:{url}:1: url `{url_value}` is already used by article {ID} in the database; change it here or edit that article"
        ),
    ] {
        assert!(
            problems.contains(&expected),
            "{expected}\nnot in {problems:#?}"
        );
    }
    assert_eq!(t.snapshot().await, before, "nothing written");
}

#[tokio::test]
async fn two_copies_of_an_unchanged_file_are_duplicates() {
    let t = TestDb::new().await;
    let dir = t.path("in");
    std::fs::create_dir_all(dir.join("copy")).expect("mkdir");
    std::fs::write(dir.join("a.md"), real_seed_text()).expect("write");
    assert_eq!(import(&t, &dir, false).await.created(), 1);
    std::fs::write(dir.join("copy").join("a.md"), real_seed_text()).expect("write");
    let report = import(&t, &dir, false).await;
    assert_eq!(report.invalid_files, 2, "{:?}", report.problems);
    let id = line_of(&real_seed_text(), "id:");
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    let copy = dir.join("copy").join("a.md").display().to_string();
    assert!(
        problems.contains(&format!(
            "{}:{id}:1: duplicate id `{ID}`: also in {copy}:{id}",
            dir.join("a.md").display()
        )),
        "{problems:#?}"
    );
}

#[tokio::test]
async fn an_unchanged_file_of_an_edited_article_keeps_the_files_own_keys() {
    // The article's url moved since; the unchanged file still holds the old
    // one, which a new file may not take.
    let t = TestDb::new().await;
    let dir = t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("a.md"), real_seed_text()).expect("write");
    import(&t, &dir, false).await;
    quicktakes::service::edit::apply(&t.db, &Default::default(), ID, "alice", None, |f| {
        f.url = "/learn/medicine/questions/moved".into();
        f.slug = "moved".into();
    })
    .await
    .expect("edit");
    let clash = real_seed_text()
        .replace("id: 118109\n", "id: 7\n")
        .replace("file_name: what-is", "file_name: other-what-is");
    std::fs::write(dir.join("b.md"), clash).expect("write");
    let report = import(&t, &dir, false).await;
    assert_eq!(report.invalid_files, 2, "{:?}", report.problems);
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.message.starts_with("duplicate url")
                || p.message.starts_with("duplicate slug")),
        "{:?}",
        report.problems
    );
}
