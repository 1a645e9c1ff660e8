//! The report of a sweep ([`PlanReport`]): per plan, the answers to both questions with their
//! intervals, why it got no more replications, whether it is in the Pareto set; the
//! recommendation; and its text form ([`render`]).

use std::fmt::Write;

use fleet_sim::BehaviourRule;
use serde::{Deserialize, Serialize};

use crate::plan::outcome::{BadSummary, HealthySummary};
use crate::plan::pareto::{measures, pareto_set, recommend};
use crate::plan::stopping::{feasible, Constraints, Done, Estimates, Objective, StoppingRule};
use crate::plan::{PlanOptions, PlanState, Setting};
use crate::scenario::Scenario;

/// What the sweep does not vary yet, for the report and the docs.
pub const NOT_SWEPT: [&str; 4] = [
    "phased batch sizes for IoT Central (one batch size per job) and AWS (its exponential \
     ramp is the phased plan); hawkBit's are swept (`groups = [\"1%/10%/rest\"]`)",
    "AWS ramp on notified things (rateIncreaseCriteria.numberOfNotifiedThings) and \
     minNumberOfExecutedThings",
    "hawkBit success action (NEXTGROUP or PAUSE) and IoT Hub tiers (units only)",
    "retries, device timeouts and IoT Hub maxExecutionTimeInSeconds",
];

/// One plan's answers.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    /// Index of the plan in the grid.
    pub index: usize,
    /// The plan for people.
    pub label: String,
    /// Its settings.
    pub settings: Vec<Setting>,
    /// The healthy rollout.
    pub healthy: HealthySummary,
    /// Why the healthy rollout got no more replications.
    pub healthy_done: Option<Done>,
    /// The bad rollout, if one was stated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad: Option<BadSummary>,
    /// Why the bad rollout got no more replications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_done: Option<Done>,
    /// Whether it meets every constraint.
    pub feasible: bool,
    /// Whether it is in the Pareto set.
    pub pareto: bool,
}

/// The report of `fleetsim plan` (`--format json`; `docs/risk.md`, "The report").
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// Schema version of the report (see `docs/report-format.md`).
    pub schema_version: u32,
    /// `"plan"`.
    pub mode: &'static str,
    /// The version of fleetsim that made the report.
    pub fleetsim_version: &'static str,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, if it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The job the questions are about.
    pub job: String,
    /// Its dialect.
    pub dialect: String,
    /// Devices in the fleet.
    pub devices: u32,
    /// The seed of replication 0 of every plan; replication `i` ran `seed_first + i`.
    pub seed_first: u64,
    /// The bad rollout's fault, if one was stated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_fault: Option<BehaviourRule>,
    /// The stopping rule.
    pub rule: StoppingRule,
    /// The constraints of the recommendation.
    pub constraints: Constraints,
    /// Rounds run.
    pub rounds: u32,
    /// Simulations run (each replication of each rollout of each plan).
    pub simulations: u64,
    /// Simulations of the naive sweep: every plan's rollouts at the most replications.
    pub naive_simulations: u64,
    /// Wall-clock seconds (varies).
    pub wall_s: f64,
    /// Per plan, in grid order.
    pub plans: Vec<PlanSummary>,
    /// The indices of the Pareto set over (duration p90, false-stop probability, blast
    /// radius p90).
    pub pareto: Vec<usize>,
    /// The recommended plan, if one meets every constraint.
    pub recommended: Option<usize>,
    /// What the sweep does not vary yet.
    pub not_swept: Vec<&'static str>,
}

/// What the report says about the scenario and the job: all a merge needs of the scenario
/// (a partial result file carries it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, if it came from one.
    pub file: Option<String>,
    /// The job the questions are about.
    pub job: String,
    /// Its dialect.
    pub dialect: String,
    /// Devices in the fleet.
    pub devices: u32,
    /// The seed of replication 0 of every plan.
    pub seed_first: u64,
}

impl Header {
    /// The header of a sweep of job `job` of `scenario` from `seed_first`.
    pub(crate) fn of(scenario: &Scenario, job: usize, seed_first: u64) -> Self {
        Self {
            scenario: scenario.name(),
            file: scenario.path.as_ref().map(|p| p.display().to_string()),
            job: scenario.jobs[job].id.clone(),
            dialect: scenario.dialects[job].to_string(),
            devices: scenario.file.fleet.devices,
            seed_first,
        }
    }
}

/// The report of a finished sweep.
pub(crate) fn build(
    header: &Header,
    options: &PlanOptions,
    states: &[PlanState],
    rounds: u32,
    wall_s: f64,
) -> PlanReport {
    let estimates: Vec<Estimates<'_>> = states.iter().map(PlanState::estimates).collect();
    let m: Vec<[f64; 3]> = estimates.iter().map(measures).collect();
    let pareto = pareto_set(&m);
    let recommended = recommend(&estimates, &options.constraints);
    let rollouts = if options.bad.is_some() { 2 } else { 1 };
    let plans = states
        .iter()
        .zip(estimates)
        .enumerate()
        .map(|(index, (s, e))| PlanSummary {
            index,
            label: s.plan.label(),
            settings: s.plan.settings.clone(),
            feasible: feasible(&e, &options.constraints),
            healthy: e.healthy,
            healthy_done: s.healthy_done.clone(),
            bad: e.bad,
            bad_done: s.bad_done.clone(),
            pareto: pareto.contains(&index),
        })
        .collect();
    PlanReport {
        schema_version: crate::report::SCHEMA_VERSION,
        mode: "plan",
        fleetsim_version: env!("CARGO_PKG_VERSION"),
        scenario: header.scenario.clone(),
        file: header.file.clone(),
        job: header.job.clone(),
        dialect: header.dialect.clone(),
        devices: header.devices,
        seed_first: header.seed_first,
        bad_fault: options.bad.clone(),
        rule: options.rule,
        constraints: options.constraints,
        rounds,
        simulations: states
            .iter()
            .map(|s| (s.healthy.len() + s.bad.len()) as u64)
            .sum(),
        naive_simulations: states.len() as u64
            * rollouts
            * u64::from(options.rule.max_replications),
        wall_s,
        plans,
        pareto,
        recommended,
        not_swept: NOT_SWEPT.to_vec(),
    }
}

/// A probability with its interval: `1.20% [0.70, 2.05]`.
pub(crate) fn percent(p: f64, low: f64, high: f64) -> String {
    format!(
        "{:.2}% [{:.2}, {:.2}]",
        100.0 * p,
        100.0 * low,
        100.0 * high
    )
}

/// Why a rollout got no more replications, for people.
pub(crate) fn done_text(d: Option<&Done>) -> String {
    match d {
        None => "-".into(),
        Some(Done::Precise) => "precise".into(),
        Some(Done::MaxReplications) => "at max".into(),
        Some(Done::Dominated { by }) => format!("dominated by #{by}"),
        Some(Done::Infeasible { why }) => format!("infeasible: {why}"),
    }
}

/// Stops by batch: `1: 12, 2: 3`.
fn batches_text(b: &std::collections::BTreeMap<u32, u32>) -> String {
    let parts: Vec<String> = b.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    match parts.is_empty() {
        true => "-".into(),
        false => parts.join(", "),
    }
}

/// The report for a terminal.
pub fn render(r: &PlanReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: job {} ({}), {} devices, {} plan(s), seeds {}..",
        r.scenario,
        r.job,
        r.dialect,
        r.devices,
        r.plans.len(),
        r.seed_first
    );
    let _ = writeln!(
        out,
        "{} simulations in {} round(s) ({:.1} s wall); the naive grid x {} replications: {}",
        r.simulations, r.rounds, r.wall_s, r.rule.max_replications, r.naive_simulations
    );
    match &r.bad_fault {
        Some(rule) => {
            let fault = serde_json::to_string(rule).unwrap_or_default();
            let _ = writeln!(out, "bad rollout: {fault}");
        }
        None => out.push_str("bad rollout: none stated (--bad or [risk] bad): no blast radius\n"),
    }
    for p in &r.plans {
        render_plan(&mut out, r, p);
    }
    render_choice(&mut out, r);
    out
}

fn render_plan(out: &mut String, r: &PlanReport, p: &PlanSummary) {
    let h = &p.healthy;
    let mark = match (r.recommended == Some(p.index), p.pareto) {
        (true, _) => " <- recommended",
        (false, true) => " (Pareto)",
        _ => "",
    };
    let _ = writeln!(out, "\n#{} {}{mark}", p.index, p.label);
    let i = h.false_stop_interval;
    let _ = writeln!(
        out,
        "  healthy x{}: P(false stop) {}; false stops by batch: {}; {}",
        h.replications,
        percent(h.false_stop_probability, i.low, i.high),
        batches_text(&h.false_stop_batches),
        done_text(p.healthy_done.as_ref()),
    );
    match h.duration_s {
        Some(d) => {
            let _ = writeln!(
                out,
                "  duration (not stopped): p50 {} p90 {} p99 {}",
                crate::report::duration((d.p50 * 1000.0) as i64),
                crate::report::duration((d.p90 * 1000.0) as i64),
                crate::report::duration((d.p99 * 1000.0) as i64),
            );
        }
        None => out.push_str("  duration: no healthy run finished unstopped\n"),
    }
    if let Some(b) = &p.bad {
        let i = b.stop_interval;
        let _ = writeln!(
            out,
            "  bad x{}: P(stopped) {}; stops by batch: {}; {}",
            b.replications,
            percent(b.stop_probability, i.low, i.high),
            batches_text(&b.stop_batches),
            done_text(p.bad_done.as_ref()),
        );
        let (rc, f) = (b.received, b.failed);
        let _ = writeln!(
            out,
            "  blast radius: received p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}; failed p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}",
            rc.p50, rc.p90, rc.p99, rc.max, f.p50, f.p90, f.p99, f.max
        );
    }
}

fn render_choice(out: &mut String, r: &PlanReport) {
    let labels: Vec<String> = r
        .pareto
        .iter()
        .map(|&i| format!("#{i} {}", r.plans[i].label))
        .collect();
    let _ = writeln!(
        out,
        "\nPareto set (duration p90, P(false stop), blast radius p90): {}",
        labels.join("; ")
    );
    let c = &r.constraints;
    let mut stated = Vec::new();
    if let Some(p) = c.max_false_stop {
        stated.push(format!(
            "P(false stop) <= {:.2}% (95% upper bound)",
            100.0 * p
        ));
    }
    if let Some(b) = c.max_blast {
        stated.push(format!("blast radius p90 <= {b}"));
    }
    if let Some(d) = c.deadline_ms {
        stated.push(format!("duration p90 <= {}", crate::report::duration(d)));
    }
    let constraints = match stated.is_empty() {
        true => "no constraints".to_string(),
        false => stated.join(", "),
    };
    let objective = match c.optimise {
        Objective::Blast => "blast radius",
        Objective::FalseStop => "false-stop probability",
        Objective::Duration => "duration",
    };
    match r.recommended {
        Some(i) => {
            let _ = writeln!(
                out,
                "Recommended ({constraints}; the smallest {objective}): #{i} {}",
                r.plans[i].label
            );
        }
        None => {
            let _ = writeln!(out, "No plan meets {constraints}.");
        }
    }
}
