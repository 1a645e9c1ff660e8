//! [`JobSpec`]: a job as the simulator runs it, and commands sent to it during a run.

use fleet_core::schedule::EndBehavior;
use fleet_core::RunBuilder;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::operation::Operation;
use crate::selector::TargetSpec;

/// A job for the simulator: what to do, to which devices, with which rollout policy, when.
///
/// This is the engine-facing form; the scenario layer builds it from IoT Central job JSON, IoT
/// Hub JobRequest JSON, AWS IoT CreateJob JSON or a hawkBit rollout. Not a serde type, because
/// [`RunBuilder`] is the engine's.
///
/// ```
/// use fleet_core::{BatchSize, RunBuilder};
/// use fleet_sim::{JobSpec, Operation, TargetSpec};
///
/// let job = JobSpec::new("set-temp", Operation::Property { name: "target".into(), value: 21.into() })
///     .targets(TargetSpec::All)
///     .run(RunBuilder::new().batch(BatchSize::percentage(10.0)?))
///     .start_ms(5_000);
/// assert_eq!(job.start_ms, 5_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The job id (unique within the simulation).
    pub id: String,
    /// What each target device is asked to do.
    pub operation: Operation,
    /// Which devices (evaluated when the run starts).
    pub targets: TargetSpec,
    /// Batches, threshold, deadline, device timeout and retries.
    pub run: RunBuilder,
    /// When the job is submitted, in virtual milliseconds from the simulation's start (0 = at
    /// once). It starts then, or when a hub job slot frees.
    pub start_ms: i64,
    /// AWS `endTime` and `endBehavior`: at this virtual time (or at the run's start, if it
    /// starts later) the behaviour's input goes to the run (semantics rule 17). `None`: no end.
    pub end: Option<(i64, EndBehavior)>,
}

impl JobSpec {
    /// A job over every device, with the engine's defaults, submitted at time 0.
    pub fn new(id: impl Into<String>, operation: Operation) -> Self {
        Self {
            id: id.into(),
            operation,
            targets: TargetSpec::All,
            run: RunBuilder::new(),
            start_ms: 0,
            end: None,
        }
    }

    /// Sets the targets.
    pub fn targets(mut self, targets: TargetSpec) -> Self {
        self.targets = targets;
        self
    }

    /// Sets the rollout policy.
    pub fn run(mut self, run: RunBuilder) -> Self {
        self.run = run;
        self
    }

    /// Sets the submission time.
    pub fn start_ms(mut self, start_ms: i64) -> Self {
        self.start_ms = start_ms;
        self
    }

    /// Sets the end time (virtual ms) and what happens then (AWS `endTime`, `endBehavior`).
    pub fn end(mut self, at_ms: i64, behavior: EndBehavior) -> Self {
        self.end = Some((at_ms, behavior));
        self
    }

    /// Checks the id, the operation and the start time.
    pub fn validate(&self) -> Result<()> {
        if self.id.is_empty() {
            return Err(Error::at(
                "id",
                ErrorKind::InvalidValue("a job id must not be empty".into()),
            ));
        }
        if self.start_ms < 0 {
            return Err(Error::at(
                "start_ms",
                ErrorKind::NegativeDuration(self.start_ms as f64),
            ));
        }
        if let Some((at_ms, _)) = self.end.filter(|(at_ms, _)| *at_ms < 0) {
            return Err(Error::at("end", ErrorKind::NegativeDuration(at_ms as f64)));
        }
        self.operation
            .validate()
            .map_err(|e| e.within("operation"))?;
        if let TargetSpec::Selector(s) = &self.targets {
            s.validate().map_err(|e| e.within("targets.selector"))?;
        }
        self.run
            .build(0)
            .map_err(|e| Error::from(e).within("run"))?;
        Ok(())
    }
}

/// A rerun of a job's failed devices during the simulation (semantics rule 6; see
/// [`crate::SimBuilder::rerun`]): a new run, with its own id, over exactly the devices that
/// failed in the job's run, with the same operation, batching, threshold and retries. It draws
/// its own fates (its random streams are keyed by its id), so a device that failed at random
/// may succeed in the rerun; a deterministic fault fails it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerunSpec {
    /// The job whose failed devices are rerun (a job of the simulation, not a rerun).
    pub job: String,
    /// The rerun's id (unique among the jobs and reruns).
    pub id: String,
    /// When, in virtual milliseconds; `None`: as soon as the job's run settles.
    pub at_ms: Option<i64>,
}

/// A command to a job's run during the simulation (see [`crate::SimBuilder::command`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobCommand {
    /// Dispatch nothing new; in-flight devices finish.
    Stop,
    /// Continue a stopped run.
    Resume,
    /// Cancel the run; `force` also abandons in-flight devices.
    Cancel {
        /// Abandon in-flight devices too.
        #[serde(default)]
        force: bool,
    },
    /// Start the next batch now (hawkBit's manual trigger of the next group).
    TriggerNextBatch,
}

impl JobCommand {
    /// A short word (`stop`, `resume`, `cancel`, `force_cancel`, `trigger_next_batch`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Resume => "resume",
            Self::Cancel { force: false } => "cancel",
            Self::Cancel { force: true } => "force_cancel",
            Self::TriggerNextBatch => "trigger_next_batch",
        }
    }

    /// The command a short word names (the words of [`JobCommand::as_str`]).
    pub fn from_word(word: &str) -> Option<Self> {
        Some(match word {
            "stop" => Self::Stop,
            "resume" => Self::Resume,
            "cancel" => Self::Cancel { force: false },
            "force_cancel" => Self::Cancel { force: true },
            "trigger_next_batch" => Self::TriggerNextBatch,
            _ => return None,
        })
    }

    /// The engine input that carries out this command.
    pub fn input(self) -> fleet_core::Input {
        match self {
            Self::Stop => fleet_core::Input::Stop,
            Self::Resume => fleet_core::Input::Resume,
            Self::Cancel { force } => fleet_core::Input::Cancel { force },
            Self::TriggerNextBatch => fleet_core::Input::TriggerNextBatch,
        }
    }
}
