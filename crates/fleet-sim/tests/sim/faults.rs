//! Fault injection rates on large fleets with fixed seeds: exact values for the seed, and
//! within statistical bounds (5 standard deviations) of the configured probabilities.

use fleet_core::{BatchSize, RunBuilder, Threshold};
use fleet_sim::*;
use serde_json::json;

use crate::common::*;

/// Asserts that `count` successes out of `n` trials are within 5 standard deviations of `p`.
fn within_bounds(count: u32, n: u32, p: f64) {
    let mean = f64::from(n) * p;
    let sd = (f64::from(n) * p * (1.0 - p)).sqrt();
    assert!(
        (f64::from(count) - mean).abs() <= 5.0 * sd,
        "{count} of {n}: expected {mean:.0} +- {:.0}",
        5.0 * sd
    );
}

#[test]
fn the_reference_rollout_injects_its_rates() {
    let n = 100_000;
    let r = SimBuilder::reference_rollout(n, 42).build().unwrap().run();
    let job = &r.jobs[0];
    assert_eq!(job.status, "complete");
    let offline = job.failure_reasons["offline"];
    let errors = job.failure_reasons["device_error"];
    // Exact for this seed (a change here means the random streams changed).
    assert_eq!((offline, errors), (EXPECTED_OFFLINE, EXPECTED_ERRORS));
    assert_eq!(job.counts.failed, offline + errors);
    assert_eq!(job.counts.succeeded + job.counts.failed, n);
    within_bounds(offline, n, 0.01);
    within_bounds(errors, n - offline, 0.02);
    // Ten batches, each waiting 30 s for its offline devices to time out.
    assert_eq!(job.batches.len(), 10);
    assert_eq!(job.duration_ms, Some(300_000));
    assert!(job.threshold_trip.is_none());
}

const EXPECTED_OFFLINE: u32 = 1030;
const EXPECTED_ERRORS: u32 = 2011;

#[test]
fn rejections_crashes_and_failures_of_commands() {
    let n = 20_000;
    let r = SimBuilder::new(11)
        .templates(templates())
        .fleet(thermostats(n))
        .behaviour(behaviour(json!({"rules": [{
            "latency": {"type": "exponential", "mean_ms": 1000},
            "reject_probability": 0.1, "crash_probability": 0.05, "failure_probability": 0.05
        }]})))
        .job(JobSpec::new(
            "c",
            Operation::Command {
                name: "reboot".into(),
                payload: json!(null),
                response_timeout_ms: 60_000,
                connect_timeout_ms: 0,
            },
        ))
        .build()
        .unwrap()
        .run();
    let reasons = &r.jobs[0].failure_reasons;
    let (rejected, crashed, errors) = (
        reasons["rejected"],
        reasons["crashed"],
        reasons["device_error"],
    );
    assert_eq!((rejected, crashed, errors), EXPECTED_COMMAND_FAULTS);
    within_bounds(rejected, n, 0.1);
    within_bounds(crashed, n, 0.05);
    within_bounds(errors, n, 0.05);
}

const EXPECTED_COMMAND_FAULTS: (u32, u32, u32) = (2022, 909, 1029);

#[test]
fn flapping_devices_are_down_for_their_stationary_share() {
    let n = 20_000;
    let r = SimBuilder::new(3)
        .templates(templates())
        .fleet(thermostats(n))
        .behaviour(behaviour(
            json!({"rules": [{"flapping": {"mean_up_ms": 40000, "mean_down_ms": 10000}}]}),
        ))
        .job(
            JobSpec::new(
                "c",
                Operation::Command {
                    name: "reboot".into(),
                    payload: json!(null),
                    response_timeout_ms: 60_000,
                    connect_timeout_ms: 0,
                },
            )
            .start_ms(123_456),
        )
        .build()
        .unwrap()
        .run();
    let offline = r.jobs[0].failure_reasons["offline"];
    assert_eq!(offline, EXPECTED_FLAP_OFFLINE);
    within_bounds(offline, n, 0.2);
}

const EXPECTED_FLAP_OFFLINE: u32 = 3856;

#[test]
fn a_correlated_fault_fails_a_whole_subset_and_trips_the_threshold() {
    let n = 10_000;
    let mut fleet = thermostats(n);
    fleet.tags = serde_json::from_value(json!([
        {"name": "firmware", "values": [{"value": "1.1", "weight": 3}, {"value": "1.2", "weight": 1}]}
    ]))
    .unwrap();
    let rules = behaviour(
        json!({"rules": [{"selector": {"tags": {"firmware": "1.2"}}, "failure_probability": 1.0}]}),
    );
    let sim = |run: RunBuilder| {
        SimBuilder::new(21)
            .templates(templates())
            .fleet(fleet.clone())
            .behaviour(rules.clone())
            .job(set_temp("j", 1.0).run(run))
            .build()
            .unwrap()
            .run()
    };
    // Without a threshold: exactly the firmware 1.2 devices fail.
    let r = sim(RunBuilder::new());
    let f = r.fleet();
    let on_12 = (0..n)
        .filter(|&d| f.tag(d, "firmware") == Some(&json!("1.2")))
        .count() as u32;
    within_bounds(on_12, n, 0.25);
    assert_eq!(r.jobs[0].counts.failed, on_12);
    for row in r.device_rows(0) {
        let bad = f.tag(row.index, "firmware") == Some(&json!("1.2"));
        assert_eq!(row.state.is_failure(), bad, "{}", row.id);
    }
    // Batches of 10 % with a per-batch threshold of 5 %: cancelled in the first batch.
    let r = sim(RunBuilder::new()
        .batch(BatchSize::percentage(10.0).unwrap())
        .threshold(Threshold::percentage(5.0, true).unwrap()));
    let job = &r.jobs[0];
    assert_eq!(job.status, "cancelled");
    let trip = job.threshold_trip.unwrap();
    assert_eq!((trip.batch, trip.limit, trip.failures), (0, 50, 50));
    assert_eq!(job.counts.cancelled, n - 1000);
}

#[test]
fn later_rules_override_the_fields_they_set() {
    let f = fleet(json!([
        {"id": "a", "template": THERMOSTAT, "tags": {"ring": 0}},
        {"id": "b", "template": THERMOSTAT, "tags": {"ring": 1}},
        {"id": "c", "template": SENSOR, "tags": {"ring": 1}}
    ]));
    let ring1 = Selector {
        tags: [("ring".to_string(), json!(1))].into(),
        ..Selector::default()
    };
    assert!(!ring1.matches(&f, 0));
    assert!(ring1.matches(&f, 1) && ring1.matches(&f, 2));
    let sensor = Selector {
        template: Some(SENSOR.into()),
        ..Selector::default()
    };
    assert!(sensor.matches(&f, 2) && !sensor.matches(&f, 1));
    // Everything fails; ring 1 does not; but its latency is still the first rule's.
    let rules = behaviour(json!({"rules": [
        {"failure_probability": 1.0, "latency": {"type": "fixed", "ms": 700}},
        {"selector": {"tags": {"ring": 1}}, "failure_probability": 0.0}
    ]}));
    let r = SimBuilder::new(1)
        .with_fleet(f)
        .behaviour(rules)
        .record_events(true)
        .job(JobSpec::new(
            "m",
            Operation::DeviceMethod {
                name: "reboot".into(),
                payload: json!(null),
                response_timeout_ms: 5000,
                connect_timeout_ms: 0,
            },
        ))
        .build()
        .unwrap()
        .run();
    assert_eq!(fate(&r, "a").1, Some("device_error"));
    assert_eq!(fate(&r, "b").0, fleet_core::DeviceState::Succeeded);
    assert_eq!(fate(&r, "c").1, Some("not_in_template"));
    assert_eq!(answered_at(&r, 0, 1), Some(700));
}

/// A rule whose failure probability is a Beta posterior: each seed draws one rate for the whole
/// run, so the failure share varies across seeds as the Beta does (far more than the binomial
/// spread of a fixed rate), and the same seed repeats its run.
#[test]
fn a_beta_failure_probability_is_drawn_once_per_seed() {
    let n = 20_000;
    let run = |seed: u64, p: serde_json::Value| {
        let r = SimBuilder::new(seed)
            .templates(templates())
            .fleet(thermostats(n))
            .behaviour(behaviour(json!({"rules": [{
                "latency": {"type": "fixed", "ms": 10}, "failure_probability": p
            }]})))
            .job(set_temp("p", 21.5))
            .build()
            .unwrap()
            .run();
        f64::from(
            r.jobs[0]
                .failure_reasons
                .get("device_error")
                .copied()
                .unwrap_or(0),
        ) / f64::from(n)
    };
    let beta = json!({"beta": [10.0, 90.0]});
    let shares: Vec<f64> = (0..40).map(|s| run(s, beta.clone())).collect();
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    let sd =
        (shares.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (shares.len() - 1) as f64).sqrt();
    // Beta(10, 90): mean 0.1, sd 0.0298. A fixed 0.1 over 20,000 devices: sd 0.0021.
    assert!((mean - 0.1).abs() < 0.015, "mean {mean}");
    assert!((0.018..0.045).contains(&sd), "sd {sd}");
    let fixed: Vec<f64> = (0..40).map(|s| run(s, json!(0.1))).collect();
    let fixed_max_dev = fixed.iter().map(|x| (x - 0.1).abs()).fold(0.0, f64::max);
    assert!(fixed_max_dev < 0.01, "{fixed_max_dev}");
    assert_eq!(run(3, beta.clone()), run(3, beta));
}
