//! Interned, column-wise storage of per-device JSON values (tags and properties).
//!
//! # Representation and trade-offs
//!
//! A [`Column`] holds one small integer per device: an index into the column's [`Interner`],
//! or "none" when the device has no value. The integers are one byte wide while the column has
//! fewer than 255 distinct values, and widen to two and then four bytes when it gets more
//! ([`Cells`]). Fleets have few distinct values per tag or property (a job writes the same value
//! to every target), so a million devices with a tag cost 1 MB plus a handful of interned
//! values, where a `HashMap` per device would cost hundreds of bytes each; narrow cells also
//! keep the simulator's random accesses (acknowledgements arrive in random device order) in
//! cache. The per-device vector is allocated on the first write, so a property that no job
//! touches costs nothing. Reading and writing are O(1); interning a new value is one hash of
//! its JSON text. A column with a distinct value per device (serial numbers) still works, at
//! the cost of one interned `Value` per device.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// The index of "no value".
pub(crate) const NONE: u32 = u32::MAX;

// `Cells::set` stores `NONE` cut to the cell's width: that must be the width's "none".
const _: () = assert!(NONE as u8 == u8::MAX && NONE as u16 == u16::MAX);

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

    /// Every interned value, by index.
    pub(crate) fn values(&self) -> &[Value] {
        &self.values
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
    cells: Cells,
    table: Interner,
}

impl Column {
    /// A column with these interned values and no device holding any yet.
    pub(crate) fn with_table(table: Interner) -> Self {
        Self {
            cells: Cells::Empty,
            table,
        }
    }

    /// The value index of `device`, or [`NONE`].
    #[inline]
    pub(crate) fn index(&self, device: u32) -> u32 {
        self.cells.get(device)
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
        self.cells.set(device, index, devices);
    }

    /// Sets every device `0..devices` to the interned value `value(device)` (an index the
    /// table holds, not [`NONE`]), in index order: the same cells as [`Column::set`] for each
    /// device in turn.
    ///
    /// A column not written yet whose table has fewer than 255 values (every index fits a
    /// byte) gets its cells collected in one pass, with no width check or bounds check per
    /// device (a generated tag: about 10 instructions per device fewer). Otherwise, one
    /// [`Column::set`] per device. O(devices) calls of `value` either way.
    pub(crate) fn fill_with(&mut self, devices: u32, mut value: impl FnMut(u32) -> u32) {
        let narrow = self.table.values().len() < usize::from(u8::MAX);
        if matches!(self.cells, Cells::Empty) && narrow && devices > 0 {
            let table = self.table.values().len();
            // Filled in place (a memset first): the fresh allocation is known not to alias
            // the closure's state, which a `collect` through the iterator adapters hides (its
            // captures were reloaded after every store). The check, a compare and a branch,
            // keeps a bad index from being cut to a byte, and keeps the loop scalar: vectorised
            // (SSE2), the 64-bit multiplies of a keyed draw cost more instructions, not fewer.
            let mut cells = vec![u8::MAX; devices as usize];
            for (d, cell) in (0..devices).zip(&mut cells) {
                let v = value(d);
                assert!((v as usize) < table, "{v} is not an interned index");
                *cell = v as u8;
            }
            self.cells = Cells::U8(cells);
        } else {
            for d in 0..devices {
                self.set(d, value(d), devices);
            }
        }
    }

    /// Approximate heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.cells.heap_bytes() + self.table.heap_bytes()
    }

    /// The per-device value indices, for compiled queries (same "none" conventions).
    pub(crate) fn query_cells(&self) -> fleet_query::Cells<'_> {
        match &self.cells {
            Cells::Empty => fleet_query::Cells::None,
            Cells::U8(v) => fleet_query::Cells::U8(v),
            Cells::U16(v) => fleet_query::Cells::U16(v),
            Cells::U32(v) => fleet_query::Cells::U32(v),
        }
    }

    /// The column's distinct values, by index.
    pub(crate) fn values(&self) -> &[Value] {
        self.table.values()
    }
}

/// Per-device value indices, as narrow as the largest index allows: `u8` below 255, `u16` below
/// 65,535, else `u32`; the largest value of each width means "none". Widening copies the vector
/// once (O(N)), which happens at most twice per column.
#[derive(Debug, Clone, Default)]
pub(crate) enum Cells {
    /// Not allocated: every device has no value.
    #[default]
    Empty,
    /// One byte per device.
    U8(Vec<u8>),
    /// Two bytes per device.
    U16(Vec<u16>),
    /// Four bytes per device.
    U32(Vec<u32>),
}

impl Cells {
    #[inline]
    fn get(&self, device: u32) -> u32 {
        let d = device as usize;
        match self {
            Self::Empty => NONE,
            Self::U8(v) => match v.get(d) {
                Some(&x) if x != u8::MAX => u32::from(x),
                _ => NONE,
            },
            Self::U16(v) => match v.get(d) {
                Some(&x) if x != u16::MAX => u32::from(x),
                _ => NONE,
            },
            Self::U32(v) => v.get(d).copied().unwrap_or(NONE),
        }
    }

    // Always inlined: twice per device in a property rollout (the desired value at the
    // dispatch, the reported one at the answer); out of line it cost a call per write.
    //
    // [`NONE`] cut to a width is that width's "none" (all ones), so a narrow cell is the index
    // cut, and "fits or is NONE" is one wrapping add and compare (`NONE + 1` wraps to 0).
    #[inline(always)]
    fn set(&mut self, device: u32, index: u32, devices: u32) {
        let d = device as usize;
        let fits = |max: u32| index.wrapping_add(1) <= max;
        match self {
            Self::U8(v) if fits(u32::from(u8::MAX)) => v[d] = index as u8,
            Self::U16(v) if fits(u32::from(u16::MAX)) => v[d] = index as u16,
            Self::U32(v) => v[d] = index,
            Self::Empty if index == NONE => {}
            _ => {
                self.widen(index, devices);
                self.set(device, index, devices);
            }
        }
    }

    /// Reallocates wide enough for `index`.
    #[cold]
    fn widen(&mut self, index: u32, devices: u32) {
        let n = devices as usize;
        let get = |c: &Self, d: usize| c.get(d as u32);
        *self = if index < u32::from(u8::MAX) {
            debug_assert!(matches!(self, Self::Empty));
            Self::U8(vec![u8::MAX; n])
        } else if index < u32::from(u16::MAX) {
            Self::U16(
                (0..n)
                    .map(|d| match get(self, d) {
                        NONE => u16::MAX,
                        x => x as u16,
                    })
                    .collect(),
            )
        } else {
            Self::U32((0..n).map(|d| get(self, d)).collect())
        };
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::U8(v) => v.capacity(),
            Self::U16(v) => v.capacity() * 2,
            Self::U32(v) => v.capacity() * 4,
        }
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

    #[test]
    fn cells_widen_at_the_first_index_past_their_width() {
        let mut c = Cells::default();
        c.set(0, NONE, 4);
        assert!(matches!(c, Cells::Empty));
        for (index, wide) in [
            (0, 1),
            (254, 1),
            (NONE, 1),
            (255, 2),
            (65_534, 2),
            (65_535, 4),
        ] {
            c.set(1, index, 4);
            let width = match &c {
                Cells::U8(_) => 1,
                Cells::U16(_) => 2,
                _ => 4,
            };
            assert_eq!((c.get(1), width), (index, wide), "{index}");
            c.set(2, NONE, 4);
            assert_eq!((c.get(2), c.get(3)), (NONE, NONE));
        }
    }

    #[test]
    fn cells_widen_and_keep_their_values() {
        let mut c = Column::default();
        let n = 400;
        let first = c.intern(&json!(0));
        c.set(0, first, n);
        c.set(1, NONE, n);
        assert!(matches!(c.cells, Cells::U8(_)));
        for i in 1..300u32 {
            let v = c.intern(&json!(i));
            c.set(i, v, n);
        }
        assert!(matches!(c.cells, Cells::U16(_)));
        for i in 0..300u32 {
            assert_eq!(c.get(i), Some(&json!(i)), "{i}");
        }
        assert_eq!(c.get(350), None);
        c.set(5, NONE, n);
        assert_eq!(c.get(5), None);
        c.set(6, 70_000, n);
        assert!(matches!(c.cells, Cells::U32(_)));
        assert_eq!(c.index(6), 70_000);
        assert_eq!(c.get(7), Some(&json!(7)));
    }
}
