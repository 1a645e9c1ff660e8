//! Property tests of the job engine (`docs/semantics.md`).
//!
//! A driver plays the part of the simulator: it hands the run generated inputs (outcomes for the
//! devices it saw dispatched, the timers the run asked for, stops, resumes, soft and forced
//! cancels, manual triggers of the next batch, and inputs that must be refused), then drives the
//! run to settlement. After every input it compares the run with an independent reference model
//! written straight from the rules (a different representation: no retry queue, batches as a
//! list of ranges, the rate's window found by searching every dispatch time, the ramp's rate
//! computed with its own big numbers), and checks the invariants of the rules directly:
//!
//! - the counts sum to the number of targets, and agree with the model;
//! - nothing is dispatched unless the run is running (not while stopped or paused, not after a
//!   cancel); in an input that pauses the run, every dispatch comes before the pause; without
//!   gates, a batch's devices are dispatched only when every device of the batches before it is
//!   terminal, all of them when the batch starts (without a rate);
//! - the threshold and the abort criteria trip exactly when the model says (same batch, time,
//!   counts); the gates pause exactly when the model says;
//! - a retry is dispatched only while retries of the last outcome's type remain (per type, or
//!   shared for `ALL`);
//! - no 60-second window holds more first dispatches than the rate allows;
//! - with maintenance windows, nothing is dispatched and no batch starts while every window is
//!   closed (checked against `MaintenanceWindows::is_open`); the model finds the windows by
//!   brute force, minute by minute, from the generated cron fields;
//! - a refused input returns the error the model expects and changes nothing observable;
//! - the actions are enough to know which devices are in flight and which timer is due;
//! - after settlement every device is terminal, and a rerun targets exactly the failed devices;
//! - a run with windows, driven to the end, ends as the same run without windows does, only
//!   later;
//! - the same inputs always give the same actions.

use fleet_core::schedule::{MaintenanceWindow, MaintenanceWindows};
use fleet_core::{
    AbortCriterion, AbortTrip, Action, BatchPlan, BatchSize, BatchStats, Counts, DeviceState,
    ErrorKind, ExponentialRamp, FailureType, GatePercent, GroupGate, Input, JobRun, Outcome, Pause,
    PauseReason, RampCriterion, RetryPolicy, RunBuilder, RunStatus, Shares, SuccessAction,
    SuccessCondition, Threshold, ThresholdTrip, Timer, RATE_WINDOW_MS,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

// ===================== configurations =====================

/// A percentage in millionths of a percent, a number, a number of equal groups, or phased
/// groups (hawkBit: the first two groups' percentages of the remaining targets, then the rest).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Size {
    Pct(u64),
    Num(u32),
    Groups(u32),
    Phased(u8, u8),
}

/// An exponential ramp: base per minute, factor in tenths, increase after `every` notified
/// (`true`) or succeeded (`false`) devices.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ramp {
    base: u32,
    factor_tenths: u32,
    notified: bool,
    every: u32,
}

/// A dispatch rate: the cap and the ramp.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rate {
    max: Option<u32>,
    ramp: Option<Ramp>,
}

/// An abort criterion: failure type, threshold in millionths of a percent, minimum executed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Abort {
    kind: FailureType,
    micros: u64,
    min_executed: u32,
}

/// A gate: the success threshold (millionths of a percent) and whether its action pauses; the
/// error threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Gate {
    success: Option<(u64, bool)>,
    error: Option<u64>,
}

/// One maintenance window: `cron(M H * * ? Y)` for `minutes` minutes, with `M` = `minute/step`
/// (or `minute` alone when `step` is 0), `H` = the hours `hours.0-hours.1` (`*` for all), and
/// `Y` = `*`, or 2001 when `past` (the window never opens again).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Win {
    minute: u8,
    step: u8,
    hours: (u8, u8),
    minutes: u32,
    past: bool,
}

const MINUTE_MS: i64 = 60_000;
const DAY_MINUTES: i64 = 1_440;

impl Win {
    fn cron(&self) -> String {
        let m = match self.step {
            0 => self.minute.to_string(),
            s => format!("{}/{s}", self.minute),
        };
        let h = match self.hours {
            (0, 23) => "*".to_string(),
            (a, b) => format!("{a}-{b}"),
        };
        let y = if self.past { "2001" } else { "*" };
        format!("cron({m} {h} * * ? {y})")
    }

    /// Whether the window starts at minute `x` (UTC minutes since the Unix epoch), read
    /// straight from the fields.
    fn starts_at(&self, x: i64) -> bool {
        let of_day = x.rem_euclid(DAY_MINUTES);
        let (h, m) = ((of_day / 60) as u8, (of_day % 60) as u8);
        let minute = match self.step {
            0 => m == self.minute,
            s => m >= self.minute && (m - self.minute) % s == 0,
        };
        !self.past && (self.hours.0..=self.hours.1).contains(&h) && minute
    }
}

/// Maintenance windows and the UTC instant of run time 0.
#[derive(Debug, Clone, PartialEq)]
struct Windows {
    list: Vec<Win>,
    origin_ms: i64,
    /// How far the driver's clock moves per outcome when it settles the run (10 ms without
    /// windows): with minutes, settling crosses openings and closings.
    pace_ms: i64,
}

impl Windows {
    fn compile(&self) -> MaintenanceWindows {
        MaintenanceWindows::new(
            self.list
                .iter()
                .map(|w| MaintenanceWindow::parse(&w.cron(), w.minutes).unwrap())
                .collect(),
        )
    }

    /// Whether some window is open in each minute of a UTC day: every window that is not
    /// `past` opens alike every day, from each start for `minutes` minutes (an opening that
    /// starts late in the day covers the first minutes of the next).
    fn day(&self) -> Vec<bool> {
        let mut open = vec![false; DAY_MINUTES as usize];
        for w in &self.list {
            for start in (0..DAY_MINUTES).filter(|&m| w.starts_at(m)) {
                for k in 0..i64::from(w.minutes) {
                    open[((start + k) % DAY_MINUTES) as usize] = true;
                }
            }
        }
        open
    }
}

/// The windows as the model sees them: a day of minutes, open or not, and the origin.
#[derive(Debug, Clone)]
struct Day {
    open: Vec<bool>,
    origin_ms: i64,
}

impl Day {
    fn new(w: &Windows) -> Self {
        Self {
            open: w.day(),
            origin_ms: w.origin_ms,
        }
    }

    /// The UTC minute (since the Unix epoch) of run time `t`.
    fn minute(&self, t: i64) -> i64 {
        (self.origin_ms + t).div_euclid(MINUTE_MS)
    }

    fn is_open_minute(&self, x: i64) -> bool {
        self.open[x.rem_euclid(DAY_MINUTES) as usize]
    }

    fn open(&self, t: i64) -> bool {
        self.is_open_minute(self.minute(t))
    }

    /// The first run time after `t` (at which every window is closed) at which one opens,
    /// searched minute by minute over the next day; `None` if no minute of the day is open.
    fn next_open(&self, t: i64) -> Option<i64> {
        let x = self.minute(t);
        (x + 1..=x + DAY_MINUTES)
            .find(|&m| self.is_open_minute(m))
            .map(|m| m * MINUTE_MS - self.origin_ms)
    }
}

#[derive(Debug, Clone)]
struct Cfg {
    batch: Option<Size>,
    /// The threshold and whether it is per batch.
    threshold: Option<(Size, bool)>,
    deadline_ms: Option<i64>,
    device_timeout_ms: Option<i64>,
    retry_failed: u8,
    retry_timed_out: u8,
    /// A shared allowance (AWS `ALL`); when above 0, the two above are 0.
    retry_all: u8,
    rate: Option<Rate>,
    abort: Vec<Abort>,
    gate: Option<Gate>,
    windows: Option<Windows>,
}

impl Cfg {
    fn builder(&self) -> RunBuilder {
        let mut b = RunBuilder::new();
        if let Some(size) = self.batch_size() {
            b = b.batch(size);
        }
        match self.threshold {
            Some((Size::Pct(m), per_batch)) => {
                b = b.threshold(Threshold::percentage(m as f64 / 1e6, per_batch).unwrap())
            }
            Some((Size::Num(n) | Size::Groups(n), per_batch)) => {
                b = b.threshold(Threshold::number(n, per_batch).unwrap())
            }
            Some((Size::Phased(..), _)) => unreachable!("thresholds are never phased"),
            None => {}
        }
        if let Some(ms) = self.deadline_ms {
            b = b.max_execution_ms(ms);
        }
        if let Some(ms) = self.device_timeout_ms {
            b = b.device_timeout_ms(ms);
        }
        if let Some(rate) = self.rate {
            if let Some(max) = rate.max {
                b = b.max_per_minute(max);
            }
            if let Some(r) = rate.ramp {
                let criterion = if r.notified {
                    RampCriterion::Notified(r.every)
                } else {
                    RampCriterion::Succeeded(r.every)
                };
                let factor = f64::from(r.factor_tenths) / 10.0;
                b = b.ramp(ExponentialRamp::new(r.base, factor, criterion).unwrap());
            }
        }
        for a in &self.abort {
            let p = a.micros as f64 / 1e6;
            b = b.abort(AbortCriterion::new(a.kind, p, a.min_executed).unwrap());
        }
        if let Some(g) = self.gate {
            let pct = |m: u64| GatePercent::new(m as f64 / 1e6).unwrap();
            b = b.gate(GroupGate {
                success: g.success.map(|(m, pause)| SuccessCondition {
                    threshold: pct(m),
                    action: if pause {
                        SuccessAction::Pause
                    } else {
                        SuccessAction::NextBatch
                    },
                }),
                error: g.error.map(pct),
            });
        }
        if let Some(w) = &self.windows {
            b = b
                .maintenance_windows(w.compile())
                .clock_origin_ms(w.origin_ms);
        }
        let retry = if self.retry_all > 0 {
            RetryPolicy::all(self.retry_all).unwrap()
        } else {
            RetryPolicy::new(self.retry_failed, self.retry_timed_out).unwrap()
        };
        b.retry(retry)
    }

    /// Whether the run has windows and none ever opens (every window that is not `past`
    /// opens every day).
    fn never_opens(&self) -> bool {
        self.windows
            .as_ref()
            .is_some_and(|w| w.list.iter().all(|w| w.past))
    }

    fn batch_size(&self) -> Option<BatchSize> {
        match self.batch {
            Some(Size::Pct(m)) => Some(BatchSize::percentage(m as f64 / 1e6).unwrap()),
            Some(Size::Num(n)) => Some(BatchSize::number(n).unwrap()),
            Some(Size::Groups(k)) => Some(BatchSize::groups(k).unwrap()),
            Some(Size::Phased(a, b)) => Some(BatchSize::Shares(
                Shares::new(&[f64::from(a), f64::from(b), 100.0]).unwrap(),
            )),
            None => None,
        }
    }

    /// The most attempts a device can make.
    fn attempts_max(&self) -> u8 {
        1 + (self.retry_failed + self.retry_timed_out).max(self.retry_all)
    }

    /// Whether a device whose last attempt ended in `o`, with `f` retries after failures and
    /// `t` after timeouts so far, is retried.
    fn retries(&self, o: Outcome, f: u8, t: u8) -> bool {
        match o {
            Outcome::Failed | Outcome::TimedOut if self.retry_all > 0 => f + t < self.retry_all,
            Outcome::Failed => f < self.retry_failed,
            Outcome::TimedOut => t < self.retry_timed_out,
            _ => false,
        }
    }

    fn success_gate(&self) -> bool {
        matches!(
            self.gate,
            Some(Gate {
                success: Some(_),
                ..
            })
        )
    }
}

/// The failure mix of the simulated fleet: percentages of outcomes, and a seed.
#[derive(Debug, Clone, Copy)]
struct Faults {
    fail: u8,
    reject: u8,
    timeout: u8,
    seed: u64,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Faults {
    /// The outcome of one attempt: a function of (seed, device, attempt) only.
    fn outcome(&self, device: u32, attempt: u8) -> Outcome {
        let h = splitmix(self.seed ^ (u64::from(device) << 8) ^ u64::from(attempt)) % 100;
        let (f, r, t) = (
            u64::from(self.fail),
            u64::from(self.reject),
            u64::from(self.timeout),
        );
        if h < f {
            Outcome::Failed
        } else if h < f + r {
            Outcome::Rejected
        } else if h < f + r + t {
            Outcome::TimedOut
        } else {
            Outcome::Succeeded
        }
    }
}

// ===================== the reference model =====================

const CLASSES: usize = 5; // pending, in flight, succeeded, failed, cancelled

fn class(s: DeviceState) -> usize {
    match s {
        DeviceState::Pending => 0,
        DeviceState::InFlight => 1,
        DeviceState::Succeeded => 2,
        DeviceState::Failed | DeviceState::Rejected | DeviceState::TimedOut => 3,
        DeviceState::Cancelled => 4,
    }
}

fn terminal(s: DeviceState) -> bool {
    !matches!(s, DeviceState::Pending | DeviceState::InFlight)
}

fn failure(s: DeviceState) -> bool {
    matches!(
        s,
        DeviceState::Failed | DeviceState::Rejected | DeviceState::TimedOut
    )
}

/// `ceil(millionths * base / 100_000_000)`, at least 1.
fn pct_of(micros: u64, base: u32) -> u32 {
    let v = (u128::from(micros) * u128::from(base)).div_ceil(100_000_000);
    (v as u32).max(1)
}

/// `floor(base × (f / 10)^k)` with base-10^9 limbs: multiply by `f` k times, then divide by 10
/// k times (long division). Saturates at `u64::MAX`.
fn ramp_formula(base: u32, f_tenths: u32, k: u32) -> u64 {
    const LIMB: u64 = 1_000_000_000;
    let mut limbs: Vec<u64> = vec![u64::from(base)]; // little-endian
    for _ in 0..k {
        let mut carry = 0u64;
        for l in limbs.iter_mut() {
            let x = *l * u64::from(f_tenths) + carry;
            *l = x % LIMB;
            carry = x / LIMB;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    for _ in 0..k {
        let mut rem = 0u64;
        for l in limbs.iter_mut().rev() {
            let x = rem * LIMB + *l;
            *l = x / 10;
            rem = x % 10;
        }
        while limbs.len() > 1 && *limbs.last().unwrap() == 0 {
            limbs.pop();
        }
    }
    match limbs.len() {
        1 => limbs[0],
        2 => limbs[1]
            .checked_mul(LIMB)
            .and_then(|v| v.checked_add(limbs[0]))
            .unwrap_or(u64::MAX),
        _ => u64::MAX,
    }
}

/// What the model expects one input to produce.
#[derive(Debug, Default)]
struct Expect {
    result: Option<ErrorKind>,
    /// Whether anything observable changes.
    changed: bool,
    dispatch: Vec<(u32, u8)>,
    abandon: Vec<(u32, u8)>,
    timers: Vec<(i64, Timer)>,
    started: Vec<u32>,
    finished: Vec<u32>,
    statuses: Vec<RunStatus>,
    /// Devices whose state or attempts changed; `all` when too many to list.
    dirty: Vec<u32>,
    all: bool,
}

/// The rules, written plainly: batches are a list of ranges (a device's batch is found by
/// searching it), the first dispatches are a list of times (the rate's window is found by
/// searching it), the ramp's rate is recomputed from its formula, and retries that wait are a
/// list.
#[derive(Debug, Clone)]
struct Model {
    n: u32,
    /// The batches' ranges, in order.
    bounds: Vec<(u32, u32)>,
    cfg: Cfg,
    status: RunStatus,
    started_at: Option<i64>,
    states: Vec<DeviceState>,
    attempts: Vec<u8>,
    /// Retries dispatched after timeouts, per device.
    t_used: Vec<u8>,
    /// Retries waiting for the run to go on, and whether the attempt before timed out.
    waiting: Vec<(u32, bool)>,
    batch_started: Vec<bool>,
    batch_terminal: Vec<u32>,
    batch_failures: Vec<u32>,
    batch_succeeded: Vec<u32>,
    batch_finished: Vec<bool>,
    failures: u32,
    /// Failed, rejected, timed out.
    kinds: [u32; 3],
    /// The newest batch started.
    cur: u32,
    /// The next device never dispatched.
    next: u32,
    counts: [u32; CLASSES],
    trip: Option<ThresholdTrip>,
    abort_trip: Option<AbortTrip>,
    pauses: Vec<Pause>,
    released: Option<u32>,
    error_tripped: Vec<bool>,
    /// The time of every first dispatch, in order.
    notified: Vec<i64>,
    timer: Option<i64>,
    /// The ramp's rates by level, as far as computed.
    rates: Vec<u32>,
    /// The window timer asked for and not handed back yet.
    window_timer: Option<i64>,
    /// Window timers asked for.
    window_waits: u32,
    /// The windows, if any.
    day: Option<Day>,
}

impl Model {
    fn new(cfg: &Cfg, n: u32) -> Self {
        let mut bounds = Vec::new();
        match cfg.batch {
            Some(Size::Groups(k)) => {
                let k = k.min(n);
                let mut start = 0;
                for i in 0..k {
                    let len = n / k + u32::from(i < n % k);
                    bounds.push((start, start + len));
                    start += len;
                }
            }
            Some(Size::Phased(a, b)) => {
                // hawkBit: round half up of a 32-bit percentage of what is left; empty groups
                // are no batch.
                let mut start = 0;
                for p in [f32::from(a), f32::from(b), 100.0] {
                    let left = n - start;
                    let len =
                        ((f64::from(p / 100.0) * f64::from(left) + 0.5).floor() as u32).min(left);
                    if len > 0 {
                        bounds.push((start, start + len));
                        start += len;
                    }
                }
            }
            other => {
                let size = match other {
                    None => n.max(1),
                    Some(Size::Pct(m)) => pct_of(m, n),
                    Some(Size::Num(k)) => k.min(n).max(1),
                    Some(Size::Groups(_) | Size::Phased(..)) => unreachable!(),
                };
                let mut start = 0;
                while start < n {
                    bounds.push((start, (start + size).min(n)));
                    start += size;
                }
            }
        }
        let b = bounds.len();
        Self {
            n,
            bounds,
            cfg: cfg.clone(),
            status: RunStatus::Pending,
            started_at: None,
            states: vec![DeviceState::Pending; n as usize],
            attempts: vec![0; n as usize],
            t_used: vec![0; n as usize],
            waiting: Vec::new(),
            batch_started: vec![false; b],
            batch_terminal: vec![0; b],
            batch_failures: vec![0; b],
            batch_succeeded: vec![0; b],
            batch_finished: vec![false; b],
            failures: 0,
            kinds: [0; 3],
            cur: 0,
            next: 0,
            counts: [n, 0, 0, 0, 0],
            trip: None,
            abort_trip: None,
            pauses: Vec::new(),
            released: None,
            error_tripped: vec![false; b],
            notified: Vec::new(),
            timer: None,
            rates: Vec::new(),
            window_timer: None,
            window_waits: 0,
            day: cfg.windows.as_ref().map(Day::new),
        }
    }

    /// Whether a window is open at `now` (always, without windows).
    fn open(&self, now: i64) -> bool {
        self.day.as_ref().is_none_or(|d| d.open(now))
    }

    fn batches(&self) -> u32 {
        self.bounds.len() as u32
    }

    fn batch_len(&self, k: u32) -> u32 {
        let (s, e) = self.bounds[k as usize];
        e - s
    }

    fn batch_of(&self, d: u32) -> u32 {
        self.bounds.partition_point(|&(_, e)| e <= d) as u32
    }

    fn is_final(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Complete | RunStatus::Cancelled | RunStatus::Failed
        )
    }

    fn all_terminal(&self) -> bool {
        self.counts[2] + self.counts[3] + self.counts[4] == self.n
    }

    fn illegal(&self, command: &'static str) -> Option<ErrorKind> {
        Some(ErrorKind::IllegalCommand {
            command,
            status: self.status,
        })
    }

    fn set_status(&mut self, status: RunStatus, x: &mut Expect) {
        if self.status != status {
            self.status = status;
            x.statuses.push(status);
            x.changed = true;
        }
    }

    fn set_state(&mut self, d: u32, s: DeviceState, x: &mut Expect) {
        let old = self.states[d as usize];
        self.counts[class(old)] -= 1;
        self.counts[class(s)] += 1;
        self.states[d as usize] = s;
        x.changed = true;
        if !x.all {
            x.dirty.push(d);
        }
        let b = self.batch_of(d);
        if terminal(s) && !terminal(old) {
            self.batch_terminal[b as usize] += 1;
            if s == DeviceState::Succeeded {
                self.batch_succeeded[b as usize] += 1;
            }
            if failure(s) {
                self.failures += 1;
                self.batch_failures[b as usize] += 1;
                let kind = match s {
                    DeviceState::Failed => 0,
                    DeviceState::Rejected => 1,
                    _ => 2,
                };
                self.kinds[kind] += 1;
            }
            if self.batch_started[b as usize]
                && !self.batch_finished[b as usize]
                && self.batch_terminal[b as usize] == self.batch_len(b)
            {
                self.batch_finished[b as usize] = true;
                x.finished.push(b);
            }
        }
    }

    /// The rate now, devices per minute (`None` without a rate).
    fn rate(&mut self) -> Option<u32> {
        let rate = self.cfg.rate?;
        let cap = rate.max.unwrap_or(u32::MAX);
        let Some(ramp) = rate.ramp else {
            return Some(cap);
        };
        let count = if ramp.notified {
            self.notified.len() as u32
        } else {
            self.counts[2]
        };
        let level = (count / ramp.every) as usize;
        while self.rates.len() <= level && self.rates.last() != Some(&cap) {
            let k = self.rates.len() as u32;
            let v = ramp_formula(ramp.base, ramp.factor_tenths, k).min(u64::from(cap));
            self.rates.push(v as u32);
        }
        Some(self.rates[level.min(self.rates.len() - 1)])
    }

    /// First dispatches in the window that ends at `now`.
    fn in_window(&self, now: i64) -> u32 {
        let out = self
            .notified
            .partition_point(|&t| t + RATE_WINDOW_MS <= now);
        (self.notified.len() - out) as u32
    }

    fn dispatch(&mut self, now: i64, d: u32, x: &mut Expect) {
        self.attempts[d as usize] += 1;
        let a = self.attempts[d as usize];
        self.set_state(d, DeviceState::InFlight, x);
        x.dispatch.push((d, a));
        if let Some(t) = self.cfg.device_timeout_ms {
            x.timers.push((
                now + t,
                Timer::DeviceTimeout {
                    device: d,
                    attempt: a,
                },
            ));
        }
    }

    /// Dispatches never-dispatched devices up to `end`, as the rate allows; `false` if the rate
    /// stopped it.
    fn dispatch_new(&mut self, now: i64, end: u32, x: &mut Expect) -> bool {
        while self.next < end {
            if let Some(rate) = self.rate() {
                if self.in_window(now) >= rate {
                    return false;
                }
                self.notified.push(now);
            }
            let d = self.next;
            self.dispatch(now, d, x);
            self.next += 1;
        }
        true
    }

    fn pause(&mut self, now: i64, batch: u32, reason: PauseReason, x: &mut Expect) {
        self.pauses.push(Pause {
            batch,
            at_ms: now,
            reason,
        });
        x.changed = true;
        self.set_status(RunStatus::Paused, x);
    }

    /// Whether the batch after the newest one started may start (may pause the run).
    fn gate_opens(&mut self, now: i64, x: &mut Expect) -> bool {
        let b = self.cur;
        if self.released == Some(b) {
            return true;
        }
        let len = self.batch_len(b);
        let done = self.batch_terminal[b as usize] == len;
        let last = b + 1 == self.batches();
        let Some(Gate {
            success: Some((micros, pause)),
            ..
        }) = self.cfg.gate
        else {
            return done;
        };
        if last {
            return done;
        }
        let limit = (u128::from(micros) * u128::from(len)).div_ceil(100_000_000) as u32;
        let succeeded = self.batch_succeeded[b as usize];
        if succeeded >= limit {
            if pause {
                self.pause(now, b, PauseReason::SuccessReached { succeeded, limit }, x);
                return false;
            }
            true
        } else {
            if done {
                self.pause(now, b, PauseReason::BelowSuccess { succeeded, limit }, x);
            }
            false
        }
    }

    /// While running: dispatch the waiting retries, the devices never dispatched up to the end
    /// of the newest batch started (as the rate allows), then open gates; complete when every
    /// target is terminal; ask for a dispatch timer when the rate blocks.
    fn advance(&mut self, now: i64, x: &mut Expect) {
        if self.status != RunStatus::Running {
            return;
        }
        if !self.open(now) {
            self.advance_closed(now, x);
            return;
        }
        for (d, timed_out) in std::mem::take(&mut self.waiting) {
            self.t_used[d as usize] += u8::from(timed_out);
            self.dispatch(now, d, x);
        }
        let mut blocked;
        loop {
            if self.cur >= self.batches() {
                blocked = !self.dispatch_new(now, self.n, x);
                if self.all_terminal() {
                    self.set_status(RunStatus::Complete, x);
                }
                break;
            }
            let k = self.cur;
            if !self.batch_started[k as usize] {
                self.batch_started[k as usize] = true;
                x.started.push(k);
                x.changed = true;
            }
            let end = self.bounds[k as usize].1;
            blocked = !self.dispatch_new(now, end, x);
            if !self.gate_opens(now, x) {
                break;
            }
            self.cur += 1;
        }
        if blocked && self.status == RunStatus::Running && self.timer.is_none() {
            let oldest = self.notified[self.notified.len() - self.in_window(now) as usize];
            let at = oldest + RATE_WINDOW_MS;
            self.timer = Some(at);
            x.timers.push((at, Timer::Dispatch));
        }
    }

    /// While running and every window is closed: nothing is dispatched and no batch starts; the
    /// run completes if every target is terminal; the gate of the newest batch started decides
    /// as usual (it may pause); the run asks for the next opening if something would be
    /// dispatched then.
    fn advance_closed(&mut self, now: i64, x: &mut Expect) {
        if self.all_terminal() {
            self.set_status(RunStatus::Complete, x);
            return;
        }
        let k = self.cur;
        let would = if k >= self.batches() {
            self.next < self.n || !self.waiting.is_empty()
        } else if !self.batch_started[k as usize] {
            true
        } else {
            let undispatched = self.next < self.bounds[k as usize].1;
            let next_starts = k + 1 < self.batches() && self.gate_opens(now, x);
            undispatched || next_starts || !self.waiting.is_empty()
        };
        if would && self.status == RunStatus::Running {
            self.wait_for_window(now, x);
        }
    }

    /// Asks for a window timer at the next opening, unless one is outstanding or none comes.
    fn wait_for_window(&mut self, now: i64, x: &mut Expect) {
        if self.window_timer.is_some() {
            return;
        }
        let next = self.day.as_ref().and_then(|d| d.next_open(now));
        if let Some(at) = next {
            self.window_timer = Some(at);
            self.window_waits += 1;
            x.timers.push((at, Timer::Window));
            x.changed = true;
        }
    }

    /// Every pending device (never dispatched or waiting for a retry) becomes `to`.
    fn end_pending(&mut self, to: DeviceState, x: &mut Expect) {
        x.all = true;
        self.waiting.clear();
        for d in 0..self.n {
            if self.states[d as usize] == DeviceState::Pending {
                self.set_state(d, to, x);
            }
        }
        self.next = self.n;
    }

    fn end_in_flight(&mut self, to: DeviceState, x: &mut Expect) {
        x.all = true;
        for d in 0..self.n {
            if self.states[d as usize] == DeviceState::InFlight {
                x.abandon.push((d, self.attempts[d as usize]));
                self.set_state(d, to, x);
            }
        }
    }

    fn limit(&self, base: u32) -> u32 {
        match self.cfg.threshold {
            Some((Size::Pct(m), _)) => pct_of(m, base),
            Some((Size::Num(k) | Size::Groups(k), _)) => k,
            Some((Size::Phased(..), _)) => unreachable!("thresholds are never phased"),
            None => u32::MAX,
        }
    }

    fn check_threshold(&mut self, now: i64, b: u32, x: &mut Expect) {
        let Some((_, per_batch)) = self.cfg.threshold else {
            return;
        };
        if self.is_final() {
            return;
        }
        let (failures, base) = if per_batch {
            (self.batch_failures[b as usize], self.batch_len(b))
        } else {
            (self.failures, self.n)
        };
        let limit = self.limit(base);
        if failures >= limit {
            self.trip = Some(ThresholdTrip {
                batch: b,
                at_ms: now,
                failures,
                limit,
            });
            self.end_pending(DeviceState::Cancelled, x);
            self.set_status(RunStatus::Cancelled, x);
        }
    }

    fn check_error_gate(&mut self, now: i64, b: u32, x: &mut Expect) {
        let Some(Gate {
            error: Some(micros),
            ..
        }) = self.cfg.gate
        else {
            return;
        };
        if self.is_final() || self.error_tripped[b as usize] {
            return;
        }
        let len = self.batch_len(b);
        let failures = self.batch_failures[b as usize];
        // More than p % of the batch: failures × 100 > p × len.
        if u128::from(failures) * 100_000_000 > u128::from(micros) * u128::from(len) {
            self.error_tripped[b as usize] = true;
            let limit = (u128::from(micros) * u128::from(len) / 100_000_000) as u32 + 1;
            self.pause(now, b, PauseReason::ErrorCondition { failures, limit }, x);
        }
    }

    fn check_abort(&mut self, now: i64, b: u32, x: &mut Expect) {
        if self.is_final() {
            return;
        }
        let executed = self.counts[2] + self.counts[3];
        for (i, a) in self.cfg.abort.clone().iter().enumerate() {
            let failures = match a.kind {
                FailureType::Failed => self.kinds[0],
                FailureType::Rejected => self.kinds[1],
                FailureType::TimedOut => self.kinds[2],
                FailureType::All => self.failures,
            };
            let holds = executed >= a.min_executed
                && u128::from(failures) * 100_000_000
                    >= u128::from(a.micros) * u128::from(executed);
            if holds {
                self.abort_trip = Some(AbortTrip {
                    criterion: i as u32,
                    failure_type: a.kind,
                    batch: b,
                    at_ms: now,
                    executed,
                    failures,
                });
                self.end_pending(DeviceState::Cancelled, x);
                self.set_status(RunStatus::Cancelled, x);
                return;
            }
        }
    }

    fn finish(&mut self, now: i64, d: u32, o: Outcome, x: &mut Expect) {
        let t = self.t_used[d as usize];
        let f = self.attempts[d as usize] - 1 - t;
        if !self.is_final() && self.cfg.retries(o, f, t) {
            if self.status == RunStatus::Running && self.open(now) {
                self.t_used[d as usize] += u8::from(o == Outcome::TimedOut);
                self.dispatch(now, d, x);
            } else {
                self.set_state(d, DeviceState::Pending, x);
                self.waiting.push((d, o == Outcome::TimedOut));
                if self.status == RunStatus::Running {
                    self.wait_for_window(now, x);
                }
            }
            return;
        }
        let s = match o {
            Outcome::Succeeded => DeviceState::Succeeded,
            Outcome::Failed => DeviceState::Failed,
            Outcome::Rejected => DeviceState::Rejected,
            Outcome::TimedOut => DeviceState::TimedOut,
        };
        self.set_state(d, s, x);
        let b = self.batch_of(d);
        if failure(s) {
            self.check_threshold(now, b, x);
            self.check_error_gate(now, b, x);
        }
        if !self.cfg.abort.is_empty() {
            self.check_abort(now, b, x);
        }
        match self.status {
            RunStatus::Running => self.advance(now, x),
            RunStatus::Stopped | RunStatus::Paused if self.all_terminal() => {
                self.set_status(RunStatus::Complete, x)
            }
            _ => {}
        }
    }

    fn in_flight_with(&self, d: u32, a: u8) -> bool {
        d < self.n
            && self.states[d as usize] == DeviceState::InFlight
            && self.attempts[d as usize] == a
    }

    fn apply(&mut self, now: i64, input: Input) -> Expect {
        let mut x = Expect::default();
        match input {
            Input::Start => {
                if self.status != RunStatus::Pending {
                    x.result = self.illegal("start");
                } else {
                    self.started_at = Some(now);
                    self.set_status(RunStatus::Running, &mut x);
                    // A run without targets completes at once and asks for no deadline.
                    if let (Some(t), true) = (self.cfg.deadline_ms, self.n > 0) {
                        x.timers.push((now + t, Timer::Deadline));
                    }
                    self.advance(now, &mut x);
                }
            }
            Input::Stop => {
                if self.status != RunStatus::Running {
                    x.result = self.illegal("stop");
                } else {
                    self.set_status(RunStatus::Stopped, &mut x);
                }
            }
            Input::Resume => match self.status {
                RunStatus::Stopped | RunStatus::Paused => {
                    if self.status == RunStatus::Paused {
                        self.released = self.pauses.last().map(|p| p.batch);
                    }
                    self.set_status(RunStatus::Running, &mut x);
                    self.advance(now, &mut x);
                }
                _ => x.result = self.illegal("resume"),
            },
            Input::TriggerNextBatch => {
                if !matches!(self.status, RunStatus::Running | RunStatus::Paused) {
                    x.result = self.illegal("trigger the next batch of");
                } else if self.cur + 1 >= self.batches() {
                    x.result = Some(ErrorKind::NoNextBatch {
                        batches: self.batches(),
                    });
                } else {
                    self.released = Some(self.cur);
                    x.changed = true;
                    self.set_status(RunStatus::Running, &mut x);
                    self.advance(now, &mut x);
                }
            }
            Input::Fail => {
                if self.status != RunStatus::Pending {
                    x.result = self.illegal("fail");
                } else {
                    self.end_pending(DeviceState::Cancelled, &mut x);
                    self.set_status(RunStatus::Failed, &mut x);
                }
            }
            Input::Cancel { force } => {
                let allowed = match self.status {
                    RunStatus::Pending
                    | RunStatus::Running
                    | RunStatus::Stopped
                    | RunStatus::Paused => true,
                    RunStatus::Cancelled => force && self.counts[1] > 0,
                    _ => false,
                };
                if !allowed {
                    x.result = self.illegal("cancel");
                } else {
                    self.end_pending(DeviceState::Cancelled, &mut x);
                    if force {
                        self.end_in_flight(DeviceState::Cancelled, &mut x);
                    }
                    self.set_status(RunStatus::Cancelled, &mut x);
                }
            }
            Input::Outcome {
                device,
                attempt,
                outcome,
            } => {
                if device >= self.n {
                    x.result = Some(ErrorKind::NoSuchDevice(device));
                } else if !self.in_flight_with(device, attempt) {
                    x.result = Some(ErrorKind::NotInFlight { device, attempt });
                } else {
                    self.finish(now, device, outcome, &mut x);
                }
            }
            Input::Timer(Timer::DeviceTimeout { device, attempt }) => {
                if self.in_flight_with(device, attempt) {
                    self.finish(now, device, Outcome::TimedOut, &mut x);
                }
            }
            Input::Timer(Timer::Dispatch) => {
                if self.timer.take().is_some() {
                    x.changed = true;
                    self.advance(now, &mut x);
                }
            }
            Input::Timer(Timer::Window) => {
                if self.window_timer.take().is_some() {
                    x.changed = true;
                    self.advance(now, &mut x);
                }
            }
            Input::Timer(Timer::Deadline) => {
                let asked = self.started_at.is_some() && self.cfg.deadline_ms.is_some();
                let settled = self.is_final() && self.counts[1] == 0;
                if asked && !settled {
                    self.end_pending(DeviceState::TimedOut, &mut x);
                    self.end_in_flight(DeviceState::TimedOut, &mut x);
                    if !self.is_final() {
                        self.set_status(RunStatus::Complete, &mut x);
                    }
                }
            }
            other => panic!("the model does not know {other:?}"),
        }
        x
    }

    fn counts(&self) -> Counts {
        Counts {
            total: self.n,
            pending: self.counts[0],
            in_flight: self.counts[1],
            succeeded: self.counts[2],
            failed: self.counts[3],
            cancelled: self.counts[4],
        }
    }
}

// ===================== the driver =====================

/// Everything observable about a run, to check that a refused or ignored input changes nothing.
#[derive(Debug, PartialEq)]
struct Snapshot {
    status: RunStatus,
    counts: Counts,
    states: Vec<DeviceState>,
    attempts: Vec<u8>,
    batches: Vec<BatchStats>,
    current_batch: Option<u32>,
    trip: Option<ThresholdTrip>,
    abort_trip: Option<AbortTrip>,
    pauses: Vec<Pause>,
    dispatch_timer: Option<i64>,
    window_timer: Option<i64>,
    window_waits: u32,
    rate: Option<u32>,
    retries_used: Vec<(u8, u8)>,
    started: Option<i64>,
    finished: Option<i64>,
    settled: bool,
}

impl Snapshot {
    fn of(run: &JobRun) -> Self {
        Self {
            status: run.status(),
            counts: run.counts(),
            states: run.device_states().to_vec(),
            attempts: (0..run.counts().total).map(|d| run.attempts(d)).collect(),
            batches: run.batches().to_vec(),
            current_batch: run.current_batch(),
            trip: run.threshold_trip(),
            abort_trip: run.abort_trip(),
            pauses: run.pauses().to_vec(),
            dispatch_timer: run.dispatch_timer(),
            window_timer: run.window_timer(),
            window_waits: run.window_waits(),
            rate: run.rate_per_minute(),
            retries_used: (0..run.counts().total)
                .map(|d| run.retries_used(d))
                .collect(),
            started: run.started_ms(),
            finished: run.finished_ms(),
            settled: run.is_settled(),
        }
    }
}

/// The devices the driver believes in flight, learnt from the actions only. O(1) operations.
#[derive(Debug, Clone)]
struct InFlight {
    list: Vec<u32>,
    pos: Vec<Option<usize>>,
    attempt: Vec<u8>,
}

impl InFlight {
    fn new(n: u32) -> Self {
        Self {
            list: Vec::new(),
            pos: vec![None; n as usize],
            attempt: vec![0; n as usize],
        }
    }

    fn insert(&mut self, d: u32, a: u8) {
        if self.pos[d as usize].is_none() {
            self.pos[d as usize] = Some(self.list.len());
            self.list.push(d);
        }
        self.attempt[d as usize] = a;
    }

    fn remove(&mut self, d: u32) -> Option<u8> {
        let i = self.pos[d as usize].take()?;
        self.list.swap_remove(i);
        if let Some(&moved) = self.list.get(i) {
            self.pos[moved as usize] = Some(i);
        }
        Some(self.attempt[d as usize])
    }

    fn get(&self, d: u32) -> Option<u8> {
        self.pos[d as usize].map(|_| self.attempt[d as usize])
    }

    fn pick(&self, i: usize) -> Option<(u32, u8)> {
        if self.list.is_empty() {
            return None;
        }
        let d = self.list[i % self.list.len()];
        Some((d, self.attempt[d as usize]))
    }
}

/// One entry of the driver's log: the time, the input, the result, the actions.
type LogEntry = (i64, Input, Result<(), ErrorKind>, Vec<Action>);

struct Driver {
    cfg: Cfg,
    faults: Faults,
    run: JobRun,
    model: Model,
    now: i64,
    in_flight: InFlight,
    device_timers: Vec<(i64, Timer)>,
    fired_timers: Vec<Timer>,
    deadline: Option<i64>,
    deadline_fired: bool,
    /// The outcome type that ended each device's previous attempt (for the retry check).
    last_outcome: Vec<Option<Outcome>>,
    /// Retries seen per device: (after failures, after timeouts).
    retried: Vec<(u8, u8)>,
    /// The dispatch timer the run asked for and the driver has not handed back.
    dispatch_at: Option<i64>,
    /// The window timer the run asked for and the driver has not handed back.
    window_at: Option<i64>,
    /// The compiled windows, to check each dispatch against the library's own answer.
    windows: Option<MaintenanceWindows>,
    /// The time of every first dispatch, in order.
    first_dispatches: Vec<i64>,
    /// Whether a resume of a paused run or a trigger released a batch (then batches may
    /// overlap).
    released: bool,
    /// How far the clock moves per outcome when the driver settles the run.
    pace_ms: i64,
    /// When each device's latest attempt was dispatched.
    dispatched_at: Vec<i64>,
    log: Vec<LogEntry>,
    /// Statistics of what happened, for the targeted properties.
    refused: usize,
    dispatches: usize,
}

impl Driver {
    fn new(cfg: &Cfg, n: u32, faults: Faults) -> Self {
        let run = cfg
            .builder()
            .build(n)
            .expect("a valid configuration builds");
        Self {
            cfg: cfg.clone(),
            faults,
            model: Model::new(cfg, n),
            run,
            now: 0,
            in_flight: InFlight::new(n),
            device_timers: Vec::new(),
            fired_timers: Vec::new(),
            deadline: None,
            deadline_fired: false,
            last_outcome: vec![None; n as usize],
            retried: vec![(0, 0); n as usize],
            dispatch_at: None,
            window_at: None,
            windows: cfg.windows.as_ref().map(Windows::compile),
            first_dispatches: Vec::new(),
            released: false,
            pace_ms: cfg.windows.as_ref().map_or(10, |w| w.pace_ms),
            dispatched_at: vec![0; n as usize],
            log: Vec::new(),
            refused: 0,
            dispatches: 0,
        }
    }

    fn n(&self) -> u32 {
        self.run.counts().total
    }

    /// Whether the library says a window is open at run time `t` (always, without windows).
    fn utc_open(&self, t: i64) -> bool {
        let origin = self.cfg.windows.as_ref().map_or(0, |w| w.origin_ms);
        self.windows.as_ref().is_none_or(|w| w.is_open(origin + t))
    }

    /// Hands one input to the run and to the model and checks everything.
    fn send(&mut self, input: Input) -> Result<(), ErrorKind> {
        let now = self.now;
        let status_before = self.run.status();
        let x = self.model.apply(now, input);
        let unchanged_expected = x.result.is_some() || !x.changed;
        let before = unchanged_expected.then(|| Snapshot::of(&self.run));

        let mut actions = Vec::new();
        let result = match input {
            // Every other outcome for the attempt in flight goes through the executor's entry,
            // `outcome_in_flight`: the same rule as `handle`'s, which the model checks alike.
            Input::Outcome {
                device,
                attempt,
                outcome,
            } if self.log.len() % 2 == 1
                && device < self.n()
                && self.run.device_state(device) == DeviceState::InFlight
                && self.run.attempts(device) == attempt =>
            {
                self.run
                    .outcome_in_flight(now, device, attempt, outcome, &mut actions);
                Ok(())
            }
            // Every other input through the executor's compact form: its actions, one device
            // each ([`Action::each`]), are the ones the model checks alike.
            _ if self.log.len() % 2 == 1 => self
                .run
                .handle_compact(now, input, &mut actions)
                .map_err(|e| e.kind().clone()),
            _ => self
                .run
                .handle(now, input, &mut actions)
                .map_err(|e| e.kind().clone()),
        };
        let actions: Vec<Action> = actions.into_iter().flat_map(Action::each).collect();
        self.log.push((now, input, result.clone(), actions.clone()));

        // The result is the one the rules give.
        assert_eq!(
            result.clone().err(),
            x.result,
            "result of {input:?} at {now} (status {status_before:?})"
        );
        if let Some(before) = before {
            // A refused input, a stale timer or an ignored deadline changes nothing.
            assert!(
                actions.is_empty(),
                "{input:?} was refused or ignored but asked for {actions:?}"
            );
            assert_eq!(Snapshot::of(&self.run), before, "{input:?} changed the run");
        }
        if result.is_err() {
            self.refused += 1;
            return result;
        }

        // The driver's view: an answered or timed-out attempt is no longer in flight.
        let timer_hit = matches!(input, Input::Timer(Timer::DeviceTimeout { device, attempt })
            if device < self.n() && self.in_flight.get(device) == Some(attempt));
        match input {
            Input::Outcome { device, .. } => {
                self.in_flight.remove(device);
            }
            Input::Timer(Timer::DeviceTimeout { device, attempt })
                if (device < self.n()) && self.in_flight.get(device) == Some(attempt) =>
            {
                self.in_flight.remove(device);
            }
            _ => {}
        }
        match input {
            Input::Outcome {
                device, outcome, ..
            } => self.last_outcome[device as usize] = Some(outcome),
            Input::Timer(Timer::DeviceTimeout { device, .. }) if timer_hit => {
                self.last_outcome[device as usize] = Some(Outcome::TimedOut)
            }
            // The run consumes the dispatch timer it asked for (and may ask again below).
            Input::Timer(Timer::Dispatch) => self.dispatch_at = None,
            Input::Timer(Timer::Window) => self.window_at = None,
            Input::TriggerNextBatch => self.released = true,
            Input::Resume if status_before == RunStatus::Paused => self.released = true,
            _ => {}
        }

        // The actions are the ones the model expects (as multisets; statuses in order).
        let mut got = Expect::default();
        for a in &actions {
            match *a {
                Action::Dispatch { device, attempt } => got.dispatch.push((device, attempt)),
                Action::Abandon { device, attempt } => got.abandon.push((device, attempt)),
                Action::SetTimer { at_ms, timer } => got.timers.push((at_ms, timer)),
                Action::BatchStarted { batch } => got.started.push(batch),
                Action::BatchFinished { batch } => got.finished.push(batch),
                Action::Status(s) => got.statuses.push(s),
                Action::DispatchRange { .. } => unreachable!("expanded above"),
            }
        }
        let sorted = |mut v: Vec<(u32, u8)>| {
            v.sort_unstable();
            v
        };
        let timer_key = |t: &(i64, Timer)| match t.1 {
            Timer::Deadline => (t.0, 0, 0, 0),
            Timer::DeviceTimeout { device, attempt } => (t.0, 1, device, attempt),
            Timer::Dispatch => (t.0, 2, 0, 0),
            Timer::Window => (t.0, 3, 0, 0),
        };
        let mut want_timers = x.timers.clone();
        want_timers.sort_by_key(timer_key);
        got.timers.sort_by_key(timer_key);
        let mut want_started = x.started.clone();
        want_started.sort_unstable();
        got.started.sort_unstable();
        let mut want_finished = x.finished.clone();
        want_finished.sort_unstable();
        got.finished.sort_unstable();
        let ctx = || format!("{input:?} at {now} (status before {status_before:?}): {actions:?}");
        assert_eq!(
            sorted(got.dispatch.clone()),
            sorted(x.dispatch.clone()),
            "dispatches of {}",
            ctx()
        );
        assert_eq!(
            sorted(got.abandon.clone()),
            sorted(x.abandon.clone()),
            "abandons of {}",
            ctx()
        );
        assert_eq!(got.timers, want_timers, "timers of {}", ctx());
        assert_eq!(got.started, want_started, "batch starts of {}", ctx());
        assert_eq!(got.finished, want_finished, "batch ends of {}", ctx());
        assert_eq!(got.statuses, x.statuses, "statuses of {}", ctx());

        // Update the driver's view from the actions alone.
        for a in &actions {
            match *a {
                Action::Dispatch { device, attempt } => {
                    self.in_flight.insert(device, attempt);
                    self.dispatched_at[device as usize] = now;
                    self.dispatches += 1;
                    if attempt == 1 {
                        self.first_dispatches.push(now);
                    } else {
                        // Retries within their limit, per type (or shared for ALL): the
                        // retries seen so far allow one more after the last outcome's type.
                        let last =
                            self.last_outcome[device as usize].expect("a retry follows an outcome");
                        let (f, t) = self.retried[device as usize];
                        assert!(
                            matches!(last, Outcome::Failed | Outcome::TimedOut),
                            "device {device} retried after {last:?}"
                        );
                        assert!(
                            self.cfg.retries(last, f, t),
                            "device {device} attempt {attempt} after {last:?} with {f} + {t} retries"
                        );
                        let r = &mut self.retried[device as usize];
                        if last == Outcome::TimedOut {
                            r.1 += 1;
                        } else {
                            r.0 += 1;
                        }
                        assert_eq!(attempt, 1 + r.0 + r.1, "attempts count every retry");
                    }
                }
                Action::Abandon { device, attempt } => {
                    assert_eq!(self.in_flight.remove(device), Some(attempt), "{}", ctx());
                }
                Action::SetTimer { at_ms, timer } => match timer {
                    Timer::Deadline => {
                        assert!(self.deadline.is_none(), "one deadline timer per run");
                        self.deadline = Some(at_ms);
                    }
                    Timer::Dispatch => {
                        assert!(self.dispatch_at.is_none(), "one dispatch timer at a time");
                        assert!(at_ms > now, "a dispatch timer is in the future");
                        self.dispatch_at = Some(at_ms);
                    }
                    Timer::Window => {
                        assert!(self.window_at.is_none(), "one window timer at a time");
                        assert!(at_ms > now, "a window timer is in the future");
                        // At an opening, asked for while every window was closed.
                        assert!(!self.utc_open(now), "a window timer while open: {}", ctx());
                        assert!(self.utc_open(at_ms) && !self.utc_open(at_ms - 1));
                        self.window_at = Some(at_ms);
                    }
                    t => self.device_timers.push((at_ms, t)),
                },
                _ => {}
            }
        }

        let model_rate = self.model.rate();
        self.check_invariants(status_before, input, &actions, &x, model_rate);
        result
    }

    fn check_invariants(
        &self,
        status_before: RunStatus,
        input: Input,
        actions: &[Action],
        x: &Expect,
        model_rate: Option<u32>,
    ) {
        let run = &self.run;
        let c = run.counts();
        // Statistics: devices, not attempts; the sum is the number of targets.
        assert!(c.is_consistent(), "counts {c:?} do not add up");
        assert_eq!(c, self.model.counts(), "counts after {input:?}");
        assert_eq!(run.status(), self.model.status, "status after {input:?}");
        // The threshold trips exactly when the reference model says.
        assert_eq!(
            run.threshold_trip(),
            self.model.trip,
            "trip after {input:?}"
        );
        // The actions tell the driver which devices are in flight.
        assert_eq!(
            self.in_flight.list.len() as u32,
            c.in_flight,
            "in-flight view after {input:?}"
        );
        let check_device = |d: u32| {
            let s = run.device_state(d);
            assert_eq!(
                s, self.model.states[d as usize],
                "device {d} after {input:?}"
            );
            assert_eq!(
                run.attempts(d),
                self.model.attempts[d as usize],
                "attempts of {d}"
            );
            let view = self.in_flight.get(d);
            if s == DeviceState::InFlight {
                assert_eq!(view, Some(run.attempts(d)), "view of device {d}");
            } else {
                assert_eq!(view, None, "view of device {d}");
            }
        };
        if x.all {
            assert_eq!(
                run.device_states(),
                &self.model.states[..],
                "states after {input:?}"
            );
            for d in 0..self.n() {
                check_device(d);
            }
        } else {
            for &d in &x.dirty {
                check_device(d);
            }
        }

        // The trips and pauses are exactly the model's; so are the rate and the timer.
        assert_eq!(
            run.abort_trip(),
            self.model.abort_trip,
            "abort after {input:?}"
        );
        assert_eq!(
            run.pauses(),
            &self.model.pauses[..],
            "pauses after {input:?}"
        );
        assert_eq!(
            run.dispatch_timer(),
            self.dispatch_at,
            "timer view after {input:?}"
        );
        assert_eq!(
            run.dispatch_timer(),
            self.model.timer,
            "timer after {input:?}"
        );
        assert_eq!(run.window_timer(), self.window_at, "window timer view");
        assert_eq!(
            (run.window_timer(), run.window_waits()),
            (self.model.window_timer, self.model.window_waits),
            "window timer after {input:?}"
        );
        // Nothing is dispatched and no batch starts while every window is closed.
        let dispatches = actions
            .iter()
            .any(|a| matches!(a, Action::Dispatch { .. } | Action::BatchStarted { .. }));
        if dispatches {
            assert!(
                self.utc_open(self.now),
                "{input:?} dispatched at {} while every window is closed: {actions:?}",
                self.now
            );
        }
        assert_eq!(run.rate_per_minute(), model_rate, "rate after {input:?}");
        if let Some(trip) = run.abort_trip() {
            // No abort before the minimum executed count; the percentage is reached.
            let a = self.cfg.abort[trip.criterion as usize];
            assert!(trip.executed >= a.min_executed, "{trip:?} before {a:?}");
            assert!(
                u128::from(trip.failures) * 100_000_000
                    >= u128::from(a.micros) * u128::from(trip.executed),
                "{trip:?} under {a:?}"
            );
        }

        let plan = run.plan();
        let mut dispatched_now: Vec<u32> = Vec::new();
        let mut batches_checked: Vec<u32> = Vec::new();
        // Gates and manual triggers may start a batch before the one before it is terminal.
        let in_sequence = !self.cfg.success_gate() && !self.released;
        let paused_at = actions
            .iter()
            .position(|a| *a == Action::Status(RunStatus::Paused));
        for (i, a) in actions.iter().enumerate() {
            if let Action::Dispatch { device, attempt } = *a {
                // Nothing is dispatched while stopped or paused, after a cancel or a
                // completion: a run that dispatches is running afterwards (or paused by a gate
                // after the dispatch, in the same input), and was running or just started,
                // resumed or triggered.
                match paused_at {
                    None => assert_eq!(run.status(), RunStatus::Running, "dispatch by {input:?}"),
                    Some(p) => assert!(i < p, "dispatch after a pause by {input:?}: {actions:?}"),
                }
                assert!(
                    status_before == RunStatus::Running
                        || matches!(
                            input,
                            Input::Start | Input::Resume | Input::TriggerNextBatch
                        ),
                    "dispatch by {input:?} from {status_before:?}"
                );
                let b = plan.batch_of(device);
                // A device is dispatched only once its batch has started.
                assert!(run.batches()[b as usize].started_ms.is_some());
                // Batches in sequence: every device of the batch before is terminal (and, by
                // induction, of every earlier batch).
                if in_sequence && b > 0 && !batches_checked.contains(&b) {
                    batches_checked.push(b);
                    for d in plan.range(b - 1) {
                        assert!(
                            run.device_state(d).is_terminal(),
                            "device {device} of batch {b} dispatched while device {d} of batch {} is {}",
                            b - 1,
                            run.device_state(d)
                        );
                    }
                }
                // Later batches have not started.
                if in_sequence && b + 1 < plan.count() {
                    assert_eq!(run.batches()[(b + 1) as usize].started_ms, None);
                }
                assert!(
                    attempt <= self.cfg.attempts_max(),
                    "attempt {attempt} over the limit"
                );
                if attempt == 1 {
                    dispatched_now.push(device);
                }
            }
        }
        // Without a rate, a batch that starts has all its devices dispatched at once.
        dispatched_now.sort_unstable();
        for a in actions {
            if let Action::BatchStarted { batch } = *a {
                if self.cfg.rate.is_some() {
                    continue;
                }
                for d in plan.range(batch) {
                    assert!(
                        dispatched_now.binary_search(&d).is_ok(),
                        "batch {batch} started without device {d}"
                    );
                }
            }
        }
        // The rate: no 60-second window ending now holds more first dispatches than the cap,
        // nor, for those of this input, than the rate when they were made.
        if let Some(rate) = self.cfg.rate {
            let cap = rate.max.unwrap_or(u32::MAX) as usize;
            let t = self.now;
            let in_window = self.first_dispatches.len()
                - self
                    .first_dispatches
                    .partition_point(|&d| d + RATE_WINDOW_MS <= t);
            assert!(
                in_window <= cap,
                "{in_window} dispatches in the minute to {t}"
            );
            if let Some(r) = run.rate_per_minute() {
                assert!(
                    in_window <= r as usize,
                    "{in_window} over the rate {r} at {t}"
                );
            }
        }
        // A running run always has something in flight or waits for a timer (or for a window
        // that never opens again).
        if run.status() == RunStatus::Running {
            assert!(
                c.in_flight > 0
                    || run.dispatch_timer().is_some()
                    || run.window_timer().is_some()
                    || self.cfg.never_opens(),
                "a running run with nothing in flight and no timer is stuck"
            );
        }
        // A paused run has a reason.
        if run.status() == RunStatus::Paused {
            assert!(!run.pauses().is_empty());
        }
    }

    // ----- steps -----

    fn step(&mut self, step: &Step) {
        match *step {
            Step::Wait(ms) => self.now += i64::from(ms),
            Step::WaitMinutes(m) => self.now += i64::from(m) * MINUTE_MS,
            Step::Start => {
                let _ = self.send(Input::Start);
            }
            Step::Stop => {
                let _ = self.send(Input::Stop);
            }
            Step::Resume => {
                let _ = self.send(Input::Resume);
            }
            Step::Cancel(force) => {
                let _ = self.send(Input::Cancel { force });
            }
            Step::Fail => {
                let _ = self.send(Input::Fail);
            }
            Step::Trigger => {
                let _ = self.send(Input::TriggerNextBatch);
            }
            Step::FireDispatch => {
                if let Some(at) = self.dispatch_at {
                    self.now = self.now.max(at);
                    self.send(Input::Timer(Timer::Dispatch))
                        .expect("timers are never refused");
                }
            }
            Step::FireWindow => {
                if let Some(at) = self.window_at {
                    self.now = self.now.max(at);
                    self.send(Input::Timer(Timer::Window))
                        .expect("timers are never refused");
                }
            }
            Step::Resolve(pick, outcome) => {
                if let Some((device, attempt)) = self.in_flight.pick(pick) {
                    let outcome = outcome.unwrap_or_else(|| self.faults.outcome(device, attempt));
                    self.send(Input::Outcome {
                        device,
                        attempt,
                        outcome,
                    })
                    .expect("an outcome for an in-flight attempt is accepted");
                }
            }
            Step::ResolveMany(count) => {
                for _ in 0..count {
                    let Some((device, attempt)) = self.in_flight.pick(0) else {
                        break;
                    };
                    self.now += 1;
                    let outcome = self.faults.outcome(device, attempt);
                    self.send(Input::Outcome {
                        device,
                        attempt,
                        outcome,
                    })
                    .expect("an outcome for an in-flight attempt is accepted");
                }
            }
            Step::FireTimer(pick) => {
                if !self.device_timers.is_empty() {
                    let i = pick % self.device_timers.len();
                    let (at, timer) = self.device_timers.swap_remove(i);
                    self.now = self.now.max(at);
                    self.fired_timers.push(timer);
                    self.send(Input::Timer(timer))
                        .expect("timers are never refused");
                }
            }
            Step::Deadline => {
                // The deadline the run asked for, at its time; or one it never asked for.
                if let Some(at) = self.deadline.filter(|_| !self.deadline_fired) {
                    self.now = self.now.max(at);
                    self.deadline_fired = true;
                }
                self.send(Input::Timer(Timer::Deadline))
                    .expect("timers are never refused");
            }
            Step::Illegal(kind, pick) => self.illegal(kind, pick),
        }
    }

    /// An input that must be refused or ignored (the model says which).
    fn illegal(&mut self, kind: u8, pick: usize) {
        let n = self.n();
        match kind % 5 {
            // An outcome for a device that is not in flight, or for the wrong attempt.
            0 if n > 0 => {
                let device = (pick % n as usize) as u32;
                let attempt = match self.in_flight.get(device) {
                    Some(a) => a.wrapping_add(1 + (pick % 3) as u8),
                    None => self.run.attempts(device),
                };
                let r = self.send(Input::Outcome {
                    device,
                    attempt,
                    outcome: Outcome::Succeeded,
                });
                assert!(matches!(r, Err(ErrorKind::NotInFlight { .. })), "{r:?}");
            }
            // An outcome for a device that is not a target.
            1 | 0 => {
                let device = n + (pick % 3) as u32;
                let r = self.send(Input::Outcome {
                    device,
                    attempt: 1,
                    outcome: Outcome::Failed,
                });
                assert_eq!(r, Err(ErrorKind::NoSuchDevice(device)));
            }
            // A timer that already fired: stale, ignored.
            2 if !self.fired_timers.is_empty() => {
                let timer = self.fired_timers[pick % self.fired_timers.len()];
                self.send(Input::Timer(timer))
                    .expect("timers are never refused");
            }
            // An outcome for attempt 0 of an in-flight device.
            3 if !self.in_flight.list.is_empty() => {
                let (device, _) = self.in_flight.pick(pick).unwrap();
                let r = self.send(Input::Outcome {
                    device,
                    attempt: 0,
                    outcome: Outcome::Failed,
                });
                assert!(matches!(r, Err(ErrorKind::NotInFlight { .. })), "{r:?}");
            }
            // A command, legal or not in the current status.
            _ => {
                let input = [
                    Input::Start,
                    Input::Stop,
                    Input::Resume,
                    Input::Cancel { force: false },
                    Input::Cancel { force: true },
                    Input::Fail,
                    Input::Timer(Timer::DeviceTimeout {
                        device: n + 1,
                        attempt: 1,
                    }),
                    Input::TriggerNextBatch,
                    Input::Timer(Timer::Dispatch),
                    Input::Timer(Timer::Window),
                ][pick % 10];
                let _ = self.send(input);
            }
        }
    }

    /// Drives the run until it is settled: start it if pending, resume it if stopped, answer
    /// every in-flight device with the fleet's fault mix.
    fn settle(&mut self) {
        let n = u64::from(self.n());
        // Each target needs at most its attempts, a dispatch timer and a pause (and resume);
        // with windows, a window timer per wait too.
        let windows = u64::from(self.cfg.windows.is_some());
        let bound = (10 + n * (4 + u64::from(self.cfg.attempts_max()))) * (1 + windows);
        let mut inputs = 0u64;
        while !self.run.is_settled() {
            inputs += 1;
            assert!(inputs <= bound, "the run does not settle");
            match self.run.status() {
                RunStatus::Pending => {
                    self.send(Input::Start).unwrap();
                    continue;
                }
                RunStatus::Stopped | RunStatus::Paused => {
                    self.send(Input::Resume).unwrap();
                    continue;
                }
                _ => {}
            }
            let Some((device, attempt)) = self.in_flight.pick(usize::MAX) else {
                self.settle_waiting();
                continue;
            };
            self.now += self.pace_ms;
            let outcome = self.faults.outcome(device, attempt);
            self.send(Input::Outcome {
                device,
                attempt,
                outcome,
            })
            .unwrap();
        }
        self.check_settled();
    }

    /// Drives the run until it is settled as a simulator would, in time order: every attempt
    /// answers `pace_ms` after its dispatch, and a dispatch or window timer comes back at its
    /// time (answers first at equal times). (`settle` instead answers one device every
    /// `pace_ms` and hands timers back only when nothing is in flight.) Only for runs that are
    /// never cancelled and have no deadline.
    fn settle_in_time_order(&mut self) {
        let bound = 20 + 4 * u64::from(self.n()) * (4 + u64::from(self.cfg.attempts_max()));
        let mut inputs = 0u64;
        while !self.run.is_settled() {
            inputs += 1;
            assert!(inputs <= bound, "the run does not settle");
            match self.run.status() {
                RunStatus::Pending => self.send(Input::Start).unwrap(),
                RunStatus::Stopped | RunStatus::Paused => self.send(Input::Resume).unwrap(),
                _ => self.next_event(),
            }
        }
        self.check_settled();
    }

    /// The earliest of: the answer of the attempt dispatched first, the dispatch timer, the
    /// window timer.
    fn next_event(&mut self) {
        let answer = self
            .in_flight
            .list
            .iter()
            .map(|&d| (self.dispatched_at[d as usize] + self.pace_ms, d))
            .min();
        let timer = [
            self.dispatch_at.map(|at| (at, Timer::Dispatch)),
            self.window_at.map(|at| (at, Timer::Window)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|t| t.0);
        match (answer, timer) {
            (Some((due, device)), t) if t.is_none_or(|(at, _)| due <= at) => {
                self.now = self.now.max(due);
                let attempt = self.in_flight.get(device).unwrap();
                let outcome = self.faults.outcome(device, attempt);
                self.send(Input::Outcome {
                    device,
                    attempt,
                    outcome,
                })
                .unwrap();
            }
            (_, Some((at, timer))) => {
                self.now = self.now.max(at);
                self.send(Input::Timer(timer)).unwrap();
            }
            _ => panic!("a running run with nothing to wait for"),
        }
    }

    /// Nothing in flight: hands back the earliest timer the run waits for (dispatch or window);
    /// a run waiting for windows that never open again is ended by its deadline or a cancel.
    fn settle_waiting(&mut self) {
        let timers = [
            self.dispatch_at.map(|at| (at, Timer::Dispatch)),
            self.window_at.map(|at| (at, Timer::Window)),
        ];
        if let Some((at, timer)) = timers.into_iter().flatten().min_by_key(|t| t.0) {
            self.now = self.now.max(at);
            self.send(Input::Timer(timer)).unwrap();
            return;
        }
        assert!(
            self.cfg.never_opens(),
            "an unsettled run has a device in flight, a timer, or windows that never open"
        );
        match self.deadline.filter(|_| !self.deadline_fired) {
            Some(at) => {
                self.now = self.now.max(at);
                self.deadline_fired = true;
                self.send(Input::Timer(Timer::Deadline)).unwrap();
            }
            None => self.send(Input::Cancel { force: false }).unwrap(),
        }
    }

    fn check_settled(&self) {
        let run = &self.run;
        assert!(run.is_settled());
        assert!(run.status().is_final());
        let c = run.counts();
        assert_eq!((c.pending, c.in_flight), (0, 0), "{c:?}");
        assert_eq!(run.device_states(), &self.model.states[..]);
        // Every device ends in exactly one terminal state.
        let mut by_class = [0u32; CLASSES];
        for &s in run.device_states() {
            assert!(s.is_terminal(), "a settled run has a device {s}");
            by_class[class(s)] += 1;
        }
        assert_eq!(
            by_class,
            [0, 0, c.succeeded, c.failed, c.cancelled],
            "states and counts disagree"
        );
        assert!(run.finished_ms().is_some());
        // Batch statistics agree with the device states.
        let plan = run.plan();
        for (k, stats) in run.batches().iter().enumerate() {
            let range = plan.range(k as u32);
            let states = &run.device_states()[range.start as usize..range.end as usize];
            assert_eq!(stats.size as usize, states.len());
            let count = |f: fn(&DeviceState) -> bool| states.iter().filter(|s| f(s)).count() as u32;
            assert_eq!(stats.succeeded, count(|s| *s == DeviceState::Succeeded));
            assert_eq!(stats.failed, count(|s| s.is_failure()));
            assert_eq!(stats.cancelled, count(|s| *s == DeviceState::Cancelled));
            assert_eq!(
                stats.started_ms.is_some(),
                stats.finished_ms.is_some(),
                "batch {k}: a started batch of a settled run is finished"
            );
        }
        // Attempts within the retry limit.
        let max = self.cfg.attempts_max();
        for d in 0..self.n() {
            assert!(run.attempts(d) <= max);
            if run.device_state(d) == DeviceState::Rejected {
                assert_eq!(self.last_outcome[d as usize], Some(Outcome::Rejected));
            }
        }
    }

    /// The rerun of a settled run: exactly the failed devices, same configuration.
    fn check_rerun(&self) -> Option<(JobRun, Vec<u32>)> {
        let run = &self.run;
        match run.rerun() {
            Ok((rerun, indices)) => {
                assert!(matches!(
                    run.status(),
                    RunStatus::Complete | RunStatus::Cancelled
                ));
                let failed: Vec<u32> = (0..self.n())
                    .filter(|&d| failure(self.model.states[d as usize]))
                    .collect();
                assert_eq!(indices, failed, "rerun targets are the failed devices");
                let len = failed.len() as u32;
                assert_eq!(rerun.status(), RunStatus::Pending);
                assert_eq!(rerun.counts(), Counts::new(len));
                assert_eq!(*rerun.plan(), BatchPlan::new(len, self.cfg.batch_size()));
                assert_eq!(rerun.maintenance_windows(), run.maintenance_windows());
                assert_eq!(rerun.clock_origin_ms(), run.clock_origin_ms());
                Some((rerun, indices))
            }
            Err(e) => {
                assert_eq!(run.status(), RunStatus::Failed, "rerun refused: {e}");
                assert!(matches!(
                    e.kind(),
                    ErrorKind::IllegalCommand {
                        command: "rerun",
                        ..
                    }
                ));
                None
            }
        }
    }
}

// ===================== strategies =====================

#[derive(Debug, Clone)]
enum Step {
    Start,
    Stop,
    Resume,
    Cancel(bool),
    Fail,
    /// Trigger the next batch.
    Trigger,
    /// Hand the dispatch timer back at its time.
    FireDispatch,
    /// Hand the window timer back at its time.
    FireWindow,
    /// Answer one in-flight device (chosen by index) with this outcome, or the fleet's.
    Resolve(usize, Option<Outcome>),
    /// Answer up to this many in-flight devices with the fleet's outcomes (compact, for big N).
    ResolveMany(u16),
    /// Fire one of the device timers the run asked for (chosen by index).
    FireTimer(usize),
    Deadline,
    Wait(u16),
    /// Let minutes pass (to cross the openings and closings of maintenance windows).
    WaitMinutes(u8),
    /// An input that must be refused or ignored.
    Illegal(u8, usize),
}

fn percent_micros() -> impl Strategy<Value = u64> {
    prop_oneof![
        (1u64..=100).prop_map(|p| p * 1_000_000),
        (1u64..=1_000).prop_map(|p| p * 100_000),
        1u64..=100_000_000,
    ]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        percent_micros().prop_map(Size::Pct),
        (1u32..=12).prop_map(Size::Num),
        (1u32..=6_000).prop_map(Size::Num),
    ]
}

fn batch_size() -> impl Strategy<Value = Size> {
    prop_oneof![
        3 => size(),
        1 => (1u32..=12).prop_map(Size::Groups),
        1 => (1u8..=99, 1u8..=99).prop_map(|(a, b)| Size::Phased(a, b)),
    ]
}

/// A rate: mostly small caps (so that the window fills), sometimes a ramp.
fn rate() -> impl Strategy<Value = Rate> {
    let max = prop_oneof![
        3 => (1u32..=20).prop_map(Some),
        1 => (1u32..=1_000).prop_map(Some),
        1 => Just(None),
    ];
    let ramp = prop::option::weighted(
        0.5,
        (1u32..=50, 11u32..=50, any::<bool>(), 1u32..=60).prop_map(
            |(base, factor_tenths, notified, every)| Ramp {
                base,
                factor_tenths,
                notified,
                every,
            },
        ),
    );
    (max, ramp).prop_map(|(max, ramp)| {
        let mut max = max;
        let ramp = ramp.map(|mut r: Ramp| {
            // A ramp starts at or under its cap.
            if let Some(m) = max {
                r.base = r.base.min(m);
            }
            r
        });
        if max.is_none() && ramp.is_none() {
            max = Some(5);
        }
        Rate { max, ramp }
    })
}

fn failure_type() -> impl Strategy<Value = FailureType> {
    prop_oneof![
        Just(FailureType::Failed),
        Just(FailureType::Rejected),
        Just(FailureType::TimedOut),
        Just(FailureType::All),
    ]
}

/// Abort criteria: thresholds with two decimals, as AWS takes them.
fn aborts(max: usize) -> impl Strategy<Value = Vec<Abort>> {
    prop::collection::vec(
        (failure_type(), 1u64..=10_000, 1u32..=50).prop_map(|(kind, hundredths, min)| Abort {
            kind,
            micros: hundredths * 10_000,
            min_executed: min,
        }),
        0..=max,
    )
}

fn gate_percent() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(100_000_000u64),
        (0u64..=100).prop_map(|p| p * 1_000_000),
        0u64..=100_000_000,
    ]
}

fn gate() -> impl Strategy<Value = Gate> {
    (
        prop::option::weighted(0.7, (gate_percent(), any::<bool>())),
        prop::option::weighted(0.5, gate_percent()),
    )
        .prop_map(|(success, error)| Gate { success, error })
}

/// Retries: none, per type (FAILED and TIMED_OUT), or shared (ALL).
fn retries() -> impl Strategy<Value = (u8, u8, u8)> {
    prop_oneof![
        2 => Just((0u8, 0u8, 0u8)),
        2 => (0u8..=3, 0u8..=3).prop_map(|(f, t)| (f, t, 0)),
        1 => (0u8..=10, 0u8..=10).prop_map(|(f, t)| (f, t, 0)),
        1 => (1u8..=10).prop_map(|a| (0, 0, a)),
    ]
}

/// One window: mostly every few minutes for less than the step (so that it closes between
/// starts, and the driver's steps cross openings and closings), sometimes in a few hours only,
/// sometimes a long nightly window that runs past midnight; rarely one that never opens again.
fn win() -> impl Strategy<Value = Win> {
    let hours = prop_oneof![
        3 => Just((0u8, 23u8)),
        1 => (0u8..=23, 0u8..=3).prop_map(|(a, len)| (a, (a + len).min(23))),
    ];
    let frequent = (0u8..=9, 2u8..=12, 1u32..=11, hours).prop_map(|(minute, step, m, hours)| Win {
        minute: minute.min(step - 1),
        step,
        hours,
        minutes: m.min(u32::from(step) - 1),
        past: false,
    });
    let nightly = (0u8..=59, 0u8..=23, 30u32..=240).prop_map(|(minute, hour, minutes)| Win {
        minute,
        step: 0,
        hours: (hour, hour),
        minutes,
        past: false,
    });
    prop_oneof![
        8 => frequent,
        2 => nightly,
        1 => (1u32..=60).prop_map(|minutes| Win {
            minute: 0,
            step: 0,
            hours: (12, 12),
            minutes,
            past: true,
        }),
    ]
}

/// 2026-03-01T00:00:00Z.
const MARCH_1: i64 = 1_772_323_200_000;

/// One to three windows; run time 0 anywhere in the two days from 1 March 2026; a settling
/// pace of milliseconds, seconds or minutes per outcome.
fn windows() -> impl Strategy<Value = Windows> {
    let pace = prop_oneof![Just(10i64), 1_000i64..=60_000, MINUTE_MS..=10 * MINUTE_MS,];
    (
        prop::collection::vec(win(), 1..=3),
        0i64..=2 * DAY_MINUTES * MINUTE_MS,
        pace,
    )
        .prop_map(|(list, offset, pace_ms)| Windows {
            list,
            origin_ms: MARCH_1 + offset,
            pace_ms,
        })
}

/// The policies of AWS and hawkBit, each off most of the time.
#[derive(Debug, Clone)]
struct Policies {
    rate: Option<Rate>,
    abort: Vec<Abort>,
    gate: Option<Gate>,
    windows: Option<Windows>,
}

/// `Some` with probability `p` (which may be 0 or 1).
fn maybe<T: std::fmt::Debug + Clone + 'static>(
    p: f64,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    if p >= 1.0 {
        s.prop_map(Some).boxed()
    } else if p <= 0.0 {
        Just(None).boxed()
    } else {
        prop::option::weighted(p, s).boxed()
    }
}

fn policies(rate_p: f64, abort_p: f64, gate_p: f64) -> impl Strategy<Value = Policies> {
    policies_with(rate_p, abort_p, gate_p, 0.2)
}

fn policies_with(
    rate_p: f64,
    abort_p: f64,
    gate_p: f64,
    windows_p: f64,
) -> impl Strategy<Value = Policies> {
    (
        maybe(rate_p, rate()),
        maybe(abort_p, aborts(3)),
        maybe(gate_p, gate()),
        maybe(windows_p, windows()),
    )
        .prop_map(|(rate, abort, gate, windows)| Policies {
            rate,
            abort: abort.unwrap_or_default(),
            gate,
            windows,
        })
}

fn cfg_full(
    threshold: BoxedStrategy<Option<(Size, bool)>>,
    policies: BoxedStrategy<Policies>,
) -> impl Strategy<Value = Cfg> {
    (
        prop::option::weighted(0.8, batch_size()),
        threshold,
        prop::option::weighted(0.3, 1i64..=100_000),
        prop::option::weighted(0.3, 1i64..=5_000),
        retries(),
        policies,
    )
        .prop_map(
            |(batch, threshold, deadline_ms, device_timeout_ms, (rf, rt, ra), p)| Cfg {
                batch,
                threshold,
                deadline_ms,
                device_timeout_ms,
                retry_failed: rf,
                retry_timed_out: rt,
                retry_all: ra,
                rate: p.rate,
                abort: p.abort,
                gate: p.gate,
                windows: p.windows,
            },
        )
}

fn cfg_with(threshold: BoxedStrategy<Option<(Size, bool)>>) -> impl Strategy<Value = Cfg> {
    cfg_full(threshold, policies(0.2, 0.2, 0.2).boxed())
}

fn any_threshold() -> BoxedStrategy<Option<(Size, bool)>> {
    prop::option::weighted(0.6, (size(), any::<bool>())).boxed()
}

fn cfg() -> impl Strategy<Value = Cfg> {
    cfg_with(any_threshold())
}

fn faults() -> impl Strategy<Value = Faults> {
    (0u8..=40, 0u8..=20, 0u8..=20, any::<u64>()).prop_map(|(fail, reject, timeout, seed)| Faults {
        fail,
        reject,
        timeout,
        seed,
    })
}

/// 0 to 5,000 targets, mostly small.
fn targets() -> impl Strategy<Value = u32> {
    prop_oneof![
        5 => 0u32..=12,
        3 => 13u32..=200,
        1 => 201u32..=5_000,
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Succeeded),
        Just(Outcome::Failed),
        Just(Outcome::Rejected),
        Just(Outcome::TimedOut),
    ]
}

/// Steps, with weights for resolutions, timers, commands and illegal inputs.
fn step_weighted(resolve: u32, command: u32, illegal: u32) -> impl Strategy<Value = Step> {
    prop_oneof![
        resolve * 3 => (any::<usize>(), prop::option::weighted(0.5, outcome()))
            .prop_map(|(p, o)| Step::Resolve(p, o)),
        resolve => (1u16..=400).prop_map(Step::ResolveMany),
        resolve => any::<usize>().prop_map(Step::FireTimer),
        command * 2 => Just(Step::Stop),
        command * 2 => Just(Step::Resume),
        command => any::<bool>().prop_map(Step::Cancel),
        command => Just(Step::Start),
        command => Just(Step::Trigger),
        resolve => Just(Step::FireDispatch),
        resolve => Just(Step::FireWindow),
        1 => Just(Step::Fail),
        1 => Just(Step::Deadline),
        2 => (0u16..=2_000).prop_map(Step::Wait),
        1 => (1u8..=20).prop_map(Step::WaitMinutes),
        illegal => (any::<u8>(), any::<usize>()).prop_map(|(k, p)| Step::Illegal(k, p)),
    ]
}

/// A sequence of steps, most often after a start.
fn steps_with(step: impl Strategy<Value = Step>, len: usize) -> impl Strategy<Value = Vec<Step>> {
    (
        prop::bool::weighted(0.85),
        prop::collection::vec(step, 0..=len),
    )
        .prop_map(|(start, mut steps)| {
            if start {
                steps.insert(0, Step::Start);
            }
            steps
        })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    steps_with(step_weighted(4, 1, 1), 60)
}

/// Runs a case: the steps, then settlement and the rerun checks. Returns the driver.
fn drive(cfg: &Cfg, n: u32, faults: Faults, steps: &[Step]) -> Driver {
    let mut d = Driver::new(cfg, n, faults);
    for s in steps {
        d.step(s);
    }
    d.settle();
    d.check_rerun();
    d
}

/// At least 256 cases per property (more with `PROPTEST_CASES`); failures are kept in
/// `proptest-regressions/engine_props.txt` (relative to this crate) and replayed first.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(ProptestConfig::default().cases.max(256));
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/engine_props.txt",
    )));
    config
}

// ===================== properties =====================

proptest! {
    #![proptest_config(config())]

    /// Every input: the run agrees with the reference model and every invariant holds; in the
    /// end every device is terminal and the rerun targets the failed devices.
    #[test]
    fn engine_agrees_with_the_reference_model(
        cfg in cfg(), n in targets(), faults in faults(), steps in steps()
    ) {
        drive(&cfg, n, faults, &steps);
    }

    /// With a threshold and many failures: the trip agrees with the model, and a closed-form
    /// check: a run that was not cancelled by the threshold never had the failures in scope at
    /// the limit, and one that was has a trip with failures equal to the limit.
    #[test]
    fn threshold_trips_exactly_at_the_limit(
        cfg in cfg_with((size(), any::<bool>()).prop_map(Some).boxed()),
        n in targets(),
        faults in (20u8..=60, 0u8..=20, 0u8..=20, any::<u64>())
            .prop_map(|(fail, reject, timeout, seed)| Faults { fail, reject, timeout, seed }),
        steps in steps_with(step_weighted(8, 1, 1), 40),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        let run = &d.run;
        let (value, per_batch) = cfg.threshold.unwrap();
        let limit = |base: u32| match value {
            Size::Pct(m) => pct_of(m, base),
            Size::Num(k) | Size::Groups(k) => k,
            Size::Phased(..) => unreachable!("thresholds are never phased"),
        };
        match run.threshold_trip() {
            Some(trip) => {
                prop_assert_eq!(run.status(), RunStatus::Cancelled);
                prop_assert_eq!(trip.failures, trip.limit);
                let base = if per_batch { run.plan().len_of(trip.batch) } else { n };
                prop_assert_eq!(trip.limit, limit(base));
                prop_assert!(trip.limit <= base);
            }
            None => {
                // Failures are only ever recorded below the limit while the run can trip; a run
                // that ends complete without a deadline never reached it.
                let deadline_fired = d.log.iter().any(|(_, i, r, a)| {
                    matches!(i, Input::Timer(Timer::Deadline)) && r.is_ok() && !a.is_empty()
                });
                let cancelled_by_command = d.log.iter().any(|(_, i, r, _)| {
                    matches!(i, Input::Cancel { .. } | Input::Fail) && r.is_ok()
                });
                if !deadline_fired && !cancelled_by_command && run.abort_trip().is_none() {
                    prop_assert_eq!(run.status(), RunStatus::Complete);
                    if per_batch {
                        for (k, b) in run.batches().iter().enumerate() {
                            prop_assert!(b.failed < limit(run.plan().len_of(k as u32)));
                        }
                    } else {
                        prop_assert!(run.counts().failed < limit(n));
                    }
                }
            }
        }
    }

    /// The same inputs always give the same actions and the same final state.
    #[test]
    fn same_inputs_same_actions(
        cfg in cfg(), n in targets(), faults in faults(), steps in steps()
    ) {
        let a = drive(&cfg, n, faults, &steps);
        let b = drive(&cfg, n, faults, &steps);
        prop_assert_eq!(&a.log, &b.log);
        prop_assert_eq!(Snapshot::of(&a.run), Snapshot::of(&b.run));
        // A clone driven with the same inputs gives the same actions too.
        let mut c = Driver::new(&cfg, n, faults);
        let mut clone = c.run.clone();
        for s in &steps {
            c.step(s);
        }
        for (now, input, result, actions) in &c.log {
            let mut out = Vec::new();
            let r = clone.handle(*now, *input, &mut out).map_err(|e| e.kind().clone());
            prop_assert_eq!(&r, result);
            prop_assert_eq!(&out, actions);
        }
        prop_assert_eq!(Snapshot::of(&c.run), Snapshot::of(&clone));
    }

    /// Illegal and stale inputs, often: each returns the error the rules give (or is ignored)
    /// and changes nothing (checked in `Driver::send` against a snapshot).
    #[test]
    fn illegal_inputs_change_nothing(
        cfg in cfg(), n in 0u32..=40, faults in faults(),
        steps in steps_with(step_weighted(2, 3, 6), 60),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        // Every illegal step sent an input, which was refused or (a stale timer, an unasked
        // deadline) ignored; the refusals are counted.
        let illegal = steps.iter().filter(|s| matches!(s, Step::Illegal(k, _) if k % 5 == 1)).count();
        prop_assert!(d.refused >= illegal);
    }

    /// Stops, resumes and cancels, often: nothing is dispatched while stopped or after a
    /// cancel (checked on every input), and the run still settles with every device terminal.
    #[test]
    fn stopped_and_cancelled_runs_dispatch_nothing(
        cfg in cfg(), n in targets(), faults in faults(),
        steps in steps_with(step_weighted(3, 4, 1), 60),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        let mut stopped = false;
        let mut cancelled = false;
        for (_, input, result, actions) in &d.log {
            let dispatches = actions.iter().any(|a| matches!(a, Action::Dispatch { .. }));
            if result.is_ok() {
                match input {
                    // A trigger goes on with a run that a gate paused (perhaps while stopped).
                    Input::Resume | Input::TriggerNextBatch => stopped = false,
                    Input::Stop => stopped = true,
                    Input::Cancel { .. } | Input::Fail => cancelled = true,
                    _ => {}
                }
            }
            if actions.contains(&Action::Status(RunStatus::Cancelled)) {
                cancelled = true;
            }
            if dispatches {
                prop_assert!(!stopped && !cancelled, "{input:?} dispatched: {actions:?}");
            }
        }
    }

    /// Retries, often: every retry is within the limit of the outcome type that caused it (per
    /// type for FAILED and TIMED_OUT, shared for ALL), and rejections are never retried
    /// (checked on every dispatch and at settlement).
    #[test]
    fn retries_never_exceed_their_limit(
        cfg in cfg_with(prop::option::weighted(0.2, (size(), any::<bool>())).boxed())
            .prop_map(|mut c| {
                if c.retry_all == 0 {
                    c.retry_failed = c.retry_failed.max(1);
                }
                c
            }),
        n in 0u32..=300,
        faults in (20u8..=70, 0u8..=20, 0u8..=30, any::<u64>())
            .prop_map(|(fail, reject, timeout, seed)| Faults { fail, reject, timeout, seed }),
        steps in steps(),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        for dev in 0..n {
            let (f, t) = d.run.retries_used(dev);
            prop_assert_eq!((f, t), d.retried[dev as usize]);
            if cfg.retry_all > 0 {
                prop_assert!(f + t <= cfg.retry_all);
            } else {
                prop_assert!(f <= cfg.retry_failed && t <= cfg.retry_timed_out);
            }
            let attempts = d.run.attempts(dev);
            prop_assert!(attempts == 1 + f + t || (attempts == 0 && f + t == 0));
        }
    }

    /// Rates, always: no 60-second window, anywhere in the run, holds more first dispatches than
    /// `max_per_minute` (windows ending at each dispatch are the fullest). The rate at every
    /// input agrees with the model, which computes the ramp from its formula.
    #[test]
    fn the_rate_is_never_exceeded_in_any_minute(
        cfg in cfg_full(any_threshold(), policies(1.0, 0.2, 0.3).boxed()),
        n in targets(),
        faults in faults(),
        steps in steps_with(step_weighted(4, 1, 1), 80),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        let rate = cfg.rate.unwrap();
        let cap = rate.max.unwrap_or(u32::MAX) as usize;
        let times = &d.first_dispatches;
        prop_assert!(times.windows(2).all(|w| w[0] <= w[1]));
        for (i, &t) in times.iter().enumerate() {
            let from = times.partition_point(|&u| u + RATE_WINDOW_MS <= t);
            let in_window = i + 1 - from;
            prop_assert!(in_window <= cap, "{} dispatches in the minute to {}", in_window, t);
        }
        // A constant rate at a cap below N needs more than one minute.
        if rate.ramp.is_none() && n as usize > cap && d.run.counts().cancelled == 0
            && !d.log.iter().any(|(_, i, _, _)| matches!(i, Input::Timer(Timer::Deadline)))
        {
            prop_assert!(times.last().unwrap() - times[0] >= RATE_WINDOW_MS);
        }
    }

    /// The ramp's schedule is its formula: rate k = min(cap, floor(base × factor^k)), computed
    /// exactly; cross-checked against floating point where that is exact (factors with a
    /// binary fraction and products below 2^53).
    #[test]
    fn the_ramp_follows_its_formula(
        base in 1u32..=1_000,
        factor_tenths in 11u32..=50,
        cap in prop_oneof![1u32..=1_000, 1_000u32..=10_000_000, Just(u32::MAX)],
    ) {
        let cap = cap.max(base);
        let ramp = ExponentialRamp::new(base, f64::from(factor_tenths) / 10.0, RampCriterion::Notified(1)).unwrap();
        let schedule = ramp.schedule(cap);
        prop_assert_eq!(schedule[0], base);
        prop_assert_eq!(*schedule.last().unwrap(), cap);
        prop_assert!(schedule.windows(2).all(|w| w[0] <= w[1]));
        for (k, &r) in schedule.iter().enumerate() {
            let exact = ramp_formula(base, factor_tenths, k as u32).min(u64::from(cap));
            prop_assert_eq!(u64::from(r), exact, "level {}", k);
            if k + 1 < schedule.len() {
                prop_assert!(r < cap);
            }
            let factor = f64::from(factor_tenths) / 10.0;
            let float = f64::from(base) * factor.powi(k as i32);
            if factor_tenths % 5 == 0 && float < 9.0e15 {
                prop_assert_eq!(exact, (float.floor() as u64).min(u64::from(cap)));
            }
        }
    }

    /// Abort criteria, often tripping: the trip agrees with the model (checked on every input),
    /// never comes before its criterion's minimum of executed devices, and a run that ends
    /// complete never met any criterion at its end.
    #[test]
    fn no_abort_before_the_minimum_executed_count(
        cfg in cfg_full(prop::option::weighted(0.2, (size(), any::<bool>())).boxed(),
            (prop::option::weighted(0.3, rate()), aborts(4).prop_filter("criteria", |a| !a.is_empty()),
             prop::option::weighted(0.2, gate()))
                .prop_map(|(rate, abort, gate)| Policies { rate, abort, gate, windows: None }).boxed())
            .prop_flat_map(|c| (Just(c), prop::option::weighted(0.2, windows())))
            .prop_map(|(c, windows)| Cfg { windows, ..c }),
        n in targets(),
        faults in (10u8..=60, 0u8..=20, 0u8..=20, any::<u64>())
            .prop_map(|(fail, reject, timeout, seed)| Faults { fail, reject, timeout, seed }),
        steps in steps_with(step_weighted(8, 1, 1), 40),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        let run = &d.run;
        match run.abort_trip() {
            Some(trip) => {
                prop_assert_eq!(run.status(), RunStatus::Cancelled);
                let a = cfg.abort[trip.criterion as usize];
                prop_assert_eq!(trip.failure_type, a.kind);
                prop_assert!(trip.executed >= a.min_executed);
                prop_assert!(trip.failures <= trip.executed);
            }
            None if run.status() == RunStatus::Complete => {
                let deadline_fired = d.log.iter().any(|(_, i, r, a)| {
                    matches!(i, Input::Timer(Timer::Deadline)) && r.is_ok() && !a.is_empty()
                });
                if !deadline_fired {
                    let c = run.counts();
                    let executed = c.succeeded + c.failed;
                    for a in &cfg.abort {
                        let failures = run.failures_of(a.kind);
                        prop_assert!(
                            executed < a.min_executed
                                || u128::from(failures) * 100_000_000
                                    < u128::from(a.micros) * u128::from(executed),
                            "{:?} held at the end: {} of {}", a, failures, executed
                        );
                    }
                }
            }
            None => {}
        }
    }

    /// Gates, often pausing: a paused run dispatches nothing until it is resumed or triggered
    /// (checked on every input: dispatches come only from running runs, and in an input that
    /// pauses, before the pause), and every pause has the reason the gate gives.
    #[test]
    fn a_paused_run_dispatches_nothing(
        cfg in cfg_full(prop::option::weighted(0.2, (size(), any::<bool>())).boxed(),
            policies_with(0.3, 0.1, 1.0, 0.5).boxed())
            .prop_map(|mut c| { c.batch = Some(c.batch.unwrap_or(Size::Groups(4))); c }),
        n in targets(),
        faults in (0u8..=50, 0u8..=20, 0u8..=20, any::<u64>())
            .prop_map(|(fail, reject, timeout, seed)| Faults { fail, reject, timeout, seed }),
        steps in steps_with(step_weighted(6, 2, 1), 60),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        let mut paused = false;
        for (_, input, result, actions) in &d.log {
            if result.is_err() {
                continue;
            }
            let mut dispatched_after_pause = false;
            let mut in_input_paused = paused
                && !matches!(input, Input::Resume | Input::TriggerNextBatch);
            for a in actions {
                match a {
                    Action::Status(RunStatus::Paused) => in_input_paused = true,
                    Action::Status(_) => in_input_paused = false,
                    Action::Dispatch { .. } if in_input_paused => dispatched_after_pause = true,
                    _ => {}
                }
            }
            prop_assert!(!dispatched_after_pause, "{:?} dispatched while paused: {:?}", input, actions);
            paused = in_input_paused;
        }
        for p in d.run.pauses() {
            let stats = d.run.batches()[p.batch as usize];
            match p.reason {
                PauseReason::ErrorCondition { failures, limit } => {
                    prop_assert!(failures >= limit);
                    let micros = cfg.gate.unwrap().error.unwrap();
                    prop_assert!(u128::from(failures) * 100_000_000 > u128::from(micros) * u128::from(stats.size));
                }
                PauseReason::SuccessReached { succeeded, limit } => prop_assert!(succeeded >= limit),
                PauseReason::BelowSuccess { succeeded, limit } => {
                    prop_assert!(succeeded < limit);
                    prop_assert!(p.batch + 1 < d.run.plan().count(), "the last batch does not pause below success");
                }
            }
        }
    }

    /// Maintenance windows, always: no device is dispatched and no batch starts while every
    /// window is closed, by the library's own `is_open` at each dispatch's instant; every
    /// window timer comes due at an opening; each wait is one window timer.
    #[test]
    fn nothing_is_dispatched_while_every_window_is_closed(
        cfg in cfg_full(any_threshold(), policies_with(0.3, 0.2, 0.5, 1.0).boxed()),
        n in targets(),
        faults in faults(),
        steps in steps_with(step_weighted(4, 1, 1), 80),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        let w = cfg.windows.as_ref().unwrap();
        let compiled = w.compile();
        let open = |t: i64| compiled.is_open(w.origin_ms + t);
        let mut timers = 0;
        for (now, input, _, actions) in &d.log {
            for a in actions {
                match *a {
                    Action::Dispatch { .. } | Action::BatchStarted { .. } => {
                        prop_assert!(open(*now), "{:?} by {:?} at {}", a, input, now);
                    }
                    Action::SetTimer { at_ms, timer: Timer::Window } => {
                        timers += 1;
                        prop_assert!(!open(*now) && open(at_ms) && !open(at_ms - 1));
                    }
                    _ => {}
                }
            }
        }
        prop_assert_eq!(d.run.window_waits(), timers);
        for b in d.run.batches() {
            if let Some(t) = b.started_ms {
                prop_assert!(open(t), "a batch started at {} outside the windows", t);
            }
        }
    }

    /// Liveness: a run with windows that open again, driven to the end without cancels,
    /// thresholds, abort criteria or deadlines, completes with every device in the state the
    /// same run without windows ends in, after the same attempts; only later: its k-th first
    /// dispatch comes no earlier than the k-th of the run without windows, and it finishes no
    /// earlier. Both are driven as a simulator would (`settle_in_time_order`): every attempt
    /// answers the same time after its dispatch, every timer comes back at its time.
    #[test]
    fn windows_only_delay_a_run(
        cfg in cfg_full(Just(None).boxed(), policies_with(0.3, 0.0, 0.3, 1.0).boxed())
            .prop_map(|mut c| {
                c.deadline_ms = None;
                if let Some(w) = &mut c.windows {
                    w.list[0].past = false;
                }
                c
            }),
        n in 0u32..=300,
        faults in faults(),
    ) {
        // The same pace for both: the windows alone make the difference.
        let plain = Cfg { windows: None, ..cfg.clone() };
        let mut a = Driver::new(&plain, n, faults);
        a.pace_ms = cfg.windows.as_ref().unwrap().pace_ms;
        a.settle_in_time_order();
        let mut b = Driver::new(&cfg, n, faults);
        b.settle_in_time_order();
        prop_assert_eq!(a.run.status(), RunStatus::Complete);
        prop_assert_eq!(b.run.status(), RunStatus::Complete);
        prop_assert_eq!(a.run.device_states(), b.run.device_states());
        for dev in 0..n {
            prop_assert_eq!(a.run.attempts(dev), b.run.attempts(dev));
        }
        prop_assert_eq!(a.first_dispatches.len(), n as usize);
        prop_assert_eq!(b.first_dispatches.len(), n as usize);
        for (k, (ta, tb)) in a.first_dispatches.iter().zip(&b.first_dispatches).enumerate() {
            prop_assert!(tb >= ta, "first dispatch {}: {} with windows, {} without", k, tb, ta);
        }
        prop_assert!(b.run.finished_ms() >= a.run.finished_ms());
    }

    /// A run with zero targets completes at once when it starts, whatever its configuration.
    #[test]
    fn zero_targets_complete_at_once(cfg in cfg(), faults in faults(), steps in steps()) {
        let mut d = Driver::new(&cfg, 0, faults);
        d.now = 1_000;
        let mut actions = Vec::new();
        let mut run = d.run.clone();
        run.handle(1_000, Input::Start, &mut actions).unwrap();
        // No deadline timer: a run without targets completes at once.
        let want = vec![
            Action::Status(RunStatus::Running),
            Action::Status(RunStatus::Complete),
        ];
        prop_assert_eq!(actions, want);
        prop_assert!(run.is_settled());
        prop_assert_eq!(run.finished_ms(), Some(1_000));
        let (rerun, indices) = run.rerun().unwrap();
        prop_assert!(indices.is_empty());
        prop_assert_eq!(rerun.counts(), Counts::new(0));
        // And under any sequence of inputs, via the model.
        for s in &steps {
            d.step(s);
        }
        d.settle();
    }

    /// Large fleets (1,000 to 5,000 targets) with compact steps that answer many devices at
    /// once, then settlement; then the rerun is driven to settlement against the model as well.
    #[test]
    fn large_fleets_and_their_reruns(
        cfg in cfg(), n in 1_000u32..=5_000, faults in faults(),
        steps in steps_with(prop_oneof![
            4 => (1u16..=2_000).prop_map(Step::ResolveMany),
            1 => Just(Step::Stop),
            2 => Just(Step::Resume),
            1 => any::<usize>().prop_map(Step::FireTimer),
            1 => any::<bool>().prop_map(Step::Cancel),
            1 => Just(Step::Deadline),
            1 => (any::<u8>(), any::<usize>()).prop_map(|(k, p)| Step::Illegal(k, p)),
        ], 12),
    ) {
        let d = drive(&cfg, n, faults, &steps);
        if let Some((rerun, indices)) = d.check_rerun() {
            let mut r = Driver::new(&cfg, indices.len() as u32, faults);
            prop_assert_eq!(Snapshot::of(&r.run), Snapshot::of(&rerun));
            r.run = rerun;
            r.settle();
            r.check_rerun();
        }
    }
}
