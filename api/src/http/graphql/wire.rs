//! The GraphQL-over-HTTP wire format: the media type `Accept` asks for,
//! the status each kind of refusal gets under it, and a request's
//! parameters read from a GET query string or a POST body.

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Variables};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::persisted::PersistedQueries;
use crate::error::{Code, Error};

/// The GraphQL-over-HTTP media type.
pub(super) const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media types this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaType {
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphqlResponse,
    /// `application/json`: every well-formed request is 200.
    Json,
}

impl MediaType {
    pub(super) fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// Picks the response media type from `Accept`; `None` when it allows neither.
pub(super) fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
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
pub(super) fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_owned(),
    )
        .into_response()
}

/// Where a request was refused before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
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
pub(super) fn refusal(
    media: MediaType,
    stage: Stage,
    error: &Error,
    headers: &HeaderMap,
) -> Response {
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
pub(super) fn request_error(
    media: MediaType,
    headers: &HeaderMap,
    field: &str,
    message: &str,
) -> Response {
    refusal(
        media,
        Stage::Http,
        &Error::bad_input(field, message),
        headers,
    )
}

/// Builds a request from the GraphQL-over-HTTP parameters, checking their
/// types; the query text may come from the automatic persisted queries
/// (see [`PersistedQueries`]). The refusal is `BAD_USER_INPUT` naming the
/// parameter, or `PERSISTED_QUERY_NOT_FOUND`.
pub(crate) fn request_from_params(
    params: &Map<String, Value>,
    persisted: &PersistedQueries,
) -> Result<Request, Error> {
    let query = persisted
        .query_of(params.get("query"), params.get("extensions"))?
        .ok_or_else(|| Error::bad_input("query", "the request has no `query`"))?;
    let mut request = Request::new(query);
    match params.get("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name.clone()),
        Some(_) => {
            return Err(Error::bad_input(
                "operationName",
                "`operationName` must be a string",
            ));
        }
    }
    match params.get("variables") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => request = request.variables(Variables::from_json(v.clone())),
        Some(_) => {
            return Err(Error::bad_input(
                "variables",
                "`variables` must be an object",
            ));
        }
    }
    match params.get("extensions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let value = async_graphql::Value::from_json(v.clone())
                    .map_err(|e| Error::bad_input("extensions", e.to_string()))?;
                request.extensions.insert(k.clone(), value);
            }
        }
        Some(_) => {
            return Err(Error::bad_input(
                "extensions",
                "`extensions` must be an object",
            ));
        }
    }
    Ok(request)
}

/// What the HTTP layer must know of a request's selected operation before
/// running it.
pub(super) struct OperationCheck {
    /// A mutation or subscription (refused over GET).
    pub(super) writes: bool,
    /// A non-null variable given as null or left out without a default:
    /// a request error, which async-graphql would let through.
    pub(super) null_variable: Option<String>,
}

/// Inspects the operation `request` selects in its parsed `doc`; `None` when
/// it names no single operation (GraphQL then reports it).
pub(super) fn check_operation(
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

/// The request's id, as [`super::REQUEST_ID`] set it.
pub(super) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(crate::http::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
