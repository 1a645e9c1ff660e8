//! Sharded sweeps: `fleetsim plan SCENARIO --shard I/N --partial-out FILE` runs the I-th of N
//! equal parts of the grid's plans and writes their outcomes ([`PlanPartial`]);
//! [`merge_plans`] puts the parts together into exactly the report one machine would have made
//! (`docs/risk.md`, "Beyond one machine").
//!
//! # Why a shard's plans run at least as far as the whole sweep's
//!
//! The stopping rule stops a plan's rollout for four reasons: its interval is precise, it is
//! clearly outside a constraint, it reached the most replications, or another plan clearly
//! dominates it. The first three look at the plan's own outcomes only; dominance looks at the
//! others. A shard sees only its plans, so it applies the first three and never dominance
//! ([`Scope::OwnPlan`]): each of its plans then runs to the round where it would have stopped
//! alone, which is never earlier than the round where the whole sweep stops it. The merge
//! replays the whole sweep's rounds over the stored outcomes ([`Scope::Grid`]), taking in each
//! round the first `n` outcomes of every open rollout: the same outcomes at the same indices
//! as one machine's run, so the same decisions, summaries and recommendation. The price is
//! the replications a shard runs past the round where its plan would have been dominated.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::plan::exec::Item;
use crate::plan::outcome::Outcome;
use crate::plan::report::{self, Header};
use crate::plan::{grid, prepare, simulate_rounds, sweep_rounds, PlanOptions, PlanReport};
use crate::plan::{PlanState, Scope};
use crate::replicate::partial::{digest, order_parts, parse, read_file};
use crate::replicate::Shard;
use crate::scenario::Scenario;

/// The version of the plan partial format; a merge refuses any other.
pub const PLAN_PARTIAL_VERSION: u32 = 1;

/// What a plan partial result file says it is.
pub(crate) const KIND: &str = "fleetsim-plan-partial";

/// How to write one, for errors.
const HINT: &str = "`fleetsim plan SCENARIO --shard I/N --partial-out FILE`";

/// The outcomes of one plan of a shard, by replication index.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanRecord {
    /// The plan's index in the grid.
    index: usize,
    healthy: Vec<Outcome>,
    bad: Vec<Outcome>,
}

/// The outcomes of one shard's plans, as written to and read from a plan partial file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanPartial {
    kind: String,
    partial_version: u32,
    fleetsim_version: String,
    /// SHA-256 over the scenario as loaded, the sweep's options and the first seed.
    fingerprint: String,
    shard: Shard,
    /// Plans in the whole grid.
    plan_count: usize,
    header: Header,
    options: PlanOptions,
    wall_s: f64,
    plans: Vec<PlanRecord>,
    /// The file it was read from, for errors.
    #[serde(skip)]
    source: Option<PathBuf>,
}

/// The fingerprint of a sweep of `scenario` with `options` from `seed_first`.
fn fingerprint(scenario: &Scenario, options: &PlanOptions, seed_first: u64) -> String {
    digest(&serde_json::json!({
        "fleetsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": scenario.file,
        "options": options,
        "seed_first": seed_first,
    }))
}

/// Runs part `shard` of the plans of `options` over `scenario` (contiguous parts whose sizes
/// differ by at most one, as [`Shard::range`] cuts replications).
pub fn run_plan_shard(
    scenario: &Scenario,
    options: &PlanOptions,
    shard: Shard,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PlanPartial> {
    shard
        .check()
        .map_err(|why| Error::invalid("--shard", format!("{shard}: {why}")))?;
    let plan_count = grid::expand(&options.knobs)?.len();
    let range = shard.range(plan_count as u32);
    let range = range.start as usize..range.end as usize;
    let sweep = prepare(scenario, options, Some(range.clone()))?;
    let (mut states, arms) = (sweep.states, sweep.arms);
    let wall = Instant::now();
    {
        let mut run_round = simulate_rounds(&arms, &sweep.header, options.threads, progress);
        sweep_rounds(&mut states, options, Scope::OwnPlan, &mut run_round)?;
    }
    let plans = range
        .zip(states)
        .map(|(index, s)| PlanRecord {
            index,
            healthy: s.healthy,
            bad: s.bad,
        })
        .collect();
    Ok(PlanPartial {
        kind: KIND.to_string(),
        partial_version: PLAN_PARTIAL_VERSION,
        fleetsim_version: env!("CARGO_PKG_VERSION").to_string(),
        fingerprint: fingerprint(scenario, options, sweep.header.seed_first),
        shard,
        plan_count,
        header: sweep.header,
        options: options.clone(),
        wall_s: wall.elapsed().as_secs_f64(),
        plans,
        source: None,
    })
}

impl PlanPartial {
    /// The shard it holds.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The grid indices of the plans it holds.
    pub fn plan_indices(&self) -> Vec<usize> {
        self.plans.iter().map(|p| p.index).collect()
    }

    /// Simulations it ran (both rollouts of each of its plans).
    pub fn simulations(&self) -> u64 {
        self.plans
            .iter()
            .map(|p| (p.healthy.len() + p.bad.len()) as u64)
            .sum()
    }

    /// The file as JSON (one line).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a plan partial always serializes")
    }

    /// Reads a plan partial file; errors name it.
    pub fn read(path: &Path) -> Result<Self> {
        let mut part = read_file(path, Self::from_json)?;
        part.source = Some(path.to_path_buf());
        Ok(part)
    }

    /// Reads a plan partial from JSON and checks its version and shape.
    pub fn from_json(text: &str) -> Result<Self> {
        let part: Self = parse(
            text,
            "plan partial result",
            KIND,
            PLAN_PARTIAL_VERSION,
            HINT,
        )?;
        part.check_shape()?;
        Ok(part)
    }

    /// Refuses a part whose shard, plans or outcomes do not fit together.
    fn check_shape(&self) -> Result<()> {
        let bad =
            |field: &str, why: String| Err(Error::new(ErrorKind::Partial(why)).with_field(field));
        if let Err(why) = self.shard.check() {
            return bad("shard", format!("{}: {why}", self.shard));
        }
        let range = self.shard.range(self.plan_count as u32);
        let expected: Vec<usize> = (range.start as usize..range.end as usize).collect();
        if self.plan_indices() != expected {
            let why = format!(
                "part {} of {} plans holds plans {:?}, not {expected:?}",
                self.shard,
                self.plan_count,
                self.plan_indices()
            );
            return bad("plans", why);
        }
        let has_bad = self.options.bad.is_some();
        for (i, p) in self.plans.iter().enumerate() {
            if p.healthy.is_empty() || has_bad == p.bad.is_empty() {
                let why = format!(
                    "plan {} has {} healthy and {} bad outcomes; the sweep {} a bad rollout",
                    p.index,
                    p.healthy.len(),
                    p.bad.len(),
                    if has_bad { "has" } else { "has no" }
                );
                return bad(&format!("plans[{i}]"), why);
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

/// Combines the parts of one sharded sweep, given in any order, into the report that the
/// whole sweep on one machine gives (only `wall_s`, the sum of the parts', differs). Refuses
/// parts of different scenarios or options, a part missing and a part given twice.
pub fn merge_plans(mut parts: Vec<PlanPartial>) -> Result<PlanReport> {
    order_parts(&mut parts, check_same_sweep, |p| (p.shard, p.name()))?;
    let wall_s = parts.iter().map(|p| p.wall_s).sum();
    let (header, options) = (parts[0].header.clone(), parts[0].options.clone());
    let records: Vec<PlanRecord> = parts.into_iter().flat_map(|p| p.plans).collect();
    let plans = grid::expand(&options.knobs)?;
    if plans.len() != records.len() {
        return Err(Error::new(ErrorKind::Partial(format!(
            "the parts hold {} plans; the grid has {}: was one edited?",
            records.len(),
            plans.len()
        ))));
    }
    let has_bad = options.bad.is_some();
    let mut states: Vec<PlanState> = plans
        .into_iter()
        .map(|plan| PlanState::new(plan, has_bad))
        .collect();
    let mut replay = |items: &[Item]| stored(&records, items);
    let rounds = sweep_rounds(&mut states, &options, Scope::Grid, &mut replay)?;
    Ok(report::build(&header, &options, &states, rounds, wall_s))
}

/// The stored outcomes of `items`; an error if a part holds too few (a part edited by hand).
fn stored(records: &[PlanRecord], items: &[Item]) -> Result<Vec<Outcome>> {
    items
        .iter()
        .map(|item| {
            let r = &records[item.plan];
            let outcomes = if item.bad { &r.bad } else { &r.healthy };
            outcomes
                .get(item.replication as usize)
                .copied()
                .ok_or_else(|| {
                    Error::new(ErrorKind::Partial(format!(
                        "plan {} holds {} outcomes of its {} rollout; the sweep needs replication \
                     {}: was a part edited?",
                        item.plan,
                        outcomes.len(),
                        if item.bad { "bad" } else { "healthy" },
                        item.replication
                    )))
                })
        })
        .collect()
}

/// Refuses `b` unless it is a part of the same sweep as `a`.
fn check_same_sweep(a: &PlanPartial, b: &PlanPartial) -> Result<()> {
    let differ = |what: String| {
        Err(Error::new(ErrorKind::Partial(format!(
            "{} and {} are parts of different sweeps: {what}",
            a.name(),
            b.name()
        ))))
    };
    if a.fingerprint != b.fingerprint {
        let what = if a.header.scenario != b.header.scenario {
            format!(
                "scenario {:?} and {:?}",
                a.header.scenario, b.header.scenario
            )
        } else if a.header.seed_first != b.header.seed_first {
            format!(
                "first seed {} and {}",
                a.header.seed_first, b.header.seed_first
            )
        } else {
            "the scenario or the sweep's options (grid, bad rollout, rule, constraints, \
             --devices) differ"
                .to_string()
        };
        return differ(what);
    }
    if a.shard.count != b.shard.count {
        return differ(format!(
            "split into {} and {} parts",
            a.shard.count, b.shard.count
        ));
    }
    if a.header != b.header || a.plan_count != b.plan_count {
        return differ("the same fingerprint but another header: was one edited?".into());
    }
    Ok(())
}
