//! The semantics: [`Truth`], the comparison rules, name look-up, and the reference
//! interpreter over JSON device documents.
//!
//! The compiled evaluator ([`crate::Compiled`]) applies the same leaf rules
//! ([`compare`], [`contains`], [`is_defined`]) to each distinct value of a column once, at
//! compile time; this module's interpreter applies them to each device's document. Both must
//! agree (a property test checks it).

use std::cmp::Ordering;

use serde_json::Value;

use crate::ast::{CompareOp, Constant, Expr, Path};

/// A three-valued truth: a comparison with a missing field, an object or array, or (for
/// ordering) a value of another type is [`Truth::Unknown`]. A device matches only when the
/// whole condition is [`Truth::True`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Truth {
    /// Definitely false.
    False = 0,
    /// Definitely true.
    True = 1,
    /// Undefined (SQL's unknown).
    Unknown = 2,
}

impl Truth {
    /// `NOT`: true and false swap; unknown stays unknown.
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        match self {
            Self::True => Self::False,
            Self::False => Self::True,
            Self::Unknown => Self::Unknown,
        }
    }

    /// `AND`: false if either is false, else unknown if either is unknown, else true.
    #[inline]
    pub fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::False, _) | (_, Self::False) => Self::False,
            (Self::True, Self::True) => Self::True,
            _ => Self::Unknown,
        }
    }

    /// `OR`: true if either is true, else unknown if either is unknown, else false.
    #[inline]
    pub fn or(self, other: Self) -> Self {
        match (self, other) {
            (Self::True, _) | (_, Self::True) => Self::True,
            (Self::False, Self::False) => Self::False,
            _ => Self::Unknown,
        }
    }

    /// A definite truth from a `bool`.
    #[inline]
    pub fn from_bool(b: bool) -> Self {
        if b {
            Self::True
        } else {
            Self::False
        }
    }
}

/// How a (defined or missing) field value compares with a constant: see
/// `docs/query-language.md`.
///
/// - missing, object or array: unknown, for every operator;
/// - `=` and `!=`: values of different types are not equal (`'1' = 1` is false, `'1' != 1`
///   true); numbers compare as `f64` (`1 = 1.0`), strings exactly (case matters), `null = null`;
/// - `<`, `<=`, `>`, `>=`: numbers with numbers, strings with strings (ordinal: by Unicode
///   code point); anything else (booleans, null, mixed types) is unknown.
pub fn compare(value: Option<&Value>, op: CompareOp, constant: &Constant) -> Truth {
    let Some(value) = value.filter(|v| is_primitive(v)) else {
        return Truth::Unknown;
    };
    match op {
        CompareOp::Eq => Truth::from_bool(equal(value, constant)),
        CompareOp::Ne => Truth::from_bool(!equal(value, constant)),
        _ => {
            let ordering = match (value, constant) {
                (Value::Number(a), Constant::Number(b)) => {
                    a.as_f64().and_then(|a| a.partial_cmp(b))
                }
                (Value::String(a), Constant::String(b)) => Some(a.as_str().cmp(b.as_str())),
                _ => None,
            };
            match ordering {
                None => Truth::Unknown,
                Some(o) => Truth::from_bool(match op {
                    CompareOp::Lt => o == Ordering::Less,
                    CompareOp::Le => o != Ordering::Greater,
                    CompareOp::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                }),
            }
        }
    }
}

/// `IN` (`negated`: `NIN`): unknown for a missing field, object or array; otherwise whether
/// the value equals one of `values` (by the rules of `=`), negated for `NIN`.
pub fn contains(value: Option<&Value>, values: &[Constant], negated: bool) -> Truth {
    let Some(value) = value.filter(|v| is_primitive(v)) else {
        return Truth::Unknown;
    };
    Truth::from_bool(values.iter().any(|c| equal(value, c)) != negated)
}

/// `IS_DEFINED`: true when the field exists, whatever its value (`null` included).
pub fn is_defined(value: Option<&Value>) -> Truth {
    Truth::from_bool(value.is_some())
}

fn is_primitive(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

/// `=` between a primitive JSON value and a constant.
fn equal(value: &Value, constant: &Constant) -> bool {
    match (value, constant) {
        (Value::Null, Constant::Null) => true,
        (Value::Bool(a), Constant::Bool(b)) => a == b,
        (Value::Number(a), Constant::Number(b)) => a.as_f64() == Some(*b),
        (Value::String(a), Constant::String(b)) => a == b,
        _ => false,
    }
}

/// Whether the field name `name` of a query matches the key `key`: ignoring case (Unicode
/// simple lower-casing).
pub fn name_matches(name: &str, key: &str) -> bool {
    name.len() == key.len() && name.eq_ignore_ascii_case(key)
        || name
            .chars()
            .flat_map(char::to_lowercase)
            .eq(key.chars().flat_map(char::to_lowercase))
}

/// Picks the key that the query name `name` denotes among `keys` (in their order): the key
/// equal to `name` if there is one, else the first that matches ignoring case.
pub fn pick_name<'k>(
    name: &str,
    keys: impl IntoIterator<Item = &'k str> + Clone,
) -> Option<&'k str> {
    keys.clone()
        .into_iter()
        .find(|k| *k == name)
        .or_else(|| keys.into_iter().find(|k| name_matches(name, k)))
}

/// Looks `names` up in `value`, one object level per name (see [`pick_name`]). `None` when a
/// level is missing or not an object.
pub fn lookup<'v>(value: &'v Value, names: &[String]) -> Option<&'v Value> {
    let mut v = value;
    for name in names {
        let Value::Object(map) = v else {
            return None;
        };
        v = match map.get(name.as_str()) {
            Some(found) => found,
            None => {
                let key = pick_name(name, map.keys().map(String::as_str))?;
                map.get(key)?
            }
        };
    }
    Some(v)
}

impl Expr {
    /// Evaluates the condition over one device document (the reference interpreter: slow, no
    /// precomputation). `Path`s are looked up in `device` with [`lookup`].
    pub fn eval_json(&self, device: &Value) -> Truth {
        match self {
            Self::And(items) => items
                .iter()
                .fold(Truth::True, |t, e| t.and(e.eval_json(device))),
            Self::Or(items) => items
                .iter()
                .fold(Truth::False, |t, e| t.or(e.eval_json(device))),
            Self::Not(e) => e.eval_json(device).not(),
            Self::Compare { path, op, value } => compare(get(device, path), *op, value),
            Self::In {
                path,
                values,
                negated,
            } => contains(get(device, path), values, *negated),
            Self::IsDefined(path) => is_defined(get(device, path)),
        }
    }
}

fn get<'v>(device: &'v Value, path: &Path) -> Option<&'v Value> {
    lookup(device, path.segments())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn three_valued_connectives() {
        use Truth::*;
        assert_eq!(Unknown.not(), Unknown);
        assert_eq!(Unknown.and(False), False);
        assert_eq!(Unknown.and(True), Unknown);
        assert_eq!(Unknown.or(True), True);
        assert_eq!(Unknown.or(False), Unknown);
    }

    #[test]
    fn comparisons() {
        let s = |x: &str| Constant::String(x.into());
        let n = Constant::Number;
        assert_eq!(
            compare(Some(&json!(1)), CompareOp::Eq, &n(1.0)),
            Truth::True
        );
        assert_eq!(
            compare(Some(&json!("1")), CompareOp::Eq, &n(1.0)),
            Truth::False
        );
        assert_eq!(
            compare(Some(&json!("1")), CompareOp::Ne, &n(1.0)),
            Truth::True
        );
        assert_eq!(
            compare(Some(&json!("1")), CompareOp::Lt, &n(2.0)),
            Truth::Unknown
        );
        assert_eq!(
            compare(Some(&json!("a")), CompareOp::Lt, &s("b")),
            Truth::True
        );
        assert_eq!(
            compare(Some(&json!("B")), CompareOp::Gt, &s("a")),
            Truth::False
        );
        assert_eq!(compare(None, CompareOp::Ne, &s("a")), Truth::Unknown);
        assert_eq!(
            compare(Some(&json!({})), CompareOp::Ne, &s("a")),
            Truth::Unknown
        );
        assert_eq!(
            compare(Some(&json!(null)), CompareOp::Eq, &Constant::Null),
            Truth::True
        );
        assert_eq!(
            compare(Some(&json!(true)), CompareOp::Lt, &Constant::Bool(true)),
            Truth::Unknown
        );
        assert_eq!(
            contains(Some(&json!(2)), &[n(1.0), n(2.0)], true),
            Truth::False
        );
        assert_eq!(contains(None, &[], true), Truth::Unknown);
        assert_eq!(is_defined(Some(&json!(null))), Truth::True);
    }

    #[test]
    fn names_match_ignoring_case_exact_first() {
        let doc = json!({"Region": 1, "region": 2, "Zone": {"A": 3}});
        let names = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(lookup(&doc, &names(&["region"])), Some(&json!(2)));
        assert_eq!(lookup(&doc, &names(&["REGION"])), Some(&json!(1)));
        assert_eq!(lookup(&doc, &names(&["zone", "a"])), Some(&json!(3)));
        assert_eq!(lookup(&doc, &names(&["zone", "a", "b"])), None);
    }
}
