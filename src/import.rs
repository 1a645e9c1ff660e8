//! `fleetsim import`: platform exports to a fleetsim fleet file (docs/import.md).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use fleet_import::{Format, ImportOptions, ImportedFleet, Importer};

/// Arguments of `fleetsim import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The export files, all of one format: `az iot hub query` output, an IoT Hub
    /// `devices.txt`, IoT Central `/api/devices` pages, `aws iot search-index` or `list-things`
    /// output, hawkBit `/rest/v1/targets` pages.
    #[arg(required = true, value_name = "EXPORT")]
    exports: Vec<PathBuf>,
    /// The fleet file to write (JSON Lines), for a scenario's `[fleet] file`.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// The exports' format (default: told from each file's content).
    #[arg(long, value_enum)]
    format: Option<ExportFormat>,
    /// Skip the records that are valid JSON but not valid devices, and count them, instead of
    /// stopping at the first (malformed or truncated JSON still stops the import).
    #[arg(long)]
    skip_bad: bool,
    /// IoT Central device properties: a JSON object of device id to its
    /// `/api/devices/{id}/properties` document, or a directory of `<device id>.json` documents.
    #[arg(long, value_name = "PATH")]
    properties: Option<PathBuf>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// `az iot hub query -q "SELECT * FROM devices"`.
    #[value(name = "iothub-twins")]
    HubTwins,
    /// An IoT Hub device export job's `devices.txt`.
    #[value(name = "iothub-export")]
    HubExport,
    /// IoT Central `/api/devices` pages.
    Central,
    /// `aws iot search-index` or `aws iot list-things`.
    Aws,
    /// hawkBit `/rest/v1/targets` pages.
    Hawkbit,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Self {
        match f {
            ExportFormat::HubTwins => Format::HubTwins,
            ExportFormat::HubExport => Format::HubExport,
            ExportFormat::Central => Format::Central,
            ExportFormat::Aws => Format::Aws,
            ExportFormat::Hawkbit => Format::Hawkbit,
        }
    }
}

/// Reads the exports and writes the fleet file; `Err` is bad input (exit 2).
pub fn execute(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut importer = Importer::new(ImportOptions {
        format: args.format.map(Format::from),
        skip_bad: args.skip_bad,
    });
    for export in &args.exports {
        importer.read_file(export)?;
    }
    if let Some(properties) = &args.properties {
        if let Some(format) = importer.format().filter(|f| *f != Format::Central) {
            anyhow::bail!("--properties goes with IoT Central exports; these are {format}");
        }
        importer.read_central_properties(properties)?;
    }
    let imported = importer.finish()?;
    write(&imported, &args.output)?;
    summarize(&imported, &args.output);
    Ok(ExitCode::SUCCESS)
}

/// Writes the fleet file next to `output`, then moves it there: a failed import leaves no
/// partial fleet file.
fn write(imported: &ImportedFleet, output: &Path) -> anyhow::Result<()> {
    let mut partial = output.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = File::create(&partial)
        .map_err(anyhow::Error::from)
        .and_then(|file| imported.write(file).map_err(anyhow::Error::from))
        .and_then(|()| std::fs::rename(&partial, output).map_err(anyhow::Error::from));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written.with_context(|| format!("cannot write {}", output.display()))
}

/// What was imported (stdout) and what was skipped (stderr).
fn summarize(imported: &ImportedFleet, output: &Path) {
    let h = &imported.header;
    let files = match h.files.len() {
        1 => "1 file".to_string(),
        n => format!("{n} files"),
    };
    println!(
        "{}: {} devices from {files} ({}), {} templates{}",
        output.display(),
        h.devices,
        h.source,
        h.templates.len(),
        match h.modules {
            0 => String::new(),
            n => format!(", {n} module identities not imported"),
        }
    );
    if h.skipped > 0 {
        for sample in imported.skipped_samples() {
            eprintln!("skipped: {sample}");
        }
        let more = h
            .skipped
            .saturating_sub(imported.skipped_samples().len() as u64);
        if more > 0 {
            eprintln!("skipped: ... and {more} more");
        }
        eprintln!("warning: {} bad records skipped (--skip-bad)", h.skipped);
    }
}
