//! Faults with a shared cause (`behaviour.cohorts`): a whole cohort fails together, in some
//! seeds and not others; the draw is the seed's alone (docs/semantics.md section 19).

use fleet_core::{BatchSize, RunBuilder};
use fleet_sim::*;
use serde_json::json;

use crate::common::*;

/// 400 thermostats, a quarter on firmware 1.2.
fn tagged_fleet() -> FleetSpec {
    serde_json::from_value(json!({
        "devices": 400,
        "id_pattern": "dev-{:06}",
        "templates": [{"template": THERMOSTAT, "share": 1}],
        "tags": [{"name": "firmware", "values": [
            {"value": "1.1", "weight": 3}, {"value": "1.2", "weight": 1}
        ]}]
    }))
    .unwrap()
}

fn simulate(seed: u64, probability: f64, batch_percent: f64) -> SimResult {
    let behaviour = behaviour(json!({
        "rules": [{"latency": {"type": "uniform", "min_ms": 100, "max_ms": 2000}}],
        "cohorts": [{
            "name": "broker drops 1.2",
            "selector": "tags.firmware = '1.2'",
            "probability": probability,
            "failure_probability": 1.0
        }]
    }));
    let run = RunBuilder::new().batch(BatchSize::percentage(batch_percent).unwrap());
    SimBuilder::new(seed)
        .templates(templates())
        .fleet(tagged_fleet())
        .behaviour(behaviour)
        .job(set_temp("j", 21.0).run(run))
        .build()
        .unwrap()
        .run()
}

/// In a seed that hits the cohort every firmware 1.2 device fails and every other succeeds;
/// in a seed that does not, every device succeeds. Over 120 seeds the share of hits is within
/// 5 standard deviations of the probability.
#[test]
fn a_hit_fails_the_whole_cohort_and_nothing_else() {
    let p = 0.3;
    let mut hits = 0;
    for seed in 0..120 {
        let r = simulate(seed, p, 25.0);
        assert_eq!(r.cohorts.len(), 1);
        assert_eq!(r.cohorts[0].name.as_deref(), Some("broker drops 1.2"));
        let hit = r.cohorts[0].hit;
        hits += u32::from(hit);
        for row in r.device_rows(0) {
            let on_12 = r.fleet().tag(row.index, "firmware") == Some(&json!("1.2"));
            let failed = row.state == fleet_core::DeviceState::Failed;
            assert_eq!(failed, hit && on_12, "seed {seed}, {}", row.id);
        }
    }
    let (n, mean) = (120.0, 120.0 * p);
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!(
        (f64::from(hits) - mean).abs() <= 5.0 * sd,
        "{hits} hits of 120"
    );
    assert!(hits > 0 && hits < 120);
}

/// The draw is the seed's alone: another plan of the same job (other batches) over the same
/// seed has the same cohorts hit (common random numbers across plans).
#[test]
fn the_hit_does_not_depend_on_the_plan() {
    for seed in 0..40 {
        let a = simulate(seed, 0.5, 10.0);
        let b = simulate(seed, 0.5, 50.0);
        assert_eq!(a.cohorts, b.cohorts, "seed {seed}");
        assert_eq!(a.jobs[0].counts.failed, b.jobs[0].counts.failed);
    }
}

/// A cohort's errors name their field; rules and cohorts together are at most 64.
#[test]
fn cohort_errors_name_the_field() {
    let spec: BehaviourSpec = serde_json::from_value(json!({
        "cohorts": [{"selector": "*", "probability": 0.5}, {"probability": 2.0}]
    }))
    .unwrap();
    assert_eq!(
        spec.validate().unwrap_err().field(),
        Some("cohorts[1].probability")
    );
    let e = serde_json::from_value::<BehaviourSpec>(json!({
        "cohorts": [{"probability": 0.5, "failure_probabilty": 1.0}]
    }))
    .unwrap_err();
    assert!(e.to_string().contains("failure_probabilty"), "{e}");
    let many: BehaviourSpec = serde_json::from_value(json!({
        "rules": vec![json!({}); 40],
        "cohorts": vec![json!({"probability": 0.1}); 25]
    }))
    .unwrap();
    assert_eq!(many.validate().unwrap_err().field(), Some("cohorts"));
}
