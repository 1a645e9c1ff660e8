//! fleet-calibrate: fleetsim's behaviour fitted to past jobs, and backtests of a scenario
//! against a job that ran.
//!
//! - [`read_files`] reads per-device job results as the platforms export them (IoT Hub
//!   `devices.jobs` queries and `/jobs/v2/{id}`, IoT Central `/api/jobs/{id}/devices` and
//!   `/api/jobs/{id}`, AWS `list-job-executions-for-job` and `describe-job-execution`),
//!   streaming, with errors that name the file, record, line and field.
//! - [`calibrate()`] fits, per segment of the fleet (`--by template`, `--by tags.firmware`),
//!   the failure, rejection and time-out probabilities (Beta posteriors, hierarchical
//!   partial pooling) and the latency distribution (log-normal by maximum likelihood, chosen
//!   by a Kolmogorov-Smirnov test with a parametric bootstrap); [`render`] writes the
//!   scenario's `[behaviour]` section.
//! - [`backtest()`] replays a job that ran over many seeds and ranks the real outcome in the
//!   predicted distribution.
//! - [`synth`] writes the exports of a simulated job, for tests and demonstrations.
//!
//! The statistics and their assumptions are in `docs/calibration.md`.

#![deny(missing_docs)]

pub mod backtest;
pub mod backtest_render;
pub mod calibrate;
mod error;
mod latency;
mod pooling;
mod rates;
mod read;
mod record;
pub mod render;
mod segment;
pub mod synth;

pub use backtest::{backtest, BacktestOptions, BacktestReport};
pub use calibrate::{calibrate, CalibrateOptions, Calibration, LatencyChoice};
pub use error::{Error, ErrorKind, Result};
pub use latency::{Candidate, LatencyFit};
pub use rates::RateFit;
pub use read::read_files;
pub use record::{DeviceResult, History, JobInfo, Outcome, Place, Platform};
pub use segment::Attribute;
