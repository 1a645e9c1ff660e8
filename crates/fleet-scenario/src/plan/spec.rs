//! The `[risk]` section of a scenario: which job the risk questions are about, the bad rollout,
//! the grid of plans and the stopping rule's and constraints' settings. Every setting can be
//! given on `fleetsim plan`'s command line too, which overrides the file.

use fleet_sim::BehaviourRule;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The `[risk]` section (`docs/risk.md`). Every field is optional.
///
/// ```toml
/// [risk]
/// job = "set-temp"
/// bad = { selector = "tags.firmware = '1.2'", reject_probability = 1.0 }
/// precision = "1pp"
/// max_false_stop = "1%"
/// max_blast = 200
/// deadline = "2h"
///
/// [risk.grid]
/// batch = ["1%", "5%", "10%"]
/// threshold = ["2%", "5%"]
/// threshold_scope = ["batch", "job"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSpec {
    /// The job the questions are about (required when the scenario has several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// The bad rollout: a behaviour rule added after the scenario's rules and cohorts
    /// (`selector` defaults to every device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad: Option<BehaviourRule>,
    /// The plans to compare: for each knob, the values to sweep.
    #[serde(default)]
    pub grid: GridSpec,
    /// The half-width that the probability intervals must reach (`"1pp"`, `"0.5%"`, `0.01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Value>,
    /// Replications of each plan in the first round (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replications: Option<u32>,
    /// The most replications of one plan (default 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replications: Option<u32>,
    /// Constraint: the largest acceptable probability of a false stop (`"1%"`, `0.01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_false_stop: Option<Value>,
    /// Constraint: the largest acceptable blast radius (p90 of the devices that received the
    /// bad operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_blast: Option<u32>,
    /// Constraint: the longest acceptable healthy duration (p90), as `"4h"`, `"90m"`, `"600s"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// What the recommended plan minimises among those that meet the constraints: `blast`
    /// (default), `false_stop` or `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimise: Option<String>,
}

/// The values of each knob to sweep (`[risk.grid]`); each value a string or a number, read
/// as on the command line (`docs/risk.md`, "The grid").
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// IoT Central `batch`: `"5%"`, `"100"` (devices), `"none"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch: Vec<Value>,
    /// IoT Central `cancellationThreshold` value: `"2%"`, `"10"` (devices), `"none"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threshold: Vec<Value>,
    /// IoT Central `cancellationThreshold.batch`: `"batch"` or `"job"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threshold_scope: Vec<Value>,
    /// AWS `jobExecutionsRolloutConfig.maximumPerMinute`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate: Vec<Value>,
    /// AWS `exponentialRate`: `"BASE:FACTOR:SUCCEEDED"` (`"10:2:50"`) or `"none"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ramp: Vec<Value>,
    /// AWS `abortConfig`: the `thresholdPercentage` of every criterion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort: Vec<Value>,
    /// The IoT Hub's units (`[hub] units`): the throttles that pace an IoT Hub job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hub_units: Vec<Value>,
    /// hawkBit `amountGroups`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Value>,
    /// hawkBit `successCondition` threshold (percent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success: Vec<Value>,
    /// hawkBit `errorCondition` threshold (percent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error: Vec<Value>,
}

impl GridSpec {
    /// The knobs given, in grid order, with their values as text.
    pub fn entries(&self) -> Vec<(&'static str, Vec<String>)> {
        let text = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        };
        [
            ("batch", &self.batch),
            ("threshold", &self.threshold),
            ("threshold_scope", &self.threshold_scope),
            ("rate", &self.rate),
            ("ramp", &self.ramp),
            ("abort", &self.abort),
            ("hub_units", &self.hub_units),
            ("groups", &self.groups),
            ("success", &self.success),
            ("error", &self.error),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, text(v)))
        .collect()
    }
}

/// The bad rollout from the command line: `fields` are TOML lines of a behaviour rule
/// (`failure_probability = 0.3`), `selector` a device query (`tags.firmware = '1.2'`).
///
/// ```
/// let rule = fleet_scenario::plan::spec::bad_rule(
///     &["reject_probability = 1".to_string()],
///     Some("tags.firmware = '1.2'"),
/// )?;
/// assert_eq!(rule.reject_probability, Some(fleet_sim::Probability::Value(1.0)));
/// assert!(rule.selector.query.is_some());
/// # Ok::<(), fleet_scenario::Error>(())
/// ```
pub fn bad_rule(fields: &[String], selector: Option<&str>) -> Result<BehaviourRule> {
    let text = fields.join("\n");
    let mut rule: BehaviourRule = toml::from_str(&text).map_err(|e| {
        Error::invalid(
            "bad",
            format!(
                "{text:?} is not a behaviour rule ({}): give fields such as \
                 `failure_probability = 0.3`",
                e.message()
            ),
        )
    })?;
    if let Some(query) = selector {
        rule.selector = serde_json::from_value(Value::String(query.to_string()))
            .map_err(|e| Error::invalid("bad_selector", e.to_string()))?;
    }
    rule.validate()
        .map_err(|e| crate::scenario::sim_error("bad", &e))?;
    Ok(rule)
}

/// A probability written `"1%"`, `"1pp"` (percentage points) or `0.01`; `field` names it in
/// the error.
pub fn parse_probability(field: &str, text: &str) -> Result<f64> {
    let t = text.trim();
    let (number, scale) = match t.strip_suffix("pp").or_else(|| t.strip_suffix('%')) {
        Some(n) => (n.trim(), 0.01),
        None => (t, 1.0),
    };
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1.0).contains(&(v * scale)) => Ok(v * scale),
        _ => Err(Error::invalid(
            field,
            format!("{text:?} is not a probability: give `1%`, `1pp` or a number from 0 to 1"),
        )),
    }
}

/// A probability given in a file as a string or a number.
pub(crate) fn probability_value(field: &str, v: &Value) -> Result<f64> {
    match v {
        Value::String(s) => parse_probability(field, s),
        Value::Number(n) => parse_probability(field, &n.to_string()),
        other => Err(Error::invalid(
            field,
            format!("{other} is not a probability: give `1%`, `1pp` or a number from 0 to 1"),
        )),
    }
}

/// A duration written `"4h"`, `"90m"`, `"600s"`, `"1d"` or a number of seconds; in ms.
pub fn parse_duration_ms(field: &str, text: &str) -> Result<i64> {
    let t = text.trim();
    let (number, unit_ms) = match t.char_indices().last() {
        Some((i, 'd')) => (&t[..i], 86_400_000.0),
        Some((i, 'h')) => (&t[..i], 3_600_000.0),
        Some((i, 'm')) => (&t[..i], 60_000.0),
        Some((i, 's')) => (&t[..i], 1000.0),
        _ => (t, 1000.0),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * unit_ms <= fleet_sim::MAX_VIRTUAL_MS as f64 => {
            Ok((v * unit_ms).round() as i64)
        }
        _ => Err(Error::invalid(
            field,
            format!("{text:?} is not a duration: give `4h`, `90m`, `600s`, `1d` or seconds"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_and_durations() {
        assert_eq!(parse_probability("p", "1%").unwrap(), 0.01);
        assert_eq!(parse_probability("p", "2.5pp").unwrap(), 0.025);
        assert_eq!(parse_probability("p", "0.2").unwrap(), 0.2);
        let e = parse_probability("risk.precision", "150%").unwrap_err();
        assert_eq!(e.field(), Some("risk.precision"));
        assert!(parse_probability("p", "x").is_err());
        assert_eq!(parse_duration_ms("d", "4h").unwrap(), 14_400_000);
        assert_eq!(parse_duration_ms("d", "90m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("d", "600").unwrap(), 600_000);
        assert_eq!(parse_duration_ms("d", "1.5s").unwrap(), 1500);
        assert!(parse_duration_ms("d", "-1h").is_err());
        assert!(parse_duration_ms("d", "h").is_err());
    }
}
