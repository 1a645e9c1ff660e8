//! [`RunExec`]: THE executor of a run's actions. It hands a [`JobRun`] its inputs and carries
//! out what the run answers: dispatches go through the [`DeviceModel`], answers and timers go
//! to the caller's clock (an [`Agenda`]), and the reason of every device's last attempt is kept
//! (the reason rules: which reason an outcome, a device timeout or the deadline gives).
//!
//! It exists once. The simulator ([`crate::Simulation`]) drives it from its event queue in
//! virtual time; the `fleetsim serve` server drives it in scaled wall-clock time, logs each
//! input the run took ([`Agenda::input`]) and, after a restart, replays its log through
//! [`RunExec::replay`] and [`RunExec::resume`]. The same inputs in the same order give the
//! same per-device results under both.
//!
//! # What the executor decides
//!
//! - **Dispatch** (rule 4 of `docs/semantics.md` onwards: the engine says when): the device's
//!   fate is drawn at once; its answer is handed to the agenda at the answer's time. A device
//!   timer is handed over only if the answer would not come first (a timer that would find the
//!   device answered is a no-op, so the queue and the trace leave it out).
//! - **Answers** (rule 9): an answer for an attempt the run no longer waits for (timed out,
//!   abandoned, cancelled) changes only the fleet (a late acknowledgement still writes the
//!   reported value); otherwise its reason becomes the device's and the run gets the outcome.
//! - **Reasons** (rule 8): a device timeout keeps a better reason known at dispatch (`offline`,
//!   `crashed`) and else gives `device_timeout`; the deadline gives `deadline` to every device
//!   it timed out without a better reason.
//! - **Stale timers**: a run that has settled ignores its deadline, dispatch and window timers
//!   ([`RunExec::wants`]).
//!
//! Memory per target: the run's state and attempt (2 bytes, in the [`JobRun`]), a reason byte,
//! and a fleet index (4 bytes) unless the targets are the whole fleet in order; while the run
//! has not settled, an action buffer as large as its largest batch (freed when it settles).

use fleet_core::{Action, DeviceState, Input, JobRun, Outcome, Timer};

use crate::device::{DeviceModel, PreparedOp, NEVER, OK};
use crate::result::Reason;
use crate::rng::RunKey;

/// One device's answer to one attempt, as the executor hands it to the caller's clock and the
/// caller hands it back when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The device's index among the run's targets.
    pub target: u32,
    /// The device's index in the fleet.
    pub device: u32,
    /// The attempt answered.
    pub attempt: u8,
    /// How it ended: 0 for success, else a [`Reason`] code.
    pub reason: u8,
}

/// The caller's clock: where the executor puts what must happen later, and what a durable
/// caller logs.
pub trait Agenda {
    /// Hand `answer` back to [`RunExec::answer`] at `at_ms`.
    fn answer(&mut self, at_ms: i64, answer: Answer);
    /// Hand `timer` back to [`RunExec::timer`] at `at_ms`.
    fn timer(&mut self, at_ms: i64, timer: Timer);
    /// The run took `input` at `at_ms` (with `reason`, the device's reason code after an
    /// outcome or a device timeout, else 0); called before its actions are carried out. A
    /// durable driver logs it; replaying the logged inputs through [`RunExec::replay`] rebuilds
    /// the run.
    fn input(&mut self, _at_ms: i64, _input: Input, _reason: u8) {}
    /// A dispatch wrote its effect on fleet device `device`: `parts` says which operations
    /// wrote (see [`DeviceModel::replay_dispatch`]).
    fn wrote(&mut self, _device: u32, _parts: u32) {}
    /// A successful answer wrote on fleet device `device` (see [`DeviceModel::replay_answer`]).
    fn answered(&mut self, _device: u32) {}
    /// Attempt `call.attempt` of target `call.target` went at `at_ms` to a real device
    /// ([`DeviceModel::set_real`]; `call.reason` is its pending reason): the caller hands the
    /// operation to the device's code and feeds its answer back through [`RunExec::answer`].
    fn deliver(&mut self, _at_ms: i64, _call: Answer) {}
    /// A range of `devices` first dispatches starts, with device timers `timeout_ms` from now
    /// (if any): every answer and timer until [`Self::range_end`] is one burst, pushed together
    /// (the simulator sorts a large burst into a run).
    fn range_begin(&mut self, _devices: u32, _timeout_ms: Option<i64>) {}
    /// The range of first dispatches ended.
    fn range_end(&mut self) {}
}

/// What a replay collects: when each target was last dispatched, and the timers asked for.
#[derive(Debug, Default)]
struct Replay {
    sent_ms: Vec<i64>,
    timers: Vec<(i64, Timer)>,
}

/// One run of a job, with its targets and the reason of each target's last attempt, executing
/// over a [`DeviceModel`] (see the module documentation).
#[derive(Debug)]
pub struct RunExec {
    run: JobRun,
    key: RunKey,
    /// Fleet index per target; `None`: every device, target `i` is device `i`.
    targets: Option<Vec<u32>>,
    /// Per target: the reason code of the last attempt, 0 if none (or success).
    reasons: Vec<u8>,
    /// The action buffer, reused.
    actions: Vec<Action>,
    replay: Option<Replay>,
}

impl RunExec {
    /// The executor of `run` (built over `targets.len()` devices, or the whole fleet in order
    /// when `targets` is `None`), drawing fates from `key`.
    pub fn new(run: JobRun, key: RunKey, targets: Option<Vec<u32>>) -> Self {
        let n = run.counts().total as usize;
        assert!(
            targets.as_ref().is_none_or(|t| t.len() == n),
            "one target per device"
        );
        Self {
            run,
            key,
            targets,
            reasons: vec![OK; n],
            actions: Vec::new(),
            replay: None,
        }
    }

    /// The run.
    pub fn run(&self) -> &JobRun {
        &self.run
    }

    /// The run's key.
    pub fn key(&self) -> RunKey {
        self.key
    }

    /// The fleet index of each target; `None`: target `i` is device `i`.
    pub fn targets(&self) -> Option<&[u32]> {
        self.targets.as_deref()
    }

    /// The reason code of each target's last attempt (0: none, or success).
    pub fn reasons(&self) -> &[u8] {
        &self.reasons
    }

    /// The reason of target `target`'s last attempt (`None`: none, or success).
    pub fn reason(&self, target: u32) -> Option<Reason> {
        Reason::from_u8(self.reasons[target as usize])
    }

    /// The run, its targets and its reasons.
    pub fn into_parts(self) -> (JobRun, Option<Vec<u32>>, Vec<u8>) {
        (self.run, self.targets, self.reasons)
    }

    /// The fleet index of target `target`.
    #[inline]
    pub fn device(&self, target: u32) -> u32 {
        match &self.targets {
            Some(t) => t[target as usize],
            None => target,
        }
    }

    /// Whether the run waits for attempt `attempt` of target `target`.
    #[inline]
    pub fn in_flight(&self, target: u32, attempt: u8) -> bool {
        self.run.device_state(target) == DeviceState::InFlight
            && self.run.attempts(target) == attempt
    }

    /// Whether `timer` still means something to the run: a settled run ignores its deadline,
    /// dispatch and window timers; a device timer is for the attempt in flight.
    pub fn wants(&self, timer: Timer) -> bool {
        match timer {
            Timer::DeviceTimeout { device, attempt } => self.in_flight(device, attempt),
            Timer::Deadline | Timer::Dispatch | Timer::Window => !self.run.is_settled(),
        }
    }

    /// Hands the run `input` at `now_ms` and carries out its actions. An input the run refuses
    /// changes nothing and returns the engine's error.
    pub fn handle(
        &mut self,
        model: &mut DeviceModel,
        op: &PreparedOp,
        now_ms: i64,
        input: Input,
        agenda: &mut impl Agenda,
    ) -> Result<(), fleet_core::Error> {
        self.handle_with(model, op, now_ms, input, OK, agenda)
    }

    #[inline]
    fn handle_with(
        &mut self,
        model: &mut DeviceModel,
        op: &PreparedOp,
        now_ms: i64,
        input: Input,
        reason: u8,
        agenda: &mut impl Agenda,
    ) -> Result<(), fleet_core::Error> {
        self.actions.clear();
        self.run.handle_compact(now_ms, input, &mut self.actions)?;
        self.after_input(model, op, now_ms, input, reason, agenda);
        Ok(())
    }

    /// After the run took `input`: the caller logs it, the run's actions are carried out, the
    /// deadline's reasons given.
    #[inline(always)]
    fn after_input(
        &mut self,
        model: &mut DeviceModel,
        op: &PreparedOp,
        now_ms: i64,
        input: Input,
        reason: u8,
        agenda: &mut impl Agenda,
    ) {
        agenda.input(now_ms, input, reason);
        if !self.actions.is_empty() {
            let actions = std::mem::take(&mut self.actions);
            self.carry_out(model, op, now_ms, &actions, agenda);
            self.actions = actions;
        }
        if input == Input::Timer(Timer::Deadline) {
            self.attribute_deadline();
        }
        // The buffer grows to a batch's dispatches; a settled run needs it no more (30 runs of
        // a million devices would otherwise keep 30 buffers of a quarter million actions).
        if self.run.is_settled() && self.actions.capacity() != 0 {
            self.actions = Vec::new();
        }
    }

    /// Carries out the run's actions: dispatches and timers.
    #[inline]
    fn carry_out(
        &mut self,
        model: &mut DeviceModel,
        op: &PreparedOp,
        now_ms: i64,
        actions: &[Action],
        agenda: &mut impl Agenda,
    ) {
        // The answer time of the last dispatch, to leave out device timers that cannot fire.
        let mut last: Option<(u32, u8, Option<i64>)> = None;
        for action in actions {
            match *action {
                Action::Dispatch { device, attempt } => {
                    let at = self.dispatch::<false>(model, op, now_ms, device, attempt, agenda);
                    last = Some((device, attempt, at));
                }
                Action::SetTimer { at_ms, timer } => {
                    let answered_first = match (timer, last) {
                        (Timer::DeviceTimeout { device, attempt }, Some((d, a, answer_ms))) => {
                            d == device && a == attempt && !timer_can_fire(answer_ms, at_ms)
                        }
                        _ => false,
                    };
                    if !answered_first {
                        agenda.timer(at_ms, timer);
                    }
                }
                Action::DispatchRange {
                    first,
                    end,
                    timeout_at_ms,
                } => {
                    let batch = (first..end, timeout_at_ms);
                    match model.steady() {
                        true => self.dispatch_range::<true>(model, op, now_ms, batch, agenda),
                        false => self.dispatch_range::<false>(model, op, now_ms, batch, agenda),
                    }
                    last = None;
                }
                Action::Abandon { .. }
                | Action::BatchStarted { .. }
                | Action::BatchFinished { .. }
                | Action::Status(_) => {}
            }
        }
    }

    /// Dispatches attempt 1 to every target of `targets`, in order, each followed by its
    /// device timer at `timeout_at_ms` unless its answer comes first: [`Action::each`] of an
    /// [`Action::DispatchRange`] carried out, without the two actions per device. `STEADY`:
    /// the caller found the model steady ([`DeviceModel::steady`], checked once for the batch:
    /// nothing in a dispatch can make it unsteady), and the batch goes through the dispatch's
    /// instance without the checks for reconnects, flapping, crashes and real devices.
    #[inline(always)]
    fn dispatch_range<const STEADY: bool>(
        &mut self,
        model: &mut DeviceModel,
        op: &PreparedOp,
        now_ms: i64,
        (targets, timeout_at_ms): (std::ops::Range<u32>, Option<i64>),
        agenda: &mut impl Agenda,
    ) {
        agenda.range_begin(targets.len() as u32, timeout_at_ms.map(|t| t - now_ms));
        for target in targets {
            let answer_ms = self.dispatch::<STEADY>(model, op, now_ms, target, 1, agenda);
            let Some(at_ms) = timeout_at_ms else {
                continue;
            };
            if timer_can_fire(answer_ms, at_ms) {
                let timer = Timer::DeviceTimeout {
                    device: target,
                    attempt: 1,
                };
                agenda.timer(at_ms, timer);
            }
        }
        agenda.range_end();
    }

    /// Dispatches attempt `attempt` to target `target`: the fate from the device model, the
    /// answer to the agenda. Returns when the answer comes (`None`: never). `STEADY`: the
    /// caller found the model steady ([`DeviceModel::steady`]).
    #[inline(always)]
    fn dispatch<const STEADY: bool>(
        &mut self,
        model: &mut DeviceModel,
        op: &PreparedOp,
        now_ms: i64,
        target: u32,
        attempt: u8,
        agenda: &mut impl Agenda,
    ) -> Option<i64> {
        let device = self.device(target);
        let fate = model.dispatch_raw::<STEADY>(op, device, self.key, attempt, now_ms, true);
        if fate.wrote() != 0 {
            agenda.wrote(device, fate.wrote());
        }
        self.reasons[target as usize] = fate.pending();
        if !STEADY && model.real_count() != 0 && model.real(device).is_some() {
            deliver(agenda, now_ms, target, device, attempt, fate.pending());
        }
        if fate.answer_at_ms == NEVER {
            return None;
        }
        let answer = Answer {
            target,
            device,
            attempt,
            reason: fate.reason(),
        };
        agenda.answer(fate.answer_at_ms, answer);
        Some(fate.answer_at_ms)
    }

    /// The answer `answer` came at `now_ms`: the fleet sees it, and the run gets its outcome
    /// if it still waits for that attempt. Returns whether the run took it.
    #[inline]
    pub fn answer(
        &mut self,
        model: &mut DeviceModel,
        op: &PreparedOp,
        now_ms: i64,
        answer: Answer,
        agenda: &mut impl Agenda,
    ) -> bool {
        Self::late_answer(model, op, answer, agenda);
        let reason = Reason::from_u8(answer.reason);
        if !self.in_flight(answer.target, answer.attempt) {
            return false; // late: timed out, abandoned or cancelled meanwhile
        }
        self.reasons[answer.target as usize] = answer.reason;
        let outcome = reason.map_or(Outcome::Succeeded, Reason::outcome);
        self.actions.clear();
        let (device, attempt) = (answer.target, answer.attempt);
        self.run
            .outcome_in_flight(now_ms, device, attempt, outcome, &mut self.actions);
        let input = Input::Outcome {
            device,
            attempt,
            outcome,
        };
        self.after_input(model, op, now_ms, input, answer.reason, agenda);
        true
    }

    /// The fleet's side of an answer, also for a run that no longer waits for it (or no
    /// longer exists): a successful property answer writes the reported value.
    #[inline]
    pub fn late_answer(
        model: &mut DeviceModel,
        op: &PreparedOp,
        answer: Answer,
        agenda: &mut impl Agenda,
    ) {
        if answer.reason == OK && model.acknowledged(op, answer.device) {
            agenda.answered(answer.device);
        }
    }

    /// `timer` came due at `now_ms`. Returns whether the run took it (see
    /// [`RunExec::wants`]).
    #[inline]
    pub fn timer(
        &mut self,
        model: &mut DeviceModel,
        op: &PreparedOp,
        now_ms: i64,
        timer: Timer,
        agenda: &mut impl Agenda,
    ) -> bool {
        if !self.wants(timer) {
            return false;
        }
        let mut reason = OK;
        if let Timer::DeviceTimeout { device, .. } = timer {
            let r = &mut self.reasons[device as usize];
            if *r == OK {
                *r = Reason::DeviceTimeout as u8;
            }
            reason = *r;
        }
        self.handle_with(model, op, now_ms, Input::Timer(timer), reason, agenda)
            .is_ok()
    }

    /// Devices that timed out at the deadline without a more precise reason get `deadline`.
    fn attribute_deadline(&mut self) {
        for (r, s) in self.reasons.iter_mut().zip(self.run.device_states()) {
            if *s == DeviceState::TimedOut && *r == OK {
                *r = Reason::Deadline as u8;
            }
        }
    }

    // ----- replay -----

    /// Hands the run a logged input again (`reason`: as [`Agenda::input`] had it), without
    /// dispatching anything: rebuilds the run's state and reasons after a restart. Call
    /// [`RunExec::resume`] after the last one.
    pub fn replay(
        &mut self,
        at_ms: i64,
        input: Input,
        reason: u8,
    ) -> Result<(), fleet_core::Error> {
        let n = self.reasons.len();
        let replay = self.replay.get_or_insert_with(|| Replay {
            sent_ms: vec![0; n],
            timers: Vec::new(),
        });
        let mut actions = std::mem::take(&mut self.actions);
        actions.clear();
        self.run.handle(at_ms, input, &mut actions)?;
        match input {
            Input::Outcome { device, .. } | Input::Timer(Timer::DeviceTimeout { device, .. }) => {
                self.reasons[device as usize] = reason;
            }
            _ => {}
        }
        for action in &actions {
            match *action {
                Action::Dispatch { device, .. } => {
                    replay.sent_ms[device as usize] = at_ms;
                    self.reasons[device as usize] = OK;
                }
                Action::SetTimer { at_ms, timer } => replay.timers.push((at_ms, timer)),
                _ => {}
            }
        }
        self.actions = actions;
        if input == Input::Timer(Timer::Deadline) {
            self.attribute_deadline();
        }
        Ok(())
    }

    /// Ends a replay: every device in flight at the end of the log keeps its attempt, and its
    /// fate is drawn again from the same stream (same latency, same outcome,
    /// [`DeviceModel::redraw`]) so its answer comes when it would have; timers still wanted are
    /// armed again.
    pub fn resume(&mut self, model: &mut DeviceModel, op: &PreparedOp, agenda: &mut impl Agenda) {
        let Some(replay) = self.replay.take() else {
            return;
        };
        for target in 0..self.reasons.len() as u32 {
            if self.run.device_state(target) != DeviceState::InFlight {
                continue;
            }
            let attempt = self.run.attempts(target);
            let device = self.device(target);
            let sent_ms = replay.sent_ms[target as usize];
            let fate = model.dispatch_raw::<false>(op, device, self.key, attempt, sent_ms, false);
            self.reasons[target as usize] = fate.pending();
            if fate.answer_at_ms != NEVER {
                let answer = Answer {
                    target,
                    device,
                    attempt,
                    reason: fate.reason(),
                };
                agenda.answer(fate.answer_at_ms, answer);
            }
        }
        for (at_ms, timer) in replay.timers {
            if self.wants(timer) {
                agenda.timer(at_ms, timer);
            }
        }
    }
}

/// Whether a device timer at `timer_at_ms` can fire before the answer of its attempt, which
/// comes at `answer_ms` (`None`: never): an answer at the timer's instant or before it comes
/// first, and the timer is not set.
#[inline(always)]
fn timer_can_fire(answer_ms: Option<i64>, timer_at_ms: i64) -> bool {
    answer_ms.is_none_or(|answer_ms| answer_ms > timer_at_ms)
}

/// Hands a dispatch to a real device to the caller (kept out of the dispatch's hot path).
#[cold]
#[inline(never)]
fn deliver(
    agenda: &mut impl Agenda,
    at_ms: i64,
    target: u32,
    device: u32,
    attempt: u8,
    reason: u8,
) {
    let call = Answer {
        target,
        device,
        attempt,
        reason,
    };
    agenda.deliver(at_ms, call);
}

#[cfg(test)]
mod tests {
    use fleet_core::RunBuilder;
    use proptest::prelude::*;

    use super::*;
    use crate::behaviour::BehaviourSpec;
    use crate::fleet::Fleet;
    use crate::generator::FleetSpec;
    use crate::operation::Operation;

    /// What an executor asked its agenda for, in order.
    #[derive(Debug, Default, PartialEq)]
    struct Recorded(Vec<(i64, Option<Answer>, Option<Timer>)>);

    impl Agenda for Recorded {
        fn answer(&mut self, at_ms: i64, answer: Answer) {
            self.0.push((at_ms, Some(answer), None));
        }
        fn timer(&mut self, at_ms: i64, timer: Timer) {
            self.0.push((at_ms, None, Some(timer)));
        }
    }

    /// What can move a device's connectivity during a run, beyond how it starts: each but
    /// `None` makes the model unsteady ([`DeviceModel::steady`]).
    #[derive(Debug, Clone, Copy)]
    enum Unsteady {
        None,
        Reconnect,
        Flapping,
        Crash,
        Real,
    }

    /// A model of `n` devices answering a job document after a log-normal latency, some
    /// offline (never answering, unless `unsteady` gives them a reconnect time), some failing,
    /// with what `unsteady` adds; and the document prepared for it.
    fn setup(
        n: u32,
        median_ms: f64,
        offline: f64,
        unsteady: Unsteady,
        seed: u64,
    ) -> (DeviceModel, PreparedOp) {
        let spec: FleetSpec = serde_json::from_value(serde_json::json!({"devices": n})).unwrap();
        let fleet = Fleet::generate(&spec, &[], seed).unwrap();
        let extra = match unsteady {
            Unsteady::None | Unsteady::Real => serde_json::json!({}),
            Unsteady::Reconnect => {
                serde_json::json!({"reconnect": {"type": "exponential", "mean_ms": 3000}})
            }
            Unsteady::Flapping => {
                serde_json::json!({"flapping": {"mean_up_ms": 2000, "mean_down_ms": 1000}})
            }
            Unsteady::Crash => serde_json::json!({"crash_probability": 0.2}),
        };
        let behaviour: BehaviourSpec = serde_json::from_value(serde_json::json!({"rules": [
            {"latency": {"type": "lognormal", "median_ms": median_ms, "sigma": 1.0},
             "failure_probability": 0.1},
            {"offline": offline},
            extra
        ]}))
        .unwrap();
        let mut model = DeviceModel::new(seed, fleet, &behaviour, None).unwrap();
        if let Unsteady::Real = unsteady {
            model.set_real(n / 2, seed % 2 == 0);
        }
        let op = Operation::JobDocument {
            document: serde_json::Value::Null,
        };
        let op = model.prepare(&op).unwrap();
        (model, op)
    }

    proptest! {
        /// A batch's dispatch carried out as one `DispatchRange` asks the agenda for exactly
        /// what its actions of one device each ask for (`Action::each`): the same answers, the
        /// same timers, in the same order, a timer left out only where the answer comes first;
        /// and leaves the same reasons and the same model. A steady model's range goes through
        /// the dispatch's copy without the checks for what cannot happen
        /// ([`DeviceModel::steady`]), the actions of one device through the general one, so
        /// this also checks the two copies against each other.
        #[test]
        fn a_range_is_carried_out_as_its_devices_would_be(
            n in 1u32..200,
            first in 0u32..50,
            len in 0u32..150,
            timeout_ms in prop::option::of(1i64..8_000),
            median_ms in 10.0f64..4_000.0,
            offline in 0.0f64..0.5,
            unsteady in prop::sample::select(vec![
                Unsteady::None,
                Unsteady::Reconnect,
                Unsteady::Flapping,
                Unsteady::Crash,
                Unsteady::Real,
            ]),
            reversed in any::<bool>(),
            seed in 0u64..1_000,
        ) {
            let (first, end) = (first.min(n), (first + len).min(n));
            let (mut model, op) = setup(n, median_ms, offline, unsteady, seed);
            prop_assert_eq!(model.steady(), matches!(unsteady, Unsteady::None));
            let mut twin = model.clone();
            let targets: Option<Vec<u32>> = reversed.then(|| (0..n).rev().collect());
            let exec = |targets: Option<Vec<u32>>| {
                let run = RunBuilder::new().build(n).unwrap();
                RunExec::new(run, RunKey::new(seed, "job"), targets)
            };
            let (mut ranged, mut each) = (exec(targets.clone()), exec(targets));
            let now_ms = 5_000;
            let range = Action::DispatchRange {
                first,
                end,
                timeout_at_ms: timeout_ms.map(|t| now_ms + t),
            };
            let expanded: Vec<Action> = range.each().collect();
            let per_device = 1 + usize::from(timeout_ms.is_some());
            prop_assert_eq!(expanded.len(), (end - first) as usize * per_device);

            let (mut got, mut want) = (Recorded::default(), Recorded::default());
            ranged.carry_out(&mut model, &op, now_ms, &[range], &mut got);
            each.carry_out(&mut twin, &op, now_ms, &expanded, &mut want);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(&ranged.reasons, &each.reasons);
            prop_assert_eq!(format!("{model:?}"), format!("{twin:?}"));
            // Every device answers or has its timer (when there is a timeout).
            let asked = got.0.len();
            prop_assert!(asked >= (end - first) as usize * usize::from(timeout_ms.is_some()));
        }
    }
}
