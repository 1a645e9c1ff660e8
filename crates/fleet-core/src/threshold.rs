//! Cancellation thresholds (semantics rule 4).

use crate::error::{Error, ErrorKind, Result};
use crate::percent::Percent;

/// How the limit of a threshold is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdValue {
    /// `ceil(p * base / 100)` failures.
    Percentage(Percent),
    /// `n` failures, `n >= 1`.
    Number(u32),
}

/// A cancellation threshold: the run is cancelled the moment the failures in scope reach the
/// limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The limit, as a number or a percentage of the base.
    pub value: ThresholdValue,
    /// `true`: the scope and base are the current batch; `false`: the whole run.
    pub per_batch: bool,
}

impl Threshold {
    /// A percentage threshold; rejects values outside (0, 100].
    pub fn percentage(value: f64, per_batch: bool) -> Result<Self> {
        let p = Percent::new(value)
            .map_err(|e| Error::new(ErrorKind::ThresholdOutOfRange(e.to_string())))?;
        Ok(Self {
            value: ThresholdValue::Percentage(p),
            per_batch,
        })
    }

    /// A number threshold; rejects values below 1.
    pub fn number(value: u32, per_batch: bool) -> Result<Self> {
        if value == 0 {
            return Err(Error::new(ErrorKind::ThresholdOutOfRange(
                "a threshold of 0 failures; the number must be at least 1".into(),
            )));
        }
        Ok(Self {
            value: ThresholdValue::Number(value),
            per_batch,
        })
    }

    /// The number of failures that trips the threshold for a scope of `base` devices.
    ///
    /// A percentage of a non-empty base is at least 1. A limit above the base can never be
    /// reached, which is allowed: such a threshold never trips.
    pub fn limit(&self, base: u32) -> u32 {
        match self.value {
            ThresholdValue::Percentage(p) => p.of_ceil(base).max(1),
            ThresholdValue::Number(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(Threshold::percentage(10.0, false).unwrap().limit(1000), 100);
        assert_eq!(Threshold::percentage(10.0, false).unwrap().limit(7), 1);
        assert_eq!(Threshold::percentage(5.0, true).unwrap().limit(250), 13);
        assert_eq!(Threshold::number(3, true).unwrap().limit(2), 3);
        assert!(Threshold::number(0, false).is_err());
        assert!(Threshold::percentage(0.0, false).is_err());
        assert!(Threshold::percentage(120.0, false).is_err());
    }
}
