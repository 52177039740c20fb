//! The schema's own request policy. [`Api`] is the only way to the schema,
//! so every transport (HTTP, WebSocket, tests) gets the same checks:
//! - the token budget before the document is parsed, then the memoised limit
//!   walk before async-graphql validates it ([`super::limits`]);
//! - `extensions.code` on parse ([`Error::ParseFailed`]) and validation
//!   ([`Error::ValidationFailed`]) errors, which async-graphql leaves bare;
//! - the request timeout, and one metric per operation;
//! - response fields in selection order ([`super::order`]), for queries,
//!   mutations and each subscription event;
//! - every error with a code: an error async-graphql raised without one
//!   (a missing context value, say) is logged and masked as `INTERNAL`, and
//!   masked errors carry the `requestId` the log files their cause under.
//!
//! It wraps the schema rather than being an async-graphql extension: with
//! any extension installed, async-graphql sends every field through the
//! extensions' `resolve` chain (a boxed future, the field's type looked up
//! by name, two type names formatted for each list item), even when no
//! extension hooks `resolve`; a page of 20 articles with their links is
//! about 500 fields. Everything the policy does happens once per request
//! (or per event), so nothing of it needs to run per field.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Request, Response, ServerError};

use super::QuickSchema;
use super::limits::{Limits, Refusal};
use super::request::RequestId;
use crate::error::{Code, Error, MASKED};

/// The schema behind its policy. Cheap to clone (both halves are shared).
#[derive(Clone)]
pub struct Api {
    schema: QuickSchema,
    limits: Limits,
}

impl Api {
    /// `schema` behind the policy of `limits`.
    pub fn new(schema: QuickSchema, limits: Limits) -> Self {
        Self { schema, limits }
    }

    /// The schema's SDL (see [`super::sdl_of`]).
    pub fn sdl(&self) -> String {
        super::sdl_of(&self.schema)
    }

    /// Runs one query or mutation (a subscription sent here gets its first
    /// event, as async-graphql answers it).
    pub async fn execute(&self, mut request: Request) -> Response {
        let prepared = match Prepared::new(&self.limits, &mut request) {
            Ok(prepared) => prepared,
            Err(error) => return refused(&error),
        };
        self.run(&prepared, request).await
    }

    /// Runs a batch, its requests one after another, each under the policy.
    pub async fn execute_batch(&self, batch: BatchRequest) -> BatchResponse {
        match batch {
            BatchRequest::Single(request) => BatchResponse::Single(self.execute(request).await),
            BatchRequest::Batch(requests) => {
                let mut responses = Vec::with_capacity(requests.len());
                for request in requests {
                    responses.push(self.execute(request).await);
                }
                BatchResponse::Batch(responses)
            }
        }
    }

    /// Runs a subscription as a stream of events, each finished by the
    /// policy; a query or mutation is a stream of its one response.
    pub fn execute_stream(&self, mut request: Request) -> BoxStream<'static, Response> {
        let prepared = match Prepared::new(&self.limits, &mut request) {
            Ok(prepared) => prepared,
            Err(error) => {
                let response = refused(&error);
                return stream::once(async move { response }).boxed();
            }
        };
        if prepared.operation_type() != Some(OperationType::Subscription) {
            let api = self.clone();
            return stream::once(async move { api.run(&prepared, request).await }).boxed();
        }
        // Events are not counted one by one: the metric is per operation,
        // and a subscription's outcome is known only when it is refused.
        let prepared = Arc::new(prepared);
        let mut first = true;
        self.schema
            .execute_stream(request)
            .map(move |mut response| {
                prepared.finish(&mut response);
                if std::mem::take(&mut first) && super::request::is_request_error(&response) {
                    prepared.record(&response);
                }
                response
            })
            .boxed()
    }

    /// The schema's answer to a query or mutation (or the timeout's
    /// refusal), finished and counted.
    async fn run(&self, prepared: &Prepared, request: Request) -> Response {
        let timeout = self.limits.request_timeout();
        // Dropping a mutation's future rolls back what it had not committed.
        let mut response = if timeout.is_zero() {
            timed_out(timeout)
        } else {
            match tokio::time::timeout(timeout, self.schema.execute(request)).await {
                Ok(response) => response,
                Err(_elapsed) => timed_out(timeout),
            }
        };
        prepared.finish(&mut response);
        prepared.record(&response);
        response
    }
}

/// What finishing a request's responses needs of it.
struct Prepared {
    /// The document, to order the response by.
    doc: ExecutableDocument,
    operation_name: Option<String>,
    request_id: Option<String>,
    /// When the request was first seen, for its latency metric.
    started: Instant,
}

impl Prepared {
    /// Checks `request` against the limits before async-graphql validates
    /// it (it reuses the document parsed here); a refusal is counted.
    fn new(limits: &Limits, request: &mut Request) -> Result<Self, Error> {
        let started = Instant::now();
        let operation_name = request.operation_name.clone();
        let request_id = request.data.get(&std::any::TypeId::of::<RequestId>());
        let request_id = request_id
            .and_then(|d| d.downcast_ref::<RequestId>())
            .map(|id| id.0.clone());
        let variables = request.variables.clone();
        let checked = parse(limits, request).and_then(|doc| {
            limits.check(doc, &variables).map_err(Error::from)?;
            Ok(doc.clone())
        });
        match checked {
            Ok(doc) => Ok(Self {
                doc,
                operation_name,
                request_id,
                started,
            }),
            Err(error) => {
                crate::metrics::record_operation(
                    &crate::metrics::operation_label(operation_name.as_deref()),
                    &error.code().as_str().to_ascii_lowercase(),
                    started.elapsed().as_secs_f64(),
                );
                Err(error)
            }
        }
    }

    fn operation_type(&self) -> Option<OperationType> {
        super::order::operation(&self.doc, self.operation_name.as_deref()).map(|op| op.ty)
    }

    /// Counts the operation under its outcome.
    fn record(&self, response: &Response) {
        crate::metrics::record_operation(
            &crate::metrics::operation_label(self.operation_name.as_deref()),
            &outcome(response),
            self.started.elapsed().as_secs_f64(),
        );
    }

    /// Orders the response and gives every error its code.
    fn finish(&self, response: &mut Response) {
        let operation = self.operation_name.as_deref();
        super::order::in_selection_order(&mut response.data, &self.doc, operation);
        super::order::null_schema_description(&mut response.data, &self.doc, operation);
        // Nothing ran: the errors are the document's (validation, or an
        // operation name the document does not have).
        let refused = super::request::is_request_error(response);
        for error in &mut response.errors {
            let code = match code_of(error) {
                Some(code) => code,
                None if refused => {
                    *error = Error::ValidationFailed {
                        message: std::mem::take(&mut error.message),
                        locations: std::mem::take(&mut error.locations),
                    }
                    .to_server_error();
                    continue;
                }
                None if error.message.starts_with("Failed to parse") => {
                    // An argument's value a scalar refused as the resolver
                    // read it: the client's to fix, and the message says how.
                    let field = error.path.iter().rev().find_map(|segment| match segment {
                        async_graphql::PathSegment::Field(name) => Some(name.clone()),
                        async_graphql::PathSegment::Index(_) => None,
                    });
                    let extensions = error.extensions.get_or_insert_with(Default::default);
                    extensions.set("code", Code::BadUserInput.as_str());
                    extensions.set("field", field.unwrap_or_default());
                    continue;
                }
                None => {
                    // async-graphql's own text (it may name a Rust type); the
                    // log keeps it, the client gets the masked error.
                    tracing::error!(
                        request_id = self.request_id.as_deref().unwrap_or(""),
                        path = ?error.path,
                        error = %error.message,
                        "an error without a code was masked"
                    );
                    error.message = MASKED.to_owned();
                    error
                        .extensions
                        .get_or_insert_with(Default::default)
                        .set("code", Code::Internal.as_str());
                    Code::Internal.as_str().to_owned()
                }
            };
            if code == Code::Internal.as_str()
                && let Some(id) = &self.request_id
            {
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("requestId", id.as_str());
            }
        }
    }
}

/// The answer to a request refused before it ran.
fn refused(error: &Error) -> Response {
    Response::from_errors(vec![error.to_server_error()])
}

/// An error's `extensions.code`, if it has one.
fn code_of(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

/// The refusal of a request that ran past `timeout`.
fn timed_out(timeout: Duration) -> Response {
    tracing::warn!(?timeout, "request timed out");
    let error = Error::QueryLimit {
        limit: "timeout",
        message: format!(
            "the request ran longer than {} s and was stopped; a change it had not committed yet was rolled back",
            timeout.as_secs_f64()
        ),
    };
    Response::from_errors(vec![error.to_server_error()])
}

/// The outcome label of a response: its first error's code, lower-cased
/// (`timeout` for the timeout), or `ok`.
fn outcome(response: &Response) -> String {
    let Some(extensions) = response.errors.first().and_then(|e| e.extensions.as_ref()) else {
        return if response.errors.is_empty() {
            "ok".to_owned()
        } else {
            "invalid".to_owned()
        };
    };
    let text = |key: &str| match extensions.get(key) {
        Some(async_graphql::Value::String(s)) => Some(s.to_ascii_lowercase()),
        _ => None,
    };
    match (text("code"), text("limit")) {
        (Some(_), Some(limit)) if limit == "timeout" => limit,
        (Some(code), _) => code,
        (None, _) => "invalid".to_owned(),
    }
}

/// Parses `request`'s document once (later calls reuse it), after checking
/// its token budget: the parser runs synchronously and no timeout can stop
/// it, so a document too big for it is refused unparsed.
pub fn parse<'r>(
    limits: &Limits,
    request: &'r mut Request,
) -> Result<&'r ExecutableDocument, Error> {
    limits.check_source(&request.query)?;
    request.parsed_query().map_err(|e| Error::ParseFailed {
        message: e.message,
        locations: e.locations,
    })
}

/// A limit's refusal is `QUERY_LIMIT`; a fragment cycle makes the document invalid.
impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Limit { limit, message } => Error::QueryLimit { limit, message },
            Refusal::FragmentCycle(message) => Error::ValidationFailed {
                message,
                locations: Vec::new(),
            },
        }
    }
}
