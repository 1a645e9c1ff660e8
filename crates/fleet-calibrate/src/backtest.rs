//! [`backtest()`]: replay a job that ran over many seeds and show where its real outcome falls
//! in the predicted distribution.
//!
//! The scenario holds the job, the fleet and the (calibrated) behaviour. Each replication is a
//! simulation of the scenario's fleet with its own seed (seed, seed + 1, ...): the fleet is the
//! same in every one, as the real one was, and the seed draws the fates (and the rates of Beta
//! probabilities). For each measure the report gives the real value, the predicted 5th, 50th
//! and 95th percentiles and the real value's percentile rank among the replications
//! (mid-rank: `100 * (#below + #equal / 2) / K`); a rank near 0 or 100 says the model is off.
//!
//! The real run's batches are rebuilt by the rule of the engine (targets in device id order,
//! batches consecutive slices of the predicted batch sizes), so failures per batch compare
//! batch by batch. Outcomes are compared through what the platform can tell: IoT Hub counts a
//! rejection as a failure, IoT Central every non-success as a failure.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use fleet_core::DeviceState;
use fleet_scenario::Scenario;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::record::{DeviceResult, History, Outcome, Platform};
use crate::synth;

/// How to backtest.
#[derive(Debug, Clone)]
pub struct BacktestOptions {
    /// Replications (default 200).
    pub replications: u32,
    /// The first seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Worker threads (default 1).
    pub threads: usize,
    /// The job of the scenario and of the results (default: the scenario's only job).
    pub job: Option<String>,
}

impl Default for BacktestOptions {
    fn default() -> Self {
        Self {
            replications: 200,
            seed: None,
            threads: 1,
            job: None,
        }
    }
}

/// A measure: the real value and the predicted distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// What (`duration_s`, `failed`, `batch 3 failed`, ...).
    pub name: String,
    /// The real value, where the results tell it.
    pub real: Option<f64>,
    /// The predicted 5th percentile.
    pub p5: f64,
    /// The predicted median.
    pub p50: f64,
    /// The predicted 95th percentile.
    pub p95: f64,
    /// The real value's percentile rank among the replications (0 to 100).
    pub rank: Option<f64>,
    /// Whether the real value lies in the 5-95 % band.
    pub inside: Option<bool>,
}

/// The cancellation threshold: whether and where it tripped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TripSummary {
    /// Whether the real run was cancelled.
    pub real_tripped: bool,
    /// The batch the real run was in when cancelled (from 0).
    pub real_batch: Option<u32>,
    /// The share of replications that tripped.
    pub predicted_probability: f64,
    /// Replications by the batch they tripped in.
    pub predicted_batches: BTreeMap<u32, u32>,
    /// The share of replications that did what the real run did (tripped in the same batch,
    /// or did not trip).
    pub same_as_real: f64,
}

/// The result of a backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    /// The schema version of this JSON (1).
    pub schema_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The job.
    pub job: String,
    /// The platform of the results.
    pub platform: Platform,
    /// Replications run.
    pub replications: u32,
    /// Their first seed.
    pub seed_first: u64,
    /// Devices in the real results.
    pub devices_real: u64,
    /// Targets of the job in the simulation.
    pub devices_predicted: u64,
    /// Duration and the per-device status mix.
    pub measures: Vec<Measure>,
    /// Failures (failed, rejected or timed out) per batch.
    pub batches: Vec<Measure>,
    /// The cancellation threshold.
    pub trip: TripSummary,
    /// Caveats.
    pub notes: Vec<String>,
}

impl BacktestReport {
    /// How many measures (the duration, the status mix and the failures per batch) lie outside
    /// their 5-95 % band, of how many the real results tell.
    pub fn outside(&self) -> (usize, usize) {
        let all = || self.measures.iter().chain(&self.batches);
        let outside = all().filter(|m| m.inside == Some(false)).count();
        let compared = all().filter(|m| m.inside.is_some()).count();
        (outside, compared)
    }
}

/// One replication's outcome.
#[derive(Debug, Clone, Default)]
struct Sample {
    duration_s: Option<f64>,
    mix: [f64; 6],
    batch_failed: Vec<f64>,
    batch_sizes: Vec<u32>,
    trip_batch: Option<u32>,
}

/// The status words of the mix, in order.
const MIX: [Outcome; 6] = [
    Outcome::Succeeded,
    Outcome::Failed,
    Outcome::Rejected,
    Outcome::TimedOut,
    Outcome::Cancelled,
    Outcome::NotTerminal,
];

/// An outcome as `platform` reports it.
fn seen_by(platform: Platform, o: Outcome) -> Outcome {
    match (platform, o) {
        (Platform::Central, Outcome::Rejected | Outcome::TimedOut) => Outcome::Failed,
        (Platform::Hub, Outcome::Rejected) => Outcome::Failed,
        // The simulator fails a device that stays offline past the connect timeout.
        (_, Outcome::Offline) => Outcome::Failed,
        (_, Outcome::Removed) => Outcome::Cancelled,
        (_, o) => o,
    }
}

fn mix_index(o: Outcome) -> usize {
    MIX.iter().position(|m| *m == o).unwrap_or(5)
}

/// Backtests `scenario`'s job against the real results in `history`.
pub fn backtest(
    scenario: &Scenario,
    history: &History,
    options: &BacktestOptions,
) -> Result<BacktestReport> {
    let job_index = job_index(scenario, options.job.as_deref())?;
    let job_id = scenario.jobs[job_index].id.clone();
    let real = real_devices(history, &job_id)?;
    let platform = real[0].platform;
    if options.replications == 0 {
        return Err(Error::invalid("--replications", "at least 1"));
    }
    let seed_first = options.seed.unwrap_or(scenario.file.seed);
    let samples = replicate(scenario, job_index, platform, seed_first, options)?;
    let sizes = samples[0].batch_sizes.clone();
    let real_sample = real_sample(history, &job_id, &real, &sizes);
    let mut measures = vec![measure(
        "duration_s",
        real_sample.duration_s,
        &samples,
        |s| s.duration_s,
    )];
    for (i, o) in MIX.iter().enumerate() {
        let real_value = Some(real_sample.mix[i]);
        measures.push(measure(o.as_str(), real_value, &samples, |s| {
            Some(s.mix[i])
        }));
    }
    let batches = (0..sizes.len())
        .map(|b| {
            let name = format!("batch {b} failed");
            measure(
                &name,
                real_sample.batch_failed.get(b).copied(),
                &samples,
                |s| s.batch_failed.get(b).copied(),
            )
        })
        .collect();
    let trip = trip_summary(&real_sample, &samples);
    let devices_predicted = sizes.iter().map(|s| u64::from(*s)).sum();
    let notes = notes(
        history,
        real.len() as u64,
        devices_predicted,
        platform,
        &real_sample,
    );
    Ok(BacktestReport {
        schema_version: 1,
        scenario: scenario.name(),
        job: job_id,
        platform,
        replications: options.replications,
        seed_first,
        devices_real: real.len() as u64,
        devices_predicted,
        measures,
        batches,
        trip,
        notes,
    })
}

fn job_index(scenario: &Scenario, job: Option<&str>) -> Result<usize> {
    match job {
        Some(id) => scenario
            .jobs
            .iter()
            .position(|j| j.id == id)
            .ok_or_else(|| Error::invalid("--job-id", format!("the scenario has no job {id:?}"))),
        None if scenario.jobs.len() == 1 => Ok(0),
        None => Err(Error::invalid(
            "--job-id",
            format!(
                "the scenario has {} jobs: name the one that ran",
                scenario.jobs.len()
            ),
        )),
    }
}

/// The results of the job: those naming it, or naming no job.
fn real_devices<'h>(history: &'h History, job: &str) -> Result<Vec<&'h DeviceResult>> {
    let named: Vec<&str> = history
        .devices
        .iter()
        .filter_map(|d| d.job.as_deref())
        .collect();
    let real: Vec<&DeviceResult> = history
        .devices
        .iter()
        .filter(|d| d.job.as_deref().is_none_or(|j| j == job))
        .collect();
    if real.is_empty() {
        let mut others = named;
        others.sort_unstable();
        others.dedup();
        return Err(Error::unusable(format!(
            "no per-device results of job {job:?} among the files (they name {others:?})"
        )));
    }
    Ok(real)
}

fn replicate(
    scenario: &Scenario,
    job: usize,
    platform: Platform,
    seed_first: u64,
    options: &BacktestOptions,
) -> Result<Vec<Sample>> {
    let k = options.replications;
    let next = AtomicU32::new(0);
    let slots: Vec<Mutex<Option<Result<Sample>>>> = (0..k).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..options.threads.clamp(1, k as usize) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= k {
                    return;
                }
                let seed = seed_first.wrapping_add(u64::from(i));
                let sample = synth::builder(scenario, seed).and_then(|b| {
                    let sim = b.build().map_err(|e| {
                        Error::unusable(format!("the scenario does not build: {e}"))
                    })?;
                    let result = sim
                        .try_run_with_progress(u64::MAX, &mut |_| {})
                        .map_err(|e| Error::unusable(e.to_string()))?;
                    Ok(sample(&result, job, platform))
                });
                *slots[i as usize].lock().expect("no worker panics") = Some(sample);
            });
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .expect("no worker panics")
                .expect("every replication ran")
        })
        .collect()
}

fn sample(result: &fleet_sim::SimResult, job: usize, platform: Platform) -> Sample {
    let j = &result.jobs[job];
    let mut mix = [0.0; 6];
    for row in result.device_rows(job) {
        let o = match row.state {
            DeviceState::Succeeded => Outcome::Succeeded,
            DeviceState::Failed => Outcome::Failed,
            DeviceState::Rejected => Outcome::Rejected,
            DeviceState::TimedOut => Outcome::TimedOut,
            DeviceState::Cancelled => Outcome::Cancelled,
            DeviceState::Pending | DeviceState::InFlight => Outcome::NotTerminal,
        };
        mix[mix_index(seen_by(platform, o))] += 1.0;
    }
    Sample {
        duration_s: j.duration_ms.map(|ms| ms as f64 / 1000.0),
        mix,
        batch_failed: j.batches.iter().map(|b| f64::from(b.failed)).collect(),
        batch_sizes: j.batches.iter().map(|b| b.size).collect(),
        trip_batch: j
            .threshold_trip
            .map(|t| t.batch)
            .or(j.abort_trip.map(|t| t.batch)),
    }
}

/// The real run in the same terms: its duration (the job's start and end, else its devices'
/// first dispatch and last end), status mix, failures per rebuilt batch, and trip.
fn real_sample(history: &History, job: &str, real: &[&DeviceResult], sizes: &[u32]) -> Sample {
    let info = history.jobs.iter().find(|j| j.id == job);
    let from_job = info.and_then(|j| Some((j.end_ms? - j.start_ms?) as f64 / 1000.0));
    let first = real.iter().filter_map(|d| d.dispatched_ms).min();
    let last = real.iter().filter_map(|d| d.ended_ms).max();
    let from_devices = first.zip(last).map(|(a, b)| (b - a) as f64 / 1000.0);
    let mut mix = [0.0; 6];
    for d in real {
        mix[mix_index(seen_by(d.platform, d.outcome))] += 1.0;
    }
    let mut sorted: Vec<&&DeviceResult> = real.iter().collect();
    sorted.sort_by(|a, b| a.device.cmp(&b.device));
    let mut batch_failed = Vec::with_capacity(sizes.len());
    let mut dispatched_batches = Vec::new();
    let mut at = 0usize;
    for (b, size) in sizes.iter().enumerate() {
        let slice = &sorted[at.min(sorted.len())..(at + *size as usize).min(sorted.len())];
        at += *size as usize;
        let failed = slice
            .iter()
            .filter(|d| {
                matches!(
                    d.outcome,
                    Outcome::Failed | Outcome::Rejected | Outcome::TimedOut | Outcome::Offline
                )
            })
            .count();
        batch_failed.push(failed as f64);
        if slice.iter().any(|d| d.outcome.is_fitted()) {
            dispatched_batches.push(b as u32);
        }
    }
    let cancelled = mix[mix_index(Outcome::Cancelled)] > 0.0
        || info
            .and_then(|j| j.status.as_deref())
            .is_some_and(|s| s.starts_with("cancel"));
    Sample {
        duration_s: from_job.or(from_devices),
        mix,
        batch_failed,
        batch_sizes: sizes.to_vec(),
        trip_batch: cancelled.then(|| dispatched_batches.last().copied().unwrap_or(0)),
    }
}

fn measure(
    name: &str,
    real: Option<f64>,
    samples: &[Sample],
    f: impl Fn(&Sample) -> Option<f64>,
) -> Measure {
    let mut v: Vec<f64> = samples.iter().filter_map(&f).collect();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| match v.len() {
        0 => f64::NAN,
        n => v[((p * n as f64).ceil() as usize).clamp(1, n) - 1],
    };
    let (p5, p50, p95) = (q(0.05), q(0.5), q(0.95));
    let rank = real.filter(|_| !v.is_empty()).map(|r| {
        let below = v.iter().filter(|x| **x < r).count() as f64;
        let equal = v.iter().filter(|x| **x == r).count() as f64;
        100.0 * (below + equal / 2.0) / v.len() as f64
    });
    Measure {
        name: name.to_string(),
        real,
        p5,
        p50,
        p95,
        rank,
        inside: real.filter(|_| !v.is_empty()).map(|r| p5 <= r && r <= p95),
    }
}

fn trip_summary(real: &Sample, samples: &[Sample]) -> TripSummary {
    let mut predicted_batches = BTreeMap::new();
    for s in samples {
        if let Some(b) = s.trip_batch {
            *predicted_batches.entry(b).or_insert(0) += 1;
        }
    }
    let k = samples.len() as f64;
    TripSummary {
        real_tripped: real.trip_batch.is_some(),
        real_batch: real.trip_batch,
        predicted_probability: predicted_batches.values().sum::<u32>() as f64 / k,
        same_as_real: samples
            .iter()
            .filter(|s| s.trip_batch == real.trip_batch)
            .count() as f64
            / k,
        predicted_batches,
    }
}

fn notes(
    history: &History,
    real: u64,
    predicted: u64,
    platform: Platform,
    r: &Sample,
) -> Vec<String> {
    let mut notes = Vec::new();
    if real != predicted {
        notes.push(format!(
            "the real job had {real} devices, the scenario's job targets {predicted}: is it the \
             same fleet and group?"
        ));
    }
    if r.duration_s.is_none() {
        notes.push(
            "the results tell no duration (IoT Central needs the job's start and end)".into(),
        );
    }
    match platform {
        Platform::Central => notes.push("IoT Central tells failures only: rejections and time-outs count as failed on both sides".into()),
        Platform::Hub => notes.push("IoT Hub does not tell rejections: they count as failed on both sides".into()),
        Platform::Aws => {}
    }
    if history.platforms().len() > 1 {
        notes.push(
            "the results mix platforms: each device is compared through its own platform's words"
                .into(),
        );
    }
    notes
}
