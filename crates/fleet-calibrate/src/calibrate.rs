//! [`calibrate()`]: per-segment rates and latencies from a [`History`] of job results.

use std::collections::BTreeMap;

use fleet_sim::{Distribution, Fleet};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
pub use crate::latency::LatencyChoice;
use crate::latency::{self, LatencyFit, Settings};
use crate::pooling::{self, LogSample};
use crate::rates::{self, Prior, RateFit};
use crate::record::{DeviceResult, History, Outcome, Platform};
use crate::segment::{self, Attribute};

/// How to calibrate.
#[derive(Debug, Clone)]
pub struct CalibrateOptions {
    /// The attributes that segment the results (none: one pooled segment).
    pub by: Vec<Attribute>,
    /// The level of every interval (default 0.95).
    pub level: f64,
    /// Which latency distribution to write.
    pub latency: LatencyChoice,
    /// Parametric-bootstrap draws of the goodness-of-fit test (default 199; 0: no p-values).
    pub gof_draws: u32,
    /// A segment with fewer answered devices than this takes the pooled latency (default 30).
    pub min_latency_n: u64,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        Self {
            by: Vec::new(),
            level: 0.95,
            latency: LatencyChoice::Auto,
            gof_draws: 199,
            min_latency_n: 30,
        }
    }
}

/// The fit of one segment (or of all devices).
#[derive(Debug, Clone, Serialize)]
pub struct SegmentFit {
    /// A name for people (`template = dtmi:x;1, tags.firmware = 1.2`, or `all devices`).
    pub name: String,
    /// The segment's attribute values, in `--by` order (`null`: the device lacks it).
    pub values: Vec<Option<Value>>,
    /// The behaviour rule's selector as a TOML inline table (`None`: every device).
    pub selector: Option<String>,
    /// Results in the segment, by outcome.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// The failure probability.
    pub failure: RateFit,
    /// The rejection probability, where every result can tell a rejection (AWS).
    pub rejection: Option<RateFit>,
    /// The time-out probability, where every result can tell a time-out (AWS, IoT Hub).
    pub time_out: Option<RateFit>,
    /// The latency, fitted to this segment's answered devices.
    pub latency: Option<LatencyFit>,
    /// Where the rule's latency comes from: `own` (its median partially pooled when the
    /// log-normal is written and there are 3 segments or more), `partial` (too few answers for
    /// a distribution of its own: its partially pooled median with the pooled sigma), `pooled`
    /// (the all-devices rule's) or `none`.
    pub latency_from: &'static str,
}

/// Devices of the results that the fleet lacks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NotInFleet {
    /// How many results name a device the fleet does not have.
    pub count: u64,
    /// The first ten, with where they were read.
    pub examples: Vec<String>,
}

/// What calibration found: the pooled fit, one fit per segment, and notes.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// The schema version of this JSON (1).
    pub schema_version: u32,
    /// The files read.
    pub files: Vec<String>,
    /// The platforms of the results.
    pub platforms: Vec<Platform>,
    /// Device results read.
    pub records: u64,
    /// The `--by` attributes.
    pub by: Vec<String>,
    /// The level of every interval.
    pub level: f64,
    /// How rate intervals are computed.
    pub rate_method: String,
    /// The weight in devices of the prior that the segments' rates share (failure,
    /// rejection, time-out; 1 when unpooled, Jeffreys).
    pub prior_devices: BTreeMap<&'static str, f64>,
    /// The spread (sd) of the segments' log latency medians that partial pooling estimated;
    /// `None` with fewer than 3 segments with a latency.
    pub latency_tau: Option<f64>,
    /// Every device.
    pub pooled: SegmentFit,
    /// One per segment, in the order of their values.
    pub segments: Vec<SegmentFit>,
    /// Results naming devices the fleet lacks (in the pooled fit, in no segment).
    pub not_in_fleet: NotInFleet,
    /// Results left out of the rates: cancelled, removed, not final.
    pub left_out: BTreeMap<&'static str, u64>,
    /// What the data cannot tell, and other caveats.
    pub notes: Vec<String>,
}

/// What the results can tell, over every platform present.
#[derive(Clone, Copy)]
struct Tells {
    rejections: bool,
    timeouts: bool,
}

/// The results of one segment.
struct Group<'h> {
    key: Vec<Option<Value>>,
    results: Vec<&'h DeviceResult>,
}

/// Calibrates behaviour from `history`, segmenting by `options.by` with the devices of
/// `fleet`.
pub fn calibrate(
    history: &History,
    fleet: &Fleet,
    options: &CalibrateOptions,
) -> Result<Calibration> {
    check_input(history, options)?;
    let platforms = history.platforms();
    let tells = Tells {
        rejections: platforms.iter().all(|p| p.tells_rejections()),
        timeouts: platforms.iter().all(|p| p.tells_timeouts()),
    };
    let (groups, not_in_fleet) = group(history, fleet, &options.by)?;
    let priors = segment_priors(&groups);
    let all = Group {
        key: Vec::new(),
        results: history.devices.iter().collect(),
    };
    let jeffreys: BTreeMap<&'static str, Prior> =
        priors.keys().map(|k| (*k, Prior::jeffreys())).collect();
    let pooled = fit_group(&all, &[], &jeffreys, tells, settings(options, 0), options)?;
    let mut segments = Vec::with_capacity(groups.len());
    for (i, g) in groups.iter().enumerate() {
        let seed = i as u64 + 1;
        let mut s = fit_group(
            g,
            &options.by,
            &priors,
            tells,
            settings(options, seed),
            options,
        )?;
        if s.latency
            .as_ref()
            .is_none_or(|l| l.n < options.min_latency_n)
        {
            s.latency_from = if pooled.latency.is_some() {
                "pooled"
            } else {
                "none"
            };
        }
        segments.push(s);
    }
    let latency_tau = pool_latency(&mut segments, &pooled, options.level);
    let left_out = left_out(history);
    let mut notes = notes(history, &platforms, tells, &pooled, &segments, &priors);
    if let Some(tau) = latency_tau {
        notes.push(format!(
            "partial pooling: the segments' latency medians spread by a factor of {:.2} (sd of \
             their logs {tau:.3}); each segment's median is shrunk toward their mean by its \
             weight",
            tau.exp()
        ));
    }
    Ok(Calibration {
        schema_version: 1,
        files: history
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        platforms,
        records: history.devices.len() as u64,
        by: options.by.iter().map(Attribute::label).collect(),
        level: options.level,
        rate_method: rate_method(segments.len()),
        prior_devices: priors.iter().map(|(k, p)| (*k, p.devices())).collect(),
        pooled,
        segments,
        not_in_fleet,
        left_out,
        latency_tau,
        notes,
    })
}

/// Partially pools the segments' log-normal medians (3 segments or more): each fit gets its
/// pooled median; a written log-normal takes it; a segment with too few answers for a
/// distribution of its own gets a log-normal of its pooled median and the pooled sigma
/// (`partial`). Returns the spread of the segments' log medians.
fn pool_latency(segments: &mut [SegmentFit], pooled: &SegmentFit, level: f64) -> Option<f64> {
    let samples: Vec<Option<LogSample>> = segments
        .iter()
        .map(|s| {
            s.latency.as_ref().map(|l| LogSample {
                mu: l.median_ms.ln(),
                sd_mle: l.sigma,
                n: l.n,
            })
        })
        .collect();
    let (medians, tau) = pooling::shrink(&samples, level)?;
    let sigma = pooled.latency.as_ref().map(|l| l.sigma);
    for (s, m) in segments.iter_mut().zip(medians) {
        let (Some(l), Some(m)) = (s.latency.as_mut(), m) else {
            continue;
        };
        l.pooled = Some(m);
        match (s.latency_from, &mut l.chosen, sigma) {
            ("own", Distribution::Lognormal { median_ms, .. }, _) => *median_ms = m.median_ms,
            ("pooled", _, Some(sigma)) => {
                s.latency_from = "partial";
                l.chosen = Distribution::Lognormal {
                    median_ms: m.median_ms,
                    sigma,
                };
            }
            _ => {}
        }
    }
    Some(tau)
}

/// The latency settings of a segment (its own bootstrap seed).
fn settings(options: &CalibrateOptions, seed: u64) -> Settings {
    Settings {
        level: options.level,
        choice: options.latency,
        draws: options.gof_draws,
        seed,
    }
}

/// Per outcome, the prior the segments' rates share.
fn segment_priors(groups: &[Group<'_>]) -> BTreeMap<&'static str, Prior> {
    let fitted = |g: &Group<'_>, o: Outcome| {
        let n = g.results.iter().filter(|d| d.outcome.is_fitted()).count() as u64;
        let x = g.results.iter().filter(|d| d.outcome == o).count() as u64;
        (x, n)
    };
    [
        ("failure", Outcome::Failed),
        ("rejection", Outcome::Rejected),
        ("time_out", Outcome::TimedOut),
    ]
    .into_iter()
    .map(|(name, o)| {
        let counts: Vec<(u64, u64)> = groups.iter().map(|g| fitted(g, o)).collect();
        (name, rates::pooled_prior(&counts))
    })
    .collect()
}

/// Refuses results without devices and a level outside (0, 1).
fn check_input(history: &History, options: &CalibrateOptions) -> Result<()> {
    if history.devices.is_empty() {
        return Err(Error::unusable(
            "no per-device results among the files (a job file alone gives no rates)",
        ));
    }
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(Error::invalid(
            "--level",
            format!("{} is not in (0, 1)", options.level),
        ));
    }
    Ok(())
}

fn rate_method(segments: usize) -> String {
    if segments >= 3 {
        "Beta posterior, equal-tailed interval; segments: hierarchical Beta prior (mean: the \
         pooled rate; concentration: a grid weighted by the beta-binomial likelihood); all \
         devices: Jeffreys prior"
            .into()
    } else {
        "Beta posterior with the Jeffreys prior Beta(1/2, 1/2), equal-tailed interval (fewer \
         than 3 segments: no pooling)"
            .into()
    }
}

/// The results by segment key (in key order), and the devices the fleet lacks.
fn group<'h>(
    history: &'h History,
    fleet: &Fleet,
    by: &[Attribute],
) -> Result<(Vec<Group<'h>>, NotInFleet)> {
    let mut missing = NotInFleet::default();
    let mut groups: BTreeMap<String, Group<'h>> = BTreeMap::new();
    for d in &history.devices {
        let Some(index) = fleet.index_of(&d.device) else {
            missing.count += 1;
            if missing.examples.len() < 10 {
                missing
                    .examples
                    .push(format!("{} ({})", d.device, history.locate(d.place)));
            }
            continue;
        };
        if by.is_empty() {
            continue;
        }
        let key: Vec<Option<Value>> = by.iter().map(|a| a.value(fleet, index)).collect();
        let text = serde_json::to_string(&key).unwrap_or_default();
        groups
            .entry(text)
            .or_insert_with(|| Group {
                key,
                results: Vec::new(),
            })
            .results
            .push(d);
    }
    Ok((groups.into_values().collect(), missing))
}

fn fit_group(
    g: &Group<'_>,
    by: &[Attribute],
    priors: &BTreeMap<&'static str, Prior>,
    tells: Tells,
    settings: Settings,
    options: &CalibrateOptions,
) -> Result<SegmentFit> {
    let mut outcomes: BTreeMap<&'static str, u64> = BTreeMap::new();
    for d in &g.results {
        *outcomes.entry(d.outcome.as_str()).or_default() += 1;
    }
    let count = |o: Outcome| outcomes.get(o.as_str()).copied().unwrap_or(0);
    let n: u64 = [
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::Rejected,
        Outcome::TimedOut,
    ]
    .into_iter()
    .map(count)
    .sum();
    let rate = |name: &str, o: Outcome| rates::fit(count(o), n, &priors[name], options.level);
    let latencies: Vec<f64> = g
        .results
        .iter()
        .filter(|d| d.outcome.answered())
        .filter_map(|d| d.elapsed_ms())
        .map(|ms| ms as f64)
        .collect();
    let waits: Vec<f64> = g
        .results
        .iter()
        .filter(|d| d.outcome == Outcome::TimedOut)
        .filter_map(|d| d.elapsed_ms())
        .map(|ms| ms as f64)
        .collect();
    let latency = latency::fit(&latencies, &waits, settings);
    let name = if g.key.is_empty() {
        "all devices".to_string()
    } else {
        segment::label(by, &g.key)
    };
    Ok(SegmentFit {
        name,
        values: g.key.clone(),
        selector: segment::selector(by, &g.key)?,
        failure: rate("failure", Outcome::Failed),
        rejection: tells
            .rejections
            .then(|| rate("rejection", Outcome::Rejected)),
        time_out: tells.timeouts.then(|| rate("time_out", Outcome::TimedOut)),
        latency_from: if latency.is_some() { "own" } else { "none" },
        latency,
        outcomes,
    })
}

fn left_out(history: &History) -> BTreeMap<&'static str, u64> {
    let mut m = BTreeMap::new();
    for d in history.devices.iter().filter(|d| !d.outcome.is_fitted()) {
        *m.entry(d.outcome.as_str()).or_default() += 1;
    }
    m
}

fn notes(
    history: &History,
    platforms: &[Platform],
    tells: Tells,
    pooled: &SegmentFit,
    segments: &[SegmentFit],
    priors: &BTreeMap<&'static str, Prior>,
) -> Vec<String> {
    let mut notes = Vec::new();
    if platforms.contains(&Platform::Central) {
        notes.push(
            "IoT Central results carry a status only (no times, no failure kinds): rates, but no \
             latency, rejection or time-out probability from them"
                .to_string(),
        );
    }
    if !tells.rejections {
        notes.push(
            "rejections are not told apart from failures by these results: they are counted as \
             failures and no reject_probability is written"
                .to_string(),
        );
    }
    if !tells.timeouts {
        notes.push(
            "time-outs are not told apart from failures by these results: no crash_probability is \
             written"
                .to_string(),
        );
    }
    notes.extend(job_count_notes(history));
    let offline = history
        .devices
        .iter()
        .filter(|d| d.outcome == Outcome::Offline)
        .count();
    if offline > 0 {
        notes.push(format!(
            "{offline} devices were not online (DeviceNotOnline): left out of the rates and the \
             latency; an imported fleet's connection state starts them offline, a generated fleet \
             needs an `offline` rule ({:.2} % of the results)",
            100.0 * offline as f64 / history.devices.len() as f64
        ));
    }
    let retried = history.devices.iter().filter(|d| d.retries > 0).count();
    if retried > 0 {
        notes.push(format!(
            "{retried} results had retries (retryAttempt > 0): rates are of final outcomes, per \
             device, and understate the rate per attempt"
        ));
    }
    for s in std::iter::once(pooled).chain(segments) {
        if let Some(m) = s.latency.as_ref().and_then(|l| l.mass_beyond_timeout) {
            if m > 0.01 {
                notes.push(format!(
                    "{}: the fitted latency puts {:.1} % beyond the shortest time-out: some \
                     time-outs were slow answers, and the fitted latency is too short",
                    s.name,
                    100.0 * m
                ));
            }
        }
    }
    if segments.len() >= 3 {
        notes.push(format!(
            "partial pooling: the segments' failure rates share a prior worth {:.1} devices \
             (posterior mean over its grid)",
            priors["failure"].devices()
        ));
    }
    notes
}

/// A note for each job whose own device count disagrees with the results read.
fn job_count_notes(history: &History) -> Vec<String> {
    let mut notes = Vec::new();
    for j in &history.jobs {
        let read = history
            .devices
            .iter()
            .filter(|d| d.job.as_deref() == Some(j.id.as_str()))
            .count() as u64;
        if let Some([count, ..]) = j.statistics {
            if count != read {
                notes.push(format!(
                    "job {} says it had {count} devices, the results hold {read} of them: are \
                     pages missing?",
                    j.id
                ));
            }
        }
    }
    notes
}
