//! fleet-import: real fleets from the exports platforms already write, and the fleetsim fleet
//! file that scenarios load (`[fleet] file = "fleet.jsonl"`).
//!
//! Formats read ([`Format`]; every field, used, kept or ignored, in `docs/import.md`):
//!
//! - IoT Hub: `az iot hub query -q "SELECT * FROM devices"` (a JSON array of twins) and the
//!   device export job's `devices.txt` (JSON lines);
//! - IoT Central: `GET /api/devices` pages (one or several per file, several files), and
//!   optionally each device's properties ([`Importer::read_central_properties`]);
//! - AWS IoT: `aws iot search-index` and `aws iot list-things` output;
//! - hawkBit: `GET /rest/v1/targets` pages.
//!
//! ```
//! use fleet_import::{FleetFile, ImportOptions, Importer, Format};
//!
//! let twins = r#"[
//!   {"deviceId": "therm-2", "modelId": "dtmi:contoso:thermostat;1", "status": "enabled",
//!    "connectionState": "Disconnected", "tags": {"ring": 1},
//!    "properties": {"desired": {"$metadata": {}, "$version": 1},
//!                   "reported": {"fw": "1.2", "$metadata": {}, "$version": 5}}},
//!   {"deviceId": "therm-1", "modelId": "dtmi:contoso:thermostat;1", "tags": {"ring": 0}}
//! ]"#;
//! let mut importer = Importer::new(ImportOptions::default());
//! importer.read("twins.json".as_ref(), twins.as_bytes(), Format::HubTwins)?;
//! let imported = importer.finish()?;
//! let mut file = Vec::new();
//! imported.write(&mut file)?;
//!
//! // A scenario reads it back with its own templates.
//! let read = FleetFile::from_reader("fleet.jsonl".as_ref(), file.as_slice())?;
//! assert_eq!(read.header.templates, ["dtmi:contoso:thermostat;1"]);
//! let templates = [fleet_sim::TemplateSpec { id: "dtmi:contoso:thermostat;1".into(), ..Default::default() }];
//! let fleet = read.build(&templates)?;
//! assert_eq!(fleet.id(1).to_string(), "therm-2");
//! assert_eq!(fleet.reported(1, "fw"), Some(&"1.2".into()));
//! assert_eq!(fleet.twin(1)["connectionState"], "Disconnected");
//! # Ok::<(), fleet_import::Error>(())
//! ```
//!
//! # Speed and memory
//!
//! Exports are read record by record (see the `stream` module in the source): an export of
//! any size is never held whole, nor as a `serde_json::Value` tree. Devices go straight into
//! a [`fleet_sim::FleetBuilder`], which keeps ids in one string and interns every tag and
//! property value, so the imported fleet has the generated fleet's columnar layout.
//! `benches/benches/import.rs` measures both; `docs/import.md` has the figures.

#![deny(missing_docs)]

mod error;
pub mod fleet_file;
mod format;
mod formats;
mod imported;
mod importer;
mod properties;
mod record;
pub mod sample;
mod stream;

pub use error::{Error, ErrorKind, Result};
pub use fleet_file::{FleetFile, Header};
pub use format::Format;
pub use imported::ImportedFleet;
pub use importer::{ImportOptions, Importer, SKIPPED_SAMPLES};
