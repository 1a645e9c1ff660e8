//! Shared fixtures.

use fleet_core::DeviceState;
use fleet_sim::*;
use serde_json::json;

pub const THERMOSTAT: &str = "dtmi:contoso:thermostat;1";
pub const SENSOR: &str = "dtmi:contoso:sensor;1";

/// Two templates: a thermostat (writable `temp` double, `mode` string; command `reboot`; cloud
/// property `customer`) and a sensor (writable `rate` integer; no command, no cloud property).
pub fn templates() -> Vec<TemplateSpec> {
    serde_json::from_value(json!([
        {
            "id": THERMOSTAT,
            "properties": [{"name": "temp", "schema": "double"}, {"name": "mode", "schema": "string"}],
            "commands": [{"name": "reboot"}],
            "cloud_properties": [{"name": "customer", "schema": "string"}]
        },
        {"id": SENSOR, "properties": [{"name": "rate", "schema": "integer"}]}
    ]))
    .unwrap()
}

/// An explicit fleet from JSON device specs.
pub fn fleet(devices: serde_json::Value) -> Fleet {
    Fleet::from_json(&templates(), &devices.to_string()).unwrap()
}

/// A generated fleet of `n` thermostats named `dev-{:06}`.
pub fn thermostats(n: u32) -> FleetSpec {
    FleetSpec {
        devices: n,
        id_pattern: "dev-{:06}".into(),
        templates: vec![TemplateShare {
            template: THERMOSTAT.into(),
            share: Some(1.0),
            count: None,
        }],
        ..FleetSpec::default()
    }
}

/// Behaviour from JSON.
pub fn behaviour(v: serde_json::Value) -> BehaviourSpec {
    serde_json::from_value(v).unwrap()
}

/// The row of device `id` in job 0.
pub fn row<'a>(result: &'a SimResult, id: &str) -> DeviceRow<'a> {
    result
        .device_rows(0)
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("{id} is not a target"))
}

/// (state, reason) of device `id` in job 0.
pub fn fate(result: &SimResult, id: &str) -> (DeviceState, Option<&'static str>) {
    let r = row(result, id);
    (r.state, r.reason.map(Reason::as_str))
}

/// When device target `device` of job `job` got its (last) answer, from the recorded events.
pub fn answered_at(result: &SimResult, job: u16, device: u32) -> Option<i64> {
    result
        .events
        .as_ref()
        .expect("record_events(true)")
        .iter()
        .filter(|e| e.kind == "answer" && e.job == job && e.device == device)
        .map(|e| e.at_ms)
        .next_back()
}

/// A property job.
pub fn set_temp(id: &str, value: f64) -> JobSpec {
    JobSpec::new(
        id,
        Operation::Property {
            name: "temp".into(),
            value: json!(value),
        },
    )
}
