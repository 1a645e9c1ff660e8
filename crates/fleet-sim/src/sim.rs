//! [`Simulation`]: the virtual-time executor that drives each job's [`JobRun`] over the fleet.

use std::collections::{BTreeMap, VecDeque};

use fleet_core::schedule::{
    EndBehavior, OccurrenceOutcome, ScheduleEvent, ScheduledJobState, SkipReason,
};
use fleet_core::{
    Action, DeviceState, Input, JobRun, Outcome, PauseReason, RunBuilder, RunStatus, Timer,
};
use rand::Rng;
use serde_json::Value;

use crate::behaviour::{Behaviour, Flapping};
use crate::fleet::{ColumnKind, Fleet, NO_TEMPLATE};
use crate::hub::{Hub, HubLimits, HubSpec, Throttle};
use crate::job::{JobCommand, JobSpec};
use crate::operation::Operation;
use crate::result::{
    AbortTripRow, BatchRow, CommandRow, DeviceResults, JobResult, OccurrenceRow, PauseRow, Reason,
    ScheduleResult, SimResult, TraceEvent, TripRow,
};
use crate::rng::{self, unit_f64, Purpose};
use crate::schedule::ScheduledJobSpec;
use crate::selector::TargetSpec;
use crate::template::Schema;
use crate::trace::Trace;
use crate::util::queue::{CalendarQueue, EventQueue};
use crate::util::series::Series;

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

/// Reason code 0: the attempt succeeded.
const OK: u8 = 0;

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

/// The outcome the run is told for a reason code.
fn outcome_of(reason: u8) -> Outcome {
    match Reason::from_u8(reason) {
        None => Outcome::Succeeded,
        Some(Reason::Rejected) => Outcome::Rejected,
        Some(
            Reason::ResponseTimeout | Reason::Crashed | Reason::DeviceTimeout | Reason::Deadline,
        ) => Outcome::TimedOut,
        Some(_) => Outcome::Failed,
    }
}

// ----- compiled operations -----

/// A job's operation resolved against the fleet: names interned, template checks tabulated.
#[derive(Debug, Clone)]
enum Op {
    Property {
        /// Column and interned value in the desired properties.
        desired: (u32, u32),
        /// Column and interned value in the reported properties.
        reported: (u32, u32),
        /// Per template index: reason code if the template refuses it, else 0.
        check: Vec<u8>,
    },
    CloudProperty {
        /// Column and interned value in the cloud properties.
        value: (u32, u32),
        check: Vec<u8>,
    },
    Command {
        check: Vec<u8>,
        chunks: u32,
        response_timeout_ms: i64,
        connect_timeout_ms: i64,
    },
    Migration {
        template: Option<u16>,
    },
    UpdateTwin {
        tags: Vec<(u32, u32)>,
        desired: Vec<(u32, u32)>,
    },
    Method {
        /// Per template index: whether the template lacks the method.
        missing: Vec<bool>,
        response_timeout_ms: i64,
        connect_timeout_ms: i64,
    },
    /// An AWS job document or hawkBit deployment: fetched by the device once online.
    JobDocument,
}

impl Op {
    fn compile(op: &Operation, fleet: &mut Fleet) -> Self {
        let templates = fleet.templates().to_vec();
        let schema_check = |schema: Option<Schema>, value: &Value| match schema {
            None => Reason::NotInTemplate as u8,
            Some(s) if !s.matches(value) => Reason::SchemaMismatch as u8,
            Some(_) => OK,
        };
        match op {
            Operation::Property { name, value } => Op::Property {
                desired: fleet.intern(ColumnKind::Desired, name, value),
                reported: fleet.intern(ColumnKind::Reported, name, value),
                check: templates
                    .iter()
                    .map(|t| schema_check(t.property(name), value))
                    .collect(),
            },
            Operation::CloudProperty { name, value } => Op::CloudProperty {
                value: fleet.intern(ColumnKind::Cloud, name, value),
                check: templates
                    .iter()
                    .map(|t| schema_check(t.cloud_property(name), value))
                    .collect(),
            },
            Operation::Command {
                name,
                payload,
                response_timeout_ms,
                connect_timeout_ms,
            } => Op::Command {
                check: templates
                    .iter()
                    .map(|t| {
                        if t.has_command(name) {
                            OK
                        } else {
                            Reason::NotInTemplate as u8
                        }
                    })
                    .collect(),
                chunks: Operation::chunks(payload),
                response_timeout_ms: *response_timeout_ms,
                connect_timeout_ms: *connect_timeout_ms,
            },
            Operation::TemplateMigration { template } => Op::Migration {
                template: fleet.template_index(template),
            },
            Operation::UpdateTwin { tags, desired } => Op::UpdateTwin {
                tags: fleet.intern_patch(false, tags),
                desired: fleet.intern_patch(true, desired),
            },
            Operation::DeviceMethod {
                name,
                response_timeout_ms,
                connect_timeout_ms,
                ..
            } => Op::Method {
                missing: templates.iter().map(|t| !t.has_command(name)).collect(),
                response_timeout_ms: *response_timeout_ms,
                connect_timeout_ms: *connect_timeout_ms,
            },
            Operation::JobDocument { .. } => Op::JobDocument,
        }
    }
}

/// The template check of a per-template table: devices without a template fail.
#[inline]
fn check(table: &[u8], template: u16) -> u8 {
    if template == NO_TEMPLATE {
        Reason::NotInTemplate as u8
    } else {
        table[template as usize]
    }
}

// ----- jobs -----

#[derive(Debug)]
struct Job {
    id: String,
    kind: &'static str,
    op: Op,
    targets_spec: TargetSpec,
    builder: RunBuilder,
    submitted_ms: i64,
    /// Fleet index per target; `None`: all devices, target `i` is device `i`.
    targets: Option<Vec<u32>>,
    run: Option<JobRun>,
    /// Per target: the reason of the last attempt (see [`Reason`]), 0 if none.
    reasons: Vec<u8>,
    series: Series,
    started_ms: Option<i64>,
    holds_slot: bool,
    settled: bool,
    deadline_passed: bool,
    commands: Vec<CommandRow>,
    /// Mixed into the devices' random streams: 0 for a plain job, the run number for a run of
    /// a scheduled job (so that each run draws new fates).
    stream: u32,
    /// For a run of a scheduled job: the schedule's index.
    schedule: Option<u16>,
    /// The AWS end time and behaviour; whether it came before the run started.
    end: Option<(i64, EndBehavior)>,
    end_due: bool,
    end_row: Option<CommandRow>,
}

impl Job {
    fn new(spec: &JobSpec, op: Op, clock_start_ms: i64, series_samples: usize) -> Self {
        Self {
            id: spec.id.clone(),
            kind: spec.operation.kind(),
            op,
            targets_spec: spec.targets.clone(),
            builder: spec.run.clone().clock_origin_ms(clock_start_ms),
            submitted_ms: spec.start_ms,
            targets: None,
            run: None,
            reasons: Vec::new(),
            series: Series::new(series_samples),
            started_ms: None,
            holds_slot: false,
            settled: false,
            deadline_passed: false,
            commands: Vec::new(),
            stream: 0,
            schedule: None,
            end: spec.end,
            end_due: false,
            end_row: None,
        }
    }

    /// The counter of a device's random streams for `attempt`: the attempt in the low 8 bits,
    /// the job's stream above.
    #[inline]
    fn counter(&self, attempt: u8) -> u32 {
        self.stream << 8 | u32::from(attempt)
    }

    #[inline]
    fn device(&self, target: u32) -> u32 {
        match &self.targets {
            Some(t) => t[target as usize],
            None => target,
        }
    }
}

/// A simulation, built by [`crate::SimBuilder`]: a fleet, its behaviour, an optional hub and
/// jobs, run in deterministic virtual time.
///
/// # The executor
///
/// A virtual clock and an event queue ordered by (time, insertion order) — a calendar queue of
/// one-millisecond buckets ([`crate::util::queue::CalendarQueue`], chosen by benchmark over a
/// binary heap). Each step pops the earliest event, folds it into the trace hash, and hands it to
/// the job's [`JobRun`] as an [`Input`]; the run's [`Action`]s are carried out at once:
/// a dispatch draws the device's fate (outcome and latency, from the stream keyed by the device
/// and the attempt) and schedules its answer; a device timer is scheduled only if the answer
/// would not come first (a timer that would find the device already answered is a no-op, so it
/// is left out of the queue and the trace). No wall clock is read and no hash map is iterated,
/// so the same scenario and seed give the same trace, bit for bit.
///
/// Memory per target: the run's state and attempt (2 bytes), a reason byte, and about 8 bytes
/// per pending event. No allocation per event: the action buffer is reused and queue buckets
/// keep their capacity.
#[derive(Debug)]
pub struct Simulation {
    seed: u64,
    fleet: Fleet,
    behaviour: Behaviour,
    hub: Option<Hub>,
    hub_limits: Option<HubLimits>,
    jobs: Vec<Job>,
    commands: Vec<(i64, usize, JobCommand)>,
    queue: CalendarQueue,
    /// An event popped past the horizon, kept for a later `run` with a later horizon.
    held: Option<(i64, u64)>,
    until_ms: Option<i64>,
    now_ms: i64,
    events: u64,
    trace: Trace,
    /// The processed events, when recording is on.
    log: Option<Vec<TraceEvent>>,
    actions: Vec<Action>,
    /// Devices that crashed, and until when they are offline. Ordered, never iterated for
    /// results.
    crashed_until: BTreeMap<u32, i64>,
    /// Per device: the last flapping interval walked to (index, start), to resume the walk;
    /// (0, 0), the first interval, until the device's first walk. Two columns indexed by
    /// device, 12 bytes per device, allocated at the first flapping device: dispatches go in
    /// target order, so the walk reads them sequentially (a hash map here spent two thirds of
    /// the walk's time in cache misses).
    flap_k: Vec<u32>,
    flap_start: Vec<i64>,
    waiting: VecDeque<usize>,
    running_jobs: u32,
    /// Jobs whose run has started and not settled: the ones whose series advance.
    live: Vec<usize>,
    schedules: Vec<Schedule>,
    clock_start_ms: i64,
    series_samples: usize,
}

/// A scheduled job in the simulation: its state machine and what each run executes.
#[derive(Debug)]
struct Schedule {
    state: ScheduledJobState,
    spec: JobSpec,
    op: Op,
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
    pub(crate) until_ms: Option<i64>,
    pub(crate) series_samples: usize,
    pub(crate) record_events: bool,
}

impl Simulation {
    pub(crate) fn new(parts: Parts<'_>) -> Self {
        let Parts {
            seed,
            mut fleet,
            behaviour,
            hub,
            jobs,
            schedules,
            clock_start_ms,
            commands,
            until_ms,
            series_samples,
            record_events,
        } = parts;
        let jobs: Vec<Job> = jobs
            .iter()
            .map(|j| {
                let op = Op::compile(&j.operation, &mut fleet);
                Job::new(j, op, clock_start_ms, series_samples)
            })
            .collect();
        let schedules: Vec<Schedule> = schedules
            .into_iter()
            .map(|(spec, state)| Schedule {
                op: Op::compile(&spec.job.operation, &mut fleet),
                spec: spec.job,
                state,
            })
            .collect();
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
        Self {
            seed,
            fleet,
            behaviour,
            hub: hub.map(Hub::new),
            hub_limits: hub.map(HubSpec::limits),
            jobs,
            commands,
            queue,
            held: None,
            until_ms,
            now_ms: 0,
            events: 0,
            trace: Trace::new(seed),
            log: record_events.then(Vec::new),
            actions: Vec::new(),
            crashed_until: BTreeMap::new(),
            flap_k: Vec::new(),
            flap_start: Vec::new(),
            waiting: VecDeque::new(),
            running_jobs: 0,
            live: Vec::new(),
            schedules,
            clock_start_ms,
            series_samples,
        }
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
        &self.fleet
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
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
            if let Some(run) = &job.run {
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
        self.fleet.heap_bytes()
            + self.behaviour.heap_bytes()
            + self
                .jobs
                .iter()
                .map(|j| j.reasons.capacity() + j.targets.as_ref().map_or(0, |t| t.capacity() * 4))
                .sum::<usize>()
            + self.flap_k.capacity() * 4
            + self.flap_start.capacity() * 8
    }

    // ----- running -----

    /// Processes the next event. Returns `false` when there is none left (or the next one is
    /// past the horizon).
    pub fn step(&mut self) -> bool {
        let (at_ms, payload) = loop {
            let next = self.held.take().or_else(|| self.queue.pop());
            let Some((at_ms, payload)) = next else {
                return false;
            };
            // A timer or end time of a run that has already settled changes nothing: dropping
            // it keeps the virtual end time at the last event that mattered.
            if self.is_stale_timer(payload) {
                continue;
            }
            // An occurrence comes after every other event of its instant, so that a run that
            // ends at that instant has ended (docs/semantics.md section 17).
            if payload >> 61 == KIND_OCCURRENCE && self.queue.has_more_now() {
                self.queue.push(at_ms, payload);
                continue;
            }
            break (at_ms, payload);
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
        for &j in &self.live {
            let job = &mut self.jobs[j];
            if job.series.next_ms < at_ms {
                if let Some(run) = &job.run {
                    job.series.advance(at_ms, run.counts());
                }
            }
        }
        let (kind, reason, attempt, job, device) = unpack(payload);
        let job = usize::from(job);
        match kind {
            KIND_START => self.submit(job),
            KIND_ANSWER => self.answer(job, device, attempt, reason),
            KIND_TIMEOUT => {
                if self.in_flight(job, device, attempt) {
                    let r = &mut self.jobs[job].reasons[device as usize];
                    if *r == OK {
                        *r = Reason::DeviceTimeout as u8;
                    }
                    self.handle(job, Input::Timer(Timer::DeviceTimeout { device, attempt }));
                }
            }
            KIND_DEADLINE => {
                self.jobs[job].deadline_passed = true;
                self.handle(job, Input::Timer(Timer::Deadline));
            }
            KIND_DISPATCH => {
                self.handle(job, Input::Timer(Timer::Dispatch));
            }
            KIND_WINDOW => {
                self.handle(job, Input::Timer(Timer::Window));
            }
            KIND_COMMAND if reason == END_BEHAVIOR => self.end_behavior(job),
            KIND_COMMAND => self.command(device as usize),
            KIND_OCCURRENCE => self.occurrence(job),
            _ => unreachable!("unknown event kind {kind}"),
        }
        true
    }

    /// Whether `payload` is a timer or the end time of a job whose run has settled.
    fn is_stale_timer(&self, payload: u64) -> bool {
        let (kind, reason, _, job, _) = unpack(payload);
        let end = kind == KIND_COMMAND && reason == END_BEHAVIOR;
        (matches!(kind, KIND_DEADLINE | KIND_DISPATCH | KIND_WINDOW) || end)
            && self.jobs[usize::from(job)]
                .run
                .as_ref()
                .is_some_and(|run| run.is_settled())
    }

    /// Runs to the end (no event left, or the horizon) and returns the result.
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
        let every = every_events.max(1);
        while self.step() {
            if self.events % every == 0 {
                progress(&self.progress());
            }
        }
        progress(&self.progress());
        self.finish()
    }

    /// Ends the simulation where it stands and returns the result (jobs not settled keep their
    /// current status and counts).
    pub fn finish(mut self) -> SimResult {
        let now = self.now_ms;
        let mut jobs = Vec::with_capacity(self.jobs.len());
        for mut job in std::mem::take(&mut self.jobs) {
            if let Some(run) = &job.run {
                job.series.finish(now, run.counts());
            }
            let scheduled_job_id = job
                .schedule
                .map(|s| self.schedules[usize::from(s)].state.id().to_string());
            jobs.push(JobResult {
                scheduled_job_id,
                ..job_result(job)
            });
        }
        let clock_start_ms = self.clock_start_ms;
        let schedules = self
            .schedules
            .iter()
            .map(|s| schedule_result(&s.state, clock_start_ms))
            .collect();
        SimResult {
            seed: self.seed,
            trace_hash: self.trace.finish(),
            events_processed: self.events,
            end_ms: self
                .until_ms
                .map_or(now, |u| if self.held.is_some() { u } else { now }),
            hub: self.hub_limits,
            swarm: self.behaviour.swarm.clone(),
            events: self.log.take(),
            clock_start_ms,
            jobs,
            schedules,
            fleet: self.fleet,
        }
    }

    // ----- jobs and the engine -----

    fn submit(&mut self, job: usize) {
        match &self.hub {
            Some(hub) if self.running_jobs >= hub.concurrent_jobs => self.waiting.push_back(job),
            _ => self.start_job(job),
        }
    }

    fn start_job(&mut self, j: usize) {
        let now = self.now_ms;
        if self.hub.is_some() {
            self.running_jobs += 1;
            self.jobs[j].holds_slot = true;
        }
        let targets = match &self.jobs[j].targets_spec {
            TargetSpec::All => None,
            TargetSpec::Selector(s) => Some(s.compile(&self.fleet).select(&self.fleet)),
            TargetSpec::Devices(ids) => {
                let mut v: Vec<u32> = ids
                    .iter()
                    .filter_map(|id| self.fleet.index_of(id))
                    .collect();
                v.sort_unstable();
                v.dedup();
                Some(v)
            }
        };
        // Targets are sorted and unique, so a list as long as the fleet is every device: use the
        // identity mapping and keep the per-device indirection off the hot path.
        let targets = targets.filter(|t: &Vec<u32>| t.len() != self.fleet.len() as usize);
        let n = targets
            .as_ref()
            .map_or(self.fleet.len(), |t| t.len() as u32);
        let job = &mut self.jobs[j];
        let run = job
            .builder
            .build(n)
            .expect("run settings were validated by the builder");
        job.targets = targets;
        job.reasons = vec![OK; n as usize];
        job.series.start(now, run.counts());
        job.run = Some(run);
        job.started_ms = Some(now);
        let cannot_execute = matches!(job.op, Op::Migration { template: None });
        self.live.push(j);
        self.handle(
            j,
            if cannot_execute {
                Input::Fail
            } else {
                Input::Start
            },
        );
        if self.jobs[j].end_due {
            self.apply_end_behavior(j);
        }
    }

    #[inline]
    fn in_flight(&self, job: usize, device: u32, attempt: u8) -> bool {
        let run = self.jobs[job]
            .run
            .as_ref()
            .expect("events only reach started jobs");
        run.device_state(device) == DeviceState::InFlight && run.attempts(device) == attempt
    }

    /// Hands `input` to job `j`'s run and carries out its actions.
    fn handle(&mut self, j: usize, input: Input) -> Option<fleet_core::Error> {
        let mut actions = std::mem::take(&mut self.actions);
        actions.clear();
        let now = self.now_ms;
        let result = self.jobs[j]
            .run
            .as_mut()
            .expect("started")
            .handle(now, input, &mut actions);
        // The answer time of the last dispatch, to leave out device timers that cannot fire.
        let mut last: Option<(u32, u8, Option<i64>)> = None;
        for action in &actions {
            match *action {
                Action::Dispatch { device, attempt } => {
                    let at = self.dispatch(j, device, attempt);
                    last = Some((device, attempt, at));
                }
                Action::SetTimer { at_ms, timer } => match timer {
                    Timer::DeviceTimeout { device, attempt } => {
                        let answered_first = matches!(last, Some((d, a, Some(t))) if d == device && a == attempt && t <= at_ms);
                        if !answered_first {
                            self.queue
                                .push(at_ms, pack(KIND_TIMEOUT, 0, attempt, j as u16, device));
                        }
                    }
                    Timer::Deadline => self
                        .queue
                        .push(at_ms, pack(KIND_DEADLINE, 0, 0, j as u16, 0)),
                    Timer::Dispatch => self
                        .queue
                        .push(at_ms, pack(KIND_DISPATCH, 0, 0, j as u16, 0)),
                    Timer::Window => self.queue.push(at_ms, pack(KIND_WINDOW, 0, 0, j as u16, 0)),
                },
                Action::Abandon { .. }
                | Action::BatchStarted { .. }
                | Action::BatchFinished { .. }
                | Action::Status(_) => {}
            }
        }
        self.actions = actions;
        self.after_handle(j);
        result.err()
    }

    /// Settles the bookkeeping after a run changed: deadline reasons, the final sample, the hub
    /// slot.
    fn after_handle(&mut self, j: usize) {
        let now = self.now_ms;
        let job = &mut self.jobs[j];
        let run = job.run.as_ref().expect("started");
        if job.deadline_passed {
            // Devices that timed out at the deadline without a more precise reason.
            job.deadline_passed = false;
            for (r, s) in job.reasons.iter_mut().zip(run.device_states()) {
                if *s == DeviceState::TimedOut && *r == OK {
                    *r = Reason::Deadline as u8;
                }
            }
        }
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
        let job = &mut self.jobs[j];
        if job.holds_slot {
            job.holds_slot = false;
            self.running_jobs -= 1;
            let limit = self.hub.as_ref().map_or(u32::MAX, |h| h.concurrent_jobs);
            while self.running_jobs < limit {
                let Some(next) = self.waiting.pop_front() else {
                    break;
                };
                self.start_job(next);
            }
        }
    }

    fn answer(&mut self, j: usize, target: u32, attempt: u8, reason: u8) {
        // The fleet sees the device's answer even when the run no longer waits for it.
        if reason == OK {
            if let Op::Property {
                reported: (c, v), ..
            } = self.jobs[j].op
            {
                let d = self.jobs[j].device(target);
                self.fleet.write_reported(d, c, v);
            }
        }
        if !self.in_flight(j, target, attempt) {
            return; // late: timed out, abandoned or cancelled meanwhile
        }
        self.jobs[j].reasons[target as usize] = reason;
        let outcome = outcome_of(reason);
        self.handle(
            j,
            Input::Outcome {
                device: target,
                attempt,
                outcome,
            },
        );
    }

    /// Job `j`'s end time came: its end behaviour goes to the run now, or when it starts.
    fn end_behavior(&mut self, j: usize) {
        if self.jobs[j].run.is_none() {
            self.jobs[j].end_due = true;
        } else {
            self.apply_end_behavior(j);
        }
    }

    fn apply_end_behavior(&mut self, j: usize) {
        let (_, behavior) = self.jobs[j].end.expect("a job with an end time");
        self.jobs[j].end_due = false;
        let error = match self.jobs[j].run.as_ref().map(JobRun::status) {
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
                self.create_run(s, &run.id, run.number);
            }
        }
        if let Some(next) = self.schedules[s].state.next_occurrence_ms() {
            let at_ms = next - self.clock_start_ms;
            self.queue
                .push(at_ms, pack(KIND_OCCURRENCE, 0, 0, s as u16, 0));
        }
    }

    /// Adds run `number` of schedule `s` as a new job and submits it now.
    fn create_run(&mut self, s: usize, id: &str, number: u32) {
        let schedule = &self.schedules[s];
        debug_assert!(
            self.jobs.len() < usize::from(crate::builder::MAX_JOBS),
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
        job.stream = number;
        job.schedule = Some(s as u16);
        self.jobs.push(job);
        self.submit(self.jobs.len() - 1);
    }

    fn command(&mut self, c: usize) {
        let (at_ms, j, command) = self.commands[c];
        let error = if self.jobs[j].run.is_none() {
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

    // ----- devices -----

    #[inline]
    fn schedule_answer(
        &mut self,
        j: usize,
        target: u32,
        attempt: u8,
        at_ms: i64,
        reason: u8,
    ) -> Option<i64> {
        self.queue
            .push(at_ms, pack(KIND_ANSWER, reason, attempt, j as u16, target));
        Some(at_ms)
    }

    /// Carries out a dispatch of job `j`'s operation to target `target`: applies its effect on
    /// the fleet, draws the device's fate, and schedules the answer. Returns when the answer
    /// comes (`None`: never).
    fn dispatch(&mut self, j: usize, target: u32, attempt: u8) -> Option<i64> {
        let now = self.now_ms;
        let job = &mut self.jobs[j];
        job.reasons[target as usize] = OK;
        let d = job.device(target);
        let template = self.fleet.template_of(d);
        match &job.op {
            Op::CloudProperty {
                value: (c, v),
                check: table,
            } => {
                let r = check(table, template);
                if r == OK {
                    self.fleet.write_cloud(d, *c, *v);
                }
                self.schedule_answer(j, target, attempt, now, r)
            }
            Op::Migration { template } => {
                let t = template.expect("a run whose migration template is unknown fails at start");
                self.fleet.set_template(d, t);
                self.schedule_answer(j, target, attempt, now, OK)
            }
            Op::UpdateTwin { tags, desired } => {
                let send = match self.hub.as_mut() {
                    Some(hub) => hub
                        .grant(Throttle::JobDeviceOps, now, 1)
                        .expect("unbounded"),
                    None => now,
                };
                self.fleet.patch_twin(d, tags, desired);
                self.schedule_answer(j, target, attempt, send, OK)
            }
            Op::Property {
                desired,
                check: table,
                ..
            } => {
                let r = check(table, template);
                if r != OK {
                    return self.schedule_answer(j, target, attempt, now, r);
                }
                let (c, v) = *desired;
                let Some(send) = self.grant(Throttle::TwinUpdates, 1) else {
                    return self.schedule_answer(j, target, attempt, now, Reason::Throttled as u8);
                };
                self.fleet.write_desired(d, c, v);
                self.device_property(j, target, attempt, d, send)
            }
            Op::Command {
                check: table,
                chunks,
                response_timeout_ms,
                connect_timeout_ms,
            } => {
                let r = check(table, template);
                if r != OK {
                    return self.schedule_answer(j, target, attempt, now, r);
                }
                let (chunks, rt, ct) = (*chunks, *response_timeout_ms, *connect_timeout_ms);
                let Some(send) = self.grant(Throttle::DirectMethods, chunks) else {
                    return self.schedule_answer(j, target, attempt, now, Reason::Throttled as u8);
                };
                self.device_method(j, target, attempt, d, send, rt, ct, false)
            }
            Op::JobDocument => self.device_property(j, target, attempt, d, now),
            Op::Method {
                missing,
                response_timeout_ms,
                connect_timeout_ms,
            } => {
                let missing = template != NO_TEMPLATE && missing[template as usize];
                let (rt, ct) = (*response_timeout_ms, *connect_timeout_ms);
                let send = match &mut self.hub {
                    Some(hub) => hub
                        .grant(Throttle::JobDeviceOps, now, 1)
                        .expect("unbounded"),
                    None => now,
                };
                self.device_method(j, target, attempt, d, send, rt, ct, missing)
            }
        }
    }

    #[inline]
    fn grant(&mut self, throttle: Throttle, cost: u32) -> Option<i64> {
        let now = self.now_ms;
        match &mut self.hub {
            Some(hub) => hub.grant(throttle, now, cost),
            None => Some(now),
        }
    }

    /// A writable property sent at `send`: the device acknowledges once it is online.
    fn device_property(
        &mut self,
        j: usize,
        target: u32,
        attempt: u8,
        d: u32,
        send: i64,
    ) -> Option<i64> {
        let Some(arrive) = self.next_online(d, send) else {
            self.jobs[j].reasons[target as usize] = Reason::Offline as u8;
            return None;
        };
        if arrive > send {
            self.jobs[j].reasons[target as usize] = Reason::Offline as u8;
        }
        let key = self.fleet.key(d);
        let profile = self.behaviour.profile(d);
        let counter = self.jobs[j].counter(attempt);
        let mut r = rng::stream(self.seed, key, counter, Purpose::Operation);
        let u = unit_f64(r.next_u64());
        let latency = profile.latency.sample(&mut r);
        let (crash_p, reject_p, failure_p) = (profile.crash_p, profile.reject_p, profile.failure_p);
        let done = arrive.saturating_add(latency);
        if u < crash_p {
            // No answer; the device comes back after its downtime, re-reads its desired
            // properties and acknowledges.
            let back = self.crash(d, key, counter, done);
            self.jobs[j].reasons[target as usize] = Reason::Crashed as u8;
            let arrive2 = self.next_online(d, back)?;
            let mut r2 = rng::stream(self.seed, key, counter, Purpose::Reanswer);
            let latency2 = self.behaviour.profile(d).latency.sample(&mut r2);
            return self.schedule_answer(j, target, attempt, arrive2.saturating_add(latency2), OK);
        }
        let reason = if u < crash_p + reject_p {
            Reason::Rejected as u8
        } else if u < crash_p + reject_p + failure_p {
            Reason::DeviceError as u8
        } else {
            OK
        };
        self.schedule_answer(j, target, attempt, done, reason)
    }

    /// A command or direct method sent at `send`.
    #[allow(clippy::too_many_arguments)]
    fn device_method(
        &mut self,
        j: usize,
        target: u32,
        attempt: u8,
        d: u32,
        send: i64,
        response_timeout_ms: i64,
        connect_timeout_ms: i64,
        missing: bool,
    ) -> Option<i64> {
        let arrive = match self.next_online(d, send) {
            Some(a) if a <= send.saturating_add(connect_timeout_ms) => a,
            _ => {
                let at = send.saturating_add(connect_timeout_ms);
                return self.schedule_answer(j, target, attempt, at, Reason::Offline as u8);
            }
        };
        let key = self.fleet.key(d);
        let profile = self.behaviour.profile(d);
        let counter = self.jobs[j].counter(attempt);
        let mut r = rng::stream(self.seed, key, counter, Purpose::Operation);
        let u = unit_f64(r.next_u64());
        let latency = profile.latency.sample(&mut r);
        let (crash_p, reject_p, failure_p) = (profile.crash_p, profile.reject_p, profile.failure_p);
        let timeout_at = arrive.saturating_add(response_timeout_ms);
        let done = arrive.saturating_add(latency);
        if u < crash_p {
            self.crash(d, key, counter, done.min(timeout_at));
            return self.schedule_answer(j, target, attempt, timeout_at, Reason::Crashed as u8);
        }
        if latency > response_timeout_ms {
            return self.schedule_answer(
                j,
                target,
                attempt,
                timeout_at,
                Reason::ResponseTimeout as u8,
            );
        }
        let reason = if missing {
            Reason::NotInTemplate as u8
        } else if u < crash_p + reject_p {
            Reason::Rejected as u8
        } else if u < crash_p + reject_p + failure_p {
            Reason::DeviceError as u8
        } else {
            OK
        };
        self.schedule_answer(j, target, attempt, done, reason)
    }

    /// Device `d` crashes at `at_ms`: it is offline for its crash downtime. Returns when it is
    /// back.
    fn crash(&mut self, d: u32, key: u64, counter: u32, at_ms: i64) -> i64 {
        let mut r = rng::stream(self.seed, key, counter, Purpose::Crash);
        let back = at_ms.saturating_add(self.behaviour.profile(d).crash_downtime.sample(&mut r));
        let until = self.crashed_until.entry(d).or_insert(back);
        *until = (*until).max(back);
        back
    }

    /// The first instant at or after `t` when device `d` is online, or `None` if it never is.
    ///
    /// A device is offline while any of these holds: it is unprovisioned (forever); it started
    /// disconnected or was drawn offline from the start, until its reconnect time (never without
    /// a `reconnect` distribution); it crashed, until its downtime ends; it is flapping and in a
    /// down interval. Each condition is a pure function of the device's streams (crashes
    /// aside, which are recorded when they happen), so the answer does not depend on event
    /// order.
    fn next_online(&mut self, d: u32, mut t: i64) -> Option<i64> {
        let profile = self.behaviour.profile(d);
        let key = self.fleet.key(d);
        let starts_offline = self.fleet.starts_disconnected(d)
            || (profile.offline_p > 0.0
                && rng::unit(self.seed, key, 0, Purpose::Offline) < profile.offline_p);
        let reconnect_ms = if starts_offline {
            if !self.fleet.is_provisioned(d) {
                return None;
            }
            let sampler = profile.reconnect.as_ref()?;
            Some(sampler.sample(&mut rng::stream(self.seed, key, 1, Purpose::Offline)))
        } else {
            None
        };
        let flapping = profile.flapping;
        let crashed = if self.crashed_until.is_empty() {
            None
        } else {
            self.crashed_until.get(&d).copied()
        };
        loop {
            let before = t;
            if let Some(r) = reconnect_ms {
                t = t.max(r);
            }
            if let Some(c) = crashed {
                t = t.max(c);
            }
            if let Some(f) = flapping {
                t = self.flap_next_up(d, key, f, t);
            }
            if t == before {
                return Some(t);
            }
        }
    }

    /// The first instant at or after `t` when flapping device `d` is up.
    ///
    /// Interval 0 starts at time 0, down with probability `down / (up + down)` (draw 0 of the
    /// flap stream); intervals alternate; interval `k` lasts an exponential time with the mean
    /// of its state (draw `k + 1`). The walk resumes from the last interval reached.
    fn flap_next_up(&mut self, d: u32, key: u64, f: Flapping, t: i64) -> i64 {
        let pd = f.mean_down_ms / (f.mean_up_ms + f.mean_down_ms);
        let first_down = rng::unit(self.seed, key, 0, Purpose::Flap) < pd;
        if self.flap_k.is_empty() {
            self.flap_k = vec![0; self.fleet.len() as usize];
            self.flap_start = vec![0; self.fleet.len() as usize];
        }
        let (mut k, mut start) = match self.flap_start[d as usize] {
            s if s <= t => (self.flap_k[d as usize], s),
            _ => (0, 0),
        };
        loop {
            let down = first_down ^ (k % 2 == 1);
            let mean = if down { f.mean_down_ms } else { f.mean_up_ms };
            let u = rng::unit(self.seed, key, k + 1, Purpose::Flap);
            let len = (-mean * (1.0 - u).ln()).round().max(1.0) as i64;
            let end = start.saturating_add(len);
            if t < end {
                self.flap_k[d as usize] = k;
                self.flap_start[d as usize] = start;
                return if down { end } else { t };
            }
            k += 1;
            start = end;
        }
    }
}

fn job_result(job: Job) -> JobResult {
    let Some(run) = job.run else {
        return JobResult {
            id: job.id,
            operation: job.kind,
            status: RunStatus::Pending.as_str(),
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
            devices: DeviceResults::default(),
        };
    };
    let mut failure_reasons = BTreeMap::new();
    for (s, r) in run.device_states().iter().zip(&job.reasons) {
        if s.is_failure() {
            let word = Reason::from_u8(*r).map_or(s.as_str(), Reason::as_str);
            *failure_reasons.entry(word).or_insert(0) += 1;
        }
    }
    let started = run.started_ms().or(job.started_ms);
    let finished = run.finished_ms();
    let n = run.counts().total;
    JobResult {
        id: job.id,
        operation: job.kind,
        status: run.status().as_str(),
        counts: run.counts().into(),
        submitted_ms: job.submitted_ms,
        started_ms: started,
        finished_ms: finished,
        duration_ms: started.zip(finished).map(|(s, f)| f - s),
        queued_ms: job.started_ms.map_or(0, |s| s - job.submitted_ms),
        batches: run
            .batches()
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
            .collect(),
        threshold_trip: run.threshold_trip().map(|t| TripRow {
            batch: t.batch,
            at_ms: t.at_ms,
            failures: t.failures,
            limit: t.limit,
        }),
        abort_trip: run.abort_trip().map(|t| AbortTripRow {
            criterion: t.criterion,
            failure_type: t.failure_type.as_str(),
            batch: t.batch,
            at_ms: t.at_ms,
            executed: t.executed,
            failures: t.failures,
        }),
        pauses: run
            .pauses()
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
            .collect(),
        failure_reasons,
        series: job.series.into_samples(),
        commands: job.commands,
        end_behavior: job.end_row,
        window_waits: run.window_waits(),
        scheduled_job_id: None,
        devices: DeviceResults {
            targets: job.targets,
            states: run.device_states().to_vec(),
            attempts: (0..n).map(|d| run.attempts(d)).collect(),
            reasons: job.reasons,
        },
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
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let p = pack(KIND_TIMEOUT, 10, 255, 65_534, u32::MAX);
        assert_eq!(unpack(p), (KIND_TIMEOUT, 10, 255, 65_534, u32::MAX));
        let p = pack(KIND_COMMAND, 0, 1, 0, 7);
        assert_eq!(unpack(p), (KIND_COMMAND, 0, 1, 0, 7));
    }
}
