//! Confidence intervals: Wilson's score interval for a probability, the distribution-free
//! order-statistic interval for a quantile, and the exact sign test of two plans on the seeds
//! they share (`docs/risk.md`, "Intervals").

use serde::{Deserialize, Serialize};

/// The normal quantile of a two-sided 95 % interval (and of a one-sided 97.5 % bound).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A closed interval of estimates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The lower end.
    pub low: f64,
    /// The upper end.
    pub high: f64,
}

impl Interval {
    /// Half the interval's width.
    pub fn half_width(&self) -> f64 {
        (self.high - self.low) / 2.0
    }

    /// Whether `x` lies in it.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Wilson's score interval for a probability from `successes` of `n` trials, with the normal
/// quantile `z` (use [`Z_95`]). Unlike the textbook `p ± z·sqrt(p(1-p)/n)` it keeps its
/// coverage near 0 and 1 (no zero-width interval when no false stop was seen) and never leaves
/// [0, 1]. With `n = 0`, `[0, 1]`.
pub fn wilson(successes: u32, n: u32, z: f64) -> Interval {
    if n == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }
    let n = f64::from(n);
    let p = f64::from(successes) / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At the edges the bound is exact (rounding would leave 1e-18 of a probability).
    Interval {
        low: if p == 0.0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        high: if p == 1.0 {
            1.0
        } else {
            (centre + half).min(1.0)
        },
    }
}

/// The distribution-free interval of the `q`-quantile (0 < q < 1) of the distribution that
/// `sorted` (ascending) was drawn from: the order statistics of ranks `n·q ∓ z·sqrt(n·q·(1-q))`
/// (the normal approximation of the binomial count of values below the quantile). An end
/// beyond the sample is infinite: the sample cannot bound it. `None` for an empty sample.
pub fn quantile_interval(sorted: &[f64], q: f64, z: f64) -> Option<Interval> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let spread = z * (nf * q * (1.0 - q)).sqrt();
    let low_rank = (nf * q - spread).floor();
    let high_rank = (nf * q + spread).ceil() + 1.0;
    let low = match low_rank {
        r if r < 1.0 => f64::NEG_INFINITY,
        r => sorted[r as usize - 1],
    };
    let high = match high_rank {
        r if r > nf => f64::INFINITY,
        r => sorted[r as usize - 1],
    };
    Some(Interval { low, high })
}

/// The exact one-sided sign test: the probability that `Binomial(m, 1/2)` is at least `k`.
/// With two plans run on the same seeds, `m` seeds on which exactly one of them stopped and
/// `k` of those on which it was plan A: a small value says A stops more often than B.
pub fn sign_test(k: u32, m: u32) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > m {
        return 0.0;
    }
    // ln C(m, j) - m ln 2, summed from j = k to m (terms in log space: no overflow).
    let ln2 = std::f64::consts::LN_2;
    let mut ln_c = 0.0f64;
    for j in 0..k {
        ln_c += f64::from(m - j).ln() - f64::from(j + 1).ln();
    }
    let mut total = 0.0;
    for j in k..=m {
        total += (ln_c - f64::from(m) * ln2).exp();
        if j < m {
            ln_c += f64::from(m - j).ln() - f64::from(j + 1).ln();
        }
    }
    total.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SplitMix64 stream: known Bernoulli and uniform data for coverage tests.
    struct Stream(u64);

    impl Stream {
        fn unit(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn wilson_known_values() {
        // 0 of 100: [0, 0.037]; 50 of 100: 0.5 ± 0.096.
        let i = wilson(0, 100, Z_95);
        assert_eq!(i.low, 0.0);
        assert!((i.high - 0.036_995).abs() < 1e-5, "{i:?}");
        let i = wilson(50, 100, Z_95);
        assert!((i.low - 0.403_832).abs() < 1e-5 && (i.high - 0.596_168).abs() < 1e-5);
        assert_eq!(
            wilson(0, 0, Z_95),
            Interval {
                low: 0.0,
                high: 1.0
            }
        );
        assert_eq!(wilson(7, 7, Z_95).high, 1.0);
    }

    /// Data from a known Bernoulli model: the 95 % interval covers the truth in about 95 % of
    /// 1,000 experiments for every probability tried, small ones included.
    #[test]
    fn wilson_covers_the_truth() {
        for (p, n) in [
            (0.01f64, 200u32),
            (0.05, 100),
            (0.3, 50),
            (0.5, 400),
            (0.97, 150),
        ] {
            let mut s = Stream(p.to_bits());
            let covered = (0..1000)
                .filter(|_| {
                    let k = (0..n).filter(|_| s.unit() < p).count() as u32;
                    wilson(k, n, Z_95).contains(p)
                })
                .count();
            // Wilson's coverage stays within about 92-98 % here (it oscillates with n·p).
            assert!(
                (915..=990).contains(&covered),
                "p {p}, n {n}: {covered} of 1000"
            );
        }
    }

    /// Exponential data (a known quantile: -ln(1 - q)): the interval of the 90th percentile
    /// covers it in about 95 % of 1,000 experiments.
    #[test]
    fn quantile_interval_covers_the_truth() {
        let q = 0.9;
        let truth = -(1.0f64 - q).ln();
        let mut s = Stream(9);
        let covered = (0..1000)
            .filter(|_| {
                let mut x: Vec<f64> = (0..300).map(|_| -(1.0 - s.unit()).ln()).collect();
                x.sort_by(f64::total_cmp);
                quantile_interval(&x, q, Z_95).unwrap().contains(truth)
            })
            .count();
        assert!((925..=985).contains(&covered), "{covered} of 1000");
        // Too few values to bound the upper end.
        let i = quantile_interval(&[1.0, 2.0, 3.0], 0.9, Z_95).unwrap();
        assert_eq!(i.high, f64::INFINITY);
        assert!(quantile_interval(&[], 0.5, Z_95).is_none());
    }

    #[test]
    fn sign_test_known_values() {
        assert_eq!(sign_test(0, 10), 1.0);
        assert!((sign_test(10, 10) - 1.0 / 1024.0).abs() < 1e-12);
        assert!((sign_test(9, 10) - 11.0 / 1024.0).abs() < 1e-12);
        assert!((sign_test(5, 10) - 638.0 / 1024.0).abs() < 1e-12);
        assert_eq!(sign_test(3, 2), 0.0);
        // Large m stays finite: P(Bin(10000, 1/2) >= 5000) is just over a half.
        let p = sign_test(5000, 10_000);
        assert!((p - 0.504).abs() < 0.001, "{p}");
    }
}
