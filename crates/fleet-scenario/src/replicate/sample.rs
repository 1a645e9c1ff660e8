//! What one replication contributes to the summary: the same record whether the summary is
//! made on the machine that ran it or by `fleetsim merge` from a partial result file.
//!
//! Only integers, booleans and words: a partial result file written with `serde_json` and read
//! back gives the very same record, so a merged summary equals the unsharded one bit for bit.

use fleet_core::RunStatus;
use fleet_sim::{JobResult, SimResult};
use serde::{Deserialize, Serialize};

use crate::run::check_expectation;
use crate::scenario::Scenario;

/// One replication, reduced to what the summary reads. Small: K of them are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunSample {
    /// The replication index; the run's seed is `seed_first + index`.
    pub index: u32,
    /// Simulation events processed.
    pub events: u64,
    /// The run's trace hash, as 16 hexadecimal digits (a JSON number would lose bits in
    /// readers that parse numbers as doubles).
    #[serde(with = "hex_u64")]
    pub trace_hash: u64,
    /// The jobs in scenario order, then the reruns (`None`: the rerun was never created).
    pub jobs: Vec<Option<JobSample>>,
    /// Per scheduled job, in scenario order.
    pub schedules: Vec<ScheduleSample>,
    /// Per expectation entry, in file order: whether each of its checks held.
    pub entries: Vec<Vec<bool>>,
}

/// One job (or rerun, or run of a scheduled job) in one replication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobSample {
    /// The final status.
    pub status: RunStatus,
    /// Start to settlement, when the job settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// Target devices.
    pub total: u32,
    /// Devices that received the operation: neither pending nor cancelled at the end.
    pub dispatched: u32,
    /// Devices that succeeded.
    pub succeeded: u32,
    /// Devices that failed (failed, rejected or timed out).
    pub failed: u32,
    /// The batch (from 0) in which the cancellation threshold tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_batch: Option<u32>,
    /// The batch (from 0) in which an abort criterion tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_batch: Option<u32>,
}

impl JobSample {
    /// The batch in which the run was stopped by its threshold or an abort criterion (the
    /// earlier one, should both have tripped).
    pub fn stop_batch(&self) -> Option<u32> {
        match (self.threshold_batch, self.abort_batch) {
            (Some(t), Some(a)) => Some(t.min(a)),
            (t, a) => t.or(a),
        }
    }

    /// Failed devices as a percentage of the targets (0 without targets).
    pub fn failed_percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * f64::from(self.failed) / f64::from(self.total)
        }
    }
}

/// One scheduled job in one replication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleSample {
    /// Occurrences skipped.
    pub skipped: u32,
    /// Each run it created, in order.
    pub runs: Vec<JobSample>,
}

fn job_sample(j: &JobResult) -> JobSample {
    let c = &j.counts;
    JobSample {
        status: j.status,
        duration_ms: j.duration_ms,
        total: c.total,
        dispatched: c.total - c.pending - c.cancelled,
        succeeded: c.succeeded,
        failed: c.failed,
        threshold_batch: j.threshold_trip.map(|t| t.batch),
        abort_batch: j.abort_trip.map(|t| t.batch),
    }
}

/// The record of replication `index` of `scenario`, whose simulation gave `result`.
pub(crate) fn sample(scenario: &Scenario, index: u32, result: &SimResult) -> RunSample {
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
        .map(|s| ScheduleSample {
            skipped: s.skipped() as u32,
            runs: s
                .runs()
                .filter_map(|id| result.job(id))
                .map(job_sample)
                .collect(),
        })
        .collect();
    let entries = scenario
        .file
        .expect
        .iter()
        .map(|e| {
            check_expectation(e, result)
                .iter()
                .map(|c| c.passed)
                .collect()
        })
        .collect();
    RunSample {
        index,
        events: result.events_processed,
        trace_hash: result.trace_hash.0,
        jobs,
        schedules,
        entries,
    }
}

/// A `u64` as 16 lower-case hexadecimal digits.
mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{value:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        u64::from_str_radix(&text, 16)
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not 16 hexadecimal digits")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(threshold_batch: Option<u32>, abort_batch: Option<u32>) -> JobSample {
        JobSample {
            status: RunStatus::Cancelled,
            duration_ms: Some(1500),
            total: 8,
            dispatched: 6,
            succeeded: 3,
            failed: 3,
            threshold_batch,
            abort_batch,
        }
    }

    #[test]
    fn the_stop_is_the_earlier_trip() {
        assert_eq!(job(None, None).stop_batch(), None);
        assert_eq!(job(Some(2), None).stop_batch(), Some(2));
        assert_eq!(job(None, Some(1)).stop_batch(), Some(1));
        assert_eq!(job(Some(3), Some(1)).stop_batch(), Some(1));
        assert_eq!(job(None, None).failed_percent(), 37.5);
    }

    #[test]
    fn a_sample_round_trips_through_json() {
        let sample = RunSample {
            index: 7,
            events: 123,
            trace_hash: u64::MAX - 5,
            jobs: vec![Some(job(Some(1), None)), None],
            schedules: vec![ScheduleSample {
                skipped: 2,
                runs: vec![job(None, Some(0))],
            }],
            entries: vec![vec![true, false], vec![]],
        };
        let text = serde_json::to_string(&sample).unwrap();
        assert!(
            text.contains("\"trace_hash\":\"fffffffffffffffa\""),
            "{text}"
        );
        assert!(text.contains("\"status\":\"cancelled\""), "{text}");
        let back: RunSample = serde_json::from_str(&text).unwrap();
        assert_eq!(back, sample);
        let bad = text.replace("fffffffffffffffa", "xyz");
        let err = serde_json::from_str::<RunSample>(&bad).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"xyz\" is not 16 hexadecimal digits"),
            "{err}"
        );
    }
}
