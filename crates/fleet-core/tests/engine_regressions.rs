//! The shrunk failures that `engine_props.rs` found, kept as explicit tests (their seeds are in
//! `proptest-regressions/engine_props.txt` too). Each names the rule of `docs/semantics.md` it
//! guards and the fix it checks.

use fleet_core::{Action, Input, Outcome, RetryPolicy, RunBuilder, RunStatus, Threshold, Timer};

fn handle(run: &mut fleet_core::JobRun, now: i64, input: Input) -> Vec<Action> {
    let mut actions = Vec::new();
    run.handle(now, input, &mut actions)
        .unwrap_or_else(|e| panic!("{input:?} refused: {e}"));
    assert!(run.counts().is_consistent());
    actions
}

/// Shrunk: `n = 1000, steps = [Deadline]` (no deadline configured, run pending). The engine
/// timed out all 1,000 targets and went from `pending` straight to `complete` without ever
/// starting. Fixed in `JobRun::handle`: a deadline timer the run never asked for is ignored.
#[test]
fn deadline_timer_before_start_is_ignored() {
    for builder in [RunBuilder::new(), RunBuilder::new().max_execution_ms(1_000)] {
        let mut run = builder.build(1_000).unwrap();
        assert_eq!(handle(&mut run, 5_000, Input::Timer(Timer::Deadline)), []);
        assert_eq!(run.status(), RunStatus::Pending);
        assert_eq!(run.counts().pending, 1_000);
        // The run starts normally afterwards.
        let actions = handle(&mut run, 6_000, Input::Start);
        assert_eq!(actions[0], Action::Status(RunStatus::Running));
        assert_eq!(run.counts().in_flight, 1_000);
    }
}

/// Shrunk: `n = 0, steps = [Deadline]`: a zero-target run completed before it was started.
#[test]
fn deadline_timer_before_start_of_an_empty_run_is_ignored() {
    let mut run = RunBuilder::new().build(0).unwrap();
    assert_eq!(handle(&mut run, 0, Input::Timer(Timer::Deadline)), []);
    assert_eq!(run.status(), RunStatus::Pending);
    assert_eq!(
        handle(&mut run, 1, Input::Start),
        [
            Action::Status(RunStatus::Running),
            Action::Status(RunStatus::Complete)
        ]
    );
}

/// Shrunk: `threshold 1 % job-wide, n = 1, steps = [Deadline]`: same bug, with a threshold.
#[test]
fn deadline_timer_before_start_with_a_threshold_is_ignored() {
    let mut run = RunBuilder::new()
        .threshold(Threshold::percentage(1.0, false).unwrap())
        .build(1)
        .unwrap();
    assert_eq!(handle(&mut run, 0, Input::Timer(Timer::Deadline)), []);
    assert_eq!(run.status(), RunStatus::Pending);
    assert_eq!(run.threshold_trip(), None);
}

/// Shrunk: `n = 2, steps = [Start, Deadline]` without a maximum execution time: the engine
/// timed out both in-flight devices and completed the run.
#[test]
fn deadline_timer_without_a_maximum_execution_time_is_ignored() {
    let mut run = RunBuilder::new().build(2).unwrap();
    handle(&mut run, 0, Input::Start);
    assert_eq!(handle(&mut run, 10, Input::Timer(Timer::Deadline)), []);
    assert_eq!(run.status(), RunStatus::Running);
    assert_eq!(run.counts().in_flight, 2);
}

/// Shrunk: `n = 1, retry failed 1, steps = [Start, Cancel(true)]` (and `n = 809`): a forced
/// cancel abandoned the last devices of the running batch but reported no `BatchFinished`, and
/// left the batch's `finished_ms` empty although every device of it was terminal. Fixed in
/// `JobRun::cancel`: a cancel finishes the started batches whose devices are all terminal.
#[test]
fn forced_cancel_finishes_the_running_batch() {
    for n in [1u32, 809] {
        let mut run = RunBuilder::new()
            .retry(RetryPolicy::new(1, 0).unwrap())
            .build(n)
            .unwrap();
        handle(&mut run, 0, Input::Start);
        let actions = handle(&mut run, 7, Input::Cancel { force: true });
        let abandoned: Vec<Action> = (0..n)
            .map(|device| Action::Abandon { device, attempt: 1 })
            .collect();
        assert_eq!(actions[..n as usize], abandoned[..]);
        assert_eq!(
            actions[n as usize..],
            [
                Action::BatchFinished { batch: 0 },
                Action::Status(RunStatus::Cancelled)
            ]
        );
        assert_eq!(run.batches()[0].finished_ms, Some(7));
        assert_eq!(run.counts().cancelled, n);
        assert!(run.is_settled());
        // A late answer is refused.
        let mut out = Vec::new();
        assert!(run
            .handle(
                8,
                Input::Outcome {
                    device: 0,
                    attempt: 1,
                    outcome: Outcome::Succeeded
                },
                &mut out
            )
            .is_err());
    }
}
