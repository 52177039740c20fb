//! `GET /learn/{subject}/questions/{slug}`: an article as readers see it,
//! rendered on the server from templates (minijinja), with its SEO tags and
//! schema.org `QAPage` data; with a signed `?version=` link, a version
//! readers do not see, under a banner.

use std::sync::LazyLock;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use minijinja::{Environment, context};
use serde_json::json;
use sha2::Digest;

use super::AppState;
use crate::error::Error;
use crate::preview::{LinkRefused, PreviewLinks};
use crate::render;
use crate::service::preview::{Found, Page, find, page};

/// The page's stylesheet, inline so the page is one request; the policy
/// allows exactly this text by its hash.
const CSS: &str = "body{margin:0;font:17px/1.6 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;background:#fff}\
main{max-width:46rem;margin:0 auto;padding:1.5rem 1.25rem 4rem}\
h1{font-size:1.9rem;line-height:1.25;margin:.3rem 0 .8rem}\
.subject{margin:0;text-transform:uppercase;letter-spacing:.06em;font-size:.8rem;color:#5b6475}\
.question{font-size:1.1rem;color:#3a4252}\
.byline{color:#5b6475;font-size:.95rem}\
.answer table{border-collapse:collapse;margin:1rem 0}\
.answer th,.answer td{border:1px solid #c9ced8;padding:.3rem .6rem}\
.answer img{max-width:100%}\
.math.display{display:block;margin:1rem 0;overflow-x:auto}\
.related{margin-top:2.5rem;border-top:1px solid #e3e6ec}\
.related small{color:#5b6475}\
.not-loaded{color:#3a4252}\
.preview-banner{position:sticky;top:0;background:#fff4d6;border-bottom:1px solid #e5c46a;padding:.6rem 1.25rem;font-size:.95rem}";

/// The `Content-Security-Policy` of every page here: nothing runs (the
/// JSON-LD block is data, not script), the one inline stylesheet is allowed
/// by its hash, and so is each alignment a markdown table cell can carry
/// (`style="text-align:right"`, as the sanitizer writes it; a style
/// attribute needs `'unsafe-hashes'` to be allowed by hash). Images in
/// answers load from anywhere over https.
static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = |text: &str| {
        let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text));
        format!("'sha256-{digest}'")
    };
    let alignments = ["left", "center", "right"]
        .map(|side| hash(&format!("text-align:{side}")))
        .join(" ");
    let policy = format!(
        "default-src 'none'; style-src {} 'unsafe-hashes' {alignments}; img-src https: data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(CSS)
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

/// The templates, parsed once (a template error shows as a 500 and in the
/// log, and the unit tests render both).
static TEMPLATES: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // The server's one HTML escaper, which leaves `/` alone (minijinja's
    // own writes urls as `&#x2f;learn&#x2f;…`).
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() || value.is_none() {
            return Ok(());
        }
        let text = value.to_string();
        if value.is_safe() {
            out.write_str(&text)?;
        } else {
            let mut escaped = String::with_capacity(text.len());
            render::push_escaped(&mut escaped, &text);
            out.write_str(&escaped)?;
        }
        Ok(())
    });
    env.add_template("preview.html", include_str!("preview.html"))
        .and_then(|()| env.add_template("message.html", include_str!("preview-message.html")))
        .map_err(|e| e.to_string())?;
    Ok(env)
});

/// The parsed templates, or why they did not parse.
fn templates() -> Result<&'static Environment<'static>, minijinja::Error> {
    TEMPLATES
        .as_ref()
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::TemplateNotFound, e.clone()))
}

/// What a signed link carries in its query string.
#[derive(Debug, Default, serde::Deserialize)]
struct VersionQuery {
    version: Option<String>,
    expires: Option<String>,
    signature: Option<String>,
}

/// The article page at `/learn/{subject}/questions/{slug}`.
pub(super) async fn article_page(
    State(state): State<AppState>,
    Path((subject, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let url = crate::fields::article_url(&subject, &slug);
    let asked: VersionQuery = query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let reads = state.anonymous_reads();
    let stored = match find(&reads, &url, &slug).await {
        Ok(Found::Here(stored)) => stored,
        Ok(Found::Moved(now)) => {
            let mut location = state.preview.absolute(&now);
            if let Some(query) = query.filter(|q| !q.is_empty()) {
                location = format!("{location}?{query}");
            }
            return until_any_change(moved(&location));
        }
        Ok(Found::Missing) => {
            return until_any_change(message(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!(
                    "No article is published at {url}. Check the address, or search for the question."
                ),
            ));
        }
        Err(e) => return failed(&e),
    };
    let version = match asked.version.as_deref() {
        None => None,
        Some(version) => {
            match signed_version(&state.preview, stored.article.model.id, version, &asked) {
                Ok(version) => Some(version),
                Err(refused) => {
                    let why = match refused {
                        LinkRefused::Expired => {
                            "This preview link has expired. Ask for a new one: `previewUrl` on the article, with an editor token."
                        }
                        LinkRefused::BadSignature => {
                            "Versions other than what readers see open only through a signed preview link: ask for one with the `previewUrl` field of the article, with an editor token."
                        }
                    };
                    return message(StatusCode::FORBIDDEN, "Preview link refused", why);
                }
            }
        }
    };
    let shown = match page(&reads, &stored, version).await {
        Ok(Some(shown)) => shown,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "No such version",
                &format!(
                    "The article has versions 1 to {}.",
                    stored.article.model.version
                ),
            );
        }
        Err(e) => return failed(&e),
    };
    let body = match render_page(&state.preview, &shown, version.is_some()) {
        Ok(body) => body,
        Err(e) => return failed(&Error::Internal(format!("preview template: {e}"))),
    };
    let mut response = respond(&headers, body, version.is_some());
    crate::surrogate::tag(response.headers_mut(), &shown.keys);
    response
}

/// The version a signed link asks for, once its signature holds.
fn signed_version(
    links: &PreviewLinks,
    id: i64,
    version: &str,
    asked: &VersionQuery,
) -> Result<i32, LinkRefused> {
    let version: i32 = version.parse().map_err(|_| LinkRefused::BadSignature)?;
    let expires: i64 = asked
        .expires
        .as_deref()
        .and_then(|e| e.parse().ok())
        .ok_or(LinkRefused::BadSignature)?;
    let signature = asked
        .signature
        .as_deref()
        .ok_or(LinkRefused::BadSignature)?;
    links.verify(id, version, expires, signature, chrono::Utc::now())?;
    Ok(version)
}

/// The page's HTML. `signed`: shown through a signed link, under a banner.
fn render_page(
    links: &PreviewLinks,
    shown: &Page,
    signed: bool,
) -> Result<String, minijinja::Error> {
    let f = &shown.fields;
    let canonical = links.absolute(&f.url);
    let banner = signed.then(|| {
        if shown.version == shown.current_version {
            format!(
                "Preview of version {} — the current version, as readers see it.",
                shown.version
            )
        } else {
            format!(
                "Preview of version {} — not what readers see: they see version {}.",
                shown.version, shown.current_version
            )
        }
    });
    templates()?.get_template("preview.html")?.render(context! {
        language => &f.language,
        page_title => f.seo.title.as_deref().filter(|t| !t.is_empty()).unwrap_or(&f.article_title),
        description => &f.seo.description,
        keywords => f.seo.keywords.join(", "),
        canonical => &canonical,
        css => CSS,
        json_ld => json_ld(shown, &canonical),
        banner => banner,
        subject => &f.subject,
        article_title => &f.article_title,
        question => &f.question,
        post_on_text => &f.post_on_text,
        date => f.date.map(|d| d.to_string()),
        display_date => f.date.map(|d| render::display_date(d, &f.date_format)),
        author => &f.author,
        answer_html => &shown.answer_html,
        links => &shown.links,
    })
}

/// schema.org `QAPage` data for search engines, as a `<script>` block's
/// text: the question as `mainEntity`, its answer as `acceptedAnswer`.
fn json_ld(shown: &Page, canonical: &str) -> String {
    let f = &shown.fields;
    let created = f
        .date
        .map_or_else(|| shown.created_at.to_rfc3339(), |d| d.to_string());
    let mut answer = json!({
        "@type": "Answer",
        "text": render::plain_text(&f.answer),
        "dateCreated": created,
        "url": format!("{canonical}#answer"),
    });
    let mut question = json!({
        "@type": "Question",
        "name": f.title,
        "text": f.question,
        "answerCount": 1,
        "dateCreated": created,
    });
    // An article without an author names none (rather than a made-up one).
    if let Some(name) = f.author.as_deref() {
        let author = json!({ "@type": "Person", "name": name });
        question["author"] = author.clone();
        answer["author"] = author;
    }
    question["acceptedAnswer"] = answer;
    let data = json!({
        "@context": "https://schema.org",
        "@type": "QAPage",
        "mainEntity": question,
    });
    // Inside `<script>`, `</script>` or `<!--` in a string would end the
    // block early: JSON may spell those characters as escapes instead.
    data.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The page with its validators: an `ETag` of the body (titles of related
/// articles and subject names change the page without the article's
/// version moving), so `If-None-Match` gets a bodiless 304.
fn respond(request: &HeaderMap, body: String, signed: bool) -> Response {
    let etag = super::etag::of(body.as_bytes());
    let mut response = if super::etag::unchanged(request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    // A reader page may change at any edit: caches keep it, but ask first.
    // A signed preview is for the editor who holds the link alone, and its
    // url must not leak through the Referer of a link followed from it.
    let (cache, referrer) = if signed {
        ("private, no-store", "no-referrer")
    } else {
        ("no-cache", "strict-origin-when-cross-origin")
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer));
    secure(headers);
    response
}

/// The headers every page here sends.
fn secure(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, POLICY.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// 301 to `location`, where the article lives now.
fn moved(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => {
            let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        Err(_) => failed(&Error::Internal(format!(
            "article url `{location}` is no header value"
        ))),
    }
}

/// A redirect or a 404, which caches would keep (a CDN for an hour by
/// default) past the change that ends it: an article made at that url, or
/// another taking the old url over. Any change may, so it is filed under
/// the key every change purges, and revalidated.
fn until_any_change(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    crate::surrogate::tag(
        headers,
        &std::collections::BTreeSet::from([crate::surrogate::Key::Articles]),
    );
    response
}

/// A short page saying what went wrong and what to do; not stored (a
/// refused link, a failure), unless [`until_any_change`] says otherwise.
fn message(status: StatusCode, heading: &str, text: &str) -> Response {
    let rendered = templates()
        .and_then(|t| t.get_template("message.html"))
        .and_then(|t| t.render(context! { heading, message => text, css => CSS }));
    let mut response = match rendered {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "preview message template");
            (status, format!("{heading}: {text}")).into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    secure(headers);
    response
}

/// A database or template failure: logged with its cause, shown without.
fn failed(error: &Error) -> Response {
    if matches!(error, Error::Busy) {
        let mut response = message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "The database is busy with a large write. Reload the page in a few seconds.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        return response;
    }
    tracing::error!(error = %error, "reader preview failed");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The page could not be shown; the server logged why. Reload it, and tell the site's operators if it persists.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_templates_render() {
        let links = PreviewLinks::default();
        let shown = Page {
            fields: crate::fields::ArticleFields {
                title: "T <b>".into(),
                article_title: "T <b>".into(),
                question: "Q?".into(),
                answer: "A </script><script>alert(1)</script>".into(),
                url: "/learn/s/questions/t".into(),
                ..Default::default()
            },
            version: 1,
            current_version: 2,
            answer_html: "<p>A</p>".into(),
            links: Vec::new(),
            created_at: chrono::DateTime::default(),
            keys: Default::default(),
        };
        let html = render_page(&links, &shown, true).unwrap_or_default();
        assert!(html.contains("<h1>T &lt;b&gt;</h1>"), "{html}");
        assert!(html.contains("not what readers see"), "{html}");
        // The JSON-LD cannot close its script block.
        assert_eq!(html.matches("</script>").count(), 1, "{html}");
        let response = message(StatusCode::NOT_FOUND, "Not found", "x <y>");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(
            response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
    }
}
