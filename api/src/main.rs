//! The `quicktakes` binary: parse the command line, run the command.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = quicktakes::config::Cli::parse();
    // Logs go to stderr; RUST_LOG refines the default level.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn")),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        quicktakes::config::LogFormat::Json => logs.json().init(),
        quicktakes::config::LogFormat::Text => logs.init(),
    }
    log_panics();
    quicktakes::cli::run(cli).await
}

/// Logs a panic as one error line, under the span (and so the request id)
/// it happened in. The default hook prints to stderr, with a backtrace of
/// tens of kilobytes per request when `RUST_BACKTRACE` is set; the request
/// itself is answered with a masked `INTERNAL` error.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info.payload_as_str().unwrap_or("(no message)");
        tracing::error!(panic = %message, %location, "panicked");
    }));
}
