//! [`Simulation`]: the virtual-time executor that drives each job's [`JobRun`] over the fleet.

use std::collections::BTreeMap;

use fleet_core::schedule::{
    EndBehavior, OccurrenceOutcome, ScheduleEvent, ScheduledJobState, SkipReason,
};
use fleet_core::{
    AbortTrip, Input, JobRun, PauseReason, RunBuilder, RunStatus, ThresholdTrip, Timer,
};

use crate::behaviour::Behaviour;
use crate::device::{DeviceModel, PreparedOp};
use crate::error::{Error, ErrorKind, Result};
use crate::exec::{Agenda, Answer, RunExec};
use crate::fleet::Fleet;
use crate::hub::{HubSpec, JobSlots};
use crate::job::{JobCommand, JobSpec};
use crate::result::{
    AbortTripRow, BatchRow, CommandRow, DeviceResults, JobResult, OccurrenceRow, PauseRow, Reason,
    ScheduleResult, SimResult, TraceEvent, TripRow,
};
use crate::rng::RunKey;
use crate::schedule::ScheduledJobSpec;
use crate::selector::TargetSpec;
use crate::trace::Trace;
use crate::util::queue::{CalendarQueue, EventQueue};
use crate::util::runs::Runs;
use crate::util::series::Series;

/// How often (in events) [`Simulation::try_run_with_progress`] reads the wall clock.
const BUDGET_CHECK_EVENTS: u64 = 1 << 16;

/// How far a simulation has come, handed to the callback of [`Simulation::run_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events processed so far.
    pub events_processed: u64,
    /// The virtual time now.
    pub now_ms: i64,
    /// Jobs in the simulation.
    pub jobs_total: u32,
    /// Jobs whose run has settled (final status, nothing in flight).
    pub jobs_settled: u32,
    /// Targets of the jobs started so far.
    pub devices_total: u64,
    /// Of those, the ones in a terminal state.
    pub devices_terminal: u64,
}

// ----- events -----
//
// An event is (time, payload) in the queue; the payload packs, from the high bits: kind (3 bits),
// reason (5), attempt (8), job (16), device or command index (32). 8 bytes, so a calendar bucket
// entry is 8 bytes and the trace hash folds exactly what was processed.

const KIND_START: u64 = 0;
const KIND_ANSWER: u64 = 1;
const KIND_TIMEOUT: u64 = 2;
const KIND_DEADLINE: u64 = 3;
const KIND_COMMAND: u64 = 4;
const KIND_DISPATCH: u64 = 5;
const KIND_WINDOW: u64 = 6;
/// The next occurrence of a scheduled job (the job field is the schedule's index).
const KIND_OCCURRENCE: u64 = 7;

/// Reason code of a `KIND_COMMAND` event that carries the job's AWS end behaviour.
const END_BEHAVIOR: u8 = 1;
/// Reason code of a `KIND_COMMAND` event that carries a rerun (the device field is the rerun's
/// index).
const RERUN: u8 = 2;
/// Reason code of a `KIND_COMMAND` event that marks a time of a run of a batch's events (the
/// device field is the run's number; [`Runs`]). Never processed as an event: the run's events
/// of that time are, in its place.
const RUN_MARKER: u8 = 3;

/// The payload of run `r`'s markers.
#[inline]
fn run_marker(r: u32) -> u64 {
    pack(KIND_COMMAND, RUN_MARKER, 0, 0, r)
}

/// Whether `payload` is a run's marker ([`run_marker`]).
#[inline(always)]
fn is_run_marker(payload: u64) -> bool {
    payload >> 56 == (KIND_COMMAND << 5 | u64::from(RUN_MARKER))
}

#[inline]
fn pack(kind: u64, reason: u8, attempt: u8, job: u16, device: u32) -> u64 {
    kind << 61
        | u64::from(reason) << 56
        | u64::from(attempt) << 48
        | u64::from(job) << 32
        | u64::from(device)
}

#[inline]
fn unpack(p: u64) -> (u64, u8, u8, u16, u32) {
    (
        p >> 61,
        (p >> 56 & 0x1f) as u8,
        (p >> 48) as u8,
        (p >> 32) as u16,
        p as u32,
    )
}

/// The most jobs (and runs of scheduled jobs) in one simulation: a job's index is 16 bits of
/// an event, and one value is kept free.
pub(crate) const MAX_JOBS: u16 = u16::MAX - 1;

/// When the progress callback is due: every `every` events (at the multiples of `every`),
/// by comparison with the next multiple instead of a division per event.
struct ProgressDue {
    every: u64,
    next: u64,
}

impl ProgressDue {
    fn new(every_events: u64, events: u64) -> Self {
        let every = every_events.max(1);
        Self {
            every,
            next: (events / every).saturating_add(1).saturating_mul(every),
        }
    }

    /// Whether the callback is due after `events` events (called once per event).
    #[inline(always)]
    fn now(&mut self, events: u64) -> bool {
        if events < self.next {
            return false;
        }
        debug_assert_eq!(events % self.every, 0);
        self.next = self.next.saturating_add(self.every);
        true
    }
}

/// The simulator's side of the executor: answers and timers of job `job` become events, and a
/// range of first dispatches one burst ([`Runs`]).
struct QueueAgenda<'a> {
    queue: &'a mut CalendarQueue,
    runs: &'a mut Runs,
    job: u16,
}

impl Agenda for QueueAgenda<'_> {
    #[inline(always)]
    fn answer(&mut self, at_ms: i64, a: Answer) {
        let payload = pack(KIND_ANSWER, a.reason, a.attempt, self.job, a.target);
        self.runs.push(self.queue, at_ms, payload);
    }

    fn range_begin(&mut self, devices: u32, timeout_ms: Option<i64>) {
        self.runs.begin_burst(devices as usize, timeout_ms);
    }

    fn range_end(&mut self) {
        self.runs.end_burst(self.queue, run_marker);
    }

    #[inline]
    fn timer(&mut self, at_ms: i64, timer: Timer) {
        let payload = match timer {
            Timer::DeviceTimeout { device, attempt } => {
                pack(KIND_TIMEOUT, 0, attempt, self.job, device)
            }
            Timer::Deadline => pack(KIND_DEADLINE, 0, 0, self.job, 0),
            Timer::Dispatch => pack(KIND_DISPATCH, 0, 0, self.job, 0),
            Timer::Window => pack(KIND_WINDOW, 0, 0, self.job, 0),
        };
        self.runs.push(self.queue, at_ms, payload);
    }
}

// ----- jobs -----

#[derive(Debug)]
struct Job {
    id: String,
    kind: &'static str,
    op: PreparedOp,
    targets_spec: TargetSpec,
    builder: RunBuilder,
    submitted_ms: i64,
    /// The run and its executor, once started.
    exec: Option<RunExec>,
    series: Series,
    started_ms: Option<i64>,
    holds_slot: bool,
    settled: bool,
    commands: Vec<CommandRow>,
    /// For a run of a scheduled job: the schedule's index.
    schedule: Option<u16>,
    /// For a rerun: the job whose failed devices it runs.
    rerun_of: Option<usize>,
    /// The AWS end time and behaviour; whether it came before the run started.
    end: Option<(i64, EndBehavior)>,
    end_due: bool,
    end_row: Option<CommandRow>,
}

impl Job {
    fn new(spec: &JobSpec, op: PreparedOp, clock_start_ms: i64, series_samples: usize) -> Self {
        Self {
            id: spec.id.clone(),
            kind: spec.operation.kind(),
            op,
            targets_spec: spec.targets.clone(),
            builder: spec.run.clone().clock_origin_ms(clock_start_ms),
            submitted_ms: spec.start_ms,
            exec: None,
            series: Series::new(series_samples),
            started_ms: None,
            holds_slot: false,
            settled: false,
            commands: Vec::new(),
            schedule: None,
            rerun_of: None,
            end: spec.end,
            end_due: false,
            end_row: None,
        }
    }

    fn run(&self) -> Option<&JobRun> {
        self.exec.as_ref().map(RunExec::run)
    }

    /// A rerun of this job (index `source`) with id `id`, submitted at `now_ms`: the same
    /// operation and run settings; its targets are taken when it starts.
    fn rerun(&self, id: String, source: usize, now_ms: i64, series_samples: usize) -> Self {
        Self {
            id,
            kind: self.kind,
            op: self.op.clone(),
            targets_spec: TargetSpec::All,
            builder: self.builder.clone(),
            submitted_ms: now_ms,
            exec: None,
            series: Series::new(series_samples),
            started_ms: None,
            holds_slot: false,
            settled: false,
            commands: Vec::new(),
            schedule: None,
            rerun_of: Some(source),
            end: None,
            end_due: false,
            end_row: None,
        }
    }
}

/// A simulation, built by [`crate::SimBuilder`]: a fleet, its behaviour, an optional hub and
/// jobs, run in deterministic virtual time.
///
/// # The executor
///
/// A virtual clock and an event queue ordered by (time, insertion order) — a calendar queue, a
/// timing wheel of one-millisecond buckets and two levels of slots above them
/// ([`crate::util::queue::CalendarQueue`], chosen by benchmark over a binary heap). Each step pops the earliest event, folds it into the trace hash, and hands it to
/// the job's [`JobRun`] as an [`Input`]; the run's [`fleet_core::Action`]s are carried out at once:
/// the run's [`RunExec`] (the one executor, shared with the server) carries out its actions
/// over the [`DeviceModel`] (the one device model): a dispatch draws the device's fate (from the
/// stream keyed by the device, the run and the attempt) and its answer becomes an event; a
/// device timer becomes one only if the answer would not come first. No wall clock is read and
/// no hash map is iterated, so the same scenario and seed give the same trace, bit for bit.
///
/// Memory per target: the run's state and attempt (2 bytes), a reason byte, and 8 to 16 bytes
/// per pending event. No allocation per event: the action buffer is reused and queue buckets
/// keep their capacity.
#[derive(Debug)]
pub struct Simulation {
    model: DeviceModel,
    jobs: Vec<Job>,
    commands: Vec<(i64, usize, JobCommand)>,
    /// Reruns: (the job rerun, the rerun's id, when; `None`: when the job settles).
    reruns: Vec<(usize, String, Option<i64>)>,
    queue: CalendarQueue,
    /// Batches' events sorted into runs, with their markers in `queue`.
    runs: Runs,
    /// An event popped past the horizon, kept for a later `run` with a later horizon.
    held: Option<(i64, u64)>,
    until_ms: Option<i64>,
    now_ms: i64,
    events: u64,
    /// The event budget: `step` processes no event past it ([`crate::SimBuilder::max_events`]).
    max_events: u64,
    /// The wall-clock budget, checked every [`BUDGET_CHECK_EVENTS`] events by
    /// [`Simulation::try_run_with_progress`].
    max_wall: Option<std::time::Duration>,
    /// Why the simulation stopped before its end: a budget ran out.
    stopped: Option<ErrorKind>,
    trace: Trace,
    /// The processed events, when recording is on.
    log: Option<Vec<TraceEvent>>,
    /// The hub's concurrent-jobs limit: runs holding a slot, and jobs waiting for one.
    slots: JobSlots<usize>,
    /// Jobs whose run has started and not settled: the ones whose series advance.
    live: Vec<usize>,
    /// The earliest next sample of the live jobs' series and the hub's (never later than it:
    /// a series that finishes leaves it early, which costs one needless [`Self::sample`]).
    /// One comparison per event instead of a pass over the live jobs.
    sample_due_ms: i64,
    schedules: Vec<Schedule>,
    clock_start_ms: i64,
    series_samples: usize,
    /// The hub model's queues over time (never started without a hub model: its `next_ms`
    /// then stays `i64::MAX`, and the check in `step` is one comparison).
    hub_series: Series<crate::result::HubSample>,
}

/// A scheduled job in the simulation: its state machine and what each run executes.
#[derive(Debug)]
struct Schedule {
    state: ScheduledJobState,
    spec: JobSpec,
    op: PreparedOp,
}

/// The starting queue: submissions, commands, timed reruns, end behaviours, first occurrences.
fn initial_queue(
    jobs: &[Job],
    commands: &[(i64, usize, JobCommand)],
    reruns: &[(usize, String, Option<i64>)],
    schedules: &[Schedule],
    clock_start_ms: i64,
) -> CalendarQueue {
    let mut queue = CalendarQueue::new();
    // Submissions in time order, then job order (FIFO among equal times).
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&j| (jobs[j].submitted_ms, j));
    for j in order {
        queue.push(jobs[j].submitted_ms, pack(KIND_START, 0, 0, j as u16, 0));
    }
    let mut order: Vec<usize> = (0..commands.len()).collect();
    order.sort_by_key(|&c| (commands[c].0, c));
    for c in order {
        queue.push(
            commands[c].0,
            pack(KIND_COMMAND, 0, 0, commands[c].1 as u16, c as u32),
        );
    }
    for (r, (_, _, at_ms)) in reruns.iter().enumerate() {
        if let Some(at_ms) = at_ms {
            queue.push(*at_ms, pack(KIND_COMMAND, RERUN, 0, 0, r as u32));
        }
    }
    // End behaviours after every submission and command of their instant; a run that starts
    // after its end time gets it when it starts (as soon as it is submitted, or when a hub
    // slot frees).
    for (j, job) in jobs.iter().enumerate() {
        if let Some((end_ms, _)) = job.end {
            let at_ms = end_ms.max(job.submitted_ms);
            queue.push(at_ms, pack(KIND_COMMAND, END_BEHAVIOR, 0, j as u16, 0));
        }
    }
    for (s, schedule) in schedules.iter().enumerate() {
        if let Some(t) = schedule.state.next_occurrence_ms() {
            queue.push(t - clock_start_ms, pack(KIND_OCCURRENCE, 0, 0, s as u16, 0));
        }
    }
    queue
}

/// What [`Simulation::new`] is made of (checked by [`crate::SimBuilder::build`]).
pub(crate) struct Parts<'a> {
    pub(crate) seed: u64,
    pub(crate) fleet: Fleet,
    pub(crate) behaviour: Behaviour,
    pub(crate) hub: Option<&'a HubSpec>,
    pub(crate) jobs: &'a [JobSpec],
    pub(crate) schedules: Vec<(ScheduledJobSpec, ScheduledJobState)>,
    pub(crate) clock_start_ms: i64,
    pub(crate) commands: Vec<(i64, usize, JobCommand)>,
    pub(crate) reruns: Vec<(usize, String, Option<i64>)>,
    pub(crate) until_ms: Option<i64>,
    pub(crate) series_samples: usize,
    pub(crate) record_events: bool,
    pub(crate) max_events: u64,
    pub(crate) max_wall: Option<std::time::Duration>,
}

impl Simulation {
    pub(crate) fn new(parts: Parts<'_>) -> Self {
        let Parts {
            seed,
            fleet,
            behaviour,
            hub,
            jobs,
            schedules,
            clock_start_ms,
            commands,
            reruns,
            until_ms,
            series_samples,
            record_events,
            max_events,
            max_wall,
        } = parts;
        let mut model = DeviceModel::from_parts(seed, fleet, behaviour, hub);
        let jobs: Vec<Job> = jobs
            .iter()
            .map(|j| {
                let op = model.compile(&j.operation);
                Job::new(j, op, clock_start_ms, series_samples)
            })
            .collect();
        let schedules: Vec<Schedule> = schedules
            .into_iter()
            .map(|(spec, state)| Schedule {
                op: model.compile(&spec.job.operation),
                spec: spec.job,
                state,
            })
            .collect();
        let queue = initial_queue(&jobs, &commands, &reruns, &schedules, clock_start_ms);
        let slots = JobSlots::new(hub.map(|h| h.limits().concurrent_jobs));
        Self {
            model,
            jobs,
            commands,
            reruns,
            queue,
            runs: Runs::default(),
            held: None,
            until_ms,
            now_ms: 0,
            events: 0,
            max_events,
            max_wall,
            stopped: None,
            trace: Trace::new(seed),
            log: record_events.then(Vec::new),
            slots,
            live: Vec::new(),
            sample_due_ms: i64::MAX,
            schedules,
            clock_start_ms,
            series_samples,
            hub_series: Series::new(series_samples),
        }
        .with_hub_series()
    }

    /// Starts the hub model's series at time 0, when there is a hub model.
    fn with_hub_series(mut self) -> Self {
        if let Some(first) = self.model.hub_sample(0) {
            self.hub_series.start_with(0, first);
            self.sample_due_ms = self.sample_due_ms.min(self.hub_series.next_ms);
        }
        self
    }

    // ----- reading -----

    /// The virtual time of the last event processed.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// The fleet as it is now.
    pub fn fleet(&self) -> &Fleet {
        self.model.fleet()
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.model.seed()
    }

    /// Where the simulation stands.
    pub fn progress(&self) -> Progress {
        let mut p = Progress {
            events_processed: self.events,
            now_ms: self.now_ms,
            jobs_total: self.jobs.len() as u32,
            jobs_settled: 0,
            devices_total: 0,
            devices_terminal: 0,
        };
        for job in &self.jobs {
            p.jobs_settled += u32::from(job.settled);
            if let Some(run) = job.run() {
                let c = run.counts();
                p.devices_total += u64::from(c.total);
                p.devices_terminal += u64::from(c.terminal());
            }
        }
        p
    }

    /// The fleet heap bytes plus the simulator's per-device structures (behaviour index, runs'
    /// reasons and targets, the flapping cursors); the event queue and the runs' own vectors
    /// are not counted.
    pub fn heap_bytes(&self) -> usize {
        self.model.heap_bytes()
            + self
                .jobs
                .iter()
                .filter_map(|j| j.exec.as_ref())
                .map(|e| e.reasons().len() + e.targets().map_or(0, |t| t.len() * 4))
                .sum::<usize>()
    }

    // ----- running -----

    /// Processes the next event. Returns `false` when there is none left (or the next one is
    /// past the horizon), or when the event budget is spent ([`Self::stopped`] then says so).
    pub fn step(&mut self) -> bool {
        if self.events >= self.max_events {
            return self.out_of_events();
        }
        let Some((at_ms, payload)) = self.next_event() else {
            return false;
        };
        if self.until_ms.is_some_and(|u| at_ms > u) {
            self.held = Some((at_ms, payload));
            return false;
        }
        debug_assert!(at_ms >= self.now_ms);
        self.now_ms = at_ms;
        self.events += 1;
        self.trace.event(at_ms, payload);
        if let Some(log) = &mut self.log {
            log.push(TraceEvent::decode(at_ms, payload));
        }
        if self.sample_due_ms < at_ms {
            self.sample(at_ms);
        }
        self.event(payload);
        true
    }

    /// Time reached `at_ms`, past a series' next sample: every series due takes its samples
    /// up to `at_ms`, and the earliest next sample is found again. Once per sampling step of a
    /// series, not per event.
    #[inline(never)]
    fn sample(&mut self, at_ms: i64) {
        let mut due_ms = i64::MAX;
        for &j in &self.live {
            let job = &mut self.jobs[j];
            if job.series.next_ms < at_ms {
                if let Some(exec) = &job.exec {
                    job.series.advance(at_ms, exec.run().counts());
                }
            }
            due_ms = due_ms.min(job.series.next_ms);
        }
        if self.hub_series.next_ms < at_ms {
            let model = &self.model;
            self.hub_series.advance_with(at_ms, |t| {
                model.hub_sample(t).expect("a started hub series has a hub")
            });
        }
        self.sample_due_ms = due_ms.min(self.hub_series.next_ms);
    }

    /// The event budget is spent: records why the simulation stops. Out of the hot loop.
    #[cold]
    #[inline(never)]
    fn out_of_events(&mut self) -> bool {
        self.stopped = Some(ErrorKind::EventBudget {
            events: self.events,
            now_ms: self.now_ms,
        });
        false
    }

    /// The next event that means something, in (time, insertion) order.
    fn next_event(&mut self) -> Option<(i64, u64)> {
        loop {
            let (at_ms, payload) = match self.held.take().or_else(|| self.runs.next()) {
                Some(event) => event,
                None => match self.queue.pop()? {
                    (at_ms, p) if is_run_marker(p) => {
                        self.runs.open(p as u32, at_ms);
                        continue;
                    }
                    event => event,
                },
            };
            // A timer or end time of a run that has already settled changes nothing: dropping
            // it keeps the virtual end time at the last event that mattered.
            if self.is_stale_timer(payload) {
                continue;
            }
            // An occurrence comes after every other event of its instant, so that a run that
            // ends at that instant has ended (docs/semantics.md section 17).
            if payload >> 61 == KIND_OCCURRENCE
                && (self.queue.has_more_now() || self.runs.has_more_now())
            {
                self.queue.push(at_ms, payload);
                continue;
            }
            return Some((at_ms, payload));
        }
    }

    /// Carries out one event at the current time.
    #[inline]
    fn event(&mut self, payload: u64) {
        let (kind, reason, attempt, job, device) = unpack(payload);
        let j = usize::from(job);
        match kind {
            KIND_START => self.submit(j),
            KIND_ANSWER => self.answer(j, device, attempt, reason),
            KIND_TIMEOUT => self.timer(j, Timer::DeviceTimeout { device, attempt }),
            KIND_DEADLINE => self.timer(j, Timer::Deadline),
            KIND_DISPATCH => self.timer(j, Timer::Dispatch),
            KIND_WINDOW => self.timer(j, Timer::Window),
            KIND_COMMAND if reason == END_BEHAVIOR => self.end_behavior(j),
            KIND_COMMAND if reason == RERUN => self.rerun(device as usize),
            KIND_COMMAND => self.command(device as usize),
            KIND_OCCURRENCE => self.occurrence(j),
            _ => unreachable!("unknown event kind {kind}"),
        }
    }

    /// Whether `payload` is a timer or the end time of a job whose run has settled.
    #[inline(always)]
    fn is_stale_timer(&self, payload: u64) -> bool {
        // Starts, answers and device timeouts (most events) are never stale here.
        const _: () = assert!(KIND_START < KIND_TIMEOUT && KIND_ANSWER < KIND_TIMEOUT);
        if payload >> 61 <= KIND_TIMEOUT {
            return false;
        }
        let (kind, reason, _, job, _) = unpack(payload);
        let timer = match kind {
            KIND_DEADLINE => Timer::Deadline,
            KIND_DISPATCH => Timer::Dispatch,
            KIND_WINDOW => Timer::Window,
            // An end time is stale when the run's deadline would be.
            KIND_COMMAND if reason == END_BEHAVIOR => Timer::Deadline,
            _ => return false,
        };
        self.jobs[usize::from(job)]
            .exec
            .as_ref()
            .is_some_and(|exec| !exec.wants(timer))
    }

    /// Why the simulation stopped before its end, if a budget ran out
    /// ([`ErrorKind::EventBudget`], [`ErrorKind::WallBudget`]).
    pub fn stopped(&self) -> Option<&ErrorKind> {
        self.stopped.as_ref()
    }

    /// Runs to the end (no event left, or the horizon) and returns the result. A simulation
    /// with an event budget stops at it (see [`Self::try_run_with_progress`] to be told).
    pub fn run(mut self) -> SimResult {
        while self.step() {}
        self.finish()
    }

    /// Runs to the end, calling `progress` every `every_events` events and once at the end.
    pub fn run_with_progress(
        mut self,
        every_events: u64,
        progress: &mut dyn FnMut(&Progress),
    ) -> SimResult {
        let mut due = ProgressDue::new(every_events, self.events);
        while self.step() {
            if due.now(self.events) {
                progress(&self.progress());
            }
        }
        progress(&self.progress());
        self.finish()
    }

    /// Runs to the end like [`Self::run_with_progress`], within the budgets: when the event
    /// budget ([`crate::SimBuilder::max_events`]) or the wall-clock budget
    /// ([`crate::SimBuilder::max_wall`], checked every 65,536 events) runs out first, the
    /// error says which, how many events were processed and the virtual time reached.
    pub fn try_run_with_progress(
        mut self,
        every_events: u64,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<SimResult> {
        let mut due = ProgressDue::new(every_events, self.events);
        let started = std::time::Instant::now();
        while self.step() {
            if due.now(self.events) {
                progress(&self.progress());
            }
            if self.events % BUDGET_CHECK_EVENTS == 0 {
                if let Some(limit) = self.max_wall.filter(|l| started.elapsed() > *l) {
                    self.stopped = Some(ErrorKind::WallBudget {
                        limit_s: limit.as_secs_f64(),
                        events: self.events,
                        now_ms: self.now_ms,
                    });
                    break;
                }
            }
        }
        progress(&self.progress());
        match self.stopped.take() {
            Some(kind) => Err(Error::new(kind)),
            None => Ok(self.finish()),
        }
    }

    /// Ends the simulation where it stands and returns the result (jobs not settled keep their
    /// current status and counts).
    pub fn finish(mut self) -> SimResult {
        let now = self.now_ms;
        self.reruns_never_made();
        let ids: Vec<String> = self.jobs.iter().map(|j| j.id.clone()).collect();
        let mut jobs = Vec::with_capacity(self.jobs.len());
        for mut job in std::mem::take(&mut self.jobs) {
            if let Some(exec) = &job.exec {
                job.series.finish(now, exec.run().counts());
            }
            let scheduled_job_id = job
                .schedule
                .map(|s| self.schedules[usize::from(s)].state.id().to_string());
            let rerun_of = job.rerun_of.map(|s| ids[s].clone());
            jobs.push(JobResult {
                scheduled_job_id,
                rerun_of,
                ..job_result(job)
            });
        }
        let model = &self.model;
        let mut hub_series = std::mem::replace(&mut self.hub_series, Series::new(0));
        // Without a hub model the series never started: nothing is recorded, nothing asked.
        hub_series.finish_with(now, |t| {
            model.hub_sample(t).expect("a started hub series has a hub")
        });
        let hub_series = hub_series.into_samples();
        let clock_start_ms = self.clock_start_ms;
        let schedules = self
            .schedules
            .iter()
            .map(|s| schedule_result(&s.state, clock_start_ms))
            .collect();
        SimResult {
            seed: self.model.seed(),
            trace_hash: self.trace.finish(),
            events_processed: self.events,
            end_ms: self
                .until_ms
                .map_or(now, |u| if self.held.is_some() { u } else { now }),
            hub: self.model.hub_limits(),
            swarm: self.model.behaviour().swarm.clone(),
            cohorts: self.model.behaviour().cohorts.clone(),
            events: self.log.take(),
            clock_start_ms,
            hub_series,
            jobs,
            schedules,
            fleet: self.model.into_fleet(),
        }
    }

    /// Records, on its job, each rerun that never came (its job's run never settled).
    fn reruns_never_made(&mut self) {
        for (source, id, _) in &self.reruns {
            if self.jobs.iter().all(|j| &j.id != id) {
                self.jobs[*source].commands.push(CommandRow {
                    at_ms: self.now_ms,
                    command: "rerun",
                    error: Some(format!("rerun {id:?} never came: the run did not settle")),
                });
            }
        }
    }

    // ----- jobs and the engine -----

    fn submit(&mut self, job: usize) {
        if self.slots.take_or_wait(job) {
            self.start_job(job);
        }
    }

    /// The targets of job `j`, a snapshot now (semantics rule 1), sorted and unique; `None`:
    /// every device in order.
    fn snapshot_targets(&self, j: usize) -> Option<Vec<u32>> {
        let fleet = self.model.fleet();
        if let Some(source) = self.jobs[j].rerun_of {
            let exec = self.jobs[source]
                .exec
                .as_ref()
                .expect("a rerun's job has run");
            let failed = exec.run().failed_devices().map(|t| exec.device(t));
            // Targets in fleet order (a source's targets are), never the identity mapping:
            // a rerun of every device is rare, and its targets are then the fleet anyway.
            return Some(failed.collect::<Vec<u32>>()).filter(|t| t.len() != fleet.len() as usize);
        }
        let targets = match &self.jobs[j].targets_spec {
            TargetSpec::All => None,
            TargetSpec::Selector(s) => s.compile(fleet).select_unless_all(fleet),
            TargetSpec::Devices(ids) => {
                let mut v: Vec<u32> = ids.iter().filter_map(|id| fleet.index_of(id)).collect();
                v.sort_unstable();
                v.dedup();
                Some(v)
            }
        };
        // A sorted, unique list as long as the fleet is every device: the identity mapping
        // keeps the per-device indirection off the hot path.
        targets.filter(|t| t.len() != fleet.len() as usize)
    }

    /// Starts job `j`'s run now (it holds a hub slot if a hub is modelled).
    fn start_job(&mut self, j: usize) {
        let now = self.now_ms;
        let targets = self.snapshot_targets(j);
        let n = targets
            .as_ref()
            .map_or(self.model.fleet().len(), |t| t.len() as u32);
        let seed = self.model.seed();
        let job = &mut self.jobs[j];
        job.holds_slot = self.slots.limited();
        let run = job
            .builder
            .build(n)
            .expect("run settings were validated by the builder");
        job.series.start(now, run.counts());
        self.sample_due_ms = self.sample_due_ms.min(job.series.next_ms);
        job.exec = Some(RunExec::new(run, RunKey::new(seed, &job.id), targets));
        job.started_ms = Some(now);
        let first = match self.model.cannot_execute(&job.op) {
            Some(_) => Input::Fail,
            None => Input::Start,
        };
        self.live.push(j);
        self.handle(j, first);
        if self.jobs[j].end_due {
            self.apply_end_behavior(j);
        }
    }

    /// Hands `input` to job `j`'s run, carries out its actions, and settles the bookkeeping.
    #[inline]
    fn handle(&mut self, j: usize, input: Input) -> Option<fleet_core::Error> {
        let now = self.now_ms;
        let job = &mut self.jobs[j];
        let exec = job.exec.as_mut().expect("started");
        let mut agenda = QueueAgenda {
            queue: &mut self.queue,
            runs: &mut self.runs,
            job: j as u16,
        };
        let result = exec.handle(&mut self.model, &job.op, now, input, &mut agenda);
        self.after_handle(j);
        result.err()
    }

    /// A timer of job `j`'s run came due.
    #[inline]
    fn timer(&mut self, j: usize, timer: Timer) {
        let now = self.now_ms;
        let job = &mut self.jobs[j];
        let exec = job.exec.as_mut().expect("timers only reach started jobs");
        let mut agenda = QueueAgenda {
            queue: &mut self.queue,
            runs: &mut self.runs,
            job: j as u16,
        };
        if exec.timer(&mut self.model, &job.op, now, timer, &mut agenda) {
            self.after_handle(j);
        }
    }

    /// An answer to job `j`'s dispatch came.
    #[inline]
    fn answer(&mut self, j: usize, target: u32, attempt: u8, reason: u8) {
        let now = self.now_ms;
        let job = &mut self.jobs[j];
        let exec = job.exec.as_mut().expect("answers only reach started jobs");
        let answer = Answer {
            target,
            device: exec.device(target),
            attempt,
            reason,
        };
        let mut agenda = QueueAgenda {
            queue: &mut self.queue,
            runs: &mut self.runs,
            job: j as u16,
        };
        if exec.answer(&mut self.model, &job.op, now, answer, &mut agenda) {
            self.after_handle(j);
        }
    }

    /// Settles the bookkeeping after a run changed: the final sample, the schedule, the hub
    /// slot.
    #[inline(always)]
    fn after_handle(&mut self, j: usize) {
        let now = self.now_ms;
        let job = &mut self.jobs[j];
        let run = job.exec.as_ref().expect("started").run();
        if job.settled || !run.is_settled() {
            return;
        }
        job.settled = true;
        job.series.finish(now, run.counts());
        let status = run.status();
        if let Some(s) = job.schedule {
            let t = now + self.clock_start_ms;
            self.schedules[usize::from(s)]
                .state
                .run_finished(t, &job.id, status, &mut Vec::new())
                .expect("a run settles once, while active, with a final status");
        }
        if let Some(at) = self.live.iter().position(|&l| l == j) {
            self.live.swap_remove(at);
        }
        for (r, (source, _, at_ms)) in self.reruns.iter().enumerate() {
            if *source == j && at_ms.is_none() {
                self.queue
                    .push(now, pack(KIND_COMMAND, RERUN, 0, 0, r as u32));
            }
        }
        if std::mem::take(&mut self.jobs[j].holds_slot) {
            self.slots.release();
            while let Some(next) = self.slots.next_ready() {
                self.start_job(next);
            }
        }
    }

    /// Job `j`'s end time came: its end behaviour goes to the run now, or when it starts.
    fn end_behavior(&mut self, j: usize) {
        if self.jobs[j].exec.is_none() {
            self.jobs[j].end_due = true;
        } else {
            self.apply_end_behavior(j);
        }
    }

    fn apply_end_behavior(&mut self, j: usize) {
        let (_, behavior) = self.jobs[j].end.expect("a job with an end time");
        self.jobs[j].end_due = false;
        let error = match self.jobs[j].run().map(JobRun::status) {
            // Nothing left to stop or cancel.
            Some(RunStatus::Complete | RunStatus::Failed) => {
                Some("the run had already ended".to_string())
            }
            _ => self.handle(j, behavior.input()).map(|e| e.to_string()),
        };
        self.jobs[j].end_row = Some(CommandRow {
            at_ms: self.now_ms,
            command: behavior.as_str(),
            error,
        });
    }

    /// The next occurrence of schedule `s` came: a new run, or a skip.
    fn occurrence(&mut self, s: usize) {
        let t = self.now_ms + self.clock_start_ms;
        let mut events = Vec::new();
        self.schedules[s]
            .state
            .advance(t, &mut events)
            .expect("the simulation's time never goes back");
        for event in events {
            if let ScheduleEvent::RunCreated { run, .. } = event {
                self.create_run(s, &run.id);
            }
        }
        if let Some(next) = self.schedules[s].state.next_occurrence_ms() {
            let at_ms = next - self.clock_start_ms;
            self.queue
                .push(at_ms, pack(KIND_OCCURRENCE, 0, 0, s as u16, 0));
        }
    }

    /// Adds a run of schedule `s` as a new job with id `id` and submits it now. It draws its
    /// own fates: its random streams are keyed by its id.
    fn create_run(&mut self, s: usize, id: &str) {
        let schedule = &self.schedules[s];
        debug_assert!(
            self.jobs.len() < usize::from(MAX_JOBS),
            "the builder bounds the runs"
        );
        let mut job = Job::new(
            &schedule.spec,
            schedule.op.clone(),
            self.clock_start_ms,
            self.series_samples,
        );
        job.id = id.to_string();
        job.submitted_ms = self.now_ms;
        job.schedule = Some(s as u16);
        self.jobs.push(job);
        self.submit(self.jobs.len() - 1);
    }

    /// Rerun `r` came: a new job over the failed devices of its source's run, submitted now
    /// (semantics rule 6); or a refused command on the source.
    fn rerun(&mut self, r: usize) {
        let (source, id, _) = self.reruns[r].clone();
        let refused = match self.jobs[source].run() {
            None => Some("the job has not started".to_string()),
            Some(run) => run.rerun().err().map(|e| e.to_string()),
        };
        if let Some(error) = refused {
            let at_ms = self.now_ms;
            let row = CommandRow {
                at_ms,
                command: "rerun",
                error: Some(error),
            };
            return self.jobs[source].commands.push(row);
        }
        let job = self.jobs[source].rerun(id, source, self.now_ms, self.series_samples);
        self.jobs[source].commands.push(CommandRow {
            at_ms: self.now_ms,
            command: "rerun",
            error: None,
        });
        self.jobs.push(job);
        self.submit(self.jobs.len() - 1);
    }

    fn command(&mut self, c: usize) {
        let (at_ms, j, command) = self.commands[c];
        let error = if self.jobs[j].exec.is_none() {
            Some("the job has not started".to_string())
        } else {
            self.handle(j, command.input()).map(|e| e.to_string())
        };
        self.jobs[j].commands.push(CommandRow {
            at_ms,
            command: command.as_str(),
            error,
        });
    }
}

fn job_result(job: Job) -> JobResult {
    let Some(exec) = job.exec else {
        return pending_result(job);
    };
    let (run, targets, reasons) = exec.into_parts();
    let failure_reasons = failure_reason_counts(&run, &reasons);
    let started = run.started_ms().or(job.started_ms);
    let finished = run.finished_ms();
    JobResult {
        id: job.id,
        operation: job.kind,
        status: run.status(),
        counts: run.counts(),
        submitted_ms: job.submitted_ms,
        started_ms: started,
        finished_ms: finished,
        duration_ms: started.zip(finished).map(|(s, f)| f - s),
        queued_ms: job.started_ms.map_or(0, |s| s - job.submitted_ms),
        batches: batch_rows(&run),
        threshold_trip: run.threshold_trip().map(trip_row),
        abort_trip: run.abort_trip().map(abort_trip_row),
        pauses: pause_rows(&run),
        failure_reasons,
        series: job.series.into_samples(),
        commands: job.commands,
        end_behavior: job.end_row,
        window_waits: run.window_waits(),
        scheduled_job_id: None,
        rerun_of: None,
        devices: device_results(run, targets, reasons),
    }
}

/// The report of a job that never started: no run, so no batches, devices or trips.
fn pending_result(job: Job) -> JobResult {
    JobResult {
        id: job.id,
        operation: job.kind,
        status: RunStatus::Pending,
        counts: Default::default(),
        submitted_ms: job.submitted_ms,
        started_ms: None,
        finished_ms: None,
        duration_ms: None,
        queued_ms: 0,
        batches: Vec::new(),
        threshold_trip: None,
        abort_trip: None,
        pauses: Vec::new(),
        failure_reasons: BTreeMap::new(),
        series: Vec::new(),
        commands: job.commands,
        end_behavior: job.end_row,
        window_waits: 0,
        scheduled_job_id: None,
        rerun_of: None,
        devices: DeviceResults::default(),
    }
}

/// Failed devices counted by reason word (the device's state where it has no reason code).
fn failure_reason_counts(run: &JobRun, reasons: &[u8]) -> BTreeMap<&'static str, u32> {
    let mut failure_reasons = BTreeMap::new();
    for (s, r) in run.device_states().iter().zip(reasons) {
        if s.is_failure() {
            let word = Reason::from_u8(*r).map_or(s.as_str(), Reason::as_str);
            *failure_reasons.entry(word).or_insert(0) += 1;
        }
    }
    failure_reasons
}

/// One report row per batch of the run, in order.
fn batch_rows(run: &JobRun) -> Vec<BatchRow> {
    run.batches()
        .iter()
        .enumerate()
        .map(|(i, b)| BatchRow {
            index: i as u32,
            size: b.size,
            started_ms: b.started_ms,
            finished_ms: b.finished_ms,
            succeeded: b.succeeded,
            failed: b.failed,
            cancelled: b.cancelled,
        })
        .collect()
}

/// The report row of a cancellation-threshold trip.
fn trip_row(t: ThresholdTrip) -> TripRow {
    TripRow {
        batch: t.batch,
        at_ms: t.at_ms,
        failures: t.failures,
        limit: t.limit,
    }
}

/// The report row of an abort-criterion trip.
fn abort_trip_row(t: AbortTrip) -> AbortTripRow {
    AbortTripRow {
        criterion: t.criterion,
        failure_type: t.failure_type.as_str(),
        batch: t.batch,
        at_ms: t.at_ms,
        executed: t.executed,
        failures: t.failures,
    }
}

/// One report row per gate pause of the run, with the count and limit that paused it.
fn pause_rows(run: &JobRun) -> Vec<PauseRow> {
    run.pauses()
        .iter()
        .map(|p| {
            let (count, limit) = match p.reason {
                PauseReason::SuccessReached { succeeded, limit }
                | PauseReason::BelowSuccess { succeeded, limit } => (succeeded, limit),
                PauseReason::ErrorCondition { failures, limit } => (failures, limit),
            };
            PauseRow {
                batch: p.batch,
                at_ms: p.at_ms,
                reason: p.reason.as_str(),
                count,
                limit,
            }
        })
        .collect()
}

/// The per-device columns of the report: targets, final states, attempts and reason codes.
fn device_results(run: JobRun, targets: Option<Vec<u32>>, reasons: Vec<u8>) -> DeviceResults {
    let (states, attempts) = run.into_device_columns();
    DeviceResults {
        targets,
        states,
        attempts,
        reasons,
    }
}

/// The report of one scheduled job: one row per occurrence that came.
fn schedule_result(state: &ScheduledJobState, clock_start_ms: i64) -> ScheduleResult {
    let occurrences = state
        .occurrences()
        .iter()
        .map(|o| {
            let (run, skipped, active_run) = match &o.outcome {
                OccurrenceOutcome::Run { run_id } => (Some(run_id.clone()), None, None),
                OccurrenceOutcome::Skipped(SkipReason::Disabled) => (None, Some("disabled"), None),
                OccurrenceOutcome::Skipped(SkipReason::RunActive { run_id }) => {
                    (None, Some("run_active"), Some(run_id.clone()))
                }
            };
            OccurrenceRow {
                occurrence: o.occurrence,
                at_ms: o.at_ms - clock_start_ms,
                run,
                skipped,
                active_run,
            }
        })
        .collect();
    ScheduleResult {
        id: state.id().to_string(),
        enabled: state.enabled(),
        completed: state.completed(),
        time_zone: state.time_zone().iana_name().unwrap_or("UTC").to_string(),
        occurrences,
    }
}

impl TraceEvent {
    fn decode(at_ms: i64, payload: u64) -> Self {
        let (kind, reason, attempt, job, device) = unpack(payload);
        let kind = match kind {
            KIND_START => "start",
            KIND_ANSWER => "answer",
            KIND_TIMEOUT => "device_timeout",
            KIND_DEADLINE => "deadline",
            KIND_DISPATCH => "dispatch_timer",
            KIND_WINDOW => "window_timer",
            KIND_OCCURRENCE => "occurrence",
            _ if reason == END_BEHAVIOR => "end_behavior",
            _ => "command",
        };
        let outcome = (kind == "answer").then(|| match Reason::from_u8(reason) {
            None => "succeeded",
            Some(r) => r.as_str(),
        });
        Self {
            at_ms,
            kind,
            job,
            device,
            attempt,
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use fleet_core::{BatchSize, RunBuilder, Threshold};
    use serde_json::json;

    use super::*;
    use crate::{BehaviourSpec, FleetSpec, Operation, SimBuilder, TemplateShare, TemplateSpec};

    /// A rollout whose batches are large and dense enough to become runs (3,000 answers within
    /// a 2 s time-out), with failures, offline devices timing out inside the runs, a job-wide
    /// threshold at `threshold_percent`, and a command job interleaving with it.
    fn dense(seed: u64, threshold_percent: f64) -> Simulation {
        let templates: Vec<TemplateSpec> = serde_json::from_value(json!([{
            "id": "t", "properties": [{"name": "temp", "schema": "double"}],
            "commands": [{"name": "reboot"}]
        }]))
        .unwrap();
        let behaviour: BehaviourSpec = serde_json::from_value(json!({"rules": [
            {"latency": {"type": "lognormal", "median_ms": 900, "sigma": 0.6},
             "failure_probability": 0.04, "offline": 0.02}
        ]}))
        .unwrap();
        let fleet = FleetSpec {
            devices: 6_000,
            id_pattern: "d-{:05}".into(),
            templates: vec![TemplateShare {
                template: "t".into(),
                share: Some(1.0),
                count: None,
            }],
            ..FleetSpec::default()
        };
        let property = Operation::Property {
            name: "temp".into(),
            value: json!(21.5),
        };
        let rollout = JobSpec::new("rollout", property).run(
            RunBuilder::new()
                .batch(BatchSize::percentage(50.0).unwrap())
                .threshold(Threshold::percentage(threshold_percent, false).unwrap())
                .device_timeout_ms(2_000),
        );
        let command = Operation::Command {
            name: "reboot".into(),
            payload: json!(null),
            response_timeout_ms: 1_500,
            connect_timeout_ms: 1_000,
        };
        SimBuilder::new(seed)
            .templates(templates)
            .fleet(fleet)
            .behaviour(behaviour)
            .job(rollout)
            .job(JobSpec::new("command", command).start_ms(700))
            .record_events(true)
            .build()
            .unwrap()
    }

    #[test]
    fn batches_taken_as_runs_give_exactly_the_events_of_the_queue_alone() {
        for (seed, threshold_percent) in [(1, 50.0), (2, 50.0), (3, 2.0), (4, 3.0)] {
            let mut with_runs = dense(seed, threshold_percent);
            let mut without = dense(seed, threshold_percent);
            without.runs = Runs::disabled();
            let mut steps = 0;
            while with_runs.step() {
                steps += 1;
                assert!(without.step(), "seed {seed}: the queue alone ends first");
                assert_eq!(
                    with_runs.now_ms, without.now_ms,
                    "seed {seed}, event {steps}"
                );
            }
            assert!(!without.step(), "seed {seed}: the runs end first");
            assert!(
                with_runs.runs.made() > 0,
                "seed {seed}: no batch became a run"
            );
            assert_eq!(without.runs.made(), 0);
            let (a, b) = (with_runs.finish(), without.finish());
            assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&b).unwrap(),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn payloads_round_trip() {
        let p = pack(KIND_TIMEOUT, 10, 255, 65_534, u32::MAX);
        assert_eq!(unpack(p), (KIND_TIMEOUT, 10, 255, 65_534, u32::MAX));
        let p = pack(KIND_COMMAND, 0, 1, 0, 7);
        assert_eq!(unpack(p), (KIND_COMMAND, 0, 1, 0, 7));
        assert!(is_run_marker(run_marker(u32::MAX)) && is_run_marker(run_marker(0)));
        assert!(!is_run_marker(pack(KIND_COMMAND, RERUN, 0, 0, 3)));
        assert!(!is_run_marker(pack(KIND_OCCURRENCE, RUN_MARKER, 0, 0, 3)));
    }
}
