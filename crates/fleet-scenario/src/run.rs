//! Running a scenario: simulate it, then check its expectations.

use std::time::Instant;

use fleet_sim::{SimBuilder, SimResult};

use crate::error::Result;
use crate::expect::{Check, Expectation, JobFacts};
use crate::report::Report;
use crate::scenario::{sim_error, Scenario};

/// How to run a scenario. The defaults are the scenario's own values.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
}

/// How often (in simulation events) the progress callback is called.
const PROGRESS_EVERY_EVENTS: u64 = 1 << 16;

/// Simulates `scenario` and checks its expectations. `progress(done, total)` is called now and
/// then with the target devices in a terminal state so far and the targets of the jobs started.
///
/// The result depends only on the scenario and the seed; only the report's wall time varies.
pub fn run(
    scenario: &Scenario,
    options: RunOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report> {
    let seed = options.seed.unwrap_or(scenario.file.seed);
    let wall = Instant::now();
    let result = simulate(scenario, seed, progress)?;
    let wall_s = wall.elapsed().as_secs_f64();
    let checks = check_all(scenario, &result);
    let devices = scenario.file.fleet.devices;
    Ok(Report::new(scenario, seed, devices, wall_s, result, checks))
}

/// One simulation of `scenario` with `seed`.
pub(crate) fn simulate(
    scenario: &Scenario,
    seed: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SimResult> {
    let mut builder = SimBuilder::new(seed)
        .clock_start_ms(scenario.clock_start_ms)
        .templates(scenario.file.templates.clone())
        .fleet(scenario.file.fleet.clone())
        .behaviour(scenario.file.behaviour.clone());
    if let Some(hub) = &scenario.file.hub {
        builder = builder.hub(hub.clone());
    }
    for job in &scenario.jobs {
        builder = builder.job(job.clone());
    }
    for scheduled in &scenario.scheduled {
        builder = builder.scheduled(scheduled.clone());
    }
    for (at_ms, job, command) in &scenario.commands {
        builder = builder.command(*at_ms, job.clone(), *command);
    }
    for rerun in &scenario.reruns {
        builder = builder.rerun(rerun.job.clone(), rerun.id.clone(), rerun.at_ms);
    }
    let sim = builder.build().map_err(|e| sim_error("", &e))?;
    Ok(sim.run_with_progress(PROGRESS_EVERY_EVENTS, &mut |p| {
        progress(p.devices_terminal, p.devices_total)
    }))
}

/// The facts that expectations check, for job `id` of `result`.
pub(crate) fn job_facts<'a>(result: &'a SimResult, id: &str) -> Option<JobFacts<'a>> {
    let job = result.job(id)?;
    Some(JobFacts {
        id: &job.id,
        status: job.status,
        counts: job.counts,
        duration_ms: job.duration_ms,
        trip_batch: job.threshold_trip.map(|t| t.batch),
        abort_tripped: job.abort_trip.is_some(),
        paused: !job.pauses.is_empty(),
        window_waits: job.window_waits,
    })
}

/// Checks expectation `e` against `result`: a job or a run by its facts, a scheduled job by
/// its occurrences and each of its runs. A run that never came (a scheduled job's, or a rerun
/// that was refused or whose job never settled) fails every assertion with `no such run`.
pub(crate) fn check_expectation(e: &Expectation, result: &SimResult) -> Vec<Check> {
    if let Some(schedule) = result.schedules.iter().find(|s| s.id == e.job) {
        let runs: Vec<JobFacts<'_>> = schedule
            .runs()
            .filter_map(|id| job_facts(result, id))
            .collect();
        let created = schedule.runs().count();
        return e.check_schedule(&schedule.id, created, schedule.skipped(), &runs);
    }
    match job_facts(result, &e.job) {
        Some(facts) => e.check(&facts),
        None => e
            .describe()
            .into_iter()
            .map(|(what, expected)| Check {
                job: e.job.clone(),
                what,
                expected,
                actual: "no such run".to_string(),
                passed: false,
            })
            .collect(),
    }
}

/// Checks every expectation, in file order.
fn check_all(scenario: &Scenario, result: &SimResult) -> Vec<Check> {
    scenario
        .file
        .expect
        .iter()
        .flat_map(|e| check_expectation(e, result))
        .collect()
}
