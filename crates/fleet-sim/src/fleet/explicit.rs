//! [`FleetBuilder`]: an explicit fleet built one device at a time, interning as it goes, so a
//! fleet read from a file of any size never exists as a list of per-device maps.
//!
//! # Representation and trade-offs
//!
//! Devices arrive in any order (an export lists them as the platform keeps them). The builder
//! appends each id to one string, its template (interned) and flags to byte vectors, and each
//! tag or property as a (device, interned value) pair of its column: 8 bytes per value while
//! building, whatever the value. [`FleetBuilder::build`] then sorts the devices by id once and
//! lays every column out in the [`Fleet`]'s narrow cells (1 byte per device while a column has
//! fewer than 255 distinct values). Building N devices is O(N log N) for the sort plus O(1)
//! per value (one hash of its JSON text).

use std::collections::HashMap;

use serde_json::Value;

use super::{
    check_templates, id_key, Counter, Fleet, Ids, DISABLED, DISCONNECTED, IOT_EDGE, NO_TEMPLATE,
    PROVISIONED, SIMULATED,
};
use crate::error::{Error, ErrorKind, Result};
use crate::template::TemplateSpec;
use crate::util::column::{Column, Columns, Interner};

/// The flags of one device of an explicit fleet. The default is a provisioned, simulated,
/// connected, enabled device that is not an IoT Edge device (as [`super::DeviceSpec`]'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceFacts {
    /// Provisioned (IoT Central `provisioned`): an unprovisioned device never connects.
    pub provisioned: bool,
    /// Simulated (IoT Central `simulated`): informational, for queries and selectors.
    pub simulated: bool,
    /// Connected when the simulation starts: a disconnected device starts offline, like a
    /// device drawn offline by a behaviour rule (it reconnects after the rule's `reconnect`
    /// delay, never without one).
    pub connected: bool,
    /// Enabled (IoT Hub `status`, IoT Central `enabled`): a disabled device never connects.
    pub enabled: bool,
    /// An IoT Edge device (`capabilities.iotEdge`).
    pub iot_edge: bool,
}

impl Default for DeviceFacts {
    fn default() -> Self {
        Self {
            provisioned: true,
            simulated: true,
            connected: true,
            enabled: true,
            iot_edge: false,
        }
    }
}

impl DeviceFacts {
    /// The fleet's flag byte.
    fn flags(self) -> u8 {
        let mut f = 0;
        for (set, bit) in [
            (self.provisioned, PROVISIONED),
            (self.simulated, SIMULATED),
            (!self.connected, DISCONNECTED),
            (!self.enabled, DISABLED),
            (self.iot_edge, IOT_EDGE),
        ] {
            if set {
                f |= bit;
            }
        }
        f
    }
}

/// Which named values of a device [`FleetBuilder::set`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Tags (`tags.name`).
    Tags,
    /// Desired properties (`properties.desired.name`).
    Desired,
    /// Reported properties (`properties.reported.name`).
    Reported,
    /// IoT Central cloud properties.
    CloudProperties,
}

/// Builds an explicit [`Fleet`] one device at a time. See the module documentation.
///
/// ```
/// use fleet_sim::{DeviceFacts, FleetBuilder, Section, TemplateSpec};
/// use serde_json::json;
///
/// let mut b = FleetBuilder::new();
/// let first = b.device("b", Some("dtmi:t;1"), DeviceFacts::default())?;
/// b.set(first, Section::Tags, "region", &json!("eu"));
/// b.device("a", None, DeviceFacts { connected: false, ..DeviceFacts::default() })?;
/// assert_eq!(b.template_names().collect::<Vec<_>>(), ["dtmi:t;1"]);
/// let templates = [TemplateSpec { id: "dtmi:t;1".into(), ..Default::default() }];
/// let (fleet, order) = b.build(&templates)?;
/// assert_eq!(fleet.id(0).to_string(), "a");
/// assert_eq!(order, [1, 0]); // fleet index -> the order the devices were added
/// assert_eq!(fleet.tag(1, "region"), Some(&json!("eu")));
/// # Ok::<(), fleet_sim::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct FleetBuilder {
    /// The ids in the order added, one after the other.
    text: String,
    ends: Vec<u32>,
    template_names: Vec<String>,
    template_index: HashMap<String, u16>,
    /// The first device (in the order added) of each template.
    template_first: Vec<u32>,
    template_of: Vec<u16>,
    flags: Vec<u8>,
    sections: [Pending; 4],
}

/// The columns of one [`Section`] while building.
#[derive(Debug, Default)]
struct Pending {
    index: HashMap<String, u32>,
    columns: Vec<PendingColumn>,
}

#[derive(Debug)]
struct PendingColumn {
    name: String,
    table: Interner,
    /// JSON texts seen ([`FleetBuilder::set_json`]) and their value indices.
    raw: HashMap<Box<str>, u32>,
    /// (device in the order added, value index), in the order set.
    cells: Vec<(u32, u32)>,
}

impl FleetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The devices added so far.
    pub fn len(&self) -> u32 {
        self.ends.len() as u32
    }

    /// Whether no device was added.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Adds a device; [`Self::set`] gives it tags and properties. Returns its position in
    /// the order added. Ids must not be empty; their uniqueness is checked by [`Self::build`].
    pub fn device(&mut self, id: &str, template: Option<&str>, facts: DeviceFacts) -> Result<u32> {
        if id.is_empty() {
            return Err(Error::at(
                "devices",
                ErrorKind::InvalidValue("an empty device id".into()),
            ));
        }
        let position = self.len();
        let end = u32::try_from(self.text.len() + id.len())
            .ok()
            .filter(|_| position < u32::MAX - 1)
            .ok_or_else(|| {
                Error::new(ErrorKind::TooLarge(
                    "more than 4 GiB of device ids, or 2^32 devices".into(),
                ))
            })?;
        let t = match template {
            None => NO_TEMPLATE,
            Some(name) => self.template(name, position)?,
        };
        self.text.push_str(id);
        self.ends.push(end);
        self.template_of.push(t);
        self.flags.push(facts.flags());
        Ok(position)
    }

    /// The interned index of template `name`, first used by device `position`.
    fn template(&mut self, name: &str, position: u32) -> Result<u16> {
        if let Some(&t) = self.template_index.get(name) {
            return Ok(t);
        }
        let t = self.template_names.len();
        if t >= usize::from(NO_TEMPLATE) {
            return Err(Error::new(ErrorKind::TooLarge(
                "more than 65,534 templates".into(),
            )));
        }
        self.template_names.push(name.to_string());
        self.template_index.insert(name.to_string(), t as u16);
        self.template_first.push(position);
        Ok(t as u16)
    }

    /// Sets the value `name` of `section` on the device added at `position` (as
    /// [`Self::device`] returned it). A later value for the same name replaces an earlier one.
    ///
    /// # Panics
    ///
    /// If no device was added at `position`: a bug in the caller, not bad input.
    pub fn set(&mut self, position: u32, section: Section, name: &str, value: &Value) {
        let column = self.column(position, section, name);
        let v = column.table.intern(value);
        column.cells.push((position, v));
    }

    /// [`Self::set`] with the value as JSON text (a record's raw JSON, as read). A text seen
    /// before in this column is not parsed again: the common case of a fleet, whose values
    /// repeat, costs one hash of the text and no allocation.
    ///
    /// # Panics
    ///
    /// If no device was added at `position`.
    pub fn set_json(
        &mut self,
        position: u32,
        section: Section,
        name: &str,
        json: &str,
    ) -> Result<()> {
        let column = self.column(position, section, name);
        let v = match column.raw.get(json) {
            Some(&v) => v,
            None => {
                let value: Value = serde_json::from_str(json).map_err(|e| {
                    Error::at(name, ErrorKind::Json(format!("not a JSON value: {e}")))
                })?;
                let v = column.table.intern(&value);
                column.raw.insert(json.into(), v);
                v
            }
        };
        column.cells.push((position, v));
        Ok(())
    }

    /// The column `name` of `section`, created if new, to write device `position` to.
    fn column(&mut self, position: u32, section: Section, name: &str) -> &mut PendingColumn {
        assert!(
            position < self.len(),
            "FleetBuilder::set: no device at position {position}"
        );
        let pending = &mut self.sections[section as usize];
        let c = match pending.index.get(name) {
            Some(&c) => c,
            None => {
                let c = pending.columns.len() as u32;
                pending.columns.push(PendingColumn {
                    name: name.to_string(),
                    table: Interner::default(),
                    raw: HashMap::new(),
                    cells: Vec::new(),
                });
                pending.index.insert(name.to_string(), c);
                c
            }
        };
        &mut pending.columns[c as usize]
    }

    /// The template ids the devices name, in the order first named.
    pub fn template_names(&self) -> impl Iterator<Item = &str> {
        self.template_names.iter().map(String::as_str)
    }

    /// The id of the device added at `position`.
    ///
    /// # Panics
    ///
    /// If no device was added at `position`.
    pub fn id(&self, position: u32) -> &str {
        Ids::explicit(&self.text, &self.ends, position as usize)
    }

    /// The fleet, sorted by id, with these templates (each template a device names must be
    /// among them), and for each fleet index the position in which its device was added.
    /// Errors name a duplicate id (both positions) or the first device of an unknown template.
    pub fn build(self, templates: &[TemplateSpec]) -> Result<(Fleet, Vec<u32>)> {
        let templates = check_templates(templates)?;
        let template_map = self.template_map(&templates)?;
        let mut order: Vec<u32> = (0..self.len()).collect();
        order.sort_unstable_by(|&a, &b| self.id(a).cmp(self.id(b)));
        for w in order.windows(2) {
            if self.id(w[0]) == self.id(w[1]) {
                return Err(Error::at(
                    "devices",
                    ErrorKind::DuplicateDevice {
                        id: self.id(w[0]).to_string(),
                        first: w[0].min(w[1]),
                        second: w[0].max(w[1]),
                    },
                ));
            }
        }
        let fleet = self.lay_out(templates, &template_map, &order);
        Ok((fleet, order))
    }

    /// The index in `templates` of each interned template name; the first unknown (in name
    /// order) is an error naming the first device that uses it.
    fn template_map(&self, templates: &[TemplateSpec]) -> Result<Vec<u16>> {
        let mut unknown: Vec<(&str, u32)> = Vec::new();
        let mut map = Vec::with_capacity(self.template_names.len());
        for (k, name) in self.template_names.iter().enumerate() {
            match templates.iter().position(|t| t.id == *name) {
                Some(i) => map.push(i as u16),
                None => {
                    unknown.push((name, self.template_first[k]));
                    map.push(NO_TEMPLATE);
                }
            }
        }
        match unknown.into_iter().min() {
            Some((name, first)) => Err(Error::at(
                format!("devices[{:?}].template", self.id(first)),
                ErrorKind::UnknownTemplate(name.to_string()),
            )),
            None => Ok(map),
        }
    }

    /// The fleet of the devices in `order` (positions in the order added).
    fn lay_out(self, templates: Vec<TemplateSpec>, template_map: &[u16], order: &[u32]) -> Fleet {
        let n = self.len();
        let mut text = String::with_capacity(self.text.len());
        let mut ends = Vec::with_capacity(order.len());
        let mut keys = Vec::with_capacity(order.len());
        let mut rank = vec![0u32; order.len()];
        for (i, &p) in order.iter().enumerate() {
            let id = self.id(p);
            text.push_str(id);
            ends.push(text.len() as u32);
            keys.push(id_key(id));
            rank[p as usize] = i as u32;
        }
        let template_of = order
            .iter()
            .map(|&p| match self.template_of[p as usize] {
                NO_TEMPLATE => NO_TEMPLATE,
                t => template_map[usize::from(t)],
            })
            .collect();
        let flags = order.iter().map(|&p| self.flags[p as usize]).collect();
        let [tags, desired, reported, cloud] =
            self.sections.map(|pending| pending.lay_out(&rank, n));
        Fleet {
            ids: Ids::Explicit { text, ends, keys },
            templates,
            template_of,
            flags,
            tags,
            desired,
            reported,
            cloud,
            manifests: Columns::default(),
            desired_writes: Counter::default(),
            reported_writes: Counter::default(),
        }
    }
}

impl Pending {
    /// The columns, each device at its `rank`.
    fn lay_out(self, rank: &[u32], n: u32) -> Columns {
        let mut columns = Columns::default();
        for pending in self.columns {
            let mut column = Column::with_table(pending.table);
            for (device, value) in pending.cells {
                column.set(rank[device as usize], value, n);
            }
            let id = columns.id(&pending.name);
            *columns.by_id(id) = column;
        }
        columns
    }
}
