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
//! | `Complete` | `complete` (read also: `completed`) |
//! | `Cancelled` | `cancelled` (read also: `canceled`) |
//! | `Failed` | `failed` |
//!
//! The mapping is one to one in both directions.
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

use crate::model::central::Progress;
use crate::model::hub::DeviceJobStatistics;
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

impl From<RunStatus> for CentralJobStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Pending => Self::Pending,
            RunStatus::Running => Self::Running,
            RunStatus::Stopped => Self::Stopped,
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
            RunStatus::Running | RunStatus::Stopped => Self::Running,
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
