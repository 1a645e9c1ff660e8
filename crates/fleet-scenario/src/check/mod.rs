//! `fleetsim check`: a scenario as a property over a space of fleets, behaviours and commands.
//! Cases are drawn from the space with the seed, each is simulated and the scenario's
//! expectations are checked on it; a case that fails an expectation is shrunk to the simplest
//! case that still fails it, printed as a complete scenario file (docs/check.md).
//!
//! # Determinism
//!
//! Case `i` depends only on the check's seed and `i` ([`Case::draw`]); cases run in rounds of
//! [`ROUND`] on every core through the crate's indexed parallel map, and results are read in
//! case order, so the report depends only on the scenario, the seed and the number of cases
//! run, never on the thread count. `--time` stops the search at the end of the round during
//! which the time ran out: the number of cases then depends on the machine, and the report
//! says how many ran, so `--cases N` with that number gives the same report anywhere.
//! Shrinking is budgeted in simulations, not in time, and is deterministic.

mod case;
mod report;
mod shrink;
mod space;
mod template;

use std::time::{Duration, Instant};

pub use case::{Case, Pick};
pub use report::{render_text, CheckReport, CounterExample, ExpectationResult, VariableReport};
pub use shrink::FLOAT_TOLERANCE;
pub use space::{Domain, Parent, Path, Seg, Space, Variable};
pub use template::Template;

use crate::error::Result;
use crate::expect::Check;
use crate::run::Budget;

/// Cases run in rounds of this many: a `--time` budget is checked between rounds.
pub const ROUND: u64 = 32;

/// `err`, an error reading `text` as a plain scenario, explained when `text` is a check
/// scenario: its first range, choice or optional part is named, with the command that takes
/// it (`fleetsim run` needs one value per field).
pub(crate) fn explain(err: crate::Error, text: &str, format: crate::Format) -> crate::Error {
    let Ok(doc) = crate::source::parse::<serde_json::Value>(text, format) else {
        return err;
    };
    match Space::of(&doc) {
        Ok(space) if !space.is_empty() => {
            let v = &space.variables[0];
            let e = crate::Error::invalid(
                v.path.to_string(),
                format!(
                    "a range, choice or optional part ({}) is for `fleetsim check`, and this file has {}: run `fleetsim check` on it, or `fleetsim run` on a case it prints",
                    v.domain,
                    space.variables.len()
                ),
            );
            crate::source::position_error(e, text, format)
        }
        _ => err,
    }
}

/// What a property says about one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether it held.
    pub held: bool,
    /// The checks behind it (for an expectation, one per assertion).
    pub checks: Vec<Check>,
}

/// Properties checked on every case: by default the scenario's expectations
/// ([`Expectations`]); a library user may bring their own.
pub trait Property: Sync {
    /// The properties' names, one per verdict that [`Property::evaluate`] returns.
    fn names(&self) -> Vec<String>;
    /// Runs `case` and judges every property on it. An error means the case could not run
    /// (not a valid scenario, a budget ran out).
    fn evaluate(&self, case: &Case) -> Result<Vec<Verdict>>;
}

/// The scenario's own expectations as properties: the case is resolved, simulated with its
/// seed, and each `[[expect]]` entry is one property.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    template: &'a Template,
    budget: Budget,
    expect: Vec<crate::expect::Expectation>,
}

impl<'a> Expectations<'a> {
    /// The expectations of `template`; each simulation runs under `budget`.
    pub fn new(template: &'a Template, budget: Budget) -> Result<Self> {
        let first = template.scenario(&Case::simplest(&template.space, 0, template.seed))?;
        Ok(Self {
            template,
            budget,
            expect: first.file.expect,
        })
    }

    /// Simulates `case` and returns the result with the scenario it ran.
    pub fn simulate(&self, case: &Case) -> Result<(crate::Scenario, fleet_sim::SimResult)> {
        let scenario = self.template.scenario(case)?.with_budget(self.budget);
        let result = crate::run::simulate(&scenario, case.seed, &mut |_| {})?;
        Ok((scenario, result))
    }

    /// The verdicts of the expectations on a simulation's result.
    pub fn judge(&self, result: &fleet_sim::SimResult) -> Vec<Verdict> {
        self.expect
            .iter()
            .map(|e| {
                let checks = crate::run::check_expectation(e, result);
                Verdict {
                    held: checks.iter().all(|c| c.passed),
                    checks,
                }
            })
            .collect()
    }
}

impl Property for Expectations<'_> {
    fn names(&self) -> Vec<String> {
        self.expect
            .iter()
            .map(|e| {
                let parts: Vec<String> = e
                    .describe()
                    .into_iter()
                    .map(|(what, expected)| format!("{what} {expected}"))
                    .collect();
                format!("{}: {}", e.job, parts.join(", "))
            })
            .collect()
    }

    fn evaluate(&self, case: &Case) -> Result<Vec<Verdict>> {
        let (_, result) = self.simulate(case)?;
        Ok(self.judge(&result))
    }
}

/// How to check.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// The seed of the draws (default: the scenario's `seed`).
    pub seed: Option<u64>,
    /// The most cases to draw and run (`--cases`).
    pub cases: u64,
    /// A wall-clock budget for the search (`--time`); `None`: run every case.
    pub time: Option<Duration>,
    /// Worker threads, at least 1.
    pub threads: usize,
    /// The most simulations shrinking one counter-example may run.
    pub shrink_budget: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            seed: None,
            cases: 100,
            time: None,
            threads: 1,
            shrink_budget: 1_000,
        }
    }
}

/// Where a check is: drawing cases, or shrinking the counter-example of an expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Running cases: `done` of at most `total`.
    Search,
    /// Shrinking a counter-example of expectation `usize` (from 0): `done` simulations of a
    /// budget of `total`.
    Shrink(usize),
}

/// What the search saw of one property.
#[derive(Debug, Clone, Default)]
struct Tally {
    failed_cases: u64,
    first: Option<Case>,
}

/// Checks `template`'s expectations over its space: runs the cases, shrinks a counter-example
/// of each expectation that failed, and reports. `progress(phase, done, total)` is called
/// from the calling thread.
pub fn run_check(
    template: &Template,
    options: &CheckOptions,
    budget: Budget,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<CheckReport> {
    let property = Expectations::new(template, budget)?;
    check_with(template, &property, options, progress)
}

/// [`run_check`] with any property over `template`'s space (the scenario itself is run only
/// if `property` runs it).
pub fn check_with(
    template: &Template,
    property: &dyn Property,
    options: &CheckOptions,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<CheckReport> {
    let wall = Instant::now();
    let seed = options.seed.unwrap_or(template.seed);
    let space = &template.space;
    let names = property.names();
    if names.is_empty() {
        return Err(crate::Error::invalid(
            "expect",
            "nothing to check: give the scenario at least one [[expect]] entry",
        ));
    }
    let (tallies, cases_run, stopped_by_time) =
        search(space, property, seed, options, names.len(), progress)?;
    let search_s = wall.elapsed().as_secs_f64();
    let mut counterexamples: Vec<CounterExample> = Vec::new();
    for (k, tally) in tallies.iter().enumerate() {
        let Some(first) = &tally.first else { continue };
        if counterexamples.iter().any(|c| c.also_fails.contains(&k)) {
            continue; // a counter-example shrunk for an earlier expectation fails this one too
        }
        let shrunk = shrink::Shrinker {
            space,
            property,
            target: k,
            threads: options.threads,
            budget: options.shrink_budget,
            progress: &mut |d, t| progress(Phase::Shrink(k), d, t),
            evaluations: 0,
            invalid: 0,
            steps: 0,
            floors: vec![None; space.variables.len()],
        }
        .shrink(first.clone())?;
        let verdicts = property.evaluate(&shrunk.case)?;
        counterexamples.push(report::counterexample(
            template, k, &names, first, &shrunk, &verdicts,
        )?);
    }
    Ok(report::assemble(report::Parts {
        template,
        seed,
        options,
        names,
        tallies: tallies
            .into_iter()
            .map(|t| (t.failed_cases, t.first.map(|c| c.index)))
            .collect(),
        cases_run,
        stopped_by_time,
        counterexamples,
        search_s,
        wall_s: wall.elapsed().as_secs_f64(),
    }))
}

/// Runs cases in rounds until the budget is spent, the time is up, or every property has
/// failed. Returns each property's tally, the cases run and whether time stopped the search.
fn search(
    space: &Space,
    property: &dyn Property,
    seed: u64,
    options: &CheckOptions,
    properties: usize,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<(Vec<Tally>, u64, bool)> {
    let started = Instant::now();
    let mut tallies = vec![Tally::default(); properties];
    let mut done = 0u64;
    progress(Phase::Search, 0, options.cases);
    while done < options.cases {
        // At least one round runs, whatever the time.
        if done > 0 && options.time.is_some_and(|t| started.elapsed() >= t) {
            return Ok((tallies, done, true));
        }
        let n = ROUND.min(options.cases - done);
        let cases: Vec<Case> = (done..done + n)
            .map(|i| Case::draw(space, seed, i))
            .collect();
        let verdicts = crate::parallel::map_indexed(
            n as usize,
            options.threads,
            &|i| {
                property.evaluate(&cases[i]).map_err(|e| {
                    e.map_message(|m| {
                        format!("{m} (case {} of the check, seed {seed}: the space holds a case that is not a valid scenario)", cases[i].index)
                    })
                })
            },
            &mut |d| progress(Phase::Search, done + d, options.cases),
        )?;
        for (case, verdict) in cases.into_iter().zip(verdicts) {
            for (k, v) in verdict.iter().enumerate().take(properties) {
                if !v.held {
                    tallies[k].failed_cases += 1;
                    tallies[k].first.get_or_insert_with(|| case.clone());
                }
            }
        }
        done += n;
        if tallies.iter().all(|t| t.first.is_some()) {
            break;
        }
    }
    Ok((tallies, done, false))
}
