//! IoT Central jobs (api-version 2022-07-31): the job, its batch and cancellation threshold,
//! per-device status, collections and the error body. The status words and `progress` are in
//! [`crate::model::dialect`].

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Number;

use crate::error::{Error, ErrorKind, Result};
use crate::model::data::JobData;
use crate::model::dialect::{CentralJobStatus, DeviceStatus, Progress};
use crate::model::validate::{self, Validate};
use crate::model::word::{vocabulary, Word};
use crate::{BatchSize, RunBuilder, Threshold};

vocabulary! {
    /// How a batch size or a threshold is counted (the `type` of `batch` and
    /// `cancellationThreshold`).
    pub enum CountType {
        /// `number`: a number of devices.
        Number = "number",
        /// `percentage`: a percentage of the devices (of the job, or of the batch).
        Percentage = "percentage",
    }
}

/// An IoT Central job: `GET/PUT /jobs/{id}`, an element of `GET /jobs`, and the body of a create.
///
/// `group` and `data` are required, as the specification says. `id` is optional because the URL
/// carries it on create; the other fields are absent from a create body and filled in by the
/// service (`status`, `progress`, `start`, `end`, `scheduledJobId`).
///
/// Reading checks field names and JSON types; [`Validate::validate`] checks the values:
///
/// - `id` and `scheduledJobId`: see [`validate::central_job_id`] (1 to 128 characters, RFC 3986
///   unreserved: ASCII letters, digits, `-`, `.`, `_`, `~`).
/// - `group`: not empty, and the same characters (it is a device group id).
/// - `batch`, `cancellationThreshold`: a percentage in (0, 100], a whole number of at least 1;
///   rejected, never clamped.
/// - `data`: at least one entry; every entry valid for its type (see [`JobData`]); all entries of
///   one type; at most one migration entry; no two entries for the same `target` and `path`.
/// - `start`, `end`: RFC 3339 date-times with an offset.
///
/// **Decision: a plain job's entries must all be of one type**, like a scheduled job's. IoT
/// Central builds a job as one job type (property, cloud property, command, template migration,
/// manifest migration) with one or more entries of that type; mixing them is refused rather than
/// guessed at. Several entries of one type are allowed (several properties in one job), but a
/// migration moves each device to a single template or manifest, so it has exactly one entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Job {
    /// The job's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The scheduled job that created this run, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_job_id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The id of the device group whose devices the job targets.
    pub group: String,
    /// How the targets are cut into batches; none is one batch of all targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchSpec>,
    /// When failures cancel the job; none is never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_threshold: Option<CancellationThresholdSpec>,
    /// What the job does to each device.
    pub data: Vec<JobData>,
    /// When the job started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// When the job ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Device counts by state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// The job's status, with the spelling it was read in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Word<CentralJobStatus>>,
    /// The organizations the job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<String>>,
}

impl Job {
    /// A job over device group `group` doing `data`, every other field absent.
    pub fn new(group: impl Into<String>, data: Vec<JobData>) -> Self {
        Self {
            id: None,
            scheduled_job_id: None,
            display_name: None,
            description: None,
            group: group.into(),
            batch: None,
            cancellation_threshold: None,
            data,
            start: None,
            end: None,
            progress: None,
            status: None,
            organizations: None,
        }
    }

    /// The engine's builder for a run of this job: `batch` becomes the [`BatchSize`],
    /// `cancellationThreshold` the [`Threshold`]. The job is validated first.
    pub fn run_builder(&self) -> Result<RunBuilder> {
        self.validate()?;
        builder(self.batch.as_ref(), self.cancellation_threshold.as_ref())
    }
}

impl Validate for Job {
    fn validate(&self) -> Result<()> {
        validate::optional_job_id("id", self.id.as_deref())?;
        validate::optional_job_id("scheduledJobId", self.scheduled_job_id.as_deref())?;
        validate_definition(
            &self.group,
            self.batch.as_ref(),
            self.cancellation_threshold.as_ref(),
            &self.data,
        )?;
        for (name, value) in [("start", &self.start), ("end", &self.end)] {
            if let Some(v) = value {
                validate::timestamp(name, v)?;
            }
        }
        Ok(())
    }
}

/// The definition shared by jobs and scheduled jobs: `group`, `batch`, `cancellationThreshold`
/// and `data`.
pub(crate) fn validate_definition(
    group: &str,
    batch: Option<&BatchSpec>,
    threshold: Option<&CancellationThresholdSpec>,
    data: &[JobData],
) -> Result<()> {
    validate::group_id("group", group)?;
    if let Some(b) = batch {
        b.to_batch_size().map_err(|e| e.within("batch"))?;
    }
    if let Some(t) = threshold {
        t.to_threshold()
            .map_err(|e| e.within("cancellationThreshold"))?;
    }
    validate::data_entries(data)
}

/// The engine's builder for a batch and a threshold (both already validated or not: errors carry
/// their paths).
pub(crate) fn builder(
    batch: Option<&BatchSpec>,
    threshold: Option<&CancellationThresholdSpec>,
) -> Result<RunBuilder> {
    let mut builder = RunBuilder::new();
    if let Some(b) = batch {
        builder = builder.batch(b.to_batch_size().map_err(|e| e.within("batch"))?);
    }
    if let Some(t) = threshold {
        builder = builder.threshold(
            t.to_threshold()
                .map_err(|e| e.within("cancellationThreshold"))?,
        );
    }
    Ok(builder)
}

/// A job's `batch`: `{"type": "number" | "percentage", "value": n}`.
///
/// `value` is kept as the JSON number it was read as (`25` stays `25`, `25.0` stays `25.0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSpec {
    /// Number of devices or percentage of the targets.
    #[serde(rename = "type")]
    pub kind: CountType,
    /// The number or the percentage.
    pub value: Number,
}

impl BatchSpec {
    /// `percentage` % of the targets per batch; rejects values outside (0, 100].
    pub fn percentage(percentage: f64) -> Result<Self> {
        let spec = Self {
            kind: CountType::Percentage,
            value: number_of(percentage),
        };
        spec.to_batch_size()?;
        Ok(spec)
    }

    /// `n` devices per batch; rejects 0.
    pub fn number(n: u32) -> Result<Self> {
        let spec = Self {
            kind: CountType::Number,
            value: Number::from(n),
        };
        spec.to_batch_size()?;
        Ok(spec)
    }

    /// The engine's batch size. A percentage outside (0, 100] or a number below 1 is
    /// [`ErrorKind::BatchOutOfRange`]; a number that is not whole is [`ErrorKind::InvalidValue`];
    /// the path is `value`.
    pub fn to_batch_size(&self) -> Result<BatchSize> {
        let at_value = |e: Error| e.within("value");
        match self.kind {
            CountType::Percentage => {
                let p = self.value.as_f64().unwrap_or(f64::NAN);
                BatchSize::percentage(p).map_err(at_value)
            }
            CountType::Number => {
                let n = validate::whole_number(&self.value, ErrorKind::BatchOutOfRange)
                    .map_err(at_value)?;
                BatchSize::number(n).map_err(at_value)
            }
        }
    }
}

/// A job's `cancellationThreshold`: `{"type", "value", "batch"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancellationThresholdSpec {
    /// Number of devices or percentage of the base.
    #[serde(rename = "type")]
    pub kind: CountType,
    /// The number or the percentage, as read.
    pub value: Number,
    /// Whether the threshold applies to each batch (`true`) or to the whole job; absent is
    /// `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchFlag>,
}

impl CancellationThresholdSpec {
    /// A threshold of `percentage` % of the job (`per_batch: false`) or of each batch.
    pub fn percentage(percentage: f64, per_batch: bool) -> Result<Self> {
        let spec = Self {
            kind: CountType::Percentage,
            value: number_of(percentage),
            batch: Some(BatchFlag::Bool(per_batch)),
        };
        spec.to_threshold()?;
        Ok(spec)
    }

    /// A threshold of `n` failures in the job (`per_batch: false`) or in one batch.
    pub fn number(n: u32, per_batch: bool) -> Result<Self> {
        let spec = Self {
            kind: CountType::Number,
            value: Number::from(n),
            batch: Some(BatchFlag::Bool(per_batch)),
        };
        spec.to_threshold()?;
        Ok(spec)
    }

    /// Whether the threshold applies to each batch.
    pub fn per_batch(&self) -> bool {
        self.batch.is_some_and(BatchFlag::per_batch)
    }

    /// The engine's threshold. A percentage outside (0, 100] or a number below 1 is
    /// [`ErrorKind::ThresholdOutOfRange`]; a number that is not whole is
    /// [`ErrorKind::InvalidValue`]; the path is `value`.
    pub fn to_threshold(&self) -> Result<Threshold> {
        let at_value = |e: Error| e.within("value");
        let per_batch = self.per_batch();
        match self.kind {
            CountType::Percentage => {
                let p = self.value.as_f64().unwrap_or(f64::NAN);
                Threshold::percentage(p, per_batch).map_err(at_value)
            }
            CountType::Number => {
                let n = validate::whole_number(&self.value, ErrorKind::ThresholdOutOfRange)
                    .map_err(at_value)?;
                Threshold::number(n, per_batch).map_err(at_value)
            }
        }
    }
}

/// A JSON number for a percentage: an integer when it is whole (`25`, not `25.0`).
fn number_of(value: f64) -> Number {
    if value.fract() == 0.0 && (1.0..=100.0).contains(&value) {
        Number::from(value as u64)
    } else {
        // NaN and infinities have no JSON number; a NaN percentage is rejected anyway.
        Number::from_f64(value).unwrap_or_else(|| Number::from(0))
    }
}

/// The `batch` flag of a cancellation threshold.
///
/// One CLI sends the threshold's type word here (`"batch": "number"`) by mistake. That string
/// (`"number"` or `"percentage"`) is read as `false` and written back as read; any other string
/// is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFlag {
    /// `true` or `false`.
    Bool(bool),
    /// A type word written where a boolean belongs; means `false`.
    Mistaken(CountType),
}

impl BatchFlag {
    /// Whether the threshold applies to each batch.
    pub fn per_batch(self) -> bool {
        matches!(self, Self::Bool(true))
    }
}

impl Serialize for BatchFlag {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::Bool(b) => serializer.serialize_bool(*b),
            Self::Mistaken(word) => serializer.serialize_str(word.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for BatchFlag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct FlagVisitor;

        impl Visitor<'_> for FlagVisitor {
            type Value = BatchFlag;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a boolean")
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<BatchFlag, E> {
                Ok(BatchFlag::Bool(b))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<BatchFlag, E> {
                match s {
                    "number" => Ok(BatchFlag::Mistaken(CountType::Number)),
                    "percentage" => Ok(BatchFlag::Mistaken(CountType::Percentage)),
                    _ => Err(E::invalid_type(de::Unexpected::Str(s), &self)),
                }
            }
        }

        deserializer.deserialize_any(FlagVisitor)
    }
}

/// One element of `GET /jobs/{id}/devices`: `{"id", "status"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDeviceStatus {
    /// The device id.
    pub id: String,
    /// How the job went on that device.
    pub status: DeviceStatus,
}

/// A page of a collection: `{"value": [...], "nextLink"?: "https://..."}`.
///
/// `nextLink` is an absolute URL carrying `api-version` (and a skip token); it is kept as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Collection<T> {
    /// The elements of this page.
    pub value: Vec<T>,
    /// The URL of the next page, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

impl<T> Collection<T> {
    /// A single page holding `value`.
    pub fn new(value: Vec<T>) -> Self {
        Self {
            value,
            next_link: None,
        }
    }
}

impl<T: Validate> Validate for Collection<T> {
    /// Validates every element; paths are `value[i]...`.
    fn validate(&self) -> Result<()> {
        for (i, element) in self.value.iter().enumerate() {
            element
                .validate()
                .map_err(|e| e.within(&format!("value[{i}]")))?;
        }
        Ok(())
    }
}

/// An IoT Central error body: `{"error": {"code", "message", "requestId"?, "time"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorDetail,
}

/// The `error` of an [`ErrorResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Machine-readable code (`NotFound`, `BadRequest`).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// The request's id, for support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When the error happened (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}
