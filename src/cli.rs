//! Command-line arguments and the commands they run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use fleet_scenario::{report, ReplicationOptions, RunOptions, Scenario};

use crate::input::InputFormat;
use crate::output::Output;
use crate::progress::{Progress, Unit};
use crate::ui;

/// Exit code when an expectation of the scenario does not hold.
pub const EXIT_EXPECTATION_FAILED: u8 = 1;
/// Exit code for bad input: a malformed scenario, an unknown field, an impossible value.
pub const EXIT_BAD_INPUT: u8 = 2;

/// fleetsim: see what a bulk IoT job will do before running it on real devices.
#[derive(Debug, Parser)]
#[command(name = "fleetsim", version = crate::VERSION, about, long_about = None)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// Print only errors and the report: no progress bar, no warnings, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Say more on stderr (what was loaded, how long it took; `serve`: debug logs, `-vv`
    /// trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Colour the output: `auto` (on a terminal, unless NO_COLOR is set), `always`, `never`.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ui::ColorChoice::Auto)]
    color: ui::ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a scenario and check its expectations (exit 0: all hold, 1: one failed, 2: bad input).
    Run(RunArgs),
    /// Parse and check a scenario without running it.
    Validate {
        /// The scenario file (.toml or .json; `-`: standard input).
        scenario: PathBuf,
        /// The scenario's format, over the file's extension (standard input: told from the
        /// text when not given).
        #[arg(long, value_enum, value_name = "FORMAT")]
        input_format: Option<InputFormat>,
        /// `--deny warnings`: a warning is an error (exit 2), for CI.
        #[arg(long, value_enum, value_name = "WHAT")]
        deny: Vec<Deny>,
        /// Refuse a fleet that would need more memory than this (`2G`, `500M`; default: the
        /// memory available).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        memory_limit: Option<u64>,
    },
    /// Count the devices of a scenario's fleet that a device query (or a group) selects, and
    /// list the first ones: check a group before running a job.
    Query(QueryArgs),
    /// Serve the IoT Central and IoT Hub jobs REST APIs over the simulated fleet (docs/server.md).
    Serve(ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `fleetsim man > fleetsim.1`.
    Man,
    /// Probe a running `fleetsim serve` (exit 0 when `/healthz` answers 200): the container
    /// image's health check, where no curl is installed.
    Healthcheck(crate::healthcheck::HealthcheckArgs),
    /// Combine the partial results of a sharded replicated run (`run --replications K --shard
    /// I/N --partial-out FILE`) or plan sweep (`plan --shard I/N --partial-out FILE`) into the
    /// report one machine would have printed (exit 0: all expectations hold or a plan meets the
    /// constraints, 1: not, 2: bad input, or parts that do not make one whole).
    Merge(MergeArgs),
    /// Sweep a job's plan over a grid: how often each plan stops a healthy rollout, how far a
    /// bad one spreads, the Pareto set and a recommendation (docs/risk.md).
    Plan(Box<crate::plan::PlanArgs>),
    /// Search a scenario's ranges of fleets, behaviours and commands for a case that fails an
    /// expectation, shrink it and print it as a scenario file (exit 0: every expectation held
    /// in every case, 1: a counter-example, 2: bad input; docs/check.md).
    Check(Box<crate::check::CheckArgs>),
    /// Fit the scenario's behaviour (rates and latency per segment, with intervals) to the
    /// per-device results of jobs that ran (docs/calibration.md).
    Calibrate(crate::calibrate::CalibrateArgs),
    /// Replay a job that ran over many seeds and show where its real outcome falls in the
    /// predicted distribution (docs/calibration.md).
    Backtest(crate::backtest::BacktestArgs),
    /// Read platform exports (IoT Hub, IoT Central, AWS IoT, hawkBit) into a fleet file that a
    /// scenario's `[fleet] file` loads (docs/import.md).
    Import(crate::import::ImportArgs),
}

#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// The partial result files, one per part, in any order.
    #[arg(required = true, value_name = "PARTS")]
    parts: Vec<PathBuf>,
    /// The report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write the HTML summary to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The address to listen on (without keys or tokens: a loopback address only).
    #[arg(long, default_value = "127.0.0.1:8443")]
    bind: std::net::SocketAddr,
    /// The scenario whose fleet, groups, behaviour and hub model to serve (default: a demo fleet).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// The directory of the SQLite database; jobs survive restarts (default: in memory).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Virtual time runs this many times faster than the wall clock.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    time_scale: f64,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Verify IoT Hub SharedAccessSignature tokens signed with this key (NAME=BASE64KEY;
    /// repeatable; or FLEETSIM_HUB_KEY, several separated by spaces).
    #[arg(
        long,
        value_name = "NAME=KEY",
        env = "FLEETSIM_HUB_KEY",
        value_delimiter = ' ',
        hide_env_values = true
    )]
    hub_key: Vec<String>,
    /// Accept this IoT Central API token (repeatable; or FLEETSIM_CENTRAL_TOKEN, one token).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "FLEETSIM_CENTRAL_TOKEN",
        hide_env_values = true
    )]
    central_token: Vec<String>,
    /// Time out a device that has not answered this many (virtual) seconds after its dispatch.
    #[arg(long, value_name = "SECONDS")]
    device_timeout_s: Option<f64>,
    /// Close a connection whose request header has not arrived whole this many seconds after
    /// the server began waiting for it (also the longest idle time between kept-alive requests).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    header_timeout_s: f64,
    /// Close a connection on which nothing is read or written for this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    idle_timeout_s: f64,
    /// The device endpoint, MQTT over TLS (docs/devices.md): an address, or `off`. Default with
    /// --tls-cert: the --bind address's IP, port 8883 (IoT Hub's).
    #[arg(long, value_name = "ADDR|off")]
    mqtt_bind: Option<String>,
    /// The fleet key (base64) every device key is derived from, as DPS derives group-enrollment
    /// keys (default: the published development key, devices on loopback only).
    #[arg(long, value_name = "BASE64KEY")]
    device_key: Option<String>,
    /// The most device connections open at once.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_device_connections: usize,
    /// Print device ID's connection string (its key derived from --device-key) and exit.
    #[arg(long, value_name = "ID")]
    print_device_connection_string: Option<String>,
    /// The log on stderr: one line per request and per job event (docs/server.md).
    #[arg(long, value_enum, default_value_t = crate::logs::LogFormat::Text)]
    log_format: crate::logs::LogFormat,
    /// What to log: a level (`warn`, `info`, `debug`) or `RUST_LOG` directives
    /// (`fleetsim::request=off,info`); default: `RUST_LOG`, else `info`.
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
}

#[derive(Debug, clap::Args)]
struct QueryArgs {
    /// The scenario file (.toml or .json).
    scenario: PathBuf,
    /// The query: SELECT [TOP n] * FROM devices [WHERE ...], or a WHERE condition alone.
    #[arg(required_unless_present = "group")]
    query: Option<String>,
    /// Select the devices of this group of the scenario instead of a query.
    #[arg(long, conflicts_with = "query")]
    group: Option<String>,
    /// How many matching device ids to print.
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// The seed that generates the fleet (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Rescale the fleet to this many devices.
    #[arg(long)]
    devices: Option<u32>,
    /// Refuse a fleet that would need more memory than this (`2G`, `500M`; default: the
    /// memory available).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The scenario file (.toml or .json; `-`: standard input).
    scenario: PathBuf,
    /// The scenario's format, over the file's extension (standard input: told from the text
    /// when not given).
    #[arg(long, value_enum, value_name = "FORMAT")]
    input_format: Option<InputFormat>,
    /// Write the report (text or JSON) to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The seed of every random draw (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Rescale the fleet to this many devices.
    #[arg(long)]
    devices: Option<u32>,
    /// The report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write an HTML report with a chart to this file.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Also write per-device results (one row per device per job) as CSV to this file.
    #[arg(long, value_name = "FILE")]
    devices_csv: Option<PathBuf>,
    /// Run K seeded replications (seeds seed, seed+1, ...) and report the outcome mix,
    /// percentiles and probabilities instead of one run (with --html: an HTML summary).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "devices_csv")]
    replications: Option<u32>,
    /// Run only part I of N equal parts of the replications (I from 0, as Kubernetes'
    /// JOB_COMPLETION_INDEX) and write them to --partial-out; `fleetsim merge` combines the
    /// parts (docs/sharding.md).
    #[arg(long, value_name = "I/N", requires = "partial_out")]
    shard: Option<fleet_scenario::Shard>,
    /// Write the replications' partial result to this file instead of a report (with
    /// --shard: its part; without: the whole, as part 0/1).
    #[arg(
        long,
        value_name = "FILE",
        requires = "replications",
        conflicts_with = "html"
    )]
    partial_out: Option<PathBuf>,
    /// `--deny warnings`: a warning about the scenario or its result is an error (exit 2), for
    /// CI.
    #[arg(long, value_enum, value_name = "WHAT")]
    deny: Vec<Deny>,
    /// Stop a simulation (each replication) that has not ended after this many events
    /// (exit 2).
    #[arg(long, value_name = "N", default_value_t = fleet_scenario::Budget::default().max_events)]
    max_events: u64,
    /// Stop a simulation (each replication) that has not ended after this many seconds of
    /// wall-clock time (exit 2; default: no limit).
    #[arg(long, value_name = "SECONDS")]
    max_wall_s: Option<f64>,
    /// Refuse a run that would need more memory than this (`2G`, `500M`; default: the memory
    /// available).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<u64>,
    /// Worker threads for replications (default: every core).
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u32).range(1..), requires = "replications")]
    threads: Option<u32>,
}

/// What `--deny` makes an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Deny {
    /// Every warning.
    Warnings,
}

/// Prints warnings on stderr as `warning: FILE:LINE: FIELD: message`; with `--deny warnings`,
/// says that they are errors and returns `true`.
fn report_warnings(warnings: &[fleet_scenario::Warning], deny: &[Deny]) -> bool {
    let denied = !warnings.is_empty() && deny.contains(&Deny::Warnings);
    for w in warnings {
        // Denied warnings are errors: printed even with --quiet.
        match denied {
            true => eprintln!(
                "{} {w}",
                ui::paint(ui::Stream::Stderr, ui::WARN, "warning:")
            ),
            false => ui::warn(w),
        }
    }
    if denied {
        ui::error(format!(
            "{} warning{} denied (--deny warnings)",
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        ));
    }
    denied
}

/// A size in bytes: a number with an optional unit `K`, `M`, `G` or `T` (powers of 1024, an
/// optional `B` or `iB` after it): `2G`, `500M`, `1.5GiB`, `1048576`.
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let digits = upper.trim_end_matches("IB").trim_end_matches('B');
    let (number, shift) = match digits.chars().last() {
        Some('K') => (&digits[..digits.len() - 1], 10),
        Some('M') => (&digits[..digits.len() - 1], 20),
        Some('G') => (&digits[..digits.len() - 1], 30),
        Some('T') => (&digits[..digits.len() - 1], 40),
        _ => (digits, 0),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok((v * (1u64 << shift) as f64).min(u64::MAX as f64) as u64),
        _ => Err(format!(
            "{text:?} is not a size: give a number of bytes with an optional unit K, M, G or T (2G, 500M)"
        )),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs the command; `Err` is bad input (exit 2).
pub fn execute(args: Args) -> anyhow::Result<ExitCode> {
    ui::init(args.quiet, args.verbose, args.color);
    match args.command {
        Command::Run(run) => execute_run(run),
        Command::Validate {
            scenario,
            input_format,
            deny,
            memory_limit,
        } => {
            let loaded = crate::input::load(&scenario, input_format)?;
            // Every check a run makes, through the same code (the fleet and the simulation
            // are built, not run).
            loaded.check_memory(memory_limit, 1)?;
            loaded.check(None)?;
            if report_warnings(&fleet_scenario::warnings::check(&loaded), &deny) {
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
            let scheduled = match loaded.scheduled.len() {
                0 => String::new(),
                n => format!(", {n} scheduled"),
            };
            println!(
                "{}: ok ({} devices, {} jobs{scheduled}, {} expectations)",
                scenario.display(),
                loaded.file.fleet.devices,
                loaded.jobs.len(),
                loaded.file.expect.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Query(query) => execute_query(query),
        Command::Serve(serve) => execute_serve(serve),
        Command::Completions { shell } => crate::docs::completions(shell),
        Command::Man => crate::docs::man(),
        Command::Healthcheck(args) => crate::healthcheck::execute(args),
        Command::Merge(merge) => execute_merge(merge),
        Command::Plan(plan) => crate::plan::execute(*plan),
        Command::Check(args) => crate::check::execute(*args),
        Command::Calibrate(args) => crate::calibrate::execute(args),
        Command::Backtest(args) => crate::backtest::execute(args),
        Command::Import(import) => crate::import::execute(import),
    }
}

fn execute_merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let parts = args
        .parts
        .iter()
        .map(|p| fleet_scenario::PartialFile::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let output = Output::new(args.output.as_deref());
    match fleet_scenario::merge_files(parts)? {
        fleet_scenario::Merged::Replications(report) => {
            print_replications(&report, args.format, &output, args.html.as_deref())
        }
        fleet_scenario::Merged::Plans(report) => crate::plan::print_report(
            &report,
            matches!(args.format, Format::Json),
            &output,
            args.html.as_deref(),
        ),
    }
}

fn execute_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if let Some(id) = &args.print_device_connection_string {
        return print_connection_string(&args, id);
    }
    let level = match (args.log_level.as_deref(), ui::verbosity(), ui::quiet()) {
        (Some(level), _, _) => Some(level),
        (None, _, true) => Some("warn"),
        (None, 0, false) => None,
        (None, 1, false) => Some("debug"),
        (None, _, false) => Some("trace"),
    };
    crate::logs::init(args.log_format, level)?;
    let mut config = fleet_server::Config::builder()
        .bind(args.bind)
        .time_scale(args.time_scale);
    config = devices_config(config, &args)?;
    if let Some(scenario) = args.scenario {
        config = config.scenario(scenario);
    }
    if let Some(data) = args.data {
        config = config.data_dir(data);
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config = config.tls(cert, key);
    }
    for entry in &args.hub_key {
        let (name, key) = entry
            .split_once('=')
            .with_context(|| format!("--hub-key {entry:?}: expected NAME=BASE64KEY"))?;
        config = config.hub_key(name, key);
    }
    for token in args.central_token {
        config = config.central_token(token);
    }
    for (flag, s) in [
        ("--header-timeout-s", args.header_timeout_s),
        ("--idle-timeout-s", args.idle_timeout_s),
    ] {
        anyhow::ensure!(
            s.is_finite() && s > 0.0 && s <= 86_400.0,
            "{flag} {s}: give a number of seconds above 0, at most 86400"
        );
    }
    config = config
        .header_timeout(std::time::Duration::from_secs_f64(args.header_timeout_s))
        .idle_timeout(std::time::Duration::from_secs_f64(args.idle_timeout_s));
    if let Some(s) = args.device_timeout_s {
        config = config.device_timeout_ms((s * 1000.0).round() as i64);
    }
    let config = config.build()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(fleet_server::serve(config))?;
    Ok(ExitCode::SUCCESS)
}

/// The device endpoint's settings (docs/devices.md).
fn devices_config(
    mut config: fleet_server::ConfigBuilder,
    args: &ServeArgs,
) -> anyhow::Result<fleet_server::ConfigBuilder> {
    let mqtt = match args.mqtt_bind.as_deref() {
        Some("off") => None,
        Some(addr) => Some(addr.parse::<std::net::SocketAddr>().with_context(|| {
            format!("--mqtt-bind {addr:?}: expected an address such as 127.0.0.1:8883, or off")
        })?),
        // The default: with TLS, on the --bind IP, port 8883, when devices may connect there
        // (a non-loopback address needs --device-key), and if the port is free.
        None => {
            let serves = args.device_key.is_some() || args.bind.ip().is_loopback();
            if let (Some(_), true) = (&args.tls_cert, serves) {
                config = config.mqtt_bind_if_free(std::net::SocketAddr::new(args.bind.ip(), 8883));
            }
            None
        }
    };
    if let Some(addr) = mqtt {
        config = config.mqtt_bind(addr);
    }
    if let Some(key) = &args.device_key {
        config = config.device_key(key);
    }
    Ok(config.max_device_connections(args.max_device_connections))
}

/// `fleetsim serve --print-device-connection-string ID`: the device's connection string on the
/// --bind address's host (checked against the scenario's fleet when --scenario is given).
fn print_connection_string(args: &ServeArgs, id: &str) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.scenario {
        let scenario = fleet_scenario::Scenario::load(path)?;
        let fleet = scenario.fleet(None)?;
        anyhow::ensure!(
            fleet.index_of(id).is_some(),
            "--print-device-connection-string {id:?}: the fleet of {} has no such device",
            path.display()
        );
    }
    let key = args
        .device_key
        .as_deref()
        .unwrap_or(fleet_server::DEVELOPMENT_FLEET_KEY);
    let host = match args.bind.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        ip => ip.to_string(),
    };
    let cs = fleet_server::device_connection_string(key, &host, id)
        .context("--device-key: expected non-empty base64 text")?;
    println!("{cs}");
    Ok(ExitCode::SUCCESS)
}

fn execute_query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let query = match &args.query {
        Some(text) => Some(
            fleet_query::Query::parse_any(text)
                .map_err(|e| anyhow::anyhow!("invalid query: {}", e.caret(text)))?,
        ),
        None => None,
    };
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(devices) = args.devices {
        scenario = scenario.with_devices(devices)?;
    }
    scenario.check_memory(args.memory_limit, 1)?;
    let fleet = scenario.fleet(args.seed)?;
    let selected: Vec<u32> = match (&query, &args.group) {
        (Some(query), _) => query.compile(&fleet).select(),
        (None, Some(group)) => {
            let found = scenario
                .file
                .groups
                .iter()
                .find(|g| &g.id == group)
                .with_context(|| format!("no device group {group:?} in the scenario"))?;
            match found.members() {
                Some(selector) => selector.select(&fleet),
                None => (0..fleet.len()).collect(),
            }
        }
        (None, None) => unreachable!("clap requires a query or --group"),
    };
    println!("{} of {} devices match", selected.len(), fleet.len());
    for &d in selected.iter().take(args.limit) {
        println!("  {}", fleet.id(d));
    }
    if selected.len() > args.limit {
        println!("  ... and {} more", selected.len() - args.limit);
    }
    Ok(ExitCode::SUCCESS)
}

fn execute_run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut scenario = crate::input::load(&args.scenario, args.input_format)?;
    if let Some(devices) = args.devices {
        scenario = scenario.with_devices(devices)?;
    }
    let max_wall = match args.max_wall_s {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 && s <= 1e9 => {
            Some(std::time::Duration::from_secs_f64(s))
        }
        Some(s) => anyhow::bail!("--max-wall-s {s}: give a number of seconds above 0"),
    };
    anyhow::ensure!(args.max_events > 0, "--max-events 0: give at least 1 event");
    scenario = scenario.with_budget(fleet_scenario::Budget {
        max_events: args.max_events,
        max_wall,
    });
    // Before anything is allocated: replications run one simulation per thread at once.
    let copies =
        match args.replications {
            Some(k) => k.min(args.threads.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
            })),
            None => 1,
        };
    scenario.check_memory(args.memory_limit, copies)?;
    if args.replications.is_some() || !args.deny.is_empty() {
        // Before running: a denied warning stops here; replications have no single result.
        if report_warnings(&fleet_scenario::warnings::check(&scenario), &args.deny) {
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    }
    if let Some(replications) = args.replications {
        return execute_replications(&args, &scenario, replications);
    }
    ui::note(
        1,
        format_args!(
            "{}: {} devices, {} jobs, {} scheduled, seed {}",
            scenario.name(),
            scenario.file.fleet.devices,
            scenario.jobs.len(),
            scenario.scheduled.len(),
            args.seed.unwrap_or(scenario.file.seed)
        ),
    );
    let mut progress = Progress::new(scenario.name(), Unit::DevicesSettled);
    let options = RunOptions { seed: args.seed };
    let report = fleet_scenario::run_observed(&scenario, options, &mut |p| progress.simulation(p));
    progress.finish();
    let report = report?;
    let output = Output::new(args.output.as_deref());
    match args.format {
        Format::Text => output.text(&report::text::render(&report))?,
        Format::Json => output.json(&report.to_json())?,
    }
    ui::note(
        1,
        format_args!("simulated in {:.3} s of wall time", report.wall_s),
    );
    write_run_files(&args, &report)?;
    // Without --deny, every warning is printed here; with it, only the result's remain.
    if report_warnings(&report.warnings, &args.deny) {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    if report.passed {
        return Ok(ExitCode::SUCCESS);
    }
    for failure in report.failures() {
        eprintln!(
            "{} job {} {}: expected {}, got {}",
            ui::paint(ui::Stream::Stderr, ui::BAD, "expectation failed:"),
            failure.job,
            failure.what,
            failure.expected,
            failure.actual
        );
    }
    Ok(ExitCode::from(EXIT_EXPECTATION_FAILED))
}

/// Writes a single run's `--html` and `--devices-csv` files.
fn write_run_files(args: &RunArgs, report: &fleet_scenario::report::Report) -> anyhow::Result<()> {
    if let Some(path) = &args.html {
        std::fs::write(path, report::html::render(report))
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
    }
    if let Some(path) = &args.devices_csv {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write the CSV to {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        report::csv::write(report, &mut out)
            .and_then(|()| std::io::Write::flush(&mut out))
            .with_context(|| format!("cannot write the CSV to {}", path.display()))?;
    }
    Ok(())
}

fn execute_replications(
    args: &RunArgs,
    scenario: &Scenario,
    replications: u32,
) -> anyhow::Result<ExitCode> {
    let threads = match args.threads {
        Some(t) => t as usize,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let options = ReplicationOptions {
        seed: args.seed,
        replications,
        threads,
    };
    let shard = args.shard.unwrap_or(fleet_scenario::Shard::WHOLE);
    let label = match args.shard {
        Some(shard) => format!("{} x{replications} part {shard}", scenario.name()),
        None => format!("{} x{replications}", scenario.name()),
    };
    let mut progress = Progress::new(label, Unit::Replications);
    let part = fleet_scenario::run_shard(scenario, options, shard, &mut |done, total| {
        progress.update(done, total)
    });
    progress.finish();
    let part = part?;
    let Some(path) = &args.partial_out else {
        let report = fleet_scenario::merge(vec![part])?;
        let output = Output::new(args.output.as_deref());
        return print_replications(&report, args.format, &output, args.html.as_deref());
    };
    std::fs::write(path, part.to_json())
        .with_context(|| format!("cannot write the partial result to {}", path.display()))?;
    let range = part.range();
    let seeds = match range.len() {
        0 => "none: more parts than replications".to_string(),
        _ => format!(
            "seeds {} to {}",
            part.seed_first().wrapping_add(u64::from(range.start)),
            part.seed_first().wrapping_add(u64::from(range.end - 1))
        ),
    };
    ui::note(
        0,
        format_args!(
        "part {shard} of {replications} replications: {} replications ({seeds}) written to {}; \
         combine the parts with `fleetsim merge`",
        range.len(),
        path.display()
    ),
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints a replication report and writes its HTML summary; the exit code says whether every
/// expectation held.
fn print_replications(
    report: &fleet_scenario::ReplicationReport,
    format: Format,
    output: &Output,
    html: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    match format {
        Format::Text => output.text(&report::replications::render(report))?,
        Format::Json => output.json(&report.to_json())?,
    }
    if let Some(path) = html {
        std::fs::write(path, report::replications_html::render(report))
            .with_context(|| format!("cannot write the HTML summary to {}", path.display()))?;
    }
    if report.passed {
        return Ok(ExitCode::SUCCESS);
    }
    for e in report.expectations.iter().filter(|e| !e.passed) {
        let rerun = e.failed_seeds.first().map_or(String::new(), |seed| {
            format!("; rerun one with --seed {seed}")
        });
        eprintln!(
            "{} job {} (expect[{}]) held in {:.1}% of runs, required {:.1}%{rerun}",
            ui::paint(ui::Stream::Stderr, ui::BAD, "expectation failed:"),
            e.job,
            e.index,
            100.0 * e.probability,
            100.0 * e.required_probability
        );
    }
    Ok(ExitCode::from(EXIT_EXPECTATION_FAILED))
}
