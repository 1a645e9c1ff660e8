//! Occurrences of IoT Central schedules (`docs/semantics.md`, "Schedules and maintenance
//! windows"): one test per decision (monthly from the 31st, daylight-saving gaps and folds in
//! Europe/Berlin and America/New_York, inclusive end dates, occurrence counts, once), then
//! properties over random starts, recurrences, ends and time zones.

use fleet_core::model::{Recurrence, Schedule, ScheduleEnd};
use fleet_core::schedule::{EndRule, ScheduleErrorKind, SchedulePlan};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const DAY: i64 = 86_400_000;

fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_millisecond()
}

fn utc(t: i64) -> String {
    Timestamp::from_millisecond(t).unwrap().to_string()
}

fn schedule(start: &str, recurrence: Option<Recurrence>, end: Option<ScheduleEnd>) -> Schedule {
    Schedule {
        start: start.into(),
        recurrence,
        end,
    }
}

/// The occurrences in UTC, at most `limit` of them.
fn occurrences(s: &Schedule, tz: Option<&str>, limit: usize) -> Vec<String> {
    SchedulePlan::new(s, tz)
        .unwrap()
        .occurrences()
        .take(limit)
        .map(utc)
        .collect()
}

/// The occurrences as wall-clock times in `tz`.
fn local(s: &Schedule, tz: &str, limit: usize) -> Vec<String> {
    let zone = TimeZone::get(tz).unwrap();
    SchedulePlan::new(s, Some(tz))
        .unwrap()
        .occurrences()
        .take(limit)
        .map(|t| {
            Timestamp::from_millisecond(t)
                .unwrap()
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%dT%H:%M%:z")
                .to_string()
        })
        .collect()
}

// ===================== once and counts =====================

#[test]
fn once_is_one_occurrence_the_start() {
    let s = Schedule::once("2022-09-01T03:00:00.000Z");
    let plan = SchedulePlan::new(&s, None).unwrap();
    assert_eq!(plan.end(), EndRule::Count(1));
    assert!(!plan.recurs());
    assert_eq!(occurrences(&s, None, 10), ["2022-09-01T03:00:00Z"]);
}

#[test]
fn occurrences_one_is_the_start_alone() {
    let s = schedule(
        "2022-10-24T22:29:01Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(1)),
    );
    assert_eq!(occurrences(&s, None, 10), ["2022-10-24T22:29:01Z"]);
}

#[test]
fn occurrences_count_the_start_as_the_first() {
    let s = schedule(
        "2022-10-24T22:29:01Z",
        Some(Recurrence::Weekly),
        Some(ScheduleEnd::occurrences(3)),
    );
    assert_eq!(
        occurrences(&s, None, 10),
        [
            "2022-10-24T22:29:01Z",
            "2022-10-31T22:29:01Z",
            "2022-11-07T22:29:01Z"
        ]
    );
}

#[test]
fn daily_for_30_days_is_30_occurrences() {
    let by_count = schedule(
        "2024-01-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(30)),
    );
    let by_date = schedule(
        "2024-01-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::date("2024-01-30")),
    );
    for s in [&by_count, &by_date] {
        let all: Vec<i64> = SchedulePlan::new(s, None).unwrap().occurrences().collect();
        assert_eq!(all.len(), 30);
        assert_eq!(all[0], ms("2024-01-01T02:00:00Z"));
        assert_eq!(all[29], ms("2024-01-30T02:00:00Z"));
        assert!(all.windows(2).all(|w| w[1] - w[0] == DAY));
    }
}

#[test]
fn no_end_goes_on() {
    let s = schedule("2024-01-01T02:00:00Z", Some(Recurrence::Monthly), None);
    let plan = SchedulePlan::new(&s, None).unwrap();
    assert_eq!(plan.end(), EndRule::Never);
    assert!(!plan.is_finite());
    assert_eq!(plan.occurrences().take(1000).count(), 1000);
}

#[test]
fn the_start_offset_is_an_instant_and_the_default_zone_is_utc() {
    // 22:00 at +02:00 is 20:00 UTC; in UTC every day is 24 h.
    let s = schedule(
        "2024-03-30T22:00:00+02:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(3)),
    );
    assert_eq!(
        occurrences(&s, None, 10),
        [
            "2024-03-30T20:00:00Z",
            "2024-03-31T20:00:00Z",
            "2024-04-01T20:00:00Z"
        ]
    );
}

// ===================== monthly =====================

#[test]
fn monthly_from_the_31st_clamps_and_returns_to_the_31st() {
    let s = schedule(
        "2024-01-31T09:00:00Z",
        Some(Recurrence::Monthly),
        Some(ScheduleEnd::occurrences(6)),
    );
    assert_eq!(
        occurrences(&s, None, 10),
        [
            "2024-01-31T09:00:00Z",
            "2024-02-29T09:00:00Z", // leap year: the 29th
            "2024-03-31T09:00:00Z", // back to the 31st: computed from the start
            "2024-04-30T09:00:00Z",
            "2024-05-31T09:00:00Z",
            "2024-06-30T09:00:00Z",
        ]
    );
}

#[test]
fn yearly_from_february_29_clamps_in_common_years_and_returns_in_leap_years() {
    let s = schedule(
        "2024-02-29T09:00:00Z",
        Some(Recurrence::Yearly),
        Some(ScheduleEnd::occurrences(5)),
    );
    assert_eq!(
        occurrences(&s, None, 10),
        [
            "2024-02-29T09:00:00Z",
            "2025-02-28T09:00:00Z",
            "2026-02-28T09:00:00Z",
            "2027-02-28T09:00:00Z",
            "2028-02-29T09:00:00Z", // computed from the start: back to the 29th
        ]
    );
}

#[test]
fn yearly_is_read_as_the_how_to_spells_it() {
    let s: fleet_core::model::Schedule = serde_json::from_value(
        serde_json::json!({"start": "2025-06-01T00:00:00Z", "recurrence": "yearly"}),
    )
    .unwrap();
    assert_eq!(s.recurrence, Some(Recurrence::Yearly));
}

#[test]
fn monthly_from_the_31st_in_a_common_year_gives_february_28() {
    let s = schedule(
        "2023-01-31T09:00:00Z",
        Some(Recurrence::Monthly),
        Some(ScheduleEnd::occurrences(3)),
    );
    assert_eq!(
        occurrences(&s, None, 10),
        [
            "2023-01-31T09:00:00Z",
            "2023-02-28T09:00:00Z",
            "2023-03-31T09:00:00Z"
        ]
    );
}

#[test]
fn monthly_from_the_29th_over_february() {
    let s = schedule(
        "2023-12-29T00:00:00Z",
        Some(Recurrence::Monthly),
        Some(ScheduleEnd::occurrences(4)),
    );
    assert_eq!(
        occurrences(&s, None, 10),
        [
            "2023-12-29T00:00:00Z",
            "2024-01-29T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2024-03-29T00:00:00Z"
        ]
    );
}

#[test]
fn monthly_keeps_the_wall_clock_across_dst() {
    let s = schedule(
        "2024-02-15T02:00:00+01:00",
        Some(Recurrence::Monthly),
        Some(ScheduleEnd::occurrences(3)),
    );
    assert_eq!(
        local(&s, "Europe/Berlin", 10),
        [
            "2024-02-15T02:00+01:00",
            "2024-03-15T02:00+01:00",
            "2024-04-15T02:00+02:00"
        ]
    );
}

// ===================== weekly =====================

#[test]
fn weekly_is_seven_days_of_wall_clock() {
    // Sunday 31 March 2024 is Berlin's spring-forward day; 10:00 exists, one hour less between.
    let s = schedule(
        "2024-03-24T10:00:00+01:00",
        Some(Recurrence::Weekly),
        Some(ScheduleEnd::occurrences(3)),
    );
    let all: Vec<i64> = SchedulePlan::new(&s, Some("Europe/Berlin"))
        .unwrap()
        .occurrences()
        .collect();
    assert_eq!(all[1] - all[0], 7 * DAY - 3_600_000);
    assert_eq!(all[2] - all[1], 7 * DAY);
    assert_eq!(
        local(&s, "Europe/Berlin", 10),
        [
            "2024-03-24T10:00+01:00",
            "2024-03-31T10:00+02:00",
            "2024-04-07T10:00+02:00"
        ]
    );
}

// ===================== daylight saving =====================

#[test]
fn berlin_spring_forward_a_0230_job_runs_at_0330() {
    // 31 March 2024: 02:00 CET -> 03:00 CEST; 02:30 does not exist.
    let s = schedule(
        "2024-03-30T02:30:00+01:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(3)),
    );
    assert_eq!(
        local(&s, "Europe/Berlin", 10),
        [
            "2024-03-30T02:30+01:00",
            "2024-03-31T03:30+02:00", // moved forward by the gap
            "2024-04-01T02:30+02:00", // and back to 02:30 the next day
        ]
    );
    assert_eq!(
        occurrences(&s, Some("Europe/Berlin"), 10),
        [
            "2024-03-30T01:30:00Z",
            "2024-03-31T01:30:00Z",
            "2024-04-01T00:30:00Z"
        ]
    );
}

#[test]
fn berlin_fall_back_a_0230_job_runs_once_at_the_earlier_0230() {
    // 27 October 2024: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    let s = schedule(
        "2024-10-26T02:30:00+02:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(3)),
    );
    assert_eq!(
        local(&s, "Europe/Berlin", 10),
        [
            "2024-10-26T02:30+02:00",
            "2024-10-27T02:30+02:00", // the first 02:30 (summer time), once
            "2024-10-28T02:30+01:00",
        ]
    );
    let all: Vec<i64> = SchedulePlan::new(&s, Some("Europe/Berlin"))
        .unwrap()
        .occurrences()
        .collect();
    assert_eq!(all[1] - all[0], DAY);
    assert_eq!(all[2] - all[1], DAY + 3_600_000);
}

#[test]
fn new_york_spring_forward_a_0230_job_runs_at_0330() {
    // 10 March 2024: 02:00 EST -> 03:00 EDT.
    let s = schedule(
        "2024-03-09T02:30:00-05:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(3)),
    );
    assert_eq!(
        local(&s, "America/New_York", 10),
        [
            "2024-03-09T02:30-05:00",
            "2024-03-10T03:30-04:00",
            "2024-03-11T02:30-04:00"
        ]
    );
}

#[test]
fn new_york_fall_back_a_0130_job_runs_at_the_earlier_0130() {
    // 3 November 2024: 02:00 EDT -> 01:00 EST; 01:30 happens twice.
    let s = schedule(
        "2024-11-02T01:30:00-04:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(3)),
    );
    assert_eq!(
        local(&s, "America/New_York", 10),
        [
            "2024-11-02T01:30-04:00",
            "2024-11-03T01:30-04:00", // EDT, the earlier of the two
            "2024-11-04T01:30-05:00"
        ]
    );
    assert_eq!(
        occurrences(&s, Some("America/New_York"), 10),
        [
            "2024-11-02T05:30:00Z",
            "2024-11-03T05:30:00Z",
            "2024-11-04T06:30:00Z"
        ]
    );
}

#[test]
fn a_start_in_the_second_half_of_a_fold_is_kept_as_given() {
    // 01:30 EST on 3 November 2024 is the later 01:30; occurrence 0 is that instant, the next
    // ones follow the wall clock.
    let s = schedule(
        "2024-11-03T01:30:00-05:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(2)),
    );
    assert_eq!(
        occurrences(&s, Some("America/New_York"), 10),
        ["2024-11-03T06:30:00Z", "2024-11-04T06:30:00Z"]
    );
}

#[test]
fn a_zone_that_skips_a_day_gives_one_occurrence_not_two() {
    // Samoa skipped 30 December 2011 (UTC-10 -> UTC+14). The 30th's 10:00 lands on the 31st's
    // 10:00; they are one occurrence.
    let s = schedule(
        "2011-12-28T10:00:00-10:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(4)),
    );
    assert_eq!(
        local(&s, "Pacific/Apia", 10),
        [
            "2011-12-28T10:00-10:00",
            "2011-12-29T10:00-10:00",
            "2011-12-31T10:00+14:00",
            "2012-01-01T10:00+14:00"
        ]
    );
}

// ===================== end dates =====================

#[test]
fn an_end_date_is_inclusive() {
    // The how-to's example: daily from 24 October 22:29:01 UTC to 30 December.
    let s = schedule(
        "2022-10-24T22:29:01Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::date("2022-12-30")),
    );
    let all = occurrences(&s, None, 1000);
    assert_eq!(all.len(), 8 + 30 + 30);
    assert_eq!(all.last().unwrap(), "2022-12-30T22:29:01Z");
}

#[test]
fn a_bare_end_date_is_a_day_in_the_schedules_zone() {
    // 23:30 in New York is 04:30 UTC the next day; the end date 3 January is New York's.
    let s = schedule(
        "2024-01-01T23:30:00-05:00",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::date("2024-01-03")),
    );
    assert_eq!(
        occurrences(&s, Some("America/New_York"), 10),
        [
            "2024-01-02T04:30:00Z",
            "2024-01-03T04:30:00Z",
            "2024-01-04T04:30:00Z"
        ]
    );
    // In UTC the same schedule's days end earlier: 3 January 23:59:59.999 UTC.
    assert_eq!(occurrences(&s, None, 10).len(), 2);
}

#[test]
fn an_end_date_time_is_inclusive_to_the_millisecond() {
    let end_at = |end: &str| {
        schedule(
            "2024-01-01T02:00:00Z",
            Some(Recurrence::Daily),
            Some(ScheduleEnd::date(end)),
        )
    };
    assert_eq!(
        occurrences(&end_at("2024-01-03T02:00:00Z"), None, 10).len(),
        3
    );
    assert_eq!(
        occurrences(&end_at("2024-01-03T01:59:59.999Z"), None, 10).len(),
        2
    );
    let plan = SchedulePlan::new(&end_at("2024-01-03T02:00:00Z"), None).unwrap();
    assert_eq!(plan.end(), EndRule::Until(ms("2024-01-03T02:00:00Z")));
}

#[test]
fn an_end_date_on_the_start_day_gives_the_start_alone() {
    let s = schedule(
        "2024-01-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::date("2024-01-01")),
    );
    assert_eq!(occurrences(&s, None, 10), ["2024-01-01T02:00:00Z"]);
}

#[test]
fn an_end_before_the_start_in_the_schedules_zone_is_refused() {
    // 23:30 UTC on 1 January is 00:30 on 2 January in Berlin: Berlin's 1 January ends before.
    let s = schedule(
        "2024-01-01T23:30:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::date("2024-01-01")),
    );
    assert!(SchedulePlan::new(&s, None).is_ok());
    let err = SchedulePlan::new(&s, Some("Europe/Berlin")).unwrap_err();
    assert!(matches!(
        err.kind(),
        ScheduleErrorKind::EndBeforeStart { .. }
    ));
}

#[test]
fn invalid_schedules_and_zones_are_refused() {
    let bad_start = Schedule::once("2024-01-01 02:00");
    assert!(matches!(
        SchedulePlan::new(&bad_start, None).unwrap_err().kind(),
        ScheduleErrorKind::Invalid(_)
    ));
    let end_without_recurrence = schedule(
        "2024-01-01T02:00:00Z",
        None,
        Some(ScheduleEnd::occurrences(2)),
    );
    assert!(matches!(
        SchedulePlan::new(&end_without_recurrence, None)
            .unwrap_err()
            .kind(),
        ScheduleErrorKind::Invalid(_)
    ));
    let ok = Schedule::once("2024-01-01T02:00:00Z");
    assert_eq!(
        SchedulePlan::new(&ok, Some("Europe/Atlantis"))
            .unwrap_err()
            .kind(),
        &ScheduleErrorKind::UnknownTimeZone("Europe/Atlantis".into())
    );
}

#[test]
fn skip_before_passes_over_earlier_occurrences() {
    let s = schedule(
        "2024-01-01T02:00:00Z",
        Some(Recurrence::Daily),
        Some(ScheduleEnd::occurrences(5)),
    );
    let mut it = SchedulePlan::new(&s, None).unwrap().occurrences();
    assert_eq!(it.skip_before(ms("2024-01-03T02:00:00Z")), 2);
    assert_eq!(it.index(), 2);
    assert_eq!(it.peek(), Some(ms("2024-01-03T02:00:00Z")));
    assert_eq!(it.count(), 3);
}

// ===================== properties =====================

fn is_gap(a: &jiff::tz::AmbiguousTimestamp) -> bool {
    matches!(a.offset(), jiff::tz::AmbiguousOffset::Gap { .. })
}

const ZONES: [&str; 9] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe", // 30-minute DST
    "America/Sao_Paulo",   // DST at midnight until 2019
    "Asia/Kolkata",
    "Pacific/Chatham", // +12:45 / +13:45
    "America/Santiago",
    "Pacific/Apia", // skipped a day in 2011
];

fn recurrence() -> impl Strategy<Value = Option<Recurrence>> {
    prop_oneof![
        Just(None),
        Just(Some(Recurrence::Daily)),
        Just(Some(Recurrence::Weekly)),
        Just(Some(Recurrence::Monthly)),
        Just(Some(Recurrence::Yearly)),
    ]
}

/// A start between 2000 and 2040, on a whole minute or with milliseconds.
fn start() -> impl Strategy<Value = i64> {
    (946_684_800_000i64..2_208_988_800_000i64)
        .prop_flat_map(|t| prop_oneof![Just(t - t.rem_euclid(60_000)), Just(t)])
}

fn rfc3339(t: i64) -> String {
    Timestamp::from_millisecond(t).unwrap().to_string()
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(ProptestConfig::default().cases.max(256));
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/schedule_recurrence.txt",
    )));
    config
}

proptest! {
    #![proptest_config(config())]

    /// Occurrences strictly increase, start at the start, respect an end date (inclusive, a
    /// bare date in the schedule's zone) and a count (exactly n), and follow the start's wall
    /// clock (daily and weekly) or day of month (monthly, clamped).
    #[test]
    fn occurrences_respect_start_end_and_count(
        start in start(),
        recurrence in recurrence(),
        zone in prop::sample::select(&ZONES[..]),
        end_kind in 0u8..3,
        count in 1u32..80,
        days in 0i64..400,
    ) {
        let tz = TimeZone::get(zone).unwrap();
        let start_local = Timestamp::from_millisecond(start).unwrap().to_zoned(tz.clone());
        let end = match (recurrence, end_kind) {
            (None, _) | (_, 0) => None,
            (_, 1) => Some(ScheduleEnd::occurrences(count)),
            _ => {
                let date = start_local.date().checked_add(jiff::Span::new().days(days)).unwrap();
                Some(ScheduleEnd::date(date.to_string()))
            }
        };
        let s = schedule(&rfc3339(start), recurrence, end.clone());
        let plan = SchedulePlan::new(&s, Some(zone)).unwrap();
        let all: Vec<i64> = plan.occurrences().take(500).collect();

        prop_assert_eq!(all[0], start);
        prop_assert!(all.windows(2).all(|w| w[0] < w[1]), "not strictly increasing");
        match plan.end() {
            EndRule::Count(n) => prop_assert_eq!(all.len() as u32, n),
            EndRule::Until(until) => {
                prop_assert!(all.iter().all(|t| *t <= until));
                // Every occurrence's local date is at most the end date; the next one after the
                // last would be past it.
                let end_date: jiff::civil::Date = end.unwrap().date.unwrap().parse().unwrap();
                for t in &all {
                    let d = Timestamp::from_millisecond(*t).unwrap().to_zoned(tz.clone()).date();
                    prop_assert!(d <= end_date);
                }
                if all.len() < 500 {
                    let last = Timestamp::from_millisecond(*all.last().unwrap()).unwrap()
                        .to_zoned(tz.clone()).date();
                    let step_days = match recurrence.unwrap() {
                        Recurrence::Daily => 1,
                        Recurrence::Weekly => 7,
                        Recurrence::Monthly => 31,
                        Recurrence::Yearly => 366,
                    };
                    prop_assert!(last.checked_add(jiff::Span::new().days(step_days)).unwrap() > end_date
                        || zone == "Pacific/Apia");
                }
            }
            EndRule::Never => prop_assert_eq!(all.len(), 500),
        }
        // Wall clock: each occurrence is start + k steps in civil time, moved only by a gap.
        let civil_start: DateTime = start_local.datetime();
        for (k, t) in all.iter().enumerate().skip(1) {
            let local = Timestamp::from_millisecond(*t).unwrap().to_zoned(tz.clone()).datetime();
            match recurrence.unwrap() {
                Recurrence::Daily | Recurrence::Weekly => {
                    if local.time() != civil_start.time() {
                        // Only where the wall-clock time does not exist that day (a gap), or the
                        // zone skipped the day itself.
                        let wanted = local.date().to_datetime(civil_start.time());
                        let ambiguous = tz.to_ambiguous_timestamp(wanted);
                        let earlier = local.date().yesterday().unwrap().to_datetime(civil_start.time());
                        prop_assert!(
                            is_gap(&ambiguous) || is_gap(&tz.to_ambiguous_timestamp(earlier)),
                            "occurrence {} at {} is off the wall clock {}", k, local, civil_start.time()
                        );
                    }
                }
                Recurrence::Monthly | Recurrence::Yearly => {
                    if recurrence == Some(Recurrence::Yearly) {
                        prop_assert_eq!(local.month(), civil_start.month(), "occurrence {} in another month", k);
                    }
                    let wanted_day = civil_start.day().min(local.date().days_in_month());
                    // A gap moves the time, or (Pacific/Apia, 30 December 2011) the day.
                    let wanted = local
                        .date()
                        .with()
                        .day(wanted_day)
                        .build()
                        .unwrap()
                        .to_datetime(civil_start.time());
                    let moved_by_gap = local.time() != civil_start.time()
                        || is_gap(&tz.to_ambiguous_timestamp(wanted))
                        || is_gap(&tz.to_ambiguous_timestamp(
                            wanted.date().yesterday().unwrap().to_datetime(civil_start.time()),
                        ));
                    prop_assert!(local.day() == wanted_day || moved_by_gap,
                        "occurrence {} on day {} not {}", k, local.day(), wanted_day);
                }
            }
        }
    }

    /// "Daily for 30 days" is exactly 30 occurrences, by count or by end date, in any zone that
    /// does not skip a day.
    #[test]
    fn daily_for_30_days_is_always_30(
        start in start(),
        zone in prop::sample::select(&ZONES[..8]),
    ) {
        let tz = TimeZone::get(zone).unwrap();
        let first_day = Timestamp::from_millisecond(start).unwrap().to_zoned(tz).date();
        let last_day = first_day.checked_add(jiff::Span::new().days(29)).unwrap();
        for end in [ScheduleEnd::occurrences(30), ScheduleEnd::date(last_day.to_string())] {
            let s = schedule(&rfc3339(start), Some(Recurrence::Daily), Some(end));
            let n = SchedulePlan::new(&s, Some(zone)).unwrap().occurrences().count();
            prop_assert_eq!(n, 30);
        }
    }
}
