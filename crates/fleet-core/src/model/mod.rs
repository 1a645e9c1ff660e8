//! The JSON model of the jobs APIs: IoT Central jobs, scheduled jobs and device groups
//! (api-version 2022-07-31), IoT Hub jobs v2 (api-version 2021-04-12), AWS IoT Jobs' CreateJob
//! ([`AwsJob`]) and hawkBit rollouts ([`HawkbitRollout`]).
//!
//! The types read and write the documents exactly as the APIs and their documentation show
//! them, and connect them to the engine: [`Job::run_builder`], [`ScheduledJob::run_builder`],
//! [`JobRequest::run_builder`], [`AwsJob::run_builder`] and [`HawkbitRollout::run_builder`] give
//! a [`crate::RunBuilder`]; [`dialect`] maps the engine's statuses
//! and counts to each API's words.
//!
//! # Three layers
//!
//! 1. **Parsing** ([`parse`]) checks the shape: JSON syntax, field names (every struct denies
//!    unknown fields), JSON types and the words of closed vocabularies. Errors are
//!    [`crate::ErrorKind::Json`] with the field's path (`data[0].valu`).
//! 2. **Validation** ([`Validate`]) checks the values: ids, ranges, fields that a `type` requires
//!    or forbids, consistency. Errors are typed ([`crate::ErrorKind::BatchOutOfRange`],
//!    [`crate::ErrorKind::MissingField`], ...) and carry the field's path. Nothing is clamped.
//! 3. **Conversion** into the engine's builder, after validation.
//!
//! # Round trips
//!
//! A document read and written back is the same JSON value. In particular:
//!
//! - Words that have two spellings keep the one read ([`Word`]): `PropertyJobData` stays
//!   `PropertyJobData`, `completed` stays `completed`, `canceled` stays `canceled`. Values built in
//!   code are written with the specification's word (`property`, `complete`, `cancelled`).
//! - Numbers keep their JSON form: a batch `value` is a [`serde_json::Number`] (`25` stays `25`,
//!   `12.5` stays `12.5`); a data `value` is any [`serde_json::Value`] (`"56"` stays a string, `56`
//!   a number).
//! - Absent and `null` stay apart where `null` can occur: a data entry's `value` (`None` is
//!   absent, `Some(Value::Null)` is `null`), IoT Hub `startTime`/`endTime` and merge-patch fields
//!   ([`Nullable`]). Elsewhere `null` for an optional field reads as absent and is written back
//!   as absent: the APIs omit absent fields rather than send `null`.
//! - Integer fields (`responseTimeoutInSeconds`, `maxExecutionTimeInSeconds`, `occurrences`) read
//!   a whole number written with a fraction (`68.0`), as JSON does not tell it from `68`, and
//!   write it as `68`.
//! - The mistaken `"batch": "number"` of one CLI inside `cancellationThreshold` is read as
//!   `false` and written back as the string ([`BatchFlag`]).
//!
//! `deny_unknown_fields` does not combine with `#[serde(flatten)]`, so no type flattens another:
//! [`ScheduledJob`] repeats the definition fields of [`Job`], and [`JobResponse`] those of
//! [`JobRequest`].
//!
//! # Which fields are required when reading
//!
//! The fields that the specification requires in every message are required by parsing (a
//! Central job's `group` and `data`, a scheduled job's `schedule` and `schedule.start`, a device
//! group's `displayName` and `filter`, a batch's `type` and `value`). Ids are optional, because
//! the URL carries them on create. Fields whose presence depends on a `type` (a data entry's
//! `target`/`path`/`value`/`template`/`manifest`, a schedule end's `date`/`occurrences`, a hub
//! job's `cloudToDeviceMethod`/`updateTwin`) are optional when reading and checked by
//! validation, which names the missing or unexpected field. The IoT Hub Swagger requires no
//! field, so hub fields are optional when reading and validation requires what a job needs.
//!
//! # Example
//!
//! ```
//! use fleet_core::model::{parse, Job, Validate};
//!
//! let job: Job = parse::from_str(r#"{
//!     "group": "thermostats",
//!     "batch": {"type": "percentage", "value": 25},
//!     "cancellationThreshold": {"type": "number", "value": 2, "batch": true},
//!     "data": [{"type": "PropertyJobData", "target": "dtmi:x:y;1", "path": "targetTemperature", "value": 56}]
//! }"#)?;
//! job.validate()?;
//! let run = job.run_builder()?.build(7)?;
//! assert_eq!(run.plan().sizes().collect::<Vec<_>>(), [2, 2, 2, 1]);
//! # Ok::<(), fleet_core::Error>(())
//! ```

mod aws;
mod central;
mod data;
mod definition;
pub mod dialect;
mod group;
mod hawkbit;
mod hub;
mod nullable;
pub mod parse;
mod scheduled;
pub mod validate;
mod whole;
mod word;

pub use aws::{
    aws_job_id, AwsAbortAction, AwsAbortConfig, AwsAbortCriteria, AwsExponentialRate,
    AwsFailureType, AwsJob, AwsRateIncreaseCriteria, AwsRetryConfig, AwsRetryCriteria,
    AwsRolloutConfig, AwsTargetSelection, AwsTimeoutConfig, AWS_IN_PROGRESS_TIMEOUT_MAX_MIN,
    AWS_JOB_ID_MAX, AWS_RATE_MAX,
};
pub use central::{
    BatchFlag, BatchSpec, CancellationThresholdSpec, Collection, CountType, ErrorDetail,
    ErrorResponse, Job, JobDeviceStatus,
};
pub use data::{DataType, JobData, Operation};
pub use definition::JobDefinition;
pub use dialect::{
    AwsExecutionStatus, AwsJobStatus, CentralJobStatus, DeviceJobStatistics, DeviceStatus,
    HubJobStatus, Progress,
};
pub use group::DeviceGroup;
pub use hawkbit::{
    HawkbitActionType, HawkbitCondition, HawkbitConditionType, HawkbitErrorAction,
    HawkbitErrorActionType, HawkbitGroup, HawkbitRollout, HawkbitSuccessAction,
    HawkbitSuccessActionType, HAWKBIT_DEFAULT_ERROR_PERCENT, HAWKBIT_DEFAULT_SUCCESS_PERCENT,
    HAWKBIT_GROUPS_MAX,
};
pub use hub::{
    CloudToDeviceMethod, HubError, HubJobType, JobRequest, JobResponse, TwinPatch,
    TwinPatchProperties, CONNECT_TIMEOUT_DEFAULT_S, CONNECT_TIMEOUT_MAX_S, METHOD_PAYLOAD_MAX,
    RESPONSE_TIMEOUT_DEFAULT_S, RESPONSE_TIMEOUT_MAX_S, RESPONSE_TIMEOUT_MIN_S,
};
pub use nullable::Nullable;
pub use scheduled::{
    EndCondition, EndType, Recurrence, Schedule, ScheduleEnd, SchedulePatch, ScheduledJob,
    ScheduledJobPatch,
};
pub use validate::Validate;
pub use word::{Spelling, Vocabulary, Word};
