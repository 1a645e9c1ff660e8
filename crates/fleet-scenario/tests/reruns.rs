//! Reruns in scenarios (semantics rule 6): the `rerun` command of a job entry, expectations on
//! the rerun's run, the reports, and errors that name the field.

use std::collections::BTreeSet;

use fleet_scenario::report::{csv, html, text, Report};
use fleet_scenario::{run, run_replications, Format, ReplicationOptions, RunOptions, Scenario};
use fleet_sim::SimResult;

/// 1,000 thermostats, a quarter of them on firmware 1.2; every operation takes a second and
/// fails with probability `{p}` (replaced by the tests).
const FLEET: &str = r#"
seed = 11
clock_start = "2026-03-01T00:00:00Z"

[fleet]
devices = 1_000
id_pattern = "therm-{:04}"
templates = [{ template = "dtmi:x:thermostat;1", share = 1.0 }]
tags = [{ name = "fw", values = [{ value = "1.2", weight = 1 }, { value = "1.3", weight = 3 }] }]

[[templates]]
id = "dtmi:x:thermostat;1"
properties = [{ name = "temp", schema = "double" }]

[[groups]]
id = "all"

[[behaviour.rules]]
latency = { type = "fixed", ms = 1000 }
failure_probability = 0.3
"#;

/// An IoT Central property job `set` over every device in batches of 100 (10 batches of a
/// second each), with `commands` and then `extra` lines.
fn job(commands: &str, extra: &str) -> String {
    format!(
        r#"
[[jobs]]
commands = {commands}
json = '''
{{
  "id": "set",
  "group": "all",
  "batch": {{ "type": "number", "value": 100 }},
  "data": [{{ "type": "PropertyJobData", "target": "dtmi:x:thermostat;1", "path": "temp", "value": 21.5 }}]
}}
'''
{extra}
"#
    )
}

fn scenario(body: &str) -> Result<Scenario, fleet_scenario::Error> {
    Scenario::from_str(&format!("{FLEET}\n{body}"), Format::Toml)
}

fn report(body: &str) -> Report {
    let s = scenario(body).unwrap();
    run(&s, RunOptions::default(), &mut |_, _| {}).unwrap()
}

/// The field path and the message of the error that refuses `body`.
fn error(body: &str) -> (String, String) {
    let e = scenario(body).expect_err("must be refused");
    (e.field().unwrap_or("").to_string(), e.to_string())
}

/// The ids of job `id`'s targets whose final state passes `state`.
fn ids(
    r: &SimResult,
    id: &str,
    state: impl Fn(fleet_core::DeviceState) -> bool,
) -> BTreeSet<String> {
    r.job(id)
        .unwrap()
        .device_rows(r.fleet())
        .filter(|row| state(row.state))
        .map(|row| row.id.to_string())
        .collect()
}

fn failed(s: fleet_core::DeviceState) -> bool {
    s.is_failure()
}

#[test]
fn a_rerun_on_settle_runs_exactly_the_failed_devices_and_most_of_them_succeed() {
    let r = report(&job(
        r#"[{ command = "rerun", id = "set-again" }]"#,
        r#"
[[expect]]
job = "set"
status = "complete"
failed_percent = { min = 25, max = 35 }

[[expect]]
job = "set-again"
status = "complete"
failed_percent = { min = 20, max = 40 }
"#,
    ));
    let out = text::render(&r);
    assert!(r.passed, "{out}");
    // The rerun's two checks were made on the rerun, not skipped.
    let on_rerun: Vec<_> = r
        .expectations
        .iter()
        .filter(|c| c.job == "set-again")
        .collect();
    assert_eq!(on_rerun.len(), 2, "{on_rerun:?}");
    assert!(on_rerun.iter().all(|c| c.actual != "no such run"));

    let res = &r.result;
    let (source, rerun) = (res.job("set").unwrap(), res.job("set-again").unwrap());
    assert!(
        (250..=350).contains(&source.counts.failed),
        "{}",
        source.counts.failed
    );
    // Exactly the failed devices, and about 30 % of them fail again (fresh fates).
    assert_eq!(rerun.counts.total, source.counts.failed);
    assert_eq!(ids(res, "set-again", |_| true), ids(res, "set", failed));
    let again = rerun.counts.failed as f64 / rerun.counts.total as f64;
    assert!((0.2..=0.4).contains(&again), "{again}");
    assert_eq!(
        rerun.counts.succeeded + rerun.counts.failed,
        rerun.counts.total
    );
    // On settle: submitted the moment the job settled; same batching (100 per batch).
    assert_eq!(rerun.rerun_of.as_deref(), Some("set"));
    assert_eq!(Some(rerun.submitted_ms), source.finished_ms);
    assert_eq!(rerun.started_ms, Some(rerun.submitted_ms));
    assert_eq!(rerun.batches[0].size, 100);
    assert_eq!(
        rerun.batches.len(),
        (source.counts.failed as usize).div_ceil(100)
    );

    // Text: the rerun names its job, the job's command row names the rerun.
    let t = duration_text(source.finished_ms.unwrap());
    assert!(out.contains("\njob set (property): complete\n"), "{out}");
    assert!(
        out.contains("\njob set-again, rerun of set (property): complete\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("  command rerun at {t}: created set-again\n")),
        "{out}"
    );
    // JSON: `rerun_of` on the rerun only; the command row without an error.
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let jobs = json["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(jobs[0].get("rerun_of").is_none());
    assert_eq!(jobs[1]["id"], "set-again");
    assert_eq!(jobs[1]["rerun_of"], "set");
    assert_eq!(jobs[0]["commands"][0]["command"], "rerun");
    assert!(jobs[0]["commands"][0].get("error").is_none());
    // HTML: the rerun's section names its job.
    let page = html::render(&r);
    assert!(
        page.contains("<h2>Job set-again, rerun of set (property): complete</h2>"),
        "{page}"
    );
}

/// The text report's words for a virtual time (`10.00s`).
fn duration_text(ms: i64) -> String {
    format!("{:.2}s", ms as f64 / 1000.0)
}

#[test]
fn expectations_on_a_rerun_check_the_rerun_and_can_fail() {
    // The same scenario with a bound the rerun cannot meet: about 30 % of it fails again.
    let r = report(&job(
        r#"[{ command = "rerun", id = "set-again" }]"#,
        r#"
[[expect]]
job = "set-again"
failed_percent = { max = 5 }
succeeded = 0
"#,
    ));
    assert!(!r.passed);
    let rerun = r.result.job("set-again").unwrap();
    let checks: Vec<_> = r.failures().collect();
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(checks.iter().all(|c| c.job == "set-again"));
    let succeeded = checks.iter().find(|c| c.what == "succeeded").unwrap();
    assert_eq!(succeeded.actual, rerun.counts.succeeded.to_string());
    assert!(rerun.counts.succeeded > 100, "{}", rerun.counts.succeeded);
    assert!(checks.iter().any(|c| c.what == "failed_percent"));
}

#[test]
fn a_deterministic_fault_fails_its_devices_again_in_the_rerun() {
    let body = FLEET.replace("failure_probability = 0.3", "failure_probability = 0.1")
        + r#"
[[behaviour.rules]]
name = "firmware 1.2 always fails"
selector = "tags.fw = '1.2'"
failure_probability = 1.0
"#;
    let s = Scenario::from_str(
        &format!(
            "{body}\n{}",
            job(
                r#"[{ command = "rerun", id = "set-again" }]"#,
                r#"
[[expect]]
job = "set-again"
status = "complete"
"#
            )
        ),
        Format::Toml,
    )
    .unwrap();
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    assert!(r.passed, "{}", text::render(&r));
    let res = &r.result;
    let fleet = res.fleet();
    let cohort: BTreeSet<String> = (0..fleet.len())
        .filter(|&i| fleet.tag(i, "fw") == Some(&serde_json::json!("1.2")))
        .map(|i| fleet.id(i).to_string())
        .collect();
    assert!(cohort.len() > 150, "{}", cohort.len());
    let first = ids(res, "set", failed);
    let again = ids(res, "set-again", failed);
    // The whole cohort failed both times.
    assert!(cohort.is_subset(&first));
    assert!(cohort.is_subset(&again));
    // The others failed at random (about 10 %): about 10 % of those fail again.
    let random = first.len() - cohort.len();
    let random_again = again.len() - cohort.len();
    assert!(random > 40, "{random}");
    assert!(random_again * 4 < random, "{random_again} of {random}");
}

#[test]
fn a_rerun_before_the_job_settled_is_refused_and_reported() {
    // The job takes 10 s (10 batches of a second); the rerun comes at 2.5 s.
    let r = report(&job(
        r#"[{ command = "rerun", id = "too-early", at_s = 2.5 }]"#,
        r#"
[[expect]]
job = "set"
status = "complete"

[[expect]]
job = "too-early"
status = "complete"
"#,
    ));
    let out = text::render(&r);
    assert!(!r.passed, "{out}");
    assert_eq!(r.result.jobs.len(), 1, "no rerun was created");
    let row = &r.result.jobs[0].commands[0];
    assert_eq!((row.at_ms, row.command), (2_500, "rerun"));
    let why = row.error.as_deref().expect("refused");
    // The job itself is untouched and its expectation holds; the rerun's fails.
    let failures: Vec<_> = r.failures().collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].job, "too-early");
    assert_eq!(failures[0].actual, "no such run");
    assert!(
        out.contains(&format!("  command rerun at 2.50s: refused ({why})\n")),
        "{out}"
    );
    assert!(
        out.contains("FAIL too-early status: expected complete, got no such run"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["jobs"][0]["commands"][0]["error"], why);
}

#[test]
fn a_rerun_of_a_job_that_never_settles_never_comes() {
    // Stopped at 2.5 s and never resumed: the run never settles, so neither does the rerun come.
    let r = report(&job(
        r#"[{ command = "stop", at_s = 2.5 }, { command = "rerun", id = "after" }]"#,
        r#"
[[expect]]
job = "after"
failed = { min = 0 }
"#,
    ));
    assert!(!r.passed);
    assert_eq!(r.result.jobs.len(), 1);
    let source = &r.result.jobs[0];
    assert_eq!(source.status, "stopped");
    let rows: Vec<_> = source.commands.iter().map(|c| c.command).collect();
    assert_eq!(rows, ["stop", "rerun"]);
    assert!(source.commands[0].error.is_none());
    assert!(
        source.commands[1]
            .error
            .as_deref()
            .unwrap()
            .contains("never came"),
        "{:?}",
        source.commands[1]
    );
    assert_eq!(r.expectations[0].actual, "no such run");
    let out = text::render(&r);
    assert!(out.contains("  command stop at 2.50s: accepted\n"), "{out}");
    assert!(out.contains("  command rerun at "), "{out}");
}

#[test]
fn a_rerun_at_a_time_after_the_job_settled_starts_then() {
    let r = report(&job(
        r#"[{ command = "rerun", id = "next-day", at_s = 86_400 }]"#,
        "",
    ));
    let (source, rerun) = (
        r.result.job("set").unwrap(),
        r.result.job("next-day").unwrap(),
    );
    assert!(source.finished_ms.unwrap() < 86_400_000);
    assert_eq!(rerun.started_ms, Some(86_400_000));
    assert_eq!(rerun.counts.total, source.counts.failed);
    assert_eq!(rerun.status, "complete");
}

#[test]
fn reruns_of_an_aws_job_report_in_aws_words() {
    let r = report(
        r#"
[[jobs]]
commands = [{ command = "rerun", id = "fw-again" }]
job = { jobId = "fw", document = "{}" }
"#,
    );
    let mut out = Vec::new();
    csv::write(&r, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    let rerun: Vec<&str> = out.lines().filter(|l| l.starts_with("fw-again,")).collect();
    let failed = r.result.job("fw").unwrap().counts.failed as usize;
    assert!(failed > 200, "{failed}");
    assert_eq!(rerun.len(), failed);
    assert!(
        rerun
            .iter()
            .all(|l| l.contains(",SUCCEEDED,") || l.contains(",FAILED,")),
        "{out}"
    );
}

#[test]
fn replications_summarise_a_rerun_and_count_the_runs_without_one() {
    let body = FLEET.replace("devices = 1_000", "devices = 200");
    let scenario = |commands: &str| {
        Scenario::from_str(&format!("{body}\n{}", job(commands, "")), Format::Toml).unwrap()
    };
    let options = ReplicationOptions {
        seed: None,
        replications: 3,
        threads: 2,
    };
    let on_settle = scenario(r#"[{ command = "rerun", id = "again" }]"#);
    let r = run_replications(&on_settle, options, &mut |_, _| {}).unwrap();
    assert_eq!(r.jobs.len(), 2);
    assert_eq!(r.jobs[1].id, "again");
    assert_eq!(r.jobs[1].rerun_of.as_deref(), Some("set"));
    assert_eq!(r.jobs[1].statuses.get("complete"), Some(&3));
    let failed = r.jobs[1].failed_percent.unwrap();
    assert!(failed.min > 10.0 && failed.max < 50.0, "{failed:?}");

    let early = scenario(r#"[{ command = "rerun", id = "again", at_s = 1 }]"#);
    let r = run_replications(&early, options, &mut |_, _| {}).unwrap();
    assert_eq!(r.jobs[1].statuses.get("not_created"), Some(&3));
    assert_eq!(r.jobs[1].statuses.len(), 1);
    assert_eq!(r.jobs[1].failed_percent, None);
}

#[test]
fn a_rerun_needs_an_id_and_other_commands_need_a_time() {
    let (field, message) = error(&job(r#"[{ command = "rerun" }]"#, ""));
    assert_eq!(field, "jobs[0].commands[0].id");
    assert!(message.contains("a rerun needs `id`"), "{message}");

    let (field, message) = error(&job(
        r#"[{ command = "rerun", id = "a" }, { command = "stop" }]"#,
        "",
    ));
    assert_eq!(field, "jobs[0].commands[1].at_s");
    assert!(message.contains("\"stop\" needs `at_s`"), "{message}");

    let (field, message) = error(&job(r#"[{ command = "stop", at_s = 5, id = "x" }]"#, ""));
    assert_eq!(field, "jobs[0].commands[0].id");
    assert!(message.contains("only a rerun has an `id`"), "{message}");

    let (field, message) = error(&job(r#"[{ command = "rerun", id = "a", at_s = -1 }]"#, ""));
    assert_eq!(field, "jobs[0].commands[0].at_s");
    assert!(message.contains("not a time"), "{message}");

    let (field, message) = error(&job(r#"[{ command = "rerun", id = "" }]"#, ""));
    assert_eq!(field, "jobs[0].commands[0].id");
    assert!(message.contains("non-empty id"), "{message}");

    let (field, message) = error(&job(r#"[{ command = "retry", at_s = 1 }]"#, ""));
    assert_eq!(field, "jobs[0].commands[0].command");
    assert!(message.contains("trigger_next_batch, rerun"), "{message}");
}

#[test]
fn a_rerun_id_is_unique_among_jobs_scheduled_jobs_and_reruns() {
    let other = |id: &str| {
        format!(
            r#"
[[jobs]]
id = "{id}"
json = '''{{ "group": "all", "data": [{{ "type": "property", "target": "dtmi:x:thermostat;1", "path": "temp", "value": 1 }}] }}'''
"#
        )
    };
    // The job's own id.
    let (field, message) = error(&job(r#"[{ command = "rerun", id = "set" }]"#, ""));
    assert_eq!(field, "jobs[0].commands[0].id");
    assert!(message.contains("already the id of a job"), "{message}");
    // A job further down the file.
    let (field, message) = error(&job(
        r#"[{ command = "rerun", id = "later" }]"#,
        &other("later"),
    ));
    assert_eq!(field, "jobs[0].commands[0].id");
    assert!(message.contains("already the id of a job"), "{message}");
    // Another rerun, of the same job or of another.
    let (field, message) = error(&job(
        r#"[{ command = "rerun", id = "r" }, { command = "rerun", id = "r", at_s = 60 }]"#,
        "",
    ));
    assert_eq!(field, "jobs[0].commands[1].id");
    assert!(message.contains("used twice"), "{message}");
    let (field, _) = error(&format!(
        "{}{}commands = [{{ command = \"rerun\", id = \"r\" }}]\n",
        job(r#"[{ command = "rerun", id = "r" }]"#, ""),
        other("second")
    ));
    assert_eq!(field, "jobs[1].commands[0].id");
    // A scheduled job, and the ids of its runs.
    let nightly = r#"
[[jobs]]
json = '''
{ "id": "nightly", "group": "all", "enabled": true,
  "data": [{ "type": "property", "target": "dtmi:x:thermostat;1", "path": "temp", "value": 1 }],
  "schedule": { "start": "2026-03-01T02:00:00Z" } }
'''
"#;
    let (field, message) = error(&job(r#"[{ command = "rerun", id = "nightly" }]"#, nightly));
    assert_eq!(field, "jobs[0].commands[0].id");
    assert!(message.contains("id of a scheduled job"), "{message}");
    let (field, message) = error(&job(
        r#"[{ command = "rerun", id = "nightly-1" }]"#,
        nightly,
    ));
    assert_eq!(field, "jobs[0].commands[0].id");
    assert!(message.contains("a run of scheduled job"), "{message}");
    // Not a clash: "nightly-x" is no run's id.
    assert!(scenario(&job(
        r#"[{ command = "rerun", id = "nightly-x" }]"#,
        nightly
    ))
    .is_ok());
}

#[test]
fn a_scheduled_job_takes_no_rerun() {
    let (field, message) = error(
        r#"
[[jobs]]
commands = [{ command = "rerun", id = "again" }]
json = '''
{ "id": "nightly", "group": "all", "enabled": true,
  "data": [{ "type": "property", "target": "dtmi:x:thermostat;1", "path": "temp", "value": 1 }],
  "schedule": { "start": "2026-03-01T02:00:00Z" } }
'''
"#,
    );
    assert_eq!(field, "jobs[0].commands");
    assert!(message.contains("take no commands"), "{message}");
}

#[test]
fn expectations_may_name_a_rerun_but_not_count_its_runs() {
    let s = scenario(&job(
        r#"[{ command = "rerun", id = "again" }]"#,
        "[[expect]]\njob = \"again\"\nstatus = \"complete\"\n",
    ))
    .unwrap();
    assert_eq!(s.reruns.len(), 1);
    assert_eq!(
        (
            s.reruns[0].job.as_str(),
            s.reruns[0].id.as_str(),
            s.reruns[0].at_ms
        ),
        ("set", "again", None)
    );
    let (field, _) = error(&job(
        r#"[{ command = "rerun", id = "again" }]"#,
        "[[expect]]\njob = \"agian\"\nstatus = \"complete\"\n",
    ));
    assert_eq!(field, "expect[0].job");
    let (field, message) = error(&job(
        r#"[{ command = "rerun", id = "again" }]"#,
        "[[expect]]\njob = \"again\"\nruns = 1\n",
    ));
    assert_eq!(field, "expect[0].runs");
    assert!(message.contains("\"again\" is not one"), "{message}");
}
