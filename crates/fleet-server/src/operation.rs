//! What a job does to each device: an IoT Central job's `data` or an IoT Hub JobRequest,
//! as the fleet-sim [`Operation`] the live fleet executes (the rules of `fleetsim run`).

use fleet_core::model::{JobData, JobRequest, Operation as CentralOperation};
use fleet_sim::{Operation, TemplateSpec};
use serde_json::Value;

use crate::api_error::ApiError;

/// The operation of an IoT Central job's `data` (validated by the model first).
///
/// **Decision:** one entry per job, as in scenarios: the simulator runs one operation per job.
/// A job with several entries is refused (400 naming `data`) rather than half-run.
pub(crate) fn central(data: &[JobData], templates: &[TemplateSpec]) -> Result<Operation, ApiError> {
    let [entry] = data else {
        return Err(ApiError::bad(
            "data",
            format!(
                "{} entries: fleetsim runs one operation per job; create one job per entry",
                data.len()
            ),
        ));
    };
    let op = entry
        .operation()
        .map_err(|e| ApiError::from(e.within("data[0]")))?;
    let known = |id: &str, field: &str| {
        if templates.iter().any(|t| t.id == id) {
            Ok(())
        } else {
            let names: Vec<&str> = templates.iter().map(|t| t.id.as_str()).collect();
            Err(ApiError::bad(
                field,
                format!("no device template {id:?} in this application (templates: {names:?})"),
            ))
        }
    };
    Ok(match op {
        CentralOperation::Property {
            target,
            path,
            value,
        } => {
            known(target, "data[0].target")?;
            Operation::Property {
                name: path.to_string(),
                value: value.clone(),
            }
        }
        CentralOperation::CloudProperty {
            target,
            path,
            value,
        } => {
            known(target, "data[0].target")?;
            Operation::CloudProperty {
                name: path.to_string(),
                value: value.clone(),
            }
        }
        CentralOperation::Command {
            target,
            path,
            value,
        } => {
            known(target, "data[0].target")?;
            Operation::Command {
                name: path.to_string(),
                payload: value.cloned().unwrap_or(Value::Null),
                response_timeout_ms: 30_000,
                connect_timeout_ms: 0,
            }
        }
        CentralOperation::DeviceTemplateMigration { template } => {
            known(template, "data[0].template")?;
            Operation::TemplateMigration {
                template: template.to_string(),
            }
        }
        CentralOperation::DeviceManifestMigration { .. } => {
            return Err(ApiError::bad(
                "data[0].type",
                "deviceManifestMigration (IoT Edge) is not simulated",
            ))
        }
    })
}

/// The operation of an IoT Hub JobRequest (validated by the model first).
pub(crate) fn hub(request: &JobRequest) -> Result<Operation, ApiError> {
    if let Some(method) = &request.cloud_to_device_method {
        return Ok(Operation::DeviceMethod {
            name: method.method_name.clone().unwrap_or_default(),
            payload: method.payload.clone().unwrap_or(Value::Null),
            response_timeout_ms: method.response_timeout_s() * 1000,
            connect_timeout_ms: method.connect_timeout_s() * 1000,
        });
    }
    if let Some(patch) = &request.update_twin {
        return Ok(Operation::UpdateTwin {
            tags: patch.tags.clone().unwrap_or_default(),
            desired: patch
                .properties
                .as_ref()
                .and_then(|p| p.desired.clone())
                .unwrap_or_default(),
        });
    }
    Err(ApiError::bad(
        "type",
        "an IoT Hub job needs cloudToDeviceMethod or updateTwin",
    ))
}
