//! Property tests over generated fleets and fault mixes.

use fleet_core::{BatchSize, DeviceState, RetryPolicy, RunBuilder, Threshold};
use fleet_sim::*;
use proptest::prelude::*;
use serde_json::json;

use crate::common::*;
use crate::hub::{assert_within_bucket, send_times};

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    devices: u32,
    failure: f64,
    reject: f64,
    crash: f64,
    offline: f64,
    batch: Option<f64>,
    threshold: Option<(f64, bool)>,
    retries: (u8, u8),
    command: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        0u32..120,
        (0.0..0.4f64, 0.0..0.3f64, 0.0..0.3f64, 0.0..0.5f64),
        proptest::option::of(1.0..100.0f64),
        proptest::option::of((1.0..100.0f64, any::<bool>())),
        (0u8..3, 0u8..3),
        any::<bool>(),
    )
        .prop_map(
            |(
                seed,
                devices,
                (failure, reject, crash, offline),
                batch,
                threshold,
                retries,
                command,
            )| Case {
                seed,
                devices,
                failure,
                reject,
                crash,
                offline,
                batch,
                threshold,
                retries,
                command,
            },
        )
}

fn simulate(c: &Case) -> SimResult {
    let mut run = RunBuilder::new()
        .device_timeout_ms(20_000)
        .retry(RetryPolicy::new(c.retries.0, c.retries.1).unwrap());
    if let Some(b) = c.batch {
        run = run.batch(BatchSize::percentage(b).unwrap());
    }
    if let Some((t, per_batch)) = c.threshold {
        run = run.threshold(Threshold::percentage(t, per_batch).unwrap());
    }
    let op = if c.command {
        Operation::Command {
            name: "reboot".into(),
            payload: json!(null),
            response_timeout_ms: 5000,
            connect_timeout_ms: 3000,
        }
    } else {
        Operation::Property {
            name: "temp".into(),
            value: json!(1.5),
        }
    };
    SimBuilder::new(c.seed)
        .templates(templates())
        .fleet(thermostats(c.devices))
        .behaviour(behaviour(json!({"rules": [{
            "latency": {"type": "lognormal", "median_ms": 1000, "sigma": 1.0},
            "failure_probability": c.failure, "reject_probability": c.reject, "crash_probability": c.crash,
            "offline": c.offline, "reconnect": {"type": "exponential", "mean_ms": 15000},
            "crash_downtime": {"type": "exponential", "mean_ms": 8000}
        }]})))
        .job(JobSpec::new("j", op).run(run))
        .build()
        .unwrap()
        .run()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: ProptestConfig::default().cases.max(256), ..ProptestConfig::default() })]

    #[test]
    fn counts_sum_to_the_total_and_every_run_settles(c in case()) {
        let r = simulate(&c);
        let job = &r.jobs[0];
        let k = job.counts;
        prop_assert_eq!(k.total, c.devices);
        prop_assert_eq!(k.pending + k.in_flight + k.succeeded + k.failed + k.cancelled, k.total);
        // Every device answers or times out (device timeout), so the run settles.
        prop_assert_eq!(k.pending + k.in_flight, 0);
        prop_assert!(job.status == "complete" || job.status == "cancelled", "{}", job.status);
        let batch_sum: u32 = job.batches.iter().map(|b| b.succeeded + b.failed + b.cancelled).sum();
        prop_assert_eq!(batch_sum, k.total);
        let rows: Vec<_> = r.device_rows(0).collect();
        prop_assert_eq!(rows.len() as u32, k.total);
        let succeeded = rows.iter().filter(|d| d.state == DeviceState::Succeeded).count() as u32;
        let failed = rows.iter().filter(|d| d.state.is_failure()).count() as u32;
        prop_assert_eq!((succeeded, failed), (k.succeeded, k.failed));
        prop_assert!(rows.iter().filter(|d| d.state.is_failure()).all(|d| d.reason.is_some()));
        let reasons: u32 = job.failure_reasons.values().sum();
        prop_assert_eq!(reasons, k.failed);
        if let Some(s) = job.series.last() {
            prop_assert_eq!(s.succeeded + s.failed + s.cancelled, k.total);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_hash(c in case()) {
        let a = simulate(&c);
        let b = simulate(&c);
        prop_assert_eq!(a.trace_hash, b.trace_hash);
        prop_assert_eq!(a.jobs[0].counts, b.jobs[0].counts);
    }

    #[test]
    fn the_throttle_is_never_exceeded(
        seed in any::<u64>(),
        tier in prop_oneof![Just(Tier::S1), Just(Tier::S2), Just(Tier::S3)],
        units in 1u32..4,
        devices in 1u32..400,
        twin in any::<bool>(),
    ) {
        let hub = HubSpec { tier, units, ..HubSpec::default() };
        let op = if twin {
            Operation::UpdateTwin { tags: Default::default(), desired: serde_json::from_value(json!({"x": 1})).unwrap() }
        } else {
            Operation::DeviceMethod { name: "reboot".into(), payload: json!(null), response_timeout_ms: 1000, connect_timeout_ms: 0 }
        };
        let r = SimBuilder::new(seed)
            .templates(templates())
            .fleet(thermostats(devices))
            .behaviour(behaviour(json!({"rules": [{"latency": {"type": "fixed", "ms": 0}}]})))
            .hub(hub.clone())
            .record_events(true)
            .job(JobSpec::new("j", op).run(RunBuilder::new().batch(BatchSize::number(7).unwrap())))
            .build()
            .unwrap()
            .run();
        prop_assert_eq!(r.jobs[0].counts.succeeded, devices);
        assert_within_bucket(&send_times(&r), hub.limits().job_device_ops_per_s);
    }
}
