//! The reader preview, `GET /learn/{subject}/questions/{slug}`, through the
//! router: what the page shows, its SEO tags and JSON-LD, redirects of old
//! urls, signed links to other versions, and its validators.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use quicktakes::http::HttpConfig;
use quicktakes::preview::PreviewLinks;
use quicktakes::service::token::Role;
use quicktakes_tests::{TestApp, TestDb, error_code};
use serde_json::{Value, json};

const URL: &str =
    "/learn/medicine/questions/what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients";
const KEY: &str = "a test key that is long enough to sign links";

/// The JSON-LD block of a page, parsed.
fn json_ld(html: &str) -> Value {
    let start = html
        .find("<script type=\"application/ld+json\">")
        .expect("the page has a JSON-LD block");
    let rest = &html[start..];
    let open = rest.find('>').expect("tag ends") + 1;
    let close = rest.find("</script>").expect("block ends");
    serde_json::from_str(&rest[open..close]).expect("JSON-LD parses")
}

async fn seeded(config: HttpConfig) -> TestApp {
    let app = TestApp::over(TestDb::new().await, config);
    app.import(&quicktakes_tests::seeds_dir()).await;
    app
}

fn keyed() -> HttpConfig {
    HttpConfig {
        preview: PreviewLinks::new(None, KEY.parse().ok()),
        ..Default::default()
    }
}

async fn get_with(
    app: &TestApp,
    path: &str,
    header: (&str, &str),
) -> quicktakes_tests::TestResponse {
    app.send(
        Request::get(path)
            .header(header.0, header.1)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

fn ok(r: &Value) -> &Value {
    assert!(r.get("errors").is_none(), "{r:#}");
    &r["data"]
}

#[tokio::test]
async fn the_seed_article_page_shows_what_readers_see() {
    let app = seeded(HttpConfig::default()).await;
    let r = app.get(URL).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    let policy = r.header("content-security-policy");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(!policy.contains("script-src"), "nothing may run: {policy}");
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    // Purged with the article, or when a linked article is made or edited.
    let keys = r.header("surrogate-key");
    let articles: Vec<&str> = keys
        .split(' ')
        .filter(|k| k.starts_with("article:"))
        .collect();
    assert!(articles.contains(&"article:118109"), "{keys}");
    assert_eq!(
        articles.len(),
        5,
        "the article and its 4 link targets: {keys}"
    );
    assert!(keys.split(' ').any(|k| k.starts_with("subject:")), "{keys}");
    let html = r.text();
    for shown in [
        "<title>QuickTakes | Medicine</title>",
        "<meta name=\"description\" content=\"Imaging is vital in the follow-up care",
        "<meta name=\"keywords\" content=\"HCC, hepatocellular carcinoma, imaging,",
        &format!("<link rel=\"canonical\" href=\"{URL}\">"),
        "<h1>What is the role of imaging in the follow-up care of HCC patients?</h1>",
        "Posted on <time datetime=\"2024-12-11\">Dec 11, 2024</time>",
        "<span class=\"author\">QuickTakes</span>",
        "<p class=\"subject\">Medicine</p>",
        "<strong>Surveillance and Diagnosis</strong>",
        // Its related articles are not loaded: plain text, no link.
        "<span class=\"not-loaded\">How is PET-CT used in the diagnosis and management of HCC?</span>",
    ] {
        assert!(html.contains(shown), "missing {shown}:\n{html}");
    }
    assert!(!html.contains("<a href"), "no target is loaded:\n{html}");
    assert!(!html.contains("class=\"preview-banner\""), "{html}");

    let data = json_ld(&html);
    assert_eq!(data["@context"], "https://schema.org");
    assert_eq!(data["@type"], "QAPage");
    let question = &data["mainEntity"];
    assert_eq!(question["@type"], "Question");
    assert_eq!(
        question["name"],
        "What is the role of imaging in the follow-up care of HCC patients?"
    );
    assert_eq!(question["answerCount"], 1);
    assert_eq!(question["dateCreated"], "2024-12-11");
    assert_eq!(question["author"]["name"], "QuickTakes");
    let answer = &question["acceptedAnswer"];
    assert_eq!(answer["@type"], "Answer");
    assert!(
        answer["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Imaging plays a crucial role")),
        "{answer:#}"
    );
    assert_eq!(answer["dateCreated"], "2024-12-11");
    assert_eq!(answer["author"]["name"], "QuickTakes");
    assert_eq!(answer["url"], format!("{URL}#answer"));
}

#[tokio::test]
async fn a_public_base_url_makes_the_page_urls_absolute() {
    let app = seeded(HttpConfig {
        preview: PreviewLinks::new("https://example.org/".parse().ok(), None),
        ..Default::default()
    })
    .await;
    let html = app.get(URL).await.text();
    assert!(
        html.contains(&format!(
            "<link rel=\"canonical\" href=\"https://example.org{URL}\">"
        )),
        "{html}"
    );
    let data = json_ld(&html);
    assert_eq!(
        data["mainEntity"]["acceptedAnswer"]["url"],
        format!("https://example.org{URL}#answer")
    );
}

#[tokio::test]
async fn a_link_to_a_loaded_article_goes_to_its_page_and_its_title_moves_the_etag() {
    let app = seeded(HttpConfig::default()).await;
    let editor = app.token("alice", Role::Editor).await;
    let first = app.get(URL).await;
    let etag = first.header("etag");
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert_eq!(first.header("cache-control"), "no-cache");

    // The same page again: not modified, no body.
    let again = get_with(&app, URL, ("if-none-match", &etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), etag);

    // Load the first related article: the link becomes a link to its page.
    let created = app
        .gql_as(
            Some(&editor),
            "mutation { createArticle(input: { id: \"118085\", title: \"PET-CT in HCC\", question: \"How is PET-CT used?\", answer: \"Like this.\", subject: \"Medicine\", slug: \"how-is-petct-used-in-the-diagnosis-and-management-of-hcc\" }) { url version } }",
            json!({}),
        )
        .await
        .json();
    let target = ok(&created)["createArticle"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let html = app.get(URL).await.text();
    assert!(
        html.contains(&format!("<a href=\"{target}\">PET-CT in HCC</a>")),
        "{html}"
    );
    // The page's own article did not change, but its page did.
    let now = get_with(&app, URL, ("if-none-match", &etag)).await;
    assert_eq!(now.status, StatusCode::OK);
    assert_ne!(now.header("etag"), etag);
    let etag = now.header("etag");

    // Retitling the target changes this page too.
    let retitled = app
        .gql_as(
            Some(&editor),
            "mutation { updateArticle(id: \"118085\", input: { title: \"PET-CT, retitled\" }, expectedVersion: 1) { version } }",
            json!({}),
        )
        .await
        .json();
    ok(&retitled);
    let after = get_with(&app, URL, ("if-none-match", &etag)).await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(after.text().contains(">PET-CT, retitled</a>"));

    // The target's own page is there, and links nowhere it cannot.
    assert_eq!(app.get(&target).await.status, StatusCode::OK);
}

#[tokio::test]
async fn old_urls_and_slugs_redirect_to_the_current_url() {
    let app = seeded(HttpConfig::default()).await;
    let editor = app.token("alice", Role::Editor).await;
    let moved = app
        .gql_as(
            Some(&editor),
            "mutation { updateArticle(id: \"118109\", input: { slug: \"imaging-after-hcc\" }, expectedVersion: 1) { url } }",
            json!({}),
        )
        .await
        .json();
    let new_url = ok(&moved)["updateArticle"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(new_url, "/learn/medicine/questions/imaging-after-hcc");

    let r = app.get(URL).await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location"), new_url);
    // A signed link keeps its query through the move.
    let r = app
        .get(&format!("{URL}?version=1&expires=1&signature=x"))
        .await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        r.header("location"),
        format!("{new_url}?version=1&expires=1&signature=x")
    );
    // The slug under another subject's path finds it too.
    let r = app.get("/learn/oncology/questions/imaging-after-hcc").await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location"), new_url);
    assert_eq!(app.get(&new_url).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_and_deleted_articles_are_not_found() {
    let app = seeded(HttpConfig::default()).await;
    let r = app.get("/learn/medicine/questions/no-such-question").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .contains("No article is published at /learn/medicine/questions/no-such-question")
    );
    assert!(!r.header("content-security-policy").is_empty());

    let admin = app.token("root", Role::Admin).await;
    let deleted = app
        .gql_as(
            Some(&admin),
            "mutation { deleteArticle(id: \"118109\") }",
            json!({}),
        )
        .await
        .json();
    ok(&deleted);
    assert_eq!(app.get(URL).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_version_opens_only_through_a_signed_link() {
    let app = seeded(keyed()).await;
    let editor = app.token("alice", Role::Editor).await;
    let saved = app
        .gql_as(
            Some(&editor),
            "mutation { updateAnswer(id: \"118109\", answer: \"The **new** answer.\", expectedVersion: 1) { version } }",
            json!({}),
        )
        .await
        .json();
    assert_eq!(ok(&saved)["updateAnswer"]["version"], 2);
    let before = app.t.snapshot().await;

    // Readers see version 2.
    let public = app.get(URL).await.text();
    assert!(
        public.contains("The <strong>new</strong> answer."),
        "{public}"
    );

    // Without a valid signature, `?version=` is refused.
    for query in [
        "version=1",
        "version=1&expires=99999999999",
        "version=1&expires=99999999999&signature=AAAA",
        "version=one&expires=1&signature=AAAA",
    ] {
        let r = app.get(&format!("{URL}?{query}")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{query}");
        assert!(r.text().contains("previewUrl"), "{query}: {}", r.text());
    }

    // Anonymous callers get no link; a version the article never had is refused.
    let anonymous = app
        .gql(
            "{ article(id: \"118109\") { previewUrl(version: 1) } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&anonymous), "FORBIDDEN");
    for bad in [0, 3, -1] {
        let r = app
            .gql_as(
                Some(&editor),
                "query($v: Int) { article(id: \"118109\") { previewUrl(version: $v) } }",
                json!({ "v": bad }),
            )
            .await
            .json();
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{bad}: {r:#}");
        assert_eq!(r["errors"][0]["extensions"]["field"], "version", "{r:#}");
    }

    // An editor's link to version 1 shows the old answer under a banner.
    let r = app
        .gql_as(
            Some(&editor),
            "{ article(id: \"118109\") { old: previewUrl(version: 1) current: previewUrl } }",
            json!({}),
        )
        .await
        .json();
    let links = &ok(&r)["article"];
    let old = links["old"].as_str().expect("link");
    assert!(
        old.starts_with(&format!("{URL}?version=1&expires=")),
        "{old}"
    );
    let page = app.get(old).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("cache-control"), "private, no-store");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    let html = page.text();
    assert!(html.contains("Imaging plays a crucial role"), "{html}");
    assert!(!html.contains("The <strong>new</strong> answer."), "{html}");
    assert!(html.contains("Preview of version 1"), "{html}");
    assert!(html.contains("they see version 2"), "{html}");
    assert!(
        html.contains("<meta name=\"robots\" content=\"noindex\">"),
        "{html}"
    );

    let current = app
        .get(links["current"].as_str().expect("link"))
        .await
        .text();
    assert!(current.contains("Preview of version 2"), "{current}");
    assert!(
        current.contains("The <strong>new</strong> answer."),
        "{current}"
    );

    // A link signed for another version, or under another key, is refused.
    let forged = old.replace("version=1", "version=2");
    assert_eq!(app.get(&forged).await.status, StatusCode::FORBIDDEN);
    let other_key = PreviewLinks::new(None, "another key, just as long as the first".parse().ok());
    let foreign = other_key.signed(URL, 118109, 1, chrono::Utc::now());
    assert_eq!(app.get(&foreign).await.status, StatusCode::FORBIDDEN);

    // An expired one says so.
    let signer = PreviewLinks::new(None, KEY.parse().ok());
    let stale = signer.signed(
        URL,
        118109,
        1,
        chrono::Utc::now() - chrono::Duration::hours(2),
    );
    let r = app.get(&stale).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("expired"), "{}", r.text());

    // Reading pages wrote nothing.
    assert_eq!(app.t.snapshot().await, before);
}

#[tokio::test]
async fn math_is_typeset_tables_kept_and_scripts_removed() {
    let app = seeded(HttpConfig::default()).await;
    let editor = app.token("alice", Role::Editor).await;
    let answer = "Inline \\( \\nu \\neq 0 \\) and\n\n$$ \\frac{a}{b} $$\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">\n\n[click](javascript:alert(1)) \\( \\text{<script>alert(3)</script>} \\)";
    let saved = app
        .gql_as(
            Some(&editor),
            "mutation($a: String!) { updateAnswer(id: \"118109\", answer: $a, expectedVersion: 1) { version } }",
            json!({ "a": answer }),
        )
        .await
        .json();
    ok(&saved);
    let html = app.get(URL).await.text();
    let body = &html[html.find("<body>").expect("body")..];
    assert!(body.contains("<span class=\"math inline\"><math display=\"inline\"><mi>ν</mi><mo>≠</mo><mn>0</mn></math></span>"), "{body}");
    assert!(
        body.contains("<div class=\"math display\"><math display=\"block\"><mfrac>"),
        "{body}"
    );
    assert!(body.contains("<table>"), "{body}");
    assert!(
        body.contains("<td style=\"text-align:right\">2</td>"),
        "{body}"
    );
    for gone in ["<script", "onerror", "javascript:", "alert(3)", "pwned"] {
        assert!(!body.contains(gone), "{gone} left in:\n{body}");
    }
    // The head has exactly one script block, the JSON-LD data.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
}
