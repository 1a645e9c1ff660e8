//! Parsing entry points: JSON text to model types, with errors that name the field.
//!
//! Every entry point reads through `serde_path_to_error`, so an unknown field, a wrong type or an
//! unknown word is a [`crate::Error`] of kind [`ErrorKind::Json`] whose path is the field's
//! (`data[0].valu`, `cancellationThreshold.value`, `[2].status` for an element of a top-level
//! array). An error about the document as a whole (bad syntax at the top, a top-level value of the
//! wrong type) has no path. The message is serde's, with the line and column.
//!
//! ```
//! use fleet_core::model::{parse, Job};
//! use fleet_core::ErrorKind;
//!
//! let err = parse::from_str::<Job>(r#"{"group": "g", "data": [{"type": "property", "valu": 1}]}"#)
//!     .unwrap_err();
//! assert_eq!(err.path(), Some("data[0].valu"));
//! assert!(matches!(err.kind(), ErrorKind::Json(_)));
//! ```

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::model::validate::Validate;

/// Converts a path-tracking serde error into the crate's error.
fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = err.path().to_string();
    let kind = ErrorKind::Json(err.inner().to_string());
    if path == "." {
        Error::new(kind)
    } else {
        Error::at(path, kind)
    }
}

/// Reads a `T` from JSON text.
pub fn from_str<T: DeserializeOwned>(json: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    de.end()
        .map_err(|e| Error::new(ErrorKind::Json(e.to_string())))?;
    Ok(value)
}

/// Reads a `T` from JSON bytes (UTF-8).
pub fn from_slice<T: DeserializeOwned>(json: &[u8]) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    de.end()
        .map_err(|e| Error::new(ErrorKind::Json(e.to_string())))?;
    Ok(value)
}

/// Reads a `T` from a JSON value (no line and column in the messages).
pub fn from_value<T: DeserializeOwned>(json: Value) -> Result<T> {
    serde_path_to_error::deserialize(json).map_err(json_error)
}

/// Reads a `T` from JSON text and validates it.
pub fn validated<T: DeserializeOwned + Validate>(json: &str) -> Result<T> {
    let value: T = from_str(json)?;
    value.validate()?;
    Ok(value)
}

/// Writes a model value as JSON text (compact).
pub fn to_string<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::new(ErrorKind::Json(e.to_string())))
}

/// Writes a model value as JSON text, indented.
pub fn to_string_pretty<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| Error::new(ErrorKind::Json(e.to_string())))
}

/// Writes a model value as a JSON value.
pub fn to_value<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::new(ErrorKind::Json(e.to_string())))
}
