//! [`Record`]: one device read from an export, in fleetsim's terms, and the pieces the
//! formats share to read one.
//!
//! A record borrows from its JSON text: ids, names and every tag and property value stay the
//! record's own text ([`Json::Raw`]) until the fleet builder interns them, which parses a
//! value only the first time its text is seen in its column.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::stream::RawRecord;

/// A tag or property value: the record's own JSON text, or a value the reader made (AWS
/// `thingGroups`, hawkBit `updateStatus`, IoT Central properties, shadows).
#[derive(Debug, Clone)]
pub(crate) enum Json<'a> {
    /// As written in the record.
    Raw(&'a RawValue),
    /// Made by the reader.
    Made(Value),
}

/// Named values (tags, or desired or reported properties) in the order read.
pub(crate) type Entries<'a> = Vec<(Cow<'a, str>, Json<'a>)>;

/// One device as an export describes it. Every format fills what it has; see
/// `docs/import.md` for which field of which format goes where.
#[derive(Debug, Clone)]
pub(crate) struct Record<'a> {
    /// The device id (IoT Hub `deviceId`, IoT Central `id`, AWS `thingName`, hawkBit
    /// `controllerId`).
    pub id: Cow<'a, str>,
    /// The template: IoT Hub `modelId`, IoT Central `template`, AWS `thingTypeName`, hawkBit
    /// `targetTypeName`.
    pub template: Option<Cow<'a, str>>,
    /// A name for people, when it differs from the id (kept in the fleet file, not used).
    pub display_name: Option<Cow<'a, str>>,
    /// Tags, by top-level name.
    pub tags: Entries<'a>,
    /// Desired properties, by top-level name.
    pub desired: Entries<'a>,
    /// Reported properties, by top-level name.
    pub reported: Entries<'a>,
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
    pub last_activity: Option<Cow<'a, str>>,
}

impl<'a> Record<'a> {
    /// A device with this id and nothing else: provisioned, enabled, not simulated, connection
    /// unknown.
    pub fn new(id: Cow<'a, str>) -> Self {
        Self {
            id,
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

/// What one record of an export is.
#[derive(Debug, Clone)]
pub(crate) enum Parsed<'a> {
    /// A device.
    Device(Box<Record<'a>>),
    /// An IoT Hub module identity (a record with a `moduleId`): not a device, counted.
    Module,
}

/// Parses a record's JSON text as `T`; a field that does not fit is an error naming its path
/// (`properties.desired`) and its line in the file. (The path is tracked only when the record
/// is found bad: parsed again, with `serde_path_to_error`.)
pub(crate) fn parse<'a, T: Deserialize<'a>>(raw: RawRecord<'a>) -> Result<T> {
    if let Ok(t) = serde_json::from_str(raw.text) {
        return Ok(t);
    }
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

/// A string, borrowed from the record's text when it has no escapes.
struct CowStr;

impl<'de> DeserializeSeed<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A twin section (tags, desired or reported properties): its entries in the order written,
/// each value as its JSON text, without IoT Hub's metadata entries (`$metadata`, `$version`,
/// `$etag`: every name starting with `$`, which no tag or property name may). `null` reads as
/// no entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Section<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Section<'a> {
    /// The entries, as [`Entries`].
    pub(crate) fn entries(self) -> Entries<'a> {
        self.0.into_iter().map(|(k, v)| (k, Json::Raw(v))).collect()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Section<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(SectionVisitor(std::marker::PhantomData))
    }
}

struct SectionVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for SectionVisitor<'a> {
    type Value = Section<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of names and values")
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Section<'a>, E> {
        Ok(Section::default())
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Section<'a>, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(CowStr)? {
            if key.starts_with('$') {
                map.next_value::<IgnoredAny>()?;
            } else {
                let value: &'de RawValue = map.next_value()?;
                entries.push((key, value));
            }
        }
        Ok(Section(entries))
    }
}

/// Named values made by a reader, as [`Entries`].
pub(crate) fn made(entries: Vec<(String, Value)>) -> Entries<'static> {
    entries
        .into_iter()
        .map(|(k, v)| (Cow::Owned(k), Json::Made(v)))
        .collect()
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
pub(crate) fn non_empty(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_drop_the_metadata() {
        let text = r#"{"fw": "1.2", "$metadata": {"fw": {"$lastUpdated": "x"}}, "$version": 4, "c\u0066g": {"a": 1}}"#;
        let s: Section = serde_json::from_str(text).unwrap();
        let got: Vec<(&str, &str)> = s.0.iter().map(|(k, v)| (k.as_ref(), v.get())).collect();
        assert_eq!(got, [("fw", "\"1.2\""), ("cfg", "{\"a\": 1}")]);
        // A name without escapes is the record's own text.
        assert!(matches!(s.0[0].0, Cow::Borrowed(_)));
        let s: Section = serde_json::from_str("null").unwrap();
        assert!(s.0.is_empty());
        assert!(serde_json::from_str::<Section>("[1]").is_err());
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
