//! Schedules: when the runs of a scheduled job happen, and when a rollout may dispatch.
//!
//! Everything here is pure like [`crate::JobRun`]: no clock, no I/O, no randomness. Times at the
//! API are `i64` milliseconds since the Unix epoch; calendar arithmetic inside uses [`jiff`],
//! whose time zone database is compiled into the crate (the `tzdb-bundle-always` feature), so a
//! schedule gives the same instants on every machine, whatever its `/usr/share/zoneinfo` holds
//! or lacks.
//!
//! - [`SchedulePlan`] / [`Occurrences`]: the instants at which an IoT Central schedule
//!   (`start`, `recurrence`, `end`) fires, in a time zone (UTC by default).
//! - [`ScheduledJobState`]: the state machine of one scheduled job: it turns "time reached t"
//!   into "create run k", refuses updates while a run is active, keeps etags and the list of
//!   runs.
//! - [`CronExpr`] and [`MaintenanceWindows`]: AWS `cron(...)` expressions and recurring
//!   maintenance windows (a cron start plus a duration), with `is_open`, `next_open_ms` and
//!   `close_ms`.
//! - [`SchedulingConfig`] / [`Scheduling`]: AWS IoT Jobs' `schedulingConfig` (`startTime`,
//!   `endTime`, `endBehavior`, `maintenanceWindows`) and the engine input each end behaviour
//!   maps to.
//!
//! The decisions (monthly from the 31st, daylight-saving transitions, inclusive end dates,
//! skipped occurrences, etags) are written down in `docs/semantics.md`, section "Schedules and
//! maintenance windows".
//!
//! # Example
//!
//! A nightly job at 02:00 in Berlin, three times:
//!
//! ```
//! use fleet_core::model::{Recurrence, Schedule, ScheduleEnd};
//! use fleet_core::schedule::SchedulePlan;
//!
//! let schedule = Schedule {
//!     start: "2024-03-30T02:00:00+01:00".into(),
//!     recurrence: Some(Recurrence::Daily),
//!     end: Some(ScheduleEnd::occurrences(3)),
//! };
//! let plan = SchedulePlan::new(&schedule, Some("Europe/Berlin"))?;
//! let times: Vec<String> = plan.occurrences().map(|ms| {
//!     jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
//! }).collect();
//! // 31 March is the spring-forward day: 02:00 does not exist and becomes 03:00 (CEST).
//! assert_eq!(times, ["2024-03-30T01:00:00Z", "2024-03-31T01:00:00Z", "2024-04-01T00:00:00Z"]);
//! # Ok::<(), fleet_core::schedule::ScheduleError>(())
//! ```

mod aws;
mod cron;
mod error;
mod recurrence;
mod scheduled;
mod window;

pub use aws::{EndAction, EndBehavior, Gate, MaintenanceWindowSpec, Scheduling, SchedulingConfig};
pub use cron::CronExpr;
pub use error::{ScheduleError, ScheduleErrorKind};
pub use recurrence::{time_zone, EndRule, Occurrences, SchedulePlan};
pub use scheduled::{
    OccurrenceOutcome, OccurrenceRecord, ScheduleEvent, ScheduledJobState, ScheduledRun,
    SkipReason, RUN_NUMBER_DIGITS, SCHEDULED_JOB_ID_MAX,
};
pub use window::{MaintenanceWindow, MaintenanceWindows, WindowState, DURATION_MINUTES_MAX};

/// Milliseconds in a minute.
pub(crate) const MINUTE_MS: i64 = 60_000;
/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;
