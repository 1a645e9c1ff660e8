//! Calibration end to end: exports written from simulations of a known model, read back and
//! fitted; the public documentation's examples; malformed input.

use std::path::{Path, PathBuf};

use fleet_calibrate::synth::{self, SimulatedJob};
use fleet_calibrate::*;
use fleet_scenario::{Format, Scenario};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// One homogeneous behaviour: log-normal (median 2 s, sigma 0.5), 3 % fail, 2 % refuse,
/// 1 % crash (and time out after 60 s).
fn homogeneous(devices: u32) -> Scenario {
    let text = format!(
        r#"
seed = 1
clock_start = "2026-03-01T02:00:00Z"
[fleet]
devices = {devices}
id_pattern = "dev-{{:05}}"
templates = [{{ template = "t;1", share = 1.0 }}]
tags = [{{ name = "firmware", values = [{{ value = "1.1", weight = 2 }}, {{ value = "1.2", weight = 1 }}, {{ value = "1.3", weight = 3 }}] }}]
[[templates]]
id = "t;1"
properties = [{{ name = "p", schema = "double" }}]
[[behaviour.rules]]
latency = {{ type = "lognormal", median_ms = 2000, sigma = 0.5 }}
failure_probability = 0.03
reject_probability = 0.02
crash_probability = 0.01
[[jobs]]
device_timeout_s = 60
json = '{{"id": "j", "group": "all", "batch": {{"type": "percentage", "value": 20}}, "data": [{{"type": "PropertyJobData", "target": "t;1", "path": "p", "value": 1.5}}]}}'
[[groups]]
id = "all"
displayName = "all"
"#
    );
    Scenario::from_str(&text, Format::Toml).unwrap()
}

fn model() -> Scenario {
    Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/calibration-model.toml"),
    )
    .unwrap()
}

/// Simulates `scenario` with `seed`, writes its job's exports as `platform` gives them, and
/// reads them back.
fn exported(scenario: &Scenario, seed: u64, platform: Platform, dir: &Path) -> History {
    let result = synth::simulate(scenario, seed).unwrap();
    let job = SimulatedJob::of(&result, 0).unwrap();
    let files = synth::write(&job, platform, dir).unwrap();
    read_files(&files).unwrap()
}

/// The results of `scenario`'s job under `seed`, as an AWS export reads back (see
/// `exports_read_back_as_the_simulation_wrote_them`), without the files.
fn simulated(scenario: &Scenario, seed: u64) -> History {
    let result = synth::simulate(scenario, seed).unwrap();
    SimulatedJob::of(&result, 0).unwrap().history()
}

fn quick(by: Vec<Attribute>) -> CalibrateOptions {
    CalibrateOptions {
        by,
        gof_draws: 0,
        ..CalibrateOptions::default()
    }
}

fn covers(r: &RateFit, truth: f64) -> bool {
    r.lower <= truth && truth <= r.upper
}

/// 95 % intervals cover the truth in at least 90 % of 200 seeds (the expected count is 190;
/// 180 is 3.2 binomial standard deviations below it).
#[test]
fn intervals_cover_the_truth_across_seeds() {
    let scenario = homogeneous(1000);
    let fleet = scenario.fleet(None).unwrap();
    let mut hits = [0u32; 5];
    for seed in 0..200 {
        let h = simulated(&scenario, seed);
        let c = calibrate(&h, &fleet, &quick(vec![])).unwrap();
        let p = &c.pooled;
        let l = p.latency.as_ref().unwrap();
        let checks = [
            covers(&p.failure, 0.03),
            covers(p.rejection.as_ref().unwrap(), 0.02),
            covers(p.time_out.as_ref().unwrap(), 0.01),
            l.median_ms_interval[0] <= 2000.0 && 2000.0 <= l.median_ms_interval[1],
            l.sigma_interval[0] <= 0.5 && 0.5 <= l.sigma_interval[1],
        ];
        for (h, ok) in hits.iter_mut().zip(checks) {
            *h += u32::from(ok);
        }
    }
    eprintln!("intervals covering the truth (failure, rejection, time-out, median, sigma): {hits:?} of 200");
    for (what, h) in ["failure", "rejection", "time-out", "median", "sigma"]
        .iter()
        .zip(hits)
    {
        assert!(h >= 180, "{what}: {h} of 200 intervals cover the truth");
    }
}

/// With three segments, partially pooled. Firmware 1.2 fails 8 %, the others 3 %: pooling
/// pulls the outlier towards the pooled rate, so its intervals cover its rate somewhat less
/// often than the nominal 95 % (179 of 200 seeds when written), the others more often; over
/// the three together coverage stays at least 90 %, each at least 85 %. Each segment's latency
/// interval (no pooling) covers its own median (4 s for firmware 1.2).
#[test]
fn segment_intervals_cover_their_own_truth() {
    let scenario = model();
    let fleet = scenario.fleet(None).unwrap();
    let mut hits = [0u32; 3];
    let mut median_hits = 0;
    let seeds = 200;
    for seed in 0..seeds {
        let h = simulated(&scenario, seed);
        let by = vec![Attribute::parse("tags.firmware").unwrap()];
        let c = calibrate(&h, &fleet, &quick(by)).unwrap();
        assert_eq!(c.segments.len(), 3);
        for (i, (s, truth)) in c.segments.iter().zip([0.03, 0.08, 0.03]).enumerate() {
            hits[i] += u32::from(covers(&s.failure, truth));
        }
        let slow = c.segments[1].latency.as_ref().unwrap();
        median_hits +=
            u32::from(slow.median_ms_interval[0] <= 4000.0 && 4000.0 <= slow.median_ms_interval[1]);
    }
    eprintln!("failure intervals covering the truth, firmware 1.1, 1.2, 1.3: {hits:?} of {seeds}");
    for (segment, h) in ["1.1", "1.2", "1.3"].iter().zip(hits) {
        assert!(
            h >= 170,
            "firmware {segment}: {h} of {seeds} failure intervals cover the truth"
        );
    }
    assert!(hits.iter().sum::<u32>() >= 540, "{hits:?}");
    assert!(
        median_hits >= 180,
        "firmware 1.2 median: {median_hits} of {seeds}"
    );
}

/// What an AWS export reads back as is the simulation's own outcome and times, device by
/// device (so the coverage tests above may skip the files).
#[test]
fn exports_read_back_as_the_simulation_wrote_them() {
    let scenario = model();
    let dir = tempfile::tempdir().unwrap();
    let result = synth::simulate(&scenario, 9).unwrap();
    let job = SimulatedJob::of(&result, 0).unwrap();
    let read = read_files(&synth::write(&job, Platform::Aws, dir.path()).unwrap()).unwrap();
    let direct = job.history();
    assert_eq!(read.devices.len(), direct.devices.len());
    assert_eq!(
        read.merged,
        job.devices
            .iter()
            .filter(|d| d.outcome != Outcome::Succeeded)
            .count() as u64
    );
    for (r, d) in read.devices.iter().zip(&direct.devices) {
        assert_eq!(
            (&r.device, r.outcome, r.dispatched_ms, r.ended_ms),
            (&d.device, d.outcome, d.dispatched_ms, d.ended_ms)
        );
    }
    // The simulation's latencies: every answered device's time is its batch's start plus a
    // log-normal draw (medians 2 s and 4 s), and every time-out waited the 60 s device timeout.
    let timed_out: Vec<i64> = read
        .devices
        .iter()
        .filter(|d| d.outcome == Outcome::TimedOut)
        .filter_map(|d| d.elapsed_ms())
        .collect();
    assert!(
        !timed_out.is_empty() && timed_out.iter().all(|t| *t == 60_000),
        "{timed_out:?}"
    );
}

/// The three platforms' exports of one run agree as far as each can tell.
#[test]
fn the_formats_of_one_run_agree() {
    let scenario = model();
    let fleet = scenario.fleet(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fit = |p: Platform, sub: &str| {
        let h = exported(&scenario, 5, p, &dir.path().join(sub));
        calibrate(&h, &fleet, &quick(vec![])).unwrap()
    };
    let (aws, hub, central) = (
        fit(Platform::Aws, "aws"),
        fit(Platform::Hub, "hub"),
        fit(Platform::Central, "central"),
    );
    let a = &aws.pooled;
    let (fail, reject, timeout) = (
        a.failure.count,
        a.rejection.as_ref().unwrap().count,
        a.time_out.as_ref().unwrap().count,
    );
    assert!(fail > 0 && reject > 0 && timeout > 0, "{a:?}");
    assert_eq!(a.failure.n, 2000);
    // IoT Hub tells time-outs (by error code) but not rejections.
    assert_eq!(hub.pooled.failure.count, fail + reject);
    assert_eq!(hub.pooled.time_out.as_ref().unwrap().count, timeout);
    assert!(hub.pooled.rejection.is_none());
    // IoT Central: every kind is a failure, and there are no times.
    assert_eq!(central.pooled.failure.count, fail + reject + timeout);
    assert!(central.pooled.latency.is_none() && central.pooled.time_out.is_none());
    assert!(
        central.notes.iter().any(|n| n.contains("status only")),
        "{:?}",
        central.notes
    );
    let (la, lh) = (
        a.latency.as_ref().unwrap(),
        hub.pooled.latency.as_ref().unwrap(),
    );
    assert_eq!((la.n, la.median_ms), (lh.n, lh.median_ms));
    assert_eq!(la.n, 2000 - timeout);
}

/// The examples of the public documentation, field for field: the IoT Hub jobs query guide's
/// device job, the IoT Central how-to's job-004 and its devices; AWS: the fields of the
/// ListJobExecutionsForJob and DescribeJobExecution response syntax (values made up; epoch
/// seconds as the API and AWS CLI v1 print them, ISO 8601 as AWS CLI v2 prints them).
#[test]
fn documentation_examples_are_read_field_for_field() {
    let h = read_files(&[data("hub-devices-jobs-doc.json"), data("hub-job-doc.json")]).unwrap();
    let d = &h.devices[0];
    assert_eq!(
        (d.device.as_str(), d.job.as_deref(), d.platform),
        ("myDeviceId", Some("myJobId"), Platform::Hub)
    );
    assert_eq!(d.outcome, Outcome::Succeeded);
    assert_eq!(
        d.elapsed_ms(),
        Some(120_000),
        "startTimeUtc to endTimeUtc, read as UTC"
    );
    assert_eq!(h.jobs[0].statistics, Some([1, 0, 1]));
    assert_eq!(
        h.jobs[0].end_ms.unwrap() - h.jobs[0].start_ms.unwrap(),
        120_000
    );

    let c = read_files(&[
        data("central-job-devices-doc.json"),
        data("central-job-doc.json"),
    ])
    .unwrap();
    let ids: Vec<&str> = c.devices.iter().map(|d| d.device.as_str()).collect();
    assert_eq!(ids, ["therm-01", "therm-02", "therm-03", "therm-04"]);
    assert!(c
        .devices
        .iter()
        .all(|d| d.outcome == Outcome::Succeeded && d.job.as_deref() == Some("job-004")));
    assert_eq!(
        (c.jobs[0].id.as_str(), c.jobs[0].status.as_deref()),
        ("job-004", Some("complete"))
    );
    assert_eq!(c.devices[2].place.record, 3);
    assert_eq!(c.devices[2].place.line, 11);

    let a = read_files(&[data("aws-list-doc.json"), data("aws-describe-doc.json")]).unwrap();
    assert_eq!(
        a.devices.len(),
        2,
        "the describe record is merged into its summary"
    );
    assert_eq!(a.merged, 1);
    let pi = a
        .devices
        .iter()
        .find(|d| d.device == "MyRaspberryPi")
        .unwrap();
    assert_eq!(
        (pi.outcome, pi.elapsed_ms()),
        (Outcome::Succeeded, Some(2767))
    );
    let other = a.devices.iter().find(|d| d.device == "MyOtherPi").unwrap();
    assert_eq!(other.outcome, Outcome::Failed);
    assert_eq!(other.reason.as_deref(), Some("reason=checksum mismatch"));
    assert_eq!(other.elapsed_ms(), Some(6267));
}

fn error_of(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    read_files(&[path])
        .unwrap_err()
        .to_string()
        .replace(&dir.path().display().to_string(), "DIR")
}

#[test]
fn malformed_input_names_file_record_line_and_field() {
    let e = error_of("a.json", "[\n{\"deviceId\": \"d1\", \"status\": \"completed\"},\n{\"deviceId\": \"d2\", \"status\": \"done\"}\n]");
    assert_eq!(e, "DIR/a.json: record 2 (line 3): field `status`: unknown device job status \"done\" (expected pending, scheduled, running, completed, failed or canceled)");
    let e = error_of(
        "b.json",
        "[{\"deviceId\": \"d1\", \"status\": \"completed\", \"startTimeUtc\": \"soon\"}]",
    );
    assert!(
        e.starts_with(
            "DIR/b.json: record 1 (line 1): field `startTimeUtc`: \"soon\" is not a date-time"
        ),
        "{e}"
    );
    let e = error_of("c.json", "{\"executionSummaries\": [\n {\"thingArn\": \"arn:aws:iot:r:1:thing/x\", \"jobExecutionSummary\": {\"queuedAt\": 1}}]}");
    assert_eq!(
        e,
        "DIR/c.json: record 1 (line 2): field `jobExecutionSummary.status`: is missing"
    );
    let e = error_of(
        "d.json",
        "[\n{\"deviceId\": \"d1\", \"status\": \"completed\"},\n{\"deviceId\": \"d2\", \"sta",
    );
    assert!(
        e.starts_with("DIR/d.json:3: the file ends inside a JSON value (truncated?)"),
        "{e}"
    );
    let e = error_of("e.json", "{\"hello\": 1}");
    assert!(
        e.contains(
            "record 1 (line 1): an object with fields [\"hello\"] is none of the formats read"
        ),
        "{e}"
    );
    let e = error_of("f.json", "[{\"deviceId\": \"d1\", \"jobId\": \"j\", \"status\": \"failed\"},\n {\"deviceId\": \"d1\", \"jobId\": \"j\", \"status\": \"completed\"}]");
    assert_eq!(e, "DIR/f.json: record 2 (line 2): device \"d1\" appears twice in the results of job j: here and at DIR/f.json: record 1 (line 1)");
    let e = error_of(
        "g.json",
        "{\"value\": [{\"id\": 7, \"status\": \"completed\"}]}",
    );
    assert_eq!(
        e,
        "DIR/g.json: record 1 (line 1): field `id`: expected a string, found a number"
    );
    assert_eq!(
        error_of("h.json", "  \n"),
        "DIR/h.json: the file holds no JSON value"
    );
    assert_eq!(
        error_of("i.json", "[1]"),
        "DIR/i.json: record 1 (line 1): expected an object, found a number"
    );
}

#[test]
fn the_output_is_a_behaviour_section_a_scenario_takes() {
    let scenario = model();
    let fleet = scenario.fleet(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let h = exported(&scenario, 2, Platform::Aws, dir.path());
    let c = calibrate(
        &h,
        &fleet,
        &quick(vec![Attribute::parse("tags.firmware").unwrap()]),
    )
    .unwrap();
    let original = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/calibration-model.toml"),
    )
    .unwrap();
    let start = original.find("[[behaviour.rules]]").unwrap();
    let end = original.find("[[jobs]]").unwrap();
    for posterior in [false, true] {
        let section = render::behaviour_toml(&c, posterior);
        let text = format!("{}{section}\n{}", &original[..start], &original[end..]);
        let s =
            Scenario::from_str(&text, Format::Toml).unwrap_or_else(|e| panic!("{e}\n{section}"));
        let rules = &s.file.behaviour.rules;
        assert_eq!(rules.len(), 4);
        assert_eq!(rules[2].selector.tags["firmware"], serde_json::json!("1.2"));
        let p = rules[2].failure_probability.unwrap();
        assert!(matches!(p, fleet_sim::Probability::Beta { .. }) == posterior);
        assert!((p.point() - c.segments[1].failure.mean).abs() < 1e-5);
    }
    let json: serde_json::Value = serde_json::from_str(&render::json(&c)).unwrap();
    assert_eq!(json["segments"][1]["failure"]["n"], c.segments[1].failure.n);
}

#[test]
fn devices_the_fleet_lacks_are_reported() {
    let fleet = homogeneous(10).fleet(None).unwrap();
    let h = read_files(&[data("central-job-devices-doc.json")]).unwrap();
    let c = calibrate(&h, &fleet, &quick(vec![Attribute::Template])).unwrap();
    assert_eq!(c.not_in_fleet.count, 4);
    assert!(
        c.not_in_fleet.examples[0].starts_with("therm-01 ("),
        "{:?}",
        c.not_in_fleet
    );
    assert!(c.segments.is_empty());
    assert_eq!(c.pooled.failure.n, 4);
    // A job whose own count disagrees with the results read: pages are missing.
    let with_job =
        read_files(&[data("hub-devices-jobs-doc.json"), data("hub-job-doc.json")]).unwrap();
    let mut short = with_job.clone();
    short.jobs[0].statistics = Some([3, 0, 3]);
    let short = calibrate(&short, &fleet, &quick(vec![])).unwrap();
    assert!(
        short
            .notes
            .iter()
            .any(|n| n.contains("job myJobId says it had 3 devices, the results hold 1")),
        "{:?}",
        c.notes
    );
    assert!(render::behaviour_toml(&c, false).contains("# 4 results name devices the fleet lacks"));
}

/// Devices that were not online (IoT Hub `DeviceNotOnline`) say nothing about the device's
/// code: they read back as `offline`, are left out of the rates and the latency, and a note
/// counts them. A fifth of the fleet offline would otherwise read as a 25 % failure rate.
#[test]
fn offline_devices_are_left_out_of_the_rates() {
    let text = r#"
seed = 1
clock_start = "2026-03-01T02:00:00Z"
[fleet]
devices = 2000
id_pattern = "dev-{:05}"
templates = [{ template = "t;1", share = 1.0 }]
[[templates]]
id = "t;1"
commands = [{ name = "ping" }]
[[behaviour.rules]]
latency = { type = "lognormal", median_ms = 2000, sigma = 0.5 }
failure_probability = 0.05
[[behaviour.rules]]
offline = 0.2
[[jobs]]
json = '''{"jobId": "m", "type": "scheduleDeviceMethod", "queryCondition": "*",
  "cloudToDeviceMethod": {"methodName": "ping", "responseTimeoutInSeconds": 30, "connectTimeoutInSeconds": 0}}'''
"#;
    let scenario = Scenario::from_str(text, Format::Toml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let result = synth::simulate(&scenario, 5).unwrap();
    let job = SimulatedJob::of(&result, 0).unwrap();
    let offline = job
        .devices
        .iter()
        .filter(|d| d.outcome == Outcome::Offline)
        .count() as u64;
    assert!((300..500).contains(&offline), "about a fifth: {offline}");
    let history = read_files(&synth::write(&job, Platform::Hub, dir.path()).unwrap()).unwrap();
    let read_offline = history
        .devices
        .iter()
        .filter(|d| d.outcome == Outcome::Offline)
        .count() as u64;
    assert_eq!(
        read_offline, offline,
        "DeviceNotOnline reads back as offline"
    );
    let fleet = scenario.fleet(None).unwrap();
    let c = calibrate(&history, &fleet, &quick(Vec::new())).unwrap();
    assert_eq!(c.left_out.get("offline"), Some(&offline));
    assert!(covers(&c.pooled.failure, 0.05), "{:?}", c.pooled.failure);
    assert!(c
        .notes
        .iter()
        .any(|n| n.contains(&format!("{offline} devices were not online"))));
    let latency = c
        .pooled
        .latency
        .as_ref()
        .expect("answered devices give a latency");
    let [low, high] = latency.median_ms_interval;
    assert!(low <= 2000.0 && 2000.0 <= high, "{latency:?}");
}

/// A segment with too few answers for a distribution of its own gets a log-normal of its
/// partially pooled median (between its own estimate and the other segments') and the pooled
/// sigma; large segments keep their own median almost unchanged.
#[test]
fn a_small_segment_borrows_its_latency_median_from_the_others() {
    let text = r#"
seed = 4
clock_start = "2026-03-01T02:00:00Z"
[fleet]
devices = 1200
id_pattern = "dev-{:05}"
templates = [{ template = "t;1", share = 1.0 }]
tags = [{ name = "fw", values = [{ value = "a", weight = 100 }, { value = "b", weight = 100 }, { value = "c", weight = 100 }, { value = "d", weight = 2 }] }]
[[templates]]
id = "t;1"
properties = [{ name = "p", schema = "double" }]
[[behaviour.rules]]
latency = { type = "lognormal", median_ms = 2000, sigma = 0.5 }
[[behaviour.rules]]
selector = { tags = { fw = "b" } }
latency = { type = "lognormal", median_ms = 3000, sigma = 0.5 }
[[behaviour.rules]]
selector = { tags = { fw = "d" } }
latency = { type = "lognormal", median_ms = 6000, sigma = 0.5 }
[[groups]]
id = "all"
displayName = "all"
[[jobs]]
json = '{"id": "j", "group": "all", "data": [{"type": "PropertyJobData", "target": "t;1", "path": "p", "value": 1.5}]}'
"#;
    let scenario = Scenario::from_str(text, Format::Toml).unwrap();
    let fleet = scenario.fleet(None).unwrap();
    let by = vec![Attribute::parse("tags.fw").unwrap()];
    let c = calibrate(&simulated(&scenario, 3), &fleet, &quick(by)).unwrap();
    assert!(
        c.latency_tau.is_some_and(|t| t > 0.1),
        "{:?}",
        c.latency_tau
    );
    let small = c.segments.iter().find(|s| s.name.contains("= d")).unwrap();
    let l = small.latency.as_ref().unwrap();
    assert!(l.n < 30, "{}", l.n);
    assert_eq!(small.latency_from, "partial");
    let pooled = l.pooled.unwrap();
    assert!(
        pooled.own_weight > 0.0 && pooled.own_weight < 1.0,
        "{pooled:?}"
    );
    assert!(
        pooled.median_ms < l.median_ms,
        "shrunk toward the others: {pooled:?} {l:?}"
    );
    let written = match l.chosen {
        fleet_sim::Distribution::Lognormal { median_ms, sigma } => (median_ms, sigma),
        ref other => panic!("{other:?}"),
    };
    assert_eq!(written.0, pooled.median_ms);
    assert_eq!(written.1, c.pooled.latency.as_ref().unwrap().sigma);
    let big = c.segments.iter().find(|s| s.name.contains("= b")).unwrap();
    let b = big.latency.as_ref().unwrap();
    assert!(b.pooled.unwrap().own_weight > 0.95, "{:?}", b.pooled);
    assert!(render::behaviour_toml(&c, false).contains("its pooled median, the pooled sigma"));
}
