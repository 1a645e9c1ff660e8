//! Malformed, truncated and invalid exports: errors name the file, the line or record and the
//! field; `--skip-bad` skips and counts what it can.

use std::path::Path;

use fleet_import::{Error, Format, ImportOptions, Importer};

/// Imports `text` from memory and through a reader: both must give the same fleet or error.
fn import(
    text: &str,
    format: Format,
    skip_bad: bool,
) -> Result<fleet_import::ImportedFleet, Error> {
    let options = ImportOptions {
        format: None,
        skip_bad,
    };
    let mut from_bytes = Importer::new(options);
    let bytes = from_bytes
        .read_bytes(Path::new("export.json"), text.as_bytes(), format)
        .and_then(|()| from_bytes.finish());
    let mut from_reader = Importer::new(options);
    let reader = from_reader
        .read(Path::new("export.json"), text.as_bytes(), format)
        .and_then(|()| from_reader.finish());
    match (&bytes, &reader) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.header, b.header);
            assert_eq!(a.skipped_samples(), b.skipped_samples());
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!(
            "bytes and reader disagree: {:?} / {:?}",
            bytes.is_ok(),
            reader.is_ok()
        ),
    }
    bytes
}

fn error(text: &str, format: Format) -> Error {
    import(text, format, false).unwrap_err()
}

#[test]
fn a_field_of_the_wrong_type_names_file_line_record_and_field() {
    let text =
        "[\n{\"deviceId\": \"a\"},\n{\"deviceId\": \"b\",\n \"properties\": {\"desired\": [1]}}\n]";
    let e = error(text, Format::HubTwins);
    assert_eq!(e.file(), Some(Path::new("export.json")));
    assert_eq!((e.line(), e.record()), (Some(4), Some(2)));
    assert_eq!(e.field(), Some("properties.desired"));
    assert_eq!(
        e.to_string(),
        "export.json:4 (record 2): field `properties.desired`: invalid type: sequence, expected an object of names and values"
    );
}

#[test]
fn missing_ids_and_bad_values_name_the_field() {
    let e = error("{\"id\": \"a\"}\n{\"eTag\": \"MA==\"}\n", Format::HubExport);
    assert_eq!((e.line(), e.record(), e.field()), (Some(2), Some(2), None));
    assert!(e.to_string().contains("missing field `id`"), "{e}");
    let e = error("{\"id\": \"a\", \"status\": \"on\"}\n", Format::HubExport);
    assert_eq!((e.line(), e.field()), (Some(1), Some("status")));
    let e = error(r#"{"things": [{"thingName": ""}]}"#, Format::Aws);
    assert_eq!((e.record(), e.field()), (Some(1), Some("thingName")));
    assert!(e.to_string().contains("an empty device id"), "{e}");
    let e = error(
        r#"{"things": [{"thingName": "x", "shadow": "{\"desired\": 3}"}]}"#,
        Format::Aws,
    );
    assert_eq!(e.field(), Some("shadow"));
    let e = error(
        r#"{"things": [{"thingName": "x", "connectivity": {"connected": "yes"}}]}"#,
        Format::Aws,
    );
    assert_eq!(e.field(), Some("connectivity.connected"));
    let e = error(
        r#"{"content": [{"controllerId": "t", "pollStatus": {"overdue": 1}}], "total": 1}"#,
        Format::Hawkbit,
    );
    assert_eq!(e.field(), Some("pollStatus.overdue"));
    let e = error(
        r#"{"value": [{"id": "d", "enabled": "true"}]}"#,
        Format::Central,
    );
    assert_eq!(e.field(), Some("enabled"));
}

#[test]
fn truncated_exports_say_where_they_end() {
    let text = "[\n{\"deviceId\": \"a\"},\n{\"deviceId\": \"b\", \"tags\": {\"x\"";
    let e = error(text, Format::HubTwins);
    assert_eq!(
        (e.file(), e.line()),
        (Some(Path::new("export.json")), Some(3))
    );
    assert!(
        e.to_string()
            .contains("the file ends inside a value (truncated?)"),
        "{e}"
    );
    // A truncated export is not skippable: its end cannot be read.
    let e = import(text, Format::HubTwins, true).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    let e = error(
        "{\"id\": \"a\"}\n{\"id\": \"b\", \"tags\": {",
        Format::HubExport,
    );
    assert_eq!(e.line(), Some(2));
    let e = error(
        "{\"value\": [{\"id\": \"a\"}, {\"id\": \"b\"}",
        Format::Central,
    );
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn malformed_json_names_the_line() {
    let e = error(
        "[\n{\"deviceId\": \"a\"}\n{\"deviceId\": \"b\"}\n]",
        Format::HubTwins,
    );
    assert_eq!(e.line(), Some(3));
    assert!(
        e.to_string()
            .contains("not valid JSON: expected `,` or `]`"),
        "{e}"
    );
}

#[test]
fn skip_bad_counts_the_records_it_skips() {
    let text = "[{\"deviceId\": \"a\"}, {\"deviceId\": 3}, {\"deviceId\": \"c\", \"status\": \"gone\"}, {\"deviceId\": \"d\"}]";
    let imported = import(text, Format::HubTwins, true).unwrap();
    assert_eq!(imported.fleet.len(), 2);
    assert_eq!(imported.header.skipped, 2);
    let samples = imported.skipped_samples();
    assert_eq!(samples.len(), 2);
    assert!(
        samples[0].starts_with("export.json:1 (record 2): field `deviceId`: invalid type"),
        "{}",
        samples[0]
    );
    assert!(
        samples[1].contains("(record 3): field `status`"),
        "{}",
        samples[1]
    );
    // Without --skip-bad the first one stops the import.
    let e = import(text, Format::HubTwins, false).unwrap_err();
    assert_eq!(e.record(), Some(2));
}

#[test]
fn duplicate_ids_name_both_records() {
    let mut importer = Importer::new(ImportOptions::default());
    importer
        .read(
            Path::new("a.json"),
            r#"[{"deviceId": "x"}, {"deviceId": "y"}]"#.as_bytes(),
            Format::HubTwins,
        )
        .unwrap();
    importer
        .read(
            Path::new("b.json"),
            r#"[{"deviceId": "z"}, {"deviceId": "x"}]"#.as_bytes(),
            Format::HubTwins,
        )
        .unwrap();
    let e = importer.finish().unwrap_err();
    assert_eq!(
        e.to_string(),
        "b.json (record 2): device id \"x\" is given twice: here and in a.json (record 1)"
    );
}

#[test]
fn files_of_two_formats_do_not_mix() {
    let mut importer = Importer::new(ImportOptions::default());
    importer
        .read(
            Path::new("a.json"),
            r#"[{"deviceId": "x"}]"#.as_bytes(),
            Format::HubTwins,
        )
        .unwrap();
    let e = importer
        .read(
            Path::new("b.json"),
            r#"{"things": []}"#.as_bytes(),
            Format::Aws,
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("b.json is aws, but a.json is iothub-twins"),
        "{e}"
    );
}

#[test]
fn modules_are_counted_not_imported() {
    let text = "{\"id\": \"edge\", \"status\": \"enabled\", \"capabilities\": {\"iotEdge\": true}}\n{\"id\": \"edge\", \"moduleId\": \"$edgeAgent\", \"status\": \"enabled\"}\n";
    let imported = import(text, Format::HubExport, false).unwrap();
    assert_eq!(imported.fleet.len(), 1);
    assert_eq!(imported.header.modules, 1);
    assert!(imported.fleet.is_iot_edge(0));
}

#[test]
fn properties_of_unknown_devices_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let devices = dir.path().join("devices.json");
    std::fs::write(&devices, r#"{"value": [{"id": "a"}, {"id": "b"}]}"#).unwrap();
    let props = dir.path().join("props");
    std::fs::create_dir(&props).unwrap();
    std::fs::write(props.join("a.json"), r#"{"fw": "1.2"}"#).unwrap();
    std::fs::write(props.join("zz.json"), r#"{"fw": "1.3"}"#).unwrap();
    let mut importer = Importer::new(ImportOptions::default());
    importer.read_file(&devices).unwrap();
    let e = importer.read_central_properties(&props).unwrap_err();
    assert_eq!(e.file(), Some(props.join("zz.json").as_path()));
    assert!(
        e.to_string()
            .contains("properties of device \"zz\", which is not among the devices read"),
        "{e}"
    );
    let mut importer = Importer::new(ImportOptions {
        format: None,
        skip_bad: true,
    });
    importer.read_file(&devices).unwrap();
    importer.read_central_properties(&props).unwrap();
    let imported = importer.finish().unwrap();
    assert_eq!(imported.header.skipped, 1);
    assert_eq!(imported.fleet.reported(0, "fw"), Some(&"1.2".into()));
    let map = dir.path().join("map.json");
    std::fs::write(&map, "{\"a\": {\"fw\": \"1.4\"},\n \"b\": [1]}").unwrap();
    let mut importer = Importer::new(ImportOptions::default());
    importer.read_file(&devices).unwrap();
    let e = importer.read_central_properties(&map).unwrap_err();
    assert_eq!((e.line(), e.record()), (Some(2), Some(2)));
}

#[test]
fn unknown_formats_ask_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.json");
    std::fs::write(&path, r#"[{"serial": "x"}]"#).unwrap();
    let e = Importer::new(ImportOptions::default())
        .read_file(&path)
        .unwrap_err();
    assert_eq!(e.file(), Some(path.as_path()));
    assert!(
        e.to_string()
            .contains("its first record has the fields serial; give --format"),
        "{e}"
    );
}
