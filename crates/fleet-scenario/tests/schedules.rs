//! Scheduled jobs and AWS `schedulingConfig` in scenarios: conversion, one report row per
//! occurrence, expectations on occurrences and runs, and errors that name the field.

use fleet_scenario::report::{html, text, Report};
use fleet_scenario::{run, Format, RunOptions, Scenario};

const FLEET: &str = r#"
seed = 3
clock_start = "2026-03-01T00:00:00Z"

[fleet]
devices = 40
id_pattern = "dev-{:03}"
templates = [{ template = "dtmi:x:y;1", share = 1.0 }]

[[templates]]
id = "dtmi:x:y;1"
properties = [{ name = "p", schema = "integer" }]

[[groups]]
id = "all"

[[behaviour.rules]]
latency = { type = "fixed", ms = 1000 }
"#;

/// A scheduled job `nightly` at 02:00 (in `tz`), `end` as given, with `extra` lines after it.
fn scheduled(schedule: &str, extra: &str) -> String {
    format!(
        r#"
[[jobs]]
{extra}
json = '''
{{
  "id": "nightly",
  "group": "all",
  "batch": {{ "type": "number", "value": 10 }},
  "data": [{{ "type": "PropertyJobData", "target": "dtmi:x:y;1", "path": "p", "value": 1 }}],
  "schedule": {schedule},
  "enabled": true
}}
'''
"#
    )
}

const DAILY_5: &str = r#"{ "start": "2026-03-01T02:00:00Z", "recurrence": "daily", "end": { "type": "occurrences", "occurrences": 5 } }"#;

fn scenario(body: &str) -> Result<Scenario, fleet_scenario::Error> {
    Scenario::from_str(&format!("{FLEET}\n{body}"), Format::Toml)
}

fn report(body: &str) -> Report {
    let s = scenario(body).unwrap();
    run(&s, RunOptions::default(), &mut |_, _| {}).unwrap()
}

fn error(body: &str) -> (String, String) {
    let e = scenario(body).expect_err("must be refused");
    (e.field().unwrap_or("").to_string(), e.to_string())
}

#[test]
fn a_scheduled_job_runs_each_night_and_reports_one_row_per_occurrence() {
    let r = report(&format!(
        "{}\n{}",
        scheduled(DAILY_5, ""),
        r#"
[[expect]]
job = "nightly"
runs = 5
skipped = 0
status = "complete"
succeeded = 40

[[expect]]
job = "nightly-5"
duration_s = 4
"#
    ));
    let out = text::render(&r);
    assert!(r.passed, "{out}");
    let words = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let schedule = &r.result.schedules[0];
    assert_eq!(schedule.runs().collect::<Vec<_>>().len(), 5);
    // The text report: one row per occurrence, in wall-clock time; the runs have no section
    // of their own.
    for day in 1..=5 {
        let row = format!("{day} 2026-03-{day:02} 02:00 UTC nightly-{day} complete 40 0 0 4.00s");
        assert!(words.contains(&row), "no row {row:?} in\n{out}");
    }
    assert!(!out.contains("job nightly-1 ("), "{out}");
    assert!(
        out.contains("each run succeeded: expected 40, got 40 in all 5 runs"),
        "{out}"
    );
    // The JSON report: the schedule with its occurrences, and each run as a job.
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let occurrences = json["schedules"][0]["occurrences"].as_array().unwrap();
    assert_eq!(occurrences.len(), 5);
    assert_eq!(occurrences[4]["run"], "nightly-5");
    assert_eq!(occurrences[4]["at_ms"], 2 * 3_600_000 + 4 * 86_400_000_i64);
    assert_eq!(json["clock_start_ms"], 1_772_323_200_000_i64);
    let runs: Vec<&str> = json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["scheduled_job_id"].as_str().unwrap())
        .collect();
    assert_eq!(runs, ["nightly"; 5]);
    // The HTML report has the same table.
    let page = html::render(&r);
    assert!(
        page.contains("<h2>Scheduled job nightly (UTC)</h2>"),
        "{page}"
    );
    // Its chart: a green (succeeded) bar per run, and the legend's swatch.
    assert!(
        page.contains("devices by outcome, per occurrence"),
        "{page}"
    );
    assert_eq!(page.matches(r##"fill="#2EA043""##).count(), 5 + 1, "{page}");
    for day in 1..=5 {
        let row =
            format!("<td>2026-03-{day:02} 02:00 UTC</td><td>nightly-{day}</td><td>complete</td>");
        assert!(page.contains(&row), "no {row:?} in {page}");
    }
}

#[test]
fn each_run_assertions_fail_on_the_first_run_that_breaks_them() {
    // Devices answer after 9 hours: a run (4 batches) takes 36 h and every other night is
    // skipped.
    let body = FLEET.replace("ms = 1000", "ms = 32400000");
    let s = Scenario::from_str(
        &format!(
            "{body}\n{}\n{}",
            scheduled(DAILY_5, ""),
            r#"
[[expect]]
job = "nightly"
runs = 5
skipped = { max = 0 }
duration_s = { max = 3600 }

[[expect]]
job = "nightly-4"
status = "complete"
"#
        ),
        Format::Toml,
    )
    .unwrap();
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    let failed: Vec<(&str, &str, &str)> = r
        .failures()
        .map(|c| (c.job.as_str(), c.what.as_str(), c.actual.as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            ("nightly", "runs", "3"),
            ("nightly", "skipped", "2"),
            ("nightly", "each run duration_s", "129600 in nightly-1"),
            ("nightly-4", "status", "no such run"),
        ]
    );
    let out = text::render(&r);
    assert!(
        out.contains("2026-03-02 02:00 UTC   skipped: nightly-1 still active"),
        "{out}"
    );
    assert_eq!(r.result.schedules[0].runs().count(), 3);
}

#[test]
fn a_time_zone_follows_the_wall_clock_across_the_clock_change() {
    let schedule = r#"{ "start": "2026-03-27T02:00:00+01:00", "recurrence": "daily", "end": { "type": "date", "date": "2026-03-30" } }"#;
    let r = report(&scheduled(schedule, r#"time_zone = "Europe/Berlin""#));
    let out = text::render(&r);
    for row in [
        "2026-03-28 02:00 CET",
        "2026-03-29 03:00 CEST",
        "2026-03-30 02:00 CEST",
    ] {
        assert!(out.contains(row), "no {row:?} in\n{out}");
    }
    assert_eq!(r.result.schedules[0].occurrences.len(), 4);
}

#[test]
fn scheduled_jobs_are_checked_on_load_with_the_field() {
    // No clock_start: the scheduled job says why it needs one.
    let no_clock = format!(
        "{}\n{}",
        FLEET.replace("clock_start = \"2026-03-01T00:00:00Z\"", ""),
        scheduled(DAILY_5, "")
    );
    let e = Scenario::from_str(&no_clock, Format::Toml).unwrap_err();
    assert_eq!(e.field(), Some("jobs[0]"));
    assert!(e.to_string().contains("clock_start"), "{e}");
    let bad_clock = format!("{}\n", FLEET.replace("2026-03-01T00:00:00Z", "March 1st"));
    let e = Scenario::from_str(&bad_clock, Format::Toml).unwrap_err();
    assert_eq!(e.field(), Some("clock_start"));
    // Commands cannot go to runs that do not exist yet.
    let (field, _) = error(&scheduled(
        DAILY_5,
        r#"commands = [{ at_s = 1, command = "stop" }]"#,
    ));
    assert_eq!(field, "jobs[0].commands");
    // `time_zone` belongs to scheduled jobs.
    let (field, _) = error(
        r#"
[[jobs]]
time_zone = "Europe/Berlin"
job = { id = "j", group = "all", data = [{ type = "PropertyJobData", target = "dtmi:x:y;1", path = "p", value = 1 }] }
"#,
    );
    assert_eq!(field, "jobs[0].time_zone");
    // `runs` and `skipped` count occurrences: only for a scheduled job.
    let (field, message) = error(
        r#"
[[jobs]]
job = { id = "j", group = "all", data = [{ type = "PropertyJobData", target = "dtmi:x:y;1", path = "p", value = 1 }] }

[[expect]]
job = "j"
runs = 1
"#,
    );
    assert_eq!(field, "expect[0].runs", "{message}");
    // An expectation on a run id that no schedule can create.
    let (field, _) = error(&format!(
        "{}\n[[expect]]\njob = \"nightly-0\"\nstatus = \"complete\"\n",
        scheduled(DAILY_5, "")
    ));
    assert_eq!(field, "expect[0].job");
    // A schedule the model refuses: an end without a recurrence.
    let (field, message) = error(&scheduled(
        r#"{ "start": "2026-03-01T02:00:00Z", "end": { "type": "occurrences", "occurrences": 2 } }"#,
        "",
    ));
    assert!(field.starts_with("jobs[0]"), "{field}: {message}");
}

#[test]
fn an_unknown_time_zone_or_an_endless_schedule_is_refused_on_load() {
    let (field, message) = error(&scheduled(DAILY_5, r#"time_zone = "Mars/Olympus""#));
    assert_eq!(field, "jobs[0].time_zone");
    assert!(message.contains("Mars/Olympus"), "{message}");
    let endless = r#"{ "start": "2026-03-01T02:00:00Z", "recurrence": "daily" }"#;
    let (field, message) = error(&scheduled(endless, ""));
    assert_eq!(field, "jobs[0].json.schedule.end");
    assert!(message.contains("give it an end"), "{message}");
    let bad_start = r#"{ "start": "tomorrow", "recurrence": "daily" }"#;
    let (field, message) = error(&scheduled(bad_start, ""));
    assert!(field.starts_with("jobs[0].json"), "{field}: {message}");
}

// ----- AWS schedulingConfig -----

fn aws(scheduling: &str, expect: &str) -> Report {
    report(&format!(
        r#"
[[jobs]]
job = {{ jobId = "aws-1", document = "{{}}", jobExecutionsRolloutConfig = {{ maximumPerMinute = 10 }}, schedulingConfig = {scheduling} }}
{expect}
"#
    ))
}

#[test]
fn an_aws_job_starts_at_its_start_time_and_ends_with_its_end_behaviour() {
    // Start at 01:00Z, end at 01:30Z with CANCEL... but 40 devices at 10 per minute take 4
    // minutes, so the job completes first and the end changes nothing.
    let r = aws(
        r#"{ startTime = "2026-03-01T01:00", endTime = "2026-03-01T01:30", endBehavior = "CANCEL" }"#,
        "[[expect]]\njob = \"aws-1\"\nstatus = \"complete\"\n",
    );
    assert!(r.passed, "{}", text::render(&r));
    let job = &r.result.jobs[0];
    assert_eq!(job.submitted_ms, 3_600_000);
    assert_eq!(job.started_ms, Some(3_600_000));
    // The run had settled before its end time: nothing to do.
    assert_eq!(job.end_behavior, None);
    assert!(r.result.end_ms < 5_400_000);
}

#[test]
fn an_end_time_in_the_middle_of_the_rollout_cancels_the_rest() {
    let r = aws(
        r#"{ startTime = "2026-03-01T01:00:00Z", endTime = "2026-03-01T01:30:00Z", endBehavior = "CANCEL" }"#,
        "",
    );
    let job = &r.result.jobs[0];
    assert_eq!(job.status, "complete");
    // 1 per minute would take 40 minutes: give the job such a rate and the end cuts it.
    let r = report(
        r#"
[[jobs]]
job = { jobId = "slow", document = "{}", jobExecutionsRolloutConfig = { maximumPerMinute = 1 }, schedulingConfig = { endTime = "2026-03-01T00:30:00Z", endBehavior = "CANCEL" } }

[[expect]]
job = "slow"
status = "cancelled"
succeeded = 30
cancelled = 10
"#,
    );
    assert!(r.passed, "{}", text::render(&r));
}

#[test]
fn replications_summarise_each_scheduled_job_over_its_runs() {
    use fleet_scenario::{run_replications, ReplicationOptions};
    // Runs of 36 h (4 batches of 9 h) skip every other night, in every replication; with
    // lognormal latency the durations vary from run to run.
    let body = FLEET.replace(
        r#"latency = { type = "fixed", ms = 1000 }"#,
        r#"latency = { type = "lognormal", median_ms = 32400000, sigma = 0.01 }"#,
    );
    let s =
        Scenario::from_str(&format!("{body}\n{}", scheduled(DAILY_5, "")), Format::Toml).unwrap();
    let options = ReplicationOptions {
        seed: None,
        replications: 6,
        threads: 2,
    };
    let report = run_replications(&s, options, &mut |_, _| {}).unwrap();
    let summary = &report.schedules[0];
    assert_eq!(summary.id, "nightly");
    assert_eq!((summary.runs.min, summary.runs.max), (3.0, 3.0));
    assert_eq!((summary.skipped.min, summary.skipped.max), (2.0, 2.0));
    assert_eq!(summary.skipped_probability, 1.0);
    let d = summary.run_duration_s.unwrap();
    // Each run waits for its slowest device in each of 4 batches: a little over 36 h.
    assert!(d.min > 4.0 * 32_400.0 && d.max < 4.0 * 34_000.0, "{d:?}");
    assert!(d.min < d.max);
    assert_eq!(summary.run_threshold_tripped_probability, 0.0);
    // The same numbers whatever the thread count.
    let one = run_replications(
        &s,
        ReplicationOptions {
            threads: 1,
            ..options
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(
        serde_json::to_value(&one.schedules).unwrap(),
        serde_json::to_value(&report.schedules).unwrap()
    );
}
