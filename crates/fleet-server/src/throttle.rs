//! The hub model's throttles on the IoT Hub REST API itself (API-NOTES, "IoT Hub throttles"):
//! job operations (create, cancel, query), device queries, twin updates (`PATCH` and `PUT
//! /twins/{id}`) and direct methods (`POST /twins/{id}/methods`, one token per 4 KB chunk of the
//! payload), per tier and unit count. Over the
//! limit a request gets 429 ThrottlingException with `Retry-After`. Without a hub model in the
//! scenario nothing is throttled.

use std::sync::Mutex;
use std::time::Instant;

use fleet_sim::{HubSpec, Tier};

/// A token bucket (GCRA) over the wall clock: `rate` per second, a burst of one second's
/// tokens (at least 1).
#[derive(Debug)]
pub(crate) struct Bucket {
    interval_s: f64,
    burst_s: f64,
    start: Instant,
    tat: Mutex<f64>,
}

impl Bucket {
    pub(crate) fn new(rate_per_s: f64) -> Self {
        let rate = rate_per_s.max(1e-6);
        let burst = rate.max(1.0).floor();
        Self {
            interval_s: 1.0 / rate,
            burst_s: (burst - 1.0) / rate,
            start: Instant::now(),
            tat: Mutex::new(0.0),
        }
    }

    /// Takes a token, or says no.
    pub(crate) fn take(&self) -> bool {
        self.take_n(1)
    }

    /// Takes `n` tokens at once (at least 1), or says no and takes none.
    pub(crate) fn take_n(&self, n: u32) -> bool {
        let now = self.start.elapsed().as_secs_f64();
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let t = tat.max(now);
        let cost = f64::from(n.max(1)) * self.interval_s;
        if t + cost - self.interval_s - now > self.burst_s + 1e-9 {
            return false;
        }
        *tat = t + cost;
        true
    }
}

/// The API throttles of a hub.
#[derive(Debug)]
pub(crate) struct Throttles {
    pub(crate) jobs: Bucket,
    pub(crate) queries: Bucket,
    /// Twin updates per second (fleet-sim's [`fleet_sim::HubLimits::twin_updates_per_s`]).
    pub(crate) twin_updates: Bucket,
    /// Direct-method 4 KB chunks per second
    /// ([`fleet_sim::HubLimits::direct_method_chunks_per_s`]).
    pub(crate) methods: Bucket,
}

impl Throttles {
    /// Per the published numbers: jobs operations 1.67/s/unit (S1, S2) or 83.33/s/unit (S3);
    /// queries 20/min/unit (S1, S2) or 1,000/min/unit (S3); twin updates and direct methods as
    /// the hub model's limits give them.
    pub(crate) fn of(hub: &HubSpec) -> Self {
        let units = f64::from(hub.units);
        let (jobs, queries_per_min) = match hub.tier {
            Tier::S1 | Tier::S2 => (1.67, 20.0),
            Tier::S3 => (83.33, 1000.0),
        };
        let limits = hub.limits();
        Self {
            jobs: Bucket::new(jobs * units),
            queries: Bucket::new(queries_per_min * units / 60.0),
            twin_updates: Bucket::new(limits.twin_updates_per_s as f64),
            methods: Bucket::new(limits.direct_method_chunks_per_s as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses() {
        let b = Bucket::new(2.0);
        assert!(b.take());
        assert!(b.take());
        assert!(!b.take());
        let slow = Bucket::new(20.0 / 60.0);
        assert!(slow.take());
        assert!(!slow.take());
    }

    #[test]
    fn several_tokens_at_once_fit_the_burst_or_take_none() {
        let b = Bucket::new(4.0);
        assert!(!b.take_n(5), "more than the burst of 4");
        assert!(b.take_n(3));
        assert!(!b.take_n(2), "only 1 left");
        assert!(b.take());
        assert!(!b.take());
    }
}
