//! AWS cron expressions: `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, in UTC.
//!
//! AWS (EventBridge, AWS IoT Jobs' maintenance windows) uses six fields, the last a year, and
//! the Quartz-style wildcards `? L W #`. None of the cron crates that fit jiff reads this
//! dialect (they read five- or seven-field Unix or Quartz expressions with second fields and
//! different day-of-week numbers), so this module parses it itself: a small grammar, compiled
//! into bit sets.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, Time};
use jiff::tz::Offset;
use jiff::Span;

use super::error::ScheduleError;
use super::{DAY_MS, MINUTE_MS};

/// The first year a cron expression can name.
const YEAR_MIN: i16 = 1970;
/// The last year a cron expression can name.
const YEAR_MAX: i16 = 2199;
/// Minutes in a day.
pub(crate) const DAY_MINUTES: u16 = 1440;

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// An AWS cron expression: the minutes at which something starts, in UTC.
///
/// Accepted: `cron(M H DoM Mon DoW Y)` or the six fields alone, separated by spaces.
///
/// | field | values | wildcards |
/// |---|---|---|
/// | minutes | 0-59 | `, - * /` |
/// | hours | 0-23 | `, - * /` |
/// | day of month | 1-31 | `, - * / ?`, `L` (last day), `LW` (last weekday), `nW` (weekday nearest day n) |
/// | month | 1-12 or JAN-DEC | `, - * /` |
/// | day of week | 1-7 (1 = Sunday) or SUN-SAT | `, - * / ?`, `L` (Saturday), `dL` (last day d of the month), `d#n` (n-th day d of the month) |
/// | year | 1970-2199 | `, - * /` |
///
/// As AWS requires, exactly one of day-of-month and day-of-week is `?`. Names are
/// case-insensitive. `a/s` means a, a+s, ... up to the field's maximum; `a-b/s` stops at b;
/// ranges do not wrap (`FRI-MON` is refused). `L`, `W` and `#` stand alone in their field (no
/// lists). `nW` is the weekday (Monday to Friday) nearest day n within the same month; if the
/// month has fewer than n days it does not fire that month. Nothing fires after 2199, the last
/// year AWS accepts.
///
/// Cost: parsing is linear in the text; [`CronExpr::matches`] is O(1);
/// [`CronExpr::next_start_at_or_after`] jumps over years and months that do not match and
/// checks at most a month's days per matching month, O(1) per day.
///
/// ```
/// use fleet_core::schedule::CronExpr;
///
/// // Every Sunday at 02:30 UTC.
/// let cron: CronExpr = "cron(30 2 ? * SUN *)".parse()?;
/// let sat = jiff::Timestamp::from_second(1_717_200_000).unwrap(); // 2024-06-01 (Saturday) 00:00Z
/// let next = cron.next_start_at_or_after(sat.as_millisecond()).unwrap();
/// assert_eq!(jiff::Timestamp::from_millisecond(next).unwrap().to_string(), "2024-06-02T02:30:00Z");
/// # Ok::<(), fleet_core::schedule::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    source: String,
    minutes: u64,
    hours: u32,
    days: DayRule,
    months: u16,
    /// Bit `y - 1970`, for 1970..=2199 (230 bits).
    years: [u128; 2],
}

/// The day part: exactly one of day-of-month and day-of-week is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayRule {
    /// Day-of-month bits 1..=31.
    MonthDays(u32),
    /// `L` in day-of-month.
    LastDay,
    /// `LW` in day-of-month.
    LastWeekday,
    /// `nW` in day-of-month.
    NearestWeekday(i8),
    /// Day-of-week bits 1..=7 (1 = Sunday).
    WeekDays(u8),
    /// `dL` in day-of-week: the last day `d` (1 = Sunday) of the month.
    LastOfMonth(i8),
    /// `d#n` in day-of-week: the `n`-th day `d` of the month.
    Nth(i8, i8),
}

impl FromStr for CronExpr {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, ScheduleError> {
        Self::parse(s)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl CronExpr {
    /// Parses an AWS cron expression (see the type's documentation for the grammar).
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let err = |reason: String| ScheduleError::cron(text, reason);
        let trimmed = text.trim();
        let body = match trimmed.strip_prefix("cron(") {
            Some(rest) => rest
                .strip_suffix(')')
                .ok_or_else(|| err("`cron(` without its closing `)`".into()))?,
            None => trimmed,
        };
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(err(format!(
                "{} fields; AWS cron has 6: minutes hours day-of-month month day-of-week year",
                fields.len()
            )));
        }
        let minutes = mask(&field_values(fields[0], "minutes", 0, 59, &[]).map_err(err)?);
        let hours = mask(&field_values(fields[1], "hours", 0, 23, &[]).map_err(err)?) as u32;
        let months = mask(&field_values(fields[3], "month", 1, 12, &MONTH_NAMES).map_err(err)?);
        let mut years = [0u128; 2];
        for y in
            field_values(fields[5], "year", YEAR_MIN as u32, YEAR_MAX as u32, &[]).map_err(err)?
        {
            let bit = y - YEAR_MIN as u32;
            years[(bit / 128) as usize] |= 1u128 << (bit % 128);
        }
        let (dom, dow) = (fields[2], fields[4]);
        let days = match (dom == "?", dow == "?") {
            (true, true) => {
                return Err(err(
                    "day-of-month and day-of-week are both `?`; one of them needs a value".into(),
                ))
            }
            (false, false) => {
                return Err(err(
                    "AWS needs `?` in day-of-month or in day-of-week (one of them, not both)"
                        .into(),
                ))
            }
            (false, true) => month_day_rule(dom).map_err(err)?,
            (true, false) => week_day_rule(dow).map_err(err)?,
        };
        Ok(Self {
            source: trimmed.to_string(),
            minutes,
            hours,
            days,
            months: months as u16,
            years,
        })
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the minute that contains `t_ms` is one at which this expression fires.
    pub fn matches(&self, t_ms: i64) -> bool {
        let Some((date, minute)) = utc_date_minute(t_ms) else {
            return false;
        };
        self.matches_date(date) && self.matches_minute_of_day(minute)
    }

    /// The first minute at or after `t_ms` at which this expression fires (a whole minute, in
    /// milliseconds), or `None` if it never fires again (after 2199).
    pub fn next_start_at_or_after(&self, t_ms: i64) -> Option<i64> {
        let from = if t_ms < epoch_ms(YEAR_MIN) {
            epoch_ms(YEAR_MIN)
        } else {
            t_ms.checked_add(MINUTE_MS - 1)?.div_euclid(MINUTE_MS) * MINUTE_MS
        };
        let (date, minute) = utc_date_minute(from)?;
        let mut day = self.next_matching_date(date)?;
        if day == date {
            if let Some(m) = self.first_minute_at_or_after(minute) {
                return Some(utc_ms(day, m));
            }
            day = self.next_matching_date(day.tomorrow().ok()?)?;
        }
        Some(utc_ms(day, self.first_minute_at_or_after(0)?))
    }

    /// Whether the expression fires on some minute of `date` (UTC).
    pub(crate) fn matches_date(&self, date: Date) -> bool {
        let year = date.year();
        if !(YEAR_MIN..=YEAR_MAX).contains(&year) {
            return false;
        }
        let bit = (year - YEAR_MIN) as u32;
        if self.years[(bit / 128) as usize] & (1u128 << (bit % 128)) == 0 {
            return false;
        }
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let day = date.day();
        let last = date.days_in_month();
        let weekday = date.weekday().to_sunday_one_offset();
        match self.days {
            DayRule::MonthDays(bits) => bits & (1 << day) != 0,
            DayRule::LastDay => day == last,
            DayRule::LastWeekday => {
                let last_date = date.last_of_month();
                let shift = match last_date.weekday().to_sunday_one_offset() {
                    1 => 2, // Sunday -> Friday
                    7 => 1, // Saturday -> Friday
                    _ => 0,
                };
                day == last - shift
            }
            DayRule::NearestWeekday(n) => {
                if n > last {
                    return false;
                }
                let target = date.first_of_month().with().day(n).build();
                let Ok(target) = target else { return false };
                let wanted = match target.weekday().to_sunday_one_offset() {
                    7 if n == 1 => 3,        // Saturday the 1st -> Monday the 3rd
                    7 => n - 1,              // Saturday -> Friday
                    1 if n == last => n - 2, // Sunday the last -> Friday
                    1 => n + 1,              // Sunday -> Monday
                    _ => n,
                };
                day == wanted
            }
            DayRule::WeekDays(bits) => bits & (1 << weekday) != 0,
            DayRule::LastOfMonth(d) => weekday == d && day + 7 > last,
            DayRule::Nth(d, n) => weekday == d && (day - 1) / 7 + 1 == n,
        }
    }

    /// Whether the expression fires at minute `minute` (0..1440) of a matching day.
    pub(crate) fn matches_minute_of_day(&self, minute: u16) -> bool {
        let (h, m) = (minute / 60, minute % 60);
        self.hours & (1 << h) != 0 && self.minutes & (1 << m) != 0
    }

    /// The first minute of a matching day at or after `from` (minute of day) at which the
    /// expression fires.
    pub(crate) fn first_minute_at_or_after(&self, from: u16) -> Option<u16> {
        let (h0, m0) = (from / 60, from % 60);
        for h in h0..24 {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let minutes = if h == h0 {
                self.minutes & (u64::MAX << m0)
            } else {
                self.minutes
            };
            if minutes != 0 {
                return Some(h * 60 + minutes.trailing_zeros() as u16);
            }
        }
        None
    }

    /// The last minute of a matching day at or before `upto` (minute of day) at which the
    /// expression fires.
    pub(crate) fn last_minute_at_or_before(&self, upto: u16) -> Option<u16> {
        let (h0, m0) = (upto / 60, upto % 60);
        for h in (0..=h0).rev() {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let minutes = if h == h0 {
                self.minutes & (u64::MAX >> (63 - m0))
            } else {
                self.minutes
            };
            if minutes != 0 {
                return Some(h * 60 + (63 - minutes.leading_zeros()) as u16);
            }
        }
        None
    }

    /// Every minute of a matching day at which the expression fires, in order.
    pub(crate) fn minutes_of_day(&self) -> impl Iterator<Item = u16> + '_ {
        (0..24u16)
            .filter(|h| self.hours & (1 << h) != 0)
            .flat_map(|h| {
                (0..60u16)
                    .filter(|m| self.minutes & (1 << m) != 0)
                    .map(move |m| h * 60 + m)
            })
    }

    /// The first date at or after `from` on which the expression fires, skipping years and
    /// months that do not match.
    pub(crate) fn next_matching_date(&self, from: Date) -> Option<Date> {
        let mut d = from;
        loop {
            let year = d.year();
            if year > YEAR_MAX {
                return None;
            }
            if year < YEAR_MIN {
                d = Date::new(YEAR_MIN, 1, 1).ok()?;
                continue;
            }
            let bit = (year - YEAR_MIN) as u32;
            if self.years[(bit / 128) as usize] & (1u128 << (bit % 128)) == 0 {
                d = Date::new(year + 1, 1, 1).ok()?;
                continue;
            }
            let month = d.month();
            if self.months & (1 << month) == 0 {
                let later = self.months & (u16::MAX << (month + 1)) & 0x1ffe;
                d = if later == 0 {
                    Date::new(year + 1, 1, 1).ok()?
                } else {
                    Date::new(year, later.trailing_zeros() as i8, 1).ok()?
                };
                continue;
            }
            if self.matches_date(d) {
                return Some(d);
            }
            d = d.tomorrow().ok()?;
        }
    }
}

/// The rule of a day-of-month field (day-of-week is `?`).
fn month_day_rule(text: &str) -> Result<DayRule, String> {
    let upper = text.to_ascii_uppercase();
    if upper == "L" {
        return Ok(DayRule::LastDay);
    }
    if upper == "LW" {
        return Ok(DayRule::LastWeekday);
    }
    if let Some(n) = upper.strip_suffix('W') {
        let n: i8 = n
            .parse()
            .ok()
            .filter(|n| (1..=31).contains(n))
            .ok_or_else(|| format!("day-of-month {text:?}: `nW` needs a day n from 1 to 31"))?;
        return Ok(DayRule::NearestWeekday(n));
    }
    if upper.contains(['L', 'W', '#']) {
        return Err(format!(
            "day-of-month {text:?}: `L`, `LW` and `nW` stand alone; `#` belongs to day-of-week"
        ));
    }
    let days = field_values(text, "day-of-month", 1, 31, &[])?;
    Ok(DayRule::MonthDays(mask(&days) as u32))
}

/// The rule of a day-of-week field (day-of-month is `?`).
fn week_day_rule(text: &str) -> Result<DayRule, String> {
    let upper = text.to_ascii_uppercase();
    if upper == "L" {
        return Ok(DayRule::WeekDays(1 << 7));
    }
    let weekday = |s: &str| -> Result<i8, String> {
        Ok(value(s, "day-of-week", 1, 7, &WEEKDAY_NAMES)? as i8)
    };
    if let Some((d, n)) = upper.split_once('#') {
        let d = weekday(d)?;
        let n: i8 = n
            .parse()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(|| format!("day-of-week {text:?}: `d#n` needs n from 1 to 5"))?;
        return Ok(DayRule::Nth(d, n));
    }
    if let Some(d) = upper.strip_suffix('L') {
        return Ok(DayRule::LastOfMonth(weekday(d)?));
    }
    let days = field_values(text, "day-of-week", 1, 7, &WEEKDAY_NAMES)?;
    Ok(DayRule::WeekDays(mask(&days) as u8))
}

/// The values a field lists: `*`, `v`, `a-b`, each optionally `/step`, separated by commas.
fn field_values(
    text: &str,
    field: &str,
    min: u32,
    max: u32,
    names: &[&str],
) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(format!("{field} {text:?}: an empty item in the list"));
        }
        if item == "?" {
            return Err(format!(
                "{field} {text:?}: `?` is only for day-of-month or day-of-week, alone"
            ));
        }
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|s| *s >= 1).ok_or_else(|| {
                        format!("{field} {item:?}: a step is a whole number >= 1")
                    })?;
                (base, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if base == "*" {
            (min, max)
        } else if let Some((a, b)) = base.split_once('-') {
            let (a, b) = (
                value(a, field, min, max, names)?,
                value(b, field, min, max, names)?,
            );
            if a > b {
                return Err(format!(
                    "{field} {item:?}: a range goes upwards (ranges do not wrap around)"
                ));
            }
            (a, b)
        } else {
            let v = value(base, field, min, max, names)?;
            (v, if step.is_some() { max } else { v })
        };
        out.extend((lo..=hi).step_by(step.unwrap_or(1) as usize));
    }
    Ok(out)
}

/// One value: a number in `min..=max`, or a name (`names[i]` is `min + i`).
fn value(text: &str, field: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(min + i as u32);
    }
    match text.parse::<u32>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!(
            "{field}: {text:?} is not a value from {min} to {max}{}",
            if names.is_empty() {
                String::new()
            } else {
                format!(" or a name ({})", names.join(", "))
            }
        )),
    }
}

/// A bit mask of values below 64.
fn mask(values: &[u32]) -> u64 {
    values.iter().fold(0, |m, v| m | (1u64 << v))
}

/// 1 January of `year`, 00:00 UTC, in milliseconds.
fn epoch_ms(year: i16) -> i64 {
    Date::new(year, 1, 1).map(|d| utc_ms(d, 0)).unwrap_or(0)
}

/// The UTC date and minute of the day of an instant; `None` outside jiff's calendar.
pub(crate) fn utc_date_minute(t_ms: i64) -> Option<(Date, u16)> {
    let day = t_ms.div_euclid(DAY_MS);
    let minute = (t_ms.rem_euclid(DAY_MS) / MINUTE_MS) as u16;
    let date = Date::constant(1970, 1, 1)
        .checked_add(Span::new().try_days(day).ok()?)
        .ok()?;
    Some((date, minute))
}

/// The instant of minute `minute` of UTC date `date`, in milliseconds.
pub(crate) fn utc_ms(date: Date, minute: u16) -> i64 {
    let midnight = Offset::UTC
        .to_timestamp(date.to_datetime(Time::midnight()))
        .map(|t| t.as_millisecond())
        .unwrap_or(i64::MAX - DAY_MS);
    midnight + i64::from(minute) * MINUTE_MS
}
