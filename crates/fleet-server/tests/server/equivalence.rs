//! The server and the simulator agree: the same scenario, seed and job give the same result for
//! every device.

use std::collections::BTreeMap;

use serde_json::json;

use crate::common::*;

const SCENARIO: &str = r#"
name = "equivalence"
seed = 11
[fleet]
devices = 200
id_pattern = "dev-{:03}"
templates = [{ template = "dtmi:t;1", share = 1.0 }]
tags = [{ name = "fw", values = [{ value = "1.2", weight = 1 }, { value = "1.3", weight = 3 }] }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
[[groups]]
id = "all"
selector = { template = "dtmi:t;1" }
[[behaviour.rules]]
latency = { type = "lognormal", median_ms = 2000, sigma = 0.5 }
failure_probability = 0.05
reject_probability = 0.02
[[behaviour.rules]]
selector = { tags = { fw = "1.2" } }
failure_probability = 0.2
[[jobs]]
json = '''{"id": "eq", "group": "all", "batch": {"type": "percentage", "value": 20},
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 5}]}'''
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_simulator_give_every_device_the_same_result() {
    // The simulator.
    let scenario =
        fleet_scenario::Scenario::from_str(SCENARIO, fleet_scenario::Format::Toml).unwrap();
    let report = fleet_scenario::run(
        &scenario,
        fleet_scenario::RunOptions { seed: None },
        &mut |_, _| {},
    )
    .unwrap();
    let sim: BTreeMap<String, String> = report
        .result
        .device_rows(0)
        .map(|row| {
            let status = if row.state == fleet_core::DeviceState::Succeeded {
                "completed"
            } else {
                "failed"
            };
            (row.id.to_string(), status.to_string())
        })
        .collect();
    // The server, same scenario, same job through the API.
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(dir.path());
    let s = start(config().scenario(&path).time_scale(1000.0)).await;
    let job = json!({"group": "all", "batch": {"type": "percentage", "value": 20},
        "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 5}]});
    assert_eq!(s.put(&format!("/api/jobs/eq?{CV}"), job).await.status, 200);
    s.wait_for(&format!("/api/jobs/eq?{CV}"), "status", &["complete"])
        .await;
    let served: BTreeMap<String, String> =
        collect_central(&s, &format!("/api/jobs/eq/devices?{CV}"))
            .await
            .into_iter()
            .map(|d| {
                (
                    d["id"].as_str().unwrap().to_string(),
                    d["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
    assert_eq!(served.len(), 200);
    let failed = served.values().filter(|s| *s == "failed").count();
    assert!(
        failed > 10,
        "the fault mix should fail some devices: {failed}"
    );
    assert_eq!(served, sim);
    s.stop().await;
}

fn scenario_file(dir: &std::path::Path) -> std::path::PathBuf {
    scenario(dir, SCENARIO)
}
