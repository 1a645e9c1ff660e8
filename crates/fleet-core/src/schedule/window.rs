//! Recurring maintenance windows: a cron start and a duration. A rollout dispatches devices only
//! while a window is open.

use jiff::civil::Date;

use super::cron::{utc_date_minute, utc_ms, CronExpr, DAY_MINUTES};
use super::error::{ScheduleError, ScheduleErrorKind};
use super::MINUTE_MS;

/// The longest maintenance window AWS accepts, in minutes (23 h 50 min).
pub const DURATION_MINUTES_MAX: u32 = 1430;

/// How many openings [`MaintenanceWindows::close_ms`] follows one by one (each O(w)) before it
/// looks at whole days.
const CLOSE_STEPS: usize = 8;

/// One recurring maintenance window: open from each start of a cron expression (UTC) for
/// `duration` minutes, the start included and the end excluded (`[s, s + d)`).
///
/// Cost: [`MaintenanceWindow::open_since_ms`] looks at the day of `t` and the day before (a
/// window lasts less than a day), O(1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    start: CronExpr,
    duration_minutes: u32,
}

impl MaintenanceWindow {
    /// A window opening at each start of `start` for `duration_minutes` (1 to 1430, as AWS
    /// requires).
    pub fn new(start: CronExpr, duration_minutes: u32) -> Result<Self, ScheduleError> {
        if !(1..=DURATION_MINUTES_MAX).contains(&duration_minutes) {
            return Err(ScheduleError::new(ScheduleErrorKind::DurationOutOfRange(
                duration_minutes,
            )));
        }
        Ok(Self {
            start,
            duration_minutes,
        })
    }

    /// [`MaintenanceWindow::new`] from the cron text.
    pub fn parse(start: &str, duration_minutes: u32) -> Result<Self, ScheduleError> {
        Self::new(start.parse()?, duration_minutes)
    }

    /// The cron expression of the starts.
    pub fn start(&self) -> &CronExpr {
        &self.start
    }

    /// How long each opening lasts, in minutes.
    pub fn duration_minutes(&self) -> u32 {
        self.duration_minutes
    }

    /// How long each opening lasts, in milliseconds.
    pub fn duration_ms(&self) -> i64 {
        i64::from(self.duration_minutes) * MINUTE_MS
    }

    /// The start of the opening of this window that contains `t_ms` (the latest one, if
    /// several do), or `None` if this window is closed at `t_ms`.
    pub fn open_since_ms(&self, t_ms: i64) -> Option<i64> {
        let (date, minute) = utc_date_minute(t_ms)?;
        // Every opening has the same length, so the latest start at or before t decides.
        let latest = if self.start.matches_date(date) {
            self.start
                .last_minute_at_or_before(minute)
                .map(|m| utc_ms(date, m))
        } else {
            None
        };
        let latest = latest.or_else(|| {
            let yesterday = date.yesterday().ok()?;
            if !self.start.matches_date(yesterday) {
                return None;
            }
            let m = self.start.last_minute_at_or_before(DAY_MINUTES - 1)?;
            Some(utc_ms(yesterday, m))
        })?;
        (t_ms < latest + self.duration_ms()).then_some(latest)
    }

    /// Adds this window's coverage of UTC day `date` to a difference array over its minutes:
    /// openings that start that day, and those that start the day before and run past
    /// midnight.
    fn add_coverage(&self, date: Date, diff: &mut [i32; DAY_MINUTES as usize + 1]) {
        let d = self.duration_minutes as usize;
        let day = DAY_MINUTES as usize;
        if let Ok(yesterday) = date.yesterday() {
            if self.start.matches_date(yesterday) {
                for m in self.start.minutes_of_day() {
                    let end = m as usize + d;
                    if end > day {
                        diff[0] += 1;
                        diff[end - day] -= 1;
                    }
                }
            }
        }
        if self.start.matches_date(date) {
            for m in self.start.minutes_of_day() {
                diff[m as usize] += 1;
                diff[(m as usize + d).min(day)] -= 1;
            }
        }
    }
}

/// A set of recurring maintenance windows (AWS `maintenanceWindows`): open at `t` when any of
/// them is. Overlapping windows merge, and so do windows that touch (one closes at the minute
/// another opens): [`MaintenanceWindows::close_ms`] is the end of the merged opening.
///
/// An empty set is never open. (A job without maintenance windows is not restricted at all:
/// that is [`super::Scheduling`]'s business, which has no window set then.)
///
/// Cost, for `w` windows: [`is_open`](Self::is_open) O(w);
/// [`next_open_ms`](Self::next_open_ms) O(w) cron searches (each skips non-matching years and
/// months); [`close_ms`](Self::close_ms) O(w) per opening it follows from `t` (up to 8
/// overlapping or touching openings; most merged openings are one or two), and past those O(w x
/// 1440) for the day, then O(w) per further UTC day that the merged opening covers plus O(w x
/// 1440) per distinct pattern of firing windows (a day's coverage depends only on which windows
/// fire that day and the day before).
/// Windows that never close, such as a 2-minute window every minute, cost O(w) per day up to
/// the cron range's end in 2199: about 64,000 days.
///
/// ```
/// use fleet_core::schedule::{MaintenanceWindow, MaintenanceWindows};
///
/// // 22:00-02:00 UTC every night.
/// let windows = MaintenanceWindows::new(vec![MaintenanceWindow::parse("cron(0 22 * * ? *)", 240)?]);
/// let day = 86_400_000;
/// let hour = 3_600_000;
/// assert!(!windows.is_open(12 * hour));
/// assert_eq!(windows.next_open_ms(12 * hour), Some(22 * hour));
/// assert!(windows.is_open(day + hour)); // 01:00 the next day
/// assert_eq!(windows.close_ms(day + hour), Some(day + 2 * hour));
/// # Ok::<(), fleet_core::schedule::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaintenanceWindows {
    windows: Vec<MaintenanceWindow>,
}

impl MaintenanceWindows {
    /// The union of `windows`.
    pub fn new(windows: Vec<MaintenanceWindow>) -> Self {
        Self { windows }
    }

    /// The windows.
    pub fn windows(&self) -> &[MaintenanceWindow] {
        &self.windows
    }

    /// Whether there is no window (never open).
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Whether some window is open at `t_ms`: some start `s` with `s <= t_ms < s + duration`.
    pub fn is_open(&self, t_ms: i64) -> bool {
        self.windows.iter().any(|w| w.open_since_ms(t_ms).is_some())
    }

    /// `t_ms` itself if a window is open then, else the first window start after it; `None` if
    /// no window opens again (the cron expressions end in 2199).
    pub fn next_open_ms(&self, t_ms: i64) -> Option<i64> {
        if self.is_open(t_ms) {
            return Some(t_ms);
        }
        self.windows
            .iter()
            .filter_map(|w| w.start.next_start_at_or_after(t_ms))
            .min()
    }

    /// When the merged opening that contains `t_ms` closes (the first instant after `t_ms` at
    /// which no window is open), or `None` if no window is open at `t_ms`.
    pub fn close_ms(&self, t_ms: i64) -> Option<i64> {
        // The openings that contain t cover [t, end) for the latest of their ends; if no window
        // is open at that end, the merged opening closes there. A few such steps follow a
        // chain of overlapping or touching windows, O(w) each; longer chains go day by day.
        let mut t = t_ms;
        for _ in 0..CLOSE_STEPS {
            let end = self
                .windows
                .iter()
                .filter_map(|w| Some(w.open_since_ms(t)? + w.duration_ms()))
                .max()?;
            if !self.is_open(end) {
                return Some(end);
            }
            t = end;
        }
        self.close_by_day(t)
    }

    /// [`close_ms`](Self::close_ms) from the coverage of each UTC day; `t_ms` is open.
    fn close_by_day(&self, t_ms: i64) -> Option<i64> {
        debug_assert!(self.is_open(t_ms));
        let (mut date, minute) = utc_date_minute(t_ms)?;
        if let Some(m) = self.first_closed_minute(date, minute) {
            return Some(utc_ms(date, m));
        }
        // A day's coverage depends only on which windows fire that day and the day before:
        // days with the same pattern have the same answer, so each pattern is computed once
        // (with at most 64 windows; more are computed day by day).
        let mut known: Vec<(u128, Option<u16>)> = Vec::new();
        let mut fired = self.fired(date);
        loop {
            date = date.tomorrow().ok()?;
            let today = self.fired(date);
            let key = today
                .zip(fired)
                .map(|(a, b)| u128::from(a) << 64 | u128::from(b));
            fired = today;
            let first = match key.and_then(|k| known.iter().find(|(kk, _)| *kk == k)) {
                Some((_, first)) => *first,
                None => {
                    let first = self.first_closed_minute(date, 0);
                    if let Some(k) = key {
                        known.push((k, first));
                    }
                    first
                }
            };
            if let Some(m) = first {
                return Some(utc_ms(date, m));
            }
        }
    }

    /// Which windows fire on UTC day `date` (bit i for window i), if there are at most 64.
    fn fired(&self, date: Date) -> Option<u64> {
        (self.windows.len() <= 64).then(|| {
            self.windows
                .iter()
                .enumerate()
                .filter(|(_, w)| w.start.matches_date(date))
                .fold(0, |mask, (i, _)| mask | 1 << i)
        })
    }

    /// The first minute of UTC day `date` at or after `from` that no window covers.
    fn first_closed_minute(&self, date: Date, from: u16) -> Option<u16> {
        let mut diff = [0i32; DAY_MINUTES as usize + 1];
        for w in &self.windows {
            w.add_coverage(date, &mut diff);
        }
        let mut open = 0;
        for (m, delta) in diff.iter().enumerate().take(DAY_MINUTES as usize) {
            open += delta;
            if m as u16 >= from && open == 0 {
                return Some(m as u16);
            }
        }
        None
    }

    /// [`next_open_ms`](Self::next_open_ms) and [`close_ms`](Self::close_ms) together: what a
    /// driver needs to gate dispatching at `t_ms`.
    pub fn gate(&self, t_ms: i64) -> WindowState {
        match self.close_ms(t_ms) {
            Some(close) => WindowState::Open { closes_ms: close },
            None => WindowState::Closed {
                opens_ms: self.next_open_ms(t_ms),
            },
        }
    }
}

/// Whether a set of maintenance windows is open at an instant, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Open now; closes at `closes_ms`.
    Open {
        /// When the merged opening closes.
        closes_ms: i64,
    },
    /// Closed now; opens at `opens_ms` (`None`: never again).
    Closed {
        /// When the next window opens.
        opens_ms: Option<i64>,
    },
}
