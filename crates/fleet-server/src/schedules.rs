//! Scheduled jobs in the driver: fleet-core's [`ScheduledJobState`] machine per scheduled job,
//! its inputs logged for restarts, its errors as HTTP errors.
//!
//! Each scheduled job is a pure state machine (fleet-core `schedule`): occurrences of its
//! schedule create runs `{id}-{k}` (unless disabled or a run is still active), updates are
//! refused while a run is active, etags are its own. The driver hands it every input (create,
//! replace, merge-patch, delete, "run k finished", and "time reached t") and logs each one but
//! the last: "time reached" is implied by the time of every later input, so replaying the
//! logged inputs in order rebuilds the machine, and the driver's next "time reached now"
//! processes whatever occurrences came since. A run an occurrence created before a crash is a
//! stored run already; creating it again is skipped.

use fleet_core::model::{ScheduledJob, ScheduledJobPatch};
use fleet_core::schedule::{ScheduleError, ScheduleErrorKind, ScheduleEvent, ScheduledJobState};
use fleet_core::RunStatus;
use serde::{Deserialize, Serialize};

use crate::api_error::{ApiError, ApiErrorKind};

/// One logged input of a scheduled job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum ScheduleInput {
    Create {
        job: Box<ScheduledJob>,
    },
    Replace {
        job: Box<ScheduledJob>,
        if_match: Option<String>,
    },
    Update {
        patch: Box<ScheduledJobPatch>,
        if_match: Option<String>,
    },
    Delete {
        if_match: Option<String>,
    },
    Finished {
        run: String,
        status: String,
    },
}

impl ScheduleInput {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Replace { .. } => "replace",
            Self::Update { .. } => "update",
            Self::Delete { .. } => "delete",
            Self::Finished { .. } => "finished",
        }
    }
}

/// Hands `input` at `at_ms` to the machine of `id` (creating it for `Create`).
pub(crate) fn apply(
    state: Option<&mut ScheduledJobState>,
    id: &str,
    at_ms: i64,
    input: &ScheduleInput,
    events: &mut Vec<ScheduleEvent>,
) -> Result<Option<ScheduledJobState>, ScheduleError> {
    match (input, state) {
        (ScheduleInput::Create { job }, _) => {
            ScheduledJobState::create(id, (**job).clone(), at_ms, None).map(Some)
        }
        (_, None) => Err(ScheduleErrorKind::Deleted.into()),
        (ScheduleInput::Replace { job, if_match }, Some(s)) => s
            .replace(at_ms, (**job).clone(), if_match.as_deref(), events)
            .map(|_| None),
        (ScheduleInput::Update { patch, if_match }, Some(s)) => s
            .update(at_ms, patch, if_match.as_deref(), events)
            .map(|_| None),
        (ScheduleInput::Delete { if_match }, Some(s)) => {
            s.delete(at_ms, if_match.as_deref(), events).map(|_| None)
        }
        (ScheduleInput::Finished { run, status }, Some(s)) => s
            .run_finished(at_ms, run, status_of(status), events)
            .map(|_| None),
    }
}

fn status_of(word: &str) -> RunStatus {
    match word {
        "complete" => RunStatus::Complete,
        "failed" => RunStatus::Failed,
        _ => RunStatus::Cancelled,
    }
}

/// The HTTP error of a refused input.
pub(crate) fn api_error(e: &ScheduleError) -> ApiError {
    let kind = match e.kind() {
        ScheduleErrorKind::EtagMismatch { .. } => ApiErrorKind::PreconditionFailed,
        ScheduleErrorKind::RunActive { .. } => ApiErrorKind::Conflict,
        ScheduleErrorKind::Deleted => ApiErrorKind::NotFound,
        _ => ApiErrorKind::BadRequest,
    };
    ApiError::new(kind, e.to_string())
}
