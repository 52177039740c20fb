//! Every limit quicktakes enforces, in one struct: each with its flag, its
//! environment variable and one default ([`Limits::DEFAULT`]). A new limit
//! is a field here and a use where it bites; nothing else.
//!
//! The command line reads them once ([`crate::config::Cli`] flattens this
//! struct) and [`install`]s them for the whole process, so the validator,
//! the pager and the search service, which run far from any request, read
//! the same values through [`get`]. The HTTP layer and the schema take their
//! copy explicitly, so a test can build an application with its own limits.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::OnceLock;
use std::time::Duration;

/// Every limit, with its flag and environment variable. A `0` turns off the
/// limits whose description says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// Deepest query nesting.
    #[arg(long = "limit-depth", env = "QUICKTAKES_LIMIT_DEPTH", global = true, default_value_t = Limits::DEFAULT.depth)]
    pub depth: usize,
    /// Highest query complexity (list fields count times their page size).
    #[arg(long = "limit-complexity", env = "QUICKTAKES_LIMIT_COMPLEXITY", global = true, default_value_t = Limits::DEFAULT.complexity)]
    pub complexity: usize,
    /// Most aliases in one request (fragments counted where they are spread).
    #[arg(long = "limit-aliases", env = "QUICKTAKES_LIMIT_ALIASES", global = true, default_value_t = Limits::DEFAULT.aliases)]
    pub aliases: usize,
    /// Most directives on one field.
    #[arg(long = "limit-directives", env = "QUICKTAKES_LIMIT_DIRECTIVES", global = true, default_value_t = Limits::DEFAULT.directives)]
    pub directives: usize,
    /// Most operations in one batch.
    #[arg(long = "limit-batch", env = "QUICKTAKES_LIMIT_BATCH", global = true, default_value_t = Limits::DEFAULT.batch)]
    pub batch: usize,
    /// Most lexical tokens in one GraphQL document (names, punctuation,
    /// values; whitespace, commas and comments are free), checked before it
    /// is parsed.
    #[arg(long = "limit-tokens", env = "QUICKTAKES_LIMIT_TOKENS", global = true, default_value_t = Limits::DEFAULT.tokens)]
    pub tokens: usize,
    /// Longest a request may run, in milliseconds.
    #[arg(long = "request-timeout-ms", env = "QUICKTAKES_REQUEST_TIMEOUT_MS", global = true, default_value_t = Limits::DEFAULT.request_timeout_ms)]
    pub request_timeout_ms: u64,
    /// Largest page a connection serves (`first`/`last`).
    #[arg(long = "limit-page-size", env = "QUICKTAKES_LIMIT_PAGE_SIZE", global = true, default_value_t = Limits::DEFAULT.page_size)]
    pub page_size: u64,
    /// Largest request body, in bytes (a bigger one gets 413).
    #[arg(long = "limit-body-bytes", env = "QUICKTAKES_LIMIT_BODY_BYTES", global = true, default_value_t = Limits::DEFAULT.body_bytes)]
    pub body_bytes: usize,
    /// Longest answer, in characters once the seed escapes are decoded.
    #[arg(long = "limit-answer-chars", env = "QUICKTAKES_LIMIT_ANSWER_CHARS", global = true, default_value_t = Limits::DEFAULT.answer_chars)]
    pub answer_chars: usize,
    /// Most related links of one article.
    #[arg(long = "limit-related", env = "QUICKTAKES_LIMIT_RELATED", global = true, default_value_t = Limits::DEFAULT.related)]
    pub related: usize,
    /// Distinct words of a search query that are searched (the rest are ignored).
    #[arg(long = "limit-search-terms", env = "QUICKTAKES_LIMIT_SEARCH_TERMS", global = true, default_value_t = Limits::DEFAULT.search_terms)]
    pub search_terms: usize,
    /// Characters of a search query that are read (the rest are ignored).
    #[arg(long = "limit-search-chars", env = "QUICKTAKES_LIMIT_SEARCH_CHARS", global = true, default_value_t = Limits::DEFAULT.search_chars)]
    pub search_chars: usize,
    /// Milliseconds a statement may run for editors, writes and the
    /// commands (0: no limit).
    #[arg(long = "db-statement-timeout-ms", env = "QUICKTAKES_DB_STATEMENT_TIMEOUT_MS", global = true, default_value_t = Limits::DEFAULT.db_statement_timeout_ms)]
    pub db_statement_timeout_ms: u64,
    /// Milliseconds a statement of an anonymous read may run (0: no limit);
    /// anonymous reads get a pool of their own, so they cannot starve editors.
    #[arg(long = "db-read-statement-timeout-ms", env = "QUICKTAKES_DB_READ_STATEMENT_TIMEOUT_MS", global = true, default_value_t = Limits::DEFAULT.db_read_statement_timeout_ms)]
    pub db_read_statement_timeout_ms: u64,
    /// Milliseconds a client has to send a request's headers, from its first
    /// byte (from connecting, for a connection's first request) (0: no limit).
    #[arg(long = "header-read-timeout-ms", env = "QUICKTAKES_HEADER_READ_TIMEOUT_MS", global = true, default_value_t = Limits::DEFAULT.header_read_timeout_ms)]
    pub header_read_timeout_ms: u64,
    /// Milliseconds a keep-alive connection may wait for its next request (0: no limit).
    #[arg(long = "idle-timeout-ms", env = "QUICKTAKES_IDLE_TIMEOUT_MS", global = true, default_value_t = Limits::DEFAULT.idle_timeout_ms)]
    pub idle_timeout_ms: u64,
    /// Open connections one client IP may hold (0: no limit).
    #[arg(long = "max-connections-per-address", env = "QUICKTAKES_MAX_CONNECTIONS_PER_ADDRESS", global = true, default_value_t = Limits::DEFAULT.max_connections_per_address)]
    pub max_connections_per_address: usize,
    /// Requests per minute an anonymous client IP may make (0: no limit).
    #[arg(long = "rate-limit-per-minute", env = "QUICKTAKES_RATE_LIMIT_PER_MINUTE", global = true, default_value_t = Limits::DEFAULT.rate_limit_per_minute)]
    pub rate_limit_per_minute: u32,
    /// WebSocket connections the server holds at once (0: no limit); one
    /// more is closed at once with 1013 (try again later).
    #[arg(long = "limit-ws-connections", env = "QUICKTAKES_LIMIT_WS_CONNECTIONS", global = true, default_value_t = Limits::DEFAULT.ws_connections)]
    pub ws_connections: usize,
    /// Operations (subscriptions, and queries still running) one WebSocket
    /// connection may hold at once (0: no limit).
    #[arg(long = "limit-ws-subscriptions", env = "QUICKTAKES_LIMIT_WS_SUBSCRIPTIONS", global = true, default_value_t = Limits::DEFAULT.ws_subscriptions)]
    pub ws_subscriptions: usize,
    /// Milliseconds a new WebSocket connection has to send its
    /// `connection_init` before it is closed with 4408.
    #[arg(long = "ws-init-timeout-ms", env = "QUICKTAKES_WS_INIT_TIMEOUT_MS", global = true, default_value_t = Limits::DEFAULT.ws_init_timeout_ms)]
    pub ws_init_timeout_ms: u64,
    /// Failed token checks per minute a client IP may make; past them its
    /// requests with a token get 429 (0: no limit).
    #[arg(long = "auth-failures-per-minute", env = "QUICKTAKES_AUTH_FAILURES_PER_MINUTE", global = true, default_value_t = Limits::DEFAULT.auth_failures_per_minute)]
    pub auth_failures_per_minute: u32,
    /// Deepest field nesting inside `__schema`/`__type`, not counting
    /// `ofType` (which has its own limit). Introspection is measured apart
    /// from the data query: it is exempt from `--limit-depth` and
    /// `--limit-complexity`, and bounded by these three.
    #[arg(long = "limit-introspection-depth", env = "QUICKTAKES_LIMIT_INTROSPECTION_DEPTH", global = true, default_value_t = Limits::DEFAULT.introspection_depth)]
    pub introspection_depth: usize,
    /// Longest chain of nested `ofType` in an introspection query
    /// (graphql-js 16 nests 9).
    #[arg(long = "limit-introspection-of-type", env = "QUICKTAKES_LIMIT_INTROSPECTION_OF_TYPE", global = true, default_value_t = Limits::DEFAULT.introspection_of_type)]
    pub introspection_of_type: usize,
    /// Highest complexity of the introspection in one request (each
    /// introspection list counting as ten items).
    #[arg(long = "limit-introspection-complexity", env = "QUICKTAKES_LIMIT_INTROSPECTION_COMPLEXITY", global = true, default_value_t = Limits::DEFAULT.introspection_complexity)]
    pub introspection_complexity: usize,
    /// Whether clients may introspect the schema (`__schema`, `__type`);
    /// `--introspection false` or `--no-introspection` turns it off. The SDL
    /// stays served at `/schema.graphql`.
    #[arg(long = "introspection", env = "QUICKTAKES_INTROSPECTION", global = true, action = clap::ArgAction::Set, default_value_t = Limits::DEFAULT.introspection)]
    pub introspection: bool,
    /// Turns introspection off (the same as `--introspection false`).
    #[arg(
        long = "no-introspection",
        global = true,
        overrides_with = "introspection"
    )]
    pub no_introspection: bool,
}

impl Limits {
    /// The defaults, written once (SPEC §6 and the robustness issue).
    pub const DEFAULT: Limits = Limits {
        depth: 12,
        complexity: 5_000,
        aliases: 50,
        directives: 10,
        batch: 10,
        tokens: 10_000,
        request_timeout_ms: 10_000,
        page_size: 100,
        body_bytes: 1024 * 1024,
        answer_chars: 100_000,
        related: 10,
        search_terms: 32,
        search_chars: 256,
        db_statement_timeout_ms: 10_000,
        db_read_statement_timeout_ms: 5_000,
        header_read_timeout_ms: 10_000,
        idle_timeout_ms: 60_000,
        max_connections_per_address: 64,
        rate_limit_per_minute: 600,
        auth_failures_per_minute: 30,
        ws_connections: 1_000,
        ws_subscriptions: 20,
        ws_init_timeout_ms: 10_000,
        introspection_depth: 7,
        introspection_of_type: 10,
        introspection_complexity: 150_000,
        introspection: true,
        no_introspection: false,
    };

    /// Whether introspection is on (`--introspection`, unless `--no-introspection`).
    pub fn introspection_enabled(&self) -> bool {
        self.introspection && !self.no_introspection
    }

    /// Longest a request may run.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The statement budget of editors, writes and the commands.
    pub fn statement_budget(&self) -> Option<Duration> {
        millis(self.db_statement_timeout_ms)
    }

    /// The statement budget of anonymous reads.
    pub fn read_statement_budget(&self) -> Option<Duration> {
        millis(self.db_read_statement_timeout_ms)
    }

    /// The header-read timeout of a connection.
    pub fn header_read_timeout(&self) -> Option<Duration> {
        millis(self.header_read_timeout_ms)
    }

    /// How long a kept-alive connection may wait for its next request.
    pub fn idle_timeout(&self) -> Option<Duration> {
        millis(self.idle_timeout_ms)
    }

    /// Open connections one address may hold.
    pub fn connections_per_address(&self) -> Option<NonZeroUsize> {
        NonZeroUsize::new(self.max_connections_per_address)
    }

    /// Anonymous requests per minute and address.
    pub fn anonymous_per_minute(&self) -> Option<NonZeroU32> {
        NonZeroU32::new(self.rate_limit_per_minute)
    }

    /// WebSocket connections the server holds at once.
    pub fn ws_connection_cap(&self) -> Option<NonZeroUsize> {
        NonZeroUsize::new(self.ws_connections)
    }

    /// Operations one WebSocket connection may hold at once.
    pub fn ws_subscription_cap(&self) -> Option<NonZeroUsize> {
        NonZeroUsize::new(self.ws_subscriptions)
    }

    /// How long a WebSocket connection may wait before `connection_init`.
    pub fn ws_init_timeout(&self) -> Duration {
        Duration::from_millis(self.ws_init_timeout_ms)
    }

    /// Failed token checks per minute and address.
    pub fn auth_failures(&self) -> Option<NonZeroU32> {
        NonZeroU32::new(self.auth_failures_per_minute)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

fn millis(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

static INSTALLED: OnceLock<Limits> = OnceLock::new();

/// Makes `limits` the process's limits; the first call wins (the command
/// line calls it once, before anything runs).
pub fn install(limits: Limits) {
    if INSTALLED.set(limits).is_err() {
        tracing::debug!("limits were already installed; keeping the first");
    }
}

/// The process's limits: the installed ones, else the defaults.
pub fn get() -> &'static Limits {
    INSTALLED.get().unwrap_or(&Limits::DEFAULT)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        limits: Limits,
    }

    #[test]
    fn the_flags_default_to_the_one_default() {
        // Parsed with no flags (and no QUICKTAKES_ variables in the test
        // environment), clap yields exactly `Limits::DEFAULT`.
        let parsed = Wrapper::try_parse_from(["quicktakes"]).expect("parses");
        assert_eq!(parsed.limits, Limits::DEFAULT);
        let parsed = Wrapper::try_parse_from(["quicktakes", "--limit-depth", "3"]).expect("parses");
        assert_eq!(parsed.limits.depth, 3);
        for off in [
            &["quicktakes", "--no-introspection"][..],
            &["quicktakes", "--introspection", "false"],
            &["quicktakes", "--introspection=false"],
        ] {
            let parsed = Wrapper::try_parse_from(off).expect("parses");
            assert!(!parsed.limits.introspection_enabled(), "{off:?}");
        }
        let parsed =
            Wrapper::try_parse_from(["quicktakes", "--introspection", "true"]).expect("parses");
        assert!(parsed.limits.introspection_enabled());
    }
}
