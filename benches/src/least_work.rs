//! The least-work yardstick of the reference rollout (issue 20): a program that does only the
//! work the rollout of DESIGN.md section 9 cannot avoid, to measure fleetsim against. It is a
//! yardstick, not a feature: no event queue, no engine, no fleet, no report.
//!
//! Per device: one uniform draw ("offline", 1 %), then for an online device one log-normal
//! latency (median 2 s, sigma 0.5) and one uniform draw ("fails", 2 %). An offline device
//! answers never and times out after 30 s. Batches of 10 % run in sequence; a batch ends at its
//! latest answer (or time-out). The job-wide cancellation threshold (10 % of all devices) is
//! found by sorting only the failure times of the batch in which the failures reach the limit;
//! the run then stops after that batch (its in-flight devices finish).
//!
//! One sequential generator (PCG-64 MCG, the simulator's algorithm) draws everything, so this
//! program's numbers are not fleetsim's per device; its counts agree with fleetsim's within
//! sampling error (the tests check the shape).
//!
//! Cost: O(N) draws plus O(F log F) for the failure times of the tripping batch, where F is
//! that batch's failures; memory O(batch failures).

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;

/// What the yardstick computes: enough to check it against the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeastWork {
    /// Devices dispatched.
    pub dispatched: u32,
    /// Devices that succeeded.
    pub succeeded: u32,
    /// Devices that failed (offline ones time out and fail too).
    pub failed: u32,
    /// Batches started.
    pub batches: u32,
    /// When the last batch ended (ms after the start).
    pub end_ms: i64,
    /// When the threshold tripped, if it did.
    pub tripped_ms: Option<i64>,
}

const OFFLINE_P: f64 = 0.01;
const FAILURE_P: f64 = 0.02;
const MEDIAN_MS: f64 = 2000.0;
const SIGMA: f64 = 0.5;
const TIMEOUT_MS: i64 = 30_000;

/// A uniform draw in `[0, 1)` from 53 bits.
#[inline]
fn unit(r: &mut Pcg64Mcg) -> f64 {
    (r.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The reference rollout over `n` devices with batches of `batch_percent` % and a job-wide
/// threshold of `threshold_percent` % (the reference: 10 and 10), seeded by `seed`.
pub fn least_work_rollout(
    n: u32,
    batch_percent: f64,
    threshold_percent: f64,
    seed: u64,
) -> LeastWork {
    assert!(batch_percent > 0.0 && batch_percent <= 100.0);
    let batch = ((batch_percent * f64::from(n) / 100.0).ceil() as u32).max(1);
    let limit = ((threshold_percent * f64::from(n) / 100.0).ceil() as u32).max(1);
    let mut r = Pcg64Mcg::new(u128::from(seed) << 64 | 0x9E37_79B9_7F4A_7C15);
    let mut out = LeastWork::default();
    let mut failures_ms: Vec<i64> = Vec::new();
    let mut start_ms = 0i64;
    let mut first = 0u32;
    while first < n && out.tripped_ms.is_none() {
        let end = (first + batch).min(n);
        let mut latest_ms = start_ms;
        failures_ms.clear();
        for _ in first..end {
            let answer_ms = if unit(&mut r) < OFFLINE_P {
                failures_ms.push(start_ms + TIMEOUT_MS);
                start_ms + TIMEOUT_MS
            } else {
                let z: f64 = StandardNormal.sample(&mut r);
                let at = start_ms + (MEDIAN_MS * (SIGMA * z).exp()).round() as i64;
                if unit(&mut r) < FAILURE_P {
                    failures_ms.push(at.min(start_ms + TIMEOUT_MS));
                }
                at.min(start_ms + TIMEOUT_MS)
            };
            latest_ms = latest_ms.max(answer_ms);
        }
        let batch_failed = failures_ms.len() as u32;
        if out.failed + batch_failed >= limit {
            failures_ms.sort_unstable();
            out.tripped_ms = Some(failures_ms[(limit - out.failed - 1) as usize]);
        }
        out.dispatched += end - first;
        out.failed += batch_failed;
        out.batches += 1;
        out.end_ms = latest_ms;
        start_ms = latest_ms;
        first = end;
    }
    out.succeeded = out.dispatched - out.failed;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_completes_with_about_three_percent_failed() {
        let r = least_work_rollout(100_000, 10.0, 10.0, 1);
        assert_eq!(r.dispatched, 100_000);
        assert_eq!(r.batches, 10);
        assert_eq!(r.tripped_ms, None);
        let failed = f64::from(r.failed) / 1000.0;
        assert!((2.5..3.5).contains(&failed), "{failed} %");
        // Every batch waits for its offline devices' 30 s time-out.
        assert_eq!(r.end_ms, 10 * 30_000);
    }

    #[test]
    fn a_low_threshold_trips_in_the_first_batch_and_stops_there() {
        // A threshold of 0.2 % of all (200 devices); the first batch has about 300 failures.
        let r = least_work_rollout(100_000, 10.0, 0.2, 1);
        assert_eq!(r.batches, 1);
        assert_eq!(r.dispatched, 10_000);
        assert!(r.failed >= 200);
        let t = r.tripped_ms.expect("the threshold trips");
        assert!(t > 0 && t <= 30_000, "{t}");
    }
}
