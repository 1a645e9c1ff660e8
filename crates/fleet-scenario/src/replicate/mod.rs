//! Seeded replications on every core: K runs with seeds `seed, seed+1, ...`, summarised as
//! outcome mixes, percentiles and probabilities (capacity planning, risk), on one machine or
//! split into shards that `fleetsim merge` combines.
//!
//! # Determinism across thread counts and shards
//!
//! Replication `i` always uses seed `seed + i` and its record is stored at index `i`; the
//! summary reads the records in index order. Which thread or which shard ran which
//! replication, and in which order they finished, therefore cannot change the report: only
//! `wall_s` and `events_per_s` vary. A shard ([`Shard`]) is a contiguous range of indices;
//! its records go to a partial result file ([`Partial`]) and [`merge`] puts the ranges back
//! in index order before summarising them with the same code.

pub(crate) mod partial;
mod sample;
mod summary;

use std::time::Instant;

pub use partial::{merge, Partial, PARTIAL_VERSION};
pub(crate) use summary::RunPoint;
pub use summary::{
    BatchRuns, CheckSummary, ExpectationSummary, JobSummary, Percentiles, ReplicationReport,
    ScheduleSummary, StatusSummary, StopSummary, FAILED_SEEDS_LISTED,
};

use crate::error::{Error, ErrorKind, Result};
use crate::run::simulate;
use crate::scenario::Scenario;
use sample::RunSample;
use summary::Skeleton;

/// How to run replications.
#[derive(Debug, Clone, Copy)]
pub struct ReplicationOptions {
    /// The first seed (default: the scenario's); replication `i` uses `seed + i`.
    pub seed: Option<u64>,
    /// Number of runs, at least 1.
    pub replications: u32,
    /// Worker threads, at least 1 (more than `replications` is pointless but allowed).
    pub threads: usize,
}

/// One of `count` equal parts of the replications (`--shard index/count`, `index` from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// Which part, from 0 to `count - 1` (a Kubernetes `JOB_COMPLETION_INDEX`).
    pub index: u32,
    /// How many parts, at least 1.
    pub count: u32,
}

impl Shard {
    /// The whole: part 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Reads `I/N` (`--shard 2/7`): `I` from 0 to `N - 1`. The error names `--shard`.
    pub fn parse(text: &str) -> Result<Self> {
        text.parse()
            .map_err(|why| Error::invalid("--shard", format!("{text:?}: {why}")))
    }

    /// Refuses a count of 0 or an index beyond the count.
    pub(crate) fn check(self) -> std::result::Result<(), String> {
        if self.count == 0 {
            return Err("the count must be at least 1".into());
        }
        if self.index >= self.count {
            return Err(format!(
                "the index is from 0 to {} (parts are numbered from 0, as Kubernetes' \
                 JOB_COMPLETION_INDEX)",
                self.count - 1
            ));
        }
        Ok(())
    }

    /// The replication indices of this part of `replications`: `[first, end)`. Parts are
    /// contiguous and their sizes differ by at most one (`floor(i * K / N)` to
    /// `floor((i + 1) * K / N)`).
    pub fn range(self, replications: u32) -> std::ops::Range<u32> {
        let bound =
            |i: u32| (u64::from(i) * u64::from(replications) / u64::from(self.count)) as u32;
        bound(self.index)..bound(self.index + 1)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Reads `I/N`; the error says what is wrong, without the text.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or("expected I/N, such as 0/4 (part I of N, I from 0)")?;
        let number = |s: &str, what: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what} {:?} is not a whole number", s.trim()))
        };
        let shard = Shard {
            index: number(index, "the index")?,
            count: number(count, "the count")?,
        };
        shard.check()?;
        Ok(shard)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Runs `options.replications` seeded replications of `scenario` on `options.threads` threads.
/// `progress(done, total)` is called from the calling thread as replications finish.
pub fn run_replications(
    scenario: &Scenario,
    options: ReplicationOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ReplicationReport> {
    let part = run_shard(scenario, options, Shard::WHOLE, progress)?;
    merge(vec![part])
}

/// Runs the replications of one shard of `options.replications` (all of them for
/// [`Shard::WHOLE`]): the partial result that [`merge`] combines with the other shards'.
pub fn run_shard(
    scenario: &Scenario,
    options: ReplicationOptions,
    shard: Shard,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Partial> {
    let k = options.replications;
    if k == 0 || options.threads == 0 {
        return Err(Error::new(ErrorKind::Invalid(
            "replications and threads must be at least 1".into(),
        )));
    }
    shard
        .check()
        .map_err(|why| Error::invalid("--shard", format!("{shard}: {why}")))?;
    let seed_first = options.seed.unwrap_or(scenario.file.seed);
    let wall = Instant::now();
    let range = shard.range(k);
    let samples = run_all(scenario, seed_first, range, options.threads, progress)?;
    let wall_s = wall.elapsed().as_secs_f64();
    Ok(Partial::new(
        scenario,
        Skeleton::of(scenario),
        seed_first,
        k,
        shard,
        samples,
        wall_s,
    ))
}

/// Runs the replications whose indices are in `range`; the records come back in index order.
fn run_all(
    scenario: &Scenario,
    seed_first: u64,
    range: std::ops::Range<u32>,
    threads: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<RunSample>> {
    let k = u64::from(range.end - range.start);
    progress(0, k);
    crate::parallel::map_indexed(
        k as usize,
        threads,
        &|slot| {
            let index = range.start + slot as u32;
            let seed = seed_first.wrapping_add(u64::from(index));
            simulate(scenario, seed, &mut |_| {}).map(|r| sample::sample(scenario, index, &r))
        },
        &mut |done| progress(done, k),
    )
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn shards_are_contiguous_and_nearly_equal() {
        for (k, n) in [(10u32, 3u32), (3, 7), (7, 7), (1000, 1), (5, 2)] {
            let mut next = 0;
            for index in 0..n {
                let r = Shard { index, count: n }.range(k);
                assert_eq!(
                    r.start, next,
                    "K={k} N={n}: part {index} starts where the last ended"
                );
                let size = r.end - r.start;
                assert!(size == k / n || size == k / n + 1, "K={k} N={n}: {size}");
                next = r.end;
            }
            assert_eq!(next, k, "K={k} N={n}: the parts cover every replication");
        }
        assert_eq!(Shard { index: 1, count: 3 }.range(10), 3..6);
        assert_eq!(
            Shard { index: 0, count: 7 }.range(3),
            0..0,
            "more parts than runs"
        );
    }

    #[test]
    fn shard_text_is_index_slash_count_from_zero() {
        assert_eq!(Shard::parse("2/7").unwrap(), Shard { index: 2, count: 7 });
        assert_eq!(Shard::parse(" 0 / 1 ").unwrap(), Shard::WHOLE);
        assert_eq!(Shard { index: 2, count: 7 }.to_string(), "2/7");
        for (text, needle) in [
            ("7/7", "from 0 to 6"),
            ("1/0", "at least 1"),
            ("3", "expected I/N"),
            ("a/4", "\"a\" is not a whole number"),
            ("-1/4", "not a whole number"),
        ] {
            let err = Shard::parse(text).unwrap_err().to_string();
            assert!(
                err.contains("--shard") && err.contains(needle),
                "{text}: {err}"
            );
        }
    }
}
