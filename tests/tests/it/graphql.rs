//! Every Query field through the schema: GraphQL in, JSON out.

use quicktakes::service::article;
use quicktakes_tests::{TestApp, error_code};
use serde_json::{Value, json};

const SLUG: &str = "what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients";
const URL: &str =
    "/learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients";

/// Writes a seed for article `id` into `dir`, with the given extra keys.
fn write_article(dir: &std::path::Path, id: i64, title: &str, subject: &str, extra: &str) {
    let slug = format!("article-{id}");
    let subject_slug = subject.to_lowercase().replace(' ', "-");
    let text = format!(
        "---\nid: {id}\ntitle: {title}\nquestion: >-\n    What about {title}?\nanswer: >-\n    The answer about {title}.\\n\\nMore text here.\nsubject: {subject}\nurl: /learn/{subject_slug}/questions/{slug}\n{extra}---\n"
    );
    std::fs::write(dir.join(format!("{slug}.md")), text).expect("write seed");
}

/// Five small articles with dates, scores and links; returns the app.
async fn small_corpus() -> TestApp {
    let app = TestApp::new().await;
    let dir = app.t.path("small");
    std::fs::create_dir_all(&dir).expect("mkdir");
    write_article(
        &dir,
        1,
        "banana bread",
        "Cooking",
        "date: 2024-01-05\nscore: 3.5\n",
    );
    write_article(
        &dir,
        2,
        "Apple pie",
        "Cooking",
        "date: 2024-03-01\nscore: 4\nrelated_article1:\n    id: 1\n    title: Old copy\n    subject: Cooking\n    url: /learn/cooking/questions/old\n",
    );
    write_article(
        &dir,
        3,
        "cherry tart",
        "Baking",
        "score: -1\nrelated_article1:\n    id: 1\n    title: x\n    subject: Cooking\n    url: /learn/cooking/questions/article-1\n",
    );
    write_article(&dir, 4, "Date cake", "Baking", "date: 2023-07-09\n");
    write_article(
        &dir,
        5,
        "eclair",
        "Cooking",
        "date: 2024-03-01\nscore: 1.25\n",
    );
    app.import(&dir).await;
    app
}

fn ids(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn article_by_id_slug_or_url_with_every_field() {
    let app = TestApp::with_seeds().await;
    let q = r#"query($id: ID, $slug: String, $url: String) {
        article(id: $id, slug: $slug, url: $url) {
            id slug url fileName title articleTitle question answer answerHtml
            excerpt short: excerpt(length: 40) author date displayDate dateFormat postOnText template
            score subject { id name slug articleCount } seo { title description keywords }
            related { position targetId title url subject { name slug } article { id } }
            relatedFrom { totalCount nodes { id } }
            version createdAt updatedAt
        } }"#;
    let by_id = app.data(q, json!({ "id": "118109" })).await;
    let a = &by_id["article"];
    assert_eq!(a["id"], "118109");
    assert_eq!(a["slug"], SLUG);
    assert_eq!(a["url"], URL);
    assert_eq!(a["fileName"], format!("{SLUG}.md"));
    assert_eq!(
        a["title"],
        "What is the role of imaging in the follow-up care of HCC patients?"
    );
    assert_eq!(a["articleTitle"], a["title"]);
    assert!(
        a["answer"]
            .as_str()
            .expect("answer")
            .contains("recurrence.\n\n1. **Surveillance")
    );
    let html = a["answerHtml"].as_str().expect("html");
    assert!(
        html.contains("<ol>") && html.contains("<strong>Surveillance and Diagnosis</strong>"),
        "{html}"
    );
    let excerpt = a["excerpt"].as_str().expect("excerpt");
    assert!(
        excerpt.chars().count() <= 200 && excerpt.ends_with('…'),
        "{excerpt}"
    );
    assert!(excerpt.starts_with("Imaging plays a crucial role"));
    assert!(!excerpt.contains("**"), "plain text");
    assert!(a["short"].as_str().expect("short").chars().count() <= 40);
    assert_eq!(a["author"], "QuickTakes");
    assert_eq!(a["date"], "2024-12-11");
    assert_eq!(a["displayDate"], "Dec 11, 2024");
    assert_eq!(a["dateFormat"], "MMM DD, YYYY");
    assert_eq!(a["postOnText"], "Posted on");
    assert_eq!(a["template"], "default");
    assert_eq!(a["score"], Value::Null, "unscored");
    assert_eq!(a["subject"]["name"], "Medicine");
    assert_eq!(a["subject"]["slug"], "medicine");
    assert_eq!(a["subject"]["articleCount"], 1);
    assert_eq!(a["seo"]["title"], "QuickTakes | Medicine");
    assert_eq!(a["seo"]["keywords"].as_array().expect("keywords").len(), 17);
    let related = a["related"].as_array().expect("related");
    assert_eq!(related.len(), 4);
    assert_eq!(related[0]["position"], 1);
    assert_eq!(related[0]["targetId"], "118085");
    assert_eq!(
        related[0]["title"],
        "How is PET-CT used in the diagnosis and management of HCC?"
    );
    assert_eq!(related[0]["article"], Value::Null, "target not loaded");
    assert_eq!(related[3]["subject"]["name"], "Health Studies");
    assert_eq!(related[3]["subject"]["slug"], "health-studies");
    assert_eq!(a["relatedFrom"]["totalCount"], 0);
    assert_eq!(a["version"], 1);

    assert_eq!(app.data(q, json!({ "slug": SLUG })).await, by_id);
    assert_eq!(app.data(q, json!({ "url": URL })).await, by_id);
    assert_eq!(
        app.data(q, json!({ "slug": "nope" })).await["article"],
        Value::Null
    );
    assert_eq!(
        app.data(q, json!({ "id": "999" })).await["article"],
        Value::Null
    );
}

#[tokio::test]
async fn article_needs_exactly_one_argument() {
    let app = TestApp::with_seeds().await;
    for args in [
        "",
        "(id: \"118109\", slug: \"x\")",
        "(slug: \"a\", url: \"b\")",
    ] {
        let r = app
            .gql(&format!("{{ article{args} {{ id }} }}"), json!({}))
            .await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{args}: {r}");
        assert!(
            r["errors"][0]["message"]
                .as_str()
                .expect("message")
                .contains("exactly one")
        );
        assert_eq!(r["data"]["article"], Value::Null);
    }
    let r = app.gql("{ article(id: \"abc\") { id } }", json!({})).await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
    assert_eq!(r["errors"][0]["extensions"]["field"], "id");
}

#[tokio::test]
async fn old_slug_and_url_still_find_an_edited_article() {
    let app = TestApp::with_seeds().await;
    quicktakes::service::edit::apply(&app.t.db, &app.changes, 118_109, "alice", None, |f| {
        f.slug = "imaging-in-hcc-follow-up".into();
        f.subject = "Oncology".into();
        f.subject_slug = "oncology".into();
        f.url = "/learn/oncology/questions/imaging-in-hcc-follow-up".into();
    })
    .await
    .expect("edit");
    let q =
        "query($s: String, $u: String) { article(slug: $s, url: $u) { id url subject { slug } } }";
    for vars in [
        json!({ "s": SLUG }),
        json!({ "u": URL }),
        json!({ "s": "imaging-in-hcc-follow-up" }),
    ] {
        let d = app.data(q, vars.clone()).await;
        assert_eq!(d["article"]["id"], "118109", "{vars}");
        assert_eq!(
            d["article"]["url"],
            "/learn/oncology/questions/imaging-in-hcc-follow-up"
        );
        assert_eq!(d["article"]["subject"]["slug"], "oncology");
    }
}

#[tokio::test]
async fn deleted_articles_are_not_read() {
    let app = TestApp::with_seeds().await;
    article::delete(&app.t.db, &app.changes, 118_109, "admin", None)
        .await
        .expect("delete");
    let d = app.data("{ article(id: \"118109\") { id } articles { totalCount } subject(slug: \"medicine\") { articleCount } }", json!({})).await;
    assert_eq!(d["article"], Value::Null);
    assert_eq!(d["articles"]["totalCount"], 0);
    assert_eq!(d["subject"]["articleCount"], 0);
}

/// Anonymous readers read article pages through their own pool (on SQLite,
/// rusqlite connections), editors through the main one: both must see the
/// same articles, field for field, timestamps, nulls, dangling links and
/// deleted articles included.
#[tokio::test]
async fn anonymous_readers_and_editors_read_the_same_articles() {
    let app = small_corpus().await;
    let sink = &app.changes;
    quicktakes::service::score::adjust_score(&app.t.db, sink, 5, 0.5, "ed", None)
        .await
        .expect("edit");
    article::delete(&app.t.db, sink, 1, "ed", None)
        .await
        .expect("delete");
    let editor = app
        .token("reader-check", quicktakes::service::token::Role::Editor)
        .await;
    let every_field = "id slug url fileName title articleTitle question answer answerHtml \
        excerpt author date displayDate dateFormat postOnText template score \
        subject { id name slug } seo { title description keywords } version createdAt updatedAt";
    let query = format!(
        r#"query($slug: String!) {{
            articles(first: 5, orderBy: ID_ASC) {{ nodes {{ {every_field}
                related {{ position targetId title url subject {{ name slug }}
                    article {{ {every_field} }} }} }} }}
            article(slug: $slug) {{ {every_field} related {{ article {{ id title }} }} }}
            search(query: "answer", first: 5) {{ edges {{ node {{ {every_field} }} }} }}
        }}"#
    );
    let vars = json!({ "slug": "article-2" });
    let anonymous = app.data(&query, vars.clone()).await;
    let as_editor = app.gql_as(Some(&editor), &query, vars).await.json();
    assert!(as_editor.get("errors").is_none(), "{as_editor:#}");
    assert_eq!(anonymous, as_editor["data"]);

    let nodes = anonymous["articles"]["nodes"].as_array().expect("nodes");
    let ids: Vec<&str> = nodes.iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(ids, ["2", "3", "4", "5"], "the deleted article is not read");
    assert_eq!(nodes[0]["related"][0]["targetId"], "1");
    assert_eq!(nodes[0]["related"][0]["article"], Value::Null, "dangling");
    let edited = &nodes[3];
    assert_eq!(edited["score"], 1.75);
    assert_eq!(edited["version"], 2);
    assert_ne!(edited["createdAt"], Value::Null);
    assert_eq!(nodes[2]["date"], "2023-07-09");
    assert_eq!(nodes[2]["score"], Value::Null);
    assert_eq!(anonymous["article"]["id"], "2");
    assert_eq!(
        anonymous["search"]["edges"].as_array().map(Vec::len),
        Some(4)
    );
}

#[tokio::test]
async fn articles_are_ordered_nulls_last_with_ties_by_id() {
    let app = small_corpus().await;
    let q = "query($o: ArticleOrder!) { articles(orderBy: $o) { nodes { id } } }";
    let order = |o: &'static str| {
        let app = &app;
        async move { ids(&app.data(q, json!({ "o": o })).await["articles"]) }
    };
    assert_eq!(order("DATE_DESC").await, ["2", "5", "1", "4", "3"]);
    assert_eq!(order("DATE_ASC").await, ["4", "1", "2", "5", "3"]);
    assert_eq!(order("SCORE_DESC").await, ["2", "1", "5", "3", "4"]);
    assert_eq!(order("SCORE_ASC").await, ["5", "1", "2", "3", "4"]);
    assert_eq!(
        order("TITLE_ASC").await,
        ["2", "1", "3", "4", "5"],
        "case-insensitive"
    );
    assert_eq!(order("ID_ASC").await, ["1", "2", "3", "4", "5"]);
    let default = app.data("{ articles { nodes { id } } }", json!({})).await;
    assert_eq!(
        ids(&default["articles"]),
        ["2", "5", "1", "4", "3"],
        "DATE_DESC by default"
    );
}

#[tokio::test]
async fn articles_are_filtered() {
    let app = small_corpus().await;
    let q = "query($f: ArticleFilter) { articles(filter: $f, orderBy: ID_ASC) { totalCount nodes { id } } }";
    let cases = [
        (json!({ "subject": "baking" }), vec!["3", "4"]),
        (json!({ "scoreMin": 1.5 }), vec!["1", "2"]),
        (json!({ "scoreMax": 3.5 }), vec!["1", "5"]),
        (
            json!({ "dateFrom": "2024-01-01", "dateTo": "2024-02-01" }),
            vec!["1"],
        ),
        (json!({ "ids": ["5", "3", "99"] }), vec!["3", "5"]),
        (
            json!({ "subject": "cooking", "scoreMin": 2 }),
            vec!["1", "2"],
        ),
        (json!({ "subject": "nothing" }), vec![]),
    ];
    for (filter, expected) in cases {
        let d = app.data(q, json!({ "f": filter })).await;
        assert_eq!(ids(&d["articles"]), expected, "{filter}");
        assert_eq!(d["articles"]["totalCount"], expected.len(), "{filter}");
    }
    let r = app
        .gql(q, json!({ "f": { "dateFrom": "2024-13-01" } }))
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("not a date"),
        "{r}"
    );
}

#[tokio::test]
async fn articles_page_forward_and_backward_with_opaque_cursors() {
    let app = small_corpus().await;
    let q = "query($first: Int, $after: String, $last: Int, $before: String) {
        articles(orderBy: ID_ASC, first: $first, after: $after, last: $last, before: $before) {
            totalCount edges { cursor node { id } } nodes { id }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let p1 = app.data(q, json!({ "first": 2 })).await["articles"].clone();
    assert_eq!(ids(&p1), ["1", "2"]);
    assert_eq!(p1["totalCount"], 5);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    assert_eq!(p1["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(p1["pageInfo"]["endCursor"], p1["edges"][1]["cursor"]);
    let p2 = app
        .data(
            q,
            json!({ "first": 2, "after": p1["pageInfo"]["endCursor"] }),
        )
        .await["articles"]
        .clone();
    assert_eq!(ids(&p2), ["3", "4"]);
    assert_eq!(p2["pageInfo"]["hasPreviousPage"], true);
    let p3 = app
        .data(
            q,
            json!({ "first": 2, "after": p2["pageInfo"]["endCursor"] }),
        )
        .await["articles"]
        .clone();
    assert_eq!(ids(&p3), ["5"]);
    assert_eq!(p3["pageInfo"]["hasNextPage"], false);

    let last = app.data(q, json!({ "last": 2 })).await["articles"].clone();
    assert_eq!(ids(&last), ["4", "5"]);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(last["pageInfo"]["hasNextPage"], false);
    let before = app
        .data(
            q,
            json!({ "last": 2, "before": last["pageInfo"]["startCursor"] }),
        )
        .await["articles"]
        .clone();
    assert_eq!(ids(&before), ["2", "3"]);
    assert_eq!(before["pageInfo"]["hasNextPage"], true);

    let default = app.data("{ articles { nodes { id } } }", json!({})).await;
    assert_eq!(
        ids(&default["articles"]).len(),
        5,
        "default page holds up to 20"
    );

    for (vars, field) in [
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "last": 500 }), "last"),
        (json!({ "first": 1, "last": 1 }), "last"),
        (json!({ "after": "not-a-cursor" }), "after"),
    ] {
        let r = app.gql(q, vars.clone()).await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{vars}: {r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field, "{vars}");
    }
}

#[tokio::test]
async fn subjects_list_their_articles() {
    let app = small_corpus().await;
    let d = app
        .data(
            "{ subjects { name slug articleCount }
               subject(slug: \"baking\") { name articles(orderBy: TITLE_ASC, first: 1) { totalCount nodes { id } pageInfo { hasNextPage } } }
               missing: subject(slug: \"none\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["subjects"],
        json!([
            { "name": "Baking", "slug": "baking", "articleCount": 2 },
            { "name": "Cooking", "slug": "cooking", "articleCount": 3 }
        ])
    );
    assert_eq!(d["subject"]["name"], "Baking");
    assert_eq!(ids(&d["subject"]["articles"]), ["3"]);
    assert_eq!(d["subject"]["articles"]["totalCount"], 2);
    assert_eq!(d["subject"]["articles"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(d["missing"], Value::Null);
}

#[tokio::test]
async fn related_links_resolve_loaded_targets_and_backlinks() {
    let app = small_corpus().await;
    let d = app
        .data(
            "{ a2: article(id: \"2\") { related { targetId title url subject { slug } article { title } } }
               a1: article(id: \"1\") { relatedFrom { totalCount nodes { id } } } }",
            json!({}),
        )
        .await;
    let link = &d["a2"]["related"][0];
    assert_eq!(
        link["title"], "banana bread",
        "the target's own title, not the link's copy"
    );
    assert_eq!(link["url"], "/learn/cooking/questions/article-1");
    assert_eq!(link["article"]["title"], "banana bread");
    assert_eq!(d["a1"]["relatedFrom"]["totalCount"], 2);
    assert_eq!(ids(&d["a1"]["relatedFrom"]), ["2", "3"]);
}

/// Reads leave the long texts out unless the document names a field that
/// reads them; every way of reaching an article's text (a fragment, an
/// inline fragment, an alias, a link target, a page) must still get it.
#[tokio::test]
async fn every_path_to_an_articles_text_reads_it() {
    let app = small_corpus().await;
    let d = app
        .data(
            "{ a2: article(id: \"2\") { related { article { ...Texts } } }
               page: articles(first: 5, orderBy: ID_ASC) { nodes { id ... on Article { answerHtml } } }
               one: article(id: \"1\") { body: answer short: excerpt(length: 12) } }
             fragment Texts on Article { answer answerHtml excerpt(length: 12) }",
            json!({}),
        )
        .await;
    let target = &d["a2"]["related"][0]["article"];
    assert_eq!(
        target["answer"],
        "The answer about banana bread.\n\nMore text here."
    );
    assert_eq!(
        target["answerHtml"],
        "<p>The answer about banana bread.</p>\n<p>More text here.</p>\n"
    );
    assert_eq!(target["excerpt"], "The answer…");
    for node in d["page"]["nodes"].as_array().expect("nodes") {
        let html = node["answerHtml"].as_str().expect("html");
        assert!(html.starts_with("<p>The answer about "), "{node}");
    }
    assert_eq!(
        d["one"]["body"],
        "The answer about banana bread.\n\nMore text here."
    );
    assert_eq!(d["one"]["short"], "The answer…");
}

/// Link targets are read with the texts their own `related` selection asks
/// of them: the same target reached through a page asking titles, an alias,
/// a fragment or an inline fragment asking texts gets each its own.
#[tokio::test]
async fn link_targets_read_the_texts_their_selection_asks_for() {
    let app = small_corpus().await;
    let d = app
        .data(
            r#"{ page: articles(first: 5, orderBy: ID_ASC) { nodes { id related { article { title } } } }
               two: article(id: "2") { related { ...Link } plain: related { article { title answer } } }
               three: article(id: "3") { related { ... on RelatedArticle { article { excerpt(length: 12) } } } }
               edges: articles(filter: { ids: ["2"] }) { edges { node { related { article { answer } } } } }
               dated: article(id: "3") { related { article { ...Meta } } }
               one: article(id: "1") { ...Meta } }
             fragment Meta on Article { title date displayDate score version createdAt updatedAt seo { keywords } }
             fragment Link on RelatedArticle { article { answerHtml } }"#,
            json!({}),
        )
        .await;
    let answer = "The answer about banana bread.\n\nMore text here.";
    assert_eq!(
        d["page"]["nodes"][1]["related"][0]["article"],
        json!({ "title": "banana bread" })
    );
    assert_eq!(
        d["two"]["related"][0]["article"]["answerHtml"],
        "<p>The answer about banana bread.</p>\n<p>More text here.</p>\n"
    );
    assert_eq!(
        d["two"]["plain"][0]["article"],
        json!({ "title": "banana bread", "answer": answer })
    );
    assert_eq!(
        d["three"]["related"][0]["article"]["excerpt"],
        "The answer…"
    );
    assert_eq!(
        d["edges"]["edges"][0]["node"]["related"][0]["article"]["answer"],
        answer
    );
    // A field beyond the card reads the target's details.
    assert_eq!(d["dated"]["related"][0]["article"], d["one"]);
    assert_eq!(d["one"]["date"], "2024-01-05");
    assert_eq!(d["one"]["version"], 1);
}

/// Each field a link target may be read for as a card (without its
/// details) answers on the target exactly what it answers on the article
/// read directly: no card field depends on a column a card read leaves out.
#[tokio::test]
async fn every_card_field_of_a_link_target_matches_the_article() {
    let app = small_corpus().await;
    for field in quicktakes::graphql::types::CARD_FIELDS {
        let selection = match field {
            "subject" => "subject { id name slug }",
            "related" => "related { position targetId title }",
            "relatedFrom" => "relatedFrom { totalCount nodes { id } }",
            "excerpt" => "excerpt(length: 12)",
            plain => plain,
        };
        let d = app
            .data(
                &format!(
                    r#"{{ three: article(id: "3") {{ related {{ article {{ {selection} }} }} }}
                       one: article(id: "1") {{ {selection} }} }}"#
                ),
                json!({}),
            )
            .await;
        assert_ne!(d["one"], Value::Null, "{field}");
        assert_eq!(d["three"]["related"][0]["article"], d["one"], "{field}");
    }
}

#[test]
fn only_the_texts_a_document_names_are_read() {
    use quicktakes::graphql::types::texts_named_in;
    use quicktakes::service::lookup::Texts;
    // A whole document always reads the details; only link targets skip them.
    const DETAILS: Texts = Texts {
        details: true,
        ..Texts::NONE
    };
    let q1 = "{ articles(first: 20) { nodes { title answer related { title } } } }";
    assert_eq!(
        texts_named_in(q1),
        Texts {
            answer: true,
            ..DETAILS
        }
    );
    assert_eq!(
        texts_named_in("{ articles { nodes { answerHtml } } }"),
        Texts {
            answer_html: true,
            ..DETAILS
        }
    );
    assert_eq!(
        texts_named_in("{ article(id: 1) { excerpt } }"),
        Texts {
            answer_text: true,
            ..DETAILS
        }
    );
    // Neither a longer name nor a prefix counts; every field named counts.
    assert_eq!(
        texts_named_in("{ a { answers answer_html xanswer } }"),
        DETAILS
    );
    assert_eq!(
        texts_named_in("query{a{...F}} fragment F on Article{answer,answerHtml excerpt}"),
        Texts::ALL
    );
}

/// Two articles link to the same target at different positions. A client
/// cache normalizes objects by `__typename` + `id`; a link has no `id`, so it
/// stays inside its article and each article keeps its own positions.
#[tokio::test]
async fn links_to_a_shared_target_keep_their_own_positions() {
    let app = TestApp::new().await;
    let dir = app.t.path("shared");
    std::fs::create_dir_all(&dir).expect("mkdir");
    write_article(&dir, 1, "Shared target", "Cooking", "");
    write_article(&dir, 2, "Other target", "Cooking", "");
    let link = |n: u32, id: i64| {
        format!(
            "related_article{n}:\n    id: {id}\n    title: t{id}\n    subject: Cooking\n    url: /learn/cooking/questions/article-{id}\n"
        )
    };
    write_article(&dir, 10, "First", "Cooking", &link(1, 1));
    write_article(
        &dir,
        11,
        "Second",
        "Cooking",
        &format!("{}{}", link(1, 2), link(2, 1)),
    );
    app.import(&dir).await;
    let d = app
        .data(
            "{ a: article(id: \"10\") { id related { __typename position targetId } }
               b: article(id: \"11\") { id related { __typename position targetId } }
               link: __type(name: \"RelatedArticle\") { fields { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["a"]["related"],
        json!([{ "__typename": "RelatedArticle", "position": 1, "targetId": "1" }])
    );
    assert_eq!(
        d["b"]["related"],
        json!([
            { "__typename": "RelatedArticle", "position": 1, "targetId": "2" },
            { "__typename": "RelatedArticle", "position": 2, "targetId": "1" }
        ])
    );
    let fields: Vec<&str> = d["link"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(fields.contains(&"targetId"), "{fields:?}");
    assert!(
        !fields.contains(&"id"),
        "a link with an `id` would be merged by client caches: {fields:?}"
    );
}

#[tokio::test]
async fn answer_html_is_sanitized_and_keeps_math() {
    let app = TestApp::new().await;
    let dir = app.t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let answer = r#"Hi <script>alert(1)</script> <a href='javascript:alert(1)' onclick='x()'>link</a>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nMath \( \nu_1 * x \) and\n\n$$a<b$$"#;
    write_article(&dir, 7, "math", "Physics", "");
    let path = dir.join("article-7.md");
    let text = std::fs::read_to_string(&path).expect("read");
    let text = text.replace(
        "answer: >-\n    The answer about math.\\n\\nMore text here.",
        &format!("answer: >-\n    {answer}"),
    );
    std::fs::write(&path, text).expect("write");
    app.import(&dir).await;
    let d = app
        .data("{ article(id: \"7\") { answerHtml excerpt } }", json!({}))
        .await;
    let html = d["article"]["answerHtml"].as_str().expect("html");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
    assert!(!html.contains("onclick"), "{html}");
    assert!(html.contains("<table>"), "{html}");
    assert!(
        html.contains(r#"<span class="math inline">\( \nu_1 * x \)</span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<div class="math display">$$a&lt;b$$</div>"#),
        "{html}"
    );
}

#[tokio::test]
async fn search_ranks_matches_and_marks_terms_the_same_on_both_databases() {
    let app = small_corpus().await;
    let q = "query($q: String!, $s: String) { search(query: $q, subject: $s) { totalCount edges { node { id } rank snippet } } }";
    let d = app.data(q, json!({ "q": "banana" })).await;
    let edges = d["search"]["edges"].as_array().expect("edges");
    assert_eq!(d["search"]["totalCount"], 1);
    assert_eq!(edges[0]["node"]["id"], "1");
    assert!(
        edges[0]["snippet"]
            .as_str()
            .expect("snippet")
            .contains("<mark>banana</mark>"),
        "{d}"
    );

    // Stemming: "breads" finds "bread"; a title match outranks an answer-only one.
    let d = app.data(q, json!({ "q": "breads" })).await;
    assert_eq!(d["search"]["edges"][0]["node"]["id"], "1");
    let d = app.data(q, json!({ "q": "answer" })).await;
    assert_eq!(d["search"]["totalCount"], 5);
    let ranks: Vec<f64> = d["search"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["rank"].as_f64().expect("rank"))
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] >= w[1]),
        "best first: {ranks:?}"
    );

    let d = app.data(q, json!({ "q": "answer", "s": "baking" })).await;
    assert_eq!(d["search"]["totalCount"], 2);

    // Any text is a valid query; syntax is taken literally.
    for text in [
        "\"banana",
        "banana OR",
        "ban*",
        "NEAR(banana bread)",
        "title:banana",
        "'; DROP TABLE article; --",
        "((",
        "",
        "   ",
        "-banana",
        "^",
    ] {
        let r = app.gql(q, json!({ "q": text })).await;
        assert!(r.get("errors").is_none(), "{text:?}: {r}");
    }
    let d = app.data(q, json!({ "q": "<banana>" })).await;
    assert_eq!(d["search"]["edges"][0]["node"]["id"], "1");
}

#[tokio::test]
async fn snippets_are_html_escaped() {
    let app = TestApp::new().await;
    let dir = app.t.path("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    write_article(&dir, 9, "escaping", "Web", "");
    let path = dir.join("article-9.md");
    let text = std::fs::read_to_string(&path).expect("read").replace(
        "The answer about escaping.",
        "If 5 < 6 & zebra then \"quoted\"",
    );
    std::fs::write(&path, text).expect("write");
    app.import(&dir).await;
    let d = app
        .data(
            "{ search(query: \"zebra\") { edges { snippet } } }",
            json!({}),
        )
        .await;
    let snippet = d["search"]["edges"][0]["snippet"]
        .as_str()
        .expect("snippet");
    assert!(
        snippet.contains("5 &lt; 6 &amp; <mark>zebra</mark> then &quot;quoted&quot;"),
        "{snippet}"
    );
}

#[tokio::test]
async fn nested_reads_cost_the_same_few_statements_for_5_and_50_articles() {
    let app = TestApp::new().await;
    let dir = app.t.path("corpus");
    quicktakes_tests::generate::write_corpus(&dir, 60, 3).expect("generate");
    app.import(&dir).await;
    let q = "query($n: Int) { articles(first: $n) { nodes { id title subject { name }
               related { title article { id title subject { name } } } } } }";
    let mut counts = Vec::new();
    for n in [5, 50] {
        let before = app.statements();
        let d = app.data(q, json!({ "n": n })).await;
        assert_eq!(d["articles"]["nodes"].as_array().expect("nodes").len(), n);
        counts.push(app.statements() - before);
    }
    assert!(counts[0] <= 6, "statements for 5 articles: {counts:?}");
    assert_eq!(counts[0], counts[1], "no N+1: {counts:?}");

    // The performance issue's article pages: its q1 (a page of articles with
    // their subjects, links and link targets) and q2 (one article by slug)
    // take 3 statements each: the article(s), the subjects, the links with
    // their live targets.
    let q1 = "query($n: Int) { articles(first: $n, orderBy: ID_ASC) { nodes { title question answer score
                subject { name slug } related { title url article { title subject { name } } } } } }";
    for n in [5, 50] {
        let before = app.statements();
        let d = app.data(q1, json!({ "n": n })).await;
        assert_eq!(d["articles"]["nodes"].as_array().expect("nodes").len(), n);
        assert_eq!(app.statements() - before, 3, "q1 with {n} articles");
    }
    let page = app
        .data(
            "{ articles(first: 50) { nodes { slug related { title } } } }",
            json!({}),
        )
        .await;
    let slug = page["articles"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["related"].as_array().is_some_and(|r| !r.is_empty()))
        .expect("an article with links")["slug"]
        .clone();
    let q2 = "query($slug: String!) { article(slug: $slug) { title answerHtml displayDate
                subject { name } seo { keywords } related { title article { title subject { name } } } } }";
    let before = app.statements();
    let d = app.data(q2, json!({ "slug": slug })).await;
    assert!(
        d["article"]["related"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{d}"
    );
    assert_eq!(app.statements() - before, 3, "q2");
}

#[tokio::test]
async fn committed_sdl_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../api/schema.graphql"
    ))
    .expect("api/schema.graphql");
    // Not assert_eq: the whole schema twice is no help; the diff is.
    assert!(
        committed == quicktakes::graphql::sdl(),
        "the schema changed: run `cargo run -- schema > api/schema.graphql` and review `git diff`"
    );
}

/// The README's GraphQL examples, one operation each, in order.
fn readme_operations() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let mut operations: Vec<String> = Vec::new();
    for block in readme.split("```graphql\n").skip(1) {
        let block = block.split("```").next().expect("block end");
        // A block holds one operation, or several, each starting a line.
        for line in block.lines() {
            match operations.last_mut() {
                Some(op) if !line.starts_with("query ") && !line.starts_with("mutation ") => {
                    op.push_str(line);
                    op.push('\n');
                }
                _ => operations.push(format!("{line}\n")),
            }
        }
    }
    operations
}

/// The fields of object type `name` in `schema`.
fn object_fields<'a>(
    schema: &'a async_graphql::parser::types::ServiceDocument,
    name: &str,
) -> Option<&'a [async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>]> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    schema.definitions.iter().find_map(|def| match def {
        TypeSystemDefinition::Type(t) if t.node.name.node == name => match &t.node.kind {
            TypeKind::Object(o) => Some(o.fields.as_slice()),
            _ => None,
        },
        _ => None,
    })
}

/// Fails unless every selection on an object type that has an `id` selects
/// it, so client caches can normalize what the example returns.
fn assert_selects_ids(
    schema: &async_graphql::parser::types::ServiceDocument,
    type_name: &str,
    set: &async_graphql::parser::types::SelectionSet,
    operation: &str,
) {
    use async_graphql::parser::types::{BaseType, Selection};
    let fields = object_fields(schema, type_name).expect("an object type");
    let selected: Vec<&str> = set
        .items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => f.node.name.node.as_str(),
            _ => panic!("README examples use no fragments: {operation}"),
        })
        .collect();
    if fields.iter().any(|f| f.node.name.node == "id") {
        assert!(
            selected.contains(&"id"),
            "{type_name} without `id` in: {operation}"
        );
    }
    for item in &set.items {
        let Selection::Field(f) = &item.node else {
            continue;
        };
        if f.node.selection_set.node.items.is_empty() {
            continue;
        }
        let name = &f.node.name.node;
        let mut ty = &fields
            .iter()
            .find(|d| d.node.name.node == *name)
            .unwrap_or_else(|| panic!("{type_name}.{name} is not in the schema: {operation}"))
            .node
            .ty
            .node;
        while let BaseType::List(inner) = &ty.base {
            ty = inner;
        }
        if let BaseType::Named(inner) = &ty.base {
            assert_selects_ids(schema, inner, &f.node.selection_set.node, operation);
        }
    }
}

/// Every GraphQL example of the README runs, mutations included, in the
/// order the README gives them, against a scratch database, and selects
/// `id` wherever the type has one: a schema change the README does not
/// follow fails here.
#[tokio::test]
async fn readme_examples_run_without_errors() {
    use async_graphql::parser::types::OperationType;
    use quicktakes::service::token::Role;
    let app = TestApp::with_seeds().await;
    let editor = app.token("readme-editor", Role::Editor).await;
    let admin = app.token("readme-admin", Role::Admin).await;
    let schema =
        async_graphql::parser::parse_schema(quicktakes::graphql::sdl()).expect("the SDL parses");
    let (mut queries, mut mutations) = (0, 0);
    for operation in readme_operations() {
        let doc = async_graphql::parser::parse_query(&operation).expect("the example parses");
        for (_, op) in doc.operations.iter() {
            let root = match op.node.ty {
                OperationType::Query => "Query",
                OperationType::Mutation => "Mutation",
                OperationType::Subscription => "Subscription",
            };
            assert_selects_ids(&schema, root, &op.node.selection_set.node, &operation);
        }
        let (token, vars) = if operation.starts_with("query ") {
            queries += 1;
            let vars = if operation.contains("SubjectPage") {
                json!({ "slug": "medicine" })
            } else {
                json!({ "slug": SLUG, "q": "imaging follow-up" })
            };
            (None, vars)
        } else {
            mutations += 1;
            // The README marks the mutations that need an admin.
            let token = if operation.contains("# admin") {
                &admin
            } else {
                &editor
            };
            (Some(token.as_str()), json!({}))
        };
        let response = app.gql_as(token, &operation, vars).await.json();
        assert!(
            response.get("errors").is_none(),
            "{operation}: {response:#}"
        );
        let data = &response["data"];
        assert!(
            data.as_object()
                .is_some_and(|o| !o.is_empty() && o.values().all(|v| !v.is_null())),
            "{operation}: {data}"
        );
    }
    assert_eq!(queries, 3, "the README's three frontend queries");
    assert_eq!(mutations, 9, "the README's mutation examples");
}

#[test]
fn readme_queries_leave_room_under_the_default_limits() {
    use quicktakes::graphql::limits::Limits;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    let limits = Limits::default();
    let mut measured = 0;
    for block in readme.split("```graphql\n").skip(1) {
        let query = block.split("```").next().expect("block end");
        if !query.starts_with("query ") {
            continue;
        }
        let name = query.split(['(', ' ', '{']).nth(1).unwrap_or_default();
        let doc = async_graphql::parser::parse_query(query).expect("the README query parses");
        let variables =
            async_graphql::Variables::from_json(json!({ "slug": SLUG, "q": "imaging" }));
        let (m, _, _) = limits.measure(&doc, &variables).expect("no fragment cycle");
        eprintln!(
            "README query {name}: complexity {}, depth {}",
            m.complexity, m.depth
        );
        assert!(
            m.complexity <= limits.complexity / 2,
            "{name}: complexity {}",
            m.complexity
        );
        assert!(m.depth <= limits.depth / 2, "{name}: depth {}", m.depth);
        measured += 1;
    }
    assert_eq!(measured, 3, "the README's three frontend queries");
}

/// Every type and scalar says what it is, and the dates name their
/// specifications, the same in introspection and in the SDL file.
#[tokio::test]
async fn every_type_is_described_alike_in_introspection_and_sdl() {
    use async_graphql::parser::types::{ServiceDocument, TypeSystemDefinition};
    let app = TestApp::new().await;
    let d = app
        .data(
            "{ __schema { types { name kind description specifiedByURL } } }",
            json!({}),
        )
        .await;
    let types = d["__schema"]["types"].as_array().expect("types");
    assert!(types.len() > 20, "{types:?}");
    let sdl = quicktakes::graphql::sdl();
    let doc: ServiceDocument = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
    let in_sdl: std::collections::HashMap<String, (Option<String>, Option<String>)> = doc
        .definitions
        .iter()
        .filter_map(|def| match def {
            TypeSystemDefinition::Type(t) => {
                let t = &t.node;
                let url = t
                    .directives
                    .iter()
                    .find(|d| d.node.name.node == "specifiedBy")
                    .and_then(|d| d.node.get_argument("url"))
                    .map(|v| match &v.node {
                        async_graphql::Value::String(s) => s.clone(),
                        other => panic!("url is not a string: {other}"),
                    });
                Some((
                    t.name.node.to_string(),
                    (t.description.as_ref().map(|d| d.node.clone()), url),
                ))
            }
            _ => None,
        })
        .collect();
    for t in types {
        let name = t["name"].as_str().expect("name");
        let description = t["description"].as_str().unwrap_or_default();
        assert!(!description.trim().is_empty(), "{name} has no description");
        assert!(
            !description.contains("Implement the"),
            "{name}: {description}"
        );
        let url = t["specifiedByURL"].as_str().map(str::to_owned);
        if name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name) {
            continue; // built in: the SDL does not print them
        }
        let Some((sdl_description, sdl_url)) = in_sdl.get(name) else {
            panic!("{name} is not in the SDL");
        };
        assert_eq!(sdl_description.as_deref(), Some(description), "{name}");
        assert_eq!(sdl_url, &url, "{name}: @specifiedBy");
    }
    let url_of = |name: &str| {
        types
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["specifiedByURL"].clone())
    };
    assert_eq!(
        url_of("Date"),
        Some(json!(
            "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
        ))
    );
    assert_eq!(
        url_of("DateTime"),
        Some(json!("https://datatracker.ietf.org/doc/html/rfc3339"))
    );
    assert!(
        sdl.contains(
            "scalar DateTime @specifiedBy(url: \"https://datatracker.ietf.org/doc/html/rfc3339\")"
        ),
        "{sdl}"
    );
}
