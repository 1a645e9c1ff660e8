//! Jobs of several operations (`Operation::Multiple`, docs/semantics.md section 18): a device
//! succeeds only when every operation succeeded; entry 0 draws what a job of it alone draws.

use fleet_core::DeviceState;
use fleet_sim::*;
use proptest::prelude::*;
use serde_json::json;

use crate::common::*;

fn reboot() -> Operation {
    Operation::Command {
        name: "reboot".into(),
        payload: json!({}),
        response_timeout_ms: 30_000,
        connect_timeout_ms: 0,
    }
}

fn cloud(name: &str, value: &str) -> Operation {
    Operation::CloudProperty {
        name: name.into(),
        value: json!(value),
    }
}

fn multiple(operations: Vec<Operation>) -> Operation {
    Operation::Multiple { operations }
}

fn run_on(
    fleet: FleetSpec,
    behaviour_json: serde_json::Value,
    seed: u64,
    op: Operation,
) -> SimResult {
    SimBuilder::new(seed)
        .fleet(fleet)
        .templates(templates())
        .behaviour(behaviour(behaviour_json))
        .record_events(true)
        .job(JobSpec::new("j", op))
        .build()
        .unwrap()
        .run()
}

#[test]
fn a_device_fails_when_one_entry_fails_and_the_others_still_write() {
    // `customer` is the thermostat's cloud property, `owner` is in no template.
    let fleet =
        fleet(json!([{"id": "a", "template": THERMOSTAT}, {"id": "b", "template": SENSOR}]));
    let op = multiple(vec![cloud("customer", "contoso"), cloud("owner", "x")]);
    let r = SimBuilder::new(1)
        .with_fleet(fleet)
        .job(JobSpec::new("j", op))
        .build()
        .unwrap()
        .run();
    assert_eq!(
        fate(&r, "a"),
        (DeviceState::Failed, Some("not_in_template"))
    );
    assert_eq!(
        fate(&r, "b"),
        (DeviceState::Failed, Some("not_in_template"))
    );
    // No transactions: the entry the template has is stored on the thermostat.
    assert_eq!(
        r.fleet().cloud_property(0, "customer"),
        Some(&json!("contoso"))
    );
    assert_eq!(r.fleet().cloud_property(1, "customer"), None);
    assert_eq!(r.fleet().cloud_property(0, "owner"), None);
}

#[test]
fn a_device_succeeds_when_every_entry_succeeds_and_answers_with_the_last() {
    let fleet = fleet(json!([{"id": "a", "template": THERMOSTAT}]));
    let op = multiple(vec![
        Operation::Property {
            name: "temp".into(),
            value: json!(21.5),
        },
        Operation::Property {
            name: "mode".into(),
            value: json!("eco"),
        },
        reboot(),
    ]);
    let r = SimBuilder::new(3)
        .with_fleet(fleet)
        .behaviour(behaviour(json!({"rules": [
            {"latency": {"type": "uniform", "min_ms": 100, "max_ms": 5000}}
        ]})))
        .record_events(true)
        .job(JobSpec::new("j", op))
        .build()
        .unwrap()
        .run();
    assert_eq!(fate(&r, "a"), (DeviceState::Succeeded, None));
    let snap = r.fleet().snapshot(0);
    assert_eq!(
        (snap.desired["temp"].clone(), snap.desired["mode"].clone()),
        (json!(21.5), json!("eco"))
    );
    assert_eq!(
        (snap.reported["temp"].clone(), snap.reported["mode"].clone()),
        (json!(21.5), json!("eco"))
    );
    // Two desired writes, two reported writes.
    assert_eq!((snap.desired_version, snap.reported_version), (3, 3));
    // The answer is the latest of three independent latencies: not before any of them, and
    // (with three different draws) not the first entry's alone.
    let alone = SimBuilder::new(3)
        .with_fleet(r.fleet().clone())
        .behaviour(behaviour(json!({"rules": [
            {"latency": {"type": "uniform", "min_ms": 100, "max_ms": 5000}}
        ]})))
        .record_events(true)
        .job(JobSpec::new(
            "j",
            Operation::Property {
                name: "temp".into(),
                value: json!(21.5),
            },
        ))
        .build()
        .unwrap()
        .run();
    let (all_at, first_at) = (
        answered_at(&r, 0, 0).unwrap(),
        answered_at(&alone, 0, 0).unwrap(),
    );
    assert!(all_at >= first_at, "{all_at} < {first_at}");
}

#[test]
fn a_manifest_migration_records_the_manifest_at_once() {
    let r = run_on(
        thermostats(20),
        json!({}),
        1,
        Operation::ManifestMigration {
            manifest: "edge-manifest-1".into(),
        },
    );
    assert_eq!(r.jobs[0].status, "complete");
    assert_eq!(r.jobs[0].counts.succeeded, 20);
    assert_eq!(r.jobs[0].finished_ms, Some(0));
    for d in 0..20 {
        assert_eq!(r.fleet().deployment_manifest(d), Some("edge-manifest-1"));
        assert_eq!(
            r.fleet().snapshot(d).deployment_manifest.as_deref(),
            Some("edge-manifest-1")
        );
    }
}

#[test]
fn entries_are_checked_and_do_not_nest() {
    let one = multiple(vec![reboot()]);
    let e = one.validate().unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (&ErrorKind::DataEntries(1), Some("operations"))
    );
    let nested = multiple(vec![reboot(), multiple(vec![reboot(), reboot()])]);
    assert_eq!(
        nested.validate().unwrap_err().field(),
        Some("operations[1]")
    );
    let bad = multiple(vec![
        reboot(),
        Operation::Command {
            name: "reboot".into(),
            payload: json!({}),
            response_timeout_ms: 0,
            connect_timeout_ms: 0,
        },
    ]);
    assert_eq!(
        bad.validate().unwrap_err().field(),
        Some("operations[1].response_timeout_ms")
    );
    let many = multiple(vec![reboot(); Operation::MAX_ENTRIES + 1]);
    assert_eq!(
        many.validate().unwrap_err().kind(),
        &ErrorKind::DataEntries(33)
    );
    assert!(multiple(vec![reboot(); Operation::MAX_ENTRIES])
        .validate()
        .is_ok());
}

/// The success rate of `k` commands per device with a per-operation failure probability `p` is
/// `(1 - p)^k`: over many seeds, the 99.9 % interval of each run's estimate covers the truth
/// in all but a few.
#[test]
fn the_success_rate_is_the_product_of_the_entries() {
    let (p, k, n) = (0.1f64, 3usize, 2000u32);
    let truth = (1.0 - p).powi(k as i32);
    let sd = (truth * (1.0 - truth) / f64::from(n)).sqrt();
    let mut misses = 0;
    for seed in 0..40 {
        let r = run_on(
            thermostats(n),
            json!({"rules": [{"failure_probability": p}]}),
            seed,
            multiple(vec![reboot(); k]),
        );
        let rate = f64::from(r.jobs[0].counts.succeeded) / f64::from(n);
        if (rate - truth).abs() > 3.29 * sd {
            misses += 1;
        }
    }
    // P(miss) = 0.001 per seed: 3 or more misses of 40 has probability below 1e-5.
    assert!(misses <= 2, "{misses} of 40 intervals missed {truth}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Entry 0 of several draws exactly what a job of it alone draws: a device that fails the
    /// single job fails the multiple one with the same reason, and one that answers the single
    /// job answers the multiple one no earlier.
    #[test]
    fn entry_zero_draws_what_it_draws_alone(
        seed in 0u64..1000,
        fail in 0.0f64..0.5,
        reject in 0.0f64..0.3,
        extra in 1usize..4,
    ) {
        let b = json!({"rules": [{
            "failure_probability": fail, "reject_probability": reject,
            "latency": {"type": "exponential", "mean_ms": 800}
        }]});
        let alone = run_on(thermostats(200), b.clone(), seed, reboot());
        let several = run_on(thermostats(200), b, seed, multiple(vec![reboot(); 1 + extra]));
        let rows: Vec<_> = several.device_rows(0).collect();
        for (i, one) in alone.device_rows(0).enumerate() {
            let all = &rows[i];
            match one.state {
                DeviceState::Failed | DeviceState::Rejected => {
                    prop_assert_eq!((all.state, all.reason), (one.state, one.reason));
                }
                DeviceState::Succeeded => {
                    let (a, b) = (answered_at(&alone, 0, i as u32), answered_at(&several, 0, i as u32));
                    prop_assert!(b >= a, "device {}: {:?} < {:?}", i, b, a);
                }
                other => prop_assert!(false, "unexpected state {:?}", other),
            }
        }
        prop_assert!(several.jobs[0].counts.succeeded <= alone.jobs[0].counts.succeeded);
    }
}
