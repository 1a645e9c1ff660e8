//! A bounded, evenly spaced time series of a job's device counts (see [`crate::Sample`]).

use fleet_core::Counts;

use crate::result::Sample;

/// The first sampling step; it doubles whenever the series is full.
const FIRST_STEP_MS: i64 = 100;

/// Samples at `start + k * step` for `k = 0, 1, ...`, at most `max` of them, plus a final one.
///
/// Cost: O(1) amortised per recorded sample; halving the series is O(max) and happens once
/// per doubling of the simulated span, so a run of any length records O(max * log(span)).
#[derive(Debug, Clone)]
pub(crate) struct Series {
    start_ms: i64,
    step_ms: i64,
    /// The next instant to sample; `i64::MAX` when the series is not active.
    pub(crate) next_ms: i64,
    samples: Vec<Sample>,
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

impl Series {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            start_ms: 0,
            step_ms: FIRST_STEP_MS,
            next_ms: i64::MAX,
            samples: Vec::new(),
            max: max.max(4),
        }
    }

    /// Starts sampling at `now_ms` with the counts then.
    pub(crate) fn start(&mut self, now_ms: i64, counts: Counts) {
        self.start_ms = now_ms;
        self.samples.push(sample(now_ms, counts));
        self.next_ms = now_ms + self.step_ms;
    }

    /// Records the samples due strictly before `now_ms`: the counts have not changed since the
    /// last event, which was before them.
    #[inline]
    pub(crate) fn advance(&mut self, now_ms: i64, counts: Counts) {
        while self.next_ms < now_ms {
            self.samples.push(sample(self.next_ms, counts));
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
    pub(crate) fn finish(&mut self, now_ms: i64, counts: Counts) {
        if self.next_ms == i64::MAX {
            return;
        }
        self.advance(now_ms, counts);
        match self.samples.last_mut() {
            Some(last) if last.at_ms == now_ms => *last = sample(now_ms, counts),
            _ => self.samples.push(sample(now_ms, counts)),
        }
        self.next_ms = i64::MAX;
    }

    pub(crate) fn into_samples(self) -> Vec<Sample> {
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
