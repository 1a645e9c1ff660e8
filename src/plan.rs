//! `fleetsim plan`: sweep a job's plan over a grid and answer the two risk questions for each
//! plan (docs/risk.md). Argument parsing and printing only; the work is
//! `fleet_scenario::plan`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use fleet_scenario::plan::{self, spec, Objective, PlanOptions, PlanReport};
use fleet_scenario::Scenario;

use crate::output::Output;
use crate::progress::{Progress, Unit};

/// Exit code when constraints were given and no plan meets them.
const EXIT_NO_PLAN: u8 = 1;

/// The report's format on stdout.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// For a terminal.
    Text,
    /// The JSON of docs/risk.md.
    Json,
}

/// The arguments of `fleetsim plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The scenario file (.toml or .json); its `[risk]` section gives defaults for every option.
    scenario: PathBuf,
    /// The job the questions are about (required when the scenario has several).
    #[arg(long)]
    job: Option<String>,
    /// The bad rollout: a field of a behaviour rule in TOML (`failure_probability = 0.3`);
    /// repeatable; replaces `[risk] bad`.
    #[arg(long, value_name = "FIELD = VALUE")]
    bad: Vec<String>,
    /// The devices the bad rollout fails on: a device query (`tags.firmware = '1.2'`).
    #[arg(long, value_name = "QUERY", requires = "bad")]
    bad_selector: Option<String>,
    /// IoT Central batch sizes to sweep: `1%,5%,100,none`.
    #[arg(long, value_name = "LIST")]
    batch: Option<String>,
    /// IoT Central cancellation thresholds to sweep: `2%,5,none`.
    #[arg(long, value_name = "LIST")]
    threshold: Option<String>,
    /// IoT Central threshold scopes to sweep: `batch,job`.
    #[arg(long, value_name = "LIST")]
    threshold_scope: Option<String>,
    /// AWS maximumPerMinute values to sweep.
    #[arg(long, value_name = "LIST")]
    rate: Option<String>,
    /// AWS exponential ramps to sweep: `BASE:FACTOR:SUCCEEDED` or `none`.
    #[arg(long, value_name = "LIST")]
    ramp: Option<String>,
    /// AWS abort thresholdPercentage values to sweep (every criterion).
    #[arg(long, value_name = "LIST")]
    abort: Option<String>,
    /// IoT Hub unit counts to sweep (the hub's throttles pace an IoT Hub job).
    #[arg(long, value_name = "LIST")]
    hub_units: Option<String>,
    /// hawkBit amountGroups values to sweep.
    #[arg(long, value_name = "LIST")]
    groups: Option<String>,
    /// hawkBit success thresholds to sweep (percent).
    #[arg(long, value_name = "LIST")]
    success: Option<String>,
    /// hawkBit error thresholds to sweep (percent).
    #[arg(long, value_name = "LIST")]
    error: Option<String>,
    /// The half-width the 95 % intervals of the probabilities must reach (`1pp`).
    #[arg(long, value_name = "PP")]
    precision: Option<String>,
    /// Replications of each plan in the first round (default 100).
    #[arg(long, value_name = "N")]
    min_replications: Option<u32>,
    /// The most replications of one plan (default 10000).
    #[arg(long, value_name = "N")]
    max_replications: Option<u32>,
    /// Run every plan to the most replications: no early stop (the naive sweep).
    #[arg(long)]
    no_prune: bool,
    /// Constraint: the largest acceptable probability of a false stop (`1%`).
    #[arg(long, value_name = "P")]
    max_false_stop: Option<String>,
    /// Constraint: the largest acceptable blast radius (p90 of the devices reached).
    #[arg(long, value_name = "DEVICES")]
    max_blast: Option<u32>,
    /// Constraint: the longest acceptable healthy duration, p90 (`4h`, `90m`).
    #[arg(long, value_name = "DURATION")]
    deadline: Option<String>,
    /// What the recommended plan minimises: blast, false-stop or duration.
    #[arg(long, value_name = "WHAT")]
    optimise: Option<String>,
    /// The first seed (default: the scenario's); replication i of every plan runs seed + i.
    #[arg(long)]
    seed: Option<u64>,
    /// Rescale the fleet to this many devices.
    #[arg(long)]
    devices: Option<u32>,
    /// Worker threads (default: every core).
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// The report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write an HTML page with the trade-off curves to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Run only part I of N equal parts of the grid's plans (I from 0, as Kubernetes'
    /// JOB_COMPLETION_INDEX) and write their outcomes to --partial-out; `fleetsim merge`
    /// combines the parts into the whole sweep's report (docs/risk.md).
    #[arg(long, value_name = "I/N", requires = "partial_out")]
    shard: Option<fleet_scenario::Shard>,
    /// Write the sweep's partial result to this file instead of a report (with --shard: its
    /// part; without: the whole, as part 0/1).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["html", "output"])]
    partial_out: Option<PathBuf>,
    /// Write the report (text or JSON) to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl PlanArgs {
    /// The knobs given on the command line, in grid order.
    fn knobs(&self) -> Vec<(&'static str, &Option<String>)> {
        vec![
            ("batch", &self.batch),
            ("threshold", &self.threshold),
            ("threshold_scope", &self.threshold_scope),
            ("rate", &self.rate),
            ("ramp", &self.ramp),
            ("abort", &self.abort),
            ("hub_units", &self.hub_units),
            ("groups", &self.groups),
            ("success", &self.success),
            ("error", &self.error),
        ]
    }

    /// The `[risk]` section's options with the command line's over them.
    fn options(&self, scenario: &Scenario) -> anyhow::Result<PlanOptions> {
        let risk = scenario.file.risk.clone().unwrap_or_default();
        let mut o = PlanOptions::from_spec(&risk)?;
        o.job = self.job.clone().or(o.job);
        if !self.bad.is_empty() {
            o.bad = Some(spec::bad_rule(&self.bad, self.bad_selector.as_deref())?);
        }
        for (knob, list) in self.knobs() {
            let Some(list) = list else { continue };
            let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            match o.knobs.iter_mut().find(|(k, _)| k == knob) {
                Some(entry) => entry.1 = values,
                None => o.knobs.push((knob.to_string(), values)),
            }
        }
        let order = |k: &str| self.knobs().iter().position(|(n, _)| *n == k);
        o.knobs.sort_by_key(|(k, _)| order(k));
        if let Some(p) = &self.precision {
            o.rule.precision = spec::parse_probability("--precision", p)?;
        }
        o.rule.min_replications = self.min_replications.unwrap_or(o.rule.min_replications);
        o.rule.max_replications = self.max_replications.unwrap_or(o.rule.max_replications);
        if self.no_prune {
            o.rule.prune = false;
            o.rule.min_replications = o.rule.max_replications;
        }
        if let Some(p) = &self.max_false_stop {
            o.constraints.max_false_stop = Some(spec::parse_probability("--max-false-stop", p)?);
        }
        o.constraints.max_blast = self.max_blast.or(o.constraints.max_blast);
        if let Some(d) = &self.deadline {
            o.constraints.deadline_ms = Some(spec::parse_duration_ms("--deadline", d)?);
        }
        if let Some(text) = &self.optimise {
            o.constraints.optimise = Objective::parse(text).with_context(|| {
                format!("--optimise {text:?}: give blast, false-stop or duration")
            })?;
        }
        o.seed = self.seed;
        o.threads = match self.threads {
            Some(t) => t as usize,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        Ok(o)
    }
}

/// Runs `fleetsim plan`; `Err` is bad input (exit 2).
pub fn execute(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(devices) = args.devices {
        scenario = scenario.with_devices(devices)?;
    }
    let options = args.options(&scenario)?;
    for w in fleet_scenario::warnings::check(&scenario) {
        crate::ui::warn(w);
    }
    scenario.check_memory(None, options.threads as u32)?;
    if let Some(path) = &args.partial_out {
        let shard = args.shard.unwrap_or(fleet_scenario::Shard::WHOLE);
        return write_part(&scenario, &options, shard, path);
    }
    let mut progress = Progress::new(format!("{} plans", scenario.name()), Unit::Replications);
    let report = plan::run_plan(&scenario, &options, &mut |done, total| {
        progress.update(done, total)
    });
    progress.finish();
    let output = Output::new(args.output.as_deref());
    print_report(
        &report?,
        matches!(args.format, Format::Json),
        &output,
        args.html.as_deref(),
    )
}

/// Runs part `shard` of the sweep and writes it to `path`.
fn write_part(
    scenario: &Scenario,
    options: &PlanOptions,
    shard: fleet_scenario::Shard,
    path: &Path,
) -> anyhow::Result<ExitCode> {
    let mut progress = Progress::new(
        format!("{} plans part {shard}", scenario.name()),
        Unit::Replications,
    );
    let part = plan::run_plan_shard(scenario, options, shard, &mut |done, total| {
        progress.update(done, total)
    });
    progress.finish();
    let part = part?;
    std::fs::write(path, part.to_json())
        .with_context(|| format!("cannot write the partial result to {}", path.display()))?;
    let plans = part.plan_indices();
    let which = match (plans.first(), plans.last()) {
        (Some(a), Some(b)) => format!("plans {a} to {b}"),
        _ => "no plans: more parts than plans".to_string(),
    };
    eprintln!(
        "part {shard} of the sweep: {which} ({} simulations) written to {}; combine the parts \
         with `fleetsim merge`",
        part.simulations(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints a sweep's report (JSON or text) and writes its HTML page; exit 1 when constraints
/// were given and no plan meets them.
pub(crate) fn print_report(
    report: &PlanReport,
    json: bool,
    output: &Output,
    html: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    match json {
        false => output.text(&plan::report::render(report))?,
        true => output
            .json(&serde_json::to_string_pretty(report).context("cannot serialize the report")?)?,
    }
    if let Some(path) = html {
        std::fs::write(path, plan::html::render(report))
            .with_context(|| format!("cannot write the HTML page to {}", path.display()))?;
    }
    let c = &report.constraints;
    let constrained =
        c.max_false_stop.is_some() || c.max_blast.is_some() || c.deadline_ms.is_some();
    if constrained && report.recommended.is_none() {
        eprintln!("no plan meets the constraints");
        return Ok(ExitCode::from(EXIT_NO_PLAN));
    }
    Ok(ExitCode::SUCCESS)
}
