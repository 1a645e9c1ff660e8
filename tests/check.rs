//! `fleetsim check`: the example holds, a counter-example is printed, saved and fails under
//! `run`, the JSON report is the same on every thread count, and bad input is exit 2.

use crate::common::{assert_refused, fleetsim, stderr, stdout, write};

/// A fleet of 3 to 60 devices where a device fails with a probability of up to 20 %, and
/// an expectation that no device fails.
const FAILING: &str = r#"
seed = 11
[fleet]
devices = { min = 3, max = 60 }
templates = [{ template = "dtmi:t;1", share = 1.0 }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
[[groups]]
id = "g"
[[behaviour.rules]]
failure_probability = { min = 0.0, max = 0.2 }
[[jobs]]
json = '''{"id": "j", "group": "g", "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}]}'''
[[expect]]
job = "j"
failed = 0
[[expect]]
job = "j"
status = "complete"
"#;

#[test]
fn the_check_example_holds_in_every_case() {
    let out = fleetsim(&["check", "examples/check/rollout.toml", "--cases", "32"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("32 cases run"), "{text}");
    assert_eq!(text.matches("  held    rollout").count(), 2, "{text}");
}

#[test]
fn a_counter_example_is_printed_saved_and_fails_under_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "prop.toml", FAILING);
    let save = dir.path().join("found");
    let out = fleetsim(&[
        "check",
        path.to_str().unwrap(),
        "--cases",
        "32",
        "--save",
        save.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("FAILED  j: failed 0"), "{text}");
    assert!(text.contains("held    j: status complete"), "{text}");
    assert!(text.contains("counter-example to expectation 1"), "{text}");
    let saved = save.join("prop.counterexample-1.toml");
    let case = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains(&case), "the saved file is the printed one");
    let run = fleetsim(&["run", saved.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{}", stdout(&run));
    assert!(stdout(&run).contains("FAIL"), "{}", stdout(&run));
}

#[test]
fn the_json_report_does_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "prop.toml", FAILING);
    let report = |threads: &str| {
        let out = fleetsim(&[
            "check",
            path.to_str().unwrap(),
            "--cases",
            "40",
            "--threads",
            threads,
            "--format",
            "json",
        ]);
        let mut v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        for k in ["threads", "search_s", "cases_per_s", "wall_s"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let one = report("1");
    assert_eq!(one, report("2"));
    assert_eq!(one["cases_run"], 40);
    assert_eq!(one["expectations"][0]["held"], false);
    assert!(one["counterexamples"][0]["scenario"]
        .as_str()
        .unwrap()
        .contains("seed = "));
}

#[test]
fn bad_ranges_and_options_are_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (from, to, needle) in [
        (
            "{ min = 3, max = 60 }",
            "{ min = 60, max = 3 }",
            "fleet.devices`: a range needs min <= max",
        ),
        (
            "{ min = 0.0, max = 0.2 }",
            "{ min = 0.0, max = 2.0 }",
            "probability 2 is outside [0, 1] (with every range at its `max`",
        ),
        (
            "{ min = 0.0, max = 0.2 }",
            "{ min = 0.0, mx = 0.2 }",
            "unknown key `mx`",
        ),
    ] {
        let path = write(dir.path(), "bad.toml", &FAILING.replace(from, to));
        assert_refused(&["check", path.to_str().unwrap()], needle);
    }
    let path = write(dir.path(), "ok.toml", FAILING);
    assert_refused(
        &["check", path.to_str().unwrap(), "--time", "soon"],
        "invalid value 'soon' for '--time <DURATION>'",
    );
    assert_refused(&["run", path.to_str().unwrap()], "is for `fleetsim check`");
}

#[test]
fn a_time_budget_stops_between_rounds_and_its_count_repeats_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "prop.toml",
        &FAILING.replace("failed = 0", "failed = { max = 60 }"),
    );
    let p = path.to_str().unwrap();
    let json = |args: &[&str]| {
        let out = fleetsim(&[&["check", p, "--format", "json"], args].concat());
        let mut v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        for k in [
            "threads",
            "search_s",
            "cases_per_s",
            "wall_s",
            "stopped_by_time",
            "cases_budget",
        ] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let out = fleetsim(&["check", p, "--cases", "1000000", "--time", "1ms"]);
    let text = stdout(&out);
    assert!(text.contains("--time ran out; `--cases "), "{text}");
    let timed = json(&["--cases", "1000000", "--time", "1ms"]);
    let n = timed["cases_run"].as_u64().unwrap();
    assert!(n >= 32 && n % 32 == 0 && n < 1_000_000, "{n}");
    assert_eq!(
        timed,
        json(&["--cases", &n.to_string()]),
        "`--cases {n}` repeats it"
    );
}
