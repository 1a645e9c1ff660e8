//! Reports of a scenario run: a terminal summary ([`text`]), JSON ([`Report::to_json`], schema in
//! `docs/report-format.md`), a self-contained HTML page with a chart ([`html`]) and per-device
//! CSV ([`csv`]); for replicated runs, a terminal summary ([`replications`]) and an HTML
//! summary with the distributions drawn ([`replications_html`]).

mod axis;
mod chart;
pub mod csv;
mod hover;
pub mod html;
mod hub_chart;
pub mod replications;
mod replications_chart;
pub mod replications_html;
mod schedule_chart;
pub mod text;

use fleet_core::Threshold;
use fleet_sim::{HubSpec, JobResult, ScheduleResult, SimResult};
use serde::Serialize;

use crate::expect::Check;
use crate::scenario::Scenario;
use crate::warnings::Warning;

/// The version of the JSON report's schema; it changes only when a field changes meaning or
/// goes away (fields may be added).
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run produced: the simulator's result, the expectation checks and timings.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The version of fleetsim that made the report.
    pub fleetsim_version: &'static str,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, if it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The seed of the run. Serialized once, by `result` (whose `seed` is the same).
    #[serde(skip)]
    pub seed: u64,
    /// Devices in the fleet.
    pub devices: u32,
    /// Wall-clock seconds the run took (the only field that varies between identical runs).
    pub wall_s: f64,
    /// Simulation events processed per wall-clock second.
    pub events_per_s: f64,
    /// Whether every expectation held.
    pub passed: bool,
    /// Each expectation check, in file order.
    pub expectations: Vec<Check>,
    /// The scenario's warnings ([`crate::warnings::check`]) and the result's
    /// ([`crate::warnings::after_run`]).
    pub warnings: Vec<Warning>,
    /// The simulator's result: `trace_hash`, `events_processed`, `end_ms` and `jobs`.
    #[serde(flatten)]
    pub result: SimResult,
    /// Each job's cancellation threshold, as `(per_batch, limit for the whole run or for a
    /// full batch)`, for charts.
    #[serde(skip)]
    pub thresholds: Vec<Option<Threshold>>,
    /// Each job's dialect (`central`, `hub`, `aws`, `hawkbit`), for the per-device words.
    #[serde(skip)]
    pub dialects: Vec<&'static str>,
    /// The scenario's hub model, if any (its tier, units and queue wait, for the text report).
    #[serde(skip)]
    pub hub: Option<HubSpec>,
}

impl Report {
    /// Assembles a report.
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        devices: u32,
        wall_s: f64,
        result: SimResult,
        expectations: Vec<Check>,
    ) -> Self {
        // The runs of scheduled jobs and the reruns come after the jobs: a run's threshold is
        // its schedule's; a rerun's threshold and dialect are its job's.
        let mut thresholds = scenario.thresholds.clone();
        let mut dialects = scenario.dialects.clone();
        for job in result.jobs.iter().skip(scenario.jobs.len()) {
            if let Some(source) = job
                .rerun_of
                .as_ref()
                .and_then(|id| scenario.jobs.iter().position(|j| &j.id == id))
            {
                thresholds.push(scenario.thresholds[source]);
                dialects.push(scenario.dialects[source]);
                continue;
            }
            let schedule = job
                .scheduled_job_id
                .as_ref()
                .and_then(|id| scenario.scheduled.iter().position(|s| &s.job.id == id));
            thresholds.push(schedule.and_then(|s| scenario.scheduled_thresholds[s]));
            dialects.push("central");
        }
        // The run's own fleet: generating the scenario's again would cost a second fleet.
        let mut warnings = crate::warnings::check_with(scenario, Some(result.fleet()));
        warnings.extend(crate::warnings::after_run(scenario, &result));
        let events_per_s = if wall_s > 0.0 {
            result.events_processed as f64 / wall_s
        } else {
            0.0
        };
        Self {
            schema_version: SCHEMA_VERSION,
            fleetsim_version: env!("CARGO_PKG_VERSION"),
            scenario: scenario.name(),
            file: scenario.path.as_ref().map(|p| p.display().to_string()),
            seed,
            devices,
            wall_s,
            events_per_s,
            passed: expectations.iter().all(|c| c.passed),
            expectations,
            warnings,
            result,
            thresholds,
            dialects,
            hub: scenario.file.hub.clone(),
        }
    }

    /// The rows of a scheduled job's occurrence table: one per occurrence, with its run.
    pub fn occurrence_lines<'a>(&'a self, schedule: &'a ScheduleResult) -> Vec<OccurrenceLine<'a>> {
        let r = &self.result;
        schedule
            .occurrences
            .iter()
            .map(|o| OccurrenceLine {
                number: o.occurrence + 1,
                at_ms: o.at_ms,
                wall: wall_clock(r.clock_start_ms + o.at_ms, &schedule.time_zone),
                run: o.run.as_deref().and_then(|id| r.job(id)),
                skipped: o.skipped.map(|why| match (why, &o.active_run) {
                    ("run_active", Some(run)) => format!("skipped: {run} still active"),
                    ("disabled", _) => "skipped: disabled".to_string(),
                    (why, _) => format!("skipped: {why}"),
                }),
            })
            .collect()
    }
}

/// One occurrence of a scheduled job, for the text and HTML tables.
#[derive(Debug, Clone)]
pub struct OccurrenceLine<'a> {
    /// 1 for the schedule's start.
    pub number: u32,
    /// Virtual time.
    pub at_ms: i64,
    /// The wall-clock time in the schedule's time zone (`2026-03-01 02:00 CET`).
    pub wall: String,
    /// The run it created.
    pub run: Option<&'a JobResult>,
    /// Why it created none.
    pub skipped: Option<String>,
}

/// UTC instant `ms` on the wall clock of time zone `tz` (an IANA name or `UTC`).
pub(crate) fn wall_clock(ms: i64, tz: &str) -> String {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.to_zoned(zone).strftime("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.expectations.iter().filter(|c| !c.passed)
    }
}

/// Virtual milliseconds as `1h02m03.4s`, `2m05.0s` or `4.25s`.
pub(crate) fn duration(ms: i64) -> String {
    let s = ms as f64 / 1000.0;
    if s < 60.0 {
        format!("{s:.2}s")
    } else if s < 3600.0 {
        format!("{}m{:04.1}s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!(
            "{}h{:02}m{:04.1}s",
            (s / 3600.0).floor(),
            ((s % 3600.0) / 60.0).floor() as u32,
            s % 60.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(4_250), "4.25s");
        assert_eq!(duration(125_000), "2m05.0s");
        assert_eq!(duration(3_723_400), "1h02m03.4s");
    }
}
