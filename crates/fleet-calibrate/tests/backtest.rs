//! Backtests: the run that generated the results falls inside the predicted band; a wrong
//! model does not; calibrating on one job predicts another.

use std::path::Path;

use fleet_calibrate::synth::{self, SimulatedJob};
use fleet_calibrate::*;
use fleet_scenario::{Format, Scenario};

fn model_text() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/calibration-model.toml"),
    )
    .unwrap()
}

/// The model with its behaviour rules replaced by `rules` (a `[behaviour]` section or rules).
fn with_behaviour(rules: &str) -> Scenario {
    let text = model_text();
    let (start, end) = (
        text.find("[[behaviour.rules]]").unwrap(),
        text.find("[[jobs]]").unwrap(),
    );
    Scenario::from_str(
        &format!("{}{rules}\n{}", &text[..start], &text[end..]),
        Format::Toml,
    )
    .unwrap()
}

/// The exports of the model's job run with `seed`, read back.
fn real_run(seed: u64, platform: Platform, dir: &Path) -> History {
    let scenario = Scenario::from_str(&model_text(), Format::Toml).unwrap();
    let result = synth::simulate(&scenario, seed).unwrap();
    let job = SimulatedJob::of(&result, 0).unwrap();
    read_files(&synth::write(&job, platform, dir).unwrap()).unwrap()
}

fn options() -> BacktestOptions {
    BacktestOptions {
        replications: 100,
        threads: 2,
        ..BacktestOptions::default()
    }
}

fn rank(r: &BacktestReport, name: &str) -> f64 {
    r.measures
        .iter()
        .chain(&r.batches)
        .find(|m| m.name == name)
        .unwrap()
        .rank
        .unwrap()
}

fn outside(r: &BacktestReport) -> usize {
    r.measures
        .iter()
        .chain(&r.batches)
        .filter(|m| m.inside == Some(false))
        .count()
}

/// The run that made the results (seed 1000, not among the replications' seeds 1..100) is one
/// more draw of the model: its ranks lie strictly inside the replications' range, and about one
/// measure in ten falls outside its 5-95 % band (at most 3 of the 17 here).
#[test]
fn the_generating_run_falls_inside_its_band() {
    let dir = tempfile::tempdir().unwrap();
    let history = real_run(1000, Platform::Aws, dir.path());
    let scenario = Scenario::from_str(&model_text(), Format::Toml).unwrap();
    let r = backtest(&scenario, &history, &options()).unwrap();
    assert_eq!(
        (r.devices_real, r.devices_predicted, r.batches.len()),
        (2000, 2000, 10)
    );
    for m in ["duration_s", "succeeded", "failed", "rejected", "timed_out"] {
        let k = rank(&r, m);
        assert!(k > 0.0 && k < 100.0, "{m}: rank {k}");
    }
    assert!(outside(&r) <= 3, "{}", backtest_render::text(&r));
    assert!(
        !r.trip.real_tripped && r.trip.same_as_real > 0.9,
        "{:?}",
        r.trip
    );
    let json: serde_json::Value = serde_json::from_str(&backtest_render::json(&r)).unwrap();
    assert_eq!(json["batches"].as_array().unwrap().len(), 10);
    let html = backtest_render::html(&r);
    assert!(html.contains("<svg") && html.contains("real run") && html.contains("batch 9 failed"));
}

/// A model that fails three times as often puts the real failures below every replication,
/// and the cancellation threshold (15 %) trips in the prediction but not in the real run.
#[test]
fn a_wrong_model_is_found_out() {
    let dir = tempfile::tempdir().unwrap();
    let history = real_run(1000, Platform::Aws, dir.path());
    let wrong = with_behaviour(
        "[[behaviour.rules]]\nlatency = { type = \"lognormal\", median_ms = 2000, sigma = 0.5 }\n\
         failure_probability = 0.15\nreject_probability = 0.02\ncrash_probability = 0.01\n",
    );
    let r = backtest(&wrong, &history, &options()).unwrap();
    assert_eq!(rank(&r, "failed"), 0.0, "{}", backtest_render::text(&r));
    assert!(outside(&r) >= 5);
    assert!(
        r.trip.predicted_probability > 0.5 && !r.trip.real_tripped,
        "{:?}",
        r.trip
    );
}

/// Calibrate on one job (AWS results of seed 500), predict another (IoT Hub results of seed
/// 600): the held-out job falls inside the calibrated model's band.
#[test]
fn calibrate_on_one_job_and_predict_another() {
    let dir = tempfile::tempdir().unwrap();
    let train = real_run(500, Platform::Aws, &dir.path().join("train"));
    let scenario = Scenario::from_str(&model_text(), Format::Toml).unwrap();
    let fleet = scenario.fleet(None).unwrap();
    let options_c = CalibrateOptions {
        by: vec![Attribute::parse("tags.firmware").unwrap()],
        gof_draws: 0,
        latency: LatencyChoice::Lognormal,
        ..CalibrateOptions::default()
    };
    let c = calibrate(&train, &fleet, &options_c).unwrap();
    let section = render::behaviour_toml(&c, true);
    let calibrated = with_behaviour(&section);
    let held_out = real_run(600, Platform::Hub, &dir.path().join("test"));
    let r = backtest(&calibrated, &held_out, &options()).unwrap();
    for m in ["duration_s", "succeeded", "failed", "timed_out"] {
        let k = rank(&r, m);
        assert!(
            k > 0.0 && k < 100.0,
            "{m}: rank {k}\n{}",
            backtest_render::text(&r)
        );
    }
    assert!(outside(&r) <= 3, "{}", backtest_render::text(&r));
    assert!(r
        .notes
        .iter()
        .any(|n| n.contains("does not tell rejections")));
}

#[test]
fn results_of_another_job_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.json");
    std::fs::write(
        &path,
        r#"[{"deviceId": "therm-00001", "jobId": "other", "status": "completed"}]"#,
    )
    .unwrap();
    let history = read_files(&[path]).unwrap();
    let scenario = Scenario::from_str(&model_text(), Format::Toml).unwrap();
    let e = backtest(&scenario, &history, &options())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "no per-device results of job \"set-temperature\" among the files (they name [\"other\"])"
    );
    let e = backtest(
        &scenario,
        &history,
        &BacktestOptions {
            job: Some("nope".into()),
            ..options()
        },
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("--job-id"));
}
