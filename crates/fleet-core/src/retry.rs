//! Retries of failed or timed-out devices (AWS `jobExecutionsRetryConfig`).

use crate::error::{Error, ErrorKind, Result};
use crate::status::Outcome;

/// The most retries a criterion may allow (AWS's limit).
pub const RETRIES_MAX: u8 = 10;

/// How many times a device is dispatched again after a failure, by failure type.
///
/// A device whose attempt ends with an outcome of a retried type is dispatched again at once
/// (with the next attempt number) while its retries of that kind are not used up. Rejections are
/// never retried: the device said no. Statistics count the device once, by its last outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryPolicy {
    /// Retries after `Failed` outcomes.
    pub failed: u8,
    /// Retries after `TimedOut` outcomes (the driver's or the per-device timeout).
    pub timed_out: u8,
}

impl RetryPolicy {
    /// A policy; each count must be at most [`RETRIES_MAX`].
    pub fn new(failed: u8, timed_out: u8) -> Result<Self> {
        if failed > RETRIES_MAX || timed_out > RETRIES_MAX {
            return Err(Error::new(ErrorKind::InvalidValue(format!(
                "numberOfRetries must be 0 to {RETRIES_MAX}"
            ))));
        }
        Ok(Self { failed, timed_out })
    }

    /// Whether a device that has made `attempts` attempts, the last ending in `outcome`, is
    /// dispatched again. `attempts` counts the first dispatch, so retries used = attempts - 1.
    pub fn retries(&self, outcome: Outcome, attempts: u8) -> bool {
        debug_assert!(attempts >= 1);
        let allowed = match outcome {
            Outcome::Failed => self.failed,
            Outcome::TimedOut => self.timed_out,
            Outcome::Succeeded | Outcome::Rejected => return false,
        };
        attempts.saturating_sub(1) < allowed
    }

    /// The most attempts any device can make under this policy.
    pub fn attempts_max(&self) -> u8 {
        1 + self.failed.max(self.timed_out)
    }
}
