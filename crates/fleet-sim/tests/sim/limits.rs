//! Limits (issue 14): every time is bounded by the largest virtual time, time arithmetic near
//! `i64::MAX` ends, and a simulation stops at its event and wall-clock budgets with a typed
//! error.

use fleet_sim::*;
use serde_json::json;
use std::time::Duration;

use crate::common::{behaviour, templates, thermostats};

fn set_temp() -> JobSpec {
    JobSpec::new(
        "j",
        Operation::Property {
            name: "temp".into(),
            value: 21.5.into(),
        },
    )
}

fn build(b: BehaviourSpec, job: JobSpec) -> Result<Simulation> {
    SimBuilder::new(3)
        .templates(templates())
        .fleet(thermostats(50))
        .behaviour(b)
        .job(job)
        .build()
}

#[test]
fn times_beyond_the_largest_virtual_time_are_refused_naming_the_field() {
    let cases = [
        (
            json!({"rules": [{"latency": {"type": "fixed", "ms": 1e18}}]}),
            "latency.ms",
        ),
        (
            json!({"rules": [{"latency": {"type": "exponential", "mean_ms": 1e300}}]}),
            "latency.mean_ms",
        ),
        (
            json!({"rules": [{"flapping": {"mean_up_ms": 1e300, "mean_down_ms": 1.0}}]}),
            "flapping.mean_up_ms",
        ),
        (
            json!({"rules": [{"offline": 1.0, "reconnect": {"type": "uniform", "min_ms": 0, "max_ms": 1e17}}]}),
            "reconnect.max_ms",
        ),
    ];
    for (spec, field) in cases {
        let err = behaviour(spec).validate().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::TooLong(_)), "{err}");
        assert!(err.field().unwrap().ends_with(field), "{err}");
    }
    let late = MAX_VIRTUAL_MS + 1;
    let err = build(BehaviourSpec::default(), set_temp().start_ms(late)).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::TooLong(_)), "{err}");
    assert_eq!(err.field(), Some("jobs[0].start_ms"));
    let err = SimBuilder::new(3)
        .templates(templates())
        .fleet(thermostats(5))
        .job(set_temp())
        .command(late, "j", JobCommand::Stop)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), Some("commands[0].at_ms"), "{err}");
    // The largest virtual time itself is a time.
    assert!(build(
        BehaviourSpec::default(),
        set_temp().start_ms(MAX_VIRTUAL_MS)
    )
    .is_ok());
}

#[test]
fn the_longest_times_end() {
    // Every time at its largest: the job starts 100 years in, latencies of 100 years, devices
    // that flap with 100-year means, crash for 100 years and reconnect after 100 years.
    let b = behaviour(json!({"rules": [{
        "latency": {"type": "fixed", "ms": MAX_VIRTUAL_MS},
        "crash_probability": 0.5,
        "crash_downtime": {"type": "fixed", "ms": MAX_VIRTUAL_MS},
        "offline": 0.3,
        "reconnect": {"type": "fixed", "ms": MAX_VIRTUAL_MS},
        "flapping": {"mean_up_ms": MAX_VIRTUAL_MS, "mean_down_ms": MAX_VIRTUAL_MS}
    }]}));
    let result = build(b, set_temp().start_ms(MAX_VIRTUAL_MS))
        .unwrap()
        .try_run_with_progress(1 << 16, &mut |_| {})
        .unwrap();
    assert_eq!(result.jobs[0].counts.total, 50);
}

#[test]
fn flapping_with_tiny_means_far_in_time_ends() {
    // Intervals of 1 ms (the means round to 0): the walk to 50 years in is bounded by the
    // flapping epochs, not 1.5e12 steps.
    let b = behaviour(json!({"rules": [{
        "flapping": {"mean_up_ms": 1e-300, "mean_down_ms": 1e-300}
    }]}));
    let result = build(b, set_temp().start_ms(MAX_VIRTUAL_MS / 2))
        .unwrap()
        .run();
    assert_eq!(result.jobs[0].status, "complete");
}

#[test]
fn a_simulation_stops_at_its_event_budget_with_a_typed_error() {
    let sim = SimBuilder::new(3)
        .templates(templates())
        .fleet(thermostats(1000))
        .job(set_temp())
        .max_events(100)
        .build()
        .unwrap();
    let err = sim.try_run_with_progress(10, &mut |_| {}).unwrap_err();
    match err.kind() {
        ErrorKind::EventBudget { events, .. } => assert_eq!(*events, 100),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("100 events"), "{err}");
    // Within its budget, the same simulation ends as without one.
    let within = SimBuilder::new(3)
        .templates(templates())
        .fleet(thermostats(1000))
        .job(set_temp())
        .max_events(1_000_000)
        .build()
        .unwrap()
        .try_run_with_progress(10, &mut |_| {})
        .unwrap();
    let without = SimBuilder::new(3)
        .templates(templates())
        .fleet(thermostats(1000))
        .job(set_temp())
        .build()
        .unwrap()
        .run();
    assert_eq!(within.trace_hash, without.trace_hash);
}

#[test]
fn a_simulation_stops_at_its_wall_clock_budget() {
    let sim = SimBuilder::new(3)
        .templates(templates())
        .fleet(thermostats(200_000))
        .job(set_temp())
        .max_wall(Duration::from_nanos(1))
        .build()
        .unwrap();
    let err = sim.try_run_with_progress(1 << 16, &mut |_| {}).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WallBudget { events, .. } if *events == 1 << 16),
        "{err}"
    );
}
