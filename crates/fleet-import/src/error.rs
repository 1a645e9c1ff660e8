//! The crate's error: an [`ErrorKind`] plus where it happened (file, line, record, field).

use std::fmt;
use std::path::{Path, PathBuf};

/// An error reading an export or a fleet file, or writing a fleet file. It names the file,
/// the line and the record (1-based, counting the devices of the file in order) where known,
/// and the field (`properties.reported.fw`, `connectivity.connected`).
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    file: Option<PathBuf>,
    line: Option<u64>,
    record: Option<u64>,
    field: Option<String>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not valid JSON: malformed, or truncated (it ends inside a value).
    #[error("{0}")]
    Syntax(String),
    /// A record is valid JSON but not a device of its format: a required field is missing, a
    /// field has the wrong type or an impossible value.
    #[error("{0}")]
    Invalid(String),
    /// The format cannot be told from the content, files are of different formats, or a file
    /// is not of the format given.
    #[error("{0}")]
    Format(String),
    /// The devices do not make a fleet (two share an id, a template is unknown, too many).
    #[error("{0}")]
    Fleet(String),
}

impl Error {
    /// An error of this kind.
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            file: None,
            line: None,
            record: None,
            field: None,
        }
    }

    /// An [`ErrorKind::Invalid`] error about `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid(message.into())).with_field(field)
    }

    /// Sets the file, keeping one already set.
    pub fn with_file(mut self, file: &Path) -> Self {
        self.file.get_or_insert_with(|| file.to_path_buf());
        self
    }

    /// Sets the 1-based line, keeping one already set.
    pub fn with_line(mut self, line: u64) -> Self {
        self.line.get_or_insert(line);
        self
    }

    /// Sets the 1-based record number, keeping one already set.
    pub fn with_record(mut self, record: u64) -> Self {
        self.record.get_or_insert(record);
        self
    }

    /// Prefixes the field path with `parent` (`shadow` + `desired.x` -> `shadow.desired.x`).
    pub fn with_field(mut self, parent: impl Into<String>) -> Self {
        let parent = parent.into();
        self.field = Some(match self.field.take() {
            Some(inner) if inner.is_empty() => parent,
            Some(inner) if !parent.is_empty() => format!("{parent}.{inner}"),
            Some(inner) => inner,
            None => parent,
        });
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The file, if known.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The 1-based line, if known.
    pub fn line(&self) -> Option<u64> {
        self.line
    }

    /// The 1-based record number, if known.
    pub fn record(&self) -> Option<u64> {
        self.record
    }

    /// The field path, if known.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref().filter(|f| !f.is_empty())
    }

    /// Whether a record with this error can be skipped (`--skip-bad`): it is valid JSON but
    /// not a valid device. Malformed or truncated JSON cannot be skipped: the file cannot be
    /// read past it.
    pub fn is_skippable(&self) -> bool {
        matches!(self.kind, ErrorKind::Invalid(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            wrote = true;
        }
        match (self.line, self.record) {
            (Some(line), Some(record)) => write!(f, ":{line} (record {record})")?,
            (Some(line), None) => write!(f, ":{line}")?,
            (None, Some(record)) => write!(f, " (record {record})")?,
            (None, None) => {}
        }
        if wrote || self.line.is_some() || self.record.is_some() {
            f.write_str(": ")?;
        }
        if let Some(field) = self.field() {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::new(ErrorKind::Io(e))
    }
}

impl From<fleet_sim::Error> for Error {
    fn from(e: fleet_sim::Error) -> Self {
        Self::new(ErrorKind::Fleet(e.to_string()))
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
