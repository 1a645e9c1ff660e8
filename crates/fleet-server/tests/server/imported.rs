//! `fleetsim serve --scenario` over an imported fleet (`[fleet] file`): device queries and
//! jobs see the imported devices as the real hub would.

use serde_json::json;

use crate::common::*;

/// A fleet file of five devices: two EU thermostats (one disabled), an EU sensor that was
/// disconnected, a US thermostat and an IoT Edge gateway.
const FLEET: &str = r#"{"fleetsim_fleet":1,"source":"iothub-twins","files":["twins.json"],"devices":5,"templates":["dtmi:contoso:Sensor;1","dtmi:contoso:Thermostat;1"],"skipped":0,"modules":0}
{"id":"gw-1","tags":{"region":"us"},"iot_edge":true,"connected":true}
{"id":"sens-1","template":"dtmi:contoso:Sensor;1","tags":{"region":"eu"},"connected":false,"last_activity":"2026-01-01T00:00:00Z"}
{"id":"therm-1","template":"dtmi:contoso:Thermostat;1","tags":{"region":"eu"},"reported":{"fw":"1.2"},"connected":true}
{"id":"therm-2","template":"dtmi:contoso:Thermostat;1","tags":{"region":"eu"},"enabled":false}
{"id":"therm-3","template":"dtmi:contoso:Thermostat;1","tags":{"region":"us"},"reported":{"fw":"1.3"}}
"#;

const SCENARIO: &str = r#"
name = "imported"
seed = 1
[fleet]
file = "fleet.jsonl"
[[templates]]
id = "dtmi:contoso:Thermostat;1"
properties = [{ name = "p", schema = "integer" }]
[[groups]]
id = "eu-thermostats"
displayName = "EU thermostats"
filter = "SELECT * FROM devices WHERE $template = \"dtmi:contoso:Thermostat;1\" AND tags.region = \"eu\""
[[behaviour.rules]]
latency = { type = "fixed", ms = 1000 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_and_jobs_see_the_imported_devices() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.jsonl"), FLEET).unwrap();
    let path = scenario(dir.path(), SCENARIO);
    let s = start(config().scenario(&path).time_scale(100.0)).await;
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|t| t["deviceId"].as_str().unwrap().to_string())
            .collect()
    };
    let q = |text: &str| json!({ "query": text });
    let r = s
        .post(
            &format!("/devices/query?{HV}"),
            Some(q("SELECT * FROM devices WHERE tags.region = 'eu'")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.body), ["sens-1", "therm-1", "therm-2"]);
    let twin = &r.body[1];
    assert_eq!(twin["properties"]["reported"]["fw"], "1.2");
    assert_eq!(twin["connectionState"], "Connected");
    assert_eq!(r.body[0]["connectionState"], "Disconnected");
    assert_eq!(r.body[2]["status"], "disabled");
    let r = s
        .post(
            &format!("/devices/query?{HV}"),
            Some(q("SELECT * FROM devices WHERE capabilities.iotEdge = true")),
        )
        .await;
    assert_eq!(ids(&r.body), ["gw-1"]);
    // An IoT Central job on the group: exactly the EU thermostats; the disabled one cannot
    // connect.
    let job = json!({
        "group": "eu-thermostats",
        "data": [{"type": "property", "target": "dtmi:contoso:Thermostat;1", "path": "p", "value": 7}]
    });
    assert_eq!(s.put(&format!("/api/jobs/j?{CV}"), job).await.status, 200);
    let r = s.get(&format!("/api/jobs/j/devices?{CV}")).await;
    let devices: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["therm-1", "therm-2"]);
    s.stop().await;
}
