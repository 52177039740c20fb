//! GraphQL over HTTP as the GraphQL-over-HTTP spec (and the `graphql-http`
//! server audit) defines it: the media type follows `Accept`, request errors
//! are 400 with no `data` under `application/graphql-response+json`, GET runs
//! queries only, and a POST must be JSON.

use std::collections::HashMap;
use std::net::IpAddr;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Request, Variables};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::AppState;
use super::throttle::ClientIp;
use crate::error::{Code, Error};
use crate::graphql::loaders::Loaders;
use crate::graphql::policy;
use crate::service::token::{self, Editor};

/// The GraphQL-over-HTTP media type.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media types this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphqlResponse,
    /// `application/json`: every well-formed request is 200.
    Json,
}

impl MediaType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// Picks the response media type from `Accept`; `None` when it allows neither.
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let types: Vec<String> = accept
        .split(',')
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    if types.iter().any(|t| t == GRAPHQL_RESPONSE_JSON) {
        Some(MediaType::GraphqlResponse)
    } else if types
        .iter()
        .any(|t| t == "application/json" || t == "application/*" || t == "*/*" || t.is_empty())
    {
        Some(MediaType::Json)
    } else {
        None
    }
}

/// A plain-text refusal (the request never reached GraphQL).
fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_owned(),
    )
        .into_response()
}

/// Where a request was refused before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// It is not a well-formed GraphQL-over-HTTP request (always 400).
    Http,
    /// GraphQL refused it (a bad variable, a limit, a document that does
    /// not parse): 200 under `application/json`.
    Graphql,
}

/// The one answer to a request refused before it ran: the error in
/// GraphQL's shape (`errors` only, no `data`), under the status its code
/// and stage call for; an internal one carries the request id under which
/// the log holds its cause.
fn refusal(media: MediaType, stage: Stage, error: &Error, headers: &HeaderMap) -> Response {
    let mut shown = error.to_server_error();
    if error.code() == Code::Internal {
        shown
            .extensions
            .get_or_insert_with(Default::default)
            .set("requestId", request_id(headers));
    }
    let status = match error {
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        // Nothing ran and a retry may succeed; 401 would make a client drop
        // a token that may well be valid.
        Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        e if e.code() == Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ if stage == Stage::Graphql && media == MediaType::Json => StatusCode::OK,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = serde_json::json!({ "errors": [shown] });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, media.content_type());
    match status {
        StatusCode::UNAUTHORIZED => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}

/// `BAD_USER_INPUT` about `field` of a request that is not well-formed.
fn request_error(media: MediaType, headers: &HeaderMap, field: &str, message: &str) -> Response {
    refusal(
        media,
        Stage::Http,
        &Error::bad_input(field, message),
        headers,
    )
}

/// Builds a request from the GraphQL-over-HTTP parameters, checking their types.
fn request_from_params(params: &Map<String, Value>) -> Result<Request, (&'static str, String)> {
    let query = match params.get("query") {
        Some(Value::String(q)) => q.clone(),
        Some(_) => return Err(("query", "`query` must be a string".into())),
        None => return Err(("query", "the request has no `query`".into())),
    };
    let mut request = Request::new(query);
    match params.get("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name.clone()),
        Some(_) => return Err(("operationName", "`operationName` must be a string".into())),
    }
    match params.get("variables") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => request = request.variables(Variables::from_json(v.clone())),
        Some(_) => return Err(("variables", "`variables` must be an object".into())),
    }
    match params.get("extensions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let value = async_graphql::Value::from_json(v.clone())
                    .map_err(|e| ("extensions", e.to_string()))?;
                request.extensions.insert(k.clone(), value);
            }
        }
        Some(_) => return Err(("extensions", "`extensions` must be an object".into())),
    }
    Ok(request)
}

/// What the HTTP layer must know of a request's selected operation before
/// running it.
struct OperationCheck {
    /// A mutation or subscription (refused over GET).
    writes: bool,
    /// A non-null variable given as null or left out without a default:
    /// a request error, which async-graphql would let through.
    null_variable: Option<String>,
}

/// Inspects the operation `request` selects in its parsed `doc`; `None` when
/// it names no single operation (GraphQL then reports it).
fn check_operation(
    operation_name: Option<&str>,
    variables: &Variables,
    doc: &ExecutableDocument,
) -> Option<OperationCheck> {
    let op = match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    let null_variable = op.node.variable_definitions.iter().find_map(|def| {
        let def = &def.node;
        let name = def.name.node.as_str();
        let given = variables.get(name);
        let missing = match given {
            None => def.default_value.is_none(),
            Some(v) => *v == async_graphql::Value::Null,
        };
        (!def.var_type.node.nullable && missing).then(|| {
            format!(
                "variable `${name}` of type `{}` must not be null",
                def.var_type.node
            )
        })
    });
    Some(OperationCheck {
        writes: matches!(
            op.node.ty,
            OperationType::Mutation | OperationType::Subscription
        ),
        null_variable,
    })
}

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

/// The editor a request's `Authorization: Bearer <token>` names; a refusal
/// (`UNAUTHENTICATED`, 401) when the header is malformed, or the token
/// unknown or revoked, reads included, so a misconfigured client notices.
/// An address that has spent its budget of failed checks gets 429 before
/// its token is looked up.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    media: MediaType,
) -> Result<Option<Editor>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let refuse = |message: &str| {
        let error = Error::Unauthenticated(message.to_owned());
        refusal(media, Stage::Http, &error, headers)
    };
    let Some(secret) = value.to_str().ok().and_then(bearer_token) else {
        return Err(refuse("the Authorization header must be `Bearer <token>`"));
    };
    let reservation = state
        .begin_token_check(client)
        .map_err(IntoResponse::into_response)?;
    let found = token::authenticate(&state.db, secret).await;
    // Only an unknown or revoked token is a failed attempt.
    if let Some(reservation) = reservation
        && !matches!(found, Ok(None))
    {
        reservation.give_back();
    }
    match found {
        Ok(Some(editor)) => Ok(Some(editor)),
        Ok(None) => Err(refuse(
            "the token is unknown or revoked: ask an admin for a new one",
        )),
        // The token may well be valid: a database outage is the server's
        // failure, never the client's (401 would make it drop its token).
        Err(err) => {
            let error = Error::Unavailable {
                what: "the token could not be checked",
                cause: Box::new(err),
            };
            Err(refusal(media, Stage::Http, &error, headers))
        }
    }
}

/// The token of an `Authorization` value `Bearer <token>`; the scheme is
/// case-insensitive (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The request's id, as [`super::REQUEST_ID`] set it.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(super::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
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

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer qt_1"), Some("qt_1"));
        assert_eq!(bearer_token("bearer qt_1"), Some("qt_1"));
        assert_eq!(bearer_token("BEARER  qt_1 "), Some("qt_1"));
        assert_eq!(bearer_token("Basic qt_1"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("qt_1"), None);
    }

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
