//! IoT Central: the devices of `GET /api/devices` (api-version 2022-07-31) and, optionally,
//! each device's `GET /api/devices/{id}/properties`.
//!
//! Device fields used: `id`, `template`, `simulated`, `provisioned`, `enabled`; kept:
//! `displayName` (when it differs from the id); ignored: `etag`, `organizations`,
//! `deploymentManifest`. The list has no connection state.
//!
//! A properties document holds the device's reported property values at the top, and under
//! `$metadata` each property's `desiredValue` when it is writable (with `desiredVersion`,
//! `ackCode`, `ackVersion`, `ackDescription`, `lastUpdateTime`: ignored). A component is an
//! object with its own properties and its own `$metadata`. Each top-level value becomes a
//! reported property (a component: the object of its values, without its `$metadata`), each
//! `desiredValue` a desired property (a component's: the object of its properties' desired
//! values, under the component's name).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::record::{self, Parsed, Record};
use crate::stream::RawRecord;

/// A device of the list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Device<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    display_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    template: Option<Cow<'a, str>>,
    #[serde(default)]
    simulated: Option<bool>,
    #[serde(default)]
    provisioned: Option<bool>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// One device of a page.
pub(crate) fn device(raw: RawRecord<'_>) -> Result<Parsed<'_>> {
    let d: Device = record::parse(raw)?;
    let mut r = Record::new(d.id);
    r.display_name = d.display_name.filter(|n| *n != r.id);
    r.template = record::non_empty(d.template);
    r.simulated = d.simulated.unwrap_or(false);
    r.provisioned = d.provisioned.unwrap_or(true);
    r.enabled = d.enabled.unwrap_or(true);
    Ok(Parsed::Device(Box::new(r)))
}

/// A device's properties document as (desired, reported) properties.
pub(crate) type Properties = (Vec<(String, Value)>, Vec<(String, Value)>);

/// Reads a properties document (see the module documentation).
pub(crate) fn properties(doc: Value) -> Result<Properties> {
    let Value::Object(mut doc) = doc else {
        return Err(Error::invalid(
            "",
            "a device's properties must be a JSON object",
        ));
    };
    let metadata = doc.remove("$metadata");
    let mut desired = desired_values(metadata.as_ref(), "$metadata")?;
    let mut reported = Vec::new();
    for (name, value) in doc {
        if name.starts_with('$') {
            continue;
        }
        let value = match value {
            Value::Object(mut component) if component.contains_key("$metadata") => {
                let inner = component.remove("$metadata");
                let wanted = desired_values(inner.as_ref(), &format!("{name}.$metadata"))?;
                if !wanted.is_empty() {
                    desired.push((name.clone(), Value::Object(wanted.into_iter().collect())));
                }
                if component.is_empty() {
                    continue;
                }
                Value::Object(component)
            }
            other => other,
        };
        reported.push((name, value));
    }
    Ok((desired, reported))
}

/// The `desiredValue` of each property of a `$metadata` object.
fn desired_values(metadata: Option<&Value>, field: &str) -> Result<Vec<(String, Value)>> {
    let entries = match metadata {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(Error::invalid(field, "expected an object")),
    };
    Ok(entries
        .iter()
        .filter_map(|(name, m)| Some((name.clone(), m.get("desiredValue")?.clone())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_split_into_desired_and_reported() {
        let (desired, reported) = properties(json!({
            "firmware": "1.2",
            "targetTemperature": 21,
            "thermostat1": {
                "maxTemp": 30,
                "$metadata": {"targetTemperature": {"desiredValue": 22, "desiredVersion": 3}}
            },
            "module": {"$metadata": {"SendData": {"desiredValue": true}}},
            "location": {"lat": 47.6, "lon": -122.3},
            "$metadata": {
                "targetTemperature": {"desiredValue": 21.5, "desiredVersion": 4, "ackCode": 200},
                "firmware": {"lastUpdateTime": "2022-01-01T00:00:00Z"}
            }
        }))
        .unwrap();
        assert_eq!(
            desired,
            [
                ("targetTemperature".to_string(), json!(21.5)),
                ("module".into(), json!({"SendData": true})),
                ("thermostat1".into(), json!({"targetTemperature": 22}))
            ]
        );
        assert_eq!(
            reported,
            [
                ("firmware".to_string(), json!("1.2")),
                ("location".into(), json!({"lat": 47.6, "lon": -122.3})),
                ("targetTemperature".into(), json!(21)),
                ("thermostat1".into(), json!({"maxTemp": 30}))
            ]
        );
        assert!(properties(json!([1])).is_err());
        let e = properties(json!({"$metadata": 3})).unwrap_err();
        assert_eq!(e.field(), Some("$metadata"));
    }
}
