//! The target snapshot of a run (semantics rule 1).

/// The devices a run targets: a snapshot taken once when the run starts, ordered by device id
/// (byte-wise, as `str` orders), without duplicates. A run refers to device `i` of this list by
/// the index `i`.
///
/// Memory is one `String` per target; lookups by id are a binary search, O(log N).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    ids: Vec<String>,
}

impl Targets {
    /// The snapshot of these ids: sorted, duplicates removed.
    pub fn new<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        ids.sort_unstable();
        ids.dedup();
        Self { ids }
    }

    /// Number of targets.
    pub fn len(&self) -> u32 {
        self.ids.len() as u32
    }

    /// Whether there are no targets.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The id of target `index`.
    pub fn id(&self, index: u32) -> &str {
        &self.ids[index as usize]
    }

    /// The index of the target with this id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.ids
            .binary_search_by(|probe| probe.as_str().cmp(id))
            .ok()
            .map(|i| i as u32)
    }

    /// The ids in target order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }

    /// The targets at these indices (for a rerun: `JobRun::rerun` gives them in order).
    pub fn select(&self, indices: &[u32]) -> Self {
        debug_assert!(indices.windows(2).all(|w| w[0] < w[1]));
        Self {
            ids: indices
                .iter()
                .map(|&i| self.ids[i as usize].clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_sorted_and_deduplicated() {
        let t = Targets::new(["therm-03", "therm-01", "therm-02", "therm-01"]);
        assert_eq!(
            t.iter().collect::<Vec<_>>(),
            ["therm-01", "therm-02", "therm-03"]
        );
        assert_eq!(t.index_of("therm-02"), Some(1));
        assert_eq!(t.index_of("therm-09"), None);
        assert_eq!(
            t.select(&[0, 2]).iter().collect::<Vec<_>>(),
            ["therm-01", "therm-03"]
        );
    }
}
