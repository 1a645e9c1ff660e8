//! Validation: the rules a document must follow beyond its shape, each failure a typed
//! [`Error`] that names the field's path.
//!
//! Parsing ([`crate::model::parse`]) checks JSON syntax, field names, JSON types and the words of
//! closed vocabularies. [`Validate`] checks values: ids, ranges, required fields that depend on a
//! `type`, consistency between fields. Nothing is clamped or corrected: a value out of range is an
//! error.

use jiff::civil::Date;
use jiff::Timestamp;
use serde_json::{Map, Number, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::model::data::{JobData, Operation};

/// A document that can check its values.
pub trait Validate {
    /// `Ok` if every rule holds; otherwise the first broken rule, with the path of its field.
    fn validate(&self) -> Result<()>;
}

impl<T: Validate> Validate for Vec<T> {
    /// Validates every element; paths are `[i]...` (a top-level array, such as an IoT Hub job
    /// query's result).
    fn validate(&self) -> Result<()> {
        for (i, element) in self.iter().enumerate() {
            element
                .validate()
                .map_err(|e| e.within(&format!("[{i}]")))?;
        }
        Ok(())
    }
}

/// The longest IoT Central id (job, scheduled job, device group), in characters.
pub const CENTRAL_ID_MAX: usize = 128;
/// The longest IoT Hub `jobId`, in characters.
pub const HUB_JOB_ID_MAX: usize = 64;
/// The longest query or filter, in characters.
pub const QUERY_MAX: usize = 8192;
/// The longest twin property or tag name, in bytes.
pub const TWIN_NAME_MAX: usize = 1024;
/// The deepest nesting of objects in twin tags or desired properties.
pub const TWIN_DEPTH_MAX: usize = 10;

/// The IoT Central id rules, for job, scheduled job and device group ids.
///
/// **Decision:** 1 to [`CENTRAL_ID_MAX`] (128) characters, each an RFC 3986 unreserved
/// character: ASCII letter, digit, `-`, `.`, `_` or `~`. The specification gives no pattern; this
/// rule admits every id the documentation shows (`job-004`, `scheduled-Job-001`, GUIDs) and makes
/// sure an id is a URL path segment as it stands (`/jobs/{id}`), with no escaping to get wrong.
/// 128 is IoT Central's limit on device ids, used here for all of its ids.
pub fn central_job_id(id: &str) -> Result<()> {
    central_id_rule(id).map_err(|reason| {
        Error::new(ErrorKind::InvalidJobId {
            id: id.to_string(),
            reason,
        })
    })
}

fn central_id_rule(id: &str) -> std::result::Result<(), &'static str> {
    if id.is_empty() {
        return Err("an id must not be empty");
    }
    if id.chars().count() > CENTRAL_ID_MAX {
        return Err("an id has at most 128 characters");
    }
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    if !id.chars().all(unreserved) {
        return Err("an id holds only ASCII letters, digits, `-`, `.`, `_` and `~`");
    }
    Ok(())
}

/// The IoT Hub `jobId` rules (per the jobs guide): 1 to [`HUB_JOB_ID_MAX`] (64) characters, each
/// an ASCII letter, digit or `-`.
pub fn hub_job_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        Some("a jobId must not be empty")
    } else if id.chars().count() > HUB_JOB_ID_MAX {
        Some("a jobId has at most 64 characters")
    } else if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Some("a jobId holds only ASCII letters, digits and `-`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::new(ErrorKind::InvalidJobId {
            id: id.to_string(),
            reason,
        })),
        None => Ok(()),
    }
}

/// The rules for a name in a twin patch (a tag or desired property, at any depth).
///
/// Per API-NOTES: printable ASCII except `$ ( ) < > @ , ; : \ " / [ ] ? = { }`, space and tab.
/// The Swagger also excludes `.` (it separates the levels of a query path such as
/// `properties.desired.a.b`), so `.` is refused too. A name is not empty and has at most
/// [`TWIN_NAME_MAX`] bytes. Values are not restricted: a desired firmware URL holds `/` and `:`.
pub fn twin_property_name(name: &str) -> Result<()> {
    const FORBIDDEN: &str = "$()<>@,;:\\\"/[]?={}.";
    let reason = if name.is_empty() {
        Some("a property name must not be empty")
    } else if name.len() > TWIN_NAME_MAX {
        Some("a property name has at most 1024 bytes")
    } else if !name.chars().all(|c| c.is_ascii_graphic()) {
        Some("a property name holds only printable ASCII, without space or tab")
    } else if name.chars().any(|c| FORBIDDEN.contains(c)) {
        Some("a property name holds none of $ ( ) < > @ , ; : \\ \" / [ ] ? = { } .")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::new(ErrorKind::InvalidPropertyName {
            name: name.to_string(),
            reason,
        })),
        None => Ok(()),
    }
}

/// Checks every name in a twin patch object (tags or desired properties) and its depth.
/// `path` is the object's path (`updateTwin.tags`).
pub(crate) fn twin_object(path: &str, object: &Map<String, Value>) -> Result<()> {
    twin_members(path, object, 1)
}

fn twin_members(path: &str, object: &Map<String, Value>, depth: usize) -> Result<()> {
    for (name, value) in object {
        let here = format!("{path}.{name}");
        twin_property_name(name).map_err(|e| e.within(&here))?;
        twin_value(&here, value, depth)?;
    }
    Ok(())
}

fn twin_value(path: &str, value: &Value, depth: usize) -> Result<()> {
    match value {
        Value::Object(inner) => {
            if depth > TWIN_DEPTH_MAX {
                return Err(Error::at(
                    path,
                    ErrorKind::InvalidValue(format!(
                        "objects in a twin nest at most {TWIN_DEPTH_MAX} deep"
                    )),
                ));
            }
            twin_members(path, inner, depth + 1)
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                twin_value(&format!("{path}[{i}]"), item, depth)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A whole number of at least 1 that fits a `u32`, from a JSON number: below 1 or too large is
/// `out_of_range`, not whole (`2.5`) is [`ErrorKind::InvalidValue`]. A whole number written with a
/// fraction (`5.0`) is accepted: JSON does not tell them apart.
pub(crate) fn whole_number(n: &Number, out_of_range: fn(String) -> ErrorKind) -> Result<u32> {
    let value = if let Some(u) = n.as_u64() {
        u as f64
    } else if let Some(i) = n.as_i64() {
        i as f64
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        if f.fract() != 0.0 {
            return Err(Error::new(ErrorKind::InvalidValue(format!(
                "{n} is not a whole number of devices"
            ))));
        }
        f
    };
    if value < 1.0 {
        return Err(Error::new(out_of_range(format!(
            "{n} devices; the number must be at least 1"
        ))));
    }
    if value > f64::from(u32::MAX) {
        return Err(Error::new(out_of_range(format!(
            "{n} devices; the number must be at most {}",
            u32::MAX
        ))));
    }
    Ok(value as u32)
}

/// An RFC 3339 date-time with an offset (`2022-10-24T22:29:01Z`), at `path`.
pub(crate) fn timestamp(path: &str, value: &str) -> Result<Timestamp> {
    value.parse::<Timestamp>().map_err(|e| {
        Error::at(
            path,
            ErrorKind::InvalidValue(format!(
                "{value:?} is not an RFC 3339 date-time with an offset: {e}"
            )),
        )
    })
}

/// A calendar date (`2022-12-30`) or an RFC 3339 date-time, at `path`.
pub(crate) fn date_or_timestamp(path: &str, value: &str) -> Result<DateOrTimestamp> {
    if let Ok(date) = value.parse::<Date>() {
        if !value.contains('T') && !value.contains('t') && !value.contains(' ') {
            return Ok(DateOrTimestamp::Date(date));
        }
    }
    match value.parse::<Timestamp>() {
        Ok(ts) => Ok(DateOrTimestamp::Timestamp(ts)),
        Err(_) => Err(Error::at(
            path,
            ErrorKind::InvalidValue(format!(
                "{value:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time"
            )),
        )),
    }
}

/// The value of a field that accepts a date or a date-time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DateOrTimestamp {
    Date(Date),
    Timestamp(Timestamp),
}

/// A string field that must not be empty (nor only whitespace).
pub(crate) fn non_empty(path: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::at(
            path,
            ErrorKind::InvalidValue("must not be empty".into()),
        ));
    }
    Ok(())
}

/// An optional IoT Central job id at `path`.
pub(crate) fn optional_job_id(path: &str, id: Option<&str>) -> Result<()> {
    match id {
        Some(id) => central_job_id(id).map_err(|e| e.within(path)),
        None => Ok(()),
    }
}

/// An IoT Central device group id (a job's `group`, a group's `id`) at `path`: the id rule of
/// [`central_job_id`], reported as [`ErrorKind::InvalidValue`].
pub(crate) fn group_id(path: &str, id: &str) -> Result<()> {
    central_id_rule(id)
        .map_err(|reason| Error::at(path, ErrorKind::InvalidValue(format!("{id:?}: {reason}"))))
}

/// A query or filter at `path`: not empty, at most [`QUERY_MAX`] characters.
pub(crate) fn query(path: &str, query: &str) -> Result<()> {
    non_empty(path, query)?;
    if query.chars().count() > QUERY_MAX {
        return Err(Error::at(
            path,
            ErrorKind::InvalidValue(format!("a query has at most {QUERY_MAX} characters")),
        ));
    }
    Ok(())
}

/// The rules of a `data` array (see [`crate::model::Job`]); paths are `data`, `data[i].field`.
pub(crate) fn data_entries(data: &[JobData]) -> Result<()> {
    let Some(first) = data.first() else {
        return Err(Error::at("data", ErrorKind::EmptyData));
    };
    let mut seen: Vec<(&str, &str)> = Vec::with_capacity(data.len());
    for (i, entry) in data.iter().enumerate() {
        let at = |e: Error| e.within(&format!("data[{i}]"));
        if entry.data_type() != first.data_type() {
            return Err(Error::at(
                format!("data[{i}].type"),
                ErrorKind::MixedData(format!(
                    "entry {i} is `{}` but entry 0 is `{}`; all entries must be of one type",
                    entry.data_type(),
                    first.data_type()
                )),
            ));
        }
        let operation = entry.operation().map_err(at)?;
        match operation {
            Operation::Property { target, path, .. }
            | Operation::CloudProperty { target, path, .. }
            | Operation::Command { target, path, .. } => {
                if seen.contains(&(target, path)) {
                    return Err(Error::at(
                        format!("data[{i}].path"),
                        ErrorKind::InvalidValue(format!(
                            "a second entry for `{path}` of `{target}`"
                        )),
                    ));
                }
                seen.push((target, path));
            }
            Operation::DeviceTemplateMigration { .. }
            | Operation::DeviceManifestMigration { .. } => {
                if i > 0 {
                    return Err(Error::at(
                        format!("data[{i}]"),
                        ErrorKind::MixedData(
                            "a migration has exactly one entry: a device moves to one template"
                                .into(),
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
