//! `fleetsim plan`'s library: the two risk questions answered from replications, checked
//! against models whose answers are known, common random numbers across plans, the
//! sequential stopping rule, the Pareto set and the recommendation, and the errors.

use fleet_scenario::plan::{Constraints, Done, Objective, StoppingRule};
use fleet_scenario::{run_plan, Format, PlanOptions, PlanReport, Scenario};
use proptest::prelude::*;

/// `devices` devices, each failing with probability `fail`, a job `j` with `job_extra` fields,
/// and `extra` TOML at the end.
fn scenario(devices: u32, fail: f64, job_extra: &str, extra: &str) -> Scenario {
    let text = format!(
        r#"
seed = 1
[fleet]
devices = {devices}
templates = [{{ template = "dtmi:t;1", share = 1.0 }}]
tags = [{{ name = "ring", values = [{{ value = "a", weight = 1 }}, {{ value = "b", weight = 1 }}] }}]
[[templates]]
id = "dtmi:t;1"
properties = [{{ name = "p", schema = "integer" }}]
[[groups]]
id = "g"
[[behaviour.rules]]
latency = {{ type = "uniform", min_ms = 500, max_ms = 1500 }}
failure_probability = {fail}
[[jobs]]
json = '''{{"id": "j", "group": "g", {job_extra}
  "data": [{{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}}]}}'''
{extra}
"#
    );
    Scenario::from_str(&text, Format::Toml).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn fixed(n: u32) -> StoppingRule {
    StoppingRule {
        precision: 0.0,
        min_replications: n,
        max_replications: n,
        prune: false,
    }
}

fn plan(s: &Scenario, options: &PlanOptions) -> PlanReport {
    run_plan(s, options, &mut |_, _| {}).unwrap()
}

/// P(Binomial(n, p) >= k).
fn binomial_tail(n: u32, p: f64, k: u32) -> f64 {
    let mut pmf = (1.0 - p).powi(n as i32);
    let mut below = 0.0;
    for j in 0..k {
        below += pmf;
        pmf *= f64::from(n - j) / f64::from(j + 1) * p / (1.0 - p);
    }
    1.0 - below
}

/// One batch of 20 devices failing with probability 0.1 and a job-wide threshold of 4: a false
/// stop is exactly 4 or more failures, P = 0.1330; with a cohort fault that fails every device
/// of the fleet in a quarter of the replications, P = 0.25 + 0.75 · 0.1330. Over 20 blocks
/// of seeds the 95 % interval of the estimate covers the truth in at least 16 (the chance of
/// fewer with a true 95 % coverage is 0.3 %).
#[test]
fn the_false_stop_interval_covers_the_known_probability() {
    let threshold = r#""cancellationThreshold": {"type": "number", "value": 4, "batch": false},"#;
    let plain = binomial_tail(20, 0.1, 4);
    let cohort = "[[behaviour.cohorts]]\nprobability = 0.25\nfailure_probability = 1.0\n";
    for (extra, truth) in [("", plain), (cohort, 0.25 + 0.75 * plain)] {
        let s = scenario(20, 0.1, threshold, extra);
        let covered = (0..20u64)
            .filter(|block| {
                let options = PlanOptions {
                    rule: fixed(150),
                    seed: Some(block * 1000),
                    threads: 2,
                    ..PlanOptions::default()
                };
                let r = plan(&s, &options);
                let h = &r.plans[0].healthy;
                assert_eq!(h.replications, 150);
                h.false_stop_interval.contains(truth)
            })
            .count();
        assert!(covered >= 16, "truth {truth}: covered in {covered} of 20");
    }
}

/// Under the sequential rule (rounds of 50, 100, 200, ... until ±5 pp) the final interval
/// still covers the known probability in at least 16 of 20 blocks of seeds: stopping on the
/// interval's width, which depends on the estimate only weakly, costs little coverage.
#[test]
fn the_interval_covers_the_truth_after_sequential_stopping() {
    let threshold = r#""cancellationThreshold": {"type": "number", "value": 4, "batch": false},"#;
    let truth = binomial_tail(20, 0.1, 4);
    let s = scenario(20, 0.1, threshold, "");
    let covered = (0..20u64)
        .filter(|block| {
            let options = PlanOptions {
                rule: StoppingRule {
                    precision: 0.05,
                    min_replications: 50,
                    max_replications: 10_000,
                    prune: true,
                },
                seed: Some(7_000 + block * 10_000),
                threads: 2,
                ..PlanOptions::default()
            };
            let h = &plan(&s, &options).plans[0].healthy;
            assert!(h.false_stop_interval.half_width() <= 0.05);
            assert!(h.replications <= 400, "{}", h.replications);
            h.false_stop_interval.contains(truth)
        })
        .count();
    assert!(covered >= 16, "covered in {covered} of 20");
}

/// A bad operation that fails every device, batches of 10 and a per-batch threshold of 5:
/// every replication stops in batch 1, after exactly the 10 devices of batch 1 received it
/// and failed. Batches of 20 let 20 through.
#[test]
fn the_blast_radius_of_a_certain_fault_is_the_first_batch() {
    let job = r#""batch": {"type": "number", "value": 10},
        "cancellationThreshold": {"type": "percentage", "value": 50, "batch": true},"#;
    let s = scenario(100, 0.0, job, "");
    let options = PlanOptions {
        bad: Some(serde_json::from_str(r#"{"failure_probability": 1.0}"#).unwrap()),
        knobs: vec![("batch".into(), vec!["10".into(), "20".into()])],
        rule: fixed(30),
        threads: 2,
        ..PlanOptions::default()
    };
    let r = plan(&s, &options);
    for (p, size) in r.plans.iter().zip([10.0, 20.0]) {
        let b = p.bad.as_ref().unwrap();
        assert_eq!((b.stops, b.replications), (30, 30));
        assert_eq!(b.stop_batches.get(&1), Some(&30));
        assert_eq!(
            (b.received.p50, b.received.p90, b.received.max),
            (size, size, size)
        );
        assert_eq!(b.failed.max, size);
        assert_eq!(p.healthy.false_stops, 0);
        // Ten batches of about 1 s, or five: the healthy duration tells them apart.
        let d = p.healthy.duration_s.unwrap();
        assert!(d.p50 > 1.0 && d.p50 < 1.6 * 100.0 / size, "{d:?}");
    }
    // A trade-off: smaller batches are slower and safer; both are in the Pareto set.
    assert_eq!(r.pareto, vec![0, 1]);
    assert_eq!(r.recommended, Some(0));
    assert_eq!(r.simulations, 2 * 2 * 30);
}

/// The recommendation minimises the stated objective among the plans that meet every
/// constraint, and there is none when no plan does.
#[test]
fn the_recommendation_follows_the_constraints() {
    let job = r#""batch": {"type": "number", "value": 10},
        "cancellationThreshold": {"type": "percentage", "value": 50, "batch": true},"#;
    let s = scenario(100, 0.0, job, "");
    let mut options = PlanOptions {
        bad: Some(serde_json::from_str(r#"{"failure_probability": 1.0}"#).unwrap()),
        knobs: vec![("batch".into(), vec!["10".into(), "20".into(), "50".into()])],
        rule: fixed(20),
        threads: 1,
        ..PlanOptions::default()
    };
    // Batches of 10 take about ten 1.5 s batches; a 9 s deadline leaves 20 and 50.
    options.constraints = Constraints {
        deadline_ms: Some(9_000),
        ..Constraints::default()
    };
    assert_eq!(plan(&s, &options).recommended, Some(1));
    options.constraints.optimise = Objective::Duration;
    assert_eq!(plan(&s, &options).recommended, Some(2));
    options.constraints.max_blast = Some(5);
    let r = plan(&s, &options);
    assert_eq!(r.recommended, None);
    assert!(r.plans.iter().all(|p| !p.feasible));
}

/// The sequential rule: a plan whose false stops are rare reaches ±2 pp with far fewer
/// replications than one near 60 %, each ends with an interval within the precision; with
/// pruning, the plan that only stops more often (one batch: the threshold saves nothing) is
/// dominated after a round or two, and a plan clearly above a false-stop limit stops after
/// the first round.
#[test]
fn sequential_stopping_reaches_the_precision_and_prunes() {
    let threshold = r#""cancellationThreshold": {"type": "number", "value": 4, "batch": false},"#;
    let s = scenario(20, 0.1, threshold, "");
    let mut options = PlanOptions {
        knobs: vec![("threshold".into(), vec!["2".into(), "6".into()])],
        rule: StoppingRule {
            precision: 0.02,
            min_replications: 50,
            max_replications: 5000,
            prune: false,
        },
        threads: 2,
        ..PlanOptions::default()
    };
    let r = plan(&s, &options);
    let (tight, loose) = (&r.plans[0].healthy, &r.plans[1].healthy);
    // Threshold 2: P(2+ failures of 20) = 0.61; threshold 6: 0.011.
    assert!(tight.false_stop_interval.half_width() <= 0.02);
    assert!(loose.false_stop_interval.half_width() <= 0.02);
    assert!(tight.replications >= 1600, "{}", tight.replications);
    assert!(loose.replications <= 400, "{}", loose.replications);
    assert_eq!(r.plans[0].healthy_done, Some(Done::Precise));
    assert!(r.simulations < r.naive_simulations / 2);
    options.rule.prune = true;
    let r = plan(&s, &options);
    assert_eq!(r.plans[0].healthy_done, Some(Done::Dominated { by: 1 }));
    assert!(r.plans[0].healthy.replications <= 100);
    // With a 5 % limit, threshold 2 is clearly infeasible after the first round.
    options.constraints.max_false_stop = Some(0.05);
    let r = plan(&s, &options);
    assert_eq!(r.plans[0].healthy.replications, 50);
    assert!(matches!(
        r.plans[0].healthy_done,
        Some(Done::Infeasible { .. })
    ));
    assert_eq!(r.recommended, Some(1));
}

/// The report does not depend on the thread count.
#[test]
fn the_report_does_not_depend_on_threads() {
    let job = r#""batch": {"type": "percentage", "value": 25},
        "cancellationThreshold": {"type": "number", "value": 2, "batch": true},"#;
    let s = scenario(60, 0.05, job, "");
    let json = |threads| {
        let options = PlanOptions {
            bad: Some(serde_json::from_str(r#"{"failure_probability": 0.3}"#).unwrap()),
            knobs: vec![(
                "threshold".into(),
                vec!["1".into(), "3".into(), "10%".into()],
            )],
            rule: StoppingRule {
                precision: 0.05,
                min_replications: 20,
                max_replications: 320,
                prune: true,
            },
            threads,
            ..PlanOptions::default()
        };
        let mut v = serde_json::to_value(plan(&s, &options)).unwrap();
        v.as_object_mut().unwrap().remove("wall_s");
        v
    };
    assert_eq!(json(1), json(3));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Common random numbers: every plan sees the same device fates on the same seed, so with
    /// one batch a higher job-wide threshold stops falsely on a subset of the seeds a lower
    /// one stops on. The false-stop counts therefore fall with the threshold on every sweep,
    /// not just on average, and the failures a plan lets through never depend on the plan
    /// when nothing stops.
    #[test]
    fn common_random_numbers_make_plans_comparable(
        fail in 0.02f64..0.3,
        seed in 0u64..1_000_000,
    ) {
        let threshold = r#""cancellationThreshold": {"type": "number", "value": 3, "batch": false},"#;
        let s = scenario(30, fail, threshold, "");
        let options = PlanOptions {
            knobs: vec![("threshold".into(), ["1", "2", "3", "5", "8", "none"].map(String::from).to_vec())],
            rule: fixed(40),
            seed: Some(seed),
            threads: 2,
            ..PlanOptions::default()
        };
        let r = plan(&s, &options);
        let stops: Vec<u32> = r.plans.iter().map(|p| p.healthy.false_stops).collect();
        prop_assert!(stops.windows(2).all(|w| w[0] >= w[1]), "{:?}", stops);
        prop_assert_eq!(stops[5], 0);
    }
}

/// Errors name the field: a knob of another dialect, an unknown job, a bad `[risk]` section.
#[test]
fn errors_name_the_field() {
    let s = scenario(20, 0.0, "", "");
    let options = PlanOptions {
        knobs: vec![("rate".into(), vec!["100".into()])],
        rule: fixed(1),
        threads: 1,
        ..PlanOptions::default()
    };
    let e = run_plan(&s, &options, &mut |_, _| {}).unwrap_err();
    assert_eq!(e.field(), Some("rate"));
    assert!(e.to_string().contains("aws"), "{e}");
    let options = PlanOptions {
        job: Some("nope".into()),
        rule: fixed(1),
        threads: 1,
        ..PlanOptions::default()
    };
    let e = run_plan(&s, &options, &mut |_, _| {}).unwrap_err();
    assert_eq!(e.field(), Some("risk.job"));
    let text = |risk: &str| {
        let s = format!(
            r#"
[fleet]
devices = 10
templates = [{{ template = "dtmi:t;1", share = 1.0 }}]
[[templates]]
id = "dtmi:t;1"
properties = [{{ name = "p", schema = "integer" }}]
[[groups]]
id = "g"
[[jobs]]
json = '''{{"id": "j", "group": "g", "data": [{{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}}]}}'''
[risk]
{risk}
"#
        );
        Scenario::from_str(&s, Format::Toml).map(drop).unwrap_err()
    };
    let e = text("grid = { batch = [\"5%\", \"0%\"] }");
    assert_eq!(e.field(), Some("risk.grid.batch[1]"));
    let e = text("bad = { failure_probability = 2.0 }");
    assert_eq!(e.field(), Some("risk.bad.failure_probability"));
    let e = text("precision = \"2 parsecs\"");
    assert_eq!(e.field(), Some("risk.precision"));
    let e = text("speed = 1");
    assert!(e.to_string().contains("speed"), "{e}");
}

fn example(name: &str, devices: u32) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let s = Scenario::load(&path).unwrap();
    s.with_devices(devices).unwrap()
}

/// The AWS knobs edit the job's rollout and abort config: at 20 devices a minute without a
/// ramp the ring takes far longer than at 400.
#[test]
fn aws_rate_ramp_and_abort_knobs() {
    let s = example("aws-exponential-rollout.toml", 600);
    let knobs = [
        ("rate", vec!["20", "400"]),
        ("ramp", vec!["none"]),
        ("abort", vec!["50"]),
    ];
    let options = PlanOptions {
        job: Some("firmware-2-1-ring-1-3".into()),
        knobs: knobs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|v| v.to_string()).collect()))
            .collect(),
        rule: fixed(3),
        threads: 2,
        ..PlanOptions::default()
    };
    let r = plan(&s, &options);
    assert_eq!(r.dialect, "aws");
    assert_eq!(r.plans[0].label, "rate 20 · ramp none · abort 50%");
    let p50 = |i: usize| r.plans[i].healthy.duration_s.unwrap().p50;
    // About 480 devices: 24 minutes at 20 a minute, about a minute and a half at 400.
    assert!(p50(0) > 1200.0 && p50(1) < 300.0, "{} {}", p50(0), p50(1));
}

/// The hawkBit knobs edit the gates: with the example's flaky fourth group, a 10 % error
/// condition pauses the rollout in group 4 in every replication (a stop), 100 % never does.
#[test]
fn hawkbit_group_and_gate_knobs() {
    let s = example("hawkbit-gates.toml", 1000);
    let options = PlanOptions {
        knobs: vec![
            ("groups".into(), vec!["5".into()]),
            ("success".into(), vec!["80%".into()]),
            ("error".into(), vec!["10%".into(), "100%".into()]),
        ],
        rule: fixed(3),
        threads: 2,
        ..PlanOptions::default()
    };
    let r = plan(&s, &options);
    assert_eq!(r.plans[0].healthy.false_stops, 3);
    assert_eq!(r.plans[0].healthy.false_stop_batches.get(&4), Some(&3));
    assert_eq!(r.plans[1].healthy.false_stops, 0);
}

/// Phased hawkBit groups (`1%/9%/rest`: 10, 90, then 900 gateways) against five equal
/// groups: a firmware that fails everywhere pauses in the first group either way, but reaches
/// 10 gateways instead of 200.
#[test]
fn hawkbit_phased_groups_shrink_the_blast_radius() {
    let s = example("hawkbit-gates.toml", 1000);
    let options = PlanOptions {
        bad: Some(serde_json::from_str(r#"{"failure_probability": 1.0}"#).unwrap()),
        knobs: vec![("groups".into(), vec!["5".into(), "1%/9%/rest".into()])],
        rule: fixed(3),
        threads: 2,
        ..PlanOptions::default()
    };
    let r = plan(&s, &options);
    assert_eq!(r.plans[1].label, "groups 1%/9%/rest");
    let blast = |i: usize| r.plans[i].bad.as_ref().unwrap().received.max;
    eprintln!(
        "blast radius: equal groups {}, phased {}",
        blast(0),
        blast(1)
    );
    assert!(
        blast(0) >= 200.0,
        "at least the first equal group: {}",
        blast(0)
    );
    assert!(
        blast(1) <= 100.0,
        "at most the first two phases: {}",
        blast(1)
    );
    assert!(r
        .plans
        .iter()
        .all(|p| p.bad.as_ref().unwrap().stop_probability == 1.0));
    // Phases that leave nothing for the rest, or too many, are refused with the knob's form.
    for bad in ["60%/40%/rest", "1%/rest/5%", "0%/rest"] {
        let options = PlanOptions {
            knobs: vec![("groups".into(), vec![bad.into()])],
            ..options.clone()
        };
        let e = fleet_scenario::run_plan(&s, &options, &mut |_, _| {}).unwrap_err();
        assert!(e.to_string().contains("1%/10%/rest"), "{bad}: {e}");
    }
}

/// `hub_units` paces a job through the hub's twin-update throttle: S2 at 1 unit allows 50
/// updates a second, at 20 units 100.
#[test]
fn hub_units_knob() {
    let s = scenario(
        1000,
        0.0,
        "",
        "[hub]\ntier = \"S2\"\nunits = 1\nmax_queue_wait_ms = 600000\n",
    );
    let options = PlanOptions {
        knobs: vec![("hub_units".into(), vec!["1".into(), "20".into()])],
        rule: fixed(2),
        threads: 2,
        ..PlanOptions::default()
    };
    let r = plan(&s, &options);
    let p50 = |i: usize| r.plans[i].healthy.duration_s.unwrap().p50;
    assert!((19.0..23.0).contains(&p50(0)), "{}", p50(0));
    assert!((9.0..13.0).contains(&p50(1)), "{}", p50(1));
    let e = run_plan(&scenario(10, 0.0, "", ""), &options, &mut |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("no [hub]"), "{e}");
}
