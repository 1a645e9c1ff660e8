//! Warnings on the command line (`warning: FILE:LINE: FIELD: message`, `--deny warnings`), the
//! JSON outputs parsed with duplicate keys refused, and the lines of errors.

use crate::common::{assert_refused, fleetsim, stderr, stdout, write};
use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Any JSON value, refusing an object with a repeated key (serde_json keeps the last one
/// silently).
#[derive(Debug)]
struct Strict;

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
}

/// Parses `text` with duplicate keys refused, then as a value.
fn parse_strict(text: &str) -> serde_json::Value {
    if let Err(e) = serde_json::from_str::<Strict>(text) {
        panic!("{e}:\n{text}");
    }
    serde_json::from_str(text).unwrap()
}

#[test]
fn the_duplicate_key_checker_refuses_a_repeated_key() {
    assert!(serde_json::from_str::<Strict>(r#"{"a": 1, "b": {"a": 2}}"#).is_ok());
    let e = serde_json::from_str::<Strict>(r#"{"a": 1, "b": [{"c": 1, "c": 2}]}"#).unwrap_err();
    assert!(e.to_string().contains("duplicate key \"c\""), "{e}");
}

/// 400 devices, an S1 hub, a writable property to every device at once: throttled.
const HUB: &str = r#"seed = 3
clock_start = "2026-03-01T00:00:00Z"

[fleet]
devices = 400
templates = [{ template = "dtmi:t;1", share = 1.0 }]

[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]

[[groups]]
id = "g"

[hub]
tier = "S1"

[[jobs]]
json = '''{"id": "j", "group": "g",
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 3}]}'''

[[jobs]]
json = '''{"id": "s", "group": "g",
  "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 4}],
  "schedule": {"start": "2026-03-01T02:00:00Z", "recurrence": "daily",
               "end": {"type": "occurrences", "occurrences": 2}},
  "enabled": true}'''
"#;

/// The documented top-level keys of the single-run JSON report (docs/report-format.md).
const RUN_KEYS: &[&str] = &[
    "schema_version",
    "fleetsim_version",
    "scenario",
    "file",
    "seed",
    "devices",
    "wall_s",
    "events_per_s",
    "passed",
    "expectations",
    "warnings",
    "trace_hash",
    "events_processed",
    "end_ms",
    "hub",
    "clock_start_ms",
    "hub_series",
    "jobs",
    "schedules",
];

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn every_json_output_has_no_duplicate_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hub.toml", HUB);
    let path = path.to_str().unwrap();
    // A single run, with a hub and a scheduled job.
    let out = fleetsim(&["run", path, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = parse_strict(&stdout(&out));
    let expected: BTreeSet<String> = RUN_KEYS.iter().map(|k| k.to_string()).collect();
    assert_eq!(keys(&r), expected);
    assert_eq!(r["seed"], 3);
    // Replications.
    let out = fleetsim(&["run", path, "--format", "json", "--replications", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = parse_strict(&stdout(&out));
    assert_eq!(r["replications"], 3);
    // Every example small enough for a debug build.
    for example in [
        "examples/direct-method-s1.toml",
        "examples/hawkbit-gates.toml",
        "examples/threshold-second-batch.toml",
        "examples/rerun-failed-devices.toml",
        "examples/aws-exponential-rollout.toml",
    ] {
        let out = fleetsim(&["run", example, "--format", "json"]);
        assert!(out.status.success(), "{example}: {}", stderr(&out));
        let r = parse_strict(&stdout(&out));
        assert!(
            keys(&r).is_subset(
                &expected
                    .union(&["swarm".to_string()].into())
                    .cloned()
                    .collect()
            ),
            "{example}: {:?}",
            keys(&r)
        );
    }
}

#[test]
fn warnings_print_with_file_line_and_field_and_deny_makes_them_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A fault rule comparing the string tag with a number (line 18 is its selector).
    let text = HUB
        .replace(
            "[fleet]\ndevices = 400",
            "[fleet]\ndevices = 400\ntags = [{ name = \"fw\", values = [{ value = \"1.2\", weight = 1 }] }]",
        )
        .replace(
            "[hub]\ntier = \"S1\"\n",
            "[hub]\ntier = \"S1\"\nmax_queue_wait_ms = 600_000\n\n[[behaviour.rules]]\nselector = { tags = { fw = 1.2 } }\nfailure_probability = 1.0\n",
        );
    let line = text
        .lines()
        .position(|l| l.starts_with("selector ="))
        .unwrap()
        + 1;
    let path = write(dir.path(), "w.toml", &text);
    let p = path.to_str().unwrap();
    let expected =
        format!("warning: {p}:{line}: behaviour.rules[0].selector: selects 0 of 400 devices");
    let out = fleetsim(&["validate", p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("warning: ").count(),
        1,
        "{}",
        stderr(&out)
    );

    assert_refused(
        &["validate", "--deny", "warnings", p],
        "error: 1 warning denied (--deny warnings)",
    );

    let out = fleetsim(&["run", p, "--deny", "warnings", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "a denied warning stops before the run");

    // Without --deny the run goes on, prints the warning once and lists it in the report.
    let out = fleetsim(&["run", p, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches(&expected).count(),
        1,
        "{}",
        stderr(&out)
    );
    let r = parse_strict(&stdout(&out));
    let w = &r["warnings"][0];
    assert_eq!(w["code"], "selects_no_device");
    assert_eq!(w["field"], "behaviour.rules[0].selector");
    assert_eq!(w["line"], line);
    assert_eq!(w["file"], p);
    assert_eq!(r["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn a_warning_found_after_the_run_is_denied_too() {
    let dir = tempfile::tempdir().unwrap();
    // 400 devices at once over 50 twin updates/s, queue wait set (no static warning) to 1 s:
    // most fail as throttled.
    let text = HUB.replace(
        "[hub]\ntier = \"S1\"\n",
        "[hub]\ntier = \"S1\"\nmax_queue_wait_ms = 1000\n",
    );
    let path = write(dir.path(), "t.toml", &text);
    let p = path.to_str().unwrap();
    let out = fleetsim(&["validate", "--deny", "warnings", p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = fleetsim(&["run", p, "--deny", "warnings"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(": hub.max_queue_wait_ms: "),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("are throttling"), "{}", stderr(&out));
    // The text report was printed, with the hub's limits.
    assert!(
        stdout(&out).contains("hub S1 x1: 10 job device operations/s, 50 twin updates/s"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_error_inside_a_pasted_job_json_names_the_line_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A trailing comma on the second line of the first job's JSON.
    let text = HUB.replace("\"value\": 3}]}'''", "\"value\": 3},]}'''");
    let line = text
        .lines()
        .position(|l| l.contains("\"value\": 3},]"))
        .unwrap()
        + 1;
    let path = write(dir.path(), "j.toml", &text);
    let p = path.to_str().unwrap();
    let err = assert_refused(&["validate", p], &format!("{p}:{line}:"));
    assert!(!err.contains("at line 2"), "{err}");
}

#[test]
fn a_value_error_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = HUB.replace("tier = \"S1\"", "tier = \"S1\"\nunits = 500");
    let line = text.lines().position(|l| l == "units = 500").unwrap() + 1;
    let path = write(dir.path(), "u.toml", &text);
    let p = path.to_str().unwrap();
    assert_refused(
        &["validate", p],
        &format!("{p}:{line}:1: field `hub.units`"),
    );
}

#[test]
fn a_missing_file_prints_the_os_message_once() {
    for command in ["run", "validate"] {
        let err = assert_refused(
            &[command, "no/such/nope.toml"],
            "error: no/such/nope.toml: cannot read: ",
        );
        assert_eq!(err.matches("os error 2").count(), 1, "{err}");
        assert!(
            err.starts_with("error: no/such/nope.toml: cannot read: "),
            "{err}"
        );
    }
}
