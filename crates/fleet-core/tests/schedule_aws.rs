//! AWS IoT Jobs' `schedulingConfig` (`docs/semantics.md`, "Schedules and maintenance windows"):
//! reading and writing the JSON, the checks, the engine input of each end behaviour, and the
//! dispatch gate.

use fleet_core::schedule::{
    EndAction, EndBehavior, Gate, MaintenanceWindow, MaintenanceWindows, ScheduleErrorKind,
    Scheduling, SchedulingConfig,
};
use fleet_core::Input;
use jiff::Timestamp;

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_millisecond()
}

fn config(json: &str) -> SchedulingConfig {
    serde_json::from_str(json).unwrap()
}

#[test]
fn the_json_round_trips() {
    let json = r#"{"startTime":"2024-05-10T17:00","endTime":"2024-05-20T17:00","endBehavior":"FORCE_CANCEL","maintenanceWindows":[{"startTime":"cron(0 22 ? * SAT *)","durationInMinutes":120}]}"#;
    let c = config(json);
    assert_eq!(c.end_behavior, Some(EndBehavior::ForceCancel));
    assert_eq!(
        c.maintenance_windows.as_ref().unwrap()[0].duration_in_minutes,
        120
    );
    assert_eq!(serde_json::to_string(&c).unwrap(), json);
    assert_eq!(
        serde_json::to_string(&SchedulingConfig::default()).unwrap(),
        "{}"
    );
    assert!(serde_json::from_str::<SchedulingConfig>(r#"{"endBehavior":"STOP"}"#).is_err());
    assert!(serde_json::from_str::<SchedulingConfig>(r#"{"timeZone":"UTC"}"#).is_err());
}

#[test]
fn end_behaviours_map_to_engine_inputs() {
    assert_eq!(EndBehavior::StopRollout.input(), Input::Stop);
    assert_eq!(EndBehavior::Cancel.input(), Input::Cancel { force: false });
    assert_eq!(
        EndBehavior::ForceCancel.input(),
        Input::Cancel { force: true }
    );
    assert_eq!(EndBehavior::StopRollout.as_str(), "STOP_ROLLOUT");
    assert_eq!(EndBehavior::ForceCancel.to_string(), "FORCE_CANCEL");
}

#[test]
fn times_are_rfc3339_or_aws_minutes_in_utc() {
    let s = config(r#"{"startTime":"2024-05-10T17:00","endTime":"2024-05-10T19:30:00+02:00"}"#)
        .compile()
        .unwrap();
    assert_eq!(s.start_ms(), Some(ms("2024-05-10T17:00:00Z")));
    assert_eq!(
        s.end_time(),
        Some((ms("2024-05-10T17:30:00Z"), EndBehavior::StopRollout))
    );
    let err = config(r#"{"startTime":"next tuesday"}"#)
        .compile()
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        ScheduleErrorKind::InvalidTime {
            field: "startTime",
            ..
        }
    ));
}

#[test]
fn the_end_comes_30_minutes_to_2_years_after_the_start() {
    let with_end = |end: &str| {
        config(&format!(
            r#"{{"startTime":"2024-05-10T17:00","endTime":"{end}"}}"#
        ))
        .compile()
    };
    assert!(with_end("2024-05-10T17:29").is_err());
    assert!(with_end("2024-05-10T17:30").is_ok());
    assert!(with_end("2026-05-10T17:00").is_ok());
    let err = with_end("2026-05-10T17:01").unwrap_err();
    assert!(matches!(
        err.kind(),
        ScheduleErrorKind::InvalidTime {
            field: "endTime",
            ..
        }
    ));
}

#[test]
fn windows_are_checked_and_an_empty_list_is_no_windows() {
    let err = config(
        r#"{"maintenanceWindows":[{"startTime":"cron(0 0 * * ? *)","durationInMinutes":1431}]}"#,
    )
    .compile()
    .unwrap_err();
    assert_eq!(err.kind(), &ScheduleErrorKind::DurationOutOfRange(1431));
    let err =
        config(r#"{"maintenanceWindows":[{"startTime":"0 0 * * *","durationInMinutes":60}]}"#)
            .compile()
            .unwrap_err();
    assert!(matches!(err.kind(), ScheduleErrorKind::Cron { .. }));
    let s = config(r#"{"maintenanceWindows":[]}"#).compile().unwrap();
    assert!(s.windows().is_none());
    assert_eq!(s.gate(0), Gate::Open { until_ms: None });
}

#[test]
fn the_end_action_applies_at_the_end_time_or_at_a_later_start() {
    let s = config(r#"{"endTime":"2024-05-10T17:00Z","endBehavior":"CANCEL"}"#)
        .compile()
        .unwrap();
    let end = ms("2024-05-10T17:00:00Z");
    assert_eq!(
        s.end_action(end - DAY),
        Some(EndAction {
            at_ms: end,
            behavior: EndBehavior::Cancel,
            input: Input::Cancel { force: false }
        })
    );
    assert_eq!(s.end_action(end + HOUR).unwrap().at_ms, end + HOUR);
    assert_eq!(
        SchedulingConfig::default().compile().unwrap().end_action(0),
        None
    );
}

#[test]
fn an_end_behaviour_without_an_end_time_does_not_apply() {
    let s = config(r#"{"endBehavior":"FORCE_CANCEL"}"#)
        .compile()
        .unwrap();
    assert_eq!(s.end_time(), None);
    assert_eq!(s.end_action(0), None);
}

#[test]
fn the_gate_waits_for_the_start_and_the_windows_and_ends_at_the_end() {
    // Windows 22:00-02:00 UTC nightly; start Friday 10 May 2024 17:00; end 13 May 12:00.
    let s = config(
        r#"{"startTime":"2024-05-10T17:00","endTime":"2024-05-13T12:00","endBehavior":"STOP_ROLLOUT",
            "maintenanceWindows":[{"startTime":"cron(0 22 * * ? *)","durationInMinutes":240}]}"#,
    )
    .compile()
    .unwrap();
    let night = |d: i64| ms("2024-05-10T22:00:00Z") + d * DAY;
    // Before the start: waits for the first window after the start.
    assert_eq!(
        s.gate(ms("2024-05-09T23:00:00Z")),
        Gate::Waiting {
            opens_ms: Some(night(0))
        }
    );
    // After the start, outside a window.
    assert_eq!(
        s.gate(ms("2024-05-10T18:00:00Z")),
        Gate::Waiting {
            opens_ms: Some(night(0))
        }
    );
    // Inside a window: open until it closes.
    assert_eq!(
        s.gate(night(1) + HOUR),
        Gate::Open {
            until_ms: Some(night(1) + 4 * HOUR)
        }
    );
    // After the last window before the end: waits for nothing.
    assert_eq!(
        s.gate(ms("2024-05-13T03:00:00Z")),
        Gate::Waiting { opens_ms: None }
    );
    assert_eq!(s.gate(ms("2024-05-13T12:00:00Z")), Gate::Ended);
}

#[test]
fn the_end_time_cuts_a_window_short() {
    let windows =
        MaintenanceWindows::new(vec![
            MaintenanceWindow::parse("cron(0 22 * * ? *)", 240).unwrap()
        ]);
    let night = ms("2024-05-10T22:00:00Z");
    let s = Scheduling::new(
        None,
        Some((night + HOUR, EndBehavior::ForceCancel)),
        Some(windows),
    );
    assert_eq!(
        s.gate(night + 30 * MIN),
        Gate::Open {
            until_ms: Some(night + HOUR)
        }
    );
    assert_eq!(s.gate(night + HOUR), Gate::Ended);
    // No start time, no windows: open until the end.
    let s = Scheduling::new(
        None,
        Some((night, EndBehavior::Cancel)),
        Some(MaintenanceWindows::default()),
    );
    assert!(s.windows().is_none());
    assert_eq!(
        s.gate(0),
        Gate::Open {
            until_ms: Some(night)
        }
    );
}

// ===================== property: the gate =====================

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const CRONS: [&str; 6] = [
    "cron(0 22 * * ? *)",
    "cron(30 1 ? * MON-FRI *)",
    "cron(0 */6 * * ? *)",
    "cron(15 12 ? * SAT,SUN *)",
    "cron(0 3 L * ? *)",
    "cron(45 23 ? * 6#2 *)",
];

fn gate_config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(ProptestConfig::default().cases.max(256));
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/schedule_aws.txt",
    )));
    config
}

/// 2024-01-01T00:00Z.
const T0: i64 = 1_704_067_200_000;

proptest! {
    #![proptest_config(gate_config())]

    /// The gate opens only after the start, before the end and inside a window (never outside
    /// one), and its instants are right: `Open { until }` is allowed up to `until` and not at
    /// it; `Waiting { opens }` is not allowed before `opens` and is at it; `Ended` from the end
    /// on.
    #[test]
    fn the_gate_allows_dispatch_only_inside(
        windows in prop::collection::vec((prop::sample::select(&CRONS[..]), 1u32..=1430), 0..3),
        start in prop::option::of(0i64..(20 * DAY)),
        length in prop::option::of((30 * MIN)..(40 * DAY)),
        at in 0i64..(60 * DAY),
        probes in prop::collection::vec(0.0f64..1.0, 8),
    ) {
        let start = start.map(|s| T0 + s);
        let end = length.map(|l| start.unwrap_or(T0) + l);
        let windows = MaintenanceWindows::new(
            windows.iter().map(|(c, d)| MaintenanceWindow::parse(c, *d).unwrap()).collect(),
        );
        let has_windows = !windows.is_empty();
        let s = Scheduling::new(start, end.map(|e| (e, EndBehavior::StopRollout)), Some(windows.clone()));
        let allowed = |t: i64| {
            start.is_none_or(|s| t >= s)
                && end.is_none_or(|e| t < e)
                && (!has_windows || windows.is_open(t))
        };
        let t = T0 + at;
        match s.gate(t) {
            Gate::Ended => prop_assert!(end.is_some_and(|e| t >= e)),
            Gate::Open { until_ms } => {
                prop_assert!(allowed(t));
                if has_windows {
                    prop_assert!(windows.is_open(t));
                }
                match until_ms {
                    Some(u) => {
                        prop_assert!(u > t);
                        prop_assert!(!allowed(u));
                        for p in &probes {
                            prop_assert!(allowed(t + ((u - t) as f64 * p) as i64));
                        }
                    }
                    None => prop_assert!(end.is_none() && !has_windows),
                }
            }
            Gate::Waiting { opens_ms } => {
                prop_assert!(!allowed(t));
                prop_assert!(end.is_none_or(|e| t < e));
                let horizon = opens_ms.unwrap_or(t + 60 * DAY);
                if let Some(o) = opens_ms {
                    prop_assert!(o > t);
                    prop_assert!(allowed(o));
                }
                for p in &probes {
                    prop_assert!(!allowed(t + ((horizon - t) as f64 * p) as i64));
                }
            }
        }
    }
}
