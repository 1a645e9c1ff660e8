//! Sharding: the parts of a replicated run, written to partial result files and merged, give
//! exactly the report of the unsharded run; parts that do not make one whole are refused.

use fleet_scenario::report::replications;
use fleet_scenario::{
    merge, run, run_replications, run_shard, ErrorKind, Format, Partial, ReplicationOptions,
    ReplicationReport, RunOptions, Scenario, Shard,
};

/// 400 devices in batches of 25 %, a per-batch threshold of 4 failures, 3 % failing: some
/// seeds stop in batch 1 or later, others complete. The second expectation's probability is
/// a float that needs every digit to round-trip.
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
probability = 0.30000000000000004
"#;

fn scenario() -> Scenario {
    Scenario::from_str(SCENARIO, Format::Toml).expect("the test scenario is valid")
}

fn options(k: u32, threads: usize) -> ReplicationOptions {
    ReplicationOptions {
        seed: None,
        replications: k,
        threads,
    }
}

/// The report with its two varying fields set to 0, as text and as JSON.
fn rendered(mut report: ReplicationReport) -> (String, String) {
    report.wall_s = 0.0;
    report.events_per_s = 0.0;
    (replications::render(&report), report.to_json())
}

/// The N parts of K replications, each written as a file's text and read back.
fn parts(k: u32, n: u32) -> Vec<Partial> {
    let scenario = scenario();
    (0..n)
        .map(|index| {
            let shard = Shard { index, count: n };
            let part = run_shard(&scenario, options(k, 2), shard, &mut |_, _| {}).unwrap();
            assert_eq!(part.range(), shard.range(k));
            Partial::from_json(&part.to_json()).unwrap()
        })
        .collect()
}

#[test]
fn merged_parts_give_the_unsharded_report_byte_for_byte() {
    let k = 10;
    let (text, json) =
        rendered(run_replications(&scenario(), options(k, 3), &mut |_, _| {}).unwrap());
    assert!(json.contains("\"stops\""), "{json}");
    for n in [1, 2, 3, 7, 13] {
        let mut parts = parts(k, n);
        parts.reverse(); // any order
        let (merged_text, merged_json) = rendered(merge(parts).unwrap());
        assert_eq!(merged_json, json, "JSON, {n} parts");
        assert_eq!(merged_text, text, "text, {n} parts");
    }
}

#[test]
fn the_awkward_probability_survives_the_partial_file() {
    let report = merge(parts(4, 2)).unwrap();
    assert_eq!(
        report.expectations[1].required_probability,
        0.30000000000000004
    );
}

fn merge_error(parts: Vec<Partial>) -> String {
    let err = merge(parts).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Partial(_)), "{err:?}");
    err.to_string()
}

#[test]
fn a_missing_or_duplicated_part_is_refused() {
    let mut three = parts(10, 3);
    let last = three.pop().unwrap();
    let err = merge_error(three.clone());
    assert!(err.contains("2 of 3 parts given; missing: 2/3"), "{err}");
    three.push(three[0].clone());
    let err = merge_error(three);
    assert!(err.contains("part 0/3 is given twice"), "{err}");
    let err = merge_error(vec![last]);
    assert!(err.contains("missing: 0/3, 1/3"), "{err}");
    assert!(merge_error(vec![]).contains("no partial result"));
}

#[test]
fn parts_of_other_scenarios_or_options_are_refused() {
    let scenario = scenario();
    let shard = |index, count| Shard { index, count };
    let ours = run_shard(&scenario, options(6, 1), shard(0, 2), &mut |_, _| {}).unwrap();
    let mut other_seed = options(6, 1);
    other_seed.seed = Some(7);
    let other_scenario =
        Scenario::from_str(&SCENARIO.replace("0.03", "0.04"), Format::Toml).unwrap();
    let rescaled = scenario.clone().with_devices(300).unwrap();
    for (other, needle) in [
        (
            run_shard(&scenario, other_seed, shard(1, 2), &mut |_, _| {}),
            "first seed 100 and 7",
        ),
        (
            run_shard(&scenario, options(8, 1), shard(1, 2), &mut |_, _| {}),
            "6 and 8 replications",
        ),
        (
            run_shard(&other_scenario, options(6, 1), shard(1, 2), &mut |_, _| {}),
            "the scenario or its options",
        ),
        (
            run_shard(&rescaled, options(6, 1), shard(1, 2), &mut |_, _| {}),
            "the scenario or its options",
        ),
        (
            run_shard(&scenario, options(6, 1), shard(1, 3), &mut |_, _| {}),
            "split into 2 and 3 parts",
        ),
    ] {
        let err = merge_error(vec![ours.clone(), other.unwrap()]);
        assert!(
            err.contains("are parts of different runs") && err.contains(needle),
            "{err}"
        );
    }
}

#[test]
fn a_file_that_is_not_a_whole_part_is_refused_with_where_and_what() {
    let part = parts(10, 3).remove(1);
    let json = part.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = value.clone();
        f(&mut v);
        Partial::from_json(&v.to_string()).unwrap_err().to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (
            edit(&|v| v["kind"] = "report".into()),
            "not a partial result file",
        ),
        (
            edit(&|v| v["partial_version"] = 2.into()),
            "version Some(2)",
        ),
        (
            edit(&|v| v["fleetsim_version"] = "9.9.9".into()),
            "written by fleetsim 9.9.9",
        ),
        (
            edit(&|v| v["shard"]["index"] = 3.into()),
            "field `shard`: 3/3",
        ),
        (
            edit(&|v| v["first"] = 4.into()),
            "holds indices 3 to 6, not 4 to 6",
        ),
        (
            edit(&|v| {
                v["runs"].as_array_mut().unwrap().pop();
            }),
            "field `runs`: 2 records for 3 replications",
        ),
        (
            edit(&|v| v["runs"][1]["index"] = 9.into()),
            "field `runs[1]`: index 9, expected 4",
        ),
        (
            edit(&|v| {
                v["runs"][0]["entries"][0]
                    .as_array_mut()
                    .unwrap()
                    .push(true.into());
            }),
            "field `runs[0]`: its jobs, schedules or expectation checks",
        ),
        (
            edit(&|v| v["runs"][0]["trace_hash"] = "zz".into()),
            "is not 16 hexadecimal digits",
        ),
        (
            Partial::from_json("{\"kind\": ").unwrap_err().to_string(),
            "line 1, column",
        ),
    ];
    for (err, needle) in cases {
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
    }
}

#[test]
fn parts_edited_to_another_count_are_refused_not_summarised() {
    let mut parts: Vec<serde_json::Value> = parts(10, 2)
        .iter()
        .map(|p| serde_json::from_str(&p.to_json()).unwrap())
        .collect();
    // Part 1 of 2 claims K = 12 (indices 6 to 11) and holds records for them.
    let p = &mut parts[1];
    p["replications"] = 12.into();
    p["first"] = 6.into();
    p["end"] = 12.into();
    let runs = p["runs"].as_array_mut().unwrap();
    for (i, run) in runs.iter_mut().enumerate() {
        run["index"] = (6 + i).into();
    }
    runs.push(runs[0].clone());
    runs.last_mut().unwrap()["index"] = 11.into();
    let parts = parts
        .iter()
        .map(|v| Partial::from_json(&v.to_string()).unwrap())
        .collect();
    let err = merge_error(parts);
    assert!(
        err.contains("do not cover replications 0 to 9 once each"),
        "{err}"
    );
}

#[test]
fn a_file_that_cannot_be_a_part_names_itself() {
    let dir = std::env::temp_dir().join(format!("fleetsim-shard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("part.json");
    std::fs::write(&path, "[]").unwrap();
    let err = Partial::read(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&path.display().to_string()),
        "names the file: {err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stops_statuses_and_failed_seeds_agree_with_single_runs() {
    let k = 24u32;
    let report = run_replications(&scenario(), options(k, 2), &mut |_, _| {}).unwrap();
    let scenario = scenario();
    let mut batches = std::collections::BTreeMap::<u32, u32>::new();
    let (mut dispatched, mut cancelled_max_s, mut failed_seeds) = (Vec::new(), 0.0f64, Vec::new());
    for i in 0..k {
        let seed = 100 + u64::from(i);
        let single = run(&scenario, RunOptions { seed: Some(seed) }, &mut |_, _| {}).unwrap();
        let job = &single.result.jobs[0];
        if let Some(trip) = job.threshold_trip {
            *batches.entry(trip.batch).or_insert(0) += 1;
            let c = job.counts;
            let reached = c.succeeded + c.failed + c.in_flight;
            // Batches of 100: a stop in batch b reached batches 0 to b and no further.
            assert!(reached > 100 * trip.batch && reached <= 100 * (trip.batch + 1));
            dispatched.push(f64::from(reached));
            let s = job.duration_ms.unwrap() as f64 / 1000.0;
            cancelled_max_s = cancelled_max_s.max(s);
        }
        if job.status.as_str() != "complete" {
            failed_seeds.push(seed);
        }
    }
    let job = &report.jobs[0];
    let stops: Vec<(u32, u32)> = job
        .stops
        .batches
        .iter()
        .map(|b| (b.batch, b.runs))
        .collect();
    assert_eq!(stops, batches.into_iter().collect::<Vec<_>>());
    assert!(
        job.stops.runs > 0 && job.stops.runs < k,
        "the scenario must vary"
    );
    dispatched.sort_by(f64::total_cmp);
    let d = job.stops.dispatched.unwrap();
    assert_eq!(
        (d.min, d.max),
        (dispatched[0], dispatched[dispatched.len() - 1])
    );
    assert_eq!(job.by_status["cancelled"].runs, job.stops.runs);
    assert_eq!(
        job.by_status["cancelled"].duration_s.unwrap().max,
        cancelled_max_s
    );
    assert_eq!(report.expectations[0].failed_seeds, failed_seeds);
    assert_eq!(report.expectations[0].held, k - failed_seeds.len() as u32);
}
