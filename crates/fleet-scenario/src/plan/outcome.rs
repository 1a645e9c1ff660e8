//! What one replication says about a plan ([`Outcome`]), and the summaries of a plan's
//! replications under the healthy and the bad rollout.
//!
//! # Merging
//!
//! A plan's replications are kept as outcomes indexed by replication (replication `i` ran seed
//! `seed + i`), never as running totals: the summaries are recomputed from them. So results
//! computed in parts (shards of the replication indices) merge exactly by putting each
//! outcome at its index, and the summary of the merged outcomes is the summary one machine
//! would have computed (`docs/risk.md`, "Beyond one machine").

use std::collections::BTreeMap;

use fleet_sim::SimResult;
use serde::{Deserialize, Serialize};

use crate::plan::interval::{quantile_interval, wilson, Interval, Z_95};
use crate::replicate::Percentiles;

/// The job's fate in one replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether the plan's safety stopped the run: its cancellation threshold or an abort
    /// criterion tripped, or a group gate paused it on its error condition.
    pub stopped: bool,
    /// The batch (from 1) where it stopped, if it did.
    pub stop_batch: Option<u32>,
    /// The run's duration, start to settlement, if it settled.
    pub duration_ms: Option<i64>,
    /// Devices that received the operation (dispatched at least once).
    pub received: u32,
    /// Devices that failed (failed, rejected or timed out).
    pub failed: u32,
    /// Whether a cohort fault of the behaviour hit in this replication.
    pub cohort_hit: bool,
}

impl Outcome {
    /// The outcome of job `job` in `result` (a job that never ran has none).
    pub fn of(result: &SimResult, job: &str) -> Option<Self> {
        let index = result.jobs.iter().position(|j| j.id == job)?;
        let j = &result.jobs[index];
        // The first stop in time: a threshold trip, an abort trip, an error-condition pause.
        let mut stops: Vec<(i64, u32)> = Vec::new();
        if let Some(t) = j.threshold_trip {
            stops.push((t.at_ms, t.batch));
        }
        if let Some(a) = j.abort_trip {
            stops.push((a.at_ms, a.batch));
        }
        if let Some(p) = j.pauses.iter().find(|p| p.reason == "error_condition") {
            stops.push((p.at_ms, p.batch));
        }
        let first = stops.iter().min().map(|&(_, batch)| batch + 1);
        let received = result.device_rows(index).filter(|r| r.attempts > 0).count() as u32;
        Some(Self {
            stopped: first.is_some(),
            stop_batch: first,
            duration_ms: j.duration_ms,
            received,
            failed: j.counts.failed,
            cohort_hit: result.cohorts.iter().any(|c| c.hit),
        })
    }
}

/// The healthy rollout under one plan: how often it stops anyway, and how long it takes.
#[derive(Debug, Clone, Serialize)]
pub struct HealthySummary {
    /// Replications run.
    pub replications: u32,
    /// Replications in which the plan stopped the healthy rollout (false stops).
    pub false_stops: u32,
    /// `false_stops / replications`.
    pub false_stop_probability: f64,
    /// Its 95 % Wilson interval.
    pub false_stop_interval: Interval,
    /// False stops by the batch (from 1) where they happened.
    pub false_stop_batches: BTreeMap<u32, u32>,
    /// Duration in virtual seconds of the runs that were not stopped and settled.
    pub duration_s: Option<Percentiles>,
    /// The 95 % interval of the duration's 90th percentile.
    pub duration_p90_interval_s: Option<Interval>,
    /// Replications in which a cohort fault hit.
    pub cohort_hits: u32,
}

/// The bad rollout under one plan: how often the plan stops it, where, and how far it spread.
#[derive(Debug, Clone, Serialize)]
pub struct BadSummary {
    /// Replications run.
    pub replications: u32,
    /// Replications in which the plan stopped the bad rollout.
    pub stops: u32,
    /// `stops / replications`.
    pub stop_probability: f64,
    /// Its 95 % Wilson interval.
    pub stop_interval: Interval,
    /// Stops by the batch (from 1) where they happened.
    pub stop_batches: BTreeMap<u32, u32>,
    /// Blast radius: devices that received the bad operation, over every replication (a run
    /// that was not stopped counts every device it reached).
    pub received: Percentiles,
    /// The 95 % interval of the blast radius's 90th percentile.
    pub received_p90_interval: Interval,
    /// Devices that received it and failed.
    pub failed: Percentiles,
}

/// The batches (from 1) of the stopped outcomes, with counts.
fn batches(outcomes: &[Outcome]) -> BTreeMap<u32, u32> {
    let mut out = BTreeMap::new();
    for b in outcomes.iter().filter_map(|o| o.stop_batch) {
        *out.entry(b).or_insert(0) += 1;
    }
    out
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// The healthy summary of `outcomes` (in replication order).
pub(crate) fn healthy(outcomes: &[Outcome]) -> HealthySummary {
    let n = outcomes.len() as u32;
    let stops = outcomes.iter().filter(|o| o.stopped).count() as u32;
    let durations = sorted(
        outcomes
            .iter()
            .filter(|o| !o.stopped)
            .filter_map(|o| o.duration_ms.map(|ms| ms as f64 / 1000.0))
            .collect(),
    );
    HealthySummary {
        replications: n,
        false_stops: stops,
        false_stop_probability: share(stops, n),
        false_stop_interval: wilson(stops, n, Z_95),
        false_stop_batches: batches(outcomes),
        duration_s: Percentiles::of(&durations),
        duration_p90_interval_s: quantile_interval(&durations, 0.9, Z_95),
        cohort_hits: outcomes.iter().filter(|o| o.cohort_hit).count() as u32,
    }
}

/// The bad summary of `outcomes` (in replication order, at least one).
pub(crate) fn bad(outcomes: &[Outcome]) -> BadSummary {
    let n = outcomes.len() as u32;
    let stops = outcomes.iter().filter(|o| o.stopped).count() as u32;
    let received = sorted(outcomes.iter().map(|o| f64::from(o.received)).collect());
    let failed: Vec<f64> = outcomes.iter().map(|o| f64::from(o.failed)).collect();
    let none = Interval {
        low: f64::NEG_INFINITY,
        high: f64::INFINITY,
    };
    BadSummary {
        replications: n,
        stops,
        stop_probability: share(stops, n),
        stop_interval: wilson(stops, n, Z_95),
        stop_batches: batches(outcomes),
        received: Percentiles::of(&received).unwrap_or(ZERO),
        received_p90_interval: quantile_interval(&received, 0.9, Z_95).unwrap_or(none),
        failed: Percentiles::of(&failed).unwrap_or(ZERO),
    }
}

const ZERO: Percentiles = Percentiles {
    min: 0.0,
    p50: 0.0,
    p90: 0.0,
    p99: 0.0,
    max: 0.0,
    mean: 0.0,
};

fn share(k: u32, n: u32) -> f64 {
    match n {
        0 => 0.0,
        n => f64::from(k) / f64::from(n),
    }
}
