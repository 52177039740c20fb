//! Per-address throttles: who the client is, the 429 answer with a truthful
//! `Retry-After`, and the budget of failed token checks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The client's address as the limits key it: IPv4-mapped IPv6 addresses
/// count as the IPv4 address they carry. `None` without a peer (a router
/// driven in-process).
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical())
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
