//! AWS IoT: `aws iot list-job-executions-for-job` (`executionSummaries` with `thingArn` and
//! `jobExecutionSummary`) and `aws iot describe-job-execution` (`execution` with
//! `statusDetails`).

use crate::error::{Error, Result};
use crate::record::{DeviceResult, Outcome, Place, Platform};

use super::fields::Obj;

/// The thing name of a thing ARN (`arn:aws:iot:us-west-2:123456789012:thing/MyRaspberryPi`),
/// or the text itself when it is no ARN.
fn thing_name(arn: &str) -> &str {
    arn.rsplit_once(":thing/").map_or(arn, |(_, name)| name)
}

/// An execution status: `SUCCEEDED`, `FAILED`, `REJECTED`, `TIMED_OUT`, `CANCELED`,
/// `REMOVED`, or `QUEUED` and `IN_PROGRESS` (not final).
fn outcome(status: &str) -> Result<Outcome> {
    Ok(match status {
        "SUCCEEDED" | "SUCCESS" => Outcome::Succeeded,
        "FAILED" => Outcome::Failed,
        "REJECTED" => Outcome::Rejected,
        "TIMED_OUT" => Outcome::TimedOut,
        "CANCELED" | "CANCELLED" => Outcome::Cancelled,
        "REMOVED" => Outcome::Removed,
        "QUEUED" | "IN_PROGRESS" => Outcome::NotTerminal,
        other => {
            return Err(Error::invalid(
                "status",
                format!(
                    "unknown execution status {other:?} (expected QUEUED, IN_PROGRESS, SUCCEEDED, \
                     FAILED, TIMED_OUT, REJECTED, REMOVED or CANCELED)"
                ),
            ))
        }
    })
}

/// The fields both shapes share: `status`, `queuedAt`, `startedAt`, `lastUpdatedAt`,
/// `retryAttempt`. The dispatch is `queuedAt` (when the job queued the execution for the
/// thing), the end `lastUpdatedAt` of a final status.
fn execution(device: String, e: Obj<'_>, place: Place) -> Result<DeviceResult> {
    let outcome = outcome(e.string("status")?)?;
    let queued = e.opt_time("queuedAt")?;
    let started = e.opt_time("startedAt")?;
    Ok(DeviceResult {
        device,
        job: e.opt_string("jobId")?.map(str::to_string),
        platform: Platform::Aws,
        outcome,
        dispatched_ms: queued.or(started),
        ended_ms: e.opt_time("lastUpdatedAt")?,
        retries: e
            .opt_u64("retryAttempt")?
            .unwrap_or(0)
            .min(u64::from(u32::MAX)) as u32,
        reason: None,
        place,
        described: false,
    })
}

/// One element of `executionSummaries`.
pub(crate) fn summary(o: Obj<'_>, place: Place) -> Result<DeviceResult> {
    let device = thing_name(o.string("thingArn")?).to_string();
    let summary = match o.opt_object("jobExecutionSummary")? {
        Some(s) => s,
        None => return Err(Error::invalid("jobExecutionSummary", "is missing")),
    };
    let mut d =
        execution(device, summary, place).map_err(|e| e.with_field("jobExecutionSummary"))?;
    d.job = o.opt_string("jobId")?.map(str::to_string).or(d.job);
    Ok(d)
}

/// The `execution` of `describe-job-execution` (`thingArn`, or `thingName` in the jobs data
/// plane's shape); its `statusDetails` (`detailsMap`, or a flat map) becomes the reason.
pub(crate) fn describe(e: Obj<'_>, place: Place) -> Result<DeviceResult> {
    let device = match e.opt_string("thingArn")? {
        Some(arn) => thing_name(arn).to_string(),
        None => e.string("thingName")?.to_string(),
    };
    let mut d = execution(device, e, place)?;
    d.described = true;
    if let Some(details) = e.opt_object("statusDetails")? {
        let map = match details.opt_object("detailsMap") {
            Ok(Some(m)) => m,
            Ok(None) => details,
            Err(x) => return Err(x.with_field("statusDetails")),
        };
        let text: Vec<String> = map
            .0
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        if !text.is_empty() {
            d.reason = Some(text.join(", "));
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_names_come_from_arns() {
        assert_eq!(
            thing_name("arn:aws:iot:us-west-2:123456789012:thing/MyRaspberryPi"),
            "MyRaspberryPi"
        );
        assert_eq!(thing_name("plain"), "plain");
    }
}
