//! A small [`Resolver`] over JSON documents, for testing compiled queries without fleet-sim:
//! one column per top-level key (values interned), `deviceId` as the id.

use std::borrow::Cow;

use fleet_query::{name_matches, Cells, Path, Resolved, Resolver};
use serde_json::Value;

pub struct DocStore {
    /// Sorted by `deviceId`.
    pub docs: Vec<Value>,
    /// (key, per-device value index, distinct values)
    columns: Vec<(String, Vec<u32>, Vec<Value>)>,
}

impl DocStore {
    /// Documents with unique string `deviceId`s (sorted here).
    pub fn new(mut docs: Vec<Value>) -> Self {
        docs.sort_by(|a, b| id(a).cmp(id(b)));
        let mut keys: Vec<String> = docs
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.keys().cloned())
            .filter(|k| k != "deviceId")
            .collect();
        keys.sort();
        keys.dedup();
        let columns = keys
            .into_iter()
            .map(|key| {
                let mut values: Vec<Value> = Vec::new();
                let cells = docs
                    .iter()
                    .map(|d| match d.get(&key) {
                        None => u32::MAX,
                        Some(v) => match values.iter().position(|x| x == v) {
                            Some(i) => i as u32,
                            None => {
                                values.push(v.clone());
                                values.len() as u32 - 1
                            }
                        },
                    })
                    .collect();
                (key, cells, values)
            })
            .collect();
        Self { docs, columns }
    }
}

fn id(doc: &Value) -> &str {
    doc["deviceId"].as_str().expect("a deviceId")
}

impl Resolver for DocStore {
    fn device_count(&self) -> u32 {
        self.docs.len() as u32
    }

    fn resolve(&self, path: &Path) -> Resolved<'_> {
        let first = &path.segments()[0];
        if name_matches(first, "deviceId") {
            return Resolved::DeviceId;
        }
        let found = self
            .columns
            .iter()
            .find(|(k, _, _)| k == first)
            .or_else(|| self.columns.iter().find(|(k, _, _)| name_matches(first, k)));
        match found {
            Some((_, cells, values)) => Resolved::Column {
                cells: Cells::U32(cells),
                values: Cow::Borrowed(values),
                consumed: 1,
            },
            None => Resolved::Missing,
        }
    }

    fn index_of(&self, s: &str) -> Option<u32> {
        self.docs
            .binary_search_by(|d| id(d).cmp(s))
            .ok()
            .map(|i| i as u32)
    }

    fn id_rank(&self, s: &str) -> u32 {
        self.docs.partition_point(|d| id(d) < s) as u32
    }
}
