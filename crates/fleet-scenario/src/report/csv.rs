//! Per-device results as CSV: one row per device per job.

use std::io::{self, Write};

use super::Report;

/// Writes `job,device_id,status,attempts,error` rows (RFC 4180 quoting) for every target of
/// every job, in job order and then target order. `status` uses the IoT Central per-device words
/// where they exist (`completed`, `failed`) and the engine's otherwise (`cancelled`, `pending`,
/// `in_flight`, and the failure kinds `rejected` / `timed_out` in `error`); for a job given in
/// AWS IoT's JSON, AWS's execution words (`QUEUED`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED`,
/// `REJECTED`, `TIMED_OUT`, `CANCELED`).
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "job,device_id,status,attempts,error")?;
    let fleet = report.result.fleet();
    for (j, job) in report.result.jobs.iter().enumerate() {
        let job_id = quote(&job.id);
        let aws = report.dialects.get(j) == Some(&"aws");
        for row in job.device_rows(fleet) {
            let status = match row.state {
                s if aws => fleet_core::model::AwsExecutionStatus::from(s).as_str(),
                fleet_core::DeviceState::Succeeded => "completed",
                s if s.is_failure() => "failed",
                s => s.as_str(),
            };
            let error = row.reason.map_or("", |r| r.as_str());
            writeln!(
                out,
                "{job_id},{},{status},{},{error}",
                quote(&row.id.to_string()),
                row.attempts
            )?;
        }
    }
    Ok(())
}

/// Quotes a field when it holds a comma, a quote or a line break.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(quote("therm-01"), "therm-01");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
