//! Device templates (DTDL-like capability models).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// A device template: what a device of this model can be asked to do.
///
/// ```
/// use fleet_sim::TemplateSpec;
///
/// let t: TemplateSpec = serde_json::from_str(r#"{
///     "id": "dtmi:contoso:thermostat;1",
///     "properties": [{"name": "targetTemperature", "schema": "double"}],
///     "commands": [{"name": "reboot"}],
///     "cloud_properties": [{"name": "customerName", "schema": "string"}]
/// }"#)?;
/// t.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct TemplateSpec {
    /// The template (model) id, such as `dtmi:contoso:thermostat;1`.
    pub id: String,
    /// Writable properties: a job sets them as desired properties and the device acknowledges.
    #[serde(default)]
    pub properties: Vec<PropertySpec>,
    /// Commands (direct methods) the device implements.
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
    /// Cloud properties: stored by the application, never sent to the device.
    #[serde(default)]
    pub cloud_properties: Vec<PropertySpec>,
}

/// A property of a template: a name and a value schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct PropertySpec {
    /// The property name.
    pub name: String,
    /// The type its values must have.
    #[serde(default)]
    pub schema: Schema,
}

/// A command of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct CommandSpec {
    /// The command name.
    pub name: String,
}

/// The type of a property value (the DTDL primitive schemas, plus `object` and `any`).
///
/// A value matches when its JSON type fits: `boolean` a JSON boolean; `integer` and `long` a
/// number without fraction; `double` and `float` any number; `string`, `date`, `date_time`,
/// `time` and `duration` a string (formats are not checked); `object` an object; `any` anything.
/// `null` matches every schema (it clears the property).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schema {
    /// JSON boolean.
    Boolean,
    /// Whole number (`21`, or `21.0`: JSON does not tell them apart).
    Integer,
    /// Whole number (`21`, or `21.0`).
    Long,
    /// Any number.
    Double,
    /// Any number.
    Float,
    /// String.
    String,
    /// String (ISO 8601 date, not checked).
    Date,
    /// String (ISO 8601 date-time, not checked).
    DateTime,
    /// String (ISO 8601 time, not checked).
    Time,
    /// String (ISO 8601 duration, not checked).
    Duration,
    /// JSON object.
    Object,
    /// Any JSON value.
    #[default]
    Any,
}

impl Schema {
    /// Whether `value` fits this schema (see the type's documentation).
    pub fn matches(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) | (Self::Any, _) => true,
            (Self::Boolean, Value::Bool(_)) => true,
            // JSON does not tell 21 from 21.0: a whole number written with a fraction is an
            // integer (as JSON Schema's `integer` says).
            (Self::Integer | Self::Long, Value::Number(n)) => {
                n.is_i64()
                    || n.is_u64()
                    || n.as_f64().is_some_and(|f| {
                        f.fract() == 0.0
                            && (i64::MIN as f64..18_446_744_073_709_551_616.0).contains(&f)
                    })
            }
            (Self::Double | Self::Float, Value::Number(_)) => true,
            (
                Self::String | Self::Date | Self::DateTime | Self::Time | Self::Duration,
                Value::String(_),
            ) => true,
            (Self::Object, Value::Object(_)) => true,
            _ => false,
        }
    }
}

impl TemplateSpec {
    /// Checks that the id is not empty and that no two properties, commands or cloud
    /// properties share a name. The error names the field (`properties[1].name`).
    pub fn validate(&self) -> Result<()> {
        if self.id.trim().is_empty() {
            return Err(Error::at(
                "id",
                ErrorKind::InvalidValue("a template id must not be empty".into()),
            ));
        }
        let lists: [(&str, Vec<&str>); 3] = [
            (
                "properties",
                self.properties.iter().map(|p| p.name.as_str()).collect(),
            ),
            (
                "commands",
                self.commands.iter().map(|c| c.name.as_str()).collect(),
            ),
            (
                "cloud_properties",
                self.cloud_properties
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect(),
            ),
        ];
        for (list, names) in lists {
            for (i, name) in names.iter().enumerate() {
                if name.is_empty() {
                    return Err(Error::at(
                        format!("{list}[{i}].name"),
                        ErrorKind::InvalidValue("a name must not be empty".into()),
                    ));
                }
                if names[..i].contains(name) {
                    return Err(Error::at(
                        format!("{list}[{i}].name"),
                        ErrorKind::Duplicate(name.to_string()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The schema of writable property `name`, if the template has it.
    pub fn property(&self, name: &str) -> Option<Schema> {
        self.properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.schema)
    }

    /// The schema of cloud property `name`, if the template has it.
    pub fn cloud_property(&self, name: &str) -> Option<Schema> {
        self.cloud_properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.schema)
    }

    /// Whether the template has command `name`.
    pub fn has_command(&self, name: &str) -> bool {
        self.commands.iter().any(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_match_json_types() {
        assert!(Schema::Integer.matches(&json!(3)));
        assert!(!Schema::Integer.matches(&json!(3.5)));
        // A whole number written with a fraction is an integer.
        assert!(Schema::Integer.matches(&json!(3.0)));
        assert!(Schema::Long.matches(&json!(-4e3)));
        assert!(!Schema::Long.matches(&json!(1e300)));
        assert!(Schema::Double.matches(&json!(3)));
        assert!(Schema::Boolean.matches(&json!(null)));
        assert!(!Schema::String.matches(&json!(true)));
        assert!(Schema::Any.matches(&json!({"a": 1})));
    }

    #[test]
    fn duplicate_names_are_refused() {
        let t = TemplateSpec {
            id: "dtmi:x;1".into(),
            commands: vec![
                CommandSpec { name: "a".into() },
                CommandSpec { name: "a".into() },
            ],
            ..TemplateSpec::default()
        };
        assert_eq!(t.validate().unwrap_err().field(), Some("commands[1].name"));
    }
}
