//! Durability: a server killed in the middle of a job continues it after a restart, with no
//! device result lost or run twice; documents survive; job history expires.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_continues_the_job_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Batches of 10 devices, about 2-4 virtual seconds each: a few hundred ms of wall time.
    let s = start(config().data_dir(&data).time_scale(10.0)).await;
    let r = s
        .put(
            &format!("/api/jobs/rollout?{CV}"),
            property_job("all-thermostats", json!(19.5)),
        )
        .await;
    assert_eq!(r.status, 200);
    // Wait until some devices are done, but not all.
    let mut before = BTreeMap::new();
    for _ in 0..2000 {
        let job = s.get(&format!("/api/jobs/rollout?{CV}")).await.body;
        let done = job["progress"]["completed"].as_u64().unwrap_or(0)
            + job["progress"]["failed"].as_u64().unwrap_or(0);
        if done >= 10 {
            assert!(done < 50, "the job finished before the kill: {job}");
            for d in collect_central(&s, &format!("/api/jobs/rollout/devices?{CV}")).await {
                before.insert(
                    d["id"].as_str().unwrap().to_string(),
                    d["status"].as_str().unwrap().to_string(),
                );
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!before.is_empty(), "the job never made progress");
    s.kill().await;

    // Start again on the same data, faster.
    let s = start(config().data_dir(&data).time_scale(1000.0)).await;
    let job = s
        .wait_for(&format!("/api/jobs/rollout?{CV}"), "status", &["complete"])
        .await;
    assert_eq!(job["progress"]["total"], 50);
    let after: BTreeMap<String, String> =
        collect_central(&s, &format!("/api/jobs/rollout/devices?{CV}"))
            .await
            .into_iter()
            .map(|d| {
                (
                    d["id"].as_str().unwrap().to_string(),
                    d["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
    assert_eq!(after.len(), 50);
    for (id, status) in &before {
        if status != "pending" {
            assert_eq!(
                &after[id], status,
                "{id}: its result before the kill was lost"
            );
        }
    }
    // No device was written twice: desired $version 2 (one write); reported 2 for the
    // devices that completed, 1 for those that failed.
    for (id, status) in &after {
        assert_ne!(status, "pending", "{id} never finished");
        let twin = s.get(&format!("/twins/{id}?{HV}")).await.body;
        assert_eq!(twin["properties"]["desired"]["$version"], 2, "{id}: {twin}");
        assert_eq!(twin["properties"]["desired"]["targetTemperature"], 19.5);
        let reported = if status == "completed" { 2 } else { 1 };
        assert_eq!(
            twin["properties"]["reported"]["$version"], reported,
            "{id}: {twin}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_and_jobs_survive_a_restart_and_history_expires() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(config().data_dir(&data).time_scale(1000.0)).await;
    let g = json!({"displayName": "B44", "filter": "SELECT * FROM devices WHERE tags.building = 'b44'"});
    let etag = s.put(&format!("/api/deviceGroups/b44?{CV}"), g).await.body["etag"].clone();
    let sj = json!({"group": "b44", "data": [{"type": "command", "target": "dtmi:contoso:thermostat;1", "path": "reboot"}],
        "schedule": {"start": "2099-01-01T00:00:00Z"}});
    assert_eq!(
        s.put(&format!("/api/scheduledJobs/nightly?{CV}"), sj)
            .await
            .status,
        200
    );
    let twin = json!({"type": "scheduleUpdateTwin", "queryCondition": "tags.building = 'b44'", "updateTwin": {"tags": {"floor": 3}}});
    assert_eq!(
        s.put(&format!("/jobs/v2/floors?{HV}"), twin).await.status,
        200
    );
    let job = s
        .wait_for(&format!("/jobs/v2/floors?{HV}"), "status", &["completed"])
        .await;
    let r = s
        .put(
            &format!("/api/jobs/c1?{CV}"),
            property_job("all-thermostats", json!(18)),
        )
        .await;
    assert_eq!(r.status, 200);
    let c1 = s
        .wait_for(&format!("/api/jobs/c1?{CV}"), "status", &["complete"])
        .await;
    let c1_devices = collect_central(&s, &format!("/api/jobs/c1/devices?{CV}")).await;
    s.stop().await;

    let s = start(
        config()
            .data_dir(&data)
            .time_scale(1000.0)
            .history_ttl_ms(30_000),
    )
    .await;
    let r = s.get(&format!("/api/deviceGroups/b44?{CV}")).await;
    assert_eq!(r.body["etag"], etag);
    assert_eq!(
        s.get(&format!("/api/scheduledJobs/nightly?{CV}"))
            .await
            .status,
        200
    );
    // A settled job comes back from its stored summary; its devices from its log.
    assert_eq!(s.get(&format!("/api/jobs/c1?{CV}")).await.body, c1);
    let devices = collect_central(&s, &format!("/api/jobs/c1/devices?{CV}&maxpagesize=9")).await;
    assert_eq!(devices, c1_devices);
    let r = s
        .call(
            reqwest::Method::PUT,
            &format!("/api/jobs/c1/rerun/c1-again?{CV}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["progress"]["total"].as_u64(),
        c1["progress"]["failed"].as_u64()
    );
    let again = s.get(&format!("/jobs/v2/floors?{HV}")).await.body;
    assert_eq!(again["deviceJobStatistics"], job["deviceJobStatistics"]);
    let q = json!({"query": "SELECT * FROM devices WHERE tags.floor = 3"});
    let twins = s.post(&format!("/devices/query?{HV}"), Some(q)).await.body;
    assert_eq!(
        twins.as_array().unwrap().len() as u64,
        job["deviceJobStatistics"]["deviceCount"].as_u64().unwrap()
    );
    // 30 virtual seconds of history at 1000x: gone within a few wall seconds.
    let mut gone = false;
    for _ in 0..100 {
        if s.get(&format!("/jobs/v2/floors?{HV}")).await.status == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the job's history did not expire");
    // The job's effects stay.
    let twins = s
        .post(
            &format!("/devices/query?{HV}"),
            Some(json!({"query": "SELECT * FROM devices WHERE tags.floor = 3"})),
        )
        .await
        .body;
    assert!(!twins.as_array().unwrap().is_empty());
    s.stop().await;
    // Another scenario on the same data directory is refused.
    let other = scenario(dir.path(), FAILING);
    let e = fleet_server::Server::start(config().data_dir(&data).scenario(&other).build().unwrap())
        .await
        .err()
        .expect("another scenario on the same data is refused");
    assert_eq!(e.kind(), fleet_server::ErrorKind::Store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_is_still_stopped_after_a_crash_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = scenario(dir.path(), FAILING);
    let s = start(config().scenario(&path).data_dir(&data).time_scale(10.0)).await;
    let job = json!({"group": "all", "batch": {"type": "number", "value": 5},
        "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 3}]});
    assert_eq!(s.put(&format!("/api/jobs/j?{CV}"), job).await.status, 200);
    s.wait_for(&format!("/api/jobs/j?{CV}"), "status", &["running"])
        .await;
    assert_eq!(
        s.post(&format!("/api/jobs/j/stop?{CV}"), None).await.status,
        204
    );
    s.kill().await;

    let s = start(config().scenario(&path).data_dir(&data).time_scale(1000.0)).await;
    let job = s.get(&format!("/api/jobs/j?{CV}")).await.body;
    assert_eq!(job["status"], "stopped", "{job}");
    // The devices in flight at the stop finish; nothing new is dispatched.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let job = s.get(&format!("/api/jobs/j?{CV}")).await.body;
    let p = &job["progress"];
    let done = p["completed"].as_u64().unwrap() + p["failed"].as_u64().unwrap();
    assert!(done > 0 && done < 40, "{job}");
    assert_eq!(done % 5, 0, "whole batches only: {job}");
    assert_eq!(
        s.post(&format!("/api/jobs/j/resume?{CV}"), None)
            .await
            .status,
        204
    );
    let job = s
        .wait_for(&format!("/api/jobs/j?{CV}"), "status", &["complete"])
        .await;
    assert_eq!(job["progress"]["total"], 40);
    let q = json!({"query": "SELECT * FROM devices"});
    let twins = s
        .call(
            reqwest::Method::POST,
            &format!("/devices/query?{HV}"),
            Some(q),
            &[("x-ms-max-item-count", "100")],
        )
        .await
        .body;
    for twin in twins.as_array().unwrap() {
        assert_eq!(twin["properties"]["desired"]["$version"], 2, "{twin}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_writes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(config().data_dir(&data).time_scale(1000.0)).await;
    let r = s
        .call(
            reqwest::Method::PATCH,
            &format!("/twins/therm-03?{HV}"),
            Some(json!({"tags": {"site": "b43", "firmware": null},
                        "properties": {"desired": {"cfg": {"a": 1}, "targetTemperature": 20}}})),
            &[("if-match", "*")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .call(
            reqwest::Method::PUT,
            &format!("/twins/therm-04?{HV}"),
            Some(json!({"tags": {"only": true}, "properties": {"desired": {"x": [1, 2]}}})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let before = [
        s.get(&format!("/twins/therm-03?{HV}")).await.body,
        s.get(&format!("/twins/therm-04?{HV}")).await.body,
    ];
    assert_eq!(before[0]["properties"]["desired"]["$version"], 2);
    s.kill().await;

    let s = start(config().data_dir(&data).time_scale(1000.0)).await;
    for twin in &before {
        let id = twin["deviceId"].as_str().unwrap();
        let after = s.get(&format!("/twins/{id}?{HV}")).await.body;
        assert_eq!(after["tags"], twin["tags"], "{id}");
        assert_eq!(
            after["properties"]["desired"], twin["properties"]["desired"],
            "{id}"
        );
        assert_eq!(after["etag"], twin["etag"], "{id}");
    }
    assert_eq!(before[1]["tags"], json!({"only": true}));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_property_write_is_acknowledged_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let scn = scenario(dir.path(), crate::devices::PROPS);
    // The devices answer in 3 virtual seconds: 300 ms of wall time at 10x.
    let s = start(config().scenario(&scn).data_dir(&data).time_scale(10.0)).await;
    let list = s
        .get(&format!(
            "/api/devices?{CV}&filter=template%20eq%20%27dtmi:a;1%27"
        ))
        .await;
    let id = list.body["value"][0]["id"].as_str().unwrap().to_string();
    let r = s
        .put(
            &format!("/api/devices/{id}/properties?{CV}"),
            json!({"p": 5, "owner": "Fabrikam"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let twin = s.get(&format!("/twins/{id}?{HV}")).await.body;
    assert!(twin["properties"]["reported"].get("p").is_none(), "{twin}");
    s.kill().await;

    let s = start(config().scenario(&scn).data_dir(&data).time_scale(10.0)).await;
    let props = s
        .get(&format!("/api/devices/{id}/properties?{CV}"))
        .await
        .body;
    assert_eq!(
        props["owner"], "Fabrikam",
        "the cloud property survived: {props}"
    );
    assert_eq!(props["$metadata"]["p"]["desiredValue"], 5);
    let mut twin = Value::Null;
    for _ in 0..400 {
        twin = s.get(&format!("/twins/{id}?{HV}")).await.body;
        if twin["properties"]["reported"]["p"] == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        twin["properties"]["reported"]["p"], 5,
        "never acknowledged: {twin}"
    );
    // One desired write, one acknowledgement: nothing was done twice.
    assert_eq!(twin["properties"]["desired"]["$version"], 2);
    assert_eq!(twin["properties"]["reported"]["$version"], 2);
    s.kill().await;
    // And once acknowledged, it is not acknowledged again after another restart.
    let s = start(config().scenario(&scn).data_dir(&data).time_scale(10.0)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let twin = s.get(&format!("/twins/{id}?{HV}")).await.body;
    assert_eq!(twin["properties"]["reported"]["$version"], 2, "{twin}");
    s.stop().await;
}
