//! IoT Central jobs of several `data` entries and device manifest migrations in scenarios
//! (docs/semantics.md section 18).

use fleet_scenario::{run, Format, RunOptions, Scenario};

const FLEET: &str = r#"
seed = 9

[fleet]
devices = 30
id_pattern = "dev-{:03}"
templates = [{ template = "dtmi:x:y;1", share = 1.0 }]

[[templates]]
id = "dtmi:x:y;1"
properties = [{ name = "p", schema = "integer" }, { name = "q", schema = "integer" }]
commands = [{ name = "reboot" }]

[[groups]]
id = "all"
selector = { template = "dtmi:x:y;1" }

[[behaviour.rules]]
latency = { type = "fixed", ms = 1000 }
"#;

fn scenario(jobs: &str) -> Result<Scenario, fleet_scenario::Error> {
    Scenario::from_str(&format!("{FLEET}\n{jobs}"), Format::Toml)
}

#[test]
fn a_central_job_of_two_entries_runs_both_on_every_device() {
    let s = scenario(
        r#"
[[jobs]]
json = '''
{ "id": "two", "group": "all",
  "data": [ { "type": "PropertyJobData", "target": "dtmi:x:y;1", "path": "p", "value": 1 },
            { "type": "PropertyJobData", "target": "dtmi:x:y;1", "path": "q", "value": 2 } ] }
'''

[[expect]]
job = "two"
status = "complete"
succeeded = 30
"#,
    )
    .unwrap();
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    assert!(r.passed);
    let job = &r.result.jobs[0];
    assert_eq!(job.operation, "multiple");
    // Both answers after 1 s each, sent together: the devices finish at 1 s, not 2 s.
    assert_eq!(job.finished_ms, Some(1000));
    for d in 0..30 {
        assert_eq!(
            r.result.fleet().reported(d, "p"),
            Some(&serde_json::json!(1))
        );
        assert_eq!(
            r.result.fleet().reported(d, "q"),
            Some(&serde_json::json!(2))
        );
    }
}

#[test]
fn a_manifest_migration_runs_and_one_failing_command_fails_every_device() {
    let s = scenario(
        r#"
[[jobs]]
json = '''
{ "id": "edge", "group": "all",
  "data": [ { "type": "deviceManifestMigration", "manifest": "edge-manifest-2" } ] }
'''

[[jobs]]
json = '''
{ "id": "native", "group": "all",
  "data": [ { "type": "command", "target": "dtmi:x:y;1", "path": "reboot" },
            { "type": "command", "target": "dtmi:x:y;1", "path": "missing" } ] }
'''

[[expect]]
job = "native"
failed = 30
"#,
    )
    .unwrap();
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    assert!(r.passed);
    assert_eq!(r.result.jobs[0].operation, "manifest_migration");
    assert_eq!(r.result.jobs[0].counts.succeeded, 30);
    assert_eq!(
        r.result.fleet().deployment_manifest(7),
        Some("edge-manifest-2")
    );
    // The second command is not in the template: every device fails with its reason.
    let reasons: Vec<_> = r
        .result
        .device_rows(1)
        .map(|row| row.reason.map(|x| x.as_str()))
        .collect();
    assert!(
        reasons.iter().all(|x| *x == Some("not_in_template")),
        "{reasons:?}"
    );
}

#[test]
fn errors_name_the_entry() {
    let e = scenario(
        r#"
[[jobs]]
json = '''
{ "id": "bad", "group": "all",
  "data": [ { "type": "command", "target": "dtmi:x:y;1", "path": "reboot" },
            { "type": "command", "target": "dtmi:nope;1", "path": "reboot" } ] }
'''
"#,
    )
    .expect_err("an unknown template in entry 1");
    assert!(e.to_string().contains("data[1].target"), "{e}");
}
