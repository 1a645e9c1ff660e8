//! Seeded replications on every core: K runs with seeds `seed, seed+1, ...`, summarised as
//! percentiles and probabilities (capacity planning).
//!
//! # Determinism across thread counts
//!
//! Replication `i` always uses seed `seed + i` and its summary is stored at index `i`; the
//! aggregation reads the summaries in index order. Which thread ran which replication, and in
//! which order they finished, therefore cannot change the report: only `wall_s` and
//! `events_per_s` vary.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::run::{check_expectation, simulate};
use crate::scenario::Scenario;

/// How to run replications.
#[derive(Debug, Clone, Copy)]
pub struct ReplicationOptions {
    /// The first seed (default: the scenario's); replication `i` uses `seed + i`.
    pub seed: Option<u64>,
    /// Number of runs, at least 1.
    pub replications: u32,
    /// Worker threads, at least 1 (more than `replications` is pointless but allowed).
    pub threads: usize,
}

/// What one replication contributes to the summary. Small: K of them are kept.
#[derive(Debug, Clone)]
struct Sample {
    events: u64,
    trace_hash: u64,
    /// The jobs in scenario order, then the reruns (`None`: the rerun was never created).
    jobs: Vec<Option<JobSample>>,
    /// Per scheduled job: (runs, skipped occurrences, each run's sample).
    schedules: Vec<(u32, u32, Vec<JobSample>)>,
    /// Per expectation entry: whether all its checks held; and per check, whether it held.
    entries: Vec<(bool, Vec<bool>)>,
}

#[derive(Debug, Clone)]
struct JobSample {
    status: &'static str,
    duration_ms: Option<i64>,
    tripped: bool,
    failed_percent: f64,
}

/// Nearest-rank percentiles of a sample (p-th percentile = the value at rank `ceil(p/100 * n)`
/// of the sorted values), its extremes and mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Smallest value.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Percentiles {
    /// The percentiles of `values`, or `None` when empty. NaNs must not occur.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let r = (p / 100.0 * sorted.len() as f64).ceil() as usize;
            sorted[r.clamp(1, sorted.len()) - 1]
        };
        Some(Self {
            min: sorted[0],
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        })
    }
}

/// The summary of one job over all replications.
#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    /// The job id.
    pub id: String,
    /// For a rerun: the job whose failed devices it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
    /// Final statuses and how many runs ended in each; for a rerun, `not_created` counts the
    /// runs in which it never came (refused, or its job never settled).
    pub statuses: BTreeMap<&'static str, u32>,
    /// Runs in which the job settled (final status, nothing in flight).
    pub settled: u32,
    /// Start-to-settlement duration in virtual seconds, over the settled runs.
    pub duration_s: Option<Percentiles>,
    /// Share of runs (0 to 1) in which the cancellation threshold tripped.
    pub threshold_tripped_probability: f64,
    /// Failed devices as a percentage of the targets, over all runs.
    pub failed_percent: Option<Percentiles>,
}

/// The summary of one scheduled job over all replications: how many runs and skips it had, and
/// its runs' durations and failures pooled over every replication.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleSummary {
    /// The scheduled job's id.
    pub id: String,
    /// Runs created, per replication.
    pub runs: Percentiles,
    /// Occurrences skipped, per replication.
    pub skipped: Percentiles,
    /// Share of replications (0 to 1) in which at least one occurrence was skipped.
    pub skipped_probability: f64,
    /// Start-to-settlement duration of every settled run of every replication, in virtual
    /// seconds.
    pub run_duration_s: Option<Percentiles>,
    /// Failed devices as a percentage of the targets, over every run of every replication.
    pub run_failed_percent: Option<Percentiles>,
    /// Share of all runs (0 to 1) in which the cancellation threshold tripped.
    pub run_threshold_tripped_probability: f64,
}

/// How often one expectation entry held.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationSummary {
    /// The job.
    pub job: String,
    /// The entry's index in the scenario's `expect` list.
    pub index: usize,
    /// What the entry checks, for people (`status = complete, duration_s <= 14400`).
    pub checks: Vec<CheckSummary>,
    /// The share of runs in which it must hold.
    pub required_probability: f64,
    /// Runs in which every check of the entry held.
    pub held: u32,
    /// `held / replications`.
    pub probability: f64,
    /// Whether `probability >= required_probability`.
    pub passed: bool,
}

/// How often one check of an entry held.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSummary {
    /// The expectation field (`duration_s`, `status`, ...).
    pub what: String,
    /// What it expects.
    pub expected: String,
    /// The share of runs in which this check held.
    pub probability: f64,
}

/// The report of a replicated run. Identical for any thread count but for `wall_s` and
/// `events_per_s`.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicationReport {
    /// Schema version of this report (see `docs/report-format.md`).
    pub schema_version: u32,
    /// `"replications"`.
    pub mode: &'static str,
    /// The version of fleetsim that made the report.
    pub fleetsim_version: &'static str,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, if it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The seed of replication 0; replication `i` used `seed_first + i`.
    pub seed_first: u64,
    /// Number of runs.
    pub replications: u32,
    /// Devices in the fleet.
    pub devices: u32,
    /// Wall-clock seconds for all runs (varies).
    pub wall_s: f64,
    /// Simulation events per wall-clock second over all runs (varies).
    pub events_per_s: f64,
    /// Total simulation events.
    pub events_processed: u64,
    /// A hash over every run's trace hash, in seed order: equal hashes mean identical runs.
    pub runs_hash: String,
    /// Whether every expectation held in at least its required share of runs.
    pub passed: bool,
    /// Per job, in scenario order, then per rerun.
    pub jobs: Vec<JobSummary>,
    /// Per scheduled job, in scenario order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleSummary>,
    /// Per expectation entry, in file order.
    pub expectations: Vec<ExpectationSummary>,
}

/// Runs `options.replications` seeded replications of `scenario` on `options.threads` threads.
/// `progress(done, total)` is called from the calling thread as replications finish.
pub fn run_replications(
    scenario: &Scenario,
    options: ReplicationOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ReplicationReport> {
    let k = options.replications;
    if k == 0 || options.threads == 0 {
        return Err(Error::new(ErrorKind::Invalid(
            "replications and threads must be at least 1".into(),
        )));
    }
    let seed_first = options.seed.unwrap_or(scenario.file.seed);
    let wall = Instant::now();
    let samples = run_all(scenario, seed_first, k, options.threads, progress)?;
    let wall_s = wall.elapsed().as_secs_f64();
    Ok(summarise(scenario, seed_first, &samples, wall_s))
}

/// Runs every replication; the samples come back in seed order.
fn run_all(
    scenario: &Scenario,
    seed_first: u64,
    k: u32,
    threads: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<Sample>> {
    let next = AtomicU32::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<Sample>>>> = (0..k).map(|_| Mutex::new(None)).collect();
    let (finished_tx, finished_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(k as usize) {
            let finished_tx = finished_tx.clone();
            let (next, failed, slots) = (&next, &failed, &slots);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= k || failed.load(Ordering::Relaxed) {
                    return;
                }
                let seed = seed_first.wrapping_add(u64::from(i));
                let sample = simulate(scenario, seed, &mut |_, _| {}).map(|r| sample(scenario, &r));
                failed.fetch_or(sample.is_err(), Ordering::Relaxed);
                *slots[i as usize].lock().expect("no worker panics") = Some(sample);
                // The receiver lives until every worker has returned.
                let _ = finished_tx.send(());
            });
        }
        drop(finished_tx);
        // The calling thread only reports progress: one message per finished replication, and
        // the channel closes when every worker has returned.
        progress(0, u64::from(k));
        for done in 1..=u64::from(k) {
            if finished_rx.recv().is_err() {
                break;
            }
            progress(done, u64::from(k));
        }
    });
    let mut samples = Vec::with_capacity(k as usize);
    for slot in slots {
        match slot.into_inner().expect("no worker panics") {
            Some(Ok(sample)) => samples.push(sample),
            Some(Err(e)) => return Err(e),
            None => {} // not run because another replication failed first
        }
    }
    if samples.len() != k as usize {
        return Err(Error::new(ErrorKind::Invalid(
            "a replication failed to run".into(),
        )));
    }
    Ok(samples)
}

fn job_sample(j: &fleet_sim::JobResult) -> JobSample {
    JobSample {
        status: j.status.as_str(),
        duration_ms: j.duration_ms,
        tripped: j.threshold_trip.is_some(),
        failed_percent: if j.counts.total == 0 {
            0.0
        } else {
            100.0 * f64::from(j.counts.failed) / f64::from(j.counts.total)
        },
    }
}

fn sample(scenario: &Scenario, result: &fleet_sim::SimResult) -> Sample {
    // The jobs first, in scenario order; the runs of scheduled jobs and the reruns come after
    // them, in the order they were created: the reruns are found by id.
    let jobs = result
        .jobs
        .iter()
        .take(scenario.jobs.len())
        .map(|j| Some(job_sample(j)))
        .chain(
            scenario
                .reruns
                .iter()
                .map(|r| result.job(&r.id).map(job_sample)),
        )
        .collect();
    let schedules = result
        .schedules
        .iter()
        .map(|s| {
            let runs: Vec<JobSample> = s
                .runs()
                .filter_map(|id| result.job(id))
                .map(job_sample)
                .collect();
            (runs.len() as u32, s.skipped() as u32, runs)
        })
        .collect();
    let entries = scenario
        .file
        .expect
        .iter()
        .map(|e| {
            let checks: Vec<bool> = check_expectation(e, result)
                .iter()
                .map(|c| c.passed)
                .collect();
            (checks.iter().all(|&held| held), checks)
        })
        .collect();
    Sample {
        events: result.events_processed,
        trace_hash: result.trace_hash.0,
        jobs,
        schedules,
        entries,
    }
}

fn summarise_schedule(id: &str, index: usize, samples: &[Sample]) -> ScheduleSummary {
    let k = samples.len() as f64;
    let of = |f: fn(&(u32, u32, Vec<JobSample>)) -> u32| -> Vec<f64> {
        samples
            .iter()
            .map(|s| f64::from(f(&s.schedules[index])))
            .collect()
    };
    let runs: Vec<&JobSample> = samples.iter().flat_map(|s| &s.schedules[index].2).collect();
    let durations: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.duration_ms.map(|ms| ms as f64 / 1000.0))
        .collect();
    let failed: Vec<f64> = runs.iter().map(|r| r.failed_percent).collect();
    let tripped = runs.iter().filter(|r| r.tripped).count() as f64;
    let skipped = of(|s| s.1);
    ScheduleSummary {
        id: id.to_string(),
        runs: Percentiles::of(&of(|s| s.0)).expect("at least one replication"),
        skipped_probability: skipped.iter().filter(|n| **n > 0.0).count() as f64 / k,
        skipped: Percentiles::of(&skipped).expect("at least one replication"),
        run_duration_s: Percentiles::of(&durations),
        run_failed_percent: Percentiles::of(&failed),
        run_threshold_tripped_probability: if runs.is_empty() {
            0.0
        } else {
            tripped / runs.len() as f64
        },
    }
}

fn summarise(
    scenario: &Scenario,
    seed_first: u64,
    samples: &[Sample],
    wall_s: f64,
) -> ReplicationReport {
    let k = samples.len() as u32;
    let share = |n: u32| f64::from(n) / f64::from(k);
    let ids = scenario.jobs.iter().map(|j| (j.id.clone(), None)).chain(
        scenario
            .reruns
            .iter()
            .map(|r| (r.id.clone(), Some(r.job.clone()))),
    );
    let jobs = ids
        .enumerate()
        .map(|(j, (id, rerun_of))| {
            let runs: Vec<&JobSample> = samples.iter().filter_map(|s| s.jobs[j].as_ref()).collect();
            let mut statuses = BTreeMap::new();
            for r in &runs {
                *statuses.entry(r.status).or_insert(0) += 1;
            }
            if runs.len() < samples.len() {
                statuses.insert("not_created", (samples.len() - runs.len()) as u32);
            }
            let durations: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.duration_ms.map(|ms| ms as f64 / 1000.0))
                .collect();
            let failed: Vec<f64> = runs.iter().map(|r| r.failed_percent).collect();
            JobSummary {
                id,
                rerun_of,
                statuses,
                settled: durations.len() as u32,
                duration_s: Percentiles::of(&durations),
                threshold_tripped_probability: share(
                    runs.iter().filter(|r| r.tripped).count() as u32
                ),
                failed_percent: Percentiles::of(&failed),
            }
        })
        .collect();
    let schedules = scenario
        .scheduled
        .iter()
        .enumerate()
        .map(|(i, s)| summarise_schedule(&s.job.id, i, samples))
        .collect();
    let expectations: Vec<ExpectationSummary> = scenario
        .file
        .expect
        .iter()
        .enumerate()
        .map(|(e, entry)| summarise_entry(samples, e, entry))
        .collect();
    let events: u64 = samples.iter().map(|s| s.events).sum();
    ReplicationReport {
        schema_version: crate::report::SCHEMA_VERSION,
        mode: "replications",
        fleetsim_version: env!("CARGO_PKG_VERSION"),
        scenario: scenario.name(),
        file: scenario.path.as_ref().map(|p| p.display().to_string()),
        seed_first,
        replications: k,
        devices: scenario.file.fleet.devices,
        wall_s,
        events_per_s: if wall_s > 0.0 {
            events as f64 / wall_s
        } else {
            0.0
        },
        events_processed: events,
        runs_hash: format!("{:016x}", runs_hash(samples)),
        passed: expectations.iter().all(|e| e.passed),
        jobs,
        schedules,
        expectations,
    }
}

fn summarise_entry(
    samples: &[Sample],
    e: usize,
    entry: &crate::expect::Expectation,
) -> ExpectationSummary {
    let k = samples.len() as u32;
    let share = |n: usize| n as f64 / f64::from(k);
    let held = samples.iter().filter(|s| s.entries[e].0).count();
    let checks = entry
        .describe()
        .into_iter()
        .enumerate()
        .map(|(c, (what, expected))| CheckSummary {
            what,
            expected,
            probability: share(
                samples
                    .iter()
                    .filter(|s| s.entries[e].1.get(c) == Some(&true))
                    .count(),
            ),
        })
        .collect();
    let probability = share(held);
    let required_probability = entry.required_probability();
    ExpectationSummary {
        job: entry.job.clone(),
        index: e,
        checks,
        required_probability,
        held: held as u32,
        probability,
        passed: probability >= required_probability,
    }
}

/// FNV-1a over the runs' trace hashes in seed order.
fn runs_hash(samples: &[Sample]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    samples.iter().fold(OFFSET, |h, s| {
        s.trace_hash
            .to_le_bytes()
            .iter()
            .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
    })
}

#[cfg(test)]
mod tests {
    use super::Percentiles;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&values).unwrap();
        assert_eq!(
            (p.min, p.p50, p.p90, p.p99, p.max),
            (1.0, 50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(p.mean, 50.5);
        let p = Percentiles::of(&[7.0, 3.0]).unwrap();
        assert_eq!((p.p50, p.p90, p.p99), (3.0, 7.0, 7.0));
        assert!(Percentiles::of(&[]).is_none());
        let p = Percentiles::of(&[5.0]).unwrap();
        assert_eq!((p.min, p.p50, p.p99, p.max), (5.0, 5.0, 5.0, 5.0));
    }
}
