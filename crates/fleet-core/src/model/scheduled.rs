//! IoT Central scheduled jobs: the data model and its validation. When the runs happen
//! (recurrences, end conditions, time zones) is the scheduler's business, not this module's.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::model::central::{self, BatchSpec, CancellationThresholdSpec};
use crate::model::data::JobData;
use crate::model::nullable::{present, Nullable};
use crate::model::validate::{self, DateOrTimestamp, Validate};
use crate::model::whole;
use crate::model::word::vocabulary;
use crate::RunBuilder;

vocabulary! {
    /// How often a scheduled job runs (`schedule.recurrence`); no recurrence is once.
    ///
    /// **Decision: all four are accepted.** The specification lists `daily`, `weekly` and
    /// `monthly`; the English how-to's table lists "daily, monthly, yearly". A job written from
    /// either must load, so `yearly` (every 12 months, the day clamped like `monthly`'s) is
    /// accepted too.
    pub enum Recurrence {
        /// `daily`.
        Daily = "daily",
        /// `weekly`.
        Weekly = "weekly",
        /// `monthly`.
        Monthly = "monthly",
        /// `yearly` (the how-to's table): every 12 months.
        Yearly = "yearly",
    }
}

vocabulary! {
    /// The `type` of a schedule's `end`.
    pub enum EndType {
        /// `date`: no run after this date.
        Date = "date",
        /// `occurrences`: stop after this many runs.
        Occurrences = "occurrences",
    }
}

/// A scheduled job: `GET/PUT /scheduledJobs/{id}`, an element of `GET /scheduledJobs`, the body
/// of a create.
///
/// The definition fields of a [`central::Job`] (`group`, `batch`, `cancellationThreshold`,
/// `data`, ...) plus `schedule` (required), `enabled`, `completed` and `etag`. The run fields of a
/// job (`status`, `progress`, `start`, `end`, `scheduledJobId`) do not belong here and are
/// unknown fields.
///
/// Validation applies the rules of [`central::Job`] (a scheduled job's entries must all be of
/// one type, as the specification says) and those of [`Schedule`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduledJob {
    /// The scheduled job's id (the URL carries it on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The id of the device group whose devices each run targets.
    pub group: String,
    /// Batching of each run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchSpec>,
    /// Cancellation threshold of each run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_threshold: Option<CancellationThresholdSpec>,
    /// What each run does to each device; all entries of one type.
    pub data: Vec<JobData>,
    /// The organizations the job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<String>>,
    /// When the runs happen.
    pub schedule: Schedule,
    /// Whether the schedule is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Whether the schedule has no more runs to make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    /// The entity tag, a quoted string (`"\"88003877-...\""`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// A scheduled job's `schedule`: `{"start", "recurrence"?, "end"?}`.
///
/// Validation: `start` is an RFC 3339 date-time with an offset; an `end` needs a `recurrence`
/// (a job that runs once has nothing to end, and an `end` there is more likely a mistake than a
/// wish); see [`ScheduleEnd`] for the end's own rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// When the first run starts (RFC 3339).
    pub start: String,
    /// How often it repeats; none is once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
    /// When the repetition ends; none is never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<ScheduleEnd>,
}

/// A schedule's `end`: `{"type": "date", "date": "2022-12-30"}` or
/// `{"type": "occurrences", "occurrences": 3}`.
///
/// Flat like [`JobData`]: parsing checks names and types, [`ScheduleEnd::condition`] checks that
/// the field the `type` names is there and the other is not. A `date` is a calendar date
/// (`YYYY-MM-DD`) or an RFC 3339 date-time; `occurrences` is at least 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEnd {
    /// Which end condition.
    #[serde(rename = "type")]
    pub kind: EndType,
    /// The last date, for `type: date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The number of runs, for `type: occurrences`.
    #[serde(
        default,
        deserialize_with = "whole::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub occurrences: Option<u32>,
}

/// A validated [`ScheduleEnd`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCondition<'a> {
    /// No run after this date (a date or a date-time, as written).
    Date(&'a str),
    /// Stop after this many runs (at least 1).
    Occurrences(u32),
}

impl ScheduleEnd {
    /// `{"type": "date", "date": date}`.
    pub fn date(date: impl Into<String>) -> Self {
        Self {
            kind: EndType::Date,
            date: Some(date.into()),
            occurrences: None,
        }
    }

    /// `{"type": "occurrences", "occurrences": n}`.
    pub fn occurrences(n: u32) -> Self {
        Self {
            kind: EndType::Occurrences,
            date: None,
            occurrences: Some(n),
        }
    }

    /// The end condition, after checking the fields against the `type`. Paths are relative to
    /// the end (`date`, `occurrences`).
    pub fn condition(&self) -> Result<EndCondition<'_>> {
        match self.kind {
            EndType::Date => {
                if self.occurrences.is_some() {
                    return Err(Error::at(
                        "occurrences",
                        ErrorKind::UnexpectedField("occurrences"),
                    ));
                }
                let date = self
                    .date
                    .as_deref()
                    .ok_or_else(|| Error::at("date", ErrorKind::MissingField("date")))?;
                validate::date_or_timestamp("date", date)?;
                Ok(EndCondition::Date(date))
            }
            EndType::Occurrences => {
                if self.date.is_some() {
                    return Err(Error::at("date", ErrorKind::UnexpectedField("date")));
                }
                match self.occurrences {
                    None => Err(Error::at(
                        "occurrences",
                        ErrorKind::MissingField("occurrences"),
                    )),
                    Some(0) => Err(Error::at(
                        "occurrences",
                        ErrorKind::InvalidValue("a schedule ends after at least 1 run".into()),
                    )),
                    Some(n) => Ok(EndCondition::Occurrences(n)),
                }
            }
        }
    }
}

impl Schedule {
    /// A schedule that runs once at `start`.
    pub fn once(start: impl Into<String>) -> Self {
        Self {
            start: start.into(),
            recurrence: None,
            end: None,
        }
    }
}

/// The calendar date of `t` in the westernmost time zone (UTC-12): the earliest date any zone
/// shows for that instant.
fn earliest_local_date(t: jiff::Timestamp) -> jiff::civil::Date {
    let west = jiff::tz::TimeZone::fixed(jiff::tz::offset(-12));
    t.to_zoned(west).date()
}

impl Validate for Schedule {
    /// Paths are relative to the schedule (`start`, `end.date`).
    fn validate(&self) -> Result<()> {
        let start = validate::timestamp("start", &self.start)?;
        let Some(end) = &self.end else {
            return Ok(());
        };
        if self.recurrence.is_none() {
            return Err(Error::at("end", ErrorKind::UnexpectedField("end")));
        }
        if let EndCondition::Date(date) = end.condition().map_err(|e| e.within("end"))? {
            let before_start = match validate::date_or_timestamp("date", date)? {
                // The document has no time zone (a scenario may give one): an end date is
                // refused here only if it is before the start's date in every zone (UTC-12,
                // the earliest); the schedule's own zone is checked when its occurrences are
                // computed (`ScheduleErrorKind::EndBeforeStart`).
                DateOrTimestamp::Date(d) => d < earliest_local_date(start),
                DateOrTimestamp::Timestamp(t) => t < start,
            };
            if before_start {
                return Err(Error::at(
                    "end.date",
                    ErrorKind::InvalidValue(format!(
                        "the schedule ends ({date}) before it starts ({})",
                        self.start
                    )),
                ));
            }
        }
        Ok(())
    }
}

impl ScheduledJob {
    /// A scheduled job over device group `group` doing `data` on `schedule`, every other field
    /// absent.
    pub fn new(group: impl Into<String>, data: Vec<JobData>, schedule: Schedule) -> Self {
        Self {
            id: None,
            display_name: None,
            description: None,
            group: group.into(),
            batch: None,
            cancellation_threshold: None,
            data,
            organizations: None,
            schedule,
            enabled: None,
            completed: None,
            etag: None,
        }
    }

    /// The engine's builder for one run of this scheduled job (every run has the same batching
    /// and threshold). The scheduled job is validated first.
    pub fn run_builder(&self) -> Result<RunBuilder> {
        self.validate()?;
        central::builder(self.batch.as_ref(), self.cancellation_threshold.as_ref())
    }

    /// This scheduled job with a PATCH body merged in, validated.
    ///
    /// Merge-patch semantics (RFC 7396) field by field: an absent field is unchanged, `null`
    /// removes an optional field, a value replaces it; `schedule` is merged member by member.
    /// `batch`, `cancellationThreshold` and `schedule.end` are replaced whole (they are read as
    /// complete objects), and `data` is replaced as arrays are. The patch's `id`, if any, must
    /// equal this job's; its `etag` is a precondition for the server and is not copied.
    pub fn patched(&self, patch: &ScheduledJobPatch) -> Result<ScheduledJob> {
        patch.validate()?;
        if let (Some(mine), Some(theirs)) = (&self.id, &patch.id) {
            if mine != theirs {
                return Err(Error::at(
                    "id",
                    ErrorKind::InvalidValue(format!(
                        "a patch for {theirs:?} cannot apply to {mine:?}"
                    )),
                ));
            }
        }
        let mut job = self.clone();
        if let Some(v) = &patch.display_name {
            job.display_name = Some(v.clone());
        }
        if let Some(v) = &patch.description {
            job.description = v.clone().into_option();
        }
        if let Some(v) = &patch.group {
            job.group = v.clone();
        }
        if let Some(v) = &patch.batch {
            job.batch = v.clone().into_option();
        }
        if let Some(v) = &patch.cancellation_threshold {
            job.cancellation_threshold = v.clone().into_option();
        }
        if let Some(v) = &patch.data {
            job.data = v.clone();
        }
        if let Some(v) = &patch.organizations {
            job.organizations = v.clone().into_option();
        }
        if let Some(v) = patch.enabled {
            job.enabled = Some(v);
        }
        if let Some(s) = &patch.schedule {
            if let Some(start) = &s.start {
                job.schedule.start = start.clone();
            }
            if let Some(r) = &s.recurrence {
                job.schedule.recurrence = r.clone().into_option();
            }
            if let Some(e) = &s.end {
                job.schedule.end = e.clone().into_option();
            }
        }
        job.validate()?;
        Ok(job)
    }
}

impl Validate for ScheduledJob {
    fn validate(&self) -> Result<()> {
        validate::optional_job_id("id", self.id.as_deref())?;
        central::validate_definition(
            &self.group,
            self.batch.as_ref(),
            self.cancellation_threshold.as_ref(),
            &self.data,
        )?;
        self.schedule.validate().map_err(|e| e.within("schedule"))
    }
}

/// The body of `PATCH /scheduledJobs/{id}` (a JSON merge patch): every field optional; `null`
/// removes an optional field, so those fields keep `null` apart from absent
/// (`Option<Nullable<T>>`).
///
/// Validation checks each field present by the rules of [`ScheduledJob`]; rules that join
/// several fields (an `end` needs a `recurrence`) are checked on the merged job
/// ([`ScheduledJob::patched`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduledJobPatch {
    /// The id; if present it must be the patched job's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// New display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// New description, or `null` to remove it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Nullable<String>>,
    /// New device group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// New batching, or `null` to remove it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub batch: Option<Nullable<BatchSpec>>,
    /// New threshold, or `null` to remove it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub cancellation_threshold: Option<Nullable<CancellationThresholdSpec>>,
    /// New data entries (replace the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<JobData>>,
    /// New organizations, or `null` to remove them.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub organizations: Option<Nullable<Vec<String>>>,
    /// Changes to the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<SchedulePatch>,
    /// Enable or disable the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The entity tag the client last saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The `schedule` of a [`ScheduledJobPatch`]: each member optional; `null` removes `recurrence`
/// or `end`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulePatch {
    /// New start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// New recurrence, or `null` for once.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub recurrence: Option<Nullable<Recurrence>>,
    /// New end, or `null` for never.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub end: Option<Nullable<ScheduleEnd>>,
}

impl Validate for ScheduledJobPatch {
    fn validate(&self) -> Result<()> {
        validate::optional_job_id("id", self.id.as_deref())?;
        if let Some(group) = &self.group {
            validate::group_id("group", group)?;
        }
        if let Some(Nullable::Value(b)) = &self.batch {
            b.to_batch_size().map_err(|e| e.within("batch"))?;
        }
        if let Some(Nullable::Value(t)) = &self.cancellation_threshold {
            t.to_threshold()
                .map_err(|e| e.within("cancellationThreshold"))?;
        }
        if let Some(data) = &self.data {
            validate::data_entries(data)?;
        }
        if let Some(s) = &self.schedule {
            if let Some(start) = &s.start {
                validate::timestamp("schedule.start", start)?;
            }
            if let Some(Nullable::Value(end)) = &s.end {
                end.condition().map_err(|e| e.within("schedule.end"))?;
            }
        }
        Ok(())
    }
}
