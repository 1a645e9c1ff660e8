//! fleet-scenario: fleetsim's scenario files, expectations and reports.
//!
//! A scenario states a fleet, its behaviour and faults, an optional IoT Hub model, jobs pasted
//! as the APIs take them, and `expect` assertions on the outcome. [`Scenario::load`] reads and
//! validates one (TOML or JSON, errors naming file, line and field); [`run`] simulates it with
//! `fleet-sim` and checks the expectations; the [`report`] module renders the result as text,
//! JSON, HTML and CSV; [`plan`] answers the risk questions of a job's plan over a grid of plans
//! (`fleetsim plan`); [`check`] searches a space of fleets, behaviours and commands for a case
//! that fails an expectation and shrinks it (`fleetsim check`).

#![deny(missing_docs)]

pub mod check;
mod error;
pub mod expect;
mod imported;
pub mod merge;
mod parallel;
pub mod plan;
pub mod replicate;
pub mod report;
mod run;
mod scenario;
pub mod source;
pub mod warnings;

pub use error::{Error, ErrorKind, Result};
pub use imported::ImportedFleet;
pub use merge::{merge_files, Merged, PartialFile};
pub use plan::{
    merge_plans, run_plan, run_plan_shard, PlanOptions, PlanPartial, PlanReport, RiskSpec,
};
pub use replicate::{
    merge, run_replications, run_shard, Partial, ReplicationOptions, ReplicationReport, Shard,
};
pub use run::{run, run_observed, Budget, RunOptions};
pub use scenario::{GroupEntry, JobEntry, RetryEntry, Scenario, ScenarioFile};
pub use source::Format;
pub use warnings::Warning;
