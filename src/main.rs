//! `fleetsim`: dry-run bulk IoT jobs against a simulated fleet in deterministic virtual time.
//!
//! The binary only parses arguments, draws progress and prints; every rule lives in the
//! library crates under `crates/`.

mod cli;
mod import;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::execute(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(cli::EXIT_BAD_INPUT)
        }
    }
}
