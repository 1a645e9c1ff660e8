//! Paging with opaque continuation tokens.
//!
//! A token is `base64url("v1|<cursor>")`; the cursor is the last id returned (collections in id
//! order: jobs, groups, scheduled jobs) or the next index (a job's devices, a device query, in
//! fleet order). Cursors are keys, not offsets, so a page boundary does not move when elements
//! are added or removed before it. IoT Central carries the token in `nextLink` (an absolute
//! URL with `api-version` and `$skiptoken`); IoT Hub in the `x-ms-continuation` header, which
//! is absent on the last page.
//!
//! Every well-formed token is accepted, so that the OpenAPI document can state exactly which
//! tokens are (its patterns, [`crate::openapi`]): a key token is `djF8` (`v1|`) and any
//! canonical base64url, its cursor read as UTF-8 with invalid bytes replaced (such a key only
//! positions the page between two ids); an index token's cursor is decimal digits, and an
//! index past the end is an empty last page.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::api_error::ApiError;

/// The token for a cursor.
pub(crate) fn token(cursor: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1|{cursor}"))
}

/// The cursor of a token; 400 naming `field` if it is not one of ours.
pub(crate) fn cursor(token: &str, field: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad(field, "not a continuation token of this server");
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| bad())?;
    let text = String::from_utf8_lossy(&bytes);
    text.strip_prefix("v1|").map(str::to_string).ok_or_else(bad)
}

/// A cursor (from [`cursor`]) as an index: decimal digits; one past `u32::MAX` is `u32::MAX`
/// (past the end of any collection).
pub(crate) fn index_of(cursor: &str, field: &str) -> Result<u32, ApiError> {
    if cursor.is_empty() || !cursor.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad(
            field,
            "not a continuation token of this server",
        ));
    }
    // Only digits: the parse fails only by overflow.
    Ok(cursor.parse().unwrap_or(u32::MAX))
}

/// One page of sorted ids after `after`: the ids and the cursor of the next page.
pub(crate) fn page_ids(
    ids: &[String],
    after: Option<&str>,
    size: usize,
) -> (Vec<String>, Option<String>) {
    let start = match after {
        Some(a) => ids.partition_point(|id| id.as_str() <= a),
        None => 0,
    };
    let end = (start + size).min(ids.len());
    let page = ids[start..end].to_vec();
    let next = (end < ids.len()).then(|| page.last().cloned()).flatten();
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_strangers() {
        assert_eq!(cursor(&token("job-7"), "t").unwrap(), "job-7");
        assert!(cursor("bm9wZQ", "t").is_err());
        assert!(cursor("%%%", "t").is_err());
        assert_eq!(
            index_of(&cursor(&token("42"), "t").unwrap(), "t").unwrap(),
            42
        );
        // Every well-formed token is read: a key that is not UTF-8 is read lossily, an index
        // too large for a u32 is past the end, and only digits are an index.
        assert_eq!(cursor("djF8_w", "t").unwrap(), "\u{fffd}");
        assert_eq!(index_of("99999999999999999999999", "t").unwrap(), u32::MAX);
        assert!(index_of("", "t").is_err());
        assert!(index_of("+1", "t").is_err());
    }

    #[test]
    fn pages_follow_keys() {
        let ids: Vec<String> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (p, n) = page_ids(&ids, None, 2);
        assert_eq!((p.len(), n.as_deref()), (2, Some("b")));
        let (p, n) = page_ids(&ids, Some("b"), 2);
        assert_eq!((p[0].as_str(), n.as_deref()), ("c", Some("d")));
        let (p, n) = page_ids(&ids, Some("d"), 2);
        assert_eq!((p, n), (vec!["e".to_string()], None));
        // A removed cursor still pages on from its place.
        let (p, _) = page_ids(&ids, Some("bb"), 2);
        assert_eq!(p[0], "c");
    }
}
