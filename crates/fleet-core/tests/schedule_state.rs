//! The scheduled-job state machine (`docs/semantics.md`, "Schedules and maintenance windows"):
//! runs per occurrence, disabled schedules, occurrences that come while a run is active,
//! `completed`, updates and etags, deletion; then properties over random sequences of inputs.

use fleet_core::model::{
    JobData, Nullable, Recurrence, Schedule, ScheduleEnd, SchedulePatch, ScheduledJob,
    ScheduledJobPatch,
};
use fleet_core::schedule::{
    OccurrenceOutcome, ScheduleErrorKind, ScheduleEvent, ScheduledJobState, SkipReason,
};
use fleet_core::{ErrorKind, RunStatus};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_millisecond()
}

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;

fn job(schedule: Schedule, enabled: Option<bool>) -> ScheduledJob {
    let mut job = ScheduledJob::new(
        "thermostats",
        vec![JobData::property(
            "dtmi:contoso:thermostat;1",
            "targetTemperature",
            21.into(),
        )],
        schedule,
    );
    job.enabled = enabled;
    job
}

/// Nightly at 02:00 UTC from 1 January 2024, `n` times.
fn nightly(n: u32) -> Schedule {
    Schedule {
        start: "2024-01-01T02:00:00Z".into(),
        recurrence: Some(Recurrence::Daily),
        end: Some(ScheduleEnd::occurrences(n)),
    }
}

fn enabled_nightly(n: u32) -> ScheduledJobState {
    ScheduledJobState::create("nightly", job(nightly(n), Some(true)), T0, None).unwrap()
}

fn patch_enabled(enabled: bool) -> ScheduledJobPatch {
    ScheduledJobPatch {
        enabled: Some(enabled),
        ..Default::default()
    }
}

fn created(events: &[ScheduleEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            ScheduleEvent::RunCreated { run, .. } => Some(run.id.clone()),
            _ => None,
        })
        .collect()
}

/// Advances to each occurrence in turn, finishing each run `run_ms` after it started, until
/// none remains.
fn drive(state: &mut ScheduledJobState, run_ms: i64) -> Vec<ScheduleEvent> {
    let mut events = Vec::new();
    while let Some(at) = state.next_occurrence_ms() {
        state.advance(at, &mut events).unwrap();
        if let Some(run) = state.active_run().cloned() {
            let end = run.created_ms + run_ms;
            if state.next_occurrence_ms().is_none_or(|next| end <= next) {
                state
                    .run_finished(end, &run.id, RunStatus::Complete, &mut events)
                    .unwrap();
            }
        }
    }
    if let Some(run) = state.active_run().cloned() {
        let end = run.created_ms + run_ms;
        state
            .run_finished(end, &run.id, RunStatus::Complete, &mut events)
            .unwrap();
    }
    events
}

// ===================== runs =====================

#[test]
fn daily_for_30_days_creates_30_runs_then_completes() {
    let mut state = enabled_nightly(30);
    let events = drive(&mut state, HOUR);
    let ids = created(&events);
    assert_eq!(ids.len(), 30);
    assert_eq!(ids[0], "nightly-1");
    assert_eq!(ids[29], "nightly-30");
    assert_eq!(state.runs().len(), 30);
    assert_eq!(state.runs()[29].scheduled_ms, ms("2024-01-30T02:00:00Z"));
    assert!(state
        .runs()
        .iter()
        .all(|r| r.status == Some(RunStatus::Complete)));
    assert!(state.completed());
    assert_eq!(state.document().completed, Some(true));
    assert_eq!(events.last(), Some(&ScheduleEvent::Completed));
    assert_eq!(state.occurrences().len(), 30);
}

#[test]
fn each_run_is_a_job_with_its_own_id_and_the_scheduled_job_id() {
    let mut state = enabled_nightly(2);
    let mut events = Vec::new();
    state
        .advance(ms("2024-01-01T02:00:00Z"), &mut events)
        .unwrap();
    let ScheduleEvent::RunCreated { run, job } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(run.id, "nightly-1");
    assert_eq!(run.scheduled_job_id, "nightly");
    assert_eq!(
        (run.number, run.occurrence, run.schedule_revision),
        (1, 0, 0)
    );
    assert_eq!(job.id.as_deref(), Some("nightly-1"));
    assert_eq!(job.scheduled_job_id.as_deref(), Some("nightly"));
    assert_eq!(job.group, "thermostats");
    assert_eq!(job.data, state.document().data);
    assert_eq!(**job, state.run_job(run));
    assert_eq!(state.active_run(), Some(run));
    assert_eq!(state.run("nightly-1"), Some(run));
}

#[test]
fn a_late_advance_creates_the_run_late_and_skips_nothing_else() {
    let mut state = enabled_nightly(3);
    let mut events = Vec::new();
    state
        .advance(ms("2024-01-01T02:30:00Z"), &mut events)
        .unwrap();
    let run = &state.runs()[0];
    assert_eq!(run.scheduled_ms, ms("2024-01-01T02:00:00Z"));
    assert_eq!(run.created_ms, ms("2024-01-01T02:30:00Z"));
}

#[test]
fn enabled_absent_is_false_and_creates_no_runs() {
    let mut state = ScheduledJobState::create("nightly", job(nightly(3), None), T0, None).unwrap();
    assert_eq!(state.document().enabled, Some(false));
    let events = drive(&mut state, HOUR);
    assert!(created(&events).is_empty());
    assert!(state.runs().is_empty());
    assert_eq!(state.occurrences().len(), 3);
    assert!(state
        .occurrences()
        .iter()
        .all(|o| o.outcome == OccurrenceOutcome::Skipped(SkipReason::Disabled)));
    assert!(state.completed());
}

#[test]
fn occurrences_missed_while_disabled_are_not_made_up() {
    let mut state = enabled_nightly(5);
    let mut events = Vec::new();
    let night = |d: i64| ms("2024-01-01T02:00:00Z") + d * DAY;
    state.advance(night(0), &mut events).unwrap();
    state
        .run_finished(
            night(0) + HOUR,
            "nightly-1",
            RunStatus::Complete,
            &mut events,
        )
        .unwrap();
    state
        .update(
            night(0) + 2 * HOUR,
            &patch_enabled(false),
            None,
            &mut events,
        )
        .unwrap();
    // Enabled again on day 3 at noon: nights 1 and 2 were missed.
    state
        .update(
            night(2) + 10 * HOUR,
            &patch_enabled(true),
            None,
            &mut events,
        )
        .unwrap();
    assert_eq!(state.runs().len(), 1);
    assert_eq!(state.next_occurrence_ms(), Some(night(3)));
    state.advance(night(3), &mut events).unwrap();
    assert_eq!(state.runs().len(), 2);
    assert_eq!(state.runs()[1].id, "nightly-2");
    assert_eq!(state.runs()[1].occurrence, 3);
    let outcomes: Vec<_> = state.occurrences().iter().map(|o| &o.outcome).collect();
    assert_eq!(
        outcomes[1..3],
        [
            &OccurrenceOutcome::Skipped(SkipReason::Disabled),
            &OccurrenceOutcome::Skipped(SkipReason::Disabled)
        ]
    );
}

#[test]
fn an_occurrence_while_a_run_is_active_is_skipped_not_queued() {
    let mut state = enabled_nightly(3);
    let mut events = Vec::new();
    let night = |d: i64| ms("2024-01-01T02:00:00Z") + d * DAY;
    state.advance(night(0), &mut events).unwrap();
    // The first run takes 30 hours: night 1 comes while it is active.
    state.advance(night(1), &mut events).unwrap();
    assert_eq!(
        events.last(),
        Some(&ScheduleEvent::OccurrenceSkipped(
            fleet_core::schedule::OccurrenceRecord {
                occurrence: 1,
                schedule_revision: 0,
                at_ms: night(1),
                outcome: OccurrenceOutcome::Skipped(SkipReason::RunActive {
                    run_id: "nightly-1".into()
                }),
            }
        ))
    );
    state
        .run_finished(
            night(0) + 30 * HOUR,
            "nightly-1",
            RunStatus::Complete,
            &mut events,
        )
        .unwrap();
    assert!(state.runs().len() == 1 && state.active_run().is_none());
    // Nothing queued: the next run comes with night 2, and it is the last (the skipped
    // occurrence counts towards the 3).
    state.advance(night(2), &mut events).unwrap();
    assert_eq!(created(&events), ["nightly-1", "nightly-2"]);
    assert_eq!(state.runs()[1].occurrence, 2);
    assert_eq!(state.next_occurrence_ms(), None);
    assert!(!state.completed());
    state
        .run_finished(
            night(2) + HOUR,
            "nightly-2",
            RunStatus::Cancelled,
            &mut events,
        )
        .unwrap();
    assert!(state.completed());
}

#[test]
fn at_equal_times_a_run_end_comes_before_the_occurrence() {
    let night = |d: i64| ms("2024-01-01T02:00:00Z") + d * DAY;
    // Finished exactly at the next occurrence, reported first: the occurrence runs.
    let mut state = enabled_nightly(2);
    let mut events = Vec::new();
    state.advance(night(0), &mut events).unwrap();
    state
        .run_finished(night(1), "nightly-1", RunStatus::Complete, &mut events)
        .unwrap();
    state.advance(night(1), &mut events).unwrap();
    assert_eq!(state.runs().len(), 2);
    // Advanced first: the run was still active, the occurrence is skipped.
    let mut state = enabled_nightly(2);
    state.advance(night(0), &mut events).unwrap();
    state.advance(night(1), &mut events).unwrap();
    state
        .run_finished(night(1), "nightly-1", RunStatus::Complete, &mut events)
        .unwrap();
    assert_eq!(state.runs().len(), 1);
}

#[test]
fn occurrences_before_creation_are_passed_over() {
    let state = ScheduledJobState::create(
        "nightly",
        job(nightly(5), Some(true)),
        ms("2024-01-03T12:00:00Z"),
        None,
    )
    .unwrap();
    assert_eq!(state.next_occurrence_ms(), Some(ms("2024-01-04T02:00:00Z")));
    assert!(state.occurrences().is_empty());
    // An occurrence at the creation instant itself is to come.
    let state = ScheduledJobState::create(
        "nightly",
        job(nightly(5), Some(true)),
        ms("2024-01-01T02:00:00Z"),
        None,
    )
    .unwrap();
    assert_eq!(state.next_occurrence_ms(), Some(ms("2024-01-01T02:00:00Z")));
    // All of them in the past: completed at once.
    let state = ScheduledJobState::create(
        "nightly",
        job(nightly(5), Some(true)),
        ms("2024-02-01T00:00:00Z"),
        None,
    )
    .unwrap();
    assert!(state.completed());
}

#[test]
fn a_schedule_in_a_time_zone() {
    let s = Schedule {
        start: "2024-03-30T02:30:00+01:00".into(),
        recurrence: Some(Recurrence::Daily),
        end: Some(ScheduleEnd::occurrences(3)),
    };
    let mut state =
        ScheduledJobState::create("berlin", job(s, Some(true)), T0, Some("Europe/Berlin")).unwrap();
    assert_eq!(state.time_zone().iana_name(), Some("Europe/Berlin"));
    let events = drive(&mut state, HOUR);
    assert_eq!(created(&events).len(), 3);
    assert_eq!(state.runs()[1].scheduled_ms, ms("2024-03-31T01:30:00Z"));
    assert!(matches!(
        ScheduledJobState::create("x", job(nightly(1), None), T0, Some("Nowhere/Place"))
            .unwrap_err()
            .kind(),
        ScheduleErrorKind::UnknownTimeZone(_)
    ));
}

// ===================== updates and etags =====================

#[test]
fn etags_are_quoted_deterministic_and_change_on_every_update() {
    let a = enabled_nightly(3);
    let b = enabled_nightly(3);
    assert_eq!(a.etag(), b.etag());
    assert!(a.etag().starts_with("\"00000001-") && a.etag().ends_with('"'));
    let other = ScheduledJobState::create("other", job(nightly(3), Some(true)), T0, None).unwrap();
    assert_ne!(a.etag(), other.etag());

    let mut state = a;
    let mut events = Vec::new();
    let mut seen = vec![state.etag().to_string()];
    // Even an update that changes nothing, and one that changes a value back.
    for patch in [
        patch_enabled(false),
        ScheduledJobPatch::default(),
        patch_enabled(true),
        patch_enabled(false),
    ] {
        let doc = state
            .update(T0 + 1, &patch, None, &mut events)
            .unwrap()
            .clone();
        assert_eq!(doc.etag.as_deref(), Some(state.etag()));
        assert!(!seen.contains(&state.etag().to_string()));
        seen.push(state.etag().to_string());
    }
}

#[test]
fn an_update_while_a_run_is_active_is_refused_and_changes_nothing() {
    let mut state = enabled_nightly(3);
    let mut events = Vec::new();
    let at = ms("2024-01-01T02:00:00Z");
    state.advance(at, &mut events).unwrap();
    let before = format!("{state:?}");
    let err = state
        .update(at + 1, &patch_enabled(false), None, &mut events)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ScheduleErrorKind::RunActive {
            run_id: "nightly-1".into()
        }
    );
    let mut replaced = state.document().clone();
    replaced.display_name = Some("new".into());
    assert!(matches!(
        state
            .replace(at + 1, replaced.clone(), None, &mut events)
            .unwrap_err()
            .kind(),
        ScheduleErrorKind::RunActive { .. }
    ));
    // Only the time moved.
    assert_eq!(
        format!("{state:?}").replace(&(at + 1).to_string(), &at.to_string()),
        before
    );
    // Once the run finished, the update is accepted.
    state
        .run_finished(at + HOUR, "nightly-1", RunStatus::Complete, &mut events)
        .unwrap();
    let etag = state.etag().to_string();
    replaced.etag = None;
    let doc = state
        .replace(at + HOUR, replaced, None, &mut events)
        .unwrap();
    assert_eq!(doc.display_name.as_deref(), Some("new"));
    assert_ne!(state.etag(), etag);
}

#[test]
fn if_match_must_be_the_current_etag() {
    let mut state = enabled_nightly(3);
    let mut events = Vec::new();
    let etag = state.etag().to_string();
    let err = state
        .update(T0, &patch_enabled(false), Some("\"stale\""), &mut events)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ScheduleErrorKind::EtagMismatch {
            current: etag.clone(),
            given: "\"stale\"".into()
        }
    );
    assert_eq!(state.etag(), etag);
    // The body's etag is a precondition too.
    let stale_body = ScheduledJobPatch {
        etag: Some("\"stale\"".into()),
        ..patch_enabled(false)
    };
    assert!(matches!(
        state
            .update(T0, &stale_body, None, &mut events)
            .unwrap_err()
            .kind(),
        ScheduleErrorKind::EtagMismatch { .. }
    ));
    // The current etag, `*`, or a list holding it.
    state
        .update(T0, &patch_enabled(false), Some(&etag), &mut events)
        .unwrap();
    state
        .update(T0, &patch_enabled(true), Some("*"), &mut events)
        .unwrap();
    let list = format!("\"a\", {}", state.etag());
    state
        .update(T0, &patch_enabled(false), Some(&list), &mut events)
        .unwrap();
    let delete_err = state.delete(T0, Some(&etag), &mut events).unwrap_err();
    assert!(matches!(
        delete_err.kind(),
        ScheduleErrorKind::EtagMismatch { .. }
    ));
}

#[test]
fn an_invalid_patch_is_refused_with_the_models_error() {
    let mut state = enabled_nightly(3);
    let mut events = Vec::new();
    let etag = state.etag().to_string();
    let patch = ScheduledJobPatch {
        schedule: Some(SchedulePatch {
            recurrence: Some(Nullable::Null),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Removing the recurrence leaves an `end` without one.
    let err = state.update(T0, &patch, None, &mut events).unwrap_err();
    let ScheduleErrorKind::Invalid(e) = err.kind() else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind(), &ErrorKind::UnexpectedField("end"));
    assert_eq!(state.etag(), etag);
}

#[test]
fn a_schedule_update_plans_anew_from_the_update_on() {
    let mut state = enabled_nightly(30);
    let mut events = Vec::new();
    let night = |d: i64| ms("2024-01-01T02:00:00Z") + d * DAY;
    state.advance(night(0), &mut events).unwrap();
    state
        .run_finished(
            night(0) + HOUR,
            "nightly-1",
            RunStatus::Complete,
            &mut events,
        )
        .unwrap();
    // The how-to's example: the same start, weekly now.
    let patch = ScheduledJobPatch {
        schedule: Some(SchedulePatch {
            start: Some("2024-01-01T02:00:00Z".into()),
            recurrence: Some(Nullable::Value(Recurrence::Weekly)),
            end: None,
        }),
        ..Default::default()
    };
    state
        .update(night(0) + 2 * HOUR, &patch, None, &mut events)
        .unwrap();
    assert_eq!(state.schedule_revision(), 1);
    assert_eq!(state.next_occurrence_ms(), Some(night(7)));
    state.advance(night(7), &mut events).unwrap();
    let run = &state.runs()[1];
    assert_eq!(
        (run.id.as_str(), run.occurrence, run.schedule_revision),
        ("nightly-2", 1, 1)
    );
    // A patch that leaves the schedule alone keeps the plan.
    state
        .run_finished(
            night(7) + HOUR,
            "nightly-2",
            RunStatus::Complete,
            &mut events,
        )
        .unwrap();
    state
        .update(night(7) + HOUR, &patch_enabled(true), None, &mut events)
        .unwrap();
    assert_eq!(state.schedule_revision(), 1);
    assert_eq!(state.next_occurrence_ms(), Some(night(14)));
}

#[test]
fn an_update_can_reopen_a_completed_schedule() {
    let mut state = enabled_nightly(1);
    let events = drive(&mut state, HOUR);
    assert_eq!(events.last(), Some(&ScheduleEvent::Completed));
    let mut events = Vec::new();
    let patch = ScheduledJobPatch {
        schedule: Some(SchedulePatch {
            end: Some(Nullable::Value(ScheduleEnd::occurrences(3))),
            ..Default::default()
        }),
        ..Default::default()
    };
    state
        .update(ms("2024-01-01T12:00:00Z"), &patch, None, &mut events)
        .unwrap();
    assert_eq!(events, [ScheduleEvent::Reopened]);
    assert!(!state.completed());
    assert_eq!(state.next_occurrence_ms(), Some(ms("2024-01-02T02:00:00Z")));
}

// ===================== deletion =====================

#[test]
fn deleting_keeps_the_runs_and_lets_the_active_one_finish() {
    let mut state = enabled_nightly(5);
    let mut events = Vec::new();
    let night = |d: i64| ms("2024-01-01T02:00:00Z") + d * DAY;
    state.advance(night(0), &mut events).unwrap();
    state
        .run_finished(
            night(0) + HOUR,
            "nightly-1",
            RunStatus::Complete,
            &mut events,
        )
        .unwrap();
    state.advance(night(1), &mut events).unwrap();
    let runs = state.delete(night(1) + HOUR, None, &mut events).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(state.is_deleted());
    assert_eq!(state.next_occurrence_ms(), None);
    state
        .run_finished(
            night(1) + 2 * HOUR,
            "nightly-2",
            RunStatus::Complete,
            &mut events,
        )
        .unwrap();
    state.advance(night(4), &mut events).unwrap();
    assert_eq!(state.runs().len(), 2);
    assert_eq!(
        state
            .update(night(4), &patch_enabled(true), None, &mut events)
            .unwrap_err()
            .kind(),
        &ScheduleErrorKind::Deleted
    );
    assert_eq!(
        state
            .delete(night(4), None, &mut events)
            .unwrap_err()
            .kind(),
        &ScheduleErrorKind::Deleted
    );
}

// ===================== refused inputs =====================

#[test]
fn ids_follow_the_rules() {
    let long = "a".repeat(118);
    let err = ScheduledJobState::create(long, job(nightly(1), None), T0, None).unwrap_err();
    let ScheduleErrorKind::Invalid(e) = err.kind() else {
        panic!("{err:?}")
    };
    assert!(matches!(e.kind(), ErrorKind::InvalidJobId { .. }));
    assert!(ScheduledJobState::create("a".repeat(117), job(nightly(1), None), T0, None).is_ok());
    assert!(ScheduledJobState::create("bad id", job(nightly(1), None), T0, None).is_err());
    let mut other = job(nightly(1), None);
    other.id = Some("other".into());
    assert!(ScheduledJobState::create("nightly", other, T0, None).is_err());
}

#[test]
fn run_ends_are_checked() {
    let mut state = enabled_nightly(2);
    let mut events = Vec::new();
    let at = ms("2024-01-01T02:00:00Z");
    state.advance(at, &mut events).unwrap();
    assert_eq!(
        state
            .run_finished(at, "nightly-9", RunStatus::Complete, &mut events)
            .unwrap_err()
            .kind(),
        &ScheduleErrorKind::NoSuchRun("nightly-9".into())
    );
    assert_eq!(
        state
            .run_finished(at, "nightly-1", RunStatus::Stopped, &mut events)
            .unwrap_err()
            .kind(),
        &ScheduleErrorKind::StatusNotFinal(RunStatus::Stopped)
    );
    state
        .run_finished(at, "nightly-1", RunStatus::Failed, &mut events)
        .unwrap();
    assert_eq!(
        state
            .run_finished(at, "nightly-1", RunStatus::Complete, &mut events)
            .unwrap_err()
            .kind(),
        &ScheduleErrorKind::RunNotActive("nightly-1".into())
    );
    assert_eq!(state.runs()[0].status, Some(RunStatus::Failed));
}

#[test]
fn time_never_goes_back() {
    let mut state = enabled_nightly(2);
    let mut events = Vec::new();
    state.advance(T0 + DAY, &mut events).unwrap();
    let before = format!("{state:?}");
    let err = state.advance(T0, &mut events).unwrap_err();
    assert_eq!(
        err.kind(),
        &ScheduleErrorKind::TimeWentBack {
            last_ms: T0 + DAY,
            given_ms: T0
        }
    );
    assert!(state
        .update(T0, &patch_enabled(false), None, &mut events)
        .is_err());
    assert_eq!(format!("{state:?}"), before);
}

// ===================== properties =====================

#[derive(Debug, Clone)]
enum Op {
    /// Advance to the next occurrence (or by some hours if none).
    Next,
    /// Advance by this many minutes.
    Wait(u32),
    /// Finish the active run, if any, with this final status.
    Finish(u8),
    /// Enable or disable (with the current etag, a stale one, or none).
    SetEnabled(bool, u8),
    /// Change the display name (an update that does not touch the schedule).
    Rename(u8),
    /// Change the number of occurrences.
    Occurrences(u32),
    /// Delete.
    Delete,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Next),
        3 => (1u32..3000).prop_map(Op::Wait),
        5 => (0u8..3).prop_map(Op::Finish),
        3 => (any::<bool>(), 0u8..3).prop_map(|(e, m)| Op::SetEnabled(e, m)),
        2 => (0u8..255).prop_map(Op::Rename),
        1 => (1u32..20).prop_map(Op::Occurrences),
        1 => Just(Op::Delete),
    ]
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(ProptestConfig::default().cases.max(256));
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/schedule_state.txt",
    )));
    config
}

proptest! {
    #![proptest_config(config())]

    /// Over random inputs: no run is created while disabled or while another is active; run
    /// ids are `{id}-{k}` in order; occurrences are processed in order and never twice; every
    /// accepted update changes the etag and a refused one changes nothing; `completed` is "no
    /// occurrence left and no run active"; deletion keeps the runs.
    #[test]
    fn the_rules_hold_over_random_inputs(
        recurrence in prop_oneof![Just(Recurrence::Daily), Just(Recurrence::Weekly), Just(Recurrence::Monthly), Just(Recurrence::Yearly)],
        count in 1u32..15,
        enabled in any::<bool>(),
        zone in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York"]),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let s = Schedule {
            start: "2024-01-01T02:00:00Z".into(),
            recurrence: Some(recurrence),
            end: Some(ScheduleEnd::occurrences(count)),
        };
        let mut state = ScheduledJobState::create("job-7", job(s, Some(enabled)), T0, Some(zone)).unwrap();
        let mut now = T0;
        let mut etags = vec![state.etag().to_string()];
        let mut events = Vec::new();
        for op in ops {
            let before = state.clone();
            let was_enabled = state.enabled();
            let was_active = state.active_run().is_some();
            events.clear();
            let mut accepted_write = false;
            let mut refused_write = false;
            match op {
                Op::Next => {
                    now = state.next_occurrence_ms().unwrap_or(now + 6 * HOUR).max(now);
                    state.advance(now, &mut events).unwrap();
                }
                Op::Wait(minutes) => {
                    now += i64::from(minutes) * 60_000;
                    state.advance(now, &mut events).unwrap();
                }
                Op::Finish(k) => {
                    if let Some(run) = state.active_run().cloned() {
                        let status = [RunStatus::Complete, RunStatus::Cancelled, RunStatus::Failed][k as usize];
                        state.run_finished(now, &run.id, status, &mut events).unwrap();
                        prop_assert_eq!(state.run(&run.id).unwrap().status, Some(status));
                    }
                }
                Op::SetEnabled(on, m) => {
                    let etag = match m { 0 => None, 1 => Some(state.etag().to_string()), _ => Some("\"stale\"".to_string()) };
                    match state.update(now, &patch_enabled(on), etag.as_deref(), &mut events) {
                        Ok(_) => accepted_write = true,
                        Err(e) => {
                            refused_write = true;
                            let expected = before.is_deleted() || m == 2 || was_active;
                            prop_assert!(expected, "refused: {}", e);
                        }
                    }
                }
                Op::Rename(n) => {
                    let patch = ScheduledJobPatch { display_name: Some(format!("run {n}")), ..Default::default() };
                    match state.update(now, &patch, None, &mut events) {
                        Ok(_) => accepted_write = true,
                        Err(_) => refused_write = true,
                    }
                }
                Op::Occurrences(n) => {
                    let patch = ScheduledJobPatch {
                        schedule: Some(SchedulePatch { end: Some(Nullable::Value(ScheduleEnd::occurrences(n))), ..Default::default() }),
                        ..Default::default()
                    };
                    match state.update(now, &patch, None, &mut events) {
                        Ok(_) => accepted_write = true,
                        Err(_) => refused_write = true,
                    }
                }
                Op::Delete => {
                    if state.delete(now, None, &mut events).is_err() {
                        prop_assert!(before.is_deleted());
                        refused_write = true;
                    } else {
                        prop_assert_eq!(state.runs(), before.runs());
                    }
                }
            }

            // Runs: none while disabled, none while another is active, at most one per input.
            let new_runs = created(&events);
            prop_assert!(new_runs.len() <= 1);
            if !new_runs.is_empty() {
                prop_assert!(was_enabled, "a run was created while disabled");
                prop_assert!(!was_active, "a run was created while another was active");
            }
            prop_assert!(state.runs().iter().filter(|r| r.is_active()).count() <= 1);
            for (i, run) in state.runs().iter().enumerate() {
                prop_assert_eq!(&run.id, &format!("job-7-{}", i + 1));
                prop_assert_eq!(run.number as usize, i + 1);
                prop_assert!(run.created_ms >= run.scheduled_ms);
            }
            // Occurrences: in time order, each index once per schedule revision.
            let records = state.occurrences();
            for w in records.windows(2) {
                prop_assert!(w[0].at_ms <= w[1].at_ms);
                if w[0].schedule_revision == w[1].schedule_revision {
                    prop_assert!(w[0].occurrence < w[1].occurrence);
                    prop_assert!(w[0].at_ms < w[1].at_ms);
                }
            }
            for record in records {
                prop_assert!(record.at_ms <= now);
                if let OccurrenceOutcome::Skipped(SkipReason::RunActive { run_id }) = &record.outcome {
                    prop_assert!(state.run(run_id).is_some());
                }
            }
            // Etags: new on every accepted write; a refused write changes nothing.
            if accepted_write {
                prop_assert!(!etags.contains(&state.etag().to_string()));
                etags.push(state.etag().to_string());
            } else {
                prop_assert_eq!(state.etag(), before.etag());
            }
            if refused_write {
                prop_assert_eq!(format!("{:?}", state), format!("{:?}", before));
            }
            // Completed: nothing left to come and nothing running.
            prop_assert_eq!(
                state.completed(),
                state.next_occurrence_ms().is_none() && state.active_run().is_none()
            );
            if state.is_deleted() {
                prop_assert_eq!(state.next_occurrence_ms(), None);
            }
        }
    }
}
