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

mod auth;
mod wire;

use auth::authenticate;
use wire::{
    MediaType, Stage, check_operation, negotiate, refusal, refuse, request_error,
    request_from_params, request_id,
};

use super::AppState;
use super::throttle::ClientIp;
use crate::error::{Code, Error};
use crate::graphql::loaders::Loaders;
use crate::graphql::policy;

/// Checks a batch's size and parses each of its documents (after its token
/// budget), before anything runs. The schema's policy checks the other
/// limits itself, for every transport.
fn refuse_before_running(
    state: &AppState,
    media: MediaType,
    headers: &HeaderMap,
    batch: &mut BatchRequest,
) -> Option<Response> {
    let requests: Vec<&mut Request> = match batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(rs) => rs.iter_mut().collect(),
    };
    if let Err(refused) = state.limits.check_batch(requests.len()) {
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

/// Gives masked internal errors the request id under which the log holds
/// the cause.
fn shape_errors(response: &mut async_graphql::Response, request_id: &str) {
    for error in &mut response.errors {
        let internal = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from(Code::Internal.as_str()));
        if internal {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("requestId", request_id);
        }
    }
}

/// The `code` of a response's first error, lower-cased, or `ok`.
fn outcome(response: &async_graphql::Response) -> String {
    match response.errors.first() {
        None => "ok".to_owned(),
        Some(e) => e
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .and_then(|c| match c {
                async_graphql::Value::String(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            })
            .unwrap_or_else(|| "invalid".to_owned()),
    }
}

/// Runs the request(s) and writes the response in the negotiated media type.
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    media: MediaType,
    mut batch: BatchRequest,
) -> Response {
    let editor = match authenticate(state, headers, client, media).await {
        Ok(editor) => editor,
        Err(refusal) => return refusal,
    };
    if let Some(refused) = refuse_before_running(state, media, headers, &mut batch) {
        return refused;
    }
    let request_id = request_id(headers);
    let operations: Vec<String> = match &batch {
        BatchRequest::Single(r) => {
            vec![crate::metrics::operation_label(r.operation_name.as_deref())]
        }
        BatchRequest::Batch(rs) => rs
            .iter()
            .map(|r| crate::metrics::operation_label(r.operation_name.as_deref()))
            .collect(),
    };
    // Request data overrides the schema's: anonymous reads run on the read
    // pool, editors on the main one.
    let pool = if editor.is_some() {
        &state.db
    } else {
        &state.read_db
    };
    let mut batch = batch.data(Loaders::new(pool)).data(pool.clone());
    if let Some(editor) = editor {
        batch = batch.data(editor);
    }
    let started = std::time::Instant::now();
    let mut response = match run_guarded(
        state.limits.request_timeout(),
        state.schema.execute_batch(batch),
    )
    .await
    {
        Ok(response) => response,
        Err(stop) => {
            let elapsed = started.elapsed().as_secs_f64();
            let (outcome, response) = match stop {
                Stopped::TimedOut => {
                    tracing::warn!(timeout = ?state.limits.request_timeout(), "request timed out");
                    let error = Error::QueryLimit {
                        limit: "timeout",
                        message: format!(
                            "the request ran longer than {} s and was stopped; a change it had not committed yet was rolled back",
                            state.limits.request_timeout().as_secs_f64()
                        ),
                    };
                    ("timeout", refusal(media, Stage::Graphql, &error, headers))
                }
                // The panic hook logged the cause, under this request's span.
                Stopped::Panicked => (
                    "internal",
                    refusal(media, Stage::Http, &Error::Panicked, headers),
                ),
            };
            for op in &operations {
                crate::metrics::record_operation(op, outcome, elapsed);
            }
            return response;
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    match &mut response {
        BatchResponse::Single(r) => {
            shape_errors(r, &request_id);
            crate::metrics::record_operation(&operations[0], &outcome(r), elapsed);
        }
        BatchResponse::Batch(rs) => {
            for (r, op) in rs.iter_mut().zip(&operations) {
                shape_errors(r, &request_id);
                crate::metrics::record_operation(op, &outcome(r), elapsed);
            }
        }
    }
    let (status, body) = match response {
        BatchResponse::Single(r) => {
            let request_error = r.data == async_graphql::Value::Null
                && !r.errors.is_empty()
                && r.errors.iter().all(|e| e.path.is_empty());
            let mut body = serde_json::to_value(&r).unwrap_or(Value::Null);
            if request_error && let Value::Object(map) = &mut body {
                // A request error never started execution: it has no `data`.
                map.remove("data");
            }
            let status = if request_error && media == MediaType::GraphqlResponse {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, body)
        }
        BatchResponse::Batch(rs) => (
            StatusCode::OK,
            serde_json::to_value(&rs).unwrap_or(Value::Null),
        ),
    };
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// Why a request produced no GraphQL response.
#[derive(Debug, PartialEq, Eq)]
enum Stopped {
    /// It ran past the request timeout and was dropped.
    TimedOut,
    /// It panicked; the panic hook has logged where.
    Panicked,
}

/// Runs a request's future within `timeout`, turning a panic into
/// [`Stopped::Panicked`] so the client still gets an answer. A zero budget
/// stops the request before it runs, whatever the timer's granularity.
async fn run_guarded<T>(
    timeout: std::time::Duration,
    run: impl Future<Output = T>,
) -> Result<T, Stopped> {
    use futures_util::FutureExt;
    if timeout.is_zero() {
        return Err(Stopped::TimedOut);
    }
    // Nothing the future borrows is looked at again after a panic.
    let guarded = std::panic::AssertUnwindSafe(run).catch_unwind();
    match tokio::time::timeout(timeout, guarded).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_panic)) => Err(Stopped::Panicked),
        Err(_elapsed) => Err(Stopped::TimedOut),
    }
}

/// `GET /graphql?query=…`: queries only.
pub async fn get(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(media) = negotiate(&headers) else {
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
                Err(_) => {
                    return request_error(
                        media,
                        &headers,
                        "variables",
                        &format!("`{key}` is not JSON"),
                    );
                }
            },
            _ => Value::String(value),
        };
        params.insert(key, value);
    }
    let request = match request_from_params(&params) {
        Ok(r) => r,
        Err((field, message)) => return request_error(media, &headers, field, &message),
    };
    let mut request = request;
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
    execute(
        &state,
        &headers,
        client,
        media,
        BatchRequest::Single(request),
    )
    .await
}

/// `POST /graphql` with a JSON body: one request or a batch (a JSON array).
pub async fn post(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiate(&headers) else {
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
                &headers,
                "body",
                &format!("the body is not valid JSON: {e}"),
            );
        }
    };
    let batch = match value {
        Value::Object(params) => match request_from_params(&params) {
            Ok(r) => BatchRequest::Single(r),
            Err((field, message)) => return request_error(media, &headers, field, &message),
        },
        Value::Array(items) if !items.is_empty() => {
            let mut requests = Vec::with_capacity(items.len());
            for item in items {
                let Value::Object(params) = item else {
                    return request_error(
                        media,
                        &headers,
                        "body",
                        "every request of a batch must be an object",
                    );
                };
                match request_from_params(&params) {
                    Ok(r) => requests.push(r),
                    Err((field, message)) => {
                        return request_error(media, &headers, field, &message);
                    }
                }
            }
            BatchRequest::Batch(requests)
        }
        _ => {
            return request_error(
                media,
                &headers,
                "body",
                "the body must be a JSON object (or a non-empty array of them)",
            );
        }
    };
    execute(&state, &headers, client, media, batch).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_a_request_becomes_a_stop_not_a_dropped_connection() {
        let outcome = run_guarded(std::time::Duration::from_secs(5), async {
            let offsets: Vec<u64> = Vec::new();
            // Indexing past the end panics, as any bug in a resolver might.
            offsets[usize::from(offsets.is_empty())]
        })
        .await;
        assert_eq!(outcome, Err(Stopped::Panicked));
        let fine = run_guarded(std::time::Duration::from_secs(5), async { 7 }).await;
        assert_eq!(fine, Ok(7));
        let late = run_guarded(std::time::Duration::ZERO, async { 7 }).await;
        assert_eq!(late, Err(Stopped::TimedOut));
    }
}
