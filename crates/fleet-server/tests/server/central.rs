//! IoT Central: jobs, device groups, scheduled jobs, paging, etags.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_to_completion_and_its_effects_are_visible() {
    let s = start(config().time_scale(2000.0)).await;
    let r = s
        .put(
            &format!("/api/jobs/job-1?{CV}"),
            property_job("all-thermostats", json!(21.5)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["id"], "job-1");
    let job = s
        .wait_for(&format!("/api/jobs/job-1?{CV}"), "status", &["complete"])
        .await;
    let p = &job["progress"];
    assert_eq!(p["total"], 50);
    assert_eq!(
        p["completed"].as_u64().unwrap() + p["failed"].as_u64().unwrap(),
        50
    );
    assert!(job["start"].is_string() && job["end"].is_string());
    // The job's devices, 7 per page, following nextLink.
    let devices = collect_central(&s, &format!("/api/jobs/job-1/devices?{CV}&maxpagesize=7")).await;
    let ids: BTreeSet<&str> = devices.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 50);
    let completed: Vec<&Value> = devices
        .iter()
        .filter(|d| d["status"] == "completed")
        .collect();
    assert_eq!(completed.len() as u64, p["completed"].as_u64().unwrap());
    // Effects: a device that completed reports the value in its twin.
    let id = completed[0]["id"].as_str().unwrap();
    let twin = s.get(&format!("/twins/{id}?{HV}")).await;
    assert_eq!(twin.status, 200);
    assert_eq!(
        twin.body["properties"]["reported"]["targetTemperature"],
        21.5
    );
    assert_eq!(
        twin.body["properties"]["desired"]["targetTemperature"],
        21.5
    );
    // The preview api-version serves the same job.
    let r = s
        .get("/api/jobs/job-1?api-version=2022-10-31-preview")
        .await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_resume_and_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), FAILING);
    // Batches of 5 devices, each batch 1 virtual second: 8 s of virtual time, 0.8 s of wall.
    let s = start(config().scenario(&path).time_scale(10.0)).await;
    let job = json!({
        "group": "all", "batch": {"type": "number", "value": 5},
        "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 7}]
    });
    assert_eq!(s.put(&format!("/api/jobs/j?{CV}"), job).await.status, 200);
    s.wait_for(&format!("/api/jobs/j?{CV}"), "status", &["running"])
        .await;
    let r = s.post(&format!("/api/jobs/j/stop?{CV}"), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let stopped = s.get(&format!("/api/jobs/j?{CV}")).await.body;
    assert_eq!(stopped["status"], "stopped");
    // Resuming twice: the second is refused.
    assert_eq!(
        s.post(&format!("/api/jobs/j/resume?{CV}"), None)
            .await
            .status,
        204
    );
    let r = s.post(&format!("/api/jobs/j/resume?{CV}"), None).await;
    assert_eq!(r.status, 409);
    assert_eq!(central_code(&r), "Conflict");
    // A rerun of a running job is refused.
    let r = s
        .call(
            Method::PUT,
            &format!("/api/jobs/j/rerun/j2?{CV}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let done = s
        .wait_for(&format!("/api/jobs/j?{CV}"), "status", &["complete"])
        .await;
    let failed = done["progress"]["failed"].as_u64().unwrap();
    assert!(failed > 0, "30 % fail: {done}");
    // Stopping a finished job is refused and changes nothing.
    let r = s.post(&format!("/api/jobs/j/stop?{CV}"), None).await;
    assert_eq!(r.status, 409);
    // The rerun targets exactly the failed devices.
    let r = s
        .call(
            Method::PUT,
            &format!("/api/jobs/j/rerun/j2?{CV}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], "j2");
    let rerun = s
        .wait_for(&format!("/api/jobs/j2?{CV}"), "status", &["complete"])
        .await;
    assert_eq!(rerun["progress"]["total"].as_u64().unwrap(), failed);
    let failed_ids: BTreeSet<String> = collect_central(&s, &format!("/api/jobs/j/devices?{CV}"))
        .await
        .into_iter()
        .filter(|d| d["status"] == "failed")
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    let rerun_ids: BTreeSet<String> = collect_central(&s, &format!("/api/jobs/j2/devices?{CV}"))
        .await
        .into_iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed_ids, rerun_ids);
    // The same rerun id again: 409.
    let r = s
        .call(
            Method::PUT,
            &format!("/api/jobs/j/rerun/j2?{CV}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 409);
    // Unknown jobs: 404.
    let r = s.post(&format!("/api/jobs/nope/stop?{CV}"), None).await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (404, "NotFound")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_lists_page_with_next_links_and_ids_conflict() {
    let s = start(config().time_scale(1000.0).page_size(2)).await;
    for i in 0..5 {
        let r = s
            .put(
                &format!("/api/jobs/job-{i}?{CV}"),
                property_job("all-thermostats", json!(20 + i)),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let r = s
        .put(
            &format!("/api/jobs/job-3?{CV}"),
            property_job("all-thermostats", json!(1)),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (409, "Conflict")
    );
    let first = s.get(&format!("/api/jobs?{CV}")).await;
    assert_eq!(first.body["value"].as_array().unwrap().len(), 2);
    // A client that appends api-version again to the nextLink is served.
    let link = first.body["nextLink"].as_str().unwrap();
    let again = s.get(&format!("{link}&{CV}")).await;
    assert_eq!(again.status, 200, "{}", again.body);
    let all = collect_central(&s, &format!("/api/jobs?{CV}")).await;
    let ids: Vec<&str> = all.iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["job-0", "job-1", "job-2", "job-3", "job-4"]);
    // A job whose group does not exist fails.
    let r = s
        .put(
            &format!("/api/jobs/lost?{CV}"),
            property_job("no-such-group", json!(1)),
        )
        .await;
    assert_eq!(r.status, 200);
    s.wait_for(&format!("/api/jobs/lost?{CV}"), "status", &["failed"])
        .await;
    // A skip token that is not ours: 400.
    let r = s.get(&format!("/api/jobs?{CV}&$skiptoken=garbage")).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("$skiptoken"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_groups_crud_with_etags() {
    let s = start(config().time_scale(1000.0)).await;
    let groups = collect_central(&s, &format!("/api/deviceGroups?{CV}")).await;
    assert_eq!(groups.len(), 2);
    let g = json!({"displayName": "Building 43", "filter": "SELECT * FROM devices WHERE tags.building = \"b43\""});
    let r = s
        .put(&format!("/api/deviceGroups/b43?{CV}"), g.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let etag = r.body["etag"].as_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    assert_eq!(r.headers["etag"].to_str().unwrap(), etag);
    // Creating it again: 409; with a stale If-Match: 412; with the etag: replaced.
    assert_eq!(
        s.put(&format!("/api/deviceGroups/b43?{CV}"), g.clone())
            .await
            .status,
        409
    );
    let r = s
        .call(
            Method::PUT,
            &format!("/api/deviceGroups/b43?{CV}"),
            Some(g.clone()),
            &[("if-match", "\"stale\"")],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (412, "PreconditionFailed")
    );
    // Patch: merge, etag checked.
    let patch = json!({"description": "third floor"});
    let r = s
        .call(
            Method::PATCH,
            &format!("/api/deviceGroups/b43?{CV}"),
            Some(patch.clone()),
            &[("if-match", "\"stale\"")],
        )
        .await;
    assert_eq!(r.status, 412);
    let r = s
        .call(
            Method::PATCH,
            &format!("/api/deviceGroups/b43?{CV}"),
            Some(patch),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["description"], "third floor");
    assert_eq!(r.body["displayName"], "Building 43");
    let etag2 = r.body["etag"].as_str().unwrap().to_string();
    assert_ne!(etag, etag2);
    // A filter that does not parse: 400 naming the field.
    let r = s
        .call(
            Method::PATCH,
            &format!("/api/deviceGroups/b43?{CV}"),
            Some(json!({"filter": "SELECT * FROM devices WHERE"})),
            &[],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("filter"),
        "{}",
        r.body
    );
    // The group's devices, paged.
    let devices = collect_central(
        &s,
        &format!("/api/deviceGroups/b43/devices?{CV}&maxpagesize=4"),
    )
    .await;
    assert!(
        !devices.is_empty() && devices.len() < 50,
        "{}",
        devices.len()
    );
    for d in &devices {
        let twin = s
            .get(&format!("/twins/{}?{HV}", d["id"].as_str().unwrap()))
            .await;
        assert_eq!(twin.body["tags"]["building"], "b43");
    }
    // Delete with a stale etag: 412; with the right one: 204; then 404.
    let r = s
        .call(
            Method::DELETE,
            &format!("/api/deviceGroups/b43?{CV}"),
            None,
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, 412);
    let r = s
        .call(
            Method::DELETE,
            &format!("/api/deviceGroups/b43?{CV}"),
            None,
            &[("if-match", &etag2)],
        )
        .await;
    assert_eq!(r.status, 204);
    let r = s.get(&format!("/api/deviceGroups/b43?{CV}")).await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (404, "NotFound")
    );
    let r = s.get(&format!("/api/deviceGroups/b43/devices?{CV}")).await;
    assert_eq!(r.status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_crud_with_etags() {
    let s = start(config().time_scale(1000.0)).await;
    let job = json!({
        "displayName": "New Scheduled Job",
        "group": "all-thermostats",
        "data": [{"type": "cloudProperty", "target": "dtmi:contoso:thermostat;1", "path": "CustomerName", "value": "Contoso"}],
        "schedule": {"start": "2099-10-24T22:29:01Z", "recurrence": "daily", "end": {"type": "date", "date": "2099-12-30"}}
    });
    let r = s
        .put(
            &format!("/api/scheduledJobs/scheduled-Job-001?{CV}"),
            job.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["completed"], false);
    let etag = r.body["etag"].as_str().unwrap().to_string();
    assert_eq!(
        s.put(
            &format!("/api/scheduledJobs/scheduled-Job-001?{CV}"),
            job.clone()
        )
        .await
        .status,
        409
    );
    let got = s
        .get(&format!("/api/scheduledJobs/scheduled-Job-001?{CV}"))
        .await;
    assert_eq!(got.body["schedule"]["recurrence"], "daily");
    let patch = json!({"schedule": {"start": "2099-10-24T22:29:01Z", "recurrence": "weekly"}});
    let r = s
        .call(
            Method::PATCH,
            &format!("/api/scheduledJobs/scheduled-Job-001?{CV}"),
            Some(patch.clone()),
            &[("if-match", "\"old\"")],
        )
        .await;
    assert_eq!(r.status, 412);
    let r = s
        .call(
            Method::PATCH,
            &format!("/api/scheduledJobs/scheduled-Job-001?{CV}"),
            Some(patch),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["schedule"]["recurrence"], "weekly");
    assert_eq!(
        r.body["schedule"]["end"]["type"], "date",
        "merge keeps the end"
    );
    assert_eq!(r.body["displayName"], "New Scheduled Job");
    // A bad value in a patch: 400 naming the field.
    let r = s
        .call(
            Method::PATCH,
            &format!("/api/scheduledJobs/scheduled-Job-001?{CV}"),
            Some(json!({"schedule": {"recurrence": "hourly"}})),
            &[],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("schedule.recurrence"),
        "{}",
        r.body
    );
    let list = collect_central(&s, &format!("/api/scheduledJobs?{CV}")).await;
    assert_eq!(list.len(), 1);
    let runs = s
        .get(&format!("/api/scheduledJobs/scheduled-Job-001/jobs?{CV}"))
        .await;
    assert_eq!(runs.status, 200);
    assert_eq!(runs.body["value"], json!([]));
    let r = s
        .call(
            Method::DELETE,
            &format!("/api/scheduledJobs/scheduled-Job-001?{CV}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        s.get(&format!("/api/scheduledJobs/scheduled-Job-001?{CV}"))
            .await
            .status,
        404
    );
    assert_eq!(
        s.get(&format!("/api/scheduledJobs/scheduled-Job-001/jobs?{CV}"))
            .await
            .status,
        404
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_create_and_stop_jobs() {
    let s = std::sync::Arc::new(start(config().time_scale(20.0)).await);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("c-{i:02}");
            let r = s
                .put(
                    &format!("/api/jobs/{id}?{CV}"),
                    property_job("all-thermostats", json!(i)),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            // Stop it (running, or not yet started: 409), and read it back.
            let r = s.post(&format!("/api/jobs/{id}/stop?{CV}"), None).await;
            assert!(
                r.status == 204 || r.status == 409,
                "{}: {}",
                r.status,
                r.body
            );
            let r = s.get(&format!("/api/jobs/{id}?{CV}")).await;
            assert_eq!(r.status, 200);
            r.body["status"].as_str().unwrap().to_string()
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            ["pending", "running", "stopped", "complete"].contains(&status.as_str()),
            "{status}"
        );
    }
    let all = collect_central(&s, &format!("/api/jobs?{CV}")).await;
    assert_eq!(all.len(), 12);
    let s = std::sync::Arc::into_inner(s).unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_job_creates_its_run_when_the_time_comes() {
    let s = start(config().time_scale(100.0)).await;
    // The server's virtual now, from a hub job's createdTime; the schedule starts 30 virtual
    // seconds later (300 ms of wall time).
    let probe = json!({"type": "scheduleUpdateTwin", "queryCondition": "deviceId = 'nobody'",
        "updateTwin": {"tags": {"a": 1}}});
    let created = s.put(&format!("/jobs/v2/probe?{HV}"), probe).await.body["createdTime"].clone();
    let now: jiff::Timestamp = created.as_str().unwrap().parse().unwrap();
    let start_at = now + jiff::SignedDuration::from_secs(30);
    let job = json!({
        "displayName": "Reboot once",
        "group": "all-thermostats",
        "data": [{"type": "command", "target": "dtmi:contoso:thermostat;1", "path": "reboot"}],
        "schedule": {"start": start_at.to_string()},
        "enabled": true
    });
    let r = s.put(&format!("/api/scheduledJobs/once?{CV}"), job).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["enabled"], true);
    let done = s
        .wait_for(&format!("/api/jobs/once-1?{CV}"), "status", &["complete"])
        .await;
    assert_eq!(done["scheduledJobId"], "once");
    assert_eq!(done["progress"]["total"], 50);
    let runs = collect_central(&s, &format!("/api/scheduledJobs/once/jobs?{CV}")).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], "once-1");
    // No occurrence remains and no run is active: completed.
    let mut completed = false;
    for _ in 0..200 {
        let sj = s.get(&format!("/api/scheduledJobs/once?{CV}")).await.body;
        if sj["completed"] == true {
            completed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(completed);
    s.stop().await;
}
