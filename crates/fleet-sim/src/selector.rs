//! [`Selector`]: which devices a behaviour rule or a job applies to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::fleet::Fleet;
use crate::util::column::Column;

/// A device selector: every condition given must hold (an empty selector selects every
/// device).
///
/// For now the conditions are equalities: the template id, top-level tag values, and the
/// provisioned and simulated flags. A query language (IoT Hub / IoT Central `WHERE` clauses)
/// will replace this type later; code that selects devices goes through
/// [`Selector::matches`], so only this file changes then.
///
/// ```
/// use fleet_sim::Selector;
///
/// let s: Selector = serde_json::from_str(r#"{"template": "dtmi:x;1", "tags": {"firmware": "1.2"}}"#)?;
/// assert!(!s.is_all());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Selector {
    /// The device's template id equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Each named tag equals the value (JSON equality).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, Value>,
    /// The device's provisioned flag equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned: Option<bool>,
    /// The device's simulated flag equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<bool>,
}

impl Selector {
    /// The selector of every device.
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether this selector has no condition.
    pub fn is_all(&self) -> bool {
        self == &Self::default()
    }

    /// Checks the selector (tag names not empty).
    pub fn validate(&self) -> Result<()> {
        if self.tags.keys().any(String::is_empty) {
            return Err(Error::at(
                "tags",
                ErrorKind::InvalidValue("a tag name must not be empty".into()),
            ));
        }
        Ok(())
    }

    /// Whether device `index` of `fleet` is selected. O(conditions) with map look-ups; to test
    /// many devices, the simulator compiles the selector once (column look-ups resolved).
    pub fn matches(&self, fleet: &Fleet, index: u32) -> bool {
        self.compile(fleet).matches(fleet, index)
    }

    /// The selector with its look-ups resolved against `fleet`.
    pub(crate) fn compile<'f>(&self, fleet: &'f Fleet) -> Compiled<'f> {
        let mut never = false;
        let template = self.template.as_ref().map(|t| {
            fleet.template_index(t).unwrap_or_else(|| {
                never = true;
                0
            })
        });
        let tags = self
            .tags
            .iter()
            .filter_map(|(name, value)| {
                let found = fleet
                    .tags
                    .get(name)
                    .and_then(|c| c.lookup(value).map(|v| (c, v)));
                if found.is_none() {
                    never = true;
                }
                found
            })
            .collect();
        Compiled {
            never,
            template,
            tags,
            provisioned: self.provisioned,
            simulated: self.simulated,
        }
    }
}

/// A [`Selector`] resolved against one fleet: template index, tag columns and value indices.
pub(crate) struct Compiled<'f> {
    never: bool,
    template: Option<u16>,
    tags: Vec<(&'f Column, u32)>,
    provisioned: Option<bool>,
    simulated: Option<bool>,
}

impl Compiled<'_> {
    #[inline]
    pub(crate) fn matches(&self, fleet: &Fleet, index: u32) -> bool {
        !self.never
            && self.template.is_none_or(|t| fleet.template_of(index) == t)
            && self.tags.iter().all(|(c, v)| c.index(index) == *v)
            && self
                .provisioned
                .is_none_or(|p| fleet.is_provisioned(index) == p)
            && self
                .simulated
                .is_none_or(|s| fleet.is_simulated(index) == s)
    }
}

/// The devices a job targets. Evaluated once, when the job's run starts (semantics rule 1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSpec {
    /// Every device of the fleet.
    #[default]
    All,
    /// The devices the selector matches.
    Selector(Selector),
    /// These device ids (each must exist in the fleet).
    Devices(Vec<String>),
}
