//! fleet-sim: a simulated IoT fleet, fault injection, and a deterministic virtual-time
//! executor that drives `fleet-core`'s job engine over it.
//!
//! # Tutorial
//!
//! A thousand thermostats, 2 % of which fail property updates, a job that sets a property in
//! batches of 10 % and is cancelled when 5 % of all devices have failed:
//!
//! ```
//! use fleet_core::{BatchSize, RunBuilder, Threshold};
//! use fleet_sim::*;
//!
//! let thermostat = TemplateSpec {
//!     id: "dtmi:contoso:thermostat;1".into(),
//!     properties: vec![PropertySpec { name: "targetTemperature".into(), schema: Schema::Double }],
//!     ..Default::default()
//! };
//! let fleet: FleetSpec = serde_json::from_str(r#"{
//!     "devices": 1000,
//!     "id_pattern": "therm-{:04}",
//!     "templates": [{"template": "dtmi:contoso:thermostat;1", "share": 1}],
//!     "tags": [{"name": "firmware", "values": [{"value": "1.1", "weight": 9}, {"value": "1.2", "weight": 1}]}]
//! }"#)?;
//! let behaviour: BehaviourSpec = serde_json::from_str(r#"{"rules": [
//!     {"latency": {"type": "lognormal", "median_ms": 2000, "sigma": 0.5}, "failure_probability": 0.02}
//! ]}"#)?;
//! let job = JobSpec::new(
//!     "set-temp",
//!     Operation::Property { name: "targetTemperature".into(), value: 21.5.into() },
//! )
//! .run(RunBuilder::new()
//!     .batch(BatchSize::percentage(10.0)?)
//!     .threshold(Threshold::percentage(5.0, false)?));
//!
//! let result = SimBuilder::new(42)
//!     .templates(vec![thermostat])
//!     .fleet(fleet)
//!     .behaviour(behaviour)
//!     .job(job)
//!     .build()?
//!     .run();
//!
//! let job = &result.jobs[0];
//! assert_eq!(job.status, "complete");
//! assert_eq!(job.counts.total, 1000);
//! assert_eq!(job.counts.succeeded + job.counts.failed, 1000);
//! assert_eq!(job.batches.len(), 10);
//! // The fleet after the run: every device that succeeded reports the new value.
//! let row = result.device_rows(0).find(|r| r.state == fleet_core::DeviceState::Succeeded).unwrap();
//! assert_eq!(result.fleet().reported(row.index, "targetTemperature"), Some(&21.5.into()));
//! assert_eq!(result.fleet().reported_version(row.index), 2);
//! // Same seed, same trace.
//! println!("seed {} trace {}", result.seed, result.trace_hash);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where things are
//!
//! - [`FleetSpec`], [`TemplateSpec`], [`Fleet`]: the devices (generated or explicit);
//!   [`FleetBuilder`] builds an explicit fleet one device at a time (an imported fleet).
//! - [`BehaviourSpec`], [`BehaviourRule`], [`Distribution`]: latency and faults by [`Selector`];
//!   [`CohortFault`]: a fault with a shared cause that hits a whole cohort in some replications.
//! - [`Selector`]: device queries (the `fleet-query` crate; a [`Fleet`] is its resolver, and
//!   [`Fleet::twin`] the document a query sees) and shorthand tables.
//! - [`HubSpec`], [`JobSlots`]: IoT Hub throttles and the concurrent-jobs limit.
//! - [`JobSpec`], [`Operation`]: what the jobs do; [`RerunSpec`]: reruns of failed devices.
//! - [`DeviceModel`]: THE device model (what becomes of a dispatch); [`RunExec`]: THE executor
//!   of a run's actions, driven through an [`Agenda`] (by the simulator and by the server).
//! - [`ScheduledJobSpec`]: an IoT Central scheduled job whose occurrences create runs over
//!   days of virtual time (one [`OccurrenceRow`] each in [`ScheduleResult`]).
//! - [`SimBuilder`], [`Simulation`], [`SimResult`]: running and reporting.
//!
//! Determinism: every random draw comes from a stream keyed by (seed, device, purpose) and, for
//! what becomes of an operation, the run ([`RunKey`]: its id) and the attempt (see the `rng`
//! module's documentation in the source), so a device's fate does not depend on event order,
//! every run (a job, a rerun, a run of a scheduled job) draws its own fates, and
//! [`SimResult::trace_hash`] is the same for the same scenario and seed on every machine.
//!
//! One device model and one executor: [`DeviceModel`] decides what becomes of a dispatch;
//! [`RunExec`] carries out a run's actions over it through the caller's [`Agenda`]. The
//! [`Simulation`] drives them in virtual time; the `fleetsim serve` server drives the same two
//! in scaled wall-clock time.

#![deny(missing_docs)]

mod behaviour;
mod builder;
mod cohort;
mod device;
mod distribution;
mod error;
mod exec;
mod fleet;
mod generator;
mod hub;
mod job;
mod operation;
mod probability;
mod query;
mod real;
mod result;
mod rng;
mod schedule;
mod selector;
mod sim;
#[doc(hidden)]
#[cfg(feature = "proptest")]
pub mod strategy;
mod template;
mod trace;
pub mod util;

pub use behaviour::{BehaviourRule, BehaviourSpec, Flapping, Offline, SwarmDraw};
pub use builder::SimBuilder;
pub use cohort::{CohortDraw, CohortFault};
pub use device::{DeviceModel, Fate, PreparedOp};
pub use distribution::Distribution;
pub use error::{Error, ErrorKind, Result};
pub use exec::{Agenda, Answer, RunExec};
pub use fleet::{DeviceFacts, DeviceId, DeviceSnapshot, DeviceSpec, Fleet, FleetBuilder, Section};
pub use generator::{FleetSpec, TemplateShare, ValueSpec, WeightedValue};
pub use hub::{HubLimits, HubSpec, JobSlots, ThrottleLoad, Tier};
pub use job::{JobCommand, JobSpec, RerunSpec};
pub use operation::Operation;
pub use probability::Probability;
pub use real::reason_of_status;
pub use result::{
    AbortTripRow, BatchRow, CommandRow, DeviceRow, HubSample, JobResult, OccurrenceRow, PauseRow,
    Reason, Sample, ScheduleResult, SimResult, TraceEvent, TripRow,
};
pub use rng::RunKey;
pub use schedule::ScheduledJobSpec;
pub use selector::{Selector, TargetSpec};
pub use sim::{Progress, Simulation};
pub use template::{CommandSpec, PropertySpec, Schema, TemplateSpec};
pub use trace::TraceHash;

/// The largest virtual time, in ms: 100 Julian years (3,155,760,000,000 ms). Every duration and
/// instant a scenario gives (latencies, means, timeouts, start and command times) is refused
/// above it when checked, and sampled durations are capped at it, so that virtual time never
/// saturates `i64` and a simulation always ends.
pub const MAX_VIRTUAL_MS: i64 = 3_155_760_000_000;

/// The default event budget of a simulation ([`SimBuilder::max_events`]): 2 billion events.
pub const DEFAULT_MAX_EVENTS: u64 = 2_000_000_000;
