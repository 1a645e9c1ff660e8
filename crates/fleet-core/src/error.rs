//! The crate's error type: a [`ErrorKind`] plus the JSON path or field it concerns.

use std::fmt;

/// An error from fleet-core: bad job input, an impossible value, or an illegal command on a run.
///
/// Every error carries a kind (match on it) and, where the error concerns a field of a job
/// document, the path of that field (`data[0].type`, `batch.value`). Errors never panic and never
/// change the state they were raised against.
///
/// One pointer wide (the kind and path are boxed), so that `Result<(), Error>`, which every
/// input of a run returns, is one word and its drop a null check on the hot path.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    path: Option<String>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The document is not valid JSON, has an unknown field, or a field has the wrong type.
    /// The message is serde's, which names the field and the position.
    Json(String),
    /// A job id breaks the id rules (length or characters).
    InvalidJobId {
        /// The offending id.
        id: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A batch percentage outside (0, 100] or a batch number below 1.
    BatchOutOfRange(String),
    /// A threshold percentage outside (0, 100] or a threshold number below 1.
    ThresholdOutOfRange(String),
    /// A job's `data` array is empty.
    EmptyData,
    /// A job mixes data entries of types that cannot be combined.
    MixedData(String),
    /// A value does not have the type or shape its field requires.
    InvalidValue(String),
    /// A required field is missing.
    MissingField(&'static str),
    /// A field that the model knows but that is not allowed where it appears: a `template` on a
    /// property entry, an `updateTwin` on a `scheduleDeviceMethod` job, an `end` on a schedule
    /// that does not recur.
    UnexpectedField(&'static str),
    /// A twin property or tag name that IoT Hub would refuse.
    InvalidPropertyName {
        /// The offending name.
        name: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A command that the run's current status does not allow (resume a running run, stop a
    /// finished one, rerun a running one). The run is unchanged.
    IllegalCommand {
        /// The command that was refused.
        command: &'static str,
        /// The run's status when it was refused.
        status: crate::RunStatus,
    },
    /// An outcome or timer for a device that is not in flight with that attempt: a late answer
    /// after a timeout, a forced cancel or a deadline. The run is unchanged.
    NotInFlight {
        /// Index of the device in the run's targets.
        device: u32,
        /// The attempt the input named.
        attempt: u8,
    },
    /// A device index outside the run's targets.
    NoSuchDevice(u32),
    /// A trigger-next-batch on a run whose batches have all started. The run is unchanged.
    NoNextBatch {
        /// The run's number of batches.
        batches: u32,
    },
}

impl Error {
    /// An error of this kind with no field path.
    pub fn new(kind: ErrorKind) -> Self {
        Self(Box::new(Inner { kind, path: None }))
    }

    /// An error of this kind about the field at `path`.
    pub fn at(path: impl Into<String>, kind: ErrorKind) -> Self {
        Self(Box::new(Inner {
            kind,
            path: Some(path.into()),
        }))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The JSON path of the field concerned, if any (`data[1].value`).
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// Prefixes the path with a parent field (`batch` + `value` -> `batch.value`).
    pub fn within(mut self, parent: &str) -> Self {
        self.0.path = Some(match self.0.path.take() {
            None => parent.to_string(),
            Some(p) if p.starts_with('[') => format!("{parent}{p}"),
            Some(p) => format!("{parent}.{p}"),
        });
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.0.path {
            write!(f, "{path}: ")?;
        }
        match &self.0.kind {
            ErrorKind::Json(m) => write!(f, "{m}"),
            ErrorKind::InvalidJobId { id, reason } => write!(f, "invalid job id {id:?}: {reason}"),
            ErrorKind::BatchOutOfRange(m) => write!(f, "batch out of range: {m}"),
            ErrorKind::ThresholdOutOfRange(m) => {
                write!(f, "cancellation threshold out of range: {m}")
            }
            ErrorKind::EmptyData => write!(f, "data must hold at least one entry"),
            ErrorKind::MixedData(m) => write!(f, "mixed data types: {m}"),
            ErrorKind::InvalidValue(m) => write!(f, "invalid value: {m}"),
            ErrorKind::MissingField(name) => write!(f, "missing required field `{name}`"),
            ErrorKind::UnexpectedField(name) => write!(f, "field `{name}` is not allowed here"),
            ErrorKind::InvalidPropertyName { name, reason } => {
                write!(f, "invalid property name {name:?}: {reason}")
            }
            ErrorKind::IllegalCommand { command, status } => {
                write!(f, "cannot {command} a run that is {status}")
            }
            ErrorKind::NotInFlight { device, attempt } => {
                write!(f, "device {device} is not in flight with attempt {attempt}")
            }
            ErrorKind::NoSuchDevice(d) => write!(f, "device index {d} is not a target of this run"),
            ErrorKind::NoNextBatch { batches } => {
                write!(
                    f,
                    "no batch left to start: all {batches} batches have started"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
