//! The summary of K replications: what a user asks after "did it pass?" — how the runs ended,
//! how long each kind of ending took, where the stops happened, how far a stopped run had got,
//! and which seeds to rerun.
//!
//! The summary reads the per-replication records in index order and nothing else, so it is
//! the same whether they were made on one machine or merged from shards.

use std::collections::BTreeMap;

use fleet_core::RunStatus;
use serde::{Deserialize, Serialize};

use super::sample::{JobSample, RunSample};
use crate::scenario::Scenario;

/// How many seeds of runs that failed an expectation entry the report lists.
pub const FAILED_SEEDS_LISTED: usize = 100;

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

/// The runs of a job that ended in one final status.
#[derive(Debug, Clone, Serialize)]
pub struct StatusSummary {
    /// How many runs ended so.
    pub runs: u32,
    /// Start-to-settlement duration in virtual seconds, over those of them that settled.
    pub duration_s: Option<Percentiles>,
    /// Failed devices as a percentage of the targets.
    pub failed_percent: Option<Percentiles>,
}

/// How many runs stopped in one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchRuns {
    /// The batch, from 0 (JSON numbers batches from 0; text and HTML from 1).
    pub batch: u32,
    /// Runs whose threshold or abort criterion tripped in it.
    pub runs: u32,
}

/// The runs that the cancellation threshold or an abort criterion stopped.
#[derive(Debug, Clone, Serialize)]
pub struct StopSummary {
    /// How many runs stopped so.
    pub runs: u32,
    /// `runs / replications` (for a rerun: over the replications in which it ran).
    pub probability: f64,
    /// The batch of the trip, in batch order; batches without a stop are left out.
    pub batches: Vec<BatchRuns>,
    /// Devices that received the operation before the stop (in flight then included).
    pub dispatched: Option<Percentiles>,
    /// Of those, devices that succeeded.
    pub succeeded: Option<Percentiles>,
    /// Of those, devices that failed.
    pub failed: Option<Percentiles>,
}

/// One run of a job, for the HTML report's charts (not serialised).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RunPoint {
    pub status: RunStatus,
    pub duration_s: Option<f64>,
    pub stop_batch: Option<u32>,
    pub dispatched: u32,
    pub succeeded: u32,
}

/// The summary of one job over all replications.
#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    /// The job id.
    pub id: String,
    /// For a rerun: the job whose failed devices it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
    /// Final statuses and how many runs ended in each (the outcome mix); for a rerun,
    /// `not_created` counts the runs in which it never came (refused, or its job never
    /// settled).
    pub statuses: BTreeMap<&'static str, u32>,
    /// Runs in which the job settled (final status, nothing in flight).
    pub settled: u32,
    /// Start-to-settlement duration in virtual seconds, over all settled runs whatever their
    /// status (see `by_status` for each status apart).
    pub duration_s: Option<Percentiles>,
    /// Per final status: its runs, their duration and failures.
    pub by_status: BTreeMap<&'static str, StatusSummary>,
    /// Share of runs (0 to 1) in which the cancellation threshold tripped.
    pub threshold_tripped_probability: f64,
    /// Share of runs (0 to 1) in which an abort criterion tripped.
    pub abort_tripped_probability: f64,
    /// Failed devices as a percentage of the targets, over all runs.
    pub failed_percent: Option<Percentiles>,
    /// The runs stopped by the threshold or an abort criterion: where, and how far they got.
    pub stops: StopSummary,
    /// Each run, in seed order, for charts.
    #[serde(skip)]
    pub(crate) runs: Vec<RunPoint>,
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
    /// The seeds of the runs in which the entry did not hold, in seed order: the first
    /// [`FAILED_SEEDS_LISTED`] (there are `replications - held`). Rerun one with
    /// `fleetsim run SCENARIO --seed N --html run.html`.
    pub failed_seeds: Vec<u64>,
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

/// The report of a replicated run. Identical for any thread count and any sharding but for
/// `wall_s` and `events_per_s`.
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
    /// Wall-clock seconds for all runs (varies; merged from shards: the sum of theirs).
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

impl ReplicationReport {
    /// The report as pretty-printed JSON (`--format json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

/// What the summary needs of the scenario besides the runs: names, and the expectation
/// entries' descriptions. A partial result file carries it, so `fleetsim merge` needs no
/// scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Skeleton {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub devices: u32,
    /// The jobs in scenario order, then the reruns.
    pub jobs: Vec<JobSkeleton>,
    /// The scheduled jobs' ids.
    pub schedules: Vec<String>,
    pub expectations: Vec<EntrySkeleton>,
}

/// A job as the summary names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobSkeleton {
    pub id: String,
    /// For a rerun: the job whose failed devices it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
}

/// A check of an expectation entry, for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckSkeleton {
    pub what: String,
    pub expected: String,
}

/// An expectation entry as the summary names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntrySkeleton {
    pub job: String,
    pub checks: Vec<CheckSkeleton>,
    pub required_probability: f64,
}

impl Skeleton {
    /// The skeleton of `scenario`.
    pub fn of(scenario: &Scenario) -> Self {
        let jobs = scenario
            .jobs
            .iter()
            .map(|j| JobSkeleton {
                id: j.id.clone(),
                rerun_of: None,
            })
            .chain(scenario.reruns.iter().map(|r| JobSkeleton {
                id: r.id.clone(),
                rerun_of: Some(r.job.clone()),
            }))
            .collect();
        Self {
            name: scenario.name(),
            file: scenario.path.as_ref().map(|p| p.display().to_string()),
            devices: scenario.file.fleet.devices,
            jobs,
            schedules: scenario
                .scheduled
                .iter()
                .map(|s| s.job.id.clone())
                .collect(),
            expectations: scenario
                .file
                .expect
                .iter()
                .map(|e| EntrySkeleton {
                    job: e.job.clone(),
                    checks: e
                        .describe()
                        .into_iter()
                        .map(|(what, expected)| CheckSkeleton { what, expected })
                        .collect(),
                    required_probability: e.required_probability(),
                })
                .collect(),
        }
    }

    /// Whether `sample` has the shape this skeleton describes (one record per job, schedule,
    /// entry and check), so that summarising it cannot index out of bounds.
    pub fn fits(&self, sample: &RunSample) -> bool {
        sample.jobs.len() == self.jobs.len()
            && sample.schedules.len() == self.schedules.len()
            && sample.entries.len() == self.expectations.len()
            && sample
                .entries
                .iter()
                .zip(&self.expectations)
                .all(|(checks, e)| checks.len() == e.checks.len())
    }
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn durations(runs: &[&JobSample]) -> Vec<f64> {
    runs.iter()
        .filter_map(|r| r.duration_ms.map(seconds))
        .collect()
}

fn failed_percents(runs: &[&JobSample]) -> Vec<f64> {
    runs.iter().map(|r| r.failed_percent()).collect()
}

fn summarise_stops(runs: &[&JobSample]) -> StopSummary {
    let stopped: Vec<(u32, &JobSample)> = runs
        .iter()
        .filter_map(|r| r.stop_batch().map(|b| (b, *r)))
        .collect();
    let mut batches = BTreeMap::<u32, u32>::new();
    for (b, _) in &stopped {
        *batches.entry(*b).or_insert(0) += 1;
    }
    let of = |f: fn(&JobSample) -> u32| -> Option<Percentiles> {
        let values: Vec<f64> = stopped.iter().map(|(_, r)| f64::from(f(r))).collect();
        Percentiles::of(&values)
    };
    StopSummary {
        runs: stopped.len() as u32,
        probability: share(stopped.len(), runs.len()),
        batches: batches
            .into_iter()
            .map(|(batch, runs)| BatchRuns { batch, runs })
            .collect(),
        dispatched: of(|r| r.dispatched),
        succeeded: of(|r| r.succeeded),
        failed: of(|r| r.failed),
    }
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

fn summarise_job(id: &str, rerun_of: Option<&str>, j: usize, samples: &[RunSample]) -> JobSummary {
    let runs: Vec<&JobSample> = samples.iter().filter_map(|s| s.jobs[j].as_ref()).collect();
    let mut grouped = BTreeMap::<&'static str, Vec<&JobSample>>::new();
    for r in &runs {
        grouped.entry(r.status.as_str()).or_default().push(r);
    }
    let mut statuses: BTreeMap<&'static str, u32> = grouped
        .iter()
        .map(|(status, runs)| (*status, runs.len() as u32))
        .collect();
    if runs.len() < samples.len() {
        statuses.insert("not_created", (samples.len() - runs.len()) as u32);
    }
    let by_status = grouped
        .iter()
        .map(|(status, runs)| {
            let summary = StatusSummary {
                runs: runs.len() as u32,
                duration_s: Percentiles::of(&durations(runs)),
                failed_percent: Percentiles::of(&failed_percents(runs)),
            };
            (*status, summary)
        })
        .collect();
    let all_durations = durations(&runs);
    let count = |f: fn(&JobSample) -> bool| runs.iter().filter(|r| f(r)).count();
    JobSummary {
        id: id.to_string(),
        rerun_of: rerun_of.map(str::to_string),
        statuses,
        settled: all_durations.len() as u32,
        duration_s: Percentiles::of(&all_durations),
        by_status,
        threshold_tripped_probability: share(count(|r| r.threshold_batch.is_some()), samples.len()),
        abort_tripped_probability: share(count(|r| r.abort_batch.is_some()), samples.len()),
        failed_percent: Percentiles::of(&failed_percents(&runs)),
        stops: summarise_stops(&runs),
        runs: runs.iter().map(|r| run_point(r)).collect(),
    }
}

fn run_point(r: &JobSample) -> RunPoint {
    RunPoint {
        status: r.status,
        duration_s: r.duration_ms.map(seconds),
        stop_batch: r.stop_batch(),
        dispatched: r.dispatched,
        succeeded: r.succeeded,
    }
}

fn summarise_schedule(id: &str, index: usize, samples: &[RunSample]) -> ScheduleSummary {
    let runs: Vec<&JobSample> = samples
        .iter()
        .flat_map(|s| &s.schedules[index].runs)
        .collect();
    let per_replication = |f: fn(&super::sample::ScheduleSample) -> u32| -> Vec<f64> {
        samples
            .iter()
            .map(|s| f64::from(f(&s.schedules[index])))
            .collect()
    };
    let skipped = per_replication(|s| s.skipped);
    let tripped = runs.iter().filter(|r| r.threshold_batch.is_some()).count();
    ScheduleSummary {
        id: id.to_string(),
        runs: Percentiles::of(&per_replication(|s| s.runs.len() as u32))
            .expect("at least one replication"),
        skipped_probability: share(skipped.iter().filter(|n| **n > 0.0).count(), samples.len()),
        skipped: Percentiles::of(&skipped).expect("at least one replication"),
        run_duration_s: Percentiles::of(&durations(&runs)),
        run_failed_percent: Percentiles::of(&failed_percents(&runs)),
        run_threshold_tripped_probability: share(tripped, runs.len()),
    }
}

fn summarise_entry(
    samples: &[RunSample],
    seed_first: u64,
    e: usize,
    entry: &EntrySkeleton,
) -> ExpectationSummary {
    let held = |s: &RunSample| s.entries[e].iter().all(|&ok| ok);
    let held_runs = samples.iter().filter(|s| held(s)).count();
    let checks = entry
        .checks
        .iter()
        .enumerate()
        .map(|(c, check)| CheckSummary {
            what: check.what.clone(),
            expected: check.expected.clone(),
            probability: share(
                samples.iter().filter(|s| s.entries[e][c]).count(),
                samples.len(),
            ),
        })
        .collect();
    let failed_seeds = samples
        .iter()
        .filter(|s| !held(s))
        .take(FAILED_SEEDS_LISTED)
        .map(|s| seed_first.wrapping_add(u64::from(s.index)))
        .collect();
    let probability = share(held_runs, samples.len());
    ExpectationSummary {
        job: entry.job.clone(),
        index: e,
        checks,
        required_probability: entry.required_probability,
        held: held_runs as u32,
        probability,
        passed: probability >= entry.required_probability,
        failed_seeds,
    }
}

/// The report of the replications `samples` (every replication, in index order, at least one;
/// each fits `skeleton`) that took `wall_s` seconds.
pub(crate) fn summarise(
    skeleton: &Skeleton,
    seed_first: u64,
    samples: &[RunSample],
    wall_s: f64,
) -> ReplicationReport {
    let jobs = skeleton
        .jobs
        .iter()
        .enumerate()
        .map(|(j, job)| summarise_job(&job.id, job.rerun_of.as_deref(), j, samples))
        .collect();
    let schedules = skeleton
        .schedules
        .iter()
        .enumerate()
        .map(|(i, id)| summarise_schedule(id, i, samples))
        .collect();
    let expectations: Vec<ExpectationSummary> = skeleton
        .expectations
        .iter()
        .enumerate()
        .map(|(e, entry)| summarise_entry(samples, seed_first, e, entry))
        .collect();
    let events: u64 = samples.iter().map(|s| s.events).sum();
    ReplicationReport {
        schema_version: crate::report::SCHEMA_VERSION,
        mode: "replications",
        fleetsim_version: env!("CARGO_PKG_VERSION"),
        scenario: skeleton.name.clone(),
        file: skeleton.file.clone(),
        seed_first,
        replications: samples.len() as u32,
        devices: skeleton.devices,
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

/// FNV-1a over the runs' trace hashes in seed order.
fn runs_hash(samples: &[RunSample]) -> u64 {
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
    use super::*;
    use crate::replicate::sample::ScheduleSample;

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

    fn job(status: RunStatus, duration_ms: i64, stop: Option<u32>, dispatched: u32) -> JobSample {
        JobSample {
            status,
            duration_ms: Some(duration_ms),
            total: 100,
            dispatched,
            succeeded: dispatched / 2,
            failed: dispatched - dispatched / 2,
            threshold_batch: stop,
            abort_batch: None,
        }
    }

    fn skeleton() -> Skeleton {
        Skeleton {
            name: "s".into(),
            file: None,
            devices: 100,
            jobs: vec![JobSkeleton {
                id: "j".into(),
                rerun_of: None,
            }],
            schedules: vec![],
            expectations: vec![EntrySkeleton {
                job: "j".into(),
                checks: vec![CheckSkeleton {
                    what: "status".into(),
                    expected: "complete".into(),
                }],
                required_probability: 0.5,
            }],
        }
    }

    /// Four runs: two complete (10 s, 20 s), two cancelled in batches 1 and 0 (2 s, 4 s).
    fn samples() -> Vec<RunSample> {
        let jobs = [
            job(RunStatus::Complete, 10_000, None, 100),
            job(RunStatus::Cancelled, 4_000, Some(1), 30),
            job(RunStatus::Complete, 20_000, None, 100),
            job(RunStatus::Cancelled, 2_000, Some(0), 10),
        ];
        jobs.into_iter()
            .enumerate()
            .map(|(i, j)| RunSample {
                index: i as u32,
                events: 10,
                trace_hash: i as u64,
                entries: vec![vec![j.status == RunStatus::Complete]],
                jobs: vec![Some(j)],
                schedules: Vec::<ScheduleSample>::new(),
            })
            .collect()
    }

    #[test]
    fn statuses_are_summarised_apart_and_stops_by_batch() {
        let report = summarise(&skeleton(), 40, &samples(), 1.0);
        let job = &report.jobs[0];
        assert_eq!(job.statuses.get("complete"), Some(&2));
        assert_eq!(job.statuses.get("cancelled"), Some(&2));
        let complete = job.by_status["complete"].duration_s.unwrap();
        assert_eq!((complete.min, complete.max), (10.0, 20.0));
        let cancelled = job.by_status["cancelled"].duration_s.unwrap();
        assert_eq!((cancelled.min, cancelled.max), (2.0, 4.0));
        assert_eq!(job.duration_s.unwrap().mean, 9.0, "all settled runs pooled");
        assert_eq!(job.stops.runs, 2);
        assert_eq!(job.stops.probability, 0.5);
        assert_eq!(
            job.stops.batches,
            vec![
                BatchRuns { batch: 0, runs: 1 },
                BatchRuns { batch: 1, runs: 1 }
            ]
        );
        let dispatched = job.stops.dispatched.unwrap();
        assert_eq!((dispatched.min, dispatched.max), (10.0, 30.0));
        assert_eq!(job.stops.succeeded.unwrap().max, 15.0);
        assert_eq!(job.threshold_tripped_probability, 0.5);
        assert_eq!(job.abort_tripped_probability, 0.0);
        let e = &report.expectations[0];
        assert_eq!(e.failed_seeds, vec![41, 43], "seed_first + index");
        assert_eq!((e.held, e.passed), (2, true));
    }

    #[test]
    fn a_shape_that_does_not_fit_is_recognised() {
        let skeleton = skeleton();
        let mut sample = samples().remove(0);
        assert!(skeleton.fits(&sample));
        sample.entries[0].push(true);
        assert!(!skeleton.fits(&sample), "one check too many");
        sample.entries[0].pop();
        sample.jobs.push(None);
        assert!(!skeleton.fits(&sample), "one job too many");
    }
}
