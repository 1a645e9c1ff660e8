//! AWS cron expressions and maintenance windows (`docs/semantics.md`, "Schedules and maintenance
//! windows"): the grammar, AWS's documented examples, the day wildcards, and properties that
//! compare `is_open`, `next_open_ms` and `close_ms` with a brute-force minute-by-minute model
//! built from the generated fields (not from the parser).

use fleet_core::schedule::{
    CronExpr, MaintenanceWindow, MaintenanceWindows, ScheduleErrorKind, WindowState,
};
use jiff::civil::Date;
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn ms(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_millisecond()
}

fn utc(t: i64) -> String {
    Timestamp::from_millisecond(t).unwrap().to_string()
}

fn cron(text: &str) -> CronExpr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The first `n` starts at or after `from`.
fn starts(c: &CronExpr, from: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut t = ms(from);
    while out.len() < n {
        let Some(s) = c.next_start_at_or_after(t) else {
            break;
        };
        out.push(utc(s));
        t = s + 1;
    }
    out
}

fn refused(text: &str) -> String {
    match text.parse::<CronExpr>() {
        Ok(c) => panic!("{text} parsed as {c:?}"),
        Err(e) => match e.kind() {
            ScheduleErrorKind::Cron { reason, .. } => reason.clone(),
            other => panic!("{text}: {other:?}"),
        },
    }
}

// ===================== grammar =====================

#[test]
fn the_wrapper_is_optional_and_the_text_is_kept() {
    let a = cron("cron(0 10 * * ? *)");
    let b = cron("0 10 * * ? *");
    assert_eq!(a.as_str(), "cron(0 10 * * ? *)");
    assert_eq!(a.to_string(), "cron(0 10 * * ? *)");
    assert_eq!(
        starts(&a, "2024-01-01T00:00:00Z", 3),
        starts(&b, "2024-01-01T00:00:00Z", 3)
    );
}

#[test]
fn malformed_expressions_are_refused_with_a_reason() {
    assert!(refused("cron(0 10 * * ?)").contains("5 fields"));
    assert!(refused("0 2 * * *").contains("5 fields"));
    assert!(refused("cron(0 10 * * ? *").contains("closing"));
    assert!(refused("cron(0 10 ? * ? *)").contains("both"));
    assert!(refused("cron(0 10 * * * *)").contains("`?`"));
    assert!(refused("cron(0 10 1 * MON *)").contains("`?`"));
    assert!(refused("cron(60 10 * * ? *)").contains("0 to 59"));
    assert!(refused("cron(0 24 * * ? *)").contains("0 to 23"));
    assert!(refused("cron(0 0 0 * ? *)").contains("1 to 31"));
    assert!(refused("cron(0 0 ? 13 MON *)").contains("1 to 12"));
    assert!(refused("cron(0 0 ? * 8 *)").contains("1 to 7"));
    assert!(refused("cron(0 0 ? * MON 1969)").contains("1970 to 2199"));
    assert!(refused("cron(0 0 ? * MON 2200)").contains("1970 to 2199"));
    assert!(refused("cron(0 0 ? * FRI-MON *)").contains("wrap"));
    assert!(refused("cron(0/0 0 * * ? *)").contains("step"));
    assert!(refused("cron(0,,5 0 * * ? *)").contains("empty"));
    assert!(refused("cron(? 0 * * ? *)").contains("`?`"));
    assert!(refused("cron(0 0 L,5 * ? *)").contains("alone"));
    assert!(refused("cron(0 0 5#2 * ? *)").contains("alone"));
    assert!(refused("cron(0 0 32W * ? *)").contains("1 to 31"));
    assert!(refused("cron(0 0 ? * 2#6 *)").contains("1 to 5"));
    assert!(refused("cron(0 0 ? * FUNDAY *)").contains("name"));
}

#[test]
fn names_are_case_insensitive() {
    let a = cron("cron(0 0 ? jan,Mar mon-fri *)");
    let b = cron("cron(0 0 ? 1,3 2-6 *)");
    assert_eq!(
        starts(&a, "2024-01-01T00:00:00Z", 30),
        starts(&b, "2024-01-01T00:00:00Z", 30)
    );
}

// ===================== AWS's examples =====================

#[test]
fn daily_at_ten() {
    let c = cron("cron(0 10 * * ? *)");
    assert_eq!(
        starts(&c, "2024-01-01T10:00:00Z", 2),
        ["2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"]
    );
    assert_eq!(
        starts(&c, "2024-01-01T10:00:00.001Z", 1),
        ["2024-01-02T10:00:00Z"]
    );
}

#[test]
fn weekdays_at_six_pm() {
    let c = cron("cron(0 18 ? * MON-FRI *)");
    // Friday 5 January 2024 18:00, then Monday the 8th.
    assert_eq!(
        starts(&c, "2024-01-05T18:00:01Z", 2),
        ["2024-01-08T18:00:00Z", "2024-01-09T18:00:00Z"]
    );
}

#[test]
fn the_first_of_every_month() {
    let c = cron("cron(0 8 1 * ? *)");
    assert_eq!(
        starts(&c, "2024-01-15T00:00:00Z", 3),
        [
            "2024-02-01T08:00:00Z",
            "2024-03-01T08:00:00Z",
            "2024-04-01T08:00:00Z"
        ]
    );
}

#[test]
fn increments() {
    let c = cron("cron(0/15 * * * ? *)");
    assert_eq!(
        starts(&c, "2024-01-01T00:50:00Z", 3),
        [
            "2024-01-01T01:00:00Z",
            "2024-01-01T01:15:00Z",
            "2024-01-01T01:30:00Z"
        ]
    );
    let c = cron("cron(0/5 8-17 ? * MON-FRI *)");
    assert_eq!(
        starts(&c, "2024-01-05T17:50:00Z", 3),
        [
            "2024-01-05T17:50:00Z",
            "2024-01-05T17:55:00Z",
            "2024-01-08T08:00:00Z"
        ]
    );
    let c = cron("cron(10-30/10 3 * * ? *)");
    assert_eq!(
        starts(&c, "2024-01-01T00:00:00Z", 4),
        [
            "2024-01-01T03:10:00Z",
            "2024-01-01T03:20:00Z",
            "2024-01-01T03:30:00Z",
            "2024-01-02T03:10:00Z"
        ]
    );
}

#[test]
fn the_first_monday_of_the_month() {
    let c = cron("cron(0 9 ? * 2#1 *)");
    assert_eq!(
        starts(&c, "2024-01-01T12:00:00Z", 3),
        [
            "2024-02-05T09:00:00Z",
            "2024-03-04T09:00:00Z",
            "2024-04-01T09:00:00Z"
        ]
    );
}

// ===================== day wildcards =====================

#[test]
fn last_day_of_the_month() {
    let c = cron("cron(0 0 L * ? *)");
    assert_eq!(
        starts(&c, "2024-01-01T00:00:00Z", 3),
        [
            "2024-01-31T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2024-03-31T00:00:00Z"
        ]
    );
}

#[test]
fn last_weekday_of_the_month() {
    // 31 March 2024 is a Sunday, 30 June 2024 a Sunday, 31 August 2024 a Saturday.
    let c = cron("cron(0 0 LW * ? *)");
    assert_eq!(
        starts(&c, "2024-03-01T00:00:00Z", 6),
        [
            "2024-03-29T00:00:00Z",
            "2024-04-30T00:00:00Z",
            "2024-05-31T00:00:00Z",
            "2024-06-28T00:00:00Z",
            "2024-07-31T00:00:00Z",
            "2024-08-30T00:00:00Z"
        ]
    );
}

#[test]
fn nearest_weekday() {
    // 15 June 2024 is a Saturday -> Friday 14th; 15 September 2024 a Sunday -> Monday 16th;
    // 1 June 2024 a Saturday -> Monday 3rd (not May); 30 June 2024 a Sunday -> Friday 28th.
    assert_eq!(
        starts(&cron("cron(0 0 15W * ? *)"), "2024-06-01T00:00:00Z", 1),
        ["2024-06-14T00:00:00Z"]
    );
    assert_eq!(
        starts(&cron("cron(0 0 15W * ? *)"), "2024-09-01T00:00:00Z", 1),
        ["2024-09-16T00:00:00Z"]
    );
    assert_eq!(
        starts(&cron("cron(0 0 1W 6 ? 2024)"), "2024-01-01T00:00:00Z", 1),
        ["2024-06-03T00:00:00Z"]
    );
    assert_eq!(
        starts(&cron("cron(0 0 30W 6 ? 2024)"), "2024-01-01T00:00:00Z", 1),
        ["2024-06-28T00:00:00Z"]
    );
    // 31W does not fire in months of 30 days or fewer.
    assert_eq!(
        starts(&cron("cron(0 0 31W * ? *)"), "2024-04-01T00:00:00Z", 2),
        ["2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z"]
    );
}

#[test]
fn last_given_weekday_and_saturday() {
    // The last Friday of each month.
    assert_eq!(
        starts(&cron("cron(0 0 ? * 6L *)"), "2024-01-01T00:00:00Z", 3),
        [
            "2024-01-26T00:00:00Z",
            "2024-02-23T00:00:00Z",
            "2024-03-29T00:00:00Z"
        ]
    );
    // `L` alone in day-of-week: the last day of the week, Saturday.
    assert_eq!(
        starts(&cron("cron(0 0 ? * L *)"), "2024-01-01T00:00:00Z", 2),
        ["2024-01-06T00:00:00Z", "2024-01-13T00:00:00Z"]
    );
}

#[test]
fn years_bound_the_expression() {
    let c = cron("cron(0 0 1 1 ? 2025,2027)");
    assert_eq!(
        starts(&c, "2024-06-01T00:00:00Z", 5),
        ["2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z"]
    );
    let every_day = cron("cron(0 0 * * ? *)");
    assert_eq!(
        every_day.next_start_at_or_after(ms("2199-12-31T00:00:01Z")),
        None
    );
    assert_eq!(
        every_day.next_start_at_or_after(ms("1900-01-01T00:00:00Z")),
        Some(0)
    );
    // A date that never comes.
    assert_eq!(cron("cron(0 0 30 FEB ? *)").next_start_at_or_after(0), None);
}

#[test]
fn matches_is_the_minute_containing_the_instant() {
    let c = cron("cron(30 2 ? * SUN *)");
    assert!(c.matches(ms("2024-06-02T02:30:00Z")));
    assert!(c.matches(ms("2024-06-02T02:30:59.999Z")));
    assert!(!c.matches(ms("2024-06-02T02:31:00Z")));
    assert!(!c.matches(ms("2024-06-03T02:30:00Z")));
}

// ===================== windows =====================

#[test]
fn durations_outside_1_to_1430_are_refused() {
    for d in [0, 1431, 10_000] {
        assert_eq!(
            MaintenanceWindow::parse("cron(0 0 * * ? *)", d)
                .unwrap_err()
                .kind(),
            &ScheduleErrorKind::DurationOutOfRange(d)
        );
    }
    assert!(MaintenanceWindow::parse("cron(0 0 * * ? *)", 1).is_ok());
    assert!(MaintenanceWindow::parse("cron(0 0 * * ? *)", 1430).is_ok());
}

#[test]
fn a_window_is_start_inclusive_end_exclusive() {
    let w = MaintenanceWindows::new(vec![
        MaintenanceWindow::parse("cron(0 2 * * ? *)", 60).unwrap()
    ]);
    let two = ms("2024-01-01T02:00:00Z");
    assert!(!w.is_open(two - 1));
    assert!(w.is_open(two));
    assert!(w.is_open(two + HOUR - 1));
    assert!(!w.is_open(two + HOUR));
    assert_eq!(w.close_ms(two + 5 * MIN), Some(two + HOUR));
    assert_eq!(w.close_ms(two + HOUR), None);
    assert_eq!(w.next_open_ms(two + HOUR), Some(two + DAY));
    assert_eq!(w.next_open_ms(two + 7), Some(two + 7));
    assert_eq!(
        w.gate(two - HOUR),
        WindowState::Closed {
            opens_ms: Some(two)
        }
    );
    assert_eq!(
        w.gate(two),
        WindowState::Open {
            closes_ms: two + HOUR
        }
    );
}

#[test]
fn a_window_crosses_midnight() {
    let w = MaintenanceWindows::new(vec![
        MaintenanceWindow::parse("cron(0 22 ? * FRI *)", 240).unwrap()
    ]);
    // Friday 5 January 2024 22:00 to Saturday 02:00.
    let fri = ms("2024-01-05T22:00:00Z");
    assert!(w.is_open(ms("2024-01-06T01:59:00Z")));
    assert!(!w.is_open(ms("2024-01-06T02:00:00Z")));
    assert_eq!(w.close_ms(ms("2024-01-06T01:00:00Z")), Some(fri + 4 * HOUR));
    assert_eq!(
        w.next_open_ms(ms("2024-01-06T02:00:00Z")),
        Some(fri + 7 * DAY)
    );
}

#[test]
fn a_window_one_minute_past_midnight() {
    let w = MaintenanceWindows::new(vec![
        MaintenanceWindow::parse("cron(59 23 * * ? *)", 2).unwrap()
    ]);
    let midnight = ms("2024-01-02T00:00:00Z");
    assert!(w.is_open(midnight - MIN));
    assert!(w.is_open(midnight));
    assert!(!w.is_open(midnight + MIN));
    assert_eq!(w.close_ms(midnight - MIN), Some(midnight + MIN));
    assert_eq!(w.close_ms(midnight), Some(midnight + MIN));
}

#[test]
fn overlapping_and_touching_windows_merge() {
    let w = MaintenanceWindows::new(vec![
        MaintenanceWindow::parse("cron(0 1 * * ? *)", 120).unwrap(), // 01:00-03:00
        MaintenanceWindow::parse("cron(0 2 * * ? *)", 120).unwrap(), // 02:00-04:00
        MaintenanceWindow::parse("cron(0 4 * * ? *)", 30).unwrap(),  // 04:00-04:30
    ]);
    let day = ms("2024-01-01T00:00:00Z");
    assert_eq!(w.close_ms(day + HOUR), Some(day + 4 * HOUR + 30 * MIN));
    assert_eq!(w.close_ms(day + 4 * HOUR), Some(day + 4 * HOUR + 30 * MIN));
    assert_eq!(w.next_open_ms(day + 5 * HOUR), Some(day + DAY + HOUR));
}

#[test]
fn windows_that_never_close_close_after_2199() {
    // A two-minute window every minute: always open until the crons end.
    let w = MaintenanceWindows::new(vec![
        MaintenanceWindow::parse("cron(* * * * ? *)", 2).unwrap()
    ]);
    assert_eq!(
        w.close_ms(ms("2199-12-30T00:00:00Z")),
        Some(ms("2200-01-01T00:01:00Z"))
    );
}

#[test]
fn an_empty_set_is_never_open() {
    let w = MaintenanceWindows::default();
    assert!(w.is_empty());
    assert!(!w.is_open(0));
    assert_eq!(w.next_open_ms(0), None);
    assert_eq!(w.close_ms(0), None);
}

// ===================== properties: brute force =====================

/// A generated cron expression, kept as the sets it stands for.
#[derive(Debug, Clone)]
struct Spec {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    day: DaySpec,
    duration: u32,
}

#[derive(Debug, Clone)]
enum DaySpec {
    /// Day-of-week values (1 = Sunday).
    Week(Vec<u32>),
    /// Day-of-month values (at most 28, so that every month has them).
    Month(Vec<u32>),
    /// The last day of the month.
    Last,
}

impl Spec {
    fn text(&self) -> String {
        let list = |v: &[u32]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let (dom, dow) = match &self.day {
            DaySpec::Week(d) => ("?".to_string(), list(d)),
            DaySpec::Month(d) => (list(d), "?".to_string()),
            DaySpec::Last => ("L".to_string(), "?".to_string()),
        };
        format!(
            "cron({} {} {dom} * {dow} *)",
            list(&self.minutes),
            list(&self.hours)
        )
    }

    fn date_matches(&self, date: Date) -> bool {
        match &self.day {
            DaySpec::Week(d) => d.contains(&(date.weekday().to_sunday_one_offset() as u32)),
            DaySpec::Month(d) => d.contains(&(date.day() as u32)),
            DaySpec::Last => date.day() == date.days_in_month(),
        }
    }
}

fn values(max: u32, most: usize) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::btree_set(0..=max, 1..=most).prop_map(|s| s.into_iter().collect())
}

fn spec() -> impl Strategy<Value = Spec> {
    let day = prop_oneof![
        prop::collection::btree_set(1u32..=7, 1..=7)
            .prop_map(|s| DaySpec::Week(s.into_iter().collect())),
        prop::collection::btree_set(1u32..=28, 1..=10)
            .prop_map(|s| DaySpec::Month(s.into_iter().collect())),
        Just(DaySpec::Last),
    ];
    let duration = prop_oneof![1u32..=90, 1u32..=1430, Just(1430u32)];
    (values(59, 4), values(23, 4), day, duration).prop_map(|(minutes, hours, day, duration)| Spec {
        minutes,
        hours,
        day,
        duration,
    })
}

/// Minute-by-minute model of a set of windows over `[from, from + days)`, built from the
/// specs: `open[i]` is whether minute `from + i` is inside some window.
struct Model {
    from: i64,
    open: Vec<bool>,
}

impl Model {
    fn new(specs: &[Spec], from: i64, days: i64) -> Self {
        let n = (days * DAY / MIN) as usize;
        let mut diff = vec![0i32; n + 1];
        // Starts up to a day before `from` can still be open at `from`.
        let first = from - DAY;
        let mut date = None;
        for i in 0..((days + 1) * DAY / MIN) {
            let t = first + i * MIN;
            if date.is_none() || t.rem_euclid(DAY) == 0 {
                let z = Timestamp::from_millisecond(t)
                    .unwrap()
                    .to_zoned(jiff::tz::TimeZone::UTC);
                date = Some(z.date());
            }
            let (hour, minute) = (t.rem_euclid(DAY) / HOUR, t.rem_euclid(HOUR) / MIN);
            for s in specs {
                let fires = s.date_matches(date.unwrap())
                    && s.hours.contains(&(hour as u32))
                    && s.minutes.contains(&(minute as u32));
                if !fires {
                    continue;
                }
                let start = (t - from) / MIN;
                let end = start + i64::from(s.duration);
                let (a, b) = (start.max(0), end.min(n as i64));
                if a < b {
                    diff[a as usize] += 1;
                    diff[b as usize] -= 1;
                }
            }
        }
        let mut open = Vec::with_capacity(n);
        let mut depth = 0;
        for d in &diff[..n] {
            depth += d;
            open.push(depth > 0);
        }
        Self { from, open }
    }

    fn index(&self, t: i64) -> usize {
        ((t - self.from) / MIN) as usize
    }

    fn is_open(&self, t: i64) -> bool {
        self.open[self.index(t)]
    }

    /// The next open instant at or after `t` within the model, if any.
    fn next_open(&self, t: i64) -> Option<i64> {
        if self.is_open(t) {
            return Some(t);
        }
        (self.index(t) + 1..self.open.len())
            .find(|&i| self.open[i])
            .map(|i| self.from + i as i64 * MIN)
    }

    /// The first closed minute after `t` within the model, if any.
    fn close(&self, t: i64) -> Option<i64> {
        (self.index(t)..self.open.len())
            .find(|&i| !self.open[i])
            .map(|i| self.from + i as i64 * MIN)
    }

    fn end(&self) -> i64 {
        self.from + self.open.len() as i64 * MIN
    }
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(ProptestConfig::default().cases.max(256));
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(
        "proptest-regressions/schedule_window.txt",
    )));
    config
}

/// 2024-01-01T00:00Z and the two years after it.
const SPAN_START: i64 = 1_704_067_200_000;
const SPAN: i64 = 2 * 365 * DAY;

proptest! {
    #![proptest_config(config())]

    /// The parser agrees with the sets it was written from, minute by minute over a day.
    #[test]
    fn cron_matches_its_sets(spec in spec(), day in 0i64..730) {
        let c = cron(&spec.text());
        let midnight = SPAN_START + day * DAY;
        let date = Timestamp::from_millisecond(midnight).unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC).date();
        for minute in 0..1440i64 {
            let wanted = spec.date_matches(date)
                && spec.hours.contains(&((minute / 60) as u32))
                && spec.minutes.contains(&((minute % 60) as u32));
            prop_assert_eq!(c.matches(midnight + minute * MIN), wanted, "minute {}", minute);
        }
    }

    /// `is_open`, `next_open_ms` and `close_ms` agree with the brute-force model: open iff some
    /// start s <= t < s + duration; the next opening is the first open minute; the close is the
    /// first closed minute; next_open_ms(t) >= t and is open; merged windows close once.
    #[test]
    fn windows_agree_with_brute_force(
        specs in prop::collection::vec(spec(), 1..=3),
        at in 0i64..SPAN,
        offsets in prop::collection::vec(0i64..(3 * DAY), 6),
    ) {
        let windows = MaintenanceWindows::new(
            specs.iter().map(|s| MaintenanceWindow::parse(&s.text(), s.duration).unwrap()).collect(),
        );
        let from = SPAN_START + at - at.rem_euclid(MIN);
        // 35 days: every generated window opens at least once a month.
        let model = Model::new(&specs, from, 35);
        let mut points: Vec<i64> = offsets.iter().map(|o| from + o + (o % 7) * 1_234).collect();
        points.push(from);
        // The edges: the first minutes at which the model opens or closes, and the
        // millisecond before each.
        let edges: Vec<i64> = (1..model.open.len())
            .filter(|&i| model.open[i] != model.open[i - 1])
            .take(12)
            .map(|i| model.from + i as i64 * MIN)
            .collect();
        for e in edges {
            points.extend([e, e - 1]);
        }
        for t in points {
            let open = model.is_open(t);
            prop_assert_eq!(windows.is_open(t), open, "is_open at {}", utc(t));

            let next = windows.next_open_ms(t);
            match model.next_open(t) {
                Some(n) => prop_assert_eq!(next, Some(n), "next_open_ms at {}", utc(t)),
                None => prop_assert!(next.is_none_or(|n| n >= model.end())),
            }
            if let Some(n) = next {
                prop_assert!(n >= t);
                prop_assert!(windows.is_open(n));
            }

            let close = windows.close_ms(t);
            if !open {
                prop_assert_eq!(close, None);
            } else {
                match model.close(t) {
                    Some(c) => prop_assert_eq!(close, Some(c), "close_ms at {}", utc(t)),
                    None => prop_assert!(close.unwrap() >= model.end()),
                }
                let c = close.unwrap();
                prop_assert!(c > t);
                prop_assert!(!windows.is_open(c));
                prop_assert!(windows.is_open(c - 1));
            }
        }
    }
}
