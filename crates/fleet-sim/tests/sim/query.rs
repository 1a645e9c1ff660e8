//! The device query language over a fleet: a table of queries and the devices they select
//! (every example of the seeds and of API-NOTES.md among them), and property tests that the
//! compiled evaluator agrees with the reference interpreter over device documents.

use fleet_query::Query;
use fleet_sim::*;
use proptest::prelude::*;
use serde_json::{json, Value};

const DTDL: &str = "dtmi:modelDefinition:dtdlv2";
const THERMOSTAT: &str = "dtmi:contoso:thermostat;1";
const SENSOR: &str = "dtmi:contoso:sensor;1";

fn templates() -> Vec<TemplateSpec> {
    [DTDL, THERMOSTAT, SENSOR]
        .iter()
        .map(|id| TemplateSpec {
            id: id.to_string(),
            ..Default::default()
        })
        .collect()
}

/// Eight devices; in id (byte) order: MyDevice1, MyDevice2, o'brien, sensor-01, test-device,
/// therm-001, therm-002, Ärger.
fn table_fleet() -> Fleet {
    let devices = json!([
        {"id": "MyDevice1", "template": DTDL,
         "tags": {"firmware": "1.2", "region": "eu", "group": "canary",
                  "location": {"region": "US", "plant": "Redmond43"}},
         "desired": {"telemetryConfig": {"sendFrequencyInSecs": 300}},
         "reported": {"connectivity": {"type": "cellular"}, "battery": 80}},
        {"id": "MyDevice2", "template": DTDL, "provisioned": false,
         "tags": {"firmware": "1.3", "region": "us", "location": {"region": "EU"}},
         "reported": {"battery": 15}},
        {"id": "o'brien", "template": SENSOR,
         "tags": {"firmware": "2.0", "region": "eu", "Mixed Case": "yes"},
         "reported": {"connectivity": {"type": "wifi"}}},
        {"id": "sensor-01", "template": SENSOR, "simulated": false,
         "tags": {"firmware": "1.2", "region": "asia", "floor": 3, "nulltag": null},
         "reported": {"battery": 50.5}},
        {"id": "test-device", "template": THERMOSTAT, "connected": false,
         "tags": {"firmware": "1.2", "region": "us", "group": "beta"},
         "desired": {"test1": "value1"}},
        {"id": "therm-001", "template": THERMOSTAT,
         "tags": {"firmware": 1.2, "region": "eu", "floor": 16, "flag": true},
         "reported": {"battery": 100, "fw": "1.2"}},
        {"id": "therm-002", "tags": {"region": "eu", "floor": 0}},
        {"id": "Ärger", "template": THERMOSTAT,
         "tags": {"firmware": "1.2", "region": "Zürich", "list": ["a", "b"]}}
    ]);
    Fleet::from_json(&templates(), &devices.to_string()).unwrap()
}

const ALL: &[&str] = &[
    "MyDevice1",
    "MyDevice2",
    "o'brien",
    "sensor-01",
    "test-device",
    "therm-001",
    "therm-002",
    "Ärger",
];

/// (query, the ids it selects, in id order).
const CASES: &[(&str, &[&str])] = &[
    // The seeds: IoT Central group filter (how-to, every language) and IoT Hub queryConditions.
    (
        r#"SELECT * FROM devices WHERE $template = "dtmi:modelDefinition:dtdlv2" AND $provisioned = true"#,
        &["MyDevice1"],
    ),
    ("deviceId = 'MyDevice1'", &["MyDevice1"]),
    (
        "deviceId IN ['MyDevice1','MyDevice2']",
        &["MyDevice1", "MyDevice2"],
    ),
    ("deviceId IN ['MyDevice1']", &["MyDevice1"]),
    ("*", ALL),
    ("deviceId = 'test-device'", &["test-device"]),
    // API-NOTES.md: $simulated, [[reserved]] names, IS_DEFINED of null, hex numbers.
    (
        r#"SELECT * FROM devices WHERE $template = "dtmi:modelDefinition:dtdlv2" AND $simulated = true"#,
        &["MyDevice1", "MyDevice2"],
    ),
    ("tags.[[group]] = 'canary'", &["MyDevice1"]),
    ("IS_DEFINED(tags.nulltag)", &["sensor-01"]),
    ("tags.floor = 0x10", &["therm-001"]),
    ("SELECT * FROM devices", ALL),
    // Equality: types must match, strings are case-sensitive.
    (
        "tags.firmware = '1.2'",
        &["MyDevice1", "sensor-01", "test-device", "Ärger"],
    ),
    ("tags.firmware = 1.2", &["therm-001"]),
    (
        "tags.firmware != '1.2'",
        &["MyDevice2", "o'brien", "therm-001"],
    ),
    (
        "tags.firmware <> '1.2'",
        &["MyDevice2", "o'brien", "therm-001"],
    ),
    (
        "NOT (tags.firmware = '1.2')",
        &["MyDevice2", "o'brien", "therm-001"],
    ),
    ("tags.region = 'EU'", &[]),
    ("tags.nulltag = null", &["sensor-01"]),
    ("tags.nulltag != null", &[]),
    ("tags.region != null", ALL),
    ("tags.flag = true", &["therm-001"]),
    ("tags.flag = TRUE", &["therm-001"]),
    ("NOT NOT tags.flag = true", &["therm-001"]),
    // Ordering: numbers and strings (ordinal).
    ("tags.floor > 2", &["sensor-01", "therm-001"]),
    ("tags.floor >= 3", &["sensor-01", "therm-001"]),
    ("tags.floor < 3", &["therm-002"]),
    ("tags.floor <= 3", &["sensor-01", "therm-002"]),
    (
        "tags.floor > -1 AND tags.floor < 0x4",
        &["sensor-01", "therm-002"],
    ),
    ("tags.floor = 1.6e1", &["therm-001"]),
    ("3 < tags.floor", &["therm-001"]),
    (
        "'eu' = tags.region",
        &["MyDevice1", "o'brien", "therm-001", "therm-002"],
    ),
    ("tags.region > 'eu'", &["MyDevice2", "test-device"]),
    ("tags.region < 'eu'", &["sensor-01", "Ärger"]),
    ("tags.firmware < 2", &["therm-001"]),
    // Nested values, objects and arrays.
    ("tags.location.region = 'US'", &["MyDevice1"]),
    ("TAGS.LOCATION.REGION = 'US'", &["MyDevice1"]),
    (
        "tags.location.region IN ['US', 'EU']",
        &["MyDevice1", "MyDevice2"],
    ),
    ("tags.location = 'US'", &[]),
    ("IS_DEFINED(tags.location)", &["MyDevice1", "MyDevice2"]),
    (
        "NOT IS_DEFINED(tags.location)",
        &[
            "o'brien",
            "sensor-01",
            "test-device",
            "therm-001",
            "therm-002",
            "Ärger",
        ],
    ),
    ("tags.list = 'a'", &[]),
    ("tags.list IN ['a']", &[]),
    ("IS_DEFINED(tags.list)", &["Ärger"]),
    ("tags.firmware.major = 1", &[]),
    ("deviceId.x = 'a'", &[]),
    ("IS_DEFINED(tags)", ALL),
    ("IS_DEFINED(properties.desired)", ALL),
    ("properties.desired = 'x'", &[]),
    // IN and NIN.
    (
        "tags.region IN ['eu', 'us']",
        &[
            "MyDevice1",
            "MyDevice2",
            "o'brien",
            "test-device",
            "therm-001",
            "therm-002",
        ],
    ),
    ("tags.region NIN ['eu', 'us']", &["sensor-01", "Ärger"]),
    (
        "tags.firmware NIN ['1.2']",
        &["MyDevice2", "o'brien", "therm-001"],
    ),
    ("tags.region IN []", &[]),
    ("tags.region NIN []", ALL),
    ("tags.missing NIN ['x']", &[]),
    // IoT Central fields.
    (
        "$template = 'dtmi:contoso:thermostat;1'",
        &["test-device", "therm-001", "Ärger"],
    ),
    (
        "$template != 'dtmi:contoso:thermostat;1'",
        &["MyDevice1", "MyDevice2", "o'brien", "sensor-01"],
    ),
    (
        "$template IN ['dtmi:contoso:sensor;1', 'dtmi:modelDefinition:dtdlv2']",
        &["MyDevice1", "MyDevice2", "o'brien", "sensor-01"],
    ),
    ("NOT IS_DEFINED($template)", &["therm-002"]),
    ("$template = 'dtmi:unknown;1'", &[]),
    ("$provisioned = false", &["MyDevice2"]),
    ("$simulated = false", &["sensor-01"]),
    ("$id = 'o\\'brien'", &["o'brien"]),
    // Twin fields.
    (
        "connectionState = 'Disconnected'",
        &["MyDevice2", "test-device"],
    ),
    (
        "connectionState = 'Connected' AND $provisioned = true",
        &[
            "MyDevice1",
            "o'brien",
            "sensor-01",
            "therm-001",
            "therm-002",
            "Ärger",
        ],
    ),
    ("status = 'enabled'", ALL),
    ("status = 'disabled'", &[]),
    ("lastActivityTime > '2020-01-01'", &[]),
    ("IS_DEFINED(lastActivityTime)", &[]),
    ("properties.reported.battery < 50", &["MyDevice2"]),
    (
        "properties.reported.battery >= 50.5",
        &["MyDevice1", "sensor-01", "therm-001"],
    ),
    (
        "properties.reported.connectivity.type = 'cellular'",
        &["MyDevice1"],
    ),
    (
        "properties.desired.telemetryConfig.sendFrequencyInSecs = 300",
        &["MyDevice1"],
    ),
    ("properties.desired.test1 = 'value1'", &["test-device"]),
    ("Properties.Reported.FW = '1.2'", &["therm-001"]),
    // Connectives and three-valued logic.
    (
        "tags.firmware = '1.2' AND tags.region = 'eu'",
        &["MyDevice1"],
    ),
    (
        "tags.firmware = '1.2' OR tags.region = 'asia'",
        &["MyDevice1", "sensor-01", "test-device", "Ärger"],
    ),
    (
        "(tags.region = 'eu' OR tags.region = 'us') AND NOT tags.firmware = '1.2'",
        &["MyDevice2", "o'brien", "therm-001"],
    ),
    ("NOT (tags.firmware = '1.2' OR tags.floor > 1)", &[]),
    (
        "tags.floor > 1 OR NOT IS_DEFINED(tags.floor)",
        &[
            "MyDevice1",
            "MyDevice2",
            "o'brien",
            "sensor-01",
            "test-device",
            "therm-001",
            "Ärger",
        ],
    ),
    (
        "IS_DEFINED(tags.firmware) AND NOT IS_DEFINED(properties.reported.battery)",
        &["o'brien", "test-device", "Ärger"],
    ),
    // Device ids: ranges, escapes, non-ASCII.
    (
        "deviceId < 'sensor'",
        &["MyDevice1", "MyDevice2", "o'brien"],
    ),
    (
        "deviceId >= 'therm-001'",
        &["therm-001", "therm-002", "Ärger"],
    ),
    ("deviceId > 'therm-001'", &["therm-002", "Ärger"]),
    (
        "deviceId <= 'therm-001'",
        &[
            "MyDevice1",
            "MyDevice2",
            "o'brien",
            "sensor-01",
            "test-device",
            "therm-001",
        ],
    ),
    (
        "deviceId != 'MyDevice1'",
        &[
            "MyDevice2",
            "o'brien",
            "sensor-01",
            "test-device",
            "therm-001",
            "therm-002",
            "Ärger",
        ],
    ),
    (
        "deviceId NIN ['MyDevice1', 'nope']",
        &[
            "MyDevice2",
            "o'brien",
            "sensor-01",
            "test-device",
            "therm-001",
            "therm-002",
            "Ärger",
        ],
    ),
    ("deviceId = \"o'brien\"", &["o'brien"]),
    ("deviceId = 'Ärger'", &["Ärger"]),
    ("deviceId = '\\u00c4rger'", &["Ärger"]),
    ("deviceId = 5", &[]),
    ("deviceId != 5", ALL),
    ("DeviceID > 'therm-002'", &["Ärger"]),
    ("tags.region = 'Z\\u00fcrich'", &["Ärger"]),
    ("tags.[[Mixed Case]] = 'yes'", &["o'brien"]),
    ("tags.[[mixed case]] = \"yes\"", &["o'brien"]),
    // TOP, case-insensitive keywords, white space.
    (
        "select top 2 * from DEVICES where tags.region = 'eu'",
        &["MyDevice1", "o'brien"],
    ),
    ("SELECT TOP 0 * FROM devices", &[]),
    (
        "SELECT TOP 100 * FROM devices WHERE $template = 'dtmi:contoso:thermostat;1'",
        &["test-device", "therm-001", "Ärger"],
    ),
    (
        "SELECT *\n  FROM devices\n  WHERE tags.region = 'us'",
        &["MyDevice2", "test-device"],
    ),
];

fn selected(fleet: &Fleet, query: &Query) -> Vec<String> {
    query
        .compile(fleet)
        .iter()
        .map(|d| fleet.id(d).to_string())
        .collect()
}

#[test]
fn the_table_of_queries_selects_the_expected_devices() {
    assert!(CASES.len() >= 60, "{} cases", CASES.len());
    let fleet = table_fleet();
    let twins: Vec<Value> = (0..fleet.len()).map(|d| fleet.twin(d)).collect();
    let ids: Vec<String> = (0..fleet.len()).map(|d| fleet.id(d).to_string()).collect();
    assert_eq!(ids, ALL);
    for (text, expected) in CASES {
        let query = Query::parse_any(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(&selected(&fleet, &query), expected, "compiled: {text}");
        let by_json: Vec<&str> = query
            .select_json(&twins)
            .into_iter()
            .map(|i| ALL[i])
            .collect();
        assert_eq!(&by_json, expected, "reference interpreter: {text}");
        // Its canonical text means the same.
        let again = Query::parse(&query.to_string()).unwrap();
        assert_eq!(&selected(&fleet, &again), expected, "canonical: {query}");
    }
}

#[test]
fn twins_show_the_fleet() {
    let fleet = table_fleet();
    let twin = fleet.twin(fleet.index_of("MyDevice2").unwrap());
    assert_eq!(
        twin,
        json!({
            "deviceId": "MyDevice2", "$id": "MyDevice2", "$template": DTDL,
            "modelId": DTDL, "$provisioned": false, "$simulated": true, "status": "enabled",
            "connectionState": "Disconnected", "capabilities": {"iotEdge": false},
            "tags": {"firmware": "1.3", "region": "us", "location": {"region": "EU"}},
            "properties": {"desired": {}, "reported": {"battery": 15}}
        })
    );
    assert!(fleet.twin(6).get("$template").is_none());
}

#[test]
fn selectors_take_query_strings_and_tables() {
    let fleet = table_fleet();
    let pick = |s: &Selector| -> Vec<String> {
        (0..fleet.len())
            .filter(|&d| s.matches(&fleet, d))
            .map(|d| fleet.id(d).to_string())
            .collect()
    };
    let string: Selector = serde_json::from_value(json!("tags.region = 'us'")).unwrap();
    assert_eq!(pick(&string), ["MyDevice2", "test-device"]);
    let select: Selector = serde_json::from_value(json!(
        "SELECT TOP 1 * FROM devices WHERE tags.region = 'us'"
    ))
    .unwrap();
    assert_eq!(pick(&select), ["MyDevice2"]);
    let both: Selector =
        serde_json::from_value(json!({"template": THERMOSTAT, "query": "tags.firmware = '1.2'"}))
            .unwrap();
    assert_eq!(pick(&both), ["test-device", "Ärger"]);
    let table: Selector = serde_json::from_value(json!({"tags": {"region": "eu"}})).unwrap();
    assert_eq!(
        pick(&table),
        ["MyDevice1", "o'brien", "therm-001", "therm-002"]
    );
    // `*` is the selector of every device.
    let star: Selector = serde_json::from_value(json!("*")).unwrap();
    assert!(star.is_all());
    // Errors carry the column; tables still reject unknown fields.
    let e = serde_json::from_value::<Selector>(json!("tags.region = 'us' AND")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid query: expected a condition after 'AND', found the end of the query at column 23"
    );
    let e = serde_json::from_value::<Selector>(json!({"tag": {}})).unwrap_err();
    assert!(e.to_string().contains("unknown field `tag`"), "{e}");
    // A query selector round-trips through serde.
    let text = serde_json::to_string(&both).unwrap();
    assert_eq!(serde_json::from_str::<Selector>(&text).unwrap(), both);
}

#[test]
fn jobs_and_behaviour_rules_select_by_query() {
    let spec: FleetSpec = serde_json::from_value(json!({
        "devices": 1000, "id_pattern": "dev-{:04}",
        "templates": [{"template": THERMOSTAT, "share": 1}],
        "tags": [{"name": "firmware", "values": [{"value": "1.2", "weight": 1}, {"value": "1.3", "weight": 3}]}]
    }))
    .unwrap();
    let behaviour: BehaviourSpec = serde_json::from_value(json!({"rules": [
        {"latency": {"type": "fixed", "ms": 1000}},
        {"selector": "tags.firmware = '1.2'", "failure_probability": 1.0}
    ]}))
    .unwrap();
    let target: Selector = serde_json::from_value(json!(
        "SELECT TOP 300 * FROM devices WHERE deviceId >= 'dev-0100'"
    ))
    .unwrap();
    let job = JobSpec::new(
        "j",
        Operation::Command {
            name: "reboot".into(),
            payload: Value::Null,
            response_timeout_ms: 30_000,
            connect_timeout_ms: 0,
        },
    )
    .targets(TargetSpec::Selector(target));
    let thermostat = TemplateSpec {
        id: THERMOSTAT.into(),
        commands: vec![CommandSpec {
            name: "reboot".into(),
        }],
        ..Default::default()
    };
    let result = SimBuilder::new(3)
        .templates(vec![thermostat.clone()])
        .fleet(spec.clone())
        .behaviour(behaviour)
        .job(job)
        .build()
        .unwrap()
        .run();
    let fleet = Fleet::generate(&spec, &[thermostat], 3).unwrap();
    let rows: Vec<_> = result.device_rows(0).collect();
    assert_eq!(rows.len(), 300);
    assert_eq!(rows[0].id, "dev-0100");
    assert_eq!(rows[299].id, "dev-0399");
    for r in rows {
        let old = fleet.tag(r.index, "firmware") == Some(&json!("1.2"));
        assert_eq!(r.state == fleet_core::DeviceState::Failed, old, "{}", r.id);
    }
}

// ----- property tests: compiled evaluation = reference interpreter -----

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("1.2")),
        Just(json!("1.3")),
        Just(json!("eu")),
        Just(json!("US")),
        Just(json!("")),
        Just(json!(1.2)),
        Just(json!(0)),
        Just(json!(16)),
        Just(json!(-1)),
        Just(json!(true)),
        Just(json!(false)),
        Just(Value::Null),
        Just(json!(["a"])),
        Just(json!({"region": "eu", "n": 3})),
        Just(json!({"Region": "US", "n": {"m": 1.2}})),
    ]
}

const TAG_NAMES: &[&str] = &["firmware", "region", "location", "Floor"];
const PROP_NAMES: &[&str] = &["battery", "connectivity", "fw"];
const DEVICE_IDS: &[&str] = &[
    "a", "B", "b", "d-1", "d-10", "d-2", "dev-01", "dev-02", "z", "Ä", "o'b",
];

fn props(names: &'static [&'static str]) -> impl Strategy<Value = serde_json::Map<String, Value>> {
    proptest::collection::vec((proptest::sample::select(names), value()), 0..3)
        .prop_map(|kv| kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn device() -> impl Strategy<Value = DeviceSpec> {
    (
        proptest::option::of(proptest::sample::select(vec![DTDL, THERMOSTAT, SENSOR])),
        props(TAG_NAMES),
        props(PROP_NAMES),
        props(PROP_NAMES),
        any::<(bool, bool, bool, bool, bool)>(),
    )
        .prop_map(
            |(
                template,
                tags,
                desired,
                reported,
                (provisioned, simulated, connected, enabled, iot_edge),
            )| DeviceSpec {
                id: String::new(),
                template: template.map(str::to_string),
                tags,
                desired,
                reported,
                cloud_properties: Default::default(),
                provisioned,
                simulated,
                connected,
                enabled,
                iot_edge,
            },
        )
}

/// An explicit fleet with ids from [`DEVICE_IDS`], or a generated one.
fn any_fleet() -> impl Strategy<Value = Fleet> {
    let explicit = proptest::collection::vec(device(), 0..DEVICE_IDS.len()).prop_map(|devices| {
        let devices = devices
            .into_iter()
            .zip(DEVICE_IDS)
            .map(|(d, id)| DeviceSpec {
                id: id.to_string(),
                ..d
            })
            .collect();
        Fleet::from_devices(&templates(), devices).unwrap()
    });
    let generated = (0u32..200, any::<u64>()).prop_map(|(n, seed)| {
        let spec: FleetSpec = serde_json::from_value(json!({
            "devices": n, "id_pattern": "d-{:03}", "id_start": 5,
            "templates": [{"template": DTDL, "count": n / 3}, {"template": SENSOR, "share": 1}],
            "tags": [{"name": "firmware", "values": [{"value": "1.2", "weight": 1}, {"value": 1.2, "weight": 1}]},
                     {"name": "Location", "values": [{"value": "EU", "weight": 1}, {"value": "eu", "weight": 1}]}],
            "reported": [{"name": "battery", "values": [{"value": 16, "weight": 1}, {"value": null, "weight": 1}]}],
            "provisioned": 0.7, "simulated": 0.5
        }))
        .unwrap();
        Fleet::generate(&spec, &templates(), seed).unwrap()
    });
    prop_oneof![explicit, generated]
}

fn path() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "deviceId",
        "$id",
        "DEVICEID",
        "$template",
        "$Template",
        "$provisioned",
        "$simulated",
        "connectionState",
        "status",
        "Status.x",
        "modelId",
        "MODELID",
        "capabilities",
        "capabilities.iotEdge",
        "Capabilities.IOTEDGE",
        "capabilities.other",
        "lastActivityTime",
        "tags",
        "tags.firmware",
        "TAGS.FIRMWARE",
        "tags.region",
        "tags.location",
        "tags.location.region",
        "tags.LOCATION.n.m",
        "tags.floor",
        "tags.firmware.x",
        "properties",
        "properties.desired",
        "properties.reported.battery",
        "properties.Reported.connectivity",
        "properties.desired.fw",
        "properties.other.fw",
        "deviceId.x",
    ])
}

fn constant() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "'1.2'",
        "'eu'",
        "'US'",
        "''",
        "1.2",
        "0",
        "16",
        "0x10",
        "-1",
        "true",
        "false",
        "null",
        "'a'",
        "'b'",
        "'d-1'",
        "'d-10'",
        "'d-2'",
        "'d-07'",
        "'d-050'",
        "'d-100'",
        "'dev-01'",
        "'z'",
        "'Ä'",
        "'o\\'b'",
        "'dtmi:modelDefinition:dtdlv2'",
        "'dtmi:contoso:sensor;1'",
        "'Connected'",
        "'Disconnected'",
        "'enabled'",
        "'disabled'",
    ])
}

fn leaf() -> impl Strategy<Value = String> {
    let op = proptest::sample::select(vec!["=", "!=", "<>", "<", "<=", ">", ">="]);
    prop_oneof![
        4 => (path(), op, constant()).prop_map(|(p, o, c)| format!("{p} {o} {c}")),
        2 => (
            path(),
            any::<bool>(),
            proptest::collection::vec(constant(), 0..4)
        )
            .prop_map(|(p, neg, cs)| format!(
                "{p} {} [{}]",
                if neg { "NIN" } else { "IN" },
                cs.join(", ")
            )),
        1 => path().prop_map(|p| format!("IS_DEFINED({p})")),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("NOT ({e})")),
            proptest::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(") AND ("))),
            proptest::collection::vec(inner, 2..4).prop_map(|v| format!("({})", v.join(") OR ("))),
        ]
    })
}

proptest! {
    #[test]
    fn compiled_queries_agree_with_the_reference_interpreter(
        fleet in any_fleet(),
        condition in condition(),
        top in proptest::option::of(0u64..6),
    ) {
        let text = match top {
            Some(n) => format!("SELECT TOP {n} * FROM devices WHERE {condition}"),
            None => format!("SELECT * FROM devices WHERE {condition}"),
        };
        let query = Query::parse(&text).unwrap();
        let compiled = query.compile(&fleet);
        let twins: Vec<Value> = (0..fleet.len()).map(|d| fleet.twin(d)).collect();
        let expected: Vec<u32> = query.select_json(&twins).into_iter().map(|i| i as u32).collect();
        prop_assert_eq!(compiled.select(), expected, "{}", text);
        for (d, twin) in twins.iter().enumerate() {
            prop_assert_eq!(compiled.truth(d as u32), query.truth_json(twin), "{} on {}", text, twin);
        }
    }
}
