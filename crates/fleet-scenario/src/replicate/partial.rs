//! Partial result files: the records of one shard's replications (`fleetsim run S
//! --replications K --shard I/N --partial-out FILE`), and [`merge`], which puts the shards
//! back together into exactly the report one machine would have made.
//!
//! A part carries the scenario's fingerprint (a SHA-256 over the scenario as loaded, the first
//! seed, the number of replications and the fleetsim version), so that parts of different
//! scenarios or options are refused; and the names the summary prints ([`Skeleton`]), so
//! that merging needs no scenario file. The format is in `docs/sharding.md`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::sample::RunSample;
use super::summary::{summarise, ReplicationReport, Skeleton};
use super::Shard;
use crate::error::{Error, ErrorKind, Result};
use crate::scenario::Scenario;

/// The version of the partial result format; a merge refuses any other.
pub const PARTIAL_VERSION: u32 = 1;

/// What a partial result file says it is.
const KIND: &str = "fleetsim-partial";

/// The records of one shard's replications, as written to and read from a partial result
/// file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partial {
    kind: String,
    partial_version: u32,
    fleetsim_version: String,
    fingerprint: String,
    seed_first: u64,
    replications: u32,
    shard: Shard,
    /// The replication indices of the shard: `[first, end)`.
    first: u32,
    end: u32,
    wall_s: f64,
    scenario: Skeleton,
    runs: Vec<RunSample>,
    /// The file it was read from, for errors.
    #[serde(skip)]
    source: Option<PathBuf>,
}

/// The fields read first, whatever the version, so that another version gets a clear error.
#[derive(Deserialize)]
pub(crate) struct Header {
    kind: Option<String>,
    partial_version: Option<u32>,
    fleetsim_version: Option<String>,
}

/// The fingerprint of `scenario` replicated `replications` times from `seed_first`.
fn fingerprint(scenario: &Scenario, seed_first: u64, replications: u32) -> String {
    digest(&serde_json::json!({
        "fleetsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": scenario.file,
        "seed_first": seed_first,
        "replications": replications,
    }))
}

/// The SHA-256 of `canonical`'s JSON, in 64 hexadecimal digits.
pub(crate) fn digest(canonical: &serde_json::Value) -> String {
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Partial {
    pub(super) fn new(
        scenario: &Scenario,
        skeleton: Skeleton,
        seed_first: u64,
        replications: u32,
        shard: Shard,
        runs: Vec<RunSample>,
        wall_s: f64,
    ) -> Self {
        let range = shard.range(replications);
        Self {
            kind: KIND.to_string(),
            partial_version: PARTIAL_VERSION,
            fleetsim_version: env!("CARGO_PKG_VERSION").to_string(),
            fingerprint: fingerprint(scenario, seed_first, replications),
            seed_first,
            replications,
            shard,
            first: range.start,
            end: range.end,
            wall_s,
            scenario: skeleton,
            runs,
            source: None,
        }
    }

    /// The shard it holds.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The replication indices it holds.
    pub fn range(&self) -> std::ops::Range<u32> {
        self.first..self.end
    }

    /// The seed of replication 0 (replication `i` used `seed_first + i`).
    pub fn seed_first(&self) -> u64 {
        self.seed_first
    }

    /// The fingerprint of the scenario and options (64 hexadecimal digits).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The file as JSON (one line).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a partial result always serializes")
    }

    /// Reads a partial result file; errors name it.
    pub fn read(path: &Path) -> Result<Self> {
        let mut part = read_file(path, Self::from_json)?;
        part.source = Some(path.to_path_buf());
        Ok(part)
    }

    /// Reads a partial result from JSON and checks that it is whole: its version, its shard's
    /// range and its records' shape.
    pub fn from_json(text: &str) -> Result<Self> {
        let hint = "`fleetsim run SCENARIO --replications K --shard I/N --partial-out FILE`";
        let part: Partial = parse(text, "partial result", KIND, PARTIAL_VERSION, hint)?;
        part.check_shape()?;
        Ok(part)
    }

    fn check_shape(&self) -> Result<()> {
        let bad =
            |field: &str, why: String| Err(Error::new(ErrorKind::Partial(why)).with_field(field));
        if self.replications == 0 {
            return bad("replications", "0: a part of at least 1 replication".into());
        }
        if let Err(why) = self.shard.check() {
            return bad("shard", format!("{}: {why}", self.shard));
        }
        let range = self.shard.range(self.replications);
        if (self.first, self.end) != (range.start, range.end) {
            return bad(
                "first",
                format!(
                    "part {} of {} replications holds indices {} to {}, not {} to {}",
                    self.shard, self.replications, range.start, range.end, self.first, self.end
                ),
            );
        }
        if self.runs.len() != range.len() {
            let why = format!(
                "{} records for {} replications",
                self.runs.len(),
                range.len()
            );
            return bad("runs", why);
        }
        for (i, run) in self.runs.iter().enumerate() {
            let field = format!("runs[{i}]");
            if run.index != self.first + i as u32 {
                let why = format!("index {}, expected {}", run.index, self.first + i as u32);
                return bad(&field, why);
            }
            if !self.scenario.fits(run) {
                let why = "its jobs, schedules or expectation checks do not match the scenario";
                return bad(&field, why.into());
            }
        }
        Ok(())
    }

    fn name(&self) -> String {
        match &self.source {
            Some(path) => path.display().to_string(),
            None => format!("part {}", self.shard),
        }
    }
}

/// Reads the file at `path` and hands its text to `from_json`; errors name the file.
pub(crate) fn read_file<T>(path: &Path, from_json: impl FnOnce(&str) -> Result<T>) -> Result<T> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::new(ErrorKind::Io(e)).with_file(path))?;
    from_json(&text).map_err(|e| e.with_file(path))
}

/// Parses a partial file (`what`: "partial result", "plan partial") whose header must be of
/// `kind` and `version` ([`check_header`]) before the whole is read; syntax errors say where.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
    kind: &str,
    version: u32,
    hint: &str,
) -> Result<T> {
    let syntax = |e: serde_json::Error| {
        Error::new(ErrorKind::Syntax(format!("not a {what} file: {e}")))
            .with_position(e.line(), e.column())
    };
    let header: Header = serde_json::from_str(text).map_err(syntax)?;
    check_header(&header, kind, version, hint)?;
    serde_json::from_str(text).map_err(syntax)
}

/// Refuses a file that is not of `kind` and `version`, or of another fleetsim; `hint` says
/// how to write one.
pub(crate) fn check_header(header: &Header, kind: &str, version: u32, hint: &str) -> Result<()> {
    let partial = |why: String| Err(Error::new(ErrorKind::Partial(why)));
    if header.kind.as_deref() != Some(kind) {
        return partial(format!(
            "not a partial result file of this kind (its \"kind\" is {:?}, expected \
             {kind:?}): write one with {hint}",
            header.kind.as_deref().unwrap_or("missing")
        ));
    }
    if header.partial_version != Some(version) {
        return partial(format!(
            "partial result version {:?}; this fleetsim reads version {version}",
            header.partial_version
        ));
    }
    let ours = env!("CARGO_PKG_VERSION");
    match header.fleetsim_version.as_deref() {
        Some(v) if v == ours => Ok(()),
        v => partial(format!(
            "written by fleetsim {}, merged by fleetsim {ours}: run every part and the merge \
             with one version",
            v.unwrap_or("(unknown)")
        )),
    }
}

/// Combines the parts of one replicated run, given in any order, into the report that running
/// every replication on one machine gives (only `wall_s`, the sum of the parts', and
/// `events_per_s` differ). Refuses parts of different scenarios or options, a part missing and
/// a part given twice.
pub fn merge(mut parts: Vec<Partial>) -> Result<ReplicationReport> {
    order_parts(&mut parts, check_same_run, |p| (p.shard, p.name()))?;
    let wall_s = parts.iter().map(|p| p.wall_s).sum();
    let (seed_first, replications) = (parts[0].seed_first, parts[0].replications);
    let skeleton = parts[0].scenario.clone();
    let runs: Vec<RunSample> = parts.into_iter().flat_map(|p| p.runs).collect();
    // Only parts edited by hand get here with a gap or an overlap: same fingerprint, other K.
    let whole = runs.len() == replications as usize
        && runs.iter().enumerate().all(|(i, r)| r.index as usize == i);
    if !whole || runs.is_empty() {
        return Err(Error::new(ErrorKind::Partial(format!(
            "the parts' records do not cover replications 0 to {} once each: was one edited?",
            replications.saturating_sub(1)
        ))));
    }
    Ok(summarise(&skeleton, seed_first, &runs, wall_s))
}

/// Puts the parts of one sharded computation in index order, refusing none at all, parts that
/// `same` says belong to another computation than the first, and parts that do not cover
/// every index exactly once. `id` gives a part's shard and name (for errors).
pub(crate) fn order_parts<P>(
    parts: &mut [P],
    same: fn(&P, &P) -> Result<()>,
    id: impl Fn(&P) -> (Shard, String),
) -> Result<()> {
    let Some(first) = parts.first() else {
        return Err(Error::new(ErrorKind::Partial(
            "no partial result to merge".into(),
        )));
    };
    for p in &parts[1..] {
        same(first, p)?;
    }
    parts.sort_by_key(|p| id(p).0.index);
    check_cover(&parts.iter().map(id).collect::<Vec<_>>())
}

/// Refuses parts (sorted by index, all of one count) unless each index is given exactly once.
pub(crate) fn check_cover(parts: &[(Shard, String)]) -> Result<()> {
    let count = parts[0].0.count;
    for pair in parts.windows(2) {
        if pair[0].0.index == pair[1].0.index {
            return Err(Error::new(ErrorKind::Partial(format!(
                "part {} is given twice: {} and {}",
                pair[0].0, pair[0].1, pair[1].1
            ))));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| parts.iter().all(|p| p.0.index != *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::new(ErrorKind::Partial(format!(
            "{} of {count} parts given; missing: {} (parts are numbered from 0)",
            parts.len(),
            missing.join(", ")
        ))));
    }
    Ok(())
}

/// Refuses `b` unless it is a part of the same run as `a`.
fn check_same_run(a: &Partial, b: &Partial) -> Result<()> {
    let differ = |what: String| {
        Err(Error::new(ErrorKind::Partial(format!(
            "{} and {} are parts of different runs: {what}",
            a.name(),
            b.name()
        ))))
    };
    if a.fingerprint != b.fingerprint {
        let what = if a.scenario.name != b.scenario.name {
            format!("scenario {:?} and {:?}", a.scenario.name, b.scenario.name)
        } else if a.seed_first != b.seed_first {
            format!("first seed {} and {}", a.seed_first, b.seed_first)
        } else if a.replications != b.replications {
            format!("{} and {} replications", a.replications, b.replications)
        } else {
            "the scenario or its options (--devices, the file's content) differ".to_string()
        };
        let short = |f: &str| f.chars().take(12).collect::<String>();
        return differ(format!(
            "{what} (fingerprints {}... and {}...)",
            short(&a.fingerprint),
            short(&b.fingerprint)
        ));
    }
    if a.shard.count != b.shard.count {
        return differ(format!(
            "split into {} and {} parts",
            a.shard.count, b.shard.count
        ));
    }
    let (mut sa, mut sb) = (a.scenario.clone(), b.scenario.clone());
    (sa.file, sb.file) = (None, None);
    if sa != sb {
        return differ(
            "the same fingerprint but other jobs or expectations: was one edited?".into(),
        );
    }
    Ok(())
}
