//! The rollout policies of AWS IoT Jobs and hawkBit in the simulator: the dispatch timer, abort
//! trips, gate pauses and the trigger-next-batch command (`docs/semantics.md` sections 13-16).

use fleet_core::{
    AbortCriterion, BatchSize, FailureType, GatePercent, GroupGate, RunBuilder, SuccessAction,
    SuccessCondition,
};
use fleet_sim::*;
use serde_json::json;

use crate::common::*;

fn sim(n: u32, behaviour_json: serde_json::Value, job: JobSpec) -> SimBuilder {
    SimBuilder::new(7)
        .templates(templates())
        .fleet(thermostats(n))
        .behaviour(behaviour(behaviour_json))
        .record_events(true)
        .job(job)
}

fn answers(r: &SimResult) -> Vec<i64> {
    r.events
        .as_ref()
        .unwrap()
        .iter()
        .filter(|e| e.kind == "answer")
        .map(|e| e.at_ms)
        .collect()
}

#[test]
fn a_rate_paces_dispatches_with_dispatch_timers() {
    // 10 devices, 3 per minute, answers after 1 s: dispatches at 0, 60, 120 and 180 s.
    let job = set_temp("j", 21.0).run(RunBuilder::new().max_per_minute(3));
    let r = sim(
        10,
        json!({"rules": [{"latency": {"type": "fixed", "ms": 1000}}]}),
        job,
    )
    .build()
    .unwrap()
    .run();
    let job = &r.jobs[0];
    assert_eq!(job.status, "complete");
    assert_eq!(job.counts.succeeded, 10);
    let mut want = Vec::new();
    for (minute, n) in [(0, 3), (1, 3), (2, 3), (3, 1)] {
        want.extend(std::iter::repeat_n(minute * 60_000 + 1_000, n));
    }
    assert_eq!(answers(&r), want);
    let timers = r
        .events
        .as_ref()
        .unwrap()
        .iter()
        .filter(|e| e.kind == "dispatch_timer")
        .count();
    assert_eq!(timers, 3);
    assert_eq!(job.finished_ms, Some(181_000));
}

#[test]
fn a_job_document_reaches_offline_devices_when_they_reconnect() {
    let job = JobSpec::new(
        "aws",
        Operation::JobDocument {
            document: json!({"operation": "upgrade"}),
        },
    );
    let r = sim(
        4,
        json!({"rules": [
            {"latency": {"type": "fixed", "ms": 500}},
            {"offline": true, "reconnect": {"type": "fixed", "ms": 10000}, "selector": {"tags": {}}}
        ]}),
        job,
    )
    .build()
    .unwrap()
    .run();
    let job = &r.jobs[0];
    assert_eq!(job.operation, "job_document");
    assert_eq!(job.status, "complete");
    assert_eq!(answers(&r), [10_500; 4]);
}

#[test]
fn an_abort_criterion_cancels_the_job_and_is_reported() {
    let run = RunBuilder::new()
        .batch(BatchSize::number(5).unwrap())
        .abort(AbortCriterion::new(FailureType::Failed, 50.0, 4).unwrap());
    let r = sim(
        20,
        json!({"rules": [{"latency": {"type": "fixed", "ms": 100}, "failure_probability": 1.0}]}),
        set_temp("j", 21.0).run(run),
    )
    .build()
    .unwrap()
    .run();
    let job = &r.jobs[0];
    assert_eq!(job.status, "cancelled");
    let trip = job.abort_trip.expect("the criterion tripped");
    assert_eq!((trip.criterion, trip.failure_type), (0, "FAILED"));
    assert_eq!((trip.executed, trip.failures, trip.batch), (4, 4, 0));
    assert_eq!(job.counts.cancelled, 15);
    assert!(job.threshold_trip.is_none());
}

#[test]
fn a_gate_pauses_and_a_scheduled_trigger_goes_on() {
    let gate = GroupGate {
        success: Some(SuccessCondition {
            threshold: GatePercent::new(100.0).unwrap(),
            action: SuccessAction::Pause,
        }),
        error: None,
    };
    let run = RunBuilder::new()
        .batch(BatchSize::groups(2).unwrap())
        .gate(gate);
    let r = sim(
        6,
        json!({"rules": [{"latency": {"type": "fixed", "ms": 1000}}]}),
        set_temp("j", 21.0).run(run),
    )
    .command(30_000, "j", JobCommand::TriggerNextBatch)
    .command(30_500, "j", JobCommand::TriggerNextBatch)
    .build()
    .unwrap()
    .run();
    let job = &r.jobs[0];
    assert_eq!(job.status, "complete");
    assert_eq!(job.pauses.len(), 1);
    assert_eq!(
        (
            job.pauses[0].batch,
            job.pauses[0].at_ms,
            job.pauses[0].reason
        ),
        (0, 1_000, "success_reached")
    );
    let starts: Vec<Option<i64>> = job.batches.iter().map(|b| b.started_ms).collect();
    assert_eq!(starts, [Some(0), Some(30_000)]);
    // The second trigger finds no batch left to start and is refused.
    let errors: Vec<Option<&str>> = job.commands.iter().map(|c| c.error.as_deref()).collect();
    assert_eq!(errors[0], None);
    assert!(errors[1].unwrap().contains("no batch left"), "{errors:?}");
    assert_eq!(job.commands[0].command, "trigger_next_batch");
}

#[test]
fn the_paused_status_word_is_reported() {
    let gate = GroupGate {
        success: None,
        error: Some(GatePercent::new(0.0).unwrap()),
    };
    let run = RunBuilder::new()
        .batch(BatchSize::groups(2).unwrap())
        .gate(gate);
    let r = sim(
        4,
        json!({"rules": [{"latency": {"type": "fixed", "ms": 100}, "failure_probability": 1.0}]}),
        set_temp("j", 21.0).run(run),
    )
    .build()
    .unwrap()
    .run();
    // Batch 0 fails and pauses the run; nobody resumes it.
    let job = &r.jobs[0];
    assert_eq!(job.status, "paused");
    assert_eq!(job.counts.failed, 2);
    assert_eq!(job.counts.pending, 2);
    assert_eq!(job.pauses[0].reason, "error_condition");
}
