//! Exact percentages for batch sizes and thresholds.

use crate::error::{Error, ErrorKind, Result};

/// Millionths of a percent in one percent.
const MICROS_PER_PERCENT: u64 = 1_000_000;

/// A percentage in (0, 100], held exactly as millionths of a percent.
///
/// Batch sizes and thresholds are `ceil(p * n / 100)`. Computing that in `f64` gives wrong
/// answers at the edges (`0.1 * 30 / 100` is not exactly `0.03`), so the value is rounded once to
/// six decimal places and the arithmetic is done in integers. Any percentage written with at most
/// six decimals is therefore exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Percent {
    micros: u64,
}

impl Percent {
    /// A percentage from its written value. Values outside (0, 100], NaN and infinities are
    /// rejected, never clamped; a positive value below 0.000001 is rejected too, as it would
    /// round to zero.
    pub fn new(value: f64) -> Result<Self> {
        let in_range = value.is_finite() && value > 0.0 && value <= 100.0;
        let micros = (value * MICROS_PER_PERCENT as f64).round() as u64;
        if !in_range {
            return Err(Error::new(ErrorKind::InvalidValue(format!(
                "percentage {value} is outside (0, 100]"
            ))));
        }
        if micros == 0 {
            return Err(Error::new(ErrorKind::InvalidValue(format!(
                "percentage {value} is below 0.000001, the smallest one (percentages are kept \
                 to six decimals)"
            ))));
        }
        Ok(Self { micros })
    }

    /// The percentage as written (to six decimals).
    pub fn value(self) -> f64 {
        self.micros as f64 / MICROS_PER_PERCENT as f64
    }

    /// The value in millionths of a percent.
    pub(crate) fn micros(self) -> u64 {
        self.micros
    }

    /// `ceil(self * n / 100)`, exactly.
    pub fn of_ceil(self, n: u32) -> u32 {
        let scaled = u128::from(self.micros) * u128::from(n);
        let denominator = u128::from(100 * MICROS_PER_PERCENT);
        let result = scaled.div_ceil(denominator);
        debug_assert!(result <= u128::from(n), "a percentage <= 100 of n is <= n");
        result as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_is_exact_where_floats_are_not() {
        // 0.1 * 30 / 100 in f64 is 0.030000000000000002, whose ceil would be 1 either way; the
        // sharp case is a product that lands exactly on an integer.
        let p = Percent::new(0.1).unwrap();
        assert_eq!(p.of_ceil(1000), 1);
        assert_eq!(p.of_ceil(1001), 2);
        let p = Percent::new(33.3).unwrap();
        assert_eq!(p.of_ceil(1000), 333);
        assert_eq!(p.of_ceil(1001), 334);
        assert_eq!(Percent::new(25.0).unwrap().of_ceil(7), 2);
        assert_eq!(Percent::new(100.0).unwrap().of_ceil(7), 7);
        assert_eq!(Percent::new(10.0).unwrap().of_ceil(0), 0);
    }

    #[test]
    fn out_of_range_is_rejected_not_clamped() {
        for v in [0.0, -1.0, 100.000001, 101.0, f64::NAN, f64::INFINITY, 1e-9] {
            assert!(Percent::new(v).is_err(), "{v} must be rejected");
        }
        assert_eq!(Percent::new(100.0).unwrap().value(), 100.0);
    }
}
