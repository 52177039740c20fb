//! `generate-corpus`: writes a synthetic seed corpus for tests and benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Writes COUNT articles in the exact shape of the real seed into DIR.
#[derive(Debug, Parser)]
#[command(name = "generate-corpus")]
struct Args {
    /// Folder to write into (created if missing).
    dir: PathBuf,
    /// How many articles.
    #[arg(long, env = "QUICKTAKES_CORPUS_COUNT", default_value_t = 10_000)]
    count: u64,
    /// Random seed; the same seed gives the same corpus.
    #[arg(long, env = "QUICKTAKES_CORPUS_SEED", default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match quicktakes_tests::generate::write_corpus(&args.dir, args.count, args.seed) {
        Ok(paths) => {
            println!("{} articles written to {}", paths.len(), args.dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {e}", args.dir.display());
            ExitCode::FAILURE
        }
    }
}
