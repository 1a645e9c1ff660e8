//! What an operator watches: `/healthz`, `/readyz` and `/metrics` (the exposition's values
//! against what was done; a real Prometheus parser reads it in `tests/clients/`).

use serde_json::json;

use crate::common::*;

/// The value of the sample line starting with `prefix` (labels included).
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_count_what_was_done() {
    let s = start(config().time_scale(1000.0)).await;
    let health = s
        .client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let ready = s
        .client
        .get(format!("{}/readyz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (ready.status().as_u16(), ready.text().await.unwrap()),
        (200, "ready\n".to_string())
    );
    let r = s
        .put(
            &format!("/api/jobs/m1?{CV}"),
            property_job("all-thermostats", json!(20.5)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let job = s
        .wait_for(&format!("/api/jobs/m1?{CV}"), "status", &["complete"])
        .await;
    for _ in 0..3 {
        assert_eq!(s.get(&format!("/api/jobs/m1?{CV}")).await.status, 200);
    }
    assert_eq!(s.get(&format!("/api/jobs/nope?{CV}")).await.status, 404);
    let resp = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();
    // Every device was dispatched once and answered once (no retries in the demo).
    assert_eq!(
        sample(&text, "fleetsim_device_operations_dispatched_total"),
        50.0
    );
    let succeeded = sample(
        &text,
        "fleetsim_device_operations_answered_total{result=\"succeeded\"}",
    );
    assert_eq!(succeeded, job["progress"]["completed"].as_f64().unwrap());
    assert_eq!(
        sample(&text, "fleetsim_jobs{api=\"central\",status=\"complete\"}"),
        1.0
    );
    let route = "route=\"/api/jobs/{id}\"";
    let gets = sample(
        &text,
        &format!("fleetsim_http_requests_total{{method=\"GET\",{route},status=\"200\"}}"),
    );
    assert!(gets >= 4.0, "{gets}: wait_for polls, then 3 more");
    assert_eq!(
        sample(
            &text,
            &format!("fleetsim_http_requests_total{{method=\"GET\",{route},status=\"404\"}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("fleetsim_http_requests_total{{method=\"PUT\",{route},status=\"200\"}}")
        ),
        1.0
    );
    assert!(sample(&text, "fleetsim_store_commit_duration_seconds_count") >= 1.0);
    assert!(text.ends_with("# EOF\n"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_key_the_probes_stay_open_and_metrics_need_it() {
    let key = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY=";
    let s = start(config().hub_key("iothubowner", key).central_token("tok-1")).await;
    for path in ["/healthz", "/readyz"] {
        let r = s
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let refused = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let allowed = s
        .client
        .get(format!("{}/metrics", s.base))
        .header("authorization", "tok-1")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    s.stop().await;
}
