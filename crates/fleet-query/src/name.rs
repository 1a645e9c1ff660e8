//! The lexical rules of a name: the characters a name may hold without `[[ ]]` escaping, and
//! the reserved words that must be escaped as the first name of a path.
//!
//! The lexer reads names by these rules and [`crate::Path`]'s `Display` writes them by the same
//! rules, so a path written back parses to the same path.

/// Words that are keywords of the grammar or reserved by IoT Hub; as the first name of a path
/// they must be escaped (`[[group]]`). Compared ignoring ASCII case.
const RESERVED: &[&str] = &[
    "SELECT",
    "TOP",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "NIN",
    "IS_DEFINED",
    "TRUE",
    "FALSE",
    "NULL",
    "GROUP",
    "BY",
    "AS",
    "ORDER",
];

/// Whether `word` is reserved (ignoring case).
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Whether a name can start with `c` without escaping.
pub(crate) fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

/// Whether a name can continue with `c` without escaping.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}
