//! [`TraceHash`]: a fingerprint of every event a simulation processed, in order.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::rng::mix64;

/// A 64-bit hash over every event processed (time, kind, job, device, attempt, outcome), in
/// order. Two runs with the same scenario and seed have the same hash; any difference in the
/// trace changes it (with probability 1 - 2^-64).
///
/// The fold is an FxHash-style multiply-rotate over two 64-bit words per event (its time and
/// its packed payload), finished by the SplitMix64 finalizer; it is written out in this crate so
/// that it never changes under us. Written as 16 lower-case hex digits (JSON numbers above
/// 2^53 lose precision in JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceHash(pub u64);

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for TraceHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The running fold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trace {
    h: u64,
}

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Trace {
    pub(crate) fn new(seed: u64) -> Self {
        Self { h: mix64(seed) }
    }

    /// Folds one event.
    #[inline]
    pub(crate) fn event(&mut self, at_ms: i64, payload: u64) {
        self.h = (self.h.rotate_left(5) ^ at_ms as u64).wrapping_mul(K);
        self.h = (self.h.rotate_left(5) ^ payload).wrapping_mul(K);
    }

    pub(crate) fn finish(&self) -> TraceHash {
        TraceHash(mix64(self.h))
    }
}
