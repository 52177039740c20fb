//! The command line: every flag with its environment fallback, read once
//! into typed values.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::db::DEFAULT_DATABASE_URL;

/// quicktakes: a GraphQL content server for a Q&A knowledge site.
#[derive(Debug, Parser)]
#[command(name = "quicktakes", version, about)]
pub struct Cli {
    /// Database: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Most database connections in the pool.
    #[arg(
        long,
        env = "QUICKTAKES_DB_MAX_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    pub db_max_connections: u32,

    /// Milliseconds a SQLite writer waits for the lock before giving up.
    #[arg(
        long,
        env = "QUICKTAKES_DB_BUSY_TIMEOUT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub db_busy_timeout_ms: u64,

    /// Milliseconds to wait for a pooled connection.
    #[arg(
        long,
        env = "QUICKTAKES_DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,

    /// Every limit, with its flag and env (see [`crate::limits`]).
    #[command(flatten)]
    pub limits: crate::limits::Limits,

    /// Log lines as `text` or `json` (level from RUST_LOG, default info).
    #[arg(long, env = "QUICKTAKES_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing `serve`'s flags would save nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Migrate, import the seeds when the database has no articles, and serve HTTP.
    Serve(ServeArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Import seed files (folders are searched recursively for `*.md`).
    Import {
        /// Files or folders to import.
        #[arg(
            env = "QUICKTAKES_SEEDS",
            value_delimiter = ',',
            default_value = "seeds"
        )]
        paths: Vec<PathBuf>,
        /// Print what would be created, updated, left, refused and in conflict; write nothing.
        #[arg(long, env = "QUICKTAKES_DRY_RUN")]
        dry_run: bool,
        /// Apply changed files even over articles edited or deleted since their last import.
        #[arg(long, env = "QUICKTAKES_FORCE")]
        force: bool,
        /// Write the valid files even when some are invalid (still exits 1).
        #[arg(long, env = "QUICKTAKES_SKIP_INVALID")]
        skip_invalid: bool,
    },
    /// Write every live article to DIR/<file_name>.
    Export {
        /// Folder to write into (created if missing).
        #[arg(env = "QUICKTAKES_EXPORT_DIR")]
        dir: PathBuf,
    },
    /// Manage editor tokens.
    Token {
        /// What to do with tokens.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Manage change webhooks: endpoints POSTed to after every committed change.
    Webhook {
        /// What to do with webhooks.
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Apply, revert or list schema migrations.
    Migrate {
        /// `up` (default), `down` (the last one), `status` or `fresh` (drop everything, then up).
        #[arg(value_enum, default_value_t = MigrateAction::Up, env = "QUICKTAKES_MIGRATE")]
        action: MigrateAction,
    },
}

/// How `serve` serves.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "QUICKTAKES_BIND", default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Seed folder imported when the database has no articles.
    #[arg(long, env = "QUICKTAKES_SEEDS_DIR", default_value = "seeds")]
    pub seeds: PathBuf,
    /// Serve GraphiQL's files from this folder (fill it with
    /// `.ci/graphiql-assets.sh DIR`) instead of the copies built into the
    /// binary; overrides `--graphiql-cdn`.
    #[arg(long, env = "QUICKTAKES_GRAPHIQL_ASSETS")]
    pub graphiql_assets: Option<PathBuf>,
    /// Load GraphiQL's files from the jsDelivr CDN instead of the copies
    /// built into the binary (which need no internet access).
    #[arg(long, env = "QUICKTAKES_GRAPHIQL_CDN")]
    pub graphiql_cdn: bool,
    /// Origin allowed to call the API from a browser (repeatable; none by default).
    #[arg(
        long = "cors-origin",
        env = "QUICKTAKES_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Address serving `GET /metrics` (Prometheus), kept off the public
    /// address; metrics are not served without it.
    #[arg(long, env = "QUICKTAKES_METRICS_BIND")]
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// Network (CIDR, e.g. `10.0.0.0/8`; a bare address is one host) of a
    /// reverse proxy or load balancer in front of the server (repeatable;
    /// none by default). Only these peers' `Forwarded`/`X-Forwarded-For`
    /// name the client that per-address limits count.
    #[arg(
        long = "trusted-proxy",
        env = "QUICKTAKES_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_network
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A PostgreSQL read replica (repeatable): anonymous reads go to a
    /// reachable one in turn, and to the primary while none is; requests
    /// with a token, mutations and imports always use `--database-url`.
    #[arg(
        long = "read-database-url",
        env = "QUICKTAKES_READ_DATABASE_URLS",
        value_delimiter = ',',
        value_parser = parse_replica_url,
        hide_env_values = true
    )]
    pub read_database_urls: Vec<String>,
    /// Public address of the site, e.g. `https://example.org`: makes the
    /// reader pages' canonical links, their schema.org urls and the signed
    /// preview links absolute (relative without it).
    #[arg(long, env = "QUICKTAKES_PUBLIC_BASE_URL")]
    pub public_base_url: Option<crate::preview::PublicBaseUrl>,
    /// Secret (at least 32 characters) that signs the editors' preview
    /// links; give every server behind one address the same. Without it
    /// each server makes a random one, and its links stop working when it
    /// restarts.
    #[arg(long, env = "QUICKTAKES_PREVIEW_KEY", hide_env_values = true)]
    pub preview_key: Option<crate::preview::PreviewKey>,
    /// How anonymous GET responses may be cached (see [`CachePolicy`]).
    #[command(flatten)]
    pub cache: CachePolicy,
    /// How change webhooks are delivered (see [`WebhookDeliveryArgs`]).
    #[command(flatten)]
    pub webhooks: WebhookDeliveryArgs,
}

/// How reads are cached: the `Cache-Control` of anonymous `GET /graphql`
/// responses without errors (the only cacheable ones; a response to a
/// request with a token, a POST, or one with errors is `private,
/// no-store`), and how much query text automatic persisted queries keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct CachePolicy {
    /// Seconds a browser may reuse a response (`max-age`).
    #[arg(long, env = "QUICKTAKES_CACHE_MAX_AGE", default_value_t = Self::DEFAULT.cache_max_age)]
    pub cache_max_age: u32,
    /// Seconds a CDN may reuse a response (`s-maxage`); purge it sooner
    /// by its surrogate keys.
    #[arg(long, env = "QUICKTAKES_CACHE_S_MAXAGE", default_value_t = Self::DEFAULT.cache_s_maxage)]
    pub cache_s_maxage: u32,
    /// Seconds a cache may serve a stale response while it fetches a
    /// fresh one (`stale-while-revalidate`).
    #[arg(
        long,
        env = "QUICKTAKES_CACHE_STALE_WHILE_REVALIDATE",
        default_value_t = Self::DEFAULT.cache_stale_while_revalidate
    )]
    pub cache_stale_while_revalidate: u32,
    /// Bytes of query text each server keeps for automatic persisted
    /// queries, least recently used first out.
    #[arg(long, env = "QUICKTAKES_APQ_CACHE_BYTES", default_value_t = Self::DEFAULT.apq_cache_bytes)]
    pub apq_cache_bytes: u64,
}

impl CachePolicy {
    /// The defaults, the flags' included.
    pub const DEFAULT: Self = Self {
        cache_max_age: 60,
        cache_s_maxage: 300,
        cache_stale_while_revalidate: 60,
        apq_cache_bytes: 16 * 1024 * 1024,
    };
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A PostgreSQL url: replicas exist only there.
fn parse_replica_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}` is not a PostgreSQL url such as postgres://USER@HOST:PORT/DB (read replicas are PostgreSQL only)"
        ))
    }
}

/// A CIDR network, or one address as its own /32 or /128.
fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| {
            format!("`{s}` is not a network such as 10.0.0.0/8 or an address such as 10.0.0.1")
        })
}

impl ServeArgs {
    /// The HTTP configuration these flags describe, under `limits`.
    pub fn http_config(&self, limits: &crate::limits::Limits) -> crate::http::HttpConfig {
        crate::http::HttpConfig {
            graphiql_assets: self.graphiql_assets.clone(),
            graphiql_cdn: self.graphiql_cdn,
            limits: *limits,
            cors_origins: self.cors_origins.clone(),
            trusted_proxies: crate::http::throttle::TrustedProxies::new(
                self.trusted_proxies.iter().copied(),
            ),
            preview: crate::preview::PreviewLinks::new(
                self.public_base_url.clone(),
                self.preview_key.clone(),
            ),
            cache: self.cache,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What `token` does.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token; its secret is printed once, alone on the last line.
    Create {
        /// Name recorded in revisions (unique).
        #[arg(long, env = "QUICKTAKES_TOKEN_NAME")]
        name: String,
        /// `editor` (article mutations) or `admin` (also deletes and restores).
        #[arg(long, value_enum, env = "QUICKTAKES_TOKEN_ROLE")]
        role: RoleArg,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by name.
    Revoke {
        /// The token's name.
        #[arg(env = "QUICKTAKES_TOKEN_NAME")]
        name: String,
    },
}

/// A token role on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Article mutations.
    Editor,
    /// Article mutations, deletes and restores.
    Admin,
}

/// What `migrate` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the last applied migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table, then apply every migration.
    Fresh,
}

/// What `webhook` does.
#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    /// Add an endpoint; its signing secret is printed once, alone on the last line.
    Add {
        /// The `https://` (or `http://`) url each change is POSTed to.
        #[arg(env = "QUICKTAKES_WEBHOOK_URL", value_parser = crate::service::webhook::parse_url)]
        url: String,
        /// An event it wants (repeatable or comma-separated; every event
        /// when none is given): article.created, article.updated,
        /// article.deleted, article.restored, article.reverted.
        #[arg(
            long = "event",
            env = "QUICKTAKES_WEBHOOK_EVENTS",
            value_delimiter = ',',
            value_parser = crate::service::webhook::parse_event
        )]
        events: Vec<crate::service::changes::ChangeKind>,
    },
    /// List endpoints, their events and deliveries (never their secrets).
    List,
    /// Remove an endpoint, by id or url, with its deliveries.
    Remove {
        /// The webhook's id (as `webhook list` shows it) or url.
        #[arg(env = "QUICKTAKES_WEBHOOK")]
        webhook: String,
    },
}

/// How `serve` delivers change webhooks (see
/// [`crate::service::webhook::worker`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct WebhookDeliveryArgs {
    /// Attempts per webhook delivery before it is marked failed.
    #[arg(
        long,
        env = "QUICKTAKES_WEBHOOK_MAX_ATTEMPTS",
        default_value_t = crate::service::webhook::worker::DeliveryConfig::default().max_attempts,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub webhook_max_attempts: u32,
    /// Milliseconds before a failed delivery's second attempt (at least
    /// 1); doubled after each failure.
    #[arg(
        long,
        env = "QUICKTAKES_WEBHOOK_RETRY_MS",
        default_value_t = millis(crate::service::webhook::worker::DeliveryConfig::default().first_retry),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub webhook_retry_ms: u64,
    /// Longest wait between two attempts of a delivery, in milliseconds;
    /// at least `--webhook-retry-ms`.
    #[arg(
        long,
        env = "QUICKTAKES_WEBHOOK_MAX_RETRY_MS",
        default_value_t = millis(crate::service::webhook::worker::DeliveryConfig::default().max_retry),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub webhook_max_retry_ms: u64,
    /// Milliseconds one webhook request may take, connecting included.
    #[arg(
        long,
        env = "QUICKTAKES_WEBHOOK_TIMEOUT_MS",
        default_value_t = millis(crate::service::webhook::worker::DeliveryConfig::default().timeout),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub webhook_timeout_ms: u64,
    /// Milliseconds after a change committed before its deliveries' first
    /// attempt. With read replicas, make it longer than their replay lag,
    /// so a receiver that purges a CDN at once does not have the CDN
    /// refetch the old page from a replica.
    #[arg(
        long,
        env = "QUICKTAKES_WEBHOOK_DELAY_MS",
        default_value_t = millis(crate::service::webhook::worker::DeliveryConfig::default().delay)
    )]
    pub webhook_delay_ms: u64,
}

/// `d` in whole milliseconds, for a flag's default.
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl WebhookDeliveryArgs {
    /// Refuses flags that each parse but do not go together: a longest
    /// wait below the first.
    pub fn check(&self) -> Result<(), String> {
        if self.webhook_max_retry_ms < self.webhook_retry_ms {
            return Err(format!(
                "--webhook-max-retry-ms ({}) is below --webhook-retry-ms ({}): the longest wait between two attempts cannot be shorter than the first; raise --webhook-max-retry-ms or lower --webhook-retry-ms",
                self.webhook_max_retry_ms, self.webhook_retry_ms
            ));
        }
        Ok(())
    }

    /// The worker's configuration these flags describe (see
    /// [`Self::check`]).
    pub fn delivery(&self) -> crate::service::webhook::worker::DeliveryConfig {
        use std::time::Duration;
        crate::service::webhook::worker::DeliveryConfig {
            max_attempts: self.webhook_max_attempts,
            first_retry: Duration::from_millis(self.webhook_retry_ms),
            max_retry: Duration::from_millis(self.webhook_max_retry_ms),
            timeout: Duration::from_millis(self.webhook_timeout_ms),
            delay: Duration::from_millis(self.webhook_delay_ms),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn serve(args: &[&str]) -> Result<super::ServeArgs, clap::Error> {
        let cli = Cli::try_parse_from(["quicktakes", "serve"].iter().chain(args))?;
        match cli.command {
            Command::Serve(args) => Ok(args),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn trusted_proxies_are_networks_or_single_addresses() {
        let args = serve(&[
            "--trusted-proxy",
            "10.0.0.0/8",
            "--trusted-proxy",
            "192.0.2.7,2001:db8::/32",
        ])
        .expect("valid");
        let nets: Vec<String> = args
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]);
        let err = serve(&["--trusted-proxy", "proxy.internal"]).expect_err("not a network");
        assert!(err.to_string().contains("is not a network"), "{err}");
    }
}
