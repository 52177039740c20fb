//! GraphQL over HTTP as the GraphQL-over-HTTP spec (and the `graphql-http`
//! server audit) defines it: the media type follows `Accept`, request errors
//! are 400 with no `data` under `application/graphql-response+json`, GET runs
//! queries only, and a POST must be JSON.

use std::collections::HashMap;
use std::net::IpAddr;

use async_graphql::{BatchRequest, BatchResponse, Request};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

mod persisted;
mod wire;

pub use persisted::PersistedQueries;
pub(super) use wire::request_from_params;
use wire::{
    MediaType, Stage, check_operation, negotiate, refusal, refuse, request_error, request_id,
};

use super::AppState;
use super::auth::{Refused, editor_for};
use super::throttle::ClientIp;
use crate::config::CachePolicy;
use crate::error::Error;
use crate::graphql::policy;
use crate::graphql::request::{Caller, is_request_error};
use crate::service::token::Editor;
use crate::surrogate::{self, Keys};

/// What a response's body depends on besides the url: the media type
/// (`Accept`) and whether a token was sent (a cache must never hand an
/// anonymous copy to an editor, nor an editor's to anyone).
const VARY: &str = "accept, authorization";

/// The `Cache-Control` of every response but an anonymous GET's without
/// errors: an editor's reads, mutations, refusals and errors are never
/// kept, by a browser or a CDN.
const NO_STORE: &str = "private, no-store";

/// How a request came: only a GET can be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// The editor a request's `Authorization` header names; a refusal
/// (`UNAUTHENTICATED`, 401) when the header is malformed, or the token
/// unknown or revoked, reads included, so a misconfigured client notices.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    media: MediaType,
) -> Result<Option<Editor>, Response> {
    let value = match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Ok(value)) => Some(value),
        // Not text: no token can be read from it.
        Some(Err(_)) => Some(""),
    };
    editor_for(state, value, client).await.map_err(|refused| {
        let error = match refused {
            Refused::TooManyFailures(wait) => {
                return super::throttle::TooManyFailures(wait).into_response();
            }
            // The token may well be valid: a database outage is the
            // server's failure, never the client's (401 would make it drop
            // its token).
            Refused::Unavailable(error) => error,
            Refused::Malformed | Refused::Unknown => {
                Error::Unauthenticated(refused.message().to_owned())
            }
        };
        refusal(media, Stage::Http, &error, headers)
    })
}

/// Checks a batch's size (`unknown` items besides its requests) and parses
/// each of its documents (after its token budget), before anything runs.
/// The schema's policy checks the other limits itself, for every transport.
fn refuse_before_running(
    state: &AppState,
    media: MediaType,
    headers: &HeaderMap,
    batch: &mut BatchRequest,
    unknown: usize,
) -> Option<Response> {
    let requests: Vec<&mut Request> = match batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(rs) => rs.iter_mut().collect(),
    };
    if let Err(refused) = state.limits.check_batch(requests.len() + unknown) {
        return Some(refusal(
            media,
            Stage::Graphql,
            &Error::from(refused),
            headers,
        ));
    }
    let single = requests.len() == 1;
    for request in requests {
        let variables = request.variables.clone();
        let operation_name = request.operation_name.clone();
        let doc = match policy::parse(&state.limits, request) {
            Ok(doc) => doc,
            // In a batch, each request reports its own parse error.
            Err(error) if single => return Some(refusal(media, Stage::Graphql, &error, headers)),
            Err(_) => continue,
        };
        if single
            && let Some(message) = check_operation(operation_name.as_deref(), &variables, doc)
                .and_then(|c| c.null_variable)
        {
            let error = Error::bad_input("variables", message);
            return Some(refusal(media, Stage::Graphql, &error, headers));
        }
    }
    None
}

/// A request refused while its parameters were read: `BAD_USER_INPUT`
/// naming the parameter (never well-formed, 400), or
/// `PERSISTED_QUERY_NOT_FOUND` (a GraphQL error the client answers by
/// sending its query).
fn params_refused(media: MediaType, headers: &HeaderMap, error: &Error) -> Response {
    let stage = match error {
        Error::PersistedQueryNotFound => Stage::Graphql,
        _ => Stage::Http,
    };
    refusal(media, stage, error, headers)
}

/// Runs the request(s) and writes the response in the negotiated media
/// type, with its caching headers and surrogate keys.
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    media: MediaType,
    sent: Sent,
    method: Method,
) -> Response {
    let keys = Keys::default();
    let mut response = match run(state, headers, client, media, sent, &keys).await {
        Ok(answer) => {
            let anonymous = !headers.contains_key(header::AUTHORIZATION);
            if method == Method::Get && anonymous && answer.clean {
                answer.cacheable(state.cache, headers, media)
            } else {
                answer.into_response(media)
            }
        }
        Err(refused) => refused,
    };
    surrogate::tag(response.headers_mut(), &keys.snapshot());
    response
}

/// A request that ran: its status and body, and whether it ran without
/// errors (only such an answer may be cached).
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    clean: bool,
}

impl Answer {
    fn into_response(self, media: MediaType) -> Response {
        let mut response = (self.status, self.body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, media.content_type());
        response
    }

    /// The answer as a cache may keep it: under `policy`, with a weak
    /// ETag of its body (the compression layer sends the same body in
    /// several codings), and a bodiless 304 when `If-None-Match` names it.
    fn cacheable(self, policy: CachePolicy, request: &HeaderMap, media: MediaType) -> Response {
        let etag = super::etag::weak_of(media.content_type().as_bytes(), &self.body);
        let mut response = if super::etag::unchanged(request, &etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            self.into_response(media)
        };
        let headers = response.headers_mut();
        let control = format!(
            "public, max-age={}, s-maxage={}, stale-while-revalidate={}",
            policy.cache_max_age, policy.cache_s_maxage, policy.cache_stale_while_revalidate
        );
        // Digits and ASCII only: both are always valid header values.
        if let Ok(control) = HeaderValue::from_str(&control) {
            headers.insert(header::CACHE_CONTROL, control);
        }
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, etag);
        }
        response
    }
}

/// What a client sent: its request(s), and where in a batch an item sent
/// only the hash of a persisted query this server does not know (that
/// item's answer is `PERSISTED_QUERY_NOT_FOUND`, in its place in the array,
/// and the others run: a batching client expects an array).
struct Sent {
    batch: BatchRequest,
    unknown: Vec<usize>,
}

impl From<BatchRequest> for Sent {
    fn from(batch: BatchRequest) -> Self {
        Self {
            batch,
            unknown: Vec::new(),
        }
    }
}

/// Runs the request(s), the surrogate keys of what they show collected in
/// `keys`: the answer, or the refusal already written.
async fn run(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    media: MediaType,
    sent: Sent,
    keys: &Keys,
) -> Result<Answer, Response> {
    let Sent { mut batch, unknown } = sent;
    let editor = authenticate(state, headers, client, media).await?;
    if let Some(refused) = refuse_before_running(state, media, headers, &mut batch, unknown.len()) {
        return Err(refused);
    }
    let caller = Caller {
        editor,
        request_id: request_id(headers),
    };
    let pools = state.pools();
    let prepare = |r| pools.prepare(&caller, r).data(keys.clone());
    let batch = match batch {
        BatchRequest::Single(r) => BatchRequest::Single(prepare(r)),
        BatchRequest::Batch(rs) => BatchRequest::Batch(rs.into_iter().map(prepare).collect()),
    };
    let operations: Vec<String> = batch
        .iter()
        .map(|r| crate::metrics::operation_label(r.operation_name.as_deref()))
        .collect();
    let started = std::time::Instant::now();
    // The schema's policy applies the timeout and counts each operation;
    // a panic is this transport's to answer.
    let Ok(response) = run_guarded(state.api.execute_batch(batch)).await else {
        let elapsed = started.elapsed().as_secs_f64();
        for op in &operations {
            crate::metrics::record_operation(op, "internal", elapsed);
        }
        return Err(refusal(media, Stage::Http, &Error::Panicked, headers));
    };
    let response = match response {
        BatchResponse::Batch(mut answers) => {
            // In ascending order, so each lands where it was sent.
            for &at in &unknown {
                let missing = Error::PersistedQueryNotFound.to_server_error();
                let answer = async_graphql::Response::from_errors(vec![missing]);
                answers.insert(at.min(answers.len()), answer);
            }
            BatchResponse::Batch(answers)
        }
        single => single,
    };
    let clean = match &response {
        BatchResponse::Single(r) => r.errors.is_empty(),
        BatchResponse::Batch(rs) => rs.iter().all(|r| r.errors.is_empty()),
    };
    let (status, body) = match response {
        BatchResponse::Single(r) if is_request_error(&r) => {
            let status = if media == MediaType::GraphqlResponse {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            let mut body = serde_json::to_value(&r);
            if let Ok(Value::Object(map)) = &mut body {
                // A request error never started execution: it has no `data`.
                map.remove("data");
            }
            (status, body.and_then(|body| serde_json::to_vec(&body)))
        }
        // Written straight to bytes: an article page is hundreds of fields,
        // and a `serde_json::Value` tree of them first would cost as many
        // allocations again.
        response => (StatusCode::OK, serde_json::to_vec(&response)),
    };
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            // Only a map with a non-text key could fail, and the schema
            // has none: a defect to log, not the client's to fix.
            tracing::error!(%error, "a response could not be written as JSON");
            let error = Error::Internal(error.to_string());
            return Err(refusal(media, Stage::Http, &error, headers));
        }
    };
    Ok(Answer {
        status,
        body,
        clean,
    })
}

/// The headers every `/graphql` answer carries, whatever it is (the rate
/// limit's 429 and a body's 413 included): a response that set no
/// `Cache-Control` is never stored.
pub(super) async fn finish(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static(VARY));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(NO_STORE));
    response
}

/// A request that panicked; the panic hook has logged where.
#[derive(Debug, PartialEq, Eq)]
struct Panicked;

/// Runs a request's future, turning a panic into [`Panicked`] so the client
/// still gets an answer.
async fn run_guarded<T>(run: impl Future<Output = T>) -> Result<T, Panicked> {
    use futures_util::FutureExt;
    // Nothing the future borrows is looked at again after a panic.
    std::panic::AssertUnwindSafe(run)
        .catch_unwind()
        .await
        .map_err(|_panic| Panicked)
}

/// `GET /graphql?query=…`: queries only; an anonymous one without errors
/// may be cached.
pub async fn get(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (state, headers) = (&state, &headers);
    let Some(media) = negotiate(headers) else {
        return refuse(
            StatusCode::NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        );
    };
    let pairs: HashMap<String, String> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let mut params = Map::new();
    for (key, value) in pairs {
        let value = match key.as_str() {
            "variables" | "extensions" => match serde_json::from_str(&value) {
                Ok(v) => v,
                Err(e) => {
                    return request_error(
                        media,
                        headers,
                        &key,
                        &format!("`{key}` is not JSON ({e}); URL-encode a JSON object"),
                    );
                }
            },
            _ => Value::String(value),
        };
        params.insert(key, value);
    }
    let mut request = match request_from_params(&params, &state.persisted) {
        Ok(r) => r,
        Err(error) => return params_refused(media, headers, &error),
    };
    let (variables, operation_name) = (request.variables.clone(), request.operation_name.clone());
    // A document over its budget or one that does not parse is reported by
    // `execute`, with its code.
    let writes = policy::parse(&state.limits, &mut request)
        .ok()
        .and_then(|doc| check_operation(operation_name.as_deref(), &variables, doc))
        .is_some_and(|c| c.writes);
    if writes {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let request = BatchRequest::Single(request).into();
    execute(state, headers, client, media, request, Method::Get).await
}

/// `POST /graphql` with a JSON body: one request or a batch (a JSON
/// array). Never cached.
pub async fn post(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, headers) = (&state, &headers);
    let Some(media) = negotiate(headers) else {
        return refuse(
            StatusCode::NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        );
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as application/json",
        );
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return request_error(
                media,
                headers,
                "body",
                &format!("the body is not valid JSON: {e}"),
            );
        }
    };
    let sent = match value {
        Value::Object(params) => match request_from_params(&params, &state.persisted) {
            Ok(r) => BatchRequest::Single(r).into(),
            Err(error) => return params_refused(media, headers, &error),
        },
        Value::Array(items) if !items.is_empty() => {
            let mut requests = Vec::with_capacity(items.len());
            let mut unknown = Vec::new();
            for (at, item) in items.into_iter().enumerate() {
                let Value::Object(params) = item else {
                    return request_error(
                        media,
                        headers,
                        "body",
                        "every request of a batch must be an object",
                    );
                };
                match request_from_params(&params, &state.persisted) {
                    Ok(r) => requests.push(r),
                    Err(Error::PersistedQueryNotFound) => unknown.push(at),
                    Err(error) => return params_refused(media, headers, &error),
                }
            }
            Sent {
                batch: BatchRequest::Batch(requests),
                unknown,
            }
        }
        _ => {
            return request_error(
                media,
                headers,
                "body",
                "the body must be a JSON object (or a non-empty array of them)",
            );
        }
    };
    execute(state, headers, client, media, sent, Method::Post).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_a_request_becomes_an_answer_not_a_dropped_connection() {
        let outcome = run_guarded(async {
            let offsets: Vec<u64> = Vec::new();
            // Indexing past the end panics, as any bug in a resolver might.
            offsets[usize::from(offsets.is_empty())]
        })
        .await;
        assert_eq!(outcome, Err(Panicked));
        assert_eq!(run_guarded(async { 7 }).await, Ok(7));
    }
}
