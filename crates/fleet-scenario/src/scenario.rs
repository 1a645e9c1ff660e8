//! [`Scenario`]: a fleet, its behaviour, a hub, jobs and expectations, read from TOML or JSON.

use std::path::{Path, PathBuf};

use fleet_core::model::{JobData, JobDefinition, JobRequest, ScheduledJob};
use fleet_core::schedule::{ScheduleErrorKind, ScheduledJobState, SchedulingConfig};
use fleet_core::{RetryPolicy, Threshold};
use fleet_query::Query;
use fleet_sim::{
    BehaviourSpec, ErrorKind as SimErrorKind, Fleet, FleetSpec, HubSpec, JobCommand, JobSpec,
    Operation, RerunSpec, ScheduledJobSpec, Selector, TargetSpec, TemplateSpec,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::expect::Expectation;
use crate::source::{self, Format};

/// A scenario file as written. See `docs/scenario-format.md` for every field.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// A short name for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the scenario checks, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The seed of every random draw (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// The wall-clock instant of virtual time 0 (RFC 3339 with an offset, e.g.
    /// `2026-03-01T00:00:00Z`). Required by scheduled jobs and AWS `schedulingConfig`, whose
    /// times are wall-clock times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_start: Option<String>,
    /// The fleet: generated from this spec, or (`file`) an imported fleet file.
    pub fleet: FleetSpec,
    /// Device templates.
    #[serde(default)]
    pub templates: Vec<TemplateSpec>,
    /// Device groups that IoT Central jobs target.
    #[serde(default)]
    pub groups: Vec<GroupEntry>,
    /// Latency and faults.
    #[serde(default)]
    pub behaviour: BehaviourSpec,
    /// The IoT Hub model; absent = no throttling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<HubSpec>,
    /// The jobs to run.
    #[serde(default)]
    pub jobs: Vec<JobEntry>,
    /// Assertions on the outcome.
    #[serde(default)]
    pub expect: Vec<Expectation>,
    /// The risk questions and the plans to compare (`fleetsim plan`; `run` checks it and
    /// otherwise ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<crate::plan::RiskSpec>,
}

/// A device group (IoT Central `DeviceGroup`). Membership is its `filter` (a whole query,
/// `SELECT * FROM devices WHERE ...`) or a `selector` (a table of equalities, or a query
/// string); not both; neither = every device.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    /// The group id that jobs name in `group`.
    pub id: String,
    /// A name for people.
    #[serde(
        default,
        rename = "displayName",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The IoT Central filter: `SELECT [TOP n] * FROM devices [WHERE ...]`, parsed on load.
    #[serde(
        default,
        deserialize_with = "group_filter",
        skip_serializing_if = "Option::is_none"
    )]
    pub filter: Option<Query>,
    /// Which devices belong to the group, as a selector (instead of `filter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
    /// The IoT Central ETag, as pasted (not used by the simulation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// IoT Central organizations, as pasted (not used by the simulation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<String>,
}

impl GroupEntry {
    /// The devices of the group: its filter, its selector, or every device (`None`).
    pub fn members(&self) -> Option<Selector> {
        match (&self.filter, &self.selector) {
            (Some(q), _) => Some(Selector::from_query(q.clone())),
            (None, Some(s)) => Some(s.clone()),
            (None, None) => None,
        }
        .filter(|s| !s.is_all())
    }
}

/// A group `filter`: a whole `SELECT` query; errors carry the column in the query.
fn group_filter<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Query>, D::Error> {
    let text = String::deserialize(d)?;
    Query::parse(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("invalid filter: {e}")))
}

/// One job of a scenario: the job JSON exactly as the API takes it (IoT Central job, IoT Hub
/// JobRequest, AWS IoT CreateJob body or hawkBit rollout), given either as a JSON string
/// (`json`) or as a table (`job`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobEntry {
    /// The job id, when the JSON has none (IoT Central takes the id from the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the job starts, in virtual seconds after the simulation starts.
    #[serde(default)]
    pub start_after_s: f64,
    /// The job JSON as text, pasted from the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// The job as a table with the API's field names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Value>,
    /// fleetsim extension: a device that has not answered this many seconds after its
    /// dispatch times out (what AWS calls `inProgressTimeoutInMinutes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_timeout_s: Option<f64>,
    /// fleetsim extension: retries of failed and timed-out devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryEntry>,
    /// For AWS and hawkBit jobs: the device group (of `groups`) the job targets; absent: every
    /// device. (AWS `targets` ARNs and a hawkBit `targetFilterQuery` are kept but not
    /// resolved.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Commands sent to the job's run during the simulation, such as an operator's resume or
    /// hawkBit's manual trigger of the next group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandEntry>,
    /// For an IoT Central scheduled job: the IANA time zone whose wall clock its schedule
    /// follows (`Europe/Berlin`); absent: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// Retries of a job, by failure type (each 0 to 10): `failed` and `timed_out` each count their
/// own retries (AWS `FAILED` and `TIMED_OUT`); `all` is one allowance both share (AWS `ALL`),
/// given alone.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetryEntry {
    /// Retries after a device reports failure.
    #[serde(default)]
    pub failed: u8,
    /// Retries after a device times out.
    #[serde(default)]
    pub timed_out: u8,
    /// Retries after either, shared.
    #[serde(default)]
    pub all: u8,
}

/// A command sent to a job's run at a virtual time, or a rerun of the run's failed devices.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandEntry {
    /// When, in virtual seconds after the simulation starts. Required, but for `rerun`:
    /// without it, the rerun comes as soon as the job's run settles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_s: Option<f64>,
    /// `stop`, `resume`, `cancel`, `force_cancel` (AWS `force=true`), `trigger_next_batch` or
    /// `rerun` (a new run over the devices that failed, semantics rule 6).
    pub command: String,
    /// For `rerun` only, and required there: the id of the new run (IoT Central's `rerunId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A loaded, validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it was read from, if from a file.
    pub path: Option<PathBuf>,
    /// The file's content, validated.
    pub file: ScenarioFile,
    /// The jobs, converted for the simulator, in file order (scheduled jobs apart).
    pub jobs: Vec<JobSpec>,
    /// The index in `file.jobs` of each job of `jobs`.
    pub job_entries: Vec<usize>,
    /// Each job's cancellation threshold, if it has one (for reports and charts).
    pub thresholds: Vec<Option<Threshold>>,
    /// Each job's dialect: `central`, `hub`, `aws` or `hawkbit` (for reports' words).
    pub dialects: Vec<&'static str>,
    /// The IoT Central scheduled jobs, converted, in file order.
    pub scheduled: Vec<ScheduledJobSpec>,
    /// Each scheduled job's cancellation threshold (its runs').
    pub scheduled_thresholds: Vec<Option<Threshold>>,
    /// `clock_start` in ms since the Unix epoch (0 without one).
    pub clock_start_ms: i64,
    /// The commands of every job: (virtual ms, job id, command), in file order.
    pub commands: Vec<(i64, String, JobCommand)>,
    /// The reruns of jobs' failed devices (`rerun` commands), in file order.
    pub reruns: Vec<RerunSpec>,
    /// The text it was read from and its format, if read from text (for the lines of
    /// warnings).
    pub source: Option<(String, Format)>,
    /// The budgets of each simulation of it (`--max-events`, `--max-wall-s`).
    pub budget: crate::run::Budget,
    /// The imported fleet, when the fleet is a fleet file (`[fleet] file`), loaded once.
    /// `file.fleet.devices` is then its number of devices.
    pub imported: Option<crate::imported::ImportedFleet>,
}

impl Scenario {
    /// Reads and validates a scenario file (`.toml` or `.json`). Errors name the file.
    pub fn load(path: &Path) -> Result<Self> {
        let with_file = |e: Error| e.with_file(path);
        let format = Format::of_path(path).map_err(with_file)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Io(e)))
            .map_err(with_file)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut scenario = Self::from_str_in(&text, format, dir).map_err(with_file)?;
        scenario.path = Some(path.to_path_buf());
        Ok(scenario)
    }

    /// Reads and validates a scenario from text; a fleet file it names is relative to the
    /// current directory.
    pub fn from_str(text: &str, format: Format) -> Result<Self> {
        Self::from_str_in(text, format, Path::new("."))
    }

    /// Reads and validates a scenario from text; a fleet file it names is relative to `dir`.
    pub fn from_str_in(text: &str, format: Format, dir: &Path) -> Result<Self> {
        let file: ScenarioFile =
            source::parse(text, format).map_err(|e| crate::check::explain(e, text, format))?;
        let mut scenario =
            Self::from_file_in(file, dir).map_err(|e| source::position_error(e, text, format))?;
        scenario.source = Some((text.to_string(), format));
        Ok(scenario)
    }

    /// Validates a parsed scenario and converts its jobs; a fleet file it names is relative
    /// to the current directory.
    pub fn from_file(file: ScenarioFile) -> Result<Self> {
        Self::from_file_in(file, Path::new("."))
    }

    /// Validates a parsed scenario, converts its jobs and loads its fleet file, if any
    /// (relative to `dir`).
    pub fn from_file_in(file: ScenarioFile, dir: &Path) -> Result<Self> {
        let mut scenario = Self::validated(file)?;
        if let Some(name) = &scenario.file.fleet.file {
            let imported = crate::imported::load(name, dir, &scenario.file.templates)?;
            scenario.file.fleet.devices = imported.fleet.len();
            scenario.imported = Some(imported);
        }
        Ok(scenario)
    }

    /// Validates a parsed scenario and converts its jobs.
    fn validated(file: ScenarioFile) -> Result<Self> {
        file.fleet.validate().map_err(|e| sim_error("fleet", &e))?;
        for (i, t) in file.templates.iter().enumerate() {
            t.validate()
                .map_err(|e| sim_error(&format!("templates[{i}]"), &e))?;
        }
        file.behaviour
            .validate()
            .map_err(|e| sim_error("behaviour", &e))?;
        if let Some(hub) = &file.hub {
            hub.validate().map_err(|e| sim_error("hub", &e))?;
        }
        for (i, g) in file.groups.iter().enumerate() {
            if g.filter.is_some() && g.selector.is_some() {
                return Err(Error::invalid(
                    format!("groups[{i}]"),
                    "give the group a `filter` (a query) or a `selector`, not both",
                ));
            }
            if let Some(selector) = &g.selector {
                selector
                    .validate()
                    .map_err(|e| sim_error(&format!("groups[{i}].selector"), &e))?;
            }
            if file.groups[..i].iter().any(|o| o.id == g.id) {
                return Err(Error::invalid(
                    format!("groups[{i}].id"),
                    format!("group {:?} is defined twice", g.id),
                ));
            }
        }
        let clock = clock_start(&file)?;
        let mut scenario = Self {
            path: None,
            jobs: Vec::with_capacity(file.jobs.len()),
            job_entries: Vec::with_capacity(file.jobs.len()),
            thresholds: Vec::with_capacity(file.jobs.len()),
            dialects: Vec::with_capacity(file.jobs.len()),
            scheduled: Vec::new(),
            scheduled_thresholds: Vec::new(),
            clock_start_ms: clock.unwrap_or(0),
            commands: Vec::new(),
            reruns: Vec::new(),
            source: None,
            budget: crate::run::Budget::default(),
            imported: None,
            file: file.clone(),
        };
        // Where each rerun was written, for errors: `jobs[i].commands[k].id`.
        let mut rerun_fields = Vec::new();
        for (i, entry) in file.jobs.iter().enumerate() {
            let field = format!("jobs[{i}]");
            let converted =
                convert_job(entry, &file, clock).map_err(|e| e.with_field(field.clone()))?;
            let id = converted.spec.id.clone();
            if scenario.has_job(&id) {
                return Err(Error::invalid(
                    format!("{field}.id"),
                    format!("job id {id:?} is used twice"),
                ));
            }
            let commands = job_commands(entry).map_err(|e| e.with_field(field.clone()))?;
            match converted.scheduled {
                Some(spec) => {
                    if !entry.commands.is_empty() {
                        return Err(Error::invalid(
                            format!("{field}.commands"),
                            "commands (a rerun too) go to one run; the runs of a scheduled job are \
                             created as the simulation goes, so they take no commands",
                        ));
                    }
                    scenario.scheduled.push(spec);
                    scenario.scheduled_thresholds.push(converted.threshold);
                }
                None => {
                    for (k, command) in commands {
                        match command {
                            Command::At(at_ms, command) => {
                                scenario.commands.push((at_ms, id.clone(), command))
                            }
                            Command::Rerun { id: rerun, at_ms } => {
                                rerun_fields.push(format!("{field}.commands[{k}].id"));
                                scenario.reruns.push(RerunSpec {
                                    job: id.clone(),
                                    id: rerun,
                                    at_ms,
                                });
                            }
                        }
                    }
                    scenario.jobs.push(converted.spec);
                    scenario.job_entries.push(i);
                    scenario.thresholds.push(converted.threshold);
                    scenario.dialects.push(converted.dialect);
                }
            }
        }
        scenario.check_rerun_ids(&rerun_fields)?;
        for (i, e) in file.expect.iter().enumerate() {
            let field = format!("expect[{i}]");
            e.validate(&field)?;
            scenario.check_target(e, &field)?;
        }
        if let Some(risk) = &file.risk {
            crate::plan::check_spec(&scenario, risk)?;
        }
        Ok(scenario)
    }

    /// Whether a job or scheduled job has this id.
    fn has_job(&self, id: &str) -> bool {
        self.jobs.iter().any(|j| j.id == id) || self.scheduled.iter().any(|s| s.job.id == id)
    }

    /// The scheduled job one of whose runs `{scheduled id}-{k}` (k from 1) has this id.
    fn scheduled_run_of(&self, id: &str) -> Option<&str> {
        self.scheduled.iter().map(|s| s.job.id.as_str()).find(|s| {
            id.strip_prefix(s)
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|k| k.parse::<u32>().ok())
                .is_some_and(|k| k >= 1)
        })
    }

    /// Each rerun's id names only its run: not a job, a scheduled job or its runs, nor another
    /// rerun. `fields` are where the reruns were written, in order.
    fn check_rerun_ids(&self, fields: &[String]) -> Result<()> {
        for (i, (rerun, field)) in self.reruns.iter().zip(fields).enumerate() {
            let id = &rerun.id;
            let clash = if id.trim().is_empty() {
                Some("a rerun needs a non-empty id, the id of the run it creates".to_string())
            } else if self.jobs.iter().any(|j| &j.id == id) {
                Some(format!("rerun id {id:?} is already the id of a job"))
            } else if self.scheduled.iter().any(|s| &s.job.id == id) {
                Some(format!(
                    "rerun id {id:?} is already the id of a scheduled job"
                ))
            } else if let Some(s) = self.scheduled_run_of(id) {
                Some(format!(
                    "rerun id {id:?} is the id of a run of scheduled job {s:?} (its runs are \
                     {s}-1, {s}-2, ...)"
                ))
            } else if self.reruns[..i].iter().any(|o| &o.id == id) {
                Some(format!("rerun id {id:?} is used twice"))
            } else {
                None
            };
            if let Some(message) = clash {
                return Err(Error::invalid(field.clone(), message));
            }
        }
        Ok(())
    }

    /// What expectation `e` names: a job, a scheduled job, a run `{scheduled id}-{k}`, or a
    /// rerun; the assertions it makes must fit.
    fn check_target(&self, e: &Expectation, field: &str) -> Result<()> {
        let schedule_only = [("runs", e.runs.is_some()), ("skipped", e.skipped.is_some())];
        if self.scheduled.iter().any(|s| s.job.id == e.job) {
            return Ok(());
        }
        let is_run =
            self.scheduled_run_of(&e.job).is_some() || self.reruns.iter().any(|r| r.id == e.job);
        if !is_run && !self.jobs.iter().any(|j| j.id == e.job) {
            return Err(Error::invalid(
                format!("{field}.job"),
                format!("no job with id {:?} in this scenario", e.job),
            ));
        }
        if let Some((name, _)) = schedule_only.iter().find(|(_, given)| *given) {
            return Err(Error::invalid(
                format!("{field}.{name}"),
                format!(
                    "`{name}` counts the occurrences of a scheduled job; {:?} is not one",
                    e.job
                ),
            ));
        }
        Ok(())
    }

    /// The scenario's name: its `name`, else its file name.
    pub fn name(&self) -> String {
        self.file.name.clone().unwrap_or_else(|| {
            self.path
                .as_ref()
                .and_then(|p| p.file_name())
                .map_or("scenario".to_string(), |n| n.to_string_lossy().into_owned())
        })
    }

    /// The scenario's fleet as a run with `seed` (default: the scenario's) generates it,
    /// before any job changes it: for checking a group or a query (`fleetsim query`).
    pub fn fleet(&self, seed: Option<u64>) -> Result<Fleet> {
        if let Some(imported) = &self.imported {
            return Ok(Fleet::clone(&imported.fleet));
        }
        let seed = seed.unwrap_or(self.file.seed);
        Fleet::generate(&self.file.fleet, &self.file.templates, seed)
            .map_err(|e| self.locate(sim_error("fleet", &e)))
    }

    /// The same scenario with these budgets for each simulation.
    pub fn with_budget(mut self, budget: crate::run::Budget) -> Self {
        self.budget = budget;
        self
    }

    /// An error about this scenario with its file, and its line where the field is found in
    /// the text it was read from.
    pub fn locate(&self, e: Error) -> Error {
        let e = match &self.source {
            Some((text, format)) if e.line_col().is_none() => {
                source::position_error(e, text, *format)
            }
            _ => e,
        };
        match &self.path {
            Some(path) => e.with_file(path),
            None => e,
        }
    }

    /// The same scenario with the fleet rescaled to `devices` devices (`--devices`). Template
    /// entries given as a `count` are scaled in proportion; shares are kept.
    pub fn with_devices(mut self, devices: u32) -> Result<Self> {
        if let Some(imported) = &self.imported {
            return Err(self.locate(Error::invalid(
                "fleet.file",
                format!(
                    "--devices rescales a generated fleet; this scenario's fleet is imported \
                     from {} ({} devices)",
                    imported.path.display(),
                    imported.fleet.len()
                ),
            )));
        }
        let before = self.file.fleet.devices;
        for share in &mut self.file.fleet.templates {
            if let (Some(count), true) = (share.count.as_mut(), before > 0) {
                *count = (u64::from(*count) * u64::from(devices) / u64::from(before)) as u32;
            }
        }
        self.file.fleet.devices = devices;
        self.file
            .fleet
            .validate()
            .map_err(|e| self.locate(sim_error("fleet", &e)))?;
        Ok(self)
    }
}

/// Refuses a time in seconds beyond the largest virtual time ([`fleet_sim::MAX_VIRTUAL_MS`]).
fn check_virtual_s(field: &str, s: f64) -> Result<()> {
    let max_s = fleet_sim::MAX_VIRTUAL_MS / 1000;
    if s > max_s as f64 {
        return Err(Error::invalid(
            field,
            format!("{s:e} s is beyond the largest virtual time, {max_s} s (100 years)"),
        ));
    }
    Ok(())
}

/// Converts a fleet-sim error, keeping its field under `parent`.
pub(crate) fn sim_error(parent: &str, e: &fleet_sim::Error) -> Error {
    let message = fleet_sim::Error::new(e.kind().clone()).to_string();
    let err = Error::new(ErrorKind::Invalid(message));
    match e.field() {
        Some(f) if parent.is_empty() => err.with_field(f),
        Some(f) => err.with_field(format!("{parent}.{f}")),
        None => err.with_field(parent),
    }
}

/// A command of a job entry, checked.
enum Command {
    /// A command to the job's run at a virtual time (ms).
    At(i64, JobCommand),
    /// A rerun of the run's failed devices as run `id`, at a virtual time or (`None`) as soon
    /// as the run settles.
    Rerun { id: String, at_ms: Option<i64> },
}

/// The commands of a job entry, checked: known words, times of 0 or more seconds (required but
/// for a rerun), an id for a rerun and none for the others. Each comes with its index.
fn job_commands(entry: &JobEntry) -> Result<Vec<(usize, Command)>> {
    let mut out = Vec::with_capacity(entry.commands.len());
    for (i, c) in entry.commands.iter().enumerate() {
        let field = |f: &str| format!("commands[{i}].{f}");
        let command = match c.command.as_str() {
            "rerun" => None,
            word => Some(JobCommand::from_word(word).ok_or_else(|| {
                Error::invalid(
                    field("command"),
                    format!(
                        "unknown command {:?}; expected one of stop, resume, cancel, \
                         force_cancel, trigger_next_batch, rerun",
                        c.command
                    ),
                )
            })?),
        };
        let at_ms = match c.at_s {
            Some(at_s) if !(at_s.is_finite() && at_s >= 0.0) => {
                return Err(Error::invalid(
                    field("at_s"),
                    format!("{at_s} is not a time: it must be 0 or more seconds"),
                ))
            }
            Some(at_s) => {
                check_virtual_s(&field("at_s"), at_s)?;
                Some((at_s * 1000.0).round() as i64)
            }
            None => None,
        };
        out.push((
            i,
            match (command, at_ms, &c.id) {
                (None, at_ms, Some(id)) => Command::Rerun {
                    id: id.clone(),
                    at_ms,
                },
                (None, _, None) => {
                    return Err(Error::invalid(
                        field("id"),
                        "a rerun needs `id`: the id of the new run over the failed devices",
                    ))
                }
                (Some(_), _, Some(_)) => {
                    return Err(Error::invalid(
                        field("id"),
                        format!(
                            "only a rerun has an `id` (of the run it creates); {:?} goes to \
                             the job's own run",
                            c.command
                        ),
                    ))
                }
                (Some(command), Some(at_ms), None) => Command::At(at_ms, command),
                (Some(_), None, None) => {
                    return Err(Error::invalid(
                        field("at_s"),
                        format!(
                            "{:?} needs `at_s`, the virtual second to send it at (only a \
                             rerun may leave it out: it then comes when the run settles)",
                            c.command
                        ),
                    ))
                }
            },
        ));
    }
    Ok(out)
}

/// `clock_start` as ms since the Unix epoch; required when a job has a wall-clock time (a
/// scheduled job, or an AWS `schedulingConfig`).
fn clock_start(file: &ScenarioFile) -> Result<Option<i64>> {
    let Some(text) = &file.clock_start else {
        return Ok(None);
    };
    let t: jiff::Timestamp = text.parse().map_err(|e| {
        Error::invalid(
            "clock_start",
            format!("{text:?} is not an RFC 3339 date-time with an offset ({e})"),
        )
    })?;
    Ok(Some(t.as_millisecond()))
}

/// `clock_start`, or an error at `field` saying why a job needs it.
fn need_clock(clock: Option<i64>, field: &str, why: &str) -> Result<i64> {
    clock.ok_or_else(|| {
        Error::invalid(
            field,
            format!(
                "{why} gives wall-clock times: set the scenario's `clock_start`, the instant \
                 virtual time 0 stands for (e.g. clock_start = \"2026-03-01T00:00:00Z\")"
            ),
        )
    })
}

/// A job entry converted for the simulator.
struct Converted {
    spec: JobSpec,
    threshold: Option<Threshold>,
    dialect: &'static str,
    /// For an IoT Central scheduled job: the scheduled job (whose runs execute `spec`).
    scheduled: Option<ScheduledJobSpec>,
}

/// The targets of an AWS or hawkBit job: the entry's `group`, or every device.
fn entry_group_targets(entry: &JobEntry, file: &ScenarioFile) -> Result<TargetSpec> {
    match &entry.group {
        Some(group) => group_targets(group, file),
        None => Ok(TargetSpec::All),
    }
}

fn convert_job(entry: &JobEntry, file: &ScenarioFile, clock: Option<i64>) -> Result<Converted> {
    let (definition, body_field) = match (&entry.json, &entry.job) {
        (Some(text), None) => (
            JobDefinition::from_json(text).map_err(|e| Error::from(e).with_field("json"))?,
            "json",
        ),
        (None, Some(value)) => (
            JobDefinition::from_value(value.clone())
                .map_err(|e| Error::from(e).with_field("job"))?,
            "job",
        ),
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "json",
                "give the job as `json` or as `job`, not both",
            ))
        }
        (None, None) => {
            return Err(Error::invalid(
                "",
                "a job needs `json` (the job JSON as text) or `job` (a table)",
            ))
        }
    };
    let in_body = |e: fleet_core::Error| Error::from(e).with_field(body_field);
    let mut run = definition.run_builder().map_err(in_body)?;
    match &definition {
        JobDefinition::Aws(_) if entry.retry.is_some() => {
            return Err(Error::invalid(
                "retry",
                "an AWS job gives its retries in jobExecutionsRetryConfig",
            ))
        }
        JobDefinition::Aws(_) if entry.device_timeout_s.is_some() => {
            return Err(Error::invalid(
                "device_timeout_s",
                "an AWS job gives its timeout in timeoutConfig.inProgressTimeoutInMinutes",
            ))
        }
        JobDefinition::Aws(_) | JobDefinition::Hawkbit(_) => {}
        _ if entry.group.is_some() => {
            return Err(Error::invalid(
                "group",
                "`group` is for AWS and hawkBit jobs: an IoT Central job names its group in its \
                 JSON, an IoT Hub job selects devices with queryCondition",
            ))
        }
        _ => {}
    }
    if let Some(timeout_s) = entry.device_timeout_s {
        if !(timeout_s.is_finite() && timeout_s > 0.0) {
            return Err(Error::invalid(
                "device_timeout_s",
                format!("{timeout_s} is not a timeout: it must be more than 0 seconds"),
            ));
        }
        check_virtual_s("device_timeout_s", timeout_s)?;
        run = run.device_timeout_ms((timeout_s * 1000.0).round().max(1.0) as i64);
    }
    if let Some(retry) = entry.retry {
        let policy = match retry {
            RetryEntry { all: 0, .. } => RetryPolicy::new(retry.failed, retry.timed_out),
            RetryEntry {
                failed: 0,
                timed_out: 0,
                all,
            } => RetryPolicy::all(all),
            _ => {
                return Err(Error::invalid(
                    "retry.all",
                    "`all` covers failures and timeouts: give it alone",
                ))
            }
        }
        .map_err(|e| Error::from(e).with_field("retry"))?;
        run = run.retry(policy);
    }
    if !entry.start_after_s.is_finite() || entry.start_after_s < 0.0 {
        return Err(Error::invalid(
            "start_after_s",
            format!(
                "{} is not a time: it must be 0 or more seconds",
                entry.start_after_s
            ),
        ));
    }
    check_virtual_s("start_after_s", entry.start_after_s)?;
    let start_ms = (entry.start_after_s * 1000.0).round() as i64;
    let (id, operation, targets) = match &definition {
        JobDefinition::Central(job) => {
            let id = entry.id.clone().or_else(|| job.id.clone());
            let targets = group_targets(&job.group, file).map_err(|e| e.with_field(body_field))?;
            let operation = central_operation(&job.data, &file.templates)
                .map_err(|e| e.with_field(body_field))?;
            (id, operation, targets)
        }
        JobDefinition::Scheduled(job) => {
            let id = entry.id.clone().or_else(|| job.id.clone());
            let targets = group_targets(&job.group, file).map_err(|e| e.with_field(body_field))?;
            let operation = central_operation(&job.data, &file.templates)
                .map_err(|e| e.with_field(body_field))?;
            (id, operation, targets)
        }
        JobDefinition::Hub(request) => {
            let id = entry.id.clone().or_else(|| request.job_id.clone());
            let operation = hub_operation(request).map_err(|e| e.with_field(body_field))?;
            let targets = query_targets(request.query_condition.as_deref())
                .map_err(|e| e.with_field(body_field))?;
            (id, operation, targets)
        }
        JobDefinition::Aws(job) => {
            let id = entry.id.clone().or_else(|| job.job_id.clone());
            // What the devices run: the document, or where it comes from.
            let document = match (&job.document, &job.document_source, &job.job_template_arn) {
                (Some(d), _, _) => d.clone(),
                (None, Some(source), _) => Value::String(source.clone()),
                (None, None, Some(arn)) => Value::String(arn.clone()),
                (None, None, None) => Value::Null,
            };
            let targets = entry_group_targets(entry, file)?;
            (id, Operation::JobDocument { document }, targets)
        }
        JobDefinition::Hawkbit(rollout) => {
            let id = entry.id.clone().or_else(|| rollout.name.clone());
            let document = serde_json::json!({
                "distributionSetId": rollout.distribution_set_id,
                "type": rollout.kind.map_or("forced", |k| k.as_str()),
            });
            let targets = entry_group_targets(entry, file)?;
            (id, Operation::JobDocument { document }, targets)
        }
    };
    let id =
        id.ok_or_else(|| Error::invalid("id", "the job has no id: set `id` here or in the JSON"))?;
    let threshold = match &definition {
        JobDefinition::Central(job) => job.cancellation_threshold.as_ref(),
        JobDefinition::Scheduled(job) => job.cancellation_threshold.as_ref(),
        _ => None,
    }
    .map(|t| t.to_threshold().map_err(in_body))
    .transpose()?;
    if entry.time_zone.is_some() && !matches!(definition, JobDefinition::Scheduled(_)) {
        return Err(Error::invalid(
            "time_zone",
            "`time_zone` is the wall clock of a scheduled job's schedule; this job has none",
        ));
    }
    let mut spec = JobSpec::new(id, operation)
        .targets(targets)
        .run(run)
        .start_ms(start_ms);
    let mut scheduled = None;
    match &definition {
        JobDefinition::Scheduled(job) => {
            let clock = need_clock(clock, "", "a scheduled job")?;
            let document = ScheduledJob {
                id: Some(spec.id.clone()),
                ..job.clone()
            };
            check_schedule(&spec, &document, entry, clock, body_field)?;
            let mut s = ScheduledJobSpec::new(spec.clone(), document);
            s.time_zone = entry.time_zone.clone();
            scheduled = Some(s);
        }
        JobDefinition::Hub(job) => {
            if let Some(fleet_core::model::Nullable::Value(start)) = &job.start_time {
                let field = format!("{body_field}.startTime");
                let clock = need_clock(clock, &field, "an IoT Hub job's startTime")?;
                spec = hub_start(spec, start, clock, &field)?;
            }
        }
        JobDefinition::Aws(job) => {
            if let Some(config) = &job.scheduling_config {
                let field = format!("{body_field}.schedulingConfig");
                let clock = need_clock(clock, &field, "schedulingConfig")?;
                spec = aws_scheduling(spec, config, clock, &field)?;
                if spec.start_ms > fleet_sim::MAX_VIRTUAL_MS {
                    return Err(Error::invalid(
                        format!("{field}.startTime"),
                        "the start is more than 100 years after clock_start, beyond the largest \
                         virtual time",
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(Converted {
        spec,
        threshold,
        dialect: definition.dialect(),
        scheduled,
    })
}

/// Checks a scheduled job as the simulator will create it, so that its errors name the
/// scenario's fields: the schedule (in `body`), the time zone, and an end, which a recurring
/// schedule needs in a scenario (the simulation runs until nothing is left to do).
fn check_schedule(
    spec: &JobSpec,
    document: &ScheduledJob,
    entry: &JobEntry,
    clock_ms: i64,
    body: &str,
) -> Result<()> {
    let created_ms = clock_ms + spec.start_ms;
    let tz = entry.time_zone.as_deref();
    if let Err(e) = ScheduledJobState::create(spec.id.clone(), document.clone(), created_ms, tz) {
        let field = match e.kind() {
            ScheduleErrorKind::UnknownTimeZone(_) => "time_zone".to_string(),
            ScheduleErrorKind::Invalid(inner) => match inner.path() {
                Some(path) => format!("{body}.{path}"),
                None => body.to_string(),
            },
            _ => format!("{body}.schedule"),
        };
        return Err(Error::invalid(field, e.to_string()));
    }
    if document.schedule.recurrence.is_some() && document.schedule.end.is_none() {
        return Err(Error::invalid(
            format!("{body}.schedule.end"),
            "a recurring schedule without an end never stops creating runs: give it an end \
             (a date, or a number of occurrences)",
        ));
    }
    Ok(())
}

/// IoT Hub `startTime`: the job starts then, or at `start_after_s` if later (as the hub starts
/// a job whose start is past at once).
fn hub_start(mut spec: JobSpec, start: &str, clock_ms: i64, field: &str) -> Result<JobSpec> {
    let at: jiff::Timestamp = start.parse().map_err(|e| {
        Error::invalid(
            field,
            format!("{start:?} is not an RFC 3339 date-time with an offset ({e})"),
        )
    })?;
    spec.start_ms = spec.start_ms.max(at.as_millisecond() - clock_ms);
    if spec.start_ms > fleet_sim::MAX_VIRTUAL_MS {
        return Err(Error::invalid(
            field,
            "the start is more than 100 years after clock_start, beyond the largest virtual time",
        ));
    }
    Ok(spec)
}

/// AWS `startTime` (the job is submitted then, or at `start_after_s` if later) and `endTime`
/// with its `endBehavior`. The maintenance windows are the run builder's.
fn aws_scheduling(
    mut spec: JobSpec,
    config: &SchedulingConfig,
    clock_ms: i64,
    field: &str,
) -> Result<JobSpec> {
    let scheduling = config
        .compile()
        .map_err(|e| Error::invalid(field, e.to_string()))?;
    if let Some(start) = scheduling.start_ms() {
        spec.start_ms = spec.start_ms.max(start - clock_ms);
    }
    if let Some((end, behavior)) = scheduling.end_time() {
        spec = spec.end((end - clock_ms).max(0), behavior);
    }
    Ok(spec)
}

fn group_targets(group: &str, file: &ScenarioFile) -> Result<TargetSpec> {
    let found = file.groups.iter().find(|g| g.id == group).ok_or_else(|| {
        let known: Vec<&str> = file.groups.iter().map(|g| g.id.as_str()).collect();
        Error::invalid(
            "group",
            format!("no device group {group:?} in the scenario (groups: {known:?})"),
        )
    })?;
    Ok(found
        .members()
        .map_or(TargetSpec::All, TargetSpec::Selector))
}

/// IoT Hub `queryCondition`: the `WHERE` part of a device query, or `*` (or none) for every
/// device.
fn query_targets(condition: Option<&str>) -> Result<TargetSpec> {
    let text = match condition {
        None => return Ok(TargetSpec::All),
        Some(t) if t.trim().is_empty() => return Ok(TargetSpec::All),
        Some(t) => t,
    };
    let query = Query::parse_condition(text)
        .map_err(|e| Error::invalid("queryCondition", format!("{text:?}: {e}")))?;
    let selector = Selector::from_query(query);
    Ok(if selector.is_all() {
        TargetSpec::All
    } else {
        TargetSpec::Selector(selector)
    })
}

/// The operation of an IoT Central job's `data` ([`Operation::from_central`]), its errors worded
/// for a scenario file.
fn central_operation(data: &[JobData], templates: &[TemplateSpec]) -> Result<Operation> {
    Operation::from_central(data, templates).map_err(|e| operation_error(&e, templates))
}

/// The operation of an IoT Hub JobRequest ([`Operation::from_hub_request`]), its errors worded
/// for a scenario file.
fn hub_operation(request: &JobRequest) -> Result<Operation> {
    Operation::from_hub_request(request).map_err(|e| operation_error(&e, &[]))
}

/// A scenario error for a job whose operation the simulator cannot run; `templates` are the
/// scenario's, listed when the job names another.
fn operation_error(e: &fleet_sim::Error, templates: &[TemplateSpec]) -> Error {
    let field = e.field().unwrap_or_default();
    match e.kind() {
        SimErrorKind::DataEntries(n) => Error::invalid(
            field,
            format!(
                "{n} entries: a job holds 1 to {} operations; split them into several jobs",
                Operation::MAX_ENTRIES
            ),
        ),
        SimErrorKind::UnknownTemplate(id) => {
            let known: Vec<&str> = templates.iter().map(|t| t.id.as_str()).collect();
            Error::invalid(
                field,
                format!("no device template {id:?} in the scenario (templates: {known:?})"),
            )
        }
        SimErrorKind::Engine(model) => Error::from(model.clone()),
        _ => sim_error("", e),
    }
}
