//! A check scenario as written (its text, kept to print cases in the user's own layout) and
//! its space; resolving it at a case into a concrete scenario file.
//!
//! A TOML case is the user's file with each marker replaced in place (`toml_edit`: comments,
//! order and layout are kept, and so are line numbers, so an error in a case names the line
//! of the file); a JSON case is the document with the markers replaced. Cost: O(size of the
//! file) per case.

use std::path::{Path as FsPath, PathBuf};

use serde_json::Value;
use toml_edit::{DocumentMut, Item};

use super::case::{Case, Edit};
use super::space::{Path, Seg, Space};
use crate::error::{Error, ErrorKind, Result};
use crate::scenario::Scenario;
use crate::source::{self, Format};

/// A scenario whose fields may be ranges, choices and optional parts (docs/check.md).
#[derive(Debug, Clone)]
pub struct Template {
    /// The file it was read from, if any.
    pub path: Option<PathBuf>,
    /// The directory a fleet file it names is relative to.
    dir: PathBuf,
    text: String,
    format: Format,
    doc: Value,
    /// Its variables.
    pub space: Space,
    /// Its `seed` field (the check's seed unless `--seed` is given).
    pub seed: u64,
}

impl Template {
    /// Reads a check scenario (`.toml` or `.json`). Errors name the file, line and field.
    pub fn load(path: &FsPath) -> Result<Self> {
        let with_file = |e: Error| e.with_file(path);
        let format = Format::of_path(path).map_err(with_file)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Io(e)))
            .map_err(with_file)?;
        let dir = path.parent().unwrap_or(FsPath::new("."));
        let mut t = Self::from_str_in(&text, format, dir).map_err(with_file)?;
        t.path = Some(path.to_path_buf());
        Ok(t)
    }

    /// Reads a check scenario from text; a fleet file it names is relative to `dir`. Every
    /// marker is checked, and so are the scenarios at the ends of the space (below).
    pub fn from_str_in(text: &str, format: Format, dir: &FsPath) -> Result<Self> {
        let doc: Value = source::parse(text, format)?;
        let space = Space::of(&doc).map_err(|e| source::position_error(e, text, format))?;
        let seed = doc.get("seed").and_then(Value::as_u64).unwrap_or(0);
        let t = Self {
            path: None,
            dir: dir.to_path_buf(),
            text: text.to_string(),
            format,
            doc,
            space,
            seed,
        };
        t.check_ends()?;
        Ok(t)
    }

    /// The format it was written in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Checks the scenario at the simplest case (every range at its minimum, the first
    /// choice, optional parts absent) and at the fullest (every range at its maximum, the last
    /// choice, everything present), and at each choice of each `one_of`: a range that lets a
    /// field out of its bounds is an error before any case runs. Combinations of values in
    /// between can still be refused when a case is drawn (`check` then stops with exit 2).
    fn check_ends(&self) -> Result<()> {
        let low = Case::simplest(&self.space, 0, self.seed);
        let mut high = low.clone();
        high.picks = self
            .space
            .variables
            .iter()
            .map(|v| ends(&v.domain).1)
            .collect();
        self.check_case(&low, "with every range at its `min`, the first of each `one_of` and every optional part absent")?;
        self.check_case(&high, "with every range at its `max`, the last of each `one_of` and every optional part present")?;
        for (v, var) in self.space.variables.iter().enumerate() {
            if let super::space::Domain::OneOf(values) = &var.domain {
                for c in 0..values.len() {
                    let mut case = high.clone();
                    case.picks[v] = super::case::Pick::Choice(c);
                    self.check_case(
                        &case,
                        &format!("with `{}` at its value {}", var.path, c + 1),
                    )?;
                }
            }
        }
        Ok(())
    }

    fn check_case(&self, case: &Case, which: &str) -> Result<()> {
        self.scenario(case)
            .and_then(|s| s.check(None))
            .map_err(|e| e.map_message(|m| format!("{m} ({which})")))
    }

    /// The concrete scenario of `case`, loaded and validated (its `seed` field is left as
    /// written: a case is simulated with `case.seed`). Errors name the line and field in the
    /// user's file (a TOML case keeps the file's lines).
    pub fn scenario(&self, case: &Case) -> Result<Scenario> {
        let text = self.resolve(case, false)?;
        let mut s = Scenario::from_str_in(&text, self.format, &self.dir)?;
        s.path.clone_from(&self.path);
        Ok(s)
    }

    /// The concrete scenario file of `case`: the file with every marker replaced by the
    /// case's value and `seed` set to the case's seed.
    pub fn render(&self, case: &Case) -> Result<String> {
        self.resolve(case, true)
    }

    fn resolve(&self, case: &Case, set_seed: bool) -> Result<String> {
        let edits = case.edits(&self.space);
        match self.format {
            Format::Toml => {
                let mut doc: DocumentMut = self
                    .text
                    .parse()
                    .map_err(|e| Error::new(ErrorKind::Syntax(format!("{e}"))))?;
                for e in &edits {
                    toml_apply(doc.as_item_mut(), e)?;
                }
                if !set_seed {
                    return Ok(doc.to_string());
                }
                let seed = i64::try_from(case.seed).map_err(|_| {
                    Error::invalid("seed", "a TOML seed is at most 9223372036854775807")
                })?;
                match doc.get_mut("seed").and_then(Item::as_value_mut) {
                    Some(v) => replace(v, toml_edit::Value::from(seed)),
                    None => {
                        doc.insert("seed", toml_edit::value(seed));
                    }
                }
                Ok(doc.to_string())
            }
            Format::Json => {
                let mut doc = self.doc.clone();
                for e in &edits {
                    json_apply(&mut doc, e);
                }
                if set_seed {
                    doc["seed"] = Value::from(case.seed);
                }
                let mut s = serde_json::to_string_pretty(&doc)
                    .map_err(|e| Error::new(ErrorKind::Invalid(e.to_string())))?;
                s.push('\n');
                Ok(s)
            }
        }
    }
}

/// The (lowest, highest) values of a domain.
fn ends(domain: &super::space::Domain) -> (super::case::Pick, super::case::Pick) {
    use super::case::Pick;
    use super::space::Domain;
    match domain {
        Domain::Int { min, max } => (Pick::Int(*min), Pick::Int(*max)),
        Domain::Float { min, max } => (Pick::Float(*min), Pick::Float(*max)),
        Domain::OneOf(v) => (Pick::Choice(0), Pick::Choice(v.len() - 1)),
        Domain::Optional(_) | Domain::Entry => (Pick::Choice(0), Pick::Choice(1)),
    }
}

fn json_apply(doc: &mut Value, edit: &Edit) {
    let (path, value) = match edit {
        Edit::Set(p, v) => (p, Some(v)),
        Edit::Remove(p) => (p, None),
    };
    let Some((last, init)) = path.0.split_last() else {
        return;
    };
    let mut at = doc;
    for seg in init {
        at = match seg {
            Seg::Key(k) => &mut at[k.as_str()],
            Seg::Index(i) => &mut at[*i],
        };
    }
    match (last, value, at) {
        (Seg::Key(k), Some(v), Value::Object(m)) => {
            m.insert(k.clone(), v.clone());
        }
        (Seg::Key(k), None, Value::Object(m)) => {
            m.remove(k);
        }
        (Seg::Index(i), Some(v), Value::Array(a)) => a[*i] = v.clone(),
        (Seg::Index(i), None, Value::Array(a)) => {
            a.remove(*i);
        }
        _ => {}
    }
}

/// A place in a TOML document that holds other places.
enum Node<'a> {
    Table(&'a mut toml_edit::Table),
    Inline(&'a mut toml_edit::InlineTable),
    Array(&'a mut toml_edit::Array),
    Tables(&'a mut toml_edit::ArrayOfTables),
}

fn node_of_item(item: &mut Item) -> Option<Node<'_>> {
    match item {
        Item::Table(t) => Some(Node::Table(t)),
        Item::ArrayOfTables(a) => Some(Node::Tables(a)),
        Item::Value(v) => node_of_value(v),
        Item::None => None,
    }
}

fn node_of_value(v: &mut toml_edit::Value) -> Option<Node<'_>> {
    match v {
        toml_edit::Value::InlineTable(t) => Some(Node::Inline(t)),
        toml_edit::Value::Array(a) => Some(Node::Array(a)),
        _ => None,
    }
}

fn child<'a>(node: Node<'a>, seg: &Seg) -> Option<Node<'a>> {
    match (node, seg) {
        (Node::Table(t), Seg::Key(k)) => node_of_item(t.get_mut(k)?),
        (Node::Inline(t), Seg::Key(k)) => node_of_value(t.get_mut(k)?),
        (Node::Array(a), Seg::Index(i)) => node_of_value(a.get_mut(*i)?),
        (Node::Tables(a), Seg::Index(i)) => Some(Node::Table(a.get_mut(*i)?)),
        _ => None,
    }
}

/// Puts `new` where `old` was, keeping the spaces and comment around it.
fn replace(old: &mut toml_edit::Value, mut new: toml_edit::Value) {
    *new.decor_mut() = old.decor().clone();
    *old = new;
}

fn toml_apply(root: &mut Item, edit: &Edit) -> Result<()> {
    let path: &Path = match edit {
        Edit::Set(p, _) | Edit::Remove(p) => p,
    };
    let lost = || Error::invalid(path.to_string(), "cannot edit this field of the TOML file");
    let (last, init) = path.0.split_last().ok_or_else(lost)?;
    let mut node = node_of_item(root).ok_or_else(lost)?;
    for seg in init {
        node = child(node, seg).ok_or_else(lost)?;
    }
    let value = match edit {
        Edit::Set(_, v) => Some(to_toml(v).ok_or_else(lost)?),
        Edit::Remove(_) => None,
    };
    match (node, last, value) {
        (Node::Table(t), Seg::Key(k), Some(mut v)) => match t.get_mut(k) {
            Some(Item::Value(old)) => replace(old, v),
            _ => {
                v.decor_mut().set_prefix(" ");
                t.insert(k, Item::Value(v));
            }
        },
        (Node::Table(t), Seg::Key(k), None) => drop(t.remove(k)),
        (Node::Inline(t), Seg::Key(k), Some(v)) => match t.get_mut(k) {
            Some(old) => replace(old, v),
            None => drop(t.insert(k, v)),
        },
        (Node::Inline(t), Seg::Key(k), None) => drop(t.remove(k)),
        (Node::Array(a), Seg::Index(i), Some(v)) => {
            let old = a.get_mut(*i).ok_or_else(lost)?;
            replace(old, v);
        }
        (Node::Array(a), Seg::Index(i), None) if *i < a.len() => drop(a.remove(*i)),
        (Node::Tables(a), Seg::Index(i), None) if *i < a.len() => drop(a.remove(*i)),
        _ => return Err(lost()),
    }
    Ok(())
}

/// A JSON value as a TOML value (`None` for null, which TOML cannot write).
fn to_toml(v: &Value) -> Option<toml_edit::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(a) => {
            let items: Option<Vec<toml_edit::Value>> = a.iter().map(to_toml).collect();
            let mut array: toml_edit::Array = items?.into_iter().collect();
            array.fmt();
            toml_edit::Value::Array(array)
        }
        Value::Object(m) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in m {
                t.insert(k, to_toml(v)?);
            }
            t.fmt();
            toml_edit::Value::InlineTable(t)
        }
    })
}
