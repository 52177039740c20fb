//! Per-address throttles: who the client is (behind trusted proxies too),
//! the 429 answer with a truthful `Retry-After`, the anonymous rate limiter
//! with its memory bounded, and the budget of failed token checks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;

/// The client's address as the limits key it: the one [`resolve_client`]
/// found behind trusted proxies, else the TCP peer; IPv4-mapped IPv6
/// addresses count as the IPv4 address they carry. `None` without a peer
/// (a router driven in-process).
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    if let Some(ForwardedClient(ip)) = extensions.get::<ForwardedClient>() {
        return Some(*ip);
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical())
}

/// The client address a trusted proxy reported, set by [`resolve_client`].
#[derive(Debug, Clone, Copy)]
struct ForwardedClient(IpAddr);

/// The networks whose addresses are proxies of ours (`--trusted-proxy`):
/// only their forwarding headers are believed, and their own sockets are
/// not held to the per-address connection cap.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Proxies in `networks`.
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        Self(networks.into_iter().collect())
    }

    /// No proxy is trusted: every client is its TCP peer.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`. Only a trusted peer's forwarding headers
    /// count (`Forwarded` when present, else `X-Forwarded-For`). Each proxy
    /// appends the address it got the request from, so the list is read
    /// right to left: the first address that is not itself a trusted proxy
    /// is the client; anything left of it is the client's to forge. An
    /// entry that names no address (`unknown`, an obfuscated name, junk)
    /// ends the walk at the trusted hop that reported it.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let hops = forwarded_hops(headers);
        for hop in hops.iter().rev() {
            let Some(ip) = hop else { return client };
            client = ip.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

/// The hops a request was forwarded through, oldest first: the `for=` of
/// every `Forwarded` element (RFC 7239), or without that header the
/// entries of `X-Forwarded-For`. `None` for an entry that is no address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name| {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or_default())
            .flat_map(|v| v.split(','))
    };
    if headers.contains_key(header::FORWARDED) {
        values(header::FORWARDED)
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| forwarded_node(value))
                })?
            })
            .collect()
    } else {
        values(HeaderName::from_static("x-forwarded-for"))
            .map(forwarded_node)
            .collect()
    }
}

/// The address in one node: `192.0.2.1`, `"192.0.2.1:8080"`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`; `None` for `unknown`, an
/// obfuscated `_name`, or junk.
fn forwarded_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.parse().ok().or_else(|| {
        // An IPv4 address with a port.
        let (ip, port) = node.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    })
}

/// Notes the client behind a trusted proxy on the request, for
/// [`client_ip`]; the first layer every request meets.
pub async fn resolve_client(
    State(proxies): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if !proxies.is_empty()
        && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
    {
        let client = proxies.client(peer.ip(), request.headers());
        request.extensions_mut().insert(ForwardedClient(client));
    }
    next.run(request).await
}

/// The anonymous per-address rate limit. Keys whose budget is full again
/// are dropped whenever the map has doubled since the last sweep, so its
/// memory follows the addresses active within a quota period, not every
/// address ever seen.
#[derive(Debug)]
pub struct AddressLimiter<C: Clock = DefaultClock> {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    /// Size at which stale keys are next swept (amortised O(1)).
    sweep_at: AtomicUsize,
}

impl AddressLimiter {
    /// `per_minute` requests per address (GCRA, bursts up to the quota).
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self::with_clock(Quota::per_minute(per_minute), DefaultClock::default())
    }
}

impl<C: Clock> AddressLimiter<C> {
    fn with_clock(quota: Quota, clock: C) -> Self {
        Self {
            limiter: RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock),
            sweep_at: AtomicUsize::new(SWEEP_MIN),
        }
    }

    /// Counts a request from `ip`; `Err` with the wait when it is over.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let result = self
            .limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()));
        if self.limiter.len() >= self.sweep_at.load(Ordering::Relaxed) {
            self.prune();
        }
        result
    }

    /// Drops the keys indistinguishable from a fresh one; the next sweep
    /// waits until the map has doubled.
    fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.sweep_at
            .store((self.limiter.len() * 2).max(SWEEP_MIN), Ordering::Relaxed);
    }

    /// Addresses held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// Extracts [`client_ip`]; never fails.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(&parts.extensions)))
    }
}

/// Whole seconds to announce in `Retry-After` for `wait`: rounded up, so a
/// client that waits that long is let in, and at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// 429 with `Retry-After` and `message`.
pub fn too_many_requests(wait: Duration, message: &str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, retry_after_secs(wait).to_string()),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
        ],
        message.to_owned(),
    )
        .into_response()
}

/// An address over its budget of failed token checks: 429, with the wait
/// until its next check.
#[derive(Debug, Clone, Copy)]
pub struct TooManyFailures(pub Duration);

impl IntoResponse for TooManyFailures {
    fn into_response(self) -> Response {
        too_many_requests(
            self.0,
            "too many failed token checks from this address; wait, then check the token",
        )
    }
}

/// Failed token checks each address may make: a burst of `per_minute`,
/// refilled one every `60 s / per_minute` (GCRA, as governor counts).
///
/// governor cannot do what this needs: an attempt *reserves* a failure
/// before its token is looked up, so concurrent guesses cannot overrun the
/// budget, and a valid token gives the reservation back, so editors are not
/// charged. governor can neither look without taking nor give back.
#[derive(Debug)]
pub struct FailureBudget {
    /// Time one failure costs.
    interval: Duration,
    /// How far ahead of now an address's next free time may run: the burst.
    tolerance: Duration,
    state: Mutex<Ledger>,
}

/// Per address, when its budget is full again (the GCRA "theoretical
/// arrival time"); an address whose time has passed is dropped.
#[derive(Debug, Default)]
struct Ledger {
    full_at: HashMap<IpAddr, Instant>,
    /// Size at which stale entries are next swept (amortised O(1)).
    sweep_at: usize,
}

/// Entries kept before the first sweep.
const SWEEP_MIN: usize = 1024;

impl FailureBudget {
    /// A budget of `per_minute` failures per address.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        let interval = Duration::from_secs(60) / per_minute.get();
        Self {
            interval,
            tolerance: interval * per_minute.get(),
            state: Mutex::new(Ledger {
                full_at: HashMap::new(),
                sweep_at: SWEEP_MIN,
            }),
        }
    }

    /// Reserves one failure for `ip`, or says how long it must wait.
    pub fn reserve(self: &Arc<Self>, ip: IpAddr) -> Result<Reservation, Duration> {
        let now = Instant::now();
        let mut ledger = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let full_at = ledger.full_at.get(&ip).copied().unwrap_or(now).max(now);
        let next = full_at + self.interval;
        if next > now + self.tolerance {
            return Err(next - self.tolerance - now);
        }
        ledger.full_at.insert(ip, next);
        if ledger.full_at.len() >= ledger.sweep_at {
            ledger.full_at.retain(|_, at| *at > now);
            ledger.sweep_at = (ledger.full_at.len() * 2).max(SWEEP_MIN);
        }
        Ok(Reservation {
            budget: Arc::clone(self),
            ip,
        })
    }

    fn give_back(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut ledger = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = ledger.full_at.get_mut(&ip) {
            match at.checked_sub(self.interval) {
                Some(earlier) if earlier > now => *at = earlier,
                _ => {
                    ledger.full_at.remove(&ip);
                }
            }
        }
    }
}

/// One failure reserved before a token lookup. Dropped, it stays counted
/// (the token failed, or the request was abandoned mid-lookup);
/// [`Reservation::give_back`] returns it.
#[derive(Debug)]
#[must_use = "a reservation counts as a failure unless it is given back"]
pub struct Reservation {
    budget: Arc<FailureBudget>,
    ip: IpAddr,
}

impl Reservation {
    /// The attempt did not fail: it costs nothing.
    pub fn give_back(self) {
        self.budget.give_back(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("header value"));
        }
        map
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse::<IpNet>().expect("CIDR")))
    }

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let spoof = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(
            trusted.client(addr("198.51.100.7"), &spoof),
            addr("198.51.100.7")
        );
        assert_eq!(
            TrustedProxies::default().client(addr("10.0.0.1"), &spoof),
            addr("10.0.0.1"),
            "no proxy trusted: headers are ignored"
        );
    }

    #[test]
    fn trusted_hops_are_skipped_right_to_left_and_forged_entries_ignored() {
        let trusted = proxies(&["10.0.0.0/8", "2001:db8::/32"]);
        // The client forged 1.1.1.1; the edge proxy 10.1.1.1 saw 203.0.113.9.
        let xff = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(trusted.client(addr("10.0.0.1"), &xff), addr("203.0.113.9"));
        // Several header lines are one list, in order.
        let split = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9, 10.1.1.1"),
        ]);
        assert_eq!(
            trusted.client(addr("10.0.0.1"), &split),
            addr("203.0.113.9")
        );
        // Nothing but proxies: the oldest one is the client.
        let internal = headers(&[("x-forwarded-for", "10.2.2.2, 10.1.1.1")]);
        assert_eq!(
            trusted.client(addr("10.0.0.1"), &internal),
            addr("10.2.2.2")
        );
        // An IPv4-mapped peer counts as its IPv4 address.
        assert_eq!(
            trusted.client(addr("::ffff:10.0.0.1"), &xff),
            addr("203.0.113.9")
        );
        // `unknown` stops at the hop that reported it.
        let unknown = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.1.1.1")]);
        assert_eq!(trusted.client(addr("10.0.0.1"), &unknown), addr("10.1.1.1"));
    }

    #[test]
    fn forwarded_for_nodes_are_parsed_as_rfc_7239_writes_them() {
        let trusted = proxies(&["10.0.0.0/8", "2001:db8::/32"]);
        let forwarded = headers(&[(
            "forwarded",
            r#"for=1.1.1.1, For="[2001:db8:cafe::17]:4711";proto=https, for="203.0.113.9:8080";by=10.0.0.1, proto=http;for=10.1.1.1"#,
        )]);
        assert_eq!(
            trusted.client(addr("10.0.0.1"), &forwarded),
            addr("203.0.113.9")
        );
        let v6 = headers(&[("forwarded", r#"for="[2001:db9::1]:4711", for=10.1.1.1"#)]);
        assert_eq!(trusted.client(addr("10.0.0.1"), &v6), addr("2001:db9::1"));
        // Forwarded wins over X-Forwarded-For when both are sent.
        let both = headers(&[
            ("forwarded", "for=192.0.2.60"),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(trusted.client(addr("10.0.0.1"), &both), addr("192.0.2.60"));
        let obfuscated = headers(&[("forwarded", "for=_hidden, for=10.1.1.1")]);
        assert_eq!(
            trusted.client(addr("10.0.0.1"), &obfuscated),
            addr("10.1.1.1")
        );
        assert_eq!(forwarded_node(" 192.0.2.43 "), Some(addr("192.0.2.43")));
        assert_eq!(forwarded_node("2001:db8::1"), Some(addr("2001:db8::1")));
        assert_eq!(forwarded_node("\"[::1]\""), Some(addr("::1")));
        assert_eq!(forwarded_node("unknown"), None);
        assert_eq!(forwarded_node("1.2.3.4:99999"), None);
    }

    #[test]
    fn the_limiter_forgets_addresses_whose_budget_is_full_again() {
        let clock = FakeRelativeClock::default();
        let limiter = AddressLimiter::with_clock(
            Quota::per_minute(NonZeroU32::new(60).expect("60")),
            clock.clone(),
        );
        for n in 0..100u32 {
            limiter
                .check(IpAddr::from(n.to_be_bytes()))
                .expect("first request");
        }
        assert_eq!(limiter.len(), 100);
        // Within the period every key still holds state: none goes.
        limiter.prune();
        assert_eq!(limiter.len(), 100);
        // One request costs a second of budget; after it the keys are stale.
        clock.advance(Duration::from_secs(2));
        limiter.check(ip(1)).expect("a fresh address");
        limiter.prune();
        assert_eq!(limiter.len(), 1, "only the recent address stays");
        // Sweeps also run by themselves once the map has doubled.
        let many = SWEEP_MIN as u32 * 3;
        for n in 0..many {
            limiter
                .check(IpAddr::from((n + 1000).to_be_bytes()))
                .expect("first");
            clock.advance(Duration::from_millis(100));
        }
        assert!(
            limiter.len() < many as usize,
            "{} keys kept of {many}",
            limiter.len()
        );
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_burst_then_one_per_interval_with_the_true_wait() {
        let budget = Arc::new(FailureBudget::per_minute(NonZeroU32::new(3).expect("3")));
        for _ in 0..3 {
            drop(budget.reserve(ip(1)).expect("within the burst"));
        }
        let wait = budget.reserve(ip(1)).expect_err("over the budget");
        assert!(wait <= Duration::from_secs(20), "{wait:?}");
        assert!(wait > Duration::from_secs(19), "{wait:?}");
        assert_eq!(retry_after_secs(wait), 20);
        assert!(budget.reserve(ip(2)).is_ok(), "per address");
    }

    #[test]
    fn given_back_reservations_cost_nothing() {
        let budget = Arc::new(FailureBudget::per_minute(NonZeroU32::new(2).expect("2")));
        for _ in 0..10 {
            budget.reserve(ip(1)).expect("free").give_back();
        }
        let held = budget.reserve(ip(1)).expect("first");
        let _also = budget.reserve(ip(1)).expect("second");
        assert!(
            budget.reserve(ip(1)).is_err(),
            "reservations in flight count"
        );
        held.give_back();
        assert!(
            budget.reserve(ip(1)).is_ok(),
            "a returned one is free again"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_a_whole_second() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(100)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1000)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
    }
}
