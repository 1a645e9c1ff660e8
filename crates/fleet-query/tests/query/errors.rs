//! Parse errors: the message and the column (1-based, in characters).

use fleet_query::{ErrorKind, Query, MAX_QUERY_CHARS};

/// (query, column, message without the position).
const ERRORS: &[(&str, usize, &str)] = &[
    ("SELECT * FROM devices WHERE tags.x =", 37, "expected a value after '=', found the end of the query"),
    ("SELECT * FROM devices WHERE tags.x = AND", 38, "expected a value after '=', found 'AND'"),
    ("SELECT * FROM devices WHERE tags.x = 'a' AND", 45, "expected a condition after 'AND', found the end of the query"),
    ("SELECT * FROM devices WHERE (tags.x = 'a'", 29, "expected ')' to close the '(', found the end of the query"),
    ("SELECT * FROM devices WHERE (tags.x = 'a' 'b')", 43, "expected AND, OR or ')' after 'a', found 'b'"),
    ("SELECT * FROM devices WHERE tags.x IN ['a', 'b'", 39, "expected ']' to close the '[', found the end of the query"),
    ("SELECT * FROM devices WHERE tags.x IN ['a' 'b']", 44, "expected ',' or ']' after 'a', found 'b'"),
    ("SELECT * FROM devices WHERE tags.x IN ['a', ]", 45, "expected a value after ',', found ']'"),
    ("SELECT * FROM devices WHERE tags.x IN 'a'", 39, "expected '[' (an array of values) after 'IN', found 'a'"),
    ("SELECT * FROM devices WHERE tags.x = 'abc", 38, "a string is not closed"),
    ("SELECT * FROM devices WHERE tags.x = \"abc'", 38, "a string is not closed"),
    ("SELECT * FROM devices WHERE tags.x = 'a\\qb'", 40, "unknown escape '\\q' in a string (use \\' \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)"),
    ("tags.x = '\\u12'", 11, "unknown escape '\\u12'' in a string (use \\' \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)"),
    ("SELECT * FROM devices WHERE tags.x = 0x", 38, "\"0x\" is not a number"),
    ("SELECT * FROM devices WHERE tags.x = 0x12345678901234567", 38, "\"0x12345678901234567\" is not a number"),
    ("SELECT * FROM devices WHERE tags.x = 12abc", 38, "\"12abc\" is not a number"),
    ("SELECT * FROM devices WHERE tags.x = 1.", 38, "\"1.\" is not a number"),
    ("SELECT * FROM devices WHERE tags.x = 1e999", 38, "\"1e999\" is not a number"),
    ("SELECT * FROM devices WHERE group = 1", 29, "group is a reserved word; write [[group]] to use it as a field name"),
    ("SELECT * FROM devices WHERE tags.[[a = 1", 34, "an escaped name [[... is not closed with ]]"),
    ("SELECT * FROM devices WHERE tags.[[]] = 1", 34, "an escaped name [[]] is empty"),
    ("SELECT deviceId FROM devices", 8, "not supported: a projection (SELECT deviceId, ...); device queries select whole devices: write SELECT *"),
    ("SELECT * FROM devices.modules", 22, "not supported: FROM devices.modules or devices.jobs (only FROM devices)"),
    ("SELECT * FROM devices WHERE tags.x = 1 GROUP BY tags.x", 40, "not supported: GROUP BY (device queries only select devices)"),
    ("SELECT * FROM devices WHERE STARTS_WITH(deviceId, 'a')", 29, "not supported: the function STARTS_WITH (device queries support only IS_DEFINED)"),
    ("SELECT * FROM devices WHERE tags.a = tags.b", 38, "not supported: comparing two fields (compare a field with a constant)"),
    ("SELECT * FROM devices WHERE tags.a = [1]", 38, "not supported: '=' with an array (use IN or NIN)"),
    ("SELECT * FROM devices WHERE tags.a = 1)", 39, "expected the end of the query, found ')' without a matching '('"),
    ("SELECT * FROM devices WHERE tags.a 1", 36, "expected a comparison (=, !=, <>, <, <=, >, >=, IN or NIN) after 'tags.a', found '1'"),
    ("SELECT * FROM devices WHERE tags.a = 1 tags.b = 2", 40, "expected AND, OR or the end of the query after '1', found 'tags'"),
    ("SELECT * FROM devices x", 23, "expected WHERE or the end of the query after 'devices', found 'x'"),
    ("SELECT * devices", 10, "expected FROM after '*', found 'devices'"),
    ("SELECT * FROM things", 15, "expected 'devices' after 'FROM', found 'things'"),
    ("SELECT TOP -1 * FROM devices", 12, "TOP needs a whole number from 0 to 2^53, not -1"),
    ("SELECT TOP 1.5 * FROM devices", 12, "TOP needs a whole number from 0 to 2^53, not 1.5"),
    ("SELECT TOP * FROM devices", 12, "expected a number after 'TOP', found '*'"),
    ("SELECT FROM devices", 8, "expected '*' or TOP after 'SELECT', found 'FROM'"),
    ("tags.x # 1", 8, "unexpected character '#'"),
    ("tags.x ! 1", 8, "unexpected character '!'"),
    ("tags.x = 1 +", 12, "unexpected character '+'"),
    ("SELECT * FROM devices WHERE tags.x = '\\uD800'", 39, "unknown escape '\\uD800' in a string (use \\' \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)"),
    ("SELECT * FROM devices WHERE 'a' = 'b'", 35, "expected a field name after '=', found 'b'"),
    ("SELECT * FROM devices WHERE 'a' IN ['b']", 33, "expected a comparison operator (=, !=, <>, <, <=, >, >=) after 'a', found 'IN'"),
    ("SELECT * FROM devices WHERE tags.x = 'äöü' AND tags.y = ", 57, "expected a value after '=', found the end of the query"),
    ("SELECT * FROM devices WHERE IS_DEFINED tags.x", 40, "expected '(' after 'IS_DEFINED', found 'tags'"),
    ("SELECT * FROM devices WHERE IS_DEFINED(tags.x", 46, "expected ')' after 'tags.x', found the end of the query"),
    ("SELECT * FROM devices WHERE IS_DEFINED('x')", 40, "expected a field name after '(', found 'x'"),
    ("SELECT * FROM devices WHERE tags. = 1", 35, "expected a field name after '.', found '='"),
    ("SELECT * FROM devices WHERE NOT", 32, "expected a condition after 'NOT', found the end of the query"),
    ("SELECT * FROM devices WHERE", 28, "expected a condition after 'WHERE', found the end of the query"),
    ("SELECT * FROM devices WHERE AND x = 1", 29, "expected a condition after 'WHERE', found 'AND'"),
    ("tags.x = 1 OR", 14, "expected a condition after 'OR', found the end of the query"),
    ("   ", 4, "the query is empty"),
    ("", 1, "the query is empty"),
    ("deviceId == 'a'", 11, "expected a value after '=', found '='"),
];

#[test]
fn errors_say_where_and_what() {
    for (query, column, message) in ERRORS {
        let e = Query::parse_any(query).expect_err(query);
        assert_eq!(
            (e.column(), e.kind().to_string().as_str()),
            (*column, *message),
            "{query}"
        );
        assert_eq!(e.line(), 1);
        assert_eq!(e.to_string(), format!("{message} at column {column}"));
    }
}

#[test]
fn errors_on_later_lines_give_the_line() {
    let q = "SELECT * FROM devices\nWHERE deviceId = 'a'\n  AND tags.x ==";
    let e = Query::parse(q).unwrap_err();
    assert_eq!((e.line(), e.column(), e.offset()), (3, 15, 57));
    assert_eq!(
        e.to_string(),
        "expected a value after '=', found '=' at line 3, column 15"
    );
    assert_eq!(
        e.caret(q),
        "expected a value after '=', found '=' at line 3, column 15\n    AND tags.x ==\n                ^"
    );
}

#[test]
fn each_entry_point_insists_on_its_form() {
    let e = Query::parse("deviceId = 'a'").unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::SelectRequired);
    assert_eq!(
        e.to_string(),
        "a group filter is a whole query: SELECT * FROM devices WHERE ... at column 1"
    );
    let e = Query::parse_condition("  select * from devices").unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::SelectNotAllowed);
    assert_eq!(e.column(), 3);
    assert!(Query::parse("*").is_err());
    assert!(Query::parse_condition("*").unwrap().is_all());
    assert!(Query::parse_condition(" * ").unwrap().is_all());
    assert!(Query::parse_condition("* AND x = 1").is_err());
    assert!(Query::parse_any("SELECT * FROM devices").unwrap().is_all());
}

#[test]
fn the_length_limit_counts_characters() {
    // 8,192 characters pass even when they are multi-byte; 8,193 do not.
    let pad = |n: usize| format!("tags.x = '{}'", "é".repeat(n - 11));
    let at_limit = pad(MAX_QUERY_CHARS);
    assert_eq!(at_limit.chars().count(), MAX_QUERY_CHARS);
    assert!(at_limit.len() > MAX_QUERY_CHARS);
    assert!(Query::parse_condition(&at_limit).is_ok());
    let e = Query::parse_condition(&pad(MAX_QUERY_CHARS + 1)).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TooLong { chars: 8193 });
    assert_eq!(e.column(), 8193);
    assert_eq!(
        e.kind().to_string(),
        "the query is 8193 characters long; the limit is 8192"
    );
}

#[test]
fn nesting_is_capped_without_overflowing_the_stack() {
    let deep = format!("{}x = 1{}", "(".repeat(4000), ")".repeat(4000));
    let e = Query::parse_condition(&deep).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::TooDeep);
    assert_eq!(e.column(), 65);
    assert_eq!(
        e.kind().to_string(),
        "conditions are nested more than 64 levels deep"
    );
    let nots = format!("{}x = 1", "NOT ".repeat(2000));
    assert_eq!(
        Query::parse_condition(&nots).unwrap_err().kind(),
        &ErrorKind::TooDeep
    );
    let ok = format!("{}x = 1{}", "(".repeat(64), ")".repeat(64));
    assert!(Query::parse_condition(&ok).is_ok());
    // Long flat lists are not nesting.
    let wide = vec!["x = 1"; 800].join(" AND ");
    assert!(wide.len() < MAX_QUERY_CHARS);
    assert!(Query::parse_condition(&wide).is_ok());
}
