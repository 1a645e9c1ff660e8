//! Rollout risk: the two questions for a job (how often does its plan stop a healthy rollout,
//! and how far does a bad one spread before it stops), answered from seeded replications, for
//! every plan of a grid, with common random numbers and sequential stopping (`fleetsim plan`,
//! `docs/risk.md`).
//!
//! One concept per file: [`spec`] (the `[risk]` section), [`grid`] (knobs, plans and their
//! scenarios), [`outcome`] (one replication's outcome, a plan's summaries), [`interval`]
//! (intervals and tests), [`stopping`] (the stopping rule and constraints), [`pareto`] (the
//! Pareto set and the recommendation), [`report`] (the report and its text) and [`html`].
//!
//! # Common random numbers
//!
//! Replication `i` of every plan runs seed `seed + i`, for the healthy and the bad rollout
//! alike. A device's fate is drawn from (seed, device, run, attempt), never from the plan, and
//! cohort faults from the seed alone, so the same seed gives every plan the same fleet and the
//! same device fates: two plans differ on a seed only where their rules treat the same fates
//! differently. A plan's replications are the first `n` seeds, so plans share their first seeds.

mod exec;
pub mod grid;
pub mod html;
pub mod interval;
pub mod outcome;
pub mod pareto;
pub mod partial;
pub mod report;
pub mod spec;
pub mod stopping;

use std::time::Instant;

use fleet_sim::BehaviourRule;

use crate::error::{Error, Result};
use crate::scenario::Scenario;

pub use grid::{Plan, Setting};
pub use partial::{merge_plans, run_plan_shard, PlanPartial};
pub use report::{PlanReport, PlanSummary};
pub use spec::{GridSpec, RiskSpec};
pub use stopping::{Constraints, Done, Objective, StoppingRule};

use outcome::Outcome;
use stopping::Estimates;

/// What `fleetsim plan` sweeps and how. [`PlanOptions::from_spec`] reads a `[risk]` section;
/// the command line then overrides fields. A plan partial file carries them (all but the
/// threads, which change nothing in the report).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanOptions {
    /// The job (required when the scenario has several).
    pub job: Option<String>,
    /// The bad rollout's fault, added after the behaviour's rules and cohorts.
    pub bad: Option<BehaviourRule>,
    /// The knobs to sweep, in order, each with its values as text.
    pub knobs: Vec<(String, Vec<String>)>,
    /// How many replications each plan gets.
    pub rule: StoppingRule,
    /// The constraints of the recommendation.
    pub constraints: Constraints,
    /// The first seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Worker threads, at least 1.
    #[serde(skip, default = "one_thread")]
    pub threads: usize,
}

fn one_thread() -> usize {
    1
}

impl PlanOptions {
    /// The options a `[risk]` section states (defaults for what it leaves out; one thread).
    pub fn from_spec(spec: &RiskSpec) -> Result<Self> {
        let mut rule = StoppingRule::default();
        if let Some(p) = &spec.precision {
            rule.precision = spec::probability_value("precision", p)?;
        }
        if let Some(n) = spec.min_replications {
            rule.min_replications = n;
        }
        if let Some(n) = spec.max_replications {
            rule.max_replications = n;
        }
        let mut constraints = Constraints {
            max_blast: spec.max_blast,
            ..Constraints::default()
        };
        if let Some(p) = &spec.max_false_stop {
            constraints.max_false_stop = Some(spec::probability_value("max_false_stop", p)?);
        }
        if let Some(d) = &spec.deadline {
            constraints.deadline_ms = Some(spec::parse_duration_ms("deadline", d)?);
        }
        if let Some(o) = &spec.optimise {
            constraints.optimise = Objective::parse(o).ok_or_else(|| {
                Error::invalid(
                    "optimise",
                    format!("{o:?}: give `blast`, `false_stop` or `duration`"),
                )
            })?;
        }
        if let Some(bad) = &spec.bad {
            bad.validate()
                .map_err(|e| crate::scenario::sim_error("bad", &e))?;
        }
        let knobs = spec
            .grid
            .entries()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Ok(Self {
            job: spec.job.clone(),
            bad: spec.bad.clone(),
            knobs,
            rule,
            constraints,
            seed: None,
            threads: 1,
        })
    }

    /// Checks the numbers of the rule.
    fn validate(&self) -> Result<()> {
        let r = &self.rule;
        if !(r.precision.is_finite() && r.precision >= 0.0 && r.precision < 0.5) {
            return Err(Error::invalid(
                "precision",
                format!("{}: give a half-width from 0 to 50 pp", r.precision),
            ));
        }
        if r.min_replications == 0 || r.max_replications < r.min_replications {
            return Err(Error::invalid(
                "min_replications",
                format!(
                    "{} to {} replications: give at least 1, and a maximum at least the minimum",
                    r.min_replications, r.max_replications
                ),
            ));
        }
        if self.threads == 0 {
            return Err(Error::invalid("threads", "give at least 1 thread"));
        }
        Ok(())
    }
}

/// One plan being swept: the outcomes of its rollouts so far, by replication index, and why
/// each rollout got no more replications.
pub(crate) struct PlanState {
    pub(crate) plan: Plan,
    /// Whether it has a bad rollout (a bad fault was stated).
    pub(crate) has_bad: bool,
    pub(crate) healthy: Vec<Outcome>,
    pub(crate) bad: Vec<Outcome>,
    pub(crate) healthy_done: Option<Done>,
    pub(crate) bad_done: Option<Done>,
}

impl PlanState {
    pub(crate) fn new(plan: Plan, has_bad: bool) -> Self {
        Self {
            plan,
            has_bad,
            healthy: Vec::new(),
            bad: Vec::new(),
            healthy_done: None,
            bad_done: None,
        }
    }

    fn estimates(&self) -> Estimates<'_> {
        Estimates {
            healthy_outcomes: &self.healthy,
            healthy: outcome::healthy(&self.healthy),
            bad: (!self.bad.is_empty()).then(|| outcome::bad(&self.bad)),
        }
    }

    fn active(&self) -> bool {
        self.healthy_done.is_none() || (self.has_bad && self.bad_done.is_none())
    }
}

/// Which plans the stopping rule sees when it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every plan of the grid: a plan may stop as dominated by another.
    Grid,
    /// Only its own outcomes (a shard's plans): precision, infeasibility and the maximum, never
    /// dominance, so that a shard runs every plan at least as far as the whole sweep would.
    OwnPlan,
}

/// Checks a scenario's `[risk]` section: its settings, its grid and its job (the plans'
/// scenarios are built by `fleetsim plan`).
pub(crate) fn check_spec(scenario: &Scenario, spec: &RiskSpec) -> Result<()> {
    let options = PlanOptions::from_spec(spec).map_err(|e| e.with_field("risk"))?;
    grid::expand(&options.knobs).map_err(|e| e.with_field("risk.grid"))?;
    job_index(scenario, options.job.as_deref())?;
    options.validate().map_err(|e| e.with_field("risk"))
}

/// The index of the job the questions are about: `job`, or the only job.
fn job_index(scenario: &Scenario, job: Option<&str>) -> Result<usize> {
    let ids: Vec<&str> = scenario.jobs.iter().map(|j| j.id.as_str()).collect();
    match job {
        Some(id) => ids.iter().position(|j| *j == id).ok_or_else(|| {
            Error::invalid(
                "risk.job",
                format!("no job {id:?} in the scenario (jobs: {ids:?}; scheduled jobs cannot be planned)"),
            )
        }),
        None if ids.len() == 1 => Ok(0),
        None => Err(Error::invalid(
            "risk.job",
            format!("the scenario has {} jobs {ids:?}: name one (--job or [risk] job)", ids.len()),
        )),
    }
}

/// Sweeps the plans of `options` over `scenario` and answers both questions for each.
/// `progress(done, total)` is called as replications finish (the total grows each round).
///
/// The report depends only on the scenario, the options and the seed, not on the thread
/// count: the rule decides between rounds, on outcomes stored by replication index.
pub fn run_plan(
    scenario: &Scenario,
    options: &PlanOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PlanReport> {
    let sweep = prepare(scenario, options, None)?;
    let (mut states, arms) = (sweep.states, sweep.arms);
    let wall = Instant::now();
    let mut run_round = simulate_rounds(&arms, &sweep.header, options.threads, progress);
    let rounds = sweep_rounds(&mut states, options, Scope::Grid, &mut run_round)?;
    let wall_s = wall.elapsed().as_secs_f64();
    Ok(report::build(
        &sweep.header,
        options,
        &states,
        rounds,
        wall_s,
    ))
}

/// A sweep ready to run: its header, and per plan its state and scenarios.
pub(crate) struct Prepared {
    pub(crate) header: report::Header,
    pub(crate) states: Vec<PlanState>,
    pub(crate) arms: Vec<exec::Arms>,
}

/// Checks the options and builds every plan's scenarios (`only`: the plans of this range of
/// the grid; `None`: all).
pub(crate) fn prepare(
    scenario: &Scenario,
    options: &PlanOptions,
    only: Option<std::ops::Range<usize>>,
) -> Result<Prepared> {
    options.validate()?;
    let job = job_index(scenario, options.job.as_deref())?;
    let plans = grid::expand(&options.knobs)?;
    let range = only.unwrap_or(0..plans.len());
    let mut states = Vec::with_capacity(range.len());
    let mut arms = Vec::with_capacity(range.len());
    for plan in plans.into_iter().skip(range.start).take(range.len()) {
        arms.push(plan_arms(scenario, job, &plan, options.bad.as_ref())?);
        states.push(PlanState::new(plan, options.bad.is_some()));
    }
    let seed_first = options.seed.unwrap_or(scenario.file.seed);
    let header = report::Header::of(scenario, job, seed_first);
    Ok(Prepared {
        header,
        states,
        arms,
    })
}

/// Runs the rounds of a sweep until no rollout of `states` is open: each round brings every
/// open rollout to the round's replications (`run_round` gives the outcomes of the items, in
/// item order), then the stopping rule decides over `scope`. Returns the rounds run.
///
/// The decisions depend only on the outcomes stored by replication index, never on who ran
/// them or when: this is what makes the report independent of threads and shards.
pub(crate) fn sweep_rounds(
    states: &mut [PlanState],
    options: &PlanOptions,
    scope: Scope,
    run_round: &mut dyn FnMut(&[exec::Item]) -> Result<Vec<Outcome>>,
) -> Result<u32> {
    let mut round = 0u32;
    while states.iter().any(PlanState::active) {
        let n = options.rule.replications(round);
        let items = exec::items(states, n);
        let outcomes = run_round(&items)?;
        assert_eq!(outcomes.len(), items.len(), "one outcome per item");
        exec::store(states, &items, outcomes);
        decide(states, options, n, scope);
        round += 1;
    }
    Ok(round)
}

/// The rounds' simulations on `threads` threads; `progress(done, total)` as they finish (the
/// total grows each round).
pub(crate) fn simulate_rounds<'a>(
    arms: &'a [exec::Arms],
    header: &'a report::Header,
    threads: usize,
    progress: &'a mut dyn FnMut(u64, u64),
) -> impl FnMut(&[exec::Item]) -> Result<Vec<Outcome>> + 'a {
    let mut done = 0u64;
    move |items| {
        let total = done + items.len() as u64;
        let (seed_first, job) = (header.seed_first, header.job.as_str());
        let outcomes = exec::run(arms, items, seed_first, job, threads, &mut |d| {
            progress(done + d, total)
        })?;
        done = total;
        Ok(outcomes)
    }
}

/// The plan's healthy scenario and, with a bad fault, its bad one.
fn plan_arms(
    base: &Scenario,
    job: usize,
    plan: &Plan,
    bad: Option<&BehaviourRule>,
) -> Result<exec::Arms> {
    let healthy = grid::apply(base, job, plan)?;
    let bad = bad.map(|rule| {
        let mut s = healthy.clone();
        s.file.behaviour.rules.push(rule.clone());
        s
    });
    if let Some(s) = &bad {
        s.file
            .behaviour
            .validate()
            .map_err(|e| crate::scenario::sim_error("risk.bad", &e))?;
    }
    Ok(exec::Arms {
        label: plan.label(),
        healthy,
        bad,
    })
}

/// After a round of `n` replications: marks the arms that are precise or at the maximum, then
/// (when pruning) the plans that are clearly outside the constraints or dominated.
fn decide(states: &mut [PlanState], options: &PlanOptions, n: u32, scope: Scope) {
    let rule = &options.rule;
    let limit = options.constraints.max_false_stop;
    let estimates: Vec<Estimates<'_>> = states.iter().map(PlanState::estimates).collect();
    let mut verdicts: Vec<(Option<Done>, Option<Done>)> = Vec::with_capacity(states.len());
    for (i, (s, e)) in states.iter().zip(&estimates).enumerate() {
        let mut healthy = s.healthy_done.clone();
        let mut bad = s.bad_done.clone();
        if healthy.is_none()
            && stopping::precise(e.healthy.false_stop_interval, rule.precision, limit)
        {
            healthy = Some(Done::Precise);
        }
        if let (None, Some(b)) = (&bad, &e.bad) {
            if stopping::precise(b.stop_interval, rule.precision, None) {
                bad = Some(Done::Precise);
            }
        }
        let open = healthy.is_none() || (s.has_bad && bad.is_none());
        let pruned = match (open && rule.prune, n < rule.max_replications) {
            (true, true) => prune(i, &estimates, &options.constraints, scope),
            _ => None,
        };
        let at_max = (n >= rule.max_replications).then_some(Done::MaxReplications);
        healthy = healthy
            .or_else(|| pruned.clone())
            .or_else(|| at_max.clone());
        bad = bad.or(pruned).or(at_max);
        verdicts.push((healthy, bad));
    }
    drop(estimates);
    for (s, (healthy, bad)) in states.iter_mut().zip(verdicts) {
        s.healthy_done = healthy;
        s.bad_done = if s.has_bad { bad } else { None };
    }
}

/// Why plan `i` needs no more replications although it is not precise yet, if so.
fn prune(i: usize, estimates: &[Estimates<'_>], c: &Constraints, scope: Scope) -> Option<Done> {
    if let Some(why) = stopping::infeasible(&estimates[i], c) {
        return Some(Done::Infeasible { why });
    }
    if scope == Scope::OwnPlan {
        return None;
    }
    (0..estimates.len())
        .find(|&j| j != i && stopping::dominates(&estimates[j], &estimates[i]))
        .map(|by| Done::Dominated { by })
}
