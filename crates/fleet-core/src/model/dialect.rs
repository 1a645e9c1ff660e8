//! Status words and counts at the edges: the engine's one vocabulary ([`RunStatus`],
//! [`DeviceState`], [`Counts`]) mapped to each API dialect's words (DESIGN.md section 4.10).
//!
//! # IoT Central
//!
//! | [`RunStatus`] | job `status` |
//! |---|---|
//! | `Pending` | `pending` |
//! | `Running` | `running` |
//! | `Stopped` | `stopped` |
//! | `Paused` | `stopped` |
//! | `Complete` | `complete` (read also: `completed`) |
//! | `Cancelled` | `cancelled` (read also: `canceled`) |
//! | `Failed` | `failed` |
//!
//! The mapping is one to one in both directions, but for `Paused`: IoT Central has no pause, and
//! a run paused by a group gate (hawkBit) is, like a stopped one, dispatching nothing until it is
//! resumed; it reads back as `Stopped`.
//!
//! Per-device status ([`DeviceStatus`]): `Succeeded` is `completed`; `Failed`, `Rejected` and
//! `TimedOut` are `failed`; `Pending`, `InFlight` **and `Cancelled`** are `pending`. A cancelled
//! device was never run (or was abandoned), so it did not fail: reporting it `failed` would put it
//! into a rerun, which targets exactly the devices that failed (semantics rule 6).
//!
//! `progress` ([`Progress`]): `total = total`, `completed = succeeded`, `failed = failed`, and
//! `pending = pending + in_flight + cancelled`, so that the four add up
//! (`pending + completed + failed == total`) as the engine's counts do.
//!
//! # IoT Hub
//!
//! | [`RunStatus`] | JobResponse `status` |
//! |---|---|
//! | `Pending` | `scheduled` while its `startTime` is in the future, else `queued` |
//! | `Running` | `running` |
//! | `Stopped` | `running` |
//! | `Paused` | `running` |
//! | `Complete` | `completed` |
//! | `Cancelled` | `cancelled` |
//! | `Failed` | `failed` |
//!
//! IoT Hub has no stop: a stopped run has not ended and can still dispatch (after a resume), so
//! it is reported as `running`, the only word for a job that has started and not finished. A hub
//! client polling for a final status therefore keeps waiting, which is the truth. Reading back,
//! `queued`, `enqueued` and `scheduled` are `Pending`, and `unknown` maps to no status.
//!
//! `deviceJobStatistics` ([`DeviceJobStatistics`]): `deviceCount = total`,
//! `succeededCount = succeeded`, `failedCount = failed`, `runningCount = in_flight`,
//! `pendingCount = pending + cancelled`; the four counts add up to `deviceCount`.
//!
//! # AWS IoT Jobs
//!
//! Per-device job execution status ([`AwsExecutionStatus`]):
//!
//! | [`DeviceState`] | execution `status` |
//! |---|---|
//! | `Pending` | `QUEUED` |
//! | `InFlight` | `IN_PROGRESS` |
//! | `Succeeded` | `SUCCEEDED` |
//! | `Failed` | `FAILED` |
//! | `Rejected` | `REJECTED` |
//! | `TimedOut` | `TIMED_OUT` |
//! | `Cancelled` | `CANCELED` |
//!
//! `REMOVED` (the thing was deleted from the job's targets) is never written: a run's targets are
//! a snapshot (semantics rule 1). It reads back as `Cancelled`: the device did not run the job
//! and did not fail it.
//!
//! Job status ([`AwsJobStatus`]): `Pending` is `SCHEDULED` (waiting for its start), `Running`,
//! `Stopped` and `Paused` are `IN_PROGRESS`, `Complete` is `COMPLETED`, `Cancelled` is
//! `CANCELED`. AWS has no word for a job that could not run at all; `Failed` is `CANCELED`, the
//! only final word of a job that did not complete.

use serde::{Deserialize, Serialize};

use crate::model::word::vocabulary;
use crate::{Counts, DeviceState, RunStatus};

vocabulary! {
    /// The `status` of an IoT Central job.
    pub enum CentralJobStatus {
        /// `pending`: created, not started.
        Pending = "pending",
        /// `running`.
        Running = "running",
        /// `complete` (also read: `completed`): every device is done.
        Complete = "complete" | "completed",
        /// `stopped`: stopped by a command; it can be resumed.
        Stopped = "stopped",
        /// `cancelled` (also read: `canceled`): by a command or the cancellation threshold.
        Cancelled = "cancelled" | "canceled",
        /// `failed`: the job could not run at all.
        Failed = "failed",
    }
}

vocabulary! {
    /// The `status` of one device in an IoT Central job (`GET /jobs/{id}/devices`).
    pub enum DeviceStatus {
        /// `completed`: the operation succeeded on the device.
        Completed = "completed",
        /// `failed`: the operation failed, was rejected or timed out.
        Failed = "failed",
        /// `pending`: not done (not yet run, running, or never run because the job was cancelled).
        Pending = "pending",
    }
}

vocabulary! {
    /// The `status` of an IoT Hub job (JobResponse), as the 2021-04-12 Swagger lists it.
    pub enum HubJobStatus {
        /// `unknown`.
        Unknown = "unknown",
        /// `enqueued`.
        Enqueued = "enqueued",
        /// `running`.
        Running = "running",
        /// `completed`.
        Completed = "completed",
        /// `failed`.
        Failed = "failed",
        /// `cancelled`.
        Cancelled = "cancelled",
        /// `scheduled`: waiting for its `startTime`.
        Scheduled = "scheduled",
        /// `queued`: waiting to run.
        Queued = "queued",
    }
}

vocabulary! {
    /// The `status` of one device's job execution in AWS IoT Jobs.
    pub enum AwsExecutionStatus {
        /// `QUEUED`: not sent to the device yet (or waiting for a retry).
        Queued = "QUEUED",
        /// `IN_PROGRESS`: the device has it and has not answered.
        InProgress = "IN_PROGRESS",
        /// `SUCCEEDED`.
        Succeeded = "SUCCEEDED",
        /// `FAILED`.
        Failed = "FAILED",
        /// `TIMED_OUT`: the in-progress timeout (or the run's deadline) passed.
        TimedOut = "TIMED_OUT",
        /// `REJECTED`: the device refused the job.
        Rejected = "REJECTED",
        /// `REMOVED`: the thing was deleted (never written by fleetsim).
        Removed = "REMOVED",
        /// `CANCELED`: never run because the job was cancelled, or abandoned by a forced cancel.
        Canceled = "CANCELED",
    }
}

vocabulary! {
    /// The `status` of an AWS IoT job.
    pub enum AwsJobStatus {
        /// `IN_PROGRESS`.
        InProgress = "IN_PROGRESS",
        /// `CANCELED`.
        Canceled = "CANCELED",
        /// `DELETION_IN_PROGRESS`.
        DeletionInProgress = "DELETION_IN_PROGRESS",
        /// `COMPLETED`.
        Completed = "COMPLETED",
        /// `SCHEDULED`: waiting for its start.
        Scheduled = "SCHEDULED",
    }
}

impl From<DeviceState> for AwsExecutionStatus {
    fn from(state: DeviceState) -> Self {
        match state {
            DeviceState::Pending => Self::Queued,
            DeviceState::InFlight => Self::InProgress,
            DeviceState::Succeeded => Self::Succeeded,
            DeviceState::Failed => Self::Failed,
            DeviceState::Rejected => Self::Rejected,
            DeviceState::TimedOut => Self::TimedOut,
            DeviceState::Cancelled => Self::Canceled,
        }
    }
}

impl AwsExecutionStatus {
    /// The engine's state for an AWS word (`REMOVED` reads as `Cancelled`).
    pub fn device_state(self) -> DeviceState {
        match self {
            Self::Queued => DeviceState::Pending,
            Self::InProgress => DeviceState::InFlight,
            Self::Succeeded => DeviceState::Succeeded,
            Self::Failed => DeviceState::Failed,
            Self::TimedOut => DeviceState::TimedOut,
            Self::Rejected => DeviceState::Rejected,
            Self::Removed | Self::Canceled => DeviceState::Cancelled,
        }
    }
}

impl From<RunStatus> for AwsJobStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Pending => Self::Scheduled,
            RunStatus::Running | RunStatus::Stopped | RunStatus::Paused => Self::InProgress,
            RunStatus::Complete => Self::Completed,
            RunStatus::Cancelled | RunStatus::Failed => Self::Canceled,
        }
    }
}

impl From<RunStatus> for CentralJobStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Pending => Self::Pending,
            RunStatus::Running => Self::Running,
            RunStatus::Stopped | RunStatus::Paused => Self::Stopped,
            RunStatus::Complete => Self::Complete,
            RunStatus::Cancelled => Self::Cancelled,
            RunStatus::Failed => Self::Failed,
        }
    }
}

impl From<CentralJobStatus> for RunStatus {
    fn from(status: CentralJobStatus) -> Self {
        match status {
            CentralJobStatus::Pending => Self::Pending,
            CentralJobStatus::Running => Self::Running,
            CentralJobStatus::Stopped => Self::Stopped,
            CentralJobStatus::Complete => Self::Complete,
            CentralJobStatus::Cancelled => Self::Cancelled,
            CentralJobStatus::Failed => Self::Failed,
        }
    }
}

impl From<DeviceState> for DeviceStatus {
    fn from(state: DeviceState) -> Self {
        match state {
            DeviceState::Succeeded => Self::Completed,
            DeviceState::Failed | DeviceState::Rejected | DeviceState::TimedOut => Self::Failed,
            DeviceState::Pending | DeviceState::InFlight | DeviceState::Cancelled => Self::Pending,
        }
    }
}

impl HubJobStatus {
    /// The hub's word for a run's status. `scheduled` says whether a pending run is waiting for
    /// a `startTime` in the future (the model has no clock, so the caller decides).
    pub fn from_run(status: RunStatus, scheduled: bool) -> Self {
        match status {
            RunStatus::Pending if scheduled => Self::Scheduled,
            RunStatus::Pending => Self::Queued,
            RunStatus::Running | RunStatus::Stopped | RunStatus::Paused => Self::Running,
            RunStatus::Complete => Self::Completed,
            RunStatus::Cancelled => Self::Cancelled,
            RunStatus::Failed => Self::Failed,
        }
    }

    /// The engine's status for a hub word; `None` for `unknown`.
    pub fn run_status(self) -> Option<RunStatus> {
        Some(match self {
            Self::Unknown => return None,
            Self::Enqueued | Self::Queued | Self::Scheduled => RunStatus::Pending,
            Self::Running => RunStatus::Running,
            Self::Completed => RunStatus::Complete,
            Self::Failed => RunStatus::Failed,
            Self::Cancelled => RunStatus::Cancelled,
        })
    }

    /// Whether the job has ended (`completed`, `failed` or `cancelled`).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// A job's `progress`: device counts. The engine's [`Counts`] map to it as the
/// [module](crate::model::dialect) says (`pending + completed + failed == total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// Devices targeted.
    pub total: u32,
    /// Devices not done.
    pub pending: u32,
    /// Devices on which the operation succeeded.
    pub completed: u32,
    /// Devices on which it failed.
    pub failed: u32,
}

impl From<Counts> for Progress {
    fn from(c: Counts) -> Self {
        Self {
            total: c.total,
            pending: c.pending + c.in_flight + c.cancelled,
            completed: c.succeeded,
            failed: c.failed,
        }
    }
}

/// A job's `deviceJobStatistics`. The engine's [`Counts`] map to it as the
/// [module](crate::model::dialect) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceJobStatistics {
    /// Devices the job targets.
    pub device_count: u32,
    /// Devices on which it failed.
    pub failed_count: u32,
    /// Devices on which it succeeded.
    pub succeeded_count: u32,
    /// Devices on which it is running.
    pub running_count: u32,
    /// Devices on which it has not started.
    pub pending_count: u32,
}

impl From<Counts> for DeviceJobStatistics {
    fn from(c: Counts) -> Self {
        Self {
            device_count: c.total,
            failed_count: c.failed,
            succeeded_count: c.succeeded,
            running_count: c.in_flight,
            pending_count: c.pending + c.cancelled,
        }
    }
}
