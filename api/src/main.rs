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
    quicktakes::cli::run(cli).await
}
