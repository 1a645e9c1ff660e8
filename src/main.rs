//! `fleetsim`: dry-run bulk IoT jobs against a simulated fleet in deterministic virtual time.
//!
//! The binary only parses arguments, draws progress and prints; every rule lives in the
//! library crates under `crates/`.

mod allocator;
mod backtest;
mod calibrate;
mod check;
mod cli;
mod docs;
mod healthcheck;
mod import;
mod input;
mod logs;
mod output;
mod plan;
mod progress;
mod ui;

/// `fleetsim --version`: the crate's version and, when built from a git checkout, the commit
/// (`0.1.0 (3f2a9c1)`, `+dirty` when the tree had changes; see `build.rs`).
pub(crate) const VERSION: &str = env!("FLEETSIM_VERSION");

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    allocator::tune();
    let args = cli::Args::parse();
    match cli::execute(args) {
        Ok(code) => code,
        Err(err) => {
            ui::error(format!("{err:#}"));
            ExitCode::from(cli::EXIT_BAD_INPUT)
        }
    }
}
