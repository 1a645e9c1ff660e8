//! A store that fails while the server runs (injected: the error of a full disk on commit).

use std::time::Duration;

use serde_json::{json, Value};

use super::Server;
use crate::config::Config;

const CV: &str = "api-version=2022-07-31";
const HV: &str = "api-version=2021-04-12";

async fn start(dir: &std::path::Path) -> Server {
    let config = Config::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .data_dir(dir)
        .quiet(true)
        .build()
        .unwrap();
    Server::start(config).await.unwrap()
}

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn group(filter: &str) -> Value {
    json!({"displayName": "g", "filter": filter})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_stops_the_server_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(&data).await;
    let base = format!("http://{}", s.local_addr());
    let filter = "SELECT * FROM devices WHERE $template = 'dtmi:contoso:thermostat;1'";
    let (status, before) = call(
        reqwest::Method::PUT,
        format!("{base}/api/deviceGroups/kept?{CV}"),
        Some(group(filter)),
    )
    .await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(s.failure(), None);

    crate::store::check::inject_fault(&data);
    // A write now is not acknowledged: 503, with the reason, in the API's error shape.
    let (status, body) = call(
        reqwest::Method::PUT,
        format!("{base}/api/deviceGroups/lost?{CV}"),
        Some(group(filter)),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "ServiceUnavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("database or disk is full"), "{message}");
    assert!(message.contains("fleetsim.db"), "{message}");

    // The server says so and stops on its own: the failure is reported.
    let failure = tokio::time::timeout(Duration::from_secs(5), s.failed())
        .await
        .expect("the server never reported its store's failure");
    assert_eq!(failure.kind(), crate::ErrorKind::Store);
    assert!(
        failure.message().contains("database or disk is full"),
        "{failure}"
    );

    // Every request, reads included, answers 503 with the reason: no frozen "200 running".
    let (status, body) = call(
        reqwest::Method::GET,
        format!("{base}/api/deviceGroups/kept?{CV}"),
        None,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("database or disk is full"),
        "{body}"
    );
    let (status, body) = call(reqwest::Method::GET, format!("{base}/jobs/v2/x?{HV}"), None).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["Message"]
            .as_str()
            .unwrap()
            .starts_with("ErrorCode:ServiceUnavailable;"),
        "{body}"
    );
    assert!(body["Message"].as_str().unwrap().contains("disk is full"));
    // The probes: alive, not ready, with the reason.
    let probe = |path: &str| reqwest::get(format!("{base}{path}"));
    let live = probe("/healthz").await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = probe("/readyz").await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("disk is full"));

    let stopped = s
        .shutdown()
        .await
        .expect_err("the stop must report the failure");
    assert!(
        stopped.message().contains("database or disk is full"),
        "{stopped}"
    );

    // Restarted (the disk has room again): what was acknowledged is there; the write that
    // got 503 is not.
    crate::store::check::FAULTS.lock().unwrap().clear();
    let s = start(&data).await;
    let base = format!("http://{}", s.local_addr());
    let (status, after) = call(
        reqwest::Method::GET,
        format!("{base}/api/deviceGroups/kept?{CV}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(after["etag"], before["etag"]);
    let (status, _) = call(
        reqwest::Method::GET,
        format!("{base}/api/deviceGroups/lost?{CV}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    s.shutdown().await.unwrap();
}
