//! `fleetsim check`: search a scenario's space of fleets, behaviours and commands for a case
//! that fails an expectation, shrink it and print it as a scenario file (docs/check.md).
//! Argument parsing and printing only; the work is `fleet_scenario::check`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use fleet_scenario::check::{self, CheckOptions, Phase, Template};

use crate::progress::{Progress, Unit};

/// Exit code when an expectation failed in some case.
const EXIT_COUNTEREXAMPLE: u8 = 1;

/// The report's format on stdout.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// For a terminal.
    Text,
    /// The JSON of docs/check.md.
    Json,
}

/// The arguments of `fleetsim check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The scenario file (.toml or .json), with ranges, choices and optional parts in place of
    /// values (docs/scenario-format.md).
    scenario: PathBuf,
    /// The most cases to draw and run.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    cases: u64,
    /// Stop drawing cases after this much wall-clock time (`90s`, `5m`, `1h`): the number of
    /// cases then depends on the machine; the report gives it, for `--cases` to repeat.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    time: Option<Duration>,
    /// The seed of the draws (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// The most simulations shrinking one counter-example may run.
    #[arg(long, value_name = "N", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    shrink_budget: u64,
    /// Worker threads (default: every core); the report does not depend on it.
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Stop a case's simulation (exit 2) past this many events.
    #[arg(long, value_name = "N", default_value_t = fleet_scenario::Budget::default().max_events)]
    max_events: u64,
    /// The report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write each shrunk counter-example as a scenario file into this directory
    /// (`NAME.counterexample-K.toml`, K the expectation's number).
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
}

/// `90s`, `5m`, `1h`, `250ms` or a number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 90s, 5m or 1h"))?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m or h)")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("{text:?}: a duration above 0"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Runs `fleetsim check`; `Err` is bad input (exit 2).
pub fn execute(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let template = Template::load(&args.scenario)?;
    let threads = match args.threads {
        Some(t) => t as usize,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let options = CheckOptions {
        seed: args.seed,
        cases: args.cases,
        time: args.time,
        threads,
        shrink_budget: args.shrink_budget,
    };
    let budget = fleet_scenario::Budget {
        max_events: args.max_events,
        max_wall: None,
    };
    let name = args.scenario.display().to_string();
    let mut bar = Progress::new(format!("{name}: cases"), Unit::Cases);
    let mut phase = Phase::Search;
    let report = check::run_check(&template, &options, budget, &mut |p, done, total| {
        if p != phase {
            bar.finish();
            if let Phase::Shrink(k) = p {
                bar = Progress::new(
                    format!("{name}: shrinking expectation {}", k + 1),
                    Unit::ShrinkSteps,
                );
            }
            phase = p;
        }
        bar.update(done, total);
    });
    bar.finish();
    let report = report?;
    match args.format {
        Format::Text => print!("{}", check::render_text(&report)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).context("cannot serialize the report")?
        ),
    }
    if let Some(dir) = &args.save {
        save(dir, &args.scenario, &report)?;
    }
    Ok(match report.counterexamples.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(EXIT_COUNTEREXAMPLE),
    })
}

/// Writes each counter-example's scenario into `dir`.
fn save(
    dir: &std::path::Path,
    scenario: &std::path::Path,
    report: &check::CheckReport,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let ext = scenario
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("toml");
    for c in &report.counterexamples {
        let path = dir.join(format!(
            "{}.counterexample-{}.{ext}",
            report.name,
            c.expectation + 1
        ));
        std::fs::write(&path, &c.scenario)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
