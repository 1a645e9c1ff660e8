//! Sharded replications and plan sweeps over N local `fleetsim` processes, merged with
//! `fleetsim merge`: the report equals the unsharded one byte for byte (but for the wall
//! time); parts that do not make one whole exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{assert_refused, fleetsim, stderr, stdout, write};

/// 400 devices in batches of 25 %, a per-batch threshold of 4 failures, 3 % failing: runs
/// complete or are cancelled in various batches.
const SCENARIO: &str = r#"
seed = 100
name = "sharded"

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
probability = 0.05
"#;

const K: &str = "10";

/// The output with the wall time and the speed, the only parts that vary, blanked: the JSON
/// fields `wall_s` and `events_per_s`, the text's and the page's `in X s wall`, and a plan
/// report's `(X s wall)`.
fn steady(text: &str) -> String {
    text.lines()
        .map(|line| {
            let t = line.trim_start();
            if t.starts_with("\"wall_s\":") || t.starts_with("\"events_per_s\":") {
                return "(varies)".to_string();
            }
            if let Some(at) = line.find(" events in ") {
                return format!("{} events in (varies)", &line[..at]);
            }
            match (line.find(" round(s) ("), line.find(" s wall)")) {
                (Some(a), Some(b)) => format!("{}(varies){}", &line[..a], &line[b..]),
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the N parts of `fleetsim run SCENARIO --replications K` as N processes at once;
/// returns the partial files in reverse order.
fn run_parts(scenario: &Path, dir: &Path, n: u32) -> Vec<PathBuf> {
    let s = scenario.to_str().unwrap();
    run_command_parts(&["run", s, "--replications", K], dir, n)
}

/// Runs the N parts of `command` (on one thread each) as N processes at once; returns the
/// partial files in reverse order.
fn run_command_parts(command: &[&str], dir: &Path, n: u32) -> Vec<PathBuf> {
    let children: Vec<(PathBuf, std::process::Child)> = (0..n)
        .map(|i| {
            let part = dir.join(format!("part-{i}-of-{n}.json"));
            let child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
                .args(command)
                .args(["--threads", "1"])
                .args(["--shard", &format!("{i}/{n}"), "--partial-out"])
                .arg(&part)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("fleetsim starts");
            (part, child)
        })
        .collect();
    let mut parts: Vec<PathBuf> = children
        .into_iter()
        .map(|(part, child)| {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(stdout(&out).is_empty(), "a part prints no report");
            assert!(stderr(&out).contains("combine the parts with `fleetsim merge`"));
            part
        })
        .collect();
    parts.reverse();
    parts
}

/// The arguments of `fleetsim merge` with `parts`, then `extra`.
fn merge_args<'a>(parts: &'a [PathBuf], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(parts.iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    args
}

fn merge(parts: &[PathBuf], extra: &[&str]) -> Output {
    fleetsim(&merge_args(parts, extra))
}

#[test]
fn n_processes_merged_print_the_unsharded_report() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(dir.path(), "s.toml", SCENARIO);
    let s = scenario.to_str().unwrap();
    let html = dir.path().join("whole.html");
    let run = ["run", s, "--replications", K];
    let json = fleetsim(&[&run[..], &["--format", "json"]].concat());
    let text = fleetsim(&[&run[..], &["--html", html.to_str().unwrap()]].concat());
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert!(stdout(&json).contains("\"stops\""));
    let whole_page = std::fs::read_to_string(&html).unwrap();
    assert!(whole_page.contains("<svg"), "the HTML summary has charts");
    for n in [1, 2, 3, 7] {
        let sub = dir.path().join(format!("n{n}"));
        std::fs::create_dir(&sub).unwrap();
        let parts = run_parts(&scenario, &sub, n);
        let merged_html = sub.join("merged.html");
        let merged_json = merge(&parts, &["--format", "json"]);
        let merged_text = merge(&parts, &["--html", merged_html.to_str().unwrap()]);
        assert_eq!(
            merged_text.status.code(),
            Some(0),
            "{}",
            stderr(&merged_text)
        );
        assert_eq!(
            steady(&stdout(&merged_json)),
            steady(&stdout(&json)),
            "JSON, {n} parts"
        );
        assert_eq!(
            steady(&stdout(&merged_text)),
            steady(&stdout(&text)),
            "text, {n} parts"
        );
        let page = std::fs::read_to_string(&merged_html).unwrap();
        assert_eq!(steady(&page), steady(&whole_page), "HTML, {n} parts");
    }
}

#[test]
fn parts_that_do_not_make_one_whole_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(dir.path(), "s.toml", SCENARIO);
    let mut parts = run_parts(&scenario, dir.path(), 3);
    parts.sort();
    let cases: Vec<(Vec<PathBuf>, &str)> = vec![
        (parts[..2].to_vec(), "2 of 3 parts given; missing: 2/3"),
        (
            vec![
                parts[0].clone(),
                parts[1].clone(),
                parts[1].clone(),
                parts[2].clone(),
            ],
            "part 1/3 is given twice",
        ),
        (vec![scenario.clone()], "not a partial result file"),
        (
            vec![dir.path().join("nowhere.json")],
            "nowhere.json: cannot read",
        ),
    ];
    for (given, needle) in cases {
        let out = merge(&given, &[]);
        assert_eq!(out.status.code(), Some(2), "{given:?}");
        assert!(
            stderr(&out).contains(needle),
            "{needle:?} in {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty());
    }
    // A part of the same scenario with another seed.
    let other = dir.path().join("other.json");
    let s = scenario.to_str().unwrap();
    let out = fleetsim(&[
        "run",
        s,
        "--replications",
        K,
        "--seed",
        "1",
        "--shard",
        "2/3",
        "--partial-out",
        other.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let given = [parts[0].clone(), parts[1].clone(), other];
    assert_refused(&merge_args(&given, &[]), "first seed 100 and 1");
}

#[test]
fn a_merged_report_exits_1_when_an_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let strict = SCENARIO.replace("probability = 0.05", "probability = 0.99");
    let scenario = write(dir.path(), "s.toml", &strict);
    let parts = run_parts(&scenario, dir.path(), 2);
    let out = merge(&parts, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("required 99.0%; rerun one with --seed 10"),
        "{err}"
    );
    assert!(stdout(&out).contains("not held in"), "{}", stdout(&out));
}

#[test]
fn the_whole_as_one_part_and_an_empty_part() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(dir.path(), "s.toml", SCENARIO);
    let s = scenario.to_str().unwrap();
    let whole = dir.path().join("whole.json");
    let out = fleetsim(&[
        "run",
        s,
        "--replications",
        "3",
        "--partial-out",
        whole.to_str().unwrap(),
    ]);
    assert!(stderr(&out).contains("part 0/1 of 3 replications: 3 replications (seeds 100 to 102)"));
    let empty = dir.path().join("empty.json");
    let out = fleetsim(&[
        "run",
        s,
        "--replications",
        "3",
        "--shard",
        "5/7",
        "--partial-out",
        empty.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 replications (none: more parts than replications)"));
    let merged = merge(&[whole], &["--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&merged)).unwrap();
    assert_eq!(value["replications"], 3);
    assert_eq!(value["seed_first"], 100);
}

/// The example's plan sweep (twelve plans, the bad rollout, pruning by dominance and
/// infeasibility) as N processes, merged: the whole sweep's report, text, JSON and HTML, and
/// its exit code (no plan meets the file's constraints at these replications).
#[test]
fn a_plan_sweep_over_n_processes_prints_the_whole_report() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = [
        "plan",
        "examples/rollout-risk.toml",
        "--devices",
        "200",
        "--min-replications",
        "20",
        "--max-replications",
        "80",
        "--precision",
        "10pp",
    ];
    let html = dir.path().join("whole.html");
    let json = fleetsim(&[&sweep[..], &["--format", "json"]].concat());
    let text = fleetsim(&[&sweep[..], &["--html", html.to_str().unwrap()]].concat());
    let whole_page = std::fs::read_to_string(&html).unwrap();
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["plans"].as_array().unwrap().len(), 12);
    let done = stdout(&json);
    assert!(
        done.contains("\"dominated\"") || done.contains("\"infeasible\""),
        "{done}"
    );
    for n in [2, 5] {
        let sub = dir.path().join(format!("n{n}"));
        std::fs::create_dir(&sub).unwrap();
        let parts = run_command_parts(&sweep, &sub, n);
        let merged_html = sub.join("merged.html");
        let merged_json = merge(&parts, &["--format", "json"]);
        let merged_text = merge(&parts, &["--html", merged_html.to_str().unwrap()]);
        assert_eq!(
            merged_text.status.code(),
            text.status.code(),
            "{}",
            stderr(&text)
        );
        assert_eq!(
            steady(&stdout(&merged_json)),
            steady(&done),
            "JSON, {n} parts"
        );
        assert_eq!(
            steady(&stdout(&merged_text)),
            steady(&stdout(&text)),
            "text, {n} parts"
        );
        let page = std::fs::read_to_string(&merged_html).unwrap();
        assert_eq!(steady(&page), steady(&whole_page), "HTML, {n} parts");
    }
    // A part of a sweep and a part of a replicated run are not one whole.
    let scenario = write(dir.path(), "s.toml", SCENARIO);
    let mut mixed = run_parts(&scenario, dir.path(), 1);
    mixed.extend(run_command_parts(&sweep, &dir.path().join("n2"), 1));
    assert_refused(&merge_args(&mixed, &[]), "cannot be merged together");
}
