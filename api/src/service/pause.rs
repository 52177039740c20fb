//! Test-only pause points: a test hands a callback to a long operation and
//! the operation awaits it at a named moment, so the test can make another
//! writer act exactly there (an interleaving, not a sleep). Production code
//! never sets one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// An async callback awaited at a pause point.
#[doc(hidden)]
#[derive(Clone)]
pub struct Pause(Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>);

impl Pause {
    /// A pause point that runs `f` and waits for the future it returns.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(f())))
    }

    /// Waits at the pause point.
    pub async fn wait(&self) {
        (self.0)().await;
    }
}

impl fmt::Debug for Pause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pause")
    }
}

/// Waits at `pause` when one is set.
pub async fn at(pause: Option<&Pause>) {
    if let Some(p) = pause {
        p.wait().await;
    }
}
