//! Writes and calls on one device outside jobs: IoT Hub twin updates (`PATCH`/`PUT
//! /twins/{id}`), direct methods (`POST /twins/{id}/methods`), and IoT Central property writes
//! (`PUT`/`PATCH /api/devices/{id}/properties`).
//!
//! Each is carried out by fleet-sim's device model, as a job's operation on one device is:
//!
//! - a twin update is an [`Operation::UpdateTwin`] whose values are the merged top-level values
//!   (IoT Hub merges a patch into nested objects; the fleet stores top-level values), applied
//!   with [`fleet_sim::DeviceModel::replay_dispatch`]: the hub applies it, no device round trip
//!   and no job-operation throttle token (the API's twin-update throttle applies instead);
//! - a direct method is an [`Operation::DeviceMethod`] whose fate the device model draws
//!   ([`fleet_sim::DeviceModel::redraw`]: the draws of a dispatch, without a job-operation
//!   token; the API's direct-method throttle applies instead) from a [`RunKey`] of its own
//!   (`$direct-<n>`, `n` a per-server counter kept in the store), so the answer is
//!   deterministic; the request's reply waits for the answer's virtual time;
//! - a writable property is an [`Operation::Property`] dispatched by the device model (template
//!   check, twin-update throttle, desired value written at once, acknowledgement after the
//!   device's latency, or after it reconnects), a cloud property an
//!   [`Operation::CloudProperty`] (stored at once).
//!
//! Every write is logged like a job's (`ops`, `effects`), so a restart rebuilds it; an
//! acknowledgement still due is stored (`direct`) with its time and outcome and arrives after a
//! restart at the same virtual time.

use std::collections::HashMap;

use fleet_core::model::CloudToDeviceMethod;
use fleet_sim::{Operation, PreparedOp, Reason, RunKey, TemplateSpec};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use super::render::{hub_twin, merge_patch, to_json};
use super::{Driver, Event, Reply};
use crate::api_error::{ApiError, ApiErrorKind};
use crate::error::Result;
use crate::store::{DirectRow, Effect};

/// A twin write: the tags and desired properties of the body (`None`: the body has no such
/// section), merged into the twin (`PATCH`) or replacing each section given (`PUT`).
#[derive(Debug, Clone, Default)]
pub(crate) struct TwinWrite {
    pub(crate) tags: Option<Map<String, Value>>,
    pub(crate) desired: Option<Map<String, Value>>,
    pub(crate) replace: bool,
}

/// A device answer the driver waits for.
pub(super) enum Pending {
    /// The acknowledgement of a writable property written directly.
    Ack {
        op: PreparedOp,
        op_id: i64,
        device: u32,
        reason: Option<Reason>,
    },
    /// A direct method's answer, awaited by a request.
    Method {
        reason: Option<Reason>,
        device: String,
        reply: oneshot::Sender<Reply>,
    },
}

impl Driver {
    /// The next direct operation's number and random-stream key (`$direct-<n>`).
    fn next_direct(&mut self) -> Result<(i64, RunKey)> {
        self.direct_seq += 1;
        let n = self.direct_seq;
        self.ctx.store.set_meta("direct_seq", &n.to_string())?;
        Ok((
            n,
            RunKey::new(self.ctx.model.seed(), &format!("$direct-{n}")),
        ))
    }

    fn hub_device(&self, id: &str) -> std::result::Result<u32, ApiError> {
        self.ctx
            .model
            .fleet()
            .index_of(id)
            .ok_or_else(|| ApiError::not_found("device", id).hub("DeviceNotFound"))
    }

    /// `PATCH` or `PUT /twins/{id}`: checks `If-Match` against the twin's etag, merges or
    /// replaces, logs the write and answers the whole new twin.
    pub(super) fn write_twin(
        &mut self,
        id: &str,
        write: &TwinWrite,
        if_match: Option<&str>,
    ) -> Result<Reply> {
        let d = match self.hub_device(id) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        let fleet = self.ctx.model.fleet();
        let twin = hub_twin(fleet, d);
        if let Some(e) = twin_precondition(twin["etag"].as_str().unwrap_or(""), if_match) {
            return Ok(Err(e));
        }
        let tags = section(twin.get("tags"), write.tags.as_ref(), write.replace);
        let desired = section(
            twin.pointer("/properties/desired"),
            write.desired.as_ref(),
            write.replace,
        );
        if tags.is_empty() && desired.is_empty() {
            return Ok(Ok(twin)); // nothing changes: nothing is written
        }
        let op = Operation::UpdateTwin { tags, desired };
        let prepared = match self.ctx.model.prepare(&op) {
            Ok(p) => p,
            Err(e) => return Ok(Err(ApiError::bad("", e))),
        };
        let op_id = self.ctx.store.insert_op(&to_json(&op))?;
        self.ctx.model.replay_dispatch(&prepared, d, 1);
        self.ctx
            .store
            .log_effect(op_id, d, Effect::Dispatch { parts: 1 })?;
        if let Operation::UpdateTwin { desired, .. } = &op {
            self.push_desired(d, desired);
        }
        Ok(Ok(super::render::model_twin(&self.ctx.model, d)))
    }

    /// `POST /twins/{id}/methods`: the device model draws the device's answer; returns the reply
    /// now when it is due now (an offline device without a connect timeout), else keeps the
    /// request until the answer's virtual time.
    pub(super) fn invoke_method(
        &mut self,
        id: String,
        method: &CloudToDeviceMethod,
        reply: oneshot::Sender<Reply>,
    ) -> Result<Option<(oneshot::Sender<Reply>, Reply)>> {
        let d = match self.hub_device(&id) {
            Ok(d) => d,
            Err(e) => return Ok(Some((reply, Err(e)))),
        };
        let response_timeout_ms = method.response_timeout_s() * 1000;
        let op = Operation::DeviceMethod {
            name: method.method_name.clone().unwrap_or_default(),
            payload: method.payload.clone().unwrap_or(Value::Null),
            response_timeout_ms,
            connect_timeout_ms: method.connect_timeout_s() * 1000,
        };
        let prepared = match self.ctx.model.prepare(&op) {
            Ok(p) => p,
            Err(e) => return Ok(Some((reply, Err(ApiError::bad("", e))))),
        };
        let (no, key) = self.next_direct()?;
        let now = self.now;
        let fate = self.ctx.model.redraw(&prepared, d, key, 1, now);
        let at = fate
            .answer_at_ms
            .unwrap_or(now.saturating_add(response_timeout_ms));
        if at <= now {
            return Ok(Some((reply, method_reply(fate.reason, &id))));
        }
        let pending = Pending::Method {
            reason: fate.reason,
            device: id,
            reply,
        };
        self.directs.insert(no, pending);
        self.ctx.events.push(at, Event::Direct { no });
        if let (Some(_), Operation::DeviceMethod { name, payload, .. }) =
            (self.ctx.model.real(d), &op)
        {
            let until = now.saturating_add(method.connect_timeout_s() * 1000);
            self.real_direct(no, d, name, payload, until);
        }
        Ok(None)
    }

    /// `PUT` or `PATCH /api/devices/{id}/properties`: every value is checked against the
    /// device's template first (a writable property or a cloud property, of the right schema),
    /// then each is written as a property job's entry would be. Answers the written values:
    /// cloud properties at the top, writable ones under `$metadata` (`desiredValue`,
    /// `desiredVersion`).
    pub(super) fn write_properties(
        &mut self,
        id: &str,
        values: &Map<String, Value>,
    ) -> Result<Reply> {
        let fleet = self.ctx.model.fleet();
        let Some(d) = fleet.index_of(id) else {
            return Ok(Err(ApiError::not_found("device", id)));
        };
        let Some(template) = fleet.template(d) else {
            return Ok(Err(ApiError::bad(
                "",
                format!("device {id:?} has no device template: it has no writable property"),
            )));
        };
        let ops = match property_ops(template, values) {
            Ok(ops) => ops,
            Err(e) => return Ok(Err(e)),
        };
        let mut out = Map::new();
        let mut metadata = Map::new();
        for op in ops {
            if let Some(e) = self.write_property(d, &op)? {
                return Ok(Err(e));
            }
            match op {
                Operation::Property { name, value } => {
                    let version = self.ctx.model.fleet().desired_version(d);
                    metadata.insert(
                        name,
                        json!({"desiredValue": value, "desiredVersion": version}),
                    );
                }
                Operation::CloudProperty { name, value } => {
                    out.insert(name, value);
                }
                _ => {}
            }
        }
        if !metadata.is_empty() {
            out.insert("$metadata".into(), Value::Object(metadata));
        }
        Ok(Ok(Value::Object(out)))
    }

    /// Dispatches one property write to device `d` and keeps its acknowledgement due; `Some`:
    /// the hub model throttled it (nothing written).
    fn write_property(&mut self, d: u32, op: &Operation) -> Result<Option<ApiError>> {
        let prepared = match self.ctx.model.prepare(op) {
            Ok(p) => p,
            Err(e) => return Ok(Some(ApiError::bad("", e))),
        };
        let op_id = self.ctx.store.insert_op(&to_json(op))?;
        let (no, key) = self.next_direct()?;
        let fate = self.ctx.model.dispatch(&prepared, d, key, 1, self.now);
        if fate.wrote {
            self.ctx
                .store
                .log_effect(op_id, d, Effect::Dispatch { parts: 1 })?;
            if let Operation::Property { name, value } = op {
                let patch = Map::from_iter([(name.clone(), value.clone())]);
                self.push_desired(d, &patch);
            }
        }
        if fate.reason == Some(Reason::Throttled) {
            let e = ApiError::new(
                ApiErrorKind::Throttled,
                "the hub model's twin-update throttle refused the property write; retry later",
            );
            return Ok(Some(e));
        }
        if let (Some(at), true) = (
            fate.answer_at_ms,
            self.ctx.model.writes_on_answer(&prepared),
        ) {
            let reason = fate.reason.map_or(0, Reason::code);
            self.ctx.store.insert_direct(DirectRow {
                no,
                op: op_id,
                device: d,
                at_ms: at,
                reason,
            })?;
            self.await_ack(no, prepared, op_id, d, at, fate.reason);
        }
        Ok(None)
    }

    fn await_ack(
        &mut self,
        no: i64,
        op: PreparedOp,
        op_id: i64,
        device: u32,
        at: i64,
        reason: Option<Reason>,
    ) {
        let pending = Pending::Ack {
            op,
            op_id,
            device,
            reason,
        };
        self.directs.insert(no, pending);
        self.ctx.events.push(at, Event::Direct { no });
    }

    /// A device answer to a direct operation has come: an acknowledgement writes the reported
    /// value (and is logged); a method's answer is replied to once the tick has committed.
    pub(super) fn direct_answer(&mut self, no: i64) -> Result<()> {
        match self.directs.remove(&no) {
            None => {}
            Some(Pending::Ack {
                op,
                op_id,
                device,
                reason,
            }) => {
                self.ctx.model.answer(&op, device, reason);
                if reason.is_none() && self.ctx.model.writes_on_answer(&op) {
                    self.ctx.store.log_effect(op_id, device, Effect::Answer)?;
                }
                self.ctx.store.delete_direct(no)?;
            }
            Some(Pending::Method {
                reason,
                device,
                reply,
            }) => self.late.push((reply, method_reply(reason, &device))),
        }
        Ok(())
    }

    /// After a restart: the counter of direct operations, and the acknowledgements still due.
    pub(super) fn restore_directs(&mut self, ops: &HashMap<i64, PreparedOp>) -> Result<()> {
        self.direct_seq = self
            .ctx
            .store
            .meta("direct_seq")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        for row in self.ctx.store.directs()? {
            if let Some(op) = ops.get(&row.op) {
                let reason = Reason::from_code(row.reason);
                self.await_ack(row.no, op.clone(), row.op, row.device, row.at_ms, reason);
            }
        }
        Ok(())
    }
}

/// `If-Match` against a twin's etag: `*` matches any, and an etag matches quoted or not (the
/// Node client quotes it, the Python client sends it as the twin shows it), weak (`W/`) or not.
fn twin_precondition(etag: &str, if_match: Option<&str>) -> Option<ApiError> {
    let wanted = if_match?;
    let bare = |t: &str| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t.trim_matches('"').to_string()
    };
    let ok = wanted.split(',').map(bare).any(|w| w == "*" || w == etag);
    (!ok).then(|| {
        ApiError::new(
            ApiErrorKind::PreconditionFailed,
            format!("If-Match {wanted} does not match the twin's etag \"{etag}\""),
        )
    })
}

/// The top-level entries to write into one twin section (`current`: the section now) for the
/// body's `given` section: merged (JSON merge patch: `null` removes, objects merge) or, with
/// `replace`, the given values with every other existing entry removed. A removal of an
/// entry that does not exist is no change, and is left out.
pub(super) fn section(
    current: Option<&Value>,
    given: Option<&Map<String, Value>>,
    replace: bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(given) = given else {
        return out;
    };
    let now = current.and_then(Value::as_object);
    let exists = |k: &str| now.is_some_and(|m| m.contains_key(k) && !k.starts_with('$'));
    if replace {
        for k in now.into_iter().flat_map(Map::keys) {
            if !k.starts_with('$') && !given.contains_key(k) {
                out.insert(k.clone(), Value::Null);
            }
        }
    }
    for (k, v) in given {
        if v.is_null() {
            if exists(k) {
                out.insert(k.clone(), Value::Null);
            }
            continue;
        }
        let mut merged = match (replace, now.and_then(|m| m.get(k))) {
            (false, Some(old)) => old.clone(),
            _ => Value::Null,
        };
        merge_patch(&mut merged, v);
        out.insert(k.clone(), merged);
    }
    out
}

/// The operations of an IoT Central property write, checked against the device's template:
/// each name a writable property (a property job's entry) or a cloud property of the
/// template, each value of its schema; else a 400 naming the property.
fn property_ops(
    template: &TemplateSpec,
    values: &Map<String, Value>,
) -> std::result::Result<Vec<Operation>, ApiError> {
    let mut ops = Vec::with_capacity(values.len());
    for (name, value) in values {
        let (schema, op) = match (template.property(name), template.cloud_property(name)) {
            (Some(s), _) => (
                s,
                Operation::Property {
                    name: name.clone(),
                    value: value.clone(),
                },
            ),
            (None, Some(s)) => (
                s,
                Operation::CloudProperty {
                    name: name.clone(),
                    value: value.clone(),
                },
            ),
            (None, None) => {
                return Err(ApiError::bad(
                    name,
                    format!(
                        "not a writable property or cloud property of device template {:?}",
                        template.id
                    ),
                ))
            }
        };
        if !schema.matches(value) {
            return Err(ApiError::bad(
                name,
                format!("{value} does not match the property's schema ({schema:?})"),
            ));
        }
        ops.push(op);
    }
    Ok(ops)
}

/// The reply to a direct method whose device answer ends with `reason` (`None`: success), as
/// IoT Hub answers: the device's own answer is 200 `{status, payload}` (success 200; a device
/// error 500; a refusal 403; a method the device's template lacks 501, as the device SDKs
/// answer a method without a handler); an offline device is 404 `DeviceNotOnline` (404103); no
/// answer within the response timeout (a slow or crashed device) is 504 `GatewayTimeout`
/// (504101); the hub model's throttle is 429.
pub(super) fn method_reply(reason: Option<Reason>, device: &str) -> Reply {
    let answered = |status: u16| Ok(json!({"status": status, "payload": null}));
    match reason {
        None => answered(200),
        Some(Reason::DeviceError) => answered(500),
        Some(Reason::Rejected) => answered(403),
        Some(Reason::NotInTemplate) => answered(501),
        Some(Reason::Offline) => Err(ApiError::new(
            ApiErrorKind::NotFound,
            format!("404103: device {device:?} is not online (DeviceNotOnline)"),
        )
        .hub("DeviceNotOnline")),
        Some(Reason::Throttled) => Err(ApiError::new(
            ApiErrorKind::Throttled,
            "the hub model's direct-method throttle refused the call; retry later",
        )
        .hub("ThrottlingException")),
        Some(_) => Err(ApiError::new(
            ApiErrorKind::GatewayTimeout,
            format!("504101: timed out waiting for the response from device {device:?}"),
        )
        .hub("GatewayTimeout")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_patch_merges_objects_and_removes_nulls() {
        let now = json!({"a": {"x": 1, "y": 2}, "b": 3, "$version": 4});
        let given = map(json!({"a": {"y": null, "z": 5}, "b": null, "c": null, "d": [1]}));
        let out = section(Some(&now), Some(&given), false);
        assert_eq!(
            Value::Object(out),
            json!({"a": {"x": 1, "z": 5}, "b": null, "d": [1]}),
            "c did not exist: removing it is no change"
        );
    }

    #[test]
    fn a_replacement_removes_every_other_entry_and_keeps_absent_sections() {
        let now = json!({"a": {"x": 1}, "b": 3, "$version": 4});
        let given = map(json!({"a": {"y": 2, "n": null}}));
        let out = section(Some(&now), Some(&given), true);
        assert_eq!(Value::Object(out), json!({"a": {"y": 2}, "b": null}));
        assert!(section(Some(&now), None, true).is_empty());
    }

    #[test]
    fn if_match_takes_star_and_etags_quoted_or_not() {
        let etag = "AAAAAAAAAAE=";
        for ok in [
            "*",
            "\"*\"",
            etag,
            "\"AAAAAAAAAAE=\"",
            "W/\"AAAAAAAAAAE=\"",
            "x, AAAAAAAAAAE=",
        ] {
            assert!(twin_precondition(etag, Some(ok)).is_none(), "{ok}");
        }
        let e = twin_precondition(etag, Some("\"AAAAAAAAAAI=\"")).unwrap();
        assert_eq!(e.kind, ApiErrorKind::PreconditionFailed);
        assert!(twin_precondition(etag, None).is_none());
    }

    #[test]
    fn method_answers_map_to_iot_hub_replies() {
        assert_eq!(method_reply(None, "d").unwrap()["status"], 200);
        assert_eq!(
            method_reply(Some(Reason::DeviceError), "d").unwrap()["status"],
            500
        );
        assert_eq!(
            method_reply(Some(Reason::NotInTemplate), "d").unwrap()["status"],
            501
        );
        let offline = method_reply(Some(Reason::Offline), "d").unwrap_err();
        assert_eq!(
            (offline.status().as_u16(), offline.hub_code),
            (404, Some("DeviceNotOnline"))
        );
        let slow = method_reply(Some(Reason::ResponseTimeout), "d").unwrap_err();
        assert_eq!(
            (slow.status().as_u16(), slow.hub_code),
            (504, Some("GatewayTimeout"))
        );
        let crashed = method_reply(Some(Reason::Crashed), "d").unwrap_err();
        assert_eq!(crashed.status().as_u16(), 504);
    }

    #[test]
    fn property_writes_are_checked_against_the_template() {
        let t: TemplateSpec = serde_json::from_value(json!({
            "id": "dtmi:t;1",
            "properties": [{"name": "p", "schema": "integer"}],
            "cloud_properties": [{"name": "c", "schema": "string"}]
        }))
        .unwrap();
        let ops = property_ops(&t, &map(json!({"p": 3, "c": "x"}))).unwrap();
        assert_eq!(ops[0].kind(), "cloud_property"); // names in order: c, p
        assert_eq!(ops[1].kind(), "property");
        let e = property_ops(&t, &map(json!({"p": 2.5}))).unwrap_err();
        assert!(
            e.message.starts_with("p: 2.5 does not match"),
            "{}",
            e.message
        );
        let e = property_ops(&t, &map(json!({"q": 1}))).unwrap_err();
        assert!(
            e.message.starts_with("q: not a writable property"),
            "{}",
            e.message
        );
    }
}
