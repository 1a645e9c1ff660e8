//! The job lifecycle in the server's log: one `tracing` event (target `fleetsim::job`) when a
//! job is created, starts, starts a batch, trips its cancellation threshold, is stopped,
//! resumes, and ends; each with the job's id, API and virtual time (the log line's own
//! timestamp is the wall time).

use fleet_core::RunStatus;

use super::{Dialect, Driver, Run};
use crate::clock;

/// What was last logged of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Logged {
    status: Option<RunStatus>,
    batch: Option<u32>,
    tripped: bool,
}

impl Logged {
    fn of(run: &Run) -> Self {
        let job = run.job();
        Self {
            status: Some(run.status()),
            batch: job.and_then(|j| j.current_batch()),
            tripped: job.is_some_and(|j| j.threshold_trip().is_some()),
        }
    }
}

impl Driver {
    /// Logs what changed in run `no` since it was last logged.
    pub(super) fn log_lifecycle(&mut self, no: i64) {
        let at = clock::rfc3339(self.now);
        let Some(run) = self.runs.get_mut(&no) else {
            return;
        };
        let now = Logged::of(run);
        let before = std::mem::replace(&mut run.logged, now);
        if before == now {
            return;
        }
        let api = match run.dialect {
            Dialect::Central => "central",
            Dialect::Hub => "hub",
        };
        let id = run.id.as_str();
        if before.status.is_none() {
            let status = now.status.map(RunStatus::as_str);
            tracing::info!(target: "fleetsim::job", job = id, api, status, virtual_time = %at, "job created");
        }
        if now.batch != before.batch {
            if let Some(batch) = now.batch {
                let batch = batch + 1;
                tracing::info!(target: "fleetsim::job", job = id, api, batch, virtual_time = %at, "batch started");
            }
        }
        if now.tripped && !before.tripped {
            tracing::warn!(target: "fleetsim::job", job = id, api, virtual_time = %at, "cancellation threshold tripped");
        }
        if now.status != before.status && before.status.is_some() {
            let (from, to) = (
                before.status.map(RunStatus::as_str),
                now.status.map(RunStatus::as_str),
            );
            let event = match (before.status, now.status) {
                (Some(RunStatus::Stopped), Some(RunStatus::Running)) => "job resumed",
                (_, Some(RunStatus::Stopped)) => "job stopped",
                (_, Some(RunStatus::Running)) => "job started",
                _ => "job ended",
            };
            tracing::info!(target: "fleetsim::job", job = id, api, from, to, virtual_time = %at, "{event}");
        }
    }
}
