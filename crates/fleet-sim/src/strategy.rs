//! proptest strategies for fleets, behaviours and fault mixes, and command sequences
//! (feature `proptest`): for property tests of rollout plans and of the code around them.
//!
//! Every value given passes the simulator's validation (a test of this crate checks it) and
//! shrinks toward the simplest: fewer devices, fewer tag values, lower rates, no faults,
//! fewer and earlier commands. Jobs in each dialect are `fleet_core::strategy` (feature
//! `proptest` of fleet-core); their IoT Central jobs write properties `p0` to `p31` of
//! [`template`].
//!
//! ```
//! use fleet_sim::{strategy, SimBuilder};
//! use proptest::prelude::*;
//!
//! proptest!(ProptestConfig::with_cases(8), |(
//!     fleet in strategy::fleet(1..=200),
//!     behaviour in strategy::behaviour(),
//!     seed in any::<u64>(),
//! )| {
//!     let sim = SimBuilder::new(seed)
//!         .templates(vec![strategy::template()])
//!         .fleet(fleet.clone())
//!         .behaviour(behaviour.clone())
//!         .build()
//!         .unwrap();
//!     let result = sim.run();
//!     // One draw per cohort fault, whatever the fleet and the fault mix.
//!     prop_assert_eq!(result.cohorts.len(), behaviour.cohorts.len());
//! });
//! ```

use std::ops::RangeInclusive;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::{BehaviourSpec, FleetSpec, JobCommand, TemplateSpec};

/// The template of generated fleets: `dtmi:fleetsim:t;1` with integer properties `p0` to
/// `p31` and a command `reboot`.
pub fn template() -> TemplateSpec {
    let properties: Vec<Value> = (0..32)
        .map(|i| json!({"name": format!("p{i}"), "schema": "integer"}))
        .collect();
    serde_json::from_value(json!({
        "id": "dtmi:fleetsim:t;1",
        "properties": properties,
        "commands": [{"name": "reboot"}],
    }))
    .expect("the template is valid")
}

/// A generated fleet of `devices` devices of [`template`], ids `dev-000000`..., with a tag
/// `ring` of 1 to 4 values (`r0`, `r1`, ...) of weights 1 to 10.
pub fn fleet(devices: RangeInclusive<u32>) -> impl Strategy<Value = FleetSpec> {
    (devices, prop::collection::vec(1u32..=10, 1..=4)).prop_map(|(n, weights)| {
        let values: Vec<Value> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| json!({"value": format!("r{i}"), "weight": w}))
            .collect();
        serde_json::from_value(json!({
            "devices": n,
            "id_pattern": "dev-{:06}",
            "templates": [{"template": "dtmi:fleetsim:t;1", "share": 1.0}],
            "tags": [{"name": "ring", "values": values}],
        }))
        .expect("the fleet spec is valid")
    })
}

/// A latency distribution: fixed, uniform, exponential or log-normal, up to 10 s.
pub fn latency() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u32..=10_000).prop_map(|ms| json!({"type": "fixed", "ms": ms})),
        (0u32..=5_000, 0u32..=5_000)
            .prop_map(|(a, b)| json!({"type": "uniform", "min_ms": a, "max_ms": a + b})),
        (1u32..=10_000).prop_map(|m| json!({"type": "exponential", "mean_ms": m})),
        (1u32..=10_000, 1u32..=20).prop_map(
            |(m, s)| json!({"type": "lognormal", "median_ms": m, "sigma": f64::from(s) / 10.0})
        ),
    ]
}

/// One behaviour rule's faults: failure and rejection rates up to `max_rate` each, offline
/// devices up to 10 %, flapping or not.
fn rule(max_rate: f64) -> impl Strategy<Value = Value> {
    (
        latency(),
        0.0..=max_rate,
        0.0..=max_rate,
        prop::option::of(0.0..=0.1f64),
        prop::option::of((10_000u32..=600_000, 1_000u32..=60_000)),
    )
        .prop_map(|(latency, fail, reject, offline, flapping)| {
            let mut r = json!({"latency": latency, "failure_probability": fail,
                               "reject_probability": reject});
            if let Some(o) = offline {
                r["offline"] = json!(o);
                r["reconnect"] = json!({"type": "exponential", "mean_ms": 600_000});
            }
            if let Some((up, down)) = flapping {
                r["flapping"] = json!({"mean_up_ms": up, "mean_down_ms": down});
            }
            r
        })
}

/// A fault mix: one rule for every device (failure and rejection rates up to 10 % each),
/// optionally a second for the devices of ring `r0` (rates up to 50 %), and optionally a
/// cohort fault (ring `r1` fails entirely, with a probability per simulation).
pub fn behaviour() -> impl Strategy<Value = BehaviourSpec> {
    (
        rule(0.1),
        prop::option::of(rule(0.5)),
        prop::option::of(0.0..=1.0f64),
    )
        .prop_map(|(every, ring, cohort)| {
            let mut rules = vec![every];
            if let Some(mut r) = ring {
                r["selector"] = json!("tags.ring = 'r0'");
                rules.push(r);
            }
            let cohorts: Vec<Value> = cohort
                .map(|p| {
                    json!({"selector": "tags.ring = 'r1'", "probability": p,
                                "failure_probability": 1.0})
                })
                .into_iter()
                .collect();
            serde_json::from_value(json!({"rules": rules, "cohorts": cohorts}))
                .expect("the behaviour is valid")
        })
}

/// A command of a job's run: stop, resume, cancel, force cancel or trigger the next batch.
pub fn command() -> impl Strategy<Value = JobCommand> {
    prop_oneof![
        Just(JobCommand::Stop),
        Just(JobCommand::Resume),
        Just(JobCommand::Cancel { force: false }),
        Just(JobCommand::Cancel { force: true }),
        Just(JobCommand::TriggerNextBatch),
    ]
}

/// Up to `max` commands at virtual times up to `until_ms`, in time order: `(at_ms, command)`.
pub fn commands(max: usize, until_ms: i64) -> impl Strategy<Value = Vec<(i64, JobCommand)>> {
    prop::collection::vec((0..=until_ms, command()), 0..=max).prop_map(|mut v| {
        v.sort_by_key(|(at, _)| *at);
        v
    })
}
