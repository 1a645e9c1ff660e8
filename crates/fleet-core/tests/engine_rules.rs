//! One or more worked examples per rule of `docs/semantics.md`, with the exact actions, counts
//! and statuses the engine must produce. The section numbers in the test names follow the doc.
//!
//! The tables of the doc marked `<!-- checked: ... -->` are parsed and checked by the
//! `doc_tables_*` tests at the end, so the doc cannot drift from the engine.

use fleet_core::model::AwsExecutionStatus;
use fleet_core::schedule::{MaintenanceWindow, MaintenanceWindows};
use fleet_core::{
    AbortCriterion, AbortTrip, Action, BatchPlan, BatchSize, Counts, DeviceState, ErrorKind,
    ExponentialRamp, FailureType, GatePercent, GroupGate, Input, JobRun, Outcome, Pause,
    PauseReason, RampCriterion, RetryPolicy, RunBuilder, RunStatus, SuccessAction,
    SuccessCondition, Targets, Threshold, ThresholdTrip, Timer,
};

// ----- harness -----

/// A run, a clock and the log of everything the run asked for.
struct H {
    run: JobRun,
    now: i64,
}

impl H {
    fn new(builder: RunBuilder, targets: u32) -> Self {
        Self {
            run: builder.build(targets).expect("valid configuration"),
            now: 0,
        }
    }

    /// Sets the clock (never backwards).
    fn at(&mut self, now: i64) -> &mut Self {
        assert!(now >= self.now);
        self.now = now;
        self
    }

    fn try_step(&mut self, input: Input) -> Result<Vec<Action>, fleet_core::Error> {
        let mut actions = Vec::new();
        self.run.handle(self.now, input, &mut actions)?;
        assert!(self.run.counts().is_consistent());
        Ok(actions)
    }

    fn step(&mut self, input: Input) -> Vec<Action> {
        self.try_step(input)
            .unwrap_or_else(|e| panic!("{input:?} refused: {e}"))
    }

    fn start(&mut self) -> Vec<Action> {
        self.step(Input::Start)
    }

    /// The outcome of the device's current attempt.
    fn out(&mut self, device: u32, outcome: Outcome) -> Vec<Action> {
        let attempt = self.run.attempts(device);
        self.step(Input::Outcome {
            device,
            attempt,
            outcome,
        })
    }

    fn ok(&mut self, device: u32) -> Vec<Action> {
        self.out(device, Outcome::Succeeded)
    }

    fn fail(&mut self, device: u32) -> Vec<Action> {
        self.out(device, Outcome::Failed)
    }

    /// Refuses `input` with an error and leaves the run exactly as it was.
    fn refuse(&mut self, input: Input) -> ErrorKind {
        let before = Snapshot::of(&self.run);
        let mut actions = Vec::new();
        let err = self
            .run
            .handle(self.now, input, &mut actions)
            .expect_err("the input must be refused");
        assert!(actions.is_empty(), "a refused input asks for nothing");
        assert_eq!(
            Snapshot::of(&self.run),
            before,
            "a refused input changes nothing"
        );
        err.kind().clone()
    }

    fn status(&self) -> RunStatus {
        self.run.status()
    }

    fn counts(&self) -> (u32, u32, u32, u32, u32) {
        let c = self.run.counts();
        (c.pending, c.in_flight, c.succeeded, c.failed, c.cancelled)
    }

    fn states(&self) -> Vec<DeviceState> {
        self.run.device_states().to_vec()
    }
}

/// Everything observable about a run.
#[derive(Debug, PartialEq)]
struct Snapshot {
    status: RunStatus,
    counts: Counts,
    states: Vec<DeviceState>,
    attempts: Vec<u8>,
    batches: Vec<fleet_core::BatchStats>,
    current_batch: Option<u32>,
    trip: Option<ThresholdTrip>,
    abort: Option<AbortTrip>,
    pauses: Vec<Pause>,
    dispatch_timer: Option<i64>,
    window_timer: Option<i64>,
    window_waits: u32,
    started: Option<i64>,
    finished: Option<i64>,
}

impl Snapshot {
    fn of(run: &JobRun) -> Self {
        Self {
            status: run.status(),
            counts: run.counts(),
            states: run.device_states().to_vec(),
            attempts: (0..run.counts().total).map(|d| run.attempts(d)).collect(),
            batches: run.batches().to_vec(),
            current_batch: run.current_batch(),
            trip: run.threshold_trip(),
            abort: run.abort_trip(),
            pauses: run.pauses().to_vec(),
            dispatch_timer: run.dispatch_timer(),
            window_timer: run.window_timer(),
            window_waits: run.window_waits(),
            started: run.started_ms(),
            finished: run.finished_ms(),
        }
    }
}

fn dispatch(device: u32, attempt: u8) -> Action {
    Action::Dispatch { device, attempt }
}

fn dispatched(actions: &[Action]) -> Vec<u32> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dispatch { device, .. } => Some(*device),
            _ => None,
        })
        .collect()
}

fn pct_batch(p: f64) -> BatchSize {
    BatchSize::percentage(p).unwrap()
}

fn num_batch(n: u32) -> BatchSize {
    BatchSize::number(n).unwrap()
}

fn sizes(total: u32, batch: Option<BatchSize>) -> Vec<u32> {
    BatchPlan::new(total, batch).sizes().collect()
}

use DeviceState::{
    Cancelled as C, Failed as F, InFlight as I, Pending as P, Rejected as R, Succeeded as S,
    TimedOut as T,
};

// ===== 1. Targets are a snapshot =====

#[test]
fn r1_targets_are_sorted_bytewise_and_deduplicated() {
    let targets = Targets::new(["dev-2", "dev-10", "Dev-3", "dev-1", "dev-2"]);
    // Byte-wise order: upper case before lower case, "dev-10" before "dev-2".
    assert_eq!(
        targets.iter().collect::<Vec<_>>(),
        ["Dev-3", "dev-1", "dev-10", "dev-2"]
    );
    assert_eq!(targets.len(), 4);
    assert_eq!(targets.index_of("dev-10"), Some(2));
    assert_eq!(targets.index_of("dev-3"), None);
    // With batches of 2: batch 0 is Dev-3, dev-1; batch 1 is dev-10, dev-2.
    let plan = BatchPlan::new(targets.len(), Some(num_batch(2)));
    let batch = |k| plan.range(k).map(|d| targets.id(d)).collect::<Vec<_>>();
    assert_eq!(batch(0), ["Dev-3", "dev-1"]);
    assert_eq!(batch(1), ["dev-10", "dev-2"]);
}

#[test]
fn r1_batches_are_consecutive_slices_of_the_target_order() {
    let targets = Targets::new(["c", "a", "e", "b", "d"]);
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), targets.len());
    let first = dispatched(&h.start());
    let ids: Vec<&str> = first.iter().map(|&d| targets.id(d)).collect();
    assert_eq!(ids, ["a", "b"]);
    h.ok(0);
    let second = dispatched(&h.ok(1));
    let ids: Vec<&str> = second.iter().map(|&d| targets.id(d)).collect();
    assert_eq!(ids, ["c", "d"]);
    h.ok(2);
    let third = dispatched(&h.ok(3));
    assert_eq!(
        third.iter().map(|&d| targets.id(d)).collect::<Vec<_>>(),
        ["e"]
    );
}

#[test]
fn r1_the_snapshot_does_not_follow_its_source() {
    let mut group = vec!["therm-01".to_string(), "therm-02".to_string()];
    let targets = Targets::new(group.clone());
    group.push("therm-03".into()); // joins the group after the run started
    let run = RunBuilder::new().build(targets.len()).unwrap();
    assert_eq!(run.counts().total, 2);
    assert_eq!(targets.index_of("therm-03"), None);
}

// ===== 2. Batch size =====

#[test]
fn r2_percentage_batches() {
    assert_eq!(sizes(7, Some(pct_batch(25.0))), [2, 2, 2, 1]);
    assert_eq!(sizes(10, Some(pct_batch(30.0))), [3, 3, 3, 1]);
    assert_eq!(sizes(1000, Some(pct_batch(33.0))), [330, 330, 330, 10]);
    // At least one device per batch.
    assert_eq!(sizes(3, Some(pct_batch(10.0))), [1, 1, 1]);
    assert_eq!(sizes(5, Some(pct_batch(100.0))), [5]);
}

#[test]
fn r2_percentages_are_exact_to_six_decimals() {
    // 0.07 * 10000 / 100 is 7.000000000000001 in f64; a float ceil would give 8.
    assert_eq!(BatchPlan::new(10_000, Some(pct_batch(0.07))).size(), 7);
    assert_eq!(BatchPlan::new(1000, Some(pct_batch(0.1))).size(), 1);
    assert_eq!(BatchPlan::new(1001, Some(pct_batch(0.1))).size(), 2);
    assert_eq!(BatchPlan::new(3, Some(pct_batch(33.333333))).size(), 1);
    assert_eq!(BatchPlan::new(3, Some(pct_batch(33.333334))).size(), 2);
    // More than six decimals are rounded to six.
    assert_eq!(
        BatchPlan::new(3, Some(pct_batch(33.3333334))).size(),
        BatchPlan::new(3, Some(pct_batch(33.333333))).size()
    );
}

#[test]
fn r2_number_batches() {
    assert_eq!(sizes(5, Some(num_batch(2))), [2, 2, 1]);
    assert_eq!(sizes(5, Some(num_batch(50))), [5]);
    assert_eq!(sizes(6, Some(num_batch(3))), [3, 3]);
}

#[test]
fn r2_no_batch_is_one_batch_of_all() {
    assert_eq!(sizes(5, None), [5]);
    assert_eq!(sizes(0, None), Vec::<u32>::new());
    assert_eq!(sizes(0, Some(pct_batch(10.0))), Vec::<u32>::new());
    let mut h = H::new(RunBuilder::new(), 3);
    assert_eq!(
        h.start(),
        [
            Action::Status(RunStatus::Running),
            Action::BatchStarted { batch: 0 },
            dispatch(0, 1),
            dispatch(1, 1),
            dispatch(2, 1),
        ]
    );
}

#[test]
fn r2_out_of_range_values_are_rejected_not_clamped() {
    for p in [
        0.0,
        -5.0,
        100.000001,
        150.0,
        f64::NAN,
        f64::INFINITY,
        0.0000001,
    ] {
        let err = BatchSize::percentage(p).expect_err("rejected");
        assert!(matches!(err.kind(), ErrorKind::BatchOutOfRange(_)), "{p}");
        let err = Threshold::percentage(p, false).expect_err("rejected");
        assert!(
            matches!(err.kind(), ErrorKind::ThresholdOutOfRange(_)),
            "{p}"
        );
    }
    assert!(matches!(
        BatchSize::number(0).unwrap_err().kind(),
        ErrorKind::BatchOutOfRange(_)
    ));
    assert!(matches!(
        Threshold::number(0, true).unwrap_err().kind(),
        ErrorKind::ThresholdOutOfRange(_)
    ));
    // The edges themselves are accepted.
    assert!(BatchSize::percentage(100.0).is_ok());
    assert!(BatchSize::percentage(0.000001).is_ok());
    assert!(BatchSize::number(1).is_ok());
    // Durations must be positive, retries at most 10.
    for bad in [0, -1] {
        let err = RunBuilder::new()
            .max_execution_ms(bad)
            .build(1)
            .unwrap_err();
        assert_eq!(err.path(), Some("max_execution_ms"));
        let err = RunBuilder::new()
            .device_timeout_ms(bad)
            .build(1)
            .unwrap_err();
        assert_eq!(err.path(), Some("device_timeout_ms"));
    }
    assert!(RetryPolicy::new(10, 10).is_ok());
    assert!(RetryPolicy::new(11, 0).is_err());
    assert!(RetryPolicy::new(0, 11).is_err());
}

// ===== 3. Batches run in sequence =====

#[test]
fn r3_next_batch_starts_when_every_device_of_the_previous_is_terminal() {
    // N = 7, batch 25 %: batches {0,1} {2,3} {4,5} {6}.
    let mut h = H::new(RunBuilder::new().batch(pct_batch(25.0)), 7);
    assert_eq!(
        h.at(1_000).start(),
        [
            Action::Status(RunStatus::Running),
            Action::BatchStarted { batch: 0 },
            dispatch(0, 1),
            dispatch(1, 1),
        ]
    );
    assert_eq!(h.run.current_batch(), Some(0));
    // Device 0 succeeds: device 1 is still in flight, so nothing starts.
    assert_eq!(h.at(2_000).ok(0), []);
    // Device 1 fails: batch 0 is done (a failure is terminal too); batch 1 starts.
    assert_eq!(
        h.at(3_000).fail(1),
        [
            Action::BatchFinished { batch: 0 },
            Action::BatchStarted { batch: 1 },
            dispatch(2, 1),
            dispatch(3, 1),
        ]
    );
    assert_eq!(h.run.current_batch(), Some(1));
    assert_eq!(h.counts(), (3, 2, 1, 1, 0));
    let b0 = h.run.batches()[0];
    assert_eq!((b0.started_ms, b0.finished_ms), (Some(1_000), Some(3_000)));
    assert_eq!((b0.succeeded, b0.failed, b0.cancelled), (1, 1, 0));
}

#[test]
fn r3_a_run_with_batches_completes_after_its_last_batch() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 3);
    h.start();
    h.ok(0);
    h.ok(1);
    assert_eq!(
        h.out(2, Outcome::Rejected),
        [
            Action::BatchFinished { batch: 1 },
            Action::Status(RunStatus::Complete)
        ]
    );
    assert_eq!(h.states(), [S, S, R]);
    assert_eq!(h.run.current_batch(), None);
    assert!(h.run.is_settled());
}

// ===== 4. Cancellation threshold =====

#[test]
fn r4_job_wide_threshold_counts_failures_of_all_batches() {
    // N = 20, batches of 5, threshold 10 % of all targets: limit ceil(10 * 20 / 100) = 2.
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(5))
            .threshold(Threshold::percentage(10.0, false).unwrap()),
        20,
    );
    h.start();
    h.fail(0); // 1 failure: below the limit
    for d in 1..5 {
        h.ok(d);
    }
    assert_eq!(h.run.current_batch(), Some(1));
    h.ok(5);
    // Second failure of the run: the limit is reached in batch 1.
    let actions = h.at(7_000).out(6, Outcome::TimedOut);
    assert_eq!(actions, [Action::Status(RunStatus::Cancelled)]);
    assert_eq!(
        h.run.threshold_trip(),
        Some(ThresholdTrip {
            batch: 1,
            at_ms: 7_000,
            failures: 2,
            limit: 2
        })
    );
    // Batches 2 and 3 are never dispatched: cancelled. Devices 7, 8, 9 are still in flight.
    assert_eq!(h.counts(), (0, 3, 5, 2, 10));
    assert!(!h.run.is_settled());
    // In-flight devices finish and record their real outcome; nothing is dispatched.
    assert_eq!(h.ok(7), []);
    assert_eq!(h.fail(8), []); // a third failure does not re-trip
    assert_eq!(h.run.threshold_trip().unwrap().failures, 2);
    assert_eq!(h.at(9_000).ok(9), [Action::BatchFinished { batch: 1 }]);
    assert_eq!(h.status(), RunStatus::Cancelled);
    assert_eq!(h.counts(), (0, 0, 7, 3, 10));
    assert!(h.run.is_settled());
    assert_eq!(h.run.finished_ms(), Some(9_000));
}

#[test]
fn r4_per_batch_threshold_counts_failures_of_the_current_batch() {
    // N = 7, batch 25 % (2, 2, 2, 1), cancel when 2 devices of one batch fail.
    let mut h = H::new(
        RunBuilder::new()
            .batch(pct_batch(25.0))
            .threshold(Threshold::number(2, true).unwrap()),
        7,
    );
    h.start();
    h.ok(0);
    h.fail(1); // batch 0: 1 failure
    h.fail(2); // batch 1: 1 failure (batch 0's failure does not count here)
    assert_eq!(h.status(), RunStatus::Running);
    let actions = h.out(3, Outcome::Rejected); // batch 1: 2 failures
    assert_eq!(
        actions,
        [
            Action::Status(RunStatus::Cancelled),
            Action::BatchFinished { batch: 1 }
        ]
    );
    assert_eq!(h.run.threshold_trip().unwrap().batch, 1);
    assert_eq!(h.states(), [S, F, F, R, C, C, C]);
    assert_eq!(h.counts(), (0, 0, 1, 3, 3));
    assert!(h.run.is_settled());
}

#[test]
fn r4_per_batch_percentage_uses_the_size_of_the_batch() {
    // N = 7, batch 25 %, threshold 50 % per batch: limit ceil(50 * 2 / 100) = 1 for the batches
    // of 2, and ceil(50 * 1 / 100) = 1 for the last batch of 1.
    let t = Threshold::percentage(50.0, true).unwrap();
    assert_eq!((t.limit(2), t.limit(1)), (1, 1));
    // N = 40, batch 25 % (10 each), threshold 25 % per batch: limit 3.
    let mut h = H::new(
        RunBuilder::new()
            .batch(pct_batch(25.0))
            .threshold(Threshold::percentage(25.0, true).unwrap()),
        40,
    );
    h.start();
    h.fail(0);
    h.fail(1);
    assert_eq!(h.status(), RunStatus::Running);
    h.fail(2);
    assert_eq!(h.status(), RunStatus::Cancelled);
    assert_eq!(h.run.threshold_trip().unwrap().limit, 3);
    assert_eq!(h.counts(), (0, 7, 0, 3, 30));
}

#[test]
fn r4_a_limit_above_the_base_never_trips() {
    // Per-batch limit 3 with batches of 2: even a batch where every device fails stays below.
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(2))
            .threshold(Threshold::number(3, true).unwrap()),
        4,
    );
    h.start();
    for d in 0..4 {
        h.fail(d);
    }
    assert_eq!(h.status(), RunStatus::Complete);
    assert_eq!(h.run.threshold_trip(), None);
    assert_eq!(h.counts(), (0, 0, 0, 4, 0));
}

#[test]
fn r4_percentage_limit_is_at_least_one() {
    // 1 % of 7 targets is 0.07: the limit is 1, so the first failure cancels.
    let t = Threshold::percentage(1.0, false).unwrap();
    assert_eq!(t.limit(7), 1);
    let mut h = H::new(RunBuilder::new().threshold(t), 7);
    h.start();
    h.fail(3);
    assert_eq!(h.status(), RunStatus::Cancelled);
    assert_eq!(h.counts(), (0, 6, 0, 1, 0));
}

#[test]
fn r4_the_trip_stops_the_next_batch_even_when_its_batch_is_done() {
    // The tripping failure is also the last device of batch 0: batch 1 never starts.
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(2))
            .threshold(Threshold::number(1, false).unwrap()),
        4,
    );
    h.start();
    h.ok(0);
    assert_eq!(
        h.fail(1),
        [
            Action::Status(RunStatus::Cancelled),
            Action::BatchFinished { batch: 0 }
        ]
    );
    assert_eq!(h.states(), [S, F, C, C]);
    assert_eq!(h.run.batches()[1].started_ms, None);
}

#[test]
fn r4_a_retried_failure_counts_only_when_it_is_final() {
    // One retry after a failure, threshold 1 failure: the first failure is retried, not counted.
    let mut h = H::new(
        RunBuilder::new()
            .threshold(Threshold::number(1, false).unwrap())
            .retry(RetryPolicy::new(1, 0).unwrap()),
        2,
    );
    h.start();
    assert_eq!(h.fail(0), [dispatch(0, 2)]);
    assert_eq!(h.status(), RunStatus::Running);
    assert_eq!(h.fail(0), [Action::Status(RunStatus::Cancelled)]);
    assert_eq!(h.run.threshold_trip().unwrap().failures, 1);
    // Device 1 was in flight: it finishes; its failure is not retried after the cancel.
    assert_eq!(h.fail(1), [Action::BatchFinished { batch: 0 }]);
    assert_eq!(h.states(), [F, F]);
    assert_eq!(h.run.attempts(1), 1);
}

#[test]
fn r4_a_trip_while_stopped_cancels_the_devices_waiting_for_a_retry() {
    let mut h = H::new(
        RunBuilder::new()
            .threshold(Threshold::number(1, false).unwrap())
            .retry(RetryPolicy::new(1, 0).unwrap()),
        3,
    );
    h.start();
    h.step(Input::Stop);
    // Device 0 fails while stopped: its retry waits; device 0 is pending again.
    assert_eq!(h.fail(0), []);
    assert_eq!(h.states(), [P, I, I]);
    // Device 1 is rejected (never retried): the threshold trips.
    assert_eq!(
        h.out(1, Outcome::Rejected),
        [Action::Status(RunStatus::Cancelled)]
    );
    assert_eq!(h.states(), [C, R, I]);
    assert_eq!(h.counts(), (0, 1, 0, 1, 1));
}

// ===== 5. Stop and resume =====

#[test]
fn r5_stop_lets_in_flight_devices_finish_and_dispatches_nothing() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 5);
    h.start();
    assert_eq!(h.step(Input::Stop), [Action::Status(RunStatus::Stopped)]);
    h.ok(0);
    // Batch 0 is done, but the run is stopped: batch 1 does not start.
    assert_eq!(h.ok(1), [Action::BatchFinished { batch: 0 }]);
    assert_eq!(h.counts(), (3, 0, 2, 0, 0));
    assert_eq!(h.status(), RunStatus::Stopped);
    // Resume continues with the pending devices in the same batches.
    assert_eq!(
        h.step(Input::Resume),
        [
            Action::Status(RunStatus::Running),
            Action::BatchStarted { batch: 1 },
            dispatch(2, 1),
            dispatch(3, 1),
        ]
    );
    h.ok(2);
    assert_eq!(
        h.ok(3),
        [
            Action::BatchFinished { batch: 1 },
            Action::BatchStarted { batch: 2 },
            dispatch(4, 1),
        ]
    );
}

#[test]
fn r5_resume_mid_batch_dispatches_nothing_new() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 4);
    h.start();
    h.step(Input::Stop);
    h.ok(0);
    // Device 1 is still in flight: resuming has nothing to dispatch yet.
    assert_eq!(h.step(Input::Resume), [Action::Status(RunStatus::Running)]);
    assert_eq!(dispatched(&h.ok(1)), [2, 3]);
}

#[test]
fn r5_a_retry_waits_while_stopped() {
    let mut h = H::new(RunBuilder::new().retry(RetryPolicy::new(2, 0).unwrap()), 2);
    h.start();
    h.step(Input::Stop);
    assert_eq!(h.fail(0), []);
    assert_eq!(h.states(), [P, I]);
    assert_eq!(h.counts(), (1, 1, 0, 0, 0));
    assert_eq!(h.run.attempts(0), 1);
    assert_eq!(
        h.step(Input::Resume),
        [Action::Status(RunStatus::Running), dispatch(0, 2)]
    );
    assert_eq!(h.counts(), (0, 2, 0, 0, 0));
}

#[test]
fn r5_a_run_whose_targets_all_finish_while_stopped_completes() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 3);
    h.start();
    h.ok(0);
    h.ok(1);
    h.step(Input::Stop); // stopped during the last batch
    assert_eq!(
        h.fail(2),
        [
            Action::BatchFinished { batch: 1 },
            Action::Status(RunStatus::Complete)
        ]
    );
    assert!(h.run.is_settled());
}

#[test]
fn r5_illegal_commands_change_nothing() {
    let illegal = |kind: ErrorKind, command: &str, status: RunStatus| match kind {
        ErrorKind::IllegalCommand {
            command: c,
            status: s,
        } => assert_eq!((c, s), (command, status)),
        other => panic!("expected IllegalCommand, got {other:?}"),
    };
    // Pending: stop, resume are illegal.
    let mut h = H::new(RunBuilder::new().batch(num_batch(1)), 2);
    illegal(h.refuse(Input::Stop), "stop", RunStatus::Pending);
    illegal(h.refuse(Input::Resume), "resume", RunStatus::Pending);
    assert!(h.run.rerun().is_err());
    // Running: start twice, resume, fail.
    h.start();
    illegal(h.refuse(Input::Start), "start", RunStatus::Running);
    illegal(h.refuse(Input::Resume), "resume", RunStatus::Running);
    illegal(h.refuse(Input::Fail), "fail", RunStatus::Running);
    assert!(matches!(
        h.run.rerun().unwrap_err().kind(),
        ErrorKind::IllegalCommand {
            command: "rerun",
            status: RunStatus::Running
        }
    ));
    // Stopped: stop again, start.
    h.step(Input::Stop);
    illegal(h.refuse(Input::Stop), "stop", RunStatus::Stopped);
    illegal(h.refuse(Input::Start), "start", RunStatus::Stopped);
    assert!(h.run.rerun().is_err());
    // Complete: everything.
    h.step(Input::Resume);
    h.ok(0);
    h.ok(1);
    assert_eq!(h.status(), RunStatus::Complete);
    for (input, command) in [
        (Input::Start, "start"),
        (Input::Stop, "stop"),
        (Input::Resume, "resume"),
        (Input::Cancel { force: false }, "cancel"),
        (Input::Cancel { force: true }, "cancel"),
        (Input::Fail, "fail"),
    ] {
        illegal(h.refuse(input), command, RunStatus::Complete);
    }
    // Outcomes for devices not in flight, or not targets at all.
    assert_eq!(
        h.refuse(Input::Outcome {
            device: 0,
            attempt: 1,
            outcome: Outcome::Failed
        }),
        ErrorKind::NotInFlight {
            device: 0,
            attempt: 1
        }
    );
    assert_eq!(
        h.refuse(Input::Outcome {
            device: 2,
            attempt: 1,
            outcome: Outcome::Failed
        }),
        ErrorKind::NoSuchDevice(2)
    );
}

#[test]
fn r5_a_failed_run_refuses_every_command() {
    let mut h = H::new(RunBuilder::new(), 2);
    h.step(Input::Fail);
    for input in [
        Input::Start,
        Input::Stop,
        Input::Resume,
        Input::Cancel { force: true },
        Input::Fail,
    ] {
        assert!(matches!(
            h.refuse(input),
            ErrorKind::IllegalCommand {
                status: RunStatus::Failed,
                ..
            }
        ));
    }
    assert!(h.run.rerun().is_err());
}

// ===== 6. Cancel =====

#[test]
fn r6_soft_cancel_lets_in_flight_devices_finish() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 5);
    h.start();
    h.ok(0);
    assert_eq!(
        h.at(5_000).step(Input::Cancel { force: false }),
        [Action::Status(RunStatus::Cancelled)]
    );
    assert_eq!(h.states(), [S, I, C, C, C]);
    assert!(!h.run.is_settled());
    assert_eq!(h.run.finished_ms(), None);
    // The straggler records its real outcome, and nothing more is dispatched.
    assert_eq!(h.at(6_000).fail(1), [Action::BatchFinished { batch: 0 }]);
    assert_eq!(h.states(), [S, F, C, C, C]);
    assert!(h.run.is_settled());
    assert_eq!(h.run.finished_ms(), Some(6_000));
    assert_eq!(h.status(), RunStatus::Cancelled);
    assert_eq!(h.counts(), (0, 0, 1, 1, 3));

    // The same run, forced: device 1 is abandoned and cancelled, and the run settles at once.
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 5);
    h.start();
    h.ok(0);
    h.at(5_000).step(Input::Cancel { force: true });
    assert_eq!(h.states(), [S, C, C, C, C]);
    assert_eq!(h.counts(), (0, 0, 1, 0, 4));
    assert_eq!(h.run.finished_ms(), Some(5_000));
}

#[test]
fn r6_forced_cancel_abandons_in_flight_devices() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(3)), 5);
    h.start();
    h.ok(1);
    assert_eq!(
        h.step(Input::Cancel { force: true }),
        [
            Action::Abandon {
                device: 0,
                attempt: 1
            },
            Action::Abandon {
                device: 2,
                attempt: 1
            },
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Cancelled),
        ]
    );
    assert_eq!(h.states(), [C, S, C, C, C]);
    assert!(h.run.is_settled());
    // A late answer from an abandoned device is refused.
    assert_eq!(
        h.refuse(Input::Outcome {
            device: 0,
            attempt: 1,
            outcome: Outcome::Succeeded
        }),
        ErrorKind::NotInFlight {
            device: 0,
            attempt: 1
        }
    );
}

#[test]
fn r6_forced_cancel_after_a_soft_cancel_abandons_the_stragglers() {
    let mut h = H::new(RunBuilder::new(), 3);
    h.start();
    h.ok(0);
    h.step(Input::Cancel { force: false });
    assert_eq!(h.states(), [S, I, I]);
    // A second soft cancel is refused: the run is already cancelled.
    assert!(matches!(
        h.refuse(Input::Cancel { force: false }),
        ErrorKind::IllegalCommand {
            command: "cancel",
            status: RunStatus::Cancelled
        }
    ));
    assert_eq!(
        h.step(Input::Cancel { force: true }),
        [
            Action::Abandon {
                device: 1,
                attempt: 1
            },
            Action::Abandon {
                device: 2,
                attempt: 1
            },
            Action::BatchFinished { batch: 0 },
        ]
    );
    assert_eq!(h.states(), [S, C, C]);
    assert!(h.run.is_settled());
    // Nothing is left to abandon: a further forced cancel is refused.
    assert!(matches!(
        h.refuse(Input::Cancel { force: true }),
        ErrorKind::IllegalCommand { .. }
    ));
}

#[test]
fn r6_cancel_before_start_cancels_every_target() {
    let mut h = H::new(RunBuilder::new(), 3);
    assert_eq!(
        h.step(Input::Cancel { force: false }),
        [Action::Status(RunStatus::Cancelled)]
    );
    assert_eq!(h.counts(), (0, 0, 0, 0, 3));
    assert!(h.run.is_settled());
    illegal_start(&mut h);
}

fn illegal_start(h: &mut H) {
    assert!(matches!(
        h.refuse(Input::Start),
        ErrorKind::IllegalCommand {
            command: "start",
            ..
        }
    ));
}

#[test]
fn r6_cancel_while_stopped() {
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(2))
            .retry(RetryPolicy::new(1, 0).unwrap()),
        4,
    );
    h.start();
    h.step(Input::Stop);
    h.fail(0); // waits for its retry
    assert_eq!(
        h.step(Input::Cancel { force: false }),
        [Action::Status(RunStatus::Cancelled)]
    );
    assert_eq!(h.states(), [C, I, C, C]);
    assert_eq!(h.run.attempts(0), 1);
}

#[test]
fn r6_a_cancel_that_ends_a_batch_finishes_it() {
    // Forced: the abandoned devices were the last of batch 0.
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 4);
    h.start();
    h.ok(0);
    assert_eq!(
        h.at(3_000).step(Input::Cancel { force: true }),
        [
            Action::Abandon {
                device: 1,
                attempt: 1
            },
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Cancelled),
        ]
    );
    assert_eq!(h.run.batches()[0].finished_ms, Some(3_000));
    // Batch 1 never started: it does not finish either.
    assert_eq!(h.run.batches()[1].started_ms, None);
    assert_eq!(h.run.batches()[1].finished_ms, None);

    // Soft, while stopped: the device waiting for its retry was the last of batch 0.
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(2))
            .retry(RetryPolicy::new(1, 0).unwrap()),
        4,
    );
    h.start();
    h.step(Input::Stop);
    h.fail(0); // waits for its retry
    h.ok(1);
    assert_eq!(
        h.at(4_000).step(Input::Cancel { force: false }),
        [
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Cancelled),
        ]
    );
    assert_eq!(h.states(), [C, S, C, C]);
    assert_eq!(h.run.batches()[0].finished_ms, Some(4_000));
}

// ===== 7. Rerun =====

#[test]
fn r7_rerun_targets_exactly_the_failed_devices() {
    let targets = Targets::new((1..=6).map(|i| format!("therm-{i:02}")));
    let builder = RunBuilder::new()
        .batch(pct_batch(50.0))
        // Cancel when every device of a batch fails.
        .threshold(Threshold::percentage(100.0, true).unwrap())
        .max_execution_ms(60_000)
        .retry(RetryPolicy::new(0, 1).unwrap());
    let mut h = H::new(builder, targets.len());
    h.start();
    h.ok(0);
    h.out(1, Outcome::Rejected);
    h.fail(2);
    h.ok(3);
    h.ok(4);
    h.fail(5);
    assert_eq!(h.status(), RunStatus::Complete);
    let (rerun, indices) = h.run.rerun().unwrap();
    assert_eq!(indices, [1, 2, 5]);
    assert_eq!(
        targets.select(&indices).iter().collect::<Vec<_>>(),
        ["therm-02", "therm-03", "therm-06"]
    );
    // Same batching (50 % of 3 -> 2, 1), threshold, deadline and retries.
    assert_eq!(rerun.status(), RunStatus::Pending);
    assert_eq!(rerun.counts(), Counts::new(3));
    assert_eq!(rerun.plan().sizes().collect::<Vec<_>>(), [2, 1]);
    let mut r = H { run: rerun, now: 0 };
    assert_eq!(
        r.at(100).start(),
        [
            Action::Status(RunStatus::Running),
            Action::SetTimer {
                at_ms: 60_100,
                timer: Timer::Deadline
            },
            Action::BatchStarted { batch: 0 },
            dispatch(0, 1),
            dispatch(1, 1),
        ]
    );
    assert_eq!(r.out(0, Outcome::TimedOut), [dispatch(0, 2)]);
    r.fail(0);
    r.fail(1);
    assert_eq!(r.status(), RunStatus::Cancelled);
}

#[test]
fn r7_rerun_of_a_cancelled_run_needs_it_settled() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 4);
    h.start();
    h.fail(0);
    h.step(Input::Cancel { force: false });
    assert!(matches!(
        h.run.rerun().unwrap_err().kind(),
        ErrorKind::IllegalCommand {
            command: "rerun",
            status: RunStatus::Cancelled
        }
    ));
    h.out(1, Outcome::TimedOut);
    let (rerun, indices) = h.run.rerun().unwrap();
    // Cancelled devices (2, 3) are not failures: only 0 and 1 are rerun.
    assert_eq!(indices, [0, 1]);
    assert_eq!(rerun.counts().total, 2);
}

#[test]
fn r7_rerun_without_failures_is_an_empty_run() {
    let mut h = H::new(RunBuilder::new(), 2);
    h.start();
    h.ok(0);
    h.ok(1);
    let (rerun, indices) = h.run.rerun().unwrap();
    assert!(indices.is_empty());
    let mut r = H { run: rerun, now: 0 };
    assert_eq!(
        r.start(),
        [
            Action::Status(RunStatus::Running),
            Action::Status(RunStatus::Complete)
        ]
    );
}

// ===== 8. Completion =====

#[test]
fn r8_complete_even_with_failures() {
    let mut h = H::new(RunBuilder::new(), 3);
    h.start();
    h.fail(0);
    h.out(1, Outcome::TimedOut);
    assert_eq!(
        h.at(10).ok(2),
        [
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Complete)
        ]
    );
    assert_eq!(h.states(), [F, T, S]);
    assert_eq!(h.counts(), (0, 0, 1, 2, 0));
    assert_eq!(h.run.finished_ms(), Some(10));
}

#[test]
fn r8_zero_targets_complete_at_once() {
    let mut h = H::new(
        RunBuilder::new()
            .batch(pct_batch(10.0))
            .threshold(Threshold::number(1, true).unwrap()),
        0,
    );
    assert_eq!(
        h.at(42).start(),
        [
            Action::Status(RunStatus::Running),
            Action::Status(RunStatus::Complete)
        ]
    );
    assert!(h.run.is_settled());
    assert_eq!(h.run.finished_ms(), Some(42));
    assert_eq!(h.run.batches(), []);
}

#[test]
fn r8_fail_only_from_pending() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 3);
    assert_eq!(
        h.at(5).step(Input::Fail),
        [Action::Status(RunStatus::Failed)]
    );
    assert_eq!(h.states(), [C, C, C]);
    assert_eq!(h.counts(), (0, 0, 0, 0, 3));
    assert!(h.run.is_settled());
    assert_eq!(h.run.finished_ms(), Some(5));

    let mut h = H::new(RunBuilder::new(), 1);
    h.start();
    assert!(matches!(
        h.refuse(Input::Fail),
        ErrorKind::IllegalCommand {
            command: "fail",
            status: RunStatus::Running
        }
    ));
}

// ===== 9. Deadlines =====

#[test]
fn r9_the_deadline_times_out_every_device_not_yet_terminal() {
    // N = 4, batches of 2, max execution time 10 s; started at t = 1 s.
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(2))
            .max_execution_ms(10_000),
        4,
    );
    assert_eq!(
        h.at(1_000).start(),
        [
            Action::Status(RunStatus::Running),
            Action::SetTimer {
                at_ms: 11_000,
                timer: Timer::Deadline
            },
            Action::BatchStarted { batch: 0 },
            dispatch(0, 1),
            dispatch(1, 1),
        ]
    );
    h.at(2_000).ok(0);
    assert_eq!(
        h.at(11_000).step(Input::Timer(Timer::Deadline)),
        [
            Action::Abandon {
                device: 1,
                attempt: 1
            },
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Complete),
        ]
    );
    // Device 1 was in flight, devices 2 and 3 were never dispatched: all timed out.
    assert_eq!(h.states(), [S, T, T, T]);
    assert_eq!(h.counts(), (0, 0, 1, 3, 0));
    assert!(h.run.is_settled());
    // A late answer is refused; the run does not change.
    assert!(matches!(
        h.refuse(Input::Outcome {
            device: 1,
            attempt: 1,
            outcome: Outcome::Succeeded
        }),
        ErrorKind::NotInFlight { .. }
    ));
    // The deadline is not a threshold failure and the rerun takes the timed-out devices.
    assert_eq!(h.run.rerun().unwrap().1, [1, 2, 3]);
}

#[test]
fn r9_the_deadline_after_a_cancel_keeps_the_run_cancelled() {
    let mut h = H::new(RunBuilder::new().max_execution_ms(1_000), 2);
    h.start();
    h.step(Input::Cancel { force: false });
    h.ok(0);
    assert_eq!(
        h.at(1_000).step(Input::Timer(Timer::Deadline)),
        [
            Action::Abandon {
                device: 1,
                attempt: 1
            },
            Action::BatchFinished { batch: 0 }
        ]
    );
    assert_eq!(h.status(), RunStatus::Cancelled);
    assert_eq!(h.states(), [S, T]);
}

#[test]
fn r9_the_deadline_while_stopped_completes_the_run() {
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(1))
            .max_execution_ms(1_000),
        3,
    );
    h.start();
    h.step(Input::Stop);
    h.ok(0);
    assert_eq!(
        h.at(1_000).step(Input::Timer(Timer::Deadline)),
        [Action::Status(RunStatus::Complete)]
    );
    assert_eq!(h.states(), [S, T, T]);
}

#[test]
fn r9_a_deadline_after_settlement_is_ignored() {
    let mut h = H::new(RunBuilder::new().max_execution_ms(1_000), 1);
    h.start();
    h.ok(0);
    let before = Snapshot::of(&h.run);
    assert_eq!(h.at(1_000).step(Input::Timer(Timer::Deadline)), []);
    assert_eq!(Snapshot::of(&h.run), before);
}

#[test]
fn r9_a_deadline_timer_the_run_never_asked_for_is_ignored() {
    // Not started yet: the deadline counts from the start, so there is none.
    let mut h = H::new(RunBuilder::new().max_execution_ms(1_000), 2);
    let before = Snapshot::of(&h.run);
    assert_eq!(h.at(5_000).step(Input::Timer(Timer::Deadline)), []);
    assert_eq!(Snapshot::of(&h.run), before);
    assert_eq!(h.status(), RunStatus::Pending);
    // Started, but without a maximum execution time.
    let mut h = H::new(RunBuilder::new(), 2);
    h.start();
    let before = Snapshot::of(&h.run);
    assert_eq!(h.step(Input::Timer(Timer::Deadline)), []);
    assert_eq!(Snapshot::of(&h.run), before);
    assert_eq!(h.status(), RunStatus::Running);
}

#[test]
fn r9_per_device_timeout() {
    let mut h = H::new(RunBuilder::new().device_timeout_ms(500), 2);
    assert_eq!(
        h.at(100).start(),
        [
            Action::Status(RunStatus::Running),
            Action::BatchStarted { batch: 0 },
            dispatch(0, 1),
            Action::SetTimer {
                at_ms: 600,
                timer: Timer::DeviceTimeout {
                    device: 0,
                    attempt: 1
                }
            },
            dispatch(1, 1),
            Action::SetTimer {
                at_ms: 600,
                timer: Timer::DeviceTimeout {
                    device: 1,
                    attempt: 1
                }
            },
        ]
    );
    h.at(300).ok(0);
    // Device 0 answered: its timer is stale and ignored.
    let before = Snapshot::of(&h.run);
    assert_eq!(
        h.at(600).step(Input::Timer(Timer::DeviceTimeout {
            device: 0,
            attempt: 1
        })),
        []
    );
    assert_eq!(Snapshot::of(&h.run), before);
    // Device 1 did not: it times out.
    assert_eq!(
        h.step(Input::Timer(Timer::DeviceTimeout {
            device: 1,
            attempt: 1
        })),
        [
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Complete)
        ]
    );
    assert_eq!(h.states(), [S, T]);
    // Its late answer is refused.
    assert_eq!(
        h.refuse(Input::Outcome {
            device: 1,
            attempt: 1,
            outcome: Outcome::Succeeded
        }),
        ErrorKind::NotInFlight {
            device: 1,
            attempt: 1
        }
    );
}

#[test]
fn r9_a_timed_out_device_may_be_retried_and_its_old_timer_is_stale() {
    let mut h = H::new(
        RunBuilder::new()
            .device_timeout_ms(500)
            .retry(RetryPolicy::new(0, 1).unwrap()),
        1,
    );
    h.start();
    let t1 = Timer::DeviceTimeout {
        device: 0,
        attempt: 1,
    };
    assert_eq!(
        h.at(500).step(Input::Timer(t1)),
        [
            dispatch(0, 2),
            Action::SetTimer {
                at_ms: 1_000,
                timer: Timer::DeviceTimeout {
                    device: 0,
                    attempt: 2
                }
            }
        ]
    );
    // The attempt-1 timer again (a duplicate) is stale; an answer for attempt 1 is refused.
    assert_eq!(h.step(Input::Timer(t1)), []);
    assert_eq!(
        h.refuse(Input::Outcome {
            device: 0,
            attempt: 1,
            outcome: Outcome::Succeeded
        }),
        ErrorKind::NotInFlight {
            device: 0,
            attempt: 1
        }
    );
    assert_eq!(
        h.ok(0),
        [
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Complete)
        ]
    );
    assert_eq!(h.states(), [S]);
    assert_eq!(h.run.attempts(0), 2);
}

// ===== 10. Retries =====

#[test]
fn r10_failures_are_retried_up_to_the_limit() {
    let mut h = H::new(RunBuilder::new().retry(RetryPolicy::new(2, 0).unwrap()), 1);
    h.start();
    assert_eq!(h.fail(0), [dispatch(0, 2)]);
    assert_eq!(h.counts(), (0, 1, 0, 0, 0));
    assert_eq!(h.fail(0), [dispatch(0, 3)]);
    assert_eq!(
        h.fail(0),
        [
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Complete)
        ]
    );
    assert_eq!(h.states(), [F]);
    assert_eq!(h.run.attempts(0), 3);
    assert_eq!(h.counts(), (0, 0, 0, 1, 0));
}

#[test]
fn r11_statistics_count_devices_not_attempts() {
    let mut h = H::new(RunBuilder::new().retry(RetryPolicy::new(2, 0).unwrap()), 2);
    h.start();
    h.fail(0);
    h.fail(0);
    h.ok(0); // failed twice, then succeeded: counts once, as succeeded
    h.ok(1);
    assert_eq!(h.counts(), (0, 0, 2, 0, 0));
    assert_eq!(h.run.attempts(0), 3);
}

#[test]
fn r10_rejections_are_never_retried() {
    let mut h = H::new(
        RunBuilder::new().retry(RetryPolicy::new(10, 10).unwrap()),
        1,
    );
    h.start();
    h.out(0, Outcome::Rejected);
    assert_eq!(h.states(), [R]);
    assert_eq!(h.run.attempts(0), 1);
}

#[test]
fn r10_each_outcome_type_has_its_own_allowance() {
    // Timeouts retried, failures not.
    let mut h = H::new(RunBuilder::new().retry(RetryPolicy::new(0, 1).unwrap()), 2);
    h.start();
    assert_eq!(h.fail(0), []);
    assert_eq!(h.out(1, Outcome::TimedOut), [dispatch(1, 2)]);
    assert_eq!(h.states(), [F, I]);
}

#[test]
fn r10_each_type_counts_its_own_retries() {
    // FAILED 1, TIMED_OUT 3 (AWS: each criterion counts its own retries). Two timeouts use two
    // of the three retries after timeouts; the first failure still has its one retry; the
    // second failure is final, after 4 attempts.
    let mut h = H::new(RunBuilder::new().retry(RetryPolicy::new(1, 3).unwrap()), 1);
    h.start();
    assert_eq!(h.out(0, Outcome::TimedOut), [dispatch(0, 2)]);
    assert_eq!(h.out(0, Outcome::TimedOut), [dispatch(0, 3)]);
    assert_eq!(h.run.retries_used(0), (0, 2));
    assert_eq!(h.fail(0), [dispatch(0, 4)]);
    assert_eq!(h.run.retries_used(0), (1, 2));
    h.fail(0);
    assert_eq!(h.states(), [F]);
    assert_eq!(h.run.attempts(0), 4);
}

#[test]
fn r10_all_shares_one_allowance() {
    // ALL 2: a timeout and a failure use both retries; the next timeout is final.
    let mut h = H::new(RunBuilder::new().retry(RetryPolicy::all(2).unwrap()), 1);
    h.start();
    assert_eq!(h.out(0, Outcome::TimedOut), [dispatch(0, 2)]);
    assert_eq!(h.fail(0), [dispatch(0, 3)]);
    assert_eq!(h.run.retries_used(0), (1, 1));
    h.out(0, Outcome::TimedOut);
    assert_eq!(h.states(), [T]);
    assert_eq!(h.run.attempts(0), 3);
    // Rejections are not retried under ALL either.
    let mut h = H::new(RunBuilder::new().retry(RetryPolicy::all(10).unwrap()), 1);
    h.start();
    h.out(0, Outcome::Rejected);
    assert_eq!((h.states(), h.run.attempts(0)), (vec![R], 1));
    assert!(RetryPolicy::all(11).is_err());
}

#[test]
fn r10_no_retries_after_a_cancel() {
    let mut h = H::new(RunBuilder::new().retry(RetryPolicy::new(3, 3).unwrap()), 2);
    h.start();
    h.step(Input::Cancel { force: false });
    assert_eq!(h.fail(0), []);
    assert_eq!(
        h.out(1, Outcome::TimedOut),
        [Action::BatchFinished { batch: 0 }]
    );
    assert_eq!(h.states(), [F, T]);
    assert_eq!((h.run.attempts(0), h.run.attempts(1)), (1, 1));
}

#[test]
fn r10_a_retry_stays_in_its_batch() {
    // The retried device holds its batch open: batch 1 waits for the retry's outcome.
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(1))
            .retry(RetryPolicy::new(1, 0).unwrap()),
        2,
    );
    h.start();
    assert_eq!(h.fail(0), [dispatch(0, 2)]);
    assert_eq!(h.run.current_batch(), Some(0));
    assert_eq!(dispatched(&h.ok(0)), [1]);
}

// ===== 11. Statistics are in section 10 above; 12. Statuses =====

#[test]
fn r12_internal_vocabulary() {
    let words: Vec<&str> = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Stopped,
        RunStatus::Paused,
        RunStatus::Complete,
        RunStatus::Cancelled,
        RunStatus::Failed,
    ]
    .iter()
    .map(|s| s.as_str())
    .collect();
    assert_eq!(
        words,
        [
            "pending",
            "running",
            "stopped",
            "paused",
            "complete",
            "cancelled",
            "failed"
        ]
    );
    let words: Vec<&str> = [P, I, S, F, R, T, C].iter().map(|s| s.as_str()).collect();
    assert_eq!(
        words,
        [
            "pending",
            "in_flight",
            "succeeded",
            "failed",
            "rejected",
            "timed_out",
            "cancelled"
        ]
    );
    assert!([S, F, R, T, C].iter().all(|s| s.is_terminal()));
    assert!(![P, I].iter().any(|s| s.is_terminal()));
    assert!([F, R, T].iter().all(|s| s.is_failure()));
    assert!(RunStatus::Complete.is_final() && !RunStatus::Stopped.is_final());
    assert!(!RunStatus::Paused.is_final());
}

// ===== 13. Dispatch rate and exponential ramp-up =====

fn timer_at(actions: &[Action]) -> Option<i64> {
    actions.iter().find_map(|a| match a {
        Action::SetTimer {
            at_ms,
            timer: Timer::Dispatch,
        } => Some(*at_ms),
        _ => None,
    })
}

#[test]
fn r13_a_rate_dispatches_what_the_minute_allows_and_waits() {
    // N = 5, one batch, 2 per minute, started at 0 s (the doc's first example).
    let mut h = H::new(RunBuilder::new().max_per_minute(2), 5);
    let a = h.start();
    assert_eq!(dispatched(&a), [0, 1]);
    assert_eq!(timer_at(&a), Some(60_000));
    assert_eq!(h.run.dispatch_timer(), Some(60_000));
    h.at(1_000);
    assert_eq!(dispatched(&h.ok(0)), Vec::<u32>::new());
    assert_eq!(dispatched(&h.ok(1)), Vec::<u32>::new());
    assert_eq!(
        h.status(),
        RunStatus::Running,
        "running, waiting for its timer"
    );
    assert_eq!(h.counts(), (3, 0, 2, 0, 0));
    h.at(60_000);
    let a = h.step(Input::Timer(Timer::Dispatch));
    assert_eq!(dispatched(&a), [2, 3]);
    assert_eq!(timer_at(&a), Some(120_000));
    h.at(120_000);
    let a = h.step(Input::Timer(Timer::Dispatch));
    assert_eq!(dispatched(&a), [4]);
    assert_eq!(timer_at(&a), None, "nothing left to wait for");
    h.at(121_000);
    for d in 2..5 {
        h.ok(d);
    }
    assert_eq!(h.status(), RunStatus::Complete);
}

#[test]
fn r13_the_window_slides_it_is_not_aligned_to_minutes() {
    // 2 per minute: dispatches at 0 s and 30 s fill the window (−30 s, 30 s]; the next may go
    // at 60 s (the one of 0 s leaves), not at 30 s + 60 s nor at a minute boundary.
    let mut h = H::new(RunBuilder::new().batch(num_batch(1)).max_per_minute(2), 4);
    h.start(); // device 0 at 0 s
    h.at(30_000);
    assert_eq!(dispatched(&h.ok(0)), [1]); // batch 1 starts at 30 s
    let a = h.ok(1); // batch 2 at 30 s: the window holds 2
    assert_eq!(dispatched(&a), Vec::<u32>::new());
    assert_eq!(timer_at(&a), Some(60_000));
    h.at(60_000);
    assert_eq!(dispatched(&h.step(Input::Timer(Timer::Dispatch))), [2]);
}

#[test]
fn r13_retries_are_not_rate_limited() {
    let mut h = H::new(
        RunBuilder::new()
            .max_per_minute(1)
            .retry(RetryPolicy::new(2, 0).unwrap()),
        2,
    );
    h.start();
    assert_eq!(h.fail(0), [dispatch(0, 2)], "a retry goes at once");
    assert_eq!(h.fail(0), [dispatch(0, 3)]);
}

#[test]
fn r13_a_stopped_run_uses_up_its_timer_and_asks_again() {
    let mut h = H::new(RunBuilder::new().max_per_minute(1), 3);
    h.start();
    h.step(Input::Stop);
    h.at(60_000);
    assert_eq!(h.step(Input::Timer(Timer::Dispatch)), []);
    assert_eq!(h.run.dispatch_timer(), None);
    h.at(70_000);
    let a = h.step(Input::Resume);
    assert_eq!(dispatched(&a), [1]);
    assert_eq!(timer_at(&a), Some(130_000));
    // A timer the run never asked for is ignored.
    let mut h = H::new(RunBuilder::new(), 2);
    h.start();
    assert_eq!(h.step(Input::Timer(Timer::Dispatch)), []);
}

#[test]
fn r13_a_cancel_cancels_what_the_rate_held_back() {
    let mut h = H::new(RunBuilder::new().max_per_minute(2), 5);
    h.start();
    let a = h.step(Input::Cancel { force: false });
    assert_eq!(h.counts(), (0, 2, 0, 0, 3));
    assert!(!a.contains(&Action::BatchFinished { batch: 0 }));
    let a = h.ok(0);
    assert!(!a.contains(&Action::BatchFinished { batch: 0 }));
    assert_eq!(h.ok(1), [Action::BatchFinished { batch: 0 }]);
    assert!(h.run.is_settled());
}

#[test]
fn r13_the_ramp_counts_notified_devices() {
    // The doc's ramp example: base 2, factor 2, every 4 notified, maximum 8, N = 20.
    let ramp = ExponentialRamp::new(2, 2.0, RampCriterion::Notified(4)).unwrap();
    let mut h = H::new(RunBuilder::new().max_per_minute(8).ramp(ramp), 20);
    let a = h.start();
    assert_eq!(dispatched(&a), [0, 1]);
    assert_eq!(h.run.rate_per_minute(), Some(2));
    h.at(60_000);
    let a = h.step(Input::Timer(Timer::Dispatch));
    assert_eq!(dispatched(&a), [2, 3, 4, 5]);
    assert_eq!(h.run.rate_per_minute(), Some(4));
    assert_eq!(timer_at(&a), Some(120_000));
    h.at(120_000);
    let a = h.step(Input::Timer(Timer::Dispatch));
    assert_eq!(dispatched(&a), (6..14).collect::<Vec<_>>());
    assert_eq!(h.run.rate_per_minute(), Some(8));
    h.at(180_000);
    let a = h.step(Input::Timer(Timer::Dispatch));
    assert_eq!(dispatched(&a), (14..20).collect::<Vec<_>>());
    assert_eq!(timer_at(&a), None);
}

#[test]
fn r13_the_ramp_counts_succeeded_devices() {
    // base 1, factor 2, every 2 succeeded, maximum 4: successes, not dispatches, raise it.
    let ramp = ExponentialRamp::new(1, 2.0, RampCriterion::Succeeded(2)).unwrap();
    let mut h = H::new(RunBuilder::new().max_per_minute(4).ramp(ramp), 10);
    assert_eq!(dispatched(&h.start()), [0]);
    h.at(1_000);
    h.ok(0);
    assert_eq!(
        h.run.rate_per_minute(),
        Some(1),
        "1 succeeded: no increase yet"
    );
    h.at(60_000);
    assert_eq!(dispatched(&h.step(Input::Timer(Timer::Dispatch))), [1]);
    h.at(61_000);
    // 2 succeeded: rate 2; the window (1 s, 61 s] holds one dispatch: one more goes now.
    assert_eq!(dispatched(&h.ok(1)), [2]);
    assert_eq!(h.run.rate_per_minute(), Some(2));
    h.at(62_000);
    h.fail(2); // failures do not count
    assert_eq!(h.run.rate_per_minute(), Some(2));
}

// ===== 14. Abort criteria =====

#[test]
fn r14_the_first_criterion_that_holds_cancels_the_run() {
    // The doc's example: N = 10, batches of 5, FAILED 50 % after 4, TIMED_OUT 20 % after 5.
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(5))
            .abort(AbortCriterion::new(FailureType::Failed, 50.0, 4).unwrap())
            .abort(AbortCriterion::new(FailureType::TimedOut, 20.0, 5).unwrap()),
        10,
    );
    h.start();
    h.at(1_000);
    h.fail(0);
    h.at(2_000);
    h.ok(1);
    h.at(3_000);
    h.fail(2);
    assert_eq!(
        h.status(),
        RunStatus::Running,
        "2 failures, but only 3 executed"
    );
    h.at(4_000);
    let a = h.out(3, Outcome::TimedOut);
    assert_eq!(a, [Action::Status(RunStatus::Cancelled)]);
    assert_eq!(
        h.run.abort_trip(),
        Some(AbortTrip {
            criterion: 0,
            failure_type: FailureType::Failed,
            batch: 0,
            at_ms: 4_000,
            executed: 4,
            failures: 2,
        })
    );
    assert_eq!(h.counts(), (0, 1, 1, 3, 5));
    assert_eq!(h.run.threshold_trip(), None);
    // Device 4 finishes with its real outcome; nothing trips again.
    h.fail(4);
    assert_eq!(h.run.abort_trip().unwrap().executed, 4);
    assert!(h.run.is_settled());
}

#[test]
fn r14_a_success_can_bring_the_minimum_and_trip() {
    // FAILED 20 % after 5 executed: 2 failures among 4 executed do not trip; the 5th executed
    // device succeeds: 2 of 5 = 40 %: trip.
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(5))
            .abort(AbortCriterion::new(FailureType::Failed, 20.0, 5).unwrap()),
        10,
    );
    h.start();
    h.fail(0);
    h.fail(1);
    h.ok(2);
    h.ok(3);
    assert_eq!(h.status(), RunStatus::Running);
    h.ok(4);
    assert_eq!(h.status(), RunStatus::Cancelled);
    assert_eq!(
        h.run.abort_trip().map(|t| (t.executed, t.failures)),
        Some((5, 2))
    );
    // Batch 1 never started.
    assert_eq!(h.counts(), (0, 0, 3, 2, 5));
}

#[test]
fn r14_types_count_their_own_failures() {
    // REJECTED 50 % after 2: two failures do not count, two rejections do.
    let mut h = H::new(
        RunBuilder::new().abort(AbortCriterion::new(FailureType::Rejected, 50.0, 2).unwrap()),
        6,
    );
    h.start();
    h.fail(0);
    h.fail(1);
    h.out(2, Outcome::Rejected);
    assert_eq!(h.status(), RunStatus::Running, "1 rejection of 3 executed");
    h.out(3, Outcome::Rejected);
    assert_eq!(h.status(), RunStatus::Cancelled);
    assert_eq!(h.run.failures_of(FailureType::Rejected), 2);
    assert_eq!(h.run.failures_of(FailureType::Failed), 2);
    assert_eq!(h.run.failures_of(FailureType::All), 4);
}

#[test]
fn r14_retried_failures_and_deadline_timeouts_do_not_count() {
    let mut h = H::new(
        RunBuilder::new()
            .retry(RetryPolicy::new(1, 0).unwrap())
            .max_execution_ms(10_000)
            .abort(AbortCriterion::new(FailureType::All, 50.0, 1).unwrap()),
        3,
    );
    h.start();
    assert_eq!(h.fail(0), [dispatch(0, 2)], "retried: not a failure yet");
    assert_eq!(h.status(), RunStatus::Running);
    h.ok(0);
    h.at(10_000);
    h.step(Input::Timer(Timer::Deadline));
    assert_eq!(
        h.status(),
        RunStatus::Complete,
        "the deadline's timeouts do not abort"
    );
    assert_eq!(h.run.abort_trip(), None);
}

#[test]
fn r14_the_threshold_is_checked_first() {
    let mut h = H::new(
        RunBuilder::new()
            .threshold(Threshold::number(1, false).unwrap())
            .abort(AbortCriterion::new(FailureType::All, 1.0, 1).unwrap()),
        3,
    );
    h.start();
    h.fail(0);
    assert!(h.run.threshold_trip().is_some());
    assert_eq!(h.run.abort_trip(), None);
}

// ===== 15. Cancel with force (AWS) =====

fn aws_words(h: &H) -> Vec<&'static str> {
    h.states()
        .into_iter()
        .map(|s| AwsExecutionStatus::from(s).as_str())
        .collect()
}

#[test]
fn r15_force_false_cancels_only_queued_executions() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 4);
    h.start();
    h.ok(0);
    assert_eq!(
        aws_words(&h),
        ["SUCCEEDED", "IN_PROGRESS", "QUEUED", "QUEUED"]
    );
    h.step(Input::Cancel { force: false });
    assert_eq!(
        aws_words(&h),
        ["SUCCEEDED", "IN_PROGRESS", "CANCELED", "CANCELED"]
    );
    h.fail(1);
    assert_eq!(
        aws_words(&h),
        ["SUCCEEDED", "FAILED", "CANCELED", "CANCELED"]
    );
}

#[test]
fn r15_force_true_cancels_in_progress_executions_too() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 4);
    h.start();
    h.ok(0);
    let a = h.step(Input::Cancel { force: true });
    assert!(a.contains(&Action::Abandon {
        device: 1,
        attempt: 1
    }));
    assert_eq!(
        aws_words(&h),
        ["SUCCEEDED", "CANCELED", "CANCELED", "CANCELED"]
    );
    assert!(matches!(
        h.refuse(Input::Outcome {
            device: 1,
            attempt: 1,
            outcome: Outcome::Succeeded
        }),
        ErrorKind::NotInFlight { .. }
    ));
}

// ===== 16. Group gates =====

fn success_gate(p: f64, action: SuccessAction) -> GroupGate {
    GroupGate {
        success: Some(SuccessCondition {
            threshold: GatePercent::new(p).unwrap(),
            action,
        }),
        error: None,
    }
}

#[test]
fn r16_nextgroup_starts_the_next_batch_at_the_success_threshold() {
    // The doc's example: N = 12, 3 groups, success 50 % NEXTGROUP, error 25 % PAUSE.
    let gate = GroupGate {
        error: Some(GatePercent::new(25.0).unwrap()),
        ..success_gate(50.0, SuccessAction::NextBatch)
    };
    let mut h = H::new(
        RunBuilder::new()
            .batch(BatchSize::groups(3).unwrap())
            .gate(gate),
        12,
    );
    assert_eq!(dispatched(&h.start()), [0, 1, 2, 3]);
    h.at(1_000);
    assert_eq!(dispatched(&h.ok(0)), Vec::<u32>::new());
    let a = h.ok(1);
    assert_eq!(a[0], Action::BatchStarted { batch: 1 });
    assert_eq!(dispatched(&a), [4, 5, 6, 7]);
    assert_eq!(h.run.current_batch(), Some(1));
    h.at(2_000);
    assert_eq!(h.fail(4), []);
    h.at(3_000);
    assert_eq!(h.fail(5), [Action::Status(RunStatus::Paused)]);
    assert_eq!(
        h.run.pauses(),
        [Pause {
            batch: 1,
            at_ms: 3_000,
            reason: PauseReason::ErrorCondition {
                failures: 2,
                limit: 2
            },
        }]
    );
    h.at(4_000);
    for d in [2, 3, 6, 7] {
        assert_eq!(dispatched(&h.ok(d)), Vec::<u32>::new(), "paused");
    }
    assert_eq!(h.status(), RunStatus::Paused);
    assert_eq!(h.run.batches()[2].started_ms, None);
    h.at(10_000);
    let a = h.step(Input::Resume);
    assert_eq!(dispatched(&a), [8, 9, 10, 11]);
    h.at(11_000);
    for d in 8..12 {
        h.ok(d);
    }
    assert_eq!(h.status(), RunStatus::Complete);
    assert_eq!(h.counts(), (0, 0, 10, 2, 0));
}

#[test]
fn r16_pause_action_waits_for_a_trigger() {
    let mut h = H::new(
        RunBuilder::new()
            .batch(BatchSize::groups(2).unwrap())
            .gate(success_gate(100.0, SuccessAction::Pause)),
        4,
    );
    h.start();
    h.ok(0);
    assert_eq!(
        h.ok(1),
        [
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Paused)
        ]
    );
    assert_eq!(
        h.run.pauses()[0].reason,
        PauseReason::SuccessReached {
            succeeded: 2,
            limit: 2
        }
    );
    let a = h.step(Input::TriggerNextBatch);
    assert_eq!(
        a,
        [
            Action::Status(RunStatus::Running),
            Action::BatchStarted { batch: 1 },
            dispatch(2, 1),
            dispatch(3, 1)
        ]
    );
    // The last batch has no next batch: no pause, and no trigger.
    assert_eq!(
        h.refuse(Input::TriggerNextBatch),
        ErrorKind::NoNextBatch { batches: 2 }
    );
    h.ok(2);
    h.ok(3);
    assert_eq!(h.status(), RunStatus::Complete);
    assert_eq!(h.run.pauses().len(), 1);
}

#[test]
fn r16_a_batch_that_finishes_below_its_success_threshold_pauses() {
    let mut h = H::new(
        RunBuilder::new()
            .batch(BatchSize::groups(2).unwrap())
            .gate(success_gate(100.0, SuccessAction::NextBatch)),
        4,
    );
    h.start();
    h.ok(0);
    h.fail(1);
    assert_eq!(h.status(), RunStatus::Paused);
    assert_eq!(
        h.run.pauses()[0].reason,
        PauseReason::BelowSuccess {
            succeeded: 1,
            limit: 2
        }
    );
    assert_eq!(dispatched(&h.step(Input::Resume)), [2, 3]);
    // The last batch below its threshold completes.
    h.ok(2);
    h.fail(3);
    assert_eq!(h.status(), RunStatus::Complete);
}

#[test]
fn r16_a_paused_run_dispatches_nothing_not_even_a_retry() {
    let gate = GroupGate {
        success: None,
        error: Some(GatePercent::new(0.0).unwrap()),
    };
    let mut h = H::new(
        RunBuilder::new()
            .batch(num_batch(2))
            .retry(RetryPolicy::new(0, 1).unwrap())
            .gate(gate),
        4,
    );
    h.start();
    assert_eq!(h.fail(0), [Action::Status(RunStatus::Paused)]);
    // A retry waits while paused.
    assert_eq!(h.out(1, Outcome::TimedOut), []);
    assert_eq!(h.counts(), (3, 0, 0, 1, 0));
    // Stop is not for a paused run; cancel is.
    assert!(matches!(
        h.refuse(Input::Stop),
        ErrorKind::IllegalCommand {
            status: RunStatus::Paused,
            ..
        }
    ));
    // Resume releases batch 0: the retry goes, and batch 1 starts at once.
    let a = h.step(Input::Resume);
    assert_eq!(dispatched(&a), [1, 2, 3]);
    assert!(a.contains(&dispatch(1, 2)));
}

#[test]
fn r16_the_error_condition_pauses_a_stopped_run_and_trips_once_per_batch() {
    let gate = GroupGate {
        success: None,
        error: Some(GatePercent::new(40.0).unwrap()),
    };
    let mut h = H::new(RunBuilder::new().batch(num_batch(5)).gate(gate), 10);
    h.start();
    h.step(Input::Stop);
    h.fail(0);
    h.fail(1);
    assert_eq!(
        h.status(),
        RunStatus::Stopped,
        "2 of 5 is not more than 40 %"
    );
    h.fail(2);
    assert_eq!(h.status(), RunStatus::Paused);
    h.step(Input::Resume);
    // Batch 0 was released: batch 1 is running; more failures in batch 0 do not pause again.
    h.fail(3);
    assert_eq!(h.status(), RunStatus::Running);
    assert_eq!(h.run.pauses().len(), 1);
}

#[test]
fn r16_trigger_starts_the_next_batch_early_without_a_gate() {
    let mut h = H::new(RunBuilder::new().batch(num_batch(2)), 6);
    h.start();
    let a = h.step(Input::TriggerNextBatch);
    assert_eq!(
        a,
        [
            Action::BatchStarted { batch: 1 },
            dispatch(2, 1),
            dispatch(3, 1)
        ]
    );
    assert_eq!(h.run.current_batch(), Some(1));
    // Batch 2 waits for batch 1 (section 3), not for batch 0.
    h.ok(2);
    assert_eq!(dispatched(&h.ok(3)), [4, 5]);
    // Stopped runs refuse the trigger.
    h.step(Input::Stop);
    assert!(matches!(
        h.refuse(Input::TriggerNextBatch),
        ErrorKind::IllegalCommand {
            command: "trigger the next batch of",
            status: RunStatus::Stopped
        }
    ));
}

#[test]
fn r16_all_terminal_while_paused_completes() {
    let gate = GroupGate {
        success: None,
        error: Some(GatePercent::new(0.0).unwrap()),
    };
    let mut h = H::new(RunBuilder::new().gate(gate), 2);
    h.start();
    h.fail(0);
    assert_eq!(h.status(), RunStatus::Paused);
    h.ok(1);
    assert_eq!(h.status(), RunStatus::Complete);
    assert!(h.run.is_settled());
}

// ===== 17.6 Maintenance windows in a run =====

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2026-03-01T00:00:00Z, a Sunday.
const MARCH_1: i64 = 1_772_323_200_000;

fn windows(list: &[(&str, u32)]) -> MaintenanceWindows {
    MaintenanceWindows::new(
        list.iter()
            .map(|(cron, minutes)| MaintenanceWindow::parse(cron, *minutes).unwrap())
            .collect(),
    )
}

/// Open 02:00-03:00 UTC every day; run time 0 is 1 March 2026, 00:00 UTC.
fn nightly() -> RunBuilder {
    RunBuilder::new()
        .maintenance_windows(windows(&[("cron(0 2 * * ? *)", 60)]))
        .clock_origin_ms(MARCH_1)
}

/// Run time of day `day` (1 = 1 March), `h:m` UTC.
fn clock(day: i64, h: i64, m: i64) -> i64 {
    (day - 1) * DAY + h * HOUR + m * MIN
}

fn window_timer_at(actions: &[Action]) -> Option<i64> {
    actions.iter().find_map(|a| match a {
        Action::SetTimer {
            at_ms,
            timer: Timer::Window,
        } => Some(*at_ms),
        _ => None,
    })
}

fn window_timer() -> Input {
    Input::Timer(Timer::Window)
}

#[test]
fn r17_the_worked_example() {
    // The doc's example: N = 6, batches of 3, one retry after a failure, window 02:00-03:00.
    let mut h = H::new(
        nightly()
            .batch(num_batch(3))
            .retry(RetryPolicy::new(1, 0).unwrap()),
        6,
    );
    h.at(clock(1, 1, 50));
    let a = h.start();
    assert_eq!(
        a,
        [
            Action::Status(RunStatus::Running),
            Action::SetTimer {
                at_ms: clock(1, 2, 0),
                timer: Timer::Window
            }
        ]
    );
    assert_eq!(h.run.batches()[0].started_ms, None);
    assert_eq!((h.run.window_waits(), h.counts()), (1, (6, 0, 0, 0, 0)));
    h.at(clock(1, 2, 0));
    let a = h.step(window_timer());
    assert_eq!(a[0], Action::BatchStarted { batch: 0 });
    assert_eq!(dispatched(&a), [0, 1, 2]);
    assert_eq!(h.run.batches()[0].started_ms, Some(clock(1, 2, 0)));
    h.at(clock(1, 2, 30));
    assert_eq!(h.ok(0), []);
    assert_eq!(h.ok(1), []);
    // The window closed at 03:00: the retry waits for the next opening.
    h.at(clock(1, 3, 10));
    let a = h.fail(2);
    assert_eq!(
        a,
        [Action::SetTimer {
            at_ms: clock(2, 2, 0),
            timer: Timer::Window
        }]
    );
    assert_eq!(h.run.device_state(2), DeviceState::Pending);
    assert_eq!(h.status(), RunStatus::Running);
    assert_eq!(h.run.window_waits(), 2);
    h.at(clock(2, 2, 0));
    assert_eq!(h.step(window_timer()), [dispatch(2, 2)]);
    h.at(clock(2, 2, 5));
    let a = h.ok(2);
    assert_eq!(
        a[..2],
        [
            Action::BatchFinished { batch: 0 },
            Action::BatchStarted { batch: 1 }
        ]
    );
    assert_eq!(dispatched(&a), [3, 4, 5]);
    h.at(clock(2, 3, 20));
    for d in 3..6 {
        h.ok(d);
    }
    assert_eq!(h.status(), RunStatus::Complete, "complete while closed");
    assert_eq!(h.counts(), (0, 0, 6, 0, 0));
    assert_eq!(h.run.finished_ms(), Some(clock(2, 3, 20)));
    assert_eq!((h.run.window_waits(), h.run.window_timer()), (2, None));
}

#[test]
fn r17_a_run_started_outside_its_windows_is_running_and_waits() {
    let mut h = H::new(nightly().max_execution_ms(DAY), 3);
    h.at(clock(1, 12, 0));
    let a = h.start();
    assert_eq!(
        a,
        [
            Action::Status(RunStatus::Running),
            Action::SetTimer {
                at_ms: clock(2, 12, 0),
                timer: Timer::Deadline
            },
            Action::SetTimer {
                at_ms: clock(2, 2, 0),
                timer: Timer::Window
            },
        ]
    );
    assert_eq!(h.run.window_timer(), Some(clock(2, 2, 0)));
    assert_eq!(h.run.dispatch_timer(), None);
    assert_eq!(
        AwsExecutionStatus::from(h.run.device_state(0)).as_str(),
        "QUEUED"
    );
    // Inside the window, the same run dispatches at once.
    let mut h = H::new(nightly(), 3);
    h.at(clock(1, 2, 0));
    assert_eq!(dispatched(&h.start()), [0, 1, 2]);
    assert_eq!((h.run.window_waits(), h.run.window_timer()), (0, None));
    // The end of an opening is excluded.
    let mut h = H::new(nightly(), 3);
    h.at(clock(1, 3, 0));
    assert_eq!(window_timer_at(&h.start()), Some(clock(2, 2, 0)));
}

#[test]
fn r17_the_window_closes_mid_batch_and_the_rate_waits_for_the_next() {
    // N = 5, one batch, 2 per minute, a window of 2 minutes at 02:00. The rate lets 4 out
    // before the window closes; in-flight devices finish; the fifth goes at the next opening.
    let mut h = H::new(
        RunBuilder::new()
            .max_per_minute(2)
            .maintenance_windows(windows(&[("cron(0 2 * * ? *)", 2)]))
            .clock_origin_ms(MARCH_1),
        5,
    );
    h.at(clock(1, 2, 0));
    let a = h.start();
    assert_eq!(dispatched(&a), [0, 1]);
    assert_eq!(timer_at(&a), Some(clock(1, 2, 1)));
    h.at(clock(1, 2, 1));
    let a = h.step(Input::Timer(Timer::Dispatch));
    assert_eq!(dispatched(&a), [2, 3]);
    assert_eq!(timer_at(&a), Some(clock(1, 2, 2)));
    h.at(clock(1, 2, 1) + 30_000);
    assert_eq!(h.ok(0), [], "the rate is full");
    h.at(clock(1, 2, 2));
    // The dispatch timer comes while the window is closed: no dispatch, no new dispatch
    // timer, a window timer instead.
    let a = h.step(Input::Timer(Timer::Dispatch));
    assert_eq!(
        a,
        [Action::SetTimer {
            at_ms: clock(2, 2, 0),
            timer: Timer::Window
        }]
    );
    assert_eq!(h.run.dispatch_timer(), None);
    h.at(clock(1, 2, 5));
    for d in 1..4 {
        assert_eq!(h.ok(d), [], "in-flight devices finish; nothing new goes");
    }
    assert_eq!(h.status(), RunStatus::Running);
    assert_eq!(h.counts(), (1, 0, 4, 0, 0));
    assert_eq!(h.run.window_waits(), 1, "one wait, one timer");
    h.at(clock(2, 2, 0));
    let a = h.step(window_timer());
    assert_eq!(a, [dispatch(4, 1)]);
    h.ok(4);
    assert_eq!(h.status(), RunStatus::Complete);
}

#[test]
fn r17_a_retry_while_closed_waits_for_the_window() {
    let mut h = H::new(nightly().retry(RetryPolicy::new(0, 2).unwrap()), 2);
    h.at(clock(1, 2, 30));
    h.start();
    h.at(clock(1, 2, 40));
    assert_eq!(
        h.out(0, Outcome::TimedOut),
        [dispatch(0, 2)],
        "open: at once"
    );
    h.at(clock(1, 3, 10));
    let a = h.out(0, Outcome::TimedOut);
    assert_eq!(window_timer_at(&a), Some(clock(2, 2, 0)));
    assert_eq!(dispatched(&a), Vec::<u32>::new());
    assert_eq!(h.run.device_state(0), DeviceState::Pending);
    assert_eq!(h.counts(), (1, 1, 0, 0, 0));
    assert_eq!(
        h.run.retries_used(0),
        (0, 1),
        "the queued retry is not used yet"
    );
    // Device 1 finishing does not complete the run, nor ask for a second timer.
    assert_eq!(h.ok(1), []);
    assert_eq!(h.run.window_waits(), 1);
    h.at(clock(2, 2, 0));
    assert_eq!(h.step(window_timer()), [dispatch(0, 3)]);
    assert_eq!(h.run.retries_used(0), (0, 2));
    h.ok(0);
    assert_eq!(h.status(), RunStatus::Complete);
}

#[test]
fn r17_the_next_batch_starts_at_the_next_opening() {
    let mut h = H::new(nightly().batch(num_batch(2)), 4);
    h.at(clock(1, 2, 50));
    h.start();
    h.at(clock(1, 3, 5));
    h.ok(0);
    let a = h.ok(1);
    assert_eq!(
        a,
        [
            Action::BatchFinished { batch: 0 },
            Action::SetTimer {
                at_ms: clock(2, 2, 0),
                timer: Timer::Window
            }
        ]
    );
    assert_eq!(h.run.current_batch(), Some(0));
    assert_eq!(h.run.batches()[1].started_ms, None);
    h.at(clock(2, 2, 0));
    let a = h.step(window_timer());
    assert_eq!(
        a,
        [
            Action::BatchStarted { batch: 1 },
            dispatch(2, 1),
            dispatch(3, 1)
        ]
    );
    assert_eq!(h.run.batches()[1].started_ms, Some(clock(2, 2, 0)));
}

#[test]
fn r17_a_run_completes_while_every_window_is_closed() {
    let mut h = H::new(nightly(), 2);
    h.at(clock(1, 2, 30));
    h.start();
    h.at(clock(1, 4, 0));
    assert_eq!(h.ok(0), [], "nothing left to dispatch: no wait, no timer");
    assert_eq!(
        h.fail(1),
        [
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Complete)
        ]
    );
    assert!(h.run.is_settled());
    assert_eq!((h.run.window_waits(), h.run.window_timer()), (0, None));
    // Zero targets complete at once, window or not.
    let mut h = H::new(nightly(), 0);
    h.at(clock(1, 12, 0));
    assert_eq!(
        h.start(),
        [
            Action::Status(RunStatus::Running),
            Action::Status(RunStatus::Complete)
        ]
    );
}

#[test]
fn r17_the_deadline_runs_while_the_run_waits() {
    let mut h = H::new(nightly().max_execution_ms(5 * MIN), 3);
    h.at(clock(1, 1, 50));
    h.start();
    h.at(clock(1, 1, 55));
    h.step(Input::Timer(Timer::Deadline));
    assert_eq!(h.status(), RunStatus::Complete);
    assert_eq!(h.run.device_states(), [DeviceState::TimedOut; 3]);
    // The window timer comes back to a finished run: used up, ignored.
    h.at(clock(1, 2, 0));
    assert_eq!(h.step(window_timer()), []);
    assert_eq!(h.run.window_timer(), None);
}

#[test]
fn r17_stop_and_resume_across_a_window() {
    let mut h = H::new(nightly().batch(num_batch(2)), 4);
    h.at(clock(1, 1, 50));
    h.start();
    h.step(Input::Stop);
    // The timer comes back while stopped: used up, nothing dispatched.
    h.at(clock(1, 2, 0));
    assert_eq!(h.step(window_timer()), []);
    assert_eq!(h.run.window_timer(), None);
    // Resume inside the window dispatches at once.
    h.at(clock(1, 2, 50));
    let a = h.step(Input::Resume);
    assert_eq!(dispatched(&a), [0, 1]);
    h.step(Input::Stop);
    h.at(clock(1, 3, 10));
    h.ok(0);
    h.ok(1);
    assert_eq!(h.status(), RunStatus::Stopped);
    // Resume outside the window: running again, and asks for the next opening.
    h.at(clock(1, 3, 20));
    let a = h.step(Input::Resume);
    assert_eq!(
        a,
        [
            Action::Status(RunStatus::Running),
            Action::SetTimer {
                at_ms: clock(2, 2, 0),
                timer: Timer::Window
            }
        ]
    );
    assert_eq!(h.run.window_waits(), 2);
    h.at(clock(2, 2, 0));
    assert_eq!(dispatched(&h.step(window_timer())), [2, 3]);
}

#[test]
fn r17_stale_and_unasked_window_timers_are_ignored() {
    // A run without windows.
    let mut h = H::new(RunBuilder::new(), 2);
    h.start();
    assert_eq!(h.step(window_timer()), []);
    // A run inside its window, with no window timer outstanding.
    let mut h = H::new(nightly().batch(num_batch(1)), 2);
    h.at(clock(1, 2, 0));
    h.start();
    let before = Snapshot::of(&h.run);
    assert_eq!(h.step(window_timer()), []);
    assert_eq!(Snapshot::of(&h.run), before);
    // A timer handed back twice: the second is stale.
    h.at(clock(1, 3, 0));
    assert_eq!(window_timer_at(&h.ok(0)), Some(clock(2, 2, 0)));
    h.at(clock(2, 2, 0));
    assert_eq!(dispatched(&h.step(window_timer())), [1]);
    let before = Snapshot::of(&h.run);
    assert_eq!(h.step(window_timer()), []);
    assert_eq!(Snapshot::of(&h.run), before);
}

#[test]
fn r17_windows_that_never_open_again_wait_for_ever() {
    let never = || {
        RunBuilder::new()
            .maintenance_windows(windows(&[("cron(0 12 * * ? 2001)", 60)]))
            .clock_origin_ms(MARCH_1)
    };
    let mut h = H::new(never(), 2);
    assert_eq!(h.start(), [Action::Status(RunStatus::Running)]);
    assert_eq!((h.run.window_waits(), h.run.window_timer()), (0, None));
    h.at(10 * 365 * DAY);
    assert_eq!(h.step(window_timer()), []);
    h.step(Input::Cancel { force: false });
    assert_eq!(h.counts(), (0, 0, 0, 0, 2));
    assert!(h.run.is_settled());
    // Or a deadline ends it.
    let mut h = H::new(never().max_execution_ms(HOUR), 2);
    h.start();
    h.at(HOUR);
    h.step(Input::Timer(Timer::Deadline));
    assert_eq!(h.status(), RunStatus::Complete);
    assert_eq!(h.counts(), (0, 0, 0, 2, 0));
}

#[test]
fn r17_the_clock_origin_shifts_the_windows() {
    let w = || windows(&[("cron(0 2 * * ? *)", 60)]);
    // Run time 0 is 02:00 UTC: open.
    let mut h = H::new(
        RunBuilder::new()
            .maintenance_windows(w())
            .clock_origin_ms(MARCH_1 + 2 * HOUR),
        1,
    );
    assert_eq!(dispatched(&h.start()), [0]);
    // Run time 0 is 00:00 UTC: the window opens at run time 2 h.
    let mut h = H::new(
        RunBuilder::new()
            .maintenance_windows(w())
            .clock_origin_ms(MARCH_1),
        1,
    );
    assert_eq!(window_timer_at(&h.start()), Some(2 * HOUR));
    assert_eq!(h.run.clock_origin_ms(), MARCH_1);
    // Without an origin, run times are Unix times: 1 March 2026, 02:30 UTC is open.
    let mut h = H::new(RunBuilder::new().maintenance_windows(w()), 1);
    h.at(MARCH_1 + 2 * HOUR + 30 * MIN);
    assert_eq!(dispatched(&h.start()), [0]);
    assert_eq!(h.run.clock_origin_ms(), 0);
    assert_eq!(h.run.maintenance_windows(), Some(&w()));
}

#[test]
fn r17_gates_still_decide_while_closed() {
    // Success 100 % NEXTGROUP over 2 groups of 2: batch 0 ends below its threshold while the
    // window is closed: the run pauses at once, not at the next opening.
    let mut h = H::new(
        nightly()
            .batch(BatchSize::groups(2).unwrap())
            .gate(success_gate(100.0, SuccessAction::NextBatch)),
        4,
    );
    h.at(clock(1, 2, 30));
    h.start();
    h.at(clock(1, 3, 30));
    h.ok(0);
    assert_eq!(
        h.fail(1),
        [
            Action::BatchFinished { batch: 0 },
            Action::Status(RunStatus::Paused)
        ]
    );
    assert_eq!(h.run.pauses()[0].at_ms, clock(1, 3, 30));
    assert_eq!(
        h.run.window_timer(),
        None,
        "a paused run does not wait for a window"
    );
    // A trigger goes on: running, and batch 1 starts at the next opening.
    h.at(clock(1, 4, 0));
    let a = h.step(Input::TriggerNextBatch);
    assert_eq!(
        a,
        [
            Action::Status(RunStatus::Running),
            Action::SetTimer {
                at_ms: clock(2, 2, 0),
                timer: Timer::Window
            }
        ]
    );
    h.at(clock(2, 2, 0));
    assert_eq!(dispatched(&h.step(window_timer())), [2, 3]);
}

#[test]
fn r17_a_cancel_while_waiting_cancels_the_queued_devices() {
    let mut h = H::new(nightly().retry(RetryPolicy::new(1, 0).unwrap()), 3);
    h.at(clock(1, 1, 0));
    h.start();
    h.at(clock(1, 2, 0));
    h.step(window_timer());
    h.at(clock(1, 3, 0));
    h.fail(0); // queued for the next opening
    h.ok(1);
    h.step(Input::Cancel { force: false });
    assert_eq!(h.counts(), (0, 1, 1, 0, 1));
    assert_eq!(h.run.device_state(0), DeviceState::Cancelled);
    h.ok(2);
    assert!(h.run.is_settled());
    h.at(clock(2, 2, 0));
    assert_eq!(h.step(window_timer()), []);
}

#[test]
fn r17_an_empty_window_set_is_refused_and_a_rerun_keeps_the_windows() {
    let e = RunBuilder::new()
        .maintenance_windows(MaintenanceWindows::new(Vec::new()))
        .build(3)
        .unwrap_err();
    assert_eq!(e.path(), Some("maintenance_windows"));
    assert!(matches!(e.kind(), ErrorKind::InvalidValue(_)));
    let mut h = H::new(nightly(), 3);
    h.at(clock(1, 2, 0));
    h.start();
    h.fail(0);
    h.ok(1);
    h.fail(2);
    let (rerun, indices) = h.run.rerun().unwrap();
    assert_eq!(indices, [0, 2]);
    let mut h = H {
        run: rerun,
        now: clock(1, 4, 0),
    };
    assert_eq!(window_timer_at(&h.start()), Some(clock(2, 2, 0)));
    assert_eq!(h.run.clock_origin_ms(), MARCH_1);
}

// ===== the doc's tables =====

const DOC: &str = include_str!("../../../docs/semantics.md");

/// The rows of the table that follows the marker `<!-- checked: NAME -->`, split into cells,
/// without the header and separator rows.
fn doc_table(name: &str) -> Vec<Vec<String>> {
    let marker = format!("<!-- checked: {name} -->");
    let start = DOC
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/semantics.md has no table {name}"));
    let rows: Vec<Vec<String>> = DOC[start + marker.len()..]
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.trim_start().starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace(['`', ','], ""))
                .collect()
        })
        .skip(2)
        .collect();
    assert!(!rows.is_empty(), "table {name} is empty");
    rows
}

/// `25%` -> a percentage, `3` -> a number, `4 groups` -> equal groups, `none` -> no batch.
fn doc_batch(cell: &str) -> Option<BatchSize> {
    match cell {
        "none" => None,
        c if c.ends_with(" groups") => {
            Some(BatchSize::groups(c.trim_end_matches(" groups").parse().unwrap()).unwrap())
        }
        c if c.ends_with('%') => Some(pct_batch(c.trim_end_matches('%').parse().unwrap())),
        c => Some(num_batch(c.parse().unwrap())),
    }
}

#[test]
fn doc_tables_batch_sizes() {
    // | N | batch | batches |
    for row in doc_table("batch-sizes") {
        let n: u32 = row[0].parse().unwrap();
        let expected: Vec<u32> = if row[2] == "none" {
            Vec::new()
        } else {
            // "2 2 2 1" or "330 x 3 10" (x: repeated)
            let words: Vec<&str> = row[2].split_whitespace().collect();
            let mut out = Vec::new();
            let mut i = 0;
            while i < words.len() {
                let v: u32 = words[i].parse().unwrap();
                if words.get(i + 1) == Some(&"x") {
                    let k: usize = words[i + 2].parse().unwrap();
                    out.extend(std::iter::repeat_n(v, k));
                    i += 3;
                } else {
                    out.push(v);
                    i += 1;
                }
            }
            out
        };
        assert_eq!(sizes(n, doc_batch(&row[1])), expected, "row {row:?}");
    }
}

#[test]
fn doc_tables_threshold_limits() {
    // | threshold | base | limit |
    for row in doc_table("threshold-limits") {
        let t = match row[0].strip_suffix('%') {
            Some(p) => Threshold::percentage(p.parse().unwrap(), false).unwrap(),
            None => Threshold::number(row[0].parse().unwrap(), false).unwrap(),
        };
        let base: u32 = row[1].parse().unwrap();
        let limit: u32 = row[2].parse().unwrap();
        assert_eq!(t.limit(base), limit, "row {row:?}");
    }
}

#[test]
fn doc_tables_illegal_commands() {
    // | status | start | stop | resume | cancel | fail | rerun | trigger next batch |
    let rows = doc_table("commands");
    let statuses = [
        "pending",
        "running",
        "stopped",
        "paused",
        "complete",
        "cancelled (in-flight devices finishing)",
        "cancelled (settled)",
        "failed",
    ];
    assert_eq!(
        rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        statuses
    );
    for row in rows {
        // Two batches of one device, so that a next batch exists to trigger.
        let make = || -> H {
            let builder = RunBuilder::new().batch(num_batch(1));
            let mut h = match row[0].as_str() {
                // A gate that pauses once device 0 has succeeded.
                "paused" => H::new(builder.gate(success_gate(100.0, SuccessAction::Pause)), 2),
                _ => H::new(builder, 2),
            };
            match row[0].as_str() {
                "pending" => {}
                "running" => {
                    h.start();
                }
                "stopped" => {
                    h.start();
                    h.step(Input::Stop);
                }
                "paused" => {
                    h.start();
                    h.ok(0);
                    assert_eq!(h.status(), RunStatus::Paused);
                }
                "complete" => {
                    h.start();
                    h.ok(0);
                    h.fail(1);
                }
                "cancelled (in-flight devices finishing)" => {
                    h.start();
                    h.step(Input::Cancel { force: false });
                }
                "cancelled (settled)" => {
                    h.step(Input::Cancel { force: false });
                }
                "failed" => {
                    h.step(Input::Fail);
                }
                other => panic!("unknown status {other}"),
            }
            h
        };
        let commands = [
            Some(Input::Start),
            Some(Input::Stop),
            Some(Input::Resume),
            None, // cancel: soft and forced are checked below
            Some(Input::Fail),
        ];
        let check = |input: Option<Input>, expected: &str, column: usize| {
            let inputs = match input {
                Some(input) => vec![input],
                None => vec![
                    Input::Cancel { force: false },
                    Input::Cancel { force: true },
                ],
            };
            let mut results = Vec::new();
            for input in inputs {
                let mut h = make();
                let before = Snapshot::of(&h.run);
                let mut actions = Vec::new();
                let r = h.run.handle(h.now, input, &mut actions);
                if r.is_err() {
                    assert_eq!(Snapshot::of(&h.run), before);
                    assert!(actions.is_empty());
                }
                results.push(r.is_ok());
            }
            let got = match results.as_slice() {
                [true] | [true, true] => "ok",
                [false] | [false, false] => "error",
                [false, true] => "forced only",
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(got, expected, "row {row:?}, column {column}");
        };
        for (i, input) in commands.iter().enumerate() {
            check(*input, row[i + 1].as_str(), i + 1);
        }
        let rerun = if make().run.rerun().is_ok() {
            "ok"
        } else {
            "error"
        };
        assert_eq!(rerun, row[6], "row {row:?}, rerun");
        check(Some(Input::TriggerNextBatch), row[7].as_str(), 7);
    }
}

#[test]
fn doc_tables_aws_device_states() {
    // | device state | AWS execution status |
    use fleet_core::model::Vocabulary;
    let rows = doc_table("aws-device-states");
    assert_eq!(rows.len(), 7);
    for row in rows {
        let state = [P, I, S, F, R, T, C]
            .into_iter()
            .find(|s| s.as_str() == row[0])
            .unwrap_or_else(|| panic!("unknown state {}", row[0]));
        let word = AwsExecutionStatus::from(state);
        assert_eq!(word.as_str(), row[1], "row {row:?}");
        assert_eq!(word.device_state(), state);
        assert_eq!(AwsExecutionStatus::parse_word(&row[1]).unwrap().0, word);
    }
    assert_eq!(AwsExecutionStatus::Removed.device_state(), C);
}

#[test]
fn doc_tables_ramp_rates() {
    // | base | factor | maximum | rates |
    for row in doc_table("ramp-rates") {
        let base: u32 = row[0].parse().unwrap();
        let factor: f64 = row[1].parse().unwrap();
        let max: u32 = row[2].parse().unwrap();
        let rates: Vec<u32> = row[3]
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        let ramp = ExponentialRamp::new(base, factor, RampCriterion::Notified(1)).unwrap();
        assert_eq!(ramp.schedule(max), rates, "row {row:?}");
        // And the run climbs through them, one increase per device notified.
        let mut h = H::new(RunBuilder::new().max_per_minute(max).ramp(ramp), 1);
        assert_eq!(h.run.rate_per_minute(), Some(base));
        h.start();
        assert_eq!(h.run.rate_per_minute(), Some(rates[1.min(rates.len() - 1)]));
    }
}

#[test]
fn doc_tables_abort_criteria() {
    // | type | threshold | minimum | executed | failures | holds |
    for row in doc_table("abort-criteria") {
        let kind = match row[0].as_str() {
            "FAILED" => FailureType::Failed,
            "REJECTED" => FailureType::Rejected,
            "TIMED_OUT" => FailureType::TimedOut,
            "ALL" => FailureType::All,
            other => panic!("unknown type {other}"),
        };
        let p: f64 = row[1].trim_end_matches('%').parse().unwrap();
        let c = AbortCriterion::new(kind, p, row[2].parse().unwrap()).unwrap();
        let holds = c.trips(row[3].parse().unwrap(), row[4].parse().unwrap());
        assert_eq!(if holds { "yes" } else { "no" }, row[5], "row {row:?}");
    }
}

#[test]
fn doc_tables_gate_limits() {
    // | condition | threshold | batch size | devices needed |
    for row in doc_table("gate-limits") {
        let p = GatePercent::new(row[1].trim_end_matches('%').parse().unwrap()).unwrap();
        let size: u32 = row[2].parse().unwrap();
        let needed = match row[0].as_str() {
            "success" => p.at_least(size),
            "error" => p.more_than(size),
            other => panic!("unknown condition {other}"),
        };
        assert_eq!(needed, row[3].parse::<u32>().unwrap(), "row {row:?}");
    }
}
