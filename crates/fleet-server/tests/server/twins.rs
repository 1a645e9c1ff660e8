//! IoT Hub twins and direct methods outside jobs, and the import/export job list.

use std::time::Instant;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

/// Six devices: m-00 answers in 2 s, m-01 in 10 s, m-02 fails, m-03 is offline, m-04
/// refuses, m-05 fails half the time after a random latency.
pub const METHODS: &str = r#"
name = "methods"
seed = 5
[fleet]
devices = 6
id_pattern = "m-{:02}"
templates = [{ template = "dtmi:m;1", share = 1.0 }]
[[templates]]
id = "dtmi:m;1"
properties = [{ name = "p", schema = "integer" }]
cloud_properties = [{ name = "owner", schema = "string" }]
commands = [{ name = "reboot" }]
[[behaviour.rules]]
latency = { type = "fixed", ms = 2000 }
[[behaviour.rules]]
selector = "deviceId = 'm-01'"
latency = { type = "fixed", ms = 10000 }
[[behaviour.rules]]
selector = "deviceId = 'm-02'"
failure_probability = 1.0
[[behaviour.rules]]
selector = "deviceId = 'm-03'"
offline = 1.0
[[behaviour.rules]]
selector = "deviceId = 'm-04'"
reject_probability = 1.0
[[behaviour.rules]]
selector = "deviceId = 'm-05'"
latency = { type = "lognormal", median_ms = 2000, sigma = 1.0 }
failure_probability = 0.5
"#;

async fn patch(s: &TestServer, id: &str, body: Value, if_match: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = if_match.map(|e| ("if-match", e)).into_iter().collect();
    s.call(
        Method::PATCH,
        &format!("/twins/{id}?{HV}"),
        Some(body),
        &headers,
    )
    .await
}

async fn put_twin(s: &TestServer, id: &str, body: Value, if_match: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = if_match.map(|e| ("if-match", e)).into_iter().collect();
    s.call(
        Method::PUT,
        &format!("/twins/{id}?{HV}"),
        Some(body),
        &headers,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_patch_merges_and_checks_etags() {
    let s = start(config().time_scale(1000.0)).await;
    let twin = s.get(&format!("/twins/therm-00?{HV}")).await.body;
    let (e0, v0) = (
        twin["etag"].as_str().unwrap().to_string(),
        twin["properties"]["desired"]["$version"].as_u64().unwrap(),
    );
    assert!(twin["tags"]["firmware"].is_string(), "{twin}");
    // A patch as the Python client sends it: If-Match as the twin shows the etag.
    let r = patch(
        &s,
        "therm-00",
        json!({"tags": {"site": "b43", "firmware": null},
               "properties": {"desired": {"cfg": {"a": 1, "b": 2}}, "reported": {"x": 9}}}),
        Some(&e0),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t1 = r.body;
    assert_eq!(t1["deviceId"], "therm-00");
    assert_eq!(t1["tags"]["site"], "b43");
    assert!(t1["tags"].get("firmware").is_none(), "null removes: {t1}");
    assert_eq!(t1["properties"]["desired"]["cfg"], json!({"a": 1, "b": 2}));
    assert_eq!(t1["properties"]["desired"]["$version"], v0 + 1);
    assert!(
        t1["properties"]["reported"].get("x").is_none(),
        "reported is ignored"
    );
    let e1 = t1["etag"].as_str().unwrap().to_string();
    assert_ne!(e1, e0);
    // The stale etag: 412 in the hub's shape, nothing written.
    let r = patch(&s, "therm-00", json!({"tags": {"site": "b44"}}), Some(&e0)).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (412, "PreconditionFailed")
    );
    // The current etag quoted (as the Node client sends it): nested objects merge.
    let quoted = format!("\"{e1}\"");
    let r = patch(
        &s,
        "therm-00",
        json!({"properties": {"desired": {"cfg": {"b": null, "c": 3}}}}),
        Some(&quoted),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["properties"]["desired"]["cfg"],
        json!({"a": 1, "c": 3})
    );
    assert_eq!(r.body["properties"]["desired"]["$version"], v0 + 2);
    assert_eq!(r.body["tags"]["site"], "b43");
    // A tags-only write changes the etag but not the desired $version.
    let r = patch(&s, "therm-00", json!({"tags": {"site": "b45"}}), Some("*")).await;
    assert_eq!(r.body["properties"]["desired"]["$version"], v0 + 2);
    assert_ne!(r.body["etag"].as_str().unwrap(), quoted.trim_matches('"'));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twin_put_replaces_the_sections_it_has() {
    let s = start(config().time_scale(1000.0)).await;
    let body = json!({"tags": {"a": 1}, "properties": {"desired": {"cfg": {"a": 1}}}});
    let r = patch(&s, "therm-00", body, None).await;
    let v1 = r.body["properties"]["desired"]["$version"]
        .as_u64()
        .unwrap();
    // Tags replaced, desired untouched.
    let r = put_twin(&s, "therm-00", json!({"tags": {"only": 1}}), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tags"], json!({"only": 1}));
    assert_eq!(r.body["properties"]["desired"]["cfg"], json!({"a": 1}));
    assert_eq!(r.body["properties"]["desired"]["$version"], v1);
    // An empty desired section empties it, with a new $version.
    let body = json!({"properties": {"desired": {}}});
    let r = put_twin(&s, "therm-00", body, Some("*")).await;
    assert_eq!(r.body["properties"]["desired"], json!({"$version": v1 + 1}));
    // A stale etag: 412, nothing replaced.
    let r = put_twin(&s, "therm-00", json!({"tags": {}}), Some("AAAAAAAAAAA=")).await;
    assert_eq!(r.status, 412);
    assert_eq!(hub_code(&r), "PreconditionFailed");
    // GET shows what the writes answered.
    let now = s.get(&format!("/twins/therm-00?{HV}")).await.body;
    assert_eq!(now["tags"], json!({"only": 1}));
    assert_eq!(now["properties"]["desired"], json!({"$version": v1 + 1}));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desired_write_reaches_the_fleet_that_queries_and_groups_see() {
    let s = start(config().time_scale(1000.0)).await;
    let r = patch(
        &s,
        "therm-07",
        json!({"properties": {"desired": {"targetTemperature": 23.5}}, "tags": {"zone": "z9"}}),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let q = json!({"query": "SELECT * FROM devices WHERE properties.desired.targetTemperature = 23.5 AND tags.zone = 'z9'"});
    let r = s.post(&format!("/devices/query?{HV}"), Some(q)).await;
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["deviceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["therm-07"]);
    // An IoT Central group on the tag selects it too.
    let g =
        json!({"displayName": "z9", "filter": "SELECT * FROM devices WHERE tags.zone = \"z9\""});
    assert_eq!(
        s.put(&format!("/api/deviceGroups/z9?{CV}"), g).await.status,
        200
    );
    let devices = collect_central(&s, &format!("/api/deviceGroups/z9/devices?{CV}")).await;
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["id"], "therm-07");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_and_method_requests_that_cannot_be_served_say_why() {
    let s = start(config().time_scale(1000.0)).await;
    for (method, path, body) in [
        (Method::PATCH, "/twins/nope", json!({"tags": {"a": 1}})),
        (Method::PUT, "/twins/nope", json!({"tags": {"a": 1}})),
        (
            Method::POST,
            "/twins/nope/methods",
            json!({"methodName": "reboot"}),
        ),
    ] {
        let r = s
            .call(method, &format!("{path}?{HV}"), Some(body), &[])
            .await;
        assert_eq!(
            (r.status.as_u16(), hub_code(&r).as_str()),
            (404, "DeviceNotFound"),
            "{path}"
        );
    }
    let r = s
        .call(Method::PATCH, "/twins/therm-00", Some(json!({})), &[])
        .await;
    assert_eq!(r.status, 400, "no api-version");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_twin_and_method_bodies_are_400s_naming_the_field() {
    let s = start(config().time_scale(1000.0)).await;
    for (path, body, field) in [
        ("/twins/therm-00", json!({"tgas": {"a": 1}}), "tgas:"),
        ("/twins/therm-00", json!({"tags": {"a.b": 1}}), "tags.a.b"),
        (
            "/twins/therm-00",
            json!({"deviceId": "therm-01"}),
            "deviceId:",
        ),
        (
            "/twins/therm-00/methods",
            json!({"payload": {}}),
            "methodName",
        ),
        (
            "/twins/therm-00/methods",
            json!({"methodName": "reboot", "responseTimeoutInSeconds": 4}),
            "responseTimeoutInSeconds",
        ),
        (
            "/twins/therm-00/methods",
            json!({"methodName": "reboot", "responseTimeoutInSeconds": 301}),
            "responseTimeoutInSeconds",
        ),
        (
            "/twins/therm-00/methods",
            json!({"methodName": "reboot", "connectTimeoutInSeconds": -1}),
            "connectTimeoutInSeconds",
        ),
        (
            "/twins/therm-00/methods",
            json!({"methodName": "reboot", "timeout": 5}),
            "timeout",
        ),
    ] {
        let m = if path.ends_with("methods") {
            Method::POST
        } else {
            Method::PATCH
        };
        let r = s
            .call(m, &format!("{path}?{HV}"), Some(body.clone()), &[])
            .await;
        assert_eq!(
            (r.status.as_u16(), hub_code(&r).as_str()),
            (400, "ArgumentInvalid"),
            "{body}"
        );
        let msg = r.body["Message"].as_str().unwrap();
        assert!(msg.contains(field), "{body}: {msg}");
    }
    s.stop().await;
}

async fn invoke(s: &TestServer, id: &str, body: Value) -> (Reply, std::time::Duration) {
    let t = Instant::now();
    let r = s
        .post(&format!("/twins/{id}/methods?{HV}"), Some(body))
        .await;
    (r, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_model_answers_direct_methods_in_virtual_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), METHODS))
            .time_scale(100.0),
    )
    .await;
    // m-00 answers after its 2 virtual seconds: 20 ms of wall time at 100x.
    let (r, took) = invoke(
        &s,
        "m-00",
        json!({"methodName": "reboot", "payload": {"delay": 1}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"status": 200, "payload": null}));
    assert!(
        took.as_millis() >= 18,
        "answered before the device's latency: {took:?}"
    );
    // m-01 takes 10 s: past a 5 s response timeout it is 504 GatewayTimeout (504101), after
    // the 5 s; within a 20 s one it answers.
    let (r, took) = invoke(
        &s,
        "m-01",
        json!({"methodName": "reboot", "responseTimeoutInSeconds": 5}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (504, "GatewayTimeout")
    );
    assert!(r.body["Message"].as_str().unwrap().contains("504101"));
    assert!(
        took.as_millis() >= 45,
        "timed out before the timeout: {took:?}"
    );
    let (r, took) = invoke(
        &s,
        "m-01",
        json!({"methodName": "reboot", "responseTimeoutInSeconds": 20}),
    )
    .await;
    assert_eq!(r.body["status"], 200, "{}", r.body);
    assert!(took.as_millis() >= 95, "{took:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_refusing_and_offline_devices_answer_as_iot_hub_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), METHODS))
            .time_scale(100.0),
    )
    .await;
    // The device's own answers: an error is 500, a refusal 403, a method its template lacks
    // 501; all with HTTP 200.
    for (id, name, status) in [
        ("m-02", "reboot", 500),
        ("m-04", "reboot", 403),
        ("m-00", "selfDestruct", 501),
    ] {
        let (r, _) = invoke(&s, id, json!({"methodName": name})).await;
        assert_eq!(r.status, 200, "{id}: {}", r.body);
        assert_eq!(r.body["status"], status, "{id} {name}");
    }
    // An offline device: 404 DeviceNotOnline (404103), at once, or after the connect timeout.
    let (r, _) = invoke(&s, "m-03", json!({"methodName": "reboot"})).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (404, "DeviceNotOnline")
    );
    assert!(r.body["Message"].as_str().unwrap().contains("404103"));
    let (r, took) = invoke(
        &s,
        "m-03",
        json!({"methodName": "reboot", "connectTimeoutInSeconds": 5}),
    )
    .await;
    assert_eq!(hub_code(&r), "DeviceNotOnline");
    assert!(
        took.as_millis() >= 45,
        "gave up before the connect timeout: {took:?}"
    );
    s.stop().await;
}

/// The statuses of 12 calls of `reboot` on m-05, which fails half the time.
async fn m05_statuses(dir: &std::path::Path) -> Vec<u64> {
    let s = start(config().scenario(scenario(dir, METHODS)).time_scale(1000.0)).await;
    let mut out = Vec::new();
    for _ in 0..12 {
        let (r, _) = invoke(
            &s,
            "m-05",
            json!({"methodName": "reboot", "responseTimeoutInSeconds": 300}),
        )
        .await;
        out.push(r.body["status"].as_u64().unwrap());
    }
    s.stop().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_answers_depend_only_on_the_scenario_and_the_call_number() {
    let dir = tempfile::tempdir().unwrap();
    let first = m05_statuses(dir.path()).await;
    let again = m05_statuses(dir.path()).await;
    assert_eq!(first, again);
    assert!(
        first.contains(&200) && first.contains(&500),
        "each call draws its own fate: {first:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_model_throttles_twin_updates_and_direct_methods() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), S1_HUB))
            .time_scale(1000.0),
    )
    .await;
    // S1: 50 twin updates per second (a burst of 50).
    let mut statuses = Vec::new();
    for i in 0..60 {
        let r = patch(&s, "dev-01", json!({"tags": {"n": i}}), None).await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            assert_eq!(hub_code(&r), "ThrottlingException");
            assert!(r.headers.contains_key("retry-after"));
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 200);
    // S1: 40 direct-method chunks of 4 KB per second; a 100 KB payload is 25 of them.
    let big = "x".repeat(100 * 1024);
    let (r, _) = invoke(
        &s,
        "dev-01",
        json!({"methodName": "m", "payload": {"b": big}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (r, _) = invoke(
        &s,
        "dev-01",
        json!({"methodName": "m", "payload": {"b": big}}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (429, "ThrottlingException")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_export_job_list_is_empty() {
    let s = start(config().time_scale(1000.0)).await;
    let r = s.get(&format!("/jobs?{HV}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]));
    let r = s.get("/jobs").await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (400, "ArgumentInvalid")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_slower_than_the_idle_timeout_still_gets_its_answer() {
    // The idle timeout closes connections on which nothing moves; a request waiting for its
    // device's answer is not idle.
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), METHODS))
            .idle_timeout(std::time::Duration::from_millis(300))
            .time_scale(10.0),
    )
    .await;
    // m-00 answers after 2 virtual seconds: 200 ms; m-01 after 10: 1 s.
    let (r, took) = invoke(&s, "m-01", json!({"methodName": "reboot"})).await;
    assert_eq!(r.body["status"], 200, "{}", r.body);
    assert!(took.as_millis() >= 900, "{took:?}");
    s.stop().await;
}
