//! The design floor of the reference rollout (issue 20, eighth round): the least work the
//! rollout needs once DESIGN.md's obligations are added to the least-work yardstick
//! ([`crate::least_work_rollout`]). A yardstick, not a feature: no event queue, no engine, no
//! executor, no layering; each obligation in its cheapest form.
//!
//! The obligations, and the form each takes here:
//!
//! - **Keyed streams** (DESIGN.md section 6, "Determinism": every draw from a stream keyed by
//!   seed, device, run, attempt and purpose, so that a device's fate does not depend on the
//!   order of events). Per device three streams are opened, as fleetsim's rollout opens them:
//!   the tag drawn when the fleet is generated, the "offline" draw and the operation's draws
//!   (a uniform for the fault, then the log-normal latency). A key costs three 64-bit mixes and
//!   a PCG-64 seeding, as in `fleet_sim`'s `rng` module; the values are this program's own.
//! - **Every event in time order** (the trace hash of every event, the engine's rules that see
//!   outcomes one by one: the threshold's instant, gates, rates, the series). A batch's answers
//!   and time-outs are ordered by a stable counting sort on the millisecond (the cheapest sort
//!   for times within the 30 s time-out), and each event is folded into a trace hash.
//! - **Per-device results** (the per-device CSV, the fleet's documented state after the run):
//!   a state, an attempt and a reason byte per device, the desired value and its `$version`
//!   written at the dispatch, the reported value and its `$version` at a successful answer.
//! - **The engine's counts per event**, with the job-wide threshold checked at each failure,
//!   and the series' sample check.
//!
//! Cost: O(N) draws and writes, and O(N + W) for the sort, where W is the time-out in
//! milliseconds (one counter per millisecond of a batch). Memory: 15 bytes per device of
//! results and a tag, plus 8 bytes per device of a batch for the sort.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

use crate::least_work::LeastWork;

const OFFLINE_P: f64 = 0.01;
const FAILURE_P: f64 = 0.02;
const MEDIAN_MS: f64 = 2000.0;
const SIGMA: f64 = 0.5;
const TIMEOUT_MS: i64 = 30_000;
const SAMPLE_MS: i64 = 1_000;

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const TAG: u64 = 2;
const OFFLINE: u64 = 6;
const OPERATION: u64 = 8;

/// A device's state (the engine's `DeviceState` in a byte).
const IN_FLIGHT: u8 = 1;
const SUCCEEDED: u8 = 2;
const FAILED: u8 = 3;
const TIMED_OUT: u8 = 4;
/// An event of the sort: the high bit of the device marks a time-out.
const TIMEOUT_BIT: u32 = 1 << 31;

#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stream keyed by (key, device, counter, purpose), at the cost of fleetsim's.
#[inline(always)]
fn stream(key: u64, device: u64, counter: u64, purpose: u64) -> Pcg64Mcg {
    let mut h = mix64(key ^ device.wrapping_add(GOLDEN));
    h = mix64(h ^ (counter << 32 | purpose));
    let lo = mix64(h ^ GOLDEN);
    Pcg64Mcg::new(u128::from(h) << 64 | u128::from(lo))
}

#[inline(always)]
fn unit(r: &mut Pcg64Mcg) -> f64 {
    (r.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A non-negative time rounded to the millisecond, half away from zero, without a call to
/// libm's `round` (as fleetsim rounds).
#[inline(always)]
fn round_ms(ms: f64) -> i64 {
    let t = ms as i64;
    t + i64::from(ms - t as f64 >= 0.5)
}

/// The per-device columns: what the run leaves behind.
struct Columns {
    tag: Vec<u8>,
    state: Vec<u8>,
    attempt: Vec<u8>,
    reason: Vec<u8>,
    desired: Vec<u16>,
    desired_version: Vec<u16>,
    reported: Vec<u16>,
    reported_version: Vec<u16>,
}

/// The run's counts, clock and trace as the events pass.
#[derive(Default)]
struct Tally {
    out: LeastWork,
    trace: u64,
    next_sample_ms: i64,
    samples: u32,
    limit: u32,
}

impl Tally {
    #[inline(always)]
    fn event(&mut self, at_ms: i64, payload: u64) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        self.trace = (self.trace.rotate_left(5) ^ at_ms as u64).wrapping_mul(K);
        self.trace = (self.trace.rotate_left(5) ^ payload).wrapping_mul(K);
        if at_ms > self.next_sample_ms {
            self.next_sample_ms = at_ms + SAMPLE_MS;
            self.samples += 1;
        }
    }

    #[inline(always)]
    fn failed(&mut self, at_ms: i64) {
        self.out.failed += 1;
        if self.out.failed == self.limit {
            self.out.tripped_ms = Some(at_ms);
        }
    }
}

/// What the design floor computes: the yardstick's counts, and the trace hash and number of
/// series samples, so that no obligation can be optimised away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesignFloor {
    /// The counts, as the yardstick's.
    pub counts: LeastWork,
    /// The hash of every event, in time order.
    pub trace: u64,
    /// Samples of the series taken.
    pub samples: u32,
    /// Devices whose reported value was written (the successful ones).
    pub reported: u32,
    /// Devices whose tag is the first value (a quarter of them).
    pub first_tag: u32,
}

/// The reference rollout over `n` devices with batches of `batch_percent` % and a job-wide
/// threshold of `threshold_percent` % (the reference: 10 and 10), seeded by `seed`, with the
/// obligations of DESIGN.md (see the module's documentation).
pub fn design_floor_rollout(
    n: u32,
    batch_percent: f64,
    threshold_percent: f64,
    seed: u64,
) -> DesignFloor {
    assert!(batch_percent > 0.0 && batch_percent <= 100.0);
    assert!(
        n < TIMEOUT_BIT,
        "device numbers leave the time-out bit free"
    );
    let batch = ((batch_percent * f64::from(n) / 100.0).ceil() as u32).max(1);
    let seed_key = mix64(seed.wrapping_add(GOLDEN));
    let run_key = mix64(seed_key ^ GOLDEN);
    let mut cols = generate(n, seed_key);
    let mut tally = Tally {
        limit: ((threshold_percent * f64::from(n) / 100.0).ceil() as u32).max(1),
        ..Tally::default()
    };
    let mut sort = Sort::new(batch as usize);
    let (mut first, mut start_ms) = (0u32, 0i64);
    while first < n && tally.out.tripped_ms.is_none() {
        let end = (first + batch).min(n);
        sort.clear();
        for d in first..end {
            dispatch(&mut cols, &mut sort, d, (seed_key, run_key));
        }
        let last_ms = answer(&mut cols, &mut tally, sort.sorted(), start_ms);
        tally.out.dispatched += end - first;
        tally.out.batches += 1;
        tally.out.end_ms = last_ms;
        start_ms = last_ms;
        first = end;
    }
    tally.out.succeeded = tally.out.dispatched - tally.out.failed;
    let reported = cols.reported_version.iter().map(|&v| u32::from(v)).sum();
    DesignFloor {
        counts: tally.out,
        trace: tally.trace,
        samples: tally.samples,
        reported,
        first_tag: cols.tag.iter().map(|&t| u32::from(t)).sum(),
    }
}

/// The fleet: a tag per device from its keyed stream (a quarter "1.2", the rest "1.3").
fn generate(n: u32, seed_key: u64) -> Columns {
    let zeros = || vec![0u8; n as usize];
    let mut tag = zeros();
    for (d, t) in tag.iter_mut().enumerate() {
        *t = u8::from(unit(&mut stream(seed_key, d as u64, 0, TAG)) < 0.25);
    }
    let zeros16 = || vec![0u16; n as usize];
    Columns {
        tag,
        state: zeros(),
        attempt: zeros(),
        reason: zeros(),
        desired: zeros16(),
        desired_version: zeros16(),
        reported: zeros16(),
        reported_version: zeros16(),
    }
}

/// Dispatches device `d`: the desired value written, its fate drawn from its keyed streams,
/// its answer (or time-out) handed to the sort at its offset from the batch's start.
#[inline(always)]
fn dispatch(cols: &mut Columns, sort: &mut Sort, d: u32, (seed_key, run_key): (u64, u64)) {
    let i = d as usize;
    cols.state[i] = IN_FLIGHT;
    cols.attempt[i] = 1;
    cols.desired[i] = 1;
    cols.desired_version[i] += 1;
    if unit(&mut stream(seed_key, u64::from(d), 0, OFFLINE)) < OFFLINE_P {
        cols.reason[i] = 1;
        sort.push(TIMEOUT_MS as u32, d | TIMEOUT_BIT);
        return;
    }
    let mut r = stream(run_key, u64::from(d), 1, OPERATION);
    let fails = unit(&mut r) < FAILURE_P;
    let z: f64 = StandardNormal.sample(&mut r);
    let latency_ms = round_ms(MEDIAN_MS * (SIGMA * z).exp());
    cols.reason[i] = u8::from(fails) << 1;
    if latency_ms > TIMEOUT_MS {
        sort.push(TIMEOUT_MS as u32, d | TIMEOUT_BIT);
    } else {
        sort.push(latency_ms as u32, d);
    }
}

/// The batch's events in time order: the engine's counts, the trace, the results. Returns the
/// time of the last event (the batch's end).
fn answer(cols: &mut Columns, tally: &mut Tally, events: &[(u32, u32)], start_ms: i64) -> i64 {
    let mut last_ms = start_ms;
    for &(offset_ms, e) in events {
        let at_ms = start_ms + i64::from(offset_ms);
        let i = (e & !TIMEOUT_BIT) as usize;
        tally.event(at_ms, u64::from(e));
        last_ms = at_ms;
        if e & TIMEOUT_BIT != 0 {
            cols.state[i] = TIMED_OUT;
            tally.failed(at_ms);
        } else if cols.reason[i] != 0 {
            cols.state[i] = FAILED;
            tally.failed(at_ms);
        } else {
            cols.state[i] = SUCCEEDED;
            cols.reported[i] = cols.desired[i];
            cols.reported_version[i] += 1;
        }
    }
    last_ms
}

/// A stable counting sort of a batch's events on their millisecond offset (0 to the time-out).
struct Sort {
    pushed: Vec<(u32, u32)>,
    sorted: Vec<(u32, u32)>,
    counts: Vec<u32>,
}

impl Sort {
    fn new(capacity: usize) -> Self {
        Self {
            pushed: Vec::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
            counts: vec![0; TIMEOUT_MS as usize + 2],
        }
    }

    fn clear(&mut self) {
        self.pushed.clear();
        self.counts.fill(0);
    }

    #[inline(always)]
    fn push(&mut self, offset_ms: u32, event: u32) {
        self.counts[offset_ms as usize + 1] += 1;
        self.pushed.push((offset_ms, event));
    }

    fn sorted(&mut self) -> &[(u32, u32)] {
        for k in 1..self.counts.len() {
            self.counts[k] += self.counts[k - 1];
        }
        self.sorted.clear();
        self.sorted.resize(self.pushed.len(), (0, 0));
        for &(offset_ms, event) in &self.pushed {
            let at = &mut self.counts[offset_ms as usize];
            self.sorted[*at as usize] = (offset_ms, event);
            *at += 1;
        }
        &self.sorted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_completes_with_about_three_percent_failed() {
        let r = design_floor_rollout(100_000, 10.0, 10.0, 1);
        let c = r.counts;
        assert_eq!((c.dispatched, c.batches, c.tripped_ms), (100_000, 10, None));
        let failed = f64::from(c.failed) / 1000.0;
        assert!((2.5..3.5).contains(&failed), "{failed} %");
        assert_eq!(c.end_ms, 10 * 30_000);
        assert_eq!(r.reported, c.succeeded);
        assert!((24_000..26_000).contains(&r.first_tag), "{}", r.first_tag);
        // A sample at most every second of the 300 s, at least one per batch.
        assert!((10..=300).contains(&r.samples), "{}", r.samples);
    }

    #[test]
    fn a_low_threshold_trips_in_the_first_batch() {
        let r = design_floor_rollout(100_000, 10.0, 0.2, 1);
        assert_eq!(r.counts.batches, 1);
        let t = r.counts.tripped_ms.expect("the threshold trips");
        assert!(t > 0 && t <= 30_000, "{t}");
    }

    #[test]
    fn the_sort_is_stable_and_in_time_order() {
        let mut s = Sort::new(8);
        s.clear();
        for (offset_ms, e) in [(5, 0), (3, 1), (5, 2), (0, 3), (30_000, 4), (3, 5)] {
            s.push(offset_ms, e);
        }
        let got: Vec<u32> = s.sorted().iter().map(|&(_, e)| e).collect();
        assert_eq!(got, [3, 1, 5, 0, 2, 4]);
    }

    #[test]
    fn the_trace_depends_on_the_seed() {
        let a = design_floor_rollout(10_000, 10.0, 10.0, 1);
        let b = design_floor_rollout(10_000, 10.0, 10.0, 2);
        assert_eq!(a, design_floor_rollout(10_000, 10.0, 10.0, 1));
        assert_ne!(a.trace, b.trace);
    }
}
