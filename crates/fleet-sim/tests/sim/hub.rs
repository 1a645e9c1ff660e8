//! The hub model: token-bucket throttles, the queueing bound, the concurrent-jobs limit.

use fleet_sim::*;
use serde_json::json;

use crate::common::*;

fn method() -> Operation {
    Operation::DeviceMethod {
        name: "reboot".into(),
        payload: json!({"delay": 0}),
        response_timeout_ms: 30_000,
        connect_timeout_ms: 0,
    }
}

/// The send times (= answer times with zero latency) of job 0's devices, sorted.
pub fn send_times(result: &SimResult) -> Vec<i64> {
    let mut v: Vec<i64> = result
        .events
        .as_ref()
        .unwrap()
        .iter()
        .filter(|e| e.kind == "answer" && e.job == 0)
        .map(|e| e.at_ms)
        .collect();
    v.sort_unstable();
    v
}

/// Checks that no window of sends holds more than the bucket allows: `burst` at once plus
/// `rate` per second (plus one for rounding sends up to whole milliseconds).
pub fn assert_within_bucket(sends: &[i64], rate_per_s: u64) {
    let burst = rate_per_s as i64;
    for (i, &a) in sends.iter().enumerate() {
        for (k, &b) in sends[i..].iter().enumerate() {
            let count = k as i64 + 1;
            let allowed = burst + ((b - a + 1) * rate_per_s as i64).div_euclid(1000) + 1;
            assert!(
                count <= allowed,
                "{count} sends in [{a}, {b}] ms; the bucket allows {allowed}"
            );
        }
    }
}

fn zero_latency() -> BehaviourSpec {
    behaviour(json!({"rules": [{"latency": {"type": "fixed", "ms": 0}}]}))
}

#[test]
fn s1_paces_a_hundred_direct_methods_at_ten_per_second() {
    let r = SimBuilder::new(1)
        .templates(templates())
        .fleet(thermostats(100))
        .behaviour(zero_latency())
        .hub(HubSpec {
            tier: Tier::S1,
            ..HubSpec::default()
        })
        .job(JobSpec::new("m", method()))
        .record_events(true)
        .build()
        .unwrap()
        .run();
    let job = &r.jobs[0];
    assert_eq!(
        job.counts.succeeded, 100,
        "the hub paces its own jobs: nothing is throttled"
    );
    // 10 at once (one second of burst), then one every 100 ms: the last at 9 s.
    assert_eq!(job.duration_ms, Some(9000));
    let sends = send_times(&r);
    assert_eq!(sends.iter().filter(|&&t| t == 0).count(), 10);
    assert_within_bucket(&sends, 10);
}

#[test]
fn twin_updates_queue_up_to_the_bound_then_are_throttled() {
    let r = SimBuilder::new(1)
        .templates(templates())
        .fleet(thermostats(3000))
        .behaviour(zero_latency())
        .hub(HubSpec {
            tier: Tier::S1,
            max_queue_wait_ms: 30_000,
            ..HubSpec::default()
        })
        .job(set_temp("p", 20.0))
        .record_events(true)
        .build()
        .unwrap()
        .run();
    let job = &r.jobs[0];
    // 50 at once, then one every 20 ms up to 30 s: 50 + 1500 sent, the rest throttled.
    assert_eq!(job.counts.succeeded, 1550);
    assert_eq!(job.failure_reasons.get("throttled"), Some(&1450));
    let sends = send_times(&r);
    let ok: Vec<i64> = r
        .events
        .as_ref()
        .unwrap()
        .iter()
        .filter(|e| e.outcome == Some("succeeded"))
        .map(|e| e.at_ms)
        .collect();
    assert_eq!(*ok.iter().max().unwrap(), 30_000);
    assert_eq!(sends.len(), 3000);
    assert_within_bucket(&ok, 50);
}

#[test]
fn commands_cost_one_token_per_4_kb_chunk() {
    // S1, 1 unit: 40 chunks/s. A 10 KB payload is 3 chunks: 13 commands fit the first second's
    // burst of 40 chunks, then one every 75 ms.
    let big = "x".repeat(10_000);
    let r = SimBuilder::new(1)
        .templates(templates())
        .fleet(thermostats(20))
        .behaviour(zero_latency())
        .hub(HubSpec::default())
        .job(JobSpec::new(
            "c",
            Operation::Command {
                name: "reboot".into(),
                payload: json!(big),
                response_timeout_ms: 30_000,
                connect_timeout_ms: 0,
            },
        ))
        .record_events(true)
        .build()
        .unwrap()
        .run();
    let sends = send_times(&r);
    assert_eq!(sends.iter().filter(|&&t| t == 0).count(), 13);
    assert_eq!(sends[13], 50);
    assert_eq!(sends[14], 125);
}

#[test]
fn jobs_over_the_concurrency_limit_wait_for_a_slot() {
    let jobs = || {
        vec![
            set_temp("a", 1.0),
            set_temp("b", 2.0),
            set_temp("c", 3.0).start_ms(500),
        ]
    };
    let build = |tier: Tier| {
        let mut b = SimBuilder::new(1)
            .templates(templates())
            .fleet(thermostats(3))
            .hub(HubSpec {
                tier,
                ..HubSpec::default()
            });
        for j in jobs() {
            b = b.job(j);
        }
        b.build().unwrap().run()
    };
    // S1: one job at a time, in submission order.
    let r = build(Tier::S1);
    let starts: Vec<(Option<i64>, i64)> =
        r.jobs.iter().map(|j| (j.started_ms, j.queued_ms)).collect();
    assert_eq!(
        starts,
        [(Some(0), 0), (Some(1000), 1000), (Some(2000), 1500)]
    );
    assert!(r.jobs.iter().all(|j| j.status == "complete"));
    assert_eq!(r.fleet().reported(0, "temp"), Some(&json!(3.0)));
    // S2: five at once.
    let r = build(Tier::S2);
    let starts: Vec<Option<i64>> = r.jobs.iter().map(|j| j.started_ms).collect();
    assert_eq!(starts, [Some(0), Some(0), Some(500)]);
    // A limit override.
    let r = SimBuilder::new(1)
        .templates(templates())
        .fleet(thermostats(3))
        .hub(HubSpec {
            tier: Tier::S3,
            concurrent_jobs: Some(1),
            ..HubSpec::default()
        })
        .job(set_temp("a", 1.0))
        .job(set_temp("b", 1.0))
        .build()
        .unwrap()
        .run();
    assert_eq!(r.jobs[1].started_ms, Some(1000));
    assert_eq!(r.hub.unwrap().concurrent_jobs, 1);
}
