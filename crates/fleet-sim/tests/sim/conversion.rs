//! The conversion of an IoT Central job's `data` and of an IoT Hub JobRequest into an
//! [`Operation`] ([`Operation::from_central`], [`Operation::from_hub_request`]).

use fleet_core::model::{JobData, JobRequest};
use fleet_sim::*;
use serde_json::{json, Value};

use crate::common::*;

fn data(entries: Value) -> Vec<JobData> {
    serde_json::from_value(entries).unwrap()
}

fn central(entries: Value) -> Result<Operation> {
    Operation::from_central(&data(entries), &templates())
}

fn hub(request: Value) -> Result<Operation> {
    let request: JobRequest = serde_json::from_value(request).unwrap();
    Operation::from_hub_request(&request)
}

#[test]
fn central_entries_become_operations() {
    let property = central(json!([
        {"type": "property", "target": THERMOSTAT, "path": "temp", "value": 21.5}
    ]));
    assert_eq!(
        property,
        Ok(Operation::Property {
            name: "temp".into(),
            value: json!(21.5)
        })
    );
    // The how-to's spelling; `null` is a value.
    let cloud = central(json!([
        {"type": "CloudPropertyJobData", "target": THERMOSTAT, "path": "customer", "value": null}
    ]));
    assert_eq!(
        cloud,
        Ok(Operation::CloudProperty {
            name: "customer".into(),
            value: Value::Null
        })
    );
    let command = central(json!([
        {"type": "command", "target": THERMOSTAT, "path": "reboot", "value": {"delay": 5}}
    ]));
    assert_eq!(
        command,
        Ok(Operation::Command {
            name: "reboot".into(),
            payload: json!({"delay": 5}),
            response_timeout_ms: 30_000,
            connect_timeout_ms: 0
        })
    );
    // A command without a payload sends `null`.
    let bare = central(json!([{"type": "command", "target": THERMOSTAT, "path": "reboot"}]));
    assert_eq!(
        bare,
        Ok(Operation::Command {
            name: "reboot".into(),
            payload: Value::Null,
            response_timeout_ms: 30_000,
            connect_timeout_ms: 0
        })
    );
    let migration = central(json!([{"type": "deviceTemplateMigration", "template": SENSOR}]));
    assert_eq!(
        migration,
        Ok(Operation::TemplateMigration {
            template: SENSOR.into()
        })
    );
}

#[test]
fn several_central_entries_are_one_multiple_operation_in_order() {
    let entry = |path: &str, v: f64| json!({"type": "property", "target": THERMOSTAT, "path": path, "value": v});
    let two = central(json!([entry("temp", 1.0), entry("mode", 2.0)])).unwrap();
    assert_eq!(
        two,
        Operation::Multiple {
            operations: vec![
                Operation::Property {
                    name: "temp".into(),
                    value: json!(1.0)
                },
                Operation::Property {
                    name: "mode".into(),
                    value: json!(2.0)
                },
            ]
        }
    );
    // An error in a later entry names that entry.
    let e = central(json!([entry("temp", 1.0), {"type": "property", "target": "dtmi:nope;1", "path": "x", "value": 1}]))
        .unwrap_err();
    assert_eq!(e.field(), Some("data[1].target"));
    let too_many: Vec<Value> = (0..=Operation::MAX_ENTRIES)
        .map(|i| entry(&format!("p{i}"), 1.0))
        .collect();
    let e = central(Value::Array(too_many)).unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (&ErrorKind::DataEntries(33), Some("data"))
    );
    assert_eq!(
        e.to_string(),
        "data: 33 entries: a job holds 1 to 32 operations (a `multiple` one 2 to 32)"
    );
}

#[test]
fn central_templates_must_be_the_fleets() {
    let e = central(json!([
        {"type": "property", "target": "dtmi:nope;1", "path": "temp", "value": 1}
    ]))
    .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (
            &ErrorKind::UnknownTemplate("dtmi:nope;1".into()),
            Some("data[0].target")
        )
    );
    let e = central(json!([{"type": "command", "target": "dtmi:nope;1", "path": "reboot"}]))
        .unwrap_err();
    assert_eq!(e.field(), Some("data[0].target"));
    let e = central(json!([{"type": "deviceTemplateMigration", "template": "dtmi:nope;1"}]))
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (
            &ErrorKind::UnknownTemplate("dtmi:nope;1".into()),
            Some("data[0].template")
        )
    );
    // No templates at all: every target is unknown.
    let e = Operation::from_central(
        &data(json!([{"type": "property", "target": THERMOSTAT, "path": "temp", "value": 1}])),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnknownTemplate(THERMOSTAT.into()));
}

#[test]
fn a_manifest_migration_becomes_one() {
    let op =
        central(json!([{"type": "DeviceManifestMigrationJobData", "manifest": "edge-manifest-1"}]));
    assert_eq!(
        op,
        Ok(Operation::ManifestMigration {
            manifest: "edge-manifest-1".into()
        })
    );
    // The model checks the entry: a manifest id is required.
    let e = central(json!([{"type": "deviceManifestMigration"}])).unwrap_err();
    assert_eq!(e.field(), Some("data[0].manifest"));
}

#[test]
fn an_entry_the_model_refuses_keeps_the_models_error_under_data_0() {
    let e =
        central(json!([{"type": "property", "target": THERMOSTAT, "path": "temp"}])).unwrap_err();
    assert_eq!(e.field(), Some("data[0].value"));
    let ErrorKind::Engine(model) = e.kind() else {
        panic!("not a model error: {e:?}");
    };
    assert_eq!(model.path(), Some("data[0].value"));
    assert_eq!(model.kind(), &fleet_core::ErrorKind::MissingField("value"));
    // A field that the type does not take.
    let e = central(json!([
        {"type": "deviceTemplateMigration", "template": SENSOR, "path": "temp"}
    ]))
    .unwrap_err();
    assert_eq!(e.field(), Some("data[0].path"));
}

#[test]
fn a_hub_method_job_becomes_a_device_method_with_the_hubs_default_timeouts() {
    let given = hub(json!({
        "jobId": "m1",
        "type": "scheduleDeviceMethod",
        "queryCondition": "*",
        "cloudToDeviceMethod": {
            "methodName": "reboot",
            "payload": {"delay": 5},
            "responseTimeoutInSeconds": 45,
            "connectTimeoutInSeconds": 10
        }
    }));
    assert_eq!(
        given,
        Ok(Operation::DeviceMethod {
            name: "reboot".into(),
            payload: json!({"delay": 5}),
            response_timeout_ms: 45_000,
            connect_timeout_ms: 10_000
        })
    );
    let defaults = hub(json!({
        "type": "scheduleDeviceMethod",
        "cloudToDeviceMethod": {"methodName": "reboot"}
    }));
    assert_eq!(
        defaults,
        Ok(Operation::DeviceMethod {
            name: "reboot".into(),
            payload: Value::Null,
            response_timeout_ms: 30_000,
            connect_timeout_ms: 0
        })
    );
}

#[test]
fn a_hub_twin_job_becomes_an_update_twin() {
    let op = hub(json!({
        "type": "scheduleUpdateTwin",
        "updateTwin": {
            "tags": {"ring": "canary"},
            "properties": {"desired": {"temp": 21, "old": null}}
        }
    }))
    .unwrap();
    let Operation::UpdateTwin { tags, desired } = op else {
        panic!("not an update_twin: {op:?}");
    };
    assert_eq!(Value::Object(tags), json!({"ring": "canary"}));
    assert_eq!(Value::Object(desired), json!({"temp": 21, "old": null}));
    // Only tags: no desired properties.
    let op = hub(json!({"type": "scheduleUpdateTwin", "updateTwin": {"tags": {"a": 1}}})).unwrap();
    assert_eq!(
        op,
        Operation::UpdateTwin {
            tags: json!({"a": 1}).as_object().unwrap().clone(),
            desired: Default::default()
        }
    );
}

#[test]
fn a_hub_job_without_an_operation_is_refused() {
    let e = hub(json!({"jobId": "x", "type": "scheduleUpdateTwin"})).unwrap_err();
    assert_eq!(e.field(), Some("type"));
    assert!(matches!(e.kind(), ErrorKind::NoOperation(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "type: an IoT Hub job needs `cloudToDeviceMethod` or `updateTwin`"
    );
}
