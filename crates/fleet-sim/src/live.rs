//! [`LiveFleet`]: the simulated devices answering one operation at a time, for a driver that
//! keeps its own clock (the `fleetsim serve` server drives job runs in scaled wall-clock time).
//!
//! The [`crate::Simulation`] owns its event queue and runs everything in virtual time. A server
//! cannot hand its clock over: it takes requests while jobs run, and must survive a restart. So
//! it keeps the queue itself, and asks this type only for a device's *fate*: when a dispatch of
//! an operation to a device answers, and how. The semantics are those of the simulator (see
//! [`crate::Operation`] for the rules): the same template checks, hub throttles, offline,
//! flapping and crashed devices, and the same random streams keyed by (seed, device, attempt,
//! purpose), so a device's fate in the server is the one it has in a simulation with the same
//! seed, whatever the order of events.
//!
//! Effects on the fleet happen as in the simulator: a dispatch writes the desired property,
//! cloud property, twin patch or template at once (when it reaches the fleet: see
//! [`Fate::wrote`]); a successful answer to a property writes the reported value
//! ([`LiveFleet::answer`]). For a durable driver, [`LiveFleet::replay_dispatch`] and
//! [`LiveFleet::replay_answer`] apply the same writes again, without drawing anything, to
//! rebuild the fleet from a log after a restart.
//!
//! ```
//! use fleet_sim::{FleetSpec, LiveFleet, Operation, BehaviourSpec, TemplateSpec, PropertySpec, Schema, TemplateShare};
//!
//! let template = TemplateSpec {
//!     id: "dtmi:t;1".into(),
//!     properties: vec![PropertySpec { name: "p".into(), schema: Schema::Integer }],
//!     ..Default::default()
//! };
//! let spec = FleetSpec {
//!     devices: 3,
//!     templates: vec![TemplateShare { template: "dtmi:t;1".into(), share: Some(1.0), count: None }],
//!     ..Default::default()
//! };
//! let fleet = fleet_sim::Fleet::generate(&spec, &[template], 7)?;
//! let mut live = LiveFleet::new(7, fleet, &BehaviourSpec::default(), None)?;
//! let op = live.prepare(&Operation::Property { name: "p".into(), value: 3.into() })?;
//! let fate = live.dispatch(&op, 0, 1, 10_000);
//! assert_eq!(fate.answer_at_ms, Some(11_000)); // the default latency: 1 s
//! assert_eq!(fate.reason, None);               // success
//! live.answer(&op, 0, fate.reason);
//! assert_eq!(live.fleet().reported(0, "p"), Some(&3.into()));
//! # Ok::<(), fleet_sim::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};

use fleet_core::Outcome;
use rand::Rng;
use serde_json::Value;

use crate::behaviour::{Behaviour, BehaviourSpec, Flapping};
use crate::error::{Error, ErrorKind, Result};
use crate::fleet::{ColumnKind, Fleet, NO_TEMPLATE};
use crate::hub::{Hub, HubLimits, HubSpec, Throttle};
use crate::operation::Operation;
use crate::result::Reason;
use crate::rng::{self, unit_f64, Purpose};
use crate::template::Schema;

/// A fleet with its behaviour and hub model, answering dispatches one at a time.
#[derive(Debug, Clone)]
pub struct LiveFleet {
    seed: u64,
    /// The instant that is time 0 of the behaviour model (reconnects and flapping intervals
    /// count from it).
    epoch_ms: i64,
    fleet: Fleet,
    behaviour: Behaviour,
    hub: Option<Hub>,
    hub_limits: Option<HubLimits>,
    /// Devices that crashed, and until when they are offline.
    crashed_until: BTreeMap<u32, i64>,
    /// Per flapping device: the last interval walked to (index, start).
    flap_cursor: HashMap<u32, (u32, i64)>,
}

/// A job's operation resolved against a [`LiveFleet`]: names interned, template checks
/// tabulated. Made by [`LiveFleet::prepare`]; only valid for the fleet that made it (and for a
/// fleet rebuilt the same way).
#[derive(Debug, Clone)]
pub struct LiveOp {
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    Property {
        desired: (u32, u32),
        reported: (u32, u32),
        check: Vec<u8>,
    },
    CloudProperty {
        value: (u32, u32),
        check: Vec<u8>,
    },
    Command {
        check: Vec<u8>,
        chunks: u32,
        response_timeout_ms: i64,
        connect_timeout_ms: i64,
    },
    Migration {
        template: Option<u16>,
    },
    UpdateTwin {
        tags: Vec<(u32, u32)>,
        desired: Vec<(u32, u32)>,
    },
    Method {
        missing: Vec<bool>,
        response_timeout_ms: i64,
        connect_timeout_ms: i64,
    },
    /// A document the device fetches once online (AWS job document, hawkBit deployment).
    Document,
}

/// Reason code 0: success.
const OK: u8 = 0;

/// What becomes of one dispatch of an operation to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fate {
    /// When the answer comes; `None`: never (an offline device that never reconnects).
    pub answer_at_ms: Option<i64>,
    /// How the answer ends: `None` is success, else why it did not succeed.
    pub reason: Option<Reason>,
    /// The reason to report if the run stops waiting for the device before it answers (a
    /// per-device timeout or the deadline): `offline` for a device that was offline when the
    /// operation was sent, `crashed` for one that crashed; `None`: no better reason than the
    /// timeout itself.
    pub pending_reason: Option<Reason>,
    /// Whether the dispatch wrote to the fleet (a desired property, cloud property, twin patch
    /// or template); a refused or throttled dispatch writes nothing.
    pub wrote: bool,
}

impl Fate {
    /// The engine's outcome for [`Fate::reason`].
    pub fn outcome(&self) -> Outcome {
        outcome_of(self.reason.map_or(OK, Reason::code))
    }
}

/// The outcome the run is told for a reason code (as the simulator does).
fn outcome_of(reason: u8) -> Outcome {
    match Reason::from_u8(reason) {
        None => Outcome::Succeeded,
        Some(Reason::Rejected) => Outcome::Rejected,
        Some(
            Reason::ResponseTimeout | Reason::Crashed | Reason::DeviceTimeout | Reason::Deadline,
        ) => Outcome::TimedOut,
        Some(_) => Outcome::Failed,
    }
}

impl Reason {
    /// The reason's one-byte code (1 to 10), for storage.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason with this code; `None` for 0 (success) or an unknown code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::from_u8(code)
    }

    /// The engine's outcome for an attempt that ended with this reason.
    pub fn outcome(self) -> Outcome {
        outcome_of(self.code())
    }
}

/// The template check of a per-template table: devices without a template fail.
#[inline]
fn check(table: &[u8], template: u16) -> u8 {
    if template == NO_TEMPLATE {
        Reason::NotInTemplate as u8
    } else {
        table[template as usize]
    }
}

impl LiveFleet {
    /// The live fleet of `fleet` with this behaviour and hub, drawing from `seed`.
    pub fn new(
        seed: u64,
        fleet: Fleet,
        behaviour: &BehaviourSpec,
        hub: Option<&HubSpec>,
    ) -> Result<Self> {
        let behaviour = Behaviour::compile(behaviour, &fleet, seed)?;
        if let Some(hub) = hub {
            hub.validate().map_err(|e| e.within("hub"))?;
        }
        Ok(Self {
            seed,
            epoch_ms: 0,
            fleet,
            behaviour,
            hub: hub.map(Hub::new),
            hub_limits: hub.map(HubSpec::limits),
            crashed_until: BTreeMap::new(),
            flap_cursor: HashMap::new(),
        })
    }

    /// Sets the instant that is time 0 of the behaviour model (default 0). A driver whose
    /// clock counts from the Unix epoch sets the instant its fleet came to life, so that
    /// reconnect times and flapping intervals count from then, as they count from the start of
    /// a simulation. Times given to and returned by [`LiveFleet::dispatch`] stay absolute.
    pub fn with_epoch(mut self, epoch_ms: i64) -> Self {
        self.epoch_ms = epoch_ms;
        self
    }

    /// The instant that is time 0 of the behaviour model.
    pub fn epoch_ms(&self) -> i64 {
        self.epoch_ms
    }

    /// The fleet as it is now.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The hub's limits, if a hub is modelled.
    pub fn hub_limits(&self) -> Option<HubLimits> {
        self.hub_limits
    }

    /// Resolves an operation against the fleet (validated first).
    pub fn prepare(&mut self, op: &Operation) -> Result<LiveOp> {
        op.validate()?;
        let fleet = &mut self.fleet;
        let templates = fleet.templates().to_vec();
        let schema_check = |schema: Option<Schema>, value: &Value| match schema {
            None => Reason::NotInTemplate as u8,
            Some(s) if !s.matches(value) => Reason::SchemaMismatch as u8,
            Some(_) => OK,
        };
        let op = match op {
            Operation::Property { name, value } => Op::Property {
                desired: fleet.intern(ColumnKind::Desired, name, value),
                reported: fleet.intern(ColumnKind::Reported, name, value),
                check: templates
                    .iter()
                    .map(|t| schema_check(t.property(name), value))
                    .collect(),
            },
            Operation::CloudProperty { name, value } => Op::CloudProperty {
                value: fleet.intern(ColumnKind::Cloud, name, value),
                check: templates
                    .iter()
                    .map(|t| schema_check(t.cloud_property(name), value))
                    .collect(),
            },
            Operation::Command {
                name,
                payload,
                response_timeout_ms,
                connect_timeout_ms,
            } => Op::Command {
                check: templates
                    .iter()
                    .map(|t| {
                        if t.has_command(name) {
                            OK
                        } else {
                            Reason::NotInTemplate as u8
                        }
                    })
                    .collect(),
                chunks: Operation::chunks(payload),
                response_timeout_ms: *response_timeout_ms,
                connect_timeout_ms: *connect_timeout_ms,
            },
            Operation::TemplateMigration { template } => Op::Migration {
                template: fleet.template_index(template),
            },
            Operation::UpdateTwin { tags, desired } => Op::UpdateTwin {
                tags: fleet.intern_patch(false, tags),
                desired: fleet.intern_patch(true, desired),
            },
            Operation::DeviceMethod {
                name,
                response_timeout_ms,
                connect_timeout_ms,
                ..
            } => Op::Method {
                missing: templates.iter().map(|t| !t.has_command(name)).collect(),
                response_timeout_ms: *response_timeout_ms,
                connect_timeout_ms: *connect_timeout_ms,
            },
            // A job document (AWS, hawkBit): fetched by the device once online.
            #[allow(unreachable_patterns)]
            _ => Op::Document,
        };
        Ok(LiveOp { op })
    }

    /// Why a run of `op` cannot execute at all (a template migration to a template the fleet
    /// does not have), or `None` if it can. Such a run fails when it starts.
    pub fn cannot_execute(&self, op: &LiveOp) -> Option<Error> {
        matches!(op.op, Op::Migration { template: None }).then(|| {
            Error::at(
                "template",
                ErrorKind::InvalidValue("the fleet has no such template".into()),
            )
        })
    }

    /// Dispatches `op` to device `device` (a fleet index), attempt `attempt`, at `now_ms`:
    /// writes the dispatch's effect on the fleet and draws the device's fate.
    pub fn dispatch(&mut self, op: &LiveOp, device: u32, attempt: u8, now_ms: i64) -> Fate {
        self.dispatch_at(op, device, attempt, now_ms, true)
    }

    /// The fate of a dispatch that already happened at `sent_ms` (a driver restarting with
    /// devices in flight): the same draws as [`LiveFleet::dispatch`], but nothing is written
    /// and no throttle token is taken (the operation is taken to have been sent at `sent_ms`).
    pub fn redraw(&mut self, op: &LiveOp, device: u32, attempt: u8, sent_ms: i64) -> Fate {
        self.dispatch_at(op, device, attempt, sent_ms, false)
    }

    fn dispatch_at(
        &mut self,
        op: &LiveOp,
        device: u32,
        attempt: u8,
        now_ms: i64,
        write: bool,
    ) -> Fate {
        let epoch = self.epoch_ms;
        let mut fate =
            self.dispatch_relative(op, device, attempt, now_ms.saturating_sub(epoch), write);
        fate.answer_at_ms = fate.answer_at_ms.map(|t| t.saturating_add(epoch));
        fate
    }

    fn dispatch_relative(
        &mut self,
        op: &LiveOp,
        device: u32,
        attempt: u8,
        now_ms: i64,
        write: bool,
    ) -> Fate {
        let d = device;
        let template = self.fleet.template_of(d);
        let at_once = |at: i64, reason: u8, wrote: bool| Fate {
            answer_at_ms: Some(at),
            reason: Reason::from_u8(reason),
            pending_reason: None,
            wrote,
        };
        match &op.op {
            Op::CloudProperty {
                value: (c, v),
                check: table,
            } => {
                let r = check(table, template);
                if r == OK && write {
                    self.fleet.write_cloud(d, *c, *v);
                }
                at_once(now_ms, r, r == OK && write)
            }
            Op::Migration { template } => match template {
                Some(t) => {
                    if write {
                        self.fleet.set_template(d, *t);
                    }
                    at_once(now_ms, OK, write)
                }
                None => at_once(now_ms, Reason::NotInTemplate as u8, false),
            },
            Op::UpdateTwin { tags, desired } => {
                let send = self.grant_unbounded(now_ms, write);
                if write {
                    self.fleet.patch_twin(d, tags, desired);
                }
                at_once(send, OK, write)
            }
            Op::Property {
                desired,
                check: table,
                ..
            } => {
                let r = check(table, template);
                if r != OK {
                    return at_once(now_ms, r, false);
                }
                let (c, v) = *desired;
                let Some(send) = self.grant(Throttle::TwinUpdates, now_ms, 1, write) else {
                    return at_once(now_ms, Reason::Throttled as u8, false);
                };
                if write {
                    self.fleet.write_desired(d, c, v);
                }
                let mut fate = self.device_property(d, attempt, send);
                fate.wrote = write;
                fate
            }
            Op::Command {
                check: table,
                chunks,
                response_timeout_ms,
                connect_timeout_ms,
            } => {
                let r = check(table, template);
                if r != OK {
                    return at_once(now_ms, r, false);
                }
                let Some(send) = self.grant(Throttle::DirectMethods, now_ms, *chunks, write) else {
                    return at_once(now_ms, Reason::Throttled as u8, false);
                };
                self.device_method(
                    d,
                    attempt,
                    send,
                    *response_timeout_ms,
                    *connect_timeout_ms,
                    false,
                )
            }
            Op::Document => self.device_property(d, attempt, now_ms),
            Op::Method {
                missing,
                response_timeout_ms,
                connect_timeout_ms,
            } => {
                let missing = template != NO_TEMPLATE && missing[template as usize];
                let send = self.grant_unbounded(now_ms, write);
                self.device_method(
                    d,
                    attempt,
                    send,
                    *response_timeout_ms,
                    *connect_timeout_ms,
                    missing,
                )
            }
        }
    }

    /// The device's answer arrived with `reason` (`None`: success): a successful property
    /// answer writes the reported value. The fleet sees the answer even when the run no longer
    /// waits for it.
    pub fn answer(&mut self, op: &LiveOp, device: u32, reason: Option<Reason>) {
        if reason.is_none() {
            self.replay_answer(op, device);
        }
    }

    /// Applies again the write of a dispatch whose [`Fate::wrote`] was true (rebuilding the
    /// fleet from a log): draws nothing, takes no throttle token.
    pub fn replay_dispatch(&mut self, op: &LiveOp, device: u32) {
        let d = device;
        match &op.op {
            Op::CloudProperty { value: (c, v), .. } => self.fleet.write_cloud(d, *c, *v),
            Op::Migration { template: Some(t) } => self.fleet.set_template(d, *t),
            Op::UpdateTwin { tags, desired } => self.fleet.patch_twin(d, tags, desired),
            Op::Property {
                desired: (c, v), ..
            } => self.fleet.write_desired(d, *c, *v),
            Op::Migration { template: None }
            | Op::Command { .. }
            | Op::Method { .. }
            | Op::Document => {}
        }
    }

    /// Whether a successful answer to `op` writes to the fleet (a property's reported value).
    pub fn writes_on_answer(&self, op: &LiveOp) -> bool {
        matches!(op.op, Op::Property { .. })
    }

    /// Applies again the write of a successful answer (rebuilding the fleet from a log).
    pub fn replay_answer(&mut self, op: &LiveOp, device: u32) {
        if let Op::Property {
            reported: (c, v), ..
        } = op.op
        {
            self.fleet.write_reported(device, c, v);
        }
    }

    fn grant_unbounded(&mut self, now_ms: i64, take: bool) -> i64 {
        match self.hub.as_mut().filter(|_| take) {
            Some(hub) => hub
                .grant(Throttle::JobDeviceOps, now_ms, 1)
                .unwrap_or(now_ms),
            None => now_ms,
        }
    }

    fn grant(&mut self, throttle: Throttle, now_ms: i64, cost: u32, take: bool) -> Option<i64> {
        match self.hub.as_mut().filter(|_| take) {
            Some(hub) => hub.grant(throttle, now_ms, cost),
            None => Some(now_ms),
        }
    }

    /// A writable property sent at `send`: the device acknowledges once it is online.
    fn device_property(&mut self, d: u32, attempt: u8, send: i64) -> Fate {
        let mut fate = Fate {
            answer_at_ms: None,
            reason: None,
            pending_reason: None,
            wrote: false,
        };
        let Some(arrive) = self.next_online(d, send) else {
            fate.pending_reason = Some(Reason::Offline);
            return fate;
        };
        if arrive > send {
            fate.pending_reason = Some(Reason::Offline);
        }
        let key = self.fleet.key(d);
        let profile = self.behaviour.profile(d);
        let mut r = rng::stream(self.seed, key, u32::from(attempt), Purpose::Operation);
        let u = unit_f64(r.next_u64());
        let latency = profile.latency.sample(&mut r);
        let (crash_p, reject_p, failure_p) = (profile.crash_p, profile.reject_p, profile.failure_p);
        let done = arrive.saturating_add(latency);
        if u < crash_p {
            let back = self.crash(d, key, attempt, done);
            fate.pending_reason = Some(Reason::Crashed);
            let Some(arrive2) = self.next_online(d, back) else {
                return fate;
            };
            let mut r2 = rng::stream(self.seed, key, u32::from(attempt), Purpose::Reanswer);
            let latency2 = self.behaviour.profile(d).latency.sample(&mut r2);
            fate.answer_at_ms = Some(arrive2.saturating_add(latency2));
            return fate;
        }
        fate.reason = if u < crash_p + reject_p {
            Some(Reason::Rejected)
        } else if u < crash_p + reject_p + failure_p {
            Some(Reason::DeviceError)
        } else {
            None
        };
        fate.answer_at_ms = Some(done);
        fate
    }

    /// A command or direct method sent at `send`.
    fn device_method(
        &mut self,
        d: u32,
        attempt: u8,
        send: i64,
        response_timeout_ms: i64,
        connect_timeout_ms: i64,
        missing: bool,
    ) -> Fate {
        let answer = |at: i64, reason: Option<Reason>| Fate {
            answer_at_ms: Some(at),
            reason,
            pending_reason: None,
            wrote: false,
        };
        let arrive = match self.next_online(d, send) {
            Some(a) if a <= send.saturating_add(connect_timeout_ms) => a,
            _ => {
                let at = send.saturating_add(connect_timeout_ms);
                return answer(at, Some(Reason::Offline));
            }
        };
        let key = self.fleet.key(d);
        let profile = self.behaviour.profile(d);
        let mut r = rng::stream(self.seed, key, u32::from(attempt), Purpose::Operation);
        let u = unit_f64(r.next_u64());
        let latency = profile.latency.sample(&mut r);
        let (crash_p, reject_p, failure_p) = (profile.crash_p, profile.reject_p, profile.failure_p);
        let timeout_at = arrive.saturating_add(response_timeout_ms);
        let done = arrive.saturating_add(latency);
        if u < crash_p {
            self.crash(d, key, attempt, done.min(timeout_at));
            return answer(timeout_at, Some(Reason::Crashed));
        }
        if latency > response_timeout_ms {
            return answer(timeout_at, Some(Reason::ResponseTimeout));
        }
        let reason = if missing {
            Some(Reason::NotInTemplate)
        } else if u < crash_p + reject_p {
            Some(Reason::Rejected)
        } else if u < crash_p + reject_p + failure_p {
            Some(Reason::DeviceError)
        } else {
            None
        };
        answer(done, reason)
    }

    /// Device `d` crashes at `at_ms`; returns when it is back.
    fn crash(&mut self, d: u32, key: u64, attempt: u8, at_ms: i64) -> i64 {
        let mut r = rng::stream(self.seed, key, u32::from(attempt), Purpose::Crash);
        let back = at_ms.saturating_add(self.behaviour.profile(d).crash_downtime.sample(&mut r));
        let until = self.crashed_until.entry(d).or_insert(back);
        *until = (*until).max(back);
        back
    }

    /// The first instant at or after `t` when device `d` is online (the simulator's rule).
    fn next_online(&mut self, d: u32, mut t: i64) -> Option<i64> {
        let profile = self.behaviour.profile(d);
        let key = self.fleet.key(d);
        let starts_offline = self.fleet.starts_disconnected(d)
            || (profile.offline_p > 0.0
                && rng::unit(self.seed, key, 0, Purpose::Offline) < profile.offline_p);
        let reconnect_ms = if starts_offline {
            if !self.fleet.is_provisioned(d) {
                return None;
            }
            let sampler = profile.reconnect.as_ref()?;
            Some(sampler.sample(&mut rng::stream(self.seed, key, 1, Purpose::Offline)))
        } else {
            None
        };
        let flapping = profile.flapping;
        let crashed = self.crashed_until.get(&d).copied();
        loop {
            let before = t;
            if let Some(r) = reconnect_ms {
                t = t.max(r);
            }
            if let Some(c) = crashed {
                t = t.max(c);
            }
            if let Some(f) = flapping {
                t = self.flap_next_up(d, key, f, t);
            }
            if t == before {
                return Some(t);
            }
        }
    }

    /// The first instant at or after `t` when flapping device `d` is up.
    fn flap_next_up(&mut self, d: u32, key: u64, f: Flapping, t: i64) -> i64 {
        let pd = f.mean_down_ms / (f.mean_up_ms + f.mean_down_ms);
        let first_down = rng::unit(self.seed, key, 0, Purpose::Flap) < pd;
        let (mut k, mut start) = match self.flap_cursor.get(&d) {
            Some(&(k, s)) if s <= t => (k, s),
            _ => (0, 0),
        };
        loop {
            let down = first_down ^ (k % 2 == 1);
            let mean = if down { f.mean_down_ms } else { f.mean_up_ms };
            let u = rng::unit(self.seed, key, k + 1, Purpose::Flap);
            let len = (-mean * (1.0 - u).ln()).round().max(1.0) as i64;
            let end = start.saturating_add(len);
            if t < end {
                self.flap_cursor.insert(d, (k, start));
                return if down { end } else { t };
            }
            k += 1;
            start = end;
        }
    }
}
