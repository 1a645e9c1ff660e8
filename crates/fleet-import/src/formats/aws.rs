//! AWS IoT: the things of `aws iot search-index` (`ThingDocument`) and `aws iot list-things`
//! (`ThingAttribute`).
//!
//! Used: `thingName` (the id), `thingTypeName` (template), `attributes` (tags, one per
//! attribute), `thingGroupNames` (the tag `thingGroups`: an object with `true` under each group
//! name, so that `tags.thingGroups.[[name]] = true` selects a group's things), `shadow` (a
//! JSON string: the classic shadow's `desired` and `reported` become properties; a named
//! shadow `N`'s become the properties `N`), `connectivity.connected`; kept:
//! `connectivity.timestamp` (as the last activity); ignored: `thingId`, `thingArn`,
//! `version`, `deviceDefender`, `connectivity.disconnectReason`, and the shadow's `metadata`,
//! `version`, `hasDelta` and `delta`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::record::{self, Json, Parsed, Record, Section};

/// Named values of a shadow, in name order.
type Values = Vec<(String, Value)>;
use crate::stream::RawRecord;

/// A thing.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Thing<'a> {
    #[serde(borrow)]
    thing_name: Cow<'a, str>,
    #[serde(default, borrow)]
    thing_type_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    attributes: Section<'a>,
    #[serde(default)]
    thing_group_names: Option<Vec<String>>,
    #[serde(default)]
    shadow: Option<String>,
    #[serde(default)]
    connectivity: Option<Connectivity>,
}

#[derive(Deserialize)]
struct Connectivity {
    #[serde(default)]
    connected: Option<bool>,
    #[serde(default)]
    timestamp: Option<i64>,
}

/// The indexed shadow: the classic shadow's sections at the top (or under `state`, as
/// `get-thing-shadow` writes them) and the named shadows under `name`.
#[derive(Deserialize, Default)]
struct Shadow {
    #[serde(default)]
    desired: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    reported: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    state: Option<State>,
    #[serde(default)]
    name: BTreeMap<String, Named>,
}

#[derive(Deserialize, Default)]
struct State {
    #[serde(default)]
    desired: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    reported: Option<BTreeMap<String, Value>>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    desired: Option<Value>,
    #[serde(default)]
    reported: Option<Value>,
}

/// One thing.
pub(crate) fn thing(raw: RawRecord<'_>) -> Result<Parsed<'_>> {
    let t: Thing = record::parse(raw)?;
    let mut r = Record::new(t.thing_name);
    r.template = record::non_empty(t.thing_type_name);
    r.tags = t.attributes.entries();
    if let Some(groups) = t.thing_group_names {
        if r.tags.iter().any(|(name, _)| name == "thingGroups") {
            return Err(Error::invalid(
                "attributes.thingGroups",
                "an attribute named `thingGroups` would hide the thing's groups (the tag \
                 `thingGroups`)",
            ));
        }
        let groups: Map<String, Value> = groups.into_iter().map(|g| (g, true.into())).collect();
        r.tags
            .push(("thingGroups".into(), Json::Made(Value::Object(groups))));
    }
    if let Some(text) = t.shadow {
        let (desired, reported) = shadow(&text).map_err(|e| e.with_field("shadow"))?;
        r.desired = record::made(desired);
        r.reported = record::made(reported);
    }
    if let Some(c) = t.connectivity {
        r.connected = c.connected;
        r.last_activity = match c.timestamp {
            Some(ms) => Some(Cow::Owned(record::epoch_ms("connectivity.timestamp", ms)?)),
            None => None,
        };
    }
    Ok(Parsed::Device(Box::new(r)))
}

/// The desired and reported properties of a shadow document.
fn shadow(text: &str) -> Result<(Values, Values)> {
    let s: Shadow = serde_json::from_str(text)
        .map_err(|e| Error::invalid("", format!("the shadow is not a shadow document: {e}")))?;
    let state = s.state.unwrap_or_default();
    let flat = |a: Option<BTreeMap<String, Value>>, b: Option<BTreeMap<String, Value>>| -> Values {
        a.into_iter().chain(b).flatten().collect()
    };
    let mut desired = flat(s.desired, state.desired);
    let mut reported = flat(s.reported, state.reported);
    for (name, named) in s.name {
        for (list, value, section) in [
            (&mut desired, named.desired, "desired"),
            (&mut reported, named.reported, "reported"),
        ] {
            let Some(value) = value else { continue };
            if list.iter().any(|(n, _)| *n == name) {
                return Err(Error::invalid(
                    format!("name.{name}"),
                    format!(
                        "the named shadow {name:?} has the name of a classic shadow {section} \
                         property"
                    ),
                ));
            }
            list.push((name.clone(), value));
        }
    }
    Ok((desired, reported))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shadows_become_properties() {
        let (d, r) = shadow(
            r#"{"desired":{"on":true},"reported":{"on":false},"metadata":{},"version":3,"hasDelta":true,
                "name":{"cfg":{"desired":{"rate":5},"reported":{"rate":4},"version":9}}}"#,
        )
        .unwrap();
        assert_eq!(
            d,
            [
                ("on".to_string(), json!(true)),
                ("cfg".into(), json!({"rate": 5}))
            ]
        );
        assert_eq!(
            r,
            [
                ("on".to_string(), json!(false)),
                ("cfg".into(), json!({"rate": 4}))
            ]
        );
        let (d, _) = shadow(r#"{"state":{"desired":{"x":1}}}"#).unwrap();
        assert_eq!(d, [("x".to_string(), json!(1))]);
        let e = shadow(r#"{"desired":{"cfg":1},"name":{"cfg":{"desired":{}}}}"#).unwrap_err();
        assert_eq!(e.field(), Some("name.cfg"));
        let e = shadow("{\"desired\":").unwrap_err();
        assert!(e.to_string().contains("not a shadow document"), "{e}");
    }
}
