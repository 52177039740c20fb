//! GraphQL over WebSocket at `/graphql/ws`, as the `graphql-transport-ws`
//! protocol (the `graphql-ws` library's) defines it.
//!
//! The protocol is written here over axum's WebSocket. async-graphql's
//! `WebSocket` almost fits, but it closes a refused `connection_init` with
//! 1002 where graphql-ws clients expect 4403, never sends the protocol's
//! `error` message (a refused operation arrives as `next` then `complete`),
//! and has no hook per operation for the caps a connection is held to. The
//! schema side is the one HTTP uses: the same credential check
//! ([`editor_for`]), request data ([`Pools::prepare`]) and policy
//! ([`Api`](crate::graphql::Api): limits, timeout, error codes).

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::{Response, ServerError};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tokio_stream::StreamMap;

use super::AppState;
use super::auth::{Refused, editor_for};
use super::throttle::{ClientIp, retry_after_secs};
use crate::error::Error;
use crate::graphql::request::{Caller, is_request_error};

/// The subprotocol spoken here.
const PROTOCOL: &str = "graphql-transport-ws";

/// Close codes of `graphql-transport-ws`, and the standard one for "try
/// again later".
mod close {
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
    pub const INTERNAL: u16 = 4500;
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// `GET /graphql/ws`: checks the `Origin` against the CORS allow-list (a
/// browser page from another site must not act with its visitor's
/// connection) and the server's cap on connections, then speaks the
/// protocol.
pub async fn upgrade(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> HttpResponse {
    if !state.cors_origins.is_empty()
        && let Some(origin) = headers.get(header::ORIGIN)
        && !origin_allowed(&state.cors_origins, origin.to_str().ok(), &headers)
    {
        return (
            StatusCode::FORBIDDEN,
            "this page's Origin is not in the server's --cors-origin list, so it may not open a WebSocket",
        )
            .into_response();
    }
    let request_id = headers
        .get(super::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // A client that cannot set `connection_init` (none should) may send
    // its token on the upgrade instead.
    let header_token = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let permit = match &state.ws_permits {
        None => Ok(None),
        Some(permits) => permits.clone().try_acquire_owned().map(Some),
    };
    // A message is a request: it may be as large as a request body, no larger
    // (the WebSocket library's own default is 64 MiB).
    let max = state.limits.body_bytes;
    ws.protocols([PROTOCOL])
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |mut socket| async move {
            let Ok(permit) = permit else {
                let reason = format!(
                    "QUERY_LIMIT wsConnections: the server holds its {} WebSocket connections; retry later",
                    state.limits.ws_connections
                );
                send_close(&mut socket, close::TRY_AGAIN_LATER, &reason).await;
                return;
            };
            let connection = Connection {
                state,
                client,
                request_id,
                header_token,
                caller: None,
                operations: StreamMap::new(),
                _permit: permit,
            };
            connection.run(socket).await;
        })
}

/// Whether a page from `origin` may open a WebSocket: it is listed, or it
/// is this server's own (GraphiQL), as a same-origin request always may.
/// The scheme is not compared: behind a TLS-terminating proxy the page is
/// `https` while the server sees plain HTTP.
fn origin_allowed(listed: &[String], origin: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(origin) = origin else {
        return false;
    };
    if listed.iter().any(|allowed| allowed == origin) {
        return true;
    }
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    authority.is_some() && authority == host
}

/// A message from the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: Map<String, Value>,
    },
    Complete {
        id: String,
    },
}

/// What an operation's stream yields.
enum Event {
    /// A result (the only one of a query or mutation, or one event).
    Next(Response),
    /// The operation was refused before it ran; nothing follows.
    Error(Vec<ServerError>),
    /// The operation is done.
    Complete,
}

/// Why the connection ends.
struct Closing {
    code: u16,
    reason: String,
}

impl Closing {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// One client's connection.
struct Connection {
    state: AppState,
    client: Option<IpAddr>,
    /// The upgrade's request id; each operation's is this and its own id.
    request_id: String,
    header_token: Option<String>,
    /// Who the connection runs as, once acknowledged.
    caller: Option<Caller>,
    /// Its running operations, by the client's ids.
    operations: StreamMap<String, BoxStream<'static, Event>>,
    /// Its place under the server's cap on connections.
    _permit: Option<OwnedSemaphorePermit>,
}

impl Connection {
    async fn run(mut self, mut socket: WebSocket) {
        let init_deadline = tokio::time::sleep(self.state.limits.ws_init_timeout());
        tokio::pin!(init_deadline);
        let closing = loop {
            tokio::select! {
                message = socket.recv() => {
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            break Closing::new(close::BAD_REQUEST, "messages must be text (JSON)");
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_))) | None => return,
                        // Malformed framing, or over the size limit; if the
                        // peer is gone, nobody reads the close.
                        Some(Err(_)) => {
                            let reason = format!(
                                "unreadable message: malformed, or over {} bytes (--limit-body-bytes)",
                                self.state.limits.body_bytes
                            );
                            break Closing::new(close::BAD_REQUEST, reason);
                        }
                    };
                    match self.receive(text.as_str()).await {
                        Ok(replies) => {
                            for reply in replies {
                                if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(closing) => break closing,
                    }
                }
                Some((id, event)) = self.operations.next(), if !self.operations.is_empty() => {
                    let reply = match event {
                        Event::Next(response) => json!({ "type": "next", "id": id, "payload": response }),
                        Event::Error(errors) => {
                            // `error` ends the operation: no `complete` follows.
                            self.operations.remove(&id);
                            json!({ "type": "error", "id": id, "payload": errors })
                        }
                        Event::Complete => json!({ "type": "complete", "id": id }),
                    };
                    if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                        return;
                    }
                }
                () = &mut init_deadline, if self.caller.is_none() => {
                    break Closing::new(close::INIT_TIMEOUT, "Connection initialisation timeout");
                }
            }
        };
        send_close(&mut socket, closing.code, &closing.reason).await;
    }

    /// Handles one message; what to send back, or why to close.
    async fn receive(&mut self, text: &str) -> Result<Vec<Value>, Closing> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|e| {
            Closing::new(
                close::BAD_REQUEST,
                truncate(&format!("Invalid message received: {e}")),
            )
        })?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.caller.is_some() {
                    return Err(Closing::new(
                        close::TOO_MANY_INITS,
                        "Too many initialisation requests",
                    ));
                }
                let editor = self.authenticate(payload.as_ref()).await?;
                self.caller = Some(Caller {
                    editor,
                    request_id: self.request_id.clone(),
                });
                Ok(vec![json!({ "type": "connection_ack" })])
            }
            ClientMessage::Ping {} => Ok(vec![json!({ "type": "pong" })]),
            ClientMessage::Pong {} => Ok(Vec::new()),
            ClientMessage::Subscribe { id, payload } => self.subscribe(id, &payload),
            ClientMessage::Complete { id } => {
                self.operations.remove(&id);
                Ok(Vec::new())
            }
        }
    }

    /// The editor `connection_init` names (`Authorization`, or
    /// `authorization`, as the HTTP header would carry it); anonymous
    /// without one.
    async fn authenticate(
        // `&mut`: the connection is `Send` but not `Sync`.
        &mut self,
        payload: Option<&Value>,
    ) -> Result<Option<crate::service::token::Editor>, Closing> {
        let given = payload
            .and_then(Value::as_object)
            .and_then(|p| p.get("Authorization").or_else(|| p.get("authorization")));
        let value = match given {
            None | Some(Value::Null) => self.header_token.clone(),
            Some(Value::String(value)) => Some(value.clone()),
            // Not a string: no token can be read from it.
            Some(_) => Some(String::new()),
        };
        editor_for(&self.state, value.as_deref(), self.client)
            .await
            .map_err(|refused| {
                let code = match &refused {
                    Refused::Malformed | Refused::Unknown => close::FORBIDDEN,
                    Refused::TooManyFailures(_) => close::TOO_MANY_INITS,
                    Refused::Unavailable(error) => {
                        error.log_cause();
                        close::INTERNAL
                    }
                };
                Closing::new(code, refused.message())
            })
    }

    /// Starts an operation, or refuses it with an `error` message.
    fn subscribe(
        &mut self,
        id: String,
        payload: &Map<String, Value>,
    ) -> Result<Vec<Value>, Closing> {
        let Some(caller) = &self.caller else {
            return Err(Closing::new(close::UNAUTHORIZED, "Unauthorized"));
        };
        if self.operations.contains_key(&id) {
            return Err(Closing::new(
                close::DUPLICATE_ID,
                truncate(&format!("Subscriber for {id} already exists")),
            ));
        }
        let refuse = |error: Error| {
            Ok(vec![
                json!({ "type": "error", "id": id, "payload": [error.to_server_error()] }),
            ])
        };
        let limits = &self.state.limits;
        if let Some(cap) = limits.ws_subscription_cap()
            && self.operations.len() >= cap.get()
        {
            return refuse(Error::QueryLimit {
                limit: "subscriptions",
                message: format!(
                    "this connection already runs {cap} operations, the most it may; complete one first (--limit-ws-subscriptions)"
                ),
            });
        }
        // Anonymous operations count against the address's rate limit,
        // as HTTP requests do; editors are limited by their token checks.
        if caller.editor.is_none()
            && let (Some(limiter), Some(ip)) = (&self.state.limiter, self.client)
            && let Err(wait) = limiter.check(ip)
        {
            return refuse(Error::QueryLimit {
                limit: "rate",
                message: format!(
                    "too many requests from this address; retry in {} s or use an editor token",
                    retry_after_secs(wait)
                ),
            });
        }
        let request = match super::graphql::request_from_params(payload, &self.state.persisted) {
            Ok(request) => request,
            Err(error) => return refuse(error),
        };
        let caller = Caller {
            editor: caller.editor.clone(),
            request_id: format!("{}/{id}", caller.request_id),
        };
        let request = self.state.pools().prepare(&caller, request);
        let responses = self.state.api.execute_stream(request);
        let panicked = Arc::new(caller.request_id);
        let mut first = true;
        let events = std::panic::AssertUnwindSafe(responses)
            .catch_unwind()
            .map(move |response| match response {
                Ok(response) if std::mem::take(&mut first) && is_request_error(&response) => {
                    Event::Error(response.errors)
                }
                Ok(response) => Event::Next(response),
                // The panic hook has logged where; the stream ends here.
                Err(_panic) => {
                    let mut error = Error::Panicked.to_server_error();
                    error
                        .extensions
                        .get_or_insert_with(Default::default)
                        .set("requestId", panicked.as_str());
                    Event::Next(Response::from_errors(vec![error]))
                }
            })
            .chain(stream::once(async { Event::Complete }));
        self.operations.insert(id, events.boxed());
        Ok(Vec::new())
    }
}

/// A close reason fits in a control frame (123 bytes).
fn truncate(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

async fn send_close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: truncate(reason).into(),
    };
    // The peer may be gone already; there is nobody left to tell.
    let _ = socket.send(Message::Close(Some(frame))).await;
}
