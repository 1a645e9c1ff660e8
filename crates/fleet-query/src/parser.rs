//! The recursive-descent parser: tokens to a [`Query`].
//!
//! Grammar (keywords ignore case; `[[...]]` escapes a name):
//!
//! ```text
//! query      = SELECT [TOP number] "*" FROM devices [WHERE condition]
//! condition  = and { OR and }
//! and        = unary { AND unary }
//! unary      = NOT unary | primary
//! primary    = "(" condition ")" | IS_DEFINED "(" path ")" | comparison
//! comparison = path op constant | constant op path | path (IN | NIN) array
//! op         = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! array      = "[" [constant { "," constant }] "]"
//! constant   = string | number | true | false | null
//! path       = name { "." name }
//! ```
//!
//! Recursion happens only for `(` and `NOT`, and is capped at [`crate::MAX_DEPTH`].

use crate::ast::{Constant, Expr, Path};
use crate::error::{Error, ErrorKind};
use crate::lexer::{self, Tok, Token};
use crate::name;
use crate::{Query, MAX_DEPTH, MAX_QUERY_CHARS};

/// What the text must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `SELECT ...` only.
    Select,
    /// A condition or `*` only (IoT Hub queryCondition).
    Condition,
    /// Either.
    Any,
}

pub(crate) fn parse(text: &str, mode: Mode) -> Result<Query, Error> {
    let count = text.chars().take(MAX_QUERY_CHARS + 1).count();
    if count > MAX_QUERY_CHARS {
        let chars = text.chars().count();
        return Err(Error::at(
            ErrorKind::TooLong { chars },
            text,
            MAX_QUERY_CHARS,
        ));
    }
    let chars: Vec<char> = text.chars().collect();
    let tokens = lexer::lex(text, &chars)?;
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
        depth: 0,
    };
    let (top, condition) = p.query(mode)?;
    Ok(Query {
        text: text.to_string(),
        top,
        condition,
    })
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::End, |t| &t.tok)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.tokens
            .get(self.pos + ahead)
            .map_or(&Tok::End, |t| &t.tok)
    }

    /// The current token (the last one, `End`, once past the end).
    fn current(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.pos.min(last)]
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    /// Whether the current token is the keyword `kw` (ignoring case).
    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn error_here(&self, kind: ErrorKind) -> Error {
        Error::at(kind, self.text, self.current().start)
    }

    /// "expected X after <previous token>, found <current token>".
    fn expected(&self, what: &str) -> Error {
        let after = self
            .pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map(Token::describe);
        self.expected_after(what, after)
    }

    /// "expected X after <after>, found <current token>".
    fn expected_after(&self, what: &str, after: Option<String>) -> Error {
        self.error_here(ErrorKind::Expected {
            expected: what.to_string(),
            after,
            found: self.current().describe(),
        })
    }

    fn query(&mut self, mode: Mode) -> Result<(Option<u64>, Option<Expr>), Error> {
        if *self.peek() == Tok::End {
            return Err(self.error_here(ErrorKind::Empty));
        }
        let select = self.at_keyword("SELECT");
        match (mode, select) {
            (Mode::Condition, true) => return Err(self.error_here(ErrorKind::SelectNotAllowed)),
            (Mode::Select, false) => return Err(self.error_here(ErrorKind::SelectRequired)),
            _ => {}
        }
        if !select {
            // A queryCondition: `*` or a condition.
            if *self.peek() == Tok::Star && *self.peek_at(1) == Tok::End {
                return Ok((None, None));
            }
            let condition = self.condition()?;
            self.end_of_condition(false)?;
            return Ok((None, Some(condition)));
        }
        self.advance();
        let mut top = None;
        if self.at_keyword("TOP") {
            self.advance();
            top = Some(self.top()?);
        }
        if *self.peek() != Tok::Star {
            if let Tok::Word(_) | Tok::Escaped(_) = self.peek() {
                if !self.at_reserved_word() {
                    return Err(self.error_here(ErrorKind::Unsupported(
                        "a projection (SELECT deviceId, ...); device queries select whole devices: write SELECT *".into(),
                    )));
                }
            }
            let what = if top.is_some() { "'*'" } else { "'*' or TOP" };
            return Err(self.expected(what));
        }
        self.advance();
        if !self.at_keyword("FROM") {
            return Err(self.expected("FROM"));
        }
        self.advance();
        if !self.at_keyword("devices") {
            return Err(self.expected("'devices'"));
        }
        self.advance();
        if *self.peek() == Tok::Dot {
            return Err(self.error_here(ErrorKind::Unsupported(
                "FROM devices.modules or devices.jobs (only FROM devices)".into(),
            )));
        }
        let condition = if self.at_keyword("WHERE") {
            self.advance();
            let condition = self.condition()?;
            self.end_of_condition(false)?;
            Some(condition)
        } else {
            self.end_of_condition(true)?;
            None
        };
        Ok((top, condition))
    }

    fn top(&mut self) -> Result<u64, Error> {
        match *self.peek() {
            Tok::Num(n) => {
                if n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_992.0 {
                    self.advance();
                    Ok(n as u64)
                } else {
                    Err(self.error_here(ErrorKind::BadTop(self.current().text.clone())))
                }
            }
            _ => Err(self.expected("a number")),
        }
    }

    /// After a complete condition (or after `devices`, `after_devices`): the end, or an error
    /// that says what could have followed.
    fn end_of_condition(&self, after_devices: bool) -> Result<(), Error> {
        match self.peek() {
            Tok::End => Ok(()),
            Tok::Word(w) if w.eq_ignore_ascii_case("GROUP") || w.eq_ignore_ascii_case("ORDER") => {
                Err(self.error_here(ErrorKind::Unsupported(format!(
                    "{} BY (device queries only select devices)",
                    w.to_ascii_uppercase()
                ))))
            }
            Tok::RParen => Err(self.error_here(ErrorKind::Expected {
                expected: "the end of the query".into(),
                after: None,
                found: "')' without a matching '('".into(),
            })),
            _ if after_devices => Err(self.expected("WHERE or the end of the query")),
            _ => Err(self.expected("AND, OR or the end of the query")),
        }
    }

    fn condition(&mut self) -> Result<Expr, Error> {
        let mut items = vec![self.and()?];
        while self.at_keyword("OR") {
            self.advance();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, Error> {
        let mut items = vec![self.unary()?];
        while self.at_keyword("AND") {
            self.advance();
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    /// One level deeper, for the `(` or `NOT` at character `at`.
    fn enter(&mut self, at: usize) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::at(ErrorKind::TooDeep, self.text, at));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, Error> {
        if self.at_keyword("NOT") {
            let at = self.current().start;
            self.advance();
            self.enter(at)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        if *self.peek() == Tok::LParen {
            let open = self.current().start;
            self.advance();
            self.enter(open)?;
            let inner = self.condition()?;
            self.depth -= 1;
            if *self.peek() != Tok::RParen {
                let found = self.current().describe();
                if matches!(self.peek(), Tok::End) {
                    return Err(Error::at(
                        ErrorKind::Unclosed { open: '(', found },
                        self.text,
                        open,
                    ));
                }
                return Err(self.expected("AND, OR or ')'"));
            }
            self.advance();
            return Ok(inner);
        }
        if self.at_keyword("IS_DEFINED") {
            self.advance();
            if *self.peek() != Tok::LParen {
                return Err(self.expected("'('"));
            }
            self.advance();
            let path = self.path("a field name")?;
            if *self.peek() != Tok::RParen {
                return Err(self.expected_after("')'", Some(format!("'{path}'"))));
            }
            self.advance();
            return Ok(Expr::IsDefined(path));
        }
        // A function other than IS_DEFINED.
        if let (Tok::Word(w), Tok::LParen) = (self.peek(), self.peek_at(1)) {
            if !name::is_reserved(w) {
                return Err(self.error_here(ErrorKind::Unsupported(format!(
                    "the function {w} (device queries support only IS_DEFINED)"
                ))));
            }
        }
        // `constant op path`.
        if let Some(value) = self.constant() {
            self.advance();
            let Tok::Op(op) = *self.peek() else {
                return Err(self.expected("a comparison operator (=, !=, <>, <, <=, >, >=)"));
            };
            self.advance();
            let path = self.path("a field name")?;
            return Ok(Expr::Compare {
                path,
                op: op.flipped(),
                value,
            });
        }
        let path = self.path("a condition")?;
        match self.peek().clone() {
            Tok::Op(op) => {
                self.advance();
                let Some(value) = self.constant() else {
                    if let Tok::Word(_) | Tok::Escaped(_) = self.peek() {
                        if !self.at_reserved_word() {
                            return Err(self.error_here(ErrorKind::Unsupported(
                                "comparing two fields (compare a field with a constant)".into(),
                            )));
                        }
                    }
                    if *self.peek() == Tok::LBracket {
                        return Err(self.error_here(ErrorKind::Unsupported(format!(
                            "'{}' with an array (use IN or NIN)",
                            op.as_str()
                        ))));
                    }
                    return Err(self.expected("a value"));
                };
                self.advance();
                Ok(Expr::Compare { path, op, value })
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("IN") || w.eq_ignore_ascii_case("NIN") => {
                let negated = w.eq_ignore_ascii_case("NIN");
                self.advance();
                let values = self.array()?;
                Ok(Expr::In {
                    path,
                    values,
                    negated,
                })
            }
            _ => Err(self.expected_after(
                "a comparison (=, !=, <>, <, <=, >, >=, IN or NIN)",
                Some(format!("'{path}'")),
            )),
        }
    }

    fn at_reserved_word(&self) -> bool {
        matches!(self.peek(), Tok::Word(w) if name::is_reserved(w))
    }

    /// The constant at the current token, if it is one (not consumed).
    fn constant(&self) -> Option<Constant> {
        match self.peek() {
            Tok::Str(s) => Some(Constant::String(s.clone())),
            Tok::Num(n) => Some(Constant::Number(*n)),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Some(Constant::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Some(Constant::Bool(false)),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Some(Constant::Null),
            _ => None,
        }
    }

    fn array(&mut self) -> Result<Vec<Constant>, Error> {
        if *self.peek() != Tok::LBracket {
            return Err(self.expected("'[' (an array of values)"));
        }
        let open = self.current().start;
        self.advance();
        let mut values = Vec::new();
        if *self.peek() == Tok::RBracket {
            self.advance();
            return Ok(values);
        }
        loop {
            let Some(value) = self.constant() else {
                return Err(self.expected("a value"));
            };
            values.push(value);
            self.advance();
            match self.peek() {
                Tok::Comma => self.advance(),
                Tok::RBracket => {
                    self.advance();
                    return Ok(values);
                }
                Tok::End => {
                    return Err(Error::at(
                        ErrorKind::Unclosed {
                            open: '[',
                            found: self.current().describe(),
                        },
                        self.text,
                        open,
                    ))
                }
                _ => return Err(self.expected("',' or ']'")),
            }
        }
    }

    /// A path; `what` names what was expected if there is none.
    fn path(&mut self, what: &str) -> Result<Path, Error> {
        let mut segments = Vec::new();
        match self.peek() {
            Tok::Word(w) if name::is_reserved(w) => {
                // Only a keyword that cannot start a condition is worth the hint.
                if matches!(
                    w.to_ascii_uppercase().as_str(),
                    "GROUP" | "BY" | "AS" | "ORDER" | "TOP" | "SELECT" | "FROM" | "WHERE"
                ) {
                    return Err(self.error_here(ErrorKind::ReservedWord(w.clone())));
                }
                return Err(self.expected(what));
            }
            Tok::Word(w) | Tok::Escaped(w) => segments.push(w.clone()),
            _ => return Err(self.expected(what)),
        }
        self.advance();
        while *self.peek() == Tok::Dot {
            self.advance();
            match self.peek() {
                // After a dot any word is a name, reserved or not.
                Tok::Word(w) | Tok::Escaped(w) => segments.push(w.clone()),
                _ => return Err(self.expected("a field name")),
            }
            self.advance();
        }
        Ok(Path::new(segments).expect("names are never empty"))
    }
}
