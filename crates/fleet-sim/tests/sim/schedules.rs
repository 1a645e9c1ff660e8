//! Scheduled jobs over days of virtual time, and AWS start and end times.

use fleet_core::model::{JobData, Recurrence, Schedule, ScheduleEnd, ScheduledJob};
use fleet_core::schedule::EndBehavior;
use fleet_core::{DeviceState, RunBuilder};
use fleet_sim::*;
use proptest::prelude::*;
use serde_json::json;

use crate::common::*;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// 2026-03-01T00:00:00Z.
const MARCH_1_MS: i64 = 1_772_323_200_000;

/// A scheduled job document: daily from `start`, ending as `end` says, enabled.
fn document(start: &str, recurrence: Option<Recurrence>, end: Option<ScheduleEnd>) -> ScheduledJob {
    let mut doc = ScheduledJob::new(
        "all",
        vec![JobData::property(THERMOSTAT, "temp", 21.into())],
        Schedule {
            start: start.into(),
            recurrence,
            end,
        },
    );
    doc.enabled = Some(true);
    doc
}

fn nightly(doc: ScheduledJob) -> ScheduledJobSpec {
    ScheduledJobSpec::new(set_temp("nightly", 21.0), doc)
}

/// `n` thermostats with this behaviour, the clock starting on 1 March 2026 (UTC).
fn sim(n: u32, behaviour_json: serde_json::Value) -> SimBuilder {
    SimBuilder::new(7)
        .templates(templates())
        .fleet(thermostats(n))
        .behaviour(behaviour(behaviour_json))
        .clock_start_ms(MARCH_1_MS)
}

fn fixed_latency(ms: i64) -> serde_json::Value {
    json!({"rules": [{"latency": {"type": "fixed", "ms": ms}}]})
}

#[test]
fn daily_for_30_days_gives_30_runs_one_per_night() {
    let doc = document(
        "2026-03-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(30)),
    );
    let result = sim(50, fixed_latency(1_000))
        .scheduled(nightly(doc))
        .build()
        .unwrap()
        .run();
    let schedule = &result.schedules[0];
    assert_eq!(schedule.occurrences.len(), 30);
    assert!(schedule.completed);
    let runs: Vec<&str> = schedule.runs().collect();
    let expected: Vec<String> = (1..=30).map(|k| format!("nightly-{k}")).collect();
    assert_eq!(runs, expected);
    for (k, o) in schedule.occurrences.iter().enumerate() {
        assert_eq!(o.at_ms, 2 * HOUR_MS + k as i64 * DAY_MS);
        let run = result.job(o.run.as_deref().unwrap()).unwrap();
        assert_eq!(run.scheduled_job_id.as_deref(), Some("nightly"));
        assert_eq!(run.submitted_ms, o.at_ms);
        assert_eq!(run.started_ms, Some(o.at_ms));
        assert_eq!(run.status, "complete");
        assert_eq!(run.counts.succeeded, 50);
    }
    // The simulation ends with the last run: 30 nights in, plus its latency.
    assert_eq!(result.end_ms, 2 * HOUR_MS + 29 * DAY_MS + 1_000);
}

#[test]
fn an_end_date_is_inclusive_and_the_time_zone_moves_runs_with_the_clock_change() {
    // Berlin, 02:00 local, until 31 March (inclusive): the clocks go forward on 29 March, when
    // 02:00 does not exist and the run starts at 03:00 CEST (01:00Z).
    let doc = document(
        "2026-03-27T02:00:00+01:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::date("2026-03-31")),
    );
    let result = sim(5, fixed_latency(1_000))
        .scheduled(nightly(doc).time_zone("Europe/Berlin"))
        .build()
        .unwrap()
        .run();
    let schedule = &result.schedules[0];
    assert_eq!(schedule.time_zone, "Europe/Berlin");
    let at: Vec<i64> = schedule.occurrences.iter().map(|o| o.at_ms).collect();
    let utc_hour = |day: i64, hour: i64| (day - 1) * DAY_MS + hour * HOUR_MS;
    assert_eq!(
        at,
        [
            utc_hour(27, 1),
            utc_hour(28, 1),
            utc_hour(29, 1),
            utc_hour(30, 0),
            utc_hour(31, 0)
        ]
    );
}

#[test]
fn an_occurrence_while_the_run_is_active_is_skipped_not_queued() {
    // Each run takes 30 hours (the devices answer after 30 h): every other night is skipped.
    let doc = document(
        "2026-03-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(6)),
    );
    let result = sim(3, fixed_latency(30 * HOUR_MS))
        .scheduled(nightly(doc))
        .build()
        .unwrap()
        .run();
    let schedule = &result.schedules[0];
    let outcome: Vec<(Option<&str>, Option<&str>, Option<&str>)> = schedule
        .occurrences
        .iter()
        .map(|o| (o.run.as_deref(), o.skipped, o.active_run.as_deref()))
        .collect();
    assert_eq!(
        outcome,
        [
            (Some("nightly-1"), None, None),
            (None, Some("run_active"), Some("nightly-1")),
            (Some("nightly-2"), None, None),
            (None, Some("run_active"), Some("nightly-2")),
            (Some("nightly-3"), None, None),
            (None, Some("run_active"), Some("nightly-3")),
        ]
    );
    assert_eq!(schedule.skipped(), 3);
    // Runs never overlap, and the second starts at the third occurrence.
    let run2 = result.job("nightly-2").unwrap();
    assert_eq!(run2.started_ms, Some(2 * HOUR_MS + 2 * DAY_MS));
    assert!(result.job("nightly-1").unwrap().finished_ms < run2.started_ms);
}

#[test]
fn a_run_that_ends_at_the_next_occurrence_lets_it_create_the_next_run() {
    // The devices answer exactly one day after dispatch: run k ends at the instant of
    // occurrence k + 1. The run's end comes first at equal times, so nothing is skipped.
    let doc = document(
        "2026-03-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(4)),
    );
    let result = sim(4, fixed_latency(DAY_MS))
        .scheduled(nightly(doc))
        .build()
        .unwrap()
        .run();
    let schedule = &result.schedules[0];
    assert_eq!(schedule.skipped(), 0, "{:?}", schedule.occurrences);
    assert_eq!(schedule.runs().count(), 4);
    let run1 = result.job("nightly-1").unwrap();
    let run2 = result.job("nightly-2").unwrap();
    assert_eq!(run1.finished_ms, run2.started_ms);
}

#[test]
fn a_disabled_schedule_creates_no_run_and_records_each_occurrence() {
    let mut doc = document(
        "2026-03-01T02:00:00Z",
        Some(Recurrence::Weekly),
        Some(ScheduleEnd::occurrences(3)),
    );
    doc.enabled = None; // absent is false, as IoT Central answers
    let result = sim(3, fixed_latency(1_000))
        .scheduled(nightly(doc))
        .build()
        .unwrap()
        .run();
    let schedule = &result.schedules[0];
    assert!(!schedule.enabled);
    assert_eq!(schedule.runs().count(), 0);
    let skipped: Vec<Option<&str>> = schedule.occurrences.iter().map(|o| o.skipped).collect();
    assert_eq!(skipped, [Some("disabled"); 3]);
    assert!(result.jobs.is_empty());
    assert_eq!(result.end_ms, 2 * HOUR_MS + 14 * DAY_MS);
}

#[test]
fn occurrences_before_the_scheduled_job_exists_are_passed_over() {
    // Created on day 3 (start_ms): the first two nights are gone, not recorded.
    let doc = document(
        "2026-03-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(5)),
    );
    let mut spec = nightly(doc);
    spec.job.start_ms = 2 * DAY_MS;
    let result = sim(3, fixed_latency(1_000))
        .scheduled(spec)
        .build()
        .unwrap()
        .run();
    let indices: Vec<u32> = result.schedules[0]
        .occurrences
        .iter()
        .map(|o| o.occurrence)
        .collect();
    assert_eq!(indices, [2, 3, 4]);
    assert_eq!(
        result.schedules[0].runs().collect::<Vec<_>>(),
        ["nightly-1", "nightly-2", "nightly-3"]
    );
}

#[test]
fn each_run_draws_new_fates() {
    // Half the attempts fail: the devices that fail differ from one night to the next, and the
    // same seed gives the same nights again.
    let doc = document(
        "2026-03-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(2)),
    );
    let run = || {
        sim(
            200,
            json!({"rules": [{"latency": {"type": "fixed", "ms": 1000}, "failure_probability": 0.5}]}),
        )
        .scheduled(nightly(doc.clone()))
        .build()
        .unwrap()
        .run()
    };
    let result = run();
    let failed = |j: usize| -> Vec<bool> {
        result
            .device_rows(j)
            .map(|r| r.state == DeviceState::Failed)
            .collect()
    };
    let (night1, night2) = (failed(0), failed(1));
    assert_ne!(night1, night2);
    let both = night1
        .iter()
        .zip(&night2)
        .filter(|(a, b)| **a && **b)
        .count();
    // Independent halves overlap on about a quarter of the devices.
    assert!(
        (25..=75).contains(&both),
        "{both} devices failed both nights"
    );
    assert_eq!(run().trace_hash, result.trace_hash);
}

#[test]
fn runs_wait_for_a_hub_job_slot_like_other_jobs() {
    // A plain job holds the hub's only job slot for 2 days: the first night's run waits for it.
    let hub: HubSpec = serde_json::from_value(json!({"tier": "S1", "concurrent_jobs": 1})).unwrap();
    let doc = document(
        "2026-03-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(3)),
    );
    let slow = set_temp("long", 20.0);
    let result = sim(2, fixed_latency(2 * DAY_MS))
        .hub(hub)
        .job(slow)
        .scheduled(nightly(doc))
        .build()
        .unwrap()
        .run();
    let run1 = result.job("nightly-1").unwrap();
    assert_eq!(run1.submitted_ms, 2 * HOUR_MS);
    assert_eq!(run1.started_ms, Some(2 * DAY_MS));
    assert_eq!(run1.queued_ms, 2 * DAY_MS - 2 * HOUR_MS);
}

#[test]
fn a_schedule_without_an_end_needs_a_horizon() {
    let doc = document("2026-03-01T02:00:00Z", Some(Recurrence::Daily), None);
    let err = sim(2, fixed_latency(1_000))
        .scheduled(nightly(doc.clone()))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), Some("scheduled[0].document.schedule"));
    assert!(
        err.to_string().contains("give its schedule an end"),
        "{err}"
    );
    // With a horizon of 10 days, 10 runs.
    let result = sim(2, fixed_latency(1_000))
        .scheduled(nightly(doc))
        .until_ms(10 * DAY_MS)
        .build()
        .unwrap()
        .run();
    assert_eq!(result.schedules[0].runs().count(), 10);
    assert!(!result.schedules[0].completed);
}

#[test]
fn bad_scheduled_jobs_are_refused_with_their_field() {
    let doc = document(
        "2026-03-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(2)),
    );
    let err = sim(2, fixed_latency(1_000))
        .scheduled(nightly(doc.clone()).time_zone("Mars/Olympus"))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), Some("scheduled[0].document"));
    assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    let err = sim(2, fixed_latency(1_000))
        .job(set_temp("nightly", 1.0))
        .scheduled(nightly(doc.clone()))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), Some("scheduled[0].job.id"));
    let once_with_end = document(
        "2026-03-01T02:00:00Z",
        None,
        Some(ScheduleEnd::occurrences(2)),
    );
    let err = sim(2, fixed_latency(1_000))
        .scheduled(nightly(once_with_end))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), Some("scheduled[0].document"));
}

// ----- AWS start and end times -----

fn aws_job(end_ms: i64, behavior: EndBehavior) -> JobSpec {
    JobSpec::new(
        "aws",
        Operation::JobDocument {
            document: json!({}),
        },
    )
    .run(RunBuilder::new().max_per_minute(60))
    .end(end_ms, behavior)
}

#[test]
fn the_end_behaviour_stops_or_cancels_the_run_at_the_end_time() {
    // 120 devices at 60 per minute take 2 minutes; the end comes after 1.
    let cases = [
        (EndBehavior::StopRollout, "stopped", 0),
        (EndBehavior::Cancel, "cancelled", 0),
        (EndBehavior::ForceCancel, "cancelled", 1),
    ];
    for (behavior, status, abandoned_max) in cases {
        let result = sim(120, fixed_latency(5_000))
            .job(aws_job(60_000, behavior))
            .build()
            .unwrap()
            .run();
        let job = &result.jobs[0];
        assert_eq!(job.status, status, "{behavior}");
        let end = job.end_behavior.as_ref().unwrap();
        assert_eq!(
            (end.at_ms, end.command, end.error.as_deref()),
            (60_000, behavior.as_str(), None)
        );
        // Only the devices dispatched in the first minute ran.
        let ran = job.counts.succeeded + job.counts.failed;
        assert!(
            ran <= 61 && ran + abandoned_max * 5 >= 55,
            "{behavior}: {ran}"
        );
        match behavior {
            EndBehavior::StopRollout => assert_eq!(job.counts.pending, 120 - ran),
            _ => assert_eq!(job.counts.cancelled, 120 - ran),
        }
    }
}

#[test]
fn an_end_time_after_the_run_settled_changes_nothing() {
    let result = sim(10, fixed_latency(1_000))
        .job(aws_job(DAY_MS, EndBehavior::ForceCancel))
        .build()
        .unwrap()
        .run();
    let job = &result.jobs[0];
    assert_eq!(job.status, "complete");
    assert_eq!(job.counts.succeeded, 10);
    assert_eq!(job.end_behavior, None);
    // The simulation ends with the last answer, not at the end time.
    assert_eq!(result.end_ms, 1_000);
}

#[test]
fn stop_rollout_on_a_stopped_run_is_refused_and_recorded() {
    // A user stops the run at 30 s; STOP_ROLLOUT at 60 s finds it stopped already.
    let result = sim(120, fixed_latency(5_000))
        .job(aws_job(60_000, EndBehavior::StopRollout))
        .command(30_000, "aws", JobCommand::Stop)
        .build()
        .unwrap()
        .run();
    let job = &result.jobs[0];
    assert_eq!(job.status, "stopped");
    let end = job.end_behavior.as_ref().unwrap();
    assert_eq!(end.command, "STOP_ROLLOUT");
    assert!(end.error.as_deref().unwrap().contains("stop"), "{end:?}");
}

#[test]
fn a_run_that_starts_after_its_end_time_gets_the_end_behaviour_at_once() {
    let job = aws_job(1_000, EndBehavior::Cancel).start_ms(5_000);
    let result = sim(120, fixed_latency(1_000))
        .job(job)
        .build()
        .unwrap()
        .run();
    let job = &result.jobs[0];
    assert_eq!(job.status, "cancelled");
    assert_eq!(job.end_behavior.as_ref().unwrap().at_ms, 5_000);
    // The rate let the first minute's 60 devices out at the start; the cancel came right
    // after and cancelled the rest.
    assert_eq!(job.counts.cancelled, 60);
    assert_eq!(job.counts.succeeded, 60);
}

#[test]
fn nothing_is_dispatched_outside_a_maintenance_window() {
    use fleet_core::schedule::{MaintenanceWindow, MaintenanceWindows};
    // 01:00-01:10 UTC every day, 5 devices a minute: 50 a night, 120 devices need 3 nights.
    let windows = MaintenanceWindows::new(vec![
        MaintenanceWindow::parse("cron(0 1 * * ? *)", 10).unwrap()
    ]);
    let job = JobSpec::new(
        "aws",
        Operation::JobDocument {
            document: json!({}),
        },
    )
    .run(
        RunBuilder::new()
            .max_per_minute(5)
            .maintenance_windows(windows.clone()),
    );
    let result = sim(120, fixed_latency(1_000))
        .job(job)
        .record_events(true)
        .build()
        .unwrap()
        .run();
    let job = &result.jobs[0];
    assert_eq!(job.status, "complete");
    assert_eq!(job.window_waits, 3);
    let answers: Vec<i64> = result
        .events
        .as_ref()
        .unwrap()
        .iter()
        .filter(|e| e.kind == "answer")
        .map(|e| e.at_ms)
        .collect();
    assert_eq!(answers.len(), 120);
    for at in answers {
        // Each device answered 1 s after its dispatch, which was inside a window.
        let dispatched_utc = MARCH_1_MS + at - 1_000;
        assert!(windows.is_open(dispatched_utc), "dispatched at {at} ms");
    }
    assert_eq!(job.started_ms, Some(0));
    // Night 3: the last 20 devices go out 5 at a time at 01:00, 01:01, 01:02 and 01:03.
    assert_eq!(
        job.finished_ms,
        Some(2 * DAY_MS + HOUR_MS + 3 * 60_000 + 1_000)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// "Daily for N days" (from 2 to 28 March 2026, so after the clock start in every zone)
    /// gives exactly N runs, one per day at the same wall-clock time, in
    /// strictly increasing order, whatever the start time and time zone, when each run ends
    /// within the day; with an end date N - 1 days after the start, the same.
    #[test]
    fn daily_for_n_days_gives_n_runs(
        n in 1u32..=40,
        minute_of_day in 0u32..1440,
        day in 2u32..=28,
        zone in prop::sample::select(vec!["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney"]),
        by_date in any::<bool>(),
    ) {
        let start = format!("2026-03-{day:02}T{:02}:{:02}:00", minute_of_day / 60, minute_of_day % 60);
        let tz = jiff::tz::TimeZone::get(zone).unwrap();
        let start_zoned = start.parse::<jiff::civil::DateTime>().unwrap().to_zoned(tz).unwrap();
        let end = if by_date {
            let last = start_zoned.date().checked_add(jiff::Span::new().days(i64::from(n) - 1)).unwrap();
            ScheduleEnd::date(last.to_string())
        } else {
            ScheduleEnd::occurrences(n)
        };
        let doc = document(&start_zoned.timestamp().to_string(), Some(Recurrence::Daily), Some(end));
        let result = sim(3, fixed_latency(60_000))
            .scheduled(nightly(doc).time_zone(zone))
            .build()
            .unwrap()
            .run();
        let schedule = &result.schedules[0];
        prop_assert_eq!(schedule.runs().count(), n as usize);
        prop_assert_eq!(schedule.skipped(), 0);
        prop_assert!(schedule.completed);
        let at: Vec<i64> = schedule.occurrences.iter().map(|o| o.at_ms).collect();
        prop_assert!(at.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(at[0] >= start_zoned.timestamp().as_millisecond() - MARCH_1_MS);
        for o in &schedule.occurrences {
            let run = result.job(o.run.as_deref().unwrap()).unwrap();
            prop_assert_eq!(run.started_ms, Some(o.at_ms));
            prop_assert_eq!(run.status, "complete");
        }
        // One run per calendar day of the zone.
        let days: Vec<jiff::civil::Date> = at
            .iter()
            .map(|ms| jiff::Timestamp::from_millisecond(ms + MARCH_1_MS).unwrap().to_zoned(jiff::tz::TimeZone::get(zone).unwrap()).date())
            .collect();
        prop_assert!(days.windows(2).all(|w| w[0].tomorrow().unwrap() == w[1]), "{:?}", days);
    }

    /// Whatever the runs' length, at most one run is active at a time, every occurrence is
    /// either a run or a skip while the previous run was active, and the runs come in order.
    #[test]
    fn runs_of_a_schedule_never_overlap(
        latency_h in 1i64..80,
        n in 1u32..15,
        recurrence in prop::sample::select(vec![Recurrence::Daily, Recurrence::Weekly]),
    ) {
        let doc = document("2026-03-01T02:00:00Z", Some(recurrence), Some(ScheduleEnd::occurrences(n)));
        let result = sim(2, fixed_latency(latency_h * HOUR_MS))
            .scheduled(nightly(doc))
            .build()
            .unwrap()
            .run();
        let schedule = &result.schedules[0];
        prop_assert_eq!(schedule.occurrences.len(), n as usize);
        let mut previous_end = i64::MIN;
        for o in &schedule.occurrences {
            match &o.run {
                Some(id) => {
                    let run = result.job(id).unwrap();
                    prop_assert!(run.started_ms.unwrap() >= previous_end);
                    previous_end = run.finished_ms.unwrap();
                }
                None => {
                    prop_assert_eq!(o.skipped, Some("run_active"));
                    prop_assert!(o.at_ms < previous_end);
                }
            }
        }
    }
}

/// An end date is a date of the schedule's zone: 20:00 in New York on 2 March is already 3
/// March in UTC, and "daily until 2 March" there is one run (found by the property above; the
/// document's check once compared the end date with the UTC date and refused it).
#[test]
fn an_end_date_is_a_date_of_the_schedules_zone() {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let start = "2026-03-02T20:00:00"
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(tz)
        .unwrap();
    let doc = document(
        &start.timestamp().to_string(),
        Some(Recurrence::Daily),
        Some(ScheduleEnd::date("2026-03-02")),
    );
    let result = sim(3, fixed_latency(60_000))
        .scheduled(nightly(doc).time_zone("America/New_York"))
        .build()
        .unwrap()
        .run();
    assert_eq!(result.schedules[0].runs().count(), 1);
    assert!(result.schedules[0].completed);
}
