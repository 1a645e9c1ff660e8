//! AWS IoT Jobs: the body of `CreateJob` (`PUT /jobs/{jobId}`), with the rollout, abort, timeout,
//! retry and scheduling configurations that the engine enforces (`docs/semantics.md` sections 9,
//! 10, 13, 14, 17), and its conversion into a [`RunBuilder`].
//!
//! Field names and ranges follow the AWS IoT API reference (see `../shared/API-NOTES.md`).
//! Every struct denies unknown fields, so a typo is an error that names the field. Fields that
//! do not change how the run behaves (`targets`, `document`, `tags`, ...) are read and written
//! back as they are.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::abort::{AbortCriterion, FailureType};
use crate::error::{Error, ErrorKind, Result};
use crate::model::validate::Validate;
use crate::model::word::vocabulary;
use crate::rate::{ExponentialRamp, RampCriterion};
use crate::retry::{RetryPolicy, RETRIES_MAX};
use crate::schedule::{
    MaintenanceWindow, ScheduleError, ScheduleErrorKind, Scheduling, SchedulingConfig,
};
use crate::RunBuilder;

/// The most devices per minute AWS allows (`maximumPerMinute`, `baseRatePerMinute`), and the
/// `maximumPerMinute` it applies when none is given.
pub const AWS_RATE_MAX: u32 = 1000;
/// The longest `inProgressTimeoutInMinutes` AWS accepts (7 days).
pub const AWS_IN_PROGRESS_TIMEOUT_MAX_MIN: i64 = 10_080;
/// The longest AWS `jobId`, in characters.
pub const AWS_JOB_ID_MAX: usize = 64;

vocabulary! {
    /// The failures an abort or retry criterion counts (`failureType`).
    pub enum AwsFailureType {
        /// `FAILED`.
        Failed = "FAILED",
        /// `REJECTED` (abort criteria only: a rejection is never retried).
        Rejected = "REJECTED",
        /// `TIMED_OUT`.
        TimedOut = "TIMED_OUT",
        /// `ALL` of them.
        All = "ALL",
    }
}

vocabulary! {
    /// What an abort criterion does (`action`): AWS knows only `CANCEL`.
    pub enum AwsAbortAction {
        /// `CANCEL`: cancel the job.
        Cancel = "CANCEL",
    }
}

vocabulary! {
    /// Whether a job also runs on things added to its targets later (`targetSelection`).
    pub enum AwsTargetSelection {
        /// `SNAPSHOT`: the targets when the job starts (the default).
        Snapshot = "SNAPSHOT",
        /// `CONTINUOUS`: also things added later (not supported: targets are a snapshot).
        Continuous = "CONTINUOUS",
    }
}

impl From<AwsFailureType> for FailureType {
    fn from(t: AwsFailureType) -> Self {
        match t {
            AwsFailureType::Failed => Self::Failed,
            AwsFailureType::Rejected => Self::Rejected,
            AwsFailureType::TimedOut => Self::TimedOut,
            AwsFailureType::All => Self::All,
        }
    }
}

/// `jobExecutionsRolloutConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsRolloutConfig {
    /// Devices notified per minute at most, 1 to 1,000 (AWS's default: 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_per_minute: Option<u32>,
    /// An exponential ramp-up, capped by `maximumPerMinute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exponential_rate: Option<AwsExponentialRate>,
}

/// `exponentialRate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsExponentialRate {
    /// The starting rate, 1 to 1,000 per minute.
    pub base_rate_per_minute: u32,
    /// 1.1 to 5, one decimal.
    pub increment_factor: Number,
    /// When the rate increases.
    pub rate_increase_criteria: AwsRateIncreaseCriteria,
}

/// `rateIncreaseCriteria`: exactly one of the two.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsRateIncreaseCriteria {
    /// Increase each time this many more things have been notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_notified_things: Option<u32>,
    /// Increase each time this many more things have succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_succeeded_things: Option<u32>,
}

/// `abortConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsAbortConfig {
    /// The criteria, at least one; the first that holds cancels the job.
    pub criteria_list: Vec<AwsAbortCriteria>,
}

/// One element of `abortConfig.criteriaList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsAbortCriteria {
    /// The failures counted.
    pub failure_type: AwsFailureType,
    /// `CANCEL`.
    pub action: AwsAbortAction,
    /// Above 0, at most 100, at most two decimals.
    pub threshold_percentage: Number,
    /// At least 1.
    pub min_number_of_executed_things: u32,
}

/// `timeoutConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsTimeoutConfig {
    /// A device that has not finished this long after it started times out: 1 to 10,080.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress_timeout_in_minutes: Option<i64>,
}

/// `jobExecutionsRetryConfig`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsRetryConfig {
    /// One or two criteria: `FAILED` and/or `TIMED_OUT`, or `ALL`.
    pub criteria_list: Vec<AwsRetryCriteria>,
}

/// One element of `jobExecutionsRetryConfig.criteriaList`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsRetryCriteria {
    /// `FAILED`, `TIMED_OUT` or `ALL`.
    pub failure_type: AwsFailureType,
    /// 0 to 10.
    pub number_of_retries: u8,
}

/// The body of AWS IoT `CreateJob`, with its `jobId`.
///
/// Validation ([`Validate`]), each error at the field's path:
///
/// - `jobId`: 1 to 64 characters, ASCII letters, digits, `-` and `_`.
/// - a job needs `document`, `documentSource` or `jobTemplateArn` (what the devices run; the
///   simulator does not read it). `document` is a JSON string in AWS's API; a JSON object is
///   accepted too.
/// - `targetSelection` `CONTINUOUS` is refused: a run's targets are a snapshot (semantics rule 1).
/// - `jobExecutionsRolloutConfig`: `maximumPerMinute` 1 to 1,000; `exponentialRate` with
///   `baseRatePerMinute` 1 to 1,000 and not above `maximumPerMinute`, `incrementFactor` 1.1 to 5
///   with one decimal, and exactly one of `numberOfNotifiedThings` / `numberOfSucceededThings`
///   (at least 1).
/// - `abortConfig.criteriaList`: at least one; `action` `CANCEL`; `thresholdPercentage` above 0,
///   at most 100, two decimals at most; `minNumberOfExecutedThings` at least 1.
/// - `timeoutConfig.inProgressTimeoutInMinutes`: 1 to 10,080.
/// - `jobExecutionsRetryConfig.criteriaList`: one or two criteria, `numberOfRetries` 0 to 10,
///   `FAILED` and `TIMED_OUT` at most once each, `ALL` alone (it covers both), no `REJECTED`.
/// - `schedulingConfig`: [`SchedulingConfig::compile`]'s rules (times, the end at least 30
///   minutes and at most two years after the start, cron expressions, window durations of 1
///   to 1430 minutes), each error at its field (`schedulingConfig.endTime`,
///   `schedulingConfig.maintenanceWindows[1].startTime`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AwsJob {
    /// The job's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Thing and thing-group ARNs. Kept, not resolved: a scenario names its targets with the
    /// job entry's `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// An S3 URL of the job document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_source: Option<String>,
    /// The job document (a JSON string, or an object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Presigned S3 URL settings (kept as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presigned_url_config: Option<Value>,
    /// `SNAPSHOT` (default) or `CONTINUOUS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_selection: Option<AwsTargetSelection>,
    /// Dispatch rate and ramp-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_executions_rollout_config: Option<AwsRolloutConfig>,
    /// Abort criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_config: Option<AwsAbortConfig>,
    /// The per-device in-progress timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_config: Option<AwsTimeoutConfig>,
    /// Resource tags (kept as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Value>,
    /// The namespace (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    /// A job template's ARN (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_template_arn: Option<String>,
    /// Retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_executions_retry_config: Option<AwsRetryConfig>,
    /// Values for the document's placeholders (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_parameters: Option<Map<String, Value>>,
    /// A scheduled start, an end with its behaviour, and maintenance windows: the windows go
    /// into the run ([`AwsJob::run_builder`]); the start and the end are the driver's
    /// ([`AwsJob::scheduling`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_config: Option<SchedulingConfig>,
    /// Software package versions (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_package_versions: Option<Vec<String>>,
}

fn invalid(path: &str, message: String) -> Error {
    Error::at(path, ErrorKind::InvalidValue(message))
}

/// A number with at most `decimals` decimals, as written (checked on the JSON text, so `10.99`
/// is two decimals even though its binary value is not exactly 10.99).
fn decimals_at_most(n: &Number, decimals: usize) -> bool {
    let text = n.to_string();
    match text.split_once('.') {
        None => !text.contains(['e', 'E']),
        Some((_, frac)) => {
            !frac.contains(['e', 'E']) && frac.trim_end_matches('0').len() <= decimals
        }
    }
}

/// AWS's `jobId` rule: 1 to 64 characters of `[a-zA-Z0-9_-]`.
pub fn aws_job_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        Some("a jobId must not be empty")
    } else if id.chars().count() > AWS_JOB_ID_MAX {
        Some("a jobId has at most 64 characters")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Some("a jobId holds only ASCII letters, digits, `-` and `_`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::new(ErrorKind::InvalidJobId {
            id: id.to_string(),
            reason,
        })),
        None => Ok(()),
    }
}

impl AwsRolloutConfig {
    /// The cap and the ramp, checked; the cap is AWS's default (1,000) when none is given.
    fn checked(&self) -> Result<(u32, Option<ExponentialRamp>)> {
        let max = match self.maximum_per_minute {
            Some(m) if !(1..=AWS_RATE_MAX).contains(&m) => {
                return Err(invalid(
                    "maximumPerMinute",
                    format!("{m}: the rate must be 1 to {AWS_RATE_MAX} per minute"),
                ))
            }
            Some(m) => m,
            None => AWS_RATE_MAX,
        };
        let Some(rate) = &self.exponential_rate else {
            return Ok((max, None));
        };
        let at = |field: &str, m: String| invalid(&format!("exponentialRate.{field}"), m);
        let base = rate.base_rate_per_minute;
        if !(1..=AWS_RATE_MAX).contains(&base) {
            return Err(at(
                "baseRatePerMinute",
                format!("{base}: the base rate must be 1 to {AWS_RATE_MAX} per minute"),
            ));
        }
        if base > max {
            return Err(at(
                "baseRatePerMinute",
                format!("{base} is above maximumPerMinute ({max})"),
            ));
        }
        let factor = rate.increment_factor.as_f64().unwrap_or(f64::NAN);
        if !decimals_at_most(&rate.increment_factor, 1) || !(1.1..=5.0).contains(&factor) {
            return Err(at(
                "incrementFactor",
                format!(
                    "{}: the factor must be 1.1 to 5 with at most one decimal",
                    rate.increment_factor
                ),
            ));
        }
        let c = &rate.rate_increase_criteria;
        let criterion = match (c.number_of_notified_things, c.number_of_succeeded_things) {
            (Some(n), None) => RampCriterion::Notified(n),
            (None, Some(n)) => RampCriterion::Succeeded(n),
            _ => {
                return Err(at(
                    "rateIncreaseCriteria",
                    "give exactly one of numberOfNotifiedThings and numberOfSucceededThings".into(),
                ))
            }
        };
        if matches!(
            criterion,
            RampCriterion::Notified(0) | RampCriterion::Succeeded(0)
        ) {
            return Err(at(
                "rateIncreaseCriteria",
                "the number of things must be at least 1".into(),
            ));
        }
        let ramp = ExponentialRamp::new(base, factor, criterion)
            .map_err(|e| e.within("exponentialRate"))?;
        Ok((max, Some(ramp)))
    }
}

impl AwsAbortConfig {
    fn checked(&self) -> Result<Vec<AbortCriterion>> {
        if self.criteria_list.is_empty() {
            return Err(invalid(
                "criteriaList",
                "an abort configuration needs at least one criterion".into(),
            ));
        }
        let mut out = Vec::with_capacity(self.criteria_list.len());
        for (i, c) in self.criteria_list.iter().enumerate() {
            let at = |field: &str, m: String| invalid(&format!("criteriaList[{i}].{field}"), m);
            let p = c.threshold_percentage.as_f64().unwrap_or(f64::NAN);
            if !(decimals_at_most(&c.threshold_percentage, 2) && p > 0.0 && p <= 100.0) {
                return Err(at(
                    "thresholdPercentage",
                    format!(
                        "{}: the percentage must be above 0 and at most 100, with at most two \
                         decimals",
                        c.threshold_percentage
                    ),
                ));
            }
            if c.min_number_of_executed_things == 0 {
                return Err(at(
                    "minNumberOfExecutedThings",
                    "at least 1 executed thing".into(),
                ));
            }
            out.push(AbortCriterion::new(
                c.failure_type.into(),
                p,
                c.min_number_of_executed_things,
            )?);
        }
        Ok(out)
    }
}

impl AwsRetryConfig {
    fn checked(&self) -> Result<RetryPolicy> {
        let n = self.criteria_list.len();
        if !(1..=2).contains(&n) {
            return Err(invalid(
                "criteriaList",
                format!("{n} criteria: a retry configuration has one or two"),
            ));
        }
        let (mut failed, mut timed_out, mut all) = (None, None, None);
        for (i, c) in self.criteria_list.iter().enumerate() {
            let at = |field: &str, m: String| invalid(&format!("criteriaList[{i}].{field}"), m);
            if c.number_of_retries > RETRIES_MAX {
                return Err(at(
                    "numberOfRetries",
                    format!(
                        "{}: retries must be 0 to {RETRIES_MAX}",
                        c.number_of_retries
                    ),
                ));
            }
            let slot = match c.failure_type {
                AwsFailureType::Failed => &mut failed,
                AwsFailureType::TimedOut => &mut timed_out,
                AwsFailureType::All => &mut all,
                AwsFailureType::Rejected => {
                    return Err(at(
                        "failureType",
                        "REJECTED is never retried: retry FAILED, TIMED_OUT or ALL".into(),
                    ))
                }
            };
            if slot.replace(c.number_of_retries).is_some() {
                return Err(at(
                    "failureType",
                    format!("{} is given twice", c.failure_type),
                ));
            }
        }
        match all {
            Some(_) if n > 1 => Err(invalid(
                "criteriaList",
                "ALL covers FAILED and TIMED_OUT: give it alone".into(),
            )),
            Some(a) => RetryPolicy::all(a),
            None => RetryPolicy::new(failed.unwrap_or(0), timed_out.unwrap_or(0)),
        }
    }
}

impl AwsJob {
    /// The engine's builder for a run of this job (validated first):
    ///
    /// | AWS | engine |
    /// |---|---|
    /// | `maximumPerMinute` (default 1,000) | `max_per_minute` |
    /// | `exponentialRate` | `ramp` |
    /// | `abortConfig.criteriaList` | `abort`, in order |
    /// | `inProgressTimeoutInMinutes` | `device_timeout_ms` |
    /// | `jobExecutionsRetryConfig` | `retry` (per type, or shared for `ALL`) |
    /// | `schedulingConfig.maintenanceWindows` | `maintenance_windows` |
    ///
    /// AWS applies a rate of 1,000 per minute to every job; so does this conversion. The rest
    /// of `schedulingConfig` is not the run's but its driver's, which reads it with
    /// [`AwsJob::scheduling`]: submit the job at `startTime`, and at `endTime` hand the run the
    /// input of its `endBehavior` ([`Scheduling::end_action`]). The windows are cron
    /// expressions in UTC: a driver whose clock does not count Unix milliseconds sets the
    /// builder's `clock_origin_ms`.
    pub fn run_builder(&self) -> Result<RunBuilder> {
        self.validate()?;
        let rollout = self
            .job_executions_rollout_config
            .clone()
            .unwrap_or_default();
        let (max, ramp) = rollout
            .checked()
            .map_err(|e| e.within("jobExecutionsRolloutConfig"))?;
        let mut builder = RunBuilder::new().max_per_minute(max);
        if let Some(ramp) = ramp {
            builder = builder.ramp(ramp);
        }
        if let Some(abort) = &self.abort_config {
            for c in abort.checked().map_err(|e| e.within("abortConfig"))? {
                builder = builder.abort(c);
            }
        }
        if let Some(minutes) = self.in_progress_timeout_minutes()? {
            builder = builder.device_timeout_ms(minutes * 60_000);
        }
        if let Some(retry) = &self.job_executions_retry_config {
            builder = builder.retry(
                retry
                    .checked()
                    .map_err(|e| e.within("jobExecutionsRetryConfig"))?,
            );
        }
        if let Some(windows) = self.scheduling()?.as_ref().and_then(Scheduling::windows) {
            builder = builder.maintenance_windows(windows.clone());
        }
        Ok(builder)
    }

    /// The compiled `schedulingConfig` (`None` without one): the start time, at which a driver
    /// submits the job; the end time and the engine input of its end behaviour
    /// ([`Scheduling::end_action`]); the maintenance windows, which
    /// [`AwsJob::run_builder`] already puts on the run. An error names the field
    /// (`schedulingConfig.maintenanceWindows[0].durationInMinutes`).
    pub fn scheduling(&self) -> Result<Option<Scheduling>> {
        self.scheduling_config
            .as_ref()
            .map(|config| {
                config
                    .compile()
                    .map_err(|e| scheduling_error(config, &e).within("schedulingConfig"))
            })
            .transpose()
    }

    fn in_progress_timeout_minutes(&self) -> Result<Option<i64>> {
        let Some(minutes) = self
            .timeout_config
            .as_ref()
            .and_then(|t| t.in_progress_timeout_in_minutes)
        else {
            return Ok(None);
        };
        if !(1..=AWS_IN_PROGRESS_TIMEOUT_MAX_MIN).contains(&minutes) {
            return Err(invalid(
                "timeoutConfig.inProgressTimeoutInMinutes",
                format!(
                    "{minutes}: the timeout must be 1 to {AWS_IN_PROGRESS_TIMEOUT_MAX_MIN} minutes"
                ),
            ));
        }
        Ok(Some(minutes))
    }
}

impl Validate for AwsJob {
    fn validate(&self) -> Result<()> {
        if let Some(id) = &self.job_id {
            aws_job_id(id).map_err(|e| e.within("jobId"))?;
        }
        if self.document.is_none()
            && self.document_source.is_none()
            && self.job_template_arn.is_none()
        {
            return Err(Error::at("document", ErrorKind::MissingField("document")));
        }
        if let Some(doc) = &self.document {
            if !(doc.is_string() || doc.is_object()) {
                return Err(invalid(
                    "document",
                    "the job document is a JSON string (or an object)".into(),
                ));
            }
        }
        if self.target_selection == Some(AwsTargetSelection::Continuous) {
            return Err(invalid(
                "targetSelection",
                "CONTINUOUS is not supported: a run's targets are a snapshot taken when it \
                 starts (use SNAPSHOT)"
                    .into(),
            ));
        }
        if let Some(rollout) = &self.job_executions_rollout_config {
            rollout
                .checked()
                .map_err(|e| e.within("jobExecutionsRolloutConfig"))?;
        }
        if let Some(abort) = &self.abort_config {
            abort.checked().map_err(|e| e.within("abortConfig"))?;
        }
        self.in_progress_timeout_minutes()?;
        if let Some(retry) = &self.job_executions_retry_config {
            retry
                .checked()
                .map_err(|e| e.within("jobExecutionsRetryConfig"))?;
        }
        self.scheduling()?;
        Ok(())
    }
}

/// A [`SchedulingConfig::compile`] error at the path of its field inside `schedulingConfig`: the
/// time it concerns, or the maintenance window (found by compiling each again) whose cron
/// expression or duration is refused.
fn scheduling_error(config: &SchedulingConfig, e: &ScheduleError) -> Error {
    let field = match e.kind() {
        ScheduleErrorKind::InvalidTime { field, reason } => {
            return invalid(field, reason.clone());
        }
        ScheduleErrorKind::Cron { .. } => "startTime",
        ScheduleErrorKind::DurationOutOfRange(_) => "durationInMinutes",
        _ => return Error::new(ErrorKind::InvalidValue(e.to_string())),
    };
    let specs = config.maintenance_windows.as_deref().unwrap_or_default();
    let index = specs.iter().position(|w| {
        MaintenanceWindow::parse(&w.start_time, w.duration_in_minutes)
            .err()
            .as_ref()
            == Some(e)
    });
    let path = match index {
        Some(i) => format!("maintenanceWindows[{i}].{field}"),
        None => "maintenanceWindows".into(),
    };
    invalid(&path, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_counted_on_the_text() {
        let n = |s: &str| serde_json::from_str::<Number>(s).unwrap();
        assert!(decimals_at_most(&n("10.99"), 2));
        assert!(!decimals_at_most(&n("10.999"), 2));
        assert!(decimals_at_most(&n("10"), 2));
        assert!(decimals_at_most(&n("1.50"), 1));
        assert!(!decimals_at_most(&n("1.55"), 1));
    }
}
