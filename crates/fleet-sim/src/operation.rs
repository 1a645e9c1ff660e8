//! [`Operation`]: what a job does to each target device, its semantics in the simulator, and
//! how an IoT Central job's `data` or an IoT Hub JobRequest becomes one.

use fleet_core::model::{JobData, JobRequest, Operation as CentralOperation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::template::TemplateSpec;

/// What a job does to each target device (DESIGN.md section 6, "Operation semantics").
///
/// | operation | round trip | throttle | succeeds when | effect on the fleet |
/// |---|---|---|---|---|
/// | `property` | device | twin updates | the device acknowledges | desired value and `$version` on dispatch; reported value and `$version` on acknowledgement |
/// | `cloud_property` | none | none | at once, if the template has it | the stored value |
/// | `command` | device | direct methods | the device answers within the response timeout | none |
/// | `template_migration` | none | none | at once | the device's template |
/// | `update_twin` | hub only | job device operations | the hub applies the patch | tags and desired properties (`null` removes), desired `$version` |
/// | `device_method` | device | job device operations | the device answers within the response timeout | none |
/// | `job_document` | device | none | the device reports success | none |
/// | `manifest_migration` | none | none | at once | the device's deployment manifest |
/// | `multiple` | each entry's | each entry's | every entry succeeded | each entry's |
///
/// **Several operations in one job** (`multiple`; an IoT Central job whose `data` has several
/// entries). Decision, docs/semantics.md section 18: every entry is sent to the device at the
/// dispatch, in order; each takes its own throttle tokens and draws its own fate (latency, fault,
/// crash) from a stream of its own, keyed by (run, device, attempt, entry index), entry 0's
/// being that of a single-operation job. The device's attempt **succeeds only when every entry
/// succeeded**; its answer comes when the last entry's answer comes (never, if one never
/// answers); its reason is that of the first failed entry in order; the reason kept for a device
/// the run stops waiting for is the first entry's that has one (`offline`, `crashed`). Each
/// entry's dispatch effect is written as in a job of that entry alone (a cloud property the
/// template has is stored even when another entry fails: devices have no transactions);
/// reported values are written when the whole answer succeeds. A retry sends every entry again.
/// At most [`Operation::MAX_ENTRIES`] entries, none of them `multiple`.
///
/// Failures, by reason (see [`crate::Reason`]):
///
/// - **Template checks** (IoT Central operations, checked at dispatch, failing at once with
///   `not_in_template`): a property, cloud property or command that the device's template does
///   not define, or a device without a template; a value whose JSON type does not match the
///   property's schema fails with `schema_mismatch`. A template migration to a template that
///   is not among the fleet's templates makes the whole run fail (status `failed`) when it
///   starts. "Compatible" here means only that the target template exists: properties the new
///   template lacks are kept on the device, not deleted. A device method (IoT Hub) is not
///   checked by the hub; a device whose template lacks the method answers after its latency
///   with `not_in_template` (HTTP 501), a device without a template accepts every method.
/// - **Offline devices.** A property reaches an offline device when it next connects and is
///   acknowledged after the device's latency from then, if that happens before the run's
///   deadline or device timeout (else the device times out; one that never reconnects never
///   answers). A command or device method to an offline device fails at once with `offline`,
///   or, with a `connect_timeout_ms` above 0, waits up to that long for the device to connect
///   and fails with `offline` when it does not. A job document (AWS IoT job, hawkBit
///   deployment) is fetched by the device when it next connects, like a property: it runs it
///   after its latency from then and reports (an AWS job's in-progress timeout is the run's
///   device timeout).
/// - **Device faults** (only for operations that reach a device): with the behaviour's
///   probabilities, the device crashes, rejects or fails; one uniform draw per (device,
///   attempt) decides, in that order of the probability line, so raising one probability
///   turns successes into that fault without changing other devices' fates. A crash gives no
///   answer: a command or device method then times out after its response timeout (reason
///   `crashed`); a property is acknowledged after the device comes back from its crash
///   downtime (a device re-reads its desired properties when it reconnects).
/// - **Timeouts.** A command or device method whose answer would take longer than
///   `response_timeout_ms` times out (reason `response_timeout`) when that time has passed.
///   Disconnections while a device handles an operation are not modelled: once a device has
///   received an operation it answers after its latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Set a writable property (IoT Central property job).
    Property {
        /// The property name.
        name: String,
        /// The value (any JSON; must match the template's schema).
        value: Value,
    },
    /// Set a cloud property (IoT Central cloud property job).
    CloudProperty {
        /// The cloud property name.
        name: String,
        /// The value.
        value: Value,
    },
    /// Run a command (IoT Central command job).
    Command {
        /// The command name.
        name: String,
        /// The request payload.
        #[serde(default)]
        payload: Value,
        /// How long to wait for the device's answer once it has the command (default 30 s).
        #[serde(default = "default_response_timeout")]
        response_timeout_ms: i64,
        /// How long to wait for an offline device to connect (default 0: fail at once).
        #[serde(default)]
        connect_timeout_ms: i64,
    },
    /// Migrate devices to another template (IoT Central device template migration job).
    TemplateMigration {
        /// The target template id.
        template: String,
    },
    /// Patch device twins (IoT Hub `scheduleUpdateTwin`).
    UpdateTwin {
        /// Tags to set (`null` removes one).
        #[serde(default)]
        tags: Map<String, Value>,
        /// Desired properties to set (`null` removes one).
        #[serde(default)]
        desired: Map<String, Value>,
    },
    /// Deliver a job document (an AWS IoT job's `document`, a hawkBit rollout's deployment):
    /// the device fetches it once online, runs it, and reports success, failure or rejection.
    JobDocument {
        /// The document the device runs (any JSON; not interpreted by the simulator).
        #[serde(default)]
        document: Value,
    },
    /// Assign an IoT Edge deployment manifest (IoT Central device manifest migration job): at
    /// once, without a device round trip, like a template migration; the manifest is recorded
    /// on the device. The edge runtime's deployment of the manifest's modules is not modelled.
    ManifestMigration {
        /// The deployment manifest id.
        manifest: String,
    },
    /// Several operations, each sent to every target (see the type's documentation): the
    /// device succeeds only when every one succeeded.
    Multiple {
        /// The operations, in order (2 to [`Operation::MAX_ENTRIES`]; none `multiple`).
        operations: Vec<Operation>,
    },
    /// Invoke a direct method (IoT Hub `scheduleDeviceMethod`).
    DeviceMethod {
        /// The method name.
        name: String,
        /// The request payload.
        #[serde(default)]
        payload: Value,
        /// How long to wait for the device's answer once it has the request (default 30 s).
        #[serde(default = "default_response_timeout")]
        response_timeout_ms: i64,
        /// How long to wait for an offline device to connect (default 0: fail at once).
        #[serde(default)]
        connect_timeout_ms: i64,
    },
}

fn default_response_timeout() -> i64 {
    30_000
}

impl Operation {
    /// The most operations one job may hold ([`Operation::Multiple`]): a device's outcome
    /// records which of them wrote in one 32-bit word.
    pub const MAX_ENTRIES: usize = 32;

    /// A short word for the kind of operation (`property`, `command`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ManifestMigration { .. } => "manifest_migration",
            Self::Multiple { .. } => "multiple",
            Self::Property { .. } => "property",
            Self::CloudProperty { .. } => "cloud_property",
            Self::Command { .. } => "command",
            Self::TemplateMigration { .. } => "template_migration",
            Self::UpdateTwin { .. } => "update_twin",
            Self::DeviceMethod { .. } => "device_method",
            Self::JobDocument { .. } => "job_document",
        }
    }

    /// Checks names and timeouts; the error names the field (`response_timeout_ms`).
    pub fn validate(&self) -> Result<()> {
        let name_ok = |name: &str| {
            if name.is_empty() {
                Err(Error::at(
                    "name",
                    ErrorKind::InvalidValue("a name must not be empty".into()),
                ))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Property { name, .. } | Self::CloudProperty { name, .. } => name_ok(name),
            Self::Command {
                name,
                response_timeout_ms,
                connect_timeout_ms,
                ..
            }
            | Self::DeviceMethod {
                name,
                response_timeout_ms,
                connect_timeout_ms,
                ..
            } => {
                name_ok(name)?;
                if *response_timeout_ms <= 0 {
                    return Err(Error::at(
                        "response_timeout_ms",
                        ErrorKind::InvalidValue(format!("{response_timeout_ms}: must be positive")),
                    ));
                }
                if *connect_timeout_ms < 0 {
                    return Err(Error::at(
                        "connect_timeout_ms",
                        ErrorKind::NegativeDuration(*connect_timeout_ms as f64),
                    ));
                }
                Ok(())
            }
            Self::TemplateMigration { template } => {
                if template.is_empty() {
                    return Err(Error::at(
                        "template",
                        ErrorKind::InvalidValue("empty template id".into()),
                    ));
                }
                Ok(())
            }
            Self::JobDocument { .. } => Ok(()),
            Self::ManifestMigration { manifest } => {
                if manifest.is_empty() {
                    return Err(Error::at(
                        "manifest",
                        ErrorKind::InvalidValue("empty deployment manifest id".into()),
                    ));
                }
                Ok(())
            }
            Self::Multiple { operations } => Self::validate_entries(operations),
            Self::UpdateTwin { tags, desired } => {
                if tags.is_empty() && desired.is_empty() {
                    return Err(Error::at(
                        "desired",
                        ErrorKind::InvalidValue(
                            "a twin patch needs tags or desired properties".into(),
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The entries of a [`Operation::Multiple`]: 2 to [`Operation::MAX_ENTRIES`], none
    /// `multiple`, each valid (errors name `operations[i]`).
    fn validate_entries(operations: &[Operation]) -> Result<()> {
        let n = operations.len();
        if !(2..=Self::MAX_ENTRIES).contains(&n) {
            return Err(Error::at("operations", ErrorKind::DataEntries(n)));
        }
        for (i, op) in operations.iter().enumerate() {
            if matches!(op, Self::Multiple { .. }) {
                return Err(Error::at(
                    format!("operations[{i}]"),
                    ErrorKind::InvalidValue("operations do not nest".into()),
                ));
            }
            op.validate()
                .map_err(|e| e.within(&format!("operations[{i}]")))?;
        }
        Ok(())
    }

    /// The operation of an IoT Central job's (or scheduled job's) `data`, validated by the model
    /// first; `templates` are the fleet's device templates.
    ///
    /// One entry is that operation; several are an [`Operation::Multiple`] of them, in order
    /// (at most [`Operation::MAX_ENTRIES`], else [`ErrorKind::DataEntries`] at `data`; none is
    /// the model's error). Each entry's `target` (property, cloud property, command) or
    /// `template` (template migration) must be one of `templates`
    /// ([`ErrorKind::UnknownTemplate`] at `data[i].target` or `data[i].template`). A command gets
    /// the default timeouts: 30 s for the device's answer, none to connect (it fails at once on
    /// an offline device). A device manifest migration is an [`Operation::ManifestMigration`].
    /// An entry that the model refuses is [`ErrorKind::Engine`] with the model's path under
    /// `data[i]` (`data[0].value`).
    pub fn from_central(data: &[JobData], templates: &[TemplateSpec]) -> Result<Self> {
        if data.len() > Self::MAX_ENTRIES {
            return Err(Error::at("data", ErrorKind::DataEntries(data.len())));
        }
        let mut operations = data
            .iter()
            .enumerate()
            .map(|(i, entry)| Self::from_central_entry(i, entry, templates))
            .collect::<Result<Vec<_>>>()?;
        match operations.len() {
            0 => Err(Error::at("data", ErrorKind::DataEntries(0))),
            1 => Ok(operations.remove(0)),
            _ => Ok(Self::Multiple { operations }),
        }
    }

    /// The operation of entry `i` of an IoT Central job's `data`.
    fn from_central_entry(i: usize, entry: &JobData, templates: &[TemplateSpec]) -> Result<Self> {
        let at = |field: &str| format!("data[{i}].{field}");
        let op = entry
            .operation()
            .map_err(|e| Error::from(e.within(&format!("data[{i}]"))))?;
        let known = |id: &str, field: &str| {
            if templates.iter().any(|t| t.id == id) {
                Ok(())
            } else {
                Err(Error::at(
                    at(field),
                    ErrorKind::UnknownTemplate(id.to_string()),
                ))
            }
        };
        Ok(match op {
            CentralOperation::Property {
                target,
                path,
                value,
            } => {
                known(target, "target")?;
                Self::Property {
                    name: path.to_string(),
                    value: value.clone(),
                }
            }
            CentralOperation::CloudProperty {
                target,
                path,
                value,
            } => {
                known(target, "target")?;
                Self::CloudProperty {
                    name: path.to_string(),
                    value: value.clone(),
                }
            }
            CentralOperation::Command {
                target,
                path,
                value,
            } => {
                known(target, "target")?;
                Self::Command {
                    name: path.to_string(),
                    payload: value.cloned().unwrap_or(Value::Null),
                    response_timeout_ms: default_response_timeout(),
                    connect_timeout_ms: 0,
                }
            }
            CentralOperation::DeviceTemplateMigration { template } => {
                known(template, "template")?;
                Self::TemplateMigration {
                    template: template.to_string(),
                }
            }
            CentralOperation::DeviceManifestMigration { manifest } => Self::ManifestMigration {
                manifest: manifest.to_string(),
            },
        })
    }

    /// The operation of an IoT Hub JobRequest, validated by the model first: its
    /// `cloudToDeviceMethod` (a device method, with IoT Hub's default timeouts of 30 s to answer
    /// and 0 s to connect when absent) or its `updateTwin` (tags and desired properties). A
    /// request with neither is [`ErrorKind::NoOperation`] at `type`.
    pub fn from_hub_request(request: &JobRequest) -> Result<Self> {
        if let Some(method) = &request.cloud_to_device_method {
            return Ok(Self::DeviceMethod {
                name: method.method_name.clone().unwrap_or_default(),
                payload: method.payload.clone().unwrap_or(Value::Null),
                response_timeout_ms: method.response_timeout_s() * 1000,
                connect_timeout_ms: method.connect_timeout_s() * 1000,
            });
        }
        if let Some(patch) = &request.update_twin {
            return Ok(Self::UpdateTwin {
                tags: patch.tags.clone().unwrap_or_default(),
                desired: patch
                    .properties
                    .as_ref()
                    .and_then(|p| p.desired.clone())
                    .unwrap_or_default(),
            });
        }
        Err(Error::at(
            "type",
            ErrorKind::NoOperation(
                "an IoT Hub job needs `cloudToDeviceMethod` or `updateTwin`".into(),
            ),
        ))
    }

    /// The number of 4 KB chunks the payload of a command or method counts for in the
    /// direct-methods throttle (at least 1).
    pub(crate) fn chunks(payload: &Value) -> u32 {
        let bytes = payload.to_string().len();
        u32::try_from(bytes.div_ceil(4096).max(1)).unwrap_or(u32::MAX)
    }
}
