//! Running a scenario: simulate it, then check its expectations.

use std::time::{Duration, Instant};

use fleet_sim::{SimBuilder, SimResult, Simulation};

use crate::error::{Error, Result};
use crate::expect::{Check, Expectation, JobFacts};
use crate::report::Report;
use crate::scenario::{sim_error, Scenario};

/// How to run a scenario. The defaults are the scenario's own values.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
}

/// The budgets of a simulation (each replication has its own): it stops with an error when one
/// runs out before it ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// The most events one simulation processes (default [`fleet_sim::DEFAULT_MAX_EVENTS`]).
    pub max_events: u64,
    /// The most wall-clock time one simulation takes (default: none).
    pub max_wall: Option<Duration>,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_events: fleet_sim::DEFAULT_MAX_EVENTS,
            max_wall: None,
        }
    }
}

impl Scenario {
    /// Every check a run makes before it simulates, without simulating: the fleet is
    /// generated and the simulation built (templates the fleet names, targets, commands,
    /// schedules), through the same code as [`run`]. Errors name the file, line and field.
    pub fn check(&self, seed: Option<u64>) -> Result<()> {
        self.simulation(seed.unwrap_or(self.file.seed)).map(drop)
    }

    /// The simulation of this scenario with `seed`, built, not run.
    pub(crate) fn simulation(&self, seed: u64) -> Result<Simulation> {
        let mut builder = SimBuilder::new(seed).clock_start_ms(self.clock_start_ms);
        builder = match &self.imported {
            Some(imported) => builder.with_fleet(fleet_sim::Fleet::clone(&imported.fleet)),
            None => builder
                .templates(self.file.templates.clone())
                .fleet(self.file.fleet.clone()),
        };
        let mut builder = builder
            .behaviour(self.file.behaviour.clone())
            .max_events(self.budget.max_events);
        if let Some(wall) = self.budget.max_wall {
            builder = builder.max_wall(wall);
        }
        if let Some(hub) = &self.file.hub {
            builder = builder.hub(hub.clone());
        }
        for job in &self.jobs {
            builder = builder.job(job.clone());
        }
        for scheduled in &self.scheduled {
            builder = builder.scheduled(scheduled.clone());
        }
        for (at_ms, job, command) in &self.commands {
            builder = builder.command(*at_ms, job.clone(), *command);
        }
        for rerun in &self.reruns {
            builder = builder.rerun(rerun.job.clone(), rerun.id.clone(), rerun.at_ms);
        }
        builder.build().map_err(|e| self.locate(sim_error("", &e)))
    }
}

impl Scenario {
    /// An estimate of the memory one simulation of this scenario needs, in bytes: per device,
    /// 24 bytes (the fleet's id key, template and flags, the event queue) plus 4 per tag and
    /// reported-property column and 8 per job (its targets, state and reason), plus 16 MiB.
    /// Close to the measured peak (28 to 36 bytes per device for `examples/rollout.toml`).
    /// An imported fleet adds its own size ([`fleet_sim::Fleet::heap_bytes`]: its ids and
    /// columns), as each simulation starts from a copy of it.
    pub fn memory_needed(&self) -> u64 {
        let fleet = &self.file.fleet;
        let columns = (fleet.tags.len() + fleet.reported.len()) as u64;
        let jobs = (self.jobs.len() + self.scheduled.len() + self.reruns.len()) as u64;
        let per_device = 24 + 4 * columns + 8 * jobs;
        let imported = self
            .imported
            .as_ref()
            .map_or(0, |i| i.fleet.heap_bytes() as u64);
        u64::from(fleet.devices)
            .saturating_mul(per_device)
            .saturating_add(imported)
            .saturating_add(16 << 20)
    }

    /// Refuses, before anything is allocated, a run of `copies` simulations at once (the
    /// threads of replications) that would need more memory than `limit` (`--memory-limit`) or
    /// than the machine has available (`MemAvailable` of `/proc/meminfo`; not checked where it
    /// cannot be read).
    pub fn check_memory(&self, limit: Option<u64>, copies: u32) -> Result<()> {
        let needed = self
            .memory_needed()
            .saturating_mul(u64::from(copies.max(1)));
        let (cap, what) = match (limit, available_memory()) {
            (Some(l), Some(a)) if a < l => (a, "the memory available on this machine"),
            (Some(l), _) => (l, "--memory-limit"),
            (None, Some(a)) => (a, "the memory available on this machine"),
            (None, None) => return Ok(()),
        };
        if needed <= cap {
            return Ok(());
        }
        let (at_once, fewer_threads) = match copies {
            0 | 1 => (String::new(), ""),
            n => (
                format!(" ({n} simulations at once, one per thread)"),
                ", fewer threads (--threads)",
            ),
        };
        let raise = match what {
            "--memory-limit" => " or raise --memory-limit",
            _ => "",
        };
        Err(self.locate(
            Error::new(crate::ErrorKind::Limit(format!(
                "{} devices need about {}{at_once}, more than {what} ({}): run fewer devices \
                 (--devices){fewer_threads}{raise}",
                self.file.fleet.devices,
                human_bytes(needed),
                human_bytes(cap),
            )))
            .with_field("fleet.devices"),
        ))
    }
}

/// The memory this process may still take, in bytes, where it can be read: `MemAvailable` of
/// `/proc/meminfo`, or less where the process's cgroup (v2) has a `memory.max` limit.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    let available = kb.saturating_mul(1024);
    let read = |f: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{f}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    // `memory.max` is `max` (no limit) or a number of bytes.
    let cgroup =
        read("memory.max").map(|max| max.saturating_sub(read("memory.current").unwrap_or(0)));
    Some(cgroup.map_or(available, |c| c.min(available)))
}

/// Bytes for people: `1.5 GiB`, `300.0 MiB`.
fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{b} bytes"),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
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
    run_observed(scenario, options, &mut |p| {
        progress(p.devices_terminal, p.devices_total)
    })
}

/// [`run`], with the simulation's whole progress (events, virtual time, jobs and devices
/// settled) given to `progress` now and then.
pub fn run_observed(
    scenario: &Scenario,
    options: RunOptions,
    progress: &mut dyn FnMut(&fleet_sim::Progress),
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
    progress: &mut dyn FnMut(&fleet_sim::Progress),
) -> Result<SimResult> {
    let sim = scenario.simulation(seed)?;
    sim.try_run_with_progress(PROGRESS_EVERY_EVENTS, progress)
        .map_err(|e| scenario.locate(Error::new(crate::ErrorKind::Limit(e.to_string()))))
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
