//! fleet-query: the IoT Hub device query language, as IoT Hub job `queryCondition`s, IoT Hub
//! device queries and IoT Central device group filters use it.
//!
//! ```text
//! SELECT [TOP n] * FROM devices [WHERE condition]
//! ```
//!
//! Conditions compare a field with a constant (`= != <> < <= > >=`), test membership (`IN`,
//! `NIN` with an array constant) or existence (`IS_DEFINED(field)`), and combine with `AND`,
//! `OR`, `NOT` and parentheses. The full rules, with examples, are in
//! `docs/query-language.md`; in short:
//!
//! - A device matches only when the condition is definitely true. A comparison with a missing
//!   field (or an object) is *unknown*, and `NOT unknown` is unknown, so
//!   `NOT (tags.x = 1)` does not match devices without `tags.x`.
//! - Field names and keywords ignore case; `[[name]]` escapes a name.
//! - Queries are at most [`MAX_QUERY_CHARS`] characters; conditions nest at most
//!   [`MAX_DEPTH`] levels. Parsing never panics: any input gives a [`Query`] or an [`Error`]
//!   with the line and column.
//!
//! # Use
//!
//! Parse once, compile against a store of devices (a [`Resolver`], such as fleet-sim's
//! `Fleet`), then evaluate per device:
//!
//! ```
//! use fleet_query::Query;
//! use serde_json::json;
//!
//! let q = Query::parse(r#"SELECT * FROM devices WHERE $template = "dtmi:x;1" AND tags.firmware IN ['1.2', '1.3']"#)?;
//! let device = json!({"deviceId": "a", "$template": "dtmi:x;1", "tags": {"firmware": "1.2"}});
//! assert!(q.matches_json(&device));
//!
//! let e = Query::parse_condition("tags.firmware = ").unwrap_err();
//! assert_eq!(e.to_string(), "expected a value after '=', found the end of the query at column 17");
//! # Ok::<(), fleet_query::Error>(())
//! ```
//!
//! # Why a hand-written parser
//!
//! The grammar is small (a dozen productions), and the errors must say where and what
//! ("expected a value after '=' at column 42") and never panic on any input. A hand-written
//! lexer and recursive-descent parser give exact columns and tailored messages with no
//! dependency; recursion happens only for `(` and `NOT`, and is capped.

#![deny(missing_docs)]

mod ast;
mod compile;
mod error;
mod eval;
mod lexer;
mod name;
mod parser;

use std::fmt;

use serde_json::Value;

pub use ast::{CompareOp, Constant, Expr, Path};
pub use compile::{Cells, Compiled, Mask, Resolved, Resolver, NONE};
pub use error::{Error, ErrorKind};
pub use eval::{compare, contains, is_defined, lookup, name_matches, pick_name, Truth};

use parser::Mode;

/// The longest query accepted, in characters (Unicode scalar values, not bytes), as IoT Hub
/// limits queries to 8,192 characters.
pub const MAX_QUERY_CHARS: usize = 8192;

/// How deep conditions may nest: parentheses and `NOT`s, counted together.
pub const MAX_DEPTH: usize = 64;

/// A parsed query: an optional `TOP n` and an optional condition (none = every device).
///
/// Two queries are equal when their text is equal.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    top: Option<u64>,
    condition: Option<Expr>,
}

impl PartialEq for Query {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Query {
    /// Parses a whole query, `SELECT [TOP n] * FROM devices [WHERE condition]` (an IoT Central
    /// device group filter, an IoT Hub device query).
    pub fn parse(text: &str) -> Result<Self, Error> {
        parser::parse(text, Mode::Select)
    }

    /// Parses an IoT Hub job `queryCondition`: the `WHERE` part alone, or `*` for every device.
    pub fn parse_condition(text: &str) -> Result<Self, Error> {
        parser::parse(text, Mode::Condition)
    }

    /// Parses either form: a whole `SELECT` query, a condition, or `*`.
    pub fn parse_any(text: &str) -> Result<Self, Error> {
        parser::parse(text, Mode::Any)
    }

    /// The text it was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// `TOP n`, if given.
    pub fn top(&self) -> Option<u64> {
        self.top
    }

    /// The condition (`None`: every device).
    pub fn condition(&self) -> Option<&Expr> {
        self.condition.as_ref()
    }

    /// Whether the query selects every device (no condition, no `TOP`).
    pub fn is_all(&self) -> bool {
        self.top.is_none() && self.condition.is_none()
    }

    /// Compiles the query against a device store. Unknown fields are missing (so comparisons
    /// with them are unknown); compiling cannot fail. With `TOP n`, compiling scans devices
    /// until the n-th match.
    pub fn compile<'a, R: Resolver + ?Sized>(&self, store: &'a R) -> Compiled<'a> {
        Compiled::new(self, store)
    }

    /// The condition's truth for one device document (the reference interpreter; see
    /// [`Query::matches_json`]). `TOP` is ignored.
    pub fn truth_json(&self, device: &Value) -> Truth {
        self.condition
            .as_ref()
            .map_or(Truth::True, |e| e.eval_json(device))
    }

    /// Whether the condition is true for one device document (`TOP` is ignored; see
    /// [`Query::select_json`]).
    ///
    /// A device document is the device's twin as IoT Hub shows it, with IoT Central's fields
    /// at the top: `{"deviceId", "$id", "$template", "$provisioned", "$simulated", "status",
    /// "connectionState", "tags": {..}, "properties": {"desired": {..}, "reported": {..}}}`.
    /// Names are looked up with [`lookup`].
    pub fn matches_json(&self, device: &Value) -> bool {
        self.truth_json(device) == Truth::True
    }

    /// The indices of the matching documents, in order, at most `TOP n` of them.
    pub fn select_json(&self, devices: &[Value]) -> Vec<usize> {
        let limit = self
            .top
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        devices
            .iter()
            .enumerate()
            .filter(|(_, d)| self.matches_json(d))
            .map(|(i, _)| i)
            .take(limit)
            .collect()
    }
}

impl fmt::Display for Query {
    /// The canonical text: `SELECT [TOP n] * FROM devices [WHERE ...]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        if let Some(n) = self.top {
            write!(f, "TOP {n} ")?;
        }
        f.write_str("* FROM devices")?;
        if let Some(c) = &self.condition {
            write!(f, " WHERE {c}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Query {
    type Err = Error;

    /// [`Query::parse_any`].
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_any(s)
    }
}

impl serde::Serialize for Query {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Query {
    /// A string, parsed with [`Query::parse_any`]; the error message carries the column.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Query;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a device query (a WHERE condition or SELECT * FROM devices ...)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Query, E> {
                Query::parse_any(v).map_err(|e| E::custom(format!("invalid query: {e}")))
            }
        }
        d.deserialize_str(Visitor)
    }
}
