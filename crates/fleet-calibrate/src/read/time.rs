//! Date-times of the exports, to whole milliseconds (finer digits are cut): RFC 3339 strings, strings without an offset (UTC, as IoT Hub's
//! `startTimeUtc` is written in its documentation), and AWS epoch seconds.

use serde_json::Value;

/// Milliseconds since the Unix epoch of a date-time value, or why it is not one.
pub(crate) fn parse(v: &Value) -> Result<i64, String> {
    match v {
        Value::String(s) => parse_str(s),
        Value::Number(n) => {
            let secs = n.as_f64().filter(|s| s.is_finite() && s.abs() < 1e13);
            secs.map(|s| (s * 1000.0).round() as i64)
                .ok_or_else(|| format!("{n} is not a time in seconds since 1970"))
        }
        other => Err(format!(
            "expected a date-time, found {}",
            super::fields::type_of(other)
        )),
    }
}

fn parse_str(s: &str) -> Result<i64, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    match s.parse::<jiff::civil::DateTime>() {
        Ok(dt) => dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| format!("{s:?} is not a date-time: {e}")),
        Err(_) => Err(format!(
            "{s:?} is not a date-time (RFC 3339, such as 2024-05-01T12:00:00Z)"
        )),
    }
}

/// RFC 3339 in UTC with milliseconds, for the exports written by [`crate::synth`].
pub(crate) fn format_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| format!("{t:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_spelling() {
        // The IoT Hub documentation's example: seven digits, no offset (UTC).
        assert_eq!(
            parse(&json!("2016-09-29T18:18:52.7418462")),
            Ok(1_475_173_132_741)
        );
        assert_eq!(
            parse(&json!("2016-09-29T18:18:56.7787107Z")),
            Ok(1_475_173_136_778)
        );
        assert_eq!(
            parse(&json!("2024-01-01T01:00:00+01:00")),
            Ok(1_704_067_200_000)
        );
        // AWS: seconds since the epoch, with a fraction.
        assert_eq!(parse(&json!(1560787023.733)), Ok(1_560_787_023_733));
        assert!(parse(&json!("yesterday"))
            .unwrap_err()
            .contains("not a date-time"));
        assert!(parse(&json!(true)).unwrap_err().contains("found a boolean"));
        assert_eq!(format_ms(1_704_067_200_000), "2024-01-01T00:00:00.000Z");
    }
}
