//! [`DeviceModel`]: THE device model. Given a device, an operation, the run and the attempt,
//! it decides what becomes of the dispatch (its [`Fate`]: when the answer comes and how) and
//! writes the operation's effects on the fleet.
//!
//! It exists once. The simulator ([`crate::Simulation`]) and the `fleetsim serve` server both
//! carry out a run's dispatches through it, by way of the one executor of a run's actions
//! ([`crate::RunExec`]); a rule of a device (template checks, hub throttles, offline, flapping
//! and crashed devices, the fault draw, response timeouts) is found here and nowhere else. The
//! rules themselves are listed on [`crate::Operation`].
//!
//! # Time
//!
//! The model's time 0 is its *epoch*: reconnect times and flapping intervals count from it.
//! The simulator's epoch is 0 (the start of the simulation); a server whose clock counts from
//! the Unix epoch sets the instant its fleet came to life ([`DeviceModel::with_epoch`]). Times
//! given to and returned by the model are in the caller's clock.
//!
//! # Determinism
//!
//! Every draw comes from a stream keyed by (seed, device, run, attempt, purpose) (see the `rng`
//! module): the fate of a dispatch is a pure function of that key and of the device's
//! connectivity timeline, not of the order of events. Only crashes are state (a crashed device
//! is offline until it is back), recorded when they happen.
//!
//! # Memory
//!
//! Besides the fleet's columns and the behaviour index: the crashed devices (an ordered map,
//! only devices that crashed), and three columns of the flapping walk's cursor (20 bytes per
//! device, allocated at the first flapping device; dispatches go in target order, so the walk
//! reads them sequentially — a hash map here spent two thirds of the walk's time in cache
//! misses). The cursor keeps the interval's end and state too, so that a dispatch within the
//! interval reached last draws nothing (a night of the nightly example is shorter than most
//! intervals).
//!
//! ```
//! use fleet_sim::{BehaviourSpec, DeviceModel, FleetSpec, Operation, PropertySpec, RunKey, Schema,
//!     TemplateShare, TemplateSpec};
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
//! let mut model = DeviceModel::new(7, fleet, &BehaviourSpec::default(), None)?;
//! let op = model.prepare(&Operation::Property { name: "p".into(), value: 3.into() })?;
//! let run = RunKey::new(7, "job-1");
//! let fate = model.dispatch(&op, 0, run, 1, 10_000);
//! assert_eq!(fate.answer_at_ms, Some(11_000)); // the default latency: 1 s
//! assert_eq!(fate.reason, None);               // success
//! model.answer(&op, 0, fate.reason);
//! assert_eq!(model.fleet().reported(0, "p"), Some(&3.into()));
//! # Ok::<(), fleet_sim::Error>(())
//! ```

use std::collections::BTreeMap;

use fleet_core::Outcome;
use rand::Rng;
use serde_json::Value;

use crate::behaviour::{Behaviour, BehaviourSpec, Flapping};
use crate::error::{Error, ErrorKind, Result};
use crate::fleet::{ColumnKind, Fleet, MANIFEST_COLUMN, NO_TEMPLATE};
use crate::hub::{Hub, HubLimits, HubSpec, Throttle};
use crate::operation::Operation;
use crate::real::RealDevices;
use crate::result::Reason;
use crate::rng::{unit_f64, Purpose, RunKey, SeedKey};
use crate::template::{Schema, TemplateSpec};

/// Reason code 0: success.
pub(crate) const OK: u8 = 0;

/// A job's operation resolved against a fleet: names interned, template checks tabulated.
/// Made by [`DeviceModel::prepare`]; only valid for the model that made it (and for one
/// rebuilt the same way, as a server does after a restart).
#[derive(Debug, Clone)]
pub struct PreparedOp {
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    Property {
        /// Column and interned value in the desired properties.
        desired: (u32, u32),
        /// Column and interned value in the reported properties.
        reported: (u32, u32),
        /// Per template index: reason code if the template refuses it, else 0.
        check: Vec<u8>,
    },
    CloudProperty {
        /// Column and interned value in the cloud properties.
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
        /// Per template index: whether the template lacks the method.
        missing: Vec<bool>,
        response_timeout_ms: i64,
        connect_timeout_ms: i64,
    },
    /// An AWS job document or hawkBit deployment: fetched by the device once online.
    Document,
    /// An IoT Edge deployment manifest: column and interned value.
    Manifest {
        value: (u32, u32),
    },
    /// Several operations, each sent at the dispatch (none of them `Multiple`).
    Multiple {
        parts: Box<[Op]>,
    },
}

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
    /// Whether the dispatch wrote to the fleet (a desired property, cloud property, twin patch,
    /// template or manifest); a refused or throttled dispatch writes nothing.
    pub wrote: bool,
    /// Which operations wrote: bit `k` for operation `k` of a `multiple` one, bit 0 for any
    /// other (see [`DeviceModel::replay_dispatch`]).
    pub wrote_parts: u32,
}

impl Fate {
    /// The engine's outcome for [`Fate::reason`].
    pub fn outcome(&self) -> Outcome {
        self.reason.map_or(Outcome::Succeeded, Reason::outcome)
    }
}

/// What the operation stream of one attempt decides: a crash, the latency, the fault.
#[derive(Debug, Clone, Copy)]
struct Draw {
    crashed: bool,
    latency_ms: i64,
    /// Reason code of the fault (0: none).
    fault: u8,
}

/// One dispatch: to which device, in which run and attempt, when (model time), and whether its
/// effects are written and its throttle tokens taken (not for a redraw after a restart).
#[derive(Debug, Clone, Copy)]
struct Sent {
    device: u32,
    run: RunKey,
    /// The draw counter: the attempt, and the operation's index within a `multiple` one times
    /// 256 ([`draw_counter`]).
    counter: u32,
    now_ms: i64,
    write: bool,
}

/// The form of a [`Fate`] that the model's functions pass around: 16 bytes, so that it is
/// returned in two registers (the dispatch is the simulator's hot path).
///
/// The reasons and the written operations share one word (`codes`), built and stored whole:
/// as separate fields, a fate the dispatch loop kept on the stack was written a byte at a time
/// and read back a word at a time, and the read waited for the writes to reach the cache (a
/// failed store-to-load forwarding; docs/performance.md, seventh round). Built from whole
/// words, every read of it is contained in one earlier write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawFate {
    /// When the answer comes; [`NEVER`]: never.
    pub(crate) answer_at_ms: i64,
    /// Bits 0 to 7: [`Self::reason`]; 8 to 15: [`Self::pending`]; 32 to 63: [`Self::wrote`].
    codes: u64,
}

/// [`RawFate::answer_at_ms`] of a device that never answers.
pub(crate) const NEVER: i64 = i64::MIN;

/// The bit of a flapping cursor's interval index that says the interval is a down one.
const FLAP_DOWN: u32 = 1 << 31;

/// The mean cycles (up + down) of a flapping device's epoch: its walk restarts every epoch, so
/// that it takes at most about 2^21 steps whatever the means and the time.
const FLAP_EPOCH_CYCLES: f64 = (1u64 << 20) as f64;

/// The draw counter of operation `part` of attempt `attempt`: the attempt alone for a
/// single operation (or the first of several), so that its draws are those of a job of that
/// operation alone.
#[inline]
fn draw_counter(attempt: u8, part: usize) -> u32 {
    debug_assert!(part < Operation::MAX_ENTRIES);
    u32::from(attempt) | (part as u32) << 8
}

impl RawFate {
    /// A fate that answers at `answer_at_ms` (or [`NEVER`]) with `reason`, reports `pending`
    /// if the run stops waiting first, and wrote the operations of `wrote`.
    #[inline(always)]
    fn new(answer_at_ms: i64, reason: u8, pending: u8, wrote: u32) -> Self {
        let codes = u64::from(reason) | u64::from(pending) << 8 | u64::from(wrote) << 32;
        Self {
            answer_at_ms,
            codes,
        }
    }

    /// A fate that answers at `answer_at_ms` with `reason` and no better pending reason.
    #[inline]
    pub(crate) fn at(answer_at_ms: i64, reason: u8, wrote: bool) -> Self {
        Self::new(answer_at_ms, reason, OK, u32::from(wrote))
    }

    /// Reason code of the answer (0: success).
    #[inline(always)]
    pub(crate) fn reason(&self) -> u8 {
        self.codes as u8
    }

    /// Reason code to report if the run stops waiting first (0: none better than the timeout).
    #[inline(always)]
    pub(crate) fn pending(&self) -> u8 {
        (self.codes >> 8) as u8
    }

    /// Which operations of the dispatch wrote to the fleet: bit `k` for operation `k` of a
    /// `multiple` one, bit 0 for any other.
    #[inline(always)]
    pub(crate) fn wrote(&self) -> u32 {
        (self.codes >> 32) as u32
    }

    /// This fate, having written the operations of `wrote` instead.
    #[inline(always)]
    fn with_wrote(self, wrote: u32) -> Self {
        Self::new(self.answer_at_ms, self.reason(), self.pending(), wrote)
    }

    /// A fate that answers at `answer_at_ms` with success (or never), with `pending` to report
    /// if the run stops waiting first.
    #[inline]
    pub(crate) fn pending_only(answer_at_ms: i64, pending: u8) -> Self {
        Self::new(answer_at_ms, OK, pending, 0)
    }

    /// This fate of the operations before `part`, and then `next`, the fate of operation `part`
    /// (docs/semantics.md section 18): the answer comes with the last one (never, if one never
    /// answers); the first failure's reason and the first pending reason are kept.
    #[inline]
    fn and(self, part: usize, next: RawFate) -> Self {
        let answer_at_ms = match (self.answer_at_ms, next.answer_at_ms) {
            (NEVER, _) | (_, NEVER) => NEVER,
            (a, b) => a.max(b),
        };
        let first = |a: u8, b: u8| if a == OK { b } else { a };
        Self::new(
            answer_at_ms,
            first(self.reason(), next.reason()),
            first(self.pending(), next.pending()),
            self.wrote() | u32::from(next.wrote() != 0) << part,
        )
    }

    #[inline]
    fn shifted(mut self, by_ms: i64) -> Self {
        if self.answer_at_ms != NEVER {
            self.answer_at_ms = self.answer_at_ms.saturating_add(by_ms);
        }
        self
    }
}

impl From<RawFate> for Fate {
    fn from(raw: RawFate) -> Self {
        Self {
            answer_at_ms: (raw.answer_at_ms != NEVER).then_some(raw.answer_at_ms),
            reason: Reason::from_u8(raw.reason()),
            pending_reason: Reason::from_u8(raw.pending()),
            wrote: raw.wrote() != 0,
            wrote_parts: raw.wrote(),
        }
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

/// The simulated fleet with its behaviour and hub model, answering dispatches: the one device
/// model of fleetsim (see the module documentation).
#[derive(Debug, Clone)]
pub struct DeviceModel {
    seed: u64,
    /// The seed with the key hash's first round done (the draws of every dispatch).
    seed_key: SeedKey,
    /// The instant that is time 0 of the behaviour model, in the caller's clock.
    epoch_ms: i64,
    fleet: Fleet,
    behaviour: Behaviour,
    hub: Option<Hub>,
    hub_limits: Option<HubLimits>,
    /// Devices that crashed, and until when they are offline (model time). Ordered, never
    /// iterated for results.
    crashed_until: BTreeMap<u32, i64>,
    /// Per device: the last flapping interval walked to (index, with [`FLAP_DOWN`] set if it
    /// is a down interval; start; end), to resume the walk; an end not after the start (the
    /// zeros they start with) means no interval yet.
    flap_k: Vec<u32>,
    flap_start: Vec<i64>,
    flap_end: Vec<i64>,
    /// Devices whose device side is real code (`crate::real`); `None` until the first.
    real: Option<Box<RealDevices>>,
}

impl DeviceModel {
    /// The model of `fleet` with this behaviour and hub, drawing from `seed`.
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
        Ok(Self::from_parts(seed, fleet, behaviour, hub))
    }

    /// The model of checked parts (the simulation builder checked them).
    pub(crate) fn from_parts(
        seed: u64,
        fleet: Fleet,
        behaviour: Behaviour,
        hub: Option<&HubSpec>,
    ) -> Self {
        let external = behaviour.external.clone();
        let mut model = Self {
            seed,
            seed_key: SeedKey::new(seed),
            epoch_ms: 0,
            fleet,
            behaviour,
            hub: hub.map(Hub::new),
            hub_limits: hub.map(HubSpec::limits),
            crashed_until: BTreeMap::new(),
            flap_k: Vec::new(),
            flap_start: Vec::new(),
            flap_end: Vec::new(),
            real: None,
        };
        for d in external {
            model.set_real(d, false);
        }
        model
    }

    /// The real devices, if any device is real (`crate::real`).
    #[inline(always)]
    pub(crate) fn real_devices(&self) -> Option<&RealDevices> {
        self.real.as_deref()
    }

    pub(crate) fn real_mut(&mut self) -> &mut RealDevices {
        self.real.get_or_insert_with(Default::default)
    }

    /// Sets the instant that is time 0 of the behaviour model (default 0). A driver whose
    /// clock counts from the Unix epoch sets the instant its fleet came to life, so that
    /// reconnect times and flapping intervals count from then, as they count from the start of
    /// a simulation. Times given to and returned by [`DeviceModel::dispatch`] stay absolute.
    pub fn with_epoch(mut self, epoch_ms: i64) -> Self {
        self.epoch_ms = epoch_ms;
        self
    }

    /// The hub model's token buckets at `now_ms` (model time, as given to dispatches); empty
    /// without a hub model.
    pub fn hub_load(&self, now_ms: i64) -> Vec<crate::hub::ThrottleLoad> {
        self.hub.as_ref().map_or_else(Vec::new, |h| h.load(now_ms))
    }

    /// The hub model's queues at `at_ms` (no earlier than its last dispatch) and its refusals
    /// so far; `None` without a hub model.
    pub(crate) fn hub_sample(&self, at_ms: i64) -> Option<crate::result::HubSample> {
        self.hub.as_ref().map(|h| h.sample(at_ms))
    }

    /// The instant that is time 0 of the behaviour model.
    pub fn epoch_ms(&self) -> i64 {
        self.epoch_ms
    }

    /// The fleet as it is now.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    pub(crate) fn into_fleet(self) -> Fleet {
        self.fleet
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The hub's limits, if a hub is modelled.
    pub fn hub_limits(&self) -> Option<HubLimits> {
        self.hub_limits
    }

    pub(crate) fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }

    /// The fleet's, the behaviour's and the flapping cursor's heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.fleet.heap_bytes()
            + self.behaviour.heap_bytes()
            + self.flap_k.capacity() * 4
            + self.flap_start.capacity() * 8
            + self.flap_end.capacity() * 8
    }

    /// Resolves an operation against the fleet (validated first).
    pub fn prepare(&mut self, op: &Operation) -> Result<PreparedOp> {
        op.validate()?;
        Ok(self.compile(op))
    }

    /// Resolves an operation that was validated already.
    pub(crate) fn compile(&mut self, op: &Operation) -> PreparedOp {
        PreparedOp {
            op: self.compile_op(op),
        }
    }

    /// The resolved form of `op`.
    fn compile_op(&mut self, op: &Operation) -> Op {
        let fleet = &mut self.fleet;
        match op {
            Operation::Property { name, value } => Op::Property {
                desired: fleet.intern(ColumnKind::Desired, name, value),
                reported: fleet.intern(ColumnKind::Reported, name, value),
                check: self.schema_checks(|t| t.property(name), value),
            },
            Operation::CloudProperty { name, value } => Op::CloudProperty {
                value: fleet.intern(ColumnKind::Cloud, name, value),
                check: self.schema_checks(|t| t.cloud_property(name), value),
            },
            Operation::Command {
                name,
                payload,
                response_timeout_ms,
                connect_timeout_ms,
            } => Op::Command {
                check: self.template_table(|t| match t.has_command(name) {
                    true => OK,
                    false => Reason::NotInTemplate as u8,
                }),
                chunks: Operation::chunks(payload),
                response_timeout_ms: *response_timeout_ms,
                connect_timeout_ms: *connect_timeout_ms,
            },
            Operation::TemplateMigration { template } => Op::Migration {
                template: fleet.template_index(template),
            },
            Operation::ManifestMigration { manifest } => Op::Manifest {
                value: fleet.intern(
                    ColumnKind::Manifest,
                    MANIFEST_COLUMN,
                    &manifest.as_str().into(),
                ),
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
                missing: self.template_table(|t| !t.has_command(name)),
                response_timeout_ms: *response_timeout_ms,
                connect_timeout_ms: *connect_timeout_ms,
            },
            Operation::JobDocument { .. } => Op::Document,
            Operation::Multiple { operations } => Op::Multiple {
                parts: operations.iter().map(|o| self.compile_op(o)).collect(),
            },
        }
    }

    /// One entry per template of the fleet: `f` of the template.
    fn template_table<T>(&self, f: impl Fn(&TemplateSpec) -> T) -> Vec<T> {
        self.fleet.templates().iter().map(f).collect()
    }

    /// Per template: the reason code of writing `value` to the property `schema` of the
    /// template finds (`not_in_template`, `schema_mismatch`), or 0.
    fn schema_checks(
        &self,
        schema: impl Fn(&TemplateSpec) -> Option<Schema>,
        value: &Value,
    ) -> Vec<u8> {
        self.template_table(|t| match schema(t) {
            None => Reason::NotInTemplate as u8,
            Some(s) if !s.matches(value) => Reason::SchemaMismatch as u8,
            Some(_) => OK,
        })
    }

    /// Why a run of `op` cannot execute at all (a template migration to a template the fleet
    /// does not have, also as one of several operations), or `None` if it can. Such a run fails
    /// when it starts (semantics rule 7).
    pub fn cannot_execute(&self, op: &PreparedOp) -> Option<Error> {
        let missing = |op: &Op| matches!(op, Op::Migration { template: None });
        let cannot = match &op.op {
            Op::Multiple { parts } => parts.iter().any(missing),
            op => missing(op),
        };
        cannot.then(|| {
            Error::at(
                "template",
                ErrorKind::InvalidValue("the fleet has no such template".into()),
            )
        })
    }

    /// Dispatches `op` to device `device` (a fleet index), attempt `attempt` of run `run`, at
    /// `now_ms`: writes the dispatch's effect on the fleet, takes the hub's throttle tokens and
    /// draws the device's fate.
    pub fn dispatch(
        &mut self,
        op: &PreparedOp,
        device: u32,
        run: RunKey,
        attempt: u8,
        now_ms: i64,
    ) -> Fate {
        self.dispatch_raw::<false>(op, device, run, attempt, now_ms, true)
            .into()
    }

    /// The fate of a dispatch that already happened at `sent_ms` (a driver restarting with
    /// devices in flight): the same draws as [`DeviceModel::dispatch`], but nothing is written
    /// and no throttle token is taken (the operation is taken to have been sent at `sent_ms`).
    pub fn redraw(
        &mut self,
        op: &PreparedOp,
        device: u32,
        run: RunKey,
        attempt: u8,
        sent_ms: i64,
    ) -> Fate {
        self.dispatch_raw::<false>(op, device, run, attempt, sent_ms, false)
            .into()
    }

    /// Whether no device's connectivity can change while the model dispatches: no real device,
    /// no crash recorded, and no behaviour profile with a reconnect time, flapping or crashes
    /// ([`crate::behaviour::Profile::is_steady`]). A dispatch then needs none of their
    /// checks: the executor checks once per batch and dispatches the batch through a copy
    /// without them ([`DeviceModel::dispatch_raw`] with `STEADY`). Nothing a steady model's
    /// dispatch does can make it unsteady (no profile crashes). O(profiles).
    pub(crate) fn steady(&self) -> bool {
        self.real_count() == 0 && self.crashed_until.is_empty() && self.behaviour.is_steady()
    }

    /// [`DeviceModel::dispatch`] (`write`) or [`DeviceModel::redraw`], in the compact form.
    /// Always inlined into the executor's dispatch, with [`DeviceModel::fate`] and
    /// [`DeviceModel::single`] (see there). `STEADY`: the caller found [`DeviceModel::steady`]
    /// true, and the checks for what cannot happen then are left out of this copy.
    #[inline(always)]
    pub(crate) fn dispatch_raw<const STEADY: bool>(
        &mut self,
        op: &PreparedOp,
        device: u32,
        run: RunKey,
        attempt: u8,
        now_ms: i64,
        write: bool,
    ) -> RawFate {
        let epoch = self.epoch_ms;
        self.fate::<STEADY>(op, device, run, attempt, now_ms - epoch, write)
            .shifted(epoch)
    }

    /// The fate of a dispatch at model time `now_ms`; `write`: apply its effects and take
    /// throttle tokens.
    #[inline(always)]
    fn fate<const STEADY: bool>(
        &mut self,
        op: &PreparedOp,
        d: u32,
        run: RunKey,
        attempt: u8,
        now_ms: i64,
        write: bool,
    ) -> RawFate {
        let at = Sent {
            device: d,
            run,
            counter: draw_counter(attempt, 0),
            now_ms,
            write,
        };
        match &op.op {
            Op::Multiple { parts } => self.multiple(at, parts),
            op => self.single::<STEADY>(at, op),
        }
    }

    /// The fate of several operations sent together (docs/semantics.md section 18): each
    /// draws from its own counter, and [`RawFate::and`] combines them in order.
    #[inline(never)]
    fn multiple(&mut self, at: Sent, parts: &[Op]) -> RawFate {
        debug_assert!((2..=Operation::MAX_ENTRIES).contains(&parts.len()));
        let mut all = RawFate::at(at.now_ms, OK, false);
        for (k, part) in parts.iter().enumerate() {
            let counter = at.counter | draw_counter(0, k);
            all = all.and(k, self.single::<false>(Sent { counter, ..at }, part));
        }
        all
    }

    /// The fate of one operation (not `Multiple`). Always inlined: it is the dispatch's hot
    /// path, and left to itself the compiler keeps it out of line (12 % more instructions per
    /// dispatch, measured with callgrind on `examples/rollout.toml`).
    #[inline(always)]
    fn single<const STEADY: bool>(&mut self, at: Sent, op: &Op) -> RawFate {
        let template = self.fleet.template_of(at.device);
        match op {
            Op::CloudProperty {
                value,
                check: table,
            } => self.cloud_property(at, *value, check(table, template)),
            Op::Migration { template } => self.migration(at, *template),
            Op::Manifest { value: (c, v) } => {
                if at.write {
                    self.fleet.write_manifest(at.device, *c, *v);
                }
                RawFate::at(at.now_ms, OK, at.write)
            }
            Op::UpdateTwin { tags, desired } => {
                let send = self.grant_queued(at.now_ms, at.write);
                if at.write {
                    self.fleet.patch_twin(at.device, tags, desired);
                }
                RawFate::at(send, OK, at.write)
            }
            Op::Property {
                desired,
                check: table,
                ..
            } => self.property::<STEADY>(at, *desired, check(table, template)),
            Op::Command {
                check: table,
                chunks,
                response_timeout_ms,
                connect_timeout_ms,
            } => {
                let timeouts = (*response_timeout_ms, *connect_timeout_ms);
                self.command(at, check(table, template), *chunks, timeouts)
            }
            Op::Document => {
                self.device_property::<STEADY>(at.device, at.run, at.counter, at.now_ms)
            }
            Op::Method {
                missing,
                response_timeout_ms,
                connect_timeout_ms,
            } => {
                let missing = template != NO_TEMPLATE && missing[template as usize];
                let send = self.grant_queued(at.now_ms, at.write);
                let timeouts = (*response_timeout_ms, *connect_timeout_ms);
                self.device_method(at.device, at.run, at.counter, send, timeouts, missing)
            }
            Op::Multiple { .. } => unreachable!("operations do not nest (Operation::validate)"),
        }
    }

    /// A cloud property: stored at once if the template has it (`check` is 0).
    #[inline]
    fn cloud_property(&mut self, at: Sent, (column, value): (u32, u32), check: u8) -> RawFate {
        let wrote = check == OK && at.write;
        if wrote {
            self.fleet.write_cloud(at.device, column, value);
        }
        RawFate::at(at.now_ms, check, wrote)
    }

    /// A template migration: at once, to a template the fleet has.
    #[inline]
    fn migration(&mut self, at: Sent, template: Option<u16>) -> RawFate {
        let Some(t) = template else {
            return RawFate::at(at.now_ms, Reason::NotInTemplate as u8, false);
        };
        if at.write {
            self.fleet.set_template(at.device, t);
        }
        RawFate::at(at.now_ms, OK, at.write)
    }

    /// A writable property: the template check, the twin-update throttle, the desired value
    /// written, then the device's acknowledgement. Always inlined, as is
    /// [`Self::device_property`]: out of line they cost 40 instructions a dispatch in calls
    /// and register saves (callgrind, `examples/rollout.toml` at 1,000,000 devices: 1,180 ->
    /// 1,140 per device; the S1 and flapping examples 12 and 16 % fewer).
    #[inline(always)]
    fn property<const STEADY: bool>(
        &mut self,
        at: Sent,
        (column, value): (u32, u32),
        check: u8,
    ) -> RawFate {
        if check != OK {
            return RawFate::at(at.now_ms, check, false);
        }
        let Some(send) = self.grant(Throttle::TwinUpdates, at.now_ms, 1, at.write) else {
            return RawFate::at(at.now_ms, Reason::Throttled as u8, false);
        };
        if at.write {
            self.fleet.write_desired(at.device, column, value);
        }
        self.device_property::<STEADY>(at.device, at.run, at.counter, send)
            .with_wrote(u32::from(at.write))
    }

    /// An IoT Central command: the template check, the direct-method throttle (one token per
    /// 8 KB chunk of payload), then the device's answer.
    #[inline]
    fn command(&mut self, at: Sent, check: u8, chunks: u32, timeouts: (i64, i64)) -> RawFate {
        if check != OK {
            return RawFate::at(at.now_ms, check, false);
        }
        let throttle = Throttle::DirectMethods;
        let Some(send) = self.grant(throttle, at.now_ms, chunks, at.write) else {
            return RawFate::at(at.now_ms, Reason::Throttled as u8, false);
        };
        self.device_method(at.device, at.run, at.counter, send, timeouts, false)
    }

    /// The device's answer arrived with `reason` (`None`: success): a successful property
    /// answer writes the reported value. The fleet sees the answer even when the run no longer
    /// waits for it.
    #[inline]
    pub fn answer(&mut self, op: &PreparedOp, device: u32, reason: Option<Reason>) {
        if reason.is_none() {
            self.replay_answer(op, device);
        }
    }

    /// Applies again the writes of a dispatch whose [`Fate::wrote`] was true (rebuilding the
    /// fleet from a log): `parts` is its [`Fate::wrote_parts`]. Draws nothing, takes no
    /// throttle token.
    pub fn replay_dispatch(&mut self, op: &PreparedOp, device: u32, parts: u32) {
        match &op.op {
            Op::Multiple { parts: ops } => {
                for (k, part) in ops.iter().enumerate() {
                    if parts & (1 << k) != 0 {
                        self.rewrite(part, device);
                    }
                }
            }
            op => self.rewrite(op, device),
        }
    }

    /// The dispatch write of one operation (not `Multiple`).
    fn rewrite(&mut self, op: &Op, d: u32) {
        match op {
            Op::CloudProperty { value: (c, v), .. } => self.fleet.write_cloud(d, *c, *v),
            Op::Migration { template: Some(t) } => self.fleet.set_template(d, *t),
            Op::Manifest { value: (c, v) } => self.fleet.write_manifest(d, *c, *v),
            Op::UpdateTwin { tags, desired } => self.fleet.patch_twin(d, tags, desired),
            Op::Property {
                desired: (c, v), ..
            } => self.fleet.write_desired(d, *c, *v),
            Op::Migration { template: None }
            | Op::Command { .. }
            | Op::Method { .. }
            | Op::Document
            | Op::Multiple { .. } => {}
        }
    }

    /// A successful answer to `op` from `device`: writes the reported value of each property
    /// (of every property operation of a `multiple` one). Returns whether it wrote.
    #[inline]
    pub(crate) fn acknowledged(&mut self, op: &PreparedOp, device: u32) -> bool {
        match &op.op {
            Op::Property {
                reported: (c, v), ..
            } => {
                self.fleet.write_reported(device, *c, *v);
                true
            }
            Op::Multiple { .. } => {
                self.replay_answer(op, device);
                self.writes_on_answer(op)
            }
            _ => false,
        }
    }

    /// Whether a successful answer to `op` writes to the fleet (a property's reported value).
    pub fn writes_on_answer(&self, op: &PreparedOp) -> bool {
        match &op.op {
            Op::Multiple { parts } => parts.iter().any(|p| matches!(p, Op::Property { .. })),
            op => matches!(op, Op::Property { .. }),
        }
    }

    /// Applies again the write of a successful answer (rebuilding the fleet from a log).
    #[inline]
    pub fn replay_answer(&mut self, op: &PreparedOp, device: u32) {
        let parts = match &op.op {
            Op::Multiple { parts } => &parts[..],
            op => std::slice::from_ref(op),
        };
        for part in parts {
            if let Op::Property {
                reported: (c, v), ..
            } = part
            {
                self.fleet.write_reported(device, *c, *v);
            }
        }
    }

    /// A job device operation (twin patch, device method): the hub queues it without bound.
    #[inline]
    fn grant_queued(&mut self, now_ms: i64, take: bool) -> i64 {
        match self.hub.as_mut().filter(|_| take) {
            Some(hub) => hub
                .grant(Throttle::JobDeviceOps, now_ms, 1)
                .unwrap_or(now_ms),
            None => now_ms,
        }
    }

    /// When the hub sends an operation of `cost` tokens asked for at `now_ms`; `None`: it
    /// refuses it (throttled). Nothing is taken unless `take`.
    #[inline]
    fn grant(&mut self, throttle: Throttle, now_ms: i64, cost: u32, take: bool) -> Option<i64> {
        match self.hub.as_mut().filter(|_| take) {
            Some(hub) => hub.grant(throttle, now_ms, cost),
            None => Some(now_ms),
        }
    }

    /// One uniform draw deciding the fault, then the latency: the first draws of the
    /// operation stream of (device, run, attempt). Returns them with the fault the draw picks
    /// (crash is decided by the caller: `u < crash_p`).
    #[inline(always)]
    fn draw<const STEADY: bool>(&self, d: u32, run: RunKey, counter: u32) -> Draw {
        let key = self.fleet.key(d);
        let profile = self.behaviour.profile(d);
        let mut r = run.stream(key, counter, Purpose::Operation);
        let u = unit_f64(r.next_u64());
        let latency_ms = profile.latency.sample(&mut r);
        // Rejection, device error or none, in the order of the probability line.
        let (crash, reject) = (profile.crash_p, profile.crash_p + profile.reject_p);
        let fault = if u < reject {
            Reason::Rejected as u8
        } else if u < reject + profile.failure_p {
            Reason::DeviceError as u8
        } else {
            OK
        };
        debug_assert!(!STEADY || crash == 0.0, "a steady model has no crashes");
        Draw {
            crashed: !STEADY && u < crash,
            latency_ms,
            fault,
        }
    }

    /// A writable property (or a job document) sent at `send`: the device acknowledges once
    /// it is online.
    #[inline(always)]
    fn device_property<const STEADY: bool>(
        &mut self,
        d: u32,
        run: RunKey,
        counter: u32,
        send: i64,
    ) -> RawFate {
        let real = if STEADY { None } else { self.real.as_ref() };
        if let Some(connected) = real.and_then(|r| r.get(d)) {
            return Self::real_property(connected);
        }
        let Some(arrive) = self.next_online::<STEADY>(d, send) else {
            return RawFate::pending_only(NEVER, Reason::Offline as u8);
        };
        let pending = if arrive > send {
            Reason::Offline as u8
        } else {
            OK
        };
        let draw = self.draw::<STEADY>(d, run, counter);
        let done = arrive.saturating_add(draw.latency_ms);
        if draw.crashed {
            return self.crashed_property(d, run, counter, done);
        }
        RawFate::new(done, draw.fault, pending, 0)
    }

    /// A property dispatch whose device crashed before it answered (at `done`): no answer;
    /// the device comes back after its downtime, re-reads its desired properties and
    /// acknowledges. Never reached from a steady model's dispatch (no profile crashes), so
    /// it has the general instance only.
    #[cold]
    #[inline(never)]
    fn crashed_property(&mut self, d: u32, run: RunKey, counter: u32, done: i64) -> RawFate {
        let back = self.crash(d, run, counter, done);
        let Some(arrive2) = self.next_online::<false>(d, back) else {
            return RawFate::pending_only(NEVER, Reason::Crashed as u8);
        };
        let key = self.fleet.key(d);
        let mut r2 = run.stream(key, counter, Purpose::Reanswer);
        let latency2 = self.behaviour.profile(d).latency.sample(&mut r2);
        RawFate::pending_only(arrive2.saturating_add(latency2), Reason::Crashed as u8)
    }

    /// A command or direct method sent at `send`, with its (response, connect) timeouts.
    fn device_method(
        &mut self,
        d: u32,
        run: RunKey,
        counter: u32,
        send: i64,
        (response_timeout_ms, connect_timeout_ms): (i64, i64),
        missing: bool,
    ) -> RawFate {
        if let Some(connected) = self.real.as_ref().and_then(|r| r.get(d)) {
            let timeouts = (response_timeout_ms, connect_timeout_ms);
            return Self::real_method(connected, send, timeouts);
        }
        let arrive = match self.next_online::<false>(d, send) {
            Some(a) if a <= send.saturating_add(connect_timeout_ms) => a,
            _ => {
                let at = send.saturating_add(connect_timeout_ms);
                return RawFate::at(at, Reason::Offline as u8, false);
            }
        };
        let draw = self.draw::<false>(d, run, counter);
        let timeout_at = arrive.saturating_add(response_timeout_ms);
        let done = arrive.saturating_add(draw.latency_ms);
        if draw.crashed {
            self.crash(d, run, counter, done.min(timeout_at));
            return RawFate::at(timeout_at, Reason::Crashed as u8, false);
        }
        if draw.latency_ms > response_timeout_ms {
            return RawFate::at(timeout_at, Reason::ResponseTimeout as u8, false);
        }
        let reason = match missing {
            true => Reason::NotInTemplate as u8,
            false => draw.fault,
        };
        RawFate::at(done, reason, false)
    }

    /// Device `d` crashes at `at_ms`: it is offline for its crash downtime. Returns when it is
    /// back.
    fn crash(&mut self, d: u32, run: RunKey, counter: u32, at_ms: i64) -> i64 {
        let key = self.fleet.key(d);
        let mut r = run.stream(key, counter, Purpose::Crash);
        let back = at_ms.saturating_add(self.behaviour.profile(d).crash_downtime.sample(&mut r));
        let until = self.crashed_until.entry(d).or_insert(back);
        *until = (*until).max(back);
        back
    }

    /// The first instant at or after `t` when device `d` is online, or `None` if it never is.
    ///
    /// A device is offline while any of these holds: it is unprovisioned or disabled (forever); it started
    /// disconnected or was drawn offline from the start, until its reconnect time (never without
    /// a `reconnect` distribution); it crashed, until its downtime ends; it is flapping and in a
    /// down interval. Each condition is a pure function of the device's streams (crashes
    /// aside, which are recorded when they happen), so the answer does not depend on event
    /// order.
    ///
    /// `STEADY` ([`DeviceModel::steady`] held when the caller checked): no reconnect, no
    /// flapping and no crash can delay the device, and this copy does not look for them.
    // Always inlined: once per dispatch, and its call cost a fifth of its own work
    // (callgrind, examples/rollout.toml at 1,000,000 devices).
    #[inline(always)]
    fn next_online<const STEADY: bool>(&mut self, d: u32, mut t: i64) -> Option<i64> {
        let profile = self.behaviour.profile(d);
        debug_assert!(
            !STEADY || profile.is_steady(),
            "device {d}'s profile is not steady"
        );
        let key = self.fleet.key(d);
        let seed = self.seed_key;
        let starts_offline = self.fleet.starts_disconnected(d)
            || (profile.offline_p > 0.0 && seed.unit(key, 0, Purpose::Offline) < profile.offline_p);
        let reconnect_ms = if starts_offline {
            if !self.fleet.can_connect(d) {
                return None;
            }
            let reconnect = if STEADY {
                None
            } else {
                profile.reconnect.as_ref()
            };
            let sampler = reconnect?;
            Some(sampler.sample(&mut seed.stream(key, 1, Purpose::Offline)))
        } else {
            None
        };
        let flapping = if STEADY { None } else { profile.flapping };
        let crashed = match STEADY || self.crashed_until.is_empty() {
            true => None,
            false => self.crashed_until.get(&d).copied(),
        };
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
    ///
    /// Interval 0 starts at time 0, down with probability `down / (up + down)` (draw 0 of the
    /// flap stream); intervals alternate; interval `k` lasts an exponential time with the mean
    /// of its state (draw `k + 1`), at least 1 ms. The walk resumes from the last interval
    /// reached. So that a walk is bounded whatever the means, the process starts afresh every
    /// epoch of 2^20 mean cycles (at least 2^20 ms, at most [`crate::MAX_VIRTUAL_MS`]): epoch
    /// `e > 0` draws from the flap stream of the device's key mixed with `e`, and the interval
    /// in progress at an epoch's end is cut there.
    ///
    /// `t` within the interval reached last (a nightly job meets most devices in the interval
    /// it met them in the night before) is answered from the cursor alone: the interval lies
    /// within one epoch, so it is `t`'s epoch, and nothing is drawn, computed or stored.
    #[inline]
    fn flap_next_up(&mut self, d: u32, key: u64, f: Flapping, t: i64) -> i64 {
        let i = d as usize;
        if let (Some(&k), Some(&s), Some(&e)) = (
            self.flap_k.get(i),
            self.flap_start.get(i),
            self.flap_end.get(i),
        ) {
            if s <= t && t < e {
                return if k & FLAP_DOWN != 0 { e } else { t };
            }
        }
        self.flap_walk(d, key, f, t)
    }

    /// [`Self::flap_next_up`] past the interval reached last: the walk onwards.
    /// Kept out of line: inlined, it made `next_online`, the hot path of every dispatch, a
    /// third slower for fleets that do not flap.
    #[inline(never)]
    fn flap_walk(&mut self, d: u32, key: u64, f: Flapping, t: i64) -> i64 {
        let seed = self.seed_key;
        let epoch_ms = (FLAP_EPOCH_CYCLES * (f.mean_up_ms + f.mean_down_ms))
            .clamp(FLAP_EPOCH_CYCLES, crate::MAX_VIRTUAL_MS as f64) as i64;
        // An epoch is a million cycles: nearly every run stays in epoch 0 (no division).
        let epoch = if t < epoch_ms { 0 } else { t / epoch_ms };
        let epoch_start = epoch * epoch_ms;
        let epoch_end = epoch_start.saturating_add(epoch_ms);
        // Epoch 0 keeps the device's own key: the walk of every earlier version.
        let key = key ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if self.flap_k.is_empty() {
            let n = self.fleet.len() as usize;
            self.flap_k = vec![0; n];
            self.flap_start = vec![0; n];
            self.flap_end = vec![0; n];
        }
        let i = d as usize;
        // Resume from the interval reached last if it is of this epoch and starts by `t`: its
        // end and state are known, nothing is drawn again.
        let (s, e) = (self.flap_start[i], self.flap_end[i]);
        let (mut k, mut start, mut down, mut known_end) = if s <= t && s >= epoch_start && e > s {
            let k = self.flap_k[i];
            (k & !FLAP_DOWN, s, k & FLAP_DOWN != 0, Some(e))
        } else {
            let pd = f.mean_down_ms / (f.mean_up_ms + f.mean_down_ms);
            let first_down = seed.unit(key, 0, Purpose::Flap) < pd;
            (0, epoch_start, first_down, None)
        };
        loop {
            let end = known_end.take().unwrap_or_else(|| {
                let mean = if down { f.mean_down_ms } else { f.mean_up_ms };
                let u = seed.unit(key, k + 1, Purpose::Flap);
                // Exactly `.round().max(1.0) as i64` for these non-negative lengths: a length
                // past the clamp of `round_ms` ends the walk at the epoch's end either way.
                let len = crate::distribution::round_ms(-mean * (1.0 - u).ln()).max(1);
                start.saturating_add(len).min(epoch_end)
            });
            // `end >= epoch_end`: the epoch's last interval (or time saturated): the walk ends.
            if t < end || end >= epoch_end {
                debug_assert!(k < FLAP_DOWN, "a walk is bounded by its epoch");
                self.flap_k[i] = k | if down { FLAP_DOWN } else { 0 };
                self.flap_start[i] = start;
                self.flap_end[i] = end;
                return if down { end.max(t) } else { t };
            }
            k += 1;
            start = end;
            down = !down;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::generator::FleetSpec;

    proptest! {
        /// A fate's codes give back what it was built from, and [`RawFate::with_wrote`]
        /// changes only the written operations.
        #[test]
        fn raw_fate_codes_round_trip(
            at_ms in any::<i64>(),
            reason in any::<u8>(),
            pending in any::<u8>(),
            wrote in any::<u32>(),
            other in any::<u32>(),
        ) {
            let fate = RawFate::new(at_ms, reason, pending, wrote);
            prop_assert_eq!(
                (fate.answer_at_ms, fate.reason(), fate.pending(), fate.wrote()),
                (at_ms, reason, pending, wrote)
            );
            let changed = fate.with_wrote(other);
            prop_assert_eq!(
                (changed.answer_at_ms, changed.reason(), changed.pending(), changed.wrote()),
                (at_ms, reason, pending, other)
            );
        }
    }

    /// A model of `n` devices that flap with these means.
    fn flapping(n: u32, up_ms: f64, down_ms: f64, seed: u64) -> DeviceModel {
        let spec: FleetSpec = serde_json::from_value(serde_json::json!({"devices": n})).unwrap();
        let fleet = Fleet::generate(&spec, &[], seed).unwrap();
        let behaviour: BehaviourSpec = serde_json::from_value(serde_json::json!({"rules": [
            {"flapping": {"mean_up_ms": up_ms, "mean_down_ms": down_ms}}
        ]}))
        .unwrap();
        DeviceModel::new(seed, fleet, &behaviour, None).unwrap()
    }

    proptest! {
        /// The walk resumed from the cursor (its interval's end and state kept) gives exactly
        /// what a walk from the start of the epoch gives, whatever the order of the times.
        #[test]
        fn the_resumed_flapping_walk_is_the_walk_from_scratch(
            seed in 0u64..1000,
            up_ms in 1.0f64..100_000.0,
            down_ms in 1.0f64..100_000.0,
            steps in proptest::collection::vec((0u32..4, 0i64..400_000, any::<bool>()), 1..60),
        ) {
            let mut resumed = flapping(4, up_ms, down_ms, seed);
            let f = resumed.behaviour.profile(0).flapping.expect("flapping");
            let mut t = [0i64; 4];
            for (d, dt, back) in steps {
                // Mostly forward in time, sometimes back (a redraw after a restart).
                let i = d as usize;
                t[i] = if back { (t[i] - dt).max(0) } else { t[i] + dt };
                let key = resumed.fleet.key(d);
                let mut scratch = resumed.clone();
                scratch.flap_k.clear();
                let want = scratch.flap_next_up(d, key, f, t[i]);
                prop_assert_eq!(resumed.flap_next_up(d, key, f, t[i]), want);
            }
        }
    }
}
