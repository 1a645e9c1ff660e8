//! IoT Hub twins and direct methods outside jobs: `PATCH` and `PUT /twins/{id}` (update and
//! replace a device twin's tags and desired properties, with `If-Match`), and `POST
//! /twins/{id}/methods` (invoke a direct method on one device, answered by the device model).
//!
//! A twin write's body is a `Twin` (the Swagger's): `tags` and `properties.desired` are
//! written; the fields that belong to the device or the hub (`properties.reported`, `etag`,
//! `version`, `status`, `connectionState`, ... and `$version`/`$metadata` inside `desired`)
//! are accepted and ignored, as IoT Hub's update "updates the mutable fields of Twin" (so a
//! twin read with `GET` can be sent back changed). A field that is not the `Twin`'s, a
//! `deviceId` other than the URL's, or a `moduleId` (module twins are not served) is a 400.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::Extension;
use fleet_core::model::{CloudToDeviceMethod, TwinPatch, TwinPatchProperties, Validate};
use serde_json::{Map, Value};

use super::{ask, hub_version, if_match, json, pairs, parse_body, AppState, St};
use crate::api_error::{ApiError, ApiErrorKind, HubApiError};
use crate::driver::{Command, DeviceCommand, TwinWrite};
use crate::idle::ConnectionWaits;

type Result<T> = std::result::Result<T, HubApiError>;

/// The `Twin` fields (Swagger 2021-04-12, and `modelId`) that a write accepts and ignores.
const READ_ONLY: [&str; 16] = [
    "etag",
    "version",
    "deviceEtag",
    "status",
    "statusReason",
    "statusUpdateTime",
    "connectionState",
    "lastActivityTime",
    "cloudToDeviceMessageCount",
    "authenticationType",
    "x509Thumbprint",
    "capabilities",
    "deviceScope",
    "parentScopes",
    "modelId",
    "moduleId",
];

/// `PATCH /twins/{id}`: merges the body's tags and desired properties into the twin.
pub(crate) async fn update(
    state: St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    write(state, id, &uri, &headers, &body, false).await
}

/// `PUT /twins/{id}`: replaces the twin's tags and desired properties (each section the body
/// has).
pub(crate) async fn replace(
    state: St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    write(state, id, &uri, &headers, &body, true).await
}

async fn write(
    State(state): St,
    id: String,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    replace: bool,
) -> Result<Response> {
    hub_version(&pairs(uri))?;
    let write = twin_write(body, &id, replace)?;
    if let Some(t) = &state.throttles {
        if !t.twin_updates.take() {
            return Err(throttled("twin-update").into());
        }
    }
    let if_match = if_match(headers);
    let twin = ask(&state.shared, |reply| {
        Command::Device(DeviceCommand::WriteTwin {
            id,
            write: Box::new(write),
            if_match,
            reply,
        })
    })
    .await?;
    Ok(json(twin.to_string()))
}

fn throttled(what: &str) -> ApiError {
    ApiError::new(
        ApiErrorKind::Throttled,
        format!("the hub model's {what} throttle refused the request; retry later"),
    )
    .hub("ThrottlingException")
}

/// The write of a twin body (see the module documentation); 400 naming the field otherwise.
fn twin_write(body: &Bytes, id: &str, replace: bool) -> std::result::Result<TwinWrite, ApiError> {
    let doc: Value = parse_body(body)?;
    let Value::Object(fields) = doc else {
        return Err(ApiError::bad("", "the body must be a twin (a JSON object)"));
    };
    let mut write = TwinWrite {
        replace,
        ..TwinWrite::default()
    };
    for (name, value) in fields {
        match name.as_str() {
            "tags" => write.tags = object("tags", value)?,
            "properties" => {
                for (kind, v) in object("properties", value)?.unwrap_or_default() {
                    match kind.as_str() {
                        "desired" => write.desired = object("properties.desired", v)?,
                        "reported" => {} // the device's: ignored
                        _ => {
                            return Err(ApiError::bad(
                                &format!("properties.{kind}"),
                                "a twin's properties are desired and reported",
                            ))
                        }
                    }
                }
            }
            "deviceId" if value.is_null() || value.as_str() == Some(id) => {}
            "deviceId" => {
                return Err(ApiError::bad(
                    "deviceId",
                    format!("the body's deviceId {value} is not the URL's {id:?}"),
                ))
            }
            "moduleId" if !value.is_null() => {
                return Err(ApiError::bad("moduleId", "module twins are not served"))
            }
            n if READ_ONLY.contains(&n) => {}
            _ => return Err(ApiError::bad(&name, "not a field of a twin")),
        }
    }
    if let Some(desired) = &mut write.desired {
        desired.retain(|k, _| !k.starts_with('$')); // $version, $metadata: the hub's
    }
    check_names(&write)?;
    Ok(write)
}

/// A section of the body: an object, or `null` (absent); anything else is a 400.
fn object(path: &str, value: Value) -> std::result::Result<Option<Map<String, Value>>, ApiError> {
    match value {
        Value::Object(m) => Ok(Some(m)),
        Value::Null => Ok(None),
        other => Err(ApiError::bad(path, format!("{other} is not a JSON object"))),
    }
}

/// The names of tags and desired properties, at every depth, and the depth (the rules of a
/// job's twin patch: fleet-core's `TwinPatch`).
fn check_names(write: &TwinWrite) -> std::result::Result<(), ApiError> {
    let tags = write.tags.clone().filter(|m| !m.is_empty());
    let desired = write.desired.clone().filter(|m| !m.is_empty());
    if tags.is_none() && desired.is_none() {
        return Ok(());
    }
    let patch = TwinPatch {
        etag: None,
        tags,
        properties: Some(TwinPatchProperties { desired }),
    };
    patch.validate().map_err(ApiError::from)
}

/// `POST /twins/{id}/methods`: `{methodName, payload, responseTimeoutInSeconds (5 to 300,
/// default 30), connectTimeoutInSeconds (0 to 300, default 0)}`; answers once the device
/// does (in virtual time).
pub(crate) async fn invoke(
    State(state): St,
    Path(id): Path<String>,
    uri: Uri,
    waits: Option<Extension<ConnectionWaits>>,
    body: Bytes,
) -> Result<Response> {
    hub_version(&pairs(&uri))?;
    let method: CloudToDeviceMethod = parse_body(&body)?;
    method.validate()?;
    take_method_tokens(&state, &method)?;
    // The connection is not idle while the device takes its time.
    let _waiting = waits.map(|Extension(w)| w.hold());
    let answer = ask(&state.shared, |reply| {
        Command::Device(DeviceCommand::InvokeMethod {
            id,
            method: Box::new(method),
            reply,
        })
    })
    .await?;
    Ok(json(answer.to_string()))
}

/// The direct-method throttle: one token per 4 KB chunk of the payload (at least 1).
fn take_method_tokens(
    state: &Arc<AppState>,
    method: &CloudToDeviceMethod,
) -> std::result::Result<(), ApiError> {
    let Some(t) = &state.throttles else {
        return Ok(());
    };
    let bytes = method.payload.as_ref().map_or(4, |p| p.to_string().len());
    let chunks = u32::try_from(bytes.div_ceil(4096).max(1)).unwrap_or(u32::MAX);
    if t.methods.take_n(chunks) {
        Ok(())
    } else {
        Err(throttled("direct-method"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value, replace: bool) -> std::result::Result<TwinWrite, ApiError> {
        twin_write(&Bytes::from(v.to_string()), "d1", replace)
    }

    #[test]
    fn a_twin_as_read_can_be_written_back() {
        let w = parse(
            json!({"deviceId": "d1", "etag": "AAAA", "version": 3, "status": "enabled",
                   "tags": {"site": "b43"},
                   "properties": {"desired": {"t": 1, "$version": 2, "$metadata": {}},
                                  "reported": {"x": 1, "$version": 1}}}),
            true,
        )
        .unwrap();
        assert_eq!(
            w.tags,
            Some(json!({"site": "b43"}).as_object().cloned().unwrap())
        );
        assert_eq!(
            w.desired,
            Some(json!({"t": 1}).as_object().cloned().unwrap())
        );
        assert!(w.replace);
    }

    #[test]
    fn strangers_in_a_twin_are_refused_naming_the_field() {
        for (body, field) in [
            (json!({"tgas": {}}), "tgas:"),
            (json!({"properties": {"wanted": {}}}), "properties.wanted:"),
            (json!({"tags": 3}), "tags:"),
            (json!({"deviceId": "d2"}), "deviceId:"),
            (json!({"moduleId": "m"}), "moduleId:"),
            (json!({"tags": {"a b": 1}}), "tags.a b"),
            (json!([1]), "the body must be"),
        ] {
            let e = parse(body.clone(), false).unwrap_err();
            assert_eq!(e.kind, ApiErrorKind::BadRequest);
            assert!(e.message.contains(field), "{body}: {}", e.message);
        }
    }
}
