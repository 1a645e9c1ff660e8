//! Sharded plan sweeps (`fleetsim plan --shard I/N`, `fleetsim merge`): the merged parts give
//! exactly the whole sweep's report, with pruning by dominance and infeasibility at work, for
//! several part counts; parts that do not make one whole are refused with the reason.

use fleet_scenario::plan::{Done, StoppingRule};
use fleet_scenario::{
    merge_files, merge_plans, run_plan, run_plan_shard, ErrorKind, Format, PartialFile,
    PlanOptions, PlanPartial, PlanReport, Scenario, Shard,
};

/// 60 devices in batches of a quarter, each failing with probability 0.05.
const SCENARIO: &str = r#"
seed = 3
[fleet]
devices = 60
templates = [{ template = "dtmi:t;1", share = 1.0 }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
[[groups]]
id = "g"
[[behaviour.rules]]
latency = { type = "uniform", min_ms = 500, max_ms = 1500 }
failure_probability = 0.05
[[jobs]]
json = '''{"id": "j", "group": "g",
  "batch": {"type": "percentage", "value": 25},
  "cancellationThreshold": {"type": "number", "value": 2, "batch": true},
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}]}'''
"#;

fn scenario() -> Scenario {
    Scenario::from_str(SCENARIO, Format::Toml).expect("the test scenario is valid")
}

/// Four thresholds by two batch sizes. Without a bad rollout the tight thresholds (1 and 2
/// devices) stop healthy rollouts often and are dominated by the looser ones; with one (30 %
/// fail), looser thresholds reach more devices, nothing dominates, and a false-stop limit of
/// 50 % makes the tightest plans clearly infeasible.
fn options(threads: usize, bad: bool) -> PlanOptions {
    PlanOptions {
        bad: bad.then(|| serde_json::from_str(r#"{"failure_probability": 0.3}"#).unwrap()),
        knobs: vec![
            (
                "threshold".into(),
                vec!["1".into(), "2".into(), "3".into(), "10%".into()],
            ),
            ("batch".into(), vec!["25%".into(), "50%".into()]),
        ],
        rule: StoppingRule {
            precision: 0.05,
            min_replications: 20,
            max_replications: 160,
            prune: true,
        },
        constraints: fleet_scenario::plan::Constraints {
            max_false_stop: bad.then_some(0.5),
            ..Default::default()
        },
        threads,
        ..PlanOptions::default()
    }
}

/// The report as JSON without its wall time.
fn json(report: &PlanReport) -> serde_json::Value {
    let mut v = serde_json::to_value(report).unwrap();
    v.as_object_mut().unwrap().remove("wall_s");
    v
}

/// The N parts, each written as a file's text and read back.
fn parts(n: u32, bad: bool) -> Vec<PlanPartial> {
    (0..n)
        .map(|index| {
            let shard = Shard { index, count: n };
            let part =
                run_plan_shard(&scenario(), &options(2, bad), shard, &mut |_, _| {}).unwrap();
            PlanPartial::from_json(&part.to_json()).unwrap()
        })
        .collect()
}

/// Why each rollout of each plan got no more replications.
fn reasons(report: &PlanReport) -> Vec<Option<Done>> {
    report
        .plans
        .iter()
        .flat_map(|p| [p.healthy_done.clone(), p.bad_done.clone()])
        .collect()
}

/// Merges `n` parts (in reverse order) and checks the report against the whole sweep's.
fn check_merge(whole: &PlanReport, n: u32, bad: bool) {
    let mut parts = parts(n, bad);
    parts.reverse(); // any order
    let ran: u64 = parts.iter().map(PlanPartial::simulations).sum();
    assert!(
        ran >= whole.simulations,
        "{n} parts ran {ran} < {}",
        whole.simulations
    );
    let merged = merge_plans(parts).unwrap();
    assert_eq!(json(&merged), json(whole), "{n} parts");
    let text = |r: &PlanReport| {
        let mut r = r.clone();
        r.wall_s = 0.0;
        fleet_scenario::plan::report::render(&r)
    };
    assert_eq!(text(&merged), text(whole), "text, {n} parts");
}

#[test]
fn merged_parts_give_the_whole_sweeps_report_with_dominance() {
    let whole = run_plan(&scenario(), &options(2, false), &mut |_, _| {}).unwrap();
    let why = reasons(&whole);
    // The sweep uses the cross-plan rule the parts cannot apply themselves.
    assert!(
        why.iter()
            .any(|r| matches!(r, Some(Done::Dominated { .. }))),
        "{why:?}"
    );
    for n in [1, 3, 8] {
        check_merge(&whole, n, false);
    }
}

#[test]
fn merged_parts_give_the_whole_sweeps_report_with_a_bad_rollout() {
    let whole = run_plan(&scenario(), &options(2, true), &mut |_, _| {}).unwrap();
    let why = reasons(&whole);
    assert!(
        why.iter()
            .any(|r| matches!(r, Some(Done::Infeasible { .. }))),
        "{why:?}"
    );
    assert!(
        why.iter().any(|r| matches!(r, Some(Done::Precise))),
        "{why:?}"
    );
    for n in [2, 5] {
        check_merge(&whole, n, true);
    }
}

#[test]
fn a_part_runs_its_plans_without_dominance() {
    let whole = run_plan(&scenario(), &options(1, false), &mut |_, _| {}).unwrap();
    let part = run_plan_shard(
        &scenario(),
        &options(1, false),
        Shard::WHOLE,
        &mut |_, _| {},
    )
    .unwrap();
    // The whole sweep stopped a dominated plan early; the part ran it on.
    assert!(part.simulations() > whole.simulations);
    assert_eq!(part.plan_indices(), (0..8).collect::<Vec<_>>());
}

fn merge_error(parts: Vec<PlanPartial>) -> String {
    let err = merge_plans(parts).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Partial(_)), "{err:?}");
    err.to_string()
}

#[test]
fn parts_that_do_not_make_one_whole_are_refused() {
    let mut three = parts(3, true);
    let last = three.pop().unwrap();
    assert!(merge_error(three.clone()).contains("2 of 3 parts given; missing: 2/3"));
    three.push(three[0].clone());
    assert!(merge_error(three).contains("part 0/3 is given twice"));
    assert!(merge_error(vec![]).contains("no partial result"));
    let mut other = options(1, true);
    other.rule.precision = 0.04;
    let foreign = run_plan_shard(
        &scenario(),
        &other,
        Shard { index: 2, count: 3 },
        &mut |_, _| {},
    )
    .unwrap();
    let mut mixed = parts(3, true);
    mixed[2] = foreign;
    let err = merge_error(mixed);
    assert!(err.contains("parts of different sweeps"), "{err}");
    assert!(err.contains("options"), "{err}");
    let mut two = parts(2, true);
    two.push(last);
    assert!(merge_error(two).contains("split into 2 and 3 parts"));
}

#[test]
fn an_edited_part_is_refused_with_the_field() {
    let part = parts(2, true).remove(1);
    let text = part.to_json();
    let dropped = text.replacen("\"index\":4", "\"index\":7", 1);
    let err = PlanPartial::from_json(&dropped).unwrap_err().to_string();
    assert!(err.contains("plans"), "{err}");
    let newer = text.replacen("\"partial_version\":1", "\"partial_version\":9", 1);
    let err = PlanPartial::from_json(&newer).unwrap_err().to_string();
    assert!(err.contains("version Some(9)"), "{err}");
}

#[test]
fn parts_of_a_sweep_and_of_a_replicated_run_do_not_mix() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, parts(1, false).remove(0).to_json()).unwrap();
    let run = fleet_scenario::run_shard(
        &scenario(),
        fleet_scenario::ReplicationOptions {
            seed: None,
            replications: 2,
            threads: 1,
        },
        Shard::WHOLE,
        &mut |_, _| {},
    )
    .unwrap();
    let run_path = dir.path().join("run.json");
    std::fs::write(&run_path, run.to_json()).unwrap();
    let files: Vec<PartialFile> = [&plan_path, &run_path]
        .iter()
        .map(|p| PartialFile::read(p).unwrap())
        .collect();
    assert!(matches!(files[0], PartialFile::Plans(_)));
    assert!(matches!(files[1], PartialFile::Replications(_)));
    let err = merge_files(files).unwrap_err().to_string();
    assert!(err.contains("cannot be merged together"), "{err}");
}
