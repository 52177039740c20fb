//! The GraphiQL page and its files over HTTP: embedded in the binary by
//! default, from jsDelivr with `--graphiql-cdn`, from a folder with
//! `--graphiql-assets` (which overrides both); the page's
//! Content-Security-Policy in each mode. .ci/clients/test/graphiql.test.mjs
//! runs the page in Chromium.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use quicktakes::http::HttpConfig;
use quicktakes_tests::{TestApp, TestResponse};

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The four third-party files, as committed.
const THIRD_PARTY: [&str; 4] = [
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The committed file a url's last segment names.
fn committed(name: &str) -> Vec<u8> {
    let path = match name {
        "app.js" => repo().join("api/src/http/graphiql-app.js"),
        "app.css" => repo().join("api/src/http/graphiql-app.css"),
        vendored => repo().join("api/assets/graphiql").join(vendored),
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name`'s SHA-384 as pins.txt holds it.
fn pinned_sha384(name: &str) -> String {
    let pins = std::fs::read_to_string(repo().join("api/assets/graphiql/pins.txt")).expect("pins");
    pins.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields.first() == Some(&name)).then(|| fields[3].to_owned())
        })
        .unwrap_or_else(|| panic!("{name} is not in pins.txt"))
}

/// Every `src` and `href` value in the page, in order.
fn urls(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in [" src=\"", " href=\""] {
        let mut rest = page;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            let end = rest.find('"').expect("closing quote");
            found.push(rest[..end].to_owned());
        }
    }
    found
}

/// The `integrity` value of the tag whose url ends with `/name`.
fn integrity(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("/{name}\""))
        .unwrap_or_else(|| panic!("no tag loads {name}"));
    let tag_end = at + page[at..].find('>').expect("tag end");
    let tag = &page[..tag_end];
    let tag = &tag[tag.rfind('<').expect("tag start")..];
    let value = tag
        .split("integrity=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap_or_else(|| panic!("{name} has no integrity: {tag}"));
    value.to_owned()
}

fn directives(r: &TestResponse) -> Vec<String> {
    r.header("content-security-policy")
        .split(';')
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect()
}

/// The page's security headers, the same in every mode.
fn assert_page_headers(r: &TestResponse) {
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("referrer-policy"), "no-referrer");
    let csp = directives(r);
    for fixed in [
        "default-src 'none'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.iter().any(|d| d == fixed), "{fixed} in {csp:?}");
    }
    let script = csp
        .iter()
        .find(|d| d.starts_with("script-src "))
        .expect("script-src");
    assert!(
        !script.contains("unsafe"),
        "no inline or eval'd script: {script}"
    );
    assert!(!r.text().contains("{{"), "every placeholder filled");
}

#[tokio::test]
async fn the_default_page_loads_only_files_embedded_in_the_binary() {
    let app = TestApp::new().await;
    let r = app.get("/graphiql").await;
    assert_page_headers(&r);
    let csp = directives(&r);
    assert!(csp.contains(&"script-src 'self'".to_owned()), "{csp:?}");
    assert!(
        csp.iter()
            .any(|d| d.starts_with("style-src 'self'") && !d.contains("http")),
        "{csp:?}"
    );
    let page = r.text();
    let urls = urls(&page);
    let names: Vec<&str> = urls
        .iter()
        .map(|u| u.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            // src=, then href=, each in page order
            "react.production.min.js",
            "react-dom.production.min.js",
            "graphiql.min.js",
            "app.js",
            "app.css",
            "graphiql.min.css",
        ]
    );
    for url in &urls {
        assert!(url.starts_with("/graphiql/static/"), "same origin: {url}");
    }
    for name in THIRD_PARTY {
        assert_eq!(
            integrity(&page, name),
            format!("sha384-{}", pinned_sha384(name))
        );
    }
    assert!(page.contains("data-assets=\"embedded\""));
    assert!(!page.contains("<script>"), "no inline script");
    assert!(!page.contains("<style"), "no inline style");
}

#[tokio::test]
async fn embedded_files_are_served_immutable_with_their_type_and_exact_bytes() {
    let app = TestApp::new().await;
    let page = app.get("/graphiql").await.text();
    for url in urls(&page) {
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let r = app.get(&url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        let want = if name.ends_with(".css") { CSS } else { JS };
        assert_eq!(r.header("content-type"), want, "{url}");
        assert_eq!(r.header("cache-control"), IMMUTABLE, "{url}");
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{url}");
        assert!(r.body == committed(&name), "{url}: the committed bytes");
        let etag = r.header("etag");
        assert!(etag.starts_with('"') && etag.len() > 2, "{url}: {etag}");

        // A cache that has it revalidates to a bodiless 304.
        let request = Request::get(&url)
            .header("if-none-match", &etag)
            .body(Body::empty())
            .expect("request");
        let again = app.send(request).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{url}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), etag);
        assert_eq!(again.header("cache-control"), IMMUTABLE);
    }
    // A url from before an upgrade names other bytes: not found, not cached.
    let r = app.get("/graphiql/static/0000000000000000/app.js").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("cache-control"), "");
    let r = app.get("/graphiql/static/0000000000000000/nope.js").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn embedded_files_are_compressed() {
    let app = TestApp::new().await;
    let page = app.get("/graphiql").await.text();
    let url = urls(&page)
        .into_iter()
        .find(|u| u.ends_with("/graphiql.min.js"))
        .expect("graphiql.min.js");
    let request = Request::get(&url)
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .expect("request");
    let r = app.send(request).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-encoding"), "gzip");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(r.body.as_slice()),
        &mut plain,
    )
    .expect("gunzip");
    assert!(plain == committed("graphiql.min.js"));
    assert!(r.body.len() < plain.len() / 2, "{} bytes", r.body.len());
}

#[tokio::test]
async fn graphiql_cdn_loads_the_pinned_files_from_jsdelivr_and_the_policy_allows_it() {
    let app = TestApp::with_config(HttpConfig {
        graphiql_cdn: true,
        ..Default::default()
    })
    .await;
    let r = app.get("/graphiql").await;
    assert_page_headers(&r);
    let csp = directives(&r);
    assert!(
        csp.contains(&"script-src 'self' https://cdn.jsdelivr.net".to_owned()),
        "{csp:?}"
    );
    assert!(
        csp.iter()
            .any(|d| d.starts_with("style-src 'self' https://cdn.jsdelivr.net")),
        "{csp:?}"
    );
    let page = r.text();
    for url in [
        "https://cdn.jsdelivr.net/npm/react@18.3.1/umd/react.production.min.js",
        "https://cdn.jsdelivr.net/npm/react-dom@18.3.1/umd/react-dom.production.min.js",
        "https://cdn.jsdelivr.net/npm/graphiql@3.9.0/graphiql.min.js",
        "https://cdn.jsdelivr.net/npm/graphiql@3.9.0/graphiql.min.css",
    ] {
        assert!(urls(&page).iter().any(|u| u == url), "{url}");
    }
    for name in THIRD_PARTY {
        assert_eq!(
            integrity(&page, name),
            format!("sha384-{}", pinned_sha384(name))
        );
    }
    // The page's own script and styles stay on the server.
    let own: Vec<String> = urls(&page)
        .into_iter()
        .filter(|u| !u.starts_with("https://cdn.jsdelivr.net/npm/"))
        .collect();
    assert_eq!(own.len(), 2, "{own:?}");
    for url in own {
        assert!(url.starts_with("/graphiql/static/"), "{url}");
        assert_eq!(app.get(&url).await.status, StatusCode::OK, "{url}");
    }
    assert!(page.contains("data-assets=\"cdn\""));
}

#[tokio::test]
async fn graphiql_assets_overrides_the_cdn_and_the_embedded_files() {
    let assets = tempfile::tempdir().expect("tempdir");
    std::fs::write(assets.path().join("graphiql.min.js"), "/* graphiql */").expect("write");
    let app = TestApp::with_config(HttpConfig {
        graphiql_assets: Some(assets.path().to_owned()),
        graphiql_cdn: true,
        ..Default::default()
    })
    .await;
    let r = app.get("/graphiql").await;
    assert_page_headers(&r);
    let csp = directives(&r);
    assert!(csp.contains(&"script-src 'self'".to_owned()), "{csp:?}");
    assert!(!r.header("content-security-policy").contains("jsdelivr"));
    let page = r.text();
    assert!(!page.contains("cdn.jsdelivr.net"));
    for name in THIRD_PARTY {
        let url = format!("/graphiql/assets/{name}");
        assert!(urls(&page).contains(&url), "{url}");
        // The integrity check refuses a folder of other versions.
        assert_eq!(
            integrity(&page, name),
            format!("sha384-{}", pinned_sha384(name))
        );
    }
    assert!(page.contains("data-assets=\"dir\""));
    let r = app.get("/graphiql/assets/graphiql.min.js").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (StatusCode::OK, "/* graphiql */")
    );
    assert_eq!(
        r.header("cache-control"),
        "public, max-age=3600, must-revalidate"
    );
}

#[test]
fn serve_takes_graphiql_cdn_and_graphiql_assets() {
    use clap::Parser;
    let http = |args: &[&str]| {
        let cli =
            quicktakes::config::Cli::try_parse_from(["quicktakes", "serve"].iter().chain(args))
                .expect("valid arguments");
        let quicktakes::config::Command::Serve(serve) = cli.command else {
            panic!("not serve");
        };
        serve.http_config(&cli.limits)
    };
    let default = http(&[]);
    assert!(!default.graphiql_cdn);
    assert_eq!(default.graphiql_assets, None);
    assert!(http(&["--graphiql-cdn"]).graphiql_cdn);
    let both = http(&["--graphiql-cdn", "--graphiql-assets", "dir"]);
    assert_eq!(both.graphiql_assets, Some(PathBuf::from("dir")));
}
