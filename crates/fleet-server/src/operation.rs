//! What a job does to each device, for the REST APIs: fleet-sim converts an IoT Central job's
//! `data` ([`Operation::from_central`]) or an IoT Hub JobRequest
//! ([`Operation::from_hub_request`]), the one conversion that scenarios use too; this module
//! words its errors as 400s of the API.

use fleet_core::model::{JobData, JobRequest};
use fleet_sim::{ErrorKind, Operation, TemplateSpec};

use crate::api_error::ApiError;

/// The operation of an IoT Central job's `data` (validated by the model first); `templates` are
/// the application's. A job with other than one entry, a template that is not among `templates`,
/// or a manifest migration is a 400 naming the field (see [`Operation::from_central`]).
pub(crate) fn central(data: &[JobData], templates: &[TemplateSpec]) -> Result<Operation, ApiError> {
    Operation::from_central(data, templates).map_err(|e| error(&e, templates))
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
            format!("{n} entries: fleetsim runs one operation per job; create one job per entry"),
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
