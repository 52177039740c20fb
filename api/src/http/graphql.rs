//! GraphQL over HTTP as the GraphQL-over-HTTP spec (and the `graphql-http`
//! server audit) defines it: the media type follows `Accept`, request errors
//! are 400 with no `data` under `application/graphql-response+json`, GET runs
//! queries only, and a POST must be JSON.

use std::collections::HashMap;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Request, Variables};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::AppState;
use super::limits::{Limits, Refusal};
use crate::graphql::loaders::Loaders;
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

/// A response holding one request error (`errors` only, no `data`). A
/// malformed HTTP request is always 400; an error GraphQL itself reports
/// (a bad variable, a limit) is 200 under `application/json`.
fn error_response(
    media: MediaType,
    graphql_level: bool,
    message: &str,
    extensions: Value,
) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": extensions }] });
    let status = if graphql_level && media == MediaType::Json {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// `BAD_USER_INPUT` about `field` of the request.
fn request_error(media: MediaType, field: &str, message: &str, graphql_level: bool) -> Response {
    let extensions = serde_json::json!({ "code": "BAD_USER_INPUT", "field": field });
    error_response(media, graphql_level, message, extensions)
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
fn check_operation(request: &Request, doc: &ExecutableDocument) -> Option<OperationCheck> {
    let op = match (&doc.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    let null_variable = op.node.variable_definitions.iter().find_map(|def| {
        let def = &def.node;
        let name = def.name.node.as_str();
        let given = request.variables.get(name);
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

/// A `QUERY_LIMIT` refusal (a request error: no `data`).
fn limit_error(media: MediaType, limit: &str, message: &str) -> Response {
    let extensions = serde_json::json!({ "code": "QUERY_LIMIT", "limit": limit });
    error_response(media, true, message, extensions)
}

/// Checks every request of a batch against the limits, before anything runs.
fn refuse_over_limits(
    state: &AppState,
    media: MediaType,
    batch: &BatchRequest,
) -> Option<Response> {
    let requests: Vec<&Request> = match batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(rs) => rs.iter().collect(),
    };
    if let Err(Refusal::Limit { limit, message }) = state.limits.check_batch(requests.len()) {
        return Some(limit_error(media, limit, &message));
    }
    for request in &requests {
        // A document that does not parse is reported by GraphQL itself.
        let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
            continue;
        };
        match state.limits.check(&doc) {
            Ok(()) => {}
            Err(Refusal::Limit { limit, message }) => {
                return Some(limit_error(media, limit, &message));
            }
            Err(Refusal::FragmentCycle(message)) => {
                return Some(request_error(media, "query", &message, true));
            }
        }
        if requests.len() == 1
            && let Some(message) = check_operation(request, &doc).and_then(|c| c.null_variable)
        {
            return Some(request_error(media, "variables", &message, true));
        }
    }
    None
}

/// Gives async-graphql's own limit errors the `QUERY_LIMIT` shape, and
/// masked internal errors the request id under which the log holds the cause.
fn shape_errors(response: &mut async_graphql::Response, limits: &Limits, request_id: &str) {
    for error in &mut response.errors {
        let (limit, message) = match error.message.as_str() {
            "Query is too complex." => (
                "complexity",
                format!(
                    "the query is too complex (at most {}; list fields count once per item of their page size): ask for smaller pages or fewer fields",
                    limits.complexity
                ),
            ),
            "Query is nested too deep." => (
                "depth",
                format!("the query is nested deeper than {} levels", limits.depth),
            ),
            _ => {
                let internal = error
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("code"))
                    .is_some_and(|c| *c == async_graphql::Value::from("INTERNAL"));
                if internal {
                    error
                        .extensions
                        .get_or_insert_with(Default::default)
                        .set("requestId", request_id);
                }
                continue;
            }
        };
        error.message = message;
        let extensions = error.extensions.get_or_insert_with(Default::default);
        extensions.set("code", "QUERY_LIMIT");
        extensions.set("limit", limit);
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
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    media: MediaType,
) -> Result<Option<Editor>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let refuse = |message: &str| {
        let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": "UNAUTHENTICATED" } }] });
        let mut response = (StatusCode::UNAUTHORIZED, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, media.content_type());
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    };
    let Some(secret) = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Err(refuse("the Authorization header must be `Bearer <token>`"));
    };
    match token::authenticate(&state.db, secret).await {
        Ok(Some(editor)) => Ok(Some(editor)),
        Ok(None) => Err(refuse(
            "the token is unknown or revoked: ask an admin for a new one",
        )),
        Err(err) => {
            tracing::error!(error = %err, "token lookup failed");
            Err(refuse("the token could not be checked; retry later"))
        }
    }
}

/// Runs the request(s) and writes the response in the negotiated media type.
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    media: MediaType,
    batch: BatchRequest,
) -> Response {
    let editor = match authenticate(state, headers, media).await {
        Ok(editor) => editor,
        Err(refusal) => return refusal,
    };
    if let Some(refusal) = refuse_over_limits(state, media, &batch) {
        return refusal;
    }
    let request_id = headers
        .get(super::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
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
    // A budget already spent (a zero timeout) stops the request before it
    // runs, whatever the timer's granularity.
    let run = async {
        if state.limits.timeout.is_zero() {
            return Err(());
        }
        tokio::time::timeout(state.limits.timeout, state.schema.execute_batch(batch))
            .await
            .map_err(drop)
    };
    let Ok(mut response) = run.await else {
        tracing::warn!(timeout = ?state.limits.timeout, "request timed out");
        for op in &operations {
            crate::metrics::record_operation(op, "timeout", started.elapsed().as_secs_f64());
        }
        return limit_error(
            media,
            "timeout",
            &format!(
                "the request ran longer than {} s and was stopped; a change it had not committed yet was rolled back",
                state.limits.timeout.as_secs_f64()
            ),
        );
    };
    let elapsed = started.elapsed().as_secs_f64();
    match &mut response {
        BatchResponse::Single(r) => {
            shape_errors(r, &state.limits, &request_id);
            crate::metrics::record_operation(&operations[0], &outcome(r), elapsed);
        }
        BatchResponse::Batch(rs) => {
            for (r, op) in rs.iter_mut().zip(&operations) {
                shape_errors(r, &state.limits, &request_id);
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

/// `GET /graphql?query=…`: queries only.
pub async fn get(
    State(state): State<AppState>,
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
                        "variables",
                        &format!("`{key}` is not JSON"),
                        false,
                    );
                }
            },
            _ => Value::String(value),
        };
        params.insert(key, value);
    }
    let request = match request_from_params(&params) {
        Ok(r) => r,
        Err((field, message)) => return request_error(media, field, &message, false),
    };
    let writes = async_graphql::parser::parse_query(&request.query)
        .ok()
        .and_then(|doc| check_operation(&request, &doc))
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
    execute(&state, &headers, media, BatchRequest::Single(request)).await
}

/// `POST /graphql` with a JSON body: one request or a batch (a JSON array).
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
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
                "body",
                &format!("the body is not valid JSON: {e}"),
                false,
            );
        }
    };
    let batch = match value {
        Value::Object(params) => match request_from_params(&params) {
            Ok(r) => BatchRequest::Single(r),
            Err((field, message)) => return request_error(media, field, &message, false),
        },
        Value::Array(items) if !items.is_empty() => {
            let mut requests = Vec::with_capacity(items.len());
            for item in items {
                let Value::Object(params) = item else {
                    return request_error(
                        media,
                        "body",
                        "every request of a batch must be an object",
                        false,
                    );
                };
                match request_from_params(&params) {
                    Ok(r) => requests.push(r),
                    Err((field, message)) => return request_error(media, field, &message, false),
                }
            }
            BatchRequest::Batch(requests)
        }
        _ => {
            return request_error(
                media,
                "body",
                "the body must be a JSON object (or a non-empty array of them)",
                false,
            );
        }
    };
    execute(&state, &headers, media, batch).await
}
