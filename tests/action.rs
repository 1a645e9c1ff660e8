//! `action.yml`, the composite GitHub Action: its definition parses and names its script and
//! inputs, and the script (`action/run-scenarios`), run here as a runner would run it, fails on
//! an unmet expectation, annotates the file and writes every report to the step summary.

use std::path::Path;
use std::process::{Command, Output};

use yaml_rust2::YamlLoader;

use crate::common::write;

const PASSING: &str = r#"
seed = 5
[fleet]
devices = 40
templates = [{ template = "dtmi:t;1", share = 1.0 }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
[[groups]]
id = "g"
[[jobs]]
json = '''{"id": "j", "group": "g", "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 3}]}'''
[[expect]]
job = "j"
status = "complete"
"#;

/// Runs the action's script in `dir` as the runner does (inputs as environment variables).
fn run_action(dir: &Path, scenarios: &str, args: &str) -> (Output, String, String) {
    let summary = dir.join("summary.md");
    let outputs = dir.join("outputs.txt");
    let _ = std::fs::remove_file(&summary);
    let _ = std::fs::remove_file(&outputs);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("action/run-scenarios");
    let out = Command::new("bash")
        .arg(script)
        .current_dir(dir)
        .env("FLEETSIM", env!("CARGO_BIN_EXE_fleetsim"))
        .env("INPUT_SCENARIOS", scenarios)
        .env("INPUT_ARGS", args)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .expect("bash runs the script");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (out, read(&summary), read(&outputs))
}

#[test]
fn an_unmet_expectation_fails_the_step_and_every_report_reaches_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scenarios")).unwrap();
    write(&dir.path().join("scenarios"), "good.toml", PASSING);
    let bad = PASSING.replace("status = \"complete\"", "status = \"cancelled\"");
    write(&dir.path().join("scenarios"), "bad.toml", &bad);
    let (out, summary, outputs) = run_action(dir.path(), "scenarios/*.toml", "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        summary.starts_with("## fleetsim: 1 of 2 scenarios held\n"),
        "{summary}"
    );
    assert!(
        summary.contains("| `scenarios/bad.toml` | ❌ expectation failed |"),
        "{summary}"
    );
    assert!(
        summary.contains("| `scenarios/good.toml` | ✅ passed |"),
        "{summary}"
    );
    assert!(
        summary.contains("FAIL j status: expected cancelled, got complete"),
        "{summary}"
    );
    assert!(
        summary.contains("ok   j status: expected complete, got complete"),
        "{summary}"
    );
    assert!(
        !summary.contains('\u{1b}'),
        "no colour codes in the summary"
    );
    assert!(
        stdout.contains("::error file=scenarios/bad.toml,title=fleetsim::expectation failed: job j status: expected cancelled, got complete"),
        "{stdout}"
    );
    assert_eq!(outputs, "passed=1\nfailed=1\n");
}

#[test]
fn all_held_passes_args_reach_fleetsim_and_bad_input_or_no_match_fail() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.toml", PASSING);
    let (out, summary, _) = run_action(dir.path(), "a.toml", "--seed 9 --format text");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        summary.contains("seed 9"),
        "the args reached fleetsim run: {summary}"
    );
    // Bad input: the step fails, annotated with fleetsim's error.
    write(dir.path(), "broken.toml", "[fleet]\ndevices = -1\n");
    let (out, summary, _) = run_action(dir.path(), "a.toml\nbroken.toml", "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("::error file=broken.toml,title=fleetsim::error: broken.toml:2"),
        "{stdout}"
    );
    assert!(
        summary.contains("❌ exit 2 (bad input or a limit)"),
        "{summary}"
    );
    // A pattern that matches nothing is a mistake, not a pass.
    let (out, _, _) = run_action(dir.path(), "scenarios/*.toml", "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no scenario matches 'scenarios/*.toml'"));
}

#[test]
fn the_action_definition_runs_its_script_with_its_inputs() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml")).unwrap();
    let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
    assert_eq!(doc["runs"]["using"].as_str(), Some("composite"));
    let inputs = doc["inputs"].as_hash().unwrap();
    let names: Vec<&str> = inputs.keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "scenarios",
            "args",
            "install",
            "pip-spec",
            "working-directory"
        ]
    );
    let steps = doc["runs"]["steps"].as_vec().unwrap();
    let run = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("run"))
        .unwrap();
    assert!(run["run"]
        .as_str()
        .unwrap()
        .contains("$GITHUB_ACTION_PATH/action/run-scenarios"));
    assert_eq!(
        run["env"]["INPUT_SCENARIOS"].as_str(),
        Some("${{ inputs.scenarios }}")
    );
    assert_eq!(
        run["env"]["INPUT_ARGS"].as_str(),
        Some("${{ inputs.args }}")
    );
    for step in steps {
        if step["run"].as_str().is_some() {
            assert_eq!(
                step["shell"].as_str(),
                Some("bash"),
                "a composite step names its shell"
            );
        }
    }
    assert_eq!(
        doc["outputs"]["failed"]["value"].as_str(),
        Some("${{ steps.run.outputs.failed }}")
    );
}
