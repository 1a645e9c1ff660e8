//! [`Selector`]: which devices a behaviour rule or a job applies to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use fleet_query::{Mask, Query};

use crate::error::{Error, ErrorKind, Result};
use crate::fleet::Fleet;
use crate::util::column::Column;

/// A device selector: every condition given must hold (an empty selector selects every
/// device).
///
/// The conditions are a device query (`query`: the IoT Hub query language, see
/// `docs/query-language.md`) and the shorthand equalities of the table form: the template id,
/// top-level tag values, and the provisioned and simulated flags.
///
/// In a file, a selector is either a table (`{ template = "...", tags = { firmware = "1.2" },
/// query = "..." }`) or a string, which is a query: a `WHERE` condition, `*`, or a whole
/// `SELECT [TOP n] * FROM devices WHERE ...`. A query that does not parse is an error at load
/// time, with its column.
///
/// ```
/// use fleet_sim::Selector;
///
/// let s: Selector = serde_json::from_str(r#"{"template": "dtmi:x;1", "tags": {"firmware": "1.2"}}"#)?;
/// assert!(!s.is_all());
/// let q: Selector = serde_json::from_str(r#""tags.firmware = '1.2' AND $template = 'dtmi:x;1'""#)?;
/// assert!(q.query.is_some());
/// let e = serde_json::from_str::<Selector>(r#""tags.firmware = ""#).unwrap_err();
/// assert!(e.to_string().contains("expected a value after '=', found the end of the query at column 17"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Selector {
    /// The device's template id equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Each named tag equals the value (JSON equality).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, Value>,
    /// The device's provisioned flag equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned: Option<bool>,
    /// The device's simulated flag equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<bool>,
    /// The device query holds (with `TOP n`: the device is among the first n that match, in
    /// id order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Query>,
}

/// The table form of a [`Selector`] as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct SelectorTable {
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Value>,
    #[serde(default)]
    provisioned: Option<bool>,
    #[serde(default)]
    simulated: Option<bool>,
    #[serde(default)]
    query: Option<Query>,
}

impl<'de> Deserialize<'de> for Selector {
    /// A table (the fields of [`Selector`]) or a string (a query: a condition, `*` or a whole
    /// `SELECT`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Selector;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a selector: a device query string or a table")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Selector, E> {
                let query =
                    Query::parse_any(v).map_err(|e| E::custom(format!("invalid query: {e}")))?;
                Ok(Selector::from_query(query))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Selector, A::Error> {
                let t =
                    SelectorTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Selector {
                    template: t.template,
                    tags: t.tags,
                    provisioned: t.provisioned,
                    simulated: t.simulated,
                    query: t.query.filter(|q| !q.is_all()),
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Selector {
    /// The selector of every device.
    pub fn all() -> Self {
        Self::default()
    }

    /// The selector of the devices that `query` selects (every device for `*`).
    pub fn from_query(query: Query) -> Self {
        Self {
            query: Some(query).filter(|q| !q.is_all()),
            ..Self::default()
        }
    }

    /// Whether this selector has no condition.
    pub fn is_all(&self) -> bool {
        self == &Self::default()
    }

    /// Checks the selector (tag names not empty).
    pub fn validate(&self) -> Result<()> {
        if self.tags.keys().any(String::is_empty) {
            return Err(Error::at(
                "tags",
                ErrorKind::InvalidValue("a tag name must not be empty".into()),
            ));
        }
        Ok(())
    }

    /// The devices of `fleet` that the selector selects, in index order (compiled once).
    pub fn select(&self, fleet: &Fleet) -> Vec<u32> {
        self.compile(fleet).select(fleet)
    }

    /// Whether the selector selects any device of `fleet`: [`Selector::select`] is not empty,
    /// found without building the list (it stops at the first device selected).
    pub fn selects_any(&self, fleet: &Fleet) -> bool {
        self.compile(fleet).selects_any(fleet)
    }

    /// Whether device `index` of `fleet` is selected. O(conditions) with map look-ups (and a
    /// compiled query; with `TOP n`, a scan); to test many devices, use [`Selector::select`].
    pub fn matches(&self, fleet: &Fleet, index: u32) -> bool {
        self.compile(fleet).matches(fleet, index)
    }

    /// The selector with its look-ups resolved against `fleet`.
    pub(crate) fn compile<'f>(&self, fleet: &'f Fleet) -> Compiled<'f> {
        let mut never = false;
        let template = self.template.as_ref().map(|t| {
            fleet.template_index(t).unwrap_or_else(|| {
                never = true;
                0
            })
        });
        let tags = self
            .tags
            .iter()
            .filter_map(|(name, value)| {
                let found = fleet
                    .tags
                    .get(name)
                    .and_then(|c| c.lookup(value).map(|v| (c, v)));
                if found.is_none() {
                    never = true;
                }
                found
            })
            .collect();
        Compiled {
            never,
            template,
            tags,
            provisioned: self.provisioned,
            simulated: self.simulated,
            query: self.query.as_ref().map(|q| q.compile(fleet)),
        }
    }
}

/// A [`Selector`] resolved against one fleet: template index, tag columns and value indices.
pub(crate) struct Compiled<'f> {
    never: bool,
    template: Option<u16>,
    tags: Vec<(&'f Column, u32)>,
    provisioned: Option<bool>,
    simulated: Option<bool>,
    query: Option<fleet_query::Compiled<'f>>,
}

impl Compiled<'_> {
    #[inline]
    pub(crate) fn matches(&self, fleet: &Fleet, index: u32) -> bool {
        self.matches_table(fleet, index) && self.query.as_ref().is_none_or(|q| q.matches(index))
    }

    /// The selected devices of `fleet`, in index order (the query part evaluated 64 devices
    /// at a time).
    pub(crate) fn select(&self, fleet: &Fleet) -> Vec<u32> {
        self.select_unless_all(fleet)
            .unwrap_or_else(|| (0..fleet.len()).collect())
    }

    /// [`Self::select`], or `None` when it selects every device of `fleet` (a job's targets
    /// are then the identity mapping): one pass, and no list is built while every device so
    /// far is selected (a group of the whole fleet allocates nothing).
    ///
    /// A selector of a template alone (a group of one device model) compares the template
    /// column as a whole ([`select_equal`]: under one instruction per device while every
    /// device matches); any other is checked device by device (about 40 instructions each).
    pub(crate) fn select_unless_all(&self, fleet: &Fleet) -> Option<Vec<u32>> {
        match (&self.query, self.template_only()) {
            (Some(q), _) if self.query_only() => unless_all_masks(fleet.len(), q.masks()),
            (Some(q), _) => unless_all(
                fleet.len(),
                q.iter().filter(|&d| self.matches_table(fleet, d)),
            ),
            (None, Some(t)) => select_equal(fleet.template_cells(), t),
            (None, None) => self.select_each(fleet),
        }
    }

    /// [`Self::select_unless_all`] without a query, device by device: the general path, which
    /// the whole-column ones must agree with.
    fn select_each(&self, fleet: &Fleet) -> Option<Vec<u32>> {
        debug_assert!(self.query.is_none());
        let n = fleet.len();
        unless_all(n, (0..n).filter(|&d| self.matches_table(fleet, d)))
    }

    /// Whether any device of `fleet` is selected (stops at the first).
    pub(crate) fn selects_any(&self, fleet: &Fleet) -> bool {
        match (&self.query, self.template_only()) {
            (Some(q), _) => q.iter().any(|d| self.matches_table(fleet, d)),
            (None, Some(t)) => fleet.template_cells().contains(&t),
            (None, None) => (0..fleet.len()).any(|d| self.matches_table(fleet, d)),
        }
    }

    /// The template index when the template is the only condition (no query, tag or flag,
    /// and a template the fleet has): then a device is selected exactly when its cell of the
    /// template column equals it.
    fn template_only(&self) -> Option<u16> {
        match self {
            Self {
                never: false,
                template: Some(t),
                tags,
                provisioned: None,
                simulated: None,
                query: None,
            } if tags.is_empty() => Some(*t),
            _ => None,
        }
    }

    /// Whether the query is the only condition (a group defined by a query, as in IoT
    /// Central): then its bit masks are the selection.
    fn query_only(&self) -> bool {
        matches!(
            self,
            Self {
                never: false,
                template: None,
                tags,
                provisioned: None,
                simulated: None,
                query: Some(_),
            } if tags.is_empty()
        )
    }

    /// The table-form conditions (all but the query).
    #[inline]
    fn matches_table(&self, fleet: &Fleet, index: u32) -> bool {
        !self.never
            && self.template.is_none_or(|t| fleet.template_of(index) == t)
            && self.tags.iter().all(|(c, v)| c.index(index) == *v)
            && self
                .provisioned
                .is_none_or(|p| fleet.is_provisioned(index) == p)
            && self
                .simulated
                .is_none_or(|s| fleet.is_simulated(index) == s)
    }
}

/// The increasing device indices of `selected`, or `None` if they are `0..n`. While every
/// index so far is the next one, only a count is kept; the first gap builds the list.
fn unless_all(n: u32, selected: impl Iterator<Item = u32>) -> Option<Vec<u32>> {
    let mut next = 0u32;
    let mut list: Option<Vec<u32>> = None;
    for d in selected {
        match &mut list {
            Some(v) => v.push(d),
            None if d == next => next += 1,
            None => {
                let mut v: Vec<u32> = (0..next).collect();
                v.push(d);
                list = Some(v);
            }
        }
    }
    match list {
        None if next == n => None,
        None => Some((0..next).collect()),
        some => some,
    }
}

/// [`unless_all`] of the devices set in `masks` (blocks in order, as
/// [`fleet_query::Compiled::masks`] gives them): while every block is full, one comparison a
/// block; from the first gap on, the list.
fn unless_all_masks(n: u32, masks: impl Iterator<Item = Mask>) -> Option<Vec<u32>> {
    let mut masks = masks.peekable();
    let mut next = 0u32;
    while let Some(m) = masks.peek() {
        debug_assert_eq!(m.start, next, "blocks of 64 in order");
        if !m.is_full() {
            return Some((0..next).chain(masks.flat_map(Mask::devices)).collect());
        }
        next += m.all.count_ones();
        masks.next();
    }
    (next != n).then(|| (0..next).collect())
}

/// The indices of the cells equal to `value`, or `None` if every cell is: [`unless_all`] of
/// the matching cells, by whole-column comparison.
///
/// The all-equal prefix is found [`CHUNK`] cells at a time, with an OR of XORs that the
/// compiler vectorises (a fraction of an instruction per cell, no branch per cell); from the
/// first chunk with a gap on, the list is built with one compare per cell. O(n), and no
/// allocation while every cell matches.
fn select_equal(cells: &[u16], value: u16) -> Option<Vec<u32>> {
    debug_assert!(u32::try_from(cells.len()).is_ok());
    let equal = |chunk: &[u16]| chunk.iter().fold(0, |acc, &c| acc | (c ^ value)) == 0;
    let same = cells.chunks_exact(CHUNK).take_while(|c| equal(c)).count() * CHUNK;
    let gap = same + cells[same..].iter().position(|&c| c != value)?;
    let mut list: Vec<u32> = (0..gap as u32).collect();
    list.extend(
        (gap..cells.len())
            .filter(|&d| cells[d] == value)
            .map(|d| d as u32),
    );
    Some(list)
}

/// The cells [`select_equal`] compares at once while they all match (128 bytes of `u16`).
const CHUNK: usize = 64;

/// The devices a job targets. Evaluated once, when the job's run starts (semantics rule 1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSpec {
    /// Every device of the fleet.
    #[default]
    All,
    /// The devices the selector matches.
    Selector(Selector),
    /// These device ids (each must exist in the fleet).
    Devices(Vec<String>),
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{select_equal, unless_all, Selector, CHUNK};
    use crate::fleet::{DeviceFacts, Fleet, FleetBuilder, Section};
    use crate::template::TemplateSpec;

    /// A fleet of `n` devices of template `a`, but those at `odd` (of template `b`, or none
    /// if the index is even), tag `ring` = index % 3, and alternate flags every 7th device.
    fn fleet(n: u32, odd: &[u32]) -> Fleet {
        let templates: Vec<TemplateSpec> = ["a", "b", "c"]
            .map(|id| TemplateSpec {
                id: id.into(),
                ..Default::default()
            })
            .to_vec();
        let mut b = FleetBuilder::new();
        for d in 0..n {
            let template = match (odd.contains(&d), d % 2) {
                (false, _) => Some("a"),
                (true, 0) => None,
                (true, _) => Some("b"),
            };
            let facts = DeviceFacts {
                provisioned: d % 7 != 3,
                simulated: d % 7 != 5,
                ..DeviceFacts::default()
            };
            let p = b.device(&format!("d{d:05}"), template, facts).unwrap();
            b.set(p, Section::Tags, "ring", &serde_json::json!(d % 3));
        }
        b.build(&templates).unwrap().0
    }

    /// Up to 3 device indices below `n`, often the last of a block of 64 (a mask's edge).
    fn gaps(n: u32) -> impl Strategy<Value = Vec<u32>> {
        proptest::collection::vec(
            prop_oneof![0..n, (1..=n / 64).prop_map(|k| k * 64 - 1)],
            0..4,
        )
    }

    proptest! {
        /// The whole-column paths (a template alone) select what the device-by-device path
        /// does, with gaps anywhere, around chunk ends included.
        #[test]
        fn whole_column_selection_is_the_general_one(
            n in 0u32..300,
            odd in proptest::collection::vec(
                prop_oneof![0u32..300, (1u32..5).prop_map(|k| k * CHUNK as u32)],
                0..4,
            ),
            template in prop_oneof![
                Just(None),
                Just(Some("a")),
                Just(Some("b")),
                Just(Some("c")),
                Just(Some("x")),
            ],
            ring in proptest::option::of(0u32..4),
            provisioned in proptest::option::of(any::<bool>()),
        ) {
            let fleet = fleet(n, &odd);
            let selector = Selector {
                template: template.map(str::to_string),
                tags: ring.map(|r| ("ring".to_string(), serde_json::json!(r))).into_iter().collect(),
                provisioned,
                ..Selector::default()
            };
            let compiled = selector.compile(&fleet);
            let general = compiled.select_each(&fleet);
            prop_assert_eq!(compiled.select_unless_all(&fleet), general.clone());
            let any = general.as_ref().is_none_or(|v| !v.is_empty()) && n > 0;
            prop_assert_eq!(compiled.selects_any(&fleet), any);
            let all: Vec<u32> = (0..n).collect();
            prop_assert_eq!(selector.select(&fleet), general.unwrap_or(all));
        }

        /// A selector of a query alone (its bit masks read a block at a time) selects what
        /// the device-by-device check does.
        #[test]
        fn query_only_selection_is_the_device_by_device_one(
            n in 0u32..300,
            odd in gaps(300),
            condition in prop_oneof![
                Just("$template = 'a'"),
                Just("$template = 'b'"),
                Just("tags.ring = 1 OR $template = 'a'"),
                Just("tags.ring != 7"),
            ],
            top in proptest::option::of(0u32..300),
        ) {
            let fleet = fleet(n, &odd);
            let text = match top {
                Some(k) => format!("SELECT TOP {k} * FROM devices WHERE {condition}"),
                None => format!("SELECT * FROM devices WHERE {condition}"),
            };
            let selector = Selector::from_query(fleet_query::Query::parse_any(&text).unwrap());
            let compiled = selector.compile(&fleet);
            prop_assert!(compiled.query_only());
            let each = unless_all(n, (0..n).filter(|&d| compiled.matches(&fleet, d)));
            prop_assert_eq!(compiled.select_unless_all(&fleet), each);
        }

        /// `select_equal` is `unless_all` of the equal cells.
        #[test]
        fn select_equal_is_unless_all_of_the_equal_cells(
            n in 0u32..400,
            gaps in proptest::collection::vec((0usize..400, 0u16..3), 0..5),
        ) {
            let mut cells = vec![1u16; n as usize];
            for (d, v) in gaps {
                if let Some(c) = cells.get_mut(d) {
                    *c = v;
                }
            }
            let want = unless_all(n, (0..n).filter(|&d| cells[d as usize] == 1));
            prop_assert_eq!(select_equal(&cells, 1), want);
        }
    }

    proptest! {
        /// `unless_all_masks` of a selection's bit masks is `unless_all` of its list, with
        /// gaps anywhere (block ends included) and blocks cut short (`TOP n`).
        #[test]
        fn unless_all_masks_is_unless_all_of_the_set_bits(
            n in 0u32..400,
            gaps in gaps(400),
            cutoff in proptest::option::of(0u32..400),
        ) {
            let cutoff = cutoff.map_or(n, |c| c.min(n));
            let selected = |d: u32| d < cutoff && !gaps.contains(&d);
            let masks = (0..cutoff.div_ceil(64)).map(|b| {
                let start = b * 64;
                let bits_of = |keep: &dyn Fn(u32) -> bool| {
                    (0..64u32)
                        .filter(|&k| start + k < cutoff && keep(start + k))
                        .fold(0u64, |acc, k| acc | 1 << k)
                };
                fleet_query::Mask { start, bits: bits_of(&selected), all: bits_of(&|_| true) }
            });
            let want = unless_all(n, (0..n).filter(|&d| selected(d)));
            prop_assert_eq!(super::unless_all_masks(n, masks), want);
        }
    }

    proptest! {
        /// `unless_all` is the list itself, or `None` exactly when the list is `0..n`.
        #[test]
        fn unless_all_is_the_list_or_none_for_every_device(
            n in 0u32..200,
            keep in proptest::collection::vec(any::<bool>(), 200),
        ) {
            let list: Vec<u32> = (0..n).filter(|&d| keep[d as usize]).collect();
            match unless_all(n, list.iter().copied()) {
                None => prop_assert_eq!(list, (0..n).collect::<Vec<_>>()),
                Some(v) => {
                    prop_assert_ne!(&list, &(0..n).collect::<Vec<_>>());
                    prop_assert_eq!(v, list);
                }
            }
        }
    }

    #[test]
    fn unless_all_examples() {
        assert_eq!(unless_all(3, [0, 1, 2].into_iter()), None);
        assert_eq!(unless_all(3, [0, 1].into_iter()), Some(vec![0, 1]));
        assert_eq!(unless_all(3, [1, 2].into_iter()), Some(vec![1, 2]));
        assert_eq!(unless_all(3, [0, 2].into_iter()), Some(vec![0, 2]));
        assert_eq!(unless_all(0, [].into_iter()), None);
        assert_eq!(unless_all(2, [].into_iter()), Some(vec![]));
    }
}
