//! Compiling a query against a device store ([`Resolver`]) into a [`Compiled`] form that
//! evaluates a device with a few array reads and no name look-ups.
//!
//! # How
//!
//! A store keeps each field as a column of small integers, one per device, indexing a table of
//! the column's distinct values ([`Cells`]). At compile time, each comparison is evaluated once
//! per *distinct value* of its column (nested paths such as `tags.location.region` are looked
//! up inside each value then), giving a truth table; per device, evaluation reads the device's
//! cell and indexes the table. `deviceId` comparisons become index ranges and sets (ids sort in
//! index order). Constant parts fold away (`$template = 'unknown'` is false for everyone).

use std::borrow::Cow;

use serde_json::Value;

use crate::ast::{CompareOp, Constant, Expr, Path};
use crate::eval::{compare, contains, is_defined, lookup, Truth};
use crate::Query;

/// Per-device value indices of one column, as stored: the index of the device's value in the
/// column's table of distinct values, or "none" (the device has no value).
///
/// For the integer variants, the largest value of the type means none (`u8::MAX`, `u16::MAX`,
/// `u32::MAX`), and so does an index past the end of the slice.
#[derive(Debug, Clone, Copy)]
pub enum Cells<'a> {
    /// No device has a value.
    None,
    /// One byte per device.
    U8(&'a [u8]),
    /// Two bytes per device.
    U16(&'a [u16]),
    /// Four bytes per device.
    U32(&'a [u32]),
    /// A flag in a byte per device: value index 1 where `byte & mask == equals`, else 0 (never
    /// none).
    Flag {
        /// One byte of flags per device.
        bytes: &'a [u8],
        /// The bits that matter.
        mask: u8,
        /// Their value for index 1.
        equals: u8,
    },
}

/// The "no value" index returned by [`Cells::get`].
pub const NONE: u32 = u32::MAX;

impl Cells<'_> {
    /// The value index of `device`, or [`NONE`].
    #[inline]
    pub fn get(&self, device: u32) -> u32 {
        let d = device as usize;
        match *self {
            Self::None => NONE,
            Self::U8(v) => match v.get(d) {
                Some(&x) if x != u8::MAX => u32::from(x),
                _ => NONE,
            },
            Self::U16(v) => match v.get(d) {
                Some(&x) if x != u16::MAX => u32::from(x),
                _ => NONE,
            },
            Self::U32(v) => v.get(d).copied().unwrap_or(NONE),
            Self::Flag {
                bytes,
                mask,
                equals,
            } => match bytes.get(d) {
                Some(&b) => u32::from(b & mask == equals),
                None => NONE,
            },
        }
    }
}

/// What a field path denotes in a store (the answer of [`Resolver::resolve`]).
#[derive(Debug, Clone)]
pub enum Resolved<'a> {
    /// No device has this field (an unknown name, a field the store does not keep).
    Missing,
    /// Every device has this same value (`status`: `"enabled"`; `tags`: an object).
    Same(Value),
    /// A column: per device an index into `values`.
    Column {
        /// The per-device indices.
        cells: Cells<'a>,
        /// The column's distinct values.
        values: Cow<'a, [Value]>,
        /// How many names of the path the column stands for; the rest are looked up inside
        /// each value (`tags.location.region` with column `location`: 2).
        consumed: usize,
    },
    /// The device id, which every device has: a string, unique, and in the same order as
    /// the device indices (so [`Resolver::id_rank`] is meaningful).
    DeviceId,
}

/// A device store that queries compile against: devices are indices `0..device_count()`.
///
/// The names of a path match the store's fields ignoring case, an exact match first (see
/// [`crate::pick_name`]). Implementations must describe the same device documents that the
/// reference interpreter ([`Query::matches_json`]) would see, so that both agree.
pub trait Resolver {
    /// The number of devices.
    fn device_count(&self) -> u32;

    /// What `path` denotes.
    fn resolve(&self, path: &Path) -> Resolved<'_>;

    /// The index of the device whose id is `id`.
    fn index_of(&self, id: &str) -> Option<u32>;

    /// The number of devices whose id is less than `id` (ordinal string order). Ids sort in
    /// index order, so these are devices `0..id_rank(id)`.
    fn id_rank(&self, id: &str) -> u32;
}

/// A query compiled against one store ([`Query::compile`]): evaluation reads per-device cells
/// and precomputed tables, with no name look-up and no allocation. It borrows the store's
/// columns, so it is used right away (the store must not change meanwhile).
#[derive(Debug, Clone)]
pub struct Compiled<'a> {
    root: Node<'a>,
    devices: u32,
    /// Devices at or past this index are left out (`TOP n`).
    cutoff: u32,
}

#[derive(Debug, Clone)]
enum Node<'a> {
    Const(Truth),
    /// `table[min(cell, table.len() - 1)]`: the last entry is the truth for "no value".
    Cells {
        cells: Cells<'a>,
        table: Box<[Truth]>,
    },
    /// Devices in any of the sorted, disjoint `ranges` get `inside`, the others `outside`.
    Ranges {
        ranges: Box<[(u32, u32)]>,
        inside: Truth,
        outside: Truth,
    },
    Not(Box<Node<'a>>),
    And(Box<[Node<'a>]>),
    Or(Box<[Node<'a>]>),
}

impl<'a> Compiled<'a> {
    pub(crate) fn new<R: Resolver + ?Sized>(query: &Query, store: &'a R) -> Self {
        let devices = store.device_count();
        let root = match query.condition() {
            None => Node::Const(Truth::True),
            Some(e) => compile(e, store),
        };
        let mut compiled = Self {
            root,
            devices,
            cutoff: devices,
        };
        if let Some(n) = query.top() {
            // The cutoff is just past the n-th match (the whole fleet if fewer match).
            compiled.cutoff = if n == 0 { 0 } else { devices };
            let mut seen = 0u64;
            for start in (0..devices).step_by(64) {
                if n == 0 {
                    break;
                }
                let (mut bits, _) = compiled.root.eval_block(start, (devices - start).min(64));
                let ones = u64::from(bits.count_ones());
                if seen + ones < n {
                    seen += ones;
                    continue;
                }
                for _ in seen + 1..n {
                    bits &= bits - 1;
                }
                compiled.cutoff = start + bits.trailing_zeros() + 1;
                break;
            }
        }
        compiled
    }

    /// Whether device `index` is selected: the condition is true for it and it is within
    /// `TOP n` (the first n matching devices in index order).
    #[inline]
    pub fn matches(&self, index: u32) -> bool {
        index < self.cutoff && self.root.eval(index) == Truth::True
    }

    /// The condition's truth for device `index` (ignoring `TOP`).
    #[inline]
    pub fn truth(&self, index: u32) -> Truth {
        self.root.eval(index)
    }

    /// The selection as bit masks of up to 64 devices, in index order up to the `TOP` cutoff
    /// ([`Mask`]). A caller that needs no list (a count, a check that every device is
    /// selected) reads a block in a few instructions.
    pub fn masks(&self) -> impl Iterator<Item = Mask> + '_ {
        (0..self.cutoff.div_ceil(64)).map(move |block| {
            let start = block * 64;
            let len = (self.cutoff - start).min(64);
            Mask {
                start,
                bits: self.root.eval_block(start, len).0,
                all: block_mask(len),
            }
        })
    }

    /// The selected devices, in index order. Devices are evaluated 64 at a time into bit
    /// masks ([`Compiled::masks`]), which is several times faster than
    /// [`Compiled::matches`] per device.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.masks().flat_map(Mask::devices)
    }

    /// The selected devices, in index order.
    pub fn select(&self) -> Vec<u32> {
        self.iter().collect()
    }

    /// How many devices are selected.
    pub fn count(&self) -> u32 {
        self.masks().map(|m| m.bits.count_ones()).sum()
    }

    /// Whether every device is selected without looking at any (no condition, or one that
    /// folded to true, and no `TOP` that cuts).
    pub fn selects_all(&self) -> bool {
        self.cutoff >= self.devices && matches!(self.root, Node::Const(Truth::True))
    }

    /// Whether no device can be selected (the condition folded to false or unknown, or
    /// `TOP 0`).
    pub fn selects_none(&self) -> bool {
        self.cutoff == 0 || matches!(self.root, Node::Const(t) if t != Truth::True)
    }
}

/// A block of up to 64 devices of a selection ([`Compiled::masks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mask {
    /// The index of the block's first device (a multiple of 64).
    pub start: u32,
    /// Bit `k`: device `start + k` is selected.
    pub bits: u64,
    /// Bit `k`: device `start + k` is in the block (all 64 but in the last block).
    pub all: u64,
}

impl Mask {
    /// Whether every device of the block is selected.
    pub fn is_full(&self) -> bool {
        self.bits == self.all
    }

    /// The selected devices of the block, in index order.
    pub fn devices(self) -> impl Iterator<Item = u32> {
        let mut bits = self.bits;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let k = bits.trailing_zeros();
                bits &= bits - 1;
                self.start + k
            })
        })
    }
}

/// The bits of a block of `len` (1 to 64) devices.
#[inline]
fn block_mask(len: u32) -> u64 {
    if len >= 64 {
        u64::MAX
    } else {
        (1u64 << len) - 1
    }
}

/// Every device of a block (`all`) with truth `t`.
#[inline]
fn bits_all(t: Truth, all: u64) -> (u64, u64) {
    match t {
        Truth::True => (all, 0),
        Truth::False => (0, all),
        Truth::Unknown => (0, 0),
    }
}

/// The (true, false) bits of a truth.
#[inline]
fn bits(t: Truth) -> (u64, u64) {
    (u64::from(t == Truth::True), u64::from(t == Truth::False))
}

/// (true, false) bit masks of `cells[start..start + len]` through `table` (see
/// [`Node::Cells`]); devices past the slice have no value.
#[inline]
fn cells_block<T: Copy>(
    cells: &[T],
    start: u32,
    len: u32,
    table: &[Truth],
    index: impl Fn(T) -> usize,
) -> (u64, u64) {
    let last = table.len() - 1;
    let from = (start as usize).min(cells.len());
    let to = (start as usize + len as usize).min(cells.len());
    let (mut t, mut f) = (0u64, 0u64);
    for (k, &x) in cells[from..to].iter().enumerate() {
        let (bt, bf) = bits(table[index(x).min(last)]);
        t |= bt << k;
        f |= bf << k;
    }
    // Devices past the end of the cells: no value.
    let covered = (to - from) as u32;
    if covered < len {
        let rest = block_mask(len) & !block_mask(covered);
        match table[last] {
            Truth::True => t |= rest,
            Truth::False => f |= rest,
            Truth::Unknown => {}
        }
    }
    (t, f)
}

impl Node<'_> {
    /// The (true, false) bit masks of devices `start..start + len` (`len` 1 to 64): bit k is
    /// device `start + k`; a device in neither mask is unknown.
    fn eval_block(&self, start: u32, len: u32) -> (u64, u64) {
        let all = block_mask(len);
        match self {
            Self::Const(Truth::True) => (all, 0),
            Self::Const(Truth::False) => (0, all),
            Self::Const(Truth::Unknown) => (0, 0),
            Self::Cells { cells, table } => match *cells {
                Cells::U8(v) => cells_block(v, start, len, table, usize::from),
                Cells::U16(v) => cells_block(v, start, len, table, usize::from),
                Cells::U32(v) => cells_block(v, start, len, table, |x| x as usize),
                Cells::Flag {
                    bytes,
                    mask,
                    equals,
                } => cells_block(bytes, start, len, table, |b| {
                    usize::from(b & mask == equals)
                }),
                Cells::None => bits_all(table[table.len() - 1], all),
            },
            Self::Ranges { .. } => {
                let (mut t, mut f) = (0, 0);
                for k in 0..len {
                    let (bt, bf) = bits(self.eval(start + k));
                    t |= bt << k;
                    f |= bf << k;
                }
                (t, f)
            }
            Self::Not(n) => {
                let (t, f) = n.eval_block(start, len);
                (f, t)
            }
            Self::And(items) => {
                let (mut t, mut f) = (all, 0);
                for n in items.iter() {
                    let (nt, nf) = n.eval_block(start, len);
                    t &= nt;
                    f |= nf;
                    if f == all {
                        break;
                    }
                }
                (t, f)
            }
            Self::Or(items) => {
                let (mut t, mut f) = (0, all);
                for n in items.iter() {
                    let (nt, nf) = n.eval_block(start, len);
                    t |= nt;
                    f &= nf;
                    if t == all {
                        break;
                    }
                }
                (t, f)
            }
        }
    }

    #[inline]
    fn eval(&self, d: u32) -> Truth {
        match self {
            Self::Const(t) => *t,
            Self::Cells { cells, table } => {
                // The largest cell value of each width (none) and any index past the values
                // land on the last entry, the truth for "no value".
                let last = table.len() - 1;
                let i = match *cells {
                    Cells::U8(v) => v.get(d as usize).map_or(last, |&x| usize::from(x)),
                    Cells::U16(v) => v.get(d as usize).map_or(last, |&x| usize::from(x)),
                    Cells::U32(v) => v.get(d as usize).map_or(last, |&x| x as usize),
                    Cells::Flag {
                        bytes,
                        mask,
                        equals,
                    } => bytes
                        .get(d as usize)
                        .map_or(last, |&b| usize::from(b & mask == equals)),
                    Cells::None => last,
                };
                table[i.min(last)]
            }
            Self::Ranges {
                ranges,
                inside,
                outside,
            } => {
                let k = ranges.partition_point(|&(_, end)| end <= d);
                match ranges.get(k) {
                    Some(&(start, _)) if start <= d => *inside,
                    _ => *outside,
                }
            }
            Self::Not(n) => n.eval(d).not(),
            Self::And(items) => {
                let mut all = Truth::True;
                for n in items.iter() {
                    match n.eval(d) {
                        Truth::False => return Truth::False,
                        Truth::Unknown => all = Truth::Unknown,
                        Truth::True => {}
                    }
                }
                all
            }
            Self::Or(items) => {
                let mut any = Truth::False;
                for n in items.iter() {
                    match n.eval(d) {
                        Truth::True => return Truth::True,
                        Truth::Unknown => any = Truth::Unknown,
                        Truth::False => {}
                    }
                }
                any
            }
        }
    }
}

/// A leaf's rule, applied to one value (or none).
enum Leaf<'e> {
    Compare(CompareOp, &'e Constant),
    In(&'e [Constant], bool),
    Defined,
}

impl Leaf<'_> {
    fn apply(&self, v: Option<&Value>) -> Truth {
        match self {
            Self::Compare(op, c) => compare(v, *op, c),
            Self::In(values, negated) => contains(v, values, *negated),
            Self::Defined => is_defined(v),
        }
    }
}

fn compile<'a, R: Resolver + ?Sized>(e: &Expr, store: &'a R) -> Node<'a> {
    match e {
        Expr::And(items) => fold_list(items.iter().map(|e| compile(e, store)), true),
        Expr::Or(items) => fold_list(items.iter().map(|e| compile(e, store)), false),
        Expr::Not(inner) => match compile(inner, store) {
            Node::Const(t) => Node::Const(t.not()),
            Node::Ranges {
                ranges,
                inside,
                outside,
            } => Node::Ranges {
                ranges,
                inside: inside.not(),
                outside: outside.not(),
            },
            Node::Cells { cells, table } => Node::Cells {
                cells,
                table: table.iter().map(|t| t.not()).collect(),
            },
            n => Node::Not(Box::new(n)),
        },
        Expr::Compare { path, op, value } => leaf(path, Leaf::Compare(*op, value), store),
        Expr::In {
            path,
            values,
            negated,
        } => leaf(path, Leaf::In(values, *negated), store),
        Expr::IsDefined(path) => leaf(path, Leaf::Defined, store),
    }
}

/// An AND (`and`) or OR list with constants folded: AND drops trues and is false if any
/// operand is false; OR the other way round.
fn fold_list<'a>(nodes: impl Iterator<Item = Node<'a>>, and: bool) -> Node<'a> {
    let (absorbing, neutral) = if and {
        (Truth::False, Truth::True)
    } else {
        (Truth::True, Truth::False)
    };
    let mut unknown = false;
    let mut kept = Vec::new();
    for n in nodes {
        match n {
            Node::Const(t) if t == absorbing => return Node::Const(absorbing),
            Node::Const(t) if t == neutral => {}
            Node::Const(_) => unknown = true,
            n => kept.push(n),
        }
    }
    if unknown {
        // Unknown AND x is false where x is false, else unknown: keep it as an operand.
        kept.push(Node::Const(Truth::Unknown));
    }
    match kept.len() {
        0 => Node::Const(neutral),
        1 => kept.pop().expect("one node"),
        _ => {
            let list = kept.into_boxed_slice();
            if and {
                Node::And(list)
            } else {
                Node::Or(list)
            }
        }
    }
}

fn leaf<'a, R: Resolver + ?Sized>(path: &Path, rule: Leaf<'_>, store: &'a R) -> Node<'a> {
    match store.resolve(path) {
        Resolved::Missing => Node::Const(rule.apply(None)),
        Resolved::Same(v) => Node::Const(rule.apply(Some(&v))),
        Resolved::Column {
            cells,
            values,
            consumed,
        } => {
            let rest = path.segments().get(consumed..).unwrap_or(&[]);
            let mut table: Vec<Truth> =
                values.iter().map(|v| rule.apply(lookup(v, rest))).collect();
            table.push(rule.apply(None));
            if table.iter().all(|t| *t == table[0]) {
                return Node::Const(table[0]);
            }
            Node::Cells {
                cells,
                table: table.into_boxed_slice(),
            }
        }
        Resolved::DeviceId => {
            if path.segments().len() > 1 {
                // A name inside a string: missing.
                return Node::Const(rule.apply(None));
            }
            device_id(rule, store)
        }
    }
}

/// A `deviceId` leaf as index ranges.
fn device_id<'a, R: Resolver + ?Sized>(rule: Leaf<'_>, store: &R) -> Node<'a> {
    let n = store.device_count();
    let one = |id: &str| store.index_of(id).map(|i| (i, i + 1));
    let ranges = |ranges: Vec<(u32, u32)>, inside| Node::Ranges {
        ranges: ranges.into_boxed_slice(),
        inside,
        outside: inside.not(),
    };
    match rule {
        Leaf::Defined => Node::Const(Truth::True),
        Leaf::In(values, negated) => {
            let mut found: Vec<(u32, u32)> = values
                .iter()
                .filter_map(|c| match c {
                    Constant::String(s) => one(s),
                    _ => None,
                })
                .collect();
            found.sort_unstable();
            found.dedup();
            ranges(found, Truth::from_bool(!negated))
        }
        Leaf::Compare(op, Constant::String(s)) => {
            let rank = store.id_rank(s).min(n);
            let exact = store.index_of(s).is_some();
            let below_or_equal = rank + u32::from(exact);
            match op {
                CompareOp::Eq => ranges(one(s).into_iter().collect(), Truth::True),
                CompareOp::Ne => ranges(one(s).into_iter().collect(), Truth::False),
                CompareOp::Lt => ranges(vec![(0, rank)], Truth::True),
                CompareOp::Le => ranges(vec![(0, below_or_equal)], Truth::True),
                CompareOp::Gt => ranges(vec![(below_or_equal, n)], Truth::True),
                CompareOp::Ge => ranges(vec![(rank, n)], Truth::True),
            }
        }
        // Not a string: the same answer for every id (any string gives it).
        Leaf::Compare(op, c) => Node::Const(compare(Some(&Value::String(String::new())), op, c)),
    }
}
