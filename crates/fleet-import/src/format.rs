//! [`Format`]: the export formats fleetsim reads, and how a file's format is told from its
//! content.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, ErrorKind, Result};

/// An export format. See `docs/import.md` for every field of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// `az iot hub query -q "SELECT * FROM devices"` (the output of `POST /devices/query`): a
    /// JSON array of device twins (also: twins one after the other, as JSON lines).
    HubTwins,
    /// The `devices.txt` blob of an IoT Hub device export job: one device per line.
    HubExport,
    /// IoT Central `GET /api/devices` pages (`{"value": [...], "nextLink": ...}`), or the
    /// array of devices that `az iot central device list` prints.
    Central,
    /// `aws iot search-index` or `aws iot list-things` output (`{"things": [...]}`).
    Aws,
    /// hawkBit `GET /rest/v1/targets` pages (`{"content": [...], "total": ..., "size": ...}`).
    Hawkbit,
}

impl Format {
    /// Every format, in the order of [`Format::name`]s in the documentation.
    pub const ALL: [Format; 5] = [
        Format::HubTwins,
        Format::HubExport,
        Format::Central,
        Format::Aws,
        Format::Hawkbit,
    ];

    /// The name `--format` takes and the fleet file's header records.
    pub fn name(self) -> &'static str {
        match self {
            Format::HubTwins => "iothub-twins",
            Format::HubExport => "iothub-export",
            Format::Central => "central",
            Format::Aws => "aws",
            Format::Hawkbit => "hawkbit",
        }
    }

    /// The key of a page object that holds the records, for the formats that come in pages.
    pub(crate) fn list_key(self) -> Option<&'static str> {
        match self {
            Format::HubTwins | Format::HubExport => None,
            Format::Central => Some("value"),
            Format::Aws => Some("things"),
            Format::Hawkbit => Some("content"),
        }
    }

    /// Tells the format of a file from its first bytes (`prefix`; the first record must be in
    /// it, whole or in part). The error says what the file looks like instead.
    pub fn detect(prefix: &[u8]) -> Result<Format> {
        let mut probe = Probe::default();
        let mut de = serde_json::Deserializer::from_slice(prefix);
        // The probe stops early (an error) once it has seen enough; a prefix cut inside the
        // first record ends it too. Either way, what it saw decides.
        let _ = (&mut probe).deserialize(&mut de);
        probe.classify()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                Error::new(ErrorKind::Format(format!(
                    "unknown format {s:?}: use one of {}",
                    names.join(", ")
                )))
            })
    }
}

/// What the beginning of a file looks like: the first value's kind and keys, and the keys of
/// the first record inside it.
#[derive(Debug, Default)]
struct Probe {
    seen: bool,
    top_array: bool,
    top_keys: Vec<String>,
    container: Option<&'static str>,
    record_keys: Vec<String>,
}

/// The keys of the page objects that hold records.
const CONTAINERS: [&str; 3] = ["value", "things", "content"];

impl Probe {
    fn classify(&self) -> Result<Format> {
        if !self.seen {
            return Err(Error::new(ErrorKind::Format(
                "the file is empty or does not start with a JSON object or array".into(),
            )));
        }
        let has = |keys: &[String], k: &str| keys.iter().any(|x| x == k);
        if has(&self.top_keys, "fleetsim_fleet") {
            return Err(Error::new(ErrorKind::Format(
                "this is already a fleetsim fleet file (a scenario's `[fleet] file` takes it)"
                    .into(),
            )));
        }
        match self.container {
            Some("value") => return Ok(Format::Central),
            Some("things") => return Ok(Format::Aws),
            Some("content") => return Ok(Format::Hawkbit),
            _ => {}
        }
        let keys = if self.top_array {
            &self.record_keys
        } else {
            &self.top_keys
        };
        let any = |names: &[&str]| names.iter().any(|k| has(keys, k));
        let format = if any(&["deviceId"]) {
            Some(Format::HubTwins)
        } else if any(&["thingName"]) {
            Some(Format::Aws)
        } else if any(&["controllerId"]) {
            Some(Format::Hawkbit)
        } else if has(keys, "id") && any(&["eTag", "twinETag", "authentication", "importMode"]) {
            Some(Format::HubExport)
        } else if has(keys, "id")
            && any(&[
                "displayName",
                "template",
                "provisioned",
                "simulated",
                "enabled",
            ])
        {
            Some(Format::Central)
        } else if has(keys, "id") && any(&["status", "tags", "properties"]) {
            Some(Format::HubExport)
        } else {
            None
        };
        format.ok_or_else(|| {
            let shown = match keys.is_empty() {
                true => "no fields".to_string(),
                false => format!("the fields {}", keys.join(", ")),
            };
            Error::new(ErrorKind::Format(format!(
                "cannot tell the export format: its first record has {shown}; give --format ({})",
                Format::ALL.map(Format::name).join(", ")
            )))
        })
    }
}

/// Stops the probe once it knows enough.
const STOP: &str = "probe: enough seen";

impl<'de> DeserializeSeed<'de> for &mut Probe {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Probe {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        self.seen = true;
        self.top_array = true;
        seq.next_element_seed(Keys(&mut self.record_keys))?;
        Err(de::Error::custom(STOP))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        self.seen = true;
        while let Some(key) = map.next_key::<String>()? {
            let container = CONTAINERS.iter().find(|c| **c == key).copied();
            self.top_keys.push(key);
            if let Some(c) = container {
                self.container = Some(c);
                return Err(de::Error::custom(STOP));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// Records the keys of an object (the first record of an array).
struct Keys<'a>(&'a mut Vec<String>);

impl<'de> DeserializeSeed<'de> for Keys<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            self.0.push(key);
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(text: &str) -> std::result::Result<Format, String> {
        Format::detect(text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn formats_are_told_from_their_first_record() {
        assert_eq!(
            detect(r#"[{"deviceId": "a", "tags": {}}]"#),
            Ok(Format::HubTwins)
        );
        assert_eq!(
            detect(r#" {"deviceId": "a"} {"deviceId": "b"}"#),
            Ok(Format::HubTwins)
        );
        assert_eq!(
            detect(r#"{"id":"Device1","eTag":"MA==","status":"enabled"}"#),
            Ok(Format::HubExport)
        );
        assert_eq!(
            detect(r#"{"value": [], "nextLink": "x"}"#),
            Ok(Format::Central)
        );
        assert_eq!(
            detect(r#"[{"id": "a", "displayName": "A", "template": "t"}]"#),
            Ok(Format::Central)
        );
        assert_eq!(
            detect(r#"{"things": [{"thingName": "x"}]}"#),
            Ok(Format::Aws)
        );
        assert_eq!(
            detect(r#"{"total": 3, "content": [{"c"#),
            Ok(Format::Hawkbit)
        );
        // A first record cut by the end of the prefix still decides.
        assert_eq!(
            detect(r#"[{"deviceId": "a", "tags": {"x": "#),
            Ok(Format::HubTwins)
        );
        let e = detect(r#"[{"name": "a"}]"#).unwrap_err();
        assert!(
            e.contains("its first record has the fields name; give --format"),
            "{e}"
        );
        let e = detect("").unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = detect(r#"{"fleetsim_fleet": 1}"#).unwrap_err();
        assert!(e.contains("already a fleetsim fleet file"), "{e}");
    }

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        let e = "csv".parse::<Format>().unwrap_err().to_string();
        assert!(
            e.contains("unknown format \"csv\": use one of iothub-twins"),
            "{e}"
        );
    }
}
