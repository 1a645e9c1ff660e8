//! Faults with a shared cause: [`CohortFault`], a fault that hits a whole cohort of devices
//! together, in some replications and not in others.
//!
//! Real incidents are like that: one broker version, one CDN edge, one batch of flash chips.
//! Independent per-device faults (a [`BehaviourRule`] with a `failure_probability`) understate
//! the risk of such a cause, because they never fail many devices of one kind at once.
//!
//! # The draw
//!
//! Cohort `i` is hit in a simulation when the first uniform draw of the stream
//! (seed, `i`, 0, cohort) is below its `probability`. The draw depends on the seed and the
//! cohort's index alone: not on the fleet, the jobs, the plan, the thread or the order of
//! events. So replication `k` of a scenario (seed `seed + k`) has the same cohorts hit under
//! every plan of a sweep (common random numbers), and cohorts are independent of each other.
//! Every run of the simulation (a job, a rerun, a scheduled job's runs) sees the same hit:
//! the cause belongs to the world of that replication, not to one run.
//!
//! # Resolution
//!
//! A hit cohort's rule is applied after every behaviour rule, in the order of the cohorts, so
//! its fields override theirs on the cohort's devices; a cohort that is not hit changes
//! nothing. This happens once, when the simulation is built, in the same resolution of rules
//! into per-device profiles as the rules themselves: dispatches never look at a cohort.

use serde::{Deserialize, Serialize};

use crate::behaviour::BehaviourRule;
use crate::error::{check_probability, Result};
use crate::rng::{self, Purpose};

/// A fault with a shared cause: with `probability` per simulation (per seed), every device the
/// rule's selector picks gets the rule's fields together; otherwise none does.
///
/// In a file, the cohort's fields are those of a behaviour rule (`name`, `selector`,
/// `failure_probability`, `latency`, ...) and `probability`:
///
/// ```
/// use fleet_sim::CohortFault;
///
/// let c: CohortFault = serde_json::from_str(r#"{
///     "name": "broker 4.2 drops firmware 1.2 sessions",
///     "selector": "tags.firmware = '1.2'",
///     "probability": 0.1,
///     "failure_probability": 1.0
/// }"#)?;
/// c.validate()?;
/// assert_eq!(c.rule.failure_probability, Some(fleet_sim::Probability::Value(1.0)));
/// assert!(serde_json::from_str::<CohortFault>(r#"{"probability": 0.1, "failure_probabilty": 1}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct CohortFault {
    /// The probability, per simulation (per replication), that the cause is present and the
    /// whole cohort gets the rule's fields. In `[0, 1]`.
    pub probability: f64,
    /// The cohort (`selector`) and what the cause does to it (every other field of a
    /// behaviour rule).
    #[serde(flatten)]
    pub rule: BehaviourRule,
}

impl<'de> Deserialize<'de> for CohortFault {
    /// A table: `probability` (required) and the fields of a [`BehaviourRule`], unknown fields
    /// refused. (`#[serde(flatten)]` would let an unknown field through.)
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let probability = table
            .remove("probability")
            .ok_or_else(|| D::Error::missing_field("probability"))?;
        let probability = f64::deserialize(probability)
            .map_err(|e| D::Error::custom(format!("probability: {e}")))?;
        let rule = BehaviourRule::deserialize(serde_json::Value::Object(table))
            .map_err(D::Error::custom)?;
        Ok(Self { probability, rule })
    }
}

impl CohortFault {
    /// Checks the probability and the rule; the error names the field.
    pub fn validate(&self) -> Result<()> {
        check_probability("probability", self.probability)?;
        self.rule.validate()
    }

    /// Whether cohort number `index` of a behaviour is hit in the simulation of `seed`.
    pub fn is_hit(&self, index: usize, seed: u64) -> bool {
        rng::unit(seed, index as u64, 0, Purpose::Cohort) < self.probability
    }
}

/// Which cohort faults the seed hit: one entry per cohort, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CohortDraw {
    /// Index of the cohort in the behaviour's `cohorts`.
    pub cohort: usize,
    /// Its name, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the cause was present in this simulation.
    pub hit: bool,
}

/// The draws of `cohorts` under `seed`, and the rules of those hit, in order.
pub(crate) fn draw(cohorts: &[CohortFault], seed: u64) -> (Vec<CohortDraw>, Vec<BehaviourRule>) {
    let mut draws = Vec::with_capacity(cohorts.len());
    let mut rules = Vec::new();
    for (i, c) in cohorts.iter().enumerate() {
        let hit = c.is_hit(i, seed);
        if hit {
            rules.push(c.rule.clone());
        }
        draws.push(CohortDraw {
            cohort: i,
            name: c.rule.name.clone(),
            hit,
        });
    }
    (draws, rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Probability;

    fn cohort(p: f64) -> CohortFault {
        CohortFault {
            probability: p,
            rule: BehaviourRule {
                failure_probability: Some(Probability::Value(1.0)),
                ..BehaviourRule::default()
            },
        }
    }

    #[test]
    fn certain_and_impossible_causes() {
        for seed in 0..200 {
            assert!(cohort(1.0).is_hit(0, seed));
            assert!(!cohort(0.0).is_hit(0, seed));
        }
    }

    #[test]
    fn the_draw_depends_on_the_seed_and_the_index_only() {
        let cohorts = vec![cohort(0.5), cohort(0.5), cohort(0.5)];
        let (a, _) = draw(&cohorts, 17);
        let (b, _) = draw(&cohorts, 17);
        assert_eq!(a, b);
        // Over seeds, cohorts 0 and 1 disagree sometimes: their draws are their own.
        let disagree = (0..200)
            .filter(|&s| cohorts[0].is_hit(0, s) != cohorts[1].is_hit(1, s))
            .count();
        assert!((60..140).contains(&disagree), "{disagree} of 200");
    }

    #[test]
    fn validation_names_the_field() {
        let e = cohort(1.5).validate().unwrap_err();
        assert_eq!(e.field(), Some("probability"));
        let mut c = cohort(0.5);
        c.rule.reject_probability = Some(Probability::Value(-1.0));
        assert_eq!(
            c.validate().unwrap_err().field(),
            Some("reject_probability")
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<CohortFault>(r#"{"probability": 0.5, "selectr": "*"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("selectr"), "{e}");
        let e = serde_json::from_str::<CohortFault>(r#"{"failure_probability": 1}"#).unwrap_err();
        assert!(e.to_string().contains("probability"), "{e}");
    }

    /// The fraction of seeds in which a cohort is hit converges to its probability: over 40
    /// blocks of 500 seeds, the 99.9 % interval of each block's fraction covers the truth in
    /// all but a few.
    #[test]
    fn the_hit_fraction_covers_the_probability() {
        for p in [0.02, 0.1, 0.5, 0.9] {
            let c = cohort(p);
            let n = 500u64;
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            let misses = (0..40u64)
                .filter(|block| {
                    let hits = (block * n..(block + 1) * n)
                        .filter(|&s| c.is_hit(3, s))
                        .count();
                    (hits as f64 / n as f64 - p).abs() > 3.29 * sd
                })
                .count();
            // P(miss) = 0.001 per block: 3 or more misses of 40 has probability below 1e-5.
            assert!(misses <= 2, "p = {p}: {misses} of 40 intervals missed");
        }
    }

    mod resolution {
        use proptest::prelude::*;

        use super::cohort;
        use crate::behaviour::{Behaviour, BehaviourRule, BehaviourSpec};
        use crate::fleet::Fleet;
        use crate::generator::FleetSpec;
        use crate::selector::Selector;
        use crate::Probability;

        fn fleet(n: u32, seed: u64) -> Fleet {
            let spec: FleetSpec = serde_json::from_value(serde_json::json!({
                "devices": n,
                "tags": [{"name": "firmware", "values": [
                    {"value": "1.1", "weight": 3}, {"value": "1.2", "weight": 1}
                ]}]
            }))
            .unwrap();
            Fleet::generate(&spec, &[], seed).unwrap()
        }

        fn spec(base: f64, p: f64, fault: f64) -> BehaviourSpec {
            let mut c = cohort(p);
            c.rule.selector = serde_json::from_str(r#""tags.firmware = '1.2'""#).unwrap();
            c.rule.failure_probability = Some(Probability::Value(fault));
            c.rule.reject_probability = Some(Probability::Value(0.0));
            BehaviourSpec {
                swarm: false,
                rules: vec![BehaviourRule {
                    failure_probability: Some(Probability::Value(base)),
                    reject_probability: Some(Probability::Value(0.1)),
                    ..BehaviourRule::default()
                }],
                cohorts: vec![c],
                external: None,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// When the seed hits the cohort, every device of the cohort has the cohort's
            /// fault rates; a device outside it keeps exactly the profile it has without the
            /// cohort; and when the seed does not hit it, nothing changes.
            #[test]
            fn a_hit_cohort_has_its_rates_and_no_other_device_changes(
                seed in any::<u64>(),
                p in 0.0f64..=1.0,
                base in 0.0f64..0.5,
                fault in 0.0f64..0.9,
            ) {
                let fleet = fleet(80, seed);
                let with = Behaviour::compile(&spec(base, p, fault), &fleet, seed).unwrap();
                let mut plain = spec(base, p, fault);
                plain.cohorts.clear();
                let without = Behaviour::compile(&plain, &fleet, seed).unwrap();
                let hit = spec(base, p, fault).cohorts[0].is_hit(0, seed);
                prop_assert_eq!(with.cohorts.len(), 1);
                prop_assert_eq!(with.cohorts[0].hit, hit);
                let selector: Selector = spec(base, p, fault).cohorts[0].rule.selector.clone();
                let members = selector.select(&fleet);
                for d in 0..fleet.len() {
                    let profile = with.profile(d);
                    if hit && members.binary_search(&d).is_ok() {
                        prop_assert_eq!(profile.failure_p, fault);
                        prop_assert_eq!(profile.reject_p, 0.0);
                        // Fields the cohort leaves out keep the rules' values.
                        prop_assert_eq!(&profile.latency, &without.profile(d).latency);
                    } else {
                        prop_assert_eq!(profile, without.profile(d));
                    }
                }
            }
        }
    }
}
