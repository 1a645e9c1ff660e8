//! IoT Hub: the per-device job results of `az iot hub query -q "SELECT * FROM devices.jobs"`
//! (a JSON array) and a job of `GET /jobs/v2/{id}` (a JobResponse).

use crate::error::{Error, Result};
use crate::record::{DeviceResult, JobInfo, Outcome, Place, Platform};

use super::fields::Obj;

/// One element of `devices.jobs`: `deviceId`, `jobId`, `jobType`, `status`, `startTimeUtc`,
/// `endTimeUtc`, `createdDateTimeUtc`, `lastUpdatedDateTimeUtc`, `outcome`
/// (`deviceMethodResponse` with `status`), `error` (`code`, `description`).
///
/// `completed` is a success unless the direct method answered a status of 400 or more (the
/// device answered with an error: a failure); `failed` is a time-out when the error code
/// names one (`GatewayTimeout`, `DeviceJobTimeout`, codes `504...`), offline when it says the
/// device was not online (`DeviceNotOnline`, `404103`), and a failure otherwise;
/// `canceled` was cancelled; `pending`, `scheduled`, `queued` and `running` are not final.
pub(crate) fn device_job(o: Obj<'_>, place: Place) -> Result<DeviceResult> {
    let device = o.string("deviceId")?.to_string();
    let status = o.string("status")?;
    let method_status = match o.opt_object("outcome")? {
        Some(outcome) => match outcome.opt_object("deviceMethodResponse") {
            Ok(Some(r)) => r.opt_u64("status"),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
        .map_err(|e| e.with_field("outcome.deviceMethodResponse"))?,
        None => None,
    };
    let (code, description) = match o.opt_object("error")? {
        Some(e) => (
            error_code(e).map_err(|x| x.with_field("error"))?,
            e.opt_string("description")
                .map_err(|x| x.with_field("error"))?
                .map(str::to_string),
        ),
        None => (None, None),
    };
    let outcome = match status.to_ascii_lowercase().as_str() {
        "completed" if method_status.is_some_and(|s| s >= 400) => Outcome::Failed,
        "completed" => Outcome::Succeeded,
        "failed" if code.as_deref().is_some_and(is_timeout_code) => Outcome::TimedOut,
        "failed" if code.as_deref().is_some_and(is_offline_code) => Outcome::Offline,
        "failed" => Outcome::Failed,
        "canceled" | "cancelled" => Outcome::Cancelled,
        "pending" | "scheduled" | "queued" | "running" | "enqueued" => Outcome::NotTerminal,
        other => {
            return Err(Error::invalid(
                "status",
                format!(
                    "unknown device job status {other:?} (expected pending, scheduled, running, \
                     completed, failed or canceled)"
                ),
            ))
        }
    };
    let reason = code.or(description).or_else(|| {
        method_status
            .filter(|s| *s >= 400)
            .map(|s| format!("method status {s}"))
    });
    Ok(DeviceResult {
        device,
        job: o.opt_string("jobId")?.map(str::to_string),
        platform: Platform::Hub,
        outcome,
        dispatched_ms: o.opt_time("startTimeUtc")?,
        ended_ms: o.opt_time("endTimeUtc")?,
        retries: 0,
        reason,
        place,
        described: false,
    })
}

/// `error.code`: a string, or a number (the hub's numeric codes).
fn error_code(e: Obj<'_>) -> Result<Option<String>> {
    match e.0.get("code") {
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        _ => e.opt_string("code").map(|c| c.map(str::to_string)),
    }
}

/// Whether an IoT Hub error code says that the device did not answer in time.
fn is_timeout_code(code: &str) -> bool {
    code.to_ascii_lowercase().contains("timeout") || code.starts_with("504")
}

/// Whether an IoT Hub error code says that the device was not connected.
fn is_offline_code(code: &str) -> bool {
    code.eq_ignore_ascii_case("DeviceNotOnline") || code == "404103"
}

/// A JobResponse (`GET /jobs/v2/{id}`): `jobId`, `type`, `status`, `createdTime`,
/// `startTime`, `endTime`, `deviceJobStatistics`.
pub(crate) fn job(o: Obj<'_>, place: Place) -> Result<JobInfo> {
    let statistics = match o.opt_object("deviceJobStatistics")? {
        Some(s) => {
            let get = |name: &str| {
                s.opt_u64(name)
                    .map(|v| v.unwrap_or(0))
                    .map_err(|e| e.with_field("deviceJobStatistics"))
            };
            Some([
                get("deviceCount")?,
                get("failedCount")?,
                get("succeededCount")?,
            ])
        }
        None => None,
    };
    Ok(JobInfo {
        id: o.string("jobId")?.to_string(),
        platform: Platform::Hub,
        status: o.opt_string("status")?.map(str::to_string),
        start_ms: o.opt_time("startTime")?.or(o.opt_time("createdTime")?),
        end_ms: o.opt_time("endTime")?,
        statistics,
        place,
    })
}
