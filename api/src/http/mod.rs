//! The HTTP surface: `fn app(state) -> Router`, so tests drive the same
//! router the server runs.

mod auth;
mod etag;
mod graphiql;
pub mod graphql;
pub mod listener;
mod preview;
pub mod throttle;
mod ws;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use crate::limits::Limits;
use throttle::{AddressLimiter, FailureBudget, Reservation, TooManyFailures, TrustedProxies};

use crate::graphql::Api;

/// The header carrying each request's id (set when the client sends none).
pub const REQUEST_ID: &str = "x-request-id";

/// How the HTTP surface behaves; every field has a flag and an env variable.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Serve GraphiQL's files from this folder, instead of the copies
    /// embedded in the binary or the CDN.
    pub graphiql_assets: Option<PathBuf>,
    /// Load GraphiQL's files from the CDN instead of the embedded copies.
    pub graphiql_cdn: bool,
    /// The limits: query limits, body size, rate limits.
    pub limits: Limits,
    /// Origins allowed to call the API from a browser; none by default.
    pub cors_origins: Vec<String>,
    /// Proxies whose forwarding headers name the client; none by default.
    pub trusted_proxies: TrustedProxies,
    /// How reader pages are linked: the public base url and the key of
    /// signed preview links.
    pub preview: crate::preview::PreviewLinks,
    /// How long anonymous GET responses may be cached, and how much query
    /// text automatic persisted queries keep.
    pub cache: crate::config::CachePolicy,
}

impl Default for HttpConfig {
    /// The defaults, with the per-address rate limits off (as in tests,
    /// where every request comes from one address).
    fn default() -> Self {
        Self {
            graphiql_assets: None,
            graphiql_cdn: false,
            limits: Limits {
                rate_limit_per_minute: 0,
                auth_failures_per_minute: 0,
                ..Limits::DEFAULT
            },
            cors_origins: Vec::new(),
            trusted_proxies: TrustedProxies::default(),
            preview: crate::preview::PreviewLinks::default(),
            cache: crate::config::CachePolicy::default(),
        }
    }
}

/// The site icon browsers ask for (a 16x16 ICO).
const FAVICON: &[u8] = include_bytes!("favicon.ico");
/// How long browsers and shared caches keep the favicon: it changes only
/// with a release, and a stale one for a day harms nobody.
const FAVICON_CACHE: &str = "public, max-age=86400";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The GraphQL schema, behind its policy.
    pub api: Api,
    /// The database: the main pool, for editors and writes.
    pub db: DatabaseConnection,
    /// The pool anonymous requests read through, with its own (smaller)
    /// statement budget, so a flood of costly reads cannot take the
    /// connections editors and token checks need.
    pub read_db: DatabaseConnection,
    /// Anonymous reads of article pages through rusqlite, on SQLite.
    pub sqlite_reads: Option<crate::db::SqliteReads>,
    /// PostgreSQL read replicas anonymous requests read from while one is
    /// reachable (`read_db` otherwise).
    replicas: crate::db::Replicas,
    /// Query limits.
    pub limits: Limits,
    /// The SDL.
    sdl: Arc<String>,
    /// Per-IP limiter for anonymous requests.
    limiter: Option<Arc<AddressLimiter>>,
    /// Per-IP budget of failed token checks.
    auth_failures: Option<Arc<FailureBudget>>,
    /// Origins allowed to call the API from a browser (and to open a
    /// WebSocket); empty: any.
    cors_origins: Arc<[String]>,
    /// Places under the cap on WebSocket connections; `None`: no cap.
    ws_permits: Option<Arc<tokio::sync::Semaphore>>,
    /// How reader pages link and sign.
    preview: crate::preview::PreviewLinks,
    /// How long anonymous GET responses may be cached.
    cache: crate::config::CachePolicy,
    /// The texts of automatic persisted queries, by hash.
    persisted: graphql::PersistedQueries,
}

impl AppState {
    /// State for [`app`].
    pub fn new(api: Api, db: DatabaseConnection, config: &HttpConfig) -> Self {
        let sdl = Arc::new(api.sdl());
        Self {
            api,
            read_db: db.clone(),
            sqlite_reads: None,
            replicas: crate::db::Replicas::default(),
            db,
            limits: config.limits,
            sdl,
            limiter: config
                .limits
                .anonymous_per_minute()
                .map(|n| Arc::new(AddressLimiter::per_minute(n))),
            auth_failures: config
                .limits
                .auth_failures()
                .map(|n| Arc::new(FailureBudget::per_minute(n))),
            cors_origins: config.cors_origins.clone().into(),
            ws_permits: config
                .limits
                .ws_connection_cap()
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n.get()))),
            preview: config.preview.clone(),
            cache: config.cache,
            persisted: graphql::PersistedQueries::new(config.cache.apq_cache_bytes),
        }
    }

    /// Reserves a failed token check for `client` before its token is looked
    /// up; refused when the address has spent its budget. Give the
    /// reservation back unless the token turned out unknown or revoked.
    pub(crate) fn begin_token_check(
        &self,
        client: Option<IpAddr>,
    ) -> Result<Option<Reservation>, TooManyFailures> {
        let (Some(budget), Some(ip)) = (&self.auth_failures, client) else {
            return Ok(None);
        };
        budget.reserve(ip).map(Some).map_err(TooManyFailures)
    }

    /// The pools requests run on.
    pub fn pools(&self) -> crate::graphql::request::Pools {
        crate::graphql::request::Pools {
            main: self.db.clone(),
            read: self.anonymous_reads(),
            sqlite: self.sqlite_reads.clone(),
        }
    }

    /// Where an anonymous request reads: a reachable replica in turn, else
    /// the read pool on the primary (a fallback, counted, when replicas
    /// are configured). Requests with a token read from the primary, so
    /// an editor sees their own writes whichever instance serves them.
    pub fn anonymous_reads(&self) -> DatabaseConnection {
        match self.replicas.pick() {
            Some(replica) => replica.clone(),
            None => {
                if !self.replicas.is_empty() {
                    crate::metrics::record_replica_fallback();
                }
                self.read_db.clone()
            }
        }
    }

    /// Anonymous requests read through `pool` instead of the main one.
    #[must_use]
    pub fn with_read_pool(mut self, pool: DatabaseConnection) -> Self {
        self.read_db = pool;
        self
    }

    /// Anonymous requests read from `replicas` while one is reachable.
    #[must_use]
    pub fn with_replicas(mut self, replicas: crate::db::Replicas) -> Self {
        self.replicas = replicas;
        self
    }

    /// Anonymous requests read article pages through `reads` (the same
    /// SQLite file as the pools, through rusqlite).
    #[must_use]
    pub fn with_sqlite_reads(mut self, reads: Option<crate::db::SqliteReads>) -> Self {
        self.sqlite_reads = reads;
        self
    }
}

async fn schema_sdl(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        state.sdl.as_ref().clone(),
    )
        .into_response()
}

/// Refuses anonymous clients over their per-IP quota (429, `Retry-After`
/// when the next request is let in); requests that carry a token (limited
/// by [`AppState::begin_token_check`] instead), and requests without a peer
/// address (an in-process router), pass.
async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(limiter) = &state.limiter
        && !request.headers().contains_key(header::AUTHORIZATION)
        && let Some(ip) = throttle::client_ip(request.extensions())
        && let Err(wait) = limiter.check(ip)
    {
        return throttle::too_many_requests(
            wait,
            "too many requests from this address; slow down or use an editor token",
        );
    }
    next.run(request).await
}

/// Counts and times every request by route.
async fn record(request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    crate::metrics::record_http(
        &path,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The answer to a request whose handler panicked (GraphQL requests catch
/// their own panics and answer in GraphQL's shape; this covers the rest).
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "internal error; the cause is in the server log under this response's x-request-id",
    )
        .into_response()
}

async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/x-icon")], FAVICON).into_response()
}

/// Sets `Cache-Control: policy` on a successful answer to a request without
/// `Authorization`: what a token asked for is never made cacheable here.
async fn cache_for(State(policy): State<&'static str>, request: Request, next: Next) -> Response {
    let authorized = request.headers().contains_key(header::AUTHORIZATION);
    let mut response = next.run(request).await;
    let status = response.status();
    if !authorized && (status.is_success() || status == StatusCode::NOT_MODIFIED) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

async fn healthz() -> &'static str {
    "ok"
}

/// Longest `/readyz` waits for the database: a probe must get an answer
/// well within its own timeout, even while the pool has no free connection.
pub const READY_TIMEOUT: Duration = Duration::from_secs(1);

async fn readyz(State(state): State<AppState>) -> Response {
    let unready = |why: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            why.to_owned(),
        )
            .into_response()
    };
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        // An unreachable replica leaves the instance ready: its reads go to
        // the primary, and a 503 would have a load balancer drop every
        // instance that shares the replica.
        Ok(Ok(())) => {
            let mut body = String::from("ready");
            for (replica, reachable) in state.replicas.status() {
                body.push_str(&format!(
                    "\nread replica {replica}: {}",
                    if reachable {
                        "reachable"
                    } else {
                        "unreachable (anonymous reads go to the primary)"
                    }
                ));
            }
            (StatusCode::OK, body).into_response()
        }
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: database unreachable");
            unready("database unreachable")
        }
        Err(_) => {
            tracing::warn!(timeout = ?READY_TIMEOUT, "readiness check: database did not answer");
            unready(&format!(
                "database did not answer within {} s (unreachable, or no free connection in the pool)",
                READY_TIMEOUT.as_secs_f64()
            ))
        }
    }
}

/// The router: GraphQL, the playground, the SDL and health checks, with
/// request ids, tracing, CORS, and the anonymous rate limit on GraphQL
/// alone (a flood must not take health checks or the playground down).
///
/// Responses are compressed as `Accept-Encoding` asks (gzip, br or zstd;
/// identity without it). tower-http's default predicate applies: bodies
/// under 32 bytes (health checks, small errors), images and event streams
/// stay uncompressed.
pub fn app(state: AppState, config: &HttpConfig) -> Router {
    crate::metrics::install();
    // What the anonymous rate limit covers: GraphQL on both transports and
    // the reader pages, each a database read. Every `/graphql` answer, a
    // refusal by the limit or of the body included, gets its caching
    // headers in one place.
    let graphql = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .route_layer(middleware::map_response(graphql::finish));
    let limited = Router::new()
        .route("/graphql/ws", get(ws::upgrade))
        .route(
            "/learn/{subject}/questions/{slug}",
            get(preview::article_page),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    let router = Router::new()
        .merge(graphql)
        .merge(limited)
        .route("/", get(|| async { Redirect::temporary("/graphiql") }))
        .merge(graphiql::routes(config))
        .route("/schema.graphql", get(schema_sdl))
        .route(
            "/favicon.ico",
            get(favicon).route_layer(middleware::from_fn_with_state(FAVICON_CACHE, cache_for)),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    let request_id = HeaderName::from_static(REQUEST_ID);
    let mut router = router
        .layer(middleware::from_fn(record))
        .layer(DefaultBodyLimit::max(config.limits.body_bytes))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
        }))
        // Below the request id, so a panic's answer still carries it.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn_with_state(
            config.trusted_proxies.clone(),
            throttle::resolve_client,
        ));
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if !origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT])
                .expose_headers([HeaderName::from_static(REQUEST_ID)]),
        );
    }
    router.with_state(state)
}

/// The metrics router, for the separate `--metrics-bind` address only:
/// metrics name operations and show load, which is not the public's
/// business, and both token roles can edit, so a token is no guard.
pub fn metrics_app(db: DatabaseConnection) -> Router {
    crate::metrics::install();
    Router::new()
        .route("/metrics", get(prometheus))
        .with_state(db)
}

async fn prometheus(State(db): State<DatabaseConnection>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&db),
    )
        .into_response()
}
