//! What the driver writes to its store about a run: its document, each engine input it took
//! (one row per [`fleet_sim::Agenda::input`]), and its summary once it settled.
//!
//! An input row is (time, kind, device, attempt, value); the value carries the device's reason
//! code after an outcome or a device timeout (the executor's reason rules are replayed from it,
//! never recomputed) and whether a cancel was forced.

use fleet_core::model::{Job, JobRequest};
use fleet_core::{Counts, Input, JobRun, Outcome, RunBuilder, RunStatus, Timer};
use serde::{Deserialize, Serialize};

use crate::store::InputRow;

/// What a stored run's `doc` holds besides the row's columns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RunDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) central: Option<Job>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) hub: Option<JobRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) device_timeout_ms: Option<i64>,
    /// For a rerun: the IoT Central job whose failed devices it runs (its targets, taken when
    /// it starts; the source has settled, so they are fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rerun_of: Option<String>,
}

impl RunDoc {
    /// The run's engine settings.
    pub(super) fn builder(&self) -> Result<RunBuilder, fleet_core::Error> {
        let mut b = match (&self.central, &self.hub) {
            (Some(job), _) => job.run_builder()?,
            (None, Some(req)) => req.run_builder()?,
            (None, None) => RunBuilder::new(),
        };
        if let Some(ms) = self.device_timeout_ms {
            b = b.device_timeout_ms(ms);
        }
        Ok(b)
    }
}

/// Logged input kinds.
pub(super) const IN_START: u8 = 0;
const IN_OUTCOME: u8 = 1;
const IN_DEADLINE: u8 = 2;
const IN_DEVICE_TIMEOUT: u8 = 3;
const IN_STOP: u8 = 4;
const IN_RESUME: u8 = 5;
pub(super) const IN_CANCEL: u8 = 6;
pub(super) const IN_FAIL: u8 = 7;
const IN_DISPATCH: u8 = 8;
const IN_WINDOW: u8 = 9;
const IN_TRIGGER: u8 = 10;

fn outcome_code(o: Outcome) -> i64 {
    match o {
        Outcome::Succeeded => 0,
        Outcome::Failed => 1,
        Outcome::Rejected => 2,
        Outcome::TimedOut => 3,
    }
}

fn outcome_of(code: i64) -> Outcome {
    match code & 0xff {
        0 => Outcome::Succeeded,
        1 => Outcome::Failed,
        2 => Outcome::Rejected,
        _ => Outcome::TimedOut,
    }
}

/// The row of an input the run took at `at_ms` (`reason`: the device's reason code after an
/// outcome or a device timeout).
pub(super) fn row_of(at_ms: i64, input: Input, reason: u8) -> InputRow {
    let (kind, device, attempt, value) = match input {
        Input::Start => (IN_START, 0, 0, 0),
        Input::Outcome {
            device,
            attempt,
            outcome,
        } => (
            IN_OUTCOME,
            device,
            attempt,
            outcome_code(outcome) | i64::from(reason) << 8,
        ),
        Input::Timer(Timer::Deadline) => (IN_DEADLINE, 0, 0, 0),
        Input::Timer(Timer::DeviceTimeout { device, attempt }) => {
            (IN_DEVICE_TIMEOUT, device, attempt, i64::from(reason))
        }
        Input::Timer(Timer::Dispatch) => (IN_DISPATCH, 0, 0, 0),
        Input::Timer(Timer::Window) => (IN_WINDOW, 0, 0, 0),
        Input::Stop => (IN_STOP, 0, 0, 0),
        Input::Resume => (IN_RESUME, 0, 0, 0),
        Input::Cancel { force } => (IN_CANCEL, 0, 0, i64::from(force)),
        Input::Fail => (IN_FAIL, 0, 0, 0),
        Input::TriggerNextBatch => (IN_TRIGGER, 0, 0, 0),
        _ => unreachable!("the driver logs every input kind of the engine it was built with"),
    };
    InputRow {
        at_ms,
        kind,
        device,
        attempt,
        value,
    }
}

/// The engine input of a logged row, and the reason code it was logged with.
pub(super) fn input_of(row: &InputRow) -> (Input, u8) {
    let input = match row.kind {
        IN_START => Input::Start,
        IN_OUTCOME => Input::Outcome {
            device: row.device,
            attempt: row.attempt,
            outcome: outcome_of(row.value),
        },
        IN_DEADLINE => Input::Timer(Timer::Deadline),
        IN_DEVICE_TIMEOUT => Input::Timer(Timer::DeviceTimeout {
            device: row.device,
            attempt: row.attempt,
        }),
        IN_DISPATCH => Input::Timer(Timer::Dispatch),
        IN_WINDOW => Input::Timer(Timer::Window),
        IN_STOP => Input::Stop,
        IN_RESUME => Input::Resume,
        IN_CANCEL => Input::Cancel {
            force: row.value != 0,
        },
        IN_TRIGGER => Input::TriggerNextBatch,
        _ => Input::Fail,
    };
    let reason = match row.kind {
        IN_OUTCOME => (row.value >> 8) as u8,
        IN_DEVICE_TIMEOUT => row.value as u8,
        _ => 0,
    };
    (input, reason)
}

/// What is kept of a settled run once its per-device state is evicted from memory (it is
/// rebuilt from the log when its devices are listed or it is rerun). Stored with the run when
/// it settles, so that a restart does not replay settled runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Summary {
    pub(super) status: RunStatus,
    pub(super) counts: Counts,
    pub(super) started: Option<i64>,
    pub(super) finished: Option<i64>,
}

impl Summary {
    pub(super) fn of(job: &JobRun) -> Self {
        Self {
            status: job.status(),
            counts: job.counts(),
            started: job.started_ms(),
            finished: job.finished_ms(),
        }
    }

    pub(super) fn to_json(self) -> String {
        serde_json::to_string(&self).expect("a summary serializes")
    }

    /// The summary of a settled run; `None` for a damaged one or a status that is not final.
    pub(super) fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str::<Self>(text)
            .ok()
            .filter(|s| s.status.is_final())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_round_trips_through_its_row() {
        let inputs = [
            (Input::Start, 0),
            (
                Input::Outcome {
                    device: 7,
                    attempt: 2,
                    outcome: Outcome::Rejected,
                },
                2,
            ),
            (Input::Timer(Timer::Deadline), 0),
            (
                Input::Timer(Timer::DeviceTimeout {
                    device: 3,
                    attempt: 1,
                }),
                6,
            ),
            (Input::Timer(Timer::Dispatch), 0),
            (Input::Timer(Timer::Window), 0),
            (Input::Stop, 0),
            (Input::Resume, 0),
            (Input::Cancel { force: true }, 0),
            (Input::Cancel { force: false }, 0),
            (Input::Fail, 0),
            (Input::TriggerNextBatch, 0),
        ];
        for (input, reason) in inputs {
            let row = row_of(42, input, reason);
            assert_eq!(row.at_ms, 42);
            assert_eq!(input_of(&row), (input, reason), "{input:?}");
        }
    }

    #[test]
    fn summaries_round_trip_and_refuse_unsettled_ones() {
        let s = Summary {
            status: RunStatus::Cancelled,
            counts: Counts {
                total: 10,
                pending: 0,
                in_flight: 0,
                succeeded: 3,
                failed: 2,
                cancelled: 5,
            },
            started: Some(1),
            finished: Some(9),
        };
        assert_eq!(Summary::from_json(&s.to_json()), Some(s));
        let running = Summary {
            status: RunStatus::Running,
            ..s
        };
        assert_eq!(Summary::from_json(&running.to_json()), None);
        assert_eq!(Summary::from_json("{\"status\": 1}"), None);
    }
}
