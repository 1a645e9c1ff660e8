//! The crate-private configuration of a run, set through [`crate::RunBuilder`].

use std::sync::Arc;

use crate::abort::AbortCriterion;
use crate::batch::BatchSize;
use crate::gate::GroupGate;
use crate::rate::DispatchRate;
use crate::retry::RetryPolicy;
use crate::schedule::MaintenanceWindows;
use crate::threshold::Threshold;

/// Everything that shapes a run besides its targets. See [`crate::RunBuilder`] for the defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Config {
    pub(crate) batch: Option<BatchSize>,
    pub(crate) threshold: Option<Threshold>,
    pub(crate) max_execution_ms: Option<i64>,
    pub(crate) device_timeout_ms: Option<i64>,
    pub(crate) retry: RetryPolicy,
    pub(crate) rate: Option<DispatchRate>,
    /// Abort criteria in the order given; empty: none. Shared, so that cloning a config (a
    /// rerun) does not copy the list.
    pub(crate) abort: Arc<[AbortCriterion]>,
    pub(crate) gate: Option<GroupGate>,
    /// Dispatch only while one of these is open; `None`: always.
    pub(crate) windows: Option<Arc<MaintenanceWindows>>,
    /// The UTC instant (ms since the Unix epoch) of the run's time 0; the windows read it.
    pub(crate) clock_origin_ms: i64,
}
