//! The checks of the documents a client writes (device groups, scheduled jobs) besides their
//! JSON shape. Both the request handlers (before a command reaches the driver) and the driver
//! (after it merged a patch into the stored document) call them, so they live below both.

use fleet_core::model::{DeviceGroup, ScheduledJob, Validate};
use fleet_query::Query;
use fleet_sim::TemplateSpec;

use crate::api_error::ApiError;

/// The checks of a device group besides its shape: the model's rules and a filter that parses.
pub(crate) fn group(group: &DeviceGroup) -> Result<(), ApiError> {
    group.validate()?;
    Query::parse_any(&group.filter).map_err(|e| ApiError::bad("filter", e))?;
    Ok(())
}

/// The checks of a scheduled job besides its shape: the model's rules, and data that fleetsim
/// can run.
pub(crate) fn scheduled(job: &ScheduledJob, templates: &[TemplateSpec]) -> Result<(), ApiError> {
    job.validate()?;
    crate::operation::central(&job.data, templates)?;
    Ok(())
}
