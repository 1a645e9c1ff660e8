//! Hangs and limits (issue 14): times beyond the largest virtual time are refused at load, a
//! run stops at its event and wall-clock budgets, a fleet too large for memory is refused
//! before it is allocated, and `validate` makes every check `run` makes.

use crate::common::{assert_refused, fleetsim, stderr, write};
use std::path::Path;

/// A small scenario: 200 devices, batches of 25 %.
const SMALL: &str = r#"
seed = 5

[fleet]
devices = 200
id_pattern = "dev-{:04}"
templates = [{ template = "dtmi:t;1", share = 1.0 }]

[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]

[[groups]]
id = "g"

[[behaviour.rules]]
latency = { type = "uniform", min_ms = 100, max_ms = 900 }
failure_probability = 0.1

[[jobs]]
json = '''{"id": "j", "group": "g", "batch": {"type": "percentage", "value": 25},
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 3}]}'''

[[expect]]
job = "j"
status = "complete"
"#;

/// Runs `fleetsim` with `args` and checks that it exits 2 (a hang would be a test that never
/// ends: no wall-clock assertion, the machines are shared), without a panic, with a
/// message that contains every needle (at least one).
fn assert_exit_2(args: &[&str], needles: &[&str]) {
    let err = assert_refused(args, needles[0]);
    for needle in &needles[1..] {
        assert!(
            err.contains(needle),
            "{args:?}: {err:?} should contain {needle:?}"
        );
    }
}

/// Checks that `validate` and `run` both refuse `text` with exit 2, naming `name` and `needles`.
fn refused_at_load(dir: &Path, name: &str, text: &str, needles: &[&str]) {
    let path = write(dir, name, text);
    let mut all = vec![name];
    all.extend_from_slice(needles);
    for command in ["validate", "run"] {
        assert_exit_2(&[command, path.to_str().unwrap()], &all);
    }
}

#[test]
fn times_that_saturated_virtual_time_are_refused_at_load_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let job = "[[jobs]]\njson = ";
    let cases = [
        (
            "start.toml",
            SMALL.replace(job, "[[jobs]]\nstart_after_s = 1e16\njson = "),
            "jobs[0].start_after_s",
        ),
        (
            "latency.toml",
            SMALL.replace(
                "{ type = \"uniform\", min_ms = 100, max_ms = 900 }",
                "{ type = \"fixed\", ms = 1e18 }",
            ),
            "behaviour.rules[0].latency.ms",
        ),
        (
            "timeout.toml",
            SMALL.replace(job, "[[jobs]]\ndevice_timeout_s = 1e17\njson = "),
            "jobs[0].device_timeout_s",
        ),
        (
            "flapping.toml",
            SMALL.replace(
                "failure_probability = 0.1",
                "failure_probability = 0.1\nflapping = { mean_up_ms = 1e300, mean_down_ms = 1e300 }",
            ),
            "behaviour.rules[0].flapping.mean_up_ms",
        ),
        (
            "at.toml",
            SMALL.replace(
                "\n[[expect]]",
                "\n[[jobs.commands]]\nat_s = 1e17\ncommand = \"stop\"\n\n[[expect]]",
            ),
            "jobs[0].commands[0].at_s",
        ),
    ];
    for (name, text, field) in cases {
        refused_at_load(dir.path(), name, &text, &[field, "largest virtual time"]);
    }
}

#[test]
fn the_largest_times_run_to_their_end() {
    // 100 years is a time: the run ends (at its budget or by itself), never spins.
    let dir = tempfile::tempdir().unwrap();
    let text = SMALL
        .replace(
            "[[jobs]]\njson = ",
            "[[jobs]]\nstart_after_s = 3155760000\njson = ",
        )
        .replace(
            "failure_probability = 0.1",
            "failure_probability = 0.1\nflapping = { mean_up_ms = 1e-300, mean_down_ms = 1e-300 }",
        );
    let path = write(dir.path(), "late.toml", &text);
    let out = fleetsim(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_run_stops_at_its_event_budget_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "small.toml", SMALL);
    let path = path.to_str().unwrap();
    assert_exit_2(
        &["run", path, "--max-events", "50"],
        &["small.toml", "stopped after 50 events", "--max-events"],
    );
    assert_exit_2(
        &["run", path, "--max-events", "50", "--replications", "2"],
        &["small.toml", "stopped after 50 events"],
    );
    // Within the budget, as without one.
    let out = fleetsim(&["run", path, "--max-events", "100000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_run_stops_at_its_wall_clock_budget_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = SMALL.replace("dev-{:04}", "dev-{:07}");
    let path = write(dir.path(), "big.toml", &text);
    assert_exit_2(
        &[
            "run",
            path.to_str().unwrap(),
            "--devices",
            "300000",
            "--max-wall-s",
            "0.000001",
        ],
        &["big.toml", "wall-clock"],
    );
    assert_exit_2(
        &["run", path.to_str().unwrap(), "--max-wall-s=-1"],
        &["--max-wall-s"],
    );
}

#[test]
fn a_fleet_too_large_for_memory_is_refused_before_it_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let text = SMALL.replace("dev-{:04}", "dev-{:010}");
    let path = write(dir.path(), "huge.toml", &text);
    let path = path.to_str().unwrap();
    // 4 billion devices: more than any machine that runs these tests has available (and above
    // an explicit limit where /proc/meminfo cannot be read).
    assert_exit_2(
        &[
            "run",
            path,
            "--devices",
            "4000000000",
            "--memory-limit",
            "64G",
        ],
        &[
            "huge.toml",
            "fleet.devices",
            "4000000000 devices need about",
        ],
    );
    if Path::new("/proc/meminfo").exists() {
        assert_exit_2(
            &["run", path, "--devices", "4000000000"],
            &["4000000000 devices need about", "memory available"],
        );
    }
    let cases: [&[&str]; 3] = [
        &["run", path, "--devices", "1000000", "--memory-limit", "10M"],
        &[
            "query",
            path,
            "*",
            "--devices",
            "1000000",
            "--memory-limit",
            "10M",
        ],
        &["validate", path, "--memory-limit", "1K"],
    ];
    for args in cases {
        assert_exit_2(args, &["huge.toml", "fleet.devices", "--memory-limit"]);
    }
    assert_exit_2(&["run", path, "--memory-limit", "lots"], &["not a size"]);
}

#[test]
fn a_missing_fleet_template_is_refused_by_validate_run_and_query_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = SMALL.replace(
        "templates = [{ template = \"dtmi:t;1\", share = 1.0 }]",
        "templates = [{ template = \"dtmi:missing;1\", share = 1.0 }]",
    );
    let path = write(dir.path(), "notemplate.toml", &text);
    let path = path.to_str().unwrap();
    let needles = [
        "notemplate.toml:",
        "fleet.templates[0].template",
        "dtmi:missing;1",
    ];
    assert_exit_2(&["validate", path], &needles);
    assert_exit_2(&["run", path], &needles);
    assert_exit_2(&["query", path, "*"], &needles);
    assert_exit_2(&["query", path, "--group", "g"], &needles);
}
