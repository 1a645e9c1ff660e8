//! Reruns of a job's failed devices (semantics rule 6) and fresh fates per run (rule 7 and
//! 17.7): a rerun targets exactly the devices that failed, and draws its own fates.

use std::collections::BTreeSet;

use fleet_core::{BatchSize, DeviceState, RunBuilder};
use fleet_sim::*;
use proptest::prelude::*;
use serde_json::json;

use crate::common::*;

fn property() -> Operation {
    Operation::Property {
        name: "temp".into(),
        value: 21.5.into(),
    }
}

/// `n` thermostats, a fraction `p` of operations failing at random; 1.2 firmware on a fifth
/// of them rejecting everything when `bad_firmware`.
fn sim(seed: u64, n: u32, p: f64) -> SimBuilder {
    SimBuilder::new(seed)
        .templates(templates())
        .fleet(thermostats(n))
        .behaviour(behaviour(json!({"rules": [{
            "latency": {"type": "fixed", "ms": 1000}, "failure_probability": p
        }]})))
        .job(
            JobSpec::new("job", property())
                .run(RunBuilder::new().batch(BatchSize::number(50).unwrap())),
        )
}

fn ids_in(result: &SimResult, job: usize, state: impl Fn(DeviceState) -> bool) -> BTreeSet<String> {
    result
        .device_rows(job)
        .filter(|r| state(r.state))
        .map(|r| r.id.to_string())
        .collect()
}

fn failed(s: DeviceState) -> bool {
    s.is_failure()
}

#[test]
fn a_rerun_targets_exactly_the_failed_devices_and_draws_new_fates() {
    let r = sim(5, 2_000, 0.3)
        .rerun("job", "job-rerun", None)
        .build()
        .unwrap()
        .run();
    assert_eq!(r.jobs.len(), 2);
    let source_failed = ids_in(&r, 0, failed);
    let rerun = &r.jobs[1];
    assert_eq!(rerun.id, "job-rerun");
    assert_eq!(rerun.rerun_of.as_deref(), Some("job"));
    assert_eq!(rerun.status, "complete");
    let targets = ids_in(&r, 1, |_| true);
    assert_eq!(
        targets, source_failed,
        "the rerun's targets are the failed devices"
    );
    // Fresh fates: about 30 % of the rerun fails again, not all of it.
    let again = ids_in(&r, 1, failed);
    let n = targets.len() as f64;
    let sd = (n * 0.3 * 0.7).sqrt();
    assert!(
        (again.len() as f64 - 0.3 * n).abs() <= 5.0 * sd,
        "{} of {} failed again",
        again.len(),
        targets.len()
    );
    assert!(again.is_subset(&targets));
    // It started when the job settled: at the job's end, and at once.
    assert_eq!(rerun.submitted_ms, r.jobs[0].finished_ms.unwrap());
    assert_eq!(rerun.started_ms, Some(rerun.submitted_ms));
    assert_eq!(r.jobs[0].commands.len(), 1);
    assert_eq!(r.jobs[0].commands[0].error, None);
}

#[test]
fn a_deterministic_fault_fails_every_rerun_again() {
    let mut fleet = thermostats(500);
    fleet.tags = serde_json::from_value(json!([{"name": "fw", "values": [
        {"value": "1.2", "weight": 1}, {"value": "1.3", "weight": 4}
    ]}]))
    .unwrap();
    let r = SimBuilder::new(9)
        .templates(templates())
        .fleet(fleet)
        .behaviour(behaviour(json!({"rules": [
            {"latency": {"type": "fixed", "ms": 500}, "failure_probability": 0.1},
            {"selector": {"tags": {"fw": "1.2"}}, "failure_probability": 1.0}
        ]})))
        .job(JobSpec::new("job", property()))
        .rerun("job", "again", None)
        .build()
        .unwrap()
        .run();
    let fleet = r.fleet();
    let bad: BTreeSet<String> = (0..fleet.len())
        .filter(|&i| fleet.tag(i, "fw") == Some(&json!("1.2")))
        .map(|i| fleet.id(i).to_string())
        .collect();
    assert!(bad.len() > 50, "{}", bad.len());
    let again_failed = ids_in(&r, 1, failed);
    // Every device on 1.2 failed both times.
    assert!(bad.is_subset(&ids_in(&r, 0, failed)));
    assert!(bad.is_subset(&again_failed));
    // The others failed at random: most of them succeed in the rerun.
    let random = ids_in(&r, 1, |_| true).len() - bad.len();
    let random_again = again_failed.len() - bad.len();
    assert!(random > 20, "{random}");
    assert!(
        random_again * 3 < random,
        "{random_again} of {random} failed again"
    );
}

#[test]
fn two_jobs_over_the_same_devices_fail_different_devices() {
    let r = sim(3, 1_000, 0.2)
        .job(JobSpec::new("second", property()))
        .build()
        .unwrap()
        .run();
    let a = ids_in(&r, 0, failed);
    let b = ids_in(&r, 1, failed);
    assert!(a.len() > 100 && b.len() > 100);
    // Independent draws: the overlap is about 20 % of each, far from all of it.
    let both = a.intersection(&b).count();
    assert!(
        both * 2 < a.len().min(b.len()),
        "{both} of {} and {}",
        a.len(),
        b.len()
    );
}

#[test]
fn a_rerun_of_a_run_still_going_is_refused_and_recorded() {
    let r = sim(1, 200, 0.5)
        .rerun("job", "early", Some(500))
        .build()
        .unwrap()
        .run();
    assert_eq!(r.jobs.len(), 1, "no rerun was created");
    let row = &r.jobs[0].commands[0];
    assert_eq!((row.at_ms, row.command), (500, "rerun"));
    assert!(row.error.as_deref().unwrap().contains("rerun"), "{row:?}");
}

#[test]
fn a_rerun_at_a_time_after_the_job_settled_runs_then() {
    let r = sim(2, 300, 0.4)
        .rerun("job", "later", Some(3_600_000))
        .build()
        .unwrap()
        .run();
    assert_eq!(r.jobs[1].started_ms, Some(3_600_000));
    assert_eq!(r.jobs[1].counts.total, r.jobs[0].counts.failed);
}

#[test]
fn reruns_are_checked_on_build() {
    let e = sim(1, 10, 0.1)
        .rerun("nope", "r", None)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("reruns[0].job"), "{e}");
    let e = sim(1, 10, 0.1)
        .rerun("job", "job", None)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("reruns[0].id"), "{e}");
    let e = sim(1, 10, 0.1)
        .rerun("job", "r", Some(-1))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("reruns[0].at_ms"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Rule 6 for any fleet, seed and failure rate: the rerun runs over exactly the failed
    /// devices, in the same batching, and its counts add up.
    #[test]
    fn prop_a_rerun_runs_exactly_the_failed_devices(
        seed in 0u64..1_000,
        n in 1u32..300,
        p in 0.0f64..1.0,
    ) {
        let r = sim(seed, n, p).rerun("job", "rerun", None).build().unwrap().run();
        let source_failed = ids_in(&r, 0, failed);
        prop_assert_eq!(r.jobs[1].counts.total as usize, source_failed.len());
        prop_assert_eq!(ids_in(&r, 1, |_| true), source_failed.clone());
        let c = r.jobs[1].counts;
        prop_assert_eq!(c.succeeded + c.failed, c.total);
        let batches = source_failed.len().div_ceil(50);
        prop_assert_eq!(r.jobs[1].batches.len(), batches);
    }
}
