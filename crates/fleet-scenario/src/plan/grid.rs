//! The grid of plans: the knobs of a job's plan, the values to sweep, and a plan's scenario
//! (the job's JSON edited as the plan says, converted through the same code as any scenario).

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::scenario::{Scenario, ScenarioFile};

/// A count written `"5%"` (of the targets) or `"100"` (devices).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Count {
    /// A percentage, in (0, 100].
    Percent(f64),
    /// A number of devices, at least 1.
    Number(u32),
}

impl Count {
    /// IoT Central's `{"type": ..., "value": ...}`.
    fn central(self) -> (&'static str, Value) {
        match self {
            Self::Percent(p) => ("percentage", json!(p)),
            Self::Number(n) => ("number", json!(n)),
        }
    }
}

/// One value of one knob of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// IoT Central `batch` (`None`: no batches).
    Batch(Option<Count>),
    /// IoT Central `cancellationThreshold` value (`None`: no threshold).
    Threshold(Option<Count>),
    /// IoT Central `cancellationThreshold.batch`: per batch (`true`) or the whole job.
    ThresholdScope(bool),
    /// AWS `maximumPerMinute`.
    Rate(u32),
    /// AWS `exponentialRate`: (base per minute, increment factor, after N succeeded things);
    /// `None`: no ramp.
    Ramp(Option<(u32, f64, u32)>),
    /// AWS `thresholdPercentage` of every abort criterion.
    Abort(f64),
    /// IoT Hub units.
    HubUnits(u32),
    /// hawkBit `amountGroups`.
    Groups(u32),
    /// hawkBit phased `groups`: each phase's percentage of the whole fleet (`1%/10%/rest`:
    /// `[1, 10]`), then the rest.
    Phases(Vec<f64>),
    /// hawkBit success condition threshold, percent.
    Success(u32),
    /// hawkBit error condition threshold, percent.
    Error(u32),
}

/// What a knob value looks like, for errors.
const FORMS: [(&str, &str); 10] = [
    ("batch", "`5%`, `100` (devices) or `none`"),
    ("threshold", "`2%`, `10` (devices) or `none`"),
    ("threshold_scope", "`batch` or `job`"),
    ("rate", "a number of devices per minute, 1 or more"),
    ("ramp", "`BASE:FACTOR:SUCCEEDED` (`10:2:50`) or `none`"),
    ("abort", "a percentage, 0 to 100"),
    ("hub_units", "a number of units, 1 to 200"),
    (
        "groups",
        "a number of equal groups, 1 to 500, or phases of the fleet (`1%/10%/rest`)",
    ),
    ("success", "a whole percentage, 0 to 100"),
    ("error", "a whole percentage, 0 to 100"),
];

impl Setting {
    /// Parses a value of knob `knob` (a `[risk.grid]` key or the command-line option's name).
    pub fn parse(knob: &str, text: &str) -> Result<Self> {
        Self::parse_at(knob, text, knob)
    }

    /// [`Setting::parse`], the error naming `field`.
    fn parse_at(knob: &str, text: &str, field: &str) -> Result<Self> {
        let t = text.trim();
        let bad = || {
            let form = FORMS.iter().find(|(k, _)| *k == knob).map_or("", |f| f.1);
            Error::invalid(
                field,
                format!("{text:?} is not a value of {knob}: give {form}"),
            )
        };
        let whole = |lo: u32, hi: u32| t.parse::<u32>().ok().filter(|v| (lo..=hi).contains(v));
        let percent = |lo: u32, hi: u32| {
            let p = t.strip_suffix('%').unwrap_or(t).trim();
            p.parse::<u32>().ok().filter(|v| (lo..=hi).contains(v))
        };
        let setting =
            match knob {
                "batch" | "threshold" => {
                    let count = match t {
                        "none" => None,
                        _ => Some(parse_count(t).ok_or_else(bad)?),
                    };
                    match knob {
                        "batch" => Self::Batch(count),
                        _ => Self::Threshold(count),
                    }
                }
                "threshold_scope" => match t {
                    "batch" => Self::ThresholdScope(true),
                    "job" => Self::ThresholdScope(false),
                    _ => return Err(bad()),
                },
                "rate" => Self::Rate(whole(1, u32::MAX).ok_or_else(bad)?),
                "ramp" => Self::Ramp(match t {
                    "none" => None,
                    _ => Some(parse_ramp(t).ok_or_else(bad)?),
                }),
                "abort" => match t.trim_end_matches('%').parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => Self::Abort(p),
                    _ => return Err(bad()),
                },
                "hub_units" => Self::HubUnits(whole(1, 200).ok_or_else(bad)?),
                "groups" if t.contains('/') => Self::Phases(parse_phases(t).ok_or_else(bad)?),
                "groups" => Self::Groups(whole(1, 500).ok_or_else(bad)?),
                "success" => Self::Success(percent(0, 100).ok_or_else(bad)?),
                "error" => Self::Error(percent(0, 100).ok_or_else(bad)?),
                _ => return Err(Error::invalid(
                    field,
                    "not a knob of a plan (batch, threshold, threshold_scope, rate, ramp, abort, \
                     hub_units, groups, success, error)",
                )),
            };
        Ok(setting)
    }

    /// The knob's name.
    pub fn knob(&self) -> &'static str {
        match self {
            Self::Batch(_) => "batch",
            Self::Threshold(_) => "threshold",
            Self::ThresholdScope(_) => "threshold_scope",
            Self::Rate(_) => "rate",
            Self::Ramp(_) => "ramp",
            Self::Abort(_) => "abort",
            Self::HubUnits(_) => "hub_units",
            Self::Groups(_) | Self::Phases(_) => "groups",
            Self::Success(_) => "success",
            Self::Error(_) => "error",
        }
    }

    /// The value as people write it (`5%`, `none`, `10:2:50`).
    pub fn value_text(&self) -> String {
        let count = |c: &Option<Count>| match c {
            None => "none".to_string(),
            Some(Count::Percent(p)) => format!("{p}%"),
            Some(Count::Number(n)) => n.to_string(),
        };
        match self {
            Self::Batch(c) | Self::Threshold(c) => count(c),
            Self::ThresholdScope(true) => "batch".into(),
            Self::ThresholdScope(false) => "job".into(),
            Self::Rate(n) | Self::HubUnits(n) | Self::Groups(n) => n.to_string(),
            Self::Ramp(None) => "none".into(),
            Self::Ramp(Some((b, f, s))) => format!("{b}:{f}:{s}"),
            Self::Abort(p) => format!("{p}%"),
            Self::Success(p) | Self::Error(p) => format!("{p}%"),
            Self::Phases(p) => {
                let parts: Vec<String> = p.iter().map(|p| format!("{p}%")).collect();
                format!("{}/rest", parts.join("/"))
            }
        }
    }

    /// The dialect the knob belongs to (`None`: any job; the hub's units need a `[hub]`).
    fn dialect(&self) -> Option<&'static str> {
        match self {
            Self::Batch(_) | Self::Threshold(_) | Self::ThresholdScope(_) => Some("central"),
            Self::Rate(_) | Self::Ramp(_) | Self::Abort(_) => Some("aws"),
            Self::Groups(_) | Self::Phases(_) | Self::Success(_) | Self::Error(_) => {
                Some("hawkbit")
            }
            Self::HubUnits(_) => None,
        }
    }
}

fn parse_count(t: &str) -> Option<Count> {
    match t.strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|p| *p > 0.0 && *p <= 100.0)
            .map(Count::Percent),
        None => t.parse::<u32>().ok().filter(|n| *n >= 1).map(Count::Number),
    }
}

/// `1%/10%/rest`: the phases' percentages of the whole fleet, each more than 0, together less
/// than 100, at most 15 before the rest (hawkBit phased groups: 16 at most).
fn parse_phases(t: &str) -> Option<Vec<f64>> {
    let (phases, rest) = t.rsplit_once('/')?;
    if rest.trim() != "rest" {
        return None;
    }
    let p: Vec<f64> = phases
        .split('/')
        .map(|p| p.trim().strip_suffix('%')?.trim().parse::<f64>().ok())
        .collect::<Option<_>>()?;
    let ok = !p.is_empty()
        && p.len() < fleet_core::SHARES_MAX
        && p.iter().all(|p| *p > 0.0)
        && p.iter().sum::<f64>() < 100.0;
    ok.then_some(p)
}

/// hawkBit groups for phases of the whole fleet: each phase's share of what the phases before
/// it left (`1%/10%/rest`: 1, 10.1..., 100).
fn phase_groups(phases: &[f64]) -> Value {
    let mut left = 100.0;
    let mut groups: Vec<Value> = phases
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let share = p / left * 100.0;
            left -= p;
            json!({"name": format!("phase-{}", i + 1), "targetPercentage": share})
        })
        .collect();
    groups.push(json!({"name": "rest", "targetPercentage": 100}));
    Value::Array(groups)
}

fn parse_ramp(t: &str) -> Option<(u32, f64, u32)> {
    let mut parts = t.split(':').map(str::trim);
    let base = parts.next()?.parse::<u32>().ok().filter(|b| *b >= 1)?;
    let factor = parts.next()?.parse::<f64>().ok().filter(|f| *f > 1.0)?;
    let after = parts.next()?.parse::<u32>().ok().filter(|n| *n >= 1)?;
    parts.next().is_none().then_some((base, factor, after))
}

/// One plan of a sweep: its settings, in grid order (none: the scenario's own plan).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The settings, one per knob swept.
    pub settings: Vec<Setting>,
}

impl Plan {
    /// The plan for people: `batch 5% · threshold 2% · threshold_scope batch`, or `as written`.
    pub fn label(&self) -> String {
        if self.settings.is_empty() {
            return "as written".into();
        }
        let parts: Vec<String> = self
            .settings
            .iter()
            .map(|s| format!("{} {}", s.knob(), s.value_text()))
            .collect();
        parts.join(" · ")
    }
}

/// Every combination of the knobs' values, the first knob varying slowest; one plan (the
/// scenario's own) without knobs. `knobs` are (name, values as text).
pub fn expand(knobs: &[(String, Vec<String>)]) -> Result<Vec<Plan>> {
    let mut plans = vec![Plan {
        settings: Vec::new(),
    }];
    for (knob, values) in knobs {
        let parsed: Vec<Setting> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Setting::parse_at(knob, v, &format!("{knob}[{i}]")))
            .collect::<Result<_>>()?;
        if parsed.is_empty() {
            return Err(Error::invalid(knob.as_str(), "give at least one value"));
        }
        plans = plans
            .into_iter()
            .flat_map(|p| {
                parsed.iter().map(move |s| {
                    let mut settings = p.settings.clone();
                    settings.push(s.clone());
                    Plan { settings }
                })
            })
            .collect();
    }
    Ok(plans)
}

/// The scenario of `plan`: job `job`'s JSON (entry `entry` of the file) and the hub edited as
/// the plan says, then converted and checked like any scenario.
pub(crate) fn apply(base: &Scenario, job: usize, plan: &Plan) -> Result<Scenario> {
    let dialect = base.dialects[job];
    let entry = base.job_entries[job];
    let mut file: ScenarioFile = base.file.clone();
    let mut body = job_body(&file, entry)?;
    for s in &plan.settings {
        if let Some(d) = s.dialect().filter(|d| *d != dialect) {
            return Err(Error::invalid(
                s.knob(),
                format!(
                    "{} is a knob of {d} jobs; job {:?} is a {dialect} job",
                    s.knob(),
                    base.jobs[job].id
                ),
            ));
        }
        edit(&mut body, &mut file, s)?;
    }
    file.jobs[entry].json = None;
    file.jobs[entry].job = Some(Value::Object(body));
    let mut scenario = Scenario::from_file(file)
        .map_err(|e| Error::invalid("plan", format!("plan {}: {e}", plan.label())))?;
    scenario.path.clone_from(&base.path);
    scenario.budget = base.budget;
    Ok(scenario)
}

/// The job entry's body as a JSON object.
fn job_body(file: &ScenarioFile, entry: usize) -> Result<Map<String, Value>> {
    let e = &file.jobs[entry];
    let value = match (&e.json, &e.job) {
        (Some(text), _) => serde_json::from_str(text)
            .map_err(|err| Error::invalid(format!("jobs[{entry}].json"), err.to_string()))?,
        (None, Some(v)) => v.clone(),
        (None, None) => Value::Null,
    };
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(Error::invalid(
            format!("jobs[{entry}]"),
            "the job is not a JSON object",
        )),
    }
}

/// The object at `key` of `body`, created empty if absent.
fn object<'a>(body: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = body.entry(key).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("an object")
}

fn edit(body: &mut Map<String, Value>, file: &mut ScenarioFile, s: &Setting) -> Result<()> {
    match s {
        Setting::Batch(None) => drop(body.remove("batch")),
        Setting::Batch(Some(c)) => {
            let (kind, value) = c.central();
            body.insert("batch".into(), json!({"type": kind, "value": value}));
        }
        Setting::Threshold(None) => drop(body.remove("cancellationThreshold")),
        Setting::Threshold(Some(c)) => {
            let (kind, value) = c.central();
            let t = object(body, "cancellationThreshold");
            t.insert("type".into(), json!(kind));
            t.insert("value".into(), value);
        }
        Setting::ThresholdScope(per_batch) => match body.get_mut("cancellationThreshold") {
            Some(Value::Object(t)) => drop(t.insert("batch".into(), json!(per_batch))),
            _ => {
                return Err(Error::invalid(
                    "threshold_scope",
                    "the job has no cancellationThreshold to scope (sweep `threshold` too)",
                ))
            }
        },
        Setting::Rate(n) => {
            object(body, "jobExecutionsRolloutConfig").insert("maximumPerMinute".into(), json!(n));
        }
        Setting::Ramp(ramp) => {
            let config = object(body, "jobExecutionsRolloutConfig");
            match ramp {
                None => drop(config.remove("exponentialRate")),
                Some((base, factor, after)) => drop(config.insert(
                    "exponentialRate".into(),
                    json!({"baseRatePerMinute": base, "incrementFactor": factor,
                           "rateIncreaseCriteria": {"numberOfSucceededThings": after}}),
                )),
            }
        }
        Setting::Abort(p) => edit_abort(body, *p)?,
        Setting::HubUnits(units) => match file.hub.as_mut() {
            Some(hub) => hub.units = *units,
            None => {
                return Err(Error::invalid(
                    "hub_units",
                    "the scenario has no [hub] whose units to sweep",
                ))
            }
        },
        Setting::Groups(k) => {
            body.remove("groups");
            body.insert("amountGroups".into(), json!(k));
        }
        Setting::Phases(phases) => {
            body.remove("amountGroups");
            body.insert("groups".into(), phase_groups(phases));
        }
        Setting::Success(p) | Setting::Error(p) => {
            let key = match s {
                Setting::Success(_) => "successCondition",
                _ => "errorCondition",
            };
            body.insert(
                key.into(),
                json!({"condition": "THRESHOLD", "expression": p.to_string()}),
            );
        }
    }
    Ok(())
}

/// Sets the `thresholdPercentage` of every abort criterion of an AWS job.
fn edit_abort(body: &mut Map<String, Value>, p: f64) -> Result<()> {
    let criteria = body
        .get_mut("abortConfig")
        .and_then(|c| c.get_mut("criteriaList"))
        .and_then(Value::as_array_mut)
        .filter(|l| !l.is_empty());
    let Some(criteria) = criteria else {
        return Err(Error::invalid(
            "abort",
            "the job has no abortConfig.criteriaList whose thresholds to sweep",
        ));
    };
    for c in criteria.iter_mut().filter_map(Value::as_object_mut) {
        c.insert("thresholdPercentage".into(), json!(p));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_and_print_back() {
        for (knob, text) in [
            ("batch", "5%"),
            ("batch", "100"),
            ("batch", "none"),
            ("threshold", "2.5%"),
            ("threshold_scope", "batch"),
            ("threshold_scope", "job"),
            ("rate", "400"),
            ("ramp", "10:2:50"),
            ("ramp", "none"),
            ("abort", "10%"),
            ("hub_units", "2"),
            ("groups", "5"),
            ("success", "80%"),
            ("error", "10%"),
        ] {
            let s = Setting::parse(knob, text).unwrap();
            assert_eq!(s.knob(), knob);
            assert_eq!(s.value_text(), text, "{knob}");
        }
        for (knob, text) in [
            ("batch", "0%"),
            ("batch", "101%"),
            ("batch", "0"),
            ("threshold_scope", "all"),
            ("ramp", "10:1:50"),
            ("ramp", "10:2"),
            ("hub_units", "201"),
            ("success", "101"),
            ("speed", "1"),
        ] {
            let e = Setting::parse(knob, text).unwrap_err();
            assert_eq!(e.field(), Some(knob), "{knob} {text}");
        }
    }

    #[test]
    fn the_grid_is_every_combination_first_knob_slowest() {
        let knobs = vec![
            (
                "batch".to_string(),
                vec!["5%".to_string(), "10%".to_string()],
            ),
            (
                "threshold".to_string(),
                vec!["1%".into(), "2%".into(), "none".into()],
            ),
        ];
        let plans = expand(&knobs).unwrap();
        assert_eq!(plans.len(), 6);
        assert_eq!(plans[0].label(), "batch 5% · threshold 1%");
        assert_eq!(plans[2].label(), "batch 5% · threshold none");
        assert_eq!(plans[3].label(), "batch 10% · threshold 1%");
        assert_eq!(expand(&[]).unwrap()[0].label(), "as written");
        let e = expand(&[("batch".into(), vec!["5%".into(), "x".into()])]).unwrap_err();
        assert_eq!(e.field(), Some("batch[1]"));
    }
}
