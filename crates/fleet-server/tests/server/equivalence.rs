//! The server and the simulator agree: the same scenario, seed and job (or rerun, or run of a
//! scheduled job) give every device the same final status, over real HTTP. One test per case:
//! a plain job, a rerun, a scheduled job's runs, a throttled S1 hub and a flapping fleet. (A
//! property over generated scenarios compares the two drivers directly:
//! `crates/fleet-server/src/driver/equivalence.rs`.)

use std::collections::BTreeMap;

use fleet_core::model::DeviceStatus;
use serde_json::{json, Value};

use crate::common::*;

/// 2026-01-01T00:00:00Z, the scenarios' `clock_start`: a fresh server's clock starts there.
const CLOCK_START_MS: i64 = 1_767_225_600_000;

/// A scenario of `devices` devices of one template (property `p`, command `reboot`), tagged
/// `fw` 1.2 (a quarter) or 1.3, in group `all`, with `rules` as its behaviour, `extra` TOML
/// (a hub) and `clock_start` 2026-01-01.
fn fleet_text(seed: u64, devices: u32, rules: &str, extra: &str) -> String {
    format!(
        r#"
name = "equivalence"
seed = {seed}
clock_start = "2026-01-01T00:00:00Z"
[fleet]
devices = {devices}
id_pattern = "dev-{{:04}}"
templates = [{{ template = "dtmi:t;1", share = 1.0 }}]
tags = [{{ name = "fw", values = [{{ value = "1.2", weight = 1 }}, {{ value = "1.3", weight = 3 }}] }}]
[[templates]]
id = "dtmi:t;1"
properties = [{{ name = "p", schema = "integer" }}]
commands = [{{ name = "reboot" }}]
[[groups]]
id = "all"
selector = {{ template = "dtmi:t;1" }}
{rules}
{extra}
"#
    )
}

const RANDOM_FAULTS: &str = r#"
[[behaviour.rules]]
latency = { type = "lognormal", median_ms = 2000, sigma = 0.5 }
failure_probability = 0.15
reject_probability = 0.02
[[behaviour.rules]]
selector = { tags = { fw = "1.2" } }
failure_probability = 0.3
"#;

fn property_job() -> Value {
    json!({"group": "all", "batch": {"type": "percentage", "value": 20},
        "data": [{"type": "PropertyJobData", "target": "dtmi:t;1", "path": "p", "value": 5}]})
}

fn command_job() -> Value {
    json!({"group": "all", "batch": {"type": "number", "value": 25},
        "data": [{"type": "CommandJobData", "target": "dtmi:t;1", "path": "reboot"}]})
}

/// Device id -> IoT Central device status word.
type Statuses = BTreeMap<String, String>;

/// What the simulator gives: per job of the result (jobs, reruns, runs of schedules), the
/// statuses of its devices, by job id.
fn simulate(
    text: &str,
    jobs: &[(&str, Value, i64)],
    reruns: &[(&str, &str)],
) -> BTreeMap<String, Statuses> {
    let mut scenario =
        fleet_scenario::Scenario::from_str(text, fleet_scenario::Format::Toml).unwrap();
    for (id, job, start_ms) in jobs {
        let entry = format!(
            "[[jobs]]\nid = \"{id}\"\nstart_after_s = {}\njson = '''{job}'''\n",
            *start_ms as f64 / 1000.0
        );
        let with = format!("{text}\n{entry}");
        let one = fleet_scenario::Scenario::from_str(&with, fleet_scenario::Format::Toml).unwrap();
        scenario.jobs.extend(one.jobs);
        scenario.scheduled.extend(one.scheduled);
    }
    let f = &scenario.file;
    let mut sim = fleet_sim::SimBuilder::new(f.seed)
        .templates(f.templates.clone())
        .fleet(f.fleet.clone())
        .behaviour(f.behaviour.clone())
        .clock_start_ms(scenario.clock_start_ms);
    if let Some(hub) = &f.hub {
        sim = sim.hub(hub.clone());
    }
    for job in &scenario.jobs {
        sim = sim.job(job.clone());
    }
    for s in &scenario.scheduled {
        sim = sim.scheduled(s.clone());
    }
    for (job, id) in reruns {
        sim = sim.rerun(*job, *id, None);
    }
    let result = sim.build().unwrap().run();
    (0..result.jobs.len())
        .map(|j| {
            let statuses = result
                .device_rows(j)
                .map(|r| {
                    (
                        r.id.to_string(),
                        DeviceStatus::from(r.state).as_str().to_string(),
                    )
                })
                .collect();
            (result.jobs[j].id.clone(), statuses)
        })
        .collect()
}

/// The statuses of job `id`'s devices on the server, once it is complete.
async fn served(s: &TestServer, id: &str) -> Statuses {
    s.wait_for(&format!("/api/jobs/{id}?{CV}"), "status", &["complete"])
        .await;
    collect_central(s, &format!("/api/jobs/{id}/devices?{CV}"))
        .await
        .into_iter()
        .map(|d| {
            let id = d["id"].as_str().unwrap().to_string();
            (id, d["status"].as_str().unwrap().to_string())
        })
        .collect()
}

/// When the server started job `id`, in ms after `clock_start`.
async fn started_ms(s: &TestServer, id: &str) -> i64 {
    let job = s.get(&format!("/api/jobs/{id}?{CV}")).await.body;
    let start: jiff::Timestamp = job["start"].as_str().unwrap().parse().unwrap();
    start.as_millisecond() - CLOCK_START_MS
}

fn failed(statuses: &Statuses) -> usize {
    statuses.values().filter(|s| *s == "failed").count()
}

async fn serve(dir: &std::path::Path, text: &str, time_scale: f64) -> TestServer {
    let path = crate::common::scenario(dir, text);
    start(config().scenario(&path).time_scale(time_scale)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_job_ends_the_same_on_every_device() {
    let text = fleet_text(11, 200, RANDOM_FAULTS, "");
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &text, 1000.0).await;
    assert_eq!(
        s.put(&format!("/api/jobs/eq?{CV}"), property_job())
            .await
            .status,
        200
    );
    let on_server = served(&s, "eq").await;
    s.stop().await;
    let sim = simulate(&text, &[("eq", property_job(), 0)], &[]);
    assert_eq!(on_server.len(), 200);
    assert!(failed(&on_server) > 20, "the fault mix fails some devices");
    assert_eq!(on_server, sim["eq"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_ends_the_same_and_draws_new_fates() {
    let text = fleet_text(4, 300, RANDOM_FAULTS, "");
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &text, 1000.0).await;
    assert_eq!(
        s.put(&format!("/api/jobs/eq?{CV}"), property_job())
            .await
            .status,
        200
    );
    let first = served(&s, "eq").await;
    let r = s
        .put(&format!("/api/jobs/eq/rerun/eq-again?{CV}"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rerun = served(&s, "eq-again").await;
    s.stop().await;
    let sim = simulate(&text, &[("eq", property_job(), 0)], &[("eq", "eq-again")]);
    assert_eq!(first, sim["eq"]);
    assert_eq!(rerun, sim["eq-again"]);
    // The rerun's targets are the failed devices, and it fails only some of them again.
    assert_eq!(rerun.len(), failed(&first));
    assert!(
        failed(&rerun) > 0 && failed(&rerun) * 2 < rerun.len(),
        "{rerun:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runs_of_a_scheduled_job_end_the_same() {
    let text = fleet_text(8, 120, RANDOM_FAULTS, "");
    let dir = tempfile::tempdir().unwrap();
    // A virtual day is 0.86 s of wall time; the first run is a day after the server starts.
    let s = serve(dir.path(), &text, 100_000.0).await;
    let schedule = json!({"start": "2026-01-02T00:00:00Z", "recurrence": "daily",
        "end": {"type": "occurrences", "occurrences": 3}});
    let mut job = property_job();
    job["schedule"] = schedule;
    job["enabled"] = json!(true);
    job["displayName"] = json!("Nightly");
    let r = s
        .put(&format!("/api/scheduledJobs/nightly?{CV}"), job.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut runs = Vec::new();
    for k in 1..=3 {
        runs.push(served(&s, &format!("nightly-{k}")).await);
    }
    s.stop().await;
    let sim = simulate(&text, &[("nightly", job, 0)], &[]);
    for (k, run) in runs.iter().enumerate() {
        assert_eq!(run, &sim[&format!("nightly-{}", k + 1)], "run {}", k + 1);
    }
    // Each run draws its own fates.
    assert_ne!(runs[0], runs[1]);
    assert_ne!(runs[1], runs[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_throttled_by_an_s1_hub_ends_the_same() {
    // S1: 50 twin updates per second, queued at most 2 s: most of 2,000 updates are throttled.
    let hub = "[hub]\ntier = \"S1\"\nunits = 1\nmax_queue_wait_ms = 2000\n";
    let text = fleet_text(2, 2_000, RANDOM_FAULTS, hub);
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &text, 1000.0).await;
    assert_eq!(
        s.put(&format!("/api/jobs/eq?{CV}"), property_job())
            .await
            .status,
        200
    );
    let on_server = served(&s, "eq").await;
    s.stop().await;
    let sim = simulate(&text, &[("eq", property_job(), 0)], &[]);
    assert!(
        failed(&on_server) > 1_000,
        "most are throttled: {}",
        failed(&on_server)
    );
    assert_eq!(on_server, sim["eq"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_fleet_ends_the_same() {
    // Up 20 s, down 10 s on average: a command finds a third of the devices offline, and which
    // ones depends on when each batch is dispatched.
    let rules = r#"
[[behaviour.rules]]
latency = { type = "lognormal", median_ms = 1500, sigma = 0.4 }
failure_probability = 0.02
flapping = { mean_up_ms = 20_000, mean_down_ms = 10_000 }
"#;
    let text = fleet_text(6, 400, rules, "");
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &text, 1000.0).await;
    assert_eq!(
        s.put(&format!("/api/jobs/eq?{CV}"), command_job())
            .await
            .status,
        200
    );
    let on_server = served(&s, "eq").await;
    // The simulator's job starts at the same instant of the fleet's timeline.
    let start_ms = started_ms(&s, "eq").await;
    s.stop().await;
    assert!(start_ms >= 0);
    let sim = simulate(&text, &[("eq", command_job(), start_ms)], &[]);
    let offline = failed(&on_server);
    assert!(
        (60..240).contains(&offline),
        "about a third offline: {offline}"
    );
    assert_eq!(on_server, sim["eq"]);
    // Started elsewhere on the timeline, the same job fails other devices.
    let shifted = simulate(&text, &[("eq", command_job(), start_ms + 45_000)], &[]);
    assert_ne!(on_server, shifted["eq"]);
}
