//! The documentation's examples, as `tests/data` copies them, import to the devices they
//! describe.

use fleet_query::Query;
use serde_json::json;

use crate::{device, ids, import_data};

#[test]
fn iot_hub_twins_of_the_guides() {
    let imported = import_data(&["iothub-twins-docs.json"]);
    assert_eq!(imported.header.source, "iothub-twins");
    assert_eq!(ids(&imported), ["devA", "myDeviceId", "sample-device"]);
    assert_eq!(
        device(&imported, "devA"),
        json!({
            "id": "devA", "template": null,
            // `$etag` is metadata, not a tag.
            "tags": {"deploymentLocation": {"building": "43", "floor": "1"}},
            "desired": {"telemetryConfig": {"sendFrequency": "5m"}},
            "reported": {"telemetryConfig": {"sendFrequency": "5m", "status": "success"}, "batteryLevel": 55},
            "provisioned": true, "simulated": false, "enabled": true, "iot_edge": false,
            // The guide writes "connected"; the time is kept as written, 30 February and all.
            "connected": true, "last_activity": "2015-02-30T16:24:48.789Z", "display_name": null
        })
    );
    let my = device(&imported, "myDeviceId");
    assert_eq!(my["connected"], json!(false));
    assert_eq!(my["tags"]["location"]["plant"], json!("Redmond43"));
    assert_eq!(my["reported"]["connectivity"], json!({"type": "cellular"}));
    let pnp = device(&imported, "sample-device");
    assert_eq!(
        pnp["template"],
        json!("dtmi:com:example:TemperatureController;1")
    );
    assert_eq!(
        pnp["desired"]["thermostat1"],
        json!({"__t": "c", "targetTemperature": 21.8})
    );
    assert_eq!(pnp["connected"], json!(null));
    assert_eq!(
        imported.header.templates,
        ["dtmi:com:example:TemperatureController;1"]
    );
    // Queries see what the hub's would.
    let fleet = &imported.fleet;
    let select = |q: &str| -> Vec<String> {
        let q = Query::parse_any(q).unwrap();
        q.compile(fleet)
            .iter()
            .map(|d| fleet.id(d).to_string())
            .collect()
    };
    assert_eq!(select("tags.location.region = 'US'"), ["myDeviceId"]);
    assert_eq!(select("connectionState = 'Disconnected'"), ["myDeviceId"]);
    assert_eq!(select("properties.reported.batteryLevel < 60"), ["devA"]);
    assert_eq!(
        select("modelId = 'dtmi:com:example:TemperatureController;1'"),
        ["sample-device"]
    );
    assert_eq!(
        select("properties.reported.thermostat1.maxTempSinceLastReboot > 25"),
        ["sample-device"]
    );
}

#[test]
fn the_device_export_of_the_bulk_guide() {
    let imported = import_data(&["devices.txt"]);
    assert_eq!(imported.header.source, "iothub-export");
    assert_eq!(
        ids(&imported),
        [
            "Device1",
            "Device2",
            "Device3",
            "Device4",
            "Device5",
            "export-6d84f075-0"
        ]
    );
    let disabled: Vec<String> = (0..imported.fleet.len())
        .filter(|&i| !imported.fleet.is_enabled(i))
        .map(|i| imported.fleet.id(i).to_string())
        .collect();
    assert_eq!(disabled, ["Device3", "Device4"]);
    assert_eq!(
        device(&imported, "export-6d84f075-0"),
        json!({
            "id": "export-6d84f075-0", "template": null, "tags": {"Location": "LivingRoom"},
            "desired": {"Thermostat": {"Temperature": 75.1, "Unit": "F"}}, "reported": {},
            "provisioned": true, "simulated": false, "enabled": true, "iot_edge": false,
            "connected": null, "last_activity": null, "display_name": null
        })
    );
    // A disabled device is disconnected, as the hub shows it.
    assert_eq!(
        imported.fleet.twin(2)["connectionState"],
        json!("Disconnected")
    );
    assert_eq!(imported.fleet.twin(2)["status"], json!("disabled"));
}

#[test]
fn iot_central_pages_and_properties() {
    let mut importer = fleet_import::Importer::new(Default::default());
    importer
        .read_file(&crate::data("central-devices.json"))
        .unwrap();
    importer
        .read_central_properties(&crate::data("central-properties.json"))
        .unwrap();
    let imported = importer.finish().unwrap();
    assert_eq!(imported.header.source, "central");
    assert_eq!(ids(&imported), ["5jcwskdwbm", "CheckoutThermostat", "ccc"]);
    assert_eq!(
        device(&imported, "5jcwskdwbm"),
        json!({
            "id": "5jcwskdwbm", "template": "dtmi:contoso:Thermostat;1", "tags": {},
            "desired": {}, "reported": {}, "provisioned": false, "simulated": false,
            "enabled": true, "iot_edge": false, "connected": null, "last_activity": null,
            "display_name": "Thermostat - 5jcwskdwbm"
        })
    );
    let ccc = device(&imported, "ccc");
    assert_eq!(ccc["simulated"], json!(true));
    assert_eq!(ccc["display_name"], json!("CheckoutThermostat"));
    assert_eq!(
        ccc["reported"],
        json!({"maxTempSinceLastReboot": 93.95907131817654})
    );
    let checkout = device(&imported, "CheckoutThermostat");
    // The display name is the id: not kept.
    assert_eq!(checkout["display_name"], json!(null));
    assert_eq!(
        checkout["template"],
        json!("dtmi:contoso:testDeviceTemplate;1")
    );
    assert_eq!(
        checkout["reported"],
        json!({"serialNumber": "Explicabo animi nihil qui facere sit explicabo nisi.",
               "thermostat1": {"maxTempSinceLastReboot": 79.7290121339184}})
    );
    assert_eq!(
        checkout["desired"],
        json!({"thermostat1": {"targetTemperature": 65.5}})
    );
    let fleet = &imported.fleet;
    let q = Query::parse("SELECT * FROM devices WHERE $provisioned = true AND $simulated = true")
        .unwrap();
    let selected: Vec<String> = q
        .compile(fleet)
        .iter()
        .map(|d| fleet.id(d).to_string())
        .collect();
    assert_eq!(selected, ["CheckoutThermostat", "ccc"]);
}

#[test]
fn aws_search_index_and_list_things() {
    let bulbs = import_data(&["aws-search-index-lightbulbs.json"]);
    assert_eq!(bulbs.header.source, "aws");
    assert_eq!(
        device(&bulbs, "MyLightBulb"),
        json!({
            "id": "MyLightBulb", "template": "LightBulb",
            "tags": {"model": "123", "wattage": "75",
                     "thingGroups": {"LightBulbs": true, "DeadBulbs": true}},
            "desired": {}, "reported": {}, "provisioned": true, "simulated": false,
            "enabled": true, "iot_edge": false, "connected": false, "last_activity": null,
            "display_name": null
        })
    );
    let fleet = &bulbs.fleet;
    let q = Query::parse_condition("tags.thingGroups.DeadBulbs = true").unwrap();
    let selected: Vec<String> = q
        .compile(fleet)
        .iter()
        .map(|d| fleet.id(d).to_string())
        .collect();
    assert_eq!(selected, ["MyLightBulb"]);

    let robots = import_data(&["aws-search-index-robots.json"]);
    let r3 = device(&robots, "robot3");
    assert_eq!(r3["desired"], json!({"robot3-shadow": {"digit": 47}}));
    assert_eq!(r3["reported"], json!({"robot3-shadow": {"digit": 22}}));
    assert_eq!(r3["connected"], json!(true));
    assert_eq!(r3["last_activity"], json!("2024-06-11T19:36:14.573Z"));
    assert_eq!(r3["template"], json!(null));

    let bike = import_data(&["aws-search-index-bike.json"]);
    let b = device(&bike, "Bike-1");
    assert_eq!(
        b["reported"],
        json!({"coordinates": {"lat": 47.6153, "lon": -122.3333}})
    );
    assert_eq!(b["tags"]["battery"], json!("35"));
    assert_eq!(b["connected"], json!(null));

    let listed = import_data(&["aws-list-things.json"]);
    assert_eq!(
        ids(&listed),
        [
            "MyLightBulb",
            "MyOtherLightBulb",
            "SampleIoTThing",
            "ThirdBulb"
        ]
    );
    assert_eq!(listed.header.templates, ["LightBulb"]);
    assert_eq!(device(&listed, "SampleIoTThing")["tags"], json!({}));
    assert_eq!(
        device(&listed, "ThirdBulb")["tags"],
        json!({"model": "123", "wattage": "75"})
    );
}

#[test]
fn hawkbit_targets_page() {
    let imported = import_data(&["hawkbit-targets.json"]);
    assert_eq!(imported.header.source, "hawkbit");
    assert_eq!(
        device(&imported, "137"),
        json!({
            "id": "137", "template": "defaultType", "tags": {"updateStatus": "in_sync"},
            "desired": {}, "reported": {}, "provisioned": true, "simulated": false,
            "enabled": true, "iot_edge": false, "connected": true,
            "last_activity": "2023-04-25T07:42:57.978Z", "display_name": null
        })
    );
    let never = device(&imported, "rock5b-aabbccddeeff");
    assert_eq!(never["provisioned"], json!(false));
    assert_eq!(never["connected"], json!(null));
    assert_eq!(
        never["reported"],
        json!({"VIN": "JH4TB2H26CC000000", "hwRevision": "2"})
    );
    // A target that never polled never connects: the hub-style query sees it disconnected.
    let i = imported.fleet.index_of("rock5b-aabbccddeeff").unwrap();
    assert_eq!(
        imported.fleet.twin(i)["connectionState"],
        json!("Disconnected")
    );
}
