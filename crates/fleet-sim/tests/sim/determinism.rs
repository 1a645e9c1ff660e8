//! Determinism: same scenario and seed, same trace; a device's fate is its own.

use fleet_core::{BatchSize, RunBuilder, Threshold};
use fleet_sim::*;
use serde_json::json;

use crate::common::*;

fn faulty() -> BehaviourSpec {
    behaviour(json!({"rules": [
        {"latency": {"type": "lognormal", "median_ms": 2000, "sigma": 0.5},
         "failure_probability": 0.05, "reject_probability": 0.02, "crash_probability": 0.01,
         "offline": 0.03, "reconnect": {"type": "exponential", "mean_ms": 20000},
         "flapping": {"mean_up_ms": 60000, "mean_down_ms": 5000}}
    ]}))
}

fn scenario(seed: u64, n: u32) -> SimResult {
    let job = set_temp("j", 1.0).run(
        RunBuilder::new()
            .batch(BatchSize::percentage(20.0).unwrap())
            .threshold(Threshold::percentage(50.0, false).unwrap())
            .device_timeout_ms(30_000),
    );
    let cmd = JobSpec::new(
        "c",
        Operation::Command {
            name: "reboot".into(),
            payload: json!(null),
            response_timeout_ms: 5000,
            connect_timeout_ms: 10_000,
        },
    )
    .start_ms(15_000);
    SimBuilder::new(seed)
        .templates(templates())
        .fleet(thermostats(n))
        .behaviour(faulty())
        .hub(HubSpec {
            tier: Tier::S2,
            ..HubSpec::default()
        })
        .job(job)
        .job(cmd)
        .build()
        .unwrap()
        .run()
}

#[test]
fn the_same_seed_gives_the_same_trace_and_report() {
    let a = scenario(7, 2000);
    let b = scenario(7, 2000);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.events_processed, b.events_processed);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    let rows = |r: &SimResult| -> Vec<String> {
        r.device_rows(0)
            .map(|d| format!("{},{},{},{:?}", d.id, d.state, d.attempts, d.reason))
            .collect()
    };
    assert_eq!(rows(&a), rows(&b));
}

#[test]
fn a_different_seed_gives_a_different_trace() {
    let a = scenario(7, 2000);
    let c = scenario(8, 2000);
    assert_ne!(a.trace_hash, c.trace_hash);
    assert_eq!(a.seed, 7);
    assert_eq!(c.seed, 8);
    // The hash is written as 16 hex digits.
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["trace_hash"].as_str().unwrap().len(), 16);
}

#[test]
fn a_device_fate_does_not_depend_on_how_many_other_devices_exist() {
    // No hub, one batch, no threshold: nothing couples the devices.
    let run = |n: u32| {
        SimBuilder::new(99)
            .templates(templates())
            .fleet(thermostats(n))
            .behaviour(faulty())
            .job(set_temp("j", 1.0).run(RunBuilder::new().device_timeout_ms(30_000)))
            .record_events(true)
            .build()
            .unwrap()
            .run()
    };
    let small = run(100);
    let large = run(1000);
    for d in 0..100u32 {
        let a = small.device_rows(0).nth(d as usize).unwrap();
        let b = large.device_rows(0).nth(d as usize).unwrap();
        assert_eq!(a.id.to_string(), b.id.to_string());
        assert_eq!(
            (a.state, a.reason, a.attempts),
            (b.state, b.reason, b.attempts),
            "device {d}"
        );
        assert_eq!(
            answered_at(&small, 0, d),
            answered_at(&large, 0, d),
            "device {d}"
        );
    }
}

#[test]
fn explicit_devices_keep_their_fate_when_others_are_added() {
    let rules = json!({"rules": [{"failure_probability": 0.5, "latency": {"type": "uniform", "min_ms": 0, "max_ms": 10000}}]});
    let ids: Vec<String> = (0..50).map(|i| format!("dev-{i}")).collect();
    let run = |extra: usize| {
        let mut devices: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| json!({"id": id, "template": THERMOSTAT}))
            .collect();
        devices
            .extend((0..extra).map(|i| json!({"id": format!("aaa-{i}"), "template": THERMOSTAT})));
        SimBuilder::new(5)
            .with_fleet(fleet(json!(devices)))
            .behaviour(behaviour(rules.clone()))
            .job(set_temp("j", 1.0))
            .build()
            .unwrap()
            .run()
    };
    let a = run(0);
    let b = run(30);
    for id in &ids {
        assert_eq!(fate(&a, id), fate(&b, id), "{id}");
    }
}

#[test]
fn swarm_mode_draws_the_fault_mix_from_the_seed() {
    let spec = behaviour(json!({"swarm": true, "rules": [
        {"failure_probability": 0.1, "reject_probability": 0.1, "crash_probability": 0.1, "offline": 0.1,
         "flapping": {"mean_up_ms": 1000, "mean_down_ms": 1000}},
        {"selector": {"tags": {"x": 1}}, "failure_probability": 0.2}
    ]}));
    let mix = |seed: u64| {
        SimBuilder::new(seed)
            .templates(templates())
            .fleet(thermostats(10))
            .behaviour(spec.clone())
            .build()
            .unwrap()
            .run()
            .swarm
            .unwrap()
    };
    assert_eq!(mix(1), mix(1));
    let mixes: Vec<_> = (0..8).map(mix).collect();
    assert!(
        mixes.windows(2).any(|w| w[0] != w[1]),
        "the seeds draw different mixes"
    );
    for m in &mixes {
        for draw in m {
            let r = &draw.effective;
            for p in [
                r.failure_probability,
                r.reject_probability,
                r.crash_probability,
            ] {
                assert!(p.is_none_or(|p| (0.0..=1.0).contains(&p.point())));
            }
            assert_eq!(r.latency, None, "latency is never drawn");
        }
    }
    // Some seed switches a fault off entirely, and some keeps it.
    assert!(mixes
        .iter()
        .any(|m| m[0].effective.failure_probability == Some(0.0.into())));
    assert!(mixes
        .iter()
        .any(|m| m[0].effective.failure_probability.unwrap().point() > 0.0));
}

#[test]
fn a_selector_matching_every_device_runs_exactly_like_all_devices() {
    let run = |targets: TargetSpec| {
        let job = JobSpec::new(
            "j",
            Operation::Property {
                name: "temp".into(),
                value: serde_json::json!(20.5),
            },
        )
        .targets(targets)
        .run(fleet_core::RunBuilder::new().device_timeout_ms(30_000));
        SimBuilder::new(9)
            .templates(templates())
            .fleet(thermostats(500))
            .behaviour(behaviour(serde_json::json!({"rules": [
                {"latency": {"type": "exponential", "mean_ms": 700}, "failure_probability": 0.1}
            ]})))
            .job(job)
            .build()
            .unwrap()
            .run()
    };
    let all = run(TargetSpec::All);
    let selected = run(TargetSpec::Selector(Selector {
        template: Some(THERMOSTAT.into()),
        ..Selector::default()
    }));
    assert_eq!(all.trace_hash, selected.trace_hash);
    let rows = |r: &SimResult| {
        r.device_rows(0)
            .map(|d| (d.id.to_string(), d.state, d.attempts))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&all), rows(&selected));
    assert!(all.jobs[0].counts.failed > 0);
}
