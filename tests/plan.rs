//! `fleetsim plan`: the sweep from the command line, its JSON and HTML, exit codes and errors.

use crate::common::{assert_refused, fleetsim, stderr, stdout};

const FAST: [&str; 6] = [
    "--devices",
    "200",
    "--min-replications",
    "20",
    "--max-replications",
    "40",
];

/// The example's `[risk]` section, with the command line over it: every plan of the grid is
/// answered, the bad rollout of `--bad` replaces the file's, and the HTML page has the curves.
#[test]
fn plan_sweeps_the_example_grid() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("plans.html");
    let mut args = vec!["plan", "examples/rollout-risk.toml", "--format", "json"];
    args.extend(FAST);
    args.extend([
        "--batch",
        "5%,25%",
        "--bad",
        "failure_probability = 1.0",
        "--max-blast",
        "10000",
        "--html",
        html.to_str().unwrap(),
    ]);
    let out = fleetsim(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["mode"], "plan");
    assert_eq!(r["job"], "set-temp");
    // Two batch sizes by the file's three thresholds and one scope.
    let plans = r["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 6);
    assert_eq!(
        plans[0]["label"],
        "batch 5% · threshold 2% · threshold_scope batch"
    );
    // Every device fails: each plan stops the bad rollout in batch 1, after one batch
    // (5 % or 25 % of 200 devices) received it.
    for (p, size) in plans.iter().zip([10.0, 10.0, 10.0, 50.0, 50.0, 50.0]) {
        assert_eq!(p["bad"]["stop_probability"], 1.0);
        assert_eq!(p["bad"]["received"]["max"], size, "{}", p["label"]);
    }
    assert_eq!(r["bad_fault"]["failure_probability"], 1.0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("against P(false stop)"));
    // The file's 30-minute deadline and 2 % limit: with at most 40 replications no plan's
    // interval lies below 2 %, so no plan is recommended and the exit code says so.
    assert!(r["recommended"].is_null());
    assert!(stderr(&out).contains("no plan meets the constraints"));
}

/// Text by default; a plan is recommended when the constraints can be met.
#[test]
fn plan_recommends_within_loose_constraints() {
    let mut args = vec!["plan", "examples/rollout-risk.toml"];
    args.extend(FAST);
    args.extend([
        "--batch",
        "10%",
        "--threshold",
        "25%,50%",
        "--max-false-stop",
        "20%",
        "--deadline",
        "2h",
        "--max-blast",
        "1000",
        "--threads",
        "2",
    ]);
    let out = fleetsim(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("<- recommended"), "{text}");
    assert!(text.contains("Pareto set"), "{text}");
    assert!(text.contains("blast radius: received p50"), "{text}");
}

/// Bad input exits with 2 and says where and what.
#[test]
fn plan_errors_say_what_and_where() {
    let cases: [(&[&str], &str); 5] = [
        (&["--bad", "failure_probabilty = 0.3"], "failure_probabilty"),
        (&["--batch", "5%,0%"], "batch[1]"),
        (&["--rate", "100"], "aws"),
        (&["--max-false-stop", "150%"], "--max-false-stop"),
        (&["--job", "nope"], "nope"),
    ];
    for (extra, says) in cases {
        let mut args = vec!["plan", "examples/rollout-risk.toml"];
        args.extend(FAST);
        args.extend(extra);
        assert_refused(&args, says);
    }
}
