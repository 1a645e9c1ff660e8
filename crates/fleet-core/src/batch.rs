//! Batch sizing: how a run's targets are cut into consecutive batches (semantics rule 2).

use crate::error::{Error, ErrorKind, Result};
use crate::percent::Percent;

/// The requested size of each batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchSize {
    /// `ceil(p * N / 100)` devices per batch, at least one.
    Percentage(Percent),
    /// `n` devices per batch, `n >= 1`.
    Number(u32),
}

impl BatchSize {
    /// A percentage batch; rejects values outside (0, 100].
    pub fn percentage(value: f64) -> Result<Self> {
        Percent::new(value)
            .map(Self::Percentage)
            .map_err(|e| Error::new(ErrorKind::BatchOutOfRange(e.to_string())))
    }

    /// A number batch; rejects values below 1.
    pub fn number(value: u32) -> Result<Self> {
        if value == 0 {
            return Err(Error::new(ErrorKind::BatchOutOfRange(
                "a batch of 0 devices; the number must be at least 1".into(),
            )));
        }
        Ok(Self::Number(value))
    }

    /// Devices per batch for `total` targets (at least 1 even when `total` is 0).
    pub fn per_batch(self, total: u32) -> u32 {
        let size = match self {
            Self::Percentage(p) => p.of_ceil(total),
            Self::Number(n) => n.min(total),
        };
        size.max(1)
    }
}

/// The batches of one run: consecutive slices of the target order, all of `size` devices but the
/// last, which holds the remainder.
///
/// Nothing is stored per batch or per device: the batch of device `d` is `d / size` and batch
/// `k` is `k*size .. min((k+1)*size, total)`, both O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    total: u32,
    size: u32,
}

impl BatchPlan {
    /// The plan for `total` targets; `None` is one batch of all targets.
    pub fn new(total: u32, batch: Option<BatchSize>) -> Self {
        let size = match batch {
            Some(b) => b.per_batch(total),
            None => total.max(1),
        };
        debug_assert!(size >= 1);
        Self { total, size }
    }

    /// Number of targets.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Devices per batch (all batches but possibly the last).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Number of batches (0 when there are no targets).
    pub fn count(&self) -> u32 {
        self.total.div_ceil(self.size)
    }

    /// The batch that device `device` belongs to.
    pub fn batch_of(&self, device: u32) -> u32 {
        debug_assert!(device < self.total);
        device / self.size
    }

    /// The device indices of batch `k`.
    pub fn range(&self, k: u32) -> std::ops::Range<u32> {
        let start = k.saturating_mul(self.size).min(self.total);
        let end = start.saturating_add(self.size).min(self.total);
        start..end
    }

    /// The number of devices in batch `k`.
    pub fn len_of(&self, k: u32) -> u32 {
        let r = self.range(k);
        r.end - r.start
    }

    /// The sizes of all batches, in order (for reports and docs).
    pub fn sizes(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.count()).map(|k| self.len_of(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(total: u32, batch: Option<BatchSize>) -> Vec<u32> {
        BatchPlan::new(total, batch).sizes().collect()
    }

    #[test]
    fn worked_examples_of_the_semantics_doc() {
        let pct = |p| Some(BatchSize::percentage(p).unwrap());
        assert_eq!(sizes(7, pct(25.0)), vec![2, 2, 2, 1]);
        assert_eq!(sizes(10, pct(10.0)), vec![1; 10]);
        assert_eq!(sizes(3, pct(10.0)), vec![1, 1, 1]);
        assert_eq!(sizes(1000, pct(33.0)), vec![330, 330, 330, 10]);
        assert_eq!(sizes(5, Some(BatchSize::number(2).unwrap())), vec![2, 2, 1]);
        assert_eq!(sizes(5, Some(BatchSize::number(50).unwrap())), vec![5]);
        assert_eq!(sizes(5, None), vec![5]);
        assert_eq!(sizes(0, None), Vec::<u32>::new());
        assert_eq!(sizes(0, pct(10.0)), Vec::<u32>::new());
    }

    #[test]
    fn out_of_range_sizes_are_errors() {
        assert!(BatchSize::number(0).is_err());
        assert!(BatchSize::percentage(0.0).is_err());
        assert!(BatchSize::percentage(100.5).is_err());
        assert!(matches!(
            BatchSize::percentage(-3.0).unwrap_err().kind(),
            ErrorKind::BatchOutOfRange(_)
        ));
    }

    #[test]
    fn batch_of_agrees_with_range() {
        let plan = BatchPlan::new(23, Some(BatchSize::number(5).unwrap()));
        for k in 0..plan.count() {
            for d in plan.range(k) {
                assert_eq!(plan.batch_of(d), k);
            }
        }
    }
}
