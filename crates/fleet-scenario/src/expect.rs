//! `expect` blocks: assertions on a job's outcome, checked after the run.
//!
//! An entry names a job, a run of a scheduled job (`nightly-3`), or a scheduled job: then
//! `runs` and `skipped` count its occurrences, and every other assertion must hold for each of
//! its runs (one check per assertion, over all the runs).

use std::fmt;

use fleet_core::{Counts, RunStatus};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// A number or a range of numbers that a measured value must fall in (bounds inclusive).
///
/// Written as a plain number (`failed = 0`) or a table with `min` and/or `max`
/// (`failed = { max = 100 }`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound {
    /// The smallest accepted value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The largest accepted value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Bound {
    /// Whether `value` is within the bound.
    pub fn contains(&self, value: f64) -> bool {
        self.min.is_none_or(|m| value >= m) && self.max.is_none_or(|m| value <= m)
    }

    fn check(&self, field: &str) -> Result<()> {
        let ok = match (self.min, self.max) {
            (None, None) => return Err(Error::invalid(field, "a bound needs `min` or `max`")),
            (Some(lo), Some(hi)) => lo.is_finite() && hi.is_finite() && lo <= hi,
            (Some(v), None) | (None, Some(v)) => v.is_finite(),
        };
        if !ok {
            return Err(Error::invalid(field, format!("impossible bound {self}")));
        }
        Ok(())
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) if lo == hi => write!(f, "{lo}"),
            (Some(lo), Some(hi)) => write!(f, "{lo} to {hi}"),
            (Some(lo), None) => write!(f, ">= {lo}"),
            (None, Some(hi)) => write!(f, "<= {hi}"),
            (None, None) => write!(f, "anything"),
        }
    }
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct BoundVisitor;

        impl<'de> Visitor<'de> for BoundVisitor {
            type Value = Bound;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, or a table with `min` and/or `max`")
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Bound, E> {
                Ok(Bound {
                    min: Some(v),
                    max: Some(v),
                })
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Bound, E> {
                self.visit_f64(v as f64)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Bound, E> {
                self.visit_f64(v as f64)
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Bound, A::Error> {
                let mut bound = Bound {
                    min: None,
                    max: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => bound.min = Some(map.next_value()?),
                        "max" => bound.max = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["min", "max"])),
                    }
                }
                Ok(bound)
            }
        }

        deserializer.deserialize_any(BoundVisitor)
    }
}

/// Assertions on one job's outcome (or on each run of a scheduled job). Every field but `job`
/// is optional; each one given is checked.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The id of the job.
    pub job: String,
    /// The final status: `complete`, `cancelled`, `stopped`, `failed` (IoT Central words;
    /// `completed` and `canceled` are accepted too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The run's targets (for a rerun: the devices that failed in its job's run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Bound>,
    /// Devices that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<Bound>,
    /// Devices that failed, were rejected or timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Bound>,
    /// Devices cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Bound>,
    /// Succeeded devices as a percentage of the targets (survives `--devices`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_percent: Option<Bound>,
    /// Failed devices as a percentage of the targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_percent: Option<Bound>,
    /// Cancelled devices as a percentage of the targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_percent: Option<Bound>,
    /// Whether the cancellation threshold tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_tripped: Option<bool>,
    /// The batch (numbered from 1) in which the threshold tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_batch: Option<u32>,
    /// The job's duration in virtual seconds, from start until it settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<Bound>,
    /// Whether an abort criterion (AWS `abortConfig`) cancelled the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_tripped: Option<bool>,
    /// Whether a group gate (hawkBit) paused the job at least once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// How many times the run waited for a maintenance window to open (AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_waits: Option<Bound>,
    /// For a scheduled job: the runs its occurrences created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<Bound>,
    /// For a scheduled job: the occurrences that created no run (disabled, or the previous run
    /// still active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Bound>,
    /// The share of replications (0 to 1) in which every other assertion of this entry must
    /// hold together (`--replications`). Default 1: it must hold in every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// The facts about a job's outcome that expectations are checked against.
#[derive(Debug, Clone, Copy)]
pub struct JobFacts<'a> {
    /// The job's id.
    pub id: &'a str,
    /// Its final status.
    pub status: RunStatus,
    /// Its final counts.
    pub counts: Counts,
    /// Start to settlement in virtual milliseconds, if it settled.
    pub duration_ms: Option<i64>,
    /// The batch (from 0) where the threshold tripped.
    pub trip_batch: Option<u32>,
    /// Whether an abort criterion cancelled the job.
    pub abort_tripped: bool,
    /// Whether a group gate paused the job at least once.
    pub paused: bool,
    /// How many times the run waited for a maintenance window.
    pub window_waits: u32,
}

/// The result of one check of one expectation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The job.
    pub job: String,
    /// What was checked (`status`, `failed_percent`, ...).
    pub what: String,
    /// What the scenario expects.
    pub expected: String,
    /// What the run produced.
    pub actual: String,
    /// Whether it held.
    pub passed: bool,
}

/// Parses a status word of an expectation: the engine's words, and `completed` and
/// `canceled` as IoT Hub and AWS spell them.
pub fn parse_status(word: &str) -> Option<RunStatus> {
    match word {
        "completed" => Some(RunStatus::Complete),
        "canceled" => Some(RunStatus::Cancelled),
        _ => word.parse().ok(),
    }
}

impl Expectation {
    /// Checks the expectation's own values (status words, bounds); `field` is its path.
    pub fn validate(&self, field: &str) -> Result<()> {
        if let Some(p) = self.probability {
            if !(p.is_finite() && p > 0.0 && p <= 1.0) {
                return Err(Error::invalid(
                    format!("{field}.probability"),
                    format!("{p} is not a probability in (0, 1]"),
                ));
            }
        }
        if let Some(word) = &self.status {
            if parse_status(word).is_none() {
                return Err(Error::invalid(
                    format!("{field}.status"),
                    format!("unknown status {word:?}; expected one of pending, running, stopped, paused, complete, cancelled, failed"),
                ));
            }
        }
        if self.threshold_batch == Some(0) {
            return Err(Error::invalid(
                format!("{field}.threshold_batch"),
                "batches are numbered from 1",
            ));
        }
        for (name, bound) in self.bounds() {
            if let Some(b) = bound {
                b.check(&format!("{field}.{name}"))?;
            }
        }
        Ok(())
    }

    fn bounds(&self) -> [(&'static str, Option<Bound>); 11] {
        [
            ("total", self.total),
            ("succeeded", self.succeeded),
            ("failed", self.failed),
            ("cancelled", self.cancelled),
            ("succeeded_percent", self.succeeded_percent),
            ("failed_percent", self.failed_percent),
            ("cancelled_percent", self.cancelled_percent),
            ("duration_s", self.duration_s),
            ("window_waits", self.window_waits),
            ("runs", self.runs),
            ("skipped", self.skipped),
        ]
    }

    /// The share of runs in which the entry must hold (default 1).
    pub fn required_probability(&self) -> f64 {
        self.probability.unwrap_or(1.0)
    }

    /// Each assertion of this entry as `(what, expected)`, in the order
    /// [`Self::check_schedule`] (`runs`, `skipped`, then the rest) and [`Self::check`] return
    /// them.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.schedule_bounds()
            .map(|(what, b)| (what.to_string(), b.to_string()))
            .chain(
                self.check(&JobFacts::nothing(&self.job))
                    .into_iter()
                    .map(|c| (c.what, c.expected)),
            )
            .collect()
    }

    /// `runs` and `skipped`, where given.
    fn schedule_bounds(&self) -> impl Iterator<Item = (&'static str, Bound)> {
        [("runs", self.runs), ("skipped", self.skipped)]
            .into_iter()
            .filter_map(|(what, b)| b.map(|b| (what, b)))
    }

    /// Checks the entry against a scheduled job: `runs` and `skipped` against its occurrences,
    /// then each other assertion against every run (`runs`: the facts of each run created, in
    /// order). An assertion holds when it holds for every run; its `actual` is the range over
    /// the runs, or the first run where it failed. With no run, the per-run assertions fail.
    pub fn check_schedule(
        &self,
        id: &str,
        runs_created: usize,
        skipped: usize,
        runs: &[JobFacts<'_>],
    ) -> Vec<Check> {
        let mut checks: Vec<Check> = self
            .schedule_bounds()
            .map(|(what, b)| {
                let n = if what == "runs" {
                    runs_created
                } else {
                    skipped
                };
                Check {
                    job: id.to_string(),
                    what: what.to_string(),
                    expected: b.to_string(),
                    actual: n.to_string(),
                    passed: b.contains(n as f64),
                }
            })
            .collect();
        let per_run: Vec<Vec<Check>> = runs.iter().map(|f| self.check(f)).collect();
        for (k, template) in self.check(&JobFacts::nothing(id)).into_iter().enumerate() {
            let column = per_run.iter().map(|checks| &checks[k]);
            let (actual, passed) = match column.clone().find(|c| !c.passed) {
                Some(c) => (format!("{} in {}", c.actual, c.job), false),
                None if runs.is_empty() => ("no run".to_string(), false),
                None => (summary(column.map(|c| c.actual.as_str())), true),
            };
            checks.push(Check {
                job: id.to_string(),
                what: format!("each run {}", template.what),
                expected: template.expected,
                actual,
                passed,
            });
        }
        checks
    }

    /// Checks every assertion of this expectation against `facts`, in a fixed order.
    pub fn check(&self, facts: &JobFacts<'_>) -> Vec<Check> {
        let mut checks = Vec::new();
        let mut push = |what: &str, expected: String, actual: String, passed: bool| {
            checks.push(Check {
                job: facts.id.to_string(),
                what: what.to_string(),
                expected,
                actual,
                passed,
            })
        };
        if let Some(word) = &self.status {
            let expected = parse_status(word);
            push(
                "status",
                word.clone(),
                facts.status.to_string(),
                expected == Some(facts.status),
            );
        }
        let c = facts.counts;
        let percent = |n: u32| {
            if c.total == 0 {
                0.0
            } else {
                100.0 * f64::from(n) / f64::from(c.total)
            }
        };
        let measured = [
            f64::from(c.total),
            f64::from(c.succeeded),
            f64::from(c.failed),
            f64::from(c.cancelled),
            percent(c.succeeded),
            percent(c.failed),
            percent(c.cancelled),
            facts.duration_ms.map_or(f64::NAN, |ms| ms as f64 / 1000.0),
            f64::from(facts.window_waits),
        ];
        // `runs` and `skipped` are the scheduled job's, checked by `check_schedule`.
        for ((name, bound), value) in self.bounds().into_iter().zip(measured) {
            if let Some(b) = bound {
                let actual = if value.is_nan() {
                    "not settled".to_string()
                } else {
                    format_number(value)
                };
                push(name, b.to_string(), actual, b.contains(value));
            }
        }
        if let Some(tripped) = self.threshold_tripped {
            let actual = facts.trip_batch.is_some();
            push(
                "threshold_tripped",
                tripped.to_string(),
                actual.to_string(),
                tripped == actual,
            );
        }
        if let Some(batch) = self.threshold_batch {
            let actual = facts.trip_batch.map(|b| b + 1);
            push(
                "threshold_batch",
                batch.to_string(),
                actual.map_or("not tripped".to_string(), |b| b.to_string()),
                actual == Some(batch),
            );
        }
        for (what, expected, actual) in [
            ("abort_tripped", self.abort_tripped, facts.abort_tripped),
            ("paused", self.paused, facts.paused),
        ] {
            if let Some(expected) = expected {
                push(
                    what,
                    expected.to_string(),
                    actual.to_string(),
                    expected == actual,
                );
            }
        }
        checks
    }
}

impl<'a> JobFacts<'a> {
    /// The facts of a job that never ran: for listing an entry's assertions.
    fn nothing(id: &'a str) -> Self {
        JobFacts {
            id,
            status: RunStatus::Pending,
            counts: Counts::default(),
            duration_ms: None,
            trip_batch: None,
            abort_tripped: false,
            paused: false,
            window_waits: 0,
        }
    }
}

/// The values an assertion measured over several runs: `low to high (n runs)` for numbers, the
/// value for a value all runs share.
fn summary<'a>(actuals: impl Iterator<Item = &'a str>) -> String {
    let actuals: Vec<&str> = actuals.collect();
    let n = actuals.len();
    let numbers: Option<Vec<f64>> = actuals.iter().map(|a| a.parse().ok()).collect();
    match numbers {
        Some(v) if !v.is_empty() => {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if lo == hi {
                format!("{} in all {n} runs", format_number(lo))
            } else {
                format!(
                    "{} to {} over {n} runs",
                    format_number(lo),
                    format_number(hi)
                )
            }
        }
        _ if actuals.windows(2).all(|w| w[0] == w[1]) => {
            format!("{} in all {n} runs", actuals.first().unwrap_or(&""))
        }
        _ => format!("held in all {n} runs"),
    }
}

/// A number for people: integers without a fraction, others with up to three decimals.
pub(crate) fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: RunStatus, failed: u32, trip: Option<u32>) -> JobFacts<'static> {
        JobFacts {
            id: "job",
            status,
            counts: Counts {
                total: 100,
                pending: 0,
                in_flight: 0,
                succeeded: 100 - failed - 10,
                failed,
                cancelled: 10,
            },
            duration_ms: Some(90_500),
            trip_batch: trip,
            abort_tripped: false,
            paused: false,
            window_waits: 0,
        }
    }

    fn expectation(toml_text: &str) -> Expectation {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn each_assertion_passes_and_fails_on_the_facts() {
        let e = expectation(
            "job = 'job'\nstatus = 'cancelled'\nfailed = { max = 5 }\nfailed_percent = 5\nthreshold_batch = 2\nduration_s = { min = 90, max = 91 }",
        );
        let checks = e.check(&facts(RunStatus::Cancelled, 5, Some(1)));
        assert_eq!(checks.len(), 5);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        let checks = e.check(&facts(RunStatus::Complete, 6, None));
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.what.as_str())
            .collect();
        assert_eq!(
            failed,
            ["status", "failed", "failed_percent", "threshold_batch"]
        );
    }

    #[test]
    fn total_counts_the_targets() {
        let e = expectation("job = 'job'\ntotal = 100\nfailed = 5");
        let checks = e.check(&facts(RunStatus::Complete, 5, None));
        assert_eq!(checks[0].what, "total");
        assert_eq!(checks[0].actual, "100");
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        let e = expectation("job = 'job'\ntotal = { max = 99 }");
        assert!(!e.check(&facts(RunStatus::Complete, 5, None))[0].passed);
    }

    #[test]
    fn abort_and_pause_assertions() {
        let e = expectation("job = 'job'\nabort_tripped = true\npaused = false\nstatus = 'paused'");
        let mut f = facts(RunStatus::Paused, 5, None);
        f.abort_tripped = true;
        let checks = e.check(&f);
        assert_eq!(checks.len(), 3);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        f.paused = true;
        f.abort_tripped = false;
        let failed: Vec<String> = e
            .check(&f)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.what)
            .collect();
        assert_eq!(failed, ["abort_tripped", "paused"]);
    }

    #[test]
    fn bad_expectations_are_rejected_with_their_field() {
        let e = expectation("job = 'j'\nstatus = 'done'");
        assert_eq!(
            e.validate("expect[0]").unwrap_err().field(),
            Some("expect[0].status")
        );
        let e = expectation("job = 'j'\nfailed = { min = 5, max = 1 }");
        assert_eq!(
            e.validate("expect[0]").unwrap_err().field(),
            Some("expect[0].failed")
        );
        assert!(toml::from_str::<Expectation>("job = 'j'\nfailed = { maxi = 5 }").is_err());
        assert!(toml::from_str::<Expectation>("job = 'j'\nfialed = 5").is_err());
    }
}
