//! IoT Hub jobs v2 (api-version 2021-04-12): JobRequest, JobResponse, the direct method and twin
//! patch they carry, and the error body. The status words and `deviceJobStatistics` are in
//! [`crate::model::dialect`].
//!
//! Field names follow the Swagger (`reference/iothub-service-2021-04-12.json`). The Swagger
//! marks no field required, so every field is optional when reading; [`Validate`] enforces what a
//! runnable job needs.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::model::dialect::{DeviceJobStatistics, HubJobStatus};
use crate::model::nullable::{present, Nullable};
use crate::model::validate::{self, Validate};
use crate::model::whole;
use crate::model::word::vocabulary;
use crate::RunBuilder;

vocabulary! {
    /// The `type` of an IoT Hub job, as the Swagger lists it. Only `scheduleDeviceMethod` and
    /// `scheduleUpdateTwin` can be created through `/jobs/v2`; the others are read (a job query
    /// may list them) but do not validate as a job to run.
    pub enum HubJobType {
        /// `unknown`.
        Unknown = "unknown",
        /// `export` (identity export).
        Export = "export",
        /// `import` (identity import).
        Import = "import",
        /// `backup`.
        Backup = "backup",
        /// `readDeviceProperties`.
        ReadDeviceProperties = "readDeviceProperties",
        /// `writeDeviceProperties`.
        WriteDeviceProperties = "writeDeviceProperties",
        /// `updateDeviceConfiguration`.
        UpdateDeviceConfiguration = "updateDeviceConfiguration",
        /// `rebootDevice`.
        RebootDevice = "rebootDevice",
        /// `factoryResetDevice`.
        FactoryResetDevice = "factoryResetDevice",
        /// `firmwareUpdate`.
        FirmwareUpdate = "firmwareUpdate",
        /// `scheduleDeviceMethod`: call a direct method on every device the query matches.
        ScheduleDeviceMethod = "scheduleDeviceMethod",
        /// `scheduleUpdateTwin`: apply a twin patch to every device the query matches.
        ScheduleUpdateTwin = "scheduleUpdateTwin",
        /// `restoreFromBackup`.
        RestoreFromBackup = "restoreFromBackup",
        /// `failoverDataCopy`.
        FailoverDataCopy = "failoverDataCopy",
    }
}

/// The least `responseTimeoutInSeconds` IoT Hub accepts.
pub const RESPONSE_TIMEOUT_MIN_S: i64 = 5;
/// The most `responseTimeoutInSeconds` IoT Hub accepts.
pub const RESPONSE_TIMEOUT_MAX_S: i64 = 300;
/// The `responseTimeoutInSeconds` IoT Hub uses when none is given.
pub const RESPONSE_TIMEOUT_DEFAULT_S: i64 = 30;
/// The most `connectTimeoutInSeconds` IoT Hub accepts (the least is 0).
pub const CONNECT_TIMEOUT_MAX_S: i64 = 300;
/// The `connectTimeoutInSeconds` IoT Hub uses when none is given: a device that is not
/// connected fails at once.
pub const CONNECT_TIMEOUT_DEFAULT_S: i64 = 0;
/// The largest direct method payload, in bytes of JSON (128 KB).
pub const METHOD_PAYLOAD_MAX: usize = 128 * 1024;

/// The body of `PUT /jobs/v2/{id}`.
///
/// Validation:
/// - `jobId` (optional: the URL carries it): see [`validate::hub_job_id`].
/// - `type` is required and is `scheduleDeviceMethod` or `scheduleUpdateTwin`
///   ([`ErrorKind::InvalidValue`] otherwise).
/// - `scheduleDeviceMethod` needs `cloudToDeviceMethod` and takes no `updateTwin`;
///   `scheduleUpdateTwin` needs `updateTwin` and takes no `cloudToDeviceMethod`
///   ([`ErrorKind::MissingField`] / [`ErrorKind::UnexpectedField`] at the field's path).
/// - `queryCondition` is required, not empty, at most 8,192 characters.
/// - `startTime`, when not absent or `null`, is an RFC 3339 date-time.
/// - `maxExecutionTimeInSeconds` is positive (and small enough to count in milliseconds).
/// - the payload's own rules: [`CloudToDeviceMethod`], [`TwinPatch`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobRequest {
    /// The job's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The job's type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<HubJobType>,
    /// The direct method to call (`scheduleDeviceMethod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_method: Option<CloudToDeviceMethod>,
    /// The twin patch to apply (`scheduleUpdateTwin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_twin: Option<TwinPatch>,
    /// The devices to run on: the WHERE part of a twin query, or `*` for all devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_condition: Option<String>,
    /// When to start (RFC 3339); absent or `null` is now. Absent and `null` are kept apart.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<Nullable<String>>,
    /// How long the job may run before the devices not done fail.
    #[serde(
        default,
        deserialize_with = "whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_execution_time_in_seconds: Option<i64>,
}

impl JobRequest {
    /// A `scheduleDeviceMethod` job calling `method` on the devices `query_condition` matches.
    pub fn device_method(
        job_id: impl Into<String>,
        query_condition: impl Into<String>,
        method: CloudToDeviceMethod,
    ) -> Self {
        Self {
            job_id: Some(job_id.into()),
            kind: Some(HubJobType::ScheduleDeviceMethod),
            cloud_to_device_method: Some(method),
            query_condition: Some(query_condition.into()),
            ..Self::default()
        }
    }

    /// A `scheduleUpdateTwin` job applying `patch` to the devices `query_condition` matches.
    pub fn update_twin(
        job_id: impl Into<String>,
        query_condition: impl Into<String>,
        patch: TwinPatch,
    ) -> Self {
        Self {
            job_id: Some(job_id.into()),
            kind: Some(HubJobType::ScheduleUpdateTwin),
            update_twin: Some(patch),
            query_condition: Some(query_condition.into()),
            ..Self::default()
        }
    }

    /// The engine's builder for a run of this job: `maxExecutionTimeInSeconds` becomes
    /// `max_execution_ms`. IoT Hub jobs have no batches and no threshold. The request is
    /// validated first.
    ///
    /// The direct method's timeouts are not the run's: a device's `responseTimeoutInSeconds`
    /// is the driver's to apply (it reports `Outcome::TimedOut`).
    pub fn run_builder(&self) -> Result<RunBuilder> {
        self.validate()?;
        let mut builder = RunBuilder::new();
        if let Some(ms) = self.max_execution_ms()? {
            builder = builder.max_execution_ms(ms);
        }
        Ok(builder)
    }

    /// `maxExecutionTimeInSeconds` in milliseconds, checked: positive and without overflow.
    pub fn max_execution_ms(&self) -> Result<Option<i64>> {
        let Some(seconds) = self.max_execution_time_in_seconds else {
            return Ok(None);
        };
        let at = |m: String| Error::at("maxExecutionTimeInSeconds", ErrorKind::InvalidValue(m));
        if seconds <= 0 {
            return Err(at(format!("{seconds} s; the time must be positive")));
        }
        seconds
            .checked_mul(1000)
            .map(Some)
            .ok_or_else(|| at(format!("{seconds} s is too long to count in milliseconds")))
    }
}

impl Validate for JobRequest {
    fn validate(&self) -> Result<()> {
        if let Some(id) = &self.job_id {
            validate::hub_job_id(id).map_err(|e| e.within("jobId"))?;
        }
        let kind = self
            .kind
            .ok_or_else(|| Error::at("type", ErrorKind::MissingField("type")))?;
        match kind {
            HubJobType::ScheduleDeviceMethod => {
                if self.update_twin.is_some() {
                    return Err(Error::at(
                        "updateTwin",
                        ErrorKind::UnexpectedField("updateTwin"),
                    ));
                }
                let method = self.cloud_to_device_method.as_ref().ok_or_else(|| {
                    Error::at(
                        "cloudToDeviceMethod",
                        ErrorKind::MissingField("cloudToDeviceMethod"),
                    )
                })?;
                method
                    .validate()
                    .map_err(|e| e.within("cloudToDeviceMethod"))?;
            }
            HubJobType::ScheduleUpdateTwin => {
                if self.cloud_to_device_method.is_some() {
                    return Err(Error::at(
                        "cloudToDeviceMethod",
                        ErrorKind::UnexpectedField("cloudToDeviceMethod"),
                    ));
                }
                let patch = self.update_twin.as_ref().ok_or_else(|| {
                    Error::at("updateTwin", ErrorKind::MissingField("updateTwin"))
                })?;
                patch.validate().map_err(|e| e.within("updateTwin"))?;
            }
            other => {
                return Err(Error::at(
                    "type",
                    ErrorKind::InvalidValue(format!(
                        "`{other}` jobs cannot be run; the type is scheduleDeviceMethod or \
                         scheduleUpdateTwin"
                    )),
                ))
            }
        }
        let query = self.query_condition.as_deref().ok_or_else(|| {
            Error::at("queryCondition", ErrorKind::MissingField("queryCondition"))
        })?;
        validate::query("queryCondition", query)?;
        if let Some(Nullable::Value(start)) = &self.start_time {
            validate::timestamp("startTime", start)?;
        }
        self.max_execution_ms()?;
        Ok(())
    }
}

/// A direct method call: `{"methodName", "payload", "responseTimeoutInSeconds",
/// "connectTimeoutInSeconds"}`.
///
/// Validation: `methodName` is required and not empty; `responseTimeoutInSeconds` is 5 to 300;
/// `connectTimeoutInSeconds` is 0 to 300 (per the IoT Hub direct methods guide); the `payload`
/// (any JSON, `null` kept apart from absent) is at most 128 KB of JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CloudToDeviceMethod {
    /// The method's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_name: Option<String>,
    /// The request payload: any JSON.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub payload: Option<Value>,
    /// How long to wait for the device's answer once it has the call.
    #[serde(
        default,
        deserialize_with = "whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_timeout_in_seconds: Option<i64>,
    /// How long to wait for a disconnected device to connect.
    #[serde(
        default,
        deserialize_with = "whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub connect_timeout_in_seconds: Option<i64>,
}

impl CloudToDeviceMethod {
    /// A call of `method_name` with `payload`, default timeouts.
    pub fn new(method_name: impl Into<String>, payload: Value) -> Self {
        Self {
            method_name: Some(method_name.into()),
            payload: Some(payload),
            ..Self::default()
        }
    }

    /// The response timeout in seconds, with IoT Hub's default (30) when absent.
    pub fn response_timeout_s(&self) -> i64 {
        self.response_timeout_in_seconds
            .unwrap_or(RESPONSE_TIMEOUT_DEFAULT_S)
    }

    /// The connect timeout in seconds, with IoT Hub's default (0) when absent.
    pub fn connect_timeout_s(&self) -> i64 {
        self.connect_timeout_in_seconds
            .unwrap_or(CONNECT_TIMEOUT_DEFAULT_S)
    }
}

impl Validate for CloudToDeviceMethod {
    /// Paths are relative to the method (`methodName`).
    fn validate(&self) -> Result<()> {
        let name = self
            .method_name
            .as_deref()
            .ok_or_else(|| Error::at("methodName", ErrorKind::MissingField("methodName")))?;
        validate::non_empty("methodName", name)?;
        if let Some(t) = self.response_timeout_in_seconds {
            if !(RESPONSE_TIMEOUT_MIN_S..=RESPONSE_TIMEOUT_MAX_S).contains(&t) {
                return Err(Error::at(
                    "responseTimeoutInSeconds",
                    ErrorKind::InvalidValue(format!(
                        "{t} s; the response timeout is {RESPONSE_TIMEOUT_MIN_S} to \
                         {RESPONSE_TIMEOUT_MAX_S} s"
                    )),
                ));
            }
        }
        if let Some(t) = self.connect_timeout_in_seconds {
            if !(0..=CONNECT_TIMEOUT_MAX_S).contains(&t) {
                return Err(Error::at(
                    "connectTimeoutInSeconds",
                    ErrorKind::InvalidValue(format!(
                        "{t} s; the connect timeout is 0 to {CONNECT_TIMEOUT_MAX_S} s"
                    )),
                ));
            }
        }
        if let Some(payload) = &self.payload {
            let size = serde_json::to_vec(payload).map_or(0, |v| v.len());
            if size > METHOD_PAYLOAD_MAX {
                return Err(Error::at(
                    "payload",
                    ErrorKind::InvalidValue(format!(
                        "{size} bytes; a method payload is at most {METHOD_PAYLOAD_MAX} bytes"
                    )),
                ));
            }
        }
        Ok(())
    }
}

/// The twin patch of a `scheduleUpdateTwin` job (`updateTwin`): `{"etag": "*", "tags"?,
/// "properties"?: {"desired"?}}`.
///
/// Only what a job can change is read: tags and desired properties. The Swagger's other `Twin`
/// fields (reported properties, status, connection state, ...) belong to the device or the hub
/// and are unknown fields here.
///
/// Validation: `etag`, if present, is `*` (a job patches many twins, each with its own etag, so
/// only the wildcard makes sense; absent means the same); at least one tag or desired property;
/// every name at every depth follows [`validate::twin_property_name`]; objects nest at most
/// [`validate::TWIN_DEPTH_MAX`] deep. Values may be any JSON (`null` removes a property).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinPatch {
    /// The twin etag the patch applies to; `*` for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Tags to set (`null` removes one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Map<String, Value>>,
    /// Properties to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<TwinPatchProperties>,
}

/// The `properties` of a [`TwinPatch`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinPatchProperties {
    /// Desired properties to set (`null` removes one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Map<String, Value>>,
}

impl TwinPatch {
    /// A patch with `etag: "*"` setting these desired properties.
    pub fn desired(desired: Map<String, Value>) -> Self {
        Self {
            etag: Some("*".into()),
            tags: None,
            properties: Some(TwinPatchProperties {
                desired: Some(desired),
            }),
        }
    }

    /// A patch with `etag: "*"` setting these tags.
    pub fn tags(tags: Map<String, Value>) -> Self {
        Self {
            etag: Some("*".into()),
            tags: Some(tags),
            properties: None,
        }
    }
}

impl Validate for TwinPatch {
    /// Paths are relative to the patch (`tags.a.b`, `properties.desired.x`).
    fn validate(&self) -> Result<()> {
        if let Some(etag) = &self.etag {
            if etag != "*" {
                return Err(Error::at(
                    "etag",
                    ErrorKind::InvalidValue(format!("{etag:?}; a job's twin patch has etag \"*\"")),
                ));
            }
        }
        let desired = self.properties.as_ref().and_then(|p| p.desired.as_ref());
        let changes = self.tags.as_ref().map_or(0, Map::len) + desired.map_or(0, Map::len);
        if changes == 0 {
            return Err(Error::new(ErrorKind::InvalidValue(
                "the patch sets no tag and no desired property".into(),
            )));
        }
        if let Some(tags) = &self.tags {
            validate::twin_object("tags", tags)?;
        }
        if let Some(desired) = desired {
            validate::twin_object("properties.desired", desired)?;
        }
        Ok(())
    }
}

/// The result of `GET /jobs/v2/{id}` and friends: the request's fields plus the hub's.
///
/// Validation checks the request part ([`JobResponse::request`]), so that a response pasted
/// into a scenario is a runnable job; the hub's own fields are not checked.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobResponse {
    /// The job's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The device query condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_condition: Option<String>,
    /// When the job was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    /// When the job starts or started; absent and `null` kept apart.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<Nullable<String>>,
    /// When the job ended; absent and `null` kept apart.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<Nullable<String>>,
    /// The job's time limit.
    #[serde(
        default,
        deserialize_with = "whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_execution_time_in_seconds: Option<i64>,
    /// The job's type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<HubJobType>,
    /// The direct method (`scheduleDeviceMethod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_to_device_method: Option<CloudToDeviceMethod>,
    /// The twin patch (`scheduleUpdateTwin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_twin: Option<TwinPatch>,
    /// The job's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HubJobStatus>,
    /// Why the job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// A message about the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Device counts by state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_job_statistics: Option<DeviceJobStatistics>,
}

impl JobResponse {
    /// The response to a request just accepted: the request's fields, status `queued`, or
    /// `scheduled` when `scheduled` says its start time is in the future.
    pub fn accepted(request: &JobRequest, scheduled: bool) -> Self {
        Self {
            job_id: request.job_id.clone(),
            query_condition: request.query_condition.clone(),
            start_time: request.start_time.clone(),
            max_execution_time_in_seconds: request.max_execution_time_in_seconds,
            kind: request.kind,
            cloud_to_device_method: request.cloud_to_device_method.clone(),
            update_twin: request.update_twin.clone(),
            status: Some(if scheduled {
                HubJobStatus::Scheduled
            } else {
                HubJobStatus::Queued
            }),
            ..Self::default()
        }
    }

    /// The request part of this response.
    pub fn request(&self) -> JobRequest {
        JobRequest {
            job_id: self.job_id.clone(),
            kind: self.kind,
            cloud_to_device_method: self.cloud_to_device_method.clone(),
            update_twin: self.update_twin.clone(),
            query_condition: self.query_condition.clone(),
            start_time: self.start_time.clone(),
            max_execution_time_in_seconds: self.max_execution_time_in_seconds,
        }
    }

    /// The engine's builder for a run of the job this response describes
    /// (see [`JobRequest::run_builder`]).
    pub fn run_builder(&self) -> Result<RunBuilder> {
        self.request().run_builder()
    }
}

impl Validate for JobResponse {
    fn validate(&self) -> Result<()> {
        self.request().validate()
    }
}

/// An IoT Hub error body as clients parse it:
/// `{"Message": "ErrorCode:<Code>;<text>", "ExceptionMessage": "Tracking ID:..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubError {
    /// `ErrorCode:<Code>;<text>`.
    #[serde(rename = "Message")]
    pub message: String,
    /// `Tracking ID:...`.
    #[serde(
        rename = "ExceptionMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exception_message: Option<String>,
}

impl HubError {
    /// An error with code `code` (`JobNotFound`, `ThrottlingException`) and text `text`.
    pub fn new(code: &str, text: &str) -> Self {
        Self {
            message: format!("ErrorCode:{code};{text}"),
            exception_message: None,
        }
    }

    /// The `<Code>` of the message, if it has the `ErrorCode:<Code>;` form.
    pub fn code(&self) -> Option<&str> {
        let rest = self.message.strip_prefix("ErrorCode:")?;
        Some(rest.split(';').next().unwrap_or(rest))
    }
}
