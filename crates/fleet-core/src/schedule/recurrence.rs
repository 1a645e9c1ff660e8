//! The occurrences of an IoT Central schedule: `start`, `recurrence` (daily, weekly, monthly,
//! yearly or none) and `end` (a date, a number of occurrences, or none), in a time zone.

use std::iter::FusedIterator;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::error::{ScheduleError, ScheduleErrorKind};
use crate::model::validate::{self, DateOrTimestamp};
use crate::model::{EndCondition, Recurrence, Schedule, Validate};

/// The time zone named `name` (an IANA name such as `Europe/Berlin`), or UTC for `None`.
///
/// The database is the one bundled into the crate (jiff's `tzdb-bundle-always`), never the
/// system's, so the result is the same on every machine. `"UTC"` is always known.
///
/// ```
/// use fleet_core::schedule::time_zone;
///
/// assert_eq!(time_zone(None)?.iana_name(), Some("UTC"));
/// assert_eq!(time_zone(Some("America/New_York"))?.iana_name(), Some("America/New_York"));
/// assert!(time_zone(Some("Mars/Olympus_Mons")).is_err());
/// # Ok::<(), fleet_core::schedule::ScheduleError>(())
/// ```
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, ScheduleError> {
    match name {
        None => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name)
            .map_err(|_| ScheduleError::new(ScheduleErrorKind::UnknownTimeZone(name.to_string()))),
    }
}

/// Where the occurrences of a schedule stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndRule {
    /// No end: a recurring schedule without `end` goes on (to the end of jiff's calendar, the
    /// year 9999).
    Never,
    /// No occurrence after this instant (milliseconds, inclusive). An end `date` of
    /// `2022-12-30` is the last millisecond of that day in the schedule's time zone; an end
    /// date-time is that instant.
    Until(i64),
    /// The first `n` occurrences (the start counts as the first). A schedule without
    /// `recurrence` is `Count(1)`.
    Count(u32),
}

/// The civil step between two occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Days(i64),
    Months(i64),
}

/// A schedule ready to compute its occurrences: the start instant, its wall-clock time in the
/// schedule's time zone, the step and the end.
///
/// Occurrence `k` is computed from the start, never from occurrence `k - 1`: the start's civil
/// date-time in the time zone plus `k` days (daily), `7k` days (weekly), `k` months (monthly,
/// the day clamped to the month's last day) or `12k` months (yearly, 29 February clamped to
/// the 28th in common years), then turned back into an instant with jiff's
/// "compatible" disambiguation (a wall-clock time that a daylight-saving gap skips moves forward
/// by the gap; one that a fold repeats takes the earlier instant). Occurrence 0 is the start
/// instant itself. See `docs/semantics.md`, "Schedules and maintenance windows".
///
/// Cost: building is O(1) plus one time zone lookup; each occurrence is O(1) civil arithmetic
/// and one offset lookup (O(log transitions)). The plan is small and cheap to clone (the time
/// zone is reference-counted).
#[derive(Debug, Clone)]
pub struct SchedulePlan {
    start_ms: i64,
    civil_start: DateTime,
    tz: TimeZone,
    step: Option<Step>,
    end: EndRule,
}

impl SchedulePlan {
    /// Plans `schedule` in the time zone named `time_zone` (UTC for `None`).
    ///
    /// The schedule is validated first (the model's rules: `start` an RFC 3339 date-time with an
    /// offset, an `end` only with a `recurrence`, `occurrences` at least 1). An end that comes
    /// before the start in that time zone is refused ([`ScheduleErrorKind::EndBeforeStart`]):
    /// every accepted schedule has at least one occurrence, its start.
    pub fn new(schedule: &Schedule, time_zone: Option<&str>) -> Result<Self, ScheduleError> {
        Self::with_time_zone(schedule, self::time_zone(time_zone)?)
    }

    /// Plans `schedule` in `tz`.
    pub fn with_time_zone(schedule: &Schedule, tz: TimeZone) -> Result<Self, ScheduleError> {
        schedule.validate()?;
        let start = validate::timestamp("start", &schedule.start)?;
        let start_ms = start.as_millisecond();
        let civil_start = tz.to_datetime(start);
        let step = schedule.recurrence.map(|r| match r {
            Recurrence::Daily => Step::Days(1),
            Recurrence::Weekly => Step::Days(7),
            Recurrence::Monthly => Step::Months(1),
            Recurrence::Yearly => Step::Months(12),
        });
        let end = match (&schedule.recurrence, &schedule.end) {
            (None, _) => EndRule::Count(1),
            (Some(_), None) => EndRule::Never,
            (Some(_), Some(end)) => match end.condition().map_err(|e| e.within("end"))? {
                EndCondition::Occurrences(n) => EndRule::Count(n),
                EndCondition::Date(text) => {
                    let until = match validate::date_or_timestamp("end.date", text)? {
                        DateOrTimestamp::Timestamp(t) => t.as_millisecond(),
                        DateOrTimestamp::Date(d) => match d.tomorrow() {
                            // The last millisecond of the day, in the schedule's zone.
                            Ok(next) => next
                                .to_zoned(tz.clone())
                                .map(|z| z.timestamp().as_millisecond() - 1)
                                .unwrap_or(i64::MAX),
                            Err(_) => i64::MAX,
                        },
                    };
                    if until < start_ms {
                        return Err(ScheduleError::new(ScheduleErrorKind::EndBeforeStart {
                            start: schedule.start.clone(),
                            end: text.to_string(),
                        }));
                    }
                    EndRule::Until(until)
                }
            },
        };
        Ok(Self {
            start_ms,
            civil_start,
            tz,
            step,
            end,
        })
    }

    /// The first occurrence (the start), in milliseconds.
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// The time zone whose wall clock the occurrences follow.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Where the occurrences stop.
    pub fn end(&self) -> EndRule {
        self.end
    }

    /// Whether the schedule recurs (it has a `recurrence`).
    pub fn recurs(&self) -> bool {
        self.step.is_some()
    }

    /// Whether the occurrences are finite (an end, or no recurrence).
    pub fn is_finite(&self) -> bool {
        self.end != EndRule::Never
    }

    /// The occurrences, in strictly increasing order, as an iterator that owns a copy of the
    /// plan (it can be stored beside it).
    pub fn occurrences(&self) -> Occurrences {
        Occurrences {
            plan: self.clone(),
            k: 0,
            yielded: 0,
            last: None,
            done: false,
        }
    }

    /// Candidate `k`: the start's wall-clock time plus `k` steps, resolved in the time zone.
    /// `None` past the calendar's end (or for `k >= 1` without a recurrence).
    fn candidate(&self, k: i64) -> Option<i64> {
        if k == 0 {
            return Some(self.start_ms);
        }
        let span = match self.step? {
            Step::Days(d) => Span::new().try_days(k.checked_mul(d)?).ok()?,
            Step::Months(m) => Span::new().try_months(k.checked_mul(m)?).ok()?,
        };
        let civil = self.civil_start.checked_add(span).ok()?;
        let instant: Timestamp = self.tz.to_ambiguous_timestamp(civil).compatible().ok()?;
        Some(instant.as_millisecond())
    }
}

/// The occurrences of a [`SchedulePlan`], in milliseconds, strictly increasing.
///
/// A candidate that falls on or before the previous occurrence is dropped. That happens only
/// where a time zone skips a whole calendar day (Pacific/Apia skipped 30 December 2011): the
/// skipped day's occurrence lands on the next day's and the two are one occurrence.
///
/// Cost: O(1) per occurrence (see [`SchedulePlan`]); [`Occurrences::skip_before`] is linear in
/// the number of occurrences it passes.
#[derive(Debug, Clone)]
pub struct Occurrences {
    plan: SchedulePlan,
    k: i64,
    yielded: u32,
    last: Option<i64>,
    done: bool,
}

impl Occurrences {
    /// How many occurrences were returned so far: the index of the next one.
    pub fn index(&self) -> u32 {
        self.yielded
    }

    /// The plan these occurrences come from.
    pub fn plan(&self) -> &SchedulePlan {
        &self.plan
    }

    /// The next occurrence without taking it. O(1) amortized (computes it and keeps a copy of
    /// the iterator's state).
    pub fn peek(&self) -> Option<i64> {
        self.clone().next()
    }

    /// Takes every occurrence before `t_ms` and returns how many it took. Linear in that
    /// number.
    pub fn skip_before(&mut self, t_ms: i64) -> u32 {
        let mut taken = 0;
        while let Some(next) = self.peek() {
            if next >= t_ms {
                break;
            }
            self.next();
            taken += 1;
        }
        taken
    }
}

impl Iterator for Occurrences {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        loop {
            if self.done {
                return None;
            }
            if let EndRule::Count(n) = self.plan.end {
                if self.yielded >= n {
                    self.done = true;
                    return None;
                }
            }
            let Some(t) = self.plan.candidate(self.k) else {
                self.done = true;
                return None;
            };
            self.k += 1;
            if self.last.is_some_and(|last| t <= last) {
                continue;
            }
            if let EndRule::Until(until) = self.plan.end {
                if t > until {
                    self.done = true;
                    return None;
                }
            }
            self.last = Some(t);
            self.yielded += 1;
            return Some(t);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match (self.done, self.plan.end) {
            (true, _) => (0, Some(0)),
            (false, EndRule::Count(n)) => (0, Some(n.saturating_sub(self.yielded) as usize)),
            (false, _) => (0, None),
        }
    }
}

impl FusedIterator for Occurrences {}
