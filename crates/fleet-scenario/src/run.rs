//! Running a scenario: simulate it, then check its expectations.

use std::time::Instant;

use fleet_sim::SimBuilder;

use crate::error::Result;
use crate::expect::{parse_status, Check, JobFacts};
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
    let devices = scenario.file.fleet.devices;
    let mut builder = SimBuilder::new(seed)
        .templates(scenario.file.templates.clone())
        .fleet(scenario.file.fleet.clone())
        .behaviour(scenario.file.behaviour.clone());
    if let Some(hub) = &scenario.file.hub {
        builder = builder.hub(hub.clone());
    }
    for job in &scenario.jobs {
        builder = builder.job(job.clone());
    }
    let sim = builder.build().map_err(|e| sim_error("", &e))?;
    let result = sim.run_with_progress(PROGRESS_EVERY_EVENTS, &mut |p| {
        progress(p.devices_terminal, p.devices_total)
    });
    let wall_s = wall.elapsed().as_secs_f64();
    let checks = check_all(scenario, &result);
    Ok(Report::new(scenario, seed, devices, wall_s, result, checks))
}

/// Checks every expectation, in file order.
fn check_all(scenario: &Scenario, result: &fleet_sim::SimResult) -> Vec<Check> {
    let mut checks = Vec::new();
    for expectation in &scenario.file.expect {
        let Some(job) = result.job(&expectation.job) else {
            continue; // validated at load: every expectation names a job
        };
        let counts = fleet_core::Counts {
            total: job.counts.total,
            pending: job.counts.pending,
            in_flight: job.counts.in_flight,
            succeeded: job.counts.succeeded,
            failed: job.counts.failed,
            cancelled: job.counts.cancelled,
        };
        let facts = JobFacts {
            id: &job.id,
            status: parse_status(job.status).unwrap_or(fleet_core::RunStatus::Pending),
            counts,
            duration_ms: job.duration_ms,
            trip_batch: job.threshold_trip.map(|t| t.batch),
        };
        checks.extend(expectation.check(&facts));
    }
    checks
}
