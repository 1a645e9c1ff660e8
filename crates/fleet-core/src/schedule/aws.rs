//! AWS IoT Jobs' `schedulingConfig`: a scheduled start, an end time with an end behaviour, and
//! recurring maintenance windows.

use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::error::ScheduleError;
use super::window::{MaintenanceWindow, MaintenanceWindows, WindowState};
use super::MINUTE_MS;
use crate::Input;

/// What happens to a job's executions when its `endTime` comes (`endBehavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndBehavior {
    /// `STOP_ROLLOUT`: nothing new is dispatched; executions in progress finish. Maps to
    /// [`Input::Stop`].
    StopRollout,
    /// `CANCEL`: devices not yet dispatched are cancelled; executions in progress finish. Maps
    /// to [`Input::Cancel`] `{ force: false }`.
    Cancel,
    /// `FORCE_CANCEL`: executions in progress are cancelled too. Maps to [`Input::Cancel`]
    /// `{ force: true }`.
    ForceCancel,
}

impl EndBehavior {
    /// The AWS word (`STOP_ROLLOUT`, `CANCEL`, `FORCE_CANCEL`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StopRollout => "STOP_ROLLOUT",
            Self::Cancel => "CANCEL",
            Self::ForceCancel => "FORCE_CANCEL",
        }
    }

    /// The engine input that carries out this behaviour on a run.
    pub fn input(self) -> Input {
        match self {
            Self::StopRollout => Input::Stop,
            Self::Cancel => Input::Cancel { force: false },
            Self::ForceCancel => Input::Cancel { force: true },
        }
    }
}

impl std::fmt::Display for EndBehavior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One AWS `maintenanceWindows[]` element: `{"startTime": "cron(...)", "durationInMinutes": n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MaintenanceWindowSpec {
    /// A cron expression (see [`super::CronExpr`]), UTC.
    pub start_time: String,
    /// 1 to 1430.
    pub duration_in_minutes: u32,
}

/// AWS IoT Jobs' `schedulingConfig`, as the API reads and writes it.
///
/// `startTime` and `endTime` are RFC 3339 date-times with an offset, or AWS's
/// `YYYY-MM-DDTHH:MM` (seconds optional) without one, read as UTC. [`SchedulingConfig::compile`]
/// checks the values:
///
/// - each window's cron expression and its duration (1 to 1430 minutes);
/// - with both times, `endTime` at least 30 minutes after `startTime` and at most two years
///   after it (calendar years, UTC), as AWS requires. AWS's rules relative to the current time
///   (start at least 30 minutes ahead, at most a year) need a clock and are the server's;
/// - `endBehavior` without `endTime` does not apply (as AWS documents) and is accepted; an
///   `endTime` without `endBehavior` means `STOP_ROLLOUT`, the mildest.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SchedulingConfig {
    /// When the rollout begins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When the rollout ends (the end behaviour applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// What happens at `endTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_behavior: Option<EndBehavior>,
    /// Recurring windows outside which nothing is dispatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_windows: Option<Vec<MaintenanceWindowSpec>>,
}

impl SchedulingConfig {
    /// The checked, compiled form.
    pub fn compile(&self) -> Result<Scheduling, ScheduleError> {
        let start_ms = self
            .start_time
            .as_deref()
            .map(|t| aws_time("startTime", t))
            .transpose()?;
        let end_ms = self
            .end_time
            .as_deref()
            .map(|t| aws_time("endTime", t))
            .transpose()?;
        if let (Some(start), Some(end)) = (start_ms, end_ms) {
            if end - start < 30 * MINUTE_MS {
                return Err(ScheduleError::time(
                    "endTime",
                    "the end comes at least 30 minutes after the start",
                ));
            }
            let two_years = Timestamp::from_millisecond(start)
                .ok()
                .and_then(|t| {
                    t.to_zoned(jiff::tz::TimeZone::UTC)
                        .checked_add(2.years())
                        .ok()
                })
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or(i64::MAX);
            if end > two_years {
                return Err(ScheduleError::time(
                    "endTime",
                    "the end comes at most two years after the start",
                ));
            }
        }
        let windows = match &self.maintenance_windows {
            Some(specs) if !specs.is_empty() => Some(MaintenanceWindows::new(
                specs
                    .iter()
                    .map(|s| MaintenanceWindow::parse(&s.start_time, s.duration_in_minutes))
                    .collect::<Result<_, _>>()?,
            )),
            _ => None,
        };
        Ok(Scheduling {
            start_ms,
            end: end_ms.map(|at| (at, self.end_behavior.unwrap_or(EndBehavior::StopRollout))),
            windows,
        })
    }
}

/// An AWS time: RFC 3339 with an offset, or `YYYY-MM-DDTHH:MM[:SS]` read as UTC.
fn aws_time(field: &'static str, text: &str) -> Result<i64, ScheduleError> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let civil: DateTime = text.parse().map_err(|_| {
        ScheduleError::time(
            field,
            format!("{text:?} is neither an RFC 3339 date-time nor YYYY-MM-DDTHH:MM"),
        )
    })?;
    Offset::UTC
        .to_timestamp(civil)
        .map(|t| t.as_millisecond())
        .map_err(|e| ScheduleError::time(field, e.to_string()))
}

/// A checked `schedulingConfig`: when the rollout may dispatch, and what happens at its end.
///
/// Cost: as [`MaintenanceWindows`]; without windows every query is O(1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scheduling {
    start_ms: Option<i64>,
    end: Option<(i64, EndBehavior)>,
    windows: Option<MaintenanceWindows>,
}

/// The end of a run under a [`Scheduling`]: at `at_ms`, hand `input` to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndAction {
    /// When the end behaviour applies.
    pub at_ms: i64,
    /// Which behaviour.
    pub behavior: EndBehavior,
    /// The engine input that carries it out ([`EndBehavior::input`]).
    pub input: Input,
}

/// Whether a rollout under a [`Scheduling`] may dispatch devices at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Dispatching is allowed; it stops being allowed at `until_ms` (a window closes or the
    /// end time comes), or never (`None`).
    Open {
        /// When the gate closes.
        until_ms: Option<i64>,
    },
    /// Dispatching waits: before the start time, or outside every maintenance window. It is
    /// allowed again at `opens_ms` (`None`: never, the end time or the windows' end came
    /// first).
    Waiting {
        /// When the gate opens.
        opens_ms: Option<i64>,
    },
    /// The end time has passed: the end behaviour applies and nothing more is dispatched.
    Ended,
}

impl Scheduling {
    /// A scheduling with these parts (`end`: the end time and its behaviour).
    pub fn new(
        start_ms: Option<i64>,
        end: Option<(i64, EndBehavior)>,
        windows: Option<MaintenanceWindows>,
    ) -> Self {
        Self {
            start_ms,
            end,
            windows: windows.filter(|w| !w.is_empty()),
        }
    }

    /// When the rollout begins (`startTime`), if scheduled.
    pub fn start_ms(&self) -> Option<i64> {
        self.start_ms
    }

    /// The end time and its behaviour, if any.
    pub fn end_time(&self) -> Option<(i64, EndBehavior)> {
        self.end
    }

    /// The maintenance windows, if any (never an empty set).
    pub fn windows(&self) -> Option<&MaintenanceWindows> {
        self.windows.as_ref()
    }

    /// For a run that starts at `run_start_ms`: when its end behaviour applies and the input
    /// that carries it out. A run that starts at or after the end time gets it at its start.
    /// `None` without an end time.
    pub fn end_action(&self, run_start_ms: i64) -> Option<EndAction> {
        self.end.map(|(at, behavior)| EndAction {
            at_ms: at.max(run_start_ms),
            behavior,
            input: behavior.input(),
        })
    }

    /// Whether dispatching is allowed at `t_ms`, and until or from when: after the start time,
    /// before the end time (which is exclusive), inside a maintenance window (if there are
    /// any).
    pub fn gate(&self, t_ms: i64) -> Gate {
        let end = self.end.map(|(at, _)| at);
        if end.is_some_and(|end| t_ms >= end) {
            return Gate::Ended;
        }
        let before_end = |x: Option<i64>| x.filter(|x| end.is_none_or(|end| *x < end));
        if let Some(start) = self.start_ms.filter(|s| t_ms < *s) {
            let opens = match &self.windows {
                None => Some(start),
                Some(w) => w.next_open_ms(start),
            };
            return Gate::Waiting {
                opens_ms: before_end(opens),
            };
        }
        match self.windows.as_ref().map(|w| w.gate(t_ms)) {
            None => Gate::Open { until_ms: end },
            Some(WindowState::Open { closes_ms }) => Gate::Open {
                until_ms: Some(end.map_or(closes_ms, |end| end.min(closes_ms))),
            },
            Some(WindowState::Closed { opens_ms }) => Gate::Waiting {
                opens_ms: before_end(opens_ms),
            },
        }
    }
}
