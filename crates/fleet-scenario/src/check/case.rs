//! A case: one point of the space (a value for every variable) and the seed of its simulation;
//! drawing one from the check's seed, and resolving the document at it.
//!
//! Case `i` of a check with seed `s` is drawn from PCG-64 (`rand_pcg::Pcg64`, whose output the
//! crate promises to keep stable) with state `s` and stream `i`: it depends on nothing else,
//! so cases can be drawn on any thread in any order. Cost: O(variables) per case.

use rand::Rng;
use rand_pcg::Pcg64;
use serde::Serialize;
use serde_json::Value;

use super::space::{compact, Domain, Path, Seg, Space};

/// A variable's value in a case.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Pick {
    /// A whole number.
    Int(i64),
    /// A real number.
    Float(f64),
    /// The index of a `one_of` value; for `optional` and entries, 1 = present, 0 = absent.
    Choice(usize),
}

/// One point of the space and the seed of its simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Which draw of the check it is (the stream of its draw).
    pub index: u64,
    /// The seed of its simulation (the concrete scenario's `seed`).
    pub seed: u64,
    /// One value per variable of the space, in the space's order.
    pub picks: Vec<Pick>,
}

/// The probability that a range draws one of its ends instead of a uniform value: boundaries
/// are where expectations tend to flip, and uniform draws almost never hit them.
const END_PROBABILITY: f64 = 0.1;

impl Case {
    /// Draws case `index` of the check with seed `seed`.
    pub fn draw(space: &Space, seed: u64, index: u64) -> Case {
        let mut rng = Pcg64::new(u128::from(seed), u128::from(index));
        // 32 bits: short enough to read, and a TOML integer.
        let case_seed = rng.next_u64() >> 32;
        let picks = space
            .variables
            .iter()
            .map(|v| draw_one(&v.domain, &mut rng))
            .collect();
        Case {
            index,
            seed: case_seed,
            picks,
        }
    }

    /// The simplest case with this seed: every variable at its simplest value.
    pub fn simplest(space: &Space, index: u64, seed: u64) -> Case {
        Case {
            index,
            seed,
            picks: space
                .variables
                .iter()
                .map(|v| simplest(&v.domain))
                .collect(),
        }
    }

    /// Whether variable `v` matters in this case: every marker it is nested in is present
    /// and chose the branch that holds it.
    pub fn active(&self, space: &Space, v: usize) -> bool {
        let mut at = v;
        while let Some(p) = space.variables[at].parent {
            let branch = match self.picks[p.variable] {
                Pick::Choice(c) => c,
                _ => return false,
            };
            let taken = match space.variables[p.variable].domain {
                Domain::OneOf(_) => branch == p.branch,
                _ => branch == 1,
            };
            if !taken {
                return false;
            }
            at = p.variable;
        }
        true
    }

    /// The same case with every variable that does not matter at its simplest value, so that
    /// two cases that resolve to the same scenario compare equal.
    pub fn normalised(mut self, space: &Space) -> Case {
        for v in 0..self.picks.len() {
            if !self.active(space, v) {
                self.picks[v] = simplest(&space.variables[v].domain);
            }
        }
        self
    }

    /// The active variables and their values, for people: `fleet.devices = 40`.
    pub fn describe(&self, space: &Space) -> Vec<(String, String)> {
        (0..self.picks.len())
            .filter(|&v| self.active(space, v))
            .map(|v| (space.variables[v].path.to_string(), self.show(space, v)))
            .collect()
    }

    /// Variable `v`'s value, for people.
    pub fn show(&self, space: &Space, v: usize) -> String {
        match (&space.variables[v].domain, self.picks[v]) {
            (_, Pick::Int(n)) => n.to_string(),
            (_, Pick::Float(x)) => format_float(x),
            (Domain::OneOf(values), Pick::Choice(c)) => {
                format!(
                    "{} (choice {} of {})",
                    compact(&values[c]),
                    c + 1,
                    values.len()
                )
            }
            (_, Pick::Choice(0)) => "absent".to_string(),
            (_, Pick::Choice(_)) => "present".to_string(),
        }
    }
}

/// A real number in its shortest form that reads back the same.
pub(crate) fn format_float(x: f64) -> String {
    let s = format!("{x}");
    match s.contains(['.', 'e', 'i', 'N']) {
        true => s,
        false => format!("{s}.0"),
    }
}

/// The simplest value of a domain: the minimum, the first choice, absent.
pub(crate) fn simplest(domain: &Domain) -> Pick {
    match domain {
        Domain::Int { min, .. } => Pick::Int(*min),
        Domain::Float { min, .. } => Pick::Float(*min),
        Domain::OneOf(_) | Domain::Optional(_) | Domain::Entry => Pick::Choice(0),
    }
}

fn unit(rng: &mut Pcg64) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn below(rng: &mut Pcg64, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

fn draw_one(domain: &Domain, rng: &mut Pcg64) -> Pick {
    let end = unit(rng);
    let low_end = end < END_PROBABILITY / 2.0;
    let high_end = !low_end && end < END_PROBABILITY;
    match *domain {
        Domain::Int { min, max } => {
            let span = max.abs_diff(min);
            match (low_end, high_end, span) {
                (true, _, _) => Pick::Int(min),
                (_, true, _) => Pick::Int(max),
                (_, _, u64::MAX) => Pick::Int(rng.next_u64() as i64),
                _ => Pick::Int(min.wrapping_add(below(rng, span + 1) as i64)),
            }
        }
        Domain::Float { min, max } => match (low_end, high_end) {
            (true, _) => Pick::Float(min),
            (_, true) => Pick::Float(max),
            _ => Pick::Float((min + (max - min) * unit(rng)).clamp(min, max)),
        },
        Domain::OneOf(ref v) => Pick::Choice(below(rng, v.len() as u64) as usize),
        Domain::Optional(_) | Domain::Entry => Pick::Choice(below(rng, 2) as usize),
    }
}

/// Whether variable `v` sits in the document itself (inside entries at most), not inside
/// another marker's value.
fn in_document(space: &Space, v: usize) -> bool {
    let mut at = v;
    while let Some(p) = space.variables[at].parent {
        if !matches!(space.variables[p.variable].domain, Domain::Entry) {
            return false;
        }
        at = p.variable;
    }
    true
}

/// A change to the document that turns the scenario with markers into the case's scenario.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Edit {
    /// Put this value at the path (where a marker was).
    Set(Path, Value),
    /// Remove what is at the path (an absent optional field or entry, or an entry's
    /// `optional` key).
    Remove(Path),
}

impl Case {
    /// The edits that resolve `doc` at this case, in reverse document order (so that removing
    /// an array's entry never moves one that an edit still has to reach).
    pub(crate) fn edits(&self, space: &Space) -> Vec<Edit> {
        let mut edits = Vec::new();
        for (v, var) in space.variables.iter().enumerate() {
            // Nested markers are resolved with their parent's value; entries' contents are
            // edited in place.
            if !in_document(space, v) || !self.active(space, v) {
                continue;
            }
            match (&var.domain, self.picks[v]) {
                (Domain::Entry, Pick::Choice(0)) => edits.push(Edit::Remove(var.path.clone())),
                (Domain::Entry, _) => {
                    edits.push(Edit::Remove(var.path.join(Seg::Key("optional".into()))))
                }
                _ => match self.resolve_marker(space, v) {
                    Some(value) => edits.push(Edit::Set(var.path.clone(), value)),
                    None => edits.push(Edit::Remove(var.path.clone())),
                },
            }
        }
        edits.reverse();
        edits
    }

    /// The value that marker `v` stands for in this case (`None`: absent).
    fn resolve_marker(&self, space: &Space, v: usize) -> Option<Value> {
        let var = &space.variables[v];
        match (&var.domain, self.picks[v]) {
            (_, Pick::Int(n)) => Some(Value::from(n)),
            (_, Pick::Float(x)) => Some(Value::from(x)),
            (Domain::OneOf(values), Pick::Choice(c)) => {
                let path = var.path.join(Seg::Key("one_of".into())).join(Seg::Index(c));
                self.resolve(space, &values[c], &path)
            }
            (Domain::Optional(inner), Pick::Choice(1)) => {
                let path = var.path.join(Seg::Key("optional".into()));
                self.resolve(space, inner, &path)
            }
            _ => None,
        }
    }

    /// `node` (found at `path`) with every marker in it resolved (`None`: absent).
    fn resolve(&self, space: &Space, node: &Value, path: &Path) -> Option<Value> {
        if let Some(v) = space.at(path) {
            if !matches!(space.variables[v].domain, Domain::Entry) {
                return self.resolve_marker(space, v);
            }
            if self.picks[v] == Pick::Choice(0) {
                return None;
            }
        }
        match node {
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                let entry = space.at(path).is_some();
                for (k, child) in map {
                    if entry && k == "optional" {
                        continue;
                    }
                    if let Some(c) = self.resolve(space, child, &path.join(Seg::Key(k.clone()))) {
                        out.insert(k.clone(), c);
                    }
                }
                Some(Value::Object(out))
            }
            Value::Array(items) => Some(Value::Array(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| self.resolve(space, c, &path.join(Seg::Index(i))))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn space() -> (Space, Value) {
        let doc = json!({
            "fleet": { "devices": { "min": 10, "max": 100 } },
            "behaviour": { "rules": [
                { "failure_probability": { "min": 0, "max": 0.05 },
                  "flapping": { "optional": { "mean_up_ms": { "min": 1000, "max": 9000 }, "mean_down_ms": 10 } } },
                { "optional": true, "offline": { "one_of": [0.0, { "min": 0.1, "max": 0.2 }] } }
            ] }
        });
        (Space::of(&doc).unwrap(), doc)
    }

    #[test]
    fn draws_are_in_range_and_depend_only_on_seed_and_index() {
        let (space, _) = space();
        for i in 0..200 {
            let c = Case::draw(&space, 7, i);
            assert_eq!(c, Case::draw(&space, 7, i));
            match c.picks[6] {
                Pick::Int(n) => assert!((10..=100).contains(&n), "{n}"),
                other => panic!("{other:?}"),
            }
            match c.picks[0] {
                Pick::Float(x) => assert!((0.0..=0.05).contains(&x), "{x}"),
                other => panic!("{other:?}"),
            }
            assert!(matches!(c.picks[4], Pick::Choice(0 | 1)));
        }
        assert_ne!(Case::draw(&space, 7, 0), Case::draw(&space, 8, 0));
        let ends = (0..1000)
            .filter(|&i| matches!(Case::draw(&space, 1, i).picks[6], Pick::Int(10 | 100)))
            .count();
        // About END_PROBABILITY of the draws, plus 2 in 91 by chance: 100 + 20 expected.
        assert!((70..180).contains(&ends), "{ends}");
    }

    #[test]
    fn edits_resolve_nested_markers_and_remove_absent_parts() {
        let (space, _) = space();
        let mut c = Case::simplest(&space, 0, 5);
        c.picks = vec![
            Pick::Float(0.02),
            Pick::Choice(1),
            Pick::Int(2000),
            Pick::Choice(1),
            Pick::Choice(1),
            Pick::Float(0.15),
            Pick::Int(40),
        ];
        let p = |s: &str| {
            space
                .variables
                .iter()
                .find(|v| v.path.to_string() == s)
                .unwrap()
                .path
                .clone()
        };
        let edits = c.edits(&space);
        assert_eq!(
            edits,
            vec![
                Edit::Set(p("fleet.devices"), json!(40)),
                Edit::Set(p("behaviour.rules[1].offline"), json!(0.15)),
                Edit::Remove(p("behaviour.rules[1]").join(Seg::Key("optional".into()))),
                Edit::Set(
                    p("behaviour.rules[0].flapping"),
                    json!({"mean_up_ms": 2000, "mean_down_ms": 10})
                ),
                Edit::Set(p("behaviour.rules[0].failure_probability"), json!(0.02)),
            ]
        );
        let simple = Case::simplest(&space, 0, 5);
        let edits = simple.edits(&space);
        assert_eq!(
            edits,
            vec![
                Edit::Set(p("fleet.devices"), json!(10)),
                Edit::Remove(p("behaviour.rules[1]")),
                Edit::Remove(p("behaviour.rules[0].flapping")),
                Edit::Set(p("behaviour.rules[0].failure_probability"), json!(0.0)),
            ]
        );
        assert!(!simple.active(&space, 2) && !simple.active(&space, 5));
        assert!(c.active(&space, 2) && c.active(&space, 5));
    }
}
