//! `quicktakes serve`: migrate, load the seeds into an empty database, and
//! serve until Ctrl-C or SIGTERM, letting in-flight requests finish.

use std::net::SocketAddr;

use crate::config::ServeArgs;
use crate::db::{DbOptions, budget_ms, connect, migrate_up};
use crate::error::{Error, Result};
use crate::graphql::build_schema;
use crate::http::{AppState, app};
use crate::progress::Progress;
use crate::seed::import::{ImportOptions, article_count, import_corpus};

/// Runs the server over the main pool `options` describes (editors, writes, the
/// seed import) and a pool of its own for anonymous reads, with the smaller
/// `--db-read-statement-timeout-ms` budget.
pub async fn serve(options: &DbOptions, args: &ServeArgs) -> Result<()> {
    let bind = args.bind;
    let db = connect(options).await?;
    migrate_up(&db).await?;
    if article_count(&db).await? == 0 && args.seeds.exists() {
        let options = ImportOptions {
            paths: vec![args.seeds.clone()],
            ..Default::default()
        };
        let report = import_corpus(&db, &options, &Progress::for_stderr()).await?;
        for problem in &report.problems {
            eprintln!("{problem}");
        }
        eprintln!("seeds: {}", report.summary());
    }
    let config = args.http_config();
    let reads = DbOptions {
        statement_timeout: budget_ms(args.db_read_statement_timeout_ms),
        ..options.clone()
    };
    let state = AppState::new(build_schema(db.clone(), &config.limits), db, &config)
        .with_read_pool(connect(&reads).await?);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Error::Io {
            path: bind.to_string(),
            source: e,
        })?;
    eprintln!("quicktakes: GraphiQL at http://{bind}/graphiql");
    let service = app(state, &config).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::Io {
            path: bind.to_string(),
            source: e,
        })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    eprintln!("quicktakes: shutting down, finishing requests in flight");
}
