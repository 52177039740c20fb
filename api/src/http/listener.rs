//! The accept loop `quicktakes serve` runs. `axum::serve` has no timeouts
//! and no per-address cap, so 700 sockets holding half-sent headers stayed
//! open for good. Here each connection is HTTP/1 (keep-alive, WebSocket
//! upgrades) under a watchdog:
//!
//! - a request's headers must arrive within the header-read timeout, counted
//!   from its first byte (from accepting, for a connection's first request);
//! - a keep-alive connection waiting for its next request is closed after
//!   the idle timeout (response bytes still being sent count as activity);
//! - no time limit applies while a request is being answered (the request
//!   timeout bounds that).
//!
//! hyper's own `header_read_timeout` is not used: it starts when a
//! connection goes idle and ends when the next headers are in, so it cannot
//! tell an idle client from a slow one (hyper#3828). hyper-util's `auto`
//! builder is not used either: it sniffs for HTTP/2 before any timer runs,
//! and HTTP/2 is not built in.
//!
//! One address may hold at most `max_per_address` connections (WebSockets
//! included); past that a connection gets a bare 503 and is closed at once.
//! The cap counts TCP peers before any header is read, so it cannot see
//! the clients behind a proxy: trusted proxies (`--trusted-proxy`) are
//! exempt, as their sockets carry everyone's traffic.
//! On shutdown the loop stops accepting, lets every connection finish its
//! request in flight (one still sending headers is closed), and waits for
//! them.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use super::throttle::TrustedProxies;

/// Connection-level limits; `None` turns one off.
#[derive(Debug, Clone, Default)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's headers.
    pub header_read_timeout: Option<Duration>,
    /// Time a keep-alive connection may wait for its next request.
    pub idle_timeout: Option<Duration>,
    /// Open connections one client IP may hold.
    pub max_per_address: Option<NonZeroUsize>,
    /// Peers the per-address cap does not apply to: the trusted proxies.
    pub uncapped: TrustedProxies,
}

impl ConnectionLimits {
    /// The connection limits among `limits`.
    pub fn from_limits(limits: &crate::limits::Limits) -> Self {
        Self {
            header_read_timeout: limits.header_read_timeout(),
            idle_timeout: limits.idle_timeout(),
            max_per_address: limits.connections_per_address(),
            uncapped: TrustedProxies::default(),
        }
    }

    /// These limits, with `proxies` exempt from the per-address cap.
    #[must_use]
    pub fn uncapping(mut self, proxies: TrustedProxies) -> Self {
        self.uncapped = proxies;
        self
    }
}

/// What a connection over the per-address cap gets before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
connection: close\r\ncontent-length: 40\r\n\r\ntoo many connections from this address\r\n";

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish. Requests carry `ConnectInfo<SocketAddr>`.
pub async fn serve<F>(listener: TcpListener, router: Router, limits: ConnectionLimits, shutdown: F)
where
    F: Future<Output = ()>,
{
    let slots = Arc::new(AddressSlots {
        max: limits.max_per_address,
        open: Mutex::default(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a receiver; all dropped means all done.
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // The client gave up before we accepted: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Most likely out of file descriptors: retrying at once
                // would spin; wait for some connections to close.
                tracing::error!(error = %e, "cannot accept a connection");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let Some(slot) = slots.take(peer.ip().to_canonical(), &limits.uncapped) else {
            crate::metrics::record_connection_refused();
            tracing::debug!(%peer, "connection over the per-address cap");
            // Best effort and never waiting: the socket closes right after.
            let _ = stream.try_write(REFUSAL);
            continue;
        };
        // Responses are written whole; Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        let io = Watched {
            stream,
            watchdog: Arc::new(Watchdog::new(&limits)),
            _slot: slot,
        };
        tokio::spawn(connection(
            io,
            peer,
            router.clone(),
            stop_rx.clone(),
            done_rx.clone(),
        ));
    }
    drop(listener);
    stop_tx.send_replace(true);
    drop(done_rx);
    done_tx.closed().await;
}

/// Errors of one incoming connection, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, its watchdog closes it, or a
/// shutdown drains it.
async fn connection(
    io: Watched,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
    _done: watch::Receiver<()>,
) {
    let watchdog = Arc::clone(&io.watchdog);
    let service = {
        let watchdog = Arc::clone(&watchdog);
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let busy = watchdog.request_started();
            let answer = router.clone().oneshot(request);
            async move {
                let response = answer.await;
                drop(busy);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watchdog times headers (see the module comment).
    builder.header_read_timeout(None);
    let mut conn = pin!(
        builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades()
    );
    let mut stopping = false;
    loop {
        // Shutting down, a request whose headers are still coming has not
        // started: nothing is lost by closing now rather than waiting.
        if stopping && watchdog.reading_headers() {
            break;
        }
        let deadline = watchdog.deadline();
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            () = sleep_until(deadline) => {
                if watchdog.expired() {
                    tracing::debug!(%peer, "connection timed out");
                    break;
                }
            }
            () = watchdog.changed.notified() => {}
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Sleeps until `deadline`; forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Where a connection is in its request cycle, which decides its deadline.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's first byte; `fresh` before the first request.
    Waiting { since: Instant, fresh: bool },
    /// A request's first bytes are in, its headers are not yet.
    Reading { since: Instant },
    /// This many requests are being answered.
    Busy(usize),
}

/// One connection's timers, fed by its socket and its service.
#[derive(Debug)]
struct Watchdog {
    header_read: Option<Duration>,
    idle: Option<Duration>,
    phase: Mutex<Phase>,
    /// Wakes the connection task to re-read the deadline.
    changed: Notify,
}

impl Watchdog {
    fn new(limits: &ConnectionLimits) -> Self {
        Self {
            header_read: limits.header_read_timeout,
            idle: limits.idle_timeout,
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                fresh: true,
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deadline(&self) -> Option<Instant> {
        match *self.phase() {
            Phase::Waiting { since, fresh: true } | Phase::Reading { since } => {
                self.header_read.map(|d| since + d)
            }
            Phase::Waiting {
                since,
                fresh: false,
            } => self.idle.map(|d| since + d),
            Phase::Busy(_) => None,
        }
    }

    fn reading_headers(&self) -> bool {
        matches!(*self.phase(), Phase::Reading { .. })
    }

    fn expired(&self) -> bool {
        self.deadline().is_some_and(|d| d <= Instant::now())
    }

    /// Bytes came in: a waiting connection is now reading a request, whose
    /// headers are timed from now (from accepting, on a fresh connection).
    fn on_read(&self) {
        let mut phase = self.phase();
        if let Phase::Waiting { since, fresh } = *phase {
            let since = if fresh { since } else { Instant::now() };
            *phase = Phase::Reading { since };
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Bytes went out: a connection still sending its last response is
    /// not idle.
    fn on_write(&self) {
        if let Phase::Waiting { since, .. } = &mut *self.phase() {
            // Only ever later: the sleeping task re-checks when it wakes.
            *since = Instant::now();
        }
    }

    fn request_started(self: &Arc<Self>) -> Busy {
        {
            let mut phase = self.phase();
            *phase = match *phase {
                Phase::Busy(n) => Phase::Busy(n + 1),
                _ => Phase::Busy(1),
            };
        }
        self.changed.notify_one();
        Busy(Arc::clone(self))
    }
}

/// A request being answered; dropped when its response is ready.
struct Busy(Arc<Watchdog>);

impl Drop for Busy {
    fn drop(&mut self) {
        {
            let mut phase = self.0.phase();
            *phase = match *phase {
                Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
                _ => Phase::Waiting {
                    since: Instant::now(),
                    fresh: false,
                },
            };
        }
        self.0.changed.notify_one();
    }
}

/// Open connections per client IP.
#[derive(Debug)]
struct AddressSlots {
    max: Option<NonZeroUsize>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl AddressSlots {
    /// A slot for `ip`, or `None` when it holds its maximum already;
    /// `uncapped` addresses always get one.
    fn take(self: &Arc<Self>, ip: IpAddr, uncapped: &TrustedProxies) -> Option<Slot> {
        let Some(max) = self.max.filter(|_| !uncapped.contains(ip)) else {
            return Some(Slot(None));
        };
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= max.get() {
            return None;
        }
        *count += 1;
        Some(Slot(Some((Arc::clone(self), ip))))
    }
}

/// One open connection of an address, released when the socket closes
/// (it travels with the socket into a WebSocket upgrade).
#[derive(Debug)]
struct Slot(Option<(Arc<AddressSlots>, IpAddr)>);

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((slots, ip)) = &self.0 else {
            return;
        };
        let mut open = slots.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(ip);
            }
        }
    }
}

/// The socket, telling its watchdog when bytes move, and holding its
/// address slot for as long as it is open.
struct Watched {
    stream: TcpStream,
    watchdog: Arc<Watchdog>,
    _slot: Slot,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watchdog.on_read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.watchdog.on_write();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.watchdog.on_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
