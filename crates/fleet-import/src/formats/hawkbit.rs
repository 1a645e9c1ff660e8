//! hawkBit: the targets of `GET /rest/v1/targets` pages (`MgmtTarget`).
//!
//! Used: `controllerId` (the id), `targetTypeName` (template; else `targetType`, the type's
//! numeric id, as text), `updateStatus` (the tag `updateStatus`; `registered`, a target that
//! never polled, is an unprovisioned device: it never connects), `pollStatus.overdue` (an
//! overdue target is disconnected), `group` (the tag `group`), `attributes` when the page
//! carries them (`GET /targets/{id}/attributes` merged in: the controller attributes a device
//! reports, as reported properties); kept: `name` (when it differs from the id),
//! `lastControllerRequestAt` or `pollStatus.lastRequestAt` (the last activity); ignored:
//! `description`, `address`, `ipAddress`, `installedAt`, `securityToken` (a secret: never
//! read), `requestAttributes`, `autoConfirmActive`, `pollStatus.nextExpectedRequestAt`,
//! `createdBy`, `createdAt`, `lastModifiedBy`, `lastModifiedAt`, `_links`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::error::Result;
use crate::record::{self, Json, Parsed, Record, Section};
use crate::stream::RawRecord;

/// A target.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target<'a> {
    #[serde(borrow)]
    controller_id: Cow<'a, str>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    target_type: Option<Value>,
    #[serde(default, borrow)]
    target_type_name: Option<Cow<'a, str>>,
    #[serde(default)]
    update_status: Option<String>,
    #[serde(default)]
    poll_status: Option<PollStatus>,
    #[serde(default)]
    last_controller_request_at: Option<i64>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default, borrow)]
    attributes: Section<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollStatus {
    #[serde(default)]
    overdue: Option<bool>,
    #[serde(default)]
    last_request_at: Option<i64>,
}

/// One target.
pub(crate) fn target(raw: RawRecord<'_>) -> Result<Parsed<'_>> {
    let t: Target = record::parse(raw)?;
    let mut r = Record::new(t.controller_id);
    r.display_name = t.name.filter(|n| *n != r.id);
    r.template = match (record::non_empty(t.target_type_name), t.target_type) {
        (Some(name), _) => Some(name),
        (None, Some(Value::Number(n))) => Some(Cow::Owned(n.to_string())),
        (None, Some(Value::String(s))) => record::non_empty(Some(Cow::Owned(s))),
        (None, _) => None,
    };
    if let Some(status) = t.update_status {
        r.provisioned = status != "registered";
        r.tags
            .push(("updateStatus".into(), Json::Made(Value::String(status))));
    }
    if let Some(group) = t.group {
        r.tags
            .push(("group".into(), Json::Made(Value::String(group))));
    }
    r.reported = t.attributes.entries();
    let last_ms = t
        .last_controller_request_at
        .or(t.poll_status.as_ref().and_then(|p| p.last_request_at));
    r.connected = t
        .poll_status
        .and_then(|p| p.overdue)
        .map(|overdue| !overdue);
    r.last_activity = match last_ms {
        Some(ms) => Some(Cow::Owned(record::epoch_ms("lastControllerRequestAt", ms)?)),
        None => None,
    };
    Ok(Parsed::Device(Box::new(r)))
}
