//! The device query language over a [`Fleet`]: the [`fleet_query::Resolver`] that compiles
//! queries against the fleet's columns, and [`Fleet::twin`], the device document that the
//! compiled queries must agree with.
//!
//! | field | from |
//! |---|---|
//! | `deviceId`, `$id` | the device id |
//! | `$template` | the template id (missing without a template) |
//! | `$provisioned`, `$simulated` | the flags |
//! | `connectionState` | `"Disconnected"` if the device starts disconnected (or is not provisioned, or is disabled), else `"Connected"` |
//! | `status` | `"enabled"`, or `"disabled"` for a disabled device |
//! | `modelId` | the template id, as IoT Hub shows an IoT Central device's model (missing without a template) |
//! | `capabilities.iotEdge` | whether the device is an IoT Edge device; `capabilities` is an object |
//! | `tags.a.b...` | tag column `a`, then `b...` inside its JSON value |
//! | `properties.desired.a...`, `properties.reported.a...` | desired / reported property column `a` |
//! | `tags`, `properties`, `properties.desired`, `properties.reported` | objects: defined, never equal to a constant |
//! | anything else (`lastActivityTime`, `$version`, ...) | missing |
//!
//! The state is the fleet's own: connection changes and property writes during a simulation
//! are visible to queries compiled after them (the simulator compiles a job's targets when the
//! job starts).

use std::borrow::Cow;
use std::fmt::Write;

use fleet_query::{name_matches, pick_name, Cells, Path, Resolved, Resolver};
use serde_json::{json, Map, Value};

use crate::fleet::{Fleet, CONNECTED_MASK, DISABLED, IOT_EDGE, PROVISIONED, SIMULATED};
use crate::util::column::Columns;

/// The top-level fields of a device document.
const ROOTS: [&str; 11] = [
    "$id",
    "$provisioned",
    "$simulated",
    "$template",
    "capabilities",
    "connectionState",
    "deviceId",
    "modelId",
    "properties",
    "status",
    "tags",
];

impl Resolver for Fleet {
    fn device_count(&self) -> u32 {
        self.len()
    }

    fn resolve(&self, path: &Path) -> Resolved<'_> {
        let names = path.segments();
        let Some(root) = names
            .first()
            .and_then(|first| pick_name(first, ROOTS.iter().copied()))
        else {
            return Resolved::Missing;
        };
        let flag_at =
            |consumed: usize, mask: u8, equals: u8, values: [Value; 2]| Resolved::Column {
                cells: Cells::Flag {
                    bytes: self.flag_bytes(),
                    mask,
                    equals,
                },
                values: Cow::Owned(values.to_vec()),
                consumed,
            };
        let flag = |mask: u8, equals: u8, values: [Value; 2]| flag_at(1, mask, equals, values);
        match root {
            "deviceId" | "$id" => Resolved::DeviceId,
            "$template" | "modelId" => Resolved::Column {
                cells: Cells::U16(self.template_cells()),
                values: Cow::Owned(
                    self.templates()
                        .iter()
                        .map(|t| Value::String(t.id.clone()))
                        .collect(),
                ),
                consumed: 1,
            },
            "$provisioned" => flag(PROVISIONED, PROVISIONED, [false.into(), true.into()]),
            "$simulated" => flag(SIMULATED, SIMULATED, [false.into(), true.into()]),
            "connectionState" => flag(
                CONNECTED_MASK,
                PROVISIONED,
                ["Disconnected".into(), "Connected".into()],
            ),
            "status" => flag(DISABLED, 0, ["disabled".into(), "enabled".into()]),
            "capabilities" => match names.get(1) {
                None => Resolved::Same(Value::Object(Map::new())),
                Some(name) if name_matches(name, "iotEdge") => {
                    flag_at(2, IOT_EDGE, IOT_EDGE, [false.into(), true.into()])
                }
                Some(_) => Resolved::Missing,
            },
            "tags" => column(&self.tags, names, 1),
            "properties" => match names.get(1) {
                None => Resolved::Same(Value::Object(Map::new())),
                Some(kind) => match pick_name(kind, ["desired", "reported"]) {
                    Some("desired") => column(&self.desired, names, 2),
                    Some(_) => column(&self.reported, names, 2),
                    None => Resolved::Missing,
                },
            },
            _ => Resolved::Missing,
        }
    }

    fn index_of(&self, id: &str) -> Option<u32> {
        Fleet::index_of(self, id)
    }

    fn id_rank(&self, id: &str) -> u32 {
        // Ids sort in index order: binary search, formatting O(log n) ids.
        let mut buf = String::new();
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            buf.clear();
            let _ = write!(buf, "{}", self.id(mid));
            if buf.as_str() < id {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// The column that `names[at]` names in `columns` (`names[..at]` led to them); the object of
/// all of them when the path ends at `at`.
fn column<'f>(columns: &'f Columns, names: &[String], at: usize) -> Resolved<'f> {
    let Some(name) = names.get(at) else {
        return Resolved::Same(Value::Object(Map::new()));
    };
    // An exact name first, else the first (in name order) that matches ignoring case.
    let found = columns.get(name).or_else(|| {
        columns
            .iter()
            .find(|(key, _)| name_matches(name, key))
            .map(|(_, c)| c)
    });
    match found {
        Some(c) => Resolved::Column {
            cells: c.query_cells(),
            values: Cow::Borrowed(c.values()),
            consumed: at + 1,
        },
        None => Resolved::Missing,
    }
}

impl Fleet {
    /// Device `index` as the document that queries see: its IoT Hub twin with IoT Central's
    /// fields at the top (see `docs/query-language.md`):
    ///
    /// ```json
    /// {"deviceId": "therm-01", "$id": "therm-01", "$template": "dtmi:contoso:thermostat;1",
    ///  "modelId": "dtmi:contoso:thermostat;1", "$provisioned": true, "$simulated": true,
    ///  "status": "enabled", "connectionState": "Connected", "capabilities": {"iotEdge": false},
    ///  "tags": {"firmware": "1.2"},
    ///  "properties": {"desired": {}, "reported": {}}}
    /// ```
    ///
    /// Compiled queries ([`fleet_query::Query::compile`] with the fleet as resolver) select
    /// exactly the devices whose document [`fleet_query::Query::matches_json`] accepts.
    pub fn twin(&self, index: u32) -> Value {
        let collect = |columns: &Columns| {
            let map: Map<String, Value> = columns
                .iter()
                .filter_map(|(name, c)| c.get(index).map(|v| (name.to_string(), v.clone())))
                .collect();
            Value::Object(map)
        };
        let id = self.id(index).to_string();
        let mut twin = json!({
            "deviceId": id,
            "$id": id,
            "$provisioned": self.is_provisioned(index),
            "$simulated": self.is_simulated(index),
            "status": if self.is_enabled(index) { "enabled" } else { "disabled" },
            "connectionState": if self.starts_disconnected(index) { "Disconnected" } else { "Connected" },
            "capabilities": {"iotEdge": self.is_iot_edge(index)},
            "tags": collect(&self.tags),
            "properties": {"desired": collect(&self.desired), "reported": collect(&self.reported)},
        });
        if let (Some(t), Value::Object(map)) = (self.template(index), &mut twin) {
            map.insert("$template".into(), Value::String(t.id.clone()));
            map.insert("modelId".into(), Value::String(t.id.clone()));
        }
        twin
    }
}
