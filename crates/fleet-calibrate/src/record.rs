//! What the readers produce: one [`DeviceResult`] per device and job, the [`JobInfo`] of
//! the jobs, gathered in a [`History`].

use std::path::PathBuf;

use serde::Serialize;

/// The platform an export came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Azure IoT Hub (`SELECT * FROM devices.jobs`, `/jobs/v2/{id}`).
    Hub,
    /// Azure IoT Central (`/api/jobs/{id}/devices`, `/api/jobs/{id}`).
    Central,
    /// AWS IoT Jobs (`list-job-executions-for-job`, `describe-job-execution`).
    Aws,
}

impl Platform {
    /// Whether its per-device results tell a rejection from a failure (AWS `REJECTED`).
    pub fn tells_rejections(self) -> bool {
        self == Self::Aws
    }

    /// Whether its per-device results tell a time-out from a failure (AWS `TIMED_OUT`, IoT
    /// Hub time-out error codes).
    pub fn tells_timeouts(self) -> bool {
        matches!(self, Self::Aws | Self::Hub)
    }

    /// Whether its per-device results carry the times of each device.
    pub fn has_times(self) -> bool {
        matches!(self, Self::Aws | Self::Hub)
    }

    /// The platform's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hub => "IoT Hub",
            Self::Central => "IoT Central",
            Self::Aws => "AWS IoT",
        }
    }
}

/// What became of one device in one job, in fleetsim's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The device did what was asked.
    Succeeded,
    /// The device answered with an error (or, where the platform cannot tell, any failure).
    Failed,
    /// The device refused the operation (AWS `REJECTED`).
    Rejected,
    /// The device did not answer in time.
    TimedOut,
    /// The device was not connected when the job reached it and did not connect in time (IoT
    /// Hub `DeviceNotOnline`, 404103): a fact of the fleet's connectivity, not of the device's
    /// code, so it is left out of the rates and the latency (an imported fleet's connection
    /// facts, or an `offline` rule, model it).
    Offline,
    /// The job cancelled the device before it answered (never dispatched, or force-cancelled).
    Cancelled,
    /// The device was removed from the job (AWS `REMOVED`).
    Removed,
    /// Not finished when the export was taken (pending, queued, scheduled, running).
    NotTerminal,
}

impl Outcome {
    /// The word in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::TimedOut => "timed_out",
            Self::Offline => "offline",
            Self::Cancelled => "cancelled",
            Self::Removed => "removed",
            Self::NotTerminal => "not_terminal",
        }
    }

    /// Whether the device's own behaviour decided it: the outcomes that rates are fitted from.
    pub fn is_fitted(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Rejected | Self::TimedOut
        )
    }

    /// Whether the device answered (so its time is a latency, not a censored wait).
    pub fn answered(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Rejected)
    }
}

/// Where a record was read: the index of its file in [`History::files`], its number in the
/// file (1-based) and the line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Place {
    /// Index into [`History::files`].
    pub file: u32,
    /// The record's number in its file, from 1.
    pub record: u64,
    /// The line it starts on, from 1.
    pub line: u64,
}

/// One device's result in one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceResult {
    /// The device id (AWS: the thing name from `thingArn`).
    pub device: String,
    /// The job id, where the export names it.
    pub job: Option<String>,
    /// Where it came from.
    pub platform: Platform,
    /// What became of the device.
    pub outcome: Outcome,
    /// When the job dispatched to the device (ms since the Unix epoch), where known.
    pub dispatched_ms: Option<i64>,
    /// When the device's result was final (ms since the Unix epoch), where known.
    pub ended_ms: Option<i64>,
    /// Retries before the final attempt (AWS `retryAttempt`).
    pub retries: u32,
    /// The platform's reason for a failure (IoT Hub `error.code`, AWS `statusDetails`).
    pub reason: Option<String>,
    /// Where it was read.
    pub place: Place,
    /// Read from AWS `describe-job-execution` (merged into the summary of the same thing).
    #[serde(skip)]
    pub(crate) described: bool,
}

impl DeviceResult {
    /// The time from dispatch to the final result in ms, when both are known and in order.
    pub fn elapsed_ms(&self) -> Option<i64> {
        match (self.dispatched_ms, self.ended_ms) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        }
    }
}

/// A job as its platform describes it (IoT Hub `/jobs/v2/{id}`, IoT Central `/api/jobs/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobInfo {
    /// The job id.
    pub id: String,
    /// Where it came from.
    pub platform: Platform,
    /// The job's status word as written.
    pub status: Option<String>,
    /// When it started (ms since the Unix epoch).
    pub start_ms: Option<i64>,
    /// When it ended.
    pub end_ms: Option<i64>,
    /// IoT Hub `deviceJobStatistics`: device, failed and succeeded counts.
    pub statistics: Option<[u64; 3]>,
    /// Where it was read.
    pub place: Place,
}

/// Everything read from the files of a `calibrate` or `backtest` call.
#[derive(Debug, Clone, Default, Serialize)]
pub struct History {
    /// The files, in the order given.
    pub files: Vec<PathBuf>,
    /// The per-device results, in file and record order.
    pub devices: Vec<DeviceResult>,
    /// The jobs described.
    pub jobs: Vec<JobInfo>,
    /// AWS `describe-job-execution` records merged into the summary of the same execution.
    pub merged: u64,
}

impl History {
    /// `file:record N (line L)` of a place, for messages.
    pub fn locate(&self, place: Place) -> String {
        let file = self
            .files
            .get(place.file as usize)
            .map_or("?".to_string(), |f| f.display().to_string());
        format!("{file}: record {} (line {})", place.record, place.line)
    }

    /// The platforms present, in order.
    pub fn platforms(&self) -> Vec<Platform> {
        let mut p: Vec<Platform> = self.devices.iter().map(|d| d.platform).collect();
        p.sort_unstable();
        p.dedup();
        p
    }
}
