//! fleet-import's tests over files: the documentation's examples, sample exports from a known
//! model, malformed and truncated exports, and the fleet file.

mod errors;
mod examples;
mod fleet_file;
mod roundtrip;

use std::path::{Path, PathBuf};

use fleet_import::{ImportOptions, ImportedFleet, Importer};
use serde_json::{json, Value};

/// A file of `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Imports these files of `tests/data`, their format told from their content.
pub fn import_data(names: &[&str]) -> ImportedFleet {
    let mut importer = Importer::new(ImportOptions::default());
    for name in names {
        importer
            .read_file(&data(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    importer.finish().unwrap()
}

/// Device `id` of an imported fleet as one JSON document: the fleet's snapshot and what the
/// fleet file keeps besides.
pub fn device(imported: &ImportedFleet, id: &str) -> Value {
    let fleet = &imported.fleet;
    let i = fleet
        .index_of(id)
        .unwrap_or_else(|| panic!("no device {id}"));
    let s = fleet.snapshot(i);
    json!({
        "id": s.id, "template": s.template, "tags": s.tags, "desired": s.desired,
        "reported": s.reported, "provisioned": s.provisioned, "simulated": s.simulated,
        "enabled": fleet.is_enabled(i), "iot_edge": fleet.is_iot_edge(i),
        "connected": imported.connected(i), "last_activity": imported.last_activity(i),
        "display_name": imported.display_name(i),
    })
}

/// The ids of an imported fleet, in its order.
pub fn ids(imported: &ImportedFleet) -> Vec<String> {
    (0..imported.fleet.len())
        .map(|i| imported.fleet.id(i).to_string())
        .collect()
}
