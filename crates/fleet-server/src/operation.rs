//! What a job does to each device, for the REST APIs: fleet-sim converts an IoT Central job's
//! `data` ([`Operation::from_central`]) or an IoT Hub JobRequest
//! ([`Operation::from_hub_request`]), the one conversion that scenarios use too; this module
//! words its errors as 400s of the API.

use fleet_core::model::{DataType, JobData, JobRequest};
use fleet_sim::{ErrorKind, Operation, TemplateSpec};

use crate::api_error::ApiError;

/// The operation of an IoT Central job's `data` (validated by the model first); `templates` are
/// the application's. Several entries are one [`Operation::Multiple`]; more than
/// [`Operation::MAX_ENTRIES`] entries or a template that is not among `templates` is a 400
/// naming the field (see [`Operation::from_central`]).
pub(crate) fn central(data: &[JobData], templates: &[TemplateSpec]) -> Result<Operation, ApiError> {
    Operation::from_central(data, templates).map_err(|e| error(&e, templates))
}

/// Whether IoT Central's api-version `version` has every entry type of `data`: a
/// `deviceManifestMigration` only in the preview versions ("The preview version of the API
/// includes DeviceManifestMigrationJobData", the jobs how-to); else a 400 at the entry's `type`.
pub(crate) fn served_in(data: &[JobData], version: &str) -> Result<(), ApiError> {
    if version.ends_with("preview") {
        return Ok(());
    }
    match data
        .iter()
        .position(|d| d.kind.value() == DataType::DeviceManifestMigration)
    {
        Some(i) => Err(ApiError::bad(
            &format!("data[{i}].type"),
            format!(
                "deviceManifestMigration is served by the preview api-versions only, not \
                 {version}"
            ),
        )),
        None => Ok(()),
    }
}

/// The operation of an IoT Hub JobRequest (validated by the model first).
pub(crate) fn hub(request: &JobRequest) -> Result<Operation, ApiError> {
    Operation::from_hub_request(request).map_err(|e| error(&e, &[]))
}

/// A 400 for a job whose operation fleetsim cannot run, naming the field.
fn error(e: &fleet_sim::Error, templates: &[TemplateSpec]) -> ApiError {
    let field = e.field().unwrap_or_default();
    match e.kind() {
        ErrorKind::DataEntries(n) => ApiError::bad(
            field,
            format!(
                "{n} entries: fleetsim runs 1 to {} operations per job",
                Operation::MAX_ENTRIES
            ),
        ),
        ErrorKind::UnknownTemplate(id) => {
            let names: Vec<&str> = templates.iter().map(|t| t.id.as_str()).collect();
            ApiError::bad(
                field,
                format!("no device template {id:?} in this application (templates: {names:?})"),
            )
        }
        ErrorKind::NoOperation(_) => ApiError::bad(
            field,
            "an IoT Hub job needs cloudToDeviceMethod or updateTwin",
        ),
        ErrorKind::Engine(model) => ApiError::from(model.clone()),
        other => ApiError::bad(field, other),
    }
}
