//! Sample exports of a known model import to exactly the model's devices, in every format, and
//! group queries select the devices the model says.

use std::path::Path;

use fleet_import::sample::{self, Export, SampleDevice};
use fleet_import::{ImportOptions, ImportedFleet, Importer};
use fleet_query::Query;
use serde_json::{json, Map, Value};

use crate::{device, ids};

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// What importing `export` must give for device `d` (see [`crate::device`]).
fn expected(export: Export, d: &SampleDevice) -> Value {
    let mut desired = Map::new();
    if let Some(t) = d.target_temperature {
        desired.insert("targetTemperature".into(), json!(t));
    }
    let reported = json!({"firmware": d.firmware});
    let twin_tags = json!({"region": d.region, "ring": d.ring});
    let aws_tags = json!({"region": d.region, "ring": d.ring.to_string()});
    let mut v = json!({
        "id": d.id, "template": export.template(d.kind), "tags": {}, "desired": {},
        "reported": {}, "provisioned": true, "simulated": false, "enabled": true,
        "iot_edge": false, "connected": null, "last_activity": null, "display_name": null
    });
    let at = rfc3339(d.last_activity_ms);
    match export {
        Export::HubTwins | Export::HubExport => {
            v["tags"] = twin_tags;
            v["desired"] = Value::Object(desired);
            v["reported"] = reported;
            v["enabled"] = json!(d.enabled);
            v["iot_edge"] = json!(d.iot_edge);
            if export == Export::HubTwins {
                v["connected"] = json!(d.connected);
                v["last_activity"] = json!(at);
            }
        }
        Export::Central | Export::CentralProperties => {
            v["desired"] = Value::Object(desired);
            v["reported"] = reported;
            v["provisioned"] = json!(d.provisioned);
            v["enabled"] = json!(d.enabled);
            v["display_name"] = json!(format!("{} {}", d.kind, d.id));
        }
        Export::AwsSearchIndex => {
            v["tags"] = aws_tags;
            v["tags"]["thingGroups"] = json!({format!("ring-{}", d.ring): true});
            v["desired"] = Value::Object(desired);
            v["reported"] = reported;
            v["connected"] = json!(d.connected);
            v["last_activity"] = json!(at);
        }
        Export::AwsListThings => v["tags"] = aws_tags,
        Export::Hawkbit => {
            let status = if d.provisioned {
                "in_sync"
            } else {
                "registered"
            };
            v["tags"] = json!({"updateStatus": status});
            v["reported"] = reported;
            v["provisioned"] = json!(d.provisioned);
            if d.provisioned {
                v["connected"] = json!(d.connected);
                v["last_activity"] = json!(at);
            }
        }
    }
    v
}

/// Imports sample export `export` from `dir`, its format told from its content.
fn import(dir: &Path, export: Export) -> ImportedFleet {
    let mut importer = Importer::new(ImportOptions::default());
    importer.read_file(&dir.join(export.file_name())).unwrap();
    if export == Export::Central {
        importer
            .read_central_properties(&dir.join(Export::CentralProperties.file_name()))
            .unwrap();
    }
    importer.finish().unwrap()
}

/// The ids a query selects.
fn select(imported: &ImportedFleet, query: &str) -> Vec<String> {
    let q = Query::parse_any(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let fleet = &imported.fleet;
    q.compile(fleet)
        .iter()
        .map(|d| fleet.id(d).to_string())
        .collect()
}

/// The sorted ids of the model's devices that `keep` keeps.
fn model_ids(model: &[SampleDevice], keep: impl Fn(&SampleDevice) -> bool) -> Vec<String> {
    let mut ids: Vec<String> = model
        .iter()
        .filter(|d| keep(d))
        .map(|d| d.id.clone())
        .collect();
    ids.sort();
    ids
}

const EXPORTS: [Export; 6] = [
    Export::HubTwins,
    Export::HubExport,
    Export::Central,
    Export::AwsSearchIndex,
    Export::AwsListThings,
    Export::Hawkbit,
];

#[test]
fn every_export_imports_to_exactly_the_model() {
    let n = 2600;
    let model = sample::model(11, n);
    let dir = tempfile::tempdir().unwrap();
    for export in Export::ALL {
        let mut file = std::fs::File::create(dir.path().join(export.file_name())).unwrap();
        sample::write(export, &model, 11, &mut file).unwrap();
    }
    for export in EXPORTS {
        let imported = import(dir.path(), export);
        let format = export.format().unwrap();
        assert_eq!(imported.header.source, format.name());
        assert_eq!(imported.header.devices, n);
        assert_eq!(ids(&imported), model_ids(&model, |_| true), "{export:?}");
        for d in &model {
            assert_eq!(device(&imported, &d.id), expected(export, d), "{export:?}");
        }
        let mut templates: Vec<String> = model
            .iter()
            .filter_map(|d| export.template(d.kind))
            .collect();
        templates.sort();
        templates.dedup();
        assert_eq!(imported.header.templates, templates, "{export:?}");
    }
}

#[test]
fn group_queries_select_what_the_model_says() {
    let model = sample::model(5, 1500);
    let dir = tempfile::tempdir().unwrap();
    for export in Export::ALL {
        let mut file = std::fs::File::create(dir.path().join(export.file_name())).unwrap();
        sample::write(export, &model, 5, &mut file).unwrap();
    }
    let twins = import(dir.path(), Export::HubTwins);
    assert_eq!(
        select(
            &twins,
            "SELECT * FROM devices WHERE tags.region = 'eu' AND connectionState = 'Connected' \
             AND $template = 'dtmi:contoso:Thermostat;1'"
        ),
        model_ids(&model, |d| d.region == "eu"
            && d.connected
            && d.enabled
            && d.kind == "thermostat")
    );
    assert_eq!(
        select(&twins, "capabilities.iotEdge = true AND status = 'enabled'"),
        model_ids(&model, |d| d.iot_edge && d.enabled)
    );
    let export = import(dir.path(), Export::HubExport);
    assert_eq!(
        select(
            &export,
            "tags.ring >= 2 AND properties.reported.firmware = '1.2'"
        ),
        model_ids(&model, |d| d.ring >= 2 && d.firmware == "1.2")
    );
    let central = import(dir.path(), Export::Central);
    assert_eq!(
        select(&central, "SELECT * FROM devices WHERE $provisioned = false"),
        model_ids(&model, |d| !d.provisioned)
    );
    assert_eq!(
        select(&central, "properties.desired.targetTemperature >= 20"),
        model_ids(&model, |d| d.target_temperature.is_some_and(|t| t >= 20.0))
    );
    let aws = import(dir.path(), Export::AwsSearchIndex);
    assert_eq!(
        select(
            &aws,
            "tags.thingGroups.[[ring-1]] = true AND tags.region = 'asia'"
        ),
        model_ids(&model, |d| d.ring == 1 && d.region == "asia")
    );
    let hawkbit = import(dir.path(), Export::Hawkbit);
    assert_eq!(
        select(&hawkbit, "tags.updateStatus = 'registered'"),
        model_ids(&model, |d| !d.provisioned)
    );
    assert_eq!(
        select(&hawkbit, "connectionState = 'Connected'"),
        model_ids(&model, |d| d.provisioned && d.connected)
    );
}
