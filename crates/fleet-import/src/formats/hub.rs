//! IoT Hub: device twins (`az iot hub query -q "SELECT * FROM devices"`, `POST
//! /devices/query`) and the device export job's `devices.txt` (`ExportImportDevice`).
//!
//! Field names are the Swagger's (`Twin`, `ExportImportDevice`, api-version 2021-04-12) and
//! the twin's `modelId`. Used: `deviceId` / `id`, `modelId` (template), `tags`,
//! `properties.desired`, `properties.reported` (without `$metadata` and `$version`), `status`,
//! `connectionState`, `capabilities.iotEdge`; kept: `lastActivityTime`; ignored: `etag`,
//! `eTag`, `deviceEtag`, `twinETag`, `version`, `statusReason`, `statusUpdateTime`,
//! `cloudToDeviceMessageCount`, `authenticationType`, `x509Thumbprint`, `authentication` (keys:
//! never read), `importMode`, `deviceScope`, `parentScopes`. A record with a `moduleId` is a
//! module identity, not a device: counted, not imported.

use std::borrow::Cow;

use serde::Deserialize;

use crate::error::Result;
use crate::record::{self, non_empty, Parsed, Record, Section};
use crate::stream::RawRecord;

/// A twin as `SELECT * FROM devices` returns it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Twin<'a> {
    #[serde(borrow)]
    device_id: Cow<'a, str>,
    #[serde(default, borrow)]
    module_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tags: Section<'a>,
    #[serde(default, borrow)]
    properties: Option<Properties<'a>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    connection_state: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    last_activity_time: Option<Cow<'a, str>>,
    #[serde(default)]
    capabilities: Option<Capabilities>,
}

/// A line of `devices.txt`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportDevice<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    module_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tags: Section<'a>,
    #[serde(default, borrow)]
    properties: Option<Properties<'a>>,
    #[serde(default)]
    capabilities: Option<Capabilities>,
}

#[derive(Deserialize, Default)]
struct Properties<'a> {
    #[serde(default, borrow)]
    desired: Section<'a>,
    #[serde(default, borrow)]
    reported: Section<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Capabilities {
    #[serde(default)]
    iot_edge: Option<bool>,
}

/// One twin.
pub(crate) fn twin(raw: RawRecord<'_>) -> Result<Parsed<'_>> {
    let t: Twin = record::parse(raw)?;
    if non_empty(t.module_id).is_some() {
        return Ok(Parsed::Module);
    }
    let mut r = Record::new(t.device_id);
    r.template = non_empty(t.model_id);
    r.tags = t.tags.entries();
    let p = t.properties.unwrap_or_default();
    r.desired = p.desired.entries();
    r.reported = p.reported.entries();
    r.enabled = record::enabled(t.status.as_deref())?;
    r.connected = record::connected(t.connection_state.as_deref())?;
    r.last_activity = t.last_activity_time;
    r.iot_edge = t.capabilities.and_then(|c| c.iot_edge).unwrap_or(false);
    Ok(Parsed::Device(Box::new(r)))
}

/// One line of a device export.
pub(crate) fn export(raw: RawRecord<'_>) -> Result<Parsed<'_>> {
    let d: ExportDevice = record::parse(raw)?;
    if non_empty(d.module_id).is_some() {
        return Ok(Parsed::Module);
    }
    let mut r = Record::new(d.id);
    r.tags = d.tags.entries();
    let p = d.properties.unwrap_or_default();
    r.desired = p.desired.entries();
    r.reported = p.reported.entries();
    r.enabled = record::enabled(d.status.as_deref())?;
    r.iot_edge = d.capabilities.and_then(|c| c.iot_edge).unwrap_or(false);
    Ok(Parsed::Device(Box::new(r)))
}
