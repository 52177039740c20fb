//! `quicktakes serve`: migrate, load the seeds into an empty database, and
//! serve until Ctrl-C or SIGTERM, letting in-flight requests finish.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::ServeArgs;
use crate::db::{DbOptions, SqliteReads, connect, migrate_up, startup_lock};
use crate::error::{Error, Result};
use crate::graphql::build_api;
use crate::http::listener::{self, ConnectionLimits};
use crate::http::{AppState, app, metrics_app};
use crate::limits::Limits;
use crate::progress::Progress;
use crate::seed::import::{ImportOptions, article_count, import_corpus};
use crate::service::changes::ChangeSink;
use sea_orm::DatabaseConnection;

/// Runs the server over the main pool `options` describes (editors, writes, the
/// seed import) and a pool of its own for anonymous reads, with the smaller
/// `--db-read-statement-timeout-ms` budget.
pub async fn serve(options: &DbOptions, args: &ServeArgs, limits: &Limits) -> Result<()> {
    let bind = args.bind;
    let mut db = connect(options).await?;
    let metrics_on = args.metrics_bind.is_some();
    if metrics_on {
        crate::metrics::install();
        crate::metrics::count_statements(&mut db, "main");
    }
    let changes = ChangeSink::default();
    prepare(&db, &options.url, args, &changes).await?;
    // On PostgreSQL, changes committed through other instances (or by
    // `quicktakes import`) reach this server's subscribers too.
    let _listening = (db.get_database_backend() == sea_orm::DbBackend::Postgres).then(|| {
        crate::service::listener::spawn(changes.clone(), options.url.clone(), db.clone(), None)
    });
    // Change webhooks, delivered off the request path; every instance runs
    // a worker, and each delivery is made by one of them.
    let _webhooks = crate::service::webhook::worker::spawn(
        db.clone(),
        &changes,
        args.webhooks.delivery(),
        Default::default(),
    )?;
    let metrics = metrics_app(db.clone());
    let config = args.http_config(limits);
    let reads = DbOptions {
        statement_timeout: limits.read_statement_budget(),
        ..options.clone()
    };
    let mut read_pool = connect(&reads).await?;
    let mut sqlite_reads = SqliteReads::open(&reads)?;
    if metrics_on {
        crate::metrics::count_statements(&mut read_pool, "read");
        if let Some(sqlite) = &mut sqlite_reads {
            crate::metrics::count_sqlite_statements(sqlite, "read");
        }
    }
    let api = build_api(db.clone(), changes, &config.limits, config.preview.clone());
    if !args.read_database_urls.is_empty()
        && db.get_database_backend() != sea_orm::DbBackend::Postgres
    {
        return Err(Error::bad_input(
            "--read-database-url",
            "read replicas need a PostgreSQL --database-url; a SQLite file has none",
        ));
    }
    let replicas = crate::db::Replicas::connect(&args.read_database_urls, &reads).await?;
    replicas.spawn_checks();
    let state = AppState::new(api, db, &config)
        .with_replicas(replicas)
        .with_read_pool(read_pool)
        .with_sqlite_reads(sqlite_reads);
    let public = bind_to(bind).await?;
    let metrics = match args.metrics_bind {
        Some(addr) => Some((bind_to(addr).await?, metrics)),
        None => None,
    };
    eprintln!("quicktakes: GraphiQL at http://{bind}/graphiql");
    if let Some(addr) = args.metrics_bind {
        eprintln!("quicktakes: metrics at http://{addr}/metrics");
    }
    serve_all(
        (public, app(state, &config)),
        metrics,
        ConnectionLimits::from_limits(limits).uncapping(config.trusted_proxies.clone()),
    )
    .await;
    Ok(())
}

/// Migrates, and imports the seeds into a database without articles; on
/// PostgreSQL under the startup lock, so instances starting together do it
/// one after another (the second finds it done).
async fn prepare(
    db: &DatabaseConnection,
    url: &str,
    args: &ServeArgs,
    changes: &ChangeSink,
) -> Result<()> {
    let lock = startup_lock(url).await?;
    let prepared = async {
        migrate_up(db).await?;
        if article_count(db).await? == 0 && args.seeds.exists() {
            let options = ImportOptions {
                paths: vec![args.seeds.clone()],
                changes: changes.clone(),
                ..Default::default()
            };
            let report = import_corpus(db, &options, &Progress::for_stderr()).await?;
            for problem in &report.problems {
                eprintln!("{problem}");
            }
            eprintln!("seeds: {}", report.summary());
        }
        Ok(())
    }
    .await;
    lock.release().await?;
    prepared
}

async fn bind_to(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| Error::Io {
        path: addr.to_string(),
        source: e,
    })
}

/// Serves the public router and, when bound, the metrics router, until
/// Ctrl-C or SIGTERM stops both.
async fn serve_all(
    public: (TcpListener, Router),
    metrics: Option<(TcpListener, Router)>,
    limits: ConnectionLimits,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        stop_tx.send_replace(true);
    });
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        // An error means the sender is gone: stop all the same.
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let public = listener::serve(public.0, public.1, limits.clone(), stopped(stop_rx.clone()));
    match metrics {
        Some((metrics, router)) => {
            tokio::join!(
                public,
                listener::serve(metrics, router, limits, stopped(stop_rx))
            );
        }
        None => public.await,
    }
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
