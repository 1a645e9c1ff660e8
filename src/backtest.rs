//! `fleetsim backtest`: replay a job that ran over many seeds and rank its real outcome in the
//! predicted distribution.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use fleet_calibrate::{backtest_render, BacktestOptions};
use fleet_scenario::Scenario;

/// The arguments of `fleetsim backtest`.
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// The scenario that holds the job, the fleet and the (calibrated) behaviour.
    scenario: PathBuf,
    /// The per-device results of the job that ran (the formats `fleetsim calibrate` reads),
    /// and its job file for the duration.
    #[arg(long = "job", required = true, num_args = 1.., value_name = "RESULTS")]
    results: Vec<PathBuf>,
    /// The scenario's job that ran (default: its only job).
    #[arg(long, value_name = "ID")]
    job_id: Option<String>,
    /// Replications (seeds seed, seed+1, ...).
    #[arg(long, default_value_t = 200, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    replications: u32,
    /// The first seed (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (default: every core).
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// The report on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Also write an HTML page with the real run drawn over the predicted band.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Exit 1 when more than N measures lie outside their 5-95 % band (for CI: the model no
    /// longer explains the fleet). About one in ten does by chance when the model is right.
    #[arg(long, value_name = "N")]
    max_outside: Option<usize>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

/// Runs `fleetsim backtest`; `Err` is bad input (exit 2).
pub fn execute(args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)?;
    let history = fleet_calibrate::read_files(&args.results)?;
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |t| t as usize,
    );
    let options = BacktestOptions {
        replications: args.replications,
        seed: args.seed,
        threads,
        job: args.job_id,
    };
    let report = fleet_calibrate::backtest(&scenario, &history, &options)?;
    match args.format {
        OutputFormat::Text => print!("{}", backtest_render::text(&report)),
        OutputFormat::Json => println!("{}", backtest_render::json(&report)),
    }
    if let Some(path) = &args.html {
        std::fs::write(path, backtest_render::html(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (outside, compared) = report.outside();
    if let Some(max) = args.max_outside.filter(|max| outside > *max) {
        eprintln!(
            "{outside} of {compared} measures outside their 5-95 % band, more than \
             --max-outside {max}: the model does not explain this run"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
