//! Segments: the device attributes (`--by`) that split the results, read from the fleet.

use fleet_sim::Fleet;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// A device attribute that segments the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// The device template (`template` or `$template`).
    Template,
    /// A top-level tag (`tags.firmware`).
    Tag(String),
    /// Any other path of the device document (`tags.site.region`,
    /// `properties.reported.fwVersion`), read from the twin.
    Path(String),
}

impl Attribute {
    /// Parses `template`, `tags.NAME` or a document path.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        match s {
            "" => Err(Error::invalid("--by", "an empty attribute")),
            "template" | "$template" => Ok(Self::Template),
            _ => match s.strip_prefix("tags.") {
                Some(name) if !name.is_empty() && !name.contains('.') => {
                    Ok(Self::Tag(name.to_string()))
                }
                _ if s.split('.').any(str::is_empty) => Err(Error::invalid(
                    "--by",
                    format!("{s:?} is not a path (template, tags.NAME, properties.reported.NAME)"),
                )),
                _ => Ok(Self::Path(s.to_string())),
            },
        }
    }

    /// The name as given (`template`, `tags.firmware`).
    pub fn label(&self) -> String {
        match self {
            Self::Template => "template".into(),
            Self::Tag(t) => format!("tags.{t}"),
            Self::Path(p) => p.clone(),
        }
    }

    /// The value of device `index`, if it has one.
    pub(crate) fn value(&self, fleet: &Fleet, index: u32) -> Option<Value> {
        match self {
            Self::Template => fleet.template(index).map(|t| Value::String(t.id.clone())),
            Self::Tag(t) => fleet.tag(index, t).cloned(),
            Self::Path(p) => {
                let pointer = format!("/{}", p.replace('.', "/"));
                fleet.twin(index).pointer(&pointer).cloned()
            }
        }
    }

    /// The query path of the attribute.
    fn query_path(&self) -> String {
        match self {
            Self::Template => "$template".into(),
            other => other.label(),
        }
    }
}

/// A literal of the query language for a value, or `None` for objects and arrays.
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(format!(
            "'{}'",
            s.replace('\\', "\\\\").replace('\'', "\\'")
        )),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".into()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// A TOML string.
pub(crate) fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The TOML inline table of the selector of one segment, `None` for the empty key.
pub(crate) fn selector(by: &[Attribute], key: &[Option<Value>]) -> Result<Option<String>> {
    let mut parts = Vec::new();
    let mut tags = Vec::new();
    let mut query = Vec::new();
    for (a, v) in by.iter().zip(key) {
        match (a, v) {
            (Attribute::Template, Some(Value::String(t))) => {
                parts.push(format!("template = {}", toml_string(t)));
            }
            (
                Attribute::Tag(name),
                Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))),
            ) => {
                let value = toml::Value::try_from(v.clone())
                    .map_err(|e| Error::invalid("--by", e.to_string()))?;
                tags.push(format!("{} = {value}", toml_key(name)));
            }
            (a, None) => query.push(format!("NOT IS_DEFINED({})", a.query_path())),
            (a, Some(v)) => match literal(v) {
                Some(l) => query.push(format!("{} = {l}", a.query_path())),
                None => {
                    return Err(Error::invalid(
                        "--by",
                        format!(
                            "{} holds objects or arrays, which a selector cannot compare: \
                             segment by a field inside it",
                            a.label()
                        ),
                    ))
                }
            },
        }
    }
    if !tags.is_empty() {
        parts.push(format!("tags = {{ {} }}", tags.join(", ")));
    }
    if !query.is_empty() {
        parts.push(format!("query = {}", toml_string(&query.join(" AND "))));
    }
    Ok((!parts.is_empty()).then(|| format!("{{ {} }}", parts.join(", "))))
}

/// A TOML key, quoted when it must be.
fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        toml_string(k)
    }
}

/// A name for people: `template = dtmi:x;1, tags.firmware = 1.2`.
pub(crate) fn label(by: &[Attribute], key: &[Option<Value>]) -> String {
    by.iter()
        .zip(key)
        .map(|(a, v)| match v {
            Some(Value::String(s)) => format!("{} = {s}", a.label()),
            Some(v) => format!("{} = {v}", a.label()),
            None => format!("{} missing", a.label()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_parse_and_selectors_read_back() {
        assert_eq!(Attribute::parse("template").unwrap(), Attribute::Template);
        assert_eq!(
            Attribute::parse("tags.firmware").unwrap(),
            Attribute::Tag("firmware".into())
        );
        assert_eq!(
            Attribute::parse("properties.reported.fw").unwrap(),
            Attribute::Path("properties.reported.fw".into())
        );
        assert_eq!(
            Attribute::parse("tags..x").unwrap_err().field(),
            Some("--by")
        );
        let by = [
            Attribute::Template,
            Attribute::Tag("firmware".into()),
            Attribute::Path("properties.reported.fw".into()),
        ];
        let key = [Some(json!("dtmi:x;1")), Some(json!("1.2")), None];
        let s = selector(&by, &key).unwrap().unwrap();
        let parsed: fleet_sim::Selector = toml::from_str::<toml::Table>(&format!("s = {s}"))
            .unwrap()["s"]
            .clone()
            .try_into()
            .unwrap();
        assert_eq!(parsed.template.as_deref(), Some("dtmi:x;1"));
        assert_eq!(parsed.tags["firmware"], json!("1.2"));
        assert!(parsed.query.is_some());
        assert_eq!(
            label(&by, &key),
            "template = dtmi:x;1, tags.firmware = 1.2, properties.reported.fw missing"
        );
        assert!(selector(&by[..1], &[Some(json!({"a": 1}))]).is_err());
        assert_eq!(selector(&[], &[]).unwrap(), None);
    }
}
