//! The fleetsim fleet file: an imported fleet, written by `fleetsim import`, read by a
//! scenario's `[fleet] file`.
//!
//! JSON Lines. Line 1 is the [`Header`]; then one device per line, sorted by id:
//!
//! ```text
//! {"fleetsim_fleet":1,"source":"iothub-twins","files":["twins.json"],"devices":2,"templates":["dtmi:contoso:thermostat;1"],"skipped":0,"modules":0}
//! {"id":"therm-01","template":"dtmi:contoso:thermostat;1","tags":{"ring":1},"reported":{"fw":"1.2"},"connected":false,"last_activity":"2026-01-31T10:00:00Z"}
//! {"id":"therm-02","template":"dtmi:contoso:thermostat;1","tags":{"ring":0},"connected":true}
//! ```
//!
//! A device line's fields (`docs/import.md` has the full table): `id` (required),
//! `template`, `display_name`, `tags`, `desired`, `reported` (objects of top-level names and
//! any JSON values), `provisioned` (default true), `simulated` (default false), `enabled`
//! (default true), `iot_edge` (default false), `connected` (absent: not known), and
//! `last_activity` (RFC 3339 text, kept for people). Defaults are left out when writing.
//!
//! Reading checks that the header's `devices` and `templates` are the file's (a truncated file
//! is an error, not a smaller fleet) and names the line and field of any error.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use fleet_sim::{
    DeviceFacts, ErrorKind as SimErrorKind, Fleet, FleetBuilder, Section as FleetSection,
    TemplateSpec,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::imported::ImportedFleet;
use crate::record::{self, Section};
use crate::stream::RawRecord;

/// The version of the fleet file format this crate writes and reads.
pub const VERSION: u32 = 1;

/// Line 1 of a fleet file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The format version ([`VERSION`]).
    pub fleetsim_fleet: u32,
    /// The export format the devices came from ([`crate::Format::name`]).
    pub source: String,
    /// The export files, as named on the command line.
    pub files: Vec<String>,
    /// The number of device lines.
    pub devices: u32,
    /// The template ids the devices name, sorted.
    pub templates: Vec<String>,
    /// Records skipped as bad (`--skip-bad`).
    pub skipped: u64,
    /// IoT Hub module identities in the export (not devices: not imported).
    pub modules: u64,
}

/// A device line as written.
#[derive(Serialize)]
struct LineOut<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    tags: std::collections::BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    desired: std::collections::BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    reported: std::collections::BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "is_true")]
    provisioned: bool,
    #[serde(skip_serializing_if = "is_false")]
    simulated: bool,
    #[serde(skip_serializing_if = "is_true")]
    enabled: bool,
    #[serde(skip_serializing_if = "is_false")]
    iot_edge: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    connected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_activity: Option<&'a str>,
}

/// A device line as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineIn<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    template: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    #[allow(dead_code)]
    display_name: Option<serde::de::IgnoredAny>,
    #[serde(default, borrow)]
    tags: Section<'a>,
    #[serde(default, borrow)]
    desired: Section<'a>,
    #[serde(default, borrow)]
    reported: Section<'a>,
    #[serde(default = "yes")]
    provisioned: bool,
    #[serde(default)]
    simulated: bool,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    iot_edge: bool,
    #[serde(default)]
    connected: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    last_activity: Option<serde::de::IgnoredAny>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Writes `imported` as a fleet file.
pub(crate) fn write(imported: &ImportedFleet, out: impl Write) -> Result<()> {
    let mut out = BufWriter::new(out);
    let json = |e: serde_json::Error| Error::from(std::io::Error::from(e));
    serde_json::to_writer(&mut out, &imported.header).map_err(json)?;
    out.write_all(b"\n")?;
    let fleet = &imported.fleet;
    for i in 0..fleet.len() {
        let s = fleet.snapshot(i);
        let line = LineOut {
            id: &s.id,
            template: s.template.as_deref(),
            display_name: imported.display_name(i),
            tags: s.tags,
            desired: s.desired,
            reported: s.reported,
            provisioned: s.provisioned,
            simulated: s.simulated,
            enabled: fleet.is_enabled(i),
            iot_edge: fleet.is_iot_edge(i),
            connected: imported.connected(i),
            last_activity: imported.last_activity(i),
        };
        serde_json::to_writer(&mut out, &line).map_err(json)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// A fleet file, read: its header and its devices, ready to become a [`Fleet`] with the
/// templates of a scenario ([`FleetFile::build`]).
#[derive(Debug)]
pub struct FleetFile {
    /// Line 1.
    pub header: Header,
    path: PathBuf,
    builder: FleetBuilder,
    /// The line of each device, in file order (for errors about two of them).
    lines: Vec<u64>,
}

impl FleetFile {
    /// Reads the fleet file at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::from(e).with_file(path))?;
        Self::from_reader(path, file)
    }

    /// Reads a fleet file from `reader`; `path` names it in errors.
    pub fn from_reader(path: &Path, reader: impl Read) -> Result<Self> {
        read(path, reader).map_err(|e| e.with_file(path))
    }

    /// The fleet, with these templates: each template the header names must be among them
    /// (a scenario adds an empty template for each it does not define).
    pub fn build(self, templates: &[TemplateSpec]) -> Result<Fleet> {
        match self.builder.build(templates) {
            Ok((fleet, _)) => Ok(fleet),
            Err(e) => Err(match e.kind() {
                SimErrorKind::DuplicateDevice { id, first, .. } => {
                    Error::new(ErrorKind::Fleet(format!(
                        "device id {id:?} is given twice: here and on line {}",
                        self.lines[*first as usize]
                    )))
                    .with_line(self.lines[duplicate_second(&e)])
                }
                _ => Error::from(e),
            }
            .with_file(&self.path)),
        }
    }
}

/// The second device of a duplicate-id error.
fn duplicate_second(e: &fleet_sim::Error) -> usize {
    match e.kind() {
        SimErrorKind::DuplicateDevice { second, .. } => *second as usize,
        _ => 0,
    }
}

/// Reads the header, then every device line.
fn read(path: &Path, reader: impl Read) -> Result<FleetFile> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut text = String::new();
    let mut line_no = 1u64;
    reader.read_line(&mut text)?;
    let header = header(&text)?;
    let mut file = FleetFile {
        header,
        path: path.to_path_buf(),
        builder: FleetBuilder::new(),
        lines: Vec::new(),
    };
    loop {
        text.clear();
        if reader.read_line(&mut text)? == 0 {
            break;
        }
        line_no += 1;
        if text.trim().is_empty() {
            continue;
        }
        let raw = RawRecord {
            text: &text,
            record: file.lines.len() as u64 + 1,
            line: line_no,
            key: None,
        };
        device(&mut file.builder, raw).map_err(|e| e.with_line(line_no))?;
        file.lines.push(line_no);
    }
    check_counts(&file, line_no)?;
    Ok(file)
}

/// Line 1.
fn header(text: &str) -> Result<Header> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Error::new(ErrorKind::Format(format!(
            "not a fleetsim fleet file (line 1 is not its JSON header: {e}); `fleetsim import` \
             writes one from an export"
        )))
        .with_line(1)
    })?;
    match value.get("fleetsim_fleet") {
        Some(v) if v.as_u64() == Some(u64::from(VERSION)) => {}
        Some(v) => {
            return Err(Error::invalid(
                "fleetsim_fleet",
                format!("fleet file version {v}; this fleetsim reads version {VERSION}"),
            )
            .with_line(1))
        }
        None => {
            return Err(Error::new(ErrorKind::Format(
                "not a fleetsim fleet file (its first line has no `fleetsim_fleet`); convert an \
                 export with `fleetsim import`"
                    .into(),
            ))
            .with_line(1))
        }
    }
    let raw = RawRecord {
        text,
        record: 0,
        line: 1,
        key: None,
    };
    record::parse(raw)
}

/// One device line.
fn device(builder: &mut FleetBuilder, raw: RawRecord<'_>) -> Result<()> {
    let d: LineIn<'_> = record::parse(raw)?;
    if d.id.is_empty() {
        return Err(Error::invalid("id", "an empty device id"));
    }
    let facts = DeviceFacts {
        provisioned: d.provisioned,
        simulated: d.simulated,
        connected: d.connected.unwrap_or(true),
        enabled: d.enabled,
        iot_edge: d.iot_edge,
    };
    let position = builder.device(&d.id, d.template.as_deref(), facts)?;
    for (section, entries) in [
        (FleetSection::Tags, d.tags.0),
        (FleetSection::Desired, d.desired.0),
        (FleetSection::Reported, d.reported.0),
    ] {
        for (name, value) in entries {
            builder
                .set_json(position, section, &name, value.get())
                .map_err(|e| Error::invalid(name.as_ref(), e.kind().to_string()))?;
        }
    }
    Ok(())
}

/// The header's counts are the file's.
fn check_counts(file: &FleetFile, last_line: u64) -> Result<()> {
    let devices = file.builder.len();
    if devices != file.header.devices {
        return Err(Error::new(ErrorKind::Fleet(format!(
            "the header says {} devices, the file has {devices}{}",
            file.header.devices,
            if devices < file.header.devices {
                " (truncated?)"
            } else {
                ""
            }
        )))
        .with_line(last_line));
    }
    let mut seen: Vec<&str> = file.builder.template_names().collect();
    seen.sort_unstable();
    if seen != file.header.templates {
        return Err(Error::invalid(
            "templates",
            format!(
                "the header lists the templates {:?}, the devices name {seen:?}",
                file.header.templates
            ),
        )
        .with_line(1));
    }
    Ok(())
}
