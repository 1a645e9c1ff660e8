//! The crate-private configuration of a run, set through [`crate::RunBuilder`].

use crate::batch::BatchSize;
use crate::retry::RetryPolicy;
use crate::threshold::Threshold;

/// Everything that shapes a run besides its targets. See [`crate::RunBuilder`] for the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Config {
    pub(crate) batch: Option<BatchSize>,
    pub(crate) threshold: Option<Threshold>,
    pub(crate) max_execution_ms: Option<i64>,
    pub(crate) device_timeout_ms: Option<i64>,
    pub(crate) retry: RetryPolicy,
}
