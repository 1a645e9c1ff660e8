//! Time on the charts' axes: `h:mm:ss` of virtual time (days as `2d 03:00` past two days), or
//! dates when the virtual clock is a calendar one (a scenario with dates: scheduled jobs).

/// Virtual instants from this one on (in ms, about 1973) are read as Unix-epoch dates.
const CALENDAR_FROM_MS: i64 = 100_000_000_000;
const DAY_MS: i64 = 86_400_000;

/// The label of instant `ms` on an axis spanning `span_ms`.
pub(crate) fn label(ms: i64, span_ms: i64) -> String {
    if ms >= CALENDAR_FROM_MS {
        let format = match span_ms {
            s if s < DAY_MS => "%H:%M:%S",
            s if s < 60 * DAY_MS => "%b %d %H:%M",
            _ => "%Y-%m-%d",
        };
        return match jiff::Timestamp::from_millisecond(ms) {
            Ok(t) => t.strftime(format).to_string(),
            Err(_) => format!("{ms} ms"),
        };
    }
    let s = ms.max(0) / 1000;
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    if span_ms >= 2 * DAY_MS {
        return format!("{}d {:02}:{:02}", h / 24, h % 24, m);
    }
    if span_ms < 60_000 {
        return format!("{h}:{m:02}:{sec:02}.{}", (ms.max(0) % 1000) / 100);
    }
    format!("{h}:{m:02}:{sec:02}")
}

/// The axis's description: what its labels are.
pub(crate) fn description(first_ms: i64, span_ms: i64) -> &'static str {
    match (first_ms >= CALENDAR_FROM_MS, span_ms >= 2 * DAY_MS) {
        (true, _) => "virtual time (UTC)",
        (false, true) => "virtual time (days hh:mm)",
        (false, false) => "virtual time (h:mm:ss)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_clock_times_never_raw_seconds() {
        assert_eq!(label(90_000, 300_000), "0:01:30");
        assert_eq!(label(3_723_000, 7_200_000), "1:02:03");
        assert_eq!(label(1_500, 30_000), "0:00:01.5");
        assert_eq!(label(3 * DAY_MS + 3_600_000, 5 * DAY_MS), "3d 01:00");
        // 2026-03-01 02:00 UTC on a calendar clock.
        let march = 1_772_330_400_000;
        assert_eq!(label(march, 3_600_000), "02:00:00");
        assert_eq!(label(march, 30 * DAY_MS), "Mar 01 02:00");
        assert_eq!(label(march, 365 * DAY_MS), "2026-03-01");
        assert_eq!(description(march, DAY_MS), "virtual time (UTC)");
        assert_eq!(description(0, DAY_MS), "virtual time (h:mm:ss)");
    }
}
