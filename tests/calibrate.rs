//! `fleetsim calibrate` and `fleetsim backtest` end to end: exports of a simulated job,
//! calibrated, run with the calibrated behaviour, and backtested.

use std::path::{Path, PathBuf};

use fleet_calibrate::synth::{self, SimulatedJob};
use fleet_calibrate::Platform;
use fleet_scenario::Scenario;

use crate::common::{assert_refused, fleetsim, stderr, stdout, write};

const MODEL: &str = "examples/calibration-model.toml";

/// Writes the exports of the model's job run with `seed` as `platform` gives them.
fn exports(seed: u64, platform: Platform, dir: &Path) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = Scenario::load(&root.join(MODEL)).unwrap();
    let result = synth::simulate(&scenario, seed).unwrap();
    let job = SimulatedJob::of(&result, 0).unwrap();
    let files: Vec<PathBuf> = synth::write(&job, platform, dir).unwrap();
    files.iter().map(|f| f.display().to_string()).collect()
}

/// The model scenario with its behaviour replaced by `section`.
fn calibrated_scenario(dir: &Path, section: &str) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(MODEL)).unwrap();
    let (start, end) = (
        text.find("[[behaviour.rules]]").unwrap(),
        text.find("[[jobs]]").unwrap(),
    );
    write(
        dir,
        "calibrated.toml",
        &format!("{}{section}\n{}", &text[..start], &text[end..]),
    )
}

#[test]
fn calibrate_then_run_then_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let aws = exports(77, Platform::Aws, &dir.path().join("aws"));
    let behaviour = dir.path().join("behaviour.toml");
    let mut args = vec!["calibrate"];
    args.extend(aws.iter().map(String::as_str));
    let out_path = behaviour.display().to_string();
    args.extend([
        "--scenario",
        MODEL,
        "--by",
        "tags.firmware",
        "--posterior",
        "-o",
        &out_path,
    ]);
    let out = fleetsim(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let section = std::fs::read_to_string(&behaviour).unwrap();
    assert!(
        section.contains("selector = { tags = { firmware = \"1.2\" } }"),
        "{section}"
    );
    assert!(
        section.contains("failure_probability = { beta = ["),
        "{section}"
    );

    let scenario = calibrated_scenario(dir.path(), &section);
    let scenario = scenario.display().to_string();
    let out = fleetsim(&["run", &scenario, "--replications", "20"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let hub = exports(78, Platform::Hub, &dir.path().join("hub"));
    let html = dir.path().join("backtest.html").display().to_string();
    let mut args = vec!["backtest", scenario.as_str(), "--job"];
    args.extend(hub.iter().map(String::as_str));
    args.extend([
        "--replications",
        "50",
        "--format",
        "json",
        "--html",
        &html,
        "--threads",
        "2",
    ]);
    let out = fleetsim(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["job"], "set-temperature");
    assert_eq!(report["devices_real"], 2000);
    let failed = report["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "failed")
        .unwrap();
    let rank = failed["rank"].as_f64().unwrap();
    assert!(rank > 0.0 && rank < 100.0, "{failed}");
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
}

#[test]
fn calibrate_prints_json_and_says_what_central_cannot_tell() {
    let dir = tempfile::tempdir().unwrap();
    let central = exports(5, Platform::Central, dir.path());
    let mut args = vec!["calibrate"];
    args.extend(central.iter().map(String::as_str));
    args.extend(["--scenario", MODEL, "--format", "json"]);
    let out = fleetsim(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let c: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(c["records"], 2000);
    assert!(c["pooled"]["latency"].is_null());
    assert!(
        c["notes"][0].as_str().unwrap().contains("status only"),
        "{}",
        c["notes"]
    );
}

#[test]
fn bad_results_exit_2_naming_file_record_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "jobs.json",
        "[\n{\"deviceId\": \"therm-00001\", \"status\": \"completed\"},\n{\"deviceId\": \"therm-00002\", \"status\": \"done\"}\n]",
    );
    let bad = bad.display().to_string();
    assert_refused(
        &["calibrate", &bad, "--scenario", MODEL],
        "jobs.json: record 2 (line 3): field `status`: unknown device job status \"done\"",
    );
    assert_refused(
        &["calibrate", &bad, "--scenario", MODEL, "--by", "tags..x"],
        "field `--by`: \"tags..x\" is not a path",
    );
    assert_refused(
        &["backtest", MODEL, "--job", &bad],
        "jobs.json: record 2 (line 3): field `status`: unknown device job status \"done\"",
    );
}

/// `--max-outside N` makes backtest a CI gate: a model failing far too often puts the real
/// run's failures outside their band, and the command exits 1 saying how many.
#[test]
fn backtest_max_outside_fails_a_model_that_does_not_explain_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let hub = exports(78, Platform::Hub, &dir.path().join("hub"));
    let wrong = "[[behaviour.rules]]\nlatency = { type = \"lognormal\", median_ms = 2000, \
                 sigma = 0.5 }\nfailure_probability = 0.5\n\n";
    let scenario = calibrated_scenario(dir.path(), wrong).display().to_string();
    let backtest = |max: &str| {
        let mut args = vec!["backtest", scenario.as_str(), "--job"];
        args.extend(hub.iter().map(String::as_str));
        args.extend(["--replications", "20", "--max-outside", max]);
        fleetsim(&args)
    };
    let out = backtest("1");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("more than --max-outside 1"), "{err}");
    let outside: usize = err.split(' ').next().unwrap().parse().unwrap();
    assert!(
        stdout(&out).contains(&format!("{outside} of ")),
        "{}",
        stdout(&out)
    );
    assert_eq!(backtest(&outside.to_string()).status.code(), Some(0));
}

/// The example that goes import -> calibrate -> run -> backtest on a fleet's own files
/// (examples/own-fleet/run.sh, also run by CI with the release binary): every step holds and
/// checks that the committed fleet file and pasted behaviour are what the commands write.
#[test]
fn the_own_fleet_example_runs_import_calibrate_run_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg("examples/own-fleet/run.sh")
        .arg(env!("CARGO_BIN_EXE_fleetsim"))
        .arg(dir.path())
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("own-fleet: every step held"));
    let fleet = std::fs::read_to_string(dir.path().join("fleet.jsonl")).unwrap();
    assert_eq!(fleet.lines().count(), 401, "a header and 400 devices");
    let behaviour = std::fs::read_to_string(dir.path().join("behaviour.toml")).unwrap();
    assert!(
        behaviour.contains("properties.reported.firmware = '1.3'"),
        "{behaviour}"
    );
    assert!(std::fs::read_to_string(dir.path().join("backtest.html"))
        .unwrap()
        .contains("<svg"));
}
