//! The fleet file: written, read back to the same fleet; truncated, malformed or foreign files
//! are errors naming the line.

use std::path::Path;

use fleet_import::sample::{self, Export};
use fleet_import::{Error, FleetFile, Format, ImportOptions, Importer};
use fleet_sim::TemplateSpec;
use serde_json::Value;

/// The fleet file of a sample twins export of `n` devices.
fn fleet_file(n: u32) -> (fleet_import::ImportedFleet, String) {
    let model = sample::model(3, n);
    let mut export = Vec::new();
    sample::write(Export::HubTwins, &model, 3, &mut export).unwrap();
    let mut importer = Importer::new(ImportOptions::default());
    importer
        .read(Path::new("twins.json"), export.as_slice(), Format::HubTwins)
        .unwrap();
    let imported = importer.finish().unwrap();
    let mut out = Vec::new();
    imported.write(&mut out).unwrap();
    (imported, String::from_utf8(out).unwrap())
}

fn read(text: &str) -> Result<FleetFile, Error> {
    FleetFile::from_reader(Path::new("fleet.jsonl"), text.as_bytes())
}

fn templates(file: &FleetFile) -> Vec<TemplateSpec> {
    file.header
        .templates
        .iter()
        .map(|id| TemplateSpec {
            id: id.clone(),
            ..Default::default()
        })
        .collect()
}

#[test]
fn a_fleet_file_reads_back_to_the_same_fleet() {
    let (imported, text) = fleet_file(700);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 701);
    let header: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["fleetsim_fleet"], 1);
    assert_eq!(header["source"], "iothub-twins");
    assert_eq!(header["devices"], 700);
    assert_eq!(header["files"], serde_json::json!(["twins.json"]));
    // Lines are sorted by id, defaults left out.
    let first: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(first["id"], imported.fleet.id(0).to_string());
    assert!(first.get("provisioned").is_none() && first.get("simulated").is_none());
    let file = read(&text).unwrap();
    assert_eq!(file.header, imported.header);
    let t = templates(&file);
    let fleet = file.build(&t).unwrap();
    assert_eq!(fleet.len(), 700);
    for i in 0..fleet.len() {
        assert_eq!(fleet.snapshot(i), imported.fleet.snapshot(i));
        assert_eq!(fleet.twin(i), imported.fleet.twin(i));
    }
    // Written again, byte for byte the same.
    let (_, again) = fleet_file(700);
    assert_eq!(again, text);
}

#[test]
fn a_truncated_fleet_file_is_an_error() {
    let (_, text) = fleet_file(50);
    let cut: String = text.lines().take(40).map(|l| format!("{l}\n")).collect();
    let e = read(&cut).unwrap_err();
    assert_eq!(e.file(), Some(Path::new("fleet.jsonl")));
    assert_eq!(e.line(), Some(40));
    assert!(
        e.to_string()
            .contains("the header says 50 devices, the file has 39 (truncated?)"),
        "{e}"
    );
    // Cut inside a line: that line is not JSON.
    let e = read(&text[..text.len() - 10]).unwrap_err();
    assert_eq!(e.line(), Some(51));
}

#[test]
fn bad_lines_name_the_line_and_the_field() {
    let header = r#"{"fleetsim_fleet":1,"source":"aws","files":[],"devices":2,"templates":[],"skipped":0,"modules":0}"#;
    let e = read(&format!(
        "{header}\n{{\"id\":\"a\"}}\n{{\"id\":\"b\",\"enabled\":\"no\"}}\n"
    ))
    .unwrap_err();
    assert_eq!((e.line(), e.field()), (Some(3), Some("enabled")));
    let e = read(&format!(
        "{header}\n{{\"id\":\"a\"}}\n{{\"id\":\"b\",\"colour\":1}}\n"
    ))
    .unwrap_err();
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    let e = read(&format!(
        "{header}\n{{\"id\":\"a\"}}\n{{\"id\":\"b\",\"template\":\"t\"}}\n"
    ))
    .unwrap_err();
    assert_eq!((e.line(), e.field()), (Some(1), Some("templates")));
    let file = read(&format!("{header}\n{{\"id\":\"a\"}}\n{{\"id\":\"a\"}}\n")).unwrap();
    let e = file.build(&[]).unwrap_err();
    assert_eq!(e.line(), Some(3));
    assert!(
        e.to_string()
            .contains("device id \"a\" is given twice: here and on line 2"),
        "{e}"
    );
}

#[test]
fn foreign_files_are_refused() {
    let e = read("[{\"deviceId\": \"a\"}]\n").unwrap_err();
    assert!(e.to_string().contains("not a fleetsim fleet file"), "{e}");
    let e = read("{\"fleetsim_fleet\": 2}\n").unwrap_err();
    assert_eq!(e.field(), Some("fleetsim_fleet"));
    assert!(
        e.to_string()
            .contains("fleet file version 2; this fleetsim reads version 1"),
        "{e}"
    );
    let e = read("").unwrap_err();
    assert_eq!(e.line(), Some(1));
    // An export given where a fleet file belongs says so.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.jsonl");
    let (_, text) = fleet_file(3);
    std::fs::write(&path, text).unwrap();
    let e = Importer::new(ImportOptions::default())
        .read_file(&path)
        .unwrap_err();
    assert!(
        e.to_string().contains("already a fleetsim fleet file"),
        "{e}"
    );
}
