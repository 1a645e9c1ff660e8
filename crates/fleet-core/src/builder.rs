//! The public builder of [`JobRun`]s.

use crate::abort::AbortCriterion;
use crate::batch::BatchSize;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::gate::GroupGate;
use crate::rate::{DispatchRate, ExponentialRamp};
use crate::retry::RetryPolicy;
use crate::run::JobRun;
use crate::schedule::MaintenanceWindows;
use crate::threshold::Threshold;

/// Builds a [`JobRun`] over a number of targets.
///
/// Defaults, each changed by the method of the same name:
///
/// | setting | default | rule in `docs/semantics.md` |
/// |---|---|---|
/// | `batch` | none: one batch of all targets | 2 |
/// | `threshold` | none: the run is never cancelled by failures | 4 |
/// | `max_execution_ms` | none: no run deadline (IoT Hub `maxExecutionTimeInSeconds`) | 9 |
/// | `device_timeout_ms` | none: a device may stay in flight forever (AWS `inProgressTimeoutInMinutes`) | 9 |
/// | `retry` | no retries | 10 |
/// | `max_per_minute` | none: every device of a batch is dispatched at once (AWS `maximumPerMinute`) | 13 |
/// | `ramp` | none: a constant rate (AWS `exponentialRate`) | 13 |
/// | `abort` | no abort criteria (AWS `abortConfig`); each call adds one | 14 |
/// | `gate` | none: batch k+1 starts when batch k is terminal (hawkBit group conditions) | 16 |
/// | `maintenance_windows` | none: dispatch at any time (AWS `schedulingConfig.maintenanceWindows`) | 17.6 |
/// | `clock_origin_ms` | 0: the run's times are Unix times (ms since 1970-01-01T00:00Z) | 17.6 |
///
/// With every new option off, a run behaves exactly as before they existed, and costs nothing
/// more per device.
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

    /// Notifies at most this many devices in any 60-second window (at least 1). With a ramp,
    /// this caps the ramp.
    pub fn max_per_minute(mut self, per_minute: u32) -> Self {
        let rate = self.config.rate.get_or_insert(DispatchRate {
            max_per_minute: None,
            ramp: None,
        });
        rate.max_per_minute = Some(per_minute);
        self
    }

    /// Ramps the dispatch rate up exponentially from the ramp's base rate (capped by
    /// `max_per_minute`, if set).
    pub fn ramp(mut self, ramp: ExponentialRamp) -> Self {
        let rate = self.config.rate.get_or_insert(DispatchRate {
            max_per_minute: None,
            ramp: None,
        });
        rate.ramp = Some(ramp);
        self
    }

    /// Adds an abort criterion; the first criterion that holds cancels the run.
    pub fn abort(mut self, criterion: AbortCriterion) -> Self {
        let mut list = self.config.abort.to_vec();
        list.push(criterion);
        self.config.abort = list.into();
        self
    }

    /// Gates the start of each next batch (hawkBit success and error conditions).
    pub fn gate(mut self, gate: GroupGate) -> Self {
        self.config.gate = Some(gate);
        self
    }

    /// Dispatches devices (retries included) only while one of these windows is open; outside
    /// them the run waits, status running, and asks for [`crate::Timer::Window`] at the next
    /// opening. An empty set never opens and is refused by [`RunBuilder::build`].
    pub fn maintenance_windows(mut self, windows: MaintenanceWindows) -> Self {
        self.config.windows = Some(std::sync::Arc::new(windows));
        self
    }

    /// The UTC instant, in ms since the Unix epoch, of the run's time 0: a driver whose clock
    /// starts elsewhere (the simulator's virtual time) says where, so that maintenance windows
    /// open at the right wall-clock minutes. Nothing else reads it.
    pub fn clock_origin_ms(mut self, origin_ms: i64) -> Self {
        self.config.clock_origin_ms = origin_ms;
        self
    }

    /// The run over targets `0..targets`, status pending. Fails if a duration is not positive,
    /// a rate is 0, a ramp starts above its cap, or the set of maintenance windows is empty.
    pub fn build(&self, targets: u32) -> Result<JobRun> {
        if self.config.windows.as_ref().is_some_and(|w| w.is_empty()) {
            return Err(Error::at(
                "maintenance_windows",
                ErrorKind::InvalidValue(
                    "an empty set of maintenance windows never opens: give at least one window, \
                     or none to dispatch at any time"
                        .into(),
                ),
            ));
        }
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
        if let Some(rate) = self.config.rate {
            if rate.max_per_minute == Some(0) {
                return Err(Error::at(
                    "max_per_minute",
                    ErrorKind::InvalidValue("a rate of 0 devices per minute".into()),
                ));
            }
            if let (Some(max), Some(ramp)) = (rate.max_per_minute, rate.ramp) {
                if ramp.base_per_minute() > max {
                    return Err(Error::at(
                        "ramp.base_per_minute",
                        ErrorKind::InvalidValue(format!(
                            "the ramp starts at {} per minute, above the maximum of {max}",
                            ramp.base_per_minute()
                        )),
                    ));
                }
            }
        }
        Ok(JobRun::new(self.config.clone(), targets))
    }
}
