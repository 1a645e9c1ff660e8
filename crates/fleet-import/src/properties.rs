//! IoT Central device properties, joined to the devices already read: a file with a JSON
//! object of device id to `GET /api/devices/{id}/properties` document, or a directory of
//! `<device id>.json` documents.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::Path;

use fleet_sim::Section;

use crate::error::{Error, Result};
use crate::formats::central;
use crate::importer::Importer;
use crate::stream::{self, Input, RawRecord};

/// Reads the properties at `path` into `importer`'s devices.
pub(crate) fn read(importer: &mut Importer, path: &Path) -> Result<()> {
    let positions: HashMap<String, u32> = importer
        .positions()
        .into_iter()
        .map(|(id, p)| (id.to_string(), p))
        .collect();
    if path.is_dir() {
        return read_dir(importer, &positions, path);
    }
    let file = File::open(path).map_err(|e| Error::from(e).with_file(path))?;
    let input = Input::Reader(Box::new(file));
    let mut each = |raw: RawRecord<'_>| {
        let id = raw.key.unwrap_or_default();
        let result = apply(importer, &positions, id, raw.text)
            .map_err(|e| e.with_line(raw.line).with_record(raw.record));
        importer.absorb_error_or_ok(result, path)
    };
    stream::read_entries(path, input, &mut each)?;
    Ok(())
}

/// A directory of `<device id>.json` files, in name order.
fn read_dir(importer: &mut Importer, positions: &HashMap<String, u32>, dir: &Path) -> Result<()> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e: std::io::Error| Error::from(e).with_file(dir))?;
    files.retain(|p| p.extension().is_some_and(|x| x == "json"));
    files.sort();
    for path in files {
        let Some(id) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let text = fs::read_to_string(&path).map_err(|e| Error::from(e).with_file(&path))?;
        let result = apply(importer, positions, id, &text).map_err(|e| e.with_file(&path));
        importer.absorb_error_or_ok(result, &path)?;
    }
    Ok(())
}

/// Sets device `id`'s properties from the document `text`.
fn apply(
    importer: &mut Importer,
    positions: &HashMap<String, u32>,
    id: &str,
    text: &str,
) -> Result<()> {
    let Some(&position) = positions.get(id) else {
        return Err(Error::invalid(
            "",
            format!("properties of device {id:?}, which is not among the devices read"),
        ));
    };
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid("", format!("not a properties document: {e}")))?;
    let (desired, reported) = central::properties(doc)?;
    for (section, entries) in [(Section::Desired, desired), (Section::Reported, reported)] {
        for (name, value) in entries {
            importer.set(position, section, &name, &value);
        }
    }
    Ok(())
}
