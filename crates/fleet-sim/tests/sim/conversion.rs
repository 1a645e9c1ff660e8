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
fn central_data_needs_exactly_one_entry() {
    let entry = json!({"type": "property", "target": THERMOSTAT, "path": "temp", "value": 1});
    let two = central(json!([entry, entry])).unwrap_err();
    assert_eq!(two.kind(), &ErrorKind::DataEntries(2));
    assert_eq!(two.field(), Some("data"));
    assert_eq!(
        two.to_string(),
        "data: 2 entries: the simulator runs one operation per job"
    );
    let none = central(json!([])).unwrap_err();
    assert_eq!(
        (none.kind(), none.field()),
        (&ErrorKind::DataEntries(0), Some("data"))
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
fn a_manifest_migration_is_not_simulated() {
    let e = central(json!([{"type": "deviceManifestMigration", "manifest": "edge-manifest-1"}]))
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (
            &ErrorKind::NotSimulated("deviceManifestMigration (IoT Edge)".into()),
            Some("data[0].type")
        )
    );
    assert_eq!(
        e.to_string(),
        "data[0].type: deviceManifestMigration (IoT Edge) is not simulated"
    );
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
