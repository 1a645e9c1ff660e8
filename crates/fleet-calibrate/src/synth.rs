//! Exports of a simulated job, in each platform's format: test data from a known model.
//!
//! [`simulate`] runs a scenario with its events recorded; [`SimulatedJob::of`] takes one job
//! of the result with each device's dispatch and final times (a device is dispatched when its
//! batch starts: the scenario must have no hub throttle and no dispatch rate, so that the
//! times are the device's latency); [`write`] writes the files that IoT Hub, IoT Central or
//! AWS IoT would give for it. `cargo run -p fleet-calibrate --example gen-results -- DIR`
//! writes all three for a model scenario.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use fleet_core::DeviceState;
use fleet_scenario::Scenario;
use fleet_sim::{SimBuilder, SimResult};
use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::read::time::format_ms;
use crate::record::{DeviceResult, History, Outcome, Place, Platform};

/// 2026-01-01T00:00:00Z: the wall clock of virtual time 0 when the scenario has no
/// `clock_start`.
const DEFAULT_EPOCH_MS: i64 = 1_767_225_600_000;

/// Simulates `scenario` with `seed`, recording its events (the per-device times).
///
/// The fleet is the scenario's own (generated with the scenario's `seed`, or imported): the
/// same devices in every run, as a real fleet; `seed` draws the run's fates (and the rates of
/// Beta probabilities).
pub fn simulate(scenario: &Scenario, seed: u64) -> Result<SimResult> {
    Ok(builder(scenario, seed)?
        .record_events(true)
        .build()
        .map_err(|e| Error::unusable(format!("the scenario does not build: {e}")))?
        .run())
}

/// The simulation of `scenario`'s fleet, behaviour, hub and jobs with `seed`, not built.
pub(crate) fn builder(scenario: &Scenario, seed: u64) -> Result<SimBuilder> {
    let mut builder = SimBuilder::new(seed)
        .clock_start_ms(scenario.clock_start_ms)
        .templates(scenario.file.templates.clone())
        .with_fleet(scenario.fleet(None)?)
        .behaviour(scenario.file.behaviour.clone())
        .max_events(scenario.budget.max_events);
    if let Some(hub) = &scenario.file.hub {
        builder = builder.hub(hub.clone());
    }
    for job in &scenario.jobs {
        builder = builder.job(job.clone());
    }
    for (at_ms, job, command) in &scenario.commands {
        builder = builder.command(*at_ms, job.clone(), *command);
    }
    for rerun in &scenario.reruns {
        builder = builder.rerun(rerun.job.clone(), rerun.id.clone(), rerun.at_ms);
    }
    Ok(builder)
}

/// One device of a simulated job.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedDevice {
    /// The device id.
    pub id: String,
    /// Its outcome.
    pub outcome: Outcome,
    /// The simulator's reason word for a failure (`device_error`, `crashed`, ...).
    pub reason: Option<&'static str>,
    /// When its batch dispatched to it (ms since the Unix epoch).
    pub dispatched_ms: Option<i64>,
    /// When its outcome was final.
    pub ended_ms: Option<i64>,
}

/// A simulated job, with wall-clock times.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedJob {
    /// The job id.
    pub id: String,
    /// `property`, `command`, ...
    pub operation: &'static str,
    /// The run's status word (`complete`, `cancelled`).
    pub status: &'static str,
    /// When it started (ms since the Unix epoch).
    pub started_ms: i64,
    /// When it settled.
    pub finished_ms: i64,
    /// Its devices, in target order.
    pub devices: Vec<SimulatedDevice>,
}

impl SimulatedJob {
    /// Whether the devices ran a method (an IoT Central command or an IoT Hub direct method):
    /// IoT Hub then reports each device's method status.
    pub fn is_method(&self) -> bool {
        matches!(self.operation, "command" | "device_method")
    }

    /// Job `job` (an index into [`SimResult::jobs`]) of a result recorded by [`simulate`].
    pub fn of(result: &SimResult, job: usize) -> Result<Self> {
        let j = result
            .jobs
            .get(job)
            .ok_or_else(|| Error::unusable(format!("the simulation has no job {job}")))?;
        let events = result
            .events
            .as_ref()
            .ok_or_else(|| Error::unusable("the simulation did not record its events"))?;
        let base = match result.clock_start_ms {
            0 => DEFAULT_EPOCH_MS,
            c => c,
        };
        // The first answer or time-out of each target.
        let mut ended: BTreeMap<u32, i64> = BTreeMap::new();
        for e in events.iter().filter(|e| usize::from(e.job) == job) {
            if matches!(e.kind, "answer" | "device_timeout" | "deadline") {
                ended.entry(e.device).or_insert(e.at_ms);
            }
        }
        let mut batch_start = Vec::with_capacity(j.counts.total as usize);
        for b in &j.batches {
            batch_start.extend(std::iter::repeat_n(b.started_ms, b.size as usize));
        }
        let devices = j
            .device_rows(result.fleet())
            .enumerate()
            .map(|(i, row)| {
                device(
                    row,
                    batch_start.get(i).copied().flatten(),
                    ended.get(&(i as u32)),
                    base,
                )
            })
            .collect();
        Ok(Self {
            id: j.id.clone(),
            operation: j.operation,
            status: j.status.as_str(),
            started_ms: base + j.started_ms.unwrap_or(0),
            finished_ms: base + j.finished_ms.or(j.started_ms).unwrap_or(0),
            devices,
        })
    }
}

impl SimulatedJob {
    /// The results as they read back from an AWS export of the job ([`write`] with
    /// [`Platform::Aws`], then [`crate::read_files`]), without the files: AWS tells every
    /// outcome and time, so these are the simulation's own. For tests over many seeds.
    pub fn history(&self) -> History {
        let devices = self
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| DeviceResult {
                device: d.id.clone(),
                job: Some(self.id.clone()),
                platform: Platform::Aws,
                // AWS has no word for "not online": such an execution reads back as failed.
                outcome: match d.outcome {
                    Outcome::Offline => Outcome::Failed,
                    o => o,
                },
                dispatched_ms: d.dispatched_ms.or(Some(self.started_ms)),
                ended_ms: d.ended_ms.or(Some(self.finished_ms)),
                retries: 0,
                reason: d.reason.map(str::to_string),
                place: Place {
                    file: 0,
                    record: i as u64 + 1,
                    line: 0,
                },
                described: false,
            })
            .collect();
        History {
            files: vec![PathBuf::from("(simulated)")],
            devices,
            jobs: Vec::new(),
            merged: 0,
        }
    }
}

fn device(
    row: fleet_sim::DeviceRow<'_>,
    start: Option<i64>,
    end: Option<&i64>,
    base: i64,
) -> SimulatedDevice {
    let outcome = match row.state {
        DeviceState::Succeeded => Outcome::Succeeded,
        DeviceState::Failed => Outcome::Failed,
        DeviceState::Rejected => Outcome::Rejected,
        DeviceState::TimedOut => Outcome::TimedOut,
        DeviceState::Cancelled => Outcome::Cancelled,
        DeviceState::Pending | DeviceState::InFlight => Outcome::NotTerminal,
    };
    let dispatched = (outcome != Outcome::Cancelled).then_some(start).flatten();
    let reason = row.reason.map(|r| r.as_str());
    let outcome = match (outcome, reason) {
        (Outcome::Failed, Some("offline")) => Outcome::Offline,
        (o, _) => o,
    };
    SimulatedDevice {
        id: row.id.to_string(),
        outcome,
        reason,
        dispatched_ms: dispatched.map(|s| base + s),
        ended_ms: dispatched.and(end.map(|e| base + e)),
    }
}

/// Writes the exports of `job` as `platform` gives them into `dir`; returns the files.
///
/// - IoT Hub: `hub-devices-jobs.json` (the `devices.jobs` query) and `hub-job.json`.
/// - IoT Central: `central-devices.json` (pages of 1,000 with `nextLink`, one after another)
///   and `central-job.json`.
/// - AWS IoT: `aws-executions.json` (`list-job-executions-for-job`) and `aws-describe.json`
///   (`describe-job-execution` of every device that did not succeed, one after another).
pub fn write(job: &SimulatedJob, platform: Platform, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let files: Vec<(&str, Vec<Value>)> = match platform {
        Platform::Hub => vec![
            (
                "hub-devices-jobs.json",
                vec![Value::Array(
                    job.devices.iter().map(|d| hub_device(job, d)).collect(),
                )],
            ),
            ("hub-job.json", vec![hub_job(job)]),
        ],
        Platform::Central => vec![
            ("central-devices.json", central_pages(job)),
            ("central-job.json", vec![central_job(job)]),
        ],
        Platform::Aws => vec![
            ("aws-executions.json", vec![aws_list(job)]),
            ("aws-describe.json", aws_describes(job)),
        ],
    };
    let mut paths = Vec::new();
    for (name, values) in files.into_iter().filter(|(_, v)| !v.is_empty()) {
        let path = dir.join(name);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
        for v in values {
            serde_json::to_writer_pretty(&mut f, &v).map_err(|e| io(e.into()))?;
            f.write_all(b"\n").map_err(io)?;
        }
        f.flush().map_err(io)?;
        paths.push(path);
    }
    Ok(paths)
}

fn io(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io(e))
}

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |t| Value::String(format_ms(t)))
}

fn hub_device(job: &SimulatedJob, d: &SimulatedDevice) -> Value {
    let method = job.is_method();
    let (status, method_status, error) = match d.outcome {
        Outcome::Succeeded => ("completed", method.then_some(200), None),
        Outcome::Failed if method && d.reason == Some("device_error") => {
            ("completed", Some(500), None)
        }
        Outcome::Rejected if method => ("completed", Some(400), None),
        Outcome::TimedOut => (
            "failed",
            None,
            Some((
                "GatewayTimeout",
                "Timed out waiting for the response from device.",
            )),
        ),
        Outcome::Offline => (
            "failed",
            None,
            Some(("DeviceNotOnline", "The device is not online.")),
        ),
        Outcome::Failed | Outcome::Rejected => (
            "failed",
            None,
            Some((
                d.reason.unwrap_or("DeviceError"),
                "The device reported an error.",
            )),
        ),
        Outcome::Cancelled | Outcome::Removed => ("canceled", None, None),
        Outcome::NotTerminal => ("running", None, None),
    };
    let mut v = json!({
        "deviceId": d.id,
        "jobId": job.id,
        "jobType": if method { "scheduleDeviceMethod" } else { "scheduleUpdateTwin" },
        "status": status,
        "startTimeUtc": time(d.dispatched_ms),
        "endTimeUtc": time(d.ended_ms),
        "createdDateTimeUtc": time(Some(job.started_ms)),
        "lastUpdatedDateTimeUtc": time(d.ended_ms.or(Some(job.finished_ms))),
        "outcome": { "deviceMethodResponse": method_status.map(|s| json!({"status": s, "payload": null})) },
    });
    if let Some((code, description)) = error {
        v["error"] = json!({"code": code, "description": description});
    }
    v
}

fn count(job: &SimulatedJob, f: impl Fn(Outcome) -> bool) -> usize {
    job.devices.iter().filter(|d| f(d.outcome)).count()
}

fn hub_job(job: &SimulatedJob) -> Value {
    json!({
        "jobId": job.id,
        "type": if job.is_method() { "scheduleDeviceMethod" } else { "scheduleUpdateTwin" },
        "status": if job.status == "cancelled" { "cancelled" } else { "completed" },
        "createdTime": time(Some(job.started_ms)),
        "startTime": time(Some(job.started_ms)),
        "endTime": time(Some(job.finished_ms)),
        "maxExecutionTimeInSeconds": 86_400,
        "deviceJobStatistics": {
            "deviceCount": job.devices.len(),
            "failedCount": count(job, |o| matches!(o, Outcome::Failed | Outcome::Rejected | Outcome::TimedOut)),
            "succeededCount": count(job, |o| o == Outcome::Succeeded),
            "runningCount": count(job, |o| o == Outcome::NotTerminal),
            "pendingCount": 0,
        },
    })
}

fn central_pages(job: &SimulatedJob) -> Vec<Value> {
    let chunks: Vec<&[SimulatedDevice]> = job.devices.chunks(1000).collect();
    let last = chunks.len().saturating_sub(1);
    let mut pages: Vec<Value> = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let value: Vec<Value> = chunk
                .iter()
                .map(|d| {
                    let status = match d.outcome {
                        Outcome::Succeeded => "completed",
                        Outcome::Failed
                        | Outcome::Rejected
                        | Outcome::TimedOut
                        | Outcome::Offline => "failed",
                        Outcome::Cancelled | Outcome::Removed => "cancelled",
                        Outcome::NotTerminal => "pending",
                    };
                    json!({"id": d.id, "status": status})
                })
                .collect();
            let mut page = json!({ "value": value });
            if i < last {
                page["nextLink"] = json!(format!(
                    "https://contoso.azureiotcentral.com/api/jobs/{}/devices?api-version=2022-07-31&$skiptoken={}",
                    job.id,
                    (i + 1) * 1000
                ));
            }
            page
        })
        .collect();
    if pages.is_empty() {
        pages.push(json!({"value": []}));
    }
    pages
}

fn central_job(job: &SimulatedJob) -> Value {
    json!({
        "id": job.id,
        "displayName": job.id,
        "group": "all-devices",
        "data": [],
        "start": time(Some(job.started_ms)),
        "end": time(Some(job.finished_ms)),
        "progress": {
            "total": job.devices.len(),
            "pending": count(job, |o| o == Outcome::NotTerminal),
            "completed": count(job, |o| o == Outcome::Succeeded),
            "failed": count(job, |o| matches!(o, Outcome::Failed | Outcome::Rejected | Outcome::TimedOut)),
        },
        "status": if job.status == "cancelled" { "cancelled" } else { "complete" },
    })
}

fn aws_status(o: Outcome) -> &'static str {
    match o {
        Outcome::Succeeded => "SUCCEEDED",
        Outcome::Failed | Outcome::Offline => "FAILED",
        Outcome::Rejected => "REJECTED",
        Outcome::TimedOut => "TIMED_OUT",
        Outcome::Cancelled => "CANCELED",
        Outcome::Removed => "REMOVED",
        Outcome::NotTerminal => "IN_PROGRESS",
    }
}

/// AWS epoch seconds, with milliseconds.
fn seconds(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |t| json!(t as f64 / 1000.0))
}

fn arn(id: &str) -> String {
    format!("arn:aws:iot:us-east-1:123456789012:thing/{id}")
}

fn aws_list(job: &SimulatedJob) -> Value {
    let summaries: Vec<Value> = job
        .devices
        .iter()
        .map(|d| {
            let queued = d.dispatched_ms.or(Some(job.started_ms));
            json!({
                "thingArn": arn(&d.id),
                "jobExecutionSummary": {
                    "status": aws_status(d.outcome),
                    "queuedAt": seconds(queued),
                    "startedAt": seconds(d.dispatched_ms),
                    "lastUpdatedAt": seconds(d.ended_ms.or(Some(job.finished_ms))),
                    "executionNumber": 1,
                    "retryAttempt": 0,
                },
            })
        })
        .collect();
    json!({ "executionSummaries": summaries })
}

fn aws_describes(job: &SimulatedJob) -> Vec<Value> {
    job.devices
        .iter()
        .filter(|d| d.outcome != Outcome::Succeeded)
        .map(|d| {
            json!({"execution": {
                "jobId": job.id,
                "status": aws_status(d.outcome),
                "forceCanceled": false,
                "statusDetails": { "detailsMap": { "reason": d.reason.unwrap_or("cancelled") } },
                "thingArn": arn(&d.id),
                "queuedAt": seconds(d.dispatched_ms.or(Some(job.started_ms))),
                "startedAt": seconds(d.dispatched_ms),
                "lastUpdatedAt": seconds(d.ended_ms.or(Some(job.finished_ms))),
                "executionNumber": 1,
                "versionNumber": 2,
            }})
        })
        .collect()
}
