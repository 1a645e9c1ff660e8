//! The crate's error type: an [`ErrorKind`] plus the path of the field it concerns.

use std::fmt;

/// An error from fleet-sim: an invalid spec (naming the field), an unknown template or device,
/// or an engine error from `fleet-core`.
///
/// The field path is written the way a scenario file nests it (`behaviour.rules[2].latency.sigma`)
/// so that the scenario layer can map it to a file position. Errors are raised before a
/// simulation runs ([`crate::SimBuilder::build`]); a running simulation fails only when it
/// runs out of a budget ([`ErrorKind::EventBudget`], [`ErrorKind::WallBudget`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    field: Option<String>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A value is outside its allowed range or has the wrong shape.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// A probability outside `[0, 1]`.
    #[error("probability {0} is outside [0, 1]")]
    Probability(f64),
    /// A duration or latency that is negative, NaN or infinite.
    #[error("{0} ms is not a valid duration: it must be finite and not negative")]
    NegativeDuration(f64),
    /// A device id pattern that cannot generate sortable ids.
    #[error("invalid id pattern {pattern:?}: {reason}")]
    IdPattern {
        /// The pattern as written.
        pattern: String,
        /// Why it is refused.
        reason: String,
    },
    /// A template id that is not among the fleet's templates.
    #[error("unknown template {0:?}")]
    UnknownTemplate(String),
    /// Two templates, devices or jobs share an id.
    #[error("duplicate id {0:?}")]
    Duplicate(String),
    /// Two devices of an explicit fleet have the same id: `first` and `second` are their
    /// positions (0-based) in the order the devices were added.
    #[error("device id {id:?} is given twice (devices {first} and {second}, counting from 0 in the order given)")]
    DuplicateDevice {
        /// The id.
        id: String,
        /// The position of one of the two devices.
        first: u32,
        /// The position of the other (greater than `first`).
        second: u32,
    },
    /// A device id that is not in the fleet.
    #[error("unknown device {0:?}")]
    UnknownDevice(String),
    /// A job id that is not among the simulation's jobs.
    #[error("unknown job {0:?}")]
    UnknownJob(String),
    /// A JSON document that does not parse or does not match the expected shape.
    #[error("{0}")]
    Json(String),
    /// A job with no operation, or more than [`crate::Operation::MAX_ENTRIES`] (an IoT Central
    /// job's `data`, a `multiple` operation's `operations`).
    #[error(
        "{0} entries: a job holds 1 to {max} operations (a `multiple` one 2 to {max})",
        max = crate::Operation::MAX_ENTRIES
    )]
    DataEntries(usize),
    /// A job that names no operation (an IoT Hub job with neither `cloudToDeviceMethod` nor
    /// `updateTwin`).
    #[error("{0}")]
    NoOperation(String),
    /// A duration or time above the largest virtual time ([`crate::MAX_VIRTUAL_MS`]).
    #[error(
        "{0:e} ms is beyond the largest virtual time, {max} ms (100 years)",
        max = crate::MAX_VIRTUAL_MS
    )]
    TooLong(f64),
    /// The simulation processed its budget of events ([`crate::SimBuilder::max_events`])
    /// without ending.
    #[error(
        "the simulation stopped after {events} events (its event budget) at virtual time \
         {now_ms} ms without ending: a time or a rate of the scenario may be out of scale; raise \
         the budget (--max-events) if the run is meant to be this long"
    )]
    EventBudget {
        /// The events processed (the budget).
        events: u64,
        /// The virtual time reached.
        now_ms: i64,
    },
    /// The simulation ran out of its wall-clock budget ([`crate::SimBuilder::max_wall`]).
    #[error(
        "the simulation stopped after {limit_s} s of wall-clock time (its budget), {events} \
         events in, at virtual time {now_ms} ms, without ending"
    )]
    WallBudget {
        /// The budget, in seconds.
        limit_s: f64,
        /// The events processed.
        events: u64,
        /// The virtual time reached.
        now_ms: i64,
    },
    /// Something is larger than the simulator supports (more than 65,535 jobs or templates, ...).
    #[error("too large: {0}")]
    TooLarge(String),
    /// An error from the job engine (an invalid run configuration).
    #[error("job engine: {0}")]
    Engine(#[from] fleet_core::Error),
}

impl Error {
    /// An error of this kind with no field path.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, field: None }
    }

    /// An error of this kind about the field at `field`.
    pub fn at(field: impl Into<String>, kind: ErrorKind) -> Self {
        Self {
            kind,
            field: Some(field.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The path of the field concerned, if any (`rules[1].failure_probability`).
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Prefixes the path with a parent field (`latency` + `sigma` -> `latency.sigma`; `rules` +
    /// `[2].sigma` -> `rules[2].sigma`).
    pub fn within(mut self, parent: &str) -> Self {
        self.field = Some(match self.field.take() {
            None => parent.to_string(),
            Some(p) if p.starts_with('[') => format!("{parent}{p}"),
            Some(p) => format!("{parent}.{p}"),
        });
        self
    }

    /// Prefixes the path with an index (`sigma` -> `[2].sigma`).
    pub fn at_index(self, index: usize) -> Self {
        self.within(&format!("[{index}]"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Engine(e) => Some(e),
            _ => None,
        }
    }
}

impl From<fleet_core::Error> for Error {
    fn from(e: fleet_core::Error) -> Self {
        let field = e.path().map(str::to_string);
        Self {
            kind: ErrorKind::Engine(e),
            field,
        }
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that `p` is a probability, naming `field` otherwise.
pub(crate) fn check_probability(field: &str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::at(field, ErrorKind::Probability(p)))
    }
}

/// Checks that `ms` is a finite, non-negative duration of at most [`crate::MAX_VIRTUAL_MS`],
/// naming `field` otherwise.
pub(crate) fn check_duration(field: &str, ms: f64) -> Result<()> {
    if !(ms.is_finite() && ms >= 0.0) {
        Err(Error::at(field, ErrorKind::NegativeDuration(ms)))
    } else if ms > crate::MAX_VIRTUAL_MS as f64 {
        Err(Error::at(field, ErrorKind::TooLong(ms)))
    } else {
        Ok(())
    }
}

/// Checks that the virtual instant `at_ms` is within `0..=`[`crate::MAX_VIRTUAL_MS`].
pub(crate) fn check_instant(field: &str, at_ms: i64) -> Result<()> {
    if at_ms > crate::MAX_VIRTUAL_MS {
        Err(Error::at(field, ErrorKind::TooLong(at_ms as f64)))
    } else {
        Ok(())
    }
}
