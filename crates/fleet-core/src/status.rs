//! The one internal vocabulary of run and device states (DESIGN.md section 4.10).
//!
//! Each API dialect maps these to its own words at the edges; see [`crate::model`].

use std::fmt;

/// The status of a job run.
///
/// ```text
///            start                all targets terminal
/// Pending ─────────► Running ─────────────────────────► Complete
///    │ fail           │   ▲                               ▲
///    ▼       stop, or │   │ resume, or trigger-next-batch │ all targets terminal
///  Failed   a gate    ▼   │ (from paused)                 │ while stopped or paused
///           pauses  Stopped / Paused ─────────────────────┘
///
///   cancel, threshold or abort criterion (from Pending, Running, Stopped or Paused)
///                      ▼
///                  Cancelled
/// ```
///
/// Serialized as its word ([`RunStatus::as_str`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Created, not started.
    Pending,
    /// Dispatching and collecting outcomes.
    Running,
    /// Stopped by a command: nothing new is dispatched; in-flight devices finish.
    Stopped,
    /// Paused by a group gate (hawkBit error action `PAUSE`, success action `PAUSE`, or a batch
    /// that finished below its success threshold): nothing new is dispatched; in-flight devices
    /// finish. A resume or a trigger-next-batch continues it.
    Paused,
    /// Every target is terminal and the run was not cancelled (some devices may have failed).
    Complete,
    /// Cancelled by a command, by the cancellation threshold or by an abort criterion. In-flight
    /// devices may still be finishing (soft cancel); nothing more is dispatched.
    Cancelled,
    /// The run could not execute at all (its group does not exist, its data does not match).
    Failed,
}

impl RunStatus {
    /// Whether the status can no longer change (complete, cancelled or failed).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Complete | Self::Cancelled | Self::Failed)
    }

    /// The engine's word: IoT Central's (`pending`, `running`, `stopped`, `complete`,
    /// `cancelled`, `failed`), and hawkBit's `paused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Paused => "paused",
            Self::Complete => "complete",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for RunStatus {
    type Err = String;

    /// The status of an engine word ([`RunStatus::as_str`]).
    fn from_str(word: &str) -> Result<Self, String> {
        [
            Self::Pending,
            Self::Running,
            Self::Stopped,
            Self::Paused,
            Self::Complete,
            Self::Cancelled,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
        .ok_or_else(|| format!("unknown run status {word:?}"))
    }
}

/// A status equals its word: `status == "complete"`.
impl PartialEq<&str> for RunStatus {
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

impl PartialEq<str> for RunStatus {
    fn eq(&self, word: &str) -> bool {
        self.as_str() == word
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a device's operation ended, as reported to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The device applied the operation.
    Succeeded,
    /// The device (or the hub on its behalf) reported an error.
    Failed,
    /// The device refused the operation (AWS REJECTED; a property the device will not accept).
    Rejected,
    /// The device did not answer in time (the driver's own timeouts, such as a direct method's
    /// response timeout).
    TimedOut,
}

/// The state of one target device within a run. One byte per device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum DeviceState {
    /// Not dispatched yet (or waiting to be dispatched again for a retry).
    #[default]
    Pending = 0,
    /// Dispatched; the run waits for its outcome.
    InFlight = 1,
    /// Terminal: the operation succeeded.
    Succeeded = 2,
    /// Terminal: the operation failed.
    Failed = 3,
    /// Terminal: the device rejected the operation.
    Rejected = 4,
    /// Terminal: the device did not answer in time (per-device timeout or run deadline).
    TimedOut = 5,
    /// Terminal: never dispatched because the run was cancelled, or abandoned by a forced cancel.
    Cancelled = 6,
}

impl DeviceState {
    /// Whether the device has reached its final state in this run.
    pub fn is_terminal(self) -> bool {
        (self as u8) >= 2
    }

    /// Whether the state counts as failed in the statistics (failed, rejected, timed out).
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Rejected | Self::TimedOut)
    }

    /// The terminal state an outcome leads to.
    pub fn from_outcome(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Succeeded => Self::Succeeded,
            Outcome::Failed => Self::Failed,
            Outcome::Rejected => Self::Rejected,
            Outcome::TimedOut => Self::TimedOut,
        }
    }

    /// A short lower-case word for reports (`pending`, `in_flight`, `succeeded`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
