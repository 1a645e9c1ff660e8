//! [`Importer`]: reads export files, record by record, into one fleet.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use fleet_sim::{DeviceFacts, ErrorKind as SimErrorKind, FleetBuilder, Section, TemplateSpec};

use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;
use crate::formats;
use crate::imported::{Header, ImportedFleet, Sides};
use crate::record::{Json, Parsed, Record};
use crate::stream::{self, Input, RawRecord};

/// How many bytes from the start of a file tell its format.
const DETECT_BYTES: usize = 1 << 18;

/// How many skipped records' errors an import keeps to report (it counts them all).
pub const SKIPPED_SAMPLES: usize = 10;

/// How an import reads its files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// The format of every file; `None`: told from each file's content ([`Format::detect`]).
    pub format: Option<Format>,
    /// Skip the records that are valid JSON but not valid devices (a field of the wrong type
    /// or value, a required field missing), counting them and keeping the first
    /// [`SKIPPED_SAMPLES`] errors, instead of stopping at the first. Malformed or truncated
    /// JSON still stops the import: a file cannot be read past it.
    pub skip_bad: bool,
}

/// Reads exports into one fleet. Every file must be of one format.
///
/// ```
/// use fleet_import::{Format, ImportOptions, Importer};
///
/// let twins = r#"[{"deviceId": "b", "tags": {"ring": 1}, "connectionState": "Disconnected"},
///                 {"deviceId": "a", "modelId": "dtmi:x;1"}]"#;
/// let mut importer = Importer::new(ImportOptions::default());
/// importer.read("twins.json".as_ref(), twins.as_bytes(), Format::HubTwins)?;
/// let imported = importer.finish()?;
/// assert_eq!(imported.fleet.len(), 2);
/// assert_eq!(imported.fleet.id(0).to_string(), "a");
/// assert_eq!(imported.header.templates, ["dtmi:x;1"]);
/// assert_eq!(imported.connected(1), Some(false));
/// # Ok::<(), fleet_import::Error>(())
/// ```
#[derive(Debug)]
pub struct Importer {
    options: ImportOptions,
    format: Option<(Format, PathBuf)>,
    builder: FleetBuilder,
    sides: Sides,
    /// Per device (in the order read): its file (index into `files`) and record number.
    sources: Vec<(u32, u32)>,
    files: Vec<PathBuf>,
    skipped: u64,
    samples: Vec<String>,
    modules: u64,
}

impl Importer {
    /// An importer with no device yet.
    pub fn new(options: ImportOptions) -> Self {
        Self {
            options,
            format: None,
            builder: FleetBuilder::new(),
            sides: Sides::default(),
            sources: Vec::new(),
            files: Vec::new(),
            skipped: 0,
            samples: Vec::new(),
            modules: 0,
        }
    }

    /// The format of the files read so far (none before the first).
    pub fn format(&self) -> Option<Format> {
        self.format.as_ref().map(|(f, _)| *f)
    }

    /// Reads the export file at `path`, in the options' format or the one its content shows.
    ///
    /// The file is mapped into memory, not read into it: serde_json parses the mapped bytes
    /// (several times faster than through a reader), records are borrowed from them, and the
    /// pages are the file's own, which the system reads in as they are parsed and may drop
    /// again. The file must not change while it is imported.
    pub fn read_file(&mut self, path: &Path) -> Result<()> {
        let located = |e: std::io::Error| Error::from(e).with_file(path);
        let file = File::open(path).map_err(located)?;
        let meta = file.metadata().map_err(located)?;
        if !meta.is_file() {
            // A pipe or a device (`/dev/stdin`): one pass through a reader.
            return self.read_stream(path, file);
        }
        let map = match meta.len() {
            0 => None,
            // SAFETY: the map is only read, and lives until this function returns. A change
            // to the file by another process while it is mapped could change the bytes under
            // the parser; the documentation asks that an export not be written while it is
            // imported, as for any reader of a file.
            _ => Some(unsafe { memmap2::Mmap::map(&file) }.map_err(located)?),
        };
        let bytes: &[u8] = map.as_deref().unwrap_or_default();
        let format = match self.options.format {
            Some(f) => f,
            None => {
                let prefix = &bytes[..bytes.len().min(DETECT_BYTES)];
                Format::detect(prefix).map_err(|e| e.with_file(path))?
            }
        };
        self.read_input(path, Input::Bytes(bytes), format)
    }

    /// Reads a file that cannot be mapped through a reader, its format told from what the
    /// reader buffers first.
    fn read_stream(&mut self, path: &Path, file: File) -> Result<()> {
        let mut reader = BufReader::with_capacity(DETECT_BYTES, file);
        let format = match self.options.format {
            Some(f) => f,
            None => {
                let prefix = reader
                    .fill_buf()
                    .map_err(|e| Error::from(e).with_file(path))?;
                Format::detect(prefix).map_err(|e| e.with_file(path))?
            }
        };
        self.read(path, reader, format)
    }

    /// Reads one export of `format` from memory; `path` names it in errors and in the fleet
    /// file's header.
    pub fn read_bytes(&mut self, path: &Path, bytes: &[u8], format: Format) -> Result<()> {
        self.read_input(path, Input::Bytes(bytes), format)
    }

    /// Reads one export of `format` from `reader`, in one pass with bounded memory (each
    /// record is copied out of the reader as it is parsed); `path` names it in errors and in
    /// the fleet file's header.
    pub fn read<'r>(&mut self, path: &Path, reader: impl Read + 'r, format: Format) -> Result<()> {
        self.read_input(path, Input::Reader(Box::new(reader)), format)
    }

    /// Reads one export of `format`.
    fn read_input(&mut self, path: &Path, input: Input<'_>, format: Format) -> Result<()> {
        self.check_format(path, format)?;
        let file = self.files.len() as u32;
        self.files.push(path.to_path_buf());
        let mut each = |raw: RawRecord<'_>| {
            let result = formats::parse(format, raw).and_then(|parsed| match parsed {
                Parsed::Device(record) => self.add(format, &record, (file, raw.record as u32)),
                Parsed::Module => {
                    self.modules += 1;
                    Ok(())
                }
            });
            let located = |e: Error| e.with_line(raw.line).with_record(raw.record);
            self.absorb(result.map_err(located), path)
        };
        stream::read_records(path, input, format, &mut each)?;
        Ok(())
    }

    /// Every file must be of the first file's format.
    fn check_format(&mut self, path: &Path, format: Format) -> Result<()> {
        match &self.format {
            None => {
                self.format = Some((format, path.to_path_buf()));
                Ok(())
            }
            Some((f, _)) if *f == format => Ok(()),
            Some((f, first)) => Err(Error::new(ErrorKind::Format(format!(
                "{} is {}, but {} is {}: import the files of one format together",
                path.display(),
                format,
                first.display(),
                f
            )))
            .with_file(path)),
        }
    }

    /// An error from one record: skipped and counted, or returned.
    fn absorb(&mut self, result: Result<()>, path: &Path) -> Result<()> {
        match result {
            Err(e) if self.options.skip_bad && e.is_skippable() => {
                self.skipped += 1;
                if self.samples.len() < SKIPPED_SAMPLES {
                    self.samples.push(e.with_file(path).to_string());
                }
                Ok(())
            }
            other => other,
        }
    }

    /// Adds one device.
    fn add(&mut self, format: Format, r: &Record<'_>, source: (u32, u32)) -> Result<()> {
        if r.id.is_empty() {
            return Err(Error::invalid(id_field(format), "an empty device id"));
        }
        let facts = DeviceFacts {
            provisioned: r.provisioned,
            simulated: r.simulated,
            connected: r.connected.unwrap_or(true),
            enabled: r.enabled,
            iot_edge: r.iot_edge,
        };
        let position = self.builder.device(&r.id, r.template.as_deref(), facts)?;
        for (section, entries) in [
            (Section::Tags, &r.tags),
            (Section::Desired, &r.desired),
            (Section::Reported, &r.reported),
        ] {
            for (name, value) in entries {
                match value {
                    Json::Raw(raw) => self
                        .builder
                        .set_json(position, section, name, raw.get())
                        .map_err(|e| Error::invalid(name.as_ref(), e.kind().to_string()))?,
                    Json::Made(v) => self.builder.set(position, section, name, v),
                }
            }
        }
        self.sides.push(r);
        self.sources.push(source);
        Ok(())
    }

    /// The fleet: sorted by id, each template the devices name an empty template. Two devices
    /// with one id are an error naming both records.
    pub fn finish(self) -> Result<ImportedFleet> {
        let mut names: Vec<String> = self.builder.template_names().map(str::to_string).collect();
        names.sort();
        let templates: Vec<TemplateSpec> = names
            .iter()
            .map(|id| TemplateSpec {
                id: id.clone(),
                ..Default::default()
            })
            .collect();
        let (fleet, order) = match self.builder.build(&templates) {
            Ok(built) => built,
            Err(e) => return Err(fleet_error(&e, &self.sources, &self.files)),
        };
        let header = Header {
            fleetsim_fleet: crate::fleet_file::VERSION,
            source: self.format.map_or("none", |(f, _)| f.name()).to_string(),
            files: self.files.iter().map(|p| p.display().to_string()).collect(),
            devices: fleet.len(),
            templates: names,
            skipped: self.skipped,
            modules: self.modules,
        };
        Ok(ImportedFleet::new(
            fleet,
            header,
            self.sides.ordered(&order),
            self.samples,
        ))
    }

    /// Reads IoT Central device properties: a JSON object of device id to properties
    /// document, or a directory of `<device id>.json` properties documents. Each device must
    /// be among the devices read so far.
    pub fn read_central_properties(&mut self, path: &Path) -> Result<()> {
        crate::properties::read(self, path)
    }

    /// The devices read so far, by id, to their position (for joining properties).
    pub(crate) fn positions(&self) -> std::collections::HashMap<&str, u32> {
        (0..self.builder.len())
            .map(|p| (self.builder.id(p), p))
            .collect()
    }

    /// Sets one value of the device at `position`.
    pub(crate) fn set(
        &mut self,
        position: u32,
        section: Section,
        name: &str,
        value: &serde_json::Value,
    ) {
        self.builder.set(position, section, name, value);
    }

    /// Skips (with `--skip-bad`) or returns an error about one properties document.
    pub(crate) fn absorb_error_or_ok(&mut self, result: Result<()>, path: &Path) -> Result<()> {
        self.absorb(result, path)
    }
}

/// A fleet-sim error from building, with the records it concerns (`sources`: file and record
/// of each device, in the order read).
fn fleet_error(e: &fleet_sim::Error, sources: &[(u32, u32)], files: &[PathBuf]) -> Error {
    let SimErrorKind::DuplicateDevice { id, first, second } = e.kind() else {
        return Error::from(e.clone());
    };
    let (file_a, record_a) = sources[*first as usize];
    let (file_b, record_b) = sources[*second as usize];
    Error::new(ErrorKind::Fleet(format!(
        "device id {id:?} is given twice: here and in {} (record {record_a})",
        files[file_a as usize].display()
    )))
    .with_file(&files[file_b as usize])
    .with_record(u64::from(record_b))
}

/// The field that holds the id in `format`.
fn id_field(format: Format) -> &'static str {
    match format {
        Format::HubTwins => "deviceId",
        Format::HubExport | Format::Central => "id",
        Format::Aws => "thingName",
        Format::Hawkbit => "controllerId",
    }
}
