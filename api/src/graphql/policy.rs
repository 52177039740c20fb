//! The schema's own request policy, an async-graphql extension, so every way
//! into the schema (HTTP, WebSocket, tests) gets the same checks:
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

use std::any::TypeId;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextResolve,
    NextSubscribe, NextValidation, ResolveInfo,
};
use async_graphql::futures_util::stream::{BoxStream, StreamExt};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult, ValidationResult};

use super::limits::{Limits, Refusal};
use super::request::RequestId;
use crate::error::{Code, Error, MASKED};

/// Installs the policy on a schema (`Schema::build(…).extension(Policy::new(limits))`).
pub struct Policy {
    limits: Limits,
}

impl Policy {
    /// The policy for these limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }
}

impl ExtensionFactory for Policy {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PolicyExtension {
            limits: self.limits,
            prepared: Arc::default(),
        })
    }
}

/// The policy for one request (async-graphql creates one per request).
struct PolicyExtension {
    limits: Limits,
    /// The request's document, operation and id, kept to finish its responses.
    prepared: Arc<Mutex<Prepared>>,
}

/// What finishing a response needs of its request.
#[derive(Default)]
struct Prepared {
    /// The document, to order the response by; `None` until prepared.
    doc: Option<ExecutableDocument>,
    operation_name: Option<String>,
    request_id: Option<String>,
    /// When the request was first seen, for its latency metric.
    started: Option<Instant>,
}

impl Prepared {
    /// Orders the response and gives every error its code.
    fn finish(&self, response: &mut async_graphql::Response) {
        if let Some(doc) = &self.doc {
            super::order::in_selection_order(
                &mut response.data,
                doc,
                self.operation_name.as_deref(),
            );
        }
        for error in &mut response.errors {
            let code = match code_of(error) {
                Some(code) => code,
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

/// An error's `extensions.code`, if it has one.
fn code_of(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

/// The refusal of a request that ran past `timeout`.
fn timed_out(timeout: Duration) -> async_graphql::Response {
    tracing::warn!(?timeout, "request timed out");
    let error = Error::QueryLimit {
        limit: "timeout",
        message: format!(
            "the request ran longer than {} s and was stopped; a change it had not committed yet was rolled back",
            timeout.as_secs_f64()
        ),
    };
    async_graphql::Response::from_errors(vec![error.to_server_error()])
}

/// The outcome label of a response: its first error's code, lower-cased
/// (`timeout` for the timeout), or `ok`.
fn outcome(response: &async_graphql::Response) -> String {
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

impl PolicyExtension {
    /// Checks `request` against the limits before async-graphql parses
    /// (again) or validates it, and keeps what finishing its responses needs.
    fn prepare(&self, mut request: Request) -> Result<Request, Error> {
        let variables = request.variables.clone();
        let operation_name = request.operation_name.clone();
        let request_id = request
            .data
            .get(&TypeId::of::<RequestId>())
            .and_then(|d| d.downcast_ref::<RequestId>())
            .map(|id| id.0.clone());
        if let Ok(mut prepared) = self.prepared.lock() {
            prepared.request_id.clone_from(&request_id);
            prepared.started = Some(Instant::now());
        }
        let doc = parse(&self.limits, &mut request)?;
        self.limits.check(doc, &variables).map_err(Error::from)?;
        if let Ok(mut prepared) = self.prepared.lock() {
            prepared.doc = Some(doc.clone());
            prepared.operation_name = operation_name;
        }
        Ok(request)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PolicyExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let started = Instant::now();
        let label = crate::metrics::operation_label(request.operation_name.as_deref());
        let prepared = self.prepare(request).map_err(|error| {
            // Refused before it ran: counted here, as `execute` never sees it.
            crate::metrics::record_operation(
                &label,
                &error.code().as_str().to_ascii_lowercase(),
                started.elapsed().as_secs_f64(),
            );
            error.to_server_error()
        })?;
        next.run(ctx, prepared).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let started = Instant::now();
        let timeout = self.limits.request_timeout();
        // Dropping a mutation's future rolls back what it had not committed.
        let mut response = if timeout.is_zero() {
            timed_out(timeout)
        } else {
            match tokio::time::timeout(timeout, next.run(ctx, operation_name)).await {
                Ok(response) => response,
                Err(_elapsed) => timed_out(timeout),
            }
        };
        if let Ok(prepared) = self.prepared.lock() {
            prepared.finish(&mut response);
        }
        crate::metrics::record_operation(
            &crate::metrics::operation_label(operation_name),
            &outcome(&response),
            started.elapsed().as_secs_f64(),
        );
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, async_graphql::Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, async_graphql::Response> {
        // The request is prepared only once the stream is first polled.
        // A query or mutation sent this way was finished by `execute`
        // already; finishing twice changes nothing.
        let prepared = self.prepared.clone();
        next.run(ctx, stream)
            .map(move |mut response| {
                if let Ok(prepared) = prepared.lock() {
                    prepared.finish(&mut response);
                }
                response
            })
            .boxed()
    }

    /// `__schema { description }` is null, as the SDL has none:
    /// async-graphql answers a fixed text of its own (graphql-js would
    /// then print a `schema` block the SDL lacks), and has no way to set one.
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<async_graphql::Value>> {
        if info.is_for_introspection && info.parent_type == "__Schema" && info.name == "description"
        {
            return Ok(Some(async_graphql::Value::Null));
        }
        next.run(ctx, info).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            if let Ok(prepared) = self.prepared.lock() {
                crate::metrics::record_operation(
                    &crate::metrics::operation_label(prepared.operation_name.as_deref()),
                    &Code::GraphqlValidationFailed.as_str().to_ascii_lowercase(),
                    prepared.started.map_or(0.0, |s| s.elapsed().as_secs_f64()),
                );
            }
            errors
                .into_iter()
                .map(|e| {
                    Error::ValidationFailed {
                        message: e.message,
                        locations: e.locations,
                    }
                    .to_server_error()
                })
                .collect()
        })
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
