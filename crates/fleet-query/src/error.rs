//! [`Error`]: what is wrong with a query, and where.

use std::fmt;

/// A query that does not parse: what is wrong ([`ErrorKind`]) and where (1-based line and
/// column, counted in characters).
///
/// `Display` gives one line, such as `expected a value after '=' at column 42` (with the line
/// too when the query has several: `at line 2, column 7`). [`Error::caret`] adds the query line
/// and a caret under the column, for terminals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    /// 0-based character offset into the query text.
    offset: usize,
    line: usize,
    column: usize,
}

/// What is wrong with a query.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The query is longer than [`crate::MAX_QUERY_CHARS`] characters.
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// The query is empty or only white space.
    Empty,
    /// A character that cannot start any token.
    UnexpectedChar(char),
    /// A string whose closing quote is missing.
    UnterminatedString,
    /// An escape sequence in a string that is not one of `\' \" \\ \/ \b \f \n \r \t \uXXXX`.
    BadEscape(String),
    /// A malformed number (`0x` without digits, `1.`, `12abc`, a hex number over 64 bits).
    BadNumber(String),
    /// An escaped name `[[...` whose closing `]]` is missing.
    UnterminatedName,
    /// An escaped name `[[]]` with nothing inside.
    EmptyName,
    /// A reserved word where a field name was expected (write it as `[[word]]`).
    ReservedWord(String),
    /// Something else than what the grammar allows here.
    Expected {
        /// What would have been valid, such as `a value`.
        expected: String,
        /// The token after which it was expected, as written (none at the start).
        after: Option<String>,
        /// What was found instead: a token as written, or `the end of the query`.
        found: String,
    },
    /// A `(` or `[` that is not closed.
    Unclosed {
        /// The opening character.
        open: char,
        /// What was found instead of the closing one.
        found: String,
    },
    /// Conditions nested deeper than [`crate::MAX_DEPTH`] (parentheses and `NOT`s).
    TooDeep,
    /// Valid IoT Hub syntax that this implementation does not support (projections,
    /// `GROUP BY`, `FROM devices.modules`, functions other than `IS_DEFINED`).
    Unsupported(String),
    /// `TOP` with a number that is not a whole number from 0 to 2^53.
    BadTop(String),
    /// A whole `SELECT` query where only a condition is allowed (an IoT Hub `queryCondition`).
    SelectNotAllowed,
    /// A bare condition where a whole `SELECT` query is required (an IoT Central group filter).
    SelectRequired,
}

impl Error {
    pub(crate) fn at(kind: ErrorKind, text: &str, offset: usize) -> Self {
        let (line, column) = line_column(text, offset);
        Self {
            kind,
            offset,
            line,
            column,
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The 1-based line of the error in the query text.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column of the error in its line, counted in characters (Unicode scalar
    /// values), not bytes.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The 0-based character offset of the error in the query text.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The error, then the offending line of `query` (the text that was parsed) and a caret
    /// under the column:
    ///
    /// ```text
    /// expected a value after '=' at column 35
    ///   SELECT * FROM devices WHERE tags.x =
    ///                                       ^
    /// ```
    pub fn caret(&self, query: &str) -> String {
        let line = query.lines().nth(self.line - 1).unwrap_or("");
        let shown: String = line
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let pad = " ".repeat(self.column.saturating_sub(1));
        format!("{self}\n  {shown}\n  {pad}^")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 1 {
            write!(
                f,
                "{} at line {}, column {}",
                self.kind, self.line, self.column
            )
        } else {
            write!(f, "{} at column {}", self.kind, self.column)
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { chars } => write!(
                f,
                "the query is {chars} characters long; the limit is {}",
                crate::MAX_QUERY_CHARS
            ),
            Self::Empty => f.write_str("the query is empty"),
            Self::UnexpectedChar(c) => write!(f, "unexpected character {}", quote_char(*c)),
            Self::UnterminatedString => f.write_str("a string is not closed"),
            Self::BadEscape(e) => write!(
                f,
                "unknown escape '{e}' in a string (use \\' \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)"
            ),
            Self::BadNumber(n) => write!(f, "{n:?} is not a number"),
            Self::UnterminatedName => f.write_str("an escaped name [[... is not closed with ]]"),
            Self::EmptyName => f.write_str("an escaped name [[]] is empty"),
            Self::ReservedWord(w) => write!(
                f,
                "{w} is a reserved word; write [[{w}]] to use it as a field name"
            ),
            Self::Expected {
                expected,
                after,
                found,
            } => {
                write!(f, "expected {expected}")?;
                if let Some(after) = after {
                    write!(f, " after {after}")?;
                }
                write!(f, ", found {found}")
            }
            Self::Unclosed { open, found } => {
                let close = if *open == '(' { ')' } else { ']' };
                write!(
                    f,
                    "expected '{close}' to close the '{open}', found {found}"
                )
            }
            Self::TooDeep => write!(
                f,
                "conditions are nested more than {} levels deep",
                crate::MAX_DEPTH
            ),
            Self::Unsupported(what) => write!(f, "not supported: {what}"),
            Self::BadTop(n) => write!(f, "TOP needs a whole number from 0 to 2^53, not {n}"),
            Self::SelectNotAllowed => f.write_str(
                "a queryCondition is the WHERE part alone (such as deviceId IN ['a', 'b']) or *, not a SELECT query",
            ),
            Self::SelectRequired => f.write_str(
                "a group filter is a whole query: SELECT * FROM devices WHERE ...",
            ),
        }
    }
}

impl std::error::Error for Error {}

fn quote_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}'")
    }
}

/// The 1-based line and column of character `offset` in `text` (lines end at `\n`).
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in text.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("äöü=", 3), (1, 4));
        assert_eq!(line_column("a\nbc", 3), (2, 2));
        assert_eq!(line_column("a", 5), (1, 2));
    }
}
