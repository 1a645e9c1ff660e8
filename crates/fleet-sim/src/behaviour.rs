//! Device behaviour and fault injection: [`BehaviourSpec`] and its [`BehaviourRule`]s.

use serde::{Deserialize, Serialize};

use crate::cohort::{self, CohortDraw, CohortFault};
use crate::distribution::{Distribution, Sampler};
use crate::error::{check_duration, check_probability, Error, ErrorKind, Result};
use crate::fleet::Fleet;
use crate::probability::Probability;
use crate::rng::{self, Purpose};
use crate::selector::Selector;

/// How the devices behave: an ordered list of rules, and the swarm switch.
///
/// # Rules and overrides
///
/// Every device starts from the defaults below. The rules are applied in order; each rule whose
/// [`Selector`] matches the device overrides the fields it sets (a field left out keeps the
/// value from the defaults or an earlier rule). So a broad rule first and narrow exceptions
/// after. A correlated fault ("everything on firmware 1.2 fails") is a rule with
/// `failure_probability: 1.0` and a selector on the firmware tag.
///
/// | field | default |
/// |---|---|
/// | `latency` | fixed 1000 ms |
/// | `failure_probability`, `reject_probability`, `crash_probability` | 0 |
/// | `offline` | false (online from the start) |
/// | `reconnect` | none: a device offline from the start never connects |
/// | `flapping` | none |
/// | `crash_downtime` | fixed 60,000 ms |
///
/// Each device's rules are resolved once, when the simulation is built, to a small profile
/// index; the hot path never evaluates a selector.
///
/// # Swarm mode
///
/// With `swarm: true` the seed also draws the fault mix ("swarm testing": each seed enables a
/// different subset of faults). For each rule `i` and each fault field `f` the rule sets
/// (`failure_probability`, `reject_probability`, `crash_probability`, `offline`, `flapping`, in
/// that order, `f` = 0..4), two draws from the stream (seed, rule `i`, `f`, swarm) decide:
/// the first, `u1 < 0.5`, whether the fault is kept at all (otherwise the probability becomes
/// 0, or the flapping is removed); the second, `u2`, scales a kept probability by `2 * u2`
/// (capped at 1), so that the mean over seeds is the written value. Flapping, when kept, is
/// unchanged. Latency is never changed. The drawn mix is reported in
/// [`crate::SimResult::swarm`].
///
/// # Cohort faults
///
/// `cohorts` are faults with a shared cause ([`CohortFault`]): each hits its whole cohort, with
/// its probability per simulation, drawn from the seed. A hit cohort's rule applies after every
/// rule (and after the swarm draw, which does not change cohorts); the draws are reported in
/// [`crate::SimResult::cohorts`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct BehaviourSpec {
    /// Let the seed draw the fault mix (see above).
    #[serde(default)]
    pub swarm: bool,
    /// The rules, applied in order.
    #[serde(default)]
    pub rules: Vec<BehaviourRule>,
    /// Faults with a shared cause, each hitting its cohort in some simulations (see above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cohorts: Vec<CohortFault>,
    /// Devices whose device side is real code (`fleetsim serve`'s device endpoint): offline
    /// until their code connects, so offline throughout a simulation (see `docs/devices.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<Selector>,
}

/// One behaviour rule: the devices it applies to and the fields it overrides.
///
/// ```
/// use fleet_sim::BehaviourRule;
///
/// let rule: BehaviourRule = serde_json::from_str(r#"{
///     "selector": {"tags": {"firmware": "1.2"}},
///     "latency": {"type": "lognormal", "median_ms": 2000, "sigma": 0.5},
///     "failure_probability": 0.03,
///     "offline": 0.01
/// }"#)?;
/// rule.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct BehaviourRule {
    /// A name for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The devices the rule applies to (default: all).
    #[serde(default, skip_serializing_if = "Selector::is_all")]
    pub selector: Selector,
    /// The time a device takes to answer an operation, from when it receives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Distribution>,
    /// Probability that an operation fails on the device (it answers with an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_probability: Option<Probability>,
    /// Probability that the device refuses an operation (outcome rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_probability: Option<Probability>,
    /// Devices offline from the start: `true`, `false`, or the fraction of the selected devices
    /// (each drawn from the seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<Offline>,
    /// When a device offline from the start connects, from time 0 (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<Distribution>,
    /// Connectivity that goes up and down (exponential up and down times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<Flapping>,
    /// Probability that the device crashes while handling an operation: it never answers it and
    /// is offline for `crash_downtime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_probability: Option<Probability>,
    /// How long a crashed device stays offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_downtime: Option<Distribution>,
}

/// Whether devices are offline from the start: all or none, or a fraction of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Offline {
    /// All selected devices (`true`) or none (`false`).
    All(bool),
    /// This fraction of the selected devices, in `[0, 1]`, each drawn from the seed.
    Fraction(f64),
}

impl Offline {
    /// The probability that a selected device is offline.
    pub fn probability(self) -> f64 {
        match self {
            Self::All(b) => f64::from(u8::from(b)),
            Self::Fraction(p) => p,
        }
    }
}

/// Flapping connectivity: up and down times are exponential with these means, and a device
/// starts down with probability `mean_down_ms / (mean_up_ms + mean_down_ms)` (the stationary
/// share), so that flapping devices are not synchronised at time 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Flapping {
    /// Mean time connected, positive.
    pub mean_up_ms: f64,
    /// Mean time disconnected, positive.
    pub mean_down_ms: f64,
}

impl BehaviourSpec {
    /// Checks every rule; the error names the field (`rules[2].latency.sigma`).
    pub fn validate(&self) -> Result<()> {
        if self.rules.len() + self.cohorts.len() > 64 {
            return Err(Error::at(
                if self.cohorts.is_empty() {
                    "rules"
                } else {
                    "cohorts"
                },
                ErrorKind::TooLarge("more than 64 behaviour rules and cohorts together".into()),
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            r.validate().map_err(|e| e.at_index(i).within("rules"))?;
        }
        if let Some(s) = &self.external {
            s.validate().map_err(|e| e.within("external"))?;
        }
        for (i, c) in self.cohorts.iter().enumerate() {
            c.validate().map_err(|e| e.at_index(i).within("cohorts"))?;
        }
        Ok(())
    }
}

impl BehaviourRule {
    /// Checks the fields; the error names the field (`latency.sigma`, `failure_probability`).
    pub fn validate(&self) -> Result<()> {
        self.selector.validate().map_err(|e| e.within("selector"))?;
        for (field, d) in [
            ("latency", &self.latency),
            ("reconnect", &self.reconnect),
            ("crash_downtime", &self.crash_downtime),
        ] {
            if let Some(d) = d {
                d.validate().map_err(|e| e.within(field))?;
            }
        }
        for (field, p) in [
            ("failure_probability", self.failure_probability),
            ("reject_probability", self.reject_probability),
            ("crash_probability", self.crash_probability),
        ] {
            if let Some(p) = p {
                p.validate(field)?;
            }
        }
        if let Some(Offline::Fraction(p)) = self.offline {
            check_probability("offline", p)?;
        }
        if let Some(f) = self.flapping {
            for (field, ms) in [
                ("mean_up_ms", f.mean_up_ms),
                ("mean_down_ms", f.mean_down_ms),
            ] {
                check_duration(field, ms).map_err(|e| e.within("flapping"))?;
                if ms <= 0.0 {
                    return Err(Error::at(
                        format!("flapping.{field}"),
                        ErrorKind::InvalidValue(format!("{ms}: a mean time must be positive")),
                    ));
                }
            }
        }
        // With Beta posteriors, their means (each draw is rescaled when the sum passes 1).
        let total = [
            self.failure_probability,
            self.reject_probability,
            self.crash_probability,
        ]
        .iter()
        .flatten()
        .map(|p| p.point())
        .sum::<f64>();
        if total > 1.0 + 1e-9 {
            return Err(Error::at(
                "failure_probability",
                ErrorKind::InvalidValue(format!(
                    "failure, reject and crash probabilities add up to {total}, more than 1"
                )),
            ));
        }
        Ok(())
    }
}

/// The drawn fault mix of one rule in swarm mode (see [`BehaviourSpec`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwarmDraw {
    /// Index of the rule.
    pub rule: usize,
    /// The rule as the seed changed it.
    pub effective: BehaviourRule,
}

/// The effective behaviour of a class of devices: every rule applied, distributions compiled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Profile {
    pub(crate) latency: Sampler,
    pub(crate) failure_p: f64,
    pub(crate) reject_p: f64,
    pub(crate) crash_p: f64,
    pub(crate) offline_p: f64,
    pub(crate) reconnect: Option<Sampler>,
    pub(crate) flapping: Option<Flapping>,
    pub(crate) crash_downtime: Sampler,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            latency: Sampler::Fixed(1000),
            failure_p: 0.0,
            reject_p: 0.0,
            crash_p: 0.0,
            offline_p: 0.0,
            reconnect: None,
            flapping: None,
            crash_downtime: Sampler::Fixed(60_000),
        }
    }
}

impl Profile {
    /// Whether nothing but how it starts can keep a device of this profile offline: no
    /// reconnect time, no flapping, no crashes.
    pub(crate) fn is_steady(&self) -> bool {
        self.reconnect.is_none() && self.flapping.is_none() && self.crash_p == 0.0
    }

    fn apply(&mut self, r: &BehaviourRule) {
        if let Some(d) = &r.latency {
            self.latency = d.compile();
        }
        // Drawn beforehand ([`draw_posteriors`]): every probability is a value here.
        if let Some(p) = r.failure_probability {
            self.failure_p = p.point();
        }
        if let Some(p) = r.reject_probability {
            self.reject_p = p.point();
        }
        if let Some(p) = r.crash_probability {
            self.crash_p = p.point();
        }
        if let Some(o) = r.offline {
            self.offline_p = o.probability();
        }
        if let Some(d) = &r.reconnect {
            self.reconnect = Some(d.compile());
        }
        if let Some(f) = r.flapping {
            self.flapping = Some(f);
        }
        if let Some(d) = &r.crash_downtime {
            self.crash_downtime = d.compile();
        }
    }
}

/// The behaviour resolved for every device of a fleet: the distinct profiles, and per device
/// the index of its profile.
///
/// Memory: one `u16` per device when rules select subsets (2 MB per million devices), nothing
/// when every rule applies to every device. Lookup O(1).
#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    pub(crate) profiles: Vec<Profile>,
    /// Per device; empty when there is one profile.
    profile_of: Vec<u16>,
    pub(crate) swarm: Option<Vec<SwarmDraw>>,
    /// Which cohort faults the seed hit.
    pub(crate) cohorts: Vec<CohortDraw>,
    /// The `external` devices (fleet indices, ascending).
    pub(crate) external: Vec<u32>,
}

impl Behaviour {
    /// Whether every profile is steady ([`Profile::is_steady`]). O(profiles).
    pub(crate) fn is_steady(&self) -> bool {
        self.profiles.iter().all(Profile::is_steady)
    }

    /// Resolves `spec` (validated) for `fleet`, drawing the swarm mix and the cohort faults
    /// from `seed`.
    pub(crate) fn compile(spec: &BehaviourSpec, fleet: &Fleet, seed: u64) -> Result<Self> {
        spec.validate().map_err(|e| e.within("behaviour"))?;
        let (mut rules, swarm) = resolve_rules(spec, seed);
        // The hit cohorts' rules after every rule: resolved here, once, like the rules.
        let (cohorts, hit) = cohort::draw(&spec.cohorts, seed);
        rules.extend(hit);
        let external = spec
            .external
            .as_ref()
            .map_or(Vec::new(), |s| s.select(fleet));
        let selective: Vec<usize> = (0..rules.len())
            .filter(|&i| !rules[i].selector.is_all())
            .collect();
        let profile_for = |mask: u64| {
            let mut p = Profile::default();
            for (i, r) in rules.iter().enumerate() {
                if r.selector.is_all() || mask & (1 << i) != 0 {
                    p.apply(r);
                }
            }
            p
        };
        if selective.is_empty() {
            return Ok(Self {
                profiles: vec![profile_for(0)],
                profile_of: Vec::new(),
                swarm,
                cohorts,
                external,
            });
        }
        let compiled: Vec<_> = selective
            .iter()
            .map(|&i| (i, rules[i].selector.compile(fleet)))
            .collect();
        // Masks seen, in order of first appearance (deterministic: devices in index order).
        let mut masks: Vec<u64> = Vec::new();
        let mut profile_of = Vec::with_capacity(fleet.len() as usize);
        for d in 0..fleet.len() {
            let mut mask = 0u64;
            for (i, c) in &compiled {
                if c.matches(fleet, d) {
                    mask |= 1 << i;
                }
            }
            let k = match masks.iter().position(|&m| m == mask) {
                Some(k) => k,
                None => {
                    masks.push(mask);
                    masks.len() - 1
                }
            };
            profile_of.push(k as u16);
        }
        let profiles = masks.iter().map(|&m| profile_for(m)).collect();
        Ok(Self {
            profiles,
            profile_of,
            swarm,
            cohorts,
            external,
        })
    }

    /// The profile of device `index`.
    #[inline]
    pub(crate) fn profile(&self, index: u32) -> &Profile {
        match self.profile_of.get(index as usize) {
            Some(&k) => &self.profiles[k as usize],
            None => &self.profiles[0],
        }
    }

    /// Heap bytes of the per-device index.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.profile_of.capacity() * 2
    }
}

/// The rules one simulation uses: Beta probabilities drawn (see [`Probability`]), then, in
/// swarm mode, the fault mix drawn, with the mix for the report.
fn resolve_rules(spec: &BehaviourSpec, seed: u64) -> (Vec<BehaviourRule>, Option<Vec<SwarmDraw>>) {
    let drawn: Vec<BehaviourRule> = spec
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| draw_posteriors(r, i, seed))
        .collect();
    if !spec.swarm {
        return (drawn, None);
    }
    let rules: Vec<BehaviourRule> = drawn
        .iter()
        .enumerate()
        .map(|(i, r)| swarm_rule(r, i, seed))
        .collect();
    let draws = rules
        .iter()
        .enumerate()
        .map(|(rule, r)| SwarmDraw {
            rule,
            effective: r.clone(),
        })
        .collect();
    (rules, Some(draws))
}

fn swarm_rule(rule: &BehaviourRule, i: usize, seed: u64) -> BehaviourRule {
    let mut r = rule.clone();
    let draw = |f: u32| {
        let keep = rng::unit(seed, i as u64, f, Purpose::Swarm) < 0.5;
        let scale = 2.0 * rng::unit(seed, i as u64, f + 16, Purpose::Swarm);
        (keep, scale)
    };
    let scaled = |p: Option<f64>, f: u32| {
        p.map(|p: f64| {
            let (keep, scale) = draw(f);
            if keep {
                (p * scale).min(1.0)
            } else {
                0.0
            }
        })
    };
    let value = |p: Option<Probability>| p.map(Probability::point);
    r.failure_probability = scaled(value(r.failure_probability), 0).map(Probability::Value);
    r.reject_probability = scaled(value(r.reject_probability), 1).map(Probability::Value);
    r.crash_probability = scaled(value(r.crash_probability), 2).map(Probability::Value);
    r.offline = scaled(r.offline.map(Offline::probability), 3).map(Offline::Fraction);
    if r.flapping.is_some() && !draw(4).0 {
        r.flapping = None;
    }
    // Keep the sum of the outcome probabilities within 1 (scaling may push it over).
    keep_within_one(&mut r);
    r
}

/// Rescales the outcome probabilities (values by now) so that their sum is at most 1.
fn keep_within_one(r: &mut BehaviourRule) {
    let fields = [
        &mut r.failure_probability,
        &mut r.reject_probability,
        &mut r.crash_probability,
    ];
    let total: f64 = fields
        .iter()
        .filter_map(|p| p.map(Probability::point))
        .sum();
    if total > 1.0 {
        for p in fields.into_iter().flatten() {
            *p = Probability::Value(p.point() / total);
        }
    }
}

/// The rule with each Beta probability replaced by its draw for this simulation (seed, rule
/// `i`, field 0 failure, 1 reject, 2 crash; see [`Probability`]); rescaled when the drawn
/// outcome probabilities add up to more than 1.
fn draw_posteriors(rule: &BehaviourRule, i: usize, seed: u64) -> BehaviourRule {
    let mut r = rule.clone();
    for (f, p) in [
        &mut r.failure_probability,
        &mut r.reject_probability,
        &mut r.crash_probability,
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(q) = p {
            *q = Probability::Value(q.draw(seed, i, f as u32));
        }
    }
    keep_within_one(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let bad = BehaviourSpec {
            swarm: false,
            cohorts: Vec::new(),
            external: None,
            rules: vec![
                BehaviourRule::default(),
                BehaviourRule {
                    latency: Some(Distribution::Lognormal {
                        median_ms: 100.0,
                        sigma: -1.0,
                    }),
                    ..Default::default()
                },
            ],
        };
        assert_eq!(
            bad.validate().unwrap_err().field(),
            Some("rules[1].latency.sigma")
        );
        let bad = BehaviourRule {
            failure_probability: Some(1.5.into()),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().field(),
            Some("failure_probability")
        );
        let bad = BehaviourRule {
            offline: Some(Offline::Fraction(-0.1)),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field(), Some("offline"));
        let bad = BehaviourRule {
            flapping: Some(Flapping {
                mean_up_ms: 0.0,
                mean_down_ms: 1.0,
            }),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().field(),
            Some("flapping.mean_up_ms")
        );
    }

    #[test]
    fn offline_parses_bool_or_fraction() {
        let r: BehaviourRule = serde_json::from_str(r#"{"offline": true}"#).unwrap();
        assert_eq!(r.offline, Some(Offline::All(true)));
        let r: BehaviourRule = serde_json::from_str(r#"{"offline": 0.25}"#).unwrap();
        assert_eq!(r.offline, Some(Offline::Fraction(0.25)));
        assert!(serde_json::from_str::<BehaviourRule>(r#"{"ofline": true}"#).is_err());
    }
}
