//! AWS IoT Jobs and hawkBit jobs in scenarios: the entry's `group` and `commands`, the new
//! expectations, the per-device AWS words, and errors that name the field.

use fleet_scenario::report::{csv, text};
use fleet_scenario::{run, Format, RunOptions, Scenario};

const FLEET: &str = r#"
seed = 3

[fleet]
devices = 40
id_pattern = "dev-{:03}"
templates = [{ template = "dtmi:x:y;1", share = 1.0 }]
tags = [{ name = "ring", values = [{ value = "0", weight = 1 }, { value = "1", weight = 1 }] }]

[[templates]]
id = "dtmi:x:y;1"

[[groups]]
id = "ring-0"
filter = "SELECT * FROM devices WHERE tags.ring = '0'"

[[behaviour.rules]]
latency = { type = "fixed", ms = 1000 }
"#;

fn scenario(jobs: &str) -> Result<Scenario, fleet_scenario::Error> {
    Scenario::from_str(&format!("{FLEET}\n{jobs}"), Format::Toml)
}

fn error_field(jobs: &str) -> String {
    let e = scenario(jobs).expect_err("must be refused");
    e.field().unwrap_or("").to_string()
}

#[test]
fn an_aws_job_targets_its_group_and_is_paced_by_its_rate() {
    let s = scenario(
        r#"
[[jobs]]
group = "ring-0"
job = { jobId = "aws-1", document = "{}", jobExecutionsRolloutConfig = { maximumPerMinute = 5 } }

[[expect]]
job = "aws-1"
status = "complete"
abort_tripped = false
"#,
    )
    .unwrap();
    assert_eq!(s.dialects, ["aws"]);
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    assert!(r.passed, "{}", text::render(&r));
    let job = &r.result.jobs[0];
    assert_eq!(job.operation, "job_document");
    let n = job.counts.total;
    assert!(n > 0 && n < 40, "ring 0 only: {n}");
    // 5 per minute: the last devices go out in minute ceil(n / 5) - 1.
    let last = (i64::from(n).div_euclid(5) - i64::from(n % 5 == 0)) * 60_000 + 1_000;
    assert_eq!(job.finished_ms, Some(last));
    // The CSV speaks AWS.
    let mut out = Vec::new();
    csv::write(&r, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.lines().skip(1).all(|l| l.contains(",SUCCEEDED,")),
        "{out}"
    );
}

#[test]
fn a_hawkbit_rollout_pauses_and_a_command_resumes_it() {
    let s = scenario(
        r#"
[[behaviour.rules]]
selector = "deviceId < 'dev-010'"
failure_probability = 1.0

[[jobs]]
commands = [{ at_s = 100, command = "resume" }, { at_s = 200, command = "trigger_next_batch" }]
json = '''
{ "name": "r1", "distributionSetId": 7, "amountGroups": 4,
  "successCondition": { "condition": "THRESHOLD", "expression": "100" },
  "successAction": { "action": "NEXTGROUP" },
  "errorCondition": { "condition": "THRESHOLD", "expression": "20" },
  "errorAction": { "action": "PAUSE" } }
'''

[[expect]]
job = "r1"
status = "complete"
paused = true
failed = 10
"#,
    )
    .unwrap();
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    let report = text::render(&r);
    assert!(r.passed, "{report}");
    let job = &r.result.jobs[0];
    assert_eq!(job.pauses[0].reason, "error_condition");
    assert_eq!(job.pauses[0].batch, 0);
    assert!(report.contains("paused by the gate of batch 1"), "{report}");
    // The resume at 100 s went through; the trigger at 200 s found no batch left.
    assert_eq!(job.commands[0].error, None);
    assert!(job.commands[1].error.is_some());
}

#[test]
fn an_aws_abort_is_reported_and_expected() {
    let s = scenario(
        r#"
[[behaviour.rules]]
failure_probability = 1.0

[[jobs]]
json = '''
{ "jobId": "aws-abort", "documentSource": "https://example.invalid/doc.json",
  "jobExecutionsRolloutConfig": { "maximumPerMinute": 4 },
  "abortConfig": { "criteriaList": [
    { "failureType": "ALL", "action": "CANCEL", "thresholdPercentage": 50, "minNumberOfExecutedThings": 3 } ] } }
'''

[[expect]]
job = "aws-abort"
status = "cancelled"
abort_tripped = true
"#,
    )
    .unwrap();
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    let report = text::render(&r);
    assert!(r.passed, "{report}");
    assert!(
        report.contains("abort criterion 1 (ALL) tripped"),
        "{report}"
    );
    assert_eq!(r.result.jobs[0].counts.cancelled, 36);
}

#[test]
fn errors_name_the_field() {
    // An AWS value out of range, inside the job's JSON.
    assert_eq!(
        error_field(
            r#"
[[jobs]]
job = { jobId = "a", document = "{}", jobExecutionsRolloutConfig = { maximumPerMinute = 5000 } }
"#
        ),
        "jobs[0].job.jobExecutionsRolloutConfig.maximumPerMinute"
    );
    // `group` is for AWS and hawkBit jobs.
    assert_eq!(
        error_field(
            r#"
[[jobs]]
group = "ring-0"
job = { jobId = "h", type = "scheduleDeviceMethod", queryCondition = "*", cloudToDeviceMethod = { methodName = "m" } }
"#
        ),
        "jobs[0].group"
    );
    // A group that does not exist.
    assert_eq!(
        error_field(
            r#"
[[jobs]]
group = "ring-9"
job = { jobId = "a", document = "{}" }
"#
        ),
        "jobs[0].group"
    );
    // An unknown command word, a negative time.
    assert_eq!(
        error_field(
            r#"
[[jobs]]
commands = [{ at_s = 1, command = "pause" }]
job = { jobId = "a", document = "{}" }
"#
        ),
        "jobs[0].commands[0].command"
    );
    assert_eq!(
        error_field(
            r#"
[[jobs]]
commands = [{ at_s = -1, command = "stop" }]
job = { jobId = "a", document = "{}" }
"#
        ),
        "jobs[0].commands[0].at_s"
    );
    // An AWS job takes its retries from its JSON.
    assert_eq!(
        error_field(
            r#"
[[jobs]]
retry = { failed = 1 }
job = { jobId = "a", document = "{}" }
"#
        ),
        "jobs[0].retry"
    );
    // `all` is given alone.
    assert_eq!(
        error_field(
            r#"
[[jobs]]
retry = { failed = 1, all = 2 }
job = { group = "ring-0", data = [{ type = "property", target = "dtmi:x:y;1", path = "p", value = 1 }], id = "c" }
"#
        ),
        "jobs[0].retry.all"
    );
    // hawkBit: a condition that is not a whole percentage.
    assert_eq!(
        error_field(
            r#"
[[jobs]]
job = { name = "r", distributionSetId = 1, successCondition = { condition = "THRESHOLD", expression = "half" } }
"#
        ),
        "jobs[0].job.successCondition.expression"
    );
    // Expectations know the new status word.
    assert!(scenario(
        r#"
[[jobs]]
job = { name = "r", distributionSetId = 1 }
[[expect]]
job = "r"
status = "paused"
"#
    )
    .is_ok());
}

/// An IoT Hub job's `startTime` starts it then (relative to `clock_start`); a start before
/// `clock_start` starts it at once; without `clock_start` the error names the field.
#[test]
fn an_iot_hub_job_starts_at_its_start_time() {
    let job = |start: &str| {
        format!(
            r#"
[[jobs]]
json = '''{{"jobId": "h", "type": "scheduleUpdateTwin", "queryCondition": "*",
  "updateTwin": {{"properties": {{"desired": {{"x": 1}}}}}}, "startTime": {start}}}'''
"#
        )
    };
    let clocked = |start: &str| {
        let text = format!(
            "clock_start = \"2026-05-01T00:00:00Z\"\n{FLEET}\n{}",
            job(start)
        );
        Scenario::from_str(&text, Format::Toml).unwrap()
    };
    let started_ms = |s: &Scenario| {
        let r = run(s, RunOptions::default(), &mut |_, _| {}).unwrap();
        r.result.jobs[0].started_ms
    };
    assert_eq!(
        started_ms(&clocked("\"2026-05-01T01:30:00Z\"")),
        Some(5_400_000)
    );
    assert_eq!(started_ms(&clocked("\"2026-04-01T00:00:00Z\"")), Some(0));
    assert_eq!(started_ms(&clocked("null")), Some(0));
    assert_eq!(
        error_field(&job("\"2026-05-01T01:30:00Z\"")),
        "jobs[0].json.startTime"
    );
}
