//! A bounded, evenly spaced time series: of a job's device counts (see [`crate::Sample`]), and
//! of the hub model's queues (see [`crate::HubSample`]).

use fleet_core::Counts;

use crate::result::{HubSample, Sample};

/// A sample of a series: something taken at an instant.
pub(crate) trait Timed: Copy {
    fn at_ms(&self) -> i64;
}

impl Timed for Sample {
    fn at_ms(&self) -> i64 {
        self.at_ms
    }
}

impl Timed for HubSample {
    fn at_ms(&self) -> i64 {
        self.at_ms
    }
}

/// The first sampling step; it doubles whenever the series is full.
const FIRST_STEP_MS: i64 = 100;

/// Samples at `start + k * step` for `k = 0, 1, ...`, at most `max` of them, plus a final one.
///
/// Cost: O(1) amortised per recorded sample; halving the series is O(max) and happens once
/// per doubling of the simulated span, so a run of any length records O(max * log(span)).
#[derive(Debug, Clone)]
pub(crate) struct Series<S = Sample> {
    start_ms: i64,
    step_ms: i64,
    /// The next instant to sample; `i64::MAX` when the series is not active.
    pub(crate) next_ms: i64,
    samples: Vec<S>,
    max: usize,
}

fn sample(at_ms: i64, c: Counts) -> Sample {
    Sample {
        at_ms,
        pending: c.pending,
        in_flight: c.in_flight,
        succeeded: c.succeeded,
        failed: c.failed,
        cancelled: c.cancelled,
    }
}

impl Series<Sample> {
    /// Starts sampling at `now_ms` with the counts then.
    pub(crate) fn start(&mut self, now_ms: i64, counts: Counts) {
        self.start_with(now_ms, sample(now_ms, counts));
    }

    /// Records the samples due strictly before `now_ms`: the counts have not changed since the
    /// last event, which was before them.
    #[inline]
    pub(crate) fn advance(&mut self, now_ms: i64, counts: Counts) {
        self.advance_with(now_ms, |t| sample(t, counts));
    }

    /// Records the final sample at `now_ms` and stops.
    pub(crate) fn finish(&mut self, now_ms: i64, counts: Counts) {
        self.finish_with(now_ms, |t| sample(t, counts));
    }
}

impl<S: Timed> Series<S> {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            start_ms: 0,
            step_ms: FIRST_STEP_MS,
            next_ms: i64::MAX,
            samples: Vec::new(),
            max: max.max(4),
        }
    }

    /// Starts sampling at `now_ms` with `first`.
    pub(crate) fn start_with(&mut self, now_ms: i64, first: S) {
        self.start_ms = now_ms;
        self.samples.push(first);
        self.next_ms = now_ms + self.step_ms;
    }

    /// Records the samples due strictly before `now_ms`, each made by `at(instant)`.
    #[inline]
    pub(crate) fn advance_with(&mut self, now_ms: i64, at: impl Fn(i64) -> S) {
        while self.next_ms < now_ms {
            self.samples.push(at(self.next_ms));
            if self.samples.len() >= self.max {
                let mut k = 0;
                self.samples.retain(|_| {
                    k += 1;
                    k % 2 == 1
                });
                self.step_ms *= 2;
                self.next_ms = self.start_ms + self.samples.len() as i64 * self.step_ms;
            } else {
                self.next_ms += self.step_ms;
            }
        }
    }

    /// Records the final sample at `now_ms` and stops.
    pub(crate) fn finish_with(&mut self, now_ms: i64, at: impl Fn(i64) -> S) {
        if self.next_ms == i64::MAX {
            return;
        }
        self.advance_with(now_ms, &at);
        match self.samples.last_mut() {
            Some(last) if last.at_ms() == now_ms => *last = at(now_ms),
            _ => self.samples.push(at(now_ms)),
        }
        self.next_ms = i64::MAX;
    }

    pub(crate) fn into_samples(self) -> Vec<S> {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_aligned() {
        let mut s = Series::new(10);
        s.start(1000, Counts::new(5));
        for t in (1000..1_000_000).step_by(777) {
            s.advance(t, Counts::new(5));
        }
        s.finish(1_000_000, Counts::new(5));
        let v = s.into_samples();
        assert!(v.len() <= 11, "{}", v.len());
        let step = v[1].at_ms - v[0].at_ms;
        for w in v[..v.len() - 1].windows(2) {
            assert_eq!(w[1].at_ms - w[0].at_ms, step);
        }
        assert_eq!(v.last().unwrap().at_ms, 1_000_000);
    }
}
