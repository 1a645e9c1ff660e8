//! The OData filters and orderings of IoT Central's device and device-template lists
//! (`$filter`/`$orderby` in `1.1-preview` and `1.2-preview`, `filter`/`orderby` from
//! `2022-05-31` on), as the IoT Central devices how-to describes them.
//!
//! A filter is evaluated on each element's JSON (a device: `id`, `displayName`, `template`,
//! `enabled`, `provisioned`, `simulated`; a template: `@id`, `displayName`, ...):
//!
//! - comparisons `eq`, `ne`, `lt`, `le`, `gt`, `ge` between fields, literals and function
//!   calls; strings in single quotes (`''` is a quote), numbers, `true`, `false`, `null`;
//! - `and`, `or`, `not`, parentheses;
//! - functions `contains(a, b)`, `startswith(a, b)`, `endswith(a, b)`, `indexof(a, b)`,
//!   `tolower(a)`, `toupper(a)`;
//! - field names match the element's top-level fields ignoring case (`Enabled`); `scopes` is
//!   the device's `organizations`, and comparing a list with `eq` asks whether it holds the
//!   value. A missing field is `null`; an ordering comparison of values of different types is
//!   false.
//!
//! The grammar is small and fixed, so it is parsed here rather than with a general OData
//! library (none in Rust covers IoT Central's subset without a data model to declare).

use std::cmp::Ordering;

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Cmp, Operand),
    /// An operand that must be `true` (a boolean field or function).
    Truth(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Field(String),
    Literal(Value),
    Call(Func, Vec<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Contains,
    StartsWith,
    EndsWith,
    IndexOf,
    ToLower,
    ToUpper,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Num(f64),
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' | ')' | ',' => {
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => return Err("a string is not closed (').".into()),
                        (Some('\''), Some('\'')) => {
                            s.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => break,
                        (Some(&ch), _) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push(Token::Str(s));
            }
            _ if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse()
                    .map_err(|_| format!("{text:?} is not a number"))?;
                out.push(Token::Num(n));
            }
            _ if c.is_alphabetic() || c == '_' || c == '@' || c == '$' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_@$.".contains(chars[i])) {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            _ => return Err(format!("unexpected character {c:?}")),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                _ => Err("a parenthesis is not closed".into()),
            };
        }
        let left = self.operand()?;
        let cmp = match &self.tokens.get(self.at) {
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "eq" => Some(Cmp::Eq),
                "ne" => Some(Cmp::Ne),
                "lt" => Some(Cmp::Lt),
                "le" => Some(Cmp::Le),
                "gt" => Some(Cmp::Gt),
                "ge" => Some(Cmp::Ge),
                _ => None,
            },
            _ => None,
        };
        match cmp {
            Some(cmp) => {
                self.at += 1;
                Ok(Expr::Compare(left, cmp, self.operand()?))
            }
            None => Ok(Expr::Truth(left)),
        }
    }

    fn operand(&mut self) -> Result<Operand, String> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Operand::Literal(Value::String(s))),
            Some(Token::Num(n)) => Ok(Operand::Literal(number(n))),
            Some(Token::Word(w)) => self.word(w),
            Some(t) => Err(format!(
                "expected a field, a value or a function, found {t:?}"
            )),
            None => Err("the filter ends too early".into()),
        }
    }

    fn word(&mut self, w: String) -> Result<Operand, String> {
        match w.to_ascii_lowercase().as_str() {
            "true" => return Ok(Operand::Literal(Value::Bool(true))),
            "false" => return Ok(Operand::Literal(Value::Bool(false))),
            "null" => return Ok(Operand::Literal(Value::Null)),
            _ => {}
        }
        if self.tokens.get(self.at) != Some(&Token::Open) {
            return Ok(Operand::Field(w));
        }
        let (func, arity) = match w.to_ascii_lowercase().as_str() {
            "contains" => (Func::Contains, 2),
            "startswith" => (Func::StartsWith, 2),
            "endswith" => (Func::EndsWith, 2),
            "indexof" => (Func::IndexOf, 2),
            "tolower" => (Func::ToLower, 1),
            "toupper" => (Func::ToUpper, 1),
            _ => return Err(format!("unknown function {w:?}")),
        };
        self.at += 1;
        let mut args = vec![self.operand()?];
        while self.tokens.get(self.at) == Some(&Token::Comma) {
            self.at += 1;
            args.push(self.operand()?);
        }
        if self.next() != Some(Token::Close) {
            return Err(format!("{w}(...) is not closed"));
        }
        if args.len() != arity {
            return Err(format!("{w} takes {arity} argument(s), not {}", args.len()));
        }
        Ok(Operand::Call(func, args))
    }
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

impl Filter {
    /// Parses a filter; the error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut p = Parser {
            tokens: tokens(text)?,
            at: 0,
        };
        if p.tokens.is_empty() {
            return Err("the filter is empty".into());
        }
        let expr = p.or()?;
        match p.tokens.get(p.at) {
            None => Ok(Self { expr }),
            Some(t) => Err(format!("unexpected {t:?} after a complete condition")),
        }
    }

    /// Whether `doc` (a JSON object) passes the filter.
    pub(crate) fn matches(&self, doc: &Value) -> bool {
        eval(&self.expr, doc)
    }
}

fn eval(e: &Expr, doc: &Value) -> bool {
    match e {
        Expr::Or(a, b) => eval(a, doc) || eval(b, doc),
        Expr::And(a, b) => eval(a, doc) && eval(b, doc),
        Expr::Not(a) => !eval(a, doc),
        Expr::Truth(o) => value(o, doc) == Value::Bool(true),
        Expr::Compare(a, cmp, b) => compare(&value(a, doc), *cmp, &value(b, doc)),
    }
}

fn field(name: &str, doc: &Value) -> Value {
    let name = if name.eq_ignore_ascii_case("scopes") {
        "organizations"
    } else {
        name
    };
    doc.as_object()
        .and_then(|m| {
            m.get(name).or_else(|| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
        })
        .cloned()
        .unwrap_or(Value::Null)
}

fn value(o: &Operand, doc: &Value) -> Value {
    match o {
        Operand::Field(name) => field(name, doc),
        Operand::Literal(v) => v.clone(),
        Operand::Call(func, args) => {
            let vals: Vec<Value> = args.iter().map(|a| value(a, doc)).collect();
            let s = |i: usize| vals.get(i).and_then(Value::as_str);
            match (func, s(0), s(1)) {
                (Func::Contains, Some(a), Some(b)) => Value::Bool(a.contains(b)),
                (Func::StartsWith, Some(a), Some(b)) => Value::Bool(a.starts_with(b)),
                (Func::EndsWith, Some(a), Some(b)) => Value::Bool(a.ends_with(b)),
                (Func::IndexOf, Some(a), Some(b)) => Value::from(
                    a.find(b)
                        .map_or(-1, |byte| a[..byte].chars().count() as i64),
                ),
                (Func::ToLower, Some(a), _) => Value::String(a.to_lowercase()),
                (Func::ToUpper, Some(a), _) => Value::String(a.to_uppercase()),
                _ => Value::Null,
            }
        }
    }
}

fn compare(a: &Value, cmp: Cmp, b: &Value) -> bool {
    let order = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    let equal =
        order == Some(Ordering::Equal) || matches!(a, Value::Array(items) if items.contains(b));
    match cmp {
        Cmp::Eq => equal,
        Cmp::Ne => !equal,
        Cmp::Lt => order == Some(Ordering::Less),
        Cmp::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
        Cmp::Gt => order == Some(Ordering::Greater),
        Cmp::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// An ordering of a list: IoT Central sorts device and template lists by `displayName` only,
/// ascending (`displayName`, `displayName asc`) or descending (`displayName desc`). Returns
/// whether it is descending; another field is an error.
pub(crate) fn order_by(text: &str) -> Result<bool, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [f] if f.eq_ignore_ascii_case("displayName") => Ok(false),
        [f, dir] if f.eq_ignore_ascii_case("displayName") => {
            match dir.to_ascii_lowercase().as_str() {
                "asc" => Ok(false),
                "desc" => Ok(true),
                _ => Err(format!("{dir:?} is not asc or desc")),
            }
        }
        _ => Err(format!(
            "{text:?}: lists are sorted by displayName only (displayName, displayName desc)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device(id: &str, simulated: bool) -> Value {
        json!({"id": id, "displayName": id, "template": "dtmi:t;1", "enabled": true,
               "provisioned": true, "simulated": simulated})
    }

    fn passes(filter: &str, doc: &Value) -> bool {
        Filter::parse(filter).unwrap().matches(doc)
    }

    #[test]
    fn comparisons_and_logic_as_the_how_to_shows_them() {
        let d = device("therm-07", true);
        assert!(passes("id eq 'therm-07' and enabled eq true", &d));
        assert!(!passes("id eq 'therm-08' and enabled eq true", &d));
        assert!(passes("id eq 'therm-08' or simulated eq true", &d));
        assert!(!passes("Enabled ne true", &d), "field names ignore case");
        assert!(passes("not (simulated eq false)", &d));
        assert!(passes("template eq 'dtmi:t;1'", &d));
        assert!(!passes("template eq null", &d));
        assert!(passes("scopes eq null", &d), "no organizations: null");
    }

    #[test]
    fn functions_on_strings() {
        let d = device("thermostat1", false);
        assert!(passes("indexof(displayName, 'stat') ge 0", &d));
        assert!(passes("indexof(displayName, 'stat') eq 6", &d));
        assert!(passes("indexof(displayName, 'nope') lt 0", &d));
        assert!(passes("contains(displayName, 'mostat')", &d));
        assert!(passes("startswith(tolower(displayName), 'therm')", &d));
        assert!(!passes("endswith(displayName, 'therm')", &d));
    }

    #[test]
    fn lists_compare_by_membership_and_quotes_escape() {
        let d = json!({"organizations": ["redmond", "seattle"], "displayName": "O'Neil"});
        assert!(passes("scopes eq 'seattle'", &d));
        assert!(!passes("scopes eq 'paris'", &d));
        assert!(passes("displayName eq 'O''Neil'", &d));
    }

    #[test]
    fn malformed_filters_say_what_is_wrong() {
        for (text, says) in [
            ("", "empty"),
            ("id eq 'x", "not closed"),
            ("(id eq 'x'", "parenthesis"),
            ("id eq", "ends too early"),
            ("frobnicate(id)", "unknown function"),
            ("contains(id)", "takes 2"),
            ("id eq 'x' 'y'", "unexpected"),
            ("id # 3", "unexpected character"),
        ] {
            let e = Filter::parse(text).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn order_by_display_name_only() {
        assert_eq!(order_by("displayName"), Ok(false));
        assert_eq!(order_by("displayName desc"), Ok(true));
        assert_eq!(order_by("DisplayName ASC"), Ok(false));
        assert!(order_by("id").is_err());
        assert!(order_by("displayName sideways").is_err());
    }
}
