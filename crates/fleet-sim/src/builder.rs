//! [`SimBuilder`]: assembles a [`Simulation`] from its specs.

use crate::behaviour::{Behaviour, BehaviourSpec};
use crate::error::{check_instant, Error, ErrorKind, Result};
use crate::fleet::Fleet;
use crate::generator::FleetSpec;
use crate::hub::HubSpec;
use crate::job::{JobCommand, JobSpec, RerunSpec};
use crate::schedule::ScheduledJobSpec;
use crate::selector::TargetSpec;
use crate::sim::{Parts, Simulation, MAX_JOBS};
use crate::template::TemplateSpec;

/// Builds a [`Simulation`].
///
/// Defaults, each changed by the method of the same name:
///
/// | setting | default |
/// |---|---|
/// | `seed` | the one given to [`SimBuilder::new`] |
/// | `templates` | none |
/// | `fleet` / `with_fleet` | none: a fleet is required |
/// | `behaviour` | no rules: every device online, latency fixed 1000 ms, no faults (see [`BehaviourSpec`]) |
/// | `hub` | none: no throttles, no limit on concurrent jobs |
/// | `job` | none (a simulation without jobs processes no event) |
/// | `scheduled` | none |
/// | `clock_start_ms` | 0: virtual time 0 is 1970-01-01T00:00:00Z |
/// | `command` | none |
/// | `until_ms` | none: run until no event is left |
/// | `series_samples` | 500 samples per job's time series |
/// | `record_events` | false |
/// | `max_events` | none (`u64::MAX`); `fleetsim run` gives [`crate::DEFAULT_MAX_EVENTS`] |
/// | `max_wall` | none |
///
/// ```
/// use fleet_sim::{FleetSpec, JobSpec, Operation, SimBuilder, TemplateSpec, PropertySpec, Schema};
///
/// let template = TemplateSpec {
///     id: "dtmi:t;1".into(),
///     properties: vec![PropertySpec { name: "p".into(), schema: Schema::Integer }],
///     ..Default::default()
/// };
/// let fleet = FleetSpec { devices: 10, templates: vec![fleet_sim::TemplateShare { template: "dtmi:t;1".into(), share: Some(1.0), count: None }], ..Default::default() };
/// let result = SimBuilder::new(7)
///     .templates(vec![template])
///     .fleet(fleet)
///     .job(JobSpec::new("j", Operation::Property { name: "p".into(), value: 3.into() }))
///     .build()?
///     .run();
/// assert_eq!(result.jobs[0].counts.succeeded, 10);
/// # Ok::<(), fleet_sim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SimBuilder {
    pub(crate) seed: u64,
    pub(crate) templates: Vec<TemplateSpec>,
    pub(crate) fleet_spec: Option<FleetSpec>,
    pub(crate) fleet: Option<Fleet>,
    pub(crate) behaviour: BehaviourSpec,
    pub(crate) hub: Option<HubSpec>,
    pub(crate) jobs: Vec<JobSpec>,
    pub(crate) scheduled: Vec<ScheduledJobSpec>,
    pub(crate) clock_start_ms: i64,
    pub(crate) commands: Vec<(i64, String, JobCommand)>,
    pub(crate) reruns: Vec<RerunSpec>,
    pub(crate) until_ms: Option<i64>,
    pub(crate) series_samples: usize,
    pub(crate) record_events: bool,
    pub(crate) max_events: u64,
    pub(crate) max_wall: Option<std::time::Duration>,
}

impl SimBuilder {
    /// A builder with this seed and every other default.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            templates: Vec::new(),
            fleet_spec: None,
            fleet: None,
            behaviour: BehaviourSpec::default(),
            hub: None,
            jobs: Vec::new(),
            scheduled: Vec::new(),
            clock_start_ms: 0,
            commands: Vec::new(),
            reruns: Vec::new(),
            until_ms: None,
            series_samples: 500,
            record_events: false,
            max_events: u64::MAX,
            max_wall: None,
        }
    }

    /// The reference rollout of DESIGN.md section 9, the workload of the performance targets:
    /// `devices` generated devices of one template (ids `device-{:08}`); a job that sets a
    /// writable property in batches of 10 %, with a job-wide cancellation threshold of 10 % and
    /// a per-device timeout of 30 s; log-normal latency with a median of 2 s and sigma 0.5;
    /// 1 % of the devices offline from the start (they time out); 2 % of the others fail.
    pub fn reference_rollout(devices: u32, seed: u64) -> Self {
        use fleet_core::{BatchSize, RunBuilder, Threshold};

        use crate::behaviour::{BehaviourRule, Offline};
        use crate::distribution::Distribution;
        use crate::generator::TemplateShare;
        use crate::operation::Operation;
        use crate::template::{PropertySpec, Schema};

        const TEMPLATE: &str = "dtmi:fleetsim:reference;1";
        let template = TemplateSpec {
            id: TEMPLATE.into(),
            properties: vec![PropertySpec {
                name: "setpoint".into(),
                schema: Schema::Double,
            }],
            ..TemplateSpec::default()
        };
        let fleet = FleetSpec {
            devices,
            id_pattern: "device-{:08}".into(),
            templates: vec![TemplateShare {
                template: TEMPLATE.into(),
                share: Some(1.0),
                count: None,
            }],
            ..FleetSpec::default()
        };
        let behaviour = BehaviourSpec {
            swarm: false,
            cohorts: Vec::new(),
            external: None,
            rules: vec![BehaviourRule {
                latency: Some(Distribution::Lognormal {
                    median_ms: 2000.0,
                    sigma: 0.5,
                }),
                offline: Some(Offline::Fraction(0.01)),
                failure_probability: Some(0.02.into()),
                ..BehaviourRule::default()
            }],
        };
        let run = RunBuilder::new()
            .batch(BatchSize::percentage(10.0).expect("10 % is a valid batch"))
            .threshold(Threshold::percentage(10.0, false).expect("10 % is a valid threshold"))
            .device_timeout_ms(30_000);
        let job = JobSpec::new(
            "reference",
            Operation::Property {
                name: "setpoint".into(),
                value: serde_json::json!(21.5),
            },
        )
        .run(run);
        Self::new(seed)
            .templates(vec![template])
            .fleet(fleet)
            .behaviour(behaviour)
            .job(job)
    }

    /// Replaces the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The device templates of a generated fleet.
    pub fn templates(mut self, templates: Vec<TemplateSpec>) -> Self {
        self.templates = templates;
        self
    }

    /// Generates the fleet from this spec (tags drawn from the seed) with [`Self::templates`].
    pub fn fleet(mut self, spec: FleetSpec) -> Self {
        self.fleet_spec = Some(spec);
        self.fleet = None;
        self
    }

    /// Uses a fleet built beforehand ([`Fleet::from_json`]); its templates are its own.
    pub fn with_fleet(mut self, fleet: Fleet) -> Self {
        self.fleet = Some(fleet);
        self.fleet_spec = None;
        self
    }

    /// The device behaviour and faults.
    pub fn behaviour(mut self, behaviour: BehaviourSpec) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// Models an IoT Hub with these throttles and job limit.
    pub fn hub(mut self, hub: HubSpec) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Adds a job.
    pub fn job(mut self, job: JobSpec) -> Self {
        self.jobs.push(job);
        self
    }

    /// Adds a scheduled job: its occurrences create runs (see [`ScheduledJobSpec`]).
    pub fn scheduled(mut self, scheduled: ScheduledJobSpec) -> Self {
        self.scheduled.push(scheduled);
        self
    }

    /// The UTC instant, in ms since the Unix epoch, of virtual time 0: where schedules,
    /// maintenance windows and AWS start and end times meet the virtual clock.
    pub fn clock_start_ms(mut self, clock_start_ms: i64) -> Self {
        self.clock_start_ms = clock_start_ms;
        self
    }

    /// Sends `command` to job `job`'s run at virtual time `at_ms`. A command the run's status
    /// does not allow is recorded as refused in [`crate::JobResult::commands`].
    pub fn command(mut self, at_ms: i64, job: impl Into<String>, command: JobCommand) -> Self {
        self.commands.push((at_ms, job.into(), command));
        self
    }

    /// Stops the simulation at this virtual time: events after it are not processed.
    pub fn until_ms(mut self, until_ms: i64) -> Self {
        self.until_ms = Some(until_ms);
        self
    }

    /// The most samples kept in each job's time series (at least 4).
    pub fn series_samples(mut self, samples: usize) -> Self {
        self.series_samples = samples.max(4);
        self
    }

    /// Records every processed event in [`crate::SimResult::events`] (memory grows with the
    /// number of events: for tests, debugging and small scenarios).
    pub fn record_events(mut self, record: bool) -> Self {
        self.record_events = record;
        self
    }

    /// Reruns job `job`'s failed devices as a new run `id`, at `at_ms` or (`None`) as soon as
    /// the job's run settles (see [`RerunSpec`]). A rerun the job's state does not allow (its
    /// run has not settled, or it failed) is recorded as refused in
    /// [`crate::JobResult::commands`].
    pub fn rerun(
        mut self,
        job: impl Into<String>,
        id: impl Into<String>,
        at_ms: Option<i64>,
    ) -> Self {
        self.reruns.push(RerunSpec {
            job: job.into(),
            id: id.into(),
            at_ms,
        });
        self
    }

    /// The event budget: the simulation processes at most this many events, then stops
    /// ([`Simulation::try_run_with_progress`] returns [`ErrorKind::EventBudget`]). Checked once
    /// per event against this number: free in the hot loop.
    pub fn max_events(mut self, events: u64) -> Self {
        self.max_events = events;
        self
    }

    /// The wall-clock budget of [`Simulation::try_run_with_progress`], read every 65,536
    /// events ([`ErrorKind::WallBudget`] when it runs out).
    pub fn max_wall(mut self, limit: std::time::Duration) -> Self {
        self.max_wall = Some(limit);
        self
    }

    /// Validates everything and builds the simulation. The error names the field
    /// (`jobs[1].operation.response_timeout_ms`, `behaviour.rules[0].latency.sigma`).
    pub fn build(self) -> Result<Simulation> {
        let fleet = match (self.fleet.clone(), &self.fleet_spec) {
            (Some(f), _) => f,
            (None, Some(spec)) => {
                Fleet::generate(spec, &self.templates, self.seed).map_err(|e| e.within("fleet"))?
            }
            (None, None) => {
                return Err(Error::at(
                    "fleet",
                    ErrorKind::InvalidValue("a fleet is required".into()),
                ))
            }
        };
        let behaviour = Behaviour::compile(&self.behaviour, &fleet, self.seed)?;
        if let Some(hub) = &self.hub {
            hub.validate().map_err(|e| e.within("hub"))?;
        }
        if self.jobs.len() + self.reruns.len() >= usize::from(MAX_JOBS) {
            return Err(Error::at(
                "jobs",
                ErrorKind::TooLarge(format!("more than {MAX_JOBS} jobs")),
            ));
        }
        self.check_jobs(&fleet)?;
        let reruns = self.check_reruns()?;
        let schedules = self.schedule_states()?;
        let commands = self.check_commands()?;
        Ok(Simulation::new(Parts {
            seed: self.seed,
            fleet,
            behaviour,
            hub: self.hub.as_ref(),
            jobs: &self.jobs,
            schedules,
            clock_start_ms: self.clock_start_ms,
            commands,
            reruns,
            until_ms: self.until_ms,
            series_samples: self.series_samples,
            record_events: self.record_events,
            max_events: self.max_events,
            max_wall: self.max_wall,
        }))
    }

    /// Checks the jobs: each valid, with a unique id, and every listed target device in the fleet.
    fn check_jobs(&self, fleet: &Fleet) -> Result<()> {
        for (i, job) in self.jobs.iter().enumerate() {
            let within = |e: Error| e.at_index(i).within("jobs");
            job.validate().map_err(within)?;
            check_instant(&format!("jobs[{i}].start_ms"), job.start_ms)?;
            if self.jobs[..i].iter().any(|o| o.id == job.id) {
                return Err(Error::at(
                    format!("jobs[{i}].id"),
                    ErrorKind::Duplicate(job.id.clone()),
                ));
            }
            if let TargetSpec::Devices(ids) = &job.targets {
                if let Some(id) = ids.iter().find(|id| fleet.index_of(id).is_none()) {
                    return Err(Error::at(
                        format!("jobs[{i}].targets"),
                        ErrorKind::UnknownDevice(id.clone()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks the commands (a known job, a time of 0 or more); returns (time, job index, command).
    fn check_commands(&self) -> Result<Vec<(i64, usize, JobCommand)>> {
        let mut commands = Vec::with_capacity(self.commands.len());
        for (i, (at_ms, id, command)) in self.commands.iter().enumerate() {
            let job = self.jobs.iter().position(|j| &j.id == id).ok_or_else(|| {
                Error::at(
                    format!("commands[{i}].job"),
                    ErrorKind::UnknownJob(id.clone()),
                )
            })?;
            if *at_ms < 0 {
                return Err(Error::at(
                    format!("commands[{i}].at_ms"),
                    ErrorKind::NegativeDuration(*at_ms as f64),
                ));
            }
            check_instant(&format!("commands[{i}].at_ms"), *at_ms)?;
            commands.push((*at_ms, job, *command));
        }
        Ok(commands)
    }

    /// Checks the reruns: a job of the simulation to rerun, a new unique id, a time of 0 or
    /// more. Returns them as (source job index, id, time).
    fn check_reruns(&self) -> Result<Vec<(usize, String, Option<i64>)>> {
        let mut out = Vec::with_capacity(self.reruns.len());
        for (i, r) in self.reruns.iter().enumerate() {
            let at = |f: &str| format!("reruns[{i}].{f}");
            let job = self.jobs.iter().position(|j| j.id == r.job);
            let job =
                job.ok_or_else(|| Error::at(at("job"), ErrorKind::UnknownJob(r.job.clone())))?;
            let taken = self.jobs.iter().any(|j| j.id == r.id)
                || self.scheduled.iter().any(|s| s.job.id == r.id)
                || self.reruns[..i].iter().any(|o| o.id == r.id);
            if taken || r.id.is_empty() {
                return Err(Error::at(at("id"), ErrorKind::Duplicate(r.id.clone())));
            }
            if let Some(ms) = r.at_ms.filter(|&ms| ms < 0) {
                return Err(Error::at(
                    at("at_ms"),
                    ErrorKind::NegativeDuration(ms as f64),
                ));
            }
            if let Some(ms) = r.at_ms {
                check_instant(&at("at_ms"), ms)?;
            }
            out.push((job, r.id.clone(), r.at_ms));
        }
        Ok(out)
    }

    /// Validates the scheduled jobs and creates their state machines. Every run becomes a job
    /// of the simulation, so the jobs and every run the schedules can create must fit in
    /// [`MAX_JOBS`]: a schedule without an end needs a horizon ([`Self::until_ms`]).
    fn schedule_states(
        &self,
    ) -> Result<Vec<(ScheduledJobSpec, fleet_core::schedule::ScheduledJobState)>> {
        let mut out = Vec::with_capacity(self.scheduled.len());
        let mut room = usize::from(MAX_JOBS) - self.jobs.len() - self.reruns.len();
        for (i, spec) in self.scheduled.iter().enumerate() {
            let within = |e: Error| e.at_index(i).within("scheduled");
            spec.job.validate().map_err(|e| within(e.within("job")))?;
            let id = &spec.job.id;
            if self.jobs.iter().any(|j| &j.id == id)
                || self.scheduled[..i].iter().any(|o| &o.job.id == id)
            {
                return Err(within(Error::at(
                    "job.id",
                    ErrorKind::Duplicate(id.clone()),
                )));
            }
            let created_ms = self.clock_start_ms.saturating_add(spec.job.start_ms);
            let state = spec.state(created_ms).map_err(within)?;
            let horizon_ms = self
                .until_ms
                .map_or(i64::MAX, |u| self.clock_start_ms.saturating_add(u));
            let runs = state
                .plan()
                .occurrences()
                .skip_while(|t| *t < created_ms)
                .take_while(|t| *t <= horizon_ms)
                .take(room + 1)
                .count();
            if runs > room {
                return Err(within(Error::at(
                    "document.schedule",
                    ErrorKind::TooLarge(format!(
                        "scheduled job {id:?} has more occurrences than the {room} runs left of                          the simulation's {MAX_JOBS} jobs; give its schedule an end (a date or                          a number of occurrences), or the simulation a horizon"
                    )),
                )));
            }
            room -= runs;
            out.push((spec.clone(), state));
        }
        Ok(out)
    }
}
