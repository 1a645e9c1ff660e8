//! Replications: the report does not depend on the thread count, and agrees with runs made one
//! seed at a time.

use fleet_scenario::{run, run_replications, Format, ReplicationOptions, RunOptions, Scenario};

/// 400 devices, batches of 25 %, a per-batch threshold of 4 failures, 3 % failing: the
/// threshold trips in some seeds and not in others.
const SCENARIO: &str = r#"
seed = 100

[fleet]
devices = 400
id_pattern = "d-{:04}"
templates = [{ template = "dtmi:t;1", share = 1.0 }]

[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]

[[groups]]
id = "g"

[[behaviour.rules]]
latency = { type = "lognormal", median_ms = 1000, sigma = 0.7 }
failure_probability = 0.03

[[jobs]]
json = '''{"id": "j", "group": "g", "batch": {"type": "percentage", "value": 25},
  "cancellationThreshold": {"type": "number", "value": 4, "batch": true},
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}]}'''

[[expect]]
job = "j"
status = "complete"
probability = 0.5

[[expect]]
job = "j"
duration_s = { max = 12 }
"#;

fn scenario() -> Scenario {
    Scenario::from_str(SCENARIO, Format::Toml).expect("the test scenario is valid")
}

fn replicate(k: u32, threads: usize) -> serde_json::Value {
    let options = ReplicationOptions {
        seed: None,
        replications: k,
        threads,
    };
    let report = run_replications(&scenario(), options, &mut |_, _| {}).unwrap();
    let mut json = serde_json::to_value(&report).unwrap();
    let map = json.as_object_mut().unwrap();
    map.remove("wall_s");
    map.remove("events_per_s");
    json
}

#[test]
fn the_report_is_identical_whatever_the_thread_count() {
    let one = replicate(24, 1);
    assert_eq!(one, replicate(24, 2));
    assert_eq!(one, replicate(24, 5));
    assert_eq!(one, replicate(24, 64), "more threads than runs is allowed");
}

#[test]
fn replications_agree_with_single_runs_seed_by_seed() {
    let k = 30u32;
    let report = replicate(k, 3);
    let scenario = scenario();
    let (mut complete, mut tripped, mut fast_enough) = (0u32, 0u32, 0u32);
    let mut durations = Vec::new();
    for i in 0..k {
        let single = run(
            &scenario,
            RunOptions {
                seed: Some(100 + u64::from(i)),
            },
            &mut |_, _| {},
        )
        .unwrap();
        let job = &single.result.jobs[0];
        complete += u32::from(job.status == "complete");
        tripped += u32::from(job.threshold_trip.is_some());
        let d = job.duration_ms.unwrap() as f64 / 1000.0;
        fast_enough += u32::from(d <= 12.0);
        durations.push(d);
    }
    assert!(
        0 < tripped && tripped < k,
        "the scenario must vary: tripped in {tripped} of {k}"
    );
    let job = &report["jobs"][0];
    assert_eq!(job["statuses"]["complete"], complete);
    assert_eq!(
        job["threshold_tripped_probability"].as_f64().unwrap(),
        f64::from(tripped) / f64::from(k)
    );
    durations.sort_by(f64::total_cmp);
    assert_eq!(
        job["duration_s"]["max"].as_f64().unwrap(),
        durations[k as usize - 1]
    );
    assert_eq!(job["duration_s"]["min"].as_f64().unwrap(), durations[0]);
    // Nearest rank: p50 of 30 values is the 15th smallest.
    assert_eq!(job["duration_s"]["p50"].as_f64().unwrap(), durations[14]);
    let e = &report["expectations"];
    assert_eq!(e[0]["held"], complete);
    assert_eq!(e[0]["required_probability"], 0.5);
    assert_eq!(e[0]["passed"], f64::from(complete) / f64::from(k) >= 0.5);
    assert_eq!(e[1]["held"], fast_enough);
    assert_eq!(
        e[1]["passed"],
        fast_enough == k,
        "probability defaults to 1"
    );
    let passed = e[0]["passed"].as_bool().unwrap() && e[1]["passed"].as_bool().unwrap();
    assert_eq!(report["passed"], passed);
}

#[test]
fn another_first_seed_gives_other_runs() {
    let a = replicate(5, 2);
    let options = ReplicationOptions {
        seed: Some(7),
        replications: 5,
        threads: 2,
    };
    let b = run_replications(&scenario(), options, &mut |_, _| {}).unwrap();
    assert_eq!(b.seed_first, 7);
    assert_ne!(a["runs_hash"], serde_json::json!(b.runs_hash));
}

#[test]
fn zero_replications_or_threads_are_errors() {
    for (replications, threads) in [(0, 1), (1, 0)] {
        let options = ReplicationOptions {
            seed: None,
            replications,
            threads,
        };
        assert!(run_replications(&scenario(), options, &mut |_, _| {}).is_err());
    }
}

#[test]
fn an_impossible_probability_is_rejected_at_load() {
    let text = SCENARIO.replace("probability = 0.5", "probability = 1.5");
    let err = Scenario::from_str(&text, Format::Toml).unwrap_err();
    assert_eq!(err.field(), Some("expect[0].probability"));
}
