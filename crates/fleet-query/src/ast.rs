//! The parsed form of a query: [`Expr`], [`Path`], [`Constant`], [`CompareOp`].
//!
//! `Display` writes every node back as query text that parses to the same node (names that
//! are not plain identifiers are written `[[escaped]]`, strings in single quotes with escapes).

use std::fmt;

use crate::name;

/// A condition (the `WHERE` part of a query).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Every operand holds (at least two operands).
    And(Vec<Expr>),
    /// At least one operand holds (at least two operands).
    Or(Vec<Expr>),
    /// The operand does not hold.
    Not(Box<Expr>),
    /// `path op constant`.
    Compare {
        /// The field.
        path: Path,
        /// The operator.
        op: CompareOp,
        /// The constant it is compared with.
        value: Constant,
    },
    /// `path IN [..]` (or `NIN` when `negated`).
    In {
        /// The field.
        path: Path,
        /// The array constant.
        values: Vec<Constant>,
        /// `NIN`: the value is none of them.
        negated: bool,
    },
    /// `IS_DEFINED(path)`.
    IsDefined(Path),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator as written (`!=` for [`CompareOp::Ne`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            other => other,
        }
    }
}

/// A constant: a JSON primitive.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number (decimal or `0x` hex), as a 64-bit float.
    Number(f64),
    /// A string.
    String(String),
}

/// A field path such as `tags.location.region`: names as written, without escapes. Names match
/// fields case-insensitively (an exact match wins).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    segments: Vec<String>,
}

impl Path {
    /// A path from its names. `None` if there is no name or a name is empty.
    pub fn new<S: Into<String>>(segments: impl IntoIterator<Item = S>) -> Option<Self> {
        let segments: Vec<String> = segments.into_iter().map(Into::into).collect();
        (!segments.is_empty() && segments.iter().all(|s| !s.is_empty()))
            .then_some(Self { segments })
    }

    /// The names, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if is_plain_name(s) && !(i == 0 && name::is_reserved(s)) {
                f.write_str(s)?;
            } else {
                write!(f, "[[{s}]]")?;
            }
        }
        Ok(())
    }
}

/// Whether `s` can be written without `[[ ]]`.
fn is_plain_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(name::is_name_start) && chars.all(name::is_name_char)
}

impl fmt::Display for Constant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            // Whole numbers without a fraction (`1`, not `1.0`); others in the shortest form
            // that reads back exactly (`0.5`, `1e-7`).
            Self::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => write!(f, "{n}"),
            Self::Number(n) => write!(f, "{n:?}"),
            Self::String(s) => {
                f.write_str("'")?;
                for c in s.chars() {
                    match c {
                        '\'' => f.write_str("\\'")?,
                        '\\' => f.write_str("\\\\")?,
                        c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("'")
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parenthesize the operands that are themselves AND / OR lists.
        let operand = |f: &mut fmt::Formatter<'_>, e: &Expr| match e {
            Self::And(_) | Self::Or(_) => write!(f, "({e})"),
            _ => write!(f, "{e}"),
        };
        let joined = |f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str| {
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                operand(f, e)?;
            }
            Ok(())
        };
        match self {
            Self::And(items) => joined(f, items, " AND "),
            Self::Or(items) => joined(f, items, " OR "),
            Self::Not(e) => {
                f.write_str("NOT ")?;
                operand(f, e)
            }
            Self::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Self::In {
                path,
                values,
                negated,
            } => {
                write!(f, "{path} {} [", if *negated { "NIN" } else { "IN" })?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Self::IsDefined(path) => write!(f, "IS_DEFINED({path})"),
        }
    }
}
