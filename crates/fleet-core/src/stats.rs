//! Run statistics, kept incrementally so that reading them is O(1) (semantics rule 9).

/// How many targets are in each state class. At every instant
/// `pending + in_flight + succeeded + failed + cancelled == total`.
///
/// Devices are counted, not attempts: a device being retried is `pending` or `in_flight` until
/// its last attempt ends.
///
/// It is also the reports' and the server's stored form of the counts: serialized with these
/// field names (`total`, `pending`, `in_flight`, `succeeded`, `failed`, `cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Number of targets.
    pub total: u32,
    /// Not dispatched yet, or waiting for a retry.
    pub pending: u32,
    /// Dispatched, outcome not known yet.
    pub in_flight: u32,
    /// Terminal: succeeded.
    pub succeeded: u32,
    /// Terminal: failed, rejected or timed out.
    pub failed: u32,
    /// Terminal: cancelled (never dispatched, or abandoned by a forced cancel).
    pub cancelled: u32,
}

impl Counts {
    /// Counts for a new run: every target pending.
    pub fn new(total: u32) -> Self {
        Self {
            total,
            pending: total,
            ..Self::default()
        }
    }

    /// Devices in a terminal state.
    pub fn terminal(&self) -> u32 {
        self.succeeded + self.failed + self.cancelled
    }

    /// Whether the counts add up to the total (the invariant the engine maintains).
    pub fn is_consistent(&self) -> bool {
        u64::from(self.pending)
            + u64::from(self.in_flight)
            + u64::from(self.succeeded)
            + u64::from(self.failed)
            + u64::from(self.cancelled)
            == u64::from(self.total)
    }
}

/// What happened in one batch. Kept incrementally, like [`Counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchStats {
    /// Devices in the batch.
    pub size: u32,
    /// When the batch's first dispatch happened, if it started.
    pub started_ms: Option<i64>,
    /// When its last device became terminal, if all did.
    pub finished_ms: Option<i64>,
    /// Devices that succeeded.
    pub succeeded: u32,
    /// Devices that failed, were rejected or timed out.
    pub failed: u32,
    /// Devices cancelled.
    pub cancelled: u32,
}

impl BatchStats {
    /// Devices of the batch in a terminal state.
    pub fn terminal(&self) -> u32 {
        self.succeeded + self.failed + self.cancelled
    }
}
