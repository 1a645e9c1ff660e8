//! The hub model as the driver publishes it after each commit: its token buckets and its
//! concurrent-jobs slots, read by `/metrics` and the dashboard without asking the driver.

use fleet_sim::ThrottleLoad;
use serde::Serialize;

/// What the driver publishes (empty without a hub model).
#[derive(Debug, Clone, Default)]
pub(crate) struct HubView {
    /// The hub model's buckets at the driver's last commit.
    pub(crate) loads: Vec<ThrottleLoad>,
    /// The concurrent-jobs limit, when a hub is modelled.
    pub(crate) slot_limit: Option<u32>,
    /// Runs holding a slot.
    pub(crate) slots_held: u32,
    /// Runs waiting for a slot.
    pub(crate) jobs_waiting: u32,
}

/// One bucket at the instant of a read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BucketNow {
    pub(crate) throttle: &'static str,
    pub(crate) rate_per_s: u64,
    pub(crate) burst: u32,
    pub(crate) available_tokens: f64,
    pub(crate) queued_operations: f64,
}

impl HubView {
    /// Whether a hub model is set.
    pub(crate) fn modelled(&self) -> bool {
        self.slot_limit.is_some() || !self.loads.is_empty()
    }

    /// The buckets at virtual time `now_ms` (each refilled since the commit that published it).
    pub(crate) fn buckets_at(&self, now_ms: i64) -> Vec<BucketNow> {
        self.loads
            .iter()
            .map(|l| BucketNow {
                throttle: l.throttle,
                rate_per_s: l.rate_per_s,
                burst: l.burst,
                available_tokens: l.available_at(now_ms),
                queued_operations: l.queued_at(now_ms),
            })
            .collect()
    }
}
