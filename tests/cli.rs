//! The command line: exit codes, reports, determinism and errors, over real scenario files.

use crate::common::{assert_refused, fleetsim, stderr, stdout, write};
use std::path::Path;

/// A small scenario: 200 devices, batches of 25 %, a job-wide threshold of 50 %.
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
  "cancellationThreshold": {"type": "percentage", "value": 50, "batch": false},
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 3}]}'''

[[expect]]
job = "j"
status = "complete"
"#;

fn json_report(args: &[&str]) -> serde_json::Value {
    let out = fleetsim(args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("the JSON report parses")
}

#[test]
fn every_example_runs_and_its_expectations_hold() {
    let mut ran = 0;
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml" || e == "json") {
            let out = fleetsim(&["run", path.to_str().unwrap()]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}{}",
                path.display(),
                stdout(&out),
                stderr(&out)
            );
            ran += 1;
        }
    }
    assert!(ran >= 4, "expected at least four examples, found {ran}");
}

#[test]
fn same_seed_same_trace_hash_other_seed_other_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", SMALL);
    let p = path.to_str().unwrap();
    let a = json_report(&["run", p, "--format", "json"]);
    let b = json_report(&["run", p, "--format", "json"]);
    let c = json_report(&["run", p, "--format", "json", "--seed", "6"]);
    assert_eq!(a["trace_hash"], b["trace_hash"]);
    assert_eq!(a["jobs"], b["jobs"]);
    assert_ne!(a["trace_hash"], c["trace_hash"]);
    assert_eq!(a["seed"], 5);
    assert_eq!(c["seed"], 6);
}

#[test]
fn json_report_has_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", SMALL);
    let r = json_report(&["run", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["devices"], 200);
    assert_eq!(r["passed"], true);
    let job = &r["jobs"][0];
    assert_eq!(job["id"], "j");
    assert_eq!(job["status"], "complete");
    let c = &job["counts"];
    let sum: u64 = ["pending", "in_flight", "succeeded", "failed", "cancelled"]
        .iter()
        .map(|k| c[k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 200);
    // 200 devices in batches of 25 % = 4 batches of 50.
    let sizes: Vec<u64> = job["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [50, 50, 50, 50]);
    assert_eq!(r["expectations"][0]["what"], "status");
}

#[test]
fn devices_rescales_the_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", SMALL);
    let r = json_report(&[
        "run",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--devices",
        "1000",
    ]);
    assert_eq!(r["devices"], 1000);
    assert_eq!(r["jobs"][0]["counts"]["total"], 1000);
}

#[test]
fn html_and_csv_reports_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", SMALL);
    let html = dir.path().join("r.html");
    let csv = dir.path().join("d.csv");
    let out = fleetsim(&[
        "run",
        path.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--devices-csv",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg"), "the page has an inline chart");
    assert!(
        !page.contains("<script"),
        "the page is self-contained and static"
    );
    let table = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "job,device_id,status,attempts,error");
    assert_eq!(lines.len(), 201, "one row per device plus the header");
    assert!(lines[1].starts_with("j,dev-0000,"), "{}", lines[1]);
    let failed = lines.iter().filter(|l| l.contains(",failed,")).count();
    let r = json_report(&["run", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(
        failed as u64,
        r["jobs"][0]["counts"]["failed"].as_u64().unwrap()
    );
}

#[test]
fn a_failed_expectation_exits_1_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = SMALL.replace("status = \"complete\"", "status = \"cancelled\"");
    let path = write(dir.path(), "s.toml", &text);
    let out = fleetsim(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("expectation failed: job j status: expected cancelled, got complete"),
        "{}",
        stderr(&out)
    );
}

fn assert_bad_input(text: &str, name: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, text);
    for command in ["run", "validate"] {
        let err = assert_refused(&[command, path.to_str().unwrap()], needles[0]);
        for needle in &needles[1..] {
            assert!(
                err.contains(needle),
                "{command}: {err:?} should contain {needle:?}"
            );
        }
    }
}

#[test]
fn an_unknown_field_names_file_line_and_field() {
    let text = SMALL.replace("failure_probability = 0.1", "failure_probabilty = 0.1");
    assert_bad_input(
        &text,
        "typo.toml",
        &[
            "typo.toml:18:",
            "behaviour.rules[0].failure_probabilty",
            "unknown field",
        ],
    );
}

#[test]
fn impossible_values_are_rejected() {
    let text = SMALL.replace("failure_probability = 0.1", "failure_probability = 1.5");
    assert_bad_input(&text, "p.toml", &["failure_probability"]);
    let text = SMALL.replace("min_ms = 100", "min_ms = -100");
    assert_bad_input(&text, "lat.toml", &["min_ms"]);
    let text = SMALL.replace("\"value\": 25}", "\"value\": 0}");
    assert_bad_input(&text, "batch.toml", &["jobs[0]", "batch"]);
}

#[test]
fn a_job_naming_a_missing_group_is_rejected() {
    let text = SMALL.replace("\"group\": \"g\"", "\"group\": \"nope\"");
    assert_bad_input(&text, "group.toml", &["jobs[0]", "nope"]);
}

#[test]
fn malformed_files_are_rejected() {
    assert_bad_input("seed = [", "broken.toml", &["broken.toml:1:"]);
    assert_bad_input("{\"seed\": 1,}", "broken.json", &["broken.json"]);
    assert_bad_input("seed = 1", "missing.toml", &["fleet"]);
    assert_refused(
        &["run", "no/such/file.toml"],
        "no/such/file.toml: cannot read",
    );
    assert_refused(&["run", "README.md"], ".toml or .json");
}

#[test]
fn json_scenarios_read_like_toml_ones() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = write(dir.path(), "s.toml", SMALL);
    let file: toml::Value = toml::from_str(SMALL).unwrap();
    let json_path = write(
        dir.path(),
        "s.json",
        &serde_json::to_string_pretty(&file).unwrap(),
    );
    let a = json_report(&["run", toml_path.to_str().unwrap(), "--format", "json"]);
    let b = json_report(&["run", json_path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(a["trace_hash"], b["trace_hash"]);
}

#[test]
fn each_example_gives_the_same_trace_twice_and_another_with_another_seed() {
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")).unwrap()
    {
        let path = entry.unwrap().path();
        if !path.extension().is_some_and(|e| e == "toml" || e == "json") {
            continue;
        }
        let p = path.to_str().unwrap();
        let a = json_report(&["run", p, "--format", "json"]);
        let b = json_report(&["run", p, "--format", "json"]);
        assert_eq!(a["trace_hash"], b["trace_hash"], "{p}");
        assert_eq!(a["jobs"], b["jobs"], "{p}");
        // Another seed: expectations may fail (exit 1), but the report is still printed.
        let out = fleetsim(&["run", p, "--format", "json", "--seed", "987654321"]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{p}: {}",
            stderr(&out)
        );
        let c: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_ne!(a["trace_hash"], c["trace_hash"], "{p}");
    }
}

#[test]
fn a_job_naming_a_missing_template_is_rejected() {
    let text = SMALL.replace("\"target\": \"dtmi:t;1\"", "\"target\": \"dtmi:other;1\"");
    assert_bad_input(
        &text,
        "template.toml",
        &["jobs[0].json.data[0].target", "dtmi:other;1"],
    );
}

#[test]
fn replications_report_percentiles_and_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", SMALL);
    let p = path.to_str().unwrap();
    let one = json_report(&[
        "run",
        p,
        "--format",
        "json",
        "--replications",
        "6",
        "--threads",
        "1",
    ]);
    let two = json_report(&[
        "run",
        p,
        "--format",
        "json",
        "--replications",
        "6",
        "--threads",
        "2",
    ]);
    assert_eq!(one["mode"], "replications");
    assert_eq!(one["replications"], 6);
    assert_eq!(one["seed_first"], 5);
    for field in ["runs_hash", "jobs", "expectations", "passed"] {
        assert_eq!(
            one[field], two[field],
            "{field} must not depend on the thread count"
        );
    }
    let d = &one["jobs"][0]["duration_s"];
    assert!(d["min"].as_f64() <= d["p50"].as_f64() && d["p50"].as_f64() <= d["max"].as_f64());
    assert_eq!(one["expectations"][0]["held"], 6);
    let text = stdout(&fleetsim(&["run", p, "--replications", "6"]));
    assert!(text.contains("6 replications (seeds 5 to 10)"), "{text}");
    assert!(text.contains("held in 100.0% of runs (6 of 6)"), "{text}");
}

#[test]
fn a_probability_not_reached_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // 10 % of 200 devices fail, so a failed count of at most 15 holds in some seeds only.
    let text = SMALL.replace(
        "status = \"complete\"",
        "failed = { max = 18 }\nprobability = 0.99",
    );
    let path = write(dir.path(), "s.toml", &text);
    let out = fleetsim(&["run", path.to_str().unwrap(), "--replications", "40"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("required 99.0%"), "{}", stderr(&out));
}

#[test]
fn replication_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", SMALL);
    let p = path.to_str().unwrap();
    let missing = |flag| format!("the following required arguments were not provided:\n  {flag}");
    for (args, needle) in [
        (
            vec!["run", p, "--replications", "0"],
            "invalid value '0' for '--replications <K>'".to_string(),
        ),
        (
            vec!["run", p, "--threads", "2"],
            missing("--replications <K>"),
        ),
        (
            vec!["run", p, "--replications", "3", "--threads", "0"],
            "invalid value '0' for '--threads <T>'".to_string(),
        ),
        (
            vec!["run", p, "--replications", "3", "--devices-csv", "x.csv"],
            "the argument '--replications <K>' cannot be used with '--devices-csv <FILE>'"
                .to_string(),
        ),
        (
            vec!["run", p, "--replications", "3", "--shard", "0/2"],
            missing("--partial-out <FILE>"),
        ),
        (
            vec!["run", p, "--shard", "0/2", "--partial-out", "x.json"],
            missing("--replications <K>"),
        ),
        (
            vec!["run", p, "--partial-out", "x.json"],
            missing("--replications <K>"),
        ),
    ] {
        assert_refused(&args, &needle);
    }
}

/// SMALL with a firmware tag and a group defined by an IoT Central filter.
fn small_with_filter() -> String {
    SMALL
        .replace(
            "templates = [{ template = \"dtmi:t;1\", share = 1.0 }]",
            "templates = [{ template = \"dtmi:t;1\", share = 1.0 }]\ntags = [{ name = \"fw\", values = [{ value = \"1.2\", weight = 1 }, { value = \"1.3\", weight = 1 }] }]",
        )
        .replace(
            "[[groups]]\nid = \"g\"",
            "[[groups]]\nid = \"g\"\nfilter = \"SELECT * FROM devices WHERE tags.fw = '1.2'\"",
        )
}

#[test]
fn query_counts_and_lists_the_matching_devices() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", &small_with_filter());
    let p = path.to_str().unwrap();
    let out = fleetsim(&["query", p, "SELECT * FROM devices WHERE tags.fw = '1.2'"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    let count: usize = first.split(' ').next().unwrap().parse().unwrap();
    assert!(first.ends_with(" of 200 devices match"), "{text}");
    assert!(count > 60 && count < 140, "{text}");
    let ids: Vec<&str> = text.lines().skip(1).take(10).map(str::trim).collect();
    assert_eq!(ids.len(), 10);
    assert!(ids.iter().all(|id| id.starts_with("dev-")), "{text}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(
        text.lines().last().unwrap().trim(),
        format!("... and {} more", count - 10)
    );
    // The group's filter selects the same devices; a WHERE condition alone works too, and the
    // run targets exactly them.
    let group = fleetsim(&["query", p, "--group", "g", "--limit", "10"]);
    assert_eq!(stdout(&group), text);
    let condition = fleetsim(&["query", p, "tags.fw = '1.2'"]);
    assert_eq!(stdout(&condition), text);
    let report = json_report(&["run", p, "--format", "json"]);
    assert_eq!(report["jobs"][0]["counts"]["total"], count as u64);
}

#[test]
fn query_takes_top_limit_seed_and_devices() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", &small_with_filter());
    let p = path.to_str().unwrap();
    let out = fleetsim(&["query", p, "SELECT TOP 3 * FROM devices", "--limit", "5"]);
    assert_eq!(
        stdout(&out),
        "3 of 200 devices match\n  dev-0000\n  dev-0001\n  dev-0002\n"
    );
    let out = fleetsim(&["query", p, "deviceId >= 'dev-0995'", "--devices", "1000"]);
    assert_eq!(
        stdout(&out),
        "5 of 1000 devices match\n  dev-0995\n  dev-0996\n  dev-0997\n  dev-0998\n  dev-0999\n"
    );
    let count = |seed: &str| {
        let out = fleetsim(&[
            "query",
            p,
            "tags.fw = '1.2'",
            "--seed",
            seed,
            "--limit",
            "0",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(count("1"), count("1"));
    assert_ne!(count("1"), count("2"));
}

#[test]
fn a_bad_query_exits_2_with_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", SMALL);
    let p = path.to_str().unwrap();
    let err = assert_refused(
        &["query", p, "SELECT * FROM devices WHERE tags.fw ="],
        "invalid query: expected a value after '=', found the end of the query at column 38",
    );
    assert!(
        err.starts_with("error: invalid query: expected a value after '=', found the end of the query at column 38\n"),
        "{err}"
    );
    assert!(err.contains(&format!("\n  {}^", " ".repeat(37))), "{err}");
    assert_refused(&["query", p, "--group", "nope"], "no device group \"nope\"");
    assert_refused(&["query", "missing.toml", "*"], "missing.toml: cannot read");
    assert_refused(
        &["query", p],
        "the following required arguments were not provided:\n  <QUERY>",
    );
}

#[test]
fn bad_filters_and_query_conditions_are_bad_input() {
    let filter = SMALL.replace(
        "[[groups]]\nid = \"g\"",
        "[[groups]]\nid = \"g\"\nfilter = \"SELECT * FROM devices WHERE tags.fw IN ['1.2'\"",
    );
    assert_bad_input(
        &filter,
        "f.toml",
        &[
            "f.toml:",
            "field `groups[0].filter`",
            "expected ']' to close the '[', found the end of the query at column 40",
        ],
    );
    let hub = SMALL.replace(
        "json = '''{\"id\": \"j\", \"group\": \"g\", \"batch\": {\"type\": \"percentage\", \"value\": 25},\n  \"cancellationThreshold\": {\"type\": \"percentage\", \"value\": 50, \"batch\": false},\n  \"data\": [{\"type\": \"property\", \"target\": \"dtmi:t;1\", \"path\": \"p\", \"value\": 3}]}'''",
        "json = '''{\"jobId\": \"j\", \"type\": \"scheduleDeviceMethod\", \"cloudToDeviceMethod\": {\"methodName\": \"m\"}, \"queryCondition\": \"deviceId = 'a' OR\"}'''",
    );
    assert_ne!(hub, SMALL);
    assert_bad_input(
        &hub,
        "h.toml",
        &[
            "field `jobs[0].json.queryCondition`",
            "expected a condition after 'OR', found the end of the query at column 18",
        ],
    );
}

#[test]
fn serve_refuses_an_empty_store_with_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetsim.db");
    std::fs::write(&db, b"").unwrap();
    let data = dir.path().to_str().unwrap();
    let err = assert_refused(
        &["serve", "--bind", "127.0.0.1:0", "--data", data],
        &db.display().to_string(),
    );
    assert!(err.contains("the file is empty (0 bytes)"), "{err}");
}

#[test]
fn serve_prints_a_device_connection_string_derived_from_the_fleet_key() {
    // The key as DPS derives a group enrollment's: base64(HMAC-SHA256(fleet key, device id)),
    // here of the development key and "therm-0000" (computed with Python's hmac module).
    let out = fleetsim(&["serve", "--print-device-connection-string", "therm-0000"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        printed,
        "HostName=127.0.0.1;DeviceId=therm-0000;SharedAccessKey=dMd+QLzMJc1qnCWyMYU7QuXsNQrupjQxpR3boZiYa+Q="
    );
    // Another fleet key, another key; the --bind host.
    let out = fleetsim(&[
        "serve",
        "--print-device-connection-string",
        "therm-0000",
        "--device-key",
        "c2VjcmV0",
        "--bind",
        "10.0.0.5:443",
    ]);
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        printed.starts_with("HostName=10.0.0.5;DeviceId=therm-0000;SharedAccessKey="),
        "{printed}"
    );
    assert!(
        !printed.ends_with("dMd+QLzMJc1qnCWyMYU7QuXsNQrupjQxpR3boZiYa+Q="),
        "{printed}"
    );
    // A device the scenario's fleet does not have is exit 2, named.
    assert_refused(
        &[
            "serve",
            "--scenario",
            "examples/hybrid-fleet.toml",
            "--print-device-connection-string",
            "nope",
        ],
        "\"nope\": the fleet of examples/hybrid-fleet.toml has no such device",
    );
}

#[test]
fn serve_refuses_a_bad_device_endpoint_with_exit_2() {
    let serve = ["serve", "--bind", "127.0.0.1:0"];
    let with = |extra: &[&'static str]| [&serve[..], extra].concat();
    assert_refused(
        &with(&["--mqtt-bind", "nowhere"]),
        "--mqtt-bind \"nowhere\": expected an address",
    );
    // MQTT is over TLS: without a certificate it cannot be served.
    assert_refused(
        &with(&["--mqtt-bind", "127.0.0.1:0"]),
        "give --tls-cert and --tls-key",
    );
    assert_refused(
        &with(&["--device-key", "not base64!"]),
        "the device key must be non-empty base64 text",
    );
}
