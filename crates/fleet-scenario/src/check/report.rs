//! The report of `fleetsim check`: the cases run, which expectations held in every case, and
//! a shrunk counter-example of each one that failed, as text or JSON (docs/check.md).

use serde::Serialize;

use super::case::Case;
use super::shrink::Shrunk;
use super::{CheckOptions, Template, Verdict, ROUND};
use crate::error::Result;
use crate::expect::Check;
use crate::source::Format;

/// The whole report. Only `wall_s`, `search_s`, `cases_per_s` and `threads` depend on the
/// machine; everything else depends on the scenario, the seed and `cases_run`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The scenario's name.
    pub name: String,
    /// The seed of the draws.
    pub seed: u64,
    /// The cases asked for (`--cases`).
    pub cases_budget: u64,
    /// The cases run.
    pub cases_run: u64,
    /// Whether `--time` ran out before `cases_budget` cases ran.
    pub stopped_by_time: bool,
    /// Whether the search stopped early because every expectation had already failed.
    pub stopped_all_failed: bool,
    /// The variables of the space.
    pub variables: Vec<VariableReport>,
    /// Each expectation, in file order.
    pub expectations: Vec<ExpectationResult>,
    /// A shrunk counter-example of each expectation that failed.
    pub counterexamples: Vec<CounterExample>,
    /// Worker threads.
    pub threads: usize,
    /// Wall-clock seconds of the search.
    pub search_s: f64,
    /// Cases per wall-clock second during the search.
    pub cases_per_s: f64,
    /// Wall-clock seconds in all, shrinking included.
    pub wall_s: f64,
}

/// One variable of the space.
#[derive(Debug, Clone, Serialize)]
pub struct VariableReport {
    /// The field, `behaviour.rules[0].failure_probability`.
    pub field: String,
    /// What it ranges over, `0 to 0.05`.
    pub domain: String,
}

/// What the cases said of one expectation.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationResult {
    /// Its position among the `[[expect]]` entries, from 0.
    pub index: usize,
    /// What it asserts, `rollout: status complete, failed_percent at most 5`.
    pub name: String,
    /// Whether it held in every case run.
    pub held: bool,
    /// The cases in which it failed.
    pub failed_cases: u64,
    /// The first case (by index) in which it failed.
    pub first_failing_case: Option<u64>,
}

/// A shrunk counter-example: the simplest failing case found, as a scenario file.
#[derive(Debug, Clone, Serialize)]
pub struct CounterExample {
    /// The expectation it was shrunk for (index into `expectations`).
    pub expectation: usize,
    /// The other expectations the shrunk case fails (they get no counter-example of their
    /// own when their first failing case was shrunk here).
    pub also_fails: Vec<usize>,
    /// The case the search found (its index).
    pub found_case: u64,
    /// The seed of its simulation (kept while shrinking; the scenario's `seed`).
    pub seed: u64,
    /// The found case's values of the variables that mattered in it.
    pub found: Vec<(String, String)>,
    /// The shrunk case's values.
    pub shrunk: Vec<(String, String)>,
    /// Simplifications that kept the failure.
    pub shrink_steps: u64,
    /// Simulations run while shrinking.
    pub shrink_simulations: u64,
    /// Candidates that were not valid scenarios (not taken).
    pub invalid_candidates: u64,
    /// The failing checks of the shrunk case.
    pub checks: Vec<Check>,
    /// The shrunk case as a complete scenario file: `fleetsim run` on it fails the same way.
    pub scenario: String,
}

/// Builds a counter-example's record.
pub(crate) fn counterexample(
    template: &Template,
    k: usize,
    names: &[String],
    found: &Case,
    shrunk: &Shrunk,
    verdicts: &[Verdict],
) -> Result<CounterExample> {
    let name = &names[k];
    let body = template.render(&shrunk.case)?;
    let source = template
        .path
        .as_ref()
        .map_or("the scenario".to_string(), |p| p.display().to_string());
    let header = [
        format!("counter-example found by `fleetsim check {source}`: case {} of seed {}, shrunk in {} steps", found.index, template.seed, shrunk.steps),
        format!("it fails expectation {}: {name}", k + 1),
    ];
    let also_fails: Vec<usize> = (0..verdicts.len())
        .filter(|&j| j != k && !verdicts[j].held)
        .collect();
    let also = also_fails
        .iter()
        .map(|&j| format!("and expectation {}: {}", j + 1, names[j]));
    let header: Vec<String> = header
        .into_iter()
        .chain(also)
        .chain([
            "`fleetsim run` on this file fails the same way (its seed is the case's)".to_string(),
        ])
        .collect();
    let scenario = match template.format() {
        Format::Toml => {
            let mut s: String = header.iter().map(|l| format!("# {l}\n")).collect();
            s.push_str(&body);
            s
        }
        Format::Json => body,
    };
    Ok(CounterExample {
        expectation: k,
        found_case: found.index,
        seed: shrunk.case.seed,
        found: found.describe(&template.space),
        shrunk: shrunk.case.describe(&template.space),
        shrink_steps: shrunk.steps,
        shrink_simulations: shrunk.evaluations,
        invalid_candidates: shrunk.invalid,
        checks: verdicts
            .iter()
            .flat_map(|v| v.checks.iter().filter(|c| !c.passed).cloned())
            .collect(),
        also_fails,
        scenario,
    })
}

/// What [`assemble`] needs.
pub(crate) struct Parts<'a> {
    pub template: &'a Template,
    pub seed: u64,
    pub options: &'a CheckOptions,
    pub names: Vec<String>,
    /// Per property: failed cases and the first failing case's index.
    pub tallies: Vec<(u64, Option<u64>)>,
    pub cases_run: u64,
    pub stopped_by_time: bool,
    pub counterexamples: Vec<CounterExample>,
    pub search_s: f64,
    pub wall_s: f64,
}

pub(crate) fn assemble(p: Parts<'_>) -> CheckReport {
    let name = p
        .template
        .path
        .as_ref()
        .and_then(|f| f.file_stem())
        .map_or("scenario".to_string(), |s| s.to_string_lossy().into_owned());
    let variables = p
        .template
        .space
        .variables
        .iter()
        .map(|v| VariableReport {
            field: v.path.to_string(),
            domain: v.domain.to_string(),
        })
        .collect();
    let expectations: Vec<ExpectationResult> = p
        .names
        .into_iter()
        .zip(&p.tallies)
        .enumerate()
        .map(
            |(index, (name, &(failed_cases, first)))| ExpectationResult {
                index,
                name,
                held: failed_cases == 0,
                failed_cases,
                first_failing_case: first,
            },
        )
        .collect();
    let all_failed = expectations.iter().all(|e| !e.held);
    CheckReport {
        name,
        seed: p.seed,
        cases_budget: p.options.cases,
        cases_run: p.cases_run,
        stopped_by_time: p.stopped_by_time,
        stopped_all_failed: all_failed && p.cases_run < p.options.cases && !p.stopped_by_time,
        variables,
        expectations,
        counterexamples: p.counterexamples,
        threads: p.options.threads,
        search_s: p.search_s,
        cases_per_s: p.cases_run as f64 / p.search_s.max(1e-9),
        wall_s: p.wall_s,
    }
}

/// The report for a terminal.
pub fn render_text(r: &CheckReport) -> String {
    let mut out = String::new();
    let stop = match (r.stopped_by_time, r.stopped_all_failed) {
        (true, _) => format!(
            " (--time ran out; `--cases {}` repeats this check exactly)",
            r.cases_run
        ),
        (_, true) => format!(
            " (of {}: every expectation had failed; rounds of {ROUND})",
            r.cases_budget
        ),
        _ => String::new(),
    };
    out.push_str(&format!(
        "check {}: seed {}, {} cases run{stop}, {:.1} s ({:.1} cases/s on {} threads)\n",
        r.name, r.seed, r.cases_run, r.search_s, r.cases_per_s, r.threads
    ));
    out.push_str(&format!("space: {} variables\n", r.variables.len()));
    let width = r.variables.iter().map(|v| v.field.len()).max().unwrap_or(0);
    for v in &r.variables {
        out.push_str(&format!("  {:width$}  {}\n", v.field, v.domain));
    }
    out.push_str("expectations:\n");
    for e in &r.expectations {
        match e.first_failing_case {
            None => out.push_str(&format!(
                "  held    {} (all {} cases)\n",
                e.name, r.cases_run
            )),
            Some(first) => out.push_str(&format!(
                "  FAILED  {} (in {} of {} cases, first in case {first})\n",
                e.name, e.failed_cases, r.cases_run
            )),
        }
    }
    for c in &r.counterexamples {
        out.push_str(&counterexample_text(r, c));
    }
    out
}

fn counterexample_text(r: &CheckReport, c: &CounterExample) -> String {
    let also: String = c
        .also_fails
        .iter()
        .map(|j| {
            format!(
                ", and to expectation {} ({})",
                j + 1,
                r.expectations[*j].name
            )
        })
        .collect();
    let mut out = format!(
        "\ncounter-example to expectation {} ({}){also}: case {} shrunk in {} steps ({} simulations{})\n",
        c.expectation + 1,
        r.expectations[c.expectation].name,
        c.found_case,
        c.shrink_steps,
        c.shrink_simulations,
        match c.invalid_candidates {
            0 => String::new(),
            n => format!(", {n} candidates not valid scenarios"),
        }
    );
    let width = c.shrunk.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
    for (field, value) in &c.shrunk {
        let was = c
            .found
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
            .filter(|v| *v != value.as_str());
        match was {
            Some(w) => out.push_str(&format!("  {field:width$} = {value}   (found: {w})\n")),
            None => out.push_str(&format!("  {field:width$} = {value}\n")),
        }
    }
    out.push_str(&format!("  seed = {}\n", c.seed));
    for check in &c.checks {
        out.push_str(&format!(
            "  fails: {} {}: expected {}, got {}\n",
            check.job, check.what, check.expected, check.actual
        ));
    }
    out.push_str("--- the shrunk case as a scenario file (save it as a regression test):\n");
    out.push_str(&c.scenario);
    if !c.scenario.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("---\n");
    out
}
