//! What a CDN in front of the server may keep: anonymous GETs without
//! errors are cacheable, with an ETag (304 on `If-None-Match`) and `Vary`;
//! everything else is `no-store`; every response names the articles and
//! subjects it shows in `Surrogate-Key` and `Cache-Tag`; and automatic
//! persisted queries (Apollo's APQ) let a GET carry a hash instead of the
//! document.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use quicktakes::service::token::Role;
use quicktakes::surrogate;
use quicktakes_tests::{TestApp, TestResponse, error_code};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PAGE: &str = "query ArticlePage($slug: String!) { article(slug: $slug) {
    id title version subject { id name }
    related { targetId title url subject { id name } article { id title subject { id name } } } } }";

const SLUG: &str = "what-is-the-role-of-imaging-in-the-followup-care-of-hcc-patients";

const CACHEABLE: &str = "public, max-age=60, s-maxage=300, stale-while-revalidate=60";

fn url(query: &str, variables: &Value, extensions: Option<&Value>) -> String {
    let mut pairs = vec![("variables", variables.to_string())];
    if !query.is_empty() {
        pairs.push(("query", query.to_owned()));
    }
    if let Some(e) = extensions {
        pairs.push(("extensions", e.to_string()));
    }
    let encoded = serde_urlencoded::to_string(&pairs).expect("encodes");
    format!("/graphql?{encoded}")
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut request = Request::get(path).header("accept", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

fn page_vars(slug: &str) -> Value {
    json!({ "slug": slug })
}

fn assert_not_stored(r: &TestResponse, what: &str) {
    assert_eq!(r.header("cache-control"), "private, no-store", "{what}");
    assert_eq!(r.header("etag"), "", "{what}: no validator");
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn an_anonymous_get_is_cacheable_and_revalidates_with_its_etag() {
    let app = TestApp::with_seeds().await;
    let path = url(PAGE, &page_vars(SLUG), None);
    let first = get(&app, &path, &[]).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["data"]["article"]["id"], "118109");
    assert_eq!(first.header("cache-control"), CACHEABLE);
    let vary = first.header("vary");
    assert!(
        vary.contains("accept") && vary.contains("authorization"),
        "{vary}"
    );
    let etag = first.header("etag");
    assert!(etag.starts_with("W/\""), "{etag}");

    let again = get(&app, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), etag);
    assert_eq!(again.header("cache-control"), CACHEABLE);
    assert_eq!(again.header("surrogate-key"), first.header("surrogate-key"));

    // An edit changes the body, so the old validator no longer matches.
    let token = app.token("ed", Role::Editor).await;
    let edit = app
        .gql_as(
            Some(&token),
            r#"mutation { updateAnswer(id: "118109", answer: "New.", expectedVersion: 1) { version } }"#,
            json!({}),
        )
        .await;
    assert_eq!(edit.json()["data"]["updateAnswer"]["version"], 2);
    let after = get(&app, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(after.json()["data"]["article"]["version"], 2);
    assert_ne!(after.header("etag"), etag);
}

#[tokio::test]
async fn nothing_asked_with_a_token_is_cacheable_nor_answered_from_an_anonymous_etag() {
    let app = TestApp::with_seeds().await;
    let token = app.token("ed", Role::Editor).await;
    let path = url(PAGE, &page_vars(SLUG), None);
    let anonymous = get(&app, &path, &[]).await;
    let etag = anonymous.header("etag");
    let bearer = format!("Bearer {token}");
    let editor = get(
        &app,
        &path,
        &[("authorization", &bearer), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(editor.status, StatusCode::OK, "a full answer, never a 304");
    assert_eq!(editor.json()["data"]["article"]["id"], "118109");
    assert_not_stored(&editor, "a read with a token");
    assert!(editor.header("vary").contains("authorization"));
}

#[tokio::test]
async fn posts_mutations_refusals_and_errors_are_never_cacheable() {
    let app = TestApp::with_seeds().await;
    let post = app.gql_as(None, PAGE, page_vars(SLUG)).await;
    assert_eq!(post.status, StatusCode::OK);
    assert_not_stored(&post, "a POST");

    let token = app.token("ed", Role::Editor).await;
    let mutation = app
        .gql_as(
            Some(&token),
            r#"mutation { adjustScore(id: "118109", delta: 1) { score } }"#,
            json!({}),
        )
        .await;
    assert!(mutation.json().get("errors").is_none());
    assert_not_stored(&mutation, "a mutation");

    let over_get = get(
        &app,
        &url(
            r#"mutation { adjustScore(id: "118109", delta: 1) { score } }"#,
            &json!({}),
            None,
        ),
        &[],
    )
    .await;
    assert_eq!(over_get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_not_stored(&over_get, "a mutation over GET");

    let invalid = get(&app, &url("{ nope }", &json!({}), None), &[]).await;
    assert_eq!(error_code(&invalid.json()), "GRAPHQL_VALIDATION_FAILED");
    assert_not_stored(&invalid, "a validation error");

    // A field error: the request ran, but its answer is partial.
    let field_error = get(
        &app,
        &url(r#"{ article(id: "x") { id } }"#, &json!({}), None),
        &[],
    )
    .await;
    assert_eq!(field_error.status, StatusCode::OK);
    assert_eq!(error_code(&field_error.json()), "BAD_USER_INPUT");
    assert_not_stored(&field_error, "a field error");

    let unauthenticated = get(
        &app,
        &url(PAGE, &page_vars(SLUG), None),
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    assert_not_stored(&unauthenticated, "a refused token");
}

fn keys_of(r: &TestResponse) -> BTreeSet<String> {
    r.header("surrogate-key")
        .split(' ')
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The keys a nested article page must carry, read off its JSON.
fn expected_keys(article: &Value) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let id = |v: &Value| v.as_str().expect("an id").to_owned();
    keys.insert(format!("article:{}", id(&article["id"])));
    keys.insert(format!("subject:{}", id(&article["subject"]["id"])));
    for link in article["related"].as_array().expect("related") {
        keys.insert(format!("article:{}", id(&link["targetId"])));
        keys.insert(format!("subject:{}", id(&link["subject"]["id"])));
        if !link["article"].is_null() {
            keys.insert(format!("article:{}", id(&link["article"]["id"])));
            keys.insert(format!("subject:{}", id(&link["article"]["subject"]["id"])));
        }
    }
    keys
}

#[tokio::test]
async fn a_nested_page_names_every_article_and_subject_it_shows_and_no_other() {
    let app = TestApp::new().await;
    let dir = app.t.path("corpus");
    quicktakes_tests::generate::write_corpus(&dir, 40, 7).expect("generate");
    app.import(&dir).await;
    // An article whose links point at loaded articles.
    let listed = app
        .data(
            "{ articles(first: 40, orderBy: ID_ASC) { nodes { id slug subject { id } related { article { id } } } } }",
            json!({}),
        )
        .await;
    let slug = listed["articles"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|a| {
            a["related"]
                .as_array()
                .is_some_and(|r| r.len() >= 2 && r.iter().all(|l| !l["article"].is_null()))
        })
        .and_then(|a| a["slug"].as_str())
        .expect("an article whose links are all loaded")
        .to_owned();

    let page = get(&app, &url(PAGE, &page_vars(&slug), None), &[]).await;
    let article = page.json()["data"]["article"].clone();
    let keys = keys_of(&page);
    assert_eq!(
        keys,
        expected_keys(&article),
        "{}",
        page.header("surrogate-key")
    );
    assert_eq!(
        page.header("cache-tag"),
        page.header("surrogate-key").replace(' ', ","),
        "the same keys for Cloudflare"
    );

    // An edit purges the page exactly when the page shows the article.
    let target = article["related"][0]["article"]["id"]
        .as_str()
        .expect("target id")
        .to_owned();
    let target_subject: i32 = article["related"][0]["article"]["subject"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("subject id");
    let target_id: i64 = target.parse().expect("numeric id");
    let purged: BTreeSet<String> = surrogate::of_change(target_id, [target_subject])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        !purged.is_disjoint(&keys),
        "editing a link target purges the page"
    );
    // An article the page does not show (nor link to) leaves it cached.
    let other = listed["articles"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|a| !keys.contains(&format!("article:{}", a["id"].as_str().unwrap_or_default())))
        .expect("an article the page does not show");
    let other_id: i64 = other["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    let other_subject: i32 = other["subject"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("subject");
    let purged: BTreeSet<String> = surrogate::of_change(other_id, [other_subject])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        purged.is_disjoint(&keys),
        "an article the page does not show leaves it cached: {purged:?} vs {keys:?}"
    );

    // And the target's new title is what the page then shows.
    let token = app.token("ed", Role::Editor).await;
    let version = app
        .data(
            "query($id: ID!) { article(id: $id) { version } }",
            json!({ "id": target }),
        )
        .await["article"]["version"]
        .clone();
    let edit = app
        .gql_as(
            Some(&token),
            "mutation($id: ID!, $v: Int!) { updateArticle(id: $id, expectedVersion: $v, input: { title: \"Retitled\" }) { id } }",
            json!({ "id": target, "v": version }),
        )
        .await;
    assert!(edit.json().get("errors").is_none(), "{}", edit.text());
    let again = get(&app, &url(PAGE, &page_vars(&slug), None), &[]).await;
    assert_eq!(
        again.json()["data"]["article"]["related"][0]["title"],
        "Retitled"
    );
}

#[tokio::test]
async fn lists_and_misses_are_named_by_what_would_change_them() {
    let app = TestApp::with_seeds().await;
    let listing = get(
        &app,
        &url(
            "query SubjectPage($slug: String!) { subject(slug: $slug) { id articleCount articles(first: 5) { nodes { id } } } }",
            &page_vars("medicine"),
            None,
        ),
        &[],
    )
    .await;
    let subject = listing.json()["data"]["subject"]["id"]
        .as_str()
        .expect("subject id")
        .to_owned();
    let keys = keys_of(&listing);
    for key in [
        format!("subject:{subject}"),
        format!("articles:{subject}"),
        "article:118109".to_owned(),
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert!(
        !keys.contains("articles"),
        "a subject's list, not every list"
    );

    let search = get(
        &app,
        &url(
            "{ search(query: \"imaging\") { edges { node { id } } } }",
            &json!({}),
            None,
        ),
        &[],
    )
    .await;
    assert!(
        keys_of(&search).contains("articles"),
        "{} {}",
        search.header("surrogate-key"),
        search.text()
    );

    // A page that does not exist yet is purged when its article is made.
    let miss = get(
        &app,
        &url("{ article(id: \"999\") { id } }", &json!({}), None),
        &[],
    )
    .await;
    assert_eq!(miss.json()["data"]["article"], Value::Null);
    assert_eq!(keys_of(&miss), BTreeSet::from(["article:999".to_owned()]));
}

#[tokio::test]
async fn a_persisted_query_misses_then_is_learnt_and_answers_a_get_by_hash() {
    let app = TestApp::with_seeds().await;
    let hash = sha256_hex(PAGE);
    let by_hash = url("", &page_vars(SLUG), Some(&persisted(&hash)));

    let miss = get(&app, &by_hash, &[]).await;
    assert_eq!(
        miss.status,
        StatusCode::OK,
        "a GraphQL error under application/json"
    );
    let body = miss.json();
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert!(body.get("data").is_none());
    assert_not_stored(&miss, "a miss");

    // Under the GraphQL media type the miss is a request error: 400.
    let strict = app
        .send(
            Request::get(&by_hash)
                .header("accept", "application/graphql-response+json")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(strict.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&strict.json()), "PERSISTED_QUERY_NOT_FOUND");

    // The client sends the document with its hash (Apollo retries by POST).
    let register = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({ "query": PAGE, "variables": page_vars(SLUG), "extensions": persisted(&hash) })
                        .to_string(),
                ))
                .expect("request"),
        )
        .await;
    assert_eq!(register.json()["data"]["article"]["id"], "118109");

    let hit = get(&app, &by_hash, &[]).await;
    assert_eq!(hit.status, StatusCode::OK);
    assert_eq!(hit.json()["data"]["article"]["id"], "118109");
    assert_eq!(hit.header("cache-control"), CACHEABLE);
    assert!(hit.header("etag").starts_with("W/"));
    assert!(keys_of(&hit).contains("article:118109"));
}

#[tokio::test]
async fn a_wrong_or_malformed_persisted_hash_is_refused_and_learns_nothing() {
    let app = TestApp::with_seeds().await;
    let wrong = sha256_hex("{ __typename }");
    let sent = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({ "query": PAGE, "variables": page_vars(SLUG), "extensions": persisted(&wrong) })
                        .to_string(),
                ))
                .expect("request"),
        )
        .await;
    assert_eq!(sent.status, StatusCode::BAD_REQUEST);
    let body = sent.json();
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "extensions.persistedQuery.sha256Hash"
    );
    assert!(body.get("data").is_none());

    // The wrong hash was not remembered for the document.
    let by_hash = get(
        &app,
        &url("", &page_vars(SLUG), Some(&persisted(&wrong))),
        &[],
    )
    .await;
    assert_eq!(error_code(&by_hash.json()), "PERSISTED_QUERY_NOT_FOUND");

    for (extensions, field) in [
        (
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
            "extensions.persistedQuery.sha256Hash",
        ),
        (
            json!({ "persistedQuery": { "version": 3, "sha256Hash": wrong } }),
            "extensions.persistedQuery.version",
        ),
    ] {
        let r = get(&app, &url("", &json!({}), Some(&extensions)), &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{extensions}");
        assert_eq!(r.json()["errors"][0]["extensions"]["field"], field);
    }
}

#[tokio::test]
async fn a_batch_item_with_an_unknown_hash_is_answered_in_its_place_and_the_others_run() {
    let app = TestApp::with_seeds().await;
    let unknown = sha256_hex("query Never { __typename }");
    let body = json!([
        { "query": "{ __typename }" },
        { "extensions": persisted(&unknown) },
        { "query": PAGE, "variables": page_vars(SLUG) },
    ]);
    let r = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let answers = r.json();
    let answers = answers
        .as_array()
        .expect("a batch is answered with an array");
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["data"]["__typename"], "Query");
    assert_eq!(error_code(&answers[1]), "PERSISTED_QUERY_NOT_FOUND");
    assert!(answers[1].get("data").is_none_or(Value::is_null));
    assert_eq!(answers[2]["data"]["article"]["id"], "118109");
    assert_not_stored(&r, "a batch");
}

#[tokio::test]
async fn an_answer_found_by_a_former_slug_and_a_missing_reader_page_are_purged_by_any_change() {
    let app = TestApp::with_seeds().await;
    let token = app.token("ed", Role::Editor).await;
    let moved = app
        .gql_as(
            Some(&token),
            r#"mutation { updateArticle(id: "118109", expectedVersion: 1, input: { slug: "hcc-imaging" }) { url } }"#,
            json!({}),
        )
        .await;
    assert!(moved.json().get("errors").is_none(), "{}", moved.text());
    // The old slug still finds the article, until another article takes it.
    let old = get(&app, &url(PAGE, &page_vars(SLUG), None), &[]).await;
    assert_eq!(old.json()["data"]["article"]["id"], "118109");
    assert!(keys_of(&old).contains("articles"), "{:?}", keys_of(&old));
    let current = get(&app, &url(PAGE, &page_vars("hcc-imaging"), None), &[]).await;
    assert!(
        !keys_of(&current).contains("articles"),
        "{:?}",
        keys_of(&current)
    );

    // A reader page that does not exist yet, and an old url's redirect.
    let missing = app.get("/learn/medicine/questions/not-yet-written").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("cache-control"), "no-cache");
    assert_eq!(missing.header("surrogate-key"), "articles");
    let redirect = app.get(&format!("/learn/medicine/questions/{SLUG}")).await;
    assert_eq!(redirect.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(redirect.header("cache-control"), "no-cache");
    assert_eq!(redirect.header("surrogate-key"), "articles");
}
