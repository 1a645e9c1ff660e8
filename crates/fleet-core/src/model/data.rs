//! The entries of an IoT Central job's `data` array: what the job does to each device.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::model::nullable::present;
use crate::model::word::{vocabulary, Word};

vocabulary! {
    /// The `type` of a `data` entry. The specification's words are written; the how-to's
    /// `...JobData` words are read too.
    pub enum DataType {
        /// `property` (also read: `PropertyJobData`): set a writable device property.
        Property = "property" | "PropertyJobData",
        /// `cloudProperty` (also read: `CloudPropertyJobData`): set a cloud property.
        CloudProperty = "cloudProperty" | "CloudPropertyJobData",
        /// `command` (also read: `CommandJobData`): call a device command.
        Command = "command" | "CommandJobData",
        /// `deviceTemplateMigration` (also read: `DeviceTemplateMigrationJobData`): move devices
        /// to another device template.
        DeviceTemplateMigration = "deviceTemplateMigration" | "DeviceTemplateMigrationJobData",
        /// `deviceManifestMigration` (also read: `DeviceManifestMigrationJobData`, preview API):
        /// move IoT Edge devices to another deployment manifest.
        DeviceManifestMigration = "deviceManifestMigration" | "DeviceManifestMigrationJobData",
    }
}

impl DataType {
    /// Whether entries of this type carry `target`, `path` and `value` (property, cloud
    /// property, command) rather than a migration's `template` or `manifest`.
    pub fn is_capability(self) -> bool {
        matches!(self, Self::Property | Self::CloudProperty | Self::Command)
    }
}

/// One entry of a job's `data` array, as written on the wire.
///
/// The entry is flat: every field any type uses is an `Option`, and the `type` says which ones
/// belong. Parsing checks the field names and JSON types; [`JobData::operation`] (called by the
/// jobs' validation) checks that the fields present are the ones the type takes and that the
/// required ones are there. This keeps the spelling and every field of the input for the round
/// trip, and gives each error the exact path of its field.
///
/// | `type` | fields |
/// |---|---|
/// | `property`, `cloudProperty` | `target`, `path`, `value` (all required; `value` may be any JSON, `null` included) |
/// | `command` | `target`, `path` required; `value` (the request payload) optional |
/// | `deviceTemplateMigration` | `template` |
/// | `deviceManifestMigration` | `manifest` |
///
/// `value` keeps absent apart from `null`: `None` is no field, `Some(Value::Null)` is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobData {
    /// The entry's type, with the spelling it was read in.
    #[serde(rename = "type")]
    pub kind: Word<DataType>,
    /// The device template (model id, `dtmi:...`) of the devices the entry applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The name of the property, cloud property or command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The value to set, or the command's request payload: any JSON, `null` included.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
    /// The device template a `deviceTemplateMigration` moves devices to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The deployment manifest a `deviceManifestMigration` moves devices to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

/// A validated view of a [`JobData`] entry: the operation it asks of each device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operation<'a> {
    /// Set writable property `path` of devices of template `target` to `value`.
    Property {
        /// Device template.
        target: &'a str,
        /// Property name.
        path: &'a str,
        /// The value (any JSON, `null` included).
        value: &'a Value,
    },
    /// Set cloud property `path` of devices of template `target` to `value`.
    CloudProperty {
        /// Device template.
        target: &'a str,
        /// Cloud property name.
        path: &'a str,
        /// The value (any JSON, `null` included).
        value: &'a Value,
    },
    /// Call command `path` on devices of template `target`.
    Command {
        /// Device template.
        target: &'a str,
        /// Command name.
        path: &'a str,
        /// The request payload, if any.
        value: Option<&'a Value>,
    },
    /// Move devices to device template `template`.
    DeviceTemplateMigration {
        /// The new template.
        template: &'a str,
    },
    /// Move IoT Edge devices to deployment manifest `manifest`.
    DeviceManifestMigration {
        /// The new manifest.
        manifest: &'a str,
    },
}

impl JobData {
    fn empty(kind: DataType) -> Self {
        Self {
            kind: Word::new(kind),
            target: None,
            path: None,
            value: None,
            template: None,
            manifest: None,
        }
    }

    fn capability(kind: DataType, target: String, path: String, value: Option<Value>) -> Self {
        Self {
            target: Some(target),
            path: Some(path),
            value,
            ..Self::empty(kind)
        }
    }

    /// A `property` entry.
    pub fn property(target: impl Into<String>, path: impl Into<String>, value: Value) -> Self {
        Self::capability(DataType::Property, target.into(), path.into(), Some(value))
    }

    /// A `cloudProperty` entry.
    pub fn cloud_property(
        target: impl Into<String>,
        path: impl Into<String>,
        value: Value,
    ) -> Self {
        Self::capability(
            DataType::CloudProperty,
            target.into(),
            path.into(),
            Some(value),
        )
    }

    /// A `command` entry, with its request payload if it has one.
    pub fn command(
        target: impl Into<String>,
        path: impl Into<String>,
        value: Option<Value>,
    ) -> Self {
        Self::capability(DataType::Command, target.into(), path.into(), value)
    }

    /// A `deviceTemplateMigration` entry.
    pub fn device_template_migration(template: impl Into<String>) -> Self {
        Self {
            template: Some(template.into()),
            ..Self::empty(DataType::DeviceTemplateMigration)
        }
    }

    /// A `deviceManifestMigration` entry.
    pub fn device_manifest_migration(manifest: impl Into<String>) -> Self {
        Self {
            manifest: Some(manifest.into()),
            ..Self::empty(DataType::DeviceManifestMigration)
        }
    }

    /// The entry's type.
    pub fn data_type(&self) -> DataType {
        self.kind.value()
    }

    /// The operation this entry asks for, after checking that it has the fields its type
    /// requires (non-empty strings) and none that its type does not take.
    ///
    /// Error paths are relative to the entry (`template`, `target`); a job's validation prefixes
    /// them with `data[i]`.
    pub fn operation(&self) -> Result<Operation<'_>> {
        let kind = self.data_type();
        let allowed: &[&'static str] = match kind {
            DataType::Property | DataType::CloudProperty | DataType::Command => {
                &["target", "path", "value"]
            }
            DataType::DeviceTemplateMigration => &["template"],
            DataType::DeviceManifestMigration => &["manifest"],
        };
        let present = [
            ("target", self.target.is_some()),
            ("path", self.path.is_some()),
            ("value", self.value.is_some()),
            ("template", self.template.is_some()),
            ("manifest", self.manifest.is_some()),
        ];
        if let Some((name, _)) = present
            .iter()
            .find(|(name, is)| *is && !allowed.contains(name))
        {
            return Err(Error::at(*name, ErrorKind::UnexpectedField(name)));
        }
        Ok(match kind {
            DataType::Property | DataType::CloudProperty | DataType::Command => {
                let target = required("target", self.target.as_deref())?;
                let path = required("path", self.path.as_deref())?;
                match kind {
                    DataType::Command => Operation::Command {
                        target,
                        path,
                        value: self.value.as_ref(),
                    },
                    _ => {
                        let value = self
                            .value
                            .as_ref()
                            .ok_or_else(|| Error::at("value", ErrorKind::MissingField("value")))?;
                        if kind == DataType::Property {
                            Operation::Property {
                                target,
                                path,
                                value,
                            }
                        } else {
                            Operation::CloudProperty {
                                target,
                                path,
                                value,
                            }
                        }
                    }
                }
            }
            DataType::DeviceTemplateMigration => Operation::DeviceTemplateMigration {
                template: required("template", self.template.as_deref())?,
            },
            DataType::DeviceManifestMigration => Operation::DeviceManifestMigration {
                manifest: required("manifest", self.manifest.as_deref())?,
            },
        })
    }
}

/// A required string field: present and not empty (nor only whitespace).
fn required<'a>(name: &'static str, value: Option<&'a str>) -> Result<&'a str> {
    match value {
        None => Err(Error::at(name, ErrorKind::MissingField(name))),
        Some(v) if v.trim().is_empty() => Err(Error::at(
            name,
            ErrorKind::InvalidValue(format!("`{name}` must not be empty")),
        )),
        Some(v) => Ok(v),
    }
}
