//! [`JobRun`]: one run of a job over a fixed set of targets, as a pure state machine.
//!
//! The run takes timestamped [`Input`]s and appends [`Action`]s for its driver to carry out. It
//! never reads a clock, sleeps or draws a random number, so the simulator (virtual time) and the
//! server (wall-clock time) drive the same code, and every rule is testable without a runtime.
//!
//! # Representation and cost
//!
//! Targets are indices `0..N` into the caller's target list, which is ordered by device id
//! (see [`crate::Targets`]). Per device the run keeps its [`DeviceState`] and its attempt count,
//! two bytes. The [`Counts`] and per-batch [`BatchStats`] are updated on every transition, so
//! statistics are O(1). Handling an outcome is O(1); starting a batch is O(batch size) for its
//! dispatches; a cancel or a deadline is O(N) once, to mark the remaining devices.
//!
//! The rollout policies of AWS IoT Jobs and hawkBit (a dispatch rate, abort criteria, group
//! gates) keep their state per run or per batch, not per device; retries add one byte per
//! device, and only when the retry policy retries anything. With none of them configured, a run
//! does exactly the work it did before they existed.
//!
//! Maintenance windows (semantics rule 17.6) are looked up once per opening and once per closing
//! that the run's inputs cross: the last answer is kept with the interval in which it holds.
//! Without windows, the only cost is one check of an `Option` when the run goes on.

use std::collections::VecDeque;

use crate::abort::{AbortTrip, FailureType};
use crate::batch::BatchPlan;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::gate::{GroupGate, Pause, PauseReason, SuccessAction};
use crate::rate::RateState;
use crate::schedule::MaintenanceWindows;
use crate::stats::{BatchStats, Counts};
use crate::status::{DeviceState, Outcome, RunStatus};
use crate::window_gate::WindowGate;

/// A timer that the run asked for with [`Action::SetTimer`]; the driver hands it back as
/// [`Input::Timer`] when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The run's deadline (`max_execution_ms` after start).
    Deadline,
    /// The per-device timeout of one attempt.
    DeviceTimeout {
        /// The device.
        device: u32,
        /// The attempt the timeout belongs to; a timer for an older attempt is ignored.
        attempt: u8,
    },
    /// The dispatch rate allows more devices again (the oldest dispatch in the 60-second
    /// window leaves it). The run asks for at most one at a time.
    Dispatch,
    /// A maintenance window opens: a run that waited outside its windows may dispatch again
    /// (semantics rule 17.6). The run asks for at most one at a time.
    Window,
}

/// What the driver tells the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// Start the run (pending -> running).
    Start,
    /// The outcome of one attempt on one device.
    Outcome {
        /// The device.
        device: u32,
        /// The attempt, as given in [`Action::Dispatch`].
        attempt: u8,
        /// How it ended.
        outcome: Outcome,
    },
    /// A timer the run asked for has come due.
    Timer(Timer),
    /// Dispatch nothing new; in-flight devices finish.
    Stop,
    /// Continue a stopped run with the devices still pending.
    Resume,
    /// Cancel the run. Soft (`force: false`): devices not yet dispatched are cancelled and
    /// in-flight ones finish. Forced: in-flight ones are abandoned and cancelled too.
    Cancel {
        /// Abandon in-flight devices as well.
        force: bool,
    },
    /// The run could not execute at all (its group is missing, its data does not match the
    /// devices' template). Only a pending run can fail; its targets are cancelled.
    Fail,
    /// Start the next batch now, whatever the gate of the current one says (hawkBit's manual
    /// trigger of the next group). Allowed on a running or paused run that has a batch not yet
    /// started; a paused run is running again.
    TriggerNextBatch,
}

/// What the run asks its driver to do. Appended in the order they must happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the job's operation to a device.
    Dispatch {
        /// The device.
        device: u32,
        /// 1 for the first dispatch, 2 for the first retry, ...
        attempt: u8,
    },
    /// Send the job's operation to every device of `first..end`, in order, each for the first
    /// time (attempt 1), each followed by its device timer at `timeout_at_ms` if the run has a
    /// device timeout: the same as [`Action::Dispatch`] and [`Action::SetTimer`] for each
    /// device ([`Action::each`]), in one action. A batch's dispatch.
    DispatchRange {
        /// The first device.
        first: u32,
        /// One past the last device.
        end: u32,
        /// When each device's timer comes due, if the run has a device timeout.
        timeout_at_ms: Option<i64>,
    },
    /// Stop waiting for a device's answer (forced cancel, deadline); a later outcome is refused.
    Abandon {
        /// The device.
        device: u32,
        /// The attempt abandoned.
        attempt: u8,
    },
    /// Hand `timer` back as [`Input::Timer`] at `at_ms`.
    SetTimer {
        /// When.
        at_ms: i64,
        /// Which timer.
        timer: Timer,
    },
    /// A batch started; its devices are dispatched next.
    BatchStarted {
        /// Index of the batch.
        batch: u32,
    },
    /// Every device of a batch reached a terminal state.
    BatchFinished {
        /// Index of the batch.
        batch: u32,
    },
    /// The run's status changed.
    Status(RunStatus),
}

impl Action {
    /// This action as actions of one device each: an [`Action::DispatchRange`] as the
    /// [`Action::Dispatch`] of each of its devices, in order, each followed by its
    /// [`Action::SetTimer`] when the range has a timeout; any other action as itself.
    pub fn each(self) -> impl Iterator<Item = Action> {
        let (devices, timeout_at_ms, itself) = match self {
            Action::DispatchRange {
                first,
                end,
                timeout_at_ms,
            } => (first..end, timeout_at_ms, None),
            other => (0..0, None, Some(other)),
        };
        itself.into_iter().chain(devices.flat_map(move |device| {
            let timer = timeout_at_ms.map(|at_ms| Action::SetTimer {
                at_ms,
                timer: Timer::DeviceTimeout { device, attempt: 1 },
            });
            std::iter::once(Action::Dispatch { device, attempt: 1 }).chain(timer)
        }))
    }
}

/// Replaces every [`Action::DispatchRange`] in `actions[start..]` by [`Action::each`] of it.
/// O(length of the tail) when there is one; a scan otherwise.
fn expand_ranges(actions: &mut Vec<Action>, start: usize) {
    let ranged = |a: &Action| matches!(a, Action::DispatchRange { .. });
    if !actions[start..].iter().any(ranged) {
        return;
    }
    let tail: Vec<Action> = actions.drain(start..).collect();
    actions.extend(tail.into_iter().flat_map(Action::each));
}

/// When and where the cancellation threshold tripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThresholdTrip {
    /// The batch whose failure reached the limit.
    pub batch: u32,
    /// When it happened.
    pub at_ms: i64,
    /// The failures in scope at that moment (equal to the limit).
    pub failures: u32,
    /// The limit.
    pub limit: u32,
}

/// One run of a job over targets `0..N`. Built by [`crate::RunBuilder`].
#[derive(Debug, Clone)]
pub struct JobRun {
    config: Config,
    plan: BatchPlan,
    states: Vec<DeviceState>,
    attempts: Vec<u8>,
    counts: Counts,
    batches: Vec<BatchStats>,
    status: RunStatus,
    /// The newest batch started (while running, it has started); `plan.count()` once every
    /// batch has been started. With gates, earlier batches may still have devices in flight or
    /// not yet dispatched.
    batch: u32,
    /// The next device never dispatched, in target order.
    cursor: u32,
    /// Devices waiting to be dispatched again (retries that came while stopped, paused or
    /// outside every maintenance window), and whether the attempt before timed out.
    retry_queue: VecDeque<(u32, bool)>,
    trip: Option<ThresholdTrip>,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    /// The dispatch rate's window and ramp, if the run has a rate.
    rate: Option<RateState>,
    /// When the dispatch timer the run asked for comes due, while one is outstanding.
    dispatch_timer: Option<i64>,
    /// Per device: retries dispatched after timeouts (retries after failures are the rest of
    /// the attempts). Empty when the retry policy retries nothing.
    timeouts_retried: Vec<u8>,
    /// Devices that ended failed, rejected and timed out (for abort criteria).
    failures_by_kind: [u32; 3],
    abort_trip: Option<AbortTrip>,
    pauses: Vec<Pause>,
    /// The batch a resume or trigger released: the next batch starts whatever its gate says.
    released: Option<u32>,
    /// Per batch: whether its error condition tripped. Empty without an error gate.
    error_tripped: Vec<bool>,
    /// The maintenance windows and the last answer about them; `None` without windows.
    windows: Option<WindowGate>,
    /// When the window timer the run asked for comes due, while one is outstanding.
    window_timer: Option<i64>,
    /// How many times the run found every window closed, had something to dispatch, and asked
    /// for a window timer.
    window_waits: u32,
}

impl JobRun {
    pub(crate) fn new(config: Config, targets: u32) -> Self {
        let plan = BatchPlan::new(targets, config.batch);
        let batches: Vec<BatchStats> = plan
            .sizes()
            .map(|size| BatchStats {
                size,
                ..BatchStats::default()
            })
            .collect();
        let error_tripped = match config.gate {
            Some(GroupGate { error: Some(_), .. }) => vec![false; batches.len()],
            _ => Vec::new(),
        };
        let timeouts_retried = if config.retry.is_none() {
            Vec::new()
        } else {
            vec![0; targets as usize]
        };
        Self {
            rate: config.rate.map(RateState::new),
            plan,
            states: vec![DeviceState::Pending; targets as usize],
            attempts: vec![0; targets as usize],
            counts: Counts::new(targets),
            batches,
            status: RunStatus::Pending,
            batch: 0,
            cursor: 0,
            retry_queue: VecDeque::new(),
            trip: None,
            started_ms: None,
            finished_ms: None,
            dispatch_timer: None,
            timeouts_retried,
            failures_by_kind: [0; 3],
            abort_trip: None,
            pauses: Vec::new(),
            released: None,
            error_tripped,
            windows: config
                .windows
                .clone()
                .map(|w| WindowGate::new(w, config.clock_origin_ms)),
            window_timer: None,
            window_waits: 0,
            config,
        }
    }

    // ----- reading -----

    /// Each device's state and attempt count, taken out of the run (a report keeps them
    /// without copying N bytes twice).
    pub fn into_device_columns(self) -> (Vec<DeviceState>, Vec<u8>) {
        (self.states, self.attempts)
    }

    /// The run's status.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// The counts by state class, O(1).
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// How the targets are cut into batches.
    pub fn plan(&self) -> &BatchPlan {
        &self.plan
    }

    /// What happened in each batch so far.
    pub fn batches(&self) -> &[BatchStats] {
        &self.batches
    }

    /// The batch being run (the last one included, while it runs), or `None` before start and
    /// once the run is complete, cancelled or failed (even while stragglers are in flight).
    pub fn current_batch(&self) -> Option<u32> {
        (self.started_ms.is_some() && self.batch < self.plan.count()).then_some(self.batch)
    }

    /// The state of target `device`.
    pub fn device_state(&self, device: u32) -> DeviceState {
        self.states[device as usize]
    }

    /// The states of all targets, in target order.
    pub fn device_states(&self) -> &[DeviceState] {
        &self.states
    }

    /// How many times target `device` has been dispatched.
    pub fn attempts(&self, device: u32) -> u8 {
        self.attempts[device as usize]
    }

    /// The run's cancellation threshold, if it has one.
    pub fn threshold(&self) -> Option<crate::Threshold> {
        self.config.threshold
    }

    /// The cancellation threshold's trip, if it tripped.
    pub fn threshold_trip(&self) -> Option<ThresholdTrip> {
        self.trip
    }

    /// The abort criterion that cancelled the run, if one did.
    pub fn abort_trip(&self) -> Option<AbortTrip> {
        self.abort_trip
    }

    /// Every pause by a group gate, in order.
    pub fn pauses(&self) -> &[Pause] {
        &self.pauses
    }

    /// Devices that ended with a failure of this type (`All`: failed, rejected or timed out).
    pub fn failures_of(&self, failure_type: FailureType) -> u32 {
        match failure_type {
            FailureType::Failed => self.failures_by_kind[0],
            FailureType::Rejected => self.failures_by_kind[1],
            FailureType::TimedOut => self.failures_by_kind[2],
            FailureType::All => self.counts.failed,
        }
    }

    /// The retries of target `device` dispatched so far: (after failures, after timeouts).
    pub fn retries_used(&self, device: u32) -> (u8, u8) {
        let d = device as usize;
        let timed_out = self.timeouts_retried.get(d).copied().unwrap_or(0);
        (self.attempts[d].saturating_sub(1) - timed_out, timed_out)
    }

    /// The dispatch rate now, in devices per minute (`None` without a rate).
    pub fn rate_per_minute(&self) -> Option<u32> {
        self.rate.as_ref().map(RateState::per_minute)
    }

    /// When the outstanding dispatch timer comes due, if the run waits for one (it is blocked
    /// by its dispatch rate).
    pub fn dispatch_timer(&self) -> Option<i64> {
        self.dispatch_timer
    }

    /// How many times the run found every maintenance window closed while it had something to
    /// dispatch (a retry waiting, a device of the newest batch started, or a batch to start),
    /// and asked for a [`Timer::Window`] at the next opening (0 without windows). A wait that
    /// an outstanding window timer already covers is not counted again.
    pub fn window_waits(&self) -> u32 {
        self.window_waits
    }

    /// When the outstanding window timer comes due, if the run waits for one (every maintenance
    /// window was closed and it had something to dispatch).
    pub fn window_timer(&self) -> Option<i64> {
        self.window_timer
    }

    /// The maintenance windows outside which nothing is dispatched, if any.
    pub fn maintenance_windows(&self) -> Option<&MaintenanceWindows> {
        self.windows.as_ref().map(WindowGate::windows)
    }

    /// The UTC instant (ms since the Unix epoch) of the run's time 0, against which the
    /// maintenance windows are read (0 unless the builder set it).
    pub fn clock_origin_ms(&self) -> i64 {
        self.config.clock_origin_ms
    }

    /// When the run started.
    pub fn started_ms(&self) -> Option<i64> {
        self.started_ms
    }

    /// When the run became settled (final status and nothing in flight).
    pub fn finished_ms(&self) -> Option<i64> {
        self.finished_ms
    }

    /// Whether the status is final and no device is in flight: nothing can change any more.
    pub fn is_settled(&self) -> bool {
        self.status.is_final() && self.counts.in_flight == 0
    }

    /// The targets that ended failed, rejected or timed out, in target order.
    pub fn failed_devices(&self) -> impl Iterator<Item = u32> + '_ {
        (0u32..)
            .zip(&self.states)
            .filter(|(_, s)| s.is_failure())
            .map(|(d, _)| d)
    }

    /// A new run over exactly the devices that failed here, with the same batching, threshold,
    /// deadline and retries (semantics rule 6). Returns the run and, for each of its targets,
    /// the index of that device in this run. Only a settled complete or cancelled run can be
    /// rerun.
    pub fn rerun(&self) -> Result<(JobRun, Vec<u32>)> {
        let rerunnable = matches!(self.status, RunStatus::Complete | RunStatus::Cancelled);
        if !rerunnable || !self.is_settled() {
            return Err(self.illegal("rerun"));
        }
        let failed: Vec<u32> = self.failed_devices().collect();
        let run = JobRun::new(self.config.clone(), failed.len() as u32);
        Ok((run, failed))
    }

    // ----- driving -----

    /// Hands the run one input at time `now_ms`, appending the resulting actions to `actions`,
    /// one device per action: a batch's dispatch comes as an [`Action::Dispatch`] and an
    /// [`Action::SetTimer`] per device ([`Action::each`] of [`Self::handle_compact`]'s
    /// actions).
    ///
    /// An input the run's state does not allow returns an error and changes nothing (not even
    /// `actions`). A timer that is no longer relevant (the device answered first) is ignored.
    pub fn handle(&mut self, now_ms: i64, input: Input, actions: &mut Vec<Action>) -> Result<()> {
        let start = actions.len();
        self.handle_compact(now_ms, input, actions)?;
        expand_ranges(actions, start);
        Ok(())
    }

    /// [`Self::handle`], with a batch's dispatch as one [`Action::DispatchRange`]: the
    /// executor's form. A batch of a million devices is one action to carry out instead of two
    /// million to write and read back (the buffer alone was 32 MB at 10,000,000 devices).
    pub fn handle_compact(
        &mut self,
        now_ms: i64,
        input: Input,
        actions: &mut Vec<Action>,
    ) -> Result<()> {
        match input {
            Input::Start => self.start(now_ms, actions),
            Input::Outcome {
                device,
                attempt,
                outcome,
            } => self.outcome(now_ms, device, attempt, outcome, actions),
            Input::Timer(Timer::Deadline) => {
                // Only the deadline the run asked for at start: a run that has not started, or
                // has no maximum execution time, has no deadline and ignores the timer.
                if self.started_ms.is_some() && self.config.max_execution_ms.is_some() {
                    self.deadline(now_ms, actions);
                }
                Ok(())
            }
            Input::Timer(Timer::DeviceTimeout { device, attempt }) => {
                if self.is_in_flight(device, attempt) {
                    self.finish_attempt(now_ms, device, Outcome::TimedOut, actions);
                }
                Ok(())
            }
            Input::Timer(Timer::Dispatch) => {
                // Only the timer the run asked for, and only while running: a stopped or paused
                // run asks again when it goes on.
                if self.dispatch_timer.take().is_some() && self.status == RunStatus::Running {
                    self.progress(now_ms, actions);
                }
                Ok(())
            }
            Input::Timer(Timer::Window) => {
                // The same rule as the dispatch timer's: only the one the run asked for, and only
                // while running.
                if self.window_timer.take().is_some() && self.status == RunStatus::Running {
                    self.progress(now_ms, actions);
                }
                Ok(())
            }
            Input::Stop => self.stop(actions),
            Input::Resume => self.resume(now_ms, actions),
            Input::Cancel { force } => self.cancel(now_ms, force, actions),
            Input::Fail => self.fail(now_ms, actions),
            Input::TriggerNextBatch => self.trigger_next_batch(now_ms, actions),
        }
    }

    /// [`Self::handle`] of an [`Input::Outcome`] for the attempt in flight, which the caller
    /// has checked ([`Self::device_state`] is `InFlight` and [`Self::attempts`] is `attempt`):
    /// the same rule (semantics rule 9 onwards), without the checks and the `Result` that
    /// `handle` spends on every outcome. The executor's answer path, once per device; its
    /// actions are in the compact form of [`Self::handle_compact`].
    ///
    /// # Panics
    ///
    /// In debug builds, if the attempt is not in flight.
    #[inline]
    pub fn outcome_in_flight(
        &mut self,
        now_ms: i64,
        device: u32,
        attempt: u8,
        outcome: Outcome,
        actions: &mut Vec<Action>,
    ) {
        debug_assert!(
            self.is_in_flight(device, attempt),
            "outcome_in_flight for device {device} attempt {attempt}, which is not in flight"
        );
        self.finish_attempt(now_ms, device, outcome, actions);
    }

    fn illegal(&self, command: &'static str) -> Error {
        Error::new(ErrorKind::IllegalCommand {
            command,
            status: self.status,
        })
    }

    fn set_status(&mut self, status: RunStatus, actions: &mut Vec<Action>) {
        debug_assert!(!self.status.is_final() || status == self.status);
        if self.status != status {
            self.status = status;
            actions.push(Action::Status(status));
        }
    }

    fn start(&mut self, now_ms: i64, actions: &mut Vec<Action>) -> Result<()> {
        if self.status != RunStatus::Pending {
            return Err(self.illegal("start"));
        }
        self.started_ms = Some(now_ms);
        self.set_status(RunStatus::Running, actions);
        // A run without targets completes at once and needs no deadline.
        if let (Some(duration_ms), true) = (self.config.max_execution_ms, self.plan.total() > 0) {
            actions.push(Action::SetTimer {
                at_ms: now_ms.saturating_add(duration_ms),
                timer: Timer::Deadline,
            });
        }
        self.progress(now_ms, actions);
        Ok(())
    }

    fn stop(&mut self, actions: &mut Vec<Action>) -> Result<()> {
        if self.status != RunStatus::Running {
            return Err(self.illegal("stop"));
        }
        self.set_status(RunStatus::Stopped, actions);
        Ok(())
    }

    fn resume(&mut self, now_ms: i64, actions: &mut Vec<Action>) -> Result<()> {
        match self.status {
            RunStatus::Stopped => {}
            // Going on after a gate paused the run releases the batch that paused it.
            RunStatus::Paused => self.released = self.pauses.last().map(|p| p.batch),
            _ => return Err(self.illegal("resume")),
        }
        self.set_status(RunStatus::Running, actions);
        self.progress(now_ms, actions);
        Ok(())
    }

    fn trigger_next_batch(&mut self, now_ms: i64, actions: &mut Vec<Action>) -> Result<()> {
        if !matches!(self.status, RunStatus::Running | RunStatus::Paused) {
            return Err(self.illegal("trigger the next batch of"));
        }
        if self.batch + 1 >= self.plan.count() {
            return Err(Error::new(ErrorKind::NoNextBatch {
                batches: self.plan.count(),
            }));
        }
        self.released = Some(self.batch);
        self.set_status(RunStatus::Running, actions);
        self.progress(now_ms, actions);
        Ok(())
    }

    fn fail(&mut self, now_ms: i64, actions: &mut Vec<Action>) -> Result<()> {
        if self.status != RunStatus::Pending {
            return Err(self.illegal("fail"));
        }
        self.cancel_undispatched();
        self.set_status(RunStatus::Failed, actions);
        self.finished_ms = Some(now_ms);
        Ok(())
    }

    fn cancel(&mut self, now_ms: i64, force: bool, actions: &mut Vec<Action>) -> Result<()> {
        let allowed = match self.status {
            RunStatus::Pending | RunStatus::Running | RunStatus::Stopped | RunStatus::Paused => {
                true
            }
            // A forced cancel may follow a soft one to abandon the stragglers.
            RunStatus::Cancelled => force && self.counts.in_flight > 0,
            RunStatus::Complete | RunStatus::Failed => false,
        };
        if !allowed {
            return Err(self.illegal("cancel"));
        }
        self.cancel_undispatched();
        if force {
            self.abandon_in_flight(DeviceState::Cancelled, actions);
        }
        self.finish_done_batches(now_ms, actions);
        self.set_status(RunStatus::Cancelled, actions);
        self.settle_if_done(now_ms);
        Ok(())
    }

    /// Reports the started batches that a cancel made terminal: abandoned devices, a retry that
    /// was waiting, or devices of a started batch that the rate had not let out yet.
    fn finish_done_batches(&mut self, now_ms: i64, actions: &mut Vec<Action>) {
        for (k, stats) in self.batches.iter_mut().enumerate() {
            if stats.started_ms.is_some()
                && stats.finished_ms.is_none()
                && stats.terminal() == stats.size
            {
                stats.finished_ms = Some(now_ms);
                actions.push(Action::BatchFinished { batch: k as u32 });
            }
        }
    }

    fn outcome(
        &mut self,
        now_ms: i64,
        device: u32,
        attempt: u8,
        outcome: Outcome,
        actions: &mut Vec<Action>,
    ) -> Result<()> {
        if device >= self.plan.total() {
            return Err(Error::new(ErrorKind::NoSuchDevice(device)));
        }
        if !self.is_in_flight(device, attempt) {
            return Err(Error::new(ErrorKind::NotInFlight { device, attempt }));
        }
        self.finish_attempt(now_ms, device, outcome, actions);
        Ok(())
    }

    fn is_in_flight(&self, device: u32, attempt: u8) -> bool {
        let d = device as usize;
        d < self.states.len()
            && self.states[d] == DeviceState::InFlight
            && self.attempts[d] == attempt
    }

    /// An in-flight attempt ended: retry it, or record the device's terminal state.
    fn finish_attempt(
        &mut self,
        now_ms: i64,
        device: u32,
        outcome: Outcome,
        actions: &mut Vec<Action>,
    ) {
        let d = device as usize;
        debug_assert_eq!(self.states[d], DeviceState::InFlight);
        if !self.timeouts_retried.is_empty() && !self.status.is_final() {
            let timed_out = self.timeouts_retried[d];
            let failed = self.attempts[d] - 1 - timed_out;
            if self.config.retry.retries(outcome, failed, timed_out) {
                self.retry(now_ms, device, outcome == Outcome::TimedOut, actions);
                return;
            }
        }
        self.counts.in_flight -= 1;
        let batch = self.plan.batch_of(device);
        self.terminate_in(device, batch, DeviceState::from_outcome(outcome));
        if outcome == Outcome::Succeeded {
            if let Some(rate) = &mut self.rate {
                rate.on_succeeded(self.counts.succeeded);
            }
        } else {
            self.check_threshold(now_ms, batch, actions);
            self.check_error_gate(now_ms, batch, actions);
        }
        if !self.config.abort.is_empty() {
            self.check_abort(now_ms, batch, actions);
        }
        self.after_terminal(now_ms, batch, actions);
    }

    /// Dispatches a device again at once, or, while stopped, paused or outside every maintenance
    /// window, queues it (and, outside the windows, waits for the next opening).
    #[cold]
    fn retry(&mut self, now_ms: i64, device: u32, timed_out: bool, actions: &mut Vec<Action>) {
        let running = self.status == RunStatus::Running;
        if running && (self.windows.is_none() || self.window_open(now_ms)) {
            self.dispatch_retry(now_ms, device, timed_out, actions);
            return;
        }
        self.states[device as usize] = DeviceState::Pending;
        self.counts.in_flight -= 1;
        self.counts.pending += 1;
        self.retry_queue.push_back((device, timed_out));
        if running {
            self.wait_for_window(now_ms, actions);
        }
    }

    fn dispatch_retry(
        &mut self,
        now_ms: i64,
        device: u32,
        timed_out: bool,
        actions: &mut Vec<Action>,
    ) {
        if timed_out {
            self.timeouts_retried[device as usize] += 1;
        }
        self.dispatch(now_ms, device, actions);
    }

    /// Records a terminal state for a device whose previous state is already uncounted.
    #[inline]
    fn terminate(&mut self, device: u32, state: DeviceState) {
        self.terminate_in(device, self.plan.batch_of(device), state);
    }

    /// [`Self::terminate`] of a device of batch `batch` (the caller found it already: the
    /// outcome path divides once, not twice).
    #[inline]
    fn terminate_in(&mut self, device: u32, batch: u32, state: DeviceState) {
        debug_assert!(state.is_terminal());
        debug_assert_eq!(batch, self.plan.batch_of(device));
        self.states[device as usize] = state;
        let batch = &mut self.batches[batch as usize];
        match state {
            DeviceState::Succeeded => {
                self.counts.succeeded += 1;
                batch.succeeded += 1;
            }
            DeviceState::Cancelled => {
                self.counts.cancelled += 1;
                batch.cancelled += 1;
            }
            _ => {
                self.counts.failed += 1;
                batch.failed += 1;
                self.failures_by_kind[state as usize - DeviceState::Failed as usize] += 1;
            }
        }
        debug_assert!(self.counts.is_consistent());
    }

    /// The abort criteria, in order: the first that holds cancels the run (semantics rule 14).
    #[cold]
    fn check_abort(&mut self, now_ms: i64, batch: u32, actions: &mut Vec<Action>) {
        if self.status.is_final() {
            return;
        }
        let executed = self.counts.succeeded + self.counts.failed;
        let tripped = self.config.abort.iter().enumerate().find_map(|(i, c)| {
            let failures = self.failures_of(c.failure_type);
            c.trips(executed, failures).then_some(AbortTrip {
                criterion: i as u32,
                failure_type: c.failure_type,
                batch,
                at_ms: now_ms,
                executed,
                failures,
            })
        });
        if let Some(trip) = tripped {
            self.abort_trip = Some(trip);
            self.cancel_undispatched();
            self.set_status(RunStatus::Cancelled, actions);
            self.finish_done_batches(now_ms, actions);
        }
    }

    /// The error condition of `batch`'s gate: the run pauses when the batch's failures go over
    /// the error threshold, at most once per batch (semantics rule 16).
    fn check_error_gate(&mut self, now_ms: i64, batch: u32, actions: &mut Vec<Action>) {
        let Some(GroupGate {
            error: Some(threshold),
            ..
        }) = self.config.gate
        else {
            return;
        };
        if self.status.is_final() || self.error_tripped[batch as usize] {
            return;
        }
        let stats = &self.batches[batch as usize];
        let limit = threshold.more_than(stats.size);
        if stats.failed < limit {
            return;
        }
        self.error_tripped[batch as usize] = true;
        let reason = PauseReason::ErrorCondition {
            failures: stats.failed,
            limit,
        };
        self.pause(now_ms, batch, reason, actions);
    }

    #[cold]
    fn pause(&mut self, now_ms: i64, batch: u32, reason: PauseReason, actions: &mut Vec<Action>) {
        self.pauses.push(Pause {
            batch,
            at_ms: now_ms,
            reason,
        });
        self.set_status(RunStatus::Paused, actions);
    }

    fn check_threshold(&mut self, now_ms: i64, batch: u32, actions: &mut Vec<Action>) {
        let Some(threshold) = self.config.threshold else {
            return;
        };
        if self.status.is_final() {
            return;
        }
        let (failures, base) = if threshold.per_batch {
            (self.batches[batch as usize].failed, self.plan.len_of(batch))
        } else {
            (self.counts.failed, self.plan.total())
        };
        let limit = threshold.limit(base);
        if failures < limit {
            return;
        }
        debug_assert_eq!(
            failures, limit,
            "the threshold trips the moment it is reached"
        );
        self.trip = Some(ThresholdTrip {
            batch,
            at_ms: now_ms,
            failures,
            limit,
        });
        self.cancel_undispatched();
        self.set_status(RunStatus::Cancelled, actions);
        self.finish_done_batches(now_ms, actions);
    }

    /// After a device of `batch` became terminal: finish the batch, move on, or settle.
    fn after_terminal(&mut self, now_ms: i64, batch: u32, actions: &mut Vec<Action>) {
        let stats = &mut self.batches[batch as usize];
        if stats.terminal() == stats.size
            && stats.finished_ms.is_none()
            && stats.started_ms.is_some()
        {
            stats.finished_ms = Some(now_ms);
            actions.push(Action::BatchFinished { batch });
        }
        match self.status {
            RunStatus::Running if self.waits_for_batch() => {
                debug_assert!(self.progress_is_idle(now_ms), "the fast path skipped work");
            }
            RunStatus::Running => self.progress(now_ms, actions),
            RunStatus::Stopped | RunStatus::Paused
                if self.counts.terminal() == self.counts.total =>
            {
                self.complete(now_ms, actions)
            }
            _ => self.settle_if_done(now_ms),
        }
    }

    /// Whether [`Self::progress`] would do nothing now: the newest batch started is dispatched
    /// to its end and still has devices in flight, and nothing else can move (no retry waits,
    /// no window, no release, no success condition that could open its gate early). The one
    /// outcome in most of a rollout's outcomes, checked in a few comparisons instead of a
    /// pass through `progress`; debug builds check that `progress` agrees
    /// ([`Self::progress_is_idle`]), so every engine test checks the fast path too.
    #[inline(always)]
    fn waits_for_batch(&self) -> bool {
        let b = self.batch;
        if b >= self.plan.count() || self.released == Some(b) {
            return false;
        }
        let stats = &self.batches[b as usize];
        stats.started_ms.is_some()
            && stats.terminal() < stats.size
            && self.retry_queue.is_empty()
            && self.windows.is_none()
            && self.cursor == self.plan.range(b).end
            && !matches!(
                self.config.gate,
                Some(GroupGate {
                    success: Some(_),
                    ..
                })
            )
    }

    /// Debug check of [`Self::waits_for_batch`]: `progress` on a copy of the run's moving parts
    /// asks for nothing and changes nothing.
    #[cfg(debug_assertions)]
    fn progress_is_idle(&mut self, now_ms: i64) -> bool {
        let before = (self.batch, self.cursor, self.status, self.dispatch_timer);
        let counts = self.counts;
        let mut actions = Vec::new();
        self.progress(now_ms, &mut actions);
        let after = (self.batch, self.cursor, self.status, self.dispatch_timer);
        actions.is_empty() && before == after && counts == self.counts
    }

    #[cfg(not(debug_assertions))]
    fn progress_is_idle(&mut self, _now_ms: i64) -> bool {
        true
    }

    /// Dispatches what may be dispatched and starts the batches whose gate opens; completes the
    /// run when every target is terminal. Only called while running.
    ///
    /// Order: the retries that waited, then the devices never dispatched (in target order, as
    /// the rate allows) up to the end of the newest batch started, then the gate of that batch:
    /// it opens (the next batch starts, and the loop goes on), stays shut, or pauses the run.
    /// Outside every maintenance window, [`Self::progress_closed`] instead.
    fn progress(&mut self, now_ms: i64, actions: &mut Vec<Action>) {
        debug_assert_eq!(self.status, RunStatus::Running);
        if self.windows.is_some() && !self.window_open(now_ms) {
            self.progress_closed(now_ms, actions);
            return;
        }
        while let Some((device, timed_out)) = self.retry_queue.pop_front() {
            self.dispatch_retry(now_ms, device, timed_out, actions);
        }
        let mut blocked;
        loop {
            if self.batch >= self.plan.count() {
                blocked = !self.dispatch_until(now_ms, self.plan.total(), actions);
                if self.counts.terminal() == self.counts.total {
                    self.complete(now_ms, actions);
                }
                break;
            }
            if self.batches[self.batch as usize].started_ms.is_none() {
                self.start_batch(now_ms, actions);
            }
            let end = self.plan.range(self.batch).end;
            blocked = !self.dispatch_until(now_ms, end, actions);
            if !self.gate_opens(now_ms, actions) {
                break;
            }
            self.batch += 1;
        }
        if blocked && self.status == RunStatus::Running && self.dispatch_timer.is_none() {
            let at_ms = self
                .rate
                .as_ref()
                .and_then(RateState::next_slot_ms)
                .expect("a blocked rate has a dispatch in its window");
            self.dispatch_timer = Some(at_ms);
            actions.push(Action::SetTimer {
                at_ms,
                timer: Timer::Dispatch,
            });
        }
    }

    /// Whether a maintenance window is open at `now_ms` (the run has windows).
    #[cold]
    #[inline(never)]
    fn window_open(&mut self, now_ms: i64) -> bool {
        let gate = self.windows.as_mut().expect("only called with windows");
        gate.at(now_ms).open
    }

    /// [`Self::progress`] while every maintenance window is closed (semantics rule 17.6):
    /// nothing is dispatched and no batch starts. The gate of the newest batch started still
    /// decides (it may pause the run); the run completes if every target is terminal, and
    /// otherwise asks for the next opening if it has something to dispatch then.
    #[cold]
    #[inline(never)]
    fn progress_closed(&mut self, now_ms: i64, actions: &mut Vec<Action>) {
        if self.counts.terminal() == self.counts.total {
            self.complete(now_ms, actions);
            return;
        }
        if self.dispatches_when_open(now_ms, actions) && self.status == RunStatus::Running {
            self.wait_for_window(now_ms, actions);
        }
    }

    /// Whether a window that opened now would let the run dispatch something: a device of the
    /// newest batch started that was never dispatched, a batch to start (the first, or the
    /// next one if the gate of the newest opens), or a retry that waits. The gate is evaluated
    /// as [`Self::progress`] would, so it may pause the run.
    fn dispatches_when_open(&mut self, now_ms: i64, actions: &mut Vec<Action>) -> bool {
        let b = self.batch;
        if b >= self.plan.count() {
            // Every batch started (a released last batch may still have devices to dispatch).
            return self.cursor < self.plan.total() || !self.retry_queue.is_empty();
        }
        if self.batches[b as usize].started_ms.is_none() {
            return true;
        }
        let undispatched = self.cursor < self.plan.range(b).end;
        // The last batch has no next one; its gate has nothing to decide.
        let next = b + 1 < self.plan.count() && self.gate_opens(now_ms, actions);
        undispatched || next || !self.retry_queue.is_empty()
    }

    /// Every window is closed and the run has something to dispatch: asks for a window timer
    /// at the next opening, unless one is outstanding or no window opens again (the run then
    /// waits until a deadline or a cancel ends it).
    fn wait_for_window(&mut self, now_ms: i64, actions: &mut Vec<Action>) {
        debug_assert_eq!(self.status, RunStatus::Running);
        if self.window_timer.is_some() {
            return;
        }
        let span = self
            .windows
            .as_mut()
            .expect("only called with windows")
            .at(now_ms);
        debug_assert!(!span.open, "only called while every window is closed");
        let Some(at_ms) = span.until_ms else {
            return;
        };
        self.window_timer = Some(at_ms);
        self.window_waits += 1;
        actions.push(Action::SetTimer {
            at_ms,
            timer: Timer::Window,
        });
    }

    /// Dispatches the devices never dispatched, in target order, up to `end`, as the rate allows.
    /// Returns `false` if the rate stopped it short.
    #[inline(always)]
    fn dispatch_until(&mut self, now_ms: i64, end: u32, actions: &mut Vec<Action>) -> bool {
        if self.rate.is_none() {
            self.dispatch_fresh(now_ms, end, actions);
            return true;
        }
        while self.cursor < end {
            let rate = self.rate.as_mut().expect("checked above");
            if !rate.allows(now_ms) {
                return false;
            }
            rate.record(now_ms);
            self.dispatch(now_ms, self.cursor, actions);
            self.cursor += 1;
        }
        true
    }

    /// Whether the batch after the newest one started may start now (semantics rules 3 and 16).
    /// May pause the run (a success condition with the action `Pause`, or a batch that finished
    /// below its success threshold).
    // Always inlined: `progress` calls it once per outcome, and a second caller (the wait for a
    // maintenance window) must not make the compiler call it out of line there.
    #[inline(always)]
    fn gate_opens(&mut self, now_ms: i64, actions: &mut Vec<Action>) -> bool {
        let b = self.batch;
        if self.released == Some(b) {
            return true;
        }
        let stats = &self.batches[b as usize];
        let done = stats.terminal() == stats.size;
        let Some(GroupGate {
            success: Some(success),
            ..
        }) = self.config.gate
        else {
            return done;
        };
        if b + 1 == self.plan.count() {
            return done;
        }
        let limit = success.threshold.at_least(stats.size);
        let succeeded = stats.succeeded;
        if succeeded >= limit {
            match success.action {
                SuccessAction::NextBatch => true,
                SuccessAction::Pause => {
                    let reason = PauseReason::SuccessReached { succeeded, limit };
                    self.pause(now_ms, b, reason, actions);
                    false
                }
            }
        } else {
            if done {
                let reason = PauseReason::BelowSuccess { succeeded, limit };
                self.pause(now_ms, b, reason, actions);
            }
            false
        }
    }

    fn start_batch(&mut self, now_ms: i64, actions: &mut Vec<Action>) {
        let batch = self.batch;
        self.batches[batch as usize].started_ms = Some(now_ms);
        actions.push(Action::BatchStarted { batch });
        debug_assert!(self.cursor <= self.plan.range(batch).start);
    }

    // Always inlined: the loop that dispatches a batch is the engine's hottest path.
    #[inline(always)]
    fn dispatch(&mut self, now_ms: i64, device: u32, actions: &mut Vec<Action>) {
        let d = device as usize;
        match self.states[d] {
            DeviceState::Pending => {
                self.counts.pending -= 1;
                self.counts.in_flight += 1;
            }
            DeviceState::InFlight => {} // an immediate retry
            state => unreachable!("dispatch of a device in state {state}"),
        }
        self.send(now_ms, device, actions);
    }

    /// The device's next attempt goes out: in flight, its attempt counted, the dispatch and
    /// its device timer asked for. The caller has moved the counts.
    #[inline(always)]
    fn send(&mut self, now_ms: i64, device: u32, actions: &mut Vec<Action>) {
        let d = device as usize;
        self.states[d] = DeviceState::InFlight;
        let attempt = self.attempts[d] + 1;
        self.attempts[d] = attempt;
        actions.push(Action::Dispatch { device, attempt });
        if let Some(at_ms) = self.device_timer_at(now_ms) {
            actions.push(Action::SetTimer {
                at_ms,
                timer: Timer::DeviceTimeout { device, attempt },
            });
        }
    }

    /// When the device timer of an attempt sent at `now_ms` comes due, if the run has a device
    /// timeout (docs/semantics.md section 9).
    #[inline(always)]
    fn device_timer_at(&self, now_ms: i64) -> Option<i64> {
        self.config
            .device_timeout_ms
            .map(|timeout_ms| now_ms.saturating_add(timeout_ms))
    }

    /// [`Self::dispatch`] of every device from the cursor to `end` (never dispatched, so all
    /// pending, attempt 0), with the counts moved once for all of them and one
    /// [`Action::DispatchRange`] for all of them: a batch's dispatch. Two sequential fills.
    #[inline(always)]
    fn dispatch_fresh(&mut self, now_ms: i64, end: u32, actions: &mut Vec<Action>) {
        let first = self.cursor;
        if end <= first {
            return;
        }
        let n = end - first;
        self.counts.pending -= n;
        self.counts.in_flight += n;
        let range = first as usize..end as usize;
        debug_assert!(self.states[range.clone()]
            .iter()
            .all(|s| *s == DeviceState::Pending));
        debug_assert!(self.attempts[range.clone()].iter().all(|a| *a == 0));
        self.states[range.clone()].fill(DeviceState::InFlight);
        self.attempts[range].fill(1);
        actions.push(Action::DispatchRange {
            first,
            end,
            timeout_at_ms: self.device_timer_at(now_ms),
        });
        self.cursor = end;
    }

    fn complete(&mut self, now_ms: i64, actions: &mut Vec<Action>) {
        debug_assert_eq!(self.counts.terminal(), self.counts.total);
        self.batch = self.plan.count();
        self.set_status(RunStatus::Complete, actions);
        self.finished_ms = Some(now_ms);
    }

    fn settle_if_done(&mut self, now_ms: i64) {
        if self.is_settled() && self.finished_ms.is_none() {
            self.finished_ms = Some(now_ms);
        }
    }

    /// Marks every device that was never dispatched, and every one waiting for a retry, as
    /// cancelled.
    fn cancel_undispatched(&mut self) {
        while let Some((device, _)) = self.retry_queue.pop_front() {
            self.counts.pending -= 1;
            self.terminate(device, DeviceState::Cancelled);
        }
        for device in self.cursor..self.plan.total() {
            self.counts.pending -= 1;
            self.terminate(device, DeviceState::Cancelled);
        }
        self.cursor = self.plan.total();
        self.batch = self.plan.count();
        debug_assert_eq!(self.counts.pending, 0);
    }

    /// Gives up on every in-flight device, recording `state` for it.
    fn abandon_in_flight(&mut self, state: DeviceState, actions: &mut Vec<Action>) {
        if self.counts.in_flight == 0 {
            return;
        }
        for device in 0..self.plan.total() {
            if self.states[device as usize] == DeviceState::InFlight {
                let attempt = self.attempts[device as usize];
                actions.push(Action::Abandon { device, attempt });
                self.counts.in_flight -= 1;
                self.terminate(device, state);
            }
        }
        debug_assert_eq!(self.counts.in_flight, 0);
    }

    /// The run's deadline passed: every device not yet terminal times out (semantics rule 8).
    fn deadline(&mut self, now_ms: i64, actions: &mut Vec<Action>) {
        if self.is_settled() {
            return;
        }
        while let Some((device, _)) = self.retry_queue.pop_front() {
            self.counts.pending -= 1;
            self.terminate(device, DeviceState::TimedOut);
        }
        for device in self.cursor..self.plan.total() {
            self.counts.pending -= 1;
            self.terminate(device, DeviceState::TimedOut);
        }
        self.cursor = self.plan.total();
        self.abandon_in_flight(DeviceState::TimedOut, actions);
        for (k, stats) in self.batches.iter_mut().enumerate() {
            if stats.started_ms.is_some() && stats.finished_ms.is_none() {
                stats.finished_ms = Some(now_ms);
                actions.push(Action::BatchFinished { batch: k as u32 });
            }
        }
        if self.status.is_final() {
            self.settle_if_done(now_ms);
        } else {
            self.complete(now_ms, actions);
        }
    }
}
