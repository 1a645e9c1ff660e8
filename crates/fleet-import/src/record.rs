//! [`Record`]: one device read from an export, in fleetsim's terms, and the pieces the
//! formats share to read one.

use std::fmt;

use serde::de::{self, Deserialize, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::stream::RawRecord;

/// One device as an export describes it. Every format fills what it has; see
/// `docs/import.md` for which field of which format goes where.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The device id (IoT Hub `deviceId`, IoT Central `id`, AWS `thingName`, hawkBit
    /// `controllerId`).
    pub id: String,
    /// The template: IoT Hub `modelId`, IoT Central `template`, AWS `thingTypeName`, hawkBit
    /// `targetTypeName`.
    pub template: Option<String>,
    /// A name for people, when it differs from the id (kept in the fleet file, not used).
    pub display_name: Option<String>,
    /// Tags, by top-level name (values any JSON).
    pub tags: Vec<(String, Value)>,
    /// Desired properties, by top-level name.
    pub desired: Vec<(String, Value)>,
    /// Reported properties, by top-level name.
    pub reported: Vec<(String, Value)>,
    /// Provisioned (IoT Central `provisioned`; false for a hawkBit target that never polled).
    pub provisioned: bool,
    /// Simulated (IoT Central `simulated`; false elsewhere).
    pub simulated: bool,
    /// Enabled (IoT Hub `status`, IoT Central `enabled`).
    pub enabled: bool,
    /// An IoT Edge device (`capabilities.iotEdge`).
    pub iot_edge: bool,
    /// Connected when exported; `None` where the format does not say.
    pub connected: Option<bool>,
    /// The last activity the export records (RFC 3339 text, as exported for IoT Hub).
    pub last_activity: Option<String>,
}

impl Record {
    /// A device with this id and nothing else: provisioned, enabled, not simulated, connection
    /// unknown.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            template: None,
            display_name: None,
            tags: Vec::new(),
            desired: Vec::new(),
            reported: Vec::new(),
            provisioned: true,
            simulated: false,
            enabled: true,
            iot_edge: false,
            connected: None,
            last_activity: None,
        }
    }
}

/// Named values (tags, or desired or reported properties) in the order read.
pub(crate) type Entries = Vec<(String, Value)>;

/// What one record of an export is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    /// A device.
    Device(Box<Record>),
    /// An IoT Hub module identity (a record with a `moduleId`): not a device, counted.
    Module,
}

/// Parses a record's JSON text as `T`; a field that does not fit is an error naming its path
/// (`properties.desired`) and its line in the file.
pub(crate) fn parse<'a, T: Deserialize<'a>>(raw: RawRecord<'a>) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(raw.text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let line = raw.line + (inner.line() as u64).saturating_sub(1);
        let text = inner.to_string();
        let message = match text.rfind(" at line ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        let field = if path == "." { String::new() } else { path };
        Error::invalid(field, message).with_line(line)
    })
}

/// A twin section (tags, desired or reported properties): its entries in the order written,
/// without IoT Hub's metadata entries (`$metadata`, `$version`, `$etag`: every name starting
/// with `$`, which no tag or property name may). `null` reads as no entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Section(pub Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Section {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(SectionVisitor)
    }
}

struct SectionVisitor;

impl<'de> Visitor<'de> for SectionVisitor {
    type Value = Section;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of names and values")
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Section, E> {
        Ok(Section::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Section, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.starts_with('$') {
                map.next_value::<IgnoredAny>()?;
            } else {
                let value: Value = map.next_value()?;
                entries.push((key, value));
            }
        }
        Ok(Section(entries))
    }
}

/// An IoT Hub `status`: `enabled` (true) or `disabled`, in any case; absent is enabled.
pub(crate) fn enabled(status: Option<&str>) -> Result<bool> {
    match status {
        None => Ok(true),
        Some(s) if s.eq_ignore_ascii_case("enabled") => Ok(true),
        Some(s) if s.eq_ignore_ascii_case("disabled") => Ok(false),
        Some(s) => Err(Error::invalid(
            "status",
            format!("expected \"enabled\" or \"disabled\", found {s:?}"),
        )),
    }
}

/// An IoT Hub `connectionState`: `Connected` (true) or `Disconnected`, in any case (the
/// device twin guide's example writes `connected`).
pub(crate) fn connected(state: Option<&str>) -> Result<Option<bool>> {
    match state {
        None => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("connected") => Ok(Some(true)),
        Some(s) if s.eq_ignore_ascii_case("disconnected") => Ok(Some(false)),
        Some(s) => Err(Error::invalid(
            "connectionState",
            format!("expected \"Connected\" or \"Disconnected\", found {s:?}"),
        )),
    }
}

/// Milliseconds since the Unix epoch (AWS `connectivity.timestamp`, hawkBit
/// `lastControllerRequestAt`) as RFC 3339 text.
pub(crate) fn epoch_ms(field: &str, ms: i64) -> Result<String> {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .map_err(|e| Error::invalid(field, format!("{ms} is not a time in milliseconds: {e}")))
}

/// A non-empty string, else none (IoT Hub writes `"modelId": ""` for a device without one).
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sections_drop_the_metadata() {
        let s: Section = serde_json::from_str(
            r#"{"fw": "1.2", "$metadata": {"fw": {"$lastUpdated": "x"}}, "$version": 4, "cfg": {"a": 1}}"#,
        )
        .unwrap();
        assert_eq!(
            s.0,
            [
                ("fw".to_string(), json!("1.2")),
                ("cfg".into(), json!({"a": 1}))
            ]
        );
        let s: Section = serde_json::from_value(Value::Null).unwrap();
        assert!(s.0.is_empty());
        assert!(serde_json::from_value::<Section>(json!([1])).is_err());
    }

    #[test]
    fn statuses_and_times() {
        assert!(!enabled(Some("Disabled")).unwrap());
        assert!(enabled(None).unwrap());
        assert_eq!(enabled(Some("off")).unwrap_err().field(), Some("status"));
        assert_eq!(connected(Some("connected")).unwrap(), Some(true));
        assert_eq!(connected(Some("Disconnected")).unwrap(), Some(false));
        assert_eq!(connected(None).unwrap(), None);
        assert!(connected(Some("maybe")).is_err());
        assert_eq!(
            epoch_ms("t", 1718134574557).unwrap(),
            "2024-06-11T19:36:14.557Z"
        );
        assert_eq!(epoch_ms("t", i64::MAX).unwrap_err().field(), Some("t"));
    }

    #[test]
    fn parse_errors_name_the_field_and_the_line() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            a: Inner,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            b: bool,
        }
        let raw = RawRecord {
            text: "{\"a\":\n {\"b\": 3}}",
            record: 4,
            line: 10,
            key: None,
        };
        let e = parse::<T>(raw).unwrap_err();
        assert_eq!((e.field(), e.line()), (Some("a.b"), Some(11)));
        assert!(e
            .to_string()
            .contains("invalid type: integer `3`, expected a boolean"));
        assert!(e.is_skippable());
    }
}
