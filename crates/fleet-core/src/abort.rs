//! Abort criteria (AWS `abortConfig.criteriaList`; semantics rule 14).

use std::fmt;

use crate::error::{Error, ErrorKind, Result};
use crate::percent::Percent;
use crate::status::DeviceState;

/// Which failures a criterion counts (AWS `failureType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureType {
    /// Devices that ended `failed`.
    Failed,
    /// Devices that ended `rejected`.
    Rejected,
    /// Devices that ended `timed_out`.
    TimedOut,
    /// All three.
    All,
}

impl FailureType {
    /// AWS's word (`FAILED`, `REJECTED`, `TIMED_OUT`, `ALL`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "FAILED",
            Self::Rejected => "REJECTED",
            Self::TimedOut => "TIMED_OUT",
            Self::All => "ALL",
        }
    }

    /// Whether a device in `state` counts for this type.
    pub fn counts(self, state: DeviceState) -> bool {
        match self {
            Self::Failed => state == DeviceState::Failed,
            Self::Rejected => state == DeviceState::Rejected,
            Self::TimedOut => state == DeviceState::TimedOut,
            Self::All => state.is_failure(),
        }
    }
}

impl fmt::Display for FailureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One abort criterion: the run is cancelled when at least `min_executed` devices have a final
/// outcome (succeeded, failed, rejected or timed out) and the failures of `failure_type` are at
/// least `threshold` percent of them. The action is always cancel (AWS `CANCEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortCriterion {
    /// The failures counted.
    pub failure_type: FailureType,
    /// The percentage of executed devices, in (0, 100].
    pub threshold: Percent,
    /// The least number of executed devices before the criterion is evaluated (at least 1).
    pub min_executed: u32,
}

impl AbortCriterion {
    /// A criterion; the threshold must be in (0, 100] and `min_executed` at least 1.
    pub fn new(
        failure_type: FailureType,
        threshold_percent: f64,
        min_executed: u32,
    ) -> Result<Self> {
        let threshold = Percent::new(threshold_percent).map_err(|e| e.within("threshold"))?;
        if min_executed == 0 {
            return Err(Error::at(
                "min_executed",
                ErrorKind::InvalidValue(
                    "the minimum number of executed devices is at least 1".into(),
                ),
            ));
        }
        Ok(Self {
            failure_type,
            threshold,
            min_executed,
        })
    }

    /// Whether the criterion holds with `failures` of its type among `executed` devices:
    /// `executed >= min_executed` and `failures / executed >= threshold / 100`, in integers.
    pub fn trips(&self, executed: u32, failures: u32) -> bool {
        executed >= self.min_executed
            && u128::from(failures) * 100_000_000
                >= u128::from(self.threshold.micros()) * u128::from(executed)
    }
}

/// When and why an abort criterion cancelled the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortTrip {
    /// Index of the criterion in the order they were given.
    pub criterion: u32,
    /// Its failure type.
    pub failure_type: FailureType,
    /// The batch of the device whose outcome tripped it.
    pub batch: u32,
    /// When.
    pub at_ms: i64,
    /// Devices with a final outcome at that moment.
    pub executed: u32,
    /// Of those, the failures of the criterion's type.
    pub failures: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_at_the_percentage_once_enough_devices_executed() {
        let c = AbortCriterion::new(FailureType::Failed, 20.0, 10).unwrap();
        assert!(!c.trips(9, 9), "below the minimum executed");
        assert!(c.trips(10, 2), "2 of 10 is 20 %");
        assert!(!c.trips(11, 2), "2 of 11 is 18.2 %");
        let c = AbortCriterion::new(FailureType::All, 33.33, 1).unwrap();
        assert!(c.trips(3, 1), "1 of 3 is 33.333 % >= 33.33 %");
        assert!(!c.trips(4, 1));
        assert!(AbortCriterion::new(FailureType::All, 0.0, 1).is_err());
        assert!(AbortCriterion::new(FailureType::All, 100.5, 1).is_err());
        assert!(AbortCriterion::new(FailureType::All, 10.0, 0).is_err());
    }

    #[test]
    fn failure_types_count_their_states() {
        use DeviceState::*;
        assert!(FailureType::Failed.counts(Failed) && !FailureType::Failed.counts(Rejected));
        assert!(FailureType::TimedOut.counts(TimedOut) && !FailureType::TimedOut.counts(Failed));
        assert!(FailureType::All.counts(Rejected) && !FailureType::All.counts(Cancelled));
        assert!(!FailureType::All.counts(Succeeded));
    }
}
