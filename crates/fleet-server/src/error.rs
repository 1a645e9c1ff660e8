//! The crate's error type for starting and running a server: an [`ErrorKind`] and a message.
//!
//! Errors of single requests are not this type: they are HTTP responses in the error shape of
//! the API that was called (see `api_error.rs`).

use std::fmt;

/// What went wrong while starting or running the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A setting is invalid (a time scale of 0, TLS without a key, no key configured on a
    /// non-loopback address).
    Config,
    /// The scenario file could not be loaded or the fleet could not be built.
    Scenario,
    /// The data directory or its SQLite database could not be used.
    Store,
    /// The address could not be bound, or TLS could not be set up.
    Network,
}

/// An error of the server: its kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::new(ErrorKind::Store, format!("database: {e}"))
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
