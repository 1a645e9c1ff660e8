//! The command-line habits of docs/cli.md: `-q`, `-v`, `--color` with `NO_COLOR`, `-o`, and a
//! scenario read from standard input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::{assert_refused, fleetsim, stderr, stdout};

/// Runs `fleetsim` with `args`, `input` on standard input and `env` set.
fn fleetsim_with(args: &[&str], input: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("NO_COLOR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fleetsim binary runs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("fleetsim ends")
}

const ROLLOUT: &str = "examples/rollout.toml";

/// The text report without its last line (the wall time varies).
fn report_body(out: &Output) -> String {
    let text = stdout(out);
    let cut = text.rfind("\ntrace ").unwrap_or(text.len());
    text[..cut].to_string()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn a_scenario_on_standard_input_runs_as_the_file_does() {
    let toml = std::fs::read_to_string(ROLLOUT).unwrap();
    let from_file = fleetsim(&["run", ROLLOUT, "--devices", "3000", "--format", "json"]);
    let piped = fleetsim_with(
        &["run", "-", "--devices", "3000", "--format", "json"],
        &toml,
        &[],
    );
    assert_eq!(piped.status.code(), Some(0), "{}", stderr(&piped));
    let (a, b) = (json(&from_file), json(&piped));
    assert_eq!(a["trace_hash"], b["trace_hash"]);
    assert_eq!(b["file"], "<stdin>");
    // The same scenario in JSON, told by its brace or named by --input-format.
    let value: toml::Value = toml::from_str(&toml).unwrap();
    let as_json = serde_json::to_string(&value).unwrap();
    for args in [
        &["run", "-"][..],
        &["run", "-", "--input-format", "json"][..],
    ] {
        let mut args = args.to_vec();
        args.extend(["--devices", "3000", "--format", "json"]);
        let out = fleetsim_with(&args, &as_json, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(json(&out)["trace_hash"], a["trace_hash"]);
    }
}

#[test]
fn bad_input_on_standard_input_is_located_in_stdin() {
    let out = fleetsim_with(&["validate", "-"], "[fleet]\ndevices = \"many\"\n", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: <stdin>:2:"), "{err}");
    assert!(err.contains("devices"), "{err}");
    // TOML named as JSON: the JSON parser's error, still at <stdin>.
    let out = fleetsim_with(
        &["validate", "-", "--input-format", "json"],
        "name = \"x\"\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: <stdin>:1:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn output_writes_the_report_to_a_file_and_nothing_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let out = fleetsim(&[
        "run",
        ROLLOUT,
        "--devices",
        "2000",
        "--format",
        "json",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(report["jobs"][0]["counts"]["pending"], 0);
    assert_eq!(report["devices"], 2000);
    // A directory that does not exist: a clear error, exit 2.
    let bad = dir.path().join("no/such/dir/r.txt");
    assert_refused(
        &[
            "run",
            ROLLOUT,
            "--devices",
            "2000",
            "-o",
            bad.to_str().unwrap(),
        ],
        "cannot write the report to",
    );
}

/// A scenario with a warning (a group that selects no device) and a failing expectation.
const NOISY: &str = r#"
name = "noisy"
seed = 1

[fleet]
devices = 20
templates = [{ template = "dtmi:t;1", share = 1.0 }]

[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]

[[groups]]
id = "g"

[[groups]]
id = "none"
filter = "SELECT * FROM devices WHERE tags.x = 'nothing'"

[[jobs]]
json = '''{"id": "j", "group": "g",
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 3}]}'''

[[expect]]
job = "j"
status = "cancelled"
"#;

#[test]
fn quiet_keeps_errors_and_the_report_and_drops_warnings_and_notes() {
    let loud = fleetsim_with(&["run", "-", "-v"], NOISY, &[]);
    let quiet = fleetsim_with(&["run", "-", "-q"], NOISY, &[]);
    assert_eq!(loud.status.code(), Some(1), "{}", stderr(&loud));
    assert_eq!(quiet.status.code(), Some(1));
    assert!(stderr(&loud).contains("warning:"), "{}", stderr(&loud));
    assert!(
        stderr(&loud).contains("noisy: 20 devices, 1 jobs, 0 scheduled, seed 1"),
        "{}",
        stderr(&loud)
    );
    assert!(stderr(&loud).contains("simulated in"), "{}", stderr(&loud));
    assert!(!stderr(&quiet).contains("warning:"), "{}", stderr(&quiet));
    assert!(
        !stderr(&quiet).contains("simulated in"),
        "{}",
        stderr(&quiet)
    );
    assert!(
        stderr(&quiet).contains("expectation failed: job j status"),
        "{}",
        stderr(&quiet)
    );
    assert_eq!(
        report_body(&loud),
        report_body(&quiet),
        "the report is the same"
    );
    assert_refused(
        &["run", ROLLOUT, "-q", "-v"],
        "the argument '--quiet' cannot be used with '--verbose",
    );
}

#[test]
fn color_is_never_auto_off_a_terminal_and_always_on_demand_even_with_no_color() {
    let esc = |out: &Output| {
        (
            stdout(out).contains('\u{1b}'),
            stderr(out).contains('\u{1b}'),
        )
    };
    let auto = fleetsim_with(&["run", "-"], NOISY, &[]);
    assert_eq!(esc(&auto), (false, false), "not a terminal");
    let always = fleetsim_with(
        &["run", "-", "--color", "always"],
        NOISY,
        &[("NO_COLOR", "1")],
    );
    assert_eq!(esc(&always), (true, true));
    assert!(
        stdout(&always).contains("\u{1b}[1m\u{1b}[31mFAIL\u{1b}[0m j status"),
        "{}",
        stdout(&always)
    );
    assert!(
        stderr(&always).contains("\u{1b}[33mwarning:\u{1b}[0m"),
        "{}",
        stderr(&always)
    );
    let never = fleetsim_with(&["run", "-", "--color", "never"], NOISY, &[]);
    assert_eq!(esc(&never), (false, false));
    assert_eq!(report_body(&never), report_body(&auto));
    // A report written to a file is never coloured.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.txt");
    let out = fleetsim_with(
        &[
            "run",
            "-",
            "--color",
            "always",
            "-o",
            file.to_str().unwrap(),
        ],
        NOISY,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!std::fs::read_to_string(&file).unwrap().contains('\u{1b}'));
}
