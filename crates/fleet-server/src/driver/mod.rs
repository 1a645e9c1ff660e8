//! The driver: one thread that owns every job run, the device model and the database, and
//! drives each run's executor ([`fleet_sim::RunExec`], the one shared with the simulator) at
//! the run's virtual instants.
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
//! # What lives where
//!
//! - this file: the loop, the events, and feeding a run's executor (with the [`Agenda`] that
//!   turns its answers and timers into events and logs its inputs and writes);
//! - `protocol`: the commands the request handlers send;
//! - `jobs`: creating, controlling and rerunning job runs, and listing their devices;
//! - `restore`: opening the store, and rebuilding every run after a restart;
//! - `documents`: device groups and scheduled jobs, with their etags;
//! - `direct`: writes and calls on one device outside jobs (twin updates, direct methods,
//!   IoT Central property writes), and the device answers they wait for;
//! - `devices`: the device-level commands, and IoT Central's device reads;
//! - `render`: the JSON the API shows, published for the request handlers;
//! - `log`: the stored form of a run's inputs and summary.

mod dashboard;
mod devices;
mod direct;
mod documents;
#[cfg(test)]
mod equivalence;
mod job_results;
mod jobs;
mod lifecycle;
mod log;
mod protocol;
mod real;
mod render;
mod restore;

use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use fleet_core::model::DeviceGroup;
use fleet_core::schedule::ScheduledJobState;
use fleet_core::{Input, JobRun, RunBuilder, RunStatus, Timer};
use fleet_query::Query;
use fleet_sim::{Agenda, Answer, DeviceModel, JobSlots, PreparedOp, Reason, RunExec, RunKey};

use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::state::Shared;
use crate::store::{Effect, Store};

pub(crate) use dashboard::{DashboardQuery, DeviceFilter, STATE_WORDS};
pub(crate) use direct::TwinWrite;
pub(crate) use job_results::jobs_query;
pub(crate) use protocol::{Command, Control, DeviceCommand, Dialect, Reply};
pub(crate) use real::{Link, Outbound, RealCommand};

use log::{RunDoc, Summary, IN_FAIL, IN_START};

/// Something due at a virtual time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Start {
        run: i64,
    },
    Answer {
        run: i64,
        answer: Answer,
    },
    Timer {
        run: i64,
        timer: Timer,
    },
    /// A device answer to a direct operation (see `direct`).
    Direct {
        no: i64,
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

/// The events not yet due, in (time, sequence) order: the order in which they were pushed
/// among equal times, as in the simulator's queue.
#[derive(Default)]
struct Events {
    heap: BinaryHeap<Due>,
    next_seq: u64,
}

impl Events {
    fn push(&mut self, at: i64, event: Event) {
        self.next_seq += 1;
        self.heap.push(Due {
            at,
            seq: self.next_seq,
            event,
        });
    }

    fn next_at(&self) -> Option<i64> {
        self.heap.peek().map(|d| d.at)
    }
}

/// One job run in the driver.
struct Run {
    no: i64,
    dialect: Dialect,
    id: String,
    doc: RunDoc,
    op: PreparedOp,
    op_id: i64,
    builder: RunBuilder,
    created_ms: i64,
    start_ms: i64,
    /// The run's executor, from its start until it settles and is evicted.
    exec: Option<RunExec>,
    /// The next input's sequence number in the log.
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
    /// What the log last said of the run (see `lifecycle`).
    logged: lifecycle::Logged,
    /// What a real device is handed for the run's operation (see `real`).
    handover: Arc<real::Handover>,
}

impl Run {
    fn job(&self) -> Option<&JobRun> {
        self.exec.as_ref().map(RunExec::run)
    }

    fn status(&self) -> RunStatus {
        match (self.job(), &self.summary) {
            (Some(job), _) => job.status(),
            (None, Some(summary)) => summary.status,
            (None, None) => RunStatus::Pending,
        }
    }

    /// Whether the run has started (it has targets and an engine, or had them).
    fn started(&self) -> bool {
        self.exec.is_some() || self.summary.is_some()
    }

    /// Drops the per-device state of a settled run, keeping its summary.
    fn evict(&mut self) {
        if let (true, Some(job)) = (self.settled, self.job()) {
            self.summary = Some(Summary::of(job));
            self.exec = None;
        }
    }
}

/// What a run's executor hands the driver: answers and timers become events; inputs and fleet
/// writes are logged in the tick's transaction.
struct RunAgenda<'a> {
    events: &'a mut Events,
    store: &'a Store,
    run: i64,
    op_id: i64,
    seq: &'a mut i64,
    /// The first store error, returned once the executor is done.
    error: Option<Error>,
    /// Dispatches whose answer was scheduled (for `/metrics`).
    dispatched: u64,
    /// What went to real devices, handed over after the commit.
    outbox: &'a mut real::Outbox,
}

impl RunAgenda<'_> {
    fn keep(&mut self, r: Result<()>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

impl Agenda for RunAgenda<'_> {
    fn answer(&mut self, at_ms: i64, answer: Answer) {
        let run = self.run;
        self.dispatched += 1;
        self.events.push(at_ms, Event::Answer { run, answer });
    }

    fn timer(&mut self, at_ms: i64, timer: Timer) {
        let run = self.run;
        self.events.push(at_ms, Event::Timer { run, timer });
    }

    fn input(&mut self, at_ms: i64, input: Input, reason: u8) {
        let r = self
            .store
            .log_input(self.run, *self.seq, log::row_of(at_ms, input, reason));
        *self.seq += 1;
        self.keep(r);
    }

    fn wrote(&mut self, device: u32, parts: u32) {
        if self.outbox.active {
            self.outbox.desired.push((self.run, device));
        }
        let r = self
            .store
            .log_effect(self.op_id, device, Effect::Dispatch { parts });
        self.keep(r);
    }

    fn answered(&mut self, device: u32) {
        let r = self.store.log_effect(self.op_id, device, Effect::Answer);
        self.keep(r);
    }

    fn deliver(&mut self, at_ms: i64, call: Answer) {
        self.outbox.calls.push((self.run, at_ms, call));
    }
}

/// What the driver feeds a run's executor.
#[derive(Debug, Clone, Copy)]
enum Feed {
    Input(Input),
    Answer(Answer),
    Timer(Timer),
}

/// The pieces of the driver a run's input touches.
struct Ctx {
    model: DeviceModel,
    store: Store,
    events: Events,
    /// What runs sent real devices in this tick (see `real`).
    outbox: real::Outbox,
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
    /// The hub model's concurrent-jobs limit (fleet-sim's rule, as in the simulator).
    slots: JobSlots<i64>,
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
    /// One settled run rebuilt from its log: (run, executor).
    rebuilt: Option<(i64, RunExec)>,
    dirty: Vec<i64>,
    last_expiry: Instant,
    /// Device answers to direct operations still due, by number.
    directs: std::collections::BTreeMap<i64, direct::Pending>,
    /// The number of the last direct operation (its random stream is `$direct-<n>`).
    direct_seq: i64,
    /// Replies that events of this tick produced (direct methods answered), sent after the
    /// commit.
    late: Vec<(tokio::sync::oneshot::Sender<Reply>, Reply)>,
    /// Connected real devices and what they were handed (see `real`).
    links: real::Links,
}

impl Driver {
    /// Runs the driver until `stop` (after a last commit) or `kill` (without one) is set, or
    /// the command channel closes. A tick that fails (the store failed: a full disk, an I/O
    /// error, damage found while running) ends it: the failure is recorded in [`Shared`] (every
    /// request then answers 503 with the reason, and the server stops) and printed on stderr.
    /// The tick's transaction is rolled back and its requests are not acknowledged.
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
                let r = self.tick(batch, &kill);
                self.check(r);
                return;
            }
            match commands.recv_timeout(self.wait()) {
                Ok(c) => pending.push(c),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let r = self.tick(Vec::new(), &kill);
                    self.check(r);
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
            let r = self.tick(batch, &kill);
            if !self.check(r) {
                return;
            }
        }
    }

    /// Whether a tick succeeded; if not, records and prints why the server cannot go on.
    fn check(&self, r: Result<()>) -> bool {
        let Err(e) = r else { return true };
        let file = self
            .ctx
            .store
            .path()
            .map_or("the in-memory database".to_string(), |p| {
                p.display().to_string()
            });
        let reason = format!("the store failed ({file}): {e}");
        eprintln!(
            "fleetsim serve: {reason}; nothing more is acknowledged: refusing requests and \
             stopping"
        );
        self.shared.fail(reason);
        false
    }

    /// How long to wait for a command: until the next event or occurrence, at most 500 ms.
    fn wait(&self) -> Duration {
        let next_occurrence = self
            .scheduled
            .values()
            .filter_map(ScheduledJobState::next_occurrence_ms)
            .min();
        let next = match (self.ctx.events.next_at(), next_occurrence) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let most = Duration::from_millis(500);
        next.map_or(most, |at| self.clock.until(at).min(most))
    }

    /// One tick: due events, then commands, one commit, then publish and reply.
    fn tick(&mut self, commands: Vec<Command>, kill: &AtomicBool) -> Result<()> {
        self.ctx.store.begin()?;
        let clock_now = self.clock.now();
        let mut handled = 0;
        while handled < self.config.events_per_commit {
            let Some(due) = self.ctx.events.heap.peek().copied() else {
                break;
            };
            if due.at > clock_now {
                break;
            }
            self.ctx.events.heap.pop();
            self.now = self.now.max(due.at);
            self.event(due.at, due.event)?;
            handled += 1;
        }
        // The driver's time: the clock, or the next event not handled yet when it lags.
        let frontier = match self.ctx.events.next_at() {
            Some(at) if at <= clock_now => at,
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
        let commit = Instant::now();
        self.ctx.store.commit()?;
        self.shared.metrics.commit(commit.elapsed().as_secs_f64());
        self.flush_real();
        for no in std::mem::take(&mut self.dirty) {
            self.publish(no);
        }
        self.publish_hub();
        for (tx, reply) in replies.into_iter().chain(std::mem::take(&mut self.late)) {
            let _ = tx.send(reply);
        }
        Ok(())
    }

    /// Publishes the hub model's buckets and the concurrent-jobs slots (nothing without a hub).
    fn publish_hub(&self) {
        let loads = self.ctx.model.hub_load(self.now);
        if loads.is_empty() && !self.slots.limited() {
            return;
        }
        self.shared.publish_hub(crate::hub_view::HubView {
            loads,
            slot_limit: self.slots.limit(),
            slots_held: self.slots.held(),
            jobs_waiting: u32::try_from(self.slots.waiting()).unwrap_or(u32::MAX),
        });
    }

    // ----- events -----

    fn event(&mut self, at: i64, event: Event) -> Result<()> {
        match event {
            Event::Start { run } => self.start(run, at),
            Event::Answer { run, answer } => {
                let result = Reason::from_u8(answer.reason).map_or("succeeded", Reason::as_str);
                self.shared.metrics.answered(result);
                self.feed(run, at, Feed::Answer(answer)).map(|_| ())
            }
            Event::Timer { run, timer } => self.feed(run, at, Feed::Timer(timer)).map(|_| ()),
            Event::Direct { no } => self.direct_answer(no),
        }
    }

    /// Hands run `no`'s executor an input, an answer or a timer at `at`. Returns whether the
    /// run took it, or the engine's error for an input it refused (which changes nothing).
    fn feed(
        &mut self,
        no: i64,
        at: i64,
        feed: Feed,
    ) -> Result<std::result::Result<bool, fleet_core::Error>> {
        let Some(r) = self.runs.get_mut(&no) else {
            return Ok(Ok(false));
        };
        let ctx = &mut self.ctx;
        let mut agenda = RunAgenda {
            events: &mut ctx.events,
            store: &ctx.store,
            run: no,
            op_id: r.op_id,
            seq: &mut r.seq,
            error: None,
            dispatched: 0,
            outbox: &mut ctx.outbox,
        };
        let took = match (r.exec.as_mut(), feed) {
            (Some(exec), Feed::Input(input)) => exec
                .handle(&mut ctx.model, &r.op, at, input, &mut agenda)
                .map(|()| true),
            (Some(exec), Feed::Answer(a)) => {
                Ok(exec.answer(&mut ctx.model, &r.op, at, a, &mut agenda))
            }
            (Some(exec), Feed::Timer(t)) => {
                Ok(exec.timer(&mut ctx.model, &r.op, at, t, &mut agenda))
            }
            // A late answer to a run evicted since: the fleet still sees it.
            (None, Feed::Answer(a)) => {
                RunExec::late_answer(&mut ctx.model, &r.op, a, &mut agenda);
                Ok(false)
            }
            (None, _) => Ok(false),
        };
        self.shared.metrics.dispatched(agenda.dispatched);
        if let Some(e) = agenda.error {
            return Err(e);
        }
        if took == Ok(true) {
            self.after_input(no)?;
        }
        Ok(took)
    }

    /// Stores a run's new status, and settles it: its summary, its scheduled job, its slot.
    fn after_input(&mut self, no: i64) -> Result<()> {
        let r = self.runs.get_mut(&no).expect("a run that took an input");
        let job = r.job().expect("a run that took an input has an executor");
        let (status, settled, finished) = (job.status(), job.is_settled(), job.finished_ms());
        let summary = Summary::of(job);
        if status != r.stored_status || (settled && !r.settled) {
            r.stored_status = status;
            r.finished_ms = finished;
            self.ctx.store.set_status(no, status.as_str(), finished)?;
            if settled {
                self.ctx.store.set_summary(no, &summary.to_json())?;
            }
        }
        if !self.dirty.contains(&no) {
            self.dirty.push(no);
        }
        if !settled || r.settled {
            return Ok(());
        }
        r.settled = true;
        if let Some(sid) = r
            .doc
            .central
            .as_ref()
            .and_then(|j| j.scheduled_job_id.clone())
        {
            self.finished.push((sid, r.id.clone(), status));
        }
        if std::mem::take(&mut r.holds_slot) {
            self.slots.release();
            self.release_slots()?;
        }
        Ok(())
    }

    /// Starts waiting runs while slots are free.
    fn release_slots(&mut self) -> Result<()> {
        while let Some(no) = self.slots.next_ready() {
            if self.runs.get(&no).is_none_or(Run::started) {
                self.slots.release(); // gone or started meanwhile: not a run that waits
                continue;
            }
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
        // A waiting run that is started again got its slot from `next_ready`.
        if !r.waiting && !self.slots.take_or_wait(no) {
            r.waiting = true;
            self.ctx.store.set_status(no, "waiting", None)?;
            return Ok(());
        }
        r.waiting = false;
        r.holds_slot = self.slots.limited();
        let (targets, fail) = self.snapshot_targets(no)?;
        let first = if fail.is_some() { IN_FAIL } else { IN_START };
        self.begin_run(no, targets, at, fail, first)
    }

    /// Run `no`'s targets, a snapshot now (semantics rule 1), or why it cannot run.
    fn snapshot_targets(&mut self, no: i64) -> Result<(Vec<u32>, Option<String>)> {
        let r = &self.runs[&no];
        if let Some(e) = self.ctx.model.cannot_execute(&r.op) {
            return Ok((Vec::new(), Some(e.to_string())));
        }
        if let Some(source) = r.doc.rerun_of.clone() {
            return self.rerun_targets(&source);
        }
        let fleet = self.ctx.model.fleet();
        let query = match (&r.doc.central, &r.doc.hub) {
            (Some(job), _) => match self.groups.get(&job.group) {
                None => Err(format!("device group {:?} does not exist", job.group)),
                Some(g) => Query::parse_any(&g.filter)
                    .map_err(|e| format!("the group's filter does not parse: {e}")),
            },
            (_, Some(req)) => {
                let cond = req.query_condition.as_deref().unwrap_or("*");
                Query::parse_condition(cond).map_err(|e| format!("queryCondition: {e}"))
            }
            (None, None) => Err("the run has no job".to_string()),
        };
        Ok(match query {
            Ok(q) => (q.compile(fleet).select(), None),
            Err(e) => (Vec::new(), Some(e)),
        })
    }

    /// A rerun's targets: the devices that failed in job `source`'s run, in fleet order.
    fn rerun_targets(&mut self, source: &str) -> Result<(Vec<u32>, Option<String>)> {
        let gone = || format!("job {source:?}, whose failed devices it reruns, no longer exists");
        let Some(&no) = self.index.get(&(Dialect::Central, source.to_string())) else {
            return Ok((Vec::new(), Some(gone())));
        };
        let failed = self.with_state(no, |exec| {
            let failed = exec.run().failed_devices();
            failed.map(|t| exec.device(t)).collect::<Vec<u32>>()
        })?;
        Ok(match failed {
            Some(targets) => (targets, None),
            None => (Vec::new(), Some(gone())),
        })
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
        let seed = self.ctx.model.seed();
        let Some(r) = self.runs.get_mut(&no) else {
            return Ok(());
        };
        let blob: Vec<u8> = targets.iter().flat_map(|t| t.to_le_bytes()).collect();
        self.ctx.store.set_targets(no, &blob)?;
        let job = r
            .builder
            .build(targets.len() as u32)
            .map_err(|e| Error::new(ErrorKind::Store, e.to_string()))?;
        r.exec = Some(RunExec::new(job, RunKey::new(seed, &r.id), Some(targets)));
        r.failure = fail;
        let input = match first {
            IN_START => Input::Start,
            IN_FAIL => Input::Fail,
            _ => Input::Cancel { force: false },
        };
        let _ = self.feed(no, at, Feed::Input(input))?;
        Ok(())
    }
}
