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
    /// `k` batches as equal as possible (hawkBit `amountGroups`), `k >= 1`: with N targets,
    /// `min(k, N)` batches; the first `N mod k` hold `ceil(N / k)` devices, the others
    /// `floor(N / k)`.
    Groups(u32),
    /// Phased batches (hawkBit `groups` with their own `targetPercentage`s, such as 1 % / 10 %
    /// / the rest): see [`Shares`].
    Shares(Shares),
}

/// The most groups of a phased plan ([`BatchSize::Shares`]); equal groups have no such limit.
pub const SHARES_MAX: usize = 16;

/// Phased batch sizes as hawkBit computes them: group `i` takes
/// `round(p_i / 100 × r_i)` of the `r_i` targets the groups before it left (Java's
/// `Math.round`, half up, with `p_i` a 32-bit float as hawkBit stores it); the last group
/// takes 100 % of what is left, so every target is in a group. A group that rounds to no
/// target is no batch.
///
/// Stored inline (at most [`SHARES_MAX`] percentages, 64 bytes) so that the size and the plan
/// stay `Copy`, and a plan's batch lookup is a scan of at most 16 bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shares {
    percent: [f32; SHARES_MAX],
    len: u8,
}

impl Shares {
    /// Phased sizes from each group's percentage of the remaining targets; the last must be
    /// 100 (it takes the rest), each in (0, 100], at most [`SHARES_MAX`] groups.
    pub fn new(percent: &[f64]) -> Result<Self> {
        let bad = |why: String| Err(Error::new(ErrorKind::BatchOutOfRange(why)));
        if percent.is_empty() || percent.len() > SHARES_MAX {
            return bad(format!(
                "{} groups with their own percentages: give 1 to {SHARES_MAX} (equal groups \
                 have no such limit)",
                percent.len()
            ));
        }
        if let Some(p) = percent.iter().find(|p| !(**p > 0.0 && **p <= 100.0)) {
            return bad(format!(
                "a group's percentage of the remaining targets is {p}: give more than 0 and at \
                 most 100"
            ));
        }
        if percent[percent.len() - 1] != 100.0 {
            return bad(format!(
                "the last group takes {}% of the remaining targets, so some targets are in no \
                 group: give the last group 100 (the rest)",
                percent[percent.len() - 1]
            ));
        }
        let mut out = Self {
            percent: [0.0; SHARES_MAX],
            len: percent.len() as u8,
        };
        for (slot, p) in out.percent.iter_mut().zip(percent) {
            *slot = *p as f32;
        }
        Ok(out)
    }

    /// The groups' sizes for `total` targets, empty groups included.
    pub fn sizes(&self, total: u32) -> impl Iterator<Item = u32> + '_ {
        let mut left = total;
        self.percent[..usize::from(self.len)].iter().map(move |p| {
            let wanted = (f64::from(*p / 100.0) * f64::from(left) + 0.5).floor();
            let size = (wanted as u32).min(left);
            left -= size;
            size
        })
    }
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

    /// `count` batches as equal as possible; rejects 0.
    pub fn groups(count: u32) -> Result<Self> {
        if count == 0 {
            return Err(Error::new(ErrorKind::BatchOutOfRange(
                "0 groups; the number of groups must be at least 1".into(),
            )));
        }
        Ok(Self::Groups(count))
    }

    /// Devices in the largest batch for `total` targets (at least 1 even when `total` is 0).
    pub fn per_batch(self, total: u32) -> u32 {
        let size = match self {
            Self::Percentage(p) => p.of_ceil(total),
            Self::Number(n) => n.min(total),
            Self::Groups(k) => total.div_ceil(k.min(total).max(1)),
            Self::Shares(shares) => shares.sizes(total).max().unwrap_or(1),
        };
        size.max(1)
    }
}

/// The batches of one run: consecutive slices of the target order. Either all of `size` devices
/// but the last, which holds the remainder (percentage and number batches), or, for
/// [`BatchSize::Groups`], a number of batches as equal as possible: the first `big` of `size`
/// devices, the others of `size - 1`.
///
/// Nothing is stored per batch or per device: the batch of device `d` and the range of batch `k`
/// are a division or two, O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// For phased batches, the end of each batch (`count` of them); `None` otherwise.
    ends: Option<[u32; SHARES_MAX]>,
    total: u32,
    /// Devices in each of the first `big` batches.
    size: u32,
    /// Number of batches.
    count: u32,
    /// Number of leading batches of `size` devices: all of them for percentage and number
    /// batches (the last one clamped to the total), the first `N mod k` for equal groups.
    big: u32,
    /// `big * size`, saturating: devices below it are in the leading batches.
    cut: u32,
}

impl BatchPlan {
    /// The plan for `total` targets; `None` is one batch of all targets.
    pub fn new(total: u32, batch: Option<BatchSize>) -> Self {
        if let Some(BatchSize::Shares(shares)) = batch {
            return Self::phased(total, &shares);
        }
        let (size, count, big) = match batch {
            Some(BatchSize::Groups(k)) => {
                let count = k.min(total);
                match (total.checked_div(count), total.checked_rem(count)) {
                    (Some(q), Some(0)) => (q, count, count),
                    (Some(q), Some(r)) => (q + 1, count, r),
                    _ => (1, 0, 0), // no targets: no batch
                }
            }
            other => {
                let size = match other {
                    Some(b) => b.per_batch(total),
                    None => total.max(1),
                };
                let count = total.div_ceil(size);
                (size, count, count)
            }
        };
        debug_assert!(size >= 1);
        Self {
            ends: None,
            total,
            size,
            count,
            big,
            cut: big.saturating_mul(size),
        }
    }

    /// The plan of phased batches: the non-empty groups of `shares`, in order.
    fn phased(total: u32, shares: &Shares) -> Self {
        let mut ends = [0u32; SHARES_MAX];
        let (mut count, mut end, mut size) = (0u32, 0u32, 1u32);
        for group in shares.sizes(total).filter(|s| *s > 0) {
            end += group;
            ends[count as usize] = end;
            count += 1;
            size = size.max(group);
        }
        assert_eq!(end, total, "the last group takes the rest");
        Self {
            ends: Some(ends),
            total,
            size,
            count,
            big: count,
            cut: total,
        }
    }

    /// Number of targets.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Devices in the largest batch (every batch but possibly the last, or, for equal groups,
    /// the first `N mod k`).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Number of batches (0 when there are no targets).
    #[inline]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The batch that device `device` belongs to.
    #[inline]
    pub fn batch_of(&self, device: u32) -> u32 {
        debug_assert!(device < self.total);
        if let Some(ends) = &self.ends {
            return ends[..self.count as usize]
                .iter()
                .position(|end| device < *end)
                .expect("a device is in a batch") as u32;
        }
        if device < self.cut {
            device / self.size
        } else {
            self.big + (device - self.cut) / (self.size - 1)
        }
    }

    /// The device indices of batch `k`.
    #[inline(always)]
    pub fn range(&self, k: u32) -> std::ops::Range<u32> {
        if k >= self.count {
            return self.total..self.total;
        }
        if let Some(ends) = &self.ends {
            let start = if k == 0 { 0 } else { ends[k as usize - 1] };
            return start..ends[k as usize];
        }
        if k < self.big {
            let start = k * self.size;
            start..start.saturating_add(self.size).min(self.total)
        } else {
            let start = self.cut + (k - self.big) * (self.size - 1);
            start..start + self.size - 1
        }
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
        let groups = |k| Some(BatchSize::groups(k).unwrap());
        assert_eq!(sizes(10, groups(4)), vec![3, 3, 2, 2]);
        assert_eq!(sizes(12, groups(4)), vec![3, 3, 3, 3]);
        assert_eq!(sizes(3, groups(5)), vec![1, 1, 1]);
        assert_eq!(sizes(7, groups(1)), vec![7]);
        assert_eq!(sizes(0, groups(3)), Vec::<u32>::new());
        assert!(BatchSize::groups(0).is_err());
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
    fn phased_sizes_round_as_hawkbit_does() {
        let shares = |p: &[f64]| Some(BatchSize::Shares(Shares::new(p).unwrap()));
        // 1 % / 10 % of the rest / the rest of 1,000: 10, round(99.0) = 99, 891.
        assert_eq!(sizes(1000, shares(&[1.0, 10.0, 100.0])), vec![10, 99, 891]);
        // Half up: 2.5 -> 3; a group that rounds to nothing is no batch.
        assert_eq!(sizes(10, shares(&[25.0, 100.0])), vec![3, 7]);
        assert_eq!(sizes(10, shares(&[1.0, 50.0, 100.0])), vec![5, 5]);
        assert_eq!(sizes(0, shares(&[50.0, 100.0])), Vec::<u32>::new());
        assert_eq!(sizes(7, shares(&[100.0])), vec![7]);
        for bad in [
            &[][..],
            &[50.0],
            &[0.0, 100.0],
            &[101.0, 100.0],
            &[f64::NAN, 100.0],
        ] {
            assert!(Shares::new(bad).is_err(), "{bad:?}");
        }
        assert!(Shares::new(&[5.0; 17]).is_err());
    }

    #[test]
    fn batch_of_agrees_with_range() {
        let phased = BatchSize::Shares(Shares::new(&[1.0, 10.0, 33.3, 100.0]).unwrap());
        for batch in [
            BatchSize::number(5).unwrap(),
            BatchSize::groups(5).unwrap(),
            phased,
        ] {
            for total in [0, 1, 4, 5, 6, 23, 25, 101] {
                let plan = BatchPlan::new(total, Some(batch));
                let mut next = 0;
                for k in 0..plan.count() {
                    let range = plan.range(k);
                    assert_eq!(range.start, next, "batches are consecutive");
                    assert!(!range.is_empty(), "no empty batch");
                    next = range.end;
                    for d in range {
                        assert_eq!(plan.batch_of(d), k);
                    }
                }
                assert_eq!(next, total, "the batches cover the targets");
            }
        }
    }
}
