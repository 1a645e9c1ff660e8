//! Interned, column-wise storage of per-device JSON values (tags and properties).
//!
//! # Representation and trade-offs
//!
//! A [`Column`] holds one `u32` per device: an index into the column's [`Interner`], or
//! [`NONE`] when the device has no value. Fleets have few distinct values per tag or property
//! (a job writes the same value to every target), so a million devices with a tag cost 4 MB
//! plus a handful of interned values, where a `HashMap` per device would cost hundreds of bytes
//! each. The per-device vector is allocated on the first write, so a property that no job
//! touches costs nothing. Reading and writing are O(1); interning a new value is one hash of
//! its JSON text. A column with a distinct value per device (serial numbers) still works, at
//! the cost of one interned `Value` per device.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// The index of "no value".
pub(crate) const NONE: u32 = u32::MAX;

/// Distinct JSON values, each stored once, addressed by a `u32`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    values: Vec<Value>,
    /// Canonical JSON text -> index. Only looked up, never iterated, so its order is irrelevant.
    index: HashMap<String, u32>,
}

impl Interner {
    /// The index of `value`, adding it if new.
    pub(crate) fn intern(&mut self, value: &Value) -> u32 {
        let key = value.to_string();
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.values.len() as u32;
        assert!(
            i < NONE,
            "more than 4 billion distinct values in one column"
        );
        self.values.push(value.clone());
        self.index.insert(key, i);
        i
    }

    /// The index of `value` if it was interned.
    pub(crate) fn lookup(&self, value: &Value) -> Option<u32> {
        self.index.get(&value.to_string()).copied()
    }

    /// The value at `index`.
    pub(crate) fn get(&self, index: u32) -> &Value {
        &self.values[index as usize]
    }

    /// Approximate heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let text: usize = self.index.keys().map(|k| k.capacity() + 2 * k.len()).sum();
        self.values.capacity() * std::mem::size_of::<Value>()
            + self.index.capacity() * (std::mem::size_of::<(String, u32)>() + 1)
            + text
    }
}

/// One value per device (or none), interned. See the module documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Column {
    /// Per device; empty until the first write.
    cells: Vec<u32>,
    table: Interner,
}

impl Column {
    /// The value index of `device`, or [`NONE`].
    #[inline]
    pub(crate) fn index(&self, device: u32) -> u32 {
        self.cells.get(device as usize).copied().unwrap_or(NONE)
    }

    /// The value of `device`.
    pub(crate) fn get(&self, device: u32) -> Option<&Value> {
        match self.index(device) {
            NONE => None,
            i => Some(self.table.get(i)),
        }
    }

    /// Interns `value` and returns its index (for writing it to many devices).
    pub(crate) fn intern(&mut self, value: &Value) -> u32 {
        self.table.intern(value)
    }

    /// The index of `value` if any device could hold it.
    pub(crate) fn lookup(&self, value: &Value) -> Option<u32> {
        self.table.lookup(value)
    }

    /// Sets `device` to the interned value `index` ([`NONE`] clears it). `devices` is the fleet
    /// size, used to allocate the cells on the first write.
    #[inline]
    pub(crate) fn set(&mut self, device: u32, index: u32, devices: u32) {
        if self.cells.is_empty() {
            if index == NONE {
                return;
            }
            self.cells = vec![NONE; devices as usize];
        }
        self.cells[device as usize] = index;
    }

    /// Approximate heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.cells.capacity() * 4 + self.table.heap_bytes()
    }
}

/// Named columns (the tags, or the desired properties, of a fleet), each addressed by a stable
/// `u32` id so that the hot path never looks a name up. Names are kept in a `BTreeMap`, so
/// listings are in name order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    names: BTreeMap<String, u32>,
    columns: Vec<Column>,
}

impl Columns {
    /// The column named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Column> {
        self.names.get(name).map(|&id| &self.columns[id as usize])
    }

    /// The id of column `name`, created empty if new.
    pub(crate) fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        let id = self.columns.len() as u32;
        self.columns.push(Column::default());
        self.names.insert(name.to_string(), id);
        id
    }

    /// The column with id `id`.
    #[inline]
    pub(crate) fn by_id(&mut self, id: u32) -> &mut Column {
        &mut self.columns[id as usize]
    }

    /// The columns in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Column)> {
        self.names
            .iter()
            .map(|(name, &id)| (name.as_str(), &self.columns[id as usize]))
    }

    /// Approximate heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.iter()
            .map(|(name, c)| name.len() + 64 + c.heap_bytes())
            .sum::<usize>()
            + self.columns.capacity() * std::mem::size_of::<Column>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_interned_once() {
        let mut c = Column::default();
        assert!(c.get(3).is_none());
        let a = c.intern(&json!("eu"));
        let b = c.intern(&json!("us"));
        assert_eq!(c.intern(&json!("eu")), a);
        c.set(3, a, 10);
        c.set(4, b, 10);
        assert_eq!(c.get(3), Some(&json!("eu")));
        assert_eq!(c.get(4), Some(&json!("us")));
        assert_eq!(c.get(5), None);
        assert_eq!(c.lookup(&json!("us")), Some(b));
        assert_eq!(c.lookup(&json!("asia")), None);
    }
}
