//! Eclipse hawkBit: the body of a rollout create (`POST /rest/v1/rollouts`), with its groups and
//! group conditions, and its conversion into a [`RunBuilder`] with equal batches and a gate
//! (`docs/semantics.md` section 16).
//!
//! Field names follow hawkBit's Management API (`MgmtRolloutRestRequestBodyPost`). Every struct
//! denies unknown fields.

use serde::{Deserialize, Serialize};
use serde_json::Number;

use crate::batch::{BatchSize, Shares};
use crate::error::{Error, ErrorKind, Result};
use crate::gate::{GatePercent, GroupGate, SuccessAction, SuccessCondition};
use crate::model::validate::Validate;
use crate::model::word::vocabulary;
use crate::RunBuilder;

/// The most groups a rollout may have (hawkBit's default quota).
pub const HAWKBIT_GROUPS_MAX: u32 = 500;
/// The success threshold hawkBit uses when a rollout gives none (`withDefaults`).
pub const HAWKBIT_DEFAULT_SUCCESS_PERCENT: u32 = 50;
/// The error threshold hawkBit uses when a rollout gives none (`withDefaults`).
pub const HAWKBIT_DEFAULT_ERROR_PERCENT: u32 = 50;

vocabulary! {
    /// How a group condition is evaluated (`condition`): hawkBit knows `THRESHOLD`.
    pub enum HawkbitConditionType {
        /// `THRESHOLD`: a percentage of the group, given as the `expression`.
        Threshold = "THRESHOLD",
    }
}

vocabulary! {
    /// What happens when a group's success condition holds (`successAction.action`).
    pub enum HawkbitSuccessActionType {
        /// `NEXTGROUP`: start the next group.
        NextGroup = "NEXTGROUP",
        /// `PAUSE`: pause the rollout.
        Pause = "PAUSE",
    }
}

vocabulary! {
    /// What happens when a group's error condition holds (`errorAction.action`).
    pub enum HawkbitErrorActionType {
        /// `PAUSE`: pause the rollout.
        Pause = "PAUSE",
    }
}

vocabulary! {
    /// How devices are asked to install (`type`); it does not change the rollout's gates.
    pub enum HawkbitActionType {
        /// `forced`.
        Forced = "forced",
        /// `soft`.
        Soft = "soft",
        /// `timeforced`.
        TimeForced = "timeforced",
        /// `downloadonly`.
        DownloadOnly = "downloadonly",
    }
}

/// `successCondition` / `errorCondition`: `{"condition": "THRESHOLD", "expression": "80"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HawkbitCondition {
    /// `THRESHOLD`.
    pub condition: HawkbitConditionType,
    /// A whole percentage, 0 to 100, as a string.
    pub expression: String,
}

/// `successAction`: `{"action": "NEXTGROUP", "expression": ""}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HawkbitSuccessAction {
    /// `NEXTGROUP` or `PAUSE`.
    pub action: HawkbitSuccessActionType,
    /// Unused by hawkBit's actions (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// `errorAction`: `{"action": "PAUSE", "expression": ""}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HawkbitErrorAction {
    /// `PAUSE`.
    pub action: HawkbitErrorActionType,
    /// Unused by hawkBit's actions (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// One element of `groups`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HawkbitGroup {
    /// The group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A filter of its own (not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_filter_query: Option<String>,
    /// The share of the remaining targets it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_percentage: Option<Number>,
    /// Its success condition (must equal the rollout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<HawkbitCondition>,
    /// Its success action (must equal the rollout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_action: Option<HawkbitSuccessAction>,
    /// Its error condition (must equal the rollout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_condition: Option<HawkbitCondition>,
    /// Its error action (must equal the rollout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_action: Option<HawkbitErrorAction>,
    /// Whether devices must confirm (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_required: Option<bool>,
}

/// The body of a hawkBit rollout create.
///
/// Conversion ([`HawkbitRollout::run_builder`]):
///
/// - `amountGroups` k (default 1), or `groups` (k = its length): k equal batches
///   ([`BatchSize::Groups`]), or phased batches when the groups give their own percentages
///   ([`BatchSize::Shares`]).
/// - `successCondition` `THRESHOLD` p and `successAction` `NEXTGROUP` / `PAUSE`: the gate's
///   success condition; `errorCondition` `THRESHOLD` e with `errorAction` `PAUSE`: its error
///   condition. Absent conditions and actions take hawkBit's defaults: success 50 with
///   `NEXTGROUP`, error 50 with `PAUSE`.
///
/// Validation ([`Validate`]), each error at the field's path:
///
/// - `name` and `distributionSetId` are required.
/// - `amountGroups` 1 to 500, not together with `groups`; `groups` not empty, at most 500.
/// - a condition's `expression` is a whole number 0 to 100.
/// - a group with its own `targetFilterQuery`, or conditions different from the rollout's, is
///   not supported yet. Every group gives a `targetPercentage` or none: none, or the equal
///   split hawkBit itself writes for `amountGroups` (group i of k takes `100 / (k − i)` % of
///   the remaining targets), make equal groups; other percentages make phased groups
///   ([`BatchSize::Shares`]: 1 to 16 groups, the last 100).
/// - `startAt` (a scheduled start) and `dynamic` rollouts are not supported yet.
///
/// The rollout's `targetFilterQuery` is kept but not evaluated: a scenario names the targets
/// with the job entry's `group` (all devices without one).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HawkbitRollout {
    /// The rollout's name (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The target filter (FIQL); kept, not evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_filter_query: Option<String>,
    /// The distribution set to deploy (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_set_id: Option<u64>,
    /// The number of equal groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_groups: Option<u32>,
    /// The groups, explicitly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<HawkbitGroup>>,
    /// When a group may let the next one start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<HawkbitCondition>,
    /// What then happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_action: Option<HawkbitSuccessAction>,
    /// When a group's failures pause the rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_condition: Option<HawkbitCondition>,
    /// `PAUSE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_action: Option<HawkbitErrorAction>,
    /// `forced`, `soft`, `timeforced` or `downloadonly` (kept).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<HawkbitActionType>,
    /// For `timeforced`: when the install is forced (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forcetime: Option<i64>,
    /// A scheduled start (not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<i64>,
    /// The weight of the resulting actions (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Whether devices must confirm (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_required: Option<bool>,
    /// A dynamic rollout (not supported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<bool>,
}

fn invalid(path: &str, message: String) -> Error {
    Error::at(path, ErrorKind::InvalidValue(message))
}

/// A condition's threshold: `THRESHOLD` with a whole percentage 0 to 100.
fn threshold(c: &HawkbitCondition, path: &str) -> Result<GatePercent> {
    let value: u32 = c.expression.trim().parse().map_err(|_| {
        invalid(
            &format!("{path}.expression"),
            format!(
                "{:?}: a THRESHOLD expression is a whole percentage, 0 to 100",
                c.expression
            ),
        )
    })?;
    if value > 100 {
        return Err(invalid(
            &format!("{path}.expression"),
            format!("{value}: a percentage is at most 100"),
        ));
    }
    GatePercent::new(f64::from(value))
}

impl HawkbitRollout {
    /// The number of groups (`amountGroups`, or the length of `groups`; 1 without either).
    pub fn group_count(&self) -> u32 {
        match (&self.groups, self.amount_groups) {
            (Some(groups), _) => groups.len() as u32,
            (None, Some(k)) => k,
            (None, None) => 1,
        }
    }

    /// The gate all groups share, with hawkBit's defaults for what is absent.
    pub fn gate(&self) -> Result<GroupGate> {
        let success = match &self.success_condition {
            Some(c) => threshold(c, "successCondition")?,
            None => GatePercent::new(f64::from(HAWKBIT_DEFAULT_SUCCESS_PERCENT))?,
        };
        let action = match self.success_action.as_ref().map(|a| a.action) {
            Some(HawkbitSuccessActionType::Pause) => SuccessAction::Pause,
            Some(HawkbitSuccessActionType::NextGroup) | None => SuccessAction::NextBatch,
        };
        let error = match &self.error_condition {
            Some(c) => threshold(c, "errorCondition")?,
            None => GatePercent::new(f64::from(HAWKBIT_DEFAULT_ERROR_PERCENT))?,
        };
        Ok(GroupGate {
            success: Some(SuccessCondition {
                threshold: success,
                action,
            }),
            error: Some(error),
        })
    }

    /// The engine's builder for a run of this rollout (validated first): one batch per group,
    /// and the gate.
    pub fn run_builder(&self) -> Result<RunBuilder> {
        self.validate()?;
        Ok(RunBuilder::new()
            .batch(self.batch_size()?)
            .gate(self.gate()?))
    }

    /// The batches: equal groups (`amountGroups`, or `groups` without percentages or with
    /// the equal split's), or phased groups ([`Shares`]: each group's `targetPercentage` of the
    /// targets the groups before it left, the last 100).
    pub fn batch_size(&self) -> Result<BatchSize> {
        let percent: Vec<(usize, f64)> = self
            .groups
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, g)| g.target_percentage.as_ref().map(|p| (i, p)))
            .map(|(i, p)| (i, p.as_f64().unwrap_or(f64::NAN)))
            .collect();
        let k = self.group_count();
        let equal = percent
            .iter()
            .all(|(i, p)| (p - 100.0 / (k as usize - i) as f64).abs() <= 0.01);
        if equal {
            return BatchSize::groups(k);
        }
        if let Some(missing) = (0..k as usize).find(|i| percent.iter().all(|(j, _)| j != i)) {
            return Err(invalid(
                &format!("groups[{missing}].targetPercentage"),
                "phased groups (percentages other than the equal split): give every group its \
                 targetPercentage of the remaining targets, the last 100"
                    .into(),
            ));
        }
        let values: Vec<f64> = percent.iter().map(|(_, p)| *p).collect();
        let last = format!("groups[{}].targetPercentage", values.len() - 1);
        Shares::new(&values)
            .map(BatchSize::Shares)
            .map_err(|e| invalid(&last, e.to_string()))
    }
}

impl Validate for HawkbitRollout {
    fn validate(&self) -> Result<()> {
        match &self.name {
            None => return Err(Error::at("name", ErrorKind::MissingField("name"))),
            Some(n) if n.trim().is_empty() => {
                return Err(invalid("name", "a rollout name must not be empty".into()))
            }
            Some(_) => {}
        }
        if self.distribution_set_id.is_none() {
            return Err(Error::at(
                "distributionSetId",
                ErrorKind::MissingField("distributionSetId"),
            ));
        }
        if self.start_at.is_some() {
            return Err(invalid(
                "startAt",
                "scheduled rollouts are not simulated yet; remove startAt to start at once".into(),
            ));
        }
        if self.dynamic == Some(true) {
            return Err(invalid(
                "dynamic",
                "dynamic rollouts (groups that grow with new targets) are not supported: targets \
                 are a snapshot"
                    .into(),
            ));
        }
        match (self.amount_groups, &self.groups) {
            (Some(_), Some(_)) => {
                return Err(Error::at("groups", ErrorKind::UnexpectedField("groups")))
            }
            (Some(k), None) if !(1..=HAWKBIT_GROUPS_MAX).contains(&k) => {
                return Err(invalid(
                    "amountGroups",
                    format!("{k}: a rollout has 1 to {HAWKBIT_GROUPS_MAX} groups"),
                ))
            }
            (None, Some(groups)) if groups.is_empty() || groups.len() > 500 => {
                return Err(invalid(
                    "groups",
                    format!(
                        "{} groups: a rollout has 1 to {HAWKBIT_GROUPS_MAX} groups",
                        groups.len()
                    ),
                ))
            }
            _ => {}
        }
        // The conditions' expressions (the error action can only be PAUSE: the vocabulary
        // reads no other word).
        let gate = self.gate()?;
        let Some(groups) = &self.groups else {
            return Ok(());
        };
        for (i, g) in groups.iter().enumerate() {
            let path = |field: &str| format!("groups[{i}].{field}");
            if g.target_filter_query.is_some() {
                return Err(invalid(
                    &path("targetFilterQuery"),
                    "a group's own target filter is not supported yet: groups split the \
                     rollout's targets equally"
                        .into(),
                ));
            }
            // A group may repeat the rollout's conditions, not give others.
            let own = HawkbitRollout {
                success_condition: g
                    .success_condition
                    .clone()
                    .or_else(|| self.success_condition.clone()),
                success_action: g
                    .success_action
                    .clone()
                    .or_else(|| self.success_action.clone()),
                error_condition: g
                    .error_condition
                    .clone()
                    .or_else(|| self.error_condition.clone()),
                ..HawkbitRollout::default()
            };
            let own = own.gate().map_err(|e| e.within(&format!("groups[{i}]")))?;
            let differs = if own.success != gate.success {
                Some(if g.success_condition.is_some() {
                    "successCondition"
                } else {
                    "successAction"
                })
            } else if own.error != gate.error {
                Some("errorCondition")
            } else {
                None
            };
            if let Some(field) = differs {
                return Err(invalid(
                    &path(field),
                    "per-group conditions are not supported yet: give the conditions on the \
                     rollout"
                        .into(),
                ));
            }
        }
        self.batch_size()?;
        Ok(())
    }
}
