//! Reading the records of an export one at a time, whatever its size.
//!
//! # How
//!
//! serde_json reads the file through a buffered reader: a JSON-lines file (`devices.txt`) with
//! a [`serde_json::StreamDeserializer`], every other layout (a top-level array, page objects
//! one after the other) with a [`DeserializeSeed`] whose [`SeqAccess`] visitor takes the
//! records of the array (`value`, `content` or `things` in a page) one at a time. Each record
//! is taken as its JSON text ([`RawValue`]: a copy of the record's bytes, checked to be valid
//! JSON), then parsed on its own, so that a record that is valid JSON but not a device can be
//! skipped (`--skip-bad`) and its errors name the record's own fields. Nothing but one record
//! is held at a time: never the whole export as a `serde_json::Value`.
//!
//! serde_json's reader takes the file one byte at a time; [`LineCounter`] counts the newlines
//! it has taken, so every record knows the line it starts on.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, Result};
use crate::format::Format;

/// One record of a file: its JSON text, its 1-based number among the file's records and the
/// line it starts on (and, for the entries of an object, its key).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRecord<'a> {
    pub text: &'a str,
    pub record: u64,
    pub line: u64,
    pub key: Option<&'a str>,
}

/// What to do with each record: an error stops the reading and is returned as it is.
pub(crate) type Each<'a> = dyn FnMut(RawRecord<'_>) -> Result<()> + 'a;

/// A reader that counts the newlines read through it.
struct LineCounter<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let lines = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        self.newlines.set(self.newlines.get() + lines);
        Ok(n)
    }
}

/// The state one file's reading shares with its visitors.
struct Reading<'e, 'a> {
    newlines: Rc<Cell<u64>>,
    records: u64,
    each: &'e mut Each<'a>,
    /// The error `each` returned, which stopped the reading.
    stopped: Option<Error>,
}

impl Reading<'_, '_> {
    /// Hands one record to `each`; `Err(())` when it stopped the reading.
    fn record(&mut self, raw: &RawValue, key: Option<&str>) -> std::result::Result<(), ()> {
        self.records += 1;
        let text = raw.get();
        let inside = text.bytes().filter(|&b| b == b'\n').count() as u64;
        let line = 1 + self.newlines.get() - inside;
        let record = RawRecord {
            text,
            record: self.records,
            line,
            key,
        };
        (self.each)(record).map_err(|e| self.stopped = Some(e))
    }
}

/// Reads every record of `reader` (the file `path`) in `format`'s layout, in file order,
/// handing each to `each`. Returns the number of records.
pub(crate) fn read_records(
    path: &Path,
    reader: impl Read,
    format: Format,
    each: &mut Each<'_>,
) -> Result<u64> {
    read(path, reader, Some(format), each)
}

/// Reads the entries of the JSON object in `reader` (the file `path`), handing each value as
/// a record with its key to `each`. Returns the number of entries.
pub(crate) fn read_entries(path: &Path, reader: impl Read, each: &mut Each<'_>) -> Result<u64> {
    read(path, reader, None, each)
}

/// The records of a format's layout, or (`None`) the entries of one object.
fn read(
    path: &Path,
    reader: impl Read,
    format: Option<Format>,
    each: &mut Each<'_>,
) -> Result<u64> {
    let newlines = Rc::new(Cell::new(0));
    let counter = LineCounter {
        inner: BufReader::with_capacity(1 << 16, reader),
        newlines: newlines.clone(),
    };
    let mut reading = Reading {
        newlines,
        records: 0,
        each,
        stopped: None,
    };
    let result = match format {
        Some(Format::HubExport) => json_lines(counter, &mut reading),
        Some(format) => top_level_values(counter, format, &mut reading),
        None => {
            let mut de = serde_json::Deserializer::from_reader(counter);
            match Entries(&mut reading)
                .deserialize(&mut de)
                .and_then(|()| de.end())
            {
                Err(_) if reading.stopped.is_some() => Ok(()),
                result => result,
            }
        }
    };
    match (reading.stopped.take(), result) {
        (Some(e), _) => Err(e.with_file(path)),
        (None, Err(e)) => Err(syntax(e).with_file(path)),
        (None, Ok(())) => Ok(reading.records),
    }
}

/// A serde_json error reading the file: where it is, and whether the file ends too soon.
fn syntax(e: serde_json::Error) -> Error {
    let line = e.line() as u64;
    let message = match e.classify() {
        serde_json::error::Category::Eof => format!(
            "the file ends inside a value (truncated?): {}",
            strip_position(&e)
        ),
        serde_json::error::Category::Io => format!("cannot read: {}", strip_position(&e)),
        _ => format!("not valid JSON: {e}"),
    };
    let err = Error::new(ErrorKind::Syntax(message));
    match line {
        0 => err,
        l => err.with_line(l),
    }
}

/// serde_json's message without its ` at line L column C` (the line is the error's own).
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A JSON-lines file: one record per JSON value (a line, in a real export).
fn json_lines(reader: impl Read, reading: &mut Reading<'_, '_>) -> serde_json::Result<()> {
    let values = serde_json::Deserializer::from_reader(reader).into_iter::<Box<RawValue>>();
    for value in values {
        let value = value?;
        if !value.get().starts_with('{') {
            let line = 1 + reading.newlines.get();
            reading.stopped = Some(
                Error::new(ErrorKind::Invalid(
                    "expected one device object per line".into(),
                ))
                .with_line(line)
                .with_record(reading.records + 1),
            );
            return Ok(());
        }
        if reading.record(&value, None).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The top-level values of a file one after the other (one array, or page objects).
fn top_level_values(
    reader: impl Read,
    format: Format,
    reading: &mut Reading<'_, '_>,
) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    // `end` succeeds at the end of the input and refuses (without taking it) anything else:
    // the start of the next value.
    while de.end().is_err() {
        let top = Top { format, reading };
        match top.deserialize(&mut de) {
            Err(_) if reading.stopped.is_some() => return Ok(()),
            result => result?,
        }
    }
    Ok(())
}

/// One top-level value: an array of records, a page object holding them, or (for formats
/// without pages) one record.
struct Top<'r, 'e, 'a> {
    format: Format,
    reading: &'r mut Reading<'e, 'a>,
}

/// The error that unwinds serde once `each` has stopped the reading.
const STOPPED: &str = "stopped";

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format.list_key() {
            Some(k) => write!(f, "an array of records or a page object with `{k}`"),
            None => f.write_str("an array of records or a record object"),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<(), A::Error> {
        Records(self.reading).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let Some(list_key) = self.format.list_key() else {
            // A record on its own (JSON lines of twins): its text, rebuilt from its entries.
            let mut object = serde_json::Map::new();
            while let Some(key) = map.next_key::<String>()? {
                object.insert(key, map.next_value()?);
            }
            let text = serde_json::to_string(&object).map_err(de::Error::custom)?;
            let raw = RawValue::from_string(text).map_err(de::Error::custom)?;
            return self
                .reading
                .record(&raw, None)
                .map_err(|()| de::Error::custom(STOPPED));
        };
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == list_key {
                found = true;
                map.next_value_seed(Records(self.reading))?;
            } else {
                // `nextLink`, `total`, `size`, `nextToken`, `thingGroups`: not devices.
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !found {
            let line = 1 + self.reading.newlines.get();
            self.reading.stopped = Some(
                Error::invalid(
                    list_key,
                    format!(
                        "a page object without `{list_key}` (the {} devices)",
                        self.format
                    ),
                )
                .with_line(line),
            );
            return Err(de::Error::custom(STOPPED));
        }
        Ok(())
    }
}

/// An array of records.
struct Records<'r, 'e, 'a>(&'r mut Reading<'e, 'a>);

impl<'de> DeserializeSeed<'de> for Records<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            self.0
                .record(&raw, None)
                .map_err(|()| de::Error::custom(STOPPED))?;
        }
        Ok(())
    }
}

/// The entries of one object, each value a record with its key.
struct Entries<'r, 'e, 'a>(&'r mut Reading<'e, 'a>);

impl<'de> DeserializeSeed<'de> for Entries<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of device ids and documents")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let raw: Box<RawValue> = map.next_value()?;
            self.0
                .record(&raw, Some(&key))
                .map_err(|()| de::Error::custom(STOPPED))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, record, line) of every record.
    fn records(text: &str, format: Format) -> Result<Vec<(String, u64, u64)>> {
        let mut out = Vec::new();
        read_records(Path::new("x.json"), text.as_bytes(), format, &mut |r| {
            out.push((r.text.to_string(), r.record, r.line));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn records_know_their_number_and_line() {
        let text =
            "[\n  {\"deviceId\": \"a\"},\n\n  {\n \"deviceId\": \"b\"}\n]\n[{\"deviceId\": \"c\"}]";
        let got = records(text, Format::HubTwins).unwrap();
        let summary: Vec<(u64, u64)> = got.iter().map(|r| (r.1, r.2)).collect();
        assert_eq!(summary, [(1, 2), (2, 4), (3, 7)]);
        assert_eq!(got[1].0, "{\n \"deviceId\": \"b\"}");
        let lines = "{\"id\": \"a\"}\n{\"id\": \"b\"}\n\n{\"id\":\n\"c\"}\n";
        let got = records(lines, Format::HubExport).unwrap();
        let summary: Vec<(u64, u64)> = got.iter().map(|r| (r.1, r.2)).collect();
        assert_eq!(summary, [(1, 1), (2, 2), (3, 4)]);
    }

    #[test]
    fn pages_hold_records_one_after_the_other() {
        let text = r#"{"nextLink": "https://x", "value": [{"id": "a"}, {"id": "b"}]}
{"value": [{"id": "c"}]}"#;
        let got = records(text, Format::Central).unwrap();
        let ids: Vec<&str> = got.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(ids, [r#"{"id": "a"}"#, r#"{"id": "b"}"#, r#"{"id": "c"}"#]);
        let e = records(r#"{"nextLink": null}"#, Format::Central).unwrap_err();
        assert_eq!(e.field(), Some("value"));
        assert!(
            e.to_string().contains("a page object without `value`"),
            "{e}"
        );
    }

    #[test]
    fn truncated_and_malformed_files_name_the_line() {
        let e = records(
            "[\n{\"deviceId\": \"a\"},\n{\"deviceId\": ",
            Format::HubTwins,
        )
        .unwrap_err();
        assert_eq!((e.file(), e.line()), (Some(Path::new("x.json")), Some(3)));
        assert!(
            e.to_string().contains("ends inside a value (truncated?)"),
            "{e}"
        );
        assert!(!e.is_skippable());
        let e = records("{\"id\": \"a\"}\n{\"id\" \"b\"}\n", Format::HubExport).unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert!(
            e.to_string().contains("not valid JSON: expected `:`"),
            "{e}"
        );
        let e = records("{\"id\": \"a\"}\n[1]\n", Format::HubExport).unwrap_err();
        assert_eq!((e.line(), e.record()), (Some(2), Some(2)));
    }

    #[test]
    fn an_error_from_a_record_stops_the_reading() {
        let mut seen = 0;
        let e = read_records(
            Path::new("f"),
            "[{\"a\": 1}, {\"a\": 2}, {\"a\": 3}]".as_bytes(),
            Format::HubTwins,
            &mut |r| {
                seen += 1;
                match r.record {
                    2 => Err(Error::invalid("a", "two").with_record(r.record)),
                    _ => Ok(()),
                }
            },
        )
        .unwrap_err();
        assert_eq!(seen, 2);
        assert_eq!((e.record(), e.field()), (Some(2), Some("a")));
        assert_eq!(e.file(), Some(Path::new("f")));
    }
}
