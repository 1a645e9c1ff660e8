//! IoT Central jobs with several `data` entries and device manifest migrations (docs/semantics.md
//! section 18), and the `yearly` recurrence, over HTTP.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

/// 20 devices of one template with two writable properties; the `flaky` ones reject every
/// operation.
const TWO_PROPERTIES: &str = r#"
name = "two properties"
seed = 5
[fleet]
devices = 20
id_pattern = "dev-{:02}"
templates = [{ template = "dtmi:t;1", share = 1.0 }]
tags = [{ name = "ring", values = [{ value = "flaky", weight = 1 }, { value = "ok", weight = 3 }] }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }, { name = "q", schema = "string" }]
cloud_properties = [{ name = "owner", schema = "string" }]
[[groups]]
id = "all"
selector = { template = "dtmi:t;1" }
[[behaviour.rules]]
latency = { type = "uniform", min_ms = 200, max_ms = 3000 }
[[behaviour.rules]]
selector = "tags.ring = 'flaky'"
reject_probability = 1.0
"#;

fn two_properties_job() -> Value {
    json!({
        "group": "all",
        "data": [
            {"type": "property", "target": "dtmi:t;1", "path": "p", "value": 7},
            {"type": "PropertyJobData", "target": "dtmi:t;1", "path": "q", "value": "on"}
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_two_properties_writes_both_and_a_device_succeeds_only_with_both() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), TWO_PROPERTIES))
            .time_scale(1000.0),
    )
    .await;
    let r = s
        .put(&format!("/api/jobs/both?{CV}"), two_properties_job())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let job = s
        .wait_for(&format!("/api/jobs/both?{CV}"), "status", &["complete"])
        .await;
    let devices = collect_central(&s, &format!("/api/jobs/both/devices?{CV}")).await;
    assert_eq!(devices.len(), 20);
    let mut completed = 0;
    for d in &devices {
        let id = d["id"].as_str().unwrap();
        let twin = s.get(&format!("/twins/{id}?{HV}")).await.body;
        let flaky = twin["tags"]["ring"] == "flaky";
        // Both desired values are written at dispatch, whatever the outcome.
        assert_eq!(twin["properties"]["desired"]["p"], 7, "{twin}");
        assert_eq!(twin["properties"]["desired"]["q"], "on", "{twin}");
        assert_eq!(twin["properties"]["desired"]["$version"], 3, "{twin}");
        if flaky {
            assert_eq!(d["status"], "failed", "{id} rejects every operation");
            assert_eq!(twin["properties"]["reported"].get("p"), None);
        } else {
            completed += 1;
            assert_eq!(d["status"], "completed", "{id}");
            assert_eq!(twin["properties"]["reported"]["p"], 7);
            assert_eq!(twin["properties"]["reported"]["q"], "on");
        }
    }
    assert_eq!(job["progress"]["completed"], completed);
    assert!(
        (1..20).contains(&completed),
        "{completed}: the scenario has both rings"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_of_more_than_32_entries_or_of_two_types_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(config().scenario(scenario(dir.path(), TWO_PROPERTIES))).await;
    let entry = json!({"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1});
    let many: Vec<Value> = (0..33)
        .map(|i| json!({"type": "property", "target": "dtmi:t;1", "path": format!("p{i}"), "value": 1}))
        .collect();
    let r = s
        .put(
            &format!("/api/jobs/many?{CV}"),
            json!({"group": "all", "data": many}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("data") && message.contains("33 entries"),
        "{message}"
    );
    // Two entries for one property: the model refuses the second.
    let twice = json!({"group": "all", "data": [entry, entry]});
    let r = s.put(&format!("/api/jobs/twice?{CV}"), twice).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("data[1].path"), "{message}");
    let mixed = json!({"group": "all", "data": [
        entry,
        {"type": "cloudProperty", "target": "dtmi:t;1", "path": "owner", "value": "x"}
    ]});
    let r = s.put(&format!("/api/jobs/mixed?{CV}"), mixed).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(s.get(&format!("/api/jobs/many?{CV}")).await.status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_migration_is_served_by_the_preview_versions_only() {
    let s = start(config().time_scale(1000.0)).await;
    let job = json!({"group": "all-thermostats", "data": [
        {"type": "DeviceManifestMigrationJobData", "manifest": "edge-1"}
    ]});
    let r = s.put(&format!("/api/jobs/edge?{CV}"), job.clone()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("data[0].type") && message.contains("2022-07-31"),
        "{message}"
    );
    let preview = "api-version=2022-10-31-preview";
    let r = s.put(&format!("/api/jobs/edge?{preview}"), job).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = s
        .wait_for(
            &format!("/api/jobs/edge?{preview}"),
            "status",
            &["complete"],
        )
        .await;
    // No device round trip: every device succeeds.
    assert_eq!(done["progress"]["completed"], 50);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yearly_scheduled_job_is_accepted_as_the_how_to_writes_it() {
    let s = start(config()).await;
    let body = json!({
        "displayName": "yearly", "group": "all-thermostats",
        "data": [{"type": "property", "target": "dtmi:contoso:thermostat;1",
                  "path": "targetTemperature", "value": 20}],
        "schedule": {"start": "2030-02-01T00:00:00Z", "recurrence": "yearly",
                     "end": {"type": "occurrences", "occurrences": 3}}
    });
    let v = "api-version=2022-07-31";
    let r = s.put(&format!("/api/scheduledJobs/y?{v}"), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["schedule"]["recurrence"], "yearly");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_several_entries_continues_after_a_restart_with_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = (
        scenario(dir.path(), TWO_PROPERTIES),
        dir.path().join("data"),
    );
    let s = start(config().scenario(&path).data_dir(&data).time_scale(5.0)).await;
    let r = s
        .put(&format!("/api/jobs/both?{CV}"), two_properties_job())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(150)).await;
    s.kill().await;
    let s = start(config().scenario(&path).data_dir(&data).time_scale(1000.0)).await;
    s.wait_for(&format!("/api/jobs/both?{CV}"), "status", &["complete"])
        .await;
    for d in collect_central(&s, &format!("/api/jobs/both/devices?{CV}")).await {
        let id = d["id"].as_str().unwrap();
        let twin = s.get(&format!("/twins/{id}?{HV}")).await.body;
        // One write of each entry, restored from the log, never two.
        assert_eq!(twin["properties"]["desired"]["$version"], 3, "{id}: {twin}");
        assert_eq!(twin["properties"]["desired"]["q"], "on", "{id}: {twin}");
        let reported = if d["status"] == "completed" { 3 } else { 1 };
        assert_eq!(
            twin["properties"]["reported"]["$version"], reported,
            "{id}: {twin}"
        );
    }
    s.stop().await;
}
