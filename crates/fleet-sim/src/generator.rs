//! [`FleetSpec`]: the compact description of a generated fleet, and its generator.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{check_probability, Error, ErrorKind, Result};

/// A generated fleet: how many devices, how they are named, which templates and tags they get.
///
/// ```
/// use fleet_sim::{Fleet, FleetSpec, TemplateSpec};
///
/// let spec: FleetSpec = serde_json::from_str(r#"{
///     "devices": 1000,
///     "id_pattern": "therm-{:06}",
///     "templates": [{"template": "dtmi:contoso:thermostat;1", "share": 1.0}],
///     "tags": [{"name": "region", "values": [{"value": "eu", "weight": 3}, {"value": "us", "weight": 1}]}]
/// }"#)?;
/// let templates = vec![TemplateSpec { id: "dtmi:contoso:thermostat;1".into(), ..Default::default() }];
/// let fleet = Fleet::generate(&spec, &templates, 42)?;
/// assert_eq!(fleet.len(), 1000);
/// assert_eq!(fleet.id(7).to_string(), "therm-000007");
/// assert_eq!(fleet.index_of("therm-000007"), Some(7));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Generation rules
///
/// - **Ids.** Device `i` (0-based) is named by `id_pattern` with the number `id_start + i`. The
///   placeholder must be zero-padded (`{:06}`) and wide enough for the largest number, so that
///   ids sort byte-wise in index order (jobs order their targets by id). Ids are not stored:
///   they are formatted on demand.
/// - **Templates.** Entries with a `count` get exactly that many devices; the remaining devices
///   are split between the entries with a `share`, in proportion to the shares, by largest
///   remainder (so the counts are exact and sum to `devices`). Entries are then spread over the
///   fleet by a permutation drawn from the seed, so that consecutive ids (and so batches) mix
///   templates. With no entry with a share, devices left over have no template.
/// - **Tags and initial reported properties.** Each device draws each tag's value independently,
///   with probability proportional to the weights, from the stream (seed, device number,
///   column, purpose): a device's tags do not depend on the fleet size.
/// - **Flags.** A device is provisioned with probability `provisioned` and simulated with
///   probability `simulated`, each an independent draw per device.
///
/// # An imported fleet
///
/// Instead of the generator fields, a scenario's fleet may name a fleetsim fleet file
/// (`file = "fleet.jsonl"`, written by `fleetsim import`; see `docs/import.md`). The scenario
/// layer loads it; `file` excludes every generator field, and a spec with a `file` does not
/// generate ([`crate::Fleet::generate`] refuses it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FleetSection", into = "FleetSection")]
pub struct FleetSpec {
    /// Number of devices (of an imported fleet: 0 until the scenario loads it).
    pub devices: u32,
    /// The id pattern: a prefix, one zero-padded placeholder `{:0W}`, a suffix.
    pub id_pattern: String,
    /// The number of the first device (default 0).
    pub id_start: u64,
    /// Which templates the devices get.
    pub templates: Vec<TemplateShare>,
    /// Tags drawn per device.
    pub tags: Vec<ValueSpec>,
    /// Initial reported properties drawn per device (version 1).
    pub reported: Vec<ValueSpec>,
    /// Fraction of devices that are provisioned (default 1). An unprovisioned device never
    /// connects.
    pub provisioned: f64,
    /// Fraction of devices flagged as simulated (default 1; informational, for selectors).
    pub simulated: f64,
    /// A fleetsim fleet file to load instead of generating (a path relative to the scenario
    /// file); excludes the other fields.
    pub file: Option<String>,
}

/// The `[fleet]` table as written: the generator fields, or `file` alone.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FleetSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    devices: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_start: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    templates: Option<Vec<TemplateShare>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<ValueSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reported: Option<Vec<ValueSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provisioned: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    simulated: Option<f64>,
}

impl TryFrom<FleetSection> for FleetSpec {
    type Error = String;

    fn try_from(s: FleetSection) -> std::result::Result<Self, String> {
        let given: Vec<&str> = [
            ("devices", s.devices.is_some()),
            ("id_pattern", s.id_pattern.is_some()),
            ("id_start", s.id_start.is_some()),
            ("templates", s.templates.is_some()),
            ("tags", s.tags.is_some()),
            ("reported", s.reported.is_some()),
            ("provisioned", s.provisioned.is_some()),
            ("simulated", s.simulated.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect();
        match (&s.file, s.devices) {
            (Some(_), _) if !given.is_empty() => Err(format!(
                "an imported fleet (`file`) takes no generator fields: remove `{}`, or remove \
                 `file` to generate the fleet",
                given.join("`, `")
            )),
            (None, None) => Err(
                "missing field `devices` (a generated fleet), or give `file` (a fleet file \
                 written by `fleetsim import`)"
                    .to_string(),
            ),
            _ => {
                let d = FleetSpec::default();
                Ok(FleetSpec {
                    devices: s.devices.unwrap_or(0),
                    id_pattern: s.id_pattern.unwrap_or(d.id_pattern),
                    id_start: s.id_start.unwrap_or(d.id_start),
                    templates: s.templates.unwrap_or_default(),
                    tags: s.tags.unwrap_or_default(),
                    reported: s.reported.unwrap_or_default(),
                    provisioned: s.provisioned.unwrap_or(d.provisioned),
                    simulated: s.simulated.unwrap_or(d.simulated),
                    file: s.file,
                })
            }
        }
    }
}

impl From<FleetSpec> for FleetSection {
    fn from(s: FleetSpec) -> Self {
        if s.file.is_some() {
            return FleetSection {
                file: s.file,
                devices: None,
                id_pattern: None,
                id_start: None,
                templates: None,
                tags: None,
                reported: None,
                provisioned: None,
                simulated: None,
            };
        }
        FleetSection {
            file: None,
            devices: Some(s.devices),
            id_pattern: Some(s.id_pattern),
            id_start: Some(s.id_start),
            templates: Some(s.templates),
            tags: Some(s.tags),
            reported: Some(s.reported),
            provisioned: Some(s.provisioned),
            simulated: Some(s.simulated),
        }
    }
}

fn default_id_pattern() -> String {
    "device-{:06}".to_string()
}

fn one() -> f64 {
    1.0
}

impl Default for FleetSpec {
    /// No devices, pattern `device-{:06}`, everything provisioned and simulated.
    fn default() -> Self {
        Self {
            devices: 0,
            id_pattern: default_id_pattern(),
            id_start: 0,
            templates: Vec::new(),
            tags: Vec::new(),
            reported: Vec::new(),
            provisioned: 1.0,
            simulated: 1.0,
            file: None,
        }
    }
}

/// A template assignment: exactly one of `share` (a weight of the devices left after the
/// counts) and `count` (exactly that many devices).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TemplateShare {
    /// The template id.
    pub template: String,
    /// A weight, not negative (normalised over the entries with a share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// An exact number of devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// A per-device value drawn from weighted choices (a tag, an initial reported property).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ValueSpec {
    /// The tag or property name.
    pub name: String,
    /// The choices, at least one.
    pub values: Vec<WeightedValue>,
}

/// One choice of a [`ValueSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct WeightedValue {
    /// The value: a JSON scalar (string, number, boolean or null).
    pub value: Value,
    /// The relative weight, not negative (default 1).
    #[serde(default = "one")]
    pub weight: f64,
}

impl FleetSpec {
    /// Checks the spec; the error names the field (`tags[1].values[0].weight`).
    /// An imported fleet (`file`) passes: its devices are checked when it is loaded.
    pub fn validate(&self) -> Result<()> {
        match self.file {
            Some(_) => Ok(()),
            None => self.validate_generated(),
        }
    }

    /// Checks the generator fields.
    fn validate_generated(&self) -> Result<()> {
        let pattern = IdPattern::parse(&self.id_pattern).map_err(|e| e.within("id_pattern"))?;
        let last = self
            .id_start
            .saturating_add(u64::from(self.devices.saturating_sub(1)));
        pattern
            .check_width(last)
            .map_err(|e| e.within("id_pattern"))?;
        check_probability("provisioned", self.provisioned)?;
        check_probability("simulated", self.simulated)?;
        let mut counted: u64 = 0;
        for (i, t) in self.templates.iter().enumerate() {
            let at = |f: &str| format!("templates[{i}].{f}");
            if t.template.is_empty() {
                return Err(Error::at(
                    at("template"),
                    ErrorKind::InvalidValue("empty template id".into()),
                ));
            }
            match (t.share, t.count) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(Error::at(
                        format!("templates[{i}]"),
                        ErrorKind::InvalidValue("give exactly one of `share` and `count`".into()),
                    ))
                }
                (Some(s), None) if !(s.is_finite() && s >= 0.0) => {
                    return Err(Error::at(
                        at("share"),
                        ErrorKind::InvalidValue(format!(
                            "{s}: a share must be finite and not negative"
                        )),
                    ))
                }
                (None, Some(c)) => counted += u64::from(c),
                _ => {}
            }
        }
        if counted > u64::from(self.devices) {
            return Err(Error::at(
                "templates",
                ErrorKind::InvalidValue(format!(
                    "the counts add up to {counted}, more than the {} devices",
                    self.devices
                )),
            ));
        }
        let shares: f64 = self.templates.iter().filter_map(|t| t.share).sum();
        if self.templates.iter().any(|t| t.share.is_some())
            && shares <= 0.0
            && counted < u64::from(self.devices)
        {
            return Err(Error::at(
                "templates",
                ErrorKind::InvalidValue("the shares add up to 0".into()),
            ));
        }
        for (list, specs) in [("tags", &self.tags), ("reported", &self.reported)] {
            for (i, v) in specs.iter().enumerate() {
                v.validate().map_err(|e| e.at_index(i).within(list))?;
                if specs[..i].iter().any(|o| o.name == v.name) {
                    return Err(Error::at(
                        format!("{list}[{i}].name"),
                        ErrorKind::Duplicate(v.name.clone()),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl ValueSpec {
    /// Checks the name and the weights.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::at(
                "name",
                ErrorKind::InvalidValue("a name must not be empty".into()),
            ));
        }
        if self.values.is_empty() {
            return Err(Error::at(
                "values",
                ErrorKind::InvalidValue("at least one value is required".into()),
            ));
        }
        let mut total = 0.0;
        for (i, v) in self.values.iter().enumerate() {
            if !(v.weight.is_finite() && v.weight >= 0.0) {
                return Err(Error::at(
                    format!("values[{i}].weight"),
                    ErrorKind::InvalidValue(format!(
                        "{}: a weight must be finite and not negative",
                        v.weight
                    )),
                ));
            }
            if v.value.is_array() || v.value.is_object() {
                return Err(Error::at(
                    format!("values[{i}].value"),
                    ErrorKind::InvalidValue("a value must be a JSON scalar".into()),
                ));
            }
            total += v.weight;
        }
        if total <= 0.0 {
            return Err(Error::at(
                "values",
                ErrorKind::InvalidValue("the weights add up to 0".into()),
            ));
        }
        Ok(())
    }

    /// The cumulative weights, normalised to end at 1.
    pub(crate) fn cumulative(&self) -> Vec<f64> {
        let total: f64 = self.values.iter().map(|v| v.weight).sum();
        let mut acc = 0.0;
        let mut out: Vec<f64> = self
            .values
            .iter()
            .map(|v| {
                acc += v.weight;
                acc / total
            })
            .collect();
        if let Some(last) = out.last_mut() {
            *last = 1.0;
        }
        out
    }
}

/// Picks the index whose cumulative weight first exceeds `u` (u in [0, 1)).
///
/// `cumulative` is non-decreasing ([`ValueSpec::cumulative`]), so the index is the number of
/// entries before the last that are `<= u`. Up to [`PICK_LINEAR`] values, that count is taken
/// without branches (a compare and an add per value: a generated tag of two values costs a
/// few instructions per device, where the binary search cost about 15); beyond, a binary
/// search, O(log k). Both give the same index.
#[inline]
pub(crate) fn pick(cumulative: &[f64], u: f64) -> usize {
    debug_assert!(cumulative.windows(2).all(|w| w[0] <= w[1]));
    let last = cumulative.len() - 1;
    if last < PICK_LINEAR {
        cumulative[..last]
            .iter()
            .map(|&c| usize::from(c <= u))
            .sum()
    } else {
        cumulative.partition_point(|&c| c <= u).min(last)
    }
}

/// The most values [`pick`] counts through linearly.
const PICK_LINEAR: usize = 8;

/// A parsed id pattern: `prefix`, a number zero-padded to `width` digits, `suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdPattern {
    pub(crate) prefix: String,
    pub(crate) width: usize,
    pub(crate) suffix: String,
}

impl IdPattern {
    pub(crate) fn parse(pattern: &str) -> Result<Self> {
        let fail = |reason: &str| {
            Err(Error::new(ErrorKind::IdPattern {
                pattern: pattern.to_string(),
                reason: reason.to_string(),
            }))
        };
        let Some(open) = pattern.find('{') else {
            return fail("no placeholder: write one zero-padded number placeholder such as {:06}");
        };
        let Some(close) = pattern[open..].find('}').map(|c| open + c) else {
            return fail("unclosed `{`");
        };
        let (prefix, spec, suffix) = (
            &pattern[..open],
            &pattern[open + 1..close],
            &pattern[close + 1..],
        );
        if suffix.contains(['{', '}']) || prefix.contains('}') {
            return fail("only one placeholder is allowed");
        }
        let Some(digits) = spec.strip_prefix(":0") else {
            return fail("the placeholder must be zero-padded, such as {:06}, so that ids sort in index order");
        };
        let Ok(width) = digits.parse::<usize>() else {
            return fail("the placeholder's width must be a number, such as {:06}");
        };
        if !(1..=20).contains(&width) {
            return fail("the placeholder's width must be 1 to 20");
        }
        Ok(Self {
            prefix: prefix.to_string(),
            width,
            suffix: suffix.to_string(),
        })
    }

    /// Checks that `last` fits in the width.
    pub(crate) fn check_width(&self, last: u64) -> Result<()> {
        let digits = last.checked_ilog10().map_or(1, |d| d as usize + 1);
        if digits > self.width {
            return Err(Error::new(ErrorKind::IdPattern {
                pattern: format!("{}{{:0{}}}{}", self.prefix, self.width, self.suffix),
                reason: format!("the number {last} needs {digits} digits; widen the placeholder so that ids sort in index order"),
            }));
        }
        Ok(())
    }

    /// The number in `id`, if `id` is of this pattern.
    pub(crate) fn number_of(&self, id: &str) -> Option<u64> {
        let digits = id.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        if digits.len() != self.width || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

/// Exact per-template device counts by the rules of [`FleetSpec`]: the counts, then the shares
/// by largest remainder. Returns one count per entry of `spec.templates`.
pub(crate) fn template_counts(spec: &FleetSpec) -> Vec<u32> {
    let counted: u32 = spec.templates.iter().filter_map(|t| t.count).sum();
    let rest = spec.devices - counted;
    let shares: f64 = spec.templates.iter().filter_map(|t| t.share).sum();
    let mut out: Vec<u32> = spec
        .templates
        .iter()
        .map(|t| t.count.unwrap_or(0))
        .collect();
    if shares <= 0.0 || rest == 0 {
        return out;
    }
    let mut remainders: Vec<(f64, usize)> = Vec::new();
    let mut given = 0u32;
    for (i, t) in spec.templates.iter().enumerate() {
        if let Some(s) = t.share {
            let exact = f64::from(rest) * s / shares;
            let floor = exact.floor() as u32;
            out[i] += floor;
            given += floor;
            remainders.push((exact - f64::from(floor), i));
        }
    }
    // Largest remainder first; ties to the earlier entry.
    remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take((rest - given) as usize) {
        out[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_fleet_is_generated_or_imported_not_both() {
        let spec: FleetSpec = serde_json::from_value(json!({"file": "fleet.jsonl"})).unwrap();
        assert_eq!(spec.file.as_deref(), Some("fleet.jsonl"));
        assert_eq!(spec.devices, 0);
        spec.validate().unwrap();
        // It serializes as written, so it reads back.
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({"file": "fleet.jsonl"})
        );
        let e = serde_json::from_value::<FleetSpec>(
            json!({"file": "f.jsonl", "devices": 3, "tags": []}),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "an imported fleet (`file`) takes no generator fields: remove `devices`, `tags`"
            ),
            "{e}"
        );
        let e = serde_json::from_value::<FleetSpec>(json!({"id_pattern": "d-{:03}"})).unwrap_err();
        assert!(e.to_string().contains("missing field `devices`"), "{e}");
        let e =
            serde_json::from_value::<FleetSpec>(json!({"devices": 1, "file_": "x"})).unwrap_err();
        assert!(e.to_string().contains("unknown field `file_`"), "{e}");
        let generated: FleetSpec = serde_json::from_value(json!({"devices": 4})).unwrap();
        assert_eq!(
            generated,
            FleetSpec {
                devices: 4,
                ..FleetSpec::default()
            }
        );
        let back: FleetSpec =
            serde_json::from_value(serde_json::to_value(&generated).unwrap()).unwrap();
        assert_eq!(back, generated);
        let e = crate::Fleet::generate(&spec, &[], 1).unwrap_err();
        assert_eq!(e.field(), Some("file"));
    }

    #[test]
    fn patterns() {
        let p = IdPattern::parse("therm-{:06}").unwrap();
        assert_eq!(
            (p.prefix.as_str(), p.width, p.suffix.as_str()),
            ("therm-", 6, "")
        );
        assert_eq!(p.number_of("therm-000042"), Some(42));
        assert_eq!(p.number_of("therm-42"), None);
        assert!(IdPattern::parse("therm-{}").is_err());
        assert!(IdPattern::parse("therm").is_err());
        assert!(IdPattern::parse("a{:03}b{:03}").is_err());
        assert!(p.check_width(999_999).is_ok());
        assert!(p.check_width(1_000_000).is_err());
    }

    #[test]
    fn counts_are_exact() {
        let spec = FleetSpec {
            devices: 10,
            templates: vec![
                TemplateShare {
                    template: "a".into(),
                    count: Some(3),
                    share: None,
                },
                TemplateShare {
                    template: "b".into(),
                    share: Some(1.0),
                    count: None,
                },
                TemplateShare {
                    template: "c".into(),
                    share: Some(1.0),
                    count: None,
                },
            ],
            ..FleetSpec::default()
        };
        spec.validate().unwrap();
        assert_eq!(template_counts(&spec), vec![3, 4, 3]);
    }

    #[test]
    fn validation_names_fields() {
        let mut spec = FleetSpec {
            devices: 10,
            ..FleetSpec::default()
        };
        spec.tags = vec![ValueSpec {
            name: "r".into(),
            values: vec![WeightedValue {
                value: json!("x"),
                weight: -1.0,
            }],
        }];
        assert_eq!(
            spec.validate().unwrap_err().field(),
            Some("tags[0].values[0].weight")
        );
        spec.tags.clear();
        spec.provisioned = 1.5;
        assert_eq!(spec.validate().unwrap_err().field(), Some("provisioned"));
        spec.provisioned = 1.0;
        spec.id_pattern = "d-{:02}".into();
        spec.id_start = 95;
        assert_eq!(spec.validate().unwrap_err().field(), Some("id_pattern"));
    }

    #[test]
    fn pick_follows_weights() {
        let v = ValueSpec {
            name: "t".into(),
            values: vec![
                WeightedValue {
                    value: json!(1),
                    weight: 1.0,
                },
                WeightedValue {
                    value: json!(2),
                    weight: 3.0,
                },
            ],
        };
        let c = v.cumulative();
        assert_eq!(pick(&c, 0.0), 0);
        assert_eq!(pick(&c, 0.24), 0);
        assert_eq!(pick(&c, 0.25), 1);
        assert_eq!(pick(&c, 0.9999), 1);
    }

    proptest::proptest! {
        /// The linear count of `pick` is the binary search's index, zero weights included.
        #[test]
        fn pick_is_the_binary_search(
            weights in proptest::collection::vec(
                proptest::prop_oneof![proptest::strategy::Just(0.0), 0.0f64..10.0],
                1..20,
            ),
            u in 0.0f64..1.0,
        ) {
            proptest::prop_assume!(weights.iter().sum::<f64>() > 0.0);
            let v = ValueSpec {
                name: "t".into(),
                values: weights
                    .iter()
                    .map(|&weight| WeightedValue { value: json!(0), weight })
                    .collect(),
            };
            let c = v.cumulative();
            let search = c.partition_point(|&x| x <= u).min(c.len() - 1);
            proptest::prop_assert_eq!(pick(&c, u), search);
            for &x in &c {
                proptest::prop_assert_eq!(pick(&c, x), c.partition_point(|&y| y <= x).min(c.len() - 1));
            }
        }
    }
}
