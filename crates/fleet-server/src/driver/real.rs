//! Real devices in the driver: device programs connected over the device endpoint (`mqtt`)
//! take over from their simulated doubles (fleet-sim's `real` module decides their silence;
//! this file hands them their operations and turns their answers into the run's answers).
//!
//! - A connection registers a [`Link`] (an outbound queue and a kick); the device becomes a
//!   real, connected device of the model. A second connection of the same device replaces the
//!   first (IoT Hub closes the older one). A disconnect makes it a real device offline.
//! - A dispatch to a real device ([`fleet_sim::Agenda::deliver`]) is handed over after the
//!   tick commits: a direct method is published on `$iothub/methods/POST/{name}/?$rid=`
//!   (or waits for the device to connect within its connect timeout); a writable property
//!   waits for the device's `{"value", "ac", "av"}` acknowledgement. Desired values written
//!   to a connected real device (by a job, a twin update, an IoT Central property write) are
//!   pushed as a desired patch.
//! - The device's answer becomes an [`Event::Answer`] at the driver's time: whichever comes
//!   first, the device's answer or the silence the model scheduled, is the outcome.
//!
//! The driver never waits on a device: every send is a `try_send` on a bounded queue, and a
//! device whose queue is full is disconnected (a client that does not read cannot stall a
//! job). Memory: per connected device a few hundred bytes (the link); per operation handed to
//! a real device and not answered, one entry.

use std::collections::HashMap;
use std::sync::Arc;

use fleet_sim::{Answer, Operation, Reason};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot, Notify};

use super::render::hub_twin;
use super::{Driver, Event, Reply};
use crate::api_error::ApiError;
use crate::error::Result;
use crate::store::Effect;

/// What the driver sends a connected device.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub(crate) topic: String,
    pub(crate) payload: Vec<u8>,
}

/// A connected device as the driver holds it: its outbound queue, and a kick that closes it.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// The connection's number (per server, increasing).
    pub(crate) conn: u64,
    pub(crate) tx: mpsc::Sender<Outbound>,
    pub(crate) kick: Arc<Notify>,
}

/// What a device session asks the driver.
pub(crate) enum RealCommand {
    /// A device authenticated: answers its fleet index, or 404 if the fleet has no such device.
    Connect {
        id: String,
        link: Link,
        reply: oneshot::Sender<Reply>,
    },
    /// Connection `conn` of device `device` ended.
    Disconnect { device: u32, conn: u64 },
    /// The connection subscribed to (or unsubscribed from) direct methods.
    Methods { device: u32, conn: u64, on: bool },
    /// `$iothub/twin/GET`: answers `{"desired", "reported"}`.
    TwinGet {
        device: u32,
        reply: oneshot::Sender<Reply>,
    },
    /// A reported-properties patch: answers the new reported version.
    Reported {
        device: u32,
        patch: Map<String, Value>,
        reply: oneshot::Sender<Reply>,
    },
    /// The answer to direct method request `rid`.
    MethodResponse {
        device: u32,
        conn: u64,
        rid: u64,
        status: i64,
        payload: Value,
    },
}

/// What a real device is handed for a run's operation (from the run's [`Operation`]).
#[derive(Debug, Clone, Default)]
pub(super) struct Handover {
    /// The desired properties the operation writes (a property, a twin patch).
    desired: Map<String, Value>,
    /// A command or direct method: name, payload, connect timeout.
    method: Option<(String, Value, i64)>,
    /// Writable properties whose acknowledgement answers the operation.
    acks: Vec<String>,
}

impl Handover {
    /// The handover of `op` (of each of its parts, for several operations).
    pub(super) fn of(op: &Operation) -> Arc<Self> {
        let mut h = Self::default();
        h.add(op);
        Arc::new(h)
    }

    /// The handover of a run's job (nothing, for a job whose operation does not resolve: such
    /// a run fails at its start and dispatches nothing).
    pub(super) fn of_doc(
        doc: &super::log::RunDoc,
        templates: &[fleet_sim::TemplateSpec],
    ) -> Arc<Self> {
        let op = match (&doc.central, &doc.hub) {
            (Some(job), _) => crate::operation::central(&job.data, templates).ok(),
            (_, Some(request)) => crate::operation::hub(request).ok(),
            (None, None) => None,
        };
        op.map_or_else(Default::default, |o| Self::of(&o))
    }

    /// Whether the operation is a command or direct method.
    pub(super) fn is_method(&self) -> bool {
        self.method.is_some()
    }

    fn add(&mut self, op: &Operation) {
        match op {
            Operation::Property { name, value } => {
                self.desired.insert(name.clone(), value.clone());
                self.acks.push(name.clone());
            }
            Operation::UpdateTwin { desired, .. } => {
                self.desired.extend(desired.clone());
            }
            Operation::Command {
                name,
                payload,
                connect_timeout_ms,
                ..
            }
            | Operation::DeviceMethod {
                name,
                payload,
                connect_timeout_ms,
                ..
            } => self.method = Some((name.clone(), payload.clone(), *connect_timeout_ms)),
            Operation::Multiple { operations } => operations.iter().for_each(|o| self.add(o)),
            _ => {}
        }
    }
}

/// Who waits for a direct method's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// A run's attempt.
    Run { run: i64, call: Answer },
    /// A `POST /twins/{id}/methods` request (its direct number).
    Direct { no: i64 },
}

/// A direct method handed to a device, or waiting for it to connect (until `until_ms`).
#[derive(Debug, Clone)]
struct Call {
    caller: Caller,
    device: u32,
    name: String,
    payload: Value,
    until_ms: i64,
}

/// A writable property waiting for the device's acknowledgement of desired version `version`.
#[derive(Debug, Clone, Copy)]
struct Ack {
    run: i64,
    call: Answer,
    version: u32,
}

/// A connection as the driver holds it.
#[derive(Debug)]
struct Conn {
    link: Link,
    methods: bool,
}

/// What runs handed real devices during a tick: sent after the commit.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// Whether any device is real (else the agenda records nothing).
    pub(super) active: bool,
    /// (run, fleet device): a dispatch wrote desired values.
    pub(super) desired: Vec<(i64, u32)>,
    /// (run, attempt): a dispatch went to a real device.
    pub(super) calls: Vec<(i64, i64, Answer)>,
}

/// The driver's real devices: connections, methods handed over, acknowledgements awaited.
#[derive(Debug, Default)]
pub(super) struct Links {
    conns: HashMap<u32, Conn>,
    /// Methods handed to devices, by request id.
    calls: HashMap<u64, Call>,
    /// Methods waiting for their device to connect, by device.
    waiting: HashMap<u32, Vec<Call>>,
    acks: HashMap<u32, Vec<Ack>>,
    next_rid: u64,
    /// Real devices' answers to runs' methods: (run, target) to (status, payload).
    responses: HashMap<(i64, u32), (i64, Value)>,
}

impl Links {
    /// Forgets what real devices answered run `run` (its history expired).
    pub(super) fn forget_run(&mut self, run: i64) {
        self.responses.retain(|(r, _), _| *r != run);
        self.calls
            .retain(|_, c| !matches!(c.caller, Caller::Run { run: r, .. } if r == run));
        for acks in self.acks.values_mut() {
            acks.retain(|a| a.run != run);
        }
        for calls in self.waiting.values_mut() {
            calls.retain(|c| !matches!(c.caller, Caller::Run { run: r, .. } if r == run));
        }
    }

    /// The answer a real device gave to run `run`'s method (target `target`), if any.
    pub(super) fn response(&self, run: i64, target: u32) -> Option<(i64, Value)> {
        self.responses.get(&(run, target)).cloned()
    }
}

impl Driver {
    /// Carries out a device session's request; returns its reply to send after the commit.
    pub(super) fn real_command(
        &mut self,
        c: RealCommand,
    ) -> Result<Option<(oneshot::Sender<Reply>, Reply)>> {
        Ok(match c {
            RealCommand::Connect { id, link, reply } => Some((reply, self.connect(&id, link))),
            RealCommand::Disconnect { device, conn } => {
                if self
                    .links
                    .conns
                    .get(&device)
                    .is_some_and(|c| c.link.conn == conn)
                {
                    self.links.conns.remove(&device);
                    // Methods it had not answered get the model's silence (IoT Hub: 504).
                    self.links.calls.retain(|_, c| c.device != device);
                    self.ctx.model.set_real(device, false);
                    self.shared.metrics.devices_connected(-1);
                }
                None
            }
            RealCommand::Methods { device, conn, on } => {
                if let Some(c) = self.links.conns.get_mut(&device) {
                    c.methods = c.link.conn == conn && on;
                }
                None
            }
            RealCommand::TwinGet { device, reply } => {
                let twin = hub_twin(self.ctx.model.fleet(), device);
                let props = twin.get("properties").cloned().unwrap_or(Value::Null);
                Some((reply, Ok(props)))
            }
            RealCommand::Reported {
                device,
                patch,
                reply,
            } => Some((reply, self.reported(device, &patch)?)),
            RealCommand::MethodResponse {
                device,
                conn,
                rid,
                status,
                payload,
            } => {
                self.method_response(device, conn, rid, status, payload);
                None
            }
        })
    }

    /// A device authenticated: it becomes a connected real device (an older connection of it
    /// is closed); methods waiting for it are handed over.
    fn connect(&mut self, id: &str, link: Link) -> Reply {
        let Some(d) = self.ctx.model.fleet().index_of(id) else {
            return Err(ApiError::not_found("device", id));
        };
        let conn = Conn {
            link,
            methods: false,
        };
        match self.links.conns.insert(d, conn) {
            Some(old) => old.link.kick.notify_one(),
            None => self.shared.metrics.devices_connected(1),
        }
        self.ctx.model.set_real(d, true);
        Ok(Value::from(d))
    }

    /// Hands over what the tick's runs sent to real devices (after its commit).
    pub(super) fn flush_real(&mut self) {
        let outbox = std::mem::take(&mut self.ctx.outbox);
        self.ctx.outbox.active = self.ctx.model.real_count() != 0;
        for (run, device) in outbox.desired {
            if let Some(h) = self.runs.get(&run).map(|r| r.handover.clone()) {
                self.push_desired(device, &h.desired);
            }
        }
        for (run, at, call) in outbox.calls {
            let Some(h) = self.runs.get(&run).map(|r| r.handover.clone()) else {
                continue;
            };
            if let Some((name, payload, connect_ms)) = &h.method {
                let until_ms = at.saturating_add(*connect_ms);
                let caller = Caller::Run { run, call };
                self.hand_method(call.device, caller, name, payload, until_ms);
            } else if !h.acks.is_empty() {
                let version = self.ctx.model.fleet().desired_version(call.device);
                let ack = Ack { run, call, version };
                self.links.acks.entry(call.device).or_default().push(ack);
            }
        }
        // Methods whose device connected within their connect timeout.
        let now = self.now;
        let ready: Vec<u32> = self
            .links
            .waiting
            .keys()
            .copied()
            .filter(|d| self.links.conns.get(d).is_some_and(|c| c.methods))
            .collect();
        for d in ready {
            for call in self.links.waiting.remove(&d).unwrap_or_default() {
                if call.until_ms >= now {
                    self.send_method(call);
                }
            }
        }
    }

    /// A direct method for device `device`: sent now if it is connected and subscribed to
    /// methods; else it waits for it until `until_ms` (the model's silence answers `offline`
    /// then).
    fn hand_method(&mut self, d: u32, caller: Caller, name: &str, payload: &Value, until_ms: i64) {
        let call = Call {
            caller,
            device: d,
            name: name.to_string(),
            payload: payload.clone(),
            until_ms,
        };
        if self.links.conns.get(&d).is_some_and(|c| c.methods) {
            self.send_method(call);
        } else if until_ms > self.now {
            self.links.waiting.entry(d).or_default().push(call);
        }
    }

    fn send_method(&mut self, call: Call) {
        self.links.next_rid += 1;
        let rid = self.links.next_rid;
        let topic = crate::mqtt::topics::method_request(&call.name, rid);
        let payload = serde_json::to_vec(&call.payload).unwrap_or_default();
        let d = call.device;
        self.links.calls.insert(rid, call);
        self.send(d, topic, payload);
    }

    /// Sends a message to device `d` if it is connected; a device whose queue is full is
    /// disconnected (it does not read: it must not hold the driver).
    fn send(&mut self, d: u32, topic: String, payload: Vec<u8>) {
        let Some(c) = self.links.conns.get(&d) else {
            return;
        };
        if c.link.tx.try_send(Outbound { topic, payload }).is_err() {
            tracing::warn!(
                device = %self.ctx.model.fleet().id(d),
                "the device does not read its messages: disconnecting it"
            );
            c.link.kick.notify_one();
            self.links.conns.remove(&d);
            self.ctx.model.set_real(d, false);
            self.shared.metrics.devices_connected(-1);
        }
    }

    /// Pushes a desired-properties patch to device `d`, if it is a connected real device.
    pub(super) fn push_desired(&mut self, d: u32, patch: &Map<String, Value>) {
        if patch.is_empty() || !self.links.conns.contains_key(&d) {
            return;
        }
        let version = self.ctx.model.fleet().desired_version(d);
        let mut body = patch.clone();
        body.insert("$version".into(), Value::from(version));
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        self.send(d, crate::mqtt::topics::desired_patch(version), payload);
    }

    /// A direct method `POST /twins/{id}/methods` to a real device: handed to it; its answer
    /// replies to the request (the model's silence answers otherwise).
    pub(super) fn real_direct(&mut self, no: i64, d: u32, name: &str, payload: &Value, until: i64) {
        self.hand_method(d, Caller::Direct { no }, name, payload, until);
    }

    /// The answer to request `rid`: the outcome of the attempt that waits for it.
    fn method_response(&mut self, d: u32, conn: u64, rid: u64, status: i64, payload: Value) {
        let current = self
            .links
            .conns
            .get(&d)
            .is_some_and(|c| c.link.conn == conn);
        let Some(call) = self
            .links
            .calls
            .get(&rid)
            .filter(|c| c.device == d && current)
        else {
            return; // not this device's, or answered already
        };
        let caller = call.caller;
        self.links.calls.remove(&rid);
        match caller {
            Caller::Run { run, call } => {
                self.links
                    .responses
                    .insert((run, call.target), (status, payload));
                let answer = Answer {
                    reason: fleet_sim::reason_of_status(status).map_or(0, Reason::code),
                    ..call
                };
                self.ctx
                    .events
                    .push(self.now, Event::Answer { run, answer });
            }
            Caller::Direct { no } => {
                if let Some(super::direct::Pending::Method { reply, .. }) = self.directs.remove(&no)
                {
                    let body = serde_json::json!({ "status": status, "payload": payload });
                    self.late.push((reply, Ok(body)));
                }
            }
        }
    }

    /// A reported-properties patch from device `d`: each property is written and logged (as
    /// a property's acknowledgement is), then IoT Central acknowledgements (`{"value", "ac",
    /// "av"}`) answer the property operations that wait for them.
    fn reported(&mut self, d: u32, patch: &Map<String, Value>) -> Result<Reply> {
        for (name, value) in patch.iter().filter(|(k, _)| !k.starts_with('$')) {
            let op = Operation::Property {
                name: name.clone(),
                value: value.clone(),
            };
            let prepared = match self.ctx.model.prepare(&op) {
                Ok(p) => p,
                Err(e) => return Ok(Err(ApiError::bad(name, e))),
            };
            let op_id = self.ctx.store.insert_op(&super::render::to_json(&op))?;
            self.ctx.model.replay_answer(&prepared, d);
            self.ctx.store.log_effect(op_id, d, Effect::Answer)?;
            if let Some(ac) = value.get("ac").and_then(Value::as_i64) {
                let av = value.get("av").and_then(Value::as_u64);
                self.acknowledged(d, name, ac, av);
            }
        }
        Ok(Ok(Value::from(self.ctx.model.fleet().reported_version(d))))
    }

    /// Device `d` acknowledged writable property `name` with status `ac` for desired version
    /// `av`: every operation waiting for it whose write is not newer than `av` is answered.
    fn acknowledged(&mut self, d: u32, name: &str, ac: i64, av: Option<u64>) {
        let Some(acks) = self.links.acks.get_mut(&d) else {
            return;
        };
        let reason = fleet_sim::reason_of_status(ac).map_or(0, Reason::code);
        let runs = &self.runs;
        let mut answered = Vec::new();
        acks.retain(|a| {
            let names = runs.get(&a.run).map(|r| r.handover.clone());
            let mine = names.is_some_and(|h| h.acks.iter().any(|n| n == name));
            let fresh = av.is_none_or(|v| v >= u64::from(a.version));
            if mine && fresh {
                answered.push((a.run, Answer { reason, ..a.call }));
            }
            !(mine && fresh) && runs.contains_key(&a.run)
        });
        for (run, answer) in answered {
            self.ctx
                .events
                .push(self.now, Event::Answer { run, answer });
        }
    }
}
