//! IoT Hub's per-device job results: `SELECT * FROM devices.jobs WHERE devices.jobs.jobId =
//! '...'` (`POST /devices/query`), one row per target of the job: `deviceId`, `jobId`,
//! `jobType`, `status`, `outcome.deviceMethodResponse` (a method's answer) and `error`
//! (`code`: the reason word, `description`).
//!
//! A real device's answer is shown as it gave it (status and payload); a simulated device that
//! succeeded a method answers `{"status": 200, "payload": null}`.

use fleet_core::DeviceState;
use serde_json::{json, Value};

use super::{Dialect, Driver, Reply};
use crate::api_error::ApiError;
use crate::error::Result;

/// IoT Hub's word for a device's state in a job.
fn hub_word(state: DeviceState) -> &'static str {
    match state {
        DeviceState::Pending => "pending",
        DeviceState::InFlight => "running",
        DeviceState::Succeeded => "completed",
        DeviceState::Failed | DeviceState::Rejected | DeviceState::TimedOut => "failed",
        DeviceState::Cancelled => "canceled",
    }
}

/// The job id a `devices.jobs` query asks for: `Some(None)` for every job (not served: the
/// caller refuses it), `None` if the query is not about `devices.jobs`.
pub(crate) fn jobs_query(text: &str) -> Option<Option<String>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    if lower.get(..4)? != ["select", "*", "from", "devices.jobs"] {
        return None;
    }
    let rest = words[4..].join(" ");
    let id = rest
        .strip_prefix("WHERE ")
        .or_else(|| rest.strip_prefix("where "))
        .and_then(|c| {
            let (field, value) = c.split_once('=')?;
            let value = value.trim();
            let quoted = value.len() >= 2
                && (value.starts_with('\'') && value.ends_with('\'')
                    || value.starts_with('"') && value.ends_with('"'));
            (field.trim().eq_ignore_ascii_case("devices.jobs.jobId") && quoted)
                .then(|| value[1..value.len() - 1].to_string())
        });
    Some(id)
}

impl Driver {
    /// A page of job `id`'s per-device results, from target `from`:
    /// `{"items": [row], "next": index?}`.
    pub(super) fn hub_job_devices(&mut self, id: &str, from: u32, limit: usize) -> Result<Reply> {
        let Some(&no) = self.index.get(&(Dialect::Hub, id.to_string())) else {
            return Ok(Err(ApiError::not_found("job", id).hub("JobNotFound")));
        };
        let r = &self.runs[&no];
        let kind = r.doc.hub.as_ref().and_then(|h| h.kind.as_ref());
        let kind = kind.map_or(Value::Null, |k| {
            serde_json::to_value(k).unwrap_or(Value::Null)
        });
        let method = r.handover.is_method();
        let page = self.with_state(no, |exec| {
            let job = exec.run();
            let n = job.counts().total;
            let end = from.saturating_add(limit as u32).min(n);
            let rows: Vec<_> = (from.min(n)..end)
                .map(|t| (t, exec.device(t), job.device_state(t), exec.reason(t)))
                .collect();
            (rows, (end < n).then_some(end))
        })?;
        let Some((rows, next)) = page else {
            return Ok(Ok(json!({"items": []})));
        };
        let mut items = Vec::with_capacity(rows.len());
        for (t, d, state, reason) in rows {
            let mut row = json!({
                "deviceId": self.ctx.model.fleet().id(d).to_string(),
                "jobId": id,
                "jobType": kind,
                "status": hub_word(state),
            });
            let response = self.links.response(no, t).or_else(|| {
                (method && state == DeviceState::Succeeded).then_some((200, Value::Null))
            });
            if let Some((status, payload)) = response {
                row["outcome"] =
                    json!({"deviceMethodResponse": {"status": status, "payload": payload}});
            }
            if let (Some(reason), true) = (reason, state.is_failure()) {
                row["error"] = json!({"code": reason.as_str(), "description": reason.as_str().replace('_', " ")});
            }
            items.push(row);
        }
        let mut out = json!({ "items": items });
        if let Some(n) = next {
            out["next"] = Value::from(n);
        }
        Ok(Ok(out))
    }
}

#[cfg(test)]
mod tests {
    use super::jobs_query;

    #[test]
    fn queries() {
        let q = "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'j-1'";
        assert_eq!(jobs_query(q), Some(Some("j-1".into())));
        assert_eq!(jobs_query("select * from devices.jobs"), Some(None));
        assert_eq!(jobs_query("SELECT * FROM devices"), None);
        assert_eq!(
            jobs_query("SELECT * FROM devices.jobs WHERE status = 'failed'"),
            Some(None)
        );
    }
}
