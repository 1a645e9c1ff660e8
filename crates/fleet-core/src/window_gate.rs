//! A run's maintenance windows (semantics rule 17.6): whether one is open at a run time, with
//! the last answer cached over the interval in which it holds.

use std::sync::Arc;

use crate::schedule::{MaintenanceWindows, WindowState};

/// What the windows say at a run time, and the interval of run times `[from_ms, until_ms)` over
/// which the answer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowSpan {
    /// Whether a window is open.
    pub(crate) open: bool,
    /// The run time the answer was computed for.
    from_ms: i64,
    /// When the answer changes: the merged opening closes (open), or the next window opens
    /// (closed). `None`: closed for ever (no window opens again).
    pub(crate) until_ms: Option<i64>,
}

impl WindowSpan {
    fn holds_at(&self, t_ms: i64) -> bool {
        self.from_ms <= t_ms && self.until_ms.is_none_or(|until| t_ms < until)
    }
}

/// A run's windows and its clock origin: run time `t` is the UTC instant `origin_ms + t`.
///
/// Cost: [`WindowGate::at`] is O(1) while `t` stays in the span of the last answer, and one
/// [`MaintenanceWindows::gate`] when it leaves it: once per opening and once per closing that
/// the run's inputs cross, not once per input.
#[derive(Debug, Clone)]
pub(crate) struct WindowGate {
    windows: Arc<MaintenanceWindows>,
    origin_ms: i64,
    span: Option<WindowSpan>,
    /// How many times the answer was computed (for the tests of the cache).
    lookups: u32,
}

impl WindowGate {
    pub(crate) fn new(windows: Arc<MaintenanceWindows>, origin_ms: i64) -> Self {
        debug_assert!(!windows.is_empty(), "the builder refuses an empty set");
        Self {
            windows,
            origin_ms,
            span: None,
            lookups: 0,
        }
    }

    /// The windows at run time `now_ms`.
    #[inline]
    pub(crate) fn at(&mut self, now_ms: i64) -> WindowSpan {
        match self.span {
            Some(span) if span.holds_at(now_ms) => span,
            _ => self.look_up(now_ms),
        }
    }

    #[cold]
    fn look_up(&mut self, now_ms: i64) -> WindowSpan {
        let origin = self.origin_ms;
        let to_run = |utc_ms: i64| utc_ms.saturating_sub(origin);
        let (open, until_ms) = match self.windows.gate(origin.saturating_add(now_ms)) {
            WindowState::Open { closes_ms } => (true, Some(to_run(closes_ms))),
            WindowState::Closed { opens_ms } => (false, opens_ms.map(to_run)),
        };
        debug_assert!(until_ms.is_none_or(|until| until > now_ms));
        let span = WindowSpan {
            open,
            from_ms: now_ms,
            until_ms,
        };
        self.span = Some(span);
        self.lookups += 1;
        span
    }

    /// The windows.
    pub(crate) fn windows(&self) -> &MaintenanceWindows {
        &self.windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::MaintenanceWindow;

    const MINUTE: i64 = 60_000;

    /// Open 10 minutes of every hour, from minute 0.
    fn hourly(origin_ms: i64) -> WindowGate {
        let w = MaintenanceWindow::parse("cron(0 * * * ? *)", 10).unwrap();
        WindowGate::new(Arc::new(MaintenanceWindows::new(vec![w])), origin_ms)
    }

    #[test]
    fn the_answer_is_computed_once_per_span() {
        let mut g = hourly(0);
        for t in (0..10 * MINUTE).step_by(7_000) {
            assert!(g.at(t).open);
        }
        assert_eq!(g.lookups, 1, "one lookup for the whole opening");
        let closed = g.at(10 * MINUTE);
        assert!(!closed.open);
        assert_eq!(closed.until_ms, Some(60 * MINUTE));
        for t in (10 * MINUTE..60 * MINUTE).step_by(11_000) {
            assert!(!g.at(t).open);
        }
        assert_eq!(g.lookups, 2);
        assert!(g.at(60 * MINUTE).open);
        assert_eq!(g.lookups, 3);
        // A time before the span's start is looked up again.
        assert!(g.at(5 * MINUTE).open);
        assert_eq!(g.lookups, 4);
    }

    #[test]
    fn run_times_are_shifted_by_the_origin() {
        // Run time 0 is 00:55 UTC: the window (00:00-00:10 every hour) is closed until 01:00,
        // run time 5 minutes, and then open until 01:10, run time 15 minutes.
        let mut g = hourly(55 * MINUTE);
        let s = g.at(0);
        assert!(!s.open);
        assert_eq!(s.until_ms, Some(5 * MINUTE));
        let s = g.at(5 * MINUTE);
        assert!(s.open);
        assert_eq!(s.until_ms, Some(15 * MINUTE));
    }

    #[test]
    fn windows_that_never_open_again_are_closed_for_ever() {
        let w = MaintenanceWindow::parse("cron(0 12 * * ? 2001)", 60).unwrap();
        let mut g = WindowGate::new(
            Arc::new(MaintenanceWindows::new(vec![w])),
            1_700_000_000_000,
        );
        let s = g.at(0);
        assert_eq!((s.open, s.until_ms), (false, None));
        assert_eq!(g.at(i64::MAX / 2), s);
        assert_eq!(g.lookups, 1);
    }
}
