//! The server's clock: virtual milliseconds that run `time_scale` times faster than the wall
//! clock, and stand still while the server is down.
//!
//! On a fresh data directory virtual time starts at the wall-clock time (milliseconds since
//! the Unix epoch), so that timestamps in responses are plausible dates. Every commit of the
//! driver records the virtual time it reached; a restarted server resumes from there. So a
//! job killed with a device answer due in 2 virtual seconds gets that answer 2 virtual seconds
//! after the restart, whatever the downtime and the time scale.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Virtual time in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    scale: f64,
    base_vt: i64,
    base: Instant,
}

impl Clock {
    /// A clock reading `start_vt` now and running `scale` times faster than the wall clock.
    pub(crate) fn new(start_vt: i64, scale: f64) -> Self {
        Self {
            scale,
            base_vt: start_vt,
            base: Instant::now(),
        }
    }

    /// The virtual time now.
    pub(crate) fn now(&self) -> i64 {
        let elapsed = self.base.elapsed().as_secs_f64() * 1000.0 * self.scale;
        self.base_vt.saturating_add(elapsed as i64)
    }

    /// The wall-clock time until virtual time `vt` (zero if it has passed).
    pub(crate) fn until(&self, vt: i64) -> Duration {
        let ahead = vt.saturating_sub(self.now());
        if ahead <= 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(ahead as f64 / 1000.0 / self.scale)
    }
}

/// The wall clock in milliseconds since the Unix epoch.
pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// RFC 3339 text of a virtual time (`2026-11-22T16:30:00.123Z`).
pub(crate) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_default()
}

/// The virtual time of an RFC 3339 date-time.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}
