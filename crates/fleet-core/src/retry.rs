//! Retries of failed or timed-out devices (AWS `jobExecutionsRetryConfig`; semantics rule 10).

use crate::error::{Error, ErrorKind, Result};
use crate::status::Outcome;

/// The most retries a criterion may allow (AWS's limit).
pub const RETRIES_MAX: u8 = 10;

/// How many times a device is dispatched again after a failure, by failure type, as AWS's retry
/// criteria give them: one allowance for `FAILED` and one for `TIMED_OUT`, each counted
/// separately, or one allowance for `ALL` that both kinds of failure share.
///
/// A device whose attempt ends with an outcome of a retried type is dispatched again at once
/// (with the next attempt number) while its retries of that kind are not used up. Rejections
/// are never retried: the device said no. Statistics count the device once, by its last
/// outcome.
///
/// ```
/// use fleet_core::{Outcome, RetryPolicy};
///
/// // FAILED 1, TIMED_OUT 3: each type has its own counter.
/// let p = RetryPolicy::new(1, 3)?;
/// assert!(p.retries(Outcome::Failed, 0, 2), "no failure retried yet: one left");
/// assert!(!p.retries(Outcome::Failed, 1, 0), "the one failure retry is used");
/// // ALL 2: the two kinds share the allowance.
/// let p = RetryPolicy::all(2)?;
/// assert!(p.retries(Outcome::TimedOut, 1, 0));
/// assert!(!p.retries(Outcome::TimedOut, 1, 1));
/// # Ok::<(), fleet_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryPolicy {
    failed: u8,
    timed_out: u8,
    all: u8,
}

fn check(n: u8, field: &str) -> Result<()> {
    if n > RETRIES_MAX {
        return Err(Error::at(
            field,
            ErrorKind::InvalidValue(format!("{n}: numberOfRetries must be 0 to {RETRIES_MAX}")),
        ));
    }
    Ok(())
}

impl RetryPolicy {
    /// Separate allowances for failures and timeouts (AWS criteria `FAILED` and `TIMED_OUT`);
    /// each must be at most [`RETRIES_MAX`].
    pub fn new(failed: u8, timed_out: u8) -> Result<Self> {
        check(failed, "failed")?;
        check(timed_out, "timed_out")?;
        Ok(Self {
            failed,
            timed_out,
            all: 0,
        })
    }

    /// One allowance shared by failures and timeouts (AWS criterion `ALL`); at most
    /// [`RETRIES_MAX`].
    pub fn all(retries: u8) -> Result<Self> {
        check(retries, "all")?;
        Ok(Self {
            failed: 0,
            timed_out: 0,
            all: retries,
        })
    }

    /// Retries allowed after failures (0 with a shared allowance).
    pub fn failed(&self) -> u8 {
        self.failed
    }

    /// Retries allowed after timeouts (0 with a shared allowance).
    pub fn timed_out(&self) -> u8 {
        self.timed_out
    }

    /// The allowance shared by both kinds (0 with separate allowances).
    pub fn shared(&self) -> u8 {
        self.all
    }

    /// Whether any outcome is ever retried.
    pub fn is_none(&self) -> bool {
        self.failed == 0 && self.timed_out == 0 && self.all == 0
    }

    /// Whether a device whose last attempt ended in `outcome` is dispatched again, given the
    /// retries it has had so far after failures (`failed_used`) and after timeouts
    /// (`timed_out_used`).
    pub fn retries(&self, outcome: Outcome, failed_used: u8, timed_out_used: u8) -> bool {
        match outcome {
            Outcome::Succeeded | Outcome::Rejected => false,
            _ if self.all > 0 => failed_used.saturating_add(timed_out_used) < self.all,
            Outcome::Failed => failed_used < self.failed,
            Outcome::TimedOut => timed_out_used < self.timed_out,
        }
    }

    /// The most attempts any device can make under this policy.
    pub fn attempts_max(&self) -> u8 {
        1 + (self.failed + self.timed_out).max(self.all)
    }
}
