//! The driver: one thread that owns every job run, the live fleet and the database, and feeds
//! each run's [`JobRun`] its inputs at their virtual instants.
//!
//! # The loop
//!
//! The driver waits for the earlier of a command from a request handler and the next due event
//! (a device answer, a timer a run asked for, a scheduled start). Then, in one tick: it handles
//! the due events in (time, sequence) order, each at its own virtual time; then the commands,
//! at the driver's time; it logs every engine input and fleet write in one SQLite transaction
//! and commits; only then does it publish the changed jobs and answer the commands. A request
//! is therefore acknowledged only once what it caused is durable.
//!
//! The driver's time is the virtual clock, except when it lags behind (a 100,000-device job at
//! a high time scale produces events faster than they can be handled): then it is the time of
//! the next event not yet handled, so that every run sees its inputs in time order, commands
//! included. At most `events_per_commit` events go into one transaction.
//!
//! # Restart
//!
//! On start, every stored run is rebuilt by replaying its logged inputs through a new
//! [`JobRun`] (the engine is pure, so the replay ends in the state the run had at the last
//! commit), and the fleet is rebuilt from the scenario and the logged writes. A device that was
//! in flight at the last commit keeps its attempt: its fate is drawn again from the same random
//! stream ([`LiveFleet::redraw`]: same latency, same outcome) and its answer comes at the same
//! virtual time. Timers still relevant are armed again. So no device result that was
//! acknowledged is lost, no attempt is dispatched twice, and what was not committed before the
//! crash happens again exactly as it would have.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use fleet_core::model::{
    CentralJobStatus, DeviceGroup, DeviceJobStatistics, DeviceStatus, HubJobStatus, Job,
    JobRequest, JobResponse, Nullable, Progress, ScheduledJob, ScheduledJobPatch, Word,
};
use fleet_core::schedule::{ScheduleEvent, ScheduledJobState};
use fleet_core::{Action, DeviceState, Input, JobRun, Outcome, RunBuilder, RunStatus, Timer};
use fleet_query::Query;
use fleet_sim::{LiveFleet, LiveOp, Operation, Reason};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::api_error::{ApiError, ApiErrorKind};
use crate::clock::{self, Clock};
use crate::error::{Error, ErrorKind, Result};
use crate::operation;
use crate::schedules::{self, ScheduleInput};
use crate::state::{JobView, Shared};
use crate::store::{DocKind, InputRow, RunRow, Store};

/// Which API a job belongs to. The two APIs have separate job namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Dialect {
    Central,
    Hub,
}

impl Dialect {
    fn as_str(self) -> &'static str {
        match self {
            Self::Central => "central",
            Self::Hub => "hub",
        }
    }
}

/// What a command answers: JSON, or an error.
pub(crate) type Reply = std::result::Result<Value, ApiError>;

/// A request for the driver; every command carries the sender of its reply.
pub(crate) enum Command {
    CreateCentralJob {
        id: String,
        job: Box<Job>,
        reply: oneshot::Sender<Reply>,
    },
    CreateHubJob {
        id: String,
        request: Box<JobRequest>,
        reply: oneshot::Sender<Reply>,
    },
    /// Stop or resume (IoT Central), cancel (IoT Hub).
    Control {
        dialect: Dialect,
        id: String,
        command: Control,
        reply: oneshot::Sender<Reply>,
    },
    Rerun {
        id: String,
        rerun_id: String,
        reply: oneshot::Sender<Reply>,
    },
    /// A page of a job's devices: `{"items": [{id, status}], "next": index?}`.
    JobDevices {
        id: String,
        from: u32,
        limit: usize,
        reply: oneshot::Sender<Reply>,
    },
    PutGroup {
        id: String,
        group: Box<DeviceGroup>,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    PatchGroup {
        id: String,
        patch: Value,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    DeleteDoc {
        kind: DocKind,
        id: String,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    PutScheduled {
        id: String,
        job: Box<ScheduledJob>,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    PatchScheduled {
        id: String,
        patch: Box<ScheduledJobPatch>,
        if_match: Option<String>,
        reply: oneshot::Sender<Reply>,
    },
    /// Devices matching a query, from fleet index `from`: `{"items": [twin], "next": index?}`.
    /// `hub`: IoT Hub twins; else IoT Central device documents.
    Devices {
        query: Box<Query>,
        from: u32,
        limit: usize,
        hub: bool,
        reply: oneshot::Sender<Reply>,
    },
    /// A group's devices (its filter evaluated now).
    GroupDevices {
        id: String,
        from: u32,
        limit: usize,
        reply: oneshot::Sender<Reply>,
    },
    /// One device's twin.
    Twin {
        id: String,
        reply: oneshot::Sender<Reply>,
    },
    /// Nothing: wakes the driver to look at its stop and kill flags.
    Wake,
}

/// A command on a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Stop,
    Resume,
    Cancel,
}

/// What a stored run's `doc` holds besides the row's columns.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    central: Option<Job>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hub: Option<JobRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_timeout_ms: Option<i64>,
}

impl RunDoc {
    fn builder(&self) -> std::result::Result<RunBuilder, fleet_core::Error> {
        let mut b = match (&self.central, &self.hub) {
            (Some(job), _) => job.run_builder()?,
            (None, Some(req)) => req.run_builder()?,
            (None, None) => RunBuilder::new(),
        };
        if let Some(ms) = self.device_timeout_ms {
            b = b.device_timeout_ms(ms);
        }
        Ok(b)
    }
}

/// Logged input kinds.
const IN_START: u8 = 0;
const IN_OUTCOME: u8 = 1;
const IN_DEADLINE: u8 = 2;
const IN_DEVICE_TIMEOUT: u8 = 3;
const IN_STOP: u8 = 4;
const IN_RESUME: u8 = 5;
const IN_CANCEL: u8 = 6;
const IN_FAIL: u8 = 7;

fn outcome_code(o: Outcome) -> i64 {
    match o {
        Outcome::Succeeded => 0,
        Outcome::Failed => 1,
        Outcome::Rejected => 2,
        Outcome::TimedOut => 3,
    }
}

fn outcome_of(code: i64) -> Outcome {
    match code & 0xff {
        0 => Outcome::Succeeded,
        1 => Outcome::Failed,
        2 => Outcome::Rejected,
        _ => Outcome::TimedOut,
    }
}

/// The engine input of a logged row.
fn input_of(row: &InputRow) -> Input {
    match row.kind {
        IN_START => Input::Start,
        IN_OUTCOME => Input::Outcome {
            device: row.device,
            attempt: row.attempt,
            outcome: outcome_of(row.value),
        },
        IN_DEADLINE => Input::Timer(Timer::Deadline),
        IN_DEVICE_TIMEOUT => Input::Timer(Timer::DeviceTimeout {
            device: row.device,
            attempt: row.attempt,
        }),
        IN_STOP => Input::Stop,
        IN_RESUME => Input::Resume,
        IN_CANCEL => Input::Cancel {
            force: row.value != 0,
        },
        _ => Input::Fail,
    }
}

/// A timer as (kind, device, attempt); `None` for timers the server never asks for.
#[allow(unreachable_patterns)]
fn timer_key(timer: Timer) -> Option<(u8, u32, u8)> {
    match timer {
        Timer::Deadline => Some((IN_DEADLINE, 0, 0)),
        Timer::DeviceTimeout { device, attempt } => Some((IN_DEVICE_TIMEOUT, device, attempt)),
        _ => None,
    }
}

/// Something due at a virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Start {
        run: i64,
    },
    Answer {
        run: i64,
        target: u32,
        /// The device's fleet index (the run may have evicted its targets by the answer).
        device: u32,
        attempt: u8,
        reason: u8,
    },
    Timer {
        run: i64,
        kind: u8,
        device: u32,
        attempt: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Due {
    at: i64,
    seq: u64,
    event: Event,
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // A min-heap on (time, sequence).
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What is kept of a settled run once its per-device state is evicted from memory (it is
/// rebuilt from the log when its devices are listed or it is rerun). Stored with the run when
/// it settles, so that a restart does not replay settled runs.
#[derive(Debug, Clone, Copy)]
struct Summary {
    status: RunStatus,
    counts: fleet_core::Counts,
    started: Option<i64>,
    finished: Option<i64>,
}

impl Summary {
    fn of(job: &JobRun) -> Self {
        Self {
            status: job.status(),
            counts: job.counts(),
            started: job.started_ms(),
            finished: job.finished_ms(),
        }
    }

    fn to_json(self) -> String {
        let c = self.counts;
        serde_json::json!({
            "status": self.status.as_str(), "total": c.total, "pending": c.pending,
            "in_flight": c.in_flight, "succeeded": c.succeeded, "failed": c.failed,
            "cancelled": c.cancelled, "started": self.started, "finished": self.finished,
        })
        .to_string()
    }

    fn from_json(text: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(text).ok()?;
        let n = |k: &str| v[k].as_u64().map(|x| x as u32);
        let status = match v["status"].as_str()? {
            "complete" => RunStatus::Complete,
            "cancelled" => RunStatus::Cancelled,
            "failed" => RunStatus::Failed,
            _ => return None,
        };
        Some(Self {
            status,
            counts: fleet_core::Counts {
                total: n("total")?,
                pending: n("pending")?,
                in_flight: n("in_flight")?,
                succeeded: n("succeeded")?,
                failed: n("failed")?,
                cancelled: n("cancelled")?,
            },
            started: v["started"].as_i64(),
            finished: v["finished"].as_i64(),
        })
    }
}

/// One job run in the driver.
struct Run {
    no: i64,
    dialect: Dialect,
    id: String,
    doc: RunDoc,
    op: LiveOp,
    op_id: i64,
    builder: RunBuilder,
    created_ms: i64,
    start_ms: i64,
    /// Fleet index of each target, once the run has its targets.
    targets: Option<Vec<u32>>,
    run: Option<JobRun>,
    /// Per target: the reason of the last attempt (fleet-sim `Reason` code), 0 if none.
    reasons: Vec<u8>,
    seq: i64,
    holds_slot: bool,
    waiting: bool,
    settled: bool,
    finished_ms: Option<i64>,
    failure: Option<String>,
    /// The status last written to the store.
    stored_status: RunStatus,
    /// Set when the run has settled and its per-device state was evicted.
    summary: Option<Summary>,
}

impl Run {
    fn status(&self) -> RunStatus {
        match (&self.run, &self.summary) {
            (Some(job), _) => job.status(),
            (None, Some(summary)) => summary.status,
            (None, None) => RunStatus::Pending,
        }
    }

    /// Whether the run has started (it has targets and an engine, or had them).
    fn started(&self) -> bool {
        self.run.is_some() || self.summary.is_some()
    }

    /// Drops the per-device state of a settled run, keeping its summary.
    fn evict(&mut self) {
        if let (true, Some(job)) = (self.settled, &self.run) {
            self.summary = Some(Summary::of(job));
            self.run = None;
            self.targets = None;
            self.reasons = Vec::new();
        }
    }
}

/// The pieces of the driver a run's input touches.
struct Ctx {
    live: LiveFleet,
    store: Store,
    heap: BinaryHeap<Due>,
    next_seq: u64,
    actions: Vec<fleet_core::Action>,
}

impl Ctx {
    fn push(&mut self, at: i64, event: Event) {
        self.next_seq += 1;
        self.heap.push(Due {
            at,
            seq: self.next_seq,
            event,
        });
    }
}

/// Settings the driver needs.
pub(crate) struct DriverConfig {
    pub(crate) time_scale: f64,
    pub(crate) device_timeout_ms: Option<i64>,
    pub(crate) history_ttl_ms: i64,
    pub(crate) events_per_commit: usize,
}

/// The driver thread's state.
pub(crate) struct Driver {
    ctx: Ctx,
    runs: HashMap<i64, Run>,
    index: HashMap<(Dialect, String), i64>,
    next_run: i64,
    /// The most runs holding a slot at once (the hub model's concurrent-jobs limit).
    slots: Option<u32>,
    running: u32,
    waiting: VecDeque<i64>,
    clock: Clock,
    /// The driver's virtual time: the last instant handled.
    now: i64,
    config: DriverConfig,
    shared: Arc<Shared>,
    groups: HashMap<String, DeviceGroup>,
    scheduled: HashMap<String, ScheduledJobState>,
    /// Scheduled runs that settled, to report to their scheduled job: (scheduled job, run,
    /// status).
    finished: Vec<(String, String, RunStatus)>,
    etag_seq: u64,
    /// One settled run rebuilt from its log: (run, engine, targets).
    rebuilt: Option<(i64, JobRun, Vec<u32>)>,
    dirty: Vec<i64>,
    last_expiry: Instant,
}

impl Driver {
    /// Opens the world: rebuilds the fleet, the documents and every run from the store.
    pub(crate) fn open(
        world: crate::world::World,
        store: Store,
        config: DriverConfig,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        match store.meta("scenario")? {
            Some(f) if f != world.fingerprint => {
                return Err(Error::new(
                    ErrorKind::Store,
                    "the data directory belongs to another scenario (or another version of \
                     it): give the scenario it was created with, or a new --data directory",
                ))
            }
            Some(_) => {}
            None => store.set_meta("scenario", &world.fingerprint)?,
        }
        let start_vt = match store.meta("clock")? {
            Some(v) => v.parse().unwrap_or_else(|_| clock::wall_ms()),
            None => clock::wall_ms(),
        };
        let epoch = match store.meta("epoch")? {
            Some(v) => v.parse().unwrap_or(start_vt),
            None => {
                store.set_meta("epoch", &start_vt.to_string())?;
                start_vt
            }
        };
        let fresh = store.meta("groups_seeded")?.is_none();
        if fresh {
            for g in &world.groups {
                let mut g = g.clone();
                g.etag = Some(format!(
                    "\"{:016x}\"",
                    crate::world::fnv(g.filter.as_bytes())
                ));
                let id = g.id.clone().unwrap_or_default();
                store.put_doc(DocKind::Group, &id, &to_json(&g))?;
            }
            store.set_meta("groups_seeded", "1")?;
        }
        let slots = world.live.hub_limits().map(|l| l.concurrent_jobs);
        let mut driver = Self {
            ctx: Ctx {
                live: world.live.with_epoch(epoch),
                store,
                heap: BinaryHeap::new(),
                next_seq: 0,
                actions: Vec::new(),
            },
            runs: HashMap::new(),
            index: HashMap::new(),
            next_run: 1,
            slots,
            running: 0,
            waiting: VecDeque::new(),
            clock: Clock::new(start_vt, config.time_scale),
            now: start_vt,
            config,
            shared,
            groups: HashMap::new(),
            scheduled: HashMap::new(),
            finished: Vec::new(),
            etag_seq: 0,
            rebuilt: None,
            dirty: Vec::new(),
            last_expiry: Instant::now(),
        };
        driver.restore()?;
        Ok(driver)
    }

    /// Rebuilds documents, the fleet's writes and every run from the store.
    fn restore(&mut self) -> Result<()> {
        for (id, doc) in self.ctx.store.docs(DocKind::Group)? {
            if let Ok(g) = serde_json::from_str::<DeviceGroup>(&doc) {
                self.shared.groups.insert(id.clone(), Arc::new(g.clone()));
                self.groups.insert(id, g);
            }
        }
        let mut ignored = Vec::new();
        for (id, at, _, body) in self.ctx.store.schedule_log()? {
            let Ok(input) = serde_json::from_str::<ScheduleInput>(&body) else {
                continue;
            };
            if let Ok(Some(state)) =
                schedules::apply(self.scheduled.get_mut(&id), &id, at, &input, &mut ignored)
            {
                self.scheduled.insert(id, state);
            }
            ignored.clear();
        }
        let ids: Vec<String> = self.scheduled.keys().cloned().collect();
        for id in ids {
            self.publish_scheduled(&id);
        }
        // Operations, then the fleet's writes in order.
        let mut ops: HashMap<i64, LiveOp> = HashMap::new();
        for (id, json) in self.ctx.store.ops()? {
            let op: Operation = serde_json::from_str(&json)
                .map_err(|e| Error::new(ErrorKind::Store, format!("stored operation {id}: {e}")))?;
            let live_op =
                self.ctx.live.prepare(&op).map_err(|e| {
                    Error::new(ErrorKind::Store, format!("stored operation {id}: {e}"))
                })?;
            ops.insert(id, live_op);
        }
        let live = &mut self.ctx.live;
        self.ctx.store.each_effect(|op, device, stage| {
            if let Some(op) = ops.get(&op) {
                if device < live.fleet().len() {
                    if stage == 0 {
                        live.replay_dispatch(op, device);
                    } else {
                        live.replay_answer(op, device);
                    }
                }
            }
        })?;
        for row in self.ctx.store.runs()? {
            let no = row.no;
            self.next_run = self.next_run.max(no + 1);
            let Some(op) = ops.get(&row.op).cloned() else {
                continue;
            };
            self.restore_run(row, op)?;
        }
        // Runs waiting for a slot, in creation order.
        let mut waiting: Vec<(i64, i64)> = self
            .runs
            .values()
            .filter(|r| r.waiting)
            .map(|r| (r.created_ms, r.no))
            .collect();
        waiting.sort_unstable();
        self.waiting = waiting.into_iter().map(|(_, no)| no).collect();
        let nos: Vec<i64> = self.runs.keys().copied().collect();
        for no in nos {
            self.publish(no);
        }
        Ok(())
    }

    fn restore_run(&mut self, row: RunRow, op: LiveOp) -> Result<()> {
        let bad = |m: String| Error::new(ErrorKind::Store, format!("run {}: {m}", row.id));
        let doc: RunDoc = serde_json::from_str(&row.doc).map_err(|e| bad(e.to_string()))?;
        let builder = doc.builder().map_err(|e| bad(e.to_string()))?;
        let dialect = if row.dialect == "hub" {
            Dialect::Hub
        } else {
            Dialect::Central
        };
        let targets: Option<Vec<u32>> = row.targets.as_ref().map(|b| {
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        });
        let mut run = Run {
            no: row.no,
            dialect,
            id: row.id.clone(),
            doc,
            op,
            op_id: row.op,
            builder,
            created_ms: row.created_ms,
            start_ms: row.start_ms,
            targets: None,
            run: None,
            reasons: Vec::new(),
            seq: 0,
            holds_slot: false,
            waiting: false,
            settled: false,
            finished_ms: row.finished_ms,
            failure: None,
            stored_status: RunStatus::Pending,
            summary: None,
        };
        if let Some(summary) = row.summary.as_deref().and_then(Summary::from_json) {
            // Settled: nothing to replay; its devices are rebuilt from the log on demand.
            run.summary = Some(summary);
            run.settled = true;
            run.stored_status = summary.status;
            run.finished_ms = summary.finished.or(row.finished_ms);
            if summary.status == RunStatus::Failed {
                run.failure = Some(failure_text(&run));
            }
            self.index.insert((dialect, row.id), row.no);
            self.runs.insert(row.no, run);
            return Ok(());
        }
        let inputs = self.ctx.store.inputs(row.no)?;
        match targets {
            None => {
                // Not started: start it when due (or wait for a slot, as before).
                if row.status == "waiting" {
                    run.waiting = true;
                } else {
                    self.ctx.push(row.start_ms, Event::Start { run: row.no });
                }
            }
            Some(targets) => {
                let n = targets.len() as u32;
                let mut job = run.builder.build(n).map_err(|e| bad(e.to_string()))?;
                let mut reasons = vec![0u8; n as usize];
                let mut sent = vec![0i64; n as usize];
                let mut timers: Vec<(i64, u8, u32, u8)> = Vec::new();
                let mut actions = Vec::new();
                for input in &inputs {
                    actions.clear();
                    job.handle(input.at_ms, input_of(input), &mut actions)
                        .map_err(|e| bad(format!("replaying the log: {e}")))?;
                    match input.kind {
                        IN_OUTCOME => reasons[input.device as usize] = (input.value >> 8) as u8,
                        IN_DEVICE_TIMEOUT => {
                            reasons[input.device as usize] = input.value as u8;
                        }
                        IN_DEADLINE => {
                            for (r, s) in reasons.iter_mut().zip(job.device_states()) {
                                if *s == DeviceState::TimedOut && *r == 0 {
                                    *r = Reason::Deadline.code();
                                }
                            }
                        }
                        _ => {}
                    }
                    for a in &actions {
                        match *a {
                            Action::Dispatch { device, .. } => {
                                sent[device as usize] = input.at_ms;
                                reasons[device as usize] = 0;
                            }
                            Action::SetTimer { at_ms, timer } => {
                                if let Some((k, d, at)) = timer_key(timer) {
                                    timers.push((at_ms, k, d, at));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                // Devices in flight at the last commit: the same attempt, the same fate.
                for t in 0..n {
                    if job.device_state(t) == DeviceState::InFlight {
                        let attempt = job.attempts(t);
                        let fate = self.ctx.live.redraw(
                            &run.op,
                            targets[t as usize],
                            attempt,
                            sent[t as usize],
                        );
                        reasons[t as usize] = fate.pending_reason.map_or(0, Reason::code);
                        if let Some(at) = fate.answer_at_ms {
                            let reason = fate.reason.map_or(0, Reason::code);
                            self.ctx.push(
                                at,
                                Event::Answer {
                                    run: row.no,
                                    target: t,
                                    device: targets[t as usize],
                                    attempt,
                                    reason,
                                },
                            );
                        }
                    }
                }
                let settled = job.is_settled();
                for (at, kind, device, attempt) in timers {
                    let relevant = match kind {
                        IN_DEADLINE => !settled,
                        _ => {
                            job.device_state(device) == DeviceState::InFlight
                                && job.attempts(device) == attempt
                        }
                    };
                    if relevant {
                        self.ctx.push(
                            at,
                            Event::Timer {
                                run: row.no,
                                kind,
                                device,
                                attempt,
                            },
                        );
                    }
                }
                run.stored_status = job.status();
                run.settled = settled;
                run.holds_slot = !settled && self.slots.is_some();
                if run.holds_slot {
                    self.running += 1;
                }
                run.seq = inputs.len() as i64;
                run.reasons = reasons;
                run.targets = Some(targets);
                run.finished_ms = job.finished_ms().or(row.finished_ms);
                if job.status() == RunStatus::Failed {
                    run.failure = Some(failure_text(&run));
                }
                run.run = Some(job);
                run.evict();
            }
        }
        self.index.insert((dialect, row.id), row.no);
        self.runs.insert(row.no, run);
        Ok(())
    }

    /// Runs the driver until `stop` (after a last commit) or `kill` (without one) is set, or
    /// the command channel closes.
    pub(crate) fn run(
        mut self,
        commands: Receiver<Command>,
        kill: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
    ) {
        let mut pending: Vec<Command> = Vec::new();
        loop {
            if kill.load(AtomicOrdering::SeqCst) {
                return; // a crash: the open transaction is rolled back
            }
            if stop.load(AtomicOrdering::SeqCst) {
                let batch = std::mem::take(&mut pending);
                let _ = self.tick(batch, &kill);
                return;
            }
            let next_occurrence = self
                .scheduled
                .values()
                .filter_map(ScheduledJobState::next_occurrence_ms)
                .min();
            let next = match (self.ctx.heap.peek().map(|d| d.at), next_occurrence) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = match next {
                Some(at) => self.clock.until(at).min(Duration::from_millis(500)),
                None => Duration::from_millis(500),
            };
            match commands.recv_timeout(wait) {
                Ok(c) => pending.push(c),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.tick(Vec::new(), &kill);
                    return;
                }
            }
            while let Ok(c) = commands.try_recv() {
                pending.push(c);
            }
            if kill.load(AtomicOrdering::SeqCst) {
                return;
            }
            let batch = std::mem::take(&mut pending);
            if let Err(e) = self.tick(batch, &kill) {
                eprintln!("fleetsim serve: the driver stopped: {e}");
                return;
            }
        }
    }

    /// One tick: due events, then commands, one commit, then publish and reply.
    fn tick(&mut self, commands: Vec<Command>, kill: &AtomicBool) -> Result<()> {
        self.ctx.store.begin()?;
        let clock_now = self.clock.now();
        let mut handled = 0;
        while handled < self.config.events_per_commit {
            let Some(due) = self.ctx.heap.peek().copied() else {
                break;
            };
            if due.at > clock_now {
                break;
            }
            self.ctx.heap.pop();
            self.now = self.now.max(due.at);
            self.event(due.at, due.event)?;
            handled += 1;
        }
        // The driver's time: the clock, or the next event not handled yet when it lags.
        let frontier = match self.ctx.heap.peek() {
            Some(d) if d.at <= clock_now => d.at,
            _ => clock_now,
        };
        self.now = self.now.max(frontier);
        self.advance_schedules()?;
        let mut replies = Vec::with_capacity(commands.len());
        for c in commands {
            if let Some(r) = self.command(c)? {
                replies.push(r);
            }
        }
        if self.last_expiry.elapsed() > Duration::from_secs(1) {
            self.last_expiry = Instant::now();
            self.expire()?;
        }
        self.ctx.store.set_meta("clock", &self.now.to_string())?;
        if kill.load(AtomicOrdering::SeqCst) {
            return Ok(()); // killed mid-tick: nothing committed, nothing answered
        }
        self.ctx.store.commit()?;
        let dirty = std::mem::take(&mut self.dirty);
        for no in dirty {
            self.publish(no);
        }
        for (tx, reply) in replies {
            let _ = tx.send(reply);
        }
        Ok(())
    }

    // ----- events -----

    fn event(&mut self, at: i64, event: Event) -> Result<()> {
        match event {
            Event::Start { run } => self.start(run, at),
            Event::Answer {
                run,
                target,
                device,
                attempt,
                reason,
            } => {
                let Some(r) = self.runs.get_mut(&run) else {
                    return Ok(());
                };
                let reason_v = Reason::from_code(reason);
                self.ctx.live.answer(&r.op, device, reason_v);
                if reason_v.is_none() && self.ctx.live.writes_on_answer(&r.op) {
                    self.ctx.store.log_effect(r.op_id, device, 1)?;
                }
                let in_flight = r.run.as_ref().is_some_and(|j| {
                    j.device_state(target) == DeviceState::InFlight && j.attempts(target) == attempt
                });
                if !in_flight {
                    return Ok(()); // late: timed out, abandoned or cancelled meanwhile
                }
                r.reasons[target as usize] = reason;
                let outcome = reason_v.map_or(Outcome::Succeeded, Reason::outcome);
                let row = InputRow {
                    at_ms: at,
                    kind: IN_OUTCOME,
                    device: target,
                    attempt,
                    value: outcome_code(outcome) | i64::from(reason) << 8,
                };
                self.apply(run, row).map(|_| ())
            }
            Event::Timer {
                run,
                kind,
                device,
                attempt,
            } => {
                let Some(r) = self.runs.get_mut(&run) else {
                    return Ok(());
                };
                let Some(job) = &r.run else {
                    return Ok(());
                };
                let mut value = 0;
                if kind == IN_DEVICE_TIMEOUT {
                    let in_flight = job.device_state(device) == DeviceState::InFlight
                        && job.attempts(device) == attempt;
                    if !in_flight {
                        return Ok(());
                    }
                    let reason = &mut r.reasons[device as usize];
                    if *reason == 0 {
                        *reason = Reason::DeviceTimeout.code();
                    }
                    value = i64::from(*reason);
                } else if job.is_settled() {
                    return Ok(());
                }
                let row = InputRow {
                    at_ms: at,
                    kind,
                    device,
                    attempt,
                    value,
                };
                let _ = self.apply(run, row)?;
                if kind == IN_DEADLINE {
                    if let Some(r) = self.runs.get_mut(&run) {
                        if let Some(job) = &r.run {
                            for (reason, s) in r.reasons.iter_mut().zip(job.device_states()) {
                                if *s == DeviceState::TimedOut && *reason == 0 {
                                    *reason = Reason::Deadline.code();
                                }
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Hands a run one input (logged first in the tick's transaction) and carries out its
    /// actions. An input the run refuses changes nothing and returns the engine's error.
    fn apply(
        &mut self,
        no: i64,
        row: InputRow,
    ) -> Result<std::result::Result<(), fleet_core::Error>> {
        let Some(r) = self.runs.get_mut(&no) else {
            return Ok(Ok(()));
        };
        let ctx = &mut self.ctx;
        let Some(job) = r.run.as_mut() else {
            return Ok(Ok(()));
        };
        let mut actions = std::mem::take(&mut ctx.actions);
        actions.clear();
        if let Err(e) = job.handle(row.at_ms, input_of(&row), &mut actions) {
            ctx.actions = actions;
            return Ok(Err(e));
        }
        ctx.store.log_input(no, r.seq, row)?;
        r.seq += 1;
        let targets = r
            .targets
            .as_ref()
            .expect("a run with an engine has targets");
        for a in &actions {
            match *a {
                Action::Dispatch { device, attempt } => {
                    let fleet_index = targets[device as usize];
                    let fate = ctx.live.dispatch(&r.op, fleet_index, attempt, row.at_ms);
                    if fate.wrote {
                        ctx.store.log_effect(r.op_id, fleet_index, 0)?;
                    }
                    r.reasons[device as usize] = fate.pending_reason.map_or(0, Reason::code);
                    if let Some(at) = fate.answer_at_ms {
                        ctx.push(
                            at,
                            Event::Answer {
                                run: no,
                                target: device,
                                device: fleet_index,
                                attempt,
                                reason: fate.reason.map_or(0, Reason::code),
                            },
                        );
                    }
                }
                Action::SetTimer { at_ms, timer } => {
                    if let Some((kind, device, attempt)) = timer_key(timer) {
                        ctx.push(
                            at_ms,
                            Event::Timer {
                                run: no,
                                kind,
                                device,
                                attempt,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        ctx.actions = actions;
        let status = job.status();
        let settled = job.is_settled();
        let finished = job.finished_ms();
        if status != r.stored_status || (settled && !r.settled) {
            r.stored_status = status;
            r.finished_ms = finished;
            ctx.store.set_status(no, status.as_str(), finished)?;
            if settled {
                ctx.store.set_summary(no, &Summary::of(job).to_json())?;
            }
        }
        if !self.dirty.contains(&no) {
            self.dirty.push(no);
        }
        if settled && !r.settled {
            r.settled = true;
            if let Some(sid) = r
                .doc
                .central
                .as_ref()
                .and_then(|j| j.scheduled_job_id.clone())
            {
                self.finished.push((sid, r.id.clone(), status));
            }
            if r.holds_slot {
                r.holds_slot = false;
                self.running -= 1;
                self.release_slots()?;
            }
        }
        Ok(Ok(()))
    }

    /// Starts waiting runs while slots are free.
    fn release_slots(&mut self) -> Result<()> {
        while self.slots.is_none_or(|s| self.running < s) {
            let Some(no) = self.waiting.pop_front() else {
                break;
            };
            let now = self.now;
            self.start(no, now)?;
        }
        Ok(())
    }

    /// Starts a run: takes a slot (or waits), snapshots its targets, hands it `Start`.
    fn start(&mut self, no: i64, at: i64) -> Result<()> {
        let Some(r) = self.runs.get_mut(&no) else {
            return Ok(());
        };
        if r.started() {
            return Ok(()); // cancelled before its start, or already started
        }
        if let Some(limit) = self.slots {
            if self.running >= limit {
                if !r.waiting {
                    r.waiting = true;
                    self.waiting.push_back(no);
                    self.ctx.store.set_status(no, "waiting", None)?;
                }
                return Ok(());
            }
            self.running += 1;
            r.holds_slot = true;
        }
        r.waiting = false;
        // Targets: a snapshot now (semantics rule 1).
        let mut fail = self.ctx.live.cannot_execute(&r.op).map(|e| e.to_string());
        let targets: Vec<u32> = match (r.dialect, &r.doc.central, &r.doc.hub) {
            (Dialect::Central, Some(job), _) => match self.groups.get(&job.group) {
                None => {
                    fail = Some(format!("device group {:?} does not exist", job.group));
                    Vec::new()
                }
                Some(g) => match Query::parse_any(&g.filter) {
                    Ok(q) => q.compile(self.ctx.live.fleet()).select(),
                    Err(e) => {
                        fail = Some(format!("the group's filter does not parse: {e}"));
                        Vec::new()
                    }
                },
            },
            (_, _, Some(req)) => {
                let cond = req.query_condition.as_deref().unwrap_or("*");
                match Query::parse_condition(cond) {
                    Ok(q) => q.compile(self.ctx.live.fleet()).select(),
                    Err(e) => {
                        fail = Some(format!("queryCondition: {e}"));
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        };
        let targets = if fail.is_some() { Vec::new() } else { targets };
        let first = if fail.is_some() { IN_FAIL } else { IN_START };
        self.begin_run(no, targets, at, fail, first)
    }

    /// Gives a run its targets and hands it its first input (`Start`, `Fail`, or `Cancel` for a
    /// run cancelled before it started).
    fn begin_run(
        &mut self,
        no: i64,
        targets: Vec<u32>,
        at: i64,
        fail: Option<String>,
        first: u8,
    ) -> Result<()> {
        let Some(r) = self.runs.get_mut(&no) else {
            return Ok(());
        };
        let blob: Vec<u8> = targets.iter().flat_map(|t| t.to_le_bytes()).collect();
        self.ctx.store.set_targets(no, &blob)?;
        let n = targets.len() as u32;
        let job = r
            .builder
            .build(n)
            .map_err(|e| Error::new(ErrorKind::Store, e.to_string()))?;
        r.reasons = vec![0; n as usize];
        r.targets = Some(targets);
        r.run = Some(job);
        r.failure = fail;
        let row = InputRow {
            at_ms: at,
            kind: first,
            device: 0,
            attempt: 0,
            value: 0,
        };
        let _ = self.apply(no, row)?;
        Ok(())
    }

    // ----- commands -----

    fn command(&mut self, c: Command) -> Result<Option<(oneshot::Sender<Reply>, Reply)>> {
        Ok(Some(match c {
            Command::Wake => return Ok(None),
            Command::CreateCentralJob { id, job, reply } => {
                (reply, self.create_central(id, *job, None)?)
            }
            Command::CreateHubJob { id, request, reply } => (reply, self.create_hub(id, *request)?),
            Command::Control {
                dialect,
                id,
                command,
                reply,
            } => (reply, self.control(dialect, &id, command)?),
            Command::Rerun {
                id,
                rerun_id,
                reply,
            } => (reply, self.rerun(&id, rerun_id)?),
            Command::JobDevices {
                id,
                from,
                limit,
                reply,
            } => (reply, self.job_devices(&id, from, limit)?),
            Command::PutGroup {
                id,
                group,
                if_match,
                reply,
            } => (reply, self.put_group(id, *group, if_match)?),
            Command::PatchGroup {
                id,
                patch,
                if_match,
                reply,
            } => (reply, self.patch_group(id, patch, if_match)?),
            Command::DeleteDoc {
                kind,
                id,
                if_match,
                reply,
            } => (reply, self.delete_doc(kind, id, if_match)?),
            Command::PutScheduled {
                id,
                job,
                if_match,
                reply,
            } => (reply, self.put_scheduled(id, *job, if_match)?),
            Command::PatchScheduled {
                id,
                patch,
                if_match,
                reply,
            } => (reply, self.patch_scheduled(id, *patch, if_match)?),
            Command::Devices {
                query,
                from,
                limit,
                hub,
                reply,
            } => (reply, Ok(self.devices(&query, from, limit, hub))),
            Command::GroupDevices {
                id,
                from,
                limit,
                reply,
            } => {
                let result = match self.groups.get(&id) {
                    None => Err(ApiError::not_found("device group", &id)),
                    Some(g) => match Query::parse_any(&g.filter) {
                        Ok(q) => Ok(self.devices(&q, from, limit, false)),
                        Err(e) => Err(ApiError::bad("filter", e)),
                    },
                };
                (reply, result)
            }
            Command::Twin { id, reply } => {
                let fleet = self.ctx.live.fleet();
                let result = match fleet.index_of(&id) {
                    Some(i) => Ok(hub_twin(fleet, i)),
                    None => Err(ApiError::not_found("device", &id).hub("DeviceNotFound")),
                };
                (reply, result)
            }
        }))
    }

    fn new_run(
        &mut self,
        dialect: Dialect,
        id: String,
        doc: RunDoc,
        operation: &Operation,
        start_ms: i64,
    ) -> Result<Reply> {
        let builder = match doc.builder() {
            Ok(b) => b,
            Err(e) => return Ok(Err(e.into())),
        };
        if let Err(e) = builder.build(0) {
            return Ok(Err(e.into()));
        }
        let op = match self.ctx.live.prepare(operation) {
            Ok(op) => op,
            Err(e) => return Ok(Err(ApiError::bad("", e))),
        };
        let op_id = self.ctx.store.insert_op(&to_json(operation))?;
        let no = self.next_run;
        self.next_run += 1;
        let row = RunRow {
            no,
            dialect: dialect.as_str().to_string(),
            id: id.clone(),
            doc: to_json(&doc),
            op: op_id,
            created_ms: self.now,
            start_ms,
            targets: None,
            status: RunStatus::Pending.as_str().to_string(),
            finished_ms: None,
            summary: None,
        };
        self.ctx.store.insert_run(&row)?;
        let run = Run {
            no,
            dialect,
            id: id.clone(),
            doc,
            op,
            op_id,
            builder,
            created_ms: self.now,
            start_ms,
            targets: None,
            run: None,
            reasons: Vec::new(),
            seq: 0,
            holds_slot: false,
            waiting: false,
            settled: false,
            finished_ms: None,
            failure: None,
            stored_status: RunStatus::Pending,
            summary: None,
        };
        self.runs.insert(no, run);
        self.index.insert((dialect, id), no);
        self.dirty.push(no);
        Ok(Ok(Value::from(no)))
    }

    fn create_central(
        &mut self,
        id: String,
        mut job: Job,
        targets_from: Option<Vec<u32>>,
    ) -> Result<Reply> {
        if self.index.contains_key(&(Dialect::Central, id.clone())) {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a job with id {id:?} exists"),
            )));
        }
        let templates = self.ctx.live.fleet().templates().to_vec();
        let operation = match operation::central(&job.data, &templates) {
            Ok(op) => op,
            Err(e) => return Ok(Err(e)),
        };
        job.id = Some(id.clone());
        job.status = None;
        job.progress = None;
        job.start = None;
        job.end = None;
        let doc = RunDoc {
            central: Some(job),
            hub: None,
            device_timeout_ms: self.config.device_timeout_ms,
        };
        let now = self.now;
        let no = match self.new_run(Dialect::Central, id, doc, &operation, now)? {
            Ok(no) => no.as_i64().unwrap_or_default(),
            Err(e) => return Ok(Err(e)),
        };
        match targets_from {
            None => self.ctx.push(now, Event::Start { run: no }),
            Some(targets) => {
                // A rerun: its targets are the failed devices of the source run.
                self.begin_run(no, targets, now, None, IN_START)?;
            }
        }
        self.publish(no);
        Ok(Ok(self.view_json(no)))
    }

    fn create_hub(&mut self, id: String, mut request: JobRequest) -> Result<Reply> {
        if self.index.contains_key(&(Dialect::Hub, id.clone())) {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a job with id {id:?} exists"),
            )
            .hub("JobAlreadyExists")));
        }
        let operation = match operation::hub(&request) {
            Ok(op) => op,
            Err(e) => return Ok(Err(e)),
        };
        request.job_id = Some(id.clone());
        let start = match &request.start_time {
            Some(Nullable::Value(t)) => clock::parse_rfc3339(t).unwrap_or(self.now),
            _ => self.now,
        };
        let doc = RunDoc {
            central: None,
            hub: Some(request),
            device_timeout_ms: self.config.device_timeout_ms,
        };
        let start = start.max(self.now);
        let no = match self.new_run(Dialect::Hub, id, doc, &operation, start)? {
            Ok(no) => no.as_i64().unwrap_or_default(),
            Err(e) => return Ok(Err(e)),
        };
        self.ctx.push(start, Event::Start { run: no });
        self.publish(no);
        Ok(Ok(self.view_json(no)))
    }

    fn control(&mut self, dialect: Dialect, id: &str, command: Control) -> Result<Reply> {
        let not_found = || {
            let e = ApiError::not_found("job", id);
            Ok(Err(if dialect == Dialect::Hub {
                e.hub("JobNotFound")
            } else {
                e
            }))
        };
        let Some(&no) = self.index.get(&(dialect, id.to_string())) else {
            return not_found();
        };
        let Some(r) = self.runs.get(&no) else {
            return not_found();
        };
        let now = self.now;
        if r.run.is_none() && r.summary.is_some() {
            // Settled (and evicted): nothing can change any more.
            if command == Control::Cancel {
                return Ok(Ok(self.view_json(no)));
            }
            let verb = if command == Control::Stop {
                "stop"
            } else {
                "resume"
            };
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("cannot {verb} a run that is {}", r.status()),
            )));
        }
        if r.run.is_none() {
            // Not started yet (scheduled, or waiting for a slot).
            if command == Control::Cancel {
                if let Some(pos) = self.waiting.iter().position(|&w| w == no) {
                    self.waiting.remove(pos);
                }
                self.begin_run(no, Vec::new(), now, None, IN_CANCEL)?;
                self.publish(no);
                return Ok(Ok(self.view_json(no)));
            }
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("job {id:?} has not started yet"),
            )));
        }
        let kind = match command {
            Control::Stop => IN_STOP,
            Control::Resume => IN_RESUME,
            Control::Cancel => IN_CANCEL,
        };
        let row = InputRow {
            at_ms: now,
            kind,
            device: 0,
            attempt: 0,
            value: 0,
        };
        match self.apply(no, row)? {
            Ok(()) => {
                self.publish(no);
                Ok(Ok(self.view_json(no)))
            }
            Err(e) if command == Control::Cancel => {
                // Cancelling a job that has ended changes nothing; IoT Hub answers with the job.
                let _ = e;
                Ok(Ok(self.view_json(no)))
            }
            Err(e) => Ok(Err(ApiError::new(ApiErrorKind::Conflict, e.to_string()))),
        }
    }

    fn rerun(&mut self, id: &str, rerun_id: String) -> Result<Reply> {
        let Some(&no) = self.index.get(&(Dialect::Central, id.to_string())) else {
            return Ok(Err(ApiError::not_found("job", id)));
        };
        if self
            .index
            .contains_key(&(Dialect::Central, rerun_id.clone()))
        {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a job with id {rerun_id:?} exists"),
            )));
        }
        let picked = self.with_state(no, |job, targets| {
            job.rerun()
                .map(|(_, indices)| indices.iter().map(|&i| targets[i as usize]).collect())
        })?;
        let fleet_targets: Vec<u32> = match picked {
            None => {
                return Ok(Err(ApiError::new(
                    ApiErrorKind::Conflict,
                    format!("job {id:?} has not run yet"),
                )))
            }
            Some(Err(e)) => return Ok(Err(ApiError::new(ApiErrorKind::Conflict, e.to_string()))),
            Some(Ok(t)) => t,
        };
        let r = &self.runs[&no];
        let mut def = r.doc.central.clone().expect("a central run has its job");
        def.id = Some(rerun_id.clone());
        self.create_central(rerun_id, def, Some(fleet_targets))
    }

    fn job_devices(&mut self, id: &str, from: u32, limit: usize) -> Result<Reply> {
        let Some(&no) = self.index.get(&(Dialect::Central, id.to_string())) else {
            return Ok(Err(ApiError::not_found("job", id)));
        };
        let page = self.with_state(no, |job, targets| {
            let n = targets.len() as u32;
            let end = from.saturating_add(limit as u32).min(n);
            let items: Vec<(u32, DeviceStatus)> = (from.min(n)..end)
                .map(|t| (targets[t as usize], DeviceStatus::from(job.device_state(t))))
                .collect();
            (items, (end < n).then_some(end))
        })?;
        let Some((items, next)) = page else {
            return Ok(Ok(serde_json::json!({"items": []})));
        };
        let fleet = self.ctx.live.fleet();
        let items: Vec<Value> = items
            .into_iter()
            .map(|(d, status)| {
                serde_json::json!({"id": fleet.id(d).to_string(), "status": status.as_str()})
            })
            .collect();
        let mut out = serde_json::json!({ "items": items });
        if let Some(n) = next {
            out["next"] = Value::from(n);
        }
        Ok(Ok(out))
    }

    /// Calls `f` with a run's engine and targets: in memory, or rebuilt from the log for a
    /// settled run whose state was evicted (one such run is kept rebuilt, for paging through
    /// its devices). `None` if the run has not started.
    fn with_state<T>(
        &mut self,
        no: i64,
        f: impl FnOnce(&JobRun, &[u32]) -> T,
    ) -> Result<Option<T>> {
        let Some(r) = self.runs.get(&no) else {
            return Ok(None);
        };
        if let (Some(job), Some(targets)) = (&r.run, &r.targets) {
            return Ok(Some(f(job, targets)));
        }
        if r.summary.is_none() {
            return Ok(None);
        }
        if self.rebuilt.as_ref().is_none_or(|(n, _, _)| *n != no) {
            let blob = self.ctx.store.run_targets(no)?.unwrap_or_default();
            let targets: Vec<u32> = blob
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let mut job = r
                .builder
                .build(targets.len() as u32)
                .map_err(|e| Error::new(ErrorKind::Store, e.to_string()))?;
            let mut actions = Vec::new();
            for input in self.ctx.store.inputs(no)? {
                actions.clear();
                job.handle(input.at_ms, input_of(&input), &mut actions)
                    .map_err(|e| {
                        Error::new(ErrorKind::Store, format!("replaying run {no}: {e}"))
                    })?;
            }
            self.rebuilt = Some((no, job, targets));
        }
        let (_, job, targets) = self.rebuilt.as_ref().expect("rebuilt above");
        Ok(Some(f(job, targets)))
    }

    fn devices(&self, query: &Query, from: u32, limit: usize, hub: bool) -> Value {
        let fleet = self.ctx.live.fleet();
        let compiled = query.compile(fleet);
        let mut items = Vec::new();
        let mut next = None;
        for i in compiled.iter().filter(|&i| i >= from) {
            if items.len() == limit {
                next = Some(i);
                break;
            }
            items.push(if hub {
                hub_twin(fleet, i)
            } else {
                central_device(fleet, i)
            });
        }
        let mut out = serde_json::json!({ "items": items });
        if let Some(n) = next {
            out["next"] = Value::from(n);
        }
        out
    }

    // ----- documents -----

    fn etag(&mut self) -> String {
        self.etag_seq += 1;
        format!(
            "\"{:08x}-{:04x}-{:016x}\"",
            (self.now / 1000) as u32,
            self.etag_seq & 0xffff,
            crate::world::fnv(&self.now.to_le_bytes()) ^ self.etag_seq
        )
    }

    fn precondition(current: Option<&str>, if_match: Option<&str>) -> Option<ApiError> {
        let wanted = if_match?;
        let ok = match current {
            None => false,
            Some(etag) => wanted.trim() == "*" || wanted.split(',').any(|w| w.trim() == etag),
        };
        (!ok).then(|| {
            ApiError::new(
                ApiErrorKind::PreconditionFailed,
                format!(
                    "If-Match {wanted} does not match the current etag {}",
                    current.unwrap_or("(none: it does not exist)")
                ),
            )
        })
    }

    fn put_group(
        &mut self,
        id: String,
        mut group: DeviceGroup,
        if_match: Option<String>,
    ) -> Result<Reply> {
        let current = self.groups.get(&id).and_then(|g| g.etag.clone());
        if let Some(e) = Self::precondition(current.as_deref(), if_match.as_deref()) {
            return Ok(Err(e));
        }
        if self.groups.contains_key(&id) && if_match.is_none() {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a device group with id {id:?} exists (send If-Match to replace it)"),
            )));
        }
        group.id = Some(id.clone());
        group.etag = Some(self.etag());
        self.ctx
            .store
            .put_doc(DocKind::Group, &id, &to_json(&group))?;
        let value = serde_json::to_value(&group).unwrap_or_default();
        self.shared
            .groups
            .insert(id.clone(), Arc::new(group.clone()));
        self.groups.insert(id, group);
        Ok(Ok(value))
    }

    fn patch_group(&mut self, id: String, patch: Value, if_match: Option<String>) -> Result<Reply> {
        let Some(current) = self.groups.get(&id).cloned() else {
            return Ok(Err(ApiError::not_found("device group", &id)));
        };
        if let Some(e) = Self::precondition(current.etag.as_deref(), if_match.as_deref()) {
            return Ok(Err(e));
        }
        let mut doc = serde_json::to_value(&current).unwrap_or_default();
        merge_patch(&mut doc, &patch);
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("etag");
        }
        let mut group: DeviceGroup = match fleet_core::model::parse::from_value(doc) {
            Ok(g) => g,
            Err(e) => return Ok(Err(e.into())),
        };
        if group.id.as_deref() != Some(id.as_str()) {
            return Ok(Err(ApiError::bad(
                "id",
                "the id of a device group cannot change",
            )));
        }
        if let Err(e) = crate::routes::validate_group(&group) {
            return Ok(Err(e));
        }
        group.etag = Some(self.etag());
        self.ctx
            .store
            .put_doc(DocKind::Group, &id, &to_json(&group))?;
        let value = serde_json::to_value(&group).unwrap_or_default();
        self.shared
            .groups
            .insert(id.clone(), Arc::new(group.clone()));
        self.groups.insert(id, group);
        Ok(Ok(value))
    }

    fn delete_doc(&mut self, kind: DocKind, id: String, if_match: Option<String>) -> Result<Reply> {
        if kind == DocKind::Scheduled {
            return self.schedule_input(id, ScheduleInput::Delete { if_match });
        }
        let Some(etag) = self.groups.get(&id).map(|g| g.etag.clone()) else {
            return Ok(Err(ApiError::not_found("device group", &id)));
        };
        if let Some(e) = Self::precondition(etag.as_deref(), if_match.as_deref()) {
            return Ok(Err(e));
        }
        self.ctx.store.delete_doc(kind, &id)?;
        self.groups.remove(&id);
        self.shared.groups.remove(&id);
        Ok(Ok(Value::Null))
    }

    /// Hands a scheduled job an input at the driver's time, logs it if accepted, and carries
    /// out what it asks (runs to create).
    fn schedule_input(&mut self, id: String, input: ScheduleInput) -> Result<Reply> {
        let now = self.now;
        let mut events = Vec::new();
        let state = self.scheduled.get_mut(&id).filter(|s| !s.is_deleted());
        let exists = state.is_some();
        let create = matches!(input, ScheduleInput::Create { .. });
        if create && exists {
            return Ok(Err(ApiError::new(
                ApiErrorKind::Conflict,
                format!("a scheduled job with id {id:?} exists (send If-Match to replace it)"),
            )));
        }
        if !exists && !create {
            return Ok(Err(ApiError::not_found("scheduled job", &id)));
        }
        match schedules::apply(state, &id, now, &input, &mut events) {
            Err(e) => return Ok(Err(schedules::api_error(&e))),
            Ok(Some(created)) => {
                self.scheduled.insert(id.clone(), created);
            }
            Ok(None) => {}
        }
        self.ctx
            .store
            .log_schedule(&id, now, input.kind(), &to_json(&input))?;
        self.schedule_events(events)?;
        self.publish_scheduled(&id);
        let value = match self.scheduled.get(&id) {
            Some(s) if !s.is_deleted() => serde_json::to_value(s.document()).unwrap_or_default(),
            _ => Value::Null,
        };
        Ok(Ok(value))
    }

    fn put_scheduled(
        &mut self,
        id: String,
        job: ScheduledJob,
        if_match: Option<String>,
    ) -> Result<Reply> {
        let exists = self.scheduled.get(&id).is_some_and(|s| !s.is_deleted());
        if !exists && if_match.is_some() {
            return Ok(Err(ApiError::new(
                ApiErrorKind::PreconditionFailed,
                format!("If-Match: scheduled job {id:?} does not exist"),
            )));
        }
        let input = if exists && if_match.is_some() {
            ScheduleInput::Replace {
                job: Box::new(job),
                if_match,
            }
        } else {
            ScheduleInput::Create { job: Box::new(job) }
        };
        self.schedule_input(id, input)
    }

    fn patch_scheduled(
        &mut self,
        id: String,
        patch: ScheduledJobPatch,
        if_match: Option<String>,
    ) -> Result<Reply> {
        if let Some(s) = self.scheduled.get(&id).filter(|s| !s.is_deleted()) {
            match s.document().patched(&patch) {
                Err(e) => return Ok(Err(e.into())),
                Ok(merged) => {
                    let templates = self.ctx.live.fleet().templates();
                    if let Err(e) = crate::routes::validate_scheduled(&merged, templates) {
                        return Ok(Err(e));
                    }
                }
            }
        }
        self.schedule_input(
            id,
            ScheduleInput::Update {
                patch: Box::new(patch),
                if_match,
            },
        )
    }

    /// "Run finished" for the scheduled runs that settled, and "time reached now" for every
    /// scheduled job with an occurrence due.
    fn advance_schedules(&mut self) -> Result<()> {
        let now = self.now;
        let finished = std::mem::take(&mut self.finished);
        for (sid, run, status) in finished {
            let input = ScheduleInput::Finished {
                run,
                status: status.as_str().to_string(),
            };
            let mut events = Vec::new();
            let state = self.scheduled.get_mut(&sid);
            if schedules::apply(state, &sid, now, &input, &mut events).is_ok() {
                self.ctx
                    .store
                    .log_schedule(&sid, now, input.kind(), &to_json(&input))?;
                self.schedule_events(events)?;
                self.publish_scheduled(&sid);
            }
        }
        let due: Vec<String> = self
            .scheduled
            .iter()
            .filter(|(_, s)| s.next_occurrence_ms().is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let mut events = Vec::new();
            if let Some(s) = self.scheduled.get_mut(&id) {
                if s.advance(now, &mut events).is_ok() {
                    self.schedule_events(events)?;
                    self.publish_scheduled(&id);
                }
            }
        }
        Ok(())
    }

    /// Creates the runs that occurrences asked for (a run stored before a crash exists
    /// already and is not created again).
    fn schedule_events(&mut self, events: Vec<ScheduleEvent>) -> Result<()> {
        for event in events {
            if let ScheduleEvent::RunCreated { run, job } = event {
                if !self.index.contains_key(&(Dialect::Central, run.id.clone())) {
                    let _ = self.create_central(run.id.clone(), *job, None)?;
                }
            }
        }
        Ok(())
    }

    fn publish_scheduled(&mut self, id: &str) {
        match self.scheduled.get(id) {
            Some(s) if !s.is_deleted() => {
                let doc = s.document().clone();
                let _ = self
                    .ctx
                    .store
                    .put_doc(DocKind::Scheduled, id, &to_json(&doc));
                self.shared.scheduled.insert(id.to_string(), Arc::new(doc));
            }
            _ => {
                let _ = self.ctx.store.delete_doc(DocKind::Scheduled, id);
                self.shared.scheduled.remove(id);
            }
        }
    }

    // ----- history -----

    /// Forgets runs settled longer than the history TTL ago (IoT Hub keeps 30 days).
    fn expire(&mut self) -> Result<()> {
        let limit = self.now.saturating_sub(self.config.history_ttl_ms);
        let old: Vec<i64> = self
            .runs
            .values()
            .filter(|r| r.settled && r.finished_ms.is_some_and(|f| f < limit))
            .map(|r| r.no)
            .collect();
        for no in old {
            if let Some(r) = self.runs.remove(&no) {
                if self.rebuilt.as_ref().is_some_and(|(n, _, _)| *n == no) {
                    self.rebuilt = None;
                }
                self.ctx.store.delete_run(no)?;
                self.index.remove(&(r.dialect, r.id.clone()));
                match r.dialect {
                    Dialect::Central => self.shared.central_jobs.remove(&r.id),
                    Dialect::Hub => self.shared.hub_jobs.remove(&r.id),
                };
            }
        }
        Ok(())
    }

    // ----- views -----

    fn view_json(&self, no: i64) -> Value {
        self.runs
            .get(&no)
            .map(|r| self.render(r).0)
            .unwrap_or(Value::Null)
    }

    /// Publishes run `no`'s view for the request handlers.
    fn publish(&mut self, no: i64) {
        if let Some(r) = self.runs.get_mut(&no) {
            r.evict();
        }
        let Some(r) = self.runs.get(&no) else {
            return;
        };
        let (json, kind, status) = self.render(r);
        let view = Arc::new(JobView {
            json: Arc::from(json.to_string()),
            kind,
            status,
            scheduled_job_id: r
                .doc
                .central
                .as_ref()
                .and_then(|j| j.scheduled_job_id.clone()),
        });
        match r.dialect {
            Dialect::Central => self.shared.central_jobs.insert(r.id.clone(), view),
            Dialect::Hub => self.shared.hub_jobs.insert(r.id.clone(), view),
        };
    }

    fn render(&self, r: &Run) -> (Value, &'static str, &'static str) {
        let status = r.status();
        let (counts, started, finished) = match (&r.run, &r.summary) {
            (Some(job), _) => (Some(job.counts()), job.started_ms(), job.finished_ms()),
            (None, Some(sm)) => (Some(sm.counts), sm.started, sm.finished),
            (None, None) => (None, None, None),
        };
        match r.dialect {
            Dialect::Central => {
                let mut job = r.doc.central.clone().expect("a central run has its job");
                let word = CentralJobStatus::from(status);
                job.status = Some(Word::new(word));
                job.progress = counts.map(Progress::from);
                job.start = started.map(clock::rfc3339);
                job.end = finished.filter(|_| r.settled).map(clock::rfc3339);
                (
                    serde_json::to_value(&job).unwrap_or_default(),
                    "",
                    word.as_str(),
                )
            }
            Dialect::Hub => {
                let request = r.doc.hub.clone().expect("a hub run has its request");
                let scheduled = !r.started() && r.start_ms > self.now;
                let word = HubJobStatus::from_run(status, scheduled);
                let mut response = JobResponse::accepted(&request, scheduled);
                response.status = Some(word);
                response.created_time = Some(clock::rfc3339(r.created_ms));
                response.start_time = Some(Nullable::Value(clock::rfc3339(
                    started.unwrap_or(r.start_ms),
                )));
                response.end_time = finished
                    .filter(|_| r.settled)
                    .map(|f| Nullable::Value(clock::rfc3339(f)));
                response.device_job_statistics =
                    Some(counts.map(DeviceJobStatistics::from).unwrap_or_default());
                response.failure_reason = r.failure.clone();
                response.status_message = r.failure.clone();
                let kind = request.kind.map_or("unknown", |k| k.as_str());
                (
                    serde_json::to_value(&response).unwrap_or_default(),
                    kind,
                    word.as_str(),
                )
            }
        }
    }
}

fn failure_text(r: &Run) -> String {
    match (&r.doc.central, &r.doc.hub) {
        (Some(job), _) => format!("the job could not run (device group {:?})", job.group),
        _ => "the job could not run".to_string(),
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// RFC 7396 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Device `i` as an IoT Hub twin: the fleet's twin without IoT Central's `$` fields, with
/// `$version`s, an etag and a version.
pub(crate) fn hub_twin(fleet: &fleet_sim::Fleet, i: u32) -> Value {
    let mut twin = fleet.twin(i);
    if let Value::Object(map) = &mut twin {
        map.retain(|k, _| !k.starts_with('$'));
        let dv = fleet.desired_version(i);
        let rv = fleet.reported_version(i);
        if let Some(Value::Object(props)) = map.get_mut("properties") {
            if let Some(Value::Object(d)) = props.get_mut("desired") {
                d.insert("$version".into(), Value::from(dv));
            }
            if let Some(Value::Object(r)) = props.get_mut("reported") {
                r.insert("$version".into(), Value::from(rv));
            }
        }
        map.insert("version".into(), Value::from(dv + rv));
        map.insert(
            "etag".into(),
            Value::from(format!(
                "AAAAAAAAAA{:x}=",
                u64::from(dv) << 32 | u64::from(rv)
            )),
        );
        map.insert("deviceEtag".into(), Value::from("AAAAAAAAAAE="));
        map.insert("cloudToDeviceMessageCount".into(), Value::from(0));
        map.insert("authenticationType".into(), Value::from("sas"));
    }
    twin
}

/// Device `i` as IoT Central shows it in a group's device list.
pub(crate) fn central_device(fleet: &fleet_sim::Fleet, i: u32) -> Value {
    let id = fleet.id(i).to_string();
    let mut d = serde_json::json!({
        "id": id,
        "displayName": id,
        "provisioned": fleet.is_provisioned(i),
        "simulated": fleet.is_simulated(i),
        "enabled": true,
    });
    if let Some(t) = fleet.template(i) {
        d["template"] = Value::from(t.id.clone());
    }
    d
}
