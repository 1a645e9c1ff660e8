//! A job definition in any dialect, as a user pastes it into a scenario: an IoT Central job, an
//! IoT Central scheduled job, an IoT Hub JobRequest (or JobResponse), an AWS IoT CreateJob body
//! or a hawkBit rollout.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::model::aws::AwsJob;
use crate::model::central::Job;
use crate::model::hawkbit::HawkbitRollout;
use crate::model::hub::JobRequest;
use crate::model::parse;
use crate::model::scheduled::ScheduledJob;
use crate::model::validate::Validate;
use crate::RunBuilder;

/// A job definition, its dialect told from its fields.
///
/// An object with `schedule` is a [`ScheduledJob`]; one with `group`, `data`, `batch` or
/// `cancellationThreshold` is a Central [`Job`]; one with a field only AWS IoT Jobs has
/// (`document`, `documentSource`, `targets`, `targetSelection`, `jobExecutionsRolloutConfig`,
/// `abortConfig`, `timeoutConfig`, `jobExecutionsRetryConfig`, `schedulingConfig`,
/// `jobTemplateArn`, `presignedUrlConfig`, `documentParameters`, `destinationPackageVersions`,
/// `namespaceId`) is an [`AwsJob`]; one with a field only hawkBit rollouts have
/// (`distributionSetId`, `amountGroups`, `groups`, `successCondition`, `successAction`,
/// `errorCondition`, `errorAction`, `targetFilterQuery`, `forcetime`, `startAt`) is a
/// [`HawkbitRollout`]; one with `jobId`, `type`, `queryCondition`, `cloudToDeviceMethod`,
/// `updateTwin`, `startTime` or `maxExecutionTimeInSeconds` is a Hub [`JobRequest`]. A
/// JobResponse is read as its request part when it has only request fields; the hub's own fields
/// (`status`, `createdTime`, ...) are unknown fields of a request.
///
/// ```
/// use fleet_core::model::JobDefinition;
///
/// let def = JobDefinition::from_json(r#"{
///     "jobId": "reboot-all", "type": "scheduleDeviceMethod", "queryCondition": "*",
///     "cloudToDeviceMethod": {"methodName": "reboot"}, "maxExecutionTimeInSeconds": 3600
/// }"#)?;
/// assert!(matches!(def, JobDefinition::Hub(_)));
/// let run = def.run_builder()?.build(10)?;
/// assert_eq!(run.counts().total, 10);
/// # Ok::<(), fleet_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum JobDefinition {
    /// An IoT Central job.
    Central(Job),
    /// An IoT Central scheduled job.
    Scheduled(ScheduledJob),
    /// An IoT Hub JobRequest.
    Hub(JobRequest),
    /// An AWS IoT Jobs CreateJob body.
    Aws(AwsJob),
    /// A hawkBit rollout create body.
    Hawkbit(HawkbitRollout),
}

/// Which dialect a top-level object is in, from its field names.
#[derive(Debug, Clone, Copy)]
enum Dialect {
    Central,
    Scheduled,
    Hub,
    Aws,
    Hawkbit,
}

fn dialect_of(object: &Map<String, Value>) -> Option<Dialect> {
    const CENTRAL: &[&str] = &["group", "data", "batch", "cancellationThreshold"];
    const HUB: &[&str] = &[
        "jobId",
        "type",
        "queryCondition",
        "cloudToDeviceMethod",
        "updateTwin",
        "startTime",
        "maxExecutionTimeInSeconds",
    ];
    const AWS: &[&str] = &[
        "document",
        "documentSource",
        "targets",
        "targetSelection",
        "jobExecutionsRolloutConfig",
        "abortConfig",
        "timeoutConfig",
        "jobExecutionsRetryConfig",
        "schedulingConfig",
        "jobTemplateArn",
        "presignedUrlConfig",
        "documentParameters",
        "destinationPackageVersions",
        "namespaceId",
    ];
    const HAWKBIT: &[&str] = &[
        "distributionSetId",
        "amountGroups",
        "groups",
        "successCondition",
        "successAction",
        "errorCondition",
        "errorAction",
        "targetFilterQuery",
        "forcetime",
        "startAt",
    ];
    let has = |names: &[&str]| names.iter().any(|n| object.contains_key(*n));
    if object.contains_key("schedule") {
        Some(Dialect::Scheduled)
    } else if has(CENTRAL) {
        Some(Dialect::Central)
    } else if has(AWS) {
        Some(Dialect::Aws)
    } else if has(HAWKBIT) {
        Some(Dialect::Hawkbit)
    } else if has(HUB) {
        Some(Dialect::Hub)
    } else {
        None
    }
}

fn undetermined() -> Error {
    Error::new(ErrorKind::InvalidValue(
        "not a job definition: expected an IoT Central job (with `group` and `data`), a \
         scheduled job (with `schedule`), an IoT Hub JobRequest (with `type`), an AWS IoT job \
         (with `document`) or a hawkBit rollout (with `distributionSetId`)"
            .into(),
    ))
}

impl JobDefinition {
    /// Reads a definition from JSON text, telling the dialect from the top-level fields. Errors
    /// name the field as [`parse::from_str`] does.
    pub fn from_json(json: &str) -> Result<Self> {
        let value: Value = parse::from_str(json)?;
        let object = value.as_object().ok_or_else(undetermined)?;
        // Parse the text again (not the value) so that messages keep their line and column.
        Ok(match dialect_of(object).ok_or_else(undetermined)? {
            Dialect::Central => Self::Central(parse::from_str(json)?),
            Dialect::Scheduled => Self::Scheduled(parse::from_str(json)?),
            Dialect::Hub => Self::Hub(parse::from_str(json)?),
            Dialect::Aws => Self::Aws(parse::from_str(json)?),
            Dialect::Hawkbit => Self::Hawkbit(parse::from_str(json)?),
        })
    }

    /// Reads a definition from a JSON value (for example one taken from a TOML scenario).
    pub fn from_value(value: Value) -> Result<Self> {
        let dialect = value
            .as_object()
            .and_then(dialect_of)
            .ok_or_else(undetermined)?;
        Ok(match dialect {
            Dialect::Central => Self::Central(parse::from_value(value)?),
            Dialect::Scheduled => Self::Scheduled(parse::from_value(value)?),
            Dialect::Hub => Self::Hub(parse::from_value(value)?),
            Dialect::Aws => Self::Aws(parse::from_value(value)?),
            Dialect::Hawkbit => Self::Hawkbit(parse::from_value(value)?),
        })
    }

    /// The engine's builder for a run of this definition (validated first).
    pub fn run_builder(&self) -> Result<RunBuilder> {
        match self {
            Self::Central(job) => job.run_builder(),
            Self::Scheduled(job) => job.run_builder(),
            Self::Hub(request) => request.run_builder(),
            Self::Aws(job) => job.run_builder(),
            Self::Hawkbit(rollout) => rollout.run_builder(),
        }
    }

    /// The dialect's name: `central`, `scheduled`, `hub`, `aws` or `hawkbit`.
    pub fn dialect(&self) -> &'static str {
        match self {
            Self::Central(_) => "central",
            Self::Scheduled(_) => "scheduled",
            Self::Hub(_) => "hub",
            Self::Aws(_) => "aws",
            Self::Hawkbit(_) => "hawkbit",
        }
    }
}

impl Validate for JobDefinition {
    fn validate(&self) -> Result<()> {
        match self {
            Self::Central(job) => job.validate(),
            Self::Scheduled(job) => job.validate(),
            Self::Hub(request) => request.validate(),
            Self::Aws(job) => job.validate(),
            Self::Hawkbit(rollout) => rollout.validate(),
        }
    }
}

impl<'de> Deserialize<'de> for JobDefinition {
    /// Reads any self-describing format (JSON, TOML). An error inside the definition is reported
    /// with its path in the message (`data[0].valu: unknown field ...`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(de::Error::custom)
    }
}
