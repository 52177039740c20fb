//! The schema's own request policy, an async-graphql extension, so every way
//! into the schema (HTTP, WebSocket, tests) gets the same checks:
//! - the token budget before the document is parsed, then the memoised limit
//!   walk before async-graphql validates it ([`super::limits`]);
//! - `extensions.code` on parse ([`Error::ParseFailed`]) and validation
//!   ([`Error::ValidationFailed`]) errors, which async-graphql leaves bare;
//! - response fields in selection order ([`super::order`]), for queries,
//!   mutations and each subscription event.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::futures_util::stream::{BoxStream, StreamExt};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult, ValidationResult};

use super::limits::{Limits, Refusal};
use crate::error::Error;

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
    /// The request's document and operation, kept to order its responses.
    prepared: Arc<Mutex<Option<Prepared>>>,
}

/// What ordering a response needs of its request.
struct Prepared {
    doc: ExecutableDocument,
    operation_name: Option<String>,
}

impl Prepared {
    fn order(&self, response: &mut async_graphql::Response) {
        super::order::in_selection_order(
            &mut response.data,
            &self.doc,
            self.operation_name.as_deref(),
        );
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PolicyExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let variables = request.variables.clone();
        let operation_name = request.operation_name.clone();
        let doc = parse(&self.limits, &mut request).map_err(|e| e.to_server_error())?;
        self.limits
            .check(doc, &variables)
            .map_err(|refusal| Error::from(refusal).to_server_error())?;
        if let Ok(mut prepared) = self.prepared.lock() {
            *prepared = Some(Prepared {
                doc: doc.clone(),
                operation_name,
            });
        }
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let mut response = next.run(ctx, operation_name).await;
        if let Ok(prepared) = self.prepared.lock()
            && let Some(prepared) = prepared.as_ref()
        {
            prepared.order(&mut response);
        }
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, async_graphql::Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, async_graphql::Response> {
        // The request is prepared only once the stream is first polled.
        let prepared = self.prepared.clone();
        next.run(ctx, stream)
            .map(move |mut response| {
                if let Ok(prepared) = prepared.lock()
                    && let Some(prepared) = prepared.as_ref()
                {
                    prepared.order(&mut response);
                }
                response
            })
            .boxed()
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
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
