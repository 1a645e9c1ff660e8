//! The two drivers of the one executor agree: for a generated small scenario, the server's
//! driver (scaled wall-clock time, a store, commands) and the simulator (virtual time, an event
//! queue) give every device the same final state and reason, for a job and for a rerun of its
//! failed devices.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use fleet_core::model::Job;
use fleet_core::DeviceState;
use fleet_sim::SimBuilder;
use proptest::prelude::*;
use serde_json::json;

use super::{Command, Dialect, Driver, DriverConfig};
use crate::state::Shared;
use crate::store::Store;

/// 2026-01-01T00:00:00Z: the scenarios' `clock_start`, where the server's clock starts.
const CLOCK_START_MS: i64 = 1_767_225_600_000;
const DEVICE_TIMEOUT_MS: i64 = 90_000;

/// A generated scenario (JSON), and the IoT Central job run over it.
#[derive(Debug, Clone)]
struct Case {
    scenario: serde_json::Value,
    job: serde_json::Value,
    rerun: bool,
}

fn latency() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (1u32..5_000).prop_map(|ms| json!({"type": "fixed", "ms": ms})),
        (100u32..4_000, 0.05f64..1.0)
            .prop_map(|(m, s)| json!({"type": "lognormal", "median_ms": m, "sigma": s})),
        (100u32..3_000).prop_map(|m| json!({"type": "exponential", "mean_ms": m})),
    ]
}

fn behaviour() -> impl Strategy<Value = serde_json::Value> {
    let connectivity = prop_oneof![
        Just(json!({})),
        (0.0f64..0.4).prop_map(|p| json!({"offline": p})),
        (0.0f64..0.4, 1_000u32..60_000).prop_map(|(p, r)| json!({
            "offline": p, "reconnect": {"type": "uniform", "min_ms": 0, "max_ms": r}
        })),
        (1_000u32..40_000, 500u32..20_000)
            .prop_map(|(u, d)| json!({"flapping": {"mean_up_ms": u, "mean_down_ms": d}})),
    ];
    (
        latency(),
        0.0f64..0.5,
        0.0f64..0.2,
        0.0f64..0.1,
        connectivity,
    )
        .prop_map(|(latency, f, r, c, mut conn)| {
            let rule = conn.as_object_mut().expect("an object");
            rule.insert("latency".into(), latency);
            rule.insert("failure_probability".into(), json!(f));
            rule.insert("reject_probability".into(), json!(r));
            rule.insert("crash_probability".into(), json!(c));
            conn
        })
}

fn job() -> impl Strategy<Value = serde_json::Value> {
    let batch = prop_oneof![
        Just(None),
        (1u32..20).prop_map(|n| Some(json!({"type": "number", "value": n}))),
        (1.0f64..60.0).prop_map(|p| Some(json!({"type": "percentage", "value": p}))),
    ];
    let threshold = prop_oneof![
        Just(None),
        (1.0f64..60.0, any::<bool>())
            .prop_map(|(p, b)| Some(json!({"type": "percentage", "value": p, "batch": b}))),
    ];
    let data = prop_oneof![
        Just(json!({"type": "PropertyJobData", "target": "dtmi:t;1", "path": "p", "value": 5})),
        Just(json!({"type": "CommandJobData", "target": "dtmi:t;1", "path": "reboot"})),
    ];
    (batch, threshold, data).prop_map(|(batch, threshold, data)| {
        let mut job = json!({"group": "all", "data": [data]});
        if let Some(b) = batch {
            job["batch"] = b;
        }
        if let Some(t) = threshold {
            job["cancellationThreshold"] = t;
        }
        job
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        0u64..1_000,
        1u32..80,
        behaviour(),
        any::<bool>(),
        job(),
        any::<bool>(),
    )
        .prop_map(|(seed, devices, rule, s1, job, rerun)| {
            let mut scenario = json!({
                "name": "eq", "seed": seed, "clock_start": "2026-01-01T00:00:00Z",
                "fleet": {"devices": devices, "id_pattern": "d-{:03}",
                          "templates": [{"template": "dtmi:t;1", "share": 1.0}]},
                "templates": [{"id": "dtmi:t;1", "properties": [{"name": "p", "schema": "integer"}],
                               "commands": [{"name": "reboot"}]}],
                "groups": [{"id": "all", "selector": {"template": "dtmi:t;1"}}],
                "behaviour": {"rules": [rule]},
            });
            if s1 {
                scenario["hub"] = json!({"tier": "S1", "max_queue_wait_ms": 2000});
            }
            Case {
                scenario,
                job,
                rerun,
            }
        })
}

/// Per device id: (final state, reason word).
type Outcomes = BTreeMap<String, (DeviceState, Option<&'static str>)>;

/// The server's driver: creates the job at the clock's start, ticks until it settled, then
/// reruns its failed devices (if asked) and ticks until that settled. Returns the outcomes of
/// the job and of the rerun, and when the rerun was created (model time).
fn serve(case: &Case, dir: &std::path::Path) -> (Outcomes, Option<(Outcomes, i64)>) {
    let path = dir.join("scenario.json");
    std::fs::write(&path, case.scenario.to_string()).expect("a temporary file");
    let world = crate::world::World::load(Some(&path)).expect("a valid scenario");
    let (tx, _rx) = crossbeam_channel::unbounded();
    let config = DriverConfig {
        time_scale: 1e9,
        device_timeout_ms: Some(DEVICE_TIMEOUT_MS),
        history_ttl_ms: i64::MAX,
        events_per_commit: 10_000,
    };
    let store = Store::open(None).expect("an in-memory store");
    let mut d = Driver::open(world, store, config, Arc::new(Shared::new(tx))).expect("opens");
    assert_eq!(
        d.now, CLOCK_START_MS,
        "a fresh server starts at clock_start"
    );
    let job: Job = serde_json::from_value(case.job.clone()).expect("a job");
    let (reply, _answer) = tokio::sync::oneshot::channel();
    let create = Command::CreateCentralJob {
        id: "job".into(),
        job: Box::new(job),
        reply,
    };
    // At the driver's time (a tick would first move it to the clock).
    d.command(create).expect("the store answers");
    let first = settle(&mut d, "job");
    if !case.rerun || first.values().all(|(s, _)| !s.is_failure()) {
        return (first, None);
    }
    let at = d.now - CLOCK_START_MS;
    let (reply, _answer) = tokio::sync::oneshot::channel();
    let rerun = Command::Rerun {
        id: "job".into(),
        rerun_id: "job-rerun".into(),
        reply,
    };
    d.command(rerun).expect("the store answers");
    (first, Some((settle(&mut d, "job-rerun"), at)))
}

/// Ticks until run `id` settled; its per-device outcomes.
fn settle(d: &mut Driver, id: &str) -> Outcomes {
    let no = d.index[&(Dialect::Central, id.to_string())];
    for _ in 0..100_000 {
        if d.runs[&no].settled {
            break;
        }
        d.tick(Vec::new(), &AtomicBool::new(false)).expect("a tick");
    }
    assert!(d.runs[&no].settled, "run {id} settles");
    let fleet = d.ctx.model.fleet().clone();
    d.with_state(no, |exec| {
        (0..exec.run().counts().total)
            .map(|t| {
                let state = exec.run().device_state(t);
                let reason = exec.reason(t).map(fleet_sim::Reason::as_str);
                let reason = reason.filter(|_| state.is_failure());
                (fleet.id(exec.device(t)).to_string(), (state, reason))
            })
            .collect()
    })
    .expect("the store answers")
    .expect("the run started")
}

/// The simulator over the same scenario: the job at time 0, the rerun at `rerun_ms`.
fn simulate(case: &Case, rerun_ms: Option<i64>) -> Vec<Outcomes> {
    let mut file = case.scenario.clone();
    file["jobs"] = json!([{
        "id": "job", "device_timeout_s": DEVICE_TIMEOUT_MS / 1000, "json": case.job.to_string()
    }]);
    let scenario =
        fleet_scenario::Scenario::from_str(&file.to_string(), fleet_scenario::Format::Json)
            .expect("a valid scenario");
    let f = &scenario.file;
    let mut sim = SimBuilder::new(f.seed)
        .templates(f.templates.clone())
        .fleet(f.fleet.clone())
        .behaviour(f.behaviour.clone())
        .job(scenario.jobs[0].clone());
    if let Some(hub) = &f.hub {
        sim = sim.hub(hub.clone());
    }
    if let Some(at) = rerun_ms {
        sim = sim.rerun("job", "job-rerun", Some(at));
    }
    let result = sim.build().expect("builds").run();
    (0..result.jobs.len())
        .map(|j| {
            result
                .device_rows(j)
                .map(|r| {
                    let reason = r.reason.map(fleet_sim::Reason::as_str);
                    let reason = reason.filter(|_| r.state.is_failure());
                    (r.id.to_string(), (r.state, reason))
                })
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64).min(64)
    ))]

    /// The server's driver and the simulator give every device the same final state and
    /// reason, for a job and a rerun of its failed devices, over generated fleets, fault mixes,
    /// connectivity, batching, thresholds and hubs.
    #[test]
    fn prop_the_server_and_the_simulator_agree(case in case()) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (served, rerun) = serve(&case, dir.path());
        let simulated = simulate(&case, rerun.as_ref().map(|(_, at)| *at));
        prop_assert_eq!(&served, &simulated[0]);
        match rerun {
            Some((served_rerun, _)) => prop_assert_eq!(&served_rerun, &simulated[1]),
            None => prop_assert_eq!(simulated.len(), 1),
        }
    }
}
