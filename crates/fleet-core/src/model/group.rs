//! IoT Central device groups: the set of devices a job targets, given by a filter query.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::validate::{self, Validate};

/// A device group: `GET/PUT /deviceGroups/{id}`, an element of `GET /deviceGroups`, the body of a
/// create.
///
/// `displayName` and `filter` are required, as the specification says; `id` is optional because
/// the URL carries it on create.
///
/// Validation: `id` follows the IoT Central id rule ([`validate::central_job_id`]), reported as
/// [`crate::ErrorKind::InvalidValue`]; `displayName` is not empty; `filter` is not empty and has at
/// most [`validate::QUERY_MAX`] characters. The filter's syntax is the query language's to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeviceGroup {
    /// The group's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The query that selects the group's devices
    /// (`SELECT * FROM devices WHERE $template = "dtmi:..." AND $provisioned = true`).
    pub filter: String,
    /// The entity tag, a quoted string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The organizations the group belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<String>>,
}

impl DeviceGroup {
    /// A group named `display_name` selecting the devices that `filter` matches.
    pub fn new(display_name: impl Into<String>, filter: impl Into<String>) -> Self {
        Self {
            id: None,
            display_name: display_name.into(),
            description: None,
            filter: filter.into(),
            etag: None,
            organizations: None,
        }
    }
}

impl Validate for DeviceGroup {
    fn validate(&self) -> Result<()> {
        if let Some(id) = &self.id {
            validate::group_id("id", id)?;
        }
        validate::non_empty("displayName", &self.display_name)?;
        validate::query("filter", &self.filter)
    }
}
