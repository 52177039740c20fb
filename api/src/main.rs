//! The `quicktakes` binary: parse the command line, run the command.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = quicktakes::config::Cli::parse();
    quicktakes::cli::run(cli).await
}
