//! The search space of a check scenario: ranges, choices and optional parts written in place
//! of values, found by walking the scenario's document.
//!
//! Four markers, recognised in the `fleet`, `behaviour`, `hub` and `jobs` sections only (an
//! expectation's `{ min, max }` bound is not a range):
//!
//! | marker | varies | simplest (shrinks toward) |
//! |---|---|---|
//! | `{ min = a, max = b }` | a whole number if both are whole, else a real, in `[a, b]` | `a` |
//! | `{ one_of = [v0, v1, ...] }` | one of the values (each may hold markers) | `v0` |
//! | `{ optional = v }` | the field is `v` or absent | absent |
//! | `optional = true` in an array entry | the entry (a rule, a cohort, a command) is there or not | not there |
//!
//! Markers nest: a value inside `one_of` or `optional`, or an optional entry, may hold more.
//! Variables are numbered in pre-order of the document (keys in sorted order), the same for
//! a TOML file and the JSON of the same scenario.
//!
//! Cost: O(size of the document) to walk; a [`Space`] holds one [`Variable`] per marker.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::error::{Error, Result};

/// The sections of a scenario in which markers are read.
pub(crate) const SECTIONS: [&str; 4] = ["behaviour", "fleet", "hub", "jobs"];

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    /// A table's key.
    Key(String),
    /// An array's index.
    Index(usize),
}

/// A path into the document, `behaviour.rules[0].failure_probability`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// This path with one more step.
    pub(crate) fn join(&self, seg: Seg) -> Path {
        let mut p = self.0.clone();
        p.push(seg);
        Path(p)
    }

    fn key(&self, key: &str) -> Path {
        self.join(Seg::Key(key.to_string()))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What a variable ranges over.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// A whole number in `[min, max]`.
    Int {
        /// The smallest value, and the simplest.
        min: i64,
        /// The largest value.
        max: i64,
    },
    /// A real number in `[min, max]`.
    Float {
        /// The smallest value, and the simplest.
        min: f64,
        /// The largest value.
        max: f64,
    },
    /// One of these values (which may hold markers), the first the simplest.
    OneOf(Vec<Value>),
    /// The field is this value (which may hold markers), or absent (the simplest).
    Optional(Box<Value>),
    /// The array entry is there, or not (the simplest).
    Entry,
}

impl Domain {
    /// How many discrete values it has (`None`: a real range).
    pub fn choices(&self) -> Option<u64> {
        match self {
            Domain::Int { min, max } => Some(max.abs_diff(*min).saturating_add(1)),
            Domain::Float { .. } => None,
            Domain::OneOf(v) => Some(v.len() as u64),
            Domain::Optional(_) | Domain::Entry => Some(2),
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Int { min, max } => write!(f, "{min} to {max}"),
            Domain::Float { min, max } => write!(f, "{min} to {max}"),
            Domain::OneOf(v) => {
                let items: Vec<String> = v.iter().map(compact).collect();
                write!(f, "one of {}", items.join(", "))
            }
            Domain::Optional(v) => write!(f, "absent or {}", compact(v)),
            Domain::Entry => write!(f, "absent or present"),
        }
    }
}

/// A value in one line, for reports.
pub(crate) fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Where a variable sits: at the top of the document, or inside another variable's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    /// The enclosing variable.
    pub variable: usize,
    /// Which of its values holds this one: the choice of a `one_of`, 0 for `optional` and
    /// entries.
    pub branch: usize,
}

/// One dimension of the space: a marker, where it is and what it ranges over.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// The field it replaces (for a nested one, through `one_of[j]` or `optional`).
    pub path: Path,
    /// What it ranges over.
    pub domain: Domain,
    /// The marker it is nested in, if any.
    pub parent: Option<Parent>,
}

/// The variables of a scenario, in pre-order. Lookup by path is O(log n).
#[derive(Debug, Clone, Default)]
pub struct Space {
    /// The variables.
    pub variables: Vec<Variable>,
    by_path: BTreeMap<Path, usize>,
}

impl Space {
    /// Finds every marker of `doc` (the scenario as JSON). Errors name the field.
    pub fn of(doc: &Value) -> Result<Space> {
        let mut space = Space::default();
        if let Value::Object(top) = doc {
            for section in SECTIONS {
                if let Some(v) = top.get(section) {
                    space.walk(v, &Path::default().key(section), None, false)?;
                }
            }
        }
        Ok(space)
    }

    /// The variable at `path`, if there is one.
    pub fn at(&self, path: &Path) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    /// Whether the scenario has no marker (a plain scenario).
    pub fn is_empty(&self) -> bool {
        self.variables.is_empty()
    }

    fn push(&mut self, path: Path, domain: Domain, parent: Option<Parent>) -> usize {
        let id = self.variables.len();
        self.by_path.insert(path.clone(), id);
        self.variables.push(Variable {
            path,
            domain,
            parent,
        });
        id
    }

    fn walk(&mut self, v: &Value, path: &Path, parent: Option<Parent>, entry: bool) -> Result<()> {
        match v {
            Value::Object(map) => {
                if let Some(domain) = marker(map, path, entry)? {
                    return self.walk_marker(domain, path, parent);
                }
                let mut parent = parent;
                if entry && map.contains_key("optional") {
                    let id = self.push(path.clone(), Domain::Entry, parent);
                    parent = Some(Parent {
                        variable: id,
                        branch: 0,
                    });
                }
                for (k, child) in map {
                    if !(entry && k == "optional") {
                        self.walk(child, &path.key(k), parent, false)?;
                    }
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    self.walk(child, &path.join(Seg::Index(i)), parent, true)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn walk_marker(&mut self, domain: Domain, path: &Path, parent: Option<Parent>) -> Result<()> {
        let inner: Vec<(Path, Value)> = match &domain {
            Domain::OneOf(choices) => choices
                .iter()
                .enumerate()
                .map(|(j, c)| (path.key("one_of").join(Seg::Index(j)), c.clone()))
                .collect(),
            Domain::Optional(v) => vec![(path.key("optional"), (**v).clone())],
            _ => Vec::new(),
        };
        let id = self.push(path.clone(), domain, parent);
        for (branch, (p, v)) in inner.iter().enumerate() {
            let parent = Some(Parent {
                variable: id,
                branch,
            });
            self.walk(v, p, parent, false)?;
        }
        Ok(())
    }
}

/// The marker a table is, if it is one. `entry`: the table is an array's element (where
/// `optional = true` marks the entry, not a value).
fn marker(
    map: &serde_json::Map<String, Value>,
    path: &Path,
    entry: bool,
) -> Result<Option<Domain>> {
    let has = |k: &str| map.contains_key(k);
    let bad = |why: String| Err(Error::invalid(path.to_string(), why));
    if has("min") || has("max") {
        if let Some(k) = map.keys().find(|k| *k != "min" && *k != "max") {
            return bad(format!(
                "a range is `{{ min = .., max = .. }}`; unknown key `{k}`"
            ));
        }
        let (Some(lo), Some(hi)) = (map.get("min"), map.get("max")) else {
            return bad("a range needs both `min` and `max`".into());
        };
        return range(lo, hi).map(Some).or_else(bad);
    }
    if has("one_of") {
        if map.len() > 1 {
            return bad("`{ one_of = [..] }` takes no other key".into());
        }
        return match &map["one_of"] {
            Value::Array(v) if !v.is_empty() => Ok(Some(Domain::OneOf(v.clone()))),
            Value::Array(_) => bad("`one_of` needs at least one value".into()),
            other => bad(format!(
                "`one_of` is a list of values, not {}",
                compact(other)
            )),
        };
    }
    if has("optional") {
        if entry {
            return match &map["optional"] {
                Value::Bool(true) => Ok(None),
                other => bad(format!(
                    "`optional` on an entry is `true` (the entry is there or not), not {}",
                    compact(other)
                )),
            };
        }
        if map.len() > 1 {
            return bad("`{ optional = VALUE }` takes no other key (an array entry takes `optional = true` among its fields)".into());
        }
        return Ok(Some(Domain::Optional(Box::new(map["optional"].clone()))));
    }
    Ok(None)
}

/// The domain of `{ min = lo, max = hi }`.
fn range(lo: &Value, hi: &Value) -> std::result::Result<Domain, String> {
    let (Value::Number(a), Value::Number(b)) = (lo, hi) else {
        return Err(format!(
            "a range's `min` and `max` are numbers, not {} and {}",
            compact(lo),
            compact(hi)
        ));
    };
    if let (Some(min), Some(max)) = (a.as_i64(), b.as_i64()) {
        if min > max {
            return Err(format!(
                "a range needs min <= max; got min = {min}, max = {max}"
            ));
        }
        return Ok(Domain::Int { min, max });
    }
    let (min, max) = (
        a.as_f64().unwrap_or(f64::NAN),
        b.as_f64().unwrap_or(f64::NAN),
    );
    if !(min.is_finite() && max.is_finite()) {
        return Err(format!(
            "a range's bounds are finite numbers; got min = {a}, max = {b}"
        ));
    }
    if min > max {
        return Err(format!(
            "a range needs min <= max; got min = {min}, max = {max}"
        ));
    }
    Ok(Domain::Float { min, max })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_are_found_in_pre_order_with_their_parents() {
        let doc = json!({
            "fleet": { "devices": { "min": 10, "max": 100 } },
            "behaviour": { "rules": [
                { "failure_probability": { "min": 0, "max": 0.05 },
                  "flapping": { "optional": { "mean_up_ms": { "min": 1000, "max": 9000 }, "mean_down_ms": 10 } } },
                { "optional": true, "offline": { "one_of": [0.0, { "min": 0.1, "max": 0.2 }] } }
            ] },
            "expect": [ { "job": "x", "failed": { "min": 0, "max": 3 } } ]
        });
        let space = Space::of(&doc).unwrap();
        let paths: Vec<String> = space.variables.iter().map(|v| v.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "behaviour.rules[0].failure_probability",
                "behaviour.rules[0].flapping",
                "behaviour.rules[0].flapping.optional.mean_up_ms",
                "behaviour.rules[1]",
                "behaviour.rules[1].offline",
                "behaviour.rules[1].offline.one_of[1]",
                "fleet.devices",
            ]
        );
        assert_eq!(
            space.variables[0].domain,
            Domain::Float {
                min: 0.0,
                max: 0.05
            }
        );
        assert_eq!(space.variables[6].domain, Domain::Int { min: 10, max: 100 });
        assert_eq!(
            space.variables[2].parent,
            Some(Parent {
                variable: 1,
                branch: 0
            })
        );
        assert_eq!(
            space.variables[4].parent,
            Some(Parent {
                variable: 3,
                branch: 0
            })
        );
        assert_eq!(
            space.variables[5].parent,
            Some(Parent {
                variable: 4,
                branch: 1
            })
        );
        assert_eq!(space.at(&space.variables[6].path), Some(6));
    }

    #[test]
    fn bad_markers_are_errors_naming_the_field() {
        for (doc, needle) in [
            (
                json!({"fleet": {"devices": {"min": 10, "max": 1}}}),
                "min <= max; got min = 10, max = 1",
            ),
            (
                json!({"fleet": {"devices": {"min": 10}}}),
                "needs both `min` and `max`",
            ),
            (
                json!({"fleet": {"devices": {"min": 1, "max": 2, "step": 1}}}),
                "unknown key `step`",
            ),
            (
                json!({"fleet": {"devices": {"min": "a", "max": 2}}}),
                "are numbers",
            ),
            (
                json!({"fleet": {"devices": {"one_of": []}}}),
                "at least one value",
            ),
            (
                json!({"fleet": {"devices": {"one_of": 3}}}),
                "is a list of values",
            ),
            (
                json!({"behaviour": {"rules": [{"optional": 1}]}}),
                "`optional` on an entry is `true`",
            ),
            (
                json!({"behaviour": {"rules": [{"flapping": {"optional": 1, "x": 2}}]}}),
                "takes no other key",
            ),
            (
                json!({"behaviour": {"rules": [{"failure_probability": {"min": 0.5, "max": 0.25}}]}}),
                "min = 0.5, max = 0.25",
            ),
        ] {
            let err = Space::of(&doc).unwrap_err().to_string();
            assert!(err.contains(needle), "{doc}: {err}");
        }
        let err = Space::of(&json!({"fleet": {"devices": {"min": 10, "max": 1}}})).unwrap_err();
        assert_eq!(err.field(), Some("fleet.devices"));
    }

    #[test]
    fn expectations_and_other_sections_hold_no_markers() {
        let doc = json!({"expect": [{"job": "j", "duration_s": {"min": 1, "max": 2}}],
                         "risk": {"x": {"min": 1, "max": 2}}});
        assert!(Space::of(&doc).unwrap().is_empty());
    }
}
