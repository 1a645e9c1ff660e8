//! `fleetsim calibrate`: the scenario's behaviour fitted to per-device results of past jobs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use fleet_calibrate::{render, Attribute, CalibrateOptions, LatencyChoice};
use fleet_scenario::Scenario;

/// The arguments of `fleetsim calibrate`.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Job-result exports: IoT Hub `devices.jobs` queries and `/jobs/v2/{id}`, IoT Central
    /// `/api/jobs/{id}/devices` pages and `/api/jobs/{id}`, AWS `list-job-executions-for-job`
    /// and `describe-job-execution` output (JSON; docs/calibration.md).
    #[arg(required = true, value_name = "RESULTS")]
    results: Vec<PathBuf>,
    /// The scenario whose fleet the results' devices belong to (it segments them).
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// Fit each value of this device attribute apart: `template`, `tags.NAME`, or a document
    /// path (`properties.reported.fwVersion`). Repeatable: segments are their combinations.
    #[arg(long, value_name = "ATTRIBUTE")]
    by: Vec<String>,
    /// Write the output to this file instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// `text`: the scenario's `[behaviour]` section, commented, ready to paste; `json`: the
    /// numbers.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Write each probability as its Beta posterior (`{ beta = [a, b] }`): every replication
    /// then draws its rates from it.
    #[arg(long)]
    posterior: bool,
    /// The latency distribution to write (`auto`: chosen by a goodness-of-fit test).
    #[arg(long, value_enum, default_value_t = Latency::Auto)]
    latency: Latency,
    /// The level of every interval.
    #[arg(long, default_value_t = 0.95, value_name = "P")]
    level: f64,
    /// Parametric-bootstrap draws of the goodness-of-fit test (0: no p-values).
    #[arg(long, default_value_t = 199, value_name = "B")]
    gof_draws: u32,
    /// The seed that generates the scenario's fleet (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Latency {
    Auto,
    Lognormal,
    Exponential,
    Uniform,
    Empirical,
}

/// Runs `fleetsim calibrate`; `Err` is bad input (exit 2).
pub fn execute(args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::load(&args.scenario)?;
    let fleet = scenario.fleet(args.seed)?;
    let by = args
        .by
        .iter()
        .map(|b| Attribute::parse(b))
        .collect::<Result<Vec<_>, _>>()?;
    let options = CalibrateOptions {
        by,
        level: args.level,
        latency: match args.latency {
            Latency::Auto => LatencyChoice::Auto,
            Latency::Lognormal => LatencyChoice::Lognormal,
            Latency::Exponential => LatencyChoice::Exponential,
            Latency::Uniform => LatencyChoice::Uniform,
            Latency::Empirical => LatencyChoice::Empirical,
        },
        gof_draws: args.gof_draws,
        ..CalibrateOptions::default()
    };
    let history = fleet_calibrate::read_files(&args.results)?;
    let calibration = fleet_calibrate::calibrate(&history, &fleet, &options)?;
    if calibration.not_in_fleet.count > 0 {
        eprintln!(
            "warning: {} results name devices that the fleet of {} lacks (counted for all devices, \
             in no segment), e.g. {}",
            calibration.not_in_fleet.count,
            args.scenario.display(),
            calibration.not_in_fleet.examples.join("; ")
        );
    }
    let text = match args.format {
        OutputFormat::Text => render::behaviour_toml(&calibration, args.posterior),
        OutputFormat::Json => render::json(&calibration) + "\n",
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
