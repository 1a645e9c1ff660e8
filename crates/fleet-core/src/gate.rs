//! Group gates between batches (hawkBit rollout group conditions; semantics rule 16).

use crate::error::{Error, ErrorKind, Result};

/// A share of a batch in [0, 100] percent, exact to six decimals (like [`crate::Percent`], but
/// 0 is allowed: a success threshold of 0 opens the gate at once, an error threshold of 0 pauses
/// on the first failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GatePercent {
    micros: u64,
}

const HUNDRED_PERCENT_MICROS: u128 = 100_000_000;

impl GatePercent {
    /// A share from its written value; values outside [0, 100], NaN and infinities are rejected.
    pub fn new(value: f64) -> Result<Self> {
        if !(value.is_finite() && (0.0..=100.0).contains(&value)) {
            return Err(Error::new(ErrorKind::InvalidValue(format!(
                "percentage {value} is outside [0, 100]"
            ))));
        }
        Ok(Self {
            micros: (value * 1e6).round() as u64,
        })
    }

    /// The percentage as written (to six decimals).
    pub fn value(self) -> f64 {
        self.micros as f64 / 1e6
    }

    /// The least count of `n` devices that is at least this share: `ceil(p × n / 100)`.
    pub fn at_least(self, n: u32) -> u32 {
        (u128::from(self.micros) * u128::from(n)).div_ceil(HUNDRED_PERCENT_MICROS) as u32
    }

    /// The least count of `n` devices that is more than this share: `floor(p × n / 100) + 1`
    /// (above `n` when the share is 100 %: such a condition never holds).
    pub fn more_than(self, n: u32) -> u32 {
        (u128::from(self.micros) * u128::from(n) / HUNDRED_PERCENT_MICROS) as u32 + 1
    }
}

/// What happens when a batch's success condition holds (hawkBit `successAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuccessAction {
    /// Start the next batch at once, without waiting for the rest of this one (`NEXTGROUP`).
    NextBatch,
    /// Pause the run; a resume or a trigger-next-batch starts the next batch (`PAUSE`).
    Pause,
}

/// The success condition of a batch (hawkBit `successCondition` `THRESHOLD`): at least
/// `threshold` percent of the batch's devices have succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SuccessCondition {
    /// The share of the batch that must have succeeded.
    pub threshold: GatePercent,
    /// What then happens.
    pub action: SuccessAction,
}

/// The gate between a batch and the next, the same for every batch (hawkBit's rollout-level
/// conditions).
///
/// - With a success condition, batch k+1 starts when the condition holds for batch k (and the
///   action is `NextBatch`), not when every device of batch k is terminal. If batch k finishes
///   (every device terminal) below its success threshold, the run pauses.
/// - With an error condition, the run pauses when more than `error` percent of a batch's
///   devices have failed (hawkBit `errorCondition` `THRESHOLD`, action `PAUSE`), at most once
///   per batch.
///
/// Without a success condition, batches run in sequence as in semantics rule 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GroupGate {
    /// The success condition, if any.
    pub success: Option<SuccessCondition>,
    /// The error threshold, if any: the run pauses when the failures of a batch are more than
    /// this share of it.
    pub error: Option<GatePercent>,
}

/// Why a gate paused the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PauseReason {
    /// The batch's success condition held and its action is `Pause`.
    SuccessReached {
        /// Devices of the batch that had succeeded.
        succeeded: u32,
        /// The least number that meets the threshold.
        limit: u32,
    },
    /// Every device of the batch is terminal, and too few succeeded to meet the threshold.
    BelowSuccess {
        /// Devices of the batch that succeeded.
        succeeded: u32,
        /// The least number that would have met the threshold.
        limit: u32,
    },
    /// The batch's failures went over the error threshold.
    ErrorCondition {
        /// Devices of the batch that had failed.
        failures: u32,
        /// The least number that is over the threshold.
        limit: u32,
    },
}

impl PauseReason {
    /// A short word for reports: `success_reached`, `below_success`, `error_condition`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SuccessReached { .. } => "success_reached",
            Self::BelowSuccess { .. } => "below_success",
            Self::ErrorCondition { .. } => "error_condition",
        }
    }
}

/// One pause of the run by a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pause {
    /// The batch whose gate paused the run.
    pub batch: u32,
    /// When.
    pub at_ms: i64,
    /// Why.
    pub reason: PauseReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_hawkbit() {
        // hawkBit: success when finished / total >= p / 100; error when errors / total > p / 100.
        let p = |v| GatePercent::new(v).unwrap();
        assert_eq!(p(80.0).at_least(5), 4);
        assert_eq!(p(80.0).at_least(6), 5);
        assert_eq!(p(0.0).at_least(6), 0);
        assert_eq!(p(100.0).at_least(6), 6);
        assert_eq!(
            p(20.0).more_than(5),
            2,
            "1 of 5 is 20 %: not more than 20 %"
        );
        assert_eq!(p(10.0).more_than(5), 1);
        assert_eq!(p(0.0).more_than(5), 1);
        assert_eq!(p(100.0).more_than(5), 6, "never");
        assert!(GatePercent::new(-1.0).is_err());
        assert!(GatePercent::new(100.1).is_err());
        assert!(GatePercent::new(f64::NAN).is_err());
    }
}
