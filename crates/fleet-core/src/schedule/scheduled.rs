//! The state machine of one IoT Central scheduled job: which occurrences become runs, the runs
//! it created, its etag, updates and deletion.

use jiff::tz::TimeZone;

use super::error::{ScheduleError, ScheduleErrorKind};
use super::recurrence::{time_zone, Occurrences, SchedulePlan};
use crate::model::validate::{self, CENTRAL_ID_MAX};
use crate::model::{Job, ScheduledJob, ScheduledJobPatch, Validate};
use crate::RunStatus;

/// The most digits a run number has (`u32::MAX` has 10).
pub const RUN_NUMBER_DIGITS: usize = 10;

/// The longest scheduled job id: a run id `{id}-{number}` must still fit IoT Central's 128
/// characters, so 128 - 1 - 10 = 117.
pub const SCHEDULED_JOB_ID_MAX: usize = CENTRAL_ID_MAX - 1 - RUN_NUMBER_DIGITS;

/// One run that a scheduled job created: the IoT Central job with id `{scheduledJobId}-{number}`
/// and `scheduledJobId` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    /// The run's job id: `{scheduled_job_id}-{number}`.
    pub id: String,
    /// The id of the scheduled job that created it.
    pub scheduled_job_id: String,
    /// 1 for the scheduled job's first run, 2 for the second, ... over its whole life (updates
    /// do not restart the count, so ids never repeat).
    pub number: u32,
    /// The index of the occurrence that created it, in the schedule it was created under (0 is
    /// the schedule's start).
    pub occurrence: u32,
    /// Which schedule it was created under: 0 for the schedule given at creation, +1 for each
    /// update that changed the schedule.
    pub schedule_revision: u32,
    /// The occurrence's instant (ms).
    pub scheduled_ms: i64,
    /// When the state machine created it (ms): the time of the input that processed the
    /// occurrence, at or after `scheduled_ms`.
    pub created_ms: i64,
    /// When it was reported finished (ms); `None` while active.
    pub finished_ms: Option<i64>,
    /// Its final status once finished.
    pub status: Option<RunStatus>,
}

impl ScheduledRun {
    /// Whether the run is still active (created and not reported finished).
    pub fn is_active(&self) -> bool {
        self.finished_ms.is_none()
    }
}

/// Why an occurrence created no run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The scheduled job was disabled when the occurrence came.
    Disabled,
    /// The previous run was still active when the occurrence came.
    RunActive {
        /// The id of the active run.
        run_id: String,
    },
}

/// What became of an occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OccurrenceOutcome {
    /// It created this run.
    Run {
        /// The run's id.
        run_id: String,
    },
    /// It created no run.
    Skipped(SkipReason),
}

/// One occurrence that came while the scheduled job existed: one row of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OccurrenceRecord {
    /// Its index in its schedule (0 is the start).
    pub occurrence: u32,
    /// The schedule it belongs to (see [`ScheduledRun::schedule_revision`]).
    pub schedule_revision: u32,
    /// Its instant (ms).
    pub at_ms: i64,
    /// What became of it.
    pub outcome: OccurrenceOutcome,
}

/// What the state machine tells its driver. Appended in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleEvent {
    /// An occurrence created a run: start `job` (a [`Job`] with the run's id and
    /// `scheduledJobId`) as a new job run.
    RunCreated {
        /// The run.
        run: ScheduledRun,
        /// The run's job document, built from the scheduled job's definition.
        job: Box<Job>,
    },
    /// An occurrence created no run.
    OccurrenceSkipped(OccurrenceRecord),
    /// `completed` became true: no occurrence remains and no run is active.
    Completed,
    /// `completed` became false again: an update gave the schedule occurrences to come.
    Reopened,
}

/// The next occurrence of the schedule in force, and the iterator after it.
#[derive(Debug, Clone)]
struct Cursor {
    rest: Occurrences,
    next: Option<(u32, i64)>,
}

impl Cursor {
    /// The occurrences of `plan` from `from_ms` on (earlier ones are passed over).
    fn new(plan: &SchedulePlan, from_ms: i64) -> Self {
        let mut rest = plan.occurrences();
        let mut next = None;
        for t in rest.by_ref() {
            if t >= from_ms {
                next = Some((rest.index() - 1, t));
                break;
            }
        }
        Self { rest, next }
    }

    fn empty(plan: &SchedulePlan) -> Self {
        let mut rest = plan.occurrences();
        rest.by_ref().for_each(drop);
        Self { rest, next: None }
    }

    fn advance(&mut self) {
        self.next = self.rest.next().map(|t| (self.rest.index() - 1, t));
    }
}

/// One scheduled job as a pure state machine: timestamped inputs in, [`ScheduleEvent`]s out.
///
/// # Rules (see `docs/semantics.md`, "Schedules and maintenance windows")
///
/// - Each occurrence of the schedule, when its time comes, creates a run
///   `{scheduledJobId}-{k}` (k = 1, 2, ...) unless the scheduled job is **disabled** (the
///   occurrence is skipped, never made up later) or its previous run is **still active** (the
///   occurrence is skipped: at most one run is active, nothing queues). Skipped occurrences are
///   recorded with their reason and count towards an `occurrences` end.
/// - Occurrences before the creation time (or before an update that changes the schedule) are
///   passed over: not run, not recorded.
/// - Every input at `t` first processes the occurrences before `t`; [`advance`](Self::advance)
///   at `t` also processes those at `t`. So at equal times, a run's end or an update comes
///   before the occurrence. Inputs must not go back in time.
/// - `completed` is true when no occurrence remains and no run is active.
/// - Updates (merge-patch or replace) are refused while a run is active, and when an
///   `If-Match` etag (or the body's `etag`) is not the current one. Each accepted update
///   changes the etag; nothing else does.
/// - Deletion keeps the runs (and lets an active run finish); it creates no more.
/// - `enabled` absent on create (or replace) is `false`, as IoT Central answers a create
///   without it.
///
/// A refused input returns an error and changes nothing, apart from processing the occurrences
/// due before its time, which any input at that time does.
///
/// Cost: each input is O(1) plus O(1) per occurrence it processes (and, for an update that
/// changes the schedule, O(occurrences before now) to find the first one to come); memory is
/// O(runs + occurrences recorded).
///
/// ```
/// use fleet_core::model::{JobData, Recurrence, Schedule, ScheduleEnd, ScheduledJob};
/// use fleet_core::schedule::{ScheduleEvent, ScheduledJobState};
/// use fleet_core::RunStatus;
///
/// let day = 86_400_000;
/// let mut job = ScheduledJob::new(
///     "thermostats",
///     vec![JobData::property("dtmi:x:y;1", "setpoint", 21.into())],
///     Schedule {
///         start: "1970-01-01T02:00:00Z".into(),
///         recurrence: Some(Recurrence::Daily),
///         end: Some(ScheduleEnd::occurrences(2)),
///     },
/// );
/// job.enabled = Some(true);
/// let mut state = ScheduledJobState::create("nightly", job, 0, None)?;
/// assert_eq!(state.next_occurrence_ms(), Some(2 * 3_600_000));
///
/// let mut events = Vec::new();
/// state.advance(2 * 3_600_000, &mut events)?;
/// let ScheduleEvent::RunCreated { run, job } = &events[0] else { panic!() };
/// assert_eq!(run.id, "nightly-1");
/// assert_eq!(job.scheduled_job_id.as_deref(), Some("nightly"));
///
/// state.run_finished(3 * 3_600_000, "nightly-1", RunStatus::Complete, &mut events)?;
/// state.advance(day + 2 * 3_600_000, &mut events)?;
/// state.run_finished(day + 3 * 3_600_000, "nightly-2", RunStatus::Complete, &mut events)?;
/// assert!(state.completed());
/// assert_eq!(state.runs().len(), 2);
/// # Ok::<(), fleet_core::schedule::ScheduleError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ScheduledJobState {
    id: String,
    doc: ScheduledJob,
    tz: TimeZone,
    plan: SchedulePlan,
    cursor: Cursor,
    schedule_revision: u32,
    revision: u64,
    runs: Vec<ScheduledRun>,
    records: Vec<OccurrenceRecord>,
    active: Option<usize>,
    last_ms: i64,
    deleted: bool,
}

impl ScheduledJobState {
    /// Creates scheduled job `id` from `job` at `now_ms`, its occurrences in the time zone
    /// named `time_zone` (UTC for `None`).
    ///
    /// The id follows IoT Central's id rule and has at most [`SCHEDULED_JOB_ID_MAX`]
    /// characters; `job.id`, if given, must be `id`. `enabled` absent is `false`; `completed`
    /// and `etag` in `job` are ignored (the state machine keeps them).
    pub fn create(
        id: impl Into<String>,
        job: ScheduledJob,
        now_ms: i64,
        time_zone: Option<&str>,
    ) -> Result<Self, ScheduleError> {
        let id = id.into();
        validate::central_job_id(&id)?;
        if id.chars().count() > SCHEDULED_JOB_ID_MAX {
            return Err(crate::Error::new(crate::ErrorKind::InvalidJobId {
                id,
                reason: "a scheduled job id has at most 117 characters, so that its run ids \
                         `{id}-{number}` have at most 128",
            })
            .into());
        }
        let tz = self::time_zone(time_zone)?;
        let doc = Self::normalized(&id, job)?;
        let plan = SchedulePlan::with_time_zone(&doc.schedule, tz.clone())?;
        let cursor = Cursor::new(&plan, now_ms);
        let mut state = Self {
            id,
            doc,
            tz,
            plan,
            cursor,
            schedule_revision: 0,
            revision: 1,
            runs: Vec::new(),
            records: Vec::new(),
            active: None,
            last_ms: now_ms,
            deleted: false,
        };
        state.doc.etag = Some(state.compute_etag());
        state.refresh_completed(&mut Vec::new());
        Ok(state)
    }

    /// `job` as this state machine keeps it: id set, `enabled` present, validated.
    fn normalized(id: &str, mut job: ScheduledJob) -> Result<ScheduledJob, ScheduleError> {
        if let Some(given) = &job.id {
            if given != id {
                return Err(crate::Error::at(
                    "id",
                    crate::ErrorKind::InvalidValue(format!(
                        "the body's id {given:?} is not the scheduled job's id {id:?}"
                    )),
                )
                .into());
            }
        }
        job.id = Some(id.to_string());
        job.enabled = Some(job.enabled.unwrap_or(false));
        job.completed = None;
        job.etag = None;
        job.validate()?;
        Ok(job)
    }

    /// The scheduled job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The scheduled job as the API shows it: `id`, `enabled`, `completed` and `etag` present.
    pub fn document(&self) -> &ScheduledJob {
        &self.doc
    }

    /// The current etag (a quoted string).
    pub fn etag(&self) -> &str {
        self.doc.etag.as_deref().unwrap_or_default()
    }

    /// Whether occurrences create runs.
    pub fn enabled(&self) -> bool {
        self.doc.enabled == Some(true)
    }

    /// Whether no occurrence remains and no run is active.
    pub fn completed(&self) -> bool {
        self.doc.completed == Some(true)
    }

    /// Whether the scheduled job was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// The time zone whose wall clock the schedule follows.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The plan of the schedule in force.
    pub fn plan(&self) -> &SchedulePlan {
        &self.plan
    }

    /// Which schedule is in force: 0 at creation, +1 for each update that changed it.
    pub fn schedule_revision(&self) -> u32 {
        self.schedule_revision
    }

    /// The next occurrence to process (ms): when the driver should call
    /// [`advance`](Self::advance) next. `None` when none remains or after deletion.
    pub fn next_occurrence_ms(&self) -> Option<i64> {
        self.cursor.next.map(|(_, t)| t)
    }

    /// The runs created so far, oldest first (they stay after deletion).
    pub fn runs(&self) -> &[ScheduledRun] {
        &self.runs
    }

    /// The run with this id.
    pub fn run(&self, run_id: &str) -> Option<&ScheduledRun> {
        self.runs.iter().find(|r| r.id == run_id)
    }

    /// The active run, if any.
    pub fn active_run(&self) -> Option<&ScheduledRun> {
        self.active.map(|i| &self.runs[i])
    }

    /// Every occurrence processed so far, in order, with what became of it.
    pub fn occurrences(&self) -> &[OccurrenceRecord] {
        &self.records
    }

    /// The job document of a run: the scheduled job's definition with the run's `id` and
    /// `scheduledJobId`. Built from the current definition, which cannot change while the run
    /// is active; [`ScheduleEvent::RunCreated`] carries the one built at creation.
    pub fn run_job(&self, run: &ScheduledRun) -> Job {
        let d = &self.doc;
        let mut job = Job::new(d.group.clone(), d.data.clone());
        job.id = Some(run.id.clone());
        job.scheduled_job_id = Some(self.id.clone());
        job.display_name = d.display_name.clone();
        job.description = d.description.clone();
        job.batch = d.batch.clone();
        job.cancellation_threshold = d.cancellation_threshold.clone();
        job.organizations = d.organizations.clone();
        job
    }

    /// Time reached `now_ms`: processes every occurrence at or before it (create a run, or
    /// skip it as disabled or because a run is active).
    pub fn advance(
        &mut self,
        now_ms: i64,
        events: &mut Vec<ScheduleEvent>,
    ) -> Result<(), ScheduleError> {
        self.check_time(now_ms)?;
        self.process_due(now_ms, true, events);
        Ok(())
    }

    /// Run `run_id` has ended at `now_ms` with `status` (a final status: complete, cancelled
    /// or failed). Call it once the run is over: its status is final and no device is in
    /// flight. A stopped run is still active (it can be resumed).
    pub fn run_finished(
        &mut self,
        now_ms: i64,
        run_id: &str,
        status: RunStatus,
        events: &mut Vec<ScheduleEvent>,
    ) -> Result<(), ScheduleError> {
        self.check_time(now_ms)?;
        self.process_due(now_ms, false, events);
        let index = self
            .runs
            .iter()
            .position(|r| r.id == run_id)
            .ok_or_else(|| ScheduleError::new(ScheduleErrorKind::NoSuchRun(run_id.into())))?;
        if self.active != Some(index) {
            return Err(ScheduleErrorKind::RunNotActive(run_id.into()).into());
        }
        if !status.is_final() {
            return Err(ScheduleErrorKind::StatusNotFinal(status).into());
        }
        let run = &mut self.runs[index];
        run.finished_ms = Some(now_ms);
        run.status = Some(status);
        self.active = None;
        self.refresh_completed(events);
        Ok(())
    }

    /// `PATCH /scheduledJobs/{id}` at `now_ms`: merges `patch` (RFC 7396, see
    /// [`ScheduledJob::patched`]) and returns the updated document.
    ///
    /// Refused ([`ScheduleErrorKind`]) after deletion (`Deleted`), when `if_match` or the
    /// patch's `etag` is not the current etag (`EtagMismatch`), while a run is active
    /// (`RunActive`), or when the merged job is invalid (`Invalid`, `EndBeforeStart`).
    pub fn update(
        &mut self,
        now_ms: i64,
        patch: &ScheduledJobPatch,
        if_match: Option<&str>,
        events: &mut Vec<ScheduleEvent>,
    ) -> Result<&ScheduledJob, ScheduleError> {
        self.check_time(now_ms)?;
        self.process_due(now_ms, false, events);
        self.check_writable(if_match, patch.etag.as_deref())?;
        let merged = self.doc.patched(patch)?;
        self.write(now_ms, merged, events)
    }

    /// `PUT /scheduledJobs/{id}` on an existing scheduled job at `now_ms`: replaces the
    /// definition with `job` (its `enabled` absent is `false`; its `etag`, if any, is a
    /// precondition like `if_match`). Refused as [`update`](Self::update) is.
    pub fn replace(
        &mut self,
        now_ms: i64,
        job: ScheduledJob,
        if_match: Option<&str>,
        events: &mut Vec<ScheduleEvent>,
    ) -> Result<&ScheduledJob, ScheduleError> {
        self.check_time(now_ms)?;
        self.process_due(now_ms, false, events);
        self.check_writable(if_match, job.etag.as_deref())?;
        let job = Self::normalized(&self.id, job)?;
        self.write(now_ms, job, events)
    }

    /// `DELETE /scheduledJobs/{id}` at `now_ms`: no more occurrences; the runs stay (an active
    /// one may still finish) and are returned. Refused when already deleted or when `if_match`
    /// is not the current etag.
    pub fn delete(
        &mut self,
        now_ms: i64,
        if_match: Option<&str>,
        events: &mut Vec<ScheduleEvent>,
    ) -> Result<&[ScheduledRun], ScheduleError> {
        self.check_time(now_ms)?;
        self.process_due(now_ms, false, events);
        if self.deleted {
            return Err(ScheduleErrorKind::Deleted.into());
        }
        self.check_etag(if_match)?;
        self.deleted = true;
        self.cursor = Cursor::empty(&self.plan);
        self.refresh_completed(events);
        Ok(&self.runs)
    }

    fn check_time(&self, now_ms: i64) -> Result<(), ScheduleError> {
        if now_ms < self.last_ms {
            return Err(ScheduleErrorKind::TimeWentBack {
                last_ms: self.last_ms,
                given_ms: now_ms,
            }
            .into());
        }
        Ok(())
    }

    /// `If-Match`: `*` or a comma-separated list of etags, one of which must be the current
    /// one (strong comparison: exact strings).
    fn check_etag(&self, if_match: Option<&str>) -> Result<(), ScheduleError> {
        let Some(given) = if_match else {
            return Ok(());
        };
        let current = self.etag();
        let matches = given.trim() == "*" || given.split(',').any(|tag| tag.trim() == current);
        if matches {
            Ok(())
        } else {
            Err(ScheduleErrorKind::EtagMismatch {
                current: current.to_string(),
                given: given.to_string(),
            }
            .into())
        }
    }

    fn check_writable(
        &self,
        if_match: Option<&str>,
        body_etag: Option<&str>,
    ) -> Result<(), ScheduleError> {
        if self.deleted {
            return Err(ScheduleErrorKind::Deleted.into());
        }
        self.check_etag(if_match)?;
        self.check_etag(body_etag)?;
        if let Some(run) = self.active_run() {
            return Err(ScheduleErrorKind::RunActive {
                run_id: run.id.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// Commits an accepted update: new definition, new etag, and a new plan if the schedule
    /// changed (occurrences before `now_ms` passed over).
    fn write(
        &mut self,
        now_ms: i64,
        mut job: ScheduledJob,
        events: &mut Vec<ScheduleEvent>,
    ) -> Result<&ScheduledJob, ScheduleError> {
        let new_plan = if job.schedule != self.doc.schedule {
            Some(SchedulePlan::with_time_zone(
                &job.schedule,
                self.tz.clone(),
            )?)
        } else {
            None
        };
        if let Some(plan) = new_plan {
            self.cursor = Cursor::new(&plan, now_ms);
            self.plan = plan;
            self.schedule_revision += 1;
        }
        job.completed = self.doc.completed;
        job.etag = None;
        self.doc = job;
        self.revision += 1;
        self.doc.etag = Some(self.compute_etag());
        self.refresh_completed(events);
        Ok(&self.doc)
    }

    /// Processes the occurrences before `t` (and at `t` if `inclusive`).
    fn process_due(&mut self, t: i64, inclusive: bool, events: &mut Vec<ScheduleEvent>) {
        self.last_ms = t;
        while let Some((occurrence, at)) = self.cursor.next {
            if at > t || (at == t && !inclusive) {
                break;
            }
            self.cursor.advance();
            let outcome = if !self.enabled() {
                OccurrenceOutcome::Skipped(SkipReason::Disabled)
            } else if let Some(run) = self.active_run() {
                OccurrenceOutcome::Skipped(SkipReason::RunActive {
                    run_id: run.id.clone(),
                })
            } else {
                let number = self.runs.len() as u32 + 1;
                let run = ScheduledRun {
                    id: format!("{}-{number}", self.id),
                    scheduled_job_id: self.id.clone(),
                    number,
                    occurrence,
                    schedule_revision: self.schedule_revision,
                    scheduled_ms: at,
                    created_ms: t,
                    finished_ms: None,
                    status: None,
                };
                let job = Box::new(self.run_job(&run));
                self.active = Some(self.runs.len());
                self.runs.push(run.clone());
                events.push(ScheduleEvent::RunCreated { job, run });
                OccurrenceOutcome::Run {
                    run_id: format!("{}-{number}", self.id),
                }
            };
            let record = OccurrenceRecord {
                occurrence,
                schedule_revision: self.schedule_revision,
                at_ms: at,
                outcome,
            };
            if matches!(record.outcome, OccurrenceOutcome::Skipped(_)) {
                events.push(ScheduleEvent::OccurrenceSkipped(record.clone()));
            }
            self.records.push(record);
        }
        self.refresh_completed(events);
    }

    fn refresh_completed(&mut self, events: &mut Vec<ScheduleEvent>) {
        let completed = self.cursor.next.is_none() && self.active.is_none();
        let was = self.doc.completed;
        self.doc.completed = Some(completed);
        match (was, completed) {
            (Some(false), true) => events.push(ScheduleEvent::Completed),
            (Some(true), false) => events.push(ScheduleEvent::Reopened),
            _ => {}
        }
    }

    /// A deterministic etag: the revision and an FNV-1a hash of the id, the revision and the
    /// definition, as a quoted string (`"\"00000002-9f3c...\""`).
    fn compute_etag(&self) -> String {
        let mut doc = self.doc.clone();
        doc.etag = None;
        doc.completed = None;
        let body = serde_json::to_vec(&doc).unwrap_or_default();
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let revision = self.revision.to_le_bytes();
        for byte in self.id.bytes().chain(revision).chain(body) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("\"{:08x}-{hash:016x}\"", self.revision)
    }
}
