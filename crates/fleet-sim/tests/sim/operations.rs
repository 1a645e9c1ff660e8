//! Operation semantics (DESIGN.md section 6) and the fleet's state after a job.

use fleet_core::{BatchSize, DeviceState, RunBuilder};
use fleet_sim::*;
use serde_json::json;

use crate::common::*;

fn run(fleet: Fleet, behaviour_json: serde_json::Value, jobs: Vec<JobSpec>) -> SimResult {
    let mut b = SimBuilder::new(1)
        .with_fleet(fleet)
        .behaviour(behaviour(behaviour_json))
        .record_events(true);
    for j in jobs {
        b = b.job(j);
    }
    b.build().unwrap().run()
}

fn command(name: &str, response_timeout_ms: i64, connect_timeout_ms: i64) -> Operation {
    Operation::Command {
        name: name.into(),
        payload: json!({}),
        response_timeout_ms,
        connect_timeout_ms,
    }
}

#[test]
fn a_property_sets_desired_on_dispatch_and_reported_on_acknowledgement() {
    let fleet = fleet(json!([
        {"id": "a", "template": THERMOSTAT},
        {"id": "b", "template": THERMOSTAT, "reported": {"temp": 18.0}}
    ]));
    assert_eq!(fleet.reported_version(1), 1);
    let r = run(fleet, json!({}), vec![set_temp("j", 21.5)]);
    let job = &r.jobs[0];
    assert_eq!(job.status, "complete");
    assert_eq!((job.counts.succeeded, job.finished_ms), (2, Some(1000)));
    for d in 0..2 {
        let snap = r.fleet().snapshot(d);
        assert_eq!(snap.desired["temp"], json!(21.5));
        assert_eq!(snap.reported["temp"], json!(21.5));
        assert_eq!((snap.desired_version, snap.reported_version), (2, 2));
    }
    // A second write bumps the versions again.
    let r2 = SimBuilder::new(1)
        .with_fleet(r.fleet().clone())
        .job(set_temp("j2", 19.0))
        .build()
        .unwrap()
        .run();
    assert_eq!(r2.fleet().desired_version(0), 3);
    assert_eq!(r2.fleet().reported(0, "temp"), Some(&json!(19.0)));
}

#[test]
fn an_offline_device_acknowledges_a_property_after_it_reconnects_before_the_timeout() {
    let fleet = fleet(json!([
        {"id": "early", "template": THERMOSTAT, "connected": false, "tags": {"reconnect": "early"}},
        {"id": "late", "template": THERMOSTAT, "connected": false, "tags": {"reconnect": "late"}},
        {"id": "never", "template": THERMOSTAT, "connected": false},
        {"id": "online", "template": THERMOSTAT}
    ]));
    let rules = json!({"rules": [
        {"selector": {"tags": {"reconnect": "early"}}, "reconnect": {"type": "fixed", "ms": 10000}},
        {"selector": {"tags": {"reconnect": "late"}}, "reconnect": {"type": "fixed", "ms": 40000}}
    ]});
    let job = set_temp("j", 21.5).run(RunBuilder::new().device_timeout_ms(30_000));
    let r = run(fleet, rules, vec![job]);
    assert_eq!(fate(&r, "online"), (DeviceState::Succeeded, None));
    assert_eq!(answered_at(&r, 0, 3), Some(1000));
    assert_eq!(fate(&r, "early"), (DeviceState::Succeeded, None));
    assert_eq!(answered_at(&r, 0, 0), Some(11_000));
    assert_eq!(fate(&r, "late"), (DeviceState::TimedOut, Some("offline")));
    assert_eq!(fate(&r, "never"), (DeviceState::TimedOut, Some("offline")));
    assert_eq!(r.jobs[0].finished_ms, Some(30_000));
    assert_eq!(r.jobs[0].failure_reasons.get("offline"), Some(&2));
    // Every device has the desired value; the late one acknowledged after the run gave up on
    // it, the one that never connects did not.
    let f = r.fleet();
    for d in 0..4 {
        assert_eq!(f.desired(d, "temp"), Some(&json!(21.5)));
    }
    let late = f.index_of("late").unwrap();
    assert_eq!(f.reported(late, "temp"), Some(&json!(21.5)));
    assert_eq!(answered_at(&r, 0, 1), Some(41_000));
    assert_eq!(f.reported(f.index_of("never").unwrap(), "temp"), None);
}

#[test]
fn a_command_to_an_offline_device_fails_at_once_or_after_its_connect_timeout() {
    let devices = json!([
        {"id": "off", "template": THERMOSTAT, "connected": false, "tags": {"back": true}},
        {"id": "on", "template": THERMOSTAT}
    ]);
    let rules = json!({"rules": [
        {"selector": {"tags": {"back": true}}, "reconnect": {"type": "fixed", "ms": 2000}}
    ]});
    // No connect timeout: the offline device fails at once.
    let r = run(
        fleet(devices.clone()),
        rules.clone(),
        vec![JobSpec::new("j", command("reboot", 30_000, 0))],
    );
    assert_eq!(fate(&r, "off"), (DeviceState::Failed, Some("offline")));
    assert_eq!(answered_at(&r, 0, 0), Some(0));
    assert_eq!(fate(&r, "on"), (DeviceState::Succeeded, None));
    // A connect timeout long enough: it waits for the device.
    let r = run(
        fleet(devices.clone()),
        rules.clone(),
        vec![JobSpec::new("j", command("reboot", 30_000, 5000))],
    );
    assert_eq!(fate(&r, "off"), (DeviceState::Succeeded, None));
    assert_eq!(answered_at(&r, 0, 0), Some(3000));
    // Too short: it fails when the connect timeout passes.
    let r = run(
        fleet(devices),
        rules,
        vec![JobSpec::new("j", command("reboot", 30_000, 1000))],
    );
    assert_eq!(fate(&r, "off"), (DeviceState::Failed, Some("offline")));
    assert_eq!(answered_at(&r, 0, 0), Some(1000));
}

#[test]
fn a_command_times_out_after_its_response_timeout() {
    let r = run(
        fleet(json!([{"id": "slow", "template": THERMOSTAT}])),
        json!({"rules": [{"latency": {"type": "fixed", "ms": 10000}}]}),
        vec![JobSpec::new("j", command("reboot", 5000, 0))],
    );
    assert_eq!(
        fate(&r, "slow"),
        (DeviceState::TimedOut, Some("response_timeout"))
    );
    assert_eq!(answered_at(&r, 0, 0), Some(5000));
}

#[test]
fn a_command_missing_from_the_template_fails_at_once() {
    let r = run(
        fleet(json!([{"id": "s", "template": SENSOR}, {"id": "t", "template": THERMOSTAT}])),
        json!({}),
        vec![JobSpec::new("j", command("reboot", 5000, 0))],
    );
    assert_eq!(
        fate(&r, "s"),
        (DeviceState::Failed, Some("not_in_template"))
    );
    assert_eq!(answered_at(&r, 0, 0), Some(0));
    assert_eq!(fate(&r, "t"), (DeviceState::Succeeded, None));
}

#[test]
fn a_cloud_property_needs_no_round_trip_but_must_be_in_the_template() {
    let r = run(
        fleet(
            json!([{"id": "n"}, {"id": "s", "template": SENSOR}, {"id": "t", "template": THERMOSTAT}]),
        ),
        json!({}),
        vec![JobSpec::new(
            "j",
            Operation::CloudProperty {
                name: "customer".into(),
                value: json!("acme"),
            },
        )],
    );
    assert_eq!(fate(&r, "t"), (DeviceState::Succeeded, None));
    assert_eq!(answered_at(&r, 0, 2), Some(0));
    assert_eq!(
        r.fleet().cloud_property(2, "customer"),
        Some(&json!("acme"))
    );
    assert_eq!(
        fate(&r, "s"),
        (DeviceState::Failed, Some("not_in_template"))
    );
    assert_eq!(
        fate(&r, "n"),
        (DeviceState::Failed, Some("not_in_template"))
    );
    assert_eq!(r.fleet().cloud_property(1, "customer"), None);
}

#[test]
fn a_property_missing_from_the_template_or_of_the_wrong_type_fails() {
    let devices = json!([{"id": "s", "template": SENSOR}, {"id": "t", "template": THERMOSTAT}]);
    let r = run(fleet(devices.clone()), json!({}), vec![set_temp("j", 20.0)]);
    assert_eq!(
        fate(&r, "s"),
        (DeviceState::Failed, Some("not_in_template"))
    );
    assert_eq!(
        r.fleet().desired(0, "temp"),
        None,
        "nothing is written to a device that refused"
    );
    assert_eq!(r.fleet().desired_version(0), 1);
    let wrong = JobSpec::new(
        "j",
        Operation::Property {
            name: "temp".into(),
            value: json!("hot"),
        },
    );
    let r = run(fleet(devices), json!({}), vec![wrong]);
    assert_eq!(
        fate(&r, "t"),
        (DeviceState::Failed, Some("schema_mismatch"))
    );
}

#[test]
fn a_template_migration_changes_the_template_and_needs_a_known_template() {
    let devices = json!([{"id": "a", "template": THERMOSTAT}, {"id": "b"}]);
    let r = run(
        fleet(devices.clone()),
        json!({}),
        vec![JobSpec::new(
            "m",
            Operation::TemplateMigration {
                template: SENSOR.into(),
            },
        )],
    );
    assert_eq!(r.jobs[0].status, "complete");
    assert_eq!(r.jobs[0].counts.succeeded, 2);
    for d in 0..2 {
        assert_eq!(r.fleet().template(d).map(|t| t.id.as_str()), Some(SENSOR));
    }
    let r = run(
        fleet(devices),
        json!({}),
        vec![JobSpec::new(
            "m",
            Operation::TemplateMigration {
                template: "dtmi:nope;1".into(),
            },
        )],
    );
    assert_eq!(r.jobs[0].status, "failed");
    assert_eq!(r.jobs[0].counts.cancelled, 2);
    assert_eq!(
        r.fleet().template(0).map(|t| t.id.as_str()),
        Some(THERMOSTAT)
    );
}

#[test]
fn a_twin_update_changes_tags_and_desired_properties() {
    let devices = json!([
        {"id": "a", "tags": {"region": "us", "old": 1}},
        {"id": "b", "tags": {"region": "us"}}
    ]);
    let patch = JobSpec::new(
        "twin",
        Operation::UpdateTwin {
            tags: serde_json::from_value(json!({"region": "eu", "old": null, "ring": 2})).unwrap(),
            desired: serde_json::from_value(json!({"rate": 5})).unwrap(),
        },
    )
    .targets(TargetSpec::Devices(vec!["a".into()]));
    // A later job selects by the new tag: the targets are evaluated when it starts.
    let later = set_temp("later", 1.0)
        .targets(TargetSpec::Selector(Selector {
            tags: [("region".to_string(), json!("eu"))].into(),
            ..Selector::default()
        }))
        .start_ms(10_000);
    let r = run(fleet(devices), json!({}), vec![patch, later]);
    assert_eq!(r.jobs[0].counts.succeeded, 1);
    let a = r.fleet().snapshot(0);
    assert_eq!(
        a.tags,
        [
            ("region".to_string(), json!("eu")),
            ("ring".to_string(), json!(2))
        ]
        .into()
    );
    assert_eq!(a.desired["rate"], json!(5));
    assert_eq!(a.desired_version, 2);
    let b = r.fleet().snapshot(1);
    assert_eq!(b.tags["region"], json!("us"));
    assert_eq!(b.desired_version, 1);
    assert_eq!(r.jobs[1].counts.total, 1);
}

#[test]
fn a_device_method_is_answered_by_the_device_even_when_its_template_lacks_it() {
    let r = run(
        fleet(json!([{"id": "n"}, {"id": "s", "template": SENSOR}])),
        json!({}),
        vec![JobSpec::new(
            "m",
            Operation::DeviceMethod {
                name: "reboot".into(),
                payload: json!(null),
                response_timeout_ms: 30_000,
                connect_timeout_ms: 0,
            },
        )],
    );
    assert_eq!(fate(&r, "n"), (DeviceState::Succeeded, None));
    assert_eq!(
        fate(&r, "s"),
        (DeviceState::Failed, Some("not_in_template"))
    );
    assert_eq!(
        answered_at(&r, 0, 1),
        Some(1000),
        "the device answers 501 after its latency"
    );
}

#[test]
fn a_crashed_device_acknowledges_a_property_after_its_downtime_and_times_out_a_command() {
    let crashy = json!({"rules": [{"crash_probability": 1.0, "crash_downtime": {"type": "fixed", "ms": 5000}}]});
    let r = run(
        fleet(json!([{"id": "a", "template": THERMOSTAT}])),
        crashy.clone(),
        vec![set_temp("j", 1.0)],
    );
    assert_eq!(fate(&r, "a"), (DeviceState::Succeeded, None));
    assert_eq!(
        answered_at(&r, 0, 0),
        Some(7000),
        "crash at 1 s, back at 6 s, acknowledged at 7 s"
    );
    let r = run(
        fleet(json!([{"id": "a", "template": THERMOSTAT}])),
        crashy,
        vec![
            JobSpec::new("c", command("reboot", 30_000, 0)),
            JobSpec::new("c2", command("reboot", 30_000, 0)).start_ms(2000),
        ],
    );
    assert_eq!(fate(&r, "a"), (DeviceState::TimedOut, Some("crashed")));
    assert_eq!(answered_at(&r, 0, 0), Some(30_000));
    // The second command finds the device down (crashed at 1 s, back at 6 s).
    let second = r.device_rows(1).next().unwrap();
    assert_eq!(
        (second.state, second.reason),
        (DeviceState::Failed, Some(Reason::Offline))
    );
}

#[test]
fn targets_are_a_snapshot_in_id_order() {
    let devices = json!([
        {"id": "c", "tags": {"ring": 1}}, {"id": "a", "tags": {"ring": 1}}, {"id": "b", "tags": {"ring": 2}}
    ]);
    let ring1 = set_temp("j", 1.0).targets(TargetSpec::Selector(Selector {
        tags: [("ring".to_string(), json!(1))].into(),
        ..Selector::default()
    }));
    let list = set_temp("k", 1.0).targets(TargetSpec::Devices(vec![
        "c".into(),
        "b".into(),
        "c".into(),
    ]));
    let r = run(fleet(devices), json!({}), vec![ring1, list]);
    let ids: Vec<String> = r.device_rows(0).map(|r| r.id.to_string()).collect();
    assert_eq!(ids, ["a", "c"]);
    let ids: Vec<String> = r.device_rows(1).map(|r| r.id.to_string()).collect();
    assert_eq!(ids, ["b", "c"]);
}

#[test]
fn stop_resume_and_refused_commands() {
    let job = set_temp("j", 1.0).run(RunBuilder::new().batch(BatchSize::number(1).unwrap()));
    let r = SimBuilder::new(1)
        .with_fleet(fleet(json!([
            {"id": "a", "template": THERMOSTAT}, {"id": "b", "template": THERMOSTAT}, {"id": "c", "template": THERMOSTAT}
        ])))
        .job(job)
        .command(500, "j", JobCommand::Stop)
        .command(5000, "j", JobCommand::Resume)
        .command(9000, "j", JobCommand::Cancel { force: false })
        .build()
        .unwrap()
        .run();
    let job = &r.jobs[0];
    assert_eq!(job.status, "complete");
    assert_eq!(job.counts.succeeded, 3);
    assert_eq!(job.finished_ms, Some(7000));
    let starts: Vec<Option<i64>> = job.batches.iter().map(|b| b.started_ms).collect();
    assert_eq!(starts, [Some(0), Some(5000), Some(6000)]);
    let errors: Vec<bool> = job.commands.iter().map(|c| c.error.is_some()).collect();
    assert_eq!(errors, [false, false, true], "{:?}", job.commands);
}

#[test]
fn the_series_starts_at_the_start_and_ends_with_the_final_counts() {
    let r = SimBuilder::new(3)
        .fleet(thermostats(1000))
        .templates(templates())
        .behaviour(behaviour(
            json!({"rules": [{"latency": {"type": "uniform", "min_ms": 0, "max_ms": 600000}}]}),
        ))
        .job(set_temp("j", 1.0))
        .series_samples(50)
        .build()
        .unwrap()
        .run();
    let s = &r.jobs[0].series;
    assert!(s.len() <= 51, "{}", s.len());
    assert_eq!(s[0].pending + s[0].in_flight, 1000);
    let last = s.last().unwrap();
    assert_eq!(last.succeeded, 1000);
    assert_eq!(Some(last.at_ms), r.jobs[0].finished_ms);
    assert!(s
        .windows(2)
        .all(|w| w[0].at_ms < w[1].at_ms && w[0].succeeded <= w[1].succeeded));
}

#[test]
fn progress_is_reported_every_n_events_and_at_the_end() {
    let sim = SimBuilder::new(1)
        .templates(templates())
        .fleet(thermostats(1000))
        .job(set_temp("j", 1.0))
        .build()
        .unwrap();
    let mut seen = Vec::new();
    let r = sim.run_with_progress(100, &mut |p| seen.push(*p));
    assert_eq!(r.events_processed, 1001);
    assert_eq!(seen.len(), 11);
    assert!(seen
        .windows(2)
        .all(|w| w[0].events_processed < w[1].events_processed));
    let last = seen.last().unwrap();
    assert_eq!((last.devices_total, last.devices_terminal), (1000, 1000));
    assert_eq!((last.jobs_total, last.jobs_settled), (1, 1));
}

#[test]
fn a_horizon_stops_the_simulation_with_the_job_running() {
    let r = SimBuilder::new(1)
        .templates(templates())
        .fleet(thermostats(10))
        .behaviour(behaviour(
            json!({"rules": [{"latency": {"type": "uniform", "min_ms": 0, "max_ms": 10000}}]}),
        ))
        .job(set_temp("j", 1.0))
        .until_ms(5000)
        .build()
        .unwrap()
        .run();
    let job = &r.jobs[0];
    assert_eq!(job.status, "running");
    assert_eq!(r.end_ms, 5000);
    assert!(
        job.counts.in_flight > 0 && job.counts.succeeded > 0,
        "{:?}",
        job.counts
    );
    assert_eq!(job.finished_ms, None);
}

#[test]
fn the_deadline_of_a_settled_run_does_not_stretch_virtual_time() {
    let fleet = Fleet::generate(&thermostats(20), &templates(), 1).unwrap();
    let job = JobSpec::new("j", command("reboot", 30_000, 0))
        .run(fleet_core::RunBuilder::new().max_execution_ms(3_600_000));
    let result = run(
        fleet,
        serde_json::json!({"rules": [{"latency": {"type": "fixed", "ms": 500}}]}),
        vec![job],
    );
    let job = &result.jobs[0];
    assert_eq!(job.status, "complete");
    assert_eq!(job.finished_ms, Some(500));
    assert_eq!(
        result.end_ms, 500,
        "the pending deadline at 1 h is dropped, not waited for"
    );
}
