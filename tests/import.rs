//! `fleetsim import` and scenarios over an imported fleet (`[fleet] file`): validate, run,
//! query; bad exports and bad fleet files exit 2 naming the file, line and field.

use std::path::{Path, PathBuf};

use crate::common::{assert_refused, fleetsim, stderr, stdout, write};

/// A hand-written export of `crates/fleet-import/tests/data`.
fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/fleet-import/tests/data")
        .join(name)
        .display()
        .to_string()
}

/// Imports `exports` into `dir/fleet.jsonl`.
fn import(dir: &Path, exports: &[&str], extra: &[&str]) -> PathBuf {
    let out = dir.join("fleet.jsonl");
    let mut args = vec!["import"];
    args.extend_from_slice(exports);
    args.extend_from_slice(&["-o", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let run = fleetsim(&args);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    out
}

const SCENARIO: &str = r#"
name = "imported"
seed = 5

[fleet]
file = "fleet.jsonl"

[[templates]]
id = "LightBulb"
properties = [{ name = "brightness", schema = "integer" }]

[[groups]]
id = "dead"
displayName = "Dead bulbs"
filter = "SELECT * FROM devices WHERE tags.thingGroups.DeadBulbs = true"

[[jobs]]
json = '''
{"id": "dim", "group": "dead",
 "data": [{"type": "property", "target": "LightBulb", "path": "brightness", "value": 10}]}
'''

[[expect]]
job = "dim"
total = 1
"#;

#[test]
fn an_imported_fleet_runs_validates_and_answers_queries() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = import(
        dir.path(),
        &[&data("aws-search-index-lightbulbs.json")],
        &[],
    );
    let header = std::fs::read_to_string(&fleet).unwrap();
    assert!(
        header.starts_with("{\"fleetsim_fleet\":1,\"source\":\"aws\""),
        "{header}"
    );
    let scenario = write(dir.path(), "s.toml", SCENARIO);
    let s = scenario.to_str().unwrap();
    let out = fleetsim(&["validate", s]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("ok (3 devices, 1 jobs, 1 expectations)"),
        "{}",
        stdout(&out)
    );
    let out = fleetsim(&["run", s, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["devices"], 3);
    // Every bulb was disconnected when exported: it starts offline and, with no `reconnect`
    // rule, never acknowledges the property, so the job is still running when events run out.
    assert_eq!(report["jobs"][0]["status"], "running");
    assert_eq!(
        report["jobs"][0]["counts"]["in_flight"], 1,
        "{}",
        report["jobs"][0]
    );
    let out = fleetsim(&["query", s, "--group", "dead"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("1 of 3 devices match\n  MyLightBulb"),
        "{}",
        stdout(&out)
    );
    let out = fleetsim(&[
        "query",
        s,
        "connectionState = 'Disconnected' AND tags.wattage = '75'",
    ]);
    assert!(
        stdout(&out).starts_with("3 of 3 devices match"),
        "{}",
        stdout(&out)
    );
    // --devices rescales generated fleets only.
    assert_refused(
        &["query", s, "*", "--devices", "10"],
        "--devices rescales a generated fleet",
    );
}

#[test]
fn import_reports_skipped_records_and_modules() {
    let dir = tempfile::tempdir().unwrap();
    let export = write(
        dir.path(),
        "devices.txt",
        "{\"id\":\"a\",\"status\":\"enabled\"}\n{\"id\":\"b\",\"status\":7}\n{\"id\":\"a\",\"moduleId\":\"m\",\"status\":\"enabled\"}\n",
    );
    let out = dir.path().join("fleet.jsonl");
    assert_refused(
        &[
            "import",
            export.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        "devices.txt:2 (record 2): field `status`: invalid type",
    );
    assert!(!out.exists(), "no fleet file after a failed import");
    let run = fleetsim(&[
        "import",
        export.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--skip-bad",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stdout(&run).contains(
            "1 devices from 1 file (iothub-export), 0 templates, 1 module identities not imported"
        ),
        "{}",
        stdout(&run)
    );
    assert!(
        stderr(&run).contains("warning: 1 bad records skipped (--skip-bad)"),
        "{}",
        stderr(&run)
    );
    assert!(stderr(&run).contains("skipped: "), "{}", stderr(&run));
}

#[test]
fn central_exports_take_their_properties() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = import(
        dir.path(),
        &[&data("central-devices.json")],
        &[
            "--properties",
            &data("central-properties.json"),
            "--format",
            "central",
        ],
    );
    let text = std::fs::read_to_string(fleet).unwrap();
    let line = text.lines().find(|l| l.contains("\"id\":\"ccc\"")).unwrap();
    assert_eq!(
        line,
        r#"{"id":"ccc","template":"dtmi:contoso:Thermostat;1","display_name":"CheckoutThermostat","reported":{"maxTempSinceLastReboot":93.95907131817654},"simulated":true}"#
    );
    assert_refused(
        &[
            "import",
            &data("devices.txt"),
            "-o",
            dir.path().join("x.jsonl").to_str().unwrap(),
            "--properties",
            &data("central-properties.json"),
        ],
        "--properties goes with IoT Central exports; these are iothub-export",
    );
}

#[test]
fn bad_fleet_sections_and_fleet_files_exit_2_naming_where() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), &[&data("aws-list-things.json")], &[]);
    // Both a file and generator fields.
    let both = write(
        dir.path(),
        "both.toml",
        "[fleet]\nfile = \"fleet.jsonl\"\ndevices = 10\n",
    );
    assert_refused(
        &["validate", both.to_str().unwrap()],
        "an imported fleet (`file`) takes no generator fields: remove `devices`",
    );
    // A missing fleet file.
    let missing = write(
        dir.path(),
        "missing.toml",
        "[fleet]\nfile = \"nope.jsonl\"\n",
    );
    let err = assert_refused(&["validate", missing.to_str().unwrap()], "missing.toml:2:");
    assert!(err.contains("field `fleet.file`"), "{err}");
    assert!(err.contains("nope.jsonl"), "{err}");
    // A truncated fleet file names its own line.
    let text = std::fs::read_to_string(dir.path().join("fleet.jsonl")).unwrap();
    let cut: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    write(dir.path(), "cut.jsonl", &cut);
    let s = write(dir.path(), "cut.toml", "[fleet]\nfile = \"cut.jsonl\"\n");
    assert_refused(
        &["run", s.to_str().unwrap()],
        "cut.jsonl:3: the header says 4 devices, the file has 2 (truncated?)",
    );
    // An export where a fleet file belongs.
    let s = write(
        dir.path(),
        "export.toml",
        &format!("[fleet]\nfile = {:?}\n", data("aws-list-things.json")),
    );
    assert_refused(
        &["validate", s.to_str().unwrap()],
        "not a fleetsim fleet file",
    );
}

#[test]
fn templates_the_scenario_does_not_define_are_empty_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), &[&data("aws-list-things.json")], &[]);
    let s = write(dir.path(), "s.toml", "[fleet]\nfile = \"fleet.jsonl\"\n");
    let out = fleetsim(&["validate", s.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("s.toml:2: fleet.file: the imported fleet names template \"LightBulb\" (3 devices), which `templates` does not define"),
        "{err}"
    );
    let err = assert_refused(
        &["validate", s.to_str().unwrap(), "--deny", "warnings"],
        "s.toml:2: fleet.file: the imported fleet names template \"LightBulb\"",
    );
    assert!(
        err.contains("error: 1 warning denied (--deny warnings)"),
        "{err}"
    );
    // Queries still select by the template.
    let out = fleetsim(&["query", s.to_str().unwrap(), "$template = 'LightBulb'"]);
    assert!(
        stdout(&out).starts_with("3 of 4 devices match"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_export_can_come_through_a_pipe() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fleet.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["import", "/dev/stdin", "-o", out.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let export = std::fs::read(data("aws-list-things.json")).unwrap();
    child.stdin.take().unwrap().write_all(&export).unwrap();
    let run = child.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stdout(&run).contains("4 devices from 1 file (aws), 1 templates"),
        "{}",
        stdout(&run)
    );
    let text = std::fs::read_to_string(out).unwrap();
    assert_eq!(text.lines().count(), 5);
}
