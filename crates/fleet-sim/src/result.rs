//! [`SimResult`]: what a simulation reports.

use std::collections::BTreeMap;

use fleet_core::{Counts, DeviceState, RunStatus};
use serde::Serialize;

use crate::behaviour::SwarmDraw;
use crate::cohort::CohortDraw;
use crate::fleet::{DeviceId, Fleet};
use crate::hub::HubLimits;
use crate::trace::TraceHash;

/// The result of a simulation: the seed and trace hash (to replay and compare runs), and one
/// [`JobResult`] per job. Serialises to the stable JSON of the report (`--format json`); the
/// per-device rows and the final fleet are not serialised (use [`SimResult::device_rows`] and
/// [`SimResult::fleet`]).
#[derive(Debug, Clone, Serialize)]
pub struct SimResult {
    /// The seed the simulation ran with.
    pub seed: u64,
    /// The hash of the trace (see [`TraceHash`]).
    pub trace_hash: TraceHash,
    /// Events processed.
    pub events_processed: u64,
    /// The virtual time of the last event processed (or of the horizon, if one stopped it).
    pub end_ms: i64,
    /// The hub's limits, if a hub was modelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<HubLimits>,
    /// The fault mix drawn in swarm mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Vec<SwarmDraw>>,
    /// Which cohort faults ([`crate::CohortFault`]) the seed hit, one entry per cohort (empty
    /// without cohorts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cohorts: Vec<CohortDraw>,
    /// The UTC instant (ms since the Unix epoch) of virtual time 0
    /// ([`crate::SimBuilder::clock_start_ms`]).
    pub clock_start_ms: i64,
    /// The hub model's queues and refusals over virtual time (empty without a hub model).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hub_series: Vec<HubSample>,
    /// One entry per job, in the order they were added, then the runs of scheduled jobs in the
    /// order they were created.
    pub jobs: Vec<JobResult>,
    /// One entry per scheduled job, in the order they were added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleResult>,
    /// Every event processed, in order, if recording was asked for
    /// ([`crate::SimBuilder::record_events`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<TraceEvent>>,
    #[serde(skip)]
    pub(crate) fleet: Fleet,
}

/// What happened to one job.
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    /// The job id.
    pub id: String,
    /// The kind of operation (`property`, `command`, ...).
    pub operation: &'static str,
    /// The run's status word (`pending`, `running`, `stopped`, `paused`, `complete`,
    /// `cancelled`, `failed`); `pending` for a job that never started (still waiting for a hub
    /// slot when the simulation ended).
    pub status: RunStatus,
    /// The device counts at the end.
    pub counts: Counts,
    /// When the job was submitted.
    pub submitted_ms: i64,
    /// When its run started (after waiting for a hub job slot, if any).
    pub started_ms: Option<i64>,
    /// When its run settled (final status and nothing in flight).
    pub finished_ms: Option<i64>,
    /// `finished_ms - started_ms`.
    pub duration_ms: Option<i64>,
    /// How long it waited for a hub job slot.
    pub queued_ms: i64,
    /// One row per batch.
    pub batches: Vec<BatchRow>,
    /// The cancellation threshold's trip, if it tripped.
    pub threshold_trip: Option<TripRow>,
    /// The abort criterion that cancelled the run, if one did (AWS `abortConfig`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_trip: Option<AbortTripRow>,
    /// The pauses of the run by its group gates, in order (hawkBit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<PauseRow>,
    /// Failed devices by reason (name order).
    pub failure_reasons: BTreeMap<&'static str, u32>,
    /// Device state counts over virtual time, for charts (see [`Sample`]).
    pub series: Vec<Sample>,
    /// The commands sent to the run during the simulation and whether it accepted them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRow>,
    /// The AWS end behaviour, if its time came while the run had not settled (`None`: no end
    /// time, the run settled before it, or the simulation ended first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_behavior: Option<CommandRow>,
    /// How many times the run waited for a maintenance window to open (AWS).
    #[serde(skip_serializing_if = "is_zero")]
    pub window_waits: u32,
    /// For a run of a scheduled job: the scheduled job's id (IoT Central `scheduledJobId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_job_id: Option<String>,
    /// For a rerun: the id of the job whose failed devices it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
    #[serde(skip)]
    pub(crate) devices: DeviceResults,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What became of a scheduled job's occurrences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleResult {
    /// The scheduled job's id.
    pub id: String,
    /// Whether it was enabled.
    pub enabled: bool,
    /// Whether no occurrence remained and no run was active at the end (IoT Central
    /// `completed`).
    pub completed: bool,
    /// The time zone of its wall clock (an IANA name, or `UTC`).
    pub time_zone: String,
    /// Every occurrence that came, in order: one row of the report each.
    pub occurrences: Vec<OccurrenceRow>,
}

impl ScheduleResult {
    /// The ids of the runs created, in order.
    pub fn runs(&self) -> impl Iterator<Item = &str> {
        self.occurrences.iter().filter_map(|o| o.run.as_deref())
    }

    /// How many occurrences were skipped.
    pub fn skipped(&self) -> usize {
        self.occurrences.iter().filter(|o| o.run.is_none()).count()
    }
}

/// One occurrence of a scheduled job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OccurrenceRow {
    /// Its index in the schedule (0 is the schedule's start).
    pub occurrence: u32,
    /// When it came (virtual ms).
    pub at_ms: i64,
    /// The run it created (a job of [`SimResult::jobs`]), if it created one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Why it created none: `disabled`, or `run_active` (the previous run had not finished).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
    /// For `run_active`: the run that was still active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_run: Option<String>,
}

/// One batch of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchRow {
    /// Index, from 0.
    pub index: u32,
    /// Devices in the batch.
    pub size: u32,
    /// When it started.
    pub started_ms: Option<i64>,
    /// When its last device became terminal.
    pub finished_ms: Option<i64>,
    /// Devices that succeeded.
    pub succeeded: u32,
    /// Devices that failed, were rejected or timed out.
    pub failed: u32,
    /// Devices cancelled.
    pub cancelled: u32,
}

/// The trip of a cancellation threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TripRow {
    /// The batch whose failure reached the limit.
    pub batch: u32,
    /// When.
    pub at_ms: i64,
    /// Failures in scope then.
    pub failures: u32,
    /// The limit.
    pub limit: u32,
}

/// The trip of an abort criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AbortTripRow {
    /// Index of the criterion, from 0, in the order the job gives them.
    pub criterion: u32,
    /// Its failure type (`FAILED`, `REJECTED`, `TIMED_OUT`, `ALL`).
    pub failure_type: &'static str,
    /// The batch of the device whose outcome tripped it.
    pub batch: u32,
    /// When.
    pub at_ms: i64,
    /// Devices with a final outcome then.
    pub executed: u32,
    /// Of those, failures of the criterion's type.
    pub failures: u32,
}

/// One pause of a run by a group gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PauseRow {
    /// The batch whose gate paused the run.
    pub batch: u32,
    /// When.
    pub at_ms: i64,
    /// Why: `success_reached`, `below_success` or `error_condition`.
    pub reason: &'static str,
    /// Devices of the batch that had succeeded (`success_reached`, `below_success`) or failed
    /// (`error_condition`).
    pub count: u32,
    /// The number the gate compares it with.
    pub limit: u32,
}

/// The device counts of one job at one instant.
///
/// A series holds at most [`crate::SimBuilder::series_samples`] samples (default 500) whatever
/// the fleet size: the first at the run's start, then one every `step` ms (aligned to the
/// start) with the counts after every event up to that instant, and a last one when the run
/// settles or the simulation ends. When the series is full, every other sample is dropped and
/// the step doubles, so the samples stay evenly spaced and the result is deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// The instant.
    pub at_ms: i64,
    /// Pending devices.
    pub pending: u32,
    /// In-flight devices.
    pub in_flight: u32,
    /// Succeeded devices.
    pub succeeded: u32,
    /// Failed devices.
    pub failed: u32,
    /// Cancelled devices.
    pub cancelled: u32,
}

/// The hub model at an instant: operations queued in each token bucket (traffic shaping) and
/// the operations refused as throttled so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HubSample {
    /// The instant.
    pub at_ms: i64,
    /// Operations queued for a later send time: job device operations, twin updates, direct
    /// methods (4 KB chunks), in that order.
    pub queued: [f64; 3],
    /// Operations refused (429 ThrottlingException) from the start to this instant.
    pub throttled: u64,
}

/// One processed event, as recorded with [`crate::SimBuilder::record_events`] (the same
/// events, in the same order, that the trace hash folds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TraceEvent {
    /// When.
    pub at_ms: i64,
    /// `start` (a job submitted), `answer` (a device's or the hub's answer),
    /// `device_timeout`, `deadline`, `dispatch_timer` (the dispatch rate allows more) or
    /// `command`.
    pub kind: &'static str,
    /// Index of the job in [`SimResult::jobs`].
    pub job: u16,
    /// The target index within the job's run (`answer`, `device_timeout`), or the command's
    /// index (`command`).
    pub device: u32,
    /// The attempt (`answer`, `device_timeout`).
    pub attempt: u8,
    /// For an answer: `succeeded` or the [`Reason`] word.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
}

/// A command sent to a run and its fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRow {
    /// When.
    pub at_ms: i64,
    /// Which (`stop`, `resume`, `cancel`, `force_cancel`, `trigger_next_batch`).
    pub command: &'static str,
    /// Why the run refused it, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why a device's last attempt did not succeed (or why it never answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
#[non_exhaustive]
pub enum Reason {
    /// The device answered with an error.
    DeviceError = 1,
    /// The device refused the operation.
    Rejected = 2,
    /// The device did not answer a command or method within its response timeout.
    ResponseTimeout = 3,
    /// The run's per-device timeout passed first.
    DeviceTimeout = 4,
    /// The run's deadline (`max_execution_ms`) passed first.
    Deadline = 5,
    /// The device was offline (and did not connect in time).
    Offline = 6,
    /// The device crashed while handling the operation.
    Crashed = 7,
    /// The hub refused the operation (429 ThrottlingException).
    Throttled = 8,
    /// The device's template lacks the property, cloud property or command (or it has none).
    NotInTemplate = 9,
    /// The value does not match the property's schema.
    SchemaMismatch = 10,
}

impl Reason {
    /// A short snake-case word for reports and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceError => "device_error",
            Self::Rejected => "rejected",
            Self::ResponseTimeout => "response_timeout",
            Self::DeviceTimeout => "device_timeout",
            Self::Deadline => "deadline",
            Self::Offline => "offline",
            Self::Crashed => "crashed",
            Self::Throttled => "throttled",
            Self::NotInTemplate => "not_in_template",
            Self::SchemaMismatch => "schema_mismatch",
        }
    }

    /// The reason's one-byte code (1 to 10), for storage.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason with this code; `None` for 0 (success) or an unknown code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::from_u8(code)
    }

    /// The engine's outcome for an attempt that ended with this reason: `rejected` is a
    /// rejection; a response timeout, a crash, the device timeout and the deadline are time-outs;
    /// every other reason is a failure.
    pub fn outcome(self) -> fleet_core::Outcome {
        use fleet_core::Outcome;
        match self {
            Self::Rejected => Outcome::Rejected,
            Self::ResponseTimeout | Self::Crashed | Self::DeviceTimeout | Self::Deadline => {
                Outcome::TimedOut
            }
            Self::DeviceError
            | Self::Offline
            | Self::Throttled
            | Self::NotInTemplate
            | Self::SchemaMismatch => Outcome::Failed,
        }
    }

    /// The reason of a code ([`crate::Answer::reason`], [`crate::Fate`]); `None` for 0
    /// (success) or a code that is no reason.
    #[inline]
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::DeviceError,
            2 => Self::Rejected,
            3 => Self::ResponseTimeout,
            4 => Self::DeviceTimeout,
            5 => Self::Deadline,
            6 => Self::Offline,
            7 => Self::Crashed,
            8 => Self::Throttled,
            9 => Self::NotInTemplate,
            10 => Self::SchemaMismatch,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One device's result in one job (a CSV row). Borrowed: producing rows allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct DeviceRow<'a> {
    /// The device id (format it with `Display`).
    pub id: DeviceId<'a>,
    /// The device's index in the fleet.
    pub index: u32,
    /// Its final state in the run.
    pub state: DeviceState,
    /// How many times it was dispatched.
    pub attempts: u8,
    /// Why it failed, if it did (or why an in-flight device has not answered).
    pub reason: Option<Reason>,
}

/// The per-device results of one run, compact: the run's targets (fleet indices, or all),
/// states, attempts and reasons, one byte each per target.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceResults {
    /// Fleet index of each target; `None`: target `i` is device `i`.
    pub(crate) targets: Option<Vec<u32>>,
    pub(crate) states: Vec<DeviceState>,
    pub(crate) attempts: Vec<u8>,
    pub(crate) reasons: Vec<u8>,
}

impl DeviceResults {
    pub(crate) fn rows<'a>(&'a self, fleet: &'a Fleet) -> impl Iterator<Item = DeviceRow<'a>> + 'a {
        (0..self.states.len()).map(move |i| {
            let index = match &self.targets {
                Some(t) => t[i],
                None => i as u32,
            };
            DeviceRow {
                id: fleet.id(index),
                index,
                state: self.states[i],
                attempts: self.attempts[i],
                reason: if self.states[i] == DeviceState::Succeeded {
                    None
                } else {
                    Reason::from_u8(self.reasons[i])
                },
            }
        })
    }
}

impl SimResult {
    /// The fleet as the simulation left it (desired, reported, templates, tags).
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The result of job `id`.
    pub fn job(&self, id: &str) -> Option<&JobResult> {
        self.jobs.iter().find(|j| j.id == id)
    }

    /// The per-device rows of the job at `job` (an index into [`SimResult::jobs`]), in target
    /// order (device id order).
    pub fn device_rows(&self, job: usize) -> impl Iterator<Item = DeviceRow<'_>> + '_ {
        self.jobs[job].devices.rows(&self.fleet)
    }
}

impl JobResult {
    /// The per-device rows, given the result's fleet ([`SimResult::fleet`]).
    pub fn device_rows<'a>(&'a self, fleet: &'a Fleet) -> impl Iterator<Item = DeviceRow<'a>> + 'a {
        self.devices.rows(fleet)
    }
}
