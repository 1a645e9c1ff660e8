//! The lexer: query text to [`Token`]s with their character offsets.
//!
//! It works on a `Vec<char>` (the text is at most [`crate::MAX_QUERY_CHARS`] characters), so
//! offsets are character positions and nothing slices a `str` at a byte that could fall inside
//! a UTF-8 sequence.

use crate::ast::CompareOp;
use crate::error::{Error, ErrorKind};
use crate::name::{is_name_char, is_name_start};

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: a name or a keyword (the parser tells them apart, ignoring case).
    Word(String),
    /// `[[name]]`.
    Escaped(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// A number (decimal or hex, with its sign).
    Num(f64),
    Star,
    Comma,
    Dot,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Op(CompareOp),
    End,
}

/// A token and where it is: `start..end` in characters, and its text as written.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) text: String,
}

impl Token {
    /// The token for messages: `'='`, `'tags'`, `the end of the query`.
    pub(crate) fn describe(&self) -> String {
        match self.tok {
            Tok::End => "the end of the query".to_string(),
            Tok::Str(_) => shorten(&self.text),
            _ => format!("'{}'", shorten(&self.text)),
        }
    }
}

/// At most 40 characters of `s`, with `...` when cut.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().nth(40).is_some() {
        out.push_str("...");
    }
    out
}

/// Splits `text` into tokens, ending with [`Tok::End`].
pub(crate) fn lex(text: &str, chars: &[char]) -> Result<Vec<Token>, Error> {
    let mut lexer = Lexer {
        text,
        chars,
        pos: 0,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next()?;
        let end = token.tok == Tok::End;
        tokens.push(token);
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    chars: &'a [char],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn error(&self, kind: ErrorKind, at: usize) -> Error {
        Error::at(kind, self.text, at)
    }

    fn next(&mut self) -> Result<Token, Error> {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.peek(0) else {
            return Ok(Token {
                tok: Tok::End,
                start,
                text: String::new(),
            });
        };
        let single = |tok| (tok, 1);
        let (tok, len) = match c {
            '*' => single(Tok::Star),
            ',' => single(Tok::Comma),
            '.' => single(Tok::Dot),
            '(' => single(Tok::LParen),
            ')' => single(Tok::RParen),
            ']' => single(Tok::RBracket),
            '[' if self.peek(1) == Some('[') => return self.escaped_name(),
            '[' => single(Tok::LBracket),
            '=' => single(Tok::Op(CompareOp::Eq)),
            '!' if self.peek(1) == Some('=') => (Tok::Op(CompareOp::Ne), 2),
            '<' if self.peek(1) == Some('>') => (Tok::Op(CompareOp::Ne), 2),
            '<' if self.peek(1) == Some('=') => (Tok::Op(CompareOp::Le), 2),
            '<' => single(Tok::Op(CompareOp::Lt)),
            '>' if self.peek(1) == Some('=') => (Tok::Op(CompareOp::Ge), 2),
            '>' => single(Tok::Op(CompareOp::Gt)),
            '\'' | '"' => return self.string(c),
            c if c.is_ascii_digit() => return self.number(),
            '-' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => return self.number(),
            c if is_name_start(c) => return Ok(self.word()),
            c => return Err(self.error(ErrorKind::UnexpectedChar(c), start)),
        };
        self.pos += len;
        Ok(self.token(tok, start))
    }

    fn token(&self, tok: Tok, start: usize) -> Token {
        Token {
            tok,
            start,
            text: self.chars[start..self.pos].iter().collect(),
        }
    }

    fn word(&mut self) -> Token {
        let start = self.pos;
        while self.peek(0).is_some_and(is_name_char) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        Token {
            tok: Tok::Word(text.clone()),
            start,
            text,
        }
    }

    fn escaped_name(&mut self) -> Result<Token, Error> {
        let start = self.pos;
        self.pos += 2;
        let from = self.pos;
        loop {
            match self.peek(0) {
                None => return Err(self.error(ErrorKind::UnterminatedName, start)),
                Some(']') if self.peek(1) == Some(']') => break,
                Some(_) => self.pos += 1,
            }
        }
        let name: String = self.chars[from..self.pos].iter().collect();
        self.pos += 2;
        if name.is_empty() {
            return Err(self.error(ErrorKind::EmptyName, start));
        }
        Ok(self.token(Tok::Escaped(name), start))
    }

    fn string(&mut self, quote: char) -> Result<Token, Error> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.error(ErrorKind::UnterminatedString, start));
            };
            self.pos += 1;
            if c == quote {
                break;
            }
            if c != '\\' {
                value.push(c);
                continue;
            }
            let escape_at = self.pos - 1;
            let bad = |l: &Self, upto: usize| {
                let seq: String = l.chars[escape_at..upto.min(l.chars.len())].iter().collect();
                l.error(ErrorKind::BadEscape(seq), escape_at)
            };
            let Some(e) = self.peek(0) else {
                return Err(self.error(ErrorKind::UnterminatedString, start));
            };
            self.pos += 1;
            match e {
                '\'' | '"' | '\\' | '/' => value.push(e),
                'b' => value.push('\u{8}'),
                'f' => value.push('\u{c}'),
                'n' => value.push('\n'),
                'r' => value.push('\r'),
                't' => value.push('\t'),
                'u' => {
                    let Some(high) = self.hex4() else {
                        return Err(bad(self, self.pos + 4));
                    };
                    let code = if (0xD800..0xDC00).contains(&high) {
                        // A surrogate pair: \uD83D\uDE00.
                        if self.peek(0) != Some('\\') || self.peek(1) != Some('u') {
                            return Err(bad(self, self.pos));
                        }
                        self.pos += 2;
                        match self.hex4() {
                            Some(low) if (0xDC00..0xE000).contains(&low) => {
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            }
                            _ => return Err(bad(self, self.pos + 4)),
                        }
                    } else {
                        high
                    };
                    match char::from_u32(code) {
                        Some(c) => value.push(c),
                        None => return Err(bad(self, self.pos)),
                    }
                }
                _ => return Err(bad(self, self.pos)),
            }
        }
        Ok(self.token(Tok::Str(value), start))
    }

    /// Four hex digits at the position, consumed; `None` (nothing consumed) otherwise.
    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0;
        for k in 0..4 {
            v = v * 16 + self.peek(k)?.to_digit(16)?;
        }
        self.pos += 4;
        Some(v)
    }

    fn number(&mut self) -> Result<Token, Error> {
        let start = self.pos;
        let negative = self.peek(0) == Some('-');
        if negative {
            self.pos += 1;
        }
        let digits = |l: &mut Self, radix: u32| {
            let from = l.pos;
            while l.peek(0).is_some_and(|c| c.is_digit(radix)) {
                l.pos += 1;
            }
            l.pos - from
        };
        let value = if self.peek(0) == Some('0') && matches!(self.peek(1), Some('x' | 'X')) {
            self.pos += 2;
            let from = self.pos;
            let n = digits(self, 16);
            let hex: String = self.chars[from..self.pos].iter().collect();
            match u64::from_str_radix(&hex, 16) {
                Ok(v) if n > 0 => v as f64,
                _ => return Err(self.bad_number(start)),
            }
        } else {
            digits(self, 10);
            if self.peek(0) == Some('.') {
                self.pos += 1;
                if digits(self, 10) == 0 {
                    return Err(self.bad_number(start));
                }
            }
            if matches!(self.peek(0), Some('e' | 'E')) {
                self.pos += 1;
                if matches!(self.peek(0), Some('+' | '-')) {
                    self.pos += 1;
                }
                if digits(self, 10) == 0 {
                    return Err(self.bad_number(start));
                }
            }
            let from = start + usize::from(negative);
            let text: String = self.chars[from..self.pos].iter().collect();
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => return Err(self.bad_number(start)),
            }
        };
        // `12abc`, `0x1g`, `1.5.2`: the number runs into a name or another dot.
        if self.peek(0).is_some_and(|c| is_name_char(c) || c == '.') {
            return Err(self.bad_number(start));
        }
        let value = if negative { -value } else { value };
        Ok(self.token(Tok::Num(value), start))
    }

    /// A [`ErrorKind::BadNumber`] for the number starting at `start`, running to the end of the
    /// word-like characters after it.
    fn bad_number(&mut self, start: usize) -> Error {
        while self
            .peek(0)
            .is_some_and(|c| is_name_char(c) || c == '.' || c == '+' || c == '-')
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        self.error(ErrorKind::BadNumber(text), start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let chars: Vec<char> = s.chars().collect();
        lex(s, &chars).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens() {
        use CompareOp::*;
        assert_eq!(
            toks("a.[[b c]] <> 'x\\'y' >= -0x1F != 1.5e3"),
            vec![
                Tok::Word("a".into()),
                Tok::Dot,
                Tok::Escaped("b c".into()),
                Tok::Op(Ne),
                Tok::Str("x'y".into()),
                Tok::Op(Ge),
                Tok::Num(-31.0),
                Tok::Op(Ne),
                Tok::Num(1500.0),
                Tok::End
            ]
        );
        assert_eq!(
            toks(r#""\u00e9\uD83D\uDE00\"""#),
            vec![Tok::Str("é😀\"".into()), Tok::End]
        );
    }
}
