//! A fleet's device template as IoT Central shows it (`GET /api/deviceTemplates`): the
//! DTDL-like document of the device templates API.
//!
//! ```json
//! {"@id": "dtmi:contoso:thermostat;1", "@type": ["ModelDefinition", "DeviceModel"],
//!  "displayName": "dtmi:contoso:thermostat;1", "etag": "\"~...\"",
//!  "capabilityModel": {"@id": "dtmi:contoso:thermostat:capabilityModel;1",
//!    "@type": "Interface", "displayName": "dtmi:contoso:thermostat;1", "contents": [
//!      {"@type": "Property", "name": "targetTemperature", "displayName": "targetTemperature",
//!       "schema": "double", "writable": true},
//!      {"@type": ["Property", "Cloud"], "name": "CustomerName", ..., "schema": "string"},
//!      {"@type": "Command", "name": "reboot", "displayName": "reboot",
//!       "commandType": "synchronous"}]}}
//! ```
//!
//! A fleet template has an id, writable properties, cloud properties and commands, nothing
//! more: its display name is its id, its capability model's id is the template's with
//! `:capabilityModel` before the version, and schemas are DTDL's primitive names (`object`
//! is an `Object` without declared fields; fleetsim's `any`, which DTDL lacks, is shown as
//! `"any"`). The etag is a hash of the template, so it changes only with the scenario.

use base64::Engine;
use fleet_sim::{Schema, TemplateSpec};
use serde_json::{json, Value};

/// The IoT Central document of template `t`.
pub(crate) fn template_doc(t: &TemplateSpec) -> Value {
    let mut contents = Vec::new();
    for p in &t.properties {
        contents.push(
            json!({"@type": "Property", "name": p.name, "displayName": p.name,
                             "schema": schema(p.schema), "writable": true}),
        );
    }
    for p in &t.cloud_properties {
        contents.push(json!({"@type": ["Property", "Cloud"], "name": p.name,
                             "displayName": p.name, "schema": schema(p.schema)}));
    }
    for c in &t.commands {
        contents.push(
            json!({"@type": "Command", "name": c.name, "displayName": c.name,
                             "commandType": "synchronous"}),
        );
    }
    let text = serde_json::to_string(t).unwrap_or_default();
    let hash = crate::world::fnv(text.as_bytes()).to_be_bytes();
    let etag = format!(
        "\"~{}\"",
        base64::engine::general_purpose::STANDARD.encode(hash)
    );
    json!({
        "@id": t.id,
        "@type": ["ModelDefinition", "DeviceModel"],
        "displayName": t.id,
        "etag": etag,
        "capabilityModel": {
            "@id": capability_model_id(&t.id),
            "@type": "Interface",
            "displayName": t.id,
            "contents": contents,
        },
    })
}

/// `dtmi:a:b;1` -> `dtmi:a:b:capabilityModel;1`; an id without a version gets the suffix.
fn capability_model_id(id: &str) -> String {
    match id.rsplit_once(';') {
        Some((base, version)) => format!("{base}:capabilityModel;{version}"),
        None => format!("{id}:capabilityModel"),
    }
}

fn schema(s: Schema) -> Value {
    Value::from(match s {
        Schema::Boolean => "boolean",
        Schema::Integer => "integer",
        Schema::Long => "long",
        Schema::Double => "double",
        Schema::Float => "float",
        Schema::String => "string",
        Schema::Date => "date",
        Schema::DateTime => "dateTime",
        Schema::Time => "time",
        Schema::Duration => "duration",
        Schema::Object => return json!({"@type": "Object", "fields": []}),
        Schema::Any => "any",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_shows_its_capabilities() {
        let t: TemplateSpec = serde_json::from_value(json!({
            "id": "dtmi:contoso:thermostat;1",
            "properties": [{"name": "targetTemperature", "schema": "double"},
                           {"name": "when", "schema": "date_time"}],
            "cloud_properties": [{"name": "CustomerName", "schema": "string"}],
            "commands": [{"name": "reboot"}]
        }))
        .unwrap();
        let doc = template_doc(&t);
        assert_eq!(doc["@id"], "dtmi:contoso:thermostat;1");
        assert_eq!(doc["@type"], json!(["ModelDefinition", "DeviceModel"]));
        let model = &doc["capabilityModel"];
        assert_eq!(model["@id"], "dtmi:contoso:thermostat:capabilityModel;1");
        let contents = model["contents"].as_array().unwrap();
        assert_eq!(contents.len(), 4);
        assert_eq!(contents[0]["writable"], true);
        assert_eq!(contents[1]["schema"], "dateTime");
        assert_eq!(contents[2]["@type"], json!(["Property", "Cloud"]));
        assert_eq!(contents[3]["@type"], "Command");
        let etag = doc["etag"].as_str().unwrap();
        assert!(etag.starts_with("\"~") && etag.ends_with('"'), "{etag}");
        assert_eq!(capability_model_id("urn:x"), "urn:x:capabilityModel");
    }
}
