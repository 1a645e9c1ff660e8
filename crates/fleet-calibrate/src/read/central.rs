//! IoT Central: the pages of `GET /api/jobs/{id}/devices` (`{"value": [{"id", "status"}],
//! "nextLink"}`) and the job of `GET /api/jobs/{id}` (its `start` and `end`).

use crate::error::{Error, Result};
use crate::record::{DeviceResult, JobInfo, Outcome, Place, Platform};

use super::fields::Obj;

/// One entry of a devices page: `id` and `status` only. `completed` is a success, `failed` a
/// failure (IoT Central does not say whether a device refused, failed or timed out),
/// `cancelled` (or `canceled`) was cancelled, `pending` and `running` are not final. There
/// are no times: no latency can be fitted from IoT Central results.
pub(crate) fn device(o: Obj<'_>, place: Place) -> Result<DeviceResult> {
    let device = o.string("id")?.to_string();
    let outcome = match o.string("status")?.to_ascii_lowercase().as_str() {
        "completed" | "complete" | "succeeded" => Outcome::Succeeded,
        "failed" => Outcome::Failed,
        "cancelled" | "canceled" => Outcome::Cancelled,
        "pending" | "running" | "queued" => Outcome::NotTerminal,
        other => {
            return Err(Error::invalid(
                "status",
                format!("unknown device status {other:?} (expected completed, failed or pending)"),
            ))
        }
    };
    Ok(DeviceResult {
        device,
        job: None,
        platform: Platform::Central,
        outcome,
        dispatched_ms: None,
        ended_ms: None,
        retries: 0,
        reason: None,
        place,
        described: false,
    })
}

/// A job (`GET /api/jobs/{id}`): `id`, `status`, `start`, `end`, `progress`.
pub(crate) fn job(o: Obj<'_>, place: Place) -> Result<JobInfo> {
    let statistics = match o.opt_object("progress")? {
        Some(p) => {
            let get = |name: &str| {
                p.opt_u64(name)
                    .map(|v| v.unwrap_or(0))
                    .map_err(|e| e.with_field("progress"))
            };
            Some([get("total")?, get("failed")?, get("completed")?])
        }
        None => None,
    };
    Ok(JobInfo {
        id: o.string("id")?.to_string(),
        platform: Platform::Central,
        status: o.opt_string("status")?.map(str::to_string),
        start_ms: o.opt_time("start")?,
        end_ms: o.opt_time("end")?,
        statistics,
        place,
    })
}
