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
