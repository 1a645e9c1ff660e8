//! The public builder of [`JobRun`]s.

use crate::batch::BatchSize;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::retry::RetryPolicy;
use crate::run::JobRun;
use crate::threshold::Threshold;

/// Builds a [`JobRun`] over a number of targets.
///
/// Defaults, each changed by the method of the same name:
///
/// | setting | default |
/// |---|---|
/// | `batch` | none: one batch of all targets |
/// | `threshold` | none: the run is never cancelled by failures |
/// | `max_execution_ms` | none: no run deadline (IoT Hub `maxExecutionTimeInSeconds`) |
/// | `device_timeout_ms` | none: a device may stay in flight forever (AWS `inProgressTimeoutInMinutes`) |
/// | `retry` | no retries |
///
/// ```
/// use fleet_core::{BatchSize, RunBuilder, Threshold};
///
/// let run = RunBuilder::new()
///     .batch(BatchSize::percentage(25.0)?)
///     .threshold(Threshold::number(2, true)?)
///     .build(7)?;
/// assert_eq!(run.plan().sizes().collect::<Vec<_>>(), [2, 2, 2, 1]);
/// # Ok::<(), fleet_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RunBuilder {
    config: Config,
}

impl RunBuilder {
    /// A builder with every default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cuts the targets into batches of this size.
    pub fn batch(mut self, batch: BatchSize) -> Self {
        self.config.batch = Some(batch);
        self
    }

    /// Cancels the run when failures reach this threshold.
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.config.threshold = Some(threshold);
        self
    }

    /// Ends the run this long after it starts: devices not yet terminal time out.
    pub fn max_execution_ms(mut self, duration_ms: i64) -> Self {
        self.config.max_execution_ms = Some(duration_ms);
        self
    }

    /// Times out a device that has not answered this long after its dispatch.
    pub fn device_timeout_ms(mut self, duration_ms: i64) -> Self {
        self.config.device_timeout_ms = Some(duration_ms);
        self
    }

    /// Retries failed and timed-out devices.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.config.retry = retry;
        self
    }

    /// The run over targets `0..targets`, status pending. Fails if a duration is not positive.
    pub fn build(&self, targets: u32) -> Result<JobRun> {
        for (name, value) in [
            ("max_execution_ms", self.config.max_execution_ms),
            ("device_timeout_ms", self.config.device_timeout_ms),
        ] {
            if let Some(v) = value.filter(|v| *v <= 0) {
                return Err(Error::at(
                    name,
                    ErrorKind::InvalidValue(format!("{v} ms; a duration must be positive")),
                ));
            }
        }
        Ok(JobRun::new(self.config, targets))
    }
}
