//! Reading job-result exports, streaming: one record in memory at a time.
//!
//! A file holds one or more JSON values, one after another (pages saved together). Each value
//! is told by its shape:
//!
//! | shape | format |
//! |---|---|
//! | an array | IoT Hub `SELECT * FROM devices.jobs` (`az iot hub query`) |
//! | an object with `value` | an IoT Central `/api/jobs/{id}/devices` page |
//! | an object with `executionSummaries` | AWS `list-job-executions-for-job` |
//! | an object with `execution` | AWS `describe-job-execution` |
//! | an object with `jobId` and `type` or `deviceJobStatistics` | IoT Hub `/jobs/v2/{id}` |
//! | an object with `id` and `group`, `data` or `progress` | IoT Central `/api/jobs/{id}` |
//!
//! Arrays are streamed element by element; the record number of an element is its position
//! among the records of its file, and its line is where it starts.

mod aws;
mod central;
mod fields;
mod hub;
pub(crate) mod time;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::record::{DeviceResult, History, JobInfo, Place, Platform};
use fields::Obj;

/// Reads every file, in order, into one [`History`]. Errors name the file, record, line and
/// field. AWS `describe-job-execution` records are merged into the summary of the same thing
/// and job; any other device twice in one job (the same platform and job id) is an error.
pub fn read_files(paths: &[PathBuf]) -> Result<History> {
    let mut sink = Sink::default();
    for (i, path) in paths.iter().enumerate() {
        sink.history.files.push(path.clone());
        read_file(path, i as u32, &mut sink).map_err(|e| e.with_file(path))?;
    }
    sink.finish()
}

/// A reader that counts the newlines it passes, shared with the visitors.
struct Counter<R> {
    inner: R,
    newlines: Rc<Cell<u64>>,
}

impl<R: BufRead> Read for Counter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let lines = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        self.newlines.set(self.newlines.get() + lines);
        Ok(n)
    }
}

impl<R: BufRead> Counter<R> {
    /// Skips whitespace; whether anything follows.
    fn skip_whitespace(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let k = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let lines = buf[..k].iter().filter(|b| **b == b'\n').count() as u64;
            let rest = k < buf.len();
            self.inner.consume(k);
            self.newlines.set(self.newlines.get() + lines);
            if rest {
                return Ok(true);
            }
        }
    }
}

fn read_file(path: &Path, file: u32, sink: &mut Sink) -> Result<()> {
    let f = File::open(path).map_err(|e| Error::new(ErrorKind::Io(e)))?;
    let newlines = Rc::new(Cell::new(0));
    let mut reader = Counter {
        inner: BufReader::with_capacity(1 << 16, f),
        newlines: newlines.clone(),
    };
    let mut ctx = Ctx {
        sink,
        file,
        newlines,
        records: 0,
        values: 0,
    };
    let io = |e: io::Error| Error::new(ErrorKind::Io(e));
    while reader.skip_whitespace().map_err(io)? {
        let start_line = ctx.newlines.get() + 1;
        let mut de = serde_json::Deserializer::from_reader(&mut reader);
        ctx.values += 1;
        let outcome = Top {
            ctx: &mut ctx,
            start_line,
        }
        .deserialize(&mut de);
        if let Some(e) = ctx.sink.error.take() {
            return Err(e);
        }
        if let Err(e) = outcome {
            let line = start_line + e.line() as u64 - 1;
            let what = match e.classify() {
                serde_json::error::Category::Eof => {
                    "the file ends inside a JSON value (truncated?)"
                }
                _ => "not valid JSON",
            };
            let message = e.to_string();
            let detail = message.split(" at line ").next().unwrap_or(&message);
            return Err(Error::new(ErrorKind::Syntax(format!("{what}: {detail}"))).at_line(line));
        }
    }
    if ctx.values == 0 {
        return Err(Error::unusable("the file holds no JSON value"));
    }
    Ok(())
}

/// The state of one file's reading.
struct Ctx<'a> {
    sink: &'a mut Sink,
    file: u32,
    newlines: Rc<Cell<u64>>,
    records: u64,
    values: u64,
}

impl Ctx<'_> {
    /// The place of the record that starts now (or at `line`).
    fn next_place(&mut self, line: u64) -> Place {
        self.records += 1;
        Place {
            file: self.file,
            record: self.records,
            line,
        }
    }

    /// Keeps a record, or the first error (then deserialization is stopped).
    fn keep<E: serde::de::Error>(
        &mut self,
        r: Result<Item>,
        place: Place,
    ) -> std::result::Result<(), E> {
        match r {
            Ok(item) => {
                self.sink.push(item);
                Ok(())
            }
            Err(e) => {
                self.sink.error = Some(e.at_record(place.record, place.line));
                Err(E::custom("stopped at an invalid record"))
            }
        }
    }
}

/// What one record is.
enum Item {
    Device(DeviceResult),
    Job(JobInfo),
}

/// The kinds of array elements.
#[derive(Clone, Copy)]
enum Element {
    HubDeviceJob,
    CentralDevice,
    AwsSummary,
}

/// One array element: a record.
struct Record<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    kind: Element,
}

impl<'de> DeserializeSeed<'de> for Record<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        // The element's first byte has been read: its line is the current one.
        let place = self.ctx.next_place(self.ctx.newlines.get() + 1);
        let v = Value::deserialize(d)?;
        let parsed = Obj::of(&v, "").and_then(|o| match self.kind {
            Element::HubDeviceJob => hub::device_job(o, place),
            Element::CentralDevice => central::device(o, place),
            Element::AwsSummary => aws::summary(o, place),
        });
        self.ctx.keep(parsed.map(Item::Device), place)
    }
}

/// An array of records.
struct Records<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    kind: Element,
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq
            .next_element_seed(Record {
                ctx: &mut *self.ctx,
                kind: self.kind,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// One top-level JSON value of a file.
struct Top<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    start_line: u64,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array or object of job results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<(), A::Error> {
        Records {
            ctx: self.ctx,
            kind: Element::HubDeviceJob,
        }
        .visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut rest = Map::new();
        let mut streamed = None;
        while let Some(key) = map.next_key::<String>()? {
            let kind = match key.as_str() {
                "value" => Some(Element::CentralDevice),
                "executionSummaries" => Some(Element::AwsSummary),
                _ => None,
            };
            match kind {
                Some(kind) => {
                    map.next_value_seed(Records {
                        ctx: &mut *self.ctx,
                        kind,
                    })?;
                    streamed = Some(key);
                }
                None => {
                    let v: Value = map.next_value()?;
                    rest.insert(key, v);
                }
            }
        }
        if streamed.is_some() {
            // A page: its other fields (`nextLink`, `nextToken`) say nothing about devices.
            return Ok(());
        }
        let place = self.ctx.next_place(self.start_line);
        let item = object(Obj(&rest), place);
        self.ctx.keep(item, place)
    }
}

/// A whole object that is not a page: a job, or one AWS execution.
fn object(o: Obj<'_>, place: Place) -> Result<Item> {
    if let Some(e) = o.opt_object("execution")? {
        return aws::describe(e, place)
            .map(Item::Device)
            .map_err(|x| x.with_field("execution"));
    }
    if o.has("deviceJobStatistics") || (o.has("jobId") && o.has("type")) {
        return hub::job(o, place).map(Item::Job);
    }
    if o.has("id") && (o.has("group") || o.has("data") || o.has("progress")) {
        return central::job(o, place).map(Item::Job);
    }
    let keys: Vec<&str> = o.0.keys().map(String::as_str).take(8).collect();
    Err(Error::new(ErrorKind::UnknownFormat(format!(
        "an object with fields {keys:?} is none of the formats read: an IoT Hub devices.jobs \
         array or /jobs/v2 job, an IoT Central devices page (`value`) or job, an AWS \
         `executionSummaries` list or `execution` (docs/calibration.md)"
    ))))
}

/// Where the records go.
#[derive(Default)]
struct Sink {
    history: History,
    error: Option<Error>,
}

impl Sink {
    fn push(&mut self, item: Item) {
        match item {
            Item::Device(d) => self.history.devices.push(d),
            Item::Job(j) => self.history.jobs.push(j),
        }
    }

    /// Gives IoT Central results the id of the only IoT Central job read, merges AWS
    /// executions, and refuses a device twice in one job.
    fn finish(mut self) -> Result<History> {
        let central_jobs: Vec<String> = jobs_of(&self.history, Platform::Central);
        if let [only] = central_jobs.as_slice() {
            for d in &mut self.history.devices {
                if d.platform == Platform::Central && d.job.is_none() {
                    d.job = Some(only.clone());
                }
            }
        }
        let aws_jobs = jobs_named(&self.history, Platform::Aws);
        if let [only] = aws_jobs.as_slice() {
            for d in &mut self.history.devices {
                if d.platform == Platform::Aws && d.job.is_none() {
                    d.job = Some(only.clone());
                }
            }
        }
        dedupe(&mut self.history)?;
        Ok(self.history)
    }
}

fn jobs_of(h: &History, platform: Platform) -> Vec<String> {
    h.jobs
        .iter()
        .filter(|j| j.platform == platform)
        .map(|j| j.id.clone())
        .collect()
}

/// The distinct job ids that the platform's device records name.
fn jobs_named(h: &History, platform: Platform) -> Vec<String> {
    let mut ids: Vec<String> = h
        .devices
        .iter()
        .filter(|d| d.platform == platform)
        .filter_map(|d| d.job.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Merges an AWS `describe-job-execution` record into the summary of the same thing and job
/// (the describe record wins: it is the more detailed), and refuses any other device twice.
fn dedupe(h: &mut History) -> Result<()> {
    let mut seen: BTreeMap<(Platform, Option<String>, String), usize> = BTreeMap::new();
    let mut dropped = std::collections::BTreeSet::new();
    for i in 0..h.devices.len() {
        let d = &h.devices[i];
        let key = (d.platform, d.job.clone(), d.device.clone());
        let Some(&j) = seen.get(&key) else {
            seen.insert(key, i);
            continue;
        };
        let first = &h.devices[j];
        let (a_desc, b_desc) = (is_describe(first), is_describe(d));
        if d.platform == Platform::Aws && a_desc != b_desc {
            // The pair keeps the first one's position, with the describe record's content.
            if b_desc {
                h.devices[j] = h.devices[i].clone();
            }
            dropped.insert(i);
            h.merged += 1;
            continue;
        }
        return Err(Error::new(ErrorKind::Duplicate(format!(
            "device {:?} appears twice in the results of job {}: here and at {}",
            d.device,
            d.job.as_deref().unwrap_or("(unnamed)"),
            h.locate(first.place)
        )))
        .with_file(&h.files[d.place.file as usize])
        .at_record(d.place.record, d.place.line));
    }
    let mut index = 0;
    h.devices.retain(|_| {
        index += 1;
        !dropped.contains(&(index - 1))
    });
    Ok(())
}

/// Whether an AWS record came from `describe-job-execution`.
fn is_describe(d: &DeviceResult) -> bool {
    d.platform == Platform::Aws && d.described
}
