//! Reading the records of an export one at a time, whatever its size.
//!
//! # How
//!
//! serde_json reads the export: JSON lines (`devices.txt`, or twins one after the other) with a
//! [`serde_json::StreamDeserializer`], every other layout (a top-level array, page objects one
//! after the other) with a [`DeserializeSeed`] whose [`SeqAccess`] visitor takes the records of
//! the array (`value`, `content` or `things` in a page) one at a time. Each record is taken as
//! its JSON text ([`RawValue`], checked to be valid JSON), then parsed on its own, so that a
//! record that is valid JSON but not a device can be skipped (`--skip-bad`) and its errors name
//! the record's own fields. Never the whole export as a `serde_json::Value`.
//!
//! Two inputs, one set of visitors:
//!
//! - **Bytes** ([`Input::Bytes`]): a file mapped into memory (or a buffer). Records are
//!   borrowed from it, not copied, and a record's line is counted from the bytes before it.
//!   This is how `fleetsim import` reads files: serde_json parses a slice several times faster
//!   than a reader (its reader takes one byte at a time).
//! - **A reader** ([`Input::Reader`]): anything readable, in one pass with bounded memory;
//!   each record is copied out, and [`LineCounter`] counts the newlines serde_json has taken.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::ops::Deref;
use std::path::Path;
use std::rc::Rc;

use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// What an export is read from.
pub(crate) enum Input<'s> {
    /// The whole export in memory (a mapped file).
    Bytes(&'s [u8]),
    /// A reader, taken in one pass.
    Reader(Box<dyn Read + 's>),
}

/// A reader that counts the newlines read through it.
struct LineCounter<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let lines = count_newlines(&buf[..n]);
        self.newlines.set(self.newlines.get() + lines);
        Ok(n)
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// How the line of a record is found.
enum Lines<'s> {
    /// From the newlines the reader has passed, less those inside the record.
    Counted(Rc<Cell<u64>>),
    /// From the bytes before the record (borrowed from `text`), counted once.
    Slice {
        text: &'s [u8],
        scanned: usize,
        newlines: u64,
    },
}

impl Lines<'_> {
    /// The 1-based line on which `raw` starts.
    fn line_of(&mut self, raw: &RawValue) -> u64 {
        match self {
            Lines::Counted(newlines) => 1 + newlines.get() - count_newlines(raw.get().as_bytes()),
            Lines::Slice {
                text,
                scanned,
                newlines,
            } => {
                let start = (raw.get().as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
                if let Some(gap) = text.get(*scanned..start) {
                    *newlines += count_newlines(gap);
                    *scanned = start;
                }
                1 + *newlines
            }
        }
    }

    /// The line of the next byte serde_json takes, as far as known (for errors between
    /// records).
    fn current(&self) -> u64 {
        match self {
            Lines::Counted(newlines) => 1 + newlines.get(),
            Lines::Slice { newlines, .. } => 1 + newlines,
        }
    }
}

/// The state one file's reading shares with its visitors.
struct Reading<'e, 'a, 's> {
    lines: Lines<'s>,
    records: u64,
    each: &'e mut Each<'a>,
    /// The error `each` returned, which stopped the reading.
    stopped: Option<Error>,
}

impl Reading<'_, '_, '_> {
    /// Hands one record to `each`; `Err(())` when it stopped the reading.
    fn record(&mut self, raw: &RawValue, key: Option<&str>) -> std::result::Result<(), ()> {
        self.records += 1;
        let record = RawRecord {
            text: raw.get(),
            record: self.records,
            line: self.lines.line_of(raw),
            key,
        };
        (self.each)(record).map_err(|e| self.stopped = Some(e))
    }
}

/// The layouts of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One record per top-level value.
    Lines,
    /// Top-level arrays of records, or (for `format`s with pages) page objects.
    Values(Format),
    /// One object whose entries are records with their keys.
    Entries,
}

/// Reads every record of `input` (the file `path`) in `format`'s layout, in file order,
/// handing each to `each`. Returns the number of records.
pub(crate) fn read_records(
    path: &Path,
    input: Input<'_>,
    format: Format,
    each: &mut Each<'_>,
) -> Result<u64> {
    read(path, input, Some(format), each)
}

/// Reads the entries of the JSON object in `input` (the file `path`), handing each value as a
/// record with its key to `each`. Returns the number of entries.
pub(crate) fn read_entries(path: &Path, input: Input<'_>, each: &mut Each<'_>) -> Result<u64> {
    read(path, input, None, each)
}

/// The layout of a file of `format` (`None`: an object of entries) whose first byte that is
/// not white space is `first`: the formats without pages are JSON lines when they start with
/// an object.
fn layout(format: Option<Format>, first: Option<u8>) -> Layout {
    match format {
        None => Layout::Entries,
        Some(f) if f.list_key().is_none() && first == Some(b'{') => Layout::Lines,
        Some(f) => Layout::Values(f),
    }
}

fn first_byte(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

fn read(path: &Path, input: Input<'_>, format: Option<Format>, each: &mut Each<'_>) -> Result<u64> {
    let (result, mut reading) = match input {
        Input::Bytes(text) => {
            let mut reading = Reading {
                lines: Lines::Slice {
                    text,
                    scanned: 0,
                    newlines: 0,
                },
                records: 0,
                each,
                stopped: None,
            };
            let de = serde_json::Deserializer::from_slice(text);
            let layout = layout(format, first_byte(text));
            let result = run::<_, &RawValue>(de, layout, &mut reading);
            (result, reading)
        }
        Input::Reader(reader) => {
            let mut buffered = BufReader::with_capacity(1 << 16, reader);
            let first = first_byte(
                buffered
                    .fill_buf()
                    .map_err(|e| Error::from(e).with_file(path))?,
            );
            let newlines = Rc::new(Cell::new(0));
            let mut reading = Reading {
                lines: Lines::Counted(newlines.clone()),
                records: 0,
                each,
                stopped: None,
            };
            let counter = LineCounter {
                inner: buffered,
                newlines,
            };
            let de = serde_json::Deserializer::from_reader(counter);
            let result = run::<_, Box<RawValue>>(de, layout(format, first), &mut reading);
            (result, reading)
        }
    };
    match (reading.stopped.take(), result) {
        (Some(e), _) => Err(e.with_file(path)),
        (None, Err(e)) => Err(syntax(e).with_file(path)),
        (None, Ok(())) => Ok(reading.records),
    }
}

/// Reads the file with `de` in `layout`, each record an `E` (borrowed from a slice, or a copy).
fn run<'de, R, E>(
    mut de: serde_json::Deserializer<R>,
    layout: Layout,
    reading: &mut Reading<'_, '_, '_>,
) -> serde_json::Result<()>
where
    R: serde_json::de::Read<'de>,
    E: Deserialize<'de> + Deref<Target = RawValue>,
{
    match layout {
        Layout::Lines => json_lines::<R, E>(de, reading),
        Layout::Values(format) => {
            // `end` succeeds at the end of the input and refuses (without taking it) anything
            // else: the start of the next value.
            while de.end().is_err() {
                let top = Top::<E> {
                    format,
                    reading,
                    records: PhantomData,
                };
                match top.deserialize(&mut de) {
                    Err(_) if reading.stopped.is_some() => return Ok(()),
                    result => result?,
                }
            }
            Ok(())
        }
        Layout::Entries => {
            let entries = Entries::<E>(reading, PhantomData);
            match entries.deserialize(&mut de).and_then(|()| de.end()) {
                Err(_) if reading.stopped.is_some() => Ok(()),
                result => result,
            }
        }
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

/// One record per top-level value (a line, in a real export).
fn json_lines<'de, R, E>(
    de: serde_json::Deserializer<R>,
    reading: &mut Reading<'_, '_, '_>,
) -> serde_json::Result<()>
where
    R: serde_json::de::Read<'de>,
    E: Deserialize<'de> + Deref<Target = RawValue>,
{
    for value in de.into_iter::<E>() {
        let value = value?;
        if !value.get().starts_with('{') {
            let line = reading.lines.line_of(&value);
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

/// The error that unwinds serde once `each` has stopped the reading.
const STOPPED: &str = "stopped";

/// One top-level value: an array of records, or a page object holding them.
struct Top<'r, 'e, 'a, 's, E> {
    format: Format,
    reading: &'r mut Reading<'e, 'a, 's>,
    records: PhantomData<E>,
}

impl<'de, E> DeserializeSeed<'de> for Top<'_, '_, '_, '_, E>
where
    E: Deserialize<'de> + Deref<Target = RawValue>,
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, E> Visitor<'de> for Top<'_, '_, '_, '_, E>
where
    E: Deserialize<'de> + Deref<Target = RawValue>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.format.list_key() {
            Some(k) => write!(f, "an array of records or a page object with `{k}`"),
            None => f.write_str("an array of records"),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<(), A::Error> {
        Records::<E>(self.reading, PhantomData).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let Some(list_key) = self.format.list_key() else {
            return Err(de::Error::custom(
                "a record object after an array: give the records as one array, or as one \
                 object per line",
            ));
        };
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == list_key {
                found = true;
                map.next_value_seed(Records::<E>(self.reading, PhantomData))?;
            } else {
                // `nextLink`, `total`, `size`, `nextToken`, `thingGroups`: not devices.
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !found {
            let line = self.reading.lines.current();
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
struct Records<'r, 'e, 'a, 's, E>(&'r mut Reading<'e, 'a, 's>, PhantomData<E>);

impl<'de, E> DeserializeSeed<'de> for Records<'_, '_, '_, '_, E>
where
    E: Deserialize<'de> + Deref<Target = RawValue>,
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, E> Visitor<'de> for Records<'_, '_, '_, '_, E>
where
    E: Deserialize<'de> + Deref<Target = RawValue>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<E>()? {
            self.0
                .record(&raw, None)
                .map_err(|()| de::Error::custom(STOPPED))?;
        }
        Ok(())
    }
}

/// The entries of one object, each value a record with its key.
struct Entries<'r, 'e, 'a, 's, E>(&'r mut Reading<'e, 'a, 's>, PhantomData<E>);

impl<'de, E> DeserializeSeed<'de> for Entries<'_, '_, '_, '_, E>
where
    E: Deserialize<'de> + Deref<Target = RawValue>,
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, E> Visitor<'de> for Entries<'_, '_, '_, '_, E>
where
    E: Deserialize<'de> + Deref<Target = RawValue>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of device ids and documents")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let raw: E = map.next_value()?;
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

    /// (text, record, line) of every record, read as bytes and as a reader: both must agree.
    fn records(text: &str, format: Format) -> Result<Vec<(String, u64, u64)>> {
        let read = |input: Input<'_>| {
            let mut out = Vec::new();
            read_records(Path::new("x.json"), input, format, &mut |r| {
                out.push((r.text.to_string(), r.record, r.line));
                Ok(())
            })
            .map(|_| out)
        };
        let bytes = read(Input::Bytes(text.as_bytes()));
        let reader = read(Input::Reader(Box::new(text.as_bytes())));
        let show = |r: &Result<Vec<(String, u64, u64)>>| match r {
            Ok(v) => format!("{v:?}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(show(&bytes), show(&reader), "bytes and reader agree");
        bytes
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
            Input::Bytes("[{\"a\": 1}, {\"a\": 2}, {\"a\": 3}]".as_bytes()),
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
