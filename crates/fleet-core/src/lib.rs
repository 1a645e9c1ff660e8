//! fleet-core: fleetsim's domain model and job engine.
//!
//! The engine is a pure state machine ("sans-I/O"): a [`JobRun`] takes timestamped [`Input`]s
//! and returns [`Action`]s. It never reads a clock, sleeps, spawns or draws a random number, so
//! the simulator drives it in virtual time, the server in wall-clock time, and every rule in
//! `docs/semantics.md` is a test without a runtime.
//!
//! # Tutorial
//!
//! Seven thermostats, batches of 25 % (2, 2, 2, 1 devices), cancelled when 2 devices of one batch
//! fail:
//!
//! ```
//! use fleet_core::{Action, BatchSize, Input, Outcome, RunBuilder, RunStatus, Targets, Threshold};
//!
//! let targets = Targets::new((1..=7).map(|i| format!("therm-{i:02}")));
//! let mut run = RunBuilder::new()
//!     .batch(BatchSize::percentage(25.0)?)
//!     .threshold(Threshold::number(2, true)?)
//!     .build(targets.len())?;
//!
//! // Starting dispatches the first batch: devices 0 and 1.
//! let mut actions = Vec::new();
//! run.handle(0, Input::Start, &mut actions)?;
//! let dispatched: Vec<u32> = actions.iter().filter_map(|a| match a {
//!     Action::Dispatch { device, .. } => Some(*device),
//!     _ => None,
//! }).collect();
//! assert_eq!(dispatched, [0, 1]);
//!
//! // Both succeed: batch 0 is done and batch 1 (devices 2 and 3) is dispatched.
//! for device in [0, 1] {
//!     run.handle(2_000, Input::Outcome { device, attempt: 1, outcome: Outcome::Succeeded }, &mut actions)?;
//! }
//! assert_eq!(run.current_batch(), Some(1));
//!
//! // Both devices of batch 1 fail: the per-batch threshold of 2 trips and the run is cancelled.
//! for device in [2, 3] {
//!     run.handle(4_000, Input::Outcome { device, attempt: 1, outcome: Outcome::Failed }, &mut actions)?;
//! }
//! assert_eq!(run.status(), RunStatus::Cancelled);
//! assert_eq!(run.threshold_trip().map(|t| t.batch), Some(1));
//! let counts = run.counts();
//! assert_eq!((counts.succeeded, counts.failed, counts.cancelled), (2, 2, 3));
//!
//! // A rerun targets exactly the devices that failed.
//! let (rerun, indices) = run.rerun()?;
//! assert_eq!(targets.select(&indices).iter().collect::<Vec<_>>(), ["therm-03", "therm-04"]);
//! assert_eq!(rerun.counts().total, 2);
//! # Ok::<(), fleet_core::Error>(())
//! ```

#![deny(missing_docs)]

mod abort;
mod batch;
mod builder;
mod config;
mod error;
mod gate;
pub mod model;
mod percent;
mod rate;
mod retry;
mod run;
pub mod schedule;
mod stats;
mod status;
#[cfg(feature = "proptest")]
pub mod strategy;
mod target;
mod threshold;
mod window_gate;

pub use abort::{AbortCriterion, AbortTrip, FailureType};
pub use batch::{BatchPlan, BatchSize, Shares, SHARES_MAX};
pub use builder::RunBuilder;
pub use error::{Error, ErrorKind, Result};
pub use gate::{GatePercent, GroupGate, Pause, PauseReason, SuccessAction, SuccessCondition};
pub use percent::Percent;
pub use rate::{
    DispatchRate, ExponentialRamp, RampCriterion, INCREMENT_FACTOR_MAX, INCREMENT_FACTOR_MIN,
    RATE_WINDOW_MS,
};
pub use retry::{RetryPolicy, RETRIES_MAX};
pub use run::{Action, Input, JobRun, ThresholdTrip, Timer};
pub use stats::{BatchStats, Counts};
pub use status::{DeviceState, Outcome, RunStatus};
pub use target::Targets;
pub use threshold::{Threshold, ThresholdValue};
