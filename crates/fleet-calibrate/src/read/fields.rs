//! Typed access to the fields of one JSON record, with errors that name the field.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A JSON object of an export.
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a>(pub(crate) &'a Map<String, Value>);

/// The JSON type of a value, for messages.
pub(crate) fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Obj<'a> {
    /// `v` as an object, or an error naming `field`.
    pub(crate) fn of(v: &'a Value, field: &str) -> Result<Self> {
        match v {
            Value::Object(m) => Ok(Self(m)),
            other => Err(Error::invalid(
                field,
                format!("expected an object, found {}", type_of(other)),
            )),
        }
    }

    /// A field that must be a non-empty string.
    pub(crate) fn string(&self, name: &str) -> Result<&'a str> {
        match self.0.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(Value::String(_)) => Err(Error::invalid(name, "must not be empty")),
            None | Some(Value::Null) => Err(Error::invalid(name, "is missing")),
            Some(other) => Err(Error::invalid(
                name,
                format!("expected a string, found {}", type_of(other)),
            )),
        }
    }

    /// A field that may be absent or null, else a string.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<&'a str>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(Error::invalid(
                name,
                format!("expected a string, found {}", type_of(other)),
            )),
        }
    }

    /// A field that may be absent or null, else an object.
    pub(crate) fn opt_object(&self, name: &str) -> Result<Option<Obj<'a>>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Self::of(v, name).map(Some),
        }
    }

    /// A field that may be absent or null, else a non-negative integer.
    pub(crate) fn opt_u64(&self, name: &str) -> Result<Option<u64>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                Error::invalid(name, format!("expected a whole number >= 0, found {n}"))
            }),
            Some(other) => Err(Error::invalid(
                name,
                format!("expected a number, found {}", type_of(other)),
            )),
        }
    }

    /// A field that may be absent or null, else a date-time: a string (RFC 3339, or without
    /// an offset, which is UTC) or a number of seconds since the Unix epoch (AWS).
    pub(crate) fn opt_time(&self, name: &str) -> Result<Option<i64>> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => super::time::parse(v)
                .map(Some)
                .map_err(|m| Error::invalid(name, m)),
        }
    }

    /// Whether the object has this field (even null).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}
