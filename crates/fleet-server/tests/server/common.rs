//! Starting servers and talking to them.

use std::time::{Duration, Instant};

use fleet_server::{Config, ConfigBuilder, Server};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const CV: &str = "api-version=2022-07-31";
pub const HV: &str = "api-version=2021-04-12";

/// A scenario with 40 devices, 30 % of operations failing, for reruns and thresholds.
pub const FAILING: &str = r#"
name = "failing"
seed = 3
[fleet]
devices = 40
id_pattern = "dev-{:03}"
templates = [{ template = "dtmi:t;1", share = 1.0 }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
commands = [{ name = "reboot" }]
[[groups]]
id = "all"
selector = { template = "dtmi:t;1" }
[[behaviour.rules]]
latency = { type = "fixed", ms = 1000 }
failure_probability = 0.3
"#;

/// A scenario with an S1 hub (one job at a time, 1.67 job operations per second).
pub const S1_HUB: &str = r#"
name = "s1"
seed = 1
[fleet]
devices = 10
id_pattern = "dev-{:02}"
templates = [{ template = "dtmi:t;1", share = 1.0 }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
[hub]
tier = "S1"
units = 1
"#;

pub struct TestServer {
    pub server: Option<Server>,
    pub base: String,
    pub client: reqwest::Client,
}

pub fn config() -> ConfigBuilder {
    Config::builder()
        .bind("127.0.0.1:0".parse().unwrap())
        .quiet(true)
}

/// Writes a scenario to a file in `dir`.
pub fn scenario(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub async fn start(builder: ConfigBuilder) -> TestServer {
    let server = Server::start(builder.build().unwrap()).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    TestServer {
        server: Some(server),
        base,
        client: reqwest::Client::new(),
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestServer {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body), &[]).await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Reply {
        self.call(Method::POST, path, body, &[]).await
    }

    /// Polls `path` until its `field` is one of `want`.
    pub async fn wait_for(&self, path: &str, field: &str, want: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.get(path).await;
            if let Some(s) = r.body[field].as_str() {
                if want.contains(&s) {
                    return r.body;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {field} never became {want:?}: {}",
                r.body
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }

    pub async fn kill(mut self) {
        if let Some(s) = self.server.take() {
            s.kill().await;
        }
    }
}

/// A property job on the demo fleet's thermostats.
pub fn property_job(group: &str, value: Value) -> Value {
    serde_json::json!({
        "displayName": "Set target temperature",
        "group": group,
        "batch": {"type": "number", "value": 10},
        "data": [{"type": "PropertyJobData", "target": "dtmi:contoso:thermostat;1",
                  "path": "targetTemperature", "value": value}]
    })
}

/// The Central error code of a reply, checking the shape.
pub fn central_code(r: &Reply) -> String {
    let e = &r.body["error"];
    assert!(
        e["message"].is_string(),
        "not the IoT Central error shape: {}",
        r.body
    );
    assert!(
        e["requestId"].is_string() && e["time"].is_string(),
        "{}",
        r.body
    );
    e["code"].as_str().unwrap().to_string()
}

/// The IoT Hub error code of a reply, checking the shape.
pub fn hub_code(r: &Reply) -> String {
    let m = r.body["Message"]
        .as_str()
        .unwrap_or_else(|| panic!("not the IoT Hub error shape: {}", r.body));
    assert!(r.body["ExceptionMessage"]
        .as_str()
        .unwrap()
        .starts_with("Tracking ID:"));
    m.strip_prefix("ErrorCode:")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Follows `nextLink`s from `path`, returning every element.
pub async fn collect_central(s: &TestServer, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(path.to_string());
    let mut pages = 0;
    while let Some(p) = next {
        let r = s.get(&p).await;
        assert_eq!(r.status, 200, "{p}: {}", r.body);
        out.extend(r.body["value"].as_array().unwrap().iter().cloned());
        next = r.body["nextLink"].as_str().map(str::to_string);
        if let Some(n) = &next {
            assert!(
                n.starts_with("http://") && n.contains("api-version="),
                "{n}"
            );
        }
        pages += 1;
        assert!(pages < 1000);
    }
    out
}
