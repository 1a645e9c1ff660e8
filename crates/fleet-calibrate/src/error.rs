//! The crate's error: an [`ErrorKind`] plus where it happened (file, record, line, field).

use std::fmt;
use std::path::PathBuf;

/// An error in calibration input or a backtest: it names the file, the record (1-based, in the
/// file's order) and its line where known, and the field.
#[derive(Debug)]
pub struct Error(Box<Inner>);

/// The parts of an [`Error`], boxed so that results stay small.
#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    file: Option<PathBuf>,
    record: Option<u64>,
    line: Option<u64>,
    field: Option<String>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read.
    Io(std::io::Error),
    /// A file is not valid JSON, or is cut short.
    Syntax(String),
    /// A field is missing, has the wrong type, or an impossible value.
    Invalid(String),
    /// A JSON value is none of the formats read (see `docs/calibration.md`).
    UnknownFormat(String),
    /// The same device appears twice in the results of one job.
    Duplicate(String),
    /// The command cannot do what was asked with this input (no results, no such job, ...).
    Unusable(String),
    /// The scenario could not be loaded or run.
    Scenario(fleet_scenario::Error),
}

impl Error {
    /// An error of this kind.
    pub fn new(kind: ErrorKind) -> Self {
        Self(Box::new(Inner {
            kind,
            file: None,
            record: None,
            line: None,
            field: None,
        }))
    }

    /// An [`ErrorKind::Invalid`] error about `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid(message.into())).with_field(field)
    }

    /// An [`ErrorKind::Unusable`] error.
    pub fn unusable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unusable(message.into()))
    }

    /// Sets the field path, prefixing a more precise one already set
    /// (`jobExecutionSummary` + `queuedAt`).
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.0.field = match self.0.field.take() {
            Some(inner) if !field.is_empty() => Some(format!("{field}.{inner}")),
            Some(inner) => Some(inner),
            None => Some(field).filter(|f| !f.is_empty()),
        };
        self
    }

    /// Sets the record number and its line (both 1-based), keeping ones already set.
    pub fn at_record(mut self, record: u64, line: u64) -> Self {
        self.0.record.get_or_insert(record);
        self.0.line.get_or_insert(line);
        self
    }

    /// Sets the line (1-based), keeping one already set.
    pub fn at_line(mut self, line: u64) -> Self {
        self.0.line.get_or_insert(line);
        self
    }

    /// Sets the file, keeping one already set.
    pub fn with_file(mut self, file: impl Into<PathBuf>) -> Self {
        if self.0.file.is_none() {
            self.0.file = Some(file.into());
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The field path, if known.
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }

    /// The record number (1-based), if known.
    pub fn record(&self) -> Option<u64> {
        self.0.record
    }

    /// The line (1-based), if known.
    pub fn line(&self) -> Option<u64> {
        self.0.line
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.0.file {
            write!(f, "{}", file.display())?;
            if self.0.record.is_none() {
                if let Some(line) = self.0.line {
                    write!(f, ":{line}")?;
                }
            }
            f.write_str(": ")?;
        }
        if let Some(record) = self.0.record {
            write!(f, "record {record}")?;
            if let Some(line) = self.0.line {
                write!(f, " (line {line})")?;
            }
            f.write_str(": ")?;
        }
        if let Some(field) = &self.0.field {
            write!(f, "field `{field}`: ")?;
        }
        match &self.0.kind {
            ErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            ErrorKind::Syntax(m)
            | ErrorKind::Invalid(m)
            | ErrorKind::UnknownFormat(m)
            | ErrorKind::Duplicate(m)
            | ErrorKind::Unusable(m) => f.write_str(m),
            ErrorKind::Scenario(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ErrorKind::Io(e) => Some(e),
            ErrorKind::Scenario(e) => Some(e),
            _ => None,
        }
    }
}

impl From<fleet_scenario::Error> for Error {
    fn from(e: fleet_scenario::Error) -> Self {
        Self::new(ErrorKind::Scenario(e))
    }
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;
