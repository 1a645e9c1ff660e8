//! The error of the schedule module: a [`ScheduleErrorKind`] to match on.

use std::fmt;

/// An error from the schedule module: a schedule that cannot be planned, a cron expression that
/// does not parse, or an input that the scheduled job's state refuses.
///
/// Like [`crate::Error`], a refused input never changes the state it was raised against.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleError {
    kind: ScheduleErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ScheduleErrorKind {
    /// The scheduled job or its schedule breaks a rule of the model (bad `start`, an `end`
    /// without a `recurrence`, a bad id, a bad patch): the model's error, with its path.
    Invalid(crate::Error),
    /// The time zone name is not in the (bundled) IANA time zone database.
    UnknownTimeZone(String),
    /// The end of the schedule comes before its start, in the schedule's time zone: a date end
    /// whose day (in that zone) ends before `start`, or a date-time end before `start`.
    EndBeforeStart {
        /// The start, as written.
        start: String,
        /// The end, as written.
        end: String,
    },
    /// A cron expression that does not parse or that AWS would refuse.
    Cron {
        /// The expression.
        expression: String,
        /// Why it is refused.
        reason: String,
    },
    /// A maintenance window's `durationInMinutes` outside 1..=1430.
    DurationOutOfRange(u32),
    /// An AWS `startTime` or `endTime` that is not a date-time, or an `endTime` too close to
    /// or too far from the `startTime`.
    InvalidTime {
        /// The field (`startTime`, `endTime`).
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// An update (PATCH or PUT) while a run of the scheduled job is active: refused, as IoT
    /// Central refuses it.
    RunActive {
        /// The id of the active run.
        run_id: String,
    },
    /// An `If-Match` precondition (or the `etag` of the body) that is not the current etag.
    EtagMismatch {
        /// The current etag.
        current: String,
        /// The etag the caller gave.
        given: String,
    },
    /// The scheduled job was deleted; only its runs remain (and a run still active may finish).
    Deleted,
    /// A run id that is not a run of this scheduled job.
    NoSuchRun(String),
    /// A run reported finished that is not active (already finished).
    RunNotActive(String),
    /// A run reported finished with a status that is not final (`pending`, `running`,
    /// `stopped`).
    StatusNotFinal(crate::RunStatus),
    /// An input timestamped before an input already handled: time never goes back.
    TimeWentBack {
        /// The latest time already handled.
        last_ms: i64,
        /// The time of the refused input.
        given_ms: i64,
    },
}

impl ScheduleError {
    /// An error of this kind.
    pub fn new(kind: ScheduleErrorKind) -> Self {
        Self { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ScheduleErrorKind {
        &self.kind
    }

    pub(crate) fn cron(expression: &str, reason: impl Into<String>) -> Self {
        Self::new(ScheduleErrorKind::Cron {
            expression: expression.to_string(),
            reason: reason.into(),
        })
    }

    pub(crate) fn time(field: &'static str, reason: impl Into<String>) -> Self {
        Self::new(ScheduleErrorKind::InvalidTime {
            field,
            reason: reason.into(),
        })
    }
}

impl From<crate::Error> for ScheduleError {
    fn from(e: crate::Error) -> Self {
        Self::new(ScheduleErrorKind::Invalid(e))
    }
}

impl From<ScheduleErrorKind> for ScheduleError {
    fn from(kind: ScheduleErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ScheduleErrorKind::Invalid(e) => write!(f, "{e}"),
            ScheduleErrorKind::UnknownTimeZone(name) => write!(f, "unknown time zone {name:?}"),
            ScheduleErrorKind::EndBeforeStart { start, end } => {
                write!(f, "the schedule ends ({end}) before it starts ({start})")
            }
            ScheduleErrorKind::Cron { expression, reason } => {
                write!(f, "invalid cron expression {expression:?}: {reason}")
            }
            ScheduleErrorKind::DurationOutOfRange(d) => {
                write!(f, "a maintenance window lasts 1 to 1430 minutes, not {d}")
            }
            ScheduleErrorKind::InvalidTime { field, reason } => write!(f, "{field}: {reason}"),
            ScheduleErrorKind::RunActive { run_id } => write!(
                f,
                "the scheduled job cannot be updated while its run {run_id} is active"
            ),
            ScheduleErrorKind::EtagMismatch { current, given } => {
                write!(f, "precondition failed: the etag is {current}, not {given}")
            }
            ScheduleErrorKind::Deleted => write!(f, "the scheduled job was deleted"),
            ScheduleErrorKind::NoSuchRun(id) => {
                write!(f, "{id} is not a run of this scheduled job")
            }
            ScheduleErrorKind::RunNotActive(id) => write!(f, "run {id} is not active"),
            ScheduleErrorKind::StatusNotFinal(s) => {
                write!(f, "a run ends with a final status, not {s}")
            }
            ScheduleErrorKind::TimeWentBack { last_ms, given_ms } => write!(
                f,
                "time went back: an input at {given_ms} ms after one at {last_ms} ms"
            ),
        }
    }
}

impl std::error::Error for ScheduleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ScheduleErrorKind::Invalid(e) => Some(e),
            _ => None,
        }
    }
}
