//! Warnings: a scenario that loads, and runs, but whose answer would mislead for a reason the
//! tool knows. Each names the file, the line and the field, and says what will happen.
//!
//! [`check`] finds the ones a loaded scenario shows (a selector or group that selects no
//! device, a job value the template refuses, a burst far over the hub's rate with the default
//! queue wait, a scheduled job that is not enabled, a template an imported fleet names that
//! the scenario does not define); [`after_run`] the ones a result shows
//! (failures that are mostly throttling, a duration that is exactly a timeout or deadline).
//! The command line prints them on stderr; `--deny warnings` makes them errors (exit 2).

use std::fmt;

use fleet_core::model::{JobData, JobDefinition};
use fleet_sim::{
    Fleet, HubSpec, JobResult, JobSpec, Operation, Selector, SimResult, TargetSpec, TemplateSpec,
};
use serde::Serialize;
use serde_json::Value;

use crate::scenario::{JobEntry, Scenario};
use crate::source;

/// The queue wait of the hub model when the scenario does not set `max_queue_wait_ms`.
pub const DEFAULT_MAX_QUEUE_WAIT_MS: u64 = 30_000;

/// A warning about a scenario or its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What kind of warning: `selects_no_device`, `not_in_template`, `schema_mismatch`,
    /// `queue_wait_default`, `schedule_disabled`, `template_not_defined`, `mostly_throttled`,
    /// `duration_is_timeout`.
    pub code: &'static str,
    /// The scenario file, if it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The 1-based line of the field (or of its nearest parent written in the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The field path (`behaviour.rules[0].selector`, `jobs[1].json.data[0].value`).
    pub field: String,
    /// The job or run it is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// What will happen, and what to do about it.
    pub message: String,
}

impl fmt::Display for Warning {
    /// `FILE:LINE: FIELD: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: ")?,
            (Some(file), None) => write!(f, "{file}: ")?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Builds warnings with the scenario's file and the lines of their fields.
struct Sink<'a> {
    scenario: &'a Scenario,
    out: Vec<Warning>,
}

impl Sink<'_> {
    fn push(&mut self, code: &'static str, field: String, job: Option<&str>, message: String) {
        let line = self
            .scenario
            .source
            .as_ref()
            .and_then(|(text, format)| source::locate(text, *format, &field))
            .map(|at| at.line);
        self.out.push(Warning {
            code,
            file: self.scenario.path.as_ref().map(|p| p.display().to_string()),
            line,
            field,
            job: job.map(str::to_string),
            message,
        });
    }

    /// Whether `field` is written in the file (unknown without the text: `false`).
    fn written(&self, field: &str) -> bool {
        self.scenario
            .source
            .as_ref()
            .and_then(|(text, format)| source::locate(text, *format, field))
            .is_some_and(|at| at.exact)
    }
}

/// A job of the file with what it converted to.
struct JobView<'a> {
    /// Its index in the file's `jobs`.
    index: usize,
    entry: &'a JobEntry,
    /// `jobs[i].json` or `jobs[i].job`.
    body: String,
    definition: Option<JobDefinition>,
    spec: &'a JobSpec,
    /// For a scheduled job: its `enabled`.
    enabled: Option<Option<bool>>,
}

/// The jobs of the scenario in file order, each with its converted spec.
fn job_views(scenario: &Scenario) -> Vec<JobView<'_>> {
    let (mut plain, mut scheduled) = (scenario.jobs.iter(), scenario.scheduled.iter());
    let mut out = Vec::new();
    for (index, entry) in scenario.file.jobs.iter().enumerate() {
        let (definition, body) = match (&entry.json, &entry.job) {
            (Some(text), _) => (JobDefinition::from_json(text).ok(), "json"),
            (None, Some(value)) => (JobDefinition::from_value(value.clone()).ok(), "job"),
            (None, None) => (None, "json"),
        };
        let is_scheduled = matches!(definition, Some(JobDefinition::Scheduled(_)));
        let (spec, enabled) = if is_scheduled {
            match scheduled.next() {
                Some(s) => (&s.job, Some(s.document.enabled)),
                None => break,
            }
        } else {
            match plain.next() {
                Some(j) => (j, None),
                None => break,
            }
        };
        out.push(JobView {
            index,
            entry,
            body: format!("jobs[{index}].{body}"),
            definition,
            spec,
            enabled,
        });
    }
    out
}

/// The warnings a loaded scenario shows, in file order of their kind: selectors and groups
/// that select no device, job values the template refuses, bursts far over the hub's rate with
/// the default queue wait, scheduled jobs that are not enabled.
pub fn check(scenario: &Scenario) -> Vec<Warning> {
    check_with(scenario, None)
}

/// [`check`] over `fleet` when the caller has the scenario's fleet already (a report has the
/// run's), so that it is not generated a second time; `None`: generated here if a check needs
/// it.
pub fn check_with(scenario: &Scenario, fleet: Option<&fleet_sim::Fleet>) -> Vec<Warning> {
    let mut sink = Sink {
        scenario,
        out: Vec::new(),
    };
    let jobs = job_views(scenario);
    let needs_fleet = scenario
        .file
        .behaviour
        .rules
        .iter()
        .any(|r| !r.selector.is_all())
        || !scenario.file.groups.is_empty()
        || scenario.file.hub.is_some()
        || jobs
            .iter()
            .any(|j| matches!(j.spec.targets, TargetSpec::Selector(_)));
    let generated = match (needs_fleet, fleet) {
        (true, None) => scenario.fleet(None).ok(),
        _ => None,
    };
    let fleet = fleet.filter(|_| needs_fleet).or(generated.as_ref());
    if let Some(fleet) = fleet {
        empty_selections(&mut sink, fleet, &jobs);
    }
    for job in &jobs {
        template_mismatch(&mut sink, job, &scenario.file.templates);
    }
    if let (Some(hub), Some(fleet)) = (&scenario.file.hub, fleet) {
        for job in &jobs {
            over_hub_rate(&mut sink, hub, fleet, job);
        }
    }
    undefined_templates(&mut sink, scenario);
    for job in &jobs {
        if let Some(enabled) = job.enabled {
            if enabled != Some(true) {
                let how = match enabled {
                    Some(_) => "`enabled` is false",
                    None => "`enabled` is absent, which IoT Central reads as false",
                };
                sink.push(
                    "schedule_disabled",
                    format!("{}.enabled", job.body),
                    Some(&job.spec.id),
                    format!(
                        "scheduled job {:?} is not enabled ({how}): every occurrence is skipped \
                         and no run is created; set \"enabled\": true",
                        job.spec.id
                    ),
                );
            }
        }
    }
    sink.out
}

/// Templates an imported fleet names that the scenario does not define.
fn undefined_templates(sink: &mut Sink<'_>, scenario: &Scenario) {
    let Some(imported) = &scenario.imported else {
        return;
    };
    for (id, devices) in &imported.undefined_templates {
        sink.push(
            "template_not_defined",
            "fleet.file".into(),
            None,
            format!(
                "the imported fleet names template {id:?} ({devices} devices), which `templates` \
                 does not define: its devices get an empty template (no properties, commands or \
                 cloud properties), so no job can write to them; define the template to run \
                 jobs on them"
            ),
        );
    }
}

/// A hint when a selector compares a tag with a number or a boolean: tags are often strings.
fn type_hint(selector: &Selector) -> String {
    for (name, value) in &selector.tags {
        let kind = match value {
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            _ => continue,
        };
        return format!(
            " (tags.{name} is compared with the {kind} {value}; a tag holding the string \
             \"{value}\" is not equal to it: write \"{value}\" if the tag is a string)"
        );
    }
    if selector.query.is_some() {
        return " (check the query's values and their types: 1.2 and '1.2' are not equal)"
            .to_string();
    }
    String::new()
}

/// Fault rules, groups and IoT Hub query conditions that select no device.
fn empty_selections(sink: &mut Sink<'_>, fleet: &Fleet, jobs: &[JobView<'_>]) {
    let n = fleet.len();
    let scenario = sink.scenario;
    let behaviour = &scenario.file.behaviour;
    let rules = behaviour.rules.iter().enumerate().map(|(i, r)| {
        let field = format!("behaviour.rules[{i}].selector");
        (
            field,
            &r.selector,
            "this rule's latency and faults apply to no device",
        )
    });
    let cohorts = behaviour.cohorts.iter().enumerate().map(|(i, c)| {
        let field = format!("behaviour.cohorts[{i}].selector");
        (
            field,
            &c.rule.selector,
            "this cohort's fault hits no device",
        )
    });
    for (field, selector, what) in rules.chain(cohorts) {
        if selector.is_all() || selector.selects_any(fleet) {
            continue;
        }
        let hint = type_hint(selector);
        sink.push(
            "selects_no_device",
            field,
            None,
            format!("selects 0 of {n} devices: {what}{hint}"),
        );
    }
    for (i, group) in scenario.file.groups.iter().enumerate() {
        let Some(members) = group.members() else {
            continue;
        };
        if members.selects_any(fleet) {
            continue;
        }
        let field = if group.filter.is_some() {
            "filter"
        } else {
            "selector"
        };
        sink.push(
            "selects_no_device",
            format!("groups[{i}].{field}"),
            None,
            format!(
                "group {:?} selects 0 of {n} devices: a job on it targets no device{}",
                group.id,
                type_hint(&members)
            ),
        );
    }
    for job in jobs {
        let Some(JobDefinition::Hub(_)) = &job.definition else {
            continue;
        };
        let TargetSpec::Selector(selector) = &job.spec.targets else {
            continue;
        };
        if !selector.selects_any(fleet) {
            sink.push(
                "selects_no_device",
                format!("{}.queryCondition", job.body),
                Some(&job.spec.id),
                format!(
                    "job {:?}'s queryCondition selects 0 of {n} devices: the job targets no \
                     device{}",
                    job.spec.id,
                    type_hint(selector)
                ),
            );
        }
    }
}

/// The `data[0]` entry of an IoT Central job or scheduled job.
fn central_data(definition: &Option<JobDefinition>) -> Option<&JobData> {
    match definition {
        Some(JobDefinition::Central(job)) => job.data.first(),
        Some(JobDefinition::Scheduled(job)) => job.data.first(),
        _ => None,
    }
}

/// An IoT Central job whose path is not in its target template, or whose value does not match
/// the property's schema: every device of that template fails.
fn template_mismatch(sink: &mut Sink<'_>, job: &JobView<'_>, templates: &[TemplateSpec]) {
    let Some(data) = central_data(&job.definition) else {
        return;
    };
    let Some(template) = data
        .target
        .as_deref()
        .and_then(|t| templates.iter().find(|x| x.id == t))
    else {
        return;
    };
    let id = &job.spec.id;
    let field = |f: &str| format!("{}.data[0].{f}", job.body);
    let fails = |reason: &str| {
        format!(
            "every device of template {:?} fails with reason {reason}",
            template.id
        )
    };
    match &job.spec.operation {
        Operation::Property { name, value } | Operation::CloudProperty { name, value } => {
            let cloud = matches!(job.spec.operation, Operation::CloudProperty { .. });
            let (schema, other, kind) = if cloud {
                (
                    template.cloud_property(name),
                    template.property(name),
                    "cloud property",
                )
            } else {
                (
                    template.property(name),
                    template.cloud_property(name),
                    "writable property",
                )
            };
            match schema {
                None => {
                    let known: Vec<&str> = if cloud {
                        template
                            .cloud_properties
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect()
                    } else {
                        template
                            .properties
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect()
                    };
                    let also = match other {
                        Some(_) if cloud => " (it is a writable property: use type \"property\")",
                        Some(_) => " (it is a cloud property: use type \"cloudProperty\")",
                        None => "",
                    };
                    sink.push(
                        "not_in_template",
                        field("path"),
                        Some(id),
                        format!(
                            "{name:?} is not a {kind} of template {:?} (its {kind} names: {known:?}){also}: \
                             {}",
                            template.id,
                            fails("not_in_template")
                        ),
                    );
                }
                Some(schema) if !schema.matches(value) => {
                    let hint = match (value, schema_word(schema)) {
                        (Value::String(s), "number" | "integer")
                            if s.trim().parse::<f64>().is_ok() =>
                        {
                            format!(": write {s} without quotes")
                        }
                        _ => String::new(),
                    };
                    sink.push(
                        "schema_mismatch",
                        field("value"),
                        Some(id),
                        format!(
                            "{value} is {} but {name:?} is {} ({schema:?}) in template {:?}: {}{hint}",
                            json_kind(value),
                            schema_article(schema),
                            template.id,
                            fails("schema_mismatch")
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        Operation::Command { name, .. } if !template.has_command(name) => {
            let known: Vec<&str> = template.commands.iter().map(|c| c.name.as_str()).collect();
            sink.push(
                "not_in_template",
                field("path"),
                Some(id),
                format!(
                    "{name:?} is not a command of template {:?} (commands: {known:?}): {}",
                    template.id,
                    fails("not_in_template")
                ),
            );
        }
        _ => {}
    }
}

/// The JSON kind of a schema, for hints.
fn schema_word(schema: fleet_sim::Schema) -> &'static str {
    use fleet_sim::Schema as S;
    match schema {
        S::Integer | S::Long => "integer",
        S::Double | S::Float => "number",
        S::Boolean => "boolean",
        S::Object => "object",
        S::Any => "any",
        _ => "string",
    }
}

fn schema_article(schema: fleet_sim::Schema) -> &'static str {
    match schema_word(schema) {
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "object" => "an object",
        "any" => "anything",
        _ => "a string",
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number with a fraction",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a job's operation draws from the hub, per device: the bucket's name, its rate per
/// second and the tokens one device takes. `None` for operations that the queue wait does not
/// apply to.
fn hub_bucket(hub: &HubSpec, operation: &Operation) -> Option<(&'static str, u64, u64)> {
    let limits = hub.limits();
    match operation {
        Operation::Property { .. } => Some(("twin updates", limits.twin_updates_per_s, 1)),
        Operation::Command { payload, .. } => {
            let chunks = payload.to_string().len().div_ceil(4096).max(1) as u64;
            Some((
                "direct-method 4 KB chunks",
                limits.direct_method_chunks_per_s,
                chunks,
            ))
        }
        _ => None,
    }
}

/// A job whose first batch (or rate) is far over the hub's rate while `max_queue_wait_ms` is
/// left at its default: most of it fails as throttled at once.
fn over_hub_rate(sink: &mut Sink<'_>, hub: &HubSpec, fleet: &Fleet, job: &JobView<'_>) {
    if sink.written("hub.max_queue_wait_ms") || hub.max_queue_wait_ms != DEFAULT_MAX_QUEUE_WAIT_MS {
        return;
    }
    let Some((bucket, per_s, cost)) = hub_bucket(hub, &job.spec.operation) else {
        return;
    };
    let targets = match &job.spec.targets {
        TargetSpec::All => fleet.len(),
        TargetSpec::Selector(s) => s.select(fleet).len() as u32,
        TargetSpec::Devices(d) => d.len() as u32,
    };
    let Ok(run) = job.spec.run.build(targets) else {
        return;
    };
    let wait_s = hub.max_queue_wait_ms / 1000;
    // A full bucket (one second of tokens) and what refills during the wait.
    let admitted = per_s * (1 + wait_s) / cost.max(1);
    let (burst, how) = match run.rate_per_minute() {
        Some(per_minute) => {
            // Paced: over a minute, the queue holds what the hub cannot keep up with.
            let per_minute = u64::from(per_minute).min(u64::from(targets));
            (per_minute, format!("{per_minute} devices a minute"))
        }
        None => {
            let size = u64::from(run.plan().size());
            (size, format!("{size} devices at once (its first batch)"))
        }
    };
    let admitted = match run.rate_per_minute() {
        Some(_) => admitted + per_s * 60 / cost.max(1),
        None => admitted,
    };
    if burst <= 2 * admitted {
        return;
    }
    sink.push(
        "queue_wait_default",
        "hub.max_queue_wait_ms".to_string(),
        Some(&job.spec.id),
        format!(
            "job {:?} sends {how}, far over the {:?} hub's {per_s} {bucket}/s ({} unit{}): with \
             max_queue_wait_ms left at its default of {DEFAULT_MAX_QUEUE_WAIT_MS} ms, the model \
             admits about {admitted} and fails the other {} as throttled at once, which the \
             real hub's traffic shaping would not do in that way; set max_queue_wait_ms to how \
             long your client waits, or pace the job (smaller batches, a rate)",
            job.spec.id,
            hub.tier,
            hub.units,
            if hub.units == 1 { "" } else { "s" },
            burst - admitted
        ),
    );
}

/// A timeout or deadline of a job: its length in ms (or, for a deadline, the virtual time it
/// falls at), the field that sets it and its name.
struct Limit {
    ms: i64,
    deadline: bool,
    field: String,
    what: String,
}

/// The timeouts and deadlines of a job of the file.
fn limits_of(job: &JobView<'_>) -> Vec<Limit> {
    let mut out = Vec::new();
    if let Some(s) = job.entry.device_timeout_s {
        out.push(Limit {
            ms: (s * 1000.0).round() as i64,
            deadline: false,
            field: format!("jobs[{}].device_timeout_s", job.index),
            what: "the device timeout".to_string(),
        });
    }
    match &job.definition {
        Some(JobDefinition::Aws(aws)) => {
            if let Some(minutes) = aws
                .timeout_config
                .as_ref()
                .and_then(|t| t.in_progress_timeout_in_minutes)
            {
                out.push(Limit {
                    ms: minutes.saturating_mul(60_000),
                    deadline: false,
                    field: format!("{}.timeoutConfig.inProgressTimeoutInMinutes", job.body),
                    what: "the in-progress timeout".to_string(),
                });
            }
        }
        Some(JobDefinition::Hub(request)) => {
            if let Some(seconds) = request.max_execution_time_in_seconds {
                out.push(Limit {
                    ms: seconds.saturating_mul(1000),
                    deadline: false,
                    field: format!("{}.maxExecutionTimeInSeconds", job.body),
                    what: "the job's maximum execution time".to_string(),
                });
            }
        }
        _ => {}
    }
    if let Operation::Command {
        response_timeout_ms,
        ..
    }
    | Operation::DeviceMethod {
        response_timeout_ms,
        ..
    } = &job.spec.operation
    {
        let field = match &job.definition {
            Some(JobDefinition::Hub(_)) => format!("{}.cloudToDeviceMethod", job.body),
            _ => format!("{}.data[0]", job.body),
        };
        out.push(Limit {
            ms: *response_timeout_ms,
            deadline: false,
            field,
            what: "the command's response timeout".to_string(),
        });
    }
    if let Some((end_ms, _)) = job.spec.end {
        out.push(Limit {
            ms: end_ms,
            deadline: true,
            field: format!("{}.schedulingConfig.endTime", job.body),
            what: "the job's end time".to_string(),
        });
    }
    out
}

/// The warnings a result shows: jobs whose failures are mostly throttling, and runs whose
/// duration is exactly a timeout or deadline (the timeout, not the devices, set it).
pub fn after_run(scenario: &Scenario, result: &SimResult) -> Vec<Warning> {
    let mut sink = Sink {
        scenario,
        out: Vec::new(),
    };
    let jobs = job_views(scenario);
    if let Some(hub) = &scenario.file.hub {
        for job in &result.jobs {
            mostly_throttled(&mut sink, hub, job);
        }
    }
    for run in &result.jobs {
        let source = run
            .rerun_of
            .as_deref()
            .or(run.scheduled_job_id.as_deref())
            .unwrap_or(&run.id);
        let Some(view) = jobs.iter().find(|j| j.spec.id == source) else {
            continue;
        };
        let (Some(duration), Some(finished)) = (run.duration_ms, run.finished_ms) else {
            continue;
        };
        let hit = limits_of(view).into_iter().find(|l| match l.deadline {
            true => finished == l.ms,
            false => duration == l.ms && duration > 0,
        });
        if let Some(limit) = hit {
            let message = match limit.deadline {
                true => format!(
                    "run {:?} ended at {}, exactly {}: the deadline, not the devices, set how \
                     long it took",
                    run.id,
                    crate::report::duration(finished),
                    limit.what
                ),
                false => format!(
                    "run {:?} took exactly {} ({}): the timeout, not the devices, set its \
                     duration (the last devices timed out)",
                    run.id,
                    crate::report::duration(duration),
                    limit.what
                ),
            };
            sink.push("duration_is_timeout", limit.field, Some(&run.id), message);
        }
    }
    sink.out
}

/// A job whose failures are mostly `throttled`.
fn mostly_throttled(sink: &mut Sink<'_>, hub: &HubSpec, job: &JobResult) {
    let failed = job.counts.failed;
    let throttled = job.failure_reasons.get("throttled").copied().unwrap_or(0);
    if throttled == 0 || throttled.saturating_mul(2) <= failed {
        return;
    }
    let default = if hub.max_queue_wait_ms == DEFAULT_MAX_QUEUE_WAIT_MS {
        ", the default"
    } else {
        ""
    };
    sink.push(
        "mostly_throttled",
        "hub.max_queue_wait_ms".to_string(),
        Some(&job.id),
        format!(
            "{throttled} of the {failed} failures of run {:?} are throttling: the model fails a \
             request that would wait over max_queue_wait_ms ({} ms{default}) for the {:?} hub's \
             throttle; the real hub's traffic shaping would delay most of them rather than fail \
             them at once, so these failures measure the model's queue limit, not the devices",
            job.id, hub.max_queue_wait_ms, hub.tier
        ),
    );
}

/// The warning of `code` about `job`, if any (for the text report's words).
pub fn find<'a>(warnings: &'a [Warning], code: &str, job: &str) -> Option<&'a Warning> {
    warnings
        .iter()
        .find(|w| w.code == code && w.job.as_deref() == Some(job))
}
