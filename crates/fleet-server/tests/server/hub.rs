//! IoT Hub: jobs v2, job queries, device queries, twins, throttling.

use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_update_job_and_device_query_paging() {
    let s = start(config().time_scale(1000.0)).await;
    let req = json!({
        "jobId": "job02", "type": "scheduleUpdateTwin",
        "updateTwin": {"properties": {"desired": {"test1": "value1"}}, "tags": {"site": "b43"}, "etag": "*"},
        "queryCondition": "tags.firmware = '1.2'",
        "startTime": null, "maxExecutionTimeInSeconds": 3600
    });
    let r = s.put(&format!("/jobs/v2/job02?{HV}"), req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["jobId"], "job02");
    assert_eq!(r.body["type"], "scheduleUpdateTwin");
    assert!(["queued", "running"].contains(&r.body["status"].as_str().unwrap()));
    let job = s
        .wait_for(&format!("/jobs/v2/job02?{HV}"), "status", &["completed"])
        .await;
    let stats = &job["deviceJobStatistics"];
    let n = stats["deviceCount"].as_u64().unwrap();
    assert!(n > 0 && n < 50, "{job}");
    assert_eq!(stats["succeededCount"].as_u64().unwrap(), n);
    assert!(job["createdTime"].is_string() && job["endTime"].is_string());
    // The patched twins, 5 per page, by x-ms-continuation; the header is absent on the last page.
    let query = json!({"query": "SELECT * FROM devices WHERE properties.desired.test1 = 'value1'"});
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut headers = vec![("x-ms-max-item-count", "5")];
        if let Some(t) = &token {
            headers.push(("x-ms-continuation", t.as_str()));
        }
        let r = s
            .call(
                reqwest::Method::POST,
                &format!("/devices/query?{HV}"),
                Some(query.clone()),
                &headers,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.headers["x-ms-item-type"], "Twin");
        let page = r.body.as_array().unwrap();
        assert!(page.len() <= 5);
        for twin in page {
            assert_eq!(twin["tags"]["site"], "b43");
            assert_eq!(twin["tags"]["firmware"], "1.2");
            assert_eq!(twin["properties"]["desired"]["$version"], 2);
            seen.push(twin["deviceId"].as_str().unwrap().to_string());
        }
        match r.headers.get("x-ms-continuation") {
            Some(t) => token = Some(t.to_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len() as u64, n);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_method_jobs_schedule_cancel_and_query() {
    let s = start(config().time_scale(1000.0)).await;
    let method = |id: &str, start: serde_json::Value| {
        json!({
            "jobId": id, "type": "scheduleDeviceMethod",
            "cloudToDeviceMethod": {"methodName": "reboot", "payload": {}, "responseTimeoutInSeconds": 30},
            "queryCondition": "*", "startTime": start, "maxExecutionTimeInSeconds": 600
        })
    };
    let r = s
        .put(
            &format!("/jobs/v2/now?{HV}"),
            method("now", json!("2000-01-01T00:00:00Z")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = s
        .wait_for(&format!("/jobs/v2/now?{HV}"), "status", &["completed"])
        .await;
    assert_eq!(done["deviceJobStatistics"]["deviceCount"], 50);
    // A job for the far future is scheduled, and can be cancelled before it starts.
    let r = s
        .put(
            &format!("/jobs/v2/later?{HV}"),
            method("later", json!("2999-01-01T00:00:00Z")),
        )
        .await;
    assert_eq!(r.body["status"], "scheduled", "{}", r.body);
    let r = s.post(&format!("/jobs/v2/later/cancel?{HV}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    // Cancelling a completed job answers with the job, unchanged.
    let r = s.post(&format!("/jobs/v2/now/cancel?{HV}"), None).await;
    assert_eq!(r.body["status"], "completed");
    // A third job, then the query: by type and status, one per page.
    let twin = json!({"jobId": "t", "type": "scheduleUpdateTwin", "queryCondition": "*",
        "updateTwin": {"tags": {"x": 1}, "etag": "*"}});
    assert_eq!(s.put(&format!("/jobs/v2/t?{HV}"), twin).await.status, 200);
    s.wait_for(&format!("/jobs/v2/t?{HV}"), "status", &["completed"])
        .await;
    let all = query_all(&s, &format!("/jobs/v2/query?{HV}"), "1").await;
    assert_eq!(all, ["later", "now", "t"]);
    let methods = query_all(
        &s,
        &format!("/jobs/v2/query?{HV}&jobType=scheduleDeviceMethod"),
        "10",
    )
    .await;
    assert_eq!(methods, ["later", "now"]);
    let completed = query_all(
        &s,
        &format!("/jobs/v2/query?{HV}&jobStatus=completed"),
        "10",
    )
    .await;
    assert_eq!(completed, ["now", "t"]);
    // A newer api-version is accepted.
    assert_eq!(
        s.get("/jobs/v2/now?api-version=2023-06-30").await.status,
        200
    );
    s.stop().await;
}

async fn query_all(s: &TestServer, path: &str, size: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut headers = vec![("x-ms-max-item-count", size)];
        if let Some(t) = &token {
            headers.push(("x-ms-continuation", t.as_str()));
        }
        let r = s.call(reqwest::Method::GET, path, None, &headers).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for j in r.body.as_array().unwrap() {
            ids.push(j["jobId"].as_str().unwrap().to_string());
        }
        match r.headers.get("x-ms-continuation") {
            Some(t) => token = Some(t.to_str().unwrap().to_string()),
            None => return ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_errors_have_the_hub_shape() {
    let s = start(config().time_scale(1000.0)).await;
    let r = s.get(&format!("/jobs/v2/missing?{HV}")).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (404, "JobNotFound")
    );
    let r = s.get(&format!("/twins/nobody?{HV}")).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (404, "DeviceNotFound")
    );
    let job = json!({"type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": {"tags": {"a": 1}}});
    assert_eq!(
        s.put(&format!("/jobs/v2/dup?{HV}"), job.clone())
            .await
            .status,
        200
    );
    let r = s.put(&format!("/jobs/v2/dup?{HV}"), job.clone()).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (409, "JobAlreadyExists")
    );
    // Validation names the field.
    let bad = json!({"type": "scheduleUpdateTwin", "queryCondition": "tags.a = ", "updateTwin": {"tags": {"a": 1}}});
    let r = s.put(&format!("/jobs/v2/bad?{HV}"), bad).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["Message"]
            .as_str()
            .unwrap()
            .contains("queryCondition"),
        "{}",
        r.body
    );
    let bad = json!({"type": "scheduleDeviceMethod", "queryCondition": "*"});
    let r = s.put(&format!("/jobs/v2/bad?{HV}"), bad).await;
    assert!(
        r.body["Message"]
            .as_str()
            .unwrap()
            .contains("cloudToDeviceMethod"),
        "{}",
        r.body
    );
    let r = s.put(&format!("/jobs/v2/bad_id!?{HV}"), job.clone()).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["Message"].as_str().unwrap().contains("jobId"),
        "{}",
        r.body
    );
    let r = s.put(&format!("/jobs/v2/x?{HV}"), json!({"jobId": "y", "type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": {"tags": {"a": 1}}})).await;
    assert_eq!(r.status, 400);
    let r = s.get("/jobs/v2/dup?api-version=2019-01-01").await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (400, "ArgumentInvalid")
    );
    assert!(r.body["Message"].as_str().unwrap().contains("api-version"));
    let r = s.get("/jobs/v2/dup").await;
    assert_eq!(r.status, 400);
    let r = s
        .post(
            &format!("/devices/query?{HV}"),
            Some(json!({"query": "SELECT deviceId FROM"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["Message"].as_str().unwrap().contains("query"));
    let r = s
        .call(
            reqwest::Method::POST,
            &format!("/devices/query?{HV}"),
            Some(json!({"query": "SELECT * FROM devices"})),
            &[("x-ms-continuation", "nope")],
        )
        .await;
    assert_eq!(r.status, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_model_throttles_job_operations() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), S1_HUB);
    let s = start(config().scenario(&path).time_scale(1000.0)).await;
    let job = |id: &str| json!({"jobId": id, "type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": {"tags": {"a": 1}}});
    // S1, one unit: 1.67 job operations per second, a burst of 1.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let r = s
            .put(&format!("/jobs/v2/t{i}?{HV}"), job(&format!("t{i}")))
            .await;
        if r.status == 429 {
            assert_eq!(hub_code(&r), "ThrottlingException");
            assert!(r.headers.contains_key("retry-after"));
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses[0], 200);
    assert!(statuses.contains(&429), "{statuses:?}");
    s.stop().await;
}
