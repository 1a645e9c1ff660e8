//! Prints markdown tables of fleetsim's speed and memory on this machine:
//!
//! 1. `examples/rollout.toml` at growing N: wall time, events per second, peak memory (RSS) and
//!    peak memory per device. Each N runs in a fresh child process so that its peak RSS is its
//!    own.
//! 2. Seeded replications of the rollout on 1 to all cores: wall time, speed-up over one thread
//!    and efficiency (speed-up / threads; the target is at least 0.85).
//!
//! ```sh
//! cargo run --release -p fleet-bench --bin bench-table                  # N up to 10,000,000
//! cargo run --release -p fleet-bench --bin bench-table -- --max-devices 1000000
//! ```
//!
//! Wall times are single measurements (the best of `--repeat` runs, default 3): the table is a
//! quick overview, the criterion benches give medians.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fleet_scenario::{ReplicationOptions, RunOptions, Scenario};

const USAGE: &str =
    "bench-table [--max-devices N] [--repeat R] [--replications K] [--replication-devices N]";

struct Options {
    max_devices: u32,
    repeat: u32,
    replications: Option<u32>,
    replication_devices: u32,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        let devices = args.get(1).and_then(|n| n.parse().ok()).expect("--one N");
        one(devices);
        return;
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\nusage: {USAGE}");
            std::process::exit(2);
        }
    };
    println!("{}", machine());
    println!();
    growth_table(&options);
    println!();
    threads_table(&options);
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        max_devices: 10_000_000,
        repeat: 3,
        replications: None,
        replication_devices: 1_000_000,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .parse::<u32>()
            .map_err(|e| format!("{flag}: {e}"))?;
        match flag.as_str() {
            "--max-devices" => o.max_devices = value,
            "--repeat" => o.repeat = value.max(1),
            "--replications" => o.replications = Some(value.max(1)),
            "--replication-devices" => o.replication_devices = value.max(1),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

fn rollout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rollout.toml")
}

fn load(devices: u32) -> Scenario {
    Scenario::load(&rollout())
        .and_then(|s| s.with_devices(devices))
        .expect("examples/rollout.toml is valid")
}

/// Child mode: one run at `devices`, then one JSON line with the measurements.
fn one(devices: u32) {
    let scenario = load(devices);
    let started = Instant::now();
    let report = fleet_scenario::run(&scenario, RunOptions::default(), &mut |_, _| {})
        .expect("the rollout runs");
    let wall_s = started.elapsed().as_secs_f64();
    println!(
        "{{\"wall_s\": {wall_s}, \"events\": {}, \"peak_rss_kb\": {}}}",
        report.result.events_processed,
        peak_rss_kb().unwrap_or(0)
    );
}

/// The process's peak resident set size (VmHWM), in KiB, where /proc tells it.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn growth_table(o: &Options) {
    println!("| devices | wall (s) | events/s | peak RSS (MB) | peak bytes/device |");
    println!("|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe().expect("the bench knows its own path");
    for n in [10_000u32, 100_000, 1_000_000, 10_000_000] {
        if n > o.max_devices {
            break;
        }
        let mut best: Option<(f64, u64, u64)> = None;
        for _ in 0..o.repeat {
            let out = Command::new(&exe)
                .args(["--one", &n.to_string()])
                .output()
                .expect("the child runs");
            let line = String::from_utf8_lossy(&out.stdout);
            let v: serde_json::Value =
                serde_json::from_str(line.trim()).expect("the child prints JSON");
            let run = (
                v["wall_s"].as_f64().unwrap_or(f64::NAN),
                v["events"].as_u64().unwrap_or(0),
                v["peak_rss_kb"].as_u64().unwrap_or(0),
            );
            if best.is_none_or(|b| run.0 < b.0) {
                best = Some(run);
            }
        }
        let (wall_s, events, rss_kb) = best.expect("at least one run");
        println!(
            "| {n} | {wall_s:.3} | {:.2} M | {:.0} | {:.0} |",
            events as f64 / wall_s / 1e6,
            rss_kb as f64 / 1024.0,
            rss_kb as f64 * 1024.0 / f64::from(n)
        );
    }
}

fn threads_table(o: &Options) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let k = o.replications.unwrap_or((4 * cores).max(8) as u32);
    let scenario = load(o.replication_devices);
    println!(
        "{k} replications of the rollout at {} devices:\n",
        o.replication_devices
    );
    println!("| threads | wall (s) | speed-up | efficiency |");
    println!("|---:|---:|---:|---:|");
    let mut one_thread_s = None;
    for threads in 1..=cores {
        let mut best = f64::INFINITY;
        for _ in 0..o.repeat {
            let options = ReplicationOptions {
                seed: None,
                replications: k,
                threads,
            };
            let started = Instant::now();
            fleet_scenario::run_replications(&scenario, options, &mut |_, _| {})
                .expect("the replications run");
            best = best.min(started.elapsed().as_secs_f64());
        }
        let base = *one_thread_s.get_or_insert(best);
        let speed_up = base / best;
        println!(
            "| {threads} | {best:.3} | {speed_up:.2} | {:.2} |",
            speed_up / threads as f64
        );
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("Machine: {cpu}, {cores} cores available.")
}
