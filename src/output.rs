//! Where a report goes: standard output, or the file of `-o/--output` (docs/cli.md).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::ui::{self, Stream};

/// A report's destination.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    file: Option<PathBuf>,
}

impl Output {
    /// Standard output, or `file` (`-` is standard output too).
    pub(crate) fn new(file: Option<&Path>) -> Self {
        Self {
            file: file.filter(|f| *f != Path::new("-")).map(Path::to_path_buf),
        }
    }

    /// Writes a text report: coloured marks on a coloured standard output, plain in a file.
    pub(crate) fn text(&self, report: &str) -> anyhow::Result<()> {
        match &self.file {
            None => self.write(&ui::paint_report(report, Stream::Stdout)),
            Some(_) => self.write(report),
        }
    }

    /// Writes `text` as it is (JSON ends with a newline added when it has none).
    pub(crate) fn json(&self, json: &str) -> anyhow::Result<()> {
        match json.ends_with('\n') {
            true => self.write(json),
            false => self.write(&format!("{json}\n")),
        }
    }

    fn write(&self, text: &str) -> anyhow::Result<()> {
        match &self.file {
            None => {
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) is not an error worth a message.
                match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                        Err(e).context("cannot write the report to standard output")
                    }
                    _ => Ok(()),
                }
            }
            Some(path) => std::fs::write(path, text)
                .with_context(|| format!("cannot write the report to {}", path.display())),
        }
    }
}
