//! The crate's error: a [`ErrorKind`] plus where it happened (file, line, column, field path).

use std::fmt;
use std::path::PathBuf;

/// An error in a scenario: it names the file, the line and column where known, and the field.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    file: Option<PathBuf>,
    line_col: Option<(usize, usize)>,
    field: Option<String>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    Io(std::io::Error),
    /// The file is not valid TOML or JSON, has an unknown field, or a field has the wrong type.
    Syntax(String),
    /// A value is impossible (a probability above 1, a job naming a missing group, ...).
    Invalid(String),
    /// The file's extension is neither `.toml` nor `.json`.
    UnknownFormat(String),
    /// A simulation ran out of its event or wall-clock budget before it ended, or a run would
    /// need more memory than it may take.
    Limit(String),
    /// Partial result files (`fleetsim merge`) that do not make one whole: not a partial
    /// result, of another version, scenario or options, or a part missing or given twice.
    Partial(String),
}

impl Error {
    /// An error of this kind.
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            file: None,
            line_col: None,
            field: None,
        }
    }

    /// An [`ErrorKind::Invalid`] error about `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid(message.into())).with_field(field)
    }

    /// Sets the field path (`jobs[1].json.batch.value`), keeping a more precise one.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = Some(match self.field.take() {
            Some(inner) if inner.is_empty() => field,
            Some(inner) if !field.is_empty() => format!("{field}.{inner}"),
            Some(inner) => inner,
            None => field,
        });
        self
    }

    /// Sets the 1-based line and column.
    pub fn with_position(mut self, line: usize, column: usize) -> Self {
        self.line_col = Some((line, column));
        self
    }

    /// Sets the file.
    pub fn with_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The field path, if known.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The 1-based line and column, if known.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        self.line_col
    }

    /// The message of a syntax or value error.
    pub(crate) fn message(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Syntax(m) | ErrorKind::Invalid(m) => Some(m),
            _ => None,
        }
    }

    /// Rewrites the message of a syntax or value error.
    pub(crate) fn map_message(mut self, f: impl FnOnce(String) -> String) -> Self {
        if let ErrorKind::Syntax(m) | ErrorKind::Invalid(m) = &mut self.kind {
            *m = f(std::mem::take(m));
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line_col) {
            (Some(file), Some((line, col))) => write!(f, "{}:{line}:{col}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some((line, col))) => write!(f, "line {line}, column {col}: ")?,
            (None, None) => {}
        }
        if let Some(field) = self.field.as_deref().filter(|s| !s.is_empty()) {
            write!(f, "field `{field}`: ")?;
        }
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            ErrorKind::Syntax(m) | ErrorKind::Invalid(m) => f.write_str(m),
            ErrorKind::Limit(m) | ErrorKind::Partial(m) => f.write_str(m),
            ErrorKind::UnknownFormat(ext) => write!(
                f,
                "unknown scenario format {ext:?}: use a .toml or .json file"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The I/O error's message is in this error's own (`cannot read: ...`): no source, or
        // a report of the chain (`{:#}`) would print it twice.
        None
    }
}

impl From<fleet_core::Error> for Error {
    fn from(e: fleet_core::Error) -> Self {
        let message = match e.path() {
            // The path goes into `field`; keep only the message.
            Some(_) => fleet_core::Error::new(e.kind().clone()).to_string(),
            None => e.to_string(),
        };
        let err = Self::new(ErrorKind::Invalid(message));
        match e.path() {
            Some(p) => err.with_field(p),
            None => err,
        }
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
