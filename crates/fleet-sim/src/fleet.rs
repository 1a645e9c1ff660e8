//! [`Fleet`]: the simulated devices, stored column-wise.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::generator::{pick, template_counts, FleetSpec, IdPattern};
use crate::rng::{self, Purpose};
use crate::template::TemplateSpec;
use crate::util::column::{Columns, NONE};

/// The template index of a device without a template.
pub(crate) const NO_TEMPLATE: u16 = u16::MAX;

pub(crate) const PROVISIONED: u8 = 1;
pub(crate) const SIMULATED: u8 = 2;
pub(crate) const DISCONNECTED: u8 = 4;
/// The device's identity is disabled (IoT Hub `status: "disabled"`, IoT Central
/// `enabled: false`): it cannot connect.
pub(crate) const DISABLED: u8 = 8;
/// The device is an IoT Edge device (`capabilities.iotEdge`).
pub(crate) const IOT_EDGE: u8 = 16;
/// The flags that decide the connection state: connected when only `PROVISIONED` of them is
/// set.
pub(crate) const CONNECTED_MASK: u8 = DISCONNECTED | PROVISIONED | DISABLED;

mod explicit;
pub use explicit::{DeviceFacts, FleetBuilder, Section};

/// The devices of a simulation: ids, templates, tags, desired, reported and cloud properties with
/// versions, and the provisioned, simulated and connected flags.
///
/// Devices are addressed by their *index* `0..len()`, which is also their order by id (ids
/// sort byte-wise in index order), so a job's targets are an increasing list of indices.
///
/// # Representation and trade-offs
///
/// Everything is stored column-wise, so the cost per device is a few bytes per column rather
/// than a struct with maps:
///
/// | data | storage | bytes per device |
/// |---|---|---|
/// | id | generated: formatted from the pattern on demand; explicit: the sorted ids in one string, with a `u32` end offset each | 0 / id length + 4 |
/// | device key (random streams) | generated: the id number; explicit: a hash of the id | 0 / 8 |
/// | template | `u16` index into the template table | 2 |
/// | flags | one byte (provisioned, simulated, disconnected, disabled, IoT Edge) | 1 |
/// | each tag, desired, reported or cloud property | an interned-value column, allocated on its first write; one byte per device while it has fewer than 255 distinct values, then 2 or 4 | 1 (2, 4) |
/// | desired and reported `$version` | a one-byte write count each, allocated on the first write; counts past 254 continue in a sparse map | 1 + 1 |
///
/// A million devices with three tags take about 6 MB ([`Fleet::heap_bytes`]); after a property
/// job, about 10 MB. Lookups by index are O(1); [`Fleet::index_of`] is O(1) for generated ids
/// (parse the number) and O(log N) for explicit ones (binary search). Names of columns are kept
/// in `BTreeMap`s, so every listing is in name order, independent of insertion order.
#[derive(Debug, Clone)]
pub struct Fleet {
    ids: Ids,
    templates: Vec<TemplateSpec>,
    template_of: Vec<u16>,
    flags: Vec<u8>,
    pub(crate) tags: Columns,
    pub(crate) desired: Columns,
    pub(crate) reported: Columns,
    pub(crate) cloud: Columns,
    /// The IoT Edge deployment manifest assigned by a manifest migration (one column,
    /// [`MANIFEST_COLUMN`]); empty until the first.
    pub(crate) manifests: Columns,
    /// Writes of desired properties per device (`$version` = 1 + writes); empty until the first.
    desired_writes: Counter,
    /// Writes of reported properties per device (`$version` = 1 + writes); empty until the first.
    reported_writes: Counter,
}

#[derive(Debug, Clone)]
enum Ids {
    Pattern {
        pattern: IdPattern,
        start: u64,
        len: u32,
    },
    Explicit {
        /// Every id, in index order, one after the other.
        text: String,
        /// The end offset in `text` of each id (the start is the previous end, or 0).
        ends: Vec<u32>,
        keys: Vec<u64>,
    },
}

impl Ids {
    /// The explicit id at `index` (an explicit fleet only).
    #[inline]
    fn explicit<'t>(text: &'t str, ends: &[u32], index: usize) -> &'t str {
        let start = match index {
            0 => 0,
            i => ends[i - 1] as usize,
        };
        &text[start..ends[index] as usize]
    }
}

/// The id of one device, borrowed from its [`Fleet`]: formatted on demand, so listing the ids
/// of ten million devices allocates nothing. `to_string()` gives an owned `String`.
#[derive(Debug, Clone, Copy)]
pub struct DeviceId<'a>(IdRepr<'a>);

#[derive(Debug, Clone, Copy)]
enum IdRepr<'a> {
    Pattern(&'a IdPattern, u64),
    Str(&'a str),
}

impl fmt::Display for DeviceId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IdRepr::Pattern(p, n) => {
                write!(f, "{}{:0width$}{}", p.prefix, n, p.suffix, width = p.width)
            }
            IdRepr::Str(s) => f.write_str(s),
        }
    }
}

impl PartialEq<&str> for DeviceId<'_> {
    fn eq(&self, other: &&str) -> bool {
        match self.0 {
            IdRepr::Str(s) => s == *other,
            IdRepr::Pattern(p, n) => p.number_of(other) == Some(n),
        }
    }
}

/// One device of an explicit fleet ([`Fleet::from_devices`], [`Fleet::from_json`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DeviceSpec {
    /// The device id (unique).
    pub id: String,
    /// Its template id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Tags (top-level names; values any JSON).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String, Value>,
    /// Desired properties (version 1).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub desired: Map<String, Value>,
    /// Reported properties (version 1).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub reported: Map<String, Value>,
    /// Cloud property values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub cloud_properties: Map<String, Value>,
    /// Whether the device is provisioned (default true); an unprovisioned device never connects.
    #[serde(default = "yes")]
    pub provisioned: bool,
    /// Whether the device is simulated (default true).
    #[serde(default = "yes")]
    pub simulated: bool,
    /// Whether the device is connected at the start (default true). A disconnected device is
    /// offline from the start, like a device drawn offline by a behaviour rule.
    #[serde(default = "yes")]
    pub connected: bool,
    /// Whether the device's identity is enabled (default true; IoT Hub `status`). A disabled
    /// device cannot connect: it is offline for good, like an unprovisioned one.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Whether the device is an IoT Edge device (default false; `capabilities.iotEdge`).
    #[serde(default)]
    pub iot_edge: bool,
}

impl DeviceSpec {
    /// The flags of this device, for [`FleetBuilder::device`].
    pub fn facts(&self) -> DeviceFacts {
        DeviceFacts {
            provisioned: self.provisioned,
            simulated: self.simulated,
            connected: self.connected,
            enabled: self.enabled,
            iot_edge: self.iot_edge,
        }
    }
}

fn yes() -> bool {
    true
}

/// An owned copy of one device's state, for tests, debugging and reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceSnapshot {
    /// The id.
    pub id: String,
    /// The template id, if any.
    pub template: Option<String>,
    /// Tags, by name.
    pub tags: BTreeMap<String, Value>,
    /// Desired properties, by name.
    pub desired: BTreeMap<String, Value>,
    /// Desired `$version` (1 + writes).
    pub desired_version: u32,
    /// Reported properties, by name.
    pub reported: BTreeMap<String, Value>,
    /// Reported `$version` (1 + writes).
    pub reported_version: u32,
    /// Cloud property values, by name.
    pub cloud_properties: BTreeMap<String, Value>,
    /// Provisioned flag.
    pub provisioned: bool,
    /// Simulated flag.
    pub simulated: bool,
    /// The IoT Edge deployment manifest a manifest migration assigned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_manifest: Option<String>,
}

impl Fleet {
    /// Generates the fleet of `spec` with these templates, drawing tags and flags from `seed`.
    /// See [`FleetSpec`] for the rules.
    pub fn generate(spec: &FleetSpec, templates: &[TemplateSpec], seed: u64) -> Result<Self> {
        if let Some(file) = &spec.file {
            return Err(Error::at(
                "file",
                ErrorKind::InvalidValue(format!(
                    "{file:?} is an imported fleet: load it (fleet-import), it is not generated"
                )),
            ));
        }
        spec.validate()?;
        let templates = check_templates(templates)?;
        let pattern = IdPattern::parse(&spec.id_pattern).map_err(|e| e.within("id_pattern"))?;
        let mut fleet = Self::empty(
            Ids::Pattern {
                pattern,
                start: spec.id_start,
                len: spec.devices,
            },
            templates,
        );
        fleet.template_of = fleet.generated_templates(spec, seed)?;
        fleet.flags = Self::generated_flags(spec, seed);
        fleet.generate_values(spec, seed);
        Ok(fleet)
    }

    /// Each generated device's template: exact counts, spread by a seeded permutation.
    fn generated_templates(&self, spec: &FleetSpec, seed: u64) -> Result<Vec<u16>> {
        let n = spec.devices;
        let counts = template_counts(spec);
        let mut template_of = Vec::with_capacity(n as usize);
        for (i, share) in spec.templates.iter().enumerate() {
            let t = self.template_index(&share.template).ok_or_else(|| {
                Error::at(
                    format!("templates[{i}].template"),
                    ErrorKind::UnknownTemplate(share.template.clone()),
                )
            })?;
            template_of.extend(std::iter::repeat_n(t, counts[i] as usize));
        }
        template_of.resize(n as usize, NO_TEMPLATE);
        if spec.templates.len() > 1 {
            use rand::Rng;
            let mut r = rng::stream(seed, 0, 0, Purpose::Template);
            for i in (1..template_of.len()).rev() {
                let j = ((u128::from(r.next_u64()) * (i as u128 + 1)) >> 64) as usize;
                template_of.swap(i, j);
            }
        }
        Ok(template_of)
    }

    /// Each generated device's provisioned and simulated flags, drawn per device.
    ///
    /// A share of 1 (or 0) needs no draw: that flag is the same on every device, and when both
    /// are certain the column is one fill (a memset, no hash per device). Otherwise each
    /// uncertain flag costs one keyed draw per device (three rounds of the finalizer and a
    /// 128-bit multiply), from the device's key `id_start + index` ([`Fleet::key`]).
    fn generated_flags(spec: &FleetSpec, seed: u64) -> Vec<u8> {
        let (provisioned, simulated) = (spec.provisioned, spec.simulated);
        if let (Some(p), Some(s)) = (certain(provisioned), certain(simulated)) {
            return vec![flag_if(p, PROVISIONED) | flag_if(s, SIMULATED); spec.devices as usize];
        }
        let seed_key = rng::SeedKey::new(seed);
        let flag = move |key: u64, share: f64, purpose: Purpose, flag: u8| {
            let set = certain(share).unwrap_or_else(|| seed_key.unit(key, 0, purpose) < share);
            flag_if(set, flag)
        };
        let mut flags = vec![0; spec.devices as usize];
        // Keys from the index: a range of keys would step past the last (u64::MAX possible).
        for (i, f) in (0..spec.devices).zip(&mut flags) {
            let key = spec.id_start + u64::from(i);
            *f = flag(key, provisioned, Purpose::Provisioned, PROVISIONED)
                | flag(key, simulated, Purpose::Simulated, SIMULATED);
        }
        flags
    }

    /// Draws each generated device's tags and reported properties from their weighted values.
    ///
    /// Per device and column: one keyed draw (needed: the values are a function of it), a
    /// [`pick`] among the few weights, and a one-byte store, written straight into the cells
    /// ([`Column::fill_with`](crate::util::column::Column::fill_with)); a column of one value
    /// draws nothing. The key is `id_start + index` ([`Fleet::key`] of a generated fleet),
    /// computed without looking at the ids' representation per device.
    fn generate_values(&mut self, spec: &FleetSpec, seed: u64) {
        let n = spec.devices;
        let start = spec.id_start;
        debug_assert!(n == 0 || self.key(n - 1) == start + u64::from(n - 1));
        let seed_key = rng::SeedKey::new(seed);
        for (purpose, specs) in [
            (Purpose::Tag, &spec.tags),
            (Purpose::Reported, &spec.reported),
        ] {
            for (k, v) in specs.iter().enumerate() {
                let cumulative = v.cumulative();
                let columns = if purpose == Purpose::Tag {
                    &mut self.tags
                } else {
                    &mut self.reported
                };
                let id = columns.id(&v.name);
                let column = columns.by_id(id);
                let indices: Vec<u32> = v.values.iter().map(|w| column.intern(&w.value)).collect();
                // `move` closures of copies: state held in registers, not reloaded through
                // references after each store of a cell (a byte store may alias anything).
                let counter = k as u32;
                let draw = move |i: u32| seed_key.unit(start + u64::from(i), counter, purpose);
                match (&indices[..], &cumulative[..]) {
                    (&[only], _) => column.fill_with(n, move |_| only),
                    // Two values (a common tag): `pick` is one comparison, a conditional move.
                    (&[a, b], &[first, _]) => {
                        column.fill_with(n, move |i| if first <= draw(i) { b } else { a });
                    }
                    _ => column.fill_with(n, |i| indices[pick(&cumulative, draw(i))]),
                }
            }
        }
    }

    /// An explicit fleet from a list of devices, sorted by id. Ids must be unique and templates
    /// known. (A [`FleetBuilder`] does the same one device at a time.)
    pub fn from_devices(templates: &[TemplateSpec], devices: Vec<DeviceSpec>) -> Result<Self> {
        let mut builder = FleetBuilder::new();
        for d in &devices {
            let position = builder.device(&d.id, d.template.as_deref(), d.facts())?;
            for (section, map) in [
                (Section::Tags, &d.tags),
                (Section::Desired, &d.desired),
                (Section::Reported, &d.reported),
                (Section::CloudProperties, &d.cloud_properties),
            ] {
                for (name, value) in map {
                    builder.set(position, section, name, value);
                }
            }
        }
        builder.build(templates).map(|(fleet, _)| fleet)
    }

    /// An explicit fleet from a JSON array of [`DeviceSpec`]s.
    pub fn from_json(templates: &[TemplateSpec], json: &str) -> Result<Self> {
        let devices: Vec<DeviceSpec> =
            serde_json::from_str(json).map_err(|e| Error::new(ErrorKind::Json(e.to_string())))?;
        Self::from_devices(templates, devices)
    }

    fn empty(ids: Ids, templates: Vec<TemplateSpec>) -> Self {
        Self {
            ids,
            templates,
            template_of: Vec::new(),
            flags: Vec::new(),
            tags: Columns::default(),
            desired: Columns::default(),
            reported: Columns::default(),
            cloud: Columns::default(),
            manifests: Columns::default(),
            desired_writes: Counter::default(),
            reported_writes: Counter::default(),
        }
    }

    // ----- reading -----

    /// Number of devices.
    pub fn len(&self) -> u32 {
        self.template_of.len() as u32
    }

    /// Whether the fleet has no device.
    pub fn is_empty(&self) -> bool {
        self.template_of.is_empty()
    }

    /// The id of device `index`.
    pub fn id(&self, index: u32) -> DeviceId<'_> {
        match &self.ids {
            Ids::Pattern { pattern, start, .. } => {
                DeviceId(IdRepr::Pattern(pattern, start + u64::from(index)))
            }
            Ids::Explicit { text, ends, .. } => {
                DeviceId(IdRepr::Str(Ids::explicit(text, ends, index as usize)))
            }
        }
    }

    /// The index of the device with this id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        match &self.ids {
            Ids::Pattern {
                pattern,
                start,
                len,
            } => {
                let n = pattern.number_of(id)?.checked_sub(*start)?;
                (n < u64::from(*len)).then_some(n as u32)
            }
            Ids::Explicit { text, ends, .. } => {
                let (mut lo, mut hi) = (0, ends.len());
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    match Ids::explicit(text, ends, mid).cmp(id) {
                        std::cmp::Ordering::Less => lo = mid + 1,
                        std::cmp::Ordering::Greater => hi = mid,
                        std::cmp::Ordering::Equal => return Some(mid as u32),
                    }
                }
                None
            }
        }
    }

    /// The key of device `index` in the random streams: its id number for generated fleets, a
    /// hash of its id for explicit ones. A device's fate depends on this key, not on its index.
    #[inline]
    pub(crate) fn key(&self, index: u32) -> u64 {
        match &self.ids {
            Ids::Pattern { start, .. } => start + u64::from(index),
            Ids::Explicit { keys, .. } => keys[index as usize],
        }
    }

    /// The templates, in the order given.
    pub fn templates(&self) -> &[TemplateSpec] {
        &self.templates
    }

    /// The index of template `id` in [`Fleet::templates`].
    pub(crate) fn template_index(&self, id: &str) -> Option<u16> {
        self.templates
            .iter()
            .position(|t| t.id == id)
            .map(|i| i as u16)
    }

    /// The template index of device `index` ([`NO_TEMPLATE`] if none).
    #[inline]
    pub(crate) fn template_of(&self, index: u32) -> u16 {
        self.template_of[index as usize]
    }

    /// The template index of every device ([`NO_TEMPLATE`] if none), for compiled queries.
    pub(crate) fn template_cells(&self) -> &[u16] {
        &self.template_of
    }

    /// The flag byte of every device, for compiled queries.
    pub(crate) fn flag_bytes(&self) -> &[u8] {
        &self.flags
    }

    /// The template of device `index`, if it has one.
    pub fn template(&self, index: u32) -> Option<&TemplateSpec> {
        self.templates.get(self.template_of(index) as usize)
    }

    /// The value of tag `name` on device `index`.
    pub fn tag(&self, index: u32, name: &str) -> Option<&Value> {
        self.tags.get(name)?.get(index)
    }

    /// The desired property `name` of device `index`.
    pub fn desired(&self, index: u32, name: &str) -> Option<&Value> {
        self.desired.get(name)?.get(index)
    }

    /// The reported property `name` of device `index`.
    pub fn reported(&self, index: u32, name: &str) -> Option<&Value> {
        self.reported.get(name)?.get(index)
    }

    /// The cloud property `name` of device `index`.
    pub fn cloud_property(&self, index: u32, name: &str) -> Option<&Value> {
        self.cloud.get(name)?.get(index)
    }

    /// The desired properties' `$version` of device `index` (1, plus one per write).
    pub fn desired_version(&self, index: u32) -> u32 {
        1 + self.desired_writes.get(index)
    }

    /// The reported properties' `$version` of device `index` (1, plus one per write).
    pub fn reported_version(&self, index: u32) -> u32 {
        1 + self.reported_writes.get(index)
    }

    /// Whether device `index` is provisioned.
    pub fn is_provisioned(&self, index: u32) -> bool {
        self.flags[index as usize] & PROVISIONED != 0
    }

    /// Whether device `index` is simulated.
    pub fn is_simulated(&self, index: u32) -> bool {
        self.flags[index as usize] & SIMULATED != 0
    }

    /// Whether device `index`'s identity is enabled (false: it cannot connect).
    pub fn is_enabled(&self, index: u32) -> bool {
        self.flags[index as usize] & DISABLED == 0
    }

    /// Whether device `index` is an IoT Edge device (`capabilities.iotEdge`).
    pub fn is_iot_edge(&self, index: u32) -> bool {
        self.flags[index as usize] & IOT_EDGE != 0
    }

    /// Whether device `index` can ever connect: it is provisioned and enabled.
    pub(crate) fn can_connect(&self, index: u32) -> bool {
        self.flags[index as usize] & (PROVISIONED | DISABLED) == PROVISIONED
    }

    /// Whether device `index` is disconnected when the simulation starts: it was marked
    /// disconnected in its explicit spec, or it cannot connect at all.
    pub(crate) fn starts_disconnected(&self, index: u32) -> bool {
        self.flags[index as usize] & CONNECTED_MASK != PROVISIONED
    }

    /// An owned copy of device `index`'s state.
    pub fn snapshot(&self, index: u32) -> DeviceSnapshot {
        let collect = |columns: &Columns| {
            columns
                .iter()
                .filter_map(|(name, c)| c.get(index).map(|v| (name.to_string(), v.clone())))
                .collect()
        };
        DeviceSnapshot {
            id: self.id(index).to_string(),
            template: self.template(index).map(|t| t.id.clone()),
            tags: collect(&self.tags),
            desired: collect(&self.desired),
            desired_version: self.desired_version(index),
            reported: collect(&self.reported),
            reported_version: self.reported_version(index),
            cloud_properties: collect(&self.cloud),
            provisioned: self.is_provisioned(index),
            simulated: self.is_simulated(index),
            deployment_manifest: self.deployment_manifest(index).map(str::to_string),
        }
    }

    /// The heap memory the fleet holds, in bytes (vector capacities and interned values; the
    /// allocator's own overhead is not counted).
    pub fn heap_bytes(&self) -> usize {
        let ids = match &self.ids {
            Ids::Pattern { pattern, .. } => pattern.prefix.capacity() + pattern.suffix.capacity(),
            Ids::Explicit { text, ends, keys } => {
                text.capacity() + ends.capacity() * 4 + keys.capacity() * 8
            }
        };
        let columns = |m: &Columns| m.heap_bytes();
        let templates: usize = self
            .templates
            .iter()
            .map(|t| {
                std::mem::size_of::<TemplateSpec>()
                    + t.id.capacity()
                    + t.properties
                        .iter()
                        .map(|p| p.name.capacity() + 32)
                        .sum::<usize>()
                    + t.commands
                        .iter()
                        .map(|c| c.name.capacity() + 24)
                        .sum::<usize>()
                    + t.cloud_properties
                        .iter()
                        .map(|p| p.name.capacity() + 32)
                        .sum::<usize>()
            })
            .sum();
        ids + templates
            + self.template_of.capacity() * 2
            + self.flags.capacity()
            + columns(&self.tags)
            + columns(&self.desired)
            + columns(&self.reported)
            + columns(&self.cloud)
            + columns(&self.manifests)
            + self.desired_writes.heap_bytes()
            + self.reported_writes.heap_bytes()
    }

    // ----- writing (the simulator's job effects) -----

    /// Sets desired property column `column` of device `index` to interned `value` and bumps
    /// its desired `$version`.
    // Always inlined: once per device each in a property rollout; a call saved and
    // restored registers for a handful of stores (callgrind).
    #[inline(always)]
    pub(crate) fn write_desired(&mut self, index: u32, column: u32, value: u32) {
        let n = self.len();
        self.desired.by_id(column).set(index, value, n);
        self.desired_writes.bump(index, n);
    }

    /// Sets reported property column `column` of device `index` to interned `value` and bumps
    /// its reported `$version`.
    // Always inlined: once per device each in a property rollout; a call saved and
    // restored registers for a handful of stores (callgrind).
    #[inline(always)]
    pub(crate) fn write_reported(&mut self, index: u32, column: u32, value: u32) {
        let n = self.len();
        self.reported.by_id(column).set(index, value, n);
        self.reported_writes.bump(index, n);
    }

    /// Merges an interned twin patch (see [`Fleet::intern_patch`]) into device `index`; the
    /// desired `$version` is bumped once if `desired` is not empty.
    pub(crate) fn patch_twin(&mut self, index: u32, tags: &[(u32, u32)], desired: &[(u32, u32)]) {
        let n = self.len();
        for &(c, v) in tags {
            self.tags.by_id(c).set(index, v, n);
        }
        for &(c, v) in desired {
            self.desired.by_id(c).set(index, v, n);
        }
        if !desired.is_empty() {
            self.desired_writes.bump(index, n);
        }
    }

    /// Interns a patch of tags or desired properties: (column id, value index) per entry, a
    /// `null` becoming [`NONE`] (removal).
    pub(crate) fn intern_patch(
        &mut self,
        desired: bool,
        patch: &Map<String, Value>,
    ) -> Vec<(u32, u32)> {
        let columns = if desired {
            &mut self.desired
        } else {
            &mut self.tags
        };
        patch
            .iter()
            .map(|(name, value)| {
                let id = columns.id(name);
                let c = columns.by_id(id);
                let v = if value.is_null() {
                    NONE
                } else {
                    c.intern(value)
                };
                (id, v)
            })
            .collect()
    }

    /// Interns `value` into the column `name` of the desired (`Desired`), reported or cloud
    /// properties, creating the column if new. Returns (column id, value index).
    pub(crate) fn intern(&mut self, kind: ColumnKind, name: &str, value: &Value) -> (u32, u32) {
        let columns = match kind {
            ColumnKind::Desired => &mut self.desired,
            ColumnKind::Reported => &mut self.reported,
            ColumnKind::Cloud => &mut self.cloud,
            ColumnKind::Manifest => &mut self.manifests,
        };
        let id = columns.id(name);
        (id, columns.by_id(id).intern(value))
    }

    /// Stores interned cloud property `value` in column `column` of device `index`.
    #[inline]
    pub(crate) fn write_cloud(&mut self, index: u32, column: u32, value: u32) {
        let n = self.len();
        self.cloud.by_id(column).set(index, value, n);
    }

    /// Stores interned deployment manifest `value` (column `column`) on device `index`.
    #[inline]
    pub(crate) fn write_manifest(&mut self, index: u32, column: u32, value: u32) {
        let n = self.len();
        self.manifests.by_id(column).set(index, value, n);
    }

    /// The IoT Edge deployment manifest assigned to device `index`, if any.
    pub fn deployment_manifest(&self, index: u32) -> Option<&str> {
        self.manifests.get(MANIFEST_COLUMN)?.get(index)?.as_str()
    }

    /// Migrates device `index` to template `template`.
    #[inline]
    pub(crate) fn set_template(&mut self, index: u32, template: u16) {
        self.template_of[index as usize] = template;
    }
}

/// Which property columns [`Fleet::intern`] writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    Desired,
    Reported,
    Cloud,
    /// The deployment manifest (one column, [`MANIFEST_COLUMN`]).
    Manifest,
}

/// The name of the one column of [`Fleet`]'s deployment manifests.
pub(crate) const MANIFEST_COLUMN: &str = "deploymentManifest";

/// A count per device (of writes, for `$version`), one byte each: counts above 254 continue in
/// a sparse map. Allocated on the first increment. O(1) increment and read (O(log k) for the
/// k devices past 254).
#[derive(Debug, Clone, Default)]
struct Counter {
    small: Vec<u8>,
    big: BTreeMap<u32, u32>,
}

impl Counter {
    // Always inlined, as `Cells::set`: twice per device in a property rollout. The common
    // case (allocated, below 255) is one bounds check and one compare; the first write and
    // the counts past 254 go out of line.
    #[inline(always)]
    fn bump(&mut self, index: u32, n: u32) {
        match self.small.get_mut(index as usize) {
            Some(c) if *c < u8::MAX => *c += 1,
            _ => self.bump_rare(index, n),
        }
    }

    /// [`Counter::bump`] of a counter not allocated yet, or of a count past 254.
    #[cold]
    #[inline(never)]
    fn bump_rare(&mut self, index: u32, n: u32) {
        if self.small.is_empty() {
            self.small = vec![0; n as usize];
        }
        let c = &mut self.small[index as usize];
        if *c < u8::MAX {
            *c += 1;
        } else {
            *self.big.entry(index).or_insert(0) += 1;
        }
    }

    fn get(&self, index: u32) -> u32 {
        match self.small.get(index as usize) {
            None => 0,
            Some(&u8::MAX) => u32::from(u8::MAX) + self.big.get(&index).copied().unwrap_or(0),
            Some(&c) => u32::from(c),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.small.capacity() + self.big.len() * 40
    }
}

/// Whether a flag drawn with probability `share` is certain: `Some(set)` for a share of 1 or
/// more (always set) or 0 or less (never: no draw in `[0, 1)` is below it), `None` when each
/// device needs its draw.
fn certain(share: f64) -> Option<bool> {
    if share >= 1.0 {
        Some(true)
    } else if share <= 0.0 {
        Some(false)
    } else {
        None
    }
}

/// `flag` if `set`, else no flag.
#[inline]
fn flag_if(set: bool, flag: u8) -> u8 {
    if set {
        flag
    } else {
        0
    }
}

/// FNV-1a over the id's bytes, then the SplitMix64 finalizer: the stream key of an explicit
/// device.
fn id_key(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    rng::mix64(h)
}

fn check_templates(templates: &[TemplateSpec]) -> Result<Vec<TemplateSpec>> {
    if templates.len() >= usize::from(NO_TEMPLATE) {
        return Err(Error::at(
            "templates",
            ErrorKind::TooLarge("more than 65,534 templates".into()),
        ));
    }
    for (i, t) in templates.iter().enumerate() {
        t.validate()
            .map_err(|e| e.at_index(i).within("templates"))?;
        if templates[..i].iter().any(|o| o.id == t.id) {
            return Err(Error::at(
                format!("templates[{i}].id"),
                ErrorKind::Duplicate(t.id.clone()),
            ));
        }
    }
    Ok(templates.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn explicit_fleets_sort_by_id() {
        let templates = vec![TemplateSpec {
            id: "t".into(),
            ..Default::default()
        }];
        let fleet = Fleet::from_json(
            &templates,
            r#"[{"id": "b", "template": "t", "tags": {"r": "eu"}}, {"id": "a", "provisioned": false}]"#,
        )
        .unwrap();
        assert_eq!(fleet.id(0), "a");
        assert_eq!(fleet.index_of("b"), Some(1));
        assert_eq!(fleet.tag(1, "r"), Some(&json!("eu")));
        assert_eq!(fleet.template(1).map(|t| t.id.as_str()), Some("t"));
        assert!(fleet.template(0).is_none());
        assert!(!fleet.is_provisioned(0));
        assert!(fleet.starts_disconnected(0));
        assert!(!fleet.starts_disconnected(1));
        let e = Fleet::from_json(&templates, r#"[{"id": "a", "template": "x"}]"#).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::UnknownTemplate("x".into()));
        let e =
            Fleet::from_json(&templates, r#"[{"id": "a"}, {"id": "b"}, {"id": "a"}]"#).unwrap_err();
        assert_eq!(
            e.kind(),
            &ErrorKind::DuplicateDevice {
                id: "a".into(),
                first: 0,
                second: 2
            }
        );
        assert_eq!(e.field(), Some("devices"));
    }

    #[test]
    fn the_builder_sorts_interns_and_keeps_the_facts() {
        let templates = vec![
            TemplateSpec {
                id: "t1".into(),
                ..Default::default()
            },
            TemplateSpec {
                id: "t2".into(),
                ..Default::default()
            },
        ];
        let mut b = FleetBuilder::new();
        let off = DeviceFacts {
            connected: false,
            iot_edge: true,
            simulated: false,
            ..DeviceFacts::default()
        };
        let p = b.device("dev-10", Some("t2"), off).unwrap();
        b.set(p, Section::Tags, "ring", &json!(1));
        b.set(p, Section::Reported, "fw", &json!("1.2"));
        let p = b
            .device("dev-02", Some("t1"), DeviceFacts::default())
            .unwrap();
        b.set(p, Section::Tags, "ring", &json!(0));
        b.set(p, Section::Desired, "fw", &json!({"v": "1.3"}));
        b.set_json(p, Section::Tags, "ring", "2").unwrap();
        b.set_json(p, Section::Reported, "cfg", "{\"b\": 1, \"a\": [1, 2]}")
            .unwrap();
        assert_eq!(b.id(p), "dev-02");
        let e = b.set_json(p, Section::Tags, "bad", "{").unwrap_err();
        assert_eq!(e.field(), Some("bad"));
        let disabled = DeviceFacts {
            enabled: false,
            ..DeviceFacts::default()
        };
        b.device("dev-05", None, disabled).unwrap();
        assert_eq!(b.template_names().collect::<Vec<_>>(), ["t2", "t1"]);
        let (fleet, order) = b.build(&templates).unwrap();
        assert_eq!(order, [1, 2, 0]);
        let ids: Vec<String> = (0..3).map(|i| fleet.id(i).to_string()).collect();
        assert_eq!(ids, ["dev-02", "dev-05", "dev-10"]);
        assert_eq!(fleet.index_of("dev-05"), Some(1));
        assert_eq!(fleet.index_of("dev-06"), None);
        assert_eq!(fleet.template(0).map(|t| t.id.as_str()), Some("t1"));
        assert_eq!(fleet.template(2).map(|t| t.id.as_str()), Some("t2"));
        assert!(fleet.template(1).is_none());
        // The later value for a name replaces the earlier one.
        assert_eq!(fleet.tag(0, "ring"), Some(&json!(2)));
        assert_eq!(
            fleet.reported(0, "cfg"),
            Some(&json!({"a": [1, 2], "b": 1}))
        );
        assert_eq!(fleet.tag(2, "ring"), Some(&json!(1)));
        assert_eq!(fleet.tag(1, "ring"), None);
        assert_eq!(fleet.desired(0, "fw"), Some(&json!({"v": "1.3"})));
        assert_eq!(fleet.reported(2, "fw"), Some(&json!("1.2")));
        assert!(fleet.starts_disconnected(2) && fleet.is_iot_edge(2) && !fleet.is_simulated(2));
        assert!(!fleet.starts_disconnected(0) && fleet.is_enabled(0) && fleet.can_connect(0));
        assert!(fleet.starts_disconnected(1) && !fleet.is_enabled(1) && !fleet.can_connect(1));
        assert_eq!(fleet.key(0), id_key("dev-02"));
    }

    #[test]
    fn the_builder_names_the_first_device_of_an_unknown_template() {
        let mut b = FleetBuilder::new();
        b.device("z", Some("dtmi:b;1"), DeviceFacts::default())
            .unwrap();
        b.device("y", Some("dtmi:a;1"), DeviceFacts::default())
            .unwrap();
        b.device("x", Some("dtmi:a;1"), DeviceFacts::default())
            .unwrap();
        let e = b.build(&[]).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::UnknownTemplate("dtmi:a;1".into()));
        assert_eq!(e.field(), Some("devices[\"y\"].template"));
        let e = FleetBuilder::new()
            .device("", None, DeviceFacts::default())
            .unwrap_err();
        assert_eq!(e.field(), Some("devices"));
    }

    /// The draws of a generated device as they were first written (a stream opened per draw,
    /// `pick` by binary search): (flags, tag value indices, reported value indices).
    fn drawn_first(spec: &FleetSpec, seed: u64, i: u32) -> (u8, Vec<usize>, Vec<usize>) {
        let key = spec.id_start + u64::from(i);
        let mut f = 0;
        if spec.provisioned >= 1.0
            || rng::unit(seed, key, 0, Purpose::Provisioned) < spec.provisioned
        {
            f |= PROVISIONED;
        }
        if spec.simulated >= 1.0 || rng::unit(seed, key, 0, Purpose::Simulated) < spec.simulated {
            f |= SIMULATED;
        }
        let values = |specs: &[crate::generator::ValueSpec], purpose| {
            specs
                .iter()
                .enumerate()
                .map(|(k, v)| {
                    let c = v.cumulative();
                    let u = rng::unit(seed, key, k as u32, purpose);
                    c.partition_point(|&x| x <= u).min(c.len() - 1)
                })
                .collect()
        };
        (
            f,
            values(&spec.tags, Purpose::Tag),
            values(&spec.reported, Purpose::Reported),
        )
    }

    proptest::proptest! {
        /// `Fleet::generate` draws what the first, device-by-device version drew: flags (certain
        /// or not), and tags and reported values of one, two or more weighted values.
        #[test]
        fn generated_devices_keep_their_draws(
            devices in 0u32..200,
            id_start in proptest::prop_oneof![0u64..1000, proptest::strategy::Just(u64::MAX)],
            seed in proptest::prelude::any::<u64>(),
            shares in (
                proptest::sample::select(vec![0.0, 0.3, 0.9, 1.0]),
                proptest::sample::select(vec![0.0, 0.5, 1.0]),
            ),
            weights in proptest::collection::vec(
                proptest::collection::vec(0u8..4, 1..6),
                0..5,
            ),
        ) {
            use crate::generator::{ValueSpec, WeightedValue};
            let column = |(k, w): (usize, &Vec<u8>)| ValueSpec {
                name: format!("c{k}"),
                values: w
                    .iter()
                    .enumerate()
                    .map(|(j, &weight)| WeightedValue {
                        value: json!(j),
                        weight: f64::from(weight) + f64::from(u8::from(j == 0)),
                    })
                    .collect(),
            };
            let columns: Vec<ValueSpec> = weights.iter().enumerate().map(column).collect();
            let split = columns.len() / 2;
            let spec = FleetSpec {
                devices,
                id_pattern: "d-{:020}".into(),
                // Up to the last key, u64::MAX.
                id_start: id_start.min(u64::MAX - u64::from(devices.saturating_sub(1))),
                provisioned: shares.0,
                simulated: shares.1,
                tags: columns[split..].to_vec(),
                reported: columns[..split].to_vec(),
                ..FleetSpec::default()
            };
            let fleet = Fleet::generate(&spec, &[], seed).unwrap();
            for i in 0..devices {
                let (f, tags, reported) = drawn_first(&spec, seed, i);
                proptest::prop_assert_eq!(fleet.flags[i as usize], f);
                for (v, &j) in spec.tags.iter().zip(&tags) {
                    proptest::prop_assert_eq!(fleet.tag(i, &v.name), Some(&json!(j)));
                }
                for (v, &j) in spec.reported.iter().zip(&reported) {
                    proptest::prop_assert_eq!(fleet.reported(i, &v.name), Some(&json!(j)));
                }
            }
        }
    }

    #[test]
    fn versions_count_past_a_byte() {
        let mut c = Counter::default();
        for _ in 0..300 {
            c.bump(3, 10);
        }
        c.bump(4, 10);
        assert_eq!((c.get(3), c.get(4), c.get(5)), (300, 1, 0));
    }
}
