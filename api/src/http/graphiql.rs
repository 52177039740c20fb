//! The GraphiQL playground at `/graphiql`: its page, the
//! Content-Security-Policy the page is served under, and its files.
//!
//! GraphiQL's third-party files (React, ReactDOM, GraphiQL, pinned in
//! `api/assets/graphiql/pins.txt`) are embedded in the binary, so the
//! playground works offline and makes no third-party request;
//! `--graphiql-cdn` loads them from jsDelivr instead, and
//! `--graphiql-assets DIR` from a local folder, overriding both. The page's
//! own script and styles are always embedded: an inline script would need
//! `'unsafe-inline'`.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::services::ServeDir;

use super::HttpConfig;

/// The GraphiQL page, with placeholders for its assets and endpoints.
const TEMPLATE: &str = include_str!("graphiql.html");
/// `NAME PACKAGE@VERSION PATH SHA384` lines: what each third-party file is.
const PINS: &str = include_str!("../../assets/graphiql/pins.txt");
/// Where `--graphiql-cdn` loads the files from.
const CDN_ORIGIN: &str = "https://cdn.jsdelivr.net";
/// Where `--graphiql-assets DIR` is served.
const LOCAL_ASSETS_PATH: &str = "/graphiql/assets";
/// Where the embedded files are served: `{hash}` is the start of the
/// file's BLAKE3, so a url always names the same bytes.
const EMBEDDED_ROUTE: &str = "/graphiql/static/{hash}/{name}";
/// Cache policy of the embedded files: their url changes with their
/// content, so a cache may keep them for good.
const EMBEDDED_CACHE: &str = "public, max-age=31536000, immutable";
/// Cache policy of the `--graphiql-assets` files. Their names carry no
/// version (`graphiql.min.js`, as `.ci/graphiql-assets.sh` writes them), so
/// they cannot be `immutable`: an operator who refreshes the folder must
/// be seen within the hour. After that a cache revalidates with
/// `If-Modified-Since` and gets a bodiless 304 while the file is unchanged.
const LOCAL_ASSETS_CACHE: &str = "public, max-age=3600, must-revalidate";
/// Hex digits of the BLAKE3 in an embedded file's url and ETag.
const HASH_DIGITS: usize = 16;

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A file the page loads, as built into the binary.
struct Embedded {
    /// Its name in urls (and in `pins.txt`, for third-party files).
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// A vendored file of `api/assets/graphiql/`, by its name there (and in
/// urls and `pins.txt`).
macro_rules! vendored {
    ($name:literal, $content_type:expr) => {
        Embedded {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

/// The third-party files, in the order the page's placeholders name them.
const THIRD_PARTY: [Embedded; 4] = [
    vendored!("react.production.min.js", JS),
    vendored!("react-dom.production.min.js", JS),
    vendored!("graphiql.min.js", JS),
    vendored!("graphiql.min.css", CSS),
];

/// The page's own script and styles.
const OWN: [Embedded; 2] = [
    Embedded {
        name: "app.js",
        content_type: JS,
        bytes: include_bytes!("graphiql-app.js"),
    },
    Embedded {
        name: "app.css",
        content_type: CSS,
        bytes: include_bytes!("graphiql-app.css"),
    },
];

/// An embedded file with the hash its url and ETag carry.
struct Served {
    file: &'static Embedded,
    hash: String,
}

impl Served {
    fn url(&self) -> String {
        format!("/graphiql/static/{}/{}", self.hash, self.file.name)
    }
}

/// Every embedded file, hashed once, on first use.
static SERVED: LazyLock<Vec<Served>> = LazyLock::new(|| {
    THIRD_PARTY
        .iter()
        .chain(OWN.iter())
        .map(|file| {
            let mut hash = blake3::hash(file.bytes).to_hex().to_string();
            hash.truncate(HASH_DIGITS);
            Served { file, hash }
        })
        .collect()
});

fn served(name: &str) -> Option<&'static Served> {
    SERVED.iter().find(|s| s.file.name == name)
}

/// Where GraphiQL's third-party files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetSource {
    /// The copies built into the binary (the default).
    Embedded,
    /// jsDelivr (`--graphiql-cdn`).
    Cdn,
    /// A local folder (`--graphiql-assets DIR`), overriding both.
    Dir(PathBuf),
}

impl AssetSource {
    /// The source `config` asks for.
    pub fn of(config: &HttpConfig) -> Self {
        match (&config.graphiql_assets, config.graphiql_cdn) {
            (Some(dir), _) => Self::Dir(dir.clone()),
            (None, true) => Self::Cdn,
            (None, false) => Self::Embedded,
        }
    }

    /// The name the page's script knows this source by.
    fn key(&self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Cdn => "cdn",
            Self::Dir(_) => "dir",
        }
    }

    /// The url of the third-party file `name` (pinned as `pin`).
    fn url(&self, name: &str, pin: &Pin) -> String {
        match self {
            Self::Embedded => served(name).map(Served::url).unwrap_or_default(),
            Self::Cdn => format!("{CDN_ORIGIN}/npm/{}/{}", pin.package, pin.path),
            Self::Dir(_) => format!("{LOCAL_ASSETS_PATH}/{name}"),
        }
    }
}

/// One line of `pins.txt`.
#[derive(Debug, Default)]
struct Pin {
    /// `react@18.3.1`.
    package: &'static str,
    /// The file's path inside the package.
    path: &'static str,
    /// Base64 SHA-384, as an integrity attribute holds it.
    sha384: &'static str,
}

fn pin(name: &str) -> Option<Pin> {
    PINS.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next()? == name).then_some(())?;
            Some(Pin {
                package: fields.next()?,
                path: fields.next()?,
                sha384: fields.next()?,
            })
        })
}

/// The page as served from one [`AssetSource`].
struct Page {
    html: String,
    content_security_policy: String,
}

impl Page {
    fn render(source: &AssetSource) -> Self {
        let mut html = TEMPLATE.to_owned();
        let placeholders = [
            ("REACT_JS", "react.production.min.js"),
            ("REACT_DOM_JS", "react-dom.production.min.js"),
            ("GRAPHIQL_JS", "graphiql.min.js"),
            ("GRAPHIQL_CSS", "graphiql.min.css"),
        ];
        for (placeholder, name) in placeholders {
            // A file missing from pins.txt gets no integrity value, so the
            // browser loads it unchecked; a unit test keeps every one pinned.
            let pin = pin(name).unwrap_or_default();
            html = html
                .replace(&format!("{{{{{placeholder}}}}}"), &source.url(name, &pin))
                .replace(
                    &format!("{{{{{placeholder}_INTEGRITY}}}}"),
                    &format!("sha384-{}", pin.sha384),
                );
        }
        let own = |name| served(name).map(Served::url).unwrap_or_default();
        let html = html
            .replace("{{APP_JS}}", &own("app.js"))
            .replace("{{APP_CSS}}", &own("app.css"))
            .replace("{{ENDPOINT}}", "/graphql")
            .replace("{{WS_ENDPOINT}}", "/graphql/ws")
            .replace("{{ASSETS}}", source.key());
        Self {
            html,
            content_security_policy: content_security_policy(source),
        }
    }
}

/// The one `<style>` element GraphiQL inserts: react-remove-scroll-bar's
/// scroll lock while a dialog or menu is open (Radix UI). Its text holds the
/// width of the page's scrollbar, always 0 here (`graphiql-app.css` hides
/// overflow), so it is the same on every open and its hash lets it in
/// without `'unsafe-inline'`. Were it ever blocked (another GraphiQL, a
/// browser that measures otherwise), only a scroll lock the page does not
/// need would be lost; the Chromium test opens a dialog and fails on the
/// CSP violation.
const SCROLL_LOCK_STYLE: &str = "'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='";

/// The page's policy: scripts and styles from this server (and from the CDN
/// in CDN mode) only, requests to this server only (`'self'` covers the
/// subscriptions' `ws:`/`wss:`), fonts and images inlined in GraphiQL's CSS
/// as `data:` urls, and no framing, forms or `<base>`. Style attributes set
/// from script (React, CodeMirror) go through the CSSOM, which the policy
/// does not govern.
fn content_security_policy(source: &AssetSource) -> String {
    let cdn = match source {
        AssetSource::Cdn => format!(" {CDN_ORIGIN}"),
        AssetSource::Embedded | AssetSource::Dir(_) => String::new(),
    };
    format!(
        "default-src 'none'; script-src 'self'{cdn}; style-src 'self'{cdn} {SCROLL_LOCK_STYLE}; \
         connect-src 'self'; img-src 'self' data:; font-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

async fn page(State(page): State<Arc<Page>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                page.content_security_policy.as_str(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page.html.clone(),
    )
        .into_response()
}

/// `GET /graphiql/static/{hash}/{name}`: an embedded file, while `hash` is
/// still its hash (a page from before an upgrade gets 404s, and says to
/// reload). `If-None-Match` with its ETag gets a bodiless 304.
async fn embedded(Path((hash, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(file) = SERVED
        .iter()
        .find(|s| s.file.name == name && s.hash == hash)
    else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such file: reload /graphiql",
        )
            .into_response();
    };
    let etag = format!("\"{}\"", file.hash);
    if super::etag::unchanged(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, file.file.content_type.to_owned()),
            (header::ETAG, etag),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        file.file.bytes,
    )
        .into_response()
}

/// The playground's routes: the page, the embedded files, and the
/// `--graphiql-assets` folder when there is one.
pub(super) fn routes<S: Clone + Send + Sync + 'static>(config: &HttpConfig) -> Router<S> {
    let source = AssetSource::of(config);
    let mut router = Router::new()
        .route("/graphiql", get(page))
        .with_state(Arc::new(Page::render(&source)))
        .route(
            EMBEDDED_ROUTE,
            get(embedded).route_layer(middleware::from_fn_with_state(
                EMBEDDED_CACHE,
                super::cache_for,
            )),
        );
    if let AssetSource::Dir(dir) = &source {
        let assets = tower::ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(
                LOCAL_ASSETS_CACHE,
                super::cache_for,
            ))
            .service(ServeDir::new(dir));
        router = router.nest_service(LOCAL_ASSETS_PATH, assets);
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_third_party_file_is_pinned() {
        for file in &THIRD_PARTY {
            let pin = pin(file.name).unwrap_or_else(|| panic!("{} is not in pins.txt", file.name));
            assert_eq!(pin.sha384.len(), 64, "{}: a base64 SHA-384", file.name);
        }
    }

    #[test]
    fn the_cdn_urls_are_jsdelivr_npm_urls_of_the_pinned_versions() {
        let page = Page::render(&AssetSource::Cdn).html;
        for url in [
            "https://cdn.jsdelivr.net/npm/react@18.3.1/umd/react.production.min.js",
            "https://cdn.jsdelivr.net/npm/react-dom@18.3.1/umd/react-dom.production.min.js",
            "https://cdn.jsdelivr.net/npm/graphiql@3.9.0/graphiql.min.js",
            "https://cdn.jsdelivr.net/npm/graphiql@3.9.0/graphiql.min.css",
        ] {
            assert!(page.contains(&format!("\"{url}\"")), "{url}");
        }
    }

    #[test]
    fn every_placeholder_is_filled_in_every_mode() {
        for source in [
            AssetSource::Embedded,
            AssetSource::Cdn,
            AssetSource::Dir(PathBuf::from("assets")),
        ] {
            let page = Page::render(&source).html;
            assert!(!page.contains("{{"), "{source:?}");
            assert!(!page.contains("src=\"\""), "{source:?}: an empty url");
            assert!(!page.contains("sha384-\""), "{source:?}: an empty hash");
            assert!(
                page.contains(&format!("data-assets=\"{}\"", source.key())),
                "{source:?}"
            );
        }
    }
}
