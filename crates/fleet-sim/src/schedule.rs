//! [`ScheduledJobSpec`]: an IoT Central scheduled job for the simulator, whose occurrences
//! create runs over days of virtual time.

use fleet_core::model::ScheduledJob;
use fleet_core::schedule::ScheduledJobState;

use crate::error::{Error, ErrorKind, Result};
use crate::job::JobSpec;

/// A scheduled job: a definition (what each run does, to which devices, with which rollout
/// policy) and an IoT Central `schedule`.
///
/// The simulator drives fleet-core's [`ScheduledJobState`]: when an occurrence comes it either
/// creates a run `{id}-{k}` (a new job of the simulation, with `scheduledJobId` set, started at
/// once or when a hub job slot frees) or skips it: disabled, or the previous run still active
/// (skip, never queue; `docs/semantics.md` section 17). Each run is a new execution: the
/// devices' fates are drawn from streams keyed by the run (its id), as every run's are, so a
/// device that failed one night may succeed the next.
///
/// Times: the schedule's instants are wall-clock (UTC) instants; virtual time 0 is
/// [`crate::SimBuilder::clock_start_ms`]. The scheduled job is created at `job.start_ms`
/// (virtual): occurrences before it are passed over, as IoT Central passes over the past.
///
/// ```
/// use fleet_core::model::{JobData, Recurrence, Schedule, ScheduleEnd, ScheduledJob};
/// use fleet_sim::{JobSpec, Operation, ScheduledJobSpec};
///
/// let mut document = ScheduledJob::new(
///     "thermostats",
///     vec![JobData::property("dtmi:t;1", "p", 3.into())],
///     Schedule {
///         start: "2026-03-01T02:00:00Z".into(),
///         recurrence: Some(Recurrence::Daily),
///         end: Some(ScheduleEnd::occurrences(30)),
///     },
/// );
/// document.enabled = Some(true);
/// let job = JobSpec::new("nightly", Operation::Property { name: "p".into(), value: 3.into() });
/// let spec = ScheduledJobSpec::new(job, document).time_zone("Europe/Berlin");
/// assert_eq!(spec.time_zone.as_deref(), Some("Europe/Berlin"));
/// ```
#[derive(Debug, Clone)]
pub struct ScheduledJobSpec {
    /// The definition every run executes. Its `id` is the scheduled job's id (runs are
    /// `{id}-1`, `{id}-2`, ...); its `start_ms` is when the scheduled job is created.
    pub job: JobSpec,
    /// The scheduled job as the IoT Central API takes it. The simulator reads its `schedule`
    /// and `enabled` (absent: `false`, as IoT Central answers); `job` is what its `group`,
    /// `data`, `batch` and `cancellationThreshold` convert to.
    pub document: ScheduledJob,
    /// The IANA time zone whose wall clock the schedule follows (UTC for `None`).
    pub time_zone: Option<String>,
}

impl ScheduledJobSpec {
    /// A scheduled job in UTC.
    pub fn new(job: JobSpec, document: ScheduledJob) -> Self {
        Self {
            job,
            document,
            time_zone: None,
        }
    }

    /// Sets the time zone.
    pub fn time_zone(mut self, time_zone: impl Into<String>) -> Self {
        self.time_zone = Some(time_zone.into());
        self
    }

    /// The state machine, created at UTC instant `created_ms`.
    pub(crate) fn state(&self, created_ms: i64) -> Result<ScheduledJobState> {
        ScheduledJobState::create(
            self.job.id.clone(),
            self.document.clone(),
            created_ms,
            self.time_zone.as_deref(),
        )
        .map_err(|e| Error::at("document", ErrorKind::InvalidValue(e.to_string())))
    }
}
