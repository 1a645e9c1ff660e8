//! What the API shows of a run (an IoT Central `Job` or an IoT Hub `JobResponse`, and device
//! documents), published for the request handlers after each commit; and forgetting runs past
//! the history TTL.

use std::sync::Arc;

use fleet_core::model::{
    CentralJobStatus, DeviceJobStatistics, HubJobStatus, JobResponse, Nullable, Progress, Word,
};
use serde::Serialize;
use serde_json::Value;

use super::{Dialect, Driver, Run};
use crate::clock;
use crate::error::Result;
use crate::state::JobView;

impl Driver {
    /// Forgets runs settled longer than the history TTL ago (IoT Hub keeps 30 days).
    pub(super) fn expire(&mut self) -> Result<()> {
        let limit = self.now.saturating_sub(self.config.history_ttl_ms);
        let old: Vec<i64> = self
            .runs
            .values()
            .filter(|r| r.settled && r.finished_ms.is_some_and(|f| f < limit))
            .map(|r| r.no)
            .collect();
        for no in old {
            if let Some(r) = self.runs.remove(&no) {
                if self.rebuilt.as_ref().is_some_and(|(n, _)| *n == no) {
                    self.rebuilt = None;
                }
                self.ctx.store.delete_run(no)?;
                self.links.forget_run(no);
                self.index.remove(&(r.dialect, r.id.clone()));
                match r.dialect {
                    Dialect::Central => self.shared.central_jobs.remove(&r.id),
                    Dialect::Hub => self.shared.hub_jobs.remove(&r.id),
                };
            }
        }
        Ok(())
    }

    pub(super) fn view_json(&self, no: i64) -> Value {
        self.runs
            .get(&no)
            .map(|r| self.render(r).0)
            .unwrap_or(Value::Null)
    }

    /// Publishes run `no`'s view for the request handlers.
    pub(super) fn publish(&mut self, no: i64) {
        self.log_lifecycle(no);
        if let Some(r) = self.runs.get_mut(&no) {
            r.evict();
        }
        let Some(r) = self.runs.get(&no) else {
            return;
        };
        let (json, kind, status) = self.render(r);
        let view = Arc::new(JobView {
            json: Arc::from(json.to_string()),
            kind,
            status,
            scheduled_job_id: r
                .doc
                .central
                .as_ref()
                .and_then(|j| j.scheduled_job_id.clone()),
        });
        match r.dialect {
            Dialect::Central => self.shared.central_jobs.insert(r.id.clone(), view),
            Dialect::Hub => self.shared.hub_jobs.insert(r.id.clone(), view),
        };
    }

    fn render(&self, r: &Run) -> (Value, &'static str, &'static str) {
        let status = r.status();
        let (counts, started, finished) = match (r.job(), &r.summary) {
            (Some(job), _) => (Some(job.counts()), job.started_ms(), job.finished_ms()),
            (None, Some(sm)) => (Some(sm.counts), sm.started, sm.finished),
            (None, None) => (None, None, None),
        };
        match r.dialect {
            Dialect::Central => {
                let mut job = r.doc.central.clone().expect("a central run has its job");
                let word = CentralJobStatus::from(status);
                job.status = Some(Word::new(word));
                job.progress = counts.map(Progress::from);
                job.start = started.map(clock::rfc3339);
                job.end = finished.filter(|_| r.settled).map(clock::rfc3339);
                (
                    serde_json::to_value(&job).unwrap_or_default(),
                    "",
                    word.as_str(),
                )
            }
            Dialect::Hub => {
                let request = r.doc.hub.clone().expect("a hub run has its request");
                let scheduled = !r.started() && r.start_ms > self.now;
                let word = HubJobStatus::from_run(status, scheduled);
                let mut response = JobResponse::accepted(&request, scheduled);
                response.status = Some(word);
                response.created_time = Some(clock::rfc3339(r.created_ms));
                response.start_time = Some(Nullable::Value(clock::rfc3339(
                    started.unwrap_or(r.start_ms),
                )));
                response.end_time = finished
                    .filter(|_| r.settled)
                    .map(|f| Nullable::Value(clock::rfc3339(f)));
                response.device_job_statistics =
                    Some(counts.map(DeviceJobStatistics::from).unwrap_or_default());
                response.failure_reason = r.failure.clone();
                response.status_message = r.failure.clone();
                let kind = request.kind.map_or("unknown", |k| k.as_str());
                (
                    serde_json::to_value(&response).unwrap_or_default(),
                    kind,
                    word.as_str(),
                )
            }
        }
    }
}

pub(super) fn failure_text(r: &Run) -> String {
    match (&r.doc.central, &r.doc.hub) {
        (Some(job), _) => format!("the job could not run (device group {:?})", job.group),
        _ => "the job could not run".to_string(),
    }
}

pub(super) fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// RFC 7396 JSON merge patch.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Device `i` as an IoT Hub twin: the fleet's twin without IoT Central's `$` fields, with
/// `$version`s, an etag and a version.
///
/// The etag stands for the twin's JSON representation, as IoT Hub's does: it is the FNV-1a
/// hash of the tags and the desired and reported properties with their `$version`s, base64
/// (`"AAAAAAAAAAE="`-like), so any write of tags or properties changes it, and it depends on
/// nothing else.
pub(crate) fn hub_twin(fleet: &fleet_sim::Fleet, i: u32) -> Value {
    let mut twin = fleet.twin(i);
    if let Value::Object(map) = &mut twin {
        map.retain(|k, _| !k.starts_with('$'));
        let dv = fleet.desired_version(i);
        let rv = fleet.reported_version(i);
        if let Some(Value::Object(props)) = map.get_mut("properties") {
            if let Some(Value::Object(d)) = props.get_mut("desired") {
                d.insert("$version".into(), Value::from(dv));
            }
            if let Some(Value::Object(r)) = props.get_mut("reported") {
                r.insert("$version".into(), Value::from(rv));
            }
        }
        let etag = twin_etag(map.get("tags"), map.get("properties"));
        map.insert("version".into(), Value::from(dv + rv));
        map.insert("etag".into(), Value::from(etag));
        map.insert("deviceEtag".into(), Value::from("AAAAAAAAAAE="));
        map.insert("cloudToDeviceMessageCount".into(), Value::from(0));
        map.insert("authenticationType".into(), Value::from("sas"));
    }
    twin
}

/// Device `i`'s twin as the model sees it: a real device's `connectionState` is whether its
/// code is connected now (see `real`).
pub(crate) fn model_twin(model: &fleet_sim::DeviceModel, i: u32) -> Value {
    let mut twin = hub_twin(model.fleet(), i);
    if let (Some(connected), Value::Object(map)) = (model.real(i), &mut twin) {
        let state = if connected {
            "Connected"
        } else {
            "Disconnected"
        };
        map.insert("connectionState".into(), Value::from(state));
    }
    twin
}

/// The etag of a twin with these tags and properties (see [`hub_twin`]).
fn twin_etag(tags: Option<&Value>, properties: Option<&Value>) -> String {
    use base64::Engine;
    let text = serde_json::json!([tags, properties]).to_string();
    let hash = crate::world::fnv(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hash.to_be_bytes())
}

/// Device `i` as IoT Central shows it (a device list, a group's devices, a device by id):
/// `id`, `etag`, `displayName` (the id: the fleet has no display names), `template` (absent
/// without one), `simulated`, `provisioned`, `enabled` (false for a device disabled in an
/// imported fleet). The etag changes when the device's template does (a template migration).
pub(crate) fn central_device(fleet: &fleet_sim::Fleet, i: u32) -> Value {
    use base64::Engine;
    let id = fleet.id(i).to_string();
    let template = fleet.template(i).map(|t| t.id.clone());
    let hash = crate::world::fnv(format!("{id}\n{}", template.as_deref().unwrap_or("")).as_bytes());
    let etag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.to_be_bytes());
    let mut d = serde_json::json!({
        "id": id,
        "etag": etag,
        "displayName": id,
        "simulated": fleet.is_simulated(i),
        "provisioned": fleet.is_provisioned(i),
        "enabled": fleet.is_enabled(i),
    });
    if let Some(t) = template {
        d["template"] = Value::from(t);
    }
    d
}

/// Device `i`'s properties as IoT Central's `GET /devices/{id}/properties` shows them: every
/// reported property and cloud property value at the top, and under `$metadata` each desired
/// (writable) property's `desiredValue` and `desiredVersion` (the twin's desired `$version`).
/// A writable property the device has not acknowledged yet appears only under `$metadata`.
/// Properties never set are absent, as in IoT Central.
pub(crate) fn central_properties(fleet: &fleet_sim::Fleet, i: u32) -> Value {
    let twin = fleet.twin(i);
    let mut out = serde_json::Map::new();
    if let Some(Value::Object(reported)) = twin.pointer("/properties/reported") {
        out.extend(reported.clone());
    }
    if let Some(t) = fleet.template(i) {
        for p in &t.cloud_properties {
            if let Some(v) = fleet.cloud_property(i, &p.name) {
                out.insert(p.name.clone(), v.clone());
            }
        }
    }
    let mut metadata = serde_json::Map::new();
    if let Some(Value::Object(desired)) = twin.pointer("/properties/desired") {
        let version = fleet.desired_version(i);
        for (name, value) in desired {
            metadata.insert(
                name.clone(),
                serde_json::json!({"desiredValue": value, "desiredVersion": version}),
            );
        }
    }
    if !metadata.is_empty() {
        out.insert("$metadata".into(), Value::Object(metadata));
    }
    Value::Object(out)
}
