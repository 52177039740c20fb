//! The HTTP surface: `fn app(state) -> Router`, so tests drive the same
//! router the server runs.

pub mod graphql;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tower_http::services::ServeDir;

use crate::graphql::QuickSchema;

/// Largest request body accepted (a bigger one gets 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The GraphiQL page, with placeholders for its assets and endpoints.
const GRAPHIQL_TEMPLATE: &str = include_str!("graphiql.html");
/// `NAME URL` lines: where each GraphiQL asset lives on the CDN.
const GRAPHIQL_CDN: &str = include_str!("graphiql-cdn.txt");
/// Where `--graphiql-assets DIR` is served.
const LOCAL_ASSETS_PATH: &str = "/graphiql/assets";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The GraphQL schema.
    pub schema: QuickSchema,
    /// The database.
    pub db: DatabaseConnection,
    /// The rendered GraphiQL page.
    graphiql: Arc<String>,
    /// The SDL.
    sdl: Arc<String>,
}

impl AppState {
    /// State for `app`; `graphiql_assets` serves GraphiQL's files from a
    /// local folder instead of the CDN.
    pub fn new(
        schema: QuickSchema,
        db: DatabaseConnection,
        graphiql_assets: Option<&PathBuf>,
    ) -> Self {
        let sdl = Arc::new(schema.sdl());
        Self {
            schema,
            db,
            graphiql: Arc::new(graphiql_page(graphiql_assets.is_some())),
            sdl,
        }
    }
}

/// The GraphiQL page with its asset urls filled in.
fn graphiql_page(local: bool) -> String {
    let asset = |name: &str| {
        if local {
            format!("{LOCAL_ASSETS_PATH}/{name}")
        } else {
            GRAPHIQL_CDN
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
                .unwrap_or_default()
        }
    };
    GRAPHIQL_TEMPLATE
        .replace("{{REACT_JS}}", &asset("react.production.min.js"))
        .replace("{{REACT_DOM_JS}}", &asset("react-dom.production.min.js"))
        .replace("{{GRAPHIQL_JS}}", &asset("graphiql.min.js"))
        .replace("{{GRAPHIQL_CSS}}", &asset("graphiql.min.css"))
        .replace("{{ENDPOINT}}", "/graphql")
        .replace("{{WS_ENDPOINT}}", "/graphql/ws")
}

async fn graphiql(State(state): State<AppState>) -> Html<String> {
    Html(state.graphiql.as_ref().clone())
}

async fn schema_sdl(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        state.sdl.as_ref().clone(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// The router: GraphQL, the playground, the SDL and the health checks.
pub fn app(state: AppState, graphiql_assets: Option<&PathBuf>) -> Router {
    let mut router = Router::new()
        .route("/", get(|| async { Redirect::temporary("/graphiql") }))
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route_service(
            "/graphql/ws",
            async_graphql_axum::GraphQLSubscription::new(state.schema.clone()),
        )
        .route("/graphiql", get(graphiql))
        .route("/schema.graphql", get(schema_sdl))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if let Some(dir) = graphiql_assets {
        router = router.nest_service(LOCAL_ASSETS_PATH, ServeDir::new(dir));
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
