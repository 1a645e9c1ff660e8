//! Dispatch rate and exponential ramp-up (AWS `jobExecutionsRolloutConfig`; semantics rule 13).
//!
//! A rate limits how many devices are **notified** (dispatched for the first time) in any
//! 60-second window. Retries are not limited: a retry re-notifies a device already counted.

use std::collections::VecDeque;

use crate::error::{Error, ErrorKind, Result};

/// The length of the sliding window a rate counts in: one minute.
pub const RATE_WINDOW_MS: i64 = 60_000;

/// What makes an exponential ramp increase its rate (AWS `rateIncreaseCriteria`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RampCriterion {
    /// The rate increases each time this many more devices have been notified
    /// (`numberOfNotifiedThings`).
    Notified(u32),
    /// The rate increases each time this many more devices have succeeded
    /// (`numberOfSucceededThings`).
    Succeeded(u32),
}

impl RampCriterion {
    fn every(self) -> u32 {
        match self {
            Self::Notified(n) | Self::Succeeded(n) => n,
        }
    }
}

/// An exponential ramp-up of the dispatch rate (AWS `exponentialRate`).
///
/// The rate starts at `base_per_minute`; the k-th increase happens when the criterion's count
/// (devices notified, or devices succeeded) reaches `k × n`, and the rate after k increases is
/// `floor(base × factor^k)`, computed exactly, and capped by the run's `max_per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExponentialRamp {
    base_per_minute: u32,
    factor_tenths: u32,
    criterion: RampCriterion,
}

/// The least increment factor (AWS's limit).
pub const INCREMENT_FACTOR_MIN: f64 = 1.1;
/// The largest increment factor (AWS's limit).
pub const INCREMENT_FACTOR_MAX: f64 = 5.0;

impl ExponentialRamp {
    /// A ramp starting at `base_per_minute` (at least 1), multiplied by `increment_factor`
    /// (1.1 to 5, with at most one decimal, as AWS requires) each time the criterion's count
    /// (at least 1) is reached again.
    pub fn new(
        base_per_minute: u32,
        increment_factor: f64,
        criterion: RampCriterion,
    ) -> Result<Self> {
        if base_per_minute == 0 {
            return Err(Error::at(
                "base_per_minute",
                ErrorKind::InvalidValue("a base rate of 0 devices per minute".into()),
            ));
        }
        let tenths = (increment_factor * 10.0).round();
        let in_range = increment_factor.is_finite()
            && (INCREMENT_FACTOR_MIN..=INCREMENT_FACTOR_MAX).contains(&increment_factor);
        if !in_range || (increment_factor * 10.0 - tenths).abs() > 1e-9 {
            return Err(Error::at(
                "increment_factor",
                ErrorKind::InvalidValue(format!(
                    "{increment_factor}: the factor must be 1.1 to 5 with at most one decimal"
                )),
            ));
        }
        if criterion.every() == 0 {
            return Err(Error::at(
                "criterion",
                ErrorKind::InvalidValue(
                    "the rate increases after at least 1 notified or succeeded device".into(),
                ),
            ));
        }
        Ok(Self {
            base_per_minute,
            factor_tenths: tenths as u32,
            criterion,
        })
    }

    /// The starting rate, devices per minute.
    pub fn base_per_minute(&self) -> u32 {
        self.base_per_minute
    }

    /// The factor, as written (one decimal).
    pub fn increment_factor(&self) -> f64 {
        f64::from(self.factor_tenths) / 10.0
    }

    /// When the rate increases.
    pub fn criterion(&self) -> RampCriterion {
        self.criterion
    }

    /// The rates after 0, 1, 2, ... increases, up to and including the first that reaches
    /// `cap` (which is then `cap`): `min(cap, floor(base × factor^k))`, exact.
    ///
    /// The product `base × (factor × 10)^k` is kept as a decimal number, so that dividing by
    /// `10^k` is dropping `k` digits: no rounding error at any step.
    pub fn schedule(&self, cap: u32) -> Vec<u32> {
        // Little-endian decimal digits of base × F^k.
        let mut digits: Vec<u8> = Vec::new();
        let mut b = self.base_per_minute;
        while b > 0 {
            digits.push((b % 10) as u8);
            b /= 10;
        }
        let mut rates = Vec::new();
        for k in 0usize.. {
            // The integer part: the digits above the k lowest.
            let whole = digits.get(k..).unwrap_or(&[]);
            let value = if whole.len() > 10 {
                u64::MAX
            } else {
                whole.iter().rev().fold(0u64, |v, &d| v * 10 + u64::from(d))
            };
            if value >= u64::from(cap) {
                rates.push(cap);
                return rates;
            }
            rates.push(value as u32);
            let mut carry = 0u32;
            for d in digits.iter_mut() {
                let x = u32::from(*d) * self.factor_tenths + carry;
                *d = (x % 10) as u8;
                carry = x / 10;
            }
            while carry > 0 {
                digits.push((carry % 10) as u8);
                carry /= 10;
            }
        }
        unreachable!("the rate grows past any cap")
    }
}

/// A run's dispatch rate: at most `max_per_minute` devices notified in any 60-second window,
/// optionally ramping up from a base rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DispatchRate {
    /// The cap, devices per minute (AWS `maximumPerMinute`); `None` with a ramp: no cap.
    pub max_per_minute: Option<u32>,
    /// The exponential ramp-up, if any.
    pub ramp: Option<ExponentialRamp>,
}

/// The run's rate bookkeeping: the sliding window of first dispatches and the ramp's level.
#[derive(Debug, Clone)]
pub(crate) struct RateState {
    /// Rates by number of increases; the last is the cap. One entry without a ramp.
    schedule: Vec<u32>,
    level: usize,
    criterion: Option<RampCriterion>,
    /// First dispatches in the last 60 s: (time, how many at that time), oldest first.
    window: VecDeque<(i64, u32)>,
    in_window: u32,
    notified: u32,
}

impl RateState {
    pub(crate) fn new(rate: DispatchRate) -> Self {
        let cap = rate.max_per_minute.unwrap_or(u32::MAX);
        let (schedule, criterion) = match rate.ramp {
            Some(ramp) => (ramp.schedule(cap), Some(ramp.criterion)),
            None => (vec![cap], None),
        };
        Self {
            schedule,
            level: 0,
            criterion,
            window: VecDeque::new(),
            in_window: 0,
            notified: 0,
        }
    }

    /// Devices per minute now.
    pub(crate) fn per_minute(&self) -> u32 {
        self.schedule[self.level]
    }

    /// Increases the rate to the level `count` gives.
    fn climb(&mut self, count: u32, every: u32) {
        let level = ((count / every) as usize).min(self.schedule.len() - 1);
        self.level = self.level.max(level);
    }

    /// Whether one more device may be notified at `now_ms`.
    #[inline]
    pub(crate) fn allows(&mut self, now_ms: i64) -> bool {
        while let Some(&(t, n)) = self.window.front() {
            if t.saturating_add(RATE_WINDOW_MS) > now_ms {
                break;
            }
            self.window.pop_front();
            self.in_window -= n;
        }
        self.in_window < self.per_minute()
    }

    /// Records one device notified at `now_ms` (after [`Self::allows`] said yes).
    #[inline]
    pub(crate) fn record(&mut self, now_ms: i64) {
        match self.window.back_mut() {
            Some((t, n)) if *t == now_ms => *n += 1,
            _ => self.window.push_back((now_ms, 1)),
        }
        self.in_window += 1;
        self.notified += 1;
        if let Some(RampCriterion::Notified(every)) = self.criterion {
            self.climb(self.notified, every);
        }
    }

    /// The run now counts `succeeded` devices that succeeded.
    pub(crate) fn on_succeeded(&mut self, succeeded: u32) {
        if let Some(RampCriterion::Succeeded(every)) = self.criterion {
            self.climb(succeeded, every);
        }
    }

    /// When the oldest dispatch in the window leaves it (the earliest a blocked dispatch can
    /// happen).
    pub(crate) fn next_slot_ms(&self) -> Option<i64> {
        self.window
            .front()
            .map(|&(t, _)| t.saturating_add(RATE_WINDOW_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_exact() {
        let ramp = |base, f| ExponentialRamp::new(base, f, RampCriterion::Notified(10)).unwrap();
        // AWS's example: 50 per minute, doubling, up to 1,000.
        assert_eq!(ramp(50, 2.0).schedule(1000), [50, 100, 200, 400, 800, 1000]);
        // 1.1^k exactly: 10, 11, 12.1, 13.31, 14.641, 16.1051, 17.71561, ...
        assert_eq!(
            ramp(10, 1.1).schedule(20),
            [10, 11, 12, 13, 14, 16, 17, 19, 20]
        );
        assert_eq!(
            ramp(1000, 1.3).schedule(3000),
            [1000, 1300, 1690, 2197, 2856, 3000]
        );
        // A product that floating point puts just below an integer: 25 × 1.4² is 49, not
        // 48.99999999999999.
        assert_eq!(ramp(25, 1.4).schedule(100), [25, 35, 49, 68, 96, 100]);
        // A base of 1 with the smallest factor still climbs (floor(1.1^8) = 2).
        let s = ramp(1, 1.1).schedule(3);
        assert_eq!(s[..9], [1, 1, 1, 1, 1, 1, 1, 1, 2]);
        assert_eq!(*s.last().unwrap(), 3);
        // No cap: the schedule ends at u32::MAX.
        assert_eq!(
            *ramp(1000, 5.0).schedule(u32::MAX).last().unwrap(),
            u32::MAX
        );
        // The base at the cap: one entry.
        assert_eq!(ramp(7, 2.0).schedule(7), [7]);
    }

    #[test]
    fn factors_are_checked() {
        let c = RampCriterion::Succeeded(5);
        assert!(ExponentialRamp::new(10, 1.0, c).is_err());
        assert!(ExponentialRamp::new(10, 1.15, c).is_err());
        assert!(ExponentialRamp::new(10, 5.1, c).is_err());
        assert!(ExponentialRamp::new(10, f64::NAN, c).is_err());
        assert!(ExponentialRamp::new(0, 2.0, c).is_err());
        assert!(ExponentialRamp::new(10, 2.0, RampCriterion::Notified(0)).is_err());
        assert_eq!(
            ExponentialRamp::new(10, 1.5, c).unwrap().increment_factor(),
            1.5
        );
    }

    #[test]
    fn the_window_slides() {
        let mut r = RateState::new(DispatchRate {
            max_per_minute: Some(2),
            ramp: None,
        });
        assert!(r.allows(0));
        r.record(0);
        assert!(r.allows(10));
        r.record(10);
        assert!(!r.allows(59_999));
        assert_eq!(r.next_slot_ms(), Some(60_000));
        assert!(r.allows(60_000));
        r.record(60_000);
        assert!(!r.allows(60_009));
        assert!(r.allows(60_010));
    }
}
