//! Measures what sequential stopping saves: the cost of answering a 20-plan sweep of
//! `examples/rollout-risk.toml` (batch 2 %, 5 %, 10 %, 20 %, 25 % by per-batch threshold 2 %,
//! 5 %, 10 %, 20 %) to ±1 pp of false-stop probability (95 % Wilson intervals), against the
//! naive grid × fixed replications that guarantees the same half-width for any probability
//! (9,604 replications of each rollout of each plan: 1.96² · 0.25 / 0.01²).
//!
//! ```sh
//! cargo run --release -p fleet-bench --bin bench-plan                    # 200 devices
//! cargo run --release -p fleet-bench --bin bench-plan -- --devices 1000 --naive-sample 500
//! ```
//!
//! Prints a markdown table: simulations and wall time of each sweep, and the recommended plan.
//! `--naive-sample K` runs the naive sweep at K replications and scales its wall time to
//! 9,604 (each replication costs the same whatever K); by default it runs in full.

use std::path::Path;
use std::time::Instant;

use fleet_scenario::plan::{Constraints, StoppingRule};
use fleet_scenario::{run_plan, PlanOptions, PlanReport, Scenario};

/// Replications for ±1 pp at any probability (the worst case, p = 1/2).
const NAIVE_REPLICATIONS: u32 = 9_604;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: u32| -> u32 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let devices = flag("--devices", 200);
    let sample = flag("--naive-sample", NAIVE_REPLICATIONS).min(NAIVE_REPLICATIONS);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rollout-risk.toml");
    let scenario = Scenario::load(&path)
        .and_then(|s| s.with_devices(devices))
        .expect("the example loads");
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "{} devices, 20 plans, {threads} threads (a shared machine: other builds ran beside it)\n",
        devices
    );
    println!(
        "| sweep | simulations | wall (s) | plans pruned | widest interval of the others (pp) | recommended |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    let base = options(&scenario, threads);
    let sequential = StoppingRule {
        precision: 0.01,
        min_replications: 100,
        max_replications: NAIVE_REPLICATIONS,
        prune: true,
    };
    let mut constrained = base.clone();
    constrained.constraints.max_false_stop = Some(0.02);
    for (name, o) in [
        ("sequential, ±1 pp", base.clone()),
        ("sequential, ±1 pp, P(false stop) <= 2 %", constrained),
    ] {
        let o = PlanOptions {
            rule: sequential,
            ..o
        };
        row(name, &scenario, &o, 1.0);
    }
    let naive = PlanOptions {
        rule: StoppingRule {
            precision: 0.0,
            min_replications: sample,
            max_replications: sample,
            prune: false,
        },
        ..base
    };
    let scale = f64::from(NAIVE_REPLICATIONS) / f64::from(sample);
    let name = match sample {
        NAIVE_REPLICATIONS => "naive, 20 x 9,604".to_string(),
        k => format!("naive, 20 x 9,604 (wall scaled from {k})"),
    };
    row(&name, &scenario, &naive, scale);
}

/// The 20-plan grid, both rollouts (the example's bad firmware), no constraints.
fn options(scenario: &Scenario, threads: usize) -> PlanOptions {
    let mut o = PlanOptions::from_spec(scenario.file.risk.as_ref().expect("a [risk] section"))
        .expect("the example's [risk] is valid");
    o.knobs = vec![
        (
            "batch".into(),
            ["2%", "5%", "10%", "20%", "25%"].map(String::from).to_vec(),
        ),
        (
            "threshold".into(),
            ["2%", "5%", "10%", "20%"].map(String::from).to_vec(),
        ),
        ("threshold_scope".into(), vec!["batch".into()]),
    ];
    o.constraints = Constraints::default();
    o.threads = threads;
    o
}

fn row(name: &str, scenario: &Scenario, o: &PlanOptions, scale: f64) {
    let start = Instant::now();
    let r: PlanReport = run_plan(scenario, o, &mut |_, _| {}).expect("the sweep runs");
    let wall = start.elapsed().as_secs_f64() * scale;
    let sims = (r.simulations as f64 * scale).round() as u64;
    use fleet_scenario::plan::Done;
    let kept: Vec<_> = r
        .plans
        .iter()
        .filter(|p| matches!(p.healthy_done, Some(Done::Precise | Done::MaxReplications)))
        .collect();
    let widest = kept
        .iter()
        .map(|p| p.healthy.false_stop_interval.half_width())
        .fold(0.0, f64::max);
    let pruned = r.plans.len() - kept.len();
    let chosen = r
        .recommended
        .map_or("-".to_string(), |i| r.plans[i].label.clone());
    println!(
        "| {name} | {sims} | {wall:.1} | {pruned} | {:.2} | {chosen} |",
        100.0 * widest
    );
}
