//! Bad input: each API's error shape, the right status, never a 500.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_api_error_shape() {
    let s = start(config().time_scale(1000.0).body_limit(4096)).await;
    // api-version
    let r = s.get("/api/jobs").await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (400, "BadRequest")
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("api-version"));
    let r = s.get("/api/jobs?api-version=2099-01-01").await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2022-07-31"));
    // Malformed JSON, unknown fields, bad values: 400 naming the field.
    let r = s
        .call(
            Method::PUT,
            &format!("/api/jobs/j?{CV}"),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, 400);
    let cases = [
        (
            json!({"group": "g", "data": [{"type": "property", "valu": 1}]}),
            "data[0].valu",
        ),
        (json!({"group": "g", "data": []}), "data"),
        (
            json!({"group": "g", "batch": {"type": "percentage", "value": 150}, "data": [{"type": "property", "target": "dtmi:contoso:thermostat;1", "path": "targetTemperature", "value": 1}]}),
            "batch.value",
        ),
        (
            json!({"group": "g", "data": [{"type": "property", "target": "dtmi:nope;1", "path": "p", "value": 1}]}),
            "data[0].target",
        ),
        (json!({"data": []}), "group"),
        (
            json!({"id": "other", "group": "g", "data": [{"type": "property", "target": "dtmi:contoso:thermostat;1", "path": "targetTemperature", "value": 1}]}),
            "id",
        ),
    ];
    for (body, field) in cases {
        let r = s.put(&format!("/api/jobs/j?{CV}"), body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.contains(field), "{body}: {m} does not name {field}");
    }
    let r = s
        .call(
            Method::PUT,
            &format!("/api/jobs/j?{CV}"),
            Some(json!("not an object")),
            &[],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = s.put(&format!("/api/jobs/bad%20id?{CV}"), json!({})).await;
    assert_eq!(r.status, 400);
    // Body limit: 413 in each shape.
    let big = json!({"group": "g", "description": "x".repeat(10_000), "data": []});
    let r = s.put(&format!("/api/jobs/big?{CV}"), big.clone()).await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (413, "PayloadTooLarge")
    );
    let r = s.put(&format!("/jobs/v2/big?{HV}"), big).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (413, "MessageTooLarge")
    );
    // Unknown paths and methods.
    let r = s.get(&format!("/api/nothing?{CV}")).await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (404, "NotFound")
    );
    let r = s.get(&format!("/nothing?{HV}")).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (404, "NotFound")
    );
    let r = s
        .call(Method::DELETE, &format!("/api/jobs/x?{CV}"), None, &[])
        .await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (405, "MethodNotAllowed")
    );
    let r = s
        .call(Method::DELETE, &format!("/jobs/v2/x?{HV}"), None, &[])
        .await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (405, "MethodNotAllowed")
    );
    // Garbage of every kind never gets a 500.
    let garbage = [
        "{",
        "[]",
        "null",
        "{\"group\": 5}",
        "\u{0}",
        "{\"data\": [null]}",
        "1e999",
    ];
    for g in garbage {
        for path in [
            format!("/api/jobs/g?{CV}"),
            format!("/api/deviceGroups/g?{CV}"),
            format!("/api/scheduledJobs/g?{CV}"),
            format!("/jobs/v2/g?{HV}"),
        ] {
            let resp = s
                .client
                .put(format!("{}{path}", s.base))
                .body(g.to_string())
                .send()
                .await
                .unwrap();
            assert!(
                resp.status().is_client_error(),
                "{path} {g:?}: {}",
                resp.status()
            );
        }
        let resp = s
            .client
            .post(format!("{}/devices/query?{HV}", s.base))
            .body(g.to_string())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{g:?}: {}", resp.status());
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_serve_what_they_had() {
    let s = start(config().time_scale(1000.0)).await;
    // Every version that had the jobs API serves jobs and the group list.
    for v in [
        "preview",
        "1.1-preview",
        "1.2-preview",
        "2022-05-31",
        "2022-06-30-preview",
        "2022-07-31",
        "2022-10-31-preview",
    ] {
        for path in ["/api/jobs", "/api/deviceGroups"] {
            let r = s.get(&format!("{path}?api-version={v}")).await;
            assert_eq!(r.status, 200, "{path} {v}: {}", r.body);
        }
    }
    // 1.0 had no jobs; a version on an endpoint it did not have: 400 naming api-version.
    for (path, v) in [
        ("/api/jobs", "1.0"),
        ("/api/scheduledJobs", "preview"),
        ("/api/scheduledJobs", "2022-05-31"),
        ("/api/deviceGroups/all-thermostats", "1.1-preview"),
    ] {
        let r = s.get(&format!("{path}?api-version={v}")).await;
        assert_eq!(
            (r.status.as_u16(), central_code(&r).as_str()),
            (400, "BadRequest"),
            "{path} {v}"
        );
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.starts_with("api-version:"), "{m}");
    }
    let r = s
        .get("/api/deviceGroups/all-thermostats?api-version=1.2-preview")
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .get("/api/scheduledJobs?api-version=2022-06-30-preview")
        .await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_patch_with_a_stale_etag_is_412() {
    let s = start(config().time_scale(1000.0)).await;
    let path = format!("/api/deviceGroups/all-thermostats?{CV}");
    let etag = s.get(&path).await.headers["etag"]
        .to_str()
        .unwrap()
        .to_string();
    // The first update with the current etag wins and changes it.
    let r = s
        .call(
            Method::PATCH,
            &path,
            Some(json!({"displayName": "first"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.headers["etag"].to_str().unwrap(), etag);
    // The second, with the etag it read before, is refused and changes nothing.
    let r = s
        .call(
            Method::PATCH,
            &path,
            Some(json!({"displayName": "second"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (412, "PreconditionFailed")
    );
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    // The body's etag is checked too, as for scheduled jobs.
    let r = s
        .call(
            Method::PATCH,
            &path,
            Some(json!({"displayName": "third", "etag": etag})),
            &[],
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    assert_eq!(s.get(&path).await.body["displayName"], "first");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_errors_reach_the_client_with_their_body() {
    let s = start(config().time_scale(1000.0)).await;
    // nextLink: the Host header's host and port.
    let r = s
        .get(&format!("/api/deviceGroups?{CV}&maxpagesize=1"))
        .await;
    let link = r.body["nextLink"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/api/deviceGroups?", s.base)),
        "{link}"
    );
    assert_eq!(s.get(link).await.status, 200);
    // A body far over the limit (256 KiB): the 413 arrives, in the API's shape.
    let big = format!("{{\"group\": \"{}\"}}", "x".repeat(4 << 20));
    for (path, code) in [
        (format!("/api/jobs/big?{CV}"), "PayloadTooLarge"),
        (format!("/jobs/v2/big?{HV}"), "MessageTooLarge"),
    ] {
        let resp = s
            .client
            .put(format!("{}{path}", s.base))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413, "{path}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let text = resp.text().await.unwrap();
        assert!(text.contains(code), "{path}: {text}");
    }
    // A 405 with a body the route never reads.
    let resp = s
        .client
        .delete(format!("{}/api/jobs/x?{CV}", s.base))
        .body("y".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(resp.text().await.unwrap().contains("MethodNotAllowed"));
    s.stop().await;
}

/// The content type of a reply, which must be JSON.
fn assert_json(r: &Reply, what: &str) {
    let ct = r
        .headers
        .get("content-type")
        .unwrap_or_else(|| panic!("{what}: no content-type"))
        .to_str()
        .unwrap();
    assert!(ct.starts_with("application/json"), "{what}: {ct}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_and_limits_get_the_api_error_body() {
    let s = start(config().time_scale(1000.0)).await;
    // A malformed JSON body.
    for (path, central) in [
        (format!("/api/jobs/j?{CV}"), true),
        (format!("/jobs/v2/j?{HV}"), false),
    ] {
        let resp = s
            .client
            .put(format!("{}{path}", s.base))
            .header("content-type", "application/json")
            .body("{\"group\": ")
            .send()
            .await
            .unwrap();
        let r = reply(resp).await;
        assert_json(&r, &path);
        let code = if central {
            central_code(&r)
        } else {
            hub_code(&r)
        };
        assert_eq!(
            (r.status.as_u16(), code.as_str()),
            (
                400,
                if central {
                    "BadRequest"
                } else {
                    "ArgumentInvalid"
                }
            ),
            "{path}"
        );
    }
    // A bad query parameter.
    let r = s.get(&format!("/api/jobs?{CV}&maxpagesize=abc")).await;
    assert_json(&r, "maxpagesize");
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (400, "BadRequest")
    );
    let r = s.get(&format!("/jobs/v2/query?{HV}&pageSize=0")).await;
    assert_json(&r, "pageSize");
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (400, "ArgumentInvalid")
    );
    // A path parameter that is not UTF-8: axum's Path rejection, shaped.
    let r = s.get(&format!("/api/jobs/%FF?{CV}")).await;
    assert_json(&r, "central path");
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (400, "BadRequest")
    );
    let r = s.get(&format!("/jobs/v2/%FF?{HV}")).await;
    assert_json(&r, "hub path");
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (400, "ArgumentInvalid")
    );
    // An oversized URI (that hyper accepts: under 64 KiB).
    let long = "x".repeat(20_000);
    let r = s.get(&format!("/api/jobs?{CV}&filter={long}")).await;
    assert_json(&r, "central uri");
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (414, "UriTooLong")
    );
    let r = s.get(&format!("/jobs/v2/query?{HV}&x={long}")).await;
    assert_json(&r, "hub uri");
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (414, "GenericBadRequest")
    );
    // Many headers, and a large header.
    let many: Vec<(String, String)> = (0..150).map(|i| (format!("x-h-{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = s
        .call(Method::GET, &format!("/api/jobs?{CV}"), None, &many)
        .await;
    assert_json(&r, "central headers");
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (431, "RequestHeaderFieldsTooLarge")
    );
    let r = s
        .call(Method::GET, &format!("/jobs/v2/query?{HV}"), None, &many)
        .await;
    assert_json(&r, "hub headers");
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (431, "GenericBadRequest")
    );
    let big = "v".repeat(70_000);
    let r = s
        .call(
            Method::GET,
            &format!("/jobs/v2/query?{HV}"),
            None,
            &[("x-big", &big)],
        )
        .await;
    assert_json(&r, "hub big header");
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (431, "GenericBadRequest")
    );
    // Under the limits, served.
    let some: Vec<(&str, &str)> = many[..50].to_vec();
    assert_eq!(
        s.call(Method::GET, &format!("/api/jobs?{CV}"), None, &some)
            .await
            .status,
        200
    );
    s.stop().await;
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_job_types_and_statuses_are_400() {
    let s = start(config().time_scale(1000.0)).await;
    for q in [
        "jobType=scheduleDeviceMethod",
        "jobType=SCHEDULEUPDATETWIN",
        "jobType=",
        "jobStatus=completed",
        "jobType=export&jobStatus=queued",
    ] {
        let r = s.get(&format!("/jobs/v2/query?{HV}&{q}")).await;
        assert_eq!(r.status, 200, "{q}: {}", r.body);
    }
    for (q, field) in [
        ("jobType=scheduleDevicesMethod", "jobType"),
        ("jobStatus=done", "jobStatus"),
    ] {
        let r = s.get(&format!("/jobs/v2/query?{HV}&{q}")).await;
        assert_json(&r, q);
        assert_eq!(
            (r.status.as_u16(), hub_code(&r).as_str()),
            (400, "ArgumentInvalid"),
            "{q}"
        );
        let m = r.body["Message"].as_str().unwrap();
        assert!(m.contains(field), "{q}: {m}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_times_are_virtual() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("clock_start = \"2020-03-01T00:00:00Z\"\n{FAILING}");
    let path = scenario(dir.path(), &text);
    let s = start(config().scenario(&path).time_scale(10.0)).await;
    let r = s.get(&format!("/api/jobs/nothing?{CV}")).await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (404, "NotFound")
    );
    let time = r.body["error"]["time"].as_str().unwrap();
    assert!(time.starts_with("2020-03-01T00:"), "{time}");
    let r = s.get(&format!("/jobs/v2/nothing?{HV}")).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (404, "JobNotFound")
    );
    let m = r.body["ExceptionMessage"].as_str().unwrap();
    assert!(m.contains("TimeStamp:2020-03-01T00:"), "{m}");
    s.stop().await;
}
