//! Shared drivers for fleetsim's benches (criterion benches live in `benches/`).

#![deny(missing_docs)]

mod design_floor;
mod least_work;

pub use design_floor::{design_floor_rollout, DesignFloor};
pub use least_work::{least_work_rollout, LeastWork};

use fleet_core::{Action, BatchSize, Counts, Input, Outcome, RunBuilder, Threshold};

/// Drives a [`fleet_core::JobRun`] over `n` devices with synthetic outcomes and no simulator:
/// batches of 10 %, a job-wide threshold of 10 %, and every 50th device failing (2 %). Each wave
/// of dispatches is answered 1 s later, in dispatch order. The actions are taken in the
/// executor's compact form ([`fleet_core::JobRun::handle_compact`]). Returns the final counts.
pub fn drive_engine(n: u32) -> Counts {
    let mut run = RunBuilder::new()
        .batch(BatchSize::percentage(10.0).expect("valid batch"))
        .threshold(Threshold::percentage(10.0, false).expect("valid threshold"))
        .build(n)
        .expect("valid run");
    let mut actions = Vec::with_capacity(n as usize / 10 + 16);
    let mut wave: Vec<Action> = Vec::with_capacity(n as usize / 10 + 16);
    let mut now_ms = 0;
    run.handle_compact(now_ms, Input::Start, &mut actions)
        .expect("start a pending run");
    while !actions.is_empty() {
        std::mem::swap(&mut actions, &mut wave);
        now_ms += 1_000;
        for action in wave.drain(..).flat_map(Action::each) {
            if let Action::Dispatch { device, attempt } = action {
                let outcome = if device % 50 == 7 {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                };
                let input = Input::Outcome {
                    device,
                    attempt,
                    outcome,
                };
                run.handle_compact(now_ms, input, &mut actions)
                    .expect("an in-flight device");
            }
        }
    }
    run.counts()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_rollout_completes_with_two_percent_failed() {
        let counts = drive_engine(10_000);
        assert_eq!(counts.total, 10_000);
        assert_eq!(counts.failed, 200);
        assert_eq!(counts.succeeded, 9_800);
        assert!(counts.is_consistent());
    }
}
