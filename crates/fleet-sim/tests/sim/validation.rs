//! Validation errors name the field.

use fleet_core::RunBuilder;
use fleet_sim::*;
use serde_json::json;

use crate::common::*;

fn build_error(b: SimBuilder) -> Error {
    b.build().expect_err("the builder must refuse this")
}

fn base() -> SimBuilder {
    SimBuilder::new(1)
        .templates(templates())
        .fleet(thermostats(10))
}

#[test]
fn distribution_errors_name_the_field() {
    let cases = [
        (
            json!({"type": "fixed", "ms": -5}),
            "behaviour.rules[0].latency.ms",
        ),
        (
            json!({"type": "uniform", "min_ms": -1, "max_ms": 3}),
            "behaviour.rules[0].latency.min_ms",
        ),
        (
            json!({"type": "lognormal", "median_ms": 2000, "sigma": 0}),
            "behaviour.rules[0].latency.sigma",
        ),
        (
            json!({"type": "lognormal", "median_ms": 2000, "sigma": -0.5}),
            "behaviour.rules[0].latency.sigma",
        ),
        (
            json!({"type": "exponential", "mean_ms": -1}),
            "behaviour.rules[0].latency.mean_ms",
        ),
        (
            json!({"type": "empirical", "samples_ms": []}),
            "behaviour.rules[0].latency.samples_ms",
        ),
    ];
    for (latency, field) in cases {
        let b = behaviour(json!({"rules": [{"latency": latency}]}));
        let e = build_error(base().behaviour(b));
        assert_eq!(e.field(), Some(field), "{e}");
    }
}

#[test]
fn probability_errors_name_the_field() {
    for (rule, field) in [
        (
            json!({"failure_probability": 1.5}),
            "behaviour.rules[1].failure_probability",
        ),
        (
            json!({"reject_probability": -0.1}),
            "behaviour.rules[1].reject_probability",
        ),
        (
            json!({"crash_probability": 2}),
            "behaviour.rules[1].crash_probability",
        ),
        (json!({"offline": 1.01}), "behaviour.rules[1].offline"),
    ] {
        let b = behaviour(json!({"rules": [{}, rule]}));
        let e = build_error(base().behaviour(b));
        assert_eq!(e.field(), Some(field), "{e}");
        assert!(matches!(e.kind(), ErrorKind::Probability(_)));
    }
}

#[test]
fn unknown_fields_are_refused_by_serde() {
    assert!(serde_json::from_value::<BehaviourRule>(json!({"latency_ms": 3})).is_err());
    assert!(
        serde_json::from_value::<Distribution>(json!({"type": "fixed", "ms": 1, "x": 2})).is_err()
    );
    assert!(serde_json::from_value::<FleetSpec>(json!({"devices": 1, "colour": "red"})).is_err());
    assert!(serde_json::from_value::<HubSpec>(json!({"tier": "S4"})).is_err());
    assert!(serde_json::from_value::<Operation>(
        json!({"type": "property", "name": "a", "value": 1, "x": 0})
    )
    .is_err());
}

#[test]
fn fleet_errors_name_the_field() {
    let mut spec = thermostats(10);
    spec.templates[0].template = "dtmi:unknown;1".into();
    let e = build_error(SimBuilder::new(1).templates(templates()).fleet(spec));
    assert_eq!(e.field(), Some("fleet.templates[0].template"));
    assert!(matches!(e.kind(), ErrorKind::UnknownTemplate(_)));
    let mut spec = thermostats(10);
    spec.id_pattern = "dev-{}".into();
    let e = build_error(SimBuilder::new(1).templates(templates()).fleet(spec));
    assert_eq!(e.field(), Some("fleet.id_pattern"));
    let e = build_error(SimBuilder::new(1));
    assert_eq!(e.field(), Some("fleet"));
}

#[test]
fn job_errors_name_the_field() {
    let e = build_error(base().job(set_temp("a", 1.0)).job(set_temp("a", 2.0)));
    assert_eq!(e.field(), Some("jobs[1].id"));
    let e = build_error(
        base().job(set_temp("a", 1.0).targets(TargetSpec::Devices(vec!["nope".into()]))),
    );
    assert_eq!(e.field(), Some("jobs[0].targets"));
    let bad_timeout = JobSpec::new(
        "c",
        Operation::Command {
            name: "reboot".into(),
            payload: json!(null),
            response_timeout_ms: 0,
            connect_timeout_ms: 0,
        },
    );
    let e = build_error(base().job(bad_timeout));
    assert_eq!(e.field(), Some("jobs[0].operation.response_timeout_ms"));
    let e = build_error(base().job(set_temp("a", 1.0).run(RunBuilder::new().device_timeout_ms(0))));
    assert_eq!(e.field(), Some("jobs[0].run.device_timeout_ms"));
    let e = build_error(
        base()
            .job(set_temp("a", 1.0))
            .command(5, "b", JobCommand::Stop),
    );
    assert_eq!(e.field(), Some("commands[0].job"));
    let e = build_error(base().hub(HubSpec {
        units: 0,
        ..HubSpec::default()
    }));
    assert_eq!(e.field(), Some("hub.units"));
}
